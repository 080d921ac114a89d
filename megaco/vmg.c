/* megaco/vmg.c - a virtual MG: registration, failover, handoff */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GW_LOG_MOD "mg"
#include "core.h"
#include "mg_int.h"

/*
 * H.248.1 s.11.1: one physical MG may be partitioned into virtual MGs,
 * each with its own MID, terminations and controller.  Each has an
 * endpoint of its own and an ordered list of MGCs.
 *
 * Registration (s.11.2): after a random wait (avalanche control, s.9.2)
 * ServiceChange = ROOT {Method = Restart, Reason = 901, Version = n} to
 * the first MGC; its reply may lower the version (s.11.3), name another
 * MGC to try (MgcIdToTry) or another address for our requests
 * (ServiceChangeAddress).  Until it is accepted, requests get 505.
 *
 * Failure of the MGC (s.11.5): a request of ours that stays unanswered
 * through the transaction layer's T-MAX makes the MG register with the
 * next MGC of the list (Method = Failover, Reason = 909); after the last
 * one it waits and starts again from the primary.  A HandOff ordered by
 * the MGC moves it to the MGC named (Method = HandOff, Reason = 903).
 */

enum vmg_state { VS_IDLE, VS_WAIT, VS_REGISTERING, VS_REGISTERED };

static const char *const state_names[] = {
	"idle", "waiting", "registering", "registered",
};

struct mg_vmg {
	struct mg_model *m;
	char name[32];
	char mid[80];
	struct mg_vmg_conf conf;
	struct mg_addr mgc[MG_MGC_MAX + 1];	/* + one handed off to */
	char mgc_str[MG_MGC_MAX + 1][64];
	unsigned nmgc;
	unsigned cur;
	struct mg_addr to;		/* where requests go (s.7.2.8 AD) */
	struct mg_tsx_ep *ep;
	enum vmg_state state;
	unsigned version;		/* negotiated */
	enum mg_tok method;		/* of the next registration */
	const char *reason;
	unsigned rounds;		/* whole list tried without success */
	struct gw_tmr tmr;
	uint32_t reg_id;
	bool reg_out;
	struct {
		uint64_t registrations, failovers, requests_in, rejected;
		uint64_t sent, timeouts;
	} n;
	uint64_t since_ms;
	bool draining;		/* Graceful sent, its Delay running */
};

static void vmg_destroy(void *arg)
{
	struct mg_vmg *v = arg;

	gw_tmr_cancel(&v->tmr);
	gw_mem_deref(v->ep);
}

const char *mg_vmg_name(const struct mg_vmg *v)
{
	return v->name;
}

bool mg_vmg_registered(const struct mg_vmg *v)
{
	return v->state == VS_REGISTERED;
}

unsigned mg_vmg_version(const struct mg_vmg *v)
{
	return v->version;
}

static void reg_start(struct mg_vmg *v);

static void reg_later(struct mg_vmg *v, unsigned ms)
{
	v->state = VS_WAIT;
	gw_tmr_start(&v->tmr, ms, (gw_tmr_h *)reg_start, v);
}

static unsigned rnd_wait(const struct mg_vmg *v)
{
	return v->conf.max_wait_ms ?
		(unsigned)(random() % (v->conf.max_wait_ms + 1)) : 0;
}

/* The MGC did not answer: the next one, Failover 909 (s.11.5). */
static void fail_over(struct mg_vmg *v, const char *why)
{
	char a[64];

	if (v->reg_out) {
		mg_tsx_cancel(v->ep, v->reg_id);
		v->reg_out = false;
	}
	GW_WARN("%s: MGC %s %s", v->name, mg_addr_str(&v->mgc[v->cur], a,
						       sizeof(a)), why);
	v->n.failovers++;
	if (v->state == VS_REGISTERED)
		mg_model_vmg_registered(v->m, v);
	v->state = VS_IDLE;
	v->method = MG_TOK_FAILOVER;
	v->reason = "\"909 MGC Impending Failure\"";
	if (v->cur >= v->conf.nmgc)	/* a handed-off MGC: the list */
		v->cur = 0;
	else
		v->cur++;
	if (v->cur == v->conf.nmgc) {
		/* s.11.2: none answered; wait and start again */
		v->cur = 0;
		v->rounds++;
		v->method = MG_TOK_RESTART;
		v->reason = "\"901 Cold Boot\"";
		reg_later(v, 1000 * (v->rounds < 8 ? v->rounds : 8) +
			  rnd_wait(v));
		return;
	}
	reg_start(v);
}

/* "[192.0.2.1]:2944" or "<name>:port" (names need DNS: refused) */
static int parse_mid(const char *mid, struct mg_addr *a)
{
	char ip[64];
	const char *e;
	unsigned port = 2944;

	if (mid[0] != '[' || !(e = strchr(mid, ']')) ||
	    (size_t)(e - mid - 1) >= sizeof(ip))
		return EINVAL;
	memcpy(ip, mid + 1, (size_t)(e - mid - 1));
	ip[e - mid - 1] = '\0';
	if (e[1] == ':')
		port = (unsigned)atoi(e + 2);
	if (!port || port > 65535)
		return EINVAL;
	return mg_addr_set(a, ip, (uint16_t)port);
}

static void reg_resp(int err, const struct mg_trans *reply,
		     const struct mg_msg *msg, void *arg)
{
	struct mg_vmg *v = arg;
	const struct mg_cmd *sc;
	const struct mg_item *sv = NULL, *p;
	const struct mg_err *me;
	char a[64];

	(void)msg;
	v->reg_out = false;
	if (err) {
		fail_over(v, "does not answer the registration");
		return;
	}
	me = mg_reply_error(reply);
	if (me) {
		GW_WARN("%s: registration refused by %s: %u %s", v->name,
			mg_addr_str(&v->mgc[v->cur], a, sizeof(a)), me->code,
			me->text ? me->text : "");
		fail_over(v, "refused the registration");
		return;
	}
	sc = mg_reply_cmd(reply, 0, NULL);
	for (p = sc ? sc->desc : NULL; p; p = p->next)
		if (p->tok == MG_TOK_SERVICES)
			sv = p;
	v->to = v->mgc[v->cur];
	for (p = sv ? sv->kids : NULL; p; p = p->next) {
		const char *val = p->nval && p->val[0].s ? p->val[0].s : NULL;

		if (p->tok == MG_TOK_VERSION && val) {
			unsigned ver = (unsigned)atoi(val);

			/* s.11.3: the MGC may only lower it */
			if (ver >= 1 && ver <= v->version)
				v->version = ver;
		} else if (p->tok == MG_TOK_MGCID && val) {
			/* go and register there first (s.11.2) */
			struct mg_addr to;

			if (parse_mid(val, &to) || v->nmgc > MG_MGC_MAX) {
				GW_WARN("%s: cannot go to MgcIdToTry %s",
					v->name, val);
				fail_over(v, "redirected to an unusable MGC");
				return;
			}
			v->mgc[MG_MGC_MAX] = to;
			snprintf(v->mgc_str[MG_MGC_MAX],
				 sizeof(v->mgc_str[0]), "%s", val);
			v->cur = MG_MGC_MAX;
			GW_INFO("%s: redirected to %s", v->name, val);
			reg_start(v);
			return;
		} else if (p->tok == MG_TOK_SCADDRESS && val) {
			struct mg_addr to;

			if (val[0] == '[' && !parse_mid(val, &to))
				v->to = to;
			else if (atoi(val) > 0 && atoi(val) < 65536) {
				/* a port alone: same address */
				char ip[64], *c;

				mg_addr_str(&v->mgc[v->cur], ip, sizeof(ip));
				c = strrchr(ip, ':');
				if (c)
					*c = '\0';
				if (ip[0] == '[') {
					memmove(ip, ip + 1, strlen(ip));
					ip[strlen(ip) - 1] = '\0';
				}
				mg_addr_set(&v->to, ip, (uint16_t)atoi(val));
			}
		}
	}
	mg_tsx_ep_set_version(v->ep, v->version);
	v->state = VS_REGISTERED;
	v->rounds = 0;
	v->since_ms = gw_now_ms();
	v->n.registrations++;
	GW_INFO("%s: registered with %s, MEGACO/%u", v->name,
		mg_addr_str(&v->mgc[v->cur], a, sizeof(a)), v->version);
	mg_model_vmg_registered(v->m, v);
}

static void reg_start(struct mg_vmg *v)
{
	struct mg_msg *msg = NULL;
	struct mg_trans *t;
	struct mg_action *a;
	struct mg_cmd *c;
	struct mg_item *sv;
	int err;

	/* s.11.3: offer our highest version at each registration */
	v->version = v->conf.version;
	mg_tsx_ep_set_version(v->ep, v->version);
	if (mg_msg_alloc(&msg, v->version, NULL)) {
		reg_later(v, 1000);
		return;
	}
	t = mg_msg_add_trans(msg, MG_TRANS_REQUEST, 0);
	a = mg_trans_add_action(msg, t, MG_CTX_NULL);
	c = mg_action_add_cmd(msg, a, MG_CMD_SERVICECHANGE, "ROOT");
	sv = mg_item_add(msg, c ? &c->desc : NULL, MG_TOK_SERVICES, NULL);
	mg_item_set(msg, mg_item_add(msg, sv ? &sv->kids : NULL,
				     MG_TOK_METHOD, NULL), v->method, NULL);
	mg_item_set(msg, mg_item_add(msg, sv ? &sv->kids : NULL,
				     MG_TOK_REASON, NULL), 0, "%s",
		    v->reason);
	if (!mg_item_set(msg, mg_item_add(msg, sv ? &sv->kids : NULL,
					  MG_TOK_VERSION, NULL), 0, "%u",
			 v->version)) {
		gw_mem_deref(msg);
		reg_later(v, 1000);
		return;
	}
	/* the Reason is a quoted string: take the quotes off the word */
	{
		struct mg_item *r = sv->kids->next;

		r->val->s = mg_msg_strndup(msg, v->reason + 1,
					   strlen(v->reason) - 2);
		r->val->quoted = true;
	}
	v->state = VS_REGISTERING;
	err = mg_tsx_send(v->ep, &v->mgc[v->cur], msg, reg_resp, v,
			  &v->reg_id);
	gw_mem_deref(msg);
	if (err) {
		GW_WARN("%s: registration not sent: %s", v->name,
			strerror(err));
		reg_later(v, 1000);
		return;
	}
	v->reg_out = true;
}

/* A request from the controller. */
static void on_req(struct mg_tsx_req *req, const struct mg_trans *t,
		   const struct mg_msg *msg, void *arg)
{
	struct mg_vmg *v = arg;
	const struct mg_addr *from = mg_tsx_req_peer(req);
	char a[64], b[64], *pa, *pb;

	v->n.requests_in++;
	if (v->state != VS_REGISTERED) {
		/* s.11.2 */
		v->n.rejected++;
		mg_tsx_reply_error(req, 505, "Transaction Request Received "
				   "before a ServiceChange Reply has been "
				   "received");
		return;
	}
	/* one controller per termination: only our MGC's host */
	mg_addr_str(from, a, sizeof(a));
	mg_addr_str(&v->mgc[v->cur], b, sizeof(b));
	pa = strrchr(a, ':');
	pb = strrchr(b, ':');
	if (pa)
		*pa = '\0';
	if (pb)
		*pb = '\0';
	if (strcmp(a, b)) {
		v->n.rejected++;
		mg_tsx_reply_error(req, 402, "Unauthorized: not the "
				   "controlling MGC");
		return;
	}
	if (msg->version > v->version) {
		v->n.rejected++;
		mg_tsx_reply_error(req, 406, "Version Not Supported");
		return;
	}
	mg_model_vmg_heard(v->m, v);
	mg_model_exec(v->m, v, req, t, msg->version);
}

int mg_vmg_alloc(struct mg_vmg **vp, struct mg_model *m,
		 const struct mg_vmg_conf *vc)
{
	struct mg_tsx_conf tc = {0};
	struct mg_addr local;
	struct mg_vmg *v;
	unsigned i;
	int err;

	if (!vc->name || !vc->ip || !vc->nmgc || vc->nmgc > MG_MGC_MAX)
		return EINVAL;
	v = gw_mem_zalloc(sizeof(*v), vmg_destroy);
	if (!v)
		return ENOMEM;
	v->m = m;
	v->conf = *vc;
	if (!v->conf.version || v->conf.version > 3)
		v->conf.version = 3;
	snprintf(v->name, sizeof(v->name), "%s", vc->name);
	v->conf.name = v->name;
	snprintf(v->mid, sizeof(v->mid), strchr(vc->ip, ':') ? "[%s]:%u" :
		 "[%s]:%u", vc->ip, vc->port);
	gw_tmr_init(&v->tmr);
	for (i = 0; i < vc->nmgc; i++) {
		err = mg_addr_set(&v->mgc[i], vc->mgc_ip[i], vc->mgc_port[i]);
		if (err)
			goto out;
		mg_addr_str(&v->mgc[i], v->mgc_str[i], sizeof(v->mgc_str[i]));
	}
	v->nmgc = vc->nmgc;
	v->conf.ip = NULL;
	for (i = 0; i < MG_MGC_MAX; i++)
		v->conf.mgc_ip[i] = NULL;
	err = mg_addr_set(&local, vc->ip, vc->port);
	if (err)
		goto out;
	if (vc->tsx)
		tc = *vc->tsx;
	v->conf.tsx = NULL;
	tc.mid = v->mid;
	tc.version = v->conf.version;
	tc.style = vc->style;
	tc.tcp = vc->tcp;
	err = mg_tsx_ep_alloc(&v->ep, &local, &tc, on_req, v);
 out:
	if (err)
		gw_mem_deref(v);
	else
		*vp = v;
	return err;
}

int mg_vmg_start(struct mg_vmg *v)
{
	v->method = MG_TOK_RESTART;
	v->reason = "\"901 Cold Boot\"";
	v->cur = 0;
	/* s.9.2: a random wait so that MGs restarting together do not
	 * flood their MGC */
	reg_later(v, rnd_wait(v));
	return 0;
}

struct mg_msg *mg_vmg_msg(struct mg_vmg *v)
{
	struct mg_msg *msg = NULL;

	mg_msg_alloc(&msg, v->version ? v->version : 1, NULL);
	return msg;
}

struct send_ctx {
	struct mg_vmg *v;
	mg_tsx_resp_h *h;
	void *arg;
};

static void send_resp(int err, const struct mg_trans *reply,
		      const struct mg_msg *msg, void *arg)
{
	struct send_ctx *s = arg;
	struct mg_vmg *v = s->v;

	if (s->h)
		s->h(err, reply, msg, s->arg);
	if (err == ETIMEDOUT) {
		v->n.timeouts++;
		if (v->state == VS_REGISTERED)
			fail_over(v, "stopped answering");
	}
	gw_mem_deref(v);
	free(s);
}

int mg_vmg_send(struct mg_vmg *v, struct mg_msg *msg, mg_tsx_resp_h *h,
		void *arg)
{
	struct send_ctx *s;
	int err;

	if (v->state != VS_REGISTERED)
		return ENOTCONN;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->v = gw_mem_ref(v);
	s->h = h;
	s->arg = arg;
	err = mg_tsx_send(v->ep, &v->to, msg, send_resp, s, NULL);
	if (err) {
		gw_mem_deref(v);
		free(s);
		return err;
	}
	v->n.sent++;
	return 0;
}

/** ServiceChange on terminations (s.7.2.8): out of service, back. */
int mg_vmg_service_change(struct mg_vmg *v, const char *tid,
			  enum mg_tok method, const char *reason)
{
	struct mg_msg *msg;
	struct mg_trans *t;
	struct mg_action *a;
	struct mg_cmd *c;
	struct mg_item *sv, *r;
	int err;

	if (v->state != VS_REGISTERED)
		return ENOTCONN;
	msg = mg_vmg_msg(v);
	if (!msg)
		return ENOMEM;
	t = mg_msg_add_trans(msg, MG_TRANS_REQUEST, 0);
	a = mg_trans_add_action(msg, t, MG_CTX_NULL);
	c = mg_action_add_cmd(msg, a, MG_CMD_SERVICECHANGE, tid);
	sv = mg_item_add(msg, c ? &c->desc : NULL, MG_TOK_SERVICES, NULL);
	mg_item_set(msg, mg_item_add(msg, sv ? &sv->kids : NULL,
				     MG_TOK_METHOD, NULL), method, NULL);
	r = mg_item_add(msg, sv ? &sv->kids : NULL, MG_TOK_REASON, NULL);
	if (!mg_item_set(msg, r, 0, "x")) {
		gw_mem_deref(msg);
		return ENOMEM;
	}
	r->val->s = mg_msg_strndup(msg, reason + 1, strlen(reason) - 2);
	r->val->quoted = true;
	err = mg_vmg_send(v, msg, NULL, NULL);
	gw_mem_deref(msg);
	return err;
}

/* ServiceChange on ROOT for the whole MG going out of service. */
static void sc_root(struct mg_vmg *v, enum mg_tok method)
{
	struct mg_msg *msg;
	struct mg_trans *t;
	struct mg_action *a;
	struct mg_cmd *c;
	struct mg_item *sv;

	if (v->state != VS_REGISTERED || !(msg = mg_vmg_msg(v)))
		return;
	t = mg_msg_add_trans(msg, MG_TRANS_REQUEST, 0);
	a = mg_trans_add_action(msg, t, MG_CTX_NULL);
	c = mg_action_add_cmd(msg, a, MG_CMD_SERVICECHANGE, "ROOT");
	sv = mg_item_add(msg, c ? &c->desc : NULL, MG_TOK_SERVICES, NULL);
	mg_item_set(msg, mg_item_add(msg, sv ? &sv->kids : NULL,
				     MG_TOK_METHOD, NULL), method, NULL);
	mg_item_set(msg, mg_item_add(msg, sv ? &sv->kids : NULL,
				     MG_TOK_REASON, NULL), 0, "%s",
		    "905");
	if (method == MG_TOK_GRACEFUL)
		mg_item_set(msg, mg_item_add(msg, sv ? &sv->kids : NULL,
					     MG_TOK_DELAY, NULL), 0, "%u",
			    v->conf.graceful_s);
	mg_tsx_send(v->ep, &v->to, msg, NULL, NULL, NULL);
	gw_mem_deref(msg);
}

/**
 * Going out of service (s.7.2.8, s.11.4): Graceful with the configured
 * Delay; the controller keeps its association meanwhile.  The Delay in
 * seconds, 0 when there is none or v is not registered.
 */
unsigned mg_vmg_graceful(struct mg_vmg *v)
{
	if (v->state != VS_REGISTERED || !v->conf.graceful_s)
		return 0;
	sc_root(v, MG_TOK_GRACEFUL);
	v->draining = true;
	return v->conf.graceful_s;
}

/** At shutdown: Graceful with its Delay, or Forced (s.11.4); nothing
 * more after mg_vmg_graceful. */
void mg_vmg_shutdown(struct mg_vmg *v)
{
	gw_tmr_cancel(&v->tmr);
	if (!v->draining)
		sc_root(v, v->conf.graceful_s ? MG_TOK_GRACEFUL :
			MG_TOK_FORCED);
	v->state = VS_IDLE;
	/* What is still unanswered holds v (a controller gone with the
	 * MG going: nothing will answer), and v its endpoint. */
	mg_tsx_ep_cancel(v->ep);
}

/** HandOff (s.11.5): register with mid, keeping contexts. */
void mg_vmg_handoff(struct mg_vmg *v, const char *mid)
{
	struct mg_addr to;

	if (parse_mid(mid, &to)) {
		GW_WARN("%s: HandOff to %s: not an address", v->name, mid);
		return;
	}
	v->mgc[MG_MGC_MAX] = to;
	snprintf(v->mgc_str[MG_MGC_MAX], sizeof(v->mgc_str[0]), "%s", mid);
	v->cur = MG_MGC_MAX;
	v->method = MG_TOK_HANDOFF;
	v->reason = "\"903 MGC Directed Change\"";
	GW_INFO("%s: handed off to %s", v->name, mid);
	/* after the reply to the HandOff has gone */
	reg_later(v, 10);
}

json_t *mg_vmg_json(const struct mg_vmg *v)
{
	json_t *l = json_array();
	unsigned i;
	char a[64];

	for (i = 0; i < v->nmgc; i++)
		json_array_append_new(l, json_string(v->mgc_str[i]));
	return json_pack(
		"{s:s,s:s,s:s,s:s,s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
		"name", v->name, "mid", v->mid, "state",
		state_names[v->state], "mgc",
		v->state == VS_REGISTERED ? mg_addr_str(&v->mgc[v->cur], a,
							  sizeof(a)) : "",
		"version", (json_int_t)v->version, "mgcs", l,
		"registrations", (json_int_t)v->n.registrations,
		"failovers", (json_int_t)v->n.failovers,
		"requests_received", (json_int_t)v->n.requests_in,
		"requests_rejected", (json_int_t)v->n.rejected,
		"requests_sent", (json_int_t)v->n.sent,
		"timeouts", (json_int_t)v->n.timeouts,
		"registered_s", (json_int_t)(v->state == VS_REGISTERED ?
			(gw_now_ms() - v->since_ms) / 1000 : 0));
}
