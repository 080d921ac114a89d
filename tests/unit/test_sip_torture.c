/* tests/unit/test_sip_torture.c - RFC 4475 and RFC 5118 over UDP and TCP */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <osip2/osip.h>

#include "unit.h"
#include "sip.h"

/*
 * Every message of tests/data/sip-torture and sip-ipv6-torture (as listed
 * in their manifest.csv) is sent to a running UA, once as a UDP datagram
 * and once on a new TCP connection, and the first final response is
 * compared with what the manifest's expected_handling asks of a UA
 * endpoint (table below; 0 means dropped: no response at all).  The test
 * TU rejects every INVITE with 486, so an accepted INVITE shows as 486.
 * Afterwards no server transaction may still wait for a response, and
 * the UA is freed with no block left (UNIT_TEST's leak check).
 *
 * Responses over UDP go where s.18.2.2 says: the source address (our
 * received=) and the Via's port.  So each message is sent from its own
 * loopback address (127.0.1.N) bound to its top Via's port.
 */

#define UA_PORT 25160

struct expect {
	const char *file;
	int udp;		/* final status, 0: dropped */
	int tcp;		/* same over TCP; -1: as udp */
};

/*
 * Four of the messages carry SDP that RFC 4566 read to the letter
 * refuses: "a=rtpmap:31 LPC" without a clock rate (RFC 4475 s.3.1.1.3,
 * s.3.1.1.7, s.3.1.2.12) and an empty "s=" (RFC 5118 s.4.8).  The RFCs
 * find nothing wrong with these bodies (baddate's fault is its Date,
 * which a UA may ignore) and the manifest has them accepted: sdp.c
 * takes the static type's RFC 3551 rate and reads "s=" as "s= ", so the
 * INVITEs reach the TU (486) rather than getting 488.
 */

/* From each manifest's expected_handling, for an endpoint UA that is not
 * a registrar (REGISTER is 405 until the registrar exists). */
static const struct expect expects[] = {
	/* Its To has a tag: a request for a dialog we do not have. */
	{ "valid/wsinv.sip", 481, -1 },
	{ "valid/intmeth.sip", 501, -1 },
	{ "valid/esc01.sip", 486, -1 },
	{ "valid/escnull.sip", 405, -1 },
	{ "valid/esc02.sip", 501, -1 },
	{ "valid/lwsdisp.sip", 200, -1 },
	{ "valid/longreq.sip", 486, -1 },
	{ "valid/dblreq.sip", 405, -1 },
	{ "valid/semiuri.sip", 200, -1 },
	{ "valid/transports.sip", 200, -1 },
	{ "valid/mpart01.sip", 405, -1 },
	{ "valid/unreason.sip", 0, -1 },
	{ "valid/noreason.sip", 0, -1 },
	{ "invalid/badinv01.sip", 400, -1 },
	/* s.3.1.2.2: a stream waits for the rest, then closes */
	{ "invalid/clerr.sip", 400, 0 },
	{ "invalid/ncl.sip", 400, -1 },
	{ "invalid/scalar02.sip", 400, -1 },
	{ "invalid/scalarlg.sip", 0, -1 },
	{ "invalid/quotbal.sip", 400, -1 },
	{ "invalid/ltgtruri.sip", 400, -1 },
	{ "invalid/lwsruri.sip", 400, -1 },
	{ "invalid/lwsstart.sip", 400, -1 },
	{ "invalid/trws.sip", 400, -1 },
	{ "invalid/escruri.sip", 400, -1 },
	{ "invalid/baddate.sip", 486, -1 },
	{ "invalid/regbadct.sip", 405, -1 },
	{ "invalid/badaspec.sip", 400, -1 },
	{ "invalid/baddn.sip", 400, 0 },
	{ "invalid/badvers.sip", 505, -1 },
	{ "invalid/mismatch01.sip", 400, -1 },
	{ "invalid/mismatch02.sip", 501, -1 },
	{ "invalid/bigcode.sip", 0, -1 },
	{ "transaction/badbranch.sip", 200, -1 },
	{ "application/insuf.sip", 400, -1 },
	{ "application/unkscm.sip", 416, -1 },
	{ "application/novelsc.sip", 416, -1 },
	{ "application/unksm2.sip", 405, -1 },
	{ "application/bext01.sip", 420, -1 },
	{ "application/invut.sip", 415, -1 },
	{ "application/regaut01.sip", 405, -1 },
	{ "application/multi01.sip", 400, -1 },
	{ "application/mcl01.sip", 400, -1 },
	{ "application/bcast.sip", 0, -1 },
	{ "application/zeromf.sip", 200, -1 },
	{ "application/cparam01.sip", 405, -1 },
	{ "application/cparam02.sip", 405, -1 },
	{ "application/regescrt.sip", 405, -1 },
	{ "application/sdp01.sip", 406, -1 },
	/* No Content-Length: fine in a datagram, a framing error on a
	 * stream (s.18.3, s.20.14). */
	{ "backward-compat/inv2543.sip", 486, 400 },
	{ "unreferenced/test.sip", -2, -2 },	/* no expectation */
	/* RFC 5118 */
	{ "wire/ipv6-good.sip", 405, -1 },
	{ "wire/ipv6-bad.sip", 400, -1 },
	{ "wire/port-ambiguous.sip", 405, -1 },
	{ "wire/port-unambiguous.sip", 405, -1 },
	{ "wire/via-received-param-with-delim.sip", 481, -1 },
	{ "wire/via-received-param-no-delim.sip", 200, -1 },
	{ "wire/ipv6-in-sdp.sip", 486, -1 },
	{ "wire/mult-ip-in-header.sip", 481, -1 },
	{ "wire/mult-ip-in-sdp.sip", 486, -1 },
	{ "wire/ipv4-mapped-ipv6.sip", 486, -1 },
	{ "wire/ipv6-bug-abnf-3-colons.sip", 200, -1 },
	{ "wire/ipv6-correct-abnf-2-colons.sip", 200, -1 },
};

static const char *datadir(void)
{
	const char *s = getenv("JUNCTION_SRCDIR");
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/tests/data", s ? s : ".");
	return buf;
}

static char *slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(70000);
	n = fread(buf, 1, 70000 - 1, f);
	fclose(f);
	buf[n] = '\0';
	*lenp = n;
	return buf;
}

/* The top Via's port, 5060 if none or unparsable (RFC 3261 s.18.2.2). */
static unsigned via_port(const char *buf, size_t len)
{
	osip_event_t *ev = osip_parse(buf, len);
	osip_via_t *v = NULL;
	unsigned port = 5060;

	if (ev && ev->sip && osip_message_get_via(ev->sip, 0, &v) >= 0 && v &&
	    v->port && atoi(v->port) > 0 && atoi(v->port) < 65536)
		port = (unsigned)atoi(v->port);
	if (ev)
		osip_event_free(ev);
	return port;
}

static void incoming(struct sip_session *sess, const struct sip_incoming *in,
		     void *arg)
{
	(void)in;
	(void)arg;
	sip_session_reject(sess, 486, NULL, 0);
}

/* What the test socket saw. */
struct probe {
	int fd;
	int status;		/* first final, or 0 */
	bool closed;
	char buf[70000];
	size_t len;
};

static void probe_readable(int flags, void *arg)
{
	struct probe *p = arg;
	ssize_t n;
	char *l;

	(void)flags;
	n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - 1 - p->len, 0);
	if (n <= 0) {
		p->closed = true;
		gw_fd_close(p->fd);
		gw_loop_stop();
		return;
	}
	p->len += (size_t)n;
	p->buf[p->len] = '\0';
	/* Each status line in what arrived so far; 1xx are skipped. */
	for (l = p->buf; (l = strstr(l, "SIP/2.0 ")); l += 8) {
		int st = atoi(l + 8);

		if ((l == p->buf || l[-1] == '\n') && st >= 200) {
			p->status = st;
			gw_fd_close(p->fd);
			gw_loop_stop();
			return;
		}
	}
	if (p->len > 60000)
		p->len = 0;
}

static int send_one(const char *msg, size_t len, bool tcp, unsigned idx,
		    struct probe *p)
{
	struct sockaddr_in src, dst;
	int one = 1, fd;

	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons(UA_PORT);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(0x7f000100u + (tcp ? 128 : 0) + idx + 1);
	src.sin_port = tcp ? 0 : htons((uint16_t)via_port(msg, len));

	fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
	if (tcp) {
		assert_int_equal(connect(fd, (struct sockaddr *)&dst,
					 sizeof(dst)), 0);
		assert_int_equal(send(fd, msg, len, MSG_NOSIGNAL),
				 (ssize_t)len);
	} else {
		assert_int_equal(sendto(fd, msg, len, 0,
					(struct sockaddr *)&dst, sizeof(dst)),
				 (ssize_t)len);
	}
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	assert_int_equal(gw_fd_listen(fd, GW_FD_READ, probe_readable, p), 0);
	return fd;
}

static const struct expect *find_expect(const char *file)
{
	size_t i;

	for (i = 0; i < GW_ARRAY_SIZE(expects); i++)
		if (!strcmp(expects[i].file, file))
			return &expects[i];
	return NULL;
}

/* Files of a manifest: the first column (sip-torture) or the second
 * (sip-ipv6-torture's wire_file). */
static struct sip_ua *ua_start(bool tcp);
static unsigned ua_stop(struct sip_ua *ua, const char *file);

static unsigned replay(const char *corpus, int col, bool tcp, unsigned *idx)
{
	char path[1024], line[2048], file[256];
	unsigned failures = 0;
	struct probe *p = malloc(sizeof(*p));
	FILE *mf;

	assert_non_null(p);
	snprintf(path, sizeof(path), "%s/%s/manifest.csv", datadir(), corpus);
	mf = fopen(path, "r");
	assert_non_null(mf);
	assert_non_null(fgets(line, sizeof(line), mf));	/* header */
	while (fgets(line, sizeof(line), mf)) {
		const struct expect *e;
		struct sip_ua *ua;
		const char *c = line;
		size_t len = 0, n;
		char *msg;
		int want, fd, i;

		for (i = 0; i < col; i++)
			c = strchr(c, ',') + 1;
		n = strcspn(c, ",");
		snprintf(file, sizeof(file), "%.*s", (int)n, c);
		e = find_expect(file);
		if (!e) {
			print_error("%s: not in the test's table\n", file);
			failures++;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s/%s", datadir(), corpus,
			 file);
		msg = slurp(path, &len);
		assert_non_null(msg);
		/* A UA per message: several messages share a branch and
		 * sent-by, and one UA would rightly take them for
		 * retransmissions of each other (s.17.2.3). */
		ua = ua_start(tcp);
		fd = send_one(msg, len, tcp, (*idx)++, p);
		gw_loop_run_timeout(e->udp == 0 || (tcp && e->tcp == 0) ?
				    300 : 2000);
		gw_fd_close(fd);
		close(fd);
		failures += ua_stop(ua, file);
		want = tcp && e->tcp != -1 ? e->tcp : e->udp;
		if (want != -2 && p->status != want) {
			print_error("%s over %s: got %d, want %d\n", file,
				    tcp ? "TCP" : "UDP", p->status, want);
			failures++;
		}
		free(msg);
	}
	fclose(mf);
	free(p);
	return failures;
}

static struct sip_ua *ua_start(bool tcp)
{
	struct sip_listener_conf lc = {0};
	struct sip_ua *ua = NULL;

	assert_int_equal(sip_ua_alloc(&ua, NULL, incoming, NULL), 0);
	lc.transport = tcp ? SIP_TCP : SIP_UDP;
	lc.addr = "127.0.0.1";
	lc.port = UA_PORT;
	assert_int_equal(sip_ua_listen(ua, &lc), 0);
	return ua;
}

/* No server transaction may still wait for our answer, no session may
 * be left: 1 if one is. */
static unsigned ua_stop(struct sip_ua *ua, const char *file)
{
	unsigned bad = 0;
	json_t *j;

	gw_loop_run_timeout(20);	/* what is still in flight */
	j = sip_ua_json(ua);
	if (json_integer_value(json_object_get(j, "pending")) ||
	    json_array_size(json_object_get(j, "sessions"))) {
		print_error("%s: stuck transaction or session\n", file);
		bad = 1;
	}
	json_decref(j);
	gw_mem_deref(ua);
	return bad;
}

static void torture(bool tcp)
{
	unsigned failures, idx = 0;

	failures = replay("sip-torture", 0, tcp, &idx);
	failures += replay("sip-ipv6-torture", 1, tcp, &idx);
	assert_int_equal(failures, 0);
}

static void test_torture_udp(void **state)
{
	(void)state;
	torture(false);
}

static void test_torture_tcp(void **state)
{
	(void)state;
	torture(true);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_torture_udp, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_torture_tcp, setup,
						teardown),
	};

	gw_log_set_levels("warn");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
