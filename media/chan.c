/* media/chan.c - one call's media: a bearer channel's frames <-> an RTP stream */
#include <errno.h>
#include <math.h>
#include <string.h>

#define GW_LOG_MOD "media"
#include "media.h"

/*
 * Per tick, from the line toward IP: companded -> linear, echo
 * cancellation (the reference is what we sent to the line last), DTMF
 * detection, then either RFC 4733 events (the digit muted as audio, so
 * the far end never hears it twice) or the codec.  From IP toward the
 * line: the jitter buffer's payload decoded into a small playout queue
 * (a 40 or 60 ms packet feeds two or three ticks), concealment when the
 * buffer says audio is missing, RFC 4733 digits regenerated in-band, a
 * call-progress tone over everything, linear -> companded.
 *
 * Everything is allocated at setup; the tick allocates nothing.
 */

#define PLAYOUT_MAX	(MEDIA_TICK_SAMPLES * 8)	/* 160 ms */
#define PAYLOAD_MAX	1500

struct media_chan {
	struct media_chan_conf conf;
	struct media_stream *stream;
	struct media_codec *codec;
	struct media_ec *ec;
	struct media_dtmf_rx *dtmf_rx;
	struct media_dtmf_tx *dtmf_tx;	/* RFC 4733 and requested digits */
	struct media_tonegen *tone;
	media_chan_h *h;
	void *arg;
	bool copy;			/* the byte-copy fast path */
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

	/* toward the line */
	int16_t play[PLAYOUT_MAX];
	unsigned play_n;

	uint64_t ticks, digits_tdm, digits_rtp;
};

static void chan_destroy(void *arg)
{
	struct media_chan *c = arg;

	gw_mem_deref(c->tone);
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

	if (c->conf.te) {
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

/**
 * Set up one call's media: its RTP stream from sc (bound from the port
 * range), the codec, the echo canceller and the detectors of cf.
 */
int media_chan_alloc(struct media_chan **cp, const struct media_chan_conf *cf,
		     const struct media_stream_conf *sc, media_chan_h *h,
		     void *arg)
{
	const struct media_codec_info *ci;
	struct media_chan *c;
	int err;

	if (!cp || !cf || !sc || cf->codec >= MEDIA_CODEC_COUNT)
		return EINVAL;
	ci = media_codec_info(cf->codec);
	c = gw_mem_zalloc(sizeof(*c), chan_destroy);
	if (!c)
		return ENOMEM;
	c->conf = *cf;
	c->conf.fmtp = NULL;
	if (!c->conf.ptime)
		c->conf.ptime = 20;
	if (c->conf.ptime % ci->frame_ms || c->conf.ptime < 10 ||
	    c->conf.ptime > 60) {
		err = EINVAL;
		goto out;
	}
	c->h = h;
	c->arg = arg;
	err = media_stream_alloc(&c->stream, sc, on_rtp_digit, on_timeout, c);
	if (err)
		goto out;
	err = media_codec_alloc(&c->codec, cf->codec, cf->fmtp);
	if (err)
		goto out;
	c->ts_per_sample = media_codec_ts_per_sample(c->codec);
	if (cf->ec) {
		err = media_ec_alloc(&c->ec, cf->ec_tail_ms ? cf->ec_tail_ms :
				     64);
		if (err)
			goto out;
	}
	err = media_dtmf_rx_alloc(&c->dtmf_rx, on_tdm_digit, c);
	if (err)
		goto out;
	err = media_dtmf_tx_alloc(&c->dtmf_tx);
	if (err)
		goto out;
	/* The byte copy: no transcoding, nothing that needs linear audio
	 * toward IP.  DTMF still needs it: detection only when RFC 4733 is
	 * negotiated, as the in-band digit passes in the audio otherwise. */
	c->copy = !cf->ec && !cf->te && c->conf.ptime == 20 &&
		((cf->codec == MEDIA_PCMA && cf->law == MEDIA_LAW_ALAW) ||
		 (cf->codec == MEDIA_PCMU && cf->law == MEDIA_LAW_ULAW));
	c->copy_pt = ci->static_pt;
 out:
	if (err)
		gw_mem_deref(c);
	else
		*cp = c;
	return err;
}

/** The channel's RTP stream (for its port, the remote, SRTP, hold). */
struct media_stream *media_chan_stream(const struct media_chan *c)
{
	return c->stream;
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

	if (c->copy) {
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
	if (c->conf.te)
		media_dtmf_rx_process(c->dtmf_rx, clean, MEDIA_TICK_SAMPLES);

	/* RFC 4733 2.5: while a digit goes out as events, its audio does
	 * not; the RTP clock runs on through the gap. */
	if (c->te_digit) {
		media_stream_send_event(c->stream, c->te_digit, c->te_end);
		if (c->te_end)
			c->te_digit = 0;
		c->enc_n = 0;
		media_stream_tx(c->stream, NULL, 0,
				MEDIA_TICK_SAMPLES * c->ts_per_sample);
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

/* IP -> line for one tick: fills lin; false if the copy path wrote tx. */
static bool toward_line(struct media_chan *c, uint8_t *tdm_tx, int16_t *lin)
{
	uint8_t payload[PAYLOAD_MAX];
	struct media_stream_frame f;
	int n;

	if (media_stream_rx(c->stream, payload, sizeof(payload), &f))
		f.len = 0, f.lost = false;
	if (c->copy && f.len == MEDIA_TICK_SAMPLES && f.pt == c->copy_pt &&
	    !c->dtmf_busy && !c->tone) {
		memcpy(tdm_tx, payload, MEDIA_TICK_SAMPLES);
		return false;
	}
	if (f.len && f.pt != 13) {
		n = media_codec_decode(c->codec, payload, f.len,
				       c->play + c->play_n,
				       PLAYOUT_MAX - c->play_n);
		if (n > 0)
			c->play_n += (unsigned)n;
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
	} else {
		/* Nothing due (silence, comfort noise, start-up). */
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

	if (tone < MEDIA_TONE_COUNT) {
		err = media_tonegen_alloc(&g, c->conf.tone_country, tone);
		if (err)
			return err;
	}
	gw_mem_deref(c->tone);
	c->tone = g;
	return 0;
}

/** Play digits in-band toward the line (100 ms on, 100 ms off). */
int media_chan_digits(struct media_chan *c, const char *digits)
{
	int err = media_dtmf_tx_put(c->dtmf_tx, digits, 100, 100);

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
	media_stream_stats(c->stream, &st->rtp);
	st->ticks = c->ticks;
	st->digits_tdm = c->digits_tdm;
	st->digits_rtp = c->digits_rtp;
	st->erle_db = c->ec && media_ec_enabled(c->ec) ?
		media_ec_erle_db(c->ec) : NAN;
	total = st->rtp.rx_packets + st->rtp.lost;
	q.codec = c->conf.codec;
	q.loss_pct = total ? 100.0 * (double)st->rtp.lost / (double)total : 0;
	/* Mouth to ear: the jitter buffer, a packet, the network. */
	q.delay_ms = 60 + c->conf.ptime + (st->rtp.rtt_ms > 0 ?
					   st->rtp.rtt_ms / 2 : 0);
	st->mos = media_quality_mos(media_quality_r(&q));
}
