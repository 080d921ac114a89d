/* tests/unit/unit.h - what every cmocka unit test shares */
#ifndef GW_TEST_UNIT_H
#define GW_TEST_UNIT_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core.h"

/* A test leaks if a refcounted block outlives it (libre's retest). */
static inline int unit_leak_setup(void **state)
{
	*state = (void *)(uintptr_t)gw_mem_live();
	return 0;
}

static inline int unit_leak_teardown(void **state)
{
	size_t before = (size_t)(uintptr_t)*state;
	size_t now = gw_mem_live();

	if (now != before) {
		print_error("leak: %zu refcounted block(s) still live\n",
			    now - before);
		return -1;
	}
	return 0;
}

/* A test case with the leak check around it. */
#define UNIT_TEST(f) \
	cmocka_unit_test_setup_teardown(f, unit_leak_setup, unit_leak_teardown)

#endif
