/* tests/unit/test_hw_dahdi.c - the DAHDI driver against a fake device */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <dahdi/user.h>

#include "unit.h"
#include "hw_int.h"
#include "dahdi_sys.h"

/*
 * No DAHDI kernel modules exist here, so these tests stand a fake
 * /dev/dahdi behind the driver's syscall table: each open() is one end
 * of a SOCK_SEQPACKET socketpair (a real fd for the loop, one frame per
 * read), the test holds the other end as the far side of that channel,
 * and every ioctl is recorded.  What this proves is the driver's ioctl
 * sequence and data flow as the DAHDI sources define them; whether a
 * real card behaves so is for a test on hardware.
 */

#define FAKE_FDS	1024
#define FAKE_LOG	1024
#define FAKE_EVENTS	16

struct fake_chan {
	bool open;
	int peer;			/* the test's end */
	int channo;			/* 0 until DAHDI_SPECIFY */
	int oflags;
	int events[FAKE_EVENTS];
	unsigned nev;
};

struct fake_call {
	unsigned long req;
	int channo;			/* the fd's channel at the time */
	int arg;			/* the int argument, or spanno */
	int arg2;			/* SET_BUFINFO: bufsize */
};

static struct {
	struct fake_chan ch[FAKE_FDS];
	struct fake_call log[FAKE_LOG];
	size_t nlog;
	char path[256];
	int dchan_channo;		/* answers HDLC-FCS for this one */
	int dchan_sigtype;		/* its answer for the D-channel */
	int spanno;
	int alarms, bpv, crc4;
	unsigned nopen;
} fake;

static void fake_reset(int dchan_channo)
{
	memset(&fake, 0, sizeof(fake));
	fake.dchan_channo = dchan_channo;
	fake.dchan_sigtype = DAHDI_SIG_HDLCFCS;
	fake.spanno = 1;
}

static struct fake_chan *fake_chan(int fd)
{
	if (fd < 0 || fd >= FAKE_FDS || !fake.ch[fd].open)
		return NULL;
	return &fake.ch[fd];
}

static int fake_open(const char *path, int flags)
{
	int sv[2];

	snprintf(fake.path, sizeof(fake.path), "%s", path);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if (sv[0] >= FAKE_FDS || sv[1] >= FAKE_FDS) {
		close(sv[0]);
		close(sv[1]);
		errno = EMFILE;
		return -1;
	}
	if (flags & O_NONBLOCK)
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	memset(&fake.ch[sv[0]], 0, sizeof(fake.ch[0]));
	fake.ch[sv[0]].open = true;
	fake.ch[sv[0]].peer = sv[1];
	fake.ch[sv[0]].oflags = flags;
	fake.nopen++;
	return sv[0];
}

static int fake_close(int fd)
{
	struct fake_chan *ch = fake_chan(fd);

	if (!ch) {
		errno = EBADF;
		return -1;
	}
	if (ch->peer >= 0)
		close(ch->peer);
	ch->open = false;
	fake.nopen--;
	return close(fd);
}

static void fake_record(struct fake_chan *ch, unsigned long req, int arg,
			int arg2)
{
	assert_true(fake.nlog < FAKE_LOG);
	fake.log[fake.nlog].req = req;
	fake.log[fake.nlog].channo = ch->channo;
	fake.log[fake.nlog].arg = arg;
	fake.log[fake.nlog].arg2 = arg2;
	fake.nlog++;
}

static int fake_ioctl(int fd, unsigned long req, void *arg)
{
	struct fake_chan *ch = fake_chan(fd);
	struct dahdi_params *p = arg;
	struct dahdi_bufferinfo *bi = arg;
	struct dahdi_spaninfo *si = arg;
	int *v = arg;
	unsigned i;

	if (!ch) {
		errno = EBADF;
		return -1;
	}
	if (!ch->channo && req != DAHDI_SPECIFY) {
		errno = EINVAL;		/* as DAHDI: specify first */
		return -1;
	}
	switch (req) {

	case DAHDI_SPECIFY:
		fake_record(ch, req, *v, 0);
		ch->channo = *v;
		return 0;

	case DAHDI_GET_PARAMS:
		fake_record(ch, req, p->channo, 0);
		p->channo = ch->channo;
		p->spanno = fake.spanno;
		p->sigtype = ch->channo == fake.dchan_channo ?
			fake.dchan_sigtype : DAHDI_SIG_CLEAR;
		return 0;

	case DAHDI_SET_BUFINFO:
		fake_record(ch, req, bi->numbufs, bi->bufsize);
		return 0;

	case DAHDI_SET_BLOCKSIZE:
	case DAHDI_AUDIOMODE:
	case DAHDI_SETLAW:
		fake_record(ch, req, *v, 0);
		return 0;

	case DAHDI_SPANSTAT:
		fake_record(ch, req, si->spanno, 0);
		if (!si->spanno)
			si->spanno = fake.spanno;
		si->alarms = fake.alarms;
		si->bpvcount = fake.bpv;
		si->crc4count = fake.crc4;
		return 0;

	case DAHDI_GETEVENT:
		*v = DAHDI_EVENT_NONE;
		if (ch->nev) {
			*v = ch->events[0];
			ch->nev--;
			for (i = 0; i < ch->nev; i++)
				ch->events[i] = ch->events[i + 1];
		}
		fake_record(ch, req, *v, 0);
		return 0;
	}
	errno = ENOTTY;
	return -1;
}

/* As DAHDI: while an event is queued, read and write fail with ELAST. */
static ssize_t fake_read(int fd, void *buf, size_t n)
{
	struct fake_chan *ch = fake_chan(fd);

	if (ch && ch->nev) {
		errno = ELAST;
		return -1;
	}
	return read(fd, buf, n);
}

static ssize_t fake_write(int fd, const void *buf, size_t n)
{
	struct fake_chan *ch = fake_chan(fd);

	if (ch && ch->nev) {
		errno = ELAST;
		return -1;
	}
	return write(fd, buf, n);
}

static const struct tdm_dahdi_sys fake_sys = {
	.open = fake_open,
	.close = fake_close,
	.ioctl = fake_ioctl,
	.read = fake_read,
	.write = fake_write,
};

/* The open fake channel bound to channo, or NULL. */
static struct fake_chan *fake_find(int channo)
{
	int fd;

	for (fd = 0; fd < FAKE_FDS; fd++)
		if (fake.ch[fd].open && fake.ch[fd].channo == channo)
			return &fake.ch[fd];
	return NULL;
}

static int fake_peer(int channo)
{
	struct fake_chan *ch = fake_find(channo);

	assert_non_null(ch);
	return ch->peer;
}

static void fake_event(int channo, int ev)
{
	struct fake_chan *ch = fake_find(channo);

	assert_non_null(ch);
	assert_true(ch->nev < FAKE_EVENTS);
	ch->events[ch->nev++] = ev;
}

/* ---- fixtures -------------------------------------------------------- */

struct probe {
	struct tdm_span *span;
	unsigned states;		/* state handler calls */
	enum tdm_span_state state;
	unsigned alarms;
	unsigned stop_alarms;		/* stop the loop on these alarms */
	bool stop_on_alarms;
	bool stop_on_link;		/* stop it once no longer DOWN */
	uint8_t frame[TDM_DCHAN_MAX];
	size_t len;
	unsigned frames;
	unsigned ticks;
	char err[512];			/* the last error logged */
};

static void state_h(struct tdm_span *span, enum tdm_span_state state,
		    unsigned alarms, void *arg)
{
	struct probe *p = arg;

	(void)span;
	p->states++;
	p->state = state;
	p->alarms = alarms;
	if ((p->stop_on_alarms && alarms == p->stop_alarms) ||
	    (p->stop_on_link && state != TDM_SPAN_DOWN))
		gw_loop_stop();
}

static void dchan_h(struct tdm_span *span, const uint8_t *frame,
		    size_t len, void *arg)
{
	struct probe *p = arg;

	(void)span;
	assert_true(len <= sizeof(p->frame));
	memcpy(p->frame, frame, len);
	p->len = len;
	p->frames++;
	gw_loop_stop();
}

static void log_h(enum gw_log_level level, const char *module,
		  const char *msg, void *arg)
{
	struct probe *p = arg;

	if (level == GW_LOG_ERR && !strcmp(module, "dahdi"))
		snprintf(p->err, sizeof(p->err), "%s", msg);
}

/* The fixture of a test that failed half-way, cleaned up by the next
 * one so that one failure does not fail every later test. */
static struct probe *left_over;

static void cleanup(struct probe *p)
{
	p->span = gw_mem_deref(p->span);
	gw_log_set_handler(NULL, NULL);
	tdm_dahdi_set_sys(NULL);
	gw_loop_close();
	left_over = NULL;
}

static void begin(struct probe *p, int dchan_channo)
{
	if (left_over)
		cleanup(left_over);
	memset(p, 0, sizeof(*p));
	left_over = p;
	assert_int_equal(gw_loop_init(), 0);
	fake_reset(dchan_channo);
	tdm_dahdi_set_sys(&fake_sys);
	gw_log_set_handler(log_h, p);
}

static void end(struct probe *p)
{
	p->span = gw_mem_deref(p->span);
	assert_int_equal(fake.nopen, 0);	/* every channel closed */
	cleanup(p);
}

static int span_new(struct probe *p, enum tdm_span_type type,
		    unsigned base, unsigned flags)
{
	struct tdm_span_conf conf;
	int err;

	memset(&conf, 0, sizeof(conf));
	conf.id = 1;
	conf.type = type;
	conf.driver = "dahdi";
	conf.framing = type == TDM_E1 ? "ccs" : "esf";
	conf.linecode = type == TDM_E1 ? "hdb3" : "b8zs";
	conf.dahdi_dir = "/dev/fake-dahdi";
	conf.dahdi_span = (unsigned)fake.spanno;
	conf.dahdi_base = base;
	err = tdm_span_alloc(&p->span, &conf, state_h, p);
	if (!err)
		err = tdm_span_start(p->span, flags);
	if (err)
		return err;
	/* The driver reports alarms and links from the loop. */
	p->stop_on_link = true;
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	p->stop_on_link = false;
	assert_int_not_equal(tdm_span_state(p->span), TDM_SPAN_DOWN);
	return 0;
}

/* Expect the next recorded ioctl to be req on channo with arg. */
static size_t expect(size_t i, unsigned long req, int channo, int arg)
{
	assert_true(i < fake.nlog);
	if (fake.log[i].req != req || fake.log[i].channo != channo) {
		print_error("ioctl %zu: got 0x%lx on channel %d, want 0x%lx "
			    "on channel %d\n", i, fake.log[i].req,
			    fake.log[i].channo, req, channo);
		fail();
	}
	assert_int_equal(fake.log[i].arg, arg);
	return i + 1;
}

static void peer_send(int channo, const void *buf, size_t len)
{
	assert_int_equal(write(fake_peer(channo), buf, len), (ssize_t)len);
}

/* ---- opening ---------------------------------------------------------- */

static void test_open_e1_dchan_sequence(void **state)
{
	struct probe p;
	size_t i = 0;

	(void)state;
	/* Span 2 of a card whose span 1 took channels 1-31. */
	begin(&p, 47);
	fake.spanno = 2;
	assert_int_equal(span_new(&p, TDM_E1, 32, TDM_OPEN_DCHAN), 0);

	assert_string_equal(fake.path, "/dev/fake-dahdi/channel");
	assert_int_equal(fake.nopen, 1);
	assert_true(fake_find(47)->oflags & O_NONBLOCK);
	i = expect(i, DAHDI_SPECIFY, 0, 47);
	i = expect(i, DAHDI_GET_PARAMS, 47, 0);
	i = expect(i, DAHDI_SET_BUFINFO, 47, 32);
	assert_int_equal(fake.log[i - 1].arg2, 1024);
	i = expect(i, DAHDI_SPANSTAT, 47, 2);
	assert_int_equal(fake.nlog, i);
	assert_true(tdm_dchan_link(p.span));
	assert_int_equal(tdm_span_alarms(p.span), 0);
	end(&p);
}

static void test_open_t1_sequence(void **state)
{
	struct probe p;
	size_t i = 0;
	int ch;

	(void)state;
	/* T1 span 2 after a 24-channel span 1: D-channel 24 + 24 = 48. */
	begin(&p, 48);
	fake.spanno = 2;
	assert_int_equal(span_new(&p, TDM_T1, 25,
				  TDM_OPEN_DCHAN | TDM_OPEN_BEARER), 0);

	i = expect(i, DAHDI_SPECIFY, 0, 48);
	i = expect(i, DAHDI_GET_PARAMS, 48, 0);
	i = expect(i, DAHDI_SET_BUFINFO, 48, 32);
	/* Then the 23 bearer channels, each in audio mode, mu-law. */
	for (ch = 25; ch <= 47; ch++) {
		i = expect(i, DAHDI_SPECIFY, 0, ch);
		i = expect(i, DAHDI_GET_PARAMS, ch, 0);
		i = expect(i, DAHDI_SET_BLOCKSIZE, ch, 160);
		i = expect(i, DAHDI_AUDIOMODE, ch, 1);
		i = expect(i, DAHDI_SETLAW, ch, DAHDI_LAW_MULAW);
	}
	i = expect(i, DAHDI_SPANSTAT, 48, 2);
	assert_int_equal(fake.nlog, i);
	assert_int_equal(fake.nopen, 24);
	assert_null(fake_find(49));
	end(&p);
}

static void test_open_in_alarm(void **state)
{
	struct probe p;

	(void)state;
	/* Alarms standing at start are known before the span comes up:
	 * it goes from DOWN to ALARM, never through UP. */
	begin(&p, 16);
	fake.alarms = DAHDI_ALARM_RED | DAHDI_ALARM_LFA;
	assert_int_equal(span_new(&p, TDM_E1, 1, TDM_OPEN_DCHAN), 0);
	assert_int_equal(tdm_span_state(p.span), TDM_SPAN_ALARM);
	assert_int_equal(tdm_span_alarms(p.span), TDM_ALARM_LOF);
	assert_int_equal(p.states, 2);	/* alarms, then the link */
	end(&p);
}

static void test_open_no_device(void **state)
{
	struct tdm_span_conf conf;
	struct probe p;

	(void)state;
	/* The real system calls, on a machine without DAHDI. */
	begin(&p, 16);
	tdm_dahdi_set_sys(NULL);
	memset(&conf, 0, sizeof(conf));
	conf.id = 1;
	conf.type = TDM_E1;
	conf.driver = "dahdi";
	conf.dahdi_dir = "/nonexistent/dahdi";
	conf.dahdi_base = 1;
	assert_int_equal(tdm_span_alloc(&p.span, &conf, state_h, &p), 0);
	assert_int_equal(tdm_span_start(p.span, TDM_OPEN_DCHAN), ENOENT);
	assert_non_null(strstr(p.err, "/nonexistent/dahdi/channel"));
	assert_non_null(strstr(p.err, "DAHDI channel 16"));
	end(&p);
}

static void test_open_wrong_sigtype(void **state)
{
	struct probe p;

	(void)state;
	begin(&p, 16);
	fake.dchan_sigtype = DAHDI_SIG_CLEAR;	/* configured as bchan */
	assert_int_equal(span_new(&p, TDM_E1, 1, TDM_OPEN_DCHAN), EINVAL);
	assert_int_equal(fake.nopen, 0);
	assert_non_null(strstr(p.err, "DAHDI channel 16"));
	assert_non_null(strstr(p.err, "HDLC-FCS"));
	assert_non_null(strstr(p.err, "dchan"));
	end(&p);
}

static void test_open_wrong_span(void **state)
{
	struct tdm_span_conf conf;
	struct probe p;

	(void)state;
	begin(&p, 16);
	/* The channel answers for DAHDI span 3; the config says span 1:
	 * dahdi_base points at another card's channels. */
	fake.spanno = 3;
	memset(&conf, 0, sizeof(conf));
	conf.id = 1;
	conf.type = TDM_E1;
	conf.driver = "dahdi";
	conf.dahdi_span = 1;
	conf.dahdi_base = 1;		/* dahdi_dir left to its default */
	assert_int_equal(tdm_span_alloc(&p.span, &conf, state_h, &p), 0);
	assert_int_equal(tdm_span_start(p.span, TDM_OPEN_DCHAN), EINVAL);
	assert_string_equal(fake.path, "/dev/dahdi/channel");
	assert_int_equal(fake.nopen, 0);
	assert_non_null(strstr(p.err, "DAHDI span 3"));
	end(&p);
}

/* ---- D-channel ------------------------------------------------------ */

static void test_dchan_frames(void **state)
{
	static const uint8_t sabme[] = { 0x00, 0x01, 0x7f, 0x00, 0x00 };
	uint8_t big[260], got[1024];
	struct probe p;
	size_t k;

	(void)state;
	begin(&p, 16);
	assert_int_equal(span_new(&p, TDM_E1, 1, TDM_OPEN_DCHAN), 0);
	assert_int_equal(tdm_dchan_open(p.span, dchan_h, &p), 0);

	/* Far end to us: one read() is one frame, FCS bytes included. */
	peer_send(16, sabme, sizeof(sabme));
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	assert_int_equal(p.frames, 1);
	assert_int_equal(p.len, sizeof(sabme));
	assert_memory_equal(p.frame, sabme, sizeof(sabme));

	for (k = 0; k < sizeof(big); k++)
		big[k] = (uint8_t)(k * 7 + 3);
	peer_send(16, big, sizeof(big));
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	assert_int_equal(p.len, sizeof(big));
	assert_memory_equal(p.frame, big, sizeof(big));

	/* Us to the far end: written as given, one frame per write. */
	assert_int_equal(tdm_dchan_send(p.span, sabme, sizeof(sabme)), 0);
	assert_int_equal(tdm_dchan_send(p.span, big, sizeof(big)), 0);
	assert_int_equal(read(fake_peer(16), got, sizeof(got)),
			 (ssize_t)sizeof(sabme));
	assert_memory_equal(got, sabme, sizeof(sabme));
	assert_int_equal(read(fake_peer(16), got, sizeof(got)),
			 (ssize_t)sizeof(big));
	assert_memory_equal(got, big, sizeof(big));

	/* A write that meets a queued event takes it and goes through. */
	fake_event(16, DAHDI_EVENT_BADFCS);
	assert_int_equal(tdm_dchan_send(p.span, sabme, sizeof(sabme)), 0);
	assert_int_equal(read(fake_peer(16), got, sizeof(got)),
			 (ssize_t)sizeof(sabme));
	assert_int_equal(tdm_span_counters(p.span)->crc_errors, 1);
	end(&p);
}

static void test_dchan_alarm_events(void **state)
{
	static const uint8_t rr[] = { 0x02, 0x01, 0x01, 0x02, 0x00, 0x00 };
	struct probe p;
	size_t i;

	(void)state;
	begin(&p, 16);
	fake.bpv = 100;			/* before us: not counted */
	fake.crc4 = 50;
	assert_int_equal(span_new(&p, TDM_E1, 1, TDM_OPEN_DCHAN), 0);
	assert_int_equal(tdm_dchan_open(p.span, dchan_h, &p), 0);

	/* Red alarm: the read meets ELAST, the event says ALARM, the
	 * span's state comes from DAHDI_SPANSTAT; the frame behind the
	 * event still arrives. */
	i = fake.nlog;
	fake.alarms = DAHDI_ALARM_RED | DAHDI_ALARM_LOS;
	fake.bpv = 107;
	fake.crc4 = 53;
	fake_event(16, DAHDI_EVENT_ALARM);
	peer_send(16, rr, sizeof(rr));
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	i = expect(i, DAHDI_GETEVENT, 16, DAHDI_EVENT_ALARM);
	i = expect(i, DAHDI_SPANSTAT, 16, 1);
	i = expect(i, DAHDI_GETEVENT, 16, DAHDI_EVENT_NONE);
	assert_int_equal(tdm_span_alarms(p.span), TDM_ALARM_LOS);
	assert_int_equal(p.alarms, TDM_ALARM_LOS);
	assert_int_equal(p.frames, 1);
	assert_memory_equal(p.frame, rr, sizeof(rr));
	assert_int_equal(tdm_span_counters(p.span)->bpv, 7);
	assert_int_equal(tdm_span_counters(p.span)->crc_errors, 3);

	/* Yellow and blue. */
	fake.alarms = DAHDI_ALARM_YELLOW | DAHDI_ALARM_BLUE;
	fake_event(16, DAHDI_EVENT_ALARM);
	peer_send(16, rr, sizeof(rr));
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	assert_int_equal(tdm_span_alarms(p.span),
			 TDM_ALARM_RAI | TDM_ALARM_AIS);

	/* NOALARM: SPANSTAT again, alarms clear. */
	fake.alarms = 0;
	fake_event(16, DAHDI_EVENT_NOALARM);
	peer_send(16, rr, sizeof(rr));
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	assert_int_equal(tdm_span_alarms(p.span), 0);
	assert_int_equal(p.alarms, 0);
	assert_int_equal(p.frames, 3);
	end(&p);
}

static void test_dchan_alarm_on_dead_line(void **state)
{
	struct probe p;

	(void)state;
	/* No frame arrives on a red line, so no read meets ELAST: the
	 * driver's event timer must find the event. */
	begin(&p, 16);
	assert_int_equal(span_new(&p, TDM_E1, 1, TDM_OPEN_DCHAN), 0);
	fake.alarms = DAHDI_ALARM_RED;
	fake_event(16, DAHDI_EVENT_ALARM);
	p.stop_on_alarms = true;
	p.stop_alarms = TDM_ALARM_LOS;
	assert_int_equal(gw_loop_run_timeout(3000), 0);
	assert_int_equal(tdm_span_alarms(p.span), TDM_ALARM_LOS);
	end(&p);
}

static void test_dchan_lost(void **state)
{
	struct fake_chan *ch;
	struct probe p;

	(void)state;
	/* A channel that fails (here: its far end closes) takes the
	 * D-channel link down. */
	begin(&p, 16);
	assert_int_equal(span_new(&p, TDM_E1, 1, TDM_OPEN_DCHAN), 0);
	ch = fake_find(16);
	close(ch->peer);
	ch->peer = -1;
	p.stop_on_alarms = true;
	p.stop_alarms = 0;
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	assert_false(tdm_dchan_link(p.span));
	assert_int_equal(tdm_span_state(p.span), TDM_SPAN_DOWN);
	assert_int_equal(fake.nopen, 0);
	assert_int_equal(tdm_dchan_send(p.span, (const uint8_t *)"\0\1\x7f"
					"\0\0", 5), ENOTCONN);
	end(&p);
}

static void test_dchan_badfcs_counted(void **state)
{
	static const uint8_t ui[] = { 0x00, 0x01, 0x03, 0x08, 0x00, 0x00 };
	struct probe p;
	const struct tdm_span_counters *c;

	(void)state;
	begin(&p, 16);
	assert_int_equal(span_new(&p, TDM_E1, 1, TDM_OPEN_DCHAN), 0);
	assert_int_equal(tdm_dchan_open(p.span, dchan_h, &p), 0);
	fake_event(16, DAHDI_EVENT_BADFCS);
	fake_event(16, DAHDI_EVENT_BADFCS);
	fake_event(16, DAHDI_EVENT_ABORT);
	fake_event(16, DAHDI_EVENT_OVERRUN);
	fake_event(16, DAHDI_EVENT_DIALCOMPLETE);	/* only logged */
	peer_send(16, ui, sizeof(ui));
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	c = tdm_span_counters(p.span);
	assert_int_equal(c->crc_errors, 2);
	assert_int_equal(c->bad_frames, 2);
	assert_int_equal(p.frames, 1);
	assert_memory_equal(p.frame, ui, sizeof(ui));
	assert_int_equal(tdm_span_alarms(p.span), 0);

	/* A frame too short to hold an FCS is dropped and counted. */
	peer_send(16, ui, 2);
	peer_send(16, ui, sizeof(ui));
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	assert_int_equal(c->bad_frames, 3);
	assert_int_equal(p.frames, 2);
	end(&p);
}

/* ---- bearer --------------------------------------------------------- */

struct chan_probe {
	unsigned ts;
	unsigned frames;
	uint8_t rx[TDM_FRAME_SAMPLES];
};

static void chan_frame_h(struct tdm_chan *ch, const uint8_t *rx,
			 uint8_t *tx, void *arg)
{
	struct chan_probe *c = arg;
	unsigned k;

	assert_int_equal(tdm_chan_ts(ch), c->ts);
	memcpy(c->rx, rx, TDM_FRAME_SAMPLES);
	c->frames++;
	for (k = 0; k < TDM_FRAME_SAMPLES; k++)
		tx[k] = (uint8_t)(0x80 + c->ts + k);
}

static void tick_h(struct tdm_span *span, void *arg)
{
	struct probe *p = arg;

	(void)span;
	p->ticks++;
	gw_loop_stop();
}

static void pattern(uint8_t *buf, unsigned ts)
{
	unsigned k;

	for (k = 0; k < TDM_FRAME_SAMPLES; k++)
		buf[k] = (uint8_t)(ts * 3 + k);
}

static void test_bearer_frames(void **state)
{
	struct chan_probe cp[3] = { { .ts = 1 }, { .ts = 17 }, { .ts = 31 } };
	uint8_t buf[TDM_FRAME_SAMPLES], want[TDM_FRAME_SAMPLES];
	struct probe p;
	unsigned ts, k, n;
	size_t i;

	(void)state;
	begin(&p, 16);
	assert_int_equal(span_new(&p, TDM_E1, 1, TDM_OPEN_BEARER), 0);

	/* 30 channels: 1-15 and 17-31, never the D-channel's 16. */
	assert_int_equal(fake.nopen, 30);
	assert_null(fake_find(16));
	i = 0;
	for (ts = 1; ts <= 31; ts++) {
		if (ts == 16)
			continue;
		i = expect(i, DAHDI_SPECIFY, 0, (int)ts);
		i = expect(i, DAHDI_GET_PARAMS, (int)ts, 0);
		i = expect(i, DAHDI_SET_BLOCKSIZE, (int)ts, 160);
		i = expect(i, DAHDI_AUDIOMODE, (int)ts, 1);
		i = expect(i, DAHDI_SETLAW, (int)ts, DAHDI_LAW_ALAW);
	}
	i = expect(i, DAHDI_SPANSTAT, 1, 1);
	assert_int_equal(fake.nlog, i);

	for (n = 0; n < GW_ARRAY_SIZE(cp); n++)
		assert_int_equal(tdm_chan_open(tdm_span_chan(p.span,
							    cp[n].ts),
					       chan_frame_h, &cp[n]), 0);
	tdm_span_set_tick_handler(p.span, tick_h, &p);

	/* Every channel but 17 has its block when the clock (1) ticks;
	 * 17's comes late. */
	for (ts = 2; ts <= 31; ts++) {
		if (ts == 16 || ts == 17)
			continue;
		pattern(buf, ts);
		peer_send((int)ts, buf, sizeof(buf));
	}
	pattern(buf, 1);
	peer_send(1, buf, sizeof(buf));
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	assert_int_equal(p.ticks, 1);

	pattern(want, 1);
	assert_int_equal(cp[0].frames, 1);
	assert_memory_equal(cp[0].rx, want, sizeof(want));
	pattern(want, 31);
	assert_memory_equal(cp[2].rx, want, sizeof(want));
	memset(want, 0xd5, sizeof(want));	/* A-law idle */
	assert_memory_equal(cp[1].rx, want, sizeof(want));
	assert_int_equal(tdm_span_counters(p.span)->gaps, 1);

	/* The answer went back channel by channel: what the handlers
	 * wrote, idle code where no channel is open. */
	for (ts = 1; ts <= 31; ts++) {
		if (ts == 16)
			continue;
		assert_int_equal(read(fake_peer((int)ts), buf, sizeof(buf)),
				 (ssize_t)sizeof(buf));
		for (k = 0; k < TDM_FRAME_SAMPLES; k++)
			want[k] = (ts == 1 || ts == 17 || ts == 31) ?
				(uint8_t)(0x80 + ts + k) : 0xd5;
		assert_memory_equal(buf, want, sizeof(want));
	}

	/* Next tick: 17's late block is read one tick behind. */
	pattern(buf, 17);
	peer_send(17, buf, sizeof(buf));
	pattern(buf, 1);
	peer_send(1, buf, sizeof(buf));
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	assert_int_equal(p.ticks, 2);
	pattern(want, 17);
	assert_memory_equal(cp[1].rx, want, sizeof(want));
	end(&p);
}

static void test_bearer_alarm_event(void **state)
{
	uint8_t buf[TDM_FRAME_SAMPLES];
	struct probe p;
	size_t i;

	(void)state;
	/* junction-mg opens only the bearer: alarms reach it there. */
	begin(&p, 24);
	assert_int_equal(span_new(&p, TDM_T1, 1, TDM_OPEN_BEARER), 0);
	tdm_span_set_tick_handler(p.span, tick_h, &p);
	i = fake.nlog;
	fake.alarms = DAHDI_ALARM_YELLOW;
	fake_event(1, DAHDI_EVENT_ALARM);
	fake_event(1, DAHDI_EVENT_READ_OVERRUN);
	memset(buf, 0x55, sizeof(buf));
	peer_send(1, buf, sizeof(buf));
	assert_int_equal(gw_loop_run_timeout(2000), 0);
	i = expect(i, DAHDI_GETEVENT, 1, DAHDI_EVENT_ALARM);
	i = expect(i, DAHDI_SPANSTAT, 1, 1);
	i = expect(i, DAHDI_GETEVENT, 1, DAHDI_EVENT_READ_OVERRUN);
	assert_int_equal(tdm_span_alarms(p.span), TDM_ALARM_RAI);
	assert_int_equal(tdm_span_counters(p.span)->slips, 1);
	assert_int_equal(p.ticks, 1);
	/* mu-law idle back on channel 2. */
	assert_int_equal(read(fake_peer(2), buf, sizeof(buf)),
			 (ssize_t)sizeof(buf));
	assert_int_equal(buf[0], 0xff);
	end(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_open_e1_dchan_sequence),
		UNIT_TEST(test_open_t1_sequence),
		UNIT_TEST(test_open_in_alarm),
		UNIT_TEST(test_open_no_device),
		UNIT_TEST(test_open_wrong_sigtype),
		UNIT_TEST(test_open_wrong_span),
		UNIT_TEST(test_dchan_frames),
		UNIT_TEST(test_dchan_alarm_events),
		UNIT_TEST(test_dchan_alarm_on_dead_line),
		UNIT_TEST(test_dchan_lost),
		UNIT_TEST(test_dchan_badfcs_counted),
		UNIT_TEST(test_bearer_frames),
		UNIT_TEST(test_bearer_alarm_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
