/* core/log.c - levelled logging per module: stderr in the foreground, syslog otherwise */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "core.h"

#define LOG_MAX_MODULES 32
#define LOG_MODNAME 24

/*
 * Levels are set from the main thread (config, status socket) and read
 * from every thread; a torn read can only let one line through or hold
 * one back, so there is no lock.  max_level, the most verbose level of
 * any module, lets a disabled call return before any string compare.
 */
static struct {
	char name[LOG_MODNAME];
	enum gw_log_level level;
} modules[LOG_MAX_MODULES];
static unsigned nmodules;
static enum gw_log_level default_level = GW_LOG_INFO;
static enum gw_log_level max_level = GW_LOG_INFO;

static char ident_buf[32] = "junction";
static bool foreground = true;
static bool syslog_open;
static gw_log_h *handler;
static void *handler_arg;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/** The level's name: "error", "warn", "info" or "debug". */
const char *gw_log_level_name(enum gw_log_level level)
{
	return (unsigned)level < GW_ARRAY_SIZE(level_names) ?
		level_names[level] : "?";
}

/** Parse a level name ("warning" and "err" are accepted too). */
int gw_log_level_parse(const char *name, enum gw_log_level *levelp)
{
	unsigned i;

	if (!name)
		return EINVAL;
	for (i = 0; i < GW_ARRAY_SIZE(level_names); i++) {
		if (!strcasecmp(name, level_names[i])) {
			*levelp = (enum gw_log_level)i;
			return 0;
		}
	}
	if (!strcasecmp(name, "err")) {
		*levelp = GW_LOG_ERR;
		return 0;
	}
	if (!strcasecmp(name, "warning")) {
		*levelp = GW_LOG_WARN;
		return 0;
	}
	return EINVAL;
}

/** Log to stderr (foreground) or to syslog under ident. */
void gw_log_open(const char *ident, bool fg)
{
	snprintf(ident_buf, sizeof(ident_buf), "%s", ident);
	foreground = fg;
	if (!fg && !syslog_open) {
		openlog(ident_buf, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		syslog_open = true;
	}
}

/** Close syslog; later lines go to stderr. */
void gw_log_close(void)
{
	if (syslog_open)
		closelog();
	syslog_open = false;
	foreground = true;
}

/** Also hand every emitted line to h (NULL removes it). */
void gw_log_set_handler(gw_log_h *h, void *arg)
{
	handler = h;
	handler_arg = arg;
}

static void update_max(void)
{
	unsigned i;

	max_level = default_level;
	for (i = 0; i < nmodules; i++)
		if (modules[i].level > max_level)
			max_level = modules[i].level;
}

static int find_module(const char *module)
{
	unsigned i;

	for (i = 0; i < nmodules; i++)
		if (!strcmp(modules[i].name, module))
			return (int)i;
	return -1;
}

/**
 * Set the level of module; NULL, "" or "default" sets the level of every
 * module that has none of its own.
 */
int gw_log_set_level(const char *module, enum gw_log_level level)
{
	int i;

	if ((unsigned)level >= GW_ARRAY_SIZE(level_names))
		return EINVAL;
	if (!module || !*module || !strcmp(module, "default")) {
		default_level = level;
		update_max();
		return 0;
	}
	if (strlen(module) >= LOG_MODNAME)
		return ENAMETOOLONG;
	i = find_module(module);
	if (i < 0) {
		if (nmodules == LOG_MAX_MODULES)
			return ENOSPC;
		i = (int)nmodules++;
		strcpy(modules[i].name, module);
	}
	modules[i].level = level;
	update_max();
	return 0;
}

static int parse_levels(const char *spec, bool apply)
{
	char buf[512], *tok, *save = NULL;
	int err;

	if (strlen(spec) >= sizeof(buf))
		return ENAMETOOLONG;
	strcpy(buf, spec);
	for (tok = strtok_r(buf, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		char *eq = strchr(tok, '=');
		const char *mod = NULL, *lvl = tok;
		enum gw_log_level level;

		if (eq) {
			*eq = '\0';
			mod = tok;
			lvl = eq + 1;
			if (!*mod || strlen(mod) >= LOG_MODNAME)
				return EINVAL;
		}
		err = gw_log_level_parse(lvl, &level);
		if (err)
			return err;
		if (apply) {
			err = gw_log_set_level(mod, level);
			if (err)
				return err;
		}
	}
	return 0;
}

/** Whether spec is a valid level spec, without applying it. */
int gw_log_check_levels(const char *spec)
{
	return spec ? parse_levels(spec, false) : EINVAL;
}

/**
 * Replace every level with a spec such as "info,sip=debug,mg=warn": a
 * bare level is the default (info if none).  Nothing changes unless the
 * whole spec is valid.
 */
int gw_log_set_levels(const char *spec)
{
	int err = gw_log_check_levels(spec);

	if (err)
		return err;
	nmodules = 0;		/* the spec replaces every level */
	default_level = GW_LOG_INFO;
	return parse_levels(spec, true);
}

/** The level in force for module. */
enum gw_log_level gw_log_get_level(const char *module)
{
	int i = module ? find_module(module) : -1;

	return i < 0 ? default_level : modules[i].level;
}

/** {"default":"info","sip":"debug",...} */
json_t *gw_log_levels_json(void)
{
	json_t *o = json_object();
	unsigned i;

	if (!o)
		return NULL;
	json_object_set_new(o, "default",
			    json_string(gw_log_level_name(default_level)));
	for (i = 0; i < nmodules; i++)
		json_object_set_new(o, modules[i].name,
			json_string(gw_log_level_name(modules[i].level)));
	return o;
}

/** Whether a line of this level from module would be emitted. */
bool gw_log_enabled(const char *module, enum gw_log_level level)
{
	if (level > max_level)
		return false;
	return level <= gw_log_get_level(module);
}

/** Format and emit one line (gw_log's va_list form, for library hooks). */
void gw_vlog(enum gw_log_level level, const char *module, const char *fmt,
	     va_list ap)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	char msg[1024];
	size_t n;

	if (!gw_log_enabled(module, level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Library callbacks often end their lines with a newline. */
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';

	if (foreground || !syslog_open) {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s %-5s %s: %s\n", when,
			ts.tv_nsec / 1000000, ident_buf,
			gw_log_level_name(level), module, msg);
	} else {
		syslog(prio[level], "%s: %s", module, msg);
	}
	if (handler)
		handler(level, module, msg, handler_arg);
}

/** Emit one line at level from module, if enabled. */
void gw_log(enum gw_log_level level, const char *module, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gw_vlog(level, module, fmt, ap);
	va_end(ap);
}

/** gw_log, adding how many lines the rate limiter held back, if any. */
void gw_log_limited(enum gw_log_level level, const char *module,
		    unsigned suppressed, const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (suppressed)
		gw_log(level, module, "%s (%u more suppressed)", msg,
		       suppressed);
	else
		gw_log(level, module, "%s", msg);
}

/**
 * Rate limit: true at most once per interval_ms for lim; *suppressedp
 * gets how many calls were held back since the last pass.
 */
bool gw_log_limit_pass(struct gw_log_limit *lim, uint64_t interval_ms,
		       unsigned *suppressedp)
{
	uint64_t now = gw_now_ms();

	if (lim->last_ms && now - lim->last_ms < interval_ms) {
		lim->suppressed++;
		return false;
	}
	lim->last_ms = now;
	*suppressedp = lim->suppressed;
	lim->suppressed = 0;
	return true;
}
