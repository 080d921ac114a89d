/* gateway/trunk.c - junctiond's side of each span: the D-channel and its PRI */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_LOG_MOD "trunk"
#include "gw.h"
#include "tdm.h"

/*
 * junctiond drives the signalling half of every [span N]: the D-channel
 * transport and a libpri instance on it.  The bearer half belongs to
 * junction-mg; `spans` and `channels` merge what the MG reports about it.
 * Calls belong to call control (gateway/call.c): every PRI event goes
 * there; here is only which B-channel is taken by what.
 */

struct trunk {
	unsigned id;
	enum gw_span_signalling sig;
	struct tdm_span *span;
	struct tdm_pri *pri;
	bool dchan_up;
	bool restarted;			/* RESTART sent since we started */
	unsigned dchan_downs;
	uint64_t dchan_since;
	unsigned calls_rejected;
	struct tdm_pri_call *calls[TDM_MAX_TS];
	bool blocked[TDM_MAX_TS];	/* by the operator: no new calls */
	/* Claimed by call control, which releases it once the call's MG
	 * context is gone: a PRI RELEASE alone does not make it free, as
	 * the termination may still be in that context. */
	bool held[TDM_MAX_TS];
	struct waiting *waiting[TDM_MAX_TS];	/* see wait_for_chan */
	unsigned setups_waited;
};

/* The network's SETUP, unanswered until its channel comes free. */
struct waiting {
	struct trunk *t;		/* borrowed: it frees us first */
	struct tdm_pri_event ev;
	struct gw_tmr tmr;
};

/* At most this long, well inside the network's T303 (4 s, Q.931 table
 * 9-1), after which it would send its SETUP again or give up. */
#define WAIT_MS		2000

static struct {
	struct gw_daemon *d;
	struct trunk **v;
	size_t n;
	char *mg_socket;	/* the local MG's status socket, or NULL */
} tr;

static struct trunk *trunk_find(unsigned id)
{
	size_t i;

	for (i = 0; i < tr.n; i++)
		if (tr.v[i]->id == id)
			return tr.v[i];
	return NULL;
}

static void span_state(struct tdm_span *span, enum tdm_span_state state,
		       unsigned alarms, void *arg)
{
	struct trunk *t = arg;
	char *list = json_dumps(tdm_alarms_json(alarms), JSON_COMPACT);

	(void)span;
	GW_INFO("span %u: %s, alarms %s", t->id, tdm_span_state_name(state),
		list ? list : "?");
	free(list);
}

static void dchan_rx(struct tdm_span *span, const uint8_t *frame, size_t len,
		     void *arg)
{
	struct trunk *t = arg;

	(void)span;
	tdm_pri_input(t->pri, frame, len);
}

static int pri_send(const uint8_t *frame, size_t len, void *arg)
{
	struct trunk *t = arg;

	return tdm_dchan_send(t->span, frame, len);
}

static void set_chan(struct trunk *t, unsigned ts, enum tdm_chan_state st)
{
	struct tdm_chan *ch = tdm_span_chan(t->span, ts);

	if (ch)
		tdm_chan_set_state(ch, st);
}

/* A channel's call is gone: idle, or blocked if the operator asked
 * while it was busy (a block drains: calls end on their own). */
static void chan_free(struct trunk *t, unsigned ts)
{
	t->calls[ts] = NULL;
	set_chan(t, ts, t->blocked[ts] ? TDM_CHAN_BLOCKED : TDM_CHAN_IDLE);
}

static void waiting_destroy(void *arg)
{
	struct waiting *w = arg;

	gw_tmr_cancel(&w->tmr);
}

/* w leaves its channel's slot (it is freed by the caller). */
static void waiting_drop(struct waiting *w)
{
	w->t->waiting[w->ev.ts] = NULL;
	gw_tmr_cancel(&w->tmr);
}

/* The network clears a call whose SETUP waits: it waits no more. */
static void unwait(struct trunk *t, const struct tdm_pri_call *call)
{
	unsigned ts;

	for (ts = 0; ts < TDM_MAX_TS; ts++) {
		struct waiting *w = t->waiting[ts];

		if (w && w->ev.call == call) {
			waiting_drop(w);
			gw_mem_deref(w);
		}
	}
}

static void forget_call(struct trunk *t, struct tdm_pri_call *call)
{
	unsigned ts;

	unwait(t, call);
	for (ts = 0; ts < TDM_MAX_TS; ts++) {
		if (t->calls[ts] != call)
			continue;
		if (t->held[ts])
			t->calls[ts] = NULL;	/* call control frees it */
		else
			chan_free(t, ts);
	}
}

/* Not a B-channel, or one call control cannot take (gw_trunk_busy). */
static bool chan_taken(const struct trunk *t, unsigned ts)
{
	return !tdm_span_is_bearer_ts(t->span, ts) || gw_trunk_busy(t->id, ts);
}

static void setup(struct trunk *t, struct tdm_pri *pri,
		  const struct tdm_pri_event *ev);

/* The network's SETUP waited WAIT_MS and its channel is still taken. */
static void waiting_expired(void *arg)
{
	struct waiting *w = arg;
	struct trunk *t = w->t;

	GW_INFO("span %u: ts %u still taken after %u ms: the network's call "
		"is refused", t->id, w->ev.ts, WAIT_MS);
	waiting_drop(w);
	t->calls_rejected++;
	tdm_pri_hangup(t->pri, w->ev.call, w->ev.exclusive ? 44 : 34);
	gw_mem_deref(w);
}

/* The channel came free (gw_trunk_release): the SETUP that waited for
 * it, from the loop. */
static void waiting_replay(void *arg)
{
	struct waiting *w = arg;
	struct trunk *t = w->t;

	waiting_drop(w);
	setup(t, t->pri, &w->ev);
	gw_mem_deref(w);
}

/*
 * The network's SETUP names a channel that a call of ours is clearing:
 * the network is done with that call, but its MG context is still
 * going (the Subtract is out), or its release has not come in yet.  The
 * network hunting the channel it has just freed (as a switch hunting
 * from one end does) would otherwise be refused with cause 44 for a
 * few milliseconds' overlap; the SETUP waits for the channel instead,
 * unanswered, until gw_trunk_release hands it on, for at most WAIT_MS.
 * Meanwhile the channel is promised: gw_trunk_busy.  false if the
 * channel is taken for longer than that.
 */
static bool wait_for_chan(struct trunk *t, const struct tdm_pri_event *e)
{
	struct waiting *w;

	if (!e->ts || e->ts >= TDM_MAX_TS || t->waiting[e->ts] ||
	    t->blocked[e->ts] || !t->held[e->ts] ||
	    !gw_call_clearing(t->id, e->ts))
		return false;
	w = gw_mem_zalloc(sizeof(*w), waiting_destroy);
	if (!w)
		return false;
	w->t = t;
	w->ev = *e;
	t->waiting[e->ts] = w;
	t->setups_waited++;
	gw_tmr_start(&w->tmr, WAIT_MS, waiting_expired, w);
	GW_INFO("span %u: the network's call on ts %u waits for our call "
		"there to clear", t->id, e->ts);
	return true;
}

/*
 * The far end's SETUP: its channel, if free, is the call's.  One call
 * control holds (in use, reserved for our own call whose SETUP is being
 * prepared, or still in an MG context) is taken.  As the user side, a
 * channel whose SETUP of ours crossed this one on the link is given up
 * to the network's call (Q.931 s.5.7, gw_call_yield).  Otherwise a
 * preferred channel is replaced by a free one, named in our first
 * answer (s.5.1.2, s.5.2.3.1 b); a channel a call of ours is clearing
 * is waited for (wait_for_chan); else an exclusive one refuses the call
 * with cause 44 (s.5.2.3.1 c), and no channel at all with cause 34.
 */
static void setup(struct trunk *t, struct tdm_pri *pri,
		  const struct tdm_pri_event *ev)
{
	struct tdm_pri_event e = *ev;
	unsigned ts;

	if (chan_taken(t, e.ts) && e.ts && e.ts < TDM_MAX_TS &&
	    t->sig != GW_SIG_PRI_NET && !t->blocked[e.ts])
		gw_call_yield(t->id, e.ts);
	if (chan_taken(t, e.ts) && !e.exclusive) {
		for (ts = 1; ts < TDM_MAX_TS && chan_taken(t, ts); ts++)
			;
		if (ts < TDM_MAX_TS) {
			GW_INFO("span %u: the far end's call on ts %u, not "
				"%u", t->id, ts, e.ts);
			e.ts = ts;
		}
	}
	if (chan_taken(t, e.ts)) {
		if (wait_for_chan(t, &e))
			return;
		t->calls_rejected++;
		tdm_pri_hangup(pri, e.call, e.exclusive ? 44 : 34);
		return;
	}
	t->calls[e.ts] = e.call;
	set_chan(t, e.ts, TDM_CHAN_IN_USE);
	gw_call_pri_event(t->id, pri, &e);
}

static void pri_event(struct tdm_pri *pri, const struct tdm_pri_event *ev,
		      void *arg)
{
	struct trunk *t = arg;

	GW_DBG("span %u: %s ts %u cause %d", t->id,
	       tdm_pri_ev_name(ev->type), ev->ts, ev->cause);
	switch (ev->type) {
	case TDM_PRI_DCHAN_UP:
		t->dchan_up = true;
		t->dchan_since = gw_now_ms();
		GW_INFO("span %u: D-channel up", t->id);
		if (!t->restarted) {
			/* Q.931 s.5.5.1: we start with no call on the span,
			 * but the far end may still hold calls of ours from
			 * before (junctiond killed or crashed): RESTART every
			 * B-channel once, on the first link, so that both
			 * sides begin idle.  Later links keep their calls
			 * (s.5.8.9: they survive a link failure). */
			t->restarted = true;
			if (tdm_pri_restart(pri, 0))
				GW_WARN("span %u: cannot send RESTART", t->id);
		}
		break;
	case TDM_PRI_DCHAN_DOWN:
		t->dchan_up = false;
		t->dchan_since = gw_now_ms();
		t->dchan_downs++;
		GW_WARN("span %u: D-channel down", t->id);
		break;
	case TDM_PRI_SETUP:
		setup(t, pri, ev);
		return;
	case TDM_PRI_DISCONNECT:
		if (!tdm_pri_call_user(ev->call)) {
			unwait(t, ev->call);
			tdm_pri_hangup(pri, ev->call, ev->cause ? ev->cause :
				       16);
			return;
		}
		break;
	case TDM_PRI_RELEASE:
		forget_call(t, ev->call);
		break;
	case TDM_PRI_RESTART:
		GW_INFO("span %u: RESTART of %s", t->id,
			ev->ts ? "one channel" : "the interface");
		if (ev->ts)
			set_chan(t, ev->ts, TDM_CHAN_IDLE);
		break;
	case TDM_PRI_SERVICE:
		set_chan(t, ev->ts, ev->in_service ? TDM_CHAN_IDLE :
			 TDM_CHAN_BLOCKED);
		break;
	default:
		break;
	}
	gw_call_pri_event(t->id, pri, ev);
}

static void trunk_destroy(void *arg)
{
	struct trunk *t = arg;
	unsigned ts;

	for (ts = 0; ts < TDM_MAX_TS; ts++)
		gw_mem_deref(t->waiting[ts]);

	gw_mem_deref(t->pri);
	gw_mem_deref(t->span);
}

static int trunk_alloc(struct trunk **tp, const struct gw_conf *conf,
		       const struct gw_span_conf *sc, unsigned id)
{
	struct tdm_span_conf c = {0};
	struct tdm_pri_conf pc = {0};
	char *dchan = NULL, *bearer = NULL, name[32];
	struct trunk *t;
	int err;

	t = gw_mem_zalloc(sizeof(*t), trunk_destroy);
	if (!t)
		return ENOMEM;
	t->id = id;
	t->sig = (enum gw_span_signalling)sc->signalling;

	snprintf(name, sizeof(name), "span%u.dchan", id);
	dchan = gw_conf_runpath(conf, sc->dchan[0] ? sc->dchan : name);
	snprintf(name, sizeof(name), "span%u.bearer", id);
	bearer = gw_conf_runpath(conf, sc->bearer[0] ? sc->bearer : name);
	if (!dchan || !bearer) {
		err = ENOMEM;
		goto out;
	}
	gw_span_conf_fill(&c, sc, id, dchan, bearer);

	err = tdm_span_alloc(&t->span, &c, span_state, t);
	if (err) {
		GW_ERR("span %u: %s", id, strerror(err));
		goto out;
	}
	err = tdm_dchan_open(t->span, dchan_rx, t);
	if (err)
		goto out;

	pc.span = id;
	pc.type = c.type;
	pc.node = t->sig == GW_SIG_PRI_NET ? TDM_PRI_NET : TDM_PRI_CPE;
	pc.switchtype = (enum tdm_pri_switch)sc->switchtype;
	pc.exclusive = sc->exclusive;
	pc.overlap = sc->overlap;
	err = tdm_pri_alloc(&t->pri, &pc, pri_send, pri_event, t);
	if (err) {
		GW_ERR("span %u: PRI: %s", id, strerror(err));
		goto out;
	}
	err = tdm_span_start(t->span, TDM_OPEN_DCHAN);
	if (err)
		GW_ERR("span %u: cannot start: %s", id, strerror(err));
 out:
	gw_mem_deref(dchan);
	gw_mem_deref(bearer);
	if (err)
		gw_mem_deref(t);
	else
		*tp = t;
	return err;
}

/* ---- status commands ------------------------------------------------ */

static json_t *trunk_json(const struct trunk *t)
{
	json_t *o = tdm_span_json(t->span);

	if (!o)
		return NULL;
	json_object_set_new(o, "signalling",
			    json_string(gw_span_signalling_names[t->sig]));
	json_object_set_new(o, "dchan", json_string(t->dchan_up ? "up" :
						    "down"));
	/* A PRI span without its D-channel carries no call: for the
	 * operator it is down, whatever layer 1 says. */
	if (!t->dchan_up && tdm_span_state(t->span) == TDM_SPAN_UP)
		json_object_set_new(o, "state", json_string("down"));
	json_object_set_new(o, "dchan_downs", json_integer(t->dchan_downs));
	json_object_set_new(o, "calls_rejected",
			    json_integer(t->calls_rejected));
	json_object_set_new(o, "setups_waited",
			    json_integer(t->setups_waited));
	return o;
}

static json_t *mg_span(json_t *mgreply, unsigned id)
{
	json_t *a = json_object_get(mgreply, "spans"), *s;
	size_t i;

	json_array_foreach(a, i, s)
		if (json_integer_value(json_object_get(s, "id")) == id)
			return s;
	return NULL;
}

static int state_rank(const char *s)
{
	return !s ? 0 : !strcmp(s, "up") ? 2 : !strcmp(s, "alarm") ? 1 : 0;
}

/*
 * One span as operators see it: the D-channel side from here, the
 * bearer side from the MG.  The span is only as good as its worse half;
 * alarms are the union; the bearer's counters replace ours (we carry no
 * bearer frames).
 */
static void merge_bearer(json_t *o, json_t *mg)
{
	const char *ours = json_string_value(json_object_get(o, "state"));
	const char *theirs = json_string_value(json_object_get(mg, "state"));
	json_t *alarms = json_object_get(o, "alarms"), *a, *c, *mc;
	const char *k;
	size_t i, j;

	json_object_set_new(o, "bearer", json_string(theirs ? theirs : "?"));
	if (state_rank(theirs) < state_rank(ours))
		json_object_set_new(o, "state", json_string(theirs));
	json_array_foreach(json_object_get(mg, "alarms"), i, a) {
		bool have = false;
		json_t *b;

		json_array_foreach(alarms, j, b)
			have |= json_equal(a, b);
		if (!have)
			json_array_append(alarms, a);
	}
	c = json_object_get(o, "counters");
	mc = json_object_get(mg, "counters");
	json_object_set(c, "dchan_reconnects", json_object_get(c, "reconnects"));
	json_object_foreach(mc, k, a)
		if (strncmp(k, "dchan_", 6))
			json_object_set(c, k, a);
}

struct spans_req {
	struct gw_ctl_req *req;
	bool channels;
};

static void spans_reply(int err, json_t *mgreply, void *arg)
{
	struct spans_req *sr = arg;
	json_t *o = json_object(), *a = json_array();
	size_t i;

	for (i = 0; i < tr.n; i++) {
		struct trunk *t = tr.v[i];
		json_t *s = trunk_json(t), *m;

		if (!s)
			continue;
		m = err ? NULL : mg_span(mgreply, t->id);
		if (m)
			merge_bearer(s, m);
		else
			json_object_set_new(s, "bearer", json_string(
				tr.mg_socket ? "unknown" : "remote"));
		json_array_append_new(a, s);
	}
	json_object_set_new(o, "spans", a);
	if (err && tr.mg_socket)
		json_object_set_new(o, "mg_error", json_string(strerror(err)));
	gw_ctl_reply(sr->req, o);
	gw_mem_deref(sr);
}

static void chan_json(json_t *a, const struct trunk *t, json_t *mgspan)
{
	unsigned ts;

	for (ts = 1; ts < TDM_MAX_TS; ts++) {
		struct tdm_chan *ch = tdm_span_chan(t->span, ts);
		json_t *c;

		if (!ch)
			continue;
		c = json_object();
		json_object_set_new(c, "span", json_integer(t->id));
		json_object_set_new(c, "ts", json_integer(ts));
		json_object_set_new(c, "state", json_string(
			tdm_chan_state_name(tdm_chan_state(ch))));
		json_object_set_new(c, "call", json_null());
		if (mgspan)
			json_object_set_new(c, "bearer", json_string(
				json_string_value(json_object_get(mgspan,
								  "state"))));
		json_array_append_new(a, c);
	}
}

static void channels_reply(int err, json_t *mgreply, void *arg)
{
	struct spans_req *sr = arg;
	json_t *o = json_object(), *a = json_array();
	size_t i;

	for (i = 0; i < tr.n; i++)
		chan_json(a, tr.v[i], err ? NULL :
			  mg_span(mgreply, tr.v[i]->id));
	json_object_set_new(o, "channels", a);
	if (err && tr.mg_socket)
		json_object_set_new(o, "mg_error", json_string(strerror(err)));
	gw_ctl_reply(sr->req, o);
	gw_mem_deref(sr);
}

static void cmd_spans(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	struct spans_req *sr = gw_mem_zalloc(sizeof(*sr), NULL);
	gw_ctl_resp_h *h = arg ? channels_reply : spans_reply;
	json_t *q;

	(void)msg;
	if (!sr) {
		gw_ctl_error(req, "out of memory");
		return;
	}
	sr->req = req;
	if (!tr.mg_socket) {
		h(ENOTCONN, NULL, sr);
		return;
	}
	/* What only the MG knows, the bearer, comes from its socket. */
	q = json_pack("{s:s}", "cmd", "spans");
	if (gw_ctl_request(tr.mg_socket, q, 1000, h, sr))
		h(ENOTCONN, NULL, sr);
	json_decref(q);
}

/*
 * {"cmd":"block","span":1[,"ts":5]} and unblock: an operator takes a
 * span or a channel out of service for new calls; calls on it go on
 * until they end (drain), then the channel shows blocked.
 */
static void cmd_block(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	json_t *span = json_object_get(msg, "span");
	json_t *tsj = json_object_get(msg, "ts");
	bool on = arg != NULL;
	struct trunk *t;
	unsigned ts, n = 0, busy = 0;

	if (!json_is_integer(span) || (tsj && !json_is_integer(tsj))) {
		gw_ctl_error(req, "%s needs \"span\":N and optionally "
			     "\"ts\":N", on ? "block" : "unblock");
		return;
	}
	t = trunk_find((unsigned)json_integer_value(span));
	if (!t) {
		gw_ctl_error(req, "no span %lld", json_integer_value(span));
		return;
	}
	for (ts = 1; ts < TDM_MAX_TS; ts++) {
		if (!tdm_span_is_bearer_ts(t->span, ts) ||
		    (tsj && (json_int_t)ts != json_integer_value(tsj)))
			continue;
		n++;
		t->blocked[ts] = on;
		if (t->calls[ts] || t->held[ts])
			busy++;		/* drains (held: reserved too) */
		else
			set_chan(t, ts, on ? TDM_CHAN_BLOCKED : TDM_CHAN_IDLE);
	}
	if (!n) {
		gw_ctl_error(req, "span %u has no bearer timeslot %lld", t->id,
			     json_integer_value(tsj));
		return;
	}
	GW_INFO("span %u: %u channel(s) %s by the operator, %u draining",
		t->id, n, on ? "blocked" : "unblocked", on ? busy : 0);
	gw_ctl_reply(req, json_pack("{s:I,s:I}", "channels", (json_int_t)n,
				    "draining", (json_int_t)(on ? busy : 0)));
}

/* ---- the subsystem -------------------------------------------------- */

static void trunk_stop(struct gw_daemon *d)
{
	size_t i;

	(void)d;
	for (i = 0; i < tr.n; i++)
		gw_mem_deref(tr.v[i]);
	free(tr.v);
	tr.v = NULL;
	tr.n = 0;
	tr.mg_socket = gw_mem_deref(tr.mg_socket);
}

static int trunk_start(struct gw_daemon *d, const struct gw_conf *conf)
{
	const struct gw_span_conf *sc;
	const struct gw_mg_conf *mg = gw_conf_mg(conf);
	unsigned id;
	size_t i, n = 0;
	int err = 0;

	memset(&tr, 0, sizeof(tr));
	tr.d = d;
	while (gw_conf_span(conf, n, NULL))
		n++;
	tr.v = calloc(n ? n : 1, sizeof(*tr.v));
	if (!tr.v)
		return ENOMEM;
	for (i = 0; i < n; i++) {
		sc = gw_conf_span(conf, i, &id);
		if (strcmp(sc->control, "local")) {
			/* its bearers are an external softswitch's, and so
			 * is its signalling (IUA backhaul or its own link):
			 * no D-channel here */
			GW_INFO("span %u: controlled by %s, no D-channel in "
				"junctiond", id, sc->control);
			continue;
		}
		err = trunk_alloc(&tr.v[tr.n], conf, sc, id);
		if (err)
			goto out;
		tr.n++;
	}
	if (mg->local) {
		tr.mg_socket = gw_conf_runpath(conf, mg->socket);
		if (!tr.mg_socket) {
			err = ENOMEM;
			goto out;
		}
	}
	gw_ctl_register(gw_daemon_ctl(d), "spans", cmd_spans, NULL,
			"each span: type, signalling, state, alarms, "
			"D-channel, counters");
	gw_ctl_register(gw_daemon_ctl(d), "channels", cmd_spans, &tr,
			"each bearer channel: state and call");
	gw_ctl_register(gw_daemon_ctl(d), "block", cmd_block, &tr,
			"no new calls on a span or channel (calls drain): "
			"{\"span\":N[,\"ts\":N]}");
	gw_ctl_register(gw_daemon_ctl(d), "unblock", cmd_block, NULL,
			"back in service: {\"span\":N[,\"ts\":N]}");
 out:
	if (err)
		trunk_stop(d);
	return err;
}

/* Spans are built at start: a reload that adds or removes one says so. */
static void trunk_reload(struct gw_daemon *d, const struct gw_conf *conf)
{
	size_t n = 0;
	unsigned id;
	bool same = true;

	(void)d;
	while (gw_conf_span(conf, n, &id)) {
		same &= trunk_find(id) != NULL;
		n++;
	}
	if (!same || n != tr.n)
		GW_WARN("spans added or removed: that takes effect on "
			"restart");
}

static void trunk_status(struct gw_daemon *d, json_t *o)
{
	size_t i, up = 0;

	(void)d;
	for (i = 0; i < tr.n; i++)
		up += tr.v[i]->dchan_up;
	json_object_set_new(o, "spans", json_integer((json_int_t)tr.n));
	json_object_set_new(o, "dchans_up", json_integer((json_int_t)up));
}

const struct gw_subsys gw_trunk_subsys = {
	.name = "trunks",
	.start = trunk_start,
	.stop = trunk_stop,
	.reload = trunk_reload,
	.status = trunk_status,
};

/** The D-channel state of span id, for call control: NULL if unknown. */
bool gw_trunk_dchan_up(unsigned id)
{
	struct trunk *t = trunk_find(id);

	return t && t->dchan_up;
}

/* ---- for call control ------------------------------------------------ */

struct tdm_pri *gw_trunk_pri(unsigned id)
{
	struct trunk *t = trunk_find(id);

	return t ? t->pri : NULL;
}

/** A B-channel call control cannot take: not a bearer, taken, blocked,
 * or its D-channel down. */
bool gw_trunk_busy(unsigned id, unsigned ts)
{
	struct trunk *t = trunk_find(id);
	struct tdm_chan *ch;

	if (!t || !t->dchan_up || ts >= TDM_MAX_TS || t->calls[ts] ||
	    t->held[ts] || t->blocked[ts] || t->waiting[ts] ||
	    !(ch = tdm_span_chan(t->span, ts)))
		return true;
	return tdm_chan_state(ch) != TDM_CHAN_IDLE;
}

/** Take ts for a call: reserved while its SETUP is prepared (call
 * NULL), in use with it. */
void gw_trunk_claim(unsigned id, unsigned ts, struct tdm_pri_call *call)
{
	struct trunk *t = trunk_find(id);

	if (!t || ts >= TDM_MAX_TS)
		return;
	if (call)
		t->calls[ts] = call;
	t->held[ts] = true;
	set_chan(t, ts, call ? TDM_CHAN_IN_USE : TDM_CHAN_RESERVED);
}

/** Call control is done with ts: its call and MG context are gone.  A
 * network SETUP waiting for it gets it. */
void gw_trunk_release(unsigned id, unsigned ts)
{
	struct trunk *t = trunk_find(id);

	if (!t || ts >= TDM_MAX_TS || !t->held[ts])
		return;
	t->held[ts] = false;
	chan_free(t, ts);
	if (t->waiting[ts])
		gw_tmr_start(&t->waiting[ts]->tmr, 0, waiting_replay,
			     t->waiting[ts]);
}
