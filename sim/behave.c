/* sim/behave.c - pstnsim's per-channel media behaviours and observations */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <tiffio.h>	/* spandsp.h needs it first */
#include <spandsp.h>

#define GW_LOG_MOD "sim"
#include "sim.h"

/*
 * A behaviour is a small state object driven once per 20 ms frame with
 * what the gateway sent (rx) and what pstnsim sends back (tx), companded
 * as the span is.  Whatever the behaviour, an observer watches rx: a DTMF
 * receiver of its own (the dtmf-echo behaviour has a second one, so that
 * neither depends on the other's callbacks) and a one-second analysis
 * window that finds the received level and the dominant tone.
 *
 * Nothing here blocks on the frame path except T.30's own libtiff I/O at
 * page boundaries (spandsp does it inside fax_rx/fax_tx): play files are
 * read whole at alloc, recordings go through stdio's buffer.
 */

#define WINDOW_FRAMES	50			/* one second */
#define WINDOW_SAMPLES	(WINDOW_FRAMES * SIM_FRAME_SAMPLES)
#define MAX_DIGITS	256
#define MAX_PLAY_BYTES	(16u << 20)		/* about 35 minutes */
#define TONE_MIN_DBM0	(-50.0)		/* quieter is no tone */
#define TONE_PURITY	0.6		/* tone power / all power */

/* spandsp's reference, as its generators use it: a sine at 0 dBm0 peaks
 * 3.14 dB below full scale (G.711 A-law's maximum is +3.14 dBm0). */
#define DBM0_PEAK	(32767.0 * 0.696626)	/* 10^(-3.14/20) */

static const char *const media_names[] = {
	[SIM_MEDIA_SILENCE] = "silence",
	[SIM_MEDIA_ECHO] = "echo",
	[SIM_MEDIA_MILLIWATT] = "milliwatt",
	[SIM_MEDIA_DTMF_ECHO] = "dtmf-echo",
	[SIM_MEDIA_RECORD] = "record",
	[SIM_MEDIA_PLAY] = "play",
	[SIM_MEDIA_FAX_SEND] = "fax-send",
	[SIM_MEDIA_FAX_RECEIVE] = "fax-receive",
};

struct sim_behave {
	enum sim_media media;
	enum sim_law law;
	char *file;
	char *tag;
	uint8_t idle;			/* 0xd5 A-law, 0xff mu-law */
	uint64_t frames;

	/* Observer. */
	dtmf_rx_state_t *obs_dtmf;
	char digits[MAX_DIGITS + 1];
	size_t ndigits;
	int16_t win[WINDOW_SAMPLES];
	size_t nwin;
	bool have_level;
	double level_dbm0;
	bool have_tone;
	struct sim_tone tone;
	uint64_t tone_frame;		/* frame count when last seen */

	/* echo: a ring of delay frames */
	uint8_t *ring;
	unsigned delay_frames;
	unsigned ring_pos;

	/* milliwatt: where in its period */
	const uint8_t *mw;
	unsigned mw_pos;

	/* dtmf-echo */
	dtmf_rx_state_t *echo_rx;
	dtmf_tx_state_t *echo_tx;
	char echoed[MAX_DIGITS + 1];
	size_t nechoed;

	/* record */
	FILE *rec;
	bool rec_wav;
	uint64_t rec_bytes;
	int rec_errno;

	/* play: the whole file, in the span's law */
	uint8_t *play;
	size_t play_len, play_pos;
	unsigned play_loops;

	/* fax */
	fax_state_t *fax;
	bool fax_done;
	int fax_result;
	int fax_pages;
	int fax_bit_rate;
	bool fax_ecm;
};

/** The config name of a media behaviour. */
const char *sim_media_name(enum sim_media media)
{
	if ((size_t)media >= GW_ARRAY_SIZE(media_names))
		return "?";
	return media_names[media];
}

/** Parse a media behaviour's name; EINVAL if it is none. */
int sim_media_parse(const char *name, enum sim_media *mediap)
{
	size_t i;

	for (i = 0; name && i < GW_ARRAY_SIZE(media_names); i++) {
		if (!strcmp(name, media_names[i])) {
			*mediap = (enum sim_media)i;
			return 0;
		}
	}
	return EINVAL;
}

/** The level in dBm0 of n linear samples (-99 for digital silence). */
double sim_level_dbm0(const int16_t *amp, size_t n)
{
	double sum = 0.0, ref = DBM0_PEAK * DBM0_PEAK / 2.0;
	size_t i;

	for (i = 0; i < n; i++)
		sum += (double)amp[i] * amp[i];
	if (!n || sum <= 0.0)
		return -99.0;
	return 10.0 * log10(sum / (double)n / ref);
}

static inline int16_t decode(const struct sim_behave *b, uint8_t c)
{
	return b->law == SIM_LAW_ALAW ? alaw_to_linear(c) : ulaw_to_linear(c);
}

static inline uint8_t encode(enum sim_law law, int16_t s)
{
	return law == SIM_LAW_ALAW ? linear_to_alaw(s) : linear_to_ulaw(s);
}

/*
 * The milliwatt, the classic test line: 1004 Hz (not 1000, which would
 * sample the same few points of the sine over and over in a digital
 * path), at -10 dBm0 as DESIGN.md pins it.  At 8 kHz it repeats exactly
 * every 2000 samples (251 cycles), so one period per law is encoded once
 * and every call plays it from there.
 */
#define MW_HZ		1004
#define MW_PERIOD	2000

static const uint8_t *milliwatt_period(enum sim_law law)
{
	static uint8_t period[2][MW_PERIOD];
	static bool done[2];
	double amp = DBM0_PEAK * pow(10.0, -10.0 / 20.0);
	unsigned i;

	if (!done[law]) {
		for (i = 0; i < MW_PERIOD; i++) {
			int16_t s = (int16_t)lrint(amp * sin(2.0 * M_PI *
							     MW_HZ * i /
							     8000.0));

			period[law][i] = encode(law, s);
		}
		done[law] = true;
	}
	return period[law];
}

static void encode_frame(const struct sim_behave *b, const int16_t *amp,
			 uint8_t *tx)
{
	int i;

	for (i = 0; i < SIM_FRAME_SAMPLES; i++)
		tx[i] = encode(b->law, amp[i]);
}

static void add_digits(char *buf, size_t *np, const char *digits, int len)
{
	int i;

	for (i = 0; i < len && *np < MAX_DIGITS; i++)
		buf[(*np)++] = digits[i];
	buf[*np] = '\0';
}

/* ---- the observer ---------------------------------------------------- */

static void obs_digits(void *arg, const char *digits, int len)
{
	struct sim_behave *b = arg;

	add_digits(b->digits, &b->ndigits, digits, len);
	GW_DBG("%s: received DTMF '%.*s'", b->tag ? b->tag : "-", len,
	       digits);
}

/* Power of the tone at freq in x[0..n), by Goertzel, as a mean square. */
static double goertzel_ms(const int16_t *x, size_t n, double freq)
{
	double coef = 2.0 * cos(2.0 * M_PI * freq / 8000.0);
	double s0, s1 = 0.0, s2 = 0.0;
	size_t i;

	for (i = 0; i < n; i++) {
		s0 = x[i] + coef * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	/* |X|^2, scaled: a sine of amplitude A gives (A n / 2)^2. */
	return 2.0 * (s1 * s1 + s2 * s2 - coef * s1 * s2) /
		((double)n * (double)n);
}

/*
 * The dominant tone of a one-second window.  The frequency comes from
 * positive-going zero crossings, interpolated between samples: over a
 * second that is exact to a small fraction of a hertz for a clean tone.
 * A Goertzel filter at that frequency, on each 20 ms block (so that a
 * small error in the estimate costs nothing), then says how much of the
 * power is that tone: a tone is reported only if it holds most of it
 * (two DTMF tones, speech or noise do not).
 */
static void analyse_window(struct sim_behave *b)
{
	const int16_t *x = b->win;
	double first = -1.0, last = -1.0, t, freq, tone_ms = 0.0, all_ms;
	double ref = DBM0_PEAK * DBM0_PEAK / 2.0;
	unsigned crossings = 0;
	size_t i;

	b->level_dbm0 = sim_level_dbm0(x, WINDOW_SAMPLES);
	b->have_level = true;
	if (b->level_dbm0 < TONE_MIN_DBM0)
		return;
	for (i = 1; i < WINDOW_SAMPLES; i++) {
		if (!(x[i - 1] < 0 && x[i] >= 0))
			continue;
		t = (double)(i - 1) +
			(double)-x[i - 1] / (double)(x[i] - x[i - 1]);
		if (first < 0.0)
			first = t;
		last = t;
		crossings++;
	}
	if (crossings < 3 || last <= first)
		return;
	freq = (double)(crossings - 1) * 8000.0 / (last - first);
	if (freq < 50.0 || freq > 3950.0)
		return;
	for (i = 0; i < WINDOW_FRAMES; i++)
		tone_ms += goertzel_ms(x + i * SIM_FRAME_SAMPLES,
				       SIM_FRAME_SAMPLES, freq);
	tone_ms /= WINDOW_FRAMES;
	all_ms = pow(10.0, b->level_dbm0 / 10.0) * ref;
	if (tone_ms < TONE_PURITY * all_ms)
		return;
	b->have_tone = true;
	b->tone.freq_hz = freq;
	b->tone.level_dbm0 = 10.0 * log10(tone_ms / ref);
	b->tone_frame = b->frames;
}

static void observe(struct sim_behave *b, const int16_t *amp)
{
	dtmf_rx(b->obs_dtmf, amp, SIM_FRAME_SAMPLES);
	memcpy(b->win + b->nwin, amp, sizeof(*amp) * SIM_FRAME_SAMPLES);
	b->nwin += SIM_FRAME_SAMPLES;
	if (b->nwin == WINDOW_SAMPLES) {
		analyse_window(b);
		b->nwin = 0;
	}
}

/* ---- WAV files ------------------------------------------------------- */

/* WAVE format tags (RFC 2361). */
#define WAV_PCM		1
#define WAV_ALAW	6
#define WAV_MULAW	7

static void put_le16(uint8_t *p, unsigned v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, v & 0xffff);
	put_le16(p + 2, v >> 16);
}

static unsigned get_le16(const uint8_t *p)
{
	return p[0] | (unsigned)p[1] << 8;
}

static uint32_t get_le32(const uint8_t *p)
{
	return get_le16(p) | (uint32_t)get_le16(p + 2) << 16;
}

/*
 * The header of an 8 kHz mono G.711 WAV file holding n bytes: RIFF,
 * "fmt " with cbSize (non-PCM formats carry it), "fact" (required for
 * non-PCM), "data".
 */
#define WAV_HDR_LEN	58

static void wav_header(uint8_t *h, enum sim_law law, uint32_t n)
{
	memcpy(h, "RIFF", 4);
	put_le32(h + 4, WAV_HDR_LEN - 8 + n);
	memcpy(h + 8, "WAVEfmt ", 8);
	put_le32(h + 16, 18);
	put_le16(h + 20, law == SIM_LAW_ALAW ? WAV_ALAW : WAV_MULAW);
	put_le16(h + 22, 1);		/* channels */
	put_le32(h + 24, 8000);		/* sample rate */
	put_le32(h + 28, 8000);		/* bytes per second */
	put_le16(h + 32, 1);		/* block align */
	put_le16(h + 34, 8);		/* bits per sample */
	put_le16(h + 36, 0);		/* cbSize */
	memcpy(h + 38, "fact", 4);
	put_le32(h + 42, 4);
	put_le32(h + 46, n);		/* samples */
	memcpy(h + 50, "data", 4);
	put_le32(h + 54, n);
}

static bool is_wav_name(const char *path)
{
	size_t n = strlen(path);

	return n > 4 && !strcasecmp(path + n - 4, ".wav");
}

/* Convert a WAV file's samples to law; EINVAL unless 8 kHz mono G.711
 * or 16-bit PCM. */
static int wav_decode(const uint8_t *buf, size_t len, enum sim_law law,
		      uint8_t **outp, size_t *outlenp)
{
	const uint8_t *fmt = NULL, *data = NULL;
	size_t off = 12, fmtlen = 0, datalen = 0, i, n;
	unsigned tag;
	uint8_t *out;

	if (len < 12 || memcmp(buf, "RIFF", 4) || memcmp(buf + 8, "WAVE", 4))
		return EINVAL;
	while (off + 8 <= len) {
		uint32_t clen = get_le32(buf + off + 4);
		const uint8_t *body = buf + off + 8;

		if (clen > len - off - 8)
			clen = (uint32_t)(len - off - 8);	/* truncated */
		if (!memcmp(buf + off, "fmt ", 4)) {
			fmt = body;
			fmtlen = clen;
		} else if (!memcmp(buf + off, "data", 4)) {
			data = body;
			datalen = clen;
			break;
		}
		off += 8 + clen + (clen & 1);
	}
	if (!fmt || fmtlen < 16 || !data)
		return EINVAL;
	tag = get_le16(fmt);
	if (get_le16(fmt + 2) != 1 || get_le32(fmt + 4) != 8000)
		return EINVAL;
	if (tag == WAV_PCM && get_le16(fmt + 14) == 16)
		n = datalen / 2;
	else if ((tag == WAV_ALAW || tag == WAV_MULAW) &&
		 get_le16(fmt + 14) == 8)
		n = datalen;
	else
		return EINVAL;
	if (!n)
		return EINVAL;
	out = malloc(n);
	if (!out)
		return ENOMEM;
	for (i = 0; i < n; i++) {
		int16_t s;

		if (tag == WAV_PCM)
			s = (int16_t)get_le16(data + 2 * i);
		else if (tag == WAV_ALAW)
			s = alaw_to_linear(data[i]);
		else
			s = ulaw_to_linear(data[i]);
		if ((tag == WAV_ALAW && law == SIM_LAW_ALAW) ||
		    (tag == WAV_MULAW && law == SIM_LAW_ULAW))
			out[i] = data[i];
		else
			out[i] = encode(law, s);
	}
	*outp = out;
	*outlenp = n;
	return 0;
}

/* Read a play file whole, into the span's law. */
static int play_load(struct sim_behave *b)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;
	FILE *f;
	int err = 0;

	f = fopen(b->file, "rb");
	if (!f) {
		err = errno;
		GW_ERR("play %s: %s", b->file, strerror(err));
		return err;
	}
	for (;;) {
		if (len == cap) {
			uint8_t *nb;

			if (cap >= MAX_PLAY_BYTES) {
				GW_ERR("play %s: larger than %u bytes",
				       b->file, MAX_PLAY_BYTES);
				err = EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				err = ENOMEM;
				goto out;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		err = EIO;
		GW_ERR("play %s: read error", b->file);
		goto out;
	}
	if (is_wav_name(b->file)) {
		err = wav_decode(buf, len, b->law, &b->play, &b->play_len);
		if (err == EINVAL)
			GW_ERR("play %s: not an 8 kHz mono A-law, mu-law or "
			       "16-bit PCM WAV file", b->file);
		goto out;
	}
	if (!len) {
		GW_ERR("play %s: empty file", b->file);
		err = EINVAL;
		goto out;
	}
	b->play = buf;
	b->play_len = len;
	buf = NULL;
 out:
	free(buf);
	fclose(f);
	return err;
}

static int record_open(struct sim_behave *b)
{
	uint8_t h[WAV_HDR_LEN];
	int err;

	b->rec = fopen(b->file, "wb");
	if (!b->rec) {
		err = errno;
		GW_ERR("record %s: %s", b->file, strerror(err));
		return err;
	}
	b->rec_wav = is_wav_name(b->file);
	if (b->rec_wav) {
		wav_header(h, b->law, 0);
		if (fwrite(h, 1, sizeof(h), b->rec) != sizeof(h))
			b->rec_errno = errno ? errno : EIO;
	}
	return 0;
}

/* Close the recording, with the WAV sizes filled in now they are known. */
static void record_close(struct sim_behave *b)
{
	uint8_t h[WAV_HDR_LEN];
	uint32_t n = b->rec_bytes > UINT32_MAX - WAV_HDR_LEN ?
		UINT32_MAX - WAV_HDR_LEN : (uint32_t)b->rec_bytes;

	if (!b->rec)
		return;
	if (b->rec_wav && !b->rec_errno) {
		wav_header(h, b->law, n);
		if (fseek(b->rec, 0, SEEK_SET) ||
		    fwrite(h, 1, sizeof(h), b->rec) != sizeof(h))
			b->rec_errno = errno ? errno : EIO;
	}
	if (fclose(b->rec) && !b->rec_errno)
		b->rec_errno = errno ? errno : EIO;
	b->rec = NULL;
	if (b->rec_errno)
		GW_WARN("record %s: %s", b->file, strerror(b->rec_errno));
}

/* ---- fax ------------------------------------------------------------- */

/* spandsp's log lines, without a user pointer: one sink for all. */
static void fax_log(int level, const char *text)
{
	size_t n = strlen(text);

	while (n && text[n - 1] == '\n')
		n--;
	if (level <= SPAN_LOG_WARNING)
		GW_WARN("spandsp: %.*s", (int)n, text);
	else
		GW_DBG("spandsp: %.*s", (int)n, text);
}

static void fax_phase_e(t30_state_t *t30, void *arg, int result)
{
	struct sim_behave *b = arg;
	t30_stats_t st;

	t30_get_transfer_statistics(t30, &st);
	b->fax_done = true;
	b->fax_result = result;
	b->fax_pages = b->media == SIM_MEDIA_FAX_SEND ? st.pages_tx :
		st.pages_rx;
	b->fax_bit_rate = st.bit_rate;
	b->fax_ecm = st.error_correcting_mode != 0;
	GW_INFO("%s: fax %s finished: %s (%d), %d page(s) at %d bit/s",
		b->tag ? b->tag : "-",
		b->media == SIM_MEDIA_FAX_SEND ? "send" : "receive",
		t30_completion_code_to_str(result), result, b->fax_pages,
		b->fax_bit_rate);
}

static int fax_open(struct sim_behave *b)
{
	bool sending = b->media == SIM_MEDIA_FAX_SEND;
	t30_state_t *t30;
	logging_state_t *ls;

	/* The sender calls (CNG), the receiver answers (CED, DIS). */
	b->fax = fax_init(NULL, sending);
	if (!b->fax)
		return ENOMEM;
	fax_set_transmit_on_idle(b->fax, true);
	t30 = fax_get_t30_state(b->fax);
	t30_set_tx_ident(t30, "pstnsim");
	t30_set_supported_modems(t30, T30_SUPPORT_V27TER | T30_SUPPORT_V29 |
				 T30_SUPPORT_V17);
	t30_set_supported_compressions(t30, T30_SUPPORT_T4_1D_COMPRESSION |
				       T30_SUPPORT_T4_2D_COMPRESSION |
				       T30_SUPPORT_T6_COMPRESSION);
	t30_set_ecm_capability(t30, true);
	t30_set_phase_e_handler(t30, fax_phase_e, b);
	if (sending)
		t30_set_tx_file(t30, b->file, -1, -1);
	else
		t30_set_rx_file(t30, b->file, -1);
	ls = fax_get_logging_state(b->fax);
	span_log_set_message_handler(ls, fax_log);
	span_log_set_level(ls, gw_log_enabled(GW_LOG_MOD, GW_LOG_DEBUG) ?
			   SPAN_LOG_FLOW : SPAN_LOG_WARNING);
	return 0;
}

/* ---- the object ------------------------------------------------------ */

static void behave_destroy(void *data)
{
	struct sim_behave *b = data;

	record_close(b);
	if (b->fax)
		fax_free(b->fax);
	if (b->echo_rx)
		dtmf_rx_free(b->echo_rx);
	if (b->echo_tx)
		dtmf_tx_free(b->echo_tx);
	if (b->obs_dtmf)
		dtmf_rx_free(b->obs_dtmf);
	free(b->ring);
	free(b->play);
	gw_mem_deref(b->file);
	gw_mem_deref(b->tag);
}

static void echo_digits(void *arg, const char *digits, int len)
{
	struct sim_behave *b = arg;

	add_digits(b->echoed, &b->nechoed, digits, len);
	dtmf_tx_put(b->echo_tx, digits, len);
	GW_DBG("%s: echoing DTMF '%.*s'", b->tag ? b->tag : "-", len,
	       digits);
}

static bool needs_file(enum sim_media m)
{
	return m == SIM_MEDIA_RECORD || m == SIM_MEDIA_PLAY ||
		m == SIM_MEDIA_FAX_SEND || m == SIM_MEDIA_FAX_RECEIVE;
}

/**
 * A behaviour for one channel, ready for its first frame.  EINVAL for a
 * bad conf (a file behaviour without a file, a play file that is not
 * audio), else the errno of opening its file.
 */
int sim_behave_alloc(struct sim_behave **bp,
		     const struct sim_behave_conf *conf)
{
	struct sim_behave *b;
	int err = 0;

	if (!bp || !conf || (size_t)conf->media >= GW_ARRAY_SIZE(media_names)
	    || (conf->law != SIM_LAW_ALAW && conf->law != SIM_LAW_ULAW))
		return EINVAL;
	if (needs_file(conf->media) && (!conf->file || !*conf->file)) {
		GW_ERR("%s needs a file", sim_media_name(conf->media));
		return EINVAL;
	}
	b = gw_mem_zalloc(sizeof(*b), behave_destroy);
	if (!b)
		return ENOMEM;
	b->media = conf->media;
	b->law = conf->law;
	b->idle = b->law == SIM_LAW_ALAW ? 0xd5 : 0xff;
	if (conf->file) {
		b->file = gw_mem_strdup(conf->file);
		if (!b->file) {
			err = ENOMEM;
			goto out;
		}
	}
	if (conf->tag) {
		b->tag = gw_mem_strdup(conf->tag);
		if (!b->tag) {
			err = ENOMEM;
			goto out;
		}
	}
	b->obs_dtmf = dtmf_rx_init(NULL, obs_digits, b);
	if (!b->obs_dtmf) {
		err = ENOMEM;
		goto out;
	}

	switch (b->media) {
	case SIM_MEDIA_SILENCE:
		break;
	case SIM_MEDIA_ECHO:
		b->delay_frames = (conf->delay_ms + SIM_FRAME_MS / 2) /
			SIM_FRAME_MS;
		if (b->delay_frames) {
			b->ring = malloc((size_t)b->delay_frames *
					 SIM_FRAME_SAMPLES);
			if (!b->ring) {
				err = ENOMEM;
				goto out;
			}
			memset(b->ring, b->idle, (size_t)b->delay_frames *
			       SIM_FRAME_SAMPLES);
		}
		break;
	case SIM_MEDIA_MILLIWATT:
		b->mw = milliwatt_period(b->law);
		break;
	case SIM_MEDIA_DTMF_ECHO:
		b->echo_rx = dtmf_rx_init(NULL, echo_digits, b);
		b->echo_tx = dtmf_tx_init(NULL);
		if (!b->echo_rx || !b->echo_tx) {
			err = ENOMEM;
			goto out;
		}
		dtmf_tx_set_level(b->echo_tx, -10, 0);
		dtmf_tx_set_timing(b->echo_tx, 80, 80);
		break;
	case SIM_MEDIA_RECORD:
		err = record_open(b);
		break;
	case SIM_MEDIA_PLAY:
		err = play_load(b);
		break;
	case SIM_MEDIA_FAX_SEND:
	case SIM_MEDIA_FAX_RECEIVE:
		err = fax_open(b);
		break;
	}
 out:
	if (err)
		gw_mem_deref(b);
	else
		*bp = b;
	return err;
}

static void frame_milliwatt(struct sim_behave *b, uint8_t *tx)
{
	unsigned n = 0, k;

	while (n < SIM_FRAME_SAMPLES) {
		k = MW_PERIOD - b->mw_pos;
		if (k > SIM_FRAME_SAMPLES - n)
			k = SIM_FRAME_SAMPLES - n;
		memcpy(tx + n, b->mw + b->mw_pos, k);
		n += k;
		b->mw_pos = (b->mw_pos + k) % MW_PERIOD;
	}
}

static void frame_echo(struct sim_behave *b, const uint8_t *rx, uint8_t *tx)
{
	uint8_t *slot;

	if (!b->delay_frames) {
		memcpy(tx, rx, SIM_FRAME_SAMPLES);
		return;
	}
	slot = b->ring + (size_t)b->ring_pos * SIM_FRAME_SAMPLES;
	memcpy(tx, slot, SIM_FRAME_SAMPLES);
	memcpy(slot, rx, SIM_FRAME_SAMPLES);
	b->ring_pos = (b->ring_pos + 1) % b->delay_frames;
}

static void frame_record(struct sim_behave *b, const uint8_t *rx)
{
	if (!b->rec || b->rec_errno)
		return;
	if (fwrite(rx, 1, SIM_FRAME_SAMPLES, b->rec) != SIM_FRAME_SAMPLES) {
		b->rec_errno = errno ? errno : EIO;
		GW_WARN("record %s: %s; recording stops", b->file,
			strerror(b->rec_errno));
		return;
	}
	b->rec_bytes += SIM_FRAME_SAMPLES;
}

static void frame_play(struct sim_behave *b, uint8_t *tx)
{
	size_t i;

	for (i = 0; i < SIM_FRAME_SAMPLES; i++) {
		tx[i] = b->play[b->play_pos++];
		if (b->play_pos == b->play_len) {
			b->play_pos = 0;
			b->play_loops++;
		}
	}
}

/* Audio out of a spandsp generator, padded with silence. */
static void frame_gen(struct sim_behave *b, int16_t *amp, int n, uint8_t *tx)
{
	if (n < 0)
		n = 0;
	if (n < SIM_FRAME_SAMPLES)
		memset(amp + n, 0, sizeof(*amp) * (SIM_FRAME_SAMPLES - n));
	encode_frame(b, amp, tx);
}

/**
 * Run one 20 ms frame: observe rx, then fill tx as the behaviour does.
 * Every spandsp context is fed every frame (they keep time by it).
 */
void sim_behave_frame(struct sim_behave *b, const uint8_t *rx, uint8_t *tx)
{
	int16_t in[SIM_FRAME_SAMPLES], out[SIM_FRAME_SAMPLES];
	int i, n;

	for (i = 0; i < SIM_FRAME_SAMPLES; i++)
		in[i] = decode(b, rx[i]);
	observe(b, in);

	switch (b->media) {
	case SIM_MEDIA_SILENCE:
		memset(tx, b->idle, SIM_FRAME_SAMPLES);
		break;
	case SIM_MEDIA_ECHO:
		frame_echo(b, rx, tx);
		break;
	case SIM_MEDIA_MILLIWATT:
		frame_milliwatt(b, tx);
		break;
	case SIM_MEDIA_DTMF_ECHO:
		dtmf_rx(b->echo_rx, in, SIM_FRAME_SAMPLES);
		n = dtmf_tx(b->echo_tx, out, SIM_FRAME_SAMPLES);
		frame_gen(b, out, n, tx);
		break;
	case SIM_MEDIA_RECORD:
		frame_record(b, rx);
		memset(tx, b->idle, SIM_FRAME_SAMPLES);
		break;
	case SIM_MEDIA_PLAY:
		frame_play(b, tx);
		break;
	case SIM_MEDIA_FAX_SEND:
	case SIM_MEDIA_FAX_RECEIVE:
		fax_rx(b->fax, in, SIM_FRAME_SAMPLES);
		n = fax_tx(b->fax, out, SIM_FRAME_SAMPLES);
		frame_gen(b, out, n, tx);
		break;
	}
	b->frames++;
}

/** The behaviour's kind. */
enum sim_media sim_behave_media(const struct sim_behave *b)
{
	return b->media;
}

/** Frames run so far. */
uint64_t sim_behave_frames(const struct sim_behave *b)
{
	return b->frames;
}

/** DTMF digits received so far, in order. */
const char *sim_behave_digits(const struct sim_behave *b)
{
	return b->digits;
}

/** The latest dominant tone received, if any has been. */
bool sim_behave_tone(const struct sim_behave *b, struct sim_tone *tonep)
{
	if (b->have_tone && tonep)
		*tonep = b->tone;
	return b->have_tone;
}

/** The level received over the latest whole second, if one has passed. */
bool sim_behave_level(const struct sim_behave *b, double *dbm0p)
{
	if (b->have_level && dbm0p)
		*dbm0p = b->level_dbm0;
	return b->have_level;
}

/** A fax behaviour's T.30 completion code, once it has one. */
bool sim_behave_fax_result(const struct sim_behave *b, int *resultp)
{
	if (b->fax_done && resultp)
		*resultp = b->fax_result;
	return b->fax_done;
}

static json_t *round1(double v)
{
	return json_real(round(v * 10.0) / 10.0);
}

/**
 * What the behaviour observed, as JSON: frames, digits, tone (frequency
 * and level, or null), level, and what is particular to the behaviour
 * (the fax result, the recording's size, the echo delay...).
 */
json_t *sim_behave_json(const struct sim_behave *b)
{
	json_t *o = json_object(), *t, *f;

	if (!o)
		return NULL;
	json_object_set_new(o, "frames", json_integer((json_int_t)b->frames));
	json_object_set_new(o, "digits", json_string(b->digits));
	if (b->have_tone) {
		t = json_object();
		json_object_set_new(t, "freq_hz", round1(b->tone.freq_hz));
		json_object_set_new(t, "level_dbm0",
				    round1(b->tone.level_dbm0));
		json_object_set_new(t, "age_ms", json_integer(
			(json_int_t)(b->frames - b->tone_frame) *
			SIM_FRAME_MS));
		json_object_set_new(o, "tone", t);
	} else {
		json_object_set_new(o, "tone", json_null());
	}
	json_object_set_new(o, "level_dbm0", b->have_level ?
			    round1(b->level_dbm0) : json_null());

	switch (b->media) {
	case SIM_MEDIA_ECHO:
		json_object_set_new(o, "delay_ms", json_integer(
			(json_int_t)b->delay_frames * SIM_FRAME_MS));
		break;
	case SIM_MEDIA_DTMF_ECHO:
		json_object_set_new(o, "echoed", json_string(b->echoed));
		break;
	case SIM_MEDIA_RECORD:
		json_object_set_new(o, "file", json_string(b->file));
		json_object_set_new(o, "bytes",
				    json_integer((json_int_t)b->rec_bytes));
		if (b->rec_errno)
			json_object_set_new(o, "error", json_string(
				strerror(b->rec_errno)));
		break;
	case SIM_MEDIA_PLAY:
		json_object_set_new(o, "file", json_string(b->file));
		json_object_set_new(o, "loops", json_integer(b->play_loops));
		break;
	case SIM_MEDIA_FAX_SEND:
	case SIM_MEDIA_FAX_RECEIVE:
		json_object_set_new(o, "file", json_string(b->file));
		if (!b->fax_done) {
			json_object_set_new(o, "fax", json_null());
			break;
		}
		f = json_object();
		json_object_set_new(f, "result", json_integer(b->fax_result));
		json_object_set_new(f, "result_text", json_string(
			t30_completion_code_to_str(b->fax_result)));
		json_object_set_new(f, "ok", json_boolean(
			b->fax_result == T30_ERR_OK));
		json_object_set_new(f, "pages", json_integer(b->fax_pages));
		json_object_set_new(f, "bit_rate",
				    json_integer(b->fax_bit_rate));
		json_object_set_new(f, "ecm", json_boolean(b->fax_ecm));
		json_object_set_new(o, "fax", f);
		break;
	default:
		break;
	}
	return o;
}
