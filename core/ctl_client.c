/* core/ctl_client.c - status socket client: blocking and on the loop */
#define GW_LOG_MOD "ctl"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core.h"

/*
 * Both clients send one compact JSON line and take the first line that
 * comes back.  A reply may be large (a long "calls" or "cdr" list), so the
 * input grows as needed, up to a bound that only a broken peer reaches.
 */

enum {
	CALL_REPLY_MAX = 64 * 1024 * 1024,
	CALL_CHUNK = 16 * 1024,
	CALL_RETRY_MS = 10,	/* connect retry while the backlog is full */
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	GW_PRINTF(3, 4);

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The request as one line, newline included; free() it. */
static char *req_line(const json_t *req, size_t *lenp)
{
	char *s = json_dumps(req, JSON_COMPACT);
	size_t len;
	char *p;

	if (!s)
		return NULL;
	len = strlen(s);
	p = realloc(s, len + 2);
	if (!p) {
		free(s);
		return NULL;
	}
	p[len] = '\n';
	p[len + 1] = '\0';
	*lenp = len + 1;
	return p;
}

static int addr_of(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/* An input buffer that collects one reply line. */
struct line_buf {
	char *data;
	size_t len, cap;
};

/* Read what is there into lb: 0 with *donep set once a full line is in,
 * EAGAIN when the socket has no more for now, else an errno. */
static int line_read(struct line_buf *lb, int fd, bool *donep)
{
	for (;;) {
		ssize_t n;

		if (lb->cap - lb->len < CALL_CHUNK) {
			size_t cap = lb->cap ? lb->cap * 2 : CALL_CHUNK * 2;
			char *p;

			if (cap > CALL_REPLY_MAX + 1)
				return EMSGSIZE;
			p = realloc(lb->data, cap);
			if (!p)
				return ENOMEM;
			lb->data = p;
			lb->cap = cap;
		}
		n = recv(fd, lb->data + lb->len, lb->cap - lb->len - 1,
			 MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EWOULDBLOCK ? EAGAIN : errno;
		if (n == 0)
			return ECONNRESET;
		if (memchr(lb->data + lb->len, '\n', (size_t)n)) {
			lb->len += (size_t)n;
			*donep = true;
			return 0;
		}
		lb->len += (size_t)n;
	}
}

/* Parse the first line of lb into an object. */
static int line_parse(const struct line_buf *lb, json_t **replyp,
		      char *err, size_t errlen)
{
	const char *nl = memchr(lb->data, '\n', lb->len);
	json_error_t jerr;
	json_t *reply;

	reply = json_loadb(lb->data, (size_t)(nl - lb->data), JSON_DECODE_ANY,
			   &jerr);
	if (!reply) {
		seterr(err, errlen, "bad reply: %s", jerr.text);
		return EBADMSG;
	}
	if (!json_is_object(reply)) {
		json_decref(reply);
		seterr(err, errlen, "bad reply: not a JSON object");
		return EBADMSG;
	}
	*replyp = reply;
	return 0;
}

/* Milliseconds left until deadline (UINT64_MAX: none), for poll. */
static int ms_left(uint64_t deadline)
{
	uint64_t now;

	if (deadline == UINT64_MAX)
		return -1;
	now = gw_now_ms();
	if (now >= deadline)
		return 0;
	return deadline - now > 60000 ? 60000 : (int)(deadline - now);
}

/**
 * Send req (a JSON object) to the status socket at path and wait up to
 * timeout_ms (negative: no limit) for the reply line, parsed into
 * *replyp (the caller's reference).  {"ok":false} replies succeed too:
 * the caller reads "ok".  On failure returns an errno and writes a
 * reason into err: "cannot connect to PATH: ...", "timed out after N ms",
 * "bad reply: ...".
 */
int gw_ctl_call(const char *path, const json_t *req, json_t **replyp,
		int timeout_ms, char *err, size_t errlen)
{
	struct line_buf lb = { NULL, 0, 0 };
	struct sockaddr_un sa;
	uint64_t deadline;
	size_t len = 0, off = 0;
	char *line = NULL;
	bool done = false;
	int fd = -1, e;

	if (!path || !req || !replyp) {
		seterr(err, errlen, "invalid argument");
		return EINVAL;
	}
	deadline = timeout_ms < 0 ? UINT64_MAX :
		gw_now_ms() + (uint64_t)timeout_ms;
	e = addr_of(&sa, path);
	if (e) {
		seterr(err, errlen, "cannot connect to %s: %s", path,
		       strerror(e));
		goto out;
	}
	line = req_line(req, &len);
	if (!line) {
		e = ENOMEM;
		seterr(err, errlen, "cannot encode the request");
		goto out;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		seterr(err, errlen, "socket: %s", strerror(e));
		goto out;
	}
	/* A UNIX connect does not block; EAGAIN means the listener's
	 * backlog is full for now. */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = errno;
		if (e == EINTR)
			continue;
		if (e != EAGAIN || !ms_left(deadline)) {
			seterr(err, errlen, "cannot connect to %s: %s", path,
			       strerror(e));
			goto out;
		}
		poll(NULL, 0, CALL_RETRY_MS);
	}
	e = 0;

	while (!done) {
		struct pollfd pfd = { .fd = fd };
		int n, t;

		pfd.events = off < len ? POLLOUT | POLLIN : POLLIN;
		t = ms_left(deadline);
		if (!t) {
			e = ETIMEDOUT;
			seterr(err, errlen, "timed out after %d ms",
			       timeout_ms);
			goto out;
		}
		n = poll(&pfd, 1, t);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			seterr(err, errlen, "poll: %s", strerror(e));
			goto out;
		}
		if (!n)
			continue;
		if (off < len && (pfd.revents & POLLOUT)) {
			ssize_t w = send(fd, line + off, len - off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				/* The server may have answered and closed
				 * (too many clients): read that first. */
				off = len;
			} else if (w > 0) {
				off += (size_t)w;
			}
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			e = line_read(&lb, fd, &done);
			if (e == EAGAIN) {
				e = 0;
				continue;
			}
			if (e == ECONNRESET) {
				seterr(err, errlen, "%s closed the connection "
				       "without a reply", path);
				goto out;
			}
			if (e == EMSGSIZE) {
				seterr(err, errlen, "bad reply: longer than "
				       "%d bytes", CALL_REPLY_MAX);
				goto out;
			}
			if (e) {
				seterr(err, errlen, "recv: %s", strerror(e));
				goto out;
			}
		}
	}
	e = line_parse(&lb, replyp, err, errlen);

 out:
	if (fd >= 0)
		close(fd);
	free(line);
	free(lb.data);
	return e;
}

/* ------------------------------------------------------------------ */

/* One request in flight on this thread's loop; it owns itself until it
 * has called its handler. */
struct ctl_call {
	int fd;
	bool watched;
	struct sockaddr_un sa;
	char *line;
	size_t len, off;
	struct line_buf lb;
	struct gw_tmr tmr;	/* the timeout */
	struct gw_tmr retry;	/* connect retry while the backlog is full */
	int err;		/* a connect error, reported from the timer */
	gw_ctl_resp_h *h;
	void *arg;
};

static void call_destroy(void *data)
{
	struct ctl_call *call = data;

	gw_tmr_cancel(&call->tmr);
	gw_tmr_cancel(&call->retry);
	if (call->watched)
		gw_fd_close(call->fd);
	if (call->fd >= 0)
		close(call->fd);
	free(call->line);
	free(call->lb.data);
}

/* Call the handler once, after the call is gone. */
static void call_finish(struct ctl_call *call, int err, json_t *reply)
{
	gw_ctl_resp_h *h = call->h;
	void *arg = call->arg;

	gw_mem_deref(call);
	h(err, reply, arg);
	json_decref(reply);
}

static void call_fd_h(int flags, void *arg)
{
	struct ctl_call *call = arg;
	json_t *reply = NULL;
	bool done = false;
	int err;

	if (call->off < call->len && (flags & GW_FD_WRITE)) {
		ssize_t n = send(call->fd, call->line + call->off,
				 call->len - call->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			call->off += (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			/* Perhaps answered and closed: read that. */
			call->off = call->len;
		}
		if (call->off == call->len &&
		    gw_fd_listen(call->fd, GW_FD_READ, call_fd_h, call)) {
			call_finish(call, ENOMEM, NULL);
			return;
		}
	}
	if (!(flags & (GW_FD_READ | GW_FD_EXCEPT)))
		return;
	err = line_read(&call->lb, call->fd, &done);
	if (err == EAGAIN)
		return;
	if (!err)
		err = line_parse(&call->lb, &reply, NULL, 0);
	call_finish(call, err, reply);
}

static void call_tmr_h(void *arg)
{
	struct ctl_call *call = arg;

	call_finish(call, call->err ? call->err : ETIMEDOUT, NULL);
}

static void call_connect(void *arg)
{
	struct ctl_call *call = arg;
	int err;

	while (connect(call->fd, (struct sockaddr *)&call->sa,
		       sizeof(call->sa))) {
		err = errno;
		if (err == EINTR)
			continue;
		if (err == EAGAIN) {
			gw_tmr_start(&call->retry, CALL_RETRY_MS, call_connect,
				     call);
			return;
		}
		call_finish(call, err, NULL);
		return;
	}
	err = gw_fd_listen(call->fd, GW_FD_READ | GW_FD_WRITE, call_fd_h,
			   call);
	if (err) {
		call_finish(call, err, NULL);
		return;
	}
	call->watched = true;
}

/**
 * Send req (not stolen) to the status socket at path from this thread's
 * loop.  Once this returns 0, h(err, reply, arg) is called exactly once
 * and never from inside this call: with 0 and the reply object (borrowed:
 * json_incref it to keep it), or with an errno and NULL: the connect
 * error (ENOENT, ECONNREFUSED, ...), ETIMEDOUT after timeout_ms,
 * ECONNRESET when the server closed without a reply, EBADMSG for a reply
 * that is not a JSON object line.  A non-zero return (a bad argument or
 * path, no memory or fd, ENOSYS without a loop) means h is not called.
 */
int gw_ctl_request(const char *path, const json_t *req, int timeout_ms,
		   gw_ctl_resp_h *h, void *arg)
{
	struct ctl_call *call;
	int err;

	if (!path || !req || !h || timeout_ms < 0)
		return EINVAL;
	if (!gw_loop_self())
		return ENOSYS;
	call = gw_mem_zalloc(sizeof(*call), call_destroy);
	if (!call)
		return ENOMEM;
	call->fd = -1;
	call->h = h;
	call->arg = arg;
	gw_tmr_init(&call->tmr);
	gw_tmr_init(&call->retry);
	err = addr_of(&call->sa, path);
	if (err)
		goto out;
	call->line = req_line(req, &call->len);
	if (!call->line) {
		err = ENOMEM;
		goto out;
	}
	call->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			  0);
	if (call->fd < 0) {
		err = errno;
		goto out;
	}
	err = 0;
	while (connect(call->fd, (struct sockaddr *)&call->sa,
		       sizeof(call->sa))) {
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			/* Reported through h, as every later failure is. */
			call->err = errno;
			gw_tmr_start(&call->tmr, 0, call_tmr_h, call);
			return 0;
		}
		/* Backlog full: try again from the loop. */
		gw_tmr_start(&call->retry, CALL_RETRY_MS, call_connect, call);
		break;
	}
	if (!gw_tmr_running(&call->retry)) {
		err = gw_fd_listen(call->fd, GW_FD_READ | GW_FD_WRITE,
				   call_fd_h, call);
		if (err)
			goto out;
		call->watched = true;
	}
	gw_tmr_start(&call->tmr, (uint64_t)timeout_ms, call_tmr_h, call);

 out:
	if (err)
		gw_mem_deref(call);
	return err;
}
