/* tests/fuzz/fuzz_mg_text.c - libFuzzer: arbitrary bytes into mg_text_decode */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "mg.h"

/*
 * What decodes is encoded in both styles and decoded again: the result
 * must decode and be the same tree (the codec's round-trip property on
 * inputs nobody wrote by hand).  Leaks abort, like fuzz_conf.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const struct mg_msg *msg, enum mg_text_style st)
{
	struct mg_msg *again = NULL;
	char *s = NULL;

	if (mg_text_encode(&s, msg, st))
		abort();
	if (mg_text_decode(&again, s, strlen(s), NULL) ||
	    !mg_msg_equal(msg, again))
		abort();
	gw_mem_deref(again);
	gw_mem_deref(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t live = gw_mem_live();
	struct mg_text_err err;
	struct mg_msg *msg = NULL;

	if (!mg_text_decode(&msg, data, size, &err)) {
		round_trip(msg, MG_TEXT_COMPACT);
		round_trip(msg, MG_TEXT_PRETTY);
		gw_mem_deref(msg);
	} else if (err.code == 0 || strlen(err.text) >= sizeof(err.text)) {
		abort();
	}
	if (gw_mem_live() != live)
		abort();	/* a leak */
	return 0;
}
