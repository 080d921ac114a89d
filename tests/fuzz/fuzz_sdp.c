/* tests/fuzz/fuzz_sdp.c - libFuzzer: bytes into sip_sdp_parse, answer, encode */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "sdp.h"

/*
 * An SDP offer from the wire: parsed, answered against the caps a
 * gateway has by default (PCMA, PCMU, telephone-event), the answer
 * encoded and parsed back; the offer encoded too.
 */

static const struct sip_sdp_codec codecs[] = {
	{ "PCMA", 8000, 1, 8, NULL },
	{ "PCMU", 8000, 1, 0, NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t live = gw_mem_live();
	struct sip_sdp *offer = NULL, *ans = NULL, *back = NULL;
	struct sip_sdp_caps caps;
	struct sip_sdp_neg neg;
	char *text = NULL, *otext = NULL;

	if (!sip_sdp_parse(&offer, (const char *)data, size)) {
		sip_sdp_encode(offer, &otext);
		sip_sdp_caps_init(&caps);
		caps.codecs = codecs;
		caps.n_codecs = 2;
		caps.tel_event = true;
		caps.tel_event_pt = 101;
		caps.tel_events = "0-15";
		caps.addr4 = "127.0.0.1";
		caps.addr6 = "::1";
		caps.audio_port = 40000;
		if (!sip_sdp_answer(&ans, offer, &caps, &neg) &&
		    !sip_sdp_encode(ans, &text)) {
			if (sip_sdp_parse(&back, text, strlen(text)))
				abort();	/* we cannot read our own */
		}
	}
	gw_mem_deref(back);
	gw_mem_deref(text);
	gw_mem_deref(otext);
	gw_mem_deref(ans);
	gw_mem_deref(offer);
	if (gw_mem_live() != live)
		abort();	/* a leak */
	return 0;
}
