/* bench/bench_codec.c - codec CPU cost: encode + decode, ns per sample */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tiffio.h>
#include <spandsp.h>

#include "media.h"

/*
 * For each codec: encode and decode one second of a speech-like
 * multi-tone at -20 dBm0 in 20 ms packets, over and over, and report the
 * thread CPU time per 8 kHz sample (the median of 5 runs, min and max
 * beside it) and what that leaves per core: the channels one core could
 * code and decode in real time with nothing else to do.  spandsp's
 * inline G.711 (linear_to_alaw/alaw_to_linear) runs alongside as the
 * reference of notes/performance.md, so that the ratio holds on a noisy
 * machine.  Figures, not assertions: a benchmark never fails.
 *
 *   bench_codec [seconds of audio per run, default 20]
 */

#define RATE		8000
#define PTIME		160		/* 20 ms */
#define RUNS		5
#define MAX_PAYLOAD	1500

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void make_signal(int16_t *x, size_t n)
{
	size_t i;
	int k;

	/* harmonics of 150 Hz to 3300 Hz, falling 3 dB an octave */
	for (i = 0; i < n; i++) {
		double v = 0;

		for (k = 2; k <= 22; k++)
			v += sin(2 * M_PI * 150 * k * (double)i / RATE +
				 M_PI * k * k / 21) / sqrt(k);
		x[i] = (int16_t)lrint(v * 400);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A sink the compiler cannot see through. */
static volatile int sink;

/* ns per sample for secs seconds of audio through codec id (-1: spandsp). */
static double run_once(int id, const int16_t *sig, unsigned secs)
{
	struct media_codec *c = NULL;
	uint8_t pkt[MAX_PAYLOAD];
	int16_t out[PTIME];
	double t0, t;
	unsigned s;
	size_t off;
	int acc = 0;

	if (id >= 0 && media_codec_alloc(&c, (enum media_codec_id)id,
					 NULL)) {
		fprintf(stderr, "cannot create codec %d\n", id);
		exit(1);
	}
	t0 = now_ns();
	for (s = 0; s < secs; s++) {
		for (off = 0; off < RATE; off += PTIME) {
			int len, i;

			if (id < 0) {
				for (i = 0; i < PTIME; i++)
					pkt[i] = linear_to_alaw(sig[off + i]);
				for (i = 0; i < PTIME; i++)
					out[i] = alaw_to_linear(pkt[i]);
				acc += out[PTIME - 1];
				continue;
			}
			len = media_codec_encode(c, sig + off, PTIME, pkt,
						 sizeof(pkt));
			if (len <= 0 ||
			    media_codec_decode(c, pkt, (size_t)len, out,
					       PTIME) != PTIME) {
				fprintf(stderr, "codec %d failed\n", id);
				exit(1);
			}
			acc += out[PTIME - 1];
		}
	}
	t = now_ns() - t0;
	sink = acc;
	gw_mem_deref(c);
	return t / ((double)secs * RATE);
}

int main(int argc, char **argv)
{
	unsigned secs = argc > 1 ? (unsigned)atoi(argv[1]) : 20;
	int16_t *sig = malloc(RATE * sizeof(*sig));
	double ref = 0;
	int id, r;

	if (!sig || secs == 0) {
		fprintf(stderr, "usage: bench_codec [seconds]\n");
		return 1;
	}
	make_signal(sig, RATE);
	printf("encode + decode, 20 ms packets, %u s of audio per run, "
	       "median of %d\n", secs, RUNS);
	printf("%-22s %10s %17s %10s %8s\n", "codec", "ns/sample",
	       "[min - max]", "ch/core", "x G.711");
	for (id = -1; id < MEDIA_CODEC_COUNT; id++) {
		const struct media_codec_info *ci =
			media_codec_info((enum media_codec_id)id);
		const char *name = ci ? ci->name : "spandsp inline G.711A";
		/* G.711 runs are short: give them more audio */
		unsigned n = id <= MEDIA_PCMU ? secs * 20 : secs;
		double t[RUNS], med;

		run_once(id, sig, 1);		/* warm up */
		for (r = 0; r < RUNS; r++)
			t[r] = run_once(id, sig, n);
		qsort(t, RUNS, sizeof(t[0]), cmp_double);
		med = t[RUNS / 2];
		if (id < 0)
			ref = med;
		printf("%-22s %10.2f   [%6.2f - %6.2f] %10.0f %8.2f\n", name,
		       med, t[0], t[RUNS - 1], 1e9 / (med * RATE), med / ref);
	}
	free(sig);
	return 0;
}
