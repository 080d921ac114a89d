/* gateway/cdr.h - call detail records in SQLite, written off the main loop */
#ifndef GW_CDR_H
#define GW_CDR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core.h"

struct gw_conf;

/* [cdr] (schema row in gateway/conf.c) */
enum gw_cdr_sync { GW_CDR_SYNC_NORMAL, GW_CDR_SYNC_FULL };

struct gw_cdr_conf {
	char *path;		/* relative: under [general] rundir */
	int synchronous;	/* enum gw_cdr_sync */
};

const struct gw_cdr_conf *gw_conf_cdr(const struct gw_conf *conf);

/* How an attempt ended; GW_CDR_AUTO lets gw_cdr_end derive it. */
enum gw_cdr_disp {
	GW_CDR_AUTO = 0,
	GW_CDR_ANSWERED,
	GW_CDR_BUSY,
	GW_CDR_NOANSWER,
	GW_CDR_FAILED,
	GW_CDR_CANCELLED,
};

/*
 * One call attempt.  The call keeps it and passes it at each stage; every
 * stage writes the whole record (a copy is queued, so the caller may
 * change it at once).  Times are wall-clock ms since the epoch, 0 = not
 * yet; a stage fills its own time if the caller left it 0.
 */
struct gw_cdr_rec {
	char id[64];			/* the call's id: unique, required */
	char direction[4];		/* "in" (from the PSTN) or "out" */
	int64_t start_ms, answer_ms, end_ms;
	char calling_in[40], called_in[40];	/* as received */
	char calling_out[40], called_out[40];	/* as sent */
	unsigned span, ts;		/* 0: none */
	char sip_call_id[256];
	char codec[16];
	char route[64];			/* the dial plan rule */
	unsigned q850;			/* 0: none */
	unsigned sip;			/* 0: none */
	enum gw_cdr_disp disposition;
	unsigned dtmf;			/* digits seen, both ways */
	double loss;			/* packet loss, percent */
	double jitter_ms;
	double mos;			/* 0: not measured */
};

struct gw_cdr;		/* a gw_mem block: the store and its writer thread */

int  gw_cdr_open(struct gw_cdr **cdrp, const char *path,
		 enum gw_cdr_sync sync, char *err, size_t errlen);
int  gw_cdr_begin(struct gw_cdr *cdr, struct gw_cdr_rec *rec);
int  gw_cdr_answer(struct gw_cdr *cdr, struct gw_cdr_rec *rec);
int  gw_cdr_end(struct gw_cdr *cdr, struct gw_cdr_rec *rec);

/* The last n records (oldest first) as a JSON array of objects in the
 * DESIGN.md `cdr` shape, read on the writer thread after every write
 * queued before it and handed to h on the calling thread's loop: h gets
 * 0 and the array (h owns it), or an errno and NULL.  Called once unless
 * the return is non-zero. */
typedef void (gw_cdr_list_h)(int err, json_t *rows, void *arg);
int  gw_cdr_list(struct gw_cdr *cdr, unsigned n, gw_cdr_list_h *h,
		 void *arg);

/* h(arg) on the calling thread's loop once every write queued before
 * has been committed (tests, shutdown reports). */
int  gw_cdr_flush(struct gw_cdr *cdr, gw_post_h *h, void *arg);

/* Counters, main thread view (approximate while writes are queued). */
struct gw_cdr_stats {
	uint64_t queued;	/* stages handed to the writer */
	uint64_t committed;	/* stages committed */
	uint64_t failed;	/* stages SQLite refused (logged) */
};
void gw_cdr_stats(const struct gw_cdr *cdr, struct gw_cdr_stats *st);

/* Export: the array of gw_cdr_list as the status-socket reply object
 * {"cdr":[...]} (steals rows), or as CSV with a header line (RFC 4180). */
json_t *gw_cdr_reply(json_t *rows);
int  gw_cdr_csv(const json_t *rows, FILE *f);

const char *gw_cdr_disp_name(enum gw_cdr_disp d);

#endif
