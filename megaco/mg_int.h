/* megaco/mg_int.h - what the files of megaco/ share, not public */
#ifndef GW_MG_INT_H
#define GW_MG_INT_H

#include <stddef.h>

#include "mg.h"
#include "media/media.h"

/* A NUL-terminated copy of s[0..len) in msg's arena; NULL on ENOMEM. */
const char *mg_msg_strndup(struct mg_msg *msg, const char *s, size_t len);

/* ---- SDP in Local and Remote (megaco/sdp.c; H.248.1 s.7.1.8) -------- */

#define MG_SDP_ALTS	8	/* alternatives in one descriptor */
#define MG_SDP_PTS	16

struct mg_sdp_map {
	uint8_t pt;
	char name[24];
	unsigned clock;
	char fmtp[96];
};

/* One session description of a Local or Remote descriptor; "$" (CHOOSE)
 * values are flagged, not filled. */
struct mg_sdp {
	bool has_c, c_choose;
	char ip[64];
	bool has_m, port_choose, pt_choose;
	uint16_t port;
	bool image;			/* m=image (T.38) */
	unsigned npt;
	uint8_t pt[MG_SDP_PTS];		/* in m= order */
	unsigned nmap;
	struct mg_sdp_map map[MG_SDP_PTS];
	unsigned ptime;
	bool has_dir;
	enum media_dir dir;
};

/* What the MG runs for a stream. */
struct mg_codec_choice {
	enum media_codec_id codec;
	uint8_t pt;
	char fmtp[96];
	unsigned ptime;
	uint8_t te_pt;			/* 0: no telephone-event */
	bool cn;
};

/* The alternatives of a descriptor (LF or CRLF lines, separated by v=
 * lines): EINVAL with err naming the line when one does not parse. */
int  mg_sdp_parse(const char *text, struct mg_sdp *alts, unsigned max,
		  unsigned *np, char *err, size_t errlen);
/* Pick what to run: the first payload of the first usable alternative of
 * remote (what the peer takes) that local allows, or of local alone
 * when remote is empty.  ENOTSUP when nothing fits (error 510, s.7.1.8). */
int  mg_sdp_choose(const struct mg_sdp *local, unsigned nlocal,
		   const struct mg_sdp *remote, unsigned nremote,
		   struct mg_codec_choice *c);
/* The filled-in Local: our address, port and choice. */
int  mg_sdp_write(char *buf, size_t size, const char *ip, uint16_t port,
		  const struct mg_codec_choice *c);

/* ---- a context's media on its worker (megaco/ctxmedia.c) ------------ */

/* Everything the worker needs to run one context's media: a snapshot
 * the model sends after each change. */
struct mg_cm_state {
	/* the TDM termination */
	bool tdm;
	struct tdm_span *span;		/* the worker's */
	unsigned ts;
	bool alaw;
	bool loopback;			/* Mode = Loopback, ct/rsp */
	/* the RTP termination */
	bool rtp;
	struct media_rtp_socks socks;	/* handed over once; fd -1 after */
	char local_ip[64];
	uint16_t port;
	struct mg_codec_choice codec;
	unsigned gen;			/* a change here re-creates the
					 * channel (codec, RTP added) */
	char remote_ip[64];
	uint16_t remote_port;
	bool to_ip, to_line;		/* directions the modes allow */
	unsigned rtp_timeout_ms;
	unsigned jitter_ms;		/* nt/jit; 0: the default */
	/* DSP */
	bool ec;
	unsigned ec_tail_ms;
	unsigned tone_country;
	enum media_tone tone;		/* MEDIA_TONE_COUNT: none */
	enum media_tone ip_tone;	/* toward IP (a cg signal on the RTP
					 * termination), in place of the
					 * line's audio */
	char digits[64];		/* in-band digits to play ... */
	unsigned digits_seq;		/* ... when this changes */
	bool detect_dtmf;
	bool detect_fax;		/* fax and modem signals from the line:
					 * MG_CM_FAX at their start,
					 * MG_CM_FAX_END at their end */
	bool detect_cpd;		/* call-progress tones of tone_country
					 * from the line (E.8): MG_CM_CPD,
					 * MG_CM_CPD_END */
	/* Signals sent to the line as they are, past the codec and the
	 * echo canceller (H.248.1 E.10.5: none active during a
	 * continuity test), over whatever the channel plays. */
	unsigned line_hz;		/* a tone of one frequency; 0: none */
	int line_dbm0;
	bool cot;			/* ct/ct: the check tone goes out and
					 * its return is watched for */
	unsigned cot_seq;		/* a new test when this changes */
};

enum mg_cm_ev {
	MG_CM_DIGIT,			/* from the line, with its duration */
	MG_CM_RTP_DIGIT,		/* RFC 4733 from IP */
	MG_CM_RTP_TIMEOUT,
	MG_CM_FAX,			/* digit: enum media_tonedet_ev */
	MG_CM_FAILED,			/* the worker could not set it up */
	MG_CM_FAX_END,			/* digit: enum media_tonedet_ev, ms:
					 * how long it lasted */
	MG_CM_COT,			/* the check tone came back */
	MG_CM_CPD,			/* digit: enum media_tone, started */
	MG_CM_CPD_END,			/* digit: enum media_tone, ms: how
					 * long it lasted */
};

/* The continuity check tone (H.248.1 E.10 refers to Q.724 s.7: 2000
 * +/- 20 Hz; 2010 Hz as ANSI T1.113 sends it) and the 1780 Hz a 2-wire
 * transceiver answers with. */
#define MG_COT_HZ	2010
#define MG_COT_RESP_HZ	1780
#define MG_COT_DBM0	(-12)

struct mg_cm_stats {
	bool valid;
	bool rtp;
	struct media_chan_stats st;
	uint64_t tdm_frames;
};

struct mg_cm;
typedef void (mg_cm_ev_h)(enum mg_cm_ev ev, char digit, unsigned ms,
			  void *arg);
typedef void (mg_cm_stats_h)(const struct mg_cm_stats *st, void *arg);

int  mg_cm_alloc(struct mg_cm **cmp, struct media_worker *wk, mg_cm_ev_h *h,
		 void *arg);
struct media_worker *mg_cm_worker(const struct mg_cm *cm);
/* Send the state to the worker; socks are handed over (set to -1 in
 * st). */
int  mg_cm_apply(struct mg_cm *cm, struct mg_cm_state *st);
int  mg_cm_stats(struct mg_cm *cm, mg_cm_stats_h *h, void *arg);
/* Stop and free it on its worker; no event after this. */
void mg_cm_close(struct mg_cm *cm);

/* ---- the model and its virtual MGs (megaco/model.c, vmg.c) ---------- */

struct mg_vmg;
struct mg_tsx_req;

/* Execute a request from v's controller and answer req (at once, or
 * once the media workers have given their statistics). */
void mg_model_exec(struct mg_model *m, struct mg_vmg *v,
		   struct mg_tsx_req *req, const struct mg_trans *t,
		   unsigned version);
/* The MGC changed: v registered (again) with a controller. */
void mg_model_vmg_registered(struct mg_model *m, struct mg_vmg *v);
/* Every message from the controller (the it/ito inactivity timer). */
void mg_model_vmg_heard(struct mg_model *m, struct mg_vmg *v);
const char *mg_vmg_name(const struct mg_vmg *v);

int  mg_vmg_alloc(struct mg_vmg **vp, struct mg_model *m,
		  const struct mg_vmg_conf *vc);
int  mg_vmg_start(struct mg_vmg *v);
bool mg_vmg_registered(const struct mg_vmg *v);
unsigned mg_vmg_version(const struct mg_vmg *v);
/* A new request message to the controller, in the negotiated version. */
struct mg_msg *mg_vmg_msg(struct mg_vmg *v);
/* Send a request message to the controller; a timeout fails over. */
int  mg_vmg_send(struct mg_vmg *v, struct mg_msg *msg, mg_tsx_resp_h *h,
		 void *arg);
/* ServiceChange on terminations (tid may hold a wildcard). */
int  mg_vmg_service_change(struct mg_vmg *v, const char *tid,
			   enum mg_tok method, const char *reason);
unsigned mg_vmg_graceful(struct mg_vmg *v);
void mg_vmg_shutdown(struct mg_vmg *v);
/* HandOff ordered by the controller (s.11.5): register with mid. */
void mg_vmg_handoff(struct mg_vmg *v, const char *mid);
json_t *mg_vmg_json(const struct mg_vmg *v);

#endif
