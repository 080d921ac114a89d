/* megaco/sdp.c - SDP inside H.248 Local and Remote descriptors */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"
#include "mg_int.h"

/*
 * H.248.1 s.7.1.8: Local and Remote carry SDP (RFC 4566) with three
 * differences.  o=, s= and t= may be left out; "$" may stand for a value
 * the MG chooses (c= address, m= port, payload type); and a descriptor
 * may hold several session descriptions, each starting with v=, as
 * alternatives in order of preference.  Only what a trunking MG uses is
 * read: c=, one m=audio (or m=image for T.38), rtpmap, fmtp, ptime and
 * the direction attributes.
 */

static void seterr(char *err, size_t errlen, unsigned line, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "SDP line %u: %s", line, what);
}

static struct mg_sdp_map *map_get(struct mg_sdp *s, unsigned pt)
{
	unsigned i;

	for (i = 0; i < s->nmap; i++)
		if (s->map[i].pt == pt)
			return &s->map[i];
	if (s->nmap == MG_SDP_PTS)
		return NULL;
	s->map[s->nmap].pt = (uint8_t)pt;
	return &s->map[s->nmap++];
}

static int parse_m(struct mg_sdp *s, const char *v)
{
	char media[16], port[16], proto[32];
	const char *p;
	int n = 0;

	if (sscanf(v, "%15s %15s %31s%n", media, port, proto, &n) != 3)
		return EINVAL;
	s->has_m = true;
	s->image = !strcasecmp(media, "image");
	if (!s->image && strcasecmp(media, "audio"))
		return ENOTSUP;
	if (!strcmp(port, "$")) {
		s->port_choose = true;
	} else {
		char *end;
		unsigned long u = strtoul(port, &end, 10);

		if (*end && *end != '/')
			return EINVAL;
		if (u > 65535)
			return EINVAL;
		s->port = (uint16_t)u;
	}
	for (p = v + n; *p;) {
		char tok[16];
		int k = 0;

		if (sscanf(p, " %15s%n", tok, &k) != 1)
			break;
		p += k;
		if (!strcmp(tok, "$")) {
			s->pt_choose = true;
			continue;
		}
		if (s->image)
			continue;	/* t38 */
		if (strspn(tok, "0123456789") != strlen(tok) ||
		    atoi(tok) > 127)
			return EINVAL;
		if (s->npt < MG_SDP_PTS)
			s->pt[s->npt++] = (uint8_t)atoi(tok);
	}
	return 0;
}

static int parse_a(struct mg_sdp *s, const char *v)
{
	struct mg_sdp_map *m;
	unsigned pt, clock = 0;
	char name[24];

	if (!strncmp(v, "rtpmap:", 7)) {
		if (sscanf(v + 7, "%u %23[^/]/%u", &pt, name, &clock) < 2 ||
		    pt > 127)
			return EINVAL;
		m = map_get(s, pt);
		if (m) {
			snprintf(m->name, sizeof(m->name), "%s", name);
			m->clock = clock ? clock : 8000;
		}
	} else if (!strncmp(v, "fmtp:", 5)) {
		const char *sp = strchr(v + 5, ' ');

		pt = (unsigned)atoi(v + 5);
		if (!sp || pt > 127)
			return EINVAL;
		m = map_get(s, pt);
		if (m)
			snprintf(m->fmtp, sizeof(m->fmtp), "%s", sp + 1);
	} else if (!strncmp(v, "ptime:", 6)) {
		s->ptime = (unsigned)atoi(v + 6);
	} else if (!strcmp(v, "sendrecv") || !strcmp(v, "sendonly") ||
		   !strcmp(v, "recvonly") || !strcmp(v, "inactive")) {
		s->has_dir = true;
		s->dir = v[0] == 'i' ? MEDIA_DIR_INACTIVE :
			!strcmp(v, "sendrecv") ? MEDIA_DIR_SENDRECV :
			!strcmp(v, "sendonly") ? MEDIA_DIR_SENDONLY :
			MEDIA_DIR_RECVONLY;
	}
	return 0;
}

/** Parse the alternatives of a Local or Remote descriptor. */
int mg_sdp_parse(const char *text, struct mg_sdp *alts, unsigned max,
		 unsigned *np, char *err, size_t errlen)
{
	struct mg_sdp *s = NULL;
	unsigned n = 0, lineno = 0;
	const char *p = text, *e;
	char line[256];
	int rc;

	while (p && *p) {
		size_t len;

		e = strchr(p, '\n');
		len = e ? (size_t)(e - p) : strlen(p);
		if (len && p[len - 1] == '\r')
			len--;
		lineno++;
		if (len >= sizeof(line)) {
			seterr(err, errlen, lineno, "too long");
			return EINVAL;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p = e ? e + 1 : NULL;
		/* leading blanks: the descriptor's indentation */
		{
			char *l = line;

			while (*l == ' ' || *l == '\t')
				l++;
			memmove(line, l, strlen(l) + 1);
		}
		if (!line[0])
			continue;
		if (line[1] != '=') {
			seterr(err, errlen, lineno, "not type=value");
			return EINVAL;
		}
		if (line[0] == 'v' || !s) {
			if (n == max) {
				seterr(err, errlen, lineno,
				       "too many alternatives");
				return E2BIG;
			}
			s = &alts[n++];
			memset(s, 0, sizeof(*s));
			if (line[0] == 'v')
				continue;
		}
		rc = 0;
		switch (line[0]) {
		case 'c': {
			char net[8], at[8], addr[64];

			if (sscanf(line + 2, "%7s %7s %63s", net, at, addr) != 3 ||
			    strcmp(net, "IN") ||
			    (strcmp(at, "IP4") && strcmp(at, "IP6"))) {
				rc = EINVAL;
				break;
			}
			s->has_c = true;
			s->c_choose = !strcmp(addr, "$");
			if (!s->c_choose)
				snprintf(s->ip, sizeof(s->ip), "%s", addr);
			break;
		}
		case 'm':
			if (s->has_m) {
				/* s.7.1.8: one m= per description */
				rc = EINVAL;
				break;
			}
			rc = parse_m(s, line + 2);
			break;
		case 'a':
			rc = parse_a(s, line + 2);
			break;
		default:
			break;	/* o= s= t= b= ... */
		}
		if (rc) {
			seterr(err, errlen, lineno, rc == ENOTSUP ?
			       "media type not supported" : "malformed");
			return rc;
		}
	}
	*np = n;
	return 0;
}

/* The codec behind a payload type of s, or NULL. */
static const struct media_codec_info *pt_codec(const struct mg_sdp *s,
					       unsigned pt, const char **fmtp)
{
	const struct media_codec_info *ci;
	unsigned i;

	*fmtp = "";
	for (i = 0; i < s->nmap; i++) {
		if (s->map[i].pt != pt || !s->map[i].name[0])
			continue;
		*fmtp = s->map[i].fmtp;
		return media_codec_find(s->map[i].name, s->map[i].clock);
	}
	for (i = 0; i < MEDIA_CODEC_COUNT; i++) {
		ci = media_codec_info((enum media_codec_id)i);
		if (ci && ci->static_pt == (int)pt)
			return ci;
	}
	return NULL;
}

static bool pt_is(const struct mg_sdp *s, unsigned pt, const char *name)
{
	unsigned i;

	for (i = 0; i < s->nmap; i++)
		if (s->map[i].pt == pt && !strcasecmp(s->map[i].name, name))
			return true;
	return false;
}

static bool offers(const struct mg_sdp *s, enum media_codec_id id)
{
	const char *f;
	unsigned i;

	if (s->pt_choose)
		return true;
	for (i = 0; i < s->npt; i++) {
		const struct media_codec_info *ci = pt_codec(s, s->pt[i], &f);

		if (ci && ci->id == id)
			return true;
	}
	return false;
}

static int choose_in(const struct mg_sdp *from, const struct mg_sdp *allow,
		     unsigned nallow, struct mg_codec_choice *c)
{
	const struct media_codec_info *ci = NULL;
	const char *fmtp;
	unsigned i, k;

	if (!from->has_m || from->image)
		return ENOTSUP;
	memset(c, 0, sizeof(*c));
	if (from->pt_choose && !from->npt) {
		ci = media_codec_info(MEDIA_PCMA);
		c->codec = ci->id;
		c->pt = (uint8_t)ci->static_pt;
	}
	for (i = 0; !ci && i < from->npt; i++) {
		const struct media_codec_info *x = pt_codec(from, from->pt[i],
							    &fmtp);
		bool ok = x != NULL;

		if (ok && nallow) {
			ok = false;
			for (k = 0; k < nallow; k++)
				ok |= !allow[k].has_m || offers(&allow[k],
								x->id);
		}
		if (!ok)
			continue;
		ci = x;
		c->codec = x->id;
		c->pt = from->pt[i];
		snprintf(c->fmtp, sizeof(c->fmtp), "%s", fmtp);
	}
	if (!ci)
		return ENOTSUP;
	for (i = 0; i < from->npt; i++) {
		if (pt_is(from, from->pt[i], "telephone-event"))
			c->te_pt = from->pt[i];
		else if (from->pt[i] == 13)
			c->cn = true;
	}
	c->ptime = from->ptime;
	if (c->ptime && (c->ptime < ci->ptime_min || c->ptime > ci->ptime_max ||
			 c->ptime % ci->frame_ms))
		c->ptime = 0;
	return 0;
}

/** Choose the stream's codec from Remote (preferred) or Local. */
int mg_sdp_choose(const struct mg_sdp *local, unsigned nlocal,
		  const struct mg_sdp *remote, unsigned nremote,
		  struct mg_codec_choice *c)
{
	unsigned i;

	for (i = 0; i < nremote; i++)
		if (!choose_in(&remote[i], local, nlocal, c))
			return 0;
	if (nremote)
		return ENOTSUP;
	for (i = 0; i < nlocal; i++)
		if (!choose_in(&local[i], NULL, 0, c))
			return 0;
	return ENOTSUP;
}

/** Write the filled-in Local descriptor (CRLF lines). */
int mg_sdp_write(char *buf, size_t size, const char *ip, uint16_t port,
		 const struct mg_codec_choice *c)
{
	const struct media_codec_info *ci = media_codec_info(c->codec);
	size_t n;
	int k;

	k = snprintf(buf, size, "v=0\r\nc=IN %s %s\r\nm=audio %u RTP/AVP %u",
		     strchr(ip, ':') ? "IP6" : "IP4", ip, port, c->pt);
	if (k < 0 || (size_t)k >= size)
		return ENOSPC;
	n = (size_t)k;
#define ADD(...) do { \
	k = snprintf(buf + n, size - n, __VA_ARGS__); \
	if (k < 0 || (size_t)k >= size - n) \
		return ENOSPC; \
	n += (size_t)k; \
} while (0)
	if (c->te_pt)
		ADD(" %u", c->te_pt);
	if (c->cn)
		ADD(" 13");
	ADD("\r\n");
	if (ci->static_pt < 0 || ci->static_pt != c->pt) {
		if (ci->channels > 1)
			ADD("a=rtpmap:%u %s/%u/%u\r\n", c->pt, ci->name,
			    ci->clock, ci->channels);
		else
			ADD("a=rtpmap:%u %s/%u\r\n", c->pt, ci->name,
			    ci->clock);
	}
	if (c->fmtp[0])
		ADD("a=fmtp:%u %s\r\n", c->pt, c->fmtp);
	if (c->te_pt) {
		ADD("a=rtpmap:%u telephone-event/8000\r\n", c->te_pt);
		ADD("a=fmtp:%u 0-15\r\n", c->te_pt);
	}
	if (c->ptime)
		ADD("a=ptime:%u\r\n", c->ptime);
#undef ADD
	return 0;
}
