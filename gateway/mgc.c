/* gateway/mgc.c - junctiond as the H.248 controller of its local MG */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define GW_LOG_MOD "mgc"
#include "gw.h"
#include "megaco/mg.h"

/*
 * junctiond controls the media of its spans (control = local) the way a
 * softswitch would: the local virtual MG of junction-mg registers here,
 * on [mg] address:mgc_port, and call control sends it H.248 through
 * this client.  The MG coming up or going down is passed on to call
 * control, which clears the calls the MG carried.
 */

static struct {
	struct mg_client *c;
} mc;

struct mg_client *gw_mgc(void)
{
	return mc.c && mg_client_up(mc.c) ? mc.c : NULL;
}

/** The local MG's process died (mgsup): its calls end now. */
void gw_mgc_lost(void)
{
	mg_client_lost(mc.c);
}

static void on_event(struct mg_client *c, enum mg_client_ev ev,
		     const struct mg_cmd *cmd, void *arg)
{
	(void)c;
	(void)arg;
	switch (ev) {
	case MG_CLIENT_UP:
		GW_INFO("MG %s registered, MEGACO/%u", mg_client_peer_mid(c),
			mg_client_version(c));
		gw_call_mg_state(true);
		break;
	case MG_CLIENT_DOWN:
		GW_WARN("MG down%s", cmd ? " (ServiceChange)" :
			" (no answer)");
		gw_call_mg_state(false);
		break;
	case MG_CLIENT_SERVICE:
		GW_INFO("MG: ServiceChange on %s", cmd->tid);
		gw_call_mg_service(cmd);
		break;
	}
}

static void on_notify(struct mg_client *c, uint32_t ctx,
		      const struct mg_cmd *notify, void *arg)
{
	(void)c;
	(void)arg;
	gw_call_mg_notify(ctx, notify);
}

static void cmd_megaco(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	(void)msg;
	(void)arg;
	if (!mc.c) {
		gw_ctl_error(req, "stopping");
		return;
	}
	gw_ctl_reply(req, json_pack("{s:o}", "megaco",
				    mg_client_json(mc.c)));
}

static void mgc_stop(struct gw_daemon *d)
{
	(void)d;
	mc.c = gw_mem_deref(mc.c);
}

static int mgc_start(struct gw_daemon *d, const struct gw_conf *conf)
{
	const struct gw_mg_conf *mg = gw_conf_mg(conf);
	struct mg_client_conf cc = {0};
	struct mg_tsx_conf tc = {0};
	struct mg_addr local;
	char mid[96];
	int err;

	memset(&mc, 0, sizeof(mc));
	err = mg_addr_set(&local, mg->address, (uint16_t)mg->mgc_port);
	if (err) {
		GW_ERR("[mg] address '%s': not an IP address", mg->address);
		return err;
	}
	snprintf(mid, sizeof(mid), "[%s]:%lld", mg->address, mg->mgc_port);
	cc.mid = mid;
	cc.version = (unsigned)mg->version;
	cc.style = mg->encoding ? MG_TEXT_COMPACT : MG_TEXT_PRETTY;
	cc.tcp = mg->transport == 1;
	tc.tmax_ms = (unsigned)mg->request_timeout_ms;
	tc.long_timer_ms = (unsigned)mg->request_timeout_ms;
	cc.tsx = &tc;
	err = mg_client_alloc(&mc.c, &local, &cc, on_event, on_notify, NULL);
	if (err) {
		GW_ERR("H.248 on %s: %s", mid, strerror(err));
		return err;
	}
	gw_ctl_register(gw_daemon_ctl(d), "megaco", cmd_megaco, NULL,
			"H.248 toward the local MG: state, counters");
	return 0;
}

static void mgc_status(struct gw_daemon *d, json_t *o)
{
	(void)d;
	json_object_set_new(o, "mg", json_string(gw_mgc() ? "up" : "down"));
}

const struct gw_subsys gw_mgc_subsys = {
	.name = "mgc",
	.start = mgc_start,
	.stop = mgc_stop,
	.status = mgc_status,
};
