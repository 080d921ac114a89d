/* core/core.h - Junction runtime: memory, logging, loop, timers, config,
 * status sockets.  The public interface of core/. */
#ifndef GW_CORE_H
#define GW_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * JSON values cross the status-socket interface of every subsystem, so
 * jansson's json_t is the one library type this header exposes: every
 * program links jansson, and wrapping it would only add a copy per reply.
 */
#include <jansson.h>

#define GW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define GW_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define GW_PRINTF(f, a)
#endif

/* ------------------------------------------------------------------ */
/* Memory (core/mem.c): refcounted blocks with destructors.           */
/* ------------------------------------------------------------------ */

typedef void (gw_mem_destroy_h)(void *data);

void *gw_mem_alloc(size_t size, gw_mem_destroy_h *dh);
void *gw_mem_zalloc(size_t size, gw_mem_destroy_h *dh);
void *gw_mem_ref(void *data);
void *gw_mem_deref(void *data);		/* always returns NULL */
unsigned gw_mem_nrefs(const void *data);
char *gw_mem_strdup(const char *s);	/* a refcounted copy; NULL in, NULL out */
char *gw_mem_printf(const char *fmt, ...) GW_PRINTF(1, 2);
size_t gw_mem_live(void);		/* live blocks, all threads */
void gw_mem_fail_after(long n);		/* tests: fail the n-th alloc from now;
					 * negative: never */

/* Create a directory and its missing parents (core/fs.c). */
int  gw_mkdir_p(const char *path);

/* ------------------------------------------------------------------ */
/* Logging (core/log.c).                                              */
/* ------------------------------------------------------------------ */

enum gw_log_level {
	GW_LOG_ERR = 0,
	GW_LOG_WARN,
	GW_LOG_INFO,
	GW_LOG_DEBUG,
};

/* A sink that sees every emitted line (tests, the event stream). */
typedef void (gw_log_h)(enum gw_log_level level, const char *module,
			const char *msg, void *arg);

void gw_log_open(const char *ident, bool foreground);
void gw_log_close(void);
void gw_log_set_handler(gw_log_h *h, void *arg);
int  gw_log_set_level(const char *module, enum gw_log_level level);
int  gw_log_set_levels(const char *spec);	/* "info,sip=debug,mg=warn" */
int  gw_log_check_levels(const char *spec);	/* validate only */
enum gw_log_level gw_log_get_level(const char *module);
json_t *gw_log_levels_json(void);		/* {"default":"info","sip":...} */
bool gw_log_enabled(const char *module, enum gw_log_level level);
const char *gw_log_level_name(enum gw_log_level level);
int  gw_log_level_parse(const char *name, enum gw_log_level *levelp);
void gw_log(enum gw_log_level level, const char *module, const char *fmt, ...)
	GW_PRINTF(3, 4);
/* The hook for libraries' log callbacks (osip, libpri, ortp, spandsp). */
void gw_vlog(enum gw_log_level level, const char *module, const char *fmt,
	     va_list ap) GW_PRINTF(3, 0);

/* Rate limit for per-packet paths: one line per interval, with a count of
 * what was suppressed in between. */
struct gw_log_limit {
	uint64_t last_ms;
	unsigned suppressed;
};
bool gw_log_limit_pass(struct gw_log_limit *lim, uint64_t interval_ms,
		       unsigned *suppressedp);

#ifndef GW_LOG_MOD
#define GW_LOG_MOD "core"
#endif

#define GW_LOG_(lvl, ...) do {						\
		if (gw_log_enabled(GW_LOG_MOD, (lvl)))			\
			gw_log((lvl), GW_LOG_MOD, __VA_ARGS__);		\
	} while (0)
#define GW_ERR(...)  GW_LOG_(GW_LOG_ERR, __VA_ARGS__)
#define GW_WARN(...) GW_LOG_(GW_LOG_WARN, __VA_ARGS__)
#define GW_INFO(...) GW_LOG_(GW_LOG_INFO, __VA_ARGS__)
#define GW_DBG(...)  GW_LOG_(GW_LOG_DEBUG, __VA_ARGS__)

/* One line, then "(N more suppressed)" when the limiter held some back. */
void gw_log_limited(enum gw_log_level level, const char *module,
		    unsigned suppressed, const char *fmt, ...) GW_PRINTF(4, 5);

/* At most one line per 15 s from this call site (rtpengine's LOG_FLAG_LIMIT). */
#define GW_LOG_LIMITED(lvl, ...) do {					\
		static struct gw_log_limit lim_;			\
		unsigned sup_;						\
		if (gw_log_enabled(GW_LOG_MOD, (lvl)) &&		\
		    gw_log_limit_pass(&lim_, 15000, &sup_))		\
			gw_log_limited((lvl), GW_LOG_MOD, sup_,		\
				       __VA_ARGS__);			\
	} while (0)

/* ------------------------------------------------------------------ */
/* Event loop (core/loop.c): one per thread, epoll underneath.        */
/* ------------------------------------------------------------------ */

struct gw_loop;

enum {
	GW_FD_READ   = 1 << 0,
	GW_FD_WRITE  = 1 << 1,
	GW_FD_EXCEPT = 1 << 2,	/* error or hang-up: always reported */
	GW_FD_EDGE   = 1 << 3,	/* edge-triggered */
};

typedef void (gw_fd_h)(int flags, void *arg);
typedef void (gw_tmr_h)(void *arg);
typedef void (gw_post_h)(void *arg);
typedef void (gw_signal_h)(int sig, void *arg);

/* This thread's loop: created by gw_loop_init, freed by gw_loop_close. */
int  gw_loop_init(void);
void gw_loop_close(void);
struct gw_loop *gw_loop_self(void);	/* NULL when the thread has none */
int  gw_loop_run(void);			/* returns after gw_loop_stop() */
int  gw_loop_run_timeout(uint64_t ms);	/* ETIMEDOUT if not stopped before */
void gw_loop_stop(void);

/* Watch fd on this thread's loop; a second listen on the same fd updates
 * flags and handler.  gw_fd_close may be called from any handler, the
 * fd's own included: no event is delivered for it afterwards. */
int  gw_fd_listen(int fd, int flags, gw_fd_h *h, void *arg);
void gw_fd_close(int fd);

/* Run h(arg) each time this thread's loop is about to wait, after the
 * events and timers of its turn (one hook a loop; NULL removes it): for
 * work batched over a turn, such as sends to submit together. */
void gw_loop_idle(gw_post_h *h, void *arg);

/* Thread-safe: run h(arg) on loop's thread, in posting order. */
int  gw_loop_post(struct gw_loop *loop, gw_post_h *h, void *arg);

/* Deliver SIGHUP, SIGINT, SIGTERM, SIGCHLD, SIGUSR1 and SIGUSR2 through
 * this thread's loop (signalfd); SIGPIPE is ignored.  Call before any
 * other thread starts so that they inherit the blocked mask. */
int  gw_loop_signals(gw_signal_h *h, void *arg);

/* Monotonic milliseconds. */
uint64_t gw_now_ms(void);

/* A timer lives inside its owner; its fields are the loop's.  Timers
 * run on the loop of the thread that started them. */
struct gw_tmr {
	uint64_t due;
	uint64_t seq;		/* start order: equal due times fire in it */
	size_t idx;		/* heap slot + 1; 0 when not running */
	gw_tmr_h *h;
	void *arg;
	struct gw_loop *loop;
};

void gw_tmr_init(struct gw_tmr *tmr);
void gw_tmr_start(struct gw_tmr *tmr, uint64_t ms, gw_tmr_h *h, void *arg);
void gw_tmr_cancel(struct gw_tmr *tmr);
bool gw_tmr_running(const struct gw_tmr *tmr);
uint64_t gw_tmr_left(const struct gw_tmr *tmr);	/* ms until due; 0 if idle */
size_t gw_tmr_count(void);		/* running timers on this loop */

/* ------------------------------------------------------------------ */
/* Configuration (core/conf.c): INI files on inih, described by tables. */
/* ------------------------------------------------------------------ */

enum gw_conf_type {
	GW_CONF_STR,		/* char *, owned by the config */
	GW_CONF_INT,		/* long long */
	GW_CONF_BOOL,		/* bool: yes/no, true/false, on/off, 1/0 */
	GW_CONF_ENUM,		/* int: index into .names */
};

enum {
	GW_CONF_RELOAD   = 1 << 0,	/* applied on reload; else restart */
	GW_CONF_REQUIRED = 1 << 1,	/* must appear in the file */
};

struct gw_conf_key {
	const char *name;
	enum gw_conf_type type;
	size_t off;			/* offset in the section's struct */
	const char *def;		/* default, written as in the file */
	long long min, max;		/* checked unless both are 0: INT
					 * bounds; STR length */
	const char *const *names;	/* ENUM: NULL-terminated */
	unsigned flags;
	const char *help;
};

struct gw_conf_section {
	const char *name;		/* "[sip]"; with .multi "[span 1]" */
	bool multi;			/* several instances, each with a label */
	size_t size;			/* sizeof the struct the keys fill */
	const struct gw_conf_key *keys;	/* ends with a {NULL} row */
	const char *help;
	/* Cross-key checks after a section is read: fill err, return errno. */
	int (*check)(void *data, const char *label, char *err, size_t errlen);
};

struct gw_conf;

/* Parse path with the schema (sections ends with a {NULL} row); sections
 * not in the file get their defaults when they are not .multi.  On error
 * returns an errno and writes "file:line: reason" lines into err. */
int  gw_conf_load(struct gw_conf **confp, const char *path,
		  const struct gw_conf_section *schema, char *err,
		  size_t errlen);
/* Same, from text in memory named name (tests, embedded defaults). */
int  gw_conf_load_str(struct gw_conf **confp, const char *name,
		      const char *text, const struct gw_conf_section *schema,
		      char *err, size_t errlen);
const char *gw_conf_path(const struct gw_conf *conf);
/* The struct for section name (label NULL for single sections), or NULL. */
const void *gw_conf_get(const struct gw_conf *conf, const char *name,
			const char *label);
/* Iterate the instances of a .multi section: idx from 0 until NULL. */
const void *gw_conf_nth(const struct gw_conf *conf, const char *name,
			size_t idx, const char **labelp);
/* Where a section or key was set, for later errors: "file:line";
 * NULL for an unknown section or key. */
const char *gw_conf_where(const struct gw_conf *conf, const char *name,
			  const char *label, const char *key, char *buf,
			  size_t len);
/* Reload: keys without GW_CONF_RELOAD that differ between old and new
 * keep their old value in new (strings are shared), each reported as a
 * warning line ("file:line: 'key' in [sec] changes only on restart;
 * keeping the running value") in warn.  Returns how many. */
unsigned gw_conf_keep_restart_keys(struct gw_conf *new_conf,
				   const struct gw_conf *old_conf, char *warn,
				   size_t warnlen);
/* The schema as an annotated sample file (--dump-config). */
void gw_conf_dump(const struct gw_conf_section *schema, FILE *f);

/* ------------------------------------------------------------------ */
/* Status sockets (core/ctl.c): newline-delimited JSON over UNIX.     */
/* ------------------------------------------------------------------ */

struct gw_ctl;		/* a listening status socket */
struct gw_ctl_req;	/* one request in progress */

/* A command handler answers with gw_ctl_reply/gw_ctl_error, now or later
 * (the request keeps its connection alive until it is answered, and the
 * connection reads no further request until then). */
/* msg is borrowed; req is the handler's, released by the answer. */
typedef void (gw_ctl_cmd_h)(struct gw_ctl_req *req, json_t *msg, void *arg);

struct gw_ctl_limits {
	size_t max_line;	/* bytes per request line; default 64 KiB */
	size_t max_out;		/* unsent reply bytes before a drop; 4 MiB */
	unsigned max_clients;	/* default 256 */
	unsigned max_errors;	/* consecutive bad lines before a drop; 8 */
};

/* Listen on path (mode 0660).  A live listener there: EADDRINUSE; a
 * stale socket file is replaced.  lim may be NULL for the defaults. */
int  gw_ctl_alloc(struct gw_ctl **ctlp, const char *path,
		  const struct gw_ctl_limits *lim);
int  gw_ctl_register(struct gw_ctl *ctl, const char *cmd, gw_ctl_cmd_h *h,
		     void *arg, const char *help);
const char *gw_ctl_path(const struct gw_ctl *ctl);
unsigned gw_ctl_clients(const struct gw_ctl *ctl);
/* Reply {"ok":true, ...fields of obj}; steals obj (may be NULL). */
void gw_ctl_reply(struct gw_ctl_req *req, json_t *obj);
void gw_ctl_error(struct gw_ctl_req *req, const char *fmt, ...)
	GW_PRINTF(2, 3);
/* Answer req with {"ok":true} and keep its connection as a subscriber:
 * gw_ctl_broadcast pushes one JSON line to every subscriber (the event
 * stream), steals obj, and drops a subscriber that stopped reading. */
void gw_ctl_subscribe(struct gw_ctl_req *req);
void gw_ctl_broadcast(struct gw_ctl *ctl, json_t *obj);

/* Client side.  Blocking, for junctionctl and tests: send one request,
 * wait up to timeout_ms for its reply line. */
int  gw_ctl_call(const char *path, const json_t *req, json_t **replyp,
		 int timeout_ms, char *err, size_t errlen);
/* Asynchronous, on this thread's loop (junctiond asking its MG): the
 * handler gets 0 and the reply (borrowed), or an errno and NULL, once;
 * connect errors come through it too.  A non-zero return means it will
 * not be called.  arg must live until it is. */
typedef void (gw_ctl_resp_h)(int err, json_t *reply, void *arg);
int  gw_ctl_request(const char *path, const json_t *req, int timeout_ms,
		    gw_ctl_resp_h *h, void *arg);

#endif
