/* core/core_int.h - what core/'s files share and nobody else sees */
#ifndef GW_CORE_INT_H
#define GW_CORE_INT_H

#include <pthread.h>
#include "core.h"

struct loop_fd {
	gw_fd_h *h;
	void *arg;
	int flags;
	uint32_t gen;		/* bumped on every close: stale events die */
	bool active;
};

struct loop_post {
	struct loop_post *next;
	gw_post_h *h;
	void *arg;
};

struct gw_loop {
	int epfd;
	struct loop_fd *fds;	/* indexed by fd */
	size_t nfds;

	struct gw_tmr **heap;	/* timers, a binary min-heap on (due, seq) */
	size_t nheap, heapcap;
	uint64_t tmr_seq;

	int postfd;		/* eventfd that wakes the loop for posts */
	pthread_mutex_t postlock;
	struct loop_post *posthead, **posttail;

	int sigfd;
	gw_signal_h *sigh;
	void *sigarg;

	gw_post_h *idleh;	/* before each wait */
	void *idlearg;

	bool stop;
	bool timed_out;
};

/* tmr.c, for loop.c */
int  tmr_next_timeout(struct gw_loop *loop);	/* ms for epoll_wait; -1 */
void tmr_run_due(struct gw_loop *loop);
void tmr_heap_free(struct gw_loop *loop);

#endif
