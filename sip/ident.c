/* sip/ident.c - who calls and for whom: PAI, Privacy, Diversion, History-Info */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GW_LOG_MOD "sip"
#include "sip_int.h"

/*
 * What call control needs of a caller's identity, read from an INVITE
 * and written into ours:
 *
 *   P-Asserted-Identity (RFC 3325 s.9.1): the network's word for the
 *     caller, one sip:/sips: and/or one tel: name-addr; we keep the
 *     first.  We trust it as received: the trust domain (s.2.3) is the
 *     peers call control routes from, which it decides.
 *   Privacy (RFC 3323 s.4.2, RFC 3325 s.9.3): id, header, user, none,
 *     separated by ';'.  A gateway maps id to presentation restricted.
 *   Diversion (RFC 5806 s.4): one entry per redirection, newest first
 *     (each redirecting server adds on top), with reason and counter.
 *   History-Info (RFC 7044, read only): entries in order of the
 *     request's targets; a retarget shows as a cause URI parameter on
 *     the new target (RFC 4458 s.2) or a Reason header field escaped
 *     into the old target's URI (RFC 7044 s.9.1).  The redirecting
 *     number is the target before the last retarget; RFC 6044 s.9's
 *     mapping turns its cause into a Diversion reason.
 *   Remote-Party-ID (a draft never published) is not read.
 */

/* Copy display into out without the quotes and escapes of a
 * quoted-string (RFC 3261 s.25.1). */
static void unquote(char *out, size_t size, const char *display)
{
	size_t n = 0, len;
	const char *p = display;

	if (!size)
		return;
	len = strlen(p);
	if (len >= 2 && p[0] == '"' && p[len - 1] == '"') {
		p++;
		len -= 2;
	}
	for (; len && n + 1 < size; p++, len--) {
		if (*p == '\\' && len > 1) {
			p++;
			len--;
		}
		out[n++] = *p;
	}
	out[n] = '\0';
}

/* The user of a tel: URI (RFC 3966), which libosip2 keeps unparsed. */
static void tel_user(char *out, size_t size, const char *s)
{
	size_t n = strcspn(s, ";?");

	if (!strncasecmp(s, "tel:", 4)) {
		s += 4;
		n = strcspn(s, ";?");
	}
	snprintf(out, size, "%.*s", (int)n, s);
}

bool sip_ident_party(struct sip_party *party, const char *value)
{
	osip_from_t *f = NULL;
	bool ok = false;

	party->user[0] = party->display[0] = party->host[0] = '\0';
	if (!value || osip_from_init(&f) < 0)
		return false;
	if (osip_from_parse(f, value) < 0 || !f->url)
		goto out;
	if (f->url->scheme && !strcasecmp(f->url->scheme, "tel")) {
		if (!f->url->string)
			goto out;
		tel_user(party->user, sizeof(party->user), f->url->string);
	} else {
		if (!f->url->host)
			goto out;
		snprintf(party->user, sizeof(party->user), "%s",
			 f->url->username ? f->url->username : "");
		snprintf(party->host, sizeof(party->host), "%s",
			 f->url->host);
	}
	if (f->displayname)
		unquote(party->display, sizeof(party->display),
			f->displayname);
	ok = true;
 out:
	osip_from_free(f);
	return ok;
}

/*
 * Call fn for each comma-separated entry of every header lname of m
 * (commas inside quotes and <> are not separators); fn returns false
 * to stop.
 */
static void each_entry(const osip_message_t *m, const char *lname,
		       bool (*fn)(const char *entry, void *arg), void *arg)
{
	osip_header_t *h;
	char buf[1024];
	const char *p;
	size_t n;
	bool quoted, angle;
	int pos = 0;

	while (osip_message_header_get_byname(m, lname, pos++, &h) >= 0 &&
	       h) {
		for (p = h->hvalue; p && *p;) {
			p += strspn(p, " \t,");
			n = 0;
			quoted = angle = false;
			while (p[n] && (quoted || angle || p[n] != ',')) {
				if (p[n] == '\\' && quoted && p[n + 1])
					n++;
				else if (p[n] == '"')
					quoted = !quoted;
				else if (!quoted && p[n] == '<')
					angle = true;
				else if (!quoted && p[n] == '>')
					angle = false;
				n++;
			}
			if (n && n < sizeof(buf)) {
				memcpy(buf, p, n);
				buf[n] = '\0';
				if (!fn(buf, arg))
					return;
			}
			p += n;
		}
	}
}

static bool pai_entry(const char *entry, void *arg)
{
	struct sip_party *pai = arg;

	if (!sip_ident_party(pai, entry))
		return true;
	pai->asserted = true;
	return false;			/* the first will do */
}

static void read_privacy(const osip_message_t *m, struct sip_party *p)
{
	osip_header_t *h;
	const char *s, *e;
	size_t n;
	int pos = 0;

	while (osip_message_header_get_byname(m, "privacy", pos++, &h) >= 0
	       && h) {
		for (s = h->hvalue; s && *s; s = e) {
			s += strspn(s, " \t;,");
			e = s + strcspn(s, " \t;,");
			n = (size_t)(e - s);
			if (n == 2 && !strncasecmp(s, "id", 2))
				p->privacy_id = true;
			else if (n == 6 && !strncasecmp(s, "header", 6))
				p->privacy_header = true;
			else if (n == 4 && !strncasecmp(s, "user", 4))
				p->privacy_user = true;
			else if (n == 4 && !strncasecmp(s, "none", 4))
				p->privacy_none = true;
		}
	}
}

static const char *gen_param(const osip_from_t *f, const char *name)
{
	osip_generic_param_t *p = NULL;

	if (osip_generic_param_get_byname((osip_list_t *)&f->gen_params,
					  (char *)name, &p) < 0 || !p ||
	    !p->gvalue)
		return NULL;
	return p->gvalue;
}

static bool diversion_entry(const char *entry, void *arg)
{
	struct sip_redirect *r = arg;
	struct sip_party party;
	osip_from_t *f = NULL;
	const char *v;

	if (!sip_ident_party(&party, entry))
		return true;
	snprintf(r->user, sizeof(r->user), "%s", party.user);
	snprintf(r->host, sizeof(r->host), "%s", party.host);
	r->counter = 1;
	if (osip_from_init(&f) == 0 && osip_from_parse(f, entry) == 0) {
		v = gen_param(f, "reason");
		if (v)
			snprintf(r->reason, sizeof(r->reason), "%.*s",
				 (int)strcspn(v, "\""), v + (*v == '"'));
		v = gen_param(f, "counter");
		if (v && atoi(v) > 0)
			r->counter = (unsigned)atoi(v);
	}
	osip_from_free(f);
	if (!r->reason[0])
		snprintf(r->reason, sizeof(r->reason), "unknown");
	return false;			/* the newest is on top */
}

/* ---- History-Info (RFC 7044) ---------------------------------------- */

#define HI_MAX 16

struct hi {
	struct sip_party party[HI_MAX];
	unsigned cause[HI_MAX];		/* RFC 4458 cause= on the target */
	unsigned reason[HI_MAX];	/* Reason: SIP;cause= in its URI */
	size_t n;
};

/* Undo %-escapes (RFC 3261 s.25.1, escaped headers in a URI). */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '%' && isxdigit((unsigned char)s[1]) &&
		    isxdigit((unsigned char)s[2])) {
			char hex[3] = { s[1], s[2], 0 };

			*o++ = (char)strtol(hex, NULL, 16);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static bool hi_entry(const char *entry, void *arg)
{
	struct hi *hi = arg;
	osip_from_t *f = NULL;
	osip_uri_param_t *up = NULL;
	osip_uri_header_t *uh;
	char buf[256];
	const char *c;
	int pos;

	if (hi->n >= HI_MAX)
		return false;
	if (!sip_ident_party(&hi->party[hi->n], entry))
		return true;
	hi->cause[hi->n] = hi->reason[hi->n] = 0;
	if (osip_from_init(&f) == 0 && osip_from_parse(f, entry) == 0 &&
	    f->url) {
		if (osip_uri_param_get_byname(&f->url->url_params,
					      (char *)"cause", &up) >= 0 &&
		    up && up->gvalue)
			hi->cause[hi->n] = (unsigned)atoi(up->gvalue);
		for (pos = 0; !osip_list_eol(&f->url->url_headers, pos);
		     pos++) {
			uh = osip_list_get(&f->url->url_headers, pos);
			if (!uh || !uh->gname || !uh->gvalue ||
			    strcasecmp(uh->gname, "reason"))
				continue;
			snprintf(buf, sizeof(buf), "%s", uh->gvalue);
			unescape(buf);
			c = strcasestr(buf, "cause=");
			if (!strncasecmp(buf, "SIP", 3) && c)
				hi->reason[hi->n] = (unsigned)atoi(c + 6);
		}
	}
	osip_from_free(f);
	hi->n++;
	return true;
}

/* RFC 6044 s.9: a retarget's SIP cause as a Diversion reason. */
static const char *cause_reason(unsigned cause)
{
	switch (cause) {
	case 302: return "unconditional";
	case 486: return "user-busy";
	case 408: return "no-answer";
	case 480:
	case 487: return "deflection";
	case 503: return "unavailable";
	default: return "unknown";
	}
}

static void read_history(const osip_message_t *m, struct sip_redirect *r)
{
	struct hi *hi = calloc(1, sizeof(*hi));
	unsigned cause, count = 0;
	size_t i, from = 0;
	bool found = false;

	if (!hi)
		return;
	each_entry(m, "history-info", hi_entry, hi);
	for (i = 0; i < hi->n; i++) {
		cause = 0;
		if (i + 1 < hi->n && hi->cause[i + 1])
			cause = hi->cause[i + 1];
		else if (i + 1 < hi->n && hi->reason[i] >= 300)
			cause = hi->reason[i];
		if (!cause)
			continue;
		found = true;
		from = i;
		r->cause = cause;
		count++;
	}
	if (found) {
		snprintf(r->user, sizeof(r->user), "%s",
			 hi->party[from].user);
		snprintf(r->host, sizeof(r->host), "%s",
			 hi->party[from].host);
		snprintf(r->reason, sizeof(r->reason), "%s",
			 cause_reason(r->cause));
		r->counter = count;
	}
	free(hi);
}

void sip_ident_read(const osip_message_t *req, struct sip_incoming *in)
{
	memset(&in->from, 0, sizeof(in->from));
	memset(&in->to, 0, sizeof(in->to));
	memset(&in->pai, 0, sizeof(in->pai));
	memset(&in->redirect, 0, sizeof(in->redirect));
	if (req->from && req->from->url) {
		snprintf(in->from.user, sizeof(in->from.user), "%s",
			 req->from->url->username ?
			 req->from->url->username : "");
		snprintf(in->from.host, sizeof(in->from.host), "%s",
			 req->from->url->host ? req->from->url->host : "");
		if (req->from->displayname)
			unquote(in->from.display, sizeof(in->from.display),
				req->from->displayname);
	}
	if (req->to && req->to->url) {
		snprintf(in->to.user, sizeof(in->to.user), "%s",
			 req->to->url->username ?
			 req->to->url->username : "");
		snprintf(in->to.host, sizeof(in->to.host), "%s",
			 req->to->url->host ? req->to->url->host : "");
	}
	each_entry(req, "p-asserted-identity", pai_entry, &in->pai);
	read_privacy(req, &in->from);
	in->pai.privacy_id = in->from.privacy_id;
	in->pai.privacy_header = in->from.privacy_header;
	in->pai.privacy_user = in->from.privacy_user;
	in->pai.privacy_none = in->from.privacy_none;
	each_entry(req, "diversion", diversion_entry, &in->redirect);
	if (!in->redirect.user[0])
		read_history(req, &in->redirect);
}

/* ---- writing -------------------------------------------------------- */

/** A display name as a quoted-string and a space (RFC 3261 s.25.1);
 * "" when there is none. */
void sip_ident_quote(char *out, size_t size, const char *display)
{
	size_t n = 0;

	if (!display[0] || size < 4) {
		if (size)
			out[0] = '\0';
		return;
	}
	out[n++] = '"';
	for (; *display && n + 4 < size; display++) {
		if (*display == '"' || *display == '\\')
			out[n++] = '\\';
		if ((unsigned char)*display >= 0x20)
			out[n++] = *display;
	}
	out[n++] = '"';
	out[n++] = ' ';
	out[n] = '\0';
}

void sip_ident_write(osip_message_t *m, const struct sip_call_params *p,
		     const char *domain)
{
	char buf[512], disp[140];
	size_t n = 0;

	if (p->pai.user[0]) {
		sip_ident_quote(disp, sizeof(disp), p->pai.display);
		snprintf(buf, sizeof(buf), "%s<sip:%s@%s>", disp, p->pai.user,
			 p->pai.host[0] ? p->pai.host : domain);
		osip_message_set_header(m, "P-Asserted-Identity", buf);
	}
	/* RFC 3323 s.4.2: priv-value *(";" priv-value). */
	buf[0] = '\0';
	if (p->from.privacy_none) {
		n += (size_t)snprintf(buf, sizeof(buf), "none");
	} else {
		if (p->from.privacy_header)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
					      "%sheader", n ? ";" : "");
		if (p->from.privacy_user)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
					      "%suser", n ? ";" : "");
		if (p->from.privacy_id)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
					      "%sid", n ? ";" : "");
	}
	if (n)
		osip_message_set_header(m, "Privacy", buf);
	if (p->diversion) {
		osip_message_set_header(m, "Diversion", p->diversion);
	} else if (p->redirect.user[0]) {
		snprintf(buf, sizeof(buf), "<sip:%s@%s>;reason=%s;counter=%u",
			 p->redirect.user, p->redirect.host[0] ?
			 p->redirect.host : domain, p->redirect.reason[0] ?
			 p->redirect.reason : "unknown",
			 p->redirect.counter ? p->redirect.counter : 1);
		osip_message_set_header(m, "Diversion", buf);
	}
}
