/* tests/unit/test_mg_client.c - the MGC side of H.248.1 (s.11, s.7.2.8) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "mg.h"

/*
 * The client on 127.0.0.1 against an MG played by a bare transaction
 * endpoint (struct mg below): it registers with ServiceChange requests
 * written as text, answers the client's requests as each test wants,
 * and sends Notify and ServiceChange requests.  Timers are shortened as
 * in test_mg_tsx.c, so each case runs on the real loop in about a
 * second or less.
 */

#define MID_MGC		"[127.0.0.1]:55201"
#define MID_MG		"[127.0.0.1]:55202"
#define MID_OTHER	"[127.0.0.1]:55203"

/* Run the loop until cond holds or ms pass. */
#define WAIT_FOR(cond, ms) do {						\
		uint64_t end_ = gw_now_ms() + (ms);			\
		while (!(cond) && gw_now_ms() < end_)			\
			gw_loop_run_timeout(5);				\
	} while (0)

enum mg_answer {
	ANS_NORMAL,		/* the canned replies below */
	ANS_HOLD,		/* keep Add requests unanswered */
	ANS_ERROR,		/* Add: command error 430 */
	ANS_TERROR,		/* Add: transaction error 500 */
};

struct mg {			/* the MG side */
	struct mg_tsx_ep *ep;
	struct mg_addr addr;
	unsigned version;	/* of its messages */
	const char *mid;
	enum mg_answer answer;
	unsigned reqs;		/* requests received */
	unsigned audits;	/* of which AuditValue ROOT { Audit { } } */
	struct mg_msg *last;	/* the last request received */
	struct mg_tsx_req *held;
	unsigned resps;		/* replies to its own requests */
	int rerr;
	struct mg_msg *reply;	/* the last of them */
};

struct cli {			/* what the client reported */
	unsigned nev;
	enum mg_client_ev ev[16];
	bool ev_cmd[16];	/* with a command */
	enum mg_tok ev_method[16];
	unsigned notifies;
	uint32_t nctx;
	char ntid[64], nds[32];
	bool drop_on_down;	/* the handler drops the client */
	struct mg_client **self;
};

struct resp {			/* one reply to mg_client_send */
	unsigned calls;
	int err;
	unsigned ncmds;
	uint32_t ctx0;
	char tid0[32], tid1[32], sdp[256], ps[16];
	unsigned ecode;
	char etext[64];
};

static int loop_setup(void **state)
{
	if (gw_loop_init())
		return -1;
	return unit_leak_setup(state);
}

static int loop_teardown(void **state)
{
	int rc = unit_leak_teardown(state);

	gw_loop_close();
	return rc;
}

#define LOOP_TEST(f) \
	cmocka_unit_test_setup_teardown(f, loop_setup, loop_teardown)

static struct mg_tsx_conf fast_tsx(void)
{
	struct mg_tsx_conf c = {
		.rto_init_ms = 40, .rto_min_ms = 20, .rto_max_ms = 160,
		.tmax_ms = 600, .long_timer_ms = 1000, .pending_ms = 5000,
	};
	return c;
}

static struct mg_msg *text_msg(const char *text)
{
	struct mg_text_err e;
	struct mg_msg *m = NULL;

	if (mg_text_decode(&m, text, strlen(text), &e))
		fail_msg("cannot decode '%s': %s", text, e.text);
	return m;
}

/* ------------------------------------------------------------------ */
/* The MG                                                             */
/* ------------------------------------------------------------------ */

static struct mg_msg *mg_reply(const char *body)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "MEGACO/1 " MID_MG "\nReply = 1 { %s }",
		 body);
	return text_msg(buf);
}

static void mg_exec(struct mg_tsx_req *req, const struct mg_trans *t,
		    const struct mg_msg *msg, void *arg)
{
	struct mg *m = arg;
	const struct mg_cmd *cmd = t->actions->cmds;
	const char *body;

	m->reqs++;
	gw_mem_deref(m->last);
	m->last = gw_mem_ref((void *)msg);
	switch (cmd->type) {
	case MG_CMD_AUDITVALUE:
		if (cmd->desc && cmd->desc->tok == MG_TOK_AUDIT &&
		    !cmd->desc->kids && t->actions->ctx == MG_CTX_NULL &&
		    !strcmp(cmd->tid, "ROOT"))
			m->audits++;
		body = "Context = - { AuditValue = ROOT }";
		break;
	case MG_CMD_ADD:
		if (m->answer == ANS_HOLD) {
			assert_null(m->held);
			m->held = req;
			return;
		}
		if (m->answer == ANS_ERROR) {
			body = "Context = - { Add = tdm/1/99 { Error = 430 "
				"{ \"Unknown TerminationID\" } } }";
			break;
		}
		if (m->answer == ANS_TERROR) {
			assert_int_equal(mg_tsx_reply_error(req, 500, "oops"),
					 0);
			return;
		}
		body = "Context = 42 { Add = tdm/1/5, Add = rtp/7 { Media { "
			"Stream = 1 { Local {\nv=0\nc=IN IP4 127.0.0.1\n"
			"m=audio 4000 RTP/AVP 0\n} } } } }";
		break;
	case MG_CMD_SUBTRACT:
		body = "Context = 42 { Subtract = rtp/7 { Statistics { "
			"rtp/ps=1200, nt/dur=40 } } }";
		break;
	default:
		body = "Context = - { Modify = ROOT }";
		break;
	}
	assert_int_equal(mg_tsx_reply(req, mg_reply(body)), 0);
}

static void mg_resp(int err, const struct mg_trans *reply,
		    const struct mg_msg *msg, void *arg)
{
	struct mg *m = arg;

	(void)reply;
	m->resps++;
	m->rerr = err;
	gw_mem_deref(m->reply);
	m->reply = msg ? gw_mem_ref((void *)msg) : NULL;
}

static void mg_open_mid(struct mg *m, const char *mid, unsigned version,
			bool tcp)
{
	struct mg_tsx_conf tc = fast_tsx();
	struct mg_addr local;

	memset(m, 0, sizeof(*m));
	m->version = version;
	m->mid = mid;		/* the endpoint writes it */
	tc.mid = mid;
	tc.version = version;
	tc.tcp = tcp;
	assert_int_equal(mg_addr_set(&local, "127.0.0.1", 0), 0);
	assert_int_equal(mg_tsx_ep_alloc(&m->ep, &local, &tc, mg_exec, m), 0);
	assert_int_equal(mg_tsx_ep_local(m->ep, &m->addr), 0);
}

static void mg_open(struct mg *m, unsigned version, bool tcp)
{
	mg_open_mid(m, MID_MG, version, tcp);
}

static void mg_close(struct mg *m)
{
	if (m->held)
		gw_mem_deref(m->held);
	m->held = NULL;
	m->ep = gw_mem_deref(m->ep);
	m->last = gw_mem_deref(m->last);
	m->reply = gw_mem_deref(m->reply);
}

/* Send one request of the MG's: actions in text. */
static void mg_send(struct mg *m, const struct mg_addr *to, const char *mid,
		    const char *actions)
{
	char buf[1024];
	struct mg_msg *msg;

	snprintf(buf, sizeof(buf), "MEGACO/%u %s\nTransaction = 1 { %s }",
		 m->version, mid, actions);
	msg = text_msg(buf);
	assert_int_equal(mg_tsx_send(m->ep, to, msg, mg_resp, m, NULL), 0);
	gw_mem_deref(msg);
}

/* Send and wait for the client's reply. */
static const struct mg_trans *mg_request(struct mg *m,
					 const struct mg_addr *to,
					 const char *actions)
{
	unsigned n = m->resps;

	mg_send(m, to, m->mid, actions);
	WAIT_FOR(m->resps > n, 1000);
	assert_int_equal(m->resps, n + 1);
	assert_int_equal(m->rerr, 0);
	return m->reply->trans;
}

/* ------------------------------------------------------------------ */
/* The client                                                         */
/* ------------------------------------------------------------------ */

static void cli_ev(struct mg_client *c, enum mg_client_ev ev,
		   const struct mg_cmd *cmd, void *arg)
{
	struct cli *s = arg;
	const struct mg_item *it;

	assert_true(s->nev < GW_ARRAY_SIZE(s->ev));
	s->ev[s->nev] = ev;
	s->ev_cmd[s->nev] = cmd != NULL;
	it = cmd ? mg_cmd_find(cmd, "Method") : NULL;
	s->ev_method[s->nev] = it ? it->val[0].tok : MG_TOK_NONE;
	s->nev++;
	if (ev == MG_CLIENT_UP) {
		assert_true(mg_client_up(c));
		assert_non_null(mg_client_peer_mid(c));
	}
	if (ev == MG_CLIENT_DOWN) {
		assert_false(mg_client_up(c));
		if (s->drop_on_down)
			*s->self = gw_mem_deref(*s->self);
	}
}

static void cli_notify(struct mg_client *c, uint32_t ctx,
		       const struct mg_cmd *notify, void *arg)
{
	struct cli *s = arg;
	const struct mg_item *ds = mg_cmd_find(notify, "ds");

	(void)c;
	s->notifies++;
	s->nctx = ctx;
	snprintf(s->ntid, sizeof(s->ntid), "%s", notify->tid);
	snprintf(s->nds, sizeof(s->nds), "%s",
		 ds && ds->nval ? ds->val[0].s : "");
}

static void cli_resp(int err, const struct mg_trans *t, void *arg)
{
	struct resp *r = arg;
	const struct mg_cmd *cmd;
	const struct mg_err *e;
	const struct mg_item *ps;
	const char *sdp;

	r->calls++;
	r->err = err;
	if (err) {
		assert_null(t);
		return;
	}
	while (mg_reply_cmd(t, r->ncmds, NULL))
		r->ncmds++;
	cmd = mg_reply_cmd(t, 0, &r->ctx0);
	if (cmd)
		snprintf(r->tid0, sizeof(r->tid0), "%s", cmd->tid);
	ps = cmd ? mg_cmd_find(cmd, "rtp/ps") : NULL;
	if (ps)
		snprintf(r->ps, sizeof(r->ps), "%s", ps->val[0].s);
	cmd = mg_reply_cmd(t, 1, NULL);
	if (cmd) {
		snprintf(r->tid1, sizeof(r->tid1), "%s", cmd->tid);
		sdp = mg_cmd_sdp(cmd, false);
		snprintf(r->sdp, sizeof(r->sdp), "%s", sdp ? sdp : "");
		assert_null(mg_cmd_sdp(cmd, true));
	}
	e = mg_reply_error(t);
	if (e) {
		r->ecode = e->code;
		snprintf(r->etext, sizeof(r->etext), "%s",
			 e->text ? e->text : "");
	}
}

/* A client on a loopback port of its own: the endpoint is private, so
 * the tests pick the port rather than ask for port 0. */
static struct mg_client *cli_at(struct cli *s, unsigned version,
				unsigned keepalive_ms, bool tcp,
				struct mg_tsx_conf *tc, struct mg_addr *addr)
{
	struct mg_client_conf cc = {
		.mid = MID_MGC, .version = version, .tcp = tcp,
		.keepalive_ms = keepalive_ms, .tsx = tc,
	};
	struct mg_client *c = NULL;
	static uint16_t port = 55210;
	int i, err = EADDRINUSE;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < 50 && err; i++) {
		assert_int_equal(mg_addr_set(addr, "127.0.0.1", port++), 0);
		if (port > 55290)
			port = 55210;
		err = mg_client_alloc(&c, addr, &cc, cli_ev, cli_notify, s);
	}
	assert_int_equal(err, 0);
	return c;
}

#define REGISTER(v) "Context = - { ServiceChange = ROOT { Services { " \
	"Method = Restart, Reason = 901, Version = " #v " } } }"

/* Register the MG with the client; the client's reply. */
static const struct mg_trans *mg_register(struct mg *m, struct cli *s,
					  const struct mg_addr *to,
					  const char *actions)
{
	const struct mg_trans *t;
	unsigned n = s->nev;

	t = mg_request(m, to, actions);
	WAIT_FOR(s->nev > n, 500);
	return t;
}

/* ------------------------------------------------------------------ */

/* s.11.3: the MG offers 3, the client speaks 2: the reply carries
 * Version = 2 and the client writes version 2 from then on. */
static void test_register_lower(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	const struct mg_trans *t;
	const struct mg_cmd *cmd;
	const struct mg_item *v;
	struct mg_client *c;
	struct mg_addr ca;
	struct resp r = { 0 };
	struct cli s;
	struct mg m;
	json_t *j;
	uint32_t ctx = 7;

	(void)state;
	c = cli_at(&s, 2, 10000, false, &tc, &ca);
	assert_false(mg_client_up(c));
	assert_null(mg_client_peer_mid(c));
	assert_int_equal(mg_client_version(c), 0);
	mg_open(&m, 3, false);
	t = mg_register(&m, &s, &ca, REGISTER(3));
	assert_null(mg_reply_error(t));
	cmd = mg_reply_cmd(t, 0, &ctx);
	assert_non_null(cmd);
	assert_int_equal(ctx, MG_CTX_NULL);
	assert_int_equal(cmd->type, MG_CMD_SERVICECHANGE);
	assert_string_equal(cmd->tid, "ROOT");
	v = mg_cmd_find(cmd, "Version");
	assert_non_null(v);
	assert_string_equal(v->val[0].s, "2");
	assert_null(mg_reply_cmd(t, 1, NULL));
	assert_int_equal(s.nev, 1);
	assert_int_equal(s.ev[0], MG_CLIENT_UP);
	assert_true(s.ev_cmd[0]);
	assert_int_equal(s.ev_method[0], MG_TOK_RESTART);
	assert_true(mg_client_up(c));
	assert_string_equal(mg_client_peer_mid(c), MID_MG);
	assert_int_equal(mg_client_version(c), 2);
	/* the next request is written in version 2, to where the MG
	 * registered from */
	assert_int_equal(mg_client_send(c, cli_resp, &r, NULL,
					"Context = - { AuditValue = ROOT "
					"{ Audit { } } }"), 0);
	WAIT_FOR(r.calls, 1000);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, 0);
	assert_int_equal(m.last->version, 2);
	assert_string_equal(m.last->mid, MID_MGC);
	j = mg_client_json(c);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "state")),
			    "up");
	assert_int_equal(json_integer_value(json_object_get(j, "version")),
			 2);
	assert_string_equal(json_string_value(json_object_get(j,
							       "peer_mid")),
			    MID_MG);
	assert_non_null(json_string_value(json_object_get(j, "peer_addr")));
	assert_int_equal(json_integer_value(json_object_get(j,
							    "registrations")),
			 1);
	assert_int_equal(json_integer_value(json_object_get(j, "sent")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "replies")),
			 1);
	assert_int_equal(json_integer_value(json_object_get(j, "pending")),
			 0);
	json_decref(j);
	gw_mem_deref(c);
	mg_close(&m);
}

/* s.11.3: the MG offers 1 (header only, no Version), the client speaks
 * 3: no Version in the reply, and the client writes version 1. */
static void test_register_v1(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	const struct mg_trans *t;
	struct mg_client *c;
	struct mg_addr ca;
	struct resp r = { 0 };
	struct cli s;
	struct mg m;

	(void)state;
	c = cli_at(&s, 0, 10000, false, &tc, &ca);	/* default: 3 */
	mg_open(&m, 1, false);
	t = mg_register(&m, &s, &ca, "Context = - { ServiceChange = ROOT { "
			"Services { Method = Restart, Reason = \"901 Cold "
			"Boot\" } } }");
	assert_null(mg_reply_error(t));
	assert_null(mg_cmd_find(mg_reply_cmd(t, 0, NULL), "Version"));
	assert_true(mg_client_up(c));
	assert_int_equal(mg_client_version(c), 1);
	assert_int_equal(mg_client_send(c, cli_resp, &r, NULL,
					"Context = %s { Modify = %s }", "-",
					"ROOT"), 0);
	WAIT_FOR(r.calls, 1000);
	assert_int_equal(r.err, 0);
	assert_int_equal(m.last->version, 1);
	gw_mem_deref(c);
	mg_close(&m);
}

/* s.11.3: an offer below 1 cannot be met: 406, and no association. */
static void test_register_bad_version(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	const struct mg_trans *t;
	const struct mg_err *e;
	struct mg_client *c;
	struct mg_addr ca;
	struct cli s;
	struct mg m;

	(void)state;
	c = cli_at(&s, 3, 10000, false, &tc, &ca);
	mg_open(&m, 2, false);
	t = mg_request(&m, &ca, REGISTER(0));
	e = mg_reply_error(t);
	assert_non_null(e);
	assert_int_equal(e->code, 406);
	gw_loop_run_timeout(50);
	assert_int_equal(s.nev, 0);
	assert_false(mg_client_up(c));
	gw_mem_deref(c);
	mg_close(&m);
}

/* s.9.1 rule 6: before its ServiceChange, the MG's requests are refused
 * (401), and so are requests from another MID while one is registered. */
static void test_unregistered(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	const struct mg_trans *t;
	struct mg_client *c;
	struct mg_addr ca;
	struct cli s;
	struct mg m, m2;

	(void)state;
	c = cli_at(&s, 3, 10000, false, &tc, &ca);
	mg_open(&m, 2, false);
	mg_open_mid(&m2, MID_OTHER, 2, false);
	t = mg_request(&m, &ca, "Context = 1 { Notify = tdm/1/1 { "
		       "ObservedEvents = 1 { g/cause } } }");
	assert_non_null(t->err);
	assert_int_equal(t->err->code, 401);
	assert_int_equal(mg_reply_error(t)->code, 401);
	assert_int_equal(s.notifies, 0);
	assert_false(mg_client_up(c));
	mg_register(&m, &s, &ca, REGISTER(2));
	assert_true(mg_client_up(c));
	t = mg_request(&m2, &ca, "Context = 1 { Notify = tdm/1/1 { "
		       "ObservedEvents = 1 { g/cause } } }");
	assert_int_equal(mg_reply_error(t)->code, 401);
	assert_int_equal(s.notifies, 0);
	assert_string_equal(mg_client_peer_mid(c), MID_MG);
	/* s.11.4: another MG taking over (Failover): DOWN, then UP */
	mg_register(&m2, &s, &ca, "Context = - { ServiceChange = ROOT { "
		    "Services { Method = Failover, Reason = 908 } } }");
	WAIT_FOR(s.nev >= 3, 500);
	assert_int_equal(s.nev, 3);
	assert_int_equal(s.ev[1], MG_CLIENT_DOWN);
	assert_int_equal(s.ev[2], MG_CLIENT_UP);
	assert_string_equal(mg_client_peer_mid(c), MID_OTHER);
	assert_int_equal(mg_client_version(c), 2);
	gw_mem_deref(c);
	mg_close(&m);
	mg_close(&m2);
}

/* An Add into a new context with a CHOOSE termination, the reply read
 * with the readers; a Subtract's statistics; the counters. */
static void test_add_reply(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	const struct mg_action *act;
	struct mg_client *c;
	struct mg_addr ca;
	struct resp r = { 0 }, r2 = { 0 };
	struct cli s;
	struct mg m;
	uint32_t id = 0;
	json_t *j;

	(void)state;
	c = cli_at(&s, 3, 10000, false, &tc, &ca);
	mg_open(&m, 3, false);
	mg_register(&m, &s, &ca, REGISTER(3));
	assert_int_equal(mg_client_send(c, cli_resp, &r, &id,
		"Context = $ { Add = tdm/%u/%u, Add = $ { Media { Stream = 1 "
		"{ LocalControl { Mode = ReceiveOnly }, Local {\nv=0\n"
		"c=IN IP4 $\nm=audio $ RTP/AVP 0\n} } } } }", 1, 5), 0);
	assert_int_not_equal(id, 0);
	WAIT_FOR(r.calls, 1000);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, 0);
	/* what the MG got */
	assert_int_equal(m.last->version, 3);
	act = m.last->trans->actions;
	assert_int_equal(act->ctx, MG_CTX_CHOOSE);
	assert_string_equal(act->cmds->tid, "tdm/1/5");
	assert_string_equal(act->cmds->next->tid, "$");
	/* what the client read */
	assert_int_equal(r.ncmds, 2);
	assert_int_equal(r.ctx0, 42);
	assert_string_equal(r.tid0, "tdm/1/5");
	assert_string_equal(r.tid1, "rtp/7");
	assert_non_null(strstr(r.sdp, "m=audio 4000 RTP/AVP 0"));
	assert_int_equal(r.ecode, 0);

	assert_int_equal(mg_client_send(c, cli_resp, &r2, NULL,
					"Context = 42 { Subtract = rtp/7 }"),
			 0);
	WAIT_FOR(r2.calls, 1000);
	assert_int_equal(r2.err, 0);
	assert_string_equal(r2.ps, "1200");
	j = mg_client_json(c);
	assert_int_equal(json_integer_value(json_object_get(j, "sent")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "replies")),
			 2);
	assert_int_equal(json_object_size(json_object_get(j, "errors")), 0);
	json_decref(j);
	gw_mem_deref(c);
	mg_close(&m);
}

/* Errors in replies: a command's (430), a transaction's (500). */
static void test_error_reply(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	struct mg_client *c;
	struct mg_addr ca;
	struct resp r = { 0 }, r2 = { 0 };
	struct cli s;
	struct mg m;
	json_t *j, *errs;

	(void)state;
	c = cli_at(&s, 2, 10000, false, &tc, &ca);
	mg_open(&m, 2, false);
	mg_register(&m, &s, &ca, REGISTER(2));
	m.answer = ANS_ERROR;
	assert_int_equal(mg_client_send(c, cli_resp, &r, NULL,
					"Context = $ { Add = tdm/1/99 }"), 0);
	WAIT_FOR(r.calls, 1000);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ecode, 430);
	assert_string_equal(r.etext, "Unknown TerminationID");
	m.answer = ANS_TERROR;
	assert_int_equal(mg_client_send(c, cli_resp, &r2, NULL,
					"Context = $ { Add = tdm/1/98 }"), 0);
	WAIT_FOR(r2.calls, 1000);
	assert_int_equal(r2.err, 0);
	assert_int_equal(r2.ecode, 500);
	assert_int_equal(r2.ncmds, 0);
	j = mg_client_json(c);
	errs = json_object_get(j, "errors");
	assert_int_equal(json_integer_value(json_object_get(errs, "430")), 1);
	assert_int_equal(json_integer_value(json_object_get(errs, "500")), 1);
	json_decref(j);
	gw_mem_deref(c);
	mg_close(&m);
}

/* s.7.2.7: a Notify is answered (same termination, same context) and
 * handed up; a command an MG has no business sending gets 443. */
static void test_notify(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	const struct mg_trans *t;
	const struct mg_cmd *cmd;
	struct mg_client *c;
	struct mg_addr ca;
	struct cli s;
	struct mg m;
	uint32_t ctx = 0;
	json_t *j;

	(void)state;
	c = cli_at(&s, 3, 10000, false, &tc, &ca);
	mg_open(&m, 3, false);
	mg_register(&m, &s, &ca, REGISTER(3));
	t = mg_request(&m, &ca, "Context = 42 { Notify = tdm/1/5 { "
		       "ObservedEvents = 7 { 20240101T12000000:dd/ce { "
		       "ds = \"123#\", Meth = UM } } } }");
	assert_null(mg_reply_error(t));
	cmd = mg_reply_cmd(t, 0, &ctx);
	assert_int_equal(ctx, 42);
	assert_int_equal(cmd->type, MG_CMD_NOTIFY);
	assert_string_equal(cmd->tid, "tdm/1/5");
	assert_null(cmd->desc);
	assert_int_equal(s.notifies, 1);
	assert_int_equal(s.nctx, 42);
	assert_string_equal(s.ntid, "tdm/1/5");
	assert_string_equal(s.nds, "123#");

	/* Add from the MG: 443, and the Notify after it is not executed
	 * (s.8.2.2) */
	t = mg_request(&m, &ca, "Context = 42 { Add = tdm/1/6, "
		       "Notify = tdm/1/5 { ObservedEvents = 7 { g/cause } } }");
	assert_int_equal(mg_reply_error(t)->code, 443);
	assert_int_equal(mg_reply_cmd(t, 0, NULL)->type, MG_CMD_ADD);
	assert_null(mg_reply_cmd(t, 1, NULL));
	assert_int_equal(s.notifies, 1);
	/* ... unless it was optional */
	t = mg_request(&m, &ca, "Context = 42 { O-Add = tdm/1/6, "
		       "Notify = tdm/1/5 { ObservedEvents = 7 { g/cause } } }");
	assert_int_equal(mg_reply_error(t)->code, 443);
	assert_non_null(mg_reply_cmd(t, 1, NULL));
	assert_int_equal(s.notifies, 2);
	j = mg_client_json(c);
	assert_int_equal(json_integer_value(json_object_get(j, "notifies")),
			 2);
	json_decref(j);
	gw_mem_deref(c);
	mg_close(&m);
}

/* s.7.2.8 method 2: Forced on ROOT: down at once, the outstanding
 * request fails with ENOTCONN, a cancelled one stays silent, and
 * sending fails until the MG registers again. */
static void test_forced(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	struct mg_client *c;
	struct mg_addr ca;
	struct resp r = { 0 }, r2 = { 0 };
	struct cli s;
	struct mg m;
	uint32_t id2 = 0;
	json_t *j;

	(void)state;
	c = cli_at(&s, 3, 10000, false, &tc, &ca);
	mg_open(&m, 3, false);
	assert_int_equal(mg_client_send(c, cli_resp, &r, NULL,
					"Context = - { Modify = ROOT }"),
			 ENOTCONN);
	mg_register(&m, &s, &ca, REGISTER(3));
	m.answer = ANS_HOLD;
	assert_int_equal(mg_client_send(c, cli_resp, &r, NULL,
					"Context = $ { Add = tdm/1/1 }"), 0);
	assert_int_equal(mg_client_send(c, cli_resp, &r2, &id2,
					"Context = - { Modify = ROOT }"), 0);
	mg_client_cancel(c, id2);
	WAIT_FOR(m.held, 1000);
	assert_non_null(m.held);
	j = mg_client_json(c);
	assert_int_equal(json_integer_value(json_object_get(j, "pending")),
			 1);
	json_decref(j);
	mg_request(&m, &ca, "Context = - { ServiceChange = ROOT { Services { "
		   "Method = Forced, Reason = 905 } } }");
	WAIT_FOR(s.nev >= 2, 500);
	assert_int_equal(s.nev, 2);
	assert_int_equal(s.ev[1], MG_CLIENT_DOWN);
	assert_true(s.ev_cmd[1]);
	assert_int_equal(s.ev_method[1], MG_TOK_FORCED);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, ENOTCONN);
	assert_false(mg_client_up(c));
	assert_int_equal(mg_client_send(c, cli_resp, &r, NULL,
					"Context = - { Modify = ROOT }"),
			 ENOTCONN);
	/* the late answer finds nothing waiting */
	assert_int_equal(mg_tsx_reply(m.held, mg_reply("Context = 9 { "
						       "Add = tdm/1/1 }")), 0);
	m.held = NULL;
	gw_loop_run_timeout(100);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r2.calls, 0);
	j = mg_client_json(c);
	assert_string_equal(json_string_value(json_object_get(j, "state")),
			    "down");
	assert_int_equal(json_integer_value(json_object_get(j, "pending")),
			 0);
	json_decref(j);
	gw_mem_deref(c);
	mg_close(&m);
}

/* s.11.4: Restart on ROOT while up: the MG restarted, its contexts are
 * gone: DOWN, then UP; the outstanding request fails. */
static void test_restart_while_up(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	struct mg_client *c;
	struct mg_addr ca;
	struct resp r = { 0 };
	struct cli s;
	struct mg m;

	(void)state;
	c = cli_at(&s, 3, 10000, false, &tc, &ca);
	mg_open(&m, 3, false);
	mg_register(&m, &s, &ca, REGISTER(3));
	m.answer = ANS_HOLD;
	assert_int_equal(mg_client_send(c, cli_resp, &r, NULL,
					"Context = $ { Add = tdm/1/1 }"), 0);
	WAIT_FOR(m.held, 1000);
	mg_register(&m, &s, &ca, REGISTER(3));
	WAIT_FOR(s.nev >= 3, 500);
	assert_int_equal(s.nev, 3);
	assert_int_equal(s.ev[1], MG_CLIENT_DOWN);
	assert_int_equal(s.ev[2], MG_CLIENT_UP);
	assert_int_equal(r.err, ENOTCONN);
	assert_true(mg_client_up(c));
	/* Disconnected from the same MG keeps its state: UP only */
	mg_register(&m, &s, &ca, "Context = - { ServiceChange = ROOT { "
		    "Services { Method = Disconnected, Reason = 900 } } }");
	assert_int_equal(s.nev, 4);
	assert_int_equal(s.ev[3], MG_CLIENT_UP);
	assert_int_equal(s.ev_method[3], MG_TOK_DISCONNECTED);
	gw_mem_deref(c);
	mg_close(&m);
}

/* s.7.2.8 method 1: Graceful with a delay: SERVICE now, DOWN when it
 * ends; with a null delay the MG drains until it says more. */
static void test_graceful(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	struct mg_client *c;
	struct mg_addr ca;
	struct cli s;
	struct mg m;
	uint64_t t0;
	json_t *j;

	(void)state;
	c = cli_at(&s, 3, 10000, false, &tc, &ca);
	mg_open(&m, 3, false);
	mg_register(&m, &s, &ca, REGISTER(3));
	mg_request(&m, &ca, "Context = - { ServiceChange = ROOT { Services { "
		   "Method = Graceful, Reason = 905 } } }");
	assert_int_equal(s.nev, 2);
	assert_int_equal(s.ev[1], MG_CLIENT_SERVICE);
	assert_int_equal(s.ev_method[1], MG_TOK_GRACEFUL);
	assert_true(mg_client_up(c));
	j = mg_client_json(c);
	assert_true(json_is_true(json_object_get(j, "draining")));
	json_decref(j);
	gw_loop_run_timeout(100);
	assert_true(mg_client_up(c));

	t0 = gw_now_ms();
	mg_request(&m, &ca, "Context = - { ServiceChange = ROOT { Services { "
		   "Method = Graceful, Reason = 905, Delay = 1 } } }");
	assert_int_equal(s.nev, 3);
	assert_true(mg_client_up(c));
	WAIT_FOR(s.nev >= 4, 2000);
	assert_int_equal(s.nev, 4);
	assert_int_equal(s.ev[3], MG_CLIENT_DOWN);
	assert_int_equal(s.ev_method[3], MG_TOK_GRACEFUL);
	assert_true(gw_now_ms() - t0 >= 950);
	assert_false(mg_client_up(c));
	gw_mem_deref(c);
	mg_close(&m);
}

/* ServiceChange on terminations (an E1 going down): SERVICE, still up. */
static void test_service_terms(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	const struct mg_trans *t;
	struct mg_client *c;
	struct mg_addr ca;
	struct cli s;
	struct mg m;
	json_t *j;

	(void)state;
	c = cli_at(&s, 3, 10000, false, &tc, &ca);
	mg_open(&m, 3, false);
	mg_register(&m, &s, &ca, REGISTER(3));
	t = mg_request(&m, &ca, "Context = - { ServiceChange = tdm/1/* { "
		       "Services { Method = Forced, Reason = 906 } } }");
	assert_null(mg_reply_error(t));
	assert_string_equal(mg_reply_cmd(t, 0, NULL)->tid, "tdm/1/*");
	assert_int_equal(s.nev, 2);
	assert_int_equal(s.ev[1], MG_CLIENT_SERVICE);
	assert_int_equal(s.ev_method[1], MG_TOK_FORCED);
	assert_true(mg_client_up(c));
	j = mg_client_json(c);
	assert_int_equal(json_integer_value(json_object_get(j,
							    "service_changes")),
			 2);		/* the registration and this one */
	json_decref(j);
	gw_mem_deref(c);
	mg_close(&m);
}

/* s.7.2.8, s.9: requests go to the ServiceChangeAddress (a port). */
static void test_sc_address(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	struct mg_client *c;
	struct mg_addr ca;
	struct resp r = { 0 };
	struct cli s;
	struct mg m, m2;
	char buf[256], a[64];

	(void)state;
	c = cli_at(&s, 3, 10000, false, &tc, &ca);
	mg_open(&m, 3, false);
	mg_open(&m2, 3, false);
	mg_addr_str(&m2.addr, a, sizeof(a));
	snprintf(buf, sizeof(buf), "Context = - { ServiceChange = ROOT { "
		 "Services { Method = Restart, ServiceChangeAddress = %s } "
		 "} }", strchr(a, ':') + 1);
	mg_register(&m, &s, &ca, buf);
	assert_true(mg_client_up(c));
	assert_int_equal(mg_client_send(c, cli_resp, &r, NULL,
					"Context = - { Modify = ROOT }"), 0);
	WAIT_FOR(r.calls, 1000);
	assert_int_equal(r.err, 0);
	assert_int_equal(m.reqs, 0);
	assert_int_equal(m2.reqs, 1);
	gw_mem_deref(c);
	mg_close(&m);
	mg_close(&m2);
}

/* Keepalive: an idle MG is audited (AuditValue ROOT, empty Audit, in
 * the NULL context) and stays up while it answers. */
static void test_keepalive(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	struct mg_client *c;
	struct mg_addr ca;
	struct cli s;
	struct mg m;
	json_t *j;

	(void)state;
	c = cli_at(&s, 3, 100, false, &tc, &ca);
	mg_open(&m, 3, false);
	mg_register(&m, &s, &ca, REGISTER(3));
	gw_loop_run_timeout(50);
	assert_int_equal(m.audits, 0);
	WAIT_FOR(m.audits >= 3, 1000);
	assert_int_equal(m.audits, 3);
	assert_int_equal(m.reqs, 3);
	assert_true(mg_client_up(c));
	j = mg_client_json(c);
	assert_true(json_integer_value(json_object_get(j, "keepalives")) >= 3);
	json_decref(j);
	assert_int_equal(s.nev, 1);
	gw_mem_deref(c);
	mg_close(&m);
}

/* Keepalive unanswered for T-MAX: DOWN without a command; the
 * outstanding request fails; the handler may drop the client. */
static void test_keepalive_timeout(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	struct mg_client *c;
	struct mg_addr ca;
	struct resp r = { 0 };
	struct cli s;
	struct mg m;
	uint64_t t0;

	(void)state;
	tc.tmax_ms = 300;
	c = cli_at(&s, 3, 100, false, &tc, &ca);
	mg_open(&m, 3, false);
	mg_register(&m, &s, &ca, REGISTER(3));
	m.answer = ANS_HOLD;
	assert_int_equal(mg_client_send(c, cli_resp, &r, NULL,
					"Context = $ { Add = tdm/1/1 }"), 0);
	WAIT_FOR(m.held, 1000);
	mg_close(&m);		/* the MG vanishes */
	s.drop_on_down = true;
	s.self = &c;
	t0 = gw_now_ms();
	WAIT_FOR(s.nev >= 2, 2000);
	assert_int_equal(s.nev, 2);
	assert_int_equal(s.ev[1], MG_CLIENT_DOWN);
	assert_false(s.ev_cmd[1]);
	assert_null(c);		/* dropped by the handler */
	/* keepalive after 100 ms idle, T-MAX 300 ms later, or the Add's */
	assert_true(gw_now_ms() - t0 <= 1000);
	assert_int_equal(r.calls, 1);
	assert_true(r.err == ETIMEDOUT || r.err == ENOTCONN);
}

/* Text that does not decode is not sent: EBADMSG, the reason logged. */
static char logged[512];

static void log_h(enum gw_log_level level, const char *module,
		  const char *msg, void *arg)
{
	(void)arg;
	if (level == GW_LOG_WARN && !strcmp(module, "mg"))
		snprintf(logged, sizeof(logged), "%s", msg);
}

static void test_bad_text(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	struct mg_client *c;
	struct mg_addr ca;
	struct resp r = { 0 };
	struct cli s;
	struct mg m;

	(void)state;
	c = cli_at(&s, 1, 10000, false, &tc, &ca);
	mg_open(&m, 1, false);
	mg_register(&m, &s, &ca, REGISTER(1));
	gw_log_set_levels("err,mg=warn");
	gw_log_set_handler(log_h, NULL);
	logged[0] = '\0';
	assert_int_equal(mg_client_send(c, cli_resp, &r, NULL,
					"Context = 1 { Modify = tdm/1/1 { "
					"Media { LocalControl { Mode = "
					"Sideways } } } }"), EBADMSG);
	assert_non_null(strstr(logged, "Sideways"));
	/* v1 has no W- prefix (it came with v2) */
	assert_int_equal(mg_client_send(c, cli_resp, &r, NULL,
					"Context = - { W-Modify = tdm/1/* }"),
			 EBADMSG);
	/* one transaction per call */
	assert_int_equal(mg_client_send(c, cli_resp, &r, NULL,
					"Context = - { Modify = ROOT } } "
					"Transaction = 9 { Context = - { "
					"Modify = ROOT }"), EBADMSG);
	assert_int_equal(mg_client_send(c, cli_resp, &r, NULL, "%s", ""),
			 EBADMSG);
	gw_log_set_handler(NULL, NULL);
	gw_log_set_levels("err");
	gw_loop_run_timeout(50);
	assert_int_equal(m.reqs, 0);
	assert_int_equal(r.calls, 0);
	gw_mem_deref(c);
	mg_close(&m);
}

/* Annex D.2: the same association over TCP. */
static void test_tcp(void **state)
{
	struct mg_tsx_conf tc = fast_tsx();
	const struct mg_trans *t;
	struct mg_client *c;
	struct mg_addr ca;
	struct resp r = { 0 };
	struct cli s;
	struct mg m;

	(void)state;
	c = cli_at(&s, 2, 10000, true, &tc, &ca);
	mg_open(&m, 3, true);
	t = mg_register(&m, &s, &ca, REGISTER(3));
	assert_string_equal(mg_cmd_find(mg_reply_cmd(t, 0, NULL),
					"Version")->val[0].s, "2");
	assert_true(mg_client_up(c));
	assert_int_equal(mg_client_send(c, cli_resp, &r, NULL,
					"Context = $ { Add = tdm/1/5, Add = $ "
					"{ Media { Stream = 1 { Local { v=0 } "
					"} } } }"), 0);
	WAIT_FOR(r.calls, 1000);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ctx0, 42);
	assert_string_equal(r.tid1, "rtp/7");
	assert_int_equal(m.last->version, 2);
	gw_mem_deref(c);
	mg_close(&m);
}

/* The readers on decoded replies, no network. */
static void test_readers(void **state)
{
	struct mg_msg *m;
	const struct mg_trans *t;
	const struct mg_cmd *cmd;
	const struct mg_item *it;
	uint32_t ctx = 0;

	(void)state;
	m = text_msg("MEGACO/2 [127.0.0.1]:1\nReply = 5 { "
		     "Context = 3 { Add = rtp/1 { Media { Local { v=0 }, "
		     "Remote { v=1 } } }, Modify = tdm/1/1 }, "
		     "Context = 4 { Subtract = rtp/2 { Statistics { "
		     "nt/dur = 40 } }, Error = 411 { \"gone\" } } }");
	t = m->trans;
	cmd = mg_reply_cmd(t, 0, &ctx);
	assert_int_equal(ctx, 3);
	assert_string_equal(mg_cmd_sdp(cmd, false), " v=0 ");
	assert_string_equal(mg_cmd_sdp(cmd, true), " v=1 ");
	assert_null(mg_cmd_sdp(mg_reply_cmd(t, 1, NULL), false));
	cmd = mg_reply_cmd(t, 2, &ctx);
	assert_int_equal(ctx, 4);
	assert_string_equal(cmd->tid, "rtp/2");
	it = mg_cmd_find(cmd, "NT/DUR");
	assert_non_null(it);
	assert_string_equal(it->val[0].s, "40");
	assert_non_null(mg_cmd_find(cmd, "SA"));	/* compact token */
	assert_null(mg_cmd_find(cmd, "rtp/ps"));
	assert_null(mg_reply_cmd(t, 3, NULL));
	assert_int_equal(mg_reply_error(t)->code, 411);
	assert_string_equal(mg_reply_error(t)->text, "gone");
	assert_null(mg_reply_cmd(NULL, 0, NULL));
	assert_null(mg_reply_error(NULL));
	assert_null(mg_cmd_sdp(NULL, false));
	assert_null(mg_cmd_find(NULL, "x"));
	gw_mem_deref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_readers),
		LOOP_TEST(test_register_lower),
		LOOP_TEST(test_register_v1),
		LOOP_TEST(test_register_bad_version),
		LOOP_TEST(test_unregistered),
		LOOP_TEST(test_add_reply),
		LOOP_TEST(test_error_reply),
		LOOP_TEST(test_notify),
		LOOP_TEST(test_forced),
		LOOP_TEST(test_restart_while_up),
		LOOP_TEST(test_graceful),
		LOOP_TEST(test_service_terms),
		LOOP_TEST(test_sc_address),
		LOOP_TEST(test_keepalive),
		LOOP_TEST(test_keepalive_timeout),
		LOOP_TEST(test_bad_text),
		LOOP_TEST(test_tcp),
	};

	gw_log_set_levels("err");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
