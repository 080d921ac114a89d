/* tests/unit/test_hw_pri.c - PRI signalling: a CPE and a NET back to back */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"
#include "tdm.h"

/*
 * Two tdm_pri instances, the gateway side (CPE) and the network (NET),
 * joined by a SOCK_SEQPACKET socketpair watched on the loop: what one
 * sends reaches the other on a later loop pass, as on a wire.  Each side
 * records its events and may run a policy on them (answer, reject...).
 */

#define MAX_EVS 1024

struct side;
typedef void (policy_h)(struct side *s, const struct tdm_pri_event *ev);

struct side {
	const char *name;
	struct tdm_pri *pri;
	int fd;
	bool drop_tx;			/* frames sent are lost */
	unsigned long tx, dropped;
	struct tdm_pri_event ev[MAX_EVS];
	size_t nev;
	policy_h *policy;
	int cause;			/* for policies that clear */
	unsigned placed;		/* calls set up from this side */
	struct tdm_pri_call *calls[TDM_MAX_TS];	/* latest, by timeslot */
};

static struct side cpe, net;

/* Frames go straight into the other side's tdm_pri_input, no loop. */
static bool sync_wire;

static bool (*until)(void);

static void check_until(void)
{
	if (until && until())
		gw_loop_stop();
}

static size_t count(const struct side *s, enum tdm_pri_ev type)
{
	size_t i, n = 0;

	for (i = 0; i < s->nev; i++)
		n += s->ev[i].type == type;
	return n;
}

/* The n-th (from 0) event of a type, or NULL. */
static const struct tdm_pri_event *nth(const struct side *s,
				       enum tdm_pri_ev type, size_t n)
{
	size_t i;

	for (i = 0; i < s->nev; i++) {
		if (s->ev[i].type == type && n-- == 0)
			return &s->ev[i];
	}
	return NULL;
}

static const struct tdm_pri_event *last(const struct side *s,
					enum tdm_pri_ev type)
{
	size_t n = count(s, type);

	return n ? nth(s, type, n - 1) : NULL;
}

/* Calls placed or received but not released yet. */
static size_t live_calls(const struct side *s)
{
	return s->placed + count(s, TDM_PRI_SETUP) -
	       count(s, TDM_PRI_RELEASE);
}

static void on_event(struct tdm_pri *pri, const struct tdm_pri_event *ev,
		     void *arg)
{
	struct side *s = arg;

	assert_ptr_equal(pri, s->pri);
	assert_true(s->nev < MAX_EVS);
	s->ev[s->nev++] = *ev;
	if (ev->type == TDM_PRI_SETUP && ev->ts)
		s->calls[ev->ts] = ev->call;
	if (s->policy)
		s->policy(s, ev);
	check_until();
}

static int on_send(const uint8_t *frame, size_t len, void *arg)
{
	struct side *s = arg;

	s->tx++;
	if (s->drop_tx) {
		s->dropped++;
		return 0;
	}
	if (sync_wire) {
		struct side *peer = s == &cpe ? &net : &cpe;

		tdm_pri_input(peer->pri, frame, len);
		return 0;
	}
	if (send(s->fd, frame, len, MSG_DONTWAIT) != (ssize_t)len)
		return errno;
	return 0;
}

static void on_readable(int flags, void *arg)
{
	struct side *s = arg;
	uint8_t buf[TDM_DCHAN_MAX + 16];
	ssize_t n;

	(void)flags;
	while ((n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		tdm_pri_input(s->pri, buf, (size_t)n);
		check_until();
	}
}

static void side_init(struct side *s, const char *name, int fd)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->fd = fd;
}

/* Both ends, and the loop; the NET side gets conf with node NET. */
static void pair_open(const struct tdm_pri_conf *conf)
{
	struct tdm_pri_conf c = *conf;
	int sv[2];

	if (gw_loop_self())
		gw_loop_close();	/* left over by a failed test */
	assert_int_equal(gw_loop_init(), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	side_init(&cpe, "cpe", sv[0]);
	side_init(&net, "net", sv[1]);
	assert_int_equal(gw_fd_listen(cpe.fd, GW_FD_READ, on_readable, &cpe),
			 0);
	assert_int_equal(gw_fd_listen(net.fd, GW_FD_READ, on_readable, &net),
			 0);
	c.node = TDM_PRI_CPE;
	c.span = 1;
	assert_int_equal(tdm_pri_alloc(&cpe.pri, &c, on_send, on_event, &cpe),
			 0);
	c.node = TDM_PRI_NET;
	c.span = 2;
	assert_int_equal(tdm_pri_alloc(&net.pri, &c, on_send, on_event, &net),
			 0);
}

static void pair_close(void)
{
	cpe.pri = gw_mem_deref(cpe.pri);
	net.pri = gw_mem_deref(net.pri);
	gw_fd_close(cpe.fd);
	gw_fd_close(net.fd);
	close(cpe.fd);
	close(net.fd);
	gw_loop_close();
	sync_wire = false;
}

static bool run_until(bool (*pred)(void), uint64_t ms)
{
	if (pred())
		return true;
	until = pred;
	gw_loop_run_timeout(ms);
	until = NULL;
	return pred();
}

/* Waiting for the n-th event of a type on one side. */
static struct {
	struct side *s;
	enum tdm_pri_ev type;
	size_t n;
} want;

static bool want_met(void)
{
	return count(want.s, want.type) >= want.n;
}

static bool wait_ev(struct side *s, enum tdm_pri_ev type, size_t n,
		    uint64_t ms)
{
	want.s = s;
	want.type = type;
	want.n = n;
	return run_until(want_met, ms);
}

static bool both_up(void)
{
	return tdm_pri_up(cpe.pri) && tdm_pri_up(net.pri);
}

static bool no_calls(void)
{
	return !live_calls(&cpe) && !live_calls(&net);
}

static const struct tdm_pri_conf e1_conf = {
	.switchtype = TDM_PRI_EUROISDN_E1,
	.exclusive = true,
};

static void open_up(const struct tdm_pri_conf *conf)
{
	pair_open(conf);
	assert_true(run_until(both_up, 2000));
}

static void number(struct tdm_pri_number *n, const char *digits,
		   uint8_t plan, uint8_t ton, uint8_t pres, uint8_t screen)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->digits, sizeof(n->digits), "%s", digits);
	n->plan = plan;
	n->ton = ton;
	n->pres = pres;
	n->screen = screen;
}

static void assert_number(const struct tdm_pri_number *a,
			  const struct tdm_pri_number *b)
{
	assert_string_equal(a->digits, b->digits);
	assert_int_equal(a->plan, b->plan);
	assert_int_equal(a->ton, b->ton);
	assert_int_equal(a->pres, b->pres);
	assert_int_equal(a->screen, b->screen);
}

static struct tdm_pri_call *place(struct side *s, unsigned ts,
				  const char *called, bool complete)
{
	struct tdm_pri_setup su;
	struct tdm_pri_call *call = NULL;

	memset(&su, 0, sizeof(su));
	su.ts = ts;
	number(&su.called, called, 1, 2, 0, 0);
	number(&su.calling, "4930123456", 1, 1, 0, 3);
	su.layer1 = 3;
	su.complete = complete;
	assert_int_equal(tdm_pri_setup(s->pri, &su, &call), 0);
	assert_non_null(call);
	assert_int_equal(tdm_pri_call_ts(call), ts);
	s->placed++;
	if (ts)
		s->calls[ts] = call;
	return call;
}

/* ---- the cases -------------------------------------------------------- */

/* Both D-channels come up at once, each reporting it exactly once. */
static void test_dchan_up(void **state)
{
	uint64_t t0 = gw_now_ms();

	(void)state;
	pair_open(&e1_conf);
	assert_false(tdm_pri_up(cpe.pri));
	assert_true(run_until(both_up, 2000));
	assert_true(gw_now_ms() - t0 < 500);
	/* Let Q.921 settle: no more link events. */
	gw_loop_run_timeout(100);
	assert_int_equal(count(&cpe, TDM_PRI_DCHAN_UP), 1);
	assert_int_equal(count(&net, TDM_PRI_DCHAN_UP), 1);
	assert_int_equal(count(&cpe, TDM_PRI_DCHAN_DOWN), 0);
	assert_int_equal(nth(&cpe, TDM_PRI_DCHAN_UP, 0)->call, NULL);
	pair_close();
}

/*
 * The full life of one call, from a to b: numbers and bearer arrive
 * intact, then PROCEEDING, ALERTING (in-band), PROGRESS, CONNECT,
 * CONNECT ACK; a clears with 16 and b answers the DISCONNECT.
 */
static void full_call(struct side *a, struct side *b, unsigned ts)
{
	struct tdm_pri_setup su;
	struct tdm_pri_call *ca = NULL, *cb;
	const struct tdm_pri_event *ev;
	int x = 42;

	memset(&su, 0, sizeof(su));
	su.ts = ts;
	number(&su.called, "5551234", 1, 2, 0, 0);
	number(&su.calling, "4930123456", 1, 1, 1, 3);
	number(&su.redirecting, "4930999", 1, 4, 1, 3);
	su.redirect_reason = 1;		/* busy */
	su.bearer = 16;			/* 3.1 kHz audio */
	su.layer1 = 3;
	su.complete = true;
	su.user = &x;
	assert_int_equal(tdm_pri_setup(a->pri, &su, &ca), 0);
	a->placed++;
	assert_ptr_equal(tdm_pri_call_user(ca), &x);

	assert_true(wait_ev(b, TDM_PRI_SETUP, 1, 1000));
	ev = last(b, TDM_PRI_SETUP);
	cb = ev->call;
	assert_non_null(cb);
	assert_int_equal(ev->ts, ts);
	assert_true(ev->exclusive);		/* e1_conf's */
	assert_int_equal(tdm_pri_call_ts(cb), ts);
	assert_number(&ev->called, &su.called);
	assert_number(&ev->calling, &su.calling);
	/* libpri 1.6 sends the redirecting number's screening as 0. */
	su.redirecting.screen = 0;
	assert_number(&ev->redirecting, &su.redirecting);
	assert_int_equal(ev->redirect_reason, 1);
	assert_int_equal(ev->bearer, 16);
	assert_int_equal(ev->layer1, 3);
	assert_true(ev->complete);
	assert_null(tdm_pri_call_user(cb));
	tdm_pri_call_set_user(cb, &x);

	assert_int_equal(tdm_pri_proceeding(b->pri, cb, ts, false), 0);
	assert_true(wait_ev(a, TDM_PRI_PROCEEDING, 1, 1000));
	ev = last(a, TDM_PRI_PROCEEDING);
	assert_ptr_equal(ev->call, ca);
	assert_int_equal(ev->ts, ts);
	assert_false(ev->inband);

	assert_int_equal(tdm_pri_alerting(b->pri, cb, ts, true), 0);
	assert_true(wait_ev(a, TDM_PRI_ALERTING, 1, 1000));
	ev = last(a, TDM_PRI_ALERTING);
	assert_ptr_equal(ev->call, ca);
	assert_true(ev->inband);
	assert_int_equal(ev->progress, 8);

	assert_int_equal(tdm_pri_progress(b->pri, cb, ts, true), 0);
	assert_true(wait_ev(a, TDM_PRI_PROGRESS, 1, 1000));
	ev = last(a, TDM_PRI_PROGRESS);
	assert_true(ev->inband);
	assert_int_equal(ev->progress, 8);

	assert_int_equal(tdm_pri_answer(b->pri, cb, ts), 0);
	assert_true(wait_ev(a, TDM_PRI_CONNECT, 1, 1000));
	assert_ptr_equal(last(a, TDM_PRI_CONNECT)->call, ca);
	assert_true(wait_ev(b, TDM_PRI_CONNECT_ACK, 1, 1000));
	assert_ptr_equal(last(b, TDM_PRI_CONNECT_ACK)->call, cb);

	assert_int_equal(tdm_pri_hangup(a->pri, ca, 16), 0);
	assert_int_equal(tdm_pri_hangup(a->pri, ca, 16), EALREADY);
	assert_true(wait_ev(b, TDM_PRI_DISCONNECT, 1, 1000));
	ev = last(b, TDM_PRI_DISCONNECT);
	assert_ptr_equal(ev->call, cb);
	assert_int_equal(ev->cause, 16);
	assert_true(ev->location >= 0);
	assert_int_equal(tdm_pri_hangup(b->pri, cb, 16), 0);
	assert_true(wait_ev(a, TDM_PRI_RELEASE, 1, 1000));
	assert_true(wait_ev(b, TDM_PRI_RELEASE, 1, 1000));
	assert_ptr_equal(last(a, TDM_PRI_RELEASE)->call, ca);
	assert_int_equal(last(a, TDM_PRI_RELEASE)->cause, 16);
	assert_ptr_equal(last(b, TDM_PRI_RELEASE)->call, cb);
	assert_int_equal(last(b, TDM_PRI_RELEASE)->cause, 16);
	/* a hung up first: it saw nothing but its RELEASE after that. */
	assert_int_equal(count(a, TDM_PRI_DISCONNECT), 0);
	assert_true(no_calls());
}

static void test_call_cpe_to_net(void **state)
{
	(void)state;
	open_up(&e1_conf);
	full_call(&cpe, &net, 5);
	pair_close();
}

static void test_call_net_to_cpe(void **state)
{
	(void)state;
	open_up(&e1_conf);
	full_call(&net, &cpe, 17);
	pair_close();
}

/* NET refuses every call at once with its cause. */
static void refuse(struct side *s, const struct tdm_pri_event *ev)
{
	if (ev->type == TDM_PRI_SETUP)
		assert_int_equal(tdm_pri_hangup(s->pri, ev->call, s->cause),
				 0);
}

/*
 * Busy, unallocated and congestion reach the caller with their cause
 * and location.  An unanswered call is refused with RELEASE COMPLETE
 * for 1 and 34 (libpri then frees its call at once: the refusing side's
 * handle still ends with RELEASE, from the loop), with CALL PROCEEDING
 * and DISCONNECT for 17.
 * libpri 1.6 always sends location 1, "private network serving the
 * local user" (LOC_PRIV_NET_LOCAL_USER), whatever the node type.
 */
static void test_causes(void **state)
{
	static const int causes[] = {17, 1, 34};
	const struct tdm_pri_event *ev;
	struct tdm_pri_call *call;
	size_t i;

	(void)state;
	open_up(&e1_conf);
	net.policy = refuse;
	for (i = 0; i < GW_ARRAY_SIZE(causes); i++) {
		net.cause = causes[i];
		call = place(&cpe, 3, "6000", true);
		if (causes[i] == 17) {
			assert_true(wait_ev(&cpe, TDM_PRI_DISCONNECT, 1, 1000));
			ev = last(&cpe, TDM_PRI_DISCONNECT);
			assert_ptr_equal(ev->call, call);
			assert_int_equal(ev->cause, 17);
			assert_int_equal(ev->location, 1);
			assert_int_equal(tdm_pri_hangup(cpe.pri, call, 16), 0);
		}
		assert_true(wait_ev(&cpe, TDM_PRI_RELEASE, i + 1, 1000));
		ev = last(&cpe, TDM_PRI_RELEASE);
		assert_ptr_equal(ev->call, call);
		assert_int_equal(ev->cause, causes[i]);
		assert_int_equal(ev->location, 1);
		assert_true(wait_ev(&net, TDM_PRI_RELEASE, i + 1, 1000));
		assert_int_equal(last(&net, TDM_PRI_RELEASE)->cause,
				 causes[i]);
		/* The refusing side saw its SETUP, then only RELEASE. */
		assert_int_equal(count(&net, TDM_PRI_SETUP), i + 1);
		assert_int_equal(count(&net, TDM_PRI_DISCONNECT), 0);
		assert_true(no_calls());
	}
	assert_int_equal(count(&cpe, TDM_PRI_DISCONNECT), 1);
	/* Before its DISCONNECT, 17 came with a CALL PROCEEDING (pri.c
	 * sends one: libpri sends nothing for an unanswered call). */
	assert_int_equal(count(&cpe, TDM_PRI_PROCEEDING), 1);
	pair_close();
}

/*
 * Overlap: SETUP without sending complete, SETUP ACK, digits one
 * INFORMATION each; and a SETUP with no timeslot, the far end picking.
 */
static void test_overlap(void **state)
{
	struct tdm_pri_conf c = e1_conf;
	const struct tdm_pri_event *ev;
	struct tdm_pri_call *ca, *cb;
	char got[64] = "";
	size_t i;

	(void)state;
	c.overlap = true;
	open_up(&c);
	ca = place(&cpe, 0, "55", false);
	assert_true(wait_ev(&net, TDM_PRI_SETUP, 1, 1000));
	ev = last(&net, TDM_PRI_SETUP);
	cb = ev->call;
	assert_false(ev->complete);
	assert_int_equal(ev->ts, 0);
	assert_false(ev->exclusive);		/* no channel named */
	assert_string_equal(ev->called.digits, "55");

	/* The network picks timeslot 12. */
	assert_int_equal(tdm_pri_setup_ack(net.pri, cb, 12), 0);
	assert_int_equal(tdm_pri_call_ts(cb), 12);
	assert_true(wait_ev(&cpe, TDM_PRI_SETUP_ACK, 1, 1000));
	ev = last(&cpe, TDM_PRI_SETUP_ACK);
	assert_ptr_equal(ev->call, ca);
	assert_int_equal(ev->ts, 12);
	assert_int_equal(tdm_pri_call_ts(ca), 12);

	assert_int_equal(tdm_pri_info(cpe.pri, ca, "1x"), EINVAL);
	assert_int_equal(tdm_pri_info(cpe.pri, ca, ""), EINVAL);
	assert_int_equal(tdm_pri_info(cpe.pri, ca, "123"), 0);
	assert_int_equal(tdm_pri_info(cpe.pri, ca, "4#"), 0);
	assert_true(wait_ev(&net, TDM_PRI_INFO, 5, 1000));
	for (i = 0; i < 5; i++) {
		ev = nth(&net, TDM_PRI_INFO, i);
		assert_ptr_equal(ev->call, cb);
		strcat(got, ev->digits);
	}
	assert_string_equal(got, "1234#");

	assert_int_equal(tdm_pri_proceeding(net.pri, cb, 12, false), 0);
	assert_true(wait_ev(&cpe, TDM_PRI_PROCEEDING, 1, 1000));
	assert_int_equal(tdm_pri_hangup(net.pri, cb, 16), 0);
	assert_true(wait_ev(&cpe, TDM_PRI_DISCONNECT, 1, 1000));
	assert_int_equal(tdm_pri_hangup(cpe.pri, ca, 16), 0);
	assert_true(wait_ev(&cpe, TDM_PRI_RELEASE, 1, 1000));
	assert_true(wait_ev(&net, TDM_PRI_RELEASE, 1, 1000));
	pair_close();
}

/* A preferred channel (exclusive = no) comes as preferred, and the
 * answer may name another one, which both ends then hold. */
static void test_preferred_channel(void **state)
{
	struct tdm_pri_conf c = e1_conf;
	const struct tdm_pri_event *ev;
	struct tdm_pri_call *ca, *cb;

	(void)state;
	c.exclusive = false;
	open_up(&c);
	ca = place(&cpe, 7, "1000", true);
	assert_true(wait_ev(&net, TDM_PRI_SETUP, 1, 1000));
	ev = last(&net, TDM_PRI_SETUP);
	cb = ev->call;
	assert_int_equal(ev->ts, 7);
	assert_false(ev->exclusive);
	assert_int_equal(tdm_pri_proceeding(net.pri, cb, 9, false), 0);
	assert_true(wait_ev(&cpe, TDM_PRI_PROCEEDING, 1, 1000));
	assert_int_equal(last(&cpe, TDM_PRI_PROCEEDING)->ts, 9);
	assert_int_equal(tdm_pri_call_ts(ca), 9);
	assert_int_equal(tdm_pri_call_ts(cb), 9);
	assert_int_equal(tdm_pri_hangup(cpe.pri, ca, 16), 0);
	assert_true(wait_ev(&net, TDM_PRI_DISCONNECT, 1, 1000));
	assert_int_equal(tdm_pri_hangup(net.pri, cb, 16), 0);
	assert_true(wait_ev(&cpe, TDM_PRI_RELEASE, 1, 1000));
	assert_true(wait_ev(&net, TDM_PRI_RELEASE, 1, 1000));
	pair_close();
}

static bool all_restarts(void)
{
	return count(&net, TDM_PRI_RESTART) >= 1 + 30;
}

/*
 * RESTART of one timeslot releases the calls on it at both ends; a
 * restart of all is one RESTART per bearer timeslot (libpri 1.6 cannot
 * send the "all interfaces" indicator).
 */
static void test_restart(void **state)
{
	const struct tdm_pri_event *ev;
	struct tdm_pri_call *ca, *cb;
	bool seen[TDM_MAX_TS] = {false};
	size_t i;

	(void)state;
	open_up(&e1_conf);
	ca = place(&cpe, 3, "1000", true);
	assert_true(wait_ev(&net, TDM_PRI_SETUP, 1, 1000));
	cb = last(&net, TDM_PRI_SETUP)->call;
	assert_int_equal(tdm_pri_restart(cpe.pri, 16), EINVAL);
	assert_int_equal(tdm_pri_restart(cpe.pri, 3), 0);
	/* Ours goes at once, from the loop; the far end's on RESTART. */
	assert_int_equal(count(&cpe, TDM_PRI_RELEASE), 0);
	assert_true(wait_ev(&net, TDM_PRI_RESTART, 1, 1000));
	ev = last(&net, TDM_PRI_RESTART);
	assert_int_equal(ev->ts, 3);
	assert_null(ev->call);
	assert_true(wait_ev(&cpe, TDM_PRI_RELEASE, 1, 1000));
	assert_ptr_equal(last(&cpe, TDM_PRI_RELEASE)->call, ca);
	assert_int_equal(last(&cpe, TDM_PRI_RELEASE)->cause, 41);
	ev = nth(&net, TDM_PRI_RELEASE, 0);
	assert_non_null(ev);
	assert_ptr_equal(ev->call, cb);
	/* The far end's RELEASE came before its RESTART. */
	assert_true(ev < last(&net, TDM_PRI_RESTART));
	assert_true(no_calls());

	assert_int_equal(tdm_pri_restart(cpe.pri, 0), 0);
	assert_true(run_until(all_restarts, 2000));
	for (i = 1; i <= 30; i++) {
		ev = nth(&net, TDM_PRI_RESTART, i);
		assert_true(ev->ts >= 1 && ev->ts <= 31 && ev->ts != 16);
		assert_false(seen[ev->ts]);
		seen[ev->ts] = true;
	}
	gw_loop_run_timeout(50);
	assert_int_equal(count(&net, TDM_PRI_RESTART), 31);
	assert_int_equal(count(&cpe, TDM_PRI_RESTART), 0);
	pair_close();
}

/*
 * SERVICE: libpri 1.6 sends it in its AT&T form (and NI-2's) only;
 * EuroISDN has none, so tdm_pri_service says ENOTSUP there.  5ESS on a
 * T1 (timeslots 1-23).
 */
static void test_service(void **state)
{
	struct tdm_pri_conf c = {
		.type = TDM_T1,
		.switchtype = TDM_PRI_5ESS,
		.exclusive = true,
	};
	const struct tdm_pri_event *ev;

	(void)state;
	open_up(&e1_conf);
	assert_int_equal(tdm_pri_service(cpe.pri, 5, false), ENOTSUP);
	pair_close();

	open_up(&c);
	assert_int_equal(tdm_pri_service(cpe.pri, 24, false), EINVAL);
	assert_int_equal(tdm_pri_service(cpe.pri, 5, false), 0);
	assert_true(wait_ev(&net, TDM_PRI_SERVICE, 1, 1000));
	ev = last(&net, TDM_PRI_SERVICE);
	assert_int_equal(ev->ts, 5);
	assert_false(ev->in_service);
	assert_int_equal(tdm_pri_service(cpe.pri, 5, true), 0);
	assert_true(wait_ev(&net, TDM_PRI_SERVICE, 2, 1000));
	ev = last(&net, TDM_PRI_SERVICE);
	assert_int_equal(ev->ts, 5);
	assert_true(ev->in_service);
	/* All: one SERVICE per timeslot (libpri 1.6 cannot say "all"). */
	assert_int_equal(tdm_pri_service(cpe.pri, 0, true), 0);
	assert_true(wait_ev(&net, TDM_PRI_SERVICE, 2 + 23, 1000));
	ev = last(&net, TDM_PRI_SERVICE);
	assert_int_equal(ev->ts, 23);
	assert_true(ev->in_service);
	/* And the other way. */
	assert_int_equal(tdm_pri_service(net.pri, 23, false), 0);
	assert_true(wait_ev(&cpe, TDM_PRI_SERVICE, 1, 1000));
	ev = last(&cpe, TDM_PRI_SERVICE);
	assert_int_equal(ev->ts, 23);
	assert_false(ev->in_service);
	pair_close();
}

static bool cpe_down(void)
{
	return !tdm_pri_up(cpe.pri);
}

/*
 * Frames from NET stop reaching CPE.  CPE notices after T203 (10 s of
 * silence), a poll and N200 (3) more, T200 (1 s) apart: 14 s.  While
 * down it refuses requests with ENOTCONN, but holds a hangup.  When
 * frames flow again the link comes back, and the held hangup clears the
 * answered call (T309, 6 s, has not run out).  NET, which kept hearing
 * CPE, sees no link change beyond CPE's new SABME.
 */
static void test_dchan_down(void **state)
{
	struct tdm_pri_setup su;
	struct tdm_pri_call *ca, *cb, *cx = NULL;
	uint64_t t0, took;

	(void)state;
	open_up(&e1_conf);
	ca = place(&cpe, 4, "1000", true);
	assert_true(wait_ev(&net, TDM_PRI_SETUP, 1, 1000));
	cb = last(&net, TDM_PRI_SETUP)->call;
	assert_int_equal(tdm_pri_answer(net.pri, cb, 4), 0);
	assert_true(wait_ev(&cpe, TDM_PRI_CONNECT, 1, 1000));
	assert_true(wait_ev(&net, TDM_PRI_CONNECT_ACK, 1, 1000));

	net.drop_tx = true;
	t0 = gw_now_ms();
	assert_true(run_until(cpe_down, 17000));
	took = gw_now_ms() - t0;
	assert_true(took >= 13000 && took <= 16000);
	assert_int_equal(count(&cpe, TDM_PRI_DCHAN_DOWN), 1);
	assert_null(last(&cpe, TDM_PRI_DCHAN_DOWN)->call);

	memset(&su, 0, sizeof(su));
	number(&su.called, "1000", 1, 2, 0, 0);
	assert_int_equal(tdm_pri_setup(cpe.pri, &su, &cx), ENOTCONN);
	assert_null(cx);
	assert_int_equal(tdm_pri_restart(cpe.pri, 0), ENOTCONN);
	assert_int_equal(tdm_pri_info(cpe.pri, ca, "1"), ENOTCONN);
	assert_int_equal(tdm_pri_hangup(cpe.pri, ca, 16), 0);
	assert_int_equal(tdm_pri_hangup(cpe.pri, ca, 16), EALREADY);

	net.drop_tx = false;
	t0 = gw_now_ms();
	assert_true(wait_ev(&cpe, TDM_PRI_DCHAN_UP, 2, 5000));
	assert_true(gw_now_ms() - t0 < 5000);
	assert_true(run_until(both_up, 1000));
	assert_true(wait_ev(&net, TDM_PRI_DISCONNECT, 1, 2000));
	assert_ptr_equal(last(&net, TDM_PRI_DISCONNECT)->call, cb);
	assert_int_equal(last(&net, TDM_PRI_DISCONNECT)->cause, 16);
	assert_int_equal(tdm_pri_hangup(net.pri, cb, 16), 0);
	assert_true(wait_ev(&cpe, TDM_PRI_RELEASE, 1, 2000));
	assert_ptr_equal(last(&cpe, TDM_PRI_RELEASE)->call, ca);
	assert_true(wait_ev(&net, TDM_PRI_RELEASE, 1, 2000));
	assert_true(no_calls());
	assert_int_equal(count(&net, TDM_PRI_DCHAN_DOWN), 0);
	print_message("dchan down after %llu ms (%lu frames dropped); "
		      "NET saw %zu down, %zu up\n", (unsigned long long)took,
		      net.dropped, count(&net, TDM_PRI_DCHAN_DOWN),
		      count(&net, TDM_PRI_DCHAN_UP));
	pair_close();
}

/* Answer the far end's DISCONNECT. */
static void clear_back(struct side *s, const struct tdm_pri_event *ev)
{
	if (ev->type == TDM_PRI_DISCONNECT)
		assert_int_equal(tdm_pri_hangup(s->pri, ev->call, ev->cause),
				 0);
}

/* NET answers everything at once. */
static void answer_all(struct side *s, const struct tdm_pri_event *ev)
{
	if (ev->type == TDM_PRI_SETUP) {
		assert_int_equal(tdm_pri_proceeding(s->pri, ev->call, ev->ts,
						    false), 0);
		assert_int_equal(tdm_pri_alerting(s->pri, ev->call, ev->ts,
						  false), 0);
		assert_int_equal(tdm_pri_answer(s->pri, ev->call, ev->ts), 0);
	} else if (ev->type == TDM_PRI_DISCONNECT) {
		assert_int_equal(tdm_pri_hangup(s->pri, ev->call, ev->cause),
				 0);
	}
}

static bool all_connected(void)
{
	return count(&cpe, TDM_PRI_CONNECT) >= 30 &&
	       count(&net, TDM_PRI_CONNECT_ACK) >= 30;
}

static bool all_released(void)
{
	return count(&cpe, TDM_PRI_RELEASE) >= 30 &&
	       count(&net, TDM_PRI_RELEASE) >= 30;
}

/* 30 calls at once on every E1 timeslot: set up, cleared, no leak. */
static void test_many_calls(void **state)
{
	struct tdm_pri_call *calls[TDM_MAX_TS] = {NULL};
	unsigned ts;
	uint64_t t0 = gw_now_ms();

	(void)state;
	open_up(&e1_conf);
	net.policy = answer_all;
	for (ts = 1; ts <= 31; ts++) {
		if (ts != 16)
			calls[ts] = place(&cpe, ts, "2000", true);
	}
	assert_true(run_until(all_connected, 5000));
	assert_int_equal(count(&net, TDM_PRI_SETUP), 30);
	assert_int_equal(count(&net, TDM_PRI_CONNECT_ACK), 30);
	for (ts = 1; ts <= 31; ts++) {
		if (calls[ts])
			assert_int_equal(tdm_pri_hangup(cpe.pri, calls[ts],
							16), 0);
	}
	assert_true(run_until(all_released, 5000));
	assert_true(no_calls());
	gw_loop_run_timeout(50);
	assert_int_equal(count(&cpe, TDM_PRI_RELEASE), 30);
	assert_int_equal(count(&net, TDM_PRI_RELEASE), 30);
	print_message("30 calls up and down in %llu ms\n",
		      (unsigned long long)(gw_now_ms() - t0));
	pair_close();
}

/*
 * Glare policy of the test's upper layers, after Q.931 5.7: the
 * network wins.  NET refuses a SETUP for a timeslot its own call holds
 * (cause 44); CPE gives way and takes the network's call.
 */
static void glare(struct side *s, const struct tdm_pri_event *ev)
{
	if (ev->type == TDM_PRI_SETUP && s == &net) {
		assert_int_equal(tdm_pri_hangup(s->pri, ev->call, 44), 0);
	} else if (ev->type == TDM_PRI_SETUP) {
		assert_int_equal(tdm_pri_proceeding(s->pri, ev->call, ev->ts,
						    false), 0);
		assert_int_equal(tdm_pri_answer(s->pri, ev->call, ev->ts), 0);
	} else if (ev->type == TDM_PRI_DISCONNECT) {
		assert_int_equal(tdm_pri_hangup(s->pri, ev->call, ev->cause),
				 0);
	}
}

/*
 * Glare: both ends SETUP on timeslot 9 in the same instant.  libpri
 * checks nothing about channels: each end gets the other's SETUP as a
 * new call on a busy timeslot, and resolving it is the upper layer's
 * job.  Here NET refuses CPE's call with 44 (RELEASE COMPLETE) and CPE
 * answers NET's; then NET clears.  Nothing is left on either side.
 */
static void test_glare(void **state)
{
	struct tdm_pri_call *ca, *cn;
	const struct tdm_pri_event *ev;

	(void)state;
	open_up(&e1_conf);
	cpe.policy = glare;
	net.policy = glare;
	ca = place(&cpe, 9, "3000", true);
	cn = place(&net, 9, "7001", true);

	assert_true(wait_ev(&cpe, TDM_PRI_RELEASE, 1, 1000));
	ev = last(&cpe, TDM_PRI_RELEASE);
	assert_ptr_equal(ev->call, ca);
	assert_int_equal(ev->cause, 44);
	assert_true(wait_ev(&net, TDM_PRI_CONNECT, 1, 1000));
	assert_ptr_equal(last(&net, TDM_PRI_CONNECT)->call, cn);
	assert_int_equal(count(&net, TDM_PRI_SETUP), 1);
	assert_int_equal(count(&cpe, TDM_PRI_SETUP), 1);

	assert_int_equal(tdm_pri_hangup(net.pri, cn, 16), 0);
	assert_true(wait_ev(&cpe, TDM_PRI_RELEASE, 2, 1000));
	assert_true(wait_ev(&net, TDM_PRI_RELEASE, 2, 1000));
	gw_loop_run_timeout(50);
	assert_int_equal(count(&cpe, TDM_PRI_RELEASE), 2);
	assert_int_equal(count(&net, TDM_PRI_RELEASE), 2);
	assert_true(no_calls());
	pair_close();
}

/*
 * A synchronous transport: each send runs the other side's input at
 * once, so libpri's write callback leads back into the sender (a frame
 * arrives while it is inside libpri) and handlers run nested.  Frames
 * are held until libpri returns; the call goes as on the wire.
 */
static void test_sync_wire(void **state)
{
	(void)state;
	sync_wire = true;
	open_up(&e1_conf);
	full_call(&cpe, &net, 30);
	net.policy = answer_all;
	place(&cpe, 2, "2000", true);
	place(&cpe, 3, "2000", true);
	assert_true(wait_ev(&cpe, TDM_PRI_CONNECT, 3, 1000));
	assert_int_equal(tdm_pri_hangup(cpe.pri, cpe.calls[2], 17), 0);
	assert_int_equal(tdm_pri_hangup(cpe.pri, cpe.calls[3], 17), 0);
	assert_true(wait_ev(&cpe, TDM_PRI_RELEASE, 3, 1000));
	assert_true(wait_ev(&net, TDM_PRI_RELEASE, 3, 1000));
	assert_int_equal(last(&net, TDM_PRI_DISCONNECT)->cause, 17);
	assert_true(no_calls());
	pair_close();
}

/* A handler that frees its instance stops delivery there. */
static void free_on_setup(struct side *s, const struct tdm_pri_event *ev)
{
	if (ev->type == TDM_PRI_SETUP)
		s->pri = gw_mem_deref(s->pri);
}

static void test_free_in_handler(void **state)
{
	(void)state;
	open_up(&e1_conf);
	net.policy = free_on_setup;
	place(&cpe, 1, "1000", true);
	assert_true(wait_ev(&net, TDM_PRI_SETUP, 1, 1000));
	assert_null(net.pri);
	/* CPE keeps retransmitting; the freed side hears nothing. */
	gw_loop_run_timeout(50);
	pair_close();
}

/* Arguments, names and switch types. */
static void test_api(void **state)
{
	static const char *const names[] = {
		"euroisdn_e1", "euroisdn_t1", "national", "ni1", "dms100",
		"4ess", "5ess", "qsig",
	};
	struct tdm_pri_setup su;
	struct tdm_pri_call *call = NULL;
	struct tdm_pri_conf c = e1_conf;
	struct tdm_pri *p = NULL;
	enum tdm_pri_switch sw;
	size_t i;

	(void)state;
	for (i = 0; i < GW_ARRAY_SIZE(names); i++) {
		assert_int_equal(tdm_pri_switch_parse(names[i], &sw), 0);
		assert_string_equal(tdm_pri_switch_name(sw), names[i]);
	}
	assert_int_equal(tdm_pri_switch_parse("EuroISDN_E1", &sw), 0);
	assert_int_equal(sw, TDM_PRI_EUROISDN_E1);
	assert_int_equal(tdm_pri_switch_parse("euroisdn", &sw), EINVAL);
	assert_int_equal(tdm_pri_switch_parse(NULL, &sw), EINVAL);
	assert_string_equal(tdm_pri_switch_name((enum tdm_pri_switch)99),
			    "?");
	assert_string_equal(tdm_pri_ev_name(TDM_PRI_SETUP), "setup");
	assert_string_equal(tdm_pri_ev_name(TDM_PRI_CONNECT_ACK),
			    "connect_ack");
	assert_string_equal(tdm_pri_ev_name(TDM_PRI_RELEASE), "release");
	assert_string_equal(tdm_pri_ev_name((enum tdm_pri_ev)99), "?");

	open_up(&e1_conf);
	c.switchtype = (enum tdm_pri_switch)99;
	assert_int_equal(tdm_pri_alloc(&p, &c, on_send, on_event, &cpe),
			 EINVAL);
	assert_null(p);
	assert_int_equal(tdm_pri_alloc(&p, &e1_conf, NULL, on_event, &cpe),
			 EINVAL);

	memset(&su, 0, sizeof(su));
	number(&su.called, "1000", 1, 2, 0, 0);
	su.ts = 16;			/* the D-channel */
	assert_int_equal(tdm_pri_setup(cpe.pri, &su, &call), EINVAL);
	su.ts = 32;
	assert_int_equal(tdm_pri_setup(cpe.pri, &su, &call), EINVAL);
	su.ts = 1;
	su.called.ton = 8;
	assert_int_equal(tdm_pri_setup(cpe.pri, &su, &call), EINVAL);
	su.called.ton = 2;
	memset(su.calling.digits, '1', sizeof(su.calling.digits));
	assert_int_equal(tdm_pri_setup(cpe.pri, &su, &call), EINVAL);
	assert_null(call);
	su.calling.digits[0] = '\0';

	net.policy = clear_back;
	call = place(&cpe, 1, "1000", true);
	assert_int_equal(tdm_pri_progress(cpe.pri, call, 1, false), EINVAL);
	assert_int_equal(tdm_pri_answer(net.pri, call, 1), EINVAL);
	assert_int_equal(tdm_pri_hangup(cpe.pri, call, 0), EINVAL);
	assert_int_equal(tdm_pri_hangup(cpe.pri, call, 16), 0);
	assert_int_equal(tdm_pri_alerting(cpe.pri, call, 1, false), EINVAL);
	assert_true(wait_ev(&cpe, TDM_PRI_RELEASE, 1, 1000));
	assert_true(wait_ev(&net, TDM_PRI_RELEASE, 1, 1000));
	assert_int_equal(count(&cpe, TDM_PRI_DISCONNECT), 0);
	pair_close();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_api),
		UNIT_TEST(test_dchan_up),
		UNIT_TEST(test_preferred_channel),
		UNIT_TEST(test_call_cpe_to_net),
		UNIT_TEST(test_call_net_to_cpe),
		UNIT_TEST(test_causes),
		UNIT_TEST(test_overlap),
		UNIT_TEST(test_restart),
		UNIT_TEST(test_service),
		UNIT_TEST(test_many_calls),
		UNIT_TEST(test_glare),
		UNIT_TEST(test_sync_wire),
		UNIT_TEST(test_free_in_handler),
		UNIT_TEST(test_dchan_down),
	};

	gw_log_set_levels(getenv("GW_LOG") ? getenv("GW_LOG") : "warn");
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);	/* one case, by name */
	return cmocka_run_group_tests_name("hw_pri", tests, NULL, NULL);
}
