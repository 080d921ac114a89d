/* bench/bench_mg.c - H.248: transactions/s of junction-mg, codec cost */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "mg.h"

/*
 * Two figures, both printed, neither asserted (STYLE.md 3.10):
 *
 * mgc: junction-mg under load from an MGC built on megaco/client.c.  A
 *   real junction-mg runs in a private run directory with one [mgc]
 *   softswitch (this program) and two spans wired to pstnsim by vspan
 *   sockets.  Each call slot repeats a call's H.248 life:
 *     Add      Context = $ { Add = tdm/S/T, Add = $ { Local SDP } }
 *     Modify   the RTP termination: Remote SDP, Mode = SendReceive
 *     Subtract both terminations (the reply carries their statistics)
 *   with one transaction outstanding per slot, so the window of
 *   outstanding transactions is the number of slots.  junction-mg (all
 *   its threads) is pinned to one CPU, this program and pstnsim to
 *   another when there is one.  Reported per repetition and as median
 *   [min - max]: transactions per second, junction-mg's CPU time per
 *   transaction (utime + stime of /proc/PID/stat: every thread of the
 *   process, its media worker included), this side's CPU per
 *   transaction, and the latency percentiles of each command pooled
 *   over the repetitions.
 *
 * codec: our decode and encode per message on tests/data/megaco-text and
 *   on the messages of a typical call, beside the Erlang/OTP megaco text
 *   codec on the same messages in the same run (bench/bench_mg_codec.erl,
 *   compiled into a temporary folder and run with erl -noshell +S 1:1
 *   on the same CPU).  The inputs are the same bytes on both sides: the
 *   text as stored, and our compact encoding of it.  Messages Erlang
 *   does not take are left out of both sides.  Our side is timed on the
 *   thread CPU clock, Erlang's on statistics(runtime) (every thread of
 *   its runtime, garbage collection included).
 */

#define MAX_MSGS	256
#define MAX_SLOTS	60	/* two E1s: timeslots 1-15, 17-31 */
#define RUN_MS		30000	/* the longest a repetition may take */

enum op { OP_ADD, OP_MODIFY, OP_SUBTRACT, OP_N };
static const char *const op_name[OP_N] = { "Add", "Modify", "Subtract" };

static struct {
	int cpu_mg, cpu_me;	/* -c, -C */
	unsigned ntrans;	/* -n */
	unsigned window;	/* -w */
	unsigned reps;		/* -r */
	unsigned codec_ops;	/* -k: message operations per timing */
	bool compact;		/* -e compact */
	const char *mode;	/* -m */
	const char *log_level;	/* -l */
	char builddir[PATH_MAX];
	char srcdir[PATH_MAX];
} opt = {
	.cpu_mg = -1, .cpu_me = -1, .ntrans = 30000, .window = 16,
	.reps = 5, .codec_ops = 30000, .mode = "all", .log_level = "warn",
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */
/* ------------------------------------------------------------------ */

static double thread_cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of v[0..n) (sorted in place), its min and max. */
static double median(double *v, unsigned n, double *lo, double *hi)
{
	if (!n) {
		*lo = *hi = NAN;
		return NAN;
	}
	qsort(v, n, sizeof(*v), cmp_double);
	*lo = v[0];
	*hi = v[n - 1];
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The p-th percentile of sorted v[0..n) (nearest rank). */
static double pct(const double *v, size_t n, double p)
{
	size_t k;

	if (!n)
		return NAN;
	k = (size_t)ceil(p / 100.0 * (double)n);
	return v[k ? k - 1 : 0];
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		perror("sched_setaffinity");
}

static char *read_file(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 &&
	    !fseek(f, 0, SEEK_SET)) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			buf[n] = '\0';
			*lenp = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static int write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return -1;
	ok = fwrite(text, 1, len, f) == len;
	return fclose(f) || !ok ? -1 : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *dir)
{
	if (getenv("BENCH_MG_KEEP"))
		fprintf(stderr, "kept %s\n", dir);
	else
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A UDP port on 127.0.0.1 that was free a moment ago. */
static unsigned free_udp_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	unsigned port = 0;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &sl))
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Start argv pinned to cpu, its output into log; the pid or -1. */
static pid_t spawn(const char *const argv[], const char *log, int cpu)
{
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	pin(cpu);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	execv(argv[0], (char *const *)argv);
	perror(argv[0]);
	_exit(127);
}

static void stop(pid_t pid)
{
	int i;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (i = 0; i < 500; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* utime + stime of a process, all its threads, in seconds. */
static double proc_cpu_s(pid_t pid)
{
	unsigned long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return NAN;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* comm may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
			 "%*u %lu %lu", &ut, &st) != 2)
		return NAN;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ------------------------------------------------------------------ */
/* mgc: transactions per second                                       */
/* ------------------------------------------------------------------ */

struct slot {
	unsigned span, ts;
	enum op next;		/* what it sends next */
	uint32_t ctx;
	char rtp[32];		/* its RTP termination */
	double t0;		/* the outstanding request's send time */
	bool busy;
};

static struct {
	struct mg_client *c;
	struct slot slots[MAX_SLOTS];
	unsigned nslots;
	unsigned calls_left;	/* calls still to start in this repetition */
	unsigned active;	/* slots with a call under way */
	unsigned done;		/* transactions answered, this repetition */
	unsigned errors, timeouts;
	char first_err[160];
	unsigned sink_port;	/* Remote: where the MG's RTP goes */
	double *lat[OP_N];	/* latency, us, over every repetition */
	size_t nlat[OP_N], cap[OP_N];
	bool record;		/* not during warm-up */
} B;

static void slot_send(struct slot *s);

static void note_error(const char *what, const struct mg_err *e, int err)
{
	B.errors++;
	if (!B.first_err[0])
		snprintf(B.first_err, sizeof(B.first_err), "%s: %s%u %s",
			 what, err ? "errno " : "", err ? (unsigned)err :
			 e ? e->code : 0, err ? strerror(err) :
			 e && e->text ? e->text : "");
}

static void record(enum op op, double us)
{
	if (!B.record)
		return;
	if (B.nlat[op] == B.cap[op]) {
		size_t cap = B.cap[op] ? 2 * B.cap[op] : 65536;
		double *v = realloc(B.lat[op], cap * sizeof(*v));

		if (!v)
			return;
		B.lat[op] = v;
		B.cap[op] = cap;
	}
	B.lat[op][B.nlat[op]++] = us;
}

static void slot_resp(int err, const struct mg_trans *reply, void *arg)
{
	struct slot *s = arg;
	const struct mg_err *e = reply ? mg_reply_error(reply) : NULL;
	const struct mg_cmd *cmd;
	enum op op = s->next;

	s->busy = false;
	B.done++;
	record(op, wall_us() - s->t0);
	if (err == ETIMEDOUT)
		B.timeouts++;
	if (err || e)
		note_error(op_name[op], e, err);
	switch (op) {
	case OP_ADD:
		cmd = err || e ? NULL : mg_reply_cmd(reply, 1, &s->ctx);
		if (!cmd || !cmd->tid) {
			s->next = OP_ADD;	/* no call: start another */
			B.active--;
			break;
		}
		snprintf(s->rtp, sizeof(s->rtp), "%s", cmd->tid);
		s->next = OP_MODIFY;
		break;
	case OP_MODIFY:
		s->next = OP_SUBTRACT;
		break;
	case OP_SUBTRACT:
		s->next = OP_ADD;
		B.active--;
		break;
	default:
		break;
	}
	if (s->next != OP_ADD || B.calls_left)
		slot_send(s);
	if (!B.active)
		gw_loop_stop();
}

static void slot_send(struct slot *s)
{
	int err = 0;

	if (s->next == OP_ADD) {
		B.calls_left--;
		B.active++;
	}
	s->busy = true;
	s->t0 = wall_us();
	switch (s->next) {
	case OP_ADD:
		err = mg_client_send(B.c, slot_resp, s, NULL,
			"Context = $ { Add = tdm/%u/%u { Media { LocalControl "
			"{ Mode = SendReceive } } }, Add = $ { Media { "
			"Stream = 1 { LocalControl { Mode = ReceiveOnly }, "
			"Local { \nv=0\nc=IN IP4 $\nm=audio $ RTP/AVP 8\n"
			"a=ptime:20\n } } } } }", s->span, s->ts);
		break;
	case OP_MODIFY:
		err = mg_client_send(B.c, slot_resp, s, NULL,
			"Context = %u { Modify = %s { Media { Stream = 1 { "
			"LocalControl { Mode = SendReceive }, Remote { \nv=0\n"
			"c=IN IP4 127.0.0.1\nm=audio %u RTP/AVP 8\n"
			"a=ptime:20\n } } } } }", s->ctx, s->rtp,
			B.sink_port);
		break;
	case OP_SUBTRACT:
		err = mg_client_send(B.c, slot_resp, s, NULL,
			"Context = %u { Subtract = tdm/%u/%u, Subtract = %s }",
			s->ctx, s->span, s->ts, s->rtp);
		break;
	default:
		break;
	}
	if (err) {
		/* cannot happen while the MG is up: give up the call */
		s->busy = false;
		note_error(op_name[s->next], NULL, err);
		B.active--;
		s->next = OP_ADD;
		if (!B.active)
			gw_loop_stop();
	}
}

/* Run calls until ncalls have been made; false when it took too long. */
static bool run_calls(unsigned ncalls)
{
	uint64_t end = gw_now_ms() + RUN_MS;
	unsigned i;

	B.calls_left = ncalls;
	B.active = 0;
	for (i = 0; i < B.nslots && B.calls_left; i++)
		slot_send(&B.slots[i]);
	while (B.active && gw_now_ms() < end)
		gw_loop_run_timeout(100);
	return !B.active;
}

static void client_ev(struct mg_client *c, enum mg_client_ev ev,
		      const struct mg_cmd *cmd, void *arg)
{
	(void)c;
	(void)cmd;
	(void)arg;
	if (ev == MG_CLIENT_DOWN)
		fprintf(stderr, "the MG went down\n");
}

static void client_notify(struct mg_client *c, uint32_t ctx,
			  const struct mg_cmd *n, void *arg)
{
	(void)c;
	(void)ctx;
	(void)n;
	(void)arg;
}

static bool wait_ctl(const char *sock, unsigned ms)
{
	uint64_t end = gw_now_ms() + ms;
	json_t *req = json_pack("{s:s}", "cmd", "status"), *rep = NULL;
	char err[128];
	bool ok = false;

	while (!ok && gw_now_ms() < end) {
		if (!gw_ctl_call(sock, req, &rep, 1000, err, sizeof(err))) {
			ok = json_is_true(json_object_get(rep, "ok"));
			json_decref(rep);
			rep = NULL;
		}
		if (!ok)
			usleep(20000);
	}
	json_decref(req);
	return ok;
}

static int sink_socket(unsigned *portp)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), sz = 4096;

	/* never read: the kernel drops what does not fit */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*portp = ntohs(sa.sin_port);
	return fd;
}

static void print_latency(void)
{
	double all[4];
	enum op op;

	printf("\n  latency, us (send to reply, pooled over the "
	       "repetitions)\n");
	printf("  %-10s %9s %9s %9s %9s %9s %9s\n", "command", "n", "p50",
	       "p90", "p99", "p99.9", "max");
	for (op = 0; op < OP_N; op++) {
		size_t n = B.nlat[op];

		qsort(B.lat[op], n, sizeof(double), cmp_double);
		all[0] = pct(B.lat[op], n, 50);
		all[1] = pct(B.lat[op], n, 90);
		all[2] = pct(B.lat[op], n, 99);
		all[3] = pct(B.lat[op], n, 99.9);
		printf("  %-10s %9zu %9.0f %9.0f %9.0f %9.0f %9.0f\n",
		       op_name[op], n, all[0], all[1], all[2], all[3],
		       n ? B.lat[op][n - 1] : NAN);
	}
}

static int bench_mgc(void)
{
	char rundir[] = "/tmp/bench-mg.XXXXXX";
	char path[PATH_MAX + 64], sock[PATH_MAX + 64], log[PATH_MAX + 64];
	char mgexe[PATH_MAX + 64], simexe[PATH_MAX + 64], simconf[PATH_MAX];
	char mgconf[PATH_MAX], mid[64], text[2048];
	double tps[64], mgcpu[64], mecpu[64], load[64], lo, hi, med;
	struct mg_client_conf cc = { 0 };
	struct mg_addr local;
	unsigned mgc_port, mg_port, rtp_lo, i, r, ncalls;
	pid_t sim = -1, mg = -1;
	int sink = -1, rc = 1;
	uint64_t end;

	if (!mkdtemp(rundir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(simexe, sizeof(simexe), "%s/sim/pstnsim", opt.builddir);
	snprintf(mgexe, sizeof(mgexe), "%s/gateway/junction-mg",
		 opt.builddir);
	snprintf(simconf, sizeof(simconf), "%s/pstnsim.conf", rundir);
	snprintf(mgconf, sizeof(mgconf), "%s/mg.conf", rundir);
	snprintf(text, sizeof(text),
		 "[pstnsim]\nrundir = %s\nsocket = pstnsim.sock\n"
		 "log_level = warn\n\n"
		 "[span 1]\ntype = e1\nsignalling = pri_net\n"
		 "switchtype = euroisdn_e1\n\n"
		 "[span 2]\ntype = e1\nsignalling = pri_net\n"
		 "switchtype = euroisdn_e1\n", rundir);
	if (write_file(simconf, text, strlen(text)))
		goto out;
	snprintf(log, sizeof(log), "%s/pstnsim.log", rundir);
	sim = spawn((const char *const[]){ simexe, "-c", simconf, NULL }, log,
		    opt.cpu_me);
	snprintf(sock, sizeof(sock), "%s/pstnsim.sock", rundir);
	if (sim < 0 || !wait_ctl(sock, 10000)) {
		fprintf(stderr, "pstnsim did not start (%s)\n", log);
		goto out;
	}

	mgc_port = free_udp_port();
	mg_port = free_udp_port();
	rtp_lo = 30000 + (unsigned)(getpid() % 50) * 400;
	snprintf(text, sizeof(text),
		 "[general]\nrundir = %s\nlog_level = %s\n\n"
		 "[mg]\nlocal = no\nsocket = junction-mg.sock\nworkers = 1\n"
		 "rtp_port_min = %u\nrtp_port_max = %u\nmax_wait_ms = 0\n\n"
		 "[mgc bench]\naddress = 127.0.0.1:%u\nmg_port = %u\n"
		 "version = 3\nencoding = %s\n\n"
		 "[span 1]\ncontrol = mgc:bench\n\n"
		 "[span 2]\ncontrol = mgc:bench\n",
		 rundir, opt.log_level, rtp_lo, rtp_lo + 399, mgc_port,
		 mg_port, opt.compact ? "compact" : "pretty");
	if (write_file(mgconf, text, strlen(text)))
		goto out;

	if (gw_loop_init())
		goto out;
	snprintf(mid, sizeof(mid), "[127.0.0.1]:%u", mgc_port);
	cc.mid = mid;
	cc.version = 3;
	cc.style = opt.compact ? MG_TEXT_COMPACT : MG_TEXT_PRETTY;
	cc.keepalive_ms = 3600000;
	if (mg_addr_set(&local, "127.0.0.1", (uint16_t)mgc_port) ||
	    mg_client_alloc(&B.c, &local, &cc, client_ev, client_notify,
			    NULL)) {
		fprintf(stderr, "cannot open the MGC on port %u\n", mgc_port);
		goto out_loop;
	}
	sink = sink_socket(&B.sink_port);
	if (sink < 0)
		goto out_loop;

	snprintf(log, sizeof(log), "%s/mg.log", rundir);
	mg = spawn((const char *const[]){ mgexe, "-F", "-c", mgconf, NULL }, log,
		   opt.cpu_mg);
	end = gw_now_ms() + 10000;
	while (mg > 0 && !mg_client_up(B.c) && gw_now_ms() < end)
		gw_loop_run_timeout(20);
	if (!mg_client_up(B.c)) {
		fprintf(stderr, "junction-mg did not register (%s)\n", log);
		goto out_loop;
	}

	for (i = 0; i < MAX_SLOTS; i++) {
		B.slots[i].span = 1 + i / 30;
		B.slots[i].ts = 1 + i % 30 + (i % 30 >= 15);
		B.slots[i].next = OP_ADD;
	}
	/* Warm-up: until the spans are in service and a call goes
	 * through, then a few hundred calls. */
	end = gw_now_ms() + 10000;
	do {
		B.errors = 0;
		B.first_err[0] = '\0';
		B.nslots = 1;
		run_calls(1);
		if (B.errors)
			gw_loop_run_timeout(100);
	} while (B.errors && gw_now_ms() < end);
	if (B.errors) {
		fprintf(stderr, "no call goes through: %s (%s)\n",
			B.first_err, log);
		goto out_loop;
	}
	B.nslots = opt.window;
	run_calls(300);
	B.errors = B.timeouts = 0;
	B.first_err[0] = '\0';

	ncalls = (opt.ntrans + 2) / 3;
	printf("mgc: junction-mg (pid %d, CPU %d, 1 media worker) under an "
	       "MGC on megaco/client.c (CPU %d)\n"
	       "     MEGACO/3 %s over UDP on loopback, %u calls of Add + "
	       "Modify + Subtract\n     a repetition, window %u outstanding, "
	       "%u repetitions\n\n", (int)mg, opt.cpu_mg, opt.cpu_me,
	       opt.compact ? "compact" : "pretty", ncalls, opt.window,
	       opt.reps);
	printf("  %-4s %10s %14s %14s %9s %7s\n", "rep", "trans/s",
	       "MG us/trans", "MGC us/trans", "MG load", "errors");
	B.record = true;
	for (r = 0; r < opt.reps; r++) {
		double w0, c0, m0, w1, c1, m1;
		unsigned errs0 = B.errors;

		B.done = 0;
		w0 = wall_us();
		c0 = thread_cpu_us();
		m0 = proc_cpu_s(mg);
		if (!run_calls(ncalls)) {
			fprintf(stderr, "repetition %u did not finish\n", r);
			goto out_loop;
		}
		w1 = wall_us();
		c1 = thread_cpu_us();
		m1 = proc_cpu_s(mg);
		tps[r] = B.done / ((w1 - w0) / 1e6);
		mgcpu[r] = (m1 - m0) * 1e6 / B.done;
		mecpu[r] = (c1 - c0) / B.done;
		load[r] = (m1 - m0) * 1e6 / (w1 - w0);
		printf("  %-4u %10.0f %14.1f %14.1f %8.0f%% %7u\n", r + 1,
		       tps[r], mgcpu[r], mecpu[r], 100 * load[r],
		       B.errors - errs0);
	}
	med = median(tps, opt.reps, &lo, &hi);
	printf("\n  transactions/s         %9.0f  [%.0f - %.0f]\n", med, lo,
	       hi);
	med = median(mgcpu, opt.reps, &lo, &hi);
	printf("  junction-mg CPU        %9.1f  [%.1f - %.1f] us per "
	       "transaction (/proc/PID/stat, %ld Hz)\n", med, lo, hi,
	       sysconf(_SC_CLK_TCK));
	printf("                         %9.0f  transactions/s at 100 %% "
	       "of its core\n", 1e6 / med);
	med = median(mecpu, opt.reps, &lo, &hi);
	printf("  MGC CPU (this side)    %9.1f  [%.1f - %.1f] us per "
	       "transaction\n", med, lo, hi);
	med = median(load, opt.reps, &lo, &hi);
	printf("  junction-mg load       %8.0f%%  [%.0f - %.0f]\n",
	       100 * med, 100 * lo, 100 * hi);
	print_latency();
	printf("\n  errors %u, timeouts %u%s%s\n", B.errors, B.timeouts,
	       B.first_err[0] ? ", first: " : "", B.first_err);
	rc = 0;

out_loop:
	B.c = gw_mem_deref(B.c);
	stop(mg);
	gw_loop_close();
	if (rc) {
		fprintf(stderr, "--- the end of %s/mg.log ---\n", rundir);
		snprintf(path, sizeof(path), "tail -20 %s/mg.log >&2",
			 rundir);
		if (system(path))
			fprintf(stderr, "(no log)\n");
	}
out:
	if (sink >= 0)
		close(sink);
	stop(sim);
	rm_rf(rundir);
	return rc;
}

/* ------------------------------------------------------------------ */
/* codec: ours beside Erlang/OTP's                                    */
/* ------------------------------------------------------------------ */

/*
 * The messages of a typical call as an MGC and junction-mg exchange
 * them (DESIGN.md's SIP -> PSTN flow), in the style of the corpus.
 */
static const char *const call_msgs[] = {
	"MEGACO/3 [127.0.0.1]:2946\nTransaction = 1 {\n"
	"\tContext = - {\n\t\tServiceChange = ROOT {\n"
	"\t\t\tServices {\n\t\t\t\tMethod = Restart,\n"
	"\t\t\t\tReason = \"901 Cold Boot\",\n"
	"\t\t\t\tVersion = 3,\n\t\t\t\tProfile = junction/1\n"
	"\t\t\t}\n\t\t}\n\t}\n}",
	"MEGACO/3 [127.0.0.1]:2944\nReply = 1 {\n"
	"\tContext = - {\n\t\tServiceChange = ROOT {\n"
	"\t\t\tServices {\n\t\t\t\tServiceChangeMgcId = "
	"[127.0.0.1]:2944\n\t\t\t}\n\t\t}\n\t}\n}",
	"MEGACO/3 [127.0.0.1]:2944\nTransaction = 1001 {\n"
	"\tContext = $ {\n\t\tAdd = tdm/1/5 {\n\t\t\tMedia {\n"
	"\t\t\t\tLocalControl {\n\t\t\t\t\tMode = SendReceive\n"
	"\t\t\t\t}\n\t\t\t},\n\t\t\tEvents = 1 {\n"
	"\t\t\t\tdd/std,\n\t\t\t\tnt/netfail\n\t\t\t}\n\t\t},\n"
	"\t\tAdd = $ {\n\t\t\tMedia {\n\t\t\t\tStream = 1 {\n"
	"\t\t\t\t\tLocalControl {\n\t\t\t\t\t\tMode = ReceiveOnly\n"
	"\t\t\t\t\t},\n\t\t\t\t\tLocal {\nv=0\nc=IN IP4 $\n"
	"m=audio $ RTP/AVP 8 101\na=rtpmap:101 telephone-event/8000\n"
	"a=ptime:20\n\t\t\t\t\t},\n\t\t\t\t\tRemote {\nv=0\n"
	"o=- 2890844526 2890844526 IN IP4 192.0.2.10\ns=-\n"
	"c=IN IP4 192.0.2.10\nt=0 0\nm=audio 49170 RTP/AVP 8 101\n"
	"a=rtpmap:101 telephone-event/8000\n\t\t\t\t\t}\n"
	"\t\t\t\t}\n\t\t\t}\n\t\t}\n\t}\n}",
	"MEGACO/3 [127.0.0.1]:2946\nReply = 1001 {\n"
	"\tContext = 17 {\n\t\tAdd = tdm/1/5,\n\t\tAdd = rtp/33 {\n"
	"\t\t\tMedia {\n\t\t\t\tStream = 1 {\n\t\t\t\t\tLocal {\n"
	"v=0\no=- 17 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\n"
	"t=0 0\nm=audio 30066 RTP/AVP 8 101\n"
	"a=rtpmap:101 telephone-event/8000\na=ptime:20\n"
	"\t\t\t\t\t}\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\t}\n}",
	"MEGACO/3 [127.0.0.1]:2944\nTransaction = 1002 {\n"
	"\tContext = 17 {\n\t\tModify = tdm/1/5 {\n"
	"\t\t\tSignals {\n\t\t\t\tcg/rt {\n"
	"\t\t\t\t\tSignalType = TimeOut,\n"
	"\t\t\t\t\tDuration = 60000\n\t\t\t\t}\n\t\t\t}\n\t\t}\n"
	"\t}\n}",
	"MEGACO/3 [127.0.0.1]:2946\nReply = 1002 {\n"
	"\tContext = 17 {\n\t\tModify = tdm/1/5\n\t}\n}",
	"MEGACO/3 [127.0.0.1]:2944\nTransaction = 1003 {\n"
	"\tContext = 17 {\n\t\tModify = rtp/33 {\n\t\t\tMedia {\n"
	"\t\t\t\tStream = 1 {\n\t\t\t\t\tLocalControl {\n"
	"\t\t\t\t\t\tMode = SendReceive\n\t\t\t\t\t}\n"
	"\t\t\t\t}\n\t\t\t}\n\t\t},\n\t\tModify = tdm/1/5 {\n"
	"\t\t\tSignals\n\t\t}\n\t}\n}",
	"MEGACO/3 [127.0.0.1]:2946\nTransaction = 7 {\n"
	"\tContext = 17 {\n\t\tNotify = tdm/1/5 {\n"
	"\t\t\tObservedEvents = 1 {\n"
	"\t\t\t\t20240101T10203040:dd/std {\n"
	"\t\t\t\t\ttl = 5,\n\t\t\t\t\tdur = 120\n\t\t\t\t}\n"
	"\t\t\t}\n\t\t}\n\t}\n}",
	"MEGACO/3 [127.0.0.1]:2944\nReply = 7 {\n"
	"\tContext = 17 {\n\t\tNotify = tdm/1/5\n\t}\n}",
	"MEGACO/3 [127.0.0.1]:2944\nTransaction = 1004 {\n"
	"\tContext = 17 {\n\t\tSubtract = tdm/1/5,\n"
	"\t\tSubtract = rtp/33\n\t}\n}",
	"MEGACO/3 [127.0.0.1]:2946\nReply = 1004 {\n"
	"\tContext = 17 {\n\t\tSubtract = tdm/1/5,\n"
	"\t\tSubtract = rtp/33 {\n\t\t\tStatistics {\n"
	"\t\t\t\trtp/ps = 1510,\n\t\t\t\trtp/pr = 1498,\n"
	"\t\t\t\trtp/pl = 0,\n\t\t\t\trtp/jit = 3,\n"
	"\t\t\t\trtp/delay = 0,\n\t\t\t\tnt/os = 241600,\n"
	"\t\t\t\tnt/or = 239680,\n\t\t\t\tnt/dur = 30200\n"
	"\t\t\t}\n\t\t}\n\t}\n}",
};

struct cmsg {
	char *text;		/* as stored (pretty) */
	size_t len;
	char *compact;		/* our compact encoding */
	size_t clen;
	struct mg_msg *msg;
	bool erl_ok;
};

static struct cmsg cmsgs[MAX_MSGS];
static size_t ncmsgs;

static void add_cmsg(char *text, size_t len)
{
	struct cmsg *m = &cmsgs[ncmsgs];

	if (ncmsgs == MAX_MSGS)
		return;
	memset(m, 0, sizeof(*m));
	m->text = text;
	m->len = len;
	if (mg_text_decode(&m->msg, text, len, NULL) ||
	    mg_text_encode(&m->compact, m->msg, MG_TEXT_COMPACT)) {
		gw_mem_deref(m->msg);
		free(text);
		return;
	}
	m->clen = strlen(m->compact);
	ncmsgs++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_corpus(const char *sub)
{
	char dir[PATH_MAX + 64], path[PATH_MAX * 2], *names[MAX_MSGS];
	struct dirent **ents = NULL;
	size_t n = 0, i, len;
	int k, nents;

	snprintf(dir, sizeof(dir), "%s/tests/data/megaco-text/%s",
		 opt.srcdir, sub);
	nents = scandir(dir, &ents, NULL, alphasort);
	for (k = 0; k < nents; k++) {
		if (strstr(ents[k]->d_name, ".txt") && n < MAX_MSGS)
			names[n++] = strdup(ents[k]->d_name);
		free(ents[k]);
	}
	free(ents);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (i = 0; i < n; i++) {
		char *text;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		text = read_file(path, &len);
		if (text)
			add_cmsg(text, len);
		free(names[i]);
	}
}

enum cop { C_DEC_PRETTY, C_ENC_PRETTY, C_DEC_COMPACT, C_ENC_COMPACT,
	   C_N };
static const char *const cop_name[C_N] = {
	"dec_pretty", "enc_pretty", "dec_compact", "enc_compact",
};
static const char *const cop_label[C_N] = {
	"decode (as stored)", "encode pretty", "decode compact",
	"encode compact",
};

/* Our cost of op over messages [first, last) that Erlang took, in us
 * per message. */
static double time_ours(enum cop op, size_t first, size_t last,
			unsigned rounds)
{
	static char buf[65536];
	double t0 = thread_cpu_us();
	unsigned r, n = 0;
	size_t i, len;

	for (r = 0; r < rounds; r++) {
		for (i = first; i < last; i++) {
			struct cmsg *m = &cmsgs[i];
			struct mg_msg *d = NULL;

			if (!m->erl_ok)
				continue;
			switch (op) {
			case C_DEC_PRETTY:
				mg_text_decode(&d, m->text, m->len, NULL);
				gw_mem_deref(d);
				break;
			case C_DEC_COMPACT:
				mg_text_decode(&d, m->compact, m->clen, NULL);
				gw_mem_deref(d);
				break;
			case C_ENC_PRETTY:
			case C_ENC_COMPACT:
				mg_text_encode_buf(buf, sizeof(buf), &len,
						   m->msg, op == C_ENC_PRETTY ?
						   MG_TEXT_PRETTY :
						   MG_TEXT_COMPACT);
				break;
			default:
				break;
			}
			n++;
		}
	}
	return n ? (thread_cpu_us() - t0) / n : NAN;
}

struct erl_res {
	double us[C_N + 2][64];	/* + dec_pretty_flex, dec_compact_flex */
	unsigned n[C_N + 2];
	bool flex;
};

static int erl_op(const char *name)
{
	int i;

	for (i = 0; i < C_N; i++) {
		if (!strcmp(name, cop_name[i]))
			return i;
	}
	if (!strcmp(name, "dec_pretty_flex"))
		return C_N;
	if (!strcmp(name, "dec_compact_flex"))
		return C_N + 1;
	return -1;
}

/* Run the Erlang side on messages [first, last): marks what it takes,
 * fills res.  -1 when Erlang cannot run. */
static int run_erlang(const char *tmp, size_t first, size_t last,
		      unsigned rounds, struct erl_res *res)
{
	char path[PATH_MAX + 64], cmd[4 * PATH_MAX], line[512], name[32];
	char cpu[32] = "";
	unsigned idx, rep, msgs, rnds, cpu_ms, wall;
	FILE *list, *p;
	size_t i;
	int op;

	snprintf(path, sizeof(path), "%s/list", tmp);
	list = fopen(path, "w");
	if (!list)
		return -1;
	for (i = first; i < last; i++) {
		char pf[PATH_MAX + 64], cf[PATH_MAX + 64];

		snprintf(pf, sizeof(pf), "%s/m%zu.txt", tmp, i);
		snprintf(cf, sizeof(cf), "%s/m%zu.c.txt", tmp, i);
		if (write_file(pf, cmsgs[i].text, cmsgs[i].len) ||
		    write_file(cf, cmsgs[i].compact, cmsgs[i].clen)) {
			fclose(list);
			return -1;
		}
		fprintf(list, "%s %s\n", pf, cf);
		cmsgs[i].erl_ok = false;
	}
	fclose(list);
	if (opt.cpu_me >= 0)
		snprintf(cpu, sizeof(cpu), "taskset -c %d ", opt.cpu_me);
	snprintf(cmd, sizeof(cmd), "%serl -noshell +S 1:1 +SDcpu 1:1 "
		 "+SDio 1:1 -pa %s -run bench_mg_codec main %s %u %u "
		 "2>&1", cpu, tmp, path, rounds, opt.reps);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	memset(res, 0, sizeof(*res));
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, "check %u %31s", &idx, name) == 2) {
			/* "fail": a message Erlang does not take, left
			 * out of both sides */
			if (!strcmp(name, "ok") && first + idx < last)
				cmsgs[first + idx].erl_ok = true;
		} else if (!strcmp(line, "flex yes\n")) {
			res->flex = true;
		} else if (sscanf(line, "time %31s %u %u %u %u %u", name,
				  &rep, &cpu_ms, &wall, &msgs, &rnds) == 6) {
			op = erl_op(name);
			if (op >= 0 && res->n[op] < 64 && msgs && rnds)
				res->us[op][res->n[op]++] = cpu_ms * 1e3 /
					((double)msgs * rnds);
		} else if (strncmp(line, "flex ", 5)) {
			fprintf(stderr, "erl: %s", line);
		}
	}
	return pclose(p) == 0 && res->n[0] ? 0 : -1;
}

static void codec_group(const char *tmp, const char *what, size_t first,
			size_t last)
{
	double ours[C_N][64], lo, hi, o[C_N], e[C_N + 2], sum_o, sum_e;
	size_t i, taken = 0, bytes = 0;
	struct erl_res res;
	unsigned rounds, r;
	int op;

	rounds = opt.codec_ops / (unsigned)(last - first) + 1;
	if (run_erlang(tmp, first, last, rounds, &res)) {
		printf("codec: %s: the Erlang side did not run (erl, "
		       "erlang-megaco installed?)\n\n", what);
		for (i = first; i < last; i++)
			cmsgs[i].erl_ok = true;
		memset(&res, 0, sizeof(res));
	}
	for (i = first; i < last; i++) {
		if (cmsgs[i].erl_ok) {
			taken++;
			bytes += cmsgs[i].len;
		}
	}
	if (!taken)
		return;
	for (r = 0; r < opt.reps; r++) {
		for (op = 0; op < C_N; op++)
			ours[op][r] = time_ours(op, first, last, rounds);
	}
	printf("codec: %s: %zu messages (%zu read, %zu not taken by "
	       "Erlang), mean %.0f bytes as stored\n",
	       what, taken, last - first, last - first - taken,
	       (double)bytes / (double)taken);
	printf("       us per message, CPU time, median [min - max] of %u "
	       "repetitions of %u rounds\n", opt.reps, rounds);
	printf("  %-20s %22s %22s %8s\n", "", "junction", "Erlang/OTP megaco",
	       "x faster");
	for (op = 0; op < C_N; op++) {
		int fx = op == C_DEC_PRETTY ? C_N : op == C_DEC_COMPACT ?
			C_N + 1 : -1;

		o[op] = median(ours[op], opt.reps, &lo, &hi);
		printf("  %-20s %7.2f [%5.2f - %5.2f]", cop_label[op], o[op],
		       lo, hi);
		e[op] = median(res.us[op], res.n[op], &lo, &hi);
		printf("  %7.2f [%5.1f - %5.1f] %7.1fx\n", e[op], lo, hi,
		       e[op] / o[op]);
		if (fx < 0 || !res.flex)
			continue;
		e[fx] = median(res.us[fx], res.n[fx], &lo, &hi);
		printf("  %-20s %22s  %7.2f [%5.1f - %5.1f] %7.1fx\n",
		       "  Erlang: flex", "", e[fx], lo, hi, e[fx] / o[op]);
	}
	/* Erlang's faster scanner of the two, each time */
	if (res.flex) {
		e[C_DEC_PRETTY] = fmin(e[C_DEC_PRETTY], e[C_N]);
		e[C_DEC_COMPACT] = fmin(e[C_DEC_COMPACT], e[C_N + 1]);
	}
	sum_o = o[C_DEC_COMPACT] + o[C_ENC_COMPACT];
	sum_e = e[C_DEC_COMPACT] + e[C_ENC_COMPACT];
	printf("  %-20s %7.2f %14s  %7.2f %14s %7.1fx\n",
	       "compact dec + enc", sum_o, "", sum_e, "", sum_e / sum_o);
	sum_o = o[C_DEC_PRETTY] + o[C_ENC_PRETTY];
	sum_e = e[C_DEC_PRETTY] + e[C_ENC_PRETTY];
	printf("  %-20s %7.2f %14s  %7.2f %14s %7.1fx\n",
	       "pretty dec + enc", sum_o, "", sum_e, "", sum_e / sum_o);
	printf("  (dec + enc: Erlang with the faster of its two scanners)"
	       "\n\n");
}

static int bench_codec(void)
{
	char tmp[] = "/tmp/bench-mg-erl.XXXXXX";
	char cmd[2 * PATH_MAX + 64];
	size_t i, ncorpus;

	load_corpus("rfc3525-appendix-i");
	load_corpus("erlang-otp-time-test/messages");
	ncorpus = ncmsgs;
	if (!ncorpus)
		fprintf(stderr, "no corpus under %s/tests/data/megaco-text "
			"(-s SRCDIR)\n", opt.srcdir);
	for (i = 0; i < sizeof(call_msgs) / sizeof(call_msgs[0]); i++)
		add_cmsg(strdup(call_msgs[i]), strlen(call_msgs[i]));
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "erlc -o %s %s/bench/bench_mg_codec.erl",
		 tmp, opt.srcdir);
	if (system(cmd))
		fprintf(stderr, "erlc failed: no Erlang figures\n");
	if (ncorpus)
		codec_group(tmp, "tests/data/megaco-text", 0, ncorpus);
	codec_group(tmp, "a typical call (MEGACO/3)", ncorpus, ncmsgs);
	for (i = 0; i < ncmsgs; i++) {
		free(cmsgs[i].text);
		gw_mem_deref(cmsgs[i].compact);
		gw_mem_deref(cmsgs[i].msg);
	}
	rm_rf(tmp);
	return 0;
}

/* ------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_mg [-m all|mgc|codec] [-n transactions=30000] "
		"[-w window=16]\n"
		"                [-r repetitions=5] [-e pretty|compact] "
		"[-c mg-cpu] [-C own-cpu]\n"
		"                [-k codec-operations=30000] "
		"[-l mg-log-level=warn] [-s srcdir]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	char exe[PATH_MAX];
	const char *src = getenv("JUNCTION_SRCDIR");
	ssize_t n;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int c, rc = 0;

	while ((c = getopt(argc, argv, "m:n:w:r:e:c:C:k:l:s:")) != -1) {
		switch (c) {
		case 'm': opt.mode = optarg; break;
		case 'n': opt.ntrans = (unsigned)atoi(optarg); break;
		case 'w': opt.window = (unsigned)atoi(optarg); break;
		case 'r': opt.reps = (unsigned)atoi(optarg); break;
		case 'e': opt.compact = !strcmp(optarg, "compact"); break;
		case 'c': opt.cpu_mg = atoi(optarg); break;
		case 'C': opt.cpu_me = atoi(optarg); break;
		case 'k': opt.codec_ops = (unsigned)atoi(optarg); break;
		case 'l': opt.log_level = optarg; break;
		case 's': src = optarg; break;
		default: usage();
		}
	}
	if (opt.window < 1 || opt.window > MAX_SLOTS || opt.reps < 1 ||
	    opt.reps > 64 || opt.ntrans < 3 || opt.codec_ops < 1)
		usage();
	/* the MG on the last CPU, the rest of us on the first */
	if (opt.cpu_mg < 0)
		opt.cpu_mg = (int)(ncpu > 0 ? ncpu - 1 : 0);
	if (opt.cpu_me < 0)
		opt.cpu_me = ncpu > 1 && opt.cpu_mg != 0 ? 0 :
			(ncpu > 1 ? 1 : 0);
	/* programs from the build tree this one is in (bench/..) */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 1;
	exe[n] = '\0';
	snprintf(opt.builddir, sizeof(opt.builddir), "%s",
		 dirname(dirname(exe)));
	snprintf(opt.srcdir, sizeof(opt.srcdir), "%s",
		 src && *src ? src : ".");
	if (!access(opt.srcdir, F_OK) && strcmp(opt.srcdir, ".") == 0 &&
	    access("tests/data/megaco-text", F_OK)) {
		/* run from the build tree: the source is where configure
		 * was, found through the Makefile's srcdir */
		FILE *f;
		char mk[PATH_MAX + 16], line[PATH_MAX + 32], *v;

		snprintf(mk, sizeof(mk), "%s/Makefile", opt.builddir);
		f = fopen(mk, "r");
		while (f && fgets(line, sizeof(line), f)) {
			if (strncmp(line, "abs_top_srcdir = ", 17))
				continue;
			v = line + 17;
			v[strcspn(v, "\n")] = '\0';
			snprintf(opt.srcdir, sizeof(opt.srcdir), "%.*s",
				 (int)sizeof(opt.srcdir) - 1, v);
			break;
		}
		if (f)
			fclose(f);
	}
	signal(SIGPIPE, SIG_IGN);
	gw_log_set_levels("warn");
	pin(opt.cpu_me);
	if (!strcmp(opt.mode, "all") || !strcmp(opt.mode, "codec"))
		rc |= bench_codec();
	if (!strcmp(opt.mode, "all") || !strcmp(opt.mode, "mgc"))
		rc |= bench_mgc();
	return rc;
}
