/* sip/auth.h - SIP digest authentication (RFC 7616, RFC 3261 s.22) */
#ifndef GW_SIP_AUTH_H
#define GW_SIP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A pure library: no sockets, no SIP messages.  The SIP layer hands in
 * header values (the text after "WWW-Authenticate:" and friends) and
 * gets header values back.  Main-loop only: a server's replay table is
 * not locked.
 *
 * Not supported, by choice: userhash (RFC 7616 s.3.4.4; a challenge
 * asking for it is answered with the plain username, credentials using
 * it are refused), username* and charset (RFC 5987 encodings), qop
 * auth-int as a server (we offer qop=auth only), the qop-less RFC 2069
 * form as a server (RFC 7616 s.3.4 requires qop, cnonce and nc, and
 * without a nonce count a stateless nonce cannot stop a replay: such
 * credentials are SIP_AUTH_MALFORMED), Authentication-Info, SHA-512-256.
 */

enum sip_auth_alg {
	SIP_AUTH_MD5 = 0,
	SIP_AUTH_MD5_SESS,
	SIP_AUTH_SHA256,
	SIP_AUTH_SHA256_SESS,
	SIP_AUTH_ALG_UNKNOWN,		/* parsed, not supported */
};

#define SIP_AUTH_ALG_BIT(alg)	(1u << (alg))

enum sip_auth_qop {
	SIP_AUTH_QOP_NONE = 0,		/* the RFC 2069 form */
	SIP_AUTH_QOP_AUTH,
	SIP_AUTH_QOP_AUTH_INT,
	SIP_AUTH_QOP_OTHER,		/* parsed, not supported */
};

#define SIP_AUTH_QOP_BIT(qop)	(1u << (qop))

enum sip_auth_result {
	SIP_AUTH_OK = 0,
	SIP_AUTH_STALE,		/* right digest, old nonce: re-challenge
				 * with stale=true */
	SIP_AUTH_FAILED,	/* wrong password, unknown user, forged
				 * nonce, replay: the same answer for all */
	SIP_AUTH_MALFORMED,	/* not a digest credential we can read */
};

/* Lowercase hex of the largest digest (SHA-256) and its NUL. */
#define SIP_AUTH_HEX_MAX	65
/* Header values longer than this are refused (EMSGSIZE). */
#define SIP_AUTH_TEXT_MAX	8192
/* Nonce-count replay table: slots per server (see auth.c). */
#define SIP_AUTH_REPLAY_SLOTS	1024
/* Nonce lifetime when sip_auth_server_alloc is given 0. */
#define SIP_AUTH_NONCE_TTL_MS	300000

/* A parsed WWW-Authenticate / Proxy-Authenticate value.  Strings live in
 * the same gw_mem block; absent optional ones are NULL. */
struct sip_auth_chal {
	const char *realm;
	const char *nonce;
	const char *opaque;
	enum sip_auth_alg alg;		/* MD5 when absent */
	unsigned qops;			/* SIP_AUTH_QOP_BIT()s offered; 0:
					 * no qop parameter */
	bool stale;
	bool userhash;
};

/* A parsed Authorization / Proxy-Authorization value. */
struct sip_auth_cred {
	const char *username;
	const char *realm;
	const char *nonce;
	const char *uri;
	const char *response;		/* lowercase hex */
	const char *cnonce;
	const char *opaque;
	enum sip_auth_alg alg;		/* MD5 when absent */
	enum sip_auth_qop qop;
	uint32_t nc;			/* 0 without qop */
	bool userhash;
};

/* Everything a response digest is made of (RFC 7616 s.3.4.1). */
struct sip_auth_digest {
	enum sip_auth_alg alg;
	const char *username;
	const char *realm;
	const char *password;		/* or, when NULL: */
	const char *ha1;		/* hex H(username:realm:password) */
	const char *nonce;
	const char *cnonce;		/* with a qop, and for -sess */
	enum sip_auth_qop qop;
	uint32_t nc;
	const char *method;
	const char *uri;
	const void *body;		/* auth-int: the message body */
	size_t bodylen;
};

/* Challenge header values from sip_auth_challenge, most preferred
 * first (RFC 7616 s.3.7): one header field each. */
struct sip_auth_chals {
	size_t n;
	char *val[SIP_AUTH_ALG_UNKNOWN];
};

/* What a lookup hands back for a user: the password, or the HA1 for the
 * hash of the algorithm asked for (MD5 or SHA-256, without the -sess
 * step) as hex.  password is borrowed until sip_auth_verify returns. */
struct sip_auth_secret {
	const char *password;
	char ha1[SIP_AUTH_HEX_MAX];
};

/* 0 with sec filled, ENOENT for an unknown user, another errno on
 * failure (returned by sip_auth_verify).  It should take the same time
 * whether or not the user exists. */
typedef int (sip_auth_lookup_h)(struct sip_auth_secret *sec,
				const char *username, const char *realm,
				enum sip_auth_alg alg, void *arg);

/* UAC state: the nonce count is per nonce.  Zero it to start; keep one
 * per realm answered. */
struct sip_auth_client {
	uint8_t nonce_id[16];
	uint32_t nc;
};

struct sip_auth_server;

const char *sip_auth_alg_name(enum sip_auth_alg alg);
const char *sip_auth_result_name(enum sip_auth_result res);

int  sip_auth_chal_parse(struct sip_auth_chal **chalp, const char *text);
int  sip_auth_cred_parse(struct sip_auth_cred **credp, const char *text);
int  sip_auth_chal_print(char **textp, const struct sip_auth_chal *chal);
int  sip_auth_cred_print(char **textp, const struct sip_auth_cred *cred);

int  sip_auth_ha1(char *hex, size_t size, enum sip_auth_alg alg,
		  const char *username, const char *realm,
		  const char *password);
int  sip_auth_response(char *hex, size_t size,
		       const struct sip_auth_digest *d);

int  sip_auth_server_alloc(struct sip_auth_server **srvp, const char *realm,
			   uint32_t nonce_ttl_ms);
int  sip_auth_server_set_algs(struct sip_auth_server *srv, unsigned algs);
const char *sip_auth_realm(const struct sip_auth_server *srv);
/* Was nonce issued by srv (this run), expired or not?  Says nothing
 * about any user. */
bool sip_auth_nonce_ours(const struct sip_auth_server *srv,
			 const char *nonce);
int  sip_auth_challenge(struct sip_auth_chals **chalsp,
			struct sip_auth_server *srv, bool stale);
int  sip_auth_verify(enum sip_auth_result *resultp,
		     struct sip_auth_server *srv, const char *method,
		     const char *text, sip_auth_lookup_h *lookuph, void *arg);
int  sip_auth_verify_cred(enum sip_auth_result *resultp,
			  struct sip_auth_server *srv, const char *method,
			  const struct sip_auth_cred *cred,
			  sip_auth_lookup_h *lookuph, void *arg);

int  sip_auth_respond(char **credp, struct sip_auth_client *cl,
		      const char *const *chals, size_t nchals,
		      const char *method, const char *uri,
		      const char *username, const char *password,
		      const void *body, size_t bodylen);

#endif
