/* tests/unit/test_media_stream.c - RTP streams: audio, jitter buffer,
 * RFC 4733, SSRC changes, latching, bad input, timeouts, SRTP, ports */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"
#include "batch.h"
#include "media.h"

#define FRAME	160
#define MAXLOG	2048

/* ---- what a receiver saw ------------------------------------------------ */

struct rxlog {
	int idx[MAXLOG];	/* frame index per tick; -1 lost; -2 nothing */
	uint8_t tag[MAXLOG];
	bool marker[MAXLOG];
	uint32_t ts[MAXLOG];
	unsigned samples[MAXLOG];
	unsigned n;
	unsigned corrupt;
};

struct digits {
	char start[32], end[32];
	unsigned nstart, nend;
	unsigned ms[32];
};

struct side {
	struct media_stream *s;
	struct rxlog log;
	struct digits dig;
	unsigned timeouts;
	bool send;		/* send a frame every tick */
	bool muted;		/* send a gap instead */
	unsigned k;		/* next frame index */
	uint8_t tag;
	const char *digit;	/* send this digit for ndigit ticks */
	unsigned ndigit;
};

static void fill(uint8_t *p, size_t len, unsigned k, uint8_t tag)
{
	size_t i;

	p[0] = tag;
	p[1] = (uint8_t)(k >> 8);
	p[2] = (uint8_t)k;
	for (i = 3; i < len; i++)
		p[i] = (uint8_t)(k * 31 + i * 7 + tag);
}

/* The frame index in p, or -1 when p is not an intact frame. */
static int frame_of(const uint8_t *p, size_t len, uint8_t *tagp)
{
	unsigned k;
	size_t i;

	if (len != FRAME)
		return -1;
	k = (unsigned)p[1] << 8 | p[2];
	for (i = 3; i < len; i++)
		if (p[i] != (uint8_t)(k * 31 + i * 7 + p[0]))
			return -1;
	*tagp = p[0];
	return (int)k;
}

static void log_rx(struct rxlog *l, const uint8_t *buf,
		   const struct media_stream_frame *f)
{
	unsigned i = l->n;

	if (i == MAXLOG)
		return;
	l->n++;
	l->marker[i] = f->marker;
	l->ts[i] = f->ts;
	l->samples[i] = f->samples;
	if (f->len) {
		l->idx[i] = frame_of(buf, f->len, &l->tag[i]);
		if (l->idx[i] < 0)
			l->corrupt++;
	} else {
		l->idx[i] = f->lost ? -1 : -2;
	}
}

static void on_digit(char digit, bool end, unsigned ms, void *arg)
{
	struct side *sd = arg;
	struct digits *d = &sd->dig;

	if (end) {
		if (d->nend < 31) {
			d->ms[d->nend] = ms;
			d->end[d->nend++] = digit;
		}
	} else if (d->nstart < 31) {
		d->start[d->nstart++] = digit;
	}
}

static void on_timeout(void *arg)
{
	((struct side *)arg)->timeouts++;
}

/* media_stream_tx, and the packet gone: a batching thread submits its
 * sends when its loop turn is over, and the other end here reads in the
 * same turn. */
static int stream_tx(struct media_stream *s, const uint8_t *payload,
		     size_t len, unsigned samples)
{
	int err = media_stream_tx(s, payload, len, samples);

	media_batch_flush(media_batch_self());
	return err;
}

/* ---- a loop that ticks ------------------------------------------------- */

struct runner {
	struct gw_tmr tmr;
	unsigned tick, nticks, period;
	void (*fn)(void *ctx, unsigned tick);
	void *ctx;
};

static void run_tick(void *arg)
{
	struct runner *r = arg;

	r->fn(r->ctx, r->tick);
	if (++r->tick == r->nticks)
		gw_loop_stop();
	else
		gw_tmr_start(&r->tmr, r->period, run_tick, r);
}

/* nticks calls of fn, period_ms apart (20: real time; 1: as fast as the
 * sockets go, which the jitter buffer does not mind: it runs on the
 * ticks' timestamps, not on the wall clock). */
static void run(unsigned nticks, unsigned period_ms,
		void (*fn)(void *ctx, unsigned tick), void *ctx)
{
	struct runner r = { .nticks = nticks, .period = period_ms,
			    .fn = fn, .ctx = ctx };

	gw_tmr_init(&r.tmr);
	gw_tmr_start(&r.tmr, period_ms, run_tick, &r);
	assert_int_equal(gw_loop_run_timeout(nticks * (period_ms + 5) +
					     5000), 0);
	gw_tmr_cancel(&r.tmr);
}

static void side_tick(struct side *sd)
{
	uint8_t buf[2048], out[FRAME];
	struct media_stream_frame f;

	assert_int_equal(media_stream_rx(sd->s, buf, sizeof(buf), &f), 0);
	log_rx(&sd->log, buf, &f);
	if (sd->digit && sd->ndigit) {
		assert_int_equal(media_stream_send_event(sd->s, *sd->digit,
							 sd->ndigit == 1), 0);
		sd->ndigit--;
		assert_int_equal(stream_tx(sd->s, NULL, 0, FRAME), 0);
		return;
	}
	if (!sd->send) {
		assert_int_equal(stream_tx(sd->s, NULL, 0, 0), 0);
		return;
	}
	if (sd->muted) {
		assert_int_equal(stream_tx(sd->s, NULL, 0, FRAME), 0);
		return;
	}
	fill(out, FRAME, sd->k++, sd->tag);
	assert_int_equal(stream_tx(sd->s, out, FRAME, FRAME), 0);
}

struct pair {
	struct side a, b;
};

static void pair_tick(void *ctx, unsigned tick)
{
	struct pair *p = ctx;

	(void)tick;
	side_tick(&p->a);
	side_tick(&p->b);
}

/* ---- set-up ------------------------------------------------------------- */

static uint16_t next_base;

/* A stream conf on its own 100-port range, cycling through 20000-29999:
 * below the kernel's ephemeral ports (32768-60999) and the 30000-32767
 * that tests/integration/mediaprobe uses, so that tests running side by
 * side never meet. */
static void conf_init(struct media_stream_conf *c, const char *ip)
{
	/* Start where the pid says, so that two runs at once (two build
	 * trees) rarely share ports. */
	if (!next_base)
		next_base = (uint16_t)(20000 + (getpid() % 50) * 100);
	memset(c, 0, sizeof(*c));
	c->local_ip = ip;
	c->port_min = next_base;
	c->port_max = (uint16_t)(next_base + 99);
	next_base = (uint16_t)(next_base + 100);
	if (next_base >= 30000)
		next_base = 20000;
	c->pt = 8;
	c->clock = 8000;
	c->ptime = 20;
	c->te_pt = 101;
	c->jb_nominal_ms = 60;
	c->symmetric = true;
	c->dir = MEDIA_DIR_SENDRECV;
}

static void side_open(struct side *sd, const struct media_stream_conf *c,
		      uint8_t tag)
{
	memset(sd, 0, sizeof(*sd));
	sd->tag = tag;
	assert_int_equal(media_stream_alloc(&sd->s, c, on_digit, on_timeout,
					    sd), 0);
}

/* Two streams on ip that talk to each other. */
static void pair_open(struct pair *p, const char *ip,
		      struct media_stream_conf *ca,
		      struct media_stream_conf *cb)
{
	side_open(&p->a, ca, 0xa0);
	side_open(&p->b, cb, 0xb0);
	assert_int_equal(media_stream_set_remote(p->a.s, ip,
			 media_stream_port(p->b.s), 0), 0);
	assert_int_equal(media_stream_set_remote(p->b.s, ip,
			 media_stream_port(p->a.s), 0), 0);
	p->a.send = p->b.send = true;
}

static void pair_close(struct pair *p)
{
	p->a.s = gw_mem_deref(p->a.s);
	p->b.s = gw_mem_deref(p->b.s);
}

/* The second run of every test: the streams' socket I/O batched
 * through io_uring, submitted before the loop waits, as on a media
 * worker (media/batch.c). */
static bool batched;

static void loop_begin(void)
{
	int err;

	if (gw_loop_self()) {	/* left over by a test that failed */
		media_batch_disable();
		gw_loop_close();
	}
	assert_int_equal(gw_loop_init(), 0);
	if (!batched)
		return;
	err = media_batch_enable();
	if (err == ENOSYS || err == EPERM || err == ENOTSUP ||
	    err == ENOMEM) {
		print_message("no io_uring here (%s)\n", strerror(err));
		skip();
	}
	assert_int_equal(err, 0);
}

static void loop_end(void)
{
	media_batch_disable();
	gw_loop_close();
}

/* Frames came out in order, intact, each once; how many ticks were
 * concealed between the first and the last frame. */
static unsigned check_order(const struct rxlog *l, uint8_t tag,
			    unsigned *framesp, int *lastp)
{
	int last = -1;
	unsigned i, frames = 0, lost = 0, lost_run = 0;

	assert_int_equal(l->corrupt, 0);
	for (i = 0; i < l->n; i++) {
		if (l->idx[i] == -1) {
			if (last >= 0)
				lost_run++;
			continue;
		}
		if (l->idx[i] < 0)
			continue;
		assert_int_equal(l->tag[i], tag);
		assert_true(l->idx[i] > last);
		last = l->idx[i];
		frames++;
		lost += lost_run;
		lost_run = 0;
	}
	*framesp = frames;
	if (lastp)
		*lastp = last;
	return lost;
}

/* ---- a misbehaving peer: a raw UDP socket -------------------------------- */

struct raw {
	int fd;
	uint16_t port;
	struct sockaddr_storage to;
	socklen_t tolen;
};

static void raw_open(struct raw *r, const char *ip, uint16_t to_port)
{
	struct sockaddr_storage a;
	socklen_t alen;

	memset(r, 0, sizeof(*r));
	memset(&a, 0, sizeof(a));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a;

		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		alen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a;

		s4->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &s4->sin_addr);
		alen = sizeof(*s4);
	}
	r->fd = socket(a.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(r->fd >= 0);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&a, alen), 0);
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)&a, &alen), 0);
	r->port = ntohs(((struct sockaddr_in *)&a)->sin_port);
	r->to = a;
	r->tolen = alen;
	((struct sockaddr_in *)&r->to)->sin_port = htons(to_port);
}

static void raw_to(struct raw *r, uint16_t port)
{
	((struct sockaddr_in *)&r->to)->sin_port = htons(port);
}

static void raw_send(struct raw *r, const void *p, size_t len)
{
	assert_int_equal(sendto(r->fd, p, len, 0, (struct sockaddr *)&r->to,
				r->tolen), (ssize_t)len);
}

/* An RTP packet: header, payload (frame k of tag, or given bytes). */
static size_t rtp_build(uint8_t *p, uint8_t pt, bool marker, uint16_t seq,
			uint32_t ts, uint32_t ssrc)
{
	p[0] = 0x80;
	p[1] = (uint8_t)(pt | (marker ? 0x80 : 0));
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[4] = (uint8_t)(ts >> 24);
	p[5] = (uint8_t)(ts >> 16);
	p[6] = (uint8_t)(ts >> 8);
	p[7] = (uint8_t)ts;
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
	return 12;
}

static void raw_frame(struct raw *r, uint16_t seq, uint32_t ts,
		      uint32_t ssrc, unsigned k, uint8_t tag)
{
	uint8_t p[12 + FRAME];

	rtp_build(p, 8, false, seq, ts, ssrc);
	fill(p + 12, FRAME, k, tag);
	raw_send(r, p, sizeof(p));
}

static ssize_t raw_recv(struct raw *r, uint8_t *p, size_t size)
{
	return recv(r->fd, p, size, MSG_DONTWAIT);
}

/* ---- tests ----------------------------------------------------------- */

/* PCMA frames both ways at 20 ms, real time: in order, intact, none lost,
 * marker only on the first, timestamps a frame apart; RTCP both ways with
 * a round trip. */
static void test_pcma_both_ways(void **state)
{
	struct media_stream_conf ca, cb;
	struct media_stream_stats sa, sb;
	struct pair p;
	unsigned frames, i, first = 0;
	int last;

	(void)state;
	loop_begin();
	conf_init(&ca, "127.0.0.1");
	conf_init(&cb, "127.0.0.1");
	ca.rtcp_interval_ms = cb.rtcp_interval_ms = 200;
	pair_open(&p, "127.0.0.1", &ca, &cb);
	assert_int_equal(media_stream_port(p.a.s) % 2, 0);
	assert_int_equal(media_stream_rtcp_port(p.a.s),
			 media_stream_port(p.a.s) + 1);
	run(75, MEDIA_TICK_MS, pair_tick, &p);

	assert_int_equal(check_order(&p.b.log, 0xa0, &frames, &last), 0);
	assert_true(frames >= 65);
	assert_int_equal(check_order(&p.a.log, 0xb0, &frames, NULL), 0);
	assert_true(frames >= 65);
	for (i = 0; i < p.b.log.n && p.b.log.idx[i] < 0; i++)
		;
	first = i;
	assert_true(first <= 5);	/* 60 ms of buffer, and a tick */
	assert_int_equal(p.b.log.idx[first], 0);
	assert_true(p.b.log.marker[first]);
	for (i = first + 1; i < p.b.log.n; i++) {
		assert_int_equal(p.b.log.idx[i], p.b.log.idx[i - 1] + 1);
		assert_false(p.b.log.marker[i]);
		assert_int_equal(p.b.log.ts[i] - p.b.log.ts[i - 1], FRAME);
		assert_int_equal(p.b.log.samples[i], FRAME);
	}
	media_stream_stats(p.a.s, &sa);
	media_stream_stats(p.b.s, &sb);
	assert_int_equal(sa.tx_packets, 75);
	/* Both ends share a thread here.  Batched, a's read ahead read b's
	 * socket in the tick before a sent: b plays a's packets a tick
	 * later, and a's last is still in b's socket. */
	assert_int_equal(sb.rx_packets, batched ? 74 : 75);
	assert_int_equal(sb.lost, 0);
	assert_int_equal(sb.discarded, 0);
	assert_int_equal(sb.concealed, 0);
	assert_true(sb.jitter_ms < 10.0);
	assert_int_equal(sb.rx_ssrc, sa.tx_ssrc);
	assert_true(sa.rtcp_rx > 0 && sb.rtcp_rx > 0);
	assert_true(sa.rtcp_tx > 0 && sb.rtcp_tx > 0);
	/* RTCP sockets are read only every 5 ticks here (100 ms), but the
	 * round trip counts from arrival, both ways: ours from the kernel's
	 * stamp, the peer's from our DLSR, counted from the stamp of its SR
	 * to our report's sending.  Counted from the reads, a report built
	 * in the call that reads the SR would be up to 100 ms long; on
	 * loopback the true figure is well under a millisecond. */
	assert_true(sa.rtt_ms >= 0.0 && sa.rtt_ms < 15.0);
	assert_true(sb.rtt_ms >= 0.0 && sb.rtt_ms < 15.0);
	assert_true(sa.remote_fraction_lost == 0.0 && sa.remote_lost == 0);
	assert_true(sa.remote_jitter_ms < 10.0);
	assert_true(sb.latched);

	/* a's RTCP BYE as it goes: a valid compound for b, read within
	 * b's RTCP read period (a fifth of its 200 ms interval: 2 ticks,
	 * at least 5) */
	p.a.s = gw_mem_deref(p.a.s);
	for (i = 0; i < 6; i++) {
		uint8_t buf[2048];
		struct media_stream_frame f;

		assert_int_equal(media_stream_rx(p.b.s, buf, sizeof(buf), &f),
				 0);
	}
	media_stream_stats(p.b.s, &sa);
	/* (a report of a's that b had not read yet may come with it) */
	assert_true(sa.rtcp_rx >= sb.rtcp_rx + 1);
	assert_int_equal(sa.rtcp_bad, 0);
	pair_close(&p);
	loop_end();
}

/* The same over IPv6 loopback, as fast as it goes. */
static void test_ipv6(void **state)
{
	struct media_stream_conf ca, cb;
	struct media_stream_stats sb;
	struct pair p;
	unsigned frames;
	int fd;
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };

	(void)state;
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	a.sin6_addr = in6addr_loopback;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		skip();
	}
	close(fd);
	loop_begin();
	conf_init(&ca, "::1");
	conf_init(&cb, "::1");
	pair_open(&p, "::1", &ca, &cb);
	assert_int_equal(media_stream_set_remote(p.a.s, "127.0.0.1", 5000, 0),
			 EAFNOSUPPORT);
	run(40, 1, pair_tick, &p);
	assert_int_equal(check_order(&p.b.log, 0xa0, &frames, NULL), 0);
	assert_true(frames >= 35);
	assert_int_equal(check_order(&p.a.log, 0xb0, &frames, NULL), 0);
	assert_true(frames >= 35);
	media_stream_stats(p.b.s, &sb);
	assert_true(sb.latched);
	assert_non_null(strstr(sb.latched_addr, "[::1]:"));
	pair_close(&p);
	loop_end();
}

/* A sender that reorders, duplicates and loses 5 %. */
struct jb_ctx {
	struct side b;
	struct raw r;
	unsigned nframes;
	bool drop[400];
	unsigned ndropped, ndups;
};

#define JB_SSRC 0x11223344u
#define JB_SEQ0 65500		/* wraps during the test */

static void jb_send(struct jb_ctx *c, unsigned k)
{
	raw_frame(&c->r, (uint16_t)(JB_SEQ0 + k), 1000 + k * FRAME, JB_SSRC,
		  k, 0xc0);
}

static void jb_tick(void *ctx, unsigned tick)
{
	struct jb_ctx *c = ctx;
	uint8_t buf[2048];
	struct media_stream_frame f;
	unsigned k = tick;

	if (k < c->nframes) {
		if (k % 7 == 3 && k + 1 < c->nframes) {
			/* k+1 overtakes k */
			if (!c->drop[k + 1])
				jb_send(c, k + 1);
			if (!c->drop[k])
				jb_send(c, k);
		} else if (k % 7 != 4) {
			if (!c->drop[k])
				jb_send(c, k);
		}
		if (k % 11 == 5 && !c->drop[k]) {
			jb_send(c, k);		/* at once */
			c->ndups++;
		}
		if (k >= 2 && k % 13 == 0 && !c->drop[k - 2]) {
			jb_send(c, k - 2);	/* 40 ms late, a copy */
			c->ndups++;
		}
	}
	assert_int_equal(media_stream_rx(c->b.s, buf, sizeof(buf), &f), 0);
	log_rx(&c->b.log, buf, &f);
	assert_int_equal(stream_tx(c->b.s, NULL, 0, FRAME), 0);
}

static void jitter_buffer(bool adaptive)
{
	static struct jb_ctx c;
	struct media_stream_conf cb;
	struct media_stream_stats sb;
	unsigned frames, lost, k, seed = 12345;
	int last;

	loop_begin();
	memset(&c, 0, sizeof(c));
	c.nframes = 300;
	for (k = 10; k < c.nframes - 10; k++) {
		seed = seed * 1103515245u + 12345u;
		if ((seed >> 16) % 100 < 5) {
			c.drop[k] = true;
			c.ndropped++;
		}
	}
	assert_true(c.ndropped >= 8);
	conf_init(&cb, "127.0.0.1");
	cb.jb_adaptive = adaptive;
	side_open(&c.b, &cb, 0xb0);
	raw_open(&c.r, "127.0.0.1", media_stream_port(c.b.s));
	run(c.nframes + 10, 1, jb_tick, &c);

	lost = check_order(&c.b.log, 0xc0, &frames, &last);
	assert_int_equal(last, (int)c.nframes - 1);
	assert_int_equal(frames, c.nframes - c.ndropped);
	/* ortp follows the sender's clock offset even with a fixed buffer,
	 * and early and late packets move its estimate: the playout point
	 * may slide by a tick, which costs or saves one concealed tick. */
	assert_true(lost + 2 >= c.ndropped && lost <= c.ndropped + 2);
	media_stream_stats(c.b.s, &sb);
	assert_int_equal(sb.lost, c.ndropped);
	assert_true(sb.concealed >= lost);
	assert_int_equal(sb.discarded, c.ndups);
	assert_int_equal(sb.jumps, 0);
	assert_int_equal(sb.rx_packets, c.nframes - c.ndropped);
	close(c.r.fd);
	c.b.s = gw_mem_deref(c.b.s);
	loop_end();
}

static void test_jitter_buffer(void **state)
{
	(void)state;
	jitter_buffer(false);
}

static void test_jitter_buffer_adaptive(void **state)
{
	(void)state;
	jitter_buffer(true);
}

/* RFC 4733 both ways: each digit once at its start and once at its end,
 * with its duration, however many end packets arrive. */
static void dtmf_tick(void *ctx, unsigned tick)
{
	struct pair *p = ctx;

	if (tick == 10) {
		p->a.digit = "5";
		p->a.ndigit = 5;	/* 100 ms */
		p->b.digit = "#";
		p->b.ndigit = 8;	/* 160 ms */
	}
	if (tick == 30) {
		p->a.digit = "5";	/* the same digit again */
		p->a.ndigit = 3;
	}
	if (tick == 34) {		/* right after: no gap for repeats */
		p->a.digit = "D";
		p->a.ndigit = 4;
	}
	pair_tick(ctx, tick);
}

static void test_dtmf_both_ways(void **state)
{
	struct media_stream_conf ca, cb;
	struct media_stream_stats sa, sb;
	struct pair p;

	(void)state;
	loop_begin();
	conf_init(&ca, "127.0.0.1");
	conf_init(&cb, "127.0.0.1");
	pair_open(&p, "127.0.0.1", &ca, &cb);
	run(70, 1, dtmf_tick, &p);

	assert_int_equal(p.b.dig.nstart, 3);
	assert_int_equal(p.b.dig.nend, 3);
	assert_memory_equal(p.b.dig.start, "55D", 3);
	assert_memory_equal(p.b.dig.end, "55D", 3);
	assert_int_equal(p.b.dig.ms[0], 100);
	assert_int_equal(p.b.dig.ms[1], 60);
	assert_int_equal(p.b.dig.ms[2], 80);
	assert_int_equal(p.a.dig.nstart, 1);
	assert_int_equal(p.a.dig.nend, 1);
	assert_int_equal(p.a.dig.start[0], '#');
	assert_int_equal(p.a.dig.ms[0], 160);
	media_stream_stats(p.a.s, &sa);
	media_stream_stats(p.b.s, &sb);
	assert_int_equal(sa.events_tx, 3);
	assert_int_equal(sb.events_rx, 3);
	assert_int_equal(sb.events_tx, 1);
	assert_int_equal(sa.events_rx, 1);
	assert_int_equal(sb.lost, 0);
	assert_int_equal(sa.lost, 0);
	assert_int_equal(sb.jumps, 0);
	assert_int_equal(media_stream_send_event(p.a.s, 'x', false), EINVAL);
	pair_close(&p);
	loop_end();
}

/* What an RFC 4733 sender puts on the wire, seen by a raw socket. */
static void test_dtmf_wire(void **state)
{
	struct media_stream_conf c;
	struct media_stream *s;
	struct raw r;
	uint8_t p[256];
	uint16_t seq[8];
	unsigned n = 0, i;
	uint32_t ts0 = 0;
	ssize_t len;

	(void)state;
	loop_begin();
	conf_init(&c, "127.0.0.1");
	assert_int_equal(media_stream_alloc(&s, &c, NULL, NULL, NULL), 0);
	raw_open(&r, "127.0.0.1", media_stream_port(s));
	assert_int_equal(media_stream_set_remote(s, "127.0.0.1", r.port, 0),
			 0);
	for (i = 0; i < 6; i++) {
		if (i < 3)
			assert_int_equal(media_stream_send_event(s, '7',
								 i == 2), 0);
		assert_int_equal(stream_tx(s, NULL, 0, FRAME), 0);
	}
	while ((len = raw_recv(&r, p, sizeof(p))) > 0) {
		uint32_t ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
			(uint32_t)p[6] << 8 | p[7];

		assert_int_equal(len, 16);
		assert_int_equal(p[1] & 0x7f, 101);
		assert_int_equal(p[12], 7);
		if (n == 0)
			ts0 = ts;
		assert_int_equal(ts, ts0);		/* the event's start */
		assert_int_equal(!!(p[1] & 0x80), n == 0);	/* marker */
		assert_int_equal(!!(p[13] & 0x80), n >= 2);	/* E bit */
		assert_int_equal((p[14] << 8 | p[15]),
				 n < 2 ? (n + 1) * FRAME : 3 * FRAME);
		seq[n++] = (uint16_t)(p[2] << 8 | p[3]);
		assert_true(n <= 5);
	}
	assert_int_equal(n, 5);		/* 2 updates, the end 3 times */
	for (i = 1; i < n; i++)
		assert_int_equal((uint16_t)(seq[i] - seq[i - 1]), 1);

	/* Audio after the digit (6 ticks muted): the marker, a timestamp
	 * that went on through the gap, the next sequence number. */
	for (i = 0; i < 2; i++) {
		uint8_t out[FRAME];
		uint32_t ts;

		fill(out, FRAME, i, 0x11);
		assert_int_equal(stream_tx(s, out, FRAME, FRAME), 0);
		assert_int_equal(raw_recv(&r, p, sizeof(p)), 12 + FRAME);
		ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
			(uint32_t)p[6] << 8 | p[7];
		assert_int_equal(p[1] & 0x7f, 8);
		assert_int_equal(!!(p[1] & 0x80), i == 0);
		assert_int_equal(ts - ts0, (6 + i) * FRAME);
		assert_int_equal((uint16_t)(p[2] << 8 | p[3]),
				 (uint16_t)(seq[4] + 1 + i));
		assert_memory_equal(p + 12, out, FRAME);
	}
	close(r.fd);
	gw_mem_deref(s);
	loop_end();
}

/* The peer changes SSRC (and sequence, and timestamps): followed within a
 * few frames. */
struct ssrc_ctx {
	struct side b;
	struct raw r;
	unsigned switch_tick, first_y_tick;
};

static void ssrc_tick(void *ctx, unsigned tick)
{
	struct ssrc_ctx *c = ctx;
	uint8_t buf[2048];
	struct media_stream_frame f;

	if (tick < c->switch_tick)
		raw_frame(&c->r, (uint16_t)(100 + tick), 5000 + tick * FRAME,
			  0xaaaa0001u, tick, 0xd0);
	else if (tick < 100)
		raw_frame(&c->r, (uint16_t)(40000 + tick),
			  900000000u + tick * FRAME, 0xbbbb0002u, tick, 0xd1);
	assert_int_equal(media_stream_rx(c->b.s, buf, sizeof(buf), &f), 0);
	log_rx(&c->b.log, buf, &f);
	if (f.len && c->b.log.tag[c->b.log.n - 1] == 0xd1 && !c->first_y_tick)
		c->first_y_tick = tick;
	assert_int_equal(stream_tx(c->b.s, NULL, 0, FRAME), 0);
}

static void test_ssrc_change(void **state)
{
	static struct ssrc_ctx c;
	struct media_stream_conf cb;
	struct media_stream_stats sb;
	unsigned i;
	int last = -1;
	bool seen_y = false;

	(void)state;
	loop_begin();
	memset(&c, 0, sizeof(c));
	c.switch_tick = 50;
	conf_init(&cb, "127.0.0.1");
	side_open(&c.b, &cb, 0xb0);
	raw_open(&c.r, "127.0.0.1", media_stream_port(c.b.s));
	run(110, 1, ssrc_tick, &c);

	assert_true(c.first_y_tick > c.switch_tick);
	assert_true(c.first_y_tick - c.switch_tick <= 6);
	assert_int_equal(c.b.log.corrupt, 0);
	for (i = 0; i < c.b.log.n; i++) {
		if (c.b.log.idx[i] < 0)
			continue;
		if (c.b.log.tag[i] == 0xd1)
			seen_y = true;
		else
			assert_false(seen_y);	/* no old frame after */
		assert_true(c.b.log.idx[i] > last);
		last = c.b.log.idx[i];
	}
	assert_int_equal(last, 99);
	media_stream_stats(c.b.s, &sb);
	assert_int_equal(sb.ssrc_changes, 1);
	assert_int_equal(sb.rx_ssrc, 0xbbbb0002u);
	assert_int_equal(sb.bad_ssrc, 1);
	assert_int_equal(sb.jumps, 0);
	close(c.r.fd);
	c.b.s = gw_mem_deref(c.b.s);
	loop_end();
}

/* Symmetric RTP: the stream latches to where the peer's packets come
 * from and sends there, not to the signalled port; without symmetric, it
 * keeps sending to the signalled port. */
struct latch_ctx {
	struct side b, c;
	struct raw r, sig;
	unsigned k;
};

static void latch_tick(void *ctx, unsigned tick)
{
	struct latch_ctx *l = ctx;

	raw_frame(&l->r, (uint16_t)tick, tick * FRAME, 0x1234u, tick, 0xe0);
	raw_to(&l->r, media_stream_port(l->c.s));
	raw_frame(&l->r, (uint16_t)tick, tick * FRAME, 0x1234u, tick, 0xe0);
	raw_to(&l->r, media_stream_port(l->b.s));
	side_tick(&l->b);
	side_tick(&l->c);
}

static void test_latching(void **state)
{
	static struct latch_ctx l;
	struct media_stream_conf cb, cc;
	struct media_stream_stats sb, sc;
	char want[64];
	uint8_t p[512];
	unsigned at_r = 0, at_sig = 0;
	ssize_t n;

	(void)state;
	loop_begin();
	memset(&l, 0, sizeof(l));
	conf_init(&cb, "127.0.0.1");
	conf_init(&cc, "127.0.0.1");
	cc.symmetric = false;
	side_open(&l.b, &cb, 0xb0);
	side_open(&l.c, &cc, 0xb1);
	l.b.send = l.c.send = true;
	raw_open(&l.sig, "127.0.0.1", 0);	/* the signalled address */
	raw_open(&l.r, "127.0.0.1", media_stream_port(l.b.s));
	assert_int_equal(media_stream_set_remote(l.b.s, "127.0.0.1",
						 l.sig.port, 0), 0);
	assert_int_equal(media_stream_set_remote(l.c.s, "127.0.0.1",
						 l.sig.port, 0), 0);
	run(30, 1, latch_tick, &l);

	media_stream_stats(l.b.s, &sb);
	media_stream_stats(l.c.s, &sc);
	snprintf(want, sizeof(want), "127.0.0.1:%u", l.r.port);
	assert_true(sb.latched);
	assert_string_equal(sb.latched_addr, want);
	assert_false(sc.latched);
	while ((n = raw_recv(&l.r, p, sizeof(p))) > 0)
		at_r++;
	while ((n = raw_recv(&l.sig, p, sizeof(p))) > 0)
		at_sig++;
	assert_int_equal(at_r, 30);		/* all of b's */
	assert_int_equal(at_sig, 30);		/* all of c's */
	assert_int_equal(sb.tx_packets, 30);
	close(l.r.fd);
	close(l.sig.fd);
	l.b.s = gw_mem_deref(l.b.s);
	l.c.s = gw_mem_deref(l.c.s);
	loop_end();
}

/* Once latched, a stranger flooding the port is counted and not played. */
struct flood_ctx {
	struct side b;
	struct raw peer, stranger;
	unsigned sent;
};

static void flood_tick(void *ctx, unsigned tick)
{
	struct flood_ctx *c = ctx;
	uint8_t buf[2048];
	struct media_stream_frame f;
	unsigned i;

	raw_frame(&c->peer, (uint16_t)(7 + tick), 100 + tick * FRAME,
		  0x5050u, tick, 0xf0);
	if (tick >= 10 && tick < 30) {
		for (i = 0; i < 25; i++) {
			/* a plausible stream: same SSRC even */
			raw_frame(&c->stranger, (uint16_t)(8 + tick),
				  100 + (tick + 1) * FRAME, 0x5050u, 999,
				  0xf1);
			c->sent++;
		}
	}
	assert_int_equal(media_stream_rx(c->b.s, buf, sizeof(buf), &f), 0);
	log_rx(&c->b.log, buf, &f);
	assert_int_equal(stream_tx(c->b.s, NULL, 0, FRAME), 0);
}

static void test_stranger_flood(void **state)
{
	static struct flood_ctx c;
	struct media_stream_conf cb;
	struct media_stream_stats sb;
	unsigned frames, lost;
	int last;

	(void)state;
	loop_begin();
	memset(&c, 0, sizeof(c));
	conf_init(&cb, "127.0.0.1");
	side_open(&c.b, &cb, 0xb0);
	raw_open(&c.peer, "127.0.0.1", media_stream_port(c.b.s));
	raw_open(&c.stranger, "127.0.0.1", media_stream_port(c.b.s));
	run(50, 1, flood_tick, &c);

	lost = check_order(&c.b.log, 0xf0, &frames, &last);
	assert_int_equal(lost, 0);
	assert_true(last >= 44);
	assert_true(frames >= 44);
	media_stream_stats(c.b.s, &sb);
	assert_int_equal(sb.strangers, c.sent);
	assert_int_equal(sb.strangers, 500);
	assert_int_equal(sb.rx_packets, 50);
	assert_int_equal(sb.bad_ssrc, 0);
	assert_int_equal(sb.lost, 0);
	close(c.peer.fd);
	close(c.stranger.fd);
	c.b.s = gw_mem_deref(c.b.s);
	loop_end();
}

/* Bad input between good frames: each kind counted and dropped, the good
 * frames (padded ones and ones with a header extension among them) all
 * played intact, in order. */
struct bad_ctx {
	struct side b;
	struct raw r, rc;	/* RTP, and RTCP garbage */
	unsigned k;		/* good frames sent */
	uint16_t seq;
	uint32_t ts;
	uint16_t rtcp_port;
};

#define BAD_SSRC 0x0badcafeu

static void bad_good(struct bad_ctx *c, int kind)
{
	uint8_t p[64 + FRAME + 64];
	size_t h = rtp_build(p, 8, c->k == 0, c->seq, c->ts, BAD_SSRC);
	size_t len;

	if (kind == 1) {		/* header extension, 2 words */
		p[0] |= 0x10;
		memcpy(p + h, "\xbe\xde\x00\x02\x11\x22\x33\x44"
		       "\x55\x66\x77\x88", 12);
		h += 12;
	}
	fill(p + h, FRAME, c->k, 0x90);
	len = h + FRAME;
	if (kind == 2) {		/* 3 bytes of padding */
		p[0] |= 0x20;
		p[len++] = 0xee;
		p[len++] = 0xee;
		p[len++] = 3;
	}
	if (kind == 3) {		/* a CSRC */
		memmove(p + 16, p + 12, len - 12);
		p[0] |= 1;
		memcpy(p + 12, "\x01\x02\x03\x04", 4);
		len += 4;
	}
	raw_send(&c->r, p, len);
	c->k++;
	c->seq++;
	c->ts += FRAME;
}

static void bad_junk(struct bad_ctx *c, unsigned tick)
{
	uint8_t p[64 + FRAME];
	size_t h;

	memset(p, 0, sizeof(p));
	switch (tick % 10) {
	case 1:		/* a payload type nobody negotiated (PCMU) */
		h = rtp_build(p, 0, false, c->seq, c->ts, BAD_SSRC);
		memset(p + h, 0xff, FRAME);
		raw_send(&c->r, p, h + FRAME);
		break;
	case 2:		/* truncated header */
		rtp_build(p, 8, false, c->seq, c->ts, BAD_SSRC);
		raw_send(&c->r, p, 7);
		break;
	case 3:		/* 15 CSRCs announced, none there */
		h = rtp_build(p, 8, false, c->seq, c->ts, BAD_SSRC);
		p[0] |= 0x0f;
		raw_send(&c->r, p, h + 20);
		break;
	case 4:		/* an extension longer than the packet */
		h = rtp_build(p, 8, false, c->seq, c->ts, BAD_SSRC);
		p[0] |= 0x10;
		memcpy(p + h, "\xbe\xde\x40\x00", 4);
		raw_send(&c->r, p, h + 40);
		break;
	case 5:		/* padding longer than the payload */
		h = rtp_build(p, 8, false, c->seq, c->ts, BAD_SSRC);
		p[0] |= 0x20;
		memset(p + h, 0, 10);
		p[h + 9] = 200;
		raw_send(&c->r, p, h + 10);
		break;
	case 6:		/* a sequence number from nowhere */
		h = rtp_build(p, 8, false, (uint16_t)(c->seq + 20000), c->ts,
			      BAD_SSRC);
		fill(p + h, FRAME, 4000, 0x99);
		raw_send(&c->r, p, h + FRAME);
		break;
	case 7:		/* a timestamp from nowhere (+10 s), next seq */
		h = rtp_build(p, 8, false, c->seq, c->ts + 80000, BAD_SSRC);
		fill(p + h, FRAME, 4001, 0x99);
		raw_send(&c->r, p, h + FRAME);
		c->seq++;	/* it took a sequence number */
		break;
	case 8:		/* version 1, and zero padding */
		h = rtp_build(p, 8, false, c->seq, c->ts, BAD_SSRC);
		p[0] = 0x40;
		raw_send(&c->r, p, h + FRAME);
		h = rtp_build(p, 8, false, c->seq, c->ts, BAD_SSRC);
		p[0] |= 0x20;
		p[h] = 0;
		raw_send(&c->r, p, h + 1);
		break;
	case 9:		/* RTCP garbage */
		/* an SR longer than the datagram */
		memcpy(p, "\x80\xc8\x00\x40garbage!", 12);
		raw_send(&c->rc, p, 12);
		memcpy(p, "\x81\xc9\x00\x01\x00\x00\x00\x01", 8); /* RR, rc 1 */
		raw_send(&c->rc, p, 8);
		memcpy(p, "\x80\xca\x00\x01\x00\x00\x00\x01", 8); /* SDES 1st */
		raw_send(&c->rc, p, 8);
		raw_send(&c->rc, "\x40\xc9\x00\x01\x00\x00\x00\x01", 8);
		raw_send(&c->rc, "\x80\xc9\x00", 3);
		memset(p, 0x5a, 40);
		raw_send(&c->rc, p, 40);
		break;
	}
}

static void bad_tick(void *ctx, unsigned tick)
{
	struct bad_ctx *c = ctx;
	uint8_t buf[2048];
	struct media_stream_frame f;

	if (tick < 200) {
		bad_junk(c, tick);
		bad_good(c, tick % 4);
	}
	assert_int_equal(media_stream_rx(c->b.s, buf, sizeof(buf), &f), 0);
	log_rx(&c->b.log, buf, &f);
	assert_int_equal(stream_tx(c->b.s, NULL, 0, FRAME), 0);
}

static void test_bad_input(void **state)
{
	static struct bad_ctx c;
	struct media_stream_conf cb;
	struct media_stream_stats sb;
	unsigned frames, lost;
	int last;

	(void)state;
	loop_begin();
	memset(&c, 0, sizeof(c));
	c.seq = 65000;
	c.ts = 4000000000u;
	conf_init(&cb, "127.0.0.1");
	cb.rtcp_interval_ms = 500;	/* its socket read every 5 ticks */
	side_open(&c.b, &cb, 0xb0);
	raw_open(&c.r, "127.0.0.1", media_stream_port(c.b.s));
	raw_open(&c.rc, "127.0.0.1", media_stream_rtcp_port(c.b.s));
	run(210, 1, bad_tick, &c);

	lost = check_order(&c.b.log, 0x90, &frames, &last);
	media_stream_stats(c.b.s, &sb);
	assert_int_equal(last, 199);
	assert_int_equal(frames, 200);
	assert_int_equal(lost, 0);
	assert_int_equal(sb.bad_pt, 20);
	assert_int_equal(sb.truncated, 20 * 4 + 20);	/* cases 2-5, 8 */
	assert_int_equal(sb.malformed, 20);
	assert_int_equal(sb.jumps, 40);
	assert_int_equal(sb.rtcp_bad, 20 * 6);
	assert_int_equal(sb.rtcp_rx, 0);
	assert_int_equal(sb.rx_packets, 200);
	assert_int_equal(sb.lost, 20);	/* the seq case 7 took */
	close(c.r.fd);
	close(c.rc.fd);
	c.b.s = gw_mem_deref(c.b.s);
	loop_end();
}

/* A jump that the next packets confirm is a restart, not an attack. */
static void restart_tick(void *ctx, unsigned tick)
{
	struct bad_ctx *c = ctx;
	uint8_t buf[2048];
	struct media_stream_frame f;

	if (tick == 30) {
		c->seq = (uint16_t)(c->seq + 30000);
		c->ts += 8000u * 3600;
	}
	if (tick < 60)
		bad_good(c, 0);
	assert_int_equal(media_stream_rx(c->b.s, buf, sizeof(buf), &f), 0);
	log_rx(&c->b.log, buf, &f);
	assert_int_equal(stream_tx(c->b.s, NULL, 0, FRAME), 0);
}

static void test_restart(void **state)
{
	static struct bad_ctx c;
	struct media_stream_conf cb;
	struct media_stream_stats sb;
	unsigned frames;
	int last;

	(void)state;
	loop_begin();
	memset(&c, 0, sizeof(c));
	c.seq = 10;
	conf_init(&cb, "127.0.0.1");
	side_open(&c.b, &cb, 0xb0);
	raw_open(&c.r, "127.0.0.1", media_stream_port(c.b.s));
	run(70, 1, restart_tick, &c);
	check_order(&c.b.log, 0x90, &frames, &last);
	media_stream_stats(c.b.s, &sb);
	assert_int_equal(last, 59);
	assert_true(frames >= 60 - 5);
	assert_int_equal(sb.jumps, 1);
	close(c.r.fd);
	c.b.s = gw_mem_deref(c.b.s);
	loop_end();
}

/* Batched only (media/batch.c): one tick's reads of many streams go in one
 * submission, their sends wait for the end of the loop's turn and then
 * go in one, and a stream freed with a send queued still sends it. */
#define NBATCH	8

static void test_batch(void **state)
{
	struct media_stream *s[NBATCH];
	struct raw r[NBATCH];
	struct media_stream_conf c;
	struct media_batch_stats b0, b1;
	struct media_stream_stats st;
	struct media_stream_frame f;
	struct media_batch *b;
	uint8_t buf[2048], out[FRAME];
	unsigned i, tick;

	(void)state;
	loop_begin();
	b = media_batch_self();
	assert_non_null(b);
	for (i = 0; i < NBATCH; i++) {
		conf_init(&c, "127.0.0.1");
		c.jb_nominal_ms = 20;
		assert_int_equal(media_stream_alloc(&s[i], &c, NULL, NULL,
						    NULL), 0);
		raw_open(&r[i], "127.0.0.1", media_stream_port(s[i]));
		assert_int_equal(media_stream_set_remote(s[i], "127.0.0.1",
				 r[i].port, r[i].port), 0);
	}
	fill(out, FRAME, 0, 0xb0);
	for (tick = 0; tick < 10; tick++) {
		for (i = 0; i < NBATCH; i++)
			raw_frame(&r[i], (uint16_t)tick, tick * FRAME, 0x1000 + i,
				  tick, 0x90);
		media_batch_stats(b, &b0);
		for (i = 0; i < NBATCH; i++) {
			assert_int_equal(media_stream_rx(s[i], buf,
							 sizeof(buf), &f), 0);
			assert_int_equal(media_stream_tx(s[i], out, FRAME,
							 FRAME), 0);
		}
		media_batch_stats(b, &b1);
		/* every socket read in one submission, every read empty
		 * after its packet: no read of a stream's own */
		assert_int_equal(b1.reads - b0.reads, 1);
		assert_int_equal(b1.submits - b0.submits, 1);
		assert_int_equal(b1.ops - b0.ops, 2 * NBATCH);
		/* the sends wait for the turn's end */
		assert_true(raw_recv(&r[0], buf, sizeof(buf)) < 0);
		media_batch_flush(b);
		media_batch_stats(b, &b0);
		assert_int_equal(b0.submits - b1.submits, 1);
		assert_int_equal(b0.ops - b1.ops, NBATCH);
		for (i = 0; i < NBATCH; i++)
			assert_int_equal(raw_recv(&r[i], buf, sizeof(buf)),
					 12 + FRAME);
	}
	for (i = 0; i < NBATCH; i++) {
		media_stream_stats(s[i], &st);
		assert_int_equal(st.rx_packets, 10);
		assert_int_equal(st.tx_packets, 10);
		assert_int_equal(st.tx_errors, 0);
	}
	/* freed with a packet queued: it goes (with the RTCP BYE) */
	assert_int_equal(media_stream_tx(s[0], out, FRAME, FRAME), 0);
	s[0] = gw_mem_deref(s[0]);
	assert_int_equal(raw_recv(&r[0], buf, sizeof(buf)), 12 + FRAME);
	assert_true(buf[0] >> 6 == 2 && (buf[1] & 0x7f) == 8);
	for (i = 0; i < NBATCH; i++) {
		gw_mem_deref(s[i]);
		close(r[i].fd);
	}
	loop_end();
}

/* The RTP timeout fires once when the peer stops, not on hold. */
static void timeout_tick(void *ctx, unsigned tick)
{
	struct pair *p = ctx;

	switch (tick) {
	case 20:
		p->a.send = false;		/* the peer stops */
		break;
	case 80:
		p->a.send = true;		/* and comes back */
		break;
	case 100:
		p->a.send = false;
		media_stream_set_dir(p->b.s, MEDIA_DIR_SENDONLY);  /* hold */
		break;
	case 160:
		media_stream_set_dir(p->b.s, MEDIA_DIR_INACTIVE);
		break;
	case 200:
		media_stream_set_dir(p->b.s, MEDIA_DIR_SENDRECV);
		break;
	}
	pair_tick(ctx, tick);
	if (tick == 79)
		assert_int_equal(p->b.timeouts, 1);
	if (tick == 199)
		assert_int_equal(p->b.timeouts, 1);
}

static void test_rtp_timeout(void **state)
{
	struct media_stream_conf ca, cb;
	struct pair p;

	(void)state;
	loop_begin();
	conf_init(&ca, "127.0.0.1");
	conf_init(&cb, "127.0.0.1");
	cb.rtp_timeout_ms = 300;
	pair_open(&p, "127.0.0.1", &ca, &cb);
	run(240, 1, timeout_tick, &p);
	assert_int_equal(p.b.timeouts, 2);	/* the second after hold */
	assert_int_equal(p.a.timeouts, 0);
	pair_close(&p);
	loop_end();
}

/* SRTP both ways with SDES keys (an 80- and a 32-bit tag), RTCP as SRTCP
 * over rtcp-mux; a wrong key: every packet dropped, counted. */
static void test_srtp(void **state)
{
	struct media_stream_conf ca, cb, cc;
	struct media_stream_stats sa, sb, sc;
	struct media_srtp_key k1, k2, k3, kd;
	char b64[MEDIA_SRTP_B64_SIZE], inl[80];
	struct pair p;
	struct side c;
	struct raw r;
	uint8_t out[FRAME], pkt[512];
	unsigned frames, i;
	ssize_t n;

	(void)state;
	loop_begin();
	assert_int_equal(media_srtp_key_gen(&k1,
			 MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32), 0);
	assert_int_equal(media_srtp_key_gen(&k2,
			 MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80), 0);
	assert_int_equal(media_srtp_key_gen(&k3,
			 MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32), 0);
	assert_int_equal(media_srtp_key_encode(&k1, b64, sizeof(b64)), 0);
	assert_int_equal(strlen(b64), 40);
	snprintf(inl, sizeof(inl), "inline:%s|2^31|1:1", b64);
	assert_int_equal(media_srtp_key_decode(&kd,
			 MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32, inl), 0);
	assert_memory_equal(kd.key, k1.key, MEDIA_SRTP_KEY_LEN);
	assert_int_equal(media_srtp_key_decode(&kd,
			 MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32, "inline:abc"),
			 EINVAL);

	conf_init(&ca, "127.0.0.1");
	conf_init(&cb, "127.0.0.1");
	ca.rtcp_mux = cb.rtcp_mux = true;
	ca.rtcp_interval_ms = cb.rtcp_interval_ms = 150;
	ca.srtp_tx = k1;
	ca.srtp_rx = k2;
	cb.srtp_tx = k2;
	cb.srtp_rx = k1;
	pair_open(&p, "127.0.0.1", &ca, &cb);
	assert_int_equal(media_stream_rtcp_port(p.a.s),
			 media_stream_port(p.a.s));
	assert_int_equal(media_stream_rtcp_fd(p.a.s), -1);
	/* c: keyed with the wrong key for a's packets */
	conf_init(&cc, "127.0.0.1");
	cc.srtp_tx = k2;
	cc.srtp_rx = k3;
	side_open(&c, &cc, 0xcc);
	raw_open(&r, "127.0.0.1", media_stream_port(c.s));

	run(40, MEDIA_TICK_MS, pair_tick, &p);
	assert_int_equal(check_order(&p.b.log, 0xa0, &frames, NULL), 0);
	assert_true(frames >= 34);
	assert_int_equal(check_order(&p.a.log, 0xb0, &frames, NULL), 0);
	assert_true(frames >= 34);
	media_stream_stats(p.a.s, &sa);
	media_stream_stats(p.b.s, &sb);
	assert_int_equal(sa.srtp_fail + sb.srtp_fail, 0);
	assert_true(sa.rtcp_rx > 0 && sb.rtcp_rx > 0);
	assert_int_equal(sa.rtcp_bad + sb.rtcp_bad, 0);

	/* On the wire: encrypted, 4 bytes of tag (the 32-bit suite). */
	assert_int_equal(media_stream_set_remote(p.a.s, "127.0.0.1", r.port,
						 0), 0);
	fill(out, FRAME, 7, 0xa0);
	assert_int_equal(stream_tx(p.a.s, out, FRAME, FRAME), 0);
	n = raw_recv(&r, pkt, sizeof(pkt));
	assert_int_equal(n, 12 + FRAME + 4);
	assert_memory_not_equal(pkt + 12, out, FRAME);
	/* Replayed to b: an old index, not played, not an auth failure. */
	raw_to(&r, media_stream_port(p.b.s));
	raw_send(&r, pkt, (size_t)n);
	/* To c (wrong key): dropped, counted. */
	raw_to(&r, media_stream_port(c.s));
	for (i = 0; i < 10; i++)
		raw_send(&r, pkt, (size_t)n);
	raw_frame(&r, 1, 1, 1, 1, 0xa0);	/* plain RTP: also dropped */
	for (i = 0; i < 5; i++) {
		uint8_t buf[2048];
		struct media_stream_frame f;

		assert_int_equal(media_stream_rx(c.s, buf, sizeof(buf), &f),
				 0);
		assert_int_equal(f.len, 0);
	}
	media_stream_stats(c.s, &sc);
	assert_int_equal(sc.srtp_fail, 11);
	assert_int_equal(sc.rx_packets, 0);
	assert_false(sc.latched);
	assert_int_equal(media_stream_set_srtp(c.s, &k1, NULL), EINVAL);
	close(r.fd);
	c.s = gw_mem_deref(c.s);
	pair_close(&p);
	loop_end();
}

/* A handler may drop the last reference to its stream. */
static void free_stream(void *arg)
{
	struct media_stream **sp = arg;

	*sp = gw_mem_deref(*sp);
}

static void free_on_digit(char digit, bool end, unsigned ms, void *arg)
{
	(void)digit;
	(void)end;
	(void)ms;
	free_stream(arg);
}

static void test_handler_frees(void **state)
{
	struct media_stream_conf c;
	struct media_stream *s;
	struct media_stream_frame f;
	struct raw r;
	uint8_t buf[2048], p[16];
	unsigned i;

	(void)state;
	loop_begin();
	conf_init(&c, "127.0.0.1");
	c.rtp_timeout_ms = 60;
	assert_int_equal(media_stream_alloc(&s, &c, NULL, free_stream, &s),
			 0);
	assert_int_equal(media_stream_set_remote(s, "127.0.0.1", 9, 0), 0);
	for (i = 0; i < 10 && s; i++)
		assert_int_equal(media_stream_rx(s, buf, sizeof(buf), &f), 0);
	assert_null(s);
	assert_int_equal(i, 3);

	conf_init(&c, "127.0.0.1");
	assert_int_equal(media_stream_alloc(&s, &c, free_on_digit, NULL, &s),
			 0);
	raw_open(&r, "127.0.0.1", media_stream_port(s));
	rtp_build(p, 101, true, 1, 160, 42);
	memcpy(p + 12, "\x01\x8a\x01\x40", 4);	/* '1', ended */
	raw_send(&r, p, sizeof(p));
	assert_int_equal(media_stream_rx(s, buf, sizeof(buf), &f), 0);
	assert_null(s);
	close(r.fd);
	loop_end();
}

/* Comfort noise (RFC 3389): delivered as such, and the silence after it
 * is not loss. */
struct cn_ctx {
	struct side b;
	struct raw r;
	uint16_t seq;
};

static void cn_tick(void *ctx, unsigned tick)
{
	struct cn_ctx *c = ctx;
	uint8_t p[12 + FRAME], buf[2048];
	struct media_stream_frame f;

	if (tick < 20 || (tick >= 35 && tick < 50)) {
		rtp_build(p, 8, tick == 35, c->seq++, tick * FRAME, 99);
		fill(p + 12, FRAME, tick, 0x33);
		raw_send(&c->r, p, sizeof(p));
	} else if (tick == 20) {
		rtp_build(p, 13, false, c->seq++, tick * FRAME, 99);
		p[12] = 60;			/* -60 dBov */
		raw_send(&c->r, p, 13);
	}
	assert_int_equal(media_stream_rx(c->b.s, buf, sizeof(buf), &f), 0);
	if (f.len && f.pt == 13) {
		assert_int_equal(f.len, 1);
		assert_int_equal(buf[0], 60);
		c->b.log.n++;
		c->b.log.idx[c->b.log.n - 1] = -3;
	} else {
		log_rx(&c->b.log, buf, &f);
	}
	assert_int_equal(stream_tx(c->b.s, NULL, 0, FRAME), 0);
}

static void test_comfort_noise(void **state)
{
	static struct cn_ctx c;
	struct media_stream_conf cb;
	struct media_stream_stats sb;
	unsigned frames, i, ncn = 0;

	(void)state;
	loop_begin();
	memset(&c, 0, sizeof(c));
	conf_init(&cb, "127.0.0.1");
	cb.cn = true;
	side_open(&c.b, &cb, 0xb0);
	raw_open(&c.r, "127.0.0.1", media_stream_port(c.b.s));
	run(50, 1, cn_tick, &c);
	for (i = 0; i < c.b.log.n; i++)
		ncn += c.b.log.idx[i] == -3;
	for (i = 0; i < c.b.log.n; i++)
		if (c.b.log.idx[i] == -3)
			c.b.log.idx[i] = -2;
	assert_int_equal(ncn, 1);
	assert_int_equal(check_order(&c.b.log, 0x33, &frames, NULL), 0);
	assert_true(frames >= 32);
	media_stream_stats(c.b.s, &sb);
	assert_int_equal(sb.concealed, 0);
	assert_int_equal(sb.bad_pt, 0);
	assert_int_equal(sb.jumps, 0);
	close(c.r.fd);
	c.b.s = gw_mem_deref(c.b.s);
	loop_end();
}

/* Ports come in pairs from the range; a full range is EADDRINUSE, and a
 * port someone else holds is skipped, never shared. */
static void test_port_range(void **state)
{
	struct media_stream_conf c;
	struct media_stream *s[4] = { NULL };
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd;

	(void)state;
	loop_begin();
	conf_init(&c, "127.0.0.1");
	c.port_max = (uint16_t)(c.port_min + 3);	/* two pairs */
	assert_int_equal(media_stream_alloc(&s[0], &c, NULL, NULL, NULL), 0);
	assert_int_equal(media_stream_alloc(&s[1], &c, NULL, NULL, NULL), 0);
	assert_int_equal(media_stream_alloc(&s[2], &c, NULL, NULL, NULL),
			 EADDRINUSE);
	assert_null(s[2]);
	assert_int_not_equal(media_stream_port(s[0]),
			     media_stream_port(s[1]));
	s[0] = gw_mem_deref(s[0]);
	assert_int_equal(media_stream_alloc(&s[2], &c, NULL, NULL, NULL), 0);

	/* someone else on an RTCP port of the next range */
	conf_init(&c, "127.0.0.1");
	c.port_max = (uint16_t)(c.port_min + 3);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(c.port_min + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(media_stream_alloc(&s[3], &c, NULL, NULL, NULL), 0);
	assert_int_equal(media_stream_port(s[3]), c.port_min + 2);
	assert_int_equal(media_stream_alloc(&s[0], &c, NULL, NULL, NULL),
			 EADDRINUSE);
	close(fd);

	/* rtcp-mux: one port a stream, odd ones too */
	conf_init(&c, "127.0.0.1");
	c.rtcp_mux = true;
	c.port_max = c.port_min;
	assert_int_equal(media_stream_alloc(&s[0], &c, NULL, NULL, NULL), 0);
	assert_int_equal(media_stream_port(s[0]), c.port_min);
	s[0] = gw_mem_deref(s[0]);

	c.port_max = (uint16_t)(c.port_min - 1);
	assert_int_equal(media_stream_alloc(&s[0], &c, NULL, NULL, NULL),
			 EINVAL);
	conf_init(&c, "127.0.0.1");
	c.port_min = 20001;
	c.port_max = 20002;		/* no even/odd pair inside */
	assert_int_equal(media_stream_alloc(&s[0], &c, NULL, NULL, NULL),
			 EINVAL);
	conf_init(&c, "localhost");	/* names are not resolved */
	assert_int_equal(media_stream_alloc(&s[0], &c, NULL, NULL, NULL),
			 EINVAL);
	conf_init(&c, "127.0.0.1");
	c.rtcp_mux = true;
	c.pt = 72;			/* reads as RTCP with mux */
	assert_int_equal(media_stream_alloc(&s[0], &c, NULL, NULL, NULL),
			 EINVAL);
	s[1] = gw_mem_deref(s[1]);
	s[2] = gw_mem_deref(s[2]);
	s[3] = gw_mem_deref(s[3]);
	loop_end();
}

/* A peer packing 10 ms or 40 ms per packet. */
struct ptime_ctx {
	struct side b;
	struct raw r;
	unsigned ms;
	unsigned k;
};

static void ptime_tick(void *ctx, unsigned tick)
{
	struct ptime_ctx *c = ctx;
	unsigned per = c->ms * 8, i, n = 20 / c->ms;
	uint8_t p[12 + 320], buf[2048];
	struct media_stream_frame f;

	if (c->ms <= 20) {
		for (i = 0; i < n && tick < 60; i++, c->k++) {
			rtp_build(p, 8, false, (uint16_t)c->k, c->k * per,
				  77);
			memset(p + 12, (uint8_t)c->k, per);
			raw_send(&c->r, p, 12 + per);
		}
	} else if (tick % 2 == 0 && tick < 60) {
		rtp_build(p, 8, false, (uint16_t)c->k, c->k * per, 77);
		memset(p + 12, (uint8_t)c->k, per);
		raw_send(&c->r, p, 12 + per);
		c->k++;
	}
	assert_int_equal(media_stream_rx(c->b.s, buf, sizeof(buf), &f), 0);
	c->b.log.n++;
	if (f.len) {
		c->b.log.samples[c->b.log.n - 1] = f.samples;
		assert_int_equal(f.len, f.samples);
		for (i = 0; i < f.len; i++)
			assert_int_equal(buf[i], (uint8_t)(buf[0] + i / per));
	}
	c->b.log.idx[c->b.log.n - 1] = f.len ? 1 : f.lost ? -1 : -2;
	assert_int_equal(stream_tx(c->b.s, NULL, 0, FRAME), 0);
}

static void test_ptime(void **state)
{
	static struct ptime_ctx c;
	struct media_stream_conf cb;
	struct media_stream_stats sb;
	unsigned ms[2] = { 10, 40 }, j, i, got, lost, lost_run;

	(void)state;
	loop_begin();
	for (j = 0; j < 2; j++) {
		memset(&c, 0, sizeof(c));
		c.ms = ms[j];
		conf_init(&cb, "127.0.0.1");
		cb.ptime = ms[j];
		side_open(&c.b, &cb, 0xb0);
		raw_open(&c.r, "127.0.0.1", media_stream_port(c.b.s));
		run(70, 1, ptime_tick, &c);
		got = lost = lost_run = 0;
		for (i = 0; i < c.b.log.n; i++) {
			if (c.b.log.idx[i] == 1) {
				assert_int_equal(c.b.log.samples[i],
						 ms[j] == 10 ? 160 : 320);
				assert_int_equal(lost_run, 0);
				got++;
			} else if (c.b.log.idx[i] == -1) {
				lost_run++;	/* only once the peer stops */
				lost++;
			}
		}
		media_stream_stats(c.b.s, &sb);
		assert_int_equal(sb.concealed, lost);
		assert_int_equal(sb.discarded, 0);
		assert_int_equal(got, ms[j] == 10 ? 60 : 30);
		close(c.r.fd);
		c.b.s = gw_mem_deref(c.b.s);
	}
	loop_end();
}

/* Every stream test runs twice: one system call per datagram, then
 * batched. */
static int plain_setup(void **state)
{
	batched = false;
	return unit_leak_setup(state);
}

static int batched_setup(void **state)
{
	batched = true;
	return unit_leak_setup(state);
}

#define PLAIN(f) \
	{ #f, f, plain_setup, unit_leak_teardown, NULL },
#define BATCHED(f) \
	{ #f ", batched", f, batched_setup, unit_leak_teardown, NULL },
#define STREAM_TESTS(T) \
	T(test_pcma_both_ways) \
	T(test_ipv6) \
	T(test_jitter_buffer) \
	T(test_jitter_buffer_adaptive) \
	T(test_dtmf_both_ways) \
	T(test_dtmf_wire) \
	T(test_ssrc_change) \
	T(test_latching) \
	T(test_stranger_flood) \
	T(test_bad_input) \
	T(test_restart) \
	T(test_rtp_timeout) \
	T(test_srtp) \
	T(test_handler_frees) \
	T(test_comfort_noise) \
	T(test_port_range) \
	T(test_ptime)

int main(void)
{
	const struct CMUnitTest tests[] = {
		STREAM_TESTS(PLAIN)
		STREAM_TESTS(BATCHED)
		BATCHED(test_batch)
	};

	return cmocka_run_group_tests_name("media_stream", tests, NULL, NULL);
}
