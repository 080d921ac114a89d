/* tests/unit/test_media_worker.c - media workers: posts, shutdown, ticks */
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "unit.h"
#include "batch.h"
#include "media.h"

static pthread_t main_thread;

struct probe {
	struct media_worker *wk;	/* where it was sent */
	struct media_worker *ran_on;	/* media_worker_self() there */
	bool off_main;
	atomic_int runs;
};

static void probe_run(void *arg)
{
	struct probe *p = arg;

	p->ran_on = media_worker_self();
	p->off_main = !pthread_equal(pthread_self(), main_thread);
	atomic_fetch_add(&p->runs, 1);
}

static void nothing(void *arg)
{
	(void)arg;
}

static void test_run_on_workers(void **state)
{
	struct media_workers *ws = NULL;
	struct probe p[3];
	unsigned i;

	(void)state;
	main_thread = pthread_self();
	memset(p, 0, sizeof(p));
	assert_int_equal(media_workers_alloc(&ws, 3, true), 0);
	assert_int_equal(media_workers_count(ws), 3);
	assert_null(media_workers_get(ws, 3));
	assert_null(media_worker_self());
	for (i = 0; i < 3; i++) {
		p[i].wk = media_workers_get(ws, i);
		assert_int_equal(media_worker_idx(p[i].wk), i);
		assert_int_equal(media_worker_run(p[i].wk, probe_run, &p[i]),
				 0);
	}
	/* A synchronous no-op drains what was posted before it. */
	for (i = 0; i < 3; i++)
		assert_int_equal(media_worker_sync(p[i].wk, nothing, NULL), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(atomic_load(&p[i].runs), 1);
		assert_ptr_equal(p[i].ran_on, p[i].wk);
		assert_true(p[i].off_main);
	}
	assert_int_equal(media_worker_run(NULL, probe_run, &p[0]), EINVAL);
	assert_int_equal(media_worker_run(p[0].wk, NULL, NULL), EINVAL);
	gw_mem_deref(ws);
}

static void test_alloc_limits(void **state)
{
	struct media_workers *ws = NULL;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	assert_int_equal(media_workers_alloc(&ws, MEDIA_WORKERS_MAX + 1, true),
			 EINVAL);
	assert_null(ws);
	assert_int_equal(media_workers_alloc(NULL, 1, true), EINVAL);
	/* 0: one per core. */
	assert_int_equal(media_workers_alloc(&ws, 0, true), 0);
	assert_int_equal(media_workers_count(ws),
			 cpus < 1 ? 1 : cpus > MEDIA_WORKERS_MAX ?
			 MEDIA_WORKERS_MAX : cpus);
	gw_mem_deref(ws);
}

#define CALLS 200

struct call_state {
	atomic_int ran;			/* fn, on the workers */
	int done;			/* done, on the main loop */
	bool fn_off_main, done_on_main;
	int expect;
};

static struct call_state cs;

static void call_fn(void *arg)
{
	(void)arg;
	if (pthread_equal(pthread_self(), main_thread))
		cs.fn_off_main = false;
	atomic_fetch_add(&cs.ran, 1);
}

static void call_done(void *arg)
{
	(void)arg;
	if (!pthread_equal(pthread_self(), main_thread))
		cs.done_on_main = false;
	if (++cs.done == cs.expect)
		gw_loop_stop();
}

static void test_call_done_on_main_loop(void **state)
{
	struct media_workers *ws = NULL;
	int i;

	(void)state;
	main_thread = pthread_self();
	memset(&cs, 0, sizeof(cs));
	cs.fn_off_main = cs.done_on_main = true;
	cs.expect = CALLS;
	/* The caller needs a loop for done to come back to. */
	assert_int_equal(media_workers_alloc(&ws, 2, true), 0);
	assert_int_equal(media_worker_call(media_workers_get(ws, 0), call_fn,
					   NULL, call_done, NULL), ENOSYS);
	assert_int_equal(gw_loop_init(), 0);
	for (i = 0; i < CALLS; i++)
		assert_int_equal(media_worker_call(media_workers_get(ws,
			(unsigned)i % 2), call_fn, NULL, call_done, NULL), 0);
	assert_int_equal(gw_loop_run_timeout(5000), 0);
	assert_int_equal(atomic_load(&cs.ran), CALLS);
	assert_int_equal(cs.done, CALLS);
	assert_true(cs.fn_off_main);
	assert_true(cs.done_on_main);
	gw_mem_deref(ws);
	gw_loop_close();
}

#define ORDER_POSTS 20000

struct order {
	unsigned next;			/* the seq the worker expects */
	bool out_of_order;
	unsigned seq[ORDER_POSTS];
};

struct order_item {
	struct order *o;
	unsigned seq;
};

static void order_run(void *arg)
{
	struct order_item *it = arg;

	if (it->seq != it->o->next)
		it->o->out_of_order = true;
	it->o->next = it->seq + 1;
}

static void test_many_posts_in_order(void **state)
{
	static struct order_item items[2][ORDER_POSTS];
	static struct order o[2];
	struct media_workers *ws = NULL;
	unsigned i, w;

	(void)state;
	memset(o, 0, sizeof(o));
	assert_int_equal(media_workers_alloc(&ws, 2, true), 0);
	/* Interleaved between two workers: each sees its own in order. */
	for (i = 0; i < ORDER_POSTS; i++) {
		for (w = 0; w < 2; w++) {
			items[w][i].o = &o[w];
			items[w][i].seq = i;
			assert_int_equal(media_worker_run(
				media_workers_get(ws, w), order_run,
				&items[w][i]), 0);
		}
	}
	for (w = 0; w < 2; w++) {
		assert_int_equal(media_worker_sync(media_workers_get(ws, w),
						   nothing, NULL), 0);
		assert_false(o[w].out_of_order);
		assert_int_equal(o[w].next, ORDER_POSTS);
	}
	gw_mem_deref(ws);
}

static atomic_int slow_runs;

static void slow_run(void *arg)
{
	(void)arg;
	usleep(20000);
	atomic_fetch_add(&slow_runs, 1);
}

static void count_run(void *arg)
{
	atomic_int *n = arg;

	atomic_fetch_add(n, 1);
}

/* Refcounted work that the worker releases: a leak shows if one is
 * dropped at shutdown. */
static void release_run(void *arg)
{
	gw_mem_deref(arg);
}

static void test_shutdown_with_work_queued(void **state)
{
	struct media_workers *ws = NULL;
	atomic_int n;
	unsigned i;

	(void)state;
	main_thread = pthread_self();
	atomic_init(&n, 0);
	atomic_store(&slow_runs, 0);
	memset(&cs, 0, sizeof(cs));
	cs.fn_off_main = cs.done_on_main = true;
	cs.expect = 100;
	assert_int_equal(gw_loop_init(), 0);
	assert_int_equal(media_workers_alloc(&ws, 2, true), 0);
	for (i = 0; i < 2; i++) {
		struct media_worker *wk = media_workers_get(ws, i);
		unsigned j;

		/* Busy first, so the rest is still queued at shutdown. */
		assert_int_equal(media_worker_run(wk, slow_run, NULL), 0);
		for (j = 0; j < 500; j++) {
			void *blk = gw_mem_zalloc(16, NULL);

			assert_non_null(blk);
			assert_int_equal(media_worker_run(wk, count_run, &n),
					 0);
			assert_int_equal(media_worker_run(wk, release_run,
							  blk), 0);
		}
		for (j = 0; j < 50; j++)
			assert_int_equal(media_worker_call(wk, call_fn, NULL,
							   call_done, NULL),
					 0);
	}
	/* Stops each loop after what is queued, and joins. */
	gw_mem_deref(ws);
	assert_int_equal(atomic_load(&slow_runs), 2);
	assert_int_equal(atomic_load(&n), 1000);
	assert_int_equal(atomic_load(&cs.ran), 100);
	/* The answers are waiting on this loop. */
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	assert_int_equal(cs.done, 100);
	assert_true(cs.done_on_main);
	gw_loop_close();
}

static void test_pick_spreads_load(void **state)
{
	struct media_workers *ws = NULL;
	struct media_worker *seen[4], *wk;
	unsigned i, j;

	(void)state;
	assert_int_equal(media_workers_alloc(&ws, 4, true), 0);
	/* All idle: consecutive picks take every worker in turn. */
	for (i = 0; i < 4; i++) {
		seen[i] = media_workers_pick(ws);
		assert_non_null(seen[i]);
		for (j = 0; j < i; j++)
			assert_ptr_not_equal(seen[i], seen[j]);
	}
	/* The one without channels wins, whoever is next in turn. */
	for (i = 0; i < 4; i++)
		media_worker_chans_add(media_workers_get(ws, i),
				       i == 2 ? 0 : 10 + (int)i);
	for (i = 0; i < 8; i++)
		assert_ptr_equal(media_workers_pick(ws),
				 media_workers_get(ws, 2));
	/* Filling it moves picks to the next lightest. */
	media_worker_chans_add(media_workers_get(ws, 2), 20);
	assert_ptr_equal(media_workers_pick(ws), media_workers_get(ws, 0));
	/* Placing on the least loaded evens the load out. */
	for (i = 0; i < 4; i++)
		media_worker_chans_add(media_workers_get(ws, i),
				       -(i == 2 ? 20 : 10 + (int)i));
	for (i = 0; i < 400; i++)
		media_worker_chans_add(media_workers_pick(ws), 1);
	for (i = 0; i < 4; i++) {
		struct media_worker_load l;

		wk = media_workers_get(ws, i);
		media_worker_load(wk, &l);
		assert_int_equal(l.channels, 100);
	}
	assert_null(media_workers_pick(NULL));
	gw_mem_deref(ws);
}

struct ticker {
	struct media_tick tick;
	struct media_worker *wk;
	atomic_int n;
	bool wrong_thread;
	int stop_after;
};

static void ticker_h(void *arg)
{
	struct ticker *t = arg;

	if (media_worker_self() != t->wk)
		t->wrong_thread = true;
	if (atomic_fetch_add(&t->n, 1) + 1 == t->stop_after)
		media_tick_remove(&t->tick);	/* from its own handler */
}

static void ticker_add(void *arg)
{
	struct ticker *t = arg;

	media_worker_tick_add(t->wk, &t->tick, ticker_h, t);
}

static void ticker_remove(void *arg)
{
	struct ticker *t = arg;

	media_tick_remove(&t->tick);
}

static const char span_a = 'a', span_b = 'b';

static void clock_a(void *arg)
{
	media_worker_clock(arg, &span_a);
}

static void clock_b(void *arg)
{
	media_worker_clock(arg, &span_b);
}

static void test_ticks_and_load(void **state)
{
	struct media_workers *ws = NULL;
	struct media_worker_load l0, l1;
	struct ticker t[2];
	struct media_worker *wk;
	json_t *j, *e;
	int n, i;

	(void)state;
	memset(t, 0, sizeof(t));
	assert_int_equal(media_workers_alloc(&ws, 2, true), 0);
	wk = media_workers_get(ws, 0);
	t[0].wk = wk;
	t[0].stop_after = 5;
	t[1].wk = wk;
	assert_int_equal(media_worker_sync(wk, ticker_add, &t[0]), 0);
	assert_int_equal(media_worker_sync(wk, ticker_add, &t[1]), 0);
	/* On its timer, the worker ticks every 20 ms. */
	usleep(300000);
	assert_int_equal(media_worker_sync(wk, ticker_remove, &t[1]), 0);
	n = atomic_load(&t[1].n);
	assert_in_range(n, 5, 20);
	assert_int_equal(atomic_load(&t[0].n), 5);	/* removed itself */
	assert_false(t[0].wrong_thread || t[1].wrong_thread);
	media_worker_load(wk, &l0);
	assert_true(l0.ticks >= (uint64_t)n);
	assert_false(l0.span_clock);
	assert_true(l0.cpu_ns > 0);

	/* A span's frames take the clock; a second span is ignored. */
	for (i = 0; i < 5; i++) {
		assert_int_equal(media_worker_sync(wk, clock_a, wk), 0);
		assert_int_equal(media_worker_sync(wk, clock_b, wk), 0);
	}
	media_worker_load(wk, &l1);
	assert_true(l1.span_clock);
	assert_true(l1.ticks >= l0.ticks + 5);
	assert_true(l1.ticks <= l0.ticks + 5 + 3);	/* timer stopped */
	/* Quiet for longer than 3 ticks: back on the timer, the ticks it
	 * skipped counted late. */
	usleep(200000);
	media_worker_load(wk, &l0);
	assert_false(l0.span_clock);
	assert_true(l0.ticks > l1.ticks + 3);
	assert_true(l0.late_ticks > l1.late_ticks);

	media_worker_chans_add(media_workers_get(ws, 1), 3);
	j = media_workers_json(ws);
	assert_int_equal(json_array_size(j), 2);
	e = json_array_get(j, 1);
	assert_int_equal(json_integer_value(json_object_get(e, "worker")), 1);
	assert_int_equal(json_integer_value(json_object_get(e, "channels")),
			 3);
	assert_true(json_is_integer(json_object_get(e, "ticks")));
	assert_true(json_is_integer(json_object_get(e, "late_ticks")));
	assert_true(json_is_integer(json_object_get(e, "cpu_ms")));
	assert_true(json_is_real(json_object_get(e, "cpu_pct")));
	assert_string_equal(json_string_value(json_object_get(e, "clock")),
			    "timer");
	json_decref(j);
	gw_mem_deref(ws);
}

/* A stream on a worker: created, ticked and freed there. */
struct wstream {
	struct media_stream *s;
	uint16_t peer_port;
	bool batched;			/* the worker thread had a batch */
	struct media_stream_stats st;
	int err;
};

static void ws_open(void *arg)
{
	struct wstream *w = arg;
	struct media_stream_conf c = {
		.local_ip = "127.0.0.1",
		/* the unit tests' range; the stream skips taken ports */
		.port_min = 20000,
		.port_max = 29999,
		.pt = 8,
		.clock = 8000,
		.ptime = 20,
		.jb_nominal_ms = 20,
		.symmetric = true,
		.dir = MEDIA_DIR_SENDRECV,
	};

	w->batched = media_batch_self() != NULL;
	w->err = media_stream_alloc(&w->s, &c, NULL, NULL, NULL);
	if (!w->err)
		w->err = media_stream_set_remote(w->s, "127.0.0.1",
						 w->peer_port, w->peer_port);
}

static void ws_tick(void *arg)
{
	struct wstream *w = arg;
	struct media_stream_frame f;
	uint8_t buf[2048], out[160];

	memset(out, 0xd5, sizeof(out));
	media_stream_rx(w->s, buf, sizeof(buf), &f);
	w->err = media_stream_tx(w->s, out, sizeof(out), 160);
}

static void ws_close(void *arg)
{
	struct wstream *w = arg;

	media_stream_stats(w->s, &w->st);
	w->s = gw_mem_deref(w->s);
}

/* Five packets each way through a stream on wk's thread: what it sends
 * goes out when the worker's loop is done with its turn, without
 * another call.  Whether the thread batched, for the caller. */
static bool exchange(struct media_worker *wk)
{
	struct wstream w = {0};
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct pollfd pfd;
	uint8_t pkt[12 + 160] = { 0x80, 8 }, buf[2048];
	unsigned i;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, alen), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	w.peer_port = ntohs(a.sin_port);
	assert_int_equal(media_worker_sync(wk, ws_open, &w), 0);
	assert_int_equal(w.err, 0);
	a.sin_port = htons(media_stream_port(w.s));
	for (i = 0; i < 5; i++) {
		pkt[3] = (uint8_t)i;
		pkt[7] = (uint8_t)(i * 160);
		assert_int_equal(sendto(fd, pkt, sizeof(pkt), 0,
					(struct sockaddr *)&a, sizeof(a)),
				 (ssize_t)sizeof(pkt));
		assert_int_equal(media_worker_sync(wk, ws_tick, &w), 0);
		assert_int_equal(w.err, 0);
		pfd.fd = fd;
		pfd.events = POLLIN;
		assert_int_equal(poll(&pfd, 1, 2000), 1);
		assert_int_equal(recv(fd, buf, sizeof(buf), 0), 12 + 160);
		assert_int_equal(buf[1] & 0x7f, 8);
	}
	assert_int_equal(media_worker_sync(wk, ws_close, &w), 0);
	assert_int_equal(w.st.rx_packets, 5);
	assert_int_equal(w.st.tx_packets, 5);
	assert_int_equal(w.st.tx_errors, 0);
	close(fd);
	return w.batched;
}

static const char *io_of(struct media_workers *ws)
{
	static char io[16];
	json_t *j = media_workers_json(ws);

	snprintf(io, sizeof(io), "%s", json_string_value(json_object_get(
		json_array_get(j, 0), "io")));
	json_decref(j);
	return io;
}

/* A worker batches its streams' socket I/O (media/batch.c), unless told
 * not to. */
static void test_streams_batched(void **state)
{
	struct media_workers *ws = NULL;
	struct media_worker_load l;

	(void)state;
	assert_int_equal(media_workers_alloc(&ws, 1, true), 0);
	media_worker_load(media_workers_get(ws, 0), &l);
	if (!l.batched) {
		assert_string_equal(io_of(ws), "syscalls");
		print_message("no io_uring here: the worker does without\n");
		gw_mem_deref(ws);
		skip();
	}
	assert_string_equal(io_of(ws), "io_uring");
	assert_true(exchange(media_workers_get(ws, 0)));
	gw_mem_deref(ws);

	/* not asked to ([mg] io_uring = no) */
	assert_int_equal(media_workers_alloc(&ws, 1, false), 0);
	assert_string_equal(io_of(ws), "syscalls");
	assert_false(exchange(media_workers_get(ws, 0)));
	gw_mem_deref(ws);
}

/* Workers started by a thread that io_uring_setup refuses (a seccomp
 * filter, as a container may have) inherit the refusal: they say so,
 * and carry the audio with a system call per datagram. */
struct refused {
	struct media_workers *ws;
	int err;
};

static void *refused_main(void *arg)
{
	struct refused *r = arg;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(f) / sizeof(f[0]),
		.filter = f,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		r->err = errno;
		return NULL;
	}
	r->err = media_workers_alloc(&r->ws, 1, true);
	return NULL;
}

static void test_streams_without_io_uring(void **state)
{
	struct refused r = {0};
	struct media_worker_load l;
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, refused_main, &r), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(r.err, 0);
	media_worker_load(media_workers_get(r.ws, 0), &l);
	assert_false(l.batched);
	assert_string_equal(io_of(r.ws), "syscalls");
	assert_false(exchange(media_workers_get(r.ws, 0)));
	gw_mem_deref(r.ws);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_run_on_workers),
		UNIT_TEST(test_alloc_limits),
		UNIT_TEST(test_call_done_on_main_loop),
		UNIT_TEST(test_many_posts_in_order),
		UNIT_TEST(test_shutdown_with_work_queued),
		UNIT_TEST(test_pick_spreads_load),
		UNIT_TEST(test_ticks_and_load),
		UNIT_TEST(test_streams_batched),
		UNIT_TEST(test_streams_without_io_uring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
