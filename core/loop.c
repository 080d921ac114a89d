/* core/loop.c - one epoll event loop per thread: fds, posts, signals */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define GW_LOG_MOD "core"
#include "core_int.h"

#define LOOP_MAX_EVENTS 64

static __thread struct gw_loop *cur;

/* The epoll cookie carries the fd and its generation. */
static uint64_t cookie(int fd, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint32_t)fd;
}

/** Monotonic time in milliseconds. */
uint64_t gw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void post_readable(int flags, void *arg);

/**
 * Create this thread's event loop.  Every later gw_fd_*, gw_tmr_* and
 * gw_loop_* call on this thread uses it.  EALREADY if it has one.
 */
int gw_loop_init(void)
{
	struct gw_loop *loop;
	int err;

	if (cur)
		return EALREADY;
	loop = calloc(1, sizeof(*loop));
	if (!loop)
		return ENOMEM;
	loop->sigfd = -1;
	loop->postfd = -1;
	loop->posttail = &loop->posthead;
	pthread_mutex_init(&loop->postlock, NULL);

	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		err = errno;
		goto out;
	}
	loop->postfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->postfd < 0) {
		err = errno;
		goto out;
	}
	cur = loop;
	err = gw_fd_listen(loop->postfd, GW_FD_READ, post_readable, loop);
	if (err)
		cur = NULL;
 out:
	if (err) {
		if (loop->postfd >= 0)
			close(loop->postfd);
		if (loop->epfd >= 0)
			close(loop->epfd);
		pthread_mutex_destroy(&loop->postlock);
		free(loop);
	}
	return err;
}

static void run_posts(struct gw_loop *loop)
{
	struct loop_post *p, *next;

	pthread_mutex_lock(&loop->postlock);
	p = loop->posthead;
	loop->posthead = NULL;
	loop->posttail = &loop->posthead;
	pthread_mutex_unlock(&loop->postlock);

	for (; p; p = next) {
		next = p->next;
		p->h(p->arg);
		free(p);
	}
}

/**
 * Free this thread's loop.  Posts still queued run first, so that what
 * they carry is released; fds still watched are simply forgotten.
 */
void gw_loop_close(void)
{
	struct gw_loop *loop = cur;

	if (!loop)
		return;
	run_posts(loop);
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	close(loop->postfd);
	close(loop->epfd);
	tmr_heap_free(loop);
	free(loop->fds);
	pthread_mutex_destroy(&loop->postlock);
	free(loop);
	cur = NULL;
}

/** This thread's loop, for gw_loop_post from other threads. */
struct gw_loop *gw_loop_self(void)
{
	return cur;
}

static int fd_grow(struct gw_loop *loop, int fd)
{
	size_t n = loop->nfds ? loop->nfds : 64;
	struct loop_fd *fds;

	while (n <= (size_t)fd)
		n *= 2;
	fds = realloc(loop->fds, n * sizeof(*fds));
	if (!fds)
		return ENOMEM;
	memset(fds + loop->nfds, 0, (n - loop->nfds) * sizeof(*fds));
	loop->fds = fds;
	loop->nfds = n;
	return 0;
}

/**
 * Watch fd for flags (GW_FD_READ, GW_FD_WRITE, GW_FD_EDGE); errors and
 * hang-ups are reported as GW_FD_EXCEPT.  Listening again on a watched
 * fd changes its flags and handler.
 */
int gw_fd_listen(int fd, int flags, gw_fd_h *h, void *arg)
{
	struct gw_loop *loop = cur;
	struct epoll_event ev;
	struct loop_fd *e;
	int err;

	if (!loop)
		return ENOSYS;
	if (fd < 0 || !h)
		return EINVAL;
	if ((size_t)fd >= loop->nfds) {
		err = fd_grow(loop, fd);
		if (err)
			return err;
	}
	e = &loop->fds[fd];

	memset(&ev, 0, sizeof(ev));
	if (flags & GW_FD_READ)
		ev.events |= EPOLLIN | EPOLLRDHUP;
	if (flags & GW_FD_WRITE)
		ev.events |= EPOLLOUT;
	if (flags & GW_FD_EDGE)
		ev.events |= EPOLLET;
	ev.data.u64 = cookie(fd, e->gen);
	if (epoll_ctl(loop->epfd, e->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
		      fd, &ev) < 0)
		return errno;

	e->h = h;
	e->arg = arg;
	e->flags = flags;
	e->active = true;
	return 0;
}

/**
 * Stop watching fd (before closing it).  Safe from any handler: no
 * event is delivered for this watch afterwards.
 */
void gw_fd_close(int fd)
{
	struct gw_loop *loop = cur;
	struct loop_fd *e;

	if (!loop || fd < 0 || (size_t)fd >= loop->nfds)
		return;
	e = &loop->fds[fd];
	if (!e->active)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	e->active = false;
	e->h = NULL;
	e->arg = NULL;
	e->gen++;
}

static void post_readable(int flags, void *arg)
{
	struct gw_loop *loop = arg;
	uint64_t n;

	(void)flags;
	while (read(loop->postfd, &n, sizeof(n)) > 0)
		;
	run_posts(loop);
}

/**
 * Run h(arg) on loop's thread, after what was posted before it.  The one
 * call that is safe from any thread.
 */
int gw_loop_post(struct gw_loop *loop, gw_post_h *h, void *arg)
{
	struct loop_post *p;
	uint64_t one = 1;
	bool wake;

	if (!loop || !h)
		return EINVAL;
	p = malloc(sizeof(*p));
	if (!p)
		return ENOMEM;
	p->next = NULL;
	p->h = h;
	p->arg = arg;

	pthread_mutex_lock(&loop->postlock);
	wake = loop->posthead == NULL;
	*loop->posttail = p;
	loop->posttail = &p->next;
	pthread_mutex_unlock(&loop->postlock);

	/* One wake-up per batch: the reader drains the whole list. */
	if (wake && write(loop->postfd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		return errno;
	return 0;
}

static void signal_readable(int flags, void *arg)
{
	struct gw_loop *loop = arg;
	struct signalfd_siginfo si;

	(void)flags;
	while (read(loop->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (loop->sigh)
			loop->sigh((int)si.ssi_signo, loop->sigarg);
	}
}

/**
 * Take SIGHUP, SIGINT, SIGTERM, SIGCHLD, SIGUSR1 and SIGUSR2 through this
 * thread's loop.  They are blocked for the process, so threads started
 * later inherit the mask; a child must unblock them before exec.
 */
int gw_loop_signals(gw_signal_h *h, void *arg)
{
	struct gw_loop *loop = cur;
	sigset_t set;
	int err;

	if (!loop)
		return ENOSYS;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	err = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (err)
		return err;
	if (loop->sigfd < 0) {
		loop->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
		if (loop->sigfd < 0)
			return errno;
		err = gw_fd_listen(loop->sigfd, GW_FD_READ, signal_readable,
				   loop);
		if (err)
			return err;
	}
	loop->sigh = h;
	loop->sigarg = arg;
	return 0;
}

static void dispatch(struct gw_loop *loop, const struct epoll_event *ev)
{
	int fd = (int)(uint32_t)ev->data.u64;
	uint32_t gen = (uint32_t)(ev->data.u64 >> 32);
	struct loop_fd *e;
	int flags = 0;

	if ((size_t)fd >= loop->nfds)
		return;
	e = &loop->fds[fd];
	if (!e->active || e->gen != gen)
		return;
	if (ev->events & EPOLLIN)
		flags |= GW_FD_READ;
	if (ev->events & EPOLLOUT)
		flags |= GW_FD_WRITE;
	if (ev->events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
		flags |= GW_FD_EXCEPT;
	e->h(flags, e->arg);
}

/** See core.h: h(arg) before each wait of this thread's loop. */
void gw_loop_idle(gw_post_h *h, void *arg)
{
	if (!cur)
		return;
	cur->idleh = h;
	cur->idlearg = arg;
}

/** Run this thread's loop until gw_loop_stop(). */
int gw_loop_run(void)
{
	struct gw_loop *loop = cur;
	struct epoll_event evs[LOOP_MAX_EVENTS];
	int i, n;

	if (!loop)
		return ENOSYS;
	loop->stop = false;
	while (!loop->stop) {
		if (loop->idleh)
			loop->idleh(loop->idlearg);
		n = epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS,
			       tmr_next_timeout(loop));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		for (i = 0; i < n && !loop->stop; i++)
			dispatch(loop, &evs[i]);
		tmr_run_due(loop);
	}
	return 0;
}

static void run_timeout(void *arg)
{
	struct gw_loop *loop = arg;

	loop->timed_out = true;
	loop->stop = true;
}

/**
 * Run the loop for at most ms milliseconds: 0 if gw_loop_stop() ended
 * it first, ETIMEDOUT otherwise (baresip's re_main_timeout, for tests).
 */
int gw_loop_run_timeout(uint64_t ms)
{
	struct gw_loop *loop = cur;
	struct gw_tmr tmr;
	int err;

	if (!loop)
		return ENOSYS;
	gw_tmr_init(&tmr);
	loop->timed_out = false;
	gw_tmr_start(&tmr, ms, run_timeout, loop);
	err = gw_loop_run();
	gw_tmr_cancel(&tmr);
	if (!err && loop->timed_out)
		err = ETIMEDOUT;
	return err;
}

/** Make gw_loop_run return once the current handler is done. */
void gw_loop_stop(void)
{
	if (cur)
		cur->stop = true;
}
