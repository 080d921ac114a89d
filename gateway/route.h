/* gateway/route.h - the dial plan: routes, number rewriting, span hunting */
#ifndef GW_ROUTE_H
#define GW_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct gw_conf;

/* ---- Config sections (schema rows in gateway/conf.c) ----------------- */

/* Q.931 type of number (s.4.5.10, octet 3, bits 7-5). */
enum gw_ton {
	GW_TON_UNKNOWN = 0,
	GW_TON_INTERNATIONAL = 1,
	GW_TON_NATIONAL = 2,
	GW_TON_NETWORK = 3,
	GW_TON_SUBSCRIBER = 4,
	GW_TON_ABBREVIATED = 6,
};

/* Q.931 numbering plan identification (s.4.5.10, octet 3, bits 4-1). */
enum gw_npi {
	GW_NPI_UNKNOWN = 0,
	GW_NPI_ISDN = 1,	/* E.164 */
	GW_NPI_DATA = 3,
	GW_NPI_TELEX = 4,
	GW_NPI_NATIONAL = 8,
	GW_NPI_PRIVATE = 9,
};

/* How a rule sends a number: as it came, or in one of the Q.931 forms. */
enum gw_numfmt {
	GW_NUMFMT_KEEP,
	GW_NUMFMT_INTERNATIONAL,	/* 4930123456, TON international */
	GW_NUMFMT_NATIONAL,		/* 30123456, TON national */
	GW_NUMFMT_UNKNOWN,		/* 030123456 / 0044..., TON unknown:
					 * the dialled form, with prefixes */
};

/* [route NAME] */
struct gw_route_conf {
	char *match;		/* "0049", "re:^00[1-9]", "any" */
	char *from;		/* "any", "span:1,2 group:G trunk:T addr:CIDR" */
	long long priority;	/* higher first */
	long long digits;	/* overlap receiving: complete at this
				 * length; 0: unknown */
	long long strip;	/* leading digits removed from the called number */
	char *prepend;		/* then put in front of it */
	int called_format;	/* enum gw_numfmt */
	int calling_format;	/* enum gw_numfmt */
	int plan;		/* index into gw_route_plan_names: keep, ... */
	char *country_code;	/* "49": national <-> international */
	char *national_prefix;		/* "0" */
	char *international_prefix;	/* "00" */
	char *target;		/* "group:NAME", "trunk:NAME", "user:NAME" */
};

/* Hunting strategies of a span group. */
enum gw_hunt_strategy {
	GW_HUNT_ASCENDING,
	GW_HUNT_DESCENDING,
	GW_HUNT_ROUNDROBIN,
	GW_HUNT_LEASTUSED,
};

/* [group NAME] */
struct gw_group_conf {
	char *spans;		/* "1,2": hunted in this order */
	int hunt;		/* enum gw_hunt_strategy */
};

enum gw_sip_transport { GW_SIP_UDP, GW_SIP_TCP, GW_SIP_TLS };

/* [trunk NAME]: a SIP peer, as far as routing needs it. */
struct gw_trunk_conf {
	char *host;		/* IPv4 or IPv6 literal */
	long long port;
	int transport;		/* enum gw_sip_transport */
	char *failover;		/* "t2 t3": tried in order after this one */
	long long keepalive_s;	/* OPTIONS every N s; 0: none */
	long long keepalive_failures;	/* unanswered in a row: down */
};

extern const char *const gw_route_plan_names[];	/* "keep", "unknown", ... */
extern const char *const gw_hunt_names[];		/* "ascending", ... */

/* Parsers the schema's checks and the compiler share: 0 or EINVAL. */
int  gw_route_parse_cidr(const char *s, struct sockaddr_storage *addr,
			 unsigned *bitsp);

/* ---- The compiled dial plan ----------------------------------------- */

struct gw_dialplan;	/* a gw_mem block */
struct gw_hunt;		/* one group's hunting state, inside the plan */

enum gw_route_src {
	GW_ROUTE_FROM_SPAN,	/* a PRI SETUP on span .span */
	GW_ROUTE_FROM_SIP,	/* an INVITE from .addr (trunk .trunk) */
};

#define GW_ROUTE_NUM_MAX 40	/* digits, with the NUL */

struct gw_number {
	char digits[GW_ROUTE_NUM_MAX];
	enum gw_ton ton;
	enum gw_npi npi;
};

struct gw_route_req {
	struct gw_number called;
	struct gw_number calling;
	enum gw_route_src src;
	unsigned span;			/* GW_ROUTE_FROM_SPAN */
	const char *trunk;		/* GW_ROUTE_FROM_SIP; NULL if none */
	const struct sockaddr *addr;	/* GW_ROUTE_FROM_SIP; may be NULL */
};

enum gw_route_target { GW_TARGET_GROUP, GW_TARGET_TRUNK, GW_TARGET_USER };

struct gw_route_result {
	const char *rule;		/* the rule's name (borrowed) */
	unsigned digits;		/* the rule's complete length, or 0 */
	enum gw_route_target kind;
	const char *target;		/* group, trunk or user name (borrowed) */
	struct gw_hunt *group;		/* GW_TARGET_GROUP (borrowed) */
	/* GW_TARGET_TRUNK: the trunk, then its failover list, in order. */
	const char *const *trunks;	/* borrowed */
	size_t ntrunks;
	struct gw_number called;	/* rewritten */
	struct gw_number calling;	/* rewritten */
};

int  gw_dialplan_compile(struct gw_dialplan **planp,
			 const struct gw_conf *conf, char *err, size_t errlen);
int  gw_route_lookup(const struct gw_dialplan *plan,
		     const struct gw_route_req *req,
		     struct gw_route_result *res);
size_t gw_dialplan_rules(const struct gw_dialplan *plan);
struct gw_hunt *gw_dialplan_group(const struct gw_dialplan *plan,
				  const char *name);
/* The trunk whose host is addr's IP address; NULL when none is. */
const char *gw_dialplan_trunk_by_addr(const struct gw_dialplan *plan,
				      const struct sockaddr *addr);
/* The SIP status and Q.850 cause a routing error maps to:
 * ENOENT -> 404 / 1, EBUSY -> 503 / 34, anything else -> 500 / 41. */
void gw_route_fail_cause(int err, unsigned *sipp, unsigned *q850p);

/* ---- Channel hunting ------------------------------------------------ */

/* true when the B-channel is not available (in use, reserved, blocked,
 * or its span is down). */
typedef bool (gw_hunt_busy_h)(unsigned span, unsigned ts, void *arg);

int  gw_hunt_pick(struct gw_hunt *h, gw_hunt_busy_h *busy, void *arg,
		  unsigned *spanp, unsigned *tsp);
enum gw_hunt_strategy gw_hunt_strategy(const struct gw_hunt *h);

/* ---- Config accessors (gateway/conf.c) ------------------------------ */

const struct gw_route_conf *gw_conf_route(const struct gw_conf *conf,
					  size_t idx, const char **namep);
const struct gw_group_conf *gw_conf_group(const struct gw_conf *conf,
					  size_t idx, const char **namep);
const struct gw_trunk_conf *gw_conf_trunk(const struct gw_conf *conf,
					  size_t idx, const char **namep);

#endif
