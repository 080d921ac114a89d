/* megaco/msg.c - H.248.1 message tree: arena, tokens, equality */
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core.h"
#include "mg.h"
#include "mg_int.h"

/*
 * The arena: a chain of refcounted chunks.  The first chunk sits in the
 * same block as struct mg_msg, so a small message costs one allocation;
 * further chunks are gw_mem blocks (counted by the leak check, failed by
 * gw_mem_fail_after like everything else).
 */
struct mg_arena {
	struct mg_arena *prev;	/* older chunk */
	size_t size, used;
	alignas(max_align_t) char data[];
};

#define ARENA_FIRST	3072
#define ARENA_CHUNK	8192

struct msg_block {
	struct mg_msg msg;
	struct mg_arena first;	/* data follows */
};

static void msg_destroy(void *data)
{
	struct mg_msg *msg = data;
	struct mg_arena *a = msg->arena, *prev;

	while (a && a->prev) {	/* the first chunk is part of the block */
		prev = a->prev;
		gw_mem_deref(a);
		a = prev;
	}
}

/**
 * Allocate an empty message of the given version (1..3) and MID (copied;
 * may be NULL and set later).  Returns 0, EINVAL or ENOMEM.
 */
int mg_msg_alloc(struct mg_msg **msgp, unsigned version, const char *mid)
{
	struct msg_block *b;

	if (!msgp || version < 1 || version > 3)
		return EINVAL;
	b = gw_mem_zalloc(sizeof(*b) + ARENA_FIRST, msg_destroy);
	if (!b)
		return ENOMEM;
	b->first.size = ARENA_FIRST;
	b->msg.arena = &b->first;
	b->msg.version = version;
	if (mid) {
		b->msg.mid = mg_msg_strdup(&b->msg, mid);
		if (!b->msg.mid) {
			gw_mem_deref(b);
			return ENOMEM;
		}
	}
	*msgp = &b->msg;
	return 0;
}

/**
 * Zeroed memory from msg's arena, freed with the message.  NULL when
 * memory is short.
 */
void *mg_msg_zalloc(struct mg_msg *msg, size_t size)
{
	struct mg_arena *a = msg->arena, *n;
	size_t off = (a->used + alignof(max_align_t) - 1) &
		~(alignof(max_align_t) - 1);
	size_t csize;
	void *p;

	if (off <= a->size && size <= a->size - off) {
		p = a->data + off;
		a->used = off + size;
		memset(p, 0, size);
		return p;
	}
	csize = size > ARENA_CHUNK / 2 ? size : ARENA_CHUNK;
	n = gw_mem_alloc(sizeof(*n) + csize, NULL);
	if (!n)
		return NULL;
	n->prev = a;
	n->size = csize;
	n->used = size;
	msg->arena = n;
	memset(n->data, 0, size);
	return n->data;
}

/**
 * A NUL-terminated copy of s[0..len) in msg's arena; NULL when memory is
 * short.
 */
const char *mg_msg_strndup(struct mg_msg *msg, const char *s, size_t len)
{
	struct mg_arena *a = msg->arena;
	char *p;

	if (len < a->size - a->used) {	/* strings need no alignment */
		p = a->data + a->used;
		a->used += len + 1;
	} else {
		p = mg_msg_zalloc(msg, len + 1);
		if (!p)
			return NULL;
	}
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/**
 * A copy of s in msg's arena, freed with the message; NULL for NULL or
 * when memory is short.
 */
const char *mg_msg_strdup(struct mg_msg *msg, const char *s)
{
	return s ? mg_msg_strndup(msg, s, strlen(s)) : NULL;
}

/* ------------------------------------------------------------------ */
/* Tokens                                                             */
/* ------------------------------------------------------------------ */

struct tok_def {
	const char *lng, *cmp, *alias1, *alias2;
	unsigned char ver;	/* first protocol version that has it */
};

/* Spellings as Erlang/OTP megaco 4.4 (megaco_text_tokens.hrl) writes
 * them; aliases are older spellings still read (pre-v3c drafts). */
static const struct tok_def toks[MG_TOK_COUNT_] = {
	[MG_TOK_ADD] = { "Add", "A", NULL, NULL, 1 },
	[MG_TOK_ANDLGC] = { "ANDLgc", "ANDLgc", NULL, NULL, 3 },
	[MG_TOK_AUDIT] = { "Audit", "AT", NULL, NULL, 1 },
	[MG_TOK_AUDITCAP] = { "AuditCapability", "AC", NULL, NULL, 1 },
	[MG_TOK_AUDITVALUE] = { "AuditValue", "AV", NULL, NULL, 1 },
	[MG_TOK_AUTH] = { "Authentication", "AU", NULL, NULL, 1 },
	[MG_TOK_BOTH] = { "Both", "B", NULL, NULL, 3 },
	[MG_TOK_BOTHWAY] = { "Bothway", "BW", NULL, NULL, 1 },
	[MG_TOK_BRIEF] = { "Brief", "BR", NULL, NULL, 1 },
	[MG_TOK_BUFFER] = { "Buffer", "BF", NULL, NULL, 1 },
	[MG_TOK_CTX] = { "Context", "C", NULL, NULL, 1 },
	[MG_TOK_CONTEXTAUDIT] = { "ContextAudit", "CA", NULL, NULL, 1 },
	[MG_TOK_CONTEXTATTR] = { "ContextAttr", "CT", NULL, NULL, 3 },
	[MG_TOK_CONTEXTLIST] = { "ContextList", "CLT", NULL, NULL, 3 },
	[MG_TOK_DIGITMAP] = { "DigitMap", "DM", NULL, NULL, 1 },
	[MG_TOK_DIRECTION] = { "SPADirection", "SPADI", "Direction", "DI",
			       3 },
	[MG_TOK_DISCONNECTED] = { "Disconnected", "DC", NULL, NULL, 1 },
	[MG_TOK_DELAY] = { "Delay", "DL", NULL, NULL, 1 },
	[MG_TOK_DURATION] = { "Duration", "DR", NULL, NULL, 1 },
	[MG_TOK_EMBED] = { "Embed", "EM", NULL, NULL, 1 },
	[MG_TOK_EMERGENCY] = { "Emergency", "EG", NULL, NULL, 1 },
	[MG_TOK_EMERGENCYOFF] = { "EmergencyOff", "EGO",
				  "EmergencyOffToken", NULL, 2 },
	[MG_TOK_EMERGENCYVALUE] = { "EmergencyValue", "EGV", NULL, NULL, 3 },
	[MG_TOK_ERROR] = { "Error", "ER", NULL, NULL, 1 },
	[MG_TOK_EVENTBUFFER] = { "EventBuffer", "EB", NULL, NULL, 1 },
	[MG_TOK_EVENTS] = { "Events", "E", NULL, NULL, 1 },
	[MG_TOK_EXTERNAL] = { "External", "EX", NULL, NULL, 3 },
	[MG_TOK_FAILOVER] = { "Failover", "FL", NULL, NULL, 1 },
	[MG_TOK_FORCED] = { "Forced", "FO", NULL, NULL, 1 },
	[MG_TOK_GRACEFUL] = { "Graceful", "GR", NULL, NULL, 1 },
	[MG_TOK_HANDOFF] = { "HandOff", "HO", NULL, NULL, 1 },
	[MG_TOK_IEPS] = { "IEPSCall", "IEPS", NULL, NULL, 3 },
	[MG_TOK_IMMACKREQUIRED] = { "ImmAckRequired", "IA", NULL, NULL, 1 },
	[MG_TOK_INACTIVE] = { "Inactive", "IN", NULL, NULL, 1 },
	[MG_TOK_INTERNAL] = { "Internal", "IT", NULL, NULL, 3 },
	[MG_TOK_INTSIGDELAY] = { "Intersignal", "SPAIS", NULL, NULL, 3 },
	[MG_TOK_INTBYEVENT] = { "IntByEvent", "IBE", NULL, NULL, 1 },
	[MG_TOK_INTBYSIGDESCR] = { "IntBySigDescr", "IBS", NULL, NULL, 1 },
	[MG_TOK_ISOLATE] = { "Isolate", "IS", NULL, NULL, 1 },
	[MG_TOK_INSERVICE] = { "InService", "IV", NULL, NULL, 1 },
	[MG_TOK_ITERATION] = { "Iteration", "IR", NULL, NULL, 3 },
	[MG_TOK_KEEPACTIVE] = { "KeepActive", "KA", NULL, NULL, 1 },
	[MG_TOK_LOCAL] = { "Local", "L", NULL, NULL, 1 },
	[MG_TOK_LOCALCONTROL] = { "LocalControl", "O", NULL, NULL, 1 },
	[MG_TOK_LOCKSTEP] = { "LockStep", "SP", NULL, NULL, 1 },
	[MG_TOK_LOOPBACK] = { "Loopback", "LB", NULL, NULL, 1 },
	[MG_TOK_MEDIA] = { "Media", "M", NULL, NULL, 1 },
	[MG_TOK_SEGMENT] = { "Segment", "SM", NULL, NULL, 3 },
	[MG_TOK_METHOD] = { "Method", "MT", NULL, NULL, 1 },
	[MG_TOK_MGCID] = { "MgcIdToTry", "MG", NULL, NULL, 1 },
	[MG_TOK_MODE] = { "Mode", "MO", NULL, NULL, 1 },
	[MG_TOK_MODIFY] = { "Modify", "MF", NULL, NULL, 1 },
	[MG_TOK_MODEM] = { "Modem", "MD", NULL, NULL, 1 },
	[MG_TOK_MOVE] = { "Move", "MV", NULL, NULL, 1 },
	[MG_TOK_MUX] = { "Mux", "MX", NULL, NULL, 1 },
	[MG_TOK_NEVERNOTIFY] = { "NeverNotify", "NBNN", NULL, NULL, 3 },
	[MG_TOK_NOTIFY] = { "Notify", "N", NULL, NULL, 1 },
	[MG_TOK_NOTIFYCOMPLETION] = { "NotifyCompletion", "NC", NULL, NULL,
				      1 },
	[MG_TOK_IMMEDIATENOTIFY] = { "ImmediateNotify", "NBIN", NULL, NULL,
				     3 },
	[MG_TOK_REGULATEDNOTIFY] = { "RegulatedNotify", "NBRN", NULL, NULL,
				     3 },
	[MG_TOK_OBSERVEDEVENTS] = { "ObservedEvents", "OE", NULL, NULL, 1 },
	[MG_TOK_OFF] = { "OFF", "OFF", NULL, NULL, 1 },
	[MG_TOK_ONEWAY] = { "Oneway", "OW", NULL, NULL, 1 },
	[MG_TOK_ONEWAYBOTH] = { "OnewayBoth", "OWB", NULL, NULL, 3 },
	[MG_TOK_ONEWAYEXTERNAL] = { "OnewayExternal", "OWE", NULL, NULL, 3 },
	[MG_TOK_ONOFF] = { "OnOff", "OO", NULL, NULL, 1 },
	[MG_TOK_ORLGC] = { "ORLgc", "ORLgc", NULL, NULL, 3 },
	[MG_TOK_ON] = { "ON", "ON", NULL, NULL, 1 },
	[MG_TOK_OTHERREASON] = { "OtherReason", "OR", NULL, NULL, 1 },
	[MG_TOK_OUTOFSERVICE] = { "OutOfService", "OS", NULL, NULL, 1 },
	[MG_TOK_PACKAGES] = { "Packages", "PG", NULL, NULL, 1 },
	[MG_TOK_PENDING] = { "Pending", "PN", NULL, NULL, 1 },
	[MG_TOK_PRIORITY] = { "Priority", "PR", NULL, NULL, 1 },
	[MG_TOK_PROFILE] = { "Profile", "PF", NULL, NULL, 1 },
	[MG_TOK_REASON] = { "Reason", "RE", NULL, NULL, 1 },
	[MG_TOK_RECVONLY] = { "ReceiveOnly", "RC", NULL, NULL, 1 },
	[MG_TOK_REPLY] = { "Reply", "P", NULL, NULL, 1 },
	[MG_TOK_RESETEVENTS] = { "ResetEventsDescriptor", "RSE", NULL, NULL,
				 3 },
	[MG_TOK_RESTART] = { "Restart", "RS", NULL, NULL, 1 },
	[MG_TOK_REMOTE] = { "Remote", "R", NULL, NULL, 1 },
	[MG_TOK_REQUESTID] = { "SPARequestID", "SPARQ", "RequestID", "RQ",
			       3 },
	[MG_TOK_RESERVEDGROUP] = { "ReservedGroup", "RG", NULL, NULL, 1 },
	[MG_TOK_RESERVEDVALUE] = { "ReservedValue", "RV", NULL, NULL, 1 },
	[MG_TOK_END] = { "END", "&", NULL, NULL, 3 },
	[MG_TOK_SENDONLY] = { "SendOnly", "SO", NULL, NULL, 1 },
	[MG_TOK_SENDRECV] = { "SendReceive", "SR", NULL, NULL, 1 },
	[MG_TOK_SERVICES] = { "Services", "SV", NULL, NULL, 1 },
	[MG_TOK_SERVICESTATES] = { "ServiceStates", "SI", NULL, NULL, 1 },
	[MG_TOK_SERVICECHANGE] = { "ServiceChange", "SC", NULL, NULL, 1 },
	[MG_TOK_SCADDRESS] = { "ServiceChangeAddress", "AD", NULL, NULL, 1 },
	[MG_TOK_SCINCOMPLETE] = { "ServiceChangeInc", "SIC", NULL, NULL, 3 },
	[MG_TOK_SIGNALLIST] = { "SignalList", "SL", NULL, NULL, 1 },
	[MG_TOK_SIGNALS] = { "Signals", "SG", NULL, NULL, 1 },
	[MG_TOK_SIGNALTYPE] = { "SignalType", "SY", NULL, NULL, 1 },
	[MG_TOK_STATS] = { "Statistics", "SA", NULL, NULL, 1 },
	[MG_TOK_STREAM] = { "Stream", "ST", NULL, NULL, 1 },
	[MG_TOK_SUBTRACT] = { "Subtract", "S", NULL, NULL, 1 },
	[MG_TOK_TERMSTATE] = { "TerminationState", "TS", NULL, NULL, 1 },
	[MG_TOK_TEST] = { "Test", "TE", NULL, NULL, 1 },
	[MG_TOK_TIMEOUT] = { "TimeOut", "TO", NULL, NULL, 1 },
	[MG_TOK_TOPOLOGY] = { "Topology", "TP", NULL, NULL, 1 },
	[MG_TOK_TRANS] = { "Transaction", "T", NULL, NULL, 1 },
	[MG_TOK_RESPONSEACK] = { "TransactionResponseAck", "K", NULL, NULL,
				 1 },
	[MG_TOK_VERSION] = { "Version", "V", NULL, NULL, 1 },
};

/**
 * The spelling of tok: compact ("SR") or long ("SendReceive").
 */
const char *mg_tok_name(enum mg_tok tok, bool compact)
{
	if (tok <= MG_TOK_NONE || tok >= MG_TOK_COUNT_)
		return "?";
	return compact ? toks[tok].cmp : toks[tok].lng;
}

/* Case-insensitive open-addressing hash of every spelling, built once. */
#define TOK_HASH 1024

struct tok_slot {
	const char *s;
	unsigned char len;
	unsigned char tok;
};

static struct tok_slot tok_hash[TOK_HASH];
static pthread_once_t tok_once = PTHREAD_ONCE_INIT;

static unsigned hash_ci(const char *s, size_t len)
{
	unsigned h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)(s[i] | 0x20)) * 16777619u;
	return h;
}

static void tok_put(const char *s, enum mg_tok tok)
{
	size_t len = strlen(s);
	unsigned i = hash_ci(s, len) & (TOK_HASH - 1);

	while (tok_hash[i].s) {
		if (tok_hash[i].len == len &&
		    !strncasecmp(tok_hash[i].s, s, len))
			return;		/* "ON"/"ON": one slot */
		i = (i + 1) & (TOK_HASH - 1);
	}
	tok_hash[i].s = s;
	tok_hash[i].len = (unsigned char)len;
	tok_hash[i].tok = (unsigned char)tok;
}

static void tok_init(void)
{
	int t;

	for (t = 1; t < MG_TOK_COUNT_; t++) {
		tok_put(toks[t].lng, t);
		tok_put(toks[t].cmp, t);
		if (toks[t].alias1)
			tok_put(toks[t].alias1, t);
		if (toks[t].alias2)
			tok_put(toks[t].alias2, t);
	}
}

/**
 * The token spelt s[0..len) in any case and either form, as the grammar
 * of the given version knows it; MG_TOK_NONE for anything else.
 */
enum mg_tok mg_tok_lookup(const char *s, size_t len, unsigned version)
{
	unsigned i;

	if (len == 0 || len > 24)
		return MG_TOK_NONE;
	pthread_once(&tok_once, tok_init);
	i = hash_ci(s, len) & (TOK_HASH - 1);
	while (tok_hash[i].s) {
		if (tok_hash[i].len == len &&
		    !strncasecmp(tok_hash[i].s, s, len)) {
			if (toks[tok_hash[i].tok].ver > version)
				return MG_TOK_NONE;
			return (enum mg_tok)tok_hash[i].tok;
		}
		i = (i + 1) & (TOK_HASH - 1);
	}
	return MG_TOK_NONE;
}

/* ------------------------------------------------------------------ */
/* Equality                                                           */
/* ------------------------------------------------------------------ */

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

static bool err_eq(const struct mg_err *a, const struct mg_err *b)
{
	if (!a || !b)
		return a == b;
	return a->code == b->code && str_eq(a->text, b->text);
}

static bool items_eq(const struct mg_item *a, const struct mg_item *b)
{
	unsigned i;

	for (; a && b; a = a->next, b = b->next) {
		if (a->tok != b->tok || !str_eq(a->name, b->name) ||
		    !str_eq(a->stamp, b->stamp) || a->op != b->op ||
		    a->vlist != b->vlist || a->nval != b->nval ||
		    !str_eq(a->text, b->text))
			return false;
		for (i = 0; i < a->nval; i++) {
			if (a->val[i].tok != b->val[i].tok ||
			    a->val[i].quoted != b->val[i].quoted ||
			    !str_eq(a->val[i].s, b->val[i].s))
				return false;
		}
		if (!items_eq(a->kids, b->kids))
			return false;
	}
	return !a && !b;
}

static bool cmds_eq(const struct mg_cmd *a, const struct mg_cmd *b)
{
	unsigned i;

	for (; a && b; a = a->next, b = b->next) {
		if (a->ntids != b->ntids)
			return false;
		for (i = 0; i < a->ntids; i++) {
			if (strcmp(a->tids[i], b->tids[i]))
				return false;
		}
		if (a->type != b->type || a->optional != b->optional ||
		    a->wildcard != b->wildcard || !str_eq(a->tid, b->tid) ||
		    !items_eq(a->desc, b->desc) || !err_eq(a->err, b->err))
			return false;
	}
	return !a && !b;
}

static bool actions_eq(const struct mg_action *a, const struct mg_action *b)
{
	for (; a && b; a = a->next, b = b->next) {
		if (a->ctx != b->ctx || !items_eq(a->props, b->props) ||
		    !cmds_eq(a->cmds, b->cmds) || !err_eq(a->err, b->err))
			return false;
	}
	return !a && !b;
}

/**
 * Whether two messages carry the same tree (token spelling, case of
 * tokens and layout do not count; names and values do).
 */
bool mg_msg_equal(const struct mg_msg *a, const struct mg_msg *b)
{
	const struct mg_trans *ta, *tb;
	unsigned i;

	if (a->version != b->version || !str_eq(a->mid, b->mid) ||
	    !err_eq(a->err, b->err))
		return false;
	for (ta = a->trans, tb = b->trans; ta && tb;
	     ta = ta->next, tb = tb->next) {
		if (ta->type != tb->type || ta->id != tb->id ||
		    ta->imm_ack != tb->imm_ack || ta->seg != tb->seg ||
		    ta->seg_no != tb->seg_no || ta->seg_end != tb->seg_end ||
		    !err_eq(ta->err, tb->err) || ta->nacks != tb->nacks ||
		    !actions_eq(ta->actions, tb->actions))
			return false;
		for (i = 0; i < ta->nacks; i++) {
			if (ta->acks[i].first != tb->acks[i].first ||
			    ta->acks[i].last != tb->acks[i].last)
				return false;
		}
	}
	return !ta && !tb;
}

/* ---- building messages ---------------------------------------------- */

/*
 * The builders append to a message's tree in its arena.  Each returns
 * NULL when memory is short or when its parent is NULL, so that a
 * sequence of calls needs one check at its end.
 */

/** Append a transaction of the given type and id. */
struct mg_trans *mg_msg_add_trans(struct mg_msg *msg, enum mg_trans_type type,
				  uint32_t id)
{
	struct mg_trans *t, **tp;

	if (!msg || !(t = mg_msg_zalloc(msg, sizeof(*t))))
		return NULL;
	t->type = type;
	t->id = id;
	for (tp = &msg->trans; *tp; tp = &(*tp)->next)
		;
	*tp = t;
	return t;
}

/** Append an action on context ctx to t. */
struct mg_action *mg_trans_add_action(struct mg_msg *msg, struct mg_trans *t,
				      uint32_t ctx)
{
	struct mg_action *a, **ap;

	if (!t || !(a = mg_msg_zalloc(msg, sizeof(*a))))
		return NULL;
	a->ctx = ctx;
	for (ap = &t->actions; *ap; ap = &(*ap)->next)
		;
	*ap = a;
	return a;
}

/** Append a command (or a command reply) on termination tid to a. */
struct mg_cmd *mg_action_add_cmd(struct mg_msg *msg, struct mg_action *a,
				 enum mg_cmd_type type, const char *tid)
{
	struct mg_cmd *c, **cp;

	if (!a || !(c = mg_msg_zalloc(msg, sizeof(*c))))
		return NULL;
	c->type = type;
	c->tid = mg_msg_strdup(msg, tid);
	if (!c->tid)
		return NULL;
	for (cp = &a->cmds; *cp; cp = &(*cp)->next)
		;
	*cp = c;
	return c;
}

/** Append an item (a token, or a name when tok is MG_TOK_NONE) to the
 * list at *listp.  listp NULL: a parent failed. */
struct mg_item *mg_item_add(struct mg_msg *msg, struct mg_item **listp,
			    enum mg_tok tok, const char *name)
{
	struct mg_item *it;

	if (!listp || !(it = mg_msg_zalloc(msg, sizeof(*it))))
		return NULL;
	it->tok = tok;
	if (!tok && !(it->name = mg_msg_strdup(msg, name)))
		return NULL;
	while (*listp)
		listp = &(*listp)->next;
	*listp = it;
	return it;
}

/** Give it the value "= vtok" (vtok set) or "= word" (printf-style). */
/*
 * Annex B's quotedString has no escapes: DQUOTE *(SafeChar / RestChar /
 * WSP) DQUOTE, i.e. HTAB and the printable ASCII characters except '"'.
 * The builders replace what cannot be written, rather than refuse it:
 * the values and texts they take come from names, configuration and
 * peers' messages, and one odd character must not cost a reply.  '"'
 * becomes '\'' and any other byte outside the set (controls, DEL,
 * non-ASCII) becomes '?'.  Returns how many were replaced.
 */
static unsigned quotable(char *s)
{
	unsigned n = 0;

	for (; *s; s++) {
		if (*s == '"') {
			*s = '\'';
			n++;
		} else if (*s != '\t' && (*s < 0x20 || *s > 0x7e)) {
			*s = '?';
			n++;
		}
	}
	return n;
}

struct mg_item *mg_item_set(struct mg_msg *msg, struct mg_item *it,
			    enum mg_tok vtok, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (!it || !(it->val = mg_msg_zalloc(msg, sizeof(*it->val))))
		return NULL;
	it->op = MG_OP_EQ;
	it->nval = 1;
	if (vtok) {
		it->val->tok = vtok;
		return it;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	quotable(buf);
	it->val->s = mg_msg_strdup(msg, buf);
	/* Annex B quotes what is not a plain word. */
	it->val->quoted = strpbrk(buf, " \t,=;{}()[]") != NULL || !*buf;
	return it->val->s ? it : NULL;
}

/** An Error descriptor, code and optional text. */
struct mg_err *mg_err_new(struct mg_msg *msg, unsigned code, const char *text)
{
	struct mg_err *e = mg_msg_zalloc(msg, sizeof(*e));

	if (!e)
		return NULL;
	e->code = code;
	if (text && !(e->text = mg_msg_strdup(msg, text)))
		return NULL;
	if (text)	/* arena copy: ours to clean (quotedString) */
		quotable((char *)e->text);
	return e;
}
