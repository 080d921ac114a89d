/* gateway/bearer.c - junction-mg's side of each span: the bearer channels */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_LOG_MOD "bearer"
#include "gw.h"
#include "media.h"
#include "tdm.h"

/*
 * junction-mg owns the audio half of every [span N]: the 20 ms frames of
 * its B-channels.  Until a call's media is set up a channel carries the
 * idle code.  A span can be put into line loopback (what it receives on
 * every timeslot goes back out), the maintenance test a carrier uses to
 * prove a circuit end to end.
 *
 * Threads (DESIGN.md, "Threads and clocks").  Every span lives on one
 * media worker, picked at start so that spans spread over the workers
 * ([mg] workers): it is created, started, looped back and freed on that
 * worker's thread, its frames run there and clock that worker's tick, and
 * a call's channels will join it there.  The main thread keeps only each
 * span's number and worker.  The status commands send one part to every
 * worker concerned and answer once the last part is back.
 */

struct bearer {
	/* Set on the main thread before the span is created; fixed. */
	unsigned id;
	struct media_worker *wk;	/* borrowed: br.workers owns it */
	struct tdm_span_conf conf;	/* its strings are ours, below */
	char *dchan, *bearer;
	/* The worker's thread only. */
	struct tdm_span *span;
	bool loopback;
	int err;			/* creation, read after the sync */
	/* Published by the worker for the status command. */
	atomic_bool up;
};

static struct {
	struct gw_loop *main;
	struct media_workers *workers;
	struct bearer **v;
	size_t n;
} br;

/* ---- on the span's worker ------------------------------------------- */

struct state_ev {
	unsigned id;
	bool up;
};

/* On the main loop: the MG model hears of it. */
static void state_main(void *arg)
{
	struct state_ev *e = arg;

	gw_mgw_span_state(e->id, e->up);
	free(e);
}

static void span_state(struct tdm_span *span, enum tdm_span_state state,
		       unsigned alarms, void *arg)
{
	struct bearer *b = arg;
	char *list = json_dumps(tdm_alarms_json(alarms), JSON_COMPACT);

	(void)span;
	struct state_ev *e;

	if (atomic_exchange(&b->up, state == TDM_SPAN_UP) !=
	    (state == TDM_SPAN_UP) && br.main &&
	    (e = malloc(sizeof(*e)))) {
		e->id = b->id;
		e->up = state == TDM_SPAN_UP;
		if (gw_loop_post(br.main, state_main, e))
			free(e);
	}
	GW_INFO("span %u bearer: %s, alarms %s", b->id,
		tdm_span_state_name(state), list ? list : "?");
	free(list);
}

/* Every received frame: the line's clock drives the worker's tick. */
static void span_tick(struct tdm_span *span, void *arg)
{
	struct bearer *b = arg;

	media_worker_clock(b->wk, span);
}

static void loop_frame(struct tdm_chan *ch, const uint8_t *rx, uint8_t *tx,
		       void *arg)
{
	(void)ch;
	(void)arg;
	memcpy(tx, rx, TDM_FRAME_SAMPLES);
}

static int set_loopback(struct bearer *b, bool on)
{
	unsigned ts;
	int err;

	for (ts = 1; ts < TDM_MAX_TS; ts++) {
		struct tdm_chan *ch = tdm_span_chan(b->span, ts);

		if (!ch)
			continue;
		if (!on) {
			tdm_chan_close(ch);
			continue;
		}
		err = tdm_chan_is_open(ch) ? EBUSY :
			tdm_chan_open(ch, loop_frame, b);
		if (err) {
			/* All or nothing: undo the channels looped so far. */
			while (--ts > 0)
				if ((ch = tdm_span_chan(b->span, ts)))
					tdm_chan_close(ch);
			return err;
		}
	}
	b->loopback = on;
	media_worker_chans_add(b->wk, (on ? 1 : -1) *
			       (int)tdm_span_nchans(b->span));
	GW_INFO("span %u: line loopback %s", b->id, on ? "on" : "off");
	return 0;
}

static void bearer_create(void *arg)
{
	struct bearer *b = arg;
	struct tdm_span *span = NULL;
	int err;

	err = tdm_span_alloc(&span, &b->conf, span_state, b);
	if (err) {
		GW_ERR("span %u: %s", b->id, strerror(err));
		goto out;
	}
	tdm_span_set_tick_handler(span, span_tick, b);
	err = tdm_span_start(span, TDM_OPEN_BEARER);
	if (err)
		GW_ERR("span %u: cannot start: %s", b->id, strerror(err));
 out:
	if (err)
		gw_mem_deref(span);
	else
		b->span = span;
	b->err = err;
}

/* Takes the reference the main thread handed over with it. */
static void bearer_free(void *arg)
{
	struct bearer *b = arg;

	if (b->span && b->loopback)
		media_worker_chans_add(b->wk, -(int)tdm_span_nchans(b->span));
	b->span = gw_mem_deref(b->span);
	gw_mem_deref(b);
}

/* ---- on the main thread --------------------------------------------- */

static void bearer_destroy(void *arg)
{
	struct bearer *b = arg;

	/* The span went on its worker (bearer_free); what is left here is
	 * the main thread's. */
	gw_mem_deref(b->dchan);
	gw_mem_deref(b->bearer);
}

static int bearer_alloc(struct bearer **bp, const struct gw_conf *conf,
			const struct gw_span_conf *sc, unsigned id)
{
	char name[32];
	struct bearer *b;
	int err = 0;

	b = gw_mem_zalloc(sizeof(*b), bearer_destroy);
	if (!b)
		return ENOMEM;
	b->id = id;
	atomic_init(&b->up, false);
	snprintf(name, sizeof(name), "span%u.dchan", id);
	b->dchan = gw_conf_runpath(conf, sc->dchan[0] ? sc->dchan : name);
	snprintf(name, sizeof(name), "span%u.bearer", id);
	b->bearer = gw_conf_runpath(conf, sc->bearer[0] ? sc->bearer : name);
	if (!b->dchan || !b->bearer) {
		err = ENOMEM;
		goto out;
	}
	/* tdm_span_alloc copies it, on the worker. */
	gw_span_conf_fill(&b->conf, sc, id, b->dchan, b->bearer);
 out:
	if (err)
		gw_mem_deref(b);
	else
		*bp = b;
	return err;
}

static struct bearer *bearer_find(unsigned id)
{
	size_t i;

	for (i = 0; i < br.n; i++)
		if (br.v[i]->id == id)
			return br.v[i];
	return NULL;
}

/*
 * One status command gathered from the workers.  Each part runs on one
 * worker and fills the slots of that worker's spans; the answer goes out
 * in config order once every part is back.  The bearers are referenced,
 * so a part finds its spans even while junction-mg stops: posts run in
 * order, and a span freed before the part ran shows as missing.
 */
enum gather_kind { GATHER_SPANS, GATHER_CHANNELS };

struct gather {
	struct gw_ctl_req *req;
	enum gather_kind kind;
	size_t n;
	struct bearer **v;		/* a reference each */
	json_t **out;			/* per bearer, by its worker */
	unsigned pending;		/* parts not back yet */
	int err;			/* a part could not be sent */
};

struct gather_part {
	struct gather *g;		/* a reference */
	struct media_worker *wk;
};

static void gather_destroy(void *arg)
{
	struct gather *g = arg;
	size_t i;

	for (i = 0; i < g->n; i++) {
		gw_mem_deref(g->v[i]);
		json_decref(g->out[i]);
	}
	free(g->v);
	free(g->out);
	if (g->req)
		gw_ctl_error(g->req, "dropped");
}

static void part_destroy(void *arg)
{
	struct gather_part *p = arg;

	gw_mem_deref(p->g);
}

static json_t *span_json(const struct bearer *b)
{
	json_t *s = tdm_span_json(b->span);

	if (s)
		json_object_set_new(s, "loopback", json_boolean(b->loopback));
	return s;
}

static json_t *chans_json(const struct bearer *b)
{
	json_t *a = json_array();
	unsigned ts;

	for (ts = 1; a && ts < TDM_MAX_TS; ts++) {
		struct tdm_chan *ch = tdm_span_chan(b->span, ts);

		if (!ch)
			continue;
		json_array_append_new(a, json_pack(
			"{s:I,s:I,s:s,s:b}", "span", (json_int_t)b->id,
			"ts", (json_int_t)ts, "state",
			tdm_chan_state_name(tdm_chan_state(ch)),
			"open", tdm_chan_is_open(ch)));
	}
	return a;
}

/* On the part's worker. */
static void part_run(void *arg)
{
	struct gather_part *p = arg;
	struct gather *g = p->g;
	size_t i;

	for (i = 0; i < g->n; i++) {
		const struct bearer *b = g->v[i];

		if (b->wk != p->wk || !b->span)
			continue;
		g->out[i] = g->kind == GATHER_SPANS ? span_json(b) :
			chans_json(b);
	}
}

static void gather_finish(struct gather *g)
{
	json_t *a = json_array();
	struct gw_ctl_req *req = g->req;
	size_t i;

	g->req = NULL;
	if (g->err) {
		json_decref(a);
		gw_ctl_error(req, "media worker: %s", strerror(g->err));
		return;
	}
	for (i = 0; i < g->n; i++) {
		if (!g->out[i])
			continue;
		if (g->kind == GATHER_SPANS)
			json_array_append(a, g->out[i]);
		else
			json_array_extend(a, g->out[i]);
	}
	gw_ctl_reply(req, json_pack("{s:o}", g->kind == GATHER_SPANS ?
				    "spans" : "channels", a));
}

/* Back on the main loop; releases the part. */
static void part_done(void *arg)
{
	struct gather_part *p = arg;
	struct gather *g = p->g;

	if (--g->pending == 0)
		gather_finish(g);
	gw_mem_deref(p);
}

static void gather_start(struct gw_ctl_req *req, enum gather_kind kind)
{
	struct gather *g;
	unsigned w;
	size_t i;
	int err;

	if (!br.workers) {
		gw_ctl_error(req, "stopping");
		return;
	}
	g = gw_mem_zalloc(sizeof(*g), gather_destroy);
	if (!g || !(g->v = calloc(br.n + 1, sizeof(*g->v))) ||
	    !(g->out = calloc(br.n + 1, sizeof(*g->out)))) {
		gw_mem_deref(g);
		gw_ctl_error(req, "out of memory");
		return;
	}
	g->req = req;
	g->kind = kind;
	g->n = br.n;
	for (i = 0; i < br.n; i++)
		g->v[i] = gw_mem_ref(br.v[i]);

	/* pending holds one for this loop, so that no part finishes the
	 * gather before every part is out. */
	g->pending = 1;
	for (w = 0; w < media_workers_count(br.workers); w++) {
		struct media_worker *wk = media_workers_get(br.workers, w);
		struct gather_part *p;
		bool used = false;

		for (i = 0; i < br.n; i++)
			used |= br.v[i]->wk == wk;
		if (!used)
			continue;
		p = gw_mem_zalloc(sizeof(*p), part_destroy);
		if (!p) {
			g->err = ENOMEM;
			break;
		}
		p->g = gw_mem_ref(g);
		p->wk = wk;
		err = media_worker_call(wk, part_run, p, part_done, p);
		if (err) {
			g->err = err;
			gw_mem_deref(p);
			break;
		}
		g->pending++;
	}
	if (--g->pending == 0)
		gather_finish(g);
	gw_mem_deref(g);
}

static void cmd_spans(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	(void)msg;
	(void)arg;
	gather_start(req, GATHER_SPANS);
}

static void cmd_channels(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	(void)msg;
	(void)arg;
	gather_start(req, GATHER_CHANNELS);
}

/* A loopback command on its way to the span's worker and back. */
struct loop_cmd {
	struct gw_ctl_req *req;
	struct bearer *b;		/* a reference */
	bool on;
	int err;			/* the worker's answer */
	bool loopback;
};

static void loop_cmd_destroy(void *arg)
{
	struct loop_cmd *lc = arg;

	gw_mem_deref(lc->b);
	if (lc->req)
		gw_ctl_error(lc->req, "dropped");
}

/* On the span's worker. */
static void loop_cmd_run(void *arg)
{
	struct loop_cmd *lc = arg;
	struct bearer *b = lc->b;

	if (!b->span)
		lc->err = ENODEV;
	else if (lc->on != b->loopback)
		lc->err = set_loopback(b, lc->on);
	lc->loopback = b->loopback;
}

static void loop_cmd_done(void *arg)
{
	struct loop_cmd *lc = arg;
	struct gw_ctl_req *req = lc->req;

	lc->req = NULL;
	if (lc->err)
		gw_ctl_error(req, "span %u: %s", lc->b->id,
			     strerror(lc->err));
	else
		gw_ctl_reply(req, json_pack("{s:b}", "loopback",
					    lc->loopback));
	gw_mem_deref(lc);
}

static void cmd_loopback(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	json_t *span = json_object_get(msg, "span");
	json_t *on = json_object_get(msg, "on");
	struct loop_cmd *lc;
	struct bearer *b;
	const char *k;
	json_t *v;
	int err;

	(void)arg;
	json_object_foreach(msg, k, v) {
		if (strcmp(k, "cmd") && strcmp(k, "span") && strcmp(k, "on") &&
		    strcmp(k, "id")) {
			gw_ctl_error(req, "unknown field '%s'", k);
			return;
		}
	}
	if (!json_is_integer(span) || !json_is_boolean(on)) {
		gw_ctl_error(req, "loopback needs \"span\":N and "
			     "\"on\":true|false");
		return;
	}
	b = bearer_find((unsigned)json_integer_value(span));
	if (!b) {
		gw_ctl_error(req, "no span %lld", json_integer_value(span));
		return;
	}
	lc = gw_mem_zalloc(sizeof(*lc), loop_cmd_destroy);
	if (!lc) {
		gw_ctl_error(req, "out of memory");
		return;
	}
	lc->b = gw_mem_ref(b);
	lc->on = json_is_true(on);
	err = media_worker_call(b->wk, loop_cmd_run, lc, loop_cmd_done, lc);
	if (err) {
		gw_mem_deref(lc);
		gw_ctl_error(req, "span %u: media worker: %s", b->id,
			     strerror(err));
		return;
	}
	lc->req = req;
}

static void bearer_stop(struct gw_daemon *d)
{
	size_t i;

	(void)d;
	/* Each span goes on its worker; releasing the workers runs what
	 * was posted to them, then stops and joins them. */
	for (i = 0; i < br.n; i++) {
		if (media_worker_run(br.v[i]->wk, bearer_free, br.v[i]))
			GW_ERR("span %u: its worker is gone; span leaked",
			       br.v[i]->id);
	}
	free(br.v);
	br.v = NULL;
	br.n = 0;
	br.workers = gw_mem_deref(br.workers);
}

static int bearer_start(struct gw_daemon *d, const struct gw_conf *conf)
{
	const struct gw_span_conf *sc;
	struct bearer *b;
	unsigned id;
	size_t i, n = 0;
	int err = 0;

	memset(&br, 0, sizeof(br));
	br.main = gw_loop_self();
	while (gw_conf_span(conf, n, NULL))
		n++;
	err = media_workers_alloc(&br.workers,
				  (unsigned)gw_conf_mg(conf)->workers,
				  gw_conf_mg(conf)->io_uring);
	if (err)
		return err;
	br.v = calloc(n ? n : 1, sizeof(*br.v));
	if (!br.v) {
		bearer_stop(d);
		return ENOMEM;
	}
	for (i = 0; i < n; i++) {
		sc = gw_conf_span(conf, i, &id);
		err = bearer_alloc(&b, conf, sc, id);
		if (err)
			break;
		b->wk = media_workers_pick(br.workers);
		br.v[br.n++] = b;
		/* Start-up waits for the outcome: a span that cannot start
		 * fails junction-mg's start, with the reason logged. */
		err = media_worker_sync(b->wk, bearer_create, b);
		if (!err)
			err = b->err;
		if (err)
			break;
		GW_INFO("span %u on media worker %u", id,
			media_worker_idx(b->wk));
	}
	if (err) {
		bearer_stop(d);
		return err;
	}
	gw_ctl_register(gw_daemon_ctl(d), "spans", cmd_spans, NULL,
			"each span's bearer: state, alarms, counters");
	gw_ctl_register(gw_daemon_ctl(d), "channels", cmd_channels, NULL,
			"each bearer channel: state, whether it is open");
	gw_ctl_register(gw_daemon_ctl(d), "loopback", cmd_loopback, NULL,
			"line loopback of a span: {\"span\":N,\"on\":bool}");
	return 0;
}

/* The workers' load, each with the spans it carries. */
static json_t *workers_json(void)
{
	json_t *a = media_workers_json(br.workers), *e;
	size_t w, i;

	json_array_foreach(a, w, e) {
		json_t *ids = json_array();

		for (i = 0; i < br.n; i++)
			if (media_worker_idx(br.v[i]->wk) == w)
				json_array_append_new(ids, json_integer(
					(json_int_t)br.v[i]->id));
		json_object_set_new(e, "spans", ids);
	}
	return a;
}

static void bearer_status(struct gw_daemon *d, json_t *o)
{
	size_t i, up = 0;

	(void)d;
	for (i = 0; i < br.n; i++)
		up += atomic_load(&br.v[i]->up);
	json_object_set_new(o, "spans", json_integer((json_int_t)br.n));
	json_object_set_new(o, "spans_up", json_integer((json_int_t)up));
	json_object_set_new(o, "workers", workers_json());
}

struct media_workers *gw_bearer_workers(void)
{
	return br.workers;
}

/** The idx-th span (config order): its number, worker and span (which
 * only that worker may touch).  False past the end. */
bool gw_bearer_span(size_t idx, unsigned *idp, struct media_worker **wkp,
		    struct tdm_span **spanp)
{
	if (idx >= br.n)
		return false;
	*idp = br.v[idx]->id;
	*wkp = br.v[idx]->wk;
	*spanp = br.v[idx]->span;
	return true;
}

bool gw_bearer_span_up(unsigned id)
{
	const struct bearer *b = bearer_find(id);

	return b && atomic_load(&b->up);
}

const struct gw_subsys gw_bearer_subsys = {
	.name = "bearer",
	.start = bearer_start,
	.stop = bearer_stop,
	.status = bearer_status,
};
