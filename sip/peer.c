/* sip/peer.c - OPTIONS keepalives to configured peers (RFC 3261 s.11) */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GW_LOG_MOD "sip"
#include "sip_int.h"

/*
 * One struct sip_peer per far end call control routes to.  Every
 * interval an OPTIONS goes to sip:HOST:PORT (RFC 3263 finds the targets
 * of a name, dns.c, as for any request), outside any dialog: a fresh
 * From tag and branch each time, one Call-ID per peer with CSeq one
 * higher per probe, Max-Forwards 70 (s.11.1; OPTIONS to a next hop,
 * answered by the peer itself or by the proxy in front of it).
 *
 * The verdict (sip.h): a final response other than 408 or 503 means
 * alive (s.11.2: "the response code chosen MUST be the same that would
 * have been chosen had the request been an INVITE", so a 404 or 486 is
 * still a live peer), a 503 that it wants no traffic (s.21.5.4), and a
 * timeout, a transport error, a name that does not resolve, or a probe
 * still unanswered when the next one is due, that it did not answer.
 * max_failures of those in a row make it DOWN; one good answer makes
 * it UP.  The handler hears only changes of state.
 */

#define PEER_INTERVAL_DEF	30
#define PEER_FAILURES_DEF	3

struct sip_peer {
	struct sip_peer *next;		/* ua->peers, the list's ref */
	struct sip_ua *ua;		/* borrowed */
	bool linked;
	char *name;
	char *host;
	char *uri;			/* Request-URI */
	unsigned port;
	enum sip_transport tp;
	unsigned interval_s, max_failures;
	enum sip_peer_state state;
	unsigned failures;
	unsigned last_status;
	unsigned rtt_ms;
	uint64_t sent_ms;
	uint64_t probes, answered;
	char *call_id;
	uint32_t cseq;
	struct sip_tsx *tsx;		/* probe in progress; referenced */
	struct gw_tmr tmr;
	sip_peer_h *h;
	void *arg;
};

static const char *const state_names[] = { "unknown", "up", "down" };

/** "unknown", "up", "down". */
const char *sip_peer_state_name(enum sip_peer_state state)
{
	if ((unsigned)state >= GW_ARRAY_SIZE(state_names))
		return "?";
	return state_names[state];
}

static void peer_destroy(void *data)
{
	struct sip_peer *p = data;

	gw_tmr_cancel(&p->tmr);
	if (p->tsx) {
		sip_tsx_detach(p->tsx);
		gw_mem_deref(p->tsx);
	}
	gw_mem_deref(p->name);
	gw_mem_deref(p->host);
	gw_mem_deref(p->uri);
	gw_mem_deref(p->call_id);
}

static void peer_unlink(struct sip_peer *p)
{
	struct sip_peer **pp;

	if (!p->linked)
		return;
	p->linked = false;
	gw_tmr_cancel(&p->tmr);
	if (p->tsx) {
		sip_tsx_detach(p->tsx);
		p->tsx = gw_mem_deref(p->tsx);
	}
	for (pp = &p->ua->peers; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			p->next = NULL;
			gw_mem_deref(p);
			return;
		}
}

static struct sip_peer *peer_find(const struct sip_ua *ua, const char *name)
{
	struct sip_peer *p;

	for (p = ua ? ua->peers : NULL; p && name; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

static void report(struct sip_peer *p)
{
	struct sip_peer_info info;

	if (!p->h)
		return;
	memset(&info, 0, sizeof(info));
	info.name = p->name;
	info.state = p->state;
	info.last_status = p->last_status;
	info.failures = p->failures;
	info.rtt_ms = p->rtt_ms;
	p->h(p, &info, p->arg);
}

/* The outcome of a probe: status (408 for none), answered when a
 * response came from the network. */
static void verdict(struct sip_peer *p, unsigned status, bool answered)
{
	enum sip_peer_state old = p->state;

	p->last_status = status;
	if (answered && status != 503 && status != 408) {
		p->answered++;
		p->failures = 0;
		p->rtt_ms = (unsigned)(gw_now_ms() - p->sent_ms);
		p->state = SIP_PEER_UP;
	} else {
		p->failures++;
		if (p->failures >= p->max_failures)
			p->state = SIP_PEER_DOWN;
	}
	if (p->state == old)
		return;
	if (p->state == SIP_PEER_DOWN)
		GW_WARN("peer %s (%s) down: %u failures, last %u", p->name,
			p->uri, p->failures, status);
	else
		GW_INFO("peer %s (%s) %s", p->name, p->uri,
			sip_peer_state_name(p->state));
	report(p);
}

static void peer_resp(struct sip_tsx *tsx, int status, osip_message_t *msg,
		      void *arg)
{
	struct sip_peer *p = arg;

	(void)tsx;
	if (status < 200)
		return;
	gw_mem_ref(p);
	if (p->tsx) {
		sip_tsx_detach(p->tsx);
		p->tsx = gw_mem_deref(p->tsx);
	}
	verdict(p, (unsigned)status, msg != NULL);
	gw_mem_deref(p);
}

static int build(osip_message_t **mp, struct sip_peer *p)
{
	struct sip_ua *ua = p->ua;
	osip_message_t *m = NULL;
	osip_uri_t *u = NULL;
	struct sip_lsnr *l;
	enum sip_transport tp = p->tp;
	char buf[512], host[80], tag[16], branch[24];
	int err = EINVAL;

	if (osip_uri_init(&u) < 0)
		return ENOMEM;
	if (osip_uri_parse(u, p->uri) < 0) {
		osip_uri_free(u);
		return EINVAL;
	}
	/* A likely listener; sip_tsx_request_uri rewrites Via for the
	 * one each target needs. */
	l = sip_dns_lsnr_hint(ua, u, &tp);
	osip_uri_free(u);
	if (!l)
		return EAFNOSUPPORT;
	snprintf(host, sizeof(host), l->local.ss.ss_family == AF_INET6 ?
		 "[%s]" : "%s", l->host);
	if (osip_message_init(&m) < 0)
		return ENOMEM;
	osip_message_set_method(m, osip_strdup("OPTIONS"));
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	if (osip_uri_init(&m->req_uri) < 0 ||
	    osip_uri_parse(m->req_uri, p->uri) < 0)
		goto out;
	sip_rand_token(branch, 16);
	snprintf(buf, sizeof(buf), "SIP/2.0/%s %s:%u;branch=z9hG4bK%s;rport",
		 sip_transport_name(tp), host, l->port, branch);
	osip_message_set_via(m, buf);
	sip_rand_token(tag, sizeof(tag));
	snprintf(buf, sizeof(buf), "<sip:keepalive@%s>;tag=%s",
		 ua->domain && *ua->domain ? ua->domain : host, tag);
	if (osip_message_set_from(m, buf) < 0)
		goto out;
	snprintf(buf, sizeof(buf), "<%s>", p->uri);
	if (osip_message_set_to(m, buf) < 0)
		goto out;
	if (!p->call_id) {
		sip_rand_token(tag, sizeof(tag));
		p->call_id = gw_mem_printf("%s%s@%s", tag, branch, l->host);
		if (!p->call_id) {
			err = ENOMEM;
			goto out;
		}
	}
	osip_message_set_call_id(m, p->call_id);
	snprintf(buf, sizeof(buf), "%u OPTIONS", ++p->cseq);
	osip_message_set_cseq(m, buf);
	osip_message_set_max_forwards(m, "70");
	osip_message_set_accept(m, SIP_ACCEPT);
	if (ua->user_agent && *ua->user_agent)
		osip_message_set_user_agent(m, ua->user_agent);
	*mp = m;
	return 0;
 out:
	osip_message_free(m);
	return err;
}

static void tmr_probe(void *arg);

static void probe(struct sip_peer *p)
{
	struct sip_ua *ua = p->ua;
	osip_message_t *m = NULL;
	int err;

	gw_tmr_start(&p->tmr, (uint64_t)p->interval_s * ua->peer_unit_ms,
		     tmr_probe, p);
	if (p->tsx) {
		/* No answer within the interval: that probe failed. */
		sip_tsx_detach(p->tsx);
		p->tsx = gw_mem_deref(p->tsx);
		verdict(p, 408, false);
		if (!p->linked)
			return;
	}
	err = build(&m, p);
	if (!err) {
		p->probes++;
		p->sent_ms = gw_now_ms();
		err = sip_tsx_request_uri(&p->tsx, ua, m, NULL, peer_resp, p);
	}
	if (err) {
		GW_LOG_LIMITED(GW_LOG_WARN, "peer %s: cannot send OPTIONS: "
			       "%s", p->name, strerror(err));
		verdict(p, 503, false);
		return;
	}
	sip_tsx_run(ua);
}

static void tmr_probe(void *arg)
{
	struct sip_peer *p = arg;

	gw_mem_ref(p);
	probe(p);
	gw_mem_deref(p);
}

/** Start keeping pc's peer alive; see sip.h. */
int sip_peer_add(struct sip_peer **peerp, struct sip_ua *ua,
		 const struct sip_peer_conf *pc, sip_peer_h *h, void *arg)
{
	struct sip_peer *p;
	const char *scheme;
	char hostbuf[140], portbuf[16];

	if (!ua || !pc || !pc->name || !*pc->name || !pc->host ||
	    !*pc->host || pc->port > 65535)
		return EINVAL;
	if (peer_find(ua, pc->name))
		return EEXIST;
	p = gw_mem_zalloc(sizeof(*p), peer_destroy);
	if (!p)
		return ENOMEM;
	p->ua = ua;
	gw_tmr_init(&p->tmr);
	p->tp = pc->transport;
	p->port = pc->port;
	p->interval_s = pc->interval_s ? pc->interval_s : PEER_INTERVAL_DEF;
	p->max_failures = pc->max_failures ? pc->max_failures :
		PEER_FAILURES_DEF;
	p->h = h;
	p->arg = arg;
	p->name = gw_mem_strdup(pc->name);
	p->host = gw_mem_strdup(pc->host);
	/* An IPv6 literal goes in brackets (RFC 3261 s.19.1.1). */
	snprintf(hostbuf, sizeof(hostbuf), strchr(pc->host, ':') &&
		 pc->host[0] != '[' ? "[%s]" : "%s", pc->host);
	portbuf[0] = '\0';
	if (pc->port)
		snprintf(portbuf, sizeof(portbuf), ":%u", pc->port);
	scheme = pc->transport == SIP_TLS ? "sips" : "sip";
	p->uri = gw_mem_printf("%s:%s%s%s", scheme, hostbuf, portbuf,
			       pc->transport == SIP_TCP ? ";transport=tcp" :
			       "");
	if (!p->name || !p->host || !p->uri) {
		gw_mem_deref(p);
		return ENOMEM;
	}
	p->next = ua->peers;
	ua->peers = p;			/* the list's reference */
	p->linked = true;
	if (peerp)
		*peerp = p;
	/* The first probe from the loop, not from inside the caller. */
	gw_tmr_start(&p->tmr, 0, tmr_probe, p);
	return 0;
}

/** Stop probing name; ENOENT when there is no such peer. */
int sip_peer_remove(struct sip_ua *ua, const char *name)
{
	struct sip_peer *p = peer_find(ua, name);

	if (!p)
		return ENOENT;
	p->h = NULL;
	peer_unlink(p);
	return 0;
}

/** Is name's peer answering (state UP)? */
bool sip_peer_up(const struct sip_ua *ua, const char *name)
{
	const struct sip_peer *p = peer_find(ua, name);

	return p && p->state == SIP_PEER_UP;
}

/** name's state; SIP_PEER_UNKNOWN for a name not configured too. */
enum sip_peer_state sip_peer_state(const struct sip_ua *ua,
				   const char *name)
{
	const struct sip_peer *p = peer_find(ua, name);

	return p ? p->state : SIP_PEER_UNKNOWN;
}

void sip_peer_close_all(struct sip_ua *ua)
{
	while (ua->peers) {
		ua->peers->h = NULL;
		peer_unlink(ua->peers);
	}
}

/** The peers, for `junctionctl sip`. */
json_t *sip_peer_json(const struct sip_ua *ua)
{
	const struct sip_peer *p;
	json_t *arr = json_array();

	for (p = ua->peers; p; p = p->next)
		json_array_append_new(arr, json_pack(
			"{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:I,s:I,s:o}",
			"name", p->name, "uri", p->uri,
			"transport", sip_transport_name(p->tp),
			"state", sip_peer_state_name(p->state),
			"failures", (int)p->failures,
			"last_status", (int)p->last_status,
			"interval", (int)p->interval_s,
			"max_failures", (int)p->max_failures,
			"probes", (json_int_t)p->probes,
			"answered", (json_int_t)p->answered,
			"rtt_ms", p->answered ? json_integer(p->rtt_ms) :
			json_null()));
	return arr;
}
