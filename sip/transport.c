/* sip/transport.c - SIP over UDP and TCP, IPv4 and IPv6 (RFC 3261 s.18) */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#define GW_LOG_MOD "sip"
#include "sip_int.h"

/*
 * Datagrams are framed by the datagram (octets beyond Content-Length are
 * dropped, s.18.3); streams by Content-Length, which they must carry.  A
 * connection buffers at most one message of max_message octets: a peer
 * that sends more, or starts a message and never finishes it within
 * SIP_FRAME_TIMEOUT_MS, loses its connection.  Connections are shared by
 * both directions (connection reuse) and closed when idle for
 * tcp_idle_s; transactions hold a reference, so a response still goes
 * back on the connection its request came in on (s.18.2.2) while it is
 * open, and over a new connection to the Via's address after that.
 *
 * TLS runs on GnuTLS (never OpenSSL: DESIGN.md's licences) over the
 * same connections: non-blocking handshake, then records in place of
 * recv/send.  A TLS listener holds the credentials (cert, key, CA, the
 * priority string) for both directions: connections it accepts and
 * those we open for sips: targets.  Peers' certificates are verified
 * against the CA by default (lc->verify; chain and validity only, since
 * our targets are IP literals until RFC 3263 names exist).
 */

struct sip_conn {
	struct sip_conn *next;		/* ua->conns; the list holds a ref */
	struct sip_ua *ua;		/* borrowed */
	enum sip_transport tp;
	int fd;				/* -1 once closed */
	struct sip_addr peer;
	struct sip_lsnr *lsnr;		/* borrowed: where it was accepted */
	char *rx;
	size_t rxlen, rxsize;
	char *tx;
	size_t txlen, txsize;
	bool connecting;
	gnutls_session_t tls;		/* TLS only */
	bool handshaking;
	bool tls_server;		/* accepted: the client may lack a cert */
	bool opening;			/* ours, and nothing came back yet */
	uint64_t last_ms;
	struct gw_tmr idle_tmr;
	struct gw_tmr frame_tmr;
};

static void conn_close(struct sip_conn *conn, const char *why);

/** The transport's name as in a Via ("UDP", "TCP", "TLS"). */
const char *sip_transport_name(enum sip_transport tp)
{
	switch (tp) {
	case SIP_UDP: return "UDP";
	case SIP_TCP: return "TCP";
	case SIP_TLS: return "TLS";
	}
	return "?";
}

/** The URI parameter naming tp in a Contact ("" for UDP). */
const char *sip_transport_param(enum sip_transport tp)
{
	return tp == SIP_TCP ? ";transport=tcp" : tp == SIP_TLS ?
		";transport=tls" : "";
}

/** True for the stream transports (no retransmissions, s.17.1.1.2). */
bool sip_transport_reliable(enum sip_transport tp)
{
	return tp != SIP_UDP;
}

/** Fill a from an IP literal (v6 with or without brackets) and port. */
int sip_addr_set(struct sip_addr *a, const char *ip, unsigned port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
	char buf[64];
	size_t n;

	if (!ip || port > 65535)
		return EINVAL;
	n = strlen(ip);
	if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']') {
		if (n - 2 >= sizeof(buf))
			return EINVAL;
		memcpy(buf, ip + 1, n - 2);
		buf[n - 2] = '\0';
		ip = buf;
	}
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		a->len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*s6);
		return 0;
	}
	return EAFNOSUPPORT;
}

/** The address as an IP literal without brackets. */
int sip_addr_ip(const struct sip_addr *a, char *buf, size_t size)
{
	const void *p;

	if (a->ss.ss_family == AF_INET)
		p = &((const struct sockaddr_in *)&a->ss)->sin_addr;
	else if (a->ss.ss_family == AF_INET6)
		p = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
	else
		return EAFNOSUPPORT;
	if (!inet_ntop(a->ss.ss_family, p, buf, (socklen_t)size))
		return errno;
	return 0;
}

/** The address's port in host order. */
unsigned sip_addr_port(const struct sip_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return 0;
}

/** Same family, address and port. */
bool sip_addr_eq(const struct sip_addr *a, const struct sip_addr *b)
{
	const struct sockaddr_in *a4, *b4;
	const struct sockaddr_in6 *a6, *b6;

	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)&a->ss;
		b4 = (const struct sockaddr_in *)&b->ss;
		return a4->sin_port == b4->sin_port &&
			a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	a6 = (const struct sockaddr_in6 *)&a->ss;
	b6 = (const struct sockaddr_in6 *)&b->ss;
	return a6->sin6_port == b6->sin6_port &&
		!memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
}

/** "192.0.2.1:5060" or "[2001:db8::1]:5060". */
int sip_addr_print(const struct sip_addr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	int err = sip_addr_ip(a, ip, sizeof(ip));

	if (err) {
		snprintf(buf, size, "?");
		return err;
	}
	snprintf(buf, size, a->ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 ip, sip_addr_port(a));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Framing                                                            */
/* ------------------------------------------------------------------ */

static const char *find_hdr_end(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 3 < len; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n' &&
		    buf[i + 2] == '\r' && buf[i + 3] == '\n')
			return buf + i;
	return NULL;
}

/* Is the header line at p (ending before end) Content-Length?  Returns
 * the value's start or NULL. */
static const char *cl_value(const char *p, const char *end)
{
	const char *q = p;

	if ((size_t)(end - p) >= 14 && !strncasecmp(p, "content-length", 14))
		q = p + 14;
	else if (p < end && (*p == 'l' || *p == 'L'))
		q = p + 1;
	else
		return NULL;
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (q >= end || *q != ':')
		return NULL;
	return q + 1;
}

/**
 * Frame one message at buf (RFC 3261 s.18.3).  0 with *lenp its length
 * and *hdrlenp the length of its header section; EAGAIN when a stream
 * needs more octets; EBADMSG for a missing (streams), negative,
 * malformed or conflicting Content-Length, or a datagram shorter than it
 * says; EMSGSIZE for a message beyond max.
 */
int sip_frame(const char *buf, size_t len, bool stream, size_t max,
	      size_t *lenp, size_t *hdrlenp)
{
	const char *end, *p, *eol, *v;
	size_t hdrlen, total;
	long long cl = -1, val;
	bool digits;

	end = find_hdr_end(buf, len < max ? len : max);
	if (!end) {
		if (len >= max)
			return EMSGSIZE;
		if (stream)
			return EAGAIN;
		*lenp = *hdrlenp = len;	/* no blank line: the parser decides */
		return 0;
	}
	hdrlen = (size_t)(end - buf) + 4;

	/* Every header line (a line not starting with SP/HT) in turn. */
	p = memchr(buf, '\n', hdrlen);
	while (p && (size_t)(p + 1 - buf) < hdrlen - 2) {
		p++;
		eol = memchr(p, '\n', hdrlen - (size_t)(p - buf));
		if (!eol)
			break;
		v = cl_value(p, eol);
		if (v) {
			/* The value, allowing folded lines after it. */
			const char *q = v;

			while (q < buf + hdrlen &&
			       (*q == ' ' || *q == '\t' || *q == '\r' ||
				(*q == '\n' && q + 1 < buf + hdrlen &&
				 (q[1] == ' ' || q[1] == '\t'))))
				q++;
			val = 0;
			digits = false;
			while (q < buf + hdrlen && *q >= '0' && *q <= '9') {
				val = val * 10 + (*q - '0');
				if (val > (long long)max)
					val = (long long)max + 1;
				q++;
				digits = true;
			}
			while (q < buf + hdrlen && (*q == ' ' || *q == '\t'))
				q++;
			if (!digits || *q != '\r')
				return EBADMSG;
			if (cl >= 0 && cl != val)
				return EBADMSG;
			cl = val;
		}
		p = eol;
	}
	if (cl < 0) {
		if (stream)
			return EBADMSG;
		cl = (long long)(len - hdrlen);
	}
	total = hdrlen + (size_t)cl;
	if (total > max)
		return EMSGSIZE;
	if (len < total)
		return stream ? EAGAIN : EBADMSG;
	*lenp = total;
	*hdrlenp = hdrlen;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Sockets                                                            */
/* ------------------------------------------------------------------ */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return errno;
	return 0;
}

static void deliver(struct sip_ua *ua, const struct sip_src *src,
		    const char *buf, size_t len)
{
	ua->stats.rx_msgs++;
	sip_tsx_recv(ua, src, buf, len);
}

static void udp_readable(int flags, void *arg)
{
	struct sip_lsnr *l = arg;
	struct sip_ua *ua = l->ua;
	static _Thread_local char buf[65536];
	struct sip_src src;
	ssize_t n;
	int i;

	(void)flags;
	for (i = 0; i < 64; i++) {
		memset(&src, 0, sizeof(src));
		src.peer.len = sizeof(src.peer.ss);
		n = recvfrom(l->fd, buf, sizeof(buf) - 1, MSG_TRUNC,
			     (struct sockaddr *)&src.peer.ss, &src.peer.len);
		if (n < 0)
			break;
		src.tp = SIP_UDP;
		src.lsnr = l;
		sip_transport_recv_dgram(ua, &src, buf, (size_t)n);
	}
	sip_tsx_run(ua);
}

/* One datagram (n may exceed the buffer: MSG_TRUNC). */
void sip_transport_recv_dgram(struct sip_ua *ua, const struct sip_src *src,
			      char *buf, size_t n)
{
	size_t mlen, hlen;
	int err;

	if (n > ua->conf.max_message) {
		ua->stats.rx_dropped++;
		GW_LOG_LIMITED(GW_LOG_WARN, "udp: %zu-byte datagram "
			       "dropped (max %zu)", n, ua->conf.max_message);
		return;
	}
	buf[n] = '\0';
	/* Keepalives (RFC 5626 s.3.5.1) and stray CRLFs. */
	if (n <= 4 && strspn(buf, "\r\n") >= n)
		return;
	err = sip_frame(buf, n, false, ua->conf.max_message, &mlen, &hlen);
	if (err) {
		sip_tsx_recv_bad(ua, src, buf, n, 400);
		return;
	}
	deliver(ua, src, buf, mlen);
}

/* ---- connections --------------------------------------------------- */

static void conn_destroy(void *data)
{
	struct sip_conn *conn = data;

	gw_tmr_cancel(&conn->idle_tmr);
	gw_tmr_cancel(&conn->frame_tmr);
	if (conn->fd >= 0) {
		gw_fd_close(conn->fd);
		close(conn->fd);
	}
	if (conn->tls)
		gnutls_deinit(conn->tls);
	free(conn->rx);
	free(conn->tx);
}

/** Take a reference to conn (NULL passes). */
struct sip_conn *sip_conn_ref(struct sip_conn *conn)
{
	return conn ? gw_mem_ref(conn) : NULL;
}

static void conn_unlink(struct sip_conn *conn)
{
	struct sip_conn **pp;

	for (pp = &conn->ua->conns; *pp; pp = &(*pp)->next) {
		if (*pp == conn) {
			*pp = conn->next;
			conn->next = NULL;
			gw_mem_deref(conn);
			return;
		}
	}
}

static void conn_close(struct sip_conn *conn, const char *why)
{
	struct sip_ua *ua = conn->ua;
	bool failed = conn->opening && !ua->closing;
	char pa[80];

	if (conn->fd < 0)
		return;
	sip_addr_print(&conn->peer, pa, sizeof(pa));
	GW_DBG("%s %s: closed (%s)", sip_transport_name(conn->tp), pa, why);
	gw_tmr_cancel(&conn->idle_tmr);
	gw_tmr_cancel(&conn->frame_tmr);
	gw_fd_close(conn->fd);
	close(conn->fd);
	conn->fd = -1;
	conn->rxlen = conn->txlen = 0;
	conn->opening = false;
	if (failed) {
		/* A connect refused, a TLS handshake that failed (a
		 * certificate we do not trust, the peer's alert, the peer
		 * gone), or a peer that hung up before saying anything:
		 * the requests that went out on it cannot arrive.  Their
		 * transactions fail now as transport errors (RFC 3261
		 * s.17.1.1.2, s.17.1.2.2: 503 to the TU, s.8.1.3.1; RFC
		 * 3263 s.4.3 tries the next target) rather than at Timer
		 * B or F. */
		GW_LOG_LIMITED(GW_LOG_WARN, "%s %s: connection failed: %s",
			       sip_transport_name(conn->tp), pa, why);
		sip_tsx_conn_failed(ua, conn);
	}
	conn_unlink(conn);		/* may free conn */
	if (failed)
		sip_tsx_run(ua);
}

static void conn_idle(void *arg)
{
	struct sip_conn *conn = arg;
	uint64_t idle_ms = (uint64_t)conn->ua->conf.tcp_idle_s * 1000;
	uint64_t now = gw_now_ms();

	if (now - conn->last_ms >= idle_ms) {
		conn_close(conn, "idle");
		return;
	}
	gw_tmr_start(&conn->idle_tmr, idle_ms - (now - conn->last_ms),
		     conn_idle, conn);
}

static void conn_frame_timeout(void *arg)
{
	struct sip_conn *conn = arg;

	GW_LOG_LIMITED(GW_LOG_WARN, "tcp: message never completed, "
		       "connection dropped");
	conn->ua->stats.rx_dropped++;
	conn_close(conn, "incomplete message");
}

static void conn_update_flags(struct sip_conn *conn);

static void conn_flush(struct sip_conn *conn)
{
	ssize_t n;

	while (conn->txlen && !conn->connecting && !conn->handshaking) {
		if (conn->tls) {
			/* GnuTLS wants the same data again after AGAIN: the
			 * buffer only moves once a record went out. */
			n = gnutls_record_send(conn->tls, conn->tx,
					       conn->txlen);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				break;
			if (n < 0) {
				conn_close(conn, gnutls_strerror((int)n));
				return;
			}
		} else {
			n = send(conn->fd, conn->tx, conn->txlen,
				 MSG_NOSIGNAL);
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_close(conn, strerror(errno));
			return;
		}
		memmove(conn->tx, conn->tx + n, conn->txlen - (size_t)n);
		conn->txlen -= (size_t)n;
	}
	conn_update_flags(conn);
}

static void conn_parse(struct sip_conn *conn)
{
	struct sip_ua *ua = conn->ua;
	struct sip_src src;
	size_t mlen, hlen, skip;
	int err;

	memset(&src, 0, sizeof(src));
	src.tp = conn->tp;
	src.peer = conn->peer;
	src.lsnr = conn->lsnr;
	src.conn = conn;

	while (conn->fd >= 0 && conn->rxlen) {
		/* RFC 5626 s.4.4.1: a CRLFCRLF ping gets a CRLF pong. */
		if (conn->rxlen >= 4 && !memcmp(conn->rx, "\r\n\r\n", 4)) {
			sip_transport_send(ua, conn->tp, &conn->peer, conn,
					   "\r\n", 2);
			skip = 4;
		} else {
			skip = strspn(conn->rx, "\r\n");
			if (skip > conn->rxlen)
				skip = conn->rxlen;
			if (skip == conn->rxlen && skip < 4)
				return;	/* could be the start of a ping */
		}
		if (skip) {
			memmove(conn->rx, conn->rx + skip, conn->rxlen - skip);
			conn->rxlen -= skip;
			conn->rx[conn->rxlen] = '\0';
			continue;
		}
		err = sip_frame(conn->rx, conn->rxlen, true,
				ua->conf.max_message, &mlen, &hlen);
		if (err == EAGAIN) {
			if (!gw_tmr_running(&conn->frame_tmr))
				gw_tmr_start(&conn->frame_tmr,
					     ua->frame_timeout_ms,
					     conn_frame_timeout, conn);
			return;
		}
		if (err) {
			/* The stream cannot be re-synchronised: answer what
			 * can be answered and close (RFC 4475 s.3.1.2.3). */
			ua->stats.rx_bad++;
			/* What came before on this stream is answered
			 * first (RFC 4475 s.3.1.1.8 over TCP). */
			sip_tsx_run(ua);
			if (conn->fd < 0)
				return;
			if (err == EBADMSG)
				sip_tsx_recv_bad(ua, &src, conn->rx,
						 conn->rxlen, 400);
			conn_close(conn, err == EMSGSIZE ? "message too large"
				   : "framing error");
			return;
		}
		gw_tmr_cancel(&conn->frame_tmr);
		{
			char save = conn->rx[mlen];

			conn->rx[mlen] = '\0';
			deliver(ua, &src, conn->rx, mlen);
			/* Answer in order: run each message's
			 * transactions before reading the next. */
			sip_tsx_run(ua);
			if (conn->fd < 0)
				return;
			conn->rx[mlen] = save;
		}
		memmove(conn->rx, conn->rx + mlen, conn->rxlen - mlen);
		conn->rxlen -= mlen;
		conn->rx[conn->rxlen] = '\0';
	}
}

static void conn_readable(struct sip_conn *conn)
{
	size_t cap = conn->ua->conf.max_message + 1;
	ssize_t n;

	if (!conn->rx) {
		conn->rx = malloc(cap + 1);
		if (!conn->rx) {
			conn_close(conn, "out of memory");
			return;
		}
		conn->rxsize = cap;
	}
	for (;;) {
		if (conn->rxlen >= conn->rxsize) {
			/* A full buffer without a whole message. */
			conn->ua->stats.rx_dropped++;
			conn_close(conn, "message too large");
			return;
		}
		if (conn->tls) {
			n = gnutls_record_recv(conn->tls,
					       conn->rx + conn->rxlen,
					       conn->rxsize - conn->rxlen);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				break;
			if (n < 0 && gnutls_error_is_fatal((int)n) == 0)
				continue;
			if (n < 0) {
				conn_close(conn, gnutls_strerror((int)n));
				return;
			}
		} else {
			n = recv(conn->fd, conn->rx + conn->rxlen,
				 conn->rxsize - conn->rxlen, 0);
		}
		if (n == 0) {
			conn_close(conn, "peer closed");
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_close(conn, strerror(errno));
			return;
		}
		conn->rxlen += (size_t)n;
		conn->rx[conn->rxlen] = '\0';
		conn->last_ms = gw_now_ms();
		conn->opening = false;	/* the peer is there */
		conn_parse(conn);
		if (conn->fd < 0)
			return;
	}
}

/* A certificate a client chose to present is verified like a required
 * one: a client with none passes, one with a bad one does not. */
static bool tls_peer_ok(struct sip_conn *conn)
{
	unsigned int n = 0, status = 0;
	char addr[64];
	int r;

	if (!conn->tls_server || !conn->lsnr->verify ||
	    conn->lsnr->require_client_cert ||
	    !gnutls_certificate_get_peers(conn->tls, &n) || !n)
		return true;
	r = gnutls_certificate_verify_peers2(conn->tls, &status);
	if (r < 0 || status) {
		sip_addr_print(&conn->peer, addr, sizeof(addr));
		GW_LOG_LIMITED(GW_LOG_WARN, "tls: client certificate from "
			       "%s not trusted (status 0x%x)", addr, status);
		return false;
	}
	return true;
}

static void conn_event(int flags, void *arg)
{
	struct sip_conn *conn = gw_mem_ref(arg);
	struct sip_ua *ua = conn->ua;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (conn->connecting && (flags & (GW_FD_WRITE | GW_FD_EXCEPT))) {
		getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			conn_close(conn, strerror(soerr));
			goto out;
		}
		conn->connecting = false;
	}
	if (conn->handshaking) {
		int r = gnutls_handshake(conn->tls);

		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			conn_update_flags(conn);
			goto out;
		}
		if (r < 0) {
			GW_LOG_LIMITED(GW_LOG_WARN, "tls: handshake: %s",
				       gnutls_strerror(r));
			conn_close(conn, "TLS handshake failed");
			goto out;
		}
		if (!tls_peer_ok(conn)) {
			conn_close(conn, "TLS client certificate refused");
			goto out;
		}
		conn->handshaking = false;
		conn_flush(conn);
		if (conn->fd < 0)
			goto out;
	}
	if (flags & GW_FD_READ)
		conn_readable(conn);
	if (conn->fd >= 0 && (flags & GW_FD_WRITE))
		conn_flush(conn);
	if (conn->fd >= 0 && (flags & GW_FD_EXCEPT) && !(flags & GW_FD_READ))
		conn_close(conn, "error");
 out:
	gw_mem_deref(conn);
	sip_tsx_run(ua);
}

static void conn_update_flags(struct sip_conn *conn)
{
	int fl = GW_FD_READ;

	if (conn->fd < 0)
		return;
	if (conn->txlen || conn->connecting ||
	    (conn->handshaking && gnutls_record_get_direction(conn->tls)))
		fl |= GW_FD_WRITE;
	gw_fd_listen(conn->fd, fl, conn_event, conn);
}

static int tls_start(struct sip_conn *conn, struct sip_lsnr *l, bool server)
{
	int r;

	if (!l || !l->cred)
		return ENOTSUP;
	r = gnutls_init(&conn->tls, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
			GNUTLS_NONBLOCK);
	if (r < 0)
		return ENOMEM;
	conn->tls_server = server;
	if (gnutls_priority_set(conn->tls, l->prio) < 0 ||
	    gnutls_credentials_set(conn->tls, GNUTLS_CRD_CERTIFICATE,
				   l->cred) < 0)
		return EINVAL;
	/* A server asks for the client's certificate and verifies the one
	 * it gets (tls_peer_ok, after the handshake); most phones have none
	 * (RFC 3261 s.26.3.1), so only a listener for trunks that must use
	 * mutual TLS (RFC 5922 s.7.3) requires one. */
	if (server)
		gnutls_certificate_server_set_request(conn->tls,
			!l->verify ? GNUTLS_CERT_IGNORE :
			l->require_client_cert ? GNUTLS_CERT_REQUIRE :
			GNUTLS_CERT_REQUEST);
	if (l->verify && (!server || l->require_client_cert))
		/* The chain and its dates; no name until RFC 3263 gives
		 * us names (targets are IP literals). */
		gnutls_session_set_verify_cert(conn->tls, NULL, 0);
	gnutls_transport_set_int(conn->tls, conn->fd);
	gnutls_handshake_set_timeout(conn->tls,
				     GNUTLS_DEFAULT_HANDSHAKE_TIMEOUT);
	conn->handshaking = true;
	return 0;
}

static int conn_alloc(struct sip_conn **connp, struct sip_ua *ua,
		      enum sip_transport tp, int fd,
		      const struct sip_addr *peer, struct sip_lsnr *l)
{
	struct sip_conn *conn;
	int err;

	conn = gw_mem_zalloc(sizeof(*conn), conn_destroy);
	if (!conn) {
		close(fd);
		return ENOMEM;
	}
	conn->ua = ua;
	conn->tp = tp;
	conn->fd = fd;
	conn->peer = *peer;
	conn->lsnr = l;
	conn->last_ms = gw_now_ms();
	gw_tmr_init(&conn->idle_tmr);
	gw_tmr_init(&conn->frame_tmr);
	err = gw_fd_listen(fd, GW_FD_READ, conn_event, conn);
	if (err) {
		gw_mem_deref(conn);
		return err;
	}
	gw_tmr_start(&conn->idle_tmr, (uint64_t)ua->conf.tcp_idle_s * 1000,
		     conn_idle, conn);
	conn->next = ua->conns;
	ua->conns = conn;		/* the list's reference */
	*connp = conn;
	return 0;
}

static void tcp_acceptable(int flags, void *arg)
{
	struct sip_lsnr *l = arg;
	struct sip_addr peer;
	struct sip_conn *conn;
	int fd, one = 1, i;

	(void)flags;
	for (i = 0; i < 32; i++) {
		peer.len = sizeof(peer.ss);
		fd = accept4(l->fd, (struct sockaddr *)&peer.ss, &peer.len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (conn_alloc(&conn, l->ua, l->tp, fd, &peer, l)) {
			GW_WARN("tcp: cannot take a connection");
			continue;
		}
		if (l->tp == SIP_TLS && tls_start(conn, l, true)) {
			conn_close(conn, "TLS set-up failed");
			continue;
		}
	}
}

static int conn_connect(struct sip_conn **connp, struct sip_ua *ua,
			enum sip_transport tp, const struct sip_addr *dst)
{
	struct sip_lsnr *l = sip_transport_lsnr(ua, tp, dst->ss.ss_family);
	struct sip_conn *conn;
	int fd, err, one = 1;

	fd = socket(dst->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&dst->ss, dst->len) < 0 &&
	    errno != EINPROGRESS) {
		err = errno;
		close(fd);
		return err;
	}
	err = conn_alloc(&conn, ua, tp, fd, dst, l);
	if (err)
		return err;
	if (tp == SIP_TLS && (err = tls_start(conn, l, false))) {
		conn_close(conn, "TLS set-up failed");
		return err;
	}
	conn->connecting = true;
	conn->opening = true;
	conn_update_flags(conn);
	*connp = conn;
	return 0;
}

static struct sip_conn *conn_find(struct sip_ua *ua, enum sip_transport tp,
				  const struct sip_addr *dst)
{
	struct sip_conn *c;

	for (c = ua->conns; c; c = c->next)
		if (c->tp == tp && c->fd >= 0 && sip_addr_eq(&c->peer, dst))
			return c;
	return NULL;
}

/**
 * Send one message.  Over UDP from the listener of dst's family; over
 * TCP on conn when it is open, else on an open connection to dst, else
 * on a new one (the octets wait for the connect).
 */
int sip_transport_send(struct sip_ua *ua, enum sip_transport tp,
		       const struct sip_addr *dst, struct sip_conn *conn,
		       const char *buf, size_t len)
{
	struct sip_lsnr *l;
	char *ntx;
	int err;

	if (tp == SIP_UDP) {
		l = sip_transport_lsnr(ua, SIP_UDP, dst->ss.ss_family);
		if (!l)
			return EAFNOSUPPORT;
		if (sendto(l->fd, buf, len, 0,
			   (const struct sockaddr *)&dst->ss, dst->len) < 0)
			return errno;
		ua->stats.tx_msgs++;
		return 0;
	}
	if (!conn || conn->fd < 0)
		conn = conn_find(ua, tp, dst);
	if (!conn) {
		err = conn_connect(&conn, ua, tp, dst);
		if (err)
			return err;
	}
	if (conn->txlen + len > 4 * ua->conf.max_message + 4096)
		return ENOBUFS;		/* the peer does not read */
	if (conn->txlen + len > conn->txsize) {
		ntx = realloc(conn->tx, conn->txlen + len);
		if (!ntx)
			return ENOMEM;
		conn->tx = ntx;
		conn->txsize = conn->txlen + len;
	}
	memcpy(conn->tx + conn->txlen, buf, len);
	conn->txlen += len;
	conn->last_ms = gw_now_ms();
	ua->stats.tx_msgs++;
	conn_flush(conn);
	if (conn->fd < 0)
		return ECONNRESET;	/* the write failed: a transport
					 * error (RFC 3261 s.18.4) */
	return 0;
}

/** The open connection a message to dst over tp goes out on (borrowed),
 * or NULL (UDP; none open). */
struct sip_conn *sip_transport_conn(struct sip_ua *ua, enum sip_transport tp,
				    const struct sip_addr *dst)
{
	return tp == SIP_UDP ? NULL : conn_find(ua, tp, dst);
}

/** The listener of transport tp and address family family, or NULL. */
struct sip_lsnr *sip_transport_lsnr(struct sip_ua *ua, enum sip_transport tp,
				    int family)
{
	struct sip_lsnr *l;

	for (l = ua->lsnrs; l; l = l->next)
		if (l->tp == tp && l->local.ss.ss_family == family)
			return l;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Listeners                                                          */
/* ------------------------------------------------------------------ */

static void lsnr_destroy(void *data)
{
	struct sip_lsnr *l = data;

	if (l->cred)
		gnutls_certificate_free_credentials(l->cred);
	if (l->prio)
		gnutls_priority_deinit(l->prio);
}

/* A TLS listener's credentials: our certificate and key, the CA that
 * peers' certificates must chain to, the cipher priorities. */
static int tls_creds(struct sip_lsnr *l, const struct sip_listener_conf *lc)
{
	const char *err_pos = NULL;
	int r;

	if (!lc->cert || !lc->key) {
		GW_ERR("listen TLS %s: cert and key are needed", lc->addr);
		return EINVAL;
	}
	if (gnutls_certificate_allocate_credentials(&l->cred) < 0)
		return ENOMEM;
	r = gnutls_certificate_set_x509_key_file(l->cred, lc->cert, lc->key,
						 GNUTLS_X509_FMT_PEM);
	if (r < 0) {
		GW_ERR("listen TLS: %s / %s: %s", lc->cert, lc->key,
		       gnutls_strerror(r));
		return EINVAL;
	}
	if (lc->ca) {
		r = gnutls_certificate_set_x509_trust_file(l->cred, lc->ca,
							   GNUTLS_X509_FMT_PEM);
		if (r < 0) {
			GW_ERR("listen TLS: CA %s: %s", lc->ca,
			       gnutls_strerror(r));
			return EINVAL;
		}
	} else if (lc->verify) {
		gnutls_certificate_set_x509_system_trust(l->cred);
	}
	r = gnutls_priority_init(&l->prio, lc->ciphers ? lc->ciphers :
				 "NORMAL", &err_pos);
	if (r < 0) {
		GW_ERR("listen TLS: ciphers '%s' at '%s': %s",
		       lc->ciphers ? lc->ciphers : "NORMAL",
		       err_pos ? err_pos : "", gnutls_strerror(r));
		return EINVAL;
	}
	l->verify = lc->verify;
	l->require_client_cert = lc->require_client_cert;
	return 0;
}

/**
 * Open a listener: UDP, TCP, or TLS (with lc's certificate, key, CA and
 * cipher priorities).  A port of 0 means 5060 (5061 for TLS).
 */
int sip_transport_listen(struct sip_ua *ua, const struct sip_listener_conf *lc)
{
	struct sip_lsnr *l;
	int fd = -1, err, one = 1;
	int type;

	if (!lc || !lc->addr)
		return EINVAL;
	l = gw_mem_zalloc(sizeof(*l), lsnr_destroy);
	if (!l)
		return ENOMEM;
	l->ua = ua;
	l->tp = lc->transport;
	l->port = lc->port ? lc->port : lc->transport == SIP_TLS ? 5061 :
		5060;
	if (l->tp == SIP_TLS) {
		err = tls_creds(l, lc);
		if (err)
			goto out;
	}
	err = sip_addr_set(&l->local, lc->addr, l->port);
	if (err) {
		GW_ERR("listen %s: not an IP literal", lc->addr);
		goto out;
	}
	type = l->tp == SIP_UDP ? SOCK_DGRAM : SOCK_STREAM;
	fd = socket(l->local.ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->local.ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&l->local.ss, l->local.len) < 0) {
		err = errno;
		GW_ERR("listen %s %s:%u: %s", sip_transport_name(l->tp),
		       lc->addr, l->port, strerror(err));
		goto out;
	}
	if (l->tp != SIP_UDP && listen(fd, 128) < 0) {
		err = errno;
		goto out;
	}
	err = set_nonblock(fd);
	if (err)
		goto out;
	/* The real port, when 0 was asked for in tests. */
	l->local.len = sizeof(l->local.ss);
	getsockname(fd, (struct sockaddr *)&l->local.ss, &l->local.len);
	l->port = sip_addr_port(&l->local);
	sip_addr_ip(&l->local, l->host, sizeof(l->host));
	err = gw_fd_listen(fd, GW_FD_READ, l->tp == SIP_UDP ? udp_readable :
			   tcp_acceptable, l);
	if (err)
		goto out;
	l->fd = fd;
	l->next = ua->lsnrs;
	ua->lsnrs = l;
	GW_INFO("listening on %s %s:%u", sip_transport_name(l->tp), l->host,
		l->port);
	return 0;
 out:
	if (fd >= 0)
		close(fd);
	gw_mem_deref(l);
	return err;
}

/** Close every listener and connection of ua. */
void sip_transport_close(struct sip_ua *ua)
{
	struct sip_lsnr *l;

	while (ua->conns)
		conn_close(ua->conns, "shutdown");
	while ((l = ua->lsnrs)) {
		ua->lsnrs = l->next;
		gw_fd_close(l->fd);
		close(l->fd);
		gw_mem_deref(l);
	}
}

/** Listeners and connection count, for `junctionctl sip`. */
json_t *sip_transport_json(const struct sip_ua *ua)
{
	json_t *arr = json_array();
	const struct sip_lsnr *l;
	const struct sip_conn *c;
	unsigned n = 0;

	for (l = ua->lsnrs; l; l = l->next)
		json_array_append_new(arr, json_pack("{s:s,s:s,s:i}",
			"transport", sip_transport_name(l->tp),
			"addr", l->host, "port", (int)l->port));
	for (c = ua->conns; c; c = c->next)
		n++;
	return json_pack("{s:o,s:i}", "listeners", arr, "connections",
			 (int)n);
}

/** The UDP/TCP port a listener was bound to (for tests asking port 0). */
unsigned sip_ua_port(const struct sip_ua *ua, enum sip_transport tp,
		     bool ipv6)
{
	struct sip_lsnr *l = sip_transport_lsnr((struct sip_ua *)ua, tp,
						ipv6 ? AF_INET6 : AF_INET);

	return l ? l->port : 0;
}
