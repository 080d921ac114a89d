/* tests/unit/test_core_log.c - log levels per module, the sink hook, rate limits */
#include <string.h>

#define GW_LOG_MOD "sip"
#include "unit.h"

static char last[1024];
static int lines;

static void sink(enum gw_log_level level, const char *module, const char *msg,
		 void *arg)
{
	(void)arg;
	snprintf(last, sizeof(last), "%s %s %s", gw_log_level_name(level),
		 module, msg);
	lines++;
}

static int setup(void **state)
{
	(void)state;
	gw_log_set_levels("error");
	gw_log_set_handler(sink, NULL);
	lines = 0;
	last[0] = '\0';
	return 0;
}

static void test_levels_per_module(void **state)
{
	(void)state;
	assert_int_equal(gw_log_set_levels("warn,sip=debug,mg=error"), 0);
	assert_int_equal(gw_log_get_level("sip"), GW_LOG_DEBUG);
	assert_int_equal(gw_log_get_level("mg"), GW_LOG_ERR);
	assert_int_equal(gw_log_get_level("tdm"), GW_LOG_WARN);
	assert_true(gw_log_enabled("sip", GW_LOG_DEBUG));
	assert_false(gw_log_enabled("mg", GW_LOG_WARN));
	GW_DBG("INVITE from %s", "alice");
	assert_string_equal(last, "debug sip INVITE from alice");
	gw_log(GW_LOG_INFO, "tdm", "not shown");
	assert_int_equal(lines, 1);
}

static void test_bad_spec_changes_nothing(void **state)
{
	(void)state;
	assert_int_equal(gw_log_set_levels("info,sip=debug"), 0);
	assert_int_not_equal(gw_log_set_levels("warn,mg=loud"), 0);
	assert_int_equal(gw_log_get_level("sip"), GW_LOG_DEBUG);
	assert_int_equal(gw_log_get_level("other"), GW_LOG_INFO);
	assert_int_not_equal(gw_log_set_levels("=debug"), 0);
}

static void test_json(void **state)
{
	json_t *j;

	(void)state;
	gw_log_set_levels("info,sip=warn");
	j = gw_log_levels_json();
	assert_string_equal(json_string_value(json_object_get(j, "default")),
			    "info");
	assert_string_equal(json_string_value(json_object_get(j, "sip")),
			    "warn");
	json_decref(j);
}

static void test_trailing_newline_stripped(void **state)
{
	(void)state;
	gw_log_set_levels("debug");
	gw_log(GW_LOG_INFO, "pri", "q921 up\n");
	assert_string_equal(last, "info pri q921 up");
}

static void test_rate_limit(void **state)
{
	int i;

	(void)state;
	gw_log_set_levels("info");
	for (i = 0; i < 1000; i++)
		GW_LOG_LIMITED(GW_LOG_WARN, "bad RTP from %d", i);
	assert_int_equal(lines, 1);
	assert_string_equal(last, "warn sip bad RTP from 0");
}

static void test_level_names(void **state)
{
	enum gw_log_level l;

	(void)state;
	assert_int_equal(gw_log_level_parse("WARNING", &l), 0);
	assert_int_equal(l, GW_LOG_WARN);
	assert_int_equal(gw_log_level_parse("chatty", &l), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_levels_per_module, setup),
		cmocka_unit_test_setup(test_bad_spec_changes_nothing, setup),
		cmocka_unit_test_setup(test_json, setup),
		cmocka_unit_test_setup(test_trailing_newline_stripped, setup),
		cmocka_unit_test_setup(test_rate_limit, setup),
		cmocka_unit_test_setup(test_level_names, setup),
	};

	return cmocka_run_group_tests_name("core_log", tests, NULL, NULL);
}
