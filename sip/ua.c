/* sip/ua.c - the SIP user agent: listeners, dispatch, OPTIONS, status */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_LOG_MOD "sip"
#include "sip_int.h"

/*
 * The UA owns the libosip2 instance, the listeners and the sessions.
 * Requests that passed tsx.c's checks arrive in sip_ua_request: INVITE
 * without a To tag starts a session; other requests with a To tag go to
 * their dialog (481 when there is none, s.12.2.2); OPTIONS is answered
 * with Allow, Accept and Supported (s.11.2); CANCEL goes to the INVITE
 * it cancels (481 when none, s.9.2).  REGISTER is refused with 405 until
 * the registrar exists.
 */

static void ua_destroy(void *data)
{
	struct sip_ua *ua = data;

	ua->closing = true;
	sip_session_close_all(ua);
	if (ua->osip)
		sip_tsx_run(ua);	/* the BYEs and 503s go out */
	sip_transport_close(ua);
	sip_tsx_close(ua);
	gw_mem_deref(ua->user_agent);
	gw_mem_deref(ua->domain);
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
	ua->conf.user_agent = ua->user_agent;
	ua->conf.domain = ua->domain;
	if (!ua->conf.t1_ms)
		ua->conf.t1_ms = 500;
	if (!ua->conf.max_message || ua->conf.max_message > 65535)
		ua->conf.max_message = SIP_MAX_MESSAGE_DEF;
	if (!ua->conf.tcp_idle_s)
		ua->conf.tcp_idle_s = SIP_TCP_IDLE_DEF;
	ua->frame_timeout_ms = SIP_FRAME_TIMEOUT_MS;
	ua->st_unit_ms = 1000;
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

/** The UA's state for `junctionctl sip`. */
json_t *sip_ua_json(const struct sip_ua *ua)
{
	json_t *o = sip_transport_json(ua);
	const struct sip_tsx *t;
	unsigned n = 0, pending = 0;

	/* pending: server transactions still waiting for our final
	 * response; a leftover one is a stuck transaction. */
	for (t = ua->tsxs; t; t = t->next) {
		n++;
		if ((t->type == IST || t->type == NIST) && !t->killed &&
		    !t->final_sent)
			pending++;
	}
	json_object_set_new(o, "sessions", sip_session_json(ua));
	json_object_set_new(o, "transactions", json_integer(n));
	json_object_set_new(o, "pending", json_integer(pending));
	json_object_set_new(o, "stats", json_pack(
		"{s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
		"rx_msgs", (json_int_t)ua->stats.rx_msgs,
		"tx_msgs", (json_int_t)ua->stats.tx_msgs,
		"rx_bad", (json_int_t)ua->stats.rx_bad,
		"rx_dropped", (json_int_t)ua->stats.rx_dropped,
		"transactions_created", (json_int_t)ua->stats.tsx_created,
		"calls_in", (json_int_t)ua->stats.calls_in,
		"calls_out", (json_int_t)ua->stats.calls_out));
	return o;
}

/* A request that passed tsx.c's checks, in its new server transaction. */
void sip_ua_request(struct sip_ua *ua, struct sip_tsx *tsx,
		    osip_message_t *req, const struct sip_src *src)
{
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
