/* hw/chan.c - bearer channels: state and the frame handler of one timeslot */
#include <errno.h>

#define GW_LOG_MOD "tdm"
#include "hw_int.h"

/*
 * A channel is a timeslot of its span, embedded in it: it lives as long
 * as the span and needs no allocation.  Its state is bookkeeping for call
 * control and the status socket; frames flow to it only while it is
 * open, whatever its state.
 */

/** The channel's timeslot (E1 1..31 without 16, T1 1..23). */
unsigned tdm_chan_ts(const struct tdm_chan *ch)
{
	return ch ? ch->ts : 0;
}

/** The span the channel belongs to. */
struct tdm_span *tdm_chan_span(const struct tdm_chan *ch)
{
	return ch ? ch->span : NULL;
}

/** The channel's state. */
enum tdm_chan_state tdm_chan_state(const struct tdm_chan *ch)
{
	return ch ? ch->state : TDM_CHAN_MAINTENANCE;
}

/** Set the channel's state (call control's and the operator's view). */
void tdm_chan_set_state(struct tdm_chan *ch, enum tdm_chan_state state)
{
	if (!ch || (unsigned)state > TDM_CHAN_MAINTENANCE)
		return;
	if (ch->state != state) {
		GW_DBG("span %u ch %u: %s -> %s", ch->span->conf.id, ch->ts,
		       tdm_chan_state_name(ch->state),
		       tdm_chan_state_name(state));
	}
	ch->state = state;
}

static const char *const state_names[] = {
	[TDM_CHAN_IDLE] = "idle",
	[TDM_CHAN_RESERVED] = "reserved",
	[TDM_CHAN_IN_USE] = "in_use",
	[TDM_CHAN_BLOCKED] = "blocked",
	[TDM_CHAN_MAINTENANCE] = "maintenance",
};

/** "idle", "reserved", "in_use", "blocked" or "maintenance". */
const char *tdm_chan_state_name(enum tdm_chan_state state)
{
	return (unsigned)state < GW_ARRAY_SIZE(state_names) ?
		state_names[state] : "?";
}

/**
 * Receive the channel's frames: h(ch, rx, tx, arg) runs once per span
 * tick with the 160 bytes received and 160 bytes of idle code to
 * overwrite with what to send.  A channel has one reader: EBUSY if it is
 * open already.
 */
int tdm_chan_open(struct tdm_chan *ch, tdm_chan_frame_h *h, void *arg)
{
	if (!ch || !h)
		return EINVAL;
	if (ch->frameh)
		return EBUSY;
	ch->frameh = h;
	ch->arg = arg;
	return 0;
}

/** Stop the channel's frames; it sends idle code from the next tick. */
void tdm_chan_close(struct tdm_chan *ch)
{
	if (!ch)
		return;
	ch->frameh = NULL;
	ch->arg = NULL;
}

/** Whether the channel is open (has a frame handler). */
bool tdm_chan_is_open(const struct tdm_chan *ch)
{
	return ch && ch->frameh != NULL;
}
