/* tests/unit/test_media_chan.c - media channels: pre-bound sockets, TDM
 * only channels, DTMF and fax detection, direction, comfort noise */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"
#include "media.h"

#define N		MEDIA_TICK_SAMPLES
#define ALAW_ZERO	0xd5		/* A-law of 0 */
#define PI		3.14159265358979

static uint16_t next_base;

/* A 100-port range of its own in 20000-29999, from the pid, as
 * test_media_stream does. */
static void range_next(uint16_t *minp, uint16_t *maxp)
{
	if (!next_base)
		next_base = (uint16_t)(20000 + ((getpid() + 25) % 50) * 100);
	*minp = next_base;
	*maxp = (uint16_t)(next_base + 99);
	next_base = (uint16_t)(next_base + 100);
	if (next_base >= 30000)
		next_base = 20000;
}

static void sconf(struct media_stream_conf *c, bool cn)
{
	memset(c, 0, sizeof(*c));
	c->local_ip = "127.0.0.1";
	range_next(&c->port_min, &c->port_max);
	c->pt = 8;
	c->clock = 8000;
	c->ptime = 20;
	c->cn = cn;
	c->jb_nominal_ms = 40;
	c->dir = MEDIA_DIR_SENDRECV;
}

/* Could ip:port be bound right now? */
static bool port_free(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	bool ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* ---- what a channel reported --------------------------------------- */

struct evlog {
	char digits[32];
	unsigned ndigits, durations[32];
	int fax[8];
	unsigned nfax;
};

static void on_ev(struct media_chan *c, enum media_chan_ev ev, char digit,
		  unsigned duration_ms, void *arg)
{
	struct evlog *l = arg;

	(void)c;
	if (ev == MEDIA_CHAN_DIGIT_TDM && l->ndigits < 31) {
		l->durations[l->ndigits] = duration_ms;
		l->digits[l->ndigits++] = digit;
	} else if (ev == MEDIA_CHAN_FAX_TONE && l->nfax < 8) {
		l->fax[l->nfax++] = digit;
	}
}

/* Level of a companded tick, -dBov (a full-scale square wave 0). */
static double tick_dbov(const uint8_t *p, size_t n)
{
	double e = 0;
	size_t i;

	for (i = 0; i < n; i++)
		e += (double)media_alaw_to_lin[p[i]] * media_alaw_to_lin[p[i]];
	e /= (double)n;
	return e < 1e-9 ? 200 : 10 * log10(32767.0 * 32767.0 / e);
}

/* A sine tick at amp (linear peak), phase kept in *ph, flipped by
 * reversal. */
static void sine_tick(uint8_t *out, double f, double amp, double *ph)
{
	unsigned i;

	for (i = 0; i < N; i++) {
		out[i] = media_lin_to_alaw((int16_t)lrint(amp * sin(*ph)));
		*ph += 2 * PI * f / MEDIA_RATE;
	}
}

static void silence(uint8_t *out)
{
	memset(out, ALAW_ZERO, N);
}

/* ---- tests ----------------------------------------------------------- */

/* Pre-bound ports: pairs from the range, rotating; the stream takes them
 * over, on failure too; the ports come free when it is gone. */
static void test_socks(void **state)
{
	struct media_rtp_socks a, b, z;
	struct media_stream_conf c;
	struct media_stream *s = NULL;
	uint16_t min, max, p;

	(void)state;
	range_next(&min, &max);
	max = (uint16_t)(min + 5);		/* three pairs */
	assert_int_equal(media_rtp_socks_bind(&a, "127.0.0.1", min, max,
					      false), 0);
	assert_int_equal(a.port % 2, 0);
	assert_true(a.fd >= 0 && a.rtcp_fd >= 0);
	assert_false(port_free(a.port));
	assert_false(port_free((uint16_t)(a.port + 1)));
	p = a.port;
	media_rtp_socks_close(&a);
	assert_int_equal(a.fd, -1);
	assert_int_equal(a.rtcp_fd, -1);
	media_rtp_socks_close(&a);		/* twice: nothing */
	assert_true(port_free(p));
	/* Not the port just released, but the next one round. */
	assert_int_equal(media_rtp_socks_bind(&b, "127.0.0.1", min, max,
					      false), 0);
	assert_int_equal(b.port, p + 2 > max ? min : p + 2);
	media_rtp_socks_close(&b);

	/* rtcp-mux: no RTCP socket; IPv6 */
	assert_int_equal(media_rtp_socks_bind(&a, "::1", min, max, true), 0);
	assert_true(a.fd >= 0);
	assert_int_equal(a.rtcp_fd, -1);
	media_rtp_socks_close(&a);
	assert_int_equal(media_rtp_socks_bind(&a, "localhost", min, max,
					      false), EINVAL);
	assert_int_equal(a.fd, -1);
	assert_int_equal(media_rtp_socks_bind(&a, "127.0.0.1", max, min,
					      false), EINVAL);
	memset(&z, 0, sizeof(z));		/* zeroed: fd 0 stays open */
	media_rtp_socks_close(&z);
	assert_int_equal(z.fd, -1);

	/* taken over by a stream: its port, closed with it */
	assert_int_equal(media_rtp_socks_bind(&a, "127.0.0.1", min, max,
					      false), 0);
	p = a.port;
	sconf(&c, false);
	c.local_ip = NULL;
	c.socks = &a;
	assert_int_equal(media_stream_alloc(&s, &c, NULL, NULL, NULL), 0);
	assert_int_equal(a.fd, -1);
	assert_int_equal(a.rtcp_fd, -1);
	assert_int_equal(media_stream_port(s), p);
	assert_int_equal(media_stream_rtcp_port(s), p + 1);
	s = gw_mem_deref(s);
	assert_true(port_free(p));
	assert_true(port_free((uint16_t)(p + 1)));

	/* taken over on failure too: closed */
	assert_int_equal(media_rtp_socks_bind(&a, "127.0.0.1", min, max,
					      false), 0);
	p = a.port;
	c.pt = 200;
	assert_int_equal(media_stream_alloc(&s, &c, NULL, NULL, NULL),
			 EINVAL);
	assert_null(s);
	assert_int_equal(a.fd, -1);
	assert_true(port_free(p));

	/* bound for rtcp-mux, a stream without: EINVAL, closed */
	assert_int_equal(media_rtp_socks_bind(&a, "127.0.0.1", min, max,
					      true), 0);
	p = a.port;
	c.pt = 8;
	assert_int_equal(media_stream_alloc(&s, &c, NULL, NULL, NULL),
			 EINVAL);
	assert_true(port_free(p));
	/* a pair for a stream with rtcp-mux: the RTCP port goes back */
	assert_int_equal(media_rtp_socks_bind(&a, "127.0.0.1", min, max,
					      false), 0);
	p = a.port;
	c.rtcp_mux = true;
	assert_int_equal(media_stream_alloc(&s, &c, NULL, NULL, NULL), 0);
	assert_int_equal(media_stream_rtcp_port(s), p);
	assert_true(port_free((uint16_t)(p + 1)));
	assert_false(port_free(p));
	s = gw_mem_deref(s);

	/* and through a channel whose alloc fails early */
	{
		struct media_chan_conf cc = { .codec = MEDIA_CODEC_COUNT };
		struct media_chan *ch = NULL;

		assert_int_equal(media_rtp_socks_bind(&a, "127.0.0.1", min,
						      max, false), 0);
		p = a.port;
		c.rtcp_mux = false;
		assert_int_equal(media_chan_alloc(&ch, &cc, &c, NULL, NULL),
				 EINVAL);
		assert_int_equal(a.fd, -1);
		assert_true(port_free(p));
	}
}

/* A channel without RTP: tones and digits to the line, digits detected
 * from it (the line here returns what the channel sends). */
static void test_chan_tdm_only(void **state)
{
	struct media_chan_conf cc = { .law = MEDIA_LAW_ALAW,
				      .codec = MEDIA_CODEC_COUNT,
				      .detect_dtmf = true };
	struct media_chan *c = NULL;
	struct media_chan_stats st;
	struct evlog l;
	uint8_t rx[N], tx[N];
	unsigned i, loud;

	(void)state;
	memset(&l, 0, sizeof(l));
	assert_int_equal(media_chan_alloc(&c, &cc, NULL, on_ev, &l), 0);
	assert_null(media_chan_stream(c));
	assert_int_equal(media_chan_set_dir(c, MEDIA_DIR_SENDRECV), 0);
	assert_int_equal(media_chan_set_dir(c, (enum media_dir)9), EINVAL);

	silence(rx);
	media_chan_tick(c, rx, tx);
	assert_true(tick_dbov(tx, N) > 60);		/* silence */
	assert_int_equal(media_chan_tone(c, MEDIA_TONE_MILLIWATT), 0);
	media_chan_tick(c, rx, tx);
	/* 1004 Hz at -10 dBm0: about -13 dBov */
	/* 1004 Hz at -10 dBm0: -16.2 dBov (a sine's power is half the
	 * square wave's, and A-law's 0 dBm0 is 3.14 dB below its peak) */
	assert_true(fabs(tick_dbov(tx, N) - 16.2) < 1.0);
	assert_int_equal(media_chan_tone(c, MEDIA_TONE_COUNT), 0);
	media_chan_tick(c, rx, tx);
	assert_true(tick_dbov(tx, N) > 60);		/* stopped */
	assert_int_equal(media_chan_tone(c, (enum media_tone)99), EINVAL);
	assert_int_equal(media_chan_tone(c, MEDIA_TONE_RINGBACK), 0);
	for (i = loud = 0; i < 50; i++) {		/* 1 s on (E.180) */
		media_chan_tick(c, rx, tx);
		loud += tick_dbov(tx, N) < 40;
	}
	assert_true(loud >= 40);
	assert_int_equal(media_chan_tone(c, MEDIA_TONE_COUNT), 0);

	/* digits to the line, looped back to its detector */
	assert_int_equal(media_chan_digits(c, "19#"), 0);
	silence(rx);
	for (i = 0; i < 50; i++) {
		media_chan_tick(c, rx, tx);
		memcpy(rx, tx, N);
	}
	assert_int_equal(l.ndigits, 3);
	assert_memory_equal(l.digits, "19#", 3);
	for (i = 0; i < 3; i++)
		assert_true(l.durations[i] >= 80 && l.durations[i] <= 120);

	media_chan_stats(c, &st);
	assert_true(isnan(st.mos));
	assert_int_equal(st.rtp.rx_packets, 0);
	assert_int_equal(st.rtp.tx_packets, 0);
	assert_int_equal(st.digits_tdm, 3);
	assert_int_equal(st.ticks, 53 + 50);
	c = gw_mem_deref(c);
}

/* One channel with a stream and a bare stream as its peer on loopback. */
struct duo {
	struct media_chan *c;
	struct media_stream *p;
	struct evlog l;
	unsigned p_pt13, p_audio, p_marks;
	uint8_t p_levels[64];
	bool p_mark_after_cn;
	bool cn_seen;
};

static void duo_open(struct duo *d, const struct media_chan_conf *cc,
		     bool cn, uint8_t te_pt)
{
	struct media_stream_conf sa, sb;

	memset(d, 0, sizeof(*d));
	sconf(&sa, cn);
	sconf(&sb, cn);
	sa.te_pt = sb.te_pt = te_pt;
	assert_int_equal(media_chan_alloc(&d->c, cc, &sa, on_ev, &d->l), 0);
	assert_int_equal(media_stream_alloc(&d->p, &sb, NULL, NULL, NULL), 0);
	assert_int_equal(media_stream_set_remote(media_chan_stream(d->c),
			 "127.0.0.1", media_stream_port(d->p), 0), 0);
	assert_int_equal(media_stream_set_remote(d->p, "127.0.0.1",
			 media_stream_port(media_chan_stream(d->c)), 0), 0);
}

static void duo_close(struct duo *d)
{
	d->c = gw_mem_deref(d->c);
	d->p = gw_mem_deref(d->p);
}

/* One tick: the channel with line audio rx (its line output into tx);
 * the peer receives, logs, and sends frame (or nothing). */
static void duo_tick(struct duo *d, const uint8_t *rx, uint8_t *tx,
		     const uint8_t *frame)
{
	uint8_t buf[2048];
	struct media_stream_frame f;

	media_chan_tick(d->c, rx, tx);
	assert_int_equal(media_stream_rx(d->p, buf, sizeof(buf), &f), 0);
	if (f.len && f.pt == 13) {
		if (d->p_pt13 < 64)
			d->p_levels[d->p_pt13] = buf[0];
		d->p_pt13++;
		d->cn_seen = true;
	} else if (f.len) {
		d->p_audio++;
		d->p_marks += f.marker;
		if (d->cn_seen && f.marker)
			d->p_mark_after_cn = true;
		d->cn_seen = false;
	}
	if (frame)
		assert_int_equal(media_stream_tx(d->p, frame, N, N), 0);
	else
		assert_int_equal(media_stream_tx(d->p, NULL, 0, 0), 0);
}

/* detect_dtmf without RFC 4733: the digit is reported and passes to IP
 * as audio, every tick a packet. */
static void test_chan_dtmf_inband(void **state)
{
	struct media_chan_conf cc = { .law = MEDIA_LAW_ALAW,
				      .codec = MEDIA_PCMA,
				      .detect_dtmf = true };
	struct media_dtmf_tx *gen = NULL;
	struct media_stream_stats ps;
	struct media_chan_stats cs;
	struct duo d;
	int16_t lin[N];
	uint8_t rx[N], tx[N];
	unsigned i, j;

	(void)state;
	duo_open(&d, &cc, false, 0);
	assert_int_equal(media_dtmf_tx_alloc(&gen), 0);
	assert_int_equal(media_dtmf_tx_put(gen, "5", 100, 100), 0);
	for (i = 0; i < 30; i++) {
		memset(lin, 0, sizeof(lin));
		media_dtmf_tx_fill(gen, lin, N);
		for (j = 0; j < N; j++)
			rx[j] = media_lin_to_alaw(lin[j]);
		duo_tick(&d, rx, tx, NULL);
	}
	assert_int_equal(d.l.ndigits, 1);
	assert_int_equal(d.l.digits[0], '5');
	media_chan_stats(d.c, &cs);
	assert_int_equal(cs.rtp.tx_packets, 30);
	assert_int_equal(cs.rtp.events_tx, 0);
	media_stream_stats(d.p, &ps);
	assert_int_equal(ps.rx_packets, 30);
	gen = gw_mem_deref(gen);
	duo_close(&d);
}

/* detect_fax: CED, and ANSam with phase reversals, which also takes the
 * echo canceller out (G.164/G.165). */
static void test_chan_fax(void **state)
{
	struct media_chan_conf cc = { .law = MEDIA_LAW_ALAW,
				      .codec = MEDIA_PCMA,
				      .detect_fax = true, .ec = true,
				      .ec_tail_ms = 32 };
	struct media_chan_stats st;
	struct duo d;
	uint8_t rx[N], tx[N];
	double ph = 0;
	unsigned i;
	bool ced = false, pr = false;

	(void)state;
	duo_open(&d, &cc, false, 0);
	for (i = 0; i < 200; i++) {		/* 4 s of 2100 Hz, -12 dBm0 */
		sine_tick(rx, 2100, 8000, &ph);
		duo_tick(&d, rx, tx, NULL);
	}
	for (i = 0; i < d.l.nfax; i++)
		ced |= d.l.fax[i] == MEDIA_DET_CED;
	assert_true(ced);
	media_chan_stats(d.c, &st);
	assert_false(isnan(st.erle_db));	/* still cancelling */
	duo_close(&d);

	duo_open(&d, &cc, false, 0);
	for (i = 0; i < 250; i++) {		/* reversals every 450 ms */
		if (i && i * 20 / 450 != (i - 1) * 20 / 450)
			ph += PI;
		sine_tick(rx, 2100, 8000, &ph);
		duo_tick(&d, rx, tx, NULL);
	}
	for (i = 0; i < d.l.nfax; i++)
		pr |= d.l.fax[i] == MEDIA_DET_ANS_PR;
	assert_true(pr);
	media_chan_stats(d.c, &st);
	assert_true(isnan(st.erle_db));		/* disabled */
	duo_close(&d);
}

/* Direction: recvonly/inactive send nothing toward IP; sendonly/inactive
 * play nothing of what arrives (a tone still plays). */
static void test_chan_dir(void **state)
{
	struct media_chan_conf cc = { .law = MEDIA_LAW_ALAW,
				      .codec = MEDIA_PCMA };
	static const enum media_dir dirs[4] = {
		MEDIA_DIR_SENDRECV, MEDIA_DIR_RECVONLY, MEDIA_DIR_SENDONLY,
		MEDIA_DIR_INACTIVE };
	struct media_chan_stats st;
	uint64_t sent;
	struct duo d;
	uint8_t rx[N], tx[N], frame[N];
	double ph = 0, ph2 = 0;
	unsigned k, i, played;

	(void)state;
	duo_open(&d, &cc, false, 0);
	for (k = 0; k < 4; k++) {
		assert_int_equal(media_chan_set_dir(d.c, dirs[k]), 0);
		media_chan_stats(d.c, &st);
		sent = st.rtp.tx_packets;
		played = 0;
		for (i = 0; i < 20; i++) {
			sine_tick(rx, 440, 4000, &ph);
			sine_tick(frame, 700, 4000, &ph2);
			duo_tick(&d, rx, tx, frame);
			played += tick_dbov(tx, N) < 40;
		}
		media_chan_stats(d.c, &st);
		if (dirs[k] == MEDIA_DIR_SENDRECV ||
		    dirs[k] == MEDIA_DIR_SENDONLY)
			assert_int_equal(st.rtp.tx_packets - sent, 20);
		else
			assert_int_equal(st.rtp.tx_packets, sent);
		if (dirs[k] == MEDIA_DIR_SENDRECV ||
		    dirs[k] == MEDIA_DIR_RECVONLY)
			assert_true(played >= 15);	/* after the buffer */
		else
			assert_int_equal(played, 0);
	}
	/* inactive, a tone still goes to the line */
	assert_int_equal(media_chan_tone(d.c, MEDIA_TONE_MILLIWATT), 0);
	duo_tick(&d, rx, tx, frame);
	assert_true(fabs(tick_dbov(tx, N) - 16.2) < 1.0);
	duo_close(&d);
}

/* RFC 3389: speech, 1.2 s of quiet line at -60 dBov, speech.  The quiet
 * goes as a CN packet after the 200 ms hangover and then one every
 * 200 ms, at the line's level; audio resumes with the marker. */
static void test_chan_cn_tx(void **state)
{
	struct media_chan_conf cc = { .law = MEDIA_LAW_ALAW,
				      .codec = MEDIA_PCMA };
	struct media_stream_stats ps;
	struct media_chan_stats cs;
	struct duo d;
	uint8_t rx[N], tx[N];
	double ph = 0;
	unsigned i;

	(void)state;
	duo_open(&d, &cc, true, 0);
	for (i = 0; i < 120; i++) {
		bool quiet = i >= 30 && i < 90;

		/* 0.02 peak: -37 dBov; 32.8 peak: about -63 dBov as
		 * A-law carries it */
		sine_tick(rx, 300, quiet ? 32.8 : 700, &ph);
		duo_tick(&d, rx, tx, NULL);
	}
	for (i = 0; i < 5; i++)			/* the buffer's tail */
		duo_tick(&d, rx, tx, NULL);
	/* quiet ticks 30-38 as audio (the hangover: CN from the 10th),
	 * then CN at 39, 49, 59, 69, 79, 89; 35 ticks of speech after */
	assert_int_equal(d.p_pt13, 6);
	for (i = 0; i < d.p_pt13; i++)
		assert_true(abs((int)d.p_levels[i] - 63) <= 2);
	assert_true(d.p_audio >= 39 + 30);
	assert_true(d.p_mark_after_cn);
	assert_int_equal(d.p_marks, 2);		/* the first, the return */
	media_chan_stats(d.c, &cs);
	assert_int_equal(cs.rtp.tx_packets, 39 + 6 + 35);
	media_stream_stats(d.p, &ps);
	assert_int_equal(ps.rx_packets, 39 + 6 + 35);
	assert_int_equal(ps.concealed, 0);
	assert_int_equal(ps.bad_pt, 0);
	duo_close(&d);

	/* without cn negotiated: audio all along */
	duo_open(&d, &cc, false, 0);
	silence(rx);
	for (i = 0; i < 40; i++)
		duo_tick(&d, rx, tx, NULL);
	assert_int_equal(d.p_pt13, 0);
	media_stream_stats(d.p, &ps);
	assert_int_equal(ps.rx_packets, 40);
	duo_close(&d);
}

/* Received CN: the channel plays noise at the signalled level until
 * audio returns. */
static void test_chan_cn_rx(void **state)
{
	struct media_chan_conf cc = { .law = MEDIA_LAW_ALAW,
				      .codec = MEDIA_PCMA };
	struct duo d;
	uint8_t rx[N], tx[N], frame[N];
	double ph = 0, lvl = 0;
	unsigned i, n = 0;

	(void)state;
	duo_open(&d, &cc, true, 0);
	silence(rx);
	for (i = 0; i < 60; i++) {
		uint8_t buf[2048];
		struct media_stream_frame f;

		media_chan_tick(d.c, rx, tx);
		if (i >= 20 && i < 50) {	/* noise due, at 45 dBov */
			lvl += tick_dbov(tx, N);
			n++;
		}
		assert_int_equal(media_stream_rx(d.p, buf, sizeof(buf), &f),
				 0);
		if (i < 10) {
			sine_tick(frame, 500, 3000, &ph);
			assert_int_equal(media_stream_tx(d.p, frame, N, N), 0);
		} else if (i == 10 || i == 30) {
			assert_int_equal(media_stream_tx_cn(d.p, 45, N), 0);
		} else {
			assert_int_equal(media_stream_tx(d.p, NULL, 0, N), 0);
		}
	}
	assert_true(fabs(lvl / n - 45) < 2.0);
	assert_int_equal(media_stream_tx_cn(NULL, 45, N), EINVAL);
	duo_close(&d);
	duo_open(&d, &cc, false, 0);
	assert_int_equal(media_stream_tx_cn(d.p, 45, N), ENOTSUP);
	duo_close(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_socks),
		UNIT_TEST(test_chan_tdm_only),
		UNIT_TEST(test_chan_dtmf_inband),
		UNIT_TEST(test_chan_fax),
		UNIT_TEST(test_chan_dir),
		UNIT_TEST(test_chan_cn_tx),
		UNIT_TEST(test_chan_cn_rx),
	};

	return cmocka_run_group_tests_name("media_chan", tests, NULL, NULL);
}
