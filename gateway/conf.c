/* gateway/conf.c - the configuration schema of junctiond and junction-mg */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "gw.h"
#include "tdm.h"

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
	if (g->rundir[0] != '/') {
		snprintf(err, errlen, "rundir '%s' must be an absolute path "
			 "(the daemon runs from /)", g->rundir);
		return EINVAL;
	}
	return 0;
}

static const struct gw_conf_key general_keys[] = {
	{"rundir", GW_CONF_STR, offsetof(struct gw_general_conf, rundir),
	 "${JUNCTION_RUNDIR:-/tmp/junction-demo}", 0, 4000, NULL, 0,
	 "directory for runtime files such as the status sockets; "
	 "relative paths in this file resolve against it"},
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
	if (mg->program[0] && mg->program[0] != '/') {
		snprintf(err, errlen, "program '%s' must be an absolute path",
			 mg->program);
		return EINVAL;
	}
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
	{"start_timeout_ms", GW_CONF_INT,
	 offsetof(struct gw_mg_conf, start_timeout_ms),
	 "10000", 1000, 600000, NULL, GW_CONF_RELOAD,
	 "a junction-mg whose status socket does not answer by then is "
	 "killed and restarted"},
	{"stable_ms", GW_CONF_INT, offsetof(struct gw_mg_conf, stable_ms),
	 "60000", 1000, 86400000, NULL, GW_CONF_RELOAD,
	 "a junction-mg that ran this long resets the delay"},
	{"workers", GW_CONF_INT, offsetof(struct gw_mg_conf, workers),
	 "0", 0, 64, NULL, 0,
	 "media worker threads in junction-mg, each with its own loop and "
	 "its own spans and channels; 0: one per online core"},
	{NULL},
};

static const char *const span_types[] = {"e1", "t1", NULL};
static const char *const span_drivers[] = {"vspan", "dahdi", NULL};
const char *const gw_span_signalling_names[] = {"pri_cpe", "pri_net", NULL};
/* In the order of enum tdm_pri_switch. */
static const char *const span_switches[] = {
	"euroisdn_e1", "euroisdn_t1", "national", "ni1", "dms100", "4ess",
	"5ess", "qsig", NULL,
};

static bool one_of(const char *v, const char *a, const char *b)
{
	return !strcmp(v, a) || (b && !strcmp(v, b));
}

static int check_span(void *data, const char *label, char *err,
		      size_t errlen)
{
	struct gw_span_conf *sp = data;
	bool e1 = sp->type == 0;
	bool sw_e1 = sp->switchtype == 0;	/* euroisdn_e1 */
	bool sw_t1 = sp->switchtype != 0 && sp->switchtype != 7; /* not qsig */
	char *end;
	unsigned long id = strtoul(label, &end, 10);

	if (*end || label[0] < '1' || label[0] > '9' || id > 255) {
		snprintf(err, errlen, "span label '%s' must be a number "
			 "1..255", label);
		return EINVAL;
	}
	if ((e1 && sw_t1) || (!e1 && sw_e1)) {
		snprintf(err, errlen, "switchtype %s is not for %s spans",
			 span_switches[sp->switchtype], e1 ? "E1" : "T1");
		return EINVAL;
	}
	if (*sp->framing && !(e1 ? one_of(sp->framing, "ccs", "cas") :
			      one_of(sp->framing, "esf", "d4"))) {
		snprintf(err, errlen, "framing '%s' is not one of %s",
			 sp->framing, e1 ? "ccs, cas" : "esf, d4");
		return EINVAL;
	}
	if (*sp->linecode && !(e1 ? one_of(sp->linecode, "hdb3", "ami") :
			       one_of(sp->linecode, "b8zs", "ami"))) {
		snprintf(err, errlen, "linecode '%s' is not one of %s",
			 sp->linecode, e1 ? "hdb3, ami" : "b8zs, ami");
		return EINVAL;
	}
	if (sp->driver == GW_DRIVER_DAHDI) {
#ifndef HAVE_DAHDI
		snprintf(err, errlen, "driver dahdi is not built in "
			 "(configure found no dahdi/user.h)");
		return EINVAL;
#else
		if (!sp->dahdi_span || !sp->dahdi_base) {
			snprintf(err, errlen, "driver dahdi needs dahdi_span "
				 "and dahdi_base");
			return EINVAL;
		}
#endif
	}
	return 0;
}

static const struct gw_conf_key span_keys[] = {
	{"type", GW_CONF_ENUM, offsetof(struct gw_span_conf, type),
	 "e1", 0, 0, span_types, 0,
	 "e1 (A-law, B-channels 1-15 and 17-31, D-channel 16) or t1 "
	 "(mu-law, B-channels 1-23, D-channel 24)"},
	{"driver", GW_CONF_ENUM, offsetof(struct gw_span_conf, driver),
	 "vspan", 0, 0, span_drivers, 0,
	 "vspan (a virtual span, to pstnsim) or dahdi (hardware)"},
	{"signalling", GW_CONF_ENUM, offsetof(struct gw_span_conf, signalling),
	 "pri_cpe", 0, 0, gw_span_signalling_names, 0,
	 "pri_cpe (the gateway as user side) or pri_net (network side)"},
	{"switchtype", GW_CONF_ENUM, offsetof(struct gw_span_conf, switchtype),
	 "euroisdn_e1", 0, 0, span_switches, 0,
	 "the PRI variant: euroisdn_e1 or qsig on E1; euroisdn_t1, "
	 "national, ni1, dms100, 4ess, 5ess or qsig on T1"},
	{"framing", GW_CONF_STR, offsetof(struct gw_span_conf, framing),
	 "", 0, 8, NULL, 0, "e1: ccs or cas; t1: esf or d4 (default ccs/esf)"},
	{"linecode", GW_CONF_STR, offsetof(struct gw_span_conf, linecode),
	 "", 0, 8, NULL, 0, "e1: hdb3 or ami; t1: b8zs or ami"},
	{"crc4", GW_CONF_BOOL, offsetof(struct gw_span_conf, crc4),
	 "yes", 0, 0, NULL, 0, "E1 CRC-4 multiframe"},
	{"clock", GW_CONF_INT, offsetof(struct gw_span_conf, clock),
	 "1", 0, 32, NULL, 0,
	 "0: free-running; N: take the clock from this span, priority N"},
	{"exclusive", GW_CONF_BOOL, offsetof(struct gw_span_conf, exclusive),
	 "yes", 0, 0, NULL, 0,
	 "ask for B-channels as exclusive, not preferred"},
	{"overlap", GW_CONF_BOOL, offsetof(struct gw_span_conf, overlap),
	 "no", 0, 0, NULL, 0, "overlap receiving (SETUP ACKNOWLEDGE)"},
	{"dchan", GW_CONF_STR, offsetof(struct gw_span_conf, dchan),
	 "", 0, 107, NULL, 0,
	 "vspan: D-channel socket (default spanN.dchan in rundir)"},
	{"bearer", GW_CONF_STR, offsetof(struct gw_span_conf, bearer),
	 "", 0, 107, NULL, 0,
	 "vspan: bearer socket (default spanN.bearer in rundir)"},
	{"dahdi_dir", GW_CONF_STR, offsetof(struct gw_span_conf, dahdi_dir),
	 "/dev/dahdi", 1, 4000, NULL, 0, "dahdi: device directory"},
	{"dahdi_span", GW_CONF_INT, offsetof(struct gw_span_conf, dahdi_span),
	 "0", 0, 255, NULL, 0, "dahdi: the DAHDI span number"},
	{"dahdi_base", GW_CONF_INT, offsetof(struct gw_span_conf, dahdi_base),
	 "0", 0, 8192, NULL, 0, "dahdi: channel number of timeslot 1"},
	{NULL},
};

const struct gw_conf_section gw_conf_schema[] = {
	{"general", false, sizeof(struct gw_general_conf), general_keys,
	 "settings both daemons share", check_general},
	{"junctiond", false, sizeof(struct gw_junctiond_conf), junctiond_keys,
	 "the call agent", NULL},
	{"mg", false, sizeof(struct gw_mg_conf), mg_keys,
	 "the media gateway, junction-mg", check_mg},
	{"span", true, sizeof(struct gw_span_conf), span_keys,
	 "an E1/T1 trunk: [span 1], [span 2], ...", check_span},
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

/** The idx-th [span N] section and its number. */
const struct gw_span_conf *gw_conf_span(const struct gw_conf *conf,
					size_t idx, unsigned *idp)
{
	const char *label;
	const struct gw_span_conf *sp = gw_conf_nth(conf, "span", idx, &label);

	if (sp && idp)
		*idp = (unsigned)strtoul(label, NULL, 10);
	return sp;
}

/** Fill hw/'s view of a span from its [span N] section. */
void gw_span_conf_fill(struct tdm_span_conf *c, const struct gw_span_conf *sc,
		       unsigned id, const char *dchan, const char *bearer)
{
	bool e1 = sc->type == TDM_E1;

	memset(c, 0, sizeof(*c));
	c->id = id;
	c->type = e1 ? TDM_E1 : TDM_T1;
	c->driver = sc->driver == GW_DRIVER_DAHDI ? "dahdi" : "vspan";
	c->framing = sc->framing[0] ? sc->framing : e1 ? "ccs" : "esf";
	c->linecode = sc->linecode[0] ? sc->linecode : e1 ? "hdb3" : "b8zs";
	c->crc4 = e1 && sc->crc4;
	c->clock = (unsigned)sc->clock;
	c->dchan_path = dchan;
	c->bearer_path = bearer;
	c->dahdi_dir = sc->dahdi_dir;
	c->dahdi_span = (unsigned)sc->dahdi_span;
	c->dahdi_base = (unsigned)sc->dahdi_base;
}

/** path as given if absolute, else under [general] rundir. */
char *gw_conf_runpath(const struct gw_conf *conf, const char *path)
{
	const struct gw_general_conf *g = gw_conf_general(conf);

	if (path[0] == '/')
		return gw_mem_strdup(path);
	return gw_mem_printf("%s/%s", g->rundir, path);
}
