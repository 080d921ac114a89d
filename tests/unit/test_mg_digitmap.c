/* tests/unit/test_mg_digitmap.c - H.248.1 s.7.1.14 digit maps, E.6 dd/ce */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "mg.h"

/* RFC 3525 s.7.1.14.9 and Appendix I step 8. */
#define APPI_MAP "(0| 00|[1-7]xxx|8xxxxxxx|Fxxxxxxx|Exx|91xxxxxxxxxx|9011x.)"

/* The provisioned defaults of megaco/digitmap.c. */
#define DEF_T	16000
#define DEF_S	4000
#define DEF_L	16000

static struct mg_dmap *parse_ok(const char *body)
{
	struct mg_dmap *dm = NULL;
	char err[128];
	int rc;

	rc = mg_dmap_parse(&dm, body, err, sizeof(err));
	if (rc)
		print_error("'%s': %s\n", body, err);
	assert_int_equal(rc, 0);
	assert_non_null(dm);
	return dm;
}

/* A started collection on a fresh map; the map's reference goes with
 * the collection. */
static struct mg_dcoll *coll(const char *body, unsigned *tmr)
{
	struct mg_dmap *dm = parse_ok(body);
	struct mg_dcoll *dc = NULL;
	unsigned t = 12345;

	assert_int_equal(mg_dcoll_alloc(&dc, dm), 0);
	gw_mem_deref(dm);
	assert_int_equal(mg_dcoll_start(dc, &t), MG_DCOLL_WAIT);
	if (tmr)
		*tmr = t;
	return dc;
}

/*
 * Feed the symbols of s ('^' before a symbol: long duration).  Every
 * event but the last must give WAIT; the last one's result is returned
 * and the timer asked for is in *tmr.
 */
static enum mg_dcoll_res dial(struct mg_dcoll *dc, const char *s,
			      unsigned *tmr)
{
	enum mg_dcoll_res res = MG_DCOLL_WAIT;
	unsigned t = 0;

	while (*s) {
		bool lng = false;

		assert_int_equal(res, MG_DCOLL_WAIT);
		if (*s == '^') {
			lng = true;
			s++;
		}
		t = 12345;
		res = mg_dcoll_event(dc, *s++, lng, &t);
	}
	if (tmr)
		*tmr = t;
	return res;
}

/* Every alternative of the App.I map, each to an unambiguous match. */
static void test_appi_every_alternative(void **state)
{
	static const struct {
		const char *digits;
		unsigned wait;	/* the timer before the last digit */
	} um[] = {
		{ "00", DEF_S },		/* "0" could still grow */
		{ "1000", DEF_L },
		{ "4321", DEF_L },
		{ "7999", DEF_L },
		{ "80000000", DEF_L },
		{ "89999999", DEF_L },
		{ "F1234567", DEF_L },		/* "#" */
		{ "E12", DEF_L },		/* "*" */
		{ "916135551212", DEF_L },	/* App.I step 10 */
	};
	size_t i;
	(void)state;

	for (i = 0; i < GW_ARRAY_SIZE(um); i++) {
		size_t n = strlen(um[i].digits);
		char head[32];
		unsigned t;
		struct mg_dcoll *dc = coll(APPI_MAP, &t);

		assert_int_equal(t, DEF_T);
		memcpy(head, um[i].digits, n - 1);
		head[n - 1] = '\0';
		if (n > 1) {
			assert_int_equal(dial(dc, head, &t), MG_DCOLL_WAIT);
			assert_int_equal(t, um[i].wait);
		}
		t = 777;
		assert_int_equal(mg_dcoll_event(dc, um[i].digits[n - 1],
						false, &t), MG_DCOLL_UM);
		assert_int_equal(t, 0);
		assert_string_equal(mg_dcoll_string(dc), um[i].digits);
		gw_mem_deref(dc);
	}
}

/* "0" alone is a full match that "00" could extend: short timer, then
 * a full match on expiry (s.7.1.14.2 3, s.7.1.14.5 2). */
static void test_appi_zero_timeout_fm(void **state)
{
	struct mg_dcoll *dc = coll(APPI_MAP, NULL);
	unsigned t;
	(void)state;

	assert_int_equal(dial(dc, "0", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, DEF_S);
	assert_int_equal(mg_dcoll_timeout(dc, &t), MG_DCOLL_FM);
	assert_int_equal(t, 0);
	assert_string_equal(mg_dcoll_string(dc), "0");
	gw_mem_deref(dc);
}

/* An event that fits no alternative: removed from the string, FM if a
 * candidate was satisfied before it, else PM (s.7.1.14.5 5). */
static void test_nonmatching_event(void **state)
{
	struct mg_dcoll *dc;
	unsigned t;
	(void)state;

	dc = coll(APPI_MAP, NULL);
	assert_int_equal(dial(dc, "05", &t), MG_DCOLL_FM);
	assert_int_equal(t, 0);
	assert_string_equal(mg_dcoll_string(dc), "0");
	gw_mem_deref(dc);

	dc = coll(APPI_MAP, NULL);
	assert_int_equal(dial(dc, "95", &t), MG_DCOLL_PM);
	assert_string_equal(mg_dcoll_string(dc), "9");
	gw_mem_deref(dc);

	dc = coll(APPI_MAP, NULL);	/* no alternative starts with A */
	assert_int_equal(dial(dc, "A", &t), MG_DCOLL_PM);
	assert_string_equal(mg_dcoll_string(dc), "");
	gw_mem_deref(dc);

	dc = coll(APPI_MAP, NULL);	/* not a symbol at all */
	assert_int_equal(dial(dc, "8", &t), MG_DCOLL_WAIT);
	assert_int_equal(mg_dcoll_event(dc, '?', false, &t), MG_DCOLL_PM);
	assert_string_equal(mg_dcoll_string(dc), "8");
	gw_mem_deref(dc);
}

/* Part of an alternative, then the timer: partial match. */
static void test_partial_timeout(void **state)
{
	struct mg_dcoll *dc = coll(APPI_MAP, NULL);
	unsigned t;
	(void)state;

	assert_int_equal(dial(dc, "8123", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, DEF_L);
	assert_int_equal(mg_dcoll_timeout(dc, &t), MG_DCOLL_PM);
	assert_string_equal(mg_dcoll_string(dc), "8123");
	gw_mem_deref(dc);
}

/* T expires with nothing dialled: partial match, empty ds. */
static void test_start_timer_expiry(void **state)
{
	struct mg_dcoll *dc = coll(APPI_MAP, NULL);
	unsigned t = 1;
	(void)state;

	assert_int_equal(mg_dcoll_timeout(dc, &t), MG_DCOLL_PM);
	assert_int_equal(t, 0);
	assert_string_equal(mg_dcoll_string(dc), "");
	gw_mem_deref(dc);

	/* T=0 disables the start timer (s.7.1.14.2 1): no timer to arm */
	dc = coll("T:0,(12)", &t);
	assert_int_equal(t, 0);
	assert_int_equal(dial(dc, "12", &t), MG_DCOLL_UM);
	gw_mem_deref(dc);
}

/* "9011x.": a terminal dot is matched with the short timer and ends by
 * timer expiry with a full match (s.7.1.14.3). */
static void test_repetition_ends_by_timer(void **state)
{
	struct mg_dcoll *dc = coll(APPI_MAP, NULL);
	unsigned t;
	(void)state;

	assert_int_equal(dial(dc, "901", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, DEF_L);
	/* "9011" satisfies "9011x." already: zero repetitions */
	assert_int_equal(dial(dc, "1", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, DEF_S);
	assert_int_equal(dial(dc, "4420794600", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, DEF_S);
	assert_int_equal(mg_dcoll_timeout(dc, &t), MG_DCOLL_FM);
	assert_string_equal(mg_dcoll_string(dc), "90114420794600");
	gw_mem_deref(dc);

	/* a non-terminal dot: more is needed, long timer */
	dc = coll("(1x.2)", NULL);
	assert_int_equal(dial(dc, "1", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, DEF_L);
	assert_int_equal(dial(dc, "555", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, DEF_L);
	assert_int_equal(dial(dc, "2", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, DEF_S);	/* "2" is also an "x" */
	assert_int_equal(mg_dcoll_timeout(dc, &t), MG_DCOLL_FM);
	assert_string_equal(mg_dcoll_string(dc), "15552");
	gw_mem_deref(dc);

	/* a set repeated */
	dc = coll("[12].3", NULL);
	assert_int_equal(dial(dc, "12213", &t), MG_DCOLL_UM);
	assert_string_equal(mg_dcoll_string(dc), "12213");
	gw_mem_deref(dc);
}

/* The dial string is capped: one symbol past it completes as an event
 * that fits no alternative. */
static void test_dial_string_cap(void **state)
{
	struct mg_dcoll *dc = coll(APPI_MAP, NULL);
	char digits[65];
	unsigned t;
	(void)state;

	memset(digits, '5', sizeof(digits) - 1);
	memcpy(digits, "9011", 4);
	digits[64] = '\0';
	assert_int_equal(dial(dc, digits, &t), MG_DCOLL_WAIT);
	assert_int_equal(mg_dcoll_event(dc, '5', false, &t), MG_DCOLL_FM);
	assert_string_equal(mg_dcoll_string(dc), digits);
	gw_mem_deref(dc);
}

/* Explicit S, L and T in alternatives (s.7.1.14.3). */
static void test_explicit_timers(void **state)
{
	struct mg_dcoll *dc;
	unsigned t;
	(void)state;

	/* S in one candidate, none in the other: S */
	dc = coll("S:2,L:9,(1S23|13x)", NULL);
	assert_int_equal(dial(dc, "1", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, 2000);
	/* the S alternative dropped: back to the default rules */
	assert_int_equal(dial(dc, "3", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, 9000);
	assert_int_equal(dial(dc, "7", &t), MG_DCOLL_UM);
	assert_string_equal(mg_dcoll_string(dc), "137");
	gw_mem_deref(dc);

	/* the S alternative kept */
	dc = coll("S:2,L:9,(1S23|13x)", NULL);
	assert_int_equal(dial(dc, "12", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, 2000);
	assert_int_equal(mg_dcoll_timeout(dc, &t), MG_DCOLL_PM);
	assert_string_equal(mg_dcoll_string(dc), "12");
	gw_mem_deref(dc);

	/* conflicting specifiers: the long timer */
	dc = coll("S:2,L:9,(1S2|1L3)", NULL);
	assert_int_equal(dial(dc, "1", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, 9000);
	gw_mem_deref(dc);

	/* L after a full match that could grow, instead of S */
	dc = coll("S:2,L:9,(12L|123)", NULL);
	assert_int_equal(dial(dc, "12", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, 9000);
	assert_int_equal(mg_dcoll_timeout(dc, &t), MG_DCOLL_FM);
	assert_string_equal(mg_dcoll_string(dc), "12");
	gw_mem_deref(dc);

	/* T: the start timer between events; lower case taken */
	dc = coll("T:7,S:2,L:9,1t2", &t);
	assert_int_equal(t, 7000);
	assert_int_equal(dial(dc, "1", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, 7000);
	assert_int_equal(dial(dc, "2", &t), MG_DCOLL_UM);
	gw_mem_deref(dc);

	/* a specifier holds for every subsequent event */
	dc = coll("S:2,L:9,xSxxx", NULL);
	assert_int_equal(dial(dc, "1", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, 2000);
	assert_int_equal(dial(dc, "22", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, 2000);
	gw_mem_deref(dc);
}

/* Z: long-duration events (s.7.1.14.5 3, 4). */
static void test_long_duration(void **state)
{
	struct mg_dcoll *dc;
	unsigned t;
	(void)state;

	/* a long 1 matches Z1 only, noted "Z1" */
	dc = coll("(Z1|1x)", NULL);
	assert_int_equal(dial(dc, "^1", &t), MG_DCOLL_UM);
	assert_string_equal(mg_dcoll_string(dc), "Z1");
	gw_mem_deref(dc);

	/* a short 1 drops Z1 */
	dc = coll("(Z1|1x)", NULL);
	assert_int_equal(dial(dc, "1", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, DEF_L);
	assert_int_equal(dial(dc, "2", &t), MG_DCOLL_UM);
	assert_string_equal(mg_dcoll_string(dc), "12");
	gw_mem_deref(dc);

	/* duration irrelevant where no candidate has Z there */
	dc = coll("(Z1|2x)", NULL);
	assert_int_equal(dial(dc, "^2^3", &t), MG_DCOLL_UM);
	assert_string_equal(mg_dcoll_string(dc), "23");
	gw_mem_deref(dc);

	/* only a long event satisfies Z1 */
	dc = coll("Z1", NULL);
	assert_int_equal(dial(dc, "1", &t), MG_DCOLL_PM);
	assert_string_equal(mg_dcoll_string(dc), "");
	gw_mem_deref(dc);

	/* Z on a set, inside the brackets or in front; Z after a digit */
	dc = coll("([Z12]3|4Z[5-6])", NULL);
	assert_int_equal(dial(dc, "^23", &t), MG_DCOLL_UM);
	assert_string_equal(mg_dcoll_string(dc), "Z23");
	gw_mem_deref(dc);
	dc = coll("([Z12]3|4Z[5-6])", NULL);
	assert_int_equal(dial(dc, "^4^6", &t), MG_DCOLL_UM);
	assert_string_equal(mg_dcoll_string(dc), "4Z6");
	gw_mem_deref(dc);
}

/* Ranges and sets, "#" and "*" in them; lower-case letters. */
static void test_ranges_and_sets(void **state)
{
	struct mg_dcoll *dc;
	unsigned t;
	(void)state;

	dc = coll("([2-4]x|[0-1F]E|[a-d]x)", NULL);
	assert_int_equal(dial(dc, "35", &t), MG_DCOLL_UM);
	assert_string_equal(mg_dcoll_string(dc), "35");
	gw_mem_deref(dc);

	dc = coll("([2-4]x|[0-1F]E|[a-d]x)", NULL);
	assert_int_equal(dial(dc, "FE", &t), MG_DCOLL_UM);
	gw_mem_deref(dc);

	dc = coll("([2-4]x|[0-1F]E|[a-d]x)", NULL);
	assert_int_equal(dial(dc, "c9", &t), MG_DCOLL_UM);
	assert_string_equal(mg_dcoll_string(dc), "C9");
	gw_mem_deref(dc);

	dc = coll("([2-4]x|[0-1F]E|[a-d]x)", NULL);
	assert_int_equal(dial(dc, "5", &t), MG_DCOLL_PM);
	gw_mem_deref(dc);

	dc = coll("([2-4]x|[0-1F]E|[a-d]x)", NULL);
	assert_int_equal(dial(dc, "0", &t), MG_DCOLL_WAIT);
	assert_int_equal(dial(dc, "1", &t), MG_DCOLL_PM);
	assert_string_equal(mg_dcoll_string(dc), "0");
	gw_mem_deref(dc);

	/* "x" is "0"-"9" only: not "#" */
	dc = coll("1x", NULL);
	assert_int_equal(dial(dc, "1F", &t), MG_DCOLL_PM);
	assert_string_equal(mg_dcoll_string(dc), "1");
	gw_mem_deref(dc);

	/* a letter range up to K */
	dc = coll("[G-K]", NULL);
	assert_int_equal(dial(dc, "K", &t), MG_DCOLL_UM);
	gw_mem_deref(dc);
}

/* Timer settings in the body (v2+ Annex B digitMapValue). */
static void test_timer_settings(void **state)
{
	struct mg_dmap_timers tm;
	struct mg_dmap *dm;
	struct mg_dcoll *dc;
	unsigned t;
	(void)state;

	dm = parse_ok(APPI_MAP);
	mg_dmap_timers(dm, &tm);
	assert_int_equal(tm.t_ms, DEF_T);
	assert_int_equal(tm.s_ms, DEF_S);
	assert_int_equal(tm.l_ms, DEF_L);
	gw_mem_deref(dm);

	dm = parse_ok("T:10,S:5,L:20," APPI_MAP);
	mg_dmap_timers(dm, &tm);
	assert_int_equal(tm.t_ms, 10000);
	assert_int_equal(tm.s_ms, 5000);
	assert_int_equal(tm.l_ms, 20000);
	gw_mem_deref(dm);

	/* some only, any order, white space, lower case, Z taken */
	dm = parse_ok(" l:30 , t:3,Z:15,\r\n (0|00)");
	mg_dmap_timers(dm, &tm);
	assert_int_equal(tm.t_ms, 3000);
	assert_int_equal(tm.s_ms, DEF_S);
	assert_int_equal(tm.l_ms, 30000);
	gw_mem_deref(dm);

	dc = coll("T:10,S:5,L:20," APPI_MAP, &t);
	assert_int_equal(t, 10000);
	assert_int_equal(dial(dc, "0", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, 5000);
	assert_int_equal(dial(dc, "0", &t), MG_DCOLL_UM);
	gw_mem_deref(dc);

	dc = coll("T:10,S:5,L:20," APPI_MAP, &t);
	assert_int_equal(dial(dc, "9", &t), MG_DCOLL_WAIT);
	assert_int_equal(t, 20000);
	gw_mem_deref(dc);
}

/* LWSP where Annex B allows it, comments included. */
static void test_whitespace_comments(void **state)
{
	struct mg_dcoll *dc;
	unsigned t;
	(void)state;

	dc = coll("\n ( 0 ; operator\r\n | 00\t|[ 1-7 ] xxx ) \n", NULL);
	assert_int_equal(dial(dc, "00", &t), MG_DCOLL_UM);
	gw_mem_deref(dc);
	dc = coll("\n ( 0 ; operator\r\n | 00\t|[ 1-7 ] xxx ) \n", NULL);
	assert_int_equal(dial(dc, "7123", &t), MG_DCOLL_UM);
	gw_mem_deref(dc);
}

static void expect_error(const char *body, int code, const char *reason)
{
	struct mg_dmap *dm = NULL;
	char err[160];
	int rc;

	memset(err, 'X', sizeof(err));
	rc = mg_dmap_parse(&dm, body, err, sizeof(err));
	if (rc != code || !strstr(err, reason))
		print_error("'%s': %d '%s', want %d '%s'\n", body, rc, err,
			    code, reason);
	assert_int_equal(rc, code);
	assert_null(dm);
	assert_non_null(strstr(err, reason));
}

/* Refused bodies name the reason and the offending character. */
static void test_parse_errors(void **state)
{
	static const struct {
		const char *body;
		const char *reason;
	} bad[] = {
		{ "", "alternative 1 has no event: end of map at offset 0" },
		{ "()", "alternative 1 has no event: ')' at offset 1" },
		{ "(1|2", "')' expected: end of map at offset 4" },
		{ "1|2", "alternatives need parentheses: '|' at offset 1" },
		{ "(1|)", "alternative 2 has no event: ')' at offset 3" },
		{ "(1||2)", "alternative 2 has no event: '|' at offset 3" },
		{ "1)", "')' without '(': ')' at offset 1" },
		{ "(12q)", "not a digit map symbol: 'q' at offset 3" },
		{ "(12#)", "not a digit map symbol: '#' at offset 3" },
		{ "(1\x01)", "byte 0x01 at offset 2" },
		{ "(.1)", "'.' must follow a symbol, 'x' or a set: '.' at "
			  "offset 1" },
		{ "(1..)", "'.' at offset 3" },
		{ "(1S.)", "'.' at offset 3" },
		{ "(1Z)", "'Z' must precede a symbol, 'x' or a set: 'Z' at "
			  "offset 2" },
		{ "(ZS1)", "'Z' at offset 1" },
		{ "ZZ1", "second 'Z': 'Z' at offset 1" },
		{ "([7-1])", "range ends below its start: '1' at offset 4" },
		{ "([1-)", "range end expected: ')' at offset 4" },
		{ "([1-B])", "range mixes a digit and a letter: 'B' at "
			     "offset 4" },
		{ "([-1])", "'-' without a symbol before it: '-' at offset 2" },
		{ "([])", "empty set: '[' at offset 1" },
		{ "([12", "'[' without ']': '[' at offset 1" },
		{ "([1x])", "not a digit map symbol in '[ ]': 'x' at "
			    "offset 3" },
		{ "([S1])", "timer specifier inside '[ ]': 'S' at offset 2" },
		{ "1]", "']' without '[': ']' at offset 1" },
		{ "(1(2))", "unexpected '(': '(' at offset 2" },
		{ "(1)x", "text after ')': 'x' at offset 3" },
		{ "T:100,(1)", "T timer longer than 2 digits: '0' at "
			       "offset 4" },
		{ "T:,(1)", "T timer value expected: ',' at offset 2" },
		{ "S:0,(1)", "S timer must be 1-99: '0' at offset 2" },
		{ "L:00,(1)", "L timer must be 1-99" },
		{ "T:5 (1)", "',' expected after the T timer: '(' at "
			     "offset 4" },
		{ "T:5,T:6,(1)", "T timer set twice: 'T' at offset 4" },
		{ "Q:5,(1)", "unknown timer (T, S, L or Z expected): 'Q' at "
			     "offset 0" },
	};
	size_t i;
	(void)state;

	for (i = 0; i < GW_ARRAY_SIZE(bad); i++)
		expect_error(bad[i].body, EINVAL, bad[i].reason);
}

/* Absurd maps are refused with E2BIG; the limits themselves pass. */
static void test_parse_limits(void **state)
{
	struct mg_dmap *dm = NULL;
	char err[128];
	char *body;
	size_t n;
	unsigned i;
	(void)state;

	body = malloc(2048);
	assert_non_null(body);

	/* 1024 characters pass, 1025 do not */
	memset(body, ' ', 1024);
	memcpy(body, "(1)", 3);
	body[1024] = '\0';
	dm = parse_ok(body);
	gw_mem_deref(dm);
	body[1024] = ' ';
	body[1025] = '\0';
	dm = NULL;
	assert_int_equal(mg_dmap_parse(&dm, body, err, sizeof(err)), E2BIG);
	assert_null(dm);
	assert_non_null(strstr(err, "longer than 1024"));

	/* 64 alternatives pass, 65 do not */
	n = 0;
	body[n++] = '(';
	for (i = 0; i < 64; i++)
		n += (size_t)sprintf(body + n, "%s%u", i ? "|" : "", i);
	strcpy(body + n, ")");
	dm = parse_ok(body);
	gw_mem_deref(dm);
	strcpy(body + n, "|99)");
	dm = NULL;
	assert_int_equal(mg_dmap_parse(&dm, body, err, sizeof(err)), E2BIG);
	assert_null(dm);
	assert_non_null(strstr(err, "more than 64 alternatives"));

	/* 63 event positions in an alternative pass, 64 do not */
	memset(body, 'x', 63);
	body[63] = '\0';
	dm = parse_ok(body);
	gw_mem_deref(dm);
	strcpy(body, "(1|");
	memset(body + 3, 'x', 64);
	strcpy(body + 67, ")");
	dm = NULL;
	assert_int_equal(mg_dmap_parse(&dm, body, err, sizeof(err)), E2BIG);
	assert_null(dm);
	assert_non_null(strstr(err, "alternative 2 has more than 63 event "
				    "positions: 'x' at offset 66"));
	free(body);

	/* no body, no place for the map, a short or no error buffer */
	assert_int_equal(mg_dmap_parse(&dm, NULL, err, sizeof(err)), EINVAL);
	assert_int_equal(mg_dmap_parse(NULL, "1", err, sizeof(err)), EINVAL);
	assert_int_equal(mg_dmap_parse(&dm, "(1|q)", err, 8), EINVAL);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(mg_dmap_parse(&dm, "(1|q)", NULL, 0), EINVAL);
	assert_null(dm);
}

/* E.6: DTMF digits to digit map symbols. */
static void test_symbol_mapping(void **state)
{
	static const char in[] = "0123456789*#ABCDabcd";
	static const char out[] = "0123456789EFABCDABCD";
	size_t i;
	(void)state;

	for (i = 0; in[i]; i++)
		assert_int_equal(mg_dmap_symbol(in[i]), out[i]);
	assert_int_equal(mg_dmap_symbol('E'), 0);
	assert_int_equal(mg_dmap_symbol('x'), 0);
	assert_int_equal(mg_dmap_symbol(' '), 0);
	assert_int_equal(mg_dmap_symbol('\0'), 0);

	/* as a detector would feed them */
	{
		struct mg_dcoll *dc = coll(APPI_MAP, NULL);
		unsigned t;

		assert_int_equal(mg_dcoll_event(dc, mg_dmap_symbol('*'),
						false, &t), MG_DCOLL_WAIT);
		assert_int_equal(mg_dcoll_event(dc, mg_dmap_symbol('4'),
						false, &t), MG_DCOLL_WAIT);
		assert_int_equal(mg_dcoll_event(dc, mg_dmap_symbol('2'),
						false, &t), MG_DCOLL_UM);
		assert_string_equal(mg_dcoll_string(dc), "E42");
		gw_mem_deref(dc);
	}
}

/* Completion holds until a new start, which clears the dial string
 * (s.7.1.14.6); collections share a map. */
static void test_restart_and_sharing(void **state)
{
	struct mg_dmap *dm = parse_ok(APPI_MAP);
	struct mg_dcoll *a = NULL, *b = NULL;
	unsigned t;
	(void)state;

	assert_int_equal(mg_dcoll_alloc(&a, dm), 0);
	assert_int_equal(mg_dcoll_alloc(&b, dm), 0);
	gw_mem_deref(dm);

	assert_int_equal(dial(a, "00", &t), MG_DCOLL_UM);
	assert_int_equal(dial(b, "0", &t), MG_DCOLL_WAIT);
	/* after completion, events and timeouts change nothing */
	assert_int_equal(mg_dcoll_event(a, '1', false, &t), MG_DCOLL_UM);
	assert_int_equal(t, 0);
	assert_int_equal(mg_dcoll_timeout(a, &t), MG_DCOLL_UM);
	assert_string_equal(mg_dcoll_string(a), "00");

	assert_int_equal(mg_dcoll_start(a, &t), MG_DCOLL_WAIT);
	assert_int_equal(t, DEF_T);
	assert_string_equal(mg_dcoll_string(a), "");
	assert_int_equal(dial(a, "E99", &t), MG_DCOLL_UM);
	assert_string_equal(mg_dcoll_string(a), "E99");

	assert_int_equal(mg_dcoll_timeout(b, &t), MG_DCOLL_FM);
	assert_string_equal(mg_dcoll_string(b), "0");
	gw_mem_deref(a);
	gw_mem_deref(b);

	assert_int_equal(mg_dcoll_alloc(&a, NULL), EINVAL);
	assert_int_equal(mg_dcoll_alloc(NULL, NULL), EINVAL);
}

/* Every allocation can fail cleanly. */
static void test_enomem(void **state)
{
	struct mg_dmap *dm = NULL;
	struct mg_dcoll *dc = NULL;
	(void)state;

	gw_mem_fail_after(0);
	assert_int_equal(mg_dmap_parse(&dm, APPI_MAP, NULL, 0), ENOMEM);
	gw_mem_fail_after(-1);
	assert_null(dm);

	dm = parse_ok(APPI_MAP);
	gw_mem_fail_after(0);
	assert_int_equal(mg_dcoll_alloc(&dc, dm), ENOMEM);
	gw_mem_fail_after(-1);
	assert_null(dc);
	assert_int_equal(gw_mem_nrefs(dm), 1);
	gw_mem_deref(dm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_appi_every_alternative),
		UNIT_TEST(test_appi_zero_timeout_fm),
		UNIT_TEST(test_nonmatching_event),
		UNIT_TEST(test_partial_timeout),
		UNIT_TEST(test_start_timer_expiry),
		UNIT_TEST(test_repetition_ends_by_timer),
		UNIT_TEST(test_dial_string_cap),
		UNIT_TEST(test_explicit_timers),
		UNIT_TEST(test_long_duration),
		UNIT_TEST(test_ranges_and_sets),
		UNIT_TEST(test_timer_settings),
		UNIT_TEST(test_whitespace_comments),
		UNIT_TEST(test_parse_errors),
		UNIT_TEST(test_parse_limits),
		UNIT_TEST(test_symbol_mapping),
		UNIT_TEST(test_restart_and_sharing),
		UNIT_TEST(test_enomem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
