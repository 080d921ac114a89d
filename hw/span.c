/* hw/span.c - E1/T1 spans: state, alarms, counters, the 20 ms frame tick */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <string.h>

#define GW_LOG_MOD "tdm"
#include "hw_int.h"

/*
 * span.c owns what every driver shares: the channel map, the span state
 * derived from link and alarms, the counters, and the frame tick that
 * hands each open channel its 160 bytes.  The far end is the clock: a
 * slave span (the gateway) runs one tick per received bearer frame and
 * answers it at once; a master span (pstnsim) runs its own 20 ms clock
 * and sends one frame per tick.
 *
 * Re-entrancy.  Any handler may drop the owner's reference to the span.
 * span.c holds a reference of its own across a tick, stops calling
 * handlers once that is the last one, and lets the span go when the
 * tick ends.  Drivers call tdm_span_rx_* and tdm_span_link as the last
 * thing they do in an event handler (a tail call): the span, and the
 * driver's state with it, may be gone when the call returns.  A driver
 * that must make two calls in a row holds a reference across them and
 * stops when it holds the last one; it never holds one across
 * tdm_span_rx_bearer, whose tick must see only its own.
 */

/* Alarms that mean no usable signal (red, blue): the far end sends
 * nothing while it raises one of these. */
#define RED_ALARMS (TDM_ALARM_LOS | TDM_ALARM_AIS | TDM_ALARM_LOF)
#define ALL_ALARMS (RED_ALARMS | TDM_ALARM_RAI)

/* The span with what only span.c sees; the span is the first member so
 * that the gw_mem block is the span. */
struct span_priv {
	struct tdm_span span;
	bool started;
	enum tdm_span_state rep_state;
	unsigned rep_alarms;		/* what stateh saw last */
	unsigned tx_alarms;		/* master: what we signal */
	/* master clock */
	struct gw_tmr clk;
	uint64_t clk_start;		/* tick n is due at clk_start + n*20 */
	uint64_t clk_n;
	unsigned rx_count;		/* slave frames since the last tick */
	unsigned rx_age;		/* ticks since a slave frame arrived */
	bool sent_prev;			/* the last tick sent a frame */
	uint8_t rxbuf[TDM_BEARER_BYTES];	/* the last slave frame */
};

static const struct tdm_driver *const drivers[] = {
	&tdm_vspan_driver,
#ifdef HAVE_DAHDI
	&tdm_dahdi_driver,
#endif
};

static struct span_priv *priv(const struct tdm_span *span)
{
	return (struct span_priv *)span;
}

/** The driver called name, or NULL. */
const struct tdm_driver *tdm_driver_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < GW_ARRAY_SIZE(drivers); i++) {
		if (!strcmp(drivers[i]->name, name))
			return drivers[i];
	}
	return NULL;
}

static void span_destroy(void *data)
{
	struct span_priv *sp = data;
	struct tdm_span *span = &sp->span;

	gw_tmr_cancel(&sp->clk);
	if (sp->started && span->drv->close)
		span->drv->close(span);
	gw_mem_deref((void *)span->conf.driver);
	gw_mem_deref((void *)span->conf.framing);
	gw_mem_deref((void *)span->conf.linecode);
	gw_mem_deref((void *)span->conf.dchan_path);
	gw_mem_deref((void *)span->conf.bearer_path);
	gw_mem_deref((void *)span->conf.dahdi_dir);
}

static int copy_str(const char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = gw_mem_strdup(src);
	return *dst ? 0 : ENOMEM;
}

/**
 * Create the span described by conf (which is copied) with the driver
 * it names, its bearer channels all idle.  stateh(span, state, alarms,
 * arg), if set, runs on every change of state or alarms.  Nothing moves
 * until tdm_span_start.  EINVAL for a bad conf, ENOTSUP for a driver
 * that is unknown or not built in.
 */
int tdm_span_alloc(struct tdm_span **spanp, const struct tdm_span_conf *conf,
		   tdm_span_state_h *stateh, void *arg)
{
	const struct tdm_driver *drv;
	struct span_priv *sp;
	struct tdm_span *span;
	unsigned ts;
	int err;

	if (!spanp || !conf || !conf->id ||
	    (conf->type != TDM_E1 && conf->type != TDM_T1) || !conf->driver)
		return EINVAL;
	drv = tdm_driver_find(conf->driver);
	if (!drv)
		return ENOTSUP;

	sp = gw_mem_zalloc(sizeof(*sp), span_destroy);
	if (!sp)
		return ENOMEM;
	span = &sp->span;
	span->conf = *conf;
	span->conf.driver = span->conf.framing = span->conf.linecode = NULL;
	span->conf.dchan_path = span->conf.bearer_path = NULL;
	span->conf.dahdi_dir = NULL;
	gw_tmr_init(&sp->clk);

	err = copy_str(&span->conf.driver, conf->driver);
	if (!err)
		err = copy_str(&span->conf.framing, conf->framing);
	if (!err)
		err = copy_str(&span->conf.linecode, conf->linecode);
	if (!err)
		err = copy_str(&span->conf.dchan_path, conf->dchan_path);
	if (!err)
		err = copy_str(&span->conf.bearer_path, conf->bearer_path);
	if (!err)
		err = copy_str(&span->conf.dahdi_dir, conf->dahdi_dir);
	if (err)
		goto out;

	span->drv = drv;
	span->state = TDM_SPAN_DOWN;
	span->stateh = stateh;
	span->state_arg = arg;
	for (ts = 0; ts < TDM_MAX_TS; ts++) {
		span->chans[ts].span = span;
		span->chans[ts].ts = ts;
		span->chans[ts].state = TDM_CHAN_IDLE;
	}
	memset(span->tx, tdm_span_idle_code(span), sizeof(span->tx));
	memset(sp->rxbuf, tdm_span_idle_code(span), sizeof(sp->rxbuf));
	sp->rep_state = TDM_SPAN_DOWN;
	sp->rx_age = 2;

 out:
	if (err)
		gw_mem_deref(sp);
	else
		*spanp = span;
	return err;
}

static void clock_tick(void *arg);

/**
 * Open the halves of the span named by open_flags (TDM_OPEN_DCHAN,
 * TDM_OPEN_BEARER) through its driver.  The span stays DOWN until the
 * driver has linked every half opened.  A master span with its bearer
 * open starts its 20 ms clock here.  EALREADY if started before.
 */
int tdm_span_start(struct tdm_span *span, unsigned open_flags)
{
	struct span_priv *sp = priv(span);
	int err;

	if (!span || !open_flags ||
	    (open_flags & ~(unsigned)(TDM_OPEN_DCHAN | TDM_OPEN_BEARER)))
		return EINVAL;
	if (sp->started)
		return EALREADY;

	span->open_flags = open_flags;
	/* The driver logs why it cannot open, once. */
	err = span->drv->open(span, open_flags);
	if (err) {
		span->open_flags = 0;
		return err;
	}
	sp->started = true;

	if (span->conf.master && sp->tx_alarms && span->drv->send_alarms)
		(void)span->drv->send_alarms(span, sp->tx_alarms);
	if (span->conf.master && (open_flags & TDM_OPEN_BEARER)) {
		sp->clk_start = gw_now_ms();
		sp->clk_n = 1;
		gw_tmr_start(&sp->clk, TDM_FRAME_MS, clock_tick, sp);
	}
	return 0;
}

/** The span's number (conf.id). */
unsigned tdm_span_id(const struct tdm_span *span)
{
	return span ? span->conf.id : 0;
}

/** E1 or T1. */
enum tdm_span_type tdm_span_type(const struct tdm_span *span)
{
	return span->conf.type;
}

/** DOWN, ALARM or UP. */
enum tdm_span_state tdm_span_state(const struct tdm_span *span)
{
	return span ? span->state : TDM_SPAN_DOWN;
}

/** The TDM_ALARM_* bits seen from the far end. */
unsigned tdm_span_alarms(const struct tdm_span *span)
{
	return span ? span->alarms : 0;
}

/** The span's counters, live. */
const struct tdm_span_counters *tdm_span_counters(const struct tdm_span *span)
{
	return &span->cnt;
}

/**
 * What an idle channel sends: A-law 0xd5 on E1, mu-law 0xff on T1 (the
 * codes for silence, with the even bits inverted on A-law, G.711).
 */
uint8_t tdm_span_idle_code(const struct tdm_span *span)
{
	return span->conf.type == TDM_T1 ? 0xff : 0xd5;
}

/** Number of bearer channels: 30 on E1, 23 on T1 (PRI). */
unsigned tdm_span_nchans(const struct tdm_span *span)
{
	return span->conf.type == TDM_T1 ? 23 : 30;
}

/**
 * Whether ts carries a B-channel: E1 1..15 and 17..31 (0 is framing, 16
 * the D-channel), T1 1..23 (24 is the D-channel).
 */
bool tdm_span_is_bearer_ts(const struct tdm_span *span, unsigned ts)
{
	if (!span)
		return false;
	if (span->conf.type == TDM_T1)
		return ts >= 1 && ts <= 23;
	return ts >= 1 && ts <= 31 && ts != 16;
}

/** The D-channel's timeslot: 16 on E1, 24 on T1. */
unsigned tdm_span_dchan_ts(const struct tdm_span *span)
{
	return span->conf.type == TDM_T1 ? 24 : 16;
}

/** The bearer channel on timeslot ts, or NULL if ts carries none. */
struct tdm_chan *tdm_span_chan(const struct tdm_span *span, unsigned ts)
{
	if (!tdm_span_is_bearer_ts(span, ts))
		return NULL;
	return (struct tdm_chan *)&span->chans[ts];
}

/** Run h(span, arg) once per tick, after every open channel's frame. */
void tdm_span_set_tick_handler(struct tdm_span *span, tdm_span_tick_h *h,
			       void *arg)
{
	if (!span)
		return;
	span->tickh = h;
	span->tick_arg = arg;
}

/*
 * Whether the span has an owner besides the one reference a tick holds.
 * Once it has not, no more handlers are called.
 */
static bool owned(const struct tdm_span *span)
{
	return gw_mem_nrefs(span) > 1;
}

static enum tdm_span_state compute_state(const struct tdm_span *span)
{
	unsigned need = span->open_flags;

	if (!need)
		return TDM_SPAN_DOWN;
	if ((need & TDM_OPEN_DCHAN) && !span->dchan_link)
		return TDM_SPAN_DOWN;
	if ((need & TDM_OPEN_BEARER) && !span->bearer_link)
		return TDM_SPAN_DOWN;
	if (span->alarms & ALL_ALARMS)
		return TDM_SPAN_ALARM;
	return TDM_SPAN_UP;
}

/* Recompute the state; tell the owner if it or the alarms changed.  A
 * tail call: the handler may free the span. */
static void update_state(struct tdm_span *span)
{
	struct span_priv *sp = priv(span);
	enum tdm_span_state st = compute_state(span);

	if (st == sp->rep_state && span->alarms == sp->rep_alarms)
		return;
	if (st != span->state) {
		GW_INFO("span %u: %s -> %s", span->conf.id,
			tdm_span_state_name(span->state),
			tdm_span_state_name(st));
	}
	span->state = st;
	sp->rep_state = st;
	sp->rep_alarms = span->alarms;
	if (span->stateh)
		span->stateh(span, st, span->alarms, span->state_arg);
}

/**
 * Master side (pstnsim): signal alarms (TDM_ALARM_* bits) to the far
 * end, now and to every peer that connects later.  While LOS, AIS or LOF
 * is raised no bearer or D-channel frame passes either way, as on a line
 * with no signal.  ENOTSUP on a slave span or a driver without alarms.
 */
int tdm_span_send_alarms(struct tdm_span *span, unsigned alarms)
{
	struct span_priv *sp = priv(span);
	int err = 0;

	if (!span || (alarms & ~(unsigned)ALL_ALARMS))
		return EINVAL;
	if (!span->conf.master || !span->drv->send_alarms)
		return ENOTSUP;
	if (alarms == sp->tx_alarms)
		return 0;
	GW_INFO("span %u: sending alarms 0x%x", span->conf.id, alarms);
	sp->tx_alarms = alarms;
	sp->sent_prev = false;
	if (sp->started)
		err = span->drv->send_alarms(span, alarms);
	return err;
}

/**
 * Drop (blocked) or pass again every D-channel frame, both ways: the
 * far end's Q.921 timers then see a D-channel failure.  Meant for the
 * master side.
 */
void tdm_span_dchan_block(struct tdm_span *span, bool blocked)
{
	if (!span || span->dchan_blocked == blocked)
		return;
	GW_INFO("span %u: D-channel %s", span->conf.id,
		blocked ? "blocked" : "passing");
	span->dchan_blocked = blocked;
}

static bool dchan_dropped(const struct tdm_span *span)
{
	return span->dchan_blocked ||
		(span->conf.master && (priv(span)->tx_alarms & RED_ALARMS));
}

static const char *const state_names[] = {
	[TDM_SPAN_DOWN] = "down",
	[TDM_SPAN_ALARM] = "alarm",
	[TDM_SPAN_UP] = "up",
};

/** "down", "alarm" or "up". */
const char *tdm_span_state_name(enum tdm_span_state state)
{
	return (unsigned)state < GW_ARRAY_SIZE(state_names) ?
		state_names[state] : "?";
}

/** The alarms as a JSON array of names: ["los","ais","rai","lof"]. */
json_t *tdm_alarms_json(unsigned alarms)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{TDM_ALARM_LOS, "los"},
		{TDM_ALARM_AIS, "ais"},
		{TDM_ALARM_RAI, "rai"},
		{TDM_ALARM_LOF, "lof"},
	};
	json_t *a = json_array();
	size_t i;

	if (!a)
		return NULL;
	for (i = 0; i < GW_ARRAY_SIZE(names); i++) {
		if ((alarms & names[i].bit) &&
		    json_array_append_new(a, json_string(names[i].name))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/**
 * The span as DESIGN.md's "spans" entry: id, type, state, alarms,
 * channels {total, in_use} and counters.  The caller adds "signalling"
 * and "dchan".  NULL when memory is short.
 */
json_t *tdm_span_json(const struct tdm_span *span)
{
	const struct tdm_span_counters *c = &span->cnt;
	unsigned ts, in_use = 0;

	for (ts = 0; ts < TDM_MAX_TS; ts++) {
		if (tdm_span_is_bearer_ts(span, ts) &&
		    span->chans[ts].state == TDM_CHAN_IN_USE)
			in_use++;
	}
	return json_pack("{s:I,s:s,s:s,s:o,s:{s:I,s:I},"
			 "s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}}",
			 "id", (json_int_t)span->conf.id,
			 "type", span->conf.type == TDM_T1 ? "t1" : "e1",
			 "state", tdm_span_state_name(span->state),
			 "alarms", tdm_alarms_json(span->alarms),
			 "channels",
			 "total", (json_int_t)tdm_span_nchans(span),
			 "in_use", (json_int_t)in_use,
			 "counters",
			 "slips", (json_int_t)c->slips,
			 "gaps", (json_int_t)c->gaps,
			 "bad_frames", (json_int_t)c->bad_frames,
			 "frames_rx", (json_int_t)c->frames_rx,
			 "frames_tx", (json_int_t)c->frames_tx,
			 "crc_errors", (json_int_t)c->crc_errors,
			 "bpv", (json_int_t)c->bpv,
			 "dchan_rx", (json_int_t)c->dchan_rx,
			 "dchan_tx", (json_int_t)c->dchan_tx,
			 "reconnects", (json_int_t)c->reconnects);
}

/**
 * Receive the span's D-channel frames (Q.921 + 2 FCS bytes) through
 * h(span, frame, len, arg); h NULL stops them.
 */
int tdm_dchan_open(struct tdm_span *span, tdm_dchan_h *h, void *arg)
{
	if (!span)
		return EINVAL;
	span->dchanh = h;
	span->dchan_arg = arg;
	return 0;
}

/**
 * Send one D-channel frame: the Q.921 frame and its 2 FCS bytes, 5 to
 * TDM_DCHAN_MAX bytes.  ENOTCONN while the D-channel is not linked,
 * EAGAIN if the transport is full (the frame is dropped; Q.921
 * retransmits).  A blocked D-channel takes the frame and drops it.
 */
int tdm_dchan_send(struct tdm_span *span, const uint8_t *frame, size_t len)
{
	int err;

	if (!span || !frame || len < 5 || len > TDM_DCHAN_MAX)
		return EINVAL;
	if (!(span->open_flags & TDM_OPEN_DCHAN) || !span->dchan_link)
		return ENOTCONN;
	if (dchan_dropped(span))
		return 0;
	err = span->drv->dchan_send(span, frame, len);
	if (!err)
		span->cnt.dchan_tx++;
	return err;
}

/** Whether the D-channel's transport is connected (carrier). */
bool tdm_dchan_link(const struct tdm_span *span)
{
	return span && span->dchan_link;
}

/* ---- for drivers --------------------------------------------------- */

/** A D-channel frame arrived (a tail call for the driver). */
void tdm_span_rx_dchan(struct tdm_span *span, const uint8_t *frame,
		       size_t len)
{
	if (dchan_dropped(span))
		return;
	span->cnt.dchan_rx++;
	if (span->dchanh)
		span->dchanh(span, frame, len, span->dchan_arg);
}

/*
 * One tick: every open channel gets its rx slice and a tx slice filled
 * with idle code, then the tick handler runs.  The caller holds a
 * reference; false when the owner let the span go meanwhile.
 */
static bool run_tick(struct tdm_span *span, const uint8_t *rx)
{
	unsigned ts;

	memset(span->tx, tdm_span_idle_code(span), sizeof(span->tx));
	for (ts = 1; ts < TDM_MAX_TS; ts++) {
		struct tdm_chan *ch = &span->chans[ts];
		size_t off = (size_t)ts * TDM_FRAME_SAMPLES;

		if (!ch->frameh || !tdm_span_is_bearer_ts(span, ts))
			continue;
		ch->frameh(ch, rx + off, span->tx + off, ch->arg);
		if (!owned(span))
			return false;
	}
	if (span->tickh) {
		span->tickh(span, span->tick_arg);
		if (!owned(span))
			return false;
	}
	return true;
}

static void send_bearer(struct tdm_span *span)
{
	int err = span->drv->bearer_send(span, span->tx);

	if (!err)
		span->cnt.frames_tx++;
	priv(span)->sent_prev = !err;
}

/**
 * A bearer frame (TDM_BEARER_BYTES) arrived.  On a slave span this is
 * the tick: every open channel's handler, the tick handler, then the
 * answer frame goes out.  A master span keeps the frame for its next
 * clock tick.  A tail call for the driver.
 */
void tdm_span_rx_bearer(struct tdm_span *span, const uint8_t *frame)
{
	struct span_priv *sp = priv(span);

	span->cnt.frames_rx++;
	if (span->conf.master) {
		memcpy(sp->rxbuf, frame, sizeof(sp->rxbuf));
		sp->rx_count++;
		return;
	}
	gw_mem_ref(span);
	if (run_tick(span, frame))
		send_bearer(span);
	gw_mem_deref(span);
}

/*
 * The master's clock: tick n is due at clk_start + n * 20 ms whatever
 * the loop's latency, so the rate never drifts.  A loop late by a frame
 * or more skips the frames it missed (counted as slips) rather than
 * sending a burst the far end would have to absorb.
 */
static void clock_tick(void *arg)
{
	struct span_priv *sp = arg;
	struct tdm_span *span = &sp->span;
	uint64_t now = gw_now_ms();
	uint64_t due = sp->clk_start + sp->clk_n * TDM_FRAME_MS;
	bool linked = span->bearer_link;
	const uint8_t *rx;

	if (now >= due + TDM_FRAME_MS) {
		uint64_t late = (now - due) / TDM_FRAME_MS;

		sp->clk_n += late;
		if (linked) {
			span->cnt.slips += late;
			GW_LOG_LIMITED(GW_LOG_WARN, "span %u: clock %llu ms "
				       "late, %llu frame(s) skipped",
				       span->conf.id,
				       (unsigned long long)(now - due),
				       (unsigned long long)late);
		}
	}

	/* The slave answers each frame at once: exactly one answer per
	 * frame sent, or a frame was lost or will be repeated. */
	if (linked && sp->sent_prev && sp->rx_count != 1)
		span->cnt.slips += sp->rx_count ? sp->rx_count - 1 : 1;
	if (sp->rx_count) {
		sp->rx_age = 0;
	} else if (sp->rx_age < 2 && ++sp->rx_age == 2) {
		/* Repeat one frame across a slip, then idle. */
		memset(sp->rxbuf, tdm_span_idle_code(span),
		       sizeof(sp->rxbuf));
	}
	sp->rx_count = 0;
	rx = sp->rxbuf;

	gw_mem_ref(span);
	if (!run_tick(span, rx)) {
		gw_mem_deref(span);
		return;
	}
	if (linked && !(sp->tx_alarms & RED_ALARMS))
		send_bearer(span);
	else
		sp->sent_prev = false;

	sp->clk_n++;
	due = sp->clk_start + sp->clk_n * TDM_FRAME_MS;
	now = gw_now_ms();
	gw_tmr_start(&sp->clk, due > now ? due - now : 0, clock_tick, sp);
	gw_mem_deref(span);
}

/** The far end's alarms changed (a tail call for the driver). */
void tdm_span_rx_alarms(struct tdm_span *span, unsigned alarms)
{
	if (alarms != span->alarms) {
		GW_INFO("span %u: alarms 0x%x -> 0x%x", span->conf.id,
			span->alarms, alarms);
	}
	span->alarms = alarms;
	update_state(span);
}

/**
 * The transport of one half (TDM_OPEN_DCHAN or TDM_OPEN_BEARER) came up
 * or went down (a tail call for the driver).
 */
void tdm_span_link(struct tdm_span *span, unsigned open_flag, bool up)
{
	struct span_priv *sp = priv(span);

	if (open_flag & TDM_OPEN_DCHAN)
		span->dchan_link = up;
	if (open_flag & TDM_OPEN_BEARER) {
		span->bearer_link = up;
		sp->sent_prev = false;
		sp->rx_count = 0;
	}
	update_state(span);
}
