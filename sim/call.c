/* sim/call.c - pstnsim's switch: spans, PRI (Q.931) calls both ways */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GW_LOG_MOD "sim"
#include "tdm.h"
#include "sim.h"

/*
 * The switch stands at the far end of each virtual span: it listens on
 * the span's sockets (tdm master mode, so that it clocks the bearer as a
 * network does) and runs PRI on the D-channel, network side by default.
 *
 * A call from the gateway (direction "in"): SETUP -> CALL PROCEEDING on
 * the channel it asked for (or one we choose), then what the number plan
 * says: clear with a cause (busy, unallocated, congestion), alert for
 * ever (noanswer), or alert and then answer (CONNECT) and run a media
 * behaviour on the channel.  A call to the gateway (direction "out", the
 * `call` command): SETUP on a free channel, then whatever the gateway
 * answers; the `then` behaviour runs once it connects.
 *
 * Calls stay listed once released, with what they observed, until
 * MAX_RELEASED newer ones have ended.
 */

#define MAX_RELEASED	200
#define CAUSE_NORMAL	16	/* normal call clearing */
#define CAUSE_NO_CHAN	34	/* no circuit/channel available */
#define CAUSE_OOO	38	/* network out of order */
#define CAUSE_TEMP_FAIL	41	/* temporary failure */
#define CAUSE_CHAN_NA	44	/* requested circuit/channel not available */

/*
 * How long the D-channel must have been up before we send a SETUP.  When
 * both ends start Q.921 at once, libpri answers the other end's SABME
 * with UA but retransmits its own after T200 (1 s), and the second
 * establishment throws away a SETUP sent in between (the far end then
 * clears it with cause 101).  A switch that waits out T200 is safe.
 */
#define DCHAN_SETTLE_MS	1200

enum call_state {
	CALL_SETUP,
	CALL_PROCEEDING,
	CALL_ALERTING,
	CALL_CONNECTED,
	CALL_RELEASED,
};

static const char *const call_state_names[] = {
	[CALL_SETUP] = "setup",
	[CALL_PROCEEDING] = "proceeding",
	[CALL_ALERTING] = "alerting",
	[CALL_CONNECTED] = "connected",
	[CALL_RELEASED] = "released",
};

/* Unix times in ms of each step; 0 until it happens. */
enum { T_SETUP, T_PROCEEDING, T_ALERTING, T_CONNECT, T_DISCONNECT,
       T_RELEASE, T_COUNT };

static const char *const time_names[T_COUNT] = {
	"setup", "proceeding", "alerting", "connect", "disconnect",
	"release",
};

struct sim_span;

struct sim_call {
	struct sim_call *next;		/* the list holds a reference */
	struct sim_span *sp;		/* borrowed: outlives its calls */
	char id[24];
	unsigned ts;			/* 0 until a channel is chosen */
	bool out;			/* we originated it */
	char calling[64], called[64];
	int calling_pres;		/* Q.931: 0 allowed, 1 restricted */
	int calling_screen;
	char redirecting[64];		/* from a SETUP, "": none */
	int redirect_reason;
	char prefix[64];		/* the [number] that matched */
	enum call_state state;
	int cause;			/* Q.850; 0 until cleared */
	const char *cleared_by;		/* "pstnsim", "gateway", NULL */
	bool clearing;			/* DISCONNECT sent or received */
	uint64_t times[T_COUNT];
	const char *behaviour;		/* static: action or media name */
	enum sim_action act;		/* in calls */
	struct sim_behave_conf media;	/* what runs once connected */
	char *file;			/* media.file points here */
	unsigned call_length_s;
	int end_cause;			/* for call_length_s */
	/* overlap sending: what INFO still has to send */
	char to_send[66];
	size_t sent;
	unsigned digit_ms;
	struct gw_tmr digit_tmr;
	struct tdm_pri_call *pc;	/* NULL once released */
	struct sim_behave *b;
	json_t *observed;		/* the last snapshot, once b is gone */
	struct gw_tmr tmr;		/* answer, then call length */
};

struct sim_span {
	struct sim_switch *sw;		/* borrowed */
	unsigned id;
	const struct sim_span_conf *conf;	/* borrowed: sw's config */
	enum tdm_pri_switch switchtype;
	enum sim_law law;
	char *dchan_path;		/* where the gateway connects */
	char *bearer_path;
	struct tdm_span *span;
	struct tdm_pri *pri;
	bool started;
	bool dchan_up;			/* Q.921 link established */
	bool dchan_blocked;		/* our simulated failure */
	unsigned tx_alarms;		/* what we signal */
	uint64_t dchan_changes;
	uint64_t dchan_up_ms;		/* gw_now_ms() when it came up */
	struct sim_call *ts_call[TDM_MAX_TS];	/* borrowed */
	struct bearer_test *bt;		/* a test running; NULL if none */
};

/* One bearer test: numbered frames out, the same back (line loopback). */
struct bearer_test {
	struct sim_span *sp;		/* borrowed */
	sim_bearer_test_h *h;
	void *arg;
	uint32_t tick, ticks;		/* frames sent so far, to send */
	uint64_t slips0;		/* span counter at the start */
	struct bt_chan {
		struct bearer_test *bt;
		bool tested, synced;
		uint32_t last;		/* number of the last good frame */
		uint32_t good, bad, slips;
	} ch[TDM_MAX_TS];
};

struct sim_switch {
	const struct gw_conf *conf;	/* a reference */
	struct sim_span **spans;	/* each a reference */
	size_t nspans;
	struct sim_call *calls;		/* newest first */
	unsigned next_id;
	bool stopped;
};

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- calls ----------------------------------------------------------- */

static void next_digit(void *arg);

static void call_destroy(void *data)
{
	struct sim_call *c = data;

	gw_tmr_cancel(&c->tmr);
	gw_tmr_cancel(&c->digit_tmr);
	gw_mem_deref(c->b);
	gw_mem_deref(c->file);
	json_decref(c->observed);
}

/* Forget released calls beyond the newest MAX_RELEASED. */
static void prune_released(struct sim_switch *sw)
{
	struct sim_call **pp = &sw->calls, *c;
	unsigned kept = 0;

	while ((c = *pp)) {
		if (c->state == CALL_RELEASED && ++kept > MAX_RELEASED) {
			*pp = c->next;
			gw_mem_deref(c);
			continue;
		}
		pp = &c->next;
	}
}

static struct sim_call *call_new(struct sim_span *sp, bool out)
{
	struct sim_switch *sw = sp->sw;
	struct sim_call *c = gw_mem_zalloc(sizeof(*c), call_destroy);

	if (!c)
		return NULL;
	/* Only here, where nothing is walking the list: calls released
	 * inside a walk stay listed until the next call starts. */
	prune_released(sw);
	gw_tmr_init(&c->tmr);
	gw_tmr_init(&c->digit_tmr);
	c->sp = sp;
	c->out = out;
	c->state = CALL_SETUP;
	c->times[T_SETUP] = unix_ms();
	c->media.law = sp->law;
	c->media.media = SIM_MEDIA_SILENCE;
	c->end_cause = CAUSE_NORMAL;
	snprintf(c->id, sizeof(c->id), "sim-%u", ++sw->next_id);
	c->media.tag = c->id;
	c->next = sw->calls;
	sw->calls = c;
	return c;
}

static void call_unlink(struct sim_switch *sw, struct sim_call *c)
{
	struct sim_call **pp;

	for (pp = &sw->calls; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			gw_mem_deref(c);
			return;
		}
	}
}

static struct sim_call *call_find(const struct sim_switch *sw,
				  const char *id)
{
	struct sim_call *c;

	for (c = sw->calls; c; c = c->next) {
		if (!strcmp(c->id, id))
			return c;
	}
	return NULL;
}

static void set_state(struct sim_call *c, enum call_state st, int t)
{
	if (c->state == CALL_RELEASED)
		return;
	GW_INFO("call=%s span=%u ch=%u: %s -> %s", c->id, c->sp->id, c->ts,
		call_state_names[c->state], call_state_names[st]);
	c->state = st;
	if (t >= 0 && !c->times[t])
		c->times[t] = unix_ms();
}

static void chan_frame(struct tdm_chan *ch, const uint8_t *rx, uint8_t *tx,
		       void *arg)
{
	struct sim_call *c = arg;

	(void)ch;
	sim_behave_frame(c->b, rx, tx);
}

/* Stop the media, keeping what it observed. */
static void media_stop(struct sim_call *c)
{
	struct tdm_chan *ch;

	if (!c->b)
		return;
	ch = tdm_span_chan(c->sp->span, c->ts);
	tdm_chan_close(ch);
	json_decref(c->observed);
	c->observed = sim_behave_json(c->b);
	c->b = gw_mem_deref(c->b);
}

/* Give the channel back. */
static void chan_free(struct sim_call *c)
{
	struct sim_span *sp = c->sp;

	media_stop(c);
	if (c->ts && sp->ts_call[c->ts] == c) {
		sp->ts_call[c->ts] = NULL;
		tdm_chan_set_state(tdm_span_chan(sp->span, c->ts),
				   TDM_CHAN_IDLE);
	}
}

/* The call is over: no PRI handle any more. */
static void call_released(struct sim_call *c, int cause)
{
	gw_tmr_cancel(&c->tmr);
	gw_tmr_cancel(&c->digit_tmr);
	chan_free(c);
	if (c->pc)
		tdm_pri_call_set_user(c->pc, NULL);
	c->pc = NULL;
	if (!c->cause)
		c->cause = cause;
	set_state(c, CALL_RELEASED, T_RELEASE);
}

/* Clear from our side: DISCONNECT with cause, RELEASE follows. */
static void call_clear(struct sim_call *c, int cause)
{
	int err;

	gw_tmr_cancel(&c->tmr);
	media_stop(c);
	if (c->state == CALL_RELEASED || c->clearing)
		return;
	c->clearing = true;
	c->cause = cause;
	c->cleared_by = "pstnsim";
	c->times[T_DISCONNECT] = unix_ms();
	GW_INFO("call=%s span=%u ch=%u: clearing with cause %d", c->id,
		c->sp->id, c->ts, cause);
	if (!c->pc) {		/* its SETUP was still held back */
		call_released(c, cause);
		return;
	}
	err = tdm_pri_hangup(c->sp->pri, c->pc, cause);
	if (err) {
		GW_WARN("call=%s: hangup failed (%s); released here",
			c->id, strerror(err));
		call_released(c, cause);
	}
}

static void length_expired(void *arg)
{
	struct sim_call *c = arg;

	GW_INFO("call=%s: call length of %u s reached", c->id,
		c->call_length_s);
	call_clear(c, c->end_cause);
}

/* Connected: run the media on the channel. */
static void media_start(struct sim_call *c)
{
	struct tdm_chan *ch = tdm_span_chan(c->sp->span, c->ts);
	int err;

	tdm_chan_set_state(ch, TDM_CHAN_IN_USE);
	err = sim_behave_alloc(&c->b, &c->media);
	if (err) {
		GW_WARN("call=%s: %s cannot start (%s); sending silence",
			c->id, sim_media_name(c->media.media), strerror(err));
		c->media.media = SIM_MEDIA_SILENCE;
		c->media.file = NULL;
		err = sim_behave_alloc(&c->b, &c->media);
		if (err)
			return;
	}
	err = tdm_chan_open(ch, chan_frame, c);
	if (err) {
		GW_WARN("call=%s: ch %u cannot open: %s", c->id, c->ts,
			strerror(err));
		c->b = gw_mem_deref(c->b);
		return;
	}
	if (c->call_length_s)
		gw_tmr_start(&c->tmr, (uint64_t)c->call_length_s * 1000,
			     length_expired, c);
}

/* Whether ts is a B-channel no call or test is using. */
static bool ts_free(const struct sim_span *sp, unsigned ts)
{
	return tdm_span_is_bearer_ts(sp->span, ts) && !sp->ts_call[ts] &&
		tdm_chan_state(tdm_span_chan(sp->span, ts)) == TDM_CHAN_IDLE;
}

/* A free bearer channel: the network hunts from the top, the user side
 * from the bottom, which keeps glare rare (as switches do).  0 if none. */
static unsigned free_ts(const struct sim_span *sp)
{
	unsigned ts, i, n = TDM_MAX_TS;

	for (i = 1; i < n; i++) {
		ts = sp->conf->signalling == SIM_SIG_PRI_NET ? n - i : i;
		if (ts_free(sp, ts))
			return ts;
	}
	return 0;
}

static void take_ts(struct sim_call *c, unsigned ts)
{
	c->ts = ts;
	c->sp->ts_call[ts] = c;
	tdm_chan_set_state(tdm_span_chan(c->sp->span, ts), TDM_CHAN_RESERVED);
}

static void move_ts(struct sim_call *c, unsigned ts)
{
	struct sim_span *sp = c->sp;

	if (!ts_free(sp, ts)) {
		GW_WARN("call=%s: the gateway chose ch %u, which is not "
			"free; clearing", c->id, ts);
		call_clear(c, CAUSE_NO_CHAN);
		return;
	}
	GW_INFO("call=%s: moved from ch %u to ch %u", c->id, c->ts, ts);
	media_stop(c);
	sp->ts_call[c->ts] = NULL;
	tdm_chan_set_state(tdm_span_chan(sp->span, c->ts), TDM_CHAN_IDLE);
	take_ts(c, ts);
}

/* ---- calls from the gateway ------------------------------------------ */

static void answer_now(void *arg)
{
	struct sim_call *c = arg;
	int err;

	if (c->state == CALL_RELEASED || c->clearing)
		return;
	err = tdm_pri_answer(c->sp->pri, c->pc, c->ts);
	if (err) {
		GW_WARN("call=%s: answer failed: %s", c->id, strerror(err));
		call_clear(c, CAUSE_TEMP_FAIL);
		return;
	}
	set_state(c, CALL_CONNECTED, T_CONNECT);
	media_start(c);
}

/* Replace "{id}" in a configured file name with the call's id, so that
 * calls to one record number do not write over each other. */
static char *expand_file(const struct sim_call *c, const char *file)
{
	const struct gw_conf *conf = c->sp->sw->conf;
	const char *p = strstr(file, "{id}");
	char *name, *path;

	if (p)
		name = gw_mem_printf("%.*s%s%s", (int)(p - file), file, c->id,
				     p + 4);
	else
		name = gw_mem_strdup(file);
	if (!name)
		return NULL;
	path = sim_conf_runpath(conf, name);
	gw_mem_deref(name);
	return path;
}

static void incoming(struct sim_span *sp, const struct tdm_pri_event *ev)
{
	const struct sim_number_conf *num;
	const char *prefix = NULL;
	struct sim_call *c;
	unsigned ts = ev->ts;
	uint64_t delay_ms;
	int cause, err;

	c = call_new(sp, false);
	if (!c) {
		tdm_pri_hangup(sp->pri, ev->call, CAUSE_TEMP_FAIL);
		return;
	}
	c->pc = ev->call;
	tdm_pri_call_set_user(ev->call, c);
	snprintf(c->calling, sizeof(c->calling), "%s", ev->calling.digits);
	c->calling_pres = ev->calling.pres;
	c->calling_screen = ev->calling.screen;
	snprintf(c->redirecting, sizeof(c->redirecting), "%s",
		 ev->redirecting.digits);
	c->redirect_reason = ev->redirect_reason;
	snprintf(c->called, sizeof(c->called), "%s", ev->called.digits);
	GW_INFO("call=%s span=%u: SETUP from %s to %s, ch %u", c->id, sp->id,
		c->calling, c->called, ts);

	/* The channel: the one asked for if it is free.  Q.931 s.5.1.2:
	 * a preferred one taken is replaced by one of ours; an exclusive
	 * one taken refuses the call with cause 44.  That is also how a
	 * call collision ends, the network's call keeping its channel
	 * (s.5.7; Annex D.3 b). */
	if (!ts_free(sp, ts))
		ts = ev->exclusive ? 0 : free_ts(sp);
	if (!ts) {
		cause = ev->exclusive ? CAUSE_CHAN_NA : CAUSE_NO_CHAN;
		c->behaviour = "congestion";
		c->cause = cause;
		c->cleared_by = "pstnsim";
		c->clearing = true;
		c->times[T_DISCONNECT] = unix_ms();
		GW_INFO("call=%s: %s", c->id, ev->exclusive ?
			"the exclusive channel is taken" : "no free channel");
		tdm_pri_hangup(sp->pri, ev->call, cause);
		return;
	}
	take_ts(c, ts);

	num = sim_conf_number(sp->sw->conf, c->called, &prefix);
	if (num) {
		c->act = (enum sim_action)num->behaviour;
		snprintf(c->prefix, sizeof(c->prefix), "%s", prefix);
	} else {
		c->act = SIM_ACT_UNALLOCATED;
	}
	c->behaviour = sim_action_name(c->act);

	err = tdm_pri_proceeding(sp->pri, c->pc, ts, false);
	if (err) {
		GW_WARN("call=%s: PROCEEDING failed: %s", c->id,
			strerror(err));
		call_clear(c, CAUSE_TEMP_FAIL);
		return;
	}
	set_state(c, CALL_PROCEEDING, T_PROCEEDING);

	cause = sim_action_cause(c->act);
	if (cause) {
		if (num && num->cause)
			cause = (int)num->cause;
		call_clear(c, cause);
		return;
	}

	/* Answering numbers alert first; noanswer alerts for ever. */
	err = tdm_pri_alerting(sp->pri, c->pc, ts, false);
	if (err) {
		GW_WARN("call=%s: ALERTING failed: %s", c->id, strerror(err));
		call_clear(c, CAUSE_TEMP_FAIL);
		return;
	}
	set_state(c, CALL_ALERTING, T_ALERTING);
	if (c->act == SIM_ACT_NOANSWER)
		return;

	sim_action_media(c->act, &c->media.media);
	c->media.delay_ms = (unsigned)num->delay_ms;
	c->call_length_s = (unsigned)num->call_length_s;
	if (num->cause)
		c->end_cause = (int)num->cause;
	if (*num->file || c->act == SIM_ACT_FAX_RECEIVE) {
		c->file = expand_file(c, *num->file ? num->file :
				      "fax-{id}.tif");
		c->media.file = c->file;
	}
	delay_ms = c->act == SIM_ACT_ALERT ? (uint64_t)num->alert_s * 1000 :
		(uint64_t)num->answer_delay_ms;
	gw_tmr_start(&c->tmr, delay_ms, answer_now, c);
}

/* ---- PRI events ------------------------------------------------------ */

/*
 * Clear every call of the span from our side.  While the line is down
 * the DISCONNECT may not get through; libpri's timers (or the D-channel
 * failing) then finish each call, and its RELEASE event marks it
 * released.  Until then its channel stays taken, so that it is not
 * offered again while the gateway may still hold it.
 */
static void clear_span_calls(struct sim_span *sp, int cause, const char *why)
{
	struct sim_call *c;

	for (c = sp->sw->calls; c; c = c->next) {
		if (c->sp != sp || c->state == CALL_RELEASED || c->clearing)
			continue;
		GW_INFO("call=%s: clearing: %s", c->id, why);
		call_clear(c, cause);
	}
}

static void pri_event(struct tdm_pri *pri, const struct tdm_pri_event *ev,
		      void *arg)
{
	struct sim_span *sp = arg;
	struct sim_call *c = ev->call ? tdm_pri_call_user(ev->call) : NULL;
	unsigned ts;

	(void)pri;
	switch (ev->type) {
	case TDM_PRI_DCHAN_UP:
		if (!sp->dchan_up)
			sp->dchan_changes++;
		sp->dchan_up = true;
		sp->dchan_up_ms = gw_now_ms();
		GW_INFO("span %u: D-channel up", sp->id);
		return;
	case TDM_PRI_DCHAN_DOWN:
		if (sp->dchan_up)
			sp->dchan_changes++;
		sp->dchan_up = false;
		GW_INFO("span %u: D-channel down", sp->id);
		return;
	case TDM_PRI_SETUP:
		incoming(sp, ev);
		return;
	case TDM_PRI_RESTART:
		/* The gateway restarted a channel (or all): whatever call
		 * held it is gone (Q.931 5.5). */
		for (ts = 1; ts < TDM_MAX_TS; ts++) {
			c = sp->ts_call[ts];
			if (!c || (ev->ts && ev->ts != ts))
				continue;
			GW_INFO("call=%s: channel %u restarted", c->id, ts);
			if (!c->cleared_by)
				c->cleared_by = "gateway";
			call_released(c, CAUSE_TEMP_FAIL);
		}
		return;
	case TDM_PRI_SERVICE:
		GW_INFO("span %u: channel %u %s service", sp->id, ev->ts,
			ev->in_service ? "in" : "out of");
		return;
	default:
		break;
	}
	if (!c) {
		/* A call we have let go of: libpri still needs its
		 * clearing answered to free it. */
		if (ev->call && ev->type == TDM_PRI_DISCONNECT)
			tdm_pri_hangup(sp->pri, ev->call, ev->cause ?
				       ev->cause : CAUSE_NORMAL);
		return;
	}

	/* The gateway may put the call on another channel than the one we
	 * preferred (Q.931 5.1.2); follow it. */
	if (ev->ts && c->ts && ev->ts != c->ts && ev->type != TDM_PRI_RELEASE)
		move_ts(c, ev->ts);

	switch (ev->type) {
	case TDM_PRI_SETUP_ACK:
		/* overlap sending: the gateway wants the rest (Q.931
		 * s.5.1.3) */
		if (c->to_send[c->sent])
			gw_tmr_start(&c->digit_tmr, c->digit_ms, next_digit, c);
		/* fall through */
	case TDM_PRI_PROCEEDING:
		if (c->state == CALL_SETUP)
			set_state(c, CALL_PROCEEDING, T_PROCEEDING);
		break;
	case TDM_PRI_PROGRESS:
		GW_INFO("call=%s: PROGRESS (indicator %d)", c->id,
			ev->progress);
		break;
	case TDM_PRI_ALERTING:
		if (c->state < CALL_ALERTING)
			set_state(c, CALL_ALERTING, T_ALERTING);
		break;
	case TDM_PRI_CONNECT:
		if (c->state == CALL_CONNECTED || c->clearing)
			break;
		set_state(c, CALL_CONNECTED, T_CONNECT);
		media_start(c);
		break;
	case TDM_PRI_CONNECT_ACK:
	case TDM_PRI_INFO:
		break;
	case TDM_PRI_DISCONNECT:
		media_stop(c);
		if (!c->clearing) {
			c->clearing = true;
			c->cause = ev->cause;
			c->cleared_by = "gateway";
			c->times[T_DISCONNECT] = unix_ms();
			GW_INFO("call=%s: DISCONNECT from the gateway, cause "
				"%d", c->id, ev->cause);
		}
		tdm_pri_hangup(sp->pri, c->pc, c->cause ? c->cause :
			       CAUSE_NORMAL);
		break;
	case TDM_PRI_RELEASE:
		if (!c->clearing) {
			/* A cause read from the gateway's message has a
			 * location; one of our own timers' (T303 with no
			 * answer to SETUP: cause 18) has none. */
			c->cause = ev->cause;
			c->cleared_by = ev->location >= 0 ? "gateway" :
				"pstnsim";
			c->times[T_DISCONNECT] = unix_ms();
		}
		call_released(c, ev->cause);
		break;
	default:
		break;
	}
}

static int pri_send(const uint8_t *frame, size_t len, void *arg)
{
	struct sim_span *sp = arg;

	return tdm_dchan_send(sp->span, frame, len);
}

static void dchan_frame(struct tdm_span *span, const uint8_t *frame,
			size_t len, void *arg)
{
	struct sim_span *sp = arg;

	(void)span;
	if (sp->pri)
		tdm_pri_input(sp->pri, frame, len);
}

static void span_state(struct tdm_span *span, enum tdm_span_state state,
		       unsigned alarms, void *arg)
{
	struct sim_span *sp = arg;

	(void)span;
	GW_INFO("span %u: %s, alarms from the gateway 0x%x", sp->id,
		tdm_span_state_name(state), alarms);
}

/* ---- spans ----------------------------------------------------------- */

static void span_destroy(void *data)
{
	struct sim_span *sp = data;

	sp->pri = gw_mem_deref(sp->pri);
	sp->span = gw_mem_deref(sp->span);
	gw_mem_deref(sp->dchan_path);
	gw_mem_deref(sp->bearer_path);
}

static int span_new(struct sim_switch *sw, const char *label,
		    const struct sim_span_conf *sc, struct sim_span **spp)
{
	struct tdm_span_conf tc = {0};
	struct tdm_pri_conf pc = {0};
	struct sim_span *sp;
	char *name = NULL;
	const char *swname;
	int err;

	sp = gw_mem_zalloc(sizeof(*sp), span_destroy);
	if (!sp)
		return ENOMEM;
	sp->sw = sw;
	sp->conf = sc;
	sp->id = (unsigned)strtoul(label, NULL, 10);
	sp->law = sc->type == SIM_SPAN_T1 ? SIM_LAW_ULAW : SIM_LAW_ALAW;
	swname = *sc->switchtype ? sc->switchtype :
		sc->type == SIM_SPAN_T1 ? "national" : "euroisdn_e1";
	err = tdm_pri_switch_parse(swname, &sp->switchtype);
	if (err) {
		GW_ERR("span %u: unknown switchtype '%s'", sp->id, swname);
		goto out;
	}

	name = *sc->dchan ? gw_mem_strdup(sc->dchan) :
		gw_mem_printf("span%u.dchan", sp->id);
	sp->dchan_path = name ? sim_conf_runpath(sw->conf, name) : NULL;
	name = gw_mem_deref(name);
	name = *sc->bearer ? gw_mem_strdup(sc->bearer) :
		gw_mem_printf("span%u.bearer", sp->id);
	sp->bearer_path = name ? sim_conf_runpath(sw->conf, name) : NULL;
	name = gw_mem_deref(name);
	if (!sp->dchan_path || !sp->bearer_path) {
		err = ENOMEM;
		goto out;
	}

	tc.id = sp->id;
	tc.type = sc->type == SIM_SPAN_T1 ? TDM_T1 : TDM_E1;
	tc.driver = "vspan";
	tc.framing = sc->type == SIM_SPAN_T1 ? "esf" : "ccs";
	tc.linecode = sc->type == SIM_SPAN_T1 ? "b8zs" : "hdb3";
	tc.crc4 = sc->type == SIM_SPAN_E1;
	tc.dchan_path = sp->dchan_path;
	tc.bearer_path = sp->bearer_path;
	tc.master = true;
	err = tdm_span_alloc(&sp->span, &tc, span_state, sp);
	if (err) {
		GW_ERR("span %u: %s", sp->id, strerror(err));
		goto out;
	}
	err = tdm_dchan_open(sp->span, dchan_frame, sp);
	if (err)
		goto out;

	pc.span = sp->id;
	pc.type = tc.type;
	pc.node = sc->signalling == SIM_SIG_PRI_CPE ? TDM_PRI_CPE :
		TDM_PRI_NET;
	pc.switchtype = sp->switchtype;
	pc.exclusive = sc->exclusive;
	/* Sending complete only where the call says so: the call
	 * command's overlap sending needs it (libpri adds it to every
	 * EuroISDN SETUP otherwise) */
	pc.overlap = true;
	err = tdm_pri_alloc(&sp->pri, &pc, pri_send, pri_event, sp);
	if (err)
		GW_ERR("span %u: PRI: %s", sp->id, strerror(err));
 out:
	if (err)
		gw_mem_deref(sp);
	else
		*spp = sp;
	return err;
}

static struct sim_span *span_find(const struct sim_switch *sw, unsigned id)
{
	size_t i;

	for (i = 0; i < sw->nspans; i++) {
		if (sw->spans[i]->id == id)
			return sw->spans[i];
	}
	return NULL;
}

/* ---- bearer test ------------------------------------------------------ */

/*
 * Each frame names itself: bytes 0-3 its number (little-endian), byte 4
 * its timeslot, the rest a pattern of both, so that a frame that comes
 * back on the wrong timeslot, late, early, twice or altered is told from
 * a good one.  The loopback's latency does not matter: a timeslot counts
 * from the first frame of ours it sees, and from then on every frame
 * must be the next one.
 */
static uint8_t bt_byte(uint32_t n, unsigned ts, unsigned i)
{
	switch (i) {
	case 0: case 1: case 2: case 3:
		return (uint8_t)(n >> (8 * i));
	case 4:
		return (uint8_t)ts;
	default:
		return (uint8_t)(n * 7 + ts * 13 + i * 29);
	}
}

static void bt_frame(struct tdm_chan *ch, const uint8_t *rx, uint8_t *tx,
		     void *arg)
{
	struct bt_chan *c = arg;
	struct bearer_test *bt = c->bt;
	unsigned ts = tdm_chan_ts(ch), i;
	uint32_t n = (uint32_t)rx[0] | (uint32_t)rx[1] << 8 |
		(uint32_t)rx[2] << 16 | (uint32_t)rx[3] << 24;
	bool ok = rx[4] == ts;

	for (i = 5; ok && i < SIM_FRAME_SAMPLES; i++)
		ok = rx[i] == bt_byte(n, ts, i);
	if (ok && n < bt->tick) {
		if (c->synced && n != c->last + 1)
			c->slips++;
		c->synced = true;
		c->last = n;
		c->good++;
	} else if (c->synced) {
		c->bad++;
	}
	for (i = 0; i < SIM_FRAME_SAMPLES; i++)
		tx[i] = bt_byte(bt->tick, ts, i);
}

/* End the test: channels back, the result (or err) to the handler. */
static void bt_finish(struct sim_span *sp, int err)
{
	struct bearer_test *bt = sp->bt;
	sim_bearer_test_h *h = bt->h;
	void *arg = bt->arg;
	uint32_t frames = UINT32_MAX;
	unsigned ts, tested = 0, seen = 0, bad = 0, slips = 0;
	json_t *res = NULL;

	sp->bt = NULL;
	tdm_span_set_tick_handler(sp->span, NULL, NULL);
	for (ts = 1; ts < TDM_MAX_TS; ts++) {
		struct bt_chan *c = &bt->ch[ts];

		if (!c->tested)
			continue;
		tdm_chan_close(tdm_span_chan(sp->span, ts));
		tdm_chan_set_state(tdm_span_chan(sp->span, ts),
				   TDM_CHAN_IDLE);
		tested++;
		seen += c->good > 0;
		bad += c->bad;
		slips += c->slips;
		if (c->good < frames)
			frames = c->good;
	}
	if (!err) {
		res = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
				"span", (json_int_t)sp->id,
				"seconds", (json_int_t)(bt->ticks / 50),
				"sent", (json_int_t)bt->tick,
				"frames", (json_int_t)(tested ? frames : 0),
				"timeslots", (json_int_t)seen,
				"tested", (json_int_t)tested,
				"bad", (json_int_t)bad,
				"slips", (json_int_t)slips);
		json_object_set_new(res, "span_slips", json_integer(
			(json_int_t)(tdm_span_counters(sp->span)->slips -
				     bt->slips0)));
		GW_INFO("span %u: bearer test: %u of %u timeslots, %u frames "
			"each, %u bad, %u slips", sp->id, seen, tested,
			tested ? frames : 0, bad, slips);
	}
	free(bt);
	h(err, res, arg);
}

static void bt_tick(struct tdm_span *span, void *arg)
{
	struct sim_span *sp = arg;

	(void)span;
	if (sp->bt && ++sp->bt->tick >= sp->bt->ticks)
		bt_finish(sp, 0);
}

/**
 * Test the bearer end to end: for seconds, send numbered frames on every
 * free B-channel of span and check each one that comes back (the far
 * end loops the line back).  h gets the result: frames (good ones per
 * timeslot, the fewest), timeslots, bad, slips.
 */
int sim_switch_bearer_test(struct sim_switch *sw, unsigned span,
			   unsigned seconds, sim_bearer_test_h *h, void *arg)
{
	struct sim_span *sp = span_find(sw, span);
	struct bearer_test *bt;
	unsigned ts;
	int err;

	if (!h || !seconds)
		return EINVAL;
	if (!sp || !sp->span)
		return ENOENT;
	if (sp->bt)
		return EBUSY;
	if (tdm_span_state(sp->span) == TDM_SPAN_DOWN)
		return ENOTCONN;
	bt = calloc(1, sizeof(*bt));
	if (!bt)
		return ENOMEM;
	bt->sp = sp;
	bt->h = h;
	bt->arg = arg;
	bt->ticks = seconds * (1000 / SIM_FRAME_MS);
	bt->slips0 = tdm_span_counters(sp->span)->slips;
	for (ts = 1; ts < TDM_MAX_TS; ts++) {
		struct tdm_chan *ch = tdm_span_chan(sp->span, ts);

		bt->ch[ts].bt = bt;
		if (!ts_free(sp, ts) || tdm_chan_is_open(ch))
			continue;
		err = tdm_chan_open(ch, bt_frame, &bt->ch[ts]);
		if (err)
			continue;
		tdm_chan_set_state(ch, TDM_CHAN_MAINTENANCE);
		bt->ch[ts].tested = true;
	}
	sp->bt = bt;
	tdm_span_set_tick_handler(sp->span, bt_tick, sp);
	GW_INFO("span %u: bearer test for %u s", sp->id, seconds);
	return 0;
}

/* ---- the switch ------------------------------------------------------ */

static void switch_destroy(void *data)
{
	struct sim_switch *sw = data;
	struct sim_call *c;
	size_t i;

	sim_switch_stop(sw);
	while ((c = sw->calls)) {
		sw->calls = c->next;
		gw_mem_deref(c);
	}
	for (i = 0; i < sw->nspans; i++)
		gw_mem_deref(sw->spans[i]);
	free(sw->spans);
	gw_mem_deref((void *)sw->conf);
}

/**
 * The switch for conf: one span (tdm master, vspan) and one PRI instance
 * per [span N] section.  Nothing moves until sim_switch_start.
 */
int sim_switch_alloc(struct sim_switch **swp, const struct gw_conf *conf)
{
	const struct sim_span_conf *sc;
	struct sim_switch *sw;
	const char *label;
	size_t i, n = 0;
	int err = 0;

	if (!swp || !conf)
		return EINVAL;
	sw = gw_mem_zalloc(sizeof(*sw), switch_destroy);
	if (!sw)
		return ENOMEM;
	sw->conf = gw_mem_ref((void *)conf);
	while (gw_conf_nth(conf, "span", n, NULL))
		n++;
	if (n) {
		sw->spans = calloc(n, sizeof(*sw->spans));
		if (!sw->spans) {
			err = ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		sc = gw_conf_nth(conf, "span", i, &label);
		err = span_new(sw, label, sc, &sw->spans[i]);
		if (err)
			goto out;
		sw->nspans++;
	}
 out:
	if (err)
		gw_mem_deref(sw);
	else
		*swp = sw;
	return err;
}

/** Open every span's sockets; the gateway connects to them. */
int sim_switch_start(struct sim_switch *sw)
{
	struct sim_span *sp;
	size_t i;
	int err;

	for (i = 0; i < sw->nspans; i++) {
		sp = sw->spans[i];
		err = tdm_span_start(sp->span,
				     TDM_OPEN_DCHAN | TDM_OPEN_BEARER);
		if (err) {
			GW_ERR("span %u: cannot start: %s", sp->id,
			       strerror(err));
			return err;
		}
		sp->started = true;
		GW_INFO("span %u: %s %s %s, listening on %s and %s", sp->id,
			sp->conf->type == SIM_SPAN_T1 ? "T1" : "E1",
			sp->conf->signalling == SIM_SIG_PRI_CPE ?
			"pri_cpe" : "pri_net",
			tdm_pri_switch_name(sp->switchtype),
			sp->dchan_path, sp->bearer_path);
	}
	return 0;
}

/**
 * Clear every call that is still up (DISCONNECT, cause 16, where the
 * D-channel lets it out) and close the spans.  Idempotent.
 */
void sim_switch_stop(struct sim_switch *sw)
{
	struct sim_call *c;
	size_t i;

	if (!sw || sw->stopped)
		return;
	sw->stopped = true;
	for (c = sw->calls; c; c = c->next) {
		if (c->state == CALL_RELEASED)
			continue;
		if (c->pc && !c->clearing)
			tdm_pri_hangup(c->sp->pri, c->pc, CAUSE_NORMAL);
		c->cleared_by = c->cleared_by ? c->cleared_by : "pstnsim";
		call_released(c, CAUSE_NORMAL);
	}
	for (i = 0; i < sw->nspans; i++) {
		struct sim_span *sp = sw->spans[i];

		if (sp->bt)
			bt_finish(sp, ECANCELED);
		sp->pri = gw_mem_deref(sp->pri);
		sp->span = gw_mem_deref(sp->span);
	}
}

/** Whether span id is one of the switch's. */
bool sim_switch_has_span(const struct sim_switch *sw, unsigned span)
{
	return span_find(sw, span) != NULL;
}

/* SETUP for an originated call, on the channel it holds. */
/* Overlap sending: the next digit of the called number in an INFO. */
static void next_digit(void *arg)
{
	struct sim_call *c = arg;
	char d[2] = { c->to_send[c->sent], '\0' };

	if (!d[0] || !c->pc || c->clearing || c->state >= CALL_ALERTING)
		return;
	if (tdm_pri_info(c->sp->pri, c->pc, d)) {
		GW_WARN("call=%s: INFO '%s' failed", c->id, d);
		return;
	}
	GW_INFO("call=%s: INFO digit %s", c->id, d);
	c->sent++;
	if (c->to_send[c->sent])
		gw_tmr_start(&c->digit_tmr, c->digit_ms, next_digit, c);
}

static int send_setup(struct sim_call *c)
{
	struct tdm_pri_setup su = {0};
	struct sim_span *sp = c->sp;
	int err;

	su.ts = c->ts;
	snprintf(su.called.digits, sizeof(su.called.digits), "%s",
		 c->called);
	if (c->to_send[0])	/* overlap: the SETUP has what was sent */
		su.called.digits[c->sent] = '\0';
	su.called.plan = 1;		/* ISDN/telephony (E.164) */
	su.called.ton = 0;		/* unknown: as dialled */
	snprintf(su.calling.digits, sizeof(su.calling.digits), "%s",
		 c->calling);
	su.calling.plan = 1;
	su.calling.ton = 0;
	su.calling.pres = 0;		/* allowed */
	su.calling.screen = 3;		/* network provided */
	su.bearer = 0;			/* speech */
	su.layer1 = sp->law == SIM_LAW_ULAW ? 2 : 3;
	su.complete = !c->to_send[0];
	su.user = c;
	err = tdm_pri_setup(sp->pri, &su, &c->pc);
	if (err) {
		GW_WARN("call=%s: SETUP failed: %s", c->id, strerror(err));
		return err;
	}
	tdm_pri_call_set_user(c->pc, c);
	GW_INFO("call=%s span=%u ch=%u: SETUP from %s to %s, then %s",
		c->id, sp->id, c->ts, c->calling, c->called, c->behaviour);
	return 0;
}

/* The D-channel has settled: send the SETUP held until now. */
static void setup_later(void *arg)
{
	struct sim_call *c = arg;
	int err;

	if (c->state == CALL_RELEASED || c->clearing)
		return;
	err = send_setup(c);
	if (err) {
		c->cleared_by = "pstnsim";
		call_released(c, err == ENOTCONN ? CAUSE_OOO :
			      CAUSE_TEMP_FAIL);
	}
}

/**
 * Originate a call to the gateway on req->span: SETUP on a free channel
 * (held back until the D-channel has been up DCHAN_SETTLE_MS), then
 * req->then once the gateway connects.  The call's id goes to *idp as a
 * gw_mem string.
 */
int sim_switch_call(struct sim_switch *sw, const struct sim_call_req *req,
		    char **idp)
{
	struct sim_span *sp;
	struct sim_call *c;
	uint64_t up_ms;
	char *id;
	unsigned ts;
	int err = 0;

	if (!sw || !req || !req->from || !req->to || !idp)
		return EINVAL;
	sp = span_find(sw, req->span);
	if (!sp || !sp->pri)
		return ENOENT;
	if (!tdm_pri_up(sp->pri))
		return ENOTCONN;
	ts = free_ts(sp);
	if (!ts)
		return EBUSY;
	c = call_new(sp, true);
	if (!c)
		return ENOMEM;
	id = gw_mem_strdup(c->id);
	if (!id) {
		err = ENOMEM;
		goto out;
	}
	snprintf(c->calling, sizeof(c->calling), "%s", req->from);
	snprintf(c->called, sizeof(c->called), "%s", req->to);
	c->media.media = req->then.media;
	c->media.delay_ms = req->then.delay_ms;
	c->behaviour = sim_media_name(req->then.media);
	c->call_length_s = req->call_length_s;
	if (req->overlap && req->overlap < strlen(req->to)) {
		snprintf(c->to_send, sizeof(c->to_send), "%s%s", req->to,
			 req->hash ? "#" : "");
		c->sent = req->overlap;
		c->digit_ms = req->digit_ms ? req->digit_ms : 200;
	}
	if (req->then.file || req->then.media == SIM_MEDIA_FAX_RECEIVE) {
		c->file = expand_file(c, req->then.file ? req->then.file :
				      "fax-{id}.tif");
		if (!c->file) {
			err = ENOMEM;
			goto out;
		}
		c->media.file = c->file;
	}
	take_ts(c, ts);

	up_ms = gw_now_ms() - sp->dchan_up_ms;
	if (up_ms < DCHAN_SETTLE_MS) {
		GW_INFO("call=%s: D-channel up %llu ms ago; SETUP in %llu ms",
			c->id, (unsigned long long)up_ms,
			(unsigned long long)(DCHAN_SETTLE_MS - up_ms));
		gw_tmr_start(&c->tmr, DCHAN_SETTLE_MS - up_ms, setup_later, c);
	} else {
		err = send_setup(c);
	}
 out:
	if (err) {
		/* The caller gets no id: the call never existed. */
		gw_mem_deref(id);
		chan_free(c);
		call_unlink(sw, c);
	} else {
		*idp = id;
	}
	return err;
}

/** Clear call id with a Q.850 cause (DISCONNECT, then RELEASE). */
int sim_switch_hangup(struct sim_switch *sw, const char *id, int cause)
{
	struct sim_call *c;

	if (!sw || !id || cause < 1 || cause > 127)
		return EINVAL;
	c = call_find(sw, id);
	if (!c)
		return ENOENT;
	if (c->state == CALL_RELEASED || c->clearing)
		return EALREADY;
	call_clear(c, cause);
	return 0;
}

/**
 * Fail (up false) or repair the span's D-channel: frames stop passing
 * both ways, so both ends' Q.921 timers see the link go.
 */
int sim_switch_dchan(struct sim_switch *sw, unsigned span, bool up)
{
	struct sim_span *sp = span_find(sw, span);

	if (!sp || !sp->span)
		return ENOENT;
	sp->dchan_blocked = !up;
	tdm_span_dchan_block(sp->span, !up);
	return 0;
}

/**
 * Send RESTART for timeslot ts of the span (0: every B-channel), as a
 * switch does to recover a channel whose state it lost (Q.931 5.5).  The
 * calls on it end at once, without DISCONNECT.
 */
int sim_switch_restart(struct sim_switch *sw, unsigned span, unsigned ts)
{
	struct sim_span *sp = span_find(sw, span);

	if (!sp || !sp->pri)
		return ENOENT;
	if (ts && !tdm_span_is_bearer_ts(sp->span, ts))
		return EINVAL;
	return tdm_pri_restart(sp->pri, ts);
}

/**
 * Take timeslot ts (0: all) out of service or back in, with SERVICE
 * messages (national, 4ess, 5ess: ENOTSUP on the other switch types).
 */
int sim_switch_service(struct sim_switch *sw, unsigned span, unsigned ts,
		       bool in_service)
{
	struct sim_span *sp = span_find(sw, span);

	if (!sp || !sp->pri)
		return ENOENT;
	if (ts && !tdm_span_is_bearer_ts(sp->span, ts))
		return EINVAL;
	return tdm_pri_service(sp->pri, ts, in_service);
}

/**
 * Raise or clear alarm bits toward the gateway.  A red alarm (LOS, AIS,
 * LOF) takes the line down: the span's calls are cleared (cause 38,
 * network out of order) and their media stops at once.
 */
int sim_switch_alarm(struct sim_switch *sw, unsigned span, unsigned alarm,
		     bool on)
{
	struct sim_span *sp = span_find(sw, span);
	unsigned bits;
	int err;

	if (!sp || !sp->span)
		return ENOENT;
	bits = on ? sp->tx_alarms | alarm : sp->tx_alarms & ~alarm;
	err = tdm_span_send_alarms(sp->span, bits);
	if (err)
		return err;
	sp->tx_alarms = bits;
	if (on && (alarm & (TDM_ALARM_LOS | TDM_ALARM_AIS | TDM_ALARM_LOF)))
		clear_span_calls(sp, CAUSE_OOO, "red alarm on the line");
	return 0;
}

/** The spans, in DESIGN.md's shape plus what only the switch knows. */
json_t *sim_switch_spans_json(const struct sim_switch *sw)
{
	json_t *a = json_array(), *o;
	size_t i;

	if (!a)
		return NULL;
	for (i = 0; i < sw->nspans; i++) {
		const struct sim_span *sp = sw->spans[i];
		unsigned calls = 0;
		const struct sim_call *c;

		if (!sp->span)
			continue;
		o = tdm_span_json(sp->span);
		if (!o)
			continue;
		for (c = sw->calls; c; c = c->next)
			calls += c->sp == sp && c->state != CALL_RELEASED;
		json_object_set_new(o, "signalling", json_string(
			sp->conf->signalling == SIM_SIG_PRI_CPE ?
			"pri_cpe" : "pri_net"));
		json_object_set_new(o, "switchtype", json_string(
			tdm_pri_switch_name(sp->switchtype)));
		json_object_set_new(o, "dchan", json_string(
			sp->pri && tdm_pri_up(sp->pri) ? "up" : "down"));
		json_object_set_new(o, "dchan_blocked",
				    json_boolean(sp->dchan_blocked));
		json_object_set_new(o, "dchan_link", json_boolean(
			tdm_dchan_link(sp->span)));
		json_object_set_new(o, "alarms_sent",
				    tdm_alarms_json(sp->tx_alarms));
		json_object_set_new(o, "calls", json_integer(calls));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *call_json(const struct sim_call *c)
{
	json_t *o = json_object(), *t = json_object();
	size_t i;

	if (!o || !t) {
		json_decref(o);
		json_decref(t);
		return NULL;
	}
	json_object_set_new(o, "id", json_string(c->id));
	json_object_set_new(o, "state", json_string(
		call_state_names[c->state]));
	json_object_set_new(o, "direction", json_string(c->out ? "out" :
							 "in"));
	json_object_set_new(o, "from", json_string(c->calling));
	json_object_set_new(o, "to", json_string(c->called));
	json_object_set_new(o, "calling", json_string(c->calling));
	json_object_set_new(o, "presentation", json_string(
		c->calling_pres == 1 ? "restricted" : c->calling_pres == 2 ?
		"unavailable" : "allowed"));
	json_object_set_new(o, "screening", json_integer(c->calling_screen));
	json_object_set_new(o, "redirecting", c->redirecting[0] ?
			    json_pack("{s:s,s:i}", "number", c->redirecting,
				      "reason", c->redirect_reason) :
			    json_null());
	json_object_set_new(o, "called", json_string(c->called));
	json_object_set_new(o, "span", json_integer(c->sp->id));
	json_object_set_new(o, "ts", c->ts ? json_integer(c->ts) :
			    json_null());
	json_object_set_new(o, "codec", json_string(
		c->sp->law == SIM_LAW_ULAW ? "PCMU" : "PCMA"));
	json_object_set_new(o, "behaviour", c->behaviour ?
			    json_string(c->behaviour) : json_null());
	if (!c->out)
		json_object_set_new(o, "number", *c->prefix ?
				    json_string(c->prefix) : json_null());
	json_object_set_new(o, "cause", c->cause ? json_integer(c->cause) :
			    json_null());
	json_object_set_new(o, "cleared_by", c->cleared_by ?
			    json_string(c->cleared_by) : json_null());
	for (i = 0; i < T_COUNT; i++)
		json_object_set_new(t, time_names[i], c->times[i] ?
				    json_integer((json_int_t)c->times[i]) :
				    json_null());
	json_object_set_new(o, "times", t);
	if (c->b)
		json_object_set_new(o, "observations", sim_behave_json(c->b));
	else if (c->observed)
		json_object_set(o, "observations", c->observed);
	else
		json_object_set_new(o, "observations", json_null());
	return o;
}

/** Every call, newest first, with its state and what it observed. */
json_t *sim_switch_calls_json(const struct sim_switch *sw)
{
	json_t *a = json_array(), *o;
	const struct sim_call *c;

	if (!a)
		return NULL;
	for (c = sw->calls; c; c = c->next) {
		o = call_json(c);
		if (o)
			json_array_append_new(a, o);
	}
	return a;
}
