/* sip/dns.c - locating SIP servers by DNS (RFC 3263) on c-ares */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <ares.h>
#include <ares_nameser.h>

#define GW_LOG_MOD "sip"
#include "sip_int.h"

/*
 * A Request-URI with a host name becomes an ordered list of (transport,
 * address, port) targets, RFC 3263 s.4:
 *
 *   - maddr, when present, is the TARGET instead of the host (s.4);
 *   - an IP literal needs no DNS: transport from the URI, else UDP
 *     (sip:) or TLS (sips:), port from the URI, else the default;
 *   - a port but no transport: A/AAAA only, UDP or TLS (s.4.1, s.4.2);
 *   - a transport but no port: SRV for that transport, then A/AAAA;
 *   - neither: NAPTR on the domain; the usable records (SIP+D2U,
 *     SIP+D2T, SIPS+D2T, flag "s"), by order then preference, name the
 *     SRV to ask, the first that has records fixes the transport
 *     (s.4.1).  Without usable NAPTRs, SRV for _sip._udp, _sip._tcp and
 *     _sips._tcp (only _sips._tcp for sips:) in that order.  Without
 *     SRVs, A/AAAA of the domain on the default port, UDP for sip: and
 *     TLS for sips: (s.4.1, last paragraph; s.4.2).
 *
 * SRVs are ordered by priority, and within one priority by the weighted
 * random draw of RFC 2782; each SRV target gives its addresses, IPv4
 * before IPv6 unless conf.prefer_ipv6.  Only transports and address
 * families the UA has a listener for are kept (s.4.1: "discard any
 * records whose services are not supported"); a UA with no listener at
 * all keeps everything (a lookup only).
 *
 * c-ares runs on the UA's loop: its sockets are watched with
 * gw_fd_listen (the sock_state callback) and its timeouts with one
 * gw_tmr, so a lookup never blocks the loop (DESIGN.md, "Threads and
 * clocks").  Answers are cached per (name, type) for their TTL (RFC
 * 2181 s.8: the smallest TTL of the answer), capped by conf.max_ttl_s;
 * NXDOMAIN and NODATA for the SOA's negative TTL (RFC 2308 s.5), capped
 * by conf.neg_ttl_s.  An NXDOMAIN on the domain ends the resolution at
 * once: the names below it (_sip._udp.domain) cannot exist either (RFC
 * 8020 s.2), nor can its address records.  A query that times out ends
 * it too (ETIMEDOUT): a nameserver that did not answer one question
 * will not answer the next, and waiting out each step's timeout would
 * multiply the delay.  Names under "invalid." never reach the network
 * (RFC 6761 s.6.4).
 *
 * Results are always delivered from the loop, never from inside
 * sip_dns_resolve, so a caller never sees its handler run before the
 * call returns.
 */

#define DNS_TIMEOUT_MS_DEF	1000
#define DNS_TRIES_DEF		2
#define DNS_MAX_TTL_DEF		3600
#define DNS_NEG_TTL_DEF		30
#define DNS_CACHE_MAX		512	/* entries; the oldest go first */
#define DNS_MAX_NAPTR		8
#define DNS_MAX_SRV		16
#define DNS_MAX_ADDR		4	/* per SRV target and family */

struct dns_sock;
struct dns_cache;

struct sip_dns {
	struct sip_ua *ua;		/* borrowed: the UA owns us */
	ares_channel ch;
	bool ch_ok;
	struct gw_tmr tmr;		/* c-ares' next timeout */
	struct dns_sock *socks;		/* watched sockets */
	struct dns_cache *cache;	/* most recent first */
	unsigned n_cache;
	struct sip_dns_query *queries;	/* live resolutions (borrowed) */
	char *servers;
	struct sip_dns_conf conf;
	struct {
		uint64_t resolutions, queries, cache_hits, timeouts;
	} stats;
};

struct dns_sock {
	struct dns_sock *next;
	struct sip_dns *dns;		/* borrowed */
	int fd;
};

struct dns_cache {
	struct dns_cache *next;
	int type;
	int status;			/* ARES_SUCCESS, _ENODATA, _ENOTFOUND */
	uint64_t expires;
	unsigned char *abuf;		/* the answer as it came */
	int alen;
	char name[];
};

enum dns_step { STEP_NAPTR, STEP_SRV, STEP_ADDR, STEP_DONE };

struct naptr_ent {
	enum sip_transport tp;
	unsigned order, pref;
	char name[256];			/* the SRV name it replaces with */
};

struct srv_ent {
	enum sip_transport tp;
	unsigned prio, weight, port;
	char name[256];
	/* addresses found: [0] IPv4, [1] IPv6 */
	char addr[2][DNS_MAX_ADDR][INET6_ADDRSTRLEN];
	unsigned n_addr[2];
};

struct sip_dns_query {
	struct sip_dns_query *next;	/* dns->queries */
	struct sip_dns *dns;		/* borrowed; NULL once it is gone */
	sip_dns_h *h;			/* NULL once cancelled */
	void *arg;
	char name[256];			/* TARGET, lower case, no final dot */
	bool sips;
	int tp;				/* explicit transport, or -1 */
	unsigned port;			/* explicit port, or 0 */
	unsigned tpmask;		/* 1 << transport we may use */
	bool fam[2];			/* IPv4, IPv6 usable */
	enum dns_step step;
	unsigned pending;		/* lookups of this step under way */
	bool failed;			/* a server failure on the way */
	struct naptr_ent naptr[DNS_MAX_NAPTR];
	size_t n_naptr, i_naptr;
	enum sip_transport srv_tp[3];	/* SRVs to try without NAPTR */
	size_t n_srv_tp, i_srv_tp;
	struct srv_ent srv[DNS_MAX_SRV];
	size_t n_srv;
	struct sip_dns_target out[SIP_DNS_MAX_TARGETS];
	size_t n_out;
	int err;
	struct gw_tmr tmr;		/* delivers the result */
};

/* One question on the way: what it is for. */
struct dns_lookup {
	struct sip_dns_query *q;	/* referenced */
	struct sip_dns *dns;		/* borrowed (the cache) */
	int type;
	size_t idx;			/* the SRV entry, for A/AAAA */
	char name[256];
};

static void rearm(struct sip_dns *dns);
static void step_next(struct sip_dns_query *q);

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */
/* ------------------------------------------------------------------ */

static uint32_t rnd32(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)random();
	return r;
}

static unsigned default_port(enum sip_transport tp)
{
	return tp == SIP_TLS ? 5061 : 5060;	/* RFC 3261 s.19.1.2 */
}

/* The IP literal in s (v6 with or without brackets), into buf. */
static bool ip_literal(const char *s, char *buf, size_t size, int *famp)
{
	unsigned char a[16];
	size_t n = strlen(s);
	char tmp[INET6_ADDRSTRLEN + 2];

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		if (n - 2 >= sizeof(tmp))
			return false;
		memcpy(tmp, s + 1, n - 2);
		tmp[n - 2] = '\0';
		s = tmp;
	}
	if (inet_pton(AF_INET, s, a) == 1) {
		*famp = AF_INET;
		return inet_ntop(AF_INET, a, buf, (socklen_t)size) != NULL;
	}
	if (inet_pton(AF_INET6, s, a) == 1) {
		*famp = AF_INET6;
		return inet_ntop(AF_INET6, a, buf, (socklen_t)size) != NULL;
	}
	return false;
}

/* A host name as DNS takes it: lower case, no final dot, sane
 * characters (RFC 1035 s.2.3.4 lengths). */
static int norm_name(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src), i, label = 0;

	if (n && src[n - 1] == '.')
		n--;
	if (!n || n > 253 || n >= size)
		return EINVAL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '.') {
			if (!label)
				return EINVAL;
			label = 0;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (++label > 63)
				return EINVAL;
		} else {
			return EINVAL;
		}
		dst[i] = (char)tolower(c);
	}
	dst[n] = '\0';
	return label ? 0 : EINVAL;
}

static bool invalid_tld(const char *name)
{
	size_t n = strlen(name);

	return !strcmp(name, "invalid") ||
		(n > 8 && !strcmp(name + n - 8, ".invalid"));
}

/* Skip a (possibly compressed) name in a DNS message: the offset
 * after it, or -1. */
static int skip_name(const unsigned char *b, int len, int off)
{
	while (off < len) {
		unsigned c = b[off];

		if (c == 0)
			return off + 1;
		if ((c & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : -1;
		if (c & 0xc0)
			return -1;
		off += (int)c + 1;
	}
	return -1;
}

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		(uint32_t)p[2] << 8 | p[3];
}

/*
 * How long an answer may be kept, in seconds.  Positive: the smallest
 * TTL in the answer section (RFC 2181 s.5.2, s.8).  Negative: the
 * smaller of the SOA's TTL and its MINIMUM field (RFC 2308 s.5); def
 * when the authority section has no SOA.
 */
static uint32_t answer_ttl(const unsigned char *b, int len, bool negative,
			   uint32_t def)
{
	unsigned qd, an, ns, i;
	uint32_t ttl = UINT32_MAX;
	int off = 12;

	if (!b || len < 12)
		return negative ? def : 0;
	qd = (unsigned)b[4] << 8 | b[5];
	an = (unsigned)b[6] << 8 | b[7];
	ns = (unsigned)b[8] << 8 | b[9];
	for (i = 0; i < qd; i++) {
		off = skip_name(b, len, off);
		if (off < 0 || off + 4 > len)
			return negative ? def : 0;
		off += 4;
	}
	for (i = 0; i < an + ns; i++) {
		unsigned type, rdlen;
		uint32_t t;

		off = skip_name(b, len, off);
		if (off < 0 || off + 10 > len)
			break;
		type = (unsigned)b[off] << 8 | b[off + 1];
		t = rd32(b + off + 4);
		rdlen = (unsigned)b[off + 8] << 8 | b[off + 9];
		off += 10;
		if (off + (int)rdlen > len)
			break;
		if (t > 0x7fffffff)		/* RFC 2181 s.8 */
			t = 0;
		if (i < an && !negative && t < ttl)
			ttl = t;
		if (i >= an && negative && type == 6 && rdlen >= 20) {
			uint32_t min = rd32(b + off + rdlen - 4);

			t = t < min ? t : min;
			if (t < ttl)
				ttl = t;
		}
		off += (int)rdlen;
	}
	if (ttl == UINT32_MAX)
		return negative ? def : 0;
	return ttl;
}

/* ------------------------------------------------------------------ */
/* c-ares on the loop                                                 */
/* ------------------------------------------------------------------ */

static void sock_event(int flags, void *arg)
{
	struct dns_sock *s = arg;
	struct sip_dns *dns = s->dns;
	ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

	/* An error or hang-up is read: c-ares learns of it there. */
	if (flags & (GW_FD_READ | GW_FD_EXCEPT))
		rfd = s->fd;
	if (flags & GW_FD_WRITE)
		wfd = s->fd;
	gw_mem_ref(dns);
	ares_process_fd(dns->ch, rfd, wfd);	/* may free s */
	rearm(dns);
	gw_mem_deref(dns);
}

static void sock_state(void *data, ares_socket_t fd, int readable,
		       int writable)
{
	struct sip_dns *dns = data;
	struct dns_sock **pp, *s;

	for (pp = &dns->socks; (s = *pp); pp = &s->next)
		if (s->fd == fd)
			break;
	if (!readable && !writable) {
		if (s) {
			gw_fd_close(fd);
			*pp = s->next;
			gw_mem_deref(s);
		}
		return;
	}
	if (!s) {
		s = gw_mem_zalloc(sizeof(*s), NULL);
		if (!s)
			return;		/* the query will time out */
		s->dns = dns;
		s->fd = fd;
		s->next = dns->socks;
		dns->socks = s;
	}
	gw_fd_listen(fd, (readable ? GW_FD_READ : 0) |
		     (writable ? GW_FD_WRITE : 0), sock_event, s);
}

static void tmr_event(void *arg)
{
	struct sip_dns *dns = arg;

	gw_mem_ref(dns);
	ares_process_fd(dns->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm(dns);
	gw_mem_deref(dns);
}

/* Re-arm the timer on c-ares' next timeout, if it has queries. */
static void rearm(struct sip_dns *dns)
{
	struct timeval tv, *t;

	if (!dns->ch_ok)
		return;
	t = ares_timeout(dns->ch, NULL, &tv);
	if (!t) {
		gw_tmr_cancel(&dns->tmr);
		return;
	}
	gw_tmr_start(&dns->tmr, (uint64_t)t->tv_sec * 1000 +
		     ((uint64_t)t->tv_usec + 999) / 1000, tmr_event, dns);
}

static void cache_flush(struct sip_dns *dns)
{
	struct dns_cache *c;

	while ((c = dns->cache)) {
		dns->cache = c->next;
		free(c->abuf);
		free(c);
	}
	dns->n_cache = 0;
}

static void channel_close(struct sip_dns *dns)
{
	struct sip_dns_query *q;

	if (dns->ch_ok) {
		/* Every pending lookup gets ARES_EDESTRUCTION now. */
		ares_destroy(dns->ch);
		dns->ch_ok = false;
	}
	gw_tmr_cancel(&dns->tmr);
	while (dns->socks) {
		struct dns_sock *s = dns->socks;

		dns->socks = s->next;
		gw_fd_close(s->fd);
		gw_mem_deref(s);
	}
	for (q = dns->queries; q; q = q->next)
		q->dns = NULL;
	dns->queries = NULL;
}

static void dns_destroy(void *data)
{
	struct sip_dns *dns = data;

	channel_close(dns);
	cache_flush(dns);
	gw_mem_deref(dns->servers);
	ares_library_cleanup();
}

static int channel_open(struct sip_dns *dns)
{
	struct ares_options o;
	int r, mask = 0;

	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = dns;
	mask |= ARES_OPT_SOCK_STATE_CB;
	o.timeout = (int)dns->conf.timeout_ms;
	mask |= ARES_OPT_TIMEOUTMS;
	o.tries = (int)dns->conf.tries;
	mask |= ARES_OPT_TRIES;
	r = ares_init_options(&dns->ch, &o, mask);
	if (r != ARES_SUCCESS) {
		GW_ERR("dns: %s", ares_strerror(r));
		return r == ARES_ENOMEM ? ENOMEM : EIO;
	}
	dns->ch_ok = true;
	if (dns->servers) {
		r = ares_set_servers_ports_csv(dns->ch, dns->servers);
		if (r != ARES_SUCCESS) {
			GW_ERR("dns servers '%s': %s", dns->servers,
			       ares_strerror(r));
			ares_destroy(dns->ch);
			dns->ch_ok = false;
			return EINVAL;
		}
	}
	return 0;
}

static int dns_alloc(struct sip_dns **dnsp, struct sip_ua *ua,
		     const struct sip_dns_conf *dc)
{
	struct sip_dns *dns;
	int err;

	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		return ENOMEM;
	dns = gw_mem_zalloc(sizeof(*dns), dns_destroy);
	if (!dns) {
		ares_library_cleanup();
		return ENOMEM;
	}
	dns->ua = ua;
	gw_tmr_init(&dns->tmr);
	if (dc)
		dns->conf = *dc;
	if (dc && dc->servers && *dc->servers) {
		dns->servers = gw_mem_strdup(dc->servers);
		if (!dns->servers) {
			gw_mem_deref(dns);
			return ENOMEM;
		}
	}
	dns->conf.servers = dns->servers;
	if (!dns->conf.timeout_ms)
		dns->conf.timeout_ms = DNS_TIMEOUT_MS_DEF;
	if (!dns->conf.tries)
		dns->conf.tries = DNS_TRIES_DEF;
	if (!dns->conf.max_ttl_s)
		dns->conf.max_ttl_s = DNS_MAX_TTL_DEF;
	if (!dns->conf.neg_ttl_s)
		dns->conf.neg_ttl_s = DNS_NEG_TTL_DEF;
	err = channel_open(dns);
	if (err) {
		gw_mem_deref(dns);
		return err;
	}
	*dnsp = dns;
	return 0;
}

static struct sip_dns *dns_get(struct sip_ua *ua)
{
	if (!ua->dns && dns_alloc(&ua->dns, ua, NULL))
		return NULL;
	return ua->dns;
}

/**
 * Configure ua's resolver (dc NULL: /etc/resolv.conf and defaults).
 * The cache starts empty.  EBUSY while a resolution is under way;
 * EINVAL for a server list c-ares cannot read.
 */
int sip_dns_set_conf(struct sip_ua *ua, const struct sip_dns_conf *dc)
{
	struct sip_dns *dns = NULL;
	int err;

	if (!ua)
		return EINVAL;
	if (ua->dns && ua->dns->queries)
		return EBUSY;
	err = dns_alloc(&dns, ua, dc);
	if (err)
		return err;
	gw_mem_deref(ua->dns);
	ua->dns = dns;
	return 0;
}

/** UA shutdown: stop every lookup, drop the cache (tsx.c). */
void sip_dns_close(struct sip_ua *ua)
{
	ua->dns = gw_mem_deref(ua->dns);
}

/* ------------------------------------------------------------------ */
/* The cache                                                          */
/* ------------------------------------------------------------------ */

static struct dns_cache *cache_find(struct sip_dns *dns, const char *name,
				    int type)
{
	struct dns_cache **pp = &dns->cache, *c;
	uint64_t now = gw_now_ms();

	while ((c = *pp)) {
		if (c->expires <= now) {
			*pp = c->next;
			free(c->abuf);
			free(c);
			dns->n_cache--;
			continue;
		}
		if (c->type == type && !strcmp(c->name, name))
			return c;
		pp = &c->next;
	}
	return NULL;
}

static void cache_put(struct sip_dns *dns, const char *name, int type,
		      int status, const unsigned char *abuf, int alen)
{
	bool neg = status != ARES_SUCCESS;
	uint32_t ttl = answer_ttl(abuf, alen, neg, dns->conf.neg_ttl_s);
	uint32_t cap = neg ? dns->conf.neg_ttl_s : dns->conf.max_ttl_s;
	struct dns_cache *c, **pp;
	size_t n = strlen(name);

	if (ttl > cap)
		ttl = cap;
	if (!ttl)
		return;			/* TTL 0: use once (RFC 1035 s.3.2.1) */
	c = cache_find(dns, name, type);
	if (c)
		c->expires = 0;		/* replaced below; swept later */
	c = calloc(1, sizeof(*c) + n + 1);
	if (!c)
		return;
	if (abuf && alen > 0) {
		c->abuf = malloc((size_t)alen);
		if (!c->abuf) {
			free(c);
			return;
		}
		memcpy(c->abuf, abuf, (size_t)alen);
		c->alen = alen;
	}
	memcpy(c->name, name, n + 1);
	c->type = type;
	c->status = status;
	c->expires = gw_now_ms() + (uint64_t)ttl * 1000;
	c->next = dns->cache;
	dns->cache = c;
	if (++dns->n_cache <= DNS_CACHE_MAX)
		return;
	/* Full: drop the oldest. */
	for (pp = &dns->cache; (*pp)->next; pp = &(*pp)->next)
		;
	free((*pp)->abuf);
	free(*pp);
	*pp = NULL;
	dns->n_cache--;
}

/* ------------------------------------------------------------------ */
/* Resolution steps                                                   */
/* ------------------------------------------------------------------ */

static void query_destroy(void *data)
{
	struct sip_dns_query *q = data;
	struct sip_dns_query **pp;

	gw_tmr_cancel(&q->tmr);
	if (!q->dns)
		return;
	for (pp = &q->dns->queries; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
}

static void deliver(void *arg)
{
	struct sip_dns_query *q = arg;
	sip_dns_h *h = q->h;

	if (!h)
		return;
	q->h = NULL;
	gw_mem_ref(q);
	h(q->err, q->err ? NULL : q->out, q->err ? 0 : q->n_out, q->arg);
	gw_mem_deref(q);
}

static void finish(struct sip_dns_query *q, int err)
{
	char b[INET6_ADDRSTRLEN + 16];

	if (q->step == STEP_DONE)
		return;
	q->step = STEP_DONE;
	q->err = err;
	if (!err && !q->n_out)
		q->err = q->failed ? EIO : ENOENT;
	if (q->err)
		GW_INFO("dns %s: %s", q->name, strerror(q->err));
	else if (gw_log_enabled(GW_LOG_MOD, GW_LOG_DEBUG)) {
		size_t i;

		for (i = 0; i < q->n_out; i++) {
			snprintf(b, sizeof(b), strchr(q->out[i].addr, ':') ?
				 "[%s]:%u" : "%s:%u", q->out[i].addr,
				 q->out[i].port);
			GW_DBG("dns %s: %zu. %s %s", q->name, i + 1,
			       sip_transport_name(q->out[i].transport), b);
		}
	}
	gw_tmr_start(&q->tmr, 0, deliver, q);
}

static void add_out(struct sip_dns_query *q, enum sip_transport tp,
		    const char *addr, unsigned port)
{
	struct sip_dns_target *t;
	size_t i;

	if (q->n_out >= SIP_DNS_MAX_TARGETS)
		return;
	for (i = 0; i < q->n_out; i++)
		if (q->out[i].transport == tp && q->out[i].port == port &&
		    !strcmp(q->out[i].addr, addr))
			return;		/* named twice: tried once */
	t = &q->out[q->n_out++];
	t->transport = tp;
	snprintf(t->addr, sizeof(t->addr), "%s", addr);
	t->port = port;
}

static void lookup_done(struct dns_lookup *l, int status,
			const unsigned char *abuf, int alen);

static void lookup_destroy(void *data)
{
	struct dns_lookup *l = data;

	gw_mem_deref(l->q);
}

static void ares_done(void *arg, int status, int timeouts,
		      unsigned char *abuf, int alen)
{
	struct dns_lookup *l = arg;

	(void)timeouts;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		gw_mem_deref(l);
		return;
	}
	if (l->q->dns == l->dns && (status == ARES_SUCCESS ||
				    status == ARES_ENODATA ||
				    status == ARES_ENOTFOUND))
		cache_put(l->dns, l->name, l->type, status, abuf, alen);
	if (status == ARES_ETIMEOUT)
		l->dns->stats.timeouts++;
	lookup_done(l, status, abuf, alen);
	gw_mem_deref(l);
}

/* Ask (name, type) for q: from the cache, else from the network. */
static void lookup(struct sip_dns_query *q, const char *name, int type,
		   size_t idx)
{
	struct sip_dns *dns = q->dns;
	struct dns_lookup *l;
	struct dns_cache *c;

	l = gw_mem_zalloc(sizeof(*l), lookup_destroy);
	if (!l) {
		finish(q, ENOMEM);
		return;
	}
	l->q = gw_mem_ref(q);
	l->dns = dns;
	l->type = type;
	l->idx = idx;
	snprintf(l->name, sizeof(l->name), "%s", name);
	q->pending++;
	c = cache_find(dns, name, type);
	if (c) {
		dns->stats.cache_hits++;
		lookup_done(l, c->status, c->abuf, c->alen);
		gw_mem_deref(l);
		return;
	}
	dns->stats.queries++;
	GW_DBG("dns: ask %s %s", name, type == T_NAPTR ? "NAPTR" :
	       type == T_SRV ? "SRV" : type == T_A ? "A" : "AAAA");
	/* ares_query, not ares_search: a Request-URI host is absolute. */
	ares_query(dns->ch, name, C_IN, type, ares_done, l);
}

static int naptr_tp(const char *service, bool sips, enum sip_transport *tpp)
{
	/* RFC 3263 s.4.1; a SIPS URI takes only SIPS+D2T. */
	if (!strcasecmp(service, "SIPS+D2T"))
		*tpp = SIP_TLS;
	else if (!sips && !strcasecmp(service, "SIP+D2T"))
		*tpp = SIP_TCP;
	else if (!sips && !strcasecmp(service, "SIP+D2U"))
		*tpp = SIP_UDP;
	else
		return ENOTSUP;
	return 0;
}

static void naptr_parse(struct sip_dns_query *q, const unsigned char *abuf,
			int alen)
{
	struct ares_naptr_reply *list = NULL, *r;
	size_t i, j;

	if (ares_parse_naptr_reply(abuf, alen, &list) != ARES_SUCCESS)
		return;
	for (r = list; r && q->n_naptr < DNS_MAX_NAPTR; r = r->next) {
		struct naptr_ent e;

		if (!r->flags || strcasecmp((const char *)r->flags, "s") ||
		    !r->service || !r->replacement ||
		    naptr_tp((const char *)r->service, q->sips, &e.tp) ||
		    !(q->tpmask & (1u << e.tp)) ||
		    norm_name(e.name, sizeof(e.name), r->replacement))
			continue;
		e.order = r->order;
		e.pref = r->preference;
		/* Insert sorted by order, then preference (RFC 3403 s.4.1). */
		for (i = 0; i < q->n_naptr; i++)
			if (e.order < q->naptr[i].order ||
			    (e.order == q->naptr[i].order &&
			     e.pref < q->naptr[i].pref))
				break;
		for (j = q->n_naptr; j > i; j--)
			q->naptr[j] = q->naptr[j - 1];
		q->naptr[i] = e;
		q->n_naptr++;
	}
	ares_free_data(list);
}

/* RFC 2782 "Usage rules": by priority; within one, repeatedly draw a
 * random number in [0, sum of the weights] and take the first record
 * whose running sum reaches it, records of weight 0 first. */
static void srv_order(struct srv_ent *e, size_t n)
{
	size_t i, j, k, pos;
	struct srv_ent tmp;

	for (i = 1; i < n; i++) {		/* stable, by priority */
		tmp = e[i];
		for (j = i; j > 0 && e[j - 1].prio > tmp.prio; j--)
			e[j] = e[j - 1];
		e[j] = tmp;
	}
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && e[j].prio == e[i].prio; j++)
			;
		/* weight 0 to the front, keeping the order otherwise */
		for (k = i + 1, pos = i; k < j; k++) {
			if (e[k].weight)
				continue;
			tmp = e[k];
			memmove(&e[pos + 1], &e[pos],
				(k - pos) * sizeof(*e));
			e[pos++] = tmp;
		}
		for (pos = i; pos + 1 < j; pos++) {
			uint64_t sum = 0, run = 0, r;

			for (k = pos; k < j; k++)
				sum += e[k].weight;
			r = sum ? rnd32() % (sum + 1) : 0;
			for (k = pos; k < j; k++) {
				run += e[k].weight;
				if (run >= r)
					break;
			}
			if (k == j)
				k = j - 1;
			tmp = e[k];
			memmove(&e[pos + 1], &e[pos], (k - pos) * sizeof(*e));
			e[pos] = tmp;
		}
	}
}

static size_t srv_parse(struct sip_dns_query *q, enum sip_transport tp,
			const unsigned char *abuf, int alen)
{
	struct ares_srv_reply *list = NULL, *r;

	q->n_srv = 0;
	if (ares_parse_srv_reply(abuf, alen, &list) != ARES_SUCCESS)
		return 0;
	for (r = list; r && q->n_srv < DNS_MAX_SRV; r = r->next) {
		struct srv_ent *e = &q->srv[q->n_srv];

		/* "." : the service is decidedly not here (RFC 2782). */
		if (!r->host || !*r->host || !strcmp(r->host, ".") ||
		    !r->port)
			continue;
		memset(e, 0, sizeof(*e));
		if (norm_name(e->name, sizeof(e->name), r->host)) {
			int fam;

			/* Not a host name; an address is tolerated. */
			if (!ip_literal(r->host, e->name, sizeof(e->name),
					&fam))
				continue;
		}
		e->tp = tp;
		e->prio = r->priority;
		e->weight = r->weight;
		e->port = r->port;
		q->n_srv++;
	}
	ares_free_data(list);
	srv_order(q->srv, q->n_srv);
	return q->n_srv;
}

static void addr_parse(struct sip_dns_query *q, struct dns_lookup *l,
		       const unsigned char *abuf, int alen)
{
	struct srv_ent *e = &q->srv[l->idx];
	int f = l->type == T_AAAA, n = DNS_MAX_ADDR, i;

	if (f) {
		struct ares_addr6ttl a6[DNS_MAX_ADDR];

		if (ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n) !=
		    ARES_SUCCESS)
			return;
		for (i = 0; i < n; i++)
			inet_ntop(AF_INET6, &a6[i].ip6addr,
				  e->addr[1][e->n_addr[1]++],
				  INET6_ADDRSTRLEN);
	} else {
		struct ares_addrttl a4[DNS_MAX_ADDR];

		if (ares_parse_a_reply(abuf, alen, NULL, a4, &n) !=
		    ARES_SUCCESS)
			return;
		for (i = 0; i < n; i++)
			inet_ntop(AF_INET, &a4[i].ipaddr,
				  e->addr[0][e->n_addr[0]++],
				  INET6_ADDRSTRLEN);
	}
}

/* Start the address step: A and/or AAAA for every SRV entry. */
static void start_addr(struct sip_dns_query *q)
{
	size_t i;

	q->step = STEP_ADDR;
	q->pending++;			/* held while we launch */
	for (i = 0; i < q->n_srv && q->step == STEP_ADDR; i++) {
		struct srv_ent *e = &q->srv[i];
		int fam;
		char lit[INET6_ADDRSTRLEN];

		if (ip_literal(e->name, lit, sizeof(lit), &fam)) {
			snprintf(e->addr[fam == AF_INET6][0], INET6_ADDRSTRLEN,
				 "%s", lit);
			e->n_addr[fam == AF_INET6] = 1;
			continue;
		}
		if (q->fam[0])
			lookup(q, e->name, T_A, i);
		if (q->fam[1] && q->step == STEP_ADDR)
			lookup(q, e->name, T_AAAA, i);
	}
	q->pending--;
	step_next(q);
}

static void start_srv(struct sip_dns_query *q, const char *name,
		      enum sip_transport tp)
{
	q->step = STEP_SRV;
	q->n_srv = 0;
	lookup(q, name, T_SRV, (size_t)tp);	/* idx: the transport */
}

static void srv_name(char *buf, size_t size, enum sip_transport tp,
		     const char *domain)
{
	snprintf(buf, size, "%s.%s", tp == SIP_TLS ? "_sips._tcp" :
		 tp == SIP_TCP ? "_sip._tcp" : "_sip._udp", domain);
}

/* No SRV: the domain's own addresses on the default port (s.4.2). */
static void start_plain(struct sip_dns_query *q, enum sip_transport tp,
			unsigned port)
{
	struct srv_ent *e = &q->srv[0];

	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", q->name);
	e->tp = tp;
	e->port = port;
	q->n_srv = 1;
	start_addr(q);
}

/* Try the next SRV candidate after one gave nothing; at the end,
 * fall back on the domain's addresses. */
static void srv_next(struct sip_dns_query *q)
{
	char name[300];
	enum sip_transport tp;

	if (q->i_naptr < q->n_naptr) {
		struct naptr_ent *e = &q->naptr[q->i_naptr++];

		start_srv(q, e->name, e->tp);
		return;
	}
	if (q->i_srv_tp < q->n_srv_tp) {
		tp = q->srv_tp[q->i_srv_tp++];
		srv_name(name, sizeof(name), tp, q->name);
		start_srv(q, name, tp);
		return;
	}
	/* s.4.1: "If no SRV records are found, the client SHOULD use TCP
	 * for a SIPS URI, and UDP for a SIP URI" (TLS over TCP here). */
	tp = q->tp >= 0 ? (enum sip_transport)q->tp :
		q->sips ? SIP_TLS : SIP_UDP;
	if (!(q->tpmask & (1u << tp))) {
		finish(q, 0);
		return;
	}
	start_plain(q, tp, default_port(tp));
}

/* After NAPTR: the SRVs it named, else the ones we would guess. */
static void after_naptr(struct sip_dns_query *q)
{
	static const enum sip_transport order[] = {
		SIP_UDP, SIP_TCP, SIP_TLS
	};
	size_t i;

	q->i_naptr = 0;
	q->n_srv_tp = 0;
	q->i_srv_tp = 0;
	if (!q->n_naptr) {
		for (i = 0; i < GW_ARRAY_SIZE(order); i++) {
			if (q->sips && order[i] != SIP_TLS)
				continue;
			if (q->tp >= 0 && order[i] != (enum sip_transport)q->tp)
				continue;
			if (q->tpmask & (1u << order[i]))
				q->srv_tp[q->n_srv_tp++] = order[i];
		}
	}
	srv_next(q);
}

/* Every lookup of the step has answered: on to the next step. */
static void step_next(struct sip_dns_query *q)
{
	size_t i;
	int f, first;
	unsigned k;

	if (q->pending || q->step == STEP_DONE)
		return;
	switch (q->step) {
	case STEP_NAPTR:
		after_naptr(q);
		break;
	case STEP_SRV:
		if (q->n_srv)
			start_addr(q);
		else
			srv_next(q);
		break;
	case STEP_ADDR:
		first = q->dns && q->dns->conf.prefer_ipv6 ? 1 : 0;
		for (i = 0; i < q->n_srv; i++)
			for (f = 0; f < 2; f++) {
				int fam = f ? !first : first;
				struct srv_ent *e = &q->srv[i];

				for (k = 0; k < e->n_addr[fam]; k++)
					add_out(q, e->tp, e->addr[fam][k],
						e->port);
			}
		finish(q, 0);
		break;
	case STEP_DONE:
		break;
	}
}

static void lookup_done(struct dns_lookup *l, int status,
			const unsigned char *abuf, int alen)
{
	struct sip_dns_query *q = l->q;

	q->pending--;
	if (q->step == STEP_DONE || !q->h || !q->dns)
		return;
	switch (status) {
	case ARES_SUCCESS:
		if (l->type == T_NAPTR)
			naptr_parse(q, abuf, alen);
		else if (l->type == T_SRV)
			srv_parse(q, (enum sip_transport)l->idx, abuf, alen);
		else
			addr_parse(q, l, abuf, alen);
		break;
	case ARES_ENOTFOUND:
		/* NXDOMAIN for the domain itself: nothing below it exists
		 * either (RFC 8020 s.2). */
		if (l->type == T_NAPTR) {
			finish(q, ENOENT);
			return;
		}
		break;
	case ARES_ENODATA:
		break;
	case ARES_ETIMEOUT:
		GW_LOG_LIMITED(GW_LOG_WARN, "dns %s: no answer from the "
			       "nameserver for %s", q->name, l->name);
		finish(q, ETIMEDOUT);
		return;
	case ARES_ENOMEM:
		finish(q, ENOMEM);
		return;
	default:
		/* SERVFAIL, REFUSED, a refused connection: this question
		 * has no answer; the others may still have one. */
		GW_LOG_LIMITED(GW_LOG_WARN, "dns %s %s: %s", l->name,
			       l->type == T_NAPTR ? "NAPTR" :
			       l->type == T_SRV ? "SRV" : "A/AAAA",
			       ares_strerror(status));
		q->failed = true;
		break;
	}
	step_next(q);
}

/* The transports and families ua can send over: those it listens on;
 * all of them when it listens on nothing (a lookup only). */
static void usable(struct sip_dns_query *q, struct sip_ua *ua)
{
	enum sip_transport tp;

	q->tpmask = 0;
	q->fam[0] = q->fam[1] = false;
	for (tp = SIP_UDP; tp <= SIP_TLS; tp++) {
		bool v4 = sip_transport_lsnr(ua, tp, AF_INET) != NULL;
		bool v6 = sip_transport_lsnr(ua, tp, AF_INET6) != NULL;

		if (v4 || v6)
			q->tpmask |= 1u << tp;
		q->fam[0] |= v4;
		q->fam[1] |= v6;
	}
	if (!q->tpmask) {
		q->tpmask = 1u << SIP_UDP | 1u << SIP_TCP | 1u << SIP_TLS;
		q->fam[0] = q->fam[1] = true;
	}
}

/* Scheme, transport, port and TARGET of uri (RFC 3263 s.4). */
static int uri_parts(struct sip_dns_query *q, const osip_uri_t *u,
		     const char **hostp)
{
	const char *tp, *maddr;

	if (!u || !u->scheme || !u->host || !*u->host)
		return EINVAL;
	if (!strcasecmp(u->scheme, "sips"))
		q->sips = true;
	else if (strcasecmp(u->scheme, "sip"))
		return EPROTONOSUPPORT;
	q->tp = -1;
	tp = sip_uri_param(u, "transport");
	if (tp && *tp) {
		if (!strcasecmp(tp, "udp") && !q->sips)
			q->tp = SIP_UDP;
		else if (!strcasecmp(tp, "tcp"))
			q->tp = q->sips ? SIP_TLS : SIP_TCP;
		else if (!strcasecmp(tp, "tls"))
			q->tp = SIP_TLS;
		else
			return EPROTONOSUPPORT;	/* sctp, ws... */
	}
	q->port = 0;
	if (u->port && *u->port) {
		char *end;
		long p = strtol(u->port, &end, 10);

		if (*end || p <= 0 || p > 65535)
			return EINVAL;
		q->port = (unsigned)p;
	}
	maddr = sip_uri_param(u, "maddr");
	*hostp = maddr && *maddr ? maddr : u->host;
	return 0;
}

static int resolve_uri(struct sip_dns_query **qp, struct sip_ua *ua,
		       const osip_uri_t *u, sip_dns_h *h, void *arg)
{
	struct sip_dns_query *q;
	struct sip_dns *dns;
	const char *host = NULL;
	char lit[INET6_ADDRSTRLEN];
	int err, fam;

	dns = dns_get(ua);
	if (!dns)
		return ENOMEM;
	q = gw_mem_zalloc(sizeof(*q), query_destroy);
	if (!q)
		return ENOMEM;
	gw_tmr_init(&q->tmr);
	q->h = h;
	q->arg = arg;
	err = uri_parts(q, u, &host);
	if (err) {
		gw_mem_deref(q);
		return err;
	}
	usable(q, ua);
	q->dns = dns;
	q->next = dns->queries;
	dns->queries = q;
	dns->stats.resolutions++;
	if (ip_literal(host, lit, sizeof(lit), &fam)) {
		/* s.4.1/s.4.2: a numeric TARGET needs no DNS. */
		enum sip_transport tp = q->tp >= 0 ?
			(enum sip_transport)q->tp :
			q->sips ? SIP_TLS : SIP_UDP;

		snprintf(q->name, sizeof(q->name), "%s", lit);
		q->step = STEP_ADDR;
		add_out(q, tp, lit, q->port ? q->port : default_port(tp));
		finish(q, 0);
		goto out;
	}
	if (norm_name(q->name, sizeof(q->name), host)) {
		gw_mem_deref(q);
		return EINVAL;
	}
	if (invalid_tld(q->name)) {
		q->step = STEP_NAPTR;
		finish(q, ENOENT);
		goto out;
	}
	if (q->port) {
		/* s.4.2: a port means A/AAAA, no SRV; s.4.1: no NAPTR. */
		enum sip_transport tp = q->tp >= 0 ?
			(enum sip_transport)q->tp :
			q->sips ? SIP_TLS : SIP_UDP;

		if (!(q->tpmask & (1u << tp))) {
			q->step = STEP_ADDR;
			finish(q, 0);
			goto out;
		}
		start_plain(q, tp, q->port);
	} else if (q->tp >= 0) {
		/* s.4.1: a transport parameter skips NAPTR. */
		q->step = STEP_NAPTR;
		after_naptr(q);
	} else {
		q->step = STEP_NAPTR;
		lookup(q, q->name, T_NAPTR, 0);
	}
 out:
	rearm(dns);
	*qp = q;
	return 0;
}

/**
 * Resolve uri (a sip: or sips: URI) to its ordered targets (RFC 3263
 * s.4).  h gets them once, later, from the loop: 0 and the targets, or
 * ENOENT (no such name or nothing to use), ETIMEDOUT (the nameservers
 * did not answer), EIO (they failed).  *qp gets the query, for
 * sip_dns_cancel; it must be cancelled (or have answered) before ua
 * goes.
 */
int sip_dns_resolve(struct sip_dns_query **qp, struct sip_ua *ua,
		    const char *uri, sip_dns_h *h, void *arg)
{
	osip_uri_t *u = NULL;
	int err;

	if (!qp || !ua || !uri || !h)
		return EINVAL;
	if (osip_uri_init(&u) < 0)
		return ENOMEM;
	if (osip_uri_parse(u, uri) < 0) {
		osip_uri_free(u);
		return EINVAL;
	}
	err = resolve_uri(qp, ua, u, h, arg);
	osip_uri_free(u);
	return err;
}

/** Stop q: its handler will not be called.  Returns NULL. */
struct sip_dns_query *sip_dns_cancel(struct sip_dns_query *q)
{
	if (!q)
		return NULL;
	q->h = NULL;
	gw_tmr_cancel(&q->tmr);
	return gw_mem_deref(q);
}

/** The resolver's counters, for `junctionctl sip`. */
json_t *sip_dns_json(const struct sip_ua *ua)
{
	const struct sip_dns *dns = ua ? ua->dns : NULL;

	if (!dns)
		return json_pack("{s:I,s:I,s:I,s:I,s:i}", "resolutions",
				 (json_int_t)0, "queries", (json_int_t)0,
				 "cache_hits", (json_int_t)0, "timeouts",
				 (json_int_t)0, "cached", 0);
	return json_pack("{s:I,s:I,s:I,s:I,s:i}",
			 "resolutions", (json_int_t)dns->stats.resolutions,
			 "queries", (json_int_t)dns->stats.queries,
			 "cache_hits", (json_int_t)dns->stats.cache_hits,
			 "timeouts", (json_int_t)dns->stats.timeouts,
			 "cached", (int)dns->n_cache);
}

/**
 * A listener to build a request for uri with before its target is
 * resolved (tsx.c rewrites Via and Contact for each target): one for
 * the transport the URI names or implies, else any.  *tpp gets its
 * transport.  NULL when the UA has no listener.
 */
struct sip_lsnr *sip_dns_lsnr_hint(struct sip_ua *ua, const osip_uri_t *u,
				   enum sip_transport *tpp)
{
	struct sip_dns_query q;
	struct sip_lsnr *l = NULL;
	const char *host;
	enum sip_transport tp = SIP_UDP;

	memset(&q, 0, sizeof(q));
	if (!uri_parts(&q, u, &host))
		tp = q.tp >= 0 ? (enum sip_transport)q.tp :
			q.sips ? SIP_TLS : SIP_UDP;
	l = sip_transport_lsnr(ua, tp, AF_INET);
	if (!l)
		l = sip_transport_lsnr(ua, tp, AF_INET6);
	if (!l)
		l = ua->lsnrs;
	if (l)
		*tpp = l->tp;
	return l;
}
