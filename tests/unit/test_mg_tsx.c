/* tests/unit/test_mg_tsx.c - H.248.1 transactions over UDP (Annex D.1) */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "unit.h"
#include "mg.h"

/*
 * Two endpoints on 127.0.0.1 (A plays the MGC, B the MG) and a raw UDP
 * socket as the peer that loses, repeats or mangles messages.  Timers
 * are shortened (D.1.3's 200 ms / 4 s / 30 s become 40 / 160 / 600 ms)
 * so that every case runs on the real loop in well under a second.
 */

#define MID_A	"[127.0.0.1]:55001"
#define MID_B	"[127.0.0.1]:55002"
#define MID_RAW	"[127.0.0.1]:55003"
#define MAXRX	32

struct raw {
	int fd;
	struct mg_addr addr;
	char rx[MAXRX][2048];
	size_t rxlen[MAXRX];
	uint64_t rxat[MAXRX];
	unsigned n, want;
	bool drain;		/* read and count, keep nothing */
	unsigned drained;
};

struct side {			/* what a test's handlers saw */
	unsigned execs;		/* requests executed by B */
	struct mg_tsx_req *held;	/* a request left unanswered */
	uint32_t last_req_id;
	unsigned replies;	/* responses seen by A */
	int err[8];
	uint32_t ctx[8];
	bool imm_ack[8];
	unsigned want;
};

/* Each test on a loop of its own, inside the leak check, so that a
 * failed test does not take the next ones with it. */
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

static struct mg_tsx_conf fast_conf(const char *mid)
{
	struct mg_tsx_conf c = {
		.mid = mid, .version = 1, .style = MG_TEXT_COMPACT,
		.rto_init_ms = 40, .rto_min_ms = 20, .rto_max_ms = 160,
		.tmax_ms = 600, .long_timer_ms = 1000, .pending_ms = 5000,
	};
	return c;
}

static struct mg_tsx_ep *ep_new(struct mg_tsx_conf *c, mg_tsx_req_h *h,
				void *arg, struct mg_addr *addr)
{
	struct mg_tsx_ep *ep = NULL;
	struct mg_addr local;

	assert_int_equal(mg_addr_set(&local, "127.0.0.1", 0), 0);
	assert_int_equal(mg_tsx_ep_alloc(&ep, &local, c, h, arg), 0);
	assert_int_equal(mg_tsx_ep_local(ep, addr), 0);
	return ep;
}

static void raw_readable(int flags, void *arg)
{
	struct raw *r = arg;
	ssize_t n;

	(void)flags;
	while (r->drain) {
		if (recv(r->fd, r->rx[0], sizeof(r->rx[0]), 0) < 0)
			return;
		r->drained++;
	}
	while (r->n < MAXRX) {
		n = recv(r->fd, r->rx[r->n], sizeof(r->rx[0]) - 1, 0);
		if (n < 0)
			break;
		r->rx[r->n][n] = '\0';
		r->rxlen[r->n] = (size_t)n;
		r->rxat[r->n] = gw_now_ms();
		r->n++;
	}
	if (r->want && r->n >= r->want)
		gw_loop_stop();
}

static void raw_open(struct raw *r)
{
	struct mg_addr a;
	socklen_t len = sizeof(r->addr.sa);

	memset(r, 0, sizeof(*r));
	assert_int_equal(mg_addr_set(&a, "127.0.0.1", 0), 0);
	r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(r->fd >= 0);
	assert_int_equal(bind(r->fd, (struct sockaddr *)a.sa.b, a.len), 0);
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)r->addr.sa.b,
				     &len), 0);
	r->addr.len = len;
	assert_int_equal(gw_fd_listen(r->fd, GW_FD_READ, raw_readable, r), 0);
}

static void raw_close(struct raw *r)
{
	gw_fd_close(r->fd);
	close(r->fd);
}

static void raw_send(struct raw *r, const struct mg_addr *to,
		     const char *text)
{
	assert_int_equal(sendto(r->fd, text, strlen(text), 0,
				(const struct sockaddr *)to->sa.b,
				to->len), (ssize_t)strlen(text));
}

/* Run the loop until r holds n datagrams or ms pass; how many it has. */
static unsigned raw_wait(struct raw *r, unsigned n, uint64_t ms)
{
	r->want = n;
	if (r->n < n)
		gw_loop_run_timeout(ms);
	r->want = 0;
	return r->n;
}

static struct mg_msg *raw_msg(struct raw *r, unsigned i)
{
	struct mg_text_err e;
	struct mg_msg *m = NULL;

	assert_true(i < r->n);
	if (mg_text_decode(&m, r->rx[i], r->rxlen[i], &e))
		fail_msg("cannot decode '%s': %s", r->rx[i], e.text);
	return m;
}

static struct mg_msg *text_msg(const char *text)
{
	struct mg_text_err e;
	struct mg_msg *m = NULL;

	if (mg_text_decode(&m, text, strlen(text), &e))
		fail_msg("cannot decode '%s': %s", text, e.text);
	return m;
}

static struct mg_msg *request(void)
{
	return text_msg("MEGACO/1 [127.0.0.1]:1\n"
			"Transaction = 1 { Context = $ { Add = rtp/$ } }");
}

static struct mg_msg *reply(uint32_t ctx)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "MEGACO/1 [127.0.0.1]:1\n"
		 "Reply = 1 { Context = %u { Add = rtp/1 } }", ctx);
	return text_msg(buf);
}

/* B: execute at once, answering Context = 100 + executions. */
static void exec_now(struct mg_tsx_req *req, const struct mg_trans *t,
		     const struct mg_msg *msg, void *arg)
{
	struct side *s = arg;

	(void)msg;
	s->execs++;
	s->last_req_id = t->id;
	assert_int_equal(mg_tsx_reply(req, reply(100 + s->execs)), 0);
}

/* B: keep the request; the test answers later. */
static void exec_hold(struct mg_tsx_req *req, const struct mg_trans *t,
		      const struct mg_msg *msg, void *arg)
{
	struct side *s = arg;

	(void)msg;
	s->execs++;
	s->last_req_id = t->id;
	assert_null(s->held);
	s->held = req;
}

static void resp(int err, const struct mg_trans *t, const struct mg_msg *msg,
		 void *arg)
{
	struct side *s = arg;
	unsigned i = s->replies++;

	(void)msg;
	assert_true(i < GW_ARRAY_SIZE(s->err));
	s->err[i] = err;
	if (!err) {
		assert_non_null(t);
		assert_non_null(t->actions);
		s->ctx[i] = t->actions->ctx;
		s->imm_ack[i] = t->imm_ack;
	} else {
		assert_null(t);
	}
	if (s->replies >= s->want)
		gw_loop_stop();
}

static void wait_replies(struct side *s, unsigned n, uint64_t ms)
{
	s->want = n;
	if (s->replies < n)
		gw_loop_run_timeout(ms);
}

static void sleep_loop(uint64_t ms)
{
	assert_int_equal(gw_loop_run_timeout(ms), ETIMEDOUT);
}

/* ------------------------------------------------------------------ */

static void test_request_reply(void **state)
{
	struct mg_tsx_conf ca = fast_conf(MID_A), cb = fast_conf(MID_B);
	struct side sa = { 0 }, sb = { 0 };
	struct mg_addr aa, ab;
	struct mg_tsx_ep *a, *b;
	struct mg_msg *m;
	uint32_t id = 0;

	(void)state;
	cb.style = MG_TEXT_PRETTY;
	a = ep_new(&ca, NULL, NULL, &aa);
	b = ep_new(&cb, exec_now, &sb, &ab);
	m = request();
	assert_int_equal(mg_tsx_send(a, &ab, m, resp, &sa, &id), 0);
	assert_int_not_equal(id, 0);
	assert_int_equal(m->trans->id, id);
	gw_mem_deref(m);
	wait_replies(&sa, 1, 2000);
	assert_int_equal(sa.replies, 1);
	assert_int_equal(sa.err[0], 0);
	assert_int_equal(sa.ctx[0], 101);
	assert_false(sa.imm_ack[0]);
	assert_int_equal(sb.execs, 1);
	assert_int_equal(sb.last_req_id, id);
	/* nothing further: no retransmission, no second call */
	sleep_loop(200);
	assert_int_equal(sa.replies, 1);
	assert_int_equal(sb.execs, 1);
	gw_mem_deref(a);
	gw_mem_deref(b);
}

/* D.1.3: the first copy is lost; the retransmission is answered. */
static void test_lost_request(void **state)
{
	struct mg_tsx_conf ca = fast_conf(MID_A);
	struct side sa = { 0 };
	struct mg_addr aa;
	struct mg_tsx_ep *a;
	struct mg_msg *m;
	struct raw r;
	uint32_t id = 0;
	char buf[256];

	(void)state;
	raw_open(&r);
	a = ep_new(&ca, NULL, NULL, &aa);
	m = request();
	assert_int_equal(mg_tsx_send(a, &r.addr, m, resp, &sa, &id), 0);
	gw_mem_deref(m);
	assert_int_equal(raw_wait(&r, 2, 1000), 2);	/* drop the first */
	assert_int_equal(r.rxlen[0], r.rxlen[1]);
	assert_memory_equal(r.rx[0], r.rx[1], r.rxlen[0]);
	assert_true(r.rxat[1] - r.rxat[0] >= 15);	/* 0.5 x 40 ms */
	m = raw_msg(&r, 1);
	assert_string_equal(m->mid, MID_A);
	assert_int_equal(m->trans->type, MG_TRANS_REQUEST);
	assert_int_equal(m->trans->id, id);
	gw_mem_deref(m);
	snprintf(buf, sizeof(buf), "!/1 " MID_RAW "\nP=%u{C=7{A=rtp/1}}", id);
	raw_send(&r, &aa, buf);
	wait_replies(&sa, 1, 1000);
	assert_int_equal(sa.replies, 1);
	assert_int_equal(sa.err[0], 0);
	assert_int_equal(sa.ctx[0], 7);
	/* answered: retransmissions stop, a repeated reply is ignored;
	 * the reply is acknowledged once, by itself (D.1.2.2) */
	raw_send(&r, &aa, buf);
	r.n = 0;
	sleep_loop(300);
	assert_int_equal(r.n, 1);
	m = raw_msg(&r, 0);
	assert_int_equal(m->trans->type, MG_TRANS_ACK);
	assert_null(m->trans->next);
	assert_int_equal(m->trans->nacks, 1);
	assert_int_equal(m->trans->acks[0].first, id);
	assert_int_equal(m->trans->acks[0].last, id);
	gw_mem_deref(m);
	assert_int_equal(sa.replies, 1);
	gw_mem_deref(a);
	raw_close(&r);
}

/* D.1.1: the reply is lost; the repetition gets the stored reply without
 * executing again, until LONG-TIMER has passed. */
static void test_lost_reply(void **state)
{
	struct mg_tsx_conf cb = fast_conf(MID_B);
	static const char req[] = "!/1 " MID_RAW
		"\nT=77{C=${A=rtp/$}}";
	struct side sb = { 0 };
	struct mg_addr ab;
	struct mg_tsx_ep *b;
	struct mg_msg *m;
	struct raw r;

	(void)state;
	raw_open(&r);
	cb.long_timer_ms = 300;
	b = ep_new(&cb, exec_now, &sb, &ab);
	raw_send(&r, &ab, req);
	assert_int_equal(raw_wait(&r, 1, 1000), 1);
	raw_send(&r, &ab, req);
	assert_int_equal(raw_wait(&r, 2, 1000), 2);
	assert_int_equal(sb.execs, 1);
	assert_string_equal(r.rx[0], r.rx[1]);
	m = raw_msg(&r, 1);
	assert_string_equal(m->mid, MID_B);
	assert_int_equal(m->trans->type, MG_TRANS_REPLY);
	assert_int_equal(m->trans->id, 77);
	assert_false(m->trans->imm_ack);
	assert_int_equal(m->trans->actions->ctx, 101);
	gw_mem_deref(m);
	/* same id from another MID: another transaction */
	raw_send(&r, &ab, "!/1 [127.0.0.1]:1\nT=77{C=${A=rtp/$}}");
	assert_int_equal(raw_wait(&r, 3, 1000), 3);
	assert_int_equal(sb.execs, 2);
	/* after LONG-TIMER the id is forgotten: executed anew */
	sleep_loop(400);
	raw_send(&r, &ab, req);
	assert_int_equal(raw_wait(&r, 4, 1000), 4);
	assert_int_equal(sb.execs, 3);
	gw_mem_deref(b);
	raw_close(&r);
}

/* D.1.1, s.8.2.3: a repetition while executing gets Pending; the final
 * reply then carries ImmAckRequired. */
static void test_dup_executing(void **state)
{
	struct mg_tsx_conf cb = fast_conf(MID_B);
	static const char req[] = "!/1 " MID_RAW "\nT=78{C=${A=rtp/$}}";
	struct side sb = { 0 };
	struct mg_addr ab;
	struct mg_tsx_ep *b;
	struct mg_msg *m;
	struct raw r;

	(void)state;
	raw_open(&r);
	b = ep_new(&cb, exec_hold, &sb, &ab);
	raw_send(&r, &ab, req);
	sleep_loop(50);
	assert_int_equal(sb.execs, 1);
	assert_int_equal(r.n, 0);		/* pending_ms is 5 s here */
	raw_send(&r, &ab, req);
	assert_int_equal(raw_wait(&r, 1, 1000), 1);
	assert_int_equal(sb.execs, 1);
	m = raw_msg(&r, 0);
	assert_int_equal(m->trans->type, MG_TRANS_PENDING);
	assert_int_equal(m->trans->id, 78);
	gw_mem_deref(m);
	assert_int_equal(mg_tsx_reply(sb.held, reply(5)), 0);
	assert_int_equal(raw_wait(&r, 2, 1000), 2);
	m = raw_msg(&r, 1);
	assert_int_equal(m->trans->type, MG_TRANS_REPLY);
	assert_int_equal(m->trans->id, 78);
	assert_true(m->trans->imm_ack);
	gw_mem_deref(m);
	gw_mem_deref(b);
	raw_close(&r);
}

static struct side *slow_side;

static void answer_late(void *arg)
{
	(void)arg;
	assert_int_equal(mg_tsx_reply(slow_side->held, reply(9)), 0);
	slow_side->held = NULL;
}

/* normalMGExecutionTime: B sends Pending by itself, then a final reply
 * with ImmAckRequired, which A acknowledges at once, and B drops the
 * stored reply (a late repetition is then discarded). */
static void test_slow_execution(void **state)
{
	struct mg_tsx_conf ca = fast_conf(MID_A), cb = fast_conf(MID_B);
	struct side sa = { 0 }, sb = { 0 };
	struct mg_addr aa, ab;
	struct mg_tsx_ep *a, *b;
	struct gw_tmr tmr;
	struct mg_msg *m;
	struct raw r;
	uint32_t id = 0;
	char buf[128];

	(void)state;
	raw_open(&r);
	/* no retransmission before the answer: the Pending (hence the IA)
	 * can only be the one B sends by itself after pending_ms */
	ca.rto_init_ms = 1500;
	ca.rto_max_ms = 1500;
	ca.tmax_ms = 2000;
	cb.pending_ms = 50;
	a = ep_new(&ca, NULL, NULL, &aa);
	b = ep_new(&cb, exec_hold, &sb, &ab);
	m = request();
	assert_int_equal(mg_tsx_send(a, &ab, m, resp, &sa, &id), 0);
	gw_mem_deref(m);
	slow_side = &sb;
	gw_tmr_init(&tmr);
	gw_tmr_start(&tmr, 300, answer_late, NULL);
	wait_replies(&sa, 1, 2000);
	gw_tmr_cancel(&tmr);
	assert_int_equal(sa.replies, 1);
	assert_int_equal(sa.err[0], 0);
	assert_int_equal(sa.ctx[0], 9);
	assert_true(sa.imm_ack[0]);
	assert_int_equal(sb.execs, 1);	/* the Pending held A back */
	sleep_loop(100);			/* A's ack reaches B */
	snprintf(buf, sizeof(buf), "!/1 " MID_A "\nT=%u{C=${A=rtp/$}}", id);
	raw_send(&r, &ab, buf);
	sleep_loop(200);
	assert_int_equal(r.n, 0);
	assert_int_equal(sb.execs, 1);
	gw_mem_deref(a);
	gw_mem_deref(b);
	raw_close(&r);
}

/* D.1.2.2: TransactionResponseAck drops the stored reply; the id stays
 * known, so a late repetition is discarded, not executed. */
static void test_response_ack(void **state)
{
	struct mg_tsx_conf cb = fast_conf(MID_B);
	struct side sb = { 0 };
	struct mg_addr ab;
	struct mg_tsx_ep *b;
	struct raw r;

	(void)state;
	raw_open(&r);
	b = ep_new(&cb, exec_now, &sb, &ab);
	raw_send(&r, &ab, "!/1 " MID_RAW "\nT=10{C=${A=rtp/$}}"
		 "T=11{C=${A=rtp/$}}T=12{C=${A=rtp/$}}");
	assert_int_equal(raw_wait(&r, 3, 1000), 3);
	assert_int_equal(sb.execs, 3);
	raw_send(&r, &ab, "!/1 " MID_RAW "\nK{10-11}");
	sleep_loop(50);
	raw_send(&r, &ab, "!/1 " MID_RAW "\nT=10{C=${A=rtp/$}}");
	raw_send(&r, &ab, "!/1 " MID_RAW "\nT=11{C=${A=rtp/$}}");
	raw_send(&r, &ab, "!/1 " MID_RAW "\nT=12{C=${A=rtp/$}}");
	assert_int_equal(raw_wait(&r, 4, 500), 4);
	sleep_loop(100);
	assert_int_equal(r.n, 4);		/* only 12 answered again */
	assert_int_equal(sb.execs, 3);
	assert_string_equal(strstr(r.rx[3], "P=12"), strstr(r.rx[2], "P=12"));
	gw_mem_deref(b);
	raw_close(&r);
}

/* T-MAX: a peer that never answers; the handler gets ETIMEDOUT once. */
static void test_give_up(void **state)
{
	struct mg_tsx_conf ca = fast_conf(MID_A);
	struct side sa = { 0 };
	struct mg_addr aa;
	struct mg_tsx_ep *a;
	struct mg_msg *m;
	struct raw r;
	uint64_t t0;
	unsigned i;

	(void)state;
	raw_open(&r);
	a = ep_new(&ca, NULL, NULL, &aa);
	m = request();
	t0 = gw_now_ms();
	assert_int_equal(mg_tsx_send(a, &r.addr, m, resp, &sa, NULL), 0);
	gw_mem_deref(m);
	wait_replies(&sa, 1, 2000);
	assert_int_equal(sa.replies, 1);
	assert_int_equal(sa.err[0], ETIMEDOUT);
	assert_true(gw_now_ms() - t0 >= 590);
	assert_true(gw_now_ms() - t0 < 900);
	/* 40 ms doubling to 160 ms, randomised to 0.5..1: 4..30 copies */
	assert_true(r.n >= 4 && r.n <= 30);
	for (i = 1; i < r.n; i++)
		assert_string_equal(r.rx[i], r.rx[0]);
	i = r.n;
	sleep_loop(300);
	assert_int_equal(sa.replies, 1);
	assert_int_equal(r.n, i);
	gw_mem_deref(a);
	raw_close(&r);
}

/* Its owner stopping: each outstanding request's handler gets
 * ECANCELED once, at once, and nothing is sent again. */
static void test_cancel(void **state)
{
	struct mg_tsx_conf ca = fast_conf(MID_A);
	struct side sa = { 0 };
	struct mg_addr aa;
	struct mg_tsx_ep *a;
	struct mg_msg *m;
	struct raw r;
	unsigned i, n;

	(void)state;
	raw_open(&r);
	a = ep_new(&ca, NULL, NULL, &aa);
	for (i = 0; i < 3; i++) {
		m = request();
		assert_int_equal(mg_tsx_send(a, &r.addr, m, resp, &sa, NULL),
				 0);
		gw_mem_deref(m);
	}
	sleep_loop(50);
	mg_tsx_ep_cancel(a);
	assert_int_equal(sa.replies, 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(sa.err[i], ECANCELED);
	n = r.n;
	sleep_loop(300);
	assert_int_equal(sa.replies, 3);
	assert_int_equal(r.n, n);
	gw_mem_deref(a);
	raw_close(&r);
}

/* s.8.2.3: each Pending restarts the requester's timer. */
static void test_pending_extends(void **state)
{
	struct mg_tsx_conf ca = fast_conf(MID_A);
	struct side sa = { 0 };
	struct mg_addr aa;
	struct mg_tsx_ep *a;
	struct mg_msg *m;
	struct raw r;
	uint32_t id = 0;
	char buf[128];
	int i;

	(void)state;
	raw_open(&r);
	ca.tmax_ms = 300;
	a = ep_new(&ca, NULL, NULL, &aa);
	m = request();
	assert_int_equal(mg_tsx_send(a, &r.addr, m, resp, &sa, &id), 0);
	gw_mem_deref(m);
	snprintf(buf, sizeof(buf), "!/1 " MID_RAW "\nPN=%u{}", id);
	for (i = 0; i < 5; i++) {	/* 1 s: well past T-MAX */
		raw_send(&r, &aa, buf);
		sleep_loop(200);
		assert_int_equal(sa.replies, 0);
	}
	snprintf(buf, sizeof(buf), "!/1 " MID_RAW "\nP=%u{C=3{A=rtp/1}}", id);
	raw_send(&r, &aa, buf);
	wait_replies(&sa, 1, 500);
	assert_int_equal(sa.replies, 1);
	assert_int_equal(sa.err[0], 0);
	assert_int_equal(sa.ctx[0], 3);
	gw_mem_deref(a);
	raw_close(&r);
}

/* s.8.2.2: what does not decode gets the decoder's error reply, and the
 * endpoint goes on. */
static void test_garbage(void **state)
{
	struct mg_tsx_conf cb = fast_conf(MID_B);
	struct side sb = { 0 };
	struct mg_addr ab;
	struct mg_tsx_ep *b;
	struct mg_msg *m;
	struct raw r;

	(void)state;
	raw_open(&r);
	b = ep_new(&cb, exec_now, &sb, &ab);

	raw_send(&r, &ab, "hello \"world\"\n\x01\xff");
	assert_int_equal(raw_wait(&r, 1, 1000), 1);
	m = raw_msg(&r, 0);
	assert_string_equal(m->mid, MID_B);
	assert_int_equal(m->trans->type, MG_TRANS_REPLY);
	assert_int_equal(m->trans->id, 0);
	assert_non_null(m->trans->err);
	assert_int_equal(m->trans->err->code, 400);
	gw_mem_deref(m);

	raw_send(&r, &ab,
		 "!/1 " MID_RAW "\nT=21{C=1{A=rtp/1{M{O{MO=Sideways}}}}}");
	assert_int_equal(raw_wait(&r, 2, 1000), 2);
	m = raw_msg(&r, 1);
	assert_int_equal(m->trans->id, 21);
	assert_int_equal(m->trans->err->code, 442);
	gw_mem_deref(m);

	raw_send(&r, &ab, "MEGACO/9 " MID_RAW "\nT=22{C=1{A=rtp/1}}");
	assert_int_equal(raw_wait(&r, 3, 1000), 3);
	m = raw_msg(&r, 2);
	assert_int_equal(m->trans->id, 0);
	assert_int_equal(m->trans->err->code, 406);
	gw_mem_deref(m);
	assert_int_equal(sb.execs, 0);

	raw_send(&r, &ab, "");
	raw_send(&r, &ab, "!/1 " MID_RAW "\nT=23{C=${A=rtp/$}}");
	assert_int_equal(raw_wait(&r, 5, 1000), 5);
	m = raw_msg(&r, 4);
	assert_int_equal(m->trans->id, 23);
	assert_null(m->trans->err);
	gw_mem_deref(m);
	assert_int_equal(sb.execs, 1);
	gw_mem_deref(b);
	raw_close(&r);
}

/* s.8.3: several transactions in one message, both ways. */
static void test_several(void **state)
{
	struct mg_tsx_conf ca = fast_conf(MID_A), cb = fast_conf(MID_B);
	struct side sa = { 0 }, sb = { 0 };
	struct mg_addr aa, ab;
	struct mg_tsx_ep *a, *b;
	struct mg_msg *m;
	struct raw r;
	uint32_t id = 0;

	(void)state;
	raw_open(&r);
	a = ep_new(&ca, NULL, NULL, &aa);
	b = ep_new(&cb, exec_now, &sb, &ab);
	m = text_msg("!/1 [127.0.0.1]:1\nT=1{C=${A=rtp/$}}T=2{C=${A=rtp/$}}"
		     "T=3{C=${A=rtp/$}}");
	assert_int_equal(mg_tsx_send(a, &ab, m, resp, &sa, &id), 0);
	assert_int_equal(m->trans->next->id, id + 1);
	assert_int_equal(m->trans->next->next->id, id + 2);
	gw_mem_deref(m);
	wait_replies(&sa, 3, 2000);
	assert_int_equal(sa.replies, 3);
	assert_int_equal(sb.execs, 3);
	assert_int_equal(sa.err[0] | sa.err[1] | sa.err[2], 0);
	assert_int_equal(sa.ctx[0] + sa.ctx[1] + sa.ctx[2], 101 + 102 + 103);

	/* a request, a Pending and an ack for nothing, one datagram */
	raw_send(&r, &ab, "!/1 " MID_RAW "\nPN=99{}K{5}T=31{C=${A=rtp/$}}"
		 "T=32{C=${A=rtp/$}}");
	assert_int_equal(raw_wait(&r, 2, 1000), 2);
	assert_int_equal(sb.execs, 5);
	assert_non_null(strstr(r.rx[0], "P=31"));
	assert_non_null(strstr(r.rx[1], "P=32"));
	gw_mem_deref(a);
	gw_mem_deref(b);
	raw_close(&r);
}

/* The endpoint goes while a request is held and one is outstanding:
 * no handler runs, nothing leaks, the late answer is refused. */
static void test_close_busy(void **state)
{
	struct mg_tsx_conf ca = fast_conf(MID_A), cb = fast_conf(MID_B);
	struct side sa = { 0 }, sb = { 0 };
	struct mg_addr aa, ab;
	struct mg_tsx_ep *a, *b;
	struct mg_msg *m;

	(void)state;
	a = ep_new(&ca, NULL, NULL, &aa);
	b = ep_new(&cb, exec_hold, &sb, &ab);
	m = request();
	assert_int_equal(mg_tsx_send(a, &ab, m, resp, &sa, NULL), 0);
	gw_mem_deref(m);
	sleep_loop(30);
	assert_non_null(sb.held);
	gw_mem_deref(a);
	gw_mem_deref(b);
	assert_int_equal(mg_tsx_reply(sb.held, reply(1)), ECANCELED);
	sleep_loop(100);
	assert_int_equal(sa.replies, 0);
}

/* Annex D.2: the same over TCP with TPKT framing; no retransmission. */
static void test_tcp(void **state)
{
	struct mg_tsx_conf ca = fast_conf(MID_A), cb = fast_conf(MID_B);
	struct side sa = { 0 }, sb = { 0 };
	struct mg_addr aa, ab;
	struct mg_tsx_ep *a, *b;
	struct mg_msg *m;

	(void)state;
	ca.tcp = cb.tcp = true;
	a = ep_new(&ca, NULL, NULL, &aa);
	b = ep_new(&cb, exec_now, &sb, &ab);
	m = request();
	assert_int_equal(mg_tsx_send(a, &ab, m, resp, &sa, NULL), 0);
	gw_mem_deref(m);
	m = text_msg("!/1 [127.0.0.1]:1\nT=1{C=${A=rtp/$}}T=2{C=${A=rtp/$}}");
	assert_int_equal(mg_tsx_send(a, &ab, m, resp, &sa, NULL), 0);
	gw_mem_deref(m);
	wait_replies(&sa, 3, 2000);
	assert_int_equal(sa.replies, 3);
	assert_int_equal(sa.err[0] | sa.err[1] | sa.err[2], 0);
	assert_int_equal(sb.execs, 3);
	gw_mem_deref(b);		/* the peer goes: no retransmission, */
	m = request();			/* T-MAX still ends the request */
	assert_int_equal(mg_tsx_send(a, &ab, m, resp, &sa, NULL), 0);
	gw_mem_deref(m);
	wait_replies(&sa, 4, 2000);
	assert_int_equal(sa.replies, 4);
	assert_int_equal(sa.err[3], ETIMEDOUT);
	gw_mem_deref(a);
}

static size_t tpkt(char *out, const char *text)
{
	size_t n = strlen(text) + 4;

	out[0] = 3;
	out[1] = 0;
	out[2] = (char)(n >> 8);
	out[3] = (char)(n & 0xff);
	memcpy(out + 4, text, n - 4);
	return n;
}

/* Read TPKT frames from fd for up to ms, running the loop meanwhile. */
static unsigned tcp_frames(int fd, char *buf, size_t *lenp, unsigned want,
			   uint64_t ms)
{
	uint64_t end = gw_now_ms() + ms;
	unsigned n = 0;
	size_t i;
	ssize_t r;

	while (gw_now_ms() < end) {
		gw_loop_run_timeout(10);
		r = recv(fd, buf + *lenp, 8192 - *lenp, MSG_DONTWAIT);
		if (r > 0)
			*lenp += (size_t)r;
		for (n = 0, i = 0; i + 4 <= *lenp;
		     i += (size_t)(unsigned char)buf[i + 2] << 8 |
			     (unsigned char)buf[i + 3])
			n++;
		if (n >= want && i == *lenp)
			break;
	}
	return n;
}

static void test_tcp_framing(void **state)
{
	struct mg_tsx_conf cb = fast_conf(MID_B);
	struct side sb = { 0 };
	struct mg_addr ab;
	struct mg_tsx_ep *b;
	char out[512], in[8192];
	size_t n, len = 0;
	int fd;

	(void)state;
	cb.tcp = true;
	b = ep_new(&cb, exec_now, &sb, &ab);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (const struct sockaddr *)ab.sa.b,
				 ab.len), 0);
	/* two frames in one write, a third split in two writes */
	n = tpkt(out, "!/1 " MID_RAW "\nT=1{C=${A=rtp/$}}");
	n += tpkt(out + n, "!/1 " MID_RAW "\nT=2{C=${A=rtp/$}}");
	assert_int_equal(send(fd, out, n, 0), (ssize_t)n);
	n = tpkt(out, "!/1 " MID_RAW "\nT=3{C=${A=rtp/$}}");
	assert_int_equal(send(fd, out, 6, 0), 6);
	tcp_frames(fd, in, &len, 2, 100);
	assert_int_equal(send(fd, out + 6, n - 6, 0), (ssize_t)(n - 6));
	assert_int_equal(tcp_frames(fd, in, &len, 3, 1000), 3);
	assert_int_equal(sb.execs, 3);
	assert_non_null(memmem(in, len, "P=1{", 4));
	/* garbage inside a frame: the error reply on the connection */
	n = tpkt(out, "no megaco here");
	assert_int_equal(send(fd, out, n, 0), (ssize_t)n);
	assert_int_equal(tcp_frames(fd, in, &len, 4, 1000), 4);
	assert_non_null(memmem(in, len, "P=0{ER=400", 10));
	/* a broken frame header: that connection goes, the endpoint not */
	assert_int_equal(send(fd, "\x07\x00\x00\x08junk", 8, 0), 8);
	sleep_loop(50);
	assert_int_equal(recv(fd, in, sizeof(in), MSG_DONTWAIT), 0);
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (const struct sockaddr *)ab.sa.b,
				 ab.len), 0);
	n = tpkt(out, "!/1 " MID_RAW "\nT=4{C=${A=rtp/$}}");
	assert_int_equal(send(fd, out, n, 0), (ssize_t)n);
	len = 0;
	assert_int_equal(tcp_frames(fd, in, &len, 1, 1000), 1);
	assert_int_equal(sb.execs, 4);
	close(fd);
	gw_mem_deref(b);
}

/* Annex D.1 over IPv6 (skipped where the host has no ::1). */
static void test_ipv6(void **state)
{
	struct mg_tsx_conf ca = fast_conf("[::1]:55001");
	struct mg_tsx_conf cb = fast_conf("[::1]:55002");
	struct side sa = { 0 }, sb = { 0 };
	struct mg_addr local, aa, ab;
	struct mg_tsx_ep *a = NULL, *b;
	struct mg_msg *m;
	char buf[64];

	(void)state;
	assert_int_equal(mg_addr_set(&local, "::1", 0), 0);
	if (mg_tsx_ep_alloc(&a, &local, &ca, NULL, NULL))
		skip();
	assert_int_equal(mg_tsx_ep_local(a, &aa), 0);
	assert_int_equal(mg_tsx_ep_alloc(&b, &local, &cb, exec_now, &sb), 0);
	assert_int_equal(mg_tsx_ep_local(b, &ab), 0);
	assert_non_null(strstr(mg_addr_str(&ab, buf, sizeof(buf)), "[::1]:"));
	m = request();
	assert_int_equal(mg_tsx_send(a, &ab, m, resp, &sa, NULL), 0);
	gw_mem_deref(m);
	wait_replies(&sa, 1, 2000);
	assert_int_equal(sa.replies, 1);
	assert_int_equal(sa.err[0], 0);
	assert_int_equal(sb.execs, 1);
	gw_mem_deref(a);
	gw_mem_deref(b);
}

/* D.1.2.2: the requester acknowledges every reply: on its next message
 * to the same peer, else alone after a short delay; consecutive ids
 * share a range. */
static void test_ack_piggyback(void **state)
{
	struct mg_tsx_conf ca = fast_conf(MID_A);
	struct side sa = { 0 };
	struct mg_addr aa;
	struct mg_tsx_ep *a;
	struct mg_msg *m;
	struct raw r;
	uint32_t id1 = 0, id2 = 0, id3 = 0;
	char buf[256];

	(void)state;
	raw_open(&r);
	ca.rto_init_ms = 1000;	/* no retransmission in the count */
	ca.rto_max_ms = 1000;
	ca.tmax_ms = 3000;
	a = ep_new(&ca, NULL, NULL, &aa);
	m = request();
	assert_int_equal(mg_tsx_send(a, &r.addr, m, resp, &sa, &id1), 0);
	gw_mem_deref(m);
	assert_int_equal(raw_wait(&r, 1, 1000), 1);
	snprintf(buf, sizeof(buf), "!/1 " MID_RAW "\nP=%u{C=7{A=rtp/1}}", id1);
	raw_send(&r, &aa, buf);
	wait_replies(&sa, 1, 1000);
	assert_int_equal(sa.replies, 1);
	m = request();		/* at once: the ack rides on it */
	assert_int_equal(mg_tsx_send(a, &r.addr, m, resp, &sa, &id2), 0);
	gw_mem_deref(m);
	assert_int_equal(raw_wait(&r, 2, 1000), 2);
	m = raw_msg(&r, 1);
	assert_int_equal(m->trans->type, MG_TRANS_REQUEST);
	assert_int_equal(m->trans->id, id2);
	assert_non_null(m->trans->next);
	assert_int_equal(m->trans->next->type, MG_TRANS_ACK);
	assert_int_equal(m->trans->next->nacks, 1);
	assert_int_equal(m->trans->next->acks[0].first, id1);
	assert_int_equal(m->trans->next->acks[0].last, id1);
	gw_mem_deref(m);
	/* three requests in one message, answered in one message out of
	 * order: one range, alone, after the delay, with id2's ack */
	m = text_msg("MEGACO/1 [127.0.0.1]:1\n"
		     "Transaction = 1 { Context = $ { Add = rtp/$ } }\n"
		     "Transaction = 2 { Context = $ { Add = rtp/$ } }\n"
		     "Transaction = 3 { Context = $ { Add = rtp/$ } }");
	assert_int_equal(mg_tsx_send(a, &r.addr, m, resp, &sa, &id3), 0);
	gw_mem_deref(m);
	assert_int_equal(raw_wait(&r, 3, 1000), 3);
	snprintf(buf, sizeof(buf), "!/1 " MID_RAW "\nP=%u{C=8{A=rtp/1}}\n"
		 "P=%u{C=9{A=rtp/1}}P=%u{C=10{A=rtp/1}}P=%u{C=11{A=rtp/1}}",
		 id2, id3 + 2, id3, id3 + 1);
	raw_send(&r, &aa, buf);
	wait_replies(&sa, 5, 1000);
	assert_int_equal(sa.replies, 5);
	sleep_loop(200);
	assert_int_equal(r.n, 4);	/* no retransmission, one ack */
	m = raw_msg(&r, 3);
	assert_int_equal(m->trans->type, MG_TRANS_ACK);
	assert_null(m->trans->next);
	assert_int_equal(id3, id2 + 1);
	assert_int_equal(m->trans->nacks, 1);
	assert_int_equal(m->trans->acks[0].first, id2);
	assert_int_equal(m->trans->acks[0].last, id3 + 2);
	gw_mem_deref(m);
	gw_mem_deref(a);
	raw_close(&r);
}

/* Send ids first..last from MID_RAW to b, 100 transactions a message. */
static void raw_send_many(struct raw *r, const struct mg_addr *to,
			  uint32_t first, uint32_t last)
{
	char buf[4096];
	size_t n = 0;
	uint32_t id;

	for (id = first; id <= last; id++) {
		if (!n)
			n = (size_t)snprintf(buf, sizeof(buf),
					     "!/1 " MID_RAW "\n");
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
				      "T=%u{C=${A=rtp/$}}", id);
		if (id == last || (id - first) % 100 == 99) {
			raw_send(r, to, buf);
			gw_loop_run_timeout(2);	/* let b keep up */
			n = 0;
		}
	}
}

/* D.1.1 at load: one peer's table grows to thousands of ids and gives
 * them back; every id stays known for LONG-TIMER, its reply stored until
 * acknowledged (acks by single ids and by a range wider than the
 * table), and repetitions are never executed again. */
static void test_many(void **state)
{
	struct mg_tsx_conf cb = fast_conf(MID_B);
	static const uint32_t probe[] = { 1, 2000, 2001, 2500, 3000, 4000 };
	struct side sb = { 0 };
	struct mg_addr ab;
	struct mg_tsx_ep *b;
	struct mg_msg *m;
	struct raw r;
	char buf[128];
	unsigned i, tries;

	(void)state;
	raw_open(&r);
	cb.long_timer_ms = 2000;
	b = ep_new(&cb, exec_now, &sb, &ab);
	r.drain = true;
	raw_send_many(&r, &ab, 1, 4000);
	for (tries = 0; tries < 200 && (sb.execs < 4000 ||
					r.drained < 4000); tries++)
		gw_loop_run_timeout(10);
	assert_int_equal(sb.execs, 4000);
	assert_int_equal(r.drained, 4000);
	/* 1..2000 acknowledged id by id, 3001.. by one wide range */
	raw_send(&r, &ab, "!/1 " MID_RAW "\nK{1-2000,3001-4294967295}");
	sleep_loop(50);
	r.drain = false;
	for (i = 0; i < GW_ARRAY_SIZE(probe); i++) {
		snprintf(buf, sizeof(buf), "!/1 " MID_RAW
			 "\nT=%u{C=${A=rtp/$}}", probe[i]);
		raw_send(&r, &ab, buf);
	}
	assert_int_equal(raw_wait(&r, 3, 1000), 3);
	sleep_loop(100);
	assert_int_equal(r.n, 3);	/* the three stored replies, again */
	for (i = 0; i < 3; i++) {
		m = raw_msg(&r, i);
		assert_int_equal(m->trans->type, MG_TRANS_REPLY);
		assert_int_equal(m->trans->id, probe[i + 2]);
		assert_int_equal(m->trans->actions->ctx, 100 + probe[i + 2]);
		gw_mem_deref(m);
	}
	assert_int_equal(sb.execs, 4000);
	/* LONG-TIMER over: all forgotten, the table given back (the leak
	 * check would see the rest), the ids new again */
	sleep_loop(2200);
	raw_send(&r, &ab, "!/1 " MID_RAW "\nT=1{C=${A=rtp/$}}");
	raw_send(&r, &ab, "!/1 " MID_RAW "\nT=2500{C=${A=rtp/$}}");
	assert_int_equal(raw_wait(&r, 5, 1000), 5);
	assert_int_equal(sb.execs, 4002);
	gw_mem_deref(b);
	raw_close(&r);
}

/* Annex B quotedString has no escapes: the builders replace '"' with
 * '\'' and other bytes it cannot hold with '?', and so does the
 * encoder for a tree built by hand; the text stays valid. */
static void test_quoted_values(void **state)
{
	struct mg_msg *m = NULL, *d = NULL;
	struct mg_trans *t;
	struct mg_action *a;
	struct mg_cmd *c;
	struct mg_item *st = NULL, *it;
	struct mg_err e = { 500, "bad \"x\"\n" };
	char *s = NULL;

	(void)state;
	assert_int_equal(mg_msg_alloc(&m, 1, MID_B), 0);
	t = mg_msg_add_trans(m, MG_TRANS_REPLY, 5);
	a = mg_trans_add_action(m, t, 1);
	c = mg_action_add_cmd(m, a, MG_CMD_MODIFY, "tdm/1/1");
	st = mg_item_add(m, c ? &c->desc : NULL, MG_TOK_STATS, NULL);
	it = mg_item_set(m, mg_item_add(m, st ? &st->kids : NULL,
					MG_TOK_NONE, "x/y"), 0,
			 "say \"hi\"\t\x01\xc3\xa9");
	assert_non_null(it);
	assert_string_equal(it->val->s, "say 'hi'\t???");
	assert_true(it->val->quoted);
	assert_non_null(mg_err_new(m, 400, "quote \" here"));
	assert_string_equal(mg_err_new(m, 400, "quote \" here")->text,
			    "quote ' here");
	assert_int_equal(mg_text_encode(&s, m, MG_TEXT_COMPACT), 0);
	assert_non_null(strstr(s, "x/y=\"say 'hi'\t???\""));
	assert_int_equal(mg_text_decode(&d, s, strlen(s), NULL), 0);
	assert_true(mg_msg_equal(m, d));
	s = gw_mem_deref(s);
	d = gw_mem_deref(d);
	/* a tree not made by the builders */
	t->actions = NULL;
	t->err = &e;
	assert_int_equal(mg_text_encode(&s, m, MG_TEXT_PRETTY), 0);
	assert_non_null(strstr(s, "\"bad 'x'?\""));
	assert_int_equal(mg_text_decode(&d, s, strlen(s), NULL), 0);
	gw_mem_deref(s);
	gw_mem_deref(d);
	gw_mem_deref(m);
}

static void test_addr(void **state)
{
	struct mg_addr a;
	char buf[64];

	(void)state;
	assert_int_equal(mg_addr_set(&a, "192.0.2.1", 2944), 0);
	assert_string_equal(mg_addr_str(&a, buf, sizeof(buf)),
			    "192.0.2.1:2944");
	assert_int_equal(mg_addr_set(&a, "[2001:db8::1]", 2944), 0);
	assert_string_equal(mg_addr_str(&a, buf, sizeof(buf)),
			    "[2001:db8::1]:2944");
	assert_int_equal(mg_addr_set(&a, "::1", 1), 0);
	assert_int_equal(mg_addr_set(&a, "mgc.example", 1), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_addr),
		UNIT_TEST(test_quoted_values),
		LOOP_TEST(test_request_reply),
		LOOP_TEST(test_lost_request),
		LOOP_TEST(test_lost_reply),
		LOOP_TEST(test_dup_executing),
		LOOP_TEST(test_slow_execution),
		LOOP_TEST(test_response_ack),
		LOOP_TEST(test_ack_piggyback),
		LOOP_TEST(test_many),
		LOOP_TEST(test_give_up),
		LOOP_TEST(test_cancel),
		LOOP_TEST(test_pending_extends),
		LOOP_TEST(test_garbage),
		LOOP_TEST(test_several),
		LOOP_TEST(test_close_busy),
		LOOP_TEST(test_tcp),
		LOOP_TEST(test_tcp_framing),
		LOOP_TEST(test_ipv6),
	};

	gw_log_set_levels("err");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
