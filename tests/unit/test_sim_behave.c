/* tests/unit/test_sim_behave.c - pstnsim's media behaviours, measured */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tiffio.h>
#include <spandsp.h>

#include "unit.h"
#include "sim/sim.h"

/*
 * Every measurement here is made independently of behave.c: the test
 * decodes what a behaviour sent with spandsp's G.711 and measures it with
 * its own Goertzel filters and its own level reference (ITU-T G.711: a
 * sine at 0 dBm0 peaks 3.14 dB below the A-law full scale).
 */

#define FS	8000.0
#define N	SIM_FRAME_SAMPLES

static char tmpdir[64];

/* Files the tests write go to one scratch directory. */
static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_sim_behave.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int16_t dec(enum sim_law law, uint8_t c)
{
	return law == SIM_LAW_ALAW ? alaw_to_linear(c) : ulaw_to_linear(c);
}

static uint8_t enc(enum sim_law law, int16_t s)
{
	return law == SIM_LAW_ALAW ? linear_to_alaw(s) : linear_to_ulaw(s);
}

static uint8_t idle_code(enum sim_law law)
{
	return law == SIM_LAW_ALAW ? 0xd5 : 0xff;
}

/* |X(f)|^2 over x[0..n), normalised to a mean square: a sine of
 * amplitude A at f reads A^2/2. */
static double goertzel(const double *x, size_t n, double f)
{
	double c = 2.0 * cos(2.0 * M_PI * f / FS), s0, s1 = 0, s2 = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		s0 = x[i] + c * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	return 2.0 * (s1 * s1 + s2 * s2 - c * s1 * s2) / ((double)n * n);
}

/* The strongest frequency in lo..hi, by a Goertzel scan in 0.05 Hz
 * steps over n samples (a 1 Hz main lobe for n = 8000). */
static double peak_freq(const double *x, size_t n, double lo, double hi)
{
	double f, best = lo, bestp = -1, p;

	for (f = lo; f <= hi; f += 0.05) {
		p = goertzel(x, n, f);
		if (p > bestp) {
			bestp = p;
			best = f;
		}
	}
	return best;
}

static double dbm0(double ms)
{
	double peak = 32767.0 * pow(10.0, -3.14 / 20.0);

	return 10.0 * log10(ms / (peak * peak / 2.0));
}

static void run_frames(struct sim_behave *b, const uint8_t *rx, uint8_t *tx,
		       size_t frames)
{
	size_t i;

	for (i = 0; i < frames; i++)
		sim_behave_frame(b, rx + i * N, tx + i * N);
}

static struct sim_behave *behave(enum sim_media m, enum sim_law law,
				 const char *file, unsigned delay_ms)
{
	struct sim_behave_conf c = {
		.media = m, .law = law, .file = file, .delay_ms = delay_ms,
		.tag = "test",
	};
	struct sim_behave *b = NULL;

	assert_int_equal(sim_behave_alloc(&b, &c), 0);
	assert_non_null(b);
	return b;
}

/* ---- milliwatt: O.41-style test tone, 1004 Hz at -10 dBm0 ----------- */

static void check_milliwatt(enum sim_law law)
{
	const size_t frames = 100;	/* 2 s */
	uint8_t *rx = malloc(frames * N), *tx = malloc(frames * N);
	double *x = malloc(sizeof(*x) * frames * N), ms = 0, f;
	struct sim_behave *b;
	size_t i, n = 8000;

	memset(rx, idle_code(law), frames * N);
	b = behave(SIM_MEDIA_MILLIWATT, law, NULL, 0);
	run_frames(b, rx, tx, frames);
	/* Measure the second second (any start-up would be in the first). */
	for (i = 0; i < n; i++) {
		x[i] = dec(law, tx[8000 + i]);
		ms += x[i] * x[i];
	}
	ms /= (double)n;
	f = peak_freq(x, n, 950.0, 1050.0);
	print_message("milliwatt %s: %.2f Hz, %.2f dBm0 (tone %.2f dBm0)\n",
		      law == SIM_LAW_ALAW ? "A-law" : "mu-law", f, dbm0(ms),
		      dbm0(goertzel(x, n, f)));
	assert_true(fabs(f - 1004.0) <= 2.0);
	assert_true(fabs(dbm0(ms) - -10.0) <= 1.0);
	/* Nearly all of it is the tone: no gross distortion. */
	assert_true(fabs(dbm0(goertzel(x, n, f)) - -10.0) <= 1.0);
	assert_int_equal(sim_behave_frames(b), frames);
	gw_mem_deref(b);
	free(rx);
	free(tx);
	free(x);
}

static void test_milliwatt_alaw(void **state)
{
	(void)state;
	check_milliwatt(SIM_LAW_ALAW);
}

static void test_milliwatt_ulaw(void **state)
{
	(void)state;
	check_milliwatt(SIM_LAW_ULAW);
}

/* ---- echo: exactly delay_ms / 20 frames late ------------------------ */

static void check_echo(unsigned delay_ms, size_t delay_frames)
{
	const size_t frames = 80;
	uint8_t *rx = malloc(frames * N), *tx = malloc(frames * N);
	struct sim_behave *b;
	json_t *o;
	size_t i, k;

	/* Every frame different, every byte of it too. */
	for (k = 0; k < frames; k++)
		for (i = 0; i < N; i++)
			rx[k * N + i] = (uint8_t)(k * 7 + i * 13 + 1);
	b = behave(SIM_MEDIA_ECHO, SIM_LAW_ALAW, NULL, delay_ms);
	run_frames(b, rx, tx, frames);
	for (k = 0; k < frames; k++) {
		for (i = 0; i < N; i++) {
			uint8_t want = k < delay_frames ? 0xd5 :
				rx[(k - delay_frames) * N + i];

			if (tx[k * N + i] != want)
				fail_msg("delay %u ms: frame %zu byte %zu: "
					 "%02x, want %02x", delay_ms, k, i,
					 tx[k * N + i], want);
		}
	}
	o = sim_behave_json(b);
	assert_int_equal(json_integer_value(json_object_get(o, "delay_ms")),
			 delay_frames * 20);
	json_decref(o);
	gw_mem_deref(b);
	free(rx);
	free(tx);
}

static void test_echo_delay(void **state)
{
	(void)state;
	check_echo(500, 25);	/* the demo's 1000 */
	check_echo(0, 0);
	check_echo(20, 1);
	check_echo(30, 2);	/* rounded to whole frames */
	check_echo(1000, 50);
}

/* ---- dtmf-echo: each digit back exactly once ------------------------ */

struct collect {
	char s[128];
	size_t n;
};

static void collect_digits(void *arg, const char *digits, int len)
{
	struct collect *c = arg;
	int i;

	for (i = 0; i < len && c->n + 1 < sizeof(c->s); i++)
		c->s[c->n++] = digits[i];
	c->s[c->n] = '\0';
}

static void check_dtmf_echo(enum sim_law law)
{
	static const char digits[] = "123456789*0#ABCD";
	const size_t frames = 400;	/* 8 s */
	struct collect got = {{0}, 0};
	dtmf_tx_state_t *gen = dtmf_tx_init(NULL);
	dtmf_rx_state_t *det = dtmf_rx_init(NULL, collect_digits, &got);
	int16_t amp[N];
	uint8_t rx[N], tx[N];
	struct sim_behave *b;
	json_t *o;
	size_t k;
	int i, n;

	dtmf_tx_set_level(gen, -10, 0);
	dtmf_tx_set_timing(gen, 60, 60);
	dtmf_tx_put(gen, digits, -1);
	b = behave(SIM_MEDIA_DTMF_ECHO, law, NULL, 0);
	for (k = 0; k < frames; k++) {
		n = dtmf_tx(gen, amp, N);
		for (i = 0; i < N; i++)
			rx[i] = i < n ? enc(law, amp[i]) : idle_code(law);
		sim_behave_frame(b, rx, tx);
		for (i = 0; i < N; i++)
			amp[i] = dec(law, tx[i]);
		dtmf_rx(det, amp, N);
	}
	print_message("dtmf-echo: sent %s, echoed %s\n", digits, got.s);
	assert_string_equal(got.s, digits);
	assert_string_equal(sim_behave_digits(b), digits);
	o = sim_behave_json(b);
	assert_string_equal(json_string_value(json_object_get(o, "echoed")),
			    digits);
	assert_string_equal(json_string_value(json_object_get(o, "digits")),
			    digits);
	json_decref(o);
	gw_mem_deref(b);
	dtmf_tx_free(gen);
	dtmf_rx_free(det);
}

static void test_dtmf_echo(void **state)
{
	(void)state;
	check_dtmf_echo(SIM_LAW_ALAW);
	check_dtmf_echo(SIM_LAW_ULAW);
}

/* ---- record, then play back ----------------------------------------- */

static void check_record_play(const char *name, enum sim_law rec_law,
			      enum sim_law play_law)
{
	const size_t frames = 30;
	uint8_t *rx = malloc(frames * N), *tx = malloc(2 * frames * N);
	uint8_t *out = malloc(2 * frames * N);
	char path[128];
	struct sim_behave *b;
	json_t *o;
	size_t i;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	/* A 440 Hz tone, so that a law conversion can be checked too. */
	for (i = 0; i < frames * N; i++)
		rx[i] = enc(rec_law, (int16_t)(8000.0 *
			sin(2.0 * M_PI * 440.0 * (double)i / FS)));
	b = behave(SIM_MEDIA_RECORD, rec_law, path, 0);
	run_frames(b, rx, tx, frames);
	for (i = 0; i < frames * N; i++)
		assert_int_equal(tx[i], idle_code(rec_law));
	o = sim_behave_json(b);
	assert_int_equal(json_integer_value(json_object_get(o, "bytes")),
			 frames * N);
	json_decref(o);
	gw_mem_deref(b);	/* closes the file */

	memset(tx, 0, 2 * frames * N);
	b = behave(SIM_MEDIA_PLAY, play_law, path, 0);
	run_frames(b, tx, out, 2 * frames);	/* loops once */
	for (i = 0; i < 2 * frames * N; i++) {
		uint8_t want = rx[i % (frames * N)];

		if (rec_law != play_law)
			want = enc(play_law, dec(rec_law, want));
		if (out[i] != want)
			fail_msg("%s: byte %zu: %02x, want %02x", name, i,
				 out[i], want);
	}
	o = sim_behave_json(b);
	assert_int_equal(json_integer_value(json_object_get(o, "loops")), 2);
	json_decref(o);
	gw_mem_deref(b);
	free(rx);
	free(tx);
	free(out);
}

static void test_record_play(void **state)
{
	(void)state;
	check_record_play("raw.alaw", SIM_LAW_ALAW, SIM_LAW_ALAW);
	check_record_play("raw.ulaw", SIM_LAW_ULAW, SIM_LAW_ULAW);
	check_record_play("a.wav", SIM_LAW_ALAW, SIM_LAW_ALAW);
	check_record_play("u.wav", SIM_LAW_ULAW, SIM_LAW_ULAW);
	check_record_play("a2u.wav", SIM_LAW_ALAW, SIM_LAW_ULAW);
}

/* A WAV file that pstnsim wrote is one a WAV reader takes: check the
 * header fields where a reader looks. */
static void test_record_wav_header(void **state)
{
	char path[128];
	uint8_t rx[N], tx[N], h[64];
	struct sim_behave *b;
	FILE *f;
	long size;

	(void)state;
	snprintf(path, sizeof(path), "%s/h.wav", tmpdir);
	memset(rx, 0x55, sizeof(rx));
	b = behave(SIM_MEDIA_RECORD, SIM_LAW_ULAW, path, 0);
	sim_behave_frame(b, rx, tx);
	sim_behave_frame(b, rx, tx);
	gw_mem_deref(b);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(h, 1, 58, f), 58);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fclose(f);
	assert_int_equal(size, 58 + 2 * N);
	assert_memory_equal(h, "RIFF", 4);
	assert_int_equal(h[4] | h[5] << 8 | h[6] << 16, size - 8);
	assert_memory_equal(h + 8, "WAVEfmt ", 8);
	assert_int_equal(h[20], 7);		/* mu-law */
	assert_int_equal(h[24] | h[25] << 8, 8000);
	assert_memory_equal(h + 50, "data", 4);
	assert_int_equal(h[54] | h[55] << 8, 2 * N);
}

/* ---- observations --------------------------------------------------- */

/* A tone sent in is reported with its frequency and level. */
static void check_tone_observed(enum sim_law law, double freq, double level)
{
	const size_t frames = 60;
	double peak = 32767.0 * pow(10.0, (level - 3.14) / 20.0);
	uint8_t rx[N], tx[N];
	struct sim_behave *b;
	struct sim_tone t;
	json_t *o, *to;
	size_t k, i;

	b = behave(SIM_MEDIA_SILENCE, law, NULL, 0);
	assert_false(sim_behave_tone(b, &t));
	for (k = 0; k < frames; k++) {
		for (i = 0; i < N; i++)
			rx[i] = enc(law, (int16_t)lrint(peak * sin(
				2.0 * M_PI * freq * (double)(k * N + i) /
				FS + 0.3)));
		sim_behave_frame(b, rx, tx);
		for (i = 0; i < N; i++)
			assert_int_equal(tx[i], idle_code(law));
	}
	assert_true(sim_behave_tone(b, &t));
	print_message("sent %.1f Hz at %.1f dBm0: observed %.2f Hz at "
		      "%.2f dBm0\n", freq, level, t.freq_hz, t.level_dbm0);
	assert_true(fabs(t.freq_hz - freq) <= 1.0);
	assert_true(fabs(t.level_dbm0 - level) <= 0.5);
	o = sim_behave_json(b);
	to = json_object_get(o, "tone");
	assert_true(json_is_object(to));
	assert_true(fabs(json_real_value(json_object_get(to, "freq_hz")) -
			 freq) <= 1.0);
	assert_true(fabs(json_real_value(json_object_get(to, "level_dbm0")) -
			 level) <= 0.5);
	assert_true(fabs(json_real_value(json_object_get(o, "level_dbm0")) -
			 level) <= 0.5);
	json_decref(o);
	gw_mem_deref(b);
}

static void test_observe_tone(void **state)
{
	(void)state;
	check_tone_observed(SIM_LAW_ALAW, 1004.0, -10.0);
	check_tone_observed(SIM_LAW_ULAW, 1004.0, -10.0);
	check_tone_observed(SIM_LAW_ALAW, 440.0, -20.0);
	check_tone_observed(SIM_LAW_ULAW, 2600.0, -3.0);
	check_tone_observed(SIM_LAW_ALAW, 300.0, -35.0);
}

/* The milliwatt line, heard through another behaviour's observer: what
 * the `calls` command shows for a call to 2000. */
static void test_observe_milliwatt(void **state)
{
	struct sim_behave *mw, *ear;
	uint8_t rx[N], a[N], c[N];
	struct sim_tone t;
	double lvl;
	int k;

	(void)state;
	memset(rx, 0xd5, sizeof(rx));
	mw = behave(SIM_MEDIA_MILLIWATT, SIM_LAW_ALAW, NULL, 0);
	ear = behave(SIM_MEDIA_ECHO, SIM_LAW_ALAW, NULL, 500);
	assert_false(sim_behave_level(ear, &lvl));
	for (k = 0; k < 50; k++) {
		sim_behave_frame(mw, rx, a);
		sim_behave_frame(ear, a, c);
	}
	assert_true(sim_behave_level(ear, &lvl));
	assert_true(sim_behave_tone(ear, &t));
	assert_true(fabs(t.freq_hz - 1004.0) <= 0.5);
	assert_true(fabs(t.level_dbm0 - -10.0) <= 0.3);
	assert_true(fabs(lvl - -10.0) <= 0.3);
	gw_mem_deref(mw);
	gw_mem_deref(ear);
}

/* Silence, noise-free DTMF (two tones) and nothing at all: no tone. */
static void test_observe_no_tone(void **state)
{
	dtmf_tx_state_t *gen = dtmf_tx_init(NULL);
	struct sim_behave *b;
	uint8_t rx[N], tx[N];
	int16_t amp[N];
	double lvl;
	int k, i;

	(void)state;
	b = behave(SIM_MEDIA_SILENCE, SIM_LAW_ALAW, NULL, 0);
	memset(rx, 0xd5, sizeof(rx));
	for (k = 0; k < 50; k++)
		sim_behave_frame(b, rx, tx);
	assert_false(sim_behave_tone(b, NULL));
	assert_true(sim_behave_level(b, &lvl));
	assert_true(lvl < -60.0);
	/* A long DTMF 5 (770 + 1336 Hz): two tones, neither dominant. */
	dtmf_tx_set_timing(gen, 2000, 10);
	dtmf_tx_put(gen, "5", 1);
	for (k = 0; k < 60; k++) {
		dtmf_tx(gen, amp, N);
		for (i = 0; i < N; i++)
			rx[i] = linear_to_alaw(amp[i]);
		sim_behave_frame(b, rx, tx);
	}
	assert_false(sim_behave_tone(b, NULL));
	assert_string_equal(sim_behave_digits(b), "5");
	gw_mem_deref(b);
	dtmf_tx_free(gen);
}

/* Every behaviour observes DTMF, whatever it sends. */
static void test_observe_digits(void **state)
{
	static const enum sim_media kinds[] = {
		SIM_MEDIA_SILENCE, SIM_MEDIA_ECHO, SIM_MEDIA_MILLIWATT,
	};
	dtmf_tx_state_t *gen;
	struct sim_behave *b;
	uint8_t rx[N], tx[N];
	int16_t amp[N];
	json_t *o;
	size_t j;
	int k, i, n;

	(void)state;
	for (j = 0; j < GW_ARRAY_SIZE(kinds); j++) {
		gen = dtmf_tx_init(NULL);
		dtmf_tx_put(gen, "0427#", -1);
		b = behave(kinds[j], SIM_LAW_ULAW, NULL, 100);
		for (k = 0; k < 100; k++) {
			n = dtmf_tx(gen, amp, N);
			for (i = 0; i < N; i++)
				rx[i] = i < n ? linear_to_ulaw(amp[i]) : 0xff;
			sim_behave_frame(b, rx, tx);
		}
		o = sim_behave_json(b);
		assert_string_equal(json_string_value(
			json_object_get(o, "digits")), "0427#");
		json_decref(o);
		gw_mem_deref(b);
		dtmf_tx_free(gen);
	}
}

/* ---- fax over audio: T.30 from a TIFF to a TIFF --------------------- */

/* A one-page G3 TIFF: 1728 pixels wide, standard resolution. */
static void write_tiff(const char *path)
{
	TIFF *t = TIFFOpen(path, "w");
	uint8_t row[1728 / 8];
	int y;

	assert_non_null(t);
	TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 1728);
	TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
	TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
	TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX3);
	TIFFSetField(t, TIFFTAG_GROUP3OPTIONS, GROUP3OPT_2DENCODING);
	TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
	TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_LSB2MSB);
	TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
	TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.0f);
	TIFFSetField(t, TIFFTAG_YRESOLUTION, 98.0f);
	TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
	TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 200);
	TIFFSetField(t, TIFFTAG_PAGENUMBER, 0, 1);
	for (y = 0; y < 200; y++) {
		memset(row, 0, sizeof(row));
		if (y % 20 < 4)
			memset(row + (y % 50), 0xff, 40);
		assert_int_equal(TIFFWriteScanline(t, row, (uint32_t)y, 0), 1);
	}
	TIFFClose(t);
}

static void test_fax(void **state)
{
	char in[128], out[128];
	struct sim_behave *tx, *rx;
	uint8_t a[N], b[N], quiet[N];
	int ra, rb, k;
	json_t *o, *f;

	(void)state;
	snprintf(in, sizeof(in), "%s/in.tif", tmpdir);
	snprintf(out, sizeof(out), "%s/out.tif", tmpdir);
	write_tiff(in);
	tx = behave(SIM_MEDIA_FAX_SEND, SIM_LAW_ALAW, in, 0);
	rx = behave(SIM_MEDIA_FAX_RECEIVE, SIM_LAW_ALAW, out, 0);
	memset(quiet, 0xd5, sizeof(quiet));
	memcpy(a, quiet, N);
	memcpy(b, quiet, N);
	/* Back to back, one frame of latency each way; 3 minutes at most. */
	for (k = 0; k < 9000; k++) {
		uint8_t na[N], nb[N];

		sim_behave_frame(tx, b, na);
		sim_behave_frame(rx, a, nb);
		memcpy(a, na, N);
		memcpy(b, nb, N);
		if (sim_behave_fax_result(tx, &ra) &&
		    sim_behave_fax_result(rx, &rb))
			break;
	}
	print_message("fax: %d s of audio, results %d / %d\n", k / 50,
		      sim_behave_fax_result(tx, &ra) ? ra : -1,
		      sim_behave_fax_result(rx, &rb) ? rb : -1);
	assert_true(sim_behave_fax_result(tx, &ra));
	assert_true(sim_behave_fax_result(rx, &rb));
	assert_int_equal(ra, T30_ERR_OK);
	assert_int_equal(rb, T30_ERR_OK);
	o = sim_behave_json(rx);
	f = json_object_get(o, "fax");
	assert_true(json_is_object(f));
	assert_true(json_is_true(json_object_get(f, "ok")));
	assert_int_equal(json_integer_value(json_object_get(f, "pages")), 1);
	json_decref(o);
	gw_mem_deref(tx);
	gw_mem_deref(rx);
	assert_int_equal(access(out, R_OK), 0);
}

/* ---- names and bad configurations ----------------------------------- */

static void test_names_and_errors(void **state)
{
	static const char *const names[] = {
		"silence", "echo", "milliwatt", "dtmf-echo", "record",
		"play", "fax-send", "fax-receive",
	};
	struct sim_behave_conf c = {.law = SIM_LAW_ALAW};
	struct sim_behave *b = NULL;
	enum sim_media m;
	char path[128], junk[] = "RIFF____WAVEjunk";
	FILE *f;
	size_t i;

	(void)state;
	for (i = 0; i < GW_ARRAY_SIZE(names); i++) {
		assert_int_equal(sim_media_parse(names[i], &m), 0);
		assert_string_equal(sim_media_name(m), names[i]);
	}
	assert_int_equal(sim_media_parse("busy", &m), EINVAL);
	assert_int_equal(sim_media_parse(NULL, &m), EINVAL);

	c.media = SIM_MEDIA_PLAY;
	assert_int_equal(sim_behave_alloc(&b, &c), EINVAL);	/* no file */
	c.file = "/nonexistent/x.alaw";
	assert_int_equal(sim_behave_alloc(&b, &c), ENOENT);
	snprintf(path, sizeof(path), "%s/empty.alaw", tmpdir);
	f = fopen(path, "w");
	fclose(f);
	c.file = path;
	assert_int_equal(sim_behave_alloc(&b, &c), EINVAL);
	snprintf(path, sizeof(path), "%s/junk.wav", tmpdir);
	f = fopen(path, "w");
	fputs(junk, f);
	fclose(f);
	assert_int_equal(sim_behave_alloc(&b, &c), EINVAL);
	c.media = SIM_MEDIA_RECORD;
	c.file = "/nonexistent/rec.alaw";
	assert_int_equal(sim_behave_alloc(&b, &c), ENOENT);
	c.media = SIM_MEDIA_FAX_RECEIVE;
	c.file = NULL;
	assert_int_equal(sim_behave_alloc(&b, &c), EINVAL);
	c.media = (enum sim_media)99;
	assert_int_equal(sim_behave_alloc(&b, &c), EINVAL);
	assert_null(b);		/* never written on failure */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_milliwatt_alaw),
		UNIT_TEST(test_milliwatt_ulaw),
		UNIT_TEST(test_echo_delay),
		UNIT_TEST(test_dtmf_echo),
		UNIT_TEST(test_record_play),
		UNIT_TEST(test_record_wav_header),
		UNIT_TEST(test_observe_tone),
		UNIT_TEST(test_observe_milliwatt),
		UNIT_TEST(test_observe_no_tone),
		UNIT_TEST(test_observe_digits),
		UNIT_TEST(test_fax),
		UNIT_TEST(test_names_and_errors),
	};

	gw_log_set_levels("warn");
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
