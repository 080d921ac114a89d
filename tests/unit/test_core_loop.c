/* tests/unit/test_core_loop.c - fd watchers, posts across threads, signals */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "unit.h"

static int loop_setup(void **state)
{
	assert_int_equal(gw_loop_init(), 0);
	return unit_leak_setup(state);
}

static int loop_teardown(void **state)
{
	gw_loop_close();
	return unit_leak_teardown(state);
}

struct pipe_probe {
	int fds[2];
	int reads;
	char got[64];
	size_t ngot;
};

static void pipe_readable(int flags, void *arg)
{
	struct pipe_probe *p = arg;
	ssize_t n;

	assert_true(flags & GW_FD_READ);
	n = read(p->fds[0], p->got + p->ngot, sizeof(p->got) - p->ngot);
	if (n > 0)
		p->ngot += (size_t)n;
	if (++p->reads == 2) {
		/* Closing the watch from its own handler is allowed. */
		gw_fd_close(p->fds[0]);
		gw_loop_stop();
	}
}

static void write_later(void *arg)
{
	struct pipe_probe *p = arg;

	assert_int_equal(write(p->fds[1], "b", 1), 1);
}

/* A watched pipe with "a" in it, and "b" to come 20 ms later. */
static void pipe_probe_start(struct pipe_probe *p, struct gw_tmr *t)
{
	assert_int_equal(pipe(p->fds), 0);
	assert_int_equal(gw_fd_listen(p->fds[0], GW_FD_READ, pipe_readable,
				      p), 0);
	assert_int_equal(write(p->fds[1], "a", 1), 1);
	gw_tmr_init(t);
	gw_tmr_start(t, 20, write_later, p);
}

static void test_fd_read_and_close(void **state)
{
	struct pipe_probe p = {0};
	struct gw_tmr t;

	(void)state;
	pipe_probe_start(&p, &t);
	assert_int_equal(gw_loop_run_timeout(1000), 0);
	assert_int_equal(p.reads, 2);
	assert_memory_equal(p.got, "ab", 2);
	/* Watch is gone: more data wakes nobody. */
	assert_int_equal(write(p.fds[1], "c", 1), 1);
	assert_int_equal(gw_loop_run_timeout(50), ETIMEDOUT);
	assert_int_equal(p.reads, 2);
	close(p.fds[0]);
	close(p.fds[1]);
}

/* The idle hook runs before each wait, after its turn's events. */
struct idle_probe {
	struct pipe_probe *p;
	int calls;
	int seen[16];			/* reads done at each call */
};

static void idle_h(void *arg)
{
	struct idle_probe *ip = arg;

	if (ip->calls < 16)
		ip->seen[ip->calls] = ip->p->reads;
	ip->calls++;
}

static void test_idle_hook(void **state)
{
	struct pipe_probe p = {0};
	struct idle_probe ip = { .p = &p };
	struct gw_tmr t;
	int i, calls;

	(void)state;
	pipe_probe_start(&p, &t);
	gw_loop_idle(idle_h, &ip);
	assert_int_equal(gw_loop_run_timeout(1000), 0);
	assert_int_equal(p.reads, 2);
	/* before the first wait, then after the turn that read "a" */
	assert_true(ip.calls >= 2);
	assert_int_equal(ip.seen[0], 0);
	assert_int_equal(ip.seen[1], 1);
	for (i = 2; i < ip.calls && i < 16; i++)
		assert_int_equal(ip.seen[i], 1);
	/* removed: no more calls */
	gw_loop_idle(NULL, NULL);
	calls = ip.calls;
	assert_int_equal(gw_loop_run_timeout(30), ETIMEDOUT);
	assert_int_equal(ip.calls, calls);
	close(p.fds[0]);
	close(p.fds[1]);
}

static int hangups;

static void pipe_hangup(int flags, void *arg)
{
	int fd = *(int *)arg;

	if (flags & GW_FD_EXCEPT) {
		hangups++;
		gw_fd_close(fd);
		gw_loop_stop();
	}
}

static void test_fd_hangup(void **state)
{
	int fds[2];

	(void)state;
	hangups = 0;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(gw_fd_listen(fds[0], GW_FD_READ, pipe_hangup,
				      &fds[0]), 0);
	close(fds[1]);
	assert_int_equal(gw_loop_run_timeout(1000), 0);
	assert_int_equal(hangups, 1);
	close(fds[0]);
}

static void test_fd_errors(void **state)
{
	(void)state;
	assert_int_equal(gw_fd_listen(-1, GW_FD_READ, pipe_hangup, NULL),
			 EINVAL);
	assert_int_equal(gw_fd_listen(9999, GW_FD_READ, pipe_hangup, NULL),
			 EBADF);
	gw_fd_close(12345);	/* unknown: harmless */
}

#define POSTERS 4
#define POSTS 20000

static unsigned last_seen[POSTERS];
static unsigned total_posts;
static bool out_of_order;
static pthread_t loop_thread;
static bool wrong_thread;

struct post_item {
	unsigned thread, seq;
};

static void on_post(void *arg)
{
	struct post_item *it = arg;

	if (!pthread_equal(pthread_self(), loop_thread))
		wrong_thread = true;
	if (it->seq != last_seen[it->thread] + 1)
		out_of_order = true;
	last_seen[it->thread] = it->seq;
	gw_mem_deref(it);
	if (++total_posts == POSTERS * POSTS)
		gw_loop_stop();
}

static void *poster(void *arg)
{
	struct gw_loop *loop = ((void **)arg)[0];
	unsigned id = (unsigned)(uintptr_t)((void **)arg)[1];
	unsigned i;

	for (i = 1; i <= POSTS; i++) {
		struct post_item *it = gw_mem_alloc(sizeof(*it), NULL);

		it->thread = id;
		it->seq = i;
		while (gw_loop_post(loop, on_post, it) != 0)
			;
	}
	return NULL;
}

/* Posts from four threads all run, on the loop's thread, each thread's
 * in the order it posted them. */
static void test_post_from_threads(void **state)
{
	pthread_t t[POSTERS];
	void *args[POSTERS][2];
	unsigned i;

	(void)state;
	loop_thread = pthread_self();
	total_posts = 0;
	out_of_order = wrong_thread = false;
	for (i = 0; i < POSTERS; i++) {
		last_seen[i] = 0;
		args[i][0] = gw_loop_self();
		args[i][1] = (void *)(uintptr_t)i;
		pthread_create(&t[i], NULL, poster, args[i]);
	}
	assert_int_equal(gw_loop_run_timeout(10000), 0);
	for (i = 0; i < POSTERS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(total_posts, POSTERS * POSTS);
	assert_false(out_of_order);
	assert_false(wrong_thread);
}

/* Posts still queued when the loop closes are run, not leaked. */
static void test_post_run_at_close(void **state)
{
	struct post_item *it = gw_mem_alloc(sizeof(*it), NULL);

	(void)state;
	last_seen[0] = 0;
	it->thread = 0;
	it->seq = 1;
	total_posts = 0;
	assert_int_equal(gw_loop_post(gw_loop_self(), on_post, it), 0);
}

static int got_signal;

static void on_signal(int sig, void *arg)
{
	(void)arg;
	got_signal = sig;
	gw_loop_stop();
}

static void test_signals(void **state)
{
	(void)state;
	got_signal = 0;
	assert_int_equal(gw_loop_signals(on_signal, NULL), 0);
	kill(getpid(), SIGUSR1);
	assert_int_equal(gw_loop_run_timeout(1000), 0);
	assert_int_equal(got_signal, SIGUSR1);
	kill(getpid(), SIGHUP);
	assert_int_equal(gw_loop_run_timeout(1000), 0);
	assert_int_equal(got_signal, SIGHUP);
}

static void test_no_loop(void **state)
{
	(void)state;
	gw_loop_close();
	assert_null(gw_loop_self());
	assert_int_equal(gw_loop_run(), ENOSYS);
	assert_int_equal(gw_fd_listen(0, GW_FD_READ, pipe_hangup, NULL),
			 ENOSYS);
	assert_int_equal(gw_loop_init(), 0);
	assert_int_equal(gw_loop_init(), EALREADY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fd_read_and_close,
						loop_setup, loop_teardown),
		cmocka_unit_test_setup_teardown(test_idle_hook,
						loop_setup, loop_teardown),
		cmocka_unit_test_setup_teardown(test_fd_hangup,
						loop_setup, loop_teardown),
		cmocka_unit_test_setup_teardown(test_fd_errors,
						loop_setup, loop_teardown),
		cmocka_unit_test_setup_teardown(test_post_from_threads,
						loop_setup, loop_teardown),
		cmocka_unit_test_setup_teardown(test_post_run_at_close,
						loop_setup, loop_teardown),
		cmocka_unit_test_setup_teardown(test_signals,
						loop_setup, loop_teardown),
		cmocka_unit_test_setup_teardown(test_no_loop,
						loop_setup, loop_teardown),
	};

	return cmocka_run_group_tests_name("core_loop", tests, NULL, NULL);
}
