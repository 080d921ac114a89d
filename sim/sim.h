/* sim/sim.h - pstnsim, the simulated PSTN switch: interfaces of sim/ */
#ifndef GW_SIM_H
#define GW_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

/*
 * pstnsim stands at the far end of the gateway's virtual spans: it runs
 * the network side of PRI on each D-channel (hw/pri), clocks the bearer
 * (hw/ vspan in master mode), and answers the numbers of its number plan
 * with media behaviours.  It has none of the gateway's call control.
 *
 *   behave.c  per-channel media behaviours and what each observed
 *   conf.c    the config schema: [pstnsim], [span N], [number PREFIX]
 *   call.c    the switch: spans, PRI, calls both ways
 *   pstnsim.c main and the control socket
 */

#define SIM_FRAME_SAMPLES	160	/* 20 ms at 8 kHz */
#define SIM_FRAME_MS		20

/* ---- media behaviours (sim/behave.c) -------------------------------- */

/* The companding of the bearer: A-law on E1, mu-law on T1. */
enum sim_law { SIM_LAW_ALAW, SIM_LAW_ULAW };

enum sim_media {
	SIM_MEDIA_SILENCE,
	SIM_MEDIA_ECHO,		/* send back what arrives, delay_ms on */
	SIM_MEDIA_MILLIWATT,	/* 1004 Hz at -10 dBm0 */
	SIM_MEDIA_DTMF_ECHO,	/* detect DTMF, play the digits back */
	SIM_MEDIA_RECORD,	/* write what arrives to file */
	SIM_MEDIA_PLAY,		/* play file, looping */
	SIM_MEDIA_FAX_SEND,	/* T.30 over audio, sending file (TIFF) */
	SIM_MEDIA_FAX_RECEIVE,	/* T.30 over audio, receiving into file */
};

struct sim_behave_conf {
	enum sim_media media;
	enum sim_law law;
	const char *file;	/* record, play, fax-send, fax-receive; a
				 * name ending in ".wav" is a WAV file, any
				 * other raw companded bytes (record, play) */
	unsigned delay_ms;	/* echo: rounded to whole 20 ms frames */
	const char *tag;	/* for log lines: the call id; may be NULL */
};

/* A tone seen in the received audio. */
struct sim_tone {
	double freq_hz;
	double level_dbm0;
};

struct sim_behave;

int  sim_behave_alloc(struct sim_behave **bp,
		      const struct sim_behave_conf *conf);
/* One 20 ms frame: rx is what arrived, tx takes what to send; both hold
 * SIM_FRAME_SAMPLES companded bytes. */
void sim_behave_frame(struct sim_behave *b, const uint8_t *rx, uint8_t *tx);
enum sim_media sim_behave_media(const struct sim_behave *b);
uint64_t sim_behave_frames(const struct sim_behave *b);
/* Observations: DTMF digits received, in order (NUL-terminated). */
const char *sim_behave_digits(const struct sim_behave *b);
/* The latest dominant tone found in a one-second window; false if none
 * has been seen. */
bool sim_behave_tone(const struct sim_behave *b, struct sim_tone *tonep);
/* The received level over the latest whole second; false before one. */
bool sim_behave_level(const struct sim_behave *b, double *dbm0p);
/* Fax: true once T.30 has finished, with its completion code (0: OK). */
bool sim_behave_fax_result(const struct sim_behave *b, int *resultp);
/* Everything observed, as a JSON object (a new reference). */
json_t *sim_behave_json(const struct sim_behave *b);

const char *sim_media_name(enum sim_media media);
int  sim_media_parse(const char *name, enum sim_media *mediap);
/* Level in dBm0 of linear samples, as the observations report it. */
double sim_level_dbm0(const int16_t *amp, size_t n);

/* ---- configuration (sim/conf.c) ------------------------------------- */

/* [pstnsim] */
struct sim_main_conf {
	char *rundir;		/* relative paths resolve here */
	char *socket;		/* control socket */
	char *log_level;
};

enum sim_span_type { SIM_SPAN_E1, SIM_SPAN_T1 };
enum sim_signalling { SIM_SIG_PRI_NET, SIM_SIG_PRI_CPE };

/* [span N] */
struct sim_span_conf {
	int type;		/* enum sim_span_type */
	int signalling;		/* enum sim_signalling */
	char *switchtype;	/* a name tdm_pri_switch_parse knows */
	char *dchan;		/* socket path; "" = "spanN.dchan" */
	char *bearer;		/* socket path; "" = "spanN.bearer" */
	bool exclusive;		/* our SETUPs: channel exclusive */
};

/* What a number does, in the order of the names in its config key. */
enum sim_action {
	SIM_ACT_ECHO,
	SIM_ACT_MILLIWATT,
	SIM_ACT_DTMF_ECHO,
	SIM_ACT_RECORD,
	SIM_ACT_PLAY,
	SIM_ACT_BUSY,
	SIM_ACT_UNALLOCATED,
	SIM_ACT_CONGESTION,
	SIM_ACT_NOANSWER,
	SIM_ACT_ALERT,
	SIM_ACT_FAX_SEND,
	SIM_ACT_FAX_RECEIVE,
	SIM_ACT_SILENCE,
};

/* [number PREFIX] */
struct sim_number_conf {
	int behaviour;			/* enum sim_action */
	char *file;
	long long delay_ms;		/* echo */
	long long answer_delay_ms;	/* alerting before the answer */
	long long alert_s;		/* alert: seconds before the answer */
	long long call_length_s;	/* 0: until the far end hangs up */
	long long cause;		/* 0: the behaviour's own */
};

extern const struct gw_conf_section sim_conf_schema[];

int  sim_conf_read(struct gw_conf **confp, const char *path, char *err,
		   size_t errlen);
const struct sim_main_conf *sim_conf_main(const struct gw_conf *conf);
/* path as given if absolute, else under rundir; a gw_mem string. */
char *sim_conf_runpath(const struct gw_conf *conf, const char *path);
/* The number whose prefix is the longest one that starts digits, or
 * NULL; its prefix in *prefixp if set. */
const struct sim_number_conf *sim_conf_number(const struct gw_conf *conf,
					      const char *digits,
					      const char **prefixp);
const char *sim_action_name(enum sim_action act);
/* The media behaviour an answering action runs; false for the others. */
bool sim_action_media(enum sim_action act, enum sim_media *mediap);
/* The Q.850 cause a rejecting action clears with (0: it answers). */
int  sim_action_cause(enum sim_action act);

/* ---- the switch (sim/call.c) ---------------------------------------- */

struct sim_switch;

/* A call pstnsim originates towards the gateway. */
struct sim_call_req {
	unsigned span;
	const char *from;		/* calling number */
	const char *to;			/* called number */
	struct sim_behave_conf then;	/* media once answered */
	unsigned call_length_s;		/* 0: until hung up */
	/* Overlap sending (Q.931 s.5.1.3): the SETUP carries the first
	 * overlap digits of to without sending complete, the rest follow
	 * in INFO one by one every digit_ms once SETUP ACK came, then a
	 * '#' if hash.  0: en bloc. */
	unsigned overlap;
	unsigned digit_ms;
	bool hash;
};

int  sim_switch_alloc(struct sim_switch **swp, const struct gw_conf *conf);
/* Start every span; their links come up as the gateway connects. */
int  sim_switch_start(struct sim_switch *sw);
/* Clear every call and close the spans (idempotent). */
void sim_switch_stop(struct sim_switch *sw);
bool sim_switch_has_span(const struct sim_switch *sw, unsigned span);
/* Originate; the new call's id in *idp (a gw_mem string).  ENOENT: no
 * such span; ENOTCONN: its D-channel is down; EBUSY: no free channel. */
int  sim_switch_call(struct sim_switch *sw, const struct sim_call_req *req,
		     char **idp);
/* Clear a call with a Q.850 cause.  ENOENT: no such call; EALREADY:
 * it is released already. */
int  sim_switch_hangup(struct sim_switch *sw, const char *id, int cause);
/* A simulated D-channel failure (up false) or its repair. */
int  sim_switch_dchan(struct sim_switch *sw, unsigned span, bool up);
int  sim_switch_restart(struct sim_switch *sw, unsigned span, unsigned ts);
int  sim_switch_service(struct sim_switch *sw, unsigned span, unsigned ts,
			bool in_service);
/* Raise or clear TDM_ALARM_* bits towards the gateway. */
int  sim_switch_alarm(struct sim_switch *sw, unsigned span, unsigned alarm,
		      bool on);
/* The end of a bearer test: 0 and its result (a new reference), or an
 * errno and NULL. */
typedef void (sim_bearer_test_h)(int err, json_t *result, void *arg);
/* Send numbered frames on every free B-channel of span for seconds, and
 * check that they come back intact and in order (the far end in line
 * loopback).  h runs once at the end.  ENOENT: no such span; ENOTCONN:
 * the bearer is not connected; EBUSY: a test is running there. */
int  sim_switch_bearer_test(struct sim_switch *sw, unsigned span,
			    unsigned seconds, sim_bearer_test_h *h,
			    void *arg);
json_t *sim_switch_spans_json(const struct sim_switch *sw);
json_t *sim_switch_calls_json(const struct sim_switch *sw);

#endif
