/* sip/auth.c - SIP digest authentication (RFC 7616, RFC 2617, RFC 3261 s.22) */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#define GW_LOG_MOD "auth"
#include "core.h"
#include "auth.h"

/*
 * Nonces are stateless and check themselves (RFC 7616 s.5.4).  A nonce
 * is the base64 of 36 bytes: the issue time (gw_now_ms, 8 bytes, big
 * endian), a serial number (8 bytes, counting the server's nonces), and
 * the first 20 bytes of HMAC-SHA-256 over those 16 under a key derived
 * from a random per-server secret and the realm.  A nonce whose MAC
 * does not match is forged (FAILED); one whose MAC matches but whose time
 * is past the lifetime is stale (STALE, but only when the digest is
 * right: RFC 7616 s.3.3).  A restart draws a new secret, so the nonces of
 * the previous run are refused as forged and the client gets a fresh
 * challenge.
 *
 * Replay.  A stateless nonce could be replayed for its whole lifetime,
 * so the server remembers, for each (nonce, username) that authenticated,
 * the highest nonce count seen, and refuses a count that does not grow.
 * The table is fixed: SIP_AUTH_REPLAY_SLOTS slots in sets of
 * REPLAY_WAYS, filled only by requests whose digest was right (so only
 * users who know a password can fill it).  Entries whose nonce has
 * expired are reused freely.  When a set is full of live entries the
 * one with the oldest nonce is evicted, and the highest nonce serial ever
 * evicted is kept as a floor: a (nonce, user) pair that is not in the
 * table and whose nonce is not newer than the floor may have been
 * evicted, so it gets STALE (a new nonce, one more round trip), never OK.
 * A nonce newer than every evicted one is accepted on first use.  So
 * the bound costs round trips when more than SIP_AUTH_REPLAY_SLOTS pairs
 * are live at once, and never lets a replay through.
 *
 * Unknown users.  The verify path does the same work whether or not the
 * user exists: when the lookup says ENOENT the digest is computed against
 * a random dummy password, and the final comparison is constant-time
 * (gnutls_memcmp).  The lookup, and debug logging, are the only parts
 * whose timing may differ.
 */

#define NONCE_TS	8
#define NONCE_SERIAL	8
#define NONCE_MAC	20
#define NONCE_RAW	(NONCE_TS + NONCE_SERIAL + NONCE_MAC)	/* 36 */
#define NONCE_LEN	(NONCE_RAW / 3 * 4)			/* 48 */

#define REPLAY_WAYS	4
#define REPLAY_SETS	(SIP_AUTH_REPLAY_SLOTS / REPLAY_WAYS)

#define CNONCE_BYTES	16

struct replay_slot {
	uint8_t key[16];	/* SHA-256(nonce ":" username), cut */
	uint64_t ts;		/* the nonce's issue time */
	uint64_t serial;	/* and its serial number */
	uint32_t nc;		/* the highest count accepted */
	bool used;
};

struct sip_auth_server {
	char *realm;
	uint8_t key[32];	/* nonce MAC key: HMAC(secret, realm) */
	char dummy[33];		/* the password of users who do not exist */
	uint32_t ttl_ms;
	unsigned algs;		/* SIP_AUTH_ALG_BIT()s offered */
	uint64_t serial;	/* of the last nonce issued */
	uint64_t floor;		/* highest serial evicted from the table */
	struct replay_slot slots[SIP_AUTH_REPLAY_SLOTS];
};

struct alg_info {
	const char *name;
	gnutls_digest_algorithm_t dig;
	size_t len;		/* digest bytes */
	bool sess;
};

static const struct alg_info alg_tab[] = {
	[SIP_AUTH_MD5]         = { "MD5", GNUTLS_DIG_MD5, 16, false },
	[SIP_AUTH_MD5_SESS]    = { "MD5-sess", GNUTLS_DIG_MD5, 16, true },
	[SIP_AUTH_SHA256]      = { "SHA-256", GNUTLS_DIG_SHA256, 32, false },
	[SIP_AUTH_SHA256_SESS] = { "SHA-256-sess", GNUTLS_DIG_SHA256, 32,
				   true },
};

#define ALGS_ALL (SIP_AUTH_ALG_BIT(SIP_AUTH_MD5) |			\
		  SIP_AUTH_ALG_BIT(SIP_AUTH_MD5_SESS) |			\
		  SIP_AUTH_ALG_BIT(SIP_AUTH_SHA256) |			\
		  SIP_AUTH_ALG_BIT(SIP_AUTH_SHA256_SESS))

static const char *const qop_names[] = {
	[SIP_AUTH_QOP_AUTH] = "auth",
	[SIP_AUTH_QOP_AUTH_INT] = "auth-int",
};

static const struct alg_info *alg_get(enum sip_auth_alg alg)
{
	if ((unsigned)alg >= GW_ARRAY_SIZE(alg_tab))
		return NULL;
	return &alg_tab[alg];
}

/** The algorithm's name as RFC 7616 writes it ("?" when unknown). */
const char *sip_auth_alg_name(enum sip_auth_alg alg)
{
	const struct alg_info *ai = alg_get(alg);

	return ai ? ai->name : "?";
}

/** A result's name, for logs. */
const char *sip_auth_result_name(enum sip_auth_result res)
{
	switch (res) {
	case SIP_AUTH_OK:		return "ok";
	case SIP_AUTH_STALE:		return "stale";
	case SIP_AUTH_FAILED:		return "failed";
	case SIP_AUTH_MALFORMED:	return "malformed";
	}
	return "?";
}

/* ---- characters, hex, base64 ---------------------------------------- */

static bool is_lws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 3261 s.25.1 token characters. */
static bool is_token(int c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c && strchr("-.!%*_+`'~", c);
}

/* Text we may put in a quoted string: no control characters but HTAB
 * (a CR or LF would end the header; quoted-pair cannot carry them). */
static bool text_ok(const char *s)
{
	const unsigned char *p;

	if (!s)
		return false;
	for (p = (const unsigned char *)s; *p; p++) {
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	}
	return true;
}

static bool token_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (!is_token((unsigned char)*s))
			return false;
	}
	return true;
}

static int hex_val(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void hexify(char *hex, const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[b[i] >> 4];
		hex[2 * i + 1] = digits[b[i] & 0xf];
	}
	hex[2 * n] = '\0';
}

/* Copy s, which must be exactly n hex digits, lowercased into out. */
static bool hex_copy(char *out, const char *s, size_t n)
{
	size_t i;
	int v;

	if (!s || strlen(s) != n)
		return false;
	for (i = 0; i < n; i++) {
		v = hex_val((unsigned char)s[i]);
		if (v < 0)
			return false;
		out[i] = "0123456789abcdef"[v];
	}
	out[n] = '\0';
	return true;
}

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* n a multiple of 3: no padding. */
static void b64_encode(char *out, const uint8_t *in, size_t n)
{
	size_t i;
	uint32_t v;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		*out++ = b64_chars[v >> 18 & 63];
		*out++ = b64_chars[v >> 12 & 63];
		*out++ = b64_chars[v >> 6 & 63];
		*out++ = b64_chars[v & 63];
	}
	*out = '\0';
}

static int b64_val(int c)
{
	const char *p;

	if (!c)
		return -1;
	p = strchr(b64_chars, c);
	return p ? (int)(p - b64_chars) : -1;
}

/* n a multiple of 4, no padding; false on a foreign character. */
static bool b64_decode(uint8_t *out, const char *in, size_t n)
{
	size_t i, j;
	uint32_t v;
	int d;

	for (i = 0; i < n; i += 4) {
		v = 0;
		for (j = 0; j < 4; j++) {
			d = b64_val((unsigned char)in[i + j]);
			if (d < 0)
				return false;
			v = v << 6 | (uint32_t)d;
		}
		*out++ = (uint8_t)(v >> 16);
		*out++ = (uint8_t)(v >> 8);
		*out++ = (uint8_t)v;
	}
	return true;
}

/* ---- hashing ---------------------------------------------------------- */

/*
 * md = H(parts[0] ":" parts[1] ":" ... parts[n - 1]).  The joined text
 * holds passwords, so it is wiped; short ones stay on the stack.
 */
static int hash_join(uint8_t *md, gnutls_digest_algorithm_t dig,
		     const char *const *parts, size_t n)
{
	char stack[512];
	char *buf = stack;
	size_t len = 0, off = 0, i, l;
	int err = 0;

	for (i = 0; i < n; i++)
		len += strlen(parts[i]) + 1;
	if (len > sizeof(stack)) {
		buf = gw_mem_alloc(len, NULL);
		if (!buf)
			return ENOMEM;
	}
	for (i = 0; i < n; i++) {
		l = strlen(parts[i]);
		memcpy(buf + off, parts[i], l);
		off += l;
		buf[off++] = ':';
	}
	/* MD5 is refused in FIPS mode */
	if (gnutls_hash_fast(dig, buf, len - 1, md) < 0)
		err = ENOTSUP;
	gnutls_memset(buf, 0, len);
	if (buf != stack)
		gw_mem_deref(buf);
	return err;
}

/* hex = lowercase hex of H(parts joined by ':'). */
static int hash_hex(char *hex, const struct alg_info *ai,
		    const char *const *parts, size_t n)
{
	uint8_t md[32];
	int err;

	err = hash_join(md, ai->dig, parts, n);
	if (!err)
		hexify(hex, md, ai->len);
	gnutls_memset(md, 0, sizeof(md));
	return err;
}

/**
 * Write into hex (size bytes, SIP_AUTH_HEX_MAX is enough) the HA1 of
 * RFC 7616 s.3.4.2 without the -sess step: H(username:realm:password)
 * with alg's hash, as a registrar may store it instead of the password.
 */
int sip_auth_ha1(char *hex, size_t size, enum sip_auth_alg alg,
		 const char *username, const char *realm,
		 const char *password)
{
	const struct alg_info *ai = alg_get(alg);
	char out[SIP_AUTH_HEX_MAX];
	int err;

	if (!hex || !ai || size < 2 * ai->len + 1 || !username || !realm ||
	    !password)
		return EINVAL;
	err = hash_hex(out, ai, (const char *[]){ username, realm, password },
		       3);
	if (!err)
		memcpy(hex, out, 2 * ai->len + 1);
	gnutls_memset(out, 0, sizeof(out));
	return err;
}

/**
 * Write into hex (size bytes, SIP_AUTH_HEX_MAX is enough) the response
 * digest of RFC 7616 s.3.4.1, or with qop SIP_AUTH_QOP_NONE the RFC 2069
 * form RFC 2617 s.3.2.2.1 keeps: H(HA1:nonce:HA2).  d->ha1 is used when
 * d->password is NULL.  EINVAL for a missing or unknown part.
 */
int sip_auth_response(char *hex, size_t size, const struct sip_auth_digest *d)
{
	const struct alg_info *ai;
	char ha1[SIP_AUTH_HEX_MAX], ha2[SIP_AUTH_HEX_MAX];
	char hbody[SIP_AUTH_HEX_MAX], resp[SIP_AUTH_HEX_MAX], nc[9];
	uint8_t md[32];
	int err = 0;

	if (!hex || !d)
		return EINVAL;
	ai = alg_get(d->alg);
	if (!ai || size < 2 * ai->len + 1 || !d->nonce || !d->method ||
	    !d->uri || d->qop > SIP_AUTH_QOP_AUTH_INT)
		return EINVAL;
	if ((d->qop != SIP_AUTH_QOP_NONE || ai->sess) && !d->cnonce)
		return EINVAL;

	if (d->password) {
		if (!d->username || !d->realm)
			return EINVAL;
		err = hash_hex(ha1, ai, (const char *[]){ d->username,
				d->realm, d->password }, 3);
		if (err)
			goto out;
	} else if (!hex_copy(ha1, d->ha1, 2 * ai->len)) {
		return EINVAL;
	}
	if (ai->sess) {
		/* RFC 7616 s.3.4.2: HA1 = H(H(user:realm:pw):nonce:cnonce) */
		err = hash_hex(ha1, ai, (const char *[]){ ha1, d->nonce,
				d->cnonce }, 3);
		if (err)
			goto out;
	}

	if (d->qop == SIP_AUTH_QOP_AUTH_INT) {
		/* RFC 7616 s.3.4.3; no body hashes as an empty one */
		if (gnutls_hash_fast(ai->dig, d->body ? d->body : "",
				     d->body ? d->bodylen : 0, md) < 0) {
			err = ENOTSUP;
			goto out;
		}
		hexify(hbody, md, ai->len);
		err = hash_hex(ha2, ai, (const char *[]){ d->method, d->uri,
				hbody }, 3);
	} else {
		err = hash_hex(ha2, ai, (const char *[]){ d->method, d->uri },
			       2);
	}
	if (err)
		goto out;

	if (d->qop == SIP_AUTH_QOP_NONE) {
		err = hash_hex(resp, ai, (const char *[]){ ha1, d->nonce,
				ha2 }, 3);
	} else {
		snprintf(nc, sizeof(nc), "%08x", (unsigned)d->nc);
		err = hash_hex(resp, ai, (const char *[]){ ha1, d->nonce, nc,
				d->cnonce, qop_names[d->qop], ha2 }, 6);
	}
	if (!err)
		memcpy(hex, resp, 2 * ai->len + 1);
 out:
	gnutls_memset(ha1, 0, sizeof(ha1));
	return err;
}

/* ---- parsing ---------------------------------------------------------- */

/* The parameters either header knows; the index is a bit in a mask. */
enum {
	P_REALM, P_NONCE, P_OPAQUE, P_STALE, P_ALGORITHM, P_QOP, P_DOMAIN,
	P_CHARSET, P_USERHASH, P_USERNAME, P_URI, P_RESPONSE, P_CNONCE, P_NC,
};

static const char *const param_names[] = {
	[P_REALM] = "realm", [P_NONCE] = "nonce", [P_OPAQUE] = "opaque",
	[P_STALE] = "stale", [P_ALGORITHM] = "algorithm", [P_QOP] = "qop",
	[P_DOMAIN] = "domain", [P_CHARSET] = "charset",
	[P_USERHASH] = "userhash", [P_USERNAME] = "username",
	[P_URI] = "uri", [P_RESPONSE] = "response", [P_CNONCE] = "cnonce",
	[P_NC] = "nc",
};

static int param_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < GW_ARRAY_SIZE(param_names); i++) {
		if (strlen(param_names[i]) == len &&
		    !strncasecmp(param_names[i], name, len))
			return (int)i;
	}
	return -1;
}

/* One parameter: its index in param_names (-1: unknown) and its value,
 * unquoted and NUL-terminated in the parse buffer. */
typedef int (param_h)(void *st, int id, char *val);

static const char *skip_lws(const char *p)
{
	while (is_lws((unsigned char)*p))
		p++;
	return p;
}

/*
 * Parse 'Digest' 1*LWS #(token LWS "=" LWS (token / quoted-string))
 * (RFC 3261 s.25.1, RFC 7235 s.2.1).  Values go unquoted into out, which
 * needs strlen(text) + 1 bytes: each parameter writes its value and a
 * NUL, and reads at least its value, a name and "=".  Empty list
 * elements are skipped; a quoted string may not carry control
 * characters other than HTAB, escaped or not.
 */
static int parse_params(const char *text, char *out, param_h *ph, void *st)
{
	const char *p, *name;
	unsigned char c;
	size_t nlen;
	char *val;
	int err;

	p = skip_lws(text);
	name = p;
	while (is_token((unsigned char)*p))
		p++;
	if (p == name)
		return EBADMSG;
	if (p - name != 6 || strncasecmp(name, "Digest", 6))
		return ENOTSUP;
	if (!is_lws((unsigned char)*p))
		return EBADMSG;

	for (;;) {
		p = skip_lws(p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (!*p)
			break;
		name = p;
		while (is_token((unsigned char)*p))
			p++;
		nlen = (size_t)(p - name);
		if (!nlen)
			return EBADMSG;
		p = skip_lws(p);
		if (*p != '=')
			return EBADMSG;
		p = skip_lws(p + 1);
		val = out;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				c = (unsigned char)*p;
				if (c == '\\')
					c = (unsigned char)*++p;
				if (!c || (c < 0x20 && c != '\t') || c == 0x7f)
					return EBADMSG;
				*out++ = (char)c;
			}
			p++;
		} else {
			while (is_token((unsigned char)*p))
				*out++ = *p++;
			if (out == val)
				return EBADMSG;
		}
		*out++ = '\0';
		p = skip_lws(p);
		if (*p && *p != ',')
			return EBADMSG;
		err = ph(st, param_find(name, nlen), val);
		if (err)
			return err;
	}
	return 0;
}

static enum sip_auth_alg alg_parse(const char *s)
{
	size_t i;

	for (i = 0; i < GW_ARRAY_SIZE(alg_tab); i++) {
		if (!strcasecmp(s, alg_tab[i].name))
			return (enum sip_auth_alg)i;
	}
	return SIP_AUTH_ALG_UNKNOWN;
}

static enum sip_auth_qop qop_parse(const char *s, size_t len)
{
	if (len == 4 && !strncasecmp(s, "auth", 4))
		return SIP_AUTH_QOP_AUTH;
	if (len == 8 && !strncasecmp(s, "auth-int", 8))
		return SIP_AUTH_QOP_AUTH_INT;
	return SIP_AUTH_QOP_OTHER;
}

/* A challenge's qop list: "auth,auth-int"; never 0 once present. */
static unsigned qop_list(const char *s)
{
	unsigned qops = 0;
	const char *e;

	for (;;) {
		s = skip_lws(s);
		if (*s == ',') {
			s++;
			continue;
		}
		if (!*s)
			break;
		for (e = s; *e && *e != ',' && !is_lws((unsigned char)*e); )
			e++;
		qops |= SIP_AUTH_QOP_BIT(qop_parse(s, (size_t)(e - s)));
		s = e;
	}
	return qops ? qops : SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_OTHER);
}

/* Record id in *seen; a known parameter twice is an error (RFC 7235
 * s.2.1: "Each parameter name MUST only occur once"). */
static int seen_once(unsigned *seen, int id)
{
	if (*seen & (1u << id))
		return EBADMSG;
	*seen |= 1u << id;
	return 0;
}

struct chal_state {
	struct sip_auth_chal *chal;
	unsigned seen;
};

static int chal_param(void *arg, int id, char *val)
{
	struct chal_state *st = arg;
	struct sip_auth_chal *c = st->chal;

	switch (id) {
	case P_REALM: case P_NONCE: case P_OPAQUE: case P_STALE:
	case P_ALGORITHM: case P_QOP: case P_DOMAIN: case P_CHARSET:
	case P_USERHASH:
		break;
	default:
		return 0;	/* unknown here: ignored */
	}
	if (seen_once(&st->seen, id))
		return EBADMSG;
	switch (id) {
	case P_REALM:		c->realm = val; break;
	case P_NONCE:		c->nonce = val; break;
	case P_OPAQUE:		c->opaque = val; break;
	case P_STALE:		c->stale = !strcasecmp(val, "true"); break;
	case P_ALGORITHM:	c->alg = alg_parse(val); break;
	case P_QOP:		c->qops = qop_list(val); break;
	case P_USERHASH:	c->userhash = !strcasecmp(val, "true"); break;
	default:		break;
	}
	return 0;
}

struct cred_state {
	struct sip_auth_cred *cred;
	unsigned seen;
};

static int cred_param(void *arg, int id, char *val)
{
	struct cred_state *st = arg;
	struct sip_auth_cred *c = st->cred;
	unsigned long v;
	size_t i, len;
	int d;

	switch (id) {
	case P_USERNAME: case P_REALM: case P_NONCE: case P_URI:
	case P_RESPONSE: case P_ALGORITHM: case P_CNONCE: case P_OPAQUE:
	case P_QOP: case P_NC: case P_USERHASH:
		break;
	default:
		return 0;
	}
	if (seen_once(&st->seen, id))
		return EBADMSG;
	switch (id) {
	case P_USERNAME:	c->username = val; break;
	case P_REALM:		c->realm = val; break;
	case P_NONCE:		c->nonce = val; break;
	case P_URI:		c->uri = val; break;
	case P_CNONCE:		c->cnonce = val; break;
	case P_OPAQUE:		c->opaque = val; break;
	case P_ALGORITHM:	c->alg = alg_parse(val); break;
	case P_USERHASH:	c->userhash = !strcasecmp(val, "true"); break;
	case P_QOP:
		c->qop = qop_parse(val, strlen(val));
		break;
	case P_RESPONSE:
		/* hex of some digest: 128 digits covers SHA-512 */
		len = strlen(val);
		if (!len || len > 128)
			return EBADMSG;
		for (i = 0; i < len; i++) {
			if (hex_val((unsigned char)val[i]) < 0)
				return EBADMSG;
			if (val[i] >= 'A' && val[i] <= 'F')
				val[i] = (char)(val[i] - 'A' + 'a');
		}
		c->response = val;
		break;
	case P_NC:
		/* nc-value = 8LHEX (RFC 7616 s.3.4); counting starts at 1 */
		if (strlen(val) != 8)
			return EBADMSG;
		for (v = 0, i = 0; i < 8; i++) {
			d = hex_val((unsigned char)val[i]);
			if (d < 0)
				return EBADMSG;
			v = v << 4 | (unsigned long)d;
		}
		if (!v)
			return EBADMSG;
		c->nc = (uint32_t)v;
		break;
	default:
		break;
	}
	return 0;
}

/* A parsed header: the struct, then the buffer its strings point into,
 * in one gw_mem block. */
struct chal_block {
	struct sip_auth_chal chal;
	char buf[];
};

struct cred_block {
	struct sip_auth_cred cred;
	char buf[];
};

/**
 * Parse a WWW-Authenticate or Proxy-Authenticate value.  Parameters come
 * in any order; unknown ones are ignored, a known one twice is an error.
 * realm and nonce are required.  ENOTSUP for a scheme other than Digest,
 * EMSGSIZE beyond SIP_AUTH_TEXT_MAX, EBADMSG for anything malformed.  An
 * algorithm we do not know parses as SIP_AUTH_ALG_UNKNOWN.
 */
int sip_auth_chal_parse(struct sip_auth_chal **chalp, const char *text)
{
	struct chal_block *blk;
	struct chal_state st = { 0 };
	size_t len;
	int err;

	if (!chalp || !text)
		return EINVAL;
	len = strnlen(text, SIP_AUTH_TEXT_MAX + 1);
	if (len > SIP_AUTH_TEXT_MAX)
		return EMSGSIZE;
	blk = gw_mem_zalloc(sizeof(*blk) + len + 1, NULL);
	if (!blk)
		return ENOMEM;
	st.chal = &blk->chal;
	blk->chal.alg = SIP_AUTH_MD5;	/* RFC 7616 s.3.3: the default */
	err = parse_params(text, blk->buf, chal_param, &st);
	if (err)
		goto out;
	if (!blk->chal.realm || !blk->chal.nonce)
		err = EBADMSG;
 out:
	if (err)
		gw_mem_deref(blk);
	else
		*chalp = &blk->chal;
	return err;
}

/**
 * Parse an Authorization or Proxy-Authorization value.  username, realm,
 * nonce, uri and response are required, and cnonce and nc with a qop; nc
 * is 8 hex digits, not zero; response is hex, returned lowercase.  Errors
 * as sip_auth_chal_parse.  username* (RFC 7616 s.3.4.4) is not read.
 */
int sip_auth_cred_parse(struct sip_auth_cred **credp, const char *text)
{
	struct cred_block *blk;
	struct cred_state st = { 0 };
	struct sip_auth_cred *c;
	size_t len;
	int err;

	if (!credp || !text)
		return EINVAL;
	len = strnlen(text, SIP_AUTH_TEXT_MAX + 1);
	if (len > SIP_AUTH_TEXT_MAX)
		return EMSGSIZE;
	blk = gw_mem_zalloc(sizeof(*blk) + len + 1, NULL);
	if (!blk)
		return ENOMEM;
	c = &blk->cred;
	st.cred = c;
	c->alg = SIP_AUTH_MD5;
	err = parse_params(text, blk->buf, cred_param, &st);
	if (err)
		goto out;
	if (!c->username || !c->realm || !c->nonce || !c->uri ||
	    !c->response) {
		err = EBADMSG;
		goto out;
	}
	if (c->qop != SIP_AUTH_QOP_NONE) {
		if (!c->cnonce || !c->nc)
			err = EBADMSG;
	} else {
		c->nc = 0;	/* meaningless without a qop */
	}
 out:
	if (err)
		gw_mem_deref(blk);
	else
		*credp = c;
	return err;
}

/* ---- formatting ------------------------------------------------------- */

/* Output measured on a first pass (p NULL), written on a second. */
struct sbuf {
	char *p;
	size_t len;
	unsigned nparams;
};

static void sb_mem(struct sbuf *b, const char *s, size_t n)
{
	if (b->p)
		memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_mem(b, s, strlen(s));
}

static void sb_param(struct sbuf *b, const char *name, const char *val,
		     bool quote)
{
	sb_str(b, b->nparams++ ? ", " : " ");
	sb_str(b, name);
	sb_mem(b, "=", 1);
	if (!quote) {
		sb_str(b, val);
		return;
	}
	sb_mem(b, "\"", 1);
	for (; *val; val++) {
		if (*val == '"' || *val == '\\')
			sb_mem(b, "\\", 1);
		sb_mem(b, val, 1);
	}
	sb_mem(b, "\"", 1);
}

typedef void (print_h)(struct sbuf *b, const void *obj);

static int sb_print(char **textp, print_h *ph, const void *obj)
{
	struct sbuf b = { 0 };

	ph(&b, obj);
	b.p = gw_mem_alloc(b.len + 1, NULL);
	if (!b.p)
		return ENOMEM;
	b.len = 0;
	b.nparams = 0;
	ph(&b, obj);
	b.p[b.len] = '\0';
	*textp = b.p;
	return 0;
}

static void chal_print(struct sbuf *b, const void *obj)
{
	const struct sip_auth_chal *c = obj;
	unsigned q = c->qops & (SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_AUTH) |
				SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_AUTH_INT));

	sb_str(b, "Digest");
	sb_param(b, "realm", c->realm, true);
	sb_param(b, "nonce", c->nonce, true);
	if (c->opaque)
		sb_param(b, "opaque", c->opaque, true);
	if (c->stale)
		sb_param(b, "stale", "true", false);
	sb_param(b, "algorithm", alg_tab[c->alg].name, false);
	if (q == SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_AUTH))
		sb_param(b, "qop", "auth", true);
	else if (q == SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_AUTH_INT))
		sb_param(b, "qop", "auth-int", true);
	else if (q)
		sb_param(b, "qop", "auth,auth-int", true);
	if (c->userhash)
		sb_param(b, "userhash", "true", false);
}

/**
 * Format a challenge as a WWW-Authenticate / Proxy-Authenticate value
 * (a gw_mem string in *textp).  Only the auth and auth-int bits of qops
 * are written.  EINVAL for a missing realm or nonce, an unknown
 * algorithm, or a control character in a value.
 */
int sip_auth_chal_print(char **textp, const struct sip_auth_chal *chal)
{
	if (!textp || !chal || !alg_get(chal->alg) || !text_ok(chal->realm) ||
	    !text_ok(chal->nonce) || (chal->opaque && !text_ok(chal->opaque)))
		return EINVAL;
	return sb_print(textp, chal_print, chal);
}

static void cred_print(struct sbuf *b, const void *obj)
{
	const struct sip_auth_cred *c = obj;
	char nc[9];

	sb_str(b, "Digest");
	sb_param(b, "username", c->username, true);
	sb_param(b, "realm", c->realm, true);
	sb_param(b, "nonce", c->nonce, true);
	sb_param(b, "uri", c->uri, true);
	sb_param(b, "response", c->response, true);
	sb_param(b, "algorithm", alg_tab[c->alg].name, false);
	if (c->qop != SIP_AUTH_QOP_NONE)
		sb_param(b, "cnonce", c->cnonce, true);
	if (c->opaque)
		sb_param(b, "opaque", c->opaque, true);
	if (c->qop != SIP_AUTH_QOP_NONE) {
		sb_param(b, "qop", qop_names[c->qop], false);
		snprintf(nc, sizeof(nc), "%08x", (unsigned)c->nc);
		sb_param(b, "nc", nc, false);
	}
	if (c->userhash)
		sb_param(b, "userhash", "true", false);
}

/**
 * Format credentials as an Authorization / Proxy-Authorization value (a
 * gw_mem string in *textp), in RFC 7616 s.3.9.1's order.  EINVAL for a
 * missing required part, an unknown algorithm or qop, or a control
 * character in a value.
 */
int sip_auth_cred_print(char **textp, const struct sip_auth_cred *cred)
{
	const struct sip_auth_cred *c = cred;

	if (!textp || !c || !alg_get(c->alg) || !text_ok(c->username) ||
	    !text_ok(c->realm) || !text_ok(c->nonce) || !text_ok(c->uri) ||
	    !text_ok(c->response) || (c->opaque && !text_ok(c->opaque)) ||
	    c->qop > SIP_AUTH_QOP_AUTH_INT)
		return EINVAL;
	if (c->qop != SIP_AUTH_QOP_NONE && (!text_ok(c->cnonce) || !c->nc))
		return EINVAL;
	return sb_print(textp, cred_print, c);
}

/* ---- server ----------------------------------------------------------- */

static void server_destroy(void *data)
{
	struct sip_auth_server *srv = data;

	gnutls_memset(srv->key, 0, sizeof(srv->key));
	gnutls_memset(srv->dummy, 0, sizeof(srv->dummy));
	gw_mem_deref(srv->realm);
}

/**
 * Allocate a digest server for realm: a fresh random secret, nonces that
 * live nonce_ttl_ms (0: SIP_AUTH_NONCE_TTL_MS), SHA-256 and MD5 offered.
 * EINVAL for an empty realm or one with control characters, EIO when the
 * random generator fails.
 */
int sip_auth_server_alloc(struct sip_auth_server **srvp, const char *realm,
			  uint32_t nonce_ttl_ms)
{
	struct sip_auth_server *srv;
	uint8_t secret[32], dummy[16];
	int err = 0;

	if (!srvp || !text_ok(realm) || !*realm)
		return EINVAL;
	srv = gw_mem_zalloc(sizeof(*srv), server_destroy);
	if (!srv)
		return ENOMEM;
	srv->realm = gw_mem_strdup(realm);
	if (!srv->realm) {
		err = ENOMEM;
		goto out;
	}
	if (gnutls_rnd(GNUTLS_RND_KEY, secret, sizeof(secret)) < 0 ||
	    gnutls_rnd(GNUTLS_RND_NONCE, dummy, sizeof(dummy)) < 0 ||
	    gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, sizeof(secret),
			     realm, strlen(realm), srv->key) < 0) {
		GW_ERR("cannot draw a secret for realm '%s'", realm);
		err = EIO;
		goto out;
	}
	hexify(srv->dummy, dummy, sizeof(dummy));
	srv->ttl_ms = nonce_ttl_ms ? nonce_ttl_ms : SIP_AUTH_NONCE_TTL_MS;
	srv->algs = SIP_AUTH_ALG_BIT(SIP_AUTH_SHA256) |
		    SIP_AUTH_ALG_BIT(SIP_AUTH_MD5);
 out:
	gnutls_memset(secret, 0, sizeof(secret));
	if (err)
		gw_mem_deref(srv);
	else
		*srvp = srv;
	return err;
}

/**
 * Choose the algorithms the server offers and accepts: SIP_AUTH_ALG_BIT()s
 * of the four known ones, at least one (EINVAL otherwise).
 */
int sip_auth_server_set_algs(struct sip_auth_server *srv, unsigned algs)
{
	if (!srv || !algs || (algs & ~ALGS_ALL))
		return EINVAL;
	srv->algs = algs;
	return 0;
}

static int nonce_mac(const struct sip_auth_server *srv, const uint8_t *raw,
		     uint8_t *mac)
{
	uint8_t full[32];

	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, srv->key, sizeof(srv->key),
			     raw, NONCE_TS + NONCE_SERIAL, full) < 0)
		return EIO;
	memcpy(mac, full, NONCE_MAC);
	return 0;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * (7 - i)));
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int nonce_make(char *out, struct sip_auth_server *srv)
{
	uint8_t raw[NONCE_RAW];
	int err;

	put_be64(raw, gw_now_ms());
	put_be64(raw + NONCE_TS, srv->serial + 1);
	err = nonce_mac(srv, raw, raw + NONCE_TS + NONCE_SERIAL);
	if (err)
		return err;
	srv->serial++;
	b64_encode(out, raw, sizeof(raw));
	return 0;
}

enum nonce_state { NONCE_BAD, NONCE_FRESH, NONCE_EXPIRED };

static enum nonce_state nonce_check(const struct sip_auth_server *srv,
				    const char *nonce, uint64_t now,
				    uint64_t *tsp, uint64_t *serialp)
{
	uint8_t raw[NONCE_RAW], mac[NONCE_MAC];
	uint64_t ts;

	if (strlen(nonce) != NONCE_LEN || !b64_decode(raw, nonce, NONCE_LEN))
		return NONCE_BAD;
	if (nonce_mac(srv, raw, mac) ||
	    gnutls_memcmp(mac, raw + NONCE_TS + NONCE_SERIAL, NONCE_MAC))
		return NONCE_BAD;
	ts = get_be64(raw);
	*tsp = ts;
	*serialp = get_be64(raw + NONCE_TS);
	/* from the future: the secret outlived the clock */
	if (ts > now || now - ts > srv->ttl_ms)
		return NONCE_EXPIRED;
	return NONCE_FRESH;
}

/** srv's realm. */
const char *sip_auth_realm(const struct sip_auth_server *srv)
{
	return srv ? srv->realm : NULL;
}

/**
 * Whether nonce came from srv in this run (its MAC matches), fresh or
 * expired: the SIP layer answers a nonce of an earlier run with a new
 * challenge instead of a refusal.
 */
bool sip_auth_nonce_ours(const struct sip_auth_server *srv,
			 const char *nonce)
{
	uint64_t ts, serial;

	if (!srv || !nonce)
		return false;
	return nonce_check(srv, nonce, gw_now_ms(), &ts, &serial) !=
		NONCE_BAD;
}

/*
 * The replay check for a digest that was right: OK and remember nc,
 * FAILED for a count that did not grow, STALE for a pair the table may
 * have forgotten (see the top of the file).
 */
static enum sip_auth_result replay_check(struct sip_auth_server *srv,
					 const uint8_t *key, uint64_t ts,
					 uint64_t serial, uint32_t nc,
					 uint64_t now)
{
	struct replay_slot *set, *victim = NULL;
	unsigned i, idx;

	idx = ((unsigned)key[0] | (unsigned)key[1] << 8) % REPLAY_SETS;
	set = &srv->slots[idx * REPLAY_WAYS];
	for (i = 0; i < REPLAY_WAYS; i++) {
		if (set[i].used && now - set[i].ts > srv->ttl_ms)
			set[i].used = false;	/* its nonce is stale */
		if (set[i].used && !memcmp(set[i].key, key, 16)) {
			if (nc <= set[i].nc)
				return SIP_AUTH_FAILED;
			set[i].nc = nc;
			return SIP_AUTH_OK;
		}
	}
	if (serial <= srv->floor)
		return SIP_AUTH_STALE;
	for (i = 0; i < REPLAY_WAYS; i++) {
		if (!set[i].used) {
			victim = &set[i];
			break;
		}
		if (!victim || set[i].serial < victim->serial)
			victim = &set[i];
	}
	if (victim->used && victim->serial > srv->floor)
		srv->floor = victim->serial;
	memcpy(victim->key, key, sizeof(victim->key));
	victim->ts = ts;
	victim->serial = serial;
	victim->nc = nc;
	victim->used = true;
	return SIP_AUTH_OK;
}

static void chals_destroy(void *data)
{
	struct sip_auth_chals *chals = data;
	size_t i;

	for (i = 0; i < chals->n; i++)
		gw_mem_deref(chals->val[i]);
}

/**
 * Build the challenges for a 401 or 407: one header value per algorithm
 * the server offers, strongest first (RFC 7616 s.3.7: SHA-256, then MD5),
 * all with the same fresh nonce and qop="auth"; stale=true when the
 * request being answered got SIP_AUTH_STALE.
 */
int sip_auth_challenge(struct sip_auth_chals **chalsp,
		       struct sip_auth_server *srv, bool stale)
{
	static const enum sip_auth_alg order[] = {
		SIP_AUTH_SHA256, SIP_AUTH_SHA256_SESS,
		SIP_AUTH_MD5, SIP_AUTH_MD5_SESS,
	};
	struct sip_auth_chals *chals;
	struct sip_auth_chal c = { 0 };
	char nonce[NONCE_LEN + 1];
	size_t i;
	int err;

	if (!chalsp || !srv)
		return EINVAL;
	err = nonce_make(nonce, srv);
	if (err)
		return err;
	chals = gw_mem_zalloc(sizeof(*chals), chals_destroy);
	if (!chals)
		return ENOMEM;
	c.realm = srv->realm;
	c.nonce = nonce;
	c.stale = stale;
	c.qops = SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_AUTH);
	for (i = 0; i < GW_ARRAY_SIZE(order); i++) {
		if (!(srv->algs & SIP_AUTH_ALG_BIT(order[i])))
			continue;
		c.alg = order[i];
		err = sip_auth_chal_print(&chals->val[chals->n], &c);
		if (err)
			goto out;
		chals->n++;
	}
 out:
	if (err)
		gw_mem_deref(chals);
	else
		*chalsp = chals;
	return err;
}

/* The part of verify that runs after the lookup, whatever it said; got
 * is the client's response in lowercase. */
static int verify_digest(bool *matchp, const struct sip_auth_server *srv,
			 const char *method, const struct sip_auth_cred *c,
			 const char *got, const struct sip_auth_secret *sec,
			 bool found)
{
	const struct alg_info *ai = alg_get(c->alg);
	size_t n = 2 * ai->len;
	struct sip_auth_digest d = { 0 };
	char ha1pw[SIP_AUTH_HEX_MAX], ha1[SIP_AUTH_HEX_MAX];
	char want[SIP_AUTH_HEX_MAX];
	const char *pw;
	bool ok = found;
	int err;

	/* One hash of a password every time: the user's, or the dummy. */
	pw = found && sec->password ? sec->password : srv->dummy;
	err = hash_hex(ha1pw, ai, (const char *[]){ c->username, srv->realm,
			pw }, 3);
	if (err)
		goto out;
	memcpy(ha1, ha1pw, n + 1);
	if (found && !sec->password && !hex_copy(ha1, sec->ha1, n)) {
		GW_WARN("stored HA1 of '%s' is not %s hex", c->username,
			ai->name);
		memcpy(ha1, ha1pw, n + 1);
		ok = false;
	}
	d.alg = c->alg;
	d.ha1 = ha1;
	d.nonce = c->nonce;
	d.cnonce = c->cnonce;
	d.qop = c->qop;
	d.nc = c->nc;
	d.method = method;
	d.uri = c->uri;
	err = sip_auth_response(want, sizeof(want), &d);
	if (err)
		goto out;
	ok &= !gnutls_memcmp(want, got, n);
	*matchp = ok;
 out:
	gnutls_memset(ha1pw, 0, sizeof(ha1pw));
	gnutls_memset(ha1, 0, sizeof(ha1));
	return err;
}

/**
 * Check parsed credentials for method against srv and write the verdict
 * into *resultp.  lookuph is asked for the user's password or HA1; an
 * unknown user (ENOENT) is checked against a dummy password, so that it
 * costs the same and yields SIP_AUTH_FAILED like a wrong password.  The
 * caller also checks that cred->uri is the Request-URI (RFC 7616
 * s.3.4.6) and picks, among several Authorization headers, the one whose
 * realm is ours (RFC 3261 s.22.3).  Returns the lookup's error other than
 * ENOENT, ENOMEM, or ENOTSUP where FIPS mode refuses MD5; then *resultp
 * is untouched.
 */
int sip_auth_verify_cred(enum sip_auth_result *resultp,
			 struct sip_auth_server *srv, const char *method,
			 const struct sip_auth_cred *cred,
			 sip_auth_lookup_h *lookuph, void *arg)
{
	const struct sip_auth_cred *c = cred;
	const struct alg_info *ai;
	struct sip_auth_secret sec;
	char got[SIP_AUTH_HEX_MAX];
	enum sip_auth_result res;
	enum nonce_state ns;
	uint64_t now, ts = 0, serial = 0;
	uint8_t key[32];
	bool found, match = false;
	int err = 0;

	if (!resultp || !srv || !method || !c || !lookuph)
		return EINVAL;
	memset(&sec, 0, sizeof(sec));

	/*
	 * Nothing before the lookup depends on the user.  RFC 7616 s.3.4
	 * makes qop, cnonce and nc mandatory: without them (the RFC 2069
	 * form) there is no count to stop a replay.
	 */
	if (!c->username || !c->realm || !c->nonce || !c->uri ||
	    !c->response || !token_ok(method) ||
	    c->qop == SIP_AUTH_QOP_NONE || !c->cnonce || !c->nc) {
		res = SIP_AUTH_MALFORMED;
		goto done;
	}
	ai = alg_get(c->alg);
	if (!ai || !(srv->algs & SIP_AUTH_ALG_BIT(c->alg)) ||
	    strcmp(c->realm, srv->realm) || c->qop != SIP_AUTH_QOP_AUTH ||
	    c->userhash) {
		GW_DBG("'%s': realm, algorithm or qop not offered",
		       c->username);
		res = SIP_AUTH_FAILED;
		goto done;
	}
	if (!hex_copy(got, c->response, 2 * ai->len)) {
		res = SIP_AUTH_MALFORMED;
		goto done;
	}
	now = gw_now_ms();
	ns = nonce_check(srv, c->nonce, now, &ts, &serial);
	if (ns == NONCE_BAD) {
		GW_DBG("'%s': nonce not ours", c->username);
		res = SIP_AUTH_FAILED;
		goto done;
	}

	err = lookuph(&sec, c->username, srv->realm, c->alg, arg);
	if (err && err != ENOENT)
		goto out;
	found = !err;
	err = verify_digest(&match, srv, method, c, got, &sec, found);
	if (err)
		goto out;
	if (!match) {
		GW_DBG("'%s': %s", c->username,
		       found ? "wrong digest" : "unknown user");
		res = SIP_AUTH_FAILED;
		goto done;
	}
	if (ns == NONCE_EXPIRED) {
		res = SIP_AUTH_STALE;
		goto done;
	}
	err = hash_join(key, GNUTLS_DIG_SHA256,
			(const char *[]){ c->nonce, c->username }, 2);
	if (err)
		goto out;
	res = replay_check(srv, key, ts, serial, c->nc, now);
	if (res == SIP_AUTH_FAILED)
		GW_DBG("'%s': nonce count %08x replayed", c->username,
		       (unsigned)c->nc);
 done:
	*resultp = res;
 out:
	gnutls_memset(&sec, 0, sizeof(sec));
	return err;
}

/**
 * Verify an Authorization / Proxy-Authorization value as
 * sip_auth_verify_cred does; text that does not parse as Digest
 * credentials is SIP_AUTH_MALFORMED, other schemes included (RFC 3261
 * s.22.4 forbids Basic).
 */
int sip_auth_verify(enum sip_auth_result *resultp,
		    struct sip_auth_server *srv, const char *method,
		    const char *text, sip_auth_lookup_h *lookuph, void *arg)
{
	struct sip_auth_cred *cred = NULL;
	int err;

	if (!resultp || !srv || !method || !text || !lookuph)
		return EINVAL;
	err = sip_auth_cred_parse(&cred, text);
	if (err == ENOMEM)
		return err;
	if (err) {
		*resultp = SIP_AUTH_MALFORMED;
		return 0;
	}
	err = sip_auth_verify_cred(resultp, srv, method, cred, lookuph, arg);
	gw_mem_deref(cred);
	return err;
}

/* ---- client ----------------------------------------------------------- */

/* How much a challenge is worth answering; -1: not at all. */
static int chal_rank(const struct sip_auth_chal *c)
{
	const struct alg_info *ai = alg_get(c->alg);
	unsigned usable = SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_AUTH) |
			  SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_AUTH_INT);

	if (!ai)
		return -1;
	if (c->qops && !(c->qops & usable))
		return -1;
	if (!c->qops && ai->sess)
		return -1;	/* -sess needs a cnonce, sent only with qop */
	return (ai->dig == GNUTLS_DIG_SHA256 ? 2 : 0) + (c->qops ? 1 : 0);
}

/**
 * Answer a 401/407: from the challenge values chals (the WWW- or
 * Proxy-Authenticate header fields of one realm) pick the strongest we
 * support (SHA-256 over MD5, qop over none; the first of equals), and
 * write an Authorization value into *credp.  qop=auth when offered, else
 * auth-int over body (NULL: empty), else the qop-less RFC 2617 form; a
 * random cnonce; the nonce count from cl (may be NULL: always 1), which is
 * updated on success.  Challenges that do not parse or that we cannot
 * answer are skipped: EBADMSG when none parsed, ENOTSUP when none was
 * usable.  A challenge asking for userhash gets the plain username.
 */
int sip_auth_respond(char **credp, struct sip_auth_client *cl,
		     const char *const *chals, size_t nchals,
		     const char *method, const char *uri,
		     const char *username, const char *password,
		     const void *body, size_t bodylen)
{
	struct sip_auth_chal *c = NULL, *best = NULL;
	struct sip_auth_digest d = { 0 };
	struct sip_auth_cred cr = { 0 };
	char resp[SIP_AUTH_HEX_MAX], cnonce[2 * CNONCE_BYTES + 1];
	uint8_t rnd[CNONCE_BYTES], id[32];
	int rank, best_rank = -1, err = 0;
	size_t i, nparsed = 0;
	uint32_t nc = 1;

	if (!credp || (!chals && nchals) || !token_ok(method) ||
	    !text_ok(uri) || !*uri || !text_ok(username) || !password)
		return EINVAL;
	for (i = 0; i < nchals; i++) {
		if (!chals[i])
			continue;
		c = NULL;
		err = sip_auth_chal_parse(&c, chals[i]);
		if (err == ENOMEM)
			goto out;
		err = 0;
		if (!c)
			continue;
		nparsed++;
		rank = chal_rank(c);
		if (rank > best_rank) {
			gw_mem_deref(best);
			best = c;
			best_rank = rank;
		} else {
			gw_mem_deref(c);
		}
	}
	if (!best) {
		err = nparsed ? ENOTSUP : EBADMSG;
		goto out;
	}

	if (best->qops & SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_AUTH))
		d.qop = SIP_AUTH_QOP_AUTH;
	else if (best->qops & SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_AUTH_INT))
		d.qop = SIP_AUTH_QOP_AUTH_INT;
	if (d.qop != SIP_AUTH_QOP_NONE) {
		err = hash_join(id, GNUTLS_DIG_SHA256,
				(const char *[]){ best->realm, best->nonce },
				2);
		if (err)
			goto out;
		if (cl && !memcmp(cl->nonce_id, id, sizeof(cl->nonce_id))) {
			if (cl->nc == UINT32_MAX) {
				err = EOVERFLOW;
				goto out;
			}
			nc = cl->nc + 1;
		}
		if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0) {
			err = EIO;
			goto out;
		}
		hexify(cnonce, rnd, sizeof(rnd));
		d.cnonce = cnonce;
		d.nc = nc;
	}
	d.alg = best->alg;
	d.username = username;
	d.realm = best->realm;
	d.password = password;
	d.nonce = best->nonce;
	d.method = method;
	d.uri = uri;
	d.body = body;
	d.bodylen = bodylen;
	err = sip_auth_response(resp, sizeof(resp), &d);
	if (err)
		goto out;

	cr.username = username;
	cr.realm = best->realm;
	cr.nonce = best->nonce;
	cr.uri = uri;
	cr.response = resp;
	cr.cnonce = d.cnonce;
	cr.opaque = best->opaque;
	cr.alg = best->alg;
	cr.qop = d.qop;
	cr.nc = d.nc;
	err = sip_auth_cred_print(credp, &cr);
	if (err)
		goto out;
	if (cl && d.qop != SIP_AUTH_QOP_NONE) {
		memcpy(cl->nonce_id, id, sizeof(cl->nonce_id));
		cl->nc = nc;
	}
	GW_DBG("answered realm '%s' with %s", best->realm,
	       alg_tab[best->alg].name);
 out:
	gw_mem_deref(best);
	return err;
}
