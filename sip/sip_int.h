/* sip/sip_int.h - what the files of sip/ share; never included outside */
#ifndef GW_SIP_INT_H
#define GW_SIP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

/* libosip2's headers want the time headers first (notes/libraries.md). */
#include <osip2/osip.h>

#include "core.h"
#include "sip.h"

#define SIP_MAX_MESSAGE_DEF	65535
#define SIP_TCP_IDLE_DEF	300	/* s: close an unused connection */
#define SIP_FRAME_TIMEOUT_MS	32000	/* a stream message must complete */
#define SIP_MAX_REDIRECTS	3	/* 3xx followed per call (UAC) */
#define SIP_ALLOW	"INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, " \
			"REFER, NOTIFY"
#define SIP_SUPPORTED	"timer, replaces"
#define SIP_SUPPORTED_REL	"100rel, timer, replaces"	/* conf.prack */
#define SIP_ACCEPT	"application/sdp"

/* ------------------------------------------------------------------ */
/* Addresses and transport (transport.c)                              */
/* ------------------------------------------------------------------ */

struct sip_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

struct sip_conn;

/* One bound socket: a UDP socket or a listening TCP socket. */
struct sip_lsnr {
	struct sip_lsnr *next;
	struct sip_ua *ua;		/* borrowed */
	enum sip_transport tp;
	int fd;
	struct sip_addr local;
	char host[64];			/* IP literal, v6 without brackets */
	unsigned port;
	/* TLS (GnuTLS types, kept as pointers: gnutls.h stays in
	 * transport.c) */
	struct gnutls_certificate_credentials_st *cred;
	struct gnutls_priority_st *prio;
	bool verify;
	bool require_client_cert;
};

/* Where a received message came from; what a response goes back on. */
struct sip_src {
	enum sip_transport tp;
	struct sip_addr peer;
	struct sip_lsnr *lsnr;		/* borrowed */
	struct sip_conn *conn;		/* borrowed; NULL for UDP */
};

const char *sip_transport_name(enum sip_transport tp);
const char *sip_transport_param(enum sip_transport tp);
bool sip_transport_reliable(enum sip_transport tp);
int  sip_addr_set(struct sip_addr *a, const char *ip, unsigned port);
int  sip_addr_ip(const struct sip_addr *a, char *buf, size_t size);
unsigned sip_addr_port(const struct sip_addr *a);
bool sip_addr_eq(const struct sip_addr *a, const struct sip_addr *b);
int  sip_addr_print(const struct sip_addr *a, char *buf, size_t size);

/* RFC 3261 s.18.3 framing: 0 with *lenp the message's length, EAGAIN
 * for more data (streams), EBADMSG for a Content-Length that cannot be
 * framed, EMSGSIZE beyond max. */
int  sip_frame(const char *buf, size_t len, bool stream, size_t max,
	       size_t *lenp, size_t *hdrlenp);

/* A datagram as a UDP listener hands it on (buf[n] is written: size
 * must exceed n): framing, stateless 400s, then sip_tsx_recv.  The
 * fuzz harness calls it without a socket. */
void sip_transport_recv_dgram(struct sip_ua *ua, const struct sip_src *src,
			      char *buf, size_t n);

int  sip_transport_listen(struct sip_ua *ua,
			  const struct sip_listener_conf *lc);
void sip_transport_close(struct sip_ua *ua);
/* Send buf to dst over tp; conn (may be NULL) is the connection to use
 * when it is still open. */
int  sip_transport_send(struct sip_ua *ua, enum sip_transport tp,
			const struct sip_addr *dst, struct sip_conn *conn,
			const char *buf, size_t len);
/* The listener a request to dst over tp would leave from (our Via and
 * Contact), or NULL. */
struct sip_lsnr *sip_transport_lsnr(struct sip_ua *ua,
				    enum sip_transport tp, int family);
struct sip_conn *sip_conn_ref(struct sip_conn *conn);
/* The open connection a message to dst over tp would go out on
 * (borrowed), or NULL. */
struct sip_conn *sip_transport_conn(struct sip_ua *ua, enum sip_transport tp,
				    const struct sip_addr *dst);
json_t *sip_transport_json(const struct sip_ua *ua);

/* ------------------------------------------------------------------ */
/* Transactions (tsx.c)                                               */
/* ------------------------------------------------------------------ */

struct sip_tsx;

/* A final or provisional response for a client transaction; msg NULL
 * with status 408 (timeout) or 503 (transport error). */
typedef void (sip_tsx_resp_h)(struct sip_tsx *tsx, int status,
			      osip_message_t *msg, void *arg);

struct sip_tsx {
	struct sip_tsx *next;		/* its bucket of ua->tsx_tab */
	struct sip_tsx *run_next;	/* ua->runq (referenced) */
	struct sip_tsx *dead_next;	/* ua->deadq */
	uint32_t hash;			/* of its Call-ID: its bucket */
	struct gw_tmr tmr;		/* its next s.17 timer (tsx.c) */
	struct sip_ua *ua;		/* borrowed */
	osip_transaction_t *tr;		/* NULL once freed */
	osip_fsm_type_t type;
	enum sip_transport tp;
	struct sip_addr dst;		/* client: next hop; server: source */
	struct sip_conn *conn;		/* referenced; may be NULL */
	char *totag;			/* server: our To tag for responses */
	sip_tsx_resp_h *resph;		/* client */
	void *arg;
	void *owned;			/* a gw_mem reference, dropped with
					 * the transaction (client) */
	struct sip_tsx_fo *fo;		/* a request to a name (tsx.c) */
	struct sip_tsx_done *done;	/* completed over UDP: what is
					 * left of it (tsx.c) */
	bool killed;
	bool final_sent;		/* server */
	bool run_queued, dead_queued;
};

/* Called for every new request outside an existing transaction (tsx is
 * the new server transaction; NULL for ACK). */
int  sip_tsx_init(struct sip_ua *ua);
void sip_tsx_close(struct sip_ua *ua);
void sip_tsx_recv(struct sip_ua *ua, const struct sip_src *src,
		  const char *buf, size_t len);
/* A message that cannot be framed or parsed: answer status statelessly
 * from its raw header lines when they allow it, else drop it. */
void sip_tsx_recv_bad(struct sip_ua *ua, const struct sip_src *src,
		      const char *buf, size_t len, unsigned status);
/* Drive libosip2: execute the events given to transactions, deliver
 * what they report, free those that ended, arm their timers. */
void sip_tsx_run(struct sip_ua *ua);
/* conn, which we opened, failed before the peer said anything (connect
 * refused, TLS handshake failed, closed): fail the client transactions
 * whose request went out on it (a transport error, 503 to the owner). */
void sip_tsx_conn_failed(struct sip_ua *ua, struct sip_conn *conn);
/* Client: send req (consumed, even on error) to dst over tp. */
int  sip_tsx_request(struct sip_tsx **tsxp, struct sip_ua *ua,
		     osip_message_t *req, enum sip_transport tp,
		     const struct sip_addr *dst, sip_tsx_resp_h *resph,
		     void *arg);
/* Server: respond (resp consumed, even on error). */
int  sip_tsx_respond_msg(struct sip_tsx *tsx, osip_message_t *resp);
int  sip_tsx_respond(struct sip_tsx *tsx, const osip_message_t *req,
		     unsigned status);
/* Detach a handler from a client transaction (its owner goes away). */
void sip_tsx_detach(struct sip_tsx *tsx);
/* Send a message outside any transaction (ACK to 2xx, 2xx resends). */
int  sip_send_raw(struct sip_ua *ua, osip_message_t *msg,
		  enum sip_transport tp, const struct sip_addr *dst,
		  struct sip_conn *conn);

/* ------------------------------------------------------------------ */
/* Messages (tsx.c)                                                   */
/* ------------------------------------------------------------------ */

int  sip_msg_response(osip_message_t **respp, const osip_message_t *req,
		      unsigned status, const char *totag);
const char *sip_reason_phrase(unsigned status);
const char *sip_supported(const struct sip_ua *ua);
const char *sip_tag(const osip_from_t *f);
void sip_set_tag(osip_from_t *f, const char *tag);
const char *sip_via_param(const osip_via_t *via, const char *name);
const char *sip_uri_param(const osip_uri_t *uri, const char *name);
void sip_rand_token(char *buf, size_t size);
const char *sip_msg_header(const osip_message_t *m, const char *lname);
int  sip_msg_body(const osip_message_t *m, const char **bodyp,
		  size_t *lenp);
int  sip_msg_set_body(osip_message_t *m, const char *type,
		      const char *body);
void sip_msg_add_reason(osip_message_t *m, const struct sip_reason *r);
void sip_msg_get_reason(const osip_message_t *m, struct sip_reason *r);
bool sip_msg_has_option(const osip_message_t *m, const char *lname,
			const char *opt);
int  sip_uri_dst(const osip_uri_t *uri, enum sip_transport *tpp,
		 struct sip_addr *dst);
bool sip_uri_is_sips(const osip_uri_t *uri);

/* ------------------------------------------------------------------ */
/* Dialogs (dialog.c), RFC 3261 s.12                                  */
/* ------------------------------------------------------------------ */

struct sip_dialog {
	char *call_id;
	char *local_tag;
	char *remote_tag;		/* NULL until known (UAC early) */
	char *local_uri;		/* From/To header values, tags aside */
	char *remote_uri;
	char *remote_target;		/* Contact URI */
	char **route;			/* route set, in the order used */
	size_t n_route;
	uint32_t local_cseq;
	uint32_t remote_cseq;
	bool remote_cseq_set;
	bool uac;			/* we sent the initial INVITE */
	bool secure;			/* TLS to a SIPS URI (s.12.1) */
	bool confirmed;
	enum sip_transport tp;
	struct sip_addr dst;		/* where in-dialog requests go */
};

int  sip_dialog_alloc_uas(struct sip_dialog **dlgp, struct sip_ua *ua,
			  const osip_message_t *req, const char *local_tag,
			  const struct sip_src *src);
int  sip_dialog_alloc_uac(struct sip_dialog **dlgp,
			  const osip_message_t *req,
			  const osip_message_t *resp,
			  enum sip_transport tp,
			  const struct sip_addr *dst);
bool sip_dialog_match(const struct sip_dialog *dlg, const osip_message_t *m);
/* Check a request's CSeq against the remote sequence (s.12.2.2): false
 * means answer 500. */
bool sip_dialog_rx_cseq(struct sip_dialog *dlg, const osip_message_t *req);
void sip_dialog_update_target(struct sip_dialog *dlg,
			      const osip_message_t *m);
int  sip_dialog_request(osip_message_t **reqp, struct sip_dialog *dlg,
			struct sip_ua *ua, const char *method);

/* ------------------------------------------------------------------ */
/* User agent (ua.c) and sessions (session.c)                         */
/* ------------------------------------------------------------------ */

/* A source prefix that needs no authentication (ua.c). */
struct sip_acl {
	int family;			/* AF_INET, AF_INET6 */
	uint8_t addr[16];
	unsigned bits;
};

struct sip_ua {
	struct sip_conf conf;		/* strings copied (below) */
	char *user_agent;
	char *domain;
	char *auth_user;		/* UAC credentials (conf) */
	char *auth_password;
	/* UAS authentication (sip_ua_set_auth); NULL: none */
	struct sip_auth_server *auth_srv;
	sip_auth_lookup_h *auth_lookuph;
	void *auth_arg;
	struct sip_acl *acl;
	size_t n_acl;
	osip_t *osip;
	struct gw_tmr tmr;		/* what 32 rounds left (tsx.c) */
	struct sip_lsnr *lsnrs;
	struct sip_conn *conns;
	/* Every live transaction, in buckets by Call-ID (tsx.c); the
	 * transactions with events to run, server ones first; those
	 * that may have ended. */
	struct sip_tsx **tsx_tab;
	size_t tsx_buckets, n_tsx;
	struct sip_tsx *runq[2], *runq_tail[2];
	struct sip_tsx *deadq;
	struct sip_session *sessions;
	struct sip_dns *dns;		/* RFC 3263 resolver (dns.c) */
	struct sip_registrar *registrar;	/* NULL: REGISTER gets 405 */
	struct sip_reg *regs;		/* our registrations (reg.c) */
	struct sip_peer *peers;		/* OPTIONS keepalives (peer.c) */
	/* INVITEs we answered with a 2xx, kept for Timer L (RFC 6026
	 * s.8.7): a hash of singly linked lists (tsx.c) */
	struct sip_accepted **accepted;
	struct sip_tsx_ev *evq, *evq_tail;	/* deferred osip callbacks */
	sip_incoming_h *inh;
	void *arg;
	unsigned frame_timeout_ms;	/* SIP_FRAME_TIMEOUT_MS; tests lower
					 * it */
	unsigned st_unit_ms;		/* ms per RFC 4028 second: 1000;
					 * tests shorten it */
	unsigned peer_unit_ms;		/* ms per keepalive interval
					 * second: 1000; tests shorten it */
	bool running;			/* in sip_tsx_run */
	unsigned in_request;		/* in a request's handler (tsx.c) */
	bool closing;
	struct {
		uint64_t rx_msgs, tx_msgs, rx_bad, rx_dropped;
		uint64_t tsx_created, calls_in, calls_out;
		uint64_t auth_challenged, auth_failed;
		uint64_t loops, absorbed;	/* 482 Loop Detected sent;
						 * INVITEs absorbed after
						 * their 2xx (RFC 6026) */
	} stats;
};

struct sip_tsx_ev;

/* UAS authentication of a request (ua.c): true to go on; false when
 * it was answered (401, 403). */
bool sip_ua_authorized(struct sip_ua *ua, struct sip_tsx *tsx,
		       const osip_message_t *req, const struct sip_src *src);
/* UAC: add credentials answering the challenges of resp (401/407) to
 * req, for req's method and Request-URI; ENOENT when there is nothing
 * to answer with. */
int  sip_auth_add(osip_message_t *req, const osip_message_t *resp,
		  struct sip_auth_client *cl, const char *user,
		  const char *password);

/* Requests the UA layer dispatches (ua.c calls into session.c). */
void sip_ua_request(struct sip_ua *ua, struct sip_tsx *tsx,
		    osip_message_t *req, const struct sip_src *src);
/* ACK for a 2xx (no transaction), and a 2xx that matched none. */
void sip_session_ack(struct sip_ua *ua, const osip_message_t *ack);
void sip_session_stray_2xx(struct sip_ua *ua, const osip_message_t *resp);
/* A request for a dialog of ours; false: no such dialog. */
bool sip_session_request(struct sip_ua *ua, struct sip_tsx *tsx,
			 osip_message_t *req, const struct sip_src *src);
void sip_session_invite(struct sip_ua *ua, struct sip_tsx *tsx,
			osip_message_t *req, const struct sip_src *src);
bool sip_session_cancel(struct sip_ua *ua, struct sip_tsx *tsx,
			osip_message_t *req);
void sip_session_close_all(struct sip_ua *ua);
json_t *sip_session_json(const struct sip_ua *ua);

/* ------------------------------------------------------------------ */
/* Registration (registrar.c, reg.c), RFC 3261 s.10                   */
/* ------------------------------------------------------------------ */

/* UAS authentication as sip_ua_authorized, for REGISTER (a To tag does
 * not exempt it); user gets the authenticated user name, "" when the
 * source needed none (ACL, no authentication configured). */
bool sip_ua_authorized_user(struct sip_ua *ua, struct sip_tsx *tsx,
			    const osip_message_t *req,
			    const struct sip_src *src, char *user,
			    size_t size);
/* A REGISTER that passed authentication; auth_user "" when none. */
void sip_registrar_request(struct sip_ua *ua, struct sip_tsx *tsx,
			   const osip_message_t *req,
			   const struct sip_src *src, const char *auth_user);
/* UA shutdown: un-REGISTER every registration and drop them. */
void sip_reg_close_all(struct sip_ua *ua);
/* UA shutdown: stop every OPTIONS keepalive (peer.c). */
void sip_peer_close_all(struct sip_ua *ua);

/* ------------------------------------------------------------------ */
/* Identity headers (ident.c): RFC 3325, 3323, 5806, 7044             */
/* ------------------------------------------------------------------ */

/* Fill in->from, in->to, in->pai and in->redirect from req. */
void sip_ident_read(const osip_message_t *req, struct sip_incoming *in);
/* P-Asserted-Identity, Privacy and Diversion for an INVITE of ours;
 * domain is the host of identities without one. */
void sip_ident_write(osip_message_t *m, const struct sip_call_params *p,
		     const char *domain);
/* display as a quoted-string followed by a space; "" for "". */
void sip_ident_quote(char *out, size_t size, const char *display);
/* Parse one name-addr: user, display and host into party (asserted
 * and privacy flags untouched); false when it holds no URI. */
bool sip_ident_party(struct sip_party *party, const char *value);

/* ------------------------------------------------------------------ */
/* Guards before libosip2's parser (tsx.c)                            */
/* ------------------------------------------------------------------ */

/* Check a multipart body (RFC 2046 s.5.1.1) at buf, whose header
 * section is hdrlen octets: 0 when the message has no multipart body
 * or a well-formed one; EBADMSG when its parts are malformed (no
 * boundary, a part whose headers do not end, two Content-Types in one
 * part, no close delimiter), which libosip2 must not see. */
int  sip_multipart_check(const char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* DNS (dns.c), RFC 3263; requests to names (tsx.c)                   */
/* ------------------------------------------------------------------ */

struct sip_dns;
struct sip_tsx_fo;

/* UA shutdown (sip_tsx_close): stop lookups, drop the cache. */
void sip_dns_close(struct sip_ua *ua);
/* A listener to build a request for u with before its target is known,
 * and its transport; NULL when the UA has none. */
struct sip_lsnr *sip_dns_lsnr_hint(struct sip_ua *ua, const osip_uri_t *u,
				   enum sip_transport *tpp);
/* Client: send req (consumed, even on error) to the targets of uri
 * (RFC 3263; NULL: req's Request-URI), in a new client transaction per
 * target until one answers (s.4.3).  Via and a Contact of ours are
 * rewritten for each target's transport and listener.  resph gets the
 * responses, or 404/503 without a message when nothing resolves, and
 * the last target's 408/503 when none answers.  *tsxp (optional) gets
 * a reference. */
int  sip_tsx_request_uri(struct sip_tsx **tsxp, struct sip_ua *ua,
			 osip_message_t *req, const char *uri,
			 sip_tsx_resp_h *resph, void *arg);
/* The owner gave up (CANCEL before any response): no further target. */
void sip_tsx_no_failover(struct sip_tsx *tsx);
/* True once after tsx moved to a new target: tsx->tp and tsx->dst are
 * where the request went, *reqp (when given) is replaced with a copy
 * of the request as sent (its Via, for a CANCEL, s.9.1). */
bool sip_tsx_retargeted(struct sip_tsx *tsx, osip_message_t **reqp);

#endif
