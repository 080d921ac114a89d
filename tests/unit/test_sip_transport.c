/* tests/unit/test_sip_transport.c - framing, transports, calls between UAs */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"
#include "sip/sip_int.h"

/*
 * White-box where it must be (sip_frame, the frame timeout), otherwise
 * through sip.h: two user agents on one loop call each other over UDP
 * and TCP, hold and resume, glare (491 and the s.14.1 back-off), CANCEL,
 * hang-up both ways; OPTIONS; oversized and never-ending messages;
 * idle connections.  Every test runs its own loop and is leak-checked.
 */

#define PORT_A 25610
#define PORT_B 25620

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

/* ---- framing (RFC 3261 s.18.3) -------------------------------------- */

static void test_frame(void **state)
{
	static const char ok[] = "OPTIONS sip:a@b SIP/2.0\r\n"
		"Content-Length: 4\r\n\r\nabcdEXTRA";
	static const char compact[] = "OPTIONS sip:a@b SIP/2.0\r\n"
		"l : 2\r\n\r\nab";
	static const char none[] = "OPTIONS sip:a@b SIP/2.0\r\nX: y\r\n\r\nzz";
	static const char neg[] = "OPTIONS sip:a@b SIP/2.0\r\n"
		"Content-Length: -999\r\n\r\n";
	static const char two[] = "OPTIONS sip:a@b SIP/2.0\r\n"
		"Content-Length: 1\r\nl: 2\r\n\r\nab";
	static const char big[] = "OPTIONS sip:a@b SIP/2.0\r\n"
		"Content-Length: 99999\r\n\r\n";
	size_t len, hlen;

	(void)state;
	assert_int_equal(sip_frame(ok, strlen(ok), true, 65535, &len, &hlen),
			 0);
	assert_int_equal(len, strlen(ok) - 5);	/* EXTRA is not ours */
	assert_int_equal(sip_frame(ok, strlen(ok), false, 65535, &len, &hlen),
			 0);
	assert_int_equal(len, strlen(ok) - 5);
	/* A stream that has not all of it yet. */
	assert_int_equal(sip_frame(ok, 30, true, 65535, &len, &hlen), EAGAIN);
	assert_int_equal(sip_frame(ok, strlen(ok) - 7, true, 65535, &len,
				   &hlen), EAGAIN);
	assert_int_equal(sip_frame(compact, strlen(compact), true, 65535,
				   &len, &hlen), 0);
	assert_int_equal(len, strlen(compact));
	/* No Content-Length: the datagram frames it; a stream cannot. */
	assert_int_equal(sip_frame(none, strlen(none), false, 65535, &len,
				   &hlen), 0);
	assert_int_equal(len, strlen(none));
	assert_int_equal(sip_frame(none, strlen(none), true, 65535, &len,
				   &hlen), EBADMSG);
	assert_int_equal(sip_frame(neg, strlen(neg), true, 65535, &len,
				   &hlen), EBADMSG);
	assert_int_equal(sip_frame(two, strlen(two), false, 65535, &len,
				   &hlen), EBADMSG);
	assert_int_equal(sip_frame(big, strlen(big), true, 65535, &len,
				   &hlen), EMSGSIZE);
	/* A datagram shorter than its Content-Length (RFC 4475 clerr). */
	assert_int_equal(sip_frame(ok, strlen(ok) - 7, false, 65535, &len,
				   &hlen), EBADMSG);
	/* Headers that never end, beyond max. */
	assert_int_equal(sip_frame(none, 20, true, 20, &len, &hlen),
			 EMSGSIZE);
}

/* ---- a UA and raw sockets ------------------------------------------- */

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

static struct sip_ua *ua_new_tls(unsigned port, sip_incoming_h *inh,
				 void *arg)
{
	struct sip_ua *ua = ua_new(port, inh, arg, NULL);
	struct sip_listener_conf lc = {0};
	static char cert[512], key[512];
	const char *src = getenv("JUNCTION_SRCDIR");

	snprintf(cert, sizeof(cert), "%s/tests/data/sip-tls/cert.pem",
		 src ? src : ".");
	snprintf(key, sizeof(key), "%s/tests/data/sip-tls/key.pem",
		 src ? src : ".");
	lc.transport = SIP_TLS;
	lc.addr = "127.0.0.1";
	lc.port = port + 1;
	lc.cert = cert;
	lc.key = key;
	lc.ca = cert;		/* self-signed: it is its own CA */
	lc.verify = true;
	assert_int_equal(sip_ua_listen(ua, &lc), 0);
	return ua;
}

struct rx {
	int fd;
	char buf[8192];
	size_t len;
	bool eof;
};

static void rx_readable(int flags, void *arg)
{
	struct rx *r = arg;
	ssize_t n;

	(void)flags;
	n = recv(r->fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len, 0);
	if (n <= 0) {
		r->eof = true;
		gw_fd_close(r->fd);
	} else {
		r->len += (size_t)n;
		r->buf[r->len] = '\0';
	}
	gw_loop_stop();
}

static int sock_to(int type, unsigned port, unsigned src_port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, type, 0), one = 1;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)src_port);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	a.sin_port = htons((uint16_t)port);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static const char options_fmt[] =
	"OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\n"
	"Via: SIP/2.0/%s 127.0.0.1:%u;branch=z9hG4bKopt%u;rport\r\n"
	"From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:gw@127.0.0.1>\r\n"
	"Call-ID: opt%u@test\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
	"Content-Length: 0\r\n\r\n";

static void test_options(void **state)
{
	struct sip_ua *ua = ua_new(PORT_A, NULL, NULL, NULL);
	struct rx r = {0};
	char msg[512];
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		bool tcp = i == 1;

		struct sockaddr_in me;
		socklen_t ml = sizeof(me);
		unsigned port;

		memset(&r, 0, sizeof(r));
		/* TCP from an ephemeral port: a fixed one could still be in
		 * TIME_WAIT from an earlier run. */
		r.fd = sock_to(tcp ? SOCK_STREAM : SOCK_DGRAM, PORT_A,
			       tcp ? 0 : PORT_B);
		getsockname(r.fd, (struct sockaddr *)&me, &ml);
		port = ntohs(me.sin_port);
		snprintf(msg, sizeof(msg), options_fmt, tcp ? "TCP" : "UDP",
			 port, (unsigned)i, (unsigned)i);
		assert_int_equal(send(r.fd, msg, strlen(msg), 0),
				 (ssize_t)strlen(msg));
		assert_int_equal(gw_fd_listen(r.fd, GW_FD_READ, rx_readable,
					      &r), 0);
		while (!strstr(r.buf, "\r\n\r\n") && !r.eof)
			assert_int_equal(gw_loop_run_timeout(2000), 0);
		assert_non_null(strstr(r.buf, "SIP/2.0 200 "));
		assert_non_null(strstr(r.buf, "Allow: INVITE"));
		assert_non_null(strstr(r.buf, "Accept: application/sdp"));
		assert_non_null(strstr(r.buf, "Supported: "));
		/* RFC 3581: rport filled in (received only when the
		 * sent-by differs from the source, s.18.2.1). */
		snprintf(msg, sizeof(msg), "rport=%u", port);
		assert_non_null(strstr(r.buf, msg));
		gw_fd_close(r.fd);
		close(r.fd);
	}
	gw_mem_deref(ua);
}

static json_t *stats(struct sip_ua *ua)
{
	json_t *j = sip_ua_json(ua);
	json_t *s = json_incref(json_object_get(j, "stats"));

	json_decref(j);
	return s;
}

static void test_oversized(void **state)
{
	struct sip_conf conf = { .max_message = 2048 };
	struct sip_ua *ua = ua_new(PORT_A, NULL, NULL, &conf);
	char *big = malloc(4096);
	struct rx r = {0};
	json_t *s;

	(void)state;
	memset(big, 'x', 4096);
	memcpy(big, "OPTIONS sip:a@b SIP/2.0\r\n", 25);
	/* UDP: a datagram beyond max_message is dropped unread. */
	r.fd = sock_to(SOCK_DGRAM, PORT_A, PORT_B);
	assert_int_equal(send(r.fd, big, 4096, 0), 4096);
	gw_loop_run_timeout(100);
	s = stats(ua);
	assert_int_equal(json_integer_value(json_object_get(s, "rx_dropped")),
			 1);
	json_decref(s);
	close(r.fd);
	/* TCP: a message that outgrows the buffer loses its connection. */
	memset(&r, 0, sizeof(r));
	r.fd = sock_to(SOCK_STREAM, PORT_A, 0);
	assert_int_equal(gw_fd_listen(r.fd, GW_FD_READ, rx_readable, &r), 0);
	assert_int_equal(send(r.fd, big, 4096, MSG_NOSIGNAL), 4096);
	while (!r.eof)
		assert_int_equal(gw_loop_run_timeout(2000), 0);
	close(r.fd);
	free(big);
	gw_mem_deref(ua);
}

static void test_tcp_incomplete_and_idle(void **state)
{
	struct sip_conf conf = { .tcp_idle_s = 1 };
	struct sip_ua *ua = ua_new(PORT_A, NULL, NULL, &conf);
	struct rx r = {0};
	uint64_t t0;

	(void)state;
	ua->frame_timeout_ms = 200;
	/* Half a message, never finished: dropped after the frame timer. */
	r.fd = sock_to(SOCK_STREAM, PORT_A, 0);
	assert_int_equal(gw_fd_listen(r.fd, GW_FD_READ, rx_readable, &r), 0);
	assert_int_equal(send(r.fd, "OPTIONS sip:a@b SIP/2.0\r\nVia: ", 30,
			      MSG_NOSIGNAL), 30);
	t0 = gw_now_ms();
	while (!r.eof)
		assert_int_equal(gw_loop_run_timeout(2000), 0);
	assert_true(gw_now_ms() - t0 < 1000);
	close(r.fd);
	/* An idle connection is closed after tcp_idle_s. */
	memset(&r, 0, sizeof(r));
	r.fd = sock_to(SOCK_STREAM, PORT_A, 0);
	assert_int_equal(gw_fd_listen(r.fd, GW_FD_READ, rx_readable, &r), 0);
	/* A CRLFCRLF keepalive gets its CRLF (RFC 5626 s.4.4.1). */
	assert_int_equal(send(r.fd, "\r\n\r\n", 4, MSG_NOSIGNAL), 4);
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	assert_string_equal(r.buf, "\r\n");
	t0 = gw_now_ms();
	while (!r.eof)
		assert_int_equal(gw_loop_run_timeout(3000), 0);
	assert_true(gw_now_ms() - t0 >= 900);
	close(r.fd);
	gw_mem_deref(ua);
}

/* ---- two UAs calling each other ------------------------------------- */

struct side {
	struct sip_session *sess;
	unsigned answered, modified, closed, progress, held;
	unsigned last_status;
	int last_cause;
	int ring_only;		/* UAS: 180 and wait */
	int early_media;	/* UAS: 183 with SDP, then answer */
	int no_offer;		/* UAS: expect an INVITE without SDP */
	unsigned media;		/* ANSWERED/PROGRESS events with media */
	const char *sdp;
};

static const char sdp_a[] =
	"v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
	"t=0 0\r\nm=audio 4000 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:0 PCMU/8000\r\n";
static const char sdp_b[] =
	"v=0\r\no=b 2 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
	"t=0 0\r\nm=audio 5000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
static const char sdp_a_hold[] =
	"v=0\r\no=a 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
	"t=0 0\r\nm=audio 4000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
	"a=sendonly\r\n";
static const char sdp_b_hold[] =
	"v=0\r\no=b 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
	"t=0 0\r\nm=audio 5000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
	"a=sendonly\r\n";

static void side_event(struct sip_session *sess,
		       const struct sip_session_event *ev, void *arg)
{
	struct side *s = arg;

	(void)sess;
	switch (ev->type) {
	case SIP_SESS_PROGRESS:
		s->progress++;
		s->media += ev->media != NULL;
		break;
	case SIP_SESS_ANSWERED:
		s->answered++;
		s->media += ev->media != NULL;
		break;
	case SIP_SESS_MODIFIED:
		s->modified++;
		if (ev->media && ev->media->hold)
			s->held++;
		break;
	case SIP_SESS_CLOSED:
		s->closed++;
		s->last_status = ev->status;
		s->last_cause = ev->reason.q850;
		s->sess = NULL;
		break;
	default:
		break;
	}
	gw_loop_stop();
}

static void uas_incoming(struct sip_session *sess,
			 const struct sip_incoming *in, void *arg)
{
	struct side *s = arg;

	assert_string_equal(in->request_uri_user, "1000");
	assert_string_equal(in->from.user, "5551234");
	if (s->no_offer) {
		/* Our reliable 183 makes the offer; the PRACK answers. */
		assert_null(in->offer);
		s->sess = sess;
		sip_session_set_handler(sess, side_event, s);
		assert_int_equal(sip_session_progress(sess, 183, sdp_b), 0);
		assert_int_equal(sip_session_answer(sess, sdp_b), 0);
		return;
	}
	assert_non_null(in->offer);
	assert_string_equal(in->offer->codec, "PCMA");
	s->sess = sess;
	sip_session_set_handler(sess, side_event, s);
	if (s->ring_only) {
		assert_int_equal(sip_session_progress(sess, 180, NULL), 0);
		return;
	}
	if (s->early_media)
		assert_int_equal(sip_session_progress(sess, 183, sdp_b), 0);
	assert_int_equal(sip_session_answer(sess, sdp_b), 0);
}

static void run_until(unsigned *counter, unsigned want)
{
	int i;

	for (i = 0; i < 50 && *counter < want; i++)
		gw_loop_run_timeout(200);
	assert_int_equal(*counter, want);
}

static void no_leftovers(struct sip_ua *ua)
{
	json_t *j = sip_ua_json(ua);

	assert_int_equal(json_integer_value(json_object_get(j, "pending")), 0);
	assert_int_equal(json_array_size(json_object_get(j, "sessions")), 0);
	json_decref(j);
}

static void call(enum sip_transport tp)
{
	struct side a = {0}, b = {0};
	struct sip_ua *ua_a = tp == SIP_TLS ? ua_new_tls(PORT_A, NULL, NULL) :
		ua_new(PORT_A, NULL, NULL, NULL);
	struct sip_ua *ua_b = tp == SIP_TLS ?
		ua_new_tls(PORT_B, uas_incoming, &b) :
		ua_new(PORT_B, uas_incoming, &b, NULL);
	struct sip_call_params p = {0};
	struct sip_reason r = { 16, -1 };
	char uri[64];

	if (tp == SIP_TLS)
		snprintf(uri, sizeof(uri), "sips:1000@127.0.0.1:%u",
			 PORT_B + 1);
	else
		snprintf(uri, sizeof(uri), "sip:1000@127.0.0.1:%u%s", PORT_B,
			 tp == SIP_TCP ? ";transport=tcp" : "");
	p.uri = uri;
	snprintf(p.from.user, sizeof(p.from.user), "5551234");
	p.sdp = sdp_a;
	assert_int_equal(sip_session_connect(&a.sess, ua_a, &p, side_event,
					     &a), 0);
	run_until(&a.answered, 1);
	run_until(&b.answered, 1);	/* the ACK came */
	/* A holds B, then resumes (RFC 3264 s.8.4). */
	assert_int_equal(sip_session_modify(a.sess, sdp_a_hold), 0);
	run_until(&a.modified, 1);
	assert_int_equal(b.modified, 1);
	assert_int_equal(b.held, 1);
	assert_int_equal(sip_session_modify(a.sess, sdp_a), 0);
	run_until(&a.modified, 2);
	assert_int_equal(b.modified, 2);
	assert_int_equal(b.held, 1);
	/* B hangs up with a cause; A hears it (RFC 3326). */
	assert_int_equal(sip_session_hangup(b.sess, 0, &r), 0);
	b.sess = NULL;
	run_until(&a.closed, 1);
	assert_int_equal(a.last_cause, 16);
	gw_loop_run_timeout(50);
	no_leftovers(ua_a);
	no_leftovers(ua_b);
	gw_mem_deref(ua_a);
	gw_mem_deref(ua_b);
}

static void test_call_udp(void **state)
{
	(void)state;
	call(SIP_UDP);
}

static void test_call_tcp(void **state)
{
	(void)state;
	call(SIP_TCP);
}

static void test_call_tls(void **state)
{
	(void)state;
	call(SIP_TLS);
}

static void test_cancel(void **state)
{
	struct side a = {0}, b = { .ring_only = 1 };
	struct sip_ua *ua_a = ua_new(PORT_A, NULL, NULL, NULL);
	struct sip_ua *ua_b = ua_new(PORT_B, uas_incoming, &b, NULL);
	struct sip_call_params p = {0};
	struct sip_reason r = { 16, -1 };
	char uri[64];

	(void)state;
	snprintf(uri, sizeof(uri), "sip:1000@127.0.0.1:%u", PORT_B);
	p.uri = uri;
	snprintf(p.from.user, sizeof(p.from.user), "5551234");
	p.sdp = sdp_a;
	assert_int_equal(sip_session_connect(&a.sess, ua_a, &p, side_event,
					     &a), 0);
	run_until(&a.progress, 1);
	assert_int_equal(sip_session_hangup(a.sess, 0, &r), 0);
	run_until(&b.closed, 1);
	assert_int_equal(b.last_status, 487);
	assert_int_equal(b.last_cause, 16);
	gw_loop_run_timeout(100);
	no_leftovers(ua_b);
	gw_mem_deref(ua_a);
	gw_mem_deref(ua_b);
}

static void test_glare(void **state)
{
	struct side a = {0}, b = {0};
	struct sip_ua *ua_a = ua_new(PORT_A, NULL, NULL, NULL);
	struct sip_ua *ua_b = ua_new(PORT_B, uas_incoming, &b, NULL);
	struct sip_call_params p = {0};
	char uri[64];

	(void)state;
	snprintf(uri, sizeof(uri), "sip:1000@127.0.0.1:%u", PORT_B);
	p.uri = uri;
	snprintf(p.from.user, sizeof(p.from.user), "5551234");
	p.sdp = sdp_a;
	assert_int_equal(sip_session_connect(&a.sess, ua_a, &p, side_event,
					     &a), 0);
	run_until(&b.answered, 1);
	/* Both re-INVITE at once: each gets 491 and retries after its
	 * RFC 3261 s.14.1 back-off; both changes go through. */
	assert_int_equal(sip_session_modify(a.sess, sdp_a_hold), 0);
	assert_int_equal(sip_session_modify(b.sess, sdp_b_hold), 0);
	run_until(&a.modified, 2);
	run_until(&b.modified, 2);
	assert_int_equal(sip_session_hangup(a.sess, 0, NULL), 0);
	run_until(&b.closed, 1);
	gw_loop_run_timeout(50);
	no_leftovers(ua_b);
	gw_mem_deref(ua_a);
	gw_mem_deref(ua_b);
}

static void test_session_timer(void **state)
{
	struct sip_conf conf = { .session_expires_s = 90 };
	struct side a = {0}, b = {0};
	struct sip_ua *ua_a = ua_new(PORT_A, NULL, NULL, &conf);
	struct sip_ua *ua_b = ua_new(PORT_B, uas_incoming, &b, NULL);
	struct sip_call_params p = {0};
	json_t *st;
	char uri[64];
	int i;

	(void)state;
	/* 90 "seconds" of 10 ms: A refreshes every 450 ms, B would give
	 * up after 600 ms without a refresh. */
	ua_a->st_unit_ms = 10;
	ua_b->st_unit_ms = 10;
	snprintf(uri, sizeof(uri), "sip:1000@127.0.0.1:%u", PORT_B);
	p.uri = uri;
	snprintf(p.from.user, sizeof(p.from.user), "5551234");
	p.sdp = sdp_a;
	assert_int_equal(sip_session_connect(&a.sess, ua_a, &p, side_event,
					     &a), 0);
	run_until(&b.answered, 1);
	for (i = 0; i < 20; i++)
		gw_loop_run_timeout(100);
	/* Two seconds: three or four refreshes, reported to nobody, no
	 * expiry. */
	assert_int_equal(b.closed, 0);
	assert_int_equal(a.closed, 0);
	assert_int_equal(a.modified, 0);
	st = stats(ua_b);
	/* INVITE and ACK, then a re-INVITE and its ACK per refresh. */
	assert_true(json_integer_value(json_object_get(st, "rx_msgs")) >= 8);
	json_decref(st);
	/* A goes silent (its UA is gone without a BYE reaching B): B ends
	 * the session when the interval runs out (RFC 4028 s.10). */
	ua_a->st_unit_ms = 100000;
	run_until(&b.closed, 1);
	assert_int_equal(b.last_status, 408);
	assert_int_equal(sip_session_hangup(a.sess, 0, NULL), 0);
	gw_loop_run_timeout(50);
	no_leftovers(ua_b);
	gw_mem_deref(ua_a);
	gw_mem_deref(ua_b);
}

static void test_prack(void **state)
{
	struct sip_conf conf = { .prack = true };
	struct side a = {0}, b = { .early_media = 1 };
	struct sip_ua *ua_a = ua_new(PORT_A, NULL, NULL, &conf);
	struct sip_ua *ua_b = ua_new(PORT_B, uas_incoming, &b, &conf);
	struct sip_call_params p = {0};
	char uri[64];
	json_t *st;

	(void)state;
	snprintf(uri, sizeof(uri), "sip:1000@127.0.0.1:%u", PORT_B);
	p.uri = uri;
	snprintf(p.from.user, sizeof(p.from.user), "5551234");
	p.sdp = sdp_a;
	/* B sends a reliable 183 with SDP and answers at once: the 200
	 * waits for A's PRACK (RFC 3262 s.3). */
	assert_int_equal(sip_session_connect(&a.sess, ua_a, &p, side_event,
					     &a), 0);
	run_until(&a.answered, 1);
	assert_int_equal(a.progress, 1);
	run_until(&b.answered, 1);
	/* INVITE, PRACK, ACK */
	st = stats(ua_b);
	assert_int_equal(json_integer_value(json_object_get(st, "rx_msgs")), 3);
	json_decref(st);
	assert_int_equal(sip_session_hangup(a.sess, 0, NULL), 0);
	run_until(&b.closed, 1);
	gw_loop_run_timeout(50);
	no_leftovers(ua_a);
	no_leftovers(ua_b);
	gw_mem_deref(ua_a);
	gw_mem_deref(ua_b);
}

/* An INVITE without an offer: B's reliable 183 offers, A's PRACK
 * answers (RFC 3262 s.5), the 200 follows that PRACK; both sides end
 * with the other's SDP. */
static void test_prack_offer(void **state)
{
	struct sip_conf conf = { .prack = true };
	struct side a = {0}, b = { .no_offer = 1 };
	struct sip_ua *ua_a = ua_new(PORT_A, NULL, NULL, &conf);
	struct sip_ua *ua_b = ua_new(PORT_B, uas_incoming, &b, &conf);
	struct sip_call_params p = {0};
	char uri[64];

	(void)state;
	snprintf(uri, sizeof(uri), "sip:1000@127.0.0.1:%u", PORT_B);
	p.uri = uri;
	snprintf(p.from.user, sizeof(p.from.user), "5551234");
	assert_int_equal(sip_session_connect(&a.sess, ua_a, &p, side_event,
					     &a), 0);
	run_until(&a.answered, 1);
	run_until(&b.answered, 1);
	assert_int_equal(a.progress, 1);
	assert_true(a.media >= 1);	/* the 183's offer */
	assert_int_equal(b.media, 1);	/* the PRACK's answer, at the ACK */
	assert_int_equal(sip_session_hangup(a.sess, 0, NULL), 0);
	run_until(&b.closed, 1);
	gw_loop_run_timeout(50);
	no_leftovers(ua_a);
	no_leftovers(ua_b);
	gw_mem_deref(ua_a);
	gw_mem_deref(ua_b);
}

/* ---- digest authentication (RFC 3261 s.22.2) ------------------------- */

static int auth_lookup(struct sip_auth_secret *sec, const char *user,
		       const char *realm, enum sip_auth_alg alg, void *arg)
{
	(void)realm;
	(void)alg;
	(void)arg;
	if (strcmp(user, "alice"))
		return ENOENT;
	sec->password = "secret";
	return 0;
}

/* A calls B, which requires digest auth, with user/pass; status is how
 * A's call should end (0: answered, then A hangs up). */
static void auth_call(const char *user, const char *pass, unsigned status,
		      const char *acl)
{
	struct side a = {0}, b = {0};
	struct sip_ua *ua_a = ua_new(PORT_A, NULL, NULL, NULL);
	struct sip_ua *ua_b = ua_new(PORT_B, uas_incoming, &b, NULL);
	struct sip_auth_conf ac = { .realm = "test", .lookuph = auth_lookup,
				    .acl = &acl, .n_acl = acl ? 1 : 0 };
	struct sip_call_params p = {0};
	json_t *j;

	assert_int_equal(sip_ua_set_auth(ua_b, &ac), 0);
	p.uri = "sip:1000@127.0.0.1:25620";
	snprintf(p.from.user, sizeof(p.from.user), "5551234");
	p.sdp = sdp_a;
	p.auth_user = user;
	p.auth_password = pass;
	assert_int_equal(sip_session_connect(&a.sess, ua_a, &p, side_event,
					     &a), 0);
	if (status) {
		run_until(&a.closed, 1);
		assert_int_equal(a.last_status, status);
		assert_int_equal(b.answered, 0);
		assert_null(b.sess);
	} else {
		run_until(&a.answered, 1);
		run_until(&b.answered, 1);
		assert_int_equal(sip_session_hangup(a.sess, 0, NULL), 0);
		a.sess = NULL;
		run_until(&b.closed, 1);
	}
	gw_loop_run_timeout(50);
	j = sip_ua_json(ua_b);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
		j, "stats"), "auth_challenged")), acl ? 0 : 1);
	json_decref(j);
	no_leftovers(ua_a);
	no_leftovers(ua_b);
	gw_mem_deref(ua_a);
	gw_mem_deref(ua_b);
}

static void test_auth(void **state)
{
	(void)state;
	auth_call("alice", "secret", 0, NULL);		/* one 401, then 200 */
	auth_call("alice", "wrong", 403, NULL);	/* the same 403 ... */
	auth_call("mallory", "secret", 403, NULL);	/* ... for no such user */
	auth_call(NULL, NULL, 401, NULL);		/* nothing to answer */
	auth_call(NULL, NULL, 0, "127.0.0.0/8");	/* the ACL lets it in */
	{
		struct sip_ua *ua = ua_new(PORT_A, NULL, NULL, NULL);
		const char *bad = "10.0.0.0/33";
		struct sip_auth_conf ac = { .lookuph = auth_lookup,
					    .acl = &bad, .n_acl = 1 };

		assert_int_equal(sip_ua_set_auth(ua, &ac), EINVAL);
		assert_int_equal(sip_ua_set_auth(ua, NULL), 0);
		gw_mem_deref(ua);
	}
}

/* A name that cannot resolve (RFC 2606 .invalid): the call closes with
 * 404, as RFC 3263 resolution failing says. */
static void test_names_unresolved(void **state)
{
	struct sip_ua *ua = ua_new(PORT_A, NULL, NULL, NULL);
	struct sip_call_params p = { .uri = "sip:1000@pbx.invalid" };
	struct side a = {0};

	(void)state;
	assert_int_equal(sip_session_connect(&a.sess, ua, &p, side_event,
					     &a), 0);
	run_until(&a.closed, 1);
	assert_int_equal(a.last_status, 404);
	gw_mem_deref(ua);
}

/* ---- connections that fail (RFC 3261 s.17.1.1.2, s.8.1.3.1) -------- */

/*
 * A call whose connection fails before the peer answers closes with 503
 * at once, not at Timer B: T1 is 50 ms here, so Timer B is 3.2 s and
 * the call must close well inside one second.
 */
static void conn_fails(struct sip_ua *ua_a, const char *uri)
{
	struct sip_call_params p = {0};
	struct side a = {0};
	uint64_t t0 = gw_now_ms();

	p.uri = uri;
	snprintf(p.from.user, sizeof(p.from.user), "5551234");
	p.sdp = sdp_a;
	assert_int_equal(sip_session_connect(&a.sess, ua_a, &p, side_event,
					     &a), 0);
	run_until(&a.closed, 1);
	assert_int_equal(a.last_status, 503);
	assert_true(gw_now_ms() - t0 < 1000);
	gw_loop_run_timeout(50);
	no_leftovers(ua_a);
}

/* Nobody listens on the port: the connect is refused. */
static void test_tcp_refused(void **state)
{
	struct sip_conf conf = { .t1_ms = 50 };
	struct sip_ua *ua_a = ua_new(PORT_A, NULL, NULL, &conf);
	char uri[64];

	(void)state;
	snprintf(uri, sizeof(uri), "sip:1000@127.0.0.1:%u;transport=tcp",
		 PORT_B + 9);
	conn_fails(ua_a, uri);
	gw_mem_deref(ua_a);
}

/* A's trust is the system's, where B's self-signed certificate is not:
 * the handshake fails on A's side. */
static void test_tls_untrusted(void **state)
{
	struct sip_conf conf = { .t1_ms = 50 };
	struct sip_ua *ua_a = ua_new(PORT_A, NULL, NULL, &conf);
	struct sip_ua *ua_b = ua_new_tls(PORT_B, NULL, NULL);
	struct sip_listener_conf lc = {0};
	const char *src = getenv("JUNCTION_SRCDIR");
	char cert[512], key[512], uri[64];

	(void)state;
	snprintf(cert, sizeof(cert), "%s/tests/data/sip-tls/cert.pem",
		 src ? src : ".");
	snprintf(key, sizeof(key), "%s/tests/data/sip-tls/key.pem",
		 src ? src : ".");
	lc.transport = SIP_TLS;
	lc.addr = "127.0.0.1";
	lc.port = PORT_A + 1;
	lc.cert = cert;
	lc.key = key;
	lc.verify = true;
	assert_int_equal(sip_ua_listen(ua_a, &lc), 0);
	snprintf(uri, sizeof(uri), "sips:1000@127.0.0.1:%u", PORT_B + 1);
	conn_fails(ua_a, uri);
	gw_mem_deref(ua_a);
	gw_mem_deref(ua_b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tcp_incomplete_and_idle,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_udp, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_call_tcp, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_call_tls, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_glare, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_timer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_prack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prack_offer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_unresolved, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tcp_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tls_untrusted, setup,
						teardown),
	};

	gw_log_set_levels("warn");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
