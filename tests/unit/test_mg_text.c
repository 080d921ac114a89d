/* tests/unit/test_mg_text.c - H.248.1 Annex B text codec: corpus, errors */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "mg.h"

/*
 * The corpus is read from $JUNCTION_SRCDIR/tests/data/megaco-text (make
 * check sets it; "." otherwise): RFC 3525 Appendix I and Erlang/OTP's
 * time_test.msgs.  Each manifest's parser_must column says what a
 * decoder must do: "accept", or "reject-or-tolerate" (we tolerate all
 * nine: parameters in ( ), a trailing comma, "Signals { }", a
 * ServiceChange without Reason).
 */

#define CORPUS "tests/data/megaco-text"
#define MAX_MSGS 256

struct corpus_msg {
	char name[192];
	char *text;
	size_t len;
	bool must_accept;
};

static struct corpus_msg corpus[MAX_MSGS];
static size_t ncorpus;

static char *read_path(const char *rel, size_t *lenp)
{
	const char *src = getenv("JUNCTION_SRCDIR");
	char path[1024];
	char *buf;
	long n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", src && *src ? src : ".", rel);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*lenp = (size_t)n;
	}
	return buf;
}

/* Field col of a CSV line (RFC 4180 quoting), copied into out. */
static bool csv_field(const char *line, int col, char *out, size_t size)
{
	size_t n = 0;
	bool q = false;
	int c = 0;

	for (; *line && *line != '\n'; line++) {
		if (*line == '"') {
			if (q && line[1] == '"' && c == col && n + 1 < size)
				out[n++] = '"', line++;
			else
				q = !q;
			continue;
		}
		if (*line == ',' && !q) {
			if (c++ == col)
				break;
			continue;
		}
		if (c == col && *line != '\r' && n + 1 < size)
			out[n++] = *line;
	}
	out[n] = '\0';
	return c >= col;
}

static void load_set(const char *set)
{
	char rel[256], col_name[64], file[128], must[64];
	char *csv, *line;
	size_t len;
	int col, must_col = -1;

	snprintf(rel, sizeof(rel), CORPUS "/%s/manifest.csv", set);
	csv = read_path(rel, &len);
	assert_non_null(csv);
	for (col = 0; csv_field(csv, col, col_name, sizeof(col_name)) &&
	     col < 16; col++) {
		if (!strcmp(col_name, "parser_must"))
			must_col = col;
	}
	assert_true(must_col > 0);
	for (line = strchr(csv, '\n'); line && line[1]; line =
	     strchr(line + 1, '\n')) {
		struct corpus_msg *m = &corpus[ncorpus];

		csv_field(line + 1, 0, file, sizeof(file));
		csv_field(line + 1, must_col, must, sizeof(must));
		if (!*file)
			continue;
		assert_true(ncorpus < MAX_MSGS);
		snprintf(m->name, sizeof(m->name), "%s/%s", set, file);
		snprintf(rel, sizeof(rel), CORPUS "/%s", m->name);
		m->text = read_path(rel, &m->len);
		if (!m->text)
			fail_msg("cannot read %s", rel);
		if (!strcmp(must, "accept"))
			m->must_accept = true;
		else
			assert_string_equal(must, "reject-or-tolerate");
		ncorpus++;
	}
	free(csv);
}

static int corpus_setup(void **state)
{
	(void)state;
	load_set("rfc3525-appendix-i");
	load_set("erlang-otp-time-test");
	return 0;
}

static int corpus_teardown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ncorpus; i++)
		free(corpus[i].text);
	ncorpus = 0;
	return 0;
}

static struct mg_msg *decode_ok(const char *text)
{
	struct mg_text_err e;
	struct mg_msg *msg = NULL;
	int err;

	err = mg_text_decode(&msg, text, strlen(text), &e);
	if (err)
		fail_msg("decode: %d %u %s\n%s", err, e.code, e.text, text);
	return msg;
}

static void decode_fails(const char *text, unsigned code, const char *what)
{
	struct mg_text_err e;
	struct mg_msg *msg = NULL;
	int err;

	err = mg_text_decode(&msg, text, strlen(text), &e);
	if (err != EBADMSG || e.code != code)
		fail_msg("expected %u, got err %d code %u (%s) for\n%s",
			 code, err, e.code, e.text, text);
	assert_null(msg);
	if (what && !strstr(e.text, what))
		fail_msg("error text '%s' does not name %s", e.text, what);
}

/* ------------------------------------------------------------------ */
/* The corpus                                                         */
/* ------------------------------------------------------------------ */

static void test_corpus_decodes(void **state)
{
	size_t i, accepted = 0;

	(void)state;
	assert_true(ncorpus == 28 + 149);
	for (i = 0; i < ncorpus; i++) {
		struct mg_text_err e;
		struct mg_msg *msg = NULL;
		int err;

		err = mg_text_decode(&msg, corpus[i].text, corpus[i].len, &e);
		if (err && corpus[i].must_accept)
			fail_msg("%s: %d %u %s", corpus[i].name, err, e.code,
				 e.text);
		if (!err)
			accepted++;
		gw_mem_deref(msg);
	}
	/* all nine "reject-or-tolerate" are tolerated */
	assert_int_equal(accepted, ncorpus);
}

static void round_trip(const struct corpus_msg *m, enum mg_text_style st)
{
	struct mg_msg *a = NULL, *b = NULL, *c = NULL;
	char *s1 = NULL, *s2 = NULL;
	struct mg_text_err e;
	int err;

	assert_int_equal(mg_text_decode(&a, m->text, m->len, NULL), 0);
	assert_int_equal(mg_text_encode(&s1, a, st), 0);
	err = mg_text_decode(&b, s1, strlen(s1), &e);
	if (err)
		fail_msg("%s: re-decode %u %s\n%s", m->name, e.code, e.text,
			 s1);
	if (!mg_msg_equal(a, b))
		fail_msg("%s: trees differ after\n%s", m->name, s1);
	/* the encoding is a fixed point */
	assert_int_equal(mg_text_encode(&s2, b, st), 0);
	assert_string_equal(s1, s2);
	assert_int_equal(mg_text_decode(&c, s2, strlen(s2), NULL), 0);
	assert_true(mg_msg_equal(a, c));
	gw_mem_deref(s1);
	gw_mem_deref(s2);
	gw_mem_deref(a);
	gw_mem_deref(b);
	gw_mem_deref(c);
}

static void test_corpus_round_trip(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ncorpus; i++) {
		round_trip(&corpus[i], MG_TEXT_COMPACT);
		round_trip(&corpus[i], MG_TEXT_PRETTY);
	}
}

/* A round trip of text in both styles: decode, encode, decode gives an
 * equal tree, and encoding that again gives the same text. */
static void round_trip_text(const char *name, const char *text, size_t len)
{
	struct corpus_msg m;

	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.text = (char *)text;
	m.len = len;
	round_trip(&m, MG_TEXT_COMPACT);
	round_trip(&m, MG_TEXT_PRETTY);
}

/*
 * A Segment reply (v3) is the one transaction that ends in a word, not
 * '}': whatever follows it must be set apart, or "SM=8101/1T=98980{"
 * reads back as segment "1T".  Found by fuzz_mg_text from a corpus
 * message: the comment after the Segment reply swallows the second
 * header (';' runs to the end of the line, non-ASCII octet and all).
 */
static void test_segment_reply_round_trip(void **state)
{
	static const char found[] =
		"MEGACO/3 [125.1255.111]:55555\n"
		"Segment = 8101/1;0\xb0MEGACO/3 [124.124.124.222]:55555\n"
		"Transaction = 98980 {\n\tContext = 1 {\n"
		"\t\tNotify = 11111111/00000000/00000000 {\n"
		"\t\t\tObservedEvents = 2222 {\n"
		"\t\t\t\t19990729T22000000:al/of\n\t\t\t}\n"
		"\t\t}\n\t}\n}\n";
	static const char *const more[] = {
		"!/3 [1.2.3.4]:2944\nSM=1/2 SM=3/4/END PN=5{} SM=6/7",
		"!/3 [1.2.3.4]:2944\nSM=1/2\nK{3-5} SM=9/1/&",
		"!/3 [1.2.3.4]:2944\nP=1/1{C=-{N=ROOT}} SM=1/2\n"
		"P=2{C=-{N=ROOT}}",
	};
	struct mg_msg *m;
	char *s = NULL;
	size_t i;

	(void)state;
	m = decode_ok(found);
	assert_int_equal(m->trans->type, MG_TRANS_SEGREPLY);
	assert_int_equal(m->trans->next->type, MG_TRANS_REQUEST);
	assert_int_equal(mg_text_encode(&s, m, MG_TEXT_COMPACT), 0);
	assert_string_equal(s, "!/3 [125.1255.111]:55555\nSM=8101/1\n"
			    "T=98980{C=1{N=11111111/00000000/00000000{OE=2222{"
			    "19990729T22000000:al/of}}}}");
	gw_mem_deref(s);
	gw_mem_deref(m);
	round_trip_text("fuzz finding", found, sizeof(found) - 1);
	for (i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		round_trip_text(more[i], more[i], strlen(more[i]));

	/* nothing after the last one (Erlang's parser rejects a SEP) */
	m = decode_ok("!/3 [1.2.3.4]:2944\nPN=5{}\nSM=6/7 ; end\n");
	assert_int_equal(mg_text_encode(&s, m, MG_TEXT_PRETTY), 0);
	assert_string_equal(s, "MEGACO/3 [1.2.3.4]:2944\nPending = 5 { }\n"
			    "Segment = 6/7");
	gw_mem_deref(s);
	gw_mem_deref(m);
}

/* Every prefix of every message: no crash, and no accepted prefix of a
 * one-transaction message. */
static void test_corpus_truncated(void **state)
{
	size_t i, n;

	(void)state;
	for (i = 0; i < ncorpus; i++) {
		const struct corpus_msg *m = &corpus[i];
		struct mg_msg *full = NULL, *msg;
		size_t end = m->len;

		assert_int_equal(mg_text_decode(&full, m->text, m->len, NULL),
				 0);
		while (end > 0 && strchr(" \t\r\n}", m->text[end - 1]))
			end--;		/* the last significant '}' */
		for (n = 0; n < end; n++) {
			msg = NULL;
			if (!mg_text_decode(&msg, m->text, n, NULL)) {
				/* a transaction boundary, or a deviceName
				 * or digits cut short */
				assert_true(full->trans && (full->trans->next ||
					full->trans->type ==
					MG_TRANS_SEGREPLY));
				gw_mem_deref(msg);
			}
		}
		gw_mem_deref(full);
	}
}

/* ------------------------------------------------------------------ */
/* Grammar                                                            */
/* ------------------------------------------------------------------ */

static void test_tokens_any_form(void **state)
{
	struct mg_msg *a, *b, *c;

	(void)state;
	a = decode_ok("MEGACO/1 [1.2.3.4]:2944\n"
		      "Transaction = 7 { Context = $ { Add = tdm/1/1 {"
		      " Media { LocalControl { Mode = SendReceive,"
		      " ReservedValue = ON } } },"
		      " Add = $ { Media { Stream = 1 { Local {\r\n"
		      "v=0\r\nc=IN IP4 $\r\nm=audio $ RTP/AVP 0\r\n} } } } } }");
	b = decode_ok("!/1 [1.2.3.4]:2944 T=7{C=$ ; a comment\n{A=tdm/1/1{M{"
		      "O{MO=SR,RV=ON}}},A=${M{ST=1{L{\r\n"
		      "v=0\r\nc=IN IP4 $\r\nm=audio $ RTP/AVP 0\r\n}}}}}}");
	c = decode_ok("megaco/1 [1.2.3.4]:2944 transaction=7{context=${"
		      "add=tdm/1/1{media{localcontrol{mode=sendreceive,"
		      "rv=on}}},ADD=${M{st=1{l{\r\n"
		      "v=0\r\nc=IN IP4 $\r\nm=audio $ RTP/AVP 0\r\n}}}}}}");
	assert_true(mg_msg_equal(a, b));
	assert_true(mg_msg_equal(a, c));
	assert_int_equal(a->trans->actions->ctx, MG_CTX_CHOOSE);
	assert_int_equal(a->trans->actions->cmds->type, MG_CMD_ADD);
	assert_string_equal(a->trans->actions->cmds->tid, "tdm/1/1");
	assert_string_equal(a->trans->actions->cmds->next->desc->kids->kids->
			    text,
			    "\r\nv=0\r\nc=IN IP4 $\r\nm=audio $ RTP/AVP 0\r\n");
	gw_mem_deref(a);
	gw_mem_deref(b);
	gw_mem_deref(c);
}

static void test_grammar_forms(void **state)
{
	struct mg_msg *m;
	const struct mg_item *it;
	char *s = NULL;

	(void)state;
	/* "Signals { }" as well as bare Signals; bare Signals written */
	m = decode_ok("!/2 <mgc.example>:2944\nT=1{C=1{O-W-MF=tdm/1/*{SG{},E},"
		      "N=ROOT{OE=5{20240101T10203040:g/sc{SigID=cg/rt,"
		      "Meth=TO}}}}}");
	assert_true(m->trans->actions->cmds->optional);
	assert_true(m->trans->actions->cmds->wildcard);
	it = m->trans->actions->cmds->next->desc->kids;
	assert_string_equal(it->stamp, "20240101T10203040");
	assert_string_equal(it->name, "g/sc");
	assert_int_equal(mg_text_encode(&s, m, MG_TEXT_COMPACT), 0);
	assert_non_null(strstr(s, "O-W-MF=tdm/1/*{SG,E}"));
	s = gw_mem_deref(s);
	gw_mem_deref(m);

	/* replies, ImmAckRequired, errors, pending, acks, segments */
	m = decode_ok("!/3 [::1]:2944\nP=10{IA,ER=400{\"Syntax error\"}}"
		      "PN=11{} K{3-5,9} P=12/1/&{C=2,C=3{A=a{ER=433{}}}}"
		      " SM=13/2");
	assert_true(m->trans->imm_ack);
	assert_int_equal(m->trans->err->code, 400);
	assert_string_equal(m->trans->err->text, "Syntax error");
	assert_int_equal(m->trans->next->type, MG_TRANS_PENDING);
	assert_int_equal(m->trans->next->next->nacks, 2);
	assert_int_equal(m->trans->next->next->acks[0].last, 5);
	assert_true(m->trans->next->next->next->seg_end);
	assert_int_equal(m->trans->next->next->next->actions->next->cmds->
			 err->code, 433);
	assert_int_equal(m->trans->next->next->next->next->seg_no, 2);
	gw_mem_deref(m);

	/* ServiceChange, digit map, parameters, inequalities, lists */
	m = decode_ok("MEGACO/1 [124.124.124.222]:55555\n"
		      "Transaction = 9998 { Context = - {\n"
		      " ServiceChange = ROOT { Services { Method = Restart,\n"
		      " Reason = \"901 Cold Boot\", Delay = 10,\n"
		      " ServiceChangeAddress = [10.0.0.1]:2944,\n"
		      " Profile = ResGW/1, Version = 1,\n"
		      " 19990729T22000000 } },\n"
		      " Modify = A1 { Events = 1 { dd/ce { DigitMap = dm0 },"
		      " x/y { p > 3, q # 4, r = [1, 2], s = [1 : 9],"
		      " t = {a, b} } },\n"
		      " DigitMap = dm0 { (0|[1-7]xxx|Exx|9011x.) } } } }");
	it = m->trans->actions->cmds->desc->kids;
	assert_int_equal(it->tok, MG_TOK_METHOD);
	assert_int_equal(it->val[0].tok, MG_TOK_RESTART);
	assert_true(it->next->val[0].quoted);
	it = m->trans->actions->cmds->next->desc;
	assert_int_equal(it->next->tok, MG_TOK_DIGITMAP);
	assert_string_equal(it->next->text, " (0|[1-7]xxx|Exx|9011x.) ");
	it = it->kids->next->kids;
	assert_int_equal(it->op, MG_OP_GT);
	assert_int_equal(it->next->op, MG_OP_NEQUAL);
	assert_int_equal(it->next->next->vlist, MG_VL_AND);
	assert_int_equal(it->next->next->next->vlist, MG_VL_RANGE);
	assert_int_equal(it->next->next->next->next->vlist, MG_VL_OR);
	gw_mem_deref(m);
}

static void test_errors(void **state)
{
	struct mg_msg *m = NULL;
	struct mg_text_err e;

	(void)state;
	decode_fails("", 400, "end of message");
	decode_fails("\x01\x02garbage", 400, "byte 0x01");
	decode_fails("GET / HTTP/1.1\r\n\r\n", 400, "'GET'");
	decode_fails("MEGACO/4 [1.2.3.4] T=1{C=-{N=ROOT{OE=1{g/x}}}}", 406,
		     "version 4");
	decode_fails("MEGACO/0 [1.2.3.4] T=1{}", 406, NULL);
	decode_fails("MEGACO/99 junk", 406, NULL);
	decode_fails("MEGACO/1x [1.2.3.4] T=1{}", 400, NULL);
	decode_fails("MEGACO/1 [1.2.3.4]", 400, "end of message");
	decode_fails("MEGACO/1 [1.2.3.4] Tx=1{}", 400, "'Tx'");

	/* in a request: 442 in a command, naming the token */
	memset(&e, 0, sizeof(e));
	assert_int_equal(mg_text_decode(&m, "MEGACO/1 [1.2.3.4]\n"
		"Transaction = 77 {\n  Context = 5 {\n    Modify = A1 {"
		" Media { LocalControl { Mode = Sideways } } } } }", 118, &e),
		EBADMSG);
	assert_null(m);
	assert_int_equal(e.code, 442);
	assert_true(e.in_trans);
	assert_int_equal(e.trans_id, 77);
	assert_int_equal(e.line, 4);
	assert_non_null(strstr(e.text, "'Sideways' at 4:"));
	/* in a reply: 400 */
	decode_fails("!/1 [1.2.3.4]\nP=1{C=1{MF=a{M{O{MO=Sideways}}}}}", 400,
		     "'Sideways'");
	/* 422: a bad ContextID; 403: a bad action */
	decode_fails("!/1 [1.2.3.4]\nT=1{C=x1{MF=a}}", 422, "'x1'");
	decode_fails("!/1 [1.2.3.4]\nT=1{C=0{MF=a}}", 422, NULL);
	decode_fails("!/1 [1.2.3.4]\nT=1{Q=1{MF=a}}", 403, "'Q'");
	decode_fails("!/1 [1.2.3.4]\nT=1{C=1{PR=x}}", 422, "'x'");
	decode_fails("!/1 [1.2.3.4]\nT=1{C=1{MF=}}", 442, NULL);
	/* descriptors in the wrong place, unknown tokens, bad values */
	decode_fails("!/1 [1.2.3.4]\nT=1{C=1{MF=a{O{MO=SR}}}}", 442, "'O'");
	decode_fails("!/1 [1.2.3.4]\nT=1{C=1{MF=a{M{O{MO=SR}}}", 422,
		     "end of message");
	decode_fails("!/1 [1.2.3.4]\nT=1{C=1{MF=a{M{O{MO=SR}}", 442,
		     "end of message");
	decode_fails("!/1 [1.2.3.4]\nT=1{C=1{MF=a{E=x{g/y}}}}", 442, "'x'");
	decode_fails("!/1 [1.2.3.4]\nT=1{C=1{N=a{OE=1{2024:g/y}}}}", 442,
		     "timestamp");
	/* a NAME has no '!', also when ( ) follow it (RFC 3525 App. I) */
	decode_fails("!/1 [1.2.3.4]\nT=1{C=1{MF=a{E=1{al/o!(strict=state)}}}}",
		     442, "bad name");
	decode_fails("!/1 [1.2.3.4]\nT=1{C=1{MF=a{SG{g/x{SY=Forever}}}}}",
		     442, "'Forever'");
	decode_fails("!/1 [1.2.3.4]\nT=1{C=1{SC=ROOT{SV{MT=Sideways}}}}",
		     442, "'Sideways'");
	decode_fails("!/1 [1.2.3.4]\nT=1{C=1{MF=a{M{L{v=0}}", 442,
		     "end of message");
	decode_fails("!/1 [1.2.3.4]\nP=1{ER=12345{}}", 400, "'12345'");
	decode_fails("!/1 [1.2.3.4]\nP=1{ER=400{\"x}}", 400, "unterminated");
	decode_fails("!/1 [1.2.3.4]\nT=4294967296{C=-{MF=a}}", 400, NULL);
	/* v3 tokens are not tokens in a v1 message */
	decode_fails("!/1 [1.2.3.4]\nT=1{C=1{IEPS=ON,MF=a}}", 422,
		     "'IEPS'");
	decode_fails("!/1 [1.2.3.4]\nK{1}extra", 400, "'extra'");
}

static void test_deep_nesting(void **state)
{
	char buf[4096];
	size_t n = 0;
	int i;

	(void)state;
	n += (size_t)snprintf(buf, sizeof(buf),
			      "!/1 [1.2.3.4]\nT=1{C=1{AV=a{AT{");
	for (i = 0; i < 200; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "M{");
	decode_fails(buf, 442, "nesting");
}

static void test_encode_buf(void **state)
{
	struct mg_msg *m;
	char buf[64];
	size_t len = 0;

	(void)state;
	m = decode_ok("!/1 [1.2.3.4]:2944\nPN=5{}");
	assert_int_equal(mg_text_encode_buf(buf, sizeof(buf), &len, m,
					    MG_TEXT_COMPACT), 0);
	assert_int_equal(len, strlen("!/1 [1.2.3.4]:2944\nPN=5{}"));
	assert_memory_equal(buf, "!/1 [1.2.3.4]:2944\nPN=5{}", len);
	assert_int_equal(mg_text_encode_buf(buf, 10, &len, m,
					    MG_TEXT_PRETTY), EOVERFLOW);
	assert_int_equal(len, strlen("MEGACO/1 [1.2.3.4]:2944\n"
				     "Pending = 5 { }"));
	gw_mem_deref(m);
}

static void test_build(void **state)
{
	struct mg_msg *m = NULL, *d = NULL;
	struct mg_trans *t;
	char *s = NULL;

	(void)state;
	assert_int_equal(mg_msg_alloc(&m, 4, "x"), EINVAL);
	assert_int_equal(mg_msg_alloc(&m, 2, "[127.0.0.1]:2944"), 0);
	t = mg_msg_zalloc(m, sizeof(*t));
	assert_non_null(t);
	t->type = MG_TRANS_REPLY;
	t->id = 4;
	t->err = mg_msg_zalloc(m, sizeof(*t->err));
	t->err->code = 505;
	t->err->text = mg_msg_strdup(m, "Transaction before ServiceChange");
	m->trans = t;
	assert_int_equal(mg_text_encode(&s, m, MG_TEXT_COMPACT), 0);
	assert_string_equal(s, "!/2 [127.0.0.1]:2944\nP=4{ER=505{"
			    "\"Transaction before ServiceChange\"}}");
	assert_int_equal(mg_text_decode(&d, s, strlen(s), NULL), 0);
	assert_true(mg_msg_equal(m, d));
	gw_mem_deref(s);
	gw_mem_deref(d);
	gw_mem_deref(m);
}

/* Every allocation of decode and encode fails once, in turn. */
static void test_enomem(void **state)
{
	size_t i, k;
	long n;
	int err;

	(void)state;
	for (i = 0; i < ncorpus; i += 7) {
		for (n = 0;; n++) {
			struct mg_msg *m = NULL;

			gw_mem_fail_after(n);
			err = mg_text_decode(&m, corpus[i].text,
					     corpus[i].len, NULL);
			gw_mem_fail_after(-1);
			if (!err) {
				gw_mem_deref(m);
				break;
			}
			assert_int_equal(err, ENOMEM);
			assert_null(m);
		}
		for (k = 0; k < 2; k++) {
			struct mg_msg *m = NULL;

			assert_int_equal(mg_text_decode(&m, corpus[i].text,
							corpus[i].len, NULL),
					 0);
			for (n = 0;; n++) {
				char *s = NULL;

				gw_mem_fail_after(n);
				err = mg_text_encode(&s, m, k ?
						     MG_TEXT_PRETTY :
						     MG_TEXT_COMPACT);
				gw_mem_fail_after(-1);
				if (!err) {
					gw_mem_deref(s);
					break;
				}
				assert_int_equal(err, ENOMEM);
				assert_null(s);
			}
			gw_mem_deref(m);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_corpus_decodes),
		UNIT_TEST(test_corpus_round_trip),
		UNIT_TEST(test_segment_reply_round_trip),
		UNIT_TEST(test_corpus_truncated),
		UNIT_TEST(test_tokens_any_form),
		UNIT_TEST(test_grammar_forms),
		UNIT_TEST(test_errors),
		UNIT_TEST(test_deep_nesting),
		UNIT_TEST(test_encode_buf),
		UNIT_TEST(test_build),
		UNIT_TEST(test_enomem),
	};

	return cmocka_run_group_tests(tests, corpus_setup, corpus_teardown);
}
