/* core/tmr.c - monotonic timers on a binary heap: O(log n) start and cancel */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#define GW_LOG_MOD "core"
#include "core_int.h"

/*
 * Timers live inside their owners; the loop keeps a min-heap of pointers
 * ordered by (due, seq), and each timer remembers its slot so that a
 * cancel is a heap removal, not a search.  seq keeps timers that fall due
 * in the same millisecond in the order they were started.
 */

static bool before(const struct gw_tmr *a, const struct gw_tmr *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void place(struct gw_loop *loop, size_t i, struct gw_tmr *t)
{
	loop->heap[i] = t;
	t->idx = i + 1;
}

static void sift_up(struct gw_loop *loop, size_t i)
{
	struct gw_tmr *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!before(t, loop->heap[parent]))
			break;
		place(loop, i, loop->heap[parent]);
		i = parent;
	}
	place(loop, i, t);
}

static void sift_down(struct gw_loop *loop, size_t i)
{
	struct gw_tmr *t = loop->heap[i];
	size_t n = loop->nheap;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && before(loop->heap[c + 1], loop->heap[c]))
			c++;
		if (!before(loop->heap[c], t))
			break;
		place(loop, i, loop->heap[c]);
		i = c;
	}
	place(loop, i, t);
}

static void heap_remove(struct gw_loop *loop, struct gw_tmr *t)
{
	size_t i = t->idx - 1;
	struct gw_tmr *last = loop->heap[--loop->nheap];

	t->idx = 0;
	if (last == t)
		return;
	place(loop, i, last);
	if (i > 0 && before(last, loop->heap[(i - 1) / 2]))
		sift_up(loop, i);
	else
		sift_down(loop, i);
}

/** Set up a timer that is not running. */
void gw_tmr_init(struct gw_tmr *tmr)
{
	tmr->due = 0;
	tmr->seq = 0;
	tmr->idx = 0;
	tmr->h = NULL;
	tmr->arg = NULL;
	tmr->loop = NULL;
}

/**
 * Run h(arg) on this thread's loop ms milliseconds from now; a running
 * timer is restarted.  The handler runs once; it may restart its timer.
 */
void gw_tmr_start(struct gw_tmr *tmr, uint64_t ms, gw_tmr_h *h, void *arg)
{
	struct gw_loop *loop = gw_loop_self();

	assert(loop != NULL);
	gw_tmr_cancel(tmr);
	if (loop->nheap == loop->heapcap) {
		size_t cap = loop->heapcap ? loop->heapcap * 2 : 64;
		struct gw_tmr **heap = realloc(loop->heap,
					       cap * sizeof(*heap));

		/* A timer that silently never fired would leave a call
		 * hanging forever; with no memory for a pointer array
		 * there is nothing better to do than stop here. */
		if (!heap)
			abort();
		loop->heap = heap;
		loop->heapcap = cap;
	}
	tmr->due = gw_now_ms() + ms;
	tmr->seq = loop->tmr_seq++;
	tmr->h = h;
	tmr->arg = arg;
	tmr->loop = loop;
	loop->heap[loop->nheap++] = tmr;
	sift_up(loop, loop->nheap - 1);
}

/** Stop a timer; harmless on one that is not running. */
void gw_tmr_cancel(struct gw_tmr *tmr)
{
	if (!tmr || !tmr->idx)
		return;
	heap_remove(tmr->loop, tmr);
}

/** Whether the timer is running. */
bool gw_tmr_running(const struct gw_tmr *tmr)
{
	return tmr && tmr->idx != 0;
}

/** Milliseconds until the timer fires; 0 if it is not running. */
uint64_t gw_tmr_left(const struct gw_tmr *tmr)
{
	uint64_t now;

	if (!gw_tmr_running(tmr))
		return 0;
	now = gw_now_ms();
	return tmr->due > now ? tmr->due - now : 0;
}

/** Timers running on this thread's loop. */
size_t gw_tmr_count(void)
{
	struct gw_loop *loop = gw_loop_self();

	return loop ? loop->nheap : 0;
}

int tmr_next_timeout(struct gw_loop *loop)
{
	uint64_t now, due;

	if (!loop->nheap)
		return -1;
	due = loop->heap[0]->due;
	now = gw_now_ms();
	if (due <= now)
		return 0;
	return due - now > INT_MAX ? INT_MAX : (int)(due - now);
}

/*
 * Run what is due.  A timer restarted from its own handler with 0 ms gets
 * a seq beyond this pass and waits for the next one, so a pass ends.
 */
void tmr_run_due(struct gw_loop *loop)
{
	uint64_t now = gw_now_ms();
	uint64_t pass = loop->tmr_seq;

	while (loop->nheap && !loop->stop) {
		struct gw_tmr *t = loop->heap[0];

		if (t->due > now || t->seq >= pass)
			break;
		heap_remove(loop, t);
		t->h(t->arg);
	}
}

void tmr_heap_free(struct gw_loop *loop)
{
	size_t i;

	for (i = 0; i < loop->nheap; i++)
		loop->heap[i]->idx = 0;
	free(loop->heap);
	loop->heap = NULL;
	loop->nheap = loop->heapcap = 0;
}
