/* gateway/cause.h - Q.850 cause <-> SIP status mapping and Reason headers */
#ifndef GW_CAUSE_H
#define GW_CAUSE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The mapping is data: junctiond loads it from a CSV file (etc/causes.csv,
 * RFC 3398's tables) and applies the overrides of its config on top.  A
 * struct gw_causes is a gw_mem block: release it with gw_mem_deref.
 */
struct gw_causes;

/*
 * Q.850 cause locations (Q.850 Table 1, the 4-bit location field); in a
 * Reason header they are RFC 8606's tokens (U, LPN, LN, ...).  libpri 1.6
 * neither reports the location of a cause it receives nor lets us choose
 * the one it sends (always LPN), so on PRI the location is usually
 * GW_CAUSE_LOC_NONE.
 */
enum {
	GW_CAUSE_LOC_NONE = -1,	/* unknown, or not to be sent */
	GW_CAUSE_LOC_U    = 0,	/* user */
	GW_CAUSE_LOC_LPN  = 1,	/* private network serving the local user */
	GW_CAUSE_LOC_LN   = 2,	/* public network serving the local user */
	GW_CAUSE_LOC_TN   = 3,	/* transit network */
	GW_CAUSE_LOC_RLN  = 4,	/* public network serving the remote user */
	GW_CAUSE_LOC_RPN  = 5,	/* private network serving the remote user */
	GW_CAUSE_LOC_INTL = 7,	/* international network */
	GW_CAUSE_LOC_BI   = 10,	/* network beyond interworking point */
	GW_CAUSE_LOC_MAX  = 15,
};

#define GW_CAUSE_REASON_MAX 64	/* reason phrase, with its NUL */

/* Loading and overrides. */
int  gw_causes_load(struct gw_causes **cp, const char *path, char *err,
		    size_t errlen);
int  gw_causes_load_str(struct gw_causes **cp, const char *name,
			const char *text, char *err, size_t errlen);
int  gw_causes_override(struct gw_causes *c, const char *spec, char *err,
			size_t errlen);

/* Lookups: 0, or ENOENT for a "none" row (outputs then hold the default). */
int  gw_cause_to_sip(const struct gw_causes *c, unsigned q850, int location,
		     unsigned *statusp, const char **reasonp);
int  gw_cause_from_sip(const struct gw_causes *c, unsigned status,
		       unsigned warning, unsigned *q850p);

/* Reason header field values (RFC 3326, RFC 8606). */
int  gw_cause_reason_format(unsigned q850, int location, char *buf,
			    size_t len);
int  gw_cause_reason_parse(const char *value, unsigned *q850p,
			   int *locationp);

/* Names. */
const char *gw_cause_name(unsigned q850);	/* NULL: unassigned */
const char *gw_cause_loc_name(int location);	/* "LN"; NULL: none */
int  gw_cause_loc_parse(const char *s, size_t n);	/* -1: unknown */
const char *gw_cause_sip_phrase(unsigned status);	/* NULL: unknown */
bool gw_cause_valid(unsigned q850);		/* 1..127 */

#endif
