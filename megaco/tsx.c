/* megaco/tsx.c - H.248.1 transactions over UDP (s.8, Annex D.1) */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define GW_LOG_MOD "mg"
#include "core.h"
#include "mg.h"

/*
 * One endpoint, two tables.
 *
 * Requests we sent (struct tsx_out), by TransactionID: each keeps its
 * own encoding (the transaction alone, even when it left in a message
 * with others) for retransmission.  The first timer is the endpoint's
 * RTT estimate (D.1.3: AAD + 4 ADEV, as TCP; samples only from requests
 * answered without a retransmission, Karn), then doubling up to
 * rto_max_ms, each wait randomised to 0.5..1 of the current value.  The
 * request fails with ETIMEDOUT tmax_ms after it was sent, or after the
 * last Pending (s.8.2.3: Pending restarts the timer); after a Pending we
 * retransmit only every rto_max_ms, which makes the responder repeat its
 * Pending while it still works.
 *
 * Requests we received, by (peer MID, TransactionID) (D.1.1): a table
 * per peer keyed by id that grows and shrinks with its load (struct
 * tsx_peer).  An entry is executing (struct tsx_in), replied (the
 * encoded reply alone, kept for long_timer_ms) or acknowledged (reply
 * dropped, the id kept for the rest of long_timer_ms so late
 * repetitions are discarded, D.1.2.2).  The replies we get to our own
 * requests are acknowledged in turn (TransactionResponseAck, below).  A
 * repetition of one executing gets Pending; one replied gets the stored
 * reply, sent again without executing anything.  Pending also goes out
 * by itself pending_ms (normalMGExecutionTime) after a request arrived
 * unanswered; a reply that follows a Pending carries ImmAckRequired.
 *
 * Replies, Pendings and error replies go to the source address of the
 * request they answer (s.9), each in a datagram of its own; several
 * transactions in one received message are handled one by one (s.8.3:
 * they are independent).  A message that does not decode gets the error
 * reply the decoder chose: its code, addressed to the request it hit, or
 * to TransactionID 0 when no id could be read (s.8.2.2).
 *
 * Over TCP (D.2) the same logic runs on TPKT-framed messages: a message
 * to an address goes on the connection from or to that address (one is
 * opened when there is none), so replies return on the connection the
 * request came in on; requests are not retransmitted (the stream is
 * reliable), only timed out, and repetitions are still recognised.  A
 * connection with a bad frame, or gone, is closed; its requests time
 * out.
 *
 * Handlers may drop the endpoint; we hold a reference while calling
 * them.  Handlers of outstanding requests are not called when the
 * endpoint goes.
 */

#define HASH_SIZE	1024u
#define TPKT_HDR	4	/* RFC 1006: version 3, 0, length (BE16) */
#define RX_BURST	64	/* datagrams per wake-up, for fairness */
#define SLOT_MIN_BITS	6	/* a peer's table: 64 slots at least */
#define ACK_MAX		32	/* id ranges in one TransactionResponseAck */
#define ACK_DELAY_MS	50	/* an ack waits this long for a request */

struct tsx_out {
	struct tsx_out *next;		/* ep->out[] chain; holds a ref */
	struct mg_tsx_ep *ep;		/* borrowed */
	uint32_t id;
	struct mg_addr peer;
	char *buf;			/* the transaction alone, encoded */
	size_t len;
	mg_tsx_resp_h *h;
	void *arg;
	uint64_t sent_ms, deadline;
	unsigned rto;			/* current back-off value */
	unsigned nrtx;
	bool pending;
	struct gw_tmr tmr;
};

/* A received request while it executes (the slot holds the ref). */
struct tsx_in {
	struct mg_tsx_ep *ep;		/* borrowed */
	struct tsx_peer *peer;		/* borrowed; kept while we live */
	uint32_t id;
	unsigned version;		/* of the request: we answer in it */
	struct mg_addr src;		/* where the last copy came from */
	struct mg_tsx_req *req;		/* borrowed */
	bool pending_sent;
	struct gw_tmr tmr;		/* pending_ms: Pending */
};

/*
 * One received TransactionID in its peer's table: executing (expire 0,
 * p the struct tsx_in), replied (p the encoded reply, rlen bytes, as it
 * went out) or acknowledged (p NULL: the id alone) until expire.
 */
struct in_slot {
	uint32_t id;
	uint32_t rlen;
	uint64_t expire;		/* ms; 0 while executing */
	void *p;			/* holds a ref */
};

struct in_exp {				/* the expiry queue, in reply order */
	uint32_t id;
	uint64_t expire;
};

/*
 * The requests received from one MID (D.1.1 keys them by (MID, id); ids
 * of different peers are independent): an open-addressing table keyed
 * by id, linear probing, grown at 3/4 full and shrunk below 1/8, and a
 * ring of (id, expiry) in reply order, so that one timer of the
 * endpoint forgets the ids whose LONG-TIMER is over.
 */
struct tsx_peer {
	struct tsx_peer *next;		/* ep->peers[] chain; holds a ref */
	uint32_t hash;			/* of mid, case-folded */
	struct in_slot *slot;		/* 2^bits of them, or NULL */
	unsigned bits;
	size_t n;			/* slots used */
	struct in_exp *q;		/* ring of qcap (a power of 2) */
	size_t qcap, qhead, qn;
	char mid[];
};

struct mg_tsx_req {
	struct mg_tsx_ep *ep;		/* borrowed; NULL once detached */
	struct tsx_in *in;		/* borrowed; NULL once detached */
	struct mg_msg *msg;
	const struct mg_trans *trans;	/* in msg */
	struct mg_addr src;
};

struct tcp_conn {
	struct tcp_conn *next;		/* ep->conns; holds a ref */
	struct mg_tsx_ep *ep;		/* borrowed */
	int fd;				/* -1 once closed */
	struct mg_addr peer;
	bool connecting;
	char *rx;			/* max_msg + TPKT_HDR */
	size_t rxlen;
	char *tx;
	size_t txlen, txsize;
};

struct mg_tsx_ep {
	int fd;				/* UDP socket or TCP listener */
	struct tcp_conn *conns;
	struct mg_tsx_conf conf;
	char *mid;
	mg_tsx_req_h *reqh;
	void *arg;
	struct tsx_out *out[HASH_SIZE];	/* outstanding: a window */
	struct tsx_peer **peers;	/* npb buckets (a power of 2) */
	unsigned npb, npeers;
	struct gw_tmr sweep;		/* forgets expired ids */
	struct mg_addr ack_to;		/* acks to send there, soon */
	struct mg_ack ack[ACK_MAX];
	unsigned nack;
	struct gw_tmr ack_tmr;
	uint32_t next_id;
	bool have_rtt;
	int64_t aad, adev;		/* RTT estimate, ms */
	uint64_t rnd;
	char *rxbuf;
};

_Static_assert(sizeof(((struct mg_addr *)0)->sa) >=
	       sizeof(struct sockaddr_in6), "struct mg_addr too small");

/* ------------------------------------------------------------------ */
/* Addresses                                                          */
/* ------------------------------------------------------------------ */

/**
 * Set addr from an IPv4 or IPv6 literal (brackets allowed) and a port.
 * Returns 0 or EINVAL.
 */
int mg_addr_set(struct mg_addr *addr, const char *ip, uint16_t port)
{
	char tmp[INET6_ADDRSTRLEN + 2];
	struct sockaddr_in in4 = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	size_t n;

	if (!addr || !ip)
		return EINVAL;
	memset(addr, 0, sizeof(*addr));
	if (inet_pton(AF_INET, ip, &in4.sin_addr) == 1) {
		in4.sin_port = htons(port);
		memcpy(addr->sa.b, &in4, sizeof(in4));
		addr->len = sizeof(in4);
		return 0;
	}
	n = strlen(ip);
	if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']') {
		if (n - 2 >= sizeof(tmp))
			return EINVAL;
		memcpy(tmp, ip + 1, n - 2);
		tmp[n - 2] = '\0';
		ip = tmp;
	}
	if (inet_pton(AF_INET6, ip, &in6.sin6_addr) != 1)
		return EINVAL;
	in6.sin6_port = htons(port);
	memcpy(addr->sa.b, &in6, sizeof(in6));
	addr->len = sizeof(in6);
	return 0;
}

/** "192.0.2.1:2944" or "[2001:db8::1]:2944" into buf; returns buf. */
char *mg_addr_str(const struct mg_addr *addr, char *buf, size_t size)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	char ip[INET6_ADDRSTRLEN];

	if (!buf || !size)
		return buf;
	snprintf(buf, size, "?");
	if (addr && addr->len == sizeof(in4)) {
		memcpy(&in4, addr->sa.b, sizeof(in4));
		if (in4.sin_family == AF_INET &&
		    inet_ntop(AF_INET, &in4.sin_addr, ip, sizeof(ip)))
			snprintf(buf, size, "%s:%u", ip,
				 (unsigned)ntohs(in4.sin_port));
	} else if (addr && addr->len == sizeof(in6)) {
		memcpy(&in6, addr->sa.b, sizeof(in6));
		if (in6.sin6_family == AF_INET6 &&
		    inet_ntop(AF_INET6, &in6.sin6_addr, ip, sizeof(ip)))
			snprintf(buf, size, "[%s]:%u", ip,
				 (unsigned)ntohs(in6.sin6_port));
	}
	return buf;
}

/* ------------------------------------------------------------------ */
/* Sending                                                            */
/* ------------------------------------------------------------------ */

static void tcp_send(struct mg_tsx_ep *ep, const struct mg_addr *to,
		     const char *buf, size_t len);
static void tcp_accept(struct mg_tsx_ep *ep);

static void send_raw(struct mg_tsx_ep *ep, const struct mg_addr *to,
		     const char *buf, size_t len)
{
	char a[64];

	if (ep->conf.tcp) {
		tcp_send(ep, to, buf, len);
		return;
	}
	if (sendto(ep->fd, buf, len, 0, (const struct sockaddr *)to->sa.b,
		   to->len) < 0)
		GW_LOG_LIMITED(GW_LOG_WARN, "send to %s: %s",
			       mg_addr_str(to, a, sizeof(a)), strerror(errno));
}

/* Encode t alone in a message of ours: *bufp (refcounted) and *lenp. */
static int encode_one(struct mg_tsx_ep *ep, unsigned version,
		      const struct mg_trans *t, char **bufp, size_t *lenp)
{
	struct mg_trans one = *t;
	struct mg_msg m = {
		.version = version, .mid = ep->mid, .trans = &one,
	};
	int err;

	one.next = NULL;
	err = mg_text_encode(bufp, &m, ep->conf.style);
	if (!err)
		*lenp = strlen(*bufp);
	return err;
}

/* Send t alone, not kept (Pending, ack, error replies). */
static void send_one(struct mg_tsx_ep *ep, const struct mg_addr *to,
		     unsigned version, const struct mg_trans *t)
{
	size_t len;
	char *buf;

	if (encode_one(ep, version, t, &buf, &len)) {
		GW_WARN("cannot encode a transaction to send");
		return;
	}
	send_raw(ep, to, buf, len);
	gw_mem_deref(buf);
}

static void send_pending(struct mg_tsx_ep *ep, const struct mg_addr *to,
			 unsigned version, uint32_t id)
{
	struct mg_trans t = { .type = MG_TRANS_PENDING, .id = id };

	send_one(ep, to, version, &t);
}

static void send_ack(struct mg_tsx_ep *ep, const struct mg_addr *to,
		     unsigned version, uint32_t id)
{
	struct mg_ack a = { .first = id, .last = id };
	struct mg_trans t = { .type = MG_TRANS_ACK, .nacks = 1, .acks = &a };

	send_one(ep, to, version, &t);
}

/* An error reply that is not kept (s.8.2.2); text without quotes. */
static void send_error(struct mg_tsx_ep *ep, const struct mg_addr *to,
		       unsigned version, uint32_t id, unsigned code,
		       const char *text)
{
	struct mg_err e = { .code = code, .text = NULL };
	struct mg_trans t = { .type = MG_TRANS_REPLY, .id = id, .err = &e };
	char clean[160];
	size_t i;

	if (text) {
		snprintf(clean, sizeof(clean), "%s", text);
		for (i = 0; clean[i]; i++) {
			if (clean[i] == '"' || (unsigned char)clean[i] < 0x20)
				clean[i] = '\'';
		}
		e.text = clean;
	}
	send_one(ep, to, version, &t);
}

/* ------------------------------------------------------------------ */
/* Requests we send                                                   */
/* ------------------------------------------------------------------ */

static unsigned hash_id(uint32_t id)
{
	return (id * 2654435761u) >> 22 & (HASH_SIZE - 1);
}

static unsigned rnd(struct mg_tsx_ep *ep, unsigned n)
{
	ep->rnd ^= ep->rnd << 13;	/* xorshift64 */
	ep->rnd ^= ep->rnd >> 7;
	ep->rnd ^= ep->rnd << 17;
	return n ? (unsigned)(ep->rnd % n) : 0;
}

static void out_destroy(void *data)
{
	struct tsx_out *out = data;

	gw_tmr_cancel(&out->tmr);
	gw_mem_deref(out->buf);
}

static struct tsx_out *out_find(struct mg_tsx_ep *ep, uint32_t id)
{
	struct tsx_out *o;

	for (o = ep->out[hash_id(id)]; o; o = o->next) {
		if (o->id == id)
			return o;
	}
	return NULL;
}

static void out_unlink(struct tsx_out *out)
{
	struct tsx_out **pp = &out->ep->out[hash_id(out->id)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == out) {
			*pp = out->next;
			out->next = NULL;
			return;
		}
	}
}

/* Done: call the handler once, then drop the transaction. */
static void out_finish(struct tsx_out *out, int err,
		       const struct mg_trans *reply, const struct mg_msg *msg)
{
	struct mg_tsx_ep *ep = gw_mem_ref(out->ep);

	out_unlink(out);
	gw_tmr_cancel(&out->tmr);
	if (out->h)
		out->h(err, reply, msg, out->arg);
	gw_mem_deref(out);
	gw_mem_deref(ep);
}

/** See mg.h. */
void mg_tsx_ep_cancel(struct mg_tsx_ep *ep)
{
	struct tsx_out *out;
	unsigned h;

	for (h = 0; ep && h < HASH_SIZE; h++)
		while ((out = ep->out[h]))
			out_finish(out, ECANCELED, NULL, NULL);
}

static unsigned rto_estimate(const struct mg_tsx_ep *ep)
{
	int64_t rto;

	if (!ep->have_rtt)
		return ep->conf.rto_init_ms;
	rto = ep->aad + 4 * ep->adev;
	if (rto < ep->conf.rto_min_ms)
		rto = ep->conf.rto_min_ms;
	if (rto > ep->conf.rto_max_ms)
		rto = ep->conf.rto_max_ms;
	return (unsigned)rto;
}

static void rtt_sample(struct mg_tsx_ep *ep, int64_t rtt)
{
	int64_t d;

	if (!ep->have_rtt) {
		ep->aad = rtt;
		ep->adev = rtt / 2;
		ep->have_rtt = true;
		return;
	}
	d = rtt - ep->aad;
	ep->aad += d / 8;
	ep->adev += ((d < 0 ? -d : d) - ep->adev) / 4;
}

static void out_tmr(void *arg);

static void out_arm(struct tsx_out *out, unsigned wait)
{
	uint64_t now = gw_now_ms();
	uint64_t left = out->deadline > now ? out->deadline - now : 0;

	if (wait > left)
		wait = (unsigned)left;
	gw_tmr_start(&out->tmr, wait, out_tmr, out);
}

static void out_tmr(void *arg)
{
	struct tsx_out *out = arg;
	struct mg_tsx_ep *ep = out->ep;
	char a[64];

	if (gw_now_ms() >= out->deadline) {
		GW_INFO("transaction %u to %s: no reply, giving up", out->id,
			mg_addr_str(&out->peer, a, sizeof(a)));
		out_finish(out, ETIMEDOUT, NULL, NULL);
		return;
	}
	if (ep->conf.tcp) {	/* D.2: reliable; only the deadline */
		out_arm(out, ep->conf.tmax_ms);
		return;
	}
	out->nrtx++;
	GW_DBG("transaction %u to %s: retransmission %u", out->id,
	       mg_addr_str(&out->peer, a, sizeof(a)), out->nrtx);
	send_raw(ep, &out->peer, out->buf, out->len);
	if (!out->pending) {
		out->rto *= 2;
		if (out->rto > ep->conf.rto_max_ms)
			out->rto = ep->conf.rto_max_ms;
	}
	/* D.1.3: randomised to 0.5..1 of the current timer */
	out_arm(out, out->rto / 2 + rnd(ep, out->rto / 2 + 1));
}

/*
 * TransactionResponseAck (D.1.2.2, s.8.2.3): every reply to a request of
 * ours is acknowledged, so that the responder may drop the reply it
 * keeps for repetitions (it still remembers the id for LONG-TIMER).
 * The ack rides on the next message to the same peer, or goes alone
 * ACK_DELAY_MS after the reply; consecutive ids share a range.  A reply
 * with ImmAckRequired is acknowledged at once instead (on_reply).
 */
static bool addr_eq(const struct mg_addr *a, const struct mg_addr *b);

static void ack_flush(struct mg_tsx_ep *ep)
{
	struct mg_trans t = {
		.type = MG_TRANS_ACK, .nacks = ep->nack, .acks = ep->ack,
	};

	gw_tmr_cancel(&ep->ack_tmr);
	if (!ep->nack)
		return;
	send_one(ep, &ep->ack_to, ep->conf.version, &t);
	ep->nack = 0;
}

static void ack_tmr(void *arg)
{
	ack_flush(arg);
}

/* Queue an ack of id, merged into the ranges it touches (replies come
 * in any order when several requests are outstanding). */
static void ack_add(struct mg_tsx_ep *ep, const struct mg_addr *to,
		    uint32_t id)
{
	struct mg_ack *a = NULL;
	unsigned i;

	if (ep->nack && !addr_eq(&ep->ack_to, to))
		ack_flush(ep);
	for (i = 0; i < ep->nack && !a; i++) {
		if (id >= ep->ack[i].first && id <= ep->ack[i].last)
			return;
		if (id == ep->ack[i].last + 1 || id == ep->ack[i].first - 1)
			a = &ep->ack[i];
	}
	if (a) {
		if (id < a->first)
			a->first = id;
		else
			a->last = id;
		for (i = 0; i < ep->nack; i++) {	/* now touching? */
			struct mg_ack *b = &ep->ack[i];

			if (b == a || (b->first != a->last + 1 &&
				       b->last + 1 != a->first))
				continue;
			if (b->first < a->first)
				a->first = b->first;
			if (b->last > a->last)
				a->last = b->last;
			*b = ep->ack[--ep->nack];
			break;
		}
	} else {
		if (ep->nack == ACK_MAX)
			ack_flush(ep);
		ep->ack_to = *to;
		ep->ack[ep->nack++] = (struct mg_ack){ id, id };
	}
	if (!gw_tmr_running(&ep->ack_tmr))
		gw_tmr_start(&ep->ack_tmr, ACK_DELAY_MS, ack_tmr, ep);
}

/**
 * Send the requests in msg (one or more Transaction trees, built by the
 * caller) to peer.  The endpoint sets the message's MID and version and
 * numbers the transactions; *idp (may be NULL) gets the first id, the
 * others follow it.  h is called once per transaction with its reply or
 * ETIMEDOUT, never from inside this call.  msg stays the caller's.
 * Returns 0, EINVAL or ENOMEM (then h will not be called).
 */
int mg_tsx_send(struct mg_tsx_ep *ep, const struct mg_addr *peer,
		struct mg_msg *msg, mg_tsx_resp_h *h, void *arg,
		uint32_t *idp)
{
	struct tsx_out *list = NULL, *out, *next;
	struct mg_trans *t, ackt = { .type = MG_TRANS_ACK };
	bool acks, single;
	uint32_t first = 0;
	uint64_t now;
	size_t len;
	char *buf = NULL;
	int err = 0;

	if (!ep || !peer || !msg || !msg->trans || msg->err)
		return EINVAL;
	for (t = msg->trans; t; t = t->next) {
		if (t->type != MG_TRANS_REQUEST || !t->actions)
			return EINVAL;
	}
	msg->mid = mg_msg_strdup(msg, ep->mid);
	if (!msg->mid)
		return ENOMEM;
	msg->version = ep->conf.version;
	acks = ep->nack && addr_eq(&ep->ack_to, peer);
	single = !msg->trans->next;
	now = gw_now_ms();
	for (t = msg->trans; t; t = t->next) {
		if (ep->next_id == 0)	/* 0 names undecodable requests */
			ep->next_id = 1;
		t->id = ep->next_id++;
		if (!first)
			first = t->id;
		out = gw_mem_zalloc(sizeof(*out), out_destroy);
		if (!out) {
			err = ENOMEM;
			goto out;
		}
		gw_tmr_init(&out->tmr);
		out->next = list;
		list = out;
		out->ep = ep;
		out->id = t->id;
		out->peer = *peer;
		out->h = h;
		out->arg = arg;
		out->sent_ms = now;
		out->deadline = now + ep->conf.tmax_ms;
		out->rto = ep->conf.tcp ? ep->conf.tmax_ms : rto_estimate(ep);
		if (acks && single)
			break;	/* its copy is the message, acks and all */
		err = encode_one(ep, msg->version, t, &out->buf, &out->len);
		if (err)
			goto out;
	}
	if (acks) {	/* piggy-backed (D.1.2.2); msg is left as it was */
		ackt.nacks = ep->nack;
		ackt.acks = ep->ack;
		for (t = msg->trans; t->next; t = t->next)
			;
		t->next = &ackt;
		err = mg_text_encode(&buf, msg, ep->conf.style);
		t->next = NULL;
		if (err)
			goto out;
		len = strlen(buf);
		if (single) {	/* repeating the ack does no harm */
			list->buf = gw_mem_ref(buf);
			list->len = len;
		}
		ep->nack = 0;
		gw_tmr_cancel(&ep->ack_tmr);
	} else if (!single) {
		err = mg_text_encode(&buf, msg, ep->conf.style);
		if (err)
			goto out;
		len = strlen(buf);
	} else {
		buf = gw_mem_ref(list->buf);
		len = list->len;
	}
	send_raw(ep, peer, buf, len);
	for (out = list; out; out = next) {
		next = out->next;
		out->next = ep->out[hash_id(out->id)];
		ep->out[hash_id(out->id)] = out;
		out_arm(out, out->rto);
	}
	list = NULL;
	if (idp)
		*idp = first;
 out:
	gw_mem_deref(buf);
	for (out = list; out; out = next) {
		next = out->next;
		gw_mem_deref(out);
	}
	return err;
}

/**
 * Forget request id: no retransmission, and its handler will not be
 * called.
 */
void mg_tsx_cancel(struct mg_tsx_ep *ep, uint32_t id)
{
	struct tsx_out *out = ep ? out_find(ep, id) : NULL;

	if (!out)
		return;
	out_unlink(out);
	gw_mem_deref(out);
}

static void on_reply(struct mg_tsx_ep *ep, const struct mg_msg *msg,
		     const struct mg_trans *t, const struct mg_addr *src)
{
	struct tsx_out *out;

	/* s.8.2.3: acknowledge at once; again for a repeated reply whose
	 * first ack was lost (the request is gone by then) */
	if (t->imm_ack)
		send_ack(ep, src, msg->version, t->id);
	out = out_find(ep, t->id);
	if (!out) {
		GW_DBG("reply %u from %s: no such request", t->id, msg->mid);
		return;
	}
	if (!out->nrtx && !out->pending)
		rtt_sample(ep, (int64_t)(gw_now_ms() - out->sent_ms));
	if (!t->imm_ack)	/* before the handler: it may send next */
		ack_add(ep, &out->peer, t->id);
	out_finish(out, 0, t, msg);
}

static void on_pending(struct mg_tsx_ep *ep, const struct mg_trans *t)
{
	struct tsx_out *out = out_find(ep, t->id);

	if (!out)
		return;		/* after the reply: ignored (s.8.2.3) */
	GW_DBG("transaction %u: pending", t->id);
	out->pending = true;
	out->rto = ep->conf.rto_max_ms;
	out->deadline = gw_now_ms() + ep->conf.tmax_ms;
	out_arm(out, out->rto);
}

/* ------------------------------------------------------------------ */
/* Requests we receive                                                */
/* ------------------------------------------------------------------ */

static uint32_t hash_mid(const char *mid)
{
	uint32_t h = 2166136261u;

	for (; *mid; mid++)
		h = (h ^ (unsigned char)(*mid | 0x20)) * 16777619u;
	return h;
}

static bool slot_empty(const struct in_slot *s)
{
	return !s->expire && !s->p;
}

/* Fibonacci hashing: consecutive ids, the usual case, spread evenly. */
static size_t slot_home(const struct tsx_peer *p, uint32_t id)
{
	return (uint32_t)(id * 2654435761u) >> (32 - p->bits);
}

static struct in_slot *slot_find(const struct tsx_peer *p, uint32_t id)
{
	size_t mask, i;

	if (!p->slot)
		return NULL;
	mask = ((size_t)1 << p->bits) - 1;
	for (i = slot_home(p, id);; i = (i + 1) & mask) {
		if (slot_empty(&p->slot[i]))
			return NULL;
		if (p->slot[i].id == id)
			return &p->slot[i];
	}
}

/* Rebuild the table with 2^bits slots; the slots move. */
static int slot_resize(struct tsx_peer *p, unsigned bits)
{
	struct in_slot *old = p->slot;
	size_t n = old ? (size_t)1 << p->bits : 0, mask, i, j;

	p->slot = gw_mem_zalloc(sizeof(*p->slot) << bits, NULL);
	if (!p->slot) {
		p->slot = old;
		return ENOMEM;
	}
	p->bits = bits;
	mask = ((size_t)1 << bits) - 1;
	for (i = 0; i < n; i++) {
		if (slot_empty(&old[i]))
			continue;
		for (j = slot_home(p, old[i].id); !slot_empty(&p->slot[j]);
		     j = (j + 1) & mask)
			;
		p->slot[j] = old[i];
	}
	gw_mem_deref(old);
	return 0;
}

/* A free slot for id (not in the table), growing it at 3/4 full. */
static struct in_slot *slot_insert(struct tsx_peer *p, uint32_t id)
{
	size_t mask, i;

	if (!p->slot || (p->n + 1) * 4 > (size_t)3 << p->bits) {
		if (slot_resize(p, p->slot ? p->bits + 1 : SLOT_MIN_BITS))
			return NULL;
	}
	mask = ((size_t)1 << p->bits) - 1;
	for (i = slot_home(p, id); !slot_empty(&p->slot[i]); i = (i + 1) & mask)
		;
	p->n++;
	p->slot[i].id = id;
	return &p->slot[i];
}

/* Empty s (its contents already released): linear probing's backward
 * shift, so that no tombstones pile up. */
static void slot_delete(struct tsx_peer *p, struct in_slot *s)
{
	size_t mask = ((size_t)1 << p->bits) - 1;
	size_t i = (size_t)(s - p->slot), j = i, k;

	for (;;) {
		j = (j + 1) & mask;
		if (slot_empty(&p->slot[j]))
			break;
		k = slot_home(p, p->slot[j].id);
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;	/* already between its home and j */
		p->slot[i] = p->slot[j];
		i = j;
	}
	memset(&p->slot[i], 0, sizeof(p->slot[i]));
	p->n--;
}

static void peer_destroy(void *data)
{
	struct tsx_peer *p = data;

	gw_mem_deref(p->slot);
	gw_mem_deref(p->q);
}

static int peers_grow(struct mg_tsx_ep *ep)
{
	unsigned nb = ep->npb ? ep->npb * 2 : 8, i;
	struct tsx_peer **b, *p, *next;

	b = gw_mem_zalloc(nb * sizeof(*b), NULL);
	if (!b)
		return ENOMEM;
	for (i = 0; i < ep->npb; i++) {
		for (p = ep->peers[i]; p; p = next) {
			next = p->next;
			p->next = b[p->hash & (nb - 1)];
			b[p->hash & (nb - 1)] = p;
		}
	}
	gw_mem_deref(ep->peers);
	ep->peers = b;
	ep->npb = nb;
	return 0;
}

/* The table of the peer with MID mid; a new one if create is set.
 * NULL when there is none, or on ENOMEM. */
static struct tsx_peer *peer_get(struct mg_tsx_ep *ep, const char *mid,
				 bool create)
{
	uint32_t h = hash_mid(mid);
	struct tsx_peer *p;
	size_t n;

	for (p = ep->npb ? ep->peers[h & (ep->npb - 1)] : NULL; p;
	     p = p->next) {
		if (p->hash == h && !strcasecmp(p->mid, mid))
			return p;
	}
	if (!create || (ep->npeers >= ep->npb && peers_grow(ep)))
		return NULL;
	n = strlen(mid);
	p = gw_mem_zalloc(sizeof(*p) + n + 1, peer_destroy);
	if (!p)
		return NULL;
	memcpy(p->mid, mid, n + 1);
	p->hash = h;
	p->next = ep->peers[h & (ep->npb - 1)];
	ep->peers[h & (ep->npb - 1)] = p;
	ep->npeers++;
	return p;
}

static void sweep_tmr(void *arg);

static void sweep_arm(struct mg_tsx_ep *ep)
{
	unsigned ms = ep->conf.long_timer_ms / 8;

	if (gw_tmr_running(&ep->sweep))
		return;
	gw_tmr_start(&ep->sweep, ms < 10 ? 10 : ms > 1000 ? 1000 : ms,
		     sweep_tmr, ep);
}

/* Remember that id was answered: it leaves the table once LONG-TIMER is
 * over.  The queue is in reply order, hence in expiry order. */
static int expiry_push(struct mg_tsx_ep *ep, struct tsx_peer *p,
		       uint32_t id, uint64_t expire)
{
	struct in_exp *q;
	size_t cap = p->qcap ? p->qcap * 2 : 64, i;

	if (p->qn == p->qcap) {
		q = gw_mem_alloc(cap * sizeof(*q), NULL);
		if (!q)
			return ENOMEM;
		for (i = 0; i < p->qn; i++)
			q[i] = p->q[(p->qhead + i) & (p->qcap - 1)];
		gw_mem_deref(p->q);
		p->q = q;
		p->qcap = cap;
		p->qhead = 0;
	}
	p->q[(p->qhead + p->qn) & (p->qcap - 1)] =
		(struct in_exp){ .id = id, .expire = expire };
	p->qn++;
	sweep_arm(ep);
	return 0;
}

/* Forget the answered ids whose LONG-TIMER is over, give the memory of
 * a table that emptied back, and drop the peers with nothing left. */
static void sweep_tmr(void *arg)
{
	struct mg_tsx_ep *ep = arg;
	uint64_t now = gw_now_ms();
	struct tsx_peer **pp, *p;
	struct in_slot *s;
	struct in_exp *e;
	unsigned i, bits;
	bool more = false;

	for (i = 0; i < ep->npb; i++) {
		for (pp = &ep->peers[i]; (p = *pp);) {
			while (p->qn) {
				e = &p->q[p->qhead];
				if (e->expire > now)
					break;
				s = slot_find(p, e->id);
				if (s && s->expire && s->expire <= now) {
					gw_mem_deref(s->p);
					s->p = NULL;
					slot_delete(p, s);
				}
				p->qhead = (p->qhead + 1) & (p->qcap - 1);
				p->qn--;
			}
			if (!p->n && !p->qn) {
				*pp = p->next;
				ep->npeers--;
				gw_mem_deref(p);
				continue;
			}
			for (bits = p->bits; bits > SLOT_MIN_BITS &&
			     p->n * 8 < (size_t)1 << bits; bits--)
				;
			if (bits + 1 < p->bits)	/* hysteresis: 1/8 .. 3/4 */
				slot_resize(p, bits + 1);
			more = more || p->qn;
			pp = &p->next;
		}
	}
	if (more)
		sweep_arm(ep);
}

static void in_destroy(void *data)
{
	struct tsx_in *in = data;

	gw_tmr_cancel(&in->tmr);
}

/* Forget an executing request left unanswered. */
static void in_forget(struct tsx_in *in)
{
	struct in_slot *s = slot_find(in->peer, in->id);

	if (s && !s->expire && s->p == in)
		slot_delete(in->peer, s);
	gw_mem_deref(in);
}

/* Outlasted normalMGExecutionTime: Pending, then IA (s.8.2.3). */
static void in_tmr(void *arg)
{
	struct tsx_in *in = arg;

	GW_DBG("transaction %u from %s: pending", in->id, in->peer->mid);
	in->pending_sent = true;
	send_pending(in->ep, &in->src, in->version, in->id);
}

static void req_destroy(void *data)
{
	struct mg_tsx_req *req = data;

	if (req->in) {		/* dropped unanswered: forget it */
		req->in->req = NULL;
		in_forget(req->in);
	}
	gw_mem_deref(req->msg);
}

static void on_request(struct mg_tsx_ep *ep, struct mg_msg *msg,
		       const struct mg_trans *t, const struct mg_addr *src)
{
	struct mg_tsx_req *req = NULL;
	struct tsx_in *in = NULL;
	struct tsx_peer *p;
	struct in_slot *s;

	p = peer_get(ep, msg->mid, false);
	s = p ? slot_find(p, t->id) : NULL;
	if (s && s->expire && s->expire <= gw_now_ms()) {
		gw_mem_deref(s->p);	/* LONG-TIMER is over: a new one */
		s->p = NULL;
		slot_delete(p, s);
		s = NULL;
	}
	if (s && !s->expire) {
		in = s->p;
		GW_DBG("transaction %u from %s: repeated while executing",
		       t->id, msg->mid);
		in->src = *src;
		in->pending_sent = true;
		send_pending(ep, src, in->version, t->id);
		return;
	}
	if (s && s->p) {
		GW_DBG("transaction %u from %s: repeated, answered from the "
		       "stored reply", t->id, msg->mid);
		send_raw(ep, src, s->p, s->rlen);
		return;
	}
	if (s) {
		GW_DBG("transaction %u from %s: late repetition dropped",
		       t->id, msg->mid);
		return;
	}
	if (!ep->reqh) {
		send_error(ep, src, msg->version, t->id, 501,
			   "Not Implemented");
		return;
	}
	if (!p)
		p = peer_get(ep, msg->mid, true);
	if (p) {
		in = gw_mem_zalloc(sizeof(*in), in_destroy);
		req = gw_mem_zalloc(sizeof(*req), req_destroy);
	}
	s = in && req ? slot_insert(p, t->id) : NULL;
	if (!s) {
		gw_mem_deref(in);
		gw_mem_deref(req);
		GW_LOG_LIMITED(GW_LOG_ERR, "no memory for a transaction");
		return;		/* the repetition may fare better */
	}
	s->expire = 0;
	s->p = in;
	gw_tmr_init(&in->tmr);
	in->ep = ep;
	in->peer = p;
	in->id = t->id;
	in->version = msg->version;
	in->src = *src;
	in->req = req;
	gw_tmr_start(&in->tmr, ep->conf.pending_ms, in_tmr, in);
	req->ep = ep;
	req->in = in;
	req->msg = gw_mem_ref(msg);
	req->trans = t;
	req->src = *src;
	ep->reqh(req, t, msg, ep->arg);
}

/* Answer req with t (a Reply tree) and release req.  The executing
 * entry becomes the stored reply, encoded once, and nothing else. */
static int answer(struct mg_tsx_req *req, const struct mg_trans *t)
{
	struct tsx_in *in = req->in;
	struct mg_tsx_ep *ep = req->ep;
	struct in_slot *s;
	struct mg_trans r;
	uint64_t expire;
	size_t rlen = 0;
	char *reply = NULL;
	int err;

	if (!in || !ep) {	/* the endpoint went away meanwhile */
		gw_mem_deref(req);
		return ECANCELED;
	}
	r = *t;
	r.id = in->id;
	r.imm_ack = r.imm_ack || in->pending_sent;
	err = encode_one(ep, in->version, &r, &reply, &rlen);
	if (err) {
		struct mg_err e = { 500, "Internal software failure" };

		GW_ERR("transaction %u: cannot encode the reply (%s)", in->id,
		       strerror(err));
		r.err = &e;
		r.actions = NULL;
		if (encode_one(ep, in->version, &r, &reply, &rlen)) {
			gw_mem_deref(req);	/* forgets it */
			return err;
		}
	}
	send_raw(ep, &in->src, reply, rlen);
	s = slot_find(in->peer, in->id);
	expire = gw_now_ms() + ep->conf.long_timer_ms;
	if (!expire)
		expire = 1;
	if (s && s->p == in &&
	    !expiry_push(ep, in->peer, in->id, expire)) {
		s->p = reply;
		s->rlen = (uint32_t)rlen;
		s->expire = expire;
		reply = NULL;
		in->req = NULL;
		req->in = NULL;
		gw_mem_deref(in);
	}
	gw_mem_deref(reply);
	gw_mem_deref(req);	/* not kept (ENOMEM): forgets it */
	return err;
}

/**
 * Answer req with reply, a message holding one Reply tree (its id, MID
 * and version are set here; ImmAckRequired too when a Pending went
 * out).  Releases req and the caller's reference to reply, whatever the
 * result: 0; EINVAL for a malformed reply; ECANCELED when the endpoint
 * is gone; or an encoding error, after a 500 error reply went instead.
 */
int mg_tsx_reply(struct mg_tsx_req *req, struct mg_msg *reply)
{
	int err;

	if (!req) {
		gw_mem_deref(reply);
		return EINVAL;
	}
	if (!reply || !reply->trans || reply->trans->next ||
	    reply->trans->type != MG_TRANS_REPLY) {
		gw_mem_deref(reply);
		mg_tsx_reply_error(req, 500, "Internal software failure");
		return EINVAL;
	}
	err = answer(req, reply->trans);
	gw_mem_deref(reply);
	return err;
}

/**
 * Answer req with Error = code { "text" } (text may be NULL; what an
 * Annex B quotedString cannot hold, '"' first, is written replaced, see
 * text_enc.c).  Releases req.  Returns 0 or ECANCELED.
 */
int mg_tsx_reply_error(struct mg_tsx_req *req, unsigned code,
		       const char *text)
{
	struct mg_err e = { .code = code, .text = text };
	struct mg_trans t = { .type = MG_TRANS_REPLY, .err = &e };

	if (!req)
		return EINVAL;
	return answer(req, &t);
}

/** The source address of the request (where its reply goes). */
const struct mg_addr *mg_tsx_req_peer(const struct mg_tsx_req *req)
{
	return req ? &req->src : NULL;
}

/* Drop a stored reply; the id stays until its LONG-TIMER is over. */
static void ack_slot(struct tsx_peer *p, struct in_slot *s)
{
	if (!s->expire || !s->p)
		return;		/* executing (the ack is early) or done */
	GW_DBG("transaction %u from %s: reply acknowledged", s->id, p->mid);
	s->p = gw_mem_deref(s->p);
	s->rlen = 0;
}

/* TransactionResponseAck (D.1.2.2): drop the stored replies early.  An
 * ack of ids we no longer know (older than LONG-TIMER, or from before a
 * restart) is ignored. */
static void on_ack(struct mg_tsx_ep *ep, const struct mg_msg *msg,
		   const struct mg_trans *t)
{
	struct tsx_peer *p = peer_get(ep, msg->mid, false);
	struct in_slot *s;
	uint32_t id, first, last;
	size_t i, j, cap;

	if (!p || !p->slot)
		return;
	cap = (size_t)1 << p->bits;
	for (i = 0; i < t->nacks; i++) {
		first = t->acks[i].first;
		last = t->acks[i].last;
		if (first > last)
			continue;
		if (last - first < cap) {
			for (id = first;; id++) {
				s = slot_find(p, id);
				if (s)
					ack_slot(p, s);
				if (id == last)
					break;
			}
			continue;
		}
		for (j = 0; j < cap; j++) {
			s = &p->slot[j];
			if (!slot_empty(s) && s->id >= first && s->id <= last)
				ack_slot(p, s);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Receiving                                                          */
/* ------------------------------------------------------------------ */

/* The owner still holds the endpoint (we hold one reference too). */
static bool ep_alive(const struct mg_tsx_ep *ep)
{
	return gw_mem_nrefs(ep) > 1;
}

static void on_datagram(struct mg_tsx_ep *ep, const char *buf, size_t len,
			const struct mg_addr *src)
{
	struct mg_text_err terr;
	struct mg_msg *msg = NULL;
	struct mg_trans *t;
	char a[64];
	int err;

	err = mg_text_decode(&msg, buf, len, &terr);
	if (err == EBADMSG) {
		GW_LOG_LIMITED(GW_LOG_WARN, "bad message from %s: %u %s",
			       mg_addr_str(src, a, sizeof(a)), terr.code,
			       terr.text);
		send_error(ep, src, ep->conf.version,
			   terr.in_trans ? terr.trans_id : 0, terr.code,
			   terr.text);
		return;
	}
	if (err) {
		GW_LOG_LIMITED(GW_LOG_ERR, "cannot decode a message: %s",
			       strerror(err));
		return;
	}
	if (msg->err) {
		GW_WARN("error %u from %s (%s): %s", msg->err->code,
			msg->mid, mg_addr_str(src, a, sizeof(a)),
			msg->err->text ? msg->err->text : "");
		gw_mem_deref(msg);
		return;
	}
	for (t = msg->trans; t && ep_alive(ep); t = t->next) {
		switch (t->type) {
		case MG_TRANS_REQUEST:
			on_request(ep, msg, t, src);
			break;
		case MG_TRANS_REPLY:
			on_reply(ep, msg, t, src);
			break;
		case MG_TRANS_PENDING:
			on_pending(ep, t);
			break;
		case MG_TRANS_ACK:
			on_ack(ep, msg, t);
			break;
		case MG_TRANS_SEGREPLY:
			GW_DBG("segment reply %u ignored", t->id);
			break;
		}
	}
	gw_mem_deref(msg);
}

static void ep_readable(int flags, void *arg)
{
	struct mg_tsx_ep *ep = gw_mem_ref(arg);
	struct sockaddr_storage ss;
	struct mg_addr src;
	socklen_t slen;
	ssize_t n;
	int i = 0;

	(void)flags;
	if (ep->conf.tcp) {
		tcp_accept(ep);
		i = RX_BURST;
	}
	for (; i < RX_BURST && ep_alive(ep); i++) {
		slen = sizeof(ss);
		n = recvfrom(ep->fd, ep->rxbuf, ep->conf.max_msg, MSG_TRUNC,
			     (struct sockaddr *)&ss, &slen);
		if (n < 0)
			break;
		if (slen > sizeof(src.sa))
			continue;	/* not IP */
		memset(&src, 0, sizeof(src));
		memcpy(src.sa.b, &ss, slen);
		src.len = slen;
		if ((size_t)n > ep->conf.max_msg) {
			GW_LOG_LIMITED(GW_LOG_WARN, "%zd-byte datagram dropped",
				       n);
			continue;
		}
		on_datagram(ep, ep->rxbuf, (size_t)n, &src);
	}
	gw_mem_deref(ep);
}

/* ------------------------------------------------------------------ */
/* TCP with TPKT framing (Annex D.2)                                  */
/* ------------------------------------------------------------------ */

static void conn_destroy(void *data)
{
	struct tcp_conn *c = data;

	if (c->fd >= 0) {
		gw_fd_close(c->fd);
		close(c->fd);
	}
	gw_mem_deref(c->rx);
	gw_mem_deref(c->tx);
}

static void conn_close(struct tcp_conn *c, const char *why)
{
	struct tcp_conn **pp;
	char a[64];

	if (c->fd < 0)
		return;
	GW_DBG("connection with %s closed: %s",
	       mg_addr_str(&c->peer, a, sizeof(a)), why);
	gw_fd_close(c->fd);
	close(c->fd);
	c->fd = -1;
	for (pp = &c->ep->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			gw_mem_deref(c);
			return;
		}
	}
}

static bool addr_eq(const struct mg_addr *a, const struct mg_addr *b)
{
	return a->len == b->len && !memcmp(a->sa.b, b->sa.b, a->len);
}

static void conn_event(int flags, void *arg);

static void conn_flush(struct tcp_conn *c)
{
	ssize_t n;

	while (c->txlen) {
		n = send(c->fd, c->tx, c->txlen, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				break;
			conn_close(c, strerror(errno));
			return;
		}
		memmove(c->tx, c->tx + n, c->txlen - (size_t)n);
		c->txlen -= (size_t)n;
	}
	gw_fd_listen(c->fd, GW_FD_READ | (c->txlen ? GW_FD_WRITE : 0),
		     conn_event, c);
}

static void conn_read(struct tcp_conn *c)
{
	struct mg_tsx_ep *ep = c->ep;
	size_t size = ep->conf.max_msg + TPKT_HDR, flen;
	ssize_t n;

	for (;;) {
		n = recv(c->fd, c->rx + c->rxlen, size - c->rxlen, 0);
		if (n == 0) {
			conn_close(c, "closed by the peer");
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				conn_close(c, strerror(errno));
			return;
		}
		c->rxlen += (size_t)n;
		while (c->rxlen >= TPKT_HDR) {
			flen = (size_t)(unsigned char)c->rx[2] << 8 |
				(unsigned char)c->rx[3];
			if (c->rx[0] != 3 || flen <= TPKT_HDR || flen > size) {
				conn_close(c, "bad TPKT header");
				return;
			}
			if (c->rxlen < flen)
				break;
			on_datagram(ep, c->rx + TPKT_HDR, flen - TPKT_HDR,
				    &c->peer);
			if (c->fd < 0 || !ep_alive(ep))
				return;
			memmove(c->rx, c->rx + flen, c->rxlen - flen);
			c->rxlen -= flen;
		}
	}
}

static void conn_event(int flags, void *arg)
{
	struct tcp_conn *c = gw_mem_ref(arg);
	struct mg_tsx_ep *ep = gw_mem_ref(c->ep);
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (c->connecting) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) ||
		    soerr) {
			conn_close(c, strerror(soerr ? soerr : errno));
			goto out;
		}
		if (!(flags & (GW_FD_WRITE | GW_FD_READ)))
			goto out;
		c->connecting = false;
	}
	if (flags & GW_FD_READ)
		conn_read(c);
	if (c->fd >= 0 && ep_alive(ep) && (flags & GW_FD_EXCEPT) &&
	    !(flags & GW_FD_READ))
		conn_close(c, "error");
	if (c->fd >= 0 && ep_alive(ep))
		conn_flush(c);
 out:
	gw_mem_deref(ep);
	gw_mem_deref(c);
}

static struct tcp_conn *conn_new(struct mg_tsx_ep *ep, int fd,
				 const struct mg_addr *peer)
{
	struct tcp_conn *c = gw_mem_zalloc(sizeof(*c), conn_destroy);
	int one = 1;

	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->ep = ep;
	c->peer = *peer;
	c->rx = gw_mem_alloc(ep->conf.max_msg + TPKT_HDR, NULL);
	if (!c->rx || gw_fd_listen(fd, GW_FD_READ, conn_event, c)) {
		gw_mem_deref(c);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->next = ep->conns;
	ep->conns = c;
	return c;
}

static void tcp_send(struct mg_tsx_ep *ep, const struct mg_addr *to,
		     const char *buf, size_t len)
{
	struct tcp_conn *c;
	size_t need;
	char *tx;
	char a[64];
	int fd;

	if (len > 0xffff - TPKT_HDR) {
		GW_WARN("%zu-byte message too long for TPKT", len);
		return;
	}
	for (c = ep->conns; c && !addr_eq(&c->peer, to); c = c->next)
		;
	if (!c) {
		fd = socket(to->len == sizeof(struct sockaddr_in6) ? AF_INET6 :
			    AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);
		if (fd < 0 || (connect(fd, (const struct sockaddr *)to->sa.b,
				       to->len) < 0 && errno != EINPROGRESS)) {
			GW_LOG_LIMITED(GW_LOG_WARN, "connect to %s: %s",
				       mg_addr_str(to, a, sizeof(a)),
				       strerror(errno));
			if (fd >= 0)
				close(fd);
			return;
		}
		c = conn_new(ep, fd, to);
		if (!c)
			return;
		c->connecting = true;
	}
	need = c->txlen + TPKT_HDR + len;
	if (need > c->txsize) {
		if (need > 4 * (ep->conf.max_msg + TPKT_HDR) + 0x10000) {
			conn_close(c, "peer does not read");
			return;
		}
		tx = gw_mem_alloc(need * 2, NULL);
		if (!tx)
			return;
		if (c->txlen)
			memcpy(tx, c->tx, c->txlen);
		gw_mem_deref(c->tx);
		c->tx = tx;
		c->txsize = need * 2;
	}
	c->tx[c->txlen] = 3;
	c->tx[c->txlen + 1] = 0;
	c->tx[c->txlen + 2] = (char)((len + TPKT_HDR) >> 8);
	c->tx[c->txlen + 3] = (char)((len + TPKT_HDR) & 0xff);
	memcpy(c->tx + c->txlen + TPKT_HDR, buf, len);
	c->txlen += TPKT_HDR + len;
	if (c->connecting)
		gw_fd_listen(c->fd, GW_FD_READ | GW_FD_WRITE, conn_event, c);
	else
		conn_flush(c);
}

static void tcp_accept(struct mg_tsx_ep *ep)
{
	struct sockaddr_storage ss;
	struct mg_addr peer;
	socklen_t slen;
	int fd, i;

	for (i = 0; i < RX_BURST; i++) {
		slen = sizeof(ss);
		fd = accept4(ep->fd, (struct sockaddr *)&ss, &slen,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (slen > sizeof(peer.sa)) {
			close(fd);
			continue;
		}
		memset(&peer, 0, sizeof(peer));
		memcpy(peer.sa.b, &ss, slen);
		peer.len = slen;
		conn_new(ep, fd, &peer);
	}
}

/* ------------------------------------------------------------------ */
/* The endpoint                                                       */
/* ------------------------------------------------------------------ */

static void ep_destroy(void *data)
{
	struct mg_tsx_ep *ep = data;
	struct tsx_out *out;
	struct tsx_peer *p;
	struct tsx_in *in;
	struct tcp_conn *c;
	unsigned h;
	size_t i;

	gw_tmr_cancel(&ep->sweep);
	gw_tmr_cancel(&ep->ack_tmr);
	if (ep->fd >= 0) {
		gw_fd_close(ep->fd);
		close(ep->fd);
	}
	while ((c = ep->conns))
		conn_close(c, "endpoint closed");
	for (h = 0; h < HASH_SIZE; h++) {
		while ((out = ep->out[h])) {
			ep->out[h] = out->next;
			gw_mem_deref(out);
		}
	}
	for (h = 0; h < ep->npb; h++) {
		while ((p = ep->peers[h])) {
			ep->peers[h] = p->next;
			for (i = 0; p->slot && i < (size_t)1 << p->bits; i++) {
				in = p->slot[i].expire ? NULL : p->slot[i].p;
				if (in && in->req) {	/* its owner holds req */
					in->req->in = NULL;
					in->req->ep = NULL;
				}
				gw_mem_deref(p->slot[i].p);
			}
			gw_mem_deref(p);
		}
	}
	gw_mem_deref(ep->peers);
	gw_mem_deref(ep->mid);
	gw_mem_deref(ep->rxbuf);
}

/**
 * Open an endpoint on local (port 0: any) with conf (copied; zeros get
 * the defaults); reqh (may be NULL: requests get 501) receives new
 * requests.  Returns 0, EINVAL, ENOMEM or the socket's errno.
 */
int mg_tsx_ep_alloc(struct mg_tsx_ep **epp, const struct mg_addr *local,
		    const struct mg_tsx_conf *conf, mg_tsx_req_h *reqh,
		    void *arg)
{
	struct mg_tsx_ep *ep;
	int err = 0, one = 1;

	if (!epp || !local || (local->len != sizeof(struct sockaddr_in) &&
				local->len != sizeof(struct sockaddr_in6)) ||
	    !conf || !conf->mid || !*conf->mid || conf->version > 3)
		return EINVAL;
	ep = gw_mem_zalloc(sizeof(*ep), ep_destroy);
	if (!ep)
		return ENOMEM;
	ep->fd = -1;
	gw_tmr_init(&ep->sweep);
	gw_tmr_init(&ep->ack_tmr);
	ep->conf = *conf;
	ep->conf.mid = NULL;
#define DEF(f, v) do { if (!ep->conf.f) ep->conf.f = (v); } while (0)
	DEF(version, 1);
	DEF(rto_init_ms, 200);
	DEF(rto_min_ms, 100);
	DEF(rto_max_ms, 4000);
	DEF(tmax_ms, 30000);
	DEF(long_timer_ms, 30000);
	DEF(pending_ms, 200);
	DEF(max_msg, 65507);
#undef DEF
	ep->reqh = reqh;
	ep->arg = arg;
	ep->rnd = gw_now_ms() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() ^
		(uintptr_t)ep;
	if (!ep->rnd)
		ep->rnd = 1;
	ep->next_id = 1 + rnd(ep, 0x10000);
	ep->mid = gw_mem_strdup(conf->mid);
	ep->rxbuf = gw_mem_alloc(ep->conf.max_msg + 1, NULL);
	if (!ep->mid || !ep->rxbuf) {
		err = ENOMEM;
		goto out;
	}
	ep->fd = socket(local->len == sizeof(struct sockaddr_in6) ? AF_INET6 :
			AF_INET, (conf->tcp ? SOCK_STREAM : SOCK_DGRAM) |
			SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ep->fd >= 0 && conf->tcp)
		setsockopt(ep->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ep->fd < 0 || bind(ep->fd, (const struct sockaddr *)local->sa.b,
			       local->len) < 0 ||
	    (conf->tcp && listen(ep->fd, 64) < 0)) {
		err = errno;
		GW_ERR("cannot open the H.248 %s socket: %s",
		       conf->tcp ? "TCP" : "UDP", strerror(err));
		goto out;
	}
	err = gw_fd_listen(ep->fd, GW_FD_READ, ep_readable, ep);
	if (err) {
		close(ep->fd);
		ep->fd = -1;
	}
 out:
	if (err)
		gw_mem_deref(ep);
	else
		*epp = ep;
	return err;
}

/** The address the endpoint is bound to (after port 0: the real one). */
int mg_tsx_ep_local(const struct mg_tsx_ep *ep, struct mg_addr *addr)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (!ep || !addr)
		return EINVAL;
	if (getsockname(ep->fd, (struct sockaddr *)&ss, &len) < 0)
		return errno;
	if (len > sizeof(addr->sa))
		return EAFNOSUPPORT;
	memset(addr, 0, sizeof(*addr));
	memcpy(addr->sa.b, &ss, len);
	addr->len = len;
	return 0;
}

/** The version of the requests sent from now on (after negotiation,
 * H.248.1 s.11.3); replies keep the version of their request. */
void mg_tsx_ep_set_version(struct mg_tsx_ep *ep, unsigned version)
{
	if (ep && version >= 1 && version <= 3)
		ep->conf.version = version;
}
