/* tests/unit/test_core_mem.c - refcounted memory: references, destructors, leaks */
#include <pthread.h>
#include <string.h>

#include "unit.h"

static int destroyed;

static void count_destroy(void *data)
{
	(void)data;
	destroyed++;
}

struct holder {
	char *name;
	struct holder *child;
};

static void holder_destroy(void *data)
{
	struct holder *h = data;

	gw_mem_deref(h->name);
	gw_mem_deref(h->child);
}

static void test_ref_deref(void **state)
{
	void *p;

	(void)state;
	destroyed = 0;
	p = gw_mem_zalloc(100, count_destroy);
	assert_non_null(p);
	assert_int_equal(gw_mem_nrefs(p), 1);
	assert_ptr_equal(gw_mem_ref(p), p);
	assert_int_equal(gw_mem_nrefs(p), 2);
	assert_null(gw_mem_deref(p));
	assert_int_equal(destroyed, 0);
	gw_mem_deref(p);
	assert_int_equal(destroyed, 1);
	assert_null(gw_mem_ref(NULL));
	assert_null(gw_mem_deref(NULL));
}

static void test_zalloc_zeroes(void **state)
{
	unsigned char *p = gw_mem_zalloc(4096, NULL);
	size_t i;

	(void)state;
	assert_non_null(p);
	for (i = 0; i < 4096; i++)
		assert_int_equal(p[i], 0);
	gw_mem_deref(p);
}

static void test_destructor_chain(void **state)
{
	struct holder *a = gw_mem_zalloc(sizeof(*a), holder_destroy);
	size_t live = gw_mem_live();

	(void)state;
	a->name = gw_mem_strdup("span 1");
	a->child = gw_mem_zalloc(sizeof(*a), holder_destroy);
	a->child->name = gw_mem_printf("ts %d", 5);
	assert_string_equal(a->child->name, "ts 5");
	assert_int_equal(gw_mem_live(), live + 3);
	gw_mem_deref(a);
	assert_int_equal(gw_mem_live(), live - 1);
}

static void test_fail_after(void **state)
{
	void *a, *b, *c;

	(void)state;
	gw_mem_fail_after(1);
	a = gw_mem_alloc(8, NULL);
	b = gw_mem_alloc(8, NULL);
	c = gw_mem_alloc(8, NULL);
	gw_mem_fail_after(-1);
	assert_non_null(a);
	assert_null(b);
	assert_non_null(c);
	gw_mem_deref(a);
	gw_mem_deref(c);
}

/* The leak check itself: a teardown that sees a live block fails. */
static void test_leak_detected(void **state)
{
	size_t before = gw_mem_live();
	void *p = gw_mem_alloc(1, NULL);
	void *st = (void *)(uintptr_t)before;

	(void)state;
	assert_int_equal(unit_leak_teardown(&st), -1);
	gw_mem_deref(p);
	assert_int_equal(unit_leak_teardown(&st), 0);
}

static void *ref_worker(void *arg)
{
	int i;

	for (i = 0; i < 100000; i++) {
		gw_mem_ref(arg);
		gw_mem_deref(arg);
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[4];
	void *p = gw_mem_alloc(16, count_destroy);
	int i;

	(void)state;
	destroyed = 0;
	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, ref_worker, p);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(gw_mem_nrefs(p), 1);
	gw_mem_deref(p);
	assert_int_equal(destroyed, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_ref_deref),
		UNIT_TEST(test_zalloc_zeroes),
		UNIT_TEST(test_destructor_chain),
		UNIT_TEST(test_fail_after),
		UNIT_TEST(test_leak_detected),
		UNIT_TEST(test_threads),
	};

	return cmocka_run_group_tests_name("core_mem", tests, NULL, NULL);
}
