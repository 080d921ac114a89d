/* tests/unit/test_gw_conf.c - the gateway's config schema and shipped configs */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "gateway/gw.h"

static char err[4096];

static struct gw_conf *load(const char *text)
{
	struct gw_conf *conf = NULL;

	err[0] = '\0';
	if (gw_conf_load_str(&conf, "t.conf", text, gw_conf_schema, err,
			     sizeof(err)))
		return NULL;
	return conf;
}

static void test_defaults(void **state)
{
	struct gw_conf *conf;
	char *p;

	(void)state;
	unsetenv("JUNCTION_RUNDIR");
	conf = load("");
	assert_non_null(conf);
	assert_string_equal(gw_conf_general(conf)->rundir,
			    "/tmp/junction-demo");
	assert_string_equal(gw_conf_general(conf)->log_level, "info");
	assert_true(gw_conf_mg(conf)->local);
	assert_int_equal(gw_conf_mg(conf)->restart_min_ms, 500);
	p = gw_conf_runpath(conf, gw_conf_junctiond(conf)->socket);
	assert_string_equal(p, "/tmp/junction-demo/junctiond.sock");
	gw_mem_deref(p);
	p = gw_conf_runpath(conf, "/run/x.sock");
	assert_string_equal(p, "/run/x.sock");
	gw_mem_deref(p);
	gw_mem_deref(conf);
}

static void test_rundir_from_environment(void **state)
{
	struct gw_conf *conf;

	(void)state;
	setenv("JUNCTION_RUNDIR", "/var/tmp/jx", 1);
	conf = load("[general]\nrundir = ${JUNCTION_RUNDIR:-/nope}\n");
	unsetenv("JUNCTION_RUNDIR");
	assert_non_null(conf);
	assert_string_equal(gw_conf_general(conf)->rundir, "/var/tmp/jx");
	gw_mem_deref(conf);
}

static void test_bad_log_level(void **state)
{
	(void)state;
	assert_null(load("\n[general]\nlog_level = info,sip=loud\n"));
	assert_non_null(strstr(err, "t.conf:2:"));
	assert_non_null(strstr(err, "sip=loud"));
}

static void test_backoff_order(void **state)
{
	(void)state;
	assert_null(load("[mg]\nrestart_min_ms = 5000\n"
			 "restart_max_ms = 1000\n"));
	assert_non_null(strstr(err, "t.conf:1:"));
	assert_non_null(strstr(err, "restart_max_ms"));
}

static void test_shipped_configs_load(void **state)
{
	const char *src = getenv("JUNCTION_SRCDIR");
	const char *files[] = {"etc/demo.conf", "etc/junction.conf"};
	char path[4096];
	size_t i;

	(void)state;
	for (i = 0; i < GW_ARRAY_SIZE(files); i++) {
		struct gw_conf *conf = NULL;

		snprintf(path, sizeof(path), "%s/%s", src ? src : ".",
			 files[i]);
		if (gw_conf_read(&conf, path, err, sizeof(err)))
			fail_msg("%s", err);
		gw_mem_deref(conf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_defaults),
		UNIT_TEST(test_rundir_from_environment),
		UNIT_TEST(test_bad_log_level),
		UNIT_TEST(test_backoff_order),
		UNIT_TEST(test_shipped_configs_load),
	};

	return cmocka_run_group_tests_name("gw_conf", tests, NULL, NULL);
}
