/* bench/bench_sip.c - SIP: parse cost per message, call cycles per second */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

/* libosip2's headers want the time headers first (notes/libraries.md). */
#include <osip2/osip.h>

/*
 * Figures only (STYLE.md 3.10), two of them:
 *
 *   bench_sip parse [-r reps]
 *     osip_message_parse + osip_message_free over every message of
 *     tests/data/sip-torture (from $JUNCTION_SRCDIR, "." otherwise,
 *     the files its manifest lists), thread CPU time per message,
 *     median [min - max] of reps runs; and, as the in-process
 *     reference, a plain INVITE with SDP alone.
 *
 *   bench_sip calls [-n calls] [-r cps] [-l concurrent] [-t seconds]
 *                   [-T u1|t1] [-s siptu]
 *     SIPp's built-in uac (INVITE, 100, 200, ACK, BYE, 200; no hold
 *     time) against tests/integration/siptu answering at once, bounded
 *     by the number of calls and a wall-clock limit.  Prints calls
 *     completed per wall second (what SIPp's pacing and both processes
 *     together allow) and siptu's CPU per call (user + system, from
 *     wait4), which is the gateway's signalling cost per call cycle.
 */

static double cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ---- parse ---------------------------------------------------------- */

#define MAX_MSGS 128

static char *texts[MAX_MSGS];
static size_t lens[MAX_MSGS];
static size_t nmsgs;

static void load_corpus(const char *dir)
{
	char path[2304], line[256], *comma;
	FILE *m, *f;
	long n;

	snprintf(path, sizeof(path), "%s/manifest.csv", dir);
	m = fopen(path, "r");
	if (!m) {
		fprintf(stderr, "bench_sip: %s: %s\n", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), m) && nmsgs < MAX_MSGS) {
		comma = strchr(line, ',');
		if (!comma || strncmp(line, "file,", 5) == 0)
			continue;
		*comma = '\0';
		snprintf(path, sizeof(path), "%s/%s", dir, line);
		f = fopen(path, "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		fseek(f, 0, SEEK_SET);
		texts[nmsgs] = malloc((size_t)n + 1);
		if (texts[nmsgs] &&
		    fread(texts[nmsgs], 1, (size_t)n, f) == (size_t)n) {
			texts[nmsgs][n] = '\0';
			lens[nmsgs++] = (size_t)n;
		} else {
			free(texts[nmsgs]);
		}
		fclose(f);
	}
	fclose(m);
}

static const char ref_invite[] =
	"INVITE sip:1000@192.0.2.10:5060 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport\r\n"
	"Max-Forwards: 70\r\n"
	"To: <sip:1000@192.0.2.10>\r\n"
	"From: \"Alice\" <sip:5551234@192.0.2.1>;tag=1928301774\r\n"
	"Call-ID: a84b4c76e66710@192.0.2.1\r\n"
	"CSeq: 314159 INVITE\r\n"
	"Contact: <sip:5551234@192.0.2.1:5060>\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO\r\n"
	"Supported: timer, replaces\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 142\r\n\r\n"
	"v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
	"t=0 0\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n";

/* One pass over n messages, iters times: CPU us per message. */
static double parse_pass(char **t, size_t *l, size_t n, unsigned iters)
{
	osip_message_t *m;
	double t0 = cpu_us();
	unsigned it;
	size_t i;

	for (it = 0; it < iters; it++)
		for (i = 0; i < n; i++) {
			if (osip_message_init(&m) < 0)
				continue;
			osip_message_parse(m, t[i], l[i]);
			osip_message_free(m);
		}
	return (cpu_us() - t0) / ((double)iters * (double)n);
}

static void trace_quiet(const char *fi, int li, osip_trace_level_t level,
			const char *fmt, va_list ap)
{
	(void)fi;
	(void)li;
	(void)level;
	(void)fmt;
	(void)ap;
}

static int bench_parse(int reps)
{
	const char *src = getenv("JUNCTION_SRCDIR");
	char dir[1024], *rt[1] = { (char *)ref_invite };
	size_t rl[1] = { sizeof(ref_invite) - 1 };
	double c[32], r[32];
	int i;

	if (reps < 1 || reps > 32)
		reps = 5;
	osip_trace_initialize_func(TRACE_LEVEL0, trace_quiet);
	parser_init();
	snprintf(dir, sizeof(dir), "%s/tests/data/sip-torture",
		 src ? src : ".");
	load_corpus(dir);
	if (!nmsgs) {
		fprintf(stderr, "bench_sip: no corpus in %s\n", dir);
		return 1;
	}
	parse_pass(texts, lens, nmsgs, 20);	/* warm up */
	for (i = 0; i < reps; i++) {
		c[i] = parse_pass(texts, lens, nmsgs, 200);
		r[i] = parse_pass(rt, rl, 1, 20000);
	}
	qsort(c, (size_t)reps, sizeof(double), cmp_d);
	qsort(r, (size_t)reps, sizeof(double), cmp_d);
	printf("osip_message_parse+free, thread CPU, median [min - max] of "
	       "%d runs\n", reps);
	printf("  torture corpus (%zu messages): %6.2f us/msg [%.2f - %.2f]\n",
	       nmsgs, c[reps / 2], c[0], c[reps - 1]);
	printf("  reference INVITE+SDP (%zu B):  %6.2f us/msg [%.2f - %.2f]\n",
	       rl[0], r[reps / 2], r[0], r[reps - 1]);
	printf("  corpus / reference: %.2f\n", c[reps / 2] / r[reps / 2]);
	for (i = 0; i < (int)nmsgs; i++)
		free(texts[i]);
	return 0;
}

/* ---- calls ---------------------------------------------------------- */

static unsigned free_port(void)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	unsigned port = 0;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &l))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static pid_t spawn(const char *const argv[], int *outfd)
{
	int p[2] = { -1, -1 };
	pid_t pid;
	int null;

	if (outfd && pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(outfd ? p[1] : null, 1);
		dup2(null, 2);
		if (outfd)
			close(p[0]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (outfd) {
		close(p[1]);
		*outfd = p[0];
	}
	return pid;
}

/* Wait for "ready" on siptu's stdout. */
static int wait_ready(int fd)
{
	char buf[512];
	size_t len = 0;
	ssize_t n;
	double t0 = wall_s();

	while (wall_s() - t0 < 5) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "ready\n"))
			return 0;
		if (len > sizeof(buf) / 2) {
			memmove(buf, buf + len / 2, len - len / 2);
			len -= len / 2;
		}
	}
	return -1;
}

static int bench_calls(int argc, char **argv)
{
	const char *siptu = "tests/integration/siptu", *tp = "u1";
	unsigned calls = 2000, rate = 200, limit = 100, secs = 60, port;
	char a_calls[16], a_rate[16], a_limit[16], a_to[16], a_dst[64];
	char a_lsn[64], a_lsnt[64], a_port[16];
	struct rusage ru;
	double t0, wall, cpu;
	pid_t tu, sp;
	int opt, fd, st, rc;

	while ((opt = getopt(argc, argv, "n:r:l:t:T:s:")) != -1) {
		switch (opt) {
		case 'n': calls = (unsigned)atoi(optarg); break;
		case 'r': rate = (unsigned)atoi(optarg); break;
		case 'l': limit = (unsigned)atoi(optarg); break;
		case 't': secs = (unsigned)atoi(optarg); break;
		case 'T': tp = optarg; break;
		case 's': siptu = optarg; break;
		default:
			fprintf(stderr, "usage: bench_sip calls [-n calls] "
				"[-r cps] [-l concurrent] [-t s] [-T u1|t1] "
				"[-s siptu]\n");
			return 2;
		}
	}
	port = free_port();
	snprintf(a_lsn, sizeof(a_lsn), "udp:127.0.0.1:%u", port);
	snprintf(a_lsnt, sizeof(a_lsnt), "tcp:127.0.0.1:%u", port);
	{
		const char *tv[] = { siptu, "-l", a_lsn, "-l", a_lsnt,
				     NULL };

		tu = spawn(tv, &fd);
	}
	if (tu < 0 || wait_ready(fd)) {
		fprintf(stderr, "bench_sip: %s did not start\n", siptu);
		if (tu > 0)
			kill(tu, SIGKILL);
		return 1;
	}
	snprintf(a_calls, sizeof(a_calls), "%u", calls);
	snprintf(a_rate, sizeof(a_rate), "%u", rate);
	snprintf(a_limit, sizeof(a_limit), "%u", limit);
	snprintf(a_to, sizeof(a_to), "%us", secs);
	snprintf(a_dst, sizeof(a_dst), "127.0.0.1:%u", port);
	snprintf(a_port, sizeof(a_port), "%u", free_port());
	{
		const char *sv[] = { "sipp", "-sn", "uac", a_dst, "-t", tp,
				     "-i", "127.0.0.1", "-p", a_port,
				     "-m", a_calls, "-r", a_rate,
				     "-l", a_limit, "-d", "0",
				     "-timeout", a_to, "-timeout_error",
				     "-nostdin", NULL };

		char buf[4096];
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		pid_t w = 0;

		t0 = wall_s();
		sp = spawn(sv, NULL);
		st = -1;
		/* Drain siptu's event lines while SIPp runs: a full pipe
		 * would stop siptu. */
		while (sp > 0 && (w = waitpid(sp, &st, WNOHANG)) == 0)
			if (poll(&pfd, 1, 50) > 0 &&
			    read(fd, buf, sizeof(buf)) <= 0)
				pfd.fd = -1;
		if (w < 0)
			st = -1;
		wall = wall_s() - t0;
	}
	/* siptu's own CPU: from wait4 once it has left. */
	kill(tu, SIGTERM);
	memset(&ru, 0, sizeof(ru));
	if (wait4(tu, &rc, 0, &ru) < 0)
		rc = -1;
	/* drain: siptu printed one line per event */
	{
		char buf[4096];

		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
	cpu = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec +
		ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
	printf("SIPp uac -> siptu over %s: %u calls asked at %u cps (at most "
	       "%u at once), %u s limit\n", strcmp(tp, "t1") ? "UDP" : "TCP",
	       calls, rate, limit, secs);
	printf("  SIPp exit %d%s\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
	       WIFEXITED(st) && !WEXITSTATUS(st) ? " (every call completed)" :
	       " (some calls failed or the time ran out)");
	printf("  wall %.2f s: %.0f call cycles/s\n", wall,
	       wall > 0 ? calls / wall : 0);
	printf("  siptu CPU %.3f s: %.0f us per call cycle "
	       "(INVITE/100/200/ACK/BYE/200), %.0f cycles/s per core\n",
	       cpu / 1e6, cpu / calls, cpu > 0 ? calls * 1e6 / cpu : 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "parse")) {
		int reps = 5, opt;

		optind = 2;
		while ((opt = getopt(argc, argv, "r:")) != -1)
			if (opt == 'r')
				reps = atoi(optarg);
		return bench_parse(reps);
	}
	if (argc >= 2 && !strcmp(argv[1], "calls")) {
		optind = 2;
		return bench_calls(argc, argv);
	}
	fprintf(stderr, "usage: bench_sip parse [-r reps] | calls [-n calls] "
		"[-r cps] [-l concurrent] [-t s] [-T u1|t1] [-s siptu]\n");
	return 2;
}
