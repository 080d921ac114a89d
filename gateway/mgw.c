/* gateway/mgw.c - junction-mg's H.248 media gateway and its virtual MGs */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define GW_LOG_MOD "mg"
#include "gw.h"
#include "media.h"
#include "tdm.h"
#include "megaco/mg.h"

/*
 * The MG model (megaco/) over the bearer subsystem's spans and media
 * workers.  Virtual MGs (H.248.1 s.11.1): "local", controlled by
 * junctiond on [mg] mgc_port, holds every span with control = local;
 * each [mgc NAME] named by a span's control = mgc:NAME gets its own,
 * on its mg_port, registering with its list of addresses.
 *
 * Stopping (H.248.1 s.11.4): with [mg] graceful_s, the controllers get
 * a Graceful ServiceChange with that Delay; new Adds are refused (521)
 * while everything else they ask is served, until their contexts are
 * gone or the Delay has passed.  The daemon's loop has stopped by the
 * time a subsystem stops, so the wait runs it again here, bounded by
 * the Delay; a second SIGTERM or SIGINT ends the wait at once.
 */

static struct mg_model *model;

void gw_mgw_span_state(unsigned id, bool up)
{
	if (model)
		mg_model_span_state(model, id, up);
}

static int add_vmg(const struct gw_mg_conf *mg, const char *name,
		   const char *addresses, unsigned port, int version,
		   int encoding, int transport, long long tmax_ms)
{
	struct mg_tsx_conf tc = {0};
	struct mg_vmg_conf vc = {0};
	char ip[MG_MGC_MAX][64];
	uint16_t ports[MG_MGC_MAX];
	int n, i;

	n = gw_conf_addr_list(addresses, ip, ports, MG_MGC_MAX);
	if (n < 1)
		return EINVAL;
	vc.name = name;
	vc.ip = mg->address;
	vc.port = (uint16_t)port;
	vc.nmgc = (unsigned)n;
	for (i = 0; i < n; i++) {
		vc.mgc_ip[i] = ip[i];
		vc.mgc_port[i] = ports[i];
	}
	vc.version = (unsigned)version;
	vc.style = encoding ? MG_TEXT_COMPACT : MG_TEXT_PRETTY;
	vc.tcp = transport == 1;
	vc.max_wait_ms = (unsigned)mg->max_wait_ms;
	vc.graceful_s = (unsigned)mg->graceful_s;
	tc.tmax_ms = (unsigned)tmax_ms;
	tc.long_timer_ms = (unsigned)tmax_ms;
	vc.tsx = &tc;
	return mg_model_vmg_add(model, &vc);
}

static void on_drained(void *arg)
{
	bool *done = arg;

	*done = true;
	gw_loop_stop();
}

static void mgw_stop(struct gw_daemon *d)
{
	bool done = false;
	int err;

	if (!model)
		return;
	if (!mg_model_drain(model, on_drained, &done)) {
		const struct gw_mg_conf *mg = gw_conf_mg(gw_daemon_conf(d));

		/* on_drained stops it within the Delay; a margin for the
		 * last replies */
		err = gw_loop_run_timeout((uint64_t)mg->graceful_s * 1000 +
					  1000);
		GW_INFO("out of service: %s", done ? "Graceful over" :
			err == ETIMEDOUT ? "Delay passed" : "stopped at once");
	}
	mg_model_shutdown(model);
	model = gw_mem_deref(model);
}

static void cmd_megaco(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	(void)msg;
	(void)arg;
	if (!model) {
		gw_ctl_error(req, "stopping");
		return;
	}
	gw_ctl_reply(req, json_pack("{s:o}", "megaco", mg_model_json(model)));
}

static int mgw_start(struct gw_daemon *d, const struct gw_conf *conf)
{
	const struct gw_mg_conf *mg = gw_conf_mg(conf);
	const struct gw_span_conf *sc;
	struct mg_model_conf mc = {0};
	struct media_worker *wk;
	struct tdm_span *span;
	bool local_used = false;
	char addr[80];
	unsigned id, country;
	size_t i, k;
	int err;

	err = media_init();
	if (err) {
		GW_ERR("media libraries: %s", strerror(err));
		return err;
	}
	if (media_tone_country_parse(mg->tones, &country))
		country = 0;
	mc.workers = gw_bearer_workers();
	mc.rtp_ip = mg->rtp_address[0] ? mg->rtp_address : mg->address;
	mc.rtp_port_min = (uint16_t)mg->rtp_port_min;
	mc.rtp_port_max = (uint16_t)mg->rtp_port_max;
	mc.tone_country = country;
	mc.ec_tail_ms = (unsigned)mg->ec_tail_ms;
	mc.ec_off = !mg->echo_cancel;
	mc.rtp_timeout_ms = (unsigned)mg->rtp_timeout_ms;
	/* root/maxNumberOfContexts: a call is a context, so at least one
	 * per timeslot of every span (the model's default, 1024, is 34
	 * E1s' worth) */
	for (i = 0; gw_conf_span(conf, i, NULL); i++)
		;
	mc.max_contexts = i * TDM_MAX_TS > 1024 ? (unsigned)i * TDM_MAX_TS :
		1024;
	err = mg_model_alloc(&model, &mc);
	if (err)
		return err;
	for (i = 0; (sc = gw_conf_span(conf, i, NULL)); i++)
		local_used |= !strcmp(sc->control, "local");
	if (local_used) {
		snprintf(addr, sizeof(addr), strchr(mg->address, ':') ?
			 "[%s]:%lld" : "%s:%lld", mg->address, mg->mgc_port);
		err = add_vmg(mg, "local", addr, (unsigned)mg->megaco_port,
			      mg->version, mg->encoding, mg->transport,
			      mg->request_timeout_ms);
		if (err) {
			GW_ERR("virtual MG local on %s:%lld: %s", mg->address,
			       mg->megaco_port, strerror(err));
			goto out;
		}
	}
	for (k = 0;; k++) {
		const char *name;
		const struct gw_mgc_conf *c = gw_conf_mgc(conf, k, &name);
		bool used = false;

		if (!c)
			break;
		for (i = 0; (sc = gw_conf_span(conf, i, NULL)); i++)
			used |= !strncmp(sc->control, "mgc:", 4) &&
				!strcmp(sc->control + 4, name);
		if (!used)
			continue;
		err = add_vmg(mg, name, c->address, (unsigned)c->mg_port,
			      c->version, c->encoding, c->transport,
			      c->request_timeout_ms);
		if (err) {
			GW_ERR("virtual MG %s on %s:%lld: %s", name,
			       mg->address, c->mg_port, strerror(err));
			goto out;
		}
	}
	for (i = 0; gw_bearer_span(i, &id, &wk, &span); i++) {
		uint32_t mask = 0;
		unsigned ts, sid;
		const char *vmg;

		sc = gw_conf_span(conf, i, &sid);
		vmg = strcmp(sc->control, "local") ? sc->control + 4 : "local";
		/* span is the worker's; its fixed layout is read here */
		for (ts = 1; ts < 32; ts++)
			if (tdm_span_is_bearer_ts(span, ts))
				mask |= 1u << ts;
		err = mg_model_span_add(model, vmg, id, wk, span,
					tdm_span_type(span) == TDM_E1, mask);
		if (err) {
			GW_ERR("span %u: %s", id, err == E2BIG ?
			       "more spans than the MG takes (255)" :
			       strerror(err));
			goto out;
		}
		if (!gw_bearer_span_up(id))
			mg_model_span_state(model, id, false);
	}
	err = mg_model_start(model);
	if (err)
		goto out;
	gw_ctl_register(gw_daemon_ctl(d), "megaco", cmd_megaco, NULL,
			"H.248: virtual MGs, their MGCs, contexts, counters");
 out:
	if (err)
		model = gw_mem_deref(model);
	return err;
}

static void mgw_status(struct gw_daemon *d, json_t *o)
{
	json_t *j;

	(void)d;
	if (!model)
		return;
	j = mg_model_json(model);
	json_object_set(o, "mgs", json_object_get(j, "mgs"));
	json_object_set(o, "contexts", json_integer((json_int_t)json_array_size(
		json_object_get(j, "contexts"))));
	json_decref(j);
}

const struct gw_subsys gw_mgw_subsys = {
	.name = "megaco",
	.start = mgw_start,
	.stop = mgw_stop,
	.status = mgw_status,
};
