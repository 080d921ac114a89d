/* hw/tdm.h - TDM spans, channels and ISDN PRI signalling: public interface of hw/ */
#ifndef GW_TDM_H
#define GW_TDM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

/*
 * A span is one E1 or T1 line.  In the decomposed gateway its two halves
 * live in different processes: junctiond opens the D-channel (and runs
 * PRI on it), junction-mg opens the bearer (the B-channels' audio).  Both
 * see the span's alarms.  pstnsim opens both halves of the far end.
 *
 * Audio moves in 20 ms frames of companded bytes (A-law on E1, mu-law on
 * T1), one byte per sample: 160 bytes per channel per frame.  The far end
 * is the clock master, as a real network is: each received frame is
 * answered with one transmitted frame.
 */

#define TDM_FRAME_MS		20
#define TDM_FRAME_SAMPLES	160
#define TDM_MAX_TS		32	/* E1 timeslots 0..31; T1 uses 1..24 */
#define TDM_DCHAN_MAX		512	/* Q.921 frame + 2 FCS bytes, max */

enum tdm_span_type { TDM_E1, TDM_T1 };

enum tdm_span_state {
	TDM_SPAN_DOWN,		/* not connected / not configured */
	TDM_SPAN_ALARM,		/* connected, with a red or yellow alarm */
	TDM_SPAN_UP,
};

enum {
	TDM_ALARM_LOS = 1 << 0,	/* loss of signal (red) */
	TDM_ALARM_AIS = 1 << 1,	/* alarm indication signal (blue) */
	TDM_ALARM_RAI = 1 << 2,	/* remote alarm indication (yellow) */
	TDM_ALARM_LOF = 1 << 3,	/* loss of frame alignment (red) */
};

enum tdm_chan_state {
	TDM_CHAN_IDLE,
	TDM_CHAN_RESERVED,	/* chosen for a call being set up */
	TDM_CHAN_IN_USE,
	TDM_CHAN_BLOCKED,	/* by the operator or the far end (SERVICE) */
	TDM_CHAN_MAINTENANCE,	/* restarting, or out of service */
};

/* Which halves of the span this process drives. */
enum {
	TDM_OPEN_DCHAN  = 1 << 0,
	TDM_OPEN_BEARER = 1 << 1,
};

struct tdm_span_conf {
	unsigned id;			/* 1.. */
	enum tdm_span_type type;
	const char *driver;		/* "vspan" or "dahdi" */
	const char *framing;		/* e1: "ccs" "cas"; t1: "esf" "d4" */
	const char *linecode;		/* e1: "hdb3"; t1: "b8zs" "ami" */
	bool crc4;			/* e1 only */
	unsigned clock;			/* 0: internal; N: recovered, priority N */
	/* vspan */
	const char *dchan_path;		/* SOCK_SEQPACKET socket path */
	const char *bearer_path;
	bool master;			/* listen and clock the span (pstnsim) */
	/* dahdi */
	const char *dahdi_dir;		/* "/dev/dahdi" */
	unsigned dahdi_span;		/* DAHDI span number */
	unsigned dahdi_base;		/* DAHDI channel number of timeslot 1 */
};

struct tdm_span_counters {
	uint64_t frames_rx, frames_tx;	/* bearer frames */
	uint64_t slips;			/* frames lost or repeated */
	uint64_t gaps;			/* receive gaps concealed */
	uint64_t bad_frames;		/* short, oversized or garbage */
	uint64_t crc_errors, bpv;	/* line errors (DAHDI) */
	uint64_t dchan_rx, dchan_tx;	/* D-channel frames */
	uint64_t reconnects;		/* links re-established */
};

struct tdm_span;
struct tdm_chan;

/* The span's state or alarms changed. */
typedef void (tdm_span_state_h)(struct tdm_span *span,
				enum tdm_span_state state, unsigned alarms,
				void *arg);
/* One D-channel frame (Q.921 + 2 FCS bytes) arrived. */
typedef void (tdm_dchan_h)(struct tdm_span *span, const uint8_t *frame,
			   size_t len, void *arg);
/* A 20 ms frame for an open channel: rx holds what arrived, tx (filled
 * with idle code) takes what to send back.  Called once per frame for
 * every open channel, all in one pass: the span's tick. */
typedef void (tdm_chan_frame_h)(struct tdm_chan *ch, const uint8_t *rx,
				uint8_t *tx, void *arg);
/* After every open channel has had its frame (one per span tick). */
typedef void (tdm_span_tick_h)(struct tdm_span *span, void *arg);

/* ---- spans (hw/span.c) -------------------------------------------- */

int  tdm_span_alloc(struct tdm_span **spanp, const struct tdm_span_conf *conf,
		    tdm_span_state_h *stateh, void *arg);
int  tdm_span_start(struct tdm_span *span, unsigned open_flags);
unsigned tdm_span_id(const struct tdm_span *span);
enum tdm_span_type tdm_span_type(const struct tdm_span *span);
enum tdm_span_state tdm_span_state(const struct tdm_span *span);
unsigned tdm_span_alarms(const struct tdm_span *span);
const struct tdm_span_counters *tdm_span_counters(const struct tdm_span *span);
uint8_t tdm_span_idle_code(const struct tdm_span *span);	/* 0xd5 / 0xff */
/* Bearer timeslots: E1 1..15,17..31 (30); T1 1..23 (23). */
unsigned tdm_span_nchans(const struct tdm_span *span);
bool tdm_span_is_bearer_ts(const struct tdm_span *span, unsigned ts);
unsigned tdm_span_dchan_ts(const struct tdm_span *span);	/* 16 / 24 */
struct tdm_chan *tdm_span_chan(const struct tdm_span *span, unsigned ts);
void tdm_span_set_tick_handler(struct tdm_span *span, tdm_span_tick_h *h,
			       void *arg);
/* Master side (pstnsim): raise or clear alarms toward the far end, and
 * stop or resume passing D-channel frames (a D-channel failure). */
int  tdm_span_send_alarms(struct tdm_span *span, unsigned alarms);
void tdm_span_dchan_block(struct tdm_span *span, bool blocked);
json_t *tdm_span_json(const struct tdm_span *span);	/* DESIGN.md shape */
const char *tdm_span_state_name(enum tdm_span_state state);
json_t *tdm_alarms_json(unsigned alarms);		/* ["los",...] */

/* D-channel. */
int  tdm_dchan_open(struct tdm_span *span, tdm_dchan_h *h, void *arg);
int  tdm_dchan_send(struct tdm_span *span, const uint8_t *frame, size_t len);
bool tdm_dchan_link(const struct tdm_span *span);	/* carrier present */

/* ---- channels (hw/chan.c) ----------------------------------------- */

unsigned tdm_chan_ts(const struct tdm_chan *ch);
struct tdm_span *tdm_chan_span(const struct tdm_chan *ch);
enum tdm_chan_state tdm_chan_state(const struct tdm_chan *ch);
void tdm_chan_set_state(struct tdm_chan *ch, enum tdm_chan_state state);
const char *tdm_chan_state_name(enum tdm_chan_state state);
/* Start or stop receiving this channel's frames. */
int  tdm_chan_open(struct tdm_chan *ch, tdm_chan_frame_h *h, void *arg);
void tdm_chan_close(struct tdm_chan *ch);
bool tdm_chan_is_open(const struct tdm_chan *ch);

/* ---- ISDN PRI on a D-channel (hw/pri.c, library libhwpri) --------- */

/*
 * One PRI instance per span, on libpri.  It is fed D-channel frames with
 * tdm_pri_input and sends through the handler it was given, so that it
 * runs over a vspan, a DAHDI HDLC channel or a socketpair in a test
 * alike.  Its timers run on this thread's loop.  libpri types stay
 * inside pri.c.
 */

enum tdm_pri_node { TDM_PRI_CPE, TDM_PRI_NET };

enum tdm_pri_switch {
	TDM_PRI_EUROISDN_E1, TDM_PRI_EUROISDN_T1, TDM_PRI_NATIONAL,
	TDM_PRI_NI1, TDM_PRI_DMS100, TDM_PRI_4ESS, TDM_PRI_5ESS,
	TDM_PRI_QSIG,
};

struct tdm_pri_conf {
	unsigned span;			/* for logs */
	enum tdm_span_type type;	/* E1 or T1: which timeslots exist */
	enum tdm_pri_node node;
	enum tdm_pri_switch switchtype;
	bool exclusive;			/* channel id exclusive, not preferred */
	bool overlap;			/* overlap receiving (SETUP ACK) */
};

/* Q.931 numbering plan / type of number, presentation, screening. */
struct tdm_pri_number {
	char digits[64];
	uint8_t plan;			/* Q.931 numbering plan (1 = E.164) */
	uint8_t ton;			/* type of number (1 intl, 2 national,
					 * 4 subscriber, 0 unknown) */
	uint8_t pres;			/* 0 allowed, 1 restricted, 2 n/a */
	uint8_t screen;			/* 0 user not screened .. 3 network */
};

struct tdm_pri;
struct tdm_pri_call;

enum tdm_pri_ev {
	TDM_PRI_DCHAN_UP,
	TDM_PRI_DCHAN_DOWN,
	TDM_PRI_SETUP,			/* incoming call (RING) */
	TDM_PRI_SETUP_ACK,
	TDM_PRI_PROCEEDING,
	TDM_PRI_PROGRESS,
	TDM_PRI_ALERTING,
	TDM_PRI_CONNECT,
	TDM_PRI_CONNECT_ACK,
	TDM_PRI_INFO,			/* overlap digits */
	TDM_PRI_DISCONNECT,		/* far end clears: answer with hangup */
	TDM_PRI_RELEASE,		/* the call is gone; handle freed */
	TDM_PRI_RESTART,		/* a channel (or all: ts 0) restarted */
	TDM_PRI_SERVICE,		/* far end took a channel in/out */
};

struct tdm_pri_event {
	enum tdm_pri_ev type;
	struct tdm_pri_call *call;	/* NULL for link, restart, service */
	unsigned ts;			/* timeslot, 0 if none */
	int cause;			/* Q.850 (DISCONNECT, RELEASE) */
	int location;			/* Q.850 location; -1 if unknown */
	int progress;			/* progress indicator (PROGRESS, ...) */
	bool inband;			/* in-band information available */
	struct tdm_pri_number called, calling, redirecting;
	int redirect_reason;
	int bearer;			/* transfer capability (0 speech ...) */
	int layer1;			/* 2 mu-law, 3 A-law */
	bool in_service;		/* SERVICE */
	bool complete;			/* sending complete present */
	bool exclusive;			/* SETUP: ts is exclusive, not
					 * preferred */
	char digits[64];		/* INFO */
};

typedef int  (tdm_pri_send_h)(const uint8_t *frame, size_t len, void *arg);
typedef void (tdm_pri_event_h)(struct tdm_pri *pri,
			       const struct tdm_pri_event *ev, void *arg);

struct tdm_pri_setup {
	unsigned ts;			/* 0: let the far end choose */
	struct tdm_pri_number called, calling, redirecting;
	int redirect_reason;
	int bearer;			/* 0 speech, 16 3.1 kHz audio */
	int layer1;			/* 2 mu-law, 3 A-law */
	bool complete;			/* en bloc: sending complete */
	void *user;			/* returned by tdm_pri_call_user */
};

int  tdm_pri_alloc(struct tdm_pri **prip, const struct tdm_pri_conf *conf,
		   tdm_pri_send_h *sendh, tdm_pri_event_h *evh, void *arg);
void tdm_pri_input(struct tdm_pri *pri, const uint8_t *frame, size_t len);
bool tdm_pri_up(const struct tdm_pri *pri);
int  tdm_pri_setup(struct tdm_pri *pri, const struct tdm_pri_setup *setup,
		   struct tdm_pri_call **callp);
int  tdm_pri_setup_ack(struct tdm_pri *pri, struct tdm_pri_call *call,
		       unsigned ts);
int  tdm_pri_proceeding(struct tdm_pri *pri, struct tdm_pri_call *call,
			unsigned ts, bool inband);
int  tdm_pri_progress(struct tdm_pri *pri, struct tdm_pri_call *call,
		      unsigned ts, bool inband);
int  tdm_pri_alerting(struct tdm_pri *pri, struct tdm_pri_call *call,
		      unsigned ts, bool inband);
int  tdm_pri_answer(struct tdm_pri *pri, struct tdm_pri_call *call,
		    unsigned ts);
int  tdm_pri_info(struct tdm_pri *pri, struct tdm_pri_call *call,
		  const char *digits);
/* Clear with a Q.850 cause; also the answer to TDM_PRI_DISCONNECT.  The
 * call handle stays valid until its TDM_PRI_RELEASE handler returns,
 * RELEASE being its only event after a hangup.  Events that a request
 * causes arrive from the loop, never inside the request. */
int  tdm_pri_hangup(struct tdm_pri *pri, struct tdm_pri_call *call,
		    int cause);
/* ts 0: every bearer timeslot, one message each (libpri 1.6 cannot send
 * either for the whole interface).  SERVICE exists for national, 4ess and
 * 5ess only: ENOTSUP elsewhere. */
int  tdm_pri_restart(struct tdm_pri *pri, unsigned ts);
int  tdm_pri_service(struct tdm_pri *pri, unsigned ts, bool in_service);
void *tdm_pri_call_user(const struct tdm_pri_call *call);
void tdm_pri_call_set_user(struct tdm_pri_call *call, void *user);
unsigned tdm_pri_call_ts(const struct tdm_pri_call *call);
const char *tdm_pri_ev_name(enum tdm_pri_ev type);
int  tdm_pri_switch_parse(const char *name, enum tdm_pri_switch *swp);
const char *tdm_pri_switch_name(enum tdm_pri_switch sw);

#endif
