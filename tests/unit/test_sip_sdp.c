/* tests/unit/test_sip_sdp.c - SDP offer/answer: RFC 4317 corpus, RFC 3264 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "unit.h"
#include "sdp.h"

/*
 * The RFC 4317 examples are read from $JUNCTION_SRCDIR/tests/data/
 * sdp-offer-answer (make check sets it; "." otherwise).  The checks of
 * legality below are written against RFC 3264 s.6 independently of the
 * engine, and are first run on the RFC's own answers, so that the
 * checker is itself checked against the examples.
 *
 * No common codec: sip_sdp_answer returns EPROTO (the SIP layer answers
 * 488) when no active offered stream can be taken; a stream we cannot
 * take next to one we can is refused with port 0.
 */

#define CORPUS "tests/data/sdp-offer-answer"
#define MAX_SCEN 32
#define SENTINEL ((struct sip_sdp *)(uintptr_t)0x5d5d)

/* ------------------------------------------------------------------ */
/* Corpus access                                                      */
/* ------------------------------------------------------------------ */

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
		fail_msg("cannot open %s (is JUNCTION_SRCDIR set?)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*lenp = (size_t)n;
	return buf;
}

static char *read_corpus(const char *name, size_t *lenp)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "%s/%s", CORPUS, name);
	return read_path(rel, lenp);
}

static struct sip_sdp *load(const char *sec, const char *role)
{
	struct sip_sdp *sdp = NULL;
	char name[64];
	size_t len;
	char *text;
	int err;

	snprintf(name, sizeof(name), "%.7s-%.15s.sdp", sec, role);
	text = read_corpus(name, &len);
	err = sip_sdp_parse(&sdp, text, len);
	free(text);
	if (err)
		fail_msg("%s: parse error %d", name, err);
	return sdp;
}

static struct sip_sdp *parse_str(const char *text)
{
	struct sip_sdp *sdp = NULL;

	assert_int_equal(sip_sdp_parse(&sdp, text, strlen(text)), 0);
	return sdp;
}

/* One manifest row: file, section, title, role, sent_by, scenario. */
struct row {
	char file[64];
	char sec[8];
	char role[16];
	char sent_by[8];
};

struct scen {
	char sec[8];
	bool second;			/* has second-offer/second-answer */
	char second_by[8];		/* who sent the second offer */
};

/* Split one CSV line (RFC 4180 quoting) into up to nf fields. */
static size_t csv_split(char *line, char **f, size_t nf)
{
	size_t n = 0;
	char *r = line, *w;

	while (n < nf) {
		f[n++] = w = r;
		if (*r == '"') {
			r++;
			for (;;) {
				if (!*r)
					break;
				if (*r == '"' && r[1] == '"') {
					*w++ = '"';
					r += 2;
				} else if (*r == '"') {
					r++;
					break;
				} else {
					*w++ = *r++;
				}
			}
		} else {
			while (*r && *r != ',')
				*w++ = *r++;
		}
		if (*r != ',') {
			*w = '\0';
			break;
		}
		r++;
		*w = '\0';
	}
	return n;
}

static size_t load_manifest(struct row *rows, size_t max)
{
	char *text, *line, *save = NULL;
	size_t len, n = 0;
	bool header = true;

	text = read_corpus("manifest.csv", &len);
	for (line = strtok_r(text, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		char *f[6];

		if (header) {
			header = false;
			continue;
		}
		assert_int_equal(csv_split(line, f, 6), 6);
		assert_true(n < max);
		snprintf(rows[n].file, sizeof(rows[n].file), "%s", f[0]);
		snprintf(rows[n].sec, sizeof(rows[n].sec), "%s", f[1]);
		snprintf(rows[n].role, sizeof(rows[n].role), "%s", f[3]);
		snprintf(rows[n].sent_by, sizeof(rows[n].sent_by), "%s", f[4]);
		n++;
	}
	free(text);
	return n;
}

static size_t load_scenarios(struct scen *sc, size_t max)
{
	struct row rows[80];
	size_t nrows, i, n = 0;

	nrows = load_manifest(rows, GW_ARRAY_SIZE(rows));
	for (i = 0; i < nrows; i++) {
		if (!strcmp(rows[i].role, "offer")) {
			assert_true(n < max);
			memset(&sc[n], 0, sizeof(sc[n]));
			snprintf(sc[n].sec, sizeof(sc[n].sec), "%s",
				 rows[i].sec);
			n++;
		} else if (!strcmp(rows[i].role, "second-offer")) {
			assert_true(n > 0);
			assert_string_equal(sc[n - 1].sec, rows[i].sec);
			sc[n - 1].second = true;
			snprintf(sc[n - 1].second_by,
				 sizeof(sc[n - 1].second_by), "%s",
				 rows[i].sent_by);
		}
	}
	/* The corpus README says 18; its files hold 16 (2.1-2.8, 3.1-3.2,
	 * 4.1-4.3, 5.1-5.3). */
	assert_int_equal(n, 16);
	return n;
}

/* ------------------------------------------------------------------ */
/* RFC 3264 s.6, checked independently of the engine                 */
/* ------------------------------------------------------------------ */

static const struct {
	int pt;
	const char *name;
	unsigned rate;
} known_static[] = {
	{ 0, "PCMU", 8000 }, { 3, "GSM", 8000 }, { 4, "G723", 8000 },
	{ 8, "PCMA", 8000 }, { 9, "G722", 8000 }, { 13, "CN", 8000 },
	{ 18, "G729", 8000 }, { 31, "H261", 90000 }, { 32, "MPV", 90000 },
};

static bool codec_of(const struct sip_sdp_fmt *f, const char **namep,
		     unsigned *ratep)
{
	size_t i;

	if (f->name[0]) {
		*namep = f->name;
		*ratep = f->rate;
		return true;
	}
	for (i = 0; i < GW_ARRAY_SIZE(known_static); i++) {
		if (known_static[i].pt == f->pt) {
			*namep = known_static[i].name;
			*ratep = known_static[i].rate;
			return true;
		}
	}
	return false;
}

/* The offered format for af, by codec; NULL if it was not offered. */
static const struct sip_sdp_fmt *in_offer(const struct sip_sdp_media *om,
					  const struct sip_sdp_fmt *af)
{
	const char *an, *on;
	unsigned ar, or;
	size_t i;

	for (i = 0; i < om->n_fmts; i++) {
		const struct sip_sdp_fmt *of = &om->fmts[i];

		if (codec_of(af, &an, &ar) && codec_of(of, &on, &or)) {
			if (!strcasecmp(an, on) && ar == or)
				return of;
		} else if (!strcmp(af->id, of->id)) {
			return of;
		}
	}
	return NULL;
}

static bool dir_ok(enum sip_sdp_dir offer, enum sip_sdp_dir answer)
{
	switch (offer) {
	case SIP_SDP_SENDONLY:
		return answer == SIP_SDP_RECVONLY || answer == SIP_SDP_INACTIVE;
	case SIP_SDP_RECVONLY:
		return answer == SIP_SDP_SENDONLY || answer == SIP_SDP_INACTIVE;
	case SIP_SDP_INACTIVE:
		return answer == SIP_SDP_INACTIVE;
	default:
		return true;
	}
}

/*
 * RFC 3264 s.6: one m= line per offered one, in order, of the same type
 * and protocol; port 0 stays 0; directions as s.6.1; at least one offered
 * format in an accepted stream (LEGAL_SUBSET: nothing else); a static PT
 * keeps its number, a dynamic codec may be renumbered (RFC 4317 s.2.3).
 */
enum {
	LEGAL_SUBSET = 1 << 0,	/* every answered format was offered */
	LEGAL_DIR = 1 << 1,	/* s.6.1's direction rules */
};

static void check_legal_how(const char *what, const struct sip_sdp *offer,
			    const struct sip_sdp *ans, unsigned how)
{
	size_t i, j, common;

	if (offer->n_media != ans->n_media)
		fail_msg("%s: %zu m= lines answered with %zu", what,
			 offer->n_media, ans->n_media);
	for (i = 0; i < offer->n_media; i++) {
		const struct sip_sdp_media *om = &offer->media[i];
		const struct sip_sdp_media *am = &ans->media[i];

		if (strcasecmp(om->media, am->media) ||
		    strcasecmp(om->proto_name, am->proto_name))
			fail_msg("%s: m=%zu type or proto changed", what, i);
		if (!am->n_fmts)
			fail_msg("%s: m=%zu has no format", what, i);
		if (!om->port && am->port)
			fail_msg("%s: m=%zu refused stream revived", what, i);
		if (!am->port)
			continue;
		if ((how & LEGAL_DIR) && !dir_ok(om->dir, am->dir))
			fail_msg("%s: m=%zu %s answered %s", what, i,
				 sip_sdp_dir_name(om->dir),
				 sip_sdp_dir_name(am->dir));
		for (j = 0, common = 0; j < am->n_fmts; j++) {
			const struct sip_sdp_fmt *af = &am->fmts[j];
			const struct sip_sdp_fmt *of = in_offer(om, af);

			if (!of && (how & LEGAL_SUBSET))
				fail_msg("%s: m=%zu format %s not offered",
					 what, i, af->id);
			if (!of)
				continue;
			common++;
			if (af->pt != of->pt && (af->pt < 96 || of->pt < 96))
				fail_msg("%s: m=%zu static PT %d renumbered",
					 what, i, of->pt);
		}
		if (!common)
			fail_msg("%s: m=%zu no offered format", what, i);
	}
}

static void check_legal(const char *what, const struct sip_sdp *offer,
			const struct sip_sdp *ans)
{
	check_legal_how(what, offer, ans, LEGAL_SUBSET | LEGAL_DIR);
}

/* The SDP text without its o= line, for "did it change" by hand. */
static char *body_without_origin(const struct sip_sdp *sdp)
{
	char *text, *o, *eol, *copy;

	assert_int_equal(sip_sdp_encode(sdp, &text), 0);
	copy = strdup(text);
	gw_mem_deref(text);
	assert_non_null(copy);
	o = strstr(copy, "\r\no=");
	assert_non_null(o);
	eol = strstr(o + 2, "\r\n");
	assert_non_null(eol);
	memmove(o, eol, strlen(eol) + 1);
	return copy;
}

static bool changed_by_text(const struct sip_sdp *a, const struct sip_sdp *b)
{
	char *ta = body_without_origin(a), *tb = body_without_origin(b);
	bool changed = strcmp(ta, tb) != 0;

	free(ta);
	free(tb);
	return changed;
}

/* ------------------------------------------------------------------ */
/* Capabilities that match what a party of an RFC 4317 example did    */
/* ------------------------------------------------------------------ */

struct capfix {
	struct sip_sdp_codec codecs[16];
	char names[16][SIP_SDP_TOKEN_MAX];
	char addr[SIP_SDP_ADDR_MAX];
	char user[SIP_SDP_TOKEN_MAX];
	struct sip_sdp_caps caps;
};

static void capfix_add(struct capfix *cf, const struct sip_sdp_media *m)
{
	size_t i, j;

	for (i = 0; i < m->n_fmts; i++) {
		const struct sip_sdp_fmt *f = &m->fmts[i];
		struct sip_sdp_codec *c;
		const char *name;
		unsigned rate;
		bool dup = false;

		if (!codec_of(f, &name, &rate))
			continue;
		if (!strcasecmp(name, "telephone-event")) {
			cf->caps.tel_event = true;
			cf->caps.tel_event_pt = f->pt;
			continue;
		}
		for (j = 0; j < cf->caps.n_codecs; j++)
			dup |= !strcasecmp(cf->codecs[j].name, name);
		if (dup)
			continue;
		assert_true(cf->caps.n_codecs < GW_ARRAY_SIZE(cf->codecs));
		j = cf->caps.n_codecs++;
		snprintf(cf->names[j], sizeof(cf->names[j]), "%s", name);
		c = &cf->codecs[j];
		c->name = cf->names[j];
		c->rate = rate;
		c->channels = f->channels;
		c->pt = f->pt;		/* static, or the preferred dynamic */
	}
}

/* Caps from the audio streams a party accepted (or offered). */
static void capfix_init(struct capfix *cf, const struct sip_sdp *sdp,
			bool first_audio_only)
{
	size_t i;

	memset(cf, 0, sizeof(*cf));
	cf->caps.codecs = cf->codecs;
	cf->caps.tel_event_pt = 101;
	cf->caps.username = cf->user;
	cf->caps.addr4 = cf->addr;
	snprintf(cf->user, sizeof(cf->user), "%s", sdp->origin.username);
	snprintf(cf->addr, sizeof(cf->addr), "%s", sdp->conn.addr);
	for (i = 0; i < sdp->n_media; i++) {
		const struct sip_sdp_media *m = &sdp->media[i];

		if (m->type != SIP_SDP_AUDIO || !m->port)
			continue;
		if (!cf->caps.audio_port)
			cf->caps.audio_port = m->port;
		capfix_add(cf, m);
		if (first_audio_only)
			break;
	}
	if (!cf->caps.audio_port)
		cf->caps.audio_port = 49172;
}

static bool has_codec(const struct sip_sdp_media *m)
{
	size_t i;
	const char *name;
	unsigned rate;

	for (i = 0; i < m->n_fmts; i++) {
		if (codec_of(&m->fmts[i], &name, &rate) &&
		    strcasecmp(name, "telephone-event"))
			return true;
	}
	return false;
}

/* The first audio m= line the RFC's answerer accepted with a codec. */
static int rfc_audio_idx(const struct sip_sdp *ans)
{
	size_t i;

	for (i = 0; i < ans->n_media; i++) {
		const struct sip_sdp_media *m = &ans->media[i];

		if (m->type == SIP_SDP_AUDIO && m->port && has_codec(m))
			return (int)i;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* The corpus                                                         */
/* ------------------------------------------------------------------ */

/* Every file parses and re-encodes to something that parses equal. */
static void test_corpus_roundtrip(void **state)
{
	struct row rows[80];
	size_t n, i;

	(void)state;
	n = load_manifest(rows, GW_ARRAY_SIZE(rows));
	assert_int_equal(n, 54);
	for (i = 0; i < n; i++) {
		struct sip_sdp *a = NULL, *b = NULL;
		char *text, *enc, *p;
		size_t len;

		text = read_corpus(rows[i].file, &len);
		if (sip_sdp_parse(&a, text, len))
			fail_msg("%s does not parse", rows[i].file);
		assert_int_equal(sip_sdp_encode(a, &enc), 0);
		for (p = enc; (p = strchr(p, '\n')); p++) {
			if (p == enc || p[-1] != '\r')
				fail_msg("%s: bare LF in encoding",
					 rows[i].file);
		}
		assert_int_equal(enc[strlen(enc) - 1], '\n');
		assert_int_equal(sip_sdp_parse(&b, enc, strlen(enc)), 0);
		if (!sip_sdp_same(a, b) ||
		    a->origin.version != b->origin.version)
			fail_msg("%s: re-encoding differs:\n%s", rows[i].file,
				 enc);
		/* The examples are written as we write: byte for byte. */
		if (strcmp(text, enc))
			fail_msg("%s: encoding is not the original:\n%s",
				 rows[i].file, enc);
		gw_mem_deref(enc);
		gw_mem_deref(a);
		gw_mem_deref(b);
		free(text);
	}
}

/* What some of the files say, as parsed. */
static void test_corpus_fields(void **state)
{
	struct sip_sdp *s;
	const struct sip_sdp_conn *c;

	(void)state;
	s = load("2.1", "offer");
	assert_string_equal(s->origin.username, "alice");
	assert_string_equal(s->origin.sess_id, "2890844526");
	assert_true(s->origin.version == 2890844526ULL);
	assert_int_equal(s->conn.af, SIP_SDP_IP4);
	assert_string_equal(s->conn.addr, "host.atlanta.example.com");
	assert_int_equal(s->n_media, 2);
	assert_int_equal(s->media[0].type, SIP_SDP_AUDIO);
	assert_int_equal(s->media[0].proto, SIP_SDP_RTP_AVP);
	assert_int_equal(s->media[0].port, 49170);
	assert_int_equal(s->media[0].n_fmts, 3);
	assert_int_equal(s->media[0].fmts[2].pt, 97);
	assert_string_equal(s->media[0].fmts[2].name, "iLBC");
	assert_int_equal(s->media[0].fmts[2].rate, 8000);
	assert_int_equal(s->media[1].type, SIP_SDP_OTHER);
	assert_string_equal(s->media[1].media, "video");
	assert_int_equal(s->media[0].dir, SIP_SDP_SENDRECV);
	gw_mem_deref(s);

	s = load("2.8", "answer");
	c = sip_sdp_media_conn(s, &s->media[1]);
	assert_string_equal(c->addr, "otherhost.biloxi.example.com");
	c = sip_sdp_media_conn(s, &s->media[0]);
	assert_string_equal(c->addr, "host.biloxi.example.com");
	gw_mem_deref(s);

	s = load("2.4", "offer");
	assert_int_equal(s->media[1].dir, SIP_SDP_SENDONLY);
	assert_int_equal(sip_sdp_tel_event(&s->media[1], 8000)->pt, 98);
	assert_null(sip_sdp_tel_event(&s->media[0], 0));
	gw_mem_deref(s);

	s = load("5.1", "offer");
	assert_int_equal(s->n_media, 0);
	gw_mem_deref(s);

	s = load("5.2", "offer");
	assert_true(sip_sdp_media_held(s, &s->media[0]));
	gw_mem_deref(s);

	s = load("2.2", "answer");
	assert_int_equal(s->media[1].port, 0);
	assert_false(sip_sdp_media_held(s, &s->media[1]));
	gw_mem_deref(s);
}

/*
 * The RFC's own answers pass the checker and sip_sdp_process_answer.
 * Two allowances: an answer may list formats the offer did not (s.6.1;
 * 3.2's second answer lists PCMU against an iLBC-only offer), and in
 * s.3.2 Bob holds the audio with a=sendonly and Alice answers sendrecv
 * (her first SDP again), which s.6.1 forbids (recvonly or inactive):
 * sip_sdp_process_answer takes that as what both sides allow.  Our own
 * answers are held to both rules (check_legal).
 */
static void test_corpus_rfc_answers_legal(void **state)
{
	struct scen sc[MAX_SCEN];
	size_t n, i;

	(void)state;
	n = load_scenarios(sc, MAX_SCEN);
	for (i = 0; i < n; i++) {
		struct sip_sdp *o, *a;
		struct sip_sdp_neg neg;
		char what[32];
		int k;

		for (k = 0; k < (sc[i].second ? 2 : 1); k++) {
			o = load(sc[i].sec, k ? "second-offer" : "offer");
			a = load(sc[i].sec, k ? "second-answer" : "answer");
			snprintf(what, sizeof(what), "%.7s%s", sc[i].sec,
				 k ? " second" : "");
			check_legal_how(what, o, a,
					strcmp(what, "3.2 second") ?
					LEGAL_DIR : 0);
			if (sip_sdp_process_answer(o, a, &neg))
				fail_msg("%s: process_answer refuses it",
					 what);
			if (!strcmp(what, "3.2 second")) {
				assert_int_equal(a->media[0].dir,
						 SIP_SDP_SENDRECV);
				/* Bob, holding, only sends. */
				assert_int_equal(neg.audio.dir,
						 SIP_SDP_SENDONLY);
			}
			assert_int_equal(neg.audio.active,
					 rfc_audio_idx(a) >= 0);
			if (neg.audio.active)
				assert_int_equal(neg.audio.idx,
						 rfc_audio_idx(a));
			gw_mem_deref(o);
			gw_mem_deref(a);
		}
	}
}

/* 2.3: Bob takes iLBC under PT 99 for the offered 97. */
static void test_corpus_pt_remap(void **state)
{
	struct sip_sdp *o = load("2.3", "offer"), *a = load("2.3", "answer");
	struct sip_sdp_neg neg;

	(void)state;
	assert_int_equal(sip_sdp_process_answer(o, a, &neg), 0);
	assert_true(neg.audio.active);
	assert_string_equal(neg.codec, "iLBC");
	assert_int_equal(neg.pt_tx, 99);	/* Bob receives on 99 */
	assert_int_equal(neg.pt_rx, 97);	/* we receive on ours */
	assert_int_equal(neg.audio.port, 49172);
	assert_string_equal(neg.audio.addr, "host.biloxi.example.com");
	gw_mem_deref(o);
	gw_mem_deref(a);
}

/* Our answer to a party's offer, with the answerer's caps: legal, and
 * taking the stream and a codec the RFC's answerer took. */
static struct sip_sdp *answer_checked(const char *what,
				      const struct sip_sdp *offer,
				      const struct sip_sdp *rfc_ans,
				      const struct sip_sdp_caps *caps,
				      struct sip_sdp_neg *neg)
{
	struct sip_sdp *ans = NULL;
	struct sip_sdp_neg back;
	int idx = rfc_audio_idx(rfc_ans);
	int err;

	err = sip_sdp_answer(&ans, offer, caps, neg);
	if (err)
		fail_msg("%s: answer error %d", what, err);
	check_legal(what, offer, ans);
	assert_int_equal(sip_sdp_process_answer(offer, ans, &back), 0);
	assert_int_equal(neg->audio.active, idx >= 0);
	if (idx >= 0) {
		const struct sip_sdp_media *om = &offer->media[idx];
		const struct sip_sdp_fmt *rf = NULL;
		size_t i;

		assert_int_equal(neg->audio.idx, idx);
		/* The codec is one the RFC's answerer took there, under
		 * the offerer's number. */
		for (i = 0; i < rfc_ans->media[idx].n_fmts && !rf; i++) {
			const char *name;
			unsigned rate;

			if (codec_of(&rfc_ans->media[idx].fmts[i], &name,
				     &rate) && !strcasecmp(name, neg->codec))
				rf = &rfc_ans->media[idx].fmts[i];
		}
		if (!rf)
			fail_msg("%s: %s not taken by the RFC", what,
				 neg->codec);
		assert_int_equal(neg->pt_rx, in_offer(om, rf)->pt);
		assert_int_equal(neg->pt_tx, neg->pt_rx);
		assert_int_equal(neg->audio.port, om->port);
		/* The offerer's view of our answer agrees. */
		assert_true(back.audio.active);
		assert_string_equal(back.codec, neg->codec);
		assert_int_equal(back.pt_tx, neg->pt_rx);
		assert_int_equal(back.te_pt_tx, neg->te_pt_rx);
		assert_int_equal(back.audio.port, caps->audio_port);
	}
	return ans;
}

/*
 * We are Bob for every scenario: answer the offer with Bob's codecs;
 * where Alice sends the second offer, answer it too, and check that the
 * o= version went up exactly when our answer changed (RFC 3264 s.8).
 */
static void test_corpus_answer_as_bob(void **state)
{
	/* Whether our second answer differs from our first. */
	static const struct {
		const char *sec;
		bool changed;
	} expect[] = {
		{ "2.2", false },	/* PCMU only, both times */
		{ "2.7", false },	/* video refused both times */
		{ "4.2", true },	/* a video m= line added (refused) */
		{ "5.1", true },	/* audio added to no media */
		{ "5.2", false },	/* only the offerer's address moved */
	};
	struct scen sc[MAX_SCEN];
	size_t n, i, j, nsecond = 0;

	(void)state;
	n = load_scenarios(sc, MAX_SCEN);
	for (i = 0; i < n; i++) {
		struct sip_sdp *o, *a, *a2 = NULL, *ans, *o2, *ans2;
		struct sip_sdp_session *sess;
		struct sip_sdp_neg neg;
		struct capfix cf;
		uint64_t v1;
		char what[32];
		bool changed;

		o = load(sc[i].sec, "offer");
		a = load(sc[i].sec, "answer");
		capfix_init(&cf, a, false);
		if (sc[i].second && !strcmp(sc[i].second_by, "Alice")) {
			a2 = load(sc[i].sec, "second-answer");
			for (j = 0; j < a2->n_media; j++) {
				if (a2->media[j].type == SIP_SDP_AUDIO &&
				    a2->media[j].port)
					capfix_add(&cf, &a2->media[j]);
			}
		}
		snprintf(what, sizeof(what), "%.7s as Bob", sc[i].sec);
		ans = answer_checked(what, o, a, &cf.caps, &neg);
		if (!strcmp(sc[i].sec, "5.2")) {
			/* Black-holed offer: we cannot send there. */
			assert_true(neg.audio.remote_hold);
			assert_int_equal(neg.audio.dir, SIP_SDP_RECVONLY);
			assert_int_equal(ans->media[0].dir, SIP_SDP_SENDRECV);
		}
		if (!a2)
			goto next;

		nsecond++;
		assert_int_equal(sip_sdp_session_alloc(&sess), 0);
		assert_int_equal(sip_sdp_session_stamp(sess, ans), 0);
		v1 = ans->origin.version;
		o2 = load(sc[i].sec, "second-offer");
		snprintf(what, sizeof(what), "%.7s second as Bob", sc[i].sec);
		ans2 = answer_checked(what, o2, a2, &cf.caps, &neg);
		assert_int_equal(sip_sdp_session_stamp(sess, ans2), 0);
		changed = changed_by_text(ans, ans2);
		assert_string_equal(ans2->origin.sess_id, ans->origin.sess_id);
		assert_string_equal(ans2->origin.username, "bob");
		assert_true(ans2->origin.version == v1 + (changed ? 1 : 0));
		for (j = 0; j < GW_ARRAY_SIZE(expect); j++) {
			if (!strcmp(expect[j].sec, sc[i].sec))
				assert_int_equal(changed, expect[j].changed);
		}
		gw_mem_deref(o2);
		gw_mem_deref(ans2);
		gw_mem_deref(sess);
 next:
		gw_mem_deref(ans);
		gw_mem_deref(o);
		gw_mem_deref(a);
		gw_mem_deref(a2);
	}
	assert_int_equal(nsecond, GW_ARRAY_SIZE(expect));
}

/*
 * We are Alice where Bob sends the second offer: our offer from Alice's
 * first audio stream, then our answer to Bob's re-offer, whose version
 * goes up only if it differs from our offer (5.3: it does not, as in the
 * RFC).
 */
static void test_corpus_answer_as_alice(void **state)
{
	static const struct {
		const char *sec;
		bool changed;
	} expect[] = {
		{ "2.5", true },	/* a video m= line (refused) added */
		{ "3.1", true },	/* iLBC only */
		{ "3.2", true },	/* recvonly, and a second stream */
		{ "4.1", true },	/* a second stream (refused) */
		{ "4.3", true },	/* video, removed, stays refused */
		{ "5.3", false },	/* the same iLBC stream */
	};
	size_t i;

	(void)state;
	for (i = 0; i < GW_ARRAY_SIZE(expect); i++) {
		const char *sec = expect[i].sec;
		struct sip_sdp *o, *off, *o2, *a2, *ans2;
		struct sip_sdp_session *sess;
		struct sip_sdp_neg neg;
		struct capfix cf;
		char what[32];
		bool changed;

		o = load(sec, "offer");
		capfix_init(&cf, o, true);
		assert_int_equal(sip_sdp_offer(&off, &cf.caps), 0);
		assert_int_equal(sip_sdp_session_alloc(&sess), 0);
		assert_int_equal(sip_sdp_session_stamp(sess, off), 0);

		o2 = load(sec, "second-offer");
		a2 = load(sec, "second-answer");
		snprintf(what, sizeof(what), "%s second as Alice", sec);
		ans2 = answer_checked(what, o2, a2, &cf.caps, &neg);
		assert_int_equal(sip_sdp_session_stamp(sess, ans2), 0);
		changed = changed_by_text(off, ans2);
		assert_int_equal(changed, expect[i].changed);
		assert_true(ans2->origin.version ==
			    off->origin.version + (changed ? 1 : 0));
		assert_string_equal(ans2->origin.username, "alice");
		if (!strcmp(sec, "3.2")) {
			/* Bob holds the audio stream with a=sendonly. */
			assert_true(neg.audio.remote_hold);
			assert_int_equal(neg.audio.dir, SIP_SDP_RECVONLY);
			assert_int_equal(ans2->media[0].dir,
					 SIP_SDP_RECVONLY);
		}

		gw_mem_deref(o);
		gw_mem_deref(off);
		gw_mem_deref(o2);
		gw_mem_deref(a2);
		gw_mem_deref(ans2);
		gw_mem_deref(sess);
	}
}

/*
 * RFC 3264 s.8 on the examples themselves: a party's next SDP keeps its
 * version only if it is unchanged, and otherwise is one above.  This
 * checks sip_sdp_same against the RFC: 2.5's, 5.2's and 5.3's second
 * answers are unchanged and keep the version.
 */
static void check_next(const char *what, const struct sip_sdp *prev,
		       const struct sip_sdp *next)
{
	bool same = sip_sdp_same(prev, next);

	assert_string_equal(prev->origin.sess_id, next->origin.sess_id);
	if (next->origin.version == prev->origin.version) {
		if (!same)
			fail_msg("%s: changed without a new version", what);
	} else if (next->origin.version != prev->origin.version + 1) {
		fail_msg("%s: version not incremented by one", what);
	}
}

static void test_corpus_version_rules(void **state)
{
	struct scen sc[MAX_SCEN];
	size_t n, i, nsame = 0;

	(void)state;
	n = load_scenarios(sc, MAX_SCEN);
	for (i = 0; i < n; i++) {
		struct sip_sdp *o, *a, *o2, *a2;
		bool alice2;
		char what[32];

		if (!sc[i].second)
			continue;
		o = load(sc[i].sec, "offer");
		a = load(sc[i].sec, "answer");
		o2 = load(sc[i].sec, "second-offer");
		a2 = load(sc[i].sec, "second-answer");
		alice2 = !strcmp(sc[i].second_by, "Alice");
		snprintf(what, sizeof(what), "%.7s second offer", sc[i].sec);
		check_next(what, alice2 ? o : a, o2);
		/* An offer that modifies the session is a new version. */
		assert_false(sip_sdp_same(alice2 ? o : a, o2));
		snprintf(what, sizeof(what), "%.7s second answer", sc[i].sec);
		check_next(what, alice2 ? a : o, a2);
		if (sip_sdp_same(alice2 ? a : o, a2)) {
			nsame++;
			if (strcmp(sc[i].sec, "3.2"))
				assert_true(a2->origin.version ==
					    (alice2 ? a : o)->origin.version);
		}
		gw_mem_deref(o);
		gw_mem_deref(a);
		gw_mem_deref(o2);
		gw_mem_deref(a2);
	}
	/* 2.5, 3.2 (identical, yet a new version), 5.2 and 5.3. */
	assert_int_equal(nsame, 4);
}

/* ------------------------------------------------------------------ */
/* Hand-written cases                                                 */
/* ------------------------------------------------------------------ */

#define HDR4(addr)							\
	"v=0\r\no=peer 1 1 IN IP4 " addr "\r\ns=-\r\nc=IN IP4 " addr	\
	"\r\nt=0 0\r\n"

static void caps_test(struct sip_sdp_caps *caps)
{
	sip_sdp_caps_init(caps);
	caps->addr4 = "192.0.2.10";
	caps->audio_port = 4000;
}

static struct sip_sdp *answer_ok(const char *offer_text,
				 const struct sip_sdp_caps *caps,
				 struct sip_sdp_neg *neg)
{
	struct sip_sdp *o = parse_str(offer_text), *a = NULL;

	assert_int_equal(sip_sdp_answer(&a, o, caps, neg), 0);
	check_legal("hand-written", o, a);
	gw_mem_deref(o);
	return a;
}

static void test_hold_zero_addr(void **state)
{
	struct sip_sdp_caps caps;
	struct sip_sdp_neg neg;
	struct sip_sdp *a;

	(void)state;
	caps_test(&caps);
	a = answer_ok(HDR4("0.0.0.0") "m=audio 5000 RTP/AVP 8\r\n", &caps,
		      &neg);
	assert_true(neg.audio.active);
	assert_true(neg.audio.remote_hold);
	assert_int_equal(neg.audio.dir, SIP_SDP_RECVONLY);
	assert_string_equal(neg.codec, "PCMA");
	/* The answer says what we can do (RFC 4317 s.5.2 answers so). */
	assert_int_equal(a->media[0].dir, SIP_SDP_SENDRECV);
	gw_mem_deref(a);

	/* IPv6's zero address holds too. */
	caps.addr6 = "2001:db8::10";
	a = answer_ok("v=0\r\no=- 1 1 IN IP6 ::\r\ns=-\r\nc=IN IP6 ::\r\n"
		      "t=0 0\r\nm=audio 5000 RTP/AVP 0\r\n", &caps, &neg);
	assert_true(neg.audio.remote_hold);
	assert_int_equal(neg.audio.dir, SIP_SDP_RECVONLY);
	gw_mem_deref(a);
}

static void test_hold_direction(void **state)
{
	static const struct {
		const char *attr;
		enum sip_sdp_dir ans;	/* in the answer */
		enum sip_sdp_dir neg;	/* what we do */
		bool hold;
	} cases[] = {
		{ "a=sendonly\r\n", SIP_SDP_RECVONLY, SIP_SDP_RECVONLY, true },
		{ "a=inactive\r\n", SIP_SDP_INACTIVE, SIP_SDP_INACTIVE, true },
		{ "a=recvonly\r\n", SIP_SDP_SENDONLY, SIP_SDP_SENDONLY, false },
		{ "a=sendrecv\r\n", SIP_SDP_SENDRECV, SIP_SDP_SENDRECV, false },
		{ "", SIP_SDP_SENDRECV, SIP_SDP_SENDRECV, false },
	};
	struct sip_sdp_caps caps;
	size_t i;

	(void)state;
	caps_test(&caps);
	for (i = 0; i < GW_ARRAY_SIZE(cases); i++) {
		struct sip_sdp_neg neg;
		struct sip_sdp *a;
		char text[512], *enc;

		snprintf(text, sizeof(text), "%s%s%s", HDR4("192.0.2.20"),
			 "m=audio 5000 RTP/AVP 0 8\r\n", cases[i].attr);
		a = answer_ok(text, &caps, &neg);
		assert_int_equal(a->media[0].dir, cases[i].ans);
		assert_int_equal(neg.audio.dir, cases[i].neg);
		assert_int_equal(neg.audio.remote_hold, cases[i].hold);
		assert_string_equal(neg.codec, "PCMU");	/* offerer's order */
		assert_int_equal(sip_sdp_encode(a, &enc), 0);
		if (cases[i].ans != SIP_SDP_SENDRECV) {
			char want[32];

			snprintf(want, sizeof(want), "a=%s\r\n",
				 sip_sdp_dir_name(cases[i].ans));
			assert_non_null(strstr(enc, want));
		} else {
			assert_null(strstr(enc, "only"));
		}
		gw_mem_deref(enc);
		gw_mem_deref(a);
	}

	/* A session-level a=sendonly holds every stream. */
	{
		struct sip_sdp_neg neg;
		struct sip_sdp *a;

		a = answer_ok(HDR4("192.0.2.20") "a=sendonly\r\n"
			      "m=audio 5000 RTP/AVP 8\r\n", &caps, &neg);
		assert_int_equal(a->media[0].dir, SIP_SDP_RECVONLY);
		assert_true(neg.audio.remote_hold);
		gw_mem_deref(a);
	}
}

static void test_ipv6(void **state)
{
	static const char offer6[] =
		"v=0\r\no=peer 7 7 IN IP6 2001:db8::1\r\ns=-\r\n"
		"c=IN IP6 2001:db8::1\r\nt=0 0\r\n"
		"m=audio 6000 RTP/AVP 8 101\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n"
		"a=fmtp:101 0-16\r\n";
	struct sip_sdp_caps caps;
	struct sip_sdp_neg neg;
	struct sip_sdp *o, *a;
	char *enc;

	(void)state;
	o = parse_str(offer6);
	assert_int_equal(o->conn.af, SIP_SDP_IP6);
	assert_string_equal(o->conn.addr, "2001:db8::1");
	assert_int_equal(o->origin.addr.af, SIP_SDP_IP6);
	gw_mem_deref(o);

	caps_test(&caps);
	caps.addr6 = "2001:db8::10";
	a = answer_ok(offer6, &caps, &neg);
	assert_int_equal(neg.audio.af, SIP_SDP_IP6);
	assert_string_equal(neg.audio.addr, "2001:db8::1");
	assert_int_equal(neg.audio.port, 6000);
	assert_int_equal(neg.te_pt_tx, 101);
	assert_string_equal(neg.te_events, "0-16");
	assert_int_equal(sip_sdp_encode(a, &enc), 0);
	assert_non_null(strstr(enc, "\r\nc=IN IP6 2001:db8::10\r\n"));
	assert_non_null(strstr(enc, "\r\no=junction 0 0 IN IP6 "
				    "2001:db8::10\r\n"));
	gw_mem_deref(enc);
	gw_mem_deref(a);

	/* An IPv4 peer gets our IPv4 address; with only IPv6, that. */
	a = answer_ok(HDR4("192.0.2.20") "m=audio 5000 RTP/AVP 8\r\n", &caps,
		      &neg);
	assert_int_equal(a->conn.af, SIP_SDP_IP4);
	gw_mem_deref(a);
	caps.addr4 = NULL;
	a = answer_ok(HDR4("192.0.2.20") "m=audio 5000 RTP/AVP 8\r\n", &caps,
		      &neg);
	assert_int_equal(a->conn.af, SIP_SDP_IP6);
	gw_mem_deref(a);
}

static const char t38_offer[] =
	HDR4("192.0.2.30")
	"m=image 7000 udptl t38\r\n"
	"a=T38FaxVersion:1\r\n"
	"a=T38MaxBitRate:14400\r\n"
	"a=T38FaxFillBitRemoval\r\n"
	"a=T38FaxTranscodingMMR:0\r\n"
	"a=T38FaxRateManagement:transferredTCF\r\n"
	"a=T38FaxMaxBuffer:1800\r\n"
	"a=T38FaxMaxDatagram:512\r\n"
	"a=T38FaxUdpEC:t38UDPFEC\r\n";

static void test_t38(void **state)
{
	struct sip_sdp_caps caps;
	struct sip_sdp_neg neg;
	struct sip_sdp *o, *b, *a = SENTINEL;
	const struct sip_sdp_t38 *t;
	char *enc;

	(void)state;
	o = parse_str(t38_offer);
	assert_int_equal(o->media[0].type, SIP_SDP_IMAGE);
	assert_int_equal(o->media[0].proto, SIP_SDP_UDPTL);
	assert_string_equal(o->media[0].fmts[0].id, "t38");
	assert_int_equal(o->media[0].fmts[0].pt, -1);
	t = &o->media[0].t38;
	assert_int_equal(t->version, 1);
	assert_int_equal(t->max_bitrate, 14400);
	assert_true(t->fill_bit_removal);
	assert_false(t->transcoding_mmr);
	assert_false(t->transcoding_jbig);
	assert_int_equal(t->rate_mgmt, SIP_SDP_T38_TRANSFERRED_TCF);
	assert_int_equal(t->max_buffer, 1800);
	assert_int_equal(t->max_datagram, 512);
	assert_int_equal(t->udp_ec, SIP_SDP_T38_EC_FEC);

	/* Round trip. */
	assert_int_equal(sip_sdp_encode(o, &enc), 0);
	b = parse_str(enc);
	assert_true(sip_sdp_same(o, b));
	gw_mem_deref(b);
	gw_mem_deref(enc);

	/* Without T.38 in our caps: nothing to take. */
	caps_test(&caps);
	assert_int_equal(sip_sdp_answer(&a, o, &caps, &neg), EPROTO);
	assert_ptr_equal(a, SENTINEL);

	caps.t38 = true;
	caps.image_port = 4002;
	assert_int_equal(sip_sdp_answer(&a, o, &caps, &neg), 0);
	check_legal("t38", o, a);
	assert_false(neg.audio.active);
	assert_true(neg.image.active);
	assert_int_equal(neg.image.port, 7000);
	assert_string_equal(neg.image.addr, "192.0.2.30");
	assert_int_equal(neg.t38.version, 0);		/* the lower */
	assert_int_equal(neg.t38.max_bitrate, 14400);
	assert_int_equal(neg.t38.rate_mgmt, SIP_SDP_T38_TRANSFERRED_TCF);
	assert_int_equal(neg.t38.max_datagram, 400);	/* ours */
	assert_int_equal(neg.t38.udp_ec, SIP_SDP_T38_EC_REDUNDANCY);
	assert_false(neg.t38.fill_bit_removal);
	assert_int_equal(sip_sdp_encode(a, &enc), 0);
	assert_non_null(strstr(enc, "\r\nm=image 4002 udptl t38\r\n"));
	assert_non_null(strstr(enc, "\r\na=T38FaxRateManagement:"
				    "transferredTCF\r\n"));
	assert_non_null(strstr(enc, "\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n"));
	gw_mem_deref(enc);

	/* The offerer's view of it. */
	assert_int_equal(sip_sdp_process_answer(o, a, &neg), 0);
	assert_true(neg.image.active);
	assert_int_equal(neg.image.port, 4002);
	assert_int_equal(neg.t38.max_datagram, 400);
	gw_mem_deref(a);
	gw_mem_deref(o);

	/* Audio and T.38 offered together: both taken. */
	a = answer_ok(HDR4("192.0.2.30") "m=audio 5000 RTP/AVP 8\r\n"
		      "m=image 7000 udptl t38\r\n", &caps, &neg);
	assert_true(neg.audio.active);
	assert_true(neg.image.active);
	assert_int_equal(neg.image.idx, 1);
	assert_int_equal(a->media[1].port, 4002);
	gw_mem_deref(a);
}

static void test_no_common_codec(void **state)
{
	struct sip_sdp_caps caps;
	struct sip_sdp_neg neg;
	struct sip_sdp *o, *a = SENTINEL;

	(void)state;
	caps_test(&caps);
	/* G.723 only: EPROTO, nothing written. */
	o = parse_str(HDR4("192.0.2.20") "m=audio 5000 RTP/AVP 4\r\n");
	assert_int_equal(sip_sdp_answer(&a, o, &caps, &neg), EPROTO);
	assert_ptr_equal(a, SENTINEL);
	gw_mem_deref(o);

	/* Video only: the same. */
	o = parse_str(HDR4("192.0.2.20") "m=video 5002 RTP/AVP 31\r\n");
	assert_int_equal(sip_sdp_answer(&a, o, &caps, &neg), EPROTO);
	gw_mem_deref(o);

	/* A refused stream next to one we take: port 0, an offered
	 * format. */
	a = answer_ok(HDR4("192.0.2.20") "m=audio 5000 RTP/AVP 4\r\n"
		      "m=audio 5002 RTP/AVP 0\r\n", &caps, &neg);
	assert_int_equal(a->media[0].port, 0);
	assert_int_equal(a->media[0].n_fmts, 1);
	assert_string_equal(a->media[0].fmts[0].id, "4");
	assert_int_equal(a->media[1].port, 4000);
	assert_int_equal(neg.audio.idx, 1);
	gw_mem_deref(a);

	/* Every stream already refused by the offerer: all port 0, 0. */
	a = answer_ok(HDR4("192.0.2.20") "m=audio 0 RTP/AVP 4\r\n", &caps,
		      &neg);
	assert_int_equal(a->media[0].port, 0);
	assert_false(neg.audio.active);
	gw_mem_deref(a);
}

static void test_several_streams(void **state)
{
	struct sip_sdp_caps caps;
	struct sip_sdp_neg neg;
	struct sip_sdp *a;

	(void)state;
	caps_test(&caps);
	/* One audio stream for a B-channel: the second is refused. */
	a = answer_ok(HDR4("192.0.2.20") "m=audio 5000 RTP/AVP 8\r\n"
		      "m=video 5002 RTP/AVP 31\r\n"
		      "m=audio 5004 RTP/AVP 8\r\n", &caps, &neg);
	assert_int_equal(a->n_media, 3);
	assert_int_equal(a->media[0].port, 4000);
	assert_int_equal(a->media[1].port, 0);
	assert_string_equal(a->media[1].media, "video");
	assert_int_equal(a->media[2].port, 0);
	gw_mem_deref(a);
}

static void test_savp_crypto(void **state)
{
	static const char savp[] =
		HDR4("192.0.2.20")
		"m=audio 5000 RTP/SAVP 8\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
		"inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n"
		"a=crypto:2 AES_CM_128_HMAC_SHA1_32 "
		"inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:4\r\n"
		"m=audio 5002 RTP/AVP 8\r\n";
	struct sip_sdp_caps caps;
	struct sip_sdp_neg neg;
	struct sip_sdp *o, *b, *a;
	char *enc;

	(void)state;
	o = parse_str(savp);
	assert_int_equal(o->media[0].proto, SIP_SDP_RTP_SAVP);
	assert_int_equal(o->media[0].n_crypto, 2);
	assert_string_equal(o->media[0].crypto[1],
			    "2 AES_CM_128_HMAC_SHA1_32 "
			    "inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj"
			    "|2^20|1:4");
	assert_int_equal(sip_sdp_encode(o, &enc), 0);
	b = parse_str(enc);
	assert_true(sip_sdp_same(o, b));
	gw_mem_deref(b);
	gw_mem_deref(enc);
	gw_mem_deref(o);

	/* No SRTP yet: the SAVP stream is refused, the AVP one taken. */
	caps_test(&caps);
	a = answer_ok(savp, &caps, &neg);
	assert_int_equal(a->media[0].port, 0);
	assert_int_equal(a->media[0].n_crypto, 0);
	assert_int_equal(neg.audio.idx, 1);
	gw_mem_deref(a);
}

static void test_dynamic_pt_and_ptime(void **state)
{
	struct sip_sdp_caps caps;
	struct sip_sdp_neg neg;
	struct sip_sdp *a;
	char *enc;

	(void)state;
	caps_test(&caps);
	/* The offerer's first supported codec, under its dynamic PT. */
	a = answer_ok(HDR4("192.0.2.20")
		      "m=audio 5000 RTP/AVP 4 112 8 100\r\n"
		      "a=rtpmap:112 G726-32/8000\r\n"
		      "a=rtpmap:100 telephone-event/8000\r\n"
		      "a=ptime:30\r\n", &caps, &neg);
	assert_string_equal(neg.codec, "G726-32");
	assert_int_equal(neg.pt_tx, 112);
	assert_int_equal(neg.pt_rx, 112);
	assert_int_equal(neg.te_pt_tx, 100);
	assert_string_equal(neg.te_events, "0-15");	/* RFC 4733 default */
	assert_int_equal(neg.ptime, 30);
	assert_int_equal(sip_sdp_encode(a, &enc), 0);
	assert_non_null(strstr(enc, "\r\nm=audio 4000 RTP/AVP 112 100\r\n"
				    "a=rtpmap:112 G726-32/8000\r\n"
				    "a=rtpmap:100 telephone-event/8000\r\n"
				    "a=fmtp:100 0-15\r\n"
				    "a=ptime:20\r\n"));
	gw_mem_deref(enc);
	gw_mem_deref(a);

	/* opus must match in channels too; its fmtp is the peer's. */
	a = answer_ok(HDR4("192.0.2.20")
		      "m=audio 5000 RTP/AVP 96 97 0\r\n"
		      "a=rtpmap:96 opus/48000\r\n"
		      "a=rtpmap:97 OPUS/48000/2\r\n"
		      "a=fmtp:97 useinbandfec=1\r\n"
		      "a=rtpmap:0 PCMU/8000\r\n", &caps, &neg);
	assert_string_equal(neg.codec, "opus");
	assert_int_equal(neg.pt_tx, 97);
	assert_int_equal(neg.rate, 48000);
	assert_int_equal(neg.channels, 2);
	assert_string_equal(neg.fmtp, "useinbandfec=1");
	assert_int_equal(neg.te_pt_tx, -1);
	assert_int_equal(neg.ptime, 20);		/* ours */
	gw_mem_deref(a);

	/* No telephone-event at our codec's rate: none answered. */
	caps.tel_event = false;
	a = answer_ok(HDR4("192.0.2.20") "m=audio 5000 RTP/AVP 8 101\r\n"
		      "a=rtpmap:101 telephone-event/8000\r\n", &caps, &neg);
	assert_int_equal(a->media[0].n_fmts, 1);
	assert_int_equal(neg.te_pt_tx, -1);
	gw_mem_deref(a);
}

static void test_golden_answer(void **state)
{
	struct sip_sdp_session *sess;
	struct sip_sdp_caps caps;
	struct sip_sdp_neg neg;
	struct sip_sdp *a;
	char want[1024], *enc;

	(void)state;
	caps_test(&caps);
	a = answer_ok(HDR4("192.0.2.20")
		      "m=audio 5000 RTP/AVP 0 8 101\r\n"
		      "a=rtpmap:0 PCMU/8000\r\n"
		      "a=rtpmap:8 PCMA/8000\r\n"
		      "a=rtpmap:101 telephone-event/8000\r\n"
		      "a=fmtp:101 0-15\r\n", &caps, &neg);
	assert_int_equal(sip_sdp_session_alloc(&sess), 0);
	assert_int_equal(sip_sdp_session_stamp(sess, a), 0);
	snprintf(want, sizeof(want),
		 "v=0\r\n"
		 "o=junction %s %llu IN IP4 192.0.2.10\r\n"
		 "s=-\r\n"
		 "c=IN IP4 192.0.2.10\r\n"
		 "t=0 0\r\n"
		 "m=audio 4000 RTP/AVP 0 101\r\n"
		 "a=rtpmap:0 PCMU/8000\r\n"
		 "a=rtpmap:101 telephone-event/8000\r\n"
		 "a=fmtp:101 0-15\r\n"
		 "a=ptime:20\r\n", a->origin.sess_id,
		 (unsigned long long)a->origin.version);
	assert_int_equal(sip_sdp_encode(a, &enc), 0);
	assert_string_equal(enc, want);
	assert_true(strlen(a->origin.sess_id) > 10);
	gw_mem_deref(enc);
	gw_mem_deref(a);
	gw_mem_deref(sess);
}

static void test_offer(void **state)
{
	static const struct sip_sdp_codec two[] = {
		{ "opus", 48000, 2, SIP_SDP_PT_DYNAMIC, NULL },
		{ "iLBC", 8000, 1, SIP_SDP_PT_DYNAMIC, "mode=30" },
	};
	struct sip_sdp_caps caps;
	struct sip_sdp *o, *b;
	char *enc;

	(void)state;
	caps_test(&caps);
	assert_int_equal(sip_sdp_offer(&o, &caps), 0);
	assert_int_equal(sip_sdp_encode(o, &enc), 0);
	assert_non_null(strstr(enc,
		"\r\nm=audio 4000 RTP/AVP 8 0 9 18 3 96 97 101\r\n"
		"a=rtpmap:8 PCMA/8000\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=rtpmap:9 G722/8000\r\n"
		"a=rtpmap:18 G729/8000\r\n"
		"a=rtpmap:3 GSM/8000\r\n"
		"a=rtpmap:96 opus/48000/2\r\n"
		"a=rtpmap:97 G726-32/8000\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n"
		"a=fmtp:18 annexb=no\r\n"
		"a=fmtp:101 0-15\r\n"
		"a=ptime:20\r\n"));
	b = parse_str(enc);
	assert_true(sip_sdp_same(o, b));
	gw_mem_deref(b);
	gw_mem_deref(enc);
	gw_mem_deref(o);

	/* Dynamic numbers step around telephone-event's. */
	caps.codecs = two;
	caps.n_codecs = GW_ARRAY_SIZE(two);
	caps.tel_event_pt = 96;
	caps.ptime = 0;
	assert_int_equal(sip_sdp_offer(&o, &caps), 0);
	assert_int_equal(sip_sdp_encode(o, &enc), 0);
	assert_non_null(strstr(enc, "m=audio 4000 RTP/AVP 97 98 96\r\n"));
	assert_non_null(strstr(enc, "a=fmtp:98 mode=30\r\n"));
	assert_null(strstr(enc, "ptime"));
	gw_mem_deref(enc);
	gw_mem_deref(o);

	/* Unusable caps. */
	caps.addr4 = NULL;
	assert_int_equal(sip_sdp_offer(&o, &caps), EINVAL);
	caps.addr4 = "192.0.2.10";
	caps.audio_port = 0;
	assert_int_equal(sip_sdp_offer(&o, &caps), EINVAL);
}

static void test_process_answer(void **state)
{
	static const struct {
		const char *media;	/* the answer's m= lines */
		int err;
	} cases[] = {
		{ "m=audio 6000 RTP/AVP 8\r\n", 0 },
		{ "m=audio 0 RTP/AVP 8\r\n", 0 },		/* refused */
		{ "m=audio 6000 RTP/AVP 4 8\r\n", 0 },	/* extra: s.6.1 */
		{ "m=audio 6000 RTP/AVP 4\r\n", EPROTO },	/* no offered */
		{ "m=audio 6000 RTP/AVP 8\r\nm=audio 6002 RTP/AVP 8\r\n",
		  EPROTO },				/* m= count */
		{ "", EPROTO },
		{ "m=video 6000 RTP/AVP 8\r\n", EPROTO },	/* type */
		{ "m=audio 6000 RTP/SAVP 8\r\n", EPROTO },	/* proto */
		{ "m=audio 6000 RTP/AVP 96\r\na=rtpmap:96 opus/48000\r\n",
		  EPROTO },				/* mono opus */
	};
	struct sip_sdp_caps caps;
	struct sip_sdp_neg neg;
	struct sip_sdp *o, *a, *h;
	size_t i;

	(void)state;
	caps_test(&caps);
	assert_int_equal(sip_sdp_offer(&o, &caps), 0);
	for (i = 0; i < GW_ARRAY_SIZE(cases); i++) {
		char text[512];

		snprintf(text, sizeof(text), "%s%s", HDR4("192.0.2.40"),
			 cases[i].media);
		a = parse_str(text);
		neg.audio.active = true;
		if (sip_sdp_process_answer(o, a, &neg) != cases[i].err)
			fail_msg("case %zu: not %d", i, cases[i].err);
		if (!cases[i].err && a->media[0].port) {
			assert_true(neg.audio.active);
			assert_string_equal(neg.codec, "PCMA");
			assert_int_equal(neg.pt_tx, 8);
			assert_int_equal(neg.audio.port, 6000);
			assert_int_equal(neg.audio.dir, SIP_SDP_SENDRECV);
			assert_int_equal(neg.te_pt_tx, -1);
		} else if (!cases[i].err) {
			assert_false(neg.audio.active);
		}
		gw_mem_deref(a);
	}

	/* The answer's first offered codec is what we send (s.7). */
	a = parse_str(HDR4("192.0.2.40")
		      "m=audio 6000 RTP/AVP 97 0 101\r\n"
		      "a=rtpmap:97 G726-32/8000\r\n"
		      "a=rtpmap:101 telephone-event/8000\r\n"
		      "a=sendonly\r\n");
	assert_int_equal(sip_sdp_process_answer(o, a, &neg), 0);
	assert_string_equal(neg.codec, "G726-32");
	assert_int_equal(neg.pt_tx, 97);
	assert_int_equal(neg.te_pt_tx, 101);
	assert_int_equal(neg.te_pt_rx, 101);
	assert_int_equal(neg.audio.dir, SIP_SDP_RECVONLY);
	assert_true(neg.audio.remote_hold);
	gw_mem_deref(a);

	/* Answered black-holed (RFC 4317 s.5.3). */
	a = parse_str(HDR4("0.0.0.0") "m=audio 6000 RTP/AVP 8\r\n");
	assert_int_equal(sip_sdp_process_answer(o, a, &neg), 0);
	assert_true(neg.audio.remote_hold);
	assert_int_equal(neg.audio.dir, SIP_SDP_RECVONLY);
	gw_mem_deref(a);

	/* Our hold offer (sendonly) answered sendonly, against s.6.1:
	 * narrowed to what both allow, nothing. */
	assert_int_equal(sip_sdp_hold(&h, o, SIP_SDP_SENDONLY), 0);
	a = parse_str(HDR4("192.0.2.40") "m=audio 6000 RTP/AVP 8\r\n"
		      "a=sendonly\r\n");
	assert_int_equal(sip_sdp_process_answer(h, a, &neg), 0);
	assert_int_equal(neg.audio.dir, SIP_SDP_INACTIVE);
	gw_mem_deref(a);
	/* Answered sendrecv, as RFC 4317 s.3.2 does: we only send. */
	a = parse_str(HDR4("192.0.2.40") "m=audio 6000 RTP/AVP 8\r\n");
	assert_int_equal(sip_sdp_process_answer(h, a, &neg), 0);
	assert_int_equal(neg.audio.dir, SIP_SDP_SENDONLY);
	gw_mem_deref(a);
	a = parse_str(HDR4("192.0.2.40") "m=audio 6000 RTP/AVP 8\r\n"
		      "a=recvonly\r\n");
	assert_int_equal(sip_sdp_process_answer(h, a, &neg), 0);
	assert_int_equal(neg.audio.dir, SIP_SDP_SENDONLY);
	assert_false(neg.audio.remote_hold);
	gw_mem_deref(a);
	gw_mem_deref(h);
	gw_mem_deref(o);

	/* A stream the offer refused cannot come back in the answer. */
	o = parse_str(HDR4("192.0.2.10") "m=audio 4000 RTP/AVP 8\r\n"
		      "m=video 0 RTP/AVP 31\r\n");
	a = parse_str(HDR4("192.0.2.40") "m=audio 6000 RTP/AVP 8\r\n"
		      "m=video 6002 RTP/AVP 31\r\n");
	assert_int_equal(sip_sdp_process_answer(o, a, &neg), EPROTO);
	gw_mem_deref(a);
	gw_mem_deref(o);
}

static void test_hold_resume_versions(void **state)
{
	struct sip_sdp_session *sess;
	struct sip_sdp_caps caps;
	struct sip_sdp *o, *h, *i, *r, *same;
	uint64_t v;
	char *enc;

	(void)state;
	caps_test(&caps);
	assert_int_equal(sip_sdp_session_alloc(&sess), 0);
	assert_int_equal(sip_sdp_offer(&o, &caps), 0);
	assert_int_equal(sip_sdp_session_stamp(sess, o), 0);
	v = o->origin.version;

	/* The same SDP again: the same version. */
	assert_int_equal(sip_sdp_dup(&same, o), 0);
	assert_int_equal(sip_sdp_session_stamp(sess, same), 0);
	assert_true(same->origin.version == v);
	assert_int_equal(sip_sdp_session_stamp(sess, same), 0);
	assert_true(same->origin.version == v);

	/* Hold: a=sendonly, a new version. */
	assert_int_equal(sip_sdp_hold(&h, o, SIP_SDP_SENDONLY), 0);
	assert_int_equal(sip_sdp_session_stamp(sess, h), 0);
	assert_true(h->origin.version == v + 1);
	assert_int_equal(sip_sdp_encode(h, &enc), 0);
	assert_non_null(strstr(enc, "\r\na=sendonly\r\n"));
	gw_mem_deref(enc);

	/* Inactive, then resume. */
	assert_int_equal(sip_sdp_hold(&i, h, SIP_SDP_INACTIVE), 0);
	assert_int_equal(sip_sdp_session_stamp(sess, i), 0);
	assert_true(i->origin.version == v + 2);
	assert_int_equal(sip_sdp_encode(i, &enc), 0);
	assert_non_null(strstr(enc, "\r\na=inactive\r\n"));
	gw_mem_deref(enc);
	assert_int_equal(sip_sdp_hold(&r, i, SIP_SDP_SENDRECV), 0);
	assert_int_equal(sip_sdp_session_stamp(sess, r), 0);
	assert_true(r->origin.version == v + 3);
	assert_int_equal(r->media[0].dir, SIP_SDP_SENDRECV);
	/* The first offer's content again, but it changed from the last
	 * one sent: a new version (s.8 compares with the previous SDP). */
	assert_true(sip_sdp_same(o, r));
	assert_true(r->origin.version != o->origin.version);

	assert_int_equal(sip_sdp_hold(&h, o, (enum sip_sdp_dir)7), EINVAL);
	gw_mem_deref(o);
	gw_mem_deref(same);
	gw_mem_deref(h);
	gw_mem_deref(i);
	gw_mem_deref(r);
	gw_mem_deref(sess);
}

/* ------------------------------------------------------------------ */
/* Bad input and short memory                                         */
/* ------------------------------------------------------------------ */

static void test_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"hello",
		"v=0\r\n",
		"v=1\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n",
		/* o= version, address type, network type */
		"v=0\r\no=a 1 x IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n",
		"v=0\r\no=a 1 1 IN IPX 192.0.2.1\r\ns=-\r\nt=0 0\r\n",
		"v=0\r\no=a 1 1 ATM IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n",
		"v=0\r\no=a 1 99999999999999999999 IN IP4 192.0.2.1\r\n"
		"s=-\r\nt=0 0\r\n",
		/* no t= */
		"v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
		"c=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/AVP 0\r\n",
		/* m= port, PT, count */
		HDR4("192.0.2.1") "m=audio abc RTP/AVP 0\r\n",
		HDR4("192.0.2.1") "m=audio 70000 RTP/AVP 0\r\n",
		HDR4("192.0.2.1") "m=audio -1 RTP/AVP 0\r\n",
		HDR4("192.0.2.1") "m=audio 5000/0 RTP/AVP 0\r\n",
		HDR4("192.0.2.1") "m=audio 5000 RTP/AVP 128\r\n",
		HDR4("192.0.2.1") "m=audio 5000 RTP/AVP PCMA\r\n",
		HDR4("192.0.2.1") "m=audio 5000 RTP/AVP\r\n",
		HDR4("192.0.2.1") "m=audio",
		/* rtpmap syntax */
		HDR4("192.0.2.1") "m=audio 5000 RTP/AVP 96\r\n"
		"a=rtpmap:96 opus\r\n",
		HDR4("192.0.2.1") "m=audio 5000 RTP/AVP 96\r\n"
		"a=rtpmap:96 opus/x\r\n",
		HDR4("192.0.2.1") "m=audio 5000 RTP/AVP 96\r\n"
		"a=rtpmap:x opus/48000\r\n",
		HDR4("192.0.2.1") "m=audio 5000 RTP/AVP 96\r\n"
		"a=rtpmap:96 opus/48000/0\r\n",
		/* no c= for an active stream */
		"v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"
		"m=audio 5000 RTP/AVP 0\r\n",
		/* c= address type */
		"v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
		"c=IN IP5 192.0.2.1\r\nt=0 0\r\n",
		/* mixed line ends: a proto running into the next line */
		"v=0\no=a 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\n"
		"t=0 0\nm=audio 5000 RTP/AVP\nm=audio 5000 RTP/AVP 0\r\n",
		/* libosip2 reads past the end of this unless padded */
		HDR4("192.0.2.1") "m=audio 5000 RTP/AVP\r",
		/* a token too long for us */
		"v=0\r\no=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1 1 IN IP4 192.0.2.1\r\n"
		"s=-\r\n"
		"t=0 0\r\n",
	};
	struct sip_sdp *s = SENTINEL;
	char *text;
	size_t i, len;

	(void)state;
	for (i = 0; i < GW_ARRAY_SIZE(bad); i++) {
		if (sip_sdp_parse(&s, bad[i], strlen(bad[i])) != EBADMSG)
			fail_msg("case %zu parsed:\n%s", i, bad[i]);
		assert_ptr_equal(s, SENTINEL);
	}
	/* An embedded NUL; text that is not NUL-terminated. */
	assert_int_equal(sip_sdp_parse(&s, HDR4("192.0.2.1"),
				       sizeof(HDR4("192.0.2.1"))), EBADMSG);
	assert_int_equal(sip_sdp_parse(&s, "v=0", 2), EBADMSG);
	assert_int_equal(sip_sdp_parse(&s, NULL, 0), EBADMSG);
	assert_int_equal(sip_sdp_parse(NULL, "v=0", 3), EINVAL);
	assert_ptr_equal(s, SENTINEL);

	/* Mixed line ends: each value stays on its line. */
	s = parse_str("v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
		      "c=IN IP4 192.0.2.1\r\nt=0 0\r\n"
		      "m=audio 5000 RTP/AVP 0\r\na=fmtp:0 x\na=crypto:1 y\n"
		      "a=ptime:30\r\n");
	assert_string_equal(s->media[0].fmts[0].fmtp, "x");
	assert_int_equal(s->media[0].n_crypto, 1);
	assert_string_equal(s->media[0].crypto[0], "1 y");
	assert_int_equal(s->media[0].ptime, 30);
	s = gw_mem_deref(s);
	s = SENTINEL;

	/* Repaired rather than refused (RFC 4475 s.3.1.1.3, RFC 5118
	 * s.4.8): an rtpmap of a static type without its clock rate takes
	 * RFC 3551's; an empty s= is the "s= " of RFC 4566 s.5.3. */
	s = parse_str("v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=\r\n"
		      "c=IN IP4 192.0.2.1\r\nt=0 0\r\n"
		      "m=audio 5000 RTP/AVP 0 12\r\na=rtpmap:0 PCMU\r\n"
		      "m=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC \r\n");
	assert_string_equal(s->name, " ");
	assert_string_equal(s->media[0].fmts[0].name, "PCMU");
	assert_int_equal(s->media[0].fmts[0].rate, 8000);
	assert_string_equal(s->media[1].fmts[0].name, "LPC");
	assert_int_equal(s->media[1].fmts[0].rate, 90000);
	assert_int_equal(sip_sdp_encode(s, &text), 0);
	assert_non_null(strstr(text, "\r\ns= \r\n"));
	assert_non_null(strstr(text, "a=rtpmap:0 PCMU/8000\r\n"));
	gw_mem_deref(text);
	s = gw_mem_deref(s);
	s = parse_str("v=0\no=a 1 1 IN IP4 192.0.2.1\ns=\nt=0 0\n");
	assert_string_equal(s->name, " ");
	s = gw_mem_deref(s);
	s = parse_str("v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=Call\r\n"
		      "t=0 0\r\n");
	assert_string_equal(s->name, "Call");
	s = gw_mem_deref(s);
	s = SENTINEL;

	/* Every truncation of a real offer: parsed or EBADMSG, no leak. */
	text = read_corpus("2.1-offer.sdp", &len);
	for (i = 0; i < len; i++) {
		int err = sip_sdp_parse(&s, text, i);

		if (err == 0) {
			char *enc;

			assert_int_equal(sip_sdp_encode(s, &enc), 0);
			gw_mem_deref(enc);
			s = gw_mem_deref(s);
			s = SENTINEL;
		} else if (err != EBADMSG) {
			fail_msg("prefix %zu: error %d", i, err);
		}
	}
	assert_int_equal(sip_sdp_parse(&s, text, len), 0);
	gw_mem_deref(s);
	free(text);
}

/* Random byte damage to every corpus offer: never a crash or a leak. */
static void test_mutations(void **state)
{
	static const char set[] = " \r\n=:/0123456789aAmcot-.";
	struct scen sc[MAX_SCEN];
	unsigned seed = 4317;
	size_t n, i, k;

	(void)state;
	/* Most mutants are refused with a log line each: keep them out. */
	assert_int_equal(gw_log_set_level("sdp", GW_LOG_WARN), 0);
	n = load_scenarios(sc, MAX_SCEN);
	for (i = 0; i < n; i++) {
		char name[64], *orig, *buf;
		size_t len;

		snprintf(name, sizeof(name), "%.7s-offer.sdp", sc[i].sec);
		orig = read_corpus(name, &len);
		buf = malloc(len + 1);
		assert_non_null(buf);
		for (k = 0; k < 300; k++) {
			struct sip_sdp_caps caps;
			struct sip_sdp_neg neg;
			struct sip_sdp *s = NULL, *a = NULL;
			unsigned j, nmut;
			int err;

			memcpy(buf, orig, len + 1);
			nmut = 1 + (unsigned)(rand_r(&seed) % 4);
			for (j = 0; j < nmut; j++)
				buf[rand_r(&seed) % len] =
					set[rand_r(&seed) % (sizeof(set) - 1)];
			err = sip_sdp_parse(&s, buf, len);
			assert_true(err == 0 || err == EBADMSG);
			if (err)
				continue;
			caps_test(&caps);
			err = sip_sdp_answer(&a, s, &caps, &neg);
			assert_true(err == 0 || err == EPROTO);
			if (!err) {
				check_legal("mutant", s, a);
				assert_int_equal(
					sip_sdp_process_answer(s, a, &neg), 0);
			}
			gw_mem_deref(a);
			gw_mem_deref(s);
		}
		free(buf);
		free(orig);
	}
	assert_int_equal(gw_log_set_level("sdp", GW_LOG_INFO), 0);
}

/* The whole path once; each step may fail only with ENOMEM. */
static int pipeline(void)
{
	static const char offer[] =
		HDR4("192.0.2.20")
		"m=audio 5000 RTP/SAVP 8\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abcd\r\n"
		"m=audio 5002 RTP/AVP 96 8 101\r\n"
		"a=rtpmap:96 opus/48000/2\r\n"
		"a=fmtp:96 useinbandfec=1\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n"
		"a=fmtp:101 0-15\r\n"
		"a=sendonly\r\n"
		"m=image 7000 udptl t38\r\n"
		"a=T38FaxVersion:0\r\n";
	struct sip_sdp *o = NULL, *a = NULL, *off = NULL, *h = NULL;
	struct sip_sdp *back = NULL;
	struct sip_sdp_session *sess = NULL;
	struct sip_sdp_caps caps;
	struct sip_sdp_neg neg;
	char *enc = NULL;
	int err;

	caps_test(&caps);
	caps.t38 = true;
	caps.image_port = 4002;
	err = sip_sdp_parse(&o, offer, strlen(offer));
	if (!err)
		err = sip_sdp_answer(&a, o, &caps, &neg);
	if (!err)
		err = sip_sdp_session_alloc(&sess);
	if (!err)
		err = sip_sdp_session_stamp(sess, a);
	if (!err)
		err = sip_sdp_encode(a, &enc);
	if (!err)
		err = sip_sdp_parse(&back, enc, strlen(enc));
	if (!err)
		err = sip_sdp_process_answer(o, back, &neg);
	if (!err)
		err = sip_sdp_hold(&h, a, SIP_SDP_INACTIVE);
	if (!err)
		err = sip_sdp_offer(&off, &caps);
	if (!err && (!neg.audio.active || !neg.image.active ||
		     !sip_sdp_same(a, back)))
		err = EFAULT;
	gw_mem_deref(o);
	gw_mem_deref(a);
	gw_mem_deref(off);
	gw_mem_deref(h);
	gw_mem_deref(back);
	gw_mem_deref(sess);
	gw_mem_deref(enc);
	return err;
}

static void test_enomem_walk(void **state)
{
	size_t base = gw_mem_live();
	long n;
	int err = ENOMEM;

	(void)state;
	for (n = 0; n < 10000 && err == ENOMEM; n++) {
		gw_mem_fail_after(n);
		err = pipeline();
		gw_mem_fail_after(-1);
		assert_true(err == 0 || err == ENOMEM);
		assert_int_equal(gw_mem_live(), base);
	}
	assert_int_equal(err, 0);
	assert_true(n > 10);		/* it did fail along the way */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_corpus_roundtrip),
		UNIT_TEST(test_corpus_fields),
		UNIT_TEST(test_corpus_rfc_answers_legal),
		UNIT_TEST(test_corpus_pt_remap),
		UNIT_TEST(test_corpus_answer_as_bob),
		UNIT_TEST(test_corpus_answer_as_alice),
		UNIT_TEST(test_corpus_version_rules),
		UNIT_TEST(test_hold_zero_addr),
		UNIT_TEST(test_hold_direction),
		UNIT_TEST(test_ipv6),
		UNIT_TEST(test_t38),
		UNIT_TEST(test_no_common_codec),
		UNIT_TEST(test_several_streams),
		UNIT_TEST(test_savp_crypto),
		UNIT_TEST(test_dynamic_pt_and_ptime),
		UNIT_TEST(test_golden_answer),
		UNIT_TEST(test_offer),
		UNIT_TEST(test_process_answer),
		UNIT_TEST(test_hold_resume_versions),
		UNIT_TEST(test_garbage),
		UNIT_TEST(test_mutations),
		UNIT_TEST(test_enomem_walk),
	};

	return cmocka_run_group_tests_name("sip_sdp", tests, NULL, NULL);
}
