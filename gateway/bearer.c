/* gateway/bearer.c - junction-mg's side of each span: the bearer channels */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_LOG_MOD "bearer"
#include "gw.h"
#include "tdm.h"

/*
 * junction-mg owns the audio half of every [span N]: the 20 ms frames of
 * its B-channels.  Until a call's media is set up a channel carries the
 * idle code.  A span can be put into line loopback (what it receives on
 * every timeslot goes back out), the maintenance test a carrier uses to
 * prove a circuit end to end.
 */

struct bearer {
	unsigned id;
	struct tdm_span *span;
	bool loopback;
};

static struct {
	struct bearer **v;
	size_t n;
} br;

static void span_state(struct tdm_span *span, enum tdm_span_state state,
		       unsigned alarms, void *arg)
{
	struct bearer *b = arg;
	char *list = json_dumps(tdm_alarms_json(alarms), JSON_COMPACT);

	(void)span;
	GW_INFO("span %u bearer: %s, alarms %s", b->id,
		tdm_span_state_name(state), list ? list : "?");
	free(list);
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
	GW_INFO("span %u: line loopback %s", b->id, on ? "on" : "off");
	return 0;
}

static void bearer_destroy(void *arg)
{
	struct bearer *b = arg;

	gw_mem_deref(b->span);
}

static int bearer_alloc(struct bearer **bp, const struct gw_conf *conf,
			const struct gw_span_conf *sc, unsigned id)
{
	struct tdm_span_conf c;
	char *dchan = NULL, *bearer = NULL, name[32];
	struct bearer *b;
	int err;

	b = gw_mem_zalloc(sizeof(*b), bearer_destroy);
	if (!b)
		return ENOMEM;
	b->id = id;
	snprintf(name, sizeof(name), "span%u.dchan", id);
	dchan = gw_conf_runpath(conf, sc->dchan[0] ? sc->dchan : name);
	snprintf(name, sizeof(name), "span%u.bearer", id);
	bearer = gw_conf_runpath(conf, sc->bearer[0] ? sc->bearer : name);
	if (!dchan || !bearer) {
		err = ENOMEM;
		goto out;
	}
	gw_span_conf_fill(&c, sc, id, dchan, bearer);
	err = tdm_span_alloc(&b->span, &c, span_state, b);
	if (err) {
		GW_ERR("span %u: %s", id, strerror(err));
		goto out;
	}
	err = tdm_span_start(b->span, TDM_OPEN_BEARER);
	if (err)
		GW_ERR("span %u: cannot start: %s", id, strerror(err));
 out:
	gw_mem_deref(dchan);
	gw_mem_deref(bearer);
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

static void cmd_spans(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	json_t *o = json_object(), *a = json_array();
	size_t i;

	(void)msg;
	(void)arg;
	for (i = 0; i < br.n; i++) {
		json_t *s = tdm_span_json(br.v[i]->span);

		json_object_set_new(s, "loopback",
				    json_boolean(br.v[i]->loopback));
		json_array_append_new(a, s);
	}
	json_object_set_new(o, "spans", a);
	gw_ctl_reply(req, o);
}

static void cmd_channels(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	json_t *o = json_object(), *a = json_array();
	size_t i;
	unsigned ts;

	(void)msg;
	(void)arg;
	for (i = 0; i < br.n; i++) {
		for (ts = 1; ts < TDM_MAX_TS; ts++) {
			struct tdm_chan *ch = tdm_span_chan(br.v[i]->span, ts);

			if (!ch)
				continue;
			json_array_append_new(a, json_pack(
				"{s:I,s:I,s:s,s:b}", "span",
				(json_int_t)br.v[i]->id, "ts", (json_int_t)ts,
				"state",
				tdm_chan_state_name(tdm_chan_state(ch)),
				"open", tdm_chan_is_open(ch)));
		}
	}
	json_object_set_new(o, "channels", a);
	gw_ctl_reply(req, o);
}

static void cmd_loopback(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	json_t *span = json_object_get(msg, "span");
	json_t *on = json_object_get(msg, "on");
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
	if (json_is_true(on) != b->loopback) {
		err = set_loopback(b, json_is_true(on));
		if (err) {
			gw_ctl_error(req, "span %u: %s", b->id, strerror(err));
			return;
		}
	}
	gw_ctl_reply(req, json_pack("{s:b}", "loopback", b->loopback));
}

static void bearer_stop(struct gw_daemon *d)
{
	size_t i;

	(void)d;
	for (i = 0; i < br.n; i++)
		gw_mem_deref(br.v[i]);
	free(br.v);
	br.v = NULL;
	br.n = 0;
}

static int bearer_start(struct gw_daemon *d, const struct gw_conf *conf)
{
	const struct gw_span_conf *sc;
	unsigned id;
	size_t i, n = 0;
	int err = 0;

	memset(&br, 0, sizeof(br));
	while (gw_conf_span(conf, n, NULL))
		n++;
	br.v = calloc(n ? n : 1, sizeof(*br.v));
	if (!br.v)
		return ENOMEM;
	for (i = 0; i < n; i++) {
		sc = gw_conf_span(conf, i, &id);
		err = bearer_alloc(&br.v[br.n], conf, sc, id);
		if (err) {
			bearer_stop(d);
			return err;
		}
		br.n++;
	}
	gw_ctl_register(gw_daemon_ctl(d), "spans", cmd_spans, NULL,
			"each span's bearer: state, alarms, counters");
	gw_ctl_register(gw_daemon_ctl(d), "channels", cmd_channels, NULL,
			"each bearer channel: state, whether it is open");
	gw_ctl_register(gw_daemon_ctl(d), "loopback", cmd_loopback, NULL,
			"line loopback of a span: {\"span\":N,\"on\":bool}");
	return 0;
}

static void bearer_status(struct gw_daemon *d, json_t *o)
{
	size_t i, up = 0;

	(void)d;
	for (i = 0; i < br.n; i++)
		up += tdm_span_state(br.v[i]->span) == TDM_SPAN_UP;
	json_object_set_new(o, "spans", json_integer((json_int_t)br.n));
	json_object_set_new(o, "spans_up", json_integer((json_int_t)up));
}

const struct gw_subsys gw_bearer_subsys = {
	.name = "bearer",
	.start = bearer_start,
	.stop = bearer_stop,
	.status = bearer_status,
};
