/* hw/hw_int.h - what hw/'s files share: the span object and the driver ops */
#ifndef GW_HW_INT_H
#define GW_HW_INT_H

#include "tdm.h"

/*
 * A driver moves frames; span.c owns state, counters and channels.  The
 * driver reports upward through the tdm_span_rx_* and tdm_span_link_*
 * calls below; span.c calls the driver through its ops.
 */
struct tdm_driver {
	const char *name;
	int  (*open)(struct tdm_span *span, unsigned open_flags);
	void (*close)(struct tdm_span *span);
	int  (*dchan_send)(struct tdm_span *span, const uint8_t *frame,
			   size_t len);
	/* One bearer frame: TDM_MAX_TS * TDM_FRAME_SAMPLES bytes, timeslot
	 * ts at offset ts * TDM_FRAME_SAMPLES (T1 channel n at n). */
	int  (*bearer_send)(struct tdm_span *span, const uint8_t *frame);
	/* Master side only (vspan): signal alarms to the far end. */
	int  (*send_alarms)(struct tdm_span *span, unsigned alarms);
};

struct tdm_chan {
	struct tdm_span *span;		/* borrowed: the span owns its chans */
	unsigned ts;
	enum tdm_chan_state state;
	tdm_chan_frame_h *frameh;
	void *arg;
};

#define TDM_BEARER_BYTES (TDM_MAX_TS * TDM_FRAME_SAMPLES)

struct tdm_span {
	struct tdm_span_conf conf;	/* strings are gw_mem copies */
	const struct tdm_driver *drv;
	void *drv_state;		/* the driver's own */
	unsigned open_flags;
	enum tdm_span_state state;
	unsigned alarms;		/* TDM_ALARM_* seen from the far end */
	bool dchan_link;		/* D-channel transport connected */
	bool bearer_link;		/* bearer transport connected */
	bool dchan_blocked;		/* master: simulated D-channel failure */
	struct tdm_span_counters cnt;
	struct tdm_chan chans[TDM_MAX_TS];
	uint8_t tx[TDM_BEARER_BYTES];	/* the frame being built */
	tdm_span_state_h *stateh;
	void *state_arg;
	tdm_dchan_h *dchanh;
	void *dchan_arg;
	tdm_span_tick_h *tickh;
	void *tick_arg;
};

/* For drivers. */
const struct tdm_driver *tdm_driver_find(const char *name);
void tdm_span_rx_dchan(struct tdm_span *span, const uint8_t *frame,
		       size_t len);
/* A bearer frame arrived: runs every open channel's handler and, on the
 * slave side, sends the answer frame. */
void tdm_span_rx_bearer(struct tdm_span *span, const uint8_t *frame);
void tdm_span_rx_alarms(struct tdm_span *span, unsigned alarms);
void tdm_span_link(struct tdm_span *span, unsigned open_flag, bool up);

extern const struct tdm_driver tdm_vspan_driver;
#ifdef HAVE_DAHDI
extern const struct tdm_driver tdm_dahdi_driver;
#endif

#endif
