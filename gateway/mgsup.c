/* gateway/mgsup.c - junctiond starts, watches and restarts its local junction-mg */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#define GW_LOG_MOD "mgsup"
#include "gw.h"

/*
 * The MG is a separate process for licences (libpri and ortp may not
 * share a binary) and for faults (a crash in one side leaves the other).
 * junctiond runs it as a child: it is started after the status socket so
 * that a second junctiond never spawns a second MG, killed with the
 * parent through PR_SET_PDEATHSIG so that no orphan survives even a
 * SIGKILL, restarted with a doubling back-off when it dies, and known to
 * be up once its own status socket answers.
 */

enum mg_state {
	MG_OFF,		/* [mg] local = no */
	MG_STARTING,	/* spawned, status socket not answering yet */
	MG_RUNNING,
	MG_BACKOFF,	/* died; waiting to restart */
	MG_STOPPING,
};

static const char *const state_names[] = {
	"off", "starting", "running", "backoff", "stopping",
};

static struct {
	struct gw_daemon *d;
	enum mg_state state;
	pid_t pid;
	unsigned restarts;
	uint64_t delay_ms;		/* next back-off */
	uint64_t spawned_ms;
	uint64_t up_ms;
	char last_exit[96];
	char *socket;
	struct gw_tmr tmr;		/* back-off, or the next probe */
	struct gw_tmr start_tmr;	/* start_timeout_ms */
	unsigned probes;
	bool probing;			/* a status request is in flight */
} sup;

static void probe(void *arg);
static void spawn(void *arg);
static void start_timeout(void *arg);

static int exe_beside_self(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return errno ? errno : ENOENT;
	self[n] = '\0';
	if ((size_t)snprintf(buf, len, "%s/junction-mg", dirname(self)) >= len)
		return ENAMETOOLONG;
	return access(buf, X_OK) ? errno : 0;
}

/* The junction-mg to run: [mg] program, else the one beside junctiond
 * (a build tree), else the installed one. */
static void mg_program(char *buf, size_t len)
{
	const struct gw_mg_conf *mg = gw_conf_mg(gw_daemon_conf(sup.d));

	if (mg->program[0])
		snprintf(buf, len, "%s", mg->program);
	else if (exe_beside_self(buf, len))
		snprintf(buf, len, "%s/junction-mg", SBINDIR);
}

static void spawn(void *arg)
{
	char prog[PATH_MAX];
	const char *argv[8];
	int argc = 0;
	pid_t parent = getpid(), pid;
	sigset_t all;

	(void)arg;
	mg_program(prog, sizeof(prog));
	argv[argc++] = "junction-mg";
	argv[argc++] = "-F";
	if (!gw_daemon_foreground(sup.d))
		argv[argc++] = "-S";
	argv[argc++] = "-c";
	argv[argc++] = gw_daemon_conf_path(sup.d);
	argv[argc] = NULL;

	pid = fork();
	if (pid < 0) {
		GW_ERR("cannot fork junction-mg: %s", strerror(errno));
		sup.state = MG_BACKOFF;
		gw_tmr_start(&sup.tmr, sup.delay_ms, spawn, NULL);
		return;
	}
	if (pid == 0) {
		/* The loop blocked these for signalfd; exec keeps the mask. */
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		execv(prog, (char *const *)argv);
		fprintf(stderr, "junctiond: cannot run %s: %s\n", prog,
			strerror(errno));
		_exit(127);
	}
	sup.pid = pid;
	sup.state = MG_STARTING;
	sup.spawned_ms = gw_now_ms();
	sup.probes = 0;
	GW_INFO("started junction-mg %s (pid %d)", prog, (int)pid);
	gw_tmr_start(&sup.tmr, 50, probe, NULL);
	gw_tmr_start(&sup.start_tmr, (uint64_t)gw_conf_mg(
		gw_daemon_conf(sup.d))->start_timeout_ms, start_timeout, NULL);
}

static void probe_reply(int err, json_t *reply, void *arg)
{
	(void)arg;
	sup.probing = false;
	if (sup.state != MG_STARTING)
		return;
	if (!err && json_is_true(json_object_get(reply, "ok"))) {
		gw_tmr_cancel(&sup.start_tmr);
		sup.state = MG_RUNNING;
		sup.up_ms = gw_now_ms();
		GW_INFO("junction-mg (pid %d) is up after %llu ms", (int)sup.pid,
			(unsigned long long)(sup.up_ms - sup.spawned_ms));
		return;
	}
	gw_tmr_start(&sup.tmr, sup.probes < 20 ? 50 : 500, probe, NULL);
}

/* A junction-mg that runs but never answers is as good as dead. */
static void start_timeout(void *arg)
{
	(void)arg;
	if (sup.state != MG_STARTING || sup.pid <= 0)
		return;
	GW_ERR("junction-mg (pid %d) did not answer on %s in %lld ms; "
	       "killing it", (int)sup.pid, sup.socket,
	       gw_conf_mg(gw_daemon_conf(sup.d))->start_timeout_ms);
	kill(sup.pid, SIGKILL);
}

/* Ask the new MG's status socket until it answers. */
static void probe(void *arg)
{
	json_t *req;

	(void)arg;
	if (sup.state != MG_STARTING || sup.probing)
		return;
	sup.probes++;
	req = json_pack("{s:s}", "cmd", "status");
	if (!req || gw_ctl_request(sup.socket, req, 1000, probe_reply, NULL))
		gw_tmr_start(&sup.tmr, 500, probe, NULL);
	else
		sup.probing = true;
	json_decref(req);
}

static void describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (SIG%s)%s",
			 WTERMSIG(status), sigabbrev_np(WTERMSIG(status)),
			 WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, len, "ended with wait status %#x", status);
}

static void mg_died(int status)
{
	const struct gw_mg_conf *mg = gw_conf_mg(gw_daemon_conf(sup.d));
	uint64_t now = gw_now_ms(), ran = now - sup.spawned_ms;

	describe_exit(status, sup.last_exit, sizeof(sup.last_exit));
	sup.pid = 0;
	gw_tmr_cancel(&sup.start_tmr);
	if (sup.state == MG_STOPPING)
		return;
	if (sup.state == MG_RUNNING && now - sup.up_ms >= (uint64_t)mg->stable_ms)
		sup.delay_ms = (uint64_t)mg->restart_min_ms;
	sup.restarts++;
	sup.state = MG_BACKOFF;
	GW_WARN("junction-mg %s after %llu ms; restart %u in %llu ms",
		sup.last_exit, (unsigned long long)ran, sup.restarts,
		(unsigned long long)sup.delay_ms);
	gw_tmr_start(&sup.tmr, sup.delay_ms, spawn, NULL);
	sup.delay_ms *= 2;
	if (sup.delay_ms > (uint64_t)mg->restart_max_ms)
		sup.delay_ms = (uint64_t)mg->restart_max_ms;
}

static void mgsup_signal(struct gw_daemon *d, int sig)
{
	pid_t pid;
	int status;

	(void)d;
	if (sig != SIGCHLD)
		return;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == sup.pid) {
			mg_died(status);
			gw_mgc_lost();
		}
	}
}

static int mgsup_start(struct gw_daemon *d, const struct gw_conf *conf)
{
	const struct gw_mg_conf *mg = gw_conf_mg(conf);

	memset(&sup, 0, sizeof(sup));
	sup.d = d;
	gw_tmr_init(&sup.tmr);
	gw_tmr_init(&sup.start_tmr);
	if (!mg->local) {
		sup.state = MG_OFF;
		return 0;
	}
	sup.socket = gw_conf_runpath(conf, mg->socket);
	if (!sup.socket)
		return ENOMEM;
	sup.delay_ms = (uint64_t)mg->restart_min_ms;
	spawn(NULL);
	return 0;
}

static void mgsup_stop(struct gw_daemon *d)
{
	const struct gw_junctiond_conf *jd = gw_conf_junctiond(
		gw_daemon_conf(d));
	int status;

	gw_tmr_cancel(&sup.tmr);
	gw_tmr_cancel(&sup.start_tmr);
	if (sup.pid > 0) {
		sup.state = MG_STOPPING;
		GW_INFO("stopping junction-mg (pid %d)", (int)sup.pid);
		kill(sup.pid, SIGTERM);
		if (!gw_daemon_wait_child(d, sup.pid,
					  (uint64_t)jd->stop_timeout_ms,
					  &status)) {
			GW_WARN("junction-mg (pid %d) did not stop in %lld ms; "
				"killing it", (int)sup.pid,
				jd->stop_timeout_ms);
			kill(sup.pid, SIGKILL);
			gw_daemon_wait_child(d, sup.pid, 5000, &status);
		}
		sup.pid = 0;
	}
	sup.state = MG_OFF;
	sup.socket = gw_mem_deref(sup.socket);
}

static void mgsup_status(struct gw_daemon *d, json_t *o)
{
	(void)d;
	json_object_set_new(o, "state", json_string(state_names[sup.state]));
	json_object_set_new(o, "pid", sup.pid > 0 ?
			    json_integer(sup.pid) : json_null());
	json_object_set_new(o, "restarts", json_integer(sup.restarts));
	if (sup.socket)
		json_object_set_new(o, "socket", json_string(sup.socket));
	if (sup.state == MG_RUNNING)
		json_object_set_new(o, "uptime_s", json_integer(
			(json_int_t)((gw_now_ms() - sup.up_ms) / 1000)));
	if (sup.last_exit[0])
		json_object_set_new(o, "last_exit",
				    json_string(sup.last_exit));
}

const struct gw_subsys gw_mgsup_subsys = {
	.name = "mg",
	.start = mgsup_start,
	.stop = mgsup_stop,
	.status = mgsup_status,
	.signal = mgsup_signal,
};
