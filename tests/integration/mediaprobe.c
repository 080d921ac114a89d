/* tests/integration/mediaprobe.c - the media of one B-channel, for tests:
 * a vspan bearer and a media channel bridging a timeslot to RTP */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_LOG_MOD "probe"
#include "core.h"
#include "media.h"
#include "tdm.h"

/*
 * mediaprobe stands where junction-mg's media will stand once the MG
 * model drives it: it opens only the bearer half of a virtual span (the
 * D-channel belongs to a tdmprobe beside it, as it belongs to junctiond),
 * and bridges one timeslot to an RTP peer through media/:
 *
 *   mediaprobe -b BEARER -s TS -r IP:PORT [-c CODEC] [-p PTIME]
 *              [-e TE_PT] [-E] [-T SECONDS]
 *
 * It prints {"event":"rtp","port":N} once bound, runs until SIGTERM or
 * the time limit, and prints its statistics as the last line.
 */

static struct {
	struct tdm_span *span;
	struct media_chan *mc;
	unsigned ts;
} m;

static void frame(struct tdm_chan *ch, const uint8_t *rx, uint8_t *tx,
		  void *arg)
{
	(void)ch;
	(void)arg;
	media_chan_tick(m.mc, rx, tx);
}

static void chan_event(struct media_chan *c, enum media_chan_ev ev,
		       char digit, unsigned duration_ms, void *arg)
{
	static const char *const names[] = {
		"digit_tdm", "digit_rtp", "rtp_timeout", "fax_tone",
	};

	(void)c;
	(void)arg;
	printf("{\"event\":\"%s\",\"digit\":\"%c\",\"duration\":%u}\n",
	       names[ev], digit ? digit : '-', duration_ms);
	fflush(stdout);
}

static void on_signal(int sig, void *arg)
{
	(void)arg;
	if (sig == SIGTERM || sig == SIGINT)
		gw_loop_stop();
}

static void usage(void)
{
	fprintf(stderr, "usage: mediaprobe -b BEARER -s TS -r IP:PORT "
		"[-t e1|t1] [-c CODEC] [-p PTIME] [-e TE_PT] [-E] "
		"[-T SECONDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct tdm_span_conf sc = {.id = 1, .type = TDM_E1, .driver = "vspan",
				   .dchan_path = "/nonexistent"};
	struct media_chan_conf cc = {.codec = MEDIA_PCMA, .ptime = 20};
	struct media_stream_conf st = {.local_ip = "127.0.0.1",
				       .port_min = 30000, .port_max = 32766,
				       .symmetric = true,
				       .rtp_timeout_ms = 0};
	const struct media_codec_info *ci;
	struct media_chan_stats s;
	const char *codec = "PCMA";
	char rip[64] = "", *colon;
	unsigned timeout_s = 60;
	int c, err;

	while ((c = getopt(argc, argv, "b:s:r:t:c:p:e:ET:")) != -1) {
		switch (c) {
		case 'b':
			sc.bearer_path = optarg;
			break;
		case 's':
			m.ts = (unsigned)atoi(optarg);
			break;
		case 'r':
			snprintf(rip, sizeof(rip), "%s", optarg);
			break;
		case 't':
			sc.type = strcmp(optarg, "t1") ? TDM_E1 : TDM_T1;
			break;
		case 'c':
			codec = optarg;
			break;
		case 'p':
			cc.ptime = (unsigned)atoi(optarg);
			break;
		case 'e':
			st.te_pt = (uint8_t)atoi(optarg);
			cc.te = true;
			break;
		case 'E':
			cc.ec = true;
			break;
		case 'T':
			timeout_s = (unsigned)atoi(optarg);
			break;
		default:
			usage();
		}
	}
	colon = strrchr(rip, ':');
	if (!sc.bearer_path || !m.ts || !colon)
		usage();
	*colon = '\0';
	ci = media_codec_find(codec, !strcasecmp(codec, "opus") ? 48000 :
			      8000);
	if (!ci)
		usage();
	cc.codec = ci->id;
	cc.law = sc.type == TDM_E1 ? MEDIA_LAW_ALAW : MEDIA_LAW_ULAW;
	st.pt = ci->static_pt >= 0 ? (uint8_t)ci->static_pt : 96;
	st.clock = ci->clock;
	st.ptime = cc.ptime;
	st.remote_ip = rip;
	st.remote_port = (uint16_t)atoi(colon + 1);

	gw_log_open("mediaprobe", true);
	gw_log_set_levels(getenv("MEDIAPROBE_LOG") ? getenv("MEDIAPROBE_LOG") :
			  "warn");
	gw_loop_init();
	gw_loop_signals(on_signal, NULL);
	err = media_chan_alloc(&m.mc, &cc, &st, chan_event, NULL);
	if (!err)
		err = tdm_span_alloc(&m.span, &sc, NULL, NULL);
	if (!err && !tdm_span_chan(m.span, m.ts))
		err = EINVAL;
	if (!err)
		err = tdm_chan_open(tdm_span_chan(m.span, m.ts), frame, NULL);
	if (!err)
		err = tdm_span_start(m.span, TDM_OPEN_BEARER);
	if (err) {
		fprintf(stderr, "mediaprobe: %s\n", strerror(err));
		return 1;
	}
	printf("{\"event\":\"rtp\",\"port\":%u}\n",
	       media_stream_port(media_chan_stream(m.mc)));
	fflush(stdout);
	gw_loop_run_timeout((uint64_t)timeout_s * 1000);

	media_chan_stats(m.mc, &s);
	printf("{\"event\":\"stats\",\"ticks\":%llu,\"rx_packets\":%llu,"
	       "\"tx_packets\":%llu,\"lost\":%llu,\"digits_tdm\":%llu,"
	       "\"digits_rtp\":%llu,\"erle_db\":%.1f,\"mos\":%.2f}\n",
	       (unsigned long long)s.ticks,
	       (unsigned long long)s.rtp.rx_packets,
	       (unsigned long long)s.rtp.tx_packets,
	       (unsigned long long)s.rtp.lost,
	       (unsigned long long)s.digits_tdm,
	       (unsigned long long)s.digits_rtp,
	       isnan(s.erle_db) ? -1.0 : s.erle_db, s.mos);
	m.span = gw_mem_deref(m.span);
	m.mc = gw_mem_deref(m.mc);
	gw_loop_close();
	return 0;
}
