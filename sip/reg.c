/* sip/reg.c - registration with a provider's registrar (RFC 3261 s.10.2) */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define GW_LOG_MOD "sip"
#include "sip_int.h"

/*
 * One struct sip_reg per binding we keep at a registrar.  Every
 * REGISTER of a registration shares one Call-ID with a CSeq one higher
 * each time (s.10.2: same Call-ID for a boot cycle; s.10.2.4 refresh),
 * From and To are the AOR, the Request-URI is the registrar's URI.
 *
 * The 200 lists every binding of the AOR; ours is the Contact that
 * matches the one we sent, and its expires parameter (else the Expires
 * header, else what we asked for) is what the registrar granted
 * (s.10.2.4).  We refresh 60 s before the end, or half-way for a
 * binding of less than two minutes.  A 401/407 is answered once per
 * REGISTER with the registration's credentials, and the last challenge
 * is answered up front in the REGISTERs that follow (s.22.1: a nonce
 * may be reused, with the next nonce count), which spares refreshes a
 * round trip and lets the un-REGISTER at shutdown, which cannot wait
 * for a challenge, through.  A 423 is retried with
 * the Min-Expires it names (s.10.2.8).  Any other failure, and a
 * timeout, puts the registration in FAILED and tries again after a
 * back-off that doubles from retry_min_s to retry_max_s (a Retry-After
 * counts when it is longer); a 2xx resets it.
 *
 * sip_reg_remove un-REGISTERs (Contact with expires=0 and Expires: 0,
 * s.10.2.2) when a binding may exist, and drops the registration when
 * that is answered or times out.  At UA shutdown the un-REGISTERs are
 * sent without waiting for their answers.
 */

#define REG_REFRESH_MARGIN_S	60
#define REG_MAX_423		3	/* 423s followed per attempt */

struct sip_reg {
	struct sip_reg *next;		/* ua->regs, the list's ref */
	struct sip_ua *ua;		/* borrowed */
	bool linked;
	char *name;
	char *registrar;		/* Request-URI */
	char *aor;
	char *contact;			/* the URI we register */
	char *auth_user;
	char *auth_pass;
	unsigned expires_s, retry_min_s, retry_max_s;
	enum sip_transport tp;
	struct sip_addr dst;
	char *call_id;
	uint32_t cseq;
	enum sip_reg_state state;
	unsigned last_status;
	int64_t expires_ms;		/* wall clock; 0: no binding */
	int64_t retry_ms;		/* wall clock; FAILED */
	unsigned granted_s;
	unsigned backoff_s;		/* the next failure's wait */
	unsigned failures;		/* in a row */
	unsigned asked_s;		/* the REGISTER in progress asks */
	unsigned n423;
	bool auth_tried;
	bool refreshing;
	struct sip_auth_client auth_cl;
	osip_message_t *chal;		/* the last 401/407, or NULL */
	struct sip_tsx *tsx;		/* in progress; referenced */
	struct gw_tmr tmr;
	sip_reg_h *h;
	void *arg;
};

static const char *const state_names[] = {
	"registering", "registered", "failed", "unregistering", "stopped",
};

/** "registering", "registered", ... */
const char *sip_reg_state_name(enum sip_reg_state state)
{
	if ((unsigned)state >= GW_ARRAY_SIZE(state_names))
		return "?";
	return state_names[state];
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reg_destroy(void *data)
{
	struct sip_reg *reg = data;

	gw_tmr_cancel(&reg->tmr);
	if (reg->tsx) {
		sip_tsx_detach(reg->tsx);
		gw_mem_deref(reg->tsx);
	}
	if (reg->chal)
		osip_message_free(reg->chal);
	gw_mem_deref(reg->name);
	gw_mem_deref(reg->registrar);
	gw_mem_deref(reg->aor);
	gw_mem_deref(reg->contact);
	gw_mem_deref(reg->auth_user);
	gw_mem_deref(reg->auth_pass);
	gw_mem_deref(reg->call_id);
}

static void reg_unlink(struct sip_reg *reg)
{
	struct sip_reg **pp;

	if (!reg->linked)
		return;
	reg->linked = false;
	gw_tmr_cancel(&reg->tmr);
	if (reg->tsx) {
		sip_tsx_detach(reg->tsx);
		reg->tsx = gw_mem_deref(reg->tsx);
	}
	for (pp = &reg->ua->regs; *pp; pp = &(*pp)->next)
		if (*pp == reg) {
			*pp = reg->next;
			reg->next = NULL;
			gw_mem_deref(reg);
			return;
		}
}

/** What reg is doing, for the caller. */
void sip_reg_get_info(const struct sip_reg *reg, struct sip_reg_info *info)
{
	memset(info, 0, sizeof(*info));
	info->state = reg->state;
	info->last_status = reg->last_status;
	info->expires = reg->expires_ms / 1000;
	info->retry_at = reg->state == SIP_REG_FAILED ?
		reg->retry_ms / 1000 : 0;
}

/* Tell the handler; it may remove reg (hold a reference around). */
static void report(struct sip_reg *reg)
{
	struct sip_reg_info info;

	sip_reg_get_info(reg, &info);
	if (reg->h)
		reg->h(reg, &info, reg->arg);
}

/* ------------------------------------------------------------------ */
/* Sending                                                            */
/* ------------------------------------------------------------------ */

static void reg_resp(struct sip_tsx *tsx, int status, osip_message_t *msg,
		     void *arg);

/* The REGISTER asking for expires s (0: remove our binding). */
static int build(osip_message_t **mp, struct sip_reg *reg, unsigned expires)
{
	struct sip_ua *ua = reg->ua;
	struct sip_lsnr *l;
	osip_message_t *m = NULL;
	char buf[512], host[80], tag[16], branch[24];
	int err = EINVAL;

	l = sip_transport_lsnr(ua, reg->tp, reg->dst.ss.ss_family);
	if (!l)
		return EAFNOSUPPORT;
	snprintf(host, sizeof(host), l->local.ss.ss_family == AF_INET6 ?
		 "[%s]" : "%s", l->host);
	if (osip_message_init(&m) < 0)
		return ENOMEM;
	osip_message_set_method(m, osip_strdup("REGISTER"));
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	if (osip_uri_init(&m->req_uri) < 0 ||
	    osip_uri_parse(m->req_uri, reg->registrar) < 0)
		goto out;
	sip_rand_token(branch, 16);
	snprintf(buf, sizeof(buf), "SIP/2.0/%s %s:%u;branch=z9hG4bK%s;rport",
		 sip_transport_name(reg->tp), host, l->port, branch);
	osip_message_set_via(m, buf);
	/* s.10.2: From and To are the AOR; a new From tag each time. */
	sip_rand_token(tag, sizeof(tag));
	snprintf(buf, sizeof(buf), "<%s>;tag=%s", reg->aor, tag);
	if (osip_message_set_from(m, buf) < 0)
		goto out;
	snprintf(buf, sizeof(buf), "<%s>", reg->aor);
	if (osip_message_set_to(m, buf) < 0)
		goto out;
	if (!reg->call_id) {
		sip_rand_token(tag, sizeof(tag));
		reg->call_id = gw_mem_printf("%s%s@%s", tag, branch, l->host);
		if (!reg->call_id) {
			err = ENOMEM;
			goto out;
		}
	}
	osip_message_set_call_id(m, reg->call_id);
	snprintf(buf, sizeof(buf), "%u REGISTER", ++reg->cseq);
	osip_message_set_cseq(m, buf);
	osip_message_set_max_forwards(m, "70");
	if (expires)
		snprintf(buf, sizeof(buf), "<%s>", reg->contact);
	else
		snprintf(buf, sizeof(buf), "<%s>;expires=0", reg->contact);
	if (osip_message_set_contact(m, buf) < 0)
		goto out;
	snprintf(buf, sizeof(buf), "%u", expires);
	osip_message_set_expires(m, buf);
	osip_message_set_allow(m, SIP_ALLOW);
	if (ua->user_agent && *ua->user_agent)
		osip_message_set_user_agent(m, ua->user_agent);
	if (reg->chal && reg->auth_pass)
		sip_auth_add(m, reg->chal, &reg->auth_cl, reg->auth_user,
			     reg->auth_pass);
	*mp = m;
	return 0;
 out:
	osip_message_free(m);
	return err;
}

/* Send a REGISTER for expires s; with resp, answering its challenge. */
static int send_register(struct sip_reg *reg, unsigned expires,
			 const osip_message_t *resp)
{
	osip_message_t *m = NULL;
	int err;

	if (resp) {
		if (reg->chal)
			osip_message_free(reg->chal);
		reg->chal = NULL;
		if (osip_message_clone(resp, &reg->chal) < 0)
			return ENOMEM;
	}
	err = build(&m, reg, expires);
	if (err) {
		if (m)
			osip_message_free(m);
		return err;
	}
	if (reg->tsx) {
		sip_tsx_detach(reg->tsx);
		reg->tsx = gw_mem_deref(reg->tsx);
	}
	reg->asked_s = expires;
	err = sip_tsx_request(&reg->tsx, reg->ua, m, reg->tp, &reg->dst,
			      reg_resp, reg);
	if (!err)
		sip_tsx_run(reg->ua);
	return err;
}

static void tmr_fire(void *arg);

static void fail(struct sip_reg *reg, unsigned status,
		 const osip_message_t *msg)
{
	const char *ra = msg ? sip_msg_header(msg, "retry-after") : NULL;
	unsigned wait = reg->backoff_s;

	if (!wait)
		wait = reg->retry_min_s;
	if (ra && (unsigned)atoi(ra) > wait)
		wait = (unsigned)atoi(ra);
	if (wait > reg->retry_max_s)
		wait = reg->retry_max_s;
	reg->backoff_s = wait * 2 > reg->retry_max_s ? reg->retry_max_s :
		wait * 2;
	reg->failures++;
	reg->state = SIP_REG_FAILED;
	reg->last_status = status;
	reg->refreshing = false;
	if (reg->expires_ms <= wall_ms())
		reg->expires_ms = 0;
	reg->retry_ms = wall_ms() + (int64_t)wait * 1000;
	GW_WARN("registration %s: %u, again in %u s", reg->name, status, wait);
	gw_tmr_start(&reg->tmr, (uint64_t)wait * 1000, tmr_fire, reg);
	report(reg);
}

/* Start a REGISTER attempt (first, refresh or retry). */
static void attempt(struct sip_reg *reg)
{
	int err;

	reg->auth_tried = false;
	reg->n423 = 0;
	reg->refreshing = reg->state == SIP_REG_REGISTERED;
	if (!reg->refreshing && reg->state != SIP_REG_REGISTERING) {
		reg->state = SIP_REG_REGISTERING;
		report(reg);
		if (!reg->linked)
			return;
	}
	err = send_register(reg, reg->expires_s, NULL);
	if (err) {
		GW_WARN("registration %s: cannot send: %s", reg->name,
			strerror(err));
		fail(reg, 503, NULL);
	}
}

static void tmr_fire(void *arg)
{
	struct sip_reg *reg = arg;

	gw_mem_ref(reg);
	attempt(reg);
	gw_mem_deref(reg);
}

/* ------------------------------------------------------------------ */
/* Responses                                                          */
/* ------------------------------------------------------------------ */

static bool uri_same(const osip_uri_t *u, const char *text)
{
	osip_uri_t *x = NULL;
	bool eq = false;

	if (!u || osip_uri_init(&x) < 0)
		return false;
	if (osip_uri_parse(x, text) == 0)
		eq = x->host && u->host && !strcasecmp(x->host, u->host) &&
			!strcmp(x->username ? x->username : "",
				u->username ? u->username : "") &&
			!strcmp(x->port ? x->port : "5060",
				u->port ? u->port : "5060");
	osip_uri_free(x);
	return eq;
}

/* What the registrar granted us (s.10.2.4); 0: our binding is not in
 * the 200. */
static unsigned granted(const struct sip_reg *reg, const osip_message_t *msg)
{
	osip_contact_t *c = NULL;
	osip_generic_param_t *p;
	const char *e;
	bool listed = false;
	int pos;

	for (pos = 0;; pos++) {
		c = NULL;
		if (osip_message_get_contact(msg, pos, &c) < 0 || !c)
			break;
		if (!uri_same(c->url, reg->contact))
			continue;
		p = NULL;
		if (osip_contact_param_get_byname(c, (char *)"expires",
						  &p) >= 0 && p && p->gvalue)
			return (unsigned)strtoul(p->gvalue, NULL, 10);
		listed = true;
		break;
	}
	e = sip_msg_header(msg, "expires");
	if (e)
		return (unsigned)strtoul(e, NULL, 10);
	/* No Contact at all: a registrar that lists none; trust it. */
	return listed || pos == 0 ? reg->asked_s : 0;
}

static void registered(struct sip_reg *reg, const osip_message_t *msg)
{
	unsigned g = granted(reg, msg), refresh;

	if (!g) {
		GW_WARN("registration %s: the 200 lists no binding of ours",
			reg->name);
		fail(reg, 200, msg);
		return;
	}
	reg->state = SIP_REG_REGISTERED;
	reg->last_status = 200;
	reg->refreshing = false;
	reg->granted_s = g;
	reg->failures = 0;
	reg->backoff_s = 0;
	reg->expires_ms = wall_ms() + (int64_t)g * 1000;
	refresh = g > 2 * REG_REFRESH_MARGIN_S ? g - REG_REFRESH_MARGIN_S :
		(g + 1) / 2;
	gw_tmr_start(&reg->tmr, (uint64_t)refresh * 1000, tmr_fire, reg);
	GW_INFO("registration %s: registered for %u s", reg->name, g);
	report(reg);
}

static void reg_resp(struct sip_tsx *tsx, int status, osip_message_t *msg,
		     void *arg)
{
	struct sip_reg *reg = arg;
	bool removing;

	if (status < 200 || tsx != reg->tsx || !reg->linked)
		return;
	gw_mem_ref(reg);
	sip_tsx_detach(reg->tsx);
	reg->tsx = gw_mem_deref(reg->tsx);
	removing = reg->state == SIP_REG_UNREGISTERING;
	/* s.22.2: answer a challenge once per REGISTER. */
	if ((status == 401 || status == 407) && msg && !reg->auth_tried &&
	    reg->auth_pass) {
		reg->auth_tried = true;
		if (!send_register(reg, reg->asked_s, msg))
			goto out;
	}
	reg->auth_tried = false;
	/* s.10.2.8: ask again with at least the registrar's minimum. */
	if (status == 423 && msg && !removing && reg->n423 < REG_MAX_423 &&
	    sip_msg_header(msg, "min-expires")) {
		unsigned min = (unsigned)strtoul(sip_msg_header(
			msg, "min-expires"), NULL, 10);

		reg->n423++;
		if (min > reg->asked_s) {
			GW_INFO("registration %s: 423, asking for %u s",
				reg->name, min);
			if (!send_register(reg, min, NULL))
				goto out;
		}
	}
	if (removing) {
		GW_INFO("registration %s: un-registered (%d)", reg->name,
			status);
		reg->last_status = (unsigned)status;
		reg->expires_ms = 0;
		reg->state = SIP_REG_STOPPED;
		reg_unlink(reg);
		report(reg);
		goto out;
	}
	if (status < 300 && msg)
		registered(reg, msg);
	else
		fail(reg, (unsigned)status, msg);
 out:
	gw_mem_deref(reg);
}

/* ------------------------------------------------------------------ */
/* API                                                                */
/* ------------------------------------------------------------------ */

/**
 * Register rc->aor at rc->registrar (an IP-literal host: ENOTSUP for
 * a name until DNS exists), now and for as long as reg lives; h gets
 * every state change.  *regp is borrowed, valid until h sees
 * SIP_REG_STOPPED (after sip_reg_remove) or the UA goes.
 */
int sip_reg_add(struct sip_reg **regp, struct sip_ua *ua,
		const struct sip_reg_conf *rc, sip_reg_h *h, void *arg)
{
	struct sip_reg *reg;
	osip_uri_t *u = NULL;
	struct sip_lsnr *l;
	bool secure;
	int err;

	if (!ua || !rc || !rc->registrar || !rc->aor)
		return EINVAL;
	reg = gw_mem_zalloc(sizeof(*reg), reg_destroy);
	if (!reg)
		return ENOMEM;
	gw_tmr_init(&reg->tmr);
	reg->ua = ua;
	reg->h = h;
	reg->arg = arg;
	reg->expires_s = rc->expires_s ? rc->expires_s : 3600;
	reg->retry_min_s = rc->retry_min_s ? rc->retry_min_s : 30;
	reg->retry_max_s = rc->retry_max_s ? rc->retry_max_s : 1800;
	if (reg->retry_max_s < reg->retry_min_s)
		reg->retry_max_s = reg->retry_min_s;
	reg->registrar = gw_mem_strdup(rc->registrar);
	reg->aor = gw_mem_strdup(rc->aor);
	reg->name = gw_mem_strdup(rc->name ? rc->name : rc->aor);
	reg->auth_pass = gw_mem_strdup(rc->auth_password);
	err = ENOMEM;
	if (!reg->registrar || !reg->aor || !reg->name)
		goto out;
	/* Where REGISTERs go: the registrar URI's host (s.10.2). */
	err = EINVAL;
	if (osip_uri_init(&u) < 0 || osip_uri_parse(u, rc->registrar) < 0)
		goto out;
	err = sip_uri_dst(u, &reg->tp, &reg->dst);
	secure = sip_uri_is_sips(u);	/* s.8.1.1.8: a SIPS Contact */
	osip_uri_free(u);
	u = NULL;
	if (err) {
		if (err == ENOTSUP)
			GW_WARN("registration %s: host names need DNS "
				"(RFC 3263); use an IP literal", reg->name);
		goto out;
	}
	err = EINVAL;
	if (osip_uri_init(&u) < 0 || osip_uri_parse(u, rc->aor) < 0 ||
	    !u->username || !u->host)
		goto out;
	reg->auth_user = gw_mem_strdup(rc->auth_user ? rc->auth_user :
				       u->username);
	if (rc->contact) {
		reg->contact = gw_mem_strdup(rc->contact);
	} else {
		l = sip_transport_lsnr(ua, reg->tp, reg->dst.ss.ss_family);
		err = EAFNOSUPPORT;
		if (!l)
			goto out;
		reg->contact = gw_mem_printf(
			l->local.ss.ss_family == AF_INET6 ?
			"%s:%s@[%s]:%u%s" : "%s:%s@%s:%u%s",
			secure ? "sips" : "sip", u->username, l->host,
			l->port, secure ? "" : sip_transport_param(reg->tp));
	}
	err = ENOMEM;
	if (!reg->contact || !reg->auth_user)
		goto out;
	osip_uri_free(u);
	u = NULL;
	reg->next = ua->regs;
	ua->regs = reg;			/* the list's reference */
	reg->linked = true;
	reg->state = SIP_REG_REGISTERING;
	err = send_register(reg, reg->expires_s, NULL);
	if (err) {
		reg_unlink(reg);
		return err;
	}
	GW_INFO("registration %s: %s at %s", reg->name, reg->aor,
		reg->registrar);
	if (regp)
		*regp = reg;
	return 0;
 out:
	if (u)
		osip_uri_free(u);
	gw_mem_deref(reg);
	return err;
}

/* Does reg perhaps hold a binding at the registrar? */
static bool maybe_bound(const struct sip_reg *reg)
{
	return reg->state == SIP_REG_REGISTERING || reg->tsx ||
		reg->expires_ms > wall_ms();
}

/**
 * Stop: un-REGISTER (s.10.2.2) when a binding may exist, then drop reg;
 * h gets SIP_REG_UNREGISTERING and, once answered (or at once when
 * there is nothing to remove), SIP_REG_STOPPED.
 */
int sip_reg_remove(struct sip_reg *reg)
{
	int err;

	if (!reg || !reg->linked)
		return EINVAL;
	if (reg->state == SIP_REG_UNREGISTERING)
		return EALREADY;
	gw_tmr_cancel(&reg->tmr);
	gw_mem_ref(reg);
	if (maybe_bound(reg)) {
		reg->auth_tried = false;
		reg->state = SIP_REG_UNREGISTERING;
		err = send_register(reg, 0, NULL);
		if (!err) {
			report(reg);
			gw_mem_deref(reg);
			return 0;
		}
	}
	reg->state = SIP_REG_STOPPED;
	reg->expires_ms = 0;
	reg_unlink(reg);
	report(reg);
	gw_mem_deref(reg);
	return 0;
}

void sip_reg_close_all(struct sip_ua *ua)
{
	osip_message_t *m;

	while (ua->regs) {
		struct sip_reg *reg = ua->regs;

		/* Fire and forget: nobody is left for the answer. */
		if (maybe_bound(reg) && !build(&m, reg, 0))
			sip_tsx_request(NULL, ua, m, reg->tp, &reg->dst, NULL,
					NULL);
		reg->h = NULL;
		reg_unlink(reg);
	}
}

/** Our registrations, for `junctionctl sip`. */
json_t *sip_reg_json(const struct sip_ua *ua)
{
	const struct sip_reg *reg;
	json_t *arr = json_array();
	int64_t now = wall_ms();

	for (reg = ua->regs; reg; reg = reg->next) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:b}",
			"name", reg->name, "aor", reg->aor,
			"registrar", reg->registrar, "contact", reg->contact,
			"state", sip_reg_state_name(reg->state),
			"last_status", (int)reg->last_status,
			"failures", (int)reg->failures,
			"refreshing", reg->refreshing);

		if (reg->expires_ms > now) {
			json_object_set_new(o, "expires", json_integer(
				reg->expires_ms / 1000));
			json_object_set_new(o, "expires_in", json_integer(
				(reg->expires_ms - now + 999) / 1000));
		} else {
			json_object_set_new(o, "expires", json_null());
		}
		if (reg->state == SIP_REG_FAILED) {
			json_object_set_new(o, "retry_at", json_integer(
				reg->retry_ms / 1000));
			json_object_set_new(o, "retry_in", json_integer(
				reg->retry_ms > now ?
				(reg->retry_ms - now + 999) / 1000 : 0));
		}
		json_array_append_new(arr, o);
	}
	return arr;
}
