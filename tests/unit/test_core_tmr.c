/* tests/unit/test_core_tmr.c - timer order and cancellation at scale */
#include <stdlib.h>

#include "unit.h"

#define NTIMERS 50000

struct probe {
	struct gw_tmr tmr;
	unsigned id;
	uint64_t due_ms;
};

static unsigned *fired;
static size_t nfired, nexpected;

static void on_fire(void *arg)
{
	struct probe *p = arg;

	fired[nfired++] = p->id;
	if (nfired == nexpected)
		gw_loop_stop();
}

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

/* Timers fire in due order, and equal due times in start order. */
static void test_order(void **state)
{
	struct probe *p = calloc(NTIMERS, sizeof(*p));
	size_t i;

	(void)state;
	fired = calloc(NTIMERS, sizeof(*fired));
	nfired = 0;
	srand(7);
	for (i = 0; i < NTIMERS; i++) {
		p[i].id = i;
		p[i].due_ms = (uint64_t)(rand() % 40);
		gw_tmr_init(&p[i].tmr);
		gw_tmr_start(&p[i].tmr, p[i].due_ms, on_fire, &p[i]);
		p[i].due_ms = p[i].tmr.due;	/* absolute from here on */
	}
	assert_int_equal(gw_tmr_count(), NTIMERS);
	nexpected = NTIMERS;
	assert_int_equal(gw_loop_run_timeout(5000), 0);
	assert_int_equal(nfired, NTIMERS);
	for (i = 1; i < NTIMERS; i++) {
		struct probe *a = &p[fired[i - 1]], *b = &p[fired[i]];

		assert_true(a->due_ms < b->due_ms ||
			    (a->due_ms == b->due_ms && a->id < b->id));
	}
	free(fired);
	free(p);
}

/* Cancel a random half of 50,000 timers: only the rest fire, in order. */
static void test_cancel_at_scale(void **state)
{
	struct probe *p = calloc(NTIMERS, sizeof(*p));
	bool *cancelled = calloc(NTIMERS, sizeof(*cancelled));
	size_t i, live = 0;
	uint64_t t0;

	(void)state;
	fired = calloc(NTIMERS, sizeof(*fired));
	nfired = 0;
	srand(11);
	for (i = 0; i < NTIMERS; i++) {
		p[i].id = i;
		p[i].due_ms = 10 + (uint64_t)(rand() % 30);
		gw_tmr_start(&p[i].tmr, p[i].due_ms, on_fire, &p[i]);
		p[i].due_ms = p[i].tmr.due;
	}
	t0 = gw_now_ms();
	for (i = 0; i < NTIMERS; i++) {
		if (rand() & 1) {
			gw_tmr_cancel(&p[i].tmr);
			cancelled[i] = true;
			assert_false(gw_tmr_running(&p[i].tmr));
		} else {
			live++;
		}
	}
	/* O(log n) each: 25,000 cancels take well under the 10 ms floor. */
	print_message("# %zu cancels in %llu ms\n", NTIMERS - live,
		      (unsigned long long)(gw_now_ms() - t0));
	assert_int_equal(gw_tmr_count(), live);
	nexpected = live;
	assert_int_equal(gw_loop_run_timeout(5000), 0);
	assert_int_equal(nfired, live);
	for (i = 0; i < nfired; i++)
		assert_false(cancelled[fired[i]]);
	for (i = 1; i < nfired; i++)
		assert_true(p[fired[i - 1]].due_ms <= p[fired[i]].due_ms);
	free(cancelled);
	free(fired);
	free(p);
}

static struct gw_tmr self_tmr;
static int self_count;

static void restart_self(void *arg)
{
	(void)arg;
	if (++self_count < 5)
		gw_tmr_start(&self_tmr, 0, restart_self, NULL);
	else
		gw_loop_stop();
}

/* A handler that restarts its own timer with 0 ms does not spin a pass. */
static void test_restart_from_handler(void **state)
{
	(void)state;
	self_count = 0;
	gw_tmr_init(&self_tmr);
	gw_tmr_start(&self_tmr, 0, restart_self, NULL);
	assert_int_equal(gw_loop_run_timeout(1000), 0);
	assert_int_equal(self_count, 5);
}

static void never(void *arg)
{
	(void)arg;
	fail_msg("cancelled timer fired");
}

static void test_restart_and_left(void **state)
{
	struct gw_tmr t;

	(void)state;
	gw_tmr_init(&t);
	assert_false(gw_tmr_running(&t));
	assert_int_equal(gw_tmr_left(&t), 0);
	gw_tmr_start(&t, 10000, never, NULL);
	assert_true(gw_tmr_left(&t) > 9000);
	gw_tmr_start(&t, 50, never, NULL);
	assert_true(gw_tmr_left(&t) <= 50);
	assert_int_equal(gw_tmr_count(), 1);
	gw_tmr_cancel(&t);
	gw_tmr_cancel(&t);
	assert_int_equal(gw_loop_run_timeout(100), ETIMEDOUT);
}

/* The timeout fires on time, not early. */
static void test_timeout_precision(void **state)
{
	uint64_t t0 = gw_now_ms(), dt;

	(void)state;
	assert_int_equal(gw_loop_run_timeout(100), ETIMEDOUT);
	dt = gw_now_ms() - t0;
	assert_true(dt >= 100);
	assert_true(dt < 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order, loop_setup,
						loop_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_at_scale,
						loop_setup, loop_teardown),
		cmocka_unit_test_setup_teardown(test_restart_from_handler,
						loop_setup, loop_teardown),
		cmocka_unit_test_setup_teardown(test_restart_and_left,
						loop_setup, loop_teardown),
		cmocka_unit_test_setup_teardown(test_timeout_precision,
						loop_setup, loop_teardown),
	};

	return cmocka_run_group_tests_name("core_tmr", tests, NULL, NULL);
}
