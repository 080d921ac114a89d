/* tests/unit/test_sip_auth.c - digest auth: RFC 7616/2617 vectors, UAS, UAC */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unit.h"
#include "auth.h"

/* RFC 7616 s.3.9.1: the worked example, with both algorithms. */
#define R7616_USER	"Mufasa"
#define R7616_PASS	"Circle of Life"	/* "of": erratum 4495 */
#define R7616_REALM	"http-auth@example.org"
#define R7616_NONCE	"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define R7616_CNONCE	"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
#define R7616_OPAQUE	"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
#define R7616_URI	"/dir/index.html"
#define R7616_MD5	"8ca523f5e9506fed4657c9700eebdbec"
#define R7616_SHA256 \
	"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"

/* The same inputs through the -sess variants and HA1 alone; not in the
 * RFC: computed independently with Python's hashlib. */
#define R7616_MD5_SESS	"e783283f46242139c486a698fec7211d"
#define R7616_SHA256_SESS \
	"2fd51b3a77ad75bad6afad6003e818d767133c46d9e2749e7f5232ae1ea3efd7"
#define R7616_HA1_MD5	"3d78807defe7de2157e2b0b6573a855f"
#define R7616_HA1_SHA256 \
	"7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"

/* RFC 2617 s.3.5 (password "Circle Of Life", capital O). */
#define R2617_REALM	"testrealm@host.com"
#define R2617_NONCE	"dcd98b7102dd2f0e8b11d0f600bfb0c093"
#define R2617_OPAQUE	"5ccc069c403ebaf9f0171e9517f40e41"
#define R2617_RESPONSE	"6629fae49393a05397450978507c4ef1"
/* The qop-less RFC 2069 form on RFC 2069's inputs (password
 * "CircleOfLife"), computed independently. */
#define R2069_RESPONSE	"1949323746fe6a43ef61f9606e7febea"

#define REALM "gw.example.net"
#define RURI "sip:7001@gw.example.net"

static const char r7616_chal_sha256[] =
	"Digest\r\n"
	"    realm=\"http-auth@example.org\",\r\n"
	"    qop=\"auth, auth-int\",\r\n"
	"    algorithm=SHA-256,\r\n"
	"    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n"
	"    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

static const char r7616_chal_md5[] =
	"Digest\r\n"
	"    realm=\"http-auth@example.org\",\r\n"
	"    qop=\"auth, auth-int\",\r\n"
	"    algorithm=MD5,\r\n"
	"    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n"
	"    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

static const char r7616_cred_md5[] =
	"Digest username=\"Mufasa\",\r\n"
	"    realm=\"http-auth@example.org\",\r\n"
	"    uri=\"/dir/index.html\",\r\n"
	"    algorithm=MD5,\r\n"
	"    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n"
	"    nc=00000001,\r\n"
	"    cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n"
	"    qop=auth,\r\n"
	"    response=\"8ca523f5e9506fed4657c9700eebdbec\",\r\n"
	"    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

static const char r7616_cred_sha256[] =
	"Digest username=\"Mufasa\",\r\n"
	"    realm=\"http-auth@example.org\",\r\n"
	"    uri=\"/dir/index.html\",\r\n"
	"    algorithm=SHA-256,\r\n"
	"    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n"
	"    nc=00000001,\r\n"
	"    cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n"
	"    qop=auth,\r\n"
	"    response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8"
	"db5856cb6c1\",\r\n"
	"    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

static const char r2617_cred[] =
	"Digest username=\"Mufasa\",\n"
	"                 realm=\"testrealm@host.com\",\n"
	"                 nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\n"
	"                 uri=\"/dir/index.html\",\n"
	"                 qop=auth,\n"
	"                 nc=00000001,\n"
	"                 cnonce=\"0a4f113b\",\n"
	"                 response=\"6629fae49393a05397450978507c4ef1\",\n"
	"                 opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

/* ---- a user database for the lookups ---------------------------------- */

struct user {
	const char *name;
	const char *password;
};

static const struct user users[] = {
	{ "alice", "wonderland" },
	{ "bob", "b0b-$ecret\"quoted\\" },
	{ "Mufasa", "Circle of Life" },
};

struct db {
	bool use_ha1;		/* hand back HA1, not the password */
	bool bad_ha1;		/* hand back an HA1 that is not hex */
	int fail;		/* return this instead */
	unsigned calls;
	unsigned found;
};

static int lookup(struct sip_auth_secret *sec, const char *username,
		  const char *realm, enum sip_auth_alg alg, void *arg)
{
	struct db *db = arg;
	size_t i;

	db->calls++;
	if (db->fail)
		return db->fail;
	for (i = 0; i < GW_ARRAY_SIZE(users); i++) {
		if (strcmp(users[i].name, username))
			continue;
		db->found++;
		if (db->bad_ha1) {
			strcpy(sec->ha1, "not hex at all");
			return 0;
		}
		if (!db->use_ha1) {
			sec->password = users[i].password;
			return 0;
		}
		return sip_auth_ha1(sec->ha1, sizeof(sec->ha1), alg, username,
				    realm, users[i].password);
	}
	return ENOENT;
}

/* ---- helpers ------------------------------------------------------------ */

static const char *const *cv(char *const *v)
{
	return (const char *const *)v;
}

static struct sip_auth_server *server(uint32_t ttl_ms)
{
	struct sip_auth_server *srv = NULL;

	assert_int_equal(sip_auth_server_alloc(&srv, REALM, ttl_ms), 0);
	assert_non_null(srv);
	return srv;
}

/* Challenge, answer as user/password through cl, return the credentials. */
static char *answer(struct sip_auth_server *srv, struct sip_auth_client *cl,
		    const char *user, const char *pass)
{
	struct sip_auth_chals *chals = NULL;
	char *cred = NULL;

	assert_int_equal(sip_auth_challenge(&chals, srv, false), 0);
	assert_int_equal(sip_auth_respond(&cred, cl, cv(chals->val), chals->n,
					  "INVITE", RURI, user, pass, NULL, 0),
			 0);
	gw_mem_deref(chals);
	return cred;
}

static enum sip_auth_result verify(struct sip_auth_server *srv,
				   const char *method, const char *cred,
				   struct db *db)
{
	enum sip_auth_result res = (enum sip_auth_result)-1;

	assert_int_equal(sip_auth_verify(&res, srv, method, cred, lookup, db),
			 0);
	return res;
}

/* The value of param in a header text (for looking, not parsing). */
static void param(char *out, size_t size, const char *text, const char *name)
{
	char key[32];
	const char *p;
	size_t n = 0;

	snprintf(key, sizeof(key), " %s=", name);
	p = strstr(text, key);
	if (!p) {
		snprintf(key, sizeof(key), ",%s=", name);
		p = strstr(text, key);
	}
	assert_non_null(p);
	p += strlen(key);
	if (*p == '"')
		p++;
	while (p[n] && p[n] != '"' && p[n] != ',' && n + 1 < size)
		n++;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* ---- the RFC examples --------------------------------------------------- */

static void rfc7616_digest(struct sip_auth_digest *d, enum sip_auth_alg alg)
{
	memset(d, 0, sizeof(*d));
	d->alg = alg;
	d->username = R7616_USER;
	d->realm = R7616_REALM;
	d->password = R7616_PASS;
	d->nonce = R7616_NONCE;
	d->cnonce = R7616_CNONCE;
	d->qop = SIP_AUTH_QOP_AUTH;
	d->nc = 1;
	d->method = "GET";
	d->uri = R7616_URI;
}

static void test_rfc7616_vectors(void **state)
{
	struct sip_auth_digest d;
	char hex[SIP_AUTH_HEX_MAX], ha1[SIP_AUTH_HEX_MAX];

	(void)state;
	rfc7616_digest(&d, SIP_AUTH_MD5);
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), 0);
	assert_string_equal(hex, R7616_MD5);
	rfc7616_digest(&d, SIP_AUTH_SHA256);
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), 0);
	assert_string_equal(hex, R7616_SHA256);
	rfc7616_digest(&d, SIP_AUTH_MD5_SESS);
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), 0);
	assert_string_equal(hex, R7616_MD5_SESS);
	rfc7616_digest(&d, SIP_AUTH_SHA256_SESS);
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), 0);
	assert_string_equal(hex, R7616_SHA256_SESS);

	/* the same through a stored HA1, upper case accepted */
	assert_int_equal(sip_auth_ha1(ha1, sizeof(ha1), SIP_AUTH_MD5,
				      R7616_USER, R7616_REALM, R7616_PASS), 0);
	assert_string_equal(ha1, R7616_HA1_MD5);
	assert_int_equal(sip_auth_ha1(ha1, sizeof(ha1), SIP_AUTH_SHA256,
				      R7616_USER, R7616_REALM, R7616_PASS), 0);
	assert_string_equal(ha1, R7616_HA1_SHA256);
	rfc7616_digest(&d, SIP_AUTH_SHA256);
	d.password = NULL;
	d.ha1 = "7987C64C30E25F1B74BE53F966B49B90F2808AA92FAF9A00262392D7"
		"B4794232";
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), 0);
	assert_string_equal(hex, R7616_SHA256);
	d.ha1 = R7616_HA1_MD5;		/* wrong length for SHA-256 */
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), EINVAL);

	/* bad inputs, and a buffer too small for SHA-256 */
	rfc7616_digest(&d, SIP_AUTH_SHA256);
	assert_int_equal(sip_auth_response(hex, 33, &d), EINVAL);
	d.alg = SIP_AUTH_ALG_UNKNOWN;
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), EINVAL);
	rfc7616_digest(&d, SIP_AUTH_MD5);
	d.cnonce = NULL;
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), EINVAL);
	d.qop = SIP_AUTH_QOP_OTHER;
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), EINVAL);
	assert_int_equal(sip_auth_ha1(ha1, sizeof(ha1), SIP_AUTH_ALG_UNKNOWN,
				      "u", "r", "p"), EINVAL);
}

static void test_rfc7616_headers(void **state)
{
	struct sip_auth_chal *chal = NULL;
	struct sip_auth_cred *cred = NULL;
	struct sip_auth_digest d;
	char hex[SIP_AUTH_HEX_MAX];
	const char *both[] = { r7616_chal_md5, r7616_chal_sha256 };
	char *text = NULL;
	char cnonce[64], resp[80], alg[32];

	(void)state;
	assert_int_equal(sip_auth_chal_parse(&chal, r7616_chal_sha256), 0);
	assert_string_equal(chal->realm, R7616_REALM);
	assert_string_equal(chal->nonce, R7616_NONCE);
	assert_string_equal(chal->opaque, R7616_OPAQUE);
	assert_int_equal(chal->alg, SIP_AUTH_SHA256);
	assert_int_equal(chal->qops, SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_AUTH) |
			 SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_AUTH_INT));
	assert_false(chal->stale);
	chal = gw_mem_deref(chal);

	/* parse the RFC's Authorization values; their responses are
	 * what we compute from their own fields */
	assert_int_equal(sip_auth_cred_parse(&cred, r7616_cred_md5), 0);
	assert_string_equal(cred->username, R7616_USER);
	assert_string_equal(cred->uri, R7616_URI);
	assert_string_equal(cred->cnonce, R7616_CNONCE);
	assert_string_equal(cred->opaque, R7616_OPAQUE);
	assert_int_equal(cred->alg, SIP_AUTH_MD5);
	assert_int_equal(cred->qop, SIP_AUTH_QOP_AUTH);
	assert_int_equal(cred->nc, 1);
	assert_string_equal(cred->response, R7616_MD5);
	rfc7616_digest(&d, cred->alg);
	d.nonce = cred->nonce;
	d.cnonce = cred->cnonce;
	d.uri = cred->uri;
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), 0);
	assert_string_equal(hex, cred->response);

	/* printed again, it reads the same */
	assert_int_equal(sip_auth_cred_print(&text, cred), 0);
	assert_string_equal(text,
		"Digest username=\"Mufasa\", realm=\"http-auth@example.org\", "
		"nonce=\"" R7616_NONCE "\", uri=\"/dir/index.html\", "
		"response=\"" R7616_MD5 "\", algorithm=MD5, "
		"cnonce=\"" R7616_CNONCE "\", opaque=\"" R7616_OPAQUE "\", "
		"qop=auth, nc=00000001");
	text = gw_mem_deref(text);
	cred = gw_mem_deref(cred);

	assert_int_equal(sip_auth_cred_parse(&cred, r7616_cred_sha256), 0);
	assert_int_equal(cred->alg, SIP_AUTH_SHA256);
	assert_string_equal(cred->response, R7616_SHA256);
	cred = gw_mem_deref(cred);

	/* our client, offered both, answers SHA-256 with a cnonce of its
	 * own; recomputed with that cnonce, the response holds */
	assert_int_equal(sip_auth_respond(&text, NULL, both, 2, "GET",
					  R7616_URI, R7616_USER, R7616_PASS,
					  NULL, 0), 0);
	param(alg, sizeof(alg), text, "algorithm");
	assert_string_equal(alg, "SHA-256");
	param(cnonce, sizeof(cnonce), text, "cnonce");
	param(resp, sizeof(resp), text, "response");
	assert_non_null(strstr(text, "opaque=\"" R7616_OPAQUE "\""));
	assert_non_null(strstr(text, "qop=auth, nc=00000001"));
	rfc7616_digest(&d, SIP_AUTH_SHA256);
	d.cnonce = cnonce;
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), 0);
	assert_string_equal(hex, resp);
	gw_mem_deref(text);
}

static void test_rfc2617_example(void **state)
{
	struct sip_auth_cred *cred = NULL;
	struct sip_auth_digest d = { 0 };
	char hex[SIP_AUTH_HEX_MAX];

	(void)state;
	assert_int_equal(sip_auth_cred_parse(&cred, r2617_cred), 0);
	assert_string_equal(cred->realm, R2617_REALM);
	assert_string_equal(cred->nonce, R2617_NONCE);
	assert_string_equal(cred->opaque, R2617_OPAQUE);
	assert_string_equal(cred->cnonce, "0a4f113b");
	assert_int_equal(cred->alg, SIP_AUTH_MD5);	/* absent: MD5 */
	d.alg = cred->alg;
	d.username = cred->username;
	d.realm = cred->realm;
	d.password = "Circle Of Life";
	d.nonce = cred->nonce;
	d.cnonce = cred->cnonce;
	d.qop = cred->qop;
	d.nc = cred->nc;
	d.method = "GET";
	d.uri = cred->uri;
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), 0);
	assert_string_equal(hex, R2617_RESPONSE);
	assert_string_equal(cred->response, R2617_RESPONSE);
	gw_mem_deref(cred);
}

/* A challenge without qop gets the RFC 2069 form (RFC 2617 s.3.2.2.1). */
static void test_qopless(void **state)
{
	static const char chal[] = "Digest realm=\"testrealm@host.com\", "
		"nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
		"opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
	const char *chals[] = { chal };
	struct sip_auth_client cl = { { 0 }, 0 };
	struct sip_auth_cred *cred = NULL;
	struct sip_auth_digest d = { 0 };
	char hex[SIP_AUTH_HEX_MAX];
	char *text = NULL;

	(void)state;
	d.alg = SIP_AUTH_MD5;
	d.username = "Mufasa";
	d.realm = R2617_REALM;
	d.password = "CircleOfLife";
	d.nonce = R2617_NONCE;
	d.method = "GET";
	d.uri = R7616_URI;
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), 0);
	assert_string_equal(hex, R2069_RESPONSE);

	assert_int_equal(sip_auth_respond(&text, &cl, chals, 1, "GET",
					  R7616_URI, "Mufasa", "CircleOfLife",
					  NULL, 0), 0);
	assert_string_equal(text,
		"Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
		"nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
		"uri=\"/dir/index.html\", response=\"" R2069_RESPONSE "\", "
		"algorithm=MD5, opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
	assert_int_equal(cl.nc, 0);	/* no count without qop */
	assert_int_equal(sip_auth_cred_parse(&cred, text), 0);
	assert_int_equal(cred->qop, SIP_AUTH_QOP_NONE);
	assert_null(cred->cnonce);
	gw_mem_deref(cred);
	gw_mem_deref(text);
}

/* ---- the server --------------------------------------------------------- */

static void test_challenge(void **state)
{
	struct sip_auth_server *srv = server(0);
	struct sip_auth_chals *chals = NULL;
	struct sip_auth_chal *a = NULL, *b = NULL;

	(void)state;
	assert_int_equal(sip_auth_challenge(&chals, srv, false), 0);
	assert_int_equal(chals->n, 2);
	assert_int_equal(sip_auth_chal_parse(&a, chals->val[0]), 0);
	assert_int_equal(sip_auth_chal_parse(&b, chals->val[1]), 0);
	assert_int_equal(a->alg, SIP_AUTH_SHA256);	/* strongest first */
	assert_int_equal(b->alg, SIP_AUTH_MD5);
	assert_string_equal(a->realm, REALM);
	assert_string_equal(a->nonce, b->nonce);	/* one nonce */
	assert_int_equal(strlen(a->nonce), 48);
	assert_int_equal(a->qops, SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_AUTH));
	assert_false(a->stale);
	assert_null(strstr(chals->val[0], "stale"));
	gw_mem_deref(a);
	gw_mem_deref(b);
	chals = gw_mem_deref(chals);

	/* each challenge has a new nonce; stale=true when asked */
	assert_int_equal(sip_auth_challenge(&chals, srv, true), 0);
	assert_non_null(strstr(chals->val[0], "stale=true"));
	assert_int_equal(sip_auth_chal_parse(&b, chals->val[1]), 0);
	assert_true(b->stale);
	gw_mem_deref(b);
	chals = gw_mem_deref(chals);

	/* what is offered can be narrowed */
	assert_int_equal(sip_auth_server_set_algs(srv, 0), EINVAL);
	assert_int_equal(sip_auth_server_set_algs(srv, 1u << 7), EINVAL);
	assert_int_equal(sip_auth_server_set_algs(srv,
		SIP_AUTH_ALG_BIT(SIP_AUTH_SHA256_SESS) |
		SIP_AUTH_ALG_BIT(SIP_AUTH_SHA256) |
		SIP_AUTH_ALG_BIT(SIP_AUTH_MD5) |
		SIP_AUTH_ALG_BIT(SIP_AUTH_MD5_SESS)), 0);
	assert_int_equal(sip_auth_challenge(&chals, srv, false), 0);
	assert_int_equal(chals->n, 4);
	assert_non_null(strstr(chals->val[0], "algorithm=SHA-256,"));
	assert_non_null(strstr(chals->val[1], "algorithm=SHA-256-sess"));
	assert_non_null(strstr(chals->val[2], "algorithm=MD5,"));
	assert_non_null(strstr(chals->val[3], "algorithm=MD5-sess"));
	gw_mem_deref(chals);

	gw_mem_deref(srv);
	assert_int_equal(sip_auth_server_alloc(&srv, "", 0), EINVAL);
	assert_int_equal(sip_auth_server_alloc(&srv, "a\r\nb", 0), EINVAL);
}

static void test_roundtrip(void **state)
{
	struct sip_auth_server *srv = server(0);
	struct sip_auth_client cl = { { 0 }, 0 };
	struct sip_auth_chals *chals = NULL;
	struct db db = { 0 };
	char *cred, *again;
	char nc[16];

	(void)state;
	/* alice, by password */
	cred = answer(srv, &cl, "alice", "wonderland");
	assert_non_null(strstr(cred, "algorithm=SHA-256,"));
	assert_int_equal(verify(srv, "INVITE", cred, &db), SIP_AUTH_OK);
	assert_int_equal(db.calls, 1);
	assert_int_equal(cl.nc, 1);

	/* the next request on the same nonce counts up */
	assert_int_equal(sip_auth_challenge(&chals, srv, false), 0);
	gw_mem_deref(cred);
	assert_int_equal(sip_auth_respond(&cred, &cl, cv(chals->val), 1,
					  "BYE", RURI, "alice", "wonderland",
					  NULL, 0), 0);
	assert_int_equal(sip_auth_respond(&again, &cl, cv(chals->val), 1,
					  "BYE", RURI, "alice", "wonderland",
					  NULL, 0), 0);
	param(nc, sizeof(nc), again, "nc");
	assert_string_equal(nc, "00000002");
	assert_int_equal(cl.nc, 2);
	assert_int_equal(verify(srv, "BYE", cred, &db), SIP_AUTH_OK);
	assert_int_equal(verify(srv, "BYE", again, &db), SIP_AUTH_OK);
	/* the method is part of the digest */
	gw_mem_deref(again);
	assert_int_equal(sip_auth_respond(&again, &cl, cv(chals->val), 1,
					  "BYE", RURI, "alice", "wonderland",
					  NULL, 0), 0);
	assert_int_equal(verify(srv, "INVITE", again, &db), SIP_AUTH_FAILED);
	gw_mem_deref(again);
	gw_mem_deref(cred);

	/* MD5 only, a password with quotes and backslashes */
	assert_int_equal(sip_auth_respond(&cred, NULL, cv(chals->val + 1), 1,
					  "REGISTER", "sip:" REALM, "bob",
					  users[1].password, NULL, 0), 0);
	assert_non_null(strstr(cred, "algorithm=MD5,"));
	assert_int_equal(verify(srv, "REGISTER", cred, &db), SIP_AUTH_OK);
	gw_mem_deref(cred);

	/* the lookup hands back HA1, for either hash */
	db.use_ha1 = true;
	cred = answer(srv, NULL, "bob", users[1].password);
	assert_int_equal(verify(srv, "INVITE", cred, &db), SIP_AUTH_OK);
	gw_mem_deref(cred);
	gw_mem_deref(chals);
	assert_int_equal(sip_auth_challenge(&chals, srv, false), 0);
	assert_int_equal(sip_auth_respond(&cred, NULL, cv(chals->val + 1), 1,
					  "INVITE", RURI, "alice",
					  "wonderland", NULL, 0), 0);
	assert_int_equal(verify(srv, "INVITE", cred, &db), SIP_AUTH_OK);
	gw_mem_deref(cred);
	gw_mem_deref(chals);

	/* the -sess variants, when offered */
	assert_int_equal(sip_auth_server_set_algs(srv,
		SIP_AUTH_ALG_BIT(SIP_AUTH_SHA256_SESS) |
		SIP_AUTH_ALG_BIT(SIP_AUTH_MD5_SESS)), 0);
	assert_int_equal(sip_auth_challenge(&chals, srv, false), 0);
	assert_int_equal(chals->n, 2);
	assert_int_equal(sip_auth_respond(&cred, NULL, cv(chals->val), 2,
					  "INVITE", RURI, "alice",
					  "wonderland", NULL, 0), 0);
	assert_non_null(strstr(cred, "algorithm=SHA-256-sess"));
	assert_int_equal(verify(srv, "INVITE", cred, &db), SIP_AUTH_OK);
	gw_mem_deref(cred);
	assert_int_equal(sip_auth_respond(&cred, NULL, cv(chals->val + 1), 1,
					  "INVITE", RURI, "bob",
					  users[1].password, NULL, 0), 0);
	assert_non_null(strstr(cred, "algorithm=MD5-sess"));
	assert_int_equal(verify(srv, "INVITE", cred, &db), SIP_AUTH_OK);
	gw_mem_deref(cred);
	gw_mem_deref(chals);
	gw_mem_deref(srv);
}

/* A wrong password and an unknown user get the same answer, after the
 * same work (the lookup is asked either way). */
static void test_wrong_password_unknown_user(void **state)
{
	struct sip_auth_server *srv = server(0);
	struct db db = { 0 };
	char *wrong, *unknown;

	(void)state;
	wrong = answer(srv, NULL, "alice", "looking-glass");
	unknown = answer(srv, NULL, "mallory", "looking-glass");
	assert_int_equal(verify(srv, "INVITE", wrong, &db), SIP_AUTH_FAILED);
	assert_int_equal(db.calls, 1);
	assert_int_equal(db.found, 1);
	assert_int_equal(verify(srv, "INVITE", unknown, &db),
			 SIP_AUTH_FAILED);
	assert_int_equal(db.calls, 2);
	assert_int_equal(db.found, 1);
	/* and the same with HA1 lookups */
	db.use_ha1 = true;
	gw_mem_deref(wrong);
	gw_mem_deref(unknown);
	wrong = answer(srv, NULL, "alice", "looking-glass");
	unknown = answer(srv, NULL, "mallory", "looking-glass");
	assert_int_equal(verify(srv, "INVITE", wrong, &db), SIP_AUTH_FAILED);
	assert_int_equal(verify(srv, "INVITE", unknown, &db),
			 SIP_AUTH_FAILED);
	/* an unknown user cannot get in with the dummy's empty password */
	gw_mem_deref(unknown);
	unknown = answer(srv, NULL, "mallory", "");
	assert_int_equal(verify(srv, "INVITE", unknown, &db),
			 SIP_AUTH_FAILED);
	/* a stored HA1 that is not hex fails as a wrong password would */
	gw_mem_deref(wrong);
	wrong = answer(srv, NULL, "alice", "wonderland");
	db.bad_ha1 = true;
	assert_int_equal(verify(srv, "INVITE", wrong, &db), SIP_AUTH_FAILED);
	gw_mem_deref(wrong);
	gw_mem_deref(unknown);
	gw_mem_deref(srv);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void test_expired_nonce(void **state)
{
	struct sip_auth_server *srv = server(1);	/* 1 ms */
	struct db db = { 0 };
	char *good, *bad;

	(void)state;
	good = answer(srv, NULL, "alice", "wonderland");
	bad = answer(srv, NULL, "alice", "looking-glass");
	sleep_ms(20);
	/* stale only with the right digest (RFC 7616 s.3.3) */
	assert_int_equal(verify(srv, "INVITE", good, &db), SIP_AUTH_STALE);
	assert_int_equal(verify(srv, "INVITE", bad, &db), SIP_AUTH_FAILED);
	gw_mem_deref(good);
	good = answer(srv, NULL, "mallory", "x");
	sleep_ms(20);
	assert_int_equal(verify(srv, "INVITE", good, &db), SIP_AUTH_FAILED);
	gw_mem_deref(good);
	gw_mem_deref(bad);
	gw_mem_deref(srv);
}

/* Replace the nonce in chal text with nonce. */
static char *with_nonce(const char *chal, const char *nonce)
{
	struct sip_auth_chal *c = NULL, copy;
	char *text = NULL;

	assert_int_equal(sip_auth_chal_parse(&c, chal), 0);
	copy = *c;
	copy.nonce = nonce;
	assert_int_equal(sip_auth_chal_print(&text, &copy), 0);
	gw_mem_deref(c);
	return text;
}

static void test_forged_nonce(void **state)
{
	struct sip_auth_server *srv = server(0), *other = server(0);
	struct sip_auth_chals *chals = NULL;
	struct sip_auth_chal *c = NULL;
	struct db db = { 0 };
	char nonce[64], *text, *cred;
	const char *one[1];
	static const size_t at[] = { 0, 5, 10, 20, 30, 47 };
	size_t i;

	(void)state;
	assert_int_equal(sip_auth_challenge(&chals, srv, false), 0);
	assert_int_equal(sip_auth_chal_parse(&c, chals->val[0]), 0);
	for (i = 0; i < GW_ARRAY_SIZE(at); i++) {
		/* one base64 digit changed: time, random part or MAC */
		strcpy(nonce, c->nonce);
		nonce[at[i]] = nonce[at[i]] == 'A' ? 'B' : 'A';
		text = with_nonce(chals->val[0], nonce);
		one[0] = text;
		assert_int_equal(sip_auth_respond(&cred, NULL, one, 1, "INVITE",
						  RURI, "alice", "wonderland",
						  NULL, 0), 0);
		assert_int_equal(verify(srv, "INVITE", cred, &db),
				 SIP_AUTH_FAILED);
		gw_mem_deref(cred);
		gw_mem_deref(text);
	}
	/* too short, too long, not base64, empty */
	for (i = 0; i < 4; i++) {
		const char *n[] = {
			"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
			"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v7ypfxlj9",
			"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v_-*.",
			"",
		};
		text = with_nonce(chals->val[0], n[i]);
		one[0] = text;
		assert_int_equal(sip_auth_respond(&cred, NULL, one, 1, "INVITE",
						  RURI, "alice", "wonderland",
						  NULL, 0), 0);
		assert_int_equal(verify(srv, "INVITE", cred, &db),
				 SIP_AUTH_FAILED);
		gw_mem_deref(cred);
		gw_mem_deref(text);
	}
	assert_int_equal(db.calls, 0);	/* refused before any lookup */
	/* another server's nonce, right in every other way */
	cred = answer(other, NULL, "alice", "wonderland");
	assert_int_equal(verify(srv, "INVITE", cred, &db), SIP_AUTH_FAILED);
	assert_int_equal(verify(other, "INVITE", cred, &db), SIP_AUTH_OK);
	gw_mem_deref(cred);
	gw_mem_deref(c);
	gw_mem_deref(chals);
	gw_mem_deref(other);
	gw_mem_deref(srv);
}

static void test_replay(void **state)
{
	struct sip_auth_server *srv = server(0);
	struct sip_auth_client cl = { { 0 }, 0 }, bob = { { 0 }, 0 };
	struct sip_auth_chals *chals = NULL;
	struct db db = { 0 };
	char *c1, *c2, *c3, *b1;

	(void)state;
	assert_int_equal(sip_auth_challenge(&chals, srv, false), 0);
	assert_int_equal(sip_auth_respond(&c1, &cl, cv(chals->val), 1, "INVITE",
					  RURI, "alice", "wonderland",
					  NULL, 0), 0);
	assert_int_equal(sip_auth_respond(&c2, &cl, cv(chals->val), 1, "INVITE",
					  RURI, "alice", "wonderland",
					  NULL, 0), 0);
	assert_int_equal(sip_auth_respond(&c3, &cl, cv(chals->val), 1, "INVITE",
					  RURI, "alice", "wonderland",
					  NULL, 0), 0);
	/* another user on the same nonce counts on his own */
	assert_int_equal(sip_auth_respond(&b1, &bob, cv(chals->val), 1,
					  "INVITE", RURI, "bob",
					  users[1].password, NULL, 0), 0);

	assert_int_equal(verify(srv, "INVITE", c1, &db), SIP_AUTH_OK);
	assert_int_equal(verify(srv, "INVITE", c1, &db), SIP_AUTH_FAILED);
	assert_int_equal(verify(srv, "INVITE", c3, &db), SIP_AUTH_OK);
	/* a count below the highest seen is a replay too */
	assert_int_equal(verify(srv, "INVITE", c2, &db), SIP_AUTH_FAILED);
	assert_int_equal(verify(srv, "INVITE", c3, &db), SIP_AUTH_FAILED);
	assert_int_equal(verify(srv, "INVITE", b1, &db), SIP_AUTH_OK);
	assert_int_equal(verify(srv, "INVITE", b1, &db), SIP_AUTH_FAILED);
	gw_mem_deref(c1);
	gw_mem_deref(c2);
	gw_mem_deref(c3);
	gw_mem_deref(b1);
	gw_mem_deref(chals);
	gw_mem_deref(srv);
}

/* More (nonce, user) pairs than the table holds: what fell out cannot be
 * replayed; it gets STALE at worst. */
static void test_replay_table_bound(void **state)
{
	struct sip_auth_server *srv = server(0);
	struct sip_auth_client cl = { { 0 }, 0 };
	struct sip_auth_chals *chals = NULL;
	struct db db = { 0 };
	char *first, *next, *cred;
	unsigned i, stale = 0;
	enum sip_auth_result res;

	(void)state;
	assert_int_equal(sip_auth_challenge(&chals, srv, false), 0);
	assert_int_equal(sip_auth_respond(&first, &cl, cv(chals->val), 1,
					  "INVITE", RURI, "alice",
					  "wonderland", NULL, 0), 0);
	assert_int_equal(sip_auth_respond(&next, &cl, cv(chals->val), 1,
					  "INVITE", RURI, "alice",
					  "wonderland", NULL, 0), 0);
	assert_int_equal(verify(srv, "INVITE", first, &db), SIP_AUTH_OK);
	sleep_ms(2);	/* later nonces are newer to the millisecond */
	for (i = 0; i < 4 * SIP_AUTH_REPLAY_SLOTS; i++) {
		cred = answer(srv, NULL, "alice", "wonderland");
		res = verify(srv, "INVITE", cred, &db);
		assert_true(res == SIP_AUTH_OK || res == SIP_AUTH_STALE);
		stale += res == SIP_AUTH_STALE;
		gw_mem_deref(cred);
	}
	/* fresh nonces, newer than anything evicted, never went stale */
	assert_int_equal(stale, 0);
	res = verify(srv, "INVITE", first, &db);
	assert_true(res == SIP_AUTH_FAILED || res == SIP_AUTH_STALE);
	res = verify(srv, "INVITE", next, &db);
	assert_true(res == SIP_AUTH_OK || res == SIP_AUTH_STALE);
	res = verify(srv, "INVITE", first, &db);
	assert_true(res == SIP_AUTH_FAILED || res == SIP_AUTH_STALE);
	gw_mem_deref(first);
	gw_mem_deref(next);
	gw_mem_deref(chals);
	gw_mem_deref(srv);
}

/* Credentials we refuse although they parse. */
static void test_verify_refusals(void **state)
{
	struct sip_auth_server *srv = server(0);
	struct sip_auth_chals *chals = NULL;
	struct sip_auth_chal *c = NULL, copy;
	struct sip_auth_cred *cred = NULL, mod;
	struct db db = { 0 };
	enum sip_auth_result res = SIP_AUTH_OK;
	char *text, *out;
	const char *one[1];

	(void)state;
	assert_int_equal(sip_auth_challenge(&chals, srv, false), 0);

	/* another realm */
	assert_int_equal(sip_auth_chal_parse(&c, chals->val[0]), 0);
	copy = *c;
	copy.realm = "elsewhere.example";
	assert_int_equal(sip_auth_chal_print(&text, &copy), 0);
	one[0] = text;
	assert_int_equal(sip_auth_respond(&out, NULL, one, 1, "INVITE", RURI,
					  "alice", "wonderland", NULL, 0), 0);
	assert_int_equal(verify(srv, "INVITE", out, &db), SIP_AUTH_FAILED);
	gw_mem_deref(out);
	gw_mem_deref(text);

	/* no qop (RFC 2069 form): RFC 7616 s.3.4 requires qop, cnonce and
	 * nc, and without a count there is no replay guard */
	copy = *c;
	copy.qops = 0;
	assert_int_equal(sip_auth_chal_print(&text, &copy), 0);
	one[0] = text;
	assert_int_equal(sip_auth_respond(&out, NULL, one, 1, "INVITE", RURI,
					  "alice", "wonderland", NULL, 0), 0);
	assert_int_equal(verify(srv, "INVITE", out, &db), SIP_AUTH_MALFORMED);
	gw_mem_deref(out);
	gw_mem_deref(text);

	/* auth-int, which we do not offer */
	copy = *c;
	copy.qops = SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_AUTH_INT);
	assert_int_equal(sip_auth_chal_print(&text, &copy), 0);
	one[0] = text;
	assert_int_equal(sip_auth_respond(&out, NULL, one, 1, "INVITE", RURI,
					  "alice", "wonderland", "v=0\r\n", 5),
			 0);
	assert_non_null(strstr(out, "qop=auth-int"));
	assert_int_equal(verify(srv, "INVITE", out, &db), SIP_AUTH_FAILED);
	gw_mem_deref(out);
	gw_mem_deref(text);

	/* an algorithm not offered */
	copy = *c;
	copy.alg = SIP_AUTH_MD5_SESS;
	assert_int_equal(sip_auth_chal_print(&text, &copy), 0);
	one[0] = text;
	assert_int_equal(sip_auth_respond(&out, NULL, one, 1, "INVITE", RURI,
					  "alice", "wonderland", NULL, 0), 0);
	assert_int_equal(verify(srv, "INVITE", out, &db), SIP_AUTH_FAILED);
	gw_mem_deref(out);
	gw_mem_deref(text);
	assert_int_equal(sip_auth_server_set_algs(srv,
		SIP_AUTH_ALG_BIT(SIP_AUTH_SHA256)), 0);
	assert_int_equal(sip_auth_respond(&out, NULL, cv(chals->val + 1), 1,
					  "INVITE", RURI, "alice",
					  "wonderland", NULL, 0), 0);
	assert_int_equal(verify(srv, "INVITE", out, &db), SIP_AUTH_FAILED);
	gw_mem_deref(out);

	/* userhash, a wrong-length response, a bad method */
	assert_int_equal(sip_auth_respond(&out, NULL, cv(chals->val), 1,
					  "INVITE", RURI, "alice",
					  "wonderland", NULL, 0), 0);
	assert_int_equal(sip_auth_cred_parse(&cred, out), 0);
	mod = *cred;
	mod.userhash = true;
	assert_int_equal(sip_auth_verify_cred(&res, srv, "INVITE", &mod,
					      lookup, &db), 0);
	assert_int_equal(res, SIP_AUTH_FAILED);
	mod = *cred;
	mod.response = R7616_MD5;
	assert_int_equal(sip_auth_verify_cred(&res, srv, "INVITE", &mod,
					      lookup, &db), 0);
	assert_int_equal(res, SIP_AUTH_MALFORMED);
	mod = *cred;
	mod.response = "zz345678901234567890123456789012"
		       "34567890123456789012345678901234";
	assert_int_equal(sip_auth_verify_cred(&res, srv, "INVITE", &mod,
					      lookup, &db), 0);
	assert_int_equal(res, SIP_AUTH_MALFORMED);
	mod = *cred;
	mod.cnonce = NULL;
	assert_int_equal(sip_auth_verify_cred(&res, srv, "INVITE", &mod,
					      lookup, &db), 0);
	assert_int_equal(res, SIP_AUTH_MALFORMED);
	assert_int_equal(sip_auth_verify_cred(&res, srv, "IN VITE", cred,
					      lookup, &db), 0);
	assert_int_equal(res, SIP_AUTH_MALFORMED);
	/* a response in upper case is the same response */
	{
		char upper[SIP_AUTH_HEX_MAX];
		size_t i;

		for (i = 0; cred->response[i]; i++)
			upper[i] = (char)(cred->response[i] >= 'a' ?
					  cred->response[i] - 32 :
					  cred->response[i]);
		upper[i] = '\0';
		mod = *cred;
		mod.response = upper;
		assert_int_equal(sip_auth_verify_cred(&res, srv, "INVITE",
						      &mod, lookup, &db), 0);
		assert_int_equal(res, SIP_AUTH_OK);
	}

	/* a lookup that fails passes its error up, no verdict */
	db.fail = EIO;
	res = SIP_AUTH_MALFORMED;
	assert_int_equal(sip_auth_verify(&res, srv, "INVITE", out, lookup,
					 &db), EIO);
	assert_int_equal(res, SIP_AUTH_MALFORMED);
	assert_int_equal(sip_auth_verify(NULL, srv, "INVITE", out, lookup,
					 &db), EINVAL);
	assert_int_equal(sip_auth_verify(&res, srv, "INVITE", out, NULL,
					 &db), EINVAL);
	gw_mem_deref(cred);
	gw_mem_deref(out);
	gw_mem_deref(c);
	gw_mem_deref(chals);
	gw_mem_deref(srv);
}

/* ---- parsing ------------------------------------------------------------ */

static void test_parse_forms(void **state)
{
	struct sip_auth_chal *c = NULL;
	struct sip_auth_cred *r = NULL;
	char *text = NULL;

	(void)state;
	/* any order, any case, unknown parameters, tokens or quoted
	 * strings, escapes, empty list elements */
	assert_int_equal(sip_auth_chal_parse(&c,
		"  digest ,QOP=\"auth-int ,, x-future\", future=token,"
		"ALGORITHM=\"sha-256-SESS\" , nonce=abc.def ,"
		" stale=TRUE,realm=\"say \\\"hi\\\\\" , "
		"extra=\"with, comma\", userhash=true,,"), 0);
	assert_string_equal(c->realm, "say \"hi\\");
	assert_string_equal(c->nonce, "abc.def");
	assert_null(c->opaque);
	assert_int_equal(c->alg, SIP_AUTH_SHA256_SESS);
	assert_int_equal(c->qops, SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_AUTH_INT) |
			 SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_OTHER));
	assert_true(c->stale);
	assert_true(c->userhash);
	assert_int_equal(sip_auth_chal_print(&text, c), 0);
	assert_string_equal(text, "Digest realm=\"say \\\"hi\\\\\", "
			    "nonce=\"abc.def\", stale=true, "
			    "algorithm=SHA-256-sess, qop=\"auth-int\", "
			    "userhash=true");
	c = gw_mem_deref(c);
	/* what we print, we read back the same */
	assert_int_equal(sip_auth_chal_parse(&c, text), 0);
	assert_string_equal(c->realm, "say \"hi\\");
	c = gw_mem_deref(c);
	text = gw_mem_deref(text);

	/* the defaults; an unknown algorithm parses as such */
	assert_int_equal(sip_auth_chal_parse(&c,
		"Digest realm=\"\",nonce=\"n\",algorithm=SHA-512-256,"
		"stale=no"), 0);
	assert_string_equal(c->realm, "");
	assert_int_equal(c->alg, SIP_AUTH_ALG_UNKNOWN);
	assert_false(c->stale);
	assert_int_equal(c->qops, 0);
	c = gw_mem_deref(c);
	assert_int_equal(sip_auth_chal_parse(&c, "Digest realm=r,nonce=n"), 0);
	assert_int_equal(c->alg, SIP_AUTH_MD5);
	c = gw_mem_deref(c);
	/* qop="" is present but offers nothing */
	assert_int_equal(sip_auth_chal_parse(&c,
		"Digest realm=r,nonce=n,qop=\"\""), 0);
	assert_int_equal(c->qops, SIP_AUTH_QOP_BIT(SIP_AUTH_QOP_OTHER));
	c = gw_mem_deref(c);

	/* credentials: quoted qop and nc, upper-case hex, unknown ones */
	assert_int_equal(sip_auth_cred_parse(&r,
		"DIGEST nc=\"0000000A\", response=\"ABCDEF0123\", "
		"qop=\"auth\", cnonce=c, uri=\"sip:a@b;transport=tcp\", "
		"username=\"u\", nonce=n, realm=r, auts=\"x\""), 0);
	assert_int_equal(r->nc, 10);
	assert_int_equal(r->qop, SIP_AUTH_QOP_AUTH);
	assert_string_equal(r->response, "abcdef0123");
	assert_string_equal(r->uri, "sip:a@b;transport=tcp");
	assert_int_equal(r->alg, SIP_AUTH_MD5);
	r = gw_mem_deref(r);
	/* no qop: nc and cnonce do not count */
	assert_int_equal(sip_auth_cred_parse(&r,
		"Digest username=u,realm=r,nonce=n,uri=\"/\",response=00,"
		"nc=00000001"), 0);
	assert_int_equal(r->qop, SIP_AUTH_QOP_NONE);
	assert_int_equal(r->nc, 0);
	r = gw_mem_deref(r);
	assert_int_equal(sip_auth_cred_parse(&r,
		"Digest username=u,realm=r,nonce=n,uri=\"/\",response=00,"
		"qop=auth-conf,nc=00000001,cnonce=x,algorithm=AKAv1-MD5"), 0);
	assert_int_equal(r->qop, SIP_AUTH_QOP_OTHER);
	assert_int_equal(r->alg, SIP_AUTH_ALG_UNKNOWN);
	r = gw_mem_deref(r);

	/* printing refuses what cannot go on the wire */
	{
		struct sip_auth_chal bad = { 0 };

		bad.realm = "a\r\nVia: evil";
		bad.nonce = "n";
		assert_int_equal(sip_auth_chal_print(&text, &bad), EINVAL);
		bad.realm = "r";
		bad.alg = SIP_AUTH_ALG_UNKNOWN;
		assert_int_equal(sip_auth_chal_print(&text, &bad), EINVAL);
		bad.alg = SIP_AUTH_MD5;
		bad.nonce = NULL;
		assert_int_equal(sip_auth_chal_print(&text, &bad), EINVAL);
	}
	assert_int_equal(sip_auth_chal_parse(NULL, "Digest"), EINVAL);
	assert_int_equal(sip_auth_cred_parse(&r, NULL), EINVAL);
	assert_null(text);
	assert_null(r);
}

static const char *const bad_chals[] = {
	"",
	"   ",
	"Digest",
	"Digest ",
	"Digest realm=\"r\"",			/* no nonce */
	"Digest nonce=\"n\"",			/* no realm */
	"Digest realm=\"r\", nonce=\"n\", realm=\"s\"",	/* twice */
	"Digest realm=\"r\", nonce=\"n\", NONCE=\"m\"",
	"Digest realm=\"r\", nonce=\"n\", stale=true, stale=false",
	"Digest realm=\"r, nonce=\"n\"",	/* runs to the end */
	"Digest realm=\"r\" nonce=\"n\"",	/* no comma */
	"Digest realm=\"r\", nonce=",
	"Digest realm=\"r\", nonce",
	"Digest realm=\"r\", =\"n\"",
	"Digest realm=\"r\", nonce==\"n\"",
	"Digest realm=\"r\", nonce=\"n\"x",
	"Digest realm=\"r\", nonce=\"n\\",
	"Digest realm=\"r\\\r\", nonce=\"n\"",	/* escaped CR */
	"Digest realm=\"r\x01\", nonce=\"n\"",	/* control character */
	"Digest realm=\"r\x7f\", nonce=\"n\"",
	"Digest realm=r/s, nonce=n",		/* not a token */
	"Digest realm=\"r\";nonce=\"n\"",
	"Digest\"realm\"=\"r\", nonce=\"n\"",
	"\"Digest\" realm=\"r\", nonce=\"n\"",
	"Digest realm=\"r\", nonce=\"n\", opaque=\"o\"\"",
	"Digest realm=\"r\", nonce=\"n\", ,=",
	"=Digest",
	",",
};

static const char *const bad_creds[] = {
	"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\"",
	"Digest realm=\"r\", nonce=\"n\", uri=\"/\", response=\"00\"",
	"Digest username=\"u\", nonce=\"n\", uri=\"/\", response=\"00\"",
	"Digest username=\"u\", realm=\"r\", uri=\"/\", response=\"00\"",
	"Digest username=\"u\", realm=\"r\", nonce=\"n\", response=\"00\"",
	"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", "
	"response=\"0g\"",
	"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", "
	"response=\"\"",
	"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", "
	"response=\"00\", qop=auth",				/* no nc */
	"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", "
	"response=\"00\", qop=auth, nc=00000001",		/* no cnonce */
	"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", "
	"response=\"00\", qop=auth, nc=00000000, cnonce=c",	/* nc 0 */
	"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", "
	"response=\"00\", qop=auth, nc=1, cnonce=c",		/* not 8 */
	"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", "
	"response=\"00\", qop=auth, nc=0000000g, cnonce=c",
	"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", "
	"response=\"00\", qop=auth, nc=000000001, cnonce=c",
	"Digest username=\"u\", username=\"v\", realm=\"r\", nonce=\"n\", "
	"uri=\"/\", response=\"00\"",
	"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", "
	"response=\"00\", response=\"00\"",
	"Digest username*=UTF-8''u, realm=\"r\", nonce=\"n\", uri=\"/\", "
	"response=\"00\"",
	"Digest username=\"u\r\n\", realm=\"r\", nonce=\"n\", uri=\"/\", "
	"response=\"00\"",
	"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=sip:a@b, "
	"response=\"00\"",
};

static void test_malformed(void **state)
{
	struct sip_auth_server *srv = server(0);
	struct sip_auth_chal *c = NULL;
	struct sip_auth_cred *r = NULL;
	struct db db = { 0 };
	char *big;
	size_t i;
	int err;

	(void)state;
	for (i = 0; i < GW_ARRAY_SIZE(bad_chals); i++) {
		err = sip_auth_chal_parse(&c, bad_chals[i]);
		if (err != EBADMSG)
			print_error("chal %zu: %d\n", i, err);
		assert_int_equal(err, EBADMSG);
		assert_null(c);
		assert_int_equal(sip_auth_cred_parse(&r, bad_chals[i]),
				 EBADMSG);
		assert_int_equal(verify(srv, "INVITE", bad_chals[i], &db),
				 SIP_AUTH_MALFORMED);
	}
	for (i = 0; i < GW_ARRAY_SIZE(bad_creds); i++) {
		err = sip_auth_cred_parse(&r, bad_creds[i]);
		if (err != EBADMSG)
			print_error("cred %zu: %d\n", i, err);
		assert_int_equal(err, EBADMSG);
		assert_null(r);
		assert_int_equal(verify(srv, "INVITE", bad_creds[i], &db),
				 SIP_AUTH_MALFORMED);
	}
	/* other schemes: not ours */
	assert_int_equal(sip_auth_chal_parse(&c, "Basic realm=\"r\""),
			 ENOTSUP);
	assert_int_equal(sip_auth_cred_parse(&r,
		"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="), ENOTSUP);
	assert_int_equal(verify(srv, "INVITE",
				"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &db),
			 SIP_AUTH_MALFORMED);
	assert_int_equal(verify(srv, "INVITE", "Digestive realm=r", &db),
			 SIP_AUTH_MALFORMED);
	/* too long */
	big = calloc(1, SIP_AUTH_TEXT_MAX + 64);
	assert_non_null(big);
	strcpy(big, "Digest realm=\"r\", nonce=\"n\", opaque=\"");
	memset(big + strlen(big), 'x', SIP_AUTH_TEXT_MAX);
	strcat(big, "\"");
	assert_int_equal(sip_auth_chal_parse(&c, big), EMSGSIZE);
	assert_int_equal(verify(srv, "INVITE", big, &db), SIP_AUTH_MALFORMED);
	free(big);
	assert_int_equal(db.calls, 0);
	gw_mem_deref(srv);
}

/* Every prefix of a valid header is refused, none crashes or leaks. */
static void test_truncated(void **state)
{
	struct sip_auth_server *srv = server(0);
	struct sip_auth_chals *chals = NULL;
	struct sip_auth_chal *c = NULL;
	struct db db = { 0 };
	char *cred, *cut;
	size_t len, i;
	int err;

	(void)state;
	cred = answer(srv, NULL, "alice", "wonderland");
	len = strlen(cred);
	cut = malloc(len + 1);
	assert_non_null(cut);
	for (i = 0; i < len; i++) {
		memcpy(cut, cred, i);
		cut[i] = '\0';
		assert_int_equal(verify(srv, "INVITE", cut, &db),
				 SIP_AUTH_MALFORMED);
	}
	free(cut);
	assert_int_equal(db.calls, 0);
	assert_int_equal(verify(srv, "INVITE", cred, &db), SIP_AUTH_OK);
	gw_mem_deref(cred);

	assert_int_equal(sip_auth_challenge(&chals, srv, false), 0);
	len = strlen(chals->val[0]);
	cut = malloc(len + 1);
	assert_non_null(cut);
	for (i = 0; i < len; i++) {
		memcpy(cut, chals->val[0], i);
		cut[i] = '\0';
		c = NULL;
		err = sip_auth_chal_parse(&c, cut);
		/* a cut after the nonce's closing quote still holds
		 * realm and nonce; "Diges" is some other scheme */
		if (!err) {
			assert_string_equal(c->realm, REALM);
			assert_int_equal(strlen(c->nonce), 48);
			gw_mem_deref(c);
		} else if (i > 0 && i < 6) {
			assert_int_equal(err, ENOTSUP);
		} else {
			assert_int_equal(err, EBADMSG);
		}
	}
	free(cut);
	gw_mem_deref(chals);
	gw_mem_deref(srv);
}

/* Random bytes and random damage to valid headers. */
static void test_fuzz(void **state)
{
	struct sip_auth_server *srv = server(0);
	struct sip_auth_chal *c = NULL;
	struct sip_auth_cred *r = NULL;
	struct db db = { 0 };
	enum sip_auth_result res;
	const char *one[1];
	char *cred, *out = NULL, buf[400];
	unsigned seed = 7, i, j, n;
	size_t len;
	int err;

	(void)state;
	cred = answer(srv, NULL, "alice", "wonderland");
	len = strlen(cred);
	assert_true(len < sizeof(buf));
	for (i = 0; i < 20000; i++) {
		if (i % 2) {
			n = (unsigned)(rand_r(&seed) % 120);
			for (j = 0; j < n; j++)
				buf[j] = (char)(rand_r(&seed) % 255 + 1);
			buf[n] = '\0';
		} else {
			memcpy(buf, cred, len + 1);
			n = (unsigned)(rand_r(&seed) % 4 + 1);
			for (j = 0; j < n; j++)
				buf[rand_r(&seed) % len] =
					"\"\\,= \r\x01\x7f\xff" "aA0/"
					[rand_r(&seed) % 13];
		}
		err = sip_auth_chal_parse(&c, buf);
		assert_true(err == 0 || err == EBADMSG || err == ENOTSUP);
		c = gw_mem_deref(c);
		err = sip_auth_cred_parse(&r, buf);
		assert_true(err == 0 || err == EBADMSG || err == ENOTSUP);
		r = gw_mem_deref(r);
		res = verify(srv, "INVITE", buf, &db);
		assert_true(res <= SIP_AUTH_MALFORMED);
		one[0] = buf;
		err = sip_auth_respond(&out, NULL, one, 1, "INVITE", RURI,
				       "alice", "wonderland", NULL, 0);
		assert_true(err == 0 || err == EBADMSG || err == ENOTSUP);
		out = gw_mem_deref(out);
	}
	gw_mem_deref(cred);
	gw_mem_deref(srv);
}

/* ---- the client --------------------------------------------------------- */

/* Answer as "u" with password "p"; the errno. */
static int respond(char **textp, const char *const *list, size_t n)
{
	return sip_auth_respond(textp, NULL, list, n, "INVITE", RURI, "u", "p",
				NULL, 0);
}

/* The nonce of the challenge that respond picks from list. */
static void picks(const char *const *list, size_t n, const char *nonce)
{
	char *text = NULL, v[80];

	assert_int_equal(respond(&text, list, n), 0);
	param(v, sizeof(v), text, "nonce");
	assert_string_equal(v, nonce);
	gw_mem_deref(text);
}

static void test_respond_choice(void **state)
{
	static const char md5[] =
		"Digest realm=\"r\", nonce=\"n1\", qop=\"auth\"";
	static const char sha[] =
		"Digest realm=\"r\", nonce=\"n2\", qop=\"auth\", "
		"algorithm=SHA-256";
	static const char sha_noqop[] =
		"Digest realm=\"r\", nonce=\"n5\", algorithm=SHA-256";
	static const char unknown[] =
		"Digest realm=\"r\", nonce=\"n3\", qop=\"auth\", "
		"algorithm=SHA-512-256";
	static const char sess_noqop[] =
		"Digest realm=\"r\", nonce=\"n4\", algorithm=MD5-sess";
	static const char qop_other[] =
		"Digest realm=\"r\", nonce=\"n6\", qop=\"auth-conf\"";
	static const char uh[] =
		"Digest realm=\"r\", nonce=\"n7\", qop=\"auth\", userhash=true";
	static const char basic[] = "Basic realm=\"r\"";
	const char *strong[] = { md5, sha };
	const char *noqop[] = { sha_noqop, md5 };	/* the hash first */
	const char *skip[] = { unknown, "garbage", NULL, basic, md5 };
	const char *none[] = { unknown, sess_noqop, qop_other, basic };
	const char *bad[] = { "garbage", "Digest realm=r" };
	const char *one[] = { uh };
	char *text = NULL;

	(void)state;
	picks(strong, 2, "n2");
	picks(noqop, 2, "n5");
	picks(skip, 5, "n1");
	assert_int_equal(respond(&text, none, 4), ENOTSUP);
	assert_int_equal(respond(&text, bad, 2), EBADMSG);
	assert_int_equal(respond(&text, bad, 0), EBADMSG);
	assert_int_equal(respond(&text, NULL, 1), EINVAL);

	/* userhash asked for: the plain username, no userhash */
	assert_int_equal(respond(&text, one, 1), 0);
	assert_non_null(strstr(text, "username=\"u\""));
	assert_null(strstr(text, "userhash"));
	text = gw_mem_deref(text);

	/* inputs that cannot go on the wire */
	one[0] = md5;
	assert_int_equal(sip_auth_respond(&text, NULL, one, 1, "IN VITE",
					  RURI, "u", "p", NULL, 0), EINVAL);
	assert_int_equal(sip_auth_respond(&text, NULL, one, 1, "INVITE",
					  "sip:a\r\nb", "u", "p", NULL, 0),
			 EINVAL);
	assert_int_equal(sip_auth_respond(&text, NULL, one, 1, "INVITE",
					  RURI, "u\n", "p", NULL, 0), EINVAL);
	assert_int_equal(sip_auth_respond(&text, NULL, one, 1, "INVITE",
					  RURI, "u", NULL, NULL, 0), EINVAL);
	assert_null(text);
}

/* auth-int covers the body (RFC 7616 s.3.4.3). */
static void test_respond_auth_int(void **state)
{
	static const char chal[] =
		"Digest realm=\"r\", nonce=\"nn\", qop=\"auth-int\", "
		"algorithm=SHA-256";
	static const char body[] = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n";
	const char *list[] = { chal };
	struct sip_auth_cred *cr = NULL;
	struct sip_auth_digest d = { 0 };
	char hex[SIP_AUTH_HEX_MAX], *text = NULL;

	(void)state;
	assert_int_equal(sip_auth_respond(&text, NULL, list, 1, "INVITE", RURI,
					  "u", "p", body, strlen(body)), 0);
	assert_int_equal(sip_auth_cred_parse(&cr, text), 0);
	assert_int_equal(cr->qop, SIP_AUTH_QOP_AUTH_INT);
	d.alg = SIP_AUTH_SHA256;
	d.username = "u";
	d.realm = "r";
	d.password = "p";
	d.nonce = "nn";
	d.cnonce = cr->cnonce;
	d.qop = SIP_AUTH_QOP_AUTH_INT;
	d.nc = 1;
	d.method = "INVITE";
	d.uri = RURI;
	d.body = body;
	d.bodylen = strlen(body);
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), 0);
	assert_string_equal(hex, cr->response);
	/* another body, another digest; no body hashes as "" */
	d.bodylen--;
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), 0);
	assert_string_not_equal(hex, cr->response);
	gw_mem_deref(cr);
	gw_mem_deref(text);
	assert_int_equal(sip_auth_respond(&text, NULL, list, 1, "BYE", RURI,
					  "u", "p", NULL, 0), 0);
	assert_int_equal(sip_auth_cred_parse(&cr, text), 0);
	d.body = NULL;
	d.method = "BYE";
	d.cnonce = cr->cnonce;
	assert_int_equal(sip_auth_response(hex, sizeof(hex), &d), 0);
	assert_string_equal(hex, cr->response);
	gw_mem_deref(cr);
	gw_mem_deref(text);
}

static void test_client_nc(void **state)
{
	static const char a[] = "Digest realm=\"r\", nonce=\"A\", qop=auth";
	static const char b[] = "Digest realm=\"r\", nonce=\"B\", qop=auth";
	const char *la[] = { a }, *lb[] = { b };
	struct sip_auth_client cl = { { 0 }, 0 };
	char *t1 = NULL, *t2 = NULL, v[16], c1[40], c2[40];

	(void)state;
	assert_int_equal(sip_auth_respond(&t1, &cl, la, 1, "INVITE", RURI,
					  "u", "p", NULL, 0), 0);
	assert_int_equal(sip_auth_respond(&t2, &cl, la, 1, "INVITE", RURI,
					  "u", "p", NULL, 0), 0);
	param(v, sizeof(v), t1, "nc");
	assert_string_equal(v, "00000001");
	param(v, sizeof(v), t2, "nc");
	assert_string_equal(v, "00000002");
	/* each request its own cnonce */
	param(c1, sizeof(c1), t1, "cnonce");
	param(c2, sizeof(c2), t2, "cnonce");
	assert_int_equal(strlen(c1), 32);
	assert_string_not_equal(c1, c2);
	gw_mem_deref(t1);
	gw_mem_deref(t2);
	/* a new nonce starts again at 1 */
	assert_int_equal(sip_auth_respond(&t1, &cl, lb, 1, "INVITE", RURI,
					  "u", "p", NULL, 0), 0);
	param(v, sizeof(v), t1, "nc");
	assert_string_equal(v, "00000001");
	gw_mem_deref(t1);
	/* at the end of the count, no reuse */
	cl.nc = UINT32_MAX;
	assert_int_equal(sip_auth_respond(&t1, &cl, lb, 1, "INVITE", RURI,
					  "u", "p", NULL, 0), EOVERFLOW);
	assert_int_equal(cl.nc, UINT32_MAX);
}

/* ---- out of memory ------------------------------------------------------ */

/* The whole exchange, with names long enough to take the heap path when
 * hashing; the first error, or the verdict as a negative number. */
static int exchange(void)
{
	struct sip_auth_server *srv = NULL;
	struct sip_auth_chals *chals = NULL;
	struct sip_auth_client cl = { { 0 }, 0 };
	enum sip_auth_result res = SIP_AUTH_MALFORMED;
	struct db db = { 0 };
	char *cred = NULL, *text = NULL;
	char longuri[700];
	int err;

	memset(longuri, 'a', sizeof(longuri) - 1);
	memcpy(longuri, "sip:", 4);
	longuri[sizeof(longuri) - 1] = '\0';
	err = sip_auth_server_alloc(&srv, REALM, 0);
	if (err)
		goto out;
	err = sip_auth_challenge(&chals, srv, false);
	if (err)
		goto out;
	err = sip_auth_respond(&cred, &cl, cv(chals->val), chals->n, "INVITE",
			       longuri, "alice", "wonderland", NULL, 0);
	if (err)
		goto out;
	err = sip_auth_verify(&res, srv, "INVITE", cred, lookup, &db);
	if (err)
		goto out;
	err = sip_auth_cred_print(&text, &(struct sip_auth_cred){
		.username = "u", .realm = "r", .nonce = "n", .uri = "/",
		.response = "00" });
	if (err)
		goto out;
	if (res != SIP_AUTH_OK)
		err = -(int)res - 1;
 out:
	gw_mem_deref(text);
	gw_mem_deref(cred);
	gw_mem_deref(chals);
	gw_mem_deref(srv);
	return err;
}

static void test_enomem(void **state)
{
	size_t live = gw_mem_live();
	long n;
	int err = -1;

	(void)state;
	for (n = 0; n < 200; n++) {
		gw_mem_fail_after(n);
		err = exchange();
		gw_mem_fail_after(-1);
		assert_int_equal(gw_mem_live(), live);
		if (!err)
			break;
		assert_int_equal(err, ENOMEM);
	}
	assert_int_equal(err, 0);
	assert_true(n > 5);	/* the walk saw the allocations */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_rfc7616_vectors),
		UNIT_TEST(test_rfc7616_headers),
		UNIT_TEST(test_rfc2617_example),
		UNIT_TEST(test_qopless),
		UNIT_TEST(test_challenge),
		UNIT_TEST(test_roundtrip),
		UNIT_TEST(test_wrong_password_unknown_user),
		UNIT_TEST(test_expired_nonce),
		UNIT_TEST(test_forged_nonce),
		UNIT_TEST(test_replay),
		UNIT_TEST(test_replay_table_bound),
		UNIT_TEST(test_verify_refusals),
		UNIT_TEST(test_parse_forms),
		UNIT_TEST(test_malformed),
		UNIT_TEST(test_truncated),
		UNIT_TEST(test_fuzz),
		UNIT_TEST(test_respond_choice),
		UNIT_TEST(test_respond_auth_int),
		UNIT_TEST(test_client_nc),
		UNIT_TEST(test_enomem),
	};

	gw_log_set_levels("warn");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
