/* hw/vspan.c - virtual span: E1/T1 over two UNIX SOCK_SEQPACKET sockets */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define GW_LOG_MOD "tdm"
#include "hw_int.h"

/*
 * Wire format (our own: pstnsim and the gateway speak it to each other).
 *
 * A virtual span is two UNIX SOCK_SEQPACKET sockets: conf.dchan_path
 * carries the D-channel, conf.bearer_path the B-channels' audio, so that
 * junctiond can open one and junction-mg the other.  The master (pstnsim,
 * conf.master) listens on both and takes one peer on each; a new
 * connection replaces the old one.  The slave (the gateway) connects, and
 * tries again every 500 ms for as long as it cannot.  SEQPACKET keeps
 * message boundaries, which libpri needs, and tells each side when the
 * other one goes.
 *
 * Each message is one packet that starts with a type byte; integers are
 * in network byte order.
 *
 *   0x01  D-channel frame  type, then the frame, 5..TDM_DCHAN_MAX bytes:
 *                          the Q.921 frame and its 2 FCS bytes, exactly as
 *                          libpri writes and reads them.  D-channel
 *                          socket, both ways.
 *   0x02  bearer frame     type, uint32 sequence number, then
 *                          TDM_MAX_TS * 160 bytes, timeslot ts at offset
 *                          ts * 160 (A-law on E1, mu-law on T1): 5125
 *                          bytes in all.  Bearer socket, both ways: the
 *                          master sends one every 20 ms, the slave
 *                          answers each at once.  Each side numbers its
 *                          frames from any start; a jump means frames
 *                          were lost (slips).
 *   0x03  alarms           type, uint32 TDM_ALARM_* bits (LOS 1, AIS 2,
 *                          RAI 4, LOF 8; other bits are ignored): 5 bytes.
 *                          Master to slave on both sockets, on connect
 *                          and on every change, so that junctiond and
 *                          junction-mg both learn them.
 *
 * The master's first message on a connection is its alarms.  The slave
 * counts the link up from the first valid message, not from connect():
 * a master that does not accept (hung, or its backlog) leaves the span
 * DOWN, and the span learns the alarms before the link, so that it never
 * shows UP for a moment on its way to ALARM.
 *
 * Anything else (an empty, short or oversized message, an unknown type,
 * a type on the wrong socket or from the wrong side) is counted in
 * bad_frames and dropped.  While the master raises LOS, AIS or LOF it
 * sends neither bearer nor D-channel frames, as a line with no signal
 * (span.c drops them); the slave raises LOS itself when bearer frames
 * stop for LOS_MS while it is linked and no such alarm explains it.
 * A shorter gap (GAP_MS or more) is a defect, not an alarm: it is
 * logged, the frame times it lost are counted in gaps when frames come
 * again, and the calls stay up, as on a real line.
 */

#define MSG_DCHAN	0x01
#define MSG_BEARER	0x02
#define MSG_ALARMS	0x03

#define DCHAN_MIN	5		/* address, control, 2 FCS bytes */
#define BEARER_MSG_LEN	(1 + 4 + TDM_BEARER_BYTES)
#define ALARMS_MSG_LEN	(1 + 4)
#define RETRY_MS	500
/* A defect becomes a failure (an alarm that takes the span out of
 * service) when it persists 2.5 +/- 0.5 s (ANSI T1.231 s.8.1.3; DAHDI's
 * E1/T1 drivers debounce LOS for 2,500 ms likewise). */
#define GAP_MS		100
#define LOS_MS		2500

#define RED_ALARMS (TDM_ALARM_LOS | TDM_ALARM_AIS | TDM_ALARM_LOF)
#define ALL_ALARMS (RED_ALARMS | TDM_ALARM_RAI)

struct vspan;

/* One of the two sockets. */
struct vlink {
	struct vspan *vs;		/* borrowed: our owner */
	unsigned flag;			/* TDM_OPEN_DCHAN, TDM_OPEN_BEARER; 0:
					 * not opened */
	const char *name;		/* for logs */
	const char *path;		/* borrowed: the span's conf */
	int lfd;			/* master: listening socket */
	int fd;				/* the peer */
	bool bound;			/* master: path is our socket file */
	dev_t dev;
	ino_t ino;
	bool up;			/* linked (slave: the master spoke) */
	bool ever;			/* linked before: next is a reconnect */
	bool quiet;			/* slave: connect failure logged */
	struct gw_tmr retry;		/* slave: connect; master: listen */
};

struct vspan {
	struct tdm_span *span;		/* borrowed: the span owns us */
	bool master;
	struct vlink dchan, bearer;
	unsigned tx_alarms;		/* master: what we signal */
	unsigned rx_alarms;		/* slave: what the master signals */
	bool los;			/* slave: bearer frames stopped */
	uint64_t gap_since;		/* slave: the last frame before a
					 * gap (gw_now_ms); 0: none */
	struct gw_tmr los_tmr;		/* slave: bearer watchdog */
	struct gw_tmr report_tmr;	/* slave: alarms changed */
	uint32_t tx_seq;
	uint32_t rx_seq;
	bool rx_seq_valid;
	uint8_t buf[BEARER_MSG_LEN];	/* the largest valid message */
};

static void link_readable(int flags, void *arg);

static void drop_fd(struct vlink *l)
{
	if (l->fd < 0)
		return;
	gw_fd_close(l->fd);
	close(l->fd);
	l->fd = -1;
}

static void vspan_destroy(void *data)
{
	struct vspan *vs = data;
	struct vlink *links[] = {&vs->dchan, &vs->bearer};
	struct stat st;
	size_t i;

	gw_tmr_cancel(&vs->los_tmr);
	gw_tmr_cancel(&vs->report_tmr);
	for (i = 0; i < GW_ARRAY_SIZE(links); i++) {
		struct vlink *l = links[i];

		gw_tmr_cancel(&l->retry);
		drop_fd(l);
		if (l->lfd >= 0) {
			gw_fd_close(l->lfd);
			close(l->lfd);
		}
		/* Unlink only the file we made: a successor may own it. */
		if (l->bound && !lstat(l->path, &st) && st.st_dev == l->dev &&
		    st.st_ino == l->ino)
			unlink(l->path);
	}
}

static unsigned cur_alarms(const struct vspan *vs)
{
	return vs->rx_alarms | (vs->los ? TDM_ALARM_LOS : 0);
}

static int make_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static int send_msg(struct vlink *l, const void *hdr, size_t hlen,
		    const void *body, size_t blen)
{
	struct iovec iov[2];
	struct msghdr mh;

	if (l->fd < 0)
		return ENOTCONN;
	iov[0].iov_base = (void *)hdr;
	iov[0].iov_len = hlen;
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = blen;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = blen ? 2 : 1;
	if (sendmsg(l->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return errno == EWOULDBLOCK ? EAGAIN : errno;
	return 0;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

static int send_alarms_to(struct vlink *l, unsigned alarms)
{
	uint8_t msg[ALARMS_MSG_LEN];
	int err;

	msg[0] = MSG_ALARMS;
	put_u32(msg + 1, alarms);
	err = send_msg(l, msg, sizeof(msg), NULL, 0);
	if (err && err != ENOTCONN) {
		GW_WARN("span %u: %s: cannot send alarms: %s",
			l->vs->span->conf.id, l->name, strerror(err));
	}
	return err;
}

/* ---- the slave's view of the bearer --------------------------------- */

static void report_alarms(void *arg)
{
	struct vspan *vs = arg;

	tdm_span_rx_alarms(vs->span, cur_alarms(vs));
}

/* Tell span.c from a fresh loop pass: for paths that make another
 * upcall (tdm_span_rx_* is a tail call). */
static void report_later(struct vspan *vs)
{
	if (cur_alarms(vs) != vs->span->alarms)
		gw_tmr_start(&vs->report_tmr, 0, report_alarms, vs);
}

/* No bearer frame for GAP_MS: a gap; for LOS_MS: loss of signal. */
static void los_timeout(void *arg)
{
	struct vspan *vs = arg;
	struct pollfd pfd = {.fd = vs->bearer.fd, .events = POLLIN};

	if (vs->rx_alarms & RED_ALARMS) {
		/* The master says why nothing comes; look again later. */
		vs->gap_since = 0;
		gw_tmr_start(&vs->los_tmr, GAP_MS, los_timeout, vs);
		return;
	}
	/* A frame waiting unread means this thread was late, not the line
	 * quiet: the loop runs due timers after the events it collected
	 * before it stalled, so a stalled worker gets here before it reads
	 * what arrived meanwhile. */
	if (pfd.fd >= 0 && poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN)) {
		gw_tmr_start(&vs->los_tmr, GAP_MS, los_timeout, vs);
		return;
	}
	if (!vs->gap_since) {
		vs->gap_since = gw_now_ms() - GAP_MS;
		GW_LOG_LIMITED(GW_LOG_WARN, "span %u: no bearer frame for "
			       "%u ms", vs->span->conf.id, GAP_MS);
		gw_tmr_start(&vs->los_tmr, LOS_MS - GAP_MS, los_timeout, vs);
		return;
	}
	GW_WARN("span %u: no bearer frame for %u ms: LOS",
		vs->span->conf.id, LOS_MS);
	vs->los = true;
	vs->gap_since = 0;
	vs->rx_seq_valid = false;
	tdm_span_rx_alarms(vs->span, cur_alarms(vs));
}

static void slave_bearer_frame(struct vspan *vs, uint32_t seq)
{
	struct tdm_span *span = vs->span;

	if (vs->rx_seq_valid && seq != vs->rx_seq + 1) {
		uint32_t lost = seq - (vs->rx_seq + 1);

		/* A forward jump lost frames; anything else is one slip. */
		span->cnt.slips += lost < 0x80000000u ? lost : 1;
		GW_LOG_LIMITED(GW_LOG_WARN, "span %u: bearer sequence %u "
			       "after %u: slip", span->conf.id, seq,
			       vs->rx_seq);
	}
	vs->rx_seq = seq;
	vs->rx_seq_valid = true;
	gw_tmr_start(&vs->los_tmr, GAP_MS, los_timeout, vs);
	if (vs->gap_since) {
		uint64_t ms = gw_now_ms() - vs->gap_since;

		/* The frame times the gap lost, this frame's apart. */
		span->cnt.gaps += ms / TDM_FRAME_MS ? ms / TDM_FRAME_MS - 1 : 0;
		GW_INFO("span %u: bearer frames again after %" PRIu64 " ms",
			span->conf.id, ms);
		vs->gap_since = 0;
	}
	if (vs->los) {
		GW_INFO("span %u: bearer frames again: LOS cleared",
			span->conf.id);
		vs->los = false;
		report_later(vs);
	}
}

/* ---- links ---------------------------------------------------------- */

static void connect_link(void *arg);

/* The peer went away.  A tail call. */
static void link_lost(struct vlink *l, int err)
{
	struct vspan *vs = l->vs;
	bool was_up = l->up;

	GW_INFO("span %u: %s link lost%s%s", vs->span->conf.id, l->name,
		err ? ": " : "", err ? strerror(err) : "");
	drop_fd(l);
	l->up = false;
	if (l->flag == TDM_OPEN_BEARER) {
		gw_tmr_cancel(&vs->los_tmr);
		vs->los = false;
		vs->gap_since = 0;
		vs->rx_seq_valid = false;
	}
	if (!vs->master) {
		/* Alarms come from a master we no longer hear. */
		if (!vs->dchan.up && !vs->bearer.up)
			vs->rx_alarms = 0;
		report_later(vs);
		gw_tmr_start(&l->retry, RETRY_MS, connect_link, l);
	}
	if (was_up)
		tdm_span_link(vs->span, l->flag, false);
}

static void bad_msg(struct vlink *l, const char *why, size_t len)
{
	struct tdm_span *span = l->vs->span;

	span->cnt.bad_frames++;
	GW_LOG_LIMITED(GW_LOG_WARN, "span %u: %s: dropped a bad message "
		       "(%s, %zu bytes)", span->conf.id, l->name, why, len);
}

/* Why msg is no valid message on l, or NULL if it is one. */
static const char *check_msg(const struct vlink *l, const uint8_t *msg,
			     size_t len)
{
	switch (msg[0]) {
	case MSG_DCHAN:
		if (l->flag != TDM_OPEN_DCHAN)
			return "D-channel frame on the bearer";
		if (len - 1 < DCHAN_MIN)
			return "short D-channel frame";
		if (len - 1 > TDM_DCHAN_MAX)
			return "oversized D-channel frame";
		return NULL;
	case MSG_BEARER:
		if (l->flag != TDM_OPEN_BEARER)
			return "bearer frame on the D-channel";
		if (len != BEARER_MSG_LEN)
			return "bearer frame of a wrong length";
		return NULL;
	case MSG_ALARMS:
		if (l->vs->master)
			return "alarms from the slave";
		if (len != ALARMS_MSG_LEN)
			return "alarms of a wrong length";
		return NULL;
	default:
		return "unknown type";
	}
}

/*
 * Slave: the master spoke on l; alarms says its message was the alarms.
 * Two calls up in a row, so we hold the span across them (no bearer
 * frame passes here: span.c's tick must see only its own reference).
 * Whether the span still has an owner.
 */
static bool slave_link_up(struct vlink *l, bool alarms)
{
	struct vspan *vs = l->vs;
	struct tdm_span *span = gw_mem_ref(vs->span);
	bool owned = true;

	l->up = true;
	if (l->ever)
		span->cnt.reconnects++;
	l->ever = true;
	if (l->flag == TDM_OPEN_BEARER) {
		vs->rx_seq_valid = false;
		vs->gap_since = 0;
		gw_tmr_start(&vs->los_tmr, GAP_MS, los_timeout, vs);
	}
	GW_INFO("span %u: %s linked to %s", span->conf.id, l->name, l->path);
	if (alarms) {
		tdm_span_rx_alarms(span, cur_alarms(vs));
		owned = gw_mem_nrefs(span) > 1;
	}
	if (owned) {
		tdm_span_link(span, l->flag, true);
		owned = gw_mem_nrefs(span) > 1;
	}
	gw_mem_deref(span);
	return owned;
}

/* One message from the peer.  A tail call. */
static void link_input(struct vlink *l, const uint8_t *msg, size_t len)
{
	struct vspan *vs = l->vs;
	struct tdm_span *span = vs->span;
	const char *why = check_msg(l, msg, len);

	if (why) {
		bad_msg(l, why, len);
		return;
	}
	if (msg[0] == MSG_ALARMS) {
		vs->rx_alarms = get_u32(msg + 1) & ALL_ALARMS;
		/* Red or blue from the far end explains a silent bearer. */
		if (vs->rx_alarms & RED_ALARMS)
			vs->los = false;
	}
	if (!l->up) {
		if (!slave_link_up(l, msg[0] == MSG_ALARMS) ||
		    msg[0] == MSG_ALARMS)
			return;
	}
	switch (msg[0]) {
	case MSG_DCHAN:
		tdm_span_rx_dchan(span, msg + 1, len - 1);
		break;
	case MSG_BEARER:
		if (!vs->master)
			slave_bearer_frame(vs, get_u32(msg + 1));
		tdm_span_rx_bearer(span, msg + 5);
		break;
	case MSG_ALARMS:
		tdm_span_rx_alarms(span, cur_alarms(vs));
		break;
	}
}

/* One message per event: every upcall is the handler's last act, since
 * the span (and we with it) may be gone after it. */
static void link_readable(int flags, void *arg)
{
	struct vlink *l = arg;
	struct msghdr mh;
	struct iovec iov;
	struct pollfd pfd;
	ssize_t n;

	(void)flags;
	iov.iov_base = l->vs->buf;
	iov.iov_len = sizeof(l->vs->buf);
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;

	n = recvmsg(l->fd, &mh, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		link_lost(l, errno);
		return;
	}
	if (n == 0) {
		/* SEQPACKET carries empty messages: tell one from the end. */
		pfd.fd = l->fd;
		pfd.events = POLLIN | POLLRDHUP;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) > 0 &&
		    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			link_lost(l, 0);
			return;
		}
		bad_msg(l, "empty", 0);
		return;
	}
	if (mh.msg_flags & MSG_TRUNC) {
		bad_msg(l, "oversized", (size_t)n);
		return;
	}
	link_input(l, l->vs->buf, (size_t)n);
}

/* Slave: connect, or try again in RETRY_MS. */
static void connect_link(void *arg)
{
	struct vlink *l = arg;
	struct vspan *vs = l->vs;
	struct tdm_span *span = vs->span;
	struct sockaddr_un sa;
	int fd, err;

	err = make_addr(&sa, l->path);
	if (err)
		goto out;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		err = errno;
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno;
		close(fd);
		goto out;
	}
	err = gw_fd_listen(fd, GW_FD_READ, link_readable, l);
	if (err) {
		close(fd);
		goto out;
	}

 out:
	if (err) {
		if (!l->quiet) {
			GW_INFO("span %u: %s: cannot connect to %s (%s); "
				"retrying every %u ms", span->conf.id, l->name,
				l->path, strerror(err), RETRY_MS);
			l->quiet = true;
		}
		gw_tmr_start(&l->retry, RETRY_MS, connect_link, l);
		return;
	}
	/* Linked when the master speaks: see slave_link_up. */
	l->fd = fd;
	l->quiet = false;
	GW_DBG("span %u: %s connected to %s", span->conf.id, l->name,
	       l->path);
}

static void accept_peer(int flags, void *arg);

static void relisten(void *arg)
{
	struct vlink *l = arg;

	if (gw_fd_listen(l->lfd, GW_FD_READ, accept_peer, l))
		gw_tmr_start(&l->retry, RETRY_MS, relisten, l);
}

/* Master: a slave connects; it replaces the one we had. */
static void accept_peer(int flags, void *arg)
{
	struct vlink *l = arg;
	struct vspan *vs = l->vs;
	struct tdm_span *span = vs->span;
	bool replaced;
	int fd, err;

	(void)flags;
	fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR || errno == ECONNABORTED)
			return;
		/* Out of fds, say: pause rather than spin on the level. */
		GW_LOG_LIMITED(GW_LOG_ERR, "span %u: %s: accept: %s",
			       span->conf.id, l->name, strerror(errno));
		gw_fd_close(l->lfd);
		gw_tmr_start(&l->retry, RETRY_MS, relisten, l);
		return;
	}
	err = gw_fd_listen(fd, GW_FD_READ, link_readable, l);
	if (err) {
		GW_ERR("span %u: %s: cannot watch a peer: %s", span->conf.id,
		       l->name, strerror(err));
		close(fd);
		return;
	}
	replaced = l->fd >= 0;
	drop_fd(l);
	l->fd = fd;
	l->up = true;
	if (l->ever)
		span->cnt.reconnects++;
	l->ever = true;
	GW_INFO("span %u: %s: %s", span->conf.id, l->name,
		replaced ? "a new peer replaces the old one" :
		"peer connected");
	(void)send_alarms_to(l, vs->tx_alarms);
	if (!replaced)
		tdm_span_link(span, l->flag, true);
}

/* Is something listening at sa?  A probe of another socket type cannot
 * be accepted as a peer: a live SEQPACKET listener answers EPROTOTYPE,
 * a stale file ECONNREFUSED (and is removed). */
static int probe_socket(const struct sockaddr_un *sa)
{
	int fd, err = 0;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (!connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ||
	    errno == EPROTOTYPE || errno == EAGAIN || errno == EINPROGRESS)
		err = EADDRINUSE;
	else if (errno == ECONNREFUSED)
		err = unlink(sa->sun_path) && errno != ENOENT ? errno : 0;
	else if (errno != ENOENT)
		err = errno;
	close(fd);
	return err;
}

/* Master: listen on the link's path (mode 0660), replacing a stale
 * socket file; EADDRINUSE if a live one listens there, EEXIST if the
 * path is some other file. */
static int link_listen(struct vlink *l)
{
	struct sockaddr_un sa;
	struct stat st;
	int err;

	err = make_addr(&sa, l->path);
	if (err)
		return err;
	if (!lstat(l->path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return EEXIST;
		err = probe_socket(&sa);
		if (err)
			return err;
	}
	l->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (l->lfd < 0)
		return errno;
	/* The mode before bind, so that no wider one is ever visible. */
	(void)fchmod(l->lfd, 0660);
	if (bind(l->lfd, (struct sockaddr *)&sa, sizeof(sa)))
		return errno;
	if (lstat(l->path, &st))
		return errno;
	l->bound = true;
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	if (chmod(l->path, 0660) || listen(l->lfd, 4))
		return errno;
	return gw_fd_listen(l->lfd, GW_FD_READ, accept_peer, l);
}

static void link_init(struct vlink *l, struct vspan *vs, unsigned flag,
		      const char *name, const char *path)
{
	l->vs = vs;
	l->flag = flag;
	l->name = name;
	l->path = path;
	l->lfd = -1;
	l->fd = -1;
	gw_tmr_init(&l->retry);
}

/* ---- driver ops ----------------------------------------------------- */

static int vspan_open(struct tdm_span *span, unsigned open_flags)
{
	const struct tdm_span_conf *c = &span->conf;
	struct vlink *links[2];
	struct vspan *vs;
	size_t i, n = 0;
	int err = 0;

	if (((open_flags & TDM_OPEN_DCHAN) &&
	     (!c->dchan_path || !*c->dchan_path)) ||
	    ((open_flags & TDM_OPEN_BEARER) &&
	     (!c->bearer_path || !*c->bearer_path))) {
		GW_WARN("span %u: vspan needs a socket path for each half",
			c->id);
		return EINVAL;
	}

	vs = gw_mem_zalloc(sizeof(*vs), vspan_destroy);
	if (!vs)
		return ENOMEM;
	vs->span = span;
	vs->master = c->master;
	gw_tmr_init(&vs->los_tmr);
	gw_tmr_init(&vs->report_tmr);
	link_init(&vs->dchan, vs, 0, "D-channel", c->dchan_path);
	link_init(&vs->bearer, vs, 0, "bearer", c->bearer_path);
	if (open_flags & TDM_OPEN_DCHAN) {
		vs->dchan.flag = TDM_OPEN_DCHAN;
		links[n++] = &vs->dchan;
	}
	if (open_flags & TDM_OPEN_BEARER) {
		vs->bearer.flag = TDM_OPEN_BEARER;
		links[n++] = &vs->bearer;
	}

	for (i = 0; i < n; i++) {
		struct sockaddr_un sa;

		err = make_addr(&sa, links[i]->path);
		if (!err && vs->master)
			err = link_listen(links[i]);
		if (err) {
			GW_WARN("span %u: %s: %s: %s", c->id, links[i]->name,
				links[i]->path, strerror(err));
			goto out;
		}
		if (!vs->master) {
			/* From the loop, so that no handler runs before
			 * tdm_span_start returns. */
			gw_tmr_start(&links[i]->retry, 0, connect_link,
				     links[i]);
		}
	}

 out:
	if (err)
		gw_mem_deref(vs);
	else
		span->drv_state = vs;
	return err;
}

static void vspan_close(struct tdm_span *span)
{
	span->drv_state = gw_mem_deref(span->drv_state);
}

static int vspan_dchan_send(struct tdm_span *span, const uint8_t *frame,
			    size_t len)
{
	struct vspan *vs = span->drv_state;
	uint8_t type = MSG_DCHAN;
	int err;

	err = send_msg(&vs->dchan, &type, 1, frame, len);
	if (err == EAGAIN) {
		GW_LOG_LIMITED(GW_LOG_WARN, "span %u: D-channel full: frame "
			       "dropped", span->conf.id);
	}
	return err;
}

static int vspan_bearer_send(struct tdm_span *span, const uint8_t *frame)
{
	struct vspan *vs = span->drv_state;
	uint8_t hdr[5];
	int err;

	hdr[0] = MSG_BEARER;
	put_u32(hdr + 1, vs->tx_seq);
	err = send_msg(&vs->bearer, hdr, sizeof(hdr), frame,
		       TDM_BEARER_BYTES);
	if (err == EAGAIN) {
		/* Lost: the far end sees the sequence jump. */
		vs->tx_seq++;
		span->cnt.slips++;
		GW_LOG_LIMITED(GW_LOG_WARN, "span %u: bearer full: frame "
			       "dropped", span->conf.id);
	} else if (!err) {
		vs->tx_seq++;
	}
	return err;
}

static int vspan_send_alarms(struct tdm_span *span, unsigned alarms)
{
	struct vspan *vs = span->drv_state;

	if (!vs->master)
		return ENOTSUP;
	vs->tx_alarms = alarms;
	(void)send_alarms_to(&vs->dchan, alarms);
	(void)send_alarms_to(&vs->bearer, alarms);
	return 0;
}

const struct tdm_driver tdm_vspan_driver = {
	.name = "vspan",
	.open = vspan_open,
	.close = vspan_close,
	.dchan_send = vspan_dchan_send,
	.bearer_send = vspan_bearer_send,
	.send_alarms = vspan_send_alarms,
};
