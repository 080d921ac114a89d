/* gateway/gw.h - what junctiond and junction-mg share: config schema, daemon skeleton */
#ifndef GW_GW_H
#define GW_GW_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.h"

/* ---- Configuration (gateway/conf.c) ---------------------------------- */

/* [general]: both daemons. */
struct gw_general_conf {
	char *rundir;		/* runtime files; relative paths resolve here */
	char *log_level;	/* "info,sip=debug" */
};

/* [junctiond]: the call agent. */
struct gw_junctiond_conf {
	char *socket;		/* status socket */
	long long stop_timeout_ms;	/* how long a child gets to stop */
};

/* [mg]: the media gateway, and how junctiond supervises a local one. */
struct gw_mg_conf {
	bool local;		/* junctiond starts and supervises it */
	char *program;		/* "" = junction-mg beside junctiond */
	char *socket;		/* junction-mg's status socket */
	long long restart_min_ms;	/* first back-off after a crash */
	long long restart_max_ms;	/* back-off ceiling */
	long long start_timeout_ms;	/* not answering by then: restart */
	long long stable_ms;	/* up this long: the back-off resets */
	long long workers;	/* media worker threads; 0 = one per core */
	bool io_uring;		/* workers batch their socket I/O */
	/* H.248 between junctiond and the local virtual MG */
	char *address;		/* IP literal of junction-mg's H.248 and RTP */
	long long megaco_port;	/* the local virtual MG */
	long long mgc_port;	/* junctiond as its MGC */
	int version;		/* 1..3: offered at registration */
	int encoding;		/* 0 pretty, 1 compact */
	int transport;		/* 0 udp, 1 tcp */
	long long max_wait_ms;	/* random wait before registering */
	long long graceful_s;	/* Graceful delay at shutdown; 0: Forced */
	long long request_timeout_ms;	/* T-MAX: an MGC silent this long
					 * has failed (H.248.1 D.1.5) */
	/* media */
	char *rtp_address;	/* "" = address */
	long long rtp_port_min, rtp_port_max;
	char *tones;		/* call-progress tones: itu, us, uk */
	long long ec_tail_ms;
	bool echo_cancel;	/* tdmc/ec's default */
	long long rtp_timeout_ms;
};

/* [sip]: junctiond's SIP user agent. */
struct gw_sip_conf {
	char *listen;		/* "udp:127.0.0.1:5060, tcp:[::1]:5060, tls:..." */
	char *domain;
	char *user_agent;
	long long session_expires_s;	/* RFC 4028; 0: off */
	bool prack;		/* offer and accept 100rel (RFC 3262) */
	char *tls_cert, *tls_key, *tls_ca;
	bool tls_verify;
	bool tls_require_client_cert;
	bool auth;		/* digest-authenticate requests from outside
				 * trusted, against the [user] sections */
	char *trusted;		/* "127.0.0.0/8 192.0.2.0/24": no auth */
	bool registrar;		/* accept REGISTER from [user]s */
	char *location;		/* the registrar's SQLite file */
};

/* [register NAME]: a binding junctiond keeps at a provider's
 * registrar (RFC 3261 s.10). */
struct gw_register_conf {
	char *registrar;	/* "sip:192.0.2.1:5060" */
	char *aor;		/* "sip:4930123456@provider.example" */
	char *user, *password;	/* digest credentials */
	long long expires_s;
};

const struct gw_register_conf *gw_conf_register(const struct gw_conf *conf,
						size_t idx,
						const char **namep);

/* [user NAME]: a SIP user (registrar, digest authentication). */
struct gw_user_conf {
	char *password;
};

/* [calls]: call control in junctiond. */
struct gw_calls_conf {
	char *causes;		/* Q.850 <-> SIP table (CSV); "" built-in
				 * path; relative: beside the config file */
	char *cause_map;	/* overrides: "q850:17=486 sip:503=34" */
	long long setup_timeout_ms;	/* no answer from the MG in time */
	long long max_calls;
	char *hold;		/* the SIP side holds: "pass", "silence" or a
				 * signal the MG plays to the line ("cg/cw") */
	bool local_ringback;	/* PSTN alerting without in-band
				 * information: 183 and the MG's ringback
				 * toward the SIP caller, not 180 */
	long long drain_s;	/* at shutdown, calls may end on their own
				 * for this long; 0: cleared at once */
};

const struct gw_sip_conf *gw_conf_sip(const struct gw_conf *conf);
const struct gw_calls_conf *gw_conf_calls(const struct gw_conf *conf);
const struct gw_user_conf *gw_conf_user(const struct gw_conf *conf,
					size_t idx, const char **namep);

/* [mgc NAME]: an external softswitch controlling the spans that name it
 * (control = mgc:NAME) through a virtual MG of their own. */
struct gw_mgc_conf {
	char *address;		/* "ip:port[, ip:port ...]": primary first */
	long long mg_port;	/* the virtual MG's own H.248 port */
	long long request_timeout_ms;
	int version;		/* 1..3 */
	int encoding;
	int transport;
};

/* [span N]: one E1/T1 trunk; both daemons read it (junctiond its
 * D-channel and PRI, junction-mg its bearer). */
enum gw_span_driver { GW_DRIVER_VSPAN, GW_DRIVER_DAHDI };
enum gw_span_signalling { GW_SIG_PRI_CPE, GW_SIG_PRI_NET };

struct gw_span_conf {
	int type;		/* enum tdm_span_type: e1, t1 */
	int driver;		/* enum gw_span_driver */
	int signalling;		/* enum gw_span_signalling */
	int switchtype;		/* enum tdm_pri_switch, in its order */
	char *framing;		/* "" = the type's usual: ccs / esf */
	char *linecode;		/* "" = hdb3 / b8zs */
	bool crc4;
	long long clock;
	bool exclusive;
	bool overlap;
	char *dchan;		/* vspan socket; "" = spanN.dchan */
	char *bearer;		/* vspan socket; "" = spanN.bearer */
	char *dahdi_dir;
	long long dahdi_span;
	long long dahdi_base;
	char *control;		/* "local" or "mgc:NAME" */
};

extern const struct gw_conf_section gw_conf_schema[];
extern const char *const gw_span_signalling_names[];

int  gw_conf_read(struct gw_conf **confp, const char *path, char *err,
		  size_t errlen);
const struct gw_general_conf *gw_conf_general(const struct gw_conf *conf);
const struct gw_junctiond_conf *gw_conf_junctiond(const struct gw_conf *conf);
const struct gw_mg_conf *gw_conf_mg(const struct gw_conf *conf);
/* The idx-th [span N] (idx from 0), its id in *idp; NULL past the end. */
const struct gw_span_conf *gw_conf_span(const struct gw_conf *conf,
					size_t idx, unsigned *idp);
/* The idx-th [mgc NAME], its name in *namep; NULL past the end. */
const struct gw_mgc_conf *gw_conf_mgc(const struct gw_conf *conf, size_t idx,
				      const char **namep);
/* The next item of a span list ("1-15,17,20"): a span N or a range N-M
 * of spans 1..255, into *first and *last, *sp moved past it and its
 * comma.  1: an item; 0: the end of the list; -1: *sp is not at one. */
int  gw_span_range(const char **sp, unsigned *first, unsigned *last);
/* "ip:port, ip:port" into up to max addresses: count, or -1. */
int  gw_conf_addr_list(const char *s, char ip[][64], uint16_t *port,
		       int max);
/* A span's hw/ config from its section (paths borrowed from the caller,
 * already resolved). */
struct tdm_span_conf;
void gw_span_conf_fill(struct tdm_span_conf *c, const struct gw_span_conf *sc,
		       unsigned id, const char *dchan, const char *bearer);
/* path resolved against [general] rundir, as a gw_mem string. */
char *gw_conf_runpath(const struct gw_conf *conf, const char *path);

/* ---- The daemon skeleton (gateway/daemon.c) -------------------------- */

struct gw_daemon;

/*
 * A subsystem of a daemon.  They start in table order and stop in
 * reverse, so each can rely on the ones before it.  start gets the
 * config it is to run with; reload gets a new one that passed every
 * check of the schema, whose non-reloadable keys already carry their
 * running values: it applies the rest and cannot fail.
 */
struct gw_subsys {
	const char *name;
	int  (*start)(struct gw_daemon *d, const struct gw_conf *conf);
	void (*stop)(struct gw_daemon *d);
	/* Graceful shutdown, before any subsystem stops (top-down): may run
	 * the loop while the others still work; a second stop signal ends
	 * it. */
	void (*drain)(struct gw_daemon *d);
	void (*reload)(struct gw_daemon *d, const struct gw_conf *conf);
	void (*status)(struct gw_daemon *d, json_t *obj);	/* adds fields */
	void (*signal)(struct gw_daemon *d, int sig);	/* SIGCHLD, ... */
};

struct gw_daemon_desc {
	const char *prog;		/* "junctiond" */
	const char *summary;		/* one line for -h */
	const struct gw_subsys *const *subsys;
	size_t nsubsys;
	/* The status socket path from the config. */
	const char *(*socket_path)(const struct gw_conf *conf);
};

int  gw_daemon_main(int argc, char **argv, const struct gw_daemon_desc *desc);
const struct gw_conf *gw_daemon_conf(const struct gw_daemon *d);
struct gw_ctl *gw_daemon_ctl(const struct gw_daemon *d);
bool gw_daemon_foreground(const struct gw_daemon *d);
bool gw_daemon_stopping(const struct gw_daemon *d);
const char *gw_daemon_conf_path(const struct gw_daemon *d);
/* Wait up to ms for the process to exit; a second SIGTERM or SIGINT
 * during the wait kills it at once.  Returns true once it is reaped. */
bool gw_daemon_wait_child(struct gw_daemon *d, pid_t pid, uint64_t ms,
			  int *statusp);

/* Subsystem: the status socket and its standard commands. */
extern const struct gw_subsys gw_ctl_subsys;

/* ---- junctiond: supervision of the local MG (gateway/mgsup.c) -------- */

extern const struct gw_subsys gw_mgsup_subsys;

/* ---- junctiond: D-channels and PRI of each span (gateway/trunk.c) --- */

extern const struct gw_subsys gw_trunk_subsys;
bool gw_trunk_dchan_up(unsigned span);

struct tdm_pri;
struct tdm_pri_call;
struct tdm_pri_event;
struct tdm_pri *gw_trunk_pri(unsigned span);
bool gw_trunk_busy(unsigned span, unsigned ts);
void gw_trunk_claim(unsigned span, unsigned ts, struct tdm_pri_call *call);
void gw_trunk_release(unsigned span, unsigned ts);

/* ---- junctiond: H.248 toward the local MG (gateway/mgc.c) ----------- */

extern const struct gw_subsys gw_mgc_subsys;
struct mg_client;
struct mg_client *gw_mgc(void);		/* NULL unless the MG is up */
void gw_mgc_lost(void);			/* its process died */

/* ---- junctiond: the SIP user agent (gateway/sipgw.c) ----------------- */

extern const struct gw_subsys gw_sip_subsys;
struct sip_ua;
struct sip_ua *gw_sip_ua(void);
bool gw_sip_trunk_down(const char *trunk);	/* OPTIONS unanswered */

/* ---- junctiond: call control (gateway/call.c) ------------------------ */

extern const struct gw_subsys gw_calls_subsys;
struct sip_session;
struct sip_incoming;
struct mg_cmd;
void gw_call_sip_incoming(struct sip_session *sess,
			  const struct sip_incoming *in);
void gw_call_pri_event(unsigned span, struct tdm_pri *pri,
		       const struct tdm_pri_event *ev);
bool gw_call_yield(unsigned span, unsigned ts);
bool gw_call_clearing(unsigned span, unsigned ts);
void gw_call_mg_state(bool up);
void gw_call_mg_service(const struct mg_cmd *sc);
void gw_call_mg_notify(uint32_t ctx, const struct mg_cmd *notify);

/* ---- junction-mg: the bearer of each span (gateway/bearer.c) -------- */

extern const struct gw_subsys gw_bearer_subsys;
struct media_workers;
struct media_worker;
struct tdm_span;
struct media_workers *gw_bearer_workers(void);
bool gw_bearer_span(size_t idx, unsigned *idp, struct media_worker **wkp,
		    struct tdm_span **spanp);
bool gw_bearer_span_up(unsigned id);

/* ---- junction-mg: the H.248 MG (gateway/mgw.c) ----------------------- */

extern const struct gw_subsys gw_mgw_subsys;
/* Main thread: a span's bearer went up or down. */
void gw_mgw_span_state(unsigned id, bool up);

#endif
