/* megaco/text_dec.c - H.248.1 Annex B text decoder (versions 1 to 3) */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core.h"
#include "mg.h"
#include "mg_int.h"

/*
 * A recursive-descent parser over the Annex B.2 ABNF.  The upper levels
 * (message, transactions, actions, commands) have their own functions;
 * descriptors go through one item parser driven by the rule tables
 * below: each token has one rule (value, children, braces), each place
 * in the grammar (enum cx) lists the tokens it allows and whether
 * package names may appear there.
 *
 * Leniency, where real messages (RFC 3525 App. I) deviate from the ABNF:
 * a trailing comma before '}'; event, signal and observed-event
 * parameters in parentheses, al/of(strict=state); empty braces on
 * descriptors that the ABNF writes bare (Signals { }); empty braces on a
 * command; a ServiceChange without Reason (semantics are the MG's).
 * Everything else the grammar says is enforced: token values (Mode =
 * Sideways is an error), numbers, timestamps, braces, versions.
 *
 * Error codes (H.248.8) for the error reply, in struct mg_text_err:
 *   406  the version in the header is not 1..3;
 *   400  anything wrong outside a transaction request, and anything in
 *        a reply, pending or ack (they are not answered with errors);
 *   403  inside a transaction request but outside its actions (the
 *        reply goes to trans_id; H.248.1 8.2.2 uses TransactionID 0 only
 *        when the id itself cannot be read, and so do we: in_trans
 *        is false then);
 *   422  in an action header (the ContextID) or its context properties;
 *   442  inside a command (its TerminationID or descriptors).
 * The text names the offending token and its line:column.
 */

#define MAX_DEPTH 24

enum cx {			/* where in the grammar an item stands */
	CX_NONE = 0,
	CX_CMD, CX_MEDIA, CX_STREAM, CX_TS, CX_LC, CX_EVENTS, CX_EVPARM,
	CX_EMBED, CX_SIGNALS, CX_SIGLIST, CX_SIGPARM, CX_OE, CX_PARMS,
	CX_SA, CX_PG, CX_AUDIT, CX_SV, CX_TOPO, CX_CTX, CX_CTXATTR, CX_MUX,
	CX_COUNT_
};

enum { V_NO, V_OPT, V_REQ };
enum { K_ANY, K_UINT, K_TOKS, K_MID, K_RAW, K_DM };
enum { B_NO, B_OPT, B_REQ };

struct rule {
	unsigned char val, kind, kids, block;
	bool ops;		/* inequalities allowed */
	bool lists;		/* [a,b] and {a,b} values allowed */
	bool paren;		/* parameters in ( ) tolerated */
	const enum mg_tok *set;	/* K_TOKS: values, MG_TOK_NONE-ended */
};

static const enum mg_tok set_mode[] = { MG_TOK_SENDONLY, MG_TOK_RECVONLY,
	MG_TOK_SENDRECV, MG_TOK_INACTIVE, MG_TOK_LOOPBACK, MG_TOK_NONE };
static const enum mg_tok set_onoff[] = { MG_TOK_ON, MG_TOK_OFF,
	MG_TOK_NONE };
static const enum mg_tok set_si[] = { MG_TOK_INSERVICE,
	MG_TOK_OUTOFSERVICE, MG_TOK_TEST, MG_TOK_NONE };
static const enum mg_tok set_bf[] = { MG_TOK_OFF, MG_TOK_LOCKSTEP,
	MG_TOK_NONE };
static const enum mg_tok set_sy[] = { MG_TOK_ONOFF, MG_TOK_TIMEOUT,
	MG_TOK_BRIEF, MG_TOK_NONE };
static const enum mg_tok set_nc[] = { MG_TOK_TIMEOUT, MG_TOK_INTBYEVENT,
	MG_TOK_INTBYSIGDESCR, MG_TOK_OTHERREASON, MG_TOK_ITERATION,
	MG_TOK_NONE };
static const enum mg_tok set_mt[] = { MG_TOK_RESTART, MG_TOK_FORCED,
	MG_TOK_GRACEFUL, MG_TOK_FAILOVER, MG_TOK_DISCONNECTED,
	MG_TOK_HANDOFF, MG_TOK_NONE };
static const enum mg_tok set_dir[] = { MG_TOK_EXTERNAL, MG_TOK_INTERNAL,
	MG_TOK_BOTH, MG_TOK_NONE };
static const enum mg_tok set_egv[] = { MG_TOK_EMERGENCY,
	MG_TOK_EMERGENCYOFF, MG_TOK_NONE };

#define R_BARE		{ V_NO, K_ANY, CX_NONE, B_NO, 0, 0, 0, NULL }
#define R_UINT		{ V_REQ, K_UINT, CX_NONE, B_NO, 0, 0, 0, NULL }
#define R_VAL		{ V_REQ, K_ANY, CX_NONE, B_NO, 0, 0, 0, NULL }
#define R_TOKS(s)	{ V_REQ, K_TOKS, CX_NONE, B_NO, 0, 0, 0, s }
#define R_BLOCK(c, b)	{ V_NO, K_ANY, c, b, 0, 0, 0, NULL }
#define R_IDBLOCK(v, c, b) { v, K_UINT, c, b, 0, 0, 0, NULL }

static const struct rule tok_rules[MG_TOK_COUNT_] = {
	[MG_TOK_MEDIA] = R_BLOCK(CX_MEDIA, B_OPT),
	[MG_TOK_STREAM] = R_IDBLOCK(V_REQ, CX_STREAM, B_OPT),
	[MG_TOK_TERMSTATE] = R_BLOCK(CX_TS, B_OPT),
	[MG_TOK_LOCALCONTROL] = R_BLOCK(CX_LC, B_OPT),
	[MG_TOK_LOCAL] = { V_NO, K_RAW, CX_NONE, B_REQ, 0, 0, 0, NULL },
	[MG_TOK_REMOTE] = { V_NO, K_RAW, CX_NONE, B_REQ, 0, 0, 0, NULL },
	[MG_TOK_MODE] = R_TOKS(set_mode),
	[MG_TOK_RESERVEDVALUE] = R_TOKS(set_onoff),
	[MG_TOK_RESERVEDGROUP] = R_TOKS(set_onoff),
	[MG_TOK_SERVICESTATES] = R_TOKS(set_si),
	[MG_TOK_BUFFER] = R_TOKS(set_bf),
	[MG_TOK_EVENTS] = R_IDBLOCK(V_OPT, CX_EVENTS, B_OPT),
	[MG_TOK_SIGNALS] = R_BLOCK(CX_SIGNALS, B_OPT),
	[MG_TOK_SIGNALLIST] = R_IDBLOCK(V_REQ, CX_SIGLIST, B_REQ),
	[MG_TOK_SIGNALTYPE] = R_TOKS(set_sy),
	[MG_TOK_DURATION] = R_UINT,
	[MG_TOK_NOTIFYCOMPLETION] = { V_REQ, K_TOKS, CX_NONE, B_NO, 0, 1, 0,
				      set_nc },
	[MG_TOK_KEEPACTIVE] = R_BARE,
	[MG_TOK_EMBED] = R_BLOCK(CX_EMBED, B_REQ),
	[MG_TOK_DIGITMAP] = { V_OPT, K_DM, CX_NONE, B_OPT, 0, 0, 0, NULL },
	[MG_TOK_OBSERVEDEVENTS] = R_IDBLOCK(V_REQ, CX_OE, B_OPT),
	[MG_TOK_EVENTBUFFER] = R_BLOCK(CX_EVENTS, B_OPT),
	[MG_TOK_STATS] = R_BLOCK(CX_SA, B_OPT),
	[MG_TOK_PACKAGES] = R_BLOCK(CX_PG, B_OPT),
	[MG_TOK_AUDIT] = R_BLOCK(CX_AUDIT, B_REQ),
	[MG_TOK_SERVICES] = R_BLOCK(CX_SV, B_REQ),
	[MG_TOK_METHOD] = R_TOKS(set_mt),
	[MG_TOK_REASON] = R_VAL,
	[MG_TOK_DELAY] = R_UINT,
	[MG_TOK_SCADDRESS] = { V_REQ, K_MID, CX_NONE, B_NO, 0, 0, 0, NULL },
	[MG_TOK_MGCID] = { V_REQ, K_MID, CX_NONE, B_NO, 0, 0, 0, NULL },
	[MG_TOK_PROFILE] = R_VAL,
	[MG_TOK_VERSION] = R_UINT,
	[MG_TOK_SCINCOMPLETE] = R_BARE,
	[MG_TOK_TOPOLOGY] = R_BLOCK(CX_TOPO, B_REQ),
	[MG_TOK_ISOLATE] = R_BARE,
	[MG_TOK_ONEWAY] = R_BARE,
	[MG_TOK_BOTHWAY] = R_BARE,
	[MG_TOK_ONEWAYEXTERNAL] = R_BARE,
	[MG_TOK_ONEWAYBOTH] = R_BARE,
	[MG_TOK_PRIORITY] = R_UINT,
	[MG_TOK_EMERGENCY] = R_BARE,
	[MG_TOK_EMERGENCYOFF] = R_BARE,
	[MG_TOK_IEPS] = { V_OPT, K_TOKS, CX_NONE, B_NO, 0, 0, 0, set_onoff },
	[MG_TOK_CONTEXTATTR] = R_BLOCK(CX_CTXATTR, B_REQ),
	[MG_TOK_CONTEXTAUDIT] = R_BLOCK(CX_AUDIT, B_REQ),
	[MG_TOK_CONTEXTLIST] = { V_REQ, K_UINT, CX_NONE, B_NO, 0, 1, 0,
				 NULL },
	[MG_TOK_EMERGENCYVALUE] = R_TOKS(set_egv),
	[MG_TOK_ORLGC] = R_BARE,
	[MG_TOK_ANDLGC] = R_BARE,
	[MG_TOK_MODEM] = { V_OPT, K_ANY, CX_PARMS, B_OPT, 0, 1, 0, NULL },
	[MG_TOK_MUX] = { V_REQ, K_ANY, CX_MUX, B_OPT, 0, 0, 0, NULL },
	[MG_TOK_NEVERNOTIFY] = R_BARE,
	[MG_TOK_IMMEDIATENOTIFY] = R_BARE,
	[MG_TOK_REGULATEDNOTIFY] = R_BLOCK(CX_EVPARM, B_OPT),
	[MG_TOK_RESETEVENTS] = R_BARE,
	[MG_TOK_DIRECTION] = R_TOKS(set_dir),
	[MG_TOK_REQUESTID] = R_UINT,
	[MG_TOK_INTSIGDELAY] = R_UINT,
	[MG_TOK_ITERATION] = { V_OPT, K_UINT, CX_NONE, B_NO, 0, 0, 0, NULL },
};

/* Rules for names that are not tokens, by place; val V_NO and kind
 * K_RAW mark places where names are not allowed at all. */
#define N_NONE		{ V_NO, K_RAW, CX_NONE, B_NO, 0, 0, 0, NULL }
#define N_PROP		{ V_REQ, K_ANY, CX_NONE, B_NO, 1, 1, 0, NULL }
#define N_EVENT		{ V_NO, K_ANY, CX_EVPARM, B_OPT, 0, 0, 1, NULL }

static const struct rule name_rules[CX_COUNT_] = {
	[CX_NONE] = N_NONE, [CX_CMD] = N_NONE, [CX_MEDIA] = N_NONE,
	[CX_STREAM] = N_NONE, [CX_EMBED] = N_NONE, [CX_CTX] = N_NONE,
	[CX_TS] = N_PROP, [CX_LC] = N_PROP, [CX_CTXATTR] = N_PROP,
	[CX_EVPARM] = N_PROP, [CX_SIGPARM] = N_PROP, [CX_PARMS] = N_PROP,
	[CX_EVENTS] = N_EVENT,
	[CX_SIGNALS] = { V_NO, K_ANY, CX_SIGPARM, B_OPT, 0, 0, 1, NULL },
	[CX_SIGLIST] = { V_NO, K_ANY, CX_SIGPARM, B_OPT, 0, 0, 1, NULL },
	[CX_OE] = { V_NO, K_ANY, CX_PARMS, B_OPT, 0, 0, 1, NULL },
	[CX_SA] = { V_OPT, K_ANY, CX_NONE, B_NO, 0, 1, 0, NULL },
	[CX_PG] = R_BARE, [CX_MUX] = R_BARE, [CX_TOPO] = R_BARE,
	[CX_SV] = { V_OPT, K_ANY, CX_NONE, B_NO, 0, 0, 0, NULL },
	[CX_AUDIT] = { V_OPT, K_ANY, CX_AUDIT, B_OPT, 1, 1, 0, NULL },
};

/* Tokens each place allows (CX_AUDIT: all, with the audit rule). */
static const enum mg_tok in_cmd[] = { MG_TOK_MEDIA, MG_TOK_MODEM,
	MG_TOK_MUX, MG_TOK_EVENTS, MG_TOK_SIGNALS, MG_TOK_DIGITMAP,
	MG_TOK_EVENTBUFFER, MG_TOK_AUDIT, MG_TOK_STATS, MG_TOK_PACKAGES,
	MG_TOK_OBSERVEDEVENTS, MG_TOK_SERVICES, MG_TOK_NONE };
static const enum mg_tok in_media[] = { MG_TOK_TERMSTATE,
	MG_TOK_LOCALCONTROL, MG_TOK_LOCAL, MG_TOK_REMOTE, MG_TOK_STREAM,
	MG_TOK_STATS, MG_TOK_NONE };
static const enum mg_tok in_stream[] = { MG_TOK_LOCALCONTROL,
	MG_TOK_LOCAL, MG_TOK_REMOTE, MG_TOK_STATS, MG_TOK_NONE };
static const enum mg_tok in_ts[] = { MG_TOK_SERVICESTATES, MG_TOK_BUFFER,
	MG_TOK_NONE };
static const enum mg_tok in_lc[] = { MG_TOK_MODE, MG_TOK_RESERVEDVALUE,
	MG_TOK_RESERVEDGROUP, MG_TOK_NONE };
static const enum mg_tok in_evparm[] = { MG_TOK_KEEPACTIVE, MG_TOK_EMBED,
	MG_TOK_DIGITMAP, MG_TOK_STREAM, MG_TOK_RESETEVENTS,
	MG_TOK_NEVERNOTIFY, MG_TOK_IMMEDIATENOTIFY, MG_TOK_REGULATEDNOTIFY,
	MG_TOK_NONE };
static const enum mg_tok in_embed[] = { MG_TOK_SIGNALS, MG_TOK_EVENTS,
	MG_TOK_NONE };
static const enum mg_tok in_signals[] = { MG_TOK_SIGNALLIST, MG_TOK_NONE };
static const enum mg_tok in_sigparm[] = { MG_TOK_SIGNALTYPE,
	MG_TOK_DURATION, MG_TOK_NOTIFYCOMPLETION, MG_TOK_KEEPACTIVE,
	MG_TOK_STREAM, MG_TOK_DIRECTION, MG_TOK_REQUESTID,
	MG_TOK_INTSIGDELAY, MG_TOK_ITERATION, MG_TOK_NONE };
static const enum mg_tok in_parms[] = { MG_TOK_STREAM, MG_TOK_NONE };
static const enum mg_tok in_sv[] = { MG_TOK_METHOD, MG_TOK_REASON,
	MG_TOK_DELAY, MG_TOK_SCADDRESS, MG_TOK_PROFILE, MG_TOK_VERSION,
	MG_TOK_MGCID, MG_TOK_SCINCOMPLETE, MG_TOK_NONE };
static const enum mg_tok in_topo[] = { MG_TOK_ISOLATE, MG_TOK_ONEWAY,
	MG_TOK_BOTHWAY, MG_TOK_ONEWAYEXTERNAL, MG_TOK_ONEWAYBOTH,
	MG_TOK_STREAM, MG_TOK_NONE };
static const enum mg_tok in_ctx[] = { MG_TOK_PRIORITY, MG_TOK_EMERGENCY,
	MG_TOK_EMERGENCYOFF, MG_TOK_TOPOLOGY, MG_TOK_IEPS,
	MG_TOK_CONTEXTATTR, MG_TOK_CONTEXTAUDIT, MG_TOK_NONE };
static const enum mg_tok in_ctxattr[] = { MG_TOK_CONTEXTLIST,
	MG_TOK_NONE };
static const enum mg_tok in_none[] = { MG_TOK_NONE };

static const enum mg_tok *const allowed[CX_COUNT_] = {
	[CX_NONE] = in_none, [CX_CMD] = in_cmd, [CX_MEDIA] = in_media,
	[CX_STREAM] = in_stream, [CX_TS] = in_ts, [CX_LC] = in_lc,
	[CX_EVENTS] = in_none, [CX_EVPARM] = in_evparm,
	[CX_EMBED] = in_embed, [CX_SIGNALS] = in_signals,
	[CX_SIGLIST] = in_none, [CX_SIGPARM] = in_sigparm,
	[CX_OE] = in_none, [CX_PARMS] = in_parms, [CX_SA] = in_none,
	[CX_PG] = in_none, [CX_AUDIT] = in_none, [CX_SV] = in_sv,
	[CX_TOPO] = in_topo, [CX_CTX] = in_ctx, [CX_CTXATTR] = in_ctxattr,
	[CX_MUX] = in_none,
};

/* Annex B.2 SafeChar; '(' and ')' too, except inside ( ) parameters. */
static unsigned char safe[256];
static pthread_once_t safe_once = PTHREAD_ONCE_INIT;

static void safe_init(void)
{
	const char *s = "+-&!_/'?@^`~*$\\()%|.";
	int c;

	for (c = '0'; c <= '9'; c++)
		safe[c] = 1;
	for (c = 'a'; c <= 'z'; c++)
		safe[c] = safe[c - 'a' + 'A'] = 1;
	for (; *s; s++)
		safe[(unsigned char)*s] = 1;
}

struct dec {
	const char *buf, *p, *end;
	struct mg_msg *msg;
	struct mg_text_err *err;
	unsigned version;
	unsigned code;		/* the code an error here gets */
	int depth;
	int paren;		/* inside ( ) parameters */
};

/* ------------------------------------------------------------------ */
/* Lexer                                                              */
/* ------------------------------------------------------------------ */

static void skip(struct dec *d)
{
	const char *p = d->p;

	while (p < d->end) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			p++;
		} else if (*p == ';') {
			while (p < d->end && *p != '\n' && *p != '\r')
				p++;
		} else {
			break;
		}
	}
	d->p = p;
}

static int peek(struct dec *d)
{
	skip(d);
	return d->p < d->end ? (unsigned char)*d->p : -1;
}

static bool is_safe(const struct dec *d, const char *p)
{
	unsigned char c = (unsigned char)*p;

	if (d->paren && (c == '(' || c == ')'))
		return false;
	return safe[c];
}

static int fail(struct dec *d, const char *at, const char *fmt, ...)
	GW_PRINTF(3, 4);

/* Record a syntax error at at (first one wins); returns EBADMSG. */
static int fail(struct dec *d, const char *at, const char *fmt, ...)
{
	struct mg_text_err *e = d->err;
	unsigned line = 1, col = 1;
	char what[48];
	const char *p, *q;
	size_t n;
	va_list ap;
	int len;

	if (!e || e->code)
		return EBADMSG;
	if (at > d->end)
		at = d->end;
	for (p = d->buf; p < at; p++) {
		if (*p == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	if (at >= d->end) {
		snprintf(what, sizeof(what), "end of message");
	} else if (safe[(unsigned char)*at]) {
		for (q = at; q < d->end && safe[(unsigned char)*q]; q++)
			;
		n = (size_t)(q - at) > 32 ? 32 : (size_t)(q - at);
		snprintf(what, sizeof(what), "'%.*s'", (int)n, at);
	} else if (*at >= 0x20 && *at < 0x7f) {
		snprintf(what, sizeof(what), "'%c'", *at);
	} else {
		snprintf(what, sizeof(what), "byte 0x%02x",
			 (unsigned char)*at);
	}
	e->code = d->code;
	e->line = line;
	e->col = col;
	va_start(ap, fmt);
	len = vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	if (len >= 0 && (size_t)len < sizeof(e->text))
		snprintf(e->text + len, sizeof(e->text) - (size_t)len,
			 ": %s at %u:%u", what, line, col);
	return EBADMSG;
}

/* A word of SafeChars: *sp, *lenp; error when there is none. */
static int word(struct dec *d, const char **sp, size_t *lenp,
		const char *what)
{
	const char *p;

	skip(d);
	for (p = d->p; p < d->end && is_safe(d, p); p++)
		;
	if (p == d->p)
		return fail(d, d->p, "expected %s", what);
	*sp = d->p;
	*lenp = (size_t)(p - d->p);
	d->p = p;
	return 0;
}

static int expect(struct dec *d, char c, const char *after)
{
	if (peek(d) != (unsigned char)c)
		return fail(d, d->p, "expected '%c' after %s", c, after);
	d->p++;
	return 0;
}

static bool accept(struct dec *d, char c)
{
	if (peek(d) != (unsigned char)c)
		return false;
	d->p++;
	return true;
}

static int parse_u32(const char *s, size_t len, uint32_t *vp)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 10)
		return EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > 0xffffffffu)
		return EINVAL;
	*vp = (uint32_t)v;
	return 0;
}

static const char *dup(struct dec *d, const char *s, size_t len)
{
	return mg_msg_strndup(d->msg, s, len);
}

/* A quoted string (no escapes in Annex B): its inside in *sp, *lenp. */
static int quoted(struct dec *d, const char **sp, size_t *lenp)
{
	const char *p = d->p + 1;

	/* B.2: quotedString = DQUOTE *(SafeChar / RestChar / WSP) DQUOTE,
	 * WSP being SP / HTAB: printable ASCII and tabs, on one line */
	while (p < d->end && *p != '"') {
		if (((unsigned char)*p < 0x20 && *p != '\t') ||
		    (unsigned char)*p > 0x7e)
			return fail(d, p, "bad character in quoted string");
		p++;
	}
	if (p >= d->end)
		return fail(d, d->p, "unterminated quoted string");
	*sp = d->p + 1;
	*lenp = (size_t)(p - d->p - 1);
	d->p = p + 1;
	return 0;
}

/*
 * An mId or ServiceChangeAddress: [addr][:port], <name>[:port],
 * MTP{..}, a deviceName or a port (Annex B.2).  Kept verbatim.
 */
static int mid(struct dec *d, const char **sp, size_t *lenp)
{
	const char *s, *p;
	char close = 0;

	skip(d);
	s = p = d->p;
	if (p < d->end && *p == '[')
		close = ']';
	else if (p < d->end && *p == '<')
		close = '>';
	else if (d->end - p > 3 && !strncasecmp(p, "MTP{", 4))
		close = '}';
	if (close) {
		while (p < d->end && *p != close) {
			if ((unsigned char)*p <= ' ' ||
			    (*p == '{' && close != '}'))
				return fail(d, p, "bad address");
			p++;
		}
		if (p >= d->end)
			return fail(d, s, "unterminated address");
		p++;
		if (close != '}' && p < d->end && *p == ':') {
			const char *q = ++p;

			while (p < d->end && *p >= '0' && *p <= '9')
				p++;
			if (p == q || p - q > 5)
				return fail(d, q, "bad port");
		}
		if (p - s == 2)
			return fail(d, s, "empty address");
	} else {
		while (p < d->end && safe[(unsigned char)*p])
			p++;
		if (p == s)
			return fail(d, s, "expected an address");
	}
	*sp = s;
	*lenp = (size_t)(p - s);
	d->p = p;
	return 0;
}

/* The verbatim inside of { } for Local, Remote, DigitMap: up to the
 * first '}' not escaped by '\' (Annex B.2 octetString). */
static int raw(struct dec *d, const char **tp)
{
	const char *s = d->p, *p = s;

	while (p < d->end && *p != '}') {
		if (*p == '\\' && p + 1 < d->end)
			p++;
		else if (*p == '\0')
			return fail(d, p, "NUL in descriptor");
		p++;
	}
	if (p >= d->end)
		return fail(d, s - 1, "unterminated '{'");
	*tp = dup(d, s, (size_t)(p - s));
	if (!*tp)
		return ENOMEM;
	d->p = p + 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Descriptors                                                        */
/* ------------------------------------------------------------------ */

static bool tok_in(enum mg_tok tok, const enum mg_tok *set)
{
	for (; *set; set++) {
		if (*set == tok)
			return true;
	}
	return false;
}

/* One value word (or quoted string) as the rule wants it. */
static int value(struct dec *d, const struct rule *r, struct mg_word *w,
		 const char *name)
{
	const char *s;
	size_t len;
	uint32_t v;
	int err;

	skip(d);
	if (d->p < d->end && *d->p == '"' && r->kind != K_UINT &&
	    r->kind != K_TOKS) {
		err = quoted(d, &s, &len);
		w->quoted = true;
	} else if (r->kind == K_MID) {
		err = mid(d, &s, &len);
	} else {
		err = word(d, &s, &len, "a value");
	}
	if (err)
		return err;
	if (r->kind == K_UINT && parse_u32(s, len, &v))
		return fail(d, s, "expected a number for %s", name);
	if (r->kind == K_TOKS) {
		w->tok = mg_tok_lookup(s, len, d->version);
		if (w->tok && tok_in(w->tok, r->set))
			return 0;
		w->tok = MG_TOK_NONE;
		/* extensionParameter "X-name" / "X+name" (B.2) */
		if (!(r->set == set_mt && len > 2 && (s[0] | 0x20) == 'x' &&
		      (s[1] == '-' || s[1] == '+')))
			return fail(d, s, "bad value for %s", name);
	}
	w->s = dup(d, s, len);
	return w->s ? 0 : ENOMEM;
}

/* [a, b], [a : b] or {a, b} after the operator. */
static int value_list(struct dec *d, const struct rule *r,
		      struct mg_item *it, const char *name)
{
	struct mg_word tmp[64];
	char close = *d->p == '[' ? ']' : '}';
	unsigned n = 0;
	int err;

	it->vlist = close == ']' ? MG_VL_AND : MG_VL_OR;
	d->p++;
	for (;;) {
		if (n == GW_ARRAY_SIZE(tmp))
			return fail(d, d->p, "too many values");
		memset(&tmp[n], 0, sizeof(tmp[n]));
		err = value(d, r, &tmp[n++], name);
		if (err)
			return err;
		if (close == ']' && n == 1 && accept(d, ':')) {
			it->vlist = MG_VL_RANGE;
			memset(&tmp[n], 0, sizeof(tmp[n]));
			err = value(d, r, &tmp[n++], name);
			if (err)
				return err;
			err = expect(d, ']', "a range");
			if (err)
				return err;
			break;
		}
		if (accept(d, ','))
			continue;
		err = expect(d, close, "a value list");
		if (err)
			return err;
		break;
	}
	it->val = mg_msg_zalloc(d->msg, n * sizeof(*it->val));
	if (!it->val)
		return ENOMEM;
	memcpy(it->val, tmp, n * sizeof(*it->val));
	it->nval = n;
	return 0;
}

static int items(struct dec *d, enum cx cx, struct mg_item **headp,
		 char close);

static bool is_stamp(const char *s, size_t len)
{
	size_t i;

	if (len != 17 || (s[8] | 0x20) != 't')
		return false;
	for (i = 0; i < len; i++) {
		if (i != 8 && (s[i] < '0' || s[i] > '9'))
			return false;
	}
	return true;
}

/* name [op value] [{ items }] in place cx. */
static int item(struct dec *d, enum cx cx, struct mg_item **itp)
{
	const struct rule *r;
	struct mg_item *it;
	const char *s, *name, *p;
	size_t len;
	int c, err;

	it = mg_msg_zalloc(d->msg, sizeof(*it));
	if (!it)
		return ENOMEM;
	err = word(d, &s, &len, "a descriptor or parameter");
	if (err)
		return err;
	if (cx == CX_OE && peek(d) == ':') {
		if (!is_stamp(s, len))
			return fail(d, s, "bad timestamp");
		it->stamp = dup(d, s, len);
		if (!it->stamp)
			return ENOMEM;
		d->p++;
		err = word(d, &s, &len, "an event name");
		if (err)
			return err;
	}
	/* "name!=value": '!' is a SafeChar, the operator wins */
	if (len > 1 && s[len - 1] == '!' && d->p < d->end && *d->p == '=') {
		len--;
		d->p--;
	} else if (s[len - 1] == '!') {
		return fail(d, s, "bad name");	/* NAME has no '!' */
	}
	if (cx == CX_AUDIT) {
		it->tok = mg_tok_lookup(s, len, d->version);
		r = &name_rules[CX_AUDIT];
	} else if (cx != CX_PG && cx != CX_MUX &&
		   (it->tok = mg_tok_lookup(s, len, d->version)) &&
		   tok_in(it->tok, allowed[cx])) {
		r = &tok_rules[it->tok];
	} else {
		it->tok = MG_TOK_NONE;
		r = &name_rules[cx];
		if (r->kind == K_RAW)
			return fail(d, s, "unexpected");
		/* al/of(strict=state): RFC 3525 App. I writes ( ) */
		if (r->paren && !d->paren) {
			p = memchr(s, '(', len);
			if (p) {
				d->p = p;
				len = (size_t)(p - s);
				if (!len)
					return fail(d, s, "unexpected");
				if (s[len - 1] == '!')
					return fail(d, s, "bad name");
			}
		}
	}
	if (!it->tok) {
		it->name = dup(d, s, len);
		if (!it->name)
			return ENOMEM;
	}
	name = it->tok ? mg_tok_name(it->tok, false) : it->name;

	/* the value */
	if (r->val != V_NO) {
		c = peek(d);
		if (c == '=') {
			it->op = MG_OP_EQ;
		} else if (c == '!' && d->p + 1 < d->end && d->p[1] == '=' &&
			   r->ops) {
			it->op = MG_OP_NE;
			d->p++;
		} else if (r->ops && (c == '<' || c == '>' || c == '#')) {
			it->op = c == '<' ? MG_OP_LT :
				c == '>' ? MG_OP_GT : MG_OP_NEQUAL;
		} else if (r->val == V_REQ) {
			return fail(d, d->p, "expected '=' after %s", name);
		}
		if (it->op) {
			d->p++;
			c = peek(d);
			if (r->kind == K_DM) {
				struct rule any = { .kind = K_ANY };

				it->val = mg_msg_zalloc(d->msg,
							sizeof(*it->val));
				if (!it->val)
					return ENOMEM;
				it->nval = 1;
				err = value(d, &any, it->val, name);
			} else if (r->lists && it->op == MG_OP_EQ &&
				   (c == '[' || c == '{')) {
				err = value_list(d, r, it, name);
			} else {
				it->val = mg_msg_zalloc(d->msg,
							sizeof(*it->val));
				if (!it->val)
					return ENOMEM;
				it->nval = 1;
				err = value(d, r, it->val, name);
			}
			if (err)
				return err;
		}
	}

	/* the block */
	c = peek(d);
	if (r->kind == K_RAW || r->kind == K_DM) {
		if (c == '{') {
			d->p++;
			err = raw(d, &it->text);
			if (err)
				return err;
		} else if (r->kind == K_RAW) {
			return fail(d, d->p, "expected '{' after %s", name);
		}	/* a bare DigitMap: audit */
	} else if (c == '{' && r->block != B_NO) {
		d->p++;
		err = items(d, r->kids, &it->kids, '}');
		if (err)
			return err;
	} else if (c == '(' && r->paren && !d->paren) {
		d->p++;
		d->paren++;
		err = items(d, r->kids, &it->kids, ')');
		d->paren--;
		if (err)
			return err;
	} else if (r->block == B_REQ) {
		return fail(d, d->p, "expected '{' after %s", name);
	}
	*itp = it;
	return 0;
}

/* Items separated by commas up to close; the opening one is read. */
static int items(struct dec *d, enum cx cx, struct mg_item **headp,
		 char close)
{
	struct mg_item **tail = headp, *it;
	int err = 0;

	if (++d->depth > MAX_DEPTH) {
		err = fail(d, d->p, "nesting too deep");
		goto out;
	}
	if (accept(d, close))
		goto out;
	for (;;) {
		err = item(d, cx, &it);
		if (err)
			goto out;
		*tail = it;
		tail = &it->next;
		if (accept(d, ',')) {
			if (accept(d, close))	/* App. I step 3 */
				break;
			continue;
		}
		if (accept(d, close))
			break;
		err = fail(d, d->p, "expected ',' or '%c'", close);
		goto out;
	}
 out:
	d->depth--;
	return err;
}

/* ------------------------------------------------------------------ */
/* Upper levels                                                       */
/* ------------------------------------------------------------------ */

/* Error = code { ["text"] }; the token is read. */
static int error_desc(struct dec *d, struct mg_err **errp)
{
	struct mg_err *e;
	const char *s;
	size_t len;
	uint32_t code;
	int err;

	err = expect(d, '=', "Error");
	if (err)
		return err;
	err = word(d, &s, &len, "an error code");
	if (err)
		return err;
	if (len > 4 || parse_u32(s, len, &code))
		return fail(d, s, "bad error code");
	err = expect(d, '{', "the error code");
	if (err)
		return err;
	e = mg_msg_zalloc(d->msg, sizeof(*e));
	if (!e)
		return ENOMEM;
	e->code = code;
	if (peek(d) == '"') {
		err = quoted(d, &s, &len);
		if (err)
			return err;
		e->text = dup(d, s, len);
		if (!e->text)
			return ENOMEM;
	}
	err = expect(d, '}', "the error text");
	if (err)
		return err;
	*errp = e;
	return 0;
}

static const enum mg_cmd_type cmd_of[MG_TOK_COUNT_] = {
	[MG_TOK_ADD] = MG_CMD_ADD + 1, [MG_TOK_MODIFY] = MG_CMD_MODIFY + 1,
	[MG_TOK_SUBTRACT] = MG_CMD_SUBTRACT + 1,
	[MG_TOK_MOVE] = MG_CMD_MOVE + 1,
	[MG_TOK_AUDITVALUE] = MG_CMD_AUDITVALUE + 1,
	[MG_TOK_AUDITCAP] = MG_CMD_AUDITCAP + 1,
	[MG_TOK_NOTIFY] = MG_CMD_NOTIFY + 1,
	[MG_TOK_SERVICECHANGE] = MG_CMD_SERVICECHANGE + 1,
};

/* terminationIDList (v3): "[" is read. */
static int tid_list(struct dec *d, struct mg_cmd *cmd)
{
	const char *tmp[64], *t;
	size_t tlen;
	unsigned n = 0;
	int err;

	do {
		if (n == GW_ARRAY_SIZE(tmp))
			return fail(d, d->p, "too many TerminationIDs");
		err = word(d, &t, &tlen, "a TerminationID");
		if (err)
			return err;
		tmp[n] = dup(d, t, tlen);
		if (!tmp[n++])
			return ENOMEM;
	} while (accept(d, ','));
	err = expect(d, ']', "the TerminationIDs");
	if (err)
		return err;
	cmd->tids = mg_msg_zalloc(d->msg, n * sizeof(*cmd->tids));
	if (!cmd->tids)
		return ENOMEM;
	memcpy(cmd->tids, tmp, n * sizeof(*cmd->tids));
	cmd->ntids = n;
	cmd->tid = tmp[0];
	return 0;
}

/* [O-][W-]Command = tid [{ descriptors }]; the word is s[0..len). */
static int command(struct dec *d, const char *s, size_t len,
		   struct mg_cmd **cmdp)
{
	struct mg_item **tail;
	struct mg_cmd *cmd;
	enum mg_tok tok;
	const char *t;
	size_t tlen;
	struct mg_item *it;
	int err;

	cmd = mg_msg_zalloc(d->msg, sizeof(*cmd));
	if (!cmd)
		return ENOMEM;
	while (len > 2 && s[1] == '-') {
		if ((s[0] | 0x20) == 'o' && !cmd->optional)
			cmd->optional = true;
		else if ((s[0] | 0x20) == 'w' && !cmd->wildcard &&
			 d->version >= 2)
			cmd->wildcard = true;
		else
			break;
		s += 2;
		len -= 2;
	}
	tok = mg_tok_lookup(s, len, d->version);
	if (!cmd_of[tok])
		return fail(d, s, "expected a command");
	cmd->type = cmd_of[tok] - 1;
	err = expect(d, '=', mg_tok_name(tok, false));
	if (err)
		return err;
	if (d->version >= 3 && accept(d, '[')) {
		err = tid_list(d, cmd);
		if (err)
			return err;
	} else {
		err = word(d, &t, &tlen, "a TerminationID");
		if (err)
			return err;
		cmd->tid = dup(d, t, tlen);
		if (!cmd->tid)
			return ENOMEM;
	}
	if (accept(d, '{') && !accept(d, '}')) {
		tail = &cmd->desc;
		if (++d->depth > MAX_DEPTH)
			return fail(d, d->p, "nesting too deep");
		for (;;) {
			err = word(d, &t, &tlen, "a descriptor");
			if (err)
				return err;
			if (mg_tok_lookup(t, tlen, d->version) ==
			    MG_TOK_ERROR && !cmd->err) {
				err = error_desc(d, &cmd->err);
			} else {
				d->p = t;
				err = item(d, CX_CMD, &it);
				if (!err) {
					*tail = it;
					tail = &it->next;
				}
			}
			if (err)
				return err;
			if (accept(d, ',')) {
				if (accept(d, '}'))	/* App. I step 3 */
					break;
				continue;
			}
			if (accept(d, '}'))
				break;
			return fail(d, d->p, "expected ',' or '}'");
		}
		d->depth--;
	}
	*cmdp = cmd;
	return 0;
}

/* Context = id { [props,] commands [, Error] }; the token is read. */
static int action(struct dec *d, bool reply, struct mg_action **actp)
{
	struct mg_item **ptail, *it;
	struct mg_cmd **ctail, *cmd = NULL;
	struct mg_action *act;
	const char *s;
	size_t len;
	unsigned code = d->code;
	int err;

	act = mg_msg_zalloc(d->msg, sizeof(*act));
	if (!act)
		return ENOMEM;
	ptail = &act->props;
	ctail = &act->cmds;
	if (code == 403)
		d->code = 422;
	err = expect(d, '=', "Context");
	if (err)
		return err;
	err = word(d, &s, &len, "a ContextID");
	if (err)
		return err;
	if (len == 1 && *s == '-')
		act->ctx = MG_CTX_NULL;
	else if (len == 1 && *s == '$')
		act->ctx = MG_CTX_CHOOSE;
	else if (len == 1 && *s == '*')
		act->ctx = MG_CTX_ALL;
	else if (parse_u32(s, len, &act->ctx) || act->ctx == MG_CTX_NULL ||
		 act->ctx >= MG_CTX_CHOOSE)
		return fail(d, s, "bad ContextID");
	if (!accept(d, '{')) {
		if (reply && d->version >= 3)
			goto done;
		return fail(d, d->p, "expected '{' after the ContextID");
	}
	if (reply && accept(d, '}'))
		goto done;
	for (;;) {
		err = word(d, &s, &len, "a command or context property");
		if (err)
			return err;
		if (act->err) {
			return fail(d, s, "nothing may follow the Error");
		} else if (mg_tok_lookup(s, len, d->version) ==
			   MG_TOK_ERROR) {
			err = error_desc(d, &act->err);
		} else if (memchr(s, '-', len) ||
			   cmd_of[mg_tok_lookup(s, len, d->version)]) {
			if (code == 403)
				d->code = 442;
			err = command(d, s, len, &cmd);
			if (code == 403)
				d->code = 422;
			if (!err) {
				*ctail = cmd;
				ctail = &cmd->next;
			}
		} else {
			if (act->cmds)
				return fail(d, s, "properties after commands");
			d->p = s;
			err = item(d, CX_CTX, &it);
			if (!err) {
				*ptail = it;
				ptail = &it->next;
			}
		}
		if (err)
			return err;
		if (accept(d, ',')) {
			if (accept(d, '}'))
				break;
			continue;
		}
		if (accept(d, '}'))
			break;
		return fail(d, d->p, "expected ',' or '}'");
	}
	if (!reply && !act->cmds && !act->props)
		return fail(d, d->p, "empty action");
 done:
	d->code = code;
	*actp = act;
	return 0;
}

/* id[/segment[/END]] (v3 segmentation, B.2 for Reply and Segment). */
static int trans_id(struct dec *d, struct mg_trans *t, bool segs)
{
	const char *s, *e, *p;
	size_t len;
	uint32_t v;
	int err;

	err = word(d, &s, &len, "a TransactionID");
	if (err)
		return err;
	e = s + len;
	p = memchr(s, '/', len);
	if (parse_u32(s, (size_t)((p ? p : e) - s), &t->id))
		return fail(d, s, "bad TransactionID");
	if (!p)
		return 0;
	if (!segs || d->version < 3)
		return fail(d, s, "bad TransactionID");
	s = p + 1;
	p = memchr(s, '/', (size_t)(e - s));
	if (parse_u32(s, (size_t)((p ? p : e) - s), &v) || v > 0xffff)
		return fail(d, s, "bad segment number");
	t->seg = true;
	t->seg_no = (uint16_t)v;
	if (!p)
		return 0;
	if (mg_tok_lookup(p + 1, (size_t)(e - p - 1), d->version) !=
	    MG_TOK_END)
		return fail(d, p + 1, "expected END");
	t->seg_end = true;
	return 0;
}

static int ack_list(struct dec *d, struct mg_trans *t)
{
	struct mg_ack tmp[256];
	const char *s, *dash;
	size_t len;
	unsigned n = 0;
	int err;

	err = expect(d, '{', "TransactionResponseAck");
	if (err)
		return err;
	do {
		if (n == GW_ARRAY_SIZE(tmp))
			return fail(d, d->p, "too many acks");
		err = word(d, &s, &len, "a TransactionID");
		if (err)
			return err;
		dash = memchr(s, '-', len);
		if (parse_u32(s, (size_t)((dash ? dash : s + len) - s),
			      &tmp[n].first))
			return fail(d, s, "bad TransactionID");
		tmp[n].last = tmp[n].first;
		if (dash && parse_u32(dash + 1, (size_t)(s + len - dash - 1),
				      &tmp[n].last))
			return fail(d, s, "bad TransactionID range");
		n++;
	} while (accept(d, ','));
	err = expect(d, '}', "the acknowledged ids");
	if (err)
		return err;
	t->acks = mg_msg_zalloc(d->msg, n * sizeof(*t->acks));
	if (!t->acks)
		return ENOMEM;
	memcpy(t->acks, tmp, n * sizeof(*t->acks));
	t->nacks = n;
	return 0;
}

static int transaction(struct dec *d, enum mg_tok tok, struct mg_trans **tp)
{
	struct mg_action **tail, *act;
	struct mg_trans *t;
	const char *s;
	size_t len;
	int err;

	t = mg_msg_zalloc(d->msg, sizeof(*t));
	if (!t)
		return ENOMEM;
	tail = &t->actions;
	switch (tok) {
	case MG_TOK_TRANS:
		t->type = MG_TRANS_REQUEST;
		err = expect(d, '=', "Transaction");
		if (!err)
			err = trans_id(d, t, false);
		if (err)
			return err;
		d->err->in_trans = true;
		d->err->trans_id = t->id;
		d->code = 403;
		err = expect(d, '{', "the TransactionID");
		if (err)
			return err;
		do {
			err = word(d, &s, &len, "an action");
			if (err)
				return err;
			if (mg_tok_lookup(s, len, d->version) != MG_TOK_CTX)
				return fail(d, s, "expected Context");
			err = action(d, false, &act);
			if (err)
				return err;
			*tail = act;
			tail = &act->next;
		} while (accept(d, ',') && peek(d) != '}');
		err = expect(d, '}', "the actions");
		d->code = 400;
		d->err->in_trans = false;
		break;
	case MG_TOK_REPLY:
		t->type = MG_TRANS_REPLY;
		err = expect(d, '=', "Reply");
		if (!err)
			err = trans_id(d, t, true);
		if (!err)
			err = expect(d, '{', "the TransactionID");
		if (err)
			return err;
		do {
			err = word(d, &s, &len, "an action reply");
			if (err)
				return err;
			tok = mg_tok_lookup(s, len, d->version);
			if (tok == MG_TOK_IMMACKREQUIRED && !t->imm_ack &&
			    !t->actions && !t->err) {
				t->imm_ack = true;
				err = expect(d, ',', "ImmAckRequired");
				if (!err)
					err = word(d, &s, &len,
						   "an action reply");
				if (err)
					return err;
				tok = mg_tok_lookup(s, len, d->version);
			}
			if (tok == MG_TOK_ERROR && !t->actions && !t->err) {
				err = error_desc(d, &t->err);
			} else if (tok == MG_TOK_CTX && !t->err) {
				err = action(d, true, &act);
				if (!err) {
					*tail = act;
					tail = &act->next;
				}
			} else {
				return fail(d, s, "expected Context or Error");
			}
			if (err)
				return err;
		} while (accept(d, ',') && peek(d) != '}');
		err = expect(d, '}', "the action replies");
		break;
	case MG_TOK_PENDING:
		t->type = MG_TRANS_PENDING;
		err = expect(d, '=', "Pending");
		if (!err)
			err = trans_id(d, t, false);
		if (!err)
			err = expect(d, '{', "the TransactionID");
		if (!err)
			err = expect(d, '}', "'{'");
		break;
	case MG_TOK_RESPONSEACK:
		t->type = MG_TRANS_ACK;
		err = ack_list(d, t);
		break;
	case MG_TOK_SEGMENT:
		t->type = MG_TRANS_SEGREPLY;
		err = expect(d, '=', "Segment");
		if (!err)
			err = trans_id(d, t, true);
		if (!err && !t->seg)
			err = fail(d, d->p, "expected a segment number");
		break;
	default:
		err = fail(d, d->p, "expected a transaction");
		break;
	}
	if (err)
		return err;
	*tp = t;
	return 0;
}

static bool is_trans_tok(enum mg_tok tok)
{
	return tok == MG_TOK_TRANS || tok == MG_TOK_REPLY ||
		tok == MG_TOK_PENDING || tok == MG_TOK_RESPONSEACK ||
		tok == MG_TOK_SEGMENT;
}

static int message(struct dec *d)
{
	struct mg_trans **tail = &d->msg->trans, *t = NULL;
	const char *s, *slash;
	size_t len;
	uint32_t v;
	enum mg_tok tok;
	int err;

	err = word(d, &s, &len, "MEGACO/version");
	if (err)
		return err;
	slash = memchr(s, '/', len);
	if (!slash || !((slash - s == 1 && *s == '!') ||
			(slash - s == 6 && !strncasecmp(s, "MEGACO", 6))))
		return fail(d, s, "expected MEGACO/version");
	if (parse_u32(slash + 1, (size_t)(s + len - slash - 1), &v) ||
	    s + len - slash - 1 > 2)
		return fail(d, slash + 1, "bad version");
	if (v < 1 || v > 3) {
		d->code = 406;
		return fail(d, slash + 1, "version %u not supported", v);
	}
	d->version = d->msg->version = v;
	if (d->p >= d->end || safe[(unsigned char)*d->p] ||
	    (*d->p != ' ' && *d->p != '\t' && *d->p != '\r' &&
	     *d->p != '\n' && *d->p != ';'))
		return fail(d, d->p, "expected a separator after the version");
	err = mid(d, &s, &len);
	if (err)
		return err;
	d->msg->mid = dup(d, s, len);
	if (!d->msg->mid)
		return ENOMEM;
	err = word(d, &s, &len, "a transaction");
	if (err)
		return err;
	tok = mg_tok_lookup(s, len, v);
	if (tok != MG_TOK_ERROR && !is_trans_tok(tok))
		return fail(d, s, "expected a transaction");
	if (tok == MG_TOK_ERROR) {
		err = error_desc(d, &d->msg->err);
		if (err)
			return err;
	} else {
		for (;;) {
			err = transaction(d, tok, &t);
			if (err)
				return err;
			*tail = t;
			tail = &t->next;
			if (peek(d) < 0)
				break;
			err = word(d, &s, &len, "a transaction");
			if (err)
				return err;
			tok = mg_tok_lookup(s, len, v);
			if (!is_trans_tok(tok))
				return fail(d, s, "expected a transaction");
		}
	}
	if (peek(d) >= 0)
		return fail(d, d->p, "trailing text");
	return 0;
}

/**
 * Decode the text message buf[0..len) (H.248.1 Annex B, versions 1-3)
 * into a new message tree in *msgp.  Returns 0; EBADMSG with err filled
 * in (code 400/403/422/442, or 406 for an unsupported version, and a
 * text naming the offending token with its line:column); or ENOMEM.
 * err may be NULL.
 */
int mg_text_decode(struct mg_msg **msgp, const void *buf, size_t len,
		   struct mg_text_err *err)
{
	struct mg_text_err dummy;
	struct dec d;
	int rc;

	if (!msgp || (!buf && len))
		return EINVAL;
	if (!err)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	/* Annex B's octets are printable text and white space: a NUL can
	 * only be damage, and would cut short the SDP kept verbatim. */
	if (len && memchr(buf, '\0', len)) {
		err->code = 400;
		snprintf(err->text, sizeof(err->text), "NUL octet at offset %zu",
			 (size_t)((const char *)memchr(buf, '\0', len) -
				  (const char *)buf));
		return EBADMSG;
	}
	pthread_once(&safe_once, safe_init);
	memset(&d, 0, sizeof(d));
	d.buf = d.p = buf ? buf : "";
	d.end = d.buf + len;
	d.err = err;
	d.code = 400;
	d.version = 3;
	rc = mg_msg_alloc(&d.msg, 1, NULL);
	if (rc)
		return rc;
	rc = message(&d);
	if (rc) {
		gw_mem_deref(d.msg);
		if (rc == EBADMSG && !err->code) {	/* cannot happen */
			err->code = 400;
			snprintf(err->text, sizeof(err->text), "syntax error");
		}
		return rc;
	}
	*msgp = d.msg;
	return 0;
}
