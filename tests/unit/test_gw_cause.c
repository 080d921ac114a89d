/* tests/unit/test_gw_cause.c - causes: RFC 3398 tables, overrides, Reason */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "cause.h"

static char err[4096];

static const char *srcpath(const char *rel, char *buf, size_t len)
{
	const char *src = getenv("JUNCTION_SRCDIR");

	snprintf(buf, len, "%s/%s", src ? src : ".", rel);
	return buf;
}

static struct gw_causes *load_shipped(void)
{
	struct gw_causes *c = NULL;
	char path[4096];

	srcpath("etc/causes.csv", path, sizeof(path));
	if (gw_causes_load(&c, path, err, sizeof(err)))
		fail_msg("%s", err);
	return c;
}

static struct gw_causes *load_text(const char *text)
{
	struct gw_causes *c = NULL;

	if (gw_causes_load_str(&c, "t.csv", text, err, sizeof(err)))
		return NULL;
	return c;
}

/* ---- The corpus: RFC 4180 CSV with a header row ------------------------- */

#define MAX_COLS 10

struct corpus_row {
	char *f[MAX_COLS];
	size_t n;
};

struct corpus {
	char *cols[MAX_COLS];
	size_t ncols;
	struct corpus_row *rows;
	size_t nrows;
};

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* One record from *pp (fields unquoted in place); false at the end. */
static bool csv_record(char **pp, struct corpus_row *r)
{
	char *p = *pp, *o;

	if (!*p)
		return false;
	r->n = 0;
	for (;;) {
		assert_true(r->n < MAX_COLS);
		r->f[r->n++] = o = p;
		if (*p == '"') {
			for (p++;;) {
				assert_true(*p != '\0');
				if (*p == '"' && p[1] == '"') {
					*o++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					*o++ = *p++;
				}
			}
		} else {
			while (*p && *p != ',' && *p != '\n' && *p != '\r')
				*o++ = *p++;
		}
		if (*p == ',') {
			*o = '\0';
			p++;
			continue;
		}
		if (*p == '\r')
			*p++ = '\0';
		if (*p == '\n')
			*p++ = '\0';
		*o = '\0';
		break;
	}
	*pp = p;
	return true;
}

static char *corpus_load(struct corpus *c, const char *rel)
{
	char path[4096], *text, *p;
	struct corpus_row hdr;
	size_t i, cap = 0;

	memset(c, 0, sizeof(*c));
	text = read_all(srcpath(rel, path, sizeof(path)));
	p = text;
	assert_true(csv_record(&p, &hdr));
	for (i = 0; i < hdr.n; i++)
		c->cols[i] = hdr.f[i];
	c->ncols = hdr.n;
	for (;;) {
		struct corpus_row r;

		if (!csv_record(&p, &r))
			break;
		if (r.n == 1 && !r.f[0][0])
			continue;
		assert_int_equal(r.n, c->ncols);
		if (c->nrows == cap) {
			cap = cap ? cap * 2 : 64;
			c->rows = realloc(c->rows, cap * sizeof(*c->rows));
			assert_non_null(c->rows);
		}
		c->rows[c->nrows++] = r;
	}
	return text;
}

static const char *col(const struct corpus *c, const struct corpus_row *r,
		       const char *name)
{
	size_t i;

	for (i = 0; i < c->ncols; i++)
		if (!strcmp(c->cols[i], name))
			return r->f[i];
	fail_msg("no column %s", name);
	return NULL;
}

static void corpus_free(struct corpus *c, char *text)
{
	free(c->rows);
	free(text);
}

static bool is_rfc3398(const struct corpus *c, const struct corpus_row *r)
{
	return !strcmp(col(c, r, "source"), "RFC3398");
}

/* Is value listed in a RFC 3398 row's key column? */
static bool listed(const struct corpus *c, const char *key, unsigned value)
{
	size_t i;

	for (i = 0; i < c->nrows; i++) {
		const char *k = col(c, &c->rows[i], key);

		if (is_rfc3398(c, &c->rows[i]) && strcmp(k, "*") &&
		    (unsigned)atoi(k) == value)
			return true;
	}
	return false;
}

/* ---- The shipped table honours RFC 3398 --------------------------------- */

static void test_shipped_loads(void **state)
{
	struct gw_causes *c;

	(void)state;
	c = load_shipped();
	assert_non_null(c);
	assert_int_equal(gw_mem_nrefs(c), 1);
	gw_mem_deref(c);
}

/*
 * Every RFC 3398 row of q850-to-sip.csv: the cause maps to the row's status
 * and reason phrase.  Where the RFC gives a condition or a choice, the
 * shipped table's documented choice (etc/causes.csv) is what is checked.
 */
static void test_rfc3398_q850_to_sip(void **state)
{
	struct gw_causes *c = load_shipped();
	struct corpus cp;
	char *text = corpus_load(&cp, "tests/data/cause-mapping/"
				 "q850-to-sip.csv");
	size_t i, checked = 0;

	(void)state;
	for (i = 0; i < cp.nrows; i++) {
		const struct corpus_row *r = &cp.rows[i];
		const char *key = col(&cp, r, "q850_cause");
		const char *cond = col(&cp, r, "condition");
		const char *want = col(&cp, r, "sip_status");
		const char *phrase = col(&cp, r, "sip_reason");
		const char *reason = NULL;
		unsigned q850, status = 0;
		int rc;

		if (!is_rfc3398(&cp, r))
			continue;
		checked++;
		if (!strcmp(key, "*")) {
			/* the default: a cause in no row (also below) */
			rc = gw_cause_to_sip(c, 99, GW_CAUSE_LOC_NONE,
					     &status, &reason);
			assert_int_equal(rc, 0);
			assert_int_equal(status, (unsigned)atoi(want));
			assert_string_equal(reason, phrase);
			continue;
		}
		q850 = (unsigned)atoi(key);
		assert_non_null(gw_cause_name(q850));
		rc = gw_cause_to_sip(c, q850, GW_CAUSE_LOC_NONE, &status,
				     &reason);
		if (!*want) {
			/* 16, 44: no response; the default for whoever
			 * must answer anyway */
			assert_int_equal(rc, ENOENT);
			assert_int_equal(status, 500);
			assert_string_equal(reason, "Server Internal Error");
			continue;
		}
		assert_int_equal(rc, 0);
		if (!strcmp(cond, "with diagnostic")) {
			/* Our choice: libpri hands us no diagnostic, so
			 * the 301 of this row is never taken. */
			assert_int_equal(atoi(want), 301);
			assert_int_equal(status, 410);
			assert_string_equal(reason, "Gone");
			continue;
		}
		assert_int_equal(status, (unsigned)atoi(want));
		assert_string_equal(reason, phrase);
		if (q850 == 21) {
			/* (+): our choice, 603 when the user rejected */
			assert_non_null(strstr(col(&cp, r, "note"), "6xx"));
			rc = gw_cause_to_sip(c, 21, GW_CAUSE_LOC_U, &status,
					     &reason);
			assert_int_equal(rc, 0);
			assert_int_equal(status, 603);
			assert_string_equal(reason, "Decline");
			rc = gw_cause_to_sip(c, 21, GW_CAUSE_LOC_RLN,
					     &status, &reason);
			assert_int_equal(status, 403);
		}
	}
	assert_int_equal(checked, 35);
	corpus_free(&cp, text);
	gw_mem_deref(c);
}

/* Every RFC 3398 row of sip-to-q850.csv. */
static void test_rfc3398_sip_to_q850(void **state)
{
	struct gw_causes *c = load_shipped();
	struct corpus cp;
	char *text = corpus_load(&cp, "tests/data/cause-mapping/"
				 "sip-to-q850.csv");
	size_t i, checked = 0;

	(void)state;
	for (i = 0; i < cp.nrows; i++) {
		const struct corpus_row *r = &cp.rows[i];
		const char *key = col(&cp, r, "sip_status");
		const char *want = col(&cp, r, "q850_cause");
		const char *note = col(&cp, r, "note");
		unsigned status, q850 = 0;
		int rc;

		if (!is_rfc3398(&cp, r))
			continue;
		checked++;
		if (!strcmp(key, "*")) {
			rc = gw_cause_from_sip(c, 499, 0, &q850);
			assert_int_equal(rc, 0);
			assert_int_equal(q850, (unsigned)atoi(want));
			continue;
		}
		status = (unsigned)atoi(key);
		rc = gw_cause_from_sip(c, status, 0, &q850);
		if (!*want && strstr(note, "Warning")) {
			/* 488, 606: 31 by default, 65 when the warning
			 * speaks to the bearer capability (304, 305) */
			assert_int_equal(rc, 0);
			assert_int_equal(q850, 31);
			assert_int_equal(gw_cause_from_sip(c, status, 305,
							   &q850), 0);
			assert_int_equal(q850, 65);
			assert_int_equal(gw_cause_from_sip(c, status, 304,
							   &q850), 0);
			assert_int_equal(q850, 65);
			assert_int_equal(gw_cause_from_sip(c, status, 399,
							   &q850), 0);
			assert_int_equal(q850, 31);
			continue;
		}
		if (!*want) {
			/* 487: no mapping; the default if one is needed */
			assert_int_equal(status, 487);
			assert_int_equal(rc, ENOENT);
			assert_int_equal(q850, 31);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(q850, (unsigned)atoi(want));
		/* a warning that has no row changes nothing */
		assert_int_equal(gw_cause_from_sip(c, status, 305, &q850), 0);
		assert_int_equal(q850, (unsigned)atoi(want));
	}
	assert_int_equal(checked, 38);
	corpus_free(&cp, text);
	gw_mem_deref(c);
}

/* A cause in no RFC 3398 row gets 500, whatever it is (7.2.4.1). */
static void test_q850_defaults(void **state)
{
	struct gw_causes *c = load_shipped();
	struct corpus cp;
	char *text = corpus_load(&cp, "tests/data/cause-mapping/"
				 "q850-to-sip.csv");
	const unsigned odd[] = {0, 128, 255, 1000, UINT_MAX};
	const char *reason;
	unsigned q850, status, n = 0;
	size_t i;

	(void)state;
	for (q850 = 1; q850 <= 127; q850++) {
		if (listed(&cp, "q850_cause", q850))
			continue;
		n++;
		status = 0;
		reason = NULL;
		assert_int_equal(gw_cause_to_sip(c, q850, GW_CAUSE_LOC_NONE,
						 &status, &reason), 0);
		assert_int_equal(status, 500);
		assert_string_equal(reason, "Server Internal Error");
		/* a location changes nothing where no row asks for one */
		assert_int_equal(gw_cause_to_sip(c, q850, GW_CAUSE_LOC_U,
						 &status, NULL), 0);
		assert_int_equal(status, 500);
	}
	assert_int_equal(n, 127 - 33);
	for (i = 0; i < GW_ARRAY_SIZE(odd); i++) {
		assert_int_equal(gw_cause_to_sip(c, odd[i], 99, &status,
						 &reason), 0);
		assert_int_equal(status, 500);
	}
	corpus_free(&cp, text);
	gw_mem_deref(c);
}

/* A status in no RFC 3398 row gets 31 (8.2.6.1), not a class default. */
static void test_sip_defaults(void **state)
{
	struct gw_causes *c = load_shipped();
	struct corpus cp;
	char *text = corpus_load(&cp, "tests/data/cause-mapping/"
				 "sip-to-q850.csv");
	const unsigned odd[] = {0, 100, 180, 200, 302, 700, 999, UINT_MAX};
	unsigned status, q850, n = 0;
	size_t i;

	(void)state;
	for (status = 400; status <= 699; status++) {
		if (listed(&cp, "sip_status", status))
			continue;
		n++;
		q850 = 0;
		assert_int_equal(gw_cause_from_sip(c, status, 0, &q850), 0);
		assert_int_equal(q850, 31);
	}
	assert_int_equal(n, 300 - 37);
	for (i = 0; i < GW_ARRAY_SIZE(odd); i++) {
		assert_int_equal(gw_cause_from_sip(c, odd[i], 305, &q850), 0);
		assert_int_equal(q850, 31);
	}
	corpus_free(&cp, text);
	gw_mem_deref(c);
}

static void test_bad_arguments(void **state)
{
	struct gw_causes *c = load_shipped();
	unsigned v = 7;

	(void)state;
	assert_int_equal(gw_cause_to_sip(NULL, 17, -1, &v, NULL), EINVAL);
	assert_int_equal(gw_cause_to_sip(c, 17, -1, NULL, NULL), EINVAL);
	assert_int_equal(gw_cause_from_sip(NULL, 486, 0, &v), EINVAL);
	assert_int_equal(gw_cause_from_sip(c, 486, 0, NULL), EINVAL);
	assert_int_equal(v, 7);
	assert_int_equal(gw_causes_load(NULL, "x", err, sizeof(err)), EINVAL);
	assert_int_equal(gw_causes_load_str(NULL, "x", "", NULL, 0), EINVAL);
	assert_int_equal(gw_causes_override(NULL, "", NULL, 0), EINVAL);
	assert_int_equal(gw_causes_override(c, NULL, NULL, 0), EINVAL);
	gw_mem_deref(c);
}

/* ---- Overrides ---------------------------------------------------------- */

static unsigned to_sip(const struct gw_causes *c, unsigned q850, int loc,
		       const char **reasonp)
{
	unsigned status = 0;

	gw_cause_to_sip(c, q850, loc, &status, reasonp);
	return status;
}

static unsigned from_sip(const struct gw_causes *c, unsigned status,
			 unsigned warning)
{
	unsigned q850 = 0;

	gw_cause_from_sip(c, status, warning, &q850);
	return q850;
}

static void test_overrides(void **state)
{
	struct gw_causes *c = load_shipped();
	const char *reason;

	(void)state;
	assert_int_equal(gw_causes_override(c, "q850:17=600, sip:503=34",
					    err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(to_sip(c, 17, -1, &reason), 600);
	assert_string_equal(reason, "Busy Everywhere");
	assert_int_equal(from_sip(c, 503, 0), 34);
	/* the rest is untouched */
	assert_int_equal(to_sip(c, 18, -1, NULL), 408);
	assert_int_equal(from_sip(c, 500, 0), 41);

	/* own phrase, with an escaped quote and a comma in it */
	assert_int_equal(gw_causes_override(c, " q850 : 17 = 480 "
					    "\"Not \\\"here\\\", sorry\" ",
					    err, sizeof(err)), 0);
	assert_int_equal(to_sip(c, 17, -1, &reason), 480);
	assert_string_equal(reason, "Not \"here\", sorry");

	/* conditions, class rows, defaults, none */
	assert_int_equal(gw_causes_override(c,
		"q850:21@rln=480,q850:21@U=600,sip:488@370=47,"
		"sip:5xx=41,sip:*=127,q850:*=503,q850:31=none,,",
		err, sizeof(err)), 0);
	assert_int_equal(to_sip(c, 21, GW_CAUSE_LOC_RLN, NULL), 480);
	assert_int_equal(to_sip(c, 21, GW_CAUSE_LOC_U, NULL), 600);
	assert_int_equal(to_sip(c, 21, GW_CAUSE_LOC_NONE, NULL), 403);
	assert_int_equal(from_sip(c, 488, 370), 47);
	assert_int_equal(from_sip(c, 488, 305), 65);
	assert_int_equal(from_sip(c, 599, 0), 41);	/* class */
	assert_int_equal(from_sip(c, 504, 0), 102);	/* its own row */
	assert_int_equal(from_sip(c, 499, 0), 127);	/* default */
	assert_int_equal(from_sip(c, 699, 0), 127);
	assert_int_equal(to_sip(c, 99, -1, &reason), 503);
	assert_string_equal(reason, "Service Unavailable");
	{
		unsigned st = 0;

		assert_int_equal(gw_cause_to_sip(c, 31, -1, &st, &reason),
				 ENOENT);
		assert_int_equal(st, 503);
	}
	/* a later override replaces an earlier one */
	assert_int_equal(gw_causes_override(c, "q850:21@U=603 \"Decline\"",
					    err, sizeof(err)), 0);
	assert_int_equal(to_sip(c, 21, GW_CAUSE_LOC_U, &reason), 603);
	assert_string_equal(reason, "Decline");
	/* an empty spec is fine */
	assert_int_equal(gw_causes_override(c, "  ", err, sizeof(err)), 0);
	gw_mem_deref(c);
}

/* Each bad token is named; nothing applies when one is bad. */
static void test_override_errors(void **state)
{
	static const struct {
		const char *spec;
		const char *says;
	} bad[] = {
		{"q850:200=486", "'q850:200=486': Q.850 cause '200'"},
		{"q850:0=486", "'q850:0=486'"},
		{"sip:503=abc", "'sip:503=abc': Q.850 cause 'abc'"},
		{"sip:503=128", "'sip:503=128'"},
		{"sip:399=31", "'sip:399=31': SIP status '399'"},
		{"sip:7xx=31", "SIP status '7xx'"},
		{"isup:17=486", "'isup:17=486': direction"},
		{"q850:17", "'q850:17': not DIR:VALUE=TO"},
		{"17=486", "'17=486'"},
		{"q850:17=99", "SIP status '99'"},
		{"q850:17=499", "no standard reason phrase for 499"},
		{"q850:17=486 Busy", "quoted reason"},
		{"q850:17=486 \"a\"b\"", "unescaped quote"},
		{"sip:486=17 \"x\"", "reason phrase belongs to q850"},
		{"q850:21@XYZ=603", "'XYZ' is not an RFC 8606 location"},
		{"sip:488@30=65", "'30' is not a 3-digit warn-code"},
		{"q850:*@U=603", "condition needs a single cause"},
		{"sip:5xx@305=65", "condition needs a single status"},
		{"q850:*=none", "default row cannot be 'none'"},
		{"q850:16=none \"x\"", "takes no reason phrase"},
	};
	struct gw_causes *c = load_shipped();
	char spec[256];
	size_t i;

	(void)state;
	for (i = 0; i < GW_ARRAY_SIZE(bad); i++) {
		/* a good token first: it must not apply either */
		snprintf(spec, sizeof(spec), "q850:17=600, %s", bad[i].spec);
		assert_int_equal(gw_causes_override(c, spec, err,
						    sizeof(err)), EINVAL);
		if (!strstr(err, bad[i].says))
			fail_msg("'%s' gave '%s'", bad[i].spec, err);
		assert_non_null(strstr(err, "causes override '"));
		assert_null(strstr(err, "q850:17=600"));
		assert_int_equal(to_sip(c, 17, -1, NULL), 486);
	}
	/* every bad token is reported */
	assert_int_equal(gw_causes_override(c, "q850:200=1, sip:1=2",
					    err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "'q850:200=1'"));
	assert_non_null(strstr(err, "\n"));
	assert_non_null(strstr(err, "'sip:1=2'"));
	/* err is optional */
	assert_int_equal(gw_causes_override(c, "bad", NULL, 0), EINVAL);
	gw_mem_deref(c);
}

/* ---- Bad files ---------------------------------------------------------- */

static const char good_tail[] = "q850,*,,500\nsip,*,,31\n";

static void expect_bad(const char *rows, const char *where, const char *says)
{
	char text[1024];

	snprintf(text, sizeof(text), "%s%s", rows, good_tail);
	assert_null(load_text(text));
	if (!strstr(err, where) || !strstr(err, says))
		fail_msg("rows '%s': want '%s' and '%s', got '%s'", rows,
			 where, says, err);
}

static void test_bad_rows(void **state)
{
	struct gw_causes *c;

	(void)state;
	expect_bad("# comment\n\nq850,17,,486\nq850,17,486\n", "t.csv:4: ",
		   "got 3 fields");
	expect_bad("q850,200,,486\n", "t.csv:1: ", "cause '200' is not");
	expect_bad("q850,abc,,486\n", "t.csv:1: ", "cause 'abc'");
	expect_bad("isup,17,,486\n", "t.csv:1: ", "direction 'isup'");
	expect_bad("q850,17,,4861\n", "t.csv:1: ", "SIP status '4861'");
	expect_bad("q850,17,,486,Busy Here,extra\n", "t.csv:1: ",
		   "more than 5 fields");
	expect_bad("sip,486,,17,User busy\n", "t.csv:1: ",
		   "reason phrase belongs to q850");
	expect_bad("sip,486,,200\n", "t.csv:1: ", "cause '200'");
	expect_bad("sip,300,,31\n", "t.csv:1: ", "status '300'");
	expect_bad("q850,21,loc=U,603\n", "t.csv:1: ",
		   "q850 rows take location=VALUE");
	expect_bad("q850,21,location=Mars,603\n", "t.csv:1: ",
		   "'Mars' is not an RFC 8606 location");
	expect_bad("sip,488,location=U,65\n", "t.csv:1: ",
		   "sip rows take warning=VALUE");
	expect_bad("sip,488,warning=3050,65\n", "t.csv:1: ",
		   "'3050' is not a 3-digit");
	expect_bad("sip,488,warning,65\n", "t.csv:1: ",
		   "is not warning=VALUE");
	expect_bad("q850,17,,486\n\n# x\nq850,17,,600\n", "t.csv:4: ",
		   "duplicate row: line 1");
	expect_bad("q850,21,location=U,603\nq850,21,location=u,600\n",
		   "t.csv:2: ", "duplicate row: line 1");
	expect_bad("q850,17,,486,\"Busy\n", "t.csv:1: ", "unterminated");
	expect_bad("q850,17,,486,\"Busy\" Here\n", "t.csv:1: ",
		   "text after a quoted field");
	expect_bad("q850,17,,486,Bu\"sy\n", "t.csv:1: ", "quote inside");
	expect_bad("q850,17,,486,Busy\x01Here\n", "t.csv:1: ",
		   "control character");
	expect_bad("q850,17,,486,0123456789012345678901234567890123456789"
		   "0123456789012345678901234\n", "t.csv:1: ",
		   "longer than 63");
	expect_bad("q850,17,,499\n", "t.csv:1: ", "no standard reason "
		   "phrase for 499");
	expect_bad("q850,16,,none,No\n", "t.csv:1: ", "no reason phrase");
	expect_bad("sip,5xx,warning=305,41\n", "t.csv:1: ",
		   "condition needs a single status");

	/* several bad rows: all reported, with their lines */
	assert_null(load_text("q850,1,,404\nq850,x,,1\nsip,1,,1\n"));
	assert_non_null(strstr(err, "t.csv:2: "));
	assert_non_null(strstr(err, "t.csv:3: "));

	/* defaults are required, a default cannot be none */
	assert_null(load_text("q850,17,,486\n"));
	assert_non_null(strstr(err, "t.csv: no 'q850,*' row"));
	assert_non_null(strstr(err, "t.csv: no 'sip,*' row"));
	assert_null(load_text("q850,*,,none\nsip,*,,31\n"));
	assert_non_null(strstr(err, "t.csv:1: the default row cannot"));

	/* a long line */
	{
		char text[2048];

		memset(text, 'x', 1500);
		text[1500] = '\0';
		assert_null(load_text(text));
		assert_non_null(strstr(err, "t.csv:1: line longer"));
	}

	/* and what is fine: CRLF, quotes, spaces, case, a missing LF */
	c = load_text("Q850 , 17 , , 486 , \"Busy, \"\"here\"\"\"\r\n"
		      "SIP,5XX,,41\r\n" "q850,*,,500\nsip,*,,31");
	if (!c)
		fail_msg("%s", err);
	assert_int_equal(to_sip(c, 17, -1, NULL), 486);
	{
		const char *reason = NULL;

		to_sip(c, 17, -1, &reason);
		assert_string_equal(reason, "Busy, \"here\"");
	}
	assert_int_equal(from_sip(c, 502, 0), 41);
	gw_mem_deref(c);
}

static void test_load_files(void **state)
{
	char path[] = "/tmp/test_gw_cause_XXXXXX";
	struct gw_causes *c = NULL;
	char want[128];
	FILE *f;
	int fd;

	(void)state;
	assert_int_equal(gw_causes_load(&c, "/nonexistent/causes.csv", err,
					sizeof(err)), ENOENT);
	assert_null(c);
	assert_non_null(strstr(err, "/nonexistent/causes.csv: cannot open"));

	assert_int_equal(gw_causes_load(&c, "/tmp", err, sizeof(err)),
			 EINVAL);
	assert_non_null(strstr(err, "not a regular file"));

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("# a bad table\nq850,17,,486\nq850,17,,600\n"
	      "q850,*,,500\nsip,*,,31\n", f);
	fclose(f);
	assert_int_equal(gw_causes_load(&c, path, err, sizeof(err)), EINVAL);
	assert_null(c);
	snprintf(want, sizeof(want), "%s:3: duplicate row", path);
	assert_non_null(strstr(err, want));

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("q850,*,,500\n", f);
	fputc('\0', f);
	fputs("sip,*,,31\n", f);
	fclose(f);
	assert_int_equal(gw_causes_load(&c, path, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "NUL byte"));

	/* err may be NULL or tiny */
	assert_int_equal(gw_causes_load(&c, path, NULL, 0), EINVAL);
	assert_int_equal(gw_causes_load(&c, path, err, 5), EINVAL);
	assert_true(strlen(err) <= 4);
	unlink(path);
}

/* ---- Memory ------------------------------------------------------------- */

/* Fail each allocation in turn: ENOMEM, nothing leaks, nothing changes. */
static void test_enomem(void **state)
{
	struct gw_causes *c;
	char path[4096];
	size_t live = gw_mem_live();
	long n;
	int rc;

	(void)state;
	srcpath("etc/causes.csv", path, sizeof(path));
	for (n = 0;; n++) {
		c = NULL;
		gw_mem_fail_after(n);
		rc = gw_causes_load(&c, path, err, sizeof(err));
		gw_mem_fail_after(-1);
		if (!rc)
			break;
		assert_int_equal(rc, ENOMEM);
		assert_null(c);
		assert_non_null(strstr(err, "out of memory"));
		assert_int_equal(gw_mem_live(), live);
		assert_true(n < 100);
	}
	assert_true(n >= 3);	/* the file's text, the table, its rows */
	gw_mem_deref(c);

	/* an override that needs room for conditions: all or nothing */
	c = load_text("q850,17,,486\nq850,21,,403\nq850,*,,500\n"
		      "sip,*,,31\n");
	assert_non_null(c);
	for (n = 0;; n++) {
		gw_mem_fail_after(n);
		rc = gw_causes_override(c, "q850:21@LN=480, q850:21@TN=480, "
					"q850:21@RLN=480, q850:21@BI=480, "
					"q850:17=600",
					err, sizeof(err));
		gw_mem_fail_after(-1);
		if (!rc)
			break;
		assert_int_equal(rc, ENOMEM);
		assert_int_equal(to_sip(c, 21, GW_CAUSE_LOC_LN, NULL), 403);
		assert_int_equal(to_sip(c, 17, -1, NULL), 486);
		assert_true(n < 100);
	}
	assert_true(n >= 1);
	assert_int_equal(to_sip(c, 21, GW_CAUSE_LOC_TN, NULL), 480);
	assert_int_equal(to_sip(c, 17, -1, NULL), 600);
	gw_mem_deref(c);
	assert_int_equal(gw_mem_live(), live);
}

/* ---- Names -------------------------------------------------------------- */

static void test_names(void **state)
{
	unsigned q, n = 0;
	int loc;

	(void)state;
	assert_string_equal(gw_cause_name(17), "User busy");
	assert_string_equal(gw_cause_name(16), "Normal call clearing");
	assert_string_equal(gw_cause_name(127), "Interworking, unspecified");
	assert_null(gw_cause_name(0));
	assert_null(gw_cause_name(10));
	assert_null(gw_cause_name(128));
	for (q = 0; q < 256; q++)
		if (gw_cause_name(q))
			n++;
	assert_int_equal(n, 71);
	assert_true(gw_cause_valid(1) && gw_cause_valid(127));
	assert_false(gw_cause_valid(0) || gw_cause_valid(128));

	assert_string_equal(gw_cause_loc_name(GW_CAUSE_LOC_U), "U");
	assert_string_equal(gw_cause_loc_name(GW_CAUSE_LOC_RLN), "RLN");
	assert_string_equal(gw_cause_loc_name(GW_CAUSE_LOC_BI), "BI");
	assert_string_equal(gw_cause_loc_name(6), "LOC-6");
	assert_null(gw_cause_loc_name(GW_CAUSE_LOC_NONE));
	assert_null(gw_cause_loc_name(16));
	for (loc = 0; loc <= GW_CAUSE_LOC_MAX; loc++) {
		const char *s = gw_cause_loc_name(loc);

		assert_int_equal(gw_cause_loc_parse(s, strlen(s)), loc);
	}
	assert_int_equal(gw_cause_loc_parse("intl", 4), GW_CAUSE_LOC_INTL);
	assert_int_equal(gw_cause_loc_parse("LNX", 2), GW_CAUSE_LOC_LN);
	assert_int_equal(gw_cause_loc_parse("LNX", 3), GW_CAUSE_LOC_NONE);
	assert_int_equal(gw_cause_loc_parse("", 0), GW_CAUSE_LOC_NONE);
	assert_int_equal(gw_cause_loc_parse(NULL, 1), GW_CAUSE_LOC_NONE);

	assert_string_equal(gw_cause_sip_phrase(486), "Busy Here");
	assert_string_equal(gw_cause_sip_phrase(504), "Server Time-out");
	assert_null(gw_cause_sip_phrase(499));
}

/* ---- Reason header ------------------------------------------------------ */

static void test_reason_format(void **state)
{
	char buf[128];

	(void)state;
	assert_int_equal(gw_cause_reason_format(17, GW_CAUSE_LOC_NONE, buf,
						sizeof(buf)), 0);
	assert_string_equal(buf, "Q.850;cause=17;text=\"User busy\"");
	assert_int_equal(gw_cause_reason_format(16, GW_CAUSE_LOC_LN, buf,
						sizeof(buf)), 0);
	assert_string_equal(buf, "Q.850;cause=16;text=\"Normal call "
			    "clearing\";location=LN");
	/* unassigned values go without a text */
	assert_int_equal(gw_cause_reason_format(10, GW_CAUSE_LOC_U, buf,
						sizeof(buf)), 0);
	assert_string_equal(buf, "Q.850;cause=10;location=U");

	assert_int_equal(gw_cause_reason_format(0, -1, buf, sizeof(buf)),
			 EINVAL);
	assert_int_equal(gw_cause_reason_format(128, -1, buf, sizeof(buf)),
			 EINVAL);
	assert_int_equal(gw_cause_reason_format(17, 16, buf, sizeof(buf)),
			 EINVAL);
	assert_int_equal(gw_cause_reason_format(17, -2, buf, sizeof(buf)),
			 EINVAL);
	assert_string_equal(buf, "");
	assert_int_equal(gw_cause_reason_format(17, -1, NULL, 10), EINVAL);
	assert_int_equal(gw_cause_reason_format(17, -1, buf, 0), EINVAL);

	/* exactly enough, one short */
	assert_int_equal(gw_cause_reason_format(17, -1, buf, 32), 0);
	assert_int_equal(strlen(buf), 31);
	assert_int_equal(gw_cause_reason_format(17, -1, buf, 31), ENOSPC);
	assert_string_equal(buf, "");
}

static void parse_ok(const char *value, unsigned want, int want_loc)
{
	unsigned q850 = 0;
	int loc = 99, rc;

	rc = gw_cause_reason_parse(value, &q850, &loc);
	if (rc || q850 != want || loc != want_loc)
		fail_msg("'%s': rc %d cause %u location %d, want %u/%d",
			 value, rc, q850, loc, want, want_loc);
}

static void parse_none(const char *value, int want_rc)
{
	unsigned q850 = 4242;
	int loc = 99, rc;

	rc = gw_cause_reason_parse(value, &q850, &loc);
	if (rc != want_rc || q850 != 4242 || loc != 99)
		fail_msg("'%s': rc %d (want %d) cause %u location %d",
			 value, rc, want_rc, q850, loc);
}

static void test_reason_parse(void **state)
{
	unsigned q850;

	(void)state;
	parse_ok("Q.850;cause=17;text=\"User busy\"", 17, -1);
	parse_ok("Q.850;cause=16;text=\"Normal call clearing\";location=LN",
		 16, GW_CAUSE_LOC_LN);
	/* several reasons: the SIP one is skipped */
	parse_ok("SIP;cause=487;text=\"Request Terminated\", "
		 "Q.850;cause=16;text=\"Terminated\"", 16, -1);
	parse_ok("SIP ;cause=200;text=\"Call completed elsewhere\","
		 "preemption;cause=1,Q.850;cause=31", 31, -1);
	/* the first Q.850 one wins */
	parse_ok("Q.850;cause=18, Q.850;cause=19", 18, -1);
	/* white space, case, folding, leading zeros, parameter order */
	parse_ok("  q.850 ; Location = rln ; CAUSE = 0034 ;x;y=z ", 34,
		 GW_CAUSE_LOC_RLN);
	parse_ok("Q.850;cause=41\r\n ;location=BI", 41, GW_CAUSE_LOC_BI);
	parse_ok("Q.850;cause=1;location=LOC-6", 1, 6);
	/* an unknown location leaves the cause usable */
	parse_ok("Q.850;cause=27;location=MARS", 27, -1);
	/* quoted text with escapes, commas and semicolons, before cause */
	parse_ok("Q.850;text=\"a \\\"q\\\", b; c\\\\\";cause=17", 17, -1);
	/* a Q.850 reason inside a quoted text is only text */
	parse_ok("SIP;cause=480;text=\"Q.850;cause=99, Q.850;cause=98\", "
		 "Q.850;cause=18", 18, -1);
	/* a malformed value is skipped up to the next comma */
	parse_ok("SIP;cause=;x, Q.850;cause=21", 21, -1);
	parse_ok("Q.850;cause=200, Q.850;cause=20", 20, -1);
	parse_ok("Q.850;cause=17;cause=18, Q.850;cause=3", 3, -1);
	parse_ok(",,Q.850;cause=2,", 2, -1);
	parse_ok("Q.850;cause=5;host=[2001:db8::1]", 5, -1);
	/* location is optional to ask for */
	q850 = 0;
	assert_int_equal(gw_cause_reason_parse("Q.850;cause=9", &q850, NULL),
			 0);
	assert_int_equal(q850, 9);

	/* no Q.850 reason */
	parse_none("", ENOENT);
	parse_none(" , ,", ENOENT);
	parse_none("SIP;cause=486;text=\"Busy Here\"", ENOENT);
	/* a Q.850 reason without a usable cause, and garbage */
	parse_none("Q.850", EBADMSG);
	parse_none("Q.850;text=\"no cause\"", EBADMSG);
	parse_none("Q.850;cause", EBADMSG);
	parse_none("Q.850;cause=", EBADMSG);
	parse_none("Q.850;cause=abc", EBADMSG);
	parse_none("Q.850;cause=17x", EBADMSG);
	parse_none("Q.850;cause=\"17\"", EBADMSG);
	parse_none("Q.850;cause=0", EBADMSG);
	parse_none("Q.850;cause=128", EBADMSG);
	parse_none("Q.850;cause=99999999999999999999", EBADMSG);
	parse_none("Q.850;cause=17;cause=17", EBADMSG);
	parse_none("Q.850;cause=17;location=U;location=LN", EBADMSG);
	parse_none("Q.850;text=\"unterminated;cause=17", EBADMSG);
	parse_none("Q.850;text=\"bad\x01\";cause=17", EBADMSG);
	parse_none("Q.850;text=unquoted;cause=17", EBADMSG);
	parse_none("Q.850cause=17", EBADMSG);
	parse_none("Q.850;;cause=17", EBADMSG);
	parse_none("Q.850;cause=17;", EBADMSG);
	parse_none(";cause=17", EBADMSG);
	parse_none("\"Q.850\";cause=17", EBADMSG);
	parse_none("Q.850 cause=17", EBADMSG);
	parse_none("\x01\xff\xfe", EBADMSG);
	parse_none("Q.850;cause=17\\", EBADMSG);

	assert_int_equal(gw_cause_reason_parse(NULL, &q850, NULL), EINVAL);
	assert_int_equal(gw_cause_reason_parse("Q.850;cause=1", NULL, NULL),
			 EINVAL);
}

/* Whatever we format, we parse back. */
static void test_reason_round_trip(void **state)
{
	char buf[256];
	unsigned q, got;
	int loc, got_loc;

	(void)state;
	for (q = 1; q <= 127; q++) {
		for (loc = GW_CAUSE_LOC_NONE; loc <= GW_CAUSE_LOC_MAX; loc++) {
			assert_int_equal(gw_cause_reason_format(q, loc, buf,
								sizeof(buf)),
					 0);
			assert_int_equal(gw_cause_reason_parse(buf, &got,
							       &got_loc), 0);
			assert_int_equal(got, q);
			assert_int_equal(got_loc, loc);
		}
	}
}

/* Random bytes and mangled headers: no crash, no overread (ASan). */
static void test_reason_fuzz(void **state)
{
	static const char alphabet[] = "Q.850;cause=17\",\\ location=LN\t;";
	char buf[96];
	unsigned q850, seed = 12345;
	int loc, i, j, n;

	(void)state;
	for (i = 0; i < 50000; i++) {
		seed = seed * 1103515245u + 12345u;
		n = (int)((seed >> 16) % (sizeof(buf) - 1));
		for (j = 0; j < n; j++) {
			seed = seed * 1103515245u + 12345u;
			if (i & 1)
				buf[j] = alphabet[(seed >> 16) %
						  (sizeof(alphabet) - 1)];
			else
				buf[j] = (char)(((seed >> 16) % 255) + 1);
		}
		buf[n] = '\0';
		q850 = 0;
		loc = 0;
		if (!gw_cause_reason_parse(buf, &q850, &loc)) {
			assert_true(gw_cause_valid(q850));
			assert_true(loc >= GW_CAUSE_LOC_NONE &&
				    loc <= GW_CAUSE_LOC_MAX);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_shipped_loads),
		UNIT_TEST(test_rfc3398_q850_to_sip),
		UNIT_TEST(test_rfc3398_sip_to_q850),
		UNIT_TEST(test_q850_defaults),
		UNIT_TEST(test_sip_defaults),
		UNIT_TEST(test_bad_arguments),
		UNIT_TEST(test_overrides),
		UNIT_TEST(test_override_errors),
		UNIT_TEST(test_bad_rows),
		UNIT_TEST(test_load_files),
		UNIT_TEST(test_enomem),
		UNIT_TEST(test_names),
		UNIT_TEST(test_reason_format),
		UNIT_TEST(test_reason_parse),
		UNIT_TEST(test_reason_round_trip),
		UNIT_TEST(test_reason_fuzz),
	};

	return cmocka_run_group_tests_name("gw_cause", tests, NULL, NULL);
}
