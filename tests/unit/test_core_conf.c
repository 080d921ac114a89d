/* tests/unit/test_core_conf.c - INI config: types, defaults, errors, reload */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

/* A sample schema: one single section, one .multi section, every type. */

struct sip_conf {
	char *host;
	long long port;
	int transport;
	bool debug;
	long long mask;
	char *domain;
};

struct trunk_conf {
	char *host;
	long long port;
	int codec;
	bool enabled;
	long long channels;
};

enum { TR_UDP, TR_TCP, TR_TLS };
enum { CODEC_PCMA, CODEC_PCMU, CODEC_G729 };

static const char *const transports[] = { "udp", "tcp", "tls", NULL };
static const char *const codecs[] = { "pcma", "pcmu", "g729", NULL };

static const struct gw_conf_key sip_keys[] = {
	{ .name = "host", .type = GW_CONF_STR,
	  .off = offsetof(struct sip_conf, host), .def = "0.0.0.0",
	  .max = 64, .flags = GW_CONF_RELOAD,
	  .help = "Address to listen on." },
	{ .name = "port", .type = GW_CONF_INT,
	  .off = offsetof(struct sip_conf, port), .def = "5060",
	  .min = 1, .max = 65535, .help = "Port to listen on." },
	{ .name = "transport", .type = GW_CONF_ENUM,
	  .off = offsetof(struct sip_conf, transport), .def = "udp",
	  .names = transports, .help = "Transport protocol." },
	{ .name = "debug", .type = GW_CONF_BOOL,
	  .off = offsetof(struct sip_conf, debug), .def = "no",
	  .flags = GW_CONF_RELOAD, .help = "Trace SIP messages." },
	{ .name = "mask", .type = GW_CONF_INT,
	  .off = offsetof(struct sip_conf, mask), .def = "0x10",
	  .flags = GW_CONF_RELOAD, .help = "Any integer at all." },
	{ .name = "domain", .type = GW_CONF_STR,
	  .off = offsetof(struct sip_conf, domain),
	  .def = "${JCT_TEST_DOMAIN:-example.net}", .flags = GW_CONF_RELOAD,
	  .help = "SIP domain.\nTaken from the environment if set." },
	{ .name = NULL },
};

static const struct gw_conf_key trunk_keys[] = {
	{ .name = "host", .type = GW_CONF_STR,
	  .off = offsetof(struct trunk_conf, host), .flags = GW_CONF_REQUIRED,
	  .help = "The carrier's SIP proxy." },
	{ .name = "port", .type = GW_CONF_INT,
	  .off = offsetof(struct trunk_conf, port), .def = "5060",
	  .min = 1, .max = 65535, .flags = GW_CONF_RELOAD },
	{ .name = "codec", .type = GW_CONF_ENUM,
	  .off = offsetof(struct trunk_conf, codec), .def = "pcma",
	  .names = codecs, .flags = GW_CONF_RELOAD },
	{ .name = "enabled", .type = GW_CONF_BOOL,
	  .off = offsetof(struct trunk_conf, enabled), .def = "yes",
	  .flags = GW_CONF_RELOAD },
	{ .name = "channels", .type = GW_CONF_INT,
	  .off = offsetof(struct trunk_conf, channels), .def = "30",
	  .min = 1, .max = 30, .flags = GW_CONF_RELOAD },
	{ .name = NULL },
};

static int trunk_check(void *data, const char *label, char *err,
		       size_t errlen)
{
	struct trunk_conf *t = data;

	assert_non_null(label);
	if (t->codec == CODEC_G729 && t->channels > 10) {
		snprintf(err, errlen, "g729 allows at most 10 channels");
		return EINVAL;
	}
	return 0;
}

static const struct gw_conf_section schema[] = {
	{ .name = "sip", .size = sizeof(struct sip_conf), .keys = sip_keys,
	  .help = "SIP signalling." },
	{ .name = "trunk", .multi = true, .size = sizeof(struct trunk_conf),
	  .keys = trunk_keys, .help = "A SIP trunk to a carrier.",
	  .check = trunk_check },
	{ .name = NULL },
};

/* Load text as "t.ini"; on failure confp must stay untouched. */
static int load(struct gw_conf **confp, const char *text, char *err,
		size_t errlen)
{
	struct gw_conf *sentinel = (struct gw_conf *)(uintptr_t)1;
	int rc;

	*confp = sentinel;
	rc = gw_conf_load_str(confp, "t.ini", text, schema, err, errlen);
	if (rc) {
		assert_ptr_equal(*confp, sentinel);
		*confp = NULL;
	} else {
		assert_ptr_not_equal(*confp, sentinel);
	}
	return rc;
}

/* text must fail with EINVAL and exactly the error lines expect. */
static void expect_error(const char *text, const char *expect)
{
	struct gw_conf *conf;
	char err[2048];

	assert_int_equal(load(&conf, text, err, sizeof(err)), EINVAL);
	assert_string_equal(err, expect);
}

static void test_defaults(void **state)
{
	const struct sip_conf *sip;
	struct gw_conf *conf;
	char err[256], where[64];

	(void)state;
	unsetenv("JCT_TEST_DOMAIN");
	assert_int_equal(load(&conf, "", err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(gw_conf_path(conf), "t.ini");
	sip = gw_conf_get(conf, "sip", NULL);
	assert_non_null(sip);
	assert_string_equal(sip->host, "0.0.0.0");
	assert_int_equal(sip->port, 5060);
	assert_int_equal(sip->transport, TR_UDP);
	assert_false(sip->debug);
	assert_int_equal(sip->mask, 16);
	assert_string_equal(sip->domain, "example.net");
	assert_null(gw_conf_nth(conf, "trunk", 0, NULL));
	assert_null(gw_conf_get(conf, "trunk", "a"));
	assert_null(gw_conf_get(conf, "sip", "x"));
	assert_null(gw_conf_get(conf, "nope", NULL));
	assert_string_equal(gw_conf_where(conf, "sip", NULL, "port", where,
					  sizeof(where)), "t.ini");
	gw_mem_deref(conf);
}

static void test_values(void **state)
{
	const struct sip_conf *sip;
	const struct trunk_conf *t;
	const char *label = "x";
	struct gw_conf *conf;
	char err[256], where[64];

	(void)state;
	assert_int_equal(load(&conf,
			      "; a comment\n"
			      "# another\n"
			      "[sip]\n"
			      "host = 192.0.2.1 ; inline comment\n"
			      "  port=0x13c4\n"
			      "transport = TLS\n"
			      "debug = On\n"
			      "mask = -42\n"
			      "\n"
			      "[trunk carrier-a]\n"
			      "host = sip.a.example\n"
			      "codec = G729\n"
			      "channels = 10\n"
			      "enabled = 0\n"
			      "[trunk b]\r\n"
			      "host: sip.b.example\r\n",
			      err, sizeof(err)), 0);
	sip = gw_conf_get(conf, "sip", NULL);
	assert_string_equal(sip->host, "192.0.2.1");
	assert_int_equal(sip->port, 5060);
	assert_int_equal(sip->transport, TR_TLS);
	assert_true(sip->debug);
	assert_int_equal(sip->mask, -42);

	t = gw_conf_nth(conf, "trunk", 0, &label);
	assert_non_null(t);
	assert_string_equal(label, "carrier-a");
	assert_string_equal(t->host, "sip.a.example");
	assert_int_equal(t->codec, CODEC_G729);
	assert_int_equal(t->channels, 10);
	assert_false(t->enabled);
	assert_int_equal(t->port, 5060);
	t = gw_conf_nth(conf, "trunk", 1, &label);
	assert_non_null(t);
	assert_string_equal(label, "b");
	assert_string_equal(t->host, "sip.b.example");
	assert_true(t->enabled);
	assert_ptr_equal(gw_conf_get(conf, "trunk", "b"), t);
	assert_null(gw_conf_nth(conf, "trunk", 2, &label));
	assert_non_null(gw_conf_nth(conf, "sip", 0, &label));
	assert_null(label);

	assert_string_equal(gw_conf_where(conf, "sip", NULL, NULL, where,
					  sizeof(where)), "t.ini:3");
	assert_string_equal(gw_conf_where(conf, "sip", NULL, "port", where,
					  sizeof(where)), "t.ini:5");
	assert_string_equal(gw_conf_where(conf, "trunk", "b", "port", where,
					  sizeof(where)), "t.ini:15");
	assert_null(gw_conf_where(conf, "trunk", "c", NULL, where,
				  sizeof(where)));
	assert_null(gw_conf_where(conf, "sip", NULL, "nope", where,
				  sizeof(where)));
	gw_mem_deref(conf);
}

static void test_unknown_key(void **state)
{
	(void)state;
	expect_error("[sip]\nport = 5060\nprot = udp\n",
		     "t.ini:3: unknown key 'prot' in [sip]");
	expect_error("[trunk a]\nhost = h\nhots = h\n",
		     "t.ini:3: unknown key 'hots' in [trunk a]");
	expect_error("port = 1\n", "t.ini:1: 'port' is outside any section");
}

static void test_unknown_section(void **state)
{
	(void)state;
	/* Its keys are not reported again. */
	expect_error("[sip]\n[sipp]\nport = 1\nfoo = 2\n",
		     "t.ini:2: unknown section [sipp]");
}

static void test_sections(void **state)
{
	(void)state;
	expect_error("[trunk]\nhost = h\n",
		     "t.ini:1: [trunk] needs a label, as in [trunk 1]");
	expect_error("[sip main]\n", "t.ini:1: [sip] takes no label");
	expect_error("[trunk a b]\n", "t.ini:1: [trunk a b]: a label is one "
		     "word");
	expect_error("[trunk a]\nhost = x\n[trunk b]\nhost = y\n"
		     "[trunk a]\nhost = z\n",
		     "t.ini:5: [trunk a] appears twice (first at line 1)");
	expect_error("[sip]\n[sip]\n",
		     "t.ini:2: [sip] appears twice (first at line 1)");
	expect_error("[sip\nport = 1\n",
		     "t.ini:1: missing ']' in section header");
	expect_error("[sip] x\n", "t.ini:1: junk after ']'");
	expect_error("[ ]\n", "t.ini:1: empty section name");
}

static void test_syntax(void **state)
{
	struct gw_conf *conf;
	char text[512], err[256];

	(void)state;
	expect_error("[sip]\nport\n", "t.ini:2: expected 'key = value'");
	/* A UTF-8 BOM is skipped on line 1 only. */
	assert_int_equal(load(&conf, "\xef\xbb\xbf[sip]\nport = 5\n", err,
			      sizeof(err)), 0);
	gw_mem_deref(conf);
	expect_error("[sip]\n\xef\xbb\xbfport = 5\n",
		     "t.ini:2: unknown key '\xef\xbb\xbfport' in [sip]");
	expect_error("[sip]\n = 5\n", "t.ini:2: missing key name");
	memset(text, 'a', sizeof(text));
	memcpy(text, "[sip]\nhost = ", 13);
	text[sizeof(text) - 1] = '\0';
	expect_error(text, "t.ini:2: line longer than 198 characters");
}

static void test_bad_int(void **state)
{
	(void)state;
	expect_error("[sip]\nport = abc\n",
		     "t.ini:2: port: 'abc' is not an integer");
	expect_error("[sip]\nport = 12x\n",
		     "t.ini:2: port: '12x' is not an integer");
	expect_error("[sip]\nport = 0x\n",
		     "t.ini:2: port: '0x' is not an integer");
	expect_error("[sip]\nport =\n",
		     "t.ini:2: port: '' is not an integer");
	expect_error("[sip]\nmask = 99999999999999999999\n",
		     "t.ini:2: mask: '99999999999999999999' is too large");
}

static void test_int_limits(void **state)
{
	const struct sip_conf *sip;
	struct gw_conf *conf;
	char err[256];

	(void)state;
	/* No bounds on mask: the whole long long range. */
	assert_int_equal(load(&conf, "[sip]\nmask = -9223372036854775808\n",
			      err, sizeof(err)), 0);
	sip = gw_conf_get(conf, "sip", NULL);
	assert_true(sip->mask == -9223372036854775807LL - 1);
	gw_mem_deref(conf);
	assert_int_equal(load(&conf, "[sip]\nmask = 0x7fffffffffffffff\n",
			      err, sizeof(err)), 0);
	sip = gw_conf_get(conf, "sip", NULL);
	assert_true(sip->mask == 9223372036854775807LL);
	gw_mem_deref(conf);
	/* Leading zeros are decimal, not octal. */
	assert_int_equal(load(&conf, "[sip]\nport = 0080\n", err,
			      sizeof(err)), 0);
	sip = gw_conf_get(conf, "sip", NULL);
	assert_int_equal(sip->port, 80);
	gw_mem_deref(conf);
}

static void test_out_of_bounds(void **state)
{
	(void)state;
	expect_error("[sip]\nport = 70000\n",
		     "t.ini:2: port = 70000 is out of range 1..65535");
	expect_error("[sip]\nport = 0\n",
		     "t.ini:2: port = 0 is out of range 1..65535");
	expect_error("[trunk a]\nhost = h\nchannels = 31\n",
		     "t.ini:3: channels = 31 is out of range 1..30");
	expect_error("[sip]\nhost = 0123456789012345678901234567890123456789"
		     "01234567890123456789012345\n",
		     "t.ini:2: host: longer than 64 characters");
}

static void test_bad_bool(void **state)
{
	(void)state;
	expect_error("[sip]\ndebug = maybe\n",
		     "t.ini:2: debug: 'maybe' is not a boolean (yes/no, "
		     "true/false, on/off, 1/0)");
}

static void test_bad_enum(void **state)
{
	(void)state;
	expect_error("[sip]\ntransport = sctp\n",
		     "t.ini:2: transport: 'sctp' must be one of udp, tcp, tls");
}

static void test_duplicate_key(void **state)
{
	(void)state;
	expect_error("[sip]\nport = 5060\n\nport = 5061\n",
		     "t.ini:4: 'port' set twice (first at line 2)");
}

static void test_missing_file(void **state)
{
	struct gw_conf *conf = NULL;
	char err[256];

	(void)state;
	assert_int_equal(gw_conf_load(&conf, "/nonexistent/junction.conf",
				      schema, err, sizeof(err)), ENOENT);
	assert_null(conf);
	assert_string_equal(err, "/nonexistent/junction.conf: cannot open: "
			    "No such file or directory");
}

static void test_file(void **state)
{
	char path[] = "/tmp/test_core_conf.XXXXXX", err[256], expect[512];
	const char *text = "[sip]\nport = 5070\n[trunk a]\nhost = h\n";
	const struct sip_conf *sip;
	struct gw_conf *conf;
	int fd;
	FILE *f;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fputs("bogus = 1\n", f);
	fwrite("a = \0\n", 1, 6, f);
	fclose(f);
	assert_int_equal(gw_conf_load(&conf, path, schema, err, sizeof(err)),
			 EINVAL);
	snprintf(expect, sizeof(expect), "%s:5: unknown key 'bogus' in "
		 "[trunk a]\n%s:6: NUL byte in line", path, path);
	assert_string_equal(err, expect);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(gw_conf_load(&conf, path, schema, err, sizeof(err)),
			 0);
	assert_string_equal(gw_conf_path(conf), path);
	sip = gw_conf_get(conf, "sip", NULL);
	assert_int_equal(sip->port, 5070);
	gw_mem_deref(conf);
	unlink(path);

	/* A directory opens but does not read. */
	assert_int_equal(gw_conf_load(&conf, "/tmp", schema, err,
				      sizeof(err)), EISDIR);
	assert_string_equal(err, "/tmp: cannot read: Is a directory");
}

static void test_required(void **state)
{
	(void)state;
	expect_error("\n[trunk a]\nport = 5070\n",
		     "t.ini:2: 'host' in [trunk a] is required");
}

static void test_check_hook(void **state)
{
	struct gw_conf *conf;
	char err[256];

	(void)state;
	expect_error("[trunk a]\nhost = x\ncodec = g729\nchannels = 20\n"
		     "[trunk b]\nhost = y\n",
		     "t.ini:1: [trunk a]: g729 allows at most 10 channels");
	/* Not run on a section with a bad key: one error is enough. */
	expect_error("[trunk a]\nhost = x\ncodec = g729\nchannels = 40\n",
		     "t.ini:4: channels = 40 is out of range 1..30");
	assert_int_equal(load(&conf, "[trunk a]\nhost = x\ncodec = g729\n"
			      "channels = 10\n", err, sizeof(err)), 0);
	gw_mem_deref(conf);
}

static void test_env(void **state)
{
	const struct sip_conf *sip;
	struct gw_conf *conf;
	char err[256];

	(void)state;
	unsetenv("JCT_TEST_UNSET");
	setenv("JCT_TEST_DOMAIN", "env.example", 1);
	setenv("JCT_TEST_PORT", "5080", 1);
	setenv("JCT_TEST_EMPTY", "", 1);
	assert_int_equal(load(&conf, "[sip]\n"
			      "port = ${JCT_TEST_PORT}\n"
			      "host = ${JCT_TEST_UNSET:-10.0.0.1}\n",
			      err, sizeof(err)), 0);
	sip = gw_conf_get(conf, "sip", NULL);
	assert_int_equal(sip->port, 5080);
	assert_string_equal(sip->host, "10.0.0.1");
	assert_string_equal(sip->domain, "env.example");	/* default */
	gw_mem_deref(conf);

	assert_int_equal(load(&conf, "[sip]\n"
			      "host = $$a$b${JCT_TEST_EMPTY:-c}"
			      "${JCT_TEST_EMPTY}$\n"
			      "domain = x.${JCT_TEST_DOMAIN}."
			      "${JCT_TEST_PORT}\n",
			      err, sizeof(err)), 0);
	sip = gw_conf_get(conf, "sip", NULL);
	assert_string_equal(sip->host, "$a$bc$");
	assert_string_equal(sip->domain, "x.env.example.5080");
	gw_mem_deref(conf);
	unsetenv("JCT_TEST_DOMAIN");
	unsetenv("JCT_TEST_PORT");
	unsetenv("JCT_TEST_EMPTY");

	expect_error("[sip]\nhost = ${JCT_TEST_UNSET}\n",
		     "t.ini:2: host: ${JCT_TEST_UNSET} is not set");
	expect_error("[sip]\nhost = ${JCT_TEST_UNSET\n",
		     "t.ini:2: host: unterminated '${'");
	expect_error("[sip]\nhost = ${1X}\n",
		     "t.ini:2: host: bad variable reference '${1X}'");
	expect_error("[sip]\nhost = ${X-y}\n",
		     "t.ini:2: host: bad variable reference '${X-y}'");
}

static void test_many_errors(void **state)
{
	struct gw_conf *conf;
	char text[2048], err[4096], small[24];
	size_t off = 0;
	int i;

	(void)state;
	expect_error("[sip]\n"
		     "port = 70000\n"
		     "prot = udp\n"
		     "debug = perhaps\n"
		     "[trunk a]\n"
		     "codec = gsm\n"
		     "[foo]\n"
		     "[trunk b]\n"
		     "host = h\n",
		     "t.ini:2: port = 70000 is out of range 1..65535\n"
		     "t.ini:3: unknown key 'prot' in [sip]\n"
		     "t.ini:4: debug: 'perhaps' is not a boolean (yes/no, "
		     "true/false, on/off, 1/0)\n"
		     "t.ini:6: codec: 'gsm' must be one of pcma, pcmu, g729\n"
		     "t.ini:5: 'host' in [trunk a] is required\n"
		     "t.ini:7: unknown section [foo]");

	/* More than 20: the rest are counted, not listed. */
	off = (size_t)snprintf(text, sizeof(text), "[sip]\n");
	for (i = 0; i < 25; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"k%d = 1\n", i);
	assert_int_equal(load(&conf, text, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "t.ini:21: unknown key 'k19' in [sip]\n"
			       "...and more"));
	assert_null(strstr(err, "k20"));
	assert_int_equal(err[strlen(err) - 1], 'e');

	/* A short buffer is cut, and still a string. */
	memset(small, 'x', sizeof(small));
	assert_int_equal(load(&conf, text, small, sizeof(small)), EINVAL);
	assert_string_equal(small, "t.ini:2: unknown key 'k");
	assert_int_equal(load(&conf, text, NULL, 0), EINVAL);
}

/* Load text as name, asserting success. */
static struct gw_conf *load_ok(const char *name, const char *text)
{
	struct gw_conf *conf = NULL;
	char err[1024];

	if (gw_conf_load_str(&conf, name, text, schema, err, sizeof(err)))
		fail_msg("%s", err);
	return conf;
}

static void test_keep_restart_keys(void **state)
{
	struct gw_conf *old, *new;
	const struct sip_conf *sip;
	const struct trunk_conf *t;
	char warn[1024];

	(void)state;
	old = load_ok("old.ini", "[sip]\nport = 5060\ndebug = no\n"
		      "[trunk a]\nhost = a.example\nport = 5060\n"
		      "[trunk b]\nhost = b.example\n");
	new = load_ok("new.ini", "[sip]\ndebug = yes\nport = 5070\n"
		      "transport = tcp\n"
		      "[trunk a]\nport = 5061\nhost = a2.example\n"
		      "[trunk c]\nhost = c.example\n");
	assert_int_equal(gw_conf_keep_restart_keys(new, old, warn,
						   sizeof(warn)), 3);
	assert_string_equal(warn,
			    "new.ini:3: 'port' in [sip] changes only on "
			    "restart; keeping the running value\n"
			    "new.ini:4: 'transport' in [sip] changes only on "
			    "restart; keeping the running value\n"
			    "new.ini:7: 'host' in [trunk a] changes only on "
			    "restart; keeping the running value");
	sip = gw_conf_get(new, "sip", NULL);
	assert_int_equal(sip->port, 5060);		/* kept */
	assert_int_equal(sip->transport, TR_UDP);	/* kept */
	assert_true(sip->debug);			/* reloaded */
	t = gw_conf_get(new, "trunk", "a");
	assert_string_equal(t->host, "a.example");	/* kept */
	assert_int_equal(t->port, 5061);		/* reloaded */

	/* Each config still frees its own; the old one goes first. */
	gw_mem_deref(old);
	assert_string_equal(t->host, "a.example");
	assert_int_equal(gw_conf_keep_restart_keys(new, new, warn,
						   sizeof(warn)), 0);
	assert_string_equal(warn, "");
	gw_mem_deref(new);
}

static void test_dump(void **state)
{
	struct gw_conf *conf;
	char *buf = NULL, err[1024];
	size_t len = 0;
	FILE *f;

	(void)state;
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	gw_conf_dump(schema, f);
	fclose(f);
	assert_non_null(strstr(buf, "; SIP signalling.\n[sip]\n"));
	assert_non_null(strstr(buf, "; Port to listen on.\n"
			       "; integer 1..65535; needs a restart\n"
			       ";port = 5060\n"));
	assert_non_null(strstr(buf, "; one of udp, tcp, tls; needs a "
			       "restart\n;transport = udp\n"));
	assert_non_null(strstr(buf, "; SIP domain.\n; Taken from the "
			       "environment if set.\n"));
	assert_non_null(strstr(buf, "; string; required; needs a restart\n"
			       ";host =\n"));
	assert_non_null(strstr(buf, ";[trunk 1]\n"));
	assert_int_equal(gw_conf_load_str(&conf, "dump", buf, schema, err,
					  sizeof(err)), 0);
	gw_mem_deref(conf);
	free(buf);
}

/* Every allocation of a load fails in turn: ENOMEM, no leak, no crash. */
static void test_enomem(void **state)
{
	const char *text = "[sip]\nhost = ${JCT_TEST_UNSET:-h}\nport = 1\n"
		"[trunk a]\nhost = a\n[trunk b]\nhost = b\nchannels = 2\n";
	struct gw_conf *conf;
	size_t live = gw_mem_live();
	char err[256];
	long n;
	int rc;

	(void)state;
	unsetenv("JCT_TEST_UNSET");
	for (n = 0;; n++) {
		conf = NULL;
		gw_mem_fail_after(n);
		rc = gw_conf_load_str(&conf, "t.ini", text, schema, err,
				      sizeof(err));
		gw_mem_fail_after(-1);
		if (!rc)
			break;
		assert_int_equal(rc, ENOMEM);
		assert_null(conf);
		assert_string_equal(err, "t.ini: Cannot allocate memory");
		assert_int_equal(gw_mem_live(), live);
	}
	assert_true(n > 10);
	assert_non_null(gw_conf_get(conf, "trunk", "b"));
	gw_mem_deref(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_defaults),
		UNIT_TEST(test_values),
		UNIT_TEST(test_unknown_key),
		UNIT_TEST(test_unknown_section),
		UNIT_TEST(test_sections),
		UNIT_TEST(test_syntax),
		UNIT_TEST(test_bad_int),
		UNIT_TEST(test_int_limits),
		UNIT_TEST(test_out_of_bounds),
		UNIT_TEST(test_bad_bool),
		UNIT_TEST(test_bad_enum),
		UNIT_TEST(test_duplicate_key),
		UNIT_TEST(test_missing_file),
		UNIT_TEST(test_file),
		UNIT_TEST(test_required),
		UNIT_TEST(test_check_hook),
		UNIT_TEST(test_env),
		UNIT_TEST(test_many_errors),
		UNIT_TEST(test_keep_restart_keys),
		UNIT_TEST(test_dump),
		UNIT_TEST(test_enomem),
	};

	return cmocka_run_group_tests_name("core_conf", tests, NULL, NULL);
}
