/* media/chan.c - one call's media: a bearer channel's frames <-> an RTP stream */
#include <errno.h>
#include <math.h>
#include <string.h>

#define GW_LOG_MOD "media"
#include "media.h"

/*
 * Per tick, from the line toward IP: companded -> linear, echo
 * cancellation (the reference is what we sent to the line last), DTMF
 * and fax tone detection, then either RFC 4733 events (the digit muted
 * as audio, so the far end never hears it twice), comfort noise packets
 * while the line is silent, or the codec.  From IP toward the line: the
 * jitter buffer's payload decoded into a small playout queue (a 40 or
 * 60 ms packet feeds two or three ticks), concealment when the buffer
 * says audio is missing, comfort noise while the peer signals silence,
 * RFC 4733 digits regenerated in-band, a call-progress tone over
 * everything, linear -> companded.
 *
 * Silence toward IP (RFC 3389 with RFC 3551 4.1): a tick is quiet when
 * its energy is below VAD_DBOV; after VAD_HANG quiet ticks (the
 * hangover, so that pauses inside speech still go as audio) the stream
 * sends a comfort noise packet with the level of the quiet ticks, then
 * one every CN_PERIOD ticks and nothing in between; the first loud tick
 * goes as audio again, with the marker.
 *
 * Everything is allocated at setup; the tick allocates nothing.
 */

#define PLAYOUT_MAX	(MEDIA_TICK_SAMPLES * 8)	/* 160 ms */
#define PAYLOAD_MAX	1500
#define PT_CN		13
#define VAD_DBOV	50	/* quiet below -50 dBov (about -47 dBm0) */
#define VAD_POW		1e5	/* 10^(VAD_DBOV / 10) */
#define VAD_HANG	10	/* ticks: 200 ms of hangover */
#define CN_PERIOD	10	/* ticks: a CN update every 200 ms */
#define FULL_SCALE	32767.0	/* 0 dBov: a full-scale square wave
				 * (RFC 3389 3) */

struct media_chan {
	struct media_chan_conf conf;
	struct media_stream *stream;
	struct media_codec *codec;
	struct media_ec *ec;
	struct media_dtmf_rx *dtmf_rx;
	struct media_dtmf_tx *dtmf_tx;	/* RFC 4733 and requested digits */
	struct media_tonegen *tone;
	struct media_tonegen *iptone;	/* toward IP, over the line's audio */
	struct media_tonedet *tonedet;
	media_chan_h *h;
	void *arg;
	enum media_dir dir;
	bool detect;			/* DTMF detection runs */
	bool cn;			/* the stream has comfort noise */
	bool same_law;			/* G.711 of the line's law, 20 ms:
					 * its payload is the line's bytes */
	bool copy;			/* same_law with nothing that needs
					 * linear audio toward IP */
	int copy_pt;			/* its payload type (the codec's) */
	bool dtmf_busy;			/* media_dtmf_tx_busy(dtmf_tx), kept
					 * here: the tick reads it */
	unsigned ts_per_sample;

	/* toward IP */
	int16_t sent_lin[MEDIA_TICK_SAMPLES];	/* last tick to the line */
	int16_t enc_buf[MEDIA_TICK_SAMPLES * 3];	/* ptime accumulator */
	unsigned enc_n;
	char te_digit;			/* RFC 4733 event going out */
	bool te_end;
	unsigned quiet;			/* consecutive quiet ticks */
	unsigned cn_wait;		/* ticks to the next CN packet */
	double noise_e;			/* mean square of the quiet ticks */

	/* toward the line */
	int16_t play[PLAYOUT_MAX];
	unsigned play_n;
	bool cn_play;			/* the peer is silent: comfort noise */
	uint8_t cn_level;		/* its level, -dBov */
	float cn_gain;
	uint32_t cn_seed;
	int32_t cn_lp;

	uint64_t ticks, digits_tdm, digits_rtp;
};

static void chan_destroy(void *arg)
{
	struct media_chan *c = arg;

	gw_mem_deref(c->tone);
	gw_mem_deref(c->iptone);
	gw_mem_deref(c->tonedet);
	gw_mem_deref(c->dtmf_tx);
	gw_mem_deref(c->dtmf_rx);
	gw_mem_deref(c->ec);
	gw_mem_deref(c->codec);
	gw_mem_deref(c->stream);
}

static void on_tdm_digit(char digit, bool end, unsigned duration_ms,
			 void *arg)
{
	struct media_chan *c = arg;

	if (c->conf.te && c->stream) {
		c->te_digit = digit;
		c->te_end = end;
	}
	if (end) {
		c->digits_tdm++;
		if (c->h)
			c->h(c, MEDIA_CHAN_DIGIT_TDM, digit, duration_ms,
			     c->arg);
	}
}

static void on_rtp_digit(char digit, bool end, unsigned duration_ms,
			 void *arg)
{
	struct media_chan *c = arg;

	if (!end) {
		media_dtmf_tx_start(c->dtmf_tx, digit);
		c->dtmf_busy = media_dtmf_tx_busy(c->dtmf_tx);
		return;
	}
	media_dtmf_tx_stop(c->dtmf_tx);
	c->dtmf_busy = media_dtmf_tx_busy(c->dtmf_tx);
	c->digits_rtp++;
	if (c->h)
		c->h(c, MEDIA_CHAN_DIGIT_RTP, digit, duration_ms, c->arg);
}

static void on_timeout(void *arg)
{
	struct media_chan *c = arg;

	if (c->h)
		c->h(c, MEDIA_CHAN_RTP_TIMEOUT, 0, 0, c->arg);
}

static void on_fax_tone(enum media_tonedet_ev ev, void *arg)
{
	struct media_chan *c = arg;

	/* G.164/G.165: ANS with phase reversals asks for the echo
	 * canceller to go, so that the modems' own can work. */
	if (ev == MEDIA_DET_ANS_PR && c->ec)
		media_ec_enable(c->ec, false);
	if (c->h)
		c->h(c, MEDIA_CHAN_FAX_TONE, (char)ev, 0, c->arg);
}

/**
 * Set up one call's media: its RTP stream from sc (conf.socks, or bound
 * from the port range), the codec, the echo canceller and the detectors
 * of cf.  sc NULL: a channel without RTP (TDM only, while a call is set
 * up): tones and digits to the line and detection from it work, cf's
 * codec and ptime are not looked at.
 */
int media_chan_alloc(struct media_chan **cp, const struct media_chan_conf *cf,
		     const struct media_stream_conf *sc, media_chan_h *h,
		     void *arg)
{
	const struct media_codec_info *ci = NULL;
	struct media_chan *c;
	int err;

	if (!cp || !cf || (sc && cf->codec >= MEDIA_CODEC_COUNT)) {
		err = EINVAL;
		goto fail;
	}
	c = gw_mem_zalloc(sizeof(*c), chan_destroy);
	if (!c) {
		err = ENOMEM;
		goto fail;
	}
	c->conf = *cf;
	c->conf.fmtp = NULL;
	c->h = h;
	c->arg = arg;
	c->dir = sc ? sc->dir : MEDIA_DIR_INACTIVE;
	c->cn = sc && sc->cn;
	c->cn_seed = 0x2545f491u;
	c->detect = cf->te || cf->detect_dtmf;
	if (sc) {
		ci = media_codec_info(cf->codec);
		if (!c->conf.ptime)
			c->conf.ptime = 20;
		if (c->conf.ptime % ci->frame_ms || c->conf.ptime < 10 ||
		    c->conf.ptime > 60) {
			err = EINVAL;
			media_rtp_socks_close(sc->socks);	/* as promised */
			goto out;
		}
		err = media_stream_alloc(&c->stream, sc, on_rtp_digit,
					 on_timeout, c);
		if (err)
			goto out;
		err = media_codec_alloc(&c->codec, cf->codec, cf->fmtp);
		if (err)
			goto out;
		c->ts_per_sample = media_codec_ts_per_sample(c->codec);
	}
	if (cf->ec) {
		err = media_ec_alloc(&c->ec, cf->ec_tail_ms ? cf->ec_tail_ms :
				     64);
		if (err)
			goto out;
	}
	if (cf->detect_fax) {
		err = media_tonedet_alloc(&c->tonedet, on_fax_tone, c);
		if (err)
			goto out;
	}
	err = media_dtmf_rx_alloc(&c->dtmf_rx, on_tdm_digit, c);
	if (err)
		goto out;
	err = media_dtmf_tx_alloc(&c->dtmf_tx);
	if (err)
		goto out;
	/* The byte copy: no transcoding.  Toward the line always when the
	 * codec is the line's law (the echo canceller's reference is
	 * decoded beside it); toward IP when nothing needs linear audio
	 * there: DTMF detection does (with RFC 4733, or when the digits
	 * are wanted), and so do the fax tone detector and the echo
	 * canceller, but only the canceller changes the audio (G.711 is
	 * one to one, so decoding and encoding again gives the same
	 * bytes). */
	c->same_law = c->stream && c->conf.ptime == 20 &&
		((cf->codec == MEDIA_PCMA && cf->law == MEDIA_LAW_ALAW) ||
		 (cf->codec == MEDIA_PCMU && cf->law == MEDIA_LAW_ULAW));
	c->copy = c->same_law && !cf->ec && !c->detect && !cf->detect_fax;
	c->copy_pt = ci ? ci->static_pt : -1;
 out:
	if (err)
		gw_mem_deref(c);
	else
		*cp = c;
	return err;
 fail:
	if (sc)
		media_rtp_socks_close(sc->socks);
	return err;
}

/** The channel's RTP stream (for its port, the remote, SRTP, hold), or
 * NULL for a channel without one. */
struct media_stream *media_chan_stream(const struct media_chan *c)
{
	return c ? c->stream : NULL;
}

static bool dir_sends(enum media_dir dir)
{
	return dir == MEDIA_DIR_SENDRECV || dir == MEDIA_DIR_SENDONLY;
}

static bool dir_receives(enum media_dir dir)
{
	return dir == MEDIA_DIR_SENDRECV || dir == MEDIA_DIR_RECVONLY;
}

/**
 * Set the stream's direction (SDP a=sendrecv and the others, H.248 mode):
 * nothing goes toward IP unless SENDRECV or SENDONLY; what arrives is
 * played to the line only with SENDRECV or RECVONLY, silence (and tones,
 * digits) otherwise.  A no-op without a stream.  EINVAL for a bad dir.
 */
int media_chan_set_dir(struct media_chan *c, enum media_dir dir)
{
	if (!c || (unsigned)dir > MEDIA_DIR_INACTIVE)
		return EINVAL;
	if (!c->stream)
		return 0;
	media_stream_set_dir(c->stream, dir);
	c->dir = dir;
	if (!dir_receives(dir)) {
		c->play_n = 0;		/* what was due plays no more */
		c->cn_play = false;
	}
	if (!dir_sends(dir)) {
		c->enc_n = 0;
		c->te_digit = 0;
		c->quiet = 0;
	}
	return 0;
}

/* A tick's sum of squares at which it is not silence (silence_tx). */
#define VAD_E ((uint64_t)(MEDIA_TICK_SAMPLES * FULL_SCALE * FULL_SCALE / \
			  VAD_POW))

/* Sum of squares of a tick, companded or linear; once it reaches VAD_E
 * (speech, mostly within the first block) the rest is not added. */
static uint64_t energy_law(const struct media_chan *c, const uint8_t *in)
{
	const int16_t *t = c->conf.law == MEDIA_LAW_ALAW ? media_alaw_to_lin :
		media_ulaw_to_lin;
	uint64_t e = 0;
	unsigned i, j;

	for (i = 0; i < MEDIA_TICK_SAMPLES && e < VAD_E; i += 16)
		for (j = i; j < i + 16; j++)
			e += (uint64_t)((int64_t)t[in[j]] * t[in[j]]);
	return e;
}

static uint64_t energy_lin(const int16_t *in)
{
	uint64_t e = 0;
	unsigned i, j;

	for (i = 0; i < MEDIA_TICK_SAMPLES && e < VAD_E; i += 16)
		for (j = i; j < i + 16; j++)
			e += (uint64_t)((int64_t)in[j] * in[j]);
	return e;
}

/* The -dBov level of a mean square (RFC 3389 3): 0..127. */
static uint8_t level_dbov(double ms)
{
	double l;

	if (ms < 1.0)
		return 127;
	l = 10.0 * log10(FULL_SCALE * FULL_SCALE / ms);
	return l < 0 ? 0 : l > 127 ? 127 : (uint8_t)lrint(l);
}

/* Silence toward IP (see the top of the file), one tick of energy e:
 * true when the tick was taken care of (a CN packet, or nothing). */
static bool silence_tx(struct media_chan *c, uint64_t e)
{
	double ms = (double)e / MEDIA_TICK_SAMPLES;
	unsigned units = MEDIA_TICK_SAMPLES * c->ts_per_sample;

	if (!c->cn)
		return false;
	if (e >= VAD_E) {
		c->quiet = 0;
		return false;
	}
	c->noise_e = c->quiet ? c->noise_e + (ms - c->noise_e) / 8 : ms;
	if (c->quiet < VAD_HANG) {
		if (++c->quiet < VAD_HANG)
			return false;
		/* The talkspurt ends: what the ptime accumulator holds is
		 * dropped, its time passes. */
		if (c->enc_n)
			media_stream_tx(c->stream, NULL, 0,
					c->enc_n * c->ts_per_sample);
		c->enc_n = 0;
		c->cn_wait = 0;
	}
	if (!c->cn_wait) {
		c->cn_wait = CN_PERIOD;
		media_stream_tx_cn(c->stream, level_dbov(c->noise_e), units);
	} else {
		media_stream_tx(c->stream, NULL, 0, units);
	}
	c->cn_wait--;
	return true;
}

static void to_lin(const struct media_chan *c, const uint8_t *in,
		   int16_t *out)
{
	const int16_t *t = c->conf.law == MEDIA_LAW_ALAW ? media_alaw_to_lin :
		media_ulaw_to_lin;
	unsigned i;

	for (i = 0; i < MEDIA_TICK_SAMPLES; i++)
		out[i] = t[in[i]];
}

static void from_lin(const struct media_chan *c, const int16_t *in,
		     uint8_t *out)
{
	unsigned i;

	if (c->conf.law == MEDIA_LAW_ALAW)
		for (i = 0; i < MEDIA_TICK_SAMPLES; i++)
			out[i] = media_lin_to_alaw(in[i]);
	else
		for (i = 0; i < MEDIA_TICK_SAMPLES; i++)
			out[i] = media_lin_to_ulaw(in[i]);
}

/* Line -> IP for one tick. */
static void toward_ip(struct media_chan *c, const uint8_t *tdm_rx)
{
	int16_t lin[MEDIA_TICK_SAMPLES], clean[MEDIA_TICK_SAMPLES];
	uint8_t payload[PAYLOAD_MAX];
	unsigned per = c->conf.ptime * 8, n;
	int len;

	if (c->copy && !c->iptone) {
		if (!dir_sends(c->dir) ||
		    !silence_tx(c, c->cn ? energy_law(c, tdm_rx) : 0))
			media_stream_tx(c->stream, tdm_rx, MEDIA_TICK_SAMPLES,
					MEDIA_TICK_SAMPLES);
		return;
	}
	to_lin(c, tdm_rx, lin);
	if (c->ec)
		media_ec_process(c->ec, c->sent_lin, lin, clean,
				 MEDIA_TICK_SAMPLES);
	else
		memcpy(clean, lin, sizeof(clean));
	if (c->detect)
		media_dtmf_rx_process(c->dtmf_rx, clean, MEDIA_TICK_SAMPLES);
	if (c->tonedet)
		media_tonedet_process(c->tonedet, clean, MEDIA_TICK_SAMPLES);
	if (!c->stream || gw_mem_nrefs(c) < 2)
		return;
	if (!dir_sends(c->dir)) {
		/* The stream sends nothing; its clock runs on. */
		media_stream_tx(c->stream, NULL, 0,
				MEDIA_TICK_SAMPLES * c->ts_per_sample);
		return;
	}

	/* RFC 4733 2.5: while a digit goes out as events, its audio does
	 * not; the RTP clock runs on through the gap. */
	if (c->te_digit) {
		media_stream_send_event(c->stream, c->te_digit, c->te_end);
		if (c->te_end)
			c->te_digit = 0;
		c->enc_n = 0;
		c->quiet = 0;
		media_stream_tx(c->stream, NULL, 0,
				MEDIA_TICK_SAMPLES * c->ts_per_sample);
		return;
	}
	if (c->iptone)
		media_tonegen_fill(c->iptone, clean, MEDIA_TICK_SAMPLES);
	else if (c->cn && silence_tx(c, energy_lin(clean)))
		return;

	if (c->same_law && !c->ec && !c->iptone) {
		media_stream_tx(c->stream, tdm_rx, MEDIA_TICK_SAMPLES,
				MEDIA_TICK_SAMPLES);
		return;
	}
	/* Accumulate to the ptime; a 10 ms ptime sends two packets. */
	memcpy(c->enc_buf + c->enc_n, clean, sizeof(clean));
	c->enc_n += MEDIA_TICK_SAMPLES;
	for (n = 0; c->enc_n - n >= per; n += per) {
		len = media_codec_encode(c->codec, c->enc_buf + n, per,
					 payload, sizeof(payload));
		if (len < 0) {
			GW_LOG_LIMITED(GW_LOG_WARN, "encode failed: %s",
				       strerror(-len));
			continue;
		}
		media_stream_tx(c->stream, payload, (size_t)len,
				per * c->ts_per_sample);
	}
	if (n) {
		c->enc_n -= n;
		memmove(c->enc_buf, c->enc_buf + n,
			c->enc_n * sizeof(int16_t));
	}
}

/* Comfort noise at the peer's level (RFC 3389 4: the receiver makes
 * noise of the signalled energy; without spectral coefficients, a
 * gently low-passed white noise). */
static void cn_level_set(struct media_chan *c, uint8_t level)
{
	/* Uniform noise of 16 bits has an rms of 65536 / sqrt(12); the
	 * one-pole smoothing (y = (x + y') / 2) keeps a third of its power:
	 * 10922.7 rms before the gain. */
	c->cn_level = level & 0x7f;
	c->cn_gain = (float)(FULL_SCALE * pow(10.0, -c->cn_level / 20.0) /
			     10922.7);
}

static void cn_fill(struct media_chan *c, int16_t *out)
{
	unsigned i;

	for (i = 0; i < MEDIA_TICK_SAMPLES; i++) {
		float v;

		c->cn_seed = c->cn_seed * 1664525u + 1013904223u;
		c->cn_lp = ((int32_t)(c->cn_seed >> 16) - 32768 + c->cn_lp) /
			2;
		v = (float)c->cn_lp * c->cn_gain;
		out[i] = (int16_t)(v > 32767.0f ? 32767 : v < -32768.0f ?
				   -32768 : (int)v);
	}
}

/* IP -> line for one tick: fills lin; false if the copy path wrote tx. */
static bool toward_line(struct media_chan *c, uint8_t *tdm_tx, int16_t *lin)
{
	uint8_t payload[PAYLOAD_MAX];
	struct media_stream_frame f;
	int n;

	if (!c->stream ||
	    media_stream_rx(c->stream, payload, sizeof(payload), &f))
		f.len = 0, f.lost = false, f.pt = 0;
	if (gw_mem_nrefs(c) < 2)
		f.len = 0, f.lost = false;	/* a handler dropped us */
	if (c->same_law && f.len == MEDIA_TICK_SAMPLES &&
	    f.pt == c->copy_pt && !c->dtmf_busy && !c->tone) {
		memcpy(tdm_tx, payload, MEDIA_TICK_SAMPLES);
		c->cn_play = false;
		return false;
	}
	if (f.len && f.pt == PT_CN) {
		/* RFC 3389 3: the first byte is the level; a packet without
		 * it keeps the last one. */
		if (!c->cn_play || f.len >= 1)
			cn_level_set(c, f.len >= 1 ? payload[0] : 127);
		c->cn_play = true;
	} else if (f.len) {
		n = media_codec_decode(c->codec, payload, f.len,
				       c->play + c->play_n,
				       PLAYOUT_MAX - c->play_n);
		if (n > 0)
			c->play_n += (unsigned)n;
		c->cn_play = false;
	}
	if (c->play_n < MEDIA_TICK_SAMPLES && f.lost) {
		n = media_codec_conceal(c->codec, c->play + c->play_n,
					MEDIA_TICK_SAMPLES - c->play_n);
		if (n > 0)
			c->play_n += (unsigned)n;
	}
	if (c->play_n >= MEDIA_TICK_SAMPLES) {
		memcpy(lin, c->play, MEDIA_TICK_SAMPLES * sizeof(int16_t));
		c->play_n -= MEDIA_TICK_SAMPLES;
		memmove(c->play, c->play + MEDIA_TICK_SAMPLES,
			c->play_n * sizeof(int16_t));
	} else if (c->cn_play) {
		cn_fill(c, lin);
		c->play_n = 0;
	} else {
		/* Nothing due (silence, start-up, not receiving). */
		memset(lin, 0, MEDIA_TICK_SAMPLES * sizeof(int16_t));
		c->play_n = 0;
	}
	if (c->tone)
		media_tonegen_fill(c->tone, lin, MEDIA_TICK_SAMPLES);
	if (c->dtmf_busy) {
		media_dtmf_tx_fill(c->dtmf_tx, lin, MEDIA_TICK_SAMPLES);
		c->dtmf_busy = media_dtmf_tx_busy(c->dtmf_tx);
	}
	return true;
}

/**
 * The 20 ms tick (a tdm_chan_frame_h body): tdm_rx came from the line,
 * tdm_tx goes to it.
 */
void media_chan_tick(struct media_chan *c, const uint8_t *tdm_rx,
		     uint8_t *tdm_tx)
{
	int16_t lin[MEDIA_TICK_SAMPLES];

	c->ticks++;
	/* Hold a reference: a handler may drop the last one. */
	gw_mem_ref(c);
	if (toward_line(c, tdm_tx, lin)) {
		from_lin(c, lin, tdm_tx);
		memcpy(c->sent_lin, lin, sizeof(lin));
	} else if (c->ec) {
		to_lin(c, tdm_tx, c->sent_lin);
	}
	if (gw_mem_nrefs(c) > 1)
		toward_ip(c, tdm_rx);
	gw_mem_deref(c);
}

/** Play tone toward the line until another one, or MEDIA_TONE_COUNT. */
int media_chan_tone(struct media_chan *c, enum media_tone tone)
{
	struct media_tonegen *g = NULL;
	int err;

	if (!c || (unsigned)tone > MEDIA_TONE_COUNT)
		return EINVAL;
	if (tone < MEDIA_TONE_COUNT) {
		err = media_tonegen_alloc(&g, c->conf.tone_country, tone);
		if (err)
			return err;
	}
	gw_mem_deref(c->tone);
	c->tone = g;
	return 0;
}

/** Play tone toward the IP side, in place of the line's audio, until
 * another one or MEDIA_TONE_COUNT. */
int media_chan_tone_ip(struct media_chan *c, enum media_tone tone)
{
	struct media_tonegen *g = NULL;
	int err;

	if (!c || (unsigned)tone > MEDIA_TONE_COUNT)
		return EINVAL;
	if (tone < MEDIA_TONE_COUNT) {
		err = media_tonegen_alloc(&g, c->conf.tone_country, tone);
		if (err)
			return err;
	}
	gw_mem_deref(c->iptone);
	c->iptone = g;
	return 0;
}

/** Play digits in-band toward the line (100 ms on, 100 ms off), with or
 * without a stream. */
int media_chan_digits(struct media_chan *c, const char *digits)
{
	int err;

	if (!c)
		return EINVAL;
	err = media_dtmf_tx_put(c->dtmf_tx, digits, 100, 100);

	c->dtmf_busy = media_dtmf_tx_busy(c->dtmf_tx);
	return err;
}

/** Echo cancellation on or off (the MEGACO tdmc/ec property, a 2100 Hz
 * answer tone with phase reversals). */
void media_chan_ec(struct media_chan *c, bool on)
{
	if (c->ec)
		media_ec_enable(c->ec, on);
}

/** The channel's figures, with a G.107 estimate of its quality. */
void media_chan_stats(const struct media_chan *c, struct media_chan_stats *st)
{
	struct media_quality_in q = {0};
	uint64_t total;

	memset(st, 0, sizeof(*st));
	st->ticks = c->ticks;
	st->digits_tdm = c->digits_tdm;
	st->digits_rtp = c->digits_rtp;
	st->erle_db = c->ec && media_ec_enabled(c->ec) ?
		media_ec_erle_db(c->ec) : NAN;
	if (!c->stream) {
		st->mos = NAN;
		return;
	}
	media_stream_stats(c->stream, &st->rtp);
	total = st->rtp.rx_packets + st->rtp.lost;
	q.codec = c->conf.codec;
	q.loss_pct = total ? 100.0 * (double)st->rtp.lost / (double)total : 0;
	/* Mouth to ear: the jitter buffer, a packet, the network. */
	q.delay_ms = 60 + c->conf.ptime + (st->rtp.rtt_ms > 0 ?
					   st->rtp.rtt_ms / 2 : 0);
	st->mos = media_quality_mos(media_quality_r(&q));
}
