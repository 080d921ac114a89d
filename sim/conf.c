/* sim/conf.c - pstnsim's configuration schema: switch, spans, number plan */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm.h"
#include "sim.h"

/*
 * pstnsim reads a file of its own, in the gateway's format:
 *
 *   [pstnsim]        where its runtime files and control socket live
 *   [span N]         one per span it stands at the far end of
 *   [number PREFIX]  what a called number does; the longest prefix of
 *                    the called digits wins, so "2000" also answers
 *                    "2000123"
 */

static const char *const type_names[] = {"e1", "t1", NULL};
static const char *const sig_names[] = {"pri_net", "pri_cpe", NULL};

/* In enum sim_action's order. */
static const char *const action_names[] = {
	"echo", "milliwatt", "dtmf-echo", "record", "play", "busy",
	"unallocated", "congestion", "noanswer", "alert", "fax-send",
	"fax-receive", "silence", NULL,
};

/** The config name of a number's behaviour. */
const char *sim_action_name(enum sim_action act)
{
	if ((size_t)act >= GW_ARRAY_SIZE(action_names) - 1)
		return "?";
	return action_names[act];
}

/** The media an answering behaviour runs once the call is up. */
bool sim_action_media(enum sim_action act, enum sim_media *mediap)
{
	static const struct {
		enum sim_action act;
		enum sim_media media;
	} map[] = {
		{SIM_ACT_ECHO, SIM_MEDIA_ECHO},
		{SIM_ACT_MILLIWATT, SIM_MEDIA_MILLIWATT},
		{SIM_ACT_DTMF_ECHO, SIM_MEDIA_DTMF_ECHO},
		{SIM_ACT_RECORD, SIM_MEDIA_RECORD},
		{SIM_ACT_PLAY, SIM_MEDIA_PLAY},
		{SIM_ACT_ALERT, SIM_MEDIA_SILENCE},
		{SIM_ACT_FAX_SEND, SIM_MEDIA_FAX_SEND},
		{SIM_ACT_FAX_RECEIVE, SIM_MEDIA_FAX_RECEIVE},
		{SIM_ACT_SILENCE, SIM_MEDIA_SILENCE},
	};
	size_t i;

	for (i = 0; i < GW_ARRAY_SIZE(map); i++) {
		if (map[i].act == act) {
			if (mediap)
				*mediap = map[i].media;
			return true;
		}
	}
	return false;
}

/** The Q.850 cause a rejecting behaviour clears with; 0 for the others. */
int sim_action_cause(enum sim_action act)
{
	switch (act) {
	case SIM_ACT_BUSY:
		return 17;	/* user busy */
	case SIM_ACT_UNALLOCATED:
		return 1;	/* unallocated (unassigned) number */
	case SIM_ACT_CONGESTION:
		return 34;	/* no circuit/channel available */
	default:
		return 0;
	}
}

/* ---- [pstnsim] ------------------------------------------------------- */

static int check_main(void *data, const char *label, char *err,
		      size_t errlen)
{
	struct sim_main_conf *m = data;

	(void)label;
	if (gw_log_check_levels(m->log_level)) {
		snprintf(err, errlen, "log_level '%s' is not a level spec "
			 "(for example: info,sim=debug)", m->log_level);
		return EINVAL;
	}
	if (!*m->rundir) {
		snprintf(err, errlen, "rundir must not be empty");
		return EINVAL;
	}
	return 0;
}

static const struct gw_conf_key main_keys[] = {
	{"rundir", GW_CONF_STR, offsetof(struct sim_main_conf, rundir),
	 "${JUNCTION_RUNDIR:-/tmp/junction-demo}", 0, 4000, NULL, 0,
	 "directory for the control socket, the span sockets and "
	 "recordings; relative paths in this file resolve against it"},
	{"socket", GW_CONF_STR, offsetof(struct sim_main_conf, socket),
	 "pstnsim.sock", 1, 107, NULL, 0,
	 "control socket (JSON lines)"},
	{"log_level", GW_CONF_STR, offsetof(struct sim_main_conf, log_level),
	 "info", 0, 500, NULL, 0,
	 "default level, then module=level pairs: error, warn, info, debug "
	 "(for example: info,sim=debug)"},
	{NULL},
};

/* ---- [span N] -------------------------------------------------------- */

/* A span label is its number, 1..255. */
static bool span_label_ok(const char *label, unsigned *idp)
{
	char *end;
	unsigned long v;

	if (!label || !isdigit((unsigned char)*label))
		return false;
	v = strtoul(label, &end, 10);
	if (*end || v < 1 || v > 255)
		return false;
	if (idp)
		*idp = (unsigned)v;
	return true;
}

static int check_span(void *data, const char *label, char *err,
		      size_t errlen)
{
	struct sim_span_conf *s = data;
	enum tdm_pri_switch sw;
	bool e1;

	if (!span_label_ok(label, NULL)) {
		snprintf(err, errlen, "the label is the span number, 1 to "
			 "255");
		return EINVAL;
	}
	if (!*s->switchtype)
		return 0;
	if (tdm_pri_switch_parse(s->switchtype, &sw)) {
		snprintf(err, errlen, "switchtype '%s' is not one of "
			 "euroisdn_e1, euroisdn_t1, national, ni1, dms100, "
			 "4ess, 5ess, qsig", s->switchtype);
		return EINVAL;
	}
	/* hw/pri takes the line's channel numbering from the switch type:
	 * EuroISDN E1 and Q.SIG are E1, the others T1. */
	e1 = sw == TDM_PRI_EUROISDN_E1 || sw == TDM_PRI_QSIG;
	if (e1 != (s->type == SIM_SPAN_E1)) {
		snprintf(err, errlen, "switchtype %s does not run on %s",
			 s->switchtype, s->type == SIM_SPAN_E1 ? "E1" : "T1");
		return EINVAL;
	}
	return 0;
}

static const struct gw_conf_key span_keys[] = {
	{"type", GW_CONF_ENUM, offsetof(struct sim_span_conf, type),
	 "e1", 0, 0, type_names, 0,
	 "e1 (A-law, 30 B-channels, D on 16) or t1 (mu-law, 23 B, D on 24)"},
	{"signalling", GW_CONF_ENUM, offsetof(struct sim_span_conf, signalling),
	 "pri_net", 0, 0, sig_names, 0,
	 "pri_net: pstnsim is the network side, as a public switch is; "
	 "pri_cpe: to test the gateway as the network side"},
	{"switchtype", GW_CONF_STR, offsetof(struct sim_span_conf, switchtype),
	 "", 0, 32, NULL, 0,
	 "euroisdn_e1, euroisdn_t1, national, ni1, dms100, 4ess, 5ess or "
	 "qsig; empty: euroisdn_e1 on E1, national on T1"},
	{"dchan", GW_CONF_STR, offsetof(struct sim_span_conf, dchan),
	 "", 0, 107, NULL, 0,
	 "D-channel socket, where the gateway's junctiond connects; "
	 "empty: spanN.dchan in rundir"},
	{"bearer", GW_CONF_STR, offsetof(struct sim_span_conf, bearer),
	 "", 0, 107, NULL, 0,
	 "bearer socket, where the gateway's junction-mg connects; "
	 "empty: spanN.bearer in rundir"},
	{"exclusive", GW_CONF_BOOL, offsetof(struct sim_span_conf, exclusive),
	 "yes", 0, 0, NULL, 0,
	 "calls pstnsim originates name their B-channel as exclusive "
	 "(a network's habit), not preferred"},
	{NULL},
};

/* ---- [number PREFIX] ------------------------------------------------- */

static bool digits_only(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
	}
	return true;
}

static int check_number(void *data, const char *label, char *err,
			size_t errlen)
{
	struct sim_number_conf *n = data;
	enum sim_action act = (enum sim_action)n->behaviour;

	if (!digits_only(label)) {
		snprintf(err, errlen, "the label is the number's leading "
			 "digits, 0-9 only");
		return EINVAL;
	}
	if ((act == SIM_ACT_RECORD || act == SIM_ACT_PLAY ||
	     act == SIM_ACT_FAX_SEND) && !*n->file) {
		snprintf(err, errlen, "behaviour %s needs a file",
			 sim_action_name(act));
		return EINVAL;
	}
	if (*n->file && act != SIM_ACT_RECORD && act != SIM_ACT_PLAY &&
	    act != SIM_ACT_FAX_SEND && act != SIM_ACT_FAX_RECEIVE) {
		snprintf(err, errlen, "behaviour %s takes no file",
			 sim_action_name(act));
		return EINVAL;
	}
	if (n->cause && act == SIM_ACT_NOANSWER) {
		snprintf(err, errlen, "behaviour noanswer never clears, so "
			 "it takes no cause");
		return EINVAL;
	}
	return 0;
}

static const struct gw_conf_key number_keys[] = {
	{"behaviour", GW_CONF_ENUM,
	 offsetof(struct sim_number_conf, behaviour),
	 "echo", 0, 0, action_names, GW_CONF_REQUIRED,
	 "echo, milliwatt, dtmf-echo, record, play, silence, fax-send, "
	 "fax-receive (answer and do that); busy, unallocated, congestion "
	 "(clear with cause 17, 1, 34); noanswer (alert forever); alert "
	 "(alert alert_s seconds, then answer with silence)"},
	{"file", GW_CONF_STR, offsetof(struct sim_number_conf, file),
	 "", 0, 4000, NULL, 0,
	 "record: where (.wav: a WAV file, else raw companded bytes); "
	 "play: what (the same, looped); fax-send: the TIFF to send; "
	 "fax-receive: where to write the TIFF (empty: fax-CALL.tif); "
	 "relative to rundir"},
	{"delay_ms", GW_CONF_INT, offsetof(struct sim_number_conf, delay_ms),
	 "500", 0, 10000, NULL, 0,
	 "echo: how late the audio comes back (whole 20 ms frames)"},
	{"answer_delay_ms", GW_CONF_INT,
	 offsetof(struct sim_number_conf, answer_delay_ms),
	 "200", 0, 600000, NULL, 0,
	 "how long the line alerts before it answers"},
	{"alert_s", GW_CONF_INT, offsetof(struct sim_number_conf, alert_s),
	 "5", 0, 3600, NULL, 0,
	 "alert: seconds of alerting before the answer"},
	{"call_length_s", GW_CONF_INT,
	 offsetof(struct sim_number_conf, call_length_s),
	 "0", 0, 86400, NULL, 0,
	 "hang up this long after the answer; 0: stay until the caller "
	 "hangs up"},
	{"cause", GW_CONF_INT, offsetof(struct sim_number_conf, cause),
	 "0", 0, 127, NULL, 0,
	 "Q.850 cause: what busy, unallocated or congestion clear with, "
	 "or what an answered call hangs up with after call_length_s; "
	 "0: the behaviour's own (17, 1, 34; 16 normal clearing)"},
	{NULL},
};

const struct gw_conf_section sim_conf_schema[] = {
	{"pstnsim", false, sizeof(struct sim_main_conf), main_keys,
	 "the simulated switch itself", check_main},
	{"span", true, sizeof(struct sim_span_conf), span_keys,
	 "a span pstnsim stands at the far end of (label: its number)",
	 check_span},
	{"number", true, sizeof(struct sim_number_conf), number_keys,
	 "what a called number does (label: its leading digits; the "
	 "longest matching prefix wins)", check_number},
	{NULL},
};

/** Load path with pstnsim's schema; errors as "file:line: reason". */
int sim_conf_read(struct gw_conf **confp, const char *path, char *err,
		  size_t errlen)
{
	return gw_conf_load(confp, path, sim_conf_schema, err, errlen);
}

/** [pstnsim] */
const struct sim_main_conf *sim_conf_main(const struct gw_conf *conf)
{
	return gw_conf_get(conf, "pstnsim", NULL);
}

/** path as given if absolute, else under [pstnsim] rundir. */
char *sim_conf_runpath(const struct gw_conf *conf, const char *path)
{
	if (path[0] == '/')
		return gw_mem_strdup(path);
	return gw_mem_printf("%s/%s", sim_conf_main(conf)->rundir, path);
}

/**
 * The [number] whose label is the longest prefix of digits (a called
 * number may carry more digits than its prefix), or NULL.
 */
const struct sim_number_conf *sim_conf_number(const struct gw_conf *conf,
					      const char *digits,
					      const char **prefixp)
{
	const struct sim_number_conf *n, *best = NULL;
	const char *label, *best_label = NULL;
	size_t i, len, best_len = 0;

	for (i = 0; (n = gw_conf_nth(conf, "number", i, &label)); i++) {
		len = strlen(label);
		if (len > best_len && !strncmp(digits, label, len)) {
			best = n;
			best_label = label;
			best_len = len;
		}
	}
	if (best && prefixp)
		*prefixp = best_label;
	return best;
}
