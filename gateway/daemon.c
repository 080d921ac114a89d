/* gateway/daemon.c - the daemon skeleton both programs run: args, config,
 * start-up and shutdown, reload, signals, systemd notification, status socket */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#define GW_LOG_MOD "main"
#include "gw.h"

struct gw_daemon {
	const struct gw_daemon_desc *desc;
	const char *conf_path;
	struct gw_conf *conf;
	bool foreground;
	bool use_syslog;
	bool stopping;
	size_t started;			/* subsystems started */
	uint64_t start_ms;
	time_t start_time;
	struct gw_ctl *ctl;
	struct gw_tmr wdog;
	struct gw_tmr stop_tmr;
	uint64_t wdog_ms;
	unsigned reloads;
	int ready_fd;			/* daemonized: tell the parent */
};

/** The config the daemon runs with. */
const struct gw_conf *gw_daemon_conf(const struct gw_daemon *d)
{
	return d->conf;
}

/** The daemon's status socket (NULL before the ctl subsystem starts). */
struct gw_ctl *gw_daemon_ctl(const struct gw_daemon *d)
{
	return d->ctl;
}

/** Whether the daemon runs in the foreground (-F). */
bool gw_daemon_foreground(const struct gw_daemon *d)
{
	return d->foreground;
}

/** Whether the daemon is shutting down. */
bool gw_daemon_stopping(const struct gw_daemon *d)
{
	return d->stopping;
}

/** The config file's path as given with -c. */
const char *gw_daemon_conf_path(const struct gw_daemon *d)
{
	return d->conf_path;
}

static void usage(const struct gw_daemon_desc *desc, FILE *f)
{
	fprintf(f,
		"usage: %s [-c FILE] [-F] [-S] [-t] [-V] [-h] [--dump-config]\n"
		"%s\n\n"
		"  -c FILE          configuration file (default %s/junction/junction.conf)\n"
		"  -F               stay in the foreground, log to stderr\n"
		"  -S               log to syslog even in the foreground\n"
		"  -t               check the configuration and exit\n"
		"  -V               print the version and exit\n"
		"  -h, --help       print this help and exit\n"
		"  --dump-config    print every key with its default and exit\n",
		desc->prog, desc->summary, SYSCONFDIR);
}

/* ---- Status commands every daemon answers --------------------------- */

static void cmd_status(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	struct gw_daemon *d = arg;
	json_t *o = json_object(), *subs = json_array();
	size_t i;

	(void)msg;
	json_object_set_new(o, "program", json_string(d->desc->prog));
	json_object_set_new(o, "version", json_string(PACKAGE_VERSION));
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "uptime_s",
			    json_integer((json_int_t)((gw_now_ms() -
						       d->start_ms) / 1000)));
	json_object_set_new(o, "started", json_integer(d->start_time));
	json_object_set_new(o, "config", json_string(d->conf_path));
	json_object_set_new(o, "reloads", json_integer(d->reloads));
	json_object_set_new(o, "state", json_string(d->stopping ?
						    "stopping" : "running"));
	for (i = 0; i < d->desc->nsubsys; i++) {
		const struct gw_subsys *s = d->desc->subsys[i];
		json_t *so = json_object();

		json_object_set_new(so, "name", json_string(s->name));
		json_object_set_new(so, "state", json_string(
			i < d->started ? "running" : "stopped"));
		if (s->status && i < d->started)
			s->status(d, so);
		json_array_append_new(subs, so);
	}
	json_object_set_new(o, "subsystems", subs);
	gw_ctl_reply(req, o);
}

static void cmd_log(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	const char *module = json_string_value(json_object_get(msg, "module"));
	const char *level = json_string_value(json_object_get(msg, "level"));
	const char *levels = json_string_value(json_object_get(msg, "levels"));
	enum gw_log_level lvl;
	json_t *o;

	(void)arg;
	if (levels) {
		if (gw_log_set_levels(levels)) {
			gw_ctl_error(req, "'%s' is not a level spec (for "
				     "example: info,sip=debug)", levels);
			return;
		}
		GW_INFO("log levels set to %s", levels);
	} else if (level) {
		if (gw_log_level_parse(level, &lvl)) {
			gw_ctl_error(req, "unknown level '%s' (error, warn, "
				     "info, debug)", level);
			return;
		}
		if (gw_log_set_level(module, lvl)) {
			gw_ctl_error(req, "cannot set a level for module "
				     "'%s'", module ? module : "");
			return;
		}
		GW_INFO("log level of %s set to %s",
			module ? module : "default", gw_log_level_name(lvl));
	} else if (module) {
		gw_ctl_error(req, "'module' needs a 'level'");
		return;
	}
	o = json_object();
	json_object_set_new(o, "levels", gw_log_levels_json());
	gw_ctl_reply(req, o);
}

static int daemon_reload(struct gw_daemon *d, json_t *warnings, char *err,
			 size_t errlen);

static void cmd_reload(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	struct gw_daemon *d = arg;
	json_t *warnings = json_array();
	char err[2048];
	json_t *o;

	(void)msg;
	if (daemon_reload(d, warnings, err, sizeof(err))) {
		json_decref(warnings);
		gw_ctl_error(req, "%s", err);
		return;
	}
	o = json_object();
	json_object_set_new(o, "warnings", warnings);
	gw_ctl_reply(req, o);
}

static void stop_soon(void *arg)
{
	struct gw_daemon *d = arg;

	d->stopping = true;
	gw_loop_stop();
}

static void cmd_shutdown(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	struct gw_daemon *d = arg;

	(void)msg;
	GW_INFO("shutdown requested on the status socket");
	gw_ctl_reply(req, NULL);
	/* Let the loop flush the reply before it stops. */
	gw_tmr_start(&d->stop_tmr, 10, stop_soon, d);
}

static int ctl_start(struct gw_daemon *d, const struct gw_conf *conf)
{
	char *path = gw_conf_runpath(conf, d->desc->socket_path(conf));
	int err;

	if (!path)
		return ENOMEM;
	err = gw_ctl_alloc(&d->ctl, path, NULL);
	if (err == EADDRINUSE)
		GW_ERR("%s: in use by a running daemon; not starting a "
		       "second one", path);
	else if (err)
		GW_ERR("%s: cannot listen: %s", path, strerror(err));
	gw_mem_deref(path);
	if (err)
		return err;
	gw_ctl_register(d->ctl, "status", cmd_status, d,
			"version, pid, uptime and the state of each subsystem");
	gw_ctl_register(d->ctl, "log", cmd_log, d,
			"get log levels; set with module+level or levels");
	gw_ctl_register(d->ctl, "reload", cmd_reload, d,
			"re-read the configuration (as SIGHUP)");
	gw_ctl_register(d->ctl, "shutdown", cmd_shutdown, d,
			"stop the daemon gracefully");
	return 0;
}

static void ctl_stop(struct gw_daemon *d)
{
	d->ctl = gw_mem_deref(d->ctl);
}

static void ctl_status(struct gw_daemon *d, json_t *o)
{
	json_object_set_new(o, "socket", json_string(gw_ctl_path(d->ctl)));
	json_object_set_new(o, "clients", json_integer(gw_ctl_clients(d->ctl)));
}

const struct gw_subsys gw_ctl_subsys = {
	.name = "ctl",
	.start = ctl_start,
	.stop = ctl_stop,
	.status = ctl_status,
};

/* ---- Reload (nginx's way: a bad new config leaves the old one) ------- */

/* Log each line of text at level, and collect them into lines if set. */
static void log_lines(enum gw_log_level level, const char *text,
		      json_t *lines)
{
	char buf[4096], *line, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", text);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		gw_log(level, GW_LOG_MOD, "  %s", line);
		if (lines)
			json_array_append_new(lines, json_string(line));
	}
}

static int daemon_reload(struct gw_daemon *d, json_t *warnings, char *err,
			 size_t errlen)
{
	struct gw_conf *conf;
	char warn[2048];
	size_t i;
	int e;

	sd_notify(0, "RELOADING=1");
	e = gw_conf_read(&conf, d->conf_path, err, errlen);
	if (e) {
		GW_ERR("reload failed, keeping the running configuration:");
		log_lines(GW_LOG_ERR, err, NULL);
		goto out;
	}
	warn[0] = '\0';
	if (gw_conf_keep_restart_keys(conf, d->conf, warn, sizeof(warn))) {
		GW_WARN("reload: some changes wait for a restart:");
		log_lines(GW_LOG_WARN, warn, warnings);
	}
	for (i = 0; i < d->started; i++)
		if (d->desc->subsys[i]->reload)
			d->desc->subsys[i]->reload(d, conf);
	gw_log_set_levels(gw_conf_general(conf)->log_level);
	gw_mem_deref(d->conf);
	d->conf = conf;
	d->reloads++;
	GW_INFO("configuration reloaded from %s", d->conf_path);
 out:
	sd_notify(0, "READY=1");
	return e;
}

/* ---- Signals, watchdog ---------------------------------------------- */

static void on_signal(int sig, void *arg)
{
	struct gw_daemon *d = arg;
	size_t i;

	switch (sig) {
	case SIGHUP:
		GW_INFO("SIGHUP: reloading %s", d->conf_path);
		{
			char err[2048];

			daemon_reload(d, NULL, err, sizeof(err));
		}
		return;
	case SIGTERM:
	case SIGINT:
		GW_INFO("%s: stopping", strsignal(sig));
		d->stopping = true;
		gw_loop_stop();
		return;
	default:
		break;
	}
	for (i = 0; i < d->started; i++)
		if (d->desc->subsys[i]->signal)
			d->desc->subsys[i]->signal(d, sig);
}

static void wdog_tick(void *arg)
{
	struct gw_daemon *d = arg;

	sd_notify(0, "WATCHDOG=1");
	gw_tmr_start(&d->wdog, d->wdog_ms, wdog_tick, d);
}

/**
 * Wait up to ms for child pid to exit, reaping it; a SIGTERM or SIGINT
 * that arrives meanwhile kills it at once (the second-signal rule).
 * Returns true once it is reaped, with its wait status in *statusp.
 */
bool gw_daemon_wait_child(struct gw_daemon *d, pid_t pid, uint64_t ms,
			  int *statusp)
{
	uint64_t end = gw_now_ms() + ms;
	sigset_t set;
	int status;

	(void)d;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	for (;;) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		int sig;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			if (statusp)
				*statusp = status;
			return true;
		}
		if (gw_now_ms() >= end)
			return false;
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			GW_WARN("%s again: killing pid %d now",
				strsignal(sig), (int)pid);
			kill(pid, SIGKILL);
		}
	}
}

/* ---- Start-up and shutdown ------------------------------------------ */

/*
 * Detach from the terminal.  The parent waits on a pipe until the child
 * has started every subsystem (or failed to), so that `junctiond` exits
 * non-zero when the daemon did not come up, with the reason on stderr.
 */
static int daemonize(struct gw_daemon *d)
{
	int fds[2], devnull;
	pid_t pid;
	char msg[512];
	ssize_t n;

	if (pipe(fds))
		return errno;
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid > 0) {
		close(fds[1]);
		n = read(fds[0], msg, sizeof(msg) - 1);
		if (n <= 0) {
			fprintf(stderr, "%s: the daemon died while starting\n",
				d->desc->prog);
			_exit(1);
		}
		msg[n] = '\0';
		if (strcmp(msg, "ok")) {
			fprintf(stderr, "%s: %s\n", d->desc->prog, msg);
			_exit(1);
		}
		_exit(0);
	}
	close(fds[0]);
	d->ready_fd = fds[1];
	setsid();
	if (chdir("/"))
		return errno;
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	return 0;
}

static void tell_parent(struct gw_daemon *d, const char *msg)
{
	if (d->ready_fd < 0)
		return;
	if (write(d->ready_fd, msg, strlen(msg)) < 0)
		GW_WARN("cannot report start-up to the parent: %s",
			strerror(errno));
	close(d->ready_fd);
	d->ready_fd = -1;
}

static void drain_subsystems(struct gw_daemon *d)
{
	size_t i = d->started;

	while (i > 0) {
		const struct gw_subsys *s = d->desc->subsys[--i];

		if (s->drain)
			s->drain(d);
	}
}

static void stop_subsystems(struct gw_daemon *d)
{
	while (d->started > 0) {
		const struct gw_subsys *s = d->desc->subsys[--d->started];

		GW_DBG("stopping %s", s->name);
		if (s->stop)
			s->stop(d);
	}
}

static int start_subsystems(struct gw_daemon *d)
{
	int err;

	for (d->started = 0; d->started < d->desc->nsubsys; d->started++) {
		const struct gw_subsys *s = d->desc->subsys[d->started];

		GW_DBG("starting %s", s->name);
		err = s->start ? s->start(d, d->conf) : 0;
		if (err) {
			GW_ERR("%s did not start: %s", s->name, strerror(err));
			stop_subsystems(d);
			return err;
		}
	}
	return 0;
}

/**
 * The whole life of a daemon: parse arguments, load the configuration,
 * start the subsystems bottom-up, run the loop, stop them top-down.
 * Returns the process exit status.
 */
int gw_daemon_main(int argc, char **argv, const struct gw_daemon_desc *desc)
{
	static const struct option longopts[] = {
		{"dump-config", no_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct gw_daemon d = {
		.desc = desc,
		.conf_path = SYSCONFDIR "/junction/junction.conf",
		.ready_fd = -1,
	};
	char err[4096];
	bool check_only = false;
	char *abs_conf = NULL;
	uint64_t usec;
	int c, e, status = 1;

	while ((c = getopt_long(argc, argv, "c:FStVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d.conf_path = optarg;
			break;
		case 'F':
			d.foreground = true;
			break;
		case 'S':
			d.use_syslog = true;
			break;
		case 't':
			check_only = true;
			break;
		case 'V':
			printf("%s %s\n", desc->prog, PACKAGE_VERSION);
			return 0;
		case 'D':
			gw_conf_dump(gw_conf_schema, stdout);
			return 0;
		case 'h':
			usage(desc, stdout);
			return 0;
		default:
			usage(desc, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(desc, stderr);
		return 2;
	}

	/* The daemon changes to / and reloads later: keep an absolute path. */
	abs_conf = realpath(d.conf_path, NULL);
	if (abs_conf)
		d.conf_path = abs_conf;
	e = gw_conf_read(&d.conf, d.conf_path, err, sizeof(err));
	if (e) {
		fprintf(stderr, "%s", err);
		if (err[0] && err[strlen(err) - 1] != '\n')
			fputc('\n', stderr);
		fprintf(stderr, "%s: configuration %s is not valid\n",
			desc->prog, d.conf_path);
		free(abs_conf);
		return 1;
	}
	if (check_only) {
		printf("%s: configuration %s is valid\n", desc->prog,
		       d.conf_path);
		gw_mem_deref(d.conf);
		free(abs_conf);
		return 0;
	}

	e = gw_mkdir_p(gw_conf_general(d.conf)->rundir);
	if (e) {
		fprintf(stderr, "%s: cannot create %s: %s\n", desc->prog,
			gw_conf_general(d.conf)->rundir, strerror(e));
		gw_mem_deref(d.conf);
		free(abs_conf);
		return 1;
	}
	if (!d.foreground) {
		e = daemonize(&d);
		if (e) {
			fprintf(stderr, "%s: cannot daemonize: %s\n",
				desc->prog, strerror(e));
			gw_mem_deref(d.conf);
			free(abs_conf);
			return 1;
		}
	}
	gw_log_open(desc->prog, d.foreground && !d.use_syslog);
	gw_log_set_levels(gw_conf_general(d.conf)->log_level);
	d.start_ms = gw_now_ms();
	d.start_time = time(NULL);

	e = gw_loop_init();
	if (!e)
		e = gw_loop_signals(on_signal, &d);
	if (e) {
		GW_ERR("cannot set up the event loop: %s", strerror(e));
		tell_parent(&d, "cannot set up the event loop");
		goto out;
	}
	gw_tmr_init(&d.wdog);
	gw_tmr_init(&d.stop_tmr);

	e = start_subsystems(&d);
	if (e) {
		snprintf(err, sizeof(err), "start-up failed (%s); see the log",
			 strerror(e));
		tell_parent(&d, err);
		goto out;
	}
	GW_INFO("%s %s running (pid %d, config %s)", desc->prog,
		PACKAGE_VERSION, (int)getpid(), d.conf_path);
	tell_parent(&d, "ok");
	sd_notify(0, "READY=1");
	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000) {
		d.wdog_ms = usec / 2000;
		gw_tmr_start(&d.wdog, d.wdog_ms, wdog_tick, &d);
	}

	e = gw_loop_run();
	if (e)
		GW_ERR("event loop failed: %s", strerror(e));
	sd_notify(0, "STOPPING=1");
	gw_tmr_cancel(&d.stop_tmr);
	if (!e)
		drain_subsystems(&d);
	gw_tmr_cancel(&d.wdog);
	stop_subsystems(&d);
	GW_INFO("%s stopped", desc->prog);
	status = e ? 1 : 0;
 out:
	gw_loop_close();
	d.conf = gw_mem_deref(d.conf);
	if (gw_mem_live())
		GW_WARN("%zu memory blocks still live at exit", gw_mem_live());
	gw_log_close();
	free(abs_conf);
	return status;
}
