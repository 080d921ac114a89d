/* sip/ua.c - the SIP user agent: listeners, dispatch, OPTIONS, status */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GW_LOG_MOD "sip"
#include "sip_int.h"

/*
 * The UA owns the libosip2 instance, the listeners and the sessions.
 * Requests that passed tsx.c's checks arrive in sip_ua_request: INVITE
 * without a To tag starts a session; other requests with a To tag go to
 * their dialog (481 when there is none, s.12.2.2); OPTIONS is answered
 * with Allow, Accept and Supported (s.11.2); CANCEL goes to the INVITE
 * it cancels (481 when none, s.9.2).  REGISTER goes to the registrar
 * (registrar.c) when one is open, and gets 405 otherwise; it is
 * authenticated even with a To tag, which creates no dialog for it
 * (s.10.2: REGISTER is outside any dialog).
 *
 * Authentication as a UAS (sip_ua_set_auth, sip.h has the policy) runs
 * before that dispatch, for requests outside a dialog.  A wrong
 * password and an unknown user both get the same 403 (auth.c does the
 * same work for both); RFC 3261 s.22.2 leaves the choice between a new
 * challenge and 403 open, and 403 tells the client not to repeat it
 * (s.21.4.4) instead of looping on 401s.
 */

static void ua_destroy(void *data)
{
	struct sip_ua *ua = data;

	ua->closing = true;
	sip_session_close_all(ua);
	sip_reg_close_all(ua);
	sip_peer_close_all(ua);
	if (ua->osip)
		sip_tsx_run(ua);	/* the BYEs, 503s and un-REGISTERs go
					 * out */
	sip_transport_close(ua);
	sip_tsx_close(ua);
	gw_mem_deref(ua->user_agent);
	gw_mem_deref(ua->domain);
	gw_mem_deref(ua->auth_user);
	gw_mem_deref(ua->auth_password);
	gw_mem_deref(ua->auth_srv);
	gw_mem_deref(ua->acl);
	gw_mem_deref(ua->registrar);
}

/**
 * Create a user agent with conf (NULL: defaults); inh gets incoming
 * INVITEs.  Listeners are added with sip_ua_listen.
 */
int sip_ua_alloc(struct sip_ua **uap, const struct sip_conf *conf,
		 sip_incoming_h *inh, void *arg)
{
	struct sip_ua *ua;
	int err;

	if (!uap)
		return EINVAL;
	/* libosip2's parser tables; osip_init does it too, idempotent. */
	parser_init();
	ua = gw_mem_zalloc(sizeof(*ua), ua_destroy);
	if (!ua)
		return ENOMEM;
	if (conf)
		ua->conf = *conf;
	ua->user_agent = gw_mem_strdup(conf && conf->user_agent ?
				       conf->user_agent : "Junction");
	ua->domain = gw_mem_strdup(conf ? conf->domain : NULL);
	ua->auth_user = gw_mem_strdup(conf ? conf->auth_user : NULL);
	ua->auth_password = gw_mem_strdup(conf ? conf->auth_password : NULL);
	ua->conf.user_agent = ua->user_agent;
	ua->conf.domain = ua->domain;
	ua->conf.auth_user = ua->auth_user;
	ua->conf.auth_password = ua->auth_password;
	if (!ua->conf.t1_ms)
		ua->conf.t1_ms = 500;
	if (!ua->conf.max_message || ua->conf.max_message > 65535)
		ua->conf.max_message = SIP_MAX_MESSAGE_DEF;
	if (!ua->conf.tcp_idle_s)
		ua->conf.tcp_idle_s = SIP_TCP_IDLE_DEF;
	ua->frame_timeout_ms = SIP_FRAME_TIMEOUT_MS;
	ua->st_unit_ms = 1000;
	ua->peer_unit_ms = 1000;
	ua->inh = inh;
	ua->arg = arg;
	err = sip_tsx_init(ua);
	if (err) {
		gw_mem_deref(ua);
		return err;
	}
	*uap = ua;
	return 0;
}

/** Add a listener (UDP or TCP; TLS: ENOTSUP for now). */
int sip_ua_listen(struct sip_ua *ua, const struct sip_listener_conf *lc)
{
	if (!ua)
		return EINVAL;
	return sip_transport_listen(ua, lc);
}

/* "192.0.2.0/24", "2001:db8::/32" or an address alone. */
static int acl_parse(struct sip_acl *a, const char *text)
{
	char buf[64], *slash, *end;
	unsigned max;
	long bits;

	if (!text || strlen(text) >= sizeof(buf))
		return EINVAL;
	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, buf, a->addr) == 1) {
		a->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, a->addr) == 1) {
		a->family = AF_INET6;
		max = 128;
	} else {
		return EINVAL;
	}
	a->bits = max;
	if (slash) {
		bits = strtol(slash, &end, 10);
		if (!*slash || *end || bits < 0 || bits > (long)max)
			return EINVAL;
		a->bits = (unsigned)bits;
	}
	return 0;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned n = bits / 8, rest = bits % 8;

	if (memcmp(a, b, n))
		return false;
	return !rest || !((a[n] ^ b[n]) & (0xff00u >> rest));
}

static bool acl_match(const struct sip_ua *ua, const struct sip_addr *peer)
{
	const struct sockaddr_in *s4;
	const struct sockaddr_in6 *s6;
	uint8_t v4[4];
	const uint8_t *ip6 = NULL;
	size_t i;

	if (peer->ss.ss_family == AF_INET) {
		s4 = (const struct sockaddr_in *)&peer->ss;
		memcpy(v4, &s4->sin_addr, 4);
	} else if (peer->ss.ss_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)&peer->ss;
		ip6 = s6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			memcpy(v4, ip6 + 12, 4);
		else
			memset(v4, 0, sizeof(v4));
	} else {
		return false;
	}
	for (i = 0; i < ua->n_acl; i++) {
		const struct sip_acl *a = &ua->acl[i];

		if (a->family == AF_INET6 && ip6 &&
		    prefix_eq(a->addr, ip6, a->bits))
			return true;
		if (a->family == AF_INET &&
		    (peer->ss.ss_family == AF_INET ||
		     (ip6 && IN6_IS_ADDR_V4MAPPED(
			     &((const struct sockaddr_in6 *)
			       &peer->ss)->sin6_addr))) &&
		    prefix_eq(a->addr, v4, a->bits))
			return true;
	}
	return false;
}

/**
 * Require digest authentication of requests outside a dialog (sip.h
 * has the policy); ac NULL turns it off.  EINVAL for an ACL entry that
 * does not parse or a conf without lookup handler.
 */
int sip_ua_set_auth(struct sip_ua *ua, const struct sip_auth_conf *ac)
{
	struct sip_auth_server *srv = NULL;
	struct sip_acl *acl = NULL;
	const char *realm;
	size_t i;
	int err;

	if (!ua || (ac && !ac->lookuph))
		return EINVAL;
	if (ac) {
		realm = ac->realm ? ac->realm : ua->domain && *ua->domain ?
			ua->domain : "junction";
		if (ac->n_acl) {
			acl = gw_mem_zalloc(ac->n_acl * sizeof(*acl), NULL);
			if (!acl)
				return ENOMEM;
			for (i = 0; i < ac->n_acl; i++)
				if (acl_parse(&acl[i], ac->acl[i])) {
					GW_ERR("auth acl: bad prefix '%s'",
					       ac->acl[i]);
					gw_mem_deref(acl);
					return EINVAL;
				}
		}
		err = sip_auth_server_alloc(&srv, realm, ac->nonce_ttl_ms);
		if (!err)
			err = sip_auth_server_set_algs(srv, ac->algs ? ac->algs :
				SIP_AUTH_ALG_BIT(SIP_AUTH_SHA256) |
				SIP_AUTH_ALG_BIT(SIP_AUTH_MD5));
		if (err) {
			gw_mem_deref(srv);
			gw_mem_deref(acl);
			return err;
		}
	}
	gw_mem_deref(ua->auth_srv);
	gw_mem_deref(ua->acl);
	ua->auth_srv = srv;
	ua->acl = acl;
	ua->n_acl = ac ? ac->n_acl : 0;
	ua->auth_lookuph = ac ? ac->lookuph : NULL;
	ua->auth_arg = ac ? ac->arg : NULL;
	return 0;
}

/* 401 with one WWW-Authenticate per algorithm. */
static void challenge(struct sip_ua *ua, struct sip_tsx *tsx,
		      const osip_message_t *req, bool stale)
{
	struct sip_auth_chals *ch = NULL;
	osip_message_t *r;
	size_t i;

	ua->stats.auth_challenged++;
	if (sip_auth_challenge(&ch, ua->auth_srv, stale) ||
	    sip_msg_response(&r, req, 401, tsx->totag)) {
		gw_mem_deref(ch);
		sip_tsx_respond(tsx, req, 500);
		return;
	}
	for (i = 0; i < ch->n; i++)
		osip_message_set_header(r, "WWW-Authenticate", ch->val[i]);
	gw_mem_deref(ch);
	sip_tsx_respond_msg(tsx, r);
}

/* The Authorization for our realm, parsed; NULL when none. */
static struct sip_auth_cred *find_cred(const osip_message_t *req,
				       const char *realm)
{
	struct sip_auth_cred *cred;
	osip_authorization_t *a;
	char *text;
	int pos;

	for (pos = 0; !osip_list_eol(&req->authorizations, pos); pos++) {
		a = osip_list_get(&req->authorizations, pos);
		text = NULL;
		if (!a || osip_authorization_to_str(a, &text) < 0 || !text)
			continue;
		cred = NULL;
		if (strlen(text) < SIP_AUTH_TEXT_MAX &&
		    !sip_auth_cred_parse(&cred, text) && cred->realm &&
		    !strcmp(cred->realm, realm)) {
			osip_free(text);
			return cred;
		}
		gw_mem_deref(cred);
		osip_free(text);
	}
	return NULL;
}

bool sip_ua_authorized(struct sip_ua *ua, struct sip_tsx *tsx,
		       const osip_message_t *req, const struct sip_src *src)
{
	if (sip_tag(req->to) && !MSG_IS_REGISTER(req))
		return true;
	return sip_ua_authorized_user(ua, tsx, req, src, NULL, 0);
}

bool sip_ua_authorized_user(struct sip_ua *ua, struct sip_tsx *tsx,
			    const osip_message_t *req,
			    const struct sip_src *src, char *user,
			    size_t size)
{
	struct sip_auth_cred *cred;
	enum sip_auth_result res = SIP_AUTH_FAILED;
	const char *method = req->sip_method;
	int err;

	if (user && size)
		user[0] = '\0';
	if (!ua->auth_srv || MSG_IS_ACK(req) || MSG_IS_CANCEL(req) ||
	    MSG_IS_OPTIONS(req))
		return true;
	if (acl_match(ua, &src->peer))
		return true;
	cred = find_cred(req, sip_auth_realm(ua->auth_srv));
	if (!cred || !cred->nonce ||
	    !sip_auth_nonce_ours(ua->auth_srv, cred->nonce)) {
		/* None, or a nonce of an earlier run: a fresh challenge. */
		gw_mem_deref(cred);
		challenge(ua, tsx, req, false);
		return false;
	}
	err = sip_auth_verify_cred(&res, ua->auth_srv, method, cred,
				   ua->auth_lookuph, ua->auth_arg);
	if (err)
		res = SIP_AUTH_FAILED;
	if (res == SIP_AUTH_OK) {
		if (user && size && cred->username)
			snprintf(user, size, "%s", cred->username);
		gw_mem_deref(cred);
		return true;
	}
	if (res == SIP_AUTH_STALE) {
		gw_mem_deref(cred);
		challenge(ua, tsx, req, true);
		return false;
	}
	{
		char pa[80];

		sip_addr_print(&src->peer, pa, sizeof(pa));
		GW_LOG_LIMITED(GW_LOG_INFO, "%s from %s: authentication "
			       "failed (%s)", method, pa,
			       sip_auth_result_name(res));
	}
	gw_mem_deref(cred);
	ua->stats.auth_failed++;
	sip_tsx_respond(tsx, req, 403);
	return false;
}

/* The challenges of resp (WWW- or Proxy-Authenticate) as text. */
int sip_auth_add(osip_message_t *req, const osip_message_t *resp,
		 struct sip_auth_client *cl, const char *user,
		 const char *password)
{
	const osip_list_t *l = resp->status_code == 407 ?
		&resp->proxy_authenticates : &resp->www_authenticates;
	char *chals[8], *uri = NULL, *cred = NULL;
	osip_www_authenticate_t *w;
	size_t n = 0, i;
	const char *body = NULL;
	size_t blen = 0;
	int pos, err;

	if (!user || !password || !req->req_uri || !req->sip_method)
		return ENOENT;
	for (pos = 0; !osip_list_eol(l, pos) && n < GW_ARRAY_SIZE(chals);
	     pos++) {
		w = osip_list_get(l, pos);
		chals[n] = NULL;
		if (w && osip_www_authenticate_to_str(w, &chals[n]) == 0 &&
		    chals[n])
			n++;
	}
	if (!n)
		return ENOENT;
	err = ENOMEM;
	if (osip_uri_to_str(req->req_uri, &uri) < 0 || !uri)
		goto out;
	sip_msg_body(req, &body, &blen);
	err = sip_auth_respond(&cred, cl, (const char *const *)chals, n,
			       req->sip_method, uri, user, password, body,
			       blen);
	if (err)
		goto out;
	osip_message_set_header(req, resp->status_code == 407 ?
				"Proxy-Authorization" : "Authorization", cred);
 out:
	gw_mem_deref(cred);
	osip_free(uri);
	for (i = 0; i < n; i++)
		osip_free(chals[i]);
	return err;
}

/** The UA's state for `junctionctl sip`. */
json_t *sip_ua_json(const struct sip_ua *ua)
{
	json_t *o = sip_transport_json(ua);
	const struct sip_tsx *t;
	unsigned pending = 0;
	size_t i;

	/* pending: server transactions still waiting for our final
	 * response; a leftover one is a stuck transaction. */
	for (i = 0; i < ua->tsx_buckets; i++)
		for (t = ua->tsx_tab[i]; t; t = t->next)
			if ((t->type == IST || t->type == NIST) &&
			    !t->killed && !t->final_sent)
				pending++;
	json_object_set_new(o, "sessions", sip_session_json(ua));
	json_object_set_new(o, "registrations", sip_reg_json(ua));
	json_object_set_new(o, "registrar", sip_registrar_json(ua));
	json_object_set_new(o, "peers", sip_peer_json(ua));
	json_object_set_new(o, "transactions", json_integer((json_int_t)ua->n_tsx));
	json_object_set_new(o, "pending", json_integer(pending));
	json_object_set_new(o, "stats", json_pack(
		"{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
		"rx_msgs", (json_int_t)ua->stats.rx_msgs,
		"tx_msgs", (json_int_t)ua->stats.tx_msgs,
		"rx_bad", (json_int_t)ua->stats.rx_bad,
		"rx_dropped", (json_int_t)ua->stats.rx_dropped,
		"transactions_created", (json_int_t)ua->stats.tsx_created,
		"calls_in", (json_int_t)ua->stats.calls_in,
		"calls_out", (json_int_t)ua->stats.calls_out,
		"auth_challenged", (json_int_t)ua->stats.auth_challenged,
		"auth_failed", (json_int_t)ua->stats.auth_failed,
		"loops", (json_int_t)ua->stats.loops,
		"invite_absorbed", (json_int_t)ua->stats.absorbed));
	return o;
}

/* A request that passed tsx.c's checks, in its new server transaction. */
void sip_ua_request(struct sip_ua *ua, struct sip_tsx *tsx,
		    osip_message_t *req, const struct sip_src *src)
{
	if (MSG_IS_REGISTER(req)) {
		char user[128];

		if (!ua->registrar)
			sip_tsx_respond(tsx, req, 405);
		else if (sip_ua_authorized_user(ua, tsx, req, src, user,
						sizeof(user)))
			sip_registrar_request(ua, tsx, req, src, user);
		return;
	}
	if (!sip_ua_authorized(ua, tsx, req, src))
		return;
	if (MSG_IS_CANCEL(req)) {
		if (!sip_session_cancel(ua, tsx, req))
			sip_tsx_respond(tsx, req, 481);
		return;
	}
	if (sip_tag(req->to)) {
		if (!sip_session_request(ua, tsx, req, src))
			sip_tsx_respond(tsx, req, 481);
		return;
	}
	if (MSG_IS_INVITE(req)) {
		sip_session_invite(ua, tsx, req, src);
		return;
	}
	if (MSG_IS_OPTIONS(req)) {
		sip_tsx_respond(tsx, req, 200);
		return;
	}
	/* BYE, UPDATE, INFO, REFER, NOTIFY, PRACK outside a dialog. */
	sip_tsx_respond(tsx, req, 481);
}
