/* hw/pri.c - ISDN PRI signalling on one D-channel, on libpri 1.6 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <libpri.h>

#define GW_LOG_MOD "pri"
#include "tdm.h"

/*
 * How this wraps libpri (see also notes/libraries.md, section 4):
 *
 * - I/O.  libpri reads and writes through our callbacks (pri_new_cb).
 *   tdm_pri_input hands libpri the frame being fed (read callback) and
 *   calls pri_check_event once per frame; the write callback passes what
 *   libpri writes, 2 FCS bytes included, to the send handler.  The first
 *   SABME is written inside pri_new_cb, so the callbacks find their
 *   instance through the userdata, never through a returned pointer.
 *
 * - Timers.  After every batch of libpri calls, one gw_tmr is re-armed
 *   from pri_schedule_next(), which is an absolute gettimeofday() time
 *   (so a wall-clock step shifts libpri's timers by as much); on expiry
 *   pri_schedule_run() runs until it has no more events to return.
 *
 * - Events.  libpri's event lives inside its struct pri, so each one is
 *   translated into a struct tdm_pri_event at once and queued; the queue
 *   is delivered after libpri has returned, never from inside it.
 *   Events caused by a request (tdm_pri_hangup answering with RELEASE)
 *   are delivered from the loop (a 0 ms timer), never from within the
 *   request, so a handler may call any request on any call.
 *
 * - Calls.  A struct tdm_pri_call wraps one q931_call.  It belongs to
 *   the instance: it is valid from a successful tdm_pri_setup, or from
 *   the TDM_PRI_SETUP event, until the TDM_PRI_RELEASE event handler
 *   returns; then it is freed.  RELEASE is always its last event, and
 *   after tdm_pri_hangup it is the only one still delivered.  Whoever
 *   keeps a reference beyond (gw_mem_ref) holds a detached handle that
 *   every request refuses with EINVAL.
 *
 * - When libpri is done with a call (measured on 1.6.0).  After
 *   PRI_EVENT_HANGUP (the far end released, or a timer gave up) we call
 *   pri_hangup again, which sends RELEASE COMPLETE if needed and frees
 *   it; after PRI_EVENT_HANGUP_ACK it is freed already.  But libpri
 *   also ends calls without an event: our pri_hangup of an incoming
 *   call not yet answered frees it at once (causes 1, 34, 44, 81, 82,
 *   88: RELEASE COMPLETE) or sends nothing at all (any other cause: so
 *   we send CALL PROCEEDING first); a DISCONNECT on such a call it
 *   answers itself with RELEASE COMPLETE and then keeps the call for
 *   ever; after a link failure it frees such calls silently.  So after
 *   every batch of libpri calls each of our calls is checked: libpri
 *   still has it (pri_get_crv, which in 1.6 checks the pointer against
 *   its call list, complaining through pri_error, silenced for this),
 *   and we wrote no RELEASE COMPLETE for its call reference.  If not,
 *   the call is over: freed in libpri if need be, and released here.
 *
 * - The D-channel.  DCHAN_UP and DCHAN_DOWN are delivered on changes
 *   only.  While it is down, requests fail with ENOTCONN, except
 *   tdm_pri_hangup: it is held and sent once the link has been back for
 *   LINK_SETTLE_MS, unless libpri clears the call first (at once for
 *   calls not yet answered, after T309 for answered ones); either way
 *   RELEASE follows.
 *
 * - Causes.  libpri's events carry the cause but not its location, so
 *   the cause IE of the frame being fed is read here as well.  An event
 *   field that does not apply or is not known is 0, except location,
 *   which is -1 when unknown (0 is a real location: the user).
 */

/* Q.850 cause for calls that a RESTART or libpri took away unasked. */
#define CAUSE_LOST	PRI_CAUSE_NORMAL_TEMPORARY_FAILURE
#define LINK_SETTLE_MS	1200	/* held hangups wait this long after
				 * the link is up (link_settled) */

struct qev {
	struct qev *next;
	bool embedded;		/* a call's own RELEASE: not freed */
	struct tdm_pri_event ev;
};

struct in_frame {
	struct in_frame *next;
	size_t len;
	uint8_t data[];
};

struct tdm_pri_call {
	struct tdm_pri_call *next;	/* in pri->calls */
	struct tdm_pri *pri;		/* borrowed; NULL once released */
	q931_call *qc;			/* NULL once libpri is done */
	void *user;
	unsigned ts;
	bool incoming;
	int cr;				/* call reference, -1: unknown */
	bool responded;			/* outgoing, or SETUP answered */
	bool far_disc;			/* the far end sent DISCONNECT */
	bool relc_sent;			/* we wrote RELEASE COMPLETE */
	bool hungup;			/* tdm_pri_hangup was called */
	bool hangup_pending;		/* ... while the link was down */
	int hangup_cause;
	bool cause_set;			/* cause, location are known */
	int cause, location;		/* what first cleared the call */
	struct qev rel;			/* its RELEASE event */
};

struct tdm_pri {
	struct tdm_pri_conf conf;
	struct pri *ctrl;		/* libpri's controller */
	tdm_pri_send_h *sendh;
	tdm_pri_event_h *evh;
	void *arg;
	struct gw_tmr tmr;		/* libpri's next timer */
	struct gw_tmr kick;		/* deliver what a request queued */
	struct gw_tmr settle_tmr;	/* held hangups go when it fires */
	bool up;			/* Q.921 link established */
	unsigned in_lib;		/* inside a libpri call */
	bool dispatching;
	bool draining;
	bool probing;			/* pri_get_crv: mute pri_error */
	const uint8_t *in;		/* the frame being fed to libpri */
	size_t inlen;
	bool from_input;		/* handling what a frame caused */
	int in_cause, in_loc;		/* its cause IE; -1: none */
	struct tdm_pri_call *calls;
	struct qev *evq, **evtail;
	struct in_frame *inq, **intail;
	struct gw_log_limit tx_lim;
};

/* ---- libpri's controllers that cannot be freed ------------------------ */

/*
 * libpri 1.6 has no pri_destroy: its pri_ctrl_destroy is static, used
 * only when pri_new fails.  A controller (the struct pri with its
 * timer array and message buffer) therefore outlives its tdm_pri; it is
 * parked here, reachable, with its userdata cleared, after its calls
 * have been freed with pri_destroycall.  Nothing runs it again: libpri
 * does nothing unless called.  Spans are created at start-up and on
 * reconfiguration, so this grows by one controller per span replaced.
 */
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pri **parked;
static size_t nparked, parkcap;

static void park_ctrl(struct pri *ctrl)
{
	pthread_mutex_lock(&park_lock);
	if (nparked == parkcap) {
		size_t cap = parkcap ? parkcap * 2 : 8;
		struct pri **p = realloc(parked, cap * sizeof(*p));

		if (p) {
			parked = p;
			parkcap = cap;
		}
	}
	if (nparked < parkcap)
		parked[nparked++] = ctrl;
	pthread_mutex_unlock(&park_lock);
}

/* ---- logging ----------------------------------------------------------- */

static unsigned span_of(struct pri *ctrl)
{
	struct tdm_pri *pri = ctrl ? pri_get_userdata(ctrl) : NULL;

	return pri ? pri->conf.span : 0;
}

static void lib_message(struct pri *ctrl, char *s)
{
	GW_DBG("span %u: %s", span_of(ctrl), s);
}

static void lib_error(struct pri *ctrl, char *s)
{
	struct tdm_pri *pri = ctrl ? pri_get_userdata(ctrl) : NULL;

	if (pri && pri->probing)
		return;
	GW_ERR("span %u: %s", span_of(ctrl), s);
}

/* ---- small conversions ------------------------------------------------ */

static const char *const ev_names[] = {
	[TDM_PRI_DCHAN_UP] = "dchan_up",
	[TDM_PRI_DCHAN_DOWN] = "dchan_down",
	[TDM_PRI_SETUP] = "setup",
	[TDM_PRI_SETUP_ACK] = "setup_ack",
	[TDM_PRI_PROCEEDING] = "proceeding",
	[TDM_PRI_PROGRESS] = "progress",
	[TDM_PRI_ALERTING] = "alerting",
	[TDM_PRI_CONNECT] = "connect",
	[TDM_PRI_CONNECT_ACK] = "connect_ack",
	[TDM_PRI_INFO] = "info",
	[TDM_PRI_DISCONNECT] = "disconnect",
	[TDM_PRI_RELEASE] = "release",
	[TDM_PRI_RESTART] = "restart",
	[TDM_PRI_SERVICE] = "service",
};

static const struct {
	const char *name;
	enum tdm_pri_switch sw;
	int lib;
} switches[] = {
	{"euroisdn_e1", TDM_PRI_EUROISDN_E1, PRI_SWITCH_EUROISDN_E1},
	{"euroisdn_t1", TDM_PRI_EUROISDN_T1, PRI_SWITCH_EUROISDN_T1},
	{"national", TDM_PRI_NATIONAL, PRI_SWITCH_NI2},
	{"ni1", TDM_PRI_NI1, PRI_SWITCH_NI1},
	{"dms100", TDM_PRI_DMS100, PRI_SWITCH_DMS100},
	{"4ess", TDM_PRI_4ESS, PRI_SWITCH_ATT4ESS},
	{"5ess", TDM_PRI_5ESS, PRI_SWITCH_LUCENT5E},
	{"qsig", TDM_PRI_QSIG, PRI_SWITCH_QSIG},
};

static int switch_lib(enum tdm_pri_switch sw)
{
	size_t i;

	for (i = 0; i < GW_ARRAY_SIZE(switches); i++) {
		if (switches[i].sw == sw)
			return switches[i].lib;
	}
	return -1;
}

/*
 * libpri sends SERVICE messages (ANSI T1.607 maintenance) only in the
 * AT&T and NI-2 flavours; ETSI and Q.SIG have none.
 */
static bool switch_has_service(enum tdm_pri_switch sw)
{
	return sw == TDM_PRI_NATIONAL || sw == TDM_PRI_4ESS ||
	       sw == TDM_PRI_5ESS;
}

/*
 * The configuration names no line type, so the switch type stands for
 * it: EuroISDN E1 and Q.SIG run on E1 (timeslots 1-15, 17-31), the
 * others on T1 (1-23).
 */
static bool pri_e1(const struct tdm_pri *pri)
{
	return pri->conf.type == TDM_E1;
}

static bool valid_ts(const struct tdm_pri *pri, unsigned ts)
{
	if (pri_e1(pri))
		return ts >= 1 && ts <= 31 && ts != 16;
	return ts >= 1 && ts <= 23;
}

/*
 * libpri's channel argument: bits 0-7 the channel (the timeslot on E1
 * and T1 alike), bits 8-15 the span and bit 16 "explicit" (an interface
 * identifier in the IE), both for NFAS only: a plain PRI sends neither.
 * 0 leaves the channel out.
 */
static int ts_chan(unsigned ts)
{
	return (int)(ts & 0xff);
}

/* Channel of an event: -1 none, 0xff any or the whole interface. */
static unsigned chan_ts(int channel)
{
	if (channel < 0)
		return 0;
	channel &= 0xff;
	return channel == 0xff ? 0 : (unsigned)channel;
}

static bool number_ok(const struct tdm_pri_number *n)
{
	return memchr(n->digits, '\0', sizeof(n->digits)) != NULL &&
	       n->plan <= 15 && n->ton <= 7 && n->pres <= 3 && n->screen <= 3;
}

/* Q.931 octet 3: type of number and numbering plan. */
static int number_plan(const struct tdm_pri_number *n)
{
	return (n->ton & 7) << 4 | (n->plan & 0x0f);
}

/* Q.931 octet 3a: presentation and screening. */
static int number_pres(const struct tdm_pri_number *n)
{
	return (n->pres & 3) << 5 | (n->screen & 3);
}

static void number_set(struct tdm_pri_number *n, const char *digits,
		       int plan, int pres)
{
	size_t len = strnlen(digits, sizeof(n->digits) - 1);

	memcpy(n->digits, digits, len);
	n->digits[len] = '\0';
	if (plan < 0)
		plan = 0;
	if (pres < 0)
		pres = 0;
	n->plan = plan & 0x0f;
	n->ton = (plan >> 4) & 7;
	n->pres = (pres >> 5) & 3;
	n->screen = pres & 3;
}

/* In-band information: progress indicator 1 or 8. */
static bool mask_inband(int mask)
{
	return (mask & (PRI_PROG_CALL_NOT_E2E_ISDN |
			PRI_PROG_INBAND_AVAILABLE)) != 0;
}

static bool digits_ok(const char *d)
{
	if (!d || !*d || strlen(d) >= 64)
		return false;
	for (; *d; d++) {
		if (!((*d >= '0' && *d <= '9') || *d == '*' || *d == '#'))
			return false;
	}
	return true;
}

/*
 * The Q.931 message in a frame (Q.921 I or UI frame, 2 FCS bytes at
 * the end): its message type, or -1; *offp is where its IEs start,
 * *crp its call reference with the flag as bit 15.
 */
static int q931_msg(const uint8_t *f, size_t len, size_t *offp,
		    unsigned *crp)
{
	size_t i, n, k;
	unsigned cr = 0;

	if (len < 2 + 3)
		return -1;
	len -= 2;
	if (!(f[2] & 0x01))
		i = 4;				/* I frame */
	else if ((f[2] & 0xef) == 0x03)
		i = 3;				/* UI frame */
	else
		return -1;
	if (i + 2 > len || f[i] != 0x08)	/* Q.931 */
		return -1;
	n = f[i + 1] & 0x0f;
	if (n > 2 || i + 2 + n >= len)
		return -1;
	for (k = 0; k < n; k++)
		cr = cr << 8 | f[i + 2 + k];
	if (n == 1)
		cr = (cr & 0x80) << 8 | (cr & 0x7f);
	*crp = cr;
	*offp = i + 2 + n + 1;
	return f[i + 2 + n];
}

/* The first cause IE of a frame: its value and location, -1 if none. */
static void frame_cause(const uint8_t *f, size_t len, int *causep,
			int *locp)
{
	size_t i, n;
	unsigned cr;

	*causep = *locp = -1;
	if (q931_msg(f, len, &i, &cr) < 0)
		return;
	len -= 2;
	while (i < len) {
		uint8_t ie = f[i];

		if (ie & 0x80) {
			/* Single octet; a locking shift leaves codeset 0. */
			if ((ie & 0xf8) == 0x90 && (ie & 0x07))
				return;
			i++;
			/* A non-locking shift: skip the next IE. */
			if ((ie & 0xf8) == 0x98 && i < len)
				i += (f[i] & 0x80) ? 1 :
				     (i + 1 < len ? 2u + f[i + 1] : len);
			continue;
		}
		if (i + 1 >= len)
			return;
		n = f[i + 1];
		if (i + 2 + n > len)
			return;
		if (ie == 0x08 && n >= 2) {
			const uint8_t *c = f + i + 2;
			size_t v = (c[0] & 0x80) ? 1 : 2;	/* octet 3a? */

			*locp = c[0] & 0x0f;
			if (v < n)
				*causep = c[v] & 0x7f;
			return;
		}
		i += 2 + n;
	}
}

/* ---- libpri I/O and timers ------------------------------------------- */

static int io_read(struct pri *ctrl, void *buf, int buflen)
{
	struct tdm_pri *pri = pri_get_userdata(ctrl);
	size_t n;

	if (!pri || !pri->in || buflen <= 0)
		return 0;
	n = pri->inlen < (size_t)buflen ? pri->inlen : (size_t)buflen;
	memcpy(buf, pri->in, n);
	pri->in = NULL;
	return (int)n;
}

/*
 * A frame that cannot be sent is lost, as on a line; Q.921 recovers.
 * Reporting the full length keeps libpri from logging every loss.
 */
static int io_write(struct pri *ctrl, void *buf, int buflen)
{
	struct tdm_pri *pri = pri_get_userdata(ctrl);
	struct tdm_pri_call *call;
	unsigned sup, cr;
	size_t off;
	int err;

	if (!pri || buflen <= 0)
		return 0;
	if (q931_msg(buf, (size_t)buflen, &off, &cr) == 0x5a) {
		/* The flag is set in messages from the called side. */
		for (call = pri->calls; call; call = call->next) {
			if (call->cr == (int)(cr & 0x7fff) &&
			    call->incoming == !!(cr & 0x8000))
				call->relc_sent = true;
		}
	}
	err = pri->sendh(buf, (size_t)buflen, pri->arg);
	/* Before the transport is linked (start-up, a lost peer) Q.921
	 * retransmits by itself: only other failures are worth a line. */
	if (err == ENOTCONN)
		GW_DBG("span %u: D-channel not linked; frame dropped",
		       pri->conf.span);
	else if (err && gw_log_limit_pass(&pri->tx_lim, 15000, &sup))
		gw_log_limited(GW_LOG_WARN, GW_LOG_MOD, sup,
			       "span %u: D-channel send failed: %s",
			       pri->conf.span, strerror(err));
	return buflen;
}

static void lib_enter(struct tdm_pri *pri)
{
	pri->in_lib++;
}

static void lib_leave(struct tdm_pri *pri)
{
	pri->in_lib--;
}

static void on_tmr(void *arg);
static void on_kick(void *arg);

/* Arm our timer for libpri's next one. */
static void rearm(struct tdm_pri *pri)
{
	struct timeval *tv, now;
	int64_t us;

	tv = pri_schedule_next(pri->ctrl);
	if (!tv) {
		gw_tmr_cancel(&pri->tmr);
		return;
	}
	gettimeofday(&now, NULL);
	us = (int64_t)(tv->tv_sec - now.tv_sec) * 1000000 +
	     (tv->tv_usec - now.tv_usec);
	gw_tmr_start(&pri->tmr, us > 0 ? (uint64_t)(us + 999) / 1000 : 0,
		     on_tmr, pri);
}

/* ---- calls and the event queue ---------------------------------------- */

static struct tdm_pri_call *call_new(struct tdm_pri *pri, q931_call *qc)
{
	/* No destructor: the user pointer is not ours. */
	struct tdm_pri_call *call = gw_mem_zalloc(sizeof(*call), NULL);

	if (!call)
		return NULL;
	call->pri = pri;
	call->qc = qc;
	call->location = -1;
	call->cr = -1;
	call->next = pri->calls;
	pri->calls = call;
	return call;
}

static struct tdm_pri_call *call_find(const struct tdm_pri *pri,
				      const q931_call *qc)
{
	struct tdm_pri_call *call;

	if (!qc)
		return NULL;
	for (call = pri->calls; call; call = call->next) {
		if (call->qc == qc)
			return call;
	}
	return NULL;
}

static void call_unlink(struct tdm_pri *pri, struct tdm_pri_call *call)
{
	struct tdm_pri_call **pp;

	for (pp = &pri->calls; *pp; pp = &(*pp)->next) {
		if (*pp == call) {
			*pp = call->next;
			call->next = NULL;
			return;
		}
	}
}

static void call_cause(struct tdm_pri_call *call, int cause, int location)
{
	if (call->cause_set || cause <= 0)
		return;
	call->cause_set = true;
	call->cause = cause;
	call->location = location;
}

/*
 * The call's reference value as libpri holds it, or -1 when libpri no
 * longer has the call: pri_get_crv checks the pointer against its call
 * list first (see the top of this file).
 */
static int call_crv(struct tdm_pri *pri, q931_call *qc)
{
	int mode = 0, v;

	pri->probing = true;
	v = pri_get_crv(pri->ctrl, qc, &mode);
	pri->probing = false;
	return v < 0 ? -1 : ((v << 3) | (mode & 7)) & 0x7fff;
}

static bool call_alive(struct tdm_pri *pri, q931_call *qc)
{
	return call_crv(pri, qc) >= 0;
}

static void evq_push(struct tdm_pri *pri, struct qev *q)
{
	q->next = NULL;
	*pri->evtail = q;
	pri->evtail = &q->next;
}

static struct qev *evq_pop(struct tdm_pri *pri)
{
	struct qev *q = pri->evq;

	if (q) {
		pri->evq = q->next;
		if (!pri->evq)
			pri->evtail = &pri->evq;
		q->next = NULL;
	}
	return q;
}

static struct qev *ev_new(enum tdm_pri_ev type, struct tdm_pri_call *call)
{
	struct qev *q = gw_mem_zalloc(sizeof(*q), NULL);

	if (!q) {
		GW_ERR("no memory for a %s event", tdm_pri_ev_name(type));
		return NULL;
	}
	q->ev.type = type;
	q->ev.call = call;
	q->ev.ts = call ? call->ts : 0;
	q->ev.location = -1;
	return q;
}

/* Queue q; it holds a reference to its call until delivered. */
static void emit(struct tdm_pri *pri, struct qev *q)
{
	if (!q)
		return;
	if (q->ev.call) {
		gw_mem_ref(q->ev.call);
		if (q->ev.ts)
			q->ev.call->ts = q->ev.ts;
		q->ev.ts = q->ev.call->ts;
	}
	evq_push(pri, q);
}

/*
 * libpri is done with the call: unlink it and queue its RELEASE, which
 * takes over the list's reference.
 */
static void call_release(struct tdm_pri *pri, struct tdm_pri_call *call,
			 int cause, int location)
{
	struct qev *q = &call->rel;

	call_cause(call, cause, location);
	call->qc = NULL;
	call->hangup_pending = false;
	call_unlink(pri, call);
	memset(q, 0, sizeof(*q));
	q->embedded = true;
	q->ev.type = TDM_PRI_RELEASE;
	q->ev.call = call;
	q->ev.ts = call->ts;
	q->ev.cause = call->cause_set ? call->cause : cause;
	q->ev.location = call->cause_set ? call->location : -1;
	evq_push(pri, q);
}

/* Take a call from libpri without a word on the wire, and release it. */
static void call_drop(struct tdm_pri *pri, struct tdm_pri_call *call,
		      int cause)
{
	if (call->qc && call_alive(pri, call->qc))
		pri_destroycall(pri->ctrl, call->qc);
	call_release(pri, call, cause, -1);
}

/*
 * Causes with which libpri 1.6 refuses an incoming call it has not
 * answered with RELEASE COMPLETE (and frees it); with any other cause
 * it sends nothing at all in that state (not "alive" yet: measured).
 */
static bool cause_refuses(int cause)
{
	return cause == 1 || cause == 34 || cause == 44 || cause == 81 ||
	       cause == 82 || cause == 88;
}

/* Send our hangup; release the call if libpri freed it doing so. */
static void do_hangup(struct tdm_pri *pri, struct tdm_pri_call *call)
{
	q931_call *qc = call->qc;
	int r;

	call->hangup_pending = false;
	lib_enter(pri);
	if (!call->responded && !call->far_disc &&
	    !cause_refuses(call->hangup_cause)) {
		/* CALL PROCEEDING first, so that DISCONNECT goes out. */
		pri_proceeding(pri->ctrl, qc, 0, 0);
		call->responded = true;
	}
	r = pri_hangup(pri->ctrl, qc, call->hangup_cause);
	lib_leave(pri);
	if (r)
		GW_WARN("span %u: pri_hangup failed", pri->conf.span);
	if (!call_alive(pri, qc))
		call_release(pri, call, call->hangup_cause, -1);
}

/*
 * libpri may also end a call without an event: it frees one it never
 * reported as alive after a link failure; and a DISCONNECT on an
 * incoming call not yet answered it answers itself with RELEASE
 * COMPLETE, keeping the call for ever.  Release (and free) any of ours
 * that libpri no longer has or that we saw cleared on the wire.
 */
static void sweep(struct tdm_pri *pri)
{
	struct tdm_pri_call *call, *next;
	int cause, loc;

	for (call = pri->calls; call; call = next) {
		next = call->next;
		if (!call->qc)
			continue;
		if (call_alive(pri, call->qc)) {
			if (!call->relc_sent)
				continue;
			pri_destroycall(pri->ctrl, call->qc);
		}
		if (pri->from_input && pri->in_cause >= 0) {
			cause = pri->in_cause;
			loc = pri->in_loc;
		} else {
			cause = pri->up ? CAUSE_LOST :
				PRI_CAUSE_DESTINATION_OUT_OF_ORDER;
			loc = -1;
		}
		call_release(pri, call, cause, loc);
	}
}

/* ---- translating libpri's events ------------------------------------- */

/* Cause and location of a clearing event: the frame's, if from one. */
static void ev_cause(const struct tdm_pri *pri, int cause, int *causep,
		     int *locp)
{
	*causep = cause;
	*locp = -1;
	if (pri->from_input && pri->in_cause >= 0) {
		*causep = pri->in_cause;
		*locp = pri->in_loc;
	}
}

/*
 * The link has been up LINK_SETTLE_MS: the hangups held while it was
 * down go out.  When both ends re-establish Q.921 at once,
 * the far end's SABME may come up to T200 (1 s) after our link is up;
 * that second establishment discards the I-frames sent in between
 * (Q.921 s.5.5.1, 5.7.1), and Q.931 s.5.8.8 b) takes no action for a
 * call being cleared, so a DISCONNECT lost there would only be repeated
 * at T305 (30 s), its B-channel held meanwhile.
 */
static void settle(struct tdm_pri *pri);

static void link_settled(void *arg)
{
	struct tdm_pri *pri = arg;
	struct tdm_pri_call *call, *next;

	gw_mem_ref(pri);
	for (call = pri->calls; call; call = next) {
		next = call->next;
		if (call->hangup_pending && call->qc)
			do_hangup(pri, call);
	}
	settle(pri);
	gw_mem_deref(pri);
}

static void on_dchan(struct tdm_pri *pri, bool up)
{
	if (pri->up == up)
		return;
	pri->up = up;
	GW_INFO("span %u: D-channel %s", pri->conf.span, up ? "up" : "down");
	emit(pri, ev_new(up ? TDM_PRI_DCHAN_UP : TDM_PRI_DCHAN_DOWN, NULL));
	if (up)
		gw_tmr_start(&pri->settle_tmr, LINK_SETTLE_MS, link_settled,
			     pri);
	else
		gw_tmr_cancel(&pri->settle_tmr);
}

static void on_ring(struct tdm_pri *pri, const pri_event_ring *r)
{
	const struct pri_subcommands *sc = r->subcmds;
	struct tdm_pri_call *call;
	struct qev *q;
	int i, rpres = 0;

	/* A handle still on this pointer missed its end: it is stale. */
	call = call_find(pri, r->call);
	if (call) {
		GW_WARN("span %u: stale call handle on a new call",
			pri->conf.span);
		call_release(pri, call, CAUSE_LOST, -1);
	}
	q = ev_new(TDM_PRI_SETUP, NULL);
	call = q ? call_new(pri, r->call) : NULL;
	if (!call) {
		/* Refuse it; libpri's later events find no call. */
		GW_ERR("span %u: no memory for an incoming call",
		       pri->conf.span);
		gw_mem_deref(q);
		lib_enter(pri);
		pri_hangup(pri->ctrl, r->call, PRI_CAUSE_SWITCH_CONGESTION);
		lib_leave(pri);
		return;
	}
	q->ev.call = call;
	call->incoming = true;
	/* The redirecting number's presentation comes as a subcommand. */
	for (i = 0; sc && i < sc->counter_subcmd &&
		    i < PRI_MAX_SUBCOMMANDS; i++) {
		if (sc->subcmd[i].cmd == PRI_SUBCMD_REDIRECTING) {
			rpres = sc->subcmd[i].u.redirecting.from.number.
				presentation;
			break;
		}
	}
	q->ev.ts = chan_ts(r->channel);
	/* Q.931 s.4.5.13: the channel indicator's bit 4, "indicated
	 * channel is exclusive" (libpri: not flexible) */
	q->ev.exclusive = q->ev.ts && !r->flexible;
	number_set(&q->ev.called, r->callednum, r->calledplan, 0);
	number_set(&q->ev.calling, r->callingnum, r->callingplan,
		   r->callingpres);
	number_set(&q->ev.redirecting, r->redirectingnum,
		   r->callingplanrdnis, rpres);
	q->ev.redirect_reason = r->redirectingnum[0] &&
				r->redirectingreason > 0 ?
				r->redirectingreason : 0;
	q->ev.bearer = r->ctype;
	q->ev.layer1 = r->layer1 & 0x1f;
	q->ev.complete = r->complete != 0;
	q->ev.progress = r->progress > 0 ? r->progress : 0;
	q->ev.inband = mask_inband(r->progressmask);
	/* Now that r is copied, libpri may be called again. */
	call->cr = call_crv(pri, call->qc);
	emit(pri, q);
	/* The new call's reference belongs to the list now. */
}

/* Events of an existing call: those that only report. */
static void on_call_ev(struct tdm_pri *pri, enum tdm_pri_ev type,
		       q931_call *qc, int channel, int progress, int mask,
		       int cause)
{
	struct tdm_pri_call *call = call_find(pri, qc);
	struct qev *q;

	if (!call) {
		GW_DBG("span %u: %s for an unknown call", pri->conf.span,
		       tdm_pri_ev_name(type));
		return;
	}
	q = ev_new(type, call);
	if (!q)
		return;
	q->ev.ts = chan_ts(channel);
	q->ev.progress = progress > 0 ? progress : 0;
	q->ev.inband = mask_inband(mask);
	if (cause > 0)
		ev_cause(pri, cause, &q->ev.cause, &q->ev.location);
	emit(pri, q);
}

/* DISCONNECT from the far end: the upper layer answers with hangup. */
static void on_hangup_req(struct tdm_pri *pri, q931_call *qc, int cause)
{
	struct tdm_pri_call *call = call_find(pri, qc);
	struct qev *q;
	int loc;

	if (!call) {
		/* Not ours (any more): clear it as libpri expects. */
		lib_enter(pri);
		pri_hangup(pri->ctrl, qc, cause);
		lib_leave(pri);
		return;
	}
	ev_cause(pri, cause, &cause, &loc);
	call_cause(call, cause, loc);
	call->far_disc = true;
	if (call->hungup) {
		/* Both ends cleared at once: answer with RELEASE now. */
		if (!call->hangup_pending)
			do_hangup(pri, call);
		return;
	}
	q = ev_new(TDM_PRI_DISCONNECT, call);
	if (!q)
		return;
	q->ev.cause = cause;
	q->ev.location = loc;
	emit(pri, q);
}

/* RELEASE or RELEASE COMPLETE received, or libpri's timers gave up. */
static void on_hangup(struct tdm_pri *pri, q931_call *qc, int cause)
{
	struct tdm_pri_call *call = call_find(pri, qc);
	int loc;

	lib_enter(pri);
	pri_hangup(pri->ctrl, qc, cause);
	lib_leave(pri);
	if (!call)
		return;
	if (call_alive(pri, qc)) {
		GW_WARN("span %u: libpri kept a call after its hangup",
			pri->conf.span);
		pri_destroycall(pri->ctrl, qc);
	}
	ev_cause(pri, cause, &cause, &loc);
	call_release(pri, call, cause, loc);
}

/* Our RELEASE was completed: libpri has freed the call. */
static void on_hangup_ack(struct tdm_pri *pri, q931_call *qc, int cause)
{
	struct tdm_pri_call *call = call_find(pri, qc);
	int loc;

	if (!call)
		return;
	ev_cause(pri, cause, &cause, &loc);
	call_release(pri, call, cause, loc);
}

/* Calls on a restarted timeslot (0: all) are gone, on both sides. */
static void drop_calls_on(struct tdm_pri *pri, unsigned ts)
{
	struct tdm_pri_call *call, *next;

	for (call = pri->calls; call; call = next) {
		next = call->next;
		if (!ts || call->ts == ts)
			call_drop(pri, call, CAUSE_LOST);
	}
}

static void on_restart(struct tdm_pri *pri, int channel)
{
	unsigned ts = chan_ts(channel);
	struct qev *q;

	drop_calls_on(pri, ts);
	q = ev_new(TDM_PRI_RESTART, NULL);
	if (!q)
		return;
	q->ev.ts = ts;
	emit(pri, q);
}

static void on_service(struct tdm_pri *pri, int channel, int status)
{
	struct qev *q = ev_new(TDM_PRI_SERVICE, NULL);

	if (!q)
		return;
	q->ev.ts = chan_ts(channel);
	q->ev.in_service = status == 0;
	emit(pri, q);
}

/*
 * Translate one libpri event.  Everything needed is copied out of e
 * before any other libpri call, which would overwrite it.
 */
static void translate(struct tdm_pri *pri, pri_event *e)
{
	struct tdm_pri_call *call;
	struct qev *q;

	switch (e->e) {
	case PRI_EVENT_DCHAN_UP:
		on_dchan(pri, true);
		break;
	case PRI_EVENT_DCHAN_DOWN:
		on_dchan(pri, false);
		break;
	case PRI_EVENT_RING:
		on_ring(pri, &e->ring);
		break;
	case PRI_EVENT_SETUP_ACK:
		on_call_ev(pri, TDM_PRI_SETUP_ACK, e->setup_ack.call,
			   e->setup_ack.channel, 0, e->setup_ack.progressmask,
			   0);
		break;
	case PRI_EVENT_PROCEEDING:
		on_call_ev(pri, TDM_PRI_PROCEEDING, e->proceeding.call,
			   e->proceeding.channel, e->proceeding.progress,
			   e->proceeding.progressmask, 0);
		break;
	case PRI_EVENT_PROGRESS:
		on_call_ev(pri, TDM_PRI_PROGRESS, e->proceeding.call,
			   e->proceeding.channel, e->proceeding.progress,
			   e->proceeding.progressmask, e->proceeding.cause);
		break;
	case PRI_EVENT_RINGING:
		on_call_ev(pri, TDM_PRI_ALERTING, e->ringing.call,
			   e->ringing.channel, e->ringing.progress,
			   e->ringing.progressmask, 0);
		break;
	case PRI_EVENT_ANSWER: {
		q931_call *qc = e->answer.call;

		on_call_ev(pri, TDM_PRI_CONNECT, qc, e->answer.channel,
			   e->answer.progress, e->answer.progressmask, 0);
		/* Manual CONNECT ACK mode (for its event): send it here. */
		if (call_find(pri, qc)) {
			lib_enter(pri);
			pri_connect_ack(pri->ctrl, qc, 0);
			lib_leave(pri);
		}
		break;
	}
	case PRI_EVENT_CONNECT_ACK:
		on_call_ev(pri, TDM_PRI_CONNECT_ACK, e->connect_ack.call,
			   e->connect_ack.channel, 0, 0, 0);
		break;
	case PRI_EVENT_INFO_RECEIVED:
		call = call_find(pri, e->ring.call);
		q = call ? ev_new(TDM_PRI_INFO, call) : NULL;
		if (!q)
			break;
		number_set(&q->ev.called, e->ring.callednum,
			   e->ring.calledplan, 0);
		memcpy(q->ev.digits, q->ev.called.digits,
		       sizeof(q->ev.digits));
		q->ev.complete = e->ring.complete != 0;
		emit(pri, q);
		break;
	case PRI_EVENT_HANGUP_REQ:
		on_hangup_req(pri, e->hangup.call, e->hangup.cause);
		break;
	case PRI_EVENT_HANGUP:
		on_hangup(pri, e->hangup.call, e->hangup.cause);
		break;
	case PRI_EVENT_HANGUP_ACK:
		on_hangup_ack(pri, e->hangup.call, e->hangup.cause);
		break;
	case PRI_EVENT_RESTART:
		on_restart(pri, e->restart.channel);
		break;
	case PRI_EVENT_SERVICE:
		on_service(pri, e->service.channel, e->service.changestatus);
		break;
	case PRI_EVENT_CONFIG_ERR:
		GW_ERR("span %u: %s", pri->conf.span, e->err.err);
		break;
	default:
		GW_DBG("span %u: ignored %s", pri->conf.span,
		       pri_event2str(e->e));
		break;
	}
}

/* ---- driving libpri ---------------------------------------------------- */

static void feed(struct tdm_pri *pri, const uint8_t *frame, size_t len)
{
	pri_event *e;

	pri->in = frame;
	pri->inlen = len;
	frame_cause(frame, len, &pri->in_cause, &pri->in_loc);
	lib_enter(pri);
	e = pri_check_event(pri->ctrl);
	lib_leave(pri);
	pri->in = NULL;
	pri->from_input = true;
	if (e)
		translate(pri, e);
	sweep(pri);
	pri->from_input = false;
	pri->in_cause = pri->in_loc = -1;
}

/* Frames that arrived while libpri was busy (a synchronous transport). */
static void drain_input(struct tdm_pri *pri)
{
	struct in_frame *f;

	if (pri->draining || pri->in_lib)
		return;
	pri->draining = true;
	while ((f = pri->inq)) {
		pri->inq = f->next;
		if (!pri->inq)
			pri->intail = &pri->inq;
		feed(pri, f->data, f->len);
		gw_mem_deref(f);
	}
	pri->draining = false;
}

/*
 * Deliver queued events.  The caller holds a reference to pri; when a
 * handler drops the last other one, delivery stops.
 */
static void dispatch(struct tdm_pri *pri)
{
	struct qev *q;

	if (pri->dispatching)
		return;
	pri->dispatching = true;
	while ((q = evq_pop(pri))) {
		struct tdm_pri_call *call = q->ev.call;
		bool rel = q->ev.type == TDM_PRI_RELEASE;

		/* After our hangup, RELEASE is the only news of a call. */
		if (pri->evh && (!call || !call->hungup || rel))
			pri->evh(pri, &q->ev, pri->arg);
		if (call && rel)
			call->pri = NULL;
		if (!q->embedded)
			gw_mem_deref(q);
		gw_mem_deref(call);
		if (gw_mem_nrefs(pri) <= 1)
			break;
	}
	pri->dispatching = false;
}

/* After a request: catch up with input, timers and events. */
static void settle(struct tdm_pri *pri)
{
	if (pri->in_lib)
		return;
	sweep(pri);
	drain_input(pri);
	rearm(pri);
	if (pri->evq && !pri->dispatching)
		gw_tmr_start(&pri->kick, 0, on_kick, pri);
}

static void on_kick(void *arg)
{
	struct tdm_pri *pri = gw_mem_ref(arg);

	dispatch(pri);
	gw_mem_deref(pri);
}

static void on_tmr(void *arg)
{
	struct tdm_pri *pri = gw_mem_ref(arg);
	pri_event *e;

	for (;;) {
		lib_enter(pri);
		e = pri_schedule_run(pri->ctrl);
		lib_leave(pri);
		if (!e)
			break;
		translate(pri, e);
	}
	sweep(pri);
	drain_input(pri);
	rearm(pri);
	dispatch(pri);
	gw_mem_deref(pri);
}

/* ---- the instance ----------------------------------------------------- */

static void pri_destructor(void *data)
{
	struct tdm_pri *pri = data;
	struct tdm_pri_call *call;
	struct in_frame *f;
	struct qev *q;

	gw_tmr_cancel(&pri->tmr);
	gw_tmr_cancel(&pri->kick);
	gw_tmr_cancel(&pri->settle_tmr);
	while ((q = evq_pop(pri))) {
		call = q->ev.call;
		if (call && q->ev.type == TDM_PRI_RELEASE)
			call->pri = NULL;
		if (!q->embedded)
			gw_mem_deref(q);
		gw_mem_deref(call);
	}
	while ((call = pri->calls)) {
		pri->calls = call->next;
		if (pri->ctrl && call->qc && call_alive(pri, call->qc))
			pri_destroycall(pri->ctrl, call->qc);
		call->qc = NULL;
		call->pri = NULL;
		call->next = NULL;
		gw_mem_deref(call);
	}
	while ((f = pri->inq)) {
		pri->inq = f->next;
		gw_mem_deref(f);
	}
	if (pri->ctrl) {
		pri_set_userdata(pri->ctrl, NULL);
		park_ctrl(pri->ctrl);
	}
}

/**
 * Start PRI signalling as conf describes: CPE or network side, switch
 * type, exclusive channel selection, overlap receiving.  Frames to send
 * go to sendh (Q.921 frame plus 2 FCS bytes, possibly from within this
 * call: the first SABME); events go to evh.  Both get arg.  Needs this
 * thread's loop.  Free with gw_mem_deref: libpri keeps its controller
 * (see park_ctrl), and calls still up are left to the far end's timers.
 */
int tdm_pri_alloc(struct tdm_pri **prip, const struct tdm_pri_conf *conf,
		  tdm_pri_send_h *sendh, tdm_pri_event_h *evh, void *arg)
{
	struct tdm_pri *pri;
	int sw, node, err = 0;

	if (!prip || !conf || !sendh || !evh)
		return EINVAL;
	sw = switch_lib(conf->switchtype);
	if (sw < 0 || (conf->node != TDM_PRI_CPE && conf->node != TDM_PRI_NET))
		return EINVAL;
	node = conf->node == TDM_PRI_CPE ? PRI_CPE : PRI_NETWORK;
	if (!gw_loop_self())
		return ENOSYS;

	pri = gw_mem_zalloc(sizeof(*pri), pri_destructor);
	if (!pri)
		return ENOMEM;
	pri->conf = *conf;
	pri->sendh = sendh;
	pri->evh = evh;
	pri->arg = arg;
	pri->in_cause = pri->in_loc = -1;
	pri->evtail = &pri->evq;
	pri->intail = &pri->inq;
	gw_tmr_init(&pri->tmr);
	gw_tmr_init(&pri->kick);
	gw_tmr_init(&pri->settle_tmr);

	pri_set_message(lib_message);
	pri_set_error(lib_error);

	/* The callbacks run in here already (SABME): userdata is set. */
	lib_enter(pri);
	pri->ctrl = pri_new_cb(-1, node, sw, io_read, io_write, pri);
	lib_leave(pri);
	if (!pri->ctrl) {
		err = ENOMEM;
		goto out;
	}
	if (gw_log_enabled(GW_LOG_MOD, GW_LOG_DEBUG))
		pri_set_debug(pri->ctrl, PRI_DEBUG_Q921_STATE |
			      PRI_DEBUG_Q931_STATE);
	pri_connect_ack_enable(pri->ctrl, 1);
	pri_set_overlapdial(pri->ctrl, conf->overlap ? 1 : 0);
	if (switch_has_service(conf->switchtype))
		pri_set_service_message_support(pri->ctrl, 1);
	settle(pri);
 out:
	if (err)
		gw_mem_deref(pri);
	else
		*prip = pri;
	return err;
}

/**
 * Feed one frame received on the D-channel (Q.921 frame plus 2 FCS
 * bytes).  Events it causes are delivered before this returns, unless
 * it is called from an event handler (they follow when the handler
 * returns) or from within the send handler, as a synchronous transport
 * does (the frame waits until libpri has returned).
 */
void tdm_pri_input(struct tdm_pri *pri, const uint8_t *frame, size_t len)
{
	struct in_frame *f;

	if (!pri || !frame)
		return;
	if (len < 5 || len > TDM_DCHAN_MAX) {
		GW_LOG_LIMITED(GW_LOG_WARN, "span %u: dropped a %zu-byte frame",
			       pri->conf.span, len);
		return;
	}
	if (pri->in_lib) {
		/* Fed from inside libpri (a synchronous transport): later. */
		f = gw_mem_alloc(sizeof(*f) + len, NULL);
		if (!f)
			return;
		f->next = NULL;
		f->len = len;
		memcpy(f->data, frame, len);
		*pri->intail = f;
		pri->intail = &f->next;
		return;
	}
	gw_mem_ref(pri);
	feed(pri, frame, len);
	drain_input(pri);
	rearm(pri);
	dispatch(pri);
	gw_mem_deref(pri);
}

/** Whether the D-channel is up (Q.921 multiple-frame established). */
bool tdm_pri_up(const struct tdm_pri *pri)
{
	return pri && pri->up;
}

static int call_check(const struct tdm_pri *pri,
		      const struct tdm_pri_call *call, unsigned ts)
{
	if (!pri || !call || call->pri != pri || !call->qc || call->hungup)
		return EINVAL;
	if (ts && !valid_ts(pri, ts))
		return EINVAL;
	if (!pri->up)
		return ENOTCONN;
	return 0;
}

/**
 * Place a call.  On success *callp is the call's handle, valid until
 * its TDM_PRI_RELEASE event; setup->user is its user pointer.  A
 * timeslot is requested exclusive or preferred as configured; 0 lets
 * the far end choose.  Layer 1 0 means the line's law.
 */
int tdm_pri_setup(struct tdm_pri *pri, const struct tdm_pri_setup *setup,
		  struct tdm_pri_call **callp)
{
	char called[64], calling[64], redir[64];
	struct tdm_pri_call *call = NULL;
	struct pri_sr *sr = NULL;
	q931_call *qc;
	int layer1, r, err = 0;

	if (!pri || !setup || !callp)
		return EINVAL;
	if ((setup->ts && !valid_ts(pri, setup->ts)) ||
	    !number_ok(&setup->called) || !number_ok(&setup->calling) ||
	    !number_ok(&setup->redirecting) ||
	    setup->bearer < 0 || setup->bearer > 0x1f ||
	    setup->layer1 < 0 || setup->layer1 > 0x1f ||
	    setup->redirect_reason < 0 || setup->redirect_reason > 15)
		return EINVAL;
	if (!pri->up)
		return ENOTCONN;

	layer1 = setup->layer1;
	if (!layer1)
		layer1 = pri_e1(pri) ? 3 : 2;
	memcpy(called, setup->called.digits, sizeof(called));
	memcpy(calling, setup->calling.digits, sizeof(calling));
	memcpy(redir, setup->redirecting.digits, sizeof(redir));

	sr = pri_sr_new();
	if (!sr)
		return ENOMEM;
	lib_enter(pri);
	qc = pri_new_call(pri->ctrl);
	lib_leave(pri);
	if (!qc) {
		err = ENOMEM;
		goto out;
	}
	call = call_find(pri, qc);
	if (call) {
		GW_WARN("span %u: stale call handle on a new call",
			pri->conf.span);
		call_release(pri, call, CAUSE_LOST, -1);
	}
	call = call_new(pri, qc);
	if (!call) {
		pri_destroycall(pri->ctrl, qc);
		err = ENOMEM;
		goto out;
	}
	call->cr = call_crv(pri, qc);
	call->ts = setup->ts;
	call->user = setup->user;
	call->responded = true;

	pri_sr_set_channel(sr, ts_chan(setup->ts),
			   setup->ts && pri->conf.exclusive, 0);
	pri_sr_set_bearer(sr, setup->bearer, 0x20 | layer1);
	pri_sr_set_called(sr, called, number_plan(&setup->called),
			  setup->complete);
	if (calling[0])
		pri_sr_set_caller(sr, calling, NULL,
				  number_plan(&setup->calling),
				  number_pres(&setup->calling));
	if (redir[0])
		pri_sr_set_redirecting(sr, redir,
				       number_plan(&setup->redirecting),
				       number_pres(&setup->redirecting),
				       setup->redirect_reason);
	lib_enter(pri);
	r = pri_setup(pri->ctrl, qc, sr);
	lib_leave(pri);
	if (r) {
		GW_WARN("span %u: pri_setup failed", pri->conf.span);
		call_unlink(pri, call);
		if (call_alive(pri, qc))
			pri_destroycall(pri->ctrl, qc);
		call = gw_mem_deref(call);
		err = EPROTO;
	}
 out:
	pri_sr_free(sr);
	settle(pri);
	if (!err)
		*callp = call;
	return err;
}

/*
 * The common tail of a response to an incoming call, r being libpri's
 * answer (called inside lib_enter): the call has been responded to and,
 * when ts is given, holds it.
 */
static int responded(struct tdm_pri *pri, struct tdm_pri_call *call,
		     unsigned ts, int r)
{
	lib_leave(pri);
	if (!r) {
		call->responded = true;
		if (ts)
			call->ts = ts;
	}
	settle(pri);
	return r ? EPROTO : 0;
}

/** Ask for more digits of an incoming call (overlap receiving). */
int tdm_pri_setup_ack(struct tdm_pri *pri, struct tdm_pri_call *call,
		      unsigned ts)
{
	int err = call_check(pri, call, ts);

	if (err)
		return err;
	lib_enter(pri);
	return responded(pri, call, ts,
			 pri_setup_ack(pri->ctrl, call->qc, ts_chan(ts), 0, 0));
}

/** Send CALL PROCEEDING on an incoming call; ts confirms or assigns. */
int tdm_pri_proceeding(struct tdm_pri *pri, struct tdm_pri_call *call,
		       unsigned ts, bool inband)
{
	int err = call_check(pri, call, ts);

	if (err)
		return err;
	lib_enter(pri);
	return responded(pri, call, ts,
			 pri_proceeding(pri->ctrl, call->qc, ts_chan(ts), inband));
}

/**
 * Send PROGRESS.  libpri's PROGRESS carries progress indicator 8
 * (in-band information available) and nothing else, so inband must be
 * true: EINVAL otherwise.
 */
int tdm_pri_progress(struct tdm_pri *pri, struct tdm_pri_call *call,
		     unsigned ts, bool inband)
{
	int err = call_check(pri, call, ts);

	if (err)
		return err;
	if (!inband)
		return EINVAL;
	lib_enter(pri);
	return responded(pri, call, ts,
			 pri_progress(pri->ctrl, call->qc, ts_chan(ts), 1));
}

/** Send ALERTING; inband adds progress indicator 8 (ringback in band). */
int tdm_pri_alerting(struct tdm_pri *pri, struct tdm_pri_call *call,
		     unsigned ts, bool inband)
{
	int err = call_check(pri, call, ts);

	if (err)
		return err;
	lib_enter(pri);
	return responded(pri, call, ts,
			 pri_acknowledge(pri->ctrl, call->qc, ts_chan(ts), inband));
}

/** Answer an incoming call (CONNECT). */
int tdm_pri_answer(struct tdm_pri *pri, struct tdm_pri_call *call,
		   unsigned ts)
{
	int err = call_check(pri, call, ts);

	if (err)
		return err;
	lib_enter(pri);
	return responded(pri, call, ts,
			 pri_answer(pri->ctrl, call->qc, ts_chan(ts), 0));
}

/** Send overlap digits (0-9, *, #), one INFORMATION message each. */
int tdm_pri_info(struct tdm_pri *pri, struct tdm_pri_call *call,
		 const char *digits)
{
	int r = 0, err = call_check(pri, call, 0);

	if (err)
		return err;
	if (!digits_ok(digits))
		return EINVAL;
	lib_enter(pri);
	for (; *digits && !r; digits++)
		r = pri_information(pri->ctrl, call->qc, *digits);
	lib_leave(pri);
	settle(pri);
	return r ? EPROTO : 0;
}

/**
 * Clear a call with a Q.850 cause (1-127), or answer the far end's
 * DISCONNECT.  Once per call: EALREADY after that.  The handle stays
 * valid until its TDM_PRI_RELEASE event, which is then its only one;
 * it arrives from the loop, never from within this call.  While the
 * D-channel is down the hangup is held until it has been back for
 * LINK_SETTLE_MS.
 */
int tdm_pri_hangup(struct tdm_pri *pri, struct tdm_pri_call *call,
		   int cause)
{
	if (!pri || !call || call->pri != pri || cause < 1 || cause > 127)
		return EINVAL;
	if (call->hungup)
		return EALREADY;
	call->hungup = true;
	call->hangup_cause = cause;
	call_cause(call, cause, -1);
	if (!call->qc)
		return 0;	/* released already: RELEASE is queued */
	if (!pri->up) {
		call->hangup_pending = true;
		return 0;
	}
	do_hangup(pri, call);
	settle(pri);
	return 0;
}

/*
 * The bearer timeslots a request for "all" (ts 0) covers, one message
 * each: libpri 1.6 can send neither RESTART nor SERVICE for a whole
 * interface (pri_restart does nothing; its SERVICE without a channel
 * lacks octets that its own receiver then rejects).
 */
static int each_ts(struct tdm_pri *pri, unsigned ts,
		   int (*fn)(struct tdm_pri *, unsigned, int), int arg)
{
	unsigned t, first = ts ? ts : 1;
	unsigned last = ts ? ts : (pri_e1(pri) ? 31 : 23);
	int r = 0;

	lib_enter(pri);
	for (t = first; t <= last && !r; t++) {
		if (valid_ts(pri, t))
			r = fn(pri, t, arg);
	}
	lib_leave(pri);
	return r;
}

static int restart_one(struct tdm_pri *pri, unsigned ts, int arg)
{
	(void)arg;
	return pri_reset(pri->ctrl, ts_chan(ts));
}

static int service_one(struct tdm_pri *pri, unsigned ts, int status)
{
	return pri_maintenance_service(pri->ctrl, 0, ts_chan(ts), status);
}

/**
 * Send RESTART for timeslot ts, or for each bearer timeslot when ts is
 * 0 (see each_ts).  Our calls on those timeslots are released (cause
 * 41) without further messages, as the far end's are on its RESTART.
 */
int tdm_pri_restart(struct tdm_pri *pri, unsigned ts)
{
	int r;

	if (!pri || (ts && !valid_ts(pri, ts)))
		return EINVAL;
	if (!pri->up)
		return ENOTCONN;
	drop_calls_on(pri, ts);
	r = each_ts(pri, ts, restart_one, 0);
	settle(pri);
	return r ? EPROTO : 0;
}

/**
 * Send SERVICE: take timeslot ts, or each bearer timeslot when ts is 0
 * (see each_ts), in or out of service.  Only the switch types that
 * have SERVICE messages (national, 4ess, 5ess); ENOTSUP for the others.
 * Calls on the timeslot are not touched.
 */
int tdm_pri_service(struct tdm_pri *pri, unsigned ts, bool in_service)
{
	int r;

	if (!pri || (ts && !valid_ts(pri, ts)))
		return EINVAL;
	if (!switch_has_service(pri->conf.switchtype))
		return ENOTSUP;
	if (!pri->up)
		return ENOTCONN;
	r = each_ts(pri, ts, service_one, in_service ? 0 : 2);
	settle(pri);
	return r ? EPROTO : 0;
}

/** The call's user pointer. */
void *tdm_pri_call_user(const struct tdm_pri_call *call)
{
	return call ? call->user : NULL;
}

/** Set the call's user pointer (not owned). */
void tdm_pri_call_set_user(struct tdm_pri_call *call, void *user)
{
	if (call)
		call->user = user;
}

/** The call's timeslot as last requested or indicated; 0 if none yet. */
unsigned tdm_pri_call_ts(const struct tdm_pri_call *call)
{
	return call ? call->ts : 0;
}

/** Short lowercase name of an event type ("setup", "release"...). */
const char *tdm_pri_ev_name(enum tdm_pri_ev type)
{
	if ((size_t)type < GW_ARRAY_SIZE(ev_names) && ev_names[type])
		return ev_names[type];
	return "?";
}

/** Parse a switch type name ("euroisdn_e1", "national", "5ess"...). */
int tdm_pri_switch_parse(const char *name, enum tdm_pri_switch *swp)
{
	size_t i;

	if (!name || !swp)
		return EINVAL;
	for (i = 0; i < GW_ARRAY_SIZE(switches); i++) {
		if (!strcasecmp(name, switches[i].name)) {
			*swp = switches[i].sw;
			return 0;
		}
	}
	return EINVAL;
}

/** The configuration name of a switch type; "?" if unknown. */
const char *tdm_pri_switch_name(enum tdm_pri_switch sw)
{
	size_t i;

	for (i = 0; i < GW_ARRAY_SIZE(switches); i++) {
		if (switches[i].sw == sw)
			return switches[i].name;
	}
	return "?";
}
