/* tests/unit/test_media_dsp.c - DTMF, tones, echo, E-model: measured */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>	/* spandsp.h needs it first */
#include <spandsp.h>

#include "unit.h"
#include "media.h"

/*
 * Every measurement here is made independently of media/: the test
 * carries its own expected values (taken from the standards, not from
 * media/tone.c's table), its own Goertzel/DTFT analysis and its own
 * level reference (a sine at 0 dBm0 peaks 3.14 dB below the 16-bit full
 * scale, as G.711 and spandsp have it).  Audio crosses A-law where it
 * would cross the E1, with spandsp's G.711.  Figures worth keeping
 * (ERLE, convergence, tone accuracy) are printed on stderr.
 */

#define FS		8000.0
#define N		MEDIA_TICK_SAMPLES
#define DBM0_PEAK	22776.0		/* 32767 * 10^(-3.14/20) */
#define DBM0_POWER	(0.5 * DBM0_PEAK * DBM0_PEAK)
#define PI		3.14159265358979323846

static void alaw_pass(int16_t *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		x[i] = alaw_to_linear(linear_to_alaw(x[i]));
}

static double power_dbm0(const int16_t *x, size_t n)
{
	double e = 0;
	size_t i;

	for (i = 0; i < n; i++)
		e += (double)x[i] * x[i];
	if (e <= 0)
		return -99.0;
	return 10.0 * log10(e / n / DBM0_POWER);
}

/* A small deterministic generator, so that every run hears the same. */
static uint32_t rnd_state;

static double rnd_uniform(void)
{
	rnd_state = rnd_state * 1664525u + 1013904223u;
	return (rnd_state >> 8) / 16777216.0;
}

static double rnd_gauss(void)
{
	double u = rnd_uniform() + 1e-12, v = rnd_uniform();

	return sqrt(-2.0 * log(u)) * cos(2 * PI * v);
}

static int16_t clip16(double v)
{
	if (v > 32767)
		return 32767;
	if (v < -32768)
		return -32768;
	return (int16_t)lrint(v);
}

/* ---- speech-like signals ----------------------------------------------- */

/*
 * Voiced speech, roughly: a glottal pulse train as harmonics of a pitch
 * that wanders (90..260 Hz), shaped by three formants that glide from
 * vowel to vowel, with a syllabic envelope and pauses, and a little
 * unvoiced noise.  Its harmonics sweep through every DTMF and fax
 * frequency, which is what talk-off tests need.
 */
struct speech {
	double t;
	double f0, f0_target;
	double form[3], form_target[3];
	double ph[40];
	double env, env_target;
	unsigned syl_left;		/* samples left in this syllable */
	double level;			/* rms while voiced, linear */
};

static void speech_init(struct speech *s, double level_dbm0, double f0)
{
	memset(s, 0, sizeof(*s));
	s->f0 = s->f0_target = f0;
	s->form[0] = s->form_target[0] = 500;
	s->form[1] = s->form_target[1] = 1500;
	s->form[2] = s->form_target[2] = 2500;
	s->level = sqrt(DBM0_POWER) * pow(10.0, level_dbm0 / 20.0);
}

static double formant_gain(const struct speech *s, double f)
{
	static const double bw[3] = { 90, 120, 160 };
	double g = 0;
	int i;

	for (i = 0; i < 3; i++) {
		double d = (f - s->form[i]) / bw[i];

		g += 1.0 / (1.0 + d * d) / (1 + i);
	}
	return g * 300.0 / (300.0 + f);		/* -6 dB/octave tilt */
}

static void speech_fill(struct speech *s, int16_t *x, size_t n)
{
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		double v = 0, norm = 0;

		if (s->syl_left == 0) {
			/* Next syllable: 120..400 ms, a pause one time in
			 * four, a new vowel and pitch target. */
			s->syl_left = 960 + (unsigned)(rnd_uniform() * 2240);
			s->env_target = rnd_uniform() < 0.25 ? 0.0 :
					0.5 + rnd_uniform();
			s->f0_target = 90 + rnd_uniform() * 170;
			s->form_target[0] = 250 + rnd_uniform() * 600;
			s->form_target[1] = 850 + rnd_uniform() * 1450;
			s->form_target[2] = 2200 + rnd_uniform() * 800;
		}
		s->syl_left--;
		s->env += (s->env_target - s->env) * 0.002;
		s->f0 += (s->f0_target - s->f0) * 0.0005;
		for (k = 0; k < 3; k++)
			s->form[k] += (s->form_target[k] - s->form[k]) *
				      0.0008;
		for (k = 0; k < 40; k++) {
			double f = s->f0 * (k + 1);
			double g;

			if (f > 3600)
				break;
			g = formant_gain(s, f);
			s->ph[k] += 2 * PI * f / FS;
			if (s->ph[k] > 2 * PI)
				s->ph[k] -= 2 * PI;
			v += g * sin(s->ph[k]);
			norm += g * g / 2;
		}
		v = v / sqrt(norm + 1e-9) + 0.05 * rnd_gauss();
		x[i] = clip16(v * s->level * s->env);
	}
}

/*
 * Speech-like noise for the echo canceller (G.168 uses a composite
 * source signal or shaped noise): Gaussian noise through a resonator at
 * 600 Hz and a first difference, which gives roughly speech's long-term
 * spectrum on a telephone line (little below 200 Hz, a broad peak at
 * 500-800 Hz, falling above), in bursts of 0.2..1.2 s with pauses of
 * 0.1..0.5 s.
 */
struct spnoise {
	double x1, y1, y2;
	double a1, a2, gain;
	unsigned left;
	bool on;
	double level;
};

static double spnoise_next(struct spnoise *s)
{
	double x = rnd_gauss();
	double y = (x - s->x1) + s->a1 * s->y1 - s->a2 * s->y2;

	s->x1 = x;
	s->y2 = s->y1;
	s->y1 = y;
	return y;
}

static void spnoise_init(struct spnoise *s, double level_dbm0)
{
	double r = 0.85, e = 0;
	int i;

	memset(s, 0, sizeof(*s));
	s->a1 = 2 * r * cos(2 * PI * 600 / FS);
	s->a2 = r * r;
	for (i = 0; i < 80000; i++) {
		double y = spnoise_next(s);

		e += y * y;
	}
	s->gain = 1.0 / sqrt(e / 80000);
	s->level = sqrt(DBM0_POWER) * pow(10.0, level_dbm0 / 20.0);
}

static void spnoise_fill(struct spnoise *s, int16_t *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		double y = spnoise_next(s) * s->gain * s->level;

		if (s->left == 0) {
			s->on = !s->on;
			s->left = s->on ?
				  1600 + (unsigned)(rnd_uniform() * 8000) :
				  800 + (unsigned)(rnd_uniform() * 3200);
		}
		s->left--;
		x[i] = s->on ? clip16(y) : 0;
	}
}

/* ---- analysis ---------------------------------------------------------- */

/* Amplitude of the component at f in x, by a Hann-windowed DTFT. */
static double dtft_amp(const int16_t *x, size_t n, double f)
{
	double re = 0, im = 0, wsum = 0;
	double c = cos(2 * PI * f / FS), s = sin(2 * PI * f / FS);
	double cr = 1, ci = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		double w = 0.5 - 0.5 * cos(2 * PI * (i + 0.5) / n);
		double t;

		re += w * x[i] * cr;
		im -= w * x[i] * ci;
		wsum += w;
		t = cr * c - ci * s;
		ci = cr * s + ci * c;
		cr = t;
	}
	return 2.0 * sqrt(re * re + im * im) / wsum;
}

/* The frequency of the strongest component within 15 Hz of f. */
static double peak_freq(const int16_t *x, size_t n, double f)
{
	double best = f, a, step;
	double bestamp = -1;
	int i;

	for (i = -30; i <= 30; i++) {
		a = dtft_amp(x, n, f + i * 0.5);
		if (a > bestamp) {
			bestamp = a;
			best = f + i * 0.5;
		}
	}
	for (step = 0.25; step >= 0.01; step /= 2) {
		double lo = dtft_amp(x, n, best - step);
		double hi = dtft_amp(x, n, best + step);

		if (lo > bestamp && lo >= hi) {
			best -= step;
			bestamp = lo;
		} else if (hi > bestamp) {
			best += step;
			bestamp = hi;
		}
	}
	return best;
}

static double amp_dbm0(double amp)
{
	return 20.0 * log10(amp / DBM0_PEAK + 1e-12);
}

/* ---- DTMF -------------------------------------------------------------- */

struct seen {
	char starts[256];
	char ends[256];
	unsigned dur[256];
	size_t nstart, nend;
	bool order_bad;			/* an end without its start */
	char open;
};

static void on_digit(char digit, bool end, unsigned duration_ms, void *arg)
{
	struct seen *s = arg;

	if (!end) {
		if (s->open)
			s->order_bad = true;
		if (s->nstart < sizeof(s->starts) - 1)
			s->starts[s->nstart++] = digit;
		s->open = digit;
		return;
	}
	if (s->open != digit)
		s->order_bad = true;
	s->open = 0;
	if (s->nend < sizeof(s->ends) - 1) {
		s->dur[s->nend] = duration_ms;
		s->ends[s->nend++] = digit;
	}
}

static const char all_digits[] = "1234567890*#ABCD";

/* Generator -> A-law with noise -> detector, until the generator is
 * done and 300 ms more. */
static void dtmf_through(struct media_dtmf_tx *tx, struct media_dtmf_rx *rx,
			 double noise_dbm0)
{
	awgn_state_t *noise = NULL;
	int16_t x[N];
	unsigned tail = 0;

	if (noise_dbm0 > -99)
		noise = awgn_init_dbm0(NULL, 1234567, (float)noise_dbm0);
	while (tail < 300 / MEDIA_TICK_MS) {
		size_t i;

		if (media_dtmf_tx_fill(tx, x, N) == 0) {
			memset(x, 0, sizeof(x));
			tail++;
		}
		for (i = 0; noise && i < N; i++)
			x[i] = clip16((double)x[i] + awgn(noise));
		alaw_pass(x, N);
		media_dtmf_rx_process(rx, x, N);
	}
	if (noise)
		awgn_free(noise);
}

static void dtmf_exactly_once(unsigned on_ms, unsigned off_ms)
{
	struct media_dtmf_tx *tx = NULL;
	struct media_dtmf_rx *rx = NULL;
	struct seen s;
	unsigned dmin = 9999, dmax = 0;
	size_t i;

	memset(&s, 0, sizeof(s));
	assert_int_equal(media_dtmf_tx_alloc(&tx), 0);
	assert_int_equal(media_dtmf_rx_alloc(&rx, on_digit, &s), 0);
	assert_int_equal(media_dtmf_tx_put(tx, all_digits, on_ms, off_ms),
			 0);
	assert_true(media_dtmf_tx_busy(tx));
	dtmf_through(tx, rx, -40.0);
	assert_false(media_dtmf_tx_busy(tx));
	s.starts[s.nstart] = '\0';
	s.ends[s.nend] = '\0';
	assert_string_equal(s.starts, all_digits);
	assert_string_equal(s.ends, all_digits);
	assert_false(s.order_bad);
	for (i = 0; i < s.nend; i++) {
		if (s.dur[i] < dmin)
			dmin = s.dur[i];
		if (s.dur[i] > dmax)
			dmax = s.dur[i];
		/* one detection block (12.75 ms) either way, and a bit */
		assert_in_range(s.dur[i], on_ms - 20, on_ms + 20);
	}
	fprintf(stderr, "# dtmf %u/%u ms in -40 dBm0 noise: 16/16 digits, "
		"durations %u..%u ms\n", on_ms, off_ms, dmin, dmax);
	gw_mem_deref(tx);
	gw_mem_deref(rx);
}

/* ITU-T Q.24 timing at the minimum we send, and a relaxed 100/100. */
static void test_dtmf_50_50(void **state)
{
	(void)state;
	dtmf_exactly_once(50, 50);
}

static void test_dtmf_100_100(void **state)
{
	(void)state;
	dtmf_exactly_once(100, 100);
}

/* RFC 4733 relay: each digit started by its first event and stopped by
 * its end, with no pause between one end and the next start, lengths
 * from shorter than our 50 ms minimum to long, equal digits back to
 * back.  The line must still carry each exactly once. */
static void test_dtmf_live(void **state)
{
	static const char digits[] = "1122*#0099AD5555";
	static const unsigned len_ms[] = { 20, 40, 60, 80, 100, 140, 200,
					   300, 20, 60, 120, 60, 40, 40, 40,
					   500 };
	struct media_dtmf_tx *tx = NULL;
	struct media_dtmf_rx *rx = NULL;
	awgn_state_t *noise = awgn_init_dbm0(NULL, 7, -40.0f);
	struct seen s;
	int16_t x[N];
	size_t d, i;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(media_dtmf_tx_alloc(&tx), 0);
	assert_int_equal(media_dtmf_rx_alloc(&rx, on_digit, &s), 0);
	for (d = 0; d < sizeof(digits) - 1; d++) {
		unsigned ticks = (len_ms[d] + MEDIA_TICK_MS - 1) /
				 MEDIA_TICK_MS, t;

		assert_int_equal(media_dtmf_tx_start(tx, digits[d]), 0);
		for (t = 0; t < ticks; t++) {
			assert_int_equal(media_dtmf_tx_fill(tx, x, N), N);
			for (i = 0; i < N; i++)
				x[i] = clip16((double)x[i] + awgn(noise));
			alaw_pass(x, N);
			media_dtmf_rx_process(rx, x, N);
		}
		media_dtmf_tx_stop(tx);
	}
	dtmf_through(tx, rx, -40.0);
	s.starts[s.nstart] = '\0';
	s.ends[s.nend] = '\0';
	assert_string_equal(s.starts, digits);
	assert_string_equal(s.ends, digits);
	assert_false(s.order_bad);
	/* Each is heard as long as its event lasted (whole ticks), or 50
	 * ms if shorter, within the receiver's block (12.75 ms) and a bit. */
	for (d = 0; d < sizeof(digits) - 1; d++) {
		unsigned want = ((len_ms[d] + MEDIA_TICK_MS - 1) /
				 MEDIA_TICK_MS) * MEDIA_TICK_MS;

		if (want < 50)
			want = 50;
		assert_in_range(s.dur[d], want - 20, want + 20);
	}
	fprintf(stderr, "# dtmf live (RFC 4733 start/stop, 20..500 ms, no "
		"gaps): %zu/16 digits\n", s.nend);
	awgn_free(noise);
	gw_mem_deref(tx);
	gw_mem_deref(rx);
}

/* Digits from another generator (the PSTN side: a phone at its own level
 * and twist) are detected too, down to -25 dBm0 per tone. */
static void test_dtmf_detect_foreign(void **state)
{
	static const struct { int level, twist; } cases[] = {
		{ -4, 2 }, { -10, 0 }, { -16, -3 }, { -25, 3 },
	};
	size_t c;

	(void)state;
	for (c = 0; c < GW_ARRAY_SIZE(cases); c++) {
		dtmf_tx_state_t *gen = dtmf_tx_init(NULL);
		struct media_dtmf_rx *rx = NULL;
		struct seen s;
		int16_t x[N];
		int k;

		memset(&s, 0, sizeof(s));
		assert_int_equal(media_dtmf_rx_alloc(&rx, on_digit, &s), 0);
		dtmf_tx_set_level(gen, cases[c].level, cases[c].twist);
		dtmf_tx_set_timing(gen, 60, 60);
		dtmf_tx_put(gen, all_digits, -1);
		for (k = 0; k < 150; k++) {
			int got = dtmf_tx(gen, x, N);

			if (got < N)
				memset(x + got, 0, (N - got) * sizeof(*x));
			alaw_pass(x, N);
			media_dtmf_rx_process(rx, x, N);
		}
		s.starts[s.nstart] = '\0';
		assert_string_equal(s.starts, all_digits);
		assert_int_equal(s.nend, 16);
		dtmf_tx_free(gen);
		gw_mem_deref(rx);
	}
}

/* Speech's harmonics must not make digits (talk-off). */
static void test_dtmf_talkoff(void **state)
{
	struct media_dtmf_rx *rx = NULL;
	struct speech sp;
	struct seen s;
	int16_t x[N];
	unsigned k, voices;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(media_dtmf_rx_alloc(&rx, on_digit, &s), 0);
	rnd_state = 42;
	/* Three talkers, 20 s each, loud to quiet. */
	for (voices = 0; voices < 3; voices++) {
		speech_init(&sp, -12.0 - 6.0 * voices, 100 + 60 * voices);
		for (k = 0; k < 20 * 1000 / MEDIA_TICK_MS; k++) {
			speech_fill(&sp, x, N);
			alaw_pass(x, N);
			media_dtmf_rx_process(rx, x, N);
		}
	}
	assert_int_equal(s.nstart, 0);
	fprintf(stderr, "# dtmf talk-off: 60 s of speech-like multitone, "
		"%zu false digits\n", s.nstart);
	gw_mem_deref(rx);
}

/* The same on real speech, when SIPp's recorded A-law announcement is
 * installed (/usr/share/sip-tester/g711a.pcap: RTP PCMA). */
static void test_dtmf_talkoff_recorded(void **state)
{
	FILE *f = fopen("/usr/share/sip-tester/g711a.pcap", "rb");
	struct media_dtmf_rx *rx = NULL;
	struct seen s;
	uint8_t buf[2048];
	int16_t x[sizeof(buf)];
	size_t total = 0;

	(void)state;
	if (!f) {
		skip();
		return;
	}
	memset(&s, 0, sizeof(s));
	assert_int_equal(media_dtmf_rx_alloc(&rx, on_digit, &s), 0);
	assert_int_equal(fread(buf, 1, 24, f), 24);	/* pcap header */
	for (;;) {
		uint32_t incl;
		size_t i, len;

		if (fread(buf, 1, 16, f) != 16)
			break;
		memcpy(&incl, buf + 8, 4);		/* little-endian */
		if (incl > sizeof(buf) || fread(buf, 1, incl, f) != incl)
			break;
		/* Ethernet 14 + IPv4 20 + UDP 8, then RTP v2 PT 8 */
		if (incl <= 54 || (buf[42] & 0xc0) != 0x80 ||
		    (buf[43] & 0x7f) != 8)
			continue;
		len = incl - 54;
		for (i = 0; i < len; i++)
			x[i] = alaw_to_linear(buf[54 + i]);
		media_dtmf_rx_process(rx, x, len);
		total += len;
	}
	fclose(f);
	assert_true(total > 5 * 8000);
	assert_int_equal(s.nstart, 0);
	fprintf(stderr, "# dtmf talk-off: %.1f s of recorded speech, %zu "
		"false digits\n", total / FS, s.nstart);
	gw_mem_deref(rx);
}

static void test_dtmf_api(void **state)
{
	struct media_dtmf_tx *tx = NULL;
	struct media_dtmf_rx *rx = NULL;
	int16_t x[N];
	char many[65];

	(void)state;
	assert_int_equal(media_dtmf_rx_alloc(&rx, NULL, NULL), EINVAL);
	assert_null(rx);
	assert_int_equal(media_dtmf_tx_alloc(&tx), 0);
	x[0] = 1234;
	assert_int_equal(media_dtmf_tx_fill(tx, x, N), 0);	/* idle */
	assert_int_equal(x[0], 1234);				/* untouched */
	assert_false(media_dtmf_tx_busy(tx));
	assert_int_equal(media_dtmf_tx_put(tx, "12x", 100, 100), EINVAL);
	assert_int_equal(media_dtmf_tx_put(tx, "1", 30, 100), EINVAL);
	assert_int_equal(media_dtmf_tx_put(tx, "1", 100, 20), EINVAL);
	assert_int_equal(media_dtmf_tx_put(tx, "1", 20000, 100), EINVAL);
	assert_false(media_dtmf_tx_busy(tx));			/* nothing */
	assert_int_equal(media_dtmf_tx_start(tx, 'x'), EINVAL);
	assert_int_equal(media_dtmf_tx_start(tx, '\0'), EINVAL);
	memset(many, '5', 64);
	many[64] = '\0';
	assert_int_equal(media_dtmf_tx_put(tx, many, 50, 50), 0);
	assert_int_equal(media_dtmf_tx_put(tx, "1", 50, 50), ENOBUFS);
	assert_int_equal(media_dtmf_tx_start(tx, '1'), ENOBUFS);
	gw_mem_deref(tx);

	/* Lowercase A-D, a stop without a start, and a digit that plays
	 * its on time, its off time, and then nothing. */
	assert_int_equal(media_dtmf_tx_alloc(&tx), 0);
	media_dtmf_tx_stop(tx);
	assert_int_equal(media_dtmf_tx_put(tx, "d", 60, 60), 0);
	assert_int_equal(media_dtmf_tx_fill(tx, x, N), N);	/* 0..20 */
	/* -8 and -6 dBm0: -3.9 dBm0 together */
	assert_true(fabs(power_dbm0(x, N) + 3.9) < 0.3);
	assert_int_equal(media_dtmf_tx_fill(tx, x, N), N);	/* ..40 */
	assert_int_equal(media_dtmf_tx_fill(tx, x, N), N);	/* ..60 */
	assert_true(power_dbm0(x + 120, 40) > -6.0);		/* tone */
	assert_int_equal(media_dtmf_tx_fill(tx, x, N), N);	/* ..80 */
	assert_true(power_dbm0(x, N) == -99.0);			/* pause */
	assert_int_equal(media_dtmf_tx_fill(tx, x, N), N);	/* ..100 */
	assert_int_equal(media_dtmf_tx_fill(tx, x, N), N);	/* ..120 */
	assert_false(media_dtmf_tx_busy(tx));
	assert_int_equal(media_dtmf_tx_fill(tx, x, N), 0);
	gw_mem_deref(tx);
}

/* A handler may drop the receiver that calls it; nothing is reported
 * after that. */
struct drop_ctx {
	struct media_dtmf_rx *rx;
	unsigned calls;
};

static void drop_on_digit(char digit, bool end, unsigned ms, void *arg)
{
	struct drop_ctx *c = arg;

	(void)digit;
	(void)end;
	(void)ms;
	c->calls++;
	c->rx = gw_mem_deref(c->rx);
}

static void test_dtmf_handler_drops(void **state)
{
	struct media_dtmf_tx *tx = NULL;
	struct drop_ctx c = { NULL, 0 };
	int16_t x[8000];

	(void)state;
	assert_int_equal(media_dtmf_tx_alloc(&tx), 0);
	assert_int_equal(media_dtmf_rx_alloc(&c.rx, drop_on_digit, &c), 0);
	assert_int_equal(media_dtmf_tx_put(tx, "123", 60, 60), 0);
	assert_int_equal(media_dtmf_tx_fill(tx, x, 8000), 8000);
	media_dtmf_rx_process(c.rx, x, 8000);	/* one call: the rx goes */
	assert_int_equal(c.calls, 1);
	assert_null(c.rx);
	gw_mem_deref(tx);
}

/* ---- call-progress tones ----------------------------------------------- */

struct seg_spec {
	double f1, f2;			/* Hz, 0: none (silence if f1 0) */
	double level;			/* dBm0, each component */
	unsigned ms;			/* 0: continuous */
};

struct tone_spec {
	const char *country;
	enum media_tone tone;
	unsigned nseg;
	struct seg_spec seg[6];
};

/* From the standards (see media/tone.c for the citations). */
static const struct tone_spec tone_specs[] = {
	{ "itu", MEDIA_TONE_DIAL, 1, { { 425, 0, -10, 0 } } },
	{ "itu", MEDIA_TONE_RINGBACK, 2, { { 425, 0, -10, 1000 },
					   { 0, 0, 0, 4000 } } },
	{ "itu", MEDIA_TONE_BUSY, 2, { { 425, 0, -10, 500 },
				       { 0, 0, 0, 500 } } },
	{ "itu", MEDIA_TONE_CONGESTION, 2, { { 425, 0, -10, 250 },
					     { 0, 0, 0, 250 } } },
	{ "itu", MEDIA_TONE_SIT, 4, { { 950, 0, -10, 330 },
				      { 1400, 0, -10, 330 },
				      { 1800, 0, -10, 330 },
				      { 0, 0, 0, 1000 } } },
	{ "itu", MEDIA_TONE_CALLWAIT, 4, { { 425, 0, -10, 200 },
					   { 0, 0, 0, 200 },
					   { 425, 0, -10, 200 },
					   { 0, 0, 0, 5000 } } },
	{ "us", MEDIA_TONE_DIAL, 1, { { 350, 440, -13, 0 } } },
	{ "us", MEDIA_TONE_RINGBACK, 2, { { 440, 480, -19, 2000 },
					  { 0, 0, 0, 4000 } } },
	{ "us", MEDIA_TONE_BUSY, 2, { { 480, 620, -24, 500 },
				      { 0, 0, 0, 500 } } },
	{ "us", MEDIA_TONE_CONGESTION, 2, { { 480, 620, -24, 250 },
					    { 0, 0, 0, 250 } } },
	{ "us", MEDIA_TONE_SIT, 4, { { 985.2, 0, -13, 380 },
				     { 1370.6, 0, -13, 274 },
				     { 1776.7, 0, -13, 380 },
				     { 0, 0, 0, 4000 } } },
	{ "us", MEDIA_TONE_CALLWAIT, 2, { { 440, 0, -13, 300 },
					  { 0, 0, 0, 9700 } } },
	{ "uk", MEDIA_TONE_DIAL, 1, { { 350, 440, -13, 0 } } },
	{ "uk", MEDIA_TONE_RINGBACK, 4, { { 400, 450, -13, 400 },
					  { 0, 0, 0, 200 },
					  { 400, 450, -13, 400 },
					  { 0, 0, 0, 2000 } } },
	{ "uk", MEDIA_TONE_BUSY, 2, { { 400, 0, -10, 375 },
				      { 0, 0, 0, 375 } } },
	{ "uk", MEDIA_TONE_CONGESTION, 4, { { 400, 0, -10, 400 },
					    { 0, 0, 0, 350 },
					    { 400, 0, -10, 225 },
					    { 0, 0, 0, 525 } } },
	{ "uk", MEDIA_TONE_SIT, 4, { { 950, 0, -10, 330 },
				     { 1400, 0, -10, 330 },
				     { 1800, 0, -10, 330 },
				     { 0, 0, 0, 1000 } } },
	{ "uk", MEDIA_TONE_CALLWAIT, 2, { { 400, 0, -10, 100 },
					  { 0, 0, 0, 4000 } } },
	{ "itu", MEDIA_TONE_MILLIWATT, 1, { { 1004, 0, -10, 0 } } },
	{ "us", MEDIA_TONE_MILLIWATT, 1, { { 1004, 0, -10, 0 } } },
	{ "uk", MEDIA_TONE_MILLIWATT, 1, { { 1004, 0, -10, 0 } } },
};

#define TONE_MAX_SAMPLES	(2 * 10000 * 8)	/* two 10 s cycles */

static int16_t tone_buf[TONE_MAX_SAMPLES];

/* Worst errors over all tones, for the report. */
static double worst_df, worst_dl;
static int worst_dt;

static void check_component(const int16_t *x, size_t n, double f,
			    double level)
{
	double fm = peak_freq(x, n, f);
	double lm = amp_dbm0(dtft_amp(x, n, fm));

	if (fabs(fm - f) > worst_df)
		worst_df = fabs(fm - f);
	if (fabs(lm - level) > worst_dl)
		worst_dl = fabs(lm - level);
	if (fabs(fm - f) > 2.0 || fabs(lm - level) > 1.0)
		print_error("  %.1f Hz at %.1f dBm0: measured %.2f Hz at "
			    "%.2f dBm0\n", f, level, fm, lm);
	assert_true(fabs(fm - f) <= 2.0);
	assert_true(fabs(lm - level) <= 1.0);
}

static void check_tone(const struct tone_spec *ts)
{
	struct media_tonegen *g = NULL;
	unsigned country, cycle_ms = 0, i;
	size_t n, pos, ms;
	size_t nruns = 0, k;
	unsigned runs[64], expect[64];
	bool run_on[64], expect_on[64];
	size_t nexpect = 0;

	assert_int_equal(media_tone_country_parse(ts->country, &country), 0);
	assert_int_equal(media_tonegen_alloc(&g, country, ts->tone), 0);
	for (i = 0; i < ts->nseg; i++)
		cycle_ms += ts->seg[i].ms;
	n = cycle_ms ? 2 * cycle_ms * 8 : 8000;
	assert_true(n <= TONE_MAX_SAMPLES);
	for (pos = 0; pos < n; pos += N)
		media_tonegen_fill(g, tone_buf + pos, N);
	gw_mem_deref(g);
	alaw_pass(tone_buf, n);

	if (cycle_ms == 0) {
		/* continuous: one second, every component */
		check_component(tone_buf, 8000, ts->seg[0].f1,
				ts->seg[0].level);
		if (ts->seg[0].f2 > 0)
			check_component(tone_buf, 8000, ts->seg[0].f2,
					ts->seg[0].level);
		assert_true(power_dbm0(tone_buf, 8000) > -30);
		return;
	}

	/* Cadence: on/off per millisecond, as runs, against the spec's
	 * segments with adjacent tones (SIT) and silences merged. */
	for (ms = 0; ms < n / 8; ms++) {
		double e = 0;
		bool on;

		for (k = 0; k < 8; k++)
			e += (double)tone_buf[ms * 8 + k] *
			     tone_buf[ms * 8 + k];
		on = e / 8 > 30.0 * 30.0;
		if (nruns > 0 && run_on[nruns - 1] == on) {
			runs[nruns - 1]++;
		} else {
			assert_true(nruns < GW_ARRAY_SIZE(runs));
			run_on[nruns] = on;
			runs[nruns++] = 1;
		}
	}
	for (i = 0; i < 2 * ts->nseg; i++) {
		const struct seg_spec *sg = &ts->seg[i % ts->nseg];
		bool on = sg->f1 > 0;

		if (nexpect > 0 && expect_on[nexpect - 1] == on) {
			expect[nexpect - 1] += sg->ms;
		} else {
			expect_on[nexpect] = on;
			expect[nexpect++] = sg->ms;
		}
	}
	assert_int_equal(nruns, nexpect);
	for (k = 0; k < nruns; k++) {
		int dt = (int)runs[k] - (int)expect[k];

		assert_int_equal(run_on[k], expect_on[k]);
		if (abs(dt) > worst_dt)
			worst_dt = abs(dt);
		assert_in_range(runs[k], expect[k] - 20, expect[k] + 20);
	}

	/* Each tone segment of the first cycle: frequency and level, away
	 * from its edges. */
	pos = 0;
	for (i = 0; i < ts->nseg; i++) {
		const struct seg_spec *sg = &ts->seg[i];
		size_t a = pos + 80, len = sg->ms * 8 - 160;

		if (sg->f1 > 0) {
			check_component(tone_buf + a, len, sg->f1, sg->level);
			if (sg->f2 > 0)
				check_component(tone_buf + a, len, sg->f2,
						sg->level);
		}
		pos += sg->ms * 8;
	}
}

static void test_tones(void **state)
{
	size_t i;

	(void)state;
	worst_df = worst_dl = 0;
	worst_dt = 0;
	for (i = 0; i < GW_ARRAY_SIZE(tone_specs); i++)
		check_tone(&tone_specs[i]);
	fprintf(stderr, "# tones: %zu (itu, us, uk, milliwatt): worst "
		"frequency error %.2f Hz, level %.2f dB, cadence %d ms\n",
		GW_ARRAY_SIZE(tone_specs), worst_df, worst_dl, worst_dt);
}

/* The test tone of DESIGN.md's 2000 line, on its own: 1004 Hz at
 * -10 dBm0, after A-law, to within 2 Hz and 1 dB (the Tests). */
static void test_milliwatt(void **state)
{
	struct media_tonegen *g = NULL;
	static int16_t x[8000];
	double f, l;
	size_t pos;

	(void)state;
	assert_int_equal(media_tonegen_alloc(&g, 0, MEDIA_TONE_MILLIWATT), 0);
	for (pos = 0; pos < 8000; pos += N)
		media_tonegen_fill(g, x + pos, N);
	gw_mem_deref(g);
	alaw_pass(x, 8000);
	f = peak_freq(x, 8000, 1004);
	l = amp_dbm0(dtft_amp(x, 8000, f));
	fprintf(stderr, "# milliwatt: %.2f Hz at %.2f dBm0 (Goertzel/DTFT "
		"peak; total power %.2f dBm0)\n", f, l, power_dbm0(x, 8000));
	assert_true(fabs(f - 1004) <= 2.0);
	assert_true(fabs(l + 10) <= 1.0);
	assert_true(fabs(power_dbm0(x, 8000) + 10) <= 1.0);
}

static void test_tone_names(void **state)
{
	unsigned c = 99;
	enum media_tone t;
	struct media_tonegen *g = NULL;
	int i;

	(void)state;
	assert_int_equal(media_tone_country_parse("US", &c), 0);
	assert_int_equal(c, 1);
	assert_int_equal(media_tone_country_parse("eu", &c), 0);
	assert_int_equal(c, 0);
	assert_int_equal(media_tone_country_parse("gb", &c), 0);
	assert_int_equal(c, 2);
	assert_int_equal(media_tone_country_parse("mars", &c), EINVAL);
	assert_int_equal(media_tone_country_parse(NULL, &c), EINVAL);
	for (i = 0; i < MEDIA_TONE_COUNT; i++) {
		assert_int_equal(media_tone_parse(
					 media_tone_name((enum media_tone)i),
					 &t), 0);
		assert_int_equal(t, i);
	}
	assert_string_equal(media_tone_name(MEDIA_TONE_COUNT), "?");
	assert_int_equal(media_tone_parse("beep", &t), EINVAL);
	assert_int_equal(media_tonegen_alloc(&g, 3, MEDIA_TONE_DIAL),
			 EINVAL);
	assert_int_equal(media_tonegen_alloc(&g, 0, MEDIA_TONE_COUNT),
			 EINVAL);
	assert_null(g);
}

/* ---- fax and modem tone detection -------------------------------------- */

struct det_seen {
	unsigned n[4];
	unsigned first_ms[4];
	unsigned now_ms;
};

static void on_det(enum media_tonedet_ev ev, void *arg)
{
	struct det_seen *d = arg;

	if (d->n[ev]++ == 0)
		d->first_ms[ev] = d->now_ms;
}

typedef int (gen_h)(void *st, int16_t *x, int n);

static int gen_connect(void *st, int16_t *x, int n)
{
	return modem_connect_tones_tx(st, x, n);
}

/* V.21 channel 2 (T.30's 300 bit/s) carrying HDLC flags. */
static int v21_get_bit(void *user_data)
{
	return hdlc_tx_get_bit(user_data);
}

static int gen_fsk(void *st, int16_t *x, int n)
{
	return fsk_tx(st, x, n);
}

/* ms of a generator's output through A-law into a detector. */
static void det_run(struct media_tonedet *det, struct det_seen *d,
		    gen_h *gen, void *st, unsigned ms)
{
	int16_t x[N];
	unsigned t;

	for (t = 0; t < ms / MEDIA_TICK_MS; t++) {
		int got = gen ? gen(st, x, N) : 0;

		if (got < N)
			memset(x + got, 0, (N - got) * sizeof(*x));
		alaw_pass(x, N);
		media_tonedet_process(det, x, N);
		d->now_ms += MEDIA_TICK_MS;
	}
}

static void expect_only(const struct det_seen *d, enum media_tonedet_ev ev)
{
	int i;

	for (i = 0; i < 4; i++) {
		if (i == (int)ev)
			assert_true(d->n[i] >= 1);
		else
			assert_int_equal(d->n[i], 0);
	}
}

static void test_tonedet_connect_tones(void **state)
{
	static const struct {
		int type;
		enum media_tonedet_ev ev;
		const char *name;
	} cases[] = {
		{ MODEM_CONNECT_TONES_FAX_CNG, MEDIA_DET_CNG, "CNG" },
		{ MODEM_CONNECT_TONES_ANS, MEDIA_DET_CED, "CED/ANS" },
		{ MODEM_CONNECT_TONES_ANS_PR, MEDIA_DET_ANS_PR, "ANS/" },
		{ MODEM_CONNECT_TONES_ANSAM_PR, MEDIA_DET_ANS_PR, "ANSam/" },
	};
	size_t c;

	(void)state;
	for (c = 0; c < GW_ARRAY_SIZE(cases); c++) {
		modem_connect_tones_tx_state_t *gen;
		struct media_tonedet *det = NULL;
		struct det_seen d;

		memset(&d, 0, sizeof(d));
		gen = modem_connect_tones_tx_init(NULL, cases[c].type);
		assert_non_null(gen);
		assert_int_equal(media_tonedet_alloc(&det, on_det, &d), 0);
		det_run(det, &d, gen_connect, gen, 8000);
		fprintf(stderr, "# tonedet %s: reported %u time(s), first "
			"after %u ms\n", cases[c].name, d.n[cases[c].ev],
			d.first_ms[cases[c].ev]);
		expect_only(&d, cases[c].ev);
		modem_connect_tones_tx_free(gen);
		gw_mem_deref(det);
	}
}

static void test_tonedet_v21(void **state)
{
	hdlc_tx_state_t *hdlc = hdlc_tx_init(NULL, false, 2, false, NULL,
					     NULL);
	fsk_tx_state_t *fsk = fsk_tx_init(NULL, &preset_fsk_specs[FSK_V21CH2],
					  v21_get_bit, hdlc);
	struct media_tonedet *det = NULL;
	struct det_seen d;

	(void)state;
	memset(&d, 0, sizeof(d));
	assert_int_equal(media_tonedet_alloc(&det, on_det, &d), 0);
	det_run(det, &d, NULL, NULL, 500);		/* silence first */
	hdlc_tx_flags(hdlc, 300);			/* 1 s of flags */
	det_run(det, &d, gen_fsk, fsk, 1000);
	fprintf(stderr, "# tonedet V.21 preamble: reported %u time(s), "
		"%u ms after the flags began\n", d.n[MEDIA_DET_V21],
		d.first_ms[MEDIA_DET_V21] - 500);
	expect_only(&d, MEDIA_DET_V21);
	fsk_tx_free(fsk);
	hdlc_tx_free(hdlc);
	gw_mem_deref(det);
}

/* Speech, DTMF, every call-progress tone and the milliwatt: nothing. */
static void test_tonedet_quiet(void **state)
{
	struct media_tonedet *det = NULL;
	struct media_dtmf_tx *tx = NULL;
	struct det_seen d;
	struct speech sp;
	int16_t x[N];
	unsigned k, c;
	size_t i;

	(void)state;
	memset(&d, 0, sizeof(d));
	rnd_state = 4711;
	assert_int_equal(media_tonedet_alloc(&det, on_det, &d), 0);
	speech_init(&sp, -15.0, 120);
	for (k = 0; k < 20 * 1000 / MEDIA_TICK_MS; k++) {
		speech_fill(&sp, x, N);
		alaw_pass(x, N);
		media_tonedet_process(det, x, N);
	}
	assert_int_equal(media_dtmf_tx_alloc(&tx), 0);
	assert_int_equal(media_dtmf_tx_put(tx, all_digits, 100, 100), 0);
	assert_int_equal(media_dtmf_tx_put(tx, "0000", 1000, 100), 0);
	while (media_dtmf_tx_fill(tx, x, N) == N) {
		alaw_pass(x, N);
		media_tonedet_process(det, x, N);
	}
	gw_mem_deref(tx);
	for (c = 0; c < 3; c++) {
		for (i = 0; i < MEDIA_TONE_COUNT; i++) {
			struct media_tonegen *g = NULL;

			assert_int_equal(media_tonegen_alloc(
						 &g, c, (enum media_tone)i), 0);
			for (k = 0; k < 6000 / MEDIA_TICK_MS; k++) {
				media_tonegen_fill(g, x, N);
				alaw_pass(x, N);
				media_tonedet_process(det, x, N);
			}
			gw_mem_deref(g);
		}
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(d.n[i], 0);
	gw_mem_deref(det);
}

/* ---- echo cancellation ------------------------------------------------- */

/*
 * A hybrid's echo, G.168 style: the far end's signal as it went onto the
 * line (A-law), back delayed and attenuated (and, on some paths, through
 * a mild band-pass that smears it over a few samples), plus -65 dBm0 of
 * line noise, and A-law again.  tx is what the canceller is told went
 * out, rx what came back.
 */
struct echo_path {
	unsigned delay_ms;
	double loss_db;
	bool filtered;
};

#define EC_TAIL_MS	64
#define ECHO_HIST	2048

struct echo_line {
	struct echo_path p;
	int16_t hist[ECHO_HIST];
	unsigned pos;
	double g;
	awgn_state_t *noise;
};

static void line_init(struct echo_line *l, const struct echo_path *p)
{
	memset(l, 0, sizeof(*l));
	l->p = *p;
	l->g = pow(10.0, -p->loss_db / 20.0);
	l->noise = awgn_init_dbm0(NULL, 99, -65.0f);
}

/* tx in (linear, already through A-law), echo + noise out in rx, and the
 * echo alone (before noise and A-law) in echo. */
static void line_run(struct echo_line *l, const int16_t *tx, int16_t *rx,
		     double *echo, size_t n)
{
	static const double h[5] = { 0.1, 0.3, 0.5, 0.2, -0.1 };
	unsigned d = l->p.delay_ms * 8;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		double e = 0;

		l->hist[l->pos] = tx[i];
		if (l->p.filtered) {
			for (k = 0; k < 5; k++)
				e += h[k] * l->hist[(l->pos + ECHO_HIST - d -
						     k) % ECHO_HIST];
		} else {
			e = l->hist[(l->pos + ECHO_HIST - d) % ECHO_HIST];
		}
		e *= l->g;
		echo[i] = e;
		rx[i] = clip16(e + awgn(l->noise));
		l->pos = (l->pos + 1) % ECHO_HIST;
	}
	alaw_pass(rx, n);
}

struct ec_result {
	double conv_ms;			/* end of the first 200 ms with
					 * ERLE >= 20 dB */
	double erle_end;		/* measured over the last 3 s */
	double erle_ec;			/* media_ec_erle_db at the end */
};

static double sum_sq_d(const double *x, size_t n)
{
	double e = 0;
	size_t i;

	for (i = 0; i < n; i++)
		e += x[i] * x[i];
	return e;
}

static double sum_sq(const int16_t *x, size_t n)
{
	double e = 0;
	size_t i;

	for (i = 0; i < n; i++)
		e += (double)x[i] * x[i];
	return e;
}

static void ec_run(const struct echo_path *p, unsigned seconds,
		   struct ec_result *r)
{
	struct media_ec *ec = NULL;
	struct echo_line line;
	struct spnoise far;
	unsigned ticks = seconds * 50, t;
	double win_in = 0, win_out = 0, end_in = 0, end_out = 0;
	unsigned win_n = 0;

	rnd_state = 1000 + p->delay_ms;
	r->conv_ms = -1;
	assert_int_equal(media_ec_alloc(&ec, EC_TAIL_MS), 0);
	line_init(&line, p);
	spnoise_init(&far, -15.0);
	for (t = 0; t < ticks; t++) {
		int16_t tx[N], rx[N], out[N];
		double echo[N];

		spnoise_fill(&far, tx, N);
		alaw_pass(tx, N);
		line_run(&line, tx, rx, echo, N);
		media_ec_process(ec, tx, rx, out, N);
		/* ERLE on blocks that carry echo: echo in, residue out */
		if (sum_sq_d(echo, N) > N * DBM0_POWER * 1e-5) {
			win_in += sum_sq(rx, N);
			win_out += sum_sq(out, N);
			if (t >= ticks - 150) {
				end_in += sum_sq(rx, N);
				end_out += sum_sq(out, N);
			}
		}
		if (++win_n == 10) {
			if (r->conv_ms < 0 && win_out > 0 &&
			    10 * log10(win_in / win_out) >= 20.0)
				r->conv_ms = (t + 1) * MEDIA_TICK_MS;
			win_in = win_out = 0;
			win_n = 0;
		}
	}
	r->erle_end = 10 * log10(end_in / end_out);
	r->erle_ec = media_ec_erle_db(ec);
	awgn_free(line.noise);
	gw_mem_deref(ec);
}

static void test_ec_paths(void **state)
{
	static const struct echo_path paths[] = {
		{ 8, 6, false }, { 8, 10, true },
		{ 16, 6, true }, { 16, 10, false },
		{ 32, 6, false }, { 32, 10, true },
	};
	size_t i;

	(void)state;
	for (i = 0; i < GW_ARRAY_SIZE(paths); i++) {
		struct ec_result r;

		ec_run(&paths[i], 8, &r);
		fprintf(stderr, "# ec %2u ms, %2.0f dB%s: converged (20 dB) "
			"in %.0f ms, ERLE %.1f dB over the last 3 s "
			"(canceller's own: %.1f dB)\n", paths[i].delay_ms,
			paths[i].loss_db, paths[i].filtered ? ", filtered" :
			"", r.conv_ms, r.erle_end, r.erle_ec);
		assert_true(r.conv_ms > 0);
		assert_true(r.erle_end >= 20.0);
		assert_true(r.erle_ec >= 20.0);
	}
}

/*
 * The canceller's own input filter: speexdsp's MDF puts what it receives
 * through a DC notch (mdf.c filter_dc_notch16, radius 0.9 at 8 kHz: a
 * second-order high-pass near 130 Hz) before subtracting its echo
 * estimate, so the near end it lets through is the near end so filtered.
 * The same filter here, to tell that apart from echo left over.
 */
struct dc_notch {
	double m0, m1;
};

static double dc_notch(struct dc_notch *f, double vin)
{
	const double r = 0.9, den2 = r * r + 0.7 * (1 - r) * (1 - r);
	double vout = f->m0 + vin;

	f->m0 = f->m1 + 2 * (-vin + r * vout);
	f->m1 = vin - den2 * vout;
	return r * vout;
}

/* Double talk: converged, then the near end talks as loud as the far
 * end for 3 s; the filter must not diverge (ERLE right after), and the
 * near end must come through with less echo on it than without the
 * canceller. */
static void test_ec_double_talk(void **state)
{
	static const struct echo_path p = { 16, 6, true };
	struct media_ec *ec = NULL;
	struct echo_line line;
	struct spnoise far;
	struct speech near;
	struct dc_notch notch;
	unsigned t;
	double before_in = 0, before_out = 0, after_in = 0, after_out = 0;
	double late_in = 0, late_out = 0;
	double dt_near = 0, dt_err = 0, dt_echo = 0, dt_out = 0;

	(void)state;
	rnd_state = 77;
	memset(&notch, 0, sizeof(notch));
	assert_int_equal(media_ec_alloc(&ec, EC_TAIL_MS), 0);
	line_init(&line, &p);
	spnoise_init(&far, -15.0);
	speech_init(&near, -15.0, 180);
	for (t = 0; t < 12 * 50; t++) {
		int16_t tx[N], rx[N], out[N], nr[N];
		double echo[N], nf[N];
		bool dt = t >= 5 * 50 && t < 8 * 50;
		size_t i;

		spnoise_fill(&far, tx, N);
		alaw_pass(tx, N);
		line_run(&line, tx, rx, echo, N);
		if (dt) {
			/* the near-end talker on the line as well */
			speech_fill(&near, nr, N);
			for (i = 0; i < N; i++)
				rx[i] = clip16(echo[i] + nr[i]);
			alaw_pass(rx, N);
		} else {
			memset(nr, 0, sizeof(nr));
		}
		for (i = 0; i < N; i++)
			nf[i] = dc_notch(&notch, nr[i]);
		media_ec_process(ec, tx, rx, out, N);
		if (dt) {
			for (i = 0; i < N; i++) {
				double err = out[i] - nf[i];

				dt_near += nf[i] * nf[i];
				dt_out += (double)out[i] * out[i];
				dt_err += err * err;
				dt_echo += echo[i] * echo[i];
			}
		} else if (sum_sq_d(echo, N) > N * DBM0_POWER * 1e-5) {
			if (t >= 4 * 50 && t < 5 * 50) {
				before_in += sum_sq(rx, N);
				before_out += sum_sq(out, N);
			} else if (t >= 8 * 50 && t < 9 * 50) {
				after_in += sum_sq(rx, N);
				after_out += sum_sq(out, N);
			} else if (t >= 9 * 50) {
				late_in += sum_sq(rx, N);
				late_out += sum_sq(out, N);
			}
		}
	}
	fprintf(stderr, "# ec double talk (16 ms, 6 dB, filtered; near end "
		"at the far end's level for 3 s): ERLE %.1f dB before, "
		"%.1f dB in the second after, %.1f dB in the 3 s after "
		"that; during it the near end came "
		"through at %+.1f dB with echo and distortion %.1f dB below "
		"it (echo %.1f dB below it without a canceller)\n",
		10 * log10(before_in / before_out),
		10 * log10(after_in / after_out),
		10 * log10(late_in / late_out),
		10 * log10(dt_out / dt_near), 10 * log10(dt_near / dt_err),
		10 * log10(dt_near / dt_echo));
	assert_true(10 * log10(after_in / after_out) >= 20.0);
	assert_true(10 * log10(dt_near / dt_err) >=
		    10 * log10(dt_near / dt_echo) + 10.0);
	assert_true(fabs(10 * log10(dt_out / dt_near)) < 1.0);
	awgn_free(line.noise);
	gw_mem_deref(ec);
}

static void test_ec_disabled(void **state)
{
	static const struct echo_path p = { 8, 6, false };
	struct media_ec *ec = NULL;
	struct echo_line line;
	struct spnoise far;
	unsigned t;

	(void)state;
	rnd_state = 5;
	assert_int_equal(media_ec_alloc(&ec, 16), EINVAL);
	assert_int_equal(media_ec_alloc(&ec, 256), EINVAL);
	assert_null(ec);
	assert_int_equal(media_ec_alloc(&ec, 32), 0);
	assert_true(media_ec_enabled(ec));
	media_ec_enable(ec, false);
	assert_false(media_ec_enabled(ec));
	line_init(&line, &p);
	spnoise_init(&far, -15.0);
	for (t = 0; t < 100; t++) {
		int16_t tx[N], rx[N], out[N];
		double echo[N];

		spnoise_fill(&far, tx, N);
		line_run(&line, tx, rx, echo, N);
		media_ec_process(ec, tx, rx, out, N);
		assert_memory_equal(out, rx, sizeof(rx));
		/* in place too */
		memcpy(out, rx, sizeof(rx));
		media_ec_process(ec, tx, out, out, N);
		assert_memory_equal(out, rx, sizeof(rx));
	}
	assert_true(media_ec_erle_db(ec) == 0.0);
	/* back on: it cancels again */
	media_ec_enable(ec, true);
	for (t = 0; t < 250; t++) {
		int16_t tx[N], rx[N];
		double echo[N];

		spnoise_fill(&far, tx, N);
		line_run(&line, tx, rx, echo, N);
		media_ec_process(ec, tx, rx, rx, N);		/* in place */
	}
	assert_true(media_ec_erle_db(ec) >= 20.0);
	awgn_free(line.noise);
	gw_mem_deref(ec);
}

/* ---- E-model ----------------------------------------------------------- */

static double r_of(enum media_codec_id c, double loss, bool bursty,
		   double delay)
{
	struct media_quality_in in = { c, loss, bursty, delay };

	return media_quality_r(&in);
}

static void test_emodel(void **state)
{
	double r;

	(void)state;
	/* G.107: all defaults give R = 93.2 (the 93.19... of 7.1),
	 * MOS 4.41. */
	r = r_of(MEDIA_PCMA, 0, false, 0);
	assert_true(fabs(r - 93.2) < 0.05);
	assert_true(fabs(media_quality_mos(r) - 4.41) < 0.005);
	assert_true(fabs(r_of(MEDIA_PCMU, 0, false, 0) - r) < 1e-9);
	assert_true(fabs(media_quality_r(NULL) - r) < 1e-9);

	/* G.107 Annex B (B-4), and its ends. */
	assert_true(fabs(media_quality_mos(90) - 4.34) < 0.005);
	assert_true(fabs(media_quality_mos(80) - 4.02) < 0.01);
	assert_true(fabs(media_quality_mos(70) - 3.60) < 0.005);
	assert_true(fabs(media_quality_mos(60) - 3.10) < 0.005);
	assert_true(fabs(media_quality_mos(50) - 2.58) < 0.005);
	assert_true(media_quality_mos(-5) == 1.0);
	assert_true(media_quality_mos(0) == 1.0);
	assert_true(media_quality_mos(100) == 4.5);
	assert_true(media_quality_mos(120) == 4.5);

	/* Ie,eff (G.107 (7-29)) with G.113 Appendix I's Ie and Bpl:
	 * G.711 with PLC, Bpl 25.1: 2 % random loss -> 95*2/27.1 = 7.01;
	 * 5 % -> 15.78; 5 % bursty (BurstR 2) -> 95*5/27.6 = 17.21. */
	assert_true(fabs(r - r_of(MEDIA_PCMA, 2, false, 0) - 7.011) < 0.01);
	assert_true(fabs(r - r_of(MEDIA_PCMA, 5, false, 0) - 15.781) <
		    0.01);
	assert_true(fabs(r - r_of(MEDIA_PCMA, 5, true, 0) - 17.210) < 0.01);
	/* G.729A+VAD: Ie 11, Bpl 19: 0 % -> 82.2; 2 % -> 11 + 84*2/21 */
	assert_true(fabs(r - r_of(MEDIA_G729, 0, false, 0) - 11.0) < 0.01);
	assert_true(fabs(r - r_of(MEDIA_G729, 2, false, 0) - 19.0) < 0.01);
	/* GSM-FR Ie 20, G.726-32 Ie 7 */
	assert_true(fabs(r - r_of(MEDIA_GSM, 0, false, 0) - 20.0) < 0.01);
	assert_true(fabs(r - r_of(MEDIA_G726_32, 0, false, 0) - 7.0) <
		    0.01);
	/* an unknown codec counts as G.711 */
	assert_true(fabs(r_of((enum media_codec_id)99, 0, false, 0) - r) <
		    1e-9);
	/* everything lost: R near the bottom, MOS 1-ish */
	assert_true(media_quality_mos(r_of(MEDIA_PCMA, 100, false, 0)) <
		    1.5);

	/* Delay (Id with Ta = T, Tr = 2T): R falls with delay, slowly up
	 * to 150 ms and fast past 250 ms (G.114 Figure 1: R about 90 at
	 * 150 ms, about 80 at 250-300 ms, below 70 at 400 ms). */
	{
		double r100 = r_of(MEDIA_PCMA, 0, false, 100);
		double r150 = r_of(MEDIA_PCMA, 0, false, 150);
		double r250 = r_of(MEDIA_PCMA, 0, false, 250);
		double r400 = r_of(MEDIA_PCMA, 0, false, 400);

		fprintf(stderr, "# E-model G.711: R %.1f at 0 ms, %.1f at "
			"100, %.1f at 150, %.1f at 250, %.1f at 400 ms; "
			"2 %% loss %.1f (MOS %.2f); G.729 %.1f (MOS %.2f)\n",
			r, r100, r150, r250, r400,
			r_of(MEDIA_PCMA, 2, false, 0),
			media_quality_mos(r_of(MEDIA_PCMA, 2, false, 0)),
			r_of(MEDIA_G729, 0, false, 0),
			media_quality_mos(r_of(MEDIA_G729, 0, false, 0)));
		assert_true(r100 < r && r150 < r100 && r250 < r150 &&
			    r400 < r250);
		assert_in_range((long)r150, 88, 92);
		assert_in_range((long)r250, 76, 86);
		assert_true(r400 < 70.0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_dtmf_50_50),
		UNIT_TEST(test_dtmf_100_100),
		UNIT_TEST(test_dtmf_live),
		UNIT_TEST(test_dtmf_detect_foreign),
		UNIT_TEST(test_dtmf_talkoff),
		UNIT_TEST(test_dtmf_talkoff_recorded),
		UNIT_TEST(test_dtmf_api),
		UNIT_TEST(test_dtmf_handler_drops),
		UNIT_TEST(test_tones),
		UNIT_TEST(test_milliwatt),
		UNIT_TEST(test_tone_names),
		UNIT_TEST(test_tonedet_connect_tones),
		UNIT_TEST(test_tonedet_v21),
		UNIT_TEST(test_tonedet_quiet),
		UNIT_TEST(test_ec_paths),
		UNIT_TEST(test_ec_double_talk),
		UNIT_TEST(test_ec_disabled),
		UNIT_TEST(test_emodel),
	};

	gw_log_set_levels("warn");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
