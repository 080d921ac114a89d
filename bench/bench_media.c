/* bench/bench_media.c - media tick CPU per channel against a bare reference */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "media.h"
#include "tdm.h"

/*
 * One process, one thread pinned to one CPU, two sides in turn each 20 ms
 * tick:
 *
 *   far end (not timed): one TDM frame per span (32 x 160 bytes, the
 *     vspan bearer message) written into a SOCK_SEQPACKET socketpair, and
 *     one RTP packet (PCMA, 160 bytes) per channel sent from a socket of
 *     its own on 127.0.0.2 to the channel's port on 127.0.0.1;
 *   gateway (timed, thread CPU clock): per span, one read of the frame,
 *     every channel's work, one write of the frame back (as vspan);
 *   far end (not timed): reads the spans' frames, drains its sockets.
 *
 * The line side talks (a speech-like multi-tone) and returns an echo of
 * what the gateway sent it one tick before, 10 dB down, so that the echo
 * canceller and the DTMF detector see what they would on a call.
 *
 * Variants, each over the same N channels and spans:
 *   ref      the unavoidable work: recvfrom one packet, A-law -> PCMA as
 *            a byte copy both ways, sendto one packet, the span's TDM I/O;
 *   ref/b    the same work with the datagrams batched through io_uring:
 *            one submission for every channel's receive, one for every
 *            send (media/batch.c);
 *   g711     media_chan_tick, PCMA on an A-law span: the byte-copy path,
 *            its socket I/O batched as on a media worker;
 *   g711/s   the same with one system call per datagram (no batch);
 *   te       + RFC 4733 (DTMF detection on linear audio, G.711 through
 *            linear both ways);
 *   ec64+te, ec128+te  + the echo canceller, 64 and 128 ms tails.
 *
 * Each repetition runs every variant in turn (interleaved, so that a
 * noisy neighbour hits them alike): fresh channels, warm-up ticks (the
 * jitter buffer fills, caches warm), then the timed ticks, as fast as the
 * CPU goes (no sleeping: CPU per tick is the figure, not real time).
 * Reported: the median over repetitions [min - max] of the CPU time per
 * channel per tick, the median of the per-repetition ratios to ref, and
 * the channels one core carries at 100 % and at the 65 % plan load.
 * Figures, not assertions: a benchmark never fails.
 *
 * Loopback charges the kernel's delivery of a datagram to the sender, so
 * the timed side pays for what it sends and the far end for what the
 * gateway receives; both variants alike, which the ratio cancels.
 */

#define FRAME_HDR	5		/* vspan: type 0x02, uint32 seq */
#define FRAME_LEN	(FRAME_HDR + TDM_MAX_TS * TDM_FRAME_SAMPLES)
#define SPAN_CHANS	30		/* E1: timeslots 1-15, 17-31 */
#define RTP_HDR		12
#define PKT_LEN		(RTP_HDR + MEDIA_TICK_SAMPLES)
#define PT_PCMA		8
#define PT_TE		101
#define ALAW_IDLE	0xd5
#define SIG_LEN		MEDIA_RATE	/* one second, repeated */
#define PORT_MIN	16384		/* gateway RTP range: below the */
#define PORT_MAX	32766		/* kernel's ephemeral ports */
#define GW_IP		"127.0.0.1"
#define FAR_IP		"127.0.0.2"
#define MAX_RUNS	31
#define PLAN_LOAD	0.65		/* DESIGN.md: media loop <= 65 % */
#define TICK_US		(MEDIA_TICK_MS * 1000.0)

struct variant {
	const char *name;
	const char *what;
	bool ref, batch, te, ec;
	unsigned tail_ms;
};

static const struct variant variants[] = {
	{"ref", "recvfrom, A-law -> PCMA copy, sendto; span TDM I/O",
	 true, false, false, false, 0},
	{"ref/b", "as ref, the datagrams batched through io_uring",
	 true, true, false, false, 0},
	{"g711", "media_chan_tick, PCMA on A-law: the byte-copy path",
	 false, true, false, false, 0},
	{"g711/s", "as g711, one system call per datagram",
	 false, false, false, false, 0},
	{"te", "+ RFC 4733: DTMF detection, G.711 through linear",
	 false, true, true, false, 0},
	{"ec64+te", "as te + echo canceller, 64 ms tail",
	 false, true, true, true, 64},
	{"ec128+te", "as te + echo canceller, 128 ms tail",
	 false, true, true, true, 128},
};

#define NVARIANTS	(sizeof(variants) / sizeof(variants[0]))

/* The far end of one channel: its RTP and RTCP sockets on FAR_IP. */
struct peer {
	int fd, rtcp_fd;
	struct sockaddr_in gw;		/* the channel's RTP address */
	uint16_t seq;
	uint32_t ts, ssrc;
	unsigned off;			/* where in its signal it is */
	bool started;			/* first packet sent (marker) */
	uint64_t rx;			/* RTP packets from the gateway */
};

/* The reference loop's side of one channel. */
struct ref_chan {
	int fd;
	struct sockaddr_in peer;
	uint16_t seq;
	uint32_t ts, ssrc;
	uint64_t rx;
	/* ref/b: the batch's receive and send, and their datagrams */
	struct media_batch_op rop, sop;
	int rlen;
	struct sockaddr_storage src;
	uint8_t rbuf[2048], pkt[PKT_LEN];
};

struct span {
	int gw_fd, far_fd;
	unsigned first, nchans;		/* channel indexes */
	uint32_t seq;
	uint64_t frames;		/* well-formed frames at the gateway */
	uint8_t gw_rx[FRAME_LEN], gw_tx[FRAME_LEN];
	uint8_t far_tx[FRAME_LEN], far_rx[FRAME_LEN];
};

struct run {
	const struct variant *v;
	unsigned n, nspans;
	struct peer *peers;
	struct ref_chan *refs;
	struct media_chan **chans;
	struct span *spans;
	uint8_t rxbuf[2048];
};

/* What a run did, for the check table. */
struct run_check {
	double rtp_in, rtp_out;		/* per channel per tick */
	double concealed;		/* share of ticks */
	uint64_t digits, discarded, tdm_frames, tdm_expected;
};

static uint8_t near_sig[SIG_LEN + MEDIA_TICK_SAMPLES];	/* line talker */
static uint8_t far_sig[SIG_LEN + MEDIA_TICK_SAMPLES];	/* IP talker */

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, unsigned n, double *minp, double *maxp)
{
	double s[MAX_RUNS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	*minp = s[0];
	*maxp = s[n - 1];
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Harmonics of f0 up to 3.4 kHz falling 3 dB an octave, in 250 ms
 * syllables: speech enough for the canceller and the detector. */
static void make_signal(uint8_t *out, double f0, double level)
{
	unsigned i, k;

	for (i = 0; i < SIG_LEN; i++) {
		double v = 0, env;

		for (k = 1; f0 * k < 3400; k++)
			v += sin(2 * M_PI * f0 * k * i / MEDIA_RATE +
				 M_PI * k * k / 21) / sqrt(k);
		env = 0.55 + 0.45 * sin(2 * M_PI * 4 * i / MEDIA_RATE);
		out[i] = media_lin_to_alaw((int16_t)lrint(v * level * env));
	}
	memcpy(out + SIG_LEN, out, MEDIA_TICK_SAMPLES);
}

static unsigned span_ts(unsigned idx)
{
	return idx < 15 ? idx + 1 : idx + 2;	/* skip timeslot 16 */
}

static int udp_bind(const char *ip, struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a->sin_addr);
	if (bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)a, &len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void run_free(struct run *r)
{
	unsigned i;

	for (i = 0; i < r->n; i++) {
		if (r->chans)
			gw_mem_deref(r->chans[i]);
		if (r->refs && r->refs[i].fd >= 0)
			close(r->refs[i].fd);
		if (r->peers) {
			if (r->peers[i].fd >= 0)
				close(r->peers[i].fd);
			if (r->peers[i].rtcp_fd >= 0)
				close(r->peers[i].rtcp_fd);
		}
	}
	for (i = 0; r->spans && i < r->nspans; i++) {
		if (r->spans[i].gw_fd >= 0)
			close(r->spans[i].gw_fd);
		if (r->spans[i].far_fd >= 0)
			close(r->spans[i].far_fd);
	}
	free(r->chans);
	free(r->refs);
	free(r->peers);
	free(r->spans);
	memset(r, 0, sizeof(*r));
	media_batch_disable();
}

static int chan_setup(struct run *r, unsigned i)
{
	const struct variant *v = r->v;
	struct peer *p = &r->peers[i];
	struct sockaddr_in pa, ra;
	int err;

	p->fd = udp_bind(FAR_IP, &pa);
	p->rtcp_fd = udp_bind(FAR_IP, &ra);
	if (p->fd < 0 || p->rtcp_fd < 0)
		return errno;
	p->ssrc = (uint32_t)random();
	p->seq = (uint16_t)random();
	p->ts = (uint32_t)random();
	p->off = (i * 1237u) % SIG_LEN;
	p->gw.sin_family = AF_INET;
	inet_pton(AF_INET, GW_IP, &p->gw.sin_addr);

	if (v->ref) {
		struct ref_chan *rc = &r->refs[i];
		struct sockaddr_in ga;

		rc->fd = udp_bind(GW_IP, &ga);
		if (rc->fd < 0)
			return errno;
		rc->peer = pa;
		rc->ssrc = (uint32_t)random();
		rc->seq = (uint16_t)random();
		rc->ts = (uint32_t)random();
		p->gw.sin_port = ga.sin_port;
	} else {
		struct media_chan_conf cc = {
			.law = MEDIA_LAW_ALAW,
			.codec = MEDIA_PCMA,
			.ptime = 20,
			.te = v->te,
			.ec = v->ec,
			.ec_tail_ms = v->tail_ms,
		};
		struct media_stream_conf sc = {
			.local_ip = GW_IP,
			.port_min = PORT_MIN,
			.port_max = PORT_MAX,
			.remote_ip = FAR_IP,
			.remote_port = ntohs(pa.sin_port),
			.remote_rtcp_port = ntohs(ra.sin_port),
			.pt = PT_PCMA,
			.te_pt = v->te ? PT_TE : 0,
			.cn = true,
			.jb_adaptive = true,
			.rtp_timeout_ms = 30000,
			.symmetric = true,
			.dir = MEDIA_DIR_SENDRECV,
		};

		err = media_chan_alloc(&r->chans[i], &cc, &sc, NULL, NULL);
		if (err)
			return err;
		p->gw.sin_port = htons(media_stream_port(
				media_chan_stream(r->chans[i])));
	}
	return 0;
}

static int run_setup(struct run *r, const struct variant *v, unsigned n)
{
	unsigned i;
	int err;

	memset(r, 0, sizeof(*r));
	r->v = v;
	r->n = n;
	if (v->batch) {
		err = media_batch_enable();
		if (err)
			return err;
	}
	r->nspans = (n + SPAN_CHANS - 1) / SPAN_CHANS;
	r->peers = calloc(n, sizeof(*r->peers));
	r->spans = calloc(r->nspans, sizeof(*r->spans));
	if (v->ref)
		r->refs = calloc(n, sizeof(*r->refs));
	else
		r->chans = calloc(n, sizeof(*r->chans));
	if (!r->peers || !r->spans || (!r->refs && !r->chans)) {
		r->n = r->nspans = 0;	/* nothing to close */
		return ENOMEM;
	}
	for (i = 0; i < n; i++) {
		r->peers[i].fd = r->peers[i].rtcp_fd = -1;
		if (r->refs)
			r->refs[i].fd = -1;
	}
	for (i = 0; i < r->nspans; i++)
		r->spans[i].gw_fd = r->spans[i].far_fd = -1;
	for (i = 0; i < r->nspans; i++) {
		struct span *s = &r->spans[i];
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
			       SOCK_CLOEXEC, 0, sv) < 0)
			return errno;
		s->gw_fd = sv[0];
		s->far_fd = sv[1];
		s->first = i * SPAN_CHANS;
		s->nchans = n - s->first < SPAN_CHANS ? n - s->first :
			SPAN_CHANS;
		memset(s->far_rx, ALAW_IDLE, sizeof(s->far_rx));
	}
	for (i = 0; i < n; i++) {
		err = chan_setup(r, i);
		if (err)
			return err;
	}
	return 0;
}

/* ---- the far end (never timed) ------------------------------------- */

static void far_send(struct run *r)
{
	uint8_t pkt[PKT_LEN];
	unsigned i, j, k;

	for (i = 0; i < r->nspans; i++) {
		struct span *s = &r->spans[i];

		s->far_tx[0] = 0x02;
		s->far_tx[1] = (uint8_t)(s->seq >> 24);
		s->far_tx[2] = (uint8_t)(s->seq >> 16);
		s->far_tx[3] = (uint8_t)(s->seq >> 8);
		s->far_tx[4] = (uint8_t)s->seq;
		s->seq++;
		memset(s->far_tx + FRAME_HDR, ALAW_IDLE,
		       FRAME_LEN - FRAME_HDR);
		for (j = 0; j < s->nchans; j++) {
			unsigned o = FRAME_HDR + span_ts(j) * TDM_FRAME_SAMPLES;
			const uint8_t *talk =
				near_sig + r->peers[s->first + j].off;
			const uint8_t *back = s->far_rx + o;

			/* the talker plus the hybrid's echo, -10 dB */
			for (k = 0; k < MEDIA_TICK_SAMPLES; k++) {
				int v = media_alaw_to_lin[talk[k]] +
					media_alaw_to_lin[back[k]] * 10 / 32;

				s->far_tx[o + k] = media_lin_to_alaw(
					(int16_t)(v > 32767 ? 32767 :
						  v < -32768 ? -32768 : v));
			}
		}
		if (write(s->far_fd, s->far_tx, FRAME_LEN) != FRAME_LEN)
			perror("far end: span write");
	}
	for (i = 0; i < r->n; i++) {
		struct peer *p = &r->peers[i];

		pkt[0] = 0x80;
		pkt[1] = PT_PCMA | (p->started ? 0 : 0x80);
		pkt[2] = (uint8_t)(p->seq >> 8);
		pkt[3] = (uint8_t)p->seq;
		pkt[4] = (uint8_t)(p->ts >> 24);
		pkt[5] = (uint8_t)(p->ts >> 16);
		pkt[6] = (uint8_t)(p->ts >> 8);
		pkt[7] = (uint8_t)p->ts;
		pkt[8] = (uint8_t)(p->ssrc >> 24);
		pkt[9] = (uint8_t)(p->ssrc >> 16);
		pkt[10] = (uint8_t)(p->ssrc >> 8);
		pkt[11] = (uint8_t)p->ssrc;
		memcpy(pkt + RTP_HDR, far_sig + p->off, MEDIA_TICK_SAMPLES);
		if (sendto(p->fd, pkt, sizeof(pkt), 0,
			   (struct sockaddr *)&p->gw, sizeof(p->gw)) < 0)
			perror("far end: sendto");
		p->started = true;
		p->seq++;
		p->ts += MEDIA_TICK_SAMPLES;
		p->off = (p->off + MEDIA_TICK_SAMPLES) % SIG_LEN;
	}
}

static void far_recv(struct run *r)
{
	unsigned i;

	for (i = 0; i < r->nspans; i++) {
		struct span *s = &r->spans[i];

		if (read(s->far_fd, s->far_rx, FRAME_LEN) != FRAME_LEN)
			memset(s->far_rx, ALAW_IDLE, FRAME_LEN);
	}
	for (i = 0; i < r->n; i++) {
		struct peer *p = &r->peers[i];

		while (recv(p->fd, r->rxbuf, sizeof(r->rxbuf), 0) > 0)
			p->rx++;
		while (recv(p->rtcp_fd, r->rxbuf, sizeof(r->rxbuf), 0) > 0)
			;
	}
}

/* ---- the gateway (timed) ------------------------------------------- */

/* The bare minimum a channel must do with a datagram, n bytes in buf,
 * and the TDM frame: the payload to the line, the line into pkt. */
static void ref_work(struct ref_chan *c, const uint8_t *buf, ssize_t n,
		     uint8_t *pkt, const uint8_t *tdm_rx, uint8_t *tdm_tx)
{
	if (n == PKT_LEN && buf[0] >> 6 == 2 && (buf[1] & 0x7f) == PT_PCMA) {
		memcpy(tdm_tx, buf + RTP_HDR, MEDIA_TICK_SAMPLES);
		c->rx++;
	}
	pkt[0] = 0x80;
	pkt[1] = PT_PCMA;
	pkt[2] = (uint8_t)(c->seq >> 8);
	pkt[3] = (uint8_t)c->seq;
	pkt[4] = (uint8_t)(c->ts >> 24);
	pkt[5] = (uint8_t)(c->ts >> 16);
	pkt[6] = (uint8_t)(c->ts >> 8);
	pkt[7] = (uint8_t)c->ts;
	pkt[8] = (uint8_t)(c->ssrc >> 24);
	pkt[9] = (uint8_t)(c->ssrc >> 16);
	pkt[10] = (uint8_t)(c->ssrc >> 8);
	pkt[11] = (uint8_t)c->ssrc;
	memcpy(pkt + RTP_HDR, tdm_rx, MEDIA_TICK_SAMPLES);
	c->seq++;
	c->ts += MEDIA_TICK_SAMPLES;
}

/* ref: a system call for each datagram. */
static void ref_tick(struct ref_chan *c, uint8_t *buf, size_t size,
		     const uint8_t *tdm_rx, uint8_t *tdm_tx)
{
	struct sockaddr_storage src;
	socklen_t srclen = sizeof(src);
	uint8_t pkt[PKT_LEN];
	ssize_t n;

	n = recvfrom(c->fd, buf, size, 0, (struct sockaddr *)&src, &srclen);
	ref_work(c, buf, n, pkt, tdm_rx, tdm_tx);
	sendto(c->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&c->peer,
	       sizeof(c->peer));
}

static void refb_received(struct media_batch_op *op, int res)
{
	struct ref_chan *c = (struct ref_chan *)((char *)op -
		offsetof(struct ref_chan, rop));

	c->rlen = res;
}

static void refb_sent(struct media_batch_op *op, int res)
{
	(void)op;
	(void)res;
}

/* ref/b: every channel's receive in one submission, before the spans. */
static void refb_read(struct run *r)
{
	struct media_batch *b = media_batch_self();
	unsigned i;

	for (i = 0; i < r->n; i++) {
		struct ref_chan *c = &r->refs[i];

		c->rlen = -1;
		c->rop.done = refb_received;
		c->rop.iov.iov_base = c->rbuf;
		c->rop.iov.iov_len = sizeof(c->rbuf);
		c->rop.mh.msg_name = &c->src;
		c->rop.mh.msg_namelen = sizeof(c->src);
		media_batch_recv(b, c->fd, &c->rop);
	}
	media_batch_flush(b);
}

/* ref/b: the send queued; it goes with the others at the tick's end. */
static void refb_tick(struct ref_chan *c, const uint8_t *tdm_rx,
		      uint8_t *tdm_tx)
{
	ref_work(c, c->rbuf, c->rlen, c->pkt, tdm_rx, tdm_tx);
	c->sop.done = refb_sent;
	c->sop.iov.iov_base = c->pkt;
	c->sop.iov.iov_len = sizeof(c->pkt);
	c->sop.mh.msg_name = &c->peer;
	c->sop.mh.msg_namelen = sizeof(c->peer);
	media_batch_send(media_batch_self(), c->fd, &c->sop);
}

static void gw_tick(struct run *r)
{
	unsigned i, j;

	if (r->refs && r->v->batch)
		refb_read(r);
	for (i = 0; i < r->nspans; i++) {
		struct span *s = &r->spans[i];

		if (read(s->gw_fd, s->gw_rx, FRAME_LEN) == FRAME_LEN &&
		    s->gw_rx[0] == 0x02)
			s->frames++;
		memcpy(s->gw_tx, s->gw_rx, FRAME_HDR);
		memset(s->gw_tx + FRAME_HDR, ALAW_IDLE, FRAME_LEN - FRAME_HDR);
		for (j = 0; j < s->nchans; j++) {
			unsigned o = FRAME_HDR + span_ts(j) * TDM_FRAME_SAMPLES;
			unsigned c = s->first + j;

			if (r->refs && r->v->batch)
				refb_tick(&r->refs[c], s->gw_rx + o,
					  s->gw_tx + o);
			else if (r->refs)
				ref_tick(&r->refs[c], r->rxbuf,
					 sizeof(r->rxbuf), s->gw_rx + o,
					 s->gw_tx + o);
			else
				media_chan_tick(r->chans[c], s->gw_rx + o,
						s->gw_tx + o);
		}
		if (write(s->gw_fd, s->gw_tx, FRAME_LEN) != FRAME_LEN)
			perror("gateway: span write");
	}
	/* what a worker's loop does before it waits */
	media_batch_flush(media_batch_self());
}

/* ns of gateway CPU per channel per tick over ticks timed ticks. */
static double run_ticks(struct run *r, unsigned ticks, bool timed)
{
	double total = 0, t0;
	unsigned t;

	for (t = 0; t < ticks; t++) {
		far_send(r);
		t0 = timed ? cpu_ns() : 0;
		gw_tick(r);
		if (timed)
			total += cpu_ns() - t0;
		far_recv(r);
	}
	return total / ((double)ticks * r->n);
}

static void run_check(const struct run *r, unsigned ticks,
		      struct run_check *k)
{
	double cells = (double)ticks * r->n;
	uint64_t in = 0, out = 0, conc = 0;
	unsigned i;

	memset(k, 0, sizeof(*k));
	for (i = 0; i < r->n; i++) {
		out += r->peers[i].rx;
		if (r->refs) {
			in += r->refs[i].rx;
		} else {
			struct media_chan_stats st;

			media_chan_stats(r->chans[i], &st);
			in += st.rtp.rx_packets;
			conc += st.rtp.concealed;
			k->discarded += st.rtp.discarded;
			k->digits += st.digits_tdm;
		}
	}
	for (i = 0; i < r->nspans; i++)
		k->tdm_frames += r->spans[i].frames;
	k->tdm_expected = (uint64_t)ticks * r->nspans;
	k->rtp_in = (double)in / cells;
	k->rtp_out = (double)out / cells;
	k->concealed = (double)conc / cells;
}

/* ---- main ------------------------------------------------------------ */

static int pin_cpu(int cpu)
{
	cpu_set_t set;
	int i;

	if (cpu < 0) {		/* the last CPU we may run on */
		if (sched_getaffinity(0, sizeof(set), &set) < 0)
			return -1;
		for (i = CPU_SETSIZE - 1; i >= 0 && !CPU_ISSET(i, &set); i--)
			;
		cpu = i;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		return -1;
	return cpu;
}

static void usage(void)
{
	size_t v;

	fprintf(stderr, "usage: bench_media [-n channels] [-t ticks] "
		"[-w warm-up ticks] [-r repetitions] [-c cpu] "
		"[-o variant[,variant...]]\n"
		"variants:");
	for (v = 0; v < NVARIANTS; v++)
		fprintf(stderr, " %s", variants[v].name);
	fprintf(stderr, "\n");
	exit(2);
}

/* Without io_uring here the batched variants cannot run. */
static int batch_err;

static bool wanted(const char *only, const char *name)
{
	const char *p = only;
	size_t len = strlen(name);

	if (!only)
		return true;
	while ((p = strstr(p, name))) {
		if ((p == only || p[-1] == ',') &&
		    (p[len] == '\0' || p[len] == ','))
			return true;
		p += len;
	}
	return false;
}

static bool chosen(const char *only, const struct variant *v)
{
	return wanted(only, v->name) && !(v->batch && batch_err);
}

int main(int argc, char **argv)
{
	unsigned n = 500, ticks = 250, warm = 25, runs = 5;
	double us[NVARIANTS][MAX_RUNS], ratio[NVARIANTS][MAX_RUNS],
		ratio_b[NVARIANTS][MAX_RUNS];
	struct run_check check[NVARIANTS];
	const char *only = NULL;
	struct rlimit rl;
	int cpu = -1, opt;
	unsigned v, k;

	while ((opt = getopt(argc, argv, "n:t:w:r:c:o:")) != -1) {
		switch (opt) {
		case 'n':
			n = (unsigned)atoi(optarg);
			break;
		case 't':
			ticks = (unsigned)atoi(optarg);
			break;
		case 'w':
			warm = (unsigned)atoi(optarg);
			break;
		case 'r':
			runs = (unsigned)atoi(optarg);
			break;
		case 'c':
			cpu = atoi(optarg);
			break;
		case 'o':
			only = optarg;
			break;
		default:
			usage();
		}
	}
	if (!n || n > (PORT_MAX - PORT_MIN) / 2 || !ticks || !runs ||
	    runs > MAX_RUNS)
		usage();

	/* 4 sockets per channel, and a few spare */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	cpu = pin_cpu(cpu);
	if (cpu < 0) {
		perror("sched_setaffinity");
		return 1;
	}
	gw_log_set_levels("warn");
	srandom(1);
	make_signal(near_sig, 130, 300);
	make_signal(far_sig, 210, 250);

	printf("bench_media: %u channels in %u E1 spans, %u timed ticks "
	       "(%.1f s of audio) after %u warm-up, %u repetitions\n",
	       n, (n + SPAN_CHANS - 1) / SPAN_CHANS, ticks,
	       ticks * MEDIA_TICK_MS / 1000.0, warm, runs);
	printf("pinned to CPU %d, one thread: the far end (RTP peers, TDM "
	       "master) runs between the timed sections\n", cpu);
	printf("figures are CPU time of the gateway side (thread CPU clock), "
	       "ticks back to back, not in real time;\nthis VM is shared: "
	       "read the ratios, the absolutes move with the neighbours\n\n");
	batch_err = media_batch_enable();
	media_batch_disable();
	if (batch_err)
		printf("no io_uring here (%s): the batched variants are left "
		       "out\n\n", strerror(batch_err));
	for (v = 0; v < NVARIANTS; v++)
		if (chosen(only, &variants[v]))
			printf("  %-9s %s\n", variants[v].name,
			       variants[v].what);
	printf("\n");
	fflush(stdout);

	for (k = 0; k < runs; k++) {
		for (v = 0; v < NVARIANTS; v++) {
			struct run r;
			int err;

			us[v][k] = NAN;
			if (!chosen(only, &variants[v]))
				continue;
			err = run_setup(&r, &variants[v], n);
			if (err) {
				fprintf(stderr, "%s: setup: %s\n",
					variants[v].name, strerror(err));
				run_free(&r);
				return 1;
			}
			run_ticks(&r, warm, false);
			us[v][k] = run_ticks(&r, ticks, true) / 1000.0;
			if (k == runs - 1)
				run_check(&r, warm + ticks, &check[v]);
			run_free(&r);
		}
		for (v = 0; v < NVARIANTS; v++) {
			ratio[v][k] = us[v][k] / us[0][k];
			ratio_b[v][k] = us[v][k] / us[1][k];
		}
	}

	printf("%-9s %9s %18s %6s %16s %7s %8s %7s %8s\n", "variant",
	       "us/ch/tick", "[min - max]", "x ref", "[min - max]",
	       "x ref/b", "ch/core", "@65 %", "2 cores");
	for (v = 0; v < NVARIANTS; v++) {
		double med, lo, hi, rmed, rlo, rhi, bmed, blo, bhi;

		if (!chosen(only, &variants[v]))
			continue;
		med = median(us[v], runs, &lo, &hi);
		rmed = median(ratio[v], runs, &rlo, &rhi);
		bmed = median(ratio_b[v], runs, &blo, &bhi);
		printf("%-9s %9.2f  [%6.2f - %6.2f] %6.2f  [%5.2f - %5.2f] "
		       "%7.2f %8.0f %7.0f %8.0f\n", variants[v].name, med, lo,
		       hi, rmed, rlo, rhi, bmed, TICK_US / med,
		       PLAN_LOAD * TICK_US / med,
		       2 * PLAN_LOAD * TICK_US / med);
	}
	printf("\nus/ch/tick: median [min - max] over the repetitions; x ref: "
	       "median [min - max] of\nthe per-repetition ratios to ref, "
	       "x ref/b: median ratio to ref/b (the same\nwork, batched as "
	       "the worker batches); ch/core: 20 ms / cost; @65 %%: at the "
	       "plan\nload of DESIGN.md; 2 cores: both at 65 %%.  Goal (issue "
	       "5): g711 within 1.3x the\nbare work; about 2,000 G.711 and "
	       "700 echo-cancelled calls on two cores.\n\n");

	printf("path check, last repetition, warm-up included (per channel "
	       "per tick but the counts):\n%-9s %7s %7s %9s %9s %7s %11s\n",
	       "variant", "rtp in", "rtp out", "concealed", "discarded",
	       "digits", "tdm frames");
	for (v = 0; v < NVARIANTS; v++) {
		const struct run_check *c = &check[v];

		if (!chosen(only, &variants[v]))
			continue;
		printf("%-9s %7.3f %7.3f %9.3f %9llu %7llu %5llu/%llu\n",
		       variants[v].name, c->rtp_in, c->rtp_out, c->concealed,
		       (unsigned long long)c->discarded,
		       (unsigned long long)c->digits,
		       (unsigned long long)c->tdm_frames,
		       (unsigned long long)c->tdm_expected);
	}
	return 0;
}
