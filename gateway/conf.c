/* gateway/conf.c - the configuration schema of junctiond and junction-mg */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "gw.h"

/*
 * One file configures the whole gateway; each daemon reads the sections
 * it needs, and both know every section so that a typo is an error in
 * either.  Later subsystems add their sections to gw_conf_schema.
 */

static int check_general(void *data, const char *label, char *err,
			 size_t errlen)
{
	struct gw_general_conf *g = data;

	(void)label;
	if (gw_log_check_levels(g->log_level)) {
		snprintf(err, errlen, "log_level '%s' is not a level spec "
			 "(for example: info,sip=debug)", g->log_level);
		return EINVAL;
	}
	if (!*g->rundir) {
		snprintf(err, errlen, "rundir must not be empty");
		return EINVAL;
	}
	return 0;
}

static const struct gw_conf_key general_keys[] = {
	{"rundir", GW_CONF_STR, offsetof(struct gw_general_conf, rundir),
	 "${JUNCTION_RUNDIR:-/tmp/junction-demo}", 0, 4000, NULL, 0,
	 "directory for sockets, databases and logs; relative paths in "
	 "this file resolve against it"},
	{"log_level", GW_CONF_STR, offsetof(struct gw_general_conf, log_level),
	 "info", 0, 500, NULL, GW_CONF_RELOAD,
	 "default level, then module=level pairs: error, warn, info, debug "
	 "(for example: info,sip=debug,mg=warn)"},
	{NULL},
};

static const struct gw_conf_key junctiond_keys[] = {
	{"socket", GW_CONF_STR, offsetof(struct gw_junctiond_conf, socket),
	 "junctiond.sock", 1, 107, NULL, 0,
	 "status socket of junctiond (junctionctl's default)"},
	{"stop_timeout_ms", GW_CONF_INT,
	 offsetof(struct gw_junctiond_conf, stop_timeout_ms),
	 "5000", 100, 600000, NULL, GW_CONF_RELOAD,
	 "how long junction-mg gets to stop before it is killed"},
	{NULL},
};

static int check_mg(void *data, const char *label, char *err, size_t errlen)
{
	struct gw_mg_conf *mg = data;

	(void)label;
	if (mg->restart_max_ms < mg->restart_min_ms) {
		snprintf(err, errlen, "restart_max_ms (%lld) is below "
			 "restart_min_ms (%lld)", mg->restart_max_ms,
			 mg->restart_min_ms);
		return EINVAL;
	}
	return 0;
}

static const struct gw_conf_key mg_keys[] = {
	{"local", GW_CONF_BOOL, offsetof(struct gw_mg_conf, local),
	 "yes", 0, 0, NULL, 0,
	 "junctiond starts junction-mg as its child and restarts it if it "
	 "dies"},
	{"program", GW_CONF_STR, offsetof(struct gw_mg_conf, program),
	 "", 0, 4000, NULL, GW_CONF_RELOAD,
	 "the junction-mg executable; empty: the one beside junctiond"},
	{"socket", GW_CONF_STR, offsetof(struct gw_mg_conf, socket),
	 "junction-mg.sock", 1, 107, NULL, 0,
	 "status socket of junction-mg"},
	{"restart_min_ms", GW_CONF_INT,
	 offsetof(struct gw_mg_conf, restart_min_ms),
	 "500", 10, 600000, NULL, GW_CONF_RELOAD,
	 "delay before the first restart of a junction-mg that died"},
	{"restart_max_ms", GW_CONF_INT,
	 offsetof(struct gw_mg_conf, restart_max_ms),
	 "30000", 10, 3600000, NULL, GW_CONF_RELOAD,
	 "the delay doubles on each crash in a row, up to this"},
	{"stable_ms", GW_CONF_INT, offsetof(struct gw_mg_conf, stable_ms),
	 "60000", 1000, 86400000, NULL, GW_CONF_RELOAD,
	 "a junction-mg that ran this long resets the delay"},
	{NULL},
};

const struct gw_conf_section gw_conf_schema[] = {
	{"general", false, sizeof(struct gw_general_conf), general_keys,
	 "settings both daemons share", check_general},
	{"junctiond", false, sizeof(struct gw_junctiond_conf), junctiond_keys,
	 "the call agent", NULL},
	{"mg", false, sizeof(struct gw_mg_conf), mg_keys,
	 "the media gateway, junction-mg", check_mg},
	{NULL},
};

/** Load path with the gateway's schema; errors as "file:line: reason". */
int gw_conf_read(struct gw_conf **confp, const char *path, char *err,
		 size_t errlen)
{
	return gw_conf_load(confp, path, gw_conf_schema, err, errlen);
}

/** [general] */
const struct gw_general_conf *gw_conf_general(const struct gw_conf *conf)
{
	return gw_conf_get(conf, "general", NULL);
}

/** [junctiond] */
const struct gw_junctiond_conf *gw_conf_junctiond(const struct gw_conf *conf)
{
	return gw_conf_get(conf, "junctiond", NULL);
}

/** [mg] */
const struct gw_mg_conf *gw_conf_mg(const struct gw_conf *conf)
{
	return gw_conf_get(conf, "mg", NULL);
}

/** path as given if absolute, else under [general] rundir. */
char *gw_conf_runpath(const struct gw_conf *conf, const char *path)
{
	const struct gw_general_conf *g = gw_conf_general(conf);

	if (path[0] == '/')
		return gw_mem_strdup(path);
	return gw_mem_printf("%s/%s", g->rundir, path);
}
