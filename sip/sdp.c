/* sip/sdp.c - SDP offer/answer (RFC 3264) on libosip2's SDP parser */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

/* libosip2's headers want the time headers first (notes/libraries.md). */
#include <osipparser2/sdp_message.h>

#define GW_LOG_MOD "sdp"
#include "core.h"
#include "sdp.h"

/*
 * libosip2 tokenises the SDP text (sdp_message_parse) and we translate its
 * sdp_message_t into struct sip_sdp at once, checking what libosip2 does
 * not: numeric ports, versions and payload types, address types, rtpmap
 * syntax, a c= line for every active stream.  sdp_message_parse needs no
 * parser_init(): that call sets up the SIP header tables only.
 *
 * Encoding is ours (two passes of snprintf: measure, then write), so the
 * text is exactly what we model, with CRLF line ends (RFC 4566 s.5).
 *
 * Negotiation follows RFC 3264: an answer has one m= line per offered
 * one, in order (s.6); a stream we refuse gets port 0 and one of its
 * offered formats; for audio we take the first offered codec that we
 * support (the offerer's preference, s.6.1) under the offerer's payload
 * type number.  The gateway bridges one call leg to one B-channel, so at
 * most one audio stream and one T.38 stream are accepted; later ones are
 * refused.  An offer none of whose active streams we can take is EPROTO
 * (the SIP layer answers 488), rather than an answer with every port 0.
 */

/* RTP/AVP static payload types (RFC 3551 tables 4 and 5). */
static const struct {
	unsigned pt;
	const char *name;
	unsigned rate;
	unsigned channels;
} static_pts[] = {
	{ 0, "PCMU", 8000, 1 },		{ 3, "GSM", 8000, 1 },
	{ 4, "G723", 8000, 1 },		{ 5, "DVI4", 8000, 1 },
	{ 6, "DVI4", 16000, 1 },	{ 7, "LPC", 8000, 1 },
	{ 8, "PCMA", 8000, 1 },		{ 9, "G722", 8000, 1 },
	{ 10, "L16", 44100, 2 },	{ 11, "L16", 44100, 1 },
	{ 12, "QCELP", 8000, 1 },	{ 13, "CN", 8000, 1 },
	{ 14, "MPA", 90000, 1 },	{ 15, "G728", 8000, 1 },
	{ 16, "DVI4", 11025, 1 },	{ 17, "DVI4", 22050, 1 },
	{ 18, "G729", 8000, 1 },	{ 25, "CelB", 90000, 1 },
	{ 26, "JPEG", 90000, 1 },	{ 28, "nv", 90000, 1 },
	{ 31, "H261", 90000, 1 },	{ 32, "MPV", 90000, 1 },
	{ 33, "MP2T", 90000, 1 },	{ 34, "H263", 90000, 1 },
	{ 31, "H261", 90000, 1 },	{ 32, "MPV", 90000, 1 },
	{ 33, "MP2T", 90000, 1 },	{ 34, "H263", 90000, 1 },
};

/* What a gateway offers by default; the media issue extends it. */
static const struct sip_sdp_codec default_codecs[] = {
	{ "PCMA", 8000, 1, 8, NULL },
	{ "PCMU", 8000, 1, 0, NULL },
	{ "G722", 8000, 1, 9, NULL },
	{ "G729", 8000, 1, 18, "annexb=no" },
	{ "GSM", 8000, 1, 3, NULL },
	{ "opus", 48000, 2, SIP_SDP_PT_DYNAMIC, NULL },
	{ "G726-32", 8000, 1, SIP_SDP_PT_DYNAMIC, NULL },
};

/* RFC 4733 s.7.1.1: no fmtp means events 0-15. */
#define TE_DEFAULT_EVENTS "0-15"

/* An SDP body larger than a SIP message may be is not one we take. */
#define SDP_MAX_LEN 65536

/* NULs after the text handed to libosip2 (see sip_sdp_parse). */
#define BUF_PAD 4

static const char *const dir_names[] = {
	[SIP_SDP_INACTIVE] = "inactive",
	[SIP_SDP_SENDONLY] = "sendonly",
	[SIP_SDP_RECVONLY] = "recvonly",
	[SIP_SDP_SENDRECV] = "sendrecv",
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */
/* ------------------------------------------------------------------ */

/* Decimal digits only, at most max. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *vp)
{
	uint64_t v = 0;

	if (!s || !*s)
		return false;
	for (; *s; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return false;
		d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*vp = v;
	return true;
}

/* Read one or more digits at *pp (at most max), advancing *pp. */
static bool read_uint(const char **pp, uint64_t max, uint64_t *vp)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*pp = p;
	*vp = v;
	return true;
}

/* Visible characters only: no blank, no control (RFC 4566 token). */
static bool is_token(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	return n > 0;
}

/* Text of one line: no CR, LF or other control but tab.  libosip2 can
 * hand us a value that runs across a line end when CRLF and bare LF are
 * mixed; such a value must never reach our encoder. */
static bool is_text(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* Copy a token that fits, else false. */
static bool copy_tok(char *dst, size_t size, const char *src)
{
	size_t n;

	if (!src)
		return false;
	n = strlen(src);
	if (n >= size || !is_token(src, n))
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

static enum sip_sdp_dir dir_invert(enum sip_sdp_dir dir)
{
	return (enum sip_sdp_dir)(((dir & SIP_SDP_SENDONLY) << 1) |
				  ((dir & SIP_SDP_RECVONLY) >> 1));
}

static bool dir_parse(const char *s, enum sip_sdp_dir *dirp)
{
	size_t i;

	for (i = 0; i < GW_ARRAY_SIZE(dir_names); i++) {
		if (!strcasecmp(s, dir_names[i])) {
			*dirp = (enum sip_sdp_dir)i;
			return true;
		}
	}
	return false;
}

/** The attribute name of dir: "sendrecv", "sendonly", ... */
const char *sip_sdp_dir_name(enum sip_sdp_dir dir)
{
	if ((unsigned)dir >= GW_ARRAY_SIZE(dir_names))
		return "?";
	return dir_names[dir];
}

static enum sip_sdp_mtype mtype_of(const char *media)
{
	if (!strcasecmp(media, "audio"))
		return SIP_SDP_AUDIO;
	if (!strcasecmp(media, "image"))
		return SIP_SDP_IMAGE;
	return SIP_SDP_OTHER;
}

static enum sip_sdp_proto proto_of(const char *proto)
{
	if (!strcasecmp(proto, "RTP/AVP"))
		return SIP_SDP_RTP_AVP;
	if (!strcasecmp(proto, "RTP/SAVP"))
		return SIP_SDP_RTP_SAVP;
	if (!strcasecmp(proto, "udptl"))
		return SIP_SDP_UDPTL;
	return SIP_SDP_PROTO_OTHER;
}

/* RTP profiles carry payload type numbers as formats (RFC 4566 s.5.14). */
static bool proto_is_rtp(const char *proto)
{
	return !strncasecmp(proto, "RTP/", 4);
}

static const char *af_name(enum sip_sdp_af af)
{
	return af == SIP_SDP_IP6 ? "IP6" : "IP4";
}

static bool af_parse(const char *s, enum sip_sdp_af *afp)
{
	if (s && !strcasecmp(s, "IP4"))
		*afp = SIP_SDP_IP4;
	else if (s && !strcasecmp(s, "IP6"))
		*afp = SIP_SDP_IP6;
	else
		return false;
	return true;
}

/* c=IN IP4 0.0.0.0 (or ::): RFC 2543 hold, RFC 3264 s.8.4. */
static bool conn_is_zero(const struct sip_sdp_conn *c)
{
	unsigned char a[16];
	size_t i, n;

	if (!c || c->af == SIP_SDP_AF_NONE)
		return false;
	n = c->af == SIP_SDP_IP6 ? 16 : 4;
	if (inet_pton(c->af == SIP_SDP_IP6 ? AF_INET6 : AF_INET, c->addr,
		      a) != 1)
		return false;
	for (i = 0; i < n; i++) {
		if (a[i])
			return false;
	}
	return true;
}

static bool conn_equal(const struct sip_sdp_conn *a,
		       const struct sip_sdp_conn *b)
{
	if (a->af != b->af)
		return false;
	return a->af == SIP_SDP_AF_NONE || !strcmp(a->addr, b->addr);
}

static bool str_equal(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

/* A session name: NULL and "" are written "-". */
static const char *name_or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* (name, rate, channels) of a format: its rtpmap, else the static PT. */
static bool fmt_resolve(const struct sip_sdp_fmt *f, const char **namep,
			unsigned *ratep, unsigned *chp)
{
	size_t i;

	if (f->name[0]) {
		*namep = f->name;
		*ratep = f->rate;
		*chp = f->channels ? f->channels : 1;
		return true;
	}
	if (f->pt < 0)
		return false;
	for (i = 0; i < GW_ARRAY_SIZE(static_pts); i++) {
		if (static_pts[i].pt == (unsigned)f->pt) {
			*namep = static_pts[i].name;
			*ratep = static_pts[i].rate;
			*chp = static_pts[i].channels;
			return true;
		}
	}
	return false;
}

/* Same codec: names are case-insensitive (RFC 4855 s.3). */
static bool fmt_same_codec(const struct sip_sdp_fmt *a,
			   const struct sip_sdp_fmt *b)
{
	const char *na, *nb;
	unsigned ra, rb, ca, cb;

	if (fmt_resolve(a, &na, &ra, &ca) && fmt_resolve(b, &nb, &rb, &cb))
		return !strcasecmp(na, nb) && ra == rb && ca == cb;
	return !strcasecmp(a->id, b->id);
}

/* Telephone events and comfort noise ride along; they are not codecs. */
static bool fmt_is_aux(const struct sip_sdp_fmt *f)
{
	const char *name;
	unsigned rate, ch;

	if (!fmt_resolve(f, &name, &rate, &ch))
		return false;
	return !strcasecmp(name, "telephone-event") || !strcasecmp(name, "CN");
}

static bool media_has_t38(const struct sip_sdp_media *m)
{
	size_t i;

	for (i = 0; i < m->n_fmts; i++) {
		if (!strcasecmp(m->fmts[i].id, "t38"))
			return true;
	}
	return false;
}

/** The c= line that applies to m: its own, else the session's; NULL. */
const struct sip_sdp_conn *sip_sdp_media_conn(const struct sip_sdp *sdp,
					      const struct sip_sdp_media *m)
{
	if (m && m->conn.af != SIP_SDP_AF_NONE)
		return &m->conn;
	if (sdp && sdp->conn.af != SIP_SDP_AF_NONE)
		return &sdp->conn;
	return NULL;
}

/**
 * Whether the side that wrote sdp has put the active stream m on hold,
 * in either style of RFC 3264 s.8.4: it will not receive (a=sendonly or
 * a=inactive), or its address is 0.0.0.0 (RFC 2543).
 */
bool sip_sdp_media_held(const struct sip_sdp *sdp,
			const struct sip_sdp_media *m)
{
	if (!m || !m->port)
		return false;
	return !(m->dir & SIP_SDP_RECVONLY) ||
	       conn_is_zero(sip_sdp_media_conn(sdp, m));
}

/**
 * The telephone-event format of m at the given clock rate (0: any), or
 * NULL.  Its fmtp holds the events ("0-15").
 */
const struct sip_sdp_fmt *sip_sdp_tel_event(const struct sip_sdp_media *m,
					    unsigned rate)
{
	size_t i;

	if (!m)
		return NULL;
	for (i = 0; i < m->n_fmts; i++) {
		const struct sip_sdp_fmt *f = &m->fmts[i];

		if (!strcasecmp(f->name, "telephone-event") &&
		    (!rate || f->rate == rate))
			return f;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The object                                                         */
/* ------------------------------------------------------------------ */

static void media_release(struct sip_sdp_media *m)
{
	size_t i;

	for (i = 0; m->fmts && i < m->n_fmts; i++)
		gw_mem_deref(m->fmts[i].fmtp);
	m->fmts = gw_mem_deref(m->fmts);
	for (i = 0; m->crypto && i < m->n_crypto; i++)
		gw_mem_deref(m->crypto[i]);
	m->crypto = gw_mem_deref(m->crypto);
}

static void sdp_destroy(void *data)
{
	struct sip_sdp *sdp = data;
	size_t i;

	for (i = 0; sdp->media && i < sdp->n_media; i++)
		media_release(&sdp->media[i]);
	gw_mem_deref(sdp->media);
	gw_mem_deref(sdp->name);
}

/* A zeroed gw_mem array of n elements (NULL when n is 0 or on ENOMEM). */
static void *array_alloc(size_t n, size_t size)
{
	if (!n || n > SIZE_MAX / size)
		return NULL;
	return gw_mem_zalloc(n * size, NULL);
}

/* An empty SDP with n zeroed m= lines (each sendrecv); NULL on ENOMEM. */
static struct sip_sdp *sdp_alloc(size_t n_media)
{
	struct sip_sdp *sdp;
	size_t i;

	sdp = gw_mem_zalloc(sizeof(*sdp), sdp_destroy);
	if (!sdp || !n_media)
		return sdp;
	sdp->media = array_alloc(n_media, sizeof(*sdp->media));
	if (!sdp->media)
		return gw_mem_deref(sdp);
	sdp->n_media = n_media;
	for (i = 0; i < n_media; i++)
		sdp->media[i].dir = SIP_SDP_SENDRECV;
	return sdp;
}

static int fmts_alloc(struct sip_sdp_media *m, size_t n)
{
	m->fmts = array_alloc(n, sizeof(*m->fmts));
	if (!m->fmts)
		return ENOMEM;
	m->n_fmts = n;
	return 0;
}

/* Copy src's formats, crypto lines and the rest into the empty dst. */
static int media_copy(struct sip_sdp_media *dst,
		      const struct sip_sdp_media *src)
{
	size_t i;
	int err;

	*dst = *src;
	dst->fmts = NULL;
	dst->n_fmts = 0;
	dst->crypto = NULL;
	dst->n_crypto = 0;

	if (src->n_fmts) {
		err = fmts_alloc(dst, src->n_fmts);
		if (err)
			return err;
		for (i = 0; i < src->n_fmts; i++) {
			dst->fmts[i] = src->fmts[i];
			dst->fmts[i].fmtp = NULL;
			if (!src->fmts[i].fmtp)
				continue;
			dst->fmts[i].fmtp = gw_mem_strdup(src->fmts[i].fmtp);
			if (!dst->fmts[i].fmtp)
				return ENOMEM;
		}
	}
	if (src->n_crypto) {
		dst->crypto = array_alloc(src->n_crypto, sizeof(char *));
		if (!dst->crypto)
			return ENOMEM;
		dst->n_crypto = src->n_crypto;
		for (i = 0; i < src->n_crypto; i++) {
			dst->crypto[i] = gw_mem_strdup(src->crypto[i]);
			if (!dst->crypto[i])
				return ENOMEM;
		}
	}
	return 0;
}

/** A deep copy of sdp into *dupp. */
int sip_sdp_dup(struct sip_sdp **dupp, const struct sip_sdp *sdp)
{
	struct sip_sdp *dup;
	size_t i;
	int err = 0;

	if (!dupp || !sdp)
		return EINVAL;
	dup = sdp_alloc(sdp->n_media);
	if (!dup)
		return ENOMEM;
	dup->origin = sdp->origin;
	dup->conn = sdp->conn;
	dup->t_start = sdp->t_start;
	dup->t_stop = sdp->t_stop;
	if (sdp->name) {
		dup->name = gw_mem_strdup(sdp->name);
		if (!dup->name) {
			err = ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < sdp->n_media; i++) {
		err = media_copy(&dup->media[i], &sdp->media[i]);
		if (err)
			goto out;
	}

 out:
	if (err)
		gw_mem_deref(dup);
	else
		*dupp = dup;
	return err;
}

static bool t38_equal(const struct sip_sdp_t38 *a, const struct sip_sdp_t38 *b)
{
	return a->version == b->version && a->max_bitrate == b->max_bitrate &&
	       a->rate_mgmt == b->rate_mgmt && a->max_buffer == b->max_buffer &&
	       a->max_datagram == b->max_datagram && a->udp_ec == b->udp_ec &&
	       a->fill_bit_removal == b->fill_bit_removal &&
	       a->transcoding_mmr == b->transcoding_mmr &&
	       a->transcoding_jbig == b->transcoding_jbig;
}

static bool media_equal(const struct sip_sdp_media *a,
			const struct sip_sdp_media *b)
{
	size_t i;

	if (a->type != b->type || strcmp(a->media, b->media) ||
	    a->port != b->port || a->nports != b->nports ||
	    a->proto != b->proto || strcmp(a->proto_name, b->proto_name) ||
	    !conn_equal(&a->conn, &b->conn) || a->dir != b->dir ||
	    a->ptime != b->ptime || a->maxptime != b->maxptime ||
	    a->n_fmts != b->n_fmts || a->n_crypto != b->n_crypto ||
	    !t38_equal(&a->t38, &b->t38))
		return false;
	for (i = 0; i < a->n_fmts; i++) {
		const struct sip_sdp_fmt *fa = &a->fmts[i], *fb = &b->fmts[i];

		if (strcmp(fa->id, fb->id) || fa->pt != fb->pt ||
		    strcmp(fa->name, fb->name) || fa->rate != fb->rate ||
		    fa->channels != fb->channels ||
		    !str_equal(fa->fmtp, fb->fmtp))
			return false;
	}
	for (i = 0; i < a->n_crypto; i++) {
		if (!str_equal(a->crypto[i], b->crypto[i]))
			return false;
	}
	return true;
}

/**
 * Whether a and b describe the same session in every field we model,
 * the o= line included but for its version: RFC 3264 s.8's "changed".
 */
bool sip_sdp_same(const struct sip_sdp *a, const struct sip_sdp *b)
{
	size_t i;

	if (!a || !b)
		return a == b;
	if (strcmp(a->origin.username, b->origin.username) ||
	    strcmp(a->origin.sess_id, b->origin.sess_id) ||
	    !conn_equal(&a->origin.addr, &b->origin.addr) ||
	    strcmp(name_or_dash(a->name), name_or_dash(b->name)) ||
	    !conn_equal(&a->conn, &b->conn) || a->t_start != b->t_start ||
	    a->t_stop != b->t_stop || a->n_media != b->n_media)
		return false;
	for (i = 0; i < a->n_media; i++) {
		if (!media_equal(&a->media[i], &b->media[i]))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Parsing: libosip2's sdp_message_t into struct sip_sdp              */
/* ------------------------------------------------------------------ */

static bool conn_from_osip(struct sip_sdp_conn *c, const char *nettype,
			   const char *addrtype, const char *addr)
{
	if (!nettype || strcasecmp(nettype, "IN") ||
	    !af_parse(addrtype, &c->af) ||
	    !copy_tok(c->addr, sizeof(c->addr), addr)) {
		c->af = SIP_SDP_AF_NONE;
		return false;
	}
	return true;
}

static struct sip_sdp_fmt *fmt_by_id(struct sip_sdp_media *m, const char *id)
{
	size_t i;

	for (i = 0; i < m->n_fmts; i++) {
		if (!strcmp(m->fmts[i].id, id))
			return &m->fmts[i];
	}
	return NULL;
}

/* The RFC 3551 clock rate of static payload type pt, or 0. */
static unsigned static_rate(uint64_t pt)
{
	size_t i;

	for (i = 0; i < GW_ARRAY_SIZE(static_pts); i++)
		if (static_pts[i].pt == pt)
			return static_pts[i].rate;
	return 0;
}

/*
 * a=rtpmap:<pt> <name>/<rate>[/<channels>] (RFC 4566 s.6).  The clock
 * rate is mandatory there, yet RFC 4475 s.3.1.1.3 and s.3.1.1.7 hold
 * valid requests with "a=rtpmap:31 LPC": for a static payload type the
 * rate is known anyway (RFC 3551 s.6), so a map without one takes it
 * from there (RFC 3261 s.27's robustness; the type is what RTP
 * carries).  A dynamic type without a rate has no meaning: refused.
 */
static bool rtpmap_apply(struct sip_sdp_media *m, const char *v)
{
	struct sip_sdp_fmt *f = NULL;
	char name[SIP_SDP_TOKEN_MAX];
	uint64_t pt, rate, ch = 0;
	const char *p = v, *end;
	size_t i, n;

	if (!v || !read_uint(&p, 127, &pt) || (*p != ' ' && *p != '\t'))
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strcspn(p, "/ \t");
	if (end == p)
		return false;
	n = (size_t)(end - p);
	if (n >= sizeof(name) || !is_token(p, n))
		return false;
	memcpy(name, p, n);
	name[n] = '\0';
	p = end;
	if (*p == '/') {
		p++;
		if (!read_uint(&p, UINT32_MAX, &rate) || !rate)
			return false;
		if (*p == '/') {
			p++;
			if (!read_uint(&p, 255, &ch) || !ch)
				return false;
		}
	} else if (!(rate = static_rate(pt))) {
		return false;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p)
		return false;

	for (i = 0; i < m->n_fmts; i++) {
		if (m->fmts[i].pt == (int)pt) {
			f = &m->fmts[i];
			break;
		}
	}
	/* A map for a PT not on the m= line, or a second map: ignored. */
	if (!f || f->name[0])
		return true;
	memcpy(f->name, name, n + 1);
	f->rate = (unsigned)rate;
	f->channels = (unsigned)ch;
	return true;
}

/* a=fmtp:<format> <parameters>; 0, ENOMEM, or EBADMSG for text that is
 * not one line (others we cannot place are ignored). */
static int fmtp_apply(struct sip_sdp_media *m, const char *v)
{
	char id[SIP_SDP_TOKEN_MAX];
	struct sip_sdp_fmt *f;
	const char *sp;
	char *s;
	size_t n;

	if (!v)
		return 0;
	if (!is_text(v))
		return EBADMSG;
	sp = strpbrk(v, " \t");
	n = sp ? (size_t)(sp - v) : strlen(v);
	if (!n || n >= sizeof(id))
		return 0;
	memcpy(id, v, n);
	id[n] = '\0';
	f = fmt_by_id(m, id);
	if (!f || !sp)
		return 0;
	while (*sp == ' ' || *sp == '\t')
		sp++;
	if (!*sp)
		return 0;
	s = gw_mem_strdup(sp);
	if (!s)
		return ENOMEM;
	gw_mem_deref(f->fmtp);
	f->fmtp = s;
	return 0;
}

/* Leading digits of a=ptime (some peers write "20.0"); 0 if none. */
static unsigned ms_attr(const char *v)
{
	uint64_t ms;
	const char *p = v;

	if (!v || !read_uint(&p, 65535, &ms))
		return 0;
	return (unsigned)ms;
}

/* A T.38 boolean: present alone is true, ":0" false (T.38 Annex D). */
static bool t38_bool(const char *v)
{
	return !v || !*v || strcmp(v, "0");
}

static unsigned t38_uint(const char *v, unsigned old)
{
	uint64_t n;

	return parse_u64(v, UINT32_MAX, &n) ? (unsigned)n : old;
}

/* The T.38 attributes; true when field was one of them. */
static bool t38_attr(struct sip_sdp_t38 *t, const char *field, const char *v)
{
	if (!strcasecmp(field, "T38FaxVersion")) {
		t->version = t38_uint(v, t->version);
	} else if (!strcasecmp(field, "T38MaxBitRate")) {
		t->max_bitrate = t38_uint(v, t->max_bitrate);
	} else if (!strcasecmp(field, "T38FaxMaxBuffer")) {
		t->max_buffer = t38_uint(v, t->max_buffer);
	} else if (!strcasecmp(field, "T38FaxMaxDatagram")) {
		t->max_datagram = t38_uint(v, t->max_datagram);
	} else if (!strcasecmp(field, "T38FaxRateManagement")) {
		if (v && !strcasecmp(v, "localTCF"))
			t->rate_mgmt = SIP_SDP_T38_LOCAL_TCF;
		else if (v && !strcasecmp(v, "transferredTCF"))
			t->rate_mgmt = SIP_SDP_T38_TRANSFERRED_TCF;
	} else if (!strcasecmp(field, "T38FaxUdpEC")) {
		if (v && !strcasecmp(v, "t38UDPNoEC"))
			t->udp_ec = SIP_SDP_T38_EC_NONE;
		else if (v && !strcasecmp(v, "t38UDPFEC"))
			t->udp_ec = SIP_SDP_T38_EC_FEC;
		else if (v && !strcasecmp(v, "t38UDPRedundancy"))
			t->udp_ec = SIP_SDP_T38_EC_REDUNDANCY;
	} else if (!strcasecmp(field, "T38FaxFillBitRemoval")) {
		t->fill_bit_removal = t38_bool(v);
	} else if (!strcasecmp(field, "T38FaxTranscodingMMR")) {
		t->transcoding_mmr = t38_bool(v);
	} else if (!strcasecmp(field, "T38FaxTranscodingJBIG")) {
		t->transcoding_jbig = t38_bool(v);
	} else {
		return false;
	}
	return true;
}

static int media_from_osip(struct sip_sdp_media *m, sdp_media_t *om,
			   enum sip_sdp_dir sess_dir, const char **whyp)
{
	sdp_connection_t *oc;
	size_t i, n, n_crypto = 0;
	uint64_t v;
	int err;

	m->dir = sess_dir;
	if (!copy_tok(m->media, sizeof(m->media), om->m_media)) {
		*whyp = "m= media type";
		return EBADMSG;
	}
	m->type = mtype_of(m->media);
	if (!parse_u64(om->m_port, 65535, &v)) {
		*whyp = "m= port";
		return EBADMSG;
	}
	m->port = (uint16_t)v;
	if (om->m_number_of_port) {
		if (!parse_u64(om->m_number_of_port, 65535, &v) || !v) {
			*whyp = "m= number of ports";
			return EBADMSG;
		}
		m->nports = (unsigned)v;
	}
	if (!copy_tok(m->proto_name, sizeof(m->proto_name), om->m_proto)) {
		*whyp = "m= proto";
		return EBADMSG;
	}
	m->proto = proto_of(m->proto_name);

	n = (size_t)osip_list_size(&om->m_payloads);
	if (!n || n > 1024) {
		*whyp = "m= formats";
		return EBADMSG;
	}
	err = fmts_alloc(m, n);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		struct sip_sdp_fmt *f = &m->fmts[i];
		const char *id = osip_list_get(&om->m_payloads, (int)i);

		if (!copy_tok(f->id, sizeof(f->id), id)) {
			*whyp = "m= format";
			return EBADMSG;
		}
		f->pt = -1;
		if (proto_is_rtp(m->proto_name)) {
			if (!parse_u64(id, 127, &v)) {
				*whyp = "m= RTP payload type";
				return EBADMSG;
			}
			f->pt = (int)v;
		}
	}

	oc = osip_list_get(&om->c_connections, 0);
	if (oc && !conn_from_osip(&m->conn, oc->c_nettype, oc->c_addrtype,
				  oc->c_addr)) {
		*whyp = "media c= line";
		return EBADMSG;
	}

	n = (size_t)osip_list_size(&om->a_attributes);
	for (i = 0; i < n; i++) {
		sdp_attribute_t *a = osip_list_get(&om->a_attributes, (int)i);

		if (a && a->a_att_field &&
		    !strcasecmp(a->a_att_field, "crypto") && a->a_att_value)
			n_crypto++;
	}
	if (n_crypto) {
		m->crypto = array_alloc(n_crypto, sizeof(char *));
		if (!m->crypto)
			return ENOMEM;
	}
	for (i = 0; i < n; i++) {
		sdp_attribute_t *a = osip_list_get(&om->a_attributes, (int)i);
		const char *field, *val;

		if (!a || !a->a_att_field)
			continue;
		field = a->a_att_field;
		val = a->a_att_value;
		if (!strcasecmp(field, "rtpmap")) {
			if (!rtpmap_apply(m, val)) {
				*whyp = "a=rtpmap";
				return EBADMSG;
			}
		} else if (!strcasecmp(field, "fmtp")) {
			err = fmtp_apply(m, val);
			if (err == EBADMSG)
				*whyp = "a=fmtp";
			if (err)
				return err;
		} else if (!strcasecmp(field, "ptime")) {
			m->ptime = ms_attr(val);
		} else if (!strcasecmp(field, "maxptime")) {
			m->maxptime = ms_attr(val);
		} else if (!strcasecmp(field, "crypto")) {
			if (!val)
				continue;
			if (!is_text(val)) {
				*whyp = "a=crypto";
				return EBADMSG;
			}
			m->crypto[m->n_crypto] = gw_mem_strdup(val);
			if (!m->crypto[m->n_crypto])
				return ENOMEM;
			m->n_crypto++;
		} else if (!val && dir_parse(field, &m->dir)) {
			continue;
		} else if (m->type == SIP_SDP_IMAGE && media_has_t38(m)) {
			/* T.38 attributes mean something on T.38 only. */
			t38_attr(&m->t38, field, val);
		}
	}
	return 0;
}

static int sdp_from_osip(struct sip_sdp *sdp, sdp_message_t *msg,
			 const char **whyp)
{
	enum sip_sdp_dir sess_dir = SIP_SDP_SENDRECV;
	sdp_time_descr_t *td;
	size_t i, n;
	int err;

	if (!msg->v_version || strcmp(msg->v_version, "0")) {
		*whyp = "v= is not 0";
		return EBADMSG;
	}
	if (!copy_tok(sdp->origin.username, sizeof(sdp->origin.username),
		      msg->o_username) ||
	    !copy_tok(sdp->origin.sess_id, sizeof(sdp->origin.sess_id),
		      msg->o_sess_id) ||
	    !parse_u64(msg->o_sess_version, UINT64_MAX,
		       &sdp->origin.version) ||
	    !conn_from_osip(&sdp->origin.addr, msg->o_nettype,
			    msg->o_addrtype, msg->o_addr)) {
		*whyp = "o= line";
		return EBADMSG;
	}
	if (msg->s_name) {
		if (!is_text(msg->s_name)) {
			*whyp = "s= line";
			return EBADMSG;
		}
		sdp->name = gw_mem_strdup(msg->s_name);
		if (!sdp->name)
			return ENOMEM;
	}
	if (msg->c_connection &&
	    !conn_from_osip(&sdp->conn, msg->c_connection->c_nettype,
			    msg->c_connection->c_addrtype,
			    msg->c_connection->c_addr)) {
		*whyp = "session c= line";
		return EBADMSG;
	}
	td = osip_list_get(&msg->t_descrs, 0);
	if (!td || !parse_u64(td->t_start_time, UINT64_MAX, &sdp->t_start) ||
	    !parse_u64(td->t_stop_time, UINT64_MAX, &sdp->t_stop)) {
		*whyp = "t= line";
		return EBADMSG;
	}

	/* A session-level direction is the default for every stream
	 * (RFC 4566 s.6). */
	n = (size_t)osip_list_size(&msg->a_attributes);
	for (i = 0; i < n; i++) {
		sdp_attribute_t *a = osip_list_get(&msg->a_attributes, (int)i);

		if (a && a->a_att_field && !a->a_att_value)
			dir_parse(a->a_att_field, &sess_dir);
	}

	n = (size_t)osip_list_size(&msg->m_medias);
	if (n) {
		sdp->media = array_alloc(n, sizeof(*sdp->media));
		if (!sdp->media)
			return ENOMEM;
		sdp->n_media = n;
	}
	for (i = 0; i < n; i++) {
		struct sip_sdp_media *m = &sdp->media[i];

		err = media_from_osip(m, osip_list_get(&msg->m_medias, (int)i),
				      sess_dir, whyp);
		if (err)
			return err;
		/* RFC 4566 s.5.7: a c= line in the session or every medium. */
		if (m->port && !sip_sdp_media_conn(sdp, m)) {
			*whyp = "active stream without a c= line";
			return EBADMSG;
		}
	}
	return 0;
}

/*
 * Copy the len bytes of text to buf (len + 1 bytes), an empty "s=" line
 * written "s= ".  RFC 4566 s.5.3 wants a non-empty session name ("s= "
 * when there is none) and libosip2 refuses an empty one, but the name
 * means nothing to a call and RFC 5118 s.4.8 sends "s=" in a valid
 * request: robustness (RFC 3261 s.27) takes it as the "s= " it meant.
 */
static void copy_fix_s(char *buf, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	size_t at;

	while (p + 2 <= end) {
		if (p[0] == 's' && p[1] == '=' &&
		    (p + 2 == end || p[2] == '\r' || p[2] == '\n')) {
			at = (size_t)(p - text) + 2;
			memcpy(buf, text, at);
			buf[at] = ' ';
			memcpy(buf + at + 1, text + at, len - at);
			return;
		}
		p = memchr(p, '\n', (size_t)(end - p));
		if (!p)
			break;
		p++;
	}
	memcpy(buf, text, len);
}

/**
 * Parse the len bytes of SDP at text (no NUL needed) into *sdpp.
 * EBADMSG for anything libosip2 or our checks reject (logged at debug
 * level with the reason), ENOMEM when memory is short.
 */
int sip_sdp_parse(struct sip_sdp **sdpp, const char *text, size_t len)
{
	sdp_message_t *msg = NULL;
	struct sip_sdp *sdp = NULL;
	const char *why = NULL;
	char *buf = NULL;
	int err;

	if (!sdpp || (!text && len))
		return EINVAL;
	if (!len || len > SDP_MAX_LEN || memchr(text, '\0', len)) {
		why = "empty, too long or holding a NUL";
		err = EBADMSG;
		goto out;
	}
	/* libosip2 5.3 reads past the NUL when the text ends in a bare CR
	 * after "m=audio 1 RTP/AVP" (sdp_message_parse_m: strchr(tmp + 1)
	 * from just beyond the terminator): the NULs of BUF_PAD stop it. */
	buf = gw_mem_zalloc(len + 1 + BUF_PAD, NULL);
	sdp = gw_mem_zalloc(sizeof(*sdp), sdp_destroy);
	if (!buf || !sdp) {
		err = ENOMEM;
		goto out;
	}
	copy_fix_s(buf, text, len);

	if (sdp_message_init(&msg) != 0) {
		msg = NULL;
		err = ENOMEM;
		goto out;
	}
	if (sdp_message_parse(msg, buf) != 0) {
		why = "libosip2 rejects it";
		err = EBADMSG;
		goto out;
	}
	err = sdp_from_osip(sdp, msg, &why);

 out:
	if (msg)
		sdp_message_free(msg);
	gw_mem_deref(buf);
	if (err) {
		if (err == EBADMSG)
			GW_DBG("SDP rejected: %s", why);
		gw_mem_deref(sdp);
	} else {
		*sdpp = sdp;
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* Encoding                                                           */
/* ------------------------------------------------------------------ */

/* Measure with p NULL, then write into exactly that much. */
struct sbuf {
	char *p;
	size_t cap;
	size_t len;
};

static void GW_PRINTF(2, 3) put(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (b->p && b->len < b->cap)
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	else
		n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n;
}

static const char *const rate_names[] = {
	[SIP_SDP_T38_LOCAL_TCF] = "localTCF",
	[SIP_SDP_T38_TRANSFERRED_TCF] = "transferredTCF",
};

static const char *const ec_names[] = {
	[SIP_SDP_T38_EC_NONE] = "t38UDPNoEC",
	[SIP_SDP_T38_EC_FEC] = "t38UDPFEC",
	[SIP_SDP_T38_EC_REDUNDANCY] = "t38UDPRedundancy",
};

static void put_t38(struct sbuf *b, const struct sip_sdp_t38 *t)
{
	put(b, "a=T38FaxVersion:%u\r\n", t->version);
	if (t->max_bitrate)
		put(b, "a=T38MaxBitRate:%u\r\n", t->max_bitrate);
	if (t->fill_bit_removal)
		put(b, "a=T38FaxFillBitRemoval\r\n");
	if (t->transcoding_mmr)
		put(b, "a=T38FaxTranscodingMMR\r\n");
	if (t->transcoding_jbig)
		put(b, "a=T38FaxTranscodingJBIG\r\n");
	if (t->rate_mgmt && (unsigned)t->rate_mgmt < GW_ARRAY_SIZE(rate_names))
		put(b, "a=T38FaxRateManagement:%s\r\n",
		    rate_names[t->rate_mgmt]);
	if (t->max_buffer)
		put(b, "a=T38FaxMaxBuffer:%u\r\n", t->max_buffer);
	if (t->max_datagram)
		put(b, "a=T38FaxMaxDatagram:%u\r\n", t->max_datagram);
	if (t->udp_ec && (unsigned)t->udp_ec < GW_ARRAY_SIZE(ec_names))
		put(b, "a=T38FaxUdpEC:%s\r\n", ec_names[t->udp_ec]);
}

static void put_media(struct sbuf *b, const struct sip_sdp_media *m)
{
	size_t i;

	put(b, "m=%s %u", m->media, m->port);
	if (m->nports)
		put(b, "/%u", m->nports);
	put(b, " %s", m->proto_name);
	for (i = 0; i < m->n_fmts; i++)
		put(b, " %s", m->fmts[i].id);
	put(b, "\r\n");
	if (m->conn.af != SIP_SDP_AF_NONE)
		put(b, "c=IN %s %s\r\n", af_name(m->conn.af), m->conn.addr);
	for (i = 0; i < m->n_fmts; i++) {
		const struct sip_sdp_fmt *f = &m->fmts[i];

		if (!f->name[0])
			continue;
		put(b, "a=rtpmap:%s %s/%u", f->id, f->name, f->rate);
		if (f->channels)
			put(b, "/%u", f->channels);
		put(b, "\r\n");
	}
	for (i = 0; i < m->n_fmts; i++) {
		if (m->fmts[i].fmtp)
			put(b, "a=fmtp:%s %s\r\n", m->fmts[i].id,
			    m->fmts[i].fmtp);
	}
	if (m->ptime)
		put(b, "a=ptime:%u\r\n", m->ptime);
	if (m->maxptime)
		put(b, "a=maxptime:%u\r\n", m->maxptime);
	for (i = 0; i < m->n_crypto; i++)
		put(b, "a=crypto:%s\r\n", m->crypto[i]);
	if (m->type == SIP_SDP_IMAGE && media_has_t38(m))
		put_t38(b, &m->t38);
	if (m->dir != SIP_SDP_SENDRECV)
		put(b, "a=%s\r\n", sip_sdp_dir_name(m->dir));
}

static void put_sdp(struct sbuf *b, const struct sip_sdp *sdp)
{
	const struct sip_sdp_origin *o = &sdp->origin;
	size_t i;

	put(b, "v=0\r\n");
	put(b, "o=%s %s %llu IN %s %s\r\n", name_or_dash(o->username),
	    o->sess_id[0] ? o->sess_id : "0",
	    (unsigned long long)o->version, af_name(o->addr.af),
	    o->addr.af != SIP_SDP_AF_NONE ? o->addr.addr : "0.0.0.0");
	put(b, "s=%s\r\n", name_or_dash(sdp->name));
	if (sdp->conn.af != SIP_SDP_AF_NONE)
		put(b, "c=IN %s %s\r\n", af_name(sdp->conn.af), sdp->conn.addr);
	put(b, "t=%llu %llu\r\n", (unsigned long long)sdp->t_start,
	    (unsigned long long)sdp->t_stop);
	for (i = 0; i < sdp->n_media; i++)
		put_media(b, &sdp->media[i]);
}

/**
 * Encode sdp as SDP text with CRLF line ends into *textp, a gw_mem
 * string.  Fields we do not model are not written; an absent s= is "-".
 */
int sip_sdp_encode(const struct sip_sdp *sdp, char **textp)
{
	struct sbuf b = { NULL, 0, 0 };

	if (!sdp || !textp)
		return EINVAL;
	put_sdp(&b, sdp);
	b.cap = b.len + 1;
	b.p = gw_mem_alloc(b.cap, NULL);
	if (!b.p)
		return ENOMEM;
	b.len = 0;
	put_sdp(&b, sdp);
	*textp = b.p;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Capabilities and the offer                                         */
/* ------------------------------------------------------------------ */

/**
 * Fill caps with the gateway's defaults: PCMA, PCMU, G722, G729, GSM,
 * opus and G726-32 in that order, telephone-event 0-15 on PT 101, 20 ms,
 * no T.38.  The caller sets the addresses and ports.
 */
void sip_sdp_caps_init(struct sip_sdp_caps *caps)
{
	if (!caps)
		return;
	memset(caps, 0, sizeof(*caps));
	caps->codecs = default_codecs;
	caps->n_codecs = GW_ARRAY_SIZE(default_codecs);
	caps->tel_event = true;
	caps->tel_event_pt = 101;
	caps->tel_events = TE_DEFAULT_EVENTS;
	caps->ptime = 20;
	caps->t38 = false;
	caps->t38_params.version = 0;
	caps->t38_params.max_bitrate = 14400;
	caps->t38_params.rate_mgmt = SIP_SDP_T38_TRANSFERRED_TCF;
	caps->t38_params.max_datagram = 400;
	caps->t38_params.udp_ec = SIP_SDP_T38_EC_REDUNDANCY;
	caps->username = "junction";
}

static bool caps_tok(const char *s, size_t size, bool null_ok)
{
	size_t n;

	if (!s)
		return null_ok;
	n = strlen(s);
	return n < size && is_token(s, n);
}

static bool caps_valid(const struct sip_sdp_caps *caps)
{
	size_t i;

	if (!caps || (!caps->addr4 && !caps->addr6) ||
	    (caps->n_codecs && !caps->codecs))
		return false;
	/* What goes on the wire must be tokens and one-line text. */
	if (!caps_tok(caps->addr4, SIP_SDP_ADDR_MAX, true) ||
	    !caps_tok(caps->addr6, SIP_SDP_ADDR_MAX, true) ||
	    !caps_tok(caps->username, SIP_SDP_TOKEN_MAX, true) ||
	    (caps->tel_events && !is_text(caps->tel_events)))
		return false;
	for (i = 0; i < caps->n_codecs; i++) {
		const struct sip_sdp_codec *c = &caps->codecs[i];

		if (!caps_tok(c->name, SIP_SDP_TOKEN_MAX, false) || !c->rate ||
		    c->pt < SIP_SDP_PT_DYNAMIC || c->pt > 127 ||
		    (c->fmtp && !is_text(c->fmtp)))
			return false;
	}
	return true;
}

/* Our address for a peer whose address family is want. */
static const char *local_addr(const struct sip_sdp_caps *caps,
			      enum sip_sdp_af want, enum sip_sdp_af *afp)
{
	if ((want == SIP_SDP_IP6 && caps->addr6) || !caps->addr4) {
		*afp = SIP_SDP_IP6;
		return caps->addr6;
	}
	*afp = SIP_SDP_IP4;
	return caps->addr4;
}

/* An SDP of ours with n m= lines: o=, s=-, c= and t=0 0 filled in. */
static struct sip_sdp *local_alloc(const struct sip_sdp_caps *caps,
				   enum sip_sdp_af want, size_t n_media)
{
	struct sip_sdp *sdp;
	enum sip_sdp_af af;
	const char *addr;

	sdp = sdp_alloc(n_media);
	if (!sdp)
		return NULL;
	addr = local_addr(caps, want, &af);
	snprintf(sdp->origin.username, sizeof(sdp->origin.username), "%s",
		 name_or_dash(caps->username));
	snprintf(sdp->origin.sess_id, sizeof(sdp->origin.sess_id), "0");
	sdp->origin.addr.af = af;
	snprintf(sdp->origin.addr.addr, sizeof(sdp->origin.addr.addr), "%s",
		 addr);
	sdp->conn = sdp->origin.addr;
	return sdp;
}

static void media_set(struct sip_sdp_media *m, const char *media,
		      const char *proto)
{
	snprintf(m->media, sizeof(m->media), "%s", media);
	m->type = mtype_of(media);
	snprintf(m->proto_name, sizeof(m->proto_name), "%s", proto);
	m->proto = proto_of(proto);
}

static int fmt_set(struct sip_sdp_fmt *f, int pt, const char *id,
		   const char *name, unsigned rate, unsigned channels,
		   const char *fmtp)
{
	f->pt = pt;
	if (id)
		snprintf(f->id, sizeof(f->id), "%s", id);
	else
		snprintf(f->id, sizeof(f->id), "%d", pt);
	snprintf(f->name, sizeof(f->name), "%s", name ? name : "");
	f->rate = name ? rate : 0;
	f->channels = name && channels > 1 ? channels : 0;
	if (fmtp && *fmtp) {
		f->fmtp = gw_mem_strdup(fmtp);
		if (!f->fmtp)
			return ENOMEM;
	}
	return 0;
}

/**
 * Build our offer from caps into *offerp: one audio stream, sendrecv, with
 * every codec in caps' order (dynamic ones numbered from 96 up, avoiding
 * the PTs already taken) and telephone-event.  Stamp it with
 * sip_sdp_session_stamp before sending.  EINVAL for unusable caps (no
 * address, port or codec, or two codecs on one PT).
 */
int sip_sdp_offer(struct sip_sdp **offerp, const struct sip_sdp_caps *caps)
{
	bool used[128] = { false };
	struct sip_sdp *sdp = NULL;
	struct sip_sdp_media *m;
	bool te;
	int next = 96;
	size_t i, n;
	int err = 0;

	if (!offerp || !caps_valid(caps) || !caps->n_codecs ||
	    !caps->audio_port)
		return EINVAL;
	te = caps->tel_event;
	if (te && (caps->tel_event_pt < 96 || caps->tel_event_pt > 127))
		return EINVAL;
	if (te)
		used[caps->tel_event_pt] = true;
	for (i = 0; i < caps->n_codecs; i++) {
		int pt = caps->codecs[i].pt;

		if (pt == SIP_SDP_PT_DYNAMIC)
			continue;
		if (used[pt])
			return EINVAL;
		used[pt] = true;
	}

	n = caps->n_codecs + (te ? 1 : 0);
	sdp = local_alloc(caps, SIP_SDP_IP4, 1);
	if (!sdp)
		return ENOMEM;
	m = &sdp->media[0];
	media_set(m, "audio", "RTP/AVP");
	m->port = caps->audio_port;
	m->ptime = caps->ptime;
	err = fmts_alloc(m, n);
	if (err)
		goto out;
	for (i = 0; i < caps->n_codecs; i++) {
		const struct sip_sdp_codec *c = &caps->codecs[i];
		int pt = c->pt;

		if (pt == SIP_SDP_PT_DYNAMIC) {
			while (next < 128 && used[next])
				next++;
			if (next == 128) {
				err = EINVAL;
				goto out;
			}
			pt = next;
			used[pt] = true;
		}
		err = fmt_set(&m->fmts[i], pt, NULL, c->name, c->rate,
			      c->channels, c->fmtp);
		if (err)
			goto out;
	}
	if (te)
		err = fmt_set(&m->fmts[i], caps->tel_event_pt, NULL,
			      "telephone-event", 8000, 0, caps->tel_events);

 out:
	if (err)
		gw_mem_deref(sdp);
	else
		*offerp = sdp;
	return err;
}

/* ------------------------------------------------------------------ */
/* Answering (RFC 3264 s.6)                                           */
/* ------------------------------------------------------------------ */

static void neg_init(struct sip_sdp_neg *neg)
{
	memset(neg, 0, sizeof(*neg));
	neg->te_pt_tx = -1;
	neg->te_pt_rx = -1;
}

static bool copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size)
		return false;
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
	return true;
}

/* Where the peer of stream m (described by sdp) gets its media. */
static void neg_stream(struct sip_sdp_neg_stream *s, unsigned idx,
		       const struct sip_sdp *sdp,
		       const struct sip_sdp_media *m, enum sip_sdp_dir dir)
{
	const struct sip_sdp_conn *c = sip_sdp_media_conn(sdp, m);

	s->active = true;
	s->idx = idx;
	s->af = c->af;
	memcpy(s->addr, c->addr, sizeof(s->addr));
	s->port = m->port;
	s->remote_hold = sip_sdp_media_held(sdp, m);
	/* Nothing can be sent to 0.0.0.0. */
	if (conn_is_zero(c))
		dir &= ~SIP_SDP_SENDONLY;
	s->dir = dir;
}

/* Refuse the offered stream om: port 0, its first format (s.6). */
static int refuse(struct sip_sdp_media *am, const struct sip_sdp_media *om)
{
	const struct sip_sdp_fmt *f = &om->fmts[0];
	int err;

	media_set(am, om->media, om->proto_name);
	am->port = 0;
	err = fmts_alloc(am, 1);
	if (err)
		return err;
	am->fmts[0] = *f;
	am->fmts[0].fmtp = NULL;
	return 0;
}

static const struct sip_sdp_codec *caps_codec(const struct sip_sdp_caps *caps,
					      const struct sip_sdp_fmt *f)
{
	const char *name;
	unsigned rate, ch;
	size_t i;

	if (!fmt_resolve(f, &name, &rate, &ch))
		return NULL;
	for (i = 0; i < caps->n_codecs; i++) {
		const struct sip_sdp_codec *c = &caps->codecs[i];

		if (!strcasecmp(c->name, name) && c->rate == rate &&
		    (c->channels ? c->channels : 1) == ch)
			return c;
	}
	return NULL;
}

/* Answer the audio stream om if a codec fits; *okp says whether. */
static int answer_audio(struct sip_sdp_media *am,
			const struct sip_sdp_media *om, unsigned idx,
			const struct sip_sdp *offer,
			const struct sip_sdp_caps *caps,
			struct sip_sdp_neg *neg, bool *okp)
{
	const struct sip_sdp_codec *c = NULL;
	const struct sip_sdp_fmt *of = NULL, *te = NULL;
	size_t i;
	int err;

	*okp = false;
	if (!caps->audio_port || om->proto != SIP_SDP_RTP_AVP ||
	    om->nports > 1 || !sip_sdp_media_conn(offer, om))
		return 0;
	/* The offerer's order of preference (s.6.1). */
	for (i = 0; i < om->n_fmts && !c; i++) {
		of = &om->fmts[i];
		if (of->fmtp && strlen(of->fmtp) >= sizeof(neg->fmtp))
			continue;
		c = caps_codec(caps, of);
	}
	if (!c)
		return 0;
	if (caps->tel_event) {
		te = sip_sdp_tel_event(om, c->rate);
		if (te && te->fmtp &&
		    strlen(te->fmtp) >= sizeof(neg->te_events))
			te = NULL;
	}

	media_set(am, om->media, om->proto_name);
	am->port = caps->audio_port;
	am->ptime = caps->ptime;
	am->dir = dir_invert(om->dir);
	err = fmts_alloc(am, te ? 2 : 1);
	if (err)
		return err;
	/* The offerer's PT numbers, dynamic ones too (s.6.1). */
	err = fmt_set(&am->fmts[0], of->pt, of->id, c->name, c->rate,
		      c->channels, c->fmtp);
	if (!err && te)
		err = fmt_set(&am->fmts[1], te->pt, te->id, "telephone-event",
			      te->rate, 0, caps->tel_events);
	if (err)
		return err;

	neg_stream(&neg->audio, idx, offer, om, am->dir);
	snprintf(neg->codec, sizeof(neg->codec), "%s", c->name);
	neg->rate = c->rate;
	neg->channels = c->channels ? c->channels : 1;
	neg->pt_tx = neg->pt_rx = (unsigned)of->pt;
	copy_str(neg->fmtp, sizeof(neg->fmtp), of->fmtp);
	if (te) {
		neg->te_pt_tx = neg->te_pt_rx = te->pt;
		copy_str(neg->te_events, sizeof(neg->te_events),
			 te->fmtp ? te->fmtp : TE_DEFAULT_EVENTS);
	}
	neg->ptime = om->ptime ? om->ptime : caps->ptime;
	*okp = true;
	return 0;
}

static unsigned min_set(unsigned offered, unsigned ours)
{
	if (!offered)
		return ours;
	if (!ours)
		return offered;
	return offered < ours ? offered : ours;
}

/* T.38 Annex D: the answer may lower what the offer proposed. */
static void t38_answer(struct sip_sdp_t38 *a, const struct sip_sdp_t38 *o,
		       const struct sip_sdp_t38 *ours)
{
	memset(a, 0, sizeof(*a));
	a->version = o->version < ours->version ? o->version : ours->version;
	a->max_bitrate = min_set(o->max_bitrate, ours->max_bitrate);
	a->rate_mgmt = o->rate_mgmt ? o->rate_mgmt : ours->rate_mgmt;
	a->max_buffer = ours->max_buffer;
	a->max_datagram = ours->max_datagram;
	if (o->udp_ec == SIP_SDP_T38_EC_NONE ||
	    ours->udp_ec == SIP_SDP_T38_EC_NONE)
		a->udp_ec = SIP_SDP_T38_EC_NONE;
	else if (o->udp_ec || ours->udp_ec)
		/* No FEC here: redundancy is what we do. */
		a->udp_ec = SIP_SDP_T38_EC_REDUNDANCY;
	a->fill_bit_removal = o->fill_bit_removal && ours->fill_bit_removal;
	a->transcoding_mmr = o->transcoding_mmr && ours->transcoding_mmr;
	a->transcoding_jbig = o->transcoding_jbig && ours->transcoding_jbig;
}

static int answer_image(struct sip_sdp_media *am,
			const struct sip_sdp_media *om, unsigned idx,
			const struct sip_sdp *offer,
			const struct sip_sdp_caps *caps,
			struct sip_sdp_neg *neg, bool *okp)
{
	const struct sip_sdp_fmt *of = NULL;
	size_t i;
	int err;

	*okp = false;
	if (!caps->t38 || !caps->image_port || om->proto != SIP_SDP_UDPTL ||
	    om->nports > 1 || !sip_sdp_media_conn(offer, om))
		return 0;
	for (i = 0; i < om->n_fmts && !of; i++) {
		if (!strcasecmp(om->fmts[i].id, "t38"))
			of = &om->fmts[i];
	}
	if (!of)
		return 0;

	media_set(am, om->media, om->proto_name);
	am->port = caps->image_port;
	am->dir = dir_invert(om->dir);
	err = fmts_alloc(am, 1);
	if (err)
		return err;
	err = fmt_set(&am->fmts[0], -1, of->id, NULL, 0, 0, NULL);
	if (err)
		return err;
	t38_answer(&am->t38, &om->t38, &caps->t38_params);

	neg_stream(&neg->image, idx, offer, om, am->dir);
	neg->t38 = am->t38;
	*okp = true;
	return 0;
}

/**
 * Answer the remote offer with what caps allow, per RFC 3264 s.6, into
 * *answerp, and the outcome into *negp.  Streams we cannot take are
 * refused with port 0; the first audio stream with a codec we support is
 * taken with the offerer's first such codec and PT, telephone-event if
 * offered at the codec's rate, and the direction the offer allows; an
 * image/T.38 stream is taken when caps->t38 and caps->image_port allow.
 * An offer with no m= lines (RFC 4317 s.5.1) gets an answer with none.
 * EPROTO, with nothing written, when the offer has active streams but
 * none we can take (the caller answers 488).  Stamp the answer with
 * sip_sdp_session_stamp before sending it.
 */
int sip_sdp_answer(struct sip_sdp **answerp, const struct sip_sdp *offer,
		   const struct sip_sdp_caps *caps, struct sip_sdp_neg *negp)
{
	const struct sip_sdp_conn *c = NULL;
	struct sip_sdp *ans = NULL;
	struct sip_sdp_neg neg;
	bool any_active = false;
	size_t i;
	int err = 0;

	if (!answerp || !offer || !negp || !caps_valid(caps))
		return EINVAL;
	for (i = 0; i < offer->n_media; i++) {
		if (!offer->media[i].n_fmts)
			return EINVAL;
		if (!c && offer->media[i].port)
			c = sip_sdp_media_conn(offer, &offer->media[i]);
	}
	neg_init(&neg);

	ans = local_alloc(caps, c ? c->af : offer->conn.af, offer->n_media);
	if (!ans)
		return ENOMEM;
	/* s.6: the t= line of the answer equals the offer's. */
	ans->t_start = offer->t_start;
	ans->t_stop = offer->t_stop;

	for (i = 0; i < offer->n_media; i++) {
		const struct sip_sdp_media *om = &offer->media[i];
		struct sip_sdp_media *am = &ans->media[i];
		bool ok = false;

		if (om->port)
			any_active = true;
		if (om->port && om->type == SIP_SDP_AUDIO &&
		    !neg.audio.active)
			err = answer_audio(am, om, (unsigned)i, offer, caps,
					   &neg, &ok);
		else if (om->port && om->type == SIP_SDP_IMAGE &&
			 !neg.image.active)
			err = answer_image(am, om, (unsigned)i, offer, caps,
					   &neg, &ok);
		if (!err && !ok) {
			media_release(am);
			am->dir = SIP_SDP_SENDRECV;
			err = refuse(am, om);
		}
		if (err)
			goto out;
	}
	if (any_active && !neg.audio.active && !neg.image.active) {
		GW_INFO("offer refused: no stream we can take");
		err = EPROTO;
	}

 out:
	if (err) {
		gw_mem_deref(ans);
	} else {
		*answerp = ans;
		*negp = neg;
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* The offerer's side: checking and using an answer (RFC 3264 s.7)    */
/* ------------------------------------------------------------------ */

/* The offered format that af (a format of the answer) stands for. */
static const struct sip_sdp_fmt *offered(const struct sip_sdp_media *om,
					 const struct sip_sdp_fmt *af)
{
	size_t i;

	/* Same number and codec first; then the codec under another
	 * number (RFC 4317 s.2.3). */
	for (i = 0; i < om->n_fmts; i++) {
		if (!strcmp(om->fmts[i].id, af->id) &&
		    fmt_same_codec(&om->fmts[i], af))
			return &om->fmts[i];
	}
	for (i = 0; i < om->n_fmts; i++) {
		if (fmt_same_codec(&om->fmts[i], af))
			return &om->fmts[i];
	}
	return NULL;
}

static void neg_audio_from_answer(struct sip_sdp_neg *neg, unsigned idx,
				  const struct sip_sdp_media *om,
				  const struct sip_sdp *answer,
				  const struct sip_sdp_media *am)
{
	const struct sip_sdp_fmt *af = NULL, *of = NULL, *ate, *ote = NULL;
	const char *name = NULL;
	unsigned rate = 0, ch = 0;
	size_t i;

	/* s.7: send with the first format of the answer. */
	for (i = 0; i < am->n_fmts && !of; i++) {
		af = &am->fmts[i];
		if (af->pt < 0 || fmt_is_aux(af) ||
		    (af->fmtp && strlen(af->fmtp) >= sizeof(neg->fmtp)))
			continue;
		of = offered(om, af);
		if (of && (of->pt < 0 || !fmt_resolve(of, &name, &rate, &ch)))
			of = NULL;
	}
	if (!of)
		return;
	ate = sip_sdp_tel_event(am, rate);
	if (ate)
		ote = offered(om, ate);
	if (ate && (!ote || ote->pt < 0 || (ate->fmtp &&
	    strlen(ate->fmtp) >= sizeof(neg->te_events))))
		ate = ote = NULL;

	neg_stream(&neg->audio, idx, answer, am,
		   (enum sip_sdp_dir)(om->dir & dir_invert(am->dir)));
	snprintf(neg->codec, sizeof(neg->codec), "%s", name);
	neg->rate = rate;
	neg->channels = ch;
	neg->pt_tx = (unsigned)af->pt;
	neg->pt_rx = (unsigned)of->pt;
	copy_str(neg->fmtp, sizeof(neg->fmtp), af->fmtp);
	if (ate) {
		neg->te_pt_tx = ate->pt;
		neg->te_pt_rx = ote->pt;
		copy_str(neg->te_events, sizeof(neg->te_events),
			 ate->fmtp ? ate->fmtp : TE_DEFAULT_EVENTS);
	}
	neg->ptime = am->ptime ? am->ptime : om->ptime;
}

static void neg_image_from_answer(struct sip_sdp_neg *neg, unsigned idx,
				  const struct sip_sdp_media *om,
				  const struct sip_sdp *answer,
				  const struct sip_sdp_media *am)
{
	neg_stream(&neg->image, idx, answer, am,
		   (enum sip_sdp_dir)(om->dir & dir_invert(am->dir)));
	neg->t38 = am->t38;
}

/**
 * Check that answer is a legal answer (RFC 3264 s.6) to our offer and
 * fill *negp from it: the same number of m= lines with the same media
 * types and protocols, no stream revived that the offer refused, and in
 * each accepted stream at least one offered format (s.6.1 lets an answer
 * add others; they are ignored).  PTs may be renumbered (RFC 4317 s.2.3):
 * we send with the answer's, and with its first offered codec (s.7).  A
 * direction the offer did not allow is narrowed, not refused: the stream
 * does what both sides allow.  EPROTO when the answer is not legal.  An
 * answer that refuses every stream is legal: 0, with neither
 * negp->audio nor negp->image active.
 */
int sip_sdp_process_answer(const struct sip_sdp *offer,
			   const struct sip_sdp *answer,
			   struct sip_sdp_neg *negp)
{
	const char *why = NULL;
	struct sip_sdp_neg neg;
	size_t i, j;

	if (!offer || !answer || !negp)
		return EINVAL;
	neg_init(&neg);
	if (offer->n_media != answer->n_media) {
		why = "a different number of m= lines";
		goto bad;
	}
	for (i = 0; i < offer->n_media; i++) {
		const struct sip_sdp_media *om = &offer->media[i];
		const struct sip_sdp_media *am = &answer->media[i];
		bool common = false;

		if (strcasecmp(om->media, am->media) ||
		    strcasecmp(om->proto_name, am->proto_name)) {
			why = "a stream of another type or protocol";
			goto bad;
		}
		if (!am->port)
			continue;
		if (!om->port) {
			why = "a refused stream answered with a port";
			goto bad;
		}
		/* s.6.1 forbids, say, sendrecv against a sendonly offer, but
		 * peers do it (RFC 4317 s.3.2's own second answer does): we
		 * take the directions both sides allow. */
		if (am->dir & ~dir_invert(om->dir))
			GW_DBG("m=%zu: %s answered %s; taking %s", i,
			       sip_sdp_dir_name(om->dir),
			       sip_sdp_dir_name(am->dir),
			       sip_sdp_dir_name((enum sip_sdp_dir)
						(om->dir &
						 dir_invert(am->dir))));
		if (!sip_sdp_media_conn(answer, am)) {
			why = "no c= line";
			goto bad;
		}
		for (j = 0; j < am->n_fmts && !common; j++)
			common = offered(om, &am->fmts[j]) != NULL;
		if (!common) {
			why = "no offered format in an accepted stream";
			goto bad;
		}
		if (om->type == SIP_SDP_AUDIO && om->proto == SIP_SDP_RTP_AVP &&
		    !neg.audio.active)
			neg_audio_from_answer(&neg, (unsigned)i, om, answer,
					      am);
		else if (om->type == SIP_SDP_IMAGE &&
			 om->proto == SIP_SDP_UDPTL && !neg.image.active &&
			 media_has_t38(am) && media_has_t38(om))
			neg_image_from_answer(&neg, (unsigned)i, om, answer,
					      am);
	}
	*negp = neg;
	return 0;

 bad:
	GW_INFO("answer refused: %s", why);
	return EPROTO;
}

/* ------------------------------------------------------------------ */
/* Hold, and the o= version (RFC 3264 s.8)                            */
/* ------------------------------------------------------------------ */

/**
 * A re-offer into *offerp: our last SDP local (offer or answer) with
 * every active stream set to dir.  RFC 3264 s.8.4: SIP_SDP_SENDONLY holds
 * (SIP_SDP_INACTIVE if we were receiving only), SIP_SDP_SENDRECV
 * resumes.  Stamp it: the version goes up because the SDP changed.
 */
int sip_sdp_hold(struct sip_sdp **offerp, const struct sip_sdp *local,
		 enum sip_sdp_dir dir)
{
	struct sip_sdp *sdp;
	size_t i;
	int err;

	if (!offerp || !local || (unsigned)dir > SIP_SDP_SENDRECV)
		return EINVAL;
	err = sip_sdp_dup(&sdp, local);
	if (err)
		return err;
	for (i = 0; i < sdp->n_media; i++) {
		if (sdp->media[i].port)
			sdp->media[i].dir = dir;
	}
	*offerp = sdp;
	return 0;
}

struct sip_sdp_session {
	char sess_id[SIP_SDP_TOKEN_MAX];
	uint64_t version;		/* for the first SDP */
	struct sip_sdp *last;		/* the last one stamped */
};

static void session_destroy(void *data)
{
	struct sip_sdp_session *sess = data;

	gw_mem_deref(sess->last);
}

/**
 * A new local o= state for one dialog into *sessp: a session id unique
 * in this process (NTP seconds and a counter, as RFC 4566 s.5.2
 * suggests) and the NTP time as the first version.
 */
int sip_sdp_session_alloc(struct sip_sdp_session **sessp)
{
	static atomic_uint counter;
	struct sip_sdp_session *sess;
	struct timespec ts;
	uint64_t ntp;

	if (!sessp)
		return EINVAL;
	sess = gw_mem_zalloc(sizeof(*sess), session_destroy);
	if (!sess)
		return ENOMEM;
	clock_gettime(CLOCK_REALTIME, &ts);
	ntp = (uint64_t)ts.tv_sec + 2208988800u;
	snprintf(sess->sess_id, sizeof(sess->sess_id), "%llu",
		 (unsigned long long)(ntp * 1000000 +
				      atomic_fetch_add(&counter, 1) % 1000000));
	sess->version = ntp;
	*sessp = sess;
	return 0;
}

/**
 * Give sdp, which we are about to send, the dialog's o= line: the
 * username, session id and address of the first SDP stamped, and a
 * version one above the last one's exactly when sdp differs from it
 * (RFC 3264 s.8; an unchanged SDP keeps its version, as in RFC 4317
 * s.2.5).  The session keeps a reference to sdp: do not change it after.
 */
int sip_sdp_session_stamp(struct sip_sdp_session *sess, struct sip_sdp *sdp)
{
	struct sip_sdp *last;

	if (!sess || !sdp)
		return EINVAL;
	last = sess->last;
	snprintf(sdp->origin.sess_id, sizeof(sdp->origin.sess_id), "%s",
		 sess->sess_id);
	if (last) {
		memcpy(sdp->origin.username, last->origin.username,
		       sizeof(sdp->origin.username));
		sdp->origin.addr = last->origin.addr;
		sdp->origin.version = last->origin.version;
		if (!sip_sdp_same(last, sdp))
			sdp->origin.version++;
	} else {
		sdp->origin.version = sess->version;
	}
	sess->last = gw_mem_ref(sdp);
	gw_mem_deref(last);
	return 0;
}
