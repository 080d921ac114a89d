/* tests/unit/test_media_cot.c - single tones, the Goertzel detector, fax tone edges */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>	/* spandsp.h needs it first */
#include <spandsp.h>

#include "unit.h"
#include "media.h"

/*
 * What H.248.1 E.10 (continuity, tones of Q.724 s.7) and E.4 (tone
 * start and end) need of media/: a 2010 Hz check tone at -12 dBm0, a
 * detector that takes it (and a transceiver's 1780 Hz) and nothing
 * else, and fax and modem signals reported when they start and end.
 * Audio crosses A-law, as on the E1; levels use spandsp's reference.
 */

#define N		MEDIA_TICK_SAMPLES
#define DBM0_PEAK	22776.0		/* 32767 * 10^(-3.14/20) */
#define PI		3.14159265358979323846

static void alaw_pass(int16_t *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		x[i] = alaw_to_linear(linear_to_alaw(x[i]));
}

static void sine(int16_t *x, size_t n, double hz, double dbm0, double *ph)
{
	double a = DBM0_PEAK * pow(10.0, dbm0 / 20.0);
	size_t i;

	for (i = 0; i < n; i++) {
		x[i] = (int16_t)lrint(a * sin(*ph));
		*ph += 2.0 * PI * hz / 8000.0;
	}
}

/* Ticks until d says present (or -1 within max ticks). */
static int ticks_to_on(struct media_freqdet *d, double hz, double dbm0,
		       int max)
{
	int16_t x[N];
	double ph = 0;
	int k;

	for (k = 1; k <= max; k++) {
		sine(x, N, hz, dbm0, &ph);
		alaw_pass(x, N);
		if (media_freqdet_process(d, x, N))
			return k;
	}
	return -1;
}

static void test_tonegen_freq(void **state)
{
	struct media_tonegen *g = NULL;
	int16_t x[8000];
	double e = 0, re = 0, im = 0;
	size_t i;

	(void)state;
	assert_int_equal(media_tonegen_alloc_freq(&g, 2010, -12), 0);
	media_tonegen_fill(g, x, 8000);
	alaw_pass(x, 8000);
	for (i = 0; i < 8000; i++) {
		e += (double)x[i] * x[i];
		re += x[i] * cos(2 * PI * 2010 * (double)i / 8000);
		im += x[i] * sin(2 * PI * 2010 * (double)i / 8000);
	}
	/* level within 0.3 dB, all of it at 2010 Hz */
	assert_true(fabs(10 * log10(e / 8000 / (0.5 * DBM0_PEAK *
					       DBM0_PEAK)) + 12) < 0.3);
	assert_true(2 * (re * re + im * im) / 8000 / e > 0.95);
	gw_mem_deref(g);
	assert_int_equal(media_tonegen_alloc_freq(&g, 20, -12), EINVAL);
	assert_int_equal(media_tonegen_alloc_freq(&g, 1004, 6), EINVAL);
}

static void test_freqdet_check_tone(void **state)
{
	struct media_freqdet *d = NULL;
	int k;

	(void)state;
	/* the check tone at its sending level and 18 dB down: 40 ms */
	assert_int_equal(media_freqdet_alloc(&d, 2010, -30), 0);
	k = ticks_to_on(d, 2010, -12, 10);
	assert_int_equal(k, 2);
	d = gw_mem_deref(d);
	assert_int_equal(media_freqdet_alloc(&d, 2010, -30), 0);
	assert_int_equal(ticks_to_on(d, 2000, -28, 10), 2);	/* Q.724 */
	d = gw_mem_deref(d);
	/* not: too quiet, CED 90 Hz away, the 1004 Hz test tone, 1780 */
	assert_int_equal(media_freqdet_alloc(&d, 2010, -30), 0);
	assert_int_equal(ticks_to_on(d, 2010, -40, 50), -1);
	assert_int_equal(ticks_to_on(d, 2100, -12, 50), -1);
	assert_int_equal(ticks_to_on(d, 1004, -10, 50), -1);
	assert_int_equal(ticks_to_on(d, 1780, -12, 50), -1);
	d = gw_mem_deref(d);
}

static void test_freqdet_noise_and_end(void **state)
{
	struct media_freqdet *d = NULL;
	int16_t x[N];
	unsigned seed = 1, k, i;
	double ph = 0;
	bool on = true;

	(void)state;
	assert_int_equal(media_freqdet_alloc(&d, 2010, -30), 0);
	/* white noise at -10 dBm0 holds some 2010 Hz, never enough */
	for (k = 0; k < 100; k++) {
		for (i = 0; i < N; i++) {
			seed = seed * 1103515245u + 12345u;
			x[i] = (int16_t)((int)((seed >> 16) & 0x3fff) - 8192);
		}
		assert_false(media_freqdet_process(d, x, N));
	}
	assert_int_equal(ticks_to_on(d, 2010, -12, 10), 2);
	/* one silent tick (a slip) does not end it; three do */
	memset(x, 0, sizeof(x));
	assert_true(media_freqdet_process(d, x, N));
	sine(x, N, 2010, -12, &ph);
	assert_true(media_freqdet_process(d, x, N));
	memset(x, 0, sizeof(x));
	for (k = 0; k < 3; k++)
		on = media_freqdet_process(d, x, N);
	assert_false(on);
	gw_mem_deref(d);
}

struct edges {
	int on[4], off[4];
	int last_on;
};

static void on_edge(enum media_tonedet_ev ev, bool on, void *arg)
{
	struct edges *e = arg;

	if (on) {
		e->on[ev]++;
		e->last_on = (int)ev;
	} else {
		e->off[ev]++;
	}
}

/* CED as spandsp sends it (T.30: 2100 Hz, 2.6 to 4 s), then silence:
 * one start, one end, within 200 ms of the tone's own end. */
static void test_tonedet_edges_ced(void **state)
{
	modem_connect_tones_tx_state_t *tx;
	struct media_tonedet *d = NULL;
	struct edges e;
	int16_t x[N];
	int k, on_at = -1, off_at = -1, end_at = -1;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(media_tonedet_edges_alloc(&d, on_edge, &e), 0);
	tx = modem_connect_tones_tx_init(NULL, MODEM_CONNECT_TONES_FAX_CED);
	assert_non_null(tx);
	for (k = 0; k < 250; k++) {
		int n = end_at < 0 ? modem_connect_tones_tx(tx, x, N) : 0;

		if (n < N && end_at < 0)
			end_at = k;
		if (n < N)
			memset(x + (n < 0 ? 0 : n), 0,
			       (size_t)(N - (n < 0 ? 0 : n)) * sizeof(x[0]));
		alaw_pass(x, N);
		media_tonedet_process(d, x, N);
		if (on_at < 0 && e.on[MEDIA_DET_CED])
			on_at = k;
		if (off_at < 0 && e.off[MEDIA_DET_CED])
			off_at = k;
	}
	fprintf(stderr, "# CED of %d ms: on after %d ms, off %d ms after "
		"its end\n", end_at * 20, on_at * 20, (off_at - end_at) * 20);
	assert_int_equal(e.on[MEDIA_DET_CED], 1);
	assert_int_equal(e.off[MEDIA_DET_CED], 1);
	assert_true(on_at >= 0 && on_at < 50);
	assert_true(end_at >= 130 && end_at <= 200);
	assert_true(off_at >= end_at && off_at <= end_at + 10);
	assert_int_equal(e.on[MEDIA_DET_CNG], 0);
	modem_connect_tones_tx_free(tx);
	gw_mem_deref(d);
	assert_int_equal(media_tonedet_edges_alloc(&d, NULL, NULL), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_tonegen_freq),
		UNIT_TEST(test_freqdet_check_tone),
		UNIT_TEST(test_freqdet_noise_and_end),
		UNIT_TEST(test_tonedet_edges_ced),
	};

	gw_log_set_levels("warn");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
