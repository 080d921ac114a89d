/* gateway/call.c - call control: SIP sessions <-> PRI calls through the MG */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_LOG_MOD "call"
#include "gw.h"
#include "cause.h"
#include "cdr.h"
#include "route.h"
#include "tdm.h"
#include "media/media.h"
#include "sip/sip.h"
#include "megaco/mg.h"

/*
 * A call joins a SIP session and a PRI call through an MG context: the
 * B-channel's TDM termination and an RTP termination, built and changed
 * with H.248 (DESIGN.md, "The call, both ways").
 *
 * SIP -> PSTN ("out"): INVITE -> dial plan -> a B-channel of the group
 * -> Add tdm + Add $ (Remote: the offer) -> the MG's Local is our answer
 * -> SETUP.  PROGRESS/ALERTING with in-band information (progress
 * indicator 1 or 8) -> 183 with the answer, early media from the line;
 * ALERTING without it -> 180.  CONNECT -> Modify RTP to SendReceive ->
 * 200.  PSTN -> SIP ("in"): SETUP -> dial plan -> Add tdm + Add $ (a
 * Local to fill) -> INVITE with the MG's Local as the offer; 180 ->
 * ALERTING with ringback played to the caller by the MG (cg/rt); 183
 * with SDP -> early media, PROGRESS; 200 -> Modify Remote, SendReceive
 * -> CONNECT.  Either side clearing clears the other with the cause
 * mapped (RFC 3398 tables, gateway/cause.c), Reason headers both ways,
 * and the context is subtracted: its statistics go into the CDR.
 */

/* Q.931 Table 9-1: T302, the overlap receiving digit timer (10-15 s). */
#define OVERLAP_T302_MS	10000

/*
 * The Events descriptor of every call's RTP termination: nt/netfail
 * (H.248.1 Annex E.11.2, network failure), which the MG detects when no
 * RTP has come for [mg] rtp_timeout_ms.  An MG reports only the events
 * its controller asked for (H.248.1 s.7.1.9), so without this a SIP
 * peer that vanished without a BYE would hold its B-channel for ever;
 * gw_call_mg_notify clears the call.  A Modify without an Events
 * descriptor leaves it armed.
 */
#define RTP_EVENTS	", Events = 1 { nt/netfail }"

enum call_state {
	CS_SETUP,		/* routing, the MG building the context */
	CS_CALLING,		/* SETUP or INVITE sent */
	CS_PROCEEDING,
	CS_ALERTING,
	CS_EARLY,		/* early media */
	CS_ANSWERED,
	CS_CLEARING,
};

static const char *const state_names[] = {
	"setup", "calling", "proceeding", "alerting", "early", "answered",
	"clearing",
};

struct call {
	struct call *next;
	char id[24];
	bool out;			/* SIP -> PSTN */
	bool orig;			/* originated: PSTN first, then SIP */
	char orig_uri[256];
	enum call_state state;
	bool answered;
	/* the PSTN side */
	unsigned span, ts;
	struct tdm_pri_call *pc;	/* NULL once released */
	enum { GLARE_NONE, GLARE_YIELDED, GLARE_RETRIED } glare;
	bool pri_cleared;		/* released, or never set up */
	bool pri_hungup;		/* our hangup is out */
	/* the SIP side */
	struct sip_session *sess;	/* NULL once closed */
	struct sip_session *xfer;	/* a transfer's new leg (REFER) */
	bool held;			/* the SIP side holds the call */
	bool ringback_ip;		/* the MG plays ringback toward SIP */
	bool sip_cleared;
	unsigned trunk_idx;		/* PSTN -> SIP: trunk tried */
	/* the MG */
	uint32_t ctx;
	char rtp[32];
	char sdp[1024];			/* ours toward SIP */
	char remote_sdp[2048];		/* the SIP peer's, for the MG */
	bool mg_pending;		/* the Add is out */
	bool subtracted;
	/* routing */
	struct gw_dialplan *plan;	/* a reference: res borrows from it */
	struct gw_route_result res;
	char from[40], to[40];		/* as received */
	bool restricted;		/* presentation restricted / Privacy */
	bool asserted;			/* the calling number is asserted */
	char redir[40];			/* redirecting number, "": none */
	int redir_reason;		/* Q.931 reason for redirection */
	/* overlap receiving (Q.931 s.5.1.3) */
	bool overlap;
	struct gw_tmr digit_tmr;
	uint8_t called_ton, called_npi, calling_ton, calling_npi;
	/* the record */
	struct gw_cdr_rec cdr;
	unsigned q850;
	unsigned sip_status;
	struct gw_tmr tmr;
	uint64_t start_ms;
};

static struct {
	struct gw_daemon *d;
	const struct gw_conf *conf;
	struct gw_causes *causes;
	struct gw_dialplan *plan;
	struct gw_cdr *cdr;
	struct call *calls;
	unsigned ncalls;
	unsigned seq;
	bool mg_up;
	bool draining;			/* shutting down: no new calls */
	bool drain_wait;		/* the loop runs until none is left */
	uint64_t n_in, n_out, n_answered, n_failed;
} cc;

static void call_clear(struct call *c, unsigned q850, unsigned sip_status);

/* ---- small helpers --------------------------------------------------- */

static void event(const struct call *c, const char *what)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "event",
			      "call", "what", what, "id", c->id, "state",
			      state_names[c->state], "direction",
			      c->out ? "out" : "in", "to", c->to, "span",
			      (json_int_t)c->span, "ts", (json_int_t)c->ts);

	if (cc.d && o)
		gw_ctl_broadcast(gw_daemon_ctl(cc.d), o);
	else
		json_decref(o);
}

static void set_state(struct call *c, enum call_state st)
{
	if (c->state == st)
		return;
	GW_DBG("%s: %s -> %s", c->id, state_names[c->state],
	       state_names[st]);
	c->state = st;
	if (st == CS_ANSWERED)
		c->answered = true;
	event(c, state_names[st]);
}

static struct call *call_find(const char *id)
{
	struct call *c;

	for (c = cc.calls; c; c = c->next)
		if (!strcmp(c->id, id))
			return c;
	return NULL;
}

static struct call *call_by_ctx(uint32_t ctx)
{
	struct call *c;

	for (c = cc.calls; c; c = c->next)
		if (c->ctx == ctx)
			return c;
	return NULL;
}

static void call_destroy(void *arg)
{
	struct call *c = arg;

	gw_tmr_cancel(&c->tmr);
	gw_tmr_cancel(&c->digit_tmr);
	gw_mem_deref(c->plan);
}

static struct call *call_new(bool out)
{
	struct call *c = gw_mem_zalloc(sizeof(*c), call_destroy);

	if (!c)
		return NULL;
	c->out = out;
	gw_tmr_init(&c->tmr);
	gw_tmr_init(&c->digit_tmr);
	snprintf(c->id, sizeof(c->id), "%" PRIx64 "-%u",
		 gw_now_ms() / 1000 % 0x100000, ++cc.seq);
	c->start_ms = gw_now_ms();
	c->plan = gw_mem_ref(cc.plan);
	c->next = cc.calls;
	cc.calls = c;
	cc.ncalls++;
	snprintf(c->cdr.id, sizeof(c->cdr.id), "%s", c->id);
	snprintf(c->cdr.direction, sizeof(c->cdr.direction), "%s",
		 out ? "out" : "in");
	return c;
}

static void call_unlink(struct call *c)
{
	struct call **pp;

	for (pp = &cc.calls; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			cc.ncalls--;
			if (cc.drain_wait && !cc.calls)
				gw_loop_stop();		/* drained */
			return;
		}
	}
}

/* The SIP status and Reason for a Q.850 cause (RFC 3398 s.8.2.6.1). */
static unsigned sip_of(unsigned q850)
{
	const char *phrase;
	unsigned st = 500;

	if (gw_cause_to_sip(cc.causes, q850, GW_CAUSE_LOC_NONE, &st, &phrase))
		st = 500;
	return st;
}

/* The Q.850 cause for a SIP status (RFC 3398 s.7.2.4.1). */
static unsigned q850_of(unsigned status)
{
	unsigned q = 31;

	if (gw_cause_from_sip(cc.causes, status, 0, &q))
		q = 31;
	return q;
}

/*
 * Reasons for redirection: Q.931 redirecting number octet 3b (Q.952
 * 7.1.5.5) <-> RFC 5806 s.4's Diversion reasons.
 */
static const struct {
	int q931;
	const char *sip;
} redir_reasons[] = {
	{0, "unknown"}, {1, "user-busy"}, {2, "no-answer"},
	{4, "deflection"}, {9, "out-of-service"}, {10, "follow-me"},
	{15, "unconditional"},
};

static int redir_from_sip(const char *reason)
{
	size_t i;

	for (i = 0; i < sizeof(redir_reasons) / sizeof(redir_reasons[0]); i++)
		if (!strcasecmp(reason, redir_reasons[i].sip))
			return redir_reasons[i].q931;
	return 0;
}

static const char *redir_to_sip(int q931)
{
	size_t i;

	for (i = 0; i < sizeof(redir_reasons) / sizeof(redir_reasons[0]); i++)
		if (redir_reasons[i].q931 == q931)
			return redir_reasons[i].sip;
	return "unknown";
}

/* The G.107 estimate for the record: loss and jitter from the MG's
 * statistics, delay from the jitter buffer, a packet and the path. */
static double call_mos(const char *codec, double loss_pct, double jitter_ms)
{
	struct media_quality_in q = {0};

	q.codec = !strcasecmp(codec, "PCMU") ? MEDIA_PCMU :
		!strcasecmp(codec, "G722") ? MEDIA_G722 :
		!strcasecmp(codec, "G729") ? MEDIA_G729 :
		!strcasecmp(codec, "GSM") ? MEDIA_GSM :
		!strcasecmp(codec, "opus") ? MEDIA_OPUS : MEDIA_PCMA;
	q.loss_pct = loss_pct;
	q.delay_ms = 60 + 20 + 2 * jitter_ms;
	return media_quality_mos(media_quality_r(&q));
}

/* "udp:192.0.2.1:5060" -> a sockaddr for the dial plan's addr: match. */
static const struct sockaddr *source_addr(const char *src,
					  struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char ip[64];
	const char *p, *e;

	memset(ss, 0, sizeof(*ss));
	if (!src || !(p = strchr(src, ':')))
		return NULL;
	p++;
	if (*p == '[') {
		e = strchr(++p, ']');
	} else {
		e = strrchr(p, ':');
		if (!e)		/* no port */
			e = p + strcspn(p, ";>");
	}
	if (!e || (size_t)(e - p) >= sizeof(ip))
		return NULL;
	memcpy(ip, p, (size_t)(e - p));
	ip[e - p] = '\0';
	if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		return (struct sockaddr *)ss;
	}
	if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		return (struct sockaddr *)ss;
	}
	return NULL;
}

/*
 * Our SDP toward SIP from the MG's Local (H.248 Local holds c=, m= and
 * attributes, RFC 4566 wants o=, s= and t= too).
 */
static int sdp_from_local(char *buf, size_t size, const char *local)
{
	char ip[64] = "127.0.0.1", line[256];
	const char *p = local, *e;
	size_t n;
	int k;

	e = strstr(local, "c=IN IP");
	if (e)
		sscanf(e, "c=IN IP%*c %63s", ip);
	k = snprintf(buf, size, "v=0\r\no=junction %" PRIu64 " %" PRIu64
		     " IN IP%c %s\r\ns=junction\r\n", gw_now_ms(),
		     gw_now_ms(), strchr(ip, ':') ? '6' : '4', ip);
	if (k < 0 || (size_t)k >= size)
		return ENOSPC;
	n = (size_t)k;
	for (; p && *p; p = e ? e + 1 : NULL) {
		size_t len;

		e = strchr(p, '\n');
		len = e ? (size_t)(e - p) : strlen(p);
		while (len && (p[len - 1] == '\r' || p[len - 1] == ' ' ||
			       p[len - 1] == '\t'))
			len--;
		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		if (len < 2 || len >= sizeof(line) || p[1] != '=' ||
		    !strchr("cma", p[0]))
			continue;
		memcpy(line, p, len);
		line[len] = '\0';
		k = snprintf(buf + n, size - n, "%s\r\n%s", line,
			     line[0] == 'c' ? "t=0 0\r\n" : "");
		if (k < 0 || (size_t)k >= size - n)
			return ENOSPC;
		n += (size_t)k;
	}
	return 0;
}

/* The SIP peer's SDP for an H.248 Remote: the lines the MG reads, no
 * '}' (it would end the descriptor). */
static void sdp_for_remote(char *buf, size_t size, const char *sdp)
{
	const char *p = sdp, *e;
	size_t n = 0;

	buf[0] = '\0';
	for (; p && *p; p = e ? e + 1 : NULL) {
		size_t len;

		e = strchr(p, '\n');
		len = e ? (size_t)(e - p) : strlen(p);
		if (len && p[len - 1] == '\r')
			len--;
		if (len < 2 || p[1] != '=' || !strchr("vcma", p[0]) ||
		    memchr(p, '}', len) || n + len + 2 >= size)
			continue;
		memcpy(buf + n, p, len);
		n += len;
		buf[n++] = '\n';
		buf[n] = '\0';
	}
}

/* ---- the MG side ----------------------------------------------------- */

struct call_mgop {
	struct call *c;			/* a reference */
	void (*done)(struct call *c, int err, const struct mg_trans *r);
};

static void mg_resp(int err, const struct mg_trans *reply, void *arg)
{
	struct call_mgop *op = arg;
	const struct mg_err *me = err ? NULL : mg_reply_error(reply);

	if (me) {
		GW_WARN("%s: MG error %u %s", op->c->id, me->code,
			me->text ? me->text : "");
		err = EPROTO;
	}
	if (op->done)
		op->done(op->c, err, reply);
	gw_mem_deref(op->c);
	free(op);
}

static int mg_send(struct call *c, void (*done)(struct call *, int,
						const struct mg_trans *),
		   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int mg_send(struct call *c, void (*done)(struct call *, int,
						const struct mg_trans *),
		   const char *fmt, ...)
{
	struct mg_client *mgc = gw_mgc();
	struct call_mgop *op;
	char text[4096];
	va_list ap;
	int err, k;

	va_start(ap, fmt);
	k = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(text))
		return ENOSPC;
	if (!mgc)
		return ENOTCONN;
	op = calloc(1, sizeof(*op));
	if (!op)
		return ENOMEM;
	op->c = gw_mem_ref(c);
	op->done = done;
	err = mg_client_send(mgc, mg_resp, op, NULL, "%s", text);
	if (err) {
		gw_mem_deref(op->c);
		free(op);
	}
	return err;
}

static void collect_stats(struct call *c, const struct mg_trans *r)
{
	unsigned i;
	const struct mg_cmd *cmd;

	for (i = 0; (cmd = mg_reply_cmd(r, i, NULL)); i++) {
		const struct mg_item *it;

		if (strcmp(cmd->tid, c->rtp))
			continue;
		if ((it = mg_cmd_find(cmd, "rtp/pl")) && it->nval)
			c->cdr.loss = atof(it->val[0].s ? it->val[0].s : "0");
		if ((it = mg_cmd_find(cmd, "rtp/jit")) && it->nval)
			c->cdr.jitter_ms = atof(it->val[0].s ?
						it->val[0].s : "0");
		if (c->answered)
			c->cdr.mos = call_mos(c->cdr.codec, c->cdr.loss,
					      c->cdr.jitter_ms);
	}
}

static void call_done(struct call *c)
{
	gw_tmr_cancel(&c->tmr);
	if (c->span && c->ts)
		gw_trunk_release(c->span, c->ts);
	c->cdr.q850 = c->q850;
	c->cdr.sip = c->sip_status;
	if (cc.cdr)
		gw_cdr_end(cc.cdr, &c->cdr);
	if (c->answered)
		cc.n_answered++;
	else
		cc.n_failed++;
	GW_INFO("%s: ended, cause %u, SIP %u", c->id, c->q850,
		c->sip_status);
	c->state = CS_CLEARING;
	event(c, "ended");
	call_unlink(c);
	gw_mem_deref(c);
}

static void subtracted(struct call *c, int err, const struct mg_trans *r)
{
	if (!err)
		collect_stats(c, r);
	call_done(c);
}

/* Once both sides are gone: the context goes, then the call. */
static void call_maybe_done(struct call *c)
{
	if (!c->pri_cleared || !c->sip_cleared || c->subtracted ||
	    c->mg_pending)
		return;
	c->subtracted = true;
	/* Subtract = * (H.248.1 s.7.2.3): whatever the context still
	 * holds.  A span that went out of service has lost its TDM
	 * termination already (s.7.2.8), and naming it would fail the
	 * command (435) before the RTP termination goes. */
	if (!c->ctx || mg_send(c, subtracted, "Context = %" PRIu32 " { "
			       "Subtract = * }", c->ctx))
		call_done(c);
}

/* ---- clearing -------------------------------------------------------- */

static void sip_clear(struct call *c, unsigned q850, unsigned status)
{
	struct sip_reason rs = { .q850 = (int)q850, .location = -1 };

	if (c->xfer) {
		sip_session_set_handler(c->xfer, NULL, NULL);
		sip_session_hangup(c->xfer, 0, &rs);
		c->xfer = NULL;
	}
	if (c->sip_cleared)
		return;
	c->sip_cleared = true;
	if (!c->sess)
		return;
	if (!c->out || c->orig) {
		/* we are the UAC: BYE, or CANCEL before the answer */
		sip_session_hangup(c->sess, 0, &rs);
	} else if (c->answered) {
		sip_session_hangup(c->sess, 0, &rs);
	} else {
		if (!c->sip_status)
			c->sip_status = status;
		sip_session_reject(c->sess, status, &rs,
				   q850 == 34 || q850 == 41 || q850 == 42 ?
				   10 : 0);
	}
	c->sess = NULL;
}

static void pri_clear(struct call *c, unsigned q850)
{
	struct tdm_pri *pri = gw_trunk_pri(c->span);

	if (c->pri_cleared || c->pri_hungup)
		return;
	if (!c->pc || !pri) {
		c->pri_cleared = true;
		return;
	}
	/* the release comes back as TDM_PRI_RELEASE */
	c->pri_hungup = true;
	tdm_pri_hangup(pri, c->pc, (int)q850);
}

/* Clear both sides with q850 (SIP: status, or the mapped one). */
static void call_clear(struct call *c, unsigned q850, unsigned sip_status)
{
	if (!c->q850)
		c->q850 = q850;
	if (c->state != CS_CLEARING)
		set_state(c, CS_CLEARING);
	sip_clear(c, q850, sip_status ? sip_status : sip_of(q850));
	pri_clear(c, q850);
	call_maybe_done(c);
}

static void setup_timeout(void *arg)
{
	struct call *c = arg;

	GW_INFO("%s: not answered in time", c->id);
	call_clear(c, 19, 0);	/* no answer from user (user alerted) */
}

/* ---- SIP -> PSTN ----------------------------------------------------- */

static void on_sip(struct sip_session *sess, const struct sip_session_event *ev,
		   void *arg);
static void mg_remote(struct call *c, const char *sdp, const char *mode,
		      bool ringback_off);
static void replace_leg(struct call *c, struct sip_session *sess,
			const struct sip_incoming *in);

static bool hunt_busy(unsigned span, unsigned ts, void *arg)
{
	(void)arg;
	return gw_trunk_busy(span, ts);
}

static void out_setup(struct call *c);

static void out_added(struct call *c, int err, const struct mg_trans *r)
{
	const struct mg_cmd *cmd;
	uint32_t ctx = 0;
	const char *local = NULL;
	unsigned i;

	c->mg_pending = false;
	for (i = 0; !err && (cmd = mg_reply_cmd(r, i, &ctx)); i++) {
		c->ctx = ctx;
		if (!strncmp(cmd->tid, "rtp/", 4)) {
			snprintf(c->rtp, sizeof(c->rtp), "%s", cmd->tid);
			local = mg_cmd_sdp(cmd, false);
		}
	}
	if (c->state == CS_CLEARING) {
		c->pri_cleared = true;
		call_maybe_done(c);
		return;
	}
	if (err || !local || sdp_from_local(c->sdp, sizeof(c->sdp), local)) {
		GW_WARN("%s: the MG could not set up the media", c->id);
		c->pri_cleared = true;
		/* s.7.1.8 510: no codec in common -> 488 */
		call_clear(c, 47, err == EPROTO ? 488 : 503);
		return;
	}
	out_setup(c);
}

/* Our SETUP, en bloc, for the channel the call holds (c->span, c->ts). */
static void out_setup(struct call *c)
{
	struct tdm_pri_setup su = {0};
	struct tdm_pri *pri = gw_trunk_pri(c->span);

	su.ts = c->ts;
	snprintf(su.called.digits, sizeof(su.called.digits), "%s",
		 c->res.called.digits);
	su.called.ton = (uint8_t)c->res.called.ton;
	su.called.plan = (uint8_t)c->res.called.npi;
	snprintf(su.calling.digits, sizeof(su.calling.digits), "%s",
		 c->res.calling.digits);
	su.calling.ton = (uint8_t)c->res.calling.ton;
	su.calling.plan = (uint8_t)c->res.calling.npi;
	/* RFC 3398 s.7.2.1.3 / RFC 3325: Privacy: id -> presentation
	 * restricted; an asserted identity -> user-provided, verified and
	 * passed (Q.931 s.4.5.10 screening 01), else not screened (00) */
	su.calling.pres = c->restricted ? 1 : 0;
	su.calling.screen = c->asserted ? 1 : 0;
	if (c->redir[0]) {
		snprintf(su.redirecting.digits, sizeof(su.redirecting.digits),
			 "%s", c->redir);
		su.redirecting.plan = 1;
		su.redirect_reason = c->redir_reason;
	}
	su.bearer = 0;			/* speech */
	su.complete = true;		/* en bloc */
	su.user = c;
	if (!pri || tdm_pri_setup(pri, &su, &c->pc)) {
		c->pri_cleared = true;
		call_clear(c, 38, 0);	/* network out of order */
		return;
	}
	gw_trunk_claim(c->span, c->ts, c->pc);
	snprintf(c->cdr.called_out, sizeof(c->cdr.called_out), "%.39s",
		 su.called.digits);
	snprintf(c->cdr.calling_out, sizeof(c->cdr.calling_out), "%.39s",
		 su.calling.digits);
	set_state(c, CS_CALLING);
}

/** An INVITE (sip/ gives every new one to the SIP subsystem). */
void gw_call_sip_incoming(struct sip_session *sess,
			  const struct sip_incoming *in)
{
	const struct gw_calls_conf *cf = gw_conf_calls(cc.conf);
	struct gw_route_req rq = {0};
	struct sockaddr_storage ss;
	struct call *c;
	unsigned q850, status;
	int err;

	if (!cc.conf || !cc.plan) {
		struct sip_reason rs = { .q850 = 41, .location = -1 };

		sip_session_reject(sess, 503, &rs, 10);
		return;
	}
	if (in->replaces) {
		for (c = cc.calls; c && c->sess != in->replaces; c = c->next)
			;
		if (c)
			replace_leg(c, sess, in);
		else	/* a dialog that is not a call's (a transfer's) */
			sip_session_reject(sess, 603, NULL, 0);
		return;
	}
	c = call_new(true);
	if (!c) {
		sip_session_reject(sess, 500, NULL, 0);
		return;
	}
	cc.n_out++;
	c->sess = sess;
	sip_session_set_handler(sess, on_sip, c);
	snprintf(c->to, sizeof(c->to), "%.39s", in->request_uri_user ?
		 in->request_uri_user : "");
	/* the calling number: the asserted identity when there is one */
	c->asserted = in->pai.asserted && in->pai.user[0];
	snprintf(c->from, sizeof(c->from), "%.39s", c->asserted ?
		 in->pai.user : in->from.user);
	c->restricted = in->from.privacy_id || in->from.privacy_user ||
		in->pai.privacy_id;
	if (in->redirect.user[0]) {
		snprintf(c->redir, sizeof(c->redir), "%.39s",
			 in->redirect.user);
		c->redir_reason = redir_from_sip(in->redirect.reason);
	}
	snprintf(c->cdr.called_in, sizeof(c->cdr.called_in), "%.39s", c->to);
	snprintf(c->cdr.calling_in, sizeof(c->cdr.calling_in), "%.39s", c->from);
	snprintf(c->cdr.sip_call_id, sizeof(c->cdr.sip_call_id), "%s",
		 in->call_id ? in->call_id : "");
	GW_INFO("%s: SIP call from '%s' to '%s' (%s)", c->id, c->from, c->to,
		in->source ? in->source : "?");
	if (cc.cdr)
		gw_cdr_begin(cc.cdr, &c->cdr);
	event(c, "new");

	if (cc.draining) {
		call_clear(c, 41, 503);		/* shutting down */
		return;
	}
	if (cc.ncalls > (unsigned)cf->max_calls) {
		call_clear(c, 34, 503);
		return;
	}
	if (!gw_mgc()) {
		call_clear(c, 41, 503);	/* temporary failure */
		return;
	}
	if (!in->offer || !in->offer->sdp) {
		/* a late offer needs an offer from us: not done here */
		call_clear(c, 79, 488);
		return;
	}
	snprintf(rq.called.digits, sizeof(rq.called.digits), "%s", c->to);
	snprintf(rq.calling.digits, sizeof(rq.calling.digits), "%s", c->from);
	rq.src = GW_ROUTE_FROM_SIP;
	rq.addr = source_addr(in->source, &ss);
	rq.trunk = rq.addr ? gw_dialplan_trunk_by_addr(c->plan, rq.addr) :
		NULL;
	err = gw_route_lookup(c->plan, &rq, &c->res);
	if (!err && c->res.kind != GW_TARGET_GROUP)
		err = ENOENT;	/* SIP to SIP is not a gateway's job */
	if (!err)
		err = gw_hunt_pick(c->res.group, hunt_busy, NULL, &c->span,
				   &c->ts);
	if (err) {
		gw_route_fail_cause(err, &status, &q850);
		GW_INFO("%s: %s: %u / cause %u", c->id, err == ENOENT ?
			"no route" : err == EBUSY ? "no free channel" :
			strerror(err), status, q850);
		call_clear(c, q850, status);
		return;
	}
	snprintf(c->cdr.route, sizeof(c->cdr.route), "%s", c->res.rule);
	c->cdr.span = c->span;
	c->cdr.ts = c->ts;
	gw_trunk_claim(c->span, c->ts, NULL);
	sdp_for_remote(c->remote_sdp, sizeof(c->remote_sdp), in->offer->sdp);
	snprintf(c->cdr.codec, sizeof(c->cdr.codec), "%s", in->offer->codec);
	/* the RTP termination sends only until CONNECT: early media from
	 * the line reaches the caller, nothing reaches the line */
	err = mg_send(c, out_added, "Context = $ { Add = tdm/%u/%u { Media { "
		      "LocalControl { Mode = SendReceive } } }, Add = $ { "
		      "Media { Stream = 1 { LocalControl { Mode = SendOnly }, "
		      "Local { v=0\nc=IN IP4 $\nm=audio $ RTP/AVP $\n}, "
		      "Remote { %s} } }" RTP_EVENTS " } }", c->span, c->ts,
		      c->remote_sdp);
	if (err) {
		call_clear(c, 41, 503);
		return;
	}
	c->mg_pending = true;
	gw_tmr_start(&c->tmr, (uint64_t)cf->setup_timeout_ms, setup_timeout,
		     c);
}

/* ---- PSTN -> SIP ----------------------------------------------------- */

static void in_invite(struct call *c);

static void in_added(struct call *c, int err, const struct mg_trans *r)
{
	const struct mg_cmd *cmd;
	const char *local = NULL;
	uint32_t ctx = 0;
	unsigned i;

	c->mg_pending = false;
	for (i = 0; !err && (cmd = mg_reply_cmd(r, i, &ctx)); i++) {
		c->ctx = ctx;
		if (!strncmp(cmd->tid, "rtp/", 4)) {
			snprintf(c->rtp, sizeof(c->rtp), "%s", cmd->tid);
			local = mg_cmd_sdp(cmd, false);
		}
	}
	if (c->state == CS_CLEARING) {
		c->sip_cleared = true;
		call_maybe_done(c);
		return;
	}
	if (err || !local || sdp_from_local(c->sdp, sizeof(c->sdp), local)) {
		c->sip_cleared = true;
		call_clear(c, 47, 0);	/* resource unavailable */
		return;
	}
	in_invite(c);
}

/* The INVITE to the route's target: the trunk at trunk_idx, or a user's
 * registered contact. */
static void in_invite(struct call *c)
{
	struct sip_call_params p = {0};
	const struct gw_trunk_conf *t = NULL;
	struct sip_contact *contacts = NULL;
	char uri[320];
	const char *name;
	size_t n = 0, i;
	int err;

	if (c->orig) {
		snprintf(uri, sizeof(uri), "%s", c->orig_uri);
	} else if (c->res.kind == GW_TARGET_USER) {
		err = sip_registrar_lookup(gw_sip_ua(), c->res.target,
					   &contacts, &n);
		if (err || !n) {
			gw_mem_deref(contacts);
			c->sip_cleared = true;
			call_clear(c, 20, 480);	/* subscriber absent */
			return;
		}
		snprintf(uri, sizeof(uri), "%s", contacts[0].uri);
		gw_mem_deref(contacts);
	} else {
		const char *want;

		/* skip the trunks OPTIONS keepalives show down */
		while (c->trunk_idx + 1 < c->res.ntrunks &&
		       gw_sip_trunk_down(c->res.trunks[c->trunk_idx]))
			c->trunk_idx++;
		want = c->res.trunks[c->trunk_idx];

		for (i = 0; (t = gw_conf_trunk(cc.conf, i, &name)); i++)
			if (!strcmp(name, want))
				break;
		if (!t) {
			c->sip_cleared = true;
			call_clear(c, 3, 404);
			return;
		}
		snprintf(uri, sizeof(uri), strchr(t->host, ':') ?
			 "sip:%s@[%s]:%lld%s" : "sip:%s@%s:%lld%s",
			 c->res.called.digits, t->host, t->port,
			 t->transport == GW_SIP_TCP ? ";transport=tcp" :
			 t->transport == GW_SIP_TLS ? ";transport=tls" : "");
	}
	p.uri = uri;
	/* RFC 3398 s.8.2.1.2, RFC 3325/3323: the number goes in
	 * P-Asserted-Identity; presentation restricted hides it from the
	 * From and asks Privacy: id */
	snprintf(p.pai.user, sizeof(p.pai.user), "%s", c->res.calling.digits);
	p.pai.asserted = c->res.calling.digits[0] != '\0';
	if (c->restricted) {
		snprintf(p.from.user, sizeof(p.from.user), "anonymous");
		p.from.privacy_id = true;
		p.pai.privacy_id = true;
	} else {
		snprintf(p.from.user, sizeof(p.from.user), "%s",
			 c->res.calling.digits);
	}
	if (c->redir[0]) {
		snprintf(p.redirect.user, sizeof(p.redirect.user), "%s",
			 c->redir);
		snprintf(p.redirect.reason, sizeof(p.redirect.reason), "%s",
			 redir_to_sip(c->redir_reason));
		p.redirect.counter = 1;
	}
	p.sdp = c->sdp;
	snprintf(c->cdr.called_out, sizeof(c->cdr.called_out), "%.39s",
		 c->res.called.digits);
	snprintf(c->cdr.calling_out, sizeof(c->cdr.calling_out), "%.39s",
		 c->res.calling.digits);
	err = sip_session_connect(&c->sess, gw_sip_ua(), &p, on_sip, c);
	if (err) {
		GW_WARN("%s: INVITE %s: %s", c->id, uri, strerror(err));
		c->sess = NULL;
		c->sip_cleared = true;
		call_clear(c, 38, 0);
		return;
	}
	c->sip_cleared = false;
	snprintf(c->cdr.sip_call_id, sizeof(c->cdr.sip_call_id), "%s",
		 sip_session_call_id(c->sess));
	GW_INFO("%s: INVITE %s", c->id, uri);
	set_state(c, CS_CALLING);
}

static void in_route(struct call *c);

/* [span N] overlap = yes: its SETUPs may come without the whole number. */
static bool span_overlap(unsigned span)
{
	const struct gw_span_conf *sc;
	unsigned id;
	size_t i;

	for (i = 0; (sc = gw_conf_span(cc.conf, i, &id)); i++)
		if (id == span)
			return sc->overlap;
	return false;
}

/* The dial plan knows the number is complete: the route it takes names
 * its length ([route] digits) and that many digits came. */
static bool number_complete(const struct call *c)
{
	struct gw_route_req rq = {0};
	struct gw_route_result res;

	rq.src = GW_ROUTE_FROM_SPAN;
	rq.span = c->span;
	snprintf(rq.called.digits, sizeof(rq.called.digits), "%s", c->to);
	rq.called.ton = (enum gw_ton)c->called_ton;
	rq.called.npi = (enum gw_npi)c->called_npi;
	snprintf(rq.calling.digits, sizeof(rq.calling.digits), "%s", c->from);
	return !gw_route_lookup(c->plan, &rq, &res) && res.digits &&
		strlen(c->to) >= res.digits;
}

/* T302 ran out, or the number is complete: route what came. */
static void digits_done(void *arg)
{
	struct call *c = arg;

	if (c->overlap)
		in_route(c);
}

/* INFO during overlap receiving: more of the called number. */
static void overlap_digits(struct call *c, const struct tdm_pri_event *ev)
{
	size_t n = strlen(c->to);
	const char *d;
	bool done = ev->complete;

	for (d = ev->digits; *d; d++) {
		if (*d == '#') {
			done = true;	/* end of dialling */
			break;
		}
		if (n + 1 < sizeof(c->to)) {
			c->to[n++] = *d;
			c->to[n] = '\0';
		}
	}
	if (done || number_complete(c))
		in_route(c);
	else
		gw_tmr_start(&c->digit_tmr, OVERLAP_T302_MS, digits_done, c);
}

static void pri_setup(unsigned span, struct tdm_pri *pri,
		      const struct tdm_pri_event *ev)
{
	const struct gw_calls_conf *cf = gw_conf_calls(cc.conf);
	struct call *c;

	if (!cc.conf) {
		tdm_pri_hangup(pri, ev->call, 41);
		return;
	}
	c = call_new(false);
	if (!c) {
		tdm_pri_hangup(pri, ev->call, 47);
		return;
	}
	cc.n_in++;
	c->span = span;
	c->ts = ev->ts;
	c->pc = ev->call;
	gw_trunk_claim(span, ev->ts, ev->call);	/* call_done releases it */
	tdm_pri_call_set_user(ev->call, c);
	c->sip_cleared = true;		/* until there is an INVITE */
	snprintf(c->to, sizeof(c->to), "%.39s", ev->called.digits);
	snprintf(c->from, sizeof(c->from), "%.39s", ev->calling.digits);
	c->restricted = ev->calling.pres == 1;
	if (ev->redirecting.digits[0]) {
		snprintf(c->redir, sizeof(c->redir), "%.39s",
			 ev->redirecting.digits);
		c->redir_reason = ev->redirect_reason;
	}
	snprintf(c->cdr.called_in, sizeof(c->cdr.called_in), "%.39s", c->to);
	snprintf(c->cdr.calling_in, sizeof(c->cdr.calling_in), "%.39s", c->from);
	c->cdr.span = span;
	c->cdr.ts = ev->ts;
	GW_INFO("%s: PSTN call from '%s' to '%s' on span %u ts %u", c->id,
		c->from, c->to, span, ev->ts);
	if (cc.cdr)
		gw_cdr_begin(cc.cdr, &c->cdr);
	event(c, "new");
	if (cc.draining) {
		call_clear(c, 41, 0);		/* shutting down */
		return;
	}
	if (cc.ncalls > (unsigned)cf->max_calls) {
		call_clear(c, 34, 0);
		return;
	}
	if (!gw_mgc()) {
		call_clear(c, 41, 0);
		return;
	}
	c->called_ton = ev->called.ton;
	c->called_npi = ev->called.plan;
	c->calling_ton = ev->calling.ton;
	c->calling_npi = ev->calling.plan;
	if (!ev->complete && span_overlap(span) && !number_complete(c)) {
		/* Q.931 s.5.1.3: overlap receiving, the rest of the number
		 * in INFO messages until sending complete, '#', the length
		 * the dial plan knows, or T302 */
		c->overlap = true;
		tdm_pri_setup_ack(pri, c->pc, c->ts);
		gw_tmr_start(&c->digit_tmr, OVERLAP_T302_MS, digits_done, c);
		return;
	}
	in_route(c);
}

/* The called number is complete: route it and set up the media. */
static void in_route(struct call *c)
{
	const struct gw_calls_conf *cf = gw_conf_calls(cc.conf);
	struct tdm_pri *pri = gw_trunk_pri(c->span);
	struct gw_route_req rq = {0};
	unsigned q850, status;
	int err;

	gw_tmr_cancel(&c->digit_tmr);
	c->overlap = false;
	snprintf(c->cdr.called_in, sizeof(c->cdr.called_in), "%s", c->to);
	snprintf(rq.called.digits, sizeof(rq.called.digits), "%s", c->to);
	rq.called.ton = (enum gw_ton)c->called_ton;
	rq.called.npi = (enum gw_npi)c->called_npi;
	snprintf(rq.calling.digits, sizeof(rq.calling.digits), "%s", c->from);
	rq.calling.ton = (enum gw_ton)c->calling_ton;
	rq.calling.npi = (enum gw_npi)c->calling_npi;
	rq.src = GW_ROUTE_FROM_SPAN;
	rq.span = c->span;
	err = pri ? gw_route_lookup(c->plan, &rq, &c->res) : ENETDOWN;
	if (!err && c->res.kind == GW_TARGET_GROUP)
		err = ENOENT;	/* PSTN to PSTN: not through this gateway */
	if (err) {
		gw_route_fail_cause(err, &status, &q850);
		GW_INFO("%s: no route: cause %u", c->id, q850);
		call_clear(c, q850, 0);
		return;
	}
	snprintf(c->cdr.route, sizeof(c->cdr.route), "%s", c->res.rule);
	tdm_pri_proceeding(pri, c->pc, c->ts, false);
	set_state(c, CS_PROCEEDING);
	snprintf(c->cdr.codec, sizeof(c->cdr.codec), "PCMA");
	err = mg_send(c, in_added, "Context = $ { Add = tdm/%u/%u { Media { "
		      "LocalControl { Mode = SendReceive } } }, Add = $ { "
		      "Media { Stream = 1 { LocalControl { Mode = ReceiveOnly "
		      "}, Local { v=0\nc=IN IP4 $\nm=audio $ RTP/AVP 8 0 101\n"
		      "a=rtpmap:101 telephone-event/8000\n} } }" RTP_EVENTS
		      " } }", c->span, c->ts);
	if (err) {
		call_clear(c, 41, 0);
		return;
	}
	c->mg_pending = true;
	gw_tmr_start(&c->tmr, (uint64_t)cf->setup_timeout_ms, setup_timeout,
		     c);
}

/* ---- events ---------------------------------------------------------- */

static void mg_ok(struct call *c, int err, const struct mg_trans *r)
{
	(void)r;
	if (err && c->state != CS_CLEARING) {
		GW_WARN("%s: MG refused a change: clearing", c->id);
		call_clear(c, 47, 0);
	}
}

/* The peer's media into the RTP termination's Remote, with mode; the
 * MG's ringback toward the line stopped with it when asked. */
static void mg_remote(struct call *c, const char *sdp, const char *mode,
		      bool ringback_off)
{
	char remote[2048], stop[64] = "";

	if (!c->ctx || !c->rtp[0])
		return;
	sdp_for_remote(remote, sizeof(remote), sdp ? sdp : "");
	if (ringback_off)
		snprintf(stop, sizeof(stop), ", Modify = tdm/%u/%u { Signals }",
			 c->span, c->ts);
	if (remote[0])
		mg_send(c, mg_ok, "Context = %" PRIu32 " { Modify = %s { "
			"Media { Stream = 1 { LocalControl { Mode = %s }, "
			"Remote { %s} } } }%s }", c->ctx, c->rtp, mode, remote,
			stop);
	else
		mg_send(c, mg_ok, "Context = %" PRIu32 " { Modify = %s { "
			"Media { Stream = 1 { LocalControl { Mode = %s } } } }"
			"%s }", c->ctx, c->rtp, mode, stop);
}

/* The call's SIP leg is sess from now on, its media at sdp; the old leg
 * is ended (cause 16), and what happened (what) is logged and pushed to
 * the event stream. */
static void take_leg(struct call *c, struct sip_session *sess,
		     const char *sdp, const char *what)
{
	struct sip_reason rs = { .q850 = 16, .location = -1 };

	mg_remote(c, sdp, "SendReceive", false);
	sip_session_set_handler(c->sess, NULL, NULL);
	sip_session_hangup(c->sess, 0, &rs);
	c->sess = sess;
	sip_session_set_handler(sess, on_sip, c);
	snprintf(c->cdr.sip_call_id, sizeof(c->cdr.sip_call_id), "%s",
		 sip_session_call_id(sess));
	GW_INFO("%s: %s, now %s", c->id, what, c->cdr.sip_call_id);
	event(c, what);
}

/* The transfer's new leg (RFC 3515 blind transfer): the PSTN party's
 * media moves to it once it answers; the REFER's subscription hears how
 * it went (sipfrag NOTIFYs) and the old leg is ended. */
static void on_xfer(struct sip_session *sess,
		    const struct sip_session_event *ev, void *arg)
{
	struct call *c = arg;

	switch (ev->type) {
	case SIP_SESS_ANSWERED:
		if (!c->sess || c->state == CS_CLEARING)
			break;
		sip_session_refer_notify(c->sess, 200);
		c->xfer = NULL;
		take_leg(c, sess, ev->media ? ev->media->sdp : NULL,
			 "transferred");
		break;
	case SIP_SESS_CLOSED:
		/* the transfer failed: the call stays as it was */
		c->xfer = NULL;
		if (c->sess)
			sip_session_refer_notify(c->sess, ev->status >= 300 ?
						 ev->status : 503);
		break;
	default:
		break;
	}
}

static void transfer(struct call *c, const struct sip_session_event *ev)
{
	struct sip_call_params p = {0};
	char uri[320];
	const char *lt, *gt;
	size_t n;
	int err;

	if (!c->answered || c->xfer || !ev->refer_to ||
	    c->state == CS_CLEARING) {
		sip_session_refer_notify(c->sess, 603);
		return;
	}
	/* Refer-To is a name-addr or addr-spec (RFC 3515 s.2.1); of its
	 * URI headers (after '?') only Replaces is carried: an attended
	 * transfer, whose target replaces its call with the transferor by
	 * this one (RFC 3891 s.7.1, RFC 5589 s.7) */
	lt = strchr(ev->refer_to, '<');
	lt = lt ? lt + 1 : ev->refer_to;
	gt = lt + strcspn(lt, ">?");
	n = (size_t)(gt - lt);
	if (n >= sizeof(uri)) {
		sip_session_refer_notify(c->sess, 400);
		return;
	}
	memcpy(uri, lt, n);
	uri[n] = '\0';
	p.uri = uri;
	/* the party being transferred is the PSTN one */
	snprintf(p.from.user, sizeof(p.from.user), "%s", c->out ? c->to :
		 c->from);
	snprintf(p.pai.user, sizeof(p.pai.user), "%s", p.from.user);
	p.pai.asserted = true;
	p.sdp = c->sdp;
	p.replaces = ev->replaces;
	err = sip_session_connect(&c->xfer, gw_sip_ua(), &p, on_xfer, c);
	if (err) {
		GW_WARN("%s: transfer to %s: %s", c->id, uri, strerror(err));
		c->xfer = NULL;
		sip_session_refer_notify(c->sess, 503);
		return;
	}
	GW_INFO("%s: %s transfer to %s", c->id, ev->replaces ? "attended" :
		"blind", uri);
}

/*
 * An INVITE with Replaces (RFC 3891) naming an answered call's SIP leg:
 * the new session takes the leg over, answered with the MG's media, and
 * the old one is ended.  It is the last step of an attended transfer
 * whose target is a PSTN party behind this gateway.
 */
static void replace_leg(struct call *c, struct sip_session *sess,
			const struct sip_incoming *in)
{
	if (!c->answered || c->state == CS_CLEARING || !c->sess ||
	    !in->offer || !in->offer->sdp) {
		sip_session_reject(sess, 603, NULL, 0);	/* s.3: declined */
		return;
	}
	if (sip_session_answer(sess, c->sdp)) {
		sip_session_reject(sess, 500, NULL, 0);
		return;
	}
	take_leg(c, sess, in->offer->sdp, "replaced");
}

/*
 * A re-INVITE or UPDATE: a new address, hold or resume (RFC 3264 s.8.4).
 * While the SIP side holds the call the line hears [calls] hold: what
 * the SIP side sends (its music on hold), nothing, or a signal the MG
 * plays until the call is resumed.
 */
static void sip_modified(struct call *c, const char *sdp, bool hold)
{
	const char *how = gw_conf_calls(cc.conf)->hold;

	mg_remote(c, sdp, hold ? (strcmp(how, "pass") ? "Inactive" :
				  "ReceiveOnly") :
		  c->state == CS_ANSWERED ? "SendReceive" :
		  c->out ? "SendOnly" : "ReceiveOnly", false);
	if (hold != c->held && strchr(how, '/') && c->ctx)
		mg_send(c, mg_ok, "Context = %" PRIu32 " { Modify = tdm/%u/%u "
			"{ Signals %s%s%s } }", c->ctx, c->span, c->ts,
			hold ? "{ " : "", hold ? how : "", hold ? " }" : "");
	if (hold != c->held)
		GW_INFO("%s: %s by the SIP side", c->id, hold ? "held" :
			"resumed");
	c->held = hold;
}

static void on_sip(struct sip_session *sess, const struct sip_session_event *ev,
		   void *arg)
{
	struct call *c = arg;
	struct tdm_pri *pri = gw_trunk_pri(c->span);
	const char *sdp = ev->media ? ev->media->sdp : NULL;
	unsigned q850;

	(void)sess;
	switch (ev->type) {
	case SIP_SESS_PROGRESS:
		if (c->out || c->state == CS_CLEARING || !c->pc || !pri)
			break;
		if (sdp) {
			/* early media from SIP: played to the PSTN caller */
			mg_remote(c, sdp, "ReceiveOnly", true);
			tdm_pri_progress(pri, c->pc, c->ts, true);
			set_state(c, CS_EARLY);
		} else if (c->state < CS_ALERTING) {
			/* ringback played by the MG, in-band (PI 8) */
			mg_send(c, NULL, "Context = %" PRIu32 " { Modify = "
				"tdm/%u/%u { Signals { cg/rt } } }", c->ctx,
				c->span, c->ts);
			tdm_pri_alerting(pri, c->pc, c->ts, true);
			set_state(c, CS_ALERTING);
		}
		break;
	case SIP_SESS_ANSWERED:
		if (c->orig && c->state != CS_CLEARING) {
			mg_remote(c, sdp, "SendReceive", false);
			c->sip_status = 200;
			set_state(c, CS_ANSWERED);
			if (cc.cdr)
				gw_cdr_answer(cc.cdr, &c->cdr);
			break;
		}
		if (c->out) {
			/* the ACK to our 200 */
			break;
		}
		if (c->state == CS_CLEARING)
			break;
		mg_remote(c, sdp, "SendReceive", true);
		if (c->pc && pri)
			tdm_pri_answer(pri, c->pc, c->ts);
		gw_tmr_cancel(&c->tmr);
		c->sip_status = 200;
		set_state(c, CS_ANSWERED);
		if (cc.cdr)
			gw_cdr_answer(cc.cdr, &c->cdr);
		break;
	case SIP_SESS_MODIFIED:
		if (ev->media)
			sip_modified(c, sdp, ev->media->hold);
		break;
	case SIP_SESS_DTMF:
		if (c->ctx)
			mg_send(c, NULL, "Context = %" PRIu32 " { Modify = "
				"tdm/%u/%u { Signals { dg/d%c } } }", c->ctx,
				c->span, c->ts, ev->digit == '*' ? 's' :
				ev->digit == '#' ? 'o' : ev->digit >= 'A' &&
				ev->digit <= 'D' ? ev->digit - 'A' + 'a' :
				ev->digit);
		c->cdr.dtmf++;
		break;
	case SIP_SESS_TRANSFER:
		transfer(c, ev);
		break;
	case SIP_SESS_CLOSED:
		c->sess = NULL;
		c->sip_cleared = true;
		if (!c->sip_status)
			c->sip_status = ev->status ? ev->status : 200;
		q850 = ev->reason.q850 > 0 ? (unsigned)ev->reason.q850 :
			ev->status >= 300 ? q850_of(ev->status) : 16;
		if (!c->out && c->state < CS_ANSWERED && ev->status >= 500 &&
		    c->res.kind == GW_TARGET_TRUNK &&
		    c->trunk_idx + 1 < c->res.ntrunks &&
		    c->state != CS_CLEARING) {
			/* the next trunk of the route (5xx, timeout) */
			c->trunk_idx++;
			c->sip_cleared = false;
			c->sip_status = 0;
			GW_INFO("%s: %u from trunk %s, trying %s", c->id,
				ev->status, c->res.trunks[c->trunk_idx - 1],
				c->res.trunks[c->trunk_idx]);
			in_invite(c);
			break;
		}
		call_clear(c, q850, 0);
		break;
	}
}

/* The MG's ringback toward the SIP caller (a cg/rt signal on the RTP
 * termination), or its end. */
static void ringback_ip(struct call *c, bool on)
{
	if (!c->ctx || !c->rtp[0])
		return;
	mg_send(c, mg_ok, "Context = %" PRIu32 " { Modify = %s { Signals%s "
		"} }", c->ctx, c->rtp, on ? " { cg/rt }" : "");
	c->ringback_ip = on;
}

/*
 * Q.931 s.5.1.2: the B-channel named in the network's response to our
 * SETUP is the call's, even if it is not the one we asked for (always
 * allowed when we asked "preferred"; a network resolving a call
 * collision, s.5.7.2, may do it whatever we asked).  The call follows:
 * the trunk's record and the MG's TDM termination move to that channel,
 * so that both ends carry the call on the same timeslot.  A channel we
 * cannot take is "channel unacceptable": the call is cleared with cause
 * 6.  Returns true when the call was cleared.
 */
static bool follow_channel(struct call *c, unsigned ts)
{
	unsigned old = c->ts;

	if (!old) {		/* it gave its channel up (gw_call_yield) */
		if (gw_trunk_busy(c->span, ts)) {
			GW_WARN("%s: the network put the call on ts %u, "
				"which is not free here", c->id, ts);
			call_clear(c, 6, 0);
			return true;
		}
		GW_INFO("%s: the network put the call on ts %u", c->id, ts);
		gw_trunk_claim(c->span, ts, c->pc);
		c->ts = ts;
		c->cdr.ts = ts;
		mg_send(c, mg_ok, "Context = %" PRIu32 " { Add = tdm/%u/%u { "
			"Media { LocalControl { Mode = SendReceive } } } }",
			c->ctx, c->span, ts);
		return false;
	}

	if (gw_trunk_busy(c->span, ts)) {
		GW_WARN("%s: the network put the call on ts %u, which is "
			"not free here", c->id, ts);
		call_clear(c, 6, 0);
		return true;
	}
	GW_INFO("%s: the network put the call on ts %u, not %u", c->id, ts,
		old);
	gw_trunk_release(c->span, old);
	gw_trunk_claim(c->span, ts, c->pc);
	c->ts = ts;
	c->cdr.ts = ts;
	if (c->ctx)
		mg_send(c, mg_ok, "Context = %" PRIu32 " { Subtract = "
			"tdm/%u/%u, Add = tdm/%u/%u { Media { LocalControl { "
			"Mode = SendReceive } } } }", c->ctx, c->span, old,
			c->span, ts);
	return false;
}

/**
 * The network's SETUP names ts of span, which an outgoing call of ours
 * holds with its own SETUP out and unanswered: the two crossed on the
 * link.  Q.931 s.5.7: the network gives priority to its call, which
 * keeps the channel; ours is cleared (cause 44, or 34 by Annex D.3 b),
 * or moved to another channel in the network's first answer if it was
 * only preferred.  So ours lets go of ts now: its TDM termination
 * leaves its context, ahead of the network's call's Add (the MG takes
 * a controller's transactions in order), and it waits for the
 * network's word: a channel (follow_channel) or the clearing, after
 * which it tries once more on another channel (glare_retry).  false if
 * no call of ours gives ts up (trunk.c then refuses the network's).
 */
bool gw_call_yield(unsigned span, unsigned ts)
{
	struct call *c;

	for (c = cc.calls; c; c = c->next)
		if (c->out && c->span == span && c->ts == ts)
			break;
	if (!c || !c->pc || c->state != CS_CALLING || !c->ctx ||
	    c->mg_pending || c->glare != GLARE_NONE)
		return false;
	GW_INFO("%s: the network's SETUP crossed ours on span %u ts %u: "
		"its call keeps the channel", c->id, span, ts);
	mg_send(c, mg_ok, "Context = %" PRIu32 " { Subtract = tdm/%u/%u }",
		c->ctx, span, ts);
	gw_trunk_release(span, ts);
	c->ts = 0;
	c->cdr.ts = 0;
	c->glare = GLARE_YIELDED;
	return true;
}

/** Whether the call of ours on ts of span is clearing: it lets the
 * channel go once its MG context is gone (trunk.c has the network's
 * SETUP for it wait). */
bool gw_call_clearing(unsigned span, unsigned ts)
{
	struct call *c;

	for (c = cc.calls; c; c = c->next)
		if (c->span == span && c->ts == ts)
			return c->state == CS_CLEARING;
	return false;
}

static void retry_added(struct call *c, int err, const struct mg_trans *r)
{
	(void)r;
	c->mg_pending = false;
	if (c->state == CS_CLEARING) {
		c->pri_cleared = true;
		call_maybe_done(c);
		return;
	}
	if (err) {
		c->pri_cleared = true;
		call_clear(c, 47, 0);
		return;
	}
	out_setup(c);
}

/* The network cleared the SETUP that gave its channel up (cause
 * 34/44): the same call once more on a channel the hunt gives. */
static void glare_retry(struct call *c, struct tdm_pri *pri,
			const struct tdm_pri_event *ev)
{
	struct tdm_pri_call *old = c->pc;

	c->glare = GLARE_RETRIED;
	c->pc = NULL;
	tdm_pri_call_set_user(old, NULL);
	if (ev->type == TDM_PRI_DISCONNECT)
		tdm_pri_hangup(pri, old, ev->cause);
	if (gw_hunt_pick(c->res.group, hunt_busy, NULL, &c->span, &c->ts)) {
		c->pri_cleared = true;
		call_clear(c, (unsigned)ev->cause, 0);
		return;
	}
	GW_INFO("%s: cleared by the network after the collision (cause "
		"%d): again on span %u ts %u", c->id, ev->cause, c->span,
		c->ts);
	c->cdr.span = c->span;
	c->cdr.ts = c->ts;
	gw_trunk_claim(c->span, c->ts, NULL);
	if (mg_send(c, retry_added, "Context = %" PRIu32 " { Add = "
		    "tdm/%u/%u { Media { LocalControl { Mode = SendReceive "
		    "} } } }", c->ctx, c->span, c->ts)) {
		c->pri_cleared = true;
		call_clear(c, 41, 0);
		return;
	}
	c->mg_pending = true;
}

/** PRI events of span (trunk.c passes every one). */
void gw_call_pri_event(unsigned span, struct tdm_pri *pri,
		       const struct tdm_pri_event *ev)
{
	struct call *c = ev->call ? tdm_pri_call_user(ev->call) : NULL;

	if (ev->type == TDM_PRI_SETUP) {
		pri_setup(span, pri, ev);
		return;
	}
	if (ev->type == TDM_PRI_DCHAN_DOWN) {
		struct call *k, *nx;

		/* Q.850 38: network out of order */
		for (k = cc.calls; k; k = nx) {
			nx = k->next;
			if (k->span == span && k->state != CS_CLEARING)
				call_clear(k, 38, 0);
		}
		return;
	}
	if (!c)
		return;
	if (c->glare == GLARE_YIELDED && c->state == CS_CALLING &&
	    (ev->type == TDM_PRI_DISCONNECT || ev->type == TDM_PRI_RELEASE) &&
	    (ev->cause == 34 || ev->cause == 44)) {
		glare_retry(c, pri, ev);
		return;
	}
	if (c->out && c->pc && ev->ts && ev->ts != c->ts &&
	    c->state != CS_CLEARING &&
	    (ev->type == TDM_PRI_SETUP_ACK || ev->type == TDM_PRI_PROCEEDING ||
	     ev->type == TDM_PRI_PROGRESS || ev->type == TDM_PRI_ALERTING ||
	     ev->type == TDM_PRI_CONNECT) && follow_channel(c, ev->ts))
		return;
	switch (ev->type) {
	case TDM_PRI_INFO:
		if (c->overlap)
			overlap_digits(c, ev);
		break;
	case TDM_PRI_PROCEEDING:
		if (c->state < CS_PROCEEDING)
			set_state(c, CS_PROCEEDING);
		break;
	case TDM_PRI_PROGRESS:
	case TDM_PRI_ALERTING:
		if (!c->out || !c->sess || c->state == CS_CLEARING)
			break;
		/* Q.931 progress indicator 1 or 8: in-band information,
		 * RFC 3398 s.8.2.3 -> 183 with SDP, media cut through */
		if (ev->inband || ev->progress == 1 || ev->progress == 8) {
			if (c->ringback_ip)
				ringback_ip(c, false);	/* the line's now */
			if (c->state != CS_EARLY) {
				sip_session_progress(c->sess, 183, c->sdp);
				set_state(c, CS_EARLY);
			}
		} else if (ev->type == TDM_PRI_ALERTING &&
			   c->state < CS_ALERTING) {
			if (gw_conf_calls(cc.conf)->local_ringback) {
				/* RFC 3960 s.3: the caller plays no ringback
				 * of its own once it gets early media */
				ringback_ip(c, true);
				sip_session_progress(c->sess, 183, c->sdp);
			} else {
				sip_session_progress(c->sess, 180, NULL);
			}
			set_state(c, CS_ALERTING);
		}
		break;
	case TDM_PRI_CONNECT:
		if (c->orig && c->state != CS_CLEARING) {
			/* the PSTN party answered: now the SIP one */
			snprintf(c->cdr.called_out, sizeof(c->cdr.called_out),
				 "%.39s", c->orig_uri);
			in_invite(c);
			break;
		}
		if (!c->out || !c->sess || c->state == CS_CLEARING)
			break;
		mg_send(c, mg_ok, "Context = %" PRIu32 " { Modify = %s { "
			"Media { Stream = 1 { LocalControl { Mode = "
			"SendReceive } } }%s } }", c->ctx, c->rtp,
			c->ringback_ip ? ", Signals" : "");
		c->ringback_ip = false;
		sip_session_answer(c->sess, c->sdp);
		/* the record's SIP status is the INVITE's final response,
		 * whichever side later clears the call */
		c->sip_status = 200;
		gw_tmr_cancel(&c->tmr);
		set_state(c, CS_ANSWERED);
		if (cc.cdr)
			gw_cdr_answer(cc.cdr, &c->cdr);
		break;
	case TDM_PRI_DISCONNECT:
		c->q850 = c->q850 ? c->q850 : (unsigned)(ev->cause > 0 ?
							 ev->cause : 16);
		call_clear(c, c->q850, 0);
		break;
	case TDM_PRI_RELEASE:
		c->pc = NULL;
		c->pri_cleared = true;
		if (!c->q850)
			c->q850 = ev->cause > 0 ? (unsigned)ev->cause : 16;
		call_clear(c, c->q850, 0);
		break;
	default:
		break;
	}
}

/** The MG registered, or went away: its calls cannot go on. */
void gw_call_mg_state(bool up)
{
	struct call *c, *nx;

	cc.mg_up = up;
	if (up)
		return;
	for (c = cc.calls; c; c = nx) {
		nx = c->next;
		c->ctx = 0;		/* the MG's contexts are gone */
		c->mg_pending = false;
		if (c->state != CS_CLEARING)
			call_clear(c, 41, 0);	/* temporary failure */
		else
			call_maybe_done(c);
	}
}

/** A ServiceChange on terminations: the spans' calls are cleared. */
void gw_call_mg_service(const struct mg_cmd *sc)
{
	const struct mg_item *sv, *m = NULL;
	unsigned span = 0;
	struct call *c, *nx;

	for (sv = sc->desc; sv; sv = sv->next)
		if (sv->tok == MG_TOK_SERVICES)
			for (m = sv->kids; m && m->tok != MG_TOK_METHOD;
			     m = m->next)
				;
	if (sscanf(sc->tid, "tdm/%u/", &span) != 1 || !m || !m->nval ||
	    (m->val[0].tok != MG_TOK_FORCED &&
	     m->val[0].tok != MG_TOK_GRACEFUL))
		return;
	for (c = cc.calls; c; c = nx) {
		nx = c->next;
		if (c->span == span && c->state != CS_CLEARING)
			call_clear(c, 38, 0);
	}
}

/** A Notify from the MG: an RTP timeout (nt/netfail) ends the call. */
void gw_call_mg_notify(uint32_t ctx, const struct mg_cmd *n)
{
	struct call *c = call_by_ctx(ctx);

	if (!c)
		return;
	if (mg_cmd_find(n, "nt/netfail")) {
		GW_INFO("%s: media failure reported by the MG", c->id);
		call_clear(c, 41, 0);
	}
}

/* ---- the status socket ---------------------------------------------- */

static json_t *call_json(const struct call *c, json_t *quality)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:I,s:o,s:I}",
			 "id", c->id, "state", state_names[c->state],
			 "direction", c->out ? "out" : "in", "from", c->from,
			 "to", c->to, "span", (json_int_t)c->span, "ts",
			 (json_int_t)c->ts, "codec", c->cdr.codec,
			 "context", (json_int_t)c->ctx, "quality",
			 quality ? quality : json_null(), "duration_s",
			 (json_int_t)((gw_now_ms() - c->start_ms) / 1000));
}

static double stat_num(const struct mg_cmd *cmd, const char *name)
{
	const struct mg_item *it = mg_cmd_find(cmd, name);

	return it && it->nval && it->val[0].s ? atof(it->val[0].s) : 0;
}

/* Live quality: the MG's statistics of each answered call's RTP
 * termination (H.248.1 s.7.2.5 AuditValue, E.11/E.12), in one
 * transaction; the reply lists the calls with what came back. */
static void calls_audited(int err, const struct mg_trans *r, void *arg)
{
	struct gw_ctl_req *req = arg;
	json_t *a = json_array();
	const struct mg_cmd *cmd;
	struct call *c;
	uint32_t ctx;
	unsigned i;

	for (c = cc.calls; c; c = c->next) {
		json_t *q = NULL;

		for (i = 0; !err && c->ctx &&
		     (cmd = mg_reply_cmd(r, i, &ctx)); i++) {
			double loss, jit;

			if (ctx != c->ctx || strcmp(cmd->tid, c->rtp) ||
			    cmd->err)
				continue;
			loss = stat_num(cmd, "rtp/pl");
			jit = stat_num(cmd, "rtp/jit");
			q = json_pack("{s:I,s:I,s:f,s:f,s:f}", "packets_in",
				      (json_int_t)stat_num(cmd, "rtp/pr"),
				      "packets_out",
				      (json_int_t)stat_num(cmd, "rtp/ps"),
				      "loss_pct", loss, "jitter_ms", jit,
				      "mos", call_mos(c->cdr.codec, loss, jit));
		}
		json_array_append_new(a, call_json(c, q));
	}
	gw_ctl_reply(req, json_pack("{s:o}", "calls", a));
}

static void cmd_calls(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	struct mg_client *mgc = gw_mgc();
	char text[8192];
	struct call *c;
	size_t n = 0;
	int k;

	(void)msg;
	(void)arg;
	text[0] = '\0';
	for (c = cc.calls; mgc && c; c = c->next) {
		if (!c->answered || !c->ctx || !c->rtp[0] ||
		    c->state == CS_CLEARING)
			continue;
		k = snprintf(text + n, sizeof(text) - n, "%sContext = %" PRIu32
			     " { AuditValue = %s { Audit { Statistics } } }",
			     n ? ", " : "", c->ctx, c->rtp);
		if (k < 0 || (size_t)k >= sizeof(text) - n)
			break;
		n += (size_t)k;
	}
	if (!n || mg_client_send(mgc, calls_audited, req, NULL, "%s", text))
		calls_audited(ENOTCONN, NULL, req);
}

/* A number given as a JSON string or integer; "" when neither. */
static void json_digits(const json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
	else if (json_is_integer(v) && json_integer_value(v) >= 0)
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
	else
		buf[0] = '\0';
}

/*
 * {"cmd":"originate","pstn":"2000","sip":"sip:7001@192.0.2.1:5070"
 *  [,"from":"5551000"]}: click to call.  The PSTN number is rung first
 * (routed as a SIP caller's would be), and once it answers the SIP URI;
 * their media meet in the MG when the second answers.
 */
static void cmd_originate(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	const char *uri = json_string_value(json_object_get(msg, "sip"));
	char pstn[40], from[40];
	struct sockaddr_storage ss;
	struct gw_route_req rq = {0};
	struct call *c;
	int err;

	(void)arg;
	json_digits(json_object_get(msg, "pstn"), pstn, sizeof(pstn));
	json_digits(json_object_get(msg, "from"), from, sizeof(from));
	if (!*pstn || !uri || strncasecmp(uri, "sip", 3)) {
		gw_ctl_error(req, "originate needs \"pstn\":NUMBER and "
			     "\"sip\":URI");
		return;
	}
	if (cc.draining) {
		gw_ctl_error(req, "junctiond is stopping");
		return;
	}
	if (!gw_mgc()) {
		gw_ctl_error(req, "the MG is down");
		return;
	}
	c = call_new(true);
	if (!c) {
		gw_ctl_error(req, "out of memory");
		return;
	}
	c->orig = true;
	c->sip_cleared = true;		/* until the INVITE */
	snprintf(c->orig_uri, sizeof(c->orig_uri), "%s", uri);
	snprintf(c->to, sizeof(c->to), "%.39s", pstn);
	snprintf(c->from, sizeof(c->from), "%.39s", from);
	snprintf(c->cdr.called_in, sizeof(c->cdr.called_in), "%s", c->to);
	snprintf(c->cdr.calling_in, sizeof(c->cdr.calling_in), "%s", c->from);
	snprintf(rq.called.digits, sizeof(rq.called.digits), "%s", c->to);
	snprintf(rq.calling.digits, sizeof(rq.calling.digits), "%s", c->from);
	/* routed as if the SIP party called: its host is the source */
	rq.src = GW_ROUTE_FROM_SIP;
	{
		const char *at = strchr(uri, '@');
		char src[300];

		snprintf(src, sizeof(src), "sip:%s", at ? at + 1 :
			 uri + strcspn(uri, ":") + 1);
		rq.addr = source_addr(src, &ss);
		rq.trunk = rq.addr ? gw_dialplan_trunk_by_addr(c->plan,
							       rq.addr) : NULL;
	}
	err = gw_route_lookup(c->plan, &rq, &c->res);
	if (!err && c->res.kind != GW_TARGET_GROUP)
		err = ENOENT;
	if (!err)
		err = gw_hunt_pick(c->res.group, hunt_busy, NULL, &c->span,
				   &c->ts);
	if (cc.cdr)
		gw_cdr_begin(cc.cdr, &c->cdr);
	if (err) {
		gw_ctl_error(req, "%s", err == EBUSY ? "no free channel" :
			     "no route to the PSTN number");
		call_clear(c, err == EBUSY ? 34 : 3, 0);
		return;
	}
	c->cdr.span = c->span;
	c->cdr.ts = c->ts;
	snprintf(c->cdr.route, sizeof(c->cdr.route), "%s", c->res.rule);
	snprintf(c->cdr.codec, sizeof(c->cdr.codec), "PCMA");
	gw_trunk_claim(c->span, c->ts, NULL);
	err = mg_send(c, out_added, "Context = $ { Add = tdm/%u/%u { Media { "
		      "LocalControl { Mode = SendReceive } } }, Add = $ { "
		      "Media { Stream = 1 { LocalControl { Mode = ReceiveOnly "
		      "}, Local { v=0\nc=IN IP4 $\nm=audio $ RTP/AVP 8 0 101\n"
		      "a=rtpmap:101 telephone-event/8000\n} } }" RTP_EVENTS
		      " } }", c->span, c->ts);
	if (err) {
		gw_ctl_error(req, "MG: %s", strerror(err));
		call_clear(c, 41, 0);
		return;
	}
	c->mg_pending = true;
	GW_INFO("%s: originate %s then %s", c->id, pstn, uri);
	event(c, "new");
	gw_ctl_reply(req, json_pack("{s:s}", "call", c->id));
}

static void cmd_call(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	const char *action = json_string_value(json_object_get(msg,
								"action"));
	const char *id = json_string_value(json_object_get(msg, "call"));
	json_t *cause = json_object_get(msg, "cause");
	struct call *c;

	(void)arg;
	if (!action || strcmp(action, "hangup") || !id) {
		gw_ctl_error(req, "call needs \"action\":\"hangup\" and "
			     "\"call\":\"ID\"");
		return;
	}
	c = call_find(id);
	if (!c) {
		gw_ctl_error(req, "no call %s", id);
		return;
	}
	call_clear(c, json_is_integer(cause) ? (unsigned)
		   json_integer_value(cause) : 16, 0);
	gw_ctl_reply(req, NULL);
}

static void cdr_listed(int err, json_t *rows, void *arg)
{
	struct gw_ctl_req *req = arg;

	if (err)
		gw_ctl_error(req, "CDR store: %s", strerror(err));
	else
		gw_ctl_reply(req, gw_cdr_reply(rows));
}

static void cmd_cdr(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	json_t *lim = json_object_get(msg, "limit");
	unsigned n = json_is_integer(lim) ? (unsigned)json_integer_value(lim) :
		20;

	(void)arg;
	if (!cc.cdr) {
		gw_ctl_error(req, "no CDR store");
		return;
	}
	if (gw_cdr_list(cc.cdr, n ? n : 20, cdr_listed, req))
		gw_ctl_error(req, "CDR store: cannot list");
}

static void cmd_subscribe(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	(void)msg;
	(void)arg;
	gw_ctl_subscribe(req);
}

/* ---- the subsystem --------------------------------------------------- */

static int load_causes(const struct gw_conf *conf, struct gw_causes **cp)
{
	const struct gw_calls_conf *cf = gw_conf_calls(conf);
	char path[4096], err[512], *dir;
	int e;

	if (!cf->causes[0]) {
		snprintf(path, sizeof(path), "%s/causes.csv", PKGDATADIR);
	} else if (cf->causes[0] == '/') {
		snprintf(path, sizeof(path), "%s", cf->causes);
	} else {
		char tmp[4096];

		snprintf(tmp, sizeof(tmp), "%s", gw_conf_path(conf));
		dir = dirname(tmp);
		snprintf(path, sizeof(path), "%s/%s", dir, cf->causes);
	}
	e = gw_causes_load(cp, path, err, sizeof(err));
	if (e) {
		GW_ERR("%s", err);
		return e;
	}
	if (cf->cause_map[0]) {
		e = gw_causes_override(*cp, cf->cause_map, err, sizeof(err));
		if (e) {
			GW_ERR("cause_map: %s", err);
			*cp = gw_mem_deref(*cp);
		}
	}
	return e;
}

/* Shutdown: the other subsystems still run, so calls end on their own
 * while new ones are refused, up to [calls] drain_s or a second stop
 * signal; calls_stop clears what is left. */
static void calls_drain(struct gw_daemon *d)
{
	long long drain_s = gw_conf_calls(cc.conf)->drain_s;

	(void)d;
	cc.draining = true;
	if (!cc.calls || drain_s <= 0)
		return;
	GW_INFO("draining %u call(s), up to %lld s", cc.ncalls, drain_s);
	cc.drain_wait = true;
	gw_loop_run_timeout((uint64_t)drain_s * 1000);
	cc.drain_wait = false;
	if (cc.calls)
		GW_INFO("%u call(s) left after draining: clearing",
			cc.ncalls);
}

static void calls_stop(struct gw_daemon *d)
{
	struct call *c, *nx;

	(void)d;
	for (c = cc.calls; c; c = nx) {
		nx = c->next;
		if (c->state != CS_CLEARING)
			call_clear(c, 41, 0);
	}
	/* What is left waits for a side that will not answer now. */
	while (cc.calls)
		call_done(cc.calls);
	cc.cdr = gw_mem_deref(cc.cdr);
	cc.plan = gw_mem_deref(cc.plan);
	cc.causes = gw_mem_deref(cc.causes);
	cc.conf = NULL;
	cc.d = NULL;
	cc.draining = false;
}

static int calls_start(struct gw_daemon *d, const struct gw_conf *conf)
{
	const struct gw_cdr_conf *cdc = gw_conf_cdr(conf);
	char err[512], *path;
	int e;

	memset(&cc, 0, sizeof(cc));
	cc.d = d;
	cc.conf = conf;
	e = load_causes(conf, &cc.causes);
	if (e)
		return e;
	e = gw_dialplan_compile(&cc.plan, conf, err, sizeof(err));
	if (e) {
		GW_ERR("dial plan: %s", err);
		goto out;
	}
	path = gw_conf_runpath(conf, cdc->path);
	e = path ? gw_cdr_open(&cc.cdr, path, (enum gw_cdr_sync)
			       cdc->synchronous, err, sizeof(err)) : ENOMEM;
	gw_mem_deref(path);
	if (e) {
		GW_ERR("CDR store: %s", err);
		goto out;
	}
	GW_INFO("call control: %zu routes", gw_dialplan_rules(cc.plan));
	gw_ctl_register(gw_daemon_ctl(d), "calls", cmd_calls, NULL,
			"live calls: state, numbers, channel, codec");
	gw_ctl_register(gw_daemon_ctl(d), "call", cmd_call, NULL,
			"act on a call: {\"action\":\"hangup\",\"call\":ID}");
	gw_ctl_register(gw_daemon_ctl(d), "originate", cmd_originate, NULL,
			"click to call: {\"pstn\":NUMBER,\"sip\":URI}: the "
			"PSTN number first, then the SIP URI");
	gw_ctl_register(gw_daemon_ctl(d), "cdr", cmd_cdr, NULL,
			"the last call records: {\"limit\":N}");
	gw_ctl_register(gw_daemon_ctl(d), "subscribe", cmd_subscribe, NULL,
			"stay connected and receive call events as JSON "
			"lines");
 out:
	if (e)
		calls_stop(d);
	return e;
}

/* The dial plan and the cause table are reloaded; calls keep the plan
 * they were routed with. */
static void calls_reload(struct gw_daemon *d, const struct gw_conf *conf)
{
	struct gw_dialplan *plan = NULL;
	struct gw_causes *causes = NULL;
	char err[512];

	(void)d;
	cc.conf = conf;
	if (gw_dialplan_compile(&plan, conf, err, sizeof(err))) {
		GW_WARN("reload: dial plan not changed: %s", err);
	} else {
		gw_mem_deref(cc.plan);
		cc.plan = plan;
	}
	if (!load_causes(conf, &causes)) {
		gw_mem_deref(cc.causes);
		cc.causes = causes;
	}
}

static void calls_status(struct gw_daemon *d, json_t *o)
{
	(void)d;
	json_object_set_new(o, "calls", json_integer(cc.ncalls));
	json_object_set_new(o, "in", json_integer((json_int_t)cc.n_in));
	json_object_set_new(o, "out", json_integer((json_int_t)cc.n_out));
	json_object_set_new(o, "answered",
			    json_integer((json_int_t)cc.n_answered));
	json_object_set_new(o, "failed", json_integer((json_int_t)cc.n_failed));
}

const struct gw_subsys gw_calls_subsys = {
	.name = "calls",
	.start = calls_start,
	.stop = calls_stop,
	.drain = calls_drain,
	.reload = calls_reload,
	.status = calls_status,
};
