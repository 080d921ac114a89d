/* gateway/route.c - the dial plan: routes, number rewriting, span hunting */
#include <errno.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_LOG_MOD "route"
#include "gw.h"
#include "route.h"
#include "tdm.h"

/*
 * The plan is compiled once from a config (and again on reload, into a
 * new plan: the old one serves calls until it is swapped).  A lookup
 * walks the rules in one fixed order and takes the first whose called
 * number pattern and source both match:
 *
 *   1. priority, higher first;
 *   2. prefix rules before regular expressions before "match = any",
 *      and among prefixes the longer first (0049 before 00);
 *   3. file order.
 *
 * So without priorities the most specific prefix wins, as in most
 * gateways' dial plans, and a regular expression is tried only when no
 * prefix of the same priority matched.  Priorities override all of it.
 *
 * Rewriting, in this order: strip, prepend (on the called number as
 * matched), then the called and calling formats (Q.931 type of number),
 * then the numbering plan.
 *
 * The plan holds a reference to its config and borrows its strings.  The
 * hunting state of each group lives in the plan: main thread only.
 */

enum src_kind { SRC_ANY, SRC_SPANS, SRC_GROUP, SRC_TRUNK, SRC_ADDR };

struct src {
	enum src_kind kind;
	unsigned char spans[32];	/* SRC_SPANS: bit per span 0..255 */
	const struct gw_hunt *group;	/* SRC_GROUP */
	const char *trunk;		/* SRC_TRUNK: name, borrowed */
	struct sockaddr_storage addr;	/* SRC_ADDR / SRC_TRUNK host */
	unsigned bits;
};

enum match_kind { MATCH_PREFIX, MATCH_RE, MATCH_ANY };

struct rule {
	const char *name;		/* borrowed from the config */
	const struct gw_route_conf *c;	/* borrowed */
	size_t order;			/* file order */
	enum match_kind mk;
	size_t plen;
	regex_t re;
	bool re_ok;
	struct src *srcs;
	size_t nsrcs;
	int npi;			/* -1: keep */
	enum gw_route_target kind;
	const char *target;		/* borrowed: after "kind:" */
	struct gw_hunt *group;
	const char **trunks;		/* the trunk, then its failover */
	size_t ntrunks;
};

struct hunt_span {
	unsigned id;
	unsigned nts;
	unsigned char ts[31];
};

struct gw_hunt {
	const char *name;		/* borrowed */
	enum gw_hunt_strategy strategy;
	struct hunt_span *spans;
	size_t nspans;
	size_t nchans;
	size_t last;			/* roundrobin: flat index of last pick */
	bool picked;
};

struct trunk {
	const char *name;		/* borrowed */
	const struct gw_trunk_conf *c;	/* borrowed */
	struct sockaddr_storage addr;
};

struct gw_dialplan {
	struct gw_conf *conf;		/* a reference: strings are borrowed */
	struct rule *rules;
	size_t nrules;
	struct gw_hunt *groups;
	size_t ngroups;
	struct trunk *trunks;
	size_t ntrunks;
};

static const int plan_npi[] = {
	-1, GW_NPI_UNKNOWN, GW_NPI_ISDN, GW_NPI_DATA, GW_NPI_TELEX,
	GW_NPI_NATIONAL, GW_NPI_PRIVATE,
};

static void plan_destroy(void *data)
{
	struct gw_dialplan *p = data;
	size_t i;

	for (i = 0; i < p->nrules; i++) {
		if (p->rules[i].re_ok)
			regfree(&p->rules[i].re);
		free(p->rules[i].srcs);
		free(p->rules[i].trunks);
	}
	free(p->rules);
	for (i = 0; i < p->ngroups; i++)
		free(p->groups[i].spans);
	free(p->groups);
	free(p->trunks);
	gw_mem_deref(p->conf);
}

static struct gw_hunt *group_find(const struct gw_dialplan *p,
				  const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < p->ngroups; i++) {
		if (strlen(p->groups[i].name) == n &&
		    !memcmp(p->groups[i].name, name, n))
			return &p->groups[i];
	}
	return NULL;
}

static struct trunk *trunk_find(const struct gw_dialplan *p, const char *name,
				size_t n)
{
	size_t i;

	for (i = 0; i < p->ntrunks; i++) {
		if (strlen(p->trunks[i].name) == n &&
		    !memcmp(p->trunks[i].name, name, n))
			return &p->trunks[i];
	}
	return NULL;
}

/* "file:line: " of a key of a section instance, for compile errors. */
static const char *where(const struct gw_dialplan *p, const char *sec,
			 const char *label, const char *key, char *buf,
			 size_t len)
{
	if (!gw_conf_where(p->conf, sec, label, key, buf, len))
		snprintf(buf, len, "%s", gw_conf_path(p->conf));
	return buf;
}

/* A group's span id, with its B-channels, from its [span N] section. */
static int group_add_span(struct gw_dialplan *p, struct gw_hunt *h,
			  const char *name, unsigned id, char *err,
			  size_t errlen)
{
	const struct gw_span_conf *sc;
	struct hunt_span *hs;
	unsigned sid, ts;
	char w[256];
	size_t i;

	for (i = 0; (sc = gw_conf_span(p->conf, i, &sid)); i++) {
		if (sid == id)
			break;
	}
	if (!sc) {
		snprintf(err, errlen, "%s: group %s: span %u is not configured "
			 "(no [span %u])",
			 where(p, "group", name, "spans", w, sizeof(w)), name,
			 id, id);
		return EINVAL;
	}
	hs = &h->spans[h->nspans++];
	hs->id = id;
	for (ts = 1; ts <= (sc->type == TDM_E1 ? 31u : 23u); ts++) {
		if (sc->type == TDM_E1 && ts == 16)
			continue;	/* the D-channel */
		hs->ts[hs->nts++] = (unsigned char)ts;
	}
	h->nchans += hs->nts;
	return 0;
}

/* Fill a group's channel list from its [span N] sections. */
static int group_build(struct gw_dialplan *p, struct gw_hunt *h,
		       const char *name, const struct gw_group_conf *gc,
		       char *err, size_t errlen)
{
	const char *s = gc->spans;
	unsigned id, first, last;
	size_t n = 0;
	int e;

	while (gw_span_range(&s, &first, &last) > 0)
		n += last - first + 1;
	h->spans = calloc(n ? n : 1, sizeof(*h->spans));
	if (!h->spans)
		return ENOMEM;
	h->name = name;
	h->strategy = (enum gw_hunt_strategy)gc->hunt;
	for (s = gc->spans; gw_span_range(&s, &first, &last) > 0;) {
		for (id = first; id <= last; id++) {
			e = group_add_span(p, h, name, id, err, errlen);
			if (e)
				return e;
		}
	}
	return 0;
}

static int rule_sources(struct gw_dialplan *p, struct rule *r, char *err,
			size_t errlen)
{
	const char *s = r->c->from, *e, *q;
	struct src *src;
	char w[256], item[128];
	size_t n = 0, len;
	unsigned id, first, last;

	for (q = s; *q; q++)
		n += *q == ' ' || *q == '\t';
	r->srcs = calloc(n + 1, sizeof(*r->srcs));
	if (!r->srcs)
		return ENOMEM;
	for (; *s; s = e) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		for (e = s; *e && *e != ' ' && *e != '\t'; e++)
			;
		len = (size_t)(e - s);
		snprintf(item, sizeof(item), "%.*s", (int)len, s);
		src = &r->srcs[r->nsrcs++];
		if (!strcmp(item, "any")) {
			src->kind = SRC_ANY;
		} else if (!strncmp(item, "span:", 5)) {
			src->kind = SRC_SPANS;
			for (q = item + 5;
			     gw_span_range(&q, &first, &last) > 0;) {
				for (id = first; id <= last; id++)
					src->spans[id / 8] |=
						(unsigned char)(1u << (id % 8));
			}
		} else if (!strncmp(item, "group:", 6)) {
			src->kind = SRC_GROUP;
			src->group = group_find(p, item + 6, len - 6);
			if (!src->group) {
				snprintf(err, errlen, "%s: route %s: from "
					 "group '%s' is not defined (no "
					 "[group %s])",
					 where(p, "route", r->name, "from", w,
					       sizeof(w)),
					 r->name, item + 6, item + 6);
				return EINVAL;
			}
		} else if (!strncmp(item, "trunk:", 6)) {
			struct trunk *t = trunk_find(p, item + 6, len - 6);

			if (!t) {
				snprintf(err, errlen, "%s: route %s: from "
					 "trunk '%s' is not defined (no "
					 "[trunk %s])",
					 where(p, "route", r->name, "from", w,
					       sizeof(w)),
					 r->name, item + 6, item + 6);
				return EINVAL;
			}
			src->kind = SRC_TRUNK;
			src->trunk = t->name;
			src->addr = t->addr;
		} else {	/* addr:, checked by the schema */
			src->kind = SRC_ADDR;
			if (gw_route_parse_cidr(item + 5, &src->addr,
						&src->bits))
				return EINVAL;
		}
	}
	if (!r->nsrcs)
		r->srcs[r->nsrcs++].kind = SRC_ANY;
	return 0;
}

static int rule_target(struct gw_dialplan *p, struct rule *r, char *err,
		       size_t errlen)
{
	const char *t = r->c->target;
	const char *f, *e;
	struct trunk *tr;
	char w[256];
	size_t n;

	r->target = strchr(t, ':') + 1;
	if (!strncmp(t, "user:", 5)) {
		r->kind = GW_TARGET_USER;
		return 0;
	}
	if (!strncmp(t, "group:", 6)) {
		r->kind = GW_TARGET_GROUP;
		r->group = group_find(p, r->target, strlen(r->target));
		if (r->group)
			return 0;
		snprintf(err, errlen, "%s: route %s: target group '%s' is "
			 "not defined (no [group %s])",
			 where(p, "route", r->name, "target", w, sizeof(w)),
			 r->name, r->target, r->target);
		return EINVAL;
	}
	r->kind = GW_TARGET_TRUNK;
	tr = trunk_find(p, r->target, strlen(r->target));
	if (!tr) {
		snprintf(err, errlen, "%s: route %s: target trunk '%s' is "
			 "not defined (no [trunk %s])",
			 where(p, "route", r->name, "target", w, sizeof(w)),
			 r->name, r->target, r->target);
		return EINVAL;
	}
	n = 1;
	for (f = tr->c->failover; *f; f++)
		n += *f == ' ' || *f == ',';
	r->trunks = calloc(n + 1, sizeof(*r->trunks));
	if (!r->trunks)
		return ENOMEM;
	r->trunks[r->ntrunks++] = tr->name;
	for (f = tr->c->failover; *f; f = e) {
		struct trunk *fo;

		while (*f == ' ' || *f == ',')
			f++;
		if (!*f)
			break;
		for (e = f; *e && *e != ' ' && *e != ','; e++)
			;
		fo = trunk_find(p, f, (size_t)(e - f));
		if (!fo) {
			snprintf(err, errlen, "%s: trunk %s: failover trunk "
				 "'%.*s' is not defined",
				 where(p, "trunk", tr->name, "failover", w,
				       sizeof(w)),
				 tr->name, (int)(e - f), f);
			return EINVAL;
		}
		r->trunks[r->ntrunks++] = fo->name;
	}
	return 0;
}

static int rule_cmp(const void *a, const void *b)
{
	const struct rule *x = a, *y = b;

	if (x->c->priority != y->c->priority)
		return x->c->priority > y->c->priority ? -1 : 1;
	if (x->mk != y->mk)
		return x->mk < y->mk ? -1 : 1;
	if (x->mk == MATCH_PREFIX && x->plen != y->plen)
		return x->plen > y->plen ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/**
 * Compile the dial plan of conf ([route], [group], [trunk] sections) into
 * *planp.  What one section's check could not see is checked here: every
 * group and trunk a route names exists, every span a group lists is
 * configured, failover trunks exist.  Errors: EINVAL with "file:line:
 * reason" in err, or ENOMEM.
 */
int gw_dialplan_compile(struct gw_dialplan **planp,
			const struct gw_conf *conf, char *err, size_t errlen)
{
	const struct gw_group_conf *gc;
	const struct gw_trunk_conf *tc;
	const struct gw_route_conf *rc;
	struct gw_dialplan *p;
	const char *name;
	unsigned bits;
	size_t i, n;
	int e = 0;

	if (!planp || !conf)
		return EINVAL;
	if (err && errlen)
		err[0] = '\0';
	p = gw_mem_zalloc(sizeof(*p), plan_destroy);
	if (!p)
		return ENOMEM;
	p->conf = gw_mem_ref((void *)conf);

	for (n = 0; gw_conf_group(conf, n, NULL); n++)
		;
	p->groups = calloc(n ? n : 1, sizeof(*p->groups));
	if (!p->groups) {
		e = ENOMEM;
		goto out;
	}
	for (i = 0; (gc = gw_conf_group(conf, i, &name)); i++) {
		p->ngroups++;
		e = group_build(p, &p->groups[i], name, gc, err, errlen);
		if (e)
			goto out;
	}

	for (n = 0; gw_conf_trunk(conf, n, NULL); n++)
		;
	p->trunks = calloc(n ? n : 1, sizeof(*p->trunks));
	if (!p->trunks) {
		e = ENOMEM;
		goto out;
	}
	for (i = 0; (tc = gw_conf_trunk(conf, i, &name)); i++) {
		p->trunks[i].name = name;
		p->trunks[i].c = tc;
		gw_route_parse_cidr(tc->host, &p->trunks[i].addr, &bits);
		p->ntrunks++;
	}

	for (n = 0; gw_conf_route(conf, n, NULL); n++)
		;
	p->rules = calloc(n ? n : 1, sizeof(*p->rules));
	if (!p->rules) {
		e = ENOMEM;
		goto out;
	}
	for (i = 0; (rc = gw_conf_route(conf, i, &name)); i++) {
		struct rule *r = &p->rules[i];

		p->nrules++;
		r->name = name;
		r->c = rc;
		r->order = i;
		r->npi = plan_npi[rc->plan];
		if (!strncmp(rc->match, "re:", 3)) {
			r->mk = MATCH_RE;
			if (regcomp(&r->re, rc->match + 3,
				    REG_EXTENDED | REG_NOSUB)) {
				e = EINVAL;	/* the schema checked it */
				goto out;
			}
			r->re_ok = true;
		} else if (!strcmp(rc->match, "any")) {
			r->mk = MATCH_ANY;
		} else {
			r->mk = MATCH_PREFIX;
			r->plen = strlen(rc->match);
		}
		e = rule_sources(p, r, err, errlen);
		if (!e)
			e = rule_target(p, r, err, errlen);
		if (e)
			goto out;
	}
	qsort(p->rules, p->nrules, sizeof(*p->rules), rule_cmp);

 out:
	if (e)
		gw_mem_deref(p);
	else
		*planp = p;
	return e;
}

/** How many rules the plan has. */
size_t gw_dialplan_rules(const struct gw_dialplan *plan)
{
	return plan ? plan->nrules : 0;
}

/** The hunting state of [group name], or NULL. */
struct gw_hunt *gw_dialplan_group(const struct gw_dialplan *plan,
				  const char *name)
{
	if (!plan || !name)
		return NULL;
	return group_find(plan, name, strlen(name));
}

static bool addr_in(const struct sockaddr *a, const struct sockaddr_storage *net,
		    unsigned bits)
{
	const unsigned char *x, *y;
	unsigned i;

	if (a->sa_family != net->ss_family)
		return false;
	if (a->sa_family == AF_INET) {
		x = (const unsigned char *)
			&((const struct sockaddr_in *)a)->sin_addr;
		y = (const unsigned char *)
			&((const struct sockaddr_in *)net)->sin_addr;
	} else if (a->sa_family == AF_INET6) {
		x = ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr;
		y = ((const struct sockaddr_in6 *)net)->sin6_addr.s6_addr;
	} else {
		return false;
	}
	for (i = 0; i < bits / 8; i++) {
		if (x[i] != y[i])
			return false;
	}
	if (bits % 8) {
		unsigned char m = (unsigned char)(0xff << (8 - bits % 8));

		if ((x[i] & m) != (y[i] & m))
			return false;
	}
	return true;
}

/** The trunk whose host is addr's IP address (port ignored), or NULL. */
const char *gw_dialplan_trunk_by_addr(const struct gw_dialplan *plan,
				      const struct sockaddr *addr)
{
	size_t i;

	if (!plan || !addr)
		return NULL;
	for (i = 0; i < plan->ntrunks; i++) {
		if (addr_in(addr, &plan->trunks[i].addr,
			    addr->sa_family == AF_INET ? 32 : 128))
			return plan->trunks[i].name;
	}
	return NULL;
}

static bool group_has_span(const struct gw_hunt *h, unsigned span)
{
	size_t i;

	for (i = 0; i < h->nspans; i++) {
		if (h->spans[i].id == span)
			return true;
	}
	return false;
}

static bool src_match(const struct src *s, const struct gw_route_req *req)
{
	bool span = req->src == GW_ROUTE_FROM_SPAN;

	switch (s->kind) {
	case SRC_ANY:
		return true;
	case SRC_SPANS:
		return span && req->span < 256 &&
			(s->spans[req->span / 8] & (1u << (req->span % 8)));
	case SRC_GROUP:
		return span && group_has_span(s->group, req->span);
	case SRC_TRUNK:
		if (span)
			return false;
		if (req->trunk)
			return !strcmp(req->trunk, s->trunk);
		return req->addr && addr_in(req->addr, &s->addr,
					    req->addr->sa_family == AF_INET ?
					    32 : 128);
	case SRC_ADDR:
		return !span && req->addr && addr_in(req->addr, &s->addr,
						     s->bits);
	}
	return false;
}

static bool rule_match(const struct rule *r, const struct gw_route_req *req)
{
	size_t i;

	switch (r->mk) {
	case MATCH_PREFIX:
		if (strncmp(req->called.digits, r->c->match, r->plen))
			return false;
		break;
	case MATCH_RE:
		if (regexec(&r->re, req->called.digits, 0, NULL, 0))
			return false;
		break;
	case MATCH_ANY:
		break;
	}
	for (i = 0; i < r->nsrcs; i++) {
		if (src_match(&r->srcs[i], req))
			return true;
	}
	return false;
}

static bool starts(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return n && !strncmp(s, prefix, n);
}

static int set_digits(struct gw_number *n, const char *a, const char *b)
{
	char buf[GW_ROUTE_NUM_MAX];
	size_t la = strlen(a), lb = strlen(b);

	if (la + lb >= sizeof(buf))
		return EOVERFLOW;
	memcpy(buf, a, la);	/* a and b may overlap n->digits */
	memcpy(buf + la, b, lb + 1);
	memcpy(n->digits, buf, sizeof(buf));
	return 0;
}

/*
 * A number into the form fmt asks for.  First what it is: international
 * or national by its type of number, or, with type unknown, by its
 * dialled prefix (00 / 0).  A number whose kind cannot be told (unknown
 * type without a prefix, subscriber, ...) is left as it is.
 */
static int number_format(struct gw_number *n, enum gw_numfmt fmt,
			 const struct gw_route_conf *c)
{
	const char *cc = c->country_code;
	char d[GW_ROUTE_NUM_MAX];
	enum gw_ton kind;
	int e;

	if (fmt == GW_NUMFMT_KEEP)
		return 0;
	memcpy(d, n->digits, sizeof(d));
	if (n->ton == GW_TON_INTERNATIONAL || n->ton == GW_TON_NATIONAL) {
		kind = n->ton;
	} else if (n->ton != GW_TON_UNKNOWN) {
		return 0;
	} else if (starts(d, c->international_prefix)) {
		kind = GW_TON_INTERNATIONAL;
		memmove(d, d + strlen(c->international_prefix),
			strlen(d) - strlen(c->international_prefix) + 1);
	} else if (starts(d, c->national_prefix)) {
		kind = GW_TON_NATIONAL;
		memmove(d, d + strlen(c->national_prefix),
			strlen(d) - strlen(c->national_prefix) + 1);
	} else {
		return 0;
	}
	/* An international number of our own country is national. */
	if (kind == GW_TON_INTERNATIONAL && fmt != GW_NUMFMT_INTERNATIONAL &&
	    starts(d, cc)) {
		kind = GW_TON_NATIONAL;
		memmove(d, d + strlen(cc), strlen(d) - strlen(cc) + 1);
	}
	switch (fmt) {
	case GW_NUMFMT_INTERNATIONAL:
		e = set_digits(n, kind == GW_TON_NATIONAL ? cc : "", d);
		n->ton = GW_TON_INTERNATIONAL;
		break;
	case GW_NUMFMT_NATIONAL:
		e = set_digits(n, "", d);
		n->ton = kind;	/* a foreign number stays international */
		break;
	default:
		e = set_digits(n, kind == GW_TON_NATIONAL ?
			       c->national_prefix : c->international_prefix,
			       d);
		n->ton = GW_TON_UNKNOWN;
		break;
	}
	n->npi = GW_NPI_ISDN;
	return e;
}

/**
 * Route req through the plan: the first rule in plan order (see the top
 * of this file) whose match and source fit.  Fills res with the target
 * and the rewritten numbers.  ENOENT when no rule matches (404 / cause
 * 1), EOVERFLOW when a rewritten number would be too long.
 */
int gw_route_lookup(const struct gw_dialplan *plan,
		    const struct gw_route_req *req,
		    struct gw_route_result *res)
{
	const struct rule *r = NULL;
	const struct gw_route_conf *c;
	size_t i, len;
	int e;

	if (!plan || !req || !res)
		return EINVAL;
	for (i = 0; i < plan->nrules; i++) {
		if (rule_match(&plan->rules[i], req)) {
			r = &plan->rules[i];
			break;
		}
	}
	if (!r)
		return ENOENT;
	c = r->c;

	memset(res, 0, sizeof(*res));
	res->rule = r->name;
	res->digits = (unsigned)c->digits;
	res->kind = r->kind;
	res->target = r->target;
	res->group = r->group;
	res->trunks = r->trunks;
	res->ntrunks = r->ntrunks;
	res->called = req->called;
	res->calling = req->calling;
	res->called.digits[GW_ROUTE_NUM_MAX - 1] = '\0';
	res->calling.digits[GW_ROUTE_NUM_MAX - 1] = '\0';

	len = strlen(res->called.digits);
	i = (size_t)c->strip < len ? (size_t)c->strip : len;
	e = set_digits(&res->called, c->prepend, req->called.digits + i);
	if (!e)
		e = number_format(&res->called,
				  (enum gw_numfmt)c->called_format, c);
	if (!e)
		e = number_format(&res->calling,
				  (enum gw_numfmt)c->calling_format, c);
	if (e)
		return e;
	if (r->npi >= 0) {
		res->called.npi = (enum gw_npi)r->npi;
		res->calling.npi = (enum gw_npi)r->npi;
	}
	GW_DBG("route %s: %s -> %s:%s %s", r->name, req->called.digits,
	       r->kind == GW_TARGET_GROUP ? "group" :
	       r->kind == GW_TARGET_TRUNK ? "trunk" : "user", r->target,
	       res->called.digits);
	return 0;
}

/** The SIP status and Q.850 cause for a routing or hunting error. */
void gw_route_fail_cause(int err, unsigned *sipp, unsigned *q850p)
{
	unsigned sip = 500, q850 = 41;	/* temporary failure */

	if (err == ENOENT) {
		sip = 404;
		q850 = 1;	/* unallocated number */
	} else if (err == EBUSY) {
		sip = 503;
		q850 = 34;	/* no circuit/channel available */
	}
	if (sipp)
		*sipp = sip;
	if (q850p)
		*q850p = q850;
}

/** The group's hunting strategy. */
enum gw_hunt_strategy gw_hunt_strategy(const struct gw_hunt *h)
{
	return h->strategy;
}

/* Flat channel index k -> span and timeslot, spans in listed order. */
static void hunt_chan(const struct gw_hunt *h, size_t k, size_t *si,
		      unsigned *span, unsigned *ts)
{
	size_t i;

	for (i = 0; k >= h->spans[i].nts; i++)
		k -= h->spans[i].nts;
	*si = i;
	*span = h->spans[i].id;
	*ts = h->spans[i].ts[k];
}

/**
 * Pick a free B-channel of the group, asking busy about each candidate:
 *   ascending   the first free: spans in listed order, timeslots up;
 *   descending  the last free: spans in reverse, timeslots down (the
 *               far end hunting ascending then rarely collides: glare);
 *   roundrobin  the first free after the previous pick, wrapping over
 *               all spans of the group;
 *   leastused   on the span with the fewest busy channels (the first
 *               listed on a tie), its lowest free timeslot.
 * EBUSY when every channel is busy (503 / cause 34).
 */
int gw_hunt_pick(struct gw_hunt *h, gw_hunt_busy_h *busy, void *arg,
		 unsigned *spanp, unsigned *tsp)
{
	size_t k, i, si, best = 0, bestbusy = (size_t)-1;
	unsigned span, ts, j, nbusy;

	if (!h || !busy || !spanp || !tsp)
		return EINVAL;
	switch (h->strategy) {
	case GW_HUNT_ASCENDING:
	case GW_HUNT_DESCENDING:
	case GW_HUNT_ROUNDROBIN:
		for (i = 0; i < h->nchans; i++) {
			if (h->strategy == GW_HUNT_ASCENDING)
				k = i;
			else if (h->strategy == GW_HUNT_DESCENDING)
				k = h->nchans - 1 - i;
			else
				k = ((h->picked ? h->last + 1 : 0) + i) %
					h->nchans;
			hunt_chan(h, k, &si, &span, &ts);
			if (busy(span, ts, arg))
				continue;
			h->last = k;
			h->picked = true;
			*spanp = span;
			*tsp = ts;
			return 0;
		}
		return EBUSY;
	case GW_HUNT_LEASTUSED:
		for (i = 0; i < h->nspans; i++) {
			for (j = 0, nbusy = 0; j < h->spans[i].nts; j++)
				nbusy += busy(h->spans[i].id,
					      h->spans[i].ts[j], arg);
			if (nbusy < h->spans[i].nts && nbusy < bestbusy) {
				best = i;
				bestbusy = nbusy;
			}
		}
		if (bestbusy == (size_t)-1)
			return EBUSY;
		for (j = 0; j < h->spans[best].nts; j++) {
			if (!busy(h->spans[best].id, h->spans[best].ts[j],
				  arg)) {
				*spanp = h->spans[best].id;
				*tsp = h->spans[best].ts[j];
				return 0;
			}
		}
		return EBUSY;
	}
	return EINVAL;
}
