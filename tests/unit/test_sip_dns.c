/* tests/unit/test_sip_dns.c - RFC 3263 server location and failover */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"
#include "sip/sip_int.h"

/*
 * A small DNS server lives in the test, on a UDP socket of 127.0.0.1 on
 * the same loop as the resolver; it answers from a table of records
 * written by hand (NAPTR, SRV, A, AAAA), NXDOMAIN for listed names,
 * NODATA for the rest, or nothing at all, and logs every question.
 * Resolutions run through a UA with no listener (every transport and
 * family allowed) unless a test needs calls; then two UAs call each
 * other over loopback as in test_sip_transport.c.
 */

#define PORT_A		25810
#define PORT_B		25820
#define PORT_DEAD	25830

enum { T_A_ = 1, T_AAAA_ = 28, T_SRV_ = 33, T_NAPTR_ = 35 };

/* NAPTR: a order, b preference, s1 flags, s2 service, target the
 * replacement.  SRV: a priority, b weight, c port, target.  A, AAAA:
 * target the address. */
struct rr {
	const char *name;
	int type;
	uint32_t ttl;
	unsigned a, b, c;
	const char *s1, *s2, *target;
};

struct dnssrv {
	int fd;
	unsigned port;
	const struct rr *rrs;
	size_t n;
	const char *const *nx;		/* NXDOMAIN names, NULL-ended */
	bool silent;
	unsigned queries;
	char log[64][272];		/* "name TYPE" per question */
};

static const char *type_name(int t)
{
	return t == T_A_ ? "A" : t == T_AAAA_ ? "AAAA" : t == T_SRV_ ? "SRV" :
		t == T_NAPTR_ ? "NAPTR" : "?";
}

static size_t put_name(unsigned char *p, const char *name)
{
	size_t n = 0;

	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		p[n++] = (unsigned char)l;
		memcpy(p + n, name, l);
		n += l;
		name += l;
		if (*name == '.')
			name++;
	}
	p[n++] = 0;
	return n;
}

static size_t put_str(unsigned char *p, const char *s)
{
	size_t l = strlen(s);

	p[0] = (unsigned char)l;
	memcpy(p + 1, s, l);
	return l + 1;
}

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static size_t rdata(unsigned char *p, const struct rr *r)
{
	size_t n = 0;

	switch (r->type) {
	case T_A_:
		inet_pton(AF_INET, r->target, p);
		return 4;
	case T_AAAA_:
		inet_pton(AF_INET6, r->target, p);
		return 16;
	case T_SRV_:
		put16(p, r->a);
		put16(p + 2, r->b);
		put16(p + 4, r->c);
		return 6 + put_name(p + 6, r->target);
	case T_NAPTR_:
		put16(p, r->a);
		put16(p + 2, r->b);
		n = 4;
		n += put_str(p + n, r->s1);
		n += put_str(p + n, r->s2);
		n += put_str(p + n, "");		/* no regexp */
		n += put_name(p + n, r->target);
		return n;
	}
	return 0;
}

static void srv_readable(int flags, void *arg)
{
	struct dnssrv *s = arg;
	unsigned char q[512], a[2048];
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	char name[256];
	size_t off = 12, nl = 0, n, i, an = 0;
	unsigned type;
	ssize_t len;
	int rcode = 0;

	(void)flags;
	len = recvfrom(s->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
	if (len < 17)
		return;
	while (off < (size_t)len && q[off]) {
		size_t l = q[off];

		if (nl)
			name[nl++] = '.';
		memcpy(name + nl, q + off + 1, l);
		nl += l;
		off += l + 1;
	}
	name[nl] = '\0';
	off++;
	type = (unsigned)q[off] << 8 | q[off + 1];
	off += 4;				/* the question's end */
	if (s->queries < GW_ARRAY_SIZE(s->log))
		snprintf(s->log[s->queries], sizeof(s->log[0]), "%s %s", name,
			 type_name((int)type));
	s->queries++;
	if (s->silent)
		return;
	memcpy(a, q, off);
	a[2] = 0x80 | (q[2] & 0x01);		/* QR, RD as asked */
	a[3] = 0x80;				/* RA */
	put16(a + 4, 1);
	put16(a + 8, 0);
	put16(a + 10, 0);
	n = off;
	for (i = 0; s->nx && s->nx[i]; i++)
		if (!strcasecmp(s->nx[i], name))
			rcode = 3;
	for (i = 0; !rcode && i < s->n; i++) {
		const struct rr *r = &s->rrs[i];
		size_t rl;

		if ((unsigned)r->type != type || strcasecmp(r->name, name))
			continue;
		a[n++] = 0xc0;			/* the question's name */
		a[n++] = 12;
		put16(a + n, type);
		put16(a + n + 2, 1);
		a[n + 4] = (unsigned char)(r->ttl >> 24);
		a[n + 5] = (unsigned char)(r->ttl >> 16);
		a[n + 6] = (unsigned char)(r->ttl >> 8);
		a[n + 7] = (unsigned char)r->ttl;
		rl = rdata(a + n + 10, r);
		put16(a + n + 8, (unsigned)rl);
		n += 10 + rl;
		an++;
	}
	a[3] |= (unsigned char)rcode;
	put16(a + 6, (unsigned)an);
	sendto(s->fd, a, n, 0, (struct sockaddr *)&from, fl);
}

static void srv_start(struct dnssrv *s, const struct rr *rrs, size_t n)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->rrs = rrs;
	s->n = n;
	s->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(s->fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(s->fd, (struct sockaddr *)&a, &al);
	s->port = ntohs(a.sin_port);
	assert_int_equal(gw_fd_listen(s->fd, GW_FD_READ, srv_readable, s), 0);
}

static void srv_stop(struct dnssrv *s)
{
	gw_fd_close(s->fd);
	close(s->fd);
}

static bool srv_asked(const struct dnssrv *s, const char *q)
{
	unsigned i;

	for (i = 0; i < s->queries && i < GW_ARRAY_SIZE(s->log); i++)
		if (!strcmp(s->log[i], q))
			return true;
	return false;
}

static unsigned srv_count(const struct dnssrv *s, const char *q)
{
	unsigned i, n = 0;

	for (i = 0; i < s->queries && i < GW_ARRAY_SIZE(s->log); i++)
		n += !strcmp(s->log[i], q);
	return n;
}

/* ---- resolution through the API --------------------------------------- */

struct res {
	bool done;
	int err;
	struct sip_dns_target t[SIP_DNS_MAX_TARGETS];
	size_t n;
};

static void res_h(int err, const struct sip_dns_target *t, size_t n,
		  void *arg)
{
	struct res *r = arg;

	r->done = true;
	r->err = err;
	r->n = n;
	if (n)
		memcpy(r->t, t, n * sizeof(*t));
	gw_loop_stop();
}

static void resolve(struct sip_ua *ua, const char *uri, struct res *r)
{
	struct sip_dns_query *q = NULL;
	int i;

	memset(r, 0, sizeof(*r));
	assert_int_equal(sip_dns_resolve(&q, ua, uri, res_h, r), 0);
	assert_false(r->done);		/* never from inside the call */
	for (i = 0; i < 50 && !r->done; i++)
		gw_loop_run_timeout(100);
	assert_true(r->done);
	sip_dns_cancel(q);
}

static void expect(const struct res *r, size_t i, enum sip_transport tp,
		   const char *addr, unsigned port)
{
	assert_true(i < r->n);
	assert_int_equal(r->t[i].transport, tp);
	assert_string_equal(r->t[i].addr, addr);
	assert_int_equal(r->t[i].port, port);
}

static struct sip_ua *dns_ua(struct dnssrv *s, unsigned timeout_ms,
			     bool prefer_ipv6)
{
	struct sip_ua *ua = NULL;
	struct sip_dns_conf dc = { .timeout_ms = timeout_ms, .tries = 1,
				   .prefer_ipv6 = prefer_ipv6 };
	char servers[64];

	snprintf(servers, sizeof(servers), "127.0.0.1:%u", s->port);
	dc.servers = servers;
	assert_int_equal(sip_ua_alloc(&ua, NULL, NULL, NULL), 0);
	assert_int_equal(sip_dns_set_conf(ua, &dc), 0);
	return ua;
}

static int setup(void **state)
{
	assert_int_equal(gw_loop_init(), 0);
	return unit_leak_setup(state);
}

static int teardown(void **state)
{
	int r = unit_leak_teardown(state);

	gw_loop_close();
	return r;
}

static void test_literal(void **state)
{
	struct dnssrv s;
	struct sip_ua *ua;
	struct res r;

	(void)state;
	srv_start(&s, NULL, 0);
	ua = dns_ua(&s, 200, false);
	/* s.4.1/s.4.2: an IP literal needs no DNS. */
	resolve(ua, "sip:1000@192.0.2.1", &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.n, 1);
	expect(&r, 0, SIP_UDP, "192.0.2.1", 5060);
	resolve(ua, "sips:1000@[2001:db8::1]", &r);
	expect(&r, 0, SIP_TLS, "2001:db8::1", 5061);
	resolve(ua, "sip:1000@192.0.2.1:5070;transport=tcp", &r);
	expect(&r, 0, SIP_TCP, "192.0.2.1", 5070);
	/* maddr overrides the host (s.4). */
	resolve(ua, "sip:1000@pbx.test;maddr=192.0.2.9", &r);
	expect(&r, 0, SIP_UDP, "192.0.2.9", 5060);
	/* RFC 6761 s.6.4: "invalid" never reaches a nameserver. */
	resolve(ua, "sip:1000@pbx.invalid", &r);
	assert_int_equal(r.err, ENOENT);
	assert_int_equal(s.queries, 0);
	{
		struct sip_dns_query *q;

		assert_int_not_equal(sip_dns_resolve(&q, ua, "http://x/",
						     res_h, &r), 0);
		assert_int_equal(sip_dns_resolve(&q, ua, "sip:a@b..c", res_h,
						 &r), EINVAL);
		assert_int_equal(sip_dns_resolve(&q, ua,
			"sip:a@b.test;transport=sctp", res_h, &r),
			EPROTONOSUPPORT);
	}
	gw_mem_deref(ua);
	srv_stop(&s);
}

static const struct rr naptr_rrs[] = {
	/* order 20 is listed first: order decides, not position */
	{ "naptr.test", T_NAPTR_, 300, 20, 10, 0, "s", "SIP+D2U",
	  "_sip._udp.naptr.test" },
	{ "naptr.test", T_NAPTR_, 300, 10, 10, 0, "s", "SIP+D2T",
	  "_sip._tcp.naptr.test" },
	{ "naptr.test", T_NAPTR_, 300, 5, 10, 0, "s", "SIP+D2X",
	  "_sip._sctp.naptr.test" },		/* not ours: skipped */
	{ "_sip._tcp.naptr.test", T_SRV_, 300, 10, 0, 5070, NULL, NULL,
	  "b.naptr.test" },
	{ "_sip._tcp.naptr.test", T_SRV_, 300, 5, 0, 5080, NULL, NULL,
	  "a.naptr.test" },
	{ "_sip._udp.naptr.test", T_SRV_, 300, 0, 0, 5060, NULL, NULL,
	  "c.naptr.test" },
	{ "a.naptr.test", T_A_, 300, 0, 0, 0, NULL, NULL, "127.0.0.2" },
	{ "b.naptr.test", T_A_, 300, 0, 0, 0, NULL, NULL, "127.0.0.3" },
	{ "c.naptr.test", T_A_, 300, 0, 0, 0, NULL, NULL, "127.0.0.4" },
	/* the first NAPTR's SRV has no records: the next NAPTR's */
	{ "two.test", T_NAPTR_, 300, 10, 10, 0, "s", "SIP+D2T",
	  "_sip._tcp.two.test" },
	{ "two.test", T_NAPTR_, 300, 20, 10, 0, "s", "SIP+D2U",
	  "_sip._udp.two.test" },
	{ "_sip._udp.two.test", T_SRV_, 300, 0, 0, 5062, NULL, NULL,
	  "c.naptr.test" },
	/* no NAPTR: SRV UDP (none), then TCP */
	{ "_sip._tcp.tcp.test", T_SRV_, 300, 0, 0, 5063, NULL, NULL,
	  "c.naptr.test" },
	/* nothing but an A: the default port, UDP */
	{ "plain.test", T_A_, 300, 0, 0, 0, NULL, NULL, "127.0.0.5" },
};

static void test_naptr_srv_a(void **state)
{
	struct dnssrv s;
	struct sip_ua *ua;
	struct res r;

	(void)state;
	srv_start(&s, naptr_rrs, GW_ARRAY_SIZE(naptr_rrs));
	ua = dns_ua(&s, 500, false);
	resolve(ua, "sip:1000@naptr.test", &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.n, 2);
	/* NAPTR order 10 (TCP) -> its SRVs by priority -> their A. */
	expect(&r, 0, SIP_TCP, "127.0.0.2", 5080);
	expect(&r, 1, SIP_TCP, "127.0.0.3", 5070);
	assert_string_equal(s.log[0], "naptr.test NAPTR");
	assert_string_equal(s.log[1], "_sip._tcp.naptr.test SRV");
	assert_false(srv_asked(&s, "_sip._udp.naptr.test SRV"));
	assert_false(srv_asked(&s, "_sip._sctp.naptr.test SRV"));
	assert_true(srv_asked(&s, "a.naptr.test AAAA"));
	/* A SIPS URI takes SIPS+D2T only: none here, no _sips._tcp SRV,
	 * no address for the domain: nothing (s.4.1). */
	resolve(ua, "sips:1000@naptr.test", &r);
	assert_int_equal(r.err, ENOENT);
	assert_true(srv_asked(&s, "_sips._tcp.naptr.test SRV"));
	resolve(ua, "sip:1000@two.test", &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.n, 1);
	expect(&r, 0, SIP_UDP, "127.0.0.4", 5062);
	resolve(ua, "sip:1000@tcp.test", &r);
	assert_int_equal(r.n, 1);
	expect(&r, 0, SIP_TCP, "127.0.0.4", 5063);
	assert_true(srv_asked(&s, "_sip._udp.tcp.test SRV"));
	resolve(ua, "sip:1000@plain.test", &r);
	assert_int_equal(r.n, 1);
	expect(&r, 0, SIP_UDP, "127.0.0.5", 5060);
	resolve(ua, "sips:1000@plain.test", &r);
	expect(&r, 0, SIP_TLS, "127.0.0.5", 5061);
	gw_mem_deref(ua);
	srv_stop(&s);
}

static const struct rr weight_rrs[] = {
	{ "_sip._udp.w.test", T_SRV_, 300, 20, 0, 5003, NULL, NULL,
	  "c.w.test" },
	{ "_sip._udp.w.test", T_SRV_, 300, 10, 1, 5001, NULL, NULL,
	  "a.w.test" },
	{ "_sip._udp.w.test", T_SRV_, 300, 10, 99, 5002, NULL, NULL,
	  "b.w.test" },
	{ "a.w.test", T_A_, 300, 0, 0, 0, NULL, NULL, "127.0.0.1" },
	{ "b.w.test", T_A_, 300, 0, 0, 0, NULL, NULL, "127.0.0.1" },
	{ "c.w.test", T_A_, 300, 0, 0, 0, NULL, NULL, "127.0.0.1" },
};

static void test_srv_priority_weight(void **state)
{
	struct dnssrv s;
	struct sip_ua *ua;
	struct res r;
	unsigned i, b_first = 0;
	json_t *j;

	(void)state;
	srv_start(&s, weight_rrs, GW_ARRAY_SIZE(weight_rrs));
	ua = dns_ua(&s, 500, false);
	for (i = 0; i < 200; i++) {
		resolve(ua, "sip:1000@w.test", &r);
		assert_int_equal(r.err, 0);
		assert_int_equal(r.n, 3);
		/* RFC 2782: priority 20 only after every priority 10. */
		expect(&r, 2, SIP_UDP, "127.0.0.1", 5003);
		b_first += r.t[0].port == 5002;
	}
	/* weight 99 against 1: first about 98 times in 100 */
	assert_true(b_first >= 170);
	/* All from the cache after the first: NAPTR, SRV, 3 A, 3 AAAA. */
	assert_int_equal(s.queries, 8);
	j = sip_dns_json(ua);
	assert_true(json_integer_value(json_object_get(j, "cache_hits")) >=
		    199 * 8);
	json_decref(j);
	gw_mem_deref(ua);
	srv_stop(&s);
}

static const struct rr v6_rrs[] = {
	{ "v6.test", T_AAAA_, 300, 0, 0, 0, NULL, NULL, "::1" },
	{ "both.test", T_A_, 300, 0, 0, 0, NULL, NULL, "127.0.0.1" },
	{ "both.test", T_AAAA_, 300, 0, 0, 0, NULL, NULL, "::1" },
	{ "host.test", T_A_, 300, 0, 0, 0, NULL, NULL, "127.0.0.1" },
};

static void test_aaaa(void **state)
{
	struct dnssrv s;
	struct sip_ua *ua;
	struct res r;

	(void)state;
	srv_start(&s, v6_rrs, GW_ARRAY_SIZE(v6_rrs));
	ua = dns_ua(&s, 500, false);
	resolve(ua, "sip:1000@v6.test:5099", &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.n, 1);
	expect(&r, 0, SIP_UDP, "::1", 5099);
	resolve(ua, "sip:1000@both.test:5099", &r);
	assert_int_equal(r.n, 2);
	expect(&r, 0, SIP_UDP, "127.0.0.1", 5099);
	expect(&r, 1, SIP_UDP, "::1", 5099);
	gw_mem_deref(ua);
	ua = dns_ua(&s, 500, true);
	resolve(ua, "sip:1000@both.test:5099", &r);
	assert_int_equal(r.n, 2);
	expect(&r, 0, SIP_UDP, "::1", 5099);
	expect(&r, 1, SIP_UDP, "127.0.0.1", 5099);
	gw_mem_deref(ua);
	srv_stop(&s);
}

static void test_port_skips_srv(void **state)
{
	struct dnssrv s;
	struct sip_ua *ua;
	struct res r;

	(void)state;
	srv_start(&s, v6_rrs, GW_ARRAY_SIZE(v6_rrs));
	ua = dns_ua(&s, 500, false);
	/* s.4.2: a port means no SRV; s.4.1: a transport, no NAPTR. */
	resolve(ua, "sip:1000@host.test:5099;transport=tcp", &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.n, 1);
	expect(&r, 0, SIP_TCP, "127.0.0.1", 5099);
	assert_int_equal(s.queries, 2);
	assert_true(srv_asked(&s, "host.test A"));
	assert_true(srv_asked(&s, "host.test AAAA"));
	/* A transport without a port: its SRV, then A, no NAPTR. */
	resolve(ua, "sip:1000@host.test;transport=tcp", &r);
	assert_int_equal(r.n, 1);
	expect(&r, 0, SIP_TCP, "127.0.0.1", 5060);
	assert_true(srv_asked(&s, "_sip._tcp.host.test SRV"));
	assert_false(srv_asked(&s, "host.test NAPTR"));
	gw_mem_deref(ua);
	srv_stop(&s);
}

static const struct rr ttl_rrs[] = {
	{ "cache.test", T_A_, 300, 0, 0, 0, NULL, NULL, "127.0.0.1" },
	{ "zero.test", T_A_, 0, 0, 0, 0, NULL, NULL, "127.0.0.1" },
};

static void test_ttl_cache(void **state)
{
	struct dnssrv s;
	struct sip_ua *ua;
	struct res r;

	(void)state;
	srv_start(&s, ttl_rrs, GW_ARRAY_SIZE(ttl_rrs));
	ua = dns_ua(&s, 500, false);
	resolve(ua, "sip:1000@cache.test:5060", &r);
	expect(&r, 0, SIP_UDP, "127.0.0.1", 5060);
	resolve(ua, "sip:1000@cache.test:5070", &r);
	expect(&r, 0, SIP_UDP, "127.0.0.1", 5070);
	assert_int_equal(srv_count(&s, "cache.test A"), 1);
	/* NODATA is kept too (RFC 2308). */
	assert_int_equal(srv_count(&s, "cache.test AAAA"), 1);
	/* TTL 0: used once, asked again (RFC 1035 s.3.2.1). */
	resolve(ua, "sip:1000@zero.test:5060", &r);
	resolve(ua, "sip:1000@zero.test:5060", &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(srv_count(&s, "zero.test A"), 2);
	gw_mem_deref(ua);
	srv_stop(&s);
}

static void test_timeout(void **state)
{
	struct dnssrv s;
	struct sip_ua *ua;
	struct res r;
	uint64_t t0;

	(void)state;
	srv_start(&s, NULL, 0);
	s.silent = true;
	ua = dns_ua(&s, 150, false);
	t0 = gw_now_ms();
	resolve(ua, "sip:1000@slow.test", &r);
	assert_int_equal(r.err, ETIMEDOUT);
	assert_true(gw_now_ms() - t0 < 1500);
	assert_true(s.queries >= 1);
	gw_mem_deref(ua);
	srv_stop(&s);
}

static const char *const nx_names[] = { "nx.test", NULL };

static void test_nxdomain(void **state)
{
	struct dnssrv s;
	struct sip_ua *ua;
	struct res r;

	(void)state;
	srv_start(&s, NULL, 0);
	s.nx = nx_names;
	ua = dns_ua(&s, 500, false);
	resolve(ua, "sip:1000@nx.test", &r);
	assert_int_equal(r.err, ENOENT);
	/* RFC 8020: nothing under a name that does not exist. */
	assert_int_equal(s.queries, 1);
	resolve(ua, "sip:1000@NX.test.", &r);	/* same name, cached */
	assert_int_equal(r.err, ENOENT);
	assert_int_equal(s.queries, 1);
	gw_mem_deref(ua);
	srv_stop(&s);
}

/* ---- requests to names: the UA --------------------------------------- */

struct side {
	struct sip_session *sess;
	unsigned answered, closed, incoming;
	unsigned last_status;
};

static const char sdp_a[] =
	"v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
	"t=0 0\r\nm=audio 4000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
static const char sdp_b[] =
	"v=0\r\no=b 2 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
	"t=0 0\r\nm=audio 5000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";

static void side_event(struct sip_session *sess,
		       const struct sip_session_event *ev, void *arg)
{
	struct side *s = arg;

	(void)sess;
	if (ev->type == SIP_SESS_ANSWERED)
		s->answered++;
	if (ev->type == SIP_SESS_CLOSED) {
		s->closed++;
		s->last_status = ev->status;
		s->sess = NULL;
	}
	gw_loop_stop();
}

static void uas_incoming(struct sip_session *sess,
			 const struct sip_incoming *in, void *arg)
{
	struct side *s = arg;

	(void)in;
	s->incoming++;
	s->sess = sess;
	sip_session_set_handler(sess, side_event, s);
	assert_int_equal(sip_session_answer(sess, sdp_b), 0);
}

static struct sip_ua *ua_new(unsigned port, sip_incoming_h *inh, void *arg,
			     const struct sip_conf *conf)
{
	struct sip_listener_conf lc = {0};
	struct sip_ua *ua = NULL;

	assert_int_equal(sip_ua_alloc(&ua, conf, inh, arg), 0);
	lc.addr = "127.0.0.1";
	lc.port = port;
	lc.transport = SIP_UDP;
	assert_int_equal(sip_ua_listen(ua, &lc), 0);
	lc.transport = SIP_TCP;
	assert_int_equal(sip_ua_listen(ua, &lc), 0);
	return ua;
}

static void use_dns(struct sip_ua *ua, const struct dnssrv *s)
{
	struct sip_dns_conf dc = { .timeout_ms = 150, .tries = 1 };
	char servers[64];

	snprintf(servers, sizeof(servers), "127.0.0.1:%u", s->port);
	dc.servers = servers;
	assert_int_equal(sip_dns_set_conf(ua, &dc), 0);
}

static void run_until(unsigned *counter, unsigned want)
{
	int i;

	for (i = 0; i < 50 && *counter < want; i++)
		gw_loop_run_timeout(200);
	assert_int_equal(*counter, want);
}

static void test_call_unresolvable(void **state)
{
	struct dnssrv s;
	struct sip_ua *ua = ua_new(PORT_A, NULL, NULL, NULL);
	struct sip_call_params p = { .uri = "sip:1000@nx.test",
				     .sdp = sdp_a };
	struct side a = {0};

	(void)state;
	srv_start(&s, NULL, 0);
	s.nx = nx_names;
	use_dns(ua, &s);
	/* No such name: the call closes with 404. */
	assert_int_equal(sip_session_connect(&a.sess, ua, &p, side_event,
					     &a), 0);
	run_until(&a.closed, 1);
	assert_int_equal(a.last_status, 404);
	/* The nameserver does not answer: 503. */
	s.silent = true;
	p.uri = "sip:1000@slow.test";
	assert_int_equal(sip_session_connect(&a.sess, ua, &p, side_event,
					     &a), 0);
	run_until(&a.closed, 2);
	assert_int_equal(a.last_status, 503);
	/* Given up while resolving: nothing is sent, nothing leaks. */
	s.silent = false;
	p.uri = "sip:1000@never.test";
	assert_int_equal(sip_session_connect(&a.sess, ua, &p, side_event,
					     &a), 0);
	assert_int_equal(sip_session_hangup(a.sess, 0, NULL), 0);
	gw_loop_run_timeout(300);
	gw_mem_deref(ua);
	srv_stop(&s);
}

/* A UDP socket that takes requests and never answers. */
struct sink {
	int fd;
	unsigned invites;
	char branch[64];
};

static void sink_readable(int flags, void *arg)
{
	struct sink *k = arg;
	char buf[4096], *b;
	ssize_t n;

	(void)flags;
	n = recv(k->fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (strncmp(buf, "INVITE ", 7))
		return;
	k->invites++;
	b = strstr(buf, "branch=");
	if (b && !k->branch[0])
		snprintf(k->branch, sizeof(k->branch), "%.*s",
			 (int)strcspn(b + 7, ";\r\n"), b + 7);
}

static const struct rr fo_rrs[] = {
	{ "_sip._udp.fo.test", T_SRV_, 300, 10, 0, PORT_DEAD, NULL, NULL,
	  "dead.fo.test" },
	{ "_sip._udp.fo.test", T_SRV_, 300, 20, 0, PORT_B, NULL, NULL,
	  "live.fo.test" },
	{ "dead.fo.test", T_A_, 300, 0, 0, 0, NULL, NULL, "127.0.0.1" },
	{ "live.fo.test", T_A_, 300, 0, 0, 0, NULL, NULL, "127.0.0.1" },
};

static void test_failover(void **state)
{
	struct dnssrv s;
	struct sip_conf ca = { .t1_ms = 50 };	/* Timer B: 3.2 s */
	struct side a = {0}, b = {0};
	struct sip_ua *ua_a = ua_new(PORT_A, NULL, NULL, &ca);
	struct sip_ua *ua_b = ua_new(PORT_B, uas_incoming, &b, NULL);
	struct sip_call_params p = { .uri = "sip:1000@fo.test",
				     .sdp = sdp_a };
	struct sink k = {0};
	struct sockaddr_in sa;
	uint64_t t0;

	(void)state;
	srv_start(&s, fo_rrs, GW_ARRAY_SIZE(fo_rrs));
	use_dns(ua_a, &s);
	k.fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(PORT_DEAD);
	assert_int_equal(bind(k.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(gw_fd_listen(k.fd, GW_FD_READ, sink_readable, &k),
			 0);
	snprintf(p.from.user, sizeof(p.from.user), "5551234");
	t0 = gw_now_ms();
	assert_int_equal(sip_session_connect(&a.sess, ua_a, &p, side_event,
					     &a), 0);
	/* SRV priority 10 swallows the INVITE (retransmitted on T1); at
	 * Timer B a new transaction goes to priority 20 (s.4.3). */
	run_until(&a.answered, 1);
	assert_true(k.invites >= 1);
	assert_true(gw_now_ms() - t0 >= 64 * 50);
	/* B may see the INVITE again when a retransmission crosses its
	 * 2xx (its server transaction ends on the 2xx; slow runs, e.g.
	 * under valgrind): at least once. */
	assert_true(b.incoming >= 1);
	run_until(&b.answered, 1);		/* the ACK found B */
	assert_non_null(a.sess);
	assert_int_equal(sip_session_hangup(a.sess, 0, NULL), 0);
	a.sess = NULL;
	run_until(&b.closed, 1);
	gw_loop_run_timeout(50);
	gw_fd_close(k.fd);
	close(k.fd);
	gw_mem_deref(ua_a);
	gw_mem_deref(ua_b);
	srv_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_literal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_naptr_srv_a, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_srv_priority_weight,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_aaaa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_skips_srv, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ttl_cache, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nxdomain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_call_unresolvable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failover, setup,
						teardown),
	};

	gw_log_set_levels("warn");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
