/* sip/dialog.c - SIP dialog state (RFC 3261 s.12) */
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
 * A dialog keeps its From and To values as text with their tags (the
 * local one ours, the remote one the peer's), the remote target and the
 * route set (s.12.1), and both CSeq counters.  In-dialog requests go to
 * the first route or to the remote target, which must be IP literals
 * until RFC 3263 resolution exists; failing that, back to where the
 * dialog's first message came from.
 */

static void dialog_destroy(void *data)
{
	struct sip_dialog *dlg = data;
	size_t i;

	gw_mem_deref(dlg->call_id);
	gw_mem_deref(dlg->local_tag);
	gw_mem_deref(dlg->remote_tag);
	gw_mem_deref(dlg->local_uri);
	gw_mem_deref(dlg->remote_uri);
	gw_mem_deref(dlg->remote_target);
	for (i = 0; i < dlg->n_route; i++)
		gw_mem_deref(dlg->route[i]);
	free(dlg->route);
}

static char *from_str(const osip_from_t *f, const char *tag)
{
	osip_from_t *c = NULL;
	char *s = NULL, *r;

	if (!f || osip_from_clone(f, &c) < 0)
		return NULL;
	if (tag && !sip_tag(c))
		sip_set_tag(c, tag);
	if (osip_from_to_str(c, &s) < 0)
		s = NULL;
	osip_from_free(c);
	r = gw_mem_strdup(s);
	osip_free(s);
	return r;
}

static char *uri_str(const osip_uri_t *u)
{
	char *s = NULL, *r;

	if (!u || osip_uri_to_str(u, &s) < 0)
		return NULL;
	r = gw_mem_strdup(s);
	osip_free(s);
	return r;
}

static int set_route(struct sip_dialog *dlg, const osip_message_t *m,
		     bool reverse)
{
	osip_record_route_t *rr;
	char *s;
	int n = osip_list_size(&m->record_routes), i;

	if (n <= 0)
		return 0;
	dlg->route = calloc((size_t)n, sizeof(*dlg->route));
	if (!dlg->route)
		return ENOMEM;
	for (i = 0; i < n; i++) {
		rr = osip_list_get(&m->record_routes, reverse ? n - 1 - i : i);
		s = NULL;
		if (osip_record_route_to_str(rr, &s) < 0 || !s)
			return ENOMEM;
		dlg->route[dlg->n_route++] = gw_mem_strdup(s);
		osip_free(s);
	}
	return 0;
}

static void set_dst(struct sip_dialog *dlg, enum sip_transport tp,
		    const struct sip_addr *fallback)
{
	osip_uri_t *u = NULL;
	const char *target = dlg->remote_target;
	osip_route_t *r = NULL;
	enum sip_transport t;

	dlg->tp = tp;
	dlg->dst = *fallback;
	if (dlg->n_route) {
		if (osip_route_init(&r) < 0)
			return;
		if (osip_route_parse(r, dlg->route[0]) == 0 && r->url)
			if (!sip_uri_dst(r->url, &t, &dlg->dst))
				dlg->tp = t == SIP_TLS ? tp : t;
		osip_route_free(r);
		return;
	}
	if (!target || osip_uri_init(&u) < 0)
		return;
	if (osip_uri_parse(u, target) == 0 && !sip_uri_dst(u, &t, &dlg->dst))
		dlg->tp = t == SIP_TLS ? tp : t;
	osip_uri_free(u);
}

/** Refresh the remote target from m's Contact (s.12.2: target refresh). */
void sip_dialog_update_target(struct sip_dialog *dlg, const osip_message_t *m)
{
	osip_contact_t *c = NULL;
	char *t;

	if (osip_message_get_contact(m, 0, &c) < 0 || !c || !c->url)
		return;
	t = uri_str(c->url);
	if (!t)
		return;
	gw_mem_deref(dlg->remote_target);
	dlg->remote_target = t;
	if (!dlg->n_route) {
		struct sip_addr fb = dlg->dst;

		set_dst(dlg, dlg->tp, &fb);
	}
}

/**
 * A dialog from an INVITE we answer (s.12.1.1): local_tag is our To
 * tag, src where the request came from (the fallback destination).
 */
int sip_dialog_alloc_uas(struct sip_dialog **dlgp, struct sip_ua *ua,
			 const osip_message_t *req, const char *local_tag,
			 const struct sip_src *src)
{
	struct sip_dialog *dlg;
	char *s = NULL;
	int err = ENOMEM;

	(void)ua;
	dlg = gw_mem_zalloc(sizeof(*dlg), dialog_destroy);
	if (!dlg)
		return ENOMEM;
	if (osip_call_id_to_str(req->call_id, &s) < 0)
		goto out;
	dlg->call_id = gw_mem_strdup(s);
	osip_free(s);
	dlg->local_tag = gw_mem_strdup(local_tag);
	dlg->remote_tag = gw_mem_strdup(sip_tag(req->from));
	dlg->local_uri = from_str(req->to, local_tag);
	dlg->remote_uri = from_str(req->from, NULL);
	if (!dlg->call_id || !dlg->local_tag || !dlg->local_uri ||
	    !dlg->remote_uri)
		goto out;
	err = set_route(dlg, req, false);
	if (err)
		goto out;
	dlg->remote_cseq = (uint32_t)strtoul(req->cseq->number, NULL, 10);
	dlg->remote_cseq_set = true;
	dlg->local_cseq = 1;
	dlg->tp = src->tp;
	dlg->dst = src->peer;
	dlg->secure = src->tp == SIP_TLS && sip_uri_is_sips(req->req_uri);
	sip_dialog_update_target(dlg, req);
	err = 0;
 out:
	if (err)
		gw_mem_deref(dlg);
	else
		*dlgp = dlg;
	return err;
}

/**
 * A dialog from our INVITE req and a response resp with a To tag
 * (s.12.1.2); tp/dst are where req went.
 */
int sip_dialog_alloc_uac(struct sip_dialog **dlgp, const osip_message_t *req,
			 const osip_message_t *resp, enum sip_transport tp,
			 const struct sip_addr *dst)
{
	struct sip_dialog *dlg;
	char *s = NULL;
	int err = ENOMEM;

	if (!sip_tag(resp->to))
		return EPROTO;
	dlg = gw_mem_zalloc(sizeof(*dlg), dialog_destroy);
	if (!dlg)
		return ENOMEM;
	dlg->uac = true;
	if (osip_call_id_to_str(req->call_id, &s) < 0)
		goto out;
	dlg->call_id = gw_mem_strdup(s);
	osip_free(s);
	dlg->local_tag = gw_mem_strdup(sip_tag(req->from));
	dlg->remote_tag = gw_mem_strdup(sip_tag(resp->to));
	dlg->local_uri = from_str(req->from, NULL);
	dlg->remote_uri = from_str(resp->to, NULL);
	if (!dlg->call_id || !dlg->local_tag || !dlg->remote_tag ||
	    !dlg->local_uri || !dlg->remote_uri)
		goto out;
	err = set_route(dlg, resp, true);
	if (err)
		goto out;
	dlg->local_cseq = (uint32_t)strtoul(req->cseq->number, NULL, 10);
	dlg->tp = tp;
	dlg->dst = *dst;
	dlg->secure = tp == SIP_TLS && sip_uri_is_sips(req->req_uri);
	sip_dialog_update_target(dlg, resp);
	set_dst(dlg, tp, dst);
	err = 0;
 out:
	if (err)
		gw_mem_deref(dlg);
	else
		*dlgp = dlg;
	return err;
}

/** Does m (a request to us, or a response to us) belong to dlg? */
bool sip_dialog_match(const struct sip_dialog *dlg, const osip_message_t *m)
{
	const char *lt, *rt;
	char *cid = NULL;
	bool same;

	if (!m->call_id || osip_call_id_to_str(m->call_id, &cid) < 0)
		return false;
	same = !strcmp(cid, dlg->call_id);
	osip_free(cid);
	if (!same)
		return false;
	if (MSG_IS_REQUEST(m)) {
		lt = sip_tag(m->to);
		rt = sip_tag(m->from);
	} else {
		lt = sip_tag(m->from);
		rt = sip_tag(m->to);
	}
	if (!lt || strcmp(lt, dlg->local_tag))
		return false;
	if (dlg->remote_tag && (!rt || strcmp(rt, dlg->remote_tag)))
		return false;
	return true;
}

/** s.12.2.2: a request with a CSeq below the last one gets 500. */
bool sip_dialog_rx_cseq(struct sip_dialog *dlg, const osip_message_t *req)
{
	uint32_t n = (uint32_t)strtoul(req->cseq->number, NULL, 10);

	if (MSG_IS_ACK(req) || MSG_IS_CANCEL(req))
		return true;
	if (dlg->remote_cseq_set && n < dlg->remote_cseq)
		return false;
	dlg->remote_cseq = n;
	dlg->remote_cseq_set = true;
	return true;
}

/**
 * A request within dlg (s.12.2.1.1): Request-URI the remote target,
 * Route the route set, our Via and Contact, the next CSeq (ACK and
 * CANCEL callers set theirs).
 */
int sip_dialog_request(osip_message_t **reqp, struct sip_dialog *dlg,
		       struct sip_ua *ua, const char *method)
{
	osip_message_t *m = NULL;
	struct sip_lsnr *l;
	char buf[512], branch[24], host[80];
	size_t i;
	int err = ENOMEM;

	l = sip_transport_lsnr(ua, dlg->tp, dlg->dst.ss.ss_family);
	if (!l)
		return EAFNOSUPPORT;
	if (osip_message_init(&m) < 0)
		return ENOMEM;
	osip_message_set_method(m, osip_strdup(method));
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	if (osip_uri_init(&m->req_uri) < 0 ||
	    osip_uri_parse(m->req_uri, dlg->remote_target ?
			   dlg->remote_target : "sip:invalid") < 0) {
		err = EINVAL;
		goto out;
	}
	snprintf(host, sizeof(host), l->local.ss.ss_family == AF_INET6 ?
		 "[%s]" : "%s", l->host);
	sip_rand_token(branch, 16);
	snprintf(buf, sizeof(buf), "SIP/2.0/%s %s:%u;branch=z9hG4bK%s;rport",
		 sip_transport_name(dlg->tp), host, l->port, branch);
	if (osip_message_set_via(m, buf) < 0 ||
	    osip_message_set_from(m, dlg->local_uri) < 0 ||
	    osip_message_set_to(m, dlg->remote_uri) < 0 ||
	    osip_message_set_call_id(m, dlg->call_id) < 0)
		goto out;
	if (strcmp(method, "ACK") && strcmp(method, "CANCEL"))
		dlg->local_cseq++;
	snprintf(buf, sizeof(buf), "%u %s", dlg->local_cseq, method);
	if (osip_message_set_cseq(m, buf) < 0)
		goto out;
	for (i = 0; i < dlg->n_route; i++)
		osip_message_set_route(m, dlg->route[i]);
	osip_message_set_max_forwards(m, "70");
	/* s.8.1.1.8: a SIPS Contact in a secure dialog, which names no
	 * transport (RFC 5630 s.3.1.3) */
	snprintf(buf, sizeof(buf), "<%s:%s:%u%s>",
		 dlg->secure ? "sips" : "sip", host, l->port,
		 dlg->secure ? "" : sip_transport_param(dlg->tp));
	osip_message_set_contact(m, buf);
	if (ua->user_agent && *ua->user_agent)
		osip_message_set_user_agent(m, ua->user_agent);
	err = 0;
 out:
	if (err)
		osip_message_free(m);
	else
		*reqp = m;
	return err;
}
