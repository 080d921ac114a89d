/* megaco/mg.h - H.248.1 (MEGACO): public interface of megaco/ */
#ifndef GW_MG_H
#define GW_MG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ------------------------------------------------------------------ */
/* Text codec (H.248.1 Annex B; megaco/msg.c, text_dec.c, text_enc.c)  */
/* ------------------------------------------------------------------ */

/*
 * The message tree.  A decoded or built message is one refcounted block
 * (struct mg_msg) that owns an arena: every node and string below it lives
 * in that arena and goes with the message's last reference.  Nodes are
 * never freed one by one; messages are short-lived.
 *
 * The upper levels are typed (message, transactions, actions, commands);
 * descriptors are a tree of struct mg_item checked against the Annex B
 * grammar by the decoder: every item is "name [op value] [{ items }]",
 * its name either a protocol token (enum mg_tok, spelling-independent:
 * "Media" = "M" = "media") or a package/termination name kept verbatim.
 * Local and Remote keep their SDP, DigitMap its body, verbatim as text.
 */

/* Protocol tokens (Erlang/OTP megaco_text_tokens.hrl lists every pair). */
enum mg_tok {
	MG_TOK_NONE = 0,
	MG_TOK_ADD, MG_TOK_ANDLGC, MG_TOK_AUDIT, MG_TOK_AUDITCAP,
	MG_TOK_AUDITVALUE, MG_TOK_AUTH, MG_TOK_BOTH, MG_TOK_BOTHWAY,
	MG_TOK_BRIEF, MG_TOK_BUFFER, MG_TOK_CTX, MG_TOK_CONTEXTAUDIT,
	MG_TOK_CONTEXTATTR, MG_TOK_CONTEXTLIST, MG_TOK_DIGITMAP,
	MG_TOK_DIRECTION, MG_TOK_DISCONNECTED, MG_TOK_DELAY,
	MG_TOK_DURATION, MG_TOK_EMBED, MG_TOK_EMERGENCY, MG_TOK_EMERGENCYOFF,
	MG_TOK_EMERGENCYVALUE, MG_TOK_ERROR, MG_TOK_EVENTBUFFER,
	MG_TOK_EVENTS, MG_TOK_EXTERNAL, MG_TOK_FAILOVER, MG_TOK_FORCED,
	MG_TOK_GRACEFUL, MG_TOK_HANDOFF, MG_TOK_IEPS, MG_TOK_IMMACKREQUIRED,
	MG_TOK_INACTIVE, MG_TOK_INTERNAL, MG_TOK_INTSIGDELAY,
	MG_TOK_INTBYEVENT, MG_TOK_INTBYSIGDESCR, MG_TOK_ISOLATE,
	MG_TOK_INSERVICE, MG_TOK_ITERATION, MG_TOK_KEEPACTIVE, MG_TOK_LOCAL,
	MG_TOK_LOCALCONTROL, MG_TOK_LOCKSTEP, MG_TOK_LOOPBACK, MG_TOK_MEDIA,
	MG_TOK_SEGMENT, MG_TOK_METHOD, MG_TOK_MGCID, MG_TOK_MODE,
	MG_TOK_MODIFY, MG_TOK_MODEM, MG_TOK_MOVE, MG_TOK_MUX,
	MG_TOK_NEVERNOTIFY, MG_TOK_NOTIFY, MG_TOK_NOTIFYCOMPLETION,
	MG_TOK_IMMEDIATENOTIFY, MG_TOK_REGULATEDNOTIFY,
	MG_TOK_OBSERVEDEVENTS, MG_TOK_OFF, MG_TOK_ONEWAY, MG_TOK_ONEWAYBOTH,
	MG_TOK_ONEWAYEXTERNAL, MG_TOK_ONOFF, MG_TOK_ORLGC, MG_TOK_ON,
	MG_TOK_OTHERREASON, MG_TOK_OUTOFSERVICE, MG_TOK_PACKAGES,
	MG_TOK_PENDING, MG_TOK_PRIORITY, MG_TOK_PROFILE, MG_TOK_REASON,
	MG_TOK_RECVONLY, MG_TOK_REPLY, MG_TOK_RESETEVENTS, MG_TOK_RESTART,
	MG_TOK_REMOTE, MG_TOK_REQUESTID, MG_TOK_RESERVEDGROUP,
	MG_TOK_RESERVEDVALUE, MG_TOK_END, MG_TOK_SENDONLY, MG_TOK_SENDRECV,
	MG_TOK_SERVICES, MG_TOK_SERVICESTATES, MG_TOK_SERVICECHANGE,
	MG_TOK_SCADDRESS, MG_TOK_SCINCOMPLETE, MG_TOK_SIGNALLIST,
	MG_TOK_SIGNALS, MG_TOK_SIGNALTYPE, MG_TOK_STATS, MG_TOK_STREAM,
	MG_TOK_SUBTRACT, MG_TOK_TERMSTATE, MG_TOK_TEST, MG_TOK_TIMEOUT,
	MG_TOK_TOPOLOGY, MG_TOK_TRANS, MG_TOK_RESPONSEACK, MG_TOK_VERSION,
	MG_TOK_COUNT_
};

/* Context ids: "-" (NULL context), "$" (CHOOSE), "*" (ALL) [H.248.1 6.1]. */
#define MG_CTX_NULL	0u
#define MG_CTX_CHOOSE	0xfffffffeu
#define MG_CTX_ALL	0xffffffffu

enum mg_op {			/* how a parameter relates to its value */
	MG_OP_NONE = 0,		/* a bare name */
	MG_OP_EQ,		/* = */
	MG_OP_NE,		/* != (v2 and later) */
	MG_OP_LT,		/* < */
	MG_OP_GT,		/* > */
	MG_OP_NEQUAL,		/* # */
};

enum mg_vlist {
	MG_VL_ONE = 0,		/* one value */
	MG_VL_AND,		/* [a, b, c] */
	MG_VL_OR,		/* {a, b, c} */
	MG_VL_RANGE,		/* [a : b] */
};

struct mg_word {
	const char *s;		/* the word; NULL when tok is set */
	enum mg_tok tok;	/* a token value (Mode = SendReceive) */
	bool quoted;		/* written as "..." */
};

struct mg_item {
	struct mg_item *next;
	enum mg_tok tok;	/* a descriptor/parameter token, or NONE */
	const char *name;	/* when tok is NONE: pkg/item, id, word */
	const char *stamp;	/* ObservedEvents: yyyymmddThhmmsshh or NULL */
	enum mg_op op;
	enum mg_vlist vlist;
	unsigned nval;
	struct mg_word *val;
	const char *text;	/* Local/Remote SDP, DigitMap body (verbatim,
				 * "" when empty); NULL: none */
	struct mg_item *kids;	/* the items in { } */
};

struct mg_err {			/* Error descriptor [H.248.8] */
	unsigned code;		/* 1..9999 */
	const char *text;	/* NULL: no text */
};

enum mg_cmd_type {
	MG_CMD_ADD, MG_CMD_MODIFY, MG_CMD_SUBTRACT, MG_CMD_MOVE,
	MG_CMD_AUDITVALUE, MG_CMD_AUDITCAP, MG_CMD_NOTIFY,
	MG_CMD_SERVICECHANGE,
};

struct mg_cmd {
	struct mg_cmd *next;
	enum mg_cmd_type type;
	bool optional;		/* O- */
	bool wildcard;		/* W- */
	const char *tid;	/* termination id: ROOT, "*", "$", a name */
	unsigned ntids;		/* v3 list form "[a, b]": > 0, tids[0] ==
				 * tid; 0 for the single id */
	const char **tids;
	struct mg_item *desc;	/* descriptors, in order */
	struct mg_err *err;	/* command reply / Notify error, or NULL */
};

struct mg_action {
	struct mg_action *next;
	uint32_t ctx;		/* or MG_CTX_NULL / _CHOOSE / _ALL */
	struct mg_item *props;	/* context request, attributes, audit:
				 * Priority, Emergency, Topology, IEPSCall,
				 * ContextAttr, ContextAudit */
	struct mg_cmd *cmds;
	struct mg_err *err;	/* action reply error, or NULL */
};

enum mg_trans_type {
	MG_TRANS_REQUEST,	/* Transaction = id { actions } */
	MG_TRANS_REPLY,		/* Reply = id { [IA,] actions | Error } */
	MG_TRANS_PENDING,	/* Pending = id { } */
	MG_TRANS_ACK,		/* TransactionResponseAck { a-b, ... } */
	MG_TRANS_SEGREPLY,	/* Segment = id/n[/END] (v3) */
};

struct mg_ack {
	uint32_t first, last;	/* last == first for a single id */
};

struct mg_trans {
	struct mg_trans *next;
	enum mg_trans_type type;
	uint32_t id;		/* not used by ACK */
	bool imm_ack;		/* REPLY: ImmAckRequired */
	bool seg;		/* REPLY, SEGREPLY: segment number present */
	uint16_t seg_no;
	bool seg_end;		/* ... and segmentation complete (END) */
	struct mg_err *err;	/* REPLY: transaction error */
	struct mg_action *actions;
	unsigned nacks;		/* ACK */
	struct mg_ack *acks;
};

struct mg_arena;

struct mg_msg {
	unsigned version;	/* 1..3 */
	const char *mid;	/* [ip]:port, <name>:port, MTP{..}, device */
	struct mg_err *err;	/* message-level error, or NULL */
	struct mg_trans *trans;	/* or NULL when err is set */
	struct mg_arena *arena;	/* private */
};

/* Why a decode failed, for the error reply (H.248.8 codes). */
struct mg_text_err {
	unsigned code;		/* 400, 403, 406, 422, 442 */
	bool in_trans;		/* trans_id names the request it hit */
	uint32_t trans_id;
	unsigned line, col;	/* 1-based position of the offending token */
	char text[160];		/* e.g. "unexpected 'Sideways' at 3:12" */
};

enum mg_text_style {
	MG_TEXT_COMPACT,	/* compact tokens, no layout */
	MG_TEXT_PRETTY,		/* long tokens, one item a line, tabs */
};

int  mg_msg_alloc(struct mg_msg **msgp, unsigned version, const char *mid);
void *mg_msg_zalloc(struct mg_msg *msg, size_t size);
const char *mg_msg_strdup(struct mg_msg *msg, const char *s);
bool mg_msg_equal(const struct mg_msg *a, const struct mg_msg *b);

const char *mg_tok_name(enum mg_tok tok, bool compact);
enum mg_tok mg_tok_lookup(const char *s, size_t len, unsigned version);

/* Building a message (NULL on ENOMEM or a NULL parent: one check at the
 * end of a sequence of calls). */
struct mg_trans *mg_msg_add_trans(struct mg_msg *msg, enum mg_trans_type type,
				  uint32_t id);
struct mg_action *mg_trans_add_action(struct mg_msg *msg, struct mg_trans *t,
				      uint32_t ctx);
struct mg_cmd *mg_action_add_cmd(struct mg_msg *msg, struct mg_action *a,
				 enum mg_cmd_type type, const char *tid);
struct mg_item *mg_item_add(struct mg_msg *msg, struct mg_item **listp,
			    enum mg_tok tok, const char *name);
struct mg_item *mg_item_set(struct mg_msg *msg, struct mg_item *it,
			    enum mg_tok vtok, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
struct mg_err *mg_err_new(struct mg_msg *msg, unsigned code,
			  const char *text);

int  mg_text_decode(struct mg_msg **msgp, const void *buf, size_t len,
		    struct mg_text_err *err);
int  mg_text_encode_buf(char *buf, size_t size, size_t *lenp,
			const struct mg_msg *msg, enum mg_text_style style);
int  mg_text_encode(char **strp, const struct mg_msg *msg,
		    enum mg_text_style style);

/* ------------------------------------------------------------------ */
/* Transactions (megaco/tsx.c; H.248.1 s.8, Annex D.1 UDP, D.2 TCP)   */
/* ------------------------------------------------------------------ */

/*
 * An endpoint is one UDP socket with our MID, shared by the MG and the
 * MGC sides: it sends requests and retransmits them (D.1.3), detects
 * duplicates of the requests it receives (D.1.1), answers them from
 * stored replies, sends Pending and handles ImmAckRequired and
 * TransactionResponseAck (D.1.2.2, s.8.2.3).  Replies and Pendings go
 * to the source address of the request (s.9).  With conf.tcp the
 * endpoint listens on TCP instead, frames messages with TPKT (D.2),
 * connects to peers as needed and does not retransmit.
 */

struct mg_tsx_ep;
struct mg_tsx_req;		/* a received request, until answered */

/* An IPv4 or IPv6 address and port: a struct sockaddr_in or _in6 (no
 * socket headers here: their accept() would clash with the codec's). */
struct mg_addr {
	union {
		unsigned char b[28];
		uint32_t align_;
	} sa;
	unsigned len;		/* bytes used in sa; 0: none */
};

struct mg_tsx_conf {		/* 0 / NULL: the default in brackets */
	const char *mid;	/* our MID, "[192.0.2.1]:2944" (required) */
	unsigned version;	/* of the messages we write [1] */
	enum mg_text_style style;
	unsigned rto_init_ms;	/* first retransmission timer [200] */
	unsigned rto_min_ms;	/* floor of the RTT estimate [100] */
	unsigned rto_max_ms;	/* back-off cap [4000] */
	unsigned tmax_ms;	/* give up after, T-MAX [30000] */
	unsigned long_timer_ms;	/* keep replies and acked ids [30000] */
	unsigned pending_ms;	/* normalMGExecutionTime: Pending [200] */
	size_t max_msg;		/* largest message in or out [65507] */
	bool tcp;		/* TCP with TPKT framing (D.2), not UDP */
};

/* The reply to a request sent: err 0 and reply (borrowed, in msg, which
 * can be kept with gw_mem_ref), or ETIMEDOUT and NULLs; called once. */
typedef void (mg_tsx_resp_h)(int err, const struct mg_trans *reply,
			     const struct mg_msg *msg, void *arg);
/* A new request (never a duplicate): trans and msg are valid until req
 * is answered; req is the handler's, released by mg_tsx_reply or
 * mg_tsx_reply_error (now or later) or by gw_mem_deref (the transaction
 * is then forgotten: a repetition executes again). */
typedef void (mg_tsx_req_h)(struct mg_tsx_req *req,
			    const struct mg_trans *trans,
			    const struct mg_msg *msg, void *arg);

int  mg_addr_set(struct mg_addr *addr, const char *ip, uint16_t port);
char *mg_addr_str(const struct mg_addr *addr, char *buf, size_t size);

int  mg_tsx_ep_alloc(struct mg_tsx_ep **epp, const struct mg_addr *local,
		     const struct mg_tsx_conf *conf, mg_tsx_req_h *reqh,
		     void *arg);
int  mg_tsx_ep_local(const struct mg_tsx_ep *ep, struct mg_addr *addr);
void mg_tsx_ep_set_version(struct mg_tsx_ep *ep, unsigned version);
/* Fail every request still waiting for its reply with ECANCELED: its
 * owner is stopping (the replies would come to nobody). */
void mg_tsx_ep_cancel(struct mg_tsx_ep *ep);
int  mg_tsx_send(struct mg_tsx_ep *ep, const struct mg_addr *peer,
		 struct mg_msg *msg, mg_tsx_resp_h *h, void *arg,
		 uint32_t *idp);
void mg_tsx_cancel(struct mg_tsx_ep *ep, uint32_t id);
int  mg_tsx_reply(struct mg_tsx_req *req, struct mg_msg *reply);
int  mg_tsx_reply_error(struct mg_tsx_req *req, unsigned code,
			const char *text);
const struct mg_addr *mg_tsx_req_peer(const struct mg_tsx_req *req);

/* ------------------------------------------------------------------ */
/* Digit maps (megaco/digitmap.c; H.248.1 s.7.1.14, E.6 dd package)   */
/* ------------------------------------------------------------------ */

/*
 * A digit map is parsed once (mg_dmap_parse, from the DigitMap
 * descriptor's body) and shared by the collections that use it.  A
 * collection (mg_dcoll) is fed the events detected on its termination
 * and the expiry of the one timer it asks for; it says when the
 * collection is complete and how (the dd/ce Meth parameter).  Event
 * symbols are the digit map's: '0'-'9', 'A'-'K' (E is '*', F is '#').
 * No timers are run here: the caller arms one for *timer_ms.
 */

struct mg_dmap;
struct mg_dcoll;

struct mg_dmap_timers {		/* ms; H.248.1 E.6.3 defaults */
	unsigned t_ms;		/* start (inter-digit, no match yet) */
	unsigned s_ms;		/* short: a full match could grow */
	unsigned l_ms;		/* long: explicit L in the map */
};

enum mg_dcoll_res {
	MG_DCOLL_WAIT,		/* arm a timer of *timer_ms and go on */
	MG_DCOLL_UM,		/* complete: unambiguous match */
	MG_DCOLL_PM,		/* complete: partial match (timeout or an
				 * event that fits no alternative) */
	MG_DCOLL_FM,		/* complete: full match (timeout, or an
				 * event that fits no alternative) */
};

/* body: "(0|00|[1-7]xxx|8xxxxxxx|Fxxxxxxx|Exx|91xxxxxxxxxx|9011x.)", a
 * single alternative without parentheses, optionally preceded by timer
 * settings "T:10,S:5,L:20," (v2 Annex B).  err gets a reason naming the
 * offending character. */
int  mg_dmap_parse(struct mg_dmap **dmp, const char *body, char *err,
		   size_t errlen);
void mg_dmap_timers(const struct mg_dmap *dm, struct mg_dmap_timers *t);
/* The symbol for a DTMF digit ('0'-'9', '*' -> 'E', '#' -> 'F',
 * 'A'-'D'); 0 if none. */
char mg_dmap_symbol(char dtmf);

/* Keeps a reference to dm. */
int  mg_dcoll_alloc(struct mg_dcoll **dcp, struct mg_dmap *dm);
/* Start collecting: WAIT with the start timer in *timer_ms. */
enum mg_dcoll_res mg_dcoll_start(struct mg_dcoll *dc, unsigned *timer_ms);
/* One event; long_dur: a long-duration digit (the Z modifier). */
enum mg_dcoll_res mg_dcoll_event(struct mg_dcoll *dc, char sym,
				 bool long_dur, unsigned *timer_ms);
enum mg_dcoll_res mg_dcoll_timeout(struct mg_dcoll *dc, unsigned *timer_ms);
/* The collected string for dd/ce's ds parameter ("Z" before a long
 * duration digit), once complete. */
const char *mg_dcoll_string(const struct mg_dcoll *dc);

/* ------------------------------------------------------------------ */
/* The MGC side (megaco/client.c)                                      */
/* ------------------------------------------------------------------ */

/*
 * What junctiond's call control (or any controller) uses to drive one
 * MG: the MGC end of an association, on the transaction layer above.
 * The MG registers with a ServiceChange (H.248.1 s.11.2); the client
 * answers it (negotiating the version, s.11.3), reports the MG up, and
 * from then on sends transactions to the address the MG registered from
 * (or its ServiceChangeAddress).  Requests are written as H.248 text
 * actions ("Context = $ { Add = tdm/1/5, Add = $ { ... } }"): readable
 * at the call site, checked by the same decoder that reads the wire.
 * Notify requests from the MG are answered and handed up.  The MG is
 * reported down when it says so (ServiceChange Forced/Graceful on ROOT),
 * when it registers again with Restart (its contexts are gone), or when
 * keepalive audits (AuditValue ROOT) go unanswered.
 */

struct mg_client;

struct mg_client_conf {		/* 0 / NULL: the default in brackets */
	const char *mid;	/* our MID (required) */
	unsigned version;	/* highest we speak [3] */
	enum mg_text_style style;
	bool tcp;
	unsigned keepalive_ms;	/* audit an idle MG this often [10000] */
	const struct mg_tsx_conf *tsx;	/* timers; NULL: the defaults */
};

enum mg_client_ev {
	MG_CLIENT_UP,		/* registered (Restart, Failover, HandOff,
				 * Disconnected): cmd is its ServiceChange */
	MG_CLIENT_DOWN,		/* gone: cmd the ServiceChange, or NULL
				 * when it stopped answering */
	MG_CLIENT_SERVICE,	/* a ServiceChange on terminations (cmd):
				 * in or out of service */
};

typedef void (mg_client_ev_h)(struct mg_client *c, enum mg_client_ev ev,
			      const struct mg_cmd *cmd, void *arg);
/* A Notify from the MG (already answered), in context ctx. */
typedef void (mg_client_notify_h)(struct mg_client *c, uint32_t ctx,
				  const struct mg_cmd *notify, void *arg);
/* The reply to mg_client_send: err 0 and the reply (borrowed: valid
 * during the call; its transaction error, if any, in reply->err), or
 * ETIMEDOUT, ENOTCONN (the MG went down meanwhile), ECANCELED. */
typedef void (mg_client_resp_h)(int err, const struct mg_trans *reply,
				void *arg);

int  mg_client_alloc(struct mg_client **cp, const struct mg_addr *local,
		     const struct mg_client_conf *conf, mg_client_ev_h *evh,
		     mg_client_notify_h *nh, void *arg);
bool mg_client_up(const struct mg_client *c);
/* The MG is known to be gone (its process died): report it down now. */
void mg_client_lost(struct mg_client *c);
/* The MG's MID and negotiated version, while up. */
const char *mg_client_peer_mid(const struct mg_client *c);
unsigned mg_client_version(const struct mg_client *c);
/* Send one transaction of the actions in text (printf-style); ENOTCONN
 * while the MG is down, EBADMSG (logged with the decoder's reason) when
 * the text does not parse.  *idp (may be NULL) for mg_client_cancel. */
int  mg_client_send(struct mg_client *c, mg_client_resp_h *h, void *arg,
		    uint32_t *idp, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void mg_client_cancel(struct mg_client *c, uint32_t id);
/* Counters and state for `junctionctl megaco`. */
json_t *mg_client_json(const struct mg_client *c);

/* Reading replies: the idx-th command reply of a transaction reply (in
 * action order), its action's context in *ctxp; NULL past the end. */
const struct mg_cmd *mg_reply_cmd(const struct mg_trans *t, unsigned idx,
				  uint32_t *ctxp);
/* The first error in a transaction reply (transaction, action or
 * command level), or NULL. */
const struct mg_err *mg_reply_error(const struct mg_trans *t);
/* A command's Local (or Remote) SDP text: in Media, directly or in its
 * first Stream; NULL when absent. */
const char *mg_cmd_sdp(const struct mg_cmd *cmd, bool remote);
/* The value of a descriptor item by its name ("rtp/ps", "nt/dur", the
 * ObservedEvents' "dd/ce" parameter "ds") looked up anywhere below the
 * command; NULL when absent. */
const struct mg_item *mg_cmd_find(const struct mg_cmd *cmd,
				  const char *name);

/* ------------------------------------------------------------------ */
/* The MG (megaco/model.c, vmg.c, media.c, sdp.c)                      */
/* ------------------------------------------------------------------ */

/*
 * junction-mg's H.248 media gateway: the termination and context model
 * (H.248.1 s.6-7), its packages, and the virtual MGs (s.11.1) through
 * which controllers reach it.  Each span belongs to one virtual MG; each
 * virtual MG has its own MID, endpoint and ordered list of MGCs, so every
 * termination has exactly one controller.  Physical terminations are
 * tdm/<span>/<ts>; ephemeral RTP terminations rtp/<n> are created by
 * Add = $.  The model runs on the main thread; each context's media runs
 * on the media worker of its TDM termination's span.
 */

struct mg_model;
struct media_workers;
struct media_worker;
struct tdm_span;

#define MG_MGC_MAX	4
#define MG_SPANS_MAX	255	/* span ids 1..255, as the config allows */

struct mg_vmg_conf {
	const char *name;	/* "local", or an [mgc NAME] */
	const char *ip;		/* IP literal it listens on */
	uint16_t port;
	unsigned nmgc;		/* ordered MGC list, primary first */
	const char *mgc_ip[MG_MGC_MAX];
	uint16_t mgc_port[MG_MGC_MAX];
	unsigned version;	/* highest offered at registration [3] */
	enum mg_text_style style;
	bool tcp;
	unsigned max_wait_ms;	/* random wait before registering (s.9.2) */
	unsigned graceful_s;	/* Delay of the Graceful ServiceChange at
				 * shutdown; 0: none */
	const struct mg_tsx_conf *tsx;	/* timers; NULL: defaults */
};

struct mg_model_conf {
	struct media_workers *workers;
	const char *rtp_ip;	/* IP literal of the RTP terminations */
	uint16_t rtp_port_min, rtp_port_max;
	unsigned tone_country;	/* media_tone_country_parse */
	unsigned ec_tail_ms;	/* 0: 64 */
	bool ec_off;		/* tdmc/ec off unless the MGC turns it on */
	unsigned rtp_timeout_ms;	/* nt/netfail after silence; 0: off */
	unsigned max_contexts;	/* root/maxNumberOfContexts [1024] */
};

int  mg_model_alloc(struct mg_model **mp, const struct mg_model_conf *conf);
int  mg_model_vmg_add(struct mg_model *m, const struct mg_vmg_conf *vc);
/* A span of the named virtual MG: its timeslots (bit n: ts n) become
 * tdm/<id>/<ts>.  span is used on wk's thread only.  EEXIST: id is
 * taken; E2BIG: MG_SPANS_MAX spans already. */
int  mg_model_span_add(struct mg_model *m, const char *vmg, unsigned id,
		       struct media_worker *wk, struct tdm_span *span,
		       bool alaw, uint32_t ts_mask);
/* The span went out of (up false) or back into service: a ServiceChange
 * on its terminations, calls on it cleared.  Main thread. */
void mg_model_span_state(struct mg_model *m, unsigned id, bool up);
/* Register every virtual MG with its MGCs. */
int  mg_model_start(struct mg_model *m);
/* Tell the MGCs (Graceful, or Forced when delay_s is 0) before stopping. */
void mg_model_shutdown(struct mg_model *m);
/* Go out of service gracefully first (H.248.1 s.11.4): Graceful with
 * each virtual MG's Delay, no new Add (521), the controllers' other
 * requests served; h once no context is left or the longest Delay has
 * passed.  ENOENT when there is nothing to wait for (no Delay
 * configured, no controller registered). */
typedef void (mg_model_drained_h)(void *arg);
int  mg_model_drain(struct mg_model *m, mg_model_drained_h *h, void *arg);
/* For `junctionctl megaco`. */
json_t *mg_model_json(const struct mg_model *m);

#endif
