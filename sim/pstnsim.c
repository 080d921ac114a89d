/* sim/pstnsim.c - pstnsim's main: config, spans, the control socket */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GW_LOG_MOD "sim"
#include "tdm.h"
#include "sim.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0"
#endif

/*
 * pstnsim runs in the foreground only and logs to stderr: it is a test
 * peer, started by the demo script or a test harness, which holds its
 * output.  SIGINT or SIGTERM stop it; SIGHUP does not reload (there is
 * nothing to carry over that a restart would not do as well).
 *
 * The control socket speaks DESIGN.md's JSON lines.  Every command checks
 * every field it is given: an unknown one is an error naming it, never
 * a silent ok.
 */

struct pstnsim {
	const char *conf_path;
	struct gw_conf *conf;
	struct sim_switch *sw;
	struct gw_ctl *ctl;
	struct gw_tmr stop_tmr;
	uint64_t start_ms;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pstnsim -c FILE [-t] [-V]\n"
		"The simulated PSTN switch at the far end of Junction's "
		"virtual spans.\n\n"
		"  -c FILE          configuration file (etc/pstnsim-demo.conf "
		"for the demo)\n"
		"  -t               check the configuration and exit\n"
		"  -V               print the version and exit\n"
		"  --dump-config    print every key with its default and exit\n"
		"\nIt runs in the foreground and logs to stderr; SIGINT or "
		"SIGTERM stop it.\n");
}

/* ---- request checking ----------------------------------------------- */

/* Fields every request may carry, for the socket itself. */
static bool envelope_field(const char *key)
{
	return !strcmp(key, "cmd") || !strcmp(key, "id");
}

/* Every field of msg is one of allowed (a NULL-terminated list) or the
 * envelope's; else answer with an error naming it and return false. */
static bool fields_ok(struct gw_ctl_req *req, json_t *msg,
		      const char *const *allowed)
{
	const char *cmd = json_string_value(json_object_get(msg, "cmd"));
	const char *key;
	json_t *val;
	size_t i;

	json_object_foreach(msg, key, val) {
		bool ok = envelope_field(key);

		for (i = 0; !ok && allowed[i]; i++)
			ok = !strcmp(key, allowed[i]);
		if (!ok) {
			gw_ctl_error(req, "unknown field '%.100s' for '%s'",
				     key, cmd);
			return false;
		}
	}
	return true;
}

/* A span number field: required, an integer of a span we have. */
static bool get_span(struct gw_ctl_req *req, json_t *msg, struct pstnsim *p,
		     unsigned *spanp)
{
	json_t *v = json_object_get(msg, "span");
	json_int_t n;

	if (!v) {
		gw_ctl_error(req, "'span' is required");
		return false;
	}
	if (!json_is_integer(v)) {
		gw_ctl_error(req, "'span' must be an integer");
		return false;
	}
	n = json_integer_value(v);
	if (n < 1 || n > 255 || !sim_switch_has_span(p->sw, (unsigned)n)) {
		gw_ctl_error(req, "no span %lld", (long long)n);
		return false;
	}
	*spanp = (unsigned)n;
	return true;
}

static bool get_bool(struct gw_ctl_req *req, json_t *msg, const char *name,
		     bool *vp)
{
	json_t *v = json_object_get(msg, name);

	if (!v) {
		gw_ctl_error(req, "'%s' is required", name);
		return false;
	}
	if (!json_is_boolean(v)) {
		gw_ctl_error(req, "'%s' must be true or false", name);
		return false;
	}
	*vp = json_is_true(v);
	return true;
}

/* An optional integer field in min..max; *vp keeps its default if the
 * field is absent. */
static bool get_int(struct gw_ctl_req *req, json_t *msg, const char *name,
		    long long min, long long max, long long *vp)
{
	json_t *v = json_object_get(msg, name);

	if (!v)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		gw_ctl_error(req, "'%s' must be an integer from %lld to %lld",
			     name, min, max);
		return false;
	}
	*vp = json_integer_value(v);
	return true;
}

/* A dialled number: 1 to 31 of 0-9, '*', '#'. */
static bool get_number(struct gw_ctl_req *req, json_t *msg, const char *name,
		       const char **vp)
{
	json_t *v = json_object_get(msg, name);
	const char *s;
	size_t len;

	if (!v) {
		gw_ctl_error(req, "'%s' is required", name);
		return false;
	}
	/* junctionctl's key=value sends 5551234 as an integer: take it as
	 * the digits it was typed as. */
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		json_object_set_new(msg, name, json_sprintf("%" JSON_INTEGER_FORMAT,
							    json_integer_value(v)));
		v = json_object_get(msg, name);
	}
	s = json_string_value(v);
	len = s ? strlen(s) : 0;
	if (!s || !len || len > 31 || strspn(s, "0123456789*#") != len) {
		gw_ctl_error(req, "'%s' must be a number: 1 to 31 digits "
			     "(0-9, *, #)", name);
		return false;
	}
	*vp = s;
	return true;
}

/* ---- commands -------------------------------------------------------- */

static void cmd_status(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	static const char *const fields[] = {NULL};
	struct pstnsim *p = arg;
	json_t *o, *spans, *brief, *s, *calls, *c;
	size_t i, active = 0;

	if (!fields_ok(req, msg, fields))
		return;
	spans = sim_switch_spans_json(p->sw);
	calls = sim_switch_calls_json(p->sw);
	brief = json_array();
	json_array_foreach(spans, i, s) {
		json_array_append_new(brief, json_pack("{s:O,s:O,s:O,s:O}",
			"id", json_object_get(s, "id"),
			"state", json_object_get(s, "state"),
			"dchan", json_object_get(s, "dchan"),
			"alarms", json_object_get(s, "alarms")));
	}
	json_array_foreach(calls, i, c) {
		if (strcmp(json_string_value(json_object_get(c, "state")),
			   "released"))
			active++;
	}
	o = json_object();
	json_object_set_new(o, "program", json_string("pstnsim"));
	json_object_set_new(o, "version", json_string(PACKAGE_VERSION));
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "uptime_s", json_integer(
		(json_int_t)((gw_now_ms() - p->start_ms) / 1000)));
	json_object_set_new(o, "config", json_string(p->conf_path));
	json_object_set_new(o, "spans", brief);
	json_object_set_new(o, "calls", json_pack("{s:I,s:I}",
		"active", (json_int_t)active,
		"listed", (json_int_t)json_array_size(calls)));
	json_decref(spans);
	json_decref(calls);
	gw_ctl_reply(req, o);
}

static void cmd_spans(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	static const char *const fields[] = {NULL};
	struct pstnsim *p = arg;

	if (!fields_ok(req, msg, fields))
		return;
	gw_ctl_reply(req, json_pack("{s:o}", "spans",
				    sim_switch_spans_json(p->sw)));
}

static void cmd_calls(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	static const char *const fields[] = {NULL};
	struct pstnsim *p = arg;

	if (!fields_ok(req, msg, fields))
		return;
	gw_ctl_reply(req, json_pack("{s:o}", "calls",
				    sim_switch_calls_json(p->sw)));
}

static void cmd_call(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	static const char *const fields[] = {
		"from", "to", "span", "then", "file", "delay_ms",
		"call_length_s", "overlap", "digit_ms", "hash", NULL,
	};
	struct pstnsim *p = arg;
	struct sim_call_req cr = {0};
	json_t *then = json_object_get(msg, "then");
	json_t *file = json_object_get(msg, "file");
	long long delay = 500, length = 0, overlap = 0, digit_ms = 200;
	char *id = NULL;
	int err;

	if (!fields_ok(req, msg, fields) ||
	    !get_number(req, msg, "from", &cr.from) ||
	    !get_number(req, msg, "to", &cr.to) ||
	    !get_span(req, msg, p, &cr.span) ||
	    !get_int(req, msg, "delay_ms", 0, 10000, &delay) ||
	    !get_int(req, msg, "call_length_s", 0, 86400, &length) ||
	    !get_int(req, msg, "overlap", 0, 31, &overlap) ||
	    !get_int(req, msg, "digit_ms", 10, 30000, &digit_ms))
		return;
	if (json_object_get(msg, "hash") &&
	    !get_bool(req, msg, "hash", &cr.hash))
		return;
	cr.then.media = SIM_MEDIA_SILENCE;
	if (then && (!json_is_string(then) ||
		     sim_media_parse(json_string_value(then),
				     &cr.then.media))) {
		gw_ctl_error(req, "'then' must be one of silence, echo, "
			     "milliwatt, dtmf-echo, record, play, fax-send, "
			     "fax-receive");
		return;
	}
	if (file && (!json_is_string(file) ||
		     !*json_string_value(file))) {
		gw_ctl_error(req, "'file' must be a file name");
		return;
	}
	cr.then.file = json_string_value(file);
	switch (cr.then.media) {
	case SIM_MEDIA_RECORD:
	case SIM_MEDIA_PLAY:
	case SIM_MEDIA_FAX_SEND:
		if (!file) {
			gw_ctl_error(req, "'then' %s needs a 'file'",
				     sim_media_name(cr.then.media));
			return;
		}
		break;
	case SIM_MEDIA_FAX_RECEIVE:
		break;
	default:
		if (file) {
			gw_ctl_error(req, "'then' %s takes no 'file'",
				     sim_media_name(cr.then.media));
			return;
		}
		break;
	}
	if (json_object_get(msg, "delay_ms") &&
	    cr.then.media != SIM_MEDIA_ECHO) {
		gw_ctl_error(req, "'delay_ms' is for 'then' echo only");
		return;
	}
	cr.then.delay_ms = (unsigned)delay;
	cr.call_length_s = (unsigned)length;
	cr.overlap = (unsigned)overlap;
	cr.digit_ms = (unsigned)digit_ms;

	err = sim_switch_call(p->sw, &cr, &id);
	switch (err) {
	case 0:
		/* "id" is DESIGN.md's field; "call" carries the same for
		 * a request whose own "id" the socket echoes instead. */
		gw_ctl_reply(req, json_pack("{s:s,s:s}", "id", id,
					    "call", id));
		break;
	case ENOTCONN:
		gw_ctl_error(req, "span %u: D-channel is down", cr.span);
		break;
	case EBUSY:
		gw_ctl_error(req, "span %u: no free channel", cr.span);
		break;
	default:
		gw_ctl_error(req, "call failed: %s", strerror(err));
		break;
	}
	gw_mem_deref(id);
}

static void cmd_hangup(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	static const char *const fields[] = {"cause", NULL};
	struct pstnsim *p = arg;
	const char *id = json_string_value(json_object_get(msg, "id"));
	long long cause = 16;
	int err;

	if (!fields_ok(req, msg, fields) ||
	    !get_int(req, msg, "cause", 1, 127, &cause))
		return;
	if (!id) {
		gw_ctl_error(req, "'id' (a call id string) is required");
		return;
	}
	err = sim_switch_hangup(p->sw, id, (int)cause);
	if (err == ENOENT)
		gw_ctl_error(req, "no call '%.100s'", id);
	else if (err == EALREADY)
		gw_ctl_error(req, "call '%.100s' is already cleared", id);
	else if (err)
		gw_ctl_error(req, "hangup failed: %s", strerror(err));
	else
		gw_ctl_reply(req, NULL);
}

static void cmd_dchan(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	static const char *const fields[] = {"span", "up", NULL};
	struct pstnsim *p = arg;
	unsigned span;
	bool up;
	int err;

	if (!fields_ok(req, msg, fields) || !get_span(req, msg, p, &span) ||
	    !get_bool(req, msg, "up", &up))
		return;
	err = sim_switch_dchan(p->sw, span, up);
	if (err) {
		gw_ctl_error(req, "dchan failed: %s", strerror(err));
		return;
	}
	GW_INFO("span %u: D-channel %s by request", span,
		up ? "restored" : "failed");
	gw_ctl_reply(req, NULL);
}

/* "ts": a B-channel, or 0 (the default) for all of them. */
static bool get_ts(struct gw_ctl_req *req, json_t *msg, unsigned *tsp)
{
	json_t *ts = json_object_get(msg, "ts");

	if (!ts) {
		*tsp = 0;
		return true;
	}
	if (!json_is_integer(ts) || json_integer_value(ts) < 0 ||
	    json_integer_value(ts) > 31) {
		gw_ctl_error(req, "'ts' must be a timeslot 1..31, or 0 for "
			     "all");
		return false;
	}
	*tsp = (unsigned)json_integer_value(ts);
	return true;
}

static void cmd_restart(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	static const char *const fields[] = {"span", "ts", NULL};
	struct pstnsim *p = arg;
	unsigned span, ts;
	int err;

	if (!fields_ok(req, msg, fields) || !get_span(req, msg, p, &span) ||
	    !get_ts(req, msg, &ts))
		return;
	err = sim_switch_restart(p->sw, span, ts);
	if (err) {
		gw_ctl_error(req, "restart failed: %s", err == EINVAL ?
			     "not a B-channel" : strerror(err));
		return;
	}
	GW_INFO("span %u: RESTART of %s by request", span,
		ts ? "one channel" : "every channel");
	gw_ctl_reply(req, NULL);
}

static void cmd_service(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	static const char *const fields[] = {"span", "ts", "in", NULL};
	struct pstnsim *p = arg;
	unsigned span, ts;
	bool in;
	int err;

	if (!fields_ok(req, msg, fields) || !get_span(req, msg, p, &span) ||
	    !get_ts(req, msg, &ts) || !get_bool(req, msg, "in", &in))
		return;
	err = sim_switch_service(p->sw, span, ts, in);
	if (err) {
		gw_ctl_error(req, "service failed: %s", err == ENOTSUP ?
			     "this switch type has no SERVICE messages" :
			     err == EINVAL ? "not a B-channel" :
			     strerror(err));
		return;
	}
	GW_INFO("span %u: %s %s service by request", span,
		ts ? "one channel" : "every channel", in ? "in" : "out of");
	gw_ctl_reply(req, NULL);
}

static void cmd_alarm(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	static const char *const fields[] = {"span", "alarm", "on", NULL};
	static const struct {
		const char *name;
		unsigned bit;
	} alarms[] = {
		{"los", TDM_ALARM_LOS},
		{"ais", TDM_ALARM_AIS},
		{"rai", TDM_ALARM_RAI},
		{"lof", TDM_ALARM_LOF},
	};
	struct pstnsim *p = arg;
	const char *name = json_string_value(json_object_get(msg, "alarm"));
	unsigned span, bit = 0;
	size_t i;
	bool on;
	int err;

	if (!fields_ok(req, msg, fields) || !get_span(req, msg, p, &span))
		return;
	for (i = 0; name && i < GW_ARRAY_SIZE(alarms); i++) {
		if (!strcmp(name, alarms[i].name))
			bit = alarms[i].bit;
	}
	if (!bit) {
		gw_ctl_error(req, "'alarm' must be one of los, ais, rai, lof");
		return;
	}
	if (!get_bool(req, msg, "on", &on))
		return;
	err = sim_switch_alarm(p->sw, span, bit, on);
	if (err) {
		gw_ctl_error(req, "alarm failed: %s", strerror(err));
		return;
	}
	GW_INFO("span %u: %s %s by request", span, name,
		on ? "raised" : "cleared");
	gw_ctl_reply(req, NULL);
}

static void bearer_test_done(int err, json_t *result, void *arg)
{
	struct gw_ctl_req *req = arg;

	if (err)
		gw_ctl_error(req, "bearer test stopped: %s", strerror(err));
	else
		gw_ctl_reply(req, result);
}

/* Answered when the test ends, seconds from now. */
static void cmd_bearer_test(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	static const char *const fields[] = {"span", "seconds", NULL};
	struct pstnsim *p = arg;
	long long seconds = 10;
	unsigned span;
	int err;

	if (!fields_ok(req, msg, fields) || !get_span(req, msg, p, &span) ||
	    !get_int(req, msg, "seconds", 1, 600, &seconds))
		return;
	err = sim_switch_bearer_test(p->sw, span, (unsigned)seconds,
				     bearer_test_done, req);
	if (err == ENOTCONN)
		gw_ctl_error(req, "span %u: the bearer is not connected",
			     span);
	else if (err == EBUSY)
		gw_ctl_error(req, "span %u: a bearer test is running", span);
	else if (err)
		gw_ctl_error(req, "bearer test failed: %s", strerror(err));
}

static void stop_soon(void *arg)
{
	(void)arg;
	gw_loop_stop();
}

static void cmd_shutdown(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	static const char *const fields[] = {NULL};
	struct pstnsim *p = arg;

	if (!fields_ok(req, msg, fields))
		return;
	GW_INFO("shutdown requested on the control socket");
	gw_ctl_reply(req, NULL);
	/* Let the loop flush the reply first. */
	gw_tmr_start(&p->stop_tmr, 10, stop_soon, p);
}

static int ctl_start(struct pstnsim *p)
{
	static const struct {
		const char *name;
		gw_ctl_cmd_h *h;
		const char *help;
	} cmds[] = {
		{"status", cmd_status,
		 "program, version, pid, and each span's state"},
		{"spans", cmd_spans,
		 "spans: state, D-channel, alarms, channels, counters"},
		{"calls", cmd_calls,
		 "calls with their state and what each observed"},
		{"call", cmd_call,
		 "originate: from, to, span, then (what to do once "
		 "answered), file, delay_ms, call_length_s"},
		{"hangup", cmd_hangup, "clear call id (cause, default 16)"},
		{"dchan", cmd_dchan,
		 "take a span's D-channel down (up: false) or up again"},
		{"alarm", cmd_alarm,
		 "raise (on: true) or clear an alarm (los, ais, rai) on a "
		 "span"},
		{"bearer_test", cmd_bearer_test,
		 "send numbered frames on every free B-channel of span for "
		 "seconds (default 10) and check them back from a line "
		 "loopback: frames, timeslots, bad, slips"},
		{"restart", cmd_restart,
		 "send RESTART for a B-channel (ts) or all of a span"},
		{"service", cmd_service,
		 "SERVICE: take a B-channel (ts) or all out of (in: false) "
		 "or into service; national, 4ess, 5ess only"},
		{"shutdown", cmd_shutdown, "stop pstnsim"},
	};
	const struct sim_main_conf *m = sim_conf_main(p->conf);
	char *path = sim_conf_runpath(p->conf, m->socket);
	size_t i;
	int err;

	if (!path)
		return ENOMEM;
	err = gw_ctl_alloc(&p->ctl, path, NULL);
	if (err == EADDRINUSE)
		GW_ERR("%s: in use by a running pstnsim; not starting a "
		       "second one", path);
	else if (err)
		GW_ERR("%s: cannot listen: %s", path, strerror(err));
	else
		GW_INFO("control socket %s", path);
	gw_mem_deref(path);
	for (i = 0; !err && i < GW_ARRAY_SIZE(cmds); i++)
		err = gw_ctl_register(p->ctl, cmds[i].name, cmds[i].h, p,
				      cmds[i].help);
	return err;
}

/* ---- main ------------------------------------------------------------ */

static void on_signal(int sig, void *arg)
{
	(void)arg;
	switch (sig) {
	case SIGHUP:
		GW_WARN("SIGHUP: pstnsim does not reload; restart it to "
			"apply a new configuration");
		break;
	case SIGINT:
	case SIGTERM:
		GW_INFO("%s: stopping", strsignal(sig));
		gw_loop_stop();
		break;
	default:
		break;
	}
}

/** pstnsim: load the config, start the spans, serve until a signal. */
int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"dump-config", no_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct pstnsim p = {0};
	char err[4096];
	bool check_only = false;
	int c, e, status = 1;

	gw_tmr_init(&p.stop_tmr);
	while ((c = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			p.conf_path = optarg;
			break;
		case 't':
			check_only = true;
			break;
		case 'V':
			printf("pstnsim %s\n", PACKAGE_VERSION);
			return 0;
		case 'D':
			gw_conf_dump(sim_conf_schema, stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !p.conf_path) {
		usage(stderr);
		return 2;
	}

	e = sim_conf_read(&p.conf, p.conf_path, err, sizeof(err));
	if (e) {
		fprintf(stderr, "%s", err);
		if (err[0] && err[strlen(err) - 1] != '\n')
			fputc('\n', stderr);
		fprintf(stderr, "pstnsim: configuration %s is not valid\n",
			p.conf_path);
		return 1;
	}
	if (check_only) {
		printf("pstnsim: configuration %s is valid\n", p.conf_path);
		gw_mem_deref(p.conf);
		return 0;
	}
	e = gw_mkdir_p(sim_conf_main(p.conf)->rundir);
	if (e) {
		fprintf(stderr, "pstnsim: cannot create %s: %s\n",
			sim_conf_main(p.conf)->rundir, strerror(e));
		gw_mem_deref(p.conf);
		return 1;
	}

	gw_log_open("pstnsim", true);
	gw_log_set_levels(sim_conf_main(p.conf)->log_level);
	p.start_ms = gw_now_ms();
	e = gw_loop_init();
	if (!e)
		e = gw_loop_signals(on_signal, &p);
	if (e) {
		GW_ERR("cannot set up the event loop: %s", strerror(e));
		goto out;
	}

	e = sim_switch_alloc(&p.sw, p.conf);
	if (e) {
		GW_ERR("cannot set up the spans: %s", strerror(e));
		goto out;
	}
	e = ctl_start(&p);
	if (!e)
		e = sim_switch_start(p.sw);
	if (e)
		goto out;
	GW_INFO("pstnsim %s running (pid %d, config %s)", PACKAGE_VERSION,
		(int)getpid(), p.conf_path);

	e = gw_loop_run();
	if (e)
		GW_ERR("event loop failed: %s", strerror(e));
	else
		status = 0;
 out:
	gw_tmr_cancel(&p.stop_tmr);
	sim_switch_stop(p.sw);
	p.ctl = gw_mem_deref(p.ctl);
	p.sw = gw_mem_deref(p.sw);
	gw_loop_close();
	p.conf = gw_mem_deref(p.conf);
	if (gw_mem_live())
		GW_WARN("%zu memory blocks still live at exit", gw_mem_live());
	GW_INFO("pstnsim stopped");
	gw_log_close();
	return status;
}
