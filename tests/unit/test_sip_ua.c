/* tests/unit/test_sip_ua.c - keepalives, identities, loops, UPDATE, RFC 6026 */
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
 * Two user agents on one loop over loopback, and raw sockets where the
 * peer must misbehave on purpose: OPTIONS keepalives going down and up
 * (RFC 3261 s.11), P-Asserted-Identity, Privacy, Diversion and
 * History-Info both ways (RFC 3325, 3323, 5806, 7044), a request of
 * ours coming back (482, s.8.2.2.2), UPDATE in early and confirmed
 * dialogs (RFC 3311), Replaces (RFC 3891), an INVITE retransmitted
 * across our 200 (RFC 6026),
 * multipart bodies libosip2 must not see, thousands of live transactions
 * and the timers of one (s.17).  Leak-checked per test.
 */

#define PORT_A 25630
#define PORT_B 25640
#define PORT_C 25650

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

static json_t *stat_of(struct sip_ua *ua, const char *name)
{
	json_t *j = sip_ua_json(ua);
	json_t *v = json_incref(json_object_get(json_object_get(j, "stats"),
						name));

	json_decref(j);
	return v;
}

static long long stat_int(struct sip_ua *ua, const char *name)
{
	json_t *v = stat_of(ua, name);
	long long n = json_integer_value(v);

	json_decref(v);
	return n;
}

/* ---- a raw UDP peer ------------------------------------------------- */

struct raw {
	int fd;
	char buf[8192];
	size_t len;
	struct sockaddr_in from;
	unsigned answer;	/* status to answer OPTIONS with; 0: none */
	unsigned got;
	unsigned busy;		/* INVITEs to answer 486 */
	unsigned acks;
	char resp[2048];	/* the last answer */
};

static void raw_readable(int flags, void *arg);

static void raw_open(struct raw *r, unsigned port)
{
	struct sockaddr_in a;
	int one = 1;

	memset(r, 0, sizeof(*r));
	r->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(r->fd >= 0);
	setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(gw_fd_listen(r->fd, GW_FD_READ, raw_readable, r), 0);
}

static void raw_close(struct raw *r)
{
	gw_fd_close(r->fd);
	close(r->fd);
}

/* Copy the header line name (with its CRLF) of msg to out. */
static void copy_line(char *out, size_t size, const char *msg,
		      const char *name)
{
	const char *p = strstr(msg, name), *e;

	if (!p)
		return;
	e = strstr(p, "\r\n");
	snprintf(out + strlen(out), size - strlen(out), "%.*s\r\n",
		 (int)(e - p), p);
}

static void raw_send(struct raw *r, const char *text, unsigned port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	assert_int_equal(sendto(r->fd, text, strlen(text), 0,
				(struct sockaddr *)&a, sizeof(a)),
			 (ssize_t)strlen(text));
}

static void raw_readable(int flags, void *arg)
{
	struct raw *r = arg;
	socklen_t sl = sizeof(r->from);
	char *resp = r->resp;
	ssize_t n;

	(void)flags;
	n = recvfrom(r->fd, r->buf, sizeof(r->buf) - 1, 0,
		     (struct sockaddr *)&r->from, &sl);
	if (n <= 0)
		return;
	r->len = (size_t)n;
	r->buf[n] = '\0';
	r->got++;
	if (!strncmp(r->buf, "ACK ", 4))
		r->acks++;
	if ((r->answer && !strncmp(r->buf, "OPTIONS ", 8)) ||
	    (r->busy && !strncmp(r->buf, "INVITE ", 7))) {
		bool inv = r->buf[0] == 'I';
		char *to;

		snprintf(resp, sizeof(r->resp), "SIP/2.0 %u X\r\n",
			 inv ? 486 : r->answer);
		copy_line(resp, sizeof(r->resp), r->buf, "Via: ");
		copy_line(resp, sizeof(r->resp), r->buf, "From: ");
		copy_line(resp, sizeof(r->resp), r->buf, "To: ");
		if (inv) {
			to = strstr(resp, "To: ");
			memmove(strstr(to, "\r\n") + 7, strstr(to, "\r\n"),
				strlen(strstr(to, "\r\n")) + 1);
			memcpy(strstr(to, "\r\n"), ";tag=rb", 7);
			r->busy--;
		}
		copy_line(resp, sizeof(r->resp), r->buf, "Call-ID: ");
		copy_line(resp, sizeof(r->resp), r->buf, "CSeq: ");
		strcat(resp, "Content-Length: 0\r\n\r\n");
		sendto(r->fd, resp, strlen(resp), 0,
		       (struct sockaddr *)&r->from, sl);
	}
	gw_loop_stop();
}

/* ---- OPTIONS keepalives (RFC 3261 s.11) ----------------------------- */

struct peers {
	unsigned up, down;
	enum sip_peer_state last;
	unsigned last_status;
};

static void peer_event(struct sip_peer *peer, const struct sip_peer_info *i,
		       void *arg)
{
	struct peers *p = arg;

	(void)peer;
	assert_non_null(i->name);
	if (i->state == SIP_PEER_UP)
		p->up++;
	if (i->state == SIP_PEER_DOWN)
		p->down++;
	p->last = i->state;
	p->last_status = i->last_status;
	gw_loop_stop();
}

static void run_until(unsigned *counter, unsigned want)
{
	int i;

	for (i = 0; i < 50 && *counter < want; i++)
		gw_loop_run_timeout(200);
	assert_int_equal(*counter, want);
}

static void test_peer_keepalive(void **state)
{
	struct sip_ua *ua_a = ua_new(PORT_A, NULL, NULL, NULL);
	struct sip_ua *ua_b = ua_new(PORT_B, NULL, NULL, NULL);
	struct sip_peer_conf pc = {
		.name = "b", .host = "127.0.0.1", .port = PORT_B,
		.transport = SIP_UDP, .interval_s = 2, .max_failures = 2,
	};
	struct peers pb = {0}, pt = {0};
	json_t *j, *arr;

	(void)state;
	ua_a->peer_unit_ms = 100;	/* 200 ms intervals */
	assert_int_equal(sip_peer_add(NULL, ua_a, &pc, peer_event, &pb), 0);
	assert_int_equal(sip_peer_add(NULL, ua_a, &pc, peer_event, &pb),
			 EEXIST);
	pc.name = "b-tcp";
	pc.transport = SIP_TCP;
	assert_int_equal(sip_peer_add(NULL, ua_a, &pc, peer_event, &pt), 0);
	assert_false(sip_peer_up(ua_a, "b"));
	run_until(&pb.up, 1);
	run_until(&pt.up, 1);
	assert_true(sip_peer_up(ua_a, "b"));
	assert_true(sip_peer_up(ua_a, "b-tcp"));
	assert_int_equal(pb.last_status, 200);
	j = sip_ua_json(ua_a);
	arr = json_object_get(j, "peers");
	assert_int_equal(json_array_size(arr), 2);
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(arr, 0), "state")), "up");
	json_decref(j);
	/* B goes away: two unanswered probes and "b" is down. */
	gw_mem_deref(ua_b);
	run_until(&pb.down, 1);
	run_until(&pt.down, 1);
	assert_false(sip_peer_up(ua_a, "b"));
	assert_int_equal(sip_peer_state(ua_a, "b"), SIP_PEER_DOWN);
	/* B is back: up again on its first answer. */
	ua_b = ua_new(PORT_B, NULL, NULL, NULL);
	run_until(&pb.up, 2);
	assert_int_equal(pb.down, 1);
	assert_int_equal(sip_peer_remove(ua_a, "b-tcp"), 0);
	assert_int_equal(sip_peer_remove(ua_a, "b-tcp"), ENOENT);
	gw_mem_deref(ua_b);
	gw_mem_deref(ua_a);
}

/* What a peer answers decides: a 404 is a live peer, a 503 is not; a
 * name that does not resolve is down. */
static void test_peer_status(void **state)
{
	struct sip_ua *ua = ua_new(PORT_A, NULL, NULL, NULL);
	struct sip_peer_conf pc = {
		.name = "c", .host = "127.0.0.1", .port = PORT_C,
		.interval_s = 2, .max_failures = 2,
	};
	struct sip_peer_conf pn = {
		.name = "n", .host = "pbx.invalid", .interval_s = 2,
		.max_failures = 1,
	};
	struct peers pcs = {0}, pns = {0};
	struct raw r;

	(void)state;
	ua->peer_unit_ms = 100;
	raw_open(&r, PORT_C);
	r.answer = 404;
	assert_int_equal(sip_peer_add(NULL, ua, &pc, peer_event, &pcs), 0);
	assert_int_equal(sip_peer_add(NULL, ua, &pn, peer_event, &pns), 0);
	run_until(&pcs.up, 1);
	assert_int_equal(pcs.last_status, 404);
	r.answer = 503;
	run_until(&pcs.down, 1);
	assert_int_equal(pcs.last_status, 503);
	r.answer = 200;
	run_until(&pcs.up, 2);
	run_until(&pns.down, 1);
	assert_int_equal(pns.up, 0);
	assert_int_equal(pns.last_status, 404);	/* no such name */
	raw_close(&r);
	gw_mem_deref(ua);
}

/* ---- calls ---------------------------------------------------------- */

struct side {
	struct sip_session *sess;
	unsigned incoming, answered, modified, closed, progress, held;
	unsigned last_status;
	bool ring183;		/* UAS: reliable 183 with SDP, no answer */
	struct sip_incoming in;	/* a copy (strings not kept) */
	struct sip_ua *ua;
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

static void side_event(struct sip_session *sess,
		       const struct sip_session_event *ev, void *arg)
{
	struct side *s = arg;

	(void)sess;
	switch (ev->type) {
	case SIP_SESS_PROGRESS: s->progress++; break;
	case SIP_SESS_ANSWERED: s->answered++; break;
	case SIP_SESS_MODIFIED:
		s->modified++;
		if (ev->media && ev->media->hold)
			s->held++;
		break;
	case SIP_SESS_CLOSED:
		s->closed++;
		s->last_status = ev->status;
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

	s->incoming++;
	s->in = *in;
	s->sess = sess;
	sip_session_set_handler(sess, side_event, s);
	if (s->ring183) {
		assert_int_equal(sip_session_progress(sess, 183, sdp_b), 0);
		return;
	}
	assert_int_equal(sip_session_answer(sess, sdp_b), 0);
}

static void no_leftovers(struct sip_ua *ua)
{
	json_t *j = sip_ua_json(ua);

	assert_int_equal(json_integer_value(json_object_get(j, "pending")), 0);
	assert_int_equal(json_array_size(json_object_get(j, "sessions")), 0);
	json_decref(j);
}

/* ---- identities ----------------------------------------------------- */

static void test_identity_call(void **state)
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
	snprintf(p.from.display, sizeof(p.from.display), "Alice \"A\"");
	p.from.privacy_id = true;
	snprintf(p.pai.user, sizeof(p.pai.user), "+4930123456");
	snprintf(p.pai.display, sizeof(p.pai.display), "Alice");
	snprintf(p.pai.host, sizeof(p.pai.host), "carrier.example");
	snprintf(p.redirect.user, sizeof(p.redirect.user), "2000");
	snprintf(p.redirect.reason, sizeof(p.redirect.reason), "user-busy");
	p.redirect.counter = 2;
	p.sdp = sdp_a;
	assert_int_equal(sip_session_connect(&a.sess, ua_a, &p, side_event,
					     &a), 0);
	run_until(&b.answered, 1);
	assert_string_equal(b.in.from.user, "5551234");
	assert_string_equal(b.in.from.display, "Alice \"A\"");
	assert_true(b.in.from.privacy_id);
	assert_false(b.in.from.privacy_user);
	assert_true(b.in.pai.asserted);
	assert_string_equal(b.in.pai.user, "+4930123456");
	assert_string_equal(b.in.pai.display, "Alice");
	assert_string_equal(b.in.pai.host, "carrier.example");
	assert_true(b.in.pai.privacy_id);
	assert_string_equal(b.in.redirect.user, "2000");
	assert_string_equal(b.in.redirect.reason, "user-busy");
	assert_int_equal(b.in.redirect.counter, 2);
	assert_int_equal(sip_session_hangup(a.sess, 0, NULL), 0);
	run_until(&b.closed, 1);

	/* Privacy: user hides From (RFC 3323 s.4.1.1.3); no PAI. */
	memset(&b.in, 0, sizeof(b.in));
	memset(&p.pai, 0, sizeof(p.pai));
	memset(&p.redirect, 0, sizeof(p.redirect));
	p.from.privacy_user = true;
	a.sess = NULL;
	assert_int_equal(sip_session_connect(&a.sess, ua_a, &p, side_event,
					     &a), 0);
	run_until(&b.answered, 2);
	assert_string_equal(b.in.from.user, "anonymous");
	assert_string_equal(b.in.from.host, "anonymous.invalid");
	assert_true(b.in.from.privacy_user);
	assert_true(b.in.from.privacy_id);
	assert_false(b.in.pai.asserted);
	assert_string_equal(b.in.pai.user, "");
	assert_string_equal(b.in.redirect.user, "");
	assert_int_equal(sip_session_hangup(a.sess, 0, NULL), 0);
	run_until(&b.closed, 2);
	gw_loop_run_timeout(50);
	no_leftovers(ua_b);
	gw_mem_deref(ua_a);
	gw_mem_deref(ua_b);
}

static void read_ident(const char *extra, struct sip_incoming *in)
{
	char text[2048];
	osip_message_t *m = NULL;

	snprintf(text, sizeof(text),
		 "INVITE sip:1000@gw SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\n"
		 "From: \"Bob\" <sip:+15551234@192.0.2.1>;tag=1\r\n"
		 "To: <sip:1000@gw>\r\nCall-ID: id@x\r\nCSeq: 1 INVITE\r\n"
		 "%sContent-Length: 0\r\n\r\n", extra);
	parser_init();
	assert_int_equal(osip_message_init(&m), 0);
	assert_int_equal(osip_message_parse(m, text, strlen(text)), 0);
	memset(in, 0, sizeof(*in));
	sip_ident_read(m, in);
	osip_message_free(m);
}

static void test_identity_parse(void **state)
{
	struct sip_incoming in;

	(void)state;
	/* Two PAIs, tel: first (RFC 3325 s.9.1); Privacy with spaces;
	 * Remote-Party-ID is not read. */
	read_ident("P-Asserted-Identity: <tel:+15550000;cpc=ordinary>, "
		   "\"Bob B\" <sip:+15551111@carrier>\r\n"
		   "Privacy: id ; header\r\n"
		   "Remote-Party-ID: <sip:9999@x>;party=calling\r\n", &in);
	assert_string_equal(in.from.user, "+15551234");
	assert_string_equal(in.from.display, "Bob");
	assert_true(in.pai.asserted);
	assert_string_equal(in.pai.user, "+15550000");
	assert_true(in.from.privacy_id && in.from.privacy_header);
	assert_false(in.from.privacy_user || in.from.privacy_none);
	/* Diversion: newest on top, compact counter defaults to 1. */
	read_ident("Diversion: <sip:3000@a>;reason=no-answer\r\n"
		   "Diversion: <sip:2000@a>;reason=unconditional;counter=1\r\n",
		   &in);
	assert_string_equal(in.redirect.user, "3000");
	assert_string_equal(in.redirect.reason, "no-answer");
	assert_int_equal(in.redirect.counter, 1);
	/* History-Info, RFC 4458 cause on the new target (RFC 7044
	 * s.10.4's example of a busy retarget). */
	read_ident("History-Info: <sip:2000@a>;index=1, "
		   "<sip:4000@b;cause=486>;index=1.1\r\n"
		   "Privacy: none\r\n", &in);
	assert_string_equal(in.redirect.user, "2000");
	assert_string_equal(in.redirect.reason, "user-busy");
	assert_int_equal(in.redirect.cause, 486);
	assert_true(in.from.privacy_none);
	assert_false(in.pai.asserted);
	/* History-Info with the Reason escaped into the old target. */
	read_ident("History-Info: <sip:2000@a?Reason=SIP%3Bcause%3D302>;"
		   "index=1\r\nHistory-Info: <sip:5000@b>;index=1.1\r\n", &in);
	assert_string_equal(in.redirect.user, "2000");
	assert_string_equal(in.redirect.reason, "unconditional");
	/* Diversion wins over History-Info; nothing: empty. */
	read_ident("", &in);
	assert_string_equal(in.redirect.user, "");
	assert_string_equal(in.pai.user, "");
}

/* ---- loops (s.8.2.2.2) ---------------------------------------------- */

static void test_loop_482(void **state)
{
	struct side a = {0}, b = {0};
	struct sip_ua *ua = ua_new(PORT_A, uas_incoming, &b, NULL);
	struct sip_call_params p = {0};
	char uri[64];

	(void)state;
	/* Our own INVITE comes back to us. */
	snprintf(uri, sizeof(uri), "sip:1000@127.0.0.1:%u", PORT_A);
	p.uri = uri;
	p.sdp = sdp_a;
	assert_int_equal(sip_session_connect(&a.sess, ua, &p, side_event,
					     &a), 0);
	run_until(&a.closed, 1);
	assert_int_equal(a.last_status, 482);
	assert_int_equal(b.incoming, 0);
	assert_int_equal(stat_int(ua, "loops"), 1);
	gw_loop_run_timeout(50);
	gw_mem_deref(ua);
}

/* ---- RFC 6026: an INVITE retransmitted across our 200 --------------- */

static const char invite_fmt[] =
	"INVITE sip:1000@127.0.0.1:%u SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKretx1;rport\r\n"
	"From: <sip:5551234@127.0.0.1>;tag=f1\r\n"
	"To: <sip:1000@127.0.0.1>\r\n"
	"Call-ID: retx@test\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
	"Contact: <sip:5551234@127.0.0.1:%u>\r\n"
	"Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s";

static void test_invite_retransmitted_after_2xx(void **state)
{
	struct side b = {0};
	struct sip_ua *ua = ua_new(PORT_B, uas_incoming, &b, NULL);
	struct raw r;
	char msg[2048], ack[1024], totag[64] = "";
	const char *t;
	int i;

	(void)state;
	raw_open(&r, PORT_C);
	snprintf(msg, sizeof(msg), invite_fmt, PORT_B, PORT_C, PORT_C,
		 strlen(sdp_a), sdp_a);
	raw_send(&r, msg, PORT_B);
	for (i = 0; i < 20 && !strstr(r.buf, "SIP/2.0 200"); i++)
		gw_loop_run_timeout(200);
	assert_non_null(strstr(r.buf, "SIP/2.0 200"));
	t = strstr(r.buf, "tag=");
	t = t ? strstr(t + 4, "tag=") : NULL;	/* the To tag */
	assert_non_null(t);
	snprintf(totag, sizeof(totag), "%.*s", (int)strcspn(t + 4, ";\r\n>"),
		 t + 4);
	/* The INVITE again (its retransmission crossed our 200), twice. */
	raw_send(&r, msg, PORT_B);
	raw_send(&r, msg, PORT_B);
	for (i = 0; i < 3; i++)
		gw_loop_run_timeout(100);
	assert_int_equal(b.incoming, 1);
	assert_int_equal(stat_int(ua, "invite_absorbed"), 2);
	/* ACK and BYE close the one session. */
	snprintf(ack, sizeof(ack),
		 "ACK sip:1000@127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKretx2;rport\r\n"
		 "From: <sip:5551234@127.0.0.1>;tag=f1\r\n"
		 "To: <sip:1000@127.0.0.1>;tag=%s\r\n"
		 "Call-ID: retx@test\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\n"
		 "Content-Length: 0\r\n\r\n", PORT_B, PORT_C, totag);
	raw_send(&r, ack, PORT_B);
	run_until(&b.answered, 1);
	snprintf(ack, sizeof(ack),
		 "BYE sip:1000@127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKretx3;rport\r\n"
		 "From: <sip:5551234@127.0.0.1>;tag=f1\r\n"
		 "To: <sip:1000@127.0.0.1>;tag=%s\r\n"
		 "Call-ID: retx@test\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\n"
		 "Content-Length: 0\r\n\r\n", PORT_B, PORT_C, totag);
	raw_send(&r, ack, PORT_B);
	run_until(&b.closed, 1);
	/* A new INVITE (new branch) is a new call. */
	assert_non_null(strstr(msg, "retx1"));
	memcpy(strstr(msg, "retx1"), "retx9", 5);
	memcpy(strstr(msg, "Call-ID: retx"), "Call-ID: rety", 13);
	raw_send(&r, msg, PORT_B);
	run_until(&b.incoming, 2);
	raw_close(&r);
	gw_mem_deref(ua);
}

/* ---- many live transactions; the timers of one (s.17) --------------- */

static const char options_fmt[] =
	"OPTIONS sip:1000@127.0.0.1:%u SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKmany%u.%u\r\n"
	"From: <sip:5551234@127.0.0.1>;tag=f%u\r\n"
	"To: <sip:1000@127.0.0.1>\r\n"
	"Call-ID: many%u@test\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
	"Content-Length: 0\r\n\r\n";

static void send_options(struct raw *r, unsigned id, unsigned branch)
{
	char msg[512];

	snprintf(msg, sizeof(msg), options_fmt, PORT_B, PORT_C, id, branch,
		 id, id);
	raw_send(r, msg, PORT_B);
}

static unsigned tsx_alive(struct sip_ua *ua)
{
	json_t *j = sip_ua_json(ua);
	unsigned n = (unsigned)json_integer_value(
		json_object_get(j, "transactions"));

	json_decref(j);
	return n;
}

/*
 * 3,000 server transactions alive at once (over UDP each OPTIONS's lives
 * Timer J, 64*T1, after its 200): each request is answered, a
 * retransmission finds its transaction among all the others (the 200
 * again, no new transaction), and a request with the same Call-ID and a
 * new branch is a new transaction (s.17.2.3).
 */
static void test_many_transactions(void **state)
{
	struct sip_ua *ua = ua_new(PORT_B, NULL, NULL, NULL);
	const unsigned n = 3000, batch = 100;
	long long created;
	struct raw r;
	unsigned i, k;

	(void)state;
	raw_open(&r, PORT_C);
	for (i = 0; i < n; i += batch) {
		for (k = i; k < i + batch; k++)
			send_options(&r, k, 1);
		for (k = 0; k < 100 && r.got < i + batch; k++)
			gw_loop_run_timeout(100);
		assert_int_equal(r.got, i + batch);
	}
	assert_non_null(strstr(r.buf, "SIP/2.0 200 "));
	assert_int_equal(tsx_alive(ua), n);
	created = stat_int(ua, "transactions_created");
	assert_int_equal(created, n);

	send_options(&r, 7, 1);			/* a retransmission */
	for (k = 0; k < 20 && r.got < n + 1; k++)
		gw_loop_run_timeout(100);
	assert_int_equal(r.got, n + 1);
	assert_non_null(strstr(r.buf, "SIP/2.0 200 "));
	assert_non_null(strstr(r.buf, "branch=z9hG4bKmany7.1"));
	assert_int_equal(stat_int(ua, "transactions_created"), created);

	send_options(&r, 7, 2);			/* a new request */
	for (k = 0; k < 20 && r.got < n + 2; k++)
		gw_loop_run_timeout(100);
	assert_int_equal(r.got, n + 2);
	assert_non_null(strstr(r.buf, "branch=z9hG4bKmany7.2"));
	assert_int_equal(stat_int(ua, "transactions_created"), created + 1);
	assert_int_equal(tsx_alive(ua), n + 1);
	raw_close(&r);
	gw_mem_deref(ua);
}

/*
 * A non-INVITE server transaction over UDP after its final response
 * (s.17.2.2): a retransmission of the request gets the same response,
 * byte for byte, and nothing new; a request with the same Call-ID, CSeq
 * and From tag but another branch is a merged request (482, s.8.2.2.2);
 * after Timer J (64*T1, T1 = 20 ms here) the transaction is gone, and
 * the same request again is a new one.
 */
static void test_server_completed(void **state)
{
	struct sip_conf conf = { .t1_ms = 20 };
	struct sip_ua *ua = ua_new(PORT_B, NULL, NULL, &conf);
	char first[8192];
	long long created;
	struct raw r;
	unsigned k;

	(void)state;
	raw_open(&r, PORT_C);
	send_options(&r, 1, 1);
	for (k = 0; k < 20 && r.got < 1; k++)
		gw_loop_run_timeout(100);
	assert_int_equal(r.got, 1);
	assert_non_null(strstr(r.buf, "SIP/2.0 200 "));
	memcpy(first, r.buf, r.len + 1);
	created = stat_int(ua, "transactions_created");

	send_options(&r, 1, 1);			/* a retransmission */
	for (k = 0; k < 20 && r.got < 2; k++)
		gw_loop_run_timeout(50);
	assert_int_equal(r.got, 2);
	assert_string_equal(r.buf, first);
	assert_int_equal(stat_int(ua, "transactions_created"), created);
	assert_int_equal(tsx_alive(ua), 1);

	send_options(&r, 1, 2);			/* merged */
	for (k = 0; k < 20 && r.got < 3; k++)
		gw_loop_run_timeout(50);
	assert_int_equal(r.got, 3);
	assert_non_null(strstr(r.buf, "SIP/2.0 482 "));
	assert_non_null(strstr(r.buf, "branch=z9hG4bKmany1.2"));

	for (k = 0; k < 40 && tsx_alive(ua); k++)
		gw_loop_run_timeout(100);
	assert_int_equal(tsx_alive(ua), 0);
	send_options(&r, 1, 1);			/* after Timer J: new */
	for (k = 0; k < 20 && r.got < 4; k++)
		gw_loop_run_timeout(50);
	assert_int_equal(r.got, 4);
	assert_non_null(strstr(r.buf, "SIP/2.0 200 "));
	assert_int_equal(stat_int(ua, "transactions_created"), created + 2);
	raw_close(&r);
	gw_mem_deref(ua);
}

/* The last answer again, as a retransmission a moment later. */
static void raw_again(struct raw *r)
{
	unsigned k;

	for (k = 0; k < 3; k++)
		gw_loop_run_timeout(50);
	sendto(r->fd, r->resp, strlen(r->resp), 0,
	       (struct sockaddr *)&r->from, sizeof(r->from));
	for (k = 0; k < 3; k++)
		gw_loop_run_timeout(50);
}

/*
 * Client transactions over UDP after a final response that comes again:
 * a non-INVITE's second 200 is absorbed (one result to its owner) until
 * Timer K, T4 = 5 s, ends it (s.17.1.2.2); an INVITE's second 486 gets
 * the ACK again (s.17.1.1.2), and the call ends once.
 */
static void test_client_completed(void **state)
{
	struct sip_ua *ua = ua_new(PORT_A, NULL, NULL, NULL);
	struct sip_peer_conf pc = {
		.name = "twice", .host = "127.0.0.1", .port = PORT_C,
		.transport = SIP_UDP, .interval_s = 1000, .max_failures = 1,
	};
	struct sip_call_params p = {0};
	struct side a = {0};
	struct peers pp = {0};
	struct raw r;
	char uri[64];
	unsigned k;

	(void)state;
	raw_open(&r, PORT_C);
	r.answer = 200;
	assert_int_equal(sip_peer_add(NULL, ua, &pc, peer_event, &pp), 0);
	run_until(&pp.up, 1);
	raw_again(&r);
	assert_int_equal(pp.up, 1);
	assert_int_equal(pp.down, 0);
	assert_int_equal(tsx_alive(ua), 1);	/* until Timer K */
	for (k = 0; k < 70 && tsx_alive(ua); k++)
		gw_loop_run_timeout(100);
	assert_int_equal(tsx_alive(ua), 0);

	r.busy = 1;
	snprintf(uri, sizeof(uri), "sip:2000@127.0.0.1:%u", PORT_C);
	p.uri = uri;
	p.sdp = sdp_a;
	assert_int_equal(sip_session_connect(&a.sess, ua, &p, side_event,
					     &a), 0);
	run_until(&a.closed, 1);
	assert_int_equal(a.last_status, 486);
	for (k = 0; k < 20 && r.acks < 1; k++)
		gw_loop_run_timeout(100);
	assert_int_equal(r.acks, 1);
	raw_again(&r);
	for (k = 0; k < 20 && r.acks < 2; k++)
		gw_loop_run_timeout(100);
	assert_int_equal(r.acks, 2);
	assert_int_equal(a.closed, 1);
	raw_close(&r);
	gw_mem_deref(ua);
}

/*
 * A non-INVITE client transaction over UDP to a peer that never answers
 * (s.17.1.2.2): sent, sent again each time Timer E fires, and failed
 * with a timeout when Timer F = 64*T1 does.  T1 is 20 ms here; libosip2
 * lengthens E by 500 ms while it is below 500 ms (instead of doubling
 * it), so the sends are at 0, 20 and 540 ms, and the end at 1,280 ms.
 */
static void test_client_timers(void **state)
{
	struct sip_conf conf = { .t1_ms = 20 };
	struct sip_ua *ua = ua_new(PORT_A, NULL, NULL, &conf);
	struct sip_peer_conf pc = {
		.name = "silent", .host = "127.0.0.1", .port = PORT_C,
		.transport = SIP_UDP, .interval_s = 1000, .max_failures = 1,
	};
	struct peers pp = {0};
	struct raw r;
	uint64_t t0;

	(void)state;
	raw_open(&r, PORT_C);			/* answer: 0, never */
	t0 = gw_now_ms();
	assert_int_equal(sip_peer_add(NULL, ua, &pc, peer_event, &pp), 0);
	run_until(&pp.down, 1);
	assert_int_equal(pp.last_status, 408);
	assert_true(gw_now_ms() - t0 >= 64 * 20);
	assert_int_equal(r.got, 3);
	assert_non_null(strstr(r.buf, "OPTIONS sip:"));
	assert_int_equal(tsx_alive(ua), 0);
	raw_close(&r);
	gw_mem_deref(ua);
}

/* ---- UPDATE (RFC 3311) ---------------------------------------------- */

static void test_update(void **state)
{
	struct sip_conf conf = { .prack = true, .modify_by_update = true };
	struct side a = {0}, b = { .ring183 = true };
	struct sip_ua *ua_a = ua_new(PORT_A, NULL, NULL, &conf);
	struct sip_ua *ua_b = ua_new(PORT_B, uas_incoming, &b, &conf);
	struct sip_call_params p = {0};
	char uri[64];

	(void)state;
	snprintf(uri, sizeof(uri), "sip:1000@127.0.0.1:%u", PORT_B);
	p.uri = uri;
	p.sdp = sdp_a;
	assert_int_equal(sip_session_connect(&a.sess, ua_a, &p, side_event,
					     &a), 0);
	run_until(&a.progress, 1);
	/* The PRACK's 200 reaches B before A may UPDATE; B's answer is not
	 * PRACKed until then. */
	gw_loop_run_timeout(100);
	/* Early dialog: a modify is an UPDATE. */
	assert_int_equal(sip_session_modify(a.sess, sdp_a_hold), 0);
	assert_int_equal(sip_session_modify(a.sess, sdp_a), EBUSY);
	run_until(&a.modified, 1);
	run_until(&b.modified, 1);
	assert_int_equal(b.held, 1);
	assert_int_equal(a.answered, 0);
	/* B answers; confirmed, with modify_by_update: UPDATE again. */
	assert_int_equal(sip_session_answer(b.sess, sdp_b), 0);
	run_until(&a.answered, 1);
	run_until(&b.answered, 1);
	assert_int_equal(sip_session_modify(a.sess, sdp_a), 0);
	run_until(&a.modified, 2);
	run_until(&b.modified, 2);
	assert_int_equal(b.held, 1);
	/* B sends one too, with sip_session_update. */
	assert_int_equal(sip_session_update(b.sess, sdp_b), 0);
	run_until(&b.modified, 3);
	run_until(&a.modified, 3);
	assert_int_equal(sip_session_hangup(a.sess, 0, NULL), 0);
	run_until(&b.closed, 1);
	gw_loop_run_timeout(50);
	no_leftovers(ua_a);
	no_leftovers(ua_b);
	gw_mem_deref(ua_a);
	gw_mem_deref(ua_b);
}

/* ---- Replaces (RFC 3891) --------------------------------------------- */

/* B's UAS: a new call that replaces one hangs the replaced one up. */
static void uas_replacing(struct sip_session *sess,
			  const struct sip_incoming *in, void *arg)
{
	struct side *s = arg;

	if (in->replaces) {
		assert_ptr_equal(in->replaces, s->sess);
		assert_int_equal(sip_session_hangup(in->replaces, 0, NULL),
				 0);
		s->held++;	/* counts the replacements */
	}
	uas_incoming(sess, in, arg);
}

static void test_replaces(void **state)
{
	struct side a = {0}, b = {0}, c = {0};
	struct sip_ua *ua_a = ua_new(PORT_A, NULL, NULL, NULL);
	struct sip_ua *ua_b = ua_new(PORT_B, uas_replacing, &b, NULL);
	struct sip_ua *ua_c = ua_new(PORT_C, NULL, NULL, NULL);
	struct sip_call_params p = {0};
	char uri[64], rep[300], bad[340];

	(void)state;
	snprintf(uri, sizeof(uri), "sip:1000@127.0.0.1:%u", PORT_B);
	p.uri = uri;
	p.sdp = sdp_a;
	assert_int_equal(sip_session_connect(&a.sess, ua_a, &p, side_event,
					     &a), 0);
	run_until(&b.answered, 1);
	run_until(&a.answered, 1);
	assert_int_equal(sip_session_replaces_id(a.sess, rep, sizeof(rep)),
			 0);
	/* Tags that match no dialog: 481; early-only for a confirmed
	 * dialog: 486 (RFC 3891 s.3). */
	snprintf(bad, sizeof(bad), "%s;to-tag=x;from-tag=y",
		 sip_session_call_id(a.sess));
	p.replaces = bad;
	assert_int_equal(sip_session_connect(&c.sess, ua_c, &p, side_event,
					     &c), 0);
	run_until(&c.closed, 1);
	assert_int_equal(c.last_status, 481);
	snprintf(bad, sizeof(bad), "%s;early-only", rep);
	assert_int_equal(sip_session_connect(&c.sess, ua_c, &p, side_event,
					     &c), 0);
	run_until(&c.closed, 2);
	assert_int_equal(c.last_status, 486);
	assert_int_equal(b.incoming, 1);
	/* C takes A's place: B hears which call it replaces, A gets BYE. */
	p.replaces = rep;
	assert_int_equal(sip_session_connect(&c.sess, ua_c, &p, side_event,
					     &c), 0);
	run_until(&c.answered, 1);
	run_until(&a.closed, 1);
	assert_int_equal(b.held, 1);
	assert_int_equal(b.incoming, 2);
	assert_int_equal(sip_session_hangup(c.sess, 0, NULL), 0);
	run_until(&b.closed, 1);
	gw_loop_run_timeout(50);
	no_leftovers(ua_a);
	no_leftovers(ua_b);
	no_leftovers(ua_c);
	gw_mem_deref(ua_a);
	gw_mem_deref(ua_b);
	gw_mem_deref(ua_c);
}

/* ---- multipart bodies ----------------------------------------------- */

static const char mp_head[] =
	"INVITE sip:1000@127.0.0.1 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKmp%u;rport\r\n"
	"From: <sip:5551234@127.0.0.1>;tag=m1\r\nTo: <sip:1000@127.0.0.1>\r\n"
	"Call-ID: mp%u@test\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
	"Content-Type: multipart/mixed;boundary=%s\r\n"
	"Content-Length: %zu\r\n\r\n%s";

static char *mp_msg(const char *boundary, const char *body, unsigned n)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), mp_head, PORT_C, n, n, boundary,
		 strlen(body), body);
	return buf;
}

static void test_multipart_guard(void **state)
{
	static const char good[] =
		"--XX\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n"
		"--XX\r\nContent-Type: application/isup;version=itu-t92+\r\n"
		"Content-Disposition: signal;handling=optional\r\n\r\nab\r\n"
		"--XX--\r\n";
	static const char *const bad[] = {
		/* two Content-Types in a part (libosip2 leaks one) */
		"--XX\r\nContent-Type: application/sdp\r\n"
		"Content-Type: application/sdp\r\n\r\nv=0\r\n--XX--\r\n",
		/* cut short inside a part's headers */
		"--XX\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n"
		"--XX\r\nContent-Type: application/isup\r\nc: a/b",
		/* no close delimiter */
		"--XX\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n",
		/* no delimiter at all */
		"v=0\r\n",
		/* a header line without colon */
		"--XX\r\nContent-Type application/sdp\r\n\r\nv=0\r\n--XX--\r\n",
	};
	struct sip_ua *ua = ua_new(PORT_B, uas_incoming, NULL, NULL);
	struct raw r;
	size_t i;
	char *m;

	(void)state;
	assert_int_equal(sip_multipart_check(mp_msg("XX", good, 0),
					     strlen(mp_msg("XX", good, 0))), 0);
	m = mp_msg("\"XX\"", good, 0);
	assert_int_equal(sip_multipart_check(m, strlen(m)), 0);
	m = mp_msg("", good, 0);
	assert_int_equal(sip_multipart_check(m, strlen(m)), EBADMSG);
	for (i = 0; i < GW_ARRAY_SIZE(bad); i++) {
		m = mp_msg("XX", bad[i], 1);
		assert_int_equal(sip_multipart_check(m, strlen(m)), EBADMSG);
	}
	/* On the wire: 400, from the raw lines. */
	raw_open(&r, PORT_C);
	for (i = 0; i < GW_ARRAY_SIZE(bad); i++) {
		r.len = 0;
		r.buf[0] = '\0';
		raw_send(&r, mp_msg("XX", bad[i], (unsigned)i + 1), PORT_B);
		while (!r.len)
			assert_int_equal(gw_loop_run_timeout(2000), 0);
		assert_non_null(strstr(r.buf, "SIP/2.0 400 "));
	}
	/* A well-formed one gets past the guard (415: not SDP alone). */
	r.len = 0;
	r.buf[0] = '\0';
	raw_send(&r, mp_msg("XX", good, 99), PORT_B);
	while (!strstr(r.buf, "SIP/2.0 4"))
		assert_int_equal(gw_loop_run_timeout(2000), 0);
	if (!strstr(r.buf, "SIP/2.0 415 "))
		print_error("%s\n", r.buf);
	assert_non_null(strstr(r.buf, "SIP/2.0 415 "));
	raw_close(&r);
	gw_mem_deref(ua);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_peer_keepalive, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_peer_status, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_identity_call, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_identity_parse, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_loop_482, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_invite_retransmitted_after_2xx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_transactions,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_completed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_client_completed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_client_timers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaces, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_multipart_guard, setup,
						teardown),
	};

	gw_log_set_levels("warn");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
