/* gateway/cause.c - protocol causes: Q.850 <-> SIP (RFC 3398), Reason header */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core.h"
#include "cause.h"

/*
 * The project's one table of protocol causes (STYLE.md 3.4).  The mapping
 * itself is data, loaded from a CSV file (etc/causes.csv ships RFC 3398's
 * tables, the default for ISDN PRI: a PRI carries the same Q.850 cause
 * values as ISUP) and overridden from the config; this file holds only
 * what the standards fix for good: Q.850's cause names, RFC 8606's
 * location tokens and RFC 3261's reason phrases.
 *
 * Both directions keep one row per value, optional rows with a condition,
 * and a default ("*") row:
 *
 *  - q850 rows answer "which final response for the INVITE, now that the
 *    PSTN cleared with this cause?" (RFC 3398 7.2.4.1).  A condition is a
 *    cause location (RFC 3398's "(+)": 21 from the user may become 603).
 *  - sip rows answer "which cause in DISCONNECT, now that the INVITE got
 *    this final response?" (RFC 3398 8.2.6.1).  A condition is the
 *    Warning header's warn-code (RFC 3398: 488 and 606 map "by Warning
 *    header").  sip rows may also name a class (4xx, 5xx, 6xx): RFC 3398
 *    itself has none, its defaults are single values (500 and 31), but
 *    an operator may want one.
 *  - "none" rows are the RFC's "no mapping" entries (16, 44; 487): the
 *    lookup says ENOENT, and still gives the default, which RFC 4497's
 *    NOTEs 2, 3 and 7 prescribe when an answer is due all the same.
 *
 * H.248 error codes (H.248.8) and Q.850: we found no ITU-T or IETF text
 * that maps one to the other (H.248.8 defines the error codes and
 * ServiceChange reasons; RFC 3398 and RFC 4497 map SIP and Q.850 only), so
 * this table holds no such rows rather than invented ones.  Call control
 * chooses the cause when an H.248 command fails during a call, and says
 * so where it does.
 */

enum dir { DIR_Q850, DIR_SIP };
enum key_kind { KEY_VALUE, KEY_CLASS, KEY_DEFAULT };

#define SIP_MIN 400		/* sip rows: final failure responses */
#define SIP_MAX 699
#define TO_STATUS_MIN 300	/* q850 rows may map to 3xx (22 -> 301) */
#define MAX_FILE (1024 * 1024)
#define MAX_LINE 1024
#define MAX_FIELDS 5
#define MAX_MSGS 20

struct row {
	bool set;
	bool none;		/* the RFC gives no mapping */
	uint16_t to;		/* SIP status or Q.850 cause */
	unsigned line;		/* where it was set; 0: an override */
	char reason[GW_CAUSE_REASON_MAX];	/* q850 rows */
};

struct cond {
	uint8_t dir;
	uint16_t key;		/* cause or status */
	uint16_t cond;		/* location, or warn-code */
	struct row r;
};

struct gw_causes {
	struct row q850[128];		/* [cause], 1..127 */
	struct row q850_def;
	struct row sip[SIP_MAX - SIP_MIN + 1];	/* [status - 400] */
	struct row sip_class[3];	/* 4xx, 5xx, 6xx */
	struct row sip_def;
	struct cond *cond;		/* gw_mem array */
	size_t ncond, capcond;
};

/* One row as parsed, before it is stored. */
struct spec {
	enum dir dir;
	enum key_kind kind;
	unsigned key;		/* cause, status, or class digit 4..6 */
	bool has_cond;
	unsigned cond;
	bool none;
	unsigned to;
	char reason[GW_CAUSE_REASON_MAX];
};

struct slice {
	const char *p;
	size_t n;
};

/* ---- The standards' fixed texts ----------------------------------------- */

/*
 * ITU-T Q.850 (05/1998) Table 1 "Cause information element values", with
 * 14 and 24 from its Addendum/Amendment 1; national-use notes dropped.
 */
static const char *const q850_names[128] = {
	[1]   = "Unallocated (unassigned) number",
	[2]   = "No route to specified transit network",
	[3]   = "No route to destination",
	[4]   = "Send special information tone",
	[5]   = "Misdialled trunk prefix",
	[6]   = "Channel unacceptable",
	[7]   = "Call awarded and being delivered in an established channel",
	[8]   = "Preemption",
	[9]   = "Preemption - circuit reserved for reuse",
	[14]  = "QoR: ported number",
	[16]  = "Normal call clearing",
	[17]  = "User busy",
	[18]  = "No user responding",
	[19]  = "No answer from user (user alerted)",
	[20]  = "Subscriber absent",
	[21]  = "Call rejected",
	[22]  = "Number changed",
	[23]  = "Redirection to new destination",
	[24]  = "Call rejected due to feature at the destination",
	[25]  = "Exchange routing error",
	[26]  = "Non-selected user clearing",
	[27]  = "Destination out of order",
	[28]  = "Invalid number format (address incomplete)",
	[29]  = "Facility rejected",
	[30]  = "Response to STATUS ENQUIRY",
	[31]  = "Normal, unspecified",
	[34]  = "No circuit/channel available",
	[38]  = "Network out of order",
	[39]  = "Permanent frame mode connection out of service",
	[40]  = "Permanent frame mode connection operational",
	[41]  = "Temporary failure",
	[42]  = "Switching equipment congestion",
	[43]  = "Access information discarded",
	[44]  = "Requested circuit/channel not available",
	[46]  = "Precedence call blocked",
	[47]  = "Resource unavailable, unspecified",
	[49]  = "Quality of service not available",
	[50]  = "Requested facility not subscribed",
	[53]  = "Outgoing calls barred within CUG",
	[55]  = "Incoming calls barred within CUG",
	[57]  = "Bearer capability not authorized",
	[58]  = "Bearer capability not presently available",
	[62]  = "Inconsistency in designated outgoing access information "
		"and subscriber class",
	[63]  = "Service or option not available, unspecified",
	[65]  = "Bearer capability not implemented",
	[66]  = "Channel type not implemented",
	[69]  = "Requested facility not implemented",
	[70]  = "Only restricted digital information bearer capability "
		"is available",
	[79]  = "Service or option not implemented, unspecified",
	[81]  = "Invalid call reference value",
	[82]  = "Identified channel does not exist",
	[83]  = "A suspended call exists, but this call identity does not",
	[84]  = "Call identity in use",
	[85]  = "No call suspended",
	[86]  = "Call having the requested call identity has been cleared",
	[87]  = "User not member of CUG",
	[88]  = "Incompatible destination",
	[90]  = "Non-existent CUG",
	[91]  = "Invalid transit network selection",
	[95]  = "Invalid message, unspecified",
	[96]  = "Mandatory information element is missing",
	[97]  = "Message type non-existent or not implemented",
	[98]  = "Message not compatible with call state or message type "
		"non-existent or not implemented",
	[99]  = "Information element/parameter non-existent or not "
		"implemented",
	[100] = "Invalid information element contents",
	[101] = "Message not compatible with call state",
	[102] = "Recovery on timer expiry",
	[103] = "Parameter non-existent or not implemented, passed on",
	[110] = "Message with unrecognized parameter, discarded",
	[111] = "Protocol error, unspecified",
	[127] = "Interworking, unspecified",
};

/* RFC 8606 section 3: the Q.850 location field's values as tokens. */
static const char *const loc_names[GW_CAUSE_LOC_MAX + 1] = {
	"U", "LPN", "LN", "TN", "RLN", "RPN", "LOC-6", "INTL",
	"LOC-8", "LOC-9", "BI", "LOC-11", "LOC-12", "LOC-13", "LOC-14",
	"LOC-15",
};

/* Reason phrases: RFC 3261 section 21, and the RFC named on later ones. */
static const struct {
	uint16_t status;
	const char *phrase;
} sip_phrases[] = {
	{300, "Multiple Choices"},
	{301, "Moved Permanently"},
	{302, "Moved Temporarily"},
	{305, "Use Proxy"},
	{380, "Alternative Service"},
	{400, "Bad Request"},
	{401, "Unauthorized"},
	{402, "Payment Required"},
	{403, "Forbidden"},
	{404, "Not Found"},
	{405, "Method Not Allowed"},
	{406, "Not Acceptable"},
	{407, "Proxy Authentication Required"},
	{408, "Request Timeout"},
	{410, "Gone"},
	{413, "Request Entity Too Large"},
	{414, "Request-URI Too Long"},
	{415, "Unsupported Media Type"},
	{416, "Unsupported URI Scheme"},
	{420, "Bad Extension"},
	{421, "Extension Required"},
	{422, "Session Interval Too Small"},	/* RFC 4028 */
	{423, "Interval Too Brief"},
	{480, "Temporarily Unavailable"},
	{481, "Call/Transaction Does Not Exist"},
	{482, "Loop Detected"},
	{483, "Too Many Hops"},
	{484, "Address Incomplete"},
	{485, "Ambiguous"},
	{486, "Busy Here"},
	{487, "Request Terminated"},
	{488, "Not Acceptable Here"},
	{489, "Bad Event"},			/* RFC 6665 */
	{491, "Request Pending"},
	{493, "Undecipherable"},
	{494, "Security Agreement Required"},	/* RFC 3329 */
	{500, "Server Internal Error"},
	{501, "Not Implemented"},
	{502, "Bad Gateway"},
	{503, "Service Unavailable"},
	{504, "Server Time-out"},
	{505, "Version Not Supported"},
	{513, "Message Too Large"},
	{580, "Precondition Failure"},		/* RFC 3312 */
	{600, "Busy Everywhere"},
	{603, "Decline"},
	{604, "Does Not Exist Anywhere"},
	{606, "Not Acceptable"},
	{607, "Unwanted"},			/* RFC 8197 */
	{608, "Rejected"},			/* RFC 8688 */
};

/** True for a Q.850 cause value, 1..127 (7 bits; 0 is not a cause). */
bool gw_cause_valid(unsigned q850)
{
	return q850 >= 1 && q850 <= 127;
}

/**
 * The Q.850 name of a cause ("User busy"), for logs and Reason headers;
 * NULL for a value Q.850 leaves unassigned.
 */
const char *gw_cause_name(unsigned q850)
{
	return gw_cause_valid(q850) ? q850_names[q850] : NULL;
}

/** The RFC 8606 token of a cause location ("LN"); NULL out of 0..15. */
const char *gw_cause_loc_name(int location)
{
	if (location < 0 || location > GW_CAUSE_LOC_MAX)
		return NULL;
	return loc_names[location];
}

/**
 * The location whose RFC 8606 token is the n bytes at s, compared without
 * regard to case; -1 (GW_CAUSE_LOC_NONE) for anything else.
 */
int gw_cause_loc_parse(const char *s, size_t n)
{
	int i;

	if (!s)
		return GW_CAUSE_LOC_NONE;
	for (i = 0; i <= GW_CAUSE_LOC_MAX; i++)
		if (strlen(loc_names[i]) == n &&
		    !strncasecmp(s, loc_names[i], n))
			return i;
	return GW_CAUSE_LOC_NONE;
}

/** The standard reason phrase of a SIP status; NULL when we know none. */
const char *gw_cause_sip_phrase(unsigned status)
{
	size_t i;

	for (i = 0; i < GW_ARRAY_SIZE(sip_phrases); i++)
		if (sip_phrases[i].status == status)
			return sip_phrases[i].phrase;
	return NULL;
}

/* ---- Error messages ----------------------------------------------------- */

/* "name:line: reason" lines, as core/conf.c writes them. */
struct msgs {
	char *buf;
	size_t len, off;
	unsigned n;
};

static void msgs_init(struct msgs *m, char *buf, size_t len)
{
	m->buf = len ? buf : NULL;
	m->len = m->buf ? len : 0;
	m->off = 0;
	m->n = 0;
	if (m->buf)
		m->buf[0] = '\0';
}

static void msgs_put(struct msgs *m, const char *fmt, ...) GW_PRINTF(2, 3);

static void msgs_put(struct msgs *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!m->buf || m->off + 1 >= m->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(m->buf + m->off, m->len - m->off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= m->len - m->off)
		n = (int)(m->len - m->off - 1);
	m->off += (size_t)n;
}

/* Start a new message; false once enough have been written. */
static bool msgs_next(struct msgs *m)
{
	m->n++;
	if (m->n > MAX_MSGS + 1)
		return false;
	if (m->n > 1)
		msgs_put(m, "\n");
	if (m->n > MAX_MSGS) {
		msgs_put(m, "...and more");
		return false;
	}
	return true;
}

static void msgs_add(struct msgs *m, const char *name, unsigned line,
		     const char *why)
{
	if (!msgs_next(m))
		return;
	if (line)
		msgs_put(m, "%s:%u: %s", name, line, why);
	else
		msgs_put(m, "%s: %s", name, why);
}

/* ---- Small parsing helpers ---------------------------------------------- */

static bool is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static struct slice trim(struct slice s)
{
	while (s.n && is_ws(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && is_ws(s.p[s.n - 1]))
		s.n--;
	return s;
}

static bool slice_is(struct slice s, const char *lit)
{
	return strlen(lit) == s.n && !strncasecmp(s.p, lit, s.n);
}

/* Decimal digits only, at most 5 of them, value <= max. */
static bool parse_uint(struct slice s, unsigned max, unsigned *vp)
{
	unsigned v = 0;
	size_t i;

	if (!s.n || s.n > 5)
		return false;
	for (i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s.p[i] - '0');
	}
	if (v > max)
		return false;
	*vp = v;
	return true;
}

/* Print s for a message: at most 40 bytes, control bytes as '?'. */
static const char *shown(struct slice s, char *buf, size_t len)
{
	size_t i, n = s.n < 40 ? s.n : 40;

	if (n >= len)
		n = len - 1;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s.p[i];

		buf[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	buf[n] = '\0';
	return buf;
}

/* ---- Rows: parsing and storing ------------------------------------------ */

static bool parse_dir(struct slice s, enum dir *dp)
{
	if (slice_is(s, "q850")) {
		*dp = DIR_Q850;
		return true;
	}
	if (slice_is(s, "sip")) {
		*dp = DIR_SIP;
		return true;
	}
	return false;
}

static bool parse_key(struct spec *sp, struct slice s, char *why,
		      size_t wlen)
{
	char b[48];

	if (slice_is(s, "*")) {
		sp->kind = KEY_DEFAULT;
		return true;
	}
	sp->kind = KEY_VALUE;
	if (sp->dir == DIR_Q850) {
		if (parse_uint(s, 127, &sp->key) && gw_cause_valid(sp->key))
			return true;
		snprintf(why, wlen, "Q.850 cause '%s' is not 1..127 or *",
			 shown(s, b, sizeof(b)));
		return false;
	}
	if (s.n == 3 && s.p[0] >= '4' && s.p[0] <= '6' &&
	    (s.p[1] == 'x' || s.p[1] == 'X') &&
	    (s.p[2] == 'x' || s.p[2] == 'X')) {
		sp->kind = KEY_CLASS;
		sp->key = (unsigned)(s.p[0] - '0');
		return true;
	}
	if (parse_uint(s, SIP_MAX, &sp->key) && sp->key >= SIP_MIN)
		return true;
	snprintf(why, wlen, "SIP status '%s' is not 400..699, 4xx, 5xx, "
		 "6xx or *", shown(s, b, sizeof(b)));
	return false;
}

/* A condition's value: a location token (q850) or a warn-code (sip). */
static bool parse_cond_value(struct spec *sp, struct slice s, char *why,
			     size_t wlen)
{
	char b[48];
	int loc;

	if (sp->dir == DIR_Q850) {
		loc = gw_cause_loc_parse(s.p, s.n);
		if (loc >= 0) {
			sp->cond = (unsigned)loc;
			return true;
		}
		snprintf(why, wlen, "'%s' is not an RFC 8606 location "
			 "(U, LPN, LN, TN, RLN, RPN, INTL, BI, LOC-n)",
			 shown(s, b, sizeof(b)));
		return false;
	}
	if (s.n == 3 && parse_uint(s, 999, &sp->cond))
		return true;
	snprintf(why, wlen, "'%s' is not a 3-digit warn-code",
		 shown(s, b, sizeof(b)));
	return false;
}

/* The CSV's condition column: location=TOKEN or warning=NNN. */
static bool parse_cond(struct spec *sp, struct slice s, char *why,
		       size_t wlen)
{
	const char *want = sp->dir == DIR_Q850 ? "location" : "warning";
	const char *eq = memchr(s.p, '=', s.n);
	struct slice name, val;
	char b[48];

	if (!eq) {
		snprintf(why, wlen, "condition '%s' is not %s=VALUE",
			 shown(s, b, sizeof(b)), want);
		return false;
	}
	name = trim((struct slice){s.p, (size_t)(eq - s.p)});
	val = trim((struct slice){eq + 1, s.n - (size_t)(eq - s.p) - 1});
	if (!slice_is(name, want)) {
		snprintf(why, wlen, "condition '%s': %s rows take %s=VALUE",
			 shown(s, b, sizeof(b)),
			 sp->dir == DIR_Q850 ? "q850" : "sip", want);
		return false;
	}
	sp->has_cond = true;
	return parse_cond_value(sp, val, why, wlen);
}

static bool parse_to(struct spec *sp, struct slice s, char *why,
		     size_t wlen)
{
	char b[48];

	if (slice_is(s, "none")) {
		sp->none = true;
		return true;
	}
	if (sp->dir == DIR_Q850) {
		if (parse_uint(s, SIP_MAX, &sp->to) &&
		    sp->to >= TO_STATUS_MIN)
			return true;
		snprintf(why, wlen, "SIP status '%s' is not 300..699 or none",
			 shown(s, b, sizeof(b)));
		return false;
	}
	if (parse_uint(s, 127, &sp->to) && gw_cause_valid(sp->to))
		return true;
	snprintf(why, wlen, "Q.850 cause '%s' is not 1..127 or none",
		 shown(s, b, sizeof(b)));
	return false;
}

/* Reason-Phrase (RFC 3261 25.1): no control characters, and it fits. */
static bool set_reason(struct spec *sp, const char *p, size_t n, char *why,
		       size_t wlen)
{
	size_t i;

	if (sp->dir != DIR_Q850) {
		snprintf(why, wlen, "a reason phrase belongs to q850 rows "
			 "only (Q.850 names are built in)");
		return false;
	}
	if (n >= sizeof(sp->reason)) {
		snprintf(why, wlen, "reason phrase longer than %zu bytes",
			 sizeof(sp->reason) - 1);
		return false;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			snprintf(why, wlen, "control character in the reason "
				 "phrase");
			return false;
		}
	}
	memcpy(sp->reason, p, n);
	sp->reason[n] = '\0';
	return true;
}

/* Cross-field rules, and the standard phrase where none was given. */
static bool finish_spec(struct spec *sp, char *why, size_t wlen)
{
	const char *phrase;

	if (sp->has_cond && sp->kind != KEY_VALUE) {
		snprintf(why, wlen, "a condition needs a single %s, not a "
			 "class or *",
			 sp->dir == DIR_Q850 ? "cause" : "status");
		return false;
	}
	if (sp->none && sp->kind == KEY_DEFAULT) {
		snprintf(why, wlen, "the default row cannot be 'none'");
		return false;
	}
	if (sp->none && sp->reason[0]) {
		snprintf(why, wlen, "a 'none' row takes no reason phrase");
		return false;
	}
	if (sp->dir == DIR_Q850 && !sp->none && !sp->reason[0]) {
		phrase = gw_cause_sip_phrase(sp->to);
		if (!phrase) {
			snprintf(why, wlen, "no standard reason phrase for %u: "
				 "give one", sp->to);
			return false;
		}
		snprintf(sp->reason, sizeof(sp->reason), "%s", phrase);
	}
	return true;
}

static struct row *slot(struct gw_causes *c, const struct spec *sp)
{
	if (sp->kind == KEY_DEFAULT)
		return sp->dir == DIR_Q850 ? &c->q850_def : &c->sip_def;
	if (sp->kind == KEY_CLASS)
		return &c->sip_class[sp->key - 4];
	if (sp->dir == DIR_Q850)
		return &c->q850[sp->key];
	return &c->sip[sp->key - SIP_MIN];
}

static struct cond *cond_find(const struct gw_causes *c, enum dir dir,
			      unsigned key, unsigned cond)
{
	size_t i;

	for (i = 0; i < c->ncond; i++)
		if (c->cond[i].dir == dir && c->cond[i].key == key &&
		    c->cond[i].cond == cond)
			return &c->cond[i];
	return NULL;
}

/* Room for n more condition rows: the only allocation a row may need. */
static int cond_reserve(struct gw_causes *c, size_t n)
{
	struct cond *v;
	size_t cap;

	if (c->ncond + n <= c->capcond)
		return 0;
	cap = c->capcond ? c->capcond * 2 : 8;
	while (cap < c->ncond + n)
		cap *= 2;
	v = gw_mem_alloc(cap * sizeof(*v), NULL);
	if (!v)
		return ENOMEM;
	if (c->ncond)
		memcpy(v, c->cond, c->ncond * sizeof(*v));
	gw_mem_deref(c->cond);
	c->cond = v;
	c->capcond = cap;
	return 0;
}

/*
 * Store a row.  From the file a second row for the same key is an error
 * (EEXIST, with the first one's line in why); an override replaces it.
 */
static int put_row(struct gw_causes *c, const struct spec *sp,
		   unsigned line, bool replace, char *why, size_t wlen)
{
	struct row *r;
	struct cond *cd = NULL;
	int err;

	if (sp->has_cond) {
		cd = cond_find(c, sp->dir, sp->key, sp->cond);
		if (!cd) {
			err = cond_reserve(c, 1);
			if (err)
				return err;
			cd = &c->cond[c->ncond++];
			memset(cd, 0, sizeof(*cd));
			cd->dir = (uint8_t)sp->dir;
			cd->key = (uint16_t)sp->key;
			cd->cond = (uint16_t)sp->cond;
		}
		r = &cd->r;
	} else {
		r = slot(c, sp);
	}
	if (r->set && !replace) {
		snprintf(why, wlen, "duplicate row: line %u maps the same "
			 "value", r->line);
		return EEXIST;
	}
	r->set = true;
	r->none = sp->none;
	r->to = (uint16_t)sp->to;
	r->line = line;
	snprintf(r->reason, sizeof(r->reason), "%s", sp->reason);
	return 0;
}

/* ---- The CSV file ------------------------------------------------------- */

/*
 * Split one line into fields: comma-separated, whitespace around a field
 * ignored, a field may be "quoted" with "" for a quote (RFC 4180).  The
 * unquoted text lands in buf, which is longer than the line.
 */
static bool split_csv(struct slice line, char *buf,
		      struct slice *f, size_t *nfp, char *why, size_t wlen)
{
	size_t i = 0, o = 0, nf = 0;

	for (;;) {
		size_t start = o;

		while (i < line.n && is_ws(line.p[i]))
			i++;
		if (nf == MAX_FIELDS) {
			snprintf(why, wlen, "more than %d fields", MAX_FIELDS);
			return false;
		}
		if (i < line.n && line.p[i] == '"') {
			i++;
			for (;;) {
				if (i >= line.n) {
					snprintf(why, wlen, "unterminated "
						 "quoted field");
					return false;
				}
				if (line.p[i] == '"') {
					if (i + 1 < line.n &&
					    line.p[i + 1] == '"') {
						buf[o++] = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				buf[o++] = line.p[i++];
			}
			while (i < line.n && is_ws(line.p[i]))
				i++;
			if (i < line.n && line.p[i] != ',') {
				snprintf(why, wlen, "text after a quoted "
					 "field");
				return false;
			}
			f[nf] = (struct slice){buf + start, o - start};
		} else {
			while (i < line.n && line.p[i] != ',') {
				if (line.p[i] == '"') {
					snprintf(why, wlen, "quote inside an "
						 "unquoted field");
					return false;
				}
				buf[o++] = line.p[i++];
			}
			f[nf] = trim((struct slice){buf + start, o - start});
		}
		nf++;
		if (i >= line.n)
			break;
		i++;		/* the comma */
	}
	*nfp = nf;
	return true;
}

/* One data line: 0, or an errno with why set (ENOMEM: no why). */
static int csv_row(struct gw_causes *c, struct slice line, unsigned lineno,
		   char *why, size_t wlen)
{
	char buf[MAX_LINE];
	struct slice f[MAX_FIELDS];
	struct spec sp;
	size_t nf;
	char b[48];

	memset(&sp, 0, sizeof(sp));
	if (line.n >= sizeof(buf)) {
		snprintf(why, wlen, "line longer than %zu bytes",
			 sizeof(buf) - 1);
		return EINVAL;
	}
	if (!split_csv(line, buf, f, &nf, why, wlen))
		return EINVAL;
	if (nf < 4) {
		snprintf(why, wlen, "expected direction,value,condition,"
			 "maps_to[,reason]; got %zu field%s", nf,
			 nf == 1 ? "" : "s");
		return EINVAL;
	}
	if (!parse_dir(f[0], &sp.dir)) {
		snprintf(why, wlen, "direction '%s' is not q850 or sip",
			 shown(f[0], b, sizeof(b)));
		return EINVAL;
	}
	if (!parse_key(&sp, f[1], why, wlen))
		return EINVAL;
	if (f[2].n && !parse_cond(&sp, f[2], why, wlen))
		return EINVAL;
	if (!parse_to(&sp, f[3], why, wlen))
		return EINVAL;
	if (nf == 5 && f[4].n && !set_reason(&sp, f[4].p, f[4].n, why, wlen))
		return EINVAL;
	if (!finish_spec(&sp, why, wlen))
		return EINVAL;
	return put_row(c, &sp, lineno, false, why, wlen);
}

static int load_text(struct gw_causes *c, const char *name,
		     const char *text, struct msgs *m)
{
	const char *p = text;
	unsigned lineno = 0, nbad = 0;
	char why[256];
	int err;

	while (*p) {
		const char *nl = strchr(p, '\n');
		struct slice line = {p, nl ? (size_t)(nl - p) : strlen(p)};
		struct slice t = trim(line);

		lineno++;
		p = nl ? nl + 1 : p + line.n;
		if (!t.n || t.p[0] == '#')
			continue;
		err = csv_row(c, line, lineno, why, sizeof(why));
		if (err == ENOMEM) {
			msgs_add(m, name, 0, "out of memory");
			return ENOMEM;
		}
		if (err) {
			nbad++;
			msgs_add(m, name, lineno, why);
		}
	}
	if (!c->q850_def.set) {
		nbad++;
		msgs_add(m, name, 0, "no 'q850,*' row: the response for "
			 "causes in no row");
	}
	if (!c->sip_def.set) {
		nbad++;
		msgs_add(m, name, 0, "no 'sip,*' row: the cause for statuses "
			 "in no row");
	}
	return nbad ? EINVAL : 0;
}

static void causes_destroy(void *data)
{
	struct gw_causes *c = data;

	gw_mem_deref(c->cond);
}

/**
 * Parse a mapping from text in memory, named name in errors (tests, and
 * gw_causes_load).  The format is etc/causes.csv's, described there.  On
 * success *cp holds a new gw_causes (one reference).  EINVAL when a row is
 * wrong: err then holds "name:line: reason" lines, every bad row's, up to
 * 20; ENOMEM when memory ran out.  err may be NULL.
 */
int gw_causes_load_str(struct gw_causes **cp, const char *name,
		       const char *text, char *err, size_t errlen)
{
	struct gw_causes *c;
	struct msgs m;
	int rc;

	msgs_init(&m, err, errlen);
	if (!cp || !text)
		return EINVAL;
	if (!name)
		name = "-";
	c = gw_mem_zalloc(sizeof(*c), causes_destroy);
	if (!c) {
		msgs_add(&m, name, 0, "out of memory");
		return ENOMEM;
	}
	rc = load_text(c, name, text, &m);
	if (rc)
		goto out;
	*cp = c;
 out:
	if (rc)
		gw_mem_deref(c);
	return rc;
}

/**
 * Load the mapping from the CSV file at path (etc/causes.csv's format).
 * Returns 0 with *cp set, EINVAL for bad content ("path:line: reason"
 * lines in err, like the config loader's), ENOMEM, or the errno of
 * opening or reading the file ("path: reason").  err may be NULL.
 */
int gw_causes_load(struct gw_causes **cp, const char *path, char *err,
		   size_t errlen)
{
	struct msgs m;
	struct stat st;
	char *text = NULL;
	size_t n;
	FILE *f;
	int rc;

	msgs_init(&m, err, errlen);
	if (!cp || !path)
		return EINVAL;
	f = fopen(path, "r");
	if (!f) {
		rc = errno;
		if (msgs_next(&m))
			msgs_put(&m, "%s: cannot open: %s", path,
				 strerror(rc));
		return rc;
	}
	if (fstat(fileno(f), &st)) {
		rc = errno;
		goto io;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = EINVAL;
		msgs_add(&m, path, 0, "not a regular file");
		goto out;
	}
	if (st.st_size > MAX_FILE) {
		rc = EFBIG;
		msgs_add(&m, path, 0, "larger than 1 MiB: not a cause table");
		goto out;
	}
	text = gw_mem_alloc((size_t)st.st_size + 1, NULL);
	if (!text) {
		rc = ENOMEM;
		msgs_add(&m, path, 0, "out of memory");
		goto out;
	}
	n = fread(text, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		rc = EIO;
		goto io;
	}
	text[n] = '\0';
	if (memchr(text, '\0', n)) {
		rc = EINVAL;
		msgs_add(&m, path, 0, "contains a NUL byte: not a text file");
		goto out;
	}
	rc = gw_causes_load_str(cp, path, text, err, errlen);
	goto out;
 io:
	if (msgs_next(&m))
		msgs_put(&m, "%s: cannot read: %s", path, strerror(rc));
 out:
	fclose(f);
	gw_mem_deref(text);
	return rc;
}

/* ---- Overrides from the config ------------------------------------------ */

/*
 * One override token: DIR:KEY[@COND]=TO ["reason phrase"], e.g.
 * q850:17=486, q850:21@U=603 "Decline", sip:5xx=41, sip:488@305=65,
 * q850:16=none.  Spaces are allowed around the punctuation.
 */
static bool parse_token(struct slice t, struct spec *sp, char *why,
			size_t wlen)
{
	const char *colon, *eq, *at, *end = t.p + t.n;
	struct slice key, to, rest;
	char phrase[GW_CAUSE_REASON_MAX * 2];
	size_t i, n = 0;

	memset(sp, 0, sizeof(*sp));
	colon = memchr(t.p, ':', t.n);
	eq = memchr(t.p, '=', t.n);
	if (!colon || !eq || eq < colon) {
		snprintf(why, wlen, "not DIR:VALUE=TO (q850:17=486, "
			 "sip:503=34)");
		return false;
	}
	if (!parse_dir(trim((struct slice){t.p, (size_t)(colon - t.p)}),
		       &sp->dir)) {
		snprintf(why, wlen, "direction is not q850 or sip");
		return false;
	}
	key = (struct slice){colon + 1, (size_t)(eq - colon - 1)};
	at = memchr(key.p, '@', key.n);
	if (at) {
		struct slice cv = trim((struct slice){at + 1,
				(size_t)(key.p + key.n - at - 1)});

		key.n = (size_t)(at - key.p);
		sp->has_cond = true;
		if (!parse_cond_value(sp, cv, why, wlen))
			return false;
	}
	if (!parse_key(sp, trim(key), why, wlen))
		return false;

	/* TO, then an optional quoted phrase. */
	rest = trim((struct slice){eq + 1, (size_t)(end - eq - 1)});
	to = rest;
	for (i = 0; i < rest.n; i++)
		if (is_ws(rest.p[i]) || rest.p[i] == '"')
			break;
	to.n = i;
	if (!parse_to(sp, to, why, wlen))
		return false;
	rest = trim((struct slice){rest.p + i, rest.n - i});
	if (rest.n) {
		if (rest.p[0] != '"' || rest.n < 2 ||
		    rest.p[rest.n - 1] != '"') {
			snprintf(why, wlen, "after TO only a \"quoted reason "
				 "phrase\" may follow");
			return false;
		}
		for (i = 1; i + 1 < rest.n; i++) {
			char ch = rest.p[i];

			if (ch == '"') {
				snprintf(why, wlen, "unescaped quote in the "
					 "reason phrase");
				return false;
			}
			if (ch == '\\' && i + 2 < rest.n)
				ch = rest.p[++i];
			if (n + 1 >= sizeof(phrase)) {
				snprintf(why, wlen, "reason phrase too long");
				return false;
			}
			phrase[n++] = ch;
		}
		if (!set_reason(sp, phrase, n, why, wlen))
			return false;
	}
	return finish_spec(sp, why, wlen);
}

/* The next comma-separated token at *pp (commas in quotes don't count). */
static bool next_token(const char **pp, struct slice *t)
{
	const char *p = *pp;
	bool q = false;

	while (is_ws(*p) || *p == ',')
		p++;
	if (!*p)
		return false;
	t->p = p;
	for (; *p; p++) {
		if (q && *p == '\\' && p[1])
			p++;
		else if (*p == '"')
			q = !q;
		else if (!q && *p == ',')
			break;
	}
	t->n = (size_t)(p - t->p);
	*t = trim(*t);
	*pp = p;
	return true;
}

/**
 * Apply the config's overrides to c: comma-separated DIR:VALUE[@COND]=TO
 * tokens, each replacing (or adding) the row of that key:
 *
 *   q850:17=600                 cause 17 -> 600 (RFC 3261's phrase)
 *   q850:17=480 "Not Here"      ... with this reason phrase
 *   q850:21@U=603               cause 21 from location U (RFC 8606 token)
 *   q850:16=none                no final response (the lookup's ENOENT)
 *   q850:*=503                  the default for causes in no row
 *   sip:503=34                  503 -> cause 34
 *   sip:488@305=65              488 with Warning 305 -> cause 65
 *   sip:5xx=41, sip:*=31        class and default rows
 *
 * All or nothing: on EINVAL err lists every bad token with the reason
 * ("causes override 'q850:200=486': Q.850 cause '200' is not 1..127 or
 * *"), on ENOMEM nothing changed either.  Returns 0, EINVAL or ENOMEM.
 */
int gw_causes_override(struct gw_causes *c, const char *spec, char *err,
		       size_t errlen)
{
	const char *p;
	struct slice t;
	struct spec sp;
	struct msgs m;
	char why[256], b[96];
	size_t nconds = 0;
	unsigned nbad = 0;
	int rc;

	msgs_init(&m, err, errlen);
	if (!c || !spec)
		return EINVAL;

	/* Pass 1: check every token, count what may need room. */
	for (p = spec; next_token(&p, &t);) {
		if (!parse_token(t, &sp, why, sizeof(why))) {
			nbad++;
			if (msgs_next(&m))
				msgs_put(&m, "causes override '%s': %s",
					 shown(t, b, sizeof(b)), why);
			continue;
		}
		if (sp.has_cond && !cond_find(c, sp.dir, sp.key, sp.cond))
			nconds++;
	}
	if (nbad)
		return EINVAL;
	rc = cond_reserve(c, nconds);
	if (rc) {
		if (msgs_next(&m))
			msgs_put(&m, "causes override: out of memory");
		return rc;
	}

	/* Pass 2: apply; nothing can fail any more. */
	for (p = spec; next_token(&p, &t);) {
		if (parse_token(t, &sp, why, sizeof(why)))
			put_row(c, &sp, 0, true, why, sizeof(why));
	}
	return 0;
}

/* ---- Lookups ------------------------------------------------------------ */

/**
 * The final response for an INVITE whose PSTN leg cleared with cause q850
 * (RFC 3398 7.2.4.1), from location (GW_CAUSE_LOC_NONE when unknown, as
 * it is over libpri 1.6).  Sets *statusp and *reasonp (the row's reason
 * phrase, valid until c is released or overridden).  A cause in no row, or not a Q.850 value
 * at all, gets the default row, as RFC 3398 says for "a cause value other
 * than those listed".  Returns 0; ENOENT when the row is "none" (16 is
 * answered with BYE or CANCEL, 44 by trying another channel): the outputs
 * then hold the default, for a caller that must answer anyway; EINVAL for
 * a NULL argument.
 */
int gw_cause_to_sip(const struct gw_causes *c, unsigned q850, int location,
		    unsigned *statusp, const char **reasonp)
{
	const struct row *r = NULL;
	const struct cond *cd;

	if (!c || !statusp)
		return EINVAL;
	if (gw_cause_valid(q850)) {
		if (location >= 0 && location <= GW_CAUSE_LOC_MAX) {
			cd = cond_find(c, DIR_Q850, q850, (unsigned)location);
			if (cd)
				r = &cd->r;
		}
		if (!r && c->q850[q850].set)
			r = &c->q850[q850];
	}
	if (!r || r->none) {
		*statusp = c->q850_def.to;
		if (reasonp)
			*reasonp = c->q850_def.reason;
		return r ? ENOENT : 0;
	}
	*statusp = r->to;
	if (reasonp)
		*reasonp = r->reason;
	return 0;
}

/**
 * The Q.850 cause to clear the PSTN leg with when its INVITE got the final
 * response status (RFC 3398 8.2.6.1); warning is that response's Warning
 * warn-code, or 0.  Call control should prefer a Q.850 cause carried in
 * the response's Reason header (gw_cause_reason_parse), as RFC 3398 lets
 * an encapsulated REL's cause take precedence; and BYE or CANCEL map to
 * 16, not through this table.  Lookup order: the status with the warning,
 * the status, its class (4xx...), the default.  Returns 0; ENOENT for a
 * "none" row (487: the call is already clearing), with the default in
 * *q850p; EINVAL for a NULL argument.
 */
int gw_cause_from_sip(const struct gw_causes *c, unsigned status,
		      unsigned warning, unsigned *q850p)
{
	const struct row *r = NULL;
	const struct cond *cd;

	if (!c || !q850p)
		return EINVAL;
	if (status >= SIP_MIN && status <= SIP_MAX) {
		if (warning) {
			cd = cond_find(c, DIR_SIP, status, warning);
			if (cd)
				r = &cd->r;
		}
		if (!r && c->sip[status - SIP_MIN].set)
			r = &c->sip[status - SIP_MIN];
		if (!r && c->sip_class[status / 100 - 4].set)
			r = &c->sip_class[status / 100 - 4];
	}
	if (!r || r->none) {
		*q850p = c->sip_def.to;
		return r ? ENOENT : 0;
	}
	*q850p = r->to;
	return 0;
}

/* ---- Reason header (RFC 3326; location from RFC 8606) ------------------- */

struct out {
	char *buf;
	size_t len, off;
	bool full;
};

static void out_put(struct out *o, const char *s, size_t n)
{
	if (o->full || o->off + n >= o->len) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->off, s, n);
	o->off += n;
	o->buf[o->off] = '\0';
}

static void out_str(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

/**
 * Write the Reason header field value for cause q850 into buf:
 * Q.850;cause=17;text="User busy" (RFC 3326), with ;location=LN (RFC 8606)
 * unless location is GW_CAUSE_LOC_NONE.  The text is Q.850's name; a value
 * Q.850 leaves unassigned goes without one.  RFC 8606's location is sent
 * in practice (US call-blocking notifications, ATIS-1000099, carry it);
 * pass it whenever the cause's location is known.  Returns 0, EINVAL for
 * a bad cause or location, ENOSPC when buf is too small (buf is then "").
 */
int gw_cause_reason_format(unsigned q850, int location, char *buf,
			   size_t len)
{
	struct out o = {buf, len, 0, false};
	const char *name, *s;
	char num[16];

	if (!buf || !len)
		return EINVAL;
	buf[0] = '\0';
	if (!gw_cause_valid(q850) || location < GW_CAUSE_LOC_NONE ||
	    location > GW_CAUSE_LOC_MAX)
		return EINVAL;
	snprintf(num, sizeof(num), "%u", q850);
	out_str(&o, "Q.850;cause=");
	out_str(&o, num);
	name = gw_cause_name(q850);
	if (name) {
		out_str(&o, ";text=\"");
		for (s = name; *s; s++) {
			if (*s == '"' || *s == '\\')
				out_put(&o, "\\", 1);
			out_put(&o, s, 1);
		}
		out_str(&o, "\"");
	}
	if (location != GW_CAUSE_LOC_NONE) {
		out_str(&o, ";location=");
		out_str(&o, loc_names[location]);
	}
	if (o.full) {
		buf[0] = '\0';
		return ENOSPC;
	}
	return 0;
}

/* RFC 3261 token characters. */
static bool is_token(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || (ch && strchr("-.!%*_+`'~", ch));
}

/* A generic parameter value may also be a host: IPv6 references. */
static bool is_gen_value(char ch)
{
	return is_token(ch) || ch == ':' || ch == '[' || ch == ']';
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && is_ws(*p))
		p++;
	return p;
}

/*
 * Past a quoted-string starting at p (on its opening quote), or NULL when
 * it is not terminated before end or holds a control character.
 */
static const char *skip_quoted(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '"')
			return p + 1;
		if (ch == '\\') {
			if (++p >= end)
				return NULL;
			continue;
		}
		if (ch < 0x20 && !is_ws((char)ch))
			return NULL;
		if (ch == 0x7f)
			return NULL;
	}
	return NULL;
}

/* The end of the reason-value at p: the next comma outside quotes. */
static const char *value_end(const char *p)
{
	bool q = false;

	for (; *p; p++) {
		if (q && *p == '\\' && p[1])
			p++;
		else if (*p == '"')
			q = !q;
		else if (!q && *p == ',')
			break;
	}
	return p;
}

struct reason {
	bool q850;
	unsigned cause;		/* 0: none or unusable */
	int location;
};

/*
 * One reason-value (RFC 3326): protocol *(SEMI reason-params); false when
 * it is malformed, including a repeated cause or location.
 */
static bool parse_reason_value(const char *p, const char *end,
			       struct reason *r)
{
	const char *s;
	bool seen_cause = false, seen_loc = false;

	r->q850 = false;
	r->cause = 0;
	r->location = GW_CAUSE_LOC_NONE;
	p = skip_ws(p, end);
	for (s = p; p < end && is_token(*p); p++)
		;
	if (p == s)
		return false;
	r->q850 = (size_t)(p - s) == 5 && !strncasecmp(s, "Q.850", 5);
	p = skip_ws(p, end);
	while (p < end) {
		struct slice name, val = {NULL, 0};

		if (*p != ';')
			return false;
		p = skip_ws(p + 1, end);
		for (s = p; p < end && is_token(*p); p++)
			;
		if (p == s)
			return false;
		name = (struct slice){s, (size_t)(p - s)};
		p = skip_ws(p, end);
		if (p < end && *p == '=') {
			p = skip_ws(p + 1, end);
			s = p;
			if (p < end && *p == '"') {
				p = skip_quoted(p, end);
				if (!p)
					return false;
			} else {
				while (p < end && is_gen_value(*p))
					p++;
			}
			if (p == s)
				return false;
			val = (struct slice){s, (size_t)(p - s)};
			p = skip_ws(p, end);
		}
		if (slice_is(name, "cause")) {
			unsigned v;

			if (seen_cause || !val.n)
				return false;
			seen_cause = true;
			/* cause = 1*DIGIT; Q.850 values are 1..127 */
			while (val.n > 1 && val.p[0] == '0') {
				val.p++;
				val.n--;
			}
			if (parse_uint(val, 127, &v) && gw_cause_valid(v))
				r->cause = v;
		} else if (slice_is(name, "location")) {
			if (seen_loc || !val.n)
				return false;
			seen_loc = true;
			r->location = gw_cause_loc_parse(val.p, val.n);
		} else if (slice_is(name, "text")) {
			if (!val.n || val.p[0] != '"')
				return false;
		}
	}
	return true;
}

/**
 * From a Reason header field value (RFC 3326), the Q.850 cause: the first
 * reason-value whose protocol is Q.850 and whose cause is 1..127, with its
 * RFC 8606 location in *locationp (GW_CAUSE_LOC_NONE when absent or not a
 * location token; locationp may be NULL).  Several comma-separated values
 * are fine; SIP and other protocols are skipped, and so is a malformed
 * value, up to the next comma outside a quoted string.  The outputs are
 * written only on success.  Returns 0; ENOENT when there is no Q.850
 * value; EBADMSG when there is no usable one and some value was malformed
 * or a Q.850 one had no cause in 1..127; EINVAL for a NULL argument.
 */
int gw_cause_reason_parse(const char *value, unsigned *q850p,
			  int *locationp)
{
	const char *p, *end;
	bool bad = false;
	struct reason r;

	if (!value || !q850p)
		return EINVAL;
	for (p = value; *p; p = *end ? end + 1 : end) {
		end = value_end(p);
		if (skip_ws(p, end) == end)
			continue;	/* empty element: ",," */
		if (!parse_reason_value(p, end, &r)) {
			bad = true;
			continue;
		}
		if (!r.q850)
			continue;
		if (!r.cause) {
			bad = true;
			continue;
		}
		*q850p = r.cause;
		if (locationp)
			*locationp = r.location;
		return 0;
	}
	return bad ? EBADMSG : ENOENT;
}
