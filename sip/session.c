/* sip/session.c - INVITE sessions, UAS and UAC (RFC 3261 s.13-15) */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GW_LOG_MOD "sip"
#include "sip_int.h"
#include "sdp.h"

/*
 * A session is one INVITE dialog.  The UAS side sends 100 Trying at
 * once, then whatever the upper layer decides (18x, 2xx, reject); it
 * retransmits its 2xx itself over UDP (T1 doubling to T2) until the ACK,
 * and gives up with a BYE after 64*T1 (s.13.3.1.4).  The UAC side ACKs
 * every 2xx, retransmissions included (the ICT ends on the first one).
 *
 * A re-INVITE or UPDATE from the peer is answered here, from our last
 * local SDP (same codecs, address and port; the direction follows the
 * offer, RFC 3264 s.6.1), and reported as SIP_SESS_MODIFIED; the upper
 * layer changes media by sip_session_modify.  Glare: a re-INVITE while
 * ours is pending gets 491; a 491 to ours retries after the s.14.1
 * back-off (2.1-4 s if we own the Call-ID, 0-2 s if not).
 *
 * Session timers (RFC 4028) both ways: a Session-Expires asked for is
 * honoured (422 with Min-SE below ours), conf.session_expires_s offers
 * one; the refresher re-INVITEs with its unchanged SDP at half the
 * interval, the other side sends BYE when no refresh came in time.
 *
 * REFER (RFC 3515) is accepted with 202 and a NOTIFY "100 Trying",
 * passed up as SIP_SESS_TRANSFER; sip_session_refer_notify reports the
 * outcome.  Replaces (RFC 3891): one embedded in Refer-To goes up with
 * the transfer, and an INVITE made with sip_call_params.replaces
 * carries it; an incoming INVITE with Replaces is matched to the dialog
 * it names (481 or 486 when it cannot replace it) and goes up with that
 * session in sip_incoming.replaces.
 *
 * Reliable provisional responses (RFC 3262) with conf.prack: as UAS,
 * 18x are sent with RSeq and retransmitted until PRACKed (504 after
 * 64*T1), a 2xx waits for the PRACK of a 1xx that carried SDP; as UAC,
 * reliable 18x are PRACKed.
 *
 * Digest (RFC 3261 s.22.2): a 401 or 407 to any request we send (the
 * INVITE, re-INVITEs, BYE, PRACK, NOTIFY) is answered once, with the
 * call's credentials or the UA's: the same request again, CSeq
 * incremented, same Call-ID and tags, a new branch.  A second challenge
 * to it is final.
 *
 * UPDATE (RFC 3311) both ways: one from the peer is answered as a
 * re-INVITE is, in an early dialog too; ours carries a new offer in an
 * early dialog (sip_session_modify before the final response, once the
 * offer/answer of the INVITE has completed in reliable 1xx, s.5.1) or,
 * with conf.modify_by_update, in a confirmed one, when the peer listed
 * UPDATE in its Allow.  Offers cross as for re-INVITE: an UPDATE or
 * re-INVITE while ours is pending gets 491 (s.5.2) and ours is sent
 * again after the s.14.1 back-off.
 *
 * Identities (ident.c): the incoming INVITE's From, P-Asserted-Identity,
 * Privacy and Diversion/History-Info go up in struct sip_incoming; an
 * outgoing INVITE carries the call's PAI, Privacy and Diversion, and a
 * From of "Anonymous" <sip:anonymous@anonymous.invalid> when Privacy
 * asks to hide the user or headers (RFC 3323 s.4.1.1.3).
 *
 * Offers in PRACK (RFC 3262 s.5, RFC 6337 s.2.1, s.3.1): as UAC, an
 * offer in a reliable 1xx to an INVITE without one is answered in the
 * PRACK; as UAS, a PRACK answers the offer of our reliable 1xx, or makes
 * a new offer that its 200 answers.
 *
 * The gateway puts no offer of its own in a PRACK (RFC 3262 leaves it
 * to the UAC; the INVITE's offer or the 1xx's answer is enough).
 */

enum sess_state {
	SESS_INCOMING,		/* UAS: INVITE received, no final yet */
	SESS_CALLING,		/* UAC: INVITE sent, no final yet */
	SESS_ANSWERED,		/* UAS: 2xx sent, waiting for the ACK */
	SESS_ESTABLISHED,
	SESS_CLOSED,
};

struct sip_session {
	struct sip_session *next;	/* ua->sessions; the list's ref */
	struct sip_ua *ua;		/* borrowed */
	enum sess_state state;
	bool linked;			/* in ua->sessions */
	bool uac;
	struct sip_dialog *dlg;
	struct sip_tsx *inv_tsx;	/* the INVITE transaction in progress */
	osip_message_t *inv_req;	/* UAS: the INVITE being answered;
					 * UAC: our INVITE */
	osip_message_t *resp_2xx;	/* UAS: 2xx to retransmit */
	osip_message_t *ack;		/* UAC: ACK for 2xx retransmissions */
	bool offer_in_invite;		/* UAS: the INVITE had an offer */
	bool reinvite;			/* UAS: inv_* is a re-INVITE */
	bool reinv_out;			/* our re-INVITE is pending */
	bool got_1xx;			/* UAC: CANCEL allowed */
	bool cancel_pending;		/* UAC: hang up once 1xx arrives */
	bool hangup_pending;		/* UAC: BYE once 2xx arrives */
	unsigned redirects;
	enum sip_transport tp;		/* UAC: where our INVITE went */
	struct sip_addr dst;
	struct sip_src src;		/* UAS: where the INVITE came from */
	struct gw_tmr tmr_2xx;
	uint64_t t_2xx;
	uint64_t start_2xx;
	struct gw_tmr tmr_glare;
	struct gw_tmr tmr_st;		/* RFC 4028 refresh or expiry */
	unsigned se;			/* Session-Expires in force, s */
	bool st_refresher;		/* we refresh */
	bool st_peer;			/* the peer supports timer */
	bool refreshing;		/* our re-INVITE is a refresh */
	unsigned se_retries;		/* 422s followed */
	/* RFC 3262 */
	bool rel_peer;			/* the peer does 100rel */
	uint32_t rseq;			/* UAS: our last RSeq */
	osip_message_t *rel_1xx;	/* UAS: reliable 1xx not PRACKed */
	bool rel_sdp;			/* ... and it carried our SDP */
	bool prack_answer;		/* UAS: a PRACK answered our 1xx offer */
	struct gw_tmr tmr_rel;
	uint64_t t_rel, start_rel;
	char *answer_wait;		/* UAS: 2xx SDP held for the PRACK */
	uint32_t rseq_rx;		/* UAC: last RSeq PRACKed */
	char *glare_sdp;		/* the offer to send again */
	char *local_sdp;		/* our last SDP, text */
	char *remote_sdp;		/* the peer's last SDP, text */
	struct sip_media media;
	sip_session_h *h;
	void *arg;
	char *call_id;
	uint32_t cseq;			/* UAC: of our last initial INVITE */
	char *auth_user;		/* UAC credentials (params or conf) */
	char *auth_pass;
	struct sip_auth_client auth_cl;
	bool auth_tried;		/* the INVITE in progress was */
	/* UAC identity, kept for redirects and retries */
	struct sip_party from, pai;
	struct sip_redirect redirect;
	char *diversion;
	/* RFC 3311 */
	bool peer_update;		/* the peer's Allow lists UPDATE */
	bool update_out;		/* our UPDATE is pending */
	bool glare_update;		/* tmr_glare re-sends an UPDATE */
	struct sip_tsx *upd_tsx;
	osip_message_t *upd_req;	/* our UPDATE, for its retry */
	bool upd_auth_tried;		/* it answered a challenge */
	char *upd_prev_sdp;		/* local SDP before our UPDATE */
	char *replaces;			/* our INVITE's Replaces (RFC 3891) */
};

static const struct sip_sdp_codec default_codecs[] = {
	{ "PCMA", 8000, 1, 8, NULL },
	{ "PCMU", 8000, 1, 0, NULL },
};

/* ------------------------------------------------------------------ */
/* Life cycle                                                         */
/* ------------------------------------------------------------------ */

static void sess_destroy(void *data)
{
	struct sip_session *s = data;

	gw_tmr_cancel(&s->tmr_2xx);
	gw_tmr_cancel(&s->tmr_glare);
	gw_tmr_cancel(&s->tmr_st);
	gw_tmr_cancel(&s->tmr_rel);
	if (s->rel_1xx)
		osip_message_free(s->rel_1xx);
	gw_mem_deref(s->answer_wait);
	if (s->inv_tsx) {
		sip_tsx_detach(s->inv_tsx);
		gw_mem_deref(s->inv_tsx);
	}
	if (s->inv_req)
		osip_message_free(s->inv_req);
	if (s->resp_2xx)
		osip_message_free(s->resp_2xx);
	if (s->ack)
		osip_message_free(s->ack);
	gw_mem_deref(s->dlg);
	gw_mem_deref(s->glare_sdp);
	gw_mem_deref(s->local_sdp);
	gw_mem_deref(s->remote_sdp);
	gw_mem_deref(s->call_id);
	gw_mem_deref(s->auth_user);
	gw_mem_deref(s->auth_pass);
	gw_mem_deref(s->diversion);
	if (s->upd_tsx) {
		sip_tsx_detach(s->upd_tsx);
		gw_mem_deref(s->upd_tsx);
	}
	gw_mem_deref(s->upd_prev_sdp);
	gw_mem_deref(s->replaces);
	if (s->upd_req)
		osip_message_free(s->upd_req);
}

static struct sip_session *sess_new(struct sip_ua *ua)
{
	struct sip_session *s = gw_mem_zalloc(sizeof(*s), sess_destroy);

	if (!s)
		return NULL;
	s->ua = ua;
	gw_tmr_init(&s->tmr_2xx);
	gw_tmr_init(&s->tmr_glare);
	gw_tmr_init(&s->tmr_st);
	gw_tmr_init(&s->tmr_rel);
	s->media.te_pt = -1;
	s->next = ua->sessions;
	ua->sessions = s;		/* the list's reference */
	s->linked = true;
	return s;
}

/* End the session: unlink it (the list's reference goes). */
static void sess_close(struct sip_session *s)
{
	struct sip_session **pp;

	if (!s->linked)
		return;
	s->linked = false;
	s->state = SESS_CLOSED;
	gw_tmr_cancel(&s->tmr_2xx);
	gw_tmr_cancel(&s->tmr_glare);
	gw_tmr_cancel(&s->tmr_st);
	gw_tmr_cancel(&s->tmr_rel);
	if (s->inv_tsx)
		sip_tsx_detach(s->inv_tsx);
	if (s->upd_tsx)
		sip_tsx_detach(s->upd_tsx);
	for (pp = &s->ua->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			s->next = NULL;
			gw_mem_deref(s);
			return;
		}
	}
}

/* Report ev upward; the handler may drop the session. */
static void sess_report(struct sip_session *s,
			const struct sip_session_event *ev)
{
	if (s->h)
		s->h(s, ev, s->arg);
}

static void sess_closed(struct sip_session *s, unsigned status,
			const struct sip_reason *r)
{
	struct sip_session_event ev;

	if (!s->linked)
		return;
	gw_mem_ref(s);
	sess_close(s);
	memset(&ev, 0, sizeof(ev));
	ev.type = SIP_SESS_CLOSED;
	ev.status = status;
	if (r)
		ev.reason = *r;
	else
		ev.reason.location = -1;
	sess_report(s, &ev);
	gw_mem_deref(s);
}

/* ------------------------------------------------------------------ */
/* SDP                                                                */
/* ------------------------------------------------------------------ */

/* Our view of an SDP's first audio stream (for events). */
static void media_from_sdp(struct sip_media *md, const struct sip_sdp *sdp,
			   const char *text)
{
	const struct sip_sdp_media *m = NULL;
	const struct sip_sdp_conn *c;
	const struct sip_sdp_fmt *te;
	size_t i;

	memset(md, 0, sizeof(*md));
	md->te_pt = -1;
	md->sdp = text;
	for (i = 0; i < sdp->n_media; i++)
		if (sdp->media[i].type == SIP_SDP_AUDIO &&
		    sdp->media[i].port) {
			m = &sdp->media[i];
			break;
		}
	if (!m)
		return;
	c = sip_sdp_media_conn(sdp, m);
	if (c)
		snprintf(md->remote_addr, sizeof(md->remote_addr), "%.63s",
			 c->addr);
	md->remote_port = m->port;
	for (i = 0; i < m->n_fmts; i++) {
		if (!strcasecmp(m->fmts[i].name, "telephone-event"))
			continue;
		snprintf(md->codec, sizeof(md->codec), "%.15s",
			 m->fmts[i].name);
		md->pt = m->fmts[i].pt >= 0 ? (unsigned)m->fmts[i].pt : 0;
		md->clock = m->fmts[i].rate;
		if (!md->codec[0] && md->pt == 0)
			snprintf(md->codec, sizeof(md->codec), "PCMU");
		if (!md->codec[0] && md->pt == 8)
			snprintf(md->codec, sizeof(md->codec), "PCMA");
		if (!md->clock)
			md->clock = 8000;
		break;
	}
	md->ptime = m->ptime;
	te = sip_sdp_tel_event(m, 8000);
	if (te)
		md->te_pt = te->pt;
	md->hold = sip_sdp_media_held(sdp, m);
}

static int set_remote(struct sip_session *s, const char *body, size_t len)
{
	struct sip_sdp *sdp = NULL;
	char *text;
	int err;

	err = sip_sdp_parse(&sdp, body, len);
	if (err)
		return err;
	text = gw_mem_alloc(len + 1, NULL);
	if (!text) {
		gw_mem_deref(sdp);
		return ENOMEM;
	}
	memcpy(text, body, len);
	text[len] = '\0';
	gw_mem_deref(s->remote_sdp);
	s->remote_sdp = text;
	media_from_sdp(&s->media, sdp, s->remote_sdp);
	gw_mem_deref(sdp);
	return 0;
}

static int set_local(struct sip_session *s, const char *sdp)
{
	char *t = gw_mem_strdup(sdp);

	if (!t)
		return ENOMEM;
	gw_mem_deref(s->local_sdp);
	s->local_sdp = t;
	return 0;
}

/*
 * Answer a re-INVITE/UPDATE offer from our last local SDP: its audio
 * codecs, address and port (RFC 3264 s.8: the same o= line with its
 * version bumped when the answer differs).
 */
static int answer_from_local(char **answerp, struct sip_session *s,
			     const struct sip_sdp *offer)
{
	struct sip_sdp *local = NULL, *ans = NULL;
	struct sip_sdp_codec *codecs = NULL;
	struct sip_sdp_caps caps;
	struct sip_sdp_neg neg;
	const struct sip_sdp_media *m = NULL;
	const struct sip_sdp_conn *c;
	const struct sip_sdp_fmt *te;
	size_t i, n = 0;
	int err;

	sip_sdp_caps_init(&caps);
	if (s->local_sdp) {
		err = sip_sdp_parse(&local, s->local_sdp,
				    strlen(s->local_sdp));
		if (err)
			return err;
		for (i = 0; i < local->n_media; i++)
			if (local->media[i].type == SIP_SDP_AUDIO) {
				m = &local->media[i];
				break;
			}
	}
	if (m) {
		codecs = calloc(m->n_fmts + 1, sizeof(*codecs));
		if (!codecs) {
			err = ENOMEM;
			goto out;
		}
		for (i = 0; i < m->n_fmts; i++) {
			if (!strcasecmp(m->fmts[i].name, "telephone-event"))
				continue;
			codecs[n].name = m->fmts[i].name[0] ?
				m->fmts[i].name : m->fmts[i].pt == 0 ?
				"PCMU" : "PCMA";
			codecs[n].rate = m->fmts[i].rate ?
				m->fmts[i].rate : 8000;
			codecs[n].pt = m->fmts[i].pt;
			n++;
		}
		caps.codecs = codecs;
		caps.n_codecs = n;
		te = sip_sdp_tel_event(m, 8000);
		caps.tel_event = te != NULL;
		if (te)
			caps.tel_event_pt = te->pt;
		c = sip_sdp_media_conn(local, m);
		if (c && c->af == SIP_SDP_IP6)
			caps.addr6 = c->addr;
		else if (c)
			caps.addr4 = c->addr;
		caps.audio_port = m->port;
		caps.ptime = m->ptime;
	} else {
		caps.codecs = default_codecs;
		caps.n_codecs = GW_ARRAY_SIZE(default_codecs);
		caps.addr4 = "127.0.0.1";
		caps.audio_port = 40000;
	}
	err = sip_sdp_answer(&ans, offer, &caps, &neg);
	if (err)
		goto out;
	if (local) {
		ans->origin = local->origin;
		if (!sip_sdp_same(ans, local))
			ans->origin.version++;
	}
	err = sip_sdp_encode(ans, answerp);
 out:
	free(codecs);
	gw_mem_deref(local);
	gw_mem_deref(ans);
	return err;
}

static bool is_sdp(const osip_message_t *m)
{
	return m->content_type && m->content_type->type &&
		m->content_type->subtype &&
		!strcasecmp(m->content_type->type, "application") &&
		!strcasecmp(m->content_type->subtype, "sdp");
}

static bool has_body(const osip_message_t *m, const char **bp, size_t *lp)
{
	return !sip_msg_body(m, bp, lp) && *lp > 0;
}

/* Does m's Allow list method?  libosip2 keeps Allow apart from the
 * other headers, one entry per value or per comma list. */
static bool allows(const osip_message_t *m, const char *method)
{
	osip_allow_t *a;
	const char *p, *e;
	size_t n = strlen(method);
	int pos;

	for (pos = 0; !osip_list_eol(&m->allows, pos); pos++) {
		a = osip_list_get(&m->allows, pos);
		for (p = a ? a->value : NULL; p && *p; p = e) {
			p += strspn(p, " \t,");
			e = p + strcspn(p, " \t,");
			if ((size_t)(e - p) == n && !strncasecmp(p, method, n))
				return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Lookups                                                            */
/* ------------------------------------------------------------------ */

static struct sip_session *find_dialog(struct sip_ua *ua,
				       const osip_message_t *m)
{
	struct sip_session *s;

	for (s = ua->sessions; s; s = s->next)
		if (s->dlg && s->state != SESS_CLOSED &&
		    sip_dialog_match(s->dlg, m))
			return s;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* UAS                                                                */
/* ------------------------------------------------------------------ */

static int add_contact(struct sip_session *s, osip_message_t *m)
{
	struct sip_lsnr *l = s->src.lsnr;
	char buf[160];
	bool secure;

	if (!l)
		l = sip_transport_lsnr(s->ua, s->dlg ? s->dlg->tp : s->tp,
				       s->dlg ? s->dlg->dst.ss.ss_family :
				       s->dst.ss.ss_family);
	if (!l)
		return 0;
	/* A dialog started by a SIPS Request-URI has a SIPS Contact
	 * (s.12.1.1), naming no transport (RFC 5630 s.3.1.3). */
	secure = s->dlg ? s->dlg->secure : l->tp == SIP_TLS && s->inv_req &&
		sip_uri_is_sips(s->inv_req->req_uri);
	snprintf(buf, sizeof(buf), l->local.ss.ss_family == AF_INET6 ?
		 "<%s:[%s]:%u%s>" : "<%s:%s:%u%s>", secure ? "sips" : "sip",
		 l->host, l->port, secure ? "" : sip_transport_param(l->tp));
	osip_message_set_contact(m, buf);
	return 0;
}

/* ---- session timers (RFC 4028) ------------------------------------ */

/* Session-Expires of m (long or compact form): seconds, 0 if none;
 * *refp gets 'c' (refresher=uac), 's' (uas) or 0. */
static unsigned get_se(const osip_message_t *m, char *refp)
{
	const char *v = sip_msg_header(m, "session-expires"), *r;

	if (!v)
		v = sip_msg_header(m, "x");
	*refp = 0;
	if (!v)
		return 0;
	r = strcasestr(v, "refresher=");
	if (r && !strncasecmp(r + 10, "uac", 3))
		*refp = 'c';
	else if (r && !strncasecmp(r + 10, "uas", 3))
		*refp = 's';
	return (unsigned)strtoul(v, NULL, 10);
}

static unsigned min_se(const struct sip_session *s)
{
	return s->ua->conf.min_se_s >= 90 ? s->ua->conf.min_se_s : 90;
}

/* Session-Expires (and Require: timer when the peer supports it) for a
 * 2xx of ours or a refresh (s.9, s.7.4). */
static void add_se(struct sip_session *s, osip_message_t *m, bool response)
{
	char buf[64];
	bool uac_refreshes;

	if (!s->se)
		return;
	/* The refresher is named from the dialog's initial roles. */
	uac_refreshes = s->dlg && s->dlg->uac ? s->st_refresher :
		!s->st_refresher;
	snprintf(buf, sizeof(buf), "%u;refresher=%s", s->se,
		 uac_refreshes ? "uac" : "uas");
	osip_message_set_header(m, "Session-Expires", buf);
	if (response && s->st_peer)
		osip_message_set_header(m, "Require", "timer");
}

static void tmr_st(void *arg);

static void st_start(struct sip_session *s)
{
	uint64_t ms;

	if (!s->se)
		return;
	/* The refresher refreshes at half the interval; the other side
	 * gives up at the interval less min(32 s, a third) (s.10). */
	if (s->st_refresher)
		ms = (uint64_t)s->se * s->ua->st_unit_ms / 2;
	else
		ms = ((uint64_t)s->se -
		      (s->se / 3 < 32 ? s->se / 3 : 32)) * s->ua->st_unit_ms;
	gw_tmr_start(&s->tmr_st, ms, tmr_st, s);
}

static int uas_response(osip_message_t **rp, struct sip_session *s,
			unsigned status, const char *sdp)
{
	osip_message_t *r;
	int err;

	err = sip_msg_response(&r, s->inv_req, status,
			       s->dlg ? s->dlg->local_tag :
			       s->inv_tsx->totag);
	if (err)
		return err;
	if (status > 100 && status < 300) {
		add_contact(s, r);
		osip_message_set_allow(r, SIP_ALLOW);
		osip_message_set_header(r, "Supported",
				sip_supported(s->ua));
		if (status >= 200)
			add_se(s, r, true);
	}
	if (sdp && (err = sip_msg_set_body(r, "application/sdp", sdp))) {
		osip_message_free(r);
		return err;
	}
	*rp = r;
	return 0;
}

static void tmr_2xx(void *arg);
static void tmr_rel(void *arg);

static void resend_2xx_start(struct sip_session *s)
{
	s->t_2xx = s->ua->conf.t1_ms;
	s->start_2xx = gw_now_ms();
	gw_tmr_start(&s->tmr_2xx, s->t_2xx, tmr_2xx, s);
}

/* ---- requests that answer a challenge ----------------------------- */

/* A request sent outside the INVITE machinery, kept to be sent again
 * with credentials once (owned by its transactions). */
struct auth_req {
	struct sip_ua *ua;		/* borrowed: outlives transactions */
	struct sip_dialog *dlg;		/* NULL outside a dialog */
	osip_message_t *req;
	char *user, *pass;
	struct sip_auth_client cl;
	enum sip_transport tp;
	struct sip_addr dst;
	bool tried;
};

static void auth_req_destroy(void *data)
{
	struct auth_req *a = data;

	if (a->req)
		osip_message_free(a->req);
	gw_mem_deref(a->dlg);
	gw_mem_deref(a->user);
	gw_mem_deref(a->pass);
}

/* A copy of req for its retry: a new branch and, in a dialog, the next
 * CSeq (s.22.2, s.8.1.3.5). */
static int retry_clone(osip_message_t **mp, const osip_message_t *req,
		       uint32_t cseq)
{
	osip_message_t *m = NULL;
	osip_via_t *v = NULL;
	osip_generic_param_t *b = NULL;
	char branch[24], buf[32], name[] = "branch";

	if (osip_message_clone(req, &m) < 0)
		return ENOMEM;
	osip_message_get_via(m, 0, &v);
	if (v && osip_via_param_get_byname(v, name, &b) >= 0 && b) {
		memcpy(branch, "z9hG4bK", 7);
		sip_rand_token(branch + 7, 16);
		osip_free(b->gvalue);
		b->gvalue = osip_strdup(branch);
	}
	if (m->cseq) {
		snprintf(buf, sizeof(buf), "%u", cseq);
		osip_free(m->cseq->number);
		m->cseq->number = osip_strdup(buf);
	}
	osip_message_force_update(m);
	*mp = m;
	return 0;
}

static void auth_req_resp(struct sip_tsx *tsx, int status,
			  osip_message_t *msg, void *arg)
{
	struct auth_req *a = arg;
	struct sip_tsx *t = NULL;
	osip_message_t *m = NULL;
	uint32_t cseq;

	(void)tsx;
	if ((status != 401 && status != 407) || !msg || a->tried)
		return;
	a->tried = true;
	cseq = a->dlg ? ++a->dlg->local_cseq :
		(uint32_t)strtoul(a->req->cseq->number, NULL, 10) + 1;
	if (retry_clone(&m, a->req, cseq))
		return;
	if (sip_auth_add(m, msg, &a->cl, a->user, a->pass)) {
		osip_message_free(m);
		return;
	}
	if (!sip_tsx_request(&t, a->ua, m, a->tp, &a->dst, auth_req_resp, a)) {
		t->owned = gw_mem_ref(a);
		gw_mem_deref(t);
	}
}

/* Send req (consumed) in s's dialog; a 401/407 to it is answered once
 * with s's credentials. */
static int dlg_send(struct sip_session *s, osip_message_t *req)
{
	struct auth_req *a;
	struct sip_tsx *t = NULL;
	int err;

	if (!s->auth_user || !s->auth_pass)
		return sip_tsx_request(NULL, s->ua, req, s->dlg->tp,
				       &s->dlg->dst, NULL, NULL);
	a = gw_mem_zalloc(sizeof(*a), auth_req_destroy);
	if (!a || osip_message_clone(req, &a->req) < 0) {
		gw_mem_deref(a);
		osip_message_free(req);
		return ENOMEM;
	}
	a->ua = s->ua;
	a->dlg = gw_mem_ref(s->dlg);
	a->user = gw_mem_strdup(s->auth_user);
	a->pass = gw_mem_strdup(s->auth_pass);
	a->cl = s->auth_cl;
	a->tp = s->dlg->tp;
	a->dst = s->dlg->dst;
	err = sip_tsx_request(&t, s->ua, req, a->tp, &a->dst, auth_req_resp,
			      a);
	if (!err) {
		t->owned = a;		/* the transaction's reference */
		gw_mem_deref(t);
	} else {
		gw_mem_deref(a);
	}
	return err;
}

static void send_bye(struct sip_session *s, const struct sip_reason *r)
{
	osip_message_t *bye;

	if (!s->dlg || sip_dialog_request(&bye, s->dlg, s->ua, "BYE"))
		return;
	sip_msg_add_reason(bye, r);
	dlg_send(s, bye);
}

static void tmr_2xx(void *arg)
{
	struct sip_session *s = arg;
	struct sip_ua *ua = s->ua;	/* s may be gone after sess_closed */
	uint64_t t1 = ua->conf.t1_ms;

	if (!s->resp_2xx)
		return;
	if (gw_now_ms() - s->start_2xx >= 64 * t1) {
		/* s.13.3.1.4: no ACK; end the session. */
		GW_WARN("%s: no ACK for 2xx, hanging up", s->call_id);
		osip_message_free(s->resp_2xx);
		s->resp_2xx = NULL;
		send_bye(s, NULL);
		sess_closed(s, 408, NULL);
		sip_tsx_run(ua);
		return;
	}
	if (s->src.tp == SIP_UDP)
		sip_send_raw(s->ua, s->resp_2xx, s->src.tp,
			     &s->inv_tsx->dst, NULL);
	s->t_2xx *= 2;
	if (s->t_2xx > 4000)
		s->t_2xx = 4000;
	gw_tmr_start(&s->tmr_2xx, s->t_2xx, tmr_2xx, s);
}

static void tmr_st(void *arg)
{
	struct sip_session *s = arg;
	struct sip_ua *ua = s->ua;

	if (s->st_refresher) {
		if (s->local_sdp && !s->reinv_out && !s->resp_2xx) {
			char *sdp = gw_mem_ref(s->local_sdp);

			s->refreshing = true;
			if (sip_session_modify(s, sdp))
				s->refreshing = false;
			gw_mem_deref(sdp);
		}
		st_start(s);	/* again, should this one fail */
		return;
	}
	/* RFC 4028 s.10: no refresh came; the session is over. */
	GW_INFO("%s: session expired (%u s)", s->call_id, s->se);
	send_bye(s, NULL);
	sess_closed(s, 408, NULL);
	sip_tsx_run(ua);
}

/** Set the handler that gets sess's events. */
void sip_session_set_handler(struct sip_session *sess, sip_session_h *h,
			     void *arg)
{
	sess->h = h;
	sess->arg = arg;
}

static void tmr_rel(void *arg)
{
	struct sip_session *s = arg;
	struct sip_ua *ua = s->ua;
	osip_message_t *r;

	if (!s->rel_1xx)
		return;
	if (gw_now_ms() - s->start_rel >= 64 * (uint64_t)ua->conf.t1_ms) {
		/* RFC 3262 s.3: no PRACK; reject the INVITE. */
		osip_message_free(s->rel_1xx);
		s->rel_1xx = NULL;
		if (!uas_response(&r, s, 504, NULL))
			sip_tsx_respond_msg(s->inv_tsx, r);
		sess_closed(s, 504, NULL);
		sip_tsx_run(ua);
		return;
	}
	if (s->src.tp == SIP_UDP)
		sip_send_raw(ua, s->rel_1xx, SIP_UDP, &s->inv_tsx->dst, NULL);
	s->t_rel *= 2;
	gw_tmr_start(&s->tmr_rel, s->t_rel, tmr_rel, s);
}

static void rx_offer(struct sip_session *s, struct sip_tsx *tsx,
		     osip_message_t *req, bool update);

/* PRACK (RFC 3262 s.3, s.7.2): 200 if its RAck names our reliable 1xx;
 * then a 2xx held for it goes out. */
static void rx_prack(struct sip_session *s, struct sip_tsx *tsx,
		     osip_message_t *req)
{
	const char *rack = sip_msg_header(req, "rack");
	const char *body;
	char *answer;
	size_t len;
	unsigned long rseq, cseq;

	if (!rack || !s->rel_1xx || !s->inv_req ||
	    sscanf(rack, "%lu %lu", &rseq, &cseq) != 2 ||
	    rseq != s->rseq ||
	    cseq != strtoul(s->inv_req->cseq->number, NULL, 10)) {
		sip_tsx_respond(tsx, req, 481);
		return;
	}
	gw_tmr_cancel(&s->tmr_rel);
	osip_message_free(s->rel_1xx);
	s->rel_1xx = NULL;
	if (!has_body(req, &body, &len)) {
		sip_tsx_respond(tsx, req, 200);
	} else if (!s->offer_in_invite && s->rel_sdp && !s->prack_answer) {
		/* Our reliable 1xx carried the offer (the INVITE had none):
		 * the PRACK has the answer (RFC 3262 s.5, RFC 6337 s.2.1). */
		if (!is_sdp(req) || set_remote(s, body, len)) {
			sip_tsx_respond(tsx, req, 488);
		} else {
			s->prack_answer = true;
			sip_tsx_respond(tsx, req, 200);
		}
	} else {
		/* A new offer in the PRACK: its 200 answers (RFC 3262
		 * s.5, RFC 6337 s.3.1), as for an UPDATE. */
		rx_offer(s, tsx, req, true);
	}
	sip_tsx_run(s->ua);
	answer = s->answer_wait;
	s->answer_wait = NULL;
	if (answer) {
		sip_session_answer(s, answer);
		gw_mem_deref(answer);
	}
}

/**
 * Send a provisional response: 180 or 183, with sdp (our answer, for
 * early media) or without.
 */
int sip_session_progress(struct sip_session *sess, unsigned status,
			 const char *sdp)
{
	osip_message_t *r;
	int err;

	if (sess->uac || sess->state != SESS_INCOMING || status <= 100 ||
	    status >= 200)
		return EINVAL;
	if (sess->rel_1xx)
		return EBUSY;	/* one unacknowledged at a time (s.3) */
	err = uas_response(&r, sess, status, sdp);
	if (err)
		return err;
	if (sdp)
		set_local(sess, sdp);
	if (sess->rel_peer) {
		char buf[16];

		/* RFC 3262 s.3: reliable, retransmitted until PRACKed. */
		osip_message_set_header(r, "Require", "100rel");
		snprintf(buf, sizeof(buf), "%u", ++sess->rseq);
		osip_message_set_header(r, "RSeq", buf);
		if (osip_message_clone(r, &sess->rel_1xx) < 0) {
			osip_message_free(r);
			return ENOMEM;
		}
		sess->rel_sdp = sdp != NULL;
		sess->t_rel = sess->ua->conf.t1_ms;
		sess->start_rel = gw_now_ms();
		gw_tmr_start(&sess->tmr_rel, sess->t_rel, tmr_rel, sess);
	}
	err = sip_tsx_respond_msg(sess->inv_tsx, r);
	sip_tsx_run(sess->ua);
	return err;
}

/**
 * Answer with 200: sdp is our answer when the INVITE had an offer, our
 * offer when it had none (the ACK brings the answer).
 */
int sip_session_answer(struct sip_session *sess, const char *sdp)
{
	osip_message_t *r;
	int err;

	if (sess->uac || sess->state != SESS_INCOMING || !sdp)
		return EINVAL;
	if (sess->rel_1xx && sess->rel_sdp) {
		/* RFC 3262 s.3: no 2xx before the PRACK of a reliable
		 * 1xx that carried SDP. */
		gw_mem_deref(sess->answer_wait);
		sess->answer_wait = gw_mem_strdup(sdp);
		return sess->answer_wait ? 0 : ENOMEM;
	}
	if (sess->rel_1xx) {
		gw_tmr_cancel(&sess->tmr_rel);
		osip_message_free(sess->rel_1xx);
		sess->rel_1xx = NULL;
	}
	err = uas_response(&r, sess, 200, sdp);
	if (err)
		return err;
	set_local(sess, sdp);
	if (osip_message_clone(r, &sess->resp_2xx) < 0) {
		osip_message_free(r);
		return ENOMEM;
	}
	err = sip_tsx_respond_msg(sess->inv_tsx, r);
	if (err)
		return err;
	sess->state = SESS_ANSWERED;
	resend_2xx_start(sess);
	st_start(sess);
	sip_tsx_run(sess->ua);
	return 0;
}

/**
 * Reject an incoming INVITE with status (3xx-6xx), a Reason header for
 * reason and Retry-After for retry_after_s (0: none).  The session ends;
 * no event is reported for it.
 */
int sip_session_reject(struct sip_session *sess, unsigned status,
		       const struct sip_reason *reason,
		       unsigned retry_after_s)
{
	struct sip_ua *ua;
	osip_message_t *r;
	char buf[16];
	int err;

	if (sess->uac || sess->state != SESS_INCOMING || status < 300 ||
	    status > 699)
		return EINVAL;
	err = uas_response(&r, sess, status, NULL);
	if (err)
		return err;
	sip_msg_add_reason(r, reason);
	if (retry_after_s) {
		snprintf(buf, sizeof(buf), "%u", retry_after_s);
		osip_message_set_header(r, "Retry-After", buf);
	}
	err = sip_tsx_respond_msg(sess->inv_tsx, r);
	ua = sess->ua;
	sess_close(sess);	/* may free it: the list held the last ref */
	sip_tsx_run(ua);
	return err;
}

/* Does the request's Accept (if any) allow application/sdp?  libosip2
 * keeps Accept in its own list. */
static bool accepts_sdp(const osip_message_t *req)
{
	osip_accept_t *a;
	int pos;

	if (osip_list_size(&req->accepts) <= 0)
		return true;
	for (pos = 0; !osip_list_eol(&req->accepts, pos); pos++) {
		a = osip_list_get(&req->accepts, pos);
		if (!a || !a->type)
			return true;	/* an empty Accept: s.20.1 */
		if (!strcmp(a->type, "*") ||
		    (!strcasecmp(a->type, "application") && a->subtype &&
		     (!strcmp(a->subtype, "*") ||
		      !strcasecmp(a->subtype, "sdp"))))
			return true;
	}
	return false;
}

/* One parameter of a Replaces value ("to-tag=x"), copied; false when
 * absent. */
static bool replaces_param(const char *v, const char *name, char *buf,
			   size_t size)
{
	size_t n = strlen(name), len;
	const char *p;

	for (p = strchr(v, ';'); p; p = strchr(p + 1, ';')) {
		p += 1 + strspn(p + 1, " \t");
		if (strncasecmp(p, name, n))
			continue;
		if (p[n] != '=') {
			if (!p[n] || p[n] == ';' || p[n] == ' ') {
				buf[0] = '\0';	/* a flag: early-only */
				return true;
			}
			continue;
		}
		len = strcspn(p + n + 1, "; \t");
		if (len >= size)
			return false;
		memcpy(buf, p + n + 1, len);
		buf[len] = '\0';
		return true;
	}
	return false;
}

/*
 * The session a Replaces header names (RFC 3891 s.3): its call-id, its
 * to-tag compared with our local tag and its from-tag with the remote
 * one.  NULL with *statusp 481 when no dialog matches or the match is an
 * early dialog we did not initiate, 486 when early-only meets a
 * confirmed dialog, 400 when the header is unreadable.
 */
static struct sip_session *replaced_session(struct sip_ua *ua,
					    const char *v, unsigned *statusp)
{
	char cid[256], to_tag[128], from_tag[128], flag[4];
	size_t n = strcspn(v, "; \t");
	struct sip_session *s;
	bool confirmed;

	*statusp = 400;
	if (!n || n >= sizeof(cid) ||
	    !replaces_param(v, "to-tag", to_tag, sizeof(to_tag)) ||
	    !replaces_param(v, "from-tag", from_tag, sizeof(from_tag)))
		return NULL;
	memcpy(cid, v, n);
	cid[n] = '\0';
	*statusp = 481;
	for (s = ua->sessions; s; s = s->next) {
		if (!s->dlg || s->state == SESS_CLOSED || s->hangup_pending ||
		    strcmp(s->dlg->call_id, cid) ||
		    strcmp(s->dlg->local_tag, to_tag) ||
		    !s->dlg->remote_tag ||
		    strcmp(s->dlg->remote_tag, from_tag))
			continue;
		confirmed = s->state == SESS_ANSWERED ||
			s->state == SESS_ESTABLISHED;	/* a 2xx went */
		if (!confirmed && !s->dlg->uac)
			return NULL;
		if (confirmed &&
		    replaces_param(v, "early-only", flag, sizeof(flag))) {
			*statusp = 486;
			return NULL;
		}
		return s;
	}
	return NULL;
}

/* The first request of a new INVITE session. */
void sip_session_invite(struct sip_ua *ua, struct sip_tsx *tsx,
			osip_message_t *req, const struct sip_src *src)
{
	struct sip_incoming in;
	struct sip_session *s, *replaced = NULL;
	const char *body;
	size_t len;
	char srcbuf[96], pa[80], cid[128];
	osip_uri_t *ru = req->req_uri;

	if (has_body(req, &body, &len) && !is_sdp(req)) {
		sip_tsx_respond(tsx, req, 415);
		return;
	}
	if (!accepts_sdp(req)) {
		sip_tsx_respond(tsx, req, 406);
		return;
	}
	if (!ua->inh) {
		sip_tsx_respond(tsx, req, 480);
		return;
	}
	{
		char ref;
		unsigned se = get_se(req, &ref);
		unsigned mse = ua->conf.min_se_s >= 90 ? ua->conf.min_se_s :
			90;

		if (se && se < mse) {
			osip_message_t *r;
			char buf[16];

			/* RFC 4028 s.8.1: too short. */
			if (!sip_msg_response(&r, req, 422, tsx->totag)) {
				snprintf(buf, sizeof(buf), "%u", mse);
				osip_message_set_header(r, "Min-SE", buf);
				sip_tsx_respond_msg(tsx, r);
			}
			return;
		}
	}
	if (sip_msg_header(req, "replaces")) {
		unsigned st = 0;

		replaced = replaced_session(ua, sip_msg_header(req,
							       "replaces"), &st);
		if (!replaced) {
			sip_tsx_respond(tsx, req, st);
			return;
		}
	}
	s = sess_new(ua);
	if (!s) {
		sip_tsx_respond(tsx, req, 500);
		return;
	}
	s->inv_tsx = gw_mem_ref(tsx);
	s->src = *src;
	s->src.conn = NULL;		/* not kept: the tsx holds it */
	s->state = SESS_INCOMING;
	if (osip_message_clone(req, &s->inv_req) < 0 ||
	    sip_dialog_alloc_uas(&s->dlg, ua, req, tsx->totag, src)) {
		sip_tsx_respond(tsx, req, 500);
		sess_close(s);
		return;
	}
	s->call_id = gw_mem_strdup(s->dlg->call_id);
	s->auth_user = gw_mem_strdup(ua->auth_user);
	s->auth_pass = gw_mem_strdup(ua->auth_password);
	{
		char ref;

		s->st_peer = sip_msg_has_option(req, "supported", "timer") ||
			sip_msg_has_option(req, "k", "timer");
		s->rel_peer = ua->conf.prack &&
			(sip_msg_has_option(req, "supported", "100rel") ||
			 sip_msg_has_option(req, "k", "100rel") ||
			 sip_msg_has_option(req, "require", "100rel"));
		s->se = get_se(req, &ref);
		if (s->se) {
			/* Theirs, as they asked; no choice made: theirs. */
			s->st_refresher = ref == 's' || !s->st_peer;
		} else if (ua->conf.session_expires_s) {
			s->se = ua->conf.session_expires_s;
			if (s->se < min_se(s))
				s->se = min_se(s);
			s->st_refresher = true;	/* s.9: UAS refreshes */
		}
	}
	if (has_body(req, &body, &len)) {
		if (set_remote(s, body, len)) {
			sip_tsx_respond(tsx, req, 488);
			sess_close(s);
			return;
		}
		s->offer_in_invite = true;
	}
	ua->stats.calls_in++;
	sip_tsx_respond(tsx, req, 100);

	memset(&in, 0, sizeof(in));
	in.request_uri_user = ru && ru->username ? ru->username : "";
	{
		char *rs = NULL;

		osip_uri_to_str(ru, &rs);
		snprintf(cid, sizeof(cid), "%s", rs ? rs : "");
		osip_free(rs);
	}
	in.request_uri = cid;
	sip_ident_read(req, &in);
	s->peer_update = allows(req, "UPDATE");
	in.diversion = sip_msg_header(req, "diversion");
	if (!in.diversion)
		in.diversion = sip_msg_header(req, "history-info");
	in.call_id = s->call_id;
	sip_addr_print(&src->peer, pa, sizeof(pa));
	snprintf(srcbuf, sizeof(srcbuf), "%s:%s",
		 src->tp == SIP_UDP ? "udp" : src->tp == SIP_TCP ? "tcp" :
		 "tls", pa);
	in.source = srcbuf;
	in.offer = s->offer_in_invite ? &s->media : NULL;
	in.replaces = replaced;
	gw_mem_ref(s);
	ua->inh(s, &in, ua->arg);
	gw_mem_deref(s);
}

/* ACK for a 2xx of ours (s.13.3.1.4, s.17.1.1.3). */
void sip_session_ack(struct sip_ua *ua, const osip_message_t *ack)
{
	struct sip_session *s = find_dialog(ua, ack);
	struct sip_session_event ev;
	const char *body;
	size_t len;
	bool reinvite;

	if (!s || !s->resp_2xx)
		return;
	if (!s->resp_2xx->cseq || strcmp(s->resp_2xx->cseq->number,
					 ack->cseq->number))
		return;
	gw_tmr_cancel(&s->tmr_2xx);
	osip_message_free(s->resp_2xx);
	s->resp_2xx = NULL;
	reinvite = s->reinvite;
	s->reinvite = false;
	memset(&ev, 0, sizeof(ev));
	ev.reason.location = -1;
	ev.type = reinvite ? SIP_SESS_MODIFIED : SIP_SESS_ANSWERED;
	if (has_body(ack, &body, &len) && !set_remote(s, body, len))
		ev.media = &s->media;
	else if (!reinvite && (s->offer_in_invite || s->prack_answer))
		ev.media = &s->media;
	if (reinvite && !ev.media)
		return;		/* reported when the re-INVITE came */
	s->state = SESS_ESTABLISHED;
	gw_mem_ref(s);
	sess_report(s, &ev);
	gw_mem_deref(s);
}

/* CANCEL (s.9.2): 200 to it, 487 to the INVITE if still pending. */
bool sip_session_cancel(struct sip_ua *ua, struct sip_tsx *tsx,
			osip_message_t *req)
{
	struct sip_session *s;
	osip_via_t *v1 = NULL, *v2 = NULL;
	const char *b1, *b2;
	struct sip_reason r;
	osip_message_t *resp;

	osip_message_get_via(req, 0, &v1);
	b1 = sip_via_param(v1, "branch");
	for (s = ua->sessions; s; s = s->next) {
		if (s->uac || !s->inv_req || s->reinvite)
			continue;
		v2 = NULL;
		osip_message_get_via(s->inv_req, 0, &v2);
		b2 = sip_via_param(v2, "branch");
		if (b1 && b2 && !strcmp(b1, b2) &&
		    !osip_call_id_match(req->call_id, s->inv_req->call_id))
			break;
	}
	if (!s)
		return false;
	/* the INVITE's To tag: s.9.2 wants the same in both responses */
	if (!sip_msg_response(&resp, req, 200, s->dlg ? s->dlg->local_tag :
			      s->inv_tsx->totag))
		sip_tsx_respond_msg(tsx, resp);
	if (s->state != SESS_INCOMING)
		return true;	/* too late: the final is out */
	sip_tsx_run(ua);	/* the CANCEL's 200 before the 487 */
	if (!uas_response(&resp, s, 487, NULL))
		sip_tsx_respond_msg(s->inv_tsx, resp);
	sip_msg_get_reason(req, &r);
	sess_closed(s, 487, &r);
	return true;
}

/* A stray 2xx to our INVITE: ACK it again (s.13.2.2.4). */
void sip_session_stray_2xx(struct sip_ua *ua, const osip_message_t *resp)
{
	struct sip_session *s = find_dialog(ua, resp);

	if (s && s->ack && s->dlg)
		sip_send_raw(ua, s->ack, s->dlg->tp, &s->dlg->dst, NULL);
}

/* ---- in-dialog requests ------------------------------------------- */

static void rx_offer(struct sip_session *s, struct sip_tsx *tsx,
		     osip_message_t *req, bool update)
{
	struct sip_session_event ev;
	struct sip_sdp *offer = NULL;
	osip_message_t *r;
	const char *body;
	char *answer = NULL;
	size_t len;
	bool offer_in = has_body(req, &body, &len);
	int err;

	if (offer_in) {
		if (!is_sdp(req)) {
			sip_tsx_respond(tsx, req, 415);
			return;
		}
		if (sip_sdp_parse(&offer, body, len) ||
		    answer_from_local(&answer, s, offer) ||
		    set_remote(s, body, len)) {
			gw_mem_deref(offer);
			gw_mem_deref(answer);
			sip_tsx_respond(tsx, req, 488);
			return;
		}
		gw_mem_deref(offer);
	}
	/* An UPDATE without an offer refreshes the target or the session
	 * (RFC 4028 s.7.4): its 2xx carries the timer, and no body (RFC
	 * 3311 s.5.2). */
	err = sip_msg_response(&r, req, 200, s->dlg->local_tag);
	if (err) {
		gw_mem_deref(answer);
		return;
	}
	add_contact(s, r);
	sip_dialog_update_target(s->dlg, req);
	if (s->se) {
		/* A refresh from the peer (RFC 4028 s.9); it may change the
		 * interval and the refresher. */
		char ref;
		unsigned se = get_se(req, &ref);

		if (se >= min_se(s)) {
			s->se = se;
			if (ref)
				s->st_refresher = (ref == 'c') == s->dlg->uac;
		}
		add_se(s, r, true);
		st_start(s);
	}
	/* A re-INVITE without an offer: our SDP is the offer and the ACK
	 * answers (RFC 3261 s.14.2). */
	if (offer_in || !update)
		sip_msg_set_body(r, "application/sdp", answer ? answer :
				 s->local_sdp ? s->local_sdp : "");
	if (answer) {
		set_local(s, answer);
		gw_mem_deref(answer);
	}
	if (!update) {
		if (s->inv_req)
			osip_message_free(s->inv_req);
		s->inv_req = NULL;
		osip_message_clone(req, &s->inv_req);
		gw_mem_deref(s->inv_tsx);
		s->inv_tsx = gw_mem_ref(tsx);
		if (s->resp_2xx)
			osip_message_free(s->resp_2xx);
		s->resp_2xx = NULL;
		osip_message_clone(r, &s->resp_2xx);
		s->reinvite = true;
		resend_2xx_start(s);
	}
	sip_tsx_respond_msg(tsx, r);
	if (!offer_in)
		return;		/* a refresh, or reported with the ACK's answer */
	memset(&ev, 0, sizeof(ev));
	ev.type = SIP_SESS_MODIFIED;
	ev.reason.location = -1;
	ev.media = &s->media;
	gw_mem_ref(s);
	sess_report(s, &ev);
	gw_mem_deref(s);
}

static void rx_info(struct sip_session *s, struct sip_tsx *tsx,
		    osip_message_t *req)
{
	struct sip_session_event ev;
	const char *body, *p;
	size_t len;

	if (!has_body(req, &body, &len)) {
		sip_tsx_respond(tsx, req, 200);	/* RFC 6086 keepalive */
		return;
	}
	if (!req->content_type || !req->content_type->subtype ||
	    strcasecmp(req->content_type->subtype, "dtmf-relay")) {
		sip_tsx_respond(tsx, req, 415);
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = SIP_SESS_DTMF;
	ev.reason.location = -1;
	p = strcasestr(body, "signal");
	if (p && (p = strchr(p, '='))) {
		p += 1 + strspn(p + 1, " \t");
		ev.digit = *p;
	}
	p = strcasestr(body, "duration");
	if (p && (p = strchr(p, '=')))
		ev.duration_ms = (unsigned)atoi(p + 1);
	if (!strchr("0123456789*#ABCDabcd", ev.digit) || !ev.digit) {
		sip_tsx_respond(tsx, req, 400);
		return;
	}
	sip_tsx_respond(tsx, req, 200);
	gw_mem_ref(s);
	sess_report(s, &ev);
	gw_mem_deref(s);
}

/* NOTIFY the progress of a REFER we accepted (RFC 3515 s.2.4.4). */
static int refer_notify(struct sip_session *s, unsigned status)
{
	osip_message_t *m;
	char frag[64];
	int err;

	if (!s->dlg)
		return EINVAL;
	err = sip_dialog_request(&m, s->dlg, s->ua, "NOTIFY");
	if (err)
		return err;
	osip_message_set_header(m, "Event", "refer");
	osip_message_set_header(m, "Subscription-State", status >= 200 ?
				"terminated;reason=noresource" :
				"active;expires=60");
	snprintf(frag, sizeof(frag), "SIP/2.0 %u %s\r\n", status,
		 sip_reason_phrase(status));
	err = sip_msg_set_body(m, "message/sipfrag;version=2.0", frag);
	if (err) {
		osip_message_free(m);
		return err;
	}
	return dlg_send(s, m);
}

/**
 * Report how a transfer asked by REFER went, as a NOTIFY with a sipfrag
 * of status (RFC 3515): 1xx while it goes on, the final status at the
 * end (which ends the implicit subscription).
 */
int sip_session_refer_notify(struct sip_session *sess, unsigned status)
{
	int err;

	if (!sess || !sess->linked || status < 100 || status > 699)
		return EINVAL;
	err = refer_notify(sess, status);
	sip_tsx_run(sess->ua);
	return err;
}

/* The Replaces header a Refer-To URI carries ("?Replaces=..." among
 * its headers, RFC 3891 s.7.1, RFC 3261 s.19.1.1), %-unescaped, as a
 * new string; NULL when it has none. */
static char *refer_replaces(const char *rt)
{
	const char *q = strchr(rt, '?'), *v = NULL, *end;
	char *out, *o;

	while (q && *q && *q != '>') {
		q++;
		if (!strncasecmp(q, "Replaces=", 9)) {
			v = q + 9;
			break;
		}
		q += strcspn(q, "&>");
	}
	if (!v)
		return NULL;
	end = v + strcspn(v, "&>");
	out = gw_mem_alloc((size_t)(end - v) + 1, NULL);
	if (!out)
		return NULL;
	for (o = out; v < end; v++) {
		if (*v == '%' && end - v > 2 && isxdigit((unsigned char)v[1]) &&
		    isxdigit((unsigned char)v[2])) {
			char hex[3] = { v[1], v[2], '\0' };

			*o++ = (char)strtoul(hex, NULL, 16);
			v += 2;
		} else {
			*o++ = *v;
		}
	}
	*o = '\0';
	return out;
}

static void rx_refer(struct sip_session *s, struct sip_tsx *tsx,
		     osip_message_t *req)
{
	struct sip_session_event ev;
	const char *rt = sip_msg_header(req, "refer-to");
	char *target, *rep;

	if (!rt)
		rt = sip_msg_header(req, "r");
	if (!rt) {
		sip_tsx_respond(tsx, req, 400);
		return;
	}
	target = gw_mem_strdup(rt);
	if (!target) {
		sip_tsx_respond(tsx, req, 500);
		return;
	}
	sip_tsx_respond(tsx, req, 202);
	refer_notify(s, 100);	/* the implicit subscription's first */
	memset(&ev, 0, sizeof(ev));
	ev.type = SIP_SESS_TRANSFER;
	ev.reason.location = -1;
	ev.refer_to = target;
	rep = refer_replaces(target);
	ev.replaces = rep;
	gw_mem_ref(s);
	sess_report(s, &ev);
	gw_mem_deref(s);
	gw_mem_deref(target);
	gw_mem_deref(rep);
}

/* A request with a To tag; false: it matches no dialog (481). */
bool sip_session_request(struct sip_ua *ua, struct sip_tsx *tsx,
			 osip_message_t *req, const struct sip_src *src)
{
	struct sip_session *s = find_dialog(ua, req);
	struct sip_reason r;
	osip_message_t *resp;
	const char *body;
	size_t blen;

	(void)src;
	if (!s)
		return false;
	if (!sip_dialog_rx_cseq(s->dlg, req)) {
		sip_tsx_respond(tsx, req, 500);
		return true;
	}
	if (MSG_IS_BYE(req)) {
		sip_tsx_respond(tsx, req, 200);
		if (s->state == SESS_INCOMING && s->inv_tsx &&
		    !uas_response(&resp, s, 487, NULL))
			sip_tsx_respond_msg(s->inv_tsx, resp);
		sip_msg_get_reason(req, &r);
		sess_closed(s, 0, &r);
	} else if (MSG_IS_INVITE(req)) {
		if (s->state != SESS_ESTABLISHED && s->state != SESS_ANSWERED)
			sip_tsx_respond(tsx, req, 491);
		else if (s->reinv_out || s->update_out)
			sip_tsx_respond(tsx, req, 491);	/* glare */
		else if (s->resp_2xx)
			sip_tsx_respond(tsx, req, 491);
		else
			rx_offer(s, tsx, req, false);
	} else if (MSG_IS_PRACK(req)) {
		rx_prack(s, tsx, req);
	} else if (MSG_IS_UPDATE(req)) {
		if ((s->update_out || s->reinv_out) && has_body(req, &body,
								 &blen))
			sip_tsx_respond(tsx, req, 491);	/* RFC 3311 s.5.2 */
		else
			rx_offer(s, tsx, req, true);
	} else if (MSG_IS_INFO(req)) {
		rx_info(s, tsx, req);
	} else if (MSG_IS_REFER(req)) {
		rx_refer(s, tsx, req);
	} else {
		sip_tsx_respond(tsx, req, 200);	/* OPTIONS, NOTIFY */
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* UAC                                                                */
/* ------------------------------------------------------------------ */

static void uac_resp(struct sip_tsx *tsx, int status, osip_message_t *msg,
		     void *arg);

static int uac_invite(struct sip_session *s, const char *uri,
		      const char *sdp)
{
	const struct sip_party *from = &s->from;
	struct sip_ua *ua = s->ua;
	osip_message_t *m = NULL;
	osip_uri_t *u = NULL;
	struct sip_lsnr *l;
	char buf[512], host[80], tag[16], branch[24];
	bool named = false, secure;
	int err;

	if (osip_uri_init(&u) < 0)
		return ENOMEM;
	if (osip_uri_parse(u, uri) < 0) {
		osip_uri_free(u);
		return EINVAL;
	}
	err = sip_uri_dst(u, &s->tp, &s->dst);
	if (err == ENOTSUP) {
		/* A host name: RFC 3263 finds the targets; the request is
		 * built for a likely listener, and Via and Contact are
		 * rewritten for each target (sip_tsx_request_uri). */
		named = true;
		memset(&s->dst, 0, sizeof(s->dst));
		l = sip_dns_lsnr_hint(ua, u, &s->tp);
		err = l ? 0 : EAFNOSUPPORT;
	}
	osip_uri_free(u);
	if (err)
		return err;
	if (!named)
		l = sip_transport_lsnr(ua, s->tp, s->dst.ss.ss_family);
	if (!l)
		return EAFNOSUPPORT;
	snprintf(host, sizeof(host), l->local.ss.ss_family == AF_INET6 ?
		 "[%s]" : "%s", l->host);
	if (osip_message_init(&m) < 0)
		return ENOMEM;
	osip_message_set_method(m, osip_strdup("INVITE"));
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	osip_uri_init(&m->req_uri);
	osip_uri_parse(m->req_uri, uri);
	sip_rand_token(branch, 16);
	snprintf(buf, sizeof(buf), "SIP/2.0/%s %s:%u;branch=z9hG4bK%s;rport",
		 sip_transport_name(s->tp), host, l->port, branch);
	osip_message_set_via(m, buf);
	sip_rand_token(tag, sizeof(tag));
	if (from->privacy_user || from->privacy_header)
		/* RFC 3323 s.4.1.1.3: the user hides itself in From. */
		snprintf(buf, sizeof(buf), "\"Anonymous\" "
			 "<sip:anonymous@anonymous.invalid>;tag=%s", tag);
	else {
		char disp[140];

		sip_ident_quote(disp, sizeof(disp), from->display);
		snprintf(buf, sizeof(buf), "%s<sip:%s@%s>;tag=%s", disp,
			 from->user[0] ? from->user : "anonymous",
			 ua->domain && *ua->domain ? ua->domain : host, tag);
	}
	err = EINVAL;
	if (osip_message_set_from(m, buf) < 0)
		goto out;
	snprintf(buf, sizeof(buf), "<%s>", uri);
	if (osip_message_set_to(m, buf) < 0)
		goto out;
	if (!s->call_id) {
		sip_rand_token(tag, sizeof(tag));
		s->call_id = gw_mem_printf("%s%s@%s", tag, branch, l->host);
	}
	osip_message_set_call_id(m, s->call_id);
	snprintf(buf, sizeof(buf), "%u INVITE", ++s->cseq);
	osip_message_set_cseq(m, buf);
	osip_message_set_max_forwards(m, "70");
	/* s.8.1.1.8: a SIPS Request-URI wants a SIPS Contact */
	secure = s->tp == SIP_TLS && sip_uri_is_sips(m->req_uri);
	snprintf(buf, sizeof(buf), "<%s:%s:%u%s>", secure ? "sips" : "sip",
		 host, l->port, secure ? "" : sip_transport_param(s->tp));
	osip_message_set_contact(m, buf);
	osip_message_set_allow(m, SIP_ALLOW);
	osip_message_set_header(m, "Supported", sip_supported(ua));
	if (s->se) {
		snprintf(buf, sizeof(buf), "%u", s->se);
		osip_message_set_header(m, "Session-Expires", buf);
		snprintf(buf, sizeof(buf), "%u", min_se(s));
		osip_message_set_header(m, "Min-SE", buf);
	}
	{
		struct sip_call_params ip;

		memset(&ip, 0, sizeof(ip));
		ip.from = s->from;
		ip.pai = s->pai;
		ip.redirect = s->redirect;
		ip.diversion = s->diversion;
		sip_ident_write(m, &ip, ua->domain && *ua->domain ?
				ua->domain : host);
	}
	if (ua->user_agent && *ua->user_agent)
		osip_message_set_user_agent(m, ua->user_agent);
	if (s->replaces) {
		/* RFC 3891 s.3: the replacing INVITE requires it */
		osip_message_set_header(m, "Replaces", s->replaces);
		osip_message_set_header(m, "Require", "replaces");
	}
	if (sdp && sip_msg_set_body(m, "application/sdp", sdp))
		goto out;
	if (s->inv_req)
		osip_message_free(s->inv_req);
	s->inv_req = NULL;
	if (osip_message_clone(m, &s->inv_req) < 0) {
		err = ENOMEM;
		goto out;
	}
	if (s->inv_tsx) {
		sip_tsx_detach(s->inv_tsx);
		s->inv_tsx = gw_mem_deref(s->inv_tsx);
	}
	s->got_1xx = false;
	s->auth_tried = false;
	if (named)
		return sip_tsx_request_uri(&s->inv_tsx, ua, m, uri, uac_resp,
					   s);
	return sip_tsx_request(&s->inv_tsx, ua, m, s->tp, &s->dst, uac_resp,
			       s);
 out:
	osip_message_free(m);
	return err;
}

static void send_cancel(struct sip_session *s, const struct sip_reason *r)
{
	osip_message_t *c = NULL;
	osip_via_t *v = NULL, *vc = NULL;
	char buf[64];

	if (!s->inv_req || osip_message_init(&c) < 0)
		return;
	osip_message_set_method(c, osip_strdup("CANCEL"));
	osip_message_set_version(c, osip_strdup("SIP/2.0"));
	osip_uri_clone(s->inv_req->req_uri, &c->req_uri);
	osip_message_get_via(s->inv_req, 0, &v);
	if (v && osip_via_clone(v, &vc) == 0)
		osip_list_add(&c->vias, vc, -1);
	osip_from_clone(s->inv_req->from, &c->from);
	osip_to_clone(s->inv_req->to, &c->to);
	osip_call_id_clone(s->inv_req->call_id, &c->call_id);
	snprintf(buf, sizeof(buf), "%s CANCEL", s->inv_req->cseq->number);
	osip_message_set_cseq(c, buf);
	osip_message_set_max_forwards(c, "70");
	sip_msg_add_reason(c, r);
	sip_tsx_request(NULL, s->ua, c, s->tp, &s->dst, NULL, NULL);
}

static void send_ack(struct sip_session *s, const osip_message_t *resp)
{
	osip_message_t *ack;
	char buf[64];

	if (sip_dialog_request(&ack, s->dlg, s->ua, "ACK"))
		return;
	snprintf(buf, sizeof(buf), "%s ACK", resp->cseq->number);
	osip_cseq_free(ack->cseq);
	ack->cseq = NULL;
	osip_message_set_cseq(ack, buf);
	if (s->ack)
		osip_message_free(s->ack);
	s->ack = ack;
	sip_send_raw(s->ua, ack, s->dlg->tp, &s->dlg->dst, NULL);
}

/* PRACK a reliable provisional response (RFC 3262 s.4), once per
 * RSeq; it creates the early dialog if need be. */
static void send_prack(struct sip_session *s, const osip_message_t *resp)
{
	const char *rs = sip_msg_header(resp, "rseq");
	const char *body;
	osip_message_t *m;
	uint32_t rseq;
	size_t len;
	char buf[64];

	if (!rs || !sip_tag(resp->to))
		return;
	rseq = (uint32_t)strtoul(rs, NULL, 10);
	if (rseq <= s->rseq_rx && s->rseq_rx)
		return;		/* a retransmission: PRACKed already */
	if (!s->dlg && sip_dialog_alloc_uac(&s->dlg, s->inv_req, resp, s->tp,
					    &s->dst))
		return;
	if (sip_dialog_request(&m, s->dlg, s->ua, "PRACK"))
		return;
	s->rseq_rx = rseq;
	snprintf(buf, sizeof(buf), "%u %s INVITE", rseq,
		 resp->cseq->number);
	osip_message_set_header(m, "RAck", buf);
	if (!s->local_sdp && !has_body(s->inv_req, &body, &len) &&
	    has_body(resp, &body, &len) && is_sdp(resp)) {
		/* Our INVITE had no offer and this reliable 1xx has one:
		 * the PRACK answers it (RFC 3262 s.5: "MUST generate an
		 * answer in the PRACK"; RFC 6337 s.2.1). */
		struct sip_sdp *offer = NULL;
		char *answer = NULL;

		if (!sip_sdp_parse(&offer, body, len) &&
		    !answer_from_local(&answer, s, offer) &&
		    !sip_msg_set_body(m, "application/sdp", answer))
			set_local(s, answer);
		gw_mem_deref(offer);
		gw_mem_deref(answer);
	}
	dlg_send(s, m);
}

static void tmr_glare(void *arg)
{
	struct sip_session *s = arg;
	char *sdp = s->glare_sdp;

	s->glare_sdp = NULL;
	if (sdp && s->glare_update)
		sip_session_update(s, sdp);
	else if (sdp)
		sip_session_modify(s, sdp);
	s->glare_update = false;
	gw_mem_deref(sdp);
}

static void reinvite_resp(struct sip_session *s, int status,
			  osip_message_t *msg)
{
	struct sip_session_event ev;
	const char *body;
	size_t len;
	uint64_t ms;

	if (status < 200)
		return;
	if (status < 300 && msg) {
		send_ack(s, msg);
		if (s->se) {
			char ref;
			unsigned se = get_se(msg, &ref);

			if (se) {
				s->se = se;
				s->st_refresher = !ref ||
					(ref == 'c') == s->dlg->uac;
			}
			st_start(s);
		}
		if (s->refreshing) {
			s->refreshing = false;
			return;		/* nothing changed */
		}
		memset(&ev, 0, sizeof(ev));
		ev.type = SIP_SESS_MODIFIED;
		ev.reason.location = -1;
		if (has_body(msg, &body, &len) && !set_remote(s, body, len))
			ev.media = &s->media;
		sess_report(s, &ev);
		return;
	}
	if (status == 491 && s->local_sdp) {
		/* s.14.1: retry after a random time. */
		ms = s->dlg->uac ? 2100 + (uint64_t)(random() % 191) * 10 :
			(uint64_t)(random() % 201) * 10;
		gw_mem_deref(s->glare_sdp);
		s->glare_sdp = gw_mem_ref(s->local_sdp);
		gw_tmr_start(&s->tmr_glare, ms, tmr_glare, s);
		return;
	}
	if (status == 481 || status == 408) {
		send_bye(s, NULL);
		sess_closed(s, (unsigned)status, NULL);
	}
}

/* Our INVITE (initial or re-INVITE) again with credentials answering
 * resp's challenges (s.22.2). */
static int uac_auth_retry(struct sip_session *s, const osip_message_t *resp)
{
	osip_message_t *m = NULL, *keep = NULL;
	uint32_t cseq;
	int err;

	if (!s->inv_req || !s->auth_user || !s->auth_pass)
		return ENOENT;
	s->auth_tried = true;
	cseq = s->dlg && s->dlg->confirmed ? ++s->dlg->local_cseq : ++s->cseq;
	err = retry_clone(&m, s->inv_req, cseq);
	if (err)
		return err;
	err = sip_auth_add(m, resp, &s->auth_cl, s->auth_user, s->auth_pass);
	if (!err && osip_message_clone(m, &keep) < 0)
		err = ENOMEM;
	if (err) {
		GW_INFO("%s: cannot answer the %d: %s", s->call_id,
			resp->status_code, strerror(err));
		osip_message_free(m);
		return err;
	}
	osip_message_free(s->inv_req);
	s->inv_req = keep;
	if (s->inv_tsx) {
		sip_tsx_detach(s->inv_tsx);
		s->inv_tsx = gw_mem_deref(s->inv_tsx);
	}
	s->got_1xx = false;
	if (s->dlg && s->dlg->confirmed)
		return sip_tsx_request(&s->inv_tsx, s->ua, m, s->dlg->tp,
				       &s->dlg->dst, uac_resp, s);
	return sip_tsx_request(&s->inv_tsx, s->ua, m, s->tp, &s->dst,
			       uac_resp, s);
}

static void uac_resp(struct sip_tsx *tsx, int status, osip_message_t *msg,
		     void *arg)
{
	struct sip_session *s = arg;
	struct sip_session_event ev;
	struct sip_reason r;
	osip_contact_t *c = NULL;
	const char *body;
	char *target = NULL;
	size_t len;

	gw_mem_ref(s);
	if (!s->linked)
		goto out;
	/* A target found by DNS: CANCEL, ACK and the dialog go where the
	 * INVITE went (s.9.1, s.17.1.1.3), with its Via. */
	if (tsx == s->inv_tsx && sip_tsx_retargeted(tsx, &s->inv_req)) {
		s->tp = tsx->tp;
		s->dst = tsx->dst;
	}
	if (s->hangup_pending) {
		/* We hung up before the answer: CANCEL once a provisional
		 * allows it (s.9.1), ACK and BYE a 2xx that crossed it. */
		if (status < 200) {
			if (status > 100 && s->cancel_pending) {
				s->cancel_pending = false;
				send_cancel(s, NULL);
			}
			goto out;
		}
		if (status < 300 && msg && !s->dlg &&
		    !sip_dialog_alloc_uac(&s->dlg, s->inv_req, msg, s->tp,
					  &s->dst)) {
			send_ack(s, msg);
			send_bye(s, NULL);
		}
		sess_close(s);
		goto out;
	}
	if (msg && status > 100 && status < 300 && allows(msg, "UPDATE"))
		s->peer_update = true;
	if (s->state == SESS_ESTABLISHED || s->reinv_out) {
		if ((status == 401 || status == 407) && msg &&
		    !s->auth_tried && !uac_auth_retry(s, msg))
			goto out;
		s->reinv_out = status < 200;
		reinvite_resp(s, status, msg);
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.reason.location = -1;
	ev.status = (unsigned)status;
	if (status < 200) {
		if (status == 100)
			goto out;
		s->got_1xx = true;
		if (msg && s->ua->conf.prack &&
		    sip_msg_has_option(msg, "require", "100rel"))
			send_prack(s, msg);
		ev.type = SIP_SESS_PROGRESS;
		if (msg && has_body(msg, &body, &len) && is_sdp(msg) &&
		    !set_remote(s, body, len))
			ev.media = &s->media;
		sess_report(s, &ev);
		goto out;
	}
	if (status < 300 && msg) {
		if (!s->dlg && sip_dialog_alloc_uac(&s->dlg, s->inv_req, msg,
						    s->tp, &s->dst)) {
			sess_closed(s, 500, NULL);
			goto out;
		}
		sip_dialog_update_target(s->dlg, msg);	/* s.12.1.2 */
		if (!s->dlg->remote_tag || !sip_tag(msg->to) ||
		    strcmp(s->dlg->remote_tag, sip_tag(msg->to))) {
			/* The early dialog was another fork's: take this
			 * one (s.13.2.2.4). */
			gw_mem_deref(s->dlg->remote_tag);
			s->dlg->remote_tag = gw_mem_strdup(sip_tag(msg->to));
		}
		s->dlg->confirmed = true;
		send_ack(s, msg);
		s->state = SESS_ESTABLISHED;
		{
			char ref;

			s->se = get_se(msg, &ref);
			s->st_peer = true;
			s->st_refresher = ref != 's';
			st_start(s);
		}
		ev.type = SIP_SESS_ANSWERED;
		if (has_body(msg, &body, &len) && !set_remote(s, body, len))
			ev.media = &s->media;
		sess_report(s, &ev);
		goto out;
	}
	if ((status == 401 || status == 407) && msg && !s->auth_tried &&
	    !s->cancel_pending && !uac_auth_retry(s, msg))
		goto out;
	if (status == 422 && msg && s->se_retries < 2 &&
	    sip_msg_header(msg, "min-se")) {
		/* RFC 4028 s.7.3: ask again with their minimum. */
		unsigned mse = (unsigned)atoi(sip_msg_header(msg, "min-se"));

		if (mse > s->se && mse <= 86400) {
			char *uri = NULL;

			s->se_retries++;
			s->se = mse;
			s->redirects++;		/* a new CSeq */
			osip_uri_to_str(s->inv_req->req_uri, &uri);
			if (uri && !uac_invite(s, uri, s->local_sdp)) {
				osip_free(uri);
				goto out;
			}
			osip_free(uri);
		}
	}
	if (status >= 300 && status < 400 && msg &&
	    s->redirects < SIP_MAX_REDIRECTS && !s->cancel_pending &&
	    osip_message_get_contact(msg, 0, &c) >= 0 && c && c->url &&
	    osip_uri_to_str(c->url, &target) == 0) {
		const char *sdp = s->local_sdp;
		int err;

		s->redirects++;
		GW_INFO("%s: %d, following %s", s->call_id, status, target);
		err = uac_invite(s, target, sdp);
		osip_free(target);
		if (!err)
			goto out;
	}
	if (msg)
		sip_msg_get_reason(msg, &r);
	else
		r.q850 = 0, r.location = -1;
	sess_closed(s, (unsigned)status, &r);
 out:
	gw_mem_deref(s);
}

/**
 * Place a call: INVITE p->uri with p->sdp as the offer.  h gets the
 * events.  A host name is resolved by RFC 3263 (dns.c) after this
 * returns; when it cannot be, the call closes with 404 or 503.
 */
int sip_session_connect(struct sip_session **sessp, struct sip_ua *ua,
			const struct sip_call_params *p, sip_session_h *h,
			void *arg)
{
	struct sip_session *s;
	int err;

	if (!ua || !p || !p->uri)
		return EINVAL;
	s = sess_new(ua);
	if (!s)
		return ENOMEM;
	s->uac = true;
	s->state = SESS_CALLING;
	s->h = h;
	s->arg = arg;
	if (ua->conf.session_expires_s)
		s->se = ua->conf.session_expires_s < 90 ? 90 :
			ua->conf.session_expires_s;
	if (p->sdp)
		set_local(s, p->sdp);
	s->auth_user = gw_mem_strdup(p->auth_user ? p->auth_user :
				     ua->auth_user);
	s->auth_pass = gw_mem_strdup(p->auth_user ? p->auth_password :
				     ua->auth_password);
	s->from = p->from;
	s->pai = p->pai;
	s->redirect = p->redirect;
	s->diversion = gw_mem_strdup(p->diversion);
	s->replaces = gw_mem_strdup(p->replaces);
	err = uac_invite(s, p->uri, p->sdp);
	if (err) {
		sess_close(s);
		return err;
	}
	ua->stats.calls_out++;
	sip_tsx_run(ua);
	*sessp = s;		/* borrowed: valid until CLOSED or hangup */
	return 0;
}

/* ------------------------------------------------------------------ */
/* Both sides                                                         */
/* ------------------------------------------------------------------ */

/** The Replaces value naming sess's dialog at the peer (RFC 3891). */
int sip_session_replaces_id(const struct sip_session *sess, char *buf,
			    size_t size)
{
	int n;

	if (!sess || !sess->dlg || !sess->dlg->remote_tag)
		return ENOENT;
	n = snprintf(buf, size, "%s;to-tag=%s;from-tag=%s",
		     sess->dlg->call_id, sess->dlg->remote_tag,
		     sess->dlg->local_tag);
	return n < 0 || (size_t)n >= size ? ENOSPC : 0;
}

/**
 * End the call: reject (UAS, not answered), CANCEL (UAC, not answered)
 * or BYE, with a Reason header for reason.  status is the rejection's
 * (0: 480).  No event is reported; sess must not be used afterwards.
 */
int sip_session_hangup(struct sip_session *sess, unsigned status,
		       const struct sip_reason *reason)
{
	struct sip_ua *ua = sess->ua;

	if (sess->hangup_pending || !sess->linked)
		return EALREADY;
	switch (sess->state) {
	case SESS_INCOMING:
		return sip_session_reject(sess, status ? status : 480, reason,
					  0);
	case SESS_CALLING:
		if (sess->got_1xx)
			send_cancel(sess, reason);
		else
			sess->cancel_pending = true;
		sip_tsx_no_failover(sess->inv_tsx);
		/* Keep the session, silent, until its INVITE ends, so that
		 * a 2xx crossing the CANCEL is ACKed and BYEd (s.9.1). */
		sess->h = NULL;
		sess->hangup_pending = true;
		break;
	case SESS_ANSWERED:
	case SESS_ESTABLISHED:
		send_bye(sess, reason);
		sess_close(sess);
		break;
	case SESS_CLOSED:
		return EALREADY;
	}
	sip_tsx_run(ua);
	return 0;
}

static void update_resp(struct sip_tsx *tsx, int status,
			osip_message_t *msg, void *arg);

/* Our UPDATE again, once, with credentials answering resp's challenges
 * (RFC 3261 s.22.2), the next CSeq of the dialog; its offer stands. */
static int upd_auth_retry(struct sip_session *s, const osip_message_t *resp)
{
	osip_message_t *m = NULL;
	int err;

	if (!s->upd_req || s->upd_auth_tried || !s->auth_user ||
	    !s->auth_pass)
		return ENOENT;
	s->upd_auth_tried = true;
	err = retry_clone(&m, s->upd_req, ++s->dlg->local_cseq);
	if (err)
		return err;
	err = sip_auth_add(m, resp, &s->auth_cl, s->auth_user, s->auth_pass);
	if (err) {
		GW_INFO("%s: cannot answer the %d to UPDATE: %s", s->call_id,
			resp->status_code, strerror(err));
		osip_message_free(m);
		return err;
	}
	if (s->upd_tsx) {
		sip_tsx_detach(s->upd_tsx);
		s->upd_tsx = gw_mem_deref(s->upd_tsx);
	}
	return sip_tsx_request(&s->upd_tsx, s->ua, m, s->dlg->tp,
			       &s->dlg->dst, update_resp, s);
}

static void update_resp(struct sip_tsx *tsx, int status,
			osip_message_t *msg, void *arg)
{
	struct sip_session *s = arg;
	struct sip_session_event ev;
	const char *body;
	size_t len;

	(void)tsx;
	if (status < 200 || !s->linked)
		return;
	if ((status == 401 || status == 407) && msg && !upd_auth_retry(s, msg))
		return;
	gw_mem_ref(s);
	s->update_out = false;
	if (s->upd_tsx) {
		sip_tsx_detach(s->upd_tsx);
		s->upd_tsx = gw_mem_deref(s->upd_tsx);
	}
	if (status < 300 && msg) {
		s->upd_prev_sdp = gw_mem_deref(s->upd_prev_sdp);
		sip_dialog_update_target(s->dlg, msg);	/* s.5.1 */
		if (s->se && s->state == SESS_ESTABLISHED) {
			char ref;
			unsigned se = get_se(msg, &ref);

			if (se) {
				s->se = se;
				s->st_refresher = !ref ||
					(ref == 'c') == s->dlg->uac;
			}
			st_start(s);
		}
		if (s->refreshing) {
			s->refreshing = false;
			goto out;
		}
		memset(&ev, 0, sizeof(ev));
		ev.type = SIP_SESS_MODIFIED;
		ev.status = (unsigned)status;
		ev.reason.location = -1;
		if (has_body(msg, &body, &len) && !set_remote(s, body, len))
			ev.media = &s->media;
		sess_report(s, &ev);
		goto out;
	}
	s->refreshing = false;
	if (status == 491 && s->local_sdp) {
		/* RFC 3311 s.5.2 and RFC 3261 s.14.1: again, later. */
		uint64_t ms = s->dlg->uac ?
			2100 + (uint64_t)(random() % 191) * 10 :
			(uint64_t)(random() % 201) * 10;

		gw_mem_deref(s->glare_sdp);
		s->glare_sdp = gw_mem_ref(s->local_sdp);
		s->glare_update = true;
		gw_tmr_start(&s->tmr_glare, ms, tmr_glare, s);
		goto out;
	}
	/* The offer failed: the session stays as it was (RFC 3311 s.5.3). */
	if (s->upd_prev_sdp) {
		gw_mem_deref(s->local_sdp);
		s->local_sdp = s->upd_prev_sdp;
		s->upd_prev_sdp = NULL;
	}
	if ((status == 481 || status == 408) &&
	    s->state == SESS_ESTABLISHED) {
		send_bye(s, NULL);
		sess_closed(s, (unsigned)status, NULL);
	}
 out:
	gw_mem_deref(s);
}

/** Send a new offer in an UPDATE (RFC 3311), in an early or confirmed
 * dialog. */
int sip_session_update(struct sip_session *sess, const char *sdp)
{
	osip_message_t *m;
	int err;

	if (!sess || !sdp || !sess->linked || !sess->dlg ||
	    sess->hangup_pending || sess->state == SESS_CLOSED)
		return EINVAL;
	if (!sess->peer_update)
		return ENOTSUP;
	if (sess->reinv_out || sess->update_out || sess->resp_2xx)
		return EBUSY;
	/* RFC 3311 s.5.1: in an early dialog, only once the INVITE's
	 * offer/answer is done, the answer sent or received reliably. */
	if (sess->state == SESS_INCOMING &&
	    (!sess->local_sdp || sess->rel_1xx || !sess->rseq))
		return EINVAL;
	if (sess->state == SESS_CALLING && !sess->remote_sdp)
		return EINVAL;
	err = sip_dialog_request(&m, sess->dlg, sess->ua, "UPDATE");
	if (err)
		return err;
	add_contact(sess, m);		/* a target refresh request */
	osip_message_set_allow(m, SIP_ALLOW);
	osip_message_set_header(m, "Supported", sip_supported(sess->ua));
	if (sess->state == SESS_ESTABLISHED)
		add_se(sess, m, false);
	err = sip_msg_set_body(m, "application/sdp", sdp);
	if (err) {
		osip_message_free(m);
		return err;
	}
	gw_mem_deref(sess->upd_prev_sdp);
	sess->upd_prev_sdp = sess->local_sdp ?
		gw_mem_ref(sess->local_sdp) : NULL;
	set_local(sess, sdp);
	if (sess->upd_tsx) {
		sip_tsx_detach(sess->upd_tsx);
		sess->upd_tsx = gw_mem_deref(sess->upd_tsx);
	}
	if (sess->upd_req)
		osip_message_free(sess->upd_req);
	sess->upd_req = NULL;
	if (sess->auth_user && osip_message_clone(m, &sess->upd_req) < 0) {
		osip_message_free(m);
		return ENOMEM;
	}
	sess->upd_auth_tried = false;
	err = sip_tsx_request(&sess->upd_tsx, sess->ua, m, sess->dlg->tp,
			      &sess->dlg->dst, update_resp, sess);
	if (err)
		return err;
	sess->update_out = true;
	sip_tsx_run(sess->ua);
	return 0;
}

/** Send a new offer: UPDATE in an early dialog (and in a confirmed one
 * with conf.modify_by_update), else re-INVITE (hold, resume, media
 * change). */
int sip_session_modify(struct sip_session *sess, const char *sdp)
{
	osip_message_t *m;
	int err;

	if (!sdp || !sess->linked)
		return EINVAL;
	if (sess->state == SESS_INCOMING || sess->state == SESS_CALLING)
		return sip_session_update(sess, sdp);
	if (sess->state != SESS_ESTABLISHED || !sess->dlg)
		return EINVAL;
	if (sess->reinv_out || sess->update_out || sess->resp_2xx)
		return EBUSY;
	if (sess->ua->conf.modify_by_update && sess->peer_update)
		return sip_session_update(sess, sdp);
	err = sip_dialog_request(&m, sess->dlg, sess->ua, "INVITE");
	if (err)
		return err;
	osip_message_set_allow(m, SIP_ALLOW);
	osip_message_set_header(m, "Supported", sip_supported(sess->ua));
	add_se(sess, m, false);
	err = sip_msg_set_body(m, "application/sdp", sdp);
	if (err) {
		osip_message_free(m);
		return err;
	}
	set_local(sess, sdp);
	if (sess->inv_tsx) {
		sip_tsx_detach(sess->inv_tsx);
		sess->inv_tsx = gw_mem_deref(sess->inv_tsx);
	}
	if (sess->inv_req)
		osip_message_free(sess->inv_req);
	sess->inv_req = NULL;
	osip_message_clone(m, &sess->inv_req);
	sess->auth_tried = false;
	err = sip_tsx_request(&sess->inv_tsx, sess->ua, m, sess->dlg->tp,
			      &sess->dlg->dst, uac_resp, sess);
	if (err)
		return err;
	sess->reinv_out = true;
	sip_tsx_run(sess->ua);
	return 0;
}

/** The session's Call-ID. */
const char *sip_session_call_id(const struct sip_session *sess)
{
	return sess->call_id;
}

/** Drop every session (UA shutdown): BYE the established ones. */
void sip_session_close_all(struct sip_ua *ua)
{
	while (ua->sessions) {
		struct sip_session *s = ua->sessions;

		if (s->state == SESS_ESTABLISHED || s->state == SESS_ANSWERED)
			send_bye(s, NULL);
		else if (s->state == SESS_INCOMING && s->inv_tsx) {
			osip_message_t *r;

			if (!uas_response(&r, s, 503, NULL))
				sip_tsx_respond_msg(s->inv_tsx, r);
		}
		sess_close(s);
	}
}

/** Live sessions, for `junctionctl sip`. */
json_t *sip_session_json(const struct sip_ua *ua)
{
	static const char *const names[] = {
		"incoming", "calling", "answered", "established", "closed",
	};
	json_t *arr = json_array();
	const struct sip_session *s;

	for (s = ua->sessions; s; s = s->next)
		json_array_append_new(arr, json_pack("{s:s?,s:s,s:s}",
			"call_id", s->call_id, "state", names[s->state],
			"direction", s->uac ? "out" : "in"));
	return arr;
}
