/* hw/dahdi.c - DAHDI driver: HDLC D-channel and clear bearer channels */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#ifdef HAVE_DAHDI

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <dahdi/user.h>

#define GW_LOG_MOD "dahdi"
#include "hw_int.h"
#include "dahdi_sys.h"

/*
 * One span on DAHDI is up to 31 character devices, each opened as
 * <dahdi_dir>/channel and bound to its DAHDI channel number with
 * DAHDI_SPECIFY (channel = dahdi_base + timeslot - 1):
 *
 * - the D-channel (timeslot 16 on E1, 24 on T1), configured "dchan" in
 *   system.conf, so DAHDI runs HDLC with FCS on it.  Each read() returns
 *   one frame with its 2 FCS bytes, each write() sends one frame whose
 *   last 2 bytes DAHDI overwrites with the FCS: libpri's framing exactly
 *   (notes/libraries.md s.4).
 * - the bearer channels, "bchan" (clear), in audio mode with the span's
 *   law and a block size of 160: one read() is one 20 ms block.  The
 *   first bearer channel's blocks are the span's clock; at each one the
 *   other channels are read and the whole frame goes up at once.
 *
 * DAHDI reports alarms, bad FCS and HDLC aborts as events: read() and
 * write() fail with ELAST while one is queued and DAHDI_GETEVENT takes
 * it.  DAHDI signals a queued event to poll() as POLLPRI only, and the
 * loop does not watch POLLPRI (core.h has no such flag), so on a dead
 * line, where no frame arrives to fail with ELAST, a timer fetches the
 * events instead (EVENT_POLL_MS).
 */

#define DCHAN_BUFSIZE	1024	/* per HDLC frame: above any Q.921 */
#define DCHAN_NUMBUFS	32	/* as chan_dahdi: 32 KiB, the maximum */
#define EVENT_POLL_MS	1000
#define EVENT_MAX	16	/* events taken at once before giving up */

struct chan_io {
	int fd;			/* -1: not open */
	unsigned ts;
	unsigned channo;	/* DAHDI channel number */
};

struct span_io {
	struct tdm_span *span;	/* borrowed: NULL once closed */
	char *path;		/* <dahdi_dir>/channel */
	struct chan_io dchan;
	struct chan_io bearer[TDM_MAX_TS];	/* by timeslot */
	unsigned clock_ts;	/* the bearer channel that clocks; 0: none */
	struct chan_io *evch;	/* where the timer fetches events */
	struct gw_tmr evtmr;
	unsigned alarms;	/* last reported (TDM_ALARM_*) */
	bool alarms_known;
	bool stat_known;	/* the counters below hold a reading */
	int last_bpv, last_crc4;
	uint8_t rx[TDM_BEARER_BYTES];
};

static int real_open(const char *path, int flags)
{
	return open(path, flags);
}

static int real_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg);
}

static const struct tdm_dahdi_sys real_sys = {
	.open = real_open,
	.close = close,
	.ioctl = real_ioctl,
	.read = read,
	.write = write,
};

static const struct tdm_dahdi_sys *sys = &real_sys;

/**
 * Make the DAHDI driver call sys instead of the system (tests).
 *
 * @param table  the table to use, borrowed; NULL restores the real calls
 */
void tdm_dahdi_set_sys(const struct tdm_dahdi_sys *table)
{
	sys = table ? table : &real_sys;
}

static void chan_close(struct chan_io *ch)
{
	if (ch->fd < 0)
		return;
	gw_fd_close(ch->fd);
	sys->close(ch->fd);
	ch->fd = -1;
}

static void io_shutdown(struct span_io *io)
{
	unsigned ts;

	gw_tmr_cancel(&io->evtmr);
	chan_close(&io->dchan);
	for (ts = 0; ts < TDM_MAX_TS; ts++)
		chan_close(&io->bearer[ts]);
	io->clock_ts = 0;
	io->evch = NULL;
	io->span = NULL;
}

static void io_destroy(void *data)
{
	struct span_io *io = data;

	io_shutdown(io);
	gw_mem_deref(io->path);
}

/* DAHDI's alarm bits, as the span reports them upward. */
static unsigned alarms_map(int da)
{
	unsigned a = 0;

	if (da & DAHDI_ALARM_LOS)
		a |= TDM_ALARM_LOS;
	if (da & (DAHDI_ALARM_LFA | DAHDI_ALARM_LMFA))
		a |= TDM_ALARM_LOF;
	/* Not every card says why it is red: then call it loss of signal. */
	if ((da & DAHDI_ALARM_RED) && !(a & (TDM_ALARM_LOS | TDM_ALARM_LOF)))
		a |= TDM_ALARM_LOS;
	/* A span not started by dahdi_cfg carries nothing. */
	if (da & DAHDI_ALARM_NOTOPEN)
		a |= TDM_ALARM_LOS;
	if (da & DAHDI_ALARM_BLUE)
		a |= TDM_ALARM_AIS;
	if (da & DAHDI_ALARM_YELLOW)
		a |= TDM_ALARM_RAI;
	return a;
}

/* How far a driver counter moved since the last reading; a counter that
 * went backwards was reset. */
static uint64_t count_delta(int now, int last)
{
	if (now < 0)
		return 0;
	if (now >= last)
		return (uint64_t)(now - last);
	return (uint64_t)now;
}

/* Read the span's alarms and line counters (DAHDI_SPANSTAT) through
 * ch and report a change of alarms upward. */
static void span_stat(struct span_io *io, struct chan_io *ch)
{
	struct tdm_span *span = io->span;
	struct dahdi_spaninfo si;
	unsigned alarms;

	memset(&si, 0, sizeof(si));
	/* 0 asks for the span of the channel the fd is bound to. */
	si.spanno = (int)span->conf.dahdi_span;
	if (sys->ioctl(ch->fd, DAHDI_SPANSTAT, &si) < 0) {
		GW_WARN("span %u: DAHDI_SPANSTAT on channel %u: %s",
			span->conf.id, ch->channo, strerror(errno));
		return;
	}

	if (io->stat_known) {
		span->cnt.bpv += count_delta(si.bpvcount, io->last_bpv);
		span->cnt.crc_errors += count_delta(si.crc4count,
						    io->last_crc4);
	}
	io->last_bpv = si.bpvcount;
	io->last_crc4 = si.crc4count;
	io->stat_known = true;

	if (si.alarms & (DAHDI_ALARM_LOOPBACK | DAHDI_ALARM_RECOVER))
		GW_INFO("span %u: DAHDI span %d%s%s", span->conf.id,
			si.spanno,
			(si.alarms & DAHDI_ALARM_LOOPBACK) ?
			" in loopback" : "",
			(si.alarms & DAHDI_ALARM_RECOVER) ?
			" recovering from an alarm" : "");

	alarms = alarms_map(si.alarms);
	if (io->alarms_known && alarms == io->alarms)
		return;
	GW_DBG("span %u: DAHDI alarms 0x%x", span->conf.id, si.alarms);
	io->alarms = alarms;
	io->alarms_known = true;
	tdm_span_rx_alarms(span, alarms);
}

/* The half of the span (TDM_OPEN_DCHAN or TDM_OPEN_BEARER) ch serves. */
static unsigned chan_half(const struct span_io *io,
			  const struct chan_io *ch)
{
	return ch == &io->dchan ? TDM_OPEN_DCHAN : TDM_OPEN_BEARER;
}

static void chan_lost(struct span_io *io, struct chan_io *ch,
		      const char *why)
{
	unsigned half = chan_half(io, ch);
	unsigned ts;

	GW_ERR("span %u: DAHDI channel %u: %s; %s closed", io->span->conf.id,
	       ch->channo, why,
	       half == TDM_OPEN_DCHAN ? "D-channel" : "bearer");
	if (half == TDM_OPEN_DCHAN) {
		chan_close(ch);
	} else {
		for (ts = 0; ts < TDM_MAX_TS; ts++)
			chan_close(&io->bearer[ts]);
		io->clock_ts = 0;
	}
	if (io->evch && io->evch->fd < 0)
		io->evch = io->dchan.fd >= 0 ? &io->dchan :
			io->clock_ts ? &io->bearer[io->clock_ts] : NULL;
	if (!io->evch)
		gw_tmr_cancel(&io->evtmr);
	tdm_span_link(io->span, half, false);
}

static void handle_event(struct span_io *io, struct chan_io *ch, int ev)
{
	struct tdm_span *span = io->span;

	switch (ev) {

	case DAHDI_EVENT_ALARM:
	case DAHDI_EVENT_NOALARM:
		span_stat(io, ch);
		break;

	case DAHDI_EVENT_BADFCS:
		span->cnt.crc_errors++;
		GW_DBG("span %u: channel %u: bad FCS", span->conf.id,
		       ch->channo);
		break;

	case DAHDI_EVENT_ABORT:
	case DAHDI_EVENT_OVERRUN:
		/* An HDLC frame aborted by the far end, or lost to a full
		 * receive buffer: either way a frame that never arrived. */
		span->cnt.bad_frames++;
		GW_DBG("span %u: channel %u: HDLC %s", span->conf.id,
		       ch->channo,
		       ev == DAHDI_EVENT_ABORT ? "abort" : "overrun");
		break;

	case DAHDI_EVENT_READ_OVERRUN:
	case DAHDI_EVENT_WRITE_UNDERRUN:
		/* Audio blocks lost or repeated by the kernel buffers. */
		span->cnt.slips++;
		break;

	case DAHDI_EVENT_REMOVED:
		chan_lost(io, ch, "device removed");
		break;

	default:
		GW_DBG("span %u: channel %u: DAHDI event %d", span->conf.id,
		       ch->channo, ev);
		break;
	}
}

/* Take ch's queued events (after ELAST, or from the timer).  Returns
 * false when ch is no longer open afterwards. */
static bool take_events(struct span_io *io, struct chan_io *ch)
{
	int i, ev;

	for (i = 0; i < EVENT_MAX && ch->fd >= 0; i++) {
		ev = DAHDI_EVENT_NONE;
		if (sys->ioctl(ch->fd, DAHDI_GETEVENT, &ev) < 0) {
			GW_WARN("span %u: DAHDI_GETEVENT on channel %u: %s",
				io->span->conf.id, ch->channo,
				strerror(errno));
			break;
		}
		if (ev == DAHDI_EVENT_NONE)
			break;
		handle_event(io, ch, ev);
	}
	return ch->fd >= 0;
}

static void evtmr_handler(void *arg);

/* The first run, from the loop (so that no handler runs inside
 * tdm_span_start, as with vspan): the alarms standing now, then the
 * links.  Later alarms come as events. */
static void startup(void *arg)
{
	struct span_io *io = arg;

	gw_tmr_start(&io->evtmr, EVENT_POLL_MS, evtmr_handler, io);
	gw_mem_ref(io);
	span_stat(io, io->evch);
	if (io->span && io->dchan.fd >= 0)
		tdm_span_link(io->span, TDM_OPEN_DCHAN, true);
	if (io->span && io->clock_ts)
		tdm_span_link(io->span, TDM_OPEN_BEARER, true);
	gw_mem_deref(io);
}

static void evtmr_handler(void *arg)
{
	struct span_io *io = arg;

	if (!io->evch)
		return;
	gw_tmr_start(&io->evtmr, EVENT_POLL_MS, evtmr_handler, io);
	gw_mem_ref(io);
	take_events(io, io->evch);
	gw_mem_deref(io);
}

/*
 * Reading, writing and taking events can end in a handler that lets the
 * span go, and the span's close with it: each entry point below holds a
 * reference to io for its whole run, and checks io->span (NULL once
 * closed) or a channel's fd (-1 once closed) after every such call.
 */

/* read() on ch, taking any events that stand in the way (ELAST). */
static ssize_t chan_read(struct span_io *io, struct chan_io *ch, void *buf,
			 size_t len)
{
	ssize_t n;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		n = sys->read(ch->fd, buf, len);
		if (n >= 0 || errno != ELAST)
			return n;
		if (!take_events(io, ch)) {
			errno = ENODEV;
			return -1;
		}
	}
	errno = EAGAIN;
	return -1;
}

static ssize_t chan_write(struct span_io *io, struct chan_io *ch,
			  const void *buf, size_t len)
{
	ssize_t n;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		n = sys->write(ch->fd, buf, len);
		if (n >= 0 || errno != ELAST)
			return n;
		if (!take_events(io, ch)) {
			errno = ENODEV;
			return -1;
		}
	}
	errno = EAGAIN;
	return -1;
}

/* One frame per wake-up, as vspan: the loop is level-triggered and
 * comes back for the next. */
static void dchan_readable(int flags, void *arg)
{
	struct span_io *io = arg;
	uint8_t buf[DCHAN_BUFSIZE];
	char why[64];
	ssize_t n;

	(void)flags;
	gw_mem_ref(io);
	n = chan_read(io, &io->dchan, buf, sizeof(buf));
	if (!io->span || io->dchan.fd < 0)
		goto out;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		goto out;
	if (n <= 0) {
		snprintf(why, sizeof(why), "read: %s",
			 n ? strerror(errno) : "end of file");
		chan_lost(io, &io->dchan, why);
		goto out;
	}
	/* An address, a control byte and the FCS at least. */
	if (n < 5 || (size_t)n > TDM_DCHAN_MAX) {
		io->span->cnt.bad_frames++;
		GW_LOG_LIMITED(GW_LOG_WARN, "span %u: D-channel frame of %zd "
			       "bytes dropped", io->span->conf.id, n);
		goto out;
	}
	tdm_span_rx_dchan(io->span, buf, (size_t)n);
 out:
	gw_mem_deref(io);
}

/* One span tick: the clock channel has a block; gather the others. */
static void bearer_readable(int flags, void *arg)
{
	struct span_io *io = arg;
	struct tdm_span *span = io->span;
	uint8_t idle = tdm_span_idle_code(span);
	struct chan_io *ch;
	char why[64];
	uint8_t *slot;
	unsigned ts;
	ssize_t n;

	(void)flags;
	gw_mem_ref(io);
	ch = &io->bearer[io->clock_ts];
	slot = io->rx + ch->ts * TDM_FRAME_SAMPLES;
	n = chan_read(io, ch, slot, TDM_FRAME_SAMPLES);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		goto out;
	if (n <= 0) {
		if (io->span && ch->fd >= 0) {
			snprintf(why, sizeof(why), "read: %s",
				 n ? strerror(errno) : "end of file");
			chan_lost(io, ch, why);
		}
		goto out;
	}
	if (n < TDM_FRAME_SAMPLES)
		memset(slot + n, idle, TDM_FRAME_SAMPLES - (size_t)n);

	for (ts = 0; ts < TDM_MAX_TS; ts++) {
		if (ts == io->clock_ts)
			continue;
		ch = &io->bearer[ts];
		slot = io->rx + ts * TDM_FRAME_SAMPLES;
		n = 0;
		if (ch->fd >= 0) {
			n = chan_read(io, ch, slot, TDM_FRAME_SAMPLES);
			if (!io->span)
				goto out;
		}
		if (n < 0) {
			/* A channel whose blocks complete just after the
			 * clock's is read one tick late from then on: it
			 * misses this one frame only. */
			if (errno == EAGAIN)
				span->cnt.gaps++;
			else
				GW_LOG_LIMITED(GW_LOG_WARN, "span %u: read "
					       "from DAHDI channel %u: %s",
					       span->conf.id, ch->channo,
					       strerror(errno));
			n = 0;
		}
		if (n < TDM_FRAME_SAMPLES)
			memset(slot + n, idle, TDM_FRAME_SAMPLES - (size_t)n);
	}

	tdm_span_rx_bearer(span, io->rx);
 out:
	gw_mem_deref(io);
}

static int chan_open(struct span_io *io, struct chan_io *ch, unsigned ts,
		     bool dchan)
{
	const struct tdm_span_conf *conf = &io->span->conf;
	struct dahdi_params p;
	struct dahdi_bufferinfo bi;
	const char *what;
	int err, v;

	ch->ts = ts;
	ch->channo = conf->dahdi_base + ts - 1;
	ch->fd = sys->open(io->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (ch->fd < 0) {
		what = "open";
		goto syserr;
	}

	v = (int)ch->channo;
	if (sys->ioctl(ch->fd, DAHDI_SPECIFY, &v) < 0) {
		what = "DAHDI_SPECIFY";
		goto syserr;
	}
	memset(&p, 0, sizeof(p));
	if (sys->ioctl(ch->fd, DAHDI_GET_PARAMS, &p) < 0) {
		what = "DAHDI_GET_PARAMS";
		goto syserr;
	}
	if (conf->dahdi_span && p.spanno != (int)conf->dahdi_span) {
		GW_ERR("span %u: DAHDI channel %u (timeslot %u) is on DAHDI "
		       "span %d, not %u: check dahdi_base and dahdi_span",
		       conf->id, ch->channo, ts, p.spanno, conf->dahdi_span);
		err = EINVAL;
		goto out;
	}

	if (dchan) {
		/* chan_dahdi takes hardware HDLC too: it frames the same. */
		if (p.sigtype != DAHDI_SIG_HDLCFCS &&
		    p.sigtype != DAHDI_SIG_HARDHDLC) {
			GW_ERR("span %u: DAHDI channel %u (timeslot %u) is not "
			       "an HDLC-FCS D-channel (sigtype 0x%x): make it "
			       "\"dchan\" in /etc/dahdi/system.conf, or check "
			       "dahdi_base", conf->id, ch->channo, ts,
			       (unsigned)p.sigtype);
			err = EINVAL;
			goto out;
		}
		memset(&bi, 0, sizeof(bi));
		bi.txbufpolicy = DAHDI_POLICY_IMMEDIATE;
		bi.rxbufpolicy = DAHDI_POLICY_IMMEDIATE;
		bi.numbufs = DCHAN_NUMBUFS;
		bi.bufsize = DCHAN_BUFSIZE;
		if (sys->ioctl(ch->fd, DAHDI_SET_BUFINFO, &bi) < 0) {
			what = "DAHDI_SET_BUFINFO";
			goto syserr;
		}
		err = 0;
		goto out;
	}

	if (p.sigtype != DAHDI_SIG_CLEAR) {
		GW_ERR("span %u: DAHDI channel %u (timeslot %u) is not a clear "
		       "bearer channel (sigtype 0x%x): make it \"bchan\" in "
		       "/etc/dahdi/system.conf, or check dahdi_base",
		       conf->id, ch->channo, ts, (unsigned)p.sigtype);
		err = EINVAL;
		goto out;
	}
	v = TDM_FRAME_SAMPLES;
	if (sys->ioctl(ch->fd, DAHDI_SET_BLOCKSIZE, &v) < 0) {
		what = "DAHDI_SET_BLOCKSIZE";
		goto syserr;
	}
	v = 1;
	if (sys->ioctl(ch->fd, DAHDI_AUDIOMODE, &v) < 0) {
		what = "DAHDI_AUDIOMODE";
		goto syserr;
	}
	v = conf->type == TDM_E1 ? DAHDI_LAW_ALAW : DAHDI_LAW_MULAW;
	if (sys->ioctl(ch->fd, DAHDI_SETLAW, &v) < 0) {
		what = "DAHDI_SETLAW";
		goto syserr;
	}
	err = 0;
	goto out;

 syserr:
	err = errno ? errno : EIO;
	GW_ERR("span %u: DAHDI channel %u (timeslot %u): %s %s: %s",
	       conf->id, ch->channo, ts, what, io->path, strerror(err));
 out:
	if (err)
		chan_close(ch);
	return err;
}

static int dahdi_open(struct tdm_span *span, unsigned open_flags)
{
	const struct tdm_span_conf *conf = &span->conf;
	const char *dir = conf->dahdi_dir && *conf->dahdi_dir ?
		conf->dahdi_dir : "/dev/dahdi";
	struct span_io *io;
	unsigned ts, dts = conf->type == TDM_E1 ? 16 : 24;
	unsigned last = conf->dahdi_base + (conf->type == TDM_E1 ? 31 : 24) - 1;
	int err = 0;

	if (span->drv_state)
		return EALREADY;
	if (conf->dahdi_base < 1) {
		GW_ERR("span %u: dahdi_base (the DAHDI channel of timeslot "
		       "1) is not set", conf->id);
		return EINVAL;
	}

	io = gw_mem_zalloc(sizeof(*io), io_destroy);
	if (!io)
		return ENOMEM;
	io->span = span;
	io->dchan.fd = -1;
	for (ts = 0; ts < TDM_MAX_TS; ts++)
		io->bearer[ts].fd = -1;
	gw_tmr_init(&io->evtmr);
	io->path = gw_mem_printf("%s/channel", dir);
	if (!io->path) {
		err = ENOMEM;
		goto out;
	}

	if (open_flags & TDM_OPEN_DCHAN) {
		err = chan_open(io, &io->dchan, dts, true);
		if (err)
			goto out;
		io->evch = &io->dchan;
	}
	if (open_flags & TDM_OPEN_BEARER) {
		for (ts = 1; ts < TDM_MAX_TS; ts++) {
			if (!tdm_span_is_bearer_ts(span, ts))
				continue;
			err = chan_open(io, &io->bearer[ts], ts, false);
			if (err)
				goto out;
			if (!io->clock_ts)
				io->clock_ts = ts;
		}
		if (!io->clock_ts) {
			err = EINVAL;
			goto out;
		}
		if (!io->evch)
			io->evch = &io->bearer[io->clock_ts];
	}
	if (!io->evch) {
		err = EINVAL;
		goto out;
	}

	if (io->dchan.fd >= 0) {
		err = gw_fd_listen(io->dchan.fd, GW_FD_READ, dchan_readable,
				   io);
		if (err)
			goto out;
	}
	if (io->clock_ts) {
		err = gw_fd_listen(io->bearer[io->clock_ts].fd, GW_FD_READ,
				   bearer_readable, io);
		if (err)
			goto out;
	}
	gw_tmr_start(&io->evtmr, 0, startup, io);

	span->drv_state = io;
	GW_INFO("span %u: DAHDI channels %u-%u:%s%s", conf->id,
		conf->dahdi_base, last,
		io->dchan.fd >= 0 ? " D-channel" : "",
		io->clock_ts ? " bearer" : "");

 out:
	if (err) {
		io->span = NULL;
		gw_mem_deref(io);
	}
	return err;
}

static void dahdi_close(struct tdm_span *span)
{
	struct span_io *io = span->drv_state;

	if (!io)
		return;
	span->drv_state = NULL;
	/* A handler up the stack may still hold io: leave it nothing to
	 * act on. */
	io_shutdown(io);
	gw_mem_deref(io);
}

static int dahdi_dchan_send(struct tdm_span *span, const uint8_t *frame,
			    size_t len)
{
	struct span_io *io = span->drv_state;
	ssize_t n;
	int err = 0;

	if (!io || io->dchan.fd < 0)
		return ENOTCONN;
	/* DAHDI writes its FCS over the last 2 bytes. */
	if (len < 3 || len > DCHAN_BUFSIZE)
		return EINVAL;
	gw_mem_ref(io);
	n = chan_write(io, &io->dchan, frame, len);
	if (n < 0)
		err = errno;
	else if ((size_t)n != len)
		err = EIO;
	gw_mem_deref(io);
	return err;
}

static int dahdi_bearer_send(struct tdm_span *span, const uint8_t *frame)
{
	struct span_io *io = span->drv_state;
	struct chan_io *ch;
	unsigned ts;
	ssize_t n;
	int err = 0;

	if (!io || !io->clock_ts)
		return ENOTCONN;
	gw_mem_ref(io);
	for (ts = 1; ts < TDM_MAX_TS && io->span; ts++) {
		ch = &io->bearer[ts];
		if (ch->fd < 0)
			continue;
		n = chan_write(io, ch, frame + ts * TDM_FRAME_SAMPLES,
			       TDM_FRAME_SAMPLES);
		if (n == TDM_FRAME_SAMPLES || !io->span)
			continue;
		if (n >= 0 || errno == EAGAIN) {
			/* The kernel's transmit buffers are full: this
			 * block is dropped, the far end hears a slip. */
			span->cnt.slips++;
			continue;
		}
		if (!err)
			err = errno;
		GW_LOG_LIMITED(GW_LOG_WARN, "span %u: write to DAHDI channel "
			       "%u: %s", span->conf.id, ch->channo,
			       strerror(errno));
	}
	if (!io->span && !err)
		err = ENOTCONN;
	gw_mem_deref(io);
	return err;
}

const struct tdm_driver tdm_dahdi_driver = {
	.name = "dahdi",
	.open = dahdi_open,
	.close = dahdi_close,
	.dchan_send = dahdi_dchan_send,
	.bearer_send = dahdi_bearer_send,
	.send_alarms = NULL,	/* the line itself raises them */
};

#endif /* HAVE_DAHDI */
