/* tests/fuzz/fuzz_sip.c - libFuzzer: bytes as a datagram into sip/ */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip_int.h"

/*
 * The path of a UDP datagram without the socket: framing, the raw-line
 * responder for what does not parse, libosip2's parser, the
 * transaction layer's checks, digest verification (the UA requires
 * auth), and the session layer for INVITEs (answered at once, SDP
 * parsed).  Responses find no listener and are dropped.  A fresh UA
 * per input keeps inputs independent and leak-checked.
 */

static int lookup(struct sip_auth_secret *sec, const char *user,
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

static const char sdp[] =
	"v=0\r\no=f 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
	"t=0 0\r\nm=audio 4000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";

static void incoming(struct sip_session *sess, const struct sip_incoming *in,
		     void *arg)
{
	(void)in;
	(void)arg;
	sip_session_answer(sess, sdp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	static const char *const acl[] = { "192.0.2.0/24" };
	struct sip_auth_conf ac = { .realm = "fuzz", .lookuph = lookup,
				    .acl = acl, .n_acl = 1 };
	size_t live;
	struct sip_ua *ua = NULL;
	struct sip_src src;
	char *buf;

	if (!init) {
		if (gw_loop_init())
			abort();
		init = true;
	}
	if (size > 65535)
		return 0;
	live = gw_mem_live();
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (sip_ua_alloc(&ua, NULL, incoming, NULL) ||
	    sip_ua_set_auth(ua, &ac))
		abort();
	memset(&src, 0, sizeof(src));
	src.tp = SIP_UDP;
	if (sip_addr_set(&src.peer, "198.51.100.7", 5060))
		abort();
	sip_transport_recv_dgram(ua, &src, buf, size);
	sip_tsx_run(ua);
	ua = gw_mem_deref(ua);
	free(buf);
	if (gw_mem_live() != live)
		abort();	/* a leak */
	return 0;
}
