/* gateway/sipgw.c - junctiond's SIP user agent: listeners, users, registrar */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_LOG_MOD "sip"
#include "gw.h"
#include "route.h"
#include "sip/sip.h"

/*
 * The [sip] section made into a sip/ user agent: its listeners, digest
 * authentication against the [user] sections for sources outside
 * trusted, and the registrar whose bindings call control can target
 * (user:NAME routes).  Incoming INVITEs go to call control.
 */

static struct {
	struct sip_ua *ua;
	const struct gw_conf *conf;	/* the running one, for users */
	char **acl;
	size_t nacl;
	char regname[16][64];		/* for the registrations' logs */
} sg;

struct sip_ua *gw_sip_ua(void)
{
	return sg.ua;
}

static int lookup(struct sip_auth_secret *sec, const char *user,
		  const char *realm, enum sip_auth_alg alg, void *arg)
{
	const struct gw_user_conf *u;
	const char *name;
	size_t i;

	(void)realm;
	(void)alg;
	(void)arg;
	for (i = 0; (u = gw_conf_user(sg.conf, i, &name)); i++) {
		if (!strcmp(name, user)) {
			sec->password = u->password;
			return 0;
		}
	}
	return ENOENT;
}

static void incoming(struct sip_session *sess, const struct sip_incoming *in,
		     void *arg)
{
	(void)arg;
	gw_call_sip_incoming(sess, in);
}

/* "udp:127.0.0.1:5060" or "tcp:[::1]:5060" */
static int parse_listener(const char *s, size_t len,
			  struct sip_listener_conf *lc, char *addr,
			  size_t addrsize)
{
	char one[128];
	char *colon, *host;

	if (len >= sizeof(one))
		return EINVAL;
	memcpy(one, s, len);
	one[len] = '\0';
	if (!strncmp(one, "udp:", 4))
		lc->transport = SIP_UDP;
	else if (!strncmp(one, "tcp:", 4))
		lc->transport = SIP_TCP;
	else if (!strncmp(one, "tls:", 4))
		lc->transport = SIP_TLS;
	else
		return EINVAL;
	host = one + 4;
	colon = strrchr(host, ':');
	if (!colon || (host[0] == '[' && colon < strchr(host, ']')))
		return EINVAL;
	*colon = '\0';
	lc->port = (unsigned)atoi(colon + 1);
	if (host[0] == '[') {
		host++;
		host[strlen(host) - 1] = '\0';
	}
	snprintf(addr, addrsize, "%s", host);
	lc->addr = addr;
	return 0;
}

static void acl_free(void)
{
	size_t i;

	for (i = 0; i < sg.nacl; i++)
		free(sg.acl[i]);
	free(sg.acl);
	sg.acl = NULL;
	sg.nacl = 0;
}

static int set_auth(const struct gw_sip_conf *sc)
{
	struct sip_auth_conf ac = {0};
	char *list, *tok, *save = NULL;

	acl_free();
	if (!sc->auth)
		return sip_ua_set_auth(sg.ua, NULL);
	list = strdup(sc->trusted);
	if (!list)
		return ENOMEM;
	for (tok = strtok_r(list, " ,", &save); tok;
	     tok = strtok_r(NULL, " ,", &save)) {
		char **v = realloc(sg.acl, (sg.nacl + 1) * sizeof(*v));

		if (v)
			sg.acl = v;
		if (!v || !(v[sg.nacl] = strdup(tok))) {
			free(list);
			return ENOMEM;
		}
		sg.nacl++;
	}
	free(list);
	ac.lookuph = lookup;
	ac.acl = (const char *const *)sg.acl;
	ac.n_acl = sg.nacl;
	return sip_ua_set_auth(sg.ua, &ac);
}

static void peer_state(struct sip_peer *peer, const struct sip_peer_info *i,
		       void *arg)
{
	(void)peer;
	(void)arg;
	GW_INFO("trunk %s: %s", i->name, sip_peer_state_name(i->state));
}

/* [trunk NAME] keepalive_s: OPTIONS to the trunk (RFC 3261 s.11);
 * routing skips one that is down. */
static int add_peers(const struct gw_conf *conf)
{
	const struct gw_trunk_conf *t;
	const char *name;
	size_t i;
	int err;

	for (i = 0; (t = gw_conf_trunk(conf, i, &name)); i++) {
		struct sip_peer_conf pc = {0};
		struct sip_peer *p;

		if (!t->keepalive_s)
			continue;
		pc.name = name;
		pc.host = t->host;
		pc.port = (unsigned)t->port;
		pc.transport = t->transport == GW_SIP_TCP ? SIP_TCP :
			t->transport == GW_SIP_TLS ? SIP_TLS : SIP_UDP;
		pc.interval_s = (unsigned)t->keepalive_s;
		pc.max_failures = (unsigned)t->keepalive_failures;
		err = sip_peer_add(&p, sg.ua, &pc, peer_state, NULL);
		if (err) {
			GW_ERR("trunk %s: keepalive: %s", name, strerror(err));
			return err;
		}
	}
	return 0;
}

static void reg_state(struct sip_reg *reg, const struct sip_reg_info *i,
		      void *arg)
{
	(void)reg;
	GW_INFO("registration %s: %s (last status %u)", (const char *)arg,
		sip_reg_state_name(i->state), i->last_status);
}

/* [register NAME]: bindings we keep at providers. */
static int add_registrations(const struct gw_conf *conf)
{
	const struct gw_register_conf *r;
	const char *name;
	size_t i;
	int err;

	for (i = 0; (r = gw_conf_register(conf, i, &name)); i++) {
		struct sip_reg_conf rc = {0};
		struct sip_reg *reg;

		if (i == sizeof(sg.regname) / sizeof(sg.regname[0])) {
			GW_ERR("more than %zu [register] sections", i);
			return E2BIG;
		}
		snprintf(sg.regname[i], sizeof(sg.regname[i]), "%s", name);
		rc.name = name;
		rc.registrar = r->registrar;
		rc.aor = r->aor;
		rc.auth_user = r->user[0] ? r->user : NULL;
		rc.auth_password = r->password[0] ? r->password : NULL;
		rc.expires_s = (unsigned)r->expires_s;
		err = sip_reg_add(&reg, sg.ua, &rc, reg_state, sg.regname[i]);
		if (err) {
			GW_ERR("register %s: %s", name, strerror(err));
			return err;
		}
	}
	return 0;
}

/** Routing: a trunk whose keepalives go unanswered is skipped. */
bool gw_sip_trunk_down(const char *name)
{
	return sg.ua && sip_peer_state(sg.ua, name) == SIP_PEER_DOWN;
}

static void cmd_sip(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	(void)msg;
	(void)arg;
	if (!sg.ua) {
		gw_ctl_error(req, "stopping");
		return;
	}
	gw_ctl_reply(req, json_pack("{s:o}", "sip", sip_ua_json(sg.ua)));
}

static void sip_stop(struct gw_daemon *d)
{
	(void)d;
	sg.ua = gw_mem_deref(sg.ua);
	acl_free();
	sg.conf = NULL;
}

static int sip_start(struct gw_daemon *d, const struct gw_conf *conf)
{
	const struct gw_sip_conf *sc = gw_conf_sip(conf);
	struct sip_conf c = {0};
	const char *p, *e;
	char first[128] = "";
	int err;

	memset(&sg, 0, sizeof(sg));
	sg.conf = conf;
	c.user_agent = sc->user_agent;
	c.domain = sc->domain[0] ? sc->domain : NULL;
	c.session_expires_s = (unsigned)sc->session_expires_s;
	c.min_se_s = 90;
	c.prack = sc->prack;
	err = sip_ua_alloc(&sg.ua, &c, incoming, NULL);
	if (err)
		return err;
	for (p = sc->listen; *p; p = e) {
		struct sip_listener_conf lc = {0};
		char addr[128];

		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		for (e = p; *e && *e != ',' && *e != ' '; e++)
			;
		err = parse_listener(p, (size_t)(e - p), &lc, addr,
				     sizeof(addr));
		if (err) {
			GW_ERR("listen: '%.*s': not transport:address:port",
			       (int)(e - p), p);
			goto out;
		}
		lc.cert = sc->tls_cert[0] ? sc->tls_cert : NULL;
		lc.key = sc->tls_key[0] ? sc->tls_key : NULL;
		lc.ca = sc->tls_ca[0] ? sc->tls_ca : NULL;
		lc.verify = sc->tls_verify;
		lc.require_client_cert = sc->tls_require_client_cert;
		err = sip_ua_listen(sg.ua, &lc);
		if (err) {
			GW_ERR("cannot listen on %.*s: %s", (int)(e - p), p,
			       strerror(err));
			goto out;
		}
		if (!first[0])
			snprintf(first, sizeof(first), "%s", addr);
		GW_INFO("listening on %.*s", (int)(e - p), p);
	}
	err = set_auth(sc);
	if (err)
		goto out;
	if (sc->registrar) {
		struct sip_registrar_conf rc = {0};
		char *path = gw_conf_runpath(conf, sc->location);

		rc.db_path = path;
		rc.domain = sc->domain[0] ? sc->domain : NULL;
		err = path ? sip_registrar_open(sg.ua, &rc) : ENOMEM;
		gw_mem_deref(path);
		if (err) {
			GW_ERR("registrar: %s", strerror(err));
			goto out;
		}
	}
	err = add_peers(conf);
	if (!err)
		err = add_registrations(conf);
	if (err)
		goto out;
	gw_ctl_register(gw_daemon_ctl(d), "sip", cmd_sip, NULL,
			"SIP: listeners, peers, registrations both ways");
 out:
	if (err)
		sip_stop(d);
	return err;
}

static void sip_reload(struct gw_daemon *d, const struct gw_conf *conf)
{
	(void)d;
	sg.conf = conf;
	if (set_auth(gw_conf_sip(conf)))
		GW_WARN("reload: authentication settings not applied");
}

static void sip_status(struct gw_daemon *d, json_t *o)
{
	(void)d;
	json_object_set_new(o, "ua", json_boolean(sg.ua != NULL));
}

const struct gw_subsys gw_sip_subsys = {
	.name = "sip",
	.start = sip_start,
	.stop = sip_stop,
	.reload = sip_reload,
	.status = sip_status,
};
