/* media/worker.c - media worker threads: a loop and one 20 ms tick each */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define GW_LOG_MOD "media"
#include "media.h"
#include "batch.h"

/*
 * Each worker is a thread running its own gw_loop (DESIGN.md, "Threads
 * and clocks").  What it owns (spans, channels, streams) it creates,
 * drives and frees on its own thread, so none of it needs a lock; other
 * threads reach it only through gw_loop_post, which keeps their posts in
 * order.
 *
 * The tick.  One 20 ms tick serves everything on the worker, never a
 * timer per channel (notes/performance.md: 4x cheaper).  The clock is
 * the TDM line's: a span's tick handler calls media_worker_clock once
 * per received frame, and the first span to do so clocks the worker
 * while it keeps coming.  When no span has ticked for CLOCK_LOST_MS the
 * worker falls back to a timerfd, armed on absolute times so that it
 * never drifts and counts the ticks it skipped.
 *
 * The load figures are the only state read across threads: counters
 * the worker stores with relaxed atomics and status readers load.  A
 * reader may see ticks and late ticks from slightly different moments,
 * which no figure here cares about.
 */

#define TICK_NS		((uint64_t)MEDIA_TICK_MS * 1000000)
#define LATE_NS		(TICK_NS / 2)	/* later: a late tick */
#define CLOCK_LOST_MS	(3 * MEDIA_TICK_MS)
#define BUSY_NS		1000000000ull	/* busy fraction over 1 s */

struct media_worker {
	struct media_workers *ws;	/* borrowed: the set owns us */
	unsigned idx;
	pthread_t thread;
	bool thread_ok;			/* pthread_create succeeded */

	/* Set by the thread before it reports ready, then read-only. */
	struct gw_loop *loop;
	clockid_t cpuclk;
	int start_err;
	bool batched;			/* socket I/O through io_uring */

	/* Posts against the loop being closed. */
	pthread_mutex_t lock;
	bool closed;			/* loop gone: posts refused */

	/* The worker's thread only. */
	int tfd;			/* the fallback tick */
	bool tfd_armed;
	uint64_t due_ns;		/* the timer's next tick */
	const void *clk_src;		/* the span clocking us, or NULL */
	uint64_t clk_last_ns;		/* its last tick */
	struct gw_tmr clk_wdog;
	struct media_tick *ticks;	/* subscribers */
	struct media_tick *iter;	/* next to run in the current tick */
	uint64_t busy_wall0, busy_cpu0;

	/* Load figures: written by the worker (channels by anyone), read
	 * by anyone. */
	atomic_int chans;
	atomic_uint_fast64_t nticks;
	atomic_uint_fast64_t late;
	atomic_uint_fast64_t cpu_ns;	/* as of the last busy update */
	atomic_uint busy_pm;		/* per mille */
	atomic_bool span_clock;
	atomic_bool alive;		/* its CPU clock can be read */
};

struct media_workers {
	struct media_worker *v;
	unsigned n;
	bool batch;			/* socket I/O through io_uring */
	atomic_uint rr;			/* where the next pick starts */
	pthread_mutex_t lock;		/* threads report ready */
	pthread_cond_t cond;
	unsigned nready;
};

static __thread struct media_worker *self;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Arm the timerfd: first tick at absolute due, then every tick.  A due
 * time already past fires at once, its expirations counting the ticks
 * skipped since.  due 0 disarms. */
static void timer_set(struct media_worker *wk, uint64_t due)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	if (due) {
		its.it_value.tv_sec = (time_t)(due / 1000000000ull);
		its.it_value.tv_nsec = (long)(due % 1000000000ull);
		its.it_interval.tv_nsec = (long)TICK_NS;
	}
	if (timerfd_settime(wk->tfd, TFD_TIMER_ABSTIME, &its, NULL)) {
		GW_ERR("worker %u: timerfd: %s", wk->idx, strerror(errno));
		return;
	}
	wk->tfd_armed = due != 0;
	wk->due_ns = due;
}

/* The busy fraction: this thread's CPU time over wall time, per second. */
static void busy_update(struct media_worker *wk, uint64_t now)
{
	uint64_t cpu, wall = now - wk->busy_wall0;

	if (wall < BUSY_NS)
		return;
	cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	atomic_store_explicit(&wk->busy_pm, (unsigned)
			      ((cpu - wk->busy_cpu0) * 1000 / wall),
			      memory_order_relaxed);
	atomic_store_explicit(&wk->cpu_ns, cpu, memory_order_relaxed);
	wk->busy_wall0 = now;
	wk->busy_cpu0 = cpu;
}

/* One tick, due at due: every subscriber once.  A subscriber may remove
 * itself or any other one, and may free its owner. */
static void run_tick(struct media_worker *wk, uint64_t now, uint64_t due)
{
	struct media_tick *t;

	atomic_fetch_add_explicit(&wk->nticks, 1, memory_order_relaxed);
	if (now > due + LATE_NS)
		atomic_fetch_add_explicit(&wk->late, 1, memory_order_relaxed);
	for (t = wk->ticks; t; t = wk->iter) {
		wk->iter = t->next;
		t->h(t->arg);
	}
	wk->iter = NULL;
	busy_update(wk, now);
}

static void timer_readable(int flags, void *arg)
{
	struct media_worker *wk = arg;
	uint64_t exp, due;

	(void)flags;
	if (read(wk->tfd, &exp, sizeof(exp)) != (ssize_t)sizeof(exp) || !exp)
		return;
	if (!wk->tfd_armed)	/* a span took over meanwhile */
		return;
	/* exp - 1 ticks were skipped: late by a whole tick or more. */
	due = wk->due_ns + (exp - 1) * TICK_NS;
	atomic_fetch_add_explicit(&wk->late, exp - 1, memory_order_relaxed);
	wk->due_ns = due + TICK_NS;
	run_tick(wk, mono_ns(), due);
}

/* The clocking span has been quiet for a while: back to the timer, from
 * the tick that span missed. */
static void clock_check(void *arg)
{
	struct media_worker *wk = arg;
	uint64_t quiet = (mono_ns() - wk->clk_last_ns) / 1000000;

	if (!wk->clk_src)
		return;
	if (quiet < CLOCK_LOST_MS) {
		gw_tmr_start(&wk->clk_wdog, CLOCK_LOST_MS - quiet, clock_check,
			     wk);
		return;
	}
	GW_DBG("worker %u: span clock lost for %llu ms, on its timer",
	       wk->idx, (unsigned long long)quiet);
	wk->clk_src = NULL;
	atomic_store_explicit(&wk->span_clock, false, memory_order_relaxed);
	timer_set(wk, wk->clk_last_ns + TICK_NS);
}

/**
 * A frame from src (a span) arrived: on the worker's thread, from the
 * span's tick handler.  The first span to call this clocks the worker's
 * tick, which then runs here; other spans are ignored while it keeps
 * ticking, and one of them takes over once it has been quiet for
 * CLOCK_LOST_MS.  No allocation and no lock: the per-frame path.
 */
void media_worker_clock(struct media_worker *wk, const void *src)
{
	uint64_t now, due;

	if (!wk || !src || wk != self)
		return;
	now = mono_ns();
	if (src == wk->clk_src) {
		due = wk->clk_last_ns + TICK_NS;
	} else {
		if (wk->clk_src &&
		    now - wk->clk_last_ns < (uint64_t)CLOCK_LOST_MS * 1000000)
			return;
		if (wk->tfd_armed)
			timer_set(wk, 0);
		wk->clk_src = src;
		atomic_store_explicit(&wk->span_clock, true,
				      memory_order_relaxed);
		due = now;
	}
	wk->clk_last_ns = now;
	if (!gw_tmr_running(&wk->clk_wdog))
		gw_tmr_start(&wk->clk_wdog, CLOCK_LOST_MS, clock_check, wk);
	run_tick(wk, now, due);
}

/**
 * Subscribe t to wk's tick: h(arg) once per tick, on wk's thread (call
 * this there).  t lives in its owner and needs no setup; a running
 * subscription is moved.  It first runs on the next tick.
 */
void media_worker_tick_add(struct media_worker *wk, struct media_tick *t,
			   media_tick_h *h, void *arg)
{
	if (!wk || !t || !h || wk != self)
		return;
	if (t->wk)
		media_tick_remove(t);
	t->wk = wk;
	t->h = h;
	t->arg = arg;
	t->prev = NULL;
	t->next = wk->ticks;
	if (wk->ticks)
		wk->ticks->prev = t;
	wk->ticks = t;
}

/**
 * End t's subscription, on its worker's thread; harmless on one that is
 * not subscribed (a zeroed struct media_tick).  Safe from any tick
 * handler, t's own included.
 */
void media_tick_remove(struct media_tick *t)
{
	struct media_worker *wk;

	if (!t || !(wk = t->wk))
		return;
	if (wk->iter == t)
		wk->iter = t->next;
	if (t->prev)
		t->prev->next = t->next;
	else
		wk->ticks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = t->prev = NULL;
	t->wk = NULL;
}

static void stop_h(void *arg)
{
	(void)arg;
	gw_loop_stop();
}

static void report_ready(struct media_worker *wk, int err)
{
	struct media_workers *ws = wk->ws;

	wk->start_err = err;
	if (err)
		wk->closed = true;	/* before anyone may post */
	pthread_mutex_lock(&ws->lock);
	ws->nready++;
	pthread_cond_broadcast(&ws->cond);
	pthread_mutex_unlock(&ws->lock);
}

static void *worker_main(void *arg)
{
	struct media_worker *wk = arg;
	char name[16];
	int err;

	snprintf(name, sizeof(name), "media/%u", wk->idx);
	pthread_setname_np(pthread_self(), name);
	self = wk;
	err = gw_loop_init();
	if (err) {
		report_ready(wk, err);
		return NULL;
	}
	wk->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (wk->tfd < 0)
		err = errno;
	if (!err)
		err = gw_fd_listen(wk->tfd, GW_FD_READ, timer_readable, wk);
	if (!err)
		err = pthread_getcpuclockid(pthread_self(), &wk->cpuclk);
	if (err) {
		if (wk->tfd >= 0)
			close(wk->tfd);
		gw_loop_close();
		report_ready(wk, err);
		return NULL;
	}
	gw_tmr_init(&wk->clk_wdog);
	if (wk->ws->batch) {
		err = media_batch_enable();
		if (err)
			GW_WARN("worker %u: no io_uring (%s): one system call "
				"per datagram", wk->idx, strerror(err));
		wk->batched = !err;
		err = 0;
	}
	wk->busy_wall0 = mono_ns();
	wk->busy_cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	timer_set(wk, mono_ns() + TICK_NS);
	wk->loop = gw_loop_self();
	atomic_store(&wk->alive, true);
	report_ready(wk, 0);

	err = gw_loop_run();
	if (err)
		GW_ERR("worker %u: loop failed: %s", wk->idx, strerror(err));

	/* Refuse posts from here on; those queued already run in
	 * gw_loop_close, while the loop is still this thread's. */
	pthread_mutex_lock(&wk->lock);
	wk->closed = true;
	pthread_mutex_unlock(&wk->lock);
	atomic_store(&wk->cpu_ns, clock_ns(CLOCK_THREAD_CPUTIME_ID));
	atomic_store(&wk->alive, false);
	gw_tmr_cancel(&wk->clk_wdog);
	media_batch_disable();		/* streams left keep it */
	gw_loop_close();		/* forgets the timerfd's watch */
	close(wk->tfd);
	wk->tfd = -1;
	if (wk->ticks)
		GW_WARN("worker %u: tick subscribers left at shutdown",
			wk->idx);
	self = NULL;
	return NULL;
}

/* Stop every started worker's loop and join its thread. */
static void workers_stop(struct media_workers *ws)
{
	unsigned i;
	int err;

	for (i = 0; i < ws->n; i++) {
		struct media_worker *wk = &ws->v[i];

		if (!wk->thread_ok)
			continue;
		pthread_mutex_lock(&wk->lock);
		/* A post is a few bytes of malloc: wait out a shortage
		 * rather than leave a thread that never stops. */
		while (!wk->closed &&
		       (err = gw_loop_post(wk->loop, stop_h, NULL)) == ENOMEM)
			usleep(1000);
		pthread_mutex_unlock(&wk->lock);
	}
	for (i = 0; i < ws->n; i++) {
		if (!ws->v[i].thread_ok)
			continue;
		pthread_join(ws->v[i].thread, NULL);
		ws->v[i].thread_ok = false;
	}
}

static void workers_destroy(void *data)
{
	struct media_workers *ws = data;
	unsigned i;

	if (ws->v) {
		workers_stop(ws);
		for (i = 0; i < ws->n; i++)
			pthread_mutex_destroy(&ws->v[i].lock);
		gw_mem_deref(ws->v);
	}
	pthread_cond_destroy(&ws->cond);
	pthread_mutex_destroy(&ws->lock);
}

/**
 * Start n media workers (0: one per online core), each a thread with its
 * own loop and tick, and wait until all of them run.  EINVAL for more
 * than MEDIA_WORKERS_MAX.  Releasing the set (gw_mem_deref) stops every
 * worker after what was posted to it has run, and joins it; what the
 * workers own must be gone by then.  The threads inherit the caller's
 * signal mask: start them after gw_loop_signals, so that signals reach
 * the main loop alone.  batch: the workers batch their streams' socket
 * I/O (media/batch.c) where the kernel lets them.
 */
int media_workers_alloc(struct media_workers **wsp, unsigned n, bool batch)
{
	struct media_workers *ws;
	unsigned i;
	int err = 0;

	if (!wsp || n > MEDIA_WORKERS_MAX)
		return EINVAL;
	if (!n) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		n = cpus < 1 ? 1 : cpus > MEDIA_WORKERS_MAX ?
			MEDIA_WORKERS_MAX : (unsigned)cpus;
	}
	ws = gw_mem_zalloc(sizeof(*ws), workers_destroy);
	if (!ws)
		return ENOMEM;
	pthread_mutex_init(&ws->lock, NULL);
	pthread_cond_init(&ws->cond, NULL);
	atomic_init(&ws->rr, 0);
	ws->v = gw_mem_zalloc(n * sizeof(*ws->v), NULL);
	if (!ws->v) {
		gw_mem_deref(ws);
		return ENOMEM;
	}
	ws->n = n;
	ws->batch = batch;
	for (i = 0; i < n; i++) {
		struct media_worker *wk = &ws->v[i];

		wk->ws = ws;
		wk->idx = i;
		wk->tfd = -1;
		pthread_mutex_init(&wk->lock, NULL);
		atomic_init(&wk->chans, 0);
		atomic_init(&wk->nticks, 0);
		atomic_init(&wk->late, 0);
		atomic_init(&wk->cpu_ns, 0);
		atomic_init(&wk->busy_pm, 0);
		atomic_init(&wk->span_clock, false);
		atomic_init(&wk->alive, false);
	}

	for (i = 0; i < n && !err; i++) {
		err = pthread_create(&ws->v[i].thread, NULL, worker_main,
				     &ws->v[i]);
		ws->v[i].thread_ok = !err;
	}
	n = i - (err != 0);
	pthread_mutex_lock(&ws->lock);
	while (ws->nready < n)
		pthread_cond_wait(&ws->cond, &ws->lock);
	pthread_mutex_unlock(&ws->lock);
	for (i = 0; i < n && !err; i++)
		err = ws->v[i].start_err;
	if (err) {
		GW_ERR("cannot start media workers: %s", strerror(err));
		gw_mem_deref(ws);
		return err;
	}
	GW_INFO("%u media worker(s) running", ws->n);
	*wsp = ws;
	return 0;
}

/** How many workers the set runs. */
unsigned media_workers_count(const struct media_workers *ws)
{
	return ws ? ws->n : 0;
}

/** The idx-th worker (from 0), or NULL past the end. */
struct media_worker *media_workers_get(const struct media_workers *ws,
				       unsigned idx)
{
	return ws && idx < ws->n ? &ws->v[idx] : NULL;
}

/**
 * The least loaded worker: the fewest channels; among equals, the next
 * in turn after the last pick, so that owners placed before they carry
 * channels (spans at start-up) spread over every worker.  Any thread.
 */
struct media_worker *media_workers_pick(struct media_workers *ws)
{
	struct media_worker *best = NULL;
	int load, best_load = 0;
	unsigned i, start;

	if (!ws || !ws->n)
		return NULL;
	start = atomic_fetch_add_explicit(&ws->rr, 1, memory_order_relaxed);
	for (i = 0; i < ws->n; i++) {
		struct media_worker *wk = &ws->v[(start + i) % ws->n];

		load = atomic_load_explicit(&wk->chans, memory_order_relaxed);
		if (!best || load < best_load) {
			best = wk;
			best_load = load;
		}
	}
	return best;
}

/** The worker's index in its set, from 0. */
unsigned media_worker_idx(const struct media_worker *wk)
{
	return wk ? wk->idx : 0;
}

/** The worker whose thread this is, or NULL on any other thread. */
struct media_worker *media_worker_self(void)
{
	return self;
}

/**
 * Run fn(arg) on wk's thread, after everything posted to it before.
 * Any thread.  ESHUTDOWN once the worker has stopped (fn will not run),
 * ENOMEM.
 */
int media_worker_run(struct media_worker *wk, media_worker_h *fn, void *arg)
{
	int err;

	if (!wk || !fn)
		return EINVAL;
	pthread_mutex_lock(&wk->lock);
	err = wk->closed ? ESHUTDOWN : gw_loop_post(wk->loop, fn, arg);
	pthread_mutex_unlock(&wk->lock);
	return err;
}

struct worker_call {
	media_worker_h *fn, *done;
	void *arg, *done_arg;
	struct gw_loop *back;		/* the caller's loop */
	unsigned idx;
};

static void call_done(void *arg)
{
	struct worker_call *c = arg;

	c->done(c->done_arg);
	gw_mem_deref(c);
}

static void call_run(void *arg)
{
	struct worker_call *c = arg;
	int err;

	c->fn(c->arg);
	err = gw_loop_post(c->back, call_done, c);
	if (err) {
		GW_ERR("worker %u: cannot post a result back: %s", c->idx,
		       strerror(err));
		gw_mem_deref(c);
	}
}

/**
 * Run fn(arg) on wk's thread, then done(done_arg) back on the calling
 * thread's loop: the worker answers a command.  The caller's loop must
 * outlive the call (stop the workers first).  If this returns an error
 * neither runs; once it has returned 0, fn runs and so does done, unless
 * memory runs out between the two (logged).  done may be NULL.
 */
int media_worker_call(struct media_worker *wk, media_worker_h *fn, void *arg,
		      media_worker_h *done, void *done_arg)
{
	struct gw_loop *back = gw_loop_self();
	struct worker_call *c;
	int err;

	if (!wk || !fn)
		return EINVAL;
	if (!done)
		return media_worker_run(wk, fn, arg);
	if (!back)
		return ENOSYS;
	c = gw_mem_zalloc(sizeof(*c), NULL);
	if (!c)
		return ENOMEM;
	c->fn = fn;
	c->arg = arg;
	c->done = done;
	c->done_arg = done_arg;
	c->back = back;
	c->idx = wk->idx;
	err = media_worker_run(wk, call_run, c);
	if (err)
		gw_mem_deref(c);
	return err;
}

struct worker_sync {
	media_worker_h *fn;
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void sync_run(void *arg)
{
	struct worker_sync *s = arg;

	s->fn(s->arg);
	pthread_mutex_lock(&s->lock);
	s->done = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/**
 * Run fn(arg) on wk's thread and wait until it has returned: for
 * start-up, where the caller must know the outcome before it goes on,
 * never on a path that must not block.  On wk's own thread fn runs at
 * once.  ESHUTDOWN, ENOMEM as media_worker_run; fn has not run then.
 */
int media_worker_sync(struct media_worker *wk, media_worker_h *fn, void *arg)
{
	struct worker_sync s;
	int err;

	if (!wk || !fn)
		return EINVAL;
	if (wk == self) {
		fn(arg);
		return 0;
	}
	memset(&s, 0, sizeof(s));
	s.fn = fn;
	s.arg = arg;
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	err = media_worker_run(wk, sync_run, &s);
	if (!err) {
		pthread_mutex_lock(&s.lock);
		while (!s.done)
			pthread_cond_wait(&s.cond, &s.lock);
		pthread_mutex_unlock(&s.lock);
	}
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.lock);
	return err;
}

/**
 * Count delta channels placed on wk (negative: removed), for the load
 * figures and media_workers_pick.  Any thread.
 */
void media_worker_chans_add(struct media_worker *wk, int delta)
{
	if (wk)
		atomic_fetch_add_explicit(&wk->chans, delta,
					  memory_order_relaxed);
}

/** wk's load figures, from any thread while it runs. */
void media_worker_load(const struct media_worker *wk,
		       struct media_worker_load *l)
{
	int chans;
	uint64_t cpu = 0;

	memset(l, 0, sizeof(*l));
	if (!wk)
		return;
	chans = atomic_load_explicit(&wk->chans, memory_order_relaxed);
	l->idx = wk->idx;
	l->channels = chans > 0 ? (unsigned)chans : 0;
	l->ticks = atomic_load_explicit(&wk->nticks, memory_order_relaxed);
	l->late_ticks = atomic_load_explicit(&wk->late, memory_order_relaxed);
	/* The thread's CPU clock, live; once the thread is gone, the
	 * figure its last busy update left. */
	if (atomic_load(&wk->alive))
		cpu = clock_ns(wk->cpuclk);
	l->cpu_ns = cpu ? cpu : atomic_load_explicit(&wk->cpu_ns,
						     memory_order_relaxed);
	l->busy = atomic_load_explicit(&wk->busy_pm,
				       memory_order_relaxed) / 1000.0;
	l->span_clock = atomic_load_explicit(&wk->span_clock,
					     memory_order_relaxed);
	/* set before the thread reported ready */
	l->batched = atomic_load(&wk->alive) && wk->batched;
}

/**
 * The set's load as a JSON array, one object per worker: "worker",
 * "channels", "ticks", "late_ticks", "cpu_ms", "cpu_pct" (of one core,
 * over the last second) and "clock" ("span" or "timer").  NULL when
 * memory is short.
 */
json_t *media_workers_json(const struct media_workers *ws)
{
	struct media_worker_load l;
	json_t *a = json_array();
	unsigned i;

	if (!a || !ws)
		return a;
	for (i = 0; i < ws->n; i++) {
		media_worker_load(&ws->v[i], &l);
		if (json_array_append_new(a, json_pack(
			"{s:I,s:I,s:I,s:I,s:I,s:f,s:s,s:s}",
			"worker", (json_int_t)l.idx,
			"channels", (json_int_t)l.channels,
			"ticks", (json_int_t)l.ticks,
			"late_ticks", (json_int_t)l.late_ticks,
			"cpu_ms", (json_int_t)(l.cpu_ns / 1000000),
			"cpu_pct", (double)(long)(l.busy * 1000 + 0.5) / 10,
			"clock", l.span_clock ? "span" : "timer",
			"io", l.batched ? "io_uring" : "syscalls"))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}
