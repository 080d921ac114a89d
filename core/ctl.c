/* core/ctl.c - status socket server: one JSON object per line over UNIX */
#define GW_LOG_MOD "ctl"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core.h"

/*
 * The socket faces operators' scripts and monitoring systems, so every
 * client is treated as possibly broken: each one's memory is bounded (an
 * input line of at most max_line bytes, at most max_out bytes of unsent
 * output), a connection reads nothing while it has output pending or a
 * request in progress (backpressure instead of buffering), and reads are
 * bounded per wakeup so that one flooding client cannot starve the rest.
 */

enum {
	CTL_READ_BUDGET = 64 * 1024,	/* bytes read per client per wakeup */
	CTL_ACCEPT_BUDGET = 64,		/* accepts per wakeup */
	CTL_IN_MIN = 4096,		/* first input buffer */
	CTL_ACCEPT_PAUSE_MS = 100,	/* back-off when out of fds */
};

static const struct gw_ctl_limits ctl_defaults = {
	.max_line = 64 * 1024,
	.max_out = 4 * 1024 * 1024,
	.max_clients = 256,
	.max_errors = 8,
};

struct ctl_cmd {
	struct ctl_cmd *next;
	char *name;
	char *help;
	gw_ctl_cmd_h *h;
	void *arg;
};

static void cmd_destroy(void *data)
{
	struct ctl_cmd *c = data;

	gw_mem_deref(c->name);
	gw_mem_deref(c->help);
}

struct ctl_conn;

struct gw_ctl {
	char *path;
	int fd;
	bool bound;		/* path is our socket file: unlink it */
	dev_t dev;
	ino_t ino;
	struct gw_ctl_limits lim;
	struct ctl_cmd *cmds;	/* in registration order */
	struct ctl_conn *conns;
	unsigned nconns;
	struct gw_tmr accept_tmr;	/* resumes accepting after EMFILE */
};

/*
 * A client connection.  The ctl's list holds one reference, a request in
 * progress another; a closed connection (ctl == NULL) lives on only until
 * its request is answered, and that answer then goes nowhere.
 */
struct ctl_conn {
	struct ctl_conn *next, *prev;
	struct gw_ctl *ctl;	/* borrowed; NULL once closed */
	int fd;
	char *in;		/* unparsed input, at most max_line + 1 bytes */
	size_t inlen, incap;
	char *out;		/* unsent output: out[outoff..outlen) */
	size_t outoff, outlen, outcap;
	struct gw_ctl_req *req;	/* borrowed: the request in progress */
	unsigned nerrors;	/* consecutive bad lines */
	int flags;		/* what the loop watches */
	bool discard;		/* skipping the rest of an overlong line */
	bool eof;		/* the client shut its sending side */
	bool busy;		/* conn_process is on the stack */
	bool subscriber;
};

struct gw_ctl_req {
	struct ctl_conn *conn;	/* NULL once answered */
	json_t *id;		/* the request's "id", echoed in the reply */
};

static void conn_process(struct ctl_conn *conn);
static void conn_update(struct ctl_conn *conn);
static void conn_fd_h(int flags, void *arg);

static size_t conn_pending(const struct ctl_conn *conn)
{
	return conn->outlen - conn->outoff;
}

/* Take conn off its ctl and the loop.  Safe to call twice. */
static void conn_close(struct ctl_conn *conn)
{
	struct gw_ctl *ctl = conn->ctl;

	if (!ctl)
		return;
	conn->ctl = NULL;
	gw_fd_close(conn->fd);
	close(conn->fd);
	conn->fd = -1;
	free(conn->in);
	conn->in = NULL;
	conn->inlen = conn->incap = 0;
	free(conn->out);
	conn->out = NULL;
	conn->outoff = conn->outlen = conn->outcap = 0;

	if (conn->prev)
		conn->prev->next = conn->next;
	else
		ctl->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	conn->next = conn->prev = NULL;
	ctl->nconns--;
	gw_mem_deref(conn);	/* the ctl's reference */
}

static void conn_destroy(void *data)
{
	struct ctl_conn *conn = data;

	free(conn->in);
	free(conn->out);
}

/* Queue len bytes, writing straight through when nothing is pending.
 * A client whose unsent output would pass max_out is dropped. */
static void conn_send(struct ctl_conn *conn, const char *data, size_t len)
{
	size_t need;

	if (!conn->ctl)
		return;
	if (!conn_pending(conn)) {
		conn->outoff = conn->outlen = 0;
		while (len) {
			ssize_t n = send(conn->fd, data, len,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (n < 0) {
				GW_DBG("client %d: send: %s", conn->fd,
				       strerror(errno));
				conn_close(conn);
				return;
			}
			data += n;
			len -= (size_t)n;
		}
		if (!len)
			return;
	}

	if (conn_pending(conn) + len > conn->ctl->lim.max_out) {
		GW_LOG_LIMITED(GW_LOG_WARN, "%s: client %d stopped reading "
			       "(over %zu bytes unsent): dropped",
			       conn->ctl->path, conn->fd,
			       conn->ctl->lim.max_out);
		conn_close(conn);
		return;
	}
	if (conn->outoff) {
		memmove(conn->out, conn->out + conn->outoff,
			conn_pending(conn));
		conn->outlen -= conn->outoff;
		conn->outoff = 0;
	}
	need = conn->outlen + len;
	if (need > conn->outcap) {
		size_t cap = conn->outcap ? conn->outcap : CTL_IN_MIN;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(conn->out, cap);
		if (!p) {
			conn_close(conn);
			return;
		}
		conn->out = p;
		conn->outcap = cap;
	}
	memcpy(conn->out + conn->outlen, data, len);
	conn->outlen += len;
}

/* Send obj as one compact line; steals obj. */
static void conn_send_json(struct ctl_conn *conn, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(10));
	size_t len;

	json_decref(obj);
	if (!s) {
		conn_close(conn);
		return;
	}
	len = strlen(s);
	s[len] = '\n';		/* the NUL is not sent */
	conn_send(conn, s, len + 1);
	free(s);
}

static void conn_flush(struct ctl_conn *conn)
{
	while (conn->ctl && conn_pending(conn)) {
		ssize_t n = send(conn->fd, conn->out + conn->outoff,
				 conn_pending(conn),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			GW_DBG("client %d: send: %s", conn->fd,
			       strerror(errno));
			conn_close(conn);
			return;
		}
		conn->outoff += (size_t)n;
	}
	if (conn->ctl)
		conn->outoff = conn->outlen = 0;
}

/* The reply object: "ok" first, the echoed "id", then fields. */
static json_t *reply_obj(bool ok, json_t *id)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "ok", json_boolean(ok));
	if (id)
		json_object_set(o, "id", id);
	return o;
}

/* Text for a reply; jansson refuses invalid UTF-8 (a client's bytes
 * quoted back, a message cut short), so such bytes become '?'. */
static json_t *text_json(const char *text)
{
	json_t *j = json_string(text);
	char *copy, *p;

	if (j)
		return j;
	copy = gw_mem_strdup(text);
	if (!copy)
		return NULL;
	for (p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	gw_mem_deref(copy);
	return j;
}

static json_t *error_obj(json_t *id, const char *text)
{
	json_t *o = reply_obj(false, id);

	if (o)
		json_object_set_new(o, "error", text_json(text));
	return o;
}

/* A protocol-level error for a line that never became a request. */
static void conn_bad(struct ctl_conn *conn, json_t *id, const char *msg)
{
	struct gw_ctl *ctl = conn->ctl;
	char *text = NULL;
	bool drop;

	if (!ctl)
		return;
	drop = ++conn->nerrors >= ctl->lim.max_errors;
	if (drop)
		text = gw_mem_printf("%s (%u bad requests in a row: closing)",
				     msg, conn->nerrors);
	conn_send_json(conn, error_obj(id, text ? text : msg));
	gw_mem_deref(text);
	if (drop && conn->ctl) {
		GW_LOG_LIMITED(GW_LOG_WARN, "%s: client %d sent %u bad "
			       "requests in a row: dropped", ctl->path,
			       conn->fd, conn->nerrors);
		conn_close(conn);
	}
}

static void req_answer(struct gw_ctl_req *req, json_t *json);

static void req_destroy(void *data)
{
	struct gw_ctl_req *req = data;

	/* Dropped without an answer: answer for it, or the connection
	 * would wait for this request forever. */
	if (req->conn)
		req_answer(req, error_obj(req->id,
					  "request dropped unanswered"));
	json_decref(req->id);
}

/* Finish req on its connection; json is the reply (stolen). */
static void req_answer(struct gw_ctl_req *req, json_t *json)
{
	struct ctl_conn *conn = req->conn;

	req->conn = NULL;
	if (!conn) {
		json_decref(json);
		return;
	}
	if (conn->req == req)
		conn->req = NULL;
	if (conn->ctl) {
		conn_send_json(conn, json);
		/* A deferred answer: resume the lines that waited for it. */
		if (conn->ctl && !conn->busy) {
			conn_process(conn);
			conn_update(conn);
		}
	} else {
		json_decref(json);
	}
	gw_mem_deref(conn);	/* the request's reference */
}

/**
 * Answer req with {"ok":true} plus the fields of obj (stolen; may be
 * NULL) and release the caller's reference to req.  If the client has
 * gone meanwhile, the request is only freed.
 */
void gw_ctl_reply(struct gw_ctl_req *req, json_t *obj)
{
	json_t *o;

	if (!req) {
		json_decref(obj);
		return;
	}
	if (!req->conn) {	/* answered twice: a programmer error */
		json_decref(obj);
		gw_mem_deref(req);
		return;
	}
	o = reply_obj(true, req->id);
	if (o && json_is_object(obj)) {
		json_object_update(o, obj);
		/* "ok" is ours, whatever the handler put in obj; so is
		 * "id" when the request carried one to be echoed.  A
		 * request without one leaves "id" to the handler (pstnsim's
		 * call command answers with the new call's id). */
		json_object_set_new(o, "ok", json_true());
		if (req->id)
			json_object_set(o, "id", req->id);
	} else if (o && obj) {
		json_object_set(o, "result", obj);
	}
	json_decref(obj);
	if (!o)
		o = error_obj(req->id, "out of memory");
	req_answer(req, o);
	gw_mem_deref(req);
}

/**
 * Answer req with {"ok":false,"error":"<formatted text>"} and release the
 * caller's reference to req.
 */
void gw_ctl_error(struct gw_ctl_req *req, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	if (!req)
		return;
	if (!req->conn) {
		gw_mem_deref(req);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	req_answer(req, error_obj(req->id, buf));
	gw_mem_deref(req);
}

/**
 * Answer req with {"ok":true} and keep its connection as a subscriber:
 * from now on gw_ctl_broadcast's lines reach it too.
 */
void gw_ctl_subscribe(struct gw_ctl_req *req)
{
	if (req && req->conn)
		req->conn->subscriber = true;
	gw_ctl_reply(req, NULL);
}

/**
 * Push obj (stolen) as one line to every subscriber.  A subscriber whose
 * unsent output would pass max_out is dropped.
 */
void gw_ctl_broadcast(struct gw_ctl *ctl, json_t *obj)
{
	struct ctl_conn *conn, *next;
	char *s;
	size_t len;

	if (!ctl || !obj) {
		json_decref(obj);
		return;
	}
	s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(obj);
	if (!s)
		return;
	len = strlen(s);
	s[len] = '\n';		/* the NUL is not sent */
	for (conn = ctl->conns; conn; conn = next) {
		next = conn->next;
		if (!conn->subscriber)
			continue;
		gw_mem_ref(conn);
		conn_send(conn, s, len + 1);
		conn_update(conn);
		gw_mem_deref(conn);
	}
	free(s);
}

static struct ctl_cmd *cmd_find(const struct gw_ctl *ctl, const char *name)
{
	struct ctl_cmd *c;

	for (c = ctl->cmds; c; c = c->next) {
		if (!strcmp(c->name, name))
			return c;
	}
	return NULL;
}

/* Turn one parsed line into a request and run its handler. */
static void conn_dispatch(struct ctl_conn *conn, json_t *msg)
{
	struct gw_ctl_req *req;
	struct ctl_cmd *c;
	json_t *id, *cmd;
	char *text;

	if (!json_is_object(msg)) {
		conn_bad(conn, NULL, "request must be a JSON object");
		return;
	}
	id = json_object_get(msg, "id");
	cmd = json_object_get(msg, "cmd");
	if (!json_is_string(cmd)) {
		conn_bad(conn, id, "request needs a \"cmd\" string");
		return;
	}
	c = cmd_find(conn->ctl, json_string_value(cmd));
	if (!c) {
		text = gw_mem_printf("unknown command '%.100s'",
				     json_string_value(cmd));
		conn_bad(conn, id, text ? text : "unknown command");
		gw_mem_deref(text);
		return;
	}

	req = gw_mem_zalloc(sizeof(*req), req_destroy);
	if (!req) {
		conn_bad(conn, id, "out of memory");
		return;
	}
	conn->nerrors = 0;
	req->conn = gw_mem_ref(conn);
	req->id = json_incref(id);
	conn->req = req;
	/* The handler owns req now; it answers now or later. */
	c->h(req, msg, c->arg);
}

static bool blank(const char *s, size_t len)
{
	while (len--) {
		if (*s != ' ' && *s != '\t' && *s != '\r')
			return false;
		s++;
	}
	return true;
}

static void conn_consume(struct ctl_conn *conn, size_t n)
{
	memmove(conn->in, conn->in + n, conn->inlen - n);
	conn->inlen -= n;
}

/*
 * Run the complete lines in the input buffer, one request at a time: stop
 * while a request is in progress or output is pending.  At end of input a
 * last line without its newline still counts.
 */
static void conn_process(struct ctl_conn *conn)
{
	json_error_t jerr;
	json_t *msg;
	char *nl;
	size_t len, max_line;
	char text[256];

	conn->busy = true;
	while (conn->ctl && !conn->req && !conn_pending(conn)) {
		max_line = conn->ctl->lim.max_line;
		nl = memchr(conn->in, '\n', conn->inlen);
		if (conn->discard) {
			if (!nl) {
				conn->inlen = 0;
				break;
			}
			conn_consume(conn, (size_t)(nl - conn->in) + 1);
			conn->discard = false;
			continue;
		}
		len = nl ? (size_t)(nl - conn->in) : conn->inlen;
		if (len > max_line) {
			/* Say so once; drop the rest up to the newline
			 * without keeping it. */
			snprintf(text, sizeof(text),
				 "line too long (limit %zu bytes)", max_line);
			if (nl) {
				conn_consume(conn, len + 1);
			} else {
				conn->inlen = 0;
				conn->discard = true;
			}
			conn_bad(conn, NULL, text);
			continue;
		}
		if (!nl && !(conn->eof && conn->inlen))
			break;
		if (blank(conn->in, len)) {
			conn_consume(conn, nl ? len + 1 : len);
			continue;
		}
		msg = json_loadb(conn->in, len, JSON_DECODE_ANY, &jerr);
		conn_consume(conn, nl ? len + 1 : len);
		if (!msg) {
			snprintf(text, sizeof(text),
				 "invalid JSON at column %d: %s",
				 jerr.column, jerr.text);
			conn_bad(conn, NULL, text);
			continue;
		}
		conn_dispatch(conn, msg);
		json_decref(msg);
	}
	conn->busy = false;
}

/* Watch what conn can do now; close it when it has nothing left to do. */
static void conn_update(struct ctl_conn *conn)
{
	int want = 0;

	if (!conn->ctl)
		return;
	if (conn->eof && !conn->req && !conn_pending(conn) &&
	    !conn->subscriber) {
		conn_close(conn);
		return;
	}
	if (!conn->eof && !conn->req && !conn_pending(conn))
		want |= GW_FD_READ;
	if (conn_pending(conn))
		want |= GW_FD_WRITE;
	if (want == conn->flags)
		return;
	if (gw_fd_listen(conn->fd, want, conn_fd_h, conn)) {
		conn_close(conn);
		return;
	}
	conn->flags = want;
}

/* Read what the client sent, at most CTL_READ_BUDGET bytes this time. */
static void conn_read(struct ctl_conn *conn)
{
	size_t budget = CTL_READ_BUDGET;

	while (conn->ctl && budget && !conn->eof && !conn->req &&
	       !conn_pending(conn)) {
		size_t max = conn->ctl->lim.max_line + 1;
		size_t want;
		ssize_t n;

		if (conn->inlen == conn->incap) {
			size_t cap = conn->incap ? conn->incap * 2 : CTL_IN_MIN;
			char *p;

			if (cap > max)
				cap = max;
			if (cap <= conn->incap)
				break;	/* full of lines held back */
			p = realloc(conn->in, cap);
			if (!p) {
				conn_close(conn);
				return;
			}
			conn->in = p;
			conn->incap = cap;
		}
		want = conn->incap - conn->inlen;
		if (want > budget)
			want = budget;
		n = recv(conn->fd, conn->in + conn->inlen, want, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			GW_DBG("client %d: recv: %s", conn->fd,
			       strerror(errno));
			conn_close(conn);
			return;
		}
		if (n == 0)
			conn->eof = true;
		conn->inlen += (size_t)n;
		budget -= (size_t)n;
		conn_process(conn);
	}
}

static void conn_fd_h(int flags, void *arg)
{
	struct ctl_conn *conn = gw_mem_ref(arg);

	if (flags & GW_FD_WRITE) {
		conn_flush(conn);
		/* Output drained: run the lines it held back. */
		if (conn->ctl && !conn_pending(conn))
			conn_process(conn);
	}
	if (conn->ctl && (flags & GW_FD_READ))
		conn_read(conn);
	if (conn->ctl && (flags & GW_FD_EXCEPT) && !(flags & GW_FD_READ)) {
		/* Hang-up or error while we were not reading (a request
		 * in progress, or output pending): nobody is left to
		 * answer.  With READ set, recv has already seen it. */
		GW_DBG("client %d: hang-up", conn->fd);
		conn_close(conn);
	}
	conn_update(conn);
	gw_mem_deref(conn);
}

static void ctl_accept_one(struct gw_ctl *ctl, int fd)
{
	struct ctl_conn *conn;
	char line[128];
	int n;

	if (ctl->nconns >= ctl->lim.max_clients) {
		n = snprintf(line, sizeof(line),
			     "{\"ok\":false,\"error\":\"too many clients "
			     "(limit %u)\"}\n", ctl->lim.max_clients);
		(void)!send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		GW_LOG_LIMITED(GW_LOG_WARN, "%s: over %u clients: "
			       "connection refused", ctl->path,
			       ctl->lim.max_clients);
		return;
	}
	conn = gw_mem_zalloc(sizeof(*conn), conn_destroy);
	if (!conn) {
		close(fd);
		return;
	}
	conn->fd = fd;
	conn->ctl = ctl;
	conn->flags = -1;
	conn->next = ctl->conns;
	if (ctl->conns)
		ctl->conns->prev = conn;
	ctl->conns = conn;
	ctl->nconns++;
	conn_update(conn);
}

static void ctl_listen(struct gw_ctl *ctl);

static void accept_tmr_h(void *arg)
{
	ctl_listen(arg);
}

static void ctl_accept_h(int flags, void *arg)
{
	struct gw_ctl *ctl = arg;
	int i, fd;

	(void)flags;
	for (i = 0; i < CTL_ACCEPT_BUDGET; i++) {
		fd = accept4(ctl->fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			ctl_accept_one(ctl, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		/* Out of fds or memory: the listener stays readable, so
		 * stop watching it for a while instead of spinning. */
		GW_LOG_LIMITED(GW_LOG_WARN, "%s: accept: %s", ctl->path,
			       strerror(errno));
		gw_fd_listen(ctl->fd, 0, ctl_accept_h, ctl);
		gw_tmr_start(&ctl->accept_tmr, CTL_ACCEPT_PAUSE_MS,
			     accept_tmr_h, ctl);
		return;
	}
}

static void ctl_listen(struct gw_ctl *ctl)
{
	if (gw_fd_listen(ctl->fd, GW_FD_READ, ctl_accept_h, ctl))
		gw_tmr_start(&ctl->accept_tmr, CTL_ACCEPT_PAUSE_MS,
			     accept_tmr_h, ctl);
}

static void ctl_destroy(void *data)
{
	struct gw_ctl *ctl = data;
	struct ctl_cmd *c;
	struct stat st;

	gw_tmr_cancel(&ctl->accept_tmr);
	while (ctl->conns)
		conn_close(ctl->conns);
	if (ctl->fd >= 0) {
		gw_fd_close(ctl->fd);
		close(ctl->fd);
	}
	/* Unlink only the file we made: a successor may own the path. */
	if (ctl->bound && !lstat(ctl->path, &st) && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino)
		unlink(ctl->path);
	while ((c = ctl->cmds)) {
		ctl->cmds = c->next;
		gw_mem_deref(c);
	}
	gw_mem_deref(ctl->path);
}

/* Is something listening on the socket file at path? */
static int probe_socket(const struct sockaddr_un *sa)
{
	int fd, err = 0;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (!connect(fd, (const struct sockaddr *)sa, sizeof(*sa)))
		err = EADDRINUSE;
	else if (errno == EAGAIN || errno == EINPROGRESS)
		err = EADDRINUSE;	/* alive, its backlog full */
	else if (errno == ECONNREFUSED)
		err = unlink(sa->sun_path) && errno != ENOENT ? errno : 0;
	else if (errno != ENOENT)
		err = errno;
	close(fd);
	return err;
}

static void cmd_help(struct gw_ctl_req *req, json_t *msg, void *arg)
{
	struct gw_ctl *ctl = arg;
	struct ctl_cmd *c;
	json_t *list = json_array();

	(void)msg;
	for (c = ctl->cmds; c; c = c->next) {
		json_array_append_new(list, json_pack("{s:s,s:s}",
						      "name", c->name,
						      "help", c->help ?
						      c->help : ""));
	}
	gw_ctl_reply(req, json_pack("{s:o}", "commands", list));
}

/**
 * Listen for status clients on the UNIX socket path (mode 0660) on this
 * thread's loop, with the limits lim (NULL, or zero fields: defaults).
 * Returns EADDRINUSE if a live listener has path, EEXIST if path is
 * some other file, ENAMETOOLONG if it does not fit a sockaddr_un; a stale
 * socket file left by a dead process is replaced.  Freeing the gw_ctl
 * closes every client and removes the socket file.
 */
int gw_ctl_alloc(struct gw_ctl **ctlp, const char *path,
		 const struct gw_ctl_limits *lim)
{
	struct sockaddr_un sa;
	struct gw_ctl *ctl;
	struct stat st;
	int err;

	if (!ctlp || !path || !*path)
		return EINVAL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return ENAMETOOLONG;
	strcpy(sa.sun_path, path);

	ctl = gw_mem_zalloc(sizeof(*ctl), ctl_destroy);
	if (!ctl)
		return ENOMEM;
	ctl->fd = -1;
	gw_tmr_init(&ctl->accept_tmr);
	ctl->lim = ctl_defaults;
	if (lim) {
		if (lim->max_line)
			ctl->lim.max_line = lim->max_line;
		if (lim->max_out)
			ctl->lim.max_out = lim->max_out;
		if (lim->max_clients)
			ctl->lim.max_clients = lim->max_clients;
		if (lim->max_errors)
			ctl->lim.max_errors = lim->max_errors;
	}
	ctl->path = gw_mem_strdup(path);
	if (!ctl->path) {
		err = ENOMEM;
		goto out;
	}
	err = gw_ctl_register(ctl, "help", cmd_help, ctl,
			      "list the commands");
	if (err)
		goto out;

	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			err = EEXIST;
			goto out;
		}
		err = probe_socket(&sa);
		if (err)
			goto out;
	}

	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0);
	if (ctl->fd < 0) {
		err = errno;
		goto out;
	}
	/* The file gets the socket inode's mode less the umask: set it
	 * before bind so that no wider mode is ever visible, then exactly
	 * 0660 whatever the umask took away. */
	(void)fchmod(ctl->fd, 0660);
	if (bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno;
		goto out;
	}
	if (lstat(path, &st)) {
		err = errno;
		goto out;
	}
	ctl->bound = true;
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	if (chmod(path, 0660) || listen(ctl->fd, 128)) {
		err = errno;
		goto out;
	}
	err = gw_fd_listen(ctl->fd, GW_FD_READ, ctl_accept_h, ctl);

 out:
	if (err)
		gw_mem_deref(ctl);
	else
		*ctlp = ctl;
	return err;
}

/**
 * Add the command cmd: h(req, msg, arg) runs for each request naming it,
 * and help is its line in the "help" command's list.  EEXIST if cmd is
 * already registered.
 */
int gw_ctl_register(struct gw_ctl *ctl, const char *cmd, gw_ctl_cmd_h *h,
		    void *arg, const char *help)
{
	struct ctl_cmd *c, **tail;

	if (!ctl || !cmd || !*cmd || !h)
		return EINVAL;
	if (cmd_find(ctl, cmd))
		return EEXIST;
	c = gw_mem_zalloc(sizeof(*c), cmd_destroy);
	if (!c)
		return ENOMEM;
	c->name = gw_mem_strdup(cmd);
	c->help = gw_mem_strdup(help ? help : "");
	if (!c->name || !c->help) {
		gw_mem_deref(c);
		return ENOMEM;
	}
	c->h = h;
	c->arg = arg;
	for (tail = &ctl->cmds; *tail; tail = &(*tail)->next)
		;
	*tail = c;
	return 0;
}

/** The socket's path. */
const char *gw_ctl_path(const struct gw_ctl *ctl)
{
	return ctl ? ctl->path : NULL;
}

/** How many clients are connected. */
unsigned gw_ctl_clients(const struct gw_ctl *ctl)
{
	return ctl ? ctl->nconns : 0;
}
