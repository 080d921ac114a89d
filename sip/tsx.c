/* sip/tsx.c - libosip2's transaction state machines on our loop (s.17) */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define GW_LOG_MOD "sip"
#include "sip_int.h"

/*
 * libosip2 runs the four RFC 3261 s.17 state machines; we feed them from
 * the loop and never call it from another thread (it is built OSIP_MT,
 * but its state machines are not re-entrant).  Its callbacks only queue
 * (an event carrying a clone of the message, or a "dead" mark): the
 * queue is delivered to the transaction user after every *_execute has
 * run, so a handler may create transactions, send responses or drop its
 * session without touching libosip2 while it iterates.  Dead
 * transactions are freed after that (never in the kill callback: the
 * state machine still reads the transaction when it returns).
 *
 * libosip2 keeps its transactions in four lists that it walks for every
 * lookup, every execute pass and every timer pass, and appends to by
 * walking them: with thousands alive (over UDP a BYE's server
 * transaction lives Timer J, 64*T1) that is more work per message than
 * the message.  So we use its state machines only: a transaction leaves
 * libosip2's list as soon as it is made (the lists stay empty), we index
 * it by Call-ID, run only the transactions given an event, and each
 * transaction has its own gw_tmr on the earliest of its s.17 timers,
 * read from its libosip2 context (start time; tv_sec -1: not running).
 *
 * New requests are checked here in the order of s.8.2: version (505),
 * mandatory headers and scalars (400), method (405/501), Request-URI
 * scheme (416), merged requests (482, s.8.2.2.2), loops (482: a Via of
 * ours whose branch is one of our live client transactions', RFC 3261
 * s.8.2.2.2 and s.16.3 item 4 applied to the request we sent coming
 * back), Require (420), then the UA (dialogs, sessions, OPTIONS).
 *
 * libosip2's IST ends when it sends a 2xx, as RFC 3261 had it; RFC 6026
 * s.7.1 moved that to an "Accepted" state lasting Timer L (64*T1), in
 * which retransmissions of the INVITE are absorbed (s.8.5), not passed
 * to the TU as a new request.  We keep that state beside libosip2: the
 * 2xx'd INVITE's key (top Via branch and sent-by, s.17.2.3) for Timer
 * L, and a new INVITE with a key kept is dropped.  The 2xx itself is
 * retransmitted by the session until the ACK (s.13.3.1.4).
 *
 * Before libosip2 parses a message, a multipart body is checked for the
 * structure RFC 2046 s.5.1.1 requires (boundary, delimiters, each
 * part's header section ending in an empty line, one Content-Type per
 * part); libosip2 leaks the first of two Content-Types in a part, and
 * a malformed one gets 400 here instead.  Max-Forwards is not checked: we
 * are an endpoint and an endpoint processes a request with
 * Max-Forwards 0 normally (RFC 4475 s.3.3.11); 483 belongs to proxies.
 */

struct sip_tsx_ev {
	struct sip_tsx_ev *next;
	struct sip_tsx *tsx;		/* referenced */
	int status;
	osip_message_t *msg;		/* a clone, or NULL */
};

/* ------------------------------------------------------------------ */
/* Helpers on messages                                                */
/* ------------------------------------------------------------------ */

/** A random token for tags, branches and Call-IDs ([0-9a-z]). */
void sip_rand_token(char *buf, size_t size)
{
	static const char al[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	unsigned char rnd[32];
	size_t i, n = size - 1 < sizeof(rnd) ? size - 1 : sizeof(rnd);

	if (getrandom(rnd, n, 0) != (ssize_t)n)
		for (i = 0; i < n; i++)
			rnd[i] = (unsigned char)random();
	for (i = 0; i < n; i++)
		buf[i] = al[rnd[i] % 36];
	buf[n] = '\0';
}

/** The tag parameter of a From or To value, or NULL. */
const char *sip_tag(const osip_from_t *f)
{
	osip_generic_param_t *p = NULL;

	if (!f || osip_uri_param_get_byname((osip_list_t *)&f->gen_params,
					    (char *)"tag", &p) < 0 ||
	    !p || !p->gvalue)
		return NULL;
	return p->gvalue;
}

/** Set the tag parameter of a From or To value. */
void sip_set_tag(osip_from_t *f, const char *tag)
{
	osip_uri_param_add(&f->gen_params, osip_strdup("tag"),
			   osip_strdup(tag));
}

/** A parameter of a Via (name lower case): its value, "" when it has
 * none, NULL when absent. */
const char *sip_via_param(const osip_via_t *via, const char *name)
{
	osip_generic_param_t *p = NULL;

	if (!via || osip_uri_param_get_byname((osip_list_t *)&via->via_params,
					    (char *)name, &p) < 0 || !p)
		return NULL;
	return p->gvalue ? p->gvalue : "";
}

/** A URI parameter (name lower case), or NULL. */
const char *sip_uri_param(const osip_uri_t *uri, const char *name)
{
	osip_uri_param_t *p = NULL;

	if (!uri || osip_uri_param_get_byname((osip_list_t *)&uri->url_params,
					    (char *)name, &p) < 0 || !p)
		return NULL;
	return p->gvalue ? p->gvalue : "";
}

/** Our Supported header value. */
const char *sip_supported(const struct sip_ua *ua)
{
	return ua->conf.prack ? SIP_SUPPORTED_REL : SIP_SUPPORTED;
}

/** The standard reason phrase for status. */
const char *sip_reason_phrase(unsigned status)
{
	const char *r = osip_message_get_reason((int)status);

	if (r)
		return r;
	return status < 200 ? "Trying" : status < 300 ? "OK" :
		status < 400 ? "Redirect" : "Error";
}

/** The first value of header lname (lower case), or NULL. */
const char *sip_msg_header(const osip_message_t *m, const char *lname)
{
	osip_header_t *h = NULL;

	if (osip_message_header_get_byname(m, lname, 0, &h) < 0 || !h)
		return NULL;
	return h->hvalue;
}

/** The first body of m, or EN0ENT. */
int sip_msg_body(const osip_message_t *m, const char **bodyp, size_t *lenp)
{
	osip_body_t *b = NULL;

	if (osip_message_get_body(m, 0, &b) < 0 || !b || !b->body)
		return ENOENT;
	*bodyp = b->body;
	*lenp = b->length;
	return 0;
}

/** Set m's body and Content-Type. */
int sip_msg_set_body(osip_message_t *m, const char *type, const char *body)
{
	if (osip_message_set_body(m, body, strlen(body)) < 0 ||
	    osip_message_set_content_type(m, type) < 0)
		return ENOMEM;
	return 0;
}

/** True if a header lname lists opt (comma lists, any case). */
bool sip_msg_has_option(const osip_message_t *m, const char *lname,
			const char *opt)
{
	osip_header_t *h;
	const char *p, *e;
	size_t n = strlen(opt);
	int pos = 0;

	while (osip_message_header_get_byname(m, lname, pos, &h) >= 0 && h) {
		pos++;
		for (p = h->hvalue; p && *p; p = e) {
			while (*p == ' ' || *p == '\t' || *p == ',')
				p++;
			e = p + strcspn(p, ", \t");
			if ((size_t)(e - p) == n && !strncasecmp(p, opt, n))
				return true;
			e += strspn(e, " \t");
		}
	}
	return false;
}

/** Add "Reason: Q.850;cause=N" (RFC 3326) when r names a cause. */
void sip_msg_add_reason(osip_message_t *m, const struct sip_reason *r)
{
	char buf[64];

	if (!r || r->q850 <= 0)
		return;
	snprintf(buf, sizeof(buf), "Q.850;cause=%d", r->q850);
	osip_message_set_header(m, "Reason", buf);
}

/** Read a Q.850 Reason header into r (q850 0 when there is none). */
void sip_msg_get_reason(const osip_message_t *m, struct sip_reason *r)
{
	osip_header_t *h;
	const char *p;
	int pos = 0;

	r->q850 = 0;
	r->location = -1;
	while (osip_message_header_get_byname(m, "reason", pos++, &h) >= 0 &&
	       h && h->hvalue) {
		if (strncasecmp(h->hvalue, "Q.850", 5))
			continue;
		p = strcasestr(h->hvalue, "cause=");
		if (p)
			r->q850 = atoi(p + 6);
		p = strcasestr(h->hvalue, "location=");
		if (p)
			r->location = atoi(p + 9);
		if (r->q850 < 0 || r->q850 > 127)
			r->q850 = 0;
		return;
	}
}

/**
 * Where a request for uri goes: its IP-literal host, port and transport
 * (s.19.1; sips: means TLS).  A host name needs RFC 3263 resolution,
 * which is asynchronous (dns.c, sip_tsx_request_uri): ENOTSUP here.
 */
int sip_uri_dst(const osip_uri_t *uri, enum sip_transport *tpp,
		struct sip_addr *dst)
{
	const char *tp;
	enum sip_transport t = SIP_UDP;
	unsigned port;
	int err;

	if (!uri || !uri->scheme || !uri->host)
		return EINVAL;
	if (!strcasecmp(uri->scheme, "sips"))
		t = SIP_TLS;
	else if (strcasecmp(uri->scheme, "sip"))
		return EPROTONOSUPPORT;
	tp = sip_uri_param(uri, "transport");
	if (tp) {
		if (!strcasecmp(tp, "tcp"))
			t = t == SIP_TLS ? SIP_TLS : SIP_TCP;
		else if (!strcasecmp(tp, "tls"))
			t = SIP_TLS;
	}
	port = uri->port ? (unsigned)atoi(uri->port) :
		t == SIP_TLS ? 5061 : 5060;
	err = sip_addr_set(dst, uri->host, port);
	if (err) {
		return ENOTSUP;		/* a name: dns.c */
	}
	*tpp = t;
	return 0;
}

/**
 * A response to req (s.8.2.6): Via, From, To (with totag added unless
 * req's To has a tag, or status is 100), Call-ID and CSeq copied.
 */
int sip_msg_response(osip_message_t **respp, const osip_message_t *req,
		     unsigned status, const char *totag)
{
	osip_message_t *r = NULL;
	osip_via_t *v, *vc;
	int pos, err = ENOMEM;

	if (osip_message_init(&r) < 0)
		return ENOMEM;
	osip_message_set_version(r, osip_strdup("SIP/2.0"));
	osip_message_set_status_code(r, (int)status);
	osip_message_set_reason_phrase(r,
				       osip_strdup(sip_reason_phrase(status)));
	for (pos = 0; !osip_list_eol(&req->vias, pos); pos++) {
		v = osip_list_get(&req->vias, pos);
		if (osip_via_clone(v, &vc) < 0)
			goto out;
		osip_list_add(&r->vias, vc, -1);
	}
	if (req->from && osip_from_clone(req->from, &r->from) < 0)
		goto out;
	if (req->to) {
		if (osip_to_clone(req->to, &r->to) < 0)
			goto out;
		if (!sip_tag(r->to) && totag && status > 100)
			sip_set_tag(r->to, totag);
	}
	if (req->call_id && osip_call_id_clone(req->call_id, &r->call_id) < 0)
		goto out;
	if (req->cseq && osip_cseq_clone(req->cseq, &r->cseq) < 0)
		goto out;
	err = 0;
 out:
	if (err)
		osip_message_free(r);
	else
		*respp = r;
	return err;
}

/* ------------------------------------------------------------------ */
/* Sending                                                            */
/* ------------------------------------------------------------------ */

static int send_msg(struct sip_ua *ua, osip_message_t *msg,
		    enum sip_transport tp, const struct sip_addr *dst,
		    struct sip_conn *conn)
{
	char *buf = NULL;
	size_t len = 0;
	int err;

	if (osip_message_to_str(msg, &buf, &len) < 0 || !buf)
		return ENOMEM;
	err = sip_transport_send(ua, tp, dst, conn, buf, len);
	if (err) {
		char pa[80];

		sip_addr_print(dst, pa, sizeof(pa));
		GW_LOG_LIMITED(GW_LOG_WARN, "send to %s %s: %s",
			       sip_transport_name(tp), pa, strerror(err));
	}
	osip_free(buf);
	return err;
}

/** Send msg outside a transaction (ACK for a 2xx; 2xx retransmissions;
 * stateless responses).  msg stays the caller's. */
int sip_send_raw(struct sip_ua *ua, osip_message_t *msg,
		 enum sip_transport tp, const struct sip_addr *dst,
		 struct sip_conn *conn)
{
	return send_msg(ua, msg, tp, dst, conn);
}

static int osip_send_cb(osip_transaction_t *tr, osip_message_t *msg,
			char *host, int port, int out_socket)
{
	struct sip_tsx *tsx = osip_transaction_get_reserved1(tr);

	(void)host;
	(void)port;
	(void)out_socket;
	if (!tsx)
		return -1;
	if (send_msg(tsx->ua, msg, tsx->tp, &tsx->dst, tsx->conn))
		return -1;
	/* Remember the connection a client request left on: if it fails
	 * before the peer answers, so does the transaction
	 * (sip_tsx_conn_failed). */
	if (!tsx->conn && (tsx->type == ICT || tsx->type == NICT))
		tsx->conn = sip_conn_ref(sip_transport_conn(tsx->ua, tsx->tp,
							    &tsx->dst));
	return 0;
}

/* ------------------------------------------------------------------ */
/* The index of transactions                                          */
/* ------------------------------------------------------------------ */

/* Buckets by Call-ID.  A transaction moved to another target keeps its
 * request's Call-ID, hence its bucket. */
#define TSX_BUCKETS_MIN 1024u

static uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static uint32_t callid_hash(const osip_call_id_t *cid)
{
	return cid && cid->number ? str_hash(cid->number) : 0;
}

static struct sip_tsx **bucket(const struct sip_ua *ua, uint32_t hash)
{
	return &ua->tsx_tab[hash & (ua->tsx_buckets - 1)];
}

/* Twice the buckets once there are twice as many transactions. */
static void tab_grow(struct sip_ua *ua)
{
	size_t nb = ua->tsx_buckets * 2;
	struct sip_tsx **tab = calloc(nb, sizeof(*tab)), *t;
	size_t i;

	if (!tab)
		return;			/* longer chains, still correct */
	for (i = 0; i < ua->tsx_buckets; i++)
		while ((t = ua->tsx_tab[i])) {
			ua->tsx_tab[i] = t->next;
			t->next = tab[t->hash & (nb - 1)];
			tab[t->hash & (nb - 1)] = t;
		}
	free(ua->tsx_tab);
	ua->tsx_tab = tab;
	ua->tsx_buckets = nb;
}

/* Index tsx under req's Call-ID; the index holds a reference. */
static void tsx_insert(struct sip_tsx *tsx, const osip_message_t *req)
{
	struct sip_ua *ua = tsx->ua;
	struct sip_tsx **b;

	if (ua->n_tsx >= ua->tsx_buckets * 2)
		tab_grow(ua);
	tsx->hash = callid_hash(req ? req->call_id : NULL);
	b = bucket(ua, tsx->hash);
	tsx->next = *b;
	*b = tsx;
	ua->n_tsx++;
}

static void tsx_unlink(struct sip_tsx *tsx)
{
	struct sip_tsx **pp = bucket(tsx->ua, tsx->hash);

	for (; *pp; pp = &(*pp)->next)
		if (*pp == tsx) {
			*pp = tsx->next;
			tsx->next = NULL;
			tsx->ua->n_tsx--;
			return;
		}
}

static void tsx_arm(struct sip_tsx *tsx);

/* tsx's transaction has an event in its FIFO (tsx_post) or a timer due:
 * run it (sip_tsx_run). */
static void tsx_queue(struct sip_tsx *tsx)
{
	struct sip_ua *ua = tsx->ua;
	int q = tsx->type == IST || tsx->type == NIST ? 0 : 1;

	if (tsx->run_queued)
		return;
	tsx->run_queued = true;
	gw_mem_ref(tsx);
	if (ua->runq_tail[q])
		ua->runq_tail[q]->run_next = tsx;
	else
		ua->runq[q] = tsx;
	ua->runq_tail[q] = tsx;
}

static void tsx_post(struct sip_tsx *tsx, osip_event_t *ev)
{
	ev->transactionid = tsx->tr->transactionid;
	osip_transaction_add_event(tsx->tr, ev);
	tsx_queue(tsx);
}

/* tsx has ended: freed at the end of sip_tsx_run (unless a new target
 * revives it first, fo_try_next). */
static void tsx_end(struct sip_tsx *tsx)
{
	tsx->killed = true;
	gw_tmr_cancel(&tsx->tmr);
	if (tsx->dead_queued)
		return;
	tsx->dead_queued = true;
	tsx->dead_next = tsx->ua->deadq;
	tsx->ua->deadq = tsx;
}

/* ------------------------------------------------------------------ */
/* libosip2 callbacks: queue only                                     */
/* ------------------------------------------------------------------ */

static void queue_ev(struct sip_tsx *tsx, int status, osip_message_t *msg)
{
	struct sip_ua *ua = tsx->ua;
	struct sip_tsx_ev *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return;
	ev->tsx = gw_mem_ref(tsx);
	ev->status = status;
	if (msg && osip_message_clone(msg, &ev->msg) < 0)
		ev->msg = NULL;
	if (msg && !ev->msg) {
		gw_mem_deref(ev->tsx);
		free(ev);
		return;
	}
	if (ua->evq_tail)
		ua->evq_tail->next = ev;
	else
		ua->evq = ev;
	ua->evq_tail = ev;
}

static void cb_response(int type, osip_transaction_t *tr, osip_message_t *m)
{
	struct sip_tsx *tsx = osip_transaction_get_reserved1(tr);

	(void)type;
	if (tsx && m)
		queue_ev(tsx, m->status_code, m);
}

static void cb_timeout(int type, osip_transaction_t *tr, osip_message_t *m)
{
	struct sip_tsx *tsx = osip_transaction_get_reserved1(tr);

	(void)type;
	(void)m;
	if (tsx)
		queue_ev(tsx, 408, NULL);
}

static void cb_kill(int type, osip_transaction_t *tr)
{
	struct sip_tsx *tsx = osip_transaction_get_reserved1(tr);

	(void)type;
	if (tsx)
		tsx_end(tsx);		/* freed by sip_tsx_run */
}

static void cb_transport_error(int type, osip_transaction_t *tr, int error)
{
	struct sip_tsx *tsx = osip_transaction_get_reserved1(tr);

	(void)type;
	(void)error;
	if (tsx && (tsx->type == ICT || tsx->type == NICT))
		queue_ev(tsx, 503, NULL);
	if (tsx)
		tsx_end(tsx);
}

/** See sip_int.h (queues only; the caller runs sip_tsx_run).  Only
 * transactions still waiting for their first response: nothing came
 * back on conn. */
void sip_tsx_conn_failed(struct sip_ua *ua, struct sip_conn *conn)
{
	struct sip_tsx *tsx;
	size_t i;

	for (i = 0; i < ua->tsx_buckets; i++)
		for (tsx = ua->tsx_tab[i]; tsx; tsx = tsx->next) {
			if (tsx->conn != conn || tsx->killed || !tsx->tr)
				continue;
			if (!(tsx->type == ICT &&
			      tsx->tr->state == ICT_CALLING) &&
			    !(tsx->type == NICT &&
			      tsx->tr->state == NICT_TRYING))
				continue;
			queue_ev(tsx, 503, NULL);  /* as cb_transport_error */
			tsx_end(tsx);
		}
}

static void trace_cb(const char *fi, int li, osip_trace_level_t level,
		       const char *fmt, va_list ap)
{
	(void)fi;
	(void)li;
	/* libosip2 reports every malformed packet at ERROR: that is our
	 * decision to log (once, rate limited), not its. */
	gw_vlog(level == OSIP_FATAL || level == OSIP_BUG ? GW_LOG_ERR :
		GW_LOG_DEBUG, "osip", fmt, ap);
}

/* ------------------------------------------------------------------ */
/* Transactions                                                       */
/* ------------------------------------------------------------------ */

static void fo_free(struct sip_tsx_fo *fo);

static void tsx_destroy(void *data)
{
	struct sip_tsx *tsx = data;

	gw_tmr_cancel(&tsx->tmr);
	free(tsx->done);
	fo_free(tsx->fo);
	gw_mem_deref(tsx->conn);
	gw_mem_deref(tsx->totag);
	gw_mem_deref(tsx->owned);
}

static struct sip_tsx *tsx_new(struct sip_ua *ua, osip_fsm_type_t type,
			       enum sip_transport tp,
			       const struct sip_addr *dst,
			       struct sip_conn *conn)
{
	struct sip_tsx *tsx = gw_mem_zalloc(sizeof(*tsx), tsx_destroy);

	if (!tsx)
		return NULL;
	gw_tmr_init(&tsx->tmr);
	tsx->ua = ua;
	tsx->type = type;
	tsx->tp = tp;
	tsx->dst = *dst;
	tsx->conn = sip_conn_ref(conn);
	return tsx;
}

/* Make tr, new from libosip2, tsx's. */
static void tsx_adopt(struct sip_tsx *tsx, osip_transaction_t *tr)
{
	osip_remove_transaction(tsx->ua->osip, tr);	/* see the top */
	tsx->tr = tr;
	osip_transaction_set_reserved1(tr, tsx);
	tsx->ua->stats.tsx_created++;
}

static void tsx_link(struct sip_tsx *tsx, osip_transaction_t *tr,
		     const osip_message_t *req)
{
	tsx_insert(tsx, req);
	tsx_adopt(tsx, tr);
}

/** Stop delivering responses of tsx to its owner. */
void sip_tsx_detach(struct sip_tsx *tsx)
{
	if (!tsx)
		return;
	tsx->resph = NULL;
	tsx->arg = NULL;
}

static void tv_shift(struct timeval *tv, long ms)
{
	long us;

	if (tv->tv_sec == -1)
		return;			/* not running */
	us = (long)tv->tv_usec + (ms % 1000) * 1000;
	tv->tv_sec += ms / 1000 + us / 1000000;
	us %= 1000000;
	if (us < 0) {
		us += 1000000;
		tv->tv_sec--;
	}
	tv->tv_usec = us;
}

static void timer_set(int *len, struct timeval *start, int want)
{
	if (*len <= 0)
		return;			/* not used on this transport */
	tv_shift(start, (long)want - *len);
	*len = want;
}

/*
 * Our T1 for a new transaction: libosip2 sets A/E (client) and G
 * (server) to its compiled-in T1 and B/F/H/J to 64*T1 (s.17.1.1.2,
 * s.17.1.2.2, s.17.2.1, s.17.2.2) when it builds the transaction; a
 * configured T1 moves them.
 */
static void tsx_timers(osip_transaction_t *tr, unsigned t1)
{
	if (!t1 || t1 == DEFAULT_T1 || t1 > 60000)
		return;
	if (tr->ict_context) {
		timer_set(&tr->ict_context->timer_a_length,
			  &tr->ict_context->timer_a_start, (int)t1);
		timer_set(&tr->ict_context->timer_b_length,
			  &tr->ict_context->timer_b_start, 64 * (int)t1);
	}
	if (tr->nict_context) {
		timer_set(&tr->nict_context->timer_e_length,
			  &tr->nict_context->timer_e_start, (int)t1);
		timer_set(&tr->nict_context->timer_f_length,
			  &tr->nict_context->timer_f_start, 64 * (int)t1);
	}
	/* s.17.2.1: G starts at T1 and H is 64*T1; s.17.2.2: J 64*T1 */
	if (tr->ist_context) {
		timer_set(&tr->ist_context->timer_g_length,
			  &tr->ist_context->timer_g_start, (int)t1);
		timer_set(&tr->ist_context->timer_h_length,
			  &tr->ist_context->timer_h_start, 64 * (int)t1);
	}
	if (tr->nist_context)
		timer_set(&tr->nist_context->timer_j_length,
			  &tr->nist_context->timer_j_start, 64 * (int)t1);
}

/**
 * Send req in a new client transaction (ICT for INVITE, else NICT) to
 * dst.  resph gets each response, or 408/503 without a message.  req is
 * consumed; *tsxp (optional) gets a reference.
 */
int sip_tsx_request(struct sip_tsx **tsxp, struct sip_ua *ua,
		    osip_message_t *req, enum sip_transport tp,
		    const struct sip_addr *dst, sip_tsx_resp_h *resph,
		    void *arg)
{
	osip_transaction_t *tr = NULL;
	osip_fsm_type_t type;
	struct sip_tsx *tsx;
	osip_event_t *ev;

	type = MSG_IS_INVITE(req) ? ICT : NICT;
	tsx = tsx_new(ua, type, tp, dst, NULL);
	if (!tsx) {
		osip_message_free(req);
		return ENOMEM;
	}
	if (osip_transaction_init(&tr, type, ua->osip, req) < 0) {
		osip_message_free(req);
		gw_mem_deref(tsx);
		return EINVAL;
	}
	tsx_timers(tr, ua->conf.t1_ms);
	tsx->resph = resph;
	tsx->arg = arg;
	tsx_link(tsx, tr, req);
	ev = osip_new_outgoing_sipmessage(req);
	tsx_post(tsx, ev);
	if (tsxp)
		*tsxp = gw_mem_ref(tsx);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Requests to names: RFC 3263 targets, one after another (s.4.3)     */
/* ------------------------------------------------------------------ */

/*
 * The sip_tsx the owner holds stays the same from the first target to
 * the last; each target gets its own libosip2 transaction, from a copy
 * of the request with a new Via branch ("identical to the previous, but
 * has a different value of the Via branch ID", RFC 3263 s.4.3) and with
 * Via and Contact rewritten for the target's transport and listener.
 * A failed transaction leaves to a "retired" sip_tsx of its own, which
 * lets it finish (an ICT still ACKs a 503 and waits out Timer D).
 *
 * Failure means a 503, a transport error, or a timeout before any
 * response (s.4.3); any other response means the server has the
 * request, and it stays there.
 */
struct sip_tsx_fo {
	osip_message_t *req;		/* as the owner built it */
	struct sip_dns_query *q;	/* while resolving */
	struct sip_dns_target t[SIP_DNS_MAX_TARGETS];
	size_t n, next;			/* targets; the next to try */
	bool answered;			/* a response other than 503 */
	bool stop;			/* the owner gave up */
	bool moved;			/* for sip_tsx_retargeted */
};

static void fo_free(struct sip_tsx_fo *fo)
{
	if (!fo)
		return;
	sip_dns_cancel(fo->q);
	if (fo->req)
		osip_message_free(fo->req);
	free(fo);
}

static bool our_host(const struct sip_ua *ua, const char *host)
{
	const struct sip_lsnr *l;

	for (l = ua->lsnrs; l && host; l = l->next)
		if (!strcasecmp(l->host, host))
			return true;
	return false;
}

/** Is uri a SIPS URI (s.19.1)? */
bool sip_uri_is_sips(const osip_uri_t *uri)
{
	return uri && uri->scheme && !strcasecmp(uri->scheme, "sips");
}

/* Via (s.8.1.1.7, s.18.1.1) and a Contact of ours for a request that
 * leaves from l over tp, with a new branch. */
static int retarget(struct sip_ua *ua, osip_message_t *m,
		    const struct sip_lsnr *l, enum sip_transport tp)
{
	osip_via_t *v = NULL;
	osip_contact_t *c = NULL;
	osip_generic_param_t *p = NULL;
	char port[8], branch[32];
	int pos;

	if (osip_message_get_via(m, 0, &v) < 0 || !v)
		return EINVAL;
	snprintf(port, sizeof(port), "%u", l->port);
	osip_free(v->protocol);
	v->protocol = osip_strdup(sip_transport_name(tp));
	osip_free(v->host);
	v->host = osip_strdup(l->host);
	osip_free(v->port);
	v->port = osip_strdup(port);
	memcpy(branch, "z9hG4bK", 7);
	sip_rand_token(branch + 7, 17);
	if (osip_via_param_get_byname(v, (char *)"branch", &p) >= 0 && p) {
		osip_free(p->gvalue);
		p->gvalue = osip_strdup(branch);
	} else {
		osip_via_set_branch(v, osip_strdup(branch));
	}
	if (osip_message_get_contact(m, 0, &c) >= 0 && c && c->url &&
	    our_host(ua, c->url->host)) {
		osip_uri_param_t *up;

		osip_free(c->url->host);
		c->url->host = osip_strdup(l->host);
		osip_free(c->url->port);
		c->url->port = osip_strdup(port);
		for (pos = 0; !osip_list_eol(&c->url->url_params, pos);
		     pos++) {
			up = osip_list_get(&c->url->url_params, pos);
			if (up && up->gname &&
			    !strcasecmp(up->gname, "transport")) {
				osip_list_remove(&c->url->url_params, pos);
				osip_uri_param_free(up);
				break;
			}
		}
		if (tp != SIP_UDP && !sip_uri_is_sips(c->url))
			osip_uri_uparam_add(c->url, osip_strdup("transport"),
					    osip_strdup(tp == SIP_TCP ?
							"tcp" : "tls"));
	}
	osip_message_force_update(m);	/* notes/libraries.md, 7 */
	return 0;
}

/* Start tsx's request on its next usable target. */
static int fo_try_next(struct sip_tsx *tsx)
{
	struct sip_tsx_fo *fo = tsx->fo;
	struct sip_ua *ua = tsx->ua;

	while (fo->next < fo->n) {
		const struct sip_dns_target *t = &fo->t[fo->next++];
		osip_transaction_t *tr = NULL;
		osip_message_t *m = NULL;
		osip_event_t *ev;
		struct sip_lsnr *l;
		struct sip_addr dst;
		char pa[80];

		if (sip_addr_set(&dst, t->addr, t->port))
			continue;
		l = sip_transport_lsnr(ua, t->transport, dst.ss.ss_family);
		if (!l)
			continue;
		if (osip_message_clone(fo->req, &m) < 0)
			return ENOMEM;
		if (retarget(ua, m, l, t->transport) ||
		    osip_transaction_init(&tr, tsx->type, ua->osip, m) < 0) {
			osip_message_free(m);
			continue;
		}
		tsx_timers(tr, ua->conf.t1_ms);
		tsx->tp = t->transport;
		tsx->dst = dst;
		tsx->conn = gw_mem_deref(tsx->conn);	/* the old target's */
		tsx_adopt(tsx, tr);
		tsx->killed = false;
		fo->moved = true;
		sip_addr_print(&dst, pa, sizeof(pa));
		GW_DBG("%s to %s %s (target %zu of %zu)",
		       m->sip_method, sip_transport_name(t->transport), pa,
		       fo->next, fo->n);
		ev = osip_new_outgoing_sipmessage(m);
		tsx_post(tsx, ev);
		return 0;
	}
	return ENOENT;
}

static void fo_resolved(int err, const struct sip_dns_target *t, size_t n,
			void *arg)
{
	struct sip_tsx *tsx = arg;
	struct sip_tsx_fo *fo = tsx->fo;
	struct sip_ua *ua = tsx->ua;

	fo->q = sip_dns_cancel(fo->q);
	if (fo->stop)
		err = ECANCELED;
	else if (!err) {
		memcpy(fo->t, t, n * sizeof(*t));
		fo->n = n;
		fo->next = 0;
		err = fo_try_next(tsx);
		if (err)
			GW_INFO("no usable target for %s", fo->req->sip_method);
	}
	if (err) {
		/* Nothing to send to: 404 when the name or its records do
		 * not exist, 503 when DNS failed us (RFC 3261 s.8.1.3.1
		 * treats what the transport cannot deliver as a 503); a
		 * request its owner gave up before it left: 487. */
		queue_ev(tsx, err == ECANCELED ? 487 : err == ENOENT ? 404 :
			 503, NULL);
		tsx_end(tsx);
	}
	sip_tsx_run(ua);
}

/**
 * Send req to the targets of uri (RFC 3263; NULL: req's Request-URI),
 * in turn, as sip_int.h says.  req is consumed.
 */
int sip_tsx_request_uri(struct sip_tsx **tsxp, struct sip_ua *ua,
			osip_message_t *req, const char *uri,
			sip_tsx_resp_h *resph, void *arg)
{
	struct sip_tsx *tsx;
	struct sip_addr none;
	char *ruri = NULL;
	int err;

	memset(&none, 0, sizeof(none));
	if (!uri && (!req->req_uri ||
		     osip_uri_to_str(req->req_uri, &ruri) < 0)) {
		osip_message_free(req);
		return EINVAL;
	}
	tsx = tsx_new(ua, MSG_IS_INVITE(req) ? ICT : NICT, SIP_UDP, &none,
		      NULL);
	if (tsx)
		tsx->fo = calloc(1, sizeof(*tsx->fo));
	if (!tsx || !tsx->fo) {
		osip_free(ruri);
		osip_message_free(req);
		gw_mem_deref(tsx);
		return ENOMEM;
	}
	tsx->fo->req = req;
	err = sip_dns_resolve(&tsx->fo->q, ua, uri ? uri : ruri, fo_resolved,
			      tsx);
	osip_free(ruri);
	if (err) {
		gw_mem_deref(tsx);	/* frees req */
		return err;
	}
	tsx->resph = resph;
	tsx->arg = arg;
	tsx_insert(tsx, req);		/* the index's reference */
	if (tsxp)
		*tsxp = gw_mem_ref(tsx);
	return 0;
}

/** No further target for tsx: its owner gave up on it. */
void sip_tsx_no_failover(struct sip_tsx *tsx)
{
	if (tsx && tsx->fo)
		tsx->fo->stop = true;
}

/** See sip_int.h: where a request to a name went, once per target. */
bool sip_tsx_retargeted(struct sip_tsx *tsx, osip_message_t **reqp)
{
	osip_message_t *m = NULL;

	if (!tsx || !tsx->fo || !tsx->fo->moved || !tsx->tr)
		return false;
	tsx->fo->moved = false;
	if (reqp && tsx->tr->orig_request &&
	    osip_message_clone(tsx->tr->orig_request, &m) == 0) {
		if (*reqp)
			osip_message_free(*reqp);
		*reqp = m;
	}
	return true;
}

/*
 * A response or failure for tsx: true when it was a failure RFC 3263
 * s.4.3 moves to the next target and the request went there (the
 * owner is not told).
 */
static bool fo_failover(struct sip_tsx *tsx, int status,
			const osip_message_t *msg)
{
	struct sip_tsx_fo *fo = tsx->fo;
	struct sip_tsx *old;
	struct sip_ua *ua = tsx->ua;

	if (!fo || !tsx->tr)
		return false;
	if (msg && status != 503) {
		fo->answered = true;
		return false;
	}
	if ((!msg && status != 408 && status != 503) || fo->answered ||
	    fo->stop || !tsx->resph || fo->next >= fo->n)
		return false;
	/* The failed transaction finishes on a sip_tsx of its own. */
	old = tsx_new(ua, tsx->type, tsx->tp, &tsx->dst, tsx->conn);
	if (!old)
		return false;
	old->tr = tsx->tr;
	osip_transaction_set_reserved1(old->tr, old);
	tsx_insert(old, fo->req);
	if (tsx->killed)
		tsx_end(old);
	else
		tsx_arm(old);
	tsx->tr = NULL;
	gw_tmr_cancel(&tsx->tmr);
	GW_INFO("%s: %d from %s, trying the next target (RFC 3263 s.4.3)",
		fo->req->sip_method, status, sip_transport_name(tsx->tp));
	if (fo_try_next(tsx)) {
		tsx_end(tsx);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* RFC 6026 "Accepted": INVITEs answered with a 2xx, for Timer L      */
/* ------------------------------------------------------------------ */

#define ACCEPTED_BUCKETS 256

struct sip_accepted {
	struct sip_accepted *next;
	uint64_t until_ms;		/* Timer L */
	char key[];
};

/* The transaction key of an INVITE (s.17.2.3): the top Via's branch and
 * sent-by; without the magic cookie, RFC 2543's Call-ID, From tag and
 * CSeq.  false when req has no usable Via. */
static bool accepted_key(const osip_message_t *req, char *buf, size_t size)
{
	osip_via_t *v = NULL;
	const char *b;

	if (osip_message_get_via(req, 0, &v) < 0 || !v || !v->host)
		return false;
	b = sip_via_param(v, "branch");
	if (b && !strncmp(b, "z9hG4bK", 7))
		snprintf(buf, size, "%s|%s:%s", b, v->host,
			 v->port ? v->port : "");
	else if (req->call_id && req->call_id->number && req->cseq &&
		 req->cseq->number)
		snprintf(buf, size, "%s|%s|%s", req->call_id->number,
			 sip_tag(req->from) ? sip_tag(req->from) : "",
			 req->cseq->number);
	else
		return false;
	return true;
}

/* The bucket of key, its expired entries dropped. */
static struct sip_accepted **accepted_bucket(struct sip_ua *ua,
					     const char *key)
{
	struct sip_accepted **head, **pp, *a;
	uint64_t now = gw_now_ms();

	if (!ua->accepted) {
		ua->accepted = calloc(ACCEPTED_BUCKETS, sizeof(*ua->accepted));
		if (!ua->accepted)
			return NULL;
	}
	head = pp = &ua->accepted[str_hash(key) % ACCEPTED_BUCKETS];
	while ((a = *pp)) {
		if (a->until_ms <= now) {
			*pp = a->next;
			free(a);
		} else {
			pp = &a->next;
		}
	}
	return head;
}

static void accepted_add(struct sip_ua *ua, const osip_message_t *req)
{
	struct sip_accepted **head, *a;
	char key[320];
	size_t n;

	if (!req || !accepted_key(req, key, sizeof(key)))
		return;
	head = accepted_bucket(ua, key);
	if (!head)
		return;
	for (a = *head; a; a = a->next)
		if (!strcmp(a->key, key))
			return;		/* a 2xx resent in the same IST */
	n = strlen(key) + 1;
	a = malloc(sizeof(*a) + n);
	if (!a)
		return;
	memcpy(a->key, key, n);
	a->until_ms = gw_now_ms() + 64 * (uint64_t)ua->conf.t1_ms;
	a->next = *head;
	*head = a;
}

static bool accepted_match(struct sip_ua *ua, const osip_message_t *req)
{
	struct sip_accepted **head, *a;
	char key[320];

	if (!ua->accepted || !accepted_key(req, key, sizeof(key)))
		return false;
	head = accepted_bucket(ua, key);
	for (a = head ? *head : NULL; a; a = a->next)
		if (!strcmp(a->key, key))
			return true;
	return false;
}

static void accepted_free(struct sip_ua *ua)
{
	struct sip_accepted *a;
	size_t i;

	if (!ua->accepted)
		return;
	for (i = 0; i < ACCEPTED_BUCKETS; i++)
		while ((a = ua->accepted[i])) {
			ua->accepted[i] = a->next;
			free(a);
		}
	free(ua->accepted);
	ua->accepted = NULL;
}

/** Send resp (consumed) in server transaction tsx. */
int sip_tsx_respond_msg(struct sip_tsx *tsx, osip_message_t *resp)
{
	if (tsx->ua->user_agent && *tsx->ua->user_agent &&
	    !sip_msg_header(resp, "server"))
		osip_message_set_header(resp, "Server", tsx->ua->user_agent);
	if (!tsx->tr || tsx->killed || tsx->final_sent) {
		osip_message_free(resp);
		return EALREADY;
	}
	if (resp->status_code >= 200)
		tsx->final_sent = true;
	if (tsx->type == IST && MSG_IS_STATUS_2XX(resp))
		accepted_add(tsx->ua, tsx->tr->orig_request);
	tsx_post(tsx, osip_new_outgoing_sipmessage(resp));
	return 0;
}

/** Respond with status and nothing else than what it needs (Allow for
 * 405/501, Accept for 415, Supported/Allow/Accept for OPTIONS). */
int sip_tsx_respond(struct sip_tsx *tsx, const osip_message_t *req,
		    unsigned status)
{
	osip_message_t *resp;
	int err;

	err = sip_msg_response(&resp, req, status, tsx->totag);
	if (err)
		return err;
	if (status == 405 || status == 501 ||
	    (MSG_IS_OPTIONS(req) && status == 200))
		osip_message_set_allow(resp, SIP_ALLOW);
	if (status == 415 || (MSG_IS_OPTIONS(req) && status == 200))
		osip_message_set_accept(resp, SIP_ACCEPT);
	if (MSG_IS_OPTIONS(req) && status == 200)
		osip_message_set_header(resp, "Supported",
					sip_supported(tsx->ua));
	return sip_tsx_respond_msg(tsx, resp);
}

/* tsx's libosip2 transaction goes (tsx may stay, tsx_compact). */
static void tsx_drop_tr(struct sip_tsx *tsx)
{
	if (!tsx->tr)
		return;
	osip_transaction_set_reserved1(tsx->tr, NULL);
	osip_transaction_free2(tsx->tr);	/* in no list */
	tsx->tr = NULL;
}

static void tsx_free(struct sip_tsx *tsx)
{
	gw_tmr_cancel(&tsx->tmr);
	tsx_drop_tr(tsx);
	tsx->killed = true;
	gw_mem_deref(tsx);		/* the index's reference */
}

/* Free the transactions that ended (all: every one, at close). */
static void tsx_free_dead(struct sip_ua *ua, bool all)
{
	struct sip_tsx *tsx;
	size_t i;

	if (ua->in_request && !all)
		return;			/* the next run will */
	while ((tsx = ua->deadq)) {
		ua->deadq = tsx->dead_next;
		tsx->dead_next = NULL;
		tsx->dead_queued = false;
		if (tsx->killed && !all) {
			tsx_unlink(tsx);
			tsx_free(tsx);
		}
	}
	if (!all)
		return;
	for (i = 0; i < ua->tsx_buckets; i++)
		while ((tsx = ua->tsx_tab[i])) {
			ua->tsx_tab[i] = tsx->next;
			tsx->next = NULL;
			tsx_free(tsx);
		}
	ua->n_tsx = 0;
}

/*
 * The s.17 timers running in tr's state, as libosip2's timer passes read
 * them, in the order they check them (the one that ends the transaction
 * first).  On a reliable transport D, I, J and K are zero (s.17.1.1.2,
 * s.17.2.1, s.17.2.2, s.17.1.2.2): the transaction ends as soon as it
 * enters their state.
 */
static size_t timers_running(const osip_transaction_t *tr,
			     const struct timeval *at[2], type_t type[2])
{
	size_t n = 0;

#define TMR(cond, ctx, field, t) \
	if ((cond) && tr->ctx && tr->ctx->field.tv_sec != -1) { \
		at[n] = &tr->ctx->field; \
		type[n++] = (t); \
	}
	switch (tr->ctx_type) {
	case ICT:
		TMR(tr->state == ICT_CALLING, ict_context, timer_b_start,
		    TIMEOUT_B);
		TMR(tr->state == ICT_CALLING, ict_context, timer_a_start,
		    TIMEOUT_A);
		TMR(tr->state == ICT_COMPLETED, ict_context, timer_d_start,
		    TIMEOUT_D);
		break;
	case IST:
		TMR(tr->state == IST_CONFIRMED, ist_context, timer_i_start,
		    TIMEOUT_I);
		TMR(tr->state == IST_COMPLETED, ist_context, timer_h_start,
		    TIMEOUT_H);
		TMR(tr->state == IST_COMPLETED, ist_context, timer_g_start,
		    TIMEOUT_G);
		break;
	case NICT:
		TMR(tr->state == NICT_COMPLETED, nict_context, timer_k_start,
		    TIMEOUT_K);
		TMR(tr->state == NICT_TRYING || tr->state == NICT_PROCEEDING,
		    nict_context, timer_f_start, TIMEOUT_F);
		TMR(tr->state == NICT_TRYING || tr->state == NICT_PROCEEDING,
		    nict_context, timer_e_start, TIMEOUT_E);
		break;
	case NIST:
		TMR(tr->state == NIST_COMPLETED, nist_context, timer_j_start,
		    TIMEOUT_J);
		break;
	}
#undef TMR
	return n;
}

/* The event of tr's first timer that is due, or NULL and *msp the time
 * to the next one (UINT64_MAX: none). */
static osip_event_t *timer_due(const osip_transaction_t *tr, uint64_t *msp)
{
	const struct timeval *at[2];
	struct timeval now;
	osip_event_t *ev;
	type_t type[2];
	size_t i, n = timers_running(tr, at, type);
	int64_t us, min = INT64_MAX;

	*msp = UINT64_MAX;
	if (!n)
		return NULL;
	osip_gettimeofday(&now, NULL);
	for (i = 0; i < n; i++) {
		us = ((int64_t)at[i]->tv_sec - now.tv_sec) * 1000000 +
			(at[i]->tv_usec - now.tv_usec);
		if (us <= 0) {
			ev = osip_malloc(sizeof(*ev));
			if (!ev)
				break;
			memset(ev, 0, sizeof(*ev));
			ev->type = type[i];
			ev->transactionid = tr->transactionid;
			return ev;
		}
		if (us < min)
			min = us;
	}
	*msp = min == INT64_MAX ? 1 : (uint64_t)(min + 999) / 1000;
	return NULL;
}

/*
 * A transaction completed over UDP only absorbs retransmissions until
 * its last timer: a non-INVITE server transaction answers a request
 * again with its final response until Timer J, 64*T1 (s.17.2.2); a
 * non-INVITE client transaction drops responses until Timer K, T4
 * (s.17.1.2.2); an INVITE client transaction answers a final response
 * again with its ACK until Timer D, 32 s (s.17.1.1.2).  For that the
 * libosip2 transaction is more than it needs: about 15 KiB (mostly a DNS
 * SRV record it no longer uses) and the parsed messages, some 21 KiB in
 * all, kept 32 s for every BYE.  So it goes, and what is kept is the
 * message to send again and the request's key, under 1 KiB: the top
 * Via's branch and sent-by and the method, which match a retransmission
 * (s.17.2.3, s.17.1.3), and the Call-ID, CSeq and From tag, which tell
 * a merged request (s.8.2.2.2).
 */
struct sip_tsx_done {
	const char *branch, *host, *port, *method, *cseq, *from_tag, *call_id;
	size_t resp_len;
	char *resp;
	char buf[];		/* the strings above, then resp */
};

static struct sip_tsx_done *done_new(const osip_transaction_t *tr,
				     osip_message_t *again)
{
	const char *v[7];
	char *cid = NULL, *resp = NULL, *p;
	size_t len[7], n = 0, rlen = 0, i;
	struct sip_tsx_done *d = NULL;

	v[0] = sip_via_param(tr->topvia, "branch");
	v[1] = tr->topvia ? tr->topvia->host : NULL;
	v[2] = tr->topvia && tr->topvia->port ? tr->topvia->port : "";
	v[3] = tr->cseq ? tr->cseq->method : NULL;
	v[4] = tr->cseq ? tr->cseq->number : NULL;
	v[5] = tr->from ? sip_tag(tr->from) : NULL;
	if (!v[5])
		v[5] = "";
	if (!v[0] || strncmp(v[0], "z9hG4bK", 7) || !v[1] || !v[3] ||
	    !v[4] || !tr->callid ||
	    osip_call_id_to_str(tr->callid, &cid) < 0 || !cid)
		return NULL;		/* RFC 2543 matching: libosip2's */
	v[6] = cid;
	if (again && (osip_message_to_str(again, &resp, &rlen) < 0 ||
		      !resp))
		goto out;
	for (i = 0; i < 7; i++)
		n += (len[i] = strlen(v[i])) + 1;
	d = malloc(sizeof(*d) + n + rlen);
	if (!d)
		goto out;
	p = d->buf;
	for (i = 0; i < 7; i++) {
		memcpy(p, v[i], len[i] + 1);
		v[i] = p;
		p += len[i] + 1;
	}
	d->branch = v[0];
	d->host = v[1];
	d->port = v[2];
	d->method = v[3];
	d->cseq = v[4];
	d->from_tag = v[5];
	d->call_id = v[6];
	d->resp = rlen ? p : NULL;
	d->resp_len = rlen;
	if (rlen)
		memcpy(p, resp, rlen);
 out:
	osip_free(cid);
	osip_free(resp);
	return d;
}

/* m is a retransmission of d's request (s.17.2.3), or a response to it
 * (s.17.1.3). */
static bool done_match(const struct sip_tsx_done *d, const osip_message_t *m)
{
	osip_via_t *via = NULL;
	const char *b;

	osip_message_get_via(m, 0, &via);
	b = sip_via_param(via, "branch");
	if (!b || strcmp(b, d->branch))
		return false;
	if (!MSG_IS_REQUEST(m))
		return m->cseq && m->cseq->method &&
			!strcmp(m->cseq->method, d->method);
	return via->host && m->sip_method &&
		!strcasecmp(via->host, d->host) &&
		!strcmp(via->port ? via->port : "", d->port) &&
		!strcmp(m->sip_method, d->method);
}

static void done_expired(void *arg)
{
	struct sip_tsx *tsx = arg;

	tsx_end(tsx);			/* Timer J, K or D */
	sip_tsx_run(tsx->ua);
}

/* tsx completed over UDP (see above): keep only what its last timer
 * needs; false when it keeps its libosip2 transaction.  A request that
 * may go on to another target (failover) keeps it. */
static bool tsx_compact(struct sip_tsx *tsx, uint64_t ms)
{
	osip_transaction_t *tr = tsx->tr;
	struct sip_tsx_done *d;
	osip_message_t *again;

	if (tsx->tp != SIP_UDP || !tr || tsx->fo || ms == UINT64_MAX)
		return false;
	if (tsx->type == NIST && tr->state == NIST_COMPLETED &&
	    tr->last_response)
		again = tr->last_response;
	else if (tsx->type == NICT && tr->state == NICT_COMPLETED)
		again = NULL;
	else if (tsx->type == ICT && tr->state == ICT_COMPLETED && tr->ack)
		again = tr->ack;
	else
		return false;
	d = done_new(tr, again);
	if (!d)
		return false;
	tsx->done = d;
	tsx_drop_tr(tsx);
	gw_tmr_start(&tsx->tmr, ms, done_expired, tsx);
	return true;
}

static void tsx_tmr_expired(void *arg)
{
	struct sip_tsx *tsx = arg;

	tsx_queue(tsx);
	sip_tsx_run(tsx->ua);
}

/* Run what is due of tsx's timers and arm its gw_tmr on the next. */
static void tsx_arm(struct sip_tsx *tsx)
{
	osip_event_t *ev;
	uint64_t ms;

	if (tsx->done)
		return;			/* its last timer alone */
	while (tsx->tr && !tsx->killed &&
	       (ev = timer_due(tsx->tr, &ms)) != NULL)
		osip_transaction_execute(tsx->tr, ev);
	if (!tsx->tr || tsx->killed || ms == UINT64_MAX) {
		gw_tmr_cancel(&tsx->tmr);
	} else if (tsx->type == NIST && tsx->tr->state == NIST_COMPLETED &&
		   tsx->ua->in_request) {
		/* a handler still holds the request: after it returns */
		gw_tmr_start(&tsx->tmr, 0, tsx_tmr_expired, tsx);
	} else if (!tsx_compact(tsx, ms)) {
		gw_tmr_start(&tsx->tmr, ms, tsx_tmr_expired, tsx);
	}
}

/* Run the events queued for each transaction (tsx_post), the server
 * transactions' first: a response goes out before a request the same
 * handler started (202, then NOTIFY). */
static void run_queued(struct sip_ua *ua)
{
	osip_event_t *se;
	struct sip_tsx *tsx;
	int q;

	for (q = 0; q < 2; q++)
		while ((tsx = ua->runq[q])) {
			ua->runq[q] = tsx->run_next;
			if (!ua->runq[q])
				ua->runq_tail[q] = NULL;
			tsx->run_next = NULL;
			tsx->run_queued = false;
			while (tsx->tr && (se = osip_fifo_tryget(
						   tsx->tr->transactionff)))
				osip_transaction_execute(tsx->tr, se);
			tsx_arm(tsx);
			gw_mem_deref(tsx);
		}
}

static void run_later(void *arg)
{
	sip_tsx_run(arg);
}

/** Run what the last message, request or timer queued, deliver what the
 * transactions report, free those that ended. */
void sip_tsx_run(struct sip_ua *ua)
{
	struct sip_tsx_ev *ev;
	int round;

	if (ua->running || !ua->osip)
		return;
	ua->running = true;
	for (round = 0; round < 32; round++) {
		run_queued(ua);
		if (!ua->evq)
			break;
		while ((ev = ua->evq)) {
			ua->evq = ev->next;
			if (!ua->evq)
				ua->evq_tail = NULL;
			if (ev->tsx->resph &&
			    !fo_failover(ev->tsx, ev->status, ev->msg))
				ev->tsx->resph(ev->tsx, ev->status, ev->msg,
					       ev->tsx->arg);
			if (ev->msg)
				osip_message_free(ev->msg);
			gw_mem_deref(ev->tsx);
			free(ev);
		}
	}
	tsx_free_dead(ua, false);
	ua->running = false;
	if ((ua->runq[0] || ua->runq[1] || ua->evq) && !ua->closing)
		gw_tmr_start(&ua->tmr, 0, run_later, ua);	/* 32 rounds */
}

/* ------------------------------------------------------------------ */
/* Receiving                                                          */
/* ------------------------------------------------------------------ */

static bool known_method(const char *m)
{
	static const char *const known[] = {
		"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER",
		"PRACK", "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER",
		"MESSAGE", "UPDATE",
	};
	size_t i;

	for (i = 0; i < GW_ARRAY_SIZE(known); i++)
		if (!strcmp(m, known[i]))
			return true;
	return false;
}

/* Methods we know but do not serve (yet): 405 with Allow. */
static bool served_method(const struct sip_ua *ua, const char *m)
{
	if (!strcmp(m, "PRACK"))
		return ua->conf.prack;
	if (!strcmp(m, "REGISTER"))
		return ua->registrar != NULL;
	return strcmp(m, "REGISTER") && strcmp(m, "SUBSCRIBE") &&
		strcmp(m, "PUBLISH") && strcmp(m, "MESSAGE");
}

static bool numeric(const char *s, unsigned long long max)
{
	unsigned long long v = 0;

	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return false;
	}
	return true;
}

/* Where responses to a request go (s.18.2.2, RFC 3581): the source
 * address (we add received), to rport's source port or sent-by's. */
static void response_dst(struct sip_addr *dst, const osip_message_t *req,
			 const struct sip_src *src)
{
	osip_via_t *via = NULL;
	unsigned port = 5060;
	char ip[64];

	*dst = src->peer;
	if (src->tp != SIP_UDP)
		return;
	osip_message_get_via(req, 0, &via);
	if (!via)
		return;
	if (sip_via_param(via, "rport"))
		return;
	if (via->port && numeric(via->port, 65535))
		port = (unsigned)atoi(via->port);
	if (!sip_addr_ip(&src->peer, ip, sizeof(ip)))
		sip_addr_set(dst, ip, port);
}

/* A stateless response for a request no transaction could hold. */
static void respond_stateless(struct sip_ua *ua, const osip_message_t *req,
			      const struct sip_src *src, unsigned status)
{
	osip_message_t *resp;
	struct sip_addr dst;
	char tag[16];

	if (MSG_IS_ACK(req) || osip_list_size(&req->vias) < 1)
		return;
	sip_rand_token(tag, sizeof(tag));
	if (sip_msg_response(&resp, req, status, tag))
		return;
	if (status == 501 || status == 405)
		osip_message_set_allow(resp, SIP_ALLOW);
	response_dst(&dst, req, src);
	send_msg(ua, resp, src->tp, &dst, src->conn);
	osip_message_free(resp);
}

/* 482 for a request that merges with one in progress (s.8.2.2.2): the
 * same Call-ID, so the same bucket. */
static bool merged(struct sip_ua *ua, const osip_message_t *req)
{
	const struct sip_tsx *t;
	const osip_message_t *o;
	osip_via_t *v1 = NULL, *v2;
	const char *ft, *ft2, *b1, *b2, *num, *meth;
	char *cid = NULL;
	bool same_cid, hit = false;

	ft = sip_tag(req->from);
	if (sip_tag(req->to) || !ft)
		return false;
	osip_message_get_via(req, 0, &v1);
	b1 = sip_via_param(v1, "branch");
	for (t = *bucket(ua, callid_hash(req->call_id)); t; t = t->next) {
		if (t->killed || (t->type != IST && t->type != NIST))
			continue;
		if (t->done) {		/* its request's key (tsx_compact) */
			if (!cid && osip_call_id_to_str(req->call_id,
							&cid) < 0)
				cid = NULL;
			same_cid = cid && !strcmp(cid, t->done->call_id);
			num = t->done->cseq;
			meth = t->done->method;
			ft2 = t->done->from_tag;
			b2 = t->done->branch;
		} else {
			o = t->tr ? t->tr->orig_request : NULL;
			if (!o || o == req || !o->call_id || !o->cseq ||
			    !o->from)
				continue;
			same_cid = !osip_call_id_match(o->call_id,
						       req->call_id);
			num = o->cseq->number;
			meth = o->cseq->method;
			ft2 = sip_tag(o->from);
			v2 = NULL;
			osip_message_get_via(o, 0, &v2);
			b2 = sip_via_param(v2, "branch");
		}
		if (!same_cid || strcmp(num, req->cseq->number) ||
		    strcmp(meth, req->cseq->method) || !ft2 ||
		    strcmp(ft2, ft))
			continue;
		if (b1 && b2 && !strcmp(b1, b2))
			continue;	/* the same request (retransmission) */
		hit = true;
		break;
	}
	osip_free(cid);
	return hit;
}

/* Is the Via's sent-by one of our listeners? */
static bool via_ours(const struct sip_ua *ua, const osip_via_t *v)
{
	const struct sip_lsnr *l;
	unsigned port;

	if (!v->host)
		return false;
	for (l = ua->lsnrs; l; l = l->next) {
		port = v->port ? (unsigned)atoi(v->port) :
			l->tp == SIP_TLS ? 5061 : 5060;
		if (port == l->port && !strcasecmp(l->host, v->host))
			return true;
	}
	return false;
}

/* A request of ours that came back to us (RFC 3261 s.8.2.2.2, s.16.3
 * item 4): a Via with one of our listeners as sent-by and the branch
 * of one of our live client transactions. */
static bool looped(struct sip_ua *ua, const osip_message_t *req)
{
	const struct sip_tsx *t;
	osip_via_t *v, *ov;
	const char *b, *ob;
	int pos;

	for (pos = 0; !osip_list_eol(&req->vias, pos); pos++) {
		v = osip_list_get(&req->vias, pos);
		if (!v || !via_ours(ua, v))
			continue;
		b = sip_via_param(v, "branch");
		if (!b || !*b)
			continue;
		/* A request of ours keeps its Call-ID on the way. */
		for (t = *bucket(ua, callid_hash(req->call_id)); t;
		     t = t->next) {
			if (!t->tr || t->killed ||
			    (t->type != ICT && t->type != NICT) ||
			    !t->tr->orig_request)
				continue;
			ov = NULL;
			osip_message_get_via(t->tr->orig_request, 0, &ov);
			ob = sip_via_param(ov, "branch");
			if (ob && !strcmp(ob, b))
				return true;
		}
	}
	return false;
}

/* The first Require option we do not support, or NULL. */
static const char *unsupported_option(const struct sip_ua *ua,
				      const osip_message_t *req, char *buf,
				      size_t size)
{
	osip_header_t *h;
	const char *p, *e;
	int pos = 0;
	size_t used = 0, n;

	buf[0] = '\0';
	while (osip_message_header_get_byname(req, "require", pos++, &h) >= 0
	       && h) {
		for (p = h->hvalue; p && *p; p = e) {
			p += strspn(p, " \t,");
			e = p + strcspn(p, ", \t");
			n = (size_t)(e - p);
			if (!n)
				break;
			if ((n == 5 && !strncasecmp(p, "timer", 5)) ||
			    (n == 8 && !strncasecmp(p, "replaces", 8)) ||
			    (n == 6 && !strncasecmp(p, "100rel", 6) &&
			     ua->conf.prack))
				continue;
			if (used + n + 3 < size) {
				used += (size_t)snprintf(buf + used,
							 size - used, "%s%.*s",
							 used ? ", " : "",
							 (int)n, p);
			}
		}
	}
	return buf[0] ? buf : NULL;
}

/* Validate req; 0 to go on, else the status to reject it with. */
static unsigned check_request(struct sip_ua *ua, const osip_message_t *req)
{
	const char *scheme;
	osip_via_t *via = NULL;

	if (!req->sip_version || strcmp(req->sip_version, "SIP/2.0"))
		return 505;
	osip_message_get_via(req, 0, &via);
	if (!via || !via->host || !req->from || !req->to || !req->call_id ||
	    !req->call_id->number || !req->cseq || !req->cseq->method ||
	    !req->req_uri)
		return 400;
	if (!numeric(req->cseq->number, 0xffffffffull))
		return 400;
	if (via->port && !numeric(via->port, 65535))
		return 400;
	if (strcmp(req->cseq->method, req->sip_method))
		return known_method(req->sip_method) ? 400 : 501;
	if (!known_method(req->sip_method))
		return 501;
	scheme = req->req_uri->scheme;
	if (!scheme || (strcasecmp(scheme, "sip") &&
			strcasecmp(scheme, "sips") &&
			strcasecmp(scheme, "tel")))
		return 416;
	if (!req->req_uri->host || (req->req_uri->port &&
				    !numeric(req->req_uri->port, 65535)))
		return 400;
	/* Escaped headers in a Request-URI (RFC 4475 s.3.1.2.11). */
	if (osip_list_size(&req->req_uri->url_headers) > 0)
		return 400;
	if (!served_method(ua, req->sip_method))
		return 405;
	return 0;
}

/*
 * The transaction of an incoming message, or NULL: libosip2's matching
 * (RFC 3261 s.17.1.3 for a response, s.17.2.3 for a request, RFC 2543's
 * rules included) over the transactions of the right kind in the
 * message's Call-ID bucket, which are few.  A response carries its
 * request's Call-ID (s.8.2.6.2); one that does not is a stray.
 */
static struct sip_tsx *tsx_find(struct sip_ua *ua, osip_event_t *evt)
{
	const osip_message_t *m = evt->sip;
	const char *meth = MSG_IS_REQUEST(m) ? m->sip_method : m->cseq->method;
	osip_transaction_t *tr;
	osip_fsm_type_t type;
	osip_list_t cand;
	struct sip_tsx *t, *found = NULL;

	if (!meth)
		return NULL;
	if (MSG_IS_REQUEST(m))
		type = MSG_IS_INVITE(m) || MSG_IS_ACK(m) ? IST : NIST;
	else
		type = !strcmp(meth, "INVITE") ? ICT : NICT;
	osip_list_init(&cand);
	for (t = *bucket(ua, callid_hash(m->call_id)); t; t = t->next) {
		if (t->type != type)
			continue;
		if (t->done && !t->killed && done_match(t->done, m)) {
			found = t;
			break;
		}
		if (t->tr && osip_list_add(&cand, t->tr, 0) < 0)
			break;
	}
	if (!found && osip_list_size(&cand) > 0 &&
	    (tr = osip_transaction_find(&cand, evt)))
		found = osip_transaction_get_reserved1(tr);
	while (osip_list_size(&cand) > 0)
		osip_list_remove(&cand, 0);
	return found;
}

/* Give evt to its transaction: false when it has none. */
static bool tsx_find_post(struct sip_ua *ua, osip_event_t *evt)
{
	struct sip_tsx *t = tsx_find(ua, evt);

	if (t && t->done) {
		/* the final response again (s.17.2.2), or the ACK for a
		 * final response again (s.17.1.1.2); a response to a
		 * non-INVITE is dropped (s.17.1.2.2) */
		if (t->done->resp && (MSG_IS_REQUEST(evt->sip) ||
				      evt->sip->status_code >= 300))
			sip_transport_send(ua, t->tp, &t->dst, t->conn,
					   t->done->resp, t->done->resp_len);
		osip_event_free(evt);
		return true;
	}
	if (!t || !t->tr)
		return false;
	tsx_post(t, evt);
	return true;
}

static void recv_request(struct sip_ua *ua, const struct sip_src *src,
			 osip_event_t *evt, bool bad_ruri)
{
	osip_message_t *req = evt->sip;
	osip_transaction_t *tr;
	struct sip_tsx *tsx;
	struct sip_addr dst;
	unsigned status;
	char unsup[256];
	char ip[64];

	/* Our received (always) and rport (when asked) on the top Via. */
	if (!sip_addr_ip(&src->peer, ip, sizeof(ip)))
		osip_message_fix_last_via_header(
			req, ip, (int)sip_addr_port(&src->peer));

	status = check_request(ua, req);
	if (bad_ruri && (!status || status == 405))
		status = 400;
	if (MSG_IS_ACK(req)) {
		/* An ACK for a non-2xx belongs to its IST; one for a 2xx
		 * to its dialog (s.17.2.1, s.13.3.1.4). */
		if (!status && tsx_find_post(ua, evt))
			return;
		if (!status)
			sip_session_ack(ua, req);
		goto drop;
	}
	/* Retransmissions go to their transaction. */
	if (status != 400 && status != 505 && tsx_find_post(ua, evt))
		return;
	/* ... and those of an INVITE we took with a 2xx stop here
	 * (RFC 6026 s.8.5). */
	if (!status && MSG_IS_INVITE(req) && accepted_match(ua, req)) {
		ua->stats.absorbed++;
		goto drop;
	}
	response_dst(&dst, req, src);
	tsx = tsx_new(ua, MSG_IS_INVITE(req) ? IST : NIST, src->tp, &dst,
		      src->conn);
	if (!tsx)
		goto drop;
	tr = status == 400 || status == 505 ? NULL :
		osip_create_transaction(ua->osip, evt);
	if (!tr) {
		gw_mem_deref(tsx);
		ua->stats.rx_bad++;
		respond_stateless(ua, req, src, status ? status : 400);
		goto drop;
	}
	{
		char tag[16];

		sip_rand_token(tag, sizeof(tag));
		tsx->totag = gw_mem_strdup(tag);
	}
	tsx_link(tsx, tr, req);
	tsx_timers(tr, ua->conf.t1_ms);
	/* The request now belongs to the transaction (tr->orig_request). */
	osip_transaction_execute(tr, evt);
	req = tr->orig_request;
	if (!req)
		return;

	if (status) {
		ua->stats.rx_bad++;
		sip_tsx_respond(tsx, req, status);
		return;
	}
	if (merged(ua, req)) {
		sip_tsx_respond(tsx, req, 482);
		return;
	}
	if (!MSG_IS_CANCEL(req) && looped(ua, req)) {
		ua->stats.loops++;
		GW_LOG_LIMITED(GW_LOG_WARN, "%s %s: our own request came back "
			       "(loop)", req->sip_method,
			       req->call_id->number);
		sip_tsx_respond(tsx, req, 482);
		return;
	}
	if (!MSG_IS_CANCEL(req) &&
	    unsupported_option(ua, req, unsup, sizeof(unsup))) {
		osip_message_t *resp;

		if (!sip_msg_response(&resp, req, 420, tsx->totag)) {
			osip_message_set_header(resp, "Unsupported", unsup);
			sip_tsx_respond_msg(tsx, resp);
		}
		return;
	}
	/* req is the transaction's: a run the handler starts must not
	 * free it (a final response on a stream ends a non-INVITE
	 * transaction at once, Timer J being zero). */
	ua->in_request++;
	sip_ua_request(ua, tsx, req, src);
	ua->in_request--;
	return;
 drop:
	osip_event_free(evt);
}

/* An IPv6 address without its [ ] as a sip: Request-URI's host
 * (RFC 5118 s.4.2): libosip2 reads "sip:2001:db8::10" as host
 * "2001:db8:" and port "10", so look at the raw request line. */
static bool ruri_unbracketed_v6(const char *buf, size_t len)
{
	const char *sp = memchr(buf, ' ', len), *p, *end, *at;
	unsigned colons = 0;

	if (!sp)
		return false;
	p = sp + 1;
	end = memchr(p, ' ', len - (size_t)(p - buf));
	if (!end)
		return false;
	if ((size_t)(end - p) > 4 && !strncasecmp(p, "sip:", 4))
		p += 4;
	else if ((size_t)(end - p) > 5 && !strncasecmp(p, "sips:", 5))
		p += 5;
	else
		return false;
	at = memchr(p, '@', (size_t)(end - p));
	if (at)
		p = at + 1;
	if (p < end && *p == '[')
		return false;
	for (; p < end && *p != ';' && *p != '?'; p++)
		if (*p == ':')
			colons++;
	return colons > 1;
}

/* ---- multipart bodies (RFC 2046 s.5.1.1) ---------------------------- */

/* The value of header lname (or compact cname) in the header section
 * [buf, end): its start, *np its length up to the line's end (folded
 * lines included); NULL when absent. */
static const char *raw_value(const char *buf, const char *end,
			     const char *lname, char cname, size_t *np)
{
	const char *p = buf, *eol, *q;
	size_t ln = strlen(lname);

	p = memchr(p, '\n', (size_t)(end - p));	/* the start line */
	while (p && ++p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		q = NULL;
		if ((size_t)(eol - p) > ln && !strncasecmp(p, lname, ln))
			q = p + ln;
		else if ((*p | 0x20) == cname && eol - p > 1)
			q = p + 1;
		if (q) {
			q += strspn(q, " \t");
			if (q < eol && *q == ':') {
				q++;
				while (eol + 1 < end &&
				       (eol[1] == ' ' || eol[1] == '\t')) {
					eol = memchr(eol + 1, '\n',
						     (size_t)(end - eol - 1));
					if (!eol)
						eol = end;
				}
				q += strspn(q, " \t");
				*np = (size_t)(eol - q);
				return q;
			}
		}
		p = eol < end ? eol : NULL;
	}
	return NULL;
}

/* Is the line at p a Content-Type header line (long or compact)? */
static bool ctype_line(const char *p, const char *eol)
{
	const char *q;

	if (eol - p > 12 && !strncasecmp(p, "content-type", 12))
		q = p + 12;
	else if (eol - p > 1 && (*p | 0x20) == 'c')
		q = p + 1;
	else
		return false;
	q += strspn(q, " \t");
	return q < eol && *q == ':';
}

/* The part at [p, end): its header section must end in an empty line
 * (a part may also start with the empty line: no headers), each line
 * a header with a colon, at most one Content-Type. */
static bool part_ok(const char *p, const char *end)
{
	const char *eol;
	unsigned ctypes = 0;

	for (;;) {
		if (p < end && *p == '\n')
			return true;
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			return true;
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol || !memchr(p, ':', (size_t)(eol - p)))
			return false;	/* the headers never end */
		if (*p != ' ' && *p != '\t' && ctype_line(p, eol) &&
		    ++ctypes > 1)
			return false;
		p = eol + 1;
	}
}

int sip_multipart_check(const char *buf, size_t len)
{
	const char *end = buf + len, *hend, *v, *b, *body, *p, *next;
	char delim[80];
	size_t n, bl, dl;
	unsigned parts = 0;

	hend = memmem(buf, len, "\r\n\r\n", 4);
	if (!hend)
		return 0;		/* no body */
	body = hend + 4;
	v = raw_value(buf, hend + 2, "content-type", 'c', &n);
	if (!v || n < 10 || strncasecmp(v, "multipart/", 10))
		return 0;
	/* boundary := 0*69<bchars> bcharsnospace, maybe quoted. */
	b = NULL;
	for (p = v; p + 9 <= v + n; p++)
		if (!strncasecmp(p, "boundary", 8)) {
			const char *q = p + 8;

			q += strspn(q, " \t");
			if (q < v + n && *q == '=') {
				b = q + 1 + strspn(q + 1, " \t");
				break;
			}
		}
	if (!b)
		return EBADMSG;
	if (*b == '"') {
		b++;
		bl = strcspn(b, "\"\r\n");
	} else {
		bl = strcspn(b, " \t;,\r\n");
	}
	if (!bl || bl > 70)
		return EBADMSG;
	dl = (size_t)snprintf(delim, sizeof(delim), "--%.*s", (int)bl, b);
	/* The first delimiter: at the body's start or a line's. */
	p = body;
	if ((size_t)(end - p) < dl || memcmp(p, delim, dl)) {
		for (;;) {
			p = memmem(p, (size_t)(end - p), delim, dl);
			if (!p)
				return EBADMSG;
			if (p[-1] == '\n')
				break;
			p += dl;
		}
	}
	for (;;) {
		p += dl;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return parts ? 0 : EBADMSG;	/* close delimiter */
		p += strspn(p, " \t");			/* padding */
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			p += 2;
		else if (p < end && *p == '\n')
			p++;
		else
			return EBADMSG;
		/* The part ends at the next delimiter's line break. */
		next = p;
		for (;;) {
			next = memmem(next, (size_t)(end - next), delim, dl);
			if (!next)
				return EBADMSG;	/* no close delimiter */
			if (next > p && next[-1] == '\n')
				break;
			next += dl;
		}
		if (!part_ok(p, next))
			return EBADMSG;
		parts++;
		p = next;
	}
}

/** A message framed by the transport: parse it and hand it on. */
void sip_tsx_recv(struct sip_ua *ua, const struct sip_src *src,
		  const char *buf, size_t len)
{
	osip_event_t *evt;
	osip_message_t *m;

	if (sip_multipart_check(buf, len)) {
		GW_LOG_LIMITED(GW_LOG_INFO, "malformed multipart body: 400");
		sip_tsx_recv_bad(ua, src, buf, len, 400);
		return;
	}
	evt = osip_parse(buf, len);
	if (!evt || !evt->sip) {
		if (evt)
			osip_event_free(evt);
		ua->stats.rx_bad++;
		sip_tsx_recv_bad(ua, src, buf, len, 400);
		return;
	}
	m = evt->sip;
	if (MSG_IS_REQUEST(m)) {
		recv_request(ua, src, evt, ruri_unbracketed_v6(buf, len));
		return;
	}
	/* Responses: malformed ones are dropped (RFC 4475 s.3.1.2.5,
	 * s.3.1.2.19), as are those for no transaction of ours, except 2xx
	 * for an INVITE, which the TU ACKs again (s.13.2.2.4). */
	if (m->status_code < 100 || m->status_code > 699 || !m->cseq ||
	    !numeric(m->cseq->number, 0xffffffffull) || !m->call_id ||
	    !m->from || !m->to || osip_list_size(&m->vias) < 1) {
		ua->stats.rx_dropped++;
		osip_event_free(evt);
		return;
	}
	if (tsx_find_post(ua, evt))
		return;
	if (MSG_IS_STATUS_2XX(m) && m->cseq->method &&
	    !strcmp(m->cseq->method, "INVITE"))
		sip_session_stray_2xx(ua, m);
	else
		ua->stats.rx_dropped++;
	osip_event_free(evt);
}

/* A raw header line of buf named long or compact, copied into out. */
static bool raw_header(const char *buf, size_t len, const char *lname,
		       const char *cname, char *out, size_t *used,
		       size_t size)
{
	const char *p = buf, *end = buf + len, *eol, *q;
	size_t n, ln = strlen(lname);
	bool found = false;

	while (p < end && (eol = memchr(p, '\n', (size_t)(end - p)))) {
		q = NULL;
		if ((size_t)(eol - p) > ln && !strncasecmp(p, lname, ln))
			q = p + ln;
		else if (cname && eol - p > 1 && (*p == cname[0] ||
						  *p == (cname[0] & ~0x20)))
			q = p + 1;
		if (q) {
			q += strspn(q, " \t");
			if (*q == ':') {
				/* unfold continuation lines */
				while (eol + 1 < end &&
				       (eol[1] == ' ' || eol[1] == '\t'))
					eol = memchr(eol + 1, '\n',
						     (size_t)(end - eol - 1))
						?: end - 1;
				n = (size_t)(eol + 1 - p);
				if (*used + n + 1 >= size)
					return false;
				memcpy(out + *used, p, n);
				*used += n;
				if (n < 2 || out[*used - 2] != '\r') {
					out[*used - 1] = '\r';
					out[(*used)++] = '\n';
				}
				found = true;
			}
		}
		if (p + 2 <= end && eol == p + 1 && *p == '\r')
			break;		/* end of headers */
		p = eol + 1;
	}
	return found;
}

/**
 * Answer a message that could not be framed or parsed with status
 * (RFC 4475 s.3.1.2) from its raw Via, From, To, Call-ID and CSeq lines,
 * or 416 when its Request-URI scheme is not one of ours; responses,
 * ACKs and messages without those lines are dropped.
 */
void sip_tsx_recv_bad(struct sip_ua *ua, const struct sip_src *src,
		      const char *buf, size_t len, unsigned status)
{
	static _Thread_local char out[8192];
	size_t used, sp, n;
	const char *uri, *colon;
	struct sip_addr dst = src->peer;

	ua->stats.rx_bad++;
	if (len < 8 || !strncmp(buf, "SIP/", 4) || !strncmp(buf, "ACK ", 4)) {
		ua->stats.rx_dropped++;
		return;
	}
	sp = strcspn(buf, " \r\n");
	if (buf[sp] == ' ') {
		uri = buf + sp + 1;
		n = strcspn(uri, " \r\n");
		colon = memchr(uri, ':', n);
		if (colon && colon > uri && *uri != '<' &&
		    !(colon - uri == 3 && !strncasecmp(uri, "sip", 3)) &&
		    !(colon - uri == 4 && !strncasecmp(uri, "sips", 4)) &&
		    !(colon - uri == 3 && !strncasecmp(uri, "tel", 3)))
			status = 416;
	}
	/* s.8.2.1: the method is inspected before the headers, so an
	 * unknown method gets 501 even when a header is beyond us
	 * (RFC 4475 s.3.1.1.2). */
	if (status == 400 && buf[sp] == ' ') {
		static const char *const known[] = {
			"INVITE ", "CANCEL ", "BYE ", "OPTIONS ", "REGISTER ",
			"PRACK ", "SUBSCRIBE ", "NOTIFY ", "PUBLISH ",
			"INFO ", "REFER ", "MESSAGE ", "UPDATE ",
		};
		size_t i;

		for (i = 0; i < GW_ARRAY_SIZE(known); i++)
			if (!strncmp(buf, known[i], strlen(known[i])))
				break;
		if (i == GW_ARRAY_SIZE(known) && !memchr(buf, '<', sp) &&
		    !memchr(buf, ':', sp))
			status = 501;
	}
	used = (size_t)snprintf(out, sizeof(out), "SIP/2.0 %u %s\r\n", status,
				sip_reason_phrase(status));
	if (!raw_header(buf, len, "via", "v", out, &used, sizeof(out)) ||
	    !raw_header(buf, len, "from", "f", out, &used, sizeof(out)) ||
	    !raw_header(buf, len, "to", "t", out, &used, sizeof(out)) ||
	    !raw_header(buf, len, "call-id", "i", out, &used, sizeof(out)) ||
	    !raw_header(buf, len, "cseq", NULL, out, &used, sizeof(out))) {
		ua->stats.rx_dropped++;
		return;
	}
	n = (size_t)snprintf(out + used, sizeof(out) - used,
			     "Content-Length: 0\r\n\r\n");
	if (used + n >= sizeof(out))
		return;
	used += n;
	sip_transport_send(ua, src->tp, &dst, src->conn, out, used);
}

/* ------------------------------------------------------------------ */
/* Set up and tear down                                               */
/* ------------------------------------------------------------------ */

/** Create ua's libosip2 instance and register our callbacks. */
int sip_tsx_init(struct sip_ua *ua)
{
	static bool traced;
	osip_t *o;
	int i;

	if (!traced) {
		osip_trace_initialize_func(TRACE_LEVEL7, trace_cb);
		traced = true;
	}
	ua->tsx_tab = calloc(TSX_BUCKETS_MIN, sizeof(*ua->tsx_tab));
	if (!ua->tsx_tab)
		return ENOMEM;
	ua->tsx_buckets = TSX_BUCKETS_MIN;
	if (osip_init(&o) < 0)
		return ENOMEM;
	osip_set_application_context(o, ua);
	osip_set_cb_send_message(o, osip_send_cb);
	for (i = OSIP_ICT_STATUS_1XX_RECEIVED;
	     i <= OSIP_ICT_STATUS_6XX_RECEIVED; i++)
		osip_set_message_callback(o, i, cb_response);
	for (i = OSIP_NICT_STATUS_1XX_RECEIVED;
	     i <= OSIP_NICT_STATUS_6XX_RECEIVED; i++)
		osip_set_message_callback(o, i, cb_response);
	osip_set_message_callback(o, OSIP_NICT_STATUS_2XX_RECEIVED_AGAIN,
				  NULL);
	osip_set_message_callback(o, OSIP_ICT_STATUS_TIMEOUT, cb_timeout);
	osip_set_message_callback(o, OSIP_NICT_STATUS_TIMEOUT, cb_timeout);
	for (i = OSIP_ICT_KILL_TRANSACTION; i <= OSIP_NIST_KILL_TRANSACTION;
	     i++)
		osip_set_kill_transaction_callback(o, i, cb_kill);
	for (i = OSIP_ICT_TRANSPORT_ERROR; i <= OSIP_NIST_TRANSPORT_ERROR; i++)
		osip_set_transport_error_callback(o, i, cb_transport_error);
	ua->osip = o;
	gw_tmr_init(&ua->tmr);
	return 0;
}

/** Free every transaction and the libosip2 instance. */
void sip_tsx_close(struct sip_ua *ua)
{
	struct sip_tsx_ev *ev;
	struct sip_tsx *tsx;
	int q;

	gw_tmr_cancel(&ua->tmr);
	while ((ev = ua->evq)) {
		ua->evq = ev->next;
		if (ev->msg)
			osip_message_free(ev->msg);
		gw_mem_deref(ev->tsx);
		free(ev);
	}
	ua->evq_tail = NULL;
	for (q = 0; q < 2; q++)
		while ((tsx = ua->runq[q])) {
			ua->runq[q] = tsx->run_next;
			tsx->run_next = NULL;
			tsx->run_queued = false;
			gw_mem_deref(tsx);
		}
	ua->runq_tail[0] = ua->runq_tail[1] = NULL;
	tsx_free_dead(ua, true);
	free(ua->tsx_tab);
	ua->tsx_tab = NULL;
	ua->tsx_buckets = 0;
	accepted_free(ua);
	sip_dns_close(ua);
	if (ua->osip) {
		osip_release(ua->osip);
		ua->osip = NULL;
	}
}
