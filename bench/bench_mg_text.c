/* bench/bench_mg_text.c - H.248 text codec: microseconds per message */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "mg.h"

/*
 * Decode, compact encode and pretty encode over every message of
 * tests/data/megaco-text (from $JUNCTION_SRCDIR, "." otherwise); prints
 * the mean cost per message of each.  Figures only (STYLE.md 3.10).
 * The yardstick, Erlang/OTP's own figures for compact text:
 * about 4 us to encode and 9 us to decode on a desktop core.
 */

#define MAX_MSGS 256

static char *texts[MAX_MSGS];
static size_t lens[MAX_MSGS];
static size_t nmsgs;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void load_dir(const char *dir)
{
	struct dirent *de;
	char path[1024];
	DIR *dp = opendir(dir);
	FILE *f;
	long n;

	if (!dp)
		return;
	while ((de = readdir(dp)) && nmsgs < MAX_MSGS) {
		if (!strstr(de->d_name, ".txt"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		fseek(f, 0, SEEK_SET);
		texts[nmsgs] = malloc((size_t)n + 1);
		if (texts[nmsgs] &&
		    fread(texts[nmsgs], 1, (size_t)n, f) == (size_t)n)
			lens[nmsgs++] = (size_t)n;
		fclose(f);
	}
	closedir(dp);
}

int main(int argc, char **argv)
{
	const char *src = getenv("JUNCTION_SRCDIR");
	static struct mg_msg *msgs[MAX_MSGS];
	static char buf[65536];
	int rounds = argc > 1 ? atoi(argv[1]) : 2000;
	static char *compact[MAX_MSGS];
	double t0, dec, dec_c, enc[2];
	size_t i, len, bytes = 0, out[2] = { 0, 0 };
	char dir[1024];
	int r, st;

	if (!src || !*src)
		src = ".";
	snprintf(dir, sizeof(dir), "%s/tests/data/megaco-text/"
		 "erlang-otp-time-test/messages", src);
	load_dir(dir);
	snprintf(dir, sizeof(dir), "%s/tests/data/megaco-text/"
		 "rfc3525-appendix-i", src);
	load_dir(dir);
	if (!nmsgs) {
		fprintf(stderr, "no corpus under %s\n", src);
		return 1;
	}
	for (i = 0; i < nmsgs; i++) {
		bytes += lens[i];
		if (mg_text_decode(&msgs[i], texts[i], lens[i], NULL)) {
			fprintf(stderr, "message %zu does not decode\n", i);
			return 1;
		}
	}

	t0 = now_us();
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < nmsgs; i++) {
			struct mg_msg *m = NULL;

			mg_text_decode(&m, texts[i], lens[i], NULL);
			gw_mem_deref(m);
		}
	}
	dec = (now_us() - t0) / ((double)rounds * (double)nmsgs);

	for (st = 0; st < 2; st++) {
		t0 = now_us();
		for (r = 0; r < rounds; r++) {
			for (i = 0; i < nmsgs; i++) {
				mg_text_encode_buf(buf, sizeof(buf), &len,
						   msgs[i], st);
				if (!r)
					out[st] += len;
			}
		}
		enc[st] = (now_us() - t0) / ((double)rounds * (double)nmsgs);
	}

	for (i = 0; i < nmsgs; i++) {
		if (mg_text_encode(&compact[i], msgs[i], MG_TEXT_COMPACT))
			return 1;
	}
	t0 = now_us();
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < nmsgs; i++) {
			struct mg_msg *m = NULL;

			mg_text_decode(&m, compact[i], strlen(compact[i]),
				       NULL);
			gw_mem_deref(m);
		}
	}
	dec_c = (now_us() - t0) / ((double)rounds * (double)nmsgs);

	printf("mg text codec: %zu messages, %zu bytes in, mean %.0f bytes, "
	       "%d rounds\n", nmsgs, bytes, (double)bytes / nmsgs, rounds);
	printf("  decode (input as stored)   %7.3f us/msg\n", dec);
	printf("  decode (compact)           %7.3f us/msg\n", dec_c);
	printf("  encode compact             %7.3f us/msg (%.0f bytes)\n",
	       enc[0], (double)out[0] / nmsgs);
	printf("  encode pretty              %7.3f us/msg (%.0f bytes)\n",
	       enc[1], (double)out[1] / nmsgs);
	printf("  compact decode + encode    %7.3f us/msg "
	       "(Erlang/OTP's figures: ~13 us)\n", dec_c + enc[0]);
	for (i = 0; i < nmsgs; i++) {
		gw_mem_deref(msgs[i]);
		gw_mem_deref(compact[i]);
		free(texts[i]);
	}
	return 0;
}
