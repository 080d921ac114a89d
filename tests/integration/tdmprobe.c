/* tests/integration/tdmprobe.c - a PRI terminal on the hw/ layer, for tests:
 * the user side of one virtual span, printing every Q.931 event as JSON */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_LOG_MOD "probe"
#include "core.h"
#include "tdm.h"

/*
 * tdmprobe stands where junctiond's call control will stand, so that the
 * span, the vspan transport and the PRI glue can be tested against
 * pstnsim end to end before call control exists:
 *
 *   tdmprobe -d DCHAN -b BEARER up
 *   tdmprobe -d DCHAN -b BEARER call FROM TO [HOLD_MS]
 *   tdmprobe -d DCHAN -b BEARER answer [COUNT]
 *
 * -D leaves the bearer to another process (mediaprobe), as junctiond
 * leaves it to junction-mg.
 *
 * Each event is one JSON line on stdout; the exit status is 0 when the
 * action ran its course (whatever the cause), 1 on a timeout or error.
 */

static struct {
	struct tdm_span *span;
	struct tdm_pri *pri;
	const char *action;
	const char *from, *to;
	unsigned hold_ms;
	unsigned count, answered, released;
	bool up;
	int status;
	struct gw_tmr hold;
	struct tdm_pri_call *call;
	uint64_t t0;
} p = {.status = 1};

static void emit(const char *event, const struct tdm_pri_event *ev)
{
	json_t *o = json_pack("{s:s,s:I}", "event", event, "ms",
			      (json_int_t)(gw_now_ms() - p.t0));
	char *s;

	if (ev) {
		json_object_set_new(o, "ts", json_integer(ev->ts));
		if (ev->cause)
			json_object_set_new(o, "cause",
					    json_integer(ev->cause));
		if (ev->type == TDM_PRI_DISCONNECT ||
		    ev->type == TDM_PRI_RELEASE)
			json_object_set_new(o, "location",
					    json_integer(ev->location));
		if (ev->type == TDM_PRI_SETUP) {
			json_object_set_new(o, "called",
					    json_string(ev->called.digits));
			json_object_set_new(o, "calling",
					    json_string(ev->calling.digits));
			json_object_set_new(o, "called_ton",
					    json_integer(ev->called.ton));
			json_object_set_new(o, "calling_pres",
					    json_integer(ev->calling.pres));
			json_object_set_new(o, "layer1",
					    json_integer(ev->layer1));
		}
		if (ev->type == TDM_PRI_PROGRESS ||
		    ev->type == TDM_PRI_ALERTING)
			json_object_set_new(o, "inband",
					    json_boolean(ev->inband));
	}
	s = json_dumps(o, JSON_COMPACT);
	printf("%s\n", s);
	fflush(stdout);
	free(s);
	json_decref(o);
}

static void hang_up(void *arg)
{
	(void)arg;
	if (p.call)
		tdm_pri_hangup(p.pri, p.call, 16);
}

static void start_action(void)
{
	struct tdm_pri_setup su = {0};
	int err;

	if (!strcmp(p.action, "up")) {
		p.status = 0;
		gw_loop_stop();
		return;
	}
	if (strcmp(p.action, "call"))
		return;
	snprintf(su.called.digits, sizeof(su.called.digits), "%s", p.to);
	su.called.plan = 1;
	su.called.ton = 2;
	snprintf(su.calling.digits, sizeof(su.calling.digits), "%s", p.from);
	su.calling.plan = 1;
	su.calling.ton = 2;
	su.layer1 = tdm_span_type(p.span) == TDM_E1 ? 3 : 2;
	su.complete = true;
	err = tdm_pri_setup(p.pri, &su, &p.call);
	if (err) {
		fprintf(stderr, "tdmprobe: setup: %s\n", strerror(err));
		gw_loop_stop();
		return;
	}
	emit("setup_sent", NULL);
}

static void pri_event(struct tdm_pri *pri, const struct tdm_pri_event *ev,
		      void *arg)
{
	(void)arg;
	emit(tdm_pri_ev_name(ev->type), ev);
	switch (ev->type) {
	case TDM_PRI_DCHAN_UP:
		if (!p.up) {
			p.up = true;
			start_action();
		}
		break;
	case TDM_PRI_SETUP:
		tdm_pri_proceeding(pri, ev->call, ev->ts, false);
		tdm_pri_alerting(pri, ev->call, ev->ts, true);
		tdm_pri_answer(pri, ev->call, ev->ts);
		p.answered++;
		break;
	case TDM_PRI_CONNECT:
		gw_tmr_start(&p.hold, p.hold_ms, hang_up, NULL);
		break;
	case TDM_PRI_DISCONNECT:
		tdm_pri_hangup(pri, ev->call, ev->cause ? ev->cause : 16);
		break;
	case TDM_PRI_RELEASE:
		if (ev->call == p.call) {
			p.call = NULL;
			gw_tmr_cancel(&p.hold);
		}
		p.released++;
		if (!strcmp(p.action, "call") ||
		    (!strcmp(p.action, "answer") && p.released >= p.count)) {
			p.status = 0;
			gw_loop_stop();
		}
		break;
	default:
		break;
	}
}

static void dchan_rx(struct tdm_span *span, const uint8_t *frame, size_t len,
		     void *arg)
{
	(void)span;
	(void)arg;
	tdm_pri_input(p.pri, frame, len);
}

static int pri_send(const uint8_t *frame, size_t len, void *arg)
{
	(void)arg;
	return tdm_dchan_send(p.span, frame, len);
}

static void usage(void)
{
	fprintf(stderr, "usage: tdmprobe -d DCHAN -b BEARER [-t e1|t1] "
		"[-s SWITCH] [-T SECONDS] [-D] up | call FROM TO [HOLD_MS] | "
		"answer [COUNT]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct tdm_span_conf sc = {.id = 1, .type = TDM_E1, .driver = "vspan"};
	struct tdm_pri_conf pc = {.span = 1, .node = TDM_PRI_CPE,
				  .switchtype = TDM_PRI_EUROISDN_E1,
				  .exclusive = true};
	unsigned timeout_s = 30, open_flags = TDM_OPEN_DCHAN | TDM_OPEN_BEARER;
	int c, err;

	while ((c = getopt(argc, argv, "d:b:t:s:T:D")) != -1) {
		switch (c) {
		case 'D':	/* the bearer is someone else's (mediaprobe) */
			open_flags = TDM_OPEN_DCHAN;
			break;
		case 'd':
			sc.dchan_path = optarg;
			break;
		case 'b':
			sc.bearer_path = optarg;
			break;
		case 't':
			sc.type = strcmp(optarg, "t1") ? TDM_E1 : TDM_T1;
			break;
		case 's':
			if (tdm_pri_switch_parse(optarg, &pc.switchtype))
				usage();
			break;
		case 'T':
			timeout_s = (unsigned)atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!sc.dchan_path || !sc.bearer_path || optind >= argc)
		usage();
	p.action = argv[optind++];
	if (!strcmp(p.action, "call")) {
		if (argc - optind < 2)
			usage();
		p.from = argv[optind];
		p.to = argv[optind + 1];
		p.hold_ms = argc - optind > 2 ?
			(unsigned)atoi(argv[optind + 2]) : 1000;
	} else if (!strcmp(p.action, "answer")) {
		p.count = argc > optind ? (unsigned)atoi(argv[optind]) : 1;
	} else if (strcmp(p.action, "up")) {
		usage();
	}

	gw_log_open("tdmprobe", true);
	gw_log_set_levels(getenv("TDMPROBE_LOG") ? getenv("TDMPROBE_LOG") :
			  "warn");
	gw_loop_init();
	gw_tmr_init(&p.hold);
	p.t0 = gw_now_ms();
	sc.crc4 = sc.type == TDM_E1;
	pc.type = sc.type;
	sc.clock = 1;
	err = tdm_span_alloc(&p.span, &sc, NULL, NULL);
	if (!err)
		err = tdm_dchan_open(p.span, dchan_rx, NULL);
	if (!err)
		err = tdm_pri_alloc(&p.pri, &pc, pri_send, pri_event, NULL);
	if (!err)
		err = tdm_span_start(p.span, open_flags);
	if (err) {
		fprintf(stderr, "tdmprobe: %s\n", strerror(err));
		return 1;
	}
	if (gw_loop_run_timeout((uint64_t)timeout_s * 1000) == ETIMEDOUT)
		emit("timeout", NULL);
	gw_tmr_cancel(&p.hold);
	p.pri = gw_mem_deref(p.pri);
	p.span = gw_mem_deref(p.span);
	gw_loop_close();
	return p.status;
}
