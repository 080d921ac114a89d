/* gateway/junctiond.c - the call agent: SIP, PRI signalling, call control, MG control */
#include "gw.h"

static const char *socket_path(const struct gw_conf *conf)
{
	return gw_conf_junctiond(conf)->socket;
}

/* Bottom-up: each may use the ones before it; they stop in reverse. */
static const struct gw_subsys *const subsystems[] = {
	&gw_ctl_subsys,
	&gw_mgc_subsys,
	&gw_trunk_subsys,
	&gw_sip_subsys,
	&gw_calls_subsys,
	&gw_mgsup_subsys,
};

static const struct gw_daemon_desc desc = {
	.prog = "junctiond",
	.summary = "Junction call agent: SIP <-> ISDN PRI, controlling "
		   "junction-mg over H.248",
	.subsys = subsystems,
	.nsubsys = GW_ARRAY_SIZE(subsystems),
	.socket_path = socket_path,
};

int main(int argc, char **argv)
{
	return gw_daemon_main(argc, argv, &desc);
}
