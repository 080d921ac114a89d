/* tests/unit/test_core_ctl.c - status socket server and clients */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "unit.h"

/*
 * The server runs on this thread's loop.  Most tests drive plain client
 * sockets from this thread and run the loop until a reply line is there;
 * the blocking client (gw_ctl_call) and the flooders run on threads,
 * which hand their results back for the asserts (cmocka's asserts belong
 * to this thread only).
 */

static struct gw_ctl *ctl;
static char dir[32];
static char path[64];
static struct gw_loop *main_loop;

static unsigned later_started, later_fired;

/* ---- the server's test commands ---------------------------------- */

static void cmd_status(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	(void)msg;
	(void)arg;
	gw_ctl_reply(req, json_pack("{s:s,s:s,s:i,s:[{s:s,s:s,s:i}]}",
				    "program", "test", "version", "0",
				    "pid", (int)getpid(), "subsystems",
				    "name", "ctl", "state", "up", "clients",
				    (int)gw_ctl_clients(ctl)));
}

static void cmd_echo(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	json_t *o = json_deep_copy(msg);

	(void)arg;
	json_object_del(o, "cmd");
	gw_ctl_reply(req, o);
}

struct later {
	struct gw_tmr tmr;
	struct gw_ctl_req *req;
};

static void later_destroy(void *data)
{
	struct later *l = data;

	gw_tmr_cancel(&l->tmr);
}

static void later_h(void *arg)
{
	struct later *l = arg;

	later_fired++;
	gw_ctl_reply(l->req, json_pack("{s:b}", "late", 1));
	gw_mem_deref(l);
}

/* Answers from a timer, "ms" (default 50) later. */
static void cmd_later(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	struct later *l = gw_mem_zalloc(sizeof(*l), later_destroy);
	json_t *ms = json_object_get(msg, "ms");

	(void)arg;
	if (!l) {
		gw_ctl_error(req, "no memory");
		return;
	}
	later_started++;
	gw_tmr_init(&l->tmr);
	l->req = req;
	gw_tmr_start(&l->tmr, ms ? (uint64_t)json_integer_value(ms) : 50,
		     later_h, l);
}

static void cmd_sub(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	(void)msg;
	(void)arg;
	gw_ctl_subscribe(req);
}

/* A reply with a string of "n" bytes. */
static void cmd_big(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	size_t n = (size_t)json_integer_value(json_object_get(msg, "n"));
	char *s = malloc(n + 1);

	(void)arg;
	memset(s, 'b', n);
	s[n] = '\0';
	gw_ctl_reply(req, json_pack("{s:s}", "data", s));
	free(s);
}

/* Forgets its request: the server must answer for it. */
static void cmd_drop(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	(void)msg;
	(void)arg;
	gw_mem_deref(req);
}

static void new_dir(void)
{
	strcpy(dir, "/tmp/ctltest.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/test.sock", dir);
}

/* After a failed test: what it left must not fail the next ones. */
static void loop_fresh(void)
{
	if (gw_loop_self()) {
		ctl = gw_mem_deref(ctl);
		gw_loop_close();
	}
	assert_int_equal(gw_loop_init(), 0);
}

static void server_up(const struct gw_ctl_limits *lim)
{
	loop_fresh();
	main_loop = gw_loop_self();
	new_dir();
	later_started = later_fired = 0;
	assert_int_equal(gw_ctl_alloc(&ctl, path, lim), 0);
	assert_int_equal(gw_ctl_register(ctl, "status", cmd_status, NULL,
					 "daemon status"), 0);
	assert_int_equal(gw_ctl_register(ctl, "echo", cmd_echo, NULL,
					 "the request back"), 0);
	assert_int_equal(gw_ctl_register(ctl, "later", cmd_later, NULL,
					 "a deferred answer"), 0);
	assert_int_equal(gw_ctl_register(ctl, "sub", cmd_sub, NULL,
					 "subscribe"), 0);
	assert_int_equal(gw_ctl_register(ctl, "big", cmd_big, NULL,
					 "a big reply"), 0);
	assert_int_equal(gw_ctl_register(ctl, "drop", cmd_drop, NULL,
					 "no answer"), 0);
}

static void server_down(void)
{
	ctl = gw_mem_deref(ctl);
	gw_loop_close();
	unlink(path);
	rmdir(dir);
}

/* ---- running the loop -------------------------------------------- */

typedef bool (cond_h)(void *arg);

struct until {
	struct gw_tmr tmr;
	cond_h *cond;
	void *arg;
};

static void until_tmr(void *arg)
{
	struct until *u = arg;

	if (u->cond(u->arg))
		gw_loop_stop();
	else
		gw_tmr_start(&u->tmr, 1, until_tmr, u);
}

/* Run the loop until cond holds (checked every millisecond). */
static bool run_until(cond_h *cond, void *arg, uint64_t ms)
{
	struct until u = { .cond = cond, .arg = arg };
	int err;

	gw_tmr_init(&u.tmr);
	gw_tmr_start(&u.tmr, 0, until_tmr, &u);
	err = gw_loop_run_timeout(ms);
	gw_tmr_cancel(&u.tmr);
	return err == 0;
}

static void run_for(uint64_t ms)
{
	assert_int_equal(gw_loop_run_timeout(ms), ETIMEDOUT);
}

static bool clients_are(void *arg)
{
	return gw_ctl_clients(ctl) == (unsigned)(uintptr_t)arg;
}

static bool later_done(void *arg)
{
	return later_fired >= (unsigned)(uintptr_t)arg;
}

static void stop_h(void *arg)
{
	(void)arg;
	gw_loop_stop();
}

/* ---- a plain client ---------------------------------------------- */

struct cli {
	int fd;
	char buf[256 * 1024];
	size_t len;
	bool eof;
};

static int sock_connect(const char *p)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct cli *cli_open(void)
{
	struct cli *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->fd = sock_connect(path);
	assert_true(c->fd >= 0);
	return c;
}

static void cli_close(struct cli *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static void send_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void cli_send(struct cli *c, const char *s)
{
	send_all(c->fd, s, strlen(s));
}

/* Take what arrived; true once a whole line (or the end) is there. */
static bool cli_ready(void *arg)
{
	struct cli *c = arg;

	while (!c->eof && c->len < sizeof(c->buf)) {
		ssize_t n = recv(c->fd, c->buf + c->len,
				 sizeof(c->buf) - c->len, MSG_DONTWAIT);

		if (n > 0)
			c->len += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			c->eof = true;
		else
			break;
	}
	return memchr(c->buf, '\n', c->len) || c->eof;
}

/* The next line as text (NUL-terminated in line), run the loop for it;
 * false at the end of the stream. */
static bool cli_line(struct cli *c, char *line, size_t size)
{
	char *nl;
	size_t n;

	run_until(cli_ready, c, 3000);
	nl = memchr(c->buf, '\n', c->len);
	if (!nl)
		return false;
	n = (size_t)(nl - c->buf);
	assert_true(n < size);
	memcpy(line, c->buf, n);
	line[n] = '\0';
	memmove(c->buf, nl + 1, c->len - n - 1);
	c->len -= n + 1;
	return true;
}

static json_t *cli_reply(struct cli *c)
{
	static char line[256 * 1024];
	json_error_t jerr;
	json_t *o;

	if (!cli_line(c, line, sizeof(line)))
		return NULL;
	o = json_loads(line, 0, &jerr);
	if (!o)
		print_error("bad reply line: %s\n", line);
	assert_non_null(o);
	return o;
}

static bool reply_ok(const json_t *r)
{
	return json_is_true(json_object_get(r, "ok"));
}

static const char *reply_error(const json_t *r)
{
	return json_string_value(json_object_get(r, "error"));
}

/* Send line, expect an error reply that contains what. */
static void expect_error(struct cli *c, const char *line, const char *what)
{
	json_t *r;

	cli_send(c, line);
	r = cli_reply(c);
	assert_non_null(r);
	if (reply_ok(r))
		print_error("ok for: %s", line);
	assert_false(reply_ok(r));
	assert_non_null(reply_error(r));
	if (!strstr(reply_error(r), what))
		print_error("error '%s' lacks '%s'\n", reply_error(r), what);
	assert_non_null(strstr(reply_error(r), what));
	json_decref(r);
}

static void expect_status(struct cli *c)
{
	json_t *r;

	cli_send(c, "{\"cmd\":\"status\"}\n");
	r = cli_reply(c);
	assert_non_null(r);
	if (!reply_ok(r))
		print_error("not ok: %s\n", reply_error(r));
	assert_true(reply_ok(r));
	assert_string_equal(json_string_value(json_object_get(r, "program")),
			    "test");
	json_decref(r);
}

/* ---- the tests ---------------------------------------------------- */

struct call_job {
	json_t *reply[3];
	int err[3];
	char errtext[3][256];
	uint64_t took_ms[3];
};

static void *status_thread(void *arg)
{
	struct call_job *job = arg;
	json_t *req[3];
	uint64_t t0;
	int i;

	req[0] = json_pack("{s:s}", "cmd", "status");
	req[1] = json_pack("{s:s}", "cmd", "help");
	req[2] = json_pack("{s:s,s:i}", "cmd", "later", "ms", 300);
	for (i = 0; i < 3; i++) {
		t0 = gw_now_ms();
		job->err[i] = gw_ctl_call(path, req[i], &job->reply[i],
					  i == 2 ? 50 : 2000, job->errtext[i],
					  sizeof(job->errtext[i]));
		job->took_ms[i] = gw_now_ms() - t0;
		json_decref(req[i]);
	}
	gw_loop_post(main_loop, stop_h, NULL);
	return NULL;
}

static bool has_command(const json_t *help, const char *name)
{
	json_t *cmds = json_object_get(help, "commands"), *c;
	size_t i;

	json_array_foreach(cmds, i, c) {
		if (!strcmp(json_string_value(json_object_get(c, "name")),
			    name))
			return json_string_value(json_object_get(c, "help"))
				!= NULL;
	}
	return false;
}

/* gw_ctl_call: an answer, the help list, a timeout. */
static void test_call(void **state)
{
	struct call_job job;
	pthread_t t;
	json_t *r;
	char err[256];

	(void)state;
	memset(&job, 0, sizeof(job));
	server_up(NULL);
	assert_int_equal(pthread_create(&t, NULL, status_thread, &job), 0);
	assert_int_equal(gw_loop_run_timeout(5000), 0);
	pthread_join(t, NULL);

	assert_int_equal(job.err[0], 0);
	assert_true(reply_ok(job.reply[0]));
	assert_string_equal(json_string_value(json_object_get(job.reply[0],
							      "program")),
			    "test");
	assert_int_equal(job.err[1], 0);
	assert_true(has_command(job.reply[1], "help"));
	assert_true(has_command(job.reply[1], "status"));
	assert_true(has_command(job.reply[1], "later"));
	assert_int_equal(job.err[2], ETIMEDOUT);
	assert_null(job.reply[2]);
	assert_string_equal(job.errtext[2], "timed out after 50 ms");
	assert_true(job.took_ms[2] >= 50 && job.took_ms[2] < 250);
	json_decref(job.reply[0]);
	json_decref(job.reply[1]);

	/* The deferred answer goes to a closed connection. */
	assert_true(run_until(later_done, (void *)1, 2000));
	server_down();

	/* Nobody there. */
	r = json_pack("{s:s}", "cmd", "status");
	assert_int_equal(gw_ctl_call(path, r, &job.reply[0], 100, err,
				     sizeof(err)), ENOENT);
	assert_non_null(strstr(err, "cannot connect to "));
	assert_non_null(strstr(err, path));
	json_decref(r);
}

/* "id" comes back, whatever its type, on answers and on errors. */
static void test_id_echo(void **state)
{
	struct cli *c;
	char line[1024];
	json_t *r;

	(void)state;
	server_up(NULL);
	c = cli_open();

	cli_send(c, "{\"cmd\":\"status\",\"id\":42}\n");
	assert_true(cli_line(c, line, sizeof(line)));
	/* "ok" leads, then the id. */
	assert_true(!strncmp(line, "{\"ok\":true,\"id\":42,", 19));

	cli_send(c, "{\"cmd\":\"nope\",\"id\":\"abc\"}\n");
	r = cli_reply(c);
	assert_false(reply_ok(r));
	assert_string_equal(json_string_value(json_object_get(r, "id")),
			    "abc");
	assert_string_equal(reply_error(r), "unknown command 'nope'");
	json_decref(r);

	/* A handler cannot overwrite the envelope. */
	cli_send(c, "{\"cmd\":\"echo\",\"id\":[1,2],\"x\":1,\"ok\":false}\n");
	r = cli_reply(c);
	assert_true(reply_ok(r));
	assert_int_equal(json_array_size(json_object_get(r, "id")), 2);
	assert_int_equal(json_integer_value(json_object_get(r, "x")), 1);
	json_decref(r);

	/* No id, no id field. */
	cli_send(c, "{\"cmd\":\"status\"}\n");
	r = cli_reply(c);
	assert_null(json_object_get(r, "id"));
	json_decref(r);

	cli_close(c);
	server_down();
}

/* 99 bytes, then a two-byte character across the 100-byte cut. */
#define LONG_UTF8 \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9tc"

/* Each kind of bad line gets an error; the connection stays usable. */
static void test_bad_lines(void **state)
{
	struct cli *c;
	json_t *r;

	(void)state;
	server_up(NULL);
	c = cli_open();

	expect_error(c, "{\"cmd\":\n", "invalid JSON at column");
	expect_error(c, "hello\n", "invalid JSON at column 5: invalid token");
	expect_error(c, "[1,2]\n", "request must be a JSON object");
	expect_error(c, "\"status\"\n", "request must be a JSON object");
	expect_error(c, "{\"x\":1}\n", "request needs a \"cmd\" string");
	expect_error(c, "{\"cmd\":5}\n", "request needs a \"cmd\" string");
	expect_error(c, "{\"cmd\":\"nope\"}\n", "unknown command 'nope'");
	expect_status(c);
	/* Bytes that are no UTF-8, and a name cut inside a character:
	 * still one error line each. */
	expect_error(c, "{\"cmd\":\"\xff\xfe\"}\n", "invalid JSON");
	expect_error(c, "{\"cmd\":\"" LONG_UTF8 "\"}\n", "aaaa?'");
	expect_status(c);

	/* Blank lines are no requests; CRLF ends a line too. */
	cli_send(c, "\n \r\n");
	expect_status(c);
	cli_send(c, "{\"cmd\":\"echo\",\"crlf\":1}\r\n");
	r = cli_reply(c);
	assert_true(reply_ok(r));
	assert_int_equal(json_integer_value(json_object_get(r, "crlf")), 1);
	json_decref(r);
	/* The handler's error() too. */
	expect_error(c, "{\"cmd\":\"drop\"}\n", "request dropped unanswered");
	expect_status(c);

	cli_close(c);
	server_down();
}

/* An overlong line: one error, then the next line is served. */
static void test_line_too_long(void **state)
{
	struct gw_ctl_limits lim = { .max_line = 1024 };
	char line[1100];
	struct cli *c;
	char *big;
	json_t *r;
	size_t n;

	(void)state;
	server_up(&lim);
	c = cli_open();

	big = malloc(5001 + 20);
	memset(big, 'a', 5000);
	strcpy(big + 5000, "\n{\"cmd\":\"status\"}\n");
	cli_send(c, big);
	free(big);
	r = cli_reply(c);
	assert_string_equal(reply_error(r), "line too long (limit 1024 bytes)");
	json_decref(r);
	r = cli_reply(c);
	assert_true(reply_ok(r));
	json_decref(r);

	/* Exactly max_line bytes pass; one more does not. */
	n = (size_t)snprintf(line, sizeof(line), "{\"cmd\":\"echo\",\"p\":\"");
	memset(line + n, 'p', 1024 - n - 2);
	strcpy(line + 1024 - 2, "\"}\n");
	assert_int_equal(strlen(line), 1025);
	cli_send(c, line);
	r = cli_reply(c);
	assert_true(reply_ok(r));
	json_decref(r);
	memmove(line + 1, line, 1026);
	line[0] = ' ';
	expect_error(c, line, "line too long");
	expect_status(c);

	cli_close(c);
	server_down();
}

/* max_errors bad lines in a row close the connection; a good one
 * between them resets the count. */
static void test_max_errors(void **state)
{
	struct gw_ctl_limits lim = { .max_errors = 3 };
	char line[512];
	struct cli *c;
	json_t *r;

	(void)state;
	server_up(&lim);
	c = cli_open();

	expect_error(c, "x\n", "invalid JSON");
	expect_error(c, "x\n", "invalid JSON");
	expect_status(c);
	expect_error(c, "x\n", "invalid JSON");
	expect_error(c, "x\n", "invalid JSON");
	cli_send(c, "x\n");
	r = cli_reply(c);
	assert_non_null(strstr(reply_error(r), "3 bad requests in a row"));
	json_decref(r);
	assert_false(cli_line(c, line, sizeof(line)));
	assert_true(c->eof);
	assert_true(run_until(clients_are, (void *)0, 1000));

	cli_close(c);
	server_down();
}

struct flood_job {
	atomic_bool stop;
	atomic_bool started;
	size_t sent;
	json_t *reply[2];
	unsigned calls, failed, reconnects;
	uint64_t max_ms;
	unsigned max_clients_seen;
};

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Read one line from a blocking fd (byte by byte: replies are short). */
static json_t *read_reply(int fd)
{
	char line[4096];
	size_t n = 0;

	while (n < sizeof(line) - 1) {
		if (recv(fd, line + n, 1, 0) != 1)
			return NULL;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	return json_loads(line, 0, NULL);
}

/* A megabyte without a newline, then a request. */
static void *megabyte_thread(void *arg)
{
	struct flood_job *job = arg;
	static char chunk[64 * 1024];
	const char *tail = "\n{\"cmd\":\"status\"}\n";
	int fd = sock_connect(path);
	size_t i;

	if (fd < 0)
		goto out;
	set_timeouts(fd, 3000);
	memset(chunk, '{', sizeof(chunk));
	for (i = 0; i < 16; i++) {
		send_all(fd, chunk, sizeof(chunk));
		job->sent += sizeof(chunk);
		job->started = true;
	}
	send_all(fd, tail, strlen(tail));
	job->reply[0] = read_reply(fd);
	job->reply[1] = read_reply(fd);
	close(fd);
 out:
	job->started = true;
	job->stop = true;
	return NULL;
}

static void *caller_thread(void *arg)
{
	struct flood_job *job = arg;
	json_t *req = json_pack("{s:s}", "cmd", "status");
	json_t *r;
	char err[256];
	uint64_t t0, dt;

	while (!job->started)
		usleep(1000);
	while (!job->stop || job->calls < 20) {
		t0 = gw_now_ms();
		r = NULL;
		if (gw_ctl_call(path, req, &r, 1000, err, sizeof(err)) ||
		    !reply_ok(r))
			job->failed++;
		dt = gw_now_ms() - t0;
		if (dt > job->max_ms)
			job->max_ms = dt;
		json_decref(r);
		job->calls++;
		usleep(2000);
	}
	json_decref(req);
	gw_loop_post(main_loop, stop_h, NULL);
	return NULL;
}

/* The heap in use, sampled from the loop (glibc; 0 under ASan, whose
 * allocator glibc does not see). */
struct heap_sampler {
	struct gw_tmr tmr;
	size_t base, peak;
};

static size_t heap_used(void)
{
#ifdef __GLIBC__
	return mallinfo2().uordblks;
#else
	return 0;
#endif
}

static void heap_sample(void *arg)
{
	struct heap_sampler *hs = arg;
	size_t now = heap_used();

	if (now > hs->peak)
		hs->peak = now;
	gw_tmr_start(&hs->tmr, 1, heap_sample, hs);
}

/* A client sending a megabyte without a newline gets one error and
 * costs no megabyte; the others are served meanwhile. */
static void test_megabyte_line(void **state)
{
	struct heap_sampler hs;
	struct flood_job job;
	pthread_t t1, t2;

	(void)state;
	memset(&job, 0, sizeof(job));
	server_up(NULL);
	gw_tmr_init(&hs.tmr);
	hs.base = hs.peak = heap_used();
	heap_sample(&hs);
	assert_int_equal(pthread_create(&t1, NULL, megabyte_thread, &job), 0);
	assert_int_equal(pthread_create(&t2, NULL, caller_thread, &job), 0);
	assert_int_equal(gw_loop_run_timeout(10000), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	gw_tmr_cancel(&hs.tmr);
	/* One 64 KiB line buffer, a few replies, the threads' own: far
	 * below the megabyte sent. */
	print_message("# megabyte: heap peak +%zu KiB\n",
		      (hs.peak - hs.base) / 1024);
	assert_true(hs.peak - hs.base < 512 * 1024);

	assert_int_equal(job.sent, 16 * 64 * 1024);
	assert_non_null(job.reply[0]);
	assert_string_equal(reply_error(job.reply[0]),
			    "line too long (limit 65536 bytes)");
	assert_non_null(job.reply[1]);
	assert_true(reply_ok(job.reply[1]));
	json_decref(job.reply[0]);
	json_decref(job.reply[1]);
	assert_int_equal(job.failed, 0);
	assert_true(job.calls >= 20);
	server_down();
}

/* Garbage without newlines, as fast as the server takes it. */
static void *stream_flooder(void *arg)
{
	struct flood_job *job = arg;
	static char chunk[16 * 1024];
	int fd = sock_connect(path);

	if (fd < 0)
		return NULL;
	set_timeouts(fd, 100);
	memset(chunk, 'g', sizeof(chunk));
	while (!job->stop) {
		ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);

		if (n > 0)
			job->sent += (size_t)n;
		else if (errno != EAGAIN && errno != EINTR)
			break;
	}
	close(fd);
	return NULL;
}

/* Bad lines as fast as it can, reconnecting when dropped. */
static void *line_flooder(void *arg)
{
	struct flood_job *job = arg;
	static const char junk[] = "}{ not json\n";
	char buf[4096];
	size_t i;
	int fd = -1;

	for (i = 0; i + sizeof(junk) - 1 < sizeof(buf); i += sizeof(junk) - 1)
		memcpy(buf + i, junk, sizeof(junk) - 1);
	while (!job->stop) {
		if (fd < 0) {
			fd = sock_connect(path);
			if (fd < 0) {
				usleep(1000);
				continue;
			}
			set_timeouts(fd, 100);
			job->reconnects++;
		}
		if (send(fd, buf, i, MSG_NOSIGNAL) < 0 && errno != EAGAIN) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void *timed_caller(void *arg)
{
	struct flood_job *job = arg;
	json_t *req = json_pack("{s:s}", "cmd", "status");
	json_t *r, *sub;
	char err[256];
	uint64_t t0, dt;
	unsigned i;

	usleep(100 * 1000);	/* let the floods run */
	for (i = 0; i < 30; i++) {
		t0 = gw_now_ms();
		r = NULL;
		if (gw_ctl_call(path, req, &r, 100, err, sizeof(err)) ||
		    !reply_ok(r)) {
			job->failed++;
		} else {
			sub = json_array_get(json_object_get(r, "subsystems"),
					     0);
			if (json_integer_value(json_object_get(sub, "clients"))
			    > job->max_clients_seen)
				job->max_clients_seen = (unsigned)
					json_integer_value(json_object_get(sub,
							"clients"));
		}
		dt = gw_now_ms() - t0;
		if (dt > job->max_ms)
			job->max_ms = dt;
		json_decref(r);
		job->calls++;
		usleep(5000);
	}
	json_decref(req);
	job->stop = true;
	gw_loop_post(main_loop, stop_h, NULL);
	return NULL;
}

/* The acceptance case: 50 idle clients, two flooders, and a caller that
 * must get every answer within 100 ms. */
static void test_crowd(void **state)
{
	struct flood_job job;
	struct cli *idle[50];
	pthread_t t[3];
	size_t i;

	(void)state;
	memset(&job, 0, sizeof(job));
	server_up(NULL);
	for (i = 0; i < GW_ARRAY_SIZE(idle); i++)
		idle[i] = cli_open();
	assert_true(run_until(clients_are, (void *)50, 2000));

	assert_int_equal(pthread_create(&t[0], NULL, stream_flooder, &job), 0);
	assert_int_equal(pthread_create(&t[1], NULL, line_flooder, &job), 0);
	assert_int_equal(pthread_create(&t[2], NULL, timed_caller, &job), 0);
	assert_int_equal(gw_loop_run_timeout(20000), 0);
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);

	print_message("# crowd: %u calls, slowest %llu ms, %zu garbage bytes, "
		      "%u flooder reconnects, %u clients\n", job.calls,
		      (unsigned long long)job.max_ms, job.sent,
		      job.reconnects, job.max_clients_seen);
	assert_int_equal(job.failed, 0);
	assert_int_equal(job.calls, 30);
	assert_true(job.max_ms < 100);
	assert_true(job.max_clients_seen >= 52);
	assert_true(job.sent > 1024 * 1024);
	assert_true(job.reconnects > 1);	/* the line flooder was cut */

	for (i = 0; i < GW_ARRAY_SIZE(idle); i++)
		cli_close(idle[i]);
	server_down();
}

/* One client over max_clients gets an error line and is closed. */
static void test_max_clients(void **state)
{
	struct gw_ctl_limits lim = { .max_clients = 3 };
	struct cli *c[4];
	char line[512];
	json_t *r;
	int i;

	(void)state;
	server_up(&lim);
	for (i = 0; i < 3; i++) {
		c[i] = cli_open();
		expect_status(c[i]);
	}
	c[3] = cli_open();
	r = cli_reply(c[3]);
	assert_non_null(r);
	assert_string_equal(reply_error(r), "too many clients (limit 3)");
	json_decref(r);
	assert_false(cli_line(c[3], line, sizeof(line)));
	assert_true(c[3]->eof);
	cli_close(c[3]);
	assert_int_equal(gw_ctl_clients(ctl), 3);

	/* Room again once one leaves. */
	cli_close(c[0]);
	assert_true(run_until(clients_are, (void *)2, 1000));
	c[0] = cli_open();
	expect_status(c[0]);

	for (i = 0; i < 3; i++)
		cli_close(c[i]);
	server_down();
}

/* A deferred answer holds the next request back, in order. */
static void test_deferred(void **state)
{
	struct cli *c;
	uint64_t t0;
	json_t *r;

	(void)state;
	server_up(NULL);
	c = cli_open();

	t0 = gw_now_ms();
	cli_send(c, "{\"cmd\":\"later\",\"ms\":50,\"id\":1}\n"
		 "{\"cmd\":\"status\",\"id\":2}\n");
	r = cli_reply(c);
	assert_true(gw_now_ms() - t0 >= 45);
	assert_true(reply_ok(r));
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 1);
	assert_true(json_is_true(json_object_get(r, "late")));
	json_decref(r);
	r = cli_reply(c);
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 2);
	json_decref(r);

	cli_close(c);
	server_down();
}

/* A client that shuts its sending side after its requests (socat, nc)
 * still gets every answer, the last line needing no newline. */
static void test_half_close(void **state)
{
	char line[512];
	struct cli *c;
	json_t *r;

	(void)state;
	server_up(NULL);
	c = cli_open();
	cli_send(c, "{\"cmd\":\"later\",\"ms\":20,\"id\":1}\n"
		 "{\"cmd\":\"status\",\"id\":2}");
	shutdown(c->fd, SHUT_WR);
	r = cli_reply(c);
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 1);
	json_decref(r);
	r = cli_reply(c);
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 2);
	assert_true(reply_ok(r));
	json_decref(r);
	assert_false(cli_line(c, line, sizeof(line)));
	assert_true(c->eof);
	assert_true(run_until(clients_are, (void *)0, 1000));
	cli_close(c);
	server_down();
}

/* Every allocation in gw_ctl_alloc and in a request may fail. */
static void test_enomem(void **state)
{
	struct cli *c;
	json_t *r;
	long n;
	int err;

	(void)state;
	loop_fresh();
	new_dir();
	for (n = 0; n < 20; n++) {
		gw_mem_fail_after(n);
		err = gw_ctl_alloc(&ctl, path, NULL);
		gw_mem_fail_after(-1);
		if (!err)
			break;
		assert_int_equal(err, ENOMEM);
		assert_int_equal(access(path, F_OK), -1);
	}
	assert_int_equal(err, 0);
	assert_int_equal(gw_ctl_register(ctl, "status", cmd_status, NULL,
					 ""), 0);
	c = cli_open();
	expect_status(c);
	for (n = 0; n < 4; n++) {
		cli_send(c, "{\"cmd\":\"nope\"}\n{\"cmd\":\"status\"}\n");
		gw_mem_fail_after(n);
		r = cli_reply(c);
		assert_false(reply_ok(r));
		json_decref(r);
		r = cli_reply(c);
		gw_mem_fail_after(-1);
		assert_non_null(r);
		json_decref(r);
	}
	expect_status(c);
	cli_close(c);
	server_down();
}

/* The client leaves, or the server goes, before a deferred answer. */
static void test_deferred_orphan(void **state)
{
	struct cli *c;

	(void)state;
	server_up(NULL);

	c = cli_open();
	cli_send(c, "{\"cmd\":\"later\",\"ms\":30}\n");
	while (!later_started)
		run_for(1);
	cli_close(c);
	assert_true(run_until(clients_are, (void *)0, 1000));
	assert_true(run_until(later_done, (void *)1, 1000));

	/* The gw_ctl freed with a request in progress. */
	c = cli_open();
	cli_send(c, "{\"cmd\":\"later\",\"ms\":30}\n");
	while (later_started < 2)
		run_for(1);
	ctl = gw_mem_deref(ctl);
	assert_true(run_until(later_done, (void *)2, 1000));
	assert_true(cli_ready(c));	/* closed: the end, no reply */
	assert_int_equal(c->len, 0);
	cli_close(c);

	gw_loop_close();
	rmdir(dir);
}

/* A client that pipelines requests and reads nothing holds the server
 * back; once it reads, every answer comes, in order. */
static void test_backpressure(void **state)
{
	struct gw_ctl_limits lim = { .max_out = 64 * 1024 };
	char req[128];
	struct cli *c, *other;
	json_t *r;
	int i;

	(void)state;
	server_up(&lim);
	c = cli_open();
	other = cli_open();
	for (i = 0; i < 100; i++) {
		snprintf(req, sizeof(req),
			 "{\"cmd\":\"big\",\"n\":40000,\"id\":%d}\n", i);
		cli_send(c, req);
	}
	run_for(100);
	assert_int_equal(gw_ctl_clients(ctl), 2);
	expect_status(other);

	for (i = 0; i < 100; i++) {
		r = cli_reply(c);
		assert_non_null(r);
		assert_int_equal(json_integer_value(json_object_get(r, "id")),
				 i);
		assert_int_equal(strlen(json_string_value(
				json_object_get(r, "data"))), 40000);
		json_decref(r);
	}

	/* A single reply beyond what the socket and max_out hold. */
	cli_send(c, "{\"cmd\":\"big\",\"n\":4000000}\n");
	assert_true(run_until(clients_are, (void *)1, 2000));
	expect_status(other);

	cli_close(c);
	cli_close(other);
	server_down();
}

/* A socket file nobody listens on is replaced. */
static void test_stale_socket(void **state)
{
	struct sockaddr_un sa;
	struct cli *c;
	int fd;

	(void)state;
	loop_fresh();
	new_dir();
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(access(path, F_OK), 0);

	assert_int_equal(gw_ctl_alloc(&ctl, path, NULL), 0);
	assert_int_equal(gw_ctl_register(ctl, "status", cmd_status, NULL,
					 ""), 0);
	c = cli_open();
	expect_status(c);
	cli_close(c);
	server_down();
}

/* A live listener, a file that is no socket, a path too long. */
static void test_alloc_errors(void **state)
{
	struct gw_ctl *other = (struct gw_ctl *)&other;
	char longpath[200];
	struct cli *c;
	int fd;

	(void)state;
	server_up(NULL);
	assert_int_equal(gw_ctl_alloc(&other, path, NULL), EADDRINUSE);
	assert_ptr_equal(other, (struct gw_ctl *)&other);
	assert_int_equal(gw_ctl_register(ctl, "status", cmd_status, NULL,
					 NULL), EEXIST);
	c = cli_open();
	expect_status(c);
	cli_close(c);
	assert_string_equal(gw_ctl_path(ctl), path);
	ctl = gw_mem_deref(ctl);
	assert_int_equal(access(path, F_OK), -1);	/* unlinked */
	gw_loop_close();
	rmdir(dir);

	loop_fresh();
	new_dir();
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(gw_ctl_alloc(&other, path, NULL), EEXIST);
	assert_int_equal(access(path, F_OK), 0);	/* left alone */

	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(gw_ctl_alloc(&other, longpath, NULL), ENAMETOOLONG);
	assert_int_equal(gw_ctl_alloc(&other, "", NULL), EINVAL);
	gw_loop_close();
	unlink(path);
	rmdir(dir);
}

/* 0660 whatever the umask. */
static void test_mode(void **state)
{
	static const mode_t masks[] = { 0, 022, 077 };
	struct stat st;
	mode_t old;
	size_t i;

	(void)state;
	for (i = 0; i < GW_ARRAY_SIZE(masks); i++) {
		old = umask(masks[i]);
		server_up(NULL);
		umask(old);
		assert_int_equal(lstat(path, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		assert_int_equal(st.st_mode & 07777, 0660);
		server_down();
	}
}

struct resp {
	unsigned called;
	int err;
	json_t *reply;
	uint64_t at;
};

static void resp_h(int err, json_t *reply, void *arg)
{
	struct resp *r = arg;

	r->called++;
	r->err = err;
	r->reply = json_incref(reply);
	r->at = gw_now_ms();
	gw_loop_stop();
}

/* gw_ctl_request: an answer, a timeout, nobody there. */
static void test_request(void **state)
{
	struct resp r1, r2, r3;
	json_t *req;
	uint64_t t0;

	(void)state;
	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	memset(&r3, 0, sizeof(r3));
	server_up(NULL);

	req = json_pack("{s:s,s:i}", "cmd", "status", "id", 7);
	assert_int_equal(gw_ctl_request(path, req, 1000, resp_h, &r1), 0);
	assert_int_equal(req->refcount, 1);	/* not stolen */
	json_decref(req);
	assert_int_equal(r1.called, 0);		/* never from inside */
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	assert_int_equal(r1.called, 1);
	assert_int_equal(r1.err, 0);
	assert_true(reply_ok(r1.reply));
	assert_int_equal(json_integer_value(json_object_get(r1.reply, "id")),
			 7);
	json_decref(r1.reply);

	req = json_pack("{s:s,s:i}", "cmd", "later", "ms", 200);
	t0 = gw_now_ms();
	assert_int_equal(gw_ctl_request(path, req, 50, resp_h, &r2), 0);
	json_decref(req);
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	assert_int_equal(r2.called, 1);
	assert_int_equal(r2.err, ETIMEDOUT);
	assert_null(r2.reply);
	assert_true(r2.at - t0 >= 50 && r2.at - t0 < 150);
	assert_true(run_until(later_done, (void *)1, 1000));
	run_for(20);
	assert_int_equal(r2.called, 1);		/* exactly once */

	req = json_pack("{s:s}", "cmd", "status");
	assert_int_equal(gw_ctl_request("/nonexistent/x.sock", req, 100,
					resp_h, &r3), 0);
	json_decref(req);
	assert_int_equal(r3.called, 0);
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	assert_int_equal(r3.called, 1);
	assert_int_equal(r3.err, ENOENT);

	assert_int_equal(gw_ctl_request(path, NULL, 100, resp_h, &r3),
			 EINVAL);
	server_down();
}

/* Subscribers get broadcasts; one that stops reading is dropped. */
static void test_subscribe(void **state)
{
	struct gw_ctl_limits lim = { .max_out = 16 * 1024 };
	struct cli *sub, *other;
	char line[2048], pad[1024];
	json_t *r;
	int i;

	(void)state;
	server_up(&lim);
	sub = cli_open();
	other = cli_open();
	cli_send(sub, "{\"cmd\":\"sub\",\"id\":1}\n");
	r = cli_reply(sub);
	assert_true(reply_ok(r));
	json_decref(r);
	expect_status(other);

	gw_ctl_broadcast(ctl, json_pack("{s:s}", "event", "x"));
	assert_true(cli_line(sub, line, sizeof(line)));
	assert_string_equal(line, "{\"event\":\"x\"}");
	run_for(20);
	assert_false(cli_ready(other));
	/* A subscriber can still ask. */
	expect_status(sub);

	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (i = 0; i < 2000 && gw_ctl_clients(ctl) == 2; i++) {
		gw_ctl_broadcast(ctl, json_pack("{s:s}", "pad", pad));
		run_for(1);
	}
	assert_int_equal(gw_ctl_clients(ctl), 1);
	expect_status(other);
	gw_ctl_broadcast(ctl, json_pack("{s:s}", "event", "y"));
	gw_ctl_broadcast(NULL, json_pack("{s:s}", "event", "z"));

	cli_close(sub);
	cli_close(other);
	server_down();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_call),
		UNIT_TEST(test_id_echo),
		UNIT_TEST(test_bad_lines),
		UNIT_TEST(test_line_too_long),
		UNIT_TEST(test_max_errors),
		UNIT_TEST(test_megabyte_line),
		UNIT_TEST(test_crowd),
		UNIT_TEST(test_max_clients),
		UNIT_TEST(test_deferred),
		UNIT_TEST(test_deferred_orphan),
		UNIT_TEST(test_half_close),
		UNIT_TEST(test_enomem),
		UNIT_TEST(test_backpressure),
		UNIT_TEST(test_stale_socket),
		UNIT_TEST(test_alloc_errors),
		UNIT_TEST(test_mode),
		UNIT_TEST(test_request),
		UNIT_TEST(test_subscribe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
