/* gateway/junction-mg.c - the media gateway: bearer channels, RTP, H.248 */
#include "gw.h"

static const char *socket_path(const struct gw_conf *conf)
{
	return gw_conf_mg(conf)->socket;
}

/* Bottom-up: each may use the ones before it; they stop in reverse. */
static const struct gw_subsys *const subsystems[] = {
	&gw_ctl_subsys,
	&gw_bearer_subsys,
	&gw_mgw_subsys,
};

static const struct gw_daemon_desc desc = {
	.prog = "junction-mg",
	.summary = "Junction media gateway: E1/T1 bearer channels <-> RTP, "
		   "an H.248 MG",
	.subsys = subsystems,
	.nsubsys = GW_ARRAY_SIZE(subsystems),
	.socket_path = socket_path,
};

int main(int argc, char **argv)
{
	return gw_daemon_main(argc, argv, &desc);
}
