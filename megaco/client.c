/* megaco/client.c - the MGC side of an H.248.1 association (s.11) */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <netinet/in.h>
#include <sys/socket.h>

#define GW_LOG_MOD "mg"
#include "core.h"
#include "mg.h"

/*
 * One client, one MG, one transaction endpoint.
 *
 * Registration (s.11.2, s.7.2.8): a ServiceChange on ROOT with Method
 * Restart, Failover, Disconnected or HandOff from the MG makes it ours.
 * The reply is an empty ServiceChange reply, or one carrying Version
 * when the MG offered more than we speak (s.11.3: we answer with the
 * lower version, and both sides use it from then on); an offer below 1
 * cannot be met and gets 406 Version Not Supported.  Our requests then
 * go to the ServiceChangeAddress the MG gave, else to the source of its
 * registration (s.7.2.8, s.9); replies always go to the source of the
 * request they answer, which the transaction layer sees to.
 *
 * While the MG is ours:
 *  - Restart on ROOT again means it restarted: its contexts are gone
 *    (s.11.4), so it is reported DOWN, then UP.  Registration from
 *    another MID is another MG taking over (s.11.4 Failover): DOWN for
 *    the old one, UP for the new.  Disconnected, Failover or HandOff
 *    from the same MID keep the MG's state (s.7.2.8 methods 4-6,
 *    s.11.5): UP again, without DOWN, so that call control may audit.
 *  - Forced on ROOT: all its connections are lost (s.7.2.8 method 2):
 *    DOWN at once.
 *  - Graceful on ROOT: no new connections, existing ones may end
 *    naturally (s.7.2.8 method 1).  Reported at once as a SERVICE event
 *    (call control stops new calls) and as DOWN when the
 *    ServiceChangeDelay runs out; with a null delay there is no deadline
 *    ("wait for the natural removal of existing connections"), so the
 *    MG stays up, draining, until it sends Forced or Restart or stops
 *    answering.  Declaring it down at once would tear down calls the
 *    MG still carries.
 *  - ServiceChange on other terminations: a SERVICE event.
 *  - Notify: answered with an empty Notify reply for the same
 *    termination in the same context (s.7.2.7), then handed up.
 *  - Any other command: 443 Unsupported or Unknown Command (H.248.8:
 *    "not recognized by the receiver"; Add, Modify, Subtract, Move and
 *    the audits are the MGC's to send, s.7.2).  Processing stops there
 *    unless the command was optional (s.8.2.2).
 *
 * A request from an MG that is not registered here, unless it starts
 * with a ServiceChange on ROOT, gets 401 Protocol Error: s.9.1 rule 6
 * makes the ServiceChange the first command an MG sends, and H.248.8
 * gives 401 for a violation of protocol procedures.  (505 is the code
 * of the side that sent a ServiceChange and awaits its reply, s.11.2;
 * 504 and 421 are marked "not used" in H.248.8.)
 *
 * Keepalive: when nothing came from the MG for keepalive_ms, an
 * AuditValue of ROOT with an empty Audit (s.7.2.5: existence only) goes
 * out; when it exhausts the transaction layer's T-MAX (D.1.5) the MG is
 * reported DOWN with no command.
 *
 * Down, for whatever reason, fails every outstanding request with
 * ENOTCONN (forgotten in the transaction layer first: no late reply
 * reaches its handler).  Handlers may drop the client; we hold a
 * reference while calling them and stop calling further ones once the
 * owner's reference is gone.
 */

#define MAX_ERR_CODES	16
#define DEFAULT_PORT	2944	/* text encoding, s.9 */

struct creq {			/* a request of ours awaiting its reply */
	struct creq *next;	/* c->reqs; holds a ref */
	struct mg_client *c;	/* borrowed */
	uint32_t id;
	mg_client_resp_h *h;
	void *arg;
	bool keepalive;
};

struct err_count {
	unsigned code;
	uint64_t n;
};

struct mg_client {
	struct mg_tsx_ep *ep;
	char *mid;
	unsigned max_version;	/* ours */
	unsigned keepalive_ms;
	mg_client_ev_h *evh;
	mg_client_notify_h *nh;
	void *arg;

	bool up;
	bool draining;		/* Graceful on ROOT announced */
	char *peer_mid;		/* last registered MG */
	struct mg_addr peer;	/* where our requests go */
	unsigned version;	/* negotiated */

	struct creq *reqs;
	unsigned nreqs;
	bool ka_out;		/* a keepalive audit is outstanding */
	uint64_t last_rx;	/* when the MG was last heard */
	struct gw_tmr ka_tmr;
	struct gw_tmr grace_tmr;
	struct mg_msg *grace_msg;	/* holds grace_cmd */
	const struct mg_cmd *grace_cmd;

	struct {
		uint64_t sent, replies, timeouts, notifies, services;
		uint64_t registrations, keepalives, err_other;
	} st;
	struct err_count errs[MAX_ERR_CODES];
	unsigned nerrs;
};

/* The owner still holds the client (we hold one reference too). */
static bool alive(const struct mg_client *c)
{
	return gw_mem_nrefs(c) > 1;
}

static bool is_root(const char *tid)
{
	return tid && !strcasecmp(tid, "ROOT");
}

/* ------------------------------------------------------------------ */
/* Outstanding requests                                               */
/* ------------------------------------------------------------------ */

static void creq_unlink(struct mg_client *c, struct creq *r)
{
	struct creq **pp;

	for (pp = &c->reqs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			r->next = NULL;
			c->nreqs--;
			return;
		}
	}
}

static void count_error(struct mg_client *c, unsigned code)
{
	unsigned i;

	for (i = 0; i < c->nerrs; i++) {
		if (c->errs[i].code == code) {
			c->errs[i].n++;
			return;
		}
	}
	if (c->nerrs < MAX_ERR_CODES) {
		c->errs[c->nerrs].code = code;
		c->errs[c->nerrs++].n = 1;
	} else {
		c->st.err_other++;
	}
}

/* Fail every outstanding request with err (the MG is gone). */
static void fail_all(struct mg_client *c, int err)
{
	struct creq *list = c->reqs, *r;

	c->reqs = NULL;
	c->nreqs = 0;
	c->ka_out = false;
	while ((r = list)) {
		list = r->next;
		r->next = NULL;
		mg_tsx_cancel(c->ep, r->id);
		if (!r->keepalive && r->h && alive(c))
			r->h(err, NULL, r->arg);
		gw_mem_deref(r);
	}
}

static void grace_stop(struct mg_client *c)
{
	gw_tmr_cancel(&c->grace_tmr);
	c->grace_msg = gw_mem_deref(c->grace_msg);
	c->grace_cmd = NULL;
}

/* The MG is gone: cmd is its ServiceChange, or NULL. */
static void go_down(struct mg_client *c, const struct mg_cmd *cmd)
{
	if (!c->up)
		return;
	GW_INFO("MG %s is down%s", c->peer_mid,
		cmd ? "" : ": it stopped answering");
	c->up = false;
	c->draining = false;
	gw_tmr_cancel(&c->ka_tmr);
	grace_stop(c);
	fail_all(c, ENOTCONN);
	if (alive(c) && c->evh)
		c->evh(c, MG_CLIENT_DOWN, cmd, c->arg);
}

static void ka_tmr(void *arg);

static void creq_resp(int err, const struct mg_trans *reply,
		      const struct mg_msg *msg, void *arg)
{
	struct creq *r = arg;
	struct mg_client *c = gw_mem_ref(r->c);
	const struct mg_err *e;

	(void)msg;
	creq_unlink(c, r);
	if (!err) {
		c->st.replies++;
		c->last_rx = gw_now_ms();
		e = mg_reply_error(reply);
		if (e)
			count_error(c, e->code);
	} else if (err == ETIMEDOUT) {
		c->st.timeouts++;
	}
	if (r->keepalive) {
		c->ka_out = false;
		if (err == ETIMEDOUT)
			go_down(c, NULL);	/* D.1.5: T-MAX exhausted */
	} else if (r->h) {
		r->h(err, reply, r->arg);
	}
	gw_mem_deref(r);
	gw_mem_deref(c);
}

/* Decode text (a whole message of ours) and send its transaction; the
 * caller's actions are text[skip..skip + ulen), for the log. */
static int send_msg(struct mg_client *c, const char *text, size_t len,
		    size_t skip, int ulen, mg_client_resp_h *h, void *arg,
		    bool keepalive, uint32_t *idp)
{
	struct mg_text_err terr;
	struct mg_msg *msg = NULL;
	struct creq *r;
	int err;

	err = mg_text_decode(&msg, text, len, &terr);
	if (err == EBADMSG) {
		GW_WARN("H.248 request not sent: %s (the actions start at "
			"3:1): \"%.*s\"", terr.text, ulen, text + skip);
		return EBADMSG;
	}
	if (err)
		return err;
	if (!msg->trans || msg->trans->next ||
	    msg->trans->type != MG_TRANS_REQUEST) {
		GW_WARN("H.248 request not sent: not one transaction, in "
			"\"%.*s\"", ulen, text + skip);
		gw_mem_deref(msg);
		return EBADMSG;
	}
	r = gw_mem_zalloc(sizeof(*r), NULL);
	if (!r) {
		gw_mem_deref(msg);
		return ENOMEM;
	}
	r->c = c;
	r->h = h;
	r->arg = arg;
	r->keepalive = keepalive;
	err = mg_tsx_send(c->ep, &c->peer, msg, creq_resp, r, &r->id);
	gw_mem_deref(msg);
	if (err) {
		gw_mem_deref(r);
		return err;
	}
	r->next = c->reqs;
	c->reqs = r;
	c->nreqs++;
	c->st.sent++;
	if (idp)
		*idp = r->id;
	return 0;
}

/* "MEGACO/v mid\nTransaction = 0 {\n" + the actions + "\n}" */
static int send_text(struct mg_client *c, mg_client_resp_h *h, void *arg,
		     bool keepalive, uint32_t *idp, const char *fmt,
		     va_list ap) __attribute__((format(printf, 6, 0)));

static int send_text(struct mg_client *c, mg_client_resp_h *h, void *arg,
		     bool keepalive, uint32_t *idp, const char *fmt,
		     va_list ap)
{
	char *buf;
	va_list aq;
	int hl, bl, err;

	hl = snprintf(NULL, 0, "MEGACO/%u %s\nTransaction = 0 {\n",
		      c->version, c->mid);
	va_copy(aq, ap);
	bl = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (hl < 0 || bl < 0)
		return EINVAL;
	buf = gw_mem_alloc((size_t)hl + (size_t)bl + 3, NULL);
	if (!buf)
		return ENOMEM;
	snprintf(buf, (size_t)hl + 1, "MEGACO/%u %s\nTransaction = 0 {\n",
		 c->version, c->mid);
	vsnprintf(buf + hl, (size_t)bl + 1, fmt, ap);
	memcpy(buf + hl + bl, "\n}", 3);
	err = send_msg(c, buf, (size_t)hl + (size_t)bl + 2, (size_t)hl, bl,
		       h, arg, keepalive, idp);
	gw_mem_deref(buf);
	return err;
}

static int send_fixed(struct mg_client *c, bool keepalive,
		      const char *fmt, ...) GW_PRINTF(3, 4);

static int send_fixed(struct mg_client *c, bool keepalive,
		      const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = send_text(c, NULL, NULL, keepalive, NULL, fmt, ap);
	va_end(ap);
	return err;
}

/* ------------------------------------------------------------------ */
/* Keepalive and Graceful                                             */
/* ------------------------------------------------------------------ */

static void ka_arm(struct mg_client *c)
{
	gw_tmr_start(&c->ka_tmr, c->keepalive_ms, ka_tmr, c);
}

static void ka_tmr(void *arg)
{
	struct mg_client *c = arg;
	uint64_t idle = gw_now_ms() - c->last_rx;

	if (!c->up)
		return;
	if (idle < c->keepalive_ms) {
		gw_tmr_start(&c->ka_tmr, c->keepalive_ms - idle, ka_tmr, c);
		return;
	}
	/* s.7.2.5: an empty Audit on ROOT only checks that it is there */
	if (!c->ka_out) {
		if (send_fixed(c, true, "Context = - { AuditValue = ROOT "
			       "{ Audit { } } }"))
			GW_WARN("cannot send a keepalive audit to MG %s",
				c->peer_mid);
		else {
			c->ka_out = true;
			c->st.keepalives++;
		}
	}
	ka_arm(c);
}

static void grace_tmr(void *arg)
{
	struct mg_client *c = gw_mem_ref(arg);
	struct mg_msg *msg = c->grace_msg;

	/* s.7.2.8 method 1: out of service once ServiceChangeDelay ends */
	c->grace_msg = NULL;
	go_down(c, c->grace_cmd);
	c->grace_cmd = NULL;
	gw_mem_deref(msg);
	gw_mem_deref(c);
}

/* ------------------------------------------------------------------ */
/* Requests from the MG                                               */
/* ------------------------------------------------------------------ */

enum op {
	OP_ERROR,		/* answered with err */
	OP_REGISTER,		/* ServiceChange ROOT Restart, Failover.. */
	OP_FORCED,		/* ServiceChange ROOT Forced */
	OP_GRACEFUL,		/* ServiceChange ROOT Graceful */
	OP_SERVICE,		/* ServiceChange on terminations */
	OP_NOTIFY,
};

struct sc_info {		/* what a ServiceChange says */
	enum mg_tok method;	/* MG_TOK_NONE: extension or absent */
	const char *ext;	/* an extension method, X-name */
	bool have_version;
	uint32_t version;
	const char *address;	/* ServiceChangeAddress, verbatim */
	uint32_t delay;		/* s; 0: null */
};

static const struct mg_item *find_tok(const struct mg_item *it,
				      enum mg_tok tok)
{
	for (; it; it = it->next) {
		if (it->tok == tok)
			return it;
	}
	return NULL;
}

static void sc_parse(const struct mg_cmd *cmd, struct sc_info *sc)
{
	const struct mg_item *sv, *it;
	const char *v;

	memset(sc, 0, sizeof(*sc));
	sv = find_tok(cmd->desc, MG_TOK_SERVICES);
	if (!sv)
		return;
	for (it = sv->kids; it; it = it->next) {
		if (!it->nval)
			continue;
		v = it->val[0].s;
		switch (it->tok) {
		case MG_TOK_METHOD:
			sc->method = it->val[0].tok;
			sc->ext = v;
			break;
		case MG_TOK_VERSION:
			sc->have_version = v != NULL;
			sc->version = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
			break;
		case MG_TOK_SCADDRESS:
			sc->address = v;
			break;
		case MG_TOK_DELAY:
			sc->delay = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
			break;
		default:
			break;
		}
	}
}

static enum op classify(const struct mg_cmd *cmd, struct sc_info *sc)
{
	switch (cmd->type) {
	case MG_CMD_SERVICECHANGE:
		sc_parse(cmd, sc);
		if (!is_root(cmd->tid))
			return OP_SERVICE;
		switch (sc->method) {
		case MG_TOK_RESTART:
		case MG_TOK_FAILOVER:
		case MG_TOK_DISCONNECTED:
		case MG_TOK_HANDOFF:
			return OP_REGISTER;
		case MG_TOK_FORCED:
			return OP_FORCED;
		case MG_TOK_GRACEFUL:
			return OP_GRACEFUL;
		default:	/* an extension method, s.7.2.8 item 7 */
			return OP_SERVICE;
		}
	case MG_CMD_NOTIFY:
		return OP_NOTIFY;
	default:
		return OP_ERROR;
	}
}

/* The port of a ServiceChangeAddress of just digits, the address of
 * "[ip]:port"; NULL or a name we cannot resolve here: src (s.9). */
static void sc_address(const char *s, const struct mg_addr *src,
		       struct mg_addr *out)
{
	char ip[64];
	const char *close;
	unsigned long port;
	char *end;
	size_t n;

	*out = *src;
	if (!s || !*s)
		return;
	if (s[0] >= '0' && s[0] <= '9') {
		port = strtoul(s, &end, 10);
		if (*end || !port || port > 65535)
			goto bad;
		if (out->len == sizeof(struct sockaddr_in)) {
			struct sockaddr_in in4;

			memcpy(&in4, out->sa.b, sizeof(in4));
			in4.sin_port = htons((uint16_t)port);
			memcpy(out->sa.b, &in4, sizeof(in4));
		} else if (out->len == sizeof(struct sockaddr_in6)) {
			struct sockaddr_in6 in6;

			memcpy(&in6, out->sa.b, sizeof(in6));
			in6.sin6_port = htons((uint16_t)port);
			memcpy(out->sa.b, &in6, sizeof(in6));
		}
		return;
	}
	if (s[0] == '[' && (close = strchr(s, ']'))) {
		n = (size_t)(close - s - 1);
		if (n >= sizeof(ip))
			goto bad;
		memcpy(ip, s + 1, n);
		ip[n] = '\0';
		port = DEFAULT_PORT;
		if (close[1] == ':') {
			port = strtoul(close + 2, &end, 10);
			if (*end || !port || port > 65535)
				goto bad;
		} else if (close[1]) {
			goto bad;
		}
		if (mg_addr_set(out, ip, (uint16_t)port))
			goto bad;
		return;
	}
 bad:
	GW_WARN("ServiceChangeAddress %s not usable: using the source "
		"address", s);
	*out = *src;
}

/* A command reply naming cmd's terminations, appended at *tailp. */
static struct mg_cmd *reply_cmd(struct mg_msg *r, struct mg_cmd ***tailp,
				const struct mg_cmd *cmd)
{
	struct mg_cmd *rc = mg_msg_zalloc(r, sizeof(*rc));
	unsigned i;

	if (!rc)
		return NULL;
	rc->type = cmd->type;
	rc->tid = mg_msg_strdup(r, cmd->tid);
	if (!rc->tid)
		return NULL;
	if (cmd->ntids) {	/* v3 "[a, b]": answered in the same form */
		rc->tids = mg_msg_zalloc(r, cmd->ntids * sizeof(*rc->tids));
		if (!rc->tids)
			return NULL;
		for (i = 0; i < cmd->ntids; i++) {
			rc->tids[i] = mg_msg_strdup(r, cmd->tids[i]);
			if (!rc->tids[i])
				return NULL;
		}
		rc->ntids = cmd->ntids;
		rc->tid = rc->tids[0];
	}
	**tailp = rc;
	*tailp = &rc->next;
	return rc;
}

static struct mg_err *make_err(struct mg_msg *r, unsigned code,
			       const char *text)
{
	struct mg_err *e = mg_msg_zalloc(r, sizeof(*e));

	if (!e)
		return NULL;
	e->code = code;
	e->text = mg_msg_strdup(r, text);
	return e->text ? e : NULL;
}

/* SC reply "ServiceChange = ROOT { Services { Version = v } }". */
static int sc_version_reply(struct mg_msg *r, struct mg_cmd *rc,
			    unsigned v)
{
	struct mg_item *sv = mg_msg_zalloc(r, sizeof(*sv));
	struct mg_item *ver = mg_msg_zalloc(r, sizeof(*ver));
	char num[12];

	if (!sv || !ver)
		return ENOMEM;
	snprintf(num, sizeof(num), "%u", v);
	ver->tok = MG_TOK_VERSION;
	ver->op = MG_OP_EQ;
	ver->nval = 1;
	ver->val = mg_msg_zalloc(r, sizeof(*ver->val));
	if (!ver->val)
		return ENOMEM;
	ver->val->s = mg_msg_strdup(r, num);
	if (!ver->val->s)
		return ENOMEM;
	sv->tok = MG_TOK_SERVICES;
	sv->kids = ver;
	rc->desc = sv;
	return 0;
}

/* The version to use with an MG offering theirs (s.11.3). */
static unsigned negotiate(const struct mg_client *c, unsigned theirs)
{
	return theirs < c->max_version ? theirs : c->max_version;
}

static unsigned offered(const struct sc_info *sc, const struct mg_msg *msg)
{
	return sc->have_version ? sc->version : msg->version;
}

/*
 * First pass: the reply, command by command, up to the first failing
 * one that is not optional (s.8.2.2).  *nexec gets the number of
 * commands executed (the failing one included).
 */
static int build_reply(struct mg_client *c, const struct mg_trans *t,
		       const struct mg_msg *msg, struct mg_msg **replyp,
		       unsigned *nexec)
{
	struct mg_action **atail, *ract;
	const struct mg_action *act;
	const struct mg_cmd *cmd;
	struct mg_cmd **ctail, *rc;
	struct mg_trans *rt;
	struct mg_msg *r;
	struct sc_info sc;
	unsigned n = 0, v;
	bool stop = false;
	enum op op;
	int err;

	err = mg_msg_alloc(&r, msg->version, NULL);
	if (err)
		return err;
	rt = mg_msg_zalloc(r, sizeof(*rt));
	if (!rt)
		goto nomem;
	rt->type = MG_TRANS_REPLY;
	r->trans = rt;
	atail = &rt->actions;
	for (act = t->actions; act && !stop; act = act->next) {
		ract = mg_msg_zalloc(r, sizeof(*ract));
		if (!ract)
			goto nomem;
		ract->ctx = act->ctx;
		*atail = ract;
		atail = &ract->next;
		ctail = &ract->cmds;
		for (cmd = act->cmds; cmd && !stop; cmd = cmd->next) {
			n++;
			rc = reply_cmd(r, &ctail, cmd);
			if (!rc)
				goto nomem;
			op = classify(cmd, &sc);
			if (op == OP_REGISTER) {
				v = offered(&sc, msg);
				if (v < 1) {
					rc->err = make_err(r, 406, "Version "
							   "Not Supported");
					if (!rc->err)
						goto nomem;
				} else if (v > c->max_version &&
					   sc_version_reply(r, rc,
							    negotiate(c, v))) {
					goto nomem;
				}
			} else if (op == OP_ERROR) {
				rc->err = make_err(r, 443, "Unsupported or "
						   "Unknown Command");
				if (!rc->err)
					goto nomem;
			}
			if (rc->err && !cmd->optional)
				stop = true;
		}
	}
	*replyp = r;
	*nexec = n;
	return 0;
 nomem:
	gw_mem_deref(r);
	return ENOMEM;
}

static void do_register(struct mg_client *c, const struct mg_cmd *cmd,
			const struct sc_info *sc, const struct mg_msg *msg,
			const struct mg_addr *src)
{
	bool same = c->peer_mid && !strcasecmp(c->peer_mid, msg->mid);
	char a[64];
	char *mid;

	/* s.11.4: a restarted MG (or another MG) has none of our calls */
	if (c->up && (sc->method == MG_TOK_RESTART || !same))
		go_down(c, cmd);
	if (!alive(c))
		return;
	grace_stop(c);
	c->draining = false;
	if (!same) {
		mid = gw_mem_strdup(msg->mid);
		if (!mid) {
			GW_ERR("no memory for MG %s", msg->mid);
			return;
		}
		gw_mem_deref(c->peer_mid);
		c->peer_mid = mid;
	}
	c->version = negotiate(c, offered(sc, msg));
	mg_tsx_ep_set_version(c->ep, c->version);
	sc_address(sc->address, src, &c->peer);
	c->up = true;
	c->last_rx = gw_now_ms();
	c->st.registrations++;
	ka_arm(c);
	GW_INFO("MG %s registered from %s (%s), version %u", c->peer_mid,
		mg_addr_str(src, a, sizeof(a)),
		mg_tok_name(sc->method, false), c->version);
	if (c->evh)
		c->evh(c, MG_CLIENT_UP, cmd, c->arg);
}

static void do_graceful(struct mg_client *c, const struct mg_cmd *cmd,
			const struct sc_info *sc, const struct mg_msg *msg)
{
	GW_INFO("MG %s going out of service gracefully (delay %u s)",
		c->peer_mid, sc->delay);
	c->draining = true;
	grace_stop(c);
	if (sc->delay) {
		c->grace_msg = gw_mem_ref((void *)msg);
		c->grace_cmd = cmd;
		gw_tmr_start(&c->grace_tmr, (uint64_t)sc->delay * 1000,
			     grace_tmr, c);
	}
	if (c->evh)
		c->evh(c, MG_CLIENT_SERVICE, cmd, c->arg);
}

/* Second pass, after the reply went: act on the executed commands. */
static void execute(struct mg_client *c, const struct mg_trans *t,
		    const struct mg_msg *msg, const struct mg_addr *src,
		    unsigned nexec)
{
	const struct mg_action *act;
	const struct mg_cmd *cmd;
	struct sc_info sc;
	unsigned n = 0;
	bool ours;

	for (act = t->actions; act; act = act->next) {
		for (cmd = act->cmds; cmd; cmd = cmd->next) {
			if (n++ >= nexec || !alive(c))
				return;
			ours = c->up && !strcasecmp(c->peer_mid, msg->mid);
			if (cmd->type == MG_CMD_SERVICECHANGE)
				c->st.services++;
			switch (classify(cmd, &sc)) {
			case OP_REGISTER:
				if (offered(&sc, msg) >= 1)
					do_register(c, cmd, &sc, msg, src);
				break;
			case OP_FORCED:
				/* s.7.2.8 method 2: all connections lost */
				if (ours)
					go_down(c, cmd);
				break;
			case OP_GRACEFUL:
				if (ours)
					do_graceful(c, cmd, &sc, msg);
				break;
			case OP_SERVICE:
				if (ours && c->evh)
					c->evh(c, MG_CLIENT_SERVICE, cmd,
					       c->arg);
				break;
			case OP_NOTIFY:
				c->st.notifies++;
				if (ours && c->nh)
					c->nh(c, act->ctx, cmd, c->arg);
				break;
			case OP_ERROR:
				break;
			}
		}
	}
}

static void on_request(struct mg_tsx_req *req, const struct mg_trans *t,
		       const struct mg_msg *msg, void *arg)
{
	struct mg_client *c = gw_mem_ref(arg);
	struct mg_msg *hold = gw_mem_ref((void *)msg);
	const struct mg_cmd *first;
	struct mg_msg *reply = NULL;
	struct mg_addr src = *mg_tsx_req_peer(req);
	unsigned nexec = 0;
	char a[64];
	int err;

	first = t->actions ? t->actions->cmds : NULL;
	if (c->up && !strcasecmp(c->peer_mid, msg->mid)) {
		c->last_rx = gw_now_ms();
	} else if (!first || first->type != MG_CMD_SERVICECHANGE ||
		   !is_root(first->tid)) {
		/* s.9.1 rule 6: the MG's first command is ServiceChange */
		GW_LOG_LIMITED(GW_LOG_WARN, "request from unregistered MG %s "
			       "(%s) refused", msg->mid,
			       mg_addr_str(&src, a, sizeof(a)));
		mg_tsx_reply_error(req, 401, "Protocol Error: not "
				   "registered, ServiceChange first");
		goto out;
	}
	err = build_reply(c, t, msg, &reply, &nexec);
	if (err) {
		GW_ERR("cannot answer transaction %u from %s: %s", t->id,
		       msg->mid, strerror(err));
		mg_tsx_reply_error(req, 500, "Internal software failure");
		goto out;
	}
	mg_tsx_reply(req, reply);	/* releases req and reply */
	execute(c, t, msg, &src, nexec);
 out:
	gw_mem_deref(hold);
	gw_mem_deref(c);
}

/* ------------------------------------------------------------------ */
/* The client                                                         */
/* ------------------------------------------------------------------ */

static void client_destroy(void *data)
{
	struct mg_client *c = data;
	struct creq *r;

	gw_tmr_cancel(&c->ka_tmr);
	grace_stop(c);
	while ((r = c->reqs)) {	/* forgotten: no handler runs */
		c->reqs = r->next;
		mg_tsx_cancel(c->ep, r->id);
		gw_mem_deref(r);
	}
	gw_mem_deref(c->ep);
	gw_mem_deref(c->mid);
	gw_mem_deref(c->peer_mid);
}

/**
 * Open the MGC end of an association on local (port 0: any) with conf
 * (copied; zeros get the defaults).  evh reports the MG up, down and its
 * ServiceChanges on terminations; nh (may be NULL) its Notify requests.
 * Returns 0, EINVAL, ENOMEM or the socket's errno.
 */
int mg_client_alloc(struct mg_client **cp, const struct mg_addr *local,
		    const struct mg_client_conf *conf, mg_client_ev_h *evh,
		    mg_client_notify_h *nh, void *arg)
{
	struct mg_tsx_conf tc = { 0 };
	struct mg_client *c;
	int err;

	if (!cp || !local || !conf || !conf->mid || !*conf->mid ||
	    conf->version > 3)
		return EINVAL;
	c = gw_mem_zalloc(sizeof(*c), client_destroy);
	if (!c)
		return ENOMEM;
	gw_tmr_init(&c->ka_tmr);
	gw_tmr_init(&c->grace_tmr);
	c->max_version = conf->version ? conf->version : 3;
	c->version = c->max_version;
	c->keepalive_ms = conf->keepalive_ms ? conf->keepalive_ms : 10000;
	c->evh = evh;
	c->nh = nh;
	c->arg = arg;
	c->mid = gw_mem_strdup(conf->mid);
	if (!c->mid) {
		err = ENOMEM;
		goto out;
	}
	if (conf->tsx)
		tc = *conf->tsx;
	tc.mid = conf->mid;
	tc.version = c->max_version;
	tc.style = conf->style;
	tc.tcp = conf->tcp;
	err = mg_tsx_ep_alloc(&c->ep, local, &tc, on_request, c);
 out:
	if (err)
		gw_mem_deref(c);
	else
		*cp = c;
	return err;
}

/** Whether an MG is registered (and not reported down since). */
/** The MG is known to be gone (its process died): down now, without
 * waiting for a keepalive to time out. */
void mg_client_lost(struct mg_client *c)
{
	if (!c)
		return;
	gw_mem_ref(c);		/* alive() while the handler runs */
	go_down(c, NULL);
	gw_mem_deref(c);
}

bool mg_client_up(const struct mg_client *c)
{
	return c && c->up;
}

/** The registered MG's MID; NULL while down. */
const char *mg_client_peer_mid(const struct mg_client *c)
{
	return c && c->up ? c->peer_mid : NULL;
}

/** The version negotiated with the MG (s.11.3); 0 while down. */
unsigned mg_client_version(const struct mg_client *c)
{
	return c && c->up ? c->version : 0;
}

/**
 * Send one transaction request holding the actions in fmt (H.248 text,
 * printf-style) to the MG, in the negotiated version.  h gets the reply
 * once, never from inside this call.  Returns 0; ENOTCONN while the MG
 * is down; EBADMSG (logged with the decoder's reason) when the text does
 * not parse as actions; EINVAL or ENOMEM.
 */
int mg_client_send(struct mg_client *c, mg_client_resp_h *h, void *arg,
		   uint32_t *idp, const char *fmt, ...)
{
	va_list ap;
	int err;

	if (!c || !fmt)
		return EINVAL;
	if (!c->up)
		return ENOTCONN;
	va_start(ap, fmt);
	err = send_text(c, h, arg, false, idp, fmt, ap);
	va_end(ap);
	return err;
}

/** Forget request id: no retransmission, its handler is not called. */
void mg_client_cancel(struct mg_client *c, uint32_t id)
{
	struct creq *r;

	if (!c)
		return;
	for (r = c->reqs; r; r = r->next) {
		if (r->id == id && !r->keepalive)
			break;
	}
	if (!r)
		return;
	mg_tsx_cancel(c->ep, id);
	creq_unlink(c, r);
	gw_mem_deref(r);
}

/**
 * State and counters: {"state": "up"|"down", "draining", "mid",
 * "peer_mid", "peer_addr" (the last MG registered), "version", "sent",
 * "replies", "errors": {"<code>": n} (the first error of each reply),
 * "timeouts", "notifies" and "service_changes" (received),
 * "registrations", "keepalives" (audits sent), "pending" (requests
 * awaiting their reply)}.  NULL when memory is short.
 */
json_t *mg_client_json(const struct mg_client *c)
{
	json_t *o, *errs;
	char a[64], code[16];
	unsigned i;

	if (!c)
		return NULL;
	errs = json_object();
	for (i = 0; errs && i < c->nerrs; i++) {
		snprintf(code, sizeof(code), "%u", c->errs[i].code);
		json_object_set_new(errs, code,
				    json_integer((json_int_t)c->errs[i].n));
	}
	if (errs && c->st.err_other)
		json_object_set_new(errs, "other",
				    json_integer((json_int_t)c->st.err_other));
	o = json_pack("{s:s, s:b, s:s, s:s?, s:s?, s:i, s:I, s:I, s:o?, "
		      "s:I, s:I, s:I, s:I, s:I, s:i}",
		      "state", c->up ? "up" : "down",
		      "draining", c->draining,
		      "mid", c->mid,
		      "peer_mid", c->peer_mid,
		      "peer_addr", c->peer.len ?
		      mg_addr_str(&c->peer, a, sizeof(a)) : NULL,
		      "version", (int)(c->up ? c->version : 0),
		      "sent", (json_int_t)c->st.sent,
		      "replies", (json_int_t)c->st.replies,
		      "errors", errs,
		      "timeouts", (json_int_t)c->st.timeouts,
		      "notifies", (json_int_t)c->st.notifies,
		      "service_changes", (json_int_t)c->st.services,
		      "registrations", (json_int_t)c->st.registrations,
		      "keepalives", (json_int_t)c->st.keepalives,
		      "pending", (int)c->nreqs);
	return o;
}

/* ------------------------------------------------------------------ */
/* Reading replies                                                    */
/* ------------------------------------------------------------------ */

/**
 * The idx-th command reply of transaction reply t, counted across its
 * actions in order; its action's ContextID in *ctxp (may be NULL).
 * NULL past the end.
 */
const struct mg_cmd *mg_reply_cmd(const struct mg_trans *t, unsigned idx,
				  uint32_t *ctxp)
{
	const struct mg_action *a;
	const struct mg_cmd *cmd;

	for (a = t ? t->actions : NULL; a; a = a->next) {
		for (cmd = a->cmds; cmd; cmd = cmd->next) {
			if (idx--)
				continue;
			if (ctxp)
				*ctxp = a->ctx;
			return cmd;
		}
	}
	return NULL;
}

/**
 * The first error in transaction reply t: the transaction's, else in
 * action order each command's, then the action's own (it follows the
 * command replies, s.8.2.2).  NULL when there is none.
 */
const struct mg_err *mg_reply_error(const struct mg_trans *t)
{
	const struct mg_action *a;
	const struct mg_cmd *cmd;

	if (!t)
		return NULL;
	if (t->err)
		return t->err;
	for (a = t->actions; a; a = a->next) {
		for (cmd = a->cmds; cmd; cmd = cmd->next) {
			if (cmd->err)
				return cmd->err;
		}
		if (a->err)
			return a->err;
	}
	return NULL;
}

/**
 * The Local (remote false) or Remote SDP of cmd's Media descriptor,
 * directly in it or in its first Stream (s.7.1.4); "" when the
 * descriptor is empty, NULL when absent.
 */
const char *mg_cmd_sdp(const struct mg_cmd *cmd, bool remote)
{
	enum mg_tok want = remote ? MG_TOK_REMOTE : MG_TOK_LOCAL;
	const struct mg_item *m, *it;

	m = cmd ? find_tok(cmd->desc, MG_TOK_MEDIA) : NULL;
	if (!m)
		return NULL;
	it = find_tok(m->kids, want);
	if (!it) {
		it = find_tok(m->kids, MG_TOK_STREAM);
		it = it ? find_tok(it->kids, want) : NULL;
	}
	return it ? it->text : NULL;
}

static bool item_is(const struct mg_item *it, const char *name, size_t len)
{
	if (it->name)
		return !strcasecmp(it->name, name);
	return it->tok && mg_tok_lookup(name, len, 3) == it->tok;
}

static const struct mg_item *find_below(const struct mg_item *it,
					const char *name, size_t len)
{
	const struct mg_item *hit;

	for (; it; it = it->next) {
		if (item_is(it, name, len))
			return it;
		hit = find_below(it->kids, name, len);
		if (hit)
			return hit;
	}
	return NULL;
}

/**
 * The first item named name (a package item such as "rtp/ps", a
 * parameter such as "ds", or a token in either form) anywhere below
 * cmd's descriptors, depth first in order; NULL when absent.
 */
const struct mg_item *mg_cmd_find(const struct mg_cmd *cmd,
				  const char *name)
{
	if (!cmd || !name || !*name)
		return NULL;
	return find_below(cmd->desc, name, strlen(name));
}
