/* tests/unit/test_gw_route.c - the dial plan: matching, rewriting, hunting */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "gateway/gw.h"
#include "gateway/route.h"

static char err[4096];

/* Two E1 spans and a T1, the groups and trunks the routes below use. */
static const char base[] =
	"[span 1]\n"
	"[span 2]\n"
	"[span 3]\n"
	"type = t1\n"
	"switchtype = national\n"
	"[group pri]\n"
	"spans = 1,2\n"
	"[group t1]\n"
	"spans = 3\n"
	"[trunk carrier]\n"
	"host = 192.0.2.10\n"
	"failover = backup, spare\n"
	"[trunk backup]\n"
	"host = 2001:db8::10\n"
	"port = 5070\n"
	"transport = tcp\n"
	"[trunk spare]\n"
	"host = 192.0.2.11\n";

static struct gw_conf *conf_of(const char *routes)
{
	struct gw_conf *conf = NULL;
	char *text = gw_mem_printf("%s%s", base, routes);

	err[0] = '\0';
	if (gw_conf_load_str(&conf, "t.conf", text, gw_conf_schema, err,
			     sizeof(err)))
		conf = NULL;
	gw_mem_deref(text);
	return conf;
}

static struct gw_dialplan *plan_of(const char *routes)
{
	struct gw_conf *conf = conf_of(routes);
	struct gw_dialplan *plan = NULL;

	if (!conf)
		fail_msg("config: %s", err);
	if (gw_dialplan_compile(&plan, conf, err, sizeof(err)))
		fail_msg("compile: %s", err);
	gw_mem_deref(conf);	/* the plan keeps its own reference */
	return plan;
}

static void req_span(struct gw_route_req *req, unsigned span,
		     const char *called, enum gw_ton ton)
{
	memset(req, 0, sizeof(*req));
	req->src = GW_ROUTE_FROM_SPAN;
	req->span = span;
	snprintf(req->called.digits, sizeof(req->called.digits), "%s",
		 called);
	req->called.ton = ton;
	req->called.npi = GW_NPI_ISDN;
}

static void req_sip(struct gw_route_req *req, struct sockaddr_storage *ss,
		    const char *ip, const char *called)
{
	memset(req, 0, sizeof(*req));
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		ss->ss_family = AF_INET6;
		inet_pton(AF_INET6, ip,
			  &((struct sockaddr_in6 *)ss)->sin6_addr);
	} else {
		ss->ss_family = AF_INET;
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)ss)->sin_addr);
	}
	req->src = GW_ROUTE_FROM_SIP;
	req->addr = (struct sockaddr *)ss;
	snprintf(req->called.digits, sizeof(req->called.digits), "%s",
		 called);
}

/* The rule a called number from span 1 takes, or "-" for none. */
static const char *rule_for(const struct gw_dialplan *plan,
			    const char *called)
{
	static struct gw_route_result res;
	struct gw_route_req req;

	req_span(&req, 1, called, GW_TON_UNKNOWN);
	if (gw_route_lookup(plan, &req, &res))
		return "-";
	return res.rule;
}

/*
 * Order: priority, then prefixes (longest first) before regular
 * expressions before "any", then file order.
 */
static void test_match_order(void **state)
{
	struct gw_dialplan *plan;

	(void)state;
	plan = plan_of("[route intl]\nmatch = 00\ntarget = group:pri\n"
		       "[route re_intl]\nmatch = re:^00[1-9]\n"
		       "target = trunk:carrier\n"
		       "[route de]\nmatch = 0049\ntarget = group:t1\n"
		       "[route vip]\nmatch = re:^0049301\npriority = 10\n"
		       "target = user:alice\n"
		       "[route svc]\nmatch = re:^1[0-9]{2}$\n"
		       "target = user:svc\n"
		       "[route svc2]\nmatch = re:^11\ntarget = user:svc2\n"
		       "[route rest]\nmatch = any\ntarget = trunk:carrier\n");
	assert_int_equal(gw_dialplan_rules(plan), 7);
	assert_string_equal(rule_for(plan, "00493099"), "de");	/* longest */
	assert_string_equal(rule_for(plan, "0033123"), "intl"); /* prefix
								 * before re */
	assert_string_equal(rule_for(plan, "004930155"), "vip"); /* priority */
	assert_string_equal(rule_for(plan, "112"), "svc");	/* re, file
								 * order */
	assert_string_equal(rule_for(plan, "1123"), "svc2");
	assert_string_equal(rule_for(plan, "1234"), "rest");	/* any last */
	gw_mem_deref(plan);
}

static void test_prefix_and_regex(void **state)
{
	struct gw_dialplan *plan;

	(void)state;
	plan = plan_of("[route mobile]\nmatch = re:^01[5-7][0-9]{8,9}$\n"
		       "target = group:pri\n"
		       "[route emerg]\nmatch = 112\ntarget = group:t1\n");
	assert_string_equal(rule_for(plan, "015112345678"), "mobile");
	assert_string_equal(rule_for(plan, "0181234567890"), "-");
	assert_string_equal(rule_for(plan, "01511234567890"), "-");
	assert_string_equal(rule_for(plan, "112"), "emerg");
	assert_string_equal(rule_for(plan, "1123"), "emerg");	/* a prefix */
	assert_string_equal(rule_for(plan, "11"), "-");
	gw_mem_deref(plan);
}

static void test_source(void **state)
{
	struct gw_dialplan *plan;
	struct gw_route_result res;
	struct gw_route_req req;
	struct sockaddr_storage ss;

	(void)state;
	plan = plan_of("[route s1]\nmatch = 7\nfrom = span:1,3\n"
		       "target = user:a\n"
		       "[route g]\nmatch = 7\nfrom = group:pri\n"
		       "target = user:b\n"
		       "[route carrier]\nmatch = 7\nfrom = trunk:carrier\n"
		       "target = group:pri\n"
		       "[route net]\nmatch = 7\n"
		       "from = addr:198.51.100.0/25 addr:2001:db8:1::/48\n"
		       "target = group:t1\n");
	req_span(&req, 1, "7000", GW_TON_UNKNOWN);
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_string_equal(res.rule, "s1");
	req.span = 2;
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_string_equal(res.rule, "g");
	req.span = 3;
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_string_equal(res.rule, "s1");

	/* A SIP source: by trunk name, by the trunk's address, by CIDR. */
	req_sip(&req, &ss, "203.0.113.1", "7000");
	req.trunk = "carrier";
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_string_equal(res.rule, "carrier");
	req_sip(&req, &ss, "192.0.2.10", "7000");
	assert_string_equal(gw_dialplan_trunk_by_addr(plan, req.addr),
			    "carrier");
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_string_equal(res.rule, "carrier");
	assert_int_equal(res.kind, GW_TARGET_GROUP);
	assert_ptr_equal(res.group, gw_dialplan_group(plan, "pri"));
	req_sip(&req, &ss, "198.51.100.127", "7000");
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_string_equal(res.rule, "net");
	req_sip(&req, &ss, "198.51.100.128", "7000");
	assert_int_equal(gw_route_lookup(plan, &req, &res), ENOENT);
	req_sip(&req, &ss, "2001:db8:1:ffff::1", "7000");
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_string_equal(res.rule, "net");
	req_sip(&req, &ss, "2001:db8:2::1", "7000");
	assert_int_equal(gw_route_lookup(plan, &req, &res), ENOENT);
	assert_null(gw_dialplan_trunk_by_addr(plan, req.addr));
	req_sip(&req, &ss, "2001:db8::10", "7000");
	assert_string_equal(gw_dialplan_trunk_by_addr(plan, req.addr),
			    "backup");
	gw_mem_deref(plan);
}

static void test_targets(void **state)
{
	struct gw_dialplan *plan;
	struct gw_route_result res;
	struct gw_route_req req;

	(void)state;
	plan = plan_of("[route out]\nmatch = 9\ntarget = trunk:carrier\n"
		       "digits = 7\n"
		       "[route u]\nmatch = 8\ntarget = user:alice\n");
	req_span(&req, 1, "9123", GW_TON_UNKNOWN);
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_int_equal(res.digits, 7);	/* overlap: complete at 7 */
	assert_int_equal(res.kind, GW_TARGET_TRUNK);
	assert_string_equal(res.target, "carrier");
	assert_int_equal(res.ntrunks, 3);
	assert_string_equal(res.trunks[0], "carrier");
	assert_string_equal(res.trunks[1], "backup");
	assert_string_equal(res.trunks[2], "spare");
	req_span(&req, 1, "8", GW_TON_UNKNOWN);
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_int_equal(res.kind, GW_TARGET_USER);
	assert_string_equal(res.target, "alice");
	assert_int_equal(res.digits, 0);
	assert_null(res.group);
	gw_mem_deref(plan);
}

static void test_rewrite(void **state)
{
	struct gw_dialplan *plan;
	struct gw_route_result res;
	struct gw_route_req req;
	struct sockaddr_storage ss;

	(void)state;
	plan = plan_of(
		/* SIP -> PSTN: dialled national/international numbers to
		 * E.164 international. */
		"[route to_pstn]\nmatch = 0\nfrom = trunk:carrier\n"
		"called_format = international\ncalling_format = international\n"
		"country_code = 49\ntarget = group:pri\n"
		/* PSTN -> SIP: back to the dialled form. */
		"[route to_sip]\nmatch = any\nfrom = span:1\n"
		"called_format = unknown\ncalling_format = national\n"
		"country_code = 49\ntarget = trunk:carrier\n"
		/* strip and prepend, then a private plan. */
		"[route ext]\nmatch = 0049301\nfrom = span:2\nstrip = 7\n"
		"prepend = 55\nplan = private\ntarget = user:pbx\n");

	req_sip(&req, &ss, "192.0.2.10", "030123456");
	req.called.ton = GW_TON_UNKNOWN;
	snprintf(req.calling.digits, sizeof(req.calling.digits), "%s",
		 "0221999");
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_string_equal(res.called.digits, "4930123456");
	assert_int_equal(res.called.ton, GW_TON_INTERNATIONAL);
	assert_int_equal(res.called.npi, GW_NPI_ISDN);
	assert_string_equal(res.calling.digits, "49221999");
	assert_int_equal(res.calling.ton, GW_TON_INTERNATIONAL);

	req_sip(&req, &ss, "192.0.2.10", "00442071234567");
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_string_equal(res.called.digits, "442071234567");
	assert_int_equal(res.called.ton, GW_TON_INTERNATIONAL);

	/* And back: international of our country -> 0..., foreign -> 00... */
	req_span(&req, 1, "4930123456", GW_TON_INTERNATIONAL);
	snprintf(req.calling.digits, sizeof(req.calling.digits), "%s",
		 "49221999");
	req.calling.ton = GW_TON_INTERNATIONAL;
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_string_equal(res.rule, "to_sip");
	assert_string_equal(res.called.digits, "030123456");
	assert_int_equal(res.called.ton, GW_TON_UNKNOWN);
	assert_string_equal(res.calling.digits, "221999");
	assert_int_equal(res.calling.ton, GW_TON_NATIONAL);
	req_span(&req, 1, "30123456", GW_TON_NATIONAL);
	strcpy(req.calling.digits, "442071234567");
	req.calling.ton = GW_TON_INTERNATIONAL;
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_string_equal(res.called.digits, "030123456");
	assert_string_equal(res.calling.digits, "442071234567");
	assert_int_equal(res.calling.ton, GW_TON_INTERNATIONAL); /* foreign */
	req_span(&req, 1, "442071234567", GW_TON_INTERNATIONAL);
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_string_equal(res.called.digits, "00442071234567");
	/* A subscriber number has no prefix to add: as it came. */
	req_span(&req, 1, "123456", GW_TON_SUBSCRIBER);
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_string_equal(res.called.digits, "123456");
	assert_int_equal(res.called.ton, GW_TON_SUBSCRIBER);

	req_span(&req, 2, "004930155", GW_TON_UNKNOWN);
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_string_equal(res.called.digits, "5555");
	assert_int_equal(res.called.ton, GW_TON_UNKNOWN);
	assert_int_equal(res.called.npi, GW_NPI_PRIVATE);
	/* The request is not changed. */
	assert_string_equal(req.called.digits, "004930155");
	gw_mem_deref(plan);
}

static void test_no_route(void **state)
{
	struct gw_dialplan *plan;
	struct gw_route_result res;
	struct gw_route_req req;
	unsigned sip, q850;

	(void)state;
	plan = plan_of("[route de]\nmatch = 0049\nfrom = span:2\n"
		       "target = group:pri\n");
	req_span(&req, 1, "0049301", GW_TON_UNKNOWN);
	assert_int_equal(gw_route_lookup(plan, &req, &res), ENOENT);
	req_span(&req, 2, "0048", GW_TON_UNKNOWN);
	assert_int_equal(gw_route_lookup(plan, &req, &res), ENOENT);
	gw_route_fail_cause(ENOENT, &sip, &q850);
	assert_int_equal(sip, 404);
	assert_int_equal(q850, 1);
	gw_mem_deref(plan);

	/* An empty plan routes nothing. */
	plan = plan_of("");
	assert_int_equal(gw_dialplan_rules(plan), 0);
	assert_int_equal(gw_route_lookup(plan, &req, &res), ENOENT);
	gw_mem_deref(plan);
}

/* ---- Hunting -------------------------------------------------------- */

static bool busy_map[256][32];

static bool busy(unsigned span, unsigned ts, void *arg)
{
	(void)arg;
	return busy_map[span][ts];
}

static struct gw_dialplan *hunt_plan(const char *hunt, struct gw_hunt **hp)
{
	char *routes = gw_mem_printf("[group h]\nspans = 1,2\nhunt = %s\n",
				     hunt);
	struct gw_dialplan *plan = plan_of(routes);

	gw_mem_deref(routes);
	memset(busy_map, 0, sizeof(busy_map));
	*hp = gw_dialplan_group(plan, "h");
	assert_non_null(*hp);
	return plan;
}

static void pick(struct gw_hunt *h, unsigned span, unsigned ts)
{
	unsigned s = 0, t = 0;

	assert_int_equal(gw_hunt_pick(h, busy, NULL, &s, &t), 0);
	assert_int_equal(s, span);
	assert_int_equal(t, ts);
}

static void all_busy(unsigned span)
{
	unsigned ts;

	for (ts = 1; ts < 32; ts++)
		busy_map[span][ts] = true;
}

static void test_hunt_ascending(void **state)
{
	struct gw_hunt *h;
	struct gw_dialplan *plan = hunt_plan("ascending", &h);
	unsigned ts;

	(void)state;
	assert_int_equal(gw_hunt_strategy(h), GW_HUNT_ASCENDING);
	pick(h, 1, 1);
	pick(h, 1, 1);		/* stateless: the first free again */
	busy_map[1][1] = busy_map[1][2] = busy_map[1][3] = true;
	pick(h, 1, 4);
	for (ts = 1; ts <= 15; ts++)
		busy_map[1][ts] = true;
	pick(h, 1, 17);		/* 16 is the D-channel */
	all_busy(1);
	pick(h, 2, 1);
	gw_mem_deref(plan);
}

static void test_hunt_descending(void **state)
{
	struct gw_hunt *h;
	struct gw_dialplan *plan = hunt_plan("descending", &h);

	(void)state;
	pick(h, 2, 31);
	busy_map[2][31] = true;
	pick(h, 2, 30);
	busy_map[2][17] = true;
	all_busy(2);
	pick(h, 1, 31);
	all_busy(1);
	busy_map[1][15] = false;
	pick(h, 1, 15);
	gw_mem_deref(plan);
}

static void test_hunt_roundrobin(void **state)
{
	struct gw_hunt *h;
	struct gw_dialplan *plan = hunt_plan("roundrobin", &h);
	unsigned i, s, t;

	(void)state;
	pick(h, 1, 1);
	pick(h, 1, 2);		/* the next, even though 1 is free again */
	busy_map[1][3] = busy_map[1][4] = true;
	pick(h, 1, 5);
	/* Around both spans (60 channels) and back to the start. */
	for (i = 0; i < 55; i++)
		assert_int_equal(gw_hunt_pick(h, busy, NULL, &s, &t), 0);
	assert_int_equal(s, 2);
	assert_int_equal(t, 31);
	pick(h, 1, 1);
	all_busy(2);
	busy_map[1][2] = true;
	pick(h, 1, 5);		/* skips busy 1/2, 1/3, 1/4 */
	gw_mem_deref(plan);
}

static void test_hunt_leastused(void **state)
{
	struct gw_hunt *h;
	struct gw_dialplan *plan = hunt_plan("leastused", &h);
	unsigned ts;

	(void)state;
	pick(h, 1, 1);		/* a tie: the first listed span */
	for (ts = 1; ts <= 5; ts++)
		busy_map[1][ts] = true;
	busy_map[2][1] = busy_map[2][2] = busy_map[2][3] = true;
	pick(h, 2, 4);		/* span 2 has 3 busy, span 1 has 5 */
	for (ts = 4; ts <= 7; ts++)
		busy_map[2][ts] = true;
	pick(h, 1, 6);		/* now span 2 has 7 */
	all_busy(1);
	pick(h, 2, 8);		/* a full span is never chosen */
	gw_mem_deref(plan);
}

static void test_hunt_t1_and_no_free_channel(void **state)
{
	struct gw_dialplan *plan;
	struct gw_hunt *h;
	unsigned s = 7, t = 7, sip, q850;
	const char *const hunts[] = {
		"ascending", "descending", "roundrobin", "leastused",
	};
	size_t i;

	(void)state;
	plan = plan_of("");
	h = gw_dialplan_group(plan, "t1");
	memset(busy_map, 0, sizeof(busy_map));
	all_busy(3);
	busy_map[3][23] = false;
	pick(h, 3, 23);
	busy_map[3][23] = true;
	busy_map[3][24] = false;	/* the T1 D-channel: never offered */
	assert_int_equal(gw_hunt_pick(h, busy, NULL, &s, &t), EBUSY);
	gw_mem_deref(plan);

	for (i = 0; i < GW_ARRAY_SIZE(hunts); i++) {
		plan = hunt_plan(hunts[i], &h);
		all_busy(1);
		all_busy(2);
		s = t = 7;
		assert_int_equal(gw_hunt_pick(h, busy, NULL, &s, &t), EBUSY);
		assert_int_equal(s, 7);		/* untouched on error */
		assert_int_equal(t, 7);
		gw_mem_deref(plan);
	}
	gw_route_fail_cause(EBUSY, &sip, &q850);
	assert_int_equal(sip, 503);
	assert_int_equal(q850, 34);
}

/* ---- Config errors -------------------------------------------------- */

/* base has 18 lines: the routes' text starts at line 19. */
/* Span lists with ranges: a group hunts its spans in the order listed,
 * a route's span: source takes every span of a range. */
static void test_span_ranges(void **state)
{
	struct gw_dialplan *plan;
	struct gw_route_result res;
	struct gw_route_req req;
	struct gw_hunt *h;

	(void)state;
	plan = plan_of("[group r]\nspans = 3,1-2\n"
		       "[route r]\nmatch = 7\nfrom = span:2-3\n"
		       "target = user:a\n");
	h = gw_dialplan_group(plan, "r");
	assert_non_null(h);
	memset(busy_map, 0, sizeof(busy_map));
	pick(h, 3, 1);
	all_busy(3);
	pick(h, 1, 1);
	all_busy(1);
	pick(h, 2, 1);
	req_span(&req, 2, "7000", GW_TON_UNKNOWN);
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	assert_string_equal(res.rule, "r");
	req.span = 3;
	assert_int_equal(gw_route_lookup(plan, &req, &res), 0);
	req.span = 1;
	assert_int_not_equal(gw_route_lookup(plan, &req, &res), 0);
	gw_mem_deref(plan);
}

static void conf_error(const char *routes, const char *where,
		       const char *what)
{
	struct gw_conf *conf = conf_of(routes);
	struct gw_dialplan *plan = NULL;

	if (conf) {
		assert_int_not_equal(gw_dialplan_compile(&plan, conf, err,
							 sizeof(err)), 0);
		assert_null(plan);
		gw_mem_deref(conf);
	}
	if (!strstr(err, where) || !strstr(err, what))
		fail_msg("expected '%s' and '%s' in: %s", where, what, err);
}

static void test_config_errors(void **state)
{
	(void)state;
	/* The schema's checks: the section's header line. */
	conf_error("[route r]\nmatch = re:^(0\ntarget = user:a\n",
		   "t.conf:19:", "re:^(0");
	conf_error("[route r]\nmatch = 12a\ntarget = user:a\n",
		   "t.conf:19:", "digit prefix");
	conf_error("\n[route r]\nmatch = 1\nfrom = span:0\ntarget = user:a\n",
		   "t.conf:20:", "span numbers");
	conf_error("[route r]\nmatch = 1\nfrom = addr:10.0.0.0/33\n"
		   "target = user:a\n", "t.conf:19:", "addr:10.0.0.0/33");
	conf_error("[route r]\nmatch = 1\nfrom = host:x\ntarget = user:a\n",
		   "t.conf:19:", "host:x");
	conf_error("[route r]\nmatch = 1\ntarget = span:1\n",
		   "t.conf:19:", "target 'span:1'");
	conf_error("[route r]\nmatch = 1\ncalled_format = national\n"
		   "target = user:a\n", "t.conf:19:", "country_code");
	conf_error("[route r]\nmatch = 1\ncalled_format = e164\n"
		   "target = user:a\n", "t.conf:21:", "e164");
	conf_error("[route r]\ntarget = user:a\n", "t.conf:19:", "match");
	conf_error("[group g]\nspans = 1,1\n", "t.conf:19:", "twice");
	conf_error("[group g]\nspans = 1-3,2\n", "t.conf:19:", "span 2 is "
		   "listed twice");
	conf_error("[group g]\nspans = 2-1\n", "t.conf:19:", "'2-1'");
	conf_error("[group g]\nspans = 1,2-\n", "t.conf:19:", "'2-'");
	conf_error("[group g]\nspans = 1,\n", "t.conf:19:", "span numbers");
	conf_error("[group g]\nspans = 1,,2\n", "t.conf:19:", "span numbers");
	conf_error("[group g]\nspans = 250-256\n", "t.conf:19:",
		   "span numbers");
	conf_error("\n[route r]\nmatch = 1\nfrom = span:0-2\n"
		   "target = user:a\n", "t.conf:20:", "span numbers");
	conf_error("[group g]\nspans = 1\nhunt = random\n", "t.conf:21:",
		   "random");
	conf_error("[trunk t]\nhost = sip.example.com\n", "t.conf:19:",
		   "sip.example.com");
	conf_error("[trunk t]\nhost = 192.0.2.1\nfailover = t\n",
		   "t.conf:19:", "failover 't'");
	/* The compiler's cross-section checks: the key's own line. */
	conf_error("[route r]\nmatch = 1\ntarget = group:nope\n",
		   "t.conf:21:", "target group 'nope' is not defined");
	conf_error("[route r]\nmatch = 1\ntarget = trunk:nope\n",
		   "t.conf:21:", "target trunk 'nope'");
	conf_error("[route r]\nmatch = 1\nfrom = group:nope\n"
		   "target = user:a\n", "t.conf:21:", "from group 'nope'");
	conf_error("[route r]\nmatch = 1\nfrom = any trunk:x\n"
		   "target = user:a\n", "t.conf:21:", "from trunk 'x'");
	conf_error("[group g]\nspans = 2,9\n", "t.conf:20:",
		   "span 9 is not configured");
	conf_error("[trunk t]\nhost = 192.0.2.1\nfailover = spare nope\n"
		   "[route r]\nmatch = 1\ntarget = trunk:t\n",
		   "t.conf:21:", "failover trunk 'nope'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_match_order),
		UNIT_TEST(test_prefix_and_regex),
		UNIT_TEST(test_source),
		UNIT_TEST(test_targets),
		UNIT_TEST(test_rewrite),
		UNIT_TEST(test_no_route),
		UNIT_TEST(test_hunt_ascending),
		UNIT_TEST(test_hunt_descending),
		UNIT_TEST(test_hunt_roundrobin),
		UNIT_TEST(test_hunt_leastused),
		UNIT_TEST(test_hunt_t1_and_no_free_channel),
		UNIT_TEST(test_span_ranges),
		UNIT_TEST(test_config_errors),
	};

	return cmocka_run_group_tests_name("gw_route", tests, NULL, NULL);
}
