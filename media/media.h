/* media/media.h - the media plane: codecs, DSP, RTP streams: public interface of media/ */
#ifndef GW_MEDIA_H
#define GW_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

struct media_chan;

/*
 * Audio moves in 20 ms ticks of 8 kHz samples (MEDIA_TICK_SAMPLES).  The
 * TDM side is companded (A-law on E1, mu-law on T1); linear audio exists
 * only where a codec, the echo canceller or a detector needs it.  Every
 * object here is owned by one media worker thread (spandsp and ortp are
 * not thread-safe); none of the per-tick calls allocates.
 */

#define MEDIA_RATE		8000
#define MEDIA_TICK_MS		20
#define MEDIA_TICK_SAMPLES	160

/* ---- G.711 (media/g711.c): table driven, the per-sample fast path ---- */

extern const int16_t media_alaw_to_lin[256];
extern const int16_t media_ulaw_to_lin[256];
extern const uint8_t media_alaw_to_ulaw[256];
extern const uint8_t media_ulaw_to_alaw[256];
uint8_t media_lin_to_alaw(int16_t s);
uint8_t media_lin_to_ulaw(int16_t s);

/* ---- codecs (media/codec.c) ------------------------------------------- */

enum media_codec_id {
	MEDIA_PCMA,		/* G.711 A-law, PT 8 */
	MEDIA_PCMU,		/* G.711 mu-law, PT 0 */
	MEDIA_G722,		/* PT 9, RTP clock 8000 (RFC 3551 4.5.2) */
	MEDIA_G726_32,		/* dynamic, "G726-32" */
	MEDIA_GSM,		/* GSM 06.10, PT 3 */
	MEDIA_G729,		/* PT 18, bcg729 (Annex A and B) */
	MEDIA_OPUS,		/* dynamic, "opus/48000/2" */
	MEDIA_CODEC_COUNT
};

struct media_codec_info {
	enum media_codec_id id;
	const char *name;		/* SDP encoding name: "PCMA" */
	unsigned clock;			/* RTP clock rate */
	unsigned channels;		/* SDP channels (opus: 2) */
	int static_pt;			/* -1: dynamic */
	unsigned frame_ms;		/* smallest frame: 10 (G.729), 20 ... */
	unsigned ptime_min, ptime_max;	/* ptime we accept, ms */
};

const struct media_codec_info *media_codec_info(enum media_codec_id id);
/* By SDP name and clock (case-insensitive), NULL if unknown. */
const struct media_codec_info *media_codec_find(const char *name,
						unsigned clock);

struct media_codec;	/* one encoder and one decoder, 8 kHz linear side */

int  media_codec_alloc(struct media_codec **cp, enum media_codec_id id,
		       const char *fmtp);
enum media_codec_id media_codec_id(const struct media_codec *c);
/* Encode n samples (a multiple of the frame) into out: bytes written, or
 * a negative errno. */
int  media_codec_encode(struct media_codec *c, const int16_t *pcm, size_t n,
			uint8_t *out, size_t outlen);
/* Decode one payload (any whole number of frames): samples written, or a
 * negative errno.  ptime-independent: 10 to 60 ms payloads. */
int  media_codec_decode(struct media_codec *c, const uint8_t *in, size_t len,
			int16_t *pcm, size_t maxn);
/* Conceal n lost samples (spandsp PLC for G.711, the codec's own where
 * it has one); samples written. */
int  media_codec_conceal(struct media_codec *c, int16_t *pcm, size_t n);
/* RTP timestamp units per 8 kHz sample (opus: 6). */
unsigned media_codec_ts_per_sample(const struct media_codec *c);

/* ---- DTMF (media/dtmf.c): detection and generation on linear audio ---- */

/* A digit detected: at its start (end false) and at its end (end true,
 * with its duration). */
typedef void (media_dtmf_h)(char digit, bool end, unsigned duration_ms,
			    void *arg);

struct media_dtmf_rx;
int  media_dtmf_rx_alloc(struct media_dtmf_rx **rxp, media_dtmf_h *h,
			 void *arg);
void media_dtmf_rx_process(struct media_dtmf_rx *rx, const int16_t *pcm,
			   size_t n);

struct media_dtmf_tx;
int  media_dtmf_tx_alloc(struct media_dtmf_tx **txp);
/* Queue digits ("0-9*#A-D") to play, each on_ms long with off_ms gaps. */
int  media_dtmf_tx_put(struct media_dtmf_tx *tx, const char *digits,
		       unsigned on_ms, unsigned off_ms);
/* Start one digit now and play it until media_dtmf_tx_stop (RFC 4733
 * events arriving: the end is not known at the start). */
int  media_dtmf_tx_start(struct media_dtmf_tx *tx, char digit);
void media_dtmf_tx_stop(struct media_dtmf_tx *tx);
bool media_dtmf_tx_busy(const struct media_dtmf_tx *tx);
/* Fill n samples: the tone, or nothing (returns 0) when idle. */
size_t media_dtmf_tx_fill(struct media_dtmf_tx *tx, int16_t *pcm, size_t n);

/* ---- tones (media/tone.c): call progress, per country ---------------- */

enum media_tone {
	MEDIA_TONE_DIAL,
	MEDIA_TONE_RINGBACK,
	MEDIA_TONE_BUSY,
	MEDIA_TONE_CONGESTION,
	MEDIA_TONE_SIT,		/* special information tone */
	MEDIA_TONE_CALLWAIT,
	MEDIA_TONE_MILLIWATT,	/* 1004 Hz, -10 dBm0, continuous */
	MEDIA_TONE_COUNT
};

/* "itu" (ITU-T E.180 / EU), "us" (ANSI), "uk" (BT), ... */
int  media_tone_country_parse(const char *name, unsigned *countryp);
const char *media_tone_name(enum media_tone tone);
int  media_tone_parse(const char *name, enum media_tone *tonep);

struct media_tonegen;
int  media_tonegen_alloc(struct media_tonegen **gp, unsigned country,
			 enum media_tone tone);
/* Fill n samples of the tone's cadence, continuing where it left off. */
void media_tonegen_fill(struct media_tonegen *g, int16_t *pcm, size_t n);

/* Fax and modem signals in the received audio (T.30, V.25, V.21). */
enum media_tonedet_ev {
	MEDIA_DET_CNG,		/* 1100 Hz calling tone (fax caller) */
	MEDIA_DET_CED,		/* 2100 Hz answer tone */
	MEDIA_DET_ANS_PR,	/* 2100 Hz with phase reversals (V.25 ANSam
				 * /ANS): disable the echo canceller */
	MEDIA_DET_V21,		/* V.21 HDLC preamble (T.30 flags) */
};
typedef void (media_tonedet_h)(enum media_tonedet_ev ev, void *arg);
struct media_tonedet;
int  media_tonedet_alloc(struct media_tonedet **dp, media_tonedet_h *h,
			 void *arg);
void media_tonedet_process(struct media_tonedet *d, const int16_t *pcm,
			   size_t n);

/* ---- echo cancellation (media/ec.c), speexdsp ----------------------- */

struct media_ec;
/* tail_ms 32..128 */
int  media_ec_alloc(struct media_ec **ecp, unsigned tail_ms);
/* One tick: tx is what was sent to the line (the echo's source), rx what
 * came back from it; out gets rx without the echo. */
void media_ec_process(struct media_ec *ec, const int16_t *tx,
		      const int16_t *rx, int16_t *out, size_t n);
void media_ec_enable(struct media_ec *ec, bool on);	/* off: out = rx */
bool media_ec_enabled(const struct media_ec *ec);
/* Echo return loss enhancement over the last second, dB (G.168). */
double media_ec_erle_db(const struct media_ec *ec);

/* ---- call quality (media/quality.c): ITU-T G.107 E-model ------------- */

struct media_quality_in {
	enum media_codec_id codec;
	double loss_pct;		/* packet loss, % */
	bool bursty;			/* BurstR > 1 */
	double delay_ms;		/* one-way mouth-to-ear */
};
/* R factor and MOS-CQE (G.107 B.3). */
double media_quality_r(const struct media_quality_in *in);
double media_quality_mos(double r);

/* Libraries' global set-up (ortp, libsrtp): once, at start-up. */
int  media_init(void);

/* ---- RTP streams (media/stream.c): ortp, SRTP on libsrtp2 ------------ */

/*
 * One RTP session (RFC 3550) and its RTCP, owned by one media worker and
 * driven by its tick: every tick, media_stream_rx once, then
 * media_stream_send_event while a digit goes out as RFC 4733 events, then
 * media_stream_tx once.  The sockets are read only inside media_stream_rx,
 * so the worker must not watch them level-triggered (ortp leaves them
 * readable).  Payloads are opaque here: the channel decodes and encodes
 * with media/codec and conceals with media_codec_conceal.
 */

enum media_dir {
	MEDIA_DIR_SENDRECV,
	MEDIA_DIR_SENDONLY,	/* we send and ignore what arrives */
	MEDIA_DIR_RECVONLY,
	MEDIA_DIR_INACTIVE,
};

/* SDES crypto suites (RFC 4568 6.2); SRTCP always uses an 80-bit tag. */
enum media_srtp_suite {
	MEDIA_SRTP_NONE,
	MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
	MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32,
};

#define MEDIA_SRTP_KEY_LEN	30	/* master key 16 + master salt 14 */
#define MEDIA_SRTP_B64_SIZE	41	/* its base64 (40) and a NUL */

struct media_srtp_key {
	enum media_srtp_suite suite;	/* NONE: plain RTP */
	uint8_t key[MEDIA_SRTP_KEY_LEN];
};

/* A bound RTP port pair, for a stream created later, maybe on another
 * thread: the port is known (and can go into an SDP or an H.248 reply)
 * before the stream exists. */
struct media_rtp_socks {
	int fd, rtcp_fd;		/* rtcp_fd -1 with rtcp-mux */
	uint16_t port;
};

/* Any thread: bind RTP on an even port of [port_min, port_max] and RTCP
 * on port+1 (or only RTP with rtcp_mux), IPv4 or IPv6 literal ip;
 * successive calls rotate through the range (start after the last port
 * handed out, not always at port_min) so a port just released is not
 * reused at once. */
int  media_rtp_socks_bind(struct media_rtp_socks *s, const char *ip,
			  uint16_t port_min, uint16_t port_max,
			  bool rtcp_mux);
/* Closes, sets fds to -1; safe twice (and on a zeroed struct). */
void media_rtp_socks_close(struct media_rtp_socks *s);

struct media_stream_conf {
	const char *local_ip;		/* IP literal, v4 or v6; may be NULL
					 * with socks */
	struct media_rtp_socks *socks;	/* pre-bound sockets
					 * (media_rtp_socks_bind): the stream
					 * takes them over (sets them to -1 in
					 * *socks), always, even when
					 * media_stream_alloc fails: it closes
					 * them then.  NULL: bind from the
					 * port range */
	uint16_t port_min, port_max;	/* RTP on an even port, RTCP on the
					 * odd one above it */
	bool rtcp_mux;			/* RFC 5761: RTCP on the RTP port */
	const char *remote_ip;		/* IP literal, or NULL: set later */
	uint16_t remote_port;
	uint16_t remote_rtcp_port;	/* 0: remote_port + 1 */
	uint8_t pt;			/* audio payload type */
	unsigned clock;			/* its RTP clock rate; 0: 8000 */
	unsigned ptime;			/* ms per packet from the peer until
					 * learned from its packets; 0: 20 */
	uint8_t te_pt;			/* telephone-event PT; 0: none */
	bool cn;			/* comfort noise (RFC 3389), PT 13:
					 * accepted, and sent by channels
					 * during silence */
	unsigned jb_nominal_ms;		/* jitter buffer; 0: 60 */
	unsigned jb_max_ms;		/* adaptive ceiling; 0: 200 */
	bool jb_adaptive;
	unsigned rtp_timeout_ms;	/* no RTP for this long while
					 * sendrecv: timeout handler; 0: off */
	unsigned rtcp_interval_ms;	/* SR/RR period; 0: 5000 */
	bool symmetric;			/* latch to the source of the first
					 * valid packet and send there (NAT);
					 * off: accept any source */
	enum media_dir dir;
	struct media_srtp_key srtp_tx;	/* our key, the one our SDP carried */
	struct media_srtp_key srtp_rx;	/* the peer's key */
};

/* One tick's worth of received payload. */
struct media_stream_frame {
	size_t len;		/* payload bytes in buf; 0: none this tick */
	unsigned samples;	/* RTP clock units the payload covers */
	uint32_t ts;		/* RTP timestamp of its first sample */
	uint8_t pt;		/* conf pt, or 13 for comfort noise */
	bool marker;		/* first packet of a talkspurt */
	bool lost;		/* audio should be playing but less than a
				 * tick arrived in time: conceal the tick's
				 * samples that the payload does not cover */
};

struct media_stream_stats {
	uint64_t rx_packets, rx_bytes;	/* accepted RTP (header + payload) */
	uint64_t tx_packets, tx_bytes;	/* sent RTP, before SRTP */
	uint64_t lost;			/* RFC 3550 A.3, over every SSRC */
	uint64_t discarded;		/* late or duplicate */
	uint64_t concealed;		/* ticks reported lost */
	uint64_t bad_pt;		/* payload type not negotiated */
	uint64_t bad_ssrc;		/* unexpected SSRC from the peer */
	uint64_t strangers;		/* from another source once latched */
	uint64_t truncated;		/* header, CSRCs, extension or padding
					 * beyond the datagram; oversize */
	uint64_t malformed;		/* not RTP version 2 */
	uint64_t jumps;			/* absurd sequence/timestamp jumps */
	uint64_t srtp_fail;		/* SRTP/SRTCP authentication failed */
	uint64_t tx_errors;
	uint64_t rtcp_rx, rtcp_tx, rtcp_bad;
	uint64_t events_rx, events_tx;	/* RFC 4733 digits, counted at end */
	unsigned ssrc_changes;
	double jitter_ms;		/* interarrival jitter (RFC 3550 A.8) */
	double rtt_ms;			/* from RTCP; negative until known */
	/* The peer's view of our stream, from its last report block. */
	double remote_fraction_lost;	/* 0..1 */
	int64_t remote_lost;		/* cumulative */
	double remote_jitter_ms;
	uint32_t rx_ssrc, tx_ssrc;
	bool latched;
	char latched_addr[64];		/* "ip:port", "[v6]:port" */
};

/* No RTP for conf.rtp_timeout_ms while sendrecv; once per silence. */
typedef void (media_stream_timeout_h)(void *arg);

struct media_stream;

/* dtmfh (RFC 4733 digits received: start, then end with its duration)
 * and timeouth may be NULL.  Either may drop the last reference to the
 * stream; media_stream_rx returns at once when one does. */
int  media_stream_alloc(struct media_stream **sp,
			const struct media_stream_conf *conf,
			media_dtmf_h *dtmfh, media_stream_timeout_h *timeouth,
			void *arg);
uint16_t media_stream_port(const struct media_stream *s);
uint16_t media_stream_rtcp_port(const struct media_stream *s);
int  media_stream_fd(const struct media_stream *s);
int  media_stream_rtcp_fd(const struct media_stream *s);	/* -1: mux */
/* IP literals only (no resolver on the media path); rtcp_port 0: port+1.
 * Forgets the latched source. */
int  media_stream_set_remote(struct media_stream *s, const char *ip,
			     uint16_t port, uint16_t rtcp_port);
int  media_stream_set_srtp(struct media_stream *s,
			   const struct media_srtp_key *tx,
			   const struct media_srtp_key *rx);
void media_stream_set_dir(struct media_stream *s, enum media_dir dir);
/* One tick: the payload due now from the jitter buffer into buf. */
int  media_stream_rx(struct media_stream *s, uint8_t *buf, size_t size,
		     struct media_stream_frame *f);
/* One tick: send payload covering samples RTP clock units; payload NULL
 * with samples: a gap (silence, muted), timestamps still advance and the
 * next packet carries the marker.  NULL with 0: nothing this tick. */
int  media_stream_tx(struct media_stream *s, const uint8_t *payload,
		     size_t len, unsigned samples);
/* Instead of media_stream_tx in a silent tick: an RFC 3389 comfort
 * noise packet, noise level level_dbov (0..127, -dBov), stamped now; the
 * timestamp advances by samples and the next audio packet carries the
 * marker.  ENOTSUP without conf.cn. */
int  media_stream_tx_cn(struct media_stream *s, uint8_t level_dbov,
			unsigned samples);
/* Every tick while digit ("0-9*#A-D") sounds, before media_stream_tx;
 * end on its last tick.  The end packet goes three times, one per tick. */
int  media_stream_send_event(struct media_stream *s, char digit, bool end);
void media_stream_stats(const struct media_stream *s,
			struct media_stream_stats *st);

/* SDES keys for the SDP layer: "AES_CM_128_HMAC_SHA1_80", base64
 * key-salt (the part of "inline:" before any '|'). */
int  media_srtp_suite_parse(const char *name, enum media_srtp_suite *suitep);
const char *media_srtp_suite_name(enum media_srtp_suite suite);
int  media_srtp_key_gen(struct media_srtp_key *k, enum media_srtp_suite suite);
int  media_srtp_key_encode(const struct media_srtp_key *k, char *b64,
			   size_t size);
int  media_srtp_key_decode(struct media_srtp_key *k,
			   enum media_srtp_suite suite, const char *b64);

/* ---- media channels (media/chan.c): one call's TDM <-> RTP path ------ */

/*
 * A channel joins a bearer channel's 20 ms frames and an RTP stream:
 * TDM audio is echo-cancelled, watched for DTMF (sent on as RFC 4733
 * events, the in-band digit muted toward IP so that it is never doubled)
 * and for fax and modem tones, and encoded, or replaced by comfort noise
 * packets while silent (RFC 3389, when the stream has cn); RTP audio is
 * decoded or concealed, comfort noise played at its level, RFC 4733
 * digits are played in-band, and a call-progress tone may replace it.
 * PCMA on an A-law span (PCMU on mu-law) without echo cancellation or
 * detection is a byte copy both ways.  A channel without a stream (TDM
 * only, while a call is set up) plays tones and digits to the line and
 * detects what comes from it; nothing goes toward IP.
 */

enum media_law { MEDIA_LAW_ALAW, MEDIA_LAW_ULAW };

struct media_chan_conf {
	enum media_law law;		/* the TDM side */
	enum media_codec_id codec;
	const char *fmtp;
	unsigned ptime;			/* ms we send: 10..60, codec's frames */
	bool te;			/* RFC 4733 toward IP (stream te_pt) */
	bool detect_dtmf;		/* report in-band digits from the line
					 * (MEDIA_CHAN_DIGIT_TDM) without te
					 * too; they pass as audio then */
	bool detect_fax;		/* MEDIA_CHAN_FAX_TONE, digit: the enum
					 * media_tonedet_ev; ANS with phase
					 * reversals disables the EC */
	bool ec;
	unsigned ec_tail_ms;		/* 32..128 */
	unsigned tone_country;		/* media_tone_country_parse */
};

enum media_chan_ev {
	MEDIA_CHAN_DIGIT_TDM,		/* detected in-band, from the line */
	MEDIA_CHAN_DIGIT_RTP,		/* RFC 4733, from IP */
	MEDIA_CHAN_RTP_TIMEOUT,
	MEDIA_CHAN_FAX_TONE,		/* CNG / CED / ANS seen on the line;
					 * digit: enum media_tonedet_ev */
};

typedef void (media_chan_h)(struct media_chan *c, enum media_chan_ev ev,
			    char digit, unsigned duration_ms, void *arg);

struct media_chan_stats {
	struct media_stream_stats rtp;
	uint64_t ticks;
	uint64_t digits_tdm, digits_rtp;
	double erle_db;			/* NAN without echo cancellation */
	double mos;			/* G.107 estimate from rtp loss/jitter;
					 * NAN without a stream */
};

struct media_chan;

/* The channel owns its stream and drives it from its tick; sc NULL: no
 * stream (TDM only; the codec is not used).  sc->socks is taken over as
 * by media_stream_alloc: always, even on failure. */
int  media_chan_alloc(struct media_chan **cp, const struct media_chan_conf *c,
		      const struct media_stream_conf *sc, media_chan_h *h,
		      void *arg);
struct media_stream *media_chan_stream(const struct media_chan *c);
/* The stream's direction (no-op without one): the channel sends nothing
 * toward IP unless SENDRECV/SENDONLY, and plays what arrives only with
 * SENDRECV/RECVONLY (silence, tones and digits otherwise). */
int  media_chan_set_dir(struct media_chan *c, enum media_dir dir);
/* The 20 ms tick, shaped as a tdm_chan_frame_h: tdm_rx arrived from the
 * line, tdm_tx (160 bytes) takes what goes to it. */
void media_chan_tick(struct media_chan *c, const uint8_t *tdm_rx,
		     uint8_t *tdm_tx);
/* Play a call-progress tone toward the line (MEDIA_TONE_COUNT: stop). */
int  media_chan_tone(struct media_chan *c, enum media_tone tone);
/* Play tone toward the IP side in place of the line's audio (local
 * ringback for a caller on the IP side), or MEDIA_TONE_COUNT: none. */
int  media_chan_tone_ip(struct media_chan *c, enum media_tone tone);
/* Play digits in-band toward the line (SIP INFO, the MG's dg package). */
int  media_chan_digits(struct media_chan *c, const char *digits);
void media_chan_ec(struct media_chan *c, bool on);
void media_chan_stats(const struct media_chan *c, struct media_chan_stats *st);

/* ---- media workers (media/worker.c): threads that own the media ------- */

/*
 * A worker is a thread with its own loop (DESIGN.md, "Threads and
 * clocks") that owns a shard of spans and channels outright: they are
 * created, driven and freed on its thread and touched nowhere else.
 * Other threads hand it commands with media_worker_run or
 * media_worker_call (gw_loop_post: in posting order); it answers the
 * same way.  Each worker has one 20 ms tick for everything it carries,
 * clocked by a span's frames (media_worker_clock from the span's tick
 * handler), or by a timer while no span feeds it.  Only the load
 * figures are read across threads.
 */

#define MEDIA_WORKERS_MAX	64

struct media_workers;
struct media_worker;

typedef void (media_worker_h)(void *arg);
typedef void (media_tick_h)(void *arg);

/* A subscription to a worker's tick, embedded in its owner; zeroed, it
 * is not subscribed.  The fields are the worker's. */
struct media_tick {
	struct media_tick *next, *prev;
	struct media_worker *wk;
	media_tick_h *h;
	void *arg;
};

struct media_worker_load {
	unsigned idx;
	unsigned channels;		/* media_worker_chans_add */
	uint64_t ticks;
	uint64_t late_ticks;		/* began over half a tick late, or
					 * skipped */
	uint64_t cpu_ns;		/* the thread's CPU time */
	double busy;			/* CPU / wall time, last second */
	bool span_clock;		/* clocked by a span, not its timer */
	bool batched;			/* socket I/O through io_uring */
};

/* n 0: one per online core.  gw_mem_deref stops and joins them all,
 * after what was posted to them has run. */
int  media_workers_alloc(struct media_workers **wsp, unsigned n,
			 bool batch);
unsigned media_workers_count(const struct media_workers *ws);
struct media_worker *media_workers_get(const struct media_workers *ws,
				       unsigned idx);
struct media_worker *media_workers_pick(struct media_workers *ws);
json_t *media_workers_json(const struct media_workers *ws);

/* Any thread. */
unsigned media_worker_idx(const struct media_worker *wk);
struct media_worker *media_worker_self(void);	/* NULL off the workers */
int  media_worker_run(struct media_worker *wk, media_worker_h *fn, void *arg);
/* fn on wk, then done back on the caller's loop. */
int  media_worker_call(struct media_worker *wk, media_worker_h *fn, void *arg,
		       media_worker_h *done, void *done_arg);
/* fn on wk, waiting for it: start-up only. */
int  media_worker_sync(struct media_worker *wk, media_worker_h *fn, void *arg);
void media_worker_chans_add(struct media_worker *wk, int delta);
void media_worker_load(const struct media_worker *wk,
		       struct media_worker_load *l);

/* On wk's thread. */
void media_worker_clock(struct media_worker *wk, const void *src);
void media_worker_tick_add(struct media_worker *wk, struct media_tick *t,
			   media_tick_h *h, void *arg);
void media_tick_remove(struct media_tick *t);

/* ---- single tones and their detection (media/tone.c) ----------------- */

/* A continuous tone of one frequency (hz, level_dbm0), filled with
 * media_tonegen_fill: test and check tones. */
int  media_tonegen_alloc_freq(struct media_tonegen **gp, double hz,
			      double level_dbm0);

/* A Goertzel detector of one frequency at min_dbm0 or louder: true
 * while the tone is present (40 ms to come, 60 ms to go). */
struct media_freqdet;
int  media_freqdet_alloc(struct media_freqdet **dp, double hz,
			 double min_dbm0);
bool media_freqdet_process(struct media_freqdet *d, const int16_t *pcm,
			   size_t n);

/* The fax and modem signals of media_tonedet_alloc, each reported when
 * it starts (on) and when it ends; media_tonedet_process drives it. */
typedef void (media_tonedet_edge_h)(enum media_tonedet_ev ev, bool on,
				    void *arg);
int  media_tonedet_edges_alloc(struct media_tonedet **dp,
			       media_tonedet_edge_h *h, void *arg);

/* The call-progress tones of a country's plan (media_tonegen_alloc's),
 * recognised by frequency and cadence in received audio: each one's
 * start (on, ms 0) and end (ms: how long it lasted) go to h. */
typedef void (media_cpd_h)(enum media_tone tone, bool on, unsigned ms,
			   void *arg);
struct media_cpd;
int  media_cpd_alloc(struct media_cpd **dp, unsigned country,
		     media_cpd_h *h, void *arg);
void media_cpd_process(struct media_cpd *d, const int16_t *pcm, size_t n);
enum media_tone media_cpd_tone(const struct media_cpd *d);

#endif
