/* sip/sip.h - the SIP user agent of junctiond: public interface of sip/ */
#ifndef GW_SIP_H
#define GW_SIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "auth.h"

/*
 * sip/ is a user agent: transport (UDP, TCP, TLS; IPv4 and IPv6), the
 * four RFC 3261 transaction state machines of libosip2 driven from this
 * thread's loop, dialogs and INVITE sessions both ways, SDP offer/answer,
 * digest authentication, registration both ways.  It has no call
 * control: upward it offers sessions, through handlers registered by
 * the caller.  libosip2 types never leave sip/.
 */

enum sip_transport { SIP_UDP, SIP_TCP, SIP_TLS };

struct sip_listener_conf {
	enum sip_transport transport;
	const char *addr;		/* IP literal, v4 or v6 ("::1") */
	unsigned port;			/* 0: 5060 / 5061 */
	/* TLS */
	const char *cert, *key, *ca;	/* PEM files */
	bool verify;			/* verify peers' certificates */
	bool require_client_cert;	/* refuse clients without one */
	const char *ciphers;		/* GnuTLS priority string */
};

struct sip_conf {
	const char *user_agent;		/* User-Agent / Server */
	const char *domain;		/* our domain, for From and realm */
	unsigned t1_ms;			/* RFC 3261 T1, default 500 */
	unsigned session_expires_s;	/* RFC 4028; 0 off */
	unsigned min_se_s;		/* RFC 4028 Min-SE, >= 90 */
	bool prack;			/* offer/accept 100rel (RFC 3262) */
	size_t max_message;		/* bytes; default 65535 */
	unsigned tcp_idle_s;		/* close idle connections */
	/* UAC credentials for 401/407 when a call's params have none */
	const char *auth_user;
	const char *auth_password;
	/* sip_session_modify in a confirmed dialog sends UPDATE rather
	 * than re-INVITE when the peer allows it (RFC 3311 s.5.1) */
	bool modify_by_update;
};

/*
 * UAS authentication (RFC 3261 s.22.2, RFC 7616).  Requests outside a
 * dialog, except ACK, CANCEL and OPTIONS, from a source outside acl are
 * challenged with 401 and one WWW-Authenticate per algorithm in algs
 * (SHA-256 first, then MD5).  In-dialog requests are not: the dialog was
 * set up by an authenticated INVITE.  The answers:
 *   no credentials for our realm, or a nonce not ours  -> 401
 *   right digest, expired nonce                         -> 401 stale=true
 *   wrong password, unknown user, replay, bad form      -> 403
 * The 403 is the same message whether or not the user exists.
 */
struct sip_auth_conf {
	const char *realm;		/* NULL: conf.domain, else "junction" */
	sip_auth_lookup_h *lookuph;	/* user -> password or HA1 */
	void *arg;
	const char *const *acl;		/* "192.0.2.0/24", "2001:db8::/32",
					 * "198.51.100.7": no auth needed */
	size_t n_acl;
	unsigned algs;			/* SIP_AUTH_ALG_BIT()s; 0: SHA-256
					 * and MD5 */
	uint32_t nonce_ttl_ms;		/* 0: SIP_AUTH_NONCE_TTL_MS */
};

struct sip_ua;
struct sip_session;

/* A Q.850 cause and where it came from, for Reason headers (RFC 3326). */
struct sip_reason {
	int q850;			/* 0: none */
	int location;			/* -1: unknown */
};

/* Numbers and identities a gateway reads and writes (RFC 3325/3323). */
struct sip_party {
	char user[64];			/* the number or user part */
	char display[64];
	char host[128];
	bool privacy_id;		/* Privacy: id (presentation restricted) */
	bool asserted;			/* came in P-Asserted-Identity */
	/* The rest of RFC 3323 s.4.2's Privacy values: header and user
	 * hide From and headers too (an outgoing From goes anonymous,
	 * s.4.1.1.3); none asks that nothing be withheld. */
	bool privacy_header;
	bool privacy_user;
	bool privacy_none;
};

/*
 * A redirection (RFC 5806 Diversion, RFC 7044 History-Info): who the
 * call was for before it reached us, and why.  reason uses Diversion's
 * tokens ("unconditional", "user-busy", "no-answer", "unavailable",
 * "deflection", "unknown", ...); History-Info's cause (RFC 4458) is
 * mapped onto them.
 */
struct sip_redirect {
	char user[64];			/* the redirecting number; "": none */
	char host[128];
	char reason[32];
	unsigned counter;		/* diversions so far, >= 1 */
	unsigned cause;			/* SIP status of the redirection
					 * (History-Info), 0: none */
};

/* What the SDP negotiation settled (for the MG's Local/Remote). */
struct sip_media {
	char remote_addr[64];		/* IP literal */
	unsigned remote_port;
	char codec[16];			/* "PCMA" */
	unsigned pt, clock, ptime;
	int te_pt;			/* telephone-event, -1: none */
	bool hold;			/* the peer put us on hold */
	const char *sdp;		/* the remote SDP text, borrowed */
};

enum sip_session_ev {
	SIP_SESS_PROGRESS,		/* 18x received (UAC), with media if
					 * early */
	SIP_SESS_ANSWERED,		/* 2xx received (UAC) / ACK (UAS) */
	SIP_SESS_MODIFIED,		/* re-INVITE or UPDATE: new media */
	SIP_SESS_DTMF,			/* INFO application/dtmf-relay */
	SIP_SESS_TRANSFER,		/* REFER: target in .refer_to */
	SIP_SESS_CLOSED,		/* BYE, CANCEL, failure, timer */
};

struct sip_session_event {
	enum sip_session_ev type;
	unsigned status;		/* SIP status (PROGRESS, CLOSED) */
	struct sip_reason reason;	/* from a Reason header, if any */
	const struct sip_media *media;	/* NULL when the event has none */
	char digit;			/* DTMF */
	unsigned duration_ms;
	const char *refer_to;		/* TRANSFER: URI */
	/* TRANSFER: the Replaces header embedded in Refer-To (RFC 3891
	 * s.7.1: an attended transfer), unescaped, or NULL */
	const char *replaces;
};

typedef void (sip_session_h)(struct sip_session *sess,
			     const struct sip_session_event *ev, void *arg);

/* An incoming INVITE: the handler answers with sip_session_progress /
 * _answer / _reject, now or later, and sets its event handler. */
struct sip_incoming {
	const char *request_uri_user;	/* the called number */
	const char *request_uri;
	struct sip_party from;		/* From, or P-Asserted-Identity */
	struct sip_party to;
	const char *diversion;		/* Diversion / History-Info, raw */
	const char *call_id;
	const char *source;		/* "udp:192.0.2.1:5060" */
	const struct sip_media *offer;	/* NULL: no SDP offer (late offer) */
	/* RFC 3325 s.9.1: P-Asserted-Identity (the first sip:/sips:/tel:
	 * one); pai.asserted false and pai.user "" when none came.  The
	 * Privacy flags are in from and in pai alike. */
	struct sip_party pai;
	/* Diversion (the newest, topmost entry), else History-Info. */
	struct sip_redirect redirect;
	/* RFC 3891: the session this INVITE replaces (its Replaces header
	 * matched it), borrowed; NULL for a new call.  A Replaces that
	 * matches nothing was answered 481 before the TU heard of it. */
	struct sip_session *replaces;
};
typedef void (sip_incoming_h)(struct sip_session *sess,
			      const struct sip_incoming *in, void *arg);

int  sip_ua_alloc(struct sip_ua **uap, const struct sip_conf *conf,
		  sip_incoming_h *inh, void *arg);
int  sip_ua_listen(struct sip_ua *ua, const struct sip_listener_conf *lc);
json_t *sip_ua_json(const struct sip_ua *ua);	/* `junctionctl sip` */
/* The port ua listens on over tp (0: no such listener). */
unsigned sip_ua_port(const struct sip_ua *ua, enum sip_transport tp,
		     bool ipv6);
/* Require digest authentication as a UAS (NULL: stop requiring it);
 * strings and acl are copied. */
int  sip_ua_set_auth(struct sip_ua *ua, const struct sip_auth_conf *ac);

/* UAS side. */
void sip_session_set_handler(struct sip_session *sess, sip_session_h *h,
			     void *arg);
/* 18x: with sdp (a local SDP answer, text) for early media, or NULL. */
int  sip_session_progress(struct sip_session *sess, unsigned status,
			  const char *sdp);
int  sip_session_answer(struct sip_session *sess, const char *sdp);
int  sip_session_reject(struct sip_session *sess, unsigned status,
			const struct sip_reason *reason,
			unsigned retry_after_s);

/* UAC side: INVITE uri (sip:/sips:, or a registered user's contact). */
struct sip_call_params {
	const char *uri;
	struct sip_party from;		/* its privacy_* make the Privacy
					 * header (RFC 3323) */
	const char *sdp;		/* our offer */
	const char *diversion;		/* a raw Diversion value, or NULL */
	/* Digest credentials for a 401/407 (NULL: conf.auth_user's);
	 * each request is retried once with them. */
	const char *auth_user;
	const char *auth_password;
	/* P-Asserted-Identity (RFC 3325 s.9.1) when pai.user is set:
	 * "display" <sip:user@host>, host "" meaning our domain. */
	struct sip_party pai;
	/* A Diversion header (RFC 5806) built from redirect when
	 * redirect.user is set and diversion is NULL. */
	struct sip_redirect redirect;
	/* RFC 3891: a Replaces header (with Require: replaces), e.g. the
	 * one a REFER's Refer-To carried; NULL: none */
	const char *replaces;
};
int  sip_session_connect(struct sip_session **sessp, struct sip_ua *ua,
			 const struct sip_call_params *p, sip_session_h *h,
			 void *arg);

/* Both sides. */
int  sip_session_hangup(struct sip_session *sess, unsigned status,
			const struct sip_reason *reason);
/* A new offer: re-INVITE in a confirmed dialog, UPDATE (RFC 3311) in
 * an early one, and in a confirmed one with conf.modify_by_update when
 * the peer allows UPDATE.  EBUSY while an offer is pending. */
int  sip_session_modify(struct sip_session *sess, const char *sdp);
/* A new offer in an UPDATE (RFC 3311), early or confirmed dialog;
 * ENOTSUP when the peer did not list UPDATE in Allow, EINVAL when
 * there is no dialog yet or an earlier offer/answer is unfinished.
 * The answer comes as SIP_SESS_MODIFIED. */
int  sip_session_update(struct sip_session *sess, const char *sdp);
const char *sip_session_call_id(const struct sip_session *sess);
/* The Replaces value (RFC 3891 s.6.1) that names this dialog at the
 * peer, as a transferor writes it into Refer-To: Call-ID, to-tag the
 * peer's tag, from-tag ours.  ENOENT before the dialog has both tags. */
int  sip_session_replaces_id(const struct sip_session *sess, char *buf,
			     size_t size);
/* After SIP_SESS_TRANSFER: NOTIFY the transfer's progress (sipfrag of
 * status, RFC 3515); a final status ends the subscription. */
int  sip_session_refer_notify(struct sip_session *sess, unsigned status);

/* ------------------------------------------------------------------ */
/* Registration (RFC 3261 s.10)                                       */
/* ------------------------------------------------------------------ */

/*
 * Registrar and location service (registrar.c).  REGISTER is served
 * once sip_registrar_open ran (405 before, and after close).  The users
 * are the ones sip_ua_set_auth's lookup knows: a REGISTER is
 * authenticated as any request (401, then 403 for a wrong password or
 * an unknown user alike); the authenticated user may only change the
 * bindings of its own AOR (403 otherwise, s.10.3 step 4); a source in
 * the auth ACL needs no credentials, but its AOR must still be a known
 * user (404, s.10.3 step 5).  Bindings are kept in SQLite at db_path,
 * so a restart loses none.
 */
struct sip_registrar_conf {
	const char *db_path;		/* SQLite file (WAL); NULL: memory */
	const char *domain;		/* AOR host served; NULL: any */
	unsigned min_expires_s;		/* 423 below this; 0: 60 */
	unsigned max_expires_s;		/* longer is shortened; 0: 7200 */
	unsigned default_expires_s;	/* no expires given; 0: 3600 */
	unsigned max_contacts;		/* per AOR; 0: 10 */
	unsigned purge_interval_s;	/* drop expired bindings; 0: 60 */
};

/* One binding of an AOR, as sip_registrar_lookup returns it. */
struct sip_contact {
	char uri[256];			/* the Contact URI */
	unsigned q;			/* q-value x 1000 (1000: q=1.0) */
	int64_t expires;		/* wall clock, s since the epoch */
	char source[80];		/* "udp:192.0.2.1:5060" */
};

int  sip_registrar_open(struct sip_ua *ua,
			const struct sip_registrar_conf *rc);
void sip_registrar_close(struct sip_ua *ua);
/* The live contacts of user, best q first (newest first among equal
 * q): *listp a gw_mem array of *np; ENOENT when there is none. */
int  sip_registrar_lookup(struct sip_ua *ua, const char *user,
			  struct sip_contact **listp, size_t *np);
json_t *sip_registrar_json(const struct sip_ua *ua);

/*
 * Registration client (reg.c): keep a binding at a provider's
 * registrar, refreshed before it expires, re-tried with a capped
 * exponential back-off when it fails; sip_reg_remove un-REGISTERs.
 */
enum sip_reg_state {
	SIP_REG_REGISTERING,		/* REGISTER sent, no final yet */
	SIP_REG_REGISTERED,		/* until info.expires */
	SIP_REG_FAILED,			/* last_status; retry at retry_at */
	SIP_REG_UNREGISTERING,		/* Expires: 0 sent */
	SIP_REG_STOPPED,		/* the last event; reg goes away */
};

struct sip_reg_conf {
	const char *name;		/* logs and JSON; NULL: the AOR */
	const char *registrar;		/* Request-URI, IP literal host:
					 * "sip:192.0.2.1:5060" */
	const char *aor;		/* To and From: "sip:alice@example.com" */
	const char *contact;		/* NULL: sip:USER@our listener */
	const char *auth_user;		/* NULL: the AOR's user */
	const char *auth_password;	/* NULL: no challenge is answered */
	unsigned expires_s;		/* asked for; 0: 3600 */
	unsigned retry_min_s;		/* first back-off; 0: 30 */
	unsigned retry_max_s;		/* back-off cap; 0: 1800 */
};

struct sip_reg_info {
	enum sip_reg_state state;
	unsigned last_status;		/* last final response (408, 503:
					 * no answer, transport error) */
	int64_t expires;		/* wall clock s: end of the binding */
	int64_t retry_at;		/* wall clock s: FAILED's next try */
};

struct sip_reg;
typedef void (sip_reg_h)(struct sip_reg *reg, const struct sip_reg_info *info,
			 void *arg);

/* Start registering; *regp is borrowed, valid until SIP_REG_STOPPED. */
int  sip_reg_add(struct sip_reg **regp, struct sip_ua *ua,
		 const struct sip_reg_conf *rc, sip_reg_h *h, void *arg);
/* Un-REGISTER (Expires: 0) and drop reg; the handler gets STOPPED. */
int  sip_reg_remove(struct sip_reg *reg);
void sip_reg_get_info(const struct sip_reg *reg, struct sip_reg_info *info);
const char *sip_reg_state_name(enum sip_reg_state state);
json_t *sip_reg_json(const struct sip_ua *ua);

/* ------------------------------------------------------------------ */
/* Peers kept alive with OPTIONS (peer.c), RFC 3261 s.11              */
/* ------------------------------------------------------------------ */

/*
 * A peer (a trunk's far end) is asked OPTIONS every interval_s.  Any
 * final response proves it alive (s.11.2: a UAS answers OPTIONS as it
 * would an INVITE, so 404 or 486 still says "reachable"), except 503,
 * which says it takes no traffic now (s.21.5.4), and 408.  No answer
 * (Timer F), a transport error or an answer still missing when the
 * next probe is due count as failures; max_failures of them in a row
 * mark it down, one good answer marks it up again.  A host name is
 * resolved by RFC 3263 (dns.c) for every probe.
 */
enum sip_peer_state {
	SIP_PEER_UNKNOWN,		/* no verdict yet */
	SIP_PEER_UP,
	SIP_PEER_DOWN,
};

struct sip_peer_conf {
	const char *name;		/* routing name; unique per UA */
	const char *host;		/* IP literal or DNS name */
	unsigned port;			/* 0: from DNS, or 5060 / 5061 */
	enum sip_transport transport;
	unsigned interval_s;		/* 0: 30 */
	unsigned max_failures;		/* 0: 3 */
};

struct sip_peer_info {
	const char *name;
	enum sip_peer_state state;
	unsigned last_status;		/* of the last probe; 408: none */
	unsigned failures;		/* in a row */
	unsigned rtt_ms;		/* of the last answered probe */
};

struct sip_peer;
typedef void (sip_peer_h)(struct sip_peer *peer,
			  const struct sip_peer_info *info, void *arg);

/* Start probing (the first OPTIONS goes at once); h gets each change
 * of state.  EEXIST for a name in use.  *peerp (optional) is borrowed,
 * valid until sip_peer_remove or the UA goes. */
int  sip_peer_add(struct sip_peer **peerp, struct sip_ua *ua,
		  const struct sip_peer_conf *pc, sip_peer_h *h, void *arg);
int  sip_peer_remove(struct sip_ua *ua, const char *name);
/* True when the peer answered its last probes (state UP). */
bool sip_peer_up(const struct sip_ua *ua, const char *name);
enum sip_peer_state sip_peer_state(const struct sip_ua *ua,
				   const char *name);
const char *sip_peer_state_name(enum sip_peer_state state);
json_t *sip_peer_json(const struct sip_ua *ua);

/* ------------------------------------------------------------------ */
/* DNS (dns.c): locating SIP servers, RFC 3263                        */
/* ------------------------------------------------------------------ */

/*
 * A request to a URI with a host name goes to the targets RFC 3263
 * finds for it (NAPTR, SRV, A/AAAA), one after another: a 503, a
 * transport error or a timeout without any response moves it to the
 * next (s.4.3).  When nothing resolves, the request's handler sees 404
 * (no such name or record) or 503 (the nameservers failed or did not
 * answer).  The resolver is the UA's; without sip_dns_set_conf it
 * reads /etc/resolv.conf.
 */
struct sip_dns_conf {
	const char *servers;		/* "192.0.2.53,[2001:db8::53]:5353";
					 * NULL: /etc/resolv.conf */
	unsigned timeout_ms;		/* per try; 0: 1000 */
	unsigned tries;			/* per nameserver; 0: 2 */
	unsigned max_ttl_s;		/* answers kept at most; 0: 3600 */
	unsigned neg_ttl_s;		/* "no such record" kept at most
					 * (RFC 2308); 0: 30 */
	bool prefer_ipv6;		/* AAAA before A for each server */
};

#define SIP_DNS_MAX_TARGETS 16

struct sip_dns_target {
	enum sip_transport transport;
	char addr[46];			/* IP literal, v6 without brackets */
	unsigned port;
};

struct sip_dns_query;

/* err 0 with targets in the order to try them; else ENOENT, ETIMEDOUT,
 * EIO or ENOMEM and no targets. */
typedef void (sip_dns_h)(int err, const struct sip_dns_target *targets,
			 size_t n, void *arg);

int  sip_dns_set_conf(struct sip_ua *ua, const struct sip_dns_conf *dc);
int  sip_dns_resolve(struct sip_dns_query **qp, struct sip_ua *ua,
		     const char *uri, sip_dns_h *h, void *arg);
struct sip_dns_query *sip_dns_cancel(struct sip_dns_query *q);
json_t *sip_dns_json(const struct sip_ua *ua);

#endif
