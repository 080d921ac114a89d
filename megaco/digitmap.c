/* megaco/digitmap.c - digit maps and digit collection (H.248.1 s.7.1.14) */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "mg.h"

/*
 * A parsed digit map is a list of alternative event sequences, each a
 * run of event positions: the set of symbols that satisfies the
 * position, whether the event must be of long duration ("Z"), whether
 * the position repeats ("."), and the explicit timer ("T", "S", "L")
 * in effect while waiting for it.
 *
 * Collection follows the procedure of s.7.1.14.5 with every alternative
 * run as a small automaton: state i means "positions 0..i-1 matched",
 * state npos means the alternative is fully satisfied, and a position
 * followed by "." is both kept (another repetition) and skipped (zero
 * repetitions).  An alternative is a candidate while it has a state;
 * with at most 63 positions the states of one fit a uint64_t, so an
 * event costs a few bit operations per alternative and no allocation.
 */

#define DMAP_MAX_LEN	1024	/* characters of a body */
#define DMAP_MAX_ALTS	64	/* alternative event sequences */
#define DMAP_MAX_POS	63	/* event positions of one alternative */
#define DCOLL_MAX_SYMS	64	/* symbols of the current dial string */

/*
 * Timers a map does not set.  s.7.1.14.2 leaves the defaults to
 * provisioning and gives 16 s as an example of the long timer: start
 * and long are that, short is the 4 s dial plans commonly use as their
 * critical timer.
 */
#define DMAP_DEF_T_MS	16000
#define DMAP_DEF_S_MS	4000
#define DMAP_DEF_L_MS	16000
#define DMAP_DEF_Z_MS	1000	/* long-duration threshold */

enum dm_tmr {
	DM_TMR_NONE = 0,
	DM_TMR_T,
	DM_TMR_S,
	DM_TMR_L,
};

struct dm_pos {
	uint32_t set;		/* bit n: symbol n ("0" 0 .. "K" 20) */
	bool rep;		/* followed by "." */
	bool z;			/* long-duration events only */
	uint8_t tmr;		/* enum dm_tmr in effect waiting for it */
};

struct dm_alt {
	unsigned first;		/* its first position in mg_dmap.pos */
	unsigned npos;
	uint8_t tail_tmr;	/* enum dm_tmr in effect once all matched */
};

struct mg_dmap {
	struct mg_dmap_timers tmr;
	unsigned z_ms;		/* "Z:" of the body, in ms */
	unsigned nalt;
	struct dm_alt alt[DMAP_MAX_ALTS];
	unsigned npos;
	struct dm_pos pos[];	/* room for one per body character */
};

struct mg_dcoll {
	struct mg_dmap *dm;
	enum mg_dcoll_res res;	/* MG_DCOLL_WAIT while collecting */
	bool full;		/* a candidate is fully satisfied */
	unsigned nsym;		/* symbols in ds (a "Z" is no symbol) */
	size_t dslen;
	char ds[2 * DCOLL_MAX_SYMS + 1];
	uint64_t st[DMAP_MAX_ALTS];	/* states of each alternative; 0:
					 * no longer a candidate */
};

/* The index of a digit map symbol, -1 if c is none (s.7.1.14.3: "0"
 * through "9" and "A" up to "K", either case). */
static int sym_index(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'K')
		return 10 + (c - 'A');
	if (c >= 'a' && c <= 'k')
		return 10 + (c - 'a');
	return -1;
}

static char sym_char(int idx)
{
	return idx < 10 ? (char)('0' + idx) : (char)('A' + idx - 10);
}

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* ------------------------------------------------------------------ */
/* Parsing (Annex B digitMapValue / digitMap)                          */
/* ------------------------------------------------------------------ */

struct dparse {
	const char *s;
	size_t i;
	struct mg_dmap *dm;
	char *err;
	size_t errlen;
};

/* Record why the body is refused, naming what is at offset at. */
static int GW_PRINTF(4, 5) perr(struct dparse *p, int code, size_t at,
				const char *fmt, ...)
{
	char what[24];
	unsigned char c = (unsigned char)p->s[at];
	va_list ap;
	int len;

	if (!p->err || !p->errlen)
		return code;
	if (!c)
		snprintf(what, sizeof(what), "end of map");
	else if (c >= 0x20 && c < 0x7f)
		snprintf(what, sizeof(what), "'%c'", c);
	else
		snprintf(what, sizeof(what), "byte 0x%02x", c);
	va_start(ap, fmt);
	len = vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	if (len >= 0 && (size_t)len < p->errlen)
		snprintf(p->err + len, p->errlen - (size_t)len,
			 ": %s at offset %zu", what, at);
	return code;
}

/* LWSP = *(WSP / COMMENT / EOL); COMMENT = ";" ... EOL (Annex B.2). */
static void skip_lwsp(struct dparse *p)
{
	for (;;) {
		char c = p->s[p->i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			p->i++;
		} else if (c == ';') {
			while (p->s[p->i] && p->s[p->i] != '\r' &&
			       p->s[p->i] != '\n')
				p->i++;
		} else {
			return;
		}
	}
}

/*
 * digitMapValue = ["T" COLON Timer COMMA] ["S" COLON Timer COMMA]
 *                 ["L" COLON Timer COMMA] ["Z" COLON Timer COMMA] digitMap
 * Timer = 1*2DIGIT: seconds for T, S and L, hundreds of ms for Z (v2+
 * Annex B).  Any order is taken, each at most once.  T:0 disables the
 * start timer (s.7.1.14.2 1); the others run from 1 to 99.
 */
static int parse_timers(struct dparse *p)
{
	bool seen[4] = { false, false, false, false };
	static const char kinds[] = "TSLZ";

	for (;;) {
		const char *k;
		size_t at, kat;
		unsigned v = 0, ndig = 0;
		int ki;

		skip_lwsp(p);
		kat = p->i;
		if (!p->s[kat] || p->s[kat + 1] != ':')
			return 0;
		k = strchr(kinds, upper(p->s[kat]));
		if (!k)
			return perr(p, EINVAL, kat,
				     "unknown timer (T, S, L or Z expected)");
		ki = (int)(k - kinds);
		if (seen[ki])
			return perr(p, EINVAL, kat, "%c timer set twice", *k);
		seen[ki] = true;
		p->i += 2;
		at = p->i;
		while (p->s[p->i] >= '0' && p->s[p->i] <= '9') {
			if (++ndig > 2)
				return perr(p, EINVAL, p->i,
					    "%c timer longer than 2 digits",
					    *k);
			v = v * 10 + (unsigned)(p->s[p->i] - '0');
			p->i++;
		}
		if (!ndig)
			return perr(p, EINVAL, at, "%c timer value expected",
				    *k);
		if (v == 0 && *k != 'T')
			return perr(p, EINVAL, at, "%c timer must be 1-99",
				    *k);
		skip_lwsp(p);
		if (p->s[p->i] != ',')
			return perr(p, EINVAL, p->i,
				    "',' expected after the %c timer", *k);
		p->i++;
		switch (*k) {
		case 'T':
			p->dm->tmr.t_ms = v * 1000;
			break;
		case 'S':
			p->dm->tmr.s_ms = v * 1000;
			break;
		case 'L':
			p->dm->tmr.l_ms = v * 1000;
			break;
		default:
			p->dm->z_ms = v * 100;
			break;
		}
	}
}

/*
 * digitMapRange = "x" / (LWSP "[" LWSP digitLetter LWSP "]" LWSP)
 * digitLetter = *((DIGIT "-" DIGIT) / digitMapLetter)
 * p->i is at '['.  Ranges are taken between two digits or two letters
 * (s.7.1.14.3 asks letters to be allocated so that ranges make sense).
 * A "Z" inside the set makes the whole position long-duration; "T",
 * "S" and "L" designate no event and are refused here.
 */
static int parse_set(struct dparse *p, uint32_t *setp, bool *zp)
{
	size_t open = p->i;
	uint32_t set = 0;

	p->i++;
	for (;;) {
		size_t at;
		char c;
		int lo, hi, n;

		skip_lwsp(p);
		at = p->i;
		c = upper(p->s[at]);
		if (c == ']') {
			p->i++;
			break;
		}
		if (!c)
			return perr(p, EINVAL, open, "'[' without ']'");
		if (c == 'Z') {
			if (*zp)
				return perr(p, EINVAL, at, "second 'Z'");
			*zp = true;
			p->i++;
			continue;
		}
		if (c == 'T' || c == 'S' || c == 'L')
			return perr(p, EINVAL, at,
				    "timer specifier inside '[ ]'");
		if (c == '-')
			return perr(p, EINVAL, at,
				    "'-' without a symbol before it");
		lo = sym_index(c);
		if (lo < 0)
			return perr(p, EINVAL, at,
				    "not a digit map symbol in '[ ]'");
		hi = lo;
		p->i++;
		if (p->s[p->i] == '-') {
			hi = sym_index(p->s[p->i + 1]);
			if (hi < 0)
				return perr(p, EINVAL, p->i + 1,
					    "range end expected");
			if ((lo < 10) != (hi < 10))
				return perr(p, EINVAL, p->i + 1,
					    "range mixes a digit and a letter");
			if (hi < lo)
				return perr(p, EINVAL, p->i + 1,
					    "range ends below its start");
			p->i += 2;
		}
		for (n = lo; n <= hi; n++)
			set |= 1u << n;
	}
	if (!set)
		return perr(p, EINVAL, open, "empty set");
	*setp = set;
	return 0;
}

/*
 * digitString = 1*(digitStringElement)
 * digitStringElement = digitPosition [DOT]
 * digitPosition = digitMapLetter / digitMapRange
 * Stops at '|', ')' or the end.  White space and comments are taken
 * between elements.  A timer letter holds for the subsequent events of
 * the alternative (s.7.1.14.3) until another one; "Z" goes in front of
 * the position it qualifies.
 */
static int parse_alt(struct dparse *p)
{
	struct mg_dmap *dm = p->dm;
	struct dm_alt *alt;
	uint8_t tmr = DM_TMR_NONE;
	bool z = false, can_rep = false;
	size_t start, zat = 0;
	int err;

	skip_lwsp(p);
	start = p->i;
	if (dm->nalt == DMAP_MAX_ALTS)
		return perr(p, E2BIG, start, "more than %d alternatives",
			    DMAP_MAX_ALTS);
	alt = &dm->alt[dm->nalt];
	alt->first = dm->npos;
	alt->npos = 0;

	for (;;) {
		uint32_t set = 0;
		size_t at;
		char c;
		int idx;

		skip_lwsp(p);
		at = p->i;
		c = upper(p->s[at]);
		if (!c || c == '|' || c == ')')
			break;
		switch (c) {
		case '.':
			if (!can_rep)
				return perr(p, EINVAL, at, "'.' must follow "
					    "a symbol, 'x' or a set");
			dm->pos[dm->npos - 1].rep = true;
			can_rep = false;
			p->i++;
			continue;
		case 'Z':
			if (z)
				return perr(p, EINVAL, at, "second 'Z'");
			z = true;
			zat = at;
			p->i++;
			continue;
		case 'T':
		case 'S':
		case 'L':
			if (z)
				return perr(p, EINVAL, zat, "'Z' must precede "
					    "a symbol, 'x' or a set");
			tmr = c == 'T' ? DM_TMR_T :
				c == 'S' ? DM_TMR_S : DM_TMR_L;
			can_rep = false;
			p->i++;
			continue;
		case 'X':
			set = 0x3ff;	/* "0"-"9" (s.7.1.14.3) */
			p->i++;
			break;
		case '[':
			err = parse_set(p, &set, &z);
			if (err)
				return err;
			break;
		case ']':
			return perr(p, EINVAL, at, "']' without '['");
		case '(':
			return perr(p, EINVAL, at, "unexpected '('");
		default:
			idx = sym_index(c);
			if (idx < 0)
				return perr(p, EINVAL, at,
					    "not a digit map symbol");
			set = 1u << idx;
			p->i++;
			break;
		}
		if (alt->npos == DMAP_MAX_POS)
			return perr(p, E2BIG, at, "alternative %u has more "
				    "than %d event positions", dm->nalt + 1,
				    DMAP_MAX_POS);
		dm->pos[dm->npos].set = set;
		dm->pos[dm->npos].rep = false;
		dm->pos[dm->npos].z = z;
		dm->pos[dm->npos].tmr = tmr;
		dm->npos++;
		alt->npos++;
		z = false;
		can_rep = true;
	}
	if (z)
		return perr(p, EINVAL, zat,
			    "'Z' must precede a symbol, 'x' or a set");
	if (!alt->npos)
		return perr(p, EINVAL, start, "alternative %u has no event",
			    dm->nalt + 1);
	alt->tail_tmr = tmr;
	dm->nalt++;
	return 0;
}

/* digitMap = (digitString / LWSP "(" LWSP digitStringList LWSP ")" LWSP)
 * digitStringList = digitString *(LWSP "|" LWSP digitString) */
static int parse_map(struct dparse *p)
{
	bool paren;
	int err;

	skip_lwsp(p);
	paren = p->s[p->i] == '(';
	if (paren)
		p->i++;
	for (;;) {
		err = parse_alt(p);
		if (err)
			return err;
		if (p->s[p->i] == '|') {
			if (!paren)
				return perr(p, EINVAL, p->i, "alternatives "
					    "need parentheses");
			p->i++;
			continue;
		}
		if (p->s[p->i] == ')') {
			if (!paren)
				return perr(p, EINVAL, p->i,
					    "')' without '('");
			p->i++;
			skip_lwsp(p);
			if (p->s[p->i])
				return perr(p, EINVAL, p->i,
					    "text after ')'");
			return 0;
		}
		/* the end */
		if (paren)
			return perr(p, EINVAL, p->i, "')' expected");
		return 0;
	}
}

/**
 * Parse a DigitMap descriptor's body (H.248.1 s.7.1.14.3, Annex B
 * digitMapValue): optional timer settings, then one alternative event
 * sequence or a parenthesised list of them.  On error err (if not NULL)
 * gets the reason and the offending character's offset.  Returns 0,
 * EINVAL (syntax), E2BIG (over DMAP_MAX_LEN characters, DMAP_MAX_ALTS
 * alternatives or DMAP_MAX_POS positions in one) or ENOMEM.
 */
int mg_dmap_parse(struct mg_dmap **dmp, const char *body, char *err,
		  size_t errlen)
{
	struct dparse p;
	struct mg_dmap *dm;
	size_t len;
	int e;

	if (err && errlen)
		err[0] = '\0';
	if (!dmp || !body) {
		if (err && errlen)
			snprintf(err, errlen, "no digit map");
		return EINVAL;
	}
	len = strnlen(body, DMAP_MAX_LEN + 1);
	if (len > DMAP_MAX_LEN) {
		if (err && errlen)
			snprintf(err, errlen, "digit map longer than %d "
				 "characters", DMAP_MAX_LEN);
		return E2BIG;
	}
	/* a position takes at least one character */
	dm = gw_mem_zalloc(sizeof(*dm) + len * sizeof(dm->pos[0]), NULL);
	if (!dm)
		return ENOMEM;
	dm->tmr.t_ms = DMAP_DEF_T_MS;
	dm->tmr.s_ms = DMAP_DEF_S_MS;
	dm->tmr.l_ms = DMAP_DEF_L_MS;
	dm->z_ms = DMAP_DEF_Z_MS;

	memset(&p, 0, sizeof(p));
	p.s = body;
	p.dm = dm;
	p.err = err;
	p.errlen = errlen;
	e = parse_timers(&p);
	if (!e)
		e = parse_map(&p);
	if (e) {
		gw_mem_deref(dm);
		return e;
	}
	*dmp = dm;
	return 0;
}

/**
 * The timers a collection with dm uses, in ms: the body's settings,
 * else the defaults.  t_ms 0: the start timer is disabled.
 */
void mg_dmap_timers(const struct mg_dmap *dm, struct mg_dmap_timers *t)
{
	if (!dm || !t)
		return;
	*t = dm->tmr;
}

/**
 * The digit map symbol of a DTMF digit (H.248.1 E.6: d0-d9 "0"-"9",
 * da-dd "A"-"D", ds ("*") "E", do ("#") "F"); 0 if dtmf is none.
 */
char mg_dmap_symbol(char dtmf)
{
	if (dtmf >= '0' && dtmf <= '9')
		return dtmf;
	if (dtmf >= 'A' && dtmf <= 'D')
		return dtmf;
	if (dtmf >= 'a' && dtmf <= 'd')
		return (char)(dtmf - 'a' + 'A');
	if (dtmf == '*')
		return 'E';
	if (dtmf == '#')
		return 'F';
	return 0;
}

/* ------------------------------------------------------------------ */
/* Collection (s.7.1.14.4 - 7.1.14.6)                                  */
/* ------------------------------------------------------------------ */

/* State i and those reached from it without an event: a position
 * followed by "." may be matched zero times. */
static uint64_t closure(const struct mg_dmap *dm, const struct dm_alt *alt,
			unsigned i)
{
	uint64_t m = 0;

	for (;;) {
		m |= UINT64_C(1) << i;
		if (i == alt->npos || !dm->pos[alt->first + i].rep)
			return m;
		i++;
	}
}

/*
 * Look at the candidates: is one fully satisfied, can one take another
 * event, and which explicit timers are in effect.  s.7.1.14.3: a timer
 * named in some candidates only is used; conflicting ones give L; none
 * gives the default rules of s.7.1.14.2.
 */
static unsigned survey(struct mg_dcoll *dc, bool *extp)
{
	const struct mg_dmap *dm = dc->dm;
	unsigned a, i, kinds = 0;
	bool full = false, ext = false;

	for (a = 0; a < dm->nalt; a++) {
		const struct dm_alt *alt = &dm->alt[a];
		uint64_t st = dc->st[a];
		uint8_t t;

		for (i = 0; st && i <= alt->npos; i++) {
			if (!(st & (UINT64_C(1) << i)))
				continue;
			st &= ~(UINT64_C(1) << i);
			if (i == alt->npos) {
				full = true;
				t = alt->tail_tmr;
			} else {
				ext = true;
				t = dm->pos[alt->first + i].tmr;
			}
			if (t != DM_TMR_NONE)
				kinds |= 1u << t;
		}
	}
	dc->full = full;
	*extp = ext;
	return kinds;
}

/* The inter-event timer to arm next (s.7.1.14.2 2 and 3, s.7.1.14.3). */
static unsigned next_timer(const struct mg_dcoll *dc, unsigned kinds)
{
	const struct mg_dmap_timers *t = &dc->dm->tmr;

	if (kinds == 1u << DM_TMR_T)
		return t->t_ms;
	if (kinds == 1u << DM_TMR_S)
		return t->s_ms;
	if (kinds)		/* L alone, or a conflict */
		return t->l_ms;
	/* a full match that could still grow waits S, a string that needs
	 * at least one more digit waits L */
	return dc->full ? t->s_ms : t->l_ms;
}

static enum mg_dcoll_res done(struct mg_dcoll *dc, enum mg_dcoll_res res,
			      unsigned *timer_ms)
{
	dc->res = res;
	if (timer_ms)
		*timer_ms = 0;
	return res;
}

static void dcoll_reset(struct mg_dcoll *dc)
{
	const struct mg_dmap *dm = dc->dm;
	unsigned a;
	bool ext;

	dc->res = MG_DCOLL_WAIT;
	dc->nsym = 0;
	dc->dslen = 0;
	dc->ds[0] = '\0';
	for (a = 0; a < dm->nalt; a++)
		dc->st[a] = closure(dm, &dm->alt[a], 0);
	(void)survey(dc, &ext);
}

static void dcoll_destroy(void *data)
{
	struct mg_dcoll *dc = data;

	gw_mem_deref(dc->dm);
}

/**
 * Allocate a collection using dm (referenced), ready as after
 * mg_dcoll_start.  Returns 0, EINVAL or ENOMEM.
 */
int mg_dcoll_alloc(struct mg_dcoll **dcp, struct mg_dmap *dm)
{
	struct mg_dcoll *dc;

	if (!dcp || !dm)
		return EINVAL;
	dc = gw_mem_zalloc(sizeof(*dc), dcoll_destroy);
	if (!dc)
		return ENOMEM;
	dc->dm = gw_mem_ref(dm);
	dcoll_reset(dc);
	*dcp = dc;
	return 0;
}

/**
 * (Re)start collecting with an empty dial string and every alternative
 * a candidate (s.7.1.14.5 1, s.7.1.14.6).  Returns MG_DCOLL_WAIT with
 * the start timer in *timer_ms (s.7.1.14.2 1); 0 there: T is disabled,
 * wait without a timer.  Timer letters in the map are inter-event
 * specifiers and do not replace T before the first event.
 */
enum mg_dcoll_res mg_dcoll_start(struct mg_dcoll *dc, unsigned *timer_ms)
{
	dcoll_reset(dc);
	if (timer_ms)
		*timer_ms = dc->dm->tmr.t_ms;
	return MG_DCOLL_WAIT;
}

/**
 * One detected event, as its digit map symbol (s.7.1.14.5 3 to 5).
 * MG_DCOLL_WAIT: arm *timer_ms (0: no timer) and go on.  MG_DCOLL_UM:
 * the event completed an alternative no further event could extend.
 * MG_DCOLL_FM / MG_DCOLL_PM: the event fits no candidate; it is not part
 * of the dial string and the caller processes it as per the active
 * events (s.7.1.14.5 5, s.7.1.14.7).  A symbol that is none, or one past
 * DCOLL_MAX_SYMS, counts as such an event.  Once complete, the result
 * stays until the next mg_dcoll_start.
 */
enum mg_dcoll_res mg_dcoll_event(struct mg_dcoll *dc, char sym,
				 bool long_dur, unsigned *timer_ms)
{
	const struct mg_dmap *dm = dc->dm;
	uint64_t next[DMAP_MAX_ALTS];
	bool zmatch = false, any = false, ext;
	unsigned a, i, kinds;
	uint32_t bit;
	int idx;

	if (dc->res != MG_DCOLL_WAIT)
		return done(dc, dc->res, timer_ms);
	idx = sym_index(sym);
	if (idx < 0 || dc->nsym >= DCOLL_MAX_SYMS)
		goto nomatch;
	bit = 1u << idx;

	/* s.7.1.14.5 4: if a candidate expecting a long-duration event
	 * here is matched, only such positions stay; otherwise positions
	 * expecting one are dropped and the duration is irrelevant. */
	if (long_dur) {
		for (a = 0; a < dm->nalt && !zmatch; a++) {
			const struct dm_alt *alt = &dm->alt[a];

			for (i = 0; i < alt->npos; i++) {
				const struct dm_pos *pp =
					&dm->pos[alt->first + i];

				if ((dc->st[a] & (UINT64_C(1) << i)) &&
				    pp->z && (pp->set & bit)) {
					zmatch = true;
					break;
				}
			}
		}
	}

	for (a = 0; a < dm->nalt; a++) {
		const struct dm_alt *alt = &dm->alt[a];

		next[a] = 0;
		for (i = 0; dc->st[a] && i < alt->npos; i++) {
			const struct dm_pos *pp = &dm->pos[alt->first + i];

			if (!(dc->st[a] & (UINT64_C(1) << i)) ||
			    !(pp->set & bit) || pp->z != zmatch)
				continue;
			next[a] |= closure(dm, alt, pp->rep ? i : i + 1);
		}
		if (next[a])
			any = true;
	}
	if (!any)
		goto nomatch;

	memcpy(dc->st, next, dm->nalt * sizeof(next[0]));
	if (zmatch)
		dc->ds[dc->dslen++] = 'Z';
	dc->ds[dc->dslen++] = sym_char(idx);
	dc->ds[dc->dslen] = '\0';
	dc->nsym++;

	kinds = survey(dc, &ext);
	/* s.7.1.14.4: matched, and no alternative could be matched
	 * through an additional event.  A lone candidate that could still
	 * grow ("9011x.") is no unambiguous match yet: s.7.1.14.3 times a
	 * terminal dot with the short timer. */
	if (dc->full && !ext)
		return done(dc, MG_DCOLL_UM, timer_ms);
	if (timer_ms)
		*timer_ms = next_timer(dc, kinds);
	return MG_DCOLL_WAIT;

nomatch:
	/* s.7.1.14.5 5: no candidate left; the event is not added and the
	 * result says whether one was satisfied before it */
	return done(dc, dc->full ? MG_DCOLL_FM : MG_DCOLL_PM, timer_ms);
}

/**
 * The timer last asked for expired (s.7.1.14.5 2): MG_DCOLL_FM if a
 * candidate is fully satisfied, MG_DCOLL_PM otherwise (also when
 * nothing was dialled).
 */
enum mg_dcoll_res mg_dcoll_timeout(struct mg_dcoll *dc, unsigned *timer_ms)
{
	if (dc->res != MG_DCOLL_WAIT)
		return done(dc, dc->res, timer_ms);
	return done(dc, dc->full ? MG_DCOLL_FM : MG_DCOLL_PM, timer_ms);
}

/**
 * The current dial string: dd/ce's ds once complete (H.248.1 E.6.2),
 * "Z" in front of a long-duration symbol; "" when nothing matched.
 */
const char *mg_dcoll_string(const struct mg_dcoll *dc)
{
	return dc ? dc->ds : "";
}
