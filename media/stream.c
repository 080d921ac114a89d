/* media/stream.c - RTP streams on ortp, SRTP on libsrtp2 (RFC 3550, 3711) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ortp/ortp.h>
#include <ortp/telephonyevents.h>
#include <srtp2/srtp.h>

#define GW_LOG_MOD "media"
#include "media.h"
#include "batch.h"

/*
 * How the pieces sit.  ortp keeps the jitter buffer, the sequence and
 * timestamp bookkeeping and the RTCP SR/RR schedule; it runs without its
 * scheduler thread and is driven by media_stream_rx/tx from the worker's
 * tick.  Its sockets are ours: each of its two default "meta" transports
 * gets one of our endpoints (RtpTransport), so every datagram in or out
 * passes through this file.  Inbound, the endpoint is the gate: source
 * (latching, strangers), header sanity, payload type, SRTP, SSRC and
 * sequence checks, RFC 4733 events; ortp only ever sees packets that
 * passed, with padding and header extensions already stripped.
 * Outbound, it applies SRTP and picks the destination (latched or
 * signalled), whatever address ortp thinks it has: we never give ortp a
 * remote address, so it never calls getaddrinfo().
 *
 * RTCP-mux (RFC 5761) is ours too: RTCP found on the RTP socket waits in
 * a small stash until ortp reads its RTCP transport, which it does on
 * every recvm call; ortp's own mux handling stays off.
 *
 * System calls are the media tick's main cost, so the RTP endpoint
 * spares the empty ones: ortp reads until EAGAIN, and again on every
 * recvm call (two a tick at a 10 ms ptime).  One recvmmsg takes a batch;
 * a short batch means the socket was empty, and the tick reads it no
 * more (what arrives meanwhile waits for the next tick, microseconds
 * later, as it would have had it come a moment after the read).
 *
 * On a thread that batches (media/batch.c, every media worker) the
 * system calls go too.  The first stream to read in a tick has the batch
 * read every stream's socket at once: one receive more than the peer's
 * ptime brings in a tick, so that an empty last one tells the socket is
 * drained (all full, and the stream reads the rest itself, as above: a
 * flood costs what it did).  RTP sends wait in the stream's slots until
 * the thread's loop ends its turn, and go out in one submission.
 *
 * A separate RTCP socket carries a packet every few seconds (RFC 3550
 * 6.2), so reading it every tick would be an empty system call nearly
 * every time: it is read once in a fifth of the report interval (0.1 to
 * 1 s), each stream at its own phase.  The kernel stamps each datagram's
 * arrival (SO_TIMESTAMPNS) and the round trip is taken from that stamp
 * (RFC 3550 6.4.1), so the late read costs no accuracy: ours from our
 * LSR/DLSR arithmetic, the peer's from the DLSR of our reports, which we
 * count from the stamp of the peer's SR as each report goes out (ortp
 * counts from when it read the SR, and may report in the same call).
 */

#define RTP_HDR		12
#define RTP_BUF		2048	/* receive buffer; larger datagrams are
				 * counted truncated */
#define TX_MAX		1500	/* largest packet we send, before SRTP */
#define RX_BUDGET	256	/* datagrams read per tick, all sockets:
				 * a flood costs at most this much */
#define MAX_DROPOUT	3000	/* RFC 3550 A.1 */
#define MAX_MISORDER	100
#define EVQ_MAX		16
#define STASH_MAX	2
#define RQ_MAX		4	/* RTP datagrams per recvmmsg */
#define TXQ_MAX		3	/* RTP sends queued on a batch */
#define RD_FRESH_NS	((uint64_t)MEDIA_TICK_MS * 1000000 / 2)
#define TEV_IDLE_MS	500	/* an event with no update ends */
#define TEV_VOLUME	10	/* -10 dBm0 */
#define TEV_END_SENDS	3	/* RFC 4733 2.5.1.4 */
#define RTCP_POLL_MIN	100	/* ms between reads of an RTCP socket */
#define RTCP_POLL_MAX	1000
#define PT_CN		13
#define NTP_EPOCH	2208988800u

static const char dtmf_chars[] = "0123456789*#ABCD";

struct rx_event {
	char digit;
	bool end;
	unsigned ms;
};

struct stash {
	size_t len;
	struct sockaddr_storage from;
	socklen_t fromlen;
	uint8_t buf[1500];
};

/* An RTP datagram read ahead: one of a recvmmsg's after the one ortp was
 * given, or one a batch read. */
struct rq_slot {
	struct media_batch_op op;	/* the batch's receive into buf */
	bool full;
	size_t len;
	bool trunc;
	socklen_t fromlen;
	struct sockaddr_storage from;
	uint8_t buf[RTP_BUF];
};

/* An RTP packet queued on the batch, until it has gone. */
struct tx_slot {
	struct media_batch_op op;
	struct media_stream *s;
	size_t len;			/* before SRTP, for the counters */
	struct sockaddr_storage to;
	uint8_t buf[TX_MAX + SRTP_MAX_TRAILER_LEN + 4];
};

struct media_stream {
	RtpSession *rtp;
	RtpProfile *prof;
	int fd, rtcp_fd;
	int family;
	uint16_t port, rtcp_port;
	bool mux, symmetric, cn;
	uint8_t pt, te_pt;
	unsigned clock;
	unsigned tick_units;		/* RTP units per tick */
	enum media_dir dir;

	/* Where we send, and whom we accept. */
	struct sockaddr_storage remote, remote_rtcp;
	socklen_t remote_len, remote_rtcp_len;
	struct sockaddr_storage latched, latched_rtcp;
	socklen_t latched_len, latched_rtcp_len;	/* 0: not latched */

	srtp_t srtp_tx, srtp_rx;	/* NULL: plain RTP */

	/* Inbound gate, per current SSRC (RFC 3550 A.1, A.3, A.8). */
	unsigned budget;
	bool rx_seen;			/* valid RTP in this tick */
	bool have_ssrc;
	uint32_t ssrc;
	uint32_t cand_ssrc;		/* a new SSRC, until its 2nd packet */
	uint16_t cand_seq;
	bool have_cand;
	uint16_t max_seq;
	uint32_t cycles, base_seq;
	uint64_t seen[2];		/* bit i: max_seq - i arrived */
	uint64_t received, lost_before;	/* received: without duplicates */
	bool probe;			/* a jump waiting for confirmation */
	uint16_t probe_seq;
	uint32_t probe_ts;
	uint32_t last_ts;
	int64_t last_arrival;		/* RTP units of our clock */
	int64_t prev_transit;
	double jitter;			/* RTP units */
	bool jitter_init;

	/* Playout. */
	uint32_t rx_user_ts;
	unsigned rx_dur;		/* peer's packet duration, learned */
	unsigned cover;			/* units of the last payload ahead */
	bool playing, cn_active;
	unsigned idle_ticks, timeout_ticks;
	bool timeout_fired;

	/* RFC 4733 receive. */
	struct {
		bool active, have_ended;
		uint8_t code;
		uint32_t ts, dur, acc, ended_ts;
		unsigned idle;
	} tev;
	struct rx_event evq[EVQ_MAX];
	unsigned nevq;

	/* Send side. */
	uint32_t tx_ts;
	bool tx_marker;
	struct {
		bool active;
		uint8_t code;
		uint32_t ts, dur;
		unsigned ends_left;
	} txev;

	struct stash stash[STASH_MAX];
	unsigned nstash;

	/* RTCP socket reads (see the top of the file). */
	bool rtcp_poll;			/* read it in this tick */
	unsigned rtcp_wait;		/* ticks until the next read */
	unsigned rtcp_period;		/* ticks between reads */
	struct timespec rtcp_arrival;	/* of the datagram read; 0: now */
	struct timespec sr_arrival;	/* of the peer's last SR; 0: none */

	/* The rest of the last RTP batch (see the top of the file). */
	bool rtp_drained;		/* the socket was empty this tick */
	unsigned rq_head, rq_end;
	struct rq_slot rq[RQ_MAX];

	/* Batched I/O (media/batch.c), when the creating thread has it. */
	struct media_batch *batch;
	struct media_batch_reader rd;
	uint64_t rd_ns;			/* when the batch read the socket;
					 * 0: consumed since */
	bool rd_burst;			/* its last read came back all full */
	struct tx_slot txq[TXQ_MAX];

	media_dtmf_h *dtmfh;
	media_stream_timeout_h *timeouth;
	void *arg;

	struct media_stream_stats st;	/* counters; the rest filled on read */
	int64_t remote_lost;
	double remote_fraction, remote_jitter_ms, rtt_ms;

	uint8_t txbuf[TX_MAX + SRTP_MAX_TRAILER_LEN + 4];
};

/* ---- library setup --------------------------------------------------- */

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_err;

static void ortp_log_h(const char *domain, BctbxLogLevel lev, const char *fmt,
		       va_list ap)
{
	enum gw_log_level level = GW_LOG_DEBUG;

	(void)domain;
	if (lev & (BCTBX_LOG_FATAL | BCTBX_LOG_ERROR))
		level = GW_LOG_ERR;
	else if (lev & BCTBX_LOG_WARNING)
		level = GW_LOG_WARN;
	if (gw_log_enabled("ortp", level))
		gw_vlog(level, "ortp", fmt, ap);
}

static void lib_init(void)
{
	/* ortp_init only: ortp_scheduler_init would start a thread. */
	ortp_init();
	ortp_set_log_handler(ortp_log_h);
	/* ortp logs under "ortp", whatever ORTP_LOG_DOMAIN says. */
	bctbx_set_log_level_mask("ortp", ORTP_ERROR | ORTP_FATAL);
	if (srtp_init() != srtp_err_status_ok)
		lib_err = EIO;
}

/** Initialise ortp and libsrtp now (libsrtp on NSS takes a few hundred
 * ms): at start-up, so that the first call does not stall its worker. */
int media_init(void)
{
	pthread_once(&lib_once, lib_init);
	return lib_err;
}

static uint32_t rand32(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)random() ^ (uint32_t)time(NULL);
	return r;
}

/* ---- addresses -------------------------------------------------------- */

static int addr_parse(const char *ip, uint16_t port,
		      struct sockaddr_storage *ss, socklen_t *lenp)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (!ip)
		return EINVAL;
	if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*lenp = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*lenp = sizeof(*in6);
		return 0;
	}
	return EINVAL;
}

static void addr_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static bool addr_same_ip(const struct sockaddr_storage *a,
			 const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
			((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr,
		       sizeof(struct in6_addr));
}

static bool addr_same(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (!addr_same_ip(a, b))
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_port ==
			((const struct sockaddr_in *)b)->sin_port;
	return ((const struct sockaddr_in6 *)a)->sin6_port ==
		((const struct sockaddr_in6 *)b)->sin6_port;
}

static void addr_str(const struct sockaddr_storage *ss, char *buf,
		     size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in4 = (const void *)ss;

		inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s:%u", ip, ntohs(in4->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
	}
}

/* ---- sockets --------------------------------------------------------- */

/* A non-blocking UDP socket bound to ip:port without SO_REUSEADDR or
 * SO_REUSEPORT, so that a port in use fails with EADDRINUSE instead of
 * being shared (ortp's default would set SO_REUSEPORT). */
static int sock_bind(const struct sockaddr_storage *local, socklen_t len,
		     uint16_t port, int *fdp)
{
	struct sockaddr_storage a = *local;
	int fd, on = 1, tos = 0xb8;	/* DSCP EF (RFC 3246) */
	int err = 0;

	fd = socket(a.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (a.ss_family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
	} else {
		setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
	}
	addr_set_port(&a, port);
	if (bind(fd, (struct sockaddr *)&a, len) < 0) {
		err = errno;
		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

/* The last port handed out (0: none yet), shared by every range: the
 * next search starts after it when it lies in the range searched. */
static _Atomic uint16_t port_last;

/* Where a search of npairs pairs from first starts. */
static unsigned pair_start(unsigned first, unsigned npairs)
{
	unsigned last = atomic_load(&port_last);

	if (last >= first && last < first + 2u * npairs)
		return ((last - first) / 2u + 1u) % npairs;
	/* Nothing handed out in this range yet: anywhere in it, so that
	 * a restarted gateway does not reuse its predecessor's ports. */
	return rand32() % npairs;
}

/**
 * Bind an RTP port pair on ip (an IPv4 or IPv6 literal) from
 * [port_min, port_max]: RTP on an even port (RFC 3550 11), RTCP on the
 * odd one above it, or RTP alone with rtcp_mux (RFC 5761).  Each
 * search starts after the last port handed out, so that a port just
 * released is not handed out again at once (stale packets of the last
 * call would reach the next).  Ports in use by anyone are skipped, never
 * shared.  EADDRINUSE when every pair is taken, EINVAL for a bad ip or
 * range.  Thread-safe.  On failure *s holds no socket (fds -1).
 */
int media_rtp_socks_bind(struct media_rtp_socks *s, const char *ip,
			 uint16_t port_min, uint16_t port_max, bool rtcp_mux)
{
	struct sockaddr_storage local;
	socklen_t len;
	unsigned first, npairs, start, i;
	int err;

	if (!s)
		return EINVAL;
	s->fd = s->rtcp_fd = -1;
	s->port = 0;
	err = addr_parse(ip, 0, &local, &len);
	if (err)
		return err;
	first = (port_min + 1u) & ~1u;
	if (!port_min || port_max < port_min || first > port_max ||
	    (!rtcp_mux && first + 1u > port_max))
		return EINVAL;
	npairs = (rtcp_mux ? port_max - first : port_max - first - 1u) / 2u +
		1u;
	start = pair_start(first, npairs);
	for (i = 0; i < npairs; i++) {
		uint16_t port = (uint16_t)(first + 2u * ((start + i) % npairs));

		err = sock_bind(&local, len, port, &s->fd);
		if (err == EADDRINUSE || err == EACCES)
			continue;
		if (err)
			return err;
		if (!rtcp_mux) {
			err = sock_bind(&local, len, (uint16_t)(port + 1),
					&s->rtcp_fd);
			if (err) {
				close(s->fd);
				s->fd = -1;
				if (err == EADDRINUSE || err == EACCES)
					continue;
				return err;
			}
		}
		s->port = port;
		atomic_store(&port_last, port);
		return 0;
	}
	return EADDRINUSE;
}

/**
 * Close pre-bound sockets nobody took over; the fds become -1.  Safe
 * twice, and on a zeroed struct (port 0: nothing was bound).
 */
void media_rtp_socks_close(struct media_rtp_socks *s)
{
	if (!s)
		return;
	if (s->port) {
		if (s->fd >= 0)
			close(s->fd);
		if (s->rtcp_fd >= 0)
			close(s->rtcp_fd);
	}
	s->fd = s->rtcp_fd = -1;
	s->port = 0;
}

/* Take over pre-bound sockets: their family, their ports. */
static int socks_take(struct media_stream *s, struct media_rtp_socks *k)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	int on = 1;

	s->fd = k->fd;
	s->rtcp_fd = k->rtcp_fd;
	s->port = k->port;
	k->fd = k->rtcp_fd = -1;
	if (s->fd < 0 || !s->port)
		return EINVAL;
	if (getsockname(s->fd, (struct sockaddr *)&a, &len) < 0)
		return errno;
	s->family = a.ss_family;
	if (s->mux) {
		/* Bound as a pair but rtcp-mux after all: the odd port
		 * goes back. */
		if (s->rtcp_fd >= 0)
			close(s->rtcp_fd);
		s->rtcp_fd = -1;
		s->rtcp_port = s->port;
		return 0;
	}
	if (s->rtcp_fd < 0)
		return EINVAL;		/* bound for mux: no RTCP socket */
	s->rtcp_port = (uint16_t)(s->port + 1);
	/* Read late (see the top of the file): the kernel's arrival time
	 * for the round trip. */
	setsockopt(s->rtcp_fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
	return 0;
}

/* ---- SRTP ------------------------------------------------------------- */

static int srtp_new(srtp_t *ctxp, const struct media_srtp_key *k,
		    bool inbound)
{
	srtp_policy_t p;
	uint8_t key[MEDIA_SRTP_KEY_LEN];
	srtp_err_status_t e;

	memset(&p, 0, sizeof(p));
	switch (k->suite) {
	case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
		break;
	case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p.rtp);
		break;
	default:
		return EINVAL;
	}
	/* SRTCP keeps the 80-bit tag with either suite (RFC 4568 6.2.2,
	 * RFC 3711 7.5). */
	srtp_crypto_policy_set_rtcp_default(&p.rtcp);
	memcpy(key, k->key, sizeof(key));
	p.key = key;
	p.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	p.window_size = 128;
	p.allow_repeat_tx = 0;
	e = srtp_create(ctxp, &p);
	memset(key, 0, sizeof(key));
	if (e == srtp_err_status_alloc_fail)
		return ENOMEM;
	return e == srtp_err_status_ok ? 0 : EINVAL;
}

static void srtp_free(struct media_stream *s)
{
	if (s->srtp_tx)
		srtp_dealloc(s->srtp_tx);
	if (s->srtp_rx)
		srtp_dealloc(s->srtp_rx);
	s->srtp_tx = s->srtp_rx = NULL;
}

/**
 * Key a stream for SRTP, or (both suites NONE) turn it back to plain RTP.
 * tx is our key (the one our SDP offered or answered), rx the peer's.
 * One side keyed and the other not is EINVAL.  Safe mid-call (re-INVITE).
 */
int media_stream_set_srtp(struct media_stream *s,
			  const struct media_srtp_key *tx,
			  const struct media_srtp_key *rx)
{
	srtp_t ntx = NULL, nrx = NULL;
	bool on_tx = tx && tx->suite != MEDIA_SRTP_NONE;
	bool on_rx = rx && rx->suite != MEDIA_SRTP_NONE;
	int err;

	if (!s || on_tx != on_rx)
		return EINVAL;
	if (on_tx) {
		err = srtp_new(&ntx, tx, false);
		if (err)
			return err;
		err = srtp_new(&nrx, rx, true);
		if (err) {
			srtp_dealloc(ntx);
			return err;
		}
	}
	srtp_free(s);
	s->srtp_tx = ntx;
	s->srtp_rx = nrx;
	return 0;
}

/* ---- inbound gate: RTP ------------------------------------------------ */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		(uint32_t)p[2] << 8 | p[3];
}

/* Our clock in RTP units, for arrival times (jitter, jump checks). */
static int64_t now_units(const struct media_stream *s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * s->clock +
		(int64_t)ts.tv_nsec * s->clock / 1000000000;
}

static uint64_t cur_lost(const struct media_stream *s)
{
	int64_t expected;

	if (!s->have_ssrc)
		return 0;
	expected = (int64_t)s->cycles + s->max_seq - s->base_seq + 1;
	return expected > (int64_t)s->received ?
		(uint64_t)(expected - (int64_t)s->received) : 0;
}

/* The last 128 sequence numbers, for duplicates: RFC 3550 A.3 counts
 * them as received, which hides as much loss; we drop and count them. */
static void seen_advance(uint64_t w[2], unsigned d)
{
	if (d >= 128) {
		w[0] = w[1] = 0;
	} else if (d >= 64) {
		w[1] = w[0] << (d - 64);
		w[0] = 0;
	} else if (d) {
		w[1] = w[1] << d | w[0] >> (64 - d);
		w[0] <<= d;
	}
	w[0] |= 1;
}

/* true when back (1-127 behind max_seq) had arrived already. */
static bool seen_mark(uint64_t w[2], unsigned back)
{
	uint64_t *word = &w[back / 64], bit = (uint64_t)1 << (back % 64);
	bool was = *word & bit;

	*word |= bit;
	return was;
}

/* Start over: a new SSRC, or a jump the next packet confirmed.  ortp's
 * jitter buffer is flushed and re-synchronised, since its clock offset,
 * its "too old" check and its SSRC all belong to the old sequence. */
static void seq_restart(struct media_stream *s, uint32_t ssrc, uint16_t seq,
			uint32_t ts, int64_t arrival)
{
	if (s->have_ssrc) {
		s->lost_before += cur_lost(s);
		rtp_session_resync(s->rtp);
	}
	s->have_ssrc = true;
	s->ssrc = ssrc;
	s->have_cand = false;
	s->max_seq = seq;
	s->cycles = 0;
	s->base_seq = seq;
	s->received = 0;
	s->seen[0] = 1;
	s->seen[1] = 0;
	s->probe = false;
	s->last_ts = ts;
	s->last_arrival = arrival;
	s->jitter_init = false;
	s->cover = 0;
}

/* Sequence, timestamp and SSRC checks (RFC 3550 A.1) on a packet known
 * to be well formed and authentic.  Timestamps are checked against the
 * time that passed, except for events (all packets of an event carry its
 * start).  false: drop the packet. */
static bool seq_check(struct media_stream *s, uint32_t ssrc, uint16_t seq,
		      uint32_t ts, int64_t arrival, bool check_ts, bool marker)
{
	uint16_t udelta;
	int64_t skew = 0;

	if (!s->have_ssrc) {
		seq_restart(s, ssrc, seq, ts, arrival);
		return true;
	}
	if (ssrc != s->ssrc) {
		/* Follow a new SSRC at its second consecutive packet: one
		 * packet lost, not a second (ortp alone waits for 50), and a
		 * single stray packet cannot flush the buffer. */
		if (s->have_cand && s->cand_ssrc == ssrc &&
		    (uint16_t)(seq - s->cand_seq) < MAX_DROPOUT) {
			GW_INFO("rtp %u: SSRC %08x -> %08x", s->port,
				s->ssrc, ssrc);
			seq_restart(s, ssrc, seq, ts, arrival);
			s->st.ssrc_changes++;
			return true;
		}
		s->have_cand = true;
		s->cand_ssrc = ssrc;
		s->cand_seq = seq;
		s->st.bad_ssrc++;
		return false;
	}
	s->have_cand = false;
	udelta = (uint16_t)(seq - s->max_seq);
	if (udelta == 0 || udelta > 65535 - MAX_MISORDER) {
		unsigned back = (uint16_t)(s->max_seq - seq);

		if (back < 128 && seen_mark(s->seen, back)) {
			s->st.discarded++;	/* a duplicate */
			return false;
		}
		return true;	/* late: ortp plays or drops it */
	}
	if (check_ts)
		skew = (int64_t)(int32_t)(ts - s->last_ts) -
			(arrival - s->last_arrival);
	if (udelta < MAX_DROPOUT && llabs(skew) <= (int64_t)s->clock) {
		/* The peer's packet duration, from back-to-back packets
		 * (a marker may follow silence). */
		if (udelta == 1 && check_ts && !marker &&
		    ts - s->last_ts > 0 && ts - s->last_ts <= s->clock / 5)
			s->rx_dur = ts - s->last_ts;
		if (seq < s->max_seq)
			s->cycles += 65536;
		s->max_seq = seq;
		seen_advance(s->seen, udelta);
		s->probe = false;
		if (check_ts) {
			s->last_ts = ts;
			s->last_arrival = arrival;
		}
		return true;
	}
	/* A jump of the sequence, or of the timestamp against the time
	 * that passed (a restarted sender; ortp would hold or drop all that
	 * follows).  Accept it when the next packet confirms it. */
	if (s->probe && seq == s->probe_seq &&
	    (uint32_t)(ts - s->probe_ts) <= s->clock) {
		GW_INFO("rtp %u: sequence restart at %u", s->port, seq);
		seq_restart(s, ssrc, seq, ts, arrival);
		return true;
	}
	s->probe = true;
	s->probe_seq = seq + 1;
	s->probe_ts = ts;
	s->st.jumps++;
	return false;
}

/* Interarrival jitter, RFC 3550 A.8, on audio packets. */
static void jitter_update(struct media_stream *s, uint32_t ts, int64_t arr)
{
	int64_t transit = arr - (int64_t)ts, d;

	if (!s->jitter_init) {
		s->jitter_init = true;
		s->prev_transit = transit;
		return;
	}
	d = transit - s->prev_transit;
	s->prev_transit = transit;
	if (d < 0)
		d = -d;
	if (d > (int64_t)s->clock)	/* a talkspurt after silence */
		return;
	s->jitter += ((double)d - s->jitter) / 16.0;
}

static void ev_push(struct media_stream *s, char digit, bool end,
		    uint32_t units)
{
	struct rx_event *e;

	if (s->nevq == EVQ_MAX)
		return;
	e = &s->evq[s->nevq++];
	e->digit = digit;
	e->end = end;
	e->ms = (unsigned)((uint64_t)units * 1000 / s->clock);
	if (end)
		s->st.events_rx++;
}

static void tev_end(struct media_stream *s)
{
	if (!s->tev.active)
		return;
	ev_push(s, dtmf_chars[s->tev.code], true, s->tev.acc + s->tev.dur);
	s->tev.active = false;
	s->tev.have_ended = true;
	s->tev.ended_ts = s->tev.ts;
}

/* RFC 4733 2.5.2: an event is known by its timestamp.  Updates grow its
 * duration; the E bit ends it and its repeats change nothing; a newer
 * timestamp starts another (ending one whose end was lost); a long event
 * goes on in segments, each stamped with the previous one's timestamp
 * plus its duration (2.5.1.3).  DTMF only (0-15); of several blocks in
 * one packet, the first. */
static void tev_input(struct media_stream *s, const uint8_t *p, uint32_t ts)
{
	uint8_t code = p[0];
	bool end = p[1] & 0x80;
	uint32_t dur = be16(p + 2);

	if (code > 15)
		return;
	s->tev.idle = 0;
	if (s->tev.active && code == s->tev.code) {
		if (ts == s->tev.ts) {
			if (dur > s->tev.dur)
				s->tev.dur = dur;
			if (end)
				tev_end(s);
			return;
		}
		if (ts == s->tev.ts + s->tev.dur) {
			s->tev.acc += s->tev.dur;
			s->tev.ts = ts;
			s->tev.dur = dur;
			if (end)
				tev_end(s);
			return;
		}
	}
	if (s->tev.active) {
		if (!RTP_TIMESTAMP_IS_STRICTLY_NEWER_THAN(ts, s->tev.ts))
			return;		/* a late packet of an older event */
		tev_end(s);
	} else if (s->tev.have_ended &&
		   !RTP_TIMESTAMP_IS_STRICTLY_NEWER_THAN(ts, s->tev.ended_ts)) {
		return;			/* the end again, or older still */
	}
	s->tev.active = true;
	s->tev.code = code;
	s->tev.ts = ts;
	s->tev.dur = dur;
	s->tev.acc = 0;
	ev_push(s, dtmf_chars[code], false, dur);
	if (end)
		tev_end(s);
}

static bool wants_rx(const struct media_stream *s)
{
	return s->dir == MEDIA_DIR_SENDRECV || s->dir == MEDIA_DIR_RECVONLY;
}

static bool wants_tx(const struct media_stream *s)
{
	return s->dir == MEDIA_DIR_SENDRECV || s->dir == MEDIA_DIR_SENDONLY;
}

/* One datagram from the RTP socket: its new length for ortp (padding
 * and header extension removed, SRTP undone), or 0 to drop it. */
static size_t rtp_gate(struct media_stream *s, uint8_t *p, size_t n,
		       const struct sockaddr_storage *src, socklen_t srclen)
{
	size_t hlen, xlen;
	uint8_t pt;
	uint16_t seq;
	uint32_t ts, ssrc;
	int64_t arrival;
	bool tev;

	if (s->latched_len && !addr_same(src, &s->latched)) {
		s->st.strangers++;
		GW_LOG_LIMITED(GW_LOG_INFO, "rtp %u: dropping packets from a "
			       "source other than the latched one", s->port);
		return 0;
	}
	if (n < RTP_HDR) {
		s->st.truncated++;
		return 0;
	}
	if (p[0] >> 6 != 2) {
		s->st.malformed++;
		return 0;
	}
	hlen = RTP_HDR + 4u * (p[0] & 0x0f);
	if (hlen > n) {
		s->st.truncated++;
		return 0;
	}
	pt = p[1] & 0x7f;
	tev = s->te_pt && pt == s->te_pt;
	if (pt != s->pt && !tev && !(s->cn && pt == PT_CN)) {
		s->st.bad_pt++;
		return 0;
	}
	if (s->srtp_rx) {
		int len = (int)n;
		srtp_err_status_t e = srtp_unprotect(s->srtp_rx, p, &len);

		if (e == srtp_err_status_replay_fail ||
		    e == srtp_err_status_replay_old) {
			s->st.discarded++;
			return 0;
		}
		if (e != srtp_err_status_ok) {
			s->st.srtp_fail++;
			GW_LOG_LIMITED(GW_LOG_WARN, "rtp %u: SRTP check failed "
				       "(%d)", s->port, (int)e);
			return 0;
		}
		n = (size_t)len;
	}
	if (p[0] & 0x10) {		/* header extension (RFC 3550 5.3.1) */
		if (hlen + 4 > n) {
			s->st.truncated++;
			return 0;
		}
		xlen = 4u + 4u * be16(p + hlen + 2);
		if (hlen + xlen > n) {
			s->st.truncated++;
			return 0;
		}
		memmove(p + hlen, p + hlen + xlen, n - hlen - xlen);
		n -= xlen;
		p[0] &= (uint8_t)~0x10;
	}
	if (p[0] & 0x20) {		/* padding; its count ends it */
		uint8_t pad = p[n - 1];

		if (n == hlen || pad == 0 || pad > n - hlen) {
			s->st.truncated++;
			return 0;
		}
		n -= pad;
		p[0] &= (uint8_t)~0x20;
	}
	if (tev && n != hlen && n - hlen < 4) {
		s->st.truncated++;
		return 0;
	}
	seq = be16(p + 2);
	ts = be32(p + 4);
	ssrc = be32(p + 8);
	arrival = now_units(s);
	if (!seq_check(s, ssrc, seq, ts, arrival, !tev, p[1] & 0x80))
		return 0;
	s->received++;
	if (s->symmetric && !s->latched_len) {
		char a[64];

		s->latched = *src;
		s->latched_len = srclen;
		addr_str(src, a, sizeof(a));
		GW_INFO("rtp %u: latched to %s", s->port, a);
	}
	s->rx_seen = true;
	s->st.rx_packets++;
	s->st.rx_bytes += n;
	if (n == hlen)
		return 0;	/* a keep-alive: nothing to play */
	if (tev) {
		if (wants_rx(s))
			tev_input(s, p + hlen, ts);
	} else if (pt == s->pt) {
		jitter_update(s, ts, arrival);
	}
	return n;
}

/* ---- inbound gate: RTCP ----------------------------------------------- */

/* RFC 3550 A.2: a compound packet starts with SR or RR, every packet's
 * length stays inside it and adds up to it, only the last may pad, and an
 * SR or RR holds the report blocks it announces. */
static bool rtcp_valid(const uint8_t *p, size_t n)
{
	size_t off = 0, plen;
	bool first = true;

	if (n < 8 || n % 4)
		return false;
	while (off < n) {
		const uint8_t *q = p + off;
		unsigned rc = q[0] & 0x1f;

		if (n - off < 4 || q[0] >> 6 != 2)
			return false;
		if (first && q[1] != 200 && q[1] != 201)
			return false;
		plen = 4u * (be16(q + 2) + 1u);
		if (plen > n - off)
			return false;
		if (q[0] & 0x20) {
			if (off + plen != n || !q[plen - 1] ||
			    q[plen - 1] > plen - 4)
				return false;
		}
		if ((q[1] == 200 && plen < 28 + 24u * rc) ||
		    (q[1] == 201 && plen < 8 + 24u * rc))
			return false;
		off += plen;
		first = false;
	}
	return off == n;
}

/* The middle 32 bits of an NTP time (RFC 3550 4), of *at, or of now
 * when at is NULL or zero, on the clock ortp stamps its sender reports
 * with (gettimeofday). */
static uint32_t ntp_mid(const struct timespec *at)
{
	struct timespec ts = { 0 };
	uint64_t frac;

	if (at)
		ts = *at;
	if (!ts.tv_sec)
		clock_gettime(CLOCK_REALTIME, &ts);
	frac = ((uint64_t)ts.tv_nsec << 32) / 1000000000u;
	return (uint32_t)(((uint64_t)ts.tv_sec + NTP_EPOCH) << 16) |
		(uint32_t)(frac >> 16);
}

/* Report blocks about our SSRC: the peer's loss and jitter, and the
 * round trip from LSR/DLSR (RFC 3550 6.4.1). */
static void rtcp_reports(struct media_stream *s, const uint8_t *p, size_t n)
{
	size_t off = 0;

	while (off + 4 <= n) {
		const uint8_t *q = p + off;
		size_t plen = 4u * (be16(q + 2) + 1u), boff;
		unsigned rc = q[0] & 0x1f, i;

		boff = q[1] == 200 ? 28 : q[1] == 201 ? 8 : plen;
		for (i = 0; i < rc && boff + 24 <= plen; i++, boff += 24) {
			const uint8_t *b = q + boff;
			uint32_t lsr = be32(b + 16), dlsr = be32(b + 20);
			int32_t lost;

			if (be32(b) != s->st.tx_ssrc)
				continue;
			lost = (int32_t)((uint32_t)b[5] << 24 |
					 (uint32_t)b[6] << 16 |
					 (uint32_t)b[7] << 8) >> 8;
			s->remote_fraction = b[4] / 256.0;
			s->remote_lost = lost;
			s->remote_jitter_ms = be32(b + 12) * 1000.0 / s->clock;
			if (lsr) {
				int32_t rtt = (int32_t)(ntp_mid(&s->rtcp_arrival) -
							lsr - dlsr);

				if (rtt >= 0)
					s->rtt_ms = rtt * 1000.0 / 65536.0;
			}
		}
		off += plen;
	}
}

/* The DLSR of each report block in a compound of ours that answers an SR
 * (RFC 3550 6.4.1), counted from the SR's arrival stamp up to now, its
 * sending: ortp counts from when it read the SR. */
static void rtcp_set_dlsr(const struct media_stream *s, uint8_t *p, size_t n)
{
	uint32_t dlsr;
	size_t off = 0;

	if (!s->sr_arrival.tv_sec)
		return;
	dlsr = ntp_mid(NULL) - ntp_mid(&s->sr_arrival);
	while (off + 4 <= n) {
		uint8_t *q = p + off;
		size_t plen = 4u * (be16(q + 2) + 1u), boff;
		unsigned rc = q[0] & 0x1f, i;

		if (plen > n - off)
			break;
		boff = q[1] == 200 ? 28 : q[1] == 201 ? 8 : plen;
		for (i = 0; i < rc && boff + 24 <= plen; i++, boff += 24) {
			uint8_t *b = q + boff;

			if (be32(b + 16)) {
				b[20] = (uint8_t)(dlsr >> 24);
				b[21] = (uint8_t)(dlsr >> 16);
				b[22] = (uint8_t)(dlsr >> 8);
				b[23] = (uint8_t)dlsr;
			}
		}
		off += plen;
	}
}

/* One RTCP datagram (from the RTCP socket, or the RTP one with mux): its
 * length for ortp, or 0 to drop it. */
static size_t rtcp_gate(struct media_stream *s, uint8_t *p, size_t n,
			const struct sockaddr_storage *src, socklen_t srclen)
{
	if (s->latched_len &&
	    (s->mux ? !addr_same(src, &s->latched) :
		      !addr_same_ip(src, &s->latched))) {
		s->st.strangers++;
		return 0;
	}
	if (n < 8 || p[0] >> 6 != 2) {
		s->st.rtcp_bad++;
		return 0;
	}
	if (s->srtp_rx) {
		int len = (int)n;
		srtp_err_status_t e = srtp_unprotect_rtcp(s->srtp_rx, p, &len);

		if (e == srtp_err_status_replay_fail ||
		    e == srtp_err_status_replay_old) {
			s->st.rtcp_bad++;
			return 0;
		}
		if (e != srtp_err_status_ok) {
			s->st.srtp_fail++;
			return 0;
		}
		n = (size_t)len;
	}
	if (!rtcp_valid(p, n)) {
		s->st.rtcp_bad++;
		return 0;
	}
	rtcp_reports(s, p, n);
	if (p[1] == 200) {
		s->sr_arrival = s->rtcp_arrival;
		if (!s->sr_arrival.tv_sec)
			clock_gettime(CLOCK_REALTIME, &s->sr_arrival);
	}
	if (s->symmetric && !s->mux && !s->latched_rtcp_len) {
		s->latched_rtcp = *src;
		s->latched_rtcp_len = srclen;
	}
	s->st.rtcp_rx++;
	return n;
}

/* ---- our endpoints under ortp's transports ----------------------------- */

static int set_from(struct sockaddr *from, socklen_t *fromlen,
		    const struct sockaddr_storage *src, socklen_t srclen)
{
	if (from && fromlen) {
		if (*fromlen > srclen)
			*fromlen = srclen;
		memcpy(from, src, *fromlen);
	}
	return 0;
}

/* Read one RTCP datagram, with its arrival stamp, when the socket is due
 * a read this tick; -1 with errno EAGAIN when none (or the tick's budget
 * is spent), so that ortp stops reading quietly. */
static ssize_t sock_read(struct media_stream *s, int fd, uint8_t *buf,
			 size_t cap, struct sockaddr_storage *src,
			 socklen_t *srclen, bool *truncp)
{
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(struct timespec))];
	} ctl;
	struct cmsghdr *cm;
	struct msghdr mh;
	ssize_t n;

	if (!s->rtcp_poll || !s->budget || fd < 0) {
		errno = EAGAIN;
		return -1;
	}
	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_name = src;
		mh.msg_namelen = sizeof(*src);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n >= 0 || errno != EINTR)
			break;
	}
	if (n < 0) {
		s->rtcp_poll = false;	/* empty: until the next period */
		errno = EAGAIN;	/* ICMP errors and the like: not ortp's */
		return -1;
	}
	s->budget--;
	s->rtcp_arrival.tv_sec = 0;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_TIMESTAMPNS)
			memcpy(&s->rtcp_arrival, CMSG_DATA(cm),
			       sizeof(s->rtcp_arrival));
	*srclen = mh.msg_namelen;
	*truncp = mh.msg_flags & MSG_TRUNC;
	return n;
}

/* Read one RTP datagram (see the top of the file): from the last batch
 * while it lasts, else one recvmmsg for a new batch, its first into buf,
 * unless the socket was found empty this tick.  -1 with errno EAGAIN
 * when none (or the tick's budget is spent). */
static ssize_t rtp_read(struct media_stream *s, uint8_t *buf, size_t cap,
			struct sockaddr_storage *src, socklen_t *srclen,
			bool *truncp)
{
	struct mmsghdr mm[RQ_MAX];
	struct iovec iov[RQ_MAX];
	unsigned i, vlen;
	int k;

	while (s->rq_head < s->rq_end) {
		struct rq_slot *q = &s->rq[s->rq_head++];

		if (!q->full)
			continue;
		*src = q->from;
		*srclen = q->fromlen;
		*truncp = q->trunc || q->len > cap;
		if (!*truncp)
			memcpy(buf, q->buf, q->len);
		return (ssize_t)q->len;
	}
	if (s->rtp_drained || !s->budget || s->fd < 0) {
		errno = EAGAIN;
		return -1;
	}
	vlen = s->budget < RQ_MAX ? s->budget : RQ_MAX;
	memset(mm, 0, vlen * sizeof(mm[0]));
	for (i = 0; i < vlen; i++) {
		iov[i].iov_base = i ? s->rq[i - 1].buf : buf;
		iov[i].iov_len = i ? sizeof(s->rq[i - 1].buf) : cap;
		mm[i].msg_hdr.msg_name = i ? &s->rq[i - 1].from : src;
		mm[i].msg_hdr.msg_namelen = sizeof(*src);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	do {
		k = recvmmsg(s->fd, mm, vlen, MSG_DONTWAIT, NULL);
	} while (k < 0 && errno == EINTR);
	if (k <= 0) {
		s->rtp_drained = true;
		errno = EAGAIN;	/* ICMP errors and the like: not ortp's */
		return -1;
	}
	/* Fewer than asked: the socket was empty. */
	if ((unsigned)k < vlen)
		s->rtp_drained = true;
	s->budget -= (unsigned)k;
	for (i = 1; i < (unsigned)k; i++) {
		struct rq_slot *q = &s->rq[i - 1];

		q->full = true;
		q->len = mm[i].msg_len;
		q->trunc = mm[i].msg_hdr.msg_flags & MSG_TRUNC;
		q->fromlen = mm[i].msg_hdr.msg_namelen;
	}
	s->rq_head = 0;
	s->rq_end = (unsigned)k - 1;
	*srclen = mm[0].msg_hdr.msg_namelen;
	*truncp = mm[0].msg_hdr.msg_flags & MSG_TRUNC;
	return mm[0].msg_len;
}

/* Packets a tick brings at the peer's ptime: the recvm calls a tick
 * makes (several when the peer's packets are shorter than a tick). */
static unsigned rx_steps(const struct media_stream *s)
{
	return s->rx_dur && s->rx_dur < s->tick_units ?
		s->tick_units / s->rx_dur : 1;
}

/* The batch read this socket (see media/batch.c): a receive into the
 * slot, or -EAGAIN when it had nothing more. */
static void rq_done(struct media_batch_op *op, int res)
{
	struct rq_slot *q = (struct rq_slot *)((char *)op -
					       offsetof(struct rq_slot, op));

	q->full = res >= 0;
	q->len = res >= 0 ? (size_t)res : 0;
	q->trunc = op->mh.msg_flags & MSG_TRUNC;
	q->fromlen = op->mh.msg_namelen;
}

/* The batch is reading: post this tick's receives unless they are posted
 * already, or what was read last is still unread.  One more than the
 * packets a tick brings at the peer's ptime, so that an empty last one
 * tells the socket is drained; all of them full sends media_stream_rx
 * to the socket itself for the rest, and the next read posts RQ_MAX (a
 * peer that sends in bursts costs a few empty receives, not a system
 * call a tick). */
static void rd_post(struct media_batch_reader *rd, uint64_t now)
{
	struct media_stream *s = (struct media_stream *)
		((char *)rd - offsetof(struct media_stream, rd));
	unsigned i, n;

	if (s->fd < 0 || s->rq_head < s->rq_end ||
	    (s->rd_ns && now - s->rd_ns < RD_FRESH_NS))
		return;
	n = rx_steps(s) + 1;
	if (n > RQ_MAX || s->rd_burst)
		n = RQ_MAX;
	for (i = 0; i < n; i++) {
		struct rq_slot *q = &s->rq[i];

		q->full = false;
		q->op.iov.iov_base = q->buf;
		q->op.iov.iov_len = sizeof(q->buf);
		q->op.mh.msg_name = &q->from;
		q->op.mh.msg_namelen = sizeof(q->from);
		q->op.mh.msg_control = NULL;
		q->op.mh.msg_controllen = 0;
		q->op.mh.msg_flags = 0;
		if (media_batch_recv(s->batch, s->fd, &q->op))
			break;
	}
	s->rq_head = 0;
	s->rq_end = i;
	s->rd_ns = i ? now : 0;
}

/* Before this tick's reads: the batch's, when it has this socket.  What
 * was read ahead in this tick (by another stream's batch read) is this
 * tick's; otherwise this stream's read makes the batch read every due
 * stream.  The socket counts as drained unless every receive came back
 * full, or what is left unread is from an older read. */
static void rx_batch(struct media_stream *s)
{
	struct timespec ts;
	uint64_t now;
	unsigned i;
	bool fresh;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	fresh = s->rd_ns && now - s->rd_ns < RD_FRESH_NS;
	if (!fresh && s->rq_head == s->rq_end) {
		media_batch_read(s->batch, now);
		fresh = s->rd_ns != 0;
	}
	s->rtp_drained = false;
	if (fresh)
		for (i = s->rq_head; i < s->rq_end; i++)
			if (!s->rq[i].full)
				s->rtp_drained = true;
	s->rd_burst = fresh && !s->rtp_drained;
	s->rd_ns = 0;
}

static ortp_socket_t ep_rtp_getsocket(RtpTransport *t)
{
	return ((struct media_stream *)t->data)->fd;
}

/*
 * ortp takes each receive buffer from its session's allocator, which
 * hands out the first free block of a list kept in the order the blocks
 * were made; a block stays busy while the jitter buffer holds its packet.
 * Left so, the list fills with busy blocks at its head and every packet
 * walks past the jitter buffer's worth of them (two cold cache lines
 * each, with hundreds of streams a tick).  Moving a block to the tail as
 * it is filled keeps the list in the order of filling, which is the order
 * the jitter buffer frees them in: the head is free, and one block is
 * looked at per packet.
 */
static void rx_block_to_tail(RtpSession *rtp, const mblk_t *m)
{
	queue_t *q = &rtp->rtp.gs.allocator.q;
	mblk_t *b;

	for (b = qbegin(q); !qend(q, b); b = qnext(q, b)) {
		if (b->b_datap == m->b_datap) {
			if (!qend(q, qnext(q, b))) {
				remq(q, b);
				putq(q, b);
			}
			return;
		}
	}
}

static int ep_rtp_recvfrom(RtpTransport *t, mblk_t *m, int flags,
			   struct sockaddr *from, socklen_t *fromlen)
{
	struct media_stream *s = t->data;
	uint8_t *p = m->b_wptr;
	size_t cap = (size_t)(dblk_lim(m->b_datap) - m->b_wptr), len;
	struct sockaddr_storage src;
	socklen_t srclen;
	bool trunc;
	ssize_t n;

	(void)flags;
	while ((n = rtp_read(s, p, cap, &src, &srclen, &trunc)) >= 0) {
		if (trunc) {
			s->st.truncated++;
			continue;
		}
		/* RFC 5761 4: RTCP packet types 192-223 are RTP's PT 64-95
		 * with the marker set, which nobody may use with mux. */
		if (s->mux && n >= 2 && p[1] >= 192 && p[1] <= 223) {
			len = rtcp_gate(s, p, (size_t)n, &src, srclen);
			if (len && s->nstash < STASH_MAX) {
				struct stash *st = &s->stash[s->nstash++];

				memcpy(st->buf, p, len);
				st->len = len;
				st->from = src;
				st->fromlen = srclen;
			}
			continue;
		}
		len = rtp_gate(s, p, (size_t)n, &src, srclen);
		if (len) {
			set_from(from, fromlen, &src, srclen);
			rx_block_to_tail(s->rtp, m);
			return (int)len;
		}
	}
	return -1;
}

static ortp_socket_t ep_rtcp_getsocket(RtpTransport *t)
{
	struct media_stream *s = t->data;

	return s->mux ? s->fd : s->rtcp_fd;
}

static int ep_rtcp_recvfrom(RtpTransport *t, mblk_t *m, int flags,
			    struct sockaddr *from, socklen_t *fromlen)
{
	struct media_stream *s = t->data;
	uint8_t *p = m->b_wptr;
	size_t cap = (size_t)(dblk_lim(m->b_datap) - m->b_wptr), len;
	struct sockaddr_storage src;
	socklen_t srclen;
	bool trunc;
	ssize_t n;

	(void)flags;
	if (s->mux) {
		s->rtcp_arrival.tv_sec = 0;	/* read this tick: now */
		while (s->nstash) {
			struct stash *st = &s->stash[0];

			len = st->len;
			if (len <= cap) {
				memcpy(p, st->buf, len);
				set_from(from, fromlen, &st->from,
					 st->fromlen);
			}
			memmove(&s->stash[0], &s->stash[1],
				--s->nstash * sizeof(s->stash[0]));
			if (len <= cap)
				return (int)len;
		}
		errno = EAGAIN;
		return -1;
	}
	while ((n = sock_read(s, s->rtcp_fd, p, cap, &src, &srclen,
			      &trunc)) >= 0) {
		if (trunc) {
			s->st.rtcp_bad++;
			continue;
		}
		len = rtcp_gate(s, p, (size_t)n, &src, srclen);
		if (len) {
			set_from(from, fromlen, &src, srclen);
			return (int)len;
		}
	}
	return -1;
}

/* ortp hands a packet as a chain of blocks (RTCP compounds are); buf
 * holds TX_MAX and SRTP's trailer. */
static size_t flatten(uint8_t *buf, mblk_t *m)
{
	size_t n = 0, k;

	for (; m; m = m->b_cont) {
		k = (size_t)(m->b_wptr - m->b_rptr);
		if (k > TX_MAX - n)
			return 0;
		memcpy(buf + n, m->b_rptr, k);
		n += k;
	}
	return n;
}

static const struct sockaddr_storage *rtp_dest(const struct media_stream *s,
					       socklen_t *lenp)
{
	if (s->latched_len) {
		*lenp = s->latched_len;
		return &s->latched;
	}
	*lenp = s->remote_len;
	return s->remote_len ? &s->remote : NULL;
}

static void tx_done(struct media_batch_op *op, int res)
{
	struct tx_slot *q = (struct tx_slot *)((char *)op -
					       offsetof(struct tx_slot, op));

	if (res < 0) {
		q->s->st.tx_errors++;
		return;
	}
	q->s->st.tx_packets++;
	q->s->st.tx_bytes += q->len;
}

/* A free send slot; when all are queued, the batch goes out first, in
 * order with what this stream queued before. */
static struct tx_slot *tx_slot(struct media_stream *s)
{
	unsigned i, pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < TXQ_MAX; i++)
			if (!s->txq[i].op.busy)
				return &s->txq[i];
		media_batch_flush(s->batch);
	}
	return NULL;
}

static int ep_rtp_sendto(RtpTransport *t, mblk_t *m, int flags,
			 const struct sockaddr *to, socklen_t tolen)
{
	struct media_stream *s = t->data;
	const struct sockaddr_storage *dst;
	struct tx_slot *q = NULL;
	uint8_t *buf = s->txbuf;
	socklen_t dlen;
	size_t n;
	int len;

	(void)flags;
	(void)to;
	(void)tolen;
	dst = rtp_dest(s, &dlen);
	if (s->batch && dst && !(q = tx_slot(s))) {
		s->st.tx_errors++;
		errno = ENOBUFS;
		return -1;
	}
	if (q)
		buf = q->buf;
	n = flatten(buf, m);
	len = (int)n;
	if (!n || (s->srtp_tx &&
		   srtp_protect(s->srtp_tx, buf, &len) !=
		   srtp_err_status_ok)) {
		s->st.tx_errors++;
		errno = EINVAL;
		return -1;
	}
	if (!dst)
		return (int)n;		/* nowhere to send yet */
	if (q) {
		memcpy(&q->to, dst, dlen);
		q->len = n;
		q->op.mh.msg_name = &q->to;
		q->op.mh.msg_namelen = dlen;
		q->op.iov.iov_base = q->buf;
		q->op.iov.iov_len = (size_t)len;
		if (media_batch_send(s->batch, s->fd, &q->op)) {
			s->st.tx_errors++;
			return -1;
		}
		return (int)n;		/* counted when it has gone */
	}
	if (sendto(s->fd, s->txbuf, (size_t)len, 0,
		   (const struct sockaddr *)dst, dlen) < 0) {
		s->st.tx_errors++;
		return -1;
	}
	s->st.tx_packets++;
	s->st.tx_bytes += n;
	return (int)n;
}

static int ep_rtcp_sendto(RtpTransport *t, mblk_t *m, int flags,
			  const struct sockaddr *to, socklen_t tolen)
{
	struct media_stream *s = t->data;
	struct sockaddr_storage dst;
	socklen_t dlen;
	size_t n = flatten(s->txbuf, m);
	int len = (int)n, fd = s->rtcp_fd;

	(void)flags;
	(void)to;
	(void)tolen;
	rtcp_set_dlsr(s, s->txbuf, n);
	if (!n || (s->srtp_tx &&
		   srtp_protect_rtcp(s->srtp_tx, s->txbuf, &len) !=
		   srtp_err_status_ok)) {
		s->st.tx_errors++;
		errno = EINVAL;
		return -1;
	}
	if (s->mux) {
		const struct sockaddr_storage *d = rtp_dest(s, &dlen);

		if (!d)
			return (int)n;
		dst = *d;
		fd = s->fd;
	} else if (s->latched_rtcp_len) {
		dst = s->latched_rtcp;
		dlen = s->latched_rtcp_len;
	} else if (s->remote_rtcp_len) {
		dst = s->remote_rtcp;
		dlen = s->remote_rtcp_len;
		if (s->latched_len) {	/* behind NAT: its IP, our guess */
			uint16_t port = ntohs(dst.ss_family == AF_INET ?
				((struct sockaddr_in *)&dst)->sin_port :
				((struct sockaddr_in6 *)&dst)->sin6_port);

			dst = s->latched;
			addr_set_port(&dst, port);
		}
	} else {
		return (int)n;
	}
	if (sendto(fd, s->txbuf, (size_t)len, 0, (struct sockaddr *)&dst,
		   dlen) < 0) {
		s->st.tx_errors++;
		return -1;
	}
	s->st.rtcp_tx++;
	return (int)n;
}

/* The sockets are the stream's: it closes them in its destructor. */
static void ep_close(RtpTransport *t)
{
	(void)t;
}

static void ep_destroy(RtpTransport *t)
{
	free(t);
}

static RtpTransport *ep_new(struct media_stream *s, bool rtcp)
{
	RtpTransport *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->data = s;
	t->t_getsocket = rtcp ? ep_rtcp_getsocket : ep_rtp_getsocket;
	t->t_sendto = rtcp ? ep_rtcp_sendto : ep_rtp_sendto;
	t->t_recvfrom = rtcp ? ep_rtcp_recvfrom : ep_rtp_recvfrom;
	t->t_close = ep_close;
	t->t_destroy = ep_destroy;
	return t;
}

/* ---- the stream -------------------------------------------------------- */

/* The batch gives up this stream's slots: what it queued goes out. */
static void batch_leave(struct media_stream *s)
{
	unsigned i;

	if (!s->batch)
		return;
	media_batch_leave(&s->rd);
	for (i = 0; i < TXQ_MAX; i++)
		media_batch_wait(s->batch, &s->txq[i].op);
	for (i = 0; i < RQ_MAX; i++)
		media_batch_wait(s->batch, &s->rq[i].op);
	s->batch = gw_mem_deref(s->batch);
}

static void batch_join(struct media_stream *s)
{
	struct media_batch *b = media_batch_self();
	unsigned i;

	if (!b)
		return;
	s->batch = gw_mem_ref(b);
	s->rd.post = rd_post;
	media_batch_join(b, &s->rd);
	for (i = 0; i < RQ_MAX; i++)
		s->rq[i].op.done = rq_done;
	for (i = 0; i < TXQ_MAX; i++) {
		s->txq[i].op.done = tx_done;
		s->txq[i].s = s;
	}
}

static void destructor(void *arg)
{
	struct media_stream *s = arg;

	batch_leave(s);

	if (s->rtp) {
		if (s->st.tx_packets || s->st.rx_packets)
			rtp_session_bye(s->rtp, "bye");
		/* Destroys ortp's transports and our endpoints with them. */
		rtp_session_destroy(s->rtp);
	}
	if (s->prof)
		rtp_profile_destroy(s->prof);
	srtp_free(s);
	if (s->fd >= 0)
		close(s->fd);
	if (s->rtcp_fd >= 0)
		close(s->rtcp_fd);
}

static int profile_add(RtpProfile *prof, int pt, const PayloadType *base,
		       unsigned clock)
{
	PayloadType *p = payload_type_clone(base);

	if (!p)
		return ENOMEM;
	p->clock_rate = (int)clock;
	rtp_profile_set_payload(prof, pt, p);	/* the profile frees it */
	return 0;
}

static int conf_check(const struct media_stream_conf *c)
{
	if (!c || (!c->local_ip && !c->socks) || c->pt > 127 ||
	    c->te_pt > 127)
		return EINVAL;
	if (c->te_pt && c->te_pt == c->pt)
		return EINVAL;
	if (c->cn && (c->pt == PT_CN || c->te_pt == PT_CN))
		return EINVAL;
	/* RFC 5761 4: with mux, PT 64-95 would read as RTCP. */
	if (c->rtcp_mux && ((c->pt >= 64 && c->pt <= 95) ||
			    (c->te_pt >= 64 && c->te_pt <= 95)))
		return EINVAL;
	if (c->dir > MEDIA_DIR_INACTIVE)
		return EINVAL;
	return 0;
}

static int session_setup(struct media_stream *s,
			 const struct media_stream_conf *c)
{
	RtpTransport *rtptr = NULL, *rtcptr = NULL, *ep;
	JBParameters jb;
	char cname[32];
	int err;

	s->prof = rtp_profile_new("junction");
	if (!s->prof)
		return ENOMEM;
	/* One profile per stream: ortp's av_profile is global and has no
	 * telephone-event.  Payloads are cloned for their clock rate. */
	err = profile_add(s->prof, c->pt, &payload_type_pcma8000, s->clock);
	if (!err && c->te_pt)
		err = profile_add(s->prof, c->te_pt,
				  &payload_type_telephone_event, s->clock);
	if (!err && c->cn)
		err = profile_add(s->prof, PT_CN, &payload_type_cn, 8000);
	if (err)
		return err;

	s->rtp = rtp_session_new(RTP_SESSION_SENDRECV);
	if (!s->rtp)
		return ENOMEM;
	rtp_session_set_scheduling_mode(s->rtp, 0);
	rtp_session_set_blocking_mode(s->rtp, 0);
	rtp_session_set_reuseaddr(s->rtp, FALSE);
	rtp_session_set_symmetric_rtp(s->rtp, FALSE);
	/* Our gate decides when the SSRC changes; ortp just follows. */
	rtp_session_set_ssrc_changed_threshold(s->rtp, 0);
	rtp_session_set_profile(s->rtp, s->prof);
	rtp_session_set_payload_type(s->rtp, c->pt);
	if (c->te_pt)
		rtp_session_set_send_telephone_event_payload_type(s->rtp,
								  c->te_pt);
	rtp_session_set_recv_buf_size(s->rtp, RTP_BUF);
	rtp_session_set_rtcp_report_interval(s->rtp, c->rtcp_interval_ms ?
					     (int)c->rtcp_interval_ms : 5000);
	rtp_session_set_seq_number(s->rtp, (uint16_t)rand32());
	snprintf(cname, sizeof(cname), "jn%08x%08x", rand32(), rand32());
	rtp_session_set_source_description(s->rtp, cname, NULL, NULL, NULL,
					   NULL, "junction", NULL);

	rtp_session_get_jitter_buffer_params(s->rtp, &jb);
	jb.enabled = TRUE;
	jb.adaptive = c->jb_adaptive;
	jb.nom_size = c->jb_nominal_ms ? (int)c->jb_nominal_ms : 60;
	jb.min_size = MEDIA_TICK_MS;
	jb.max_size = c->jb_max_ms ? (int)c->jb_max_ms : 200;
	if (jb.max_size < jb.nom_size)
		jb.max_size = jb.nom_size;
	jb.max_packets = 100;
	rtp_session_set_jitter_buffer_params(s->rtp, &jb);

	/* ortp 5.1 gives every session two meta transports; ours go under
	 * them as their endpoints, and ortp destroys them with the session. */
	rtp_session_get_transports(s->rtp, &rtptr, &rtcptr);
	if (!rtptr || !rtcptr) {
		GW_ERR("ortp session without meta transports");
		return ENOTSUP;
	}
	ep = ep_new(s, false);
	if (!ep)
		return ENOMEM;
	meta_rtp_transport_set_endpoint(rtptr, ep);
	ep = ep_new(s, true);
	if (!ep)
		return ENOMEM;
	meta_rtp_transport_set_endpoint(rtcptr, ep);
	s->st.tx_ssrc = rtp_session_get_send_ssrc(s->rtp);
	return 0;
}

/**
 * Open an RTP stream: take over conf->socks (pre-bound by
 * media_rtp_socks_bind; taken over on success and on failure alike, the
 * stream or this function closes them), or else bind its sockets from
 * conf's port range (EADDRINUSE when every pair is taken; ports in use by
 * others are skipped, never shared), build its ortp session and, if conf
 * carries keys, its SRTP.  Sockets bound for rtcp-mux with a conf without
 * it are EINVAL; a pair with an rtcp-mux conf gives its RTCP port back.
 * Handlers: dtmfh for RFC 4733 digits received (start, then end with the
 * duration), timeouth once per RTP silence while sendrecv; either may be
 * NULL.  The stream belongs to the calling thread.
 */
int media_stream_alloc(struct media_stream **sp,
		       const struct media_stream_conf *conf,
		       media_dtmf_h *dtmfh, media_stream_timeout_h *timeouth,
		       void *arg)
{
	struct media_rtp_socks socks = { .fd = -1, .rtcp_fd = -1 };
	struct media_stream *s;
	int err;

	/* Pre-bound sockets are ours from here, whatever happens. */
	if (conf && conf->socks) {
		socks = *conf->socks;
		conf->socks->fd = conf->socks->rtcp_fd = -1;
	}
	if (!sp) {
		err = EINVAL;
		goto fail;
	}
	err = conf_check(conf);
	if (err)
		goto fail;
	pthread_once(&lib_once, lib_init);
	err = lib_err;
	if (err)
		goto fail;
	s = gw_mem_zalloc(sizeof(*s), destructor);
	if (!s) {
		err = ENOMEM;
		goto fail;
	}
	s->fd = s->rtcp_fd = -1;
	s->mux = conf->rtcp_mux;
	s->symmetric = conf->symmetric;
	s->cn = conf->cn;
	s->pt = conf->pt;
	s->te_pt = conf->te_pt;
	s->dir = conf->dir;
	s->clock = conf->clock ? conf->clock : MEDIA_RATE;
	s->tick_units = s->clock * MEDIA_TICK_MS / 1000;
	s->rx_dur = s->clock * (conf->ptime ? conf->ptime : 20) / 1000;
	s->timeout_ticks = (conf->rtp_timeout_ms + MEDIA_TICK_MS - 1) /
		MEDIA_TICK_MS;
	s->tx_ts = rand32();
	s->tx_marker = true;
	s->rtt_ms = -1;
	s->dtmfh = dtmfh;
	s->timeouth = timeouth;
	s->arg = arg;
	if (!s->tick_units) {
		err = EINVAL;
		goto out;
	}
	s->rtcp_period = (conf->rtcp_interval_ms ? conf->rtcp_interval_ms :
			  5000) / 5;
	if (s->rtcp_period < RTCP_POLL_MIN)
		s->rtcp_period = RTCP_POLL_MIN;
	if (s->rtcp_period > RTCP_POLL_MAX)
		s->rtcp_period = RTCP_POLL_MAX;
	s->rtcp_period /= MEDIA_TICK_MS;
	if (conf->socks) {
		err = socks_take(s, &socks);	/* the destructor closes */
	} else {
		err = media_rtp_socks_bind(&socks, conf->local_ip,
					   conf->port_min, conf->port_max,
					   conf->rtcp_mux);
		if (!err)
			err = socks_take(s, &socks);
	}
	if (err)
		goto out;
	s->rtcp_wait = (s->port / 2u) % s->rtcp_period;
	batch_join(s);
	err = session_setup(s, conf);
	if (err)
		goto out;
	err = media_stream_set_srtp(s, &conf->srtp_tx, &conf->srtp_rx);
	if (err)
		goto out;
	if (conf->remote_ip)
		err = media_stream_set_remote(s, conf->remote_ip,
					      conf->remote_port,
					      conf->remote_rtcp_port);
 out:
	if (err)
		gw_mem_deref(s);
	else
		*sp = s;
	return err;
 fail:
	media_rtp_socks_close(&socks);
	return err;
}

/** The local RTP port, for the SDP. */
uint16_t media_stream_port(const struct media_stream *s)
{
	return s ? s->port : 0;
}

/** The local RTCP port (the RTP port with rtcp-mux). */
uint16_t media_stream_rtcp_port(const struct media_stream *s)
{
	return s ? s->rtcp_port : 0;
}

/**
 * The RTP socket.  For readiness only, edge-triggered if at all: the
 * stream reads it from media_stream_rx, and ortp leaves it readable.
 */
int media_stream_fd(const struct media_stream *s)
{
	return s ? s->fd : -1;
}

/** The RTCP socket, or -1 with rtcp-mux. */
int media_stream_rtcp_fd(const struct media_stream *s)
{
	return s ? s->rtcp_fd : -1;
}

/**
 * Set where RTP and RTCP go (an offer's or answer's c= and m=), as IP
 * literals in the stream's family: no resolver runs on the media path.
 * rtcp_port 0 means port + 1 (RFC 3605 absent), or port with rtcp-mux.
 * Forgets any latched source: the next valid packet latches again.
 */
int media_stream_set_remote(struct media_stream *s, const char *ip,
			    uint16_t port, uint16_t rtcp_port)
{
	struct sockaddr_storage a, b;
	socklen_t alen, blen;
	int err;

	if (!s || !port)
		return EINVAL;
	err = addr_parse(ip, port, &a, &alen);
	if (err)
		return err;
	if (a.ss_family != s->family)
		return EAFNOSUPPORT;
	if (!rtcp_port)
		rtcp_port = s->mux ? port : (uint16_t)(port + 1);
	b = a;
	blen = alen;
	addr_set_port(&b, rtcp_port);
	s->remote = a;
	s->remote_len = alen;
	s->remote_rtcp = b;
	s->remote_rtcp_len = blen;
	s->latched_len = 0;
	s->latched_rtcp_len = 0;
	s->idle_ticks = 0;
	s->timeout_fired = false;
	return 0;
}

/**
 * Change direction (SDP sendrecv/sendonly/recvonly/inactive, or hold).
 * The RTP timeout only runs while sendrecv; what arrives while we do not
 * receive is read and dropped, and what the caller sends while we do not
 * send only moves the timestamps on.
 */
void media_stream_set_dir(struct media_stream *s, enum media_dir dir)
{
	if (!s || dir > MEDIA_DIR_INACTIVE)
		return;
	if (dir != s->dir) {
		s->tx_marker = true;
		s->idle_ticks = 0;
		s->timeout_fired = false;
	}
	s->dir = dir;
}

/* Append a packet ortp released from its jitter buffer to the frame. */
static int frame_add(struct media_stream *s, mblk_t *m, uint8_t *buf,
		     size_t size, struct media_stream_frame *f,
		     unsigned step)
{
	size_t hlen = RTP_HDR + 4u * rtp_get_cc(m), plen;
	uint8_t pt = (uint8_t)rtp_get_payload_type(m);
	uint32_t ts = rtp_get_timestamp(m);
	unsigned dur;

	if (m->b_cont || (size_t)(m->b_wptr - m->b_rptr) < hlen)
		return 0;
	plen = (size_t)(m->b_wptr - m->b_rptr) - hlen;
	if (pt == PT_CN && s->cn) {
		/* Silence from here: no loss until audio returns. */
		s->cn_active = true;
		s->cover = 0;
		if (f->len || plen > size)
			return 0;
		memcpy(buf, m->b_rptr + hlen, plen);
		f->len = plen;
		f->pt = pt;
		f->ts = ts;
		return 0;
	}
	dur = s->rx_dur;
	if (f->len && (f->pt != pt || f->len + plen > size))
		return 0;
	if (plen > size)
		return EMSGSIZE;
	if (!f->len) {
		f->ts = ts;
		f->pt = pt;
		f->marker = rtp_get_markbit(m);
	}
	memcpy(buf + f->len, m->b_rptr + hlen, plen);
	f->len += plen;
	f->samples += dur;
	s->playing = true;
	s->cn_active = false;
	s->cover = dur > step ? dur - step : 0;
	return 0;
}

/**
 * One tick of receive: read the sockets (RTP and RTCP; RTCP reports go
 * out from here too), and put into buf the payload the jitter buffer
 * holds for this tick (several packets' when the peer's ptime is shorter
 * than a tick).  f tells what came; f->lost asks the caller to conceal.
 * Then the handlers run: digits, and the RTP timeout.  EMSGSIZE: a
 * payload larger than size (dropped, the tick reported lost).
 */
int media_stream_rx(struct media_stream *s, uint8_t *buf, size_t size,
		    struct media_stream_frame *f)
{
	struct rx_event evq[EVQ_MAX];
	unsigned steps, step, i, nev;
	bool missing = false, fire = false, want;
	int err = 0;

	if (!s || !f || (size && !buf))
		return EINVAL;
	memset(f, 0, sizeof(*f));
	s->budget = RX_BUDGET;
	s->rx_seen = false;
	if (s->batch)
		rx_batch(s);
	else
		s->rtp_drained = false;
	if (s->rtcp_wait) {
		s->rtcp_wait--;
		s->rtcp_poll = false;
	} else {
		s->rtcp_wait = s->rtcp_period - 1;
		s->rtcp_poll = true;
	}
	want = wants_rx(s);
	steps = rx_steps(s);
	step = s->tick_units / steps;
	for (i = 0; i < steps; i++) {
		mblk_t *m;

		s->rx_user_ts += step;
		m = rtp_session_recvm_with_ts(s->rtp, s->rx_user_ts);
		if (m && want) {
			int e = frame_add(s, m, buf, size, f, step);

			if (e && !err)
				err = e;
		} else if (!m && s->cover >= step) {
			s->cover -= step;
		} else if (!m) {
			s->cover = 0;
			missing = true;
		}
		if (m)
			freemsg(m);
	}
	if (!want)
		s->playing = false;
	if (err || (want && s->playing && missing && !s->cn_active &&
		    !s->tev.active)) {
		f->lost = true;
		s->st.concealed++;
	}
	if (s->tev.active && ++s->tev.idle >= TEV_IDLE_MS / MEDIA_TICK_MS)
		tev_end(s);

	if (s->timeout_ticks && s->dir == MEDIA_DIR_SENDRECV &&
	    (s->remote_len || s->latched_len)) {
		if (s->rx_seen) {
			s->idle_ticks = 0;
			s->timeout_fired = false;
		} else if (!s->timeout_fired &&
			   ++s->idle_ticks >= s->timeout_ticks) {
			s->timeout_fired = true;
			fire = true;
			GW_INFO("rtp %u: no RTP for %u ms", s->port,
				s->timeout_ticks * MEDIA_TICK_MS);
		}
	} else {
		s->idle_ticks = 0;
	}

	nev = s->nevq;
	s->nevq = 0;
	if (!nev && !fire)
		return err;
	memcpy(evq, s->evq, nev * sizeof(evq[0]));
	/* A handler may drop the last reference to the stream. */
	gw_mem_ref(s);
	for (i = 0; i < nev && s->dtmfh && gw_mem_nrefs(s) > 1; i++)
		s->dtmfh(evq[i].digit, evq[i].end, evq[i].ms, s->arg);
	if (fire && s->timeouth && gw_mem_nrefs(s) > 1)
		s->timeouth(s->arg);
	gw_mem_deref(s);
	return err;
}

/* An RFC 4733 packet of the digit being sent (txev), through ortp: it
 * takes the next sequence number, keeps the event's timestamp. */
static int tev_send(struct media_stream *s, bool start, bool end)
{
	mblk_t *m = rtp_session_create_telephone_event_packet(s->rtp,
							       start);

	if (!m)
		return ENOMEM;
	rtp_session_add_telephone_event(s->rtp, m, s->txev.code, end,
					TEV_VOLUME, (uint16_t)s->txev.dur);
	rtp_session_sendm_with_ts(s->rtp, m, s->txev.ts);
	return 0;
}

/**
 * One tick of send: payload (len bytes) covering samples RTP clock units,
 * stamped with the stream's running timestamp.  The marker goes on the
 * first packet and on the first after a gap.  payload NULL with samples is
 * a gap (silence, muted while a digit goes out as events): nothing sent,
 * the timestamp still advances.  NULL with 0 sends nothing and moves
 * nothing.  Either way pending RFC 4733 end repeats go out here, one per
 * tick, so call it every tick.
 */
int media_stream_tx(struct media_stream *s, const uint8_t *payload,
		    size_t len, unsigned samples)
{
	mblk_t *m;

	if (!s || (payload && (!len || len > TX_MAX - RTP_HDR)))
		return EINVAL;
	if (s->txev.ends_left) {
		tev_send(s, false, true);
		s->txev.ends_left--;
	}
	if (!payload || !wants_tx(s)) {
		if (samples)
			s->tx_marker = true;
		s->tx_ts += samples;
		return 0;
	}
	m = rtp_session_create_packet(s->rtp, RTP_HDR, payload, len);
	if (!m)
		return ENOMEM;
	if (s->tx_marker)
		rtp_set_markbit(m, 1);
	s->tx_marker = false;
	/* Failures are counted in tx_errors by the endpoint. */
	rtp_session_sendm_with_ts(s->rtp, m, s->tx_ts);
	s->tx_ts += samples;
	return 0;
}

/**
 * Send an RFC 3389 comfort noise packet in place of a silent tick's
 * audio: one byte, the noise level in -dBov (section 3; no spectral
 * coefficients, which the receiver may take as white noise), stamped with
 * the running timestamp, which then advances by samples.  The audio that
 * follows starts a talkspurt and carries the marker (RFC 3551 4.1).
 * Pending RFC 4733 end repeats go out first, as from media_stream_tx.
 * ENOTSUP when comfort noise was not negotiated (conf.cn).
 */
int media_stream_tx_cn(struct media_stream *s, uint8_t level_dbov,
		       unsigned samples)
{
	uint8_t level = level_dbov & 0x7f;
	mblk_t *m;

	if (!s)
		return EINVAL;
	if (!s->cn)
		return ENOTSUP;
	if (s->txev.ends_left) {
		tev_send(s, false, true);
		s->txev.ends_left--;
	}
	s->tx_marker = true;
	if (wants_tx(s)) {
		m = rtp_session_create_packet(s->rtp, RTP_HDR, &level, 1);
		if (!m)
			return ENOMEM;
		rtp_set_payload_type(m, PT_CN);
		rtp_session_sendm_with_ts(s->rtp, m, s->tx_ts);
	}
	s->tx_ts += samples;
	return 0;
}

/**
 * Send a digit as RFC 4733 events, paced by the tick: call every tick
 * while it sounds (before media_stream_tx), with end on its last tick.
 * All packets of the digit carry the timestamp of its first tick and the
 * duration so far; the first has the marker; the end packet goes three
 * times (2.5.1.4), each with its own sequence number as every RTP packet
 * has (and as SRTP's replay check requires), the repeats on the next
 * ticks from media_stream_tx.  Events longer than 0xffff units go on in
 * segments (2.5.1.3).  A different digit before an end ends the first.
 * ENOTSUP when no telephone-event was negotiated.
 */
int media_stream_send_event(struct media_stream *s, char digit, bool end)
{
	const char *c;
	bool start = false;
	uint8_t code;
	int err;

	if (!s || !digit)
		return EINVAL;
	c = strchr(dtmf_chars, digit >= 'a' && digit <= 'd' ?
		   digit - 'a' + 'A' : digit);
	if (!c)
		return EINVAL;
	code = (uint8_t)(c - dtmf_chars);
	if (!s->te_pt)
		return ENOTSUP;
	if (!wants_tx(s))
		return 0;
	if (s->txev.active && s->txev.code != code) {
		s->txev.active = false;
		s->txev.ends_left = TEV_END_SENDS;
		s->st.events_tx++;
	}
	while (s->txev.ends_left) {	/* the last digit's repeats, now */
		tev_send(s, false, true);
		s->txev.ends_left--;
	}
	if (!s->txev.active) {
		s->txev.active = true;
		s->txev.code = code;
		s->txev.ts = s->tx_ts;
		s->txev.dur = 0;
		start = true;
	}
	if (s->txev.dur + s->tick_units > 0xffff) {
		s->txev.ts += s->txev.dur;	/* a new segment */
		s->txev.dur = 0;
	}
	s->txev.dur += s->tick_units;
	err = tev_send(s, start, end);
	if (end) {
		s->txev.active = false;
		s->txev.ends_left = TEV_END_SENDS - 1;
		s->st.events_tx++;
	}
	return err;
}

/** Counters and quality figures so far (the stream is not changed). */
void media_stream_stats(const struct media_stream *s,
			struct media_stream_stats *st)
{
	const rtp_stats_t *rs;

	if (!s || !st)
		return;
	*st = s->st;
	rs = rtp_session_get_stats(s->rtp);
	st->discarded += rs->outoftime + rs->packet_dup_recv + rs->discarded;
	st->lost = s->lost_before + cur_lost(s);
	st->jitter_ms = s->jitter * 1000.0 / s->clock;
	st->rtt_ms = s->rtt_ms;
	st->remote_fraction_lost = s->remote_fraction;
	st->remote_lost = s->remote_lost;
	st->remote_jitter_ms = s->remote_jitter_ms;
	st->rx_ssrc = s->have_ssrc ? s->ssrc : 0;
	st->latched = s->latched_len != 0;
	if (st->latched)
		addr_str(&s->latched, st->latched_addr,
			 sizeof(st->latched_addr));
}

/* ---- SDES keys (RFC 4568) ---------------------------------------------- */

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Parse an RFC 4568 crypto-suite name (case-sensitive there; not here). */
int media_srtp_suite_parse(const char *name, enum media_srtp_suite *suitep)
{
	if (!name || !suitep)
		return EINVAL;
	if (!strcasecmp(name, "AES_CM_128_HMAC_SHA1_80"))
		*suitep = MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80;
	else if (!strcasecmp(name, "AES_CM_128_HMAC_SHA1_32"))
		*suitep = MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32;
	else
		return ENOTSUP;
	return 0;
}

/** The RFC 4568 name of suite, or NULL for none. */
const char *media_srtp_suite_name(enum media_srtp_suite suite)
{
	switch (suite) {
	case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80:
		return "AES_CM_128_HMAC_SHA1_80";
	case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32:
		return "AES_CM_128_HMAC_SHA1_32";
	default:
		return NULL;
	}
}

/** A fresh random master key and salt for suite (from getrandom). */
int media_srtp_key_gen(struct media_srtp_key *k, enum media_srtp_suite suite)
{
	if (!k || !media_srtp_suite_name(suite))
		return EINVAL;
	if (getrandom(k->key, sizeof(k->key), 0) != sizeof(k->key))
		return errno ? errno : EIO;
	k->suite = suite;
	return 0;
}

/** The key-salt in base64 for "inline:" (40 characters and a NUL). */
int media_srtp_key_encode(const struct media_srtp_key *k, char *b64,
			  size_t size)
{
	size_t i, o = 0;

	if (!k || !b64)
		return EINVAL;
	if (size < MEDIA_SRTP_B64_SIZE)
		return ENOSPC;
	for (i = 0; i < MEDIA_SRTP_KEY_LEN; i += 3) {
		uint32_t v = (uint32_t)k->key[i] << 16 |
			(uint32_t)k->key[i + 1] << 8 | k->key[i + 2];

		b64[o++] = b64_chars[v >> 18 & 63];
		b64[o++] = b64_chars[v >> 12 & 63];
		b64[o++] = b64_chars[v >> 6 & 63];
		b64[o++] = b64_chars[v & 63];
	}
	b64[o] = '\0';
	return 0;
}

/**
 * Read a key-salt from an "inline:" parameter ("inline:" optional; any
 * "|lifetime|MKI" after it is ignored): exactly 30 bytes of base64.
 */
int media_srtp_key_decode(struct media_srtp_key *k,
			  enum media_srtp_suite suite, const char *b64)
{
	uint8_t out[MEDIA_SRTP_KEY_LEN + 3];
	uint32_t v = 0;
	size_t o = 0, bits = 0, pad = 0;
	const char *p;

	if (!k || !b64 || !media_srtp_suite_name(suite))
		return EINVAL;
	if (!strncasecmp(b64, "inline:", 7))
		b64 += 7;
	for (p = b64; *p && *p != '|'; p++) {
		const char *c = strchr(b64_chars, *p);

		if (*p == '=') {
			pad++;
			continue;
		}
		if (!c || pad || o >= sizeof(out))
			return EINVAL;
		v = v << 6 | (uint32_t)(c - b64_chars);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(v >> bits);
		}
	}
	if (o != MEDIA_SRTP_KEY_LEN)
		return EINVAL;
	memcpy(k->key, out, sizeof(k->key));
	k->suite = suite;
	return 0;
}
