/* tests/unit/test_media_cpd.c - call-progress tone detection (H.248.1 E.8) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>	/* spandsp.h needs it first */
#include <spandsp.h>

#include "unit.h"
#include "media.h"

/*
 * Every tone of every plan, as the gateway's own generator plays it and
 * A-law carries it, is recognised as itself and nothing else, and ends
 * when it stops; speech-like sound and DTMF digits are none of them.
 */

#define N	MEDIA_TICK_SAMPLES
#define PI	3.14159265358979323846

struct seen {
	unsigned on[MEDIA_TONE_COUNT], off[MEDIA_TONE_COUNT];
	int first;			/* the first tone heard, -1: none */
	int on_tick, off_tick;
	unsigned off_ms;
	int tick;
};

static void on_cpd(enum media_tone t, bool on, unsigned ms, void *arg)
{
	struct seen *s = arg;

	if (on) {
		s->on[t]++;
		if (s->first < 0) {
			s->first = (int)t;
			s->on_tick = s->tick;
		}
	} else {
		s->off[t]++;
		if (s->off_tick < 0) {
			s->off_tick = s->tick;
			s->off_ms = ms;
		}
	}
}

static void alaw_pass(int16_t *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		x[i] = alaw_to_linear(linear_to_alaw(x[i]));
}

static void seen_init(struct seen *s)
{
	memset(s, 0, sizeof(*s));
	s->first = -1;
	s->on_tick = s->off_tick = -1;
}

static void test_cpd_each_tone(void **state)
{
	static const char *const plans[] = { "itu", "us", "uk" };
	unsigned p, t;

	(void)state;
	for (p = 0; p < GW_ARRAY_SIZE(plans); p++) {
		unsigned country;

		assert_int_equal(media_tone_country_parse(plans[p], &country),
				 0);
		for (t = 0; t < MEDIA_TONE_MILLIWATT; t++) {
			struct media_tonegen *g = NULL;
			struct media_cpd *d = NULL;
			struct seen s;
			int16_t x[N];
			int k;

			if (media_tonegen_alloc(&g, country, t))
				continue;
			seen_init(&s);
			assert_int_equal(media_cpd_alloc(&d, country, on_cpd,
							 &s), 0);
			/* 15 s of the tone (a call-waiting cycle is 10 s),
			 * then 15 s of silence */
			for (k = 0; k < 1500; k++) {
				s.tick = k;
				if (k < 750) {
					media_tonegen_fill(g, x, N);
					alaw_pass(x, N);
				} else {
					memset(x, 0, sizeof(x));
				}
				media_cpd_process(d, x, N);
			}
			fprintf(stderr, "# %s %s: on after %d ms, off %d ms "
				"after its end\n", plans[p],
				media_tone_name(t), s.on_tick * 20,
				s.off_tick < 0 ? -1 :
				(s.off_tick - 750) * 20);
			assert_int_equal(s.first, (int)t);
			assert_int_equal(s.on[t], 1);
			assert_int_equal(s.off[t], 1);
			assert_true(s.off_tick >= 750);
			assert_true(s.off_ms >= 3000);
			gw_mem_deref(d);
			gw_mem_deref(g);
		}
	}
}

/* Vowel-like: a 120 Hz voice with formant-weighted harmonics, pitch
 * and loudness moving, syllables and pauses; and white noise. */
static void test_cpd_speech_dtmf(void **state)
{
	struct media_dtmf_tx *tx = NULL;
	struct media_cpd *d = NULL;
	struct seen s;
	int16_t x[N];
	double ph = 0;
	unsigned country;
	int k, i, h;

	(void)state;
	for (country = 0; country < 3; country++) {
		seen_init(&s);
		assert_int_equal(media_cpd_alloc(&d, country, on_cpd, &s), 0);
		srand(7);
		for (k = 0; k < 1500; k++) {
			double f0 = 110.0 + 20.0 * sin(k * 0.05);
			double amp = (k / 12) % 3 == 2 ? 0.0 :
				3000.0 * (0.6 + 0.4 * sin(k * 0.3));

			for (i = 0; i < N; i++) {
				double v = 0;

				for (h = 1; h <= 25; h++) {
					double f = h * f0;
					double w = 1.0 / (1.0 + pow(
						(f - 700.0) / 300.0, 2)) +
						0.5 / (1.0 + pow(
						(f - 1200.0) / 250.0, 2));

					v += w * sin(h * ph);
				}
				v = amp * v / 3.0 + (rand() % 601 - 300);
				x[i] = (int16_t)(v > 32767 ? 32767 :
						 v < -32768 ? -32768 : v);
				ph += 2.0 * PI * f0 / 8000.0;
			}
			alaw_pass(x, N);
			media_cpd_process(d, x, N);
		}
		/* DTMF: digits of 100 ms with 100 ms gaps, and long ones */
		assert_int_equal(media_dtmf_tx_alloc(&tx), 0);
		for (k = 0; k < 1000; k++) {
			if (k % 100 == 0)
				media_dtmf_tx_put(tx, k % 200 ? "1234#" :
						  "5", k % 200 ? 100 : 1000,
						  k % 200 ? 100 : 200);
			memset(x, 0, sizeof(x));
			media_dtmf_tx_fill(tx, x, N);
			alaw_pass(x, N);
			media_cpd_process(d, x, N);
		}
		for (i = 0; i < MEDIA_TONE_COUNT; i++)
			assert_int_equal(s.on[i], 0);
		tx = gw_mem_deref(tx);
		d = gw_mem_deref(d);
	}
	assert_int_equal(media_cpd_alloc(&d, 0, NULL, NULL), EINVAL);
	assert_int_equal(media_cpd_alloc(&d, 99, on_cpd, &s), EINVAL);
}

/* The detector dropped from its own handler. */
static void on_drop(enum media_tone t, bool on, unsigned ms, void *arg)
{
	struct media_cpd **dp = arg;

	(void)t;
	(void)on;
	(void)ms;
	*dp = gw_mem_deref(*dp);
}

static void test_cpd_drop_in_handler(void **state)
{
	struct media_tonegen *g = NULL;
	struct media_cpd *d = NULL;
	int16_t x[8000];
	int k;

	(void)state;
	assert_int_equal(media_tonegen_alloc(&g, 0, MEDIA_TONE_BUSY), 0);
	assert_int_equal(media_cpd_alloc(&d, 0, on_drop, &d), 0);
	for (k = 0; k < 5 && d; k++) {
		media_tonegen_fill(g, x, GW_ARRAY_SIZE(x));
		media_cpd_process(d, x, GW_ARRAY_SIZE(x));
	}
	assert_null(d);
	gw_mem_deref(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_cpd_each_tone),
		UNIT_TEST(test_cpd_speech_dtmf),
		UNIT_TEST(test_cpd_drop_in_handler),
	};

	gw_log_set_levels("warn");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
