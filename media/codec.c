/* media/codec.c - the codecs: G.711, G.722, G.726-32, GSM, G.729, Opus */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * The spandsp codec states are embedded in struct media_codec (STYLE 3.5:
 * embed media-path state), which needs their bodies: spandsp keeps them
 * in its private headers, and this macro exposes them (baresip's g726
 * module does the same).  spandsp.h wants tiffio.h before it.
 */
#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES
#include <tiffio.h>
#include <spandsp.h>
#include <bcg729/decoder.h>
#include <bcg729/encoder.h>
#include <opus/opus.h>

#define GW_LOG_MOD "media"
#include "media.h"

/*
 * Every codec here has an 8 kHz linear side; the RTP side is what its
 * payload format says.  A codec is one encoder and one decoder.  The
 * per-packet calls never allocate: the states live in the object, or
 * were allocated by media_codec_alloc.
 *
 * Loss concealment: G.729 and Opus conceal with their own decoders
 * (G.729 4.4, Opus's PLC); the others feed every decoded sample to
 * spandsp's PLC (plc_rx) so that plc_fillin can continue the signal over
 * a missing packet.  For G.722, G.726 and GSM that is the generic
 * concealer: their own (G.722 Appendices III/IV, GSM 06.11) are not in
 * spandsp.
 */

#define G726_FRAME	2	/* samples: two 4-bit codewords an octet */
#define GSM_FRAME	160	/* samples in 20 ms */
#define GSM_BYTES	33	/* octets a frame (RFC 3551 4.5.8) */
#define G729_FRAME	80	/* samples in 10 ms */
#define G729_BYTES	10
#define G729_SID_BYTES	2	/* Annex B SID frame (RFC 3551 4.5.6) */
#define OPUSC_FRAME	80	/* our encode granularity: 10 ms */
#define OPUSC_PLC_STEP	20	/* Opus PLC granularity: 2.5 ms */
#define OPUSC_MAX	960	/* 120 ms, the longest Opus packet
				 * (RFC 6716 3.2.5) */
#define OPUSC_BUF	2048	/* octets: frames before repacketizing */
#define OPUSC_BITRATE	24000	/* bit/s, see cd_opus_init */
#define OPUSC_RATE_MIN	6000	/* RFC 7587 6.1 */
#define OPUSC_RATE_MAX	64000	/* nothing gained above at 8 kHz */
#define OPUSC_LOSS_PCT	10	/* expected loss when FEC is on */
#define OPUSC_COMPLEXITY 5	/* see cd_opus_init */

struct codec_ops;

struct media_codec {
	const struct media_codec_info *info;
	const struct codec_ops *ops;
	plc_state_t plc;		/* unused by G.729 and Opus */
	int16_t tail[G729_FRAME];	/* conceal: a frame cut short */
	union {
		struct {
			g722_encode_state_t enc;
			g722_decode_state_t dec;
		} g722;
		struct {
			g726_state_t enc;
			g726_state_t dec;
		} g726;
		struct {
			gsm0610_state_t enc;
			gsm0610_state_t dec;
		} gsm;
		struct {
			bcg729EncoderChannelContextStruct *enc;
			bcg729DecoderChannelContextStruct *dec;
		} g729;
		struct {
			OpusEncoder *enc;	/* gw_mem blocks, all four */
			OpusDecoder *dec;
			OpusRepacketizer *rp;
			uint8_t *buf;		/* OPUSC_BUF octets */
		} opus;
	} u;
};

/*
 * One row per codec.  The public functions check what is common to all
 * (n a whole number of frames, out large enough where the size is known
 * in advance) before calling these.
 */
struct codec_ops {
	size_t frame;			/* encode granularity, samples */
	size_t frame_bytes;		/* octets a frame; 0: it varies */
	int  (*init)(struct media_codec *c, const char *fmtp);
	void (*release)(struct media_codec *c);
	int  (*encode)(struct media_codec *c, const int16_t *pcm, size_t n,
		       uint8_t *out, size_t outlen);
	/* samples, or a negative errno; checks maxn itself */
	int  (*decode)(struct media_codec *c, const uint8_t *in, size_t len,
		       int16_t *pcm, size_t maxn);
	/* NULL: spandsp's PLC, fed by media_codec_decode */
	int  (*conceal)(struct media_codec *c, int16_t *pcm, size_t n);
};

static const struct media_codec_info codec_infos[MEDIA_CODEC_COUNT] = {
	[MEDIA_PCMA] = {
		.id = MEDIA_PCMA, .name = "PCMA", .clock = 8000,
		.channels = 1, .static_pt = 8, .frame_ms = 10,
		.ptime_min = 10, .ptime_max = 60,
	},
	[MEDIA_PCMU] = {
		.id = MEDIA_PCMU, .name = "PCMU", .clock = 8000,
		.channels = 1, .static_pt = 0, .frame_ms = 10,
		.ptime_min = 10, .ptime_max = 60,
	},
	/* RTP clock 8000 although G.722 samples at 16 kHz (RFC 3551 4.5.2) */
	[MEDIA_G722] = {
		.id = MEDIA_G722, .name = "G722", .clock = 8000,
		.channels = 1, .static_pt = 9, .frame_ms = 10,
		.ptime_min = 10, .ptime_max = 60,
	},
	[MEDIA_G726_32] = {
		.id = MEDIA_G726_32, .name = "G726-32", .clock = 8000,
		.channels = 1, .static_pt = -1, .frame_ms = 10,
		.ptime_min = 10, .ptime_max = 60,
	},
	[MEDIA_GSM] = {
		.id = MEDIA_GSM, .name = "GSM", .clock = 8000,
		.channels = 1, .static_pt = 3, .frame_ms = 20,
		.ptime_min = 20, .ptime_max = 60,
	},
	[MEDIA_G729] = {
		.id = MEDIA_G729, .name = "G729", .clock = 8000,
		.channels = 1, .static_pt = 18, .frame_ms = 10,
		.ptime_min = 10, .ptime_max = 60,
	},
	/* always "opus/48000/2" in SDP, whatever is sent (RFC 7587 7) */
	[MEDIA_OPUS] = {
		.id = MEDIA_OPUS, .name = "opus", .clock = 48000,
		.channels = 2, .static_pt = -1, .frame_ms = 10,
		.ptime_min = 10, .ptime_max = 60,
	},
};

/* ---- fmtp ------------------------------------------------------------- */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * Find key in an a=fmtp parameter list ("key=value; key=value", the form
 * of every codec here) and copy its value into val.  Keys compare without
 * case.  False when the key is absent or its value does not fit.
 */
static bool fmtp_get(const char *fmtp, const char *key, char *val,
		     size_t vlen)
{
	size_t klen = strlen(key);
	const char *p = fmtp;

	while (*p) {
		const char *k, *ke, *v = NULL, *ve;

		while (*p == ';' || is_blank(*p))
			p++;
		k = p;
		while (*p && *p != '=' && *p != ';')
			p++;
		ke = p;
		while (ke > k && is_blank(ke[-1]))
			ke--;
		if (*p == '=') {
			v = ++p;
			while (*p && *p != ';')
				p++;
			while (is_blank(*v))
				v++;
		}
		ve = p;
		while (v && ve > v && is_blank(ve[-1]))
			ve--;
		if (v && (size_t)(ke - k) == klen &&
		    !strncasecmp(k, key, klen)) {
			if ((size_t)(ve - v) >= vlen)
				return false;
			memcpy(val, v, (size_t)(ve - v));
			val[ve - v] = '\0';
			return true;
		}
	}
	return false;
}

/* An unsigned decimal fmtp value; false when absent or malformed. */
static bool fmtp_uint(const char *fmtp, const char *key, unsigned long *vp)
{
	char buf[16];
	char *end;
	unsigned long v;

	if (!fmtp_get(fmtp, key, buf, sizeof(buf)) || buf[0] < '0' ||
	    buf[0] > '9')
		return false;
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno || *end)
		return false;
	*vp = v;
	return true;
}

/* ---- G.711 (g711.c) --------------------------------------------------- */

static int cd_g711_init(struct media_codec *c, const char *fmtp)
{
	(void)c;
	(void)fmtp;
	return 0;
}

static void cd_g711_release(struct media_codec *c)
{
	(void)c;
}

static int cd_pcma_enc(struct media_codec *c, const int16_t *pcm, size_t n,
		       uint8_t *out, size_t outlen)
{
	size_t i;

	(void)c;
	if (n > outlen)
		return -ENOBUFS;
	for (i = 0; i < n; i++)
		out[i] = media_lin_to_alaw(pcm[i]);
	return (int)n;
}

static int cd_pcma_dec(struct media_codec *c, const uint8_t *in, size_t len,
		       int16_t *pcm, size_t maxn)
{
	size_t i;

	(void)c;
	if (len > maxn)
		return -ENOBUFS;
	for (i = 0; i < len; i++)
		pcm[i] = media_alaw_to_lin[in[i]];
	return (int)len;
}

static int cd_pcmu_enc(struct media_codec *c, const int16_t *pcm, size_t n,
		       uint8_t *out, size_t outlen)
{
	size_t i;

	(void)c;
	if (n > outlen)
		return -ENOBUFS;
	for (i = 0; i < n; i++)
		out[i] = media_lin_to_ulaw(pcm[i]);
	return (int)n;
}

static int cd_pcmu_dec(struct media_codec *c, const uint8_t *in, size_t len,
		       int16_t *pcm, size_t maxn)
{
	size_t i;

	(void)c;
	if (len > maxn)
		return -ENOBUFS;
	for (i = 0; i < len; i++)
		pcm[i] = media_ulaw_to_lin[in[i]];
	return (int)len;
}

/* ---- G.722 (spandsp) -------------------------------------------------- */

/*
 * 64 kbit/s with an 8 kHz linear side (G722_SAMPLE_RATE_8000): spandsp
 * codes our samples as the lower sub-band and leaves the upper one
 * silent, one octet per 8 kHz sample, which a wideband peer decodes as
 * 0-4 kHz audio at the same level (the unit test checks it).
 */
static int cd_g722_init(struct media_codec *c, const char *fmtp)
{
	(void)fmtp;
	if (!g722_encode_init(&c->u.g722.enc, 64000, G722_SAMPLE_RATE_8000) ||
	    !g722_decode_init(&c->u.g722.dec, 64000, G722_SAMPLE_RATE_8000))
		return EINVAL;
	return 0;
}

static void cd_g722_release(struct media_codec *c)
{
	g722_encode_release(&c->u.g722.enc);
	g722_decode_release(&c->u.g722.dec);
}

static int cd_g722_enc(struct media_codec *c, const int16_t *pcm, size_t n,
		       uint8_t *out, size_t outlen)
{
	(void)outlen;
	return g722_encode(&c->u.g722.enc, out, pcm, (int)n);
}

static int cd_g722_dec(struct media_codec *c, const uint8_t *in, size_t len,
		       int16_t *pcm, size_t maxn)
{
	if (len > maxn)
		return -ENOBUFS;
	return g722_decode(&c->u.g722.dec, pcm, in, (int)len);
}

/* ---- G.726-32 (spandsp) ----------------------------------------------- */

/*
 * RTP "G726-32" packs its codewords little-endian: the first in the four
 * least significant bits of the octet (RFC 3551 4.5.4, as X.420).  That
 * is spandsp's G726_PACKING_RIGHT; G726_PACKING_LEFT is the opposite
 * order of I.366.2 Annex E, the "AAL2-G726-32" format, which we do not
 * offer.  Encoding takes an even number of samples, so that no codeword
 * waits in the packer between packets.
 */
static int cd_g726_init(struct media_codec *c, const char *fmtp)
{
	(void)fmtp;
	if (!g726_init(&c->u.g726.enc, 32000, G726_ENCODING_LINEAR,
		       G726_PACKING_RIGHT) ||
	    !g726_init(&c->u.g726.dec, 32000, G726_ENCODING_LINEAR,
		       G726_PACKING_RIGHT))
		return EINVAL;
	return 0;
}

static void cd_g726_release(struct media_codec *c)
{
	g726_release(&c->u.g726.enc);
	g726_release(&c->u.g726.dec);
}

static int cd_g726_enc(struct media_codec *c, const int16_t *pcm, size_t n,
		       uint8_t *out, size_t outlen)
{
	(void)outlen;
	return g726_encode(&c->u.g726.enc, out, pcm, (int)n);
}

static int cd_g726_dec(struct media_codec *c, const uint8_t *in, size_t len,
		       int16_t *pcm, size_t maxn)
{
	if (len > maxn / G726_FRAME)
		return -ENOBUFS;
	return g726_decode(&c->u.g726.dec, pcm, in, (int)len);
}

/* ---- GSM 06.10 (spandsp) ---------------------------------------------- */

/* 33 octets a frame, the first nibble the signature 0xd (RFC 3551 4.5.8) */
static int cd_gsm_init(struct media_codec *c, const char *fmtp)
{
	(void)fmtp;
	if (!gsm0610_init(&c->u.gsm.enc, GSM0610_PACKING_VOIP) ||
	    !gsm0610_init(&c->u.gsm.dec, GSM0610_PACKING_VOIP))
		return EINVAL;
	return 0;
}

static void cd_gsm_release(struct media_codec *c)
{
	gsm0610_release(&c->u.gsm.enc);
	gsm0610_release(&c->u.gsm.dec);
}

static int cd_gsm_enc(struct media_codec *c, const int16_t *pcm, size_t n,
		      uint8_t *out, size_t outlen)
{
	(void)outlen;
	return gsm0610_encode(&c->u.gsm.enc, out, pcm, (int)n);
}

static int cd_gsm_dec(struct media_codec *c, const uint8_t *in, size_t len,
		      int16_t *pcm, size_t maxn)
{
	size_t i, frames = len / GSM_BYTES;

	/* spandsp reads whole frames whatever len says: check first */
	if (len % GSM_BYTES)
		return -EBADMSG;
	for (i = 0; i < frames; i++) {
		if (in[i * GSM_BYTES] >> 4 != 0xd)
			return -EBADMSG;
	}
	if (frames > maxn / GSM_FRAME)
		return -ENOBUFS;
	return gsm0610_decode(&c->u.gsm.dec, pcm, in, (int)len);
}

/* ---- G.729 (bcg729) --------------------------------------------------- */

/*
 * Annex A coding without VAD: we send only 10-octet speech frames, which
 * every G.729 receiver takes whatever its annexb says (RFC 4856), so the
 * fmtp needs no look.  We decode the Annex B SID frames (2 octets, last
 * in a packet) a peer may send.
 */
static int cd_g729_init(struct media_codec *c, const char *fmtp)
{
	(void)fmtp;
	c->u.g729.enc = initBcg729EncoderChannel(0);
	c->u.g729.dec = initBcg729DecoderChannel();
	if (!c->u.g729.enc || !c->u.g729.dec)
		return ENOMEM;
	return 0;
}

static void cd_g729_release(struct media_codec *c)
{
	if (c->u.g729.enc)
		closeBcg729EncoderChannel(c->u.g729.enc);
	if (c->u.g729.dec)
		closeBcg729DecoderChannel(c->u.g729.dec);
	c->u.g729.enc = NULL;
	c->u.g729.dec = NULL;
}

static int cd_g729_enc(struct media_codec *c, const int16_t *pcm, size_t n,
		       uint8_t *out, size_t outlen)
{
	size_t i, len = 0;
	uint8_t flen;

	(void)outlen;
	for (i = 0; i < n; i += G729_FRAME) {
		flen = 0;
		bcg729Encoder(c->u.g729.enc, pcm + i, out + len, &flen);
		len += flen;
	}
	return (int)len;
}

static int cd_g729_dec(struct media_codec *c, const uint8_t *in, size_t len,
		       int16_t *pcm, size_t maxn)
{
	size_t frames = len / G729_BYTES, rest = len % G729_BYTES;
	size_t i, n;

	if (rest != 0 && rest != G729_SID_BYTES)
		return -EBADMSG;
	n = (frames + (rest != 0)) * G729_FRAME;
	if (n > maxn)
		return -ENOBUFS;
	for (i = 0; i < frames; i++)
		bcg729Decoder(c->u.g729.dec, in + i * G729_BYTES, G729_BYTES,
			      0, 0, 0, pcm + i * G729_FRAME);
	if (rest)
		bcg729Decoder(c->u.g729.dec, in + frames * G729_BYTES,
			      G729_SID_BYTES, 0, 1, 0,
			      pcm + frames * G729_FRAME);
	return (int)n;
}

/* Whole frames of concealment (G.729 4.4), n a multiple of 80. */
static void cd_g729_fill(struct media_codec *c, int16_t *pcm, size_t n)
{
	size_t i;

	for (i = 0; i < n; i += G729_FRAME)
		bcg729Decoder(c->u.g729.dec, NULL, 0, 1, 0, 0, pcm + i);
}

/* ---- Opus (libopus) --------------------------------------------------- */

static int opus_to_errno(int err)
{
	switch (err) {
	case OPUS_BAD_ARG:		return EINVAL;
	case OPUS_BUFFER_TOO_SMALL:	return ENOBUFS;
	case OPUS_INVALID_PACKET:	return EBADMSG;
	case OPUS_ALLOC_FAIL:		return ENOMEM;
	default:			return EPROTO;
	}
}

/* The Opus bandwidth for a peer's maxplaybackrate (RFC 7587 6.1). */
static int opus_bandwidth_for(unsigned long rate)
{
	if (rate <= 8000)
		return OPUS_BANDWIDTH_NARROWBAND;
	if (rate <= 12000)
		return OPUS_BANDWIDTH_MEDIUMBAND;
	if (rate <= 16000)
		return OPUS_BANDWIDTH_WIDEBAND;
	if (rate <= 24000)
		return OPUS_BANDWIDTH_SUPERWIDEBAND;
	return OPUS_BANDWIDTH_FULLBAND;
}

/*
 * Mono at 8 kHz both ways.  The encoder codes narrowband speech (SILK)
 * at complexity 5, which halves its cost against the default 10 with no
 * loss the unit test can measure (bench_codec).  The decoder takes any
 * Opus stream, stereo or fullband, at any packet time, and gives it to
 * us as 8 kHz mono (RFC 7587 3.1 leaves the decoding rate to the
 * receiver).
 *
 * fmtp is the peer's: its parameters say what the peer receives, so they
 * steer our encoder (RFC 7587 6.1):
 *   maxaveragebitrate  our bit rate, clamped to 6000..64000; without it
 *                      24000, where narrowband SILK stops gaining
 *   useinbandfec=1     in-band FEC, tuned for 10 % loss
 *   usedtx=1           discontinuous transmission
 *   cbr=1              constant bit rate
 *   maxplaybackrate    our bandwidth limit (a no-op at 8 kHz, kept for
 *                      when the input rate grows)
 * stereo, sprop-* and minptime need nothing from us: we always send mono,
 * and the stream chooses the packet time.
 */
static int cd_opus_init(struct media_codec *c, const char *fmtp)
{
	OpusEncoder *enc;
	unsigned long v;
	int bitrate = OPUSC_BITRATE;
	int err;

	enc = gw_mem_alloc((size_t)opus_encoder_get_size(1), NULL);
	c->u.opus.enc = enc;
	c->u.opus.dec = gw_mem_alloc((size_t)opus_decoder_get_size(1), NULL);
	c->u.opus.rp = gw_mem_alloc((size_t)opus_repacketizer_get_size(),
				    NULL);
	c->u.opus.buf = gw_mem_alloc(OPUSC_BUF, NULL);
	if (!enc || !c->u.opus.dec || !c->u.opus.rp || !c->u.opus.buf)
		return ENOMEM;

	err = opus_encoder_init(enc, MEDIA_RATE, 1, OPUS_APPLICATION_VOIP);
	if (err == OPUS_OK)
		err = opus_decoder_init(c->u.opus.dec, MEDIA_RATE, 1);
	if (err != OPUS_OK) {
		GW_ERR("opus: %s", opus_strerror(err));
		return opus_to_errno(err);
	}
	opus_repacketizer_init(c->u.opus.rp);

	if (fmtp_uint(fmtp, "maxaveragebitrate", &v))
		bitrate = v < OPUSC_RATE_MIN ? OPUSC_RATE_MIN :
			  v > OPUSC_RATE_MAX ? OPUSC_RATE_MAX : (int)v;
	opus_encoder_ctl(enc, OPUS_SET_BITRATE(bitrate));
	opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(OPUSC_COMPLEXITY));
	opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
	if (fmtp_uint(fmtp, "useinbandfec", &v) && v == 1) {
		opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
		opus_encoder_ctl(enc,
				 OPUS_SET_PACKET_LOSS_PERC(OPUSC_LOSS_PCT));
	}
	if (fmtp_uint(fmtp, "usedtx", &v) && v == 1)
		opus_encoder_ctl(enc, OPUS_SET_DTX(1));
	if (fmtp_uint(fmtp, "cbr", &v) && v == 1)
		opus_encoder_ctl(enc, OPUS_SET_VBR(0));
	if (fmtp_uint(fmtp, "maxplaybackrate", &v))
		opus_encoder_ctl(enc,
				 OPUS_SET_MAX_BANDWIDTH(opus_bandwidth_for(v)));
	return 0;
}

static void cd_opus_release(struct media_codec *c)
{
	c->u.opus.enc = gw_mem_deref(c->u.opus.enc);
	c->u.opus.dec = gw_mem_deref(c->u.opus.dec);
	c->u.opus.rp = gw_mem_deref(c->u.opus.rp);
	c->u.opus.buf = gw_mem_deref(c->u.opus.buf);
}

/*
 * One packet of n samples, 10 ms steps up to 120 ms.  Opus frames last
 * 10, 20, 40 or 60 ms; any other packet time becomes equal frames joined
 * into one packet by the repacketizer (RFC 6716 3.2.5, code 3), each
 * frame coded into the scratch buffer first.
 */
static int cd_opus_enc(struct media_codec *c, const int16_t *pcm, size_t n,
		       uint8_t *out, size_t outlen)
{
	static const size_t frames[] = { 480, 320, 160, 80 };
	size_t f = OPUSC_FRAME, i, used = 0;
	opus_int32 len, max;
	int err;

	if (n > OPUSC_MAX)
		return -EINVAL;
	max = outlen > INT32_MAX ? INT32_MAX : (opus_int32)outlen;
	for (i = 0; i < GW_ARRAY_SIZE(frames); i++) {
		if (n % frames[i] == 0) {
			f = frames[i];
			break;
		}
	}
	if (f == n) {
		len = opus_encode(c->u.opus.enc, pcm, (int)n, out, max);
		return len < 0 ? -opus_to_errno(len) : len;
	}

	opus_repacketizer_init(c->u.opus.rp);
	for (i = 0; i < n; i += f) {
		uint8_t *p = c->u.opus.buf + used;

		len = opus_encode(c->u.opus.enc, pcm + i, (int)f, p,
				  (opus_int32)(OPUSC_BUF - used));
		if (len < 0)
			return -opus_to_errno(len);
		err = opus_repacketizer_cat(c->u.opus.rp, p, len);
		if (err != OPUS_OK)
			return -opus_to_errno(err);
		used += (size_t)len;
	}
	len = opus_repacketizer_out(c->u.opus.rp, out, max);
	return len < 0 ? -opus_to_errno(len) : len;
}

static int cd_opus_dec(struct media_codec *c, const uint8_t *in, size_t len,
		       int16_t *pcm, size_t maxn)
{
	int n;

	if (len > INT32_MAX)
		return -EBADMSG;
	n = opus_packet_get_nb_samples(in, (opus_int32)len, MEDIA_RATE);
	if (n <= 0)
		return -EBADMSG;
	if ((size_t)n > maxn)
		return -ENOBUFS;
	/* pcm is known to fit: any error is the packet's */
	n = opus_decode(c->u.opus.dec, in, (opus_int32)len, pcm, n, 0);
	return n < 0 ? -EBADMSG : n;
}

/* Opus's PLC, n a multiple of 2.5 ms. */
static void cd_opus_fill(struct media_codec *c, int16_t *pcm, size_t n)
{
	if (opus_decode(c->u.opus.dec, NULL, 0, pcm, (int)n, 0) < 0)
		memset(pcm, 0, n * sizeof(*pcm));
}

/*
 * Conceal n samples with fill in multiples of step, at most max a call;
 * a last step cut short is made whole in c->tail and copied (the decoder
 * then runs ahead by less than a step, which only matters while lost).
 */
static int conceal_steps(struct media_codec *c, int16_t *pcm, size_t n,
			 size_t step,
			 void (*fill)(struct media_codec *, int16_t *, size_t))
{
	size_t done = 0, k;

	while (n - done >= step) {
		k = (n - done) / step * step;
		if (k > OPUSC_MAX)
			k = OPUSC_MAX;
		fill(c, pcm + done, k);
		done += k;
	}
	if (done < n) {
		fill(c, c->tail, step);
		memcpy(pcm + done, c->tail, (n - done) * sizeof(*pcm));
	}
	return (int)n;
}

static int cd_g729_conceal(struct media_codec *c, int16_t *pcm, size_t n)
{
	return conceal_steps(c, pcm, n, G729_FRAME, cd_g729_fill);
}

static int cd_opus_conceal(struct media_codec *c, int16_t *pcm, size_t n)
{
	return conceal_steps(c, pcm, n, OPUSC_PLC_STEP, cd_opus_fill);
}

/* ---- the table -------------------------------------------------------- */

static const struct codec_ops codec_ops[MEDIA_CODEC_COUNT] = {
	[MEDIA_PCMA] = {
		.frame = 1, .frame_bytes = 1,
		.init = cd_g711_init, .release = cd_g711_release,
		.encode = cd_pcma_enc, .decode = cd_pcma_dec,
	},
	[MEDIA_PCMU] = {
		.frame = 1, .frame_bytes = 1,
		.init = cd_g711_init, .release = cd_g711_release,
		.encode = cd_pcmu_enc, .decode = cd_pcmu_dec,
	},
	[MEDIA_G722] = {
		.frame = 1, .frame_bytes = 1,
		.init = cd_g722_init, .release = cd_g722_release,
		.encode = cd_g722_enc, .decode = cd_g722_dec,
	},
	[MEDIA_G726_32] = {
		.frame = G726_FRAME, .frame_bytes = 1,
		.init = cd_g726_init, .release = cd_g726_release,
		.encode = cd_g726_enc, .decode = cd_g726_dec,
	},
	[MEDIA_GSM] = {
		.frame = GSM_FRAME, .frame_bytes = GSM_BYTES,
		.init = cd_gsm_init, .release = cd_gsm_release,
		.encode = cd_gsm_enc, .decode = cd_gsm_dec,
	},
	[MEDIA_G729] = {
		.frame = G729_FRAME, .frame_bytes = G729_BYTES,
		.init = cd_g729_init, .release = cd_g729_release,
		.encode = cd_g729_enc, .decode = cd_g729_dec,
		.conceal = cd_g729_conceal,
	},
	[MEDIA_OPUS] = {
		.frame = OPUSC_FRAME, .frame_bytes = 0,
		.init = cd_opus_init, .release = cd_opus_release,
		.encode = cd_opus_enc, .decode = cd_opus_dec,
		.conceal = cd_opus_conceal,
	},
};

/* ---- public ----------------------------------------------------------- */

/** The static description of codec id, or NULL for an unknown id. */
const struct media_codec_info *media_codec_info(enum media_codec_id id)
{
	if ((unsigned)id >= MEDIA_CODEC_COUNT)
		return NULL;
	return &codec_infos[id];
}

/**
 * The codec an SDP rtpmap names: the encoding name compared without case
 * (RFC 4855 3), and the clock rate, which must match ("opus" is only
 * ever 48000).  NULL if we have no such codec.
 */
const struct media_codec_info *media_codec_find(const char *name,
						unsigned clock)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < GW_ARRAY_SIZE(codec_infos); i++) {
		if (!strcasecmp(codec_infos[i].name, name) &&
		    codec_infos[i].clock == clock)
			return &codec_infos[i];
	}
	return NULL;
}

static void codec_destroy(void *data)
{
	struct media_codec *c = data;

	if (c->ops)
		c->ops->release(c);
}

/**
 * Create an encoder and decoder pair for codec id.  fmtp is the peer's
 * a=fmtp parameter list for it, or NULL; what each codec makes of it is
 * told at its init above (only Opus looks), the rest is ignored.  EINVAL
 * for an unknown id, ENOMEM.
 */
int media_codec_alloc(struct media_codec **cp, enum media_codec_id id,
		      const char *fmtp)
{
	struct media_codec *c;
	int err;

	if (!cp || (unsigned)id >= MEDIA_CODEC_COUNT)
		return EINVAL;
	c = gw_mem_zalloc(sizeof(*c), codec_destroy);
	if (!c) {
		err = ENOMEM;
		goto out;
	}
	c->info = &codec_infos[id];
	c->ops = &codec_ops[id];
	plc_init(&c->plc);
	err = c->ops->init(c, fmtp ? fmtp : "");

 out:
	if (err)
		gw_mem_deref(c);
	else
		*cp = c;
	return err;
}

/** The codec's id. */
enum media_codec_id media_codec_id(const struct media_codec *c)
{
	return c->info->id;
}

/**
 * Encode n samples into one payload in out: a whole number of the
 * codec's frames (1 sample for G.711 and G.722, 2 for G.726-32, 20 ms
 * for GSM, 10 ms for G.729 and Opus; Opus at most 120 ms).  Octets
 * written, or -EINVAL (n not whole frames), -ENOBUFS (out too small).
 */
int media_codec_encode(struct media_codec *c, const int16_t *pcm, size_t n,
		       uint8_t *out, size_t outlen)
{
	const struct codec_ops *ops;

	if (!c || !pcm || !out || n == 0 || n > INT32_MAX)
		return -EINVAL;
	ops = c->ops;
	if (n % ops->frame)
		return -EINVAL;
	if (ops->frame_bytes && outlen < n / ops->frame * ops->frame_bytes)
		return -ENOBUFS;
	return ops->encode(c, pcm, n, out, outlen);
}

/**
 * Decode one payload of len octets into at most maxn samples.  Samples
 * written, or -EBADMSG (empty or malformed: GSM or G.729 that is not
 * whole frames, a GSM frame without its signature, an invalid Opus
 * packet), -ENOBUFS (the payload holds more than maxn samples; nothing
 * is decoded), -EINVAL.  G.711, G.722 and G.726 payloads may be any
 * number of octets, so a truncated one simply yields fewer samples.
 */
int media_codec_decode(struct media_codec *c, const uint8_t *in, size_t len,
		       int16_t *pcm, size_t maxn)
{
	int n;

	if (!c || !in || !pcm || maxn > INT32_MAX)
		return -EINVAL;
	if (len == 0)
		return -EBADMSG;
	n = c->ops->decode(c, in, len, pcm, maxn);
	if (n > 0 && !c->ops->conceal)
		plc_rx(&c->plc, pcm, n);
	return n;
}

/**
 * Fill n samples where a packet is missing: the codec's own concealment
 * for G.729 and Opus, spandsp's PLC (after G.711 Appendix I: the last
 * pitch period repeated, fading to silence over 50 ms) for the others.
 * Samples written (n), or -EINVAL.
 */
int media_codec_conceal(struct media_codec *c, int16_t *pcm, size_t n)
{
	if (!c || !pcm || n > INT32_MAX)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (c->ops->conceal)
		return c->ops->conceal(c, pcm, n);
	return plc_fillin(&c->plc, pcm, (int)n);
}

/** RTP timestamp units per 8 kHz sample: 6 for Opus (48 kHz), else 1. */
unsigned media_codec_ts_per_sample(const struct media_codec *c)
{
	return c->info->clock / MEDIA_RATE;
}
