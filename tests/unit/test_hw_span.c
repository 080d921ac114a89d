/* tests/unit/test_hw_span.c - spans, channels, the virtual span on sockets */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "tdm.h"

/*
 * A master span (pstnsim's side) and a slave span (the gateway's) run in
 * this one process on one loop, over SEQPACKET sockets in a fresh
 * directory.  Where a test needs a peer that misbehaves, a raw socket
 * plays it.
 */

#define BEARER_MSG (1 + 4 + TDM_MAX_TS * TDM_FRAME_SAMPLES)

/* Run the loop until cond holds or ms pass; the value of cond. */
#define WAIT_FOR(cond, ms) __extension__ ({				\
		uint64_t end_ = gw_now_ms() + (ms);			\
		while (!(cond) && gw_now_ms() < end_)			\
			gw_loop_run_timeout(2);				\
		(cond);							\
	})

struct side {
	struct tdm_span *span;
	unsigned nstate;		/* state handler calls */
	enum tdm_span_state state;
	unsigned alarms;
	/* D-channel frames received */
	uint8_t frames[8][TDM_DCHAN_MAX];
	size_t lens[8];
	unsigned nframes;
	/* re-entrancy: free the span from the state handler on UP */
	bool free_on_up;
};

struct fix {
	char dir[64];
	char dpath[128];
	char bpath[128];
};

static void fix_init(struct fix *f)
{
	gw_loop_close();		/* a failed test may have left one */
	assert_int_equal(gw_loop_init(), 0);
	strcpy(f->dir, "/tmp/test_hw_span-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->dpath, sizeof(f->dpath), "%s/d.sock", f->dir);
	snprintf(f->bpath, sizeof(f->bpath), "%s/b.sock", f->dir);
}

static void fix_close(struct fix *f)
{
	assert_int_equal(gw_tmr_count(), 0);
	gw_loop_close();
	unlink(f->dpath);
	unlink(f->bpath);
	assert_int_equal(rmdir(f->dir), 0);
}

static void state_h(struct tdm_span *span, enum tdm_span_state state,
		    unsigned alarms, void *arg)
{
	struct side *sd = arg;

	assert_ptr_equal(span, sd->span);
	sd->nstate++;
	sd->state = state;
	sd->alarms = alarms;
	if (sd->free_on_up && state == TDM_SPAN_UP)
		sd->span = gw_mem_deref(sd->span);
}

static void dchan_h(struct tdm_span *span, const uint8_t *frame, size_t len,
		    void *arg)
{
	struct side *sd = arg;

	assert_ptr_equal(span, sd->span);
	assert_true(len <= TDM_DCHAN_MAX);
	if (sd->nframes < 8) {
		memcpy(sd->frames[sd->nframes], frame, len);
		sd->lens[sd->nframes] = len;
	}
	sd->nframes++;
}

static void conf_init(struct tdm_span_conf *c, const struct fix *f,
		      enum tdm_span_type type, bool master)
{
	memset(c, 0, sizeof(*c));
	c->id = 1;
	c->type = type;
	c->driver = "vspan";
	c->framing = type == TDM_E1 ? "ccs" : "esf";
	c->linecode = type == TDM_E1 ? "hdb3" : "b8zs";
	c->dchan_path = f->dpath;
	c->bearer_path = f->bpath;
	c->master = master;
}

static void side_alloc(struct side *sd, const struct fix *f,
		       enum tdm_span_type type, bool master)
{
	struct tdm_span_conf c;

	memset(sd, 0, sizeof(*sd));
	conf_init(&c, f, type, master);
	assert_int_equal(tdm_span_alloc(&sd->span, &c, state_h, sd), 0);
	assert_int_equal(tdm_dchan_open(sd->span, dchan_h, sd), 0);
}

static void side_start(struct side *sd, const struct fix *f,
		       enum tdm_span_type type, bool master, unsigned flags)
{
	side_alloc(sd, f, type, master);
	assert_int_equal(tdm_span_start(sd->span, flags), 0);
}

#define BOTH (TDM_OPEN_DCHAN | TDM_OPEN_BEARER)

/* A master and a slave with both halves, linked and UP. */
static void pair_up(struct side *m, struct side *s, const struct fix *f,
		    enum tdm_span_type type)
{
	side_start(m, f, type, true, BOTH);
	side_start(s, f, type, false, BOTH);
	assert_true(WAIT_FOR(tdm_span_state(m->span) == TDM_SPAN_UP &&
			     tdm_span_state(s->span) == TDM_SPAN_UP, 2000));
}

/* ---- raw sockets: peers that do what a test needs ------------------- */

static void sa_init(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sa->sun_path));
	strcpy(sa->sun_path, path);
}

static int raw_listen(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	sa_init(&sa, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static int raw_accept(int lfd)
{
	uint64_t end = gw_now_ms() + 2000;
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) < 0 &&
	       gw_now_ms() < end)
		gw_loop_run_timeout(2);
	assert_true(fd >= 0);
	return fd;
}

/* Accept the slave and greet it as a master does: alarms first. */
static int raw_accept_hello(int lfd)
{
	static const uint8_t hello[] = {0x03, 0, 0, 0, 0};
	int fd = raw_accept(lfd);

	assert_int_equal(send(fd, hello, sizeof(hello), MSG_NOSIGNAL),
			 (ssize_t)sizeof(hello));
	return fd;
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	sa_init(&sa, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void raw_send(int fd, const void *msg, size_t len)
{
	assert_int_equal(send(fd, msg, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void make_stale_socket(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	sa_init(&sa, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

/* ---- cases ----------------------------------------------------------- */

static void test_link_up(void **state)
{
	struct side m, s;
	struct fix f;
	struct stat st;

	(void)state;
	fix_init(&f);
	side_start(&m, &f, TDM_E1, true, BOTH);
	assert_int_equal(tdm_span_state(m.span), TDM_SPAN_DOWN);
	assert_int_equal(stat(f.dpath, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(stat(f.bpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);

	side_start(&s, &f, TDM_E1, false, BOTH);
	/* No handler runs inside tdm_span_start. */
	assert_int_equal(s.nstate, 0);
	assert_false(tdm_dchan_link(s.span));
	assert_int_equal(tdm_span_start(s.span, BOTH), EALREADY);

	assert_true(WAIT_FOR(m.state == TDM_SPAN_UP &&
			     s.state == TDM_SPAN_UP, 2000));
	assert_int_equal(tdm_span_state(s.span), TDM_SPAN_UP);
	assert_int_equal(tdm_span_alarms(s.span), 0);
	assert_int_equal(s.alarms, 0);
	assert_true(tdm_dchan_link(m.span));
	assert_true(tdm_dchan_link(s.span));
	assert_int_equal(tdm_span_counters(s.span)->reconnects, 0);
	assert_int_equal(tdm_span_counters(m.span)->reconnects, 0);
	/* Bearer frames flow at once. */
	assert_true(WAIT_FOR(tdm_span_counters(s.span)->frames_rx >= 3 &&
			     tdm_span_counters(m.span)->frames_rx >= 3, 500));

	gw_mem_deref(s.span);
	gw_mem_deref(m.span);
	/* The master removes its socket files. */
	assert_int_equal(stat(f.dpath, &st), -1);
	assert_int_equal(stat(f.bpath, &st), -1);
	fix_close(&f);
}

static void check_map(enum tdm_span_type type)
{
	struct tdm_span_conf c;
	struct tdm_span *span;
	struct tdm_chan *ch;
	struct fix f;
	unsigned ts, n = 0;
	bool e1 = type == TDM_E1;

	memset(&f, 0, sizeof(f));
	strcpy(f.dpath, "/nonexistent/d");
	strcpy(f.bpath, "/nonexistent/b");
	conf_init(&c, &f, type, false);
	assert_int_equal(tdm_span_alloc(&span, &c, NULL, NULL), 0);
	assert_int_equal(tdm_span_type(span), type);
	assert_int_equal(tdm_span_id(span), 1);
	assert_int_equal(tdm_span_state(span), TDM_SPAN_DOWN);
	assert_int_equal(tdm_span_nchans(span), e1 ? 30 : 23);
	assert_int_equal(tdm_span_dchan_ts(span), e1 ? 16 : 24);
	assert_int_equal(tdm_span_idle_code(span), e1 ? 0xd5 : 0xff);

	for (ts = 0; ts < TDM_MAX_TS + 2; ts++) {
		bool bearer = e1 ? (ts >= 1 && ts <= 31 && ts != 16) :
			(ts >= 1 && ts <= 23);

		assert_int_equal(tdm_span_is_bearer_ts(span, ts), bearer);
		ch = tdm_span_chan(span, ts);
		if (!bearer) {
			assert_null(ch);
			continue;
		}
		n++;
		assert_non_null(ch);
		assert_int_equal(tdm_chan_ts(ch), ts);
		assert_ptr_equal(tdm_chan_span(ch), span);
		assert_int_equal(tdm_chan_state(ch), TDM_CHAN_IDLE);
		assert_false(tdm_chan_is_open(ch));
	}
	assert_int_equal(n, tdm_span_nchans(span));
	assert_null(tdm_span_chan(span, tdm_span_dchan_ts(span)));
	assert_null(tdm_span_chan(span, 0));

	gw_mem_deref(span);
}

static void test_chan_map_e1(void **state)
{
	(void)state;
	check_map(TDM_E1);
}

static void test_chan_map_t1(void **state)
{
	(void)state;
	check_map(TDM_T1);
}

static void nop_frame(struct tdm_chan *ch, const uint8_t *rx, uint8_t *tx,
		      void *arg)
{
	(void)ch;
	(void)rx;
	(void)tx;
	(void)arg;
}

static void test_chan_api(void **state)
{
	static const char *const names[] = {
		"idle", "reserved", "in_use", "blocked", "maintenance",
	};
	struct tdm_span_conf c;
	struct tdm_span *span;
	struct tdm_chan *ch;
	struct fix f;
	unsigned i;

	(void)state;
	memset(&f, 0, sizeof(f));
	conf_init(&c, &f, TDM_E1, false);
	assert_int_equal(tdm_span_alloc(&span, &c, NULL, NULL), 0);
	ch = tdm_span_chan(span, 17);
	for (i = 0; i < GW_ARRAY_SIZE(names); i++) {
		assert_string_equal(tdm_chan_state_name(i), names[i]);
		tdm_chan_set_state(ch, i);
		assert_int_equal(tdm_chan_state(ch), i);
	}
	assert_string_equal(tdm_chan_state_name(99), "?");
	tdm_chan_set_state(ch, TDM_CHAN_IDLE);

	assert_int_equal(tdm_chan_open(ch, NULL, NULL), EINVAL);
	assert_int_equal(tdm_chan_open(ch, nop_frame, NULL), 0);
	assert_true(tdm_chan_is_open(ch));
	assert_int_equal(tdm_chan_open(ch, nop_frame, NULL), EBUSY);
	tdm_chan_close(ch);
	assert_false(tdm_chan_is_open(ch));
	assert_int_equal(tdm_chan_open(ch, nop_frame, NULL), 0);
	/* Freeing the span with an open channel is fine. */
	gw_mem_deref(span);
}

static void test_conf_errors(void **state)
{
	struct tdm_span_conf c;
	struct tdm_span *span = NULL;
	struct fix f;
	size_t live;
	long n;
	int err;

	(void)state;
	fix_init(&f);
	conf_init(&c, &f, TDM_E1, true);
	assert_int_equal(tdm_span_alloc(&span, NULL, NULL, NULL), EINVAL);
	c.id = 0;
	assert_int_equal(tdm_span_alloc(&span, &c, NULL, NULL), EINVAL);
	c.id = 1;
	c.type = (enum tdm_span_type)7;
	assert_int_equal(tdm_span_alloc(&span, &c, NULL, NULL), EINVAL);
	c.type = TDM_E1;
	c.driver = "nope";
	assert_int_equal(tdm_span_alloc(&span, &c, NULL, NULL), ENOTSUP);
#ifndef HAVE_DAHDI
	c.driver = "dahdi";
	assert_int_equal(tdm_span_alloc(&span, &c, NULL, NULL), ENOTSUP);
#endif
	c.driver = "vspan";
	assert_null(span);

	/* Bad start flags, a missing or too long path. */
	assert_int_equal(tdm_span_alloc(&span, &c, NULL, NULL), 0);
	assert_int_equal(tdm_span_start(span, 0), EINVAL);
	assert_int_equal(tdm_span_start(span, 1u << 5), EINVAL);
	gw_mem_deref(span);
	c.bearer_path = NULL;
	assert_int_equal(tdm_span_alloc(&span, &c, NULL, NULL), 0);
	assert_int_equal(tdm_span_start(span, BOTH), EINVAL);
	assert_int_equal(tdm_span_start(span, TDM_OPEN_DCHAN), 0);
	gw_mem_deref(span);
	c.bearer_path = "/tmp/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"xxxxxxxxxxxxxxxxxxxxxxxxxxx";
	assert_int_equal(tdm_span_alloc(&span, &c, NULL, NULL), 0);
	assert_int_equal(tdm_span_start(span, BOTH), ENAMETOOLONG);
	/* A failed start leaves nothing behind, not even the D socket. */
	assert_int_equal(access(f.dpath, F_OK), -1);
	gw_mem_deref(span);
	c.bearer_path = f.bpath;

	/* A regular file where the socket goes is not ours to remove. */
	close(open(f.bpath, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(tdm_span_alloc(&span, &c, NULL, NULL), 0);
	assert_int_equal(tdm_span_start(span, BOTH), EEXIST);
	gw_mem_deref(span);
	unlink(f.bpath);

	/* Alarms are for masters, and only the known bits. */
	c.master = false;
	assert_int_equal(tdm_span_alloc(&span, &c, NULL, NULL), 0);
	assert_int_equal(tdm_span_send_alarms(span, TDM_ALARM_LOS), ENOTSUP);
	gw_mem_deref(span);
	c.master = true;
	assert_int_equal(tdm_span_alloc(&span, &c, NULL, NULL), 0);
	assert_int_equal(tdm_span_send_alarms(span, 1u << 9), EINVAL);
	/* A D-channel frame before anything is linked. */
	assert_int_equal(tdm_dchan_send(span, (const uint8_t *)"\0\1\x7f\0\0",
					5), ENOTCONN);
	gw_mem_deref(span);

	/* Every allocation failure is clean: alloc, then start. */
	for (n = 0; n < 100; n++) {
		live = gw_mem_live();
		span = NULL;
		gw_mem_fail_after(n);
		err = tdm_span_alloc(&span, &c, NULL, NULL);
		if (!err)
			err = tdm_span_start(span, BOTH);
		gw_mem_fail_after(-1);
		if (!err)
			break;
		assert_int_equal(err, ENOMEM);
		gw_mem_deref(span);
		assert_int_equal(gw_mem_live(), live);
	}
	assert_true(n < 100);
	gw_mem_deref(span);
	fix_close(&f);
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

static void test_dchan_frames(void **state)
{
	static const size_t lens[] = {5, 6, 100, 260, TDM_DCHAN_MAX};
	uint8_t frame[TDM_DCHAN_MAX + 1];
	struct side m, s;
	struct fix f;
	size_t i;

	(void)state;
	fix_init(&f);
	pair_up(&m, &s, &f, TDM_E1);

	/* A CPE SABME as libpri writes it, then larger frames. */
	for (i = 0; i < GW_ARRAY_SIZE(lens); i++) {
		fill(frame, lens[i], (unsigned)i);
		if (i == 0)
			memcpy(frame, "\x00\x01\x7f\x00\x00", 5);
		assert_int_equal(tdm_dchan_send(s.span, frame, lens[i]), 0);
	}
	assert_true(WAIT_FOR(m.nframes == GW_ARRAY_SIZE(lens), 1000));
	for (i = 0; i < GW_ARRAY_SIZE(lens); i++) {
		fill(frame, lens[i], (unsigned)i);
		if (i == 0)
			memcpy(frame, "\x00\x01\x7f\x00\x00", 5);
		assert_int_equal(m.lens[i], lens[i]);
		assert_memory_equal(m.frames[i], frame, lens[i]);
	}

	/* And the other way, with its NET SABME. */
	for (i = 0; i < GW_ARRAY_SIZE(lens); i++) {
		fill(frame, lens[i], (unsigned)i + 50);
		if (i == 0)
			memcpy(frame, "\x02\x01\x7f\x00\x00", 5);
		assert_int_equal(tdm_dchan_send(m.span, frame, lens[i]), 0);
	}
	assert_true(WAIT_FOR(s.nframes == GW_ARRAY_SIZE(lens), 1000));
	for (i = 0; i < GW_ARRAY_SIZE(lens); i++) {
		fill(frame, lens[i], (unsigned)i + 50);
		if (i == 0)
			memcpy(frame, "\x02\x01\x7f\x00\x00", 5);
		assert_int_equal(s.lens[i], lens[i]);
		assert_memory_equal(s.frames[i], frame, lens[i]);
	}

	/* Out of range frames are refused, not truncated. */
	assert_int_equal(tdm_dchan_send(s.span, frame, 4), EINVAL);
	assert_int_equal(tdm_dchan_send(s.span, frame, TDM_DCHAN_MAX + 1),
			 EINVAL);
	assert_int_equal(tdm_span_counters(s.span)->dchan_tx, 5);
	assert_int_equal(tdm_span_counters(s.span)->dchan_rx, 5);
	assert_int_equal(tdm_span_counters(m.span)->dchan_tx, 5);
	assert_int_equal(tdm_span_counters(m.span)->dchan_rx, 5);
	assert_int_equal(tdm_span_counters(m.span)->bad_frames, 0);
	assert_int_equal(tdm_span_counters(s.span)->bad_frames, 0);

	gw_mem_deref(s.span);
	gw_mem_deref(m.span);
	fix_close(&f);
}

/* ---- the bearer -------------------------------------------------------- */

/*
 * Each side writes, per timeslot and frame: ts, a 16-bit frame counter,
 * then bytes that depend on ts and the side.  The master counts its own
 * frames; the slave echoes the counter of the frame it answers, so that
 * the master also checks the one-frame round trip.
 */
struct bearer_probe {
	bool master;
	uint8_t idle;
	unsigned calls[TDM_MAX_TS];
	unsigned counter[TDM_MAX_TS];	/* master: frames sent */
	int last[TDM_MAX_TS];		/* last counter seen; -1 none */
	unsigned errors;
	unsigned idle_rx;
	unsigned ticks;
	unsigned sleep_at;		/* master: tick that sleeps 75 ms */
};

static uint8_t pat(unsigned ts, size_t i, bool master)
{
	return (uint8_t)(ts * 13 + i * 3 + (master ? 0x40 : 0x90));
}

static bool pattern_ok(const uint8_t *rx, unsigned ts, bool master)
{
	size_t i;

	if (rx[0] != ts)
		return false;
	for (i = 3; i < TDM_FRAME_SAMPLES; i++)
		if (rx[i] != pat(ts, i, master))
			return false;
	return true;
}

static bool all_idle(const uint8_t *p, uint8_t idle)
{
	size_t i;

	for (i = 0; i < TDM_FRAME_SAMPLES; i++)
		if (p[i] != idle)
			return false;
	return true;
}

static void bearer_frame(struct tdm_chan *ch, const uint8_t *rx,
			 uint8_t *tx, void *arg)
{
	struct bearer_probe *p = arg;
	unsigned ts = tdm_chan_ts(ch);
	unsigned cnt;
	size_t i;

	p->calls[ts]++;
	/* tx comes filled with idle code. */
	if (!all_idle(tx, p->idle))
		p->errors++;

	if (p->master) {
		if (all_idle(rx, p->idle)) {
			/* Only before the first answer. */
			if (p->last[ts] >= 0)
				p->errors++;
			p->idle_rx++;
		} else if (!pattern_ok(rx, ts, false)) {
			p->errors++;
		} else {
			cnt = (unsigned)rx[1] << 8 | rx[2];
			/* The answer to the frame sent last tick. */
			if (cnt != ((p->counter[ts] - 1) & 0xffff))
				p->errors++;
			p->last[ts] = (int)cnt;
		}
		cnt = p->counter[ts]++ & 0xffff;
	} else {
		if (!pattern_ok(rx, ts, true)) {
			p->errors++;
			cnt = 0;
		} else {
			cnt = (unsigned)rx[1] << 8 | rx[2];
			if (p->last[ts] >= 0 &&
			    cnt != (((unsigned)p->last[ts] + 1) & 0xffff))
				p->errors++;
			p->last[ts] = (int)cnt;
		}
	}
	tx[0] = (uint8_t)ts;
	tx[1] = (uint8_t)(cnt >> 8);
	tx[2] = (uint8_t)cnt;
	for (i = 3; i < TDM_FRAME_SAMPLES; i++)
		tx[i] = pat(ts, i, p->master);
}

static void bearer_tick(struct tdm_span *span, void *arg)
{
	struct bearer_probe *p = arg;
	struct timespec ts = {0, 75 * 1000000};

	(void)span;
	if (++p->ticks == p->sleep_at)
		nanosleep(&ts, NULL);
}

static void probe_open(struct bearer_probe *p, struct tdm_span *span,
		       bool master)
{
	unsigned ts;

	memset(p, 0, sizeof(*p));
	p->master = master;
	p->idle = tdm_span_idle_code(span);
	for (ts = 0; ts < TDM_MAX_TS; ts++) {
		struct tdm_chan *ch = tdm_span_chan(span, ts);

		p->last[ts] = -1;
		if (ch)
			assert_int_equal(tdm_chan_open(ch, bearer_frame, p), 0);
	}
	tdm_span_set_tick_handler(span, bearer_tick, p);
}

static void check_bearer(enum tdm_span_type type)
{
	struct bearer_probe pm, ps;
	struct tdm_span_counters m0, s0;
	const struct tdm_span_counters *mc, *sc;
	struct side m, s;
	struct fix f;
	unsigned ts, n;

	fix_init(&f);
	pair_up(&m, &s, &f, type);
	probe_open(&pm, m.span, true);
	probe_open(&ps, s.span, false);
	mc = tdm_span_counters(m.span);
	sc = tdm_span_counters(s.span);
	m0 = *mc;
	s0 = *sc;

	gw_loop_run_timeout(2000);

	/* 50 frames a second from the master's clock, each answered. */
	n = (unsigned)(mc->frames_tx - m0.frames_tx);
	print_message("%s: master sent %u frames in 2 s\n",
		      type == TDM_E1 ? "e1" : "t1", n);
	assert_in_range(n, 98, 102);
	assert_in_range(sc->frames_rx - s0.frames_rx, n - 1, n + 1);
	assert_in_range(sc->frames_tx - s0.frames_tx, n - 1, n + 1);
	assert_in_range(mc->frames_rx - m0.frames_rx, n - 1, n + 1);
	assert_int_equal(mc->slips, 0);
	assert_int_equal(sc->slips, 0);
	assert_int_equal(mc->bad_frames, 0);
	assert_int_equal(sc->bad_frames, 0);
	assert_int_equal(pm.errors, 0);
	assert_int_equal(ps.errors, 0);
	/* The first tick saw no answer yet on each channel: the only
	 * idle frames the master may see. */
	assert_true(pm.idle_rx <= tdm_span_nchans(m.span));
	for (ts = 0; ts < TDM_MAX_TS; ts++) {
		if (!tdm_span_is_bearer_ts(m.span, ts)) {
			assert_int_equal(pm.calls[ts], 0);
			continue;
		}
		assert_int_equal(pm.calls[ts], pm.ticks);
		assert_int_equal(ps.calls[ts], ps.ticks);
		assert_true(pm.last[ts] >= 0);
		assert_true(ps.last[ts] >= 0);
	}
	assert_in_range(pm.ticks, n, n + 1);
	assert_in_range(ps.ticks, n - 1, n + 1);
	assert_int_equal(tdm_span_state(s.span), TDM_SPAN_UP);

	gw_mem_deref(s.span);
	gw_mem_deref(m.span);
	fix_close(&f);
}

static void test_bearer_e1(void **state)
{
	(void)state;
	check_bearer(TDM_E1);
}

static void test_bearer_t1(void **state)
{
	(void)state;
	check_bearer(TDM_T1);
}

/* The master's loop is late by more than three frames once: it counts
 * the frames it skipped as slips and goes on at 50/s, with no burst. */
static void test_master_late(void **state)
{
	struct bearer_probe pm, ps;
	const struct tdm_span_counters *mc, *sc;
	struct side m, s;
	struct fix f;
	uint64_t tx0;

	(void)state;
	fix_init(&f);
	pair_up(&m, &s, &f, TDM_E1);
	probe_open(&pm, m.span, true);
	probe_open(&ps, s.span, false);
	pm.sleep_at = 10;
	mc = tdm_span_counters(m.span);
	sc = tdm_span_counters(s.span);

	assert_true(WAIT_FOR(pm.ticks > 12, 1000));
	print_message("master slips after a 75 ms stall: %llu\n",
		      (unsigned long long)mc->slips);
	assert_in_range(mc->slips, 2, 5);
	tx0 = mc->frames_tx;
	gw_loop_run_timeout(1000);
	assert_in_range(mc->frames_tx - tx0, 48, 52);
	assert_in_range(mc->slips, 2, 5);
	/* The slave saw no sequence jump: skipped frames were not sent. */
	assert_int_equal(sc->slips, 0);
	assert_int_equal(ps.errors, 0);

	gw_mem_deref(s.span);
	gw_mem_deref(m.span);
	fix_close(&f);
}

/* ---- alarms -------------------------------------------------------------- */

static bool json_alarms_are(const struct tdm_span *span, const char *want)
{
	json_t *j = tdm_span_json(span);
	char *got;
	bool ok;

	assert_non_null(j);
	got = json_dumps(json_object_get(j, "alarms"), JSON_COMPACT);
	ok = got && !strcmp(got, want);
	if (!ok)
		print_message("alarms: got %s, want %s\n", got, want);
	free(got);
	json_decref(j);
	return ok;
}

/* One alarm step: the master signals, both slaves see it. */
static void alarm_step(struct side *m, struct side *sd, struct side *sb,
		       unsigned alarms, const char *json)
{
	enum tdm_span_state want = alarms ? TDM_SPAN_ALARM : TDM_SPAN_UP;

	assert_int_equal(tdm_span_send_alarms(m->span, alarms), 0);
	assert_true(WAIT_FOR(sd->alarms == alarms && sb->alarms == alarms,
			     1000));
	assert_int_equal(sd->state, want);
	assert_int_equal(sb->state, want);
	assert_int_equal(tdm_span_state(sd->span), want);
	assert_int_equal(tdm_span_alarms(sb->span), alarms);
	assert_true(json_alarms_are(sd->span, json));
	assert_true(json_alarms_are(sb->span, json));
}

/*
 * As deployed: junctiond opens the D-channel, junction-mg the bearer,
 * both against one master; each learns the alarms on its own socket.
 */
static void test_alarms(void **state)
{
	struct side m, sd, sb;
	const struct tdm_span_counters *mc, *bc;
	uint64_t tx0, rx0;
	struct fix f;

	(void)state;
	fix_init(&f);
	side_start(&m, &f, TDM_E1, true, BOTH);
	side_start(&sd, &f, TDM_E1, false, TDM_OPEN_DCHAN);
	side_start(&sb, &f, TDM_E1, false, TDM_OPEN_BEARER);
	assert_true(WAIT_FOR(m.state == TDM_SPAN_UP &&
			     sd.state == TDM_SPAN_UP &&
			     sb.state == TDM_SPAN_UP, 2000));
	mc = tdm_span_counters(m.span);
	bc = tdm_span_counters(sb.span);

	alarm_step(&m, &sd, &sb, TDM_ALARM_LOS, "[\"los\"]");
	/* No signal: the master sends no bearer and no D-channel frame,
	 * and takes none; the slave raises no LOS of its own on top. */
	gw_loop_run_timeout(60);
	tx0 = mc->frames_tx;
	rx0 = bc->frames_rx;
	assert_int_equal(tdm_dchan_send(m.span,
					(const uint8_t *)"\2\1\x7f\0\0", 5), 0);
	assert_int_equal(tdm_dchan_send(sd.span,
					(const uint8_t *)"\0\1\x7f\0\0", 5), 0);
	gw_loop_run_timeout(300);
	assert_int_equal(mc->frames_tx, tx0);
	assert_int_equal(bc->frames_rx, rx0);
	assert_int_equal(m.nframes, 0);
	assert_int_equal(sd.nframes, 0);
	assert_int_equal(sb.alarms, TDM_ALARM_LOS);

	alarm_step(&m, &sd, &sb, TDM_ALARM_AIS, "[\"ais\"]");
	gw_loop_run_timeout(300);
	assert_int_equal(sb.alarms, TDM_ALARM_AIS);
	assert_true(json_alarms_are(sb.span, "[\"ais\"]"));

	/* Yellow alone: ALARM, but frames flow. */
	alarm_step(&m, &sd, &sb, TDM_ALARM_RAI, "[\"rai\"]");
	rx0 = bc->frames_rx;
	gw_loop_run_timeout(200);
	assert_true(bc->frames_rx >= rx0 + 8);
	assert_int_equal(sb.alarms, TDM_ALARM_RAI);

	alarm_step(&m, &sd, &sb, TDM_ALARM_LOS | TDM_ALARM_RAI |
		   TDM_ALARM_LOF, "[\"los\",\"rai\",\"lof\"]");
	alarm_step(&m, &sd, &sb, 0, "[]");

	/* Frames are back, with no sequence jump seen. */
	rx0 = bc->frames_rx;
	gw_loop_run_timeout(200);
	assert_true(bc->frames_rx >= rx0 + 8);
	assert_int_equal(bc->slips, 0);
	assert_int_equal(sb.state, TDM_SPAN_UP);
	assert_int_equal(tdm_dchan_send(sd.span,
					(const uint8_t *)"\0\1\x7f\0\0", 5), 0);
	assert_true(WAIT_FOR(m.nframes == 1, 1000));

	/* A new slave learns the current alarms when it connects. */
	assert_int_equal(tdm_span_send_alarms(m.span, TDM_ALARM_RAI), 0);
	assert_true(WAIT_FOR(sd.alarms == TDM_ALARM_RAI, 1000));
	gw_mem_deref(sd.span);
	side_start(&sd, &f, TDM_E1, false, TDM_OPEN_DCHAN);
	assert_true(WAIT_FOR(sd.nstate > 0 && sd.state == TDM_SPAN_ALARM &&
			     sd.alarms == TDM_ALARM_RAI, 1000));

	gw_mem_deref(sd.span);
	gw_mem_deref(sb.span);
	gw_mem_deref(m.span);
	fix_close(&f);
}

static void test_dchan_block(void **state)
{
	static const uint8_t sabme[] = {0x00, 0x01, 0x7f, 0x00, 0x00};
	static const uint8_t ua[] = {0x00, 0x01, 0x73, 0x00, 0x00};
	struct side m, s;
	struct fix f;

	(void)state;
	fix_init(&f);
	pair_up(&m, &s, &f, TDM_E1);

	tdm_span_dchan_block(m.span, true);
	assert_int_equal(tdm_dchan_send(s.span, sabme, sizeof(sabme)), 0);
	assert_int_equal(tdm_dchan_send(m.span, ua, sizeof(ua)), 0);
	gw_loop_run_timeout(150);
	assert_int_equal(m.nframes, 0);
	assert_int_equal(s.nframes, 0);
	/* The link itself stays: only frames are lost. */
	assert_int_equal(tdm_span_state(s.span), TDM_SPAN_UP);
	assert_true(tdm_dchan_link(s.span));

	tdm_span_dchan_block(m.span, false);
	assert_int_equal(tdm_dchan_send(s.span, sabme, sizeof(sabme)), 0);
	assert_int_equal(tdm_dchan_send(m.span, ua, sizeof(ua)), 0);
	assert_true(WAIT_FOR(m.nframes == 1 && s.nframes == 1, 1000));
	assert_memory_equal(m.frames[0], sabme, sizeof(sabme));
	assert_memory_equal(s.frames[0], ua, sizeof(ua));

	gw_mem_deref(s.span);
	gw_mem_deref(m.span);
	fix_close(&f);
}

/* ---- a raw master: bearer loss, garbage ------------------------------ */

struct raw_master {
	int ld, lb;			/* listening */
	int d, b;			/* the slave */
	struct gw_tmr tmr;
	uint32_t seq;
	unsigned sent, answers, bad_answers;
	uint8_t idle;
};

static void raw_tick(void *arg)
{
	struct raw_master *r = arg;
	uint8_t msg[BEARER_MSG + 1];
	uint32_t seq = htonl(r->seq++);
	ssize_t n;
	size_t i;

	msg[0] = 0x02;
	memcpy(msg + 1, &seq, 4);
	memset(msg + 5, r->idle, BEARER_MSG - 5);
	if (send(r->b, msg, BEARER_MSG, MSG_NOSIGNAL) == BEARER_MSG)
		r->sent++;
	/* The slave answers each frame with one of its own: idle code on
	 * every bearer timeslot, since none is open. */
	while ((n = recv(r->b, msg, sizeof(msg), MSG_DONTWAIT)) > 0) {
		bool ok = n == BEARER_MSG && msg[0] == 0x02;

		for (i = 1; ok && i < TDM_MAX_TS; i++)
			ok = i == 16 || all_idle(msg + 5 + i *
						 TDM_FRAME_SAMPLES, r->idle);
		r->answers++;
		if (!ok)
			r->bad_answers++;
	}
	gw_tmr_start(&r->tmr, TDM_FRAME_MS, raw_tick, r);
}

static void raw_master_open(struct raw_master *r, const struct fix *f)
{
	memset(r, 0, sizeof(*r));
	r->ld = raw_listen(f->dpath);
	r->lb = raw_listen(f->bpath);
	r->d = r->b = -1;
	r->idle = 0xd5;
	gw_tmr_init(&r->tmr);
}

static void raw_master_close(struct raw_master *r)
{
	gw_tmr_cancel(&r->tmr);
	close(r->ld);
	close(r->lb);
	if (r->d >= 0)
		close(r->d);
	if (r->b >= 0)
		close(r->b);
}

static void test_bearer_loss(void **state)
{
	struct raw_master r;
	struct side s;
	struct fix f;
	uint64_t t0, dt;

	(void)state;
	fix_init(&f);
	raw_master_open(&r, &f);
	side_start(&s, &f, TDM_E1, false, BOTH);
	r.d = raw_accept_hello(r.ld);
	r.b = raw_accept_hello(r.lb);
	raw_tick(&r);
	assert_true(WAIT_FOR(s.state == TDM_SPAN_UP, 1000));
	gw_loop_run_timeout(300);
	assert_int_equal(s.state, TDM_SPAN_UP);
	assert_in_range(r.answers, r.sent - 1, r.sent);
	assert_int_equal(r.bad_answers, 0);

	/* The bearer stops while the sockets stay: LOS. */
	gw_tmr_cancel(&r.tmr);
	t0 = gw_now_ms();
	gw_loop_run_timeout(1000);	/* a gap: no alarm yet */
	assert_int_equal(s.state, TDM_SPAN_UP);
	assert_true(WAIT_FOR(s.state == TDM_SPAN_ALARM, 3000));
	dt = gw_now_ms() - t0;
	print_message("LOS after %llu ms\n", (unsigned long long)dt);
	assert_in_range(dt, 2400, 3000);	/* from the last frame */
	assert_int_equal(s.alarms, TDM_ALARM_LOS);
	assert_true(json_alarms_are(s.span, "[\"los\"]"));
	assert_true(tdm_dchan_link(s.span));

	/* It comes back: LOS clears. */
	raw_tick(&r);
	t0 = gw_now_ms();
	assert_true(WAIT_FOR(s.state == TDM_SPAN_UP, 1000));
	assert_true(gw_now_ms() - t0 <= 60);
	assert_int_equal(s.alarms, 0);
	gw_loop_run_timeout(200);
	assert_int_equal(s.state, TDM_SPAN_UP);
	assert_int_equal(tdm_span_counters(s.span)->slips, 0);
	assert_int_equal(tdm_span_counters(s.span)->bad_frames, 0);

	/* A jump in the sequence is a slip of that many frames. */
	r.seq += 3;
	gw_loop_run_timeout(100);
	assert_int_equal(tdm_span_counters(s.span)->slips, 3);

	/* A pause of 300 ms: a gap (no alarm), its frame times counted
	 * when frames come again. */
	gw_tmr_cancel(&r.tmr);
	gw_loop_run_timeout(300);
	assert_int_equal(s.state, TDM_SPAN_UP);
	raw_tick(&r);
	gw_loop_run_timeout(100);
	assert_int_equal(s.state, TDM_SPAN_UP);
	assert_in_range(tdm_span_counters(s.span)->gaps, 13, 20);
	assert_int_equal(tdm_span_counters(s.span)->slips, 3);

	gw_mem_deref(s.span);
	raw_master_close(&r);
	fix_close(&f);
}

static void test_master_gone(void **state)
{
	struct side m, s;
	struct fix f;

	(void)state;
	fix_init(&f);
	pair_up(&m, &s, &f, TDM_E1);
	assert_int_equal(tdm_span_send_alarms(m.span, TDM_ALARM_RAI), 0);
	assert_true(WAIT_FOR(s.state == TDM_SPAN_ALARM, 1000));

	/* pstnsim exits: the slave goes DOWN and forgets its alarms. */
	m.span = gw_mem_deref(m.span);
	assert_true(WAIT_FOR(s.state == TDM_SPAN_DOWN && s.alarms == 0,
			     500));
	assert_false(tdm_dchan_link(s.span));
	assert_int_equal(access(f.dpath, F_OK), -1);
	gw_loop_run_timeout(700);
	assert_int_equal(s.state, TDM_SPAN_DOWN);
	assert_int_equal(tdm_dchan_send(s.span,
					(const uint8_t *)"\0\1\x7f\0\0", 5),
			 ENOTCONN);

	/* A new one appears: the slave finds it by itself. */
	side_start(&m, &f, TDM_E1, true, BOTH);
	assert_true(WAIT_FOR(s.state == TDM_SPAN_UP, 1500));
	assert_int_equal(tdm_span_counters(s.span)->reconnects, 2);
	assert_int_equal(tdm_span_counters(m.span)->reconnects, 0);
	assert_true(WAIT_FOR(tdm_span_counters(s.span)->frames_rx > 3, 500));

	gw_mem_deref(s.span);
	gw_mem_deref(m.span);
	fix_close(&f);
}

/* Garbage into the master, through the listening sockets. */
static void test_bad_input_master(void **state)
{
	uint8_t msg[8000];
	struct side m, s;
	struct fix f;
	unsigned bad = 0, i;
	int d, b;

	(void)state;
	fix_init(&f);
	side_start(&m, &f, TDM_E1, true, BOTH);
	d = raw_connect(f.dpath);
	b = raw_connect(f.bpath);
	assert_true(WAIT_FOR(tdm_dchan_link(m.span), 1000));

	raw_send(d, msg, 0), bad++;			/* empty */
	msg[0] = 0x01;
	raw_send(d, msg, 1), bad++;			/* type only */
	raw_send(d, msg, 5), bad++;			/* 4-byte frame */
	raw_send(d, msg, 1 + TDM_DCHAN_MAX + 1), bad++;	/* oversized */
	msg[0] = 0x7f;
	raw_send(d, msg, 10), bad++;			/* unknown type */
	msg[0] = 0x02;
	raw_send(d, msg, BEARER_MSG), bad++;		/* bearer on D */
	msg[0] = 0x03;
	memset(msg + 1, 0, 4);
	raw_send(d, msg, 5), bad++;			/* alarms to master */
	msg[0] = 0x01;
	raw_send(b, msg, 10), bad++;			/* D on bearer */
	msg[0] = 0x02;
	raw_send(b, msg, BEARER_MSG - 1), bad++;	/* short bearer */
	raw_send(b, msg, BEARER_MSG + 1), bad++;	/* long bearer */
	raw_send(b, msg, sizeof(msg)), bad++;		/* beyond any */
	srand(7);
	for (i = 0; i < 50; i++) {
		size_t len = 1 + (size_t)rand() % 300;
		size_t j;

		for (j = 0; j < len; j++)
			msg[j] = (uint8_t)rand();
		msg[0] = (uint8_t)(0x04 + rand() % 0xf0);
		raw_send(i & 1 ? d : b, msg, len), bad++;
	}
	assert_true(WAIT_FOR(tdm_span_counters(m.span)->bad_frames == bad,
			     2000));
	assert_int_equal(m.nframes, 0);
	assert_int_equal(tdm_span_counters(m.span)->frames_rx, 0);

	/* The master still works: a good frame from the same peer... */
	memcpy(msg, "\x01\x00\x01\x7f\x00\x00", 6);
	raw_send(d, msg, 6);
	assert_true(WAIT_FOR(m.nframes == 1, 1000));
	assert_memory_equal(m.frames[0], msg + 1, 5);

	/* ...and a real slave takes its place. */
	side_start(&s, &f, TDM_E1, false, BOTH);
	assert_true(WAIT_FOR(tdm_span_state(m.span) == TDM_SPAN_UP &&
			     s.state == TDM_SPAN_UP, 2000));
	assert_int_equal(tdm_span_counters(m.span)->reconnects, 2);
	/* The replaced peer sees the end of its connection. */
	assert_true(WAIT_FOR(recv(d, msg, sizeof(msg), MSG_DONTWAIT) == 0,
			     1000));
	assert_int_equal(tdm_span_counters(m.span)->bad_frames, bad);
	assert_int_equal(tdm_dchan_send(m.span,
					(const uint8_t *)"\2\1\x7f\0\0", 5), 0);
	assert_true(WAIT_FOR(s.nframes == 1, 1000));

	close(d);
	close(b);
	gw_mem_deref(s.span);
	gw_mem_deref(m.span);
	fix_close(&f);
}

/* Garbage into the slaves, from a raw master. */
static void test_bad_input_slave(void **state)
{
	static const uint8_t rai[] = {0x03, 0, 0, 0, TDM_ALARM_RAI};
	uint8_t msg[8000];
	struct raw_master r;
	struct side sd, sb;
	struct fix f;
	unsigned bad_d = 0, bad_b = 0;

	(void)state;
	fix_init(&f);
	raw_master_open(&r, &f);
	side_start(&sd, &f, TDM_E1, false, TDM_OPEN_DCHAN);
	side_start(&sb, &f, TDM_E1, false, TDM_OPEN_BEARER);
	r.d = raw_accept_hello(r.ld);
	r.b = raw_accept_hello(r.lb);
	assert_true(WAIT_FOR(sd.state == TDM_SPAN_UP, 1000));

	memset(msg, 0x55, sizeof(msg));
	raw_send(r.d, msg, 0), bad_d++;			/* empty */
	msg[0] = 0x01;
	raw_send(r.d, msg, 3), bad_d++;			/* short frame */
	raw_send(r.d, msg, 1 + TDM_DCHAN_MAX + 1), bad_d++;
	raw_send(r.b, msg, 20), bad_b++;		/* D on bearer */
	msg[0] = 0x02;
	raw_send(r.d, msg, BEARER_MSG), bad_d++;	/* bearer on D */
	raw_send(r.b, msg, 100), bad_b++;		/* short bearer */
	raw_send(r.b, msg, sizeof(msg)), bad_b++;	/* oversized */
	msg[0] = 0x03;
	raw_send(r.d, msg, 4), bad_d++;			/* short alarms */
	raw_send(r.b, msg, 6), bad_b++;			/* long alarms */
	msg[0] = 0x00;
	raw_send(r.d, msg, 33), bad_d++;		/* unknown type */
	msg[0] = 0xff;
	raw_send(r.b, msg, 1), bad_b++;
	raw_send(r.b, msg, 0), bad_b++;
	assert_true(WAIT_FOR(tdm_span_counters(sd.span)->bad_frames == bad_d &&
			     tdm_span_counters(sb.span)->bad_frames == bad_b,
			     2000));
	assert_int_equal(sd.nframes, 0);
	assert_int_equal(tdm_span_counters(sb.span)->frames_rx, 0);
	assert_int_equal(sd.state, TDM_SPAN_UP);

	/* Good messages still pass. */
	raw_send(r.d, rai, sizeof(rai));
	memcpy(msg, "\x01\x02\x01\x7f\x00\x00", 6);
	raw_send(r.d, msg, 6);
	assert_true(WAIT_FOR(sd.nframes == 1 &&
			     sd.state == TDM_SPAN_ALARM, 1000));
	assert_int_equal(sd.alarms, TDM_ALARM_RAI);
	assert_memory_equal(sd.frames[0], msg + 1, 5);
	assert_true(tdm_dchan_link(sd.span));

	gw_mem_deref(sd.span);
	gw_mem_deref(sb.span);
	raw_master_close(&r);
	fix_close(&f);
}

static void test_stale_socket(void **state)
{
	struct tdm_span_conf c;
	struct tdm_span *m2;
	struct side m, s;
	struct fix f;

	(void)state;
	fix_init(&f);
	/* A master that died left its socket files behind. */
	make_stale_socket(f.dpath);
	make_stale_socket(f.bpath);
	pair_up(&m, &s, &f, TDM_E1);

	/* A second master may not take a live master's paths, and its
	 * probe disturbs nobody. */
	conf_init(&c, &f, TDM_E1, true);
	assert_int_equal(tdm_span_alloc(&m2, &c, NULL, NULL), 0);
	assert_int_equal(tdm_span_start(m2, BOTH), EADDRINUSE);
	gw_mem_deref(m2);
	gw_loop_run_timeout(100);
	assert_int_equal(access(f.dpath, F_OK), 0);
	assert_int_equal(s.state, TDM_SPAN_UP);
	assert_int_equal(tdm_span_counters(m.span)->reconnects, 0);
	assert_int_equal(tdm_span_counters(s.span)->reconnects, 0);
	assert_int_equal(tdm_dchan_send(s.span,
					(const uint8_t *)"\0\1\x7f\0\0", 5), 0);
	assert_true(WAIT_FOR(m.nframes == 1, 1000));

	gw_mem_deref(s.span);
	gw_mem_deref(m.span);
	fix_close(&f);
}

static void check_json(const struct tdm_span *span, const char *type,
		       const char *st, int total, int in_use)
{
	static const char *const counters[] = {
		"slips", "gaps", "bad_frames", "frames_rx", "frames_tx",
		"crc_errors", "bpv", "dchan_rx", "dchan_tx", "reconnects",
	};
	json_t *j = tdm_span_json(span), *o;
	size_t i;

	assert_non_null(j);
	assert_true(json_is_object(j));
	assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    type);
	assert_string_equal(json_string_value(json_object_get(j, "state")),
			    st);
	assert_true(json_is_array(json_object_get(j, "alarms")));
	o = json_object_get(j, "channels");
	assert_true(json_is_object(o));
	assert_int_equal(json_integer_value(json_object_get(o, "total")),
			 total);
	assert_int_equal(json_integer_value(json_object_get(o, "in_use")),
			 in_use);
	o = json_object_get(j, "counters");
	assert_true(json_is_object(o));
	assert_int_equal(json_object_size(o), GW_ARRAY_SIZE(counters));
	for (i = 0; i < GW_ARRAY_SIZE(counters); i++)
		assert_true(json_is_integer(json_object_get(o, counters[i])));
	assert_null(json_object_get(j, "signalling"));
	json_decref(j);
}

static void test_json(void **state)
{
	struct tdm_span_conf c;
	struct tdm_span *t1;
	struct side m, s;
	struct fix f;
	json_t *a;
	char *txt;

	(void)state;
	fix_init(&f);
	side_alloc(&s, &f, TDM_E1, false);
	check_json(s.span, "e1", "down", 30, 0);
	side_start(&m, &f, TDM_E1, true, BOTH);
	assert_int_equal(tdm_span_start(s.span, BOTH), 0);
	assert_true(WAIT_FOR(s.state == TDM_SPAN_UP, 2000));
	check_json(s.span, "e1", "up", 30, 0);
	tdm_chan_set_state(tdm_span_chan(s.span, 1), TDM_CHAN_IN_USE);
	tdm_chan_set_state(tdm_span_chan(s.span, 31), TDM_CHAN_IN_USE);
	tdm_chan_set_state(tdm_span_chan(s.span, 2), TDM_CHAN_RESERVED);
	tdm_chan_set_state(tdm_span_chan(s.span, 3), TDM_CHAN_BLOCKED);
	check_json(s.span, "e1", "up", 30, 2);
	assert_int_equal(tdm_span_send_alarms(m.span, TDM_ALARM_AIS), 0);
	assert_true(WAIT_FOR(s.state == TDM_SPAN_ALARM, 1000));
	check_json(s.span, "e1", "alarm", 30, 2);

	conf_init(&c, &f, TDM_T1, false);
	c.id = 1;
	assert_int_equal(tdm_span_alloc(&t1, &c, NULL, NULL), 0);
	check_json(t1, "t1", "down", 23, 0);
	gw_mem_deref(t1);

	assert_string_equal(tdm_span_state_name(TDM_SPAN_DOWN), "down");
	assert_string_equal(tdm_span_state_name(TDM_SPAN_ALARM), "alarm");
	assert_string_equal(tdm_span_state_name(TDM_SPAN_UP), "up");
	a = tdm_alarms_json(TDM_ALARM_LOS | TDM_ALARM_AIS | TDM_ALARM_RAI |
			    TDM_ALARM_LOF);
	txt = json_dumps(a, JSON_COMPACT);
	assert_string_equal(txt, "[\"los\",\"ais\",\"rai\",\"lof\"]");
	free(txt);
	json_decref(a);

	gw_mem_deref(s.span);
	gw_mem_deref(m.span);
	fix_close(&f);
}

/* ---- handlers that free their span ------------------------------------ */

struct killer {
	struct tdm_span *span;
	unsigned calls, after;
	bool freed;
};

static void kill_frame(struct tdm_chan *ch, const uint8_t *rx, uint8_t *tx,
		       void *arg)
{
	struct killer *k = arg;

	(void)rx;
	(void)tx;
	assert_false(k->freed);
	assert_ptr_equal(tdm_chan_span(ch), k->span);
	if (++k->calls == k->after) {
		k->span = gw_mem_deref(k->span);
		k->freed = true;
	}
}

static void kill_tick(struct tdm_span *span, void *arg)
{
	struct killer *k = arg;

	(void)span;
	assert_false(k->freed);	/* never after the owner let go */
}

static void test_free_from_handler(void **state)
{
	struct killer km, ks;
	struct side m, s, s2;
	struct fix f;

	(void)state;
	fix_init(&f);

	/* The state handler frees the slave when it comes UP. */
	side_start(&m, &f, TDM_E1, true, BOTH);
	side_alloc(&s, &f, TDM_E1, false);
	s.free_on_up = true;
	assert_int_equal(tdm_span_start(s.span, BOTH), 0);
	assert_true(WAIT_FOR(s.span == NULL, 2000));
	assert_true(WAIT_FOR(tdm_span_state(m.span) == TDM_SPAN_DOWN, 1000));

	/* A channel handler frees the slave in the middle of a tick, the
	 * master's in the middle of its clock tick. */
	side_start(&s2, &f, TDM_E1, false, BOTH);
	memset(&ks, 0, sizeof(ks));
	ks.span = s2.span;
	ks.after = 30 * 3 + 7;
	memset(&km, 0, sizeof(km));
	km.span = m.span;
	km.after = 30 * 6 + 3;
	for (unsigned ts = 1; ts < TDM_MAX_TS; ts++) {
		if (ts == 16)
			continue;
		assert_int_equal(tdm_chan_open(tdm_span_chan(s2.span, ts),
					       kill_frame, &ks), 0);
		assert_int_equal(tdm_chan_open(tdm_span_chan(m.span, ts),
					       kill_frame, &km), 0);
	}
	tdm_span_set_tick_handler(s2.span, kill_tick, &ks);
	tdm_span_set_tick_handler(m.span, kill_tick, &km);
	assert_true(WAIT_FOR(ks.freed, 2000));
	assert_int_equal(ks.calls, ks.after);
	assert_true(WAIT_FOR(km.freed, 2000));
	assert_int_equal(km.calls, km.after);
	gw_loop_run_timeout(100);
	fix_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_link_up),
		UNIT_TEST(test_chan_map_e1),
		UNIT_TEST(test_chan_map_t1),
		UNIT_TEST(test_chan_api),
		UNIT_TEST(test_conf_errors),
		UNIT_TEST(test_dchan_frames),
		UNIT_TEST(test_bearer_e1),
		UNIT_TEST(test_bearer_t1),
		UNIT_TEST(test_master_late),
		UNIT_TEST(test_alarms),
		UNIT_TEST(test_dchan_block),
		UNIT_TEST(test_bearer_loss),
		UNIT_TEST(test_master_gone),
		UNIT_TEST(test_bad_input_master),
		UNIT_TEST(test_bad_input_slave),
		UNIT_TEST(test_stale_socket),
		UNIT_TEST(test_json),
		UNIT_TEST(test_free_from_handler),
	};

	gw_log_set_levels("warn");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
