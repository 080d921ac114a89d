/* gateway/conf.c - the configuration schema of junctiond and junction-mg */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "gw.h"
#include "cdr.h"
#include "route.h"
#include "tdm.h"

/*
 * One file configures the whole gateway; each daemon reads the sections
 * it needs, and both know every section so that a typo is an error in
 * either.  Later subsystems add their sections to gw_conf_schema.
 */

static int check_general(void *data, const char *label, char *err,
			 size_t errlen)
{
	struct gw_general_conf *g = data;

	(void)label;
	if (gw_log_check_levels(g->log_level)) {
		snprintf(err, errlen, "log_level '%s' is not a level spec "
			 "(for example: info,sip=debug)", g->log_level);
		return EINVAL;
	}
	if (g->rundir[0] != '/') {
		snprintf(err, errlen, "rundir '%s' must be an absolute path "
			 "(the daemon runs from /)", g->rundir);
		return EINVAL;
	}
	return 0;
}

static const struct gw_conf_key general_keys[] = {
	{"rundir", GW_CONF_STR, offsetof(struct gw_general_conf, rundir),
	 "${JUNCTION_RUNDIR:-/tmp/junction-demo}", 0, 4000, NULL, 0,
	 "directory for runtime files such as the status sockets; "
	 "relative paths in this file resolve against it"},
	{"log_level", GW_CONF_STR, offsetof(struct gw_general_conf, log_level),
	 "info", 0, 500, NULL, GW_CONF_RELOAD,
	 "default level, then module=level pairs: error, warn, info, debug "
	 "(for example: info,sip=debug,mg=warn)"},
	{NULL},
};

static const struct gw_conf_key junctiond_keys[] = {
	{"socket", GW_CONF_STR, offsetof(struct gw_junctiond_conf, socket),
	 "junctiond.sock", 1, 107, NULL, 0,
	 "status socket of junctiond (junctionctl's default)"},
	{"stop_timeout_ms", GW_CONF_INT,
	 offsetof(struct gw_junctiond_conf, stop_timeout_ms),
	 "5000", 100, 600000, NULL, GW_CONF_RELOAD,
	 "how long junction-mg gets to stop before it is killed"},
	{NULL},
};

#define MG_MGC_LIST	4
static const char *const mg_encodings[] = {"pretty", "compact", NULL};
static const char *const mg_transports[] = {"udp", "tcp", NULL};

/** "ip:port, [v6]:port" into ip[] and port[]: how many, or -1. */
int gw_conf_addr_list(const char *s, char ip[][64], uint16_t *port, int max)
{
	int n = 0;

	while (s && *s) {
		const char *e = strchr(s, ','), *colon;
		char one[80];
		size_t len;
		char *end;
		unsigned long p;

		len = e ? (size_t)(e - s) : strlen(s);
		while (len && (*s == ' ' || *s == '\t'))
			s++, len--;
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (!len || len >= sizeof(one) || n == max)
			return -1;
		memcpy(one, s, len);
		one[len] = '\0';
		colon = strrchr(one, ':');
		if (!colon || colon == one)
			return -1;
		p = strtoul(colon + 1, &end, 10);
		if (*end || !p || p > 65535)
			return -1;
		len = (size_t)(colon - one);
		if (one[0] == '[') {
			if (len < 3 || one[len - 1] != ']')
				return -1;
			memcpy(ip[n], one + 1, len - 2);
			ip[n][len - 2] = '\0';
		} else {
			memcpy(ip[n], one, len);
			ip[n][len] = '\0';
			if (strchr(ip[n], ':'))
				return -1;
		}
		port[n++] = (uint16_t)p;
		s = e ? e + 1 : NULL;
	}
	return n;
}

static int check_mg(void *data, const char *label, char *err, size_t errlen)
{
	struct gw_mg_conf *mg = data;

	(void)label;
	if (mg->program[0] && mg->program[0] != '/') {
		snprintf(err, errlen, "program '%s' must be an absolute path",
			 mg->program);
		return EINVAL;
	}
	if (mg->rtp_port_max <= mg->rtp_port_min) {
		snprintf(err, errlen, "rtp_port_max (%lld) is not above "
			 "rtp_port_min (%lld)", mg->rtp_port_max,
			 mg->rtp_port_min);
		return EINVAL;
	}
	if (strcmp(mg->tones, "itu") && strcmp(mg->tones, "us") &&
	    strcmp(mg->tones, "uk")) {
		snprintf(err, errlen, "tones '%s' is not one of itu, us, uk",
			 mg->tones);
		return EINVAL;
	}
	if (mg->restart_max_ms < mg->restart_min_ms) {
		snprintf(err, errlen, "restart_max_ms (%lld) is below "
			 "restart_min_ms (%lld)", mg->restart_max_ms,
			 mg->restart_min_ms);
		return EINVAL;
	}
	return 0;
}

static const struct gw_conf_key mg_keys[] = {
	{"local", GW_CONF_BOOL, offsetof(struct gw_mg_conf, local),
	 "yes", 0, 0, NULL, 0,
	 "junctiond starts junction-mg as its child and restarts it if it "
	 "dies"},
	{"program", GW_CONF_STR, offsetof(struct gw_mg_conf, program),
	 "", 0, 4000, NULL, GW_CONF_RELOAD,
	 "the junction-mg executable; empty: the one beside junctiond"},
	{"socket", GW_CONF_STR, offsetof(struct gw_mg_conf, socket),
	 "junction-mg.sock", 1, 107, NULL, 0,
	 "status socket of junction-mg"},
	{"restart_min_ms", GW_CONF_INT,
	 offsetof(struct gw_mg_conf, restart_min_ms),
	 "500", 10, 600000, NULL, GW_CONF_RELOAD,
	 "delay before the first restart of a junction-mg that died"},
	{"restart_max_ms", GW_CONF_INT,
	 offsetof(struct gw_mg_conf, restart_max_ms),
	 "30000", 10, 3600000, NULL, GW_CONF_RELOAD,
	 "the delay doubles on each crash in a row, up to this"},
	{"start_timeout_ms", GW_CONF_INT,
	 offsetof(struct gw_mg_conf, start_timeout_ms),
	 "10000", 1000, 600000, NULL, GW_CONF_RELOAD,
	 "a junction-mg whose status socket does not answer by then is "
	 "killed and restarted"},
	{"stable_ms", GW_CONF_INT, offsetof(struct gw_mg_conf, stable_ms),
	 "60000", 1000, 86400000, NULL, GW_CONF_RELOAD,
	 "a junction-mg that ran this long resets the delay"},
	{"workers", GW_CONF_INT, offsetof(struct gw_mg_conf, workers),
	 "0", 0, 64, NULL, 0,
	 "media worker threads in junction-mg, each with its own loop and "
	 "its own spans and channels; 0: one per online core"},
	{"io_uring", GW_CONF_BOOL, offsetof(struct gw_mg_conf, io_uring),
	 "yes", 0, 0, NULL, 0,
	 "media workers batch their RTP socket I/O through io_uring; no: "
	 "one system call per datagram"},
	{"address", GW_CONF_STR, offsetof(struct gw_mg_conf, address),
	 "127.0.0.1", 1, 63, NULL, 0,
	 "IP literal junction-mg's H.248 endpoints and RTP use"},
	{"megaco_port", GW_CONF_INT, offsetof(struct gw_mg_conf, megaco_port),
	 "2945", 1, 65535, NULL, 0,
	 "H.248 port of the local virtual MG (the spans junctiond "
	 "controls)"},
	{"mgc_port", GW_CONF_INT, offsetof(struct gw_mg_conf, mgc_port),
	 "2947", 1, 65535, NULL, 0,
	 "H.248 port junctiond listens on as the local MG's controller"},
	{"version", GW_CONF_INT, offsetof(struct gw_mg_conf, version),
	 "3", 1, 3, NULL, 0,
	 "the H.248 version offered at registration (negotiated down)"},
	{"encoding", GW_CONF_ENUM, offsetof(struct gw_mg_conf, encoding),
	 "compact", 0, 0, mg_encodings, 0,
	 "H.248 text written: pretty (long tokens, one per line) or "
	 "compact"},
	{"transport", GW_CONF_ENUM, offsetof(struct gw_mg_conf, transport),
	 "udp", 0, 0, mg_transports, 0, "H.248 over udp, or tcp (TPKT)"},
	{"max_wait_ms", GW_CONF_INT, offsetof(struct gw_mg_conf, max_wait_ms),
	 "100", 0, 600000, NULL, 0,
	 "longest random wait before registering (H.248.1 9.2)"},
	{"graceful_s", GW_CONF_INT, offsetof(struct gw_mg_conf, graceful_s),
	 "0", 0, 3600, NULL, 0,
	 "at shutdown: a Graceful ServiceChange with this delay; 0: "
	 "Forced"},
	{"request_timeout_ms", GW_CONF_INT,
	 offsetof(struct gw_mg_conf, request_timeout_ms),
	 "30000", 1000, 600000, NULL, 0,
	 "T-MAX: a request unanswered this long (retransmitted meanwhile) "
	 "means the MGC has failed: the next one is tried (H.248.1 D.1.5, "
	 "11.5)"},
	{"rtp_address", GW_CONF_STR, offsetof(struct gw_mg_conf, rtp_address),
	 "", 0, 63, NULL, 0, "IP literal for RTP; empty: address"},
	{"rtp_port_min", GW_CONF_INT,
	 offsetof(struct gw_mg_conf, rtp_port_min),
	 "16384", 1024, 65534, NULL, 0, "RTP ports: even RTP, odd RTCP"},
	{"rtp_port_max", GW_CONF_INT,
	 offsetof(struct gw_mg_conf, rtp_port_max),
	 "32767", 1025, 65535, NULL, 0, "last RTP/RTCP port"},
	{"tones", GW_CONF_STR, offsetof(struct gw_mg_conf, tones),
	 "itu", 1, 8, NULL, 0,
	 "call-progress tones played: itu (E.180), us or uk"},
	{"ec_tail_ms", GW_CONF_INT, offsetof(struct gw_mg_conf, ec_tail_ms),
	 "64", 32, 128, NULL, 0, "echo canceller tail"},
	{"echo_cancel", GW_CONF_BOOL, offsetof(struct gw_mg_conf, echo_cancel),
	 "yes", 0, 0, NULL, 0,
	 "cancel line echo on voice calls unless the controller says "
	 "otherwise (H.248 tdmc/ec)"},
	{"rtp_timeout_ms", GW_CONF_INT,
	 offsetof(struct gw_mg_conf, rtp_timeout_ms),
	 "0", 0, 3600000, NULL, 0,
	 "no RTP for this long while sendrecv: nt/netfail; 0: off"},
	{NULL},
};

static int check_mgc(void *data, const char *label, char *err,
		     size_t errlen)
{
	struct gw_mgc_conf *c = data;
	char ip[MG_MGC_LIST][64];
	uint16_t port[MG_MGC_LIST];

	(void)label;
	if (gw_conf_addr_list(c->address, ip, port, MG_MGC_LIST) < 1) {
		snprintf(err, errlen, "address '%s': expected 'ip:port' or a "
			 "list of up to %d, IP literals ([v6]:port)",
			 c->address, MG_MGC_LIST);
		return EINVAL;
	}
	return 0;
}

static const struct gw_conf_key mgc_keys[] = {
	{"address", GW_CONF_STR, offsetof(struct gw_mgc_conf, address),
	 "", 0, 400, NULL, GW_CONF_REQUIRED,
	 "the softswitch's H.248 address, 'ip:port'; a comma-separated "
	 "list is tried in order (failover)"},
	{"mg_port", GW_CONF_INT, offsetof(struct gw_mgc_conf, mg_port),
	 "2946", 1, 65535, NULL, GW_CONF_REQUIRED,
	 "the H.248 port of this virtual MG (on [mg] address)"},
	{"request_timeout_ms", GW_CONF_INT,
	 offsetof(struct gw_mgc_conf, request_timeout_ms),
	 "30000", 1000, 600000, NULL, 0,
	 "T-MAX toward this softswitch (see [mg])"},
	{"version", GW_CONF_INT, offsetof(struct gw_mgc_conf, version),
	 "3", 1, 3, NULL, 0, "the H.248 version offered at registration"},
	{"encoding", GW_CONF_ENUM, offsetof(struct gw_mgc_conf, encoding),
	 "pretty", 0, 0, mg_encodings, 0, "pretty or compact"},
	{"transport", GW_CONF_ENUM, offsetof(struct gw_mgc_conf, transport),
	 "udp", 0, 0, mg_transports, 0, "udp, or tcp (TPKT)"},
	{NULL},
};

static const char *const span_types[] = {"e1", "t1", NULL};
static const char *const span_drivers[] = {"vspan", "dahdi", NULL};
const char *const gw_span_signalling_names[] = {"pri_cpe", "pri_net", NULL};
/* In the order of enum tdm_pri_switch. */
static const char *const span_switches[] = {
	"euroisdn_e1", "euroisdn_t1", "national", "ni1", "dms100", "4ess",
	"5ess", "qsig", NULL,
};

static bool one_of(const char *v, const char *a, const char *b)
{
	return !strcmp(v, a) || (b && !strcmp(v, b));
}

static int check_span(void *data, const char *label, char *err,
		      size_t errlen)
{
	struct gw_span_conf *sp = data;
	bool e1 = sp->type == 0;
	bool sw_e1 = sp->switchtype == 0;	/* euroisdn_e1 */
	bool sw_t1 = sp->switchtype != 0 && sp->switchtype != 7; /* not qsig */
	char *end;
	unsigned long id = strtoul(label, &end, 10);

	if (*end || label[0] < '1' || label[0] > '9' || id > 255) {
		snprintf(err, errlen, "span label '%s' must be a number "
			 "1..255", label);
		return EINVAL;
	}
	if ((e1 && sw_t1) || (!e1 && sw_e1)) {
		snprintf(err, errlen, "switchtype %s is not for %s spans",
			 span_switches[sp->switchtype], e1 ? "E1" : "T1");
		return EINVAL;
	}
	if (strcmp(sp->control, "local") &&
	    (strncmp(sp->control, "mgc:", 4) || !sp->control[4])) {
		snprintf(err, errlen, "control '%s' is not local or "
			 "mgc:NAME", sp->control);
		return EINVAL;
	}
	if (*sp->framing && !(e1 ? one_of(sp->framing, "ccs", "cas") :
			      one_of(sp->framing, "esf", "d4"))) {
		snprintf(err, errlen, "framing '%s' is not one of %s",
			 sp->framing, e1 ? "ccs, cas" : "esf, d4");
		return EINVAL;
	}
	if (*sp->linecode && !(e1 ? one_of(sp->linecode, "hdb3", "ami") :
			       one_of(sp->linecode, "b8zs", "ami"))) {
		snprintf(err, errlen, "linecode '%s' is not one of %s",
			 sp->linecode, e1 ? "hdb3, ami" : "b8zs, ami");
		return EINVAL;
	}
	if (sp->driver == GW_DRIVER_DAHDI) {
#ifndef HAVE_DAHDI
		snprintf(err, errlen, "driver dahdi is not built in "
			 "(configure found no dahdi/user.h)");
		return EINVAL;
#else
		if (!sp->dahdi_span || !sp->dahdi_base) {
			snprintf(err, errlen, "driver dahdi needs dahdi_span "
				 "and dahdi_base");
			return EINVAL;
		}
#endif
	}
	return 0;
}

static const struct gw_conf_key span_keys[] = {
	{"type", GW_CONF_ENUM, offsetof(struct gw_span_conf, type),
	 "e1", 0, 0, span_types, 0,
	 "e1 (A-law, B-channels 1-15 and 17-31, D-channel 16) or t1 "
	 "(mu-law, B-channels 1-23, D-channel 24)"},
	{"driver", GW_CONF_ENUM, offsetof(struct gw_span_conf, driver),
	 "vspan", 0, 0, span_drivers, 0,
	 "vspan (a virtual span, to pstnsim) or dahdi (hardware)"},
	{"signalling", GW_CONF_ENUM, offsetof(struct gw_span_conf, signalling),
	 "pri_cpe", 0, 0, gw_span_signalling_names, 0,
	 "pri_cpe (the gateway as user side) or pri_net (network side)"},
	{"switchtype", GW_CONF_ENUM, offsetof(struct gw_span_conf, switchtype),
	 "euroisdn_e1", 0, 0, span_switches, 0,
	 "the PRI variant: euroisdn_e1 or qsig on E1; euroisdn_t1, "
	 "national, ni1, dms100, 4ess, 5ess or qsig on T1"},
	{"framing", GW_CONF_STR, offsetof(struct gw_span_conf, framing),
	 "", 0, 8, NULL, 0, "e1: ccs or cas; t1: esf or d4 (default ccs/esf)"},
	{"linecode", GW_CONF_STR, offsetof(struct gw_span_conf, linecode),
	 "", 0, 8, NULL, 0, "e1: hdb3 or ami; t1: b8zs or ami"},
	{"crc4", GW_CONF_BOOL, offsetof(struct gw_span_conf, crc4),
	 "yes", 0, 0, NULL, 0, "E1 CRC-4 multiframe"},
	{"clock", GW_CONF_INT, offsetof(struct gw_span_conf, clock),
	 "1", 0, 32, NULL, 0,
	 "0: free-running; N: take the clock from this span, priority N"},
	{"exclusive", GW_CONF_BOOL, offsetof(struct gw_span_conf, exclusive),
	 "yes", 0, 0, NULL, 0,
	 "ask for B-channels as exclusive, not preferred"},
	{"overlap", GW_CONF_BOOL, offsetof(struct gw_span_conf, overlap),
	 "no", 0, 0, NULL, 0, "overlap receiving (SETUP ACKNOWLEDGE)"},
	{"dchan", GW_CONF_STR, offsetof(struct gw_span_conf, dchan),
	 "", 0, 107, NULL, 0,
	 "vspan: D-channel socket (default spanN.dchan in rundir)"},
	{"bearer", GW_CONF_STR, offsetof(struct gw_span_conf, bearer),
	 "", 0, 107, NULL, 0,
	 "vspan: bearer socket (default spanN.bearer in rundir)"},
	{"dahdi_dir", GW_CONF_STR, offsetof(struct gw_span_conf, dahdi_dir),
	 "/dev/dahdi", 1, 4000, NULL, 0, "dahdi: device directory"},
	{"dahdi_span", GW_CONF_INT, offsetof(struct gw_span_conf, dahdi_span),
	 "0", 0, 255, NULL, 0, "dahdi: the DAHDI span number"},
	{"dahdi_base", GW_CONF_INT, offsetof(struct gw_span_conf, dahdi_base),
	 "0", 0, 8192, NULL, 0, "dahdi: channel number of timeslot 1"},
	{"control", GW_CONF_STR, offsetof(struct gw_span_conf, control),
	 "local", 1, 40, NULL, 0,
	 "who controls its bearer channels over H.248: local (junctiond) "
	 "or mgc:NAME (an [mgc NAME] softswitch)"},
	{NULL},
};

/* ---- The dial plan: [route NAME], [group NAME], [trunk NAME] -------- */

/*
 * These checks see one section at a time; what spans sections (a route's
 * target group exists, a group's spans are configured) is checked when
 * junctiond compiles the plan (gateway/route.c), with file:line too.
 */

/* In the order of enum gw_npi's names: keep, then Q.931's plans. */
const char *const gw_route_plan_names[] = {
	"keep", "unknown", "isdn", "data", "telex", "national", "private",
	NULL,
};
const char *const gw_hunt_names[] = {
	"ascending", "descending", "roundrobin", "leastused", NULL,
};
static const char *const numfmt_names[] = {
	"keep", "international", "national", "unknown", NULL,
};
static const char *const transport_names[] = {"udp", "tcp", "tls", NULL};

static bool all_of(const char *s, size_t n, const char *set)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!s[i] || !strchr(set, s[i]))
			return false;
	}
	return true;
}

static bool is_name(const char *s, size_t n)
{
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && !strchr("_-.", s[i]))
			return false;
	}
	return true;
}

/** "192.0.2.0/24", "2001:db8::/32" or a bare address (all bits). */
int gw_route_parse_cidr(const char *s, struct sockaddr_storage *addr,
			unsigned *bitsp)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long bits, max;
	char *end;

	if (n >= sizeof(buf))
		return EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(addr, 0, sizeof(*addr));
	if (inet_pton(AF_INET, buf,
		      &((struct sockaddr_in *)addr)->sin_addr) == 1) {
		addr->ss_family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf,
			     &((struct sockaddr_in6 *)addr)->sin6_addr) == 1) {
		addr->ss_family = AF_INET6;
		max = 128;
	} else {
		return EINVAL;
	}
	bits = max;
	if (slash) {
		if (!isdigit((unsigned char)slash[1]))
			return EINVAL;
		bits = strtoul(slash + 1, &end, 10);
		if (*end || bits > max)
			return EINVAL;
	}
	*bitsp = (unsigned)bits;
	return 0;
}

int gw_span_range(const char **sp, unsigned *first, unsigned *last)
{
	const char *s = *sp;
	unsigned long a, b;
	char *end;

	if (!*s)
		return 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	a = b = strtoul(s, &end, 10);
	if (*end == '-') {
		if (!isdigit((unsigned char)end[1]))
			return -1;
		b = strtoul(end + 1, &end, 10);
	}
	if (a < 1 || b > 255 || a > b ||
	    (*end && (*end != ',' || !isdigit((unsigned char)end[1]))))
		return -1;
	*first = (unsigned)a;
	*last = (unsigned)b;
	*sp = *end ? end + 1 : end;
	return 1;
}

/* "1,2,5-8": span numbers 1..255 and ranges of them, each span once. */
static int check_span_list(const char *s, char *err, size_t errlen)
{
	bool seen[256] = {false};
	unsigned first, last, id;
	const char *item = s;
	int r;

	if (!*s)
		goto bad;
	while ((r = gw_span_range(&s, &first, &last)) > 0) {
		for (id = first; id <= last; id++) {
			if (seen[id]) {
				snprintf(err, errlen, "span %u is listed "
					 "twice", id);
				return EINVAL;
			}
			seen[id] = true;
		}
		item = s;
	}
	if (!r)
		return 0;
 bad:
	snprintf(err, errlen, "'%s' is not a list of span numbers 1..255 "
		 "(for example: 1,2 or 1-4,6)", item);
	return EINVAL;
}

static int check_from_item(const char *it, size_t n, char *err,
			   size_t errlen)
{
	struct sockaddr_storage ss;
	char buf[128];
	unsigned bits;

	if (n >= sizeof(buf))
		goto bad;
	memcpy(buf, it, n);
	buf[n] = '\0';
	if (!strcmp(buf, "any"))
		return 0;
	if (!strncmp(buf, "span:", 5))
		return check_span_list(buf + 5, err, errlen);
	if (!strncmp(buf, "group:", 6) || !strncmp(buf, "trunk:", 6)) {
		if (is_name(buf + 6, n - 6))
			return 0;
		goto bad;
	}
	if (!strncmp(buf, "addr:", 5)) {
		if (!gw_route_parse_cidr(buf + 5, &ss, &bits))
			return 0;
		snprintf(err, errlen, "from '%s': not an address or "
			 "address/bits", buf);
		return EINVAL;
	}
 bad:
	snprintf(err, errlen, "from '%.*s' is not any, span:N[,N...], "
		 "group:NAME, trunk:NAME or addr:CIDR", (int)n, it);
	return EINVAL;
}

static int check_route(void *data, const char *label, char *err,
		       size_t errlen)
{
	struct gw_route_conf *r = data;
	const char *p, *e;
	regex_t re;
	int rc;

	if (!is_name(label, strlen(label))) {
		snprintf(err, errlen, "route name '%s': use letters, digits, "
			 "'_', '-' and '.'", label);
		return EINVAL;
	}
	if (!strncmp(r->match, "re:", 3)) {
		rc = regcomp(&re, r->match + 3, REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char msg[128];

			regerror(rc, &re, msg, sizeof(msg));
			snprintf(err, errlen, "match '%s': %s", r->match, msg);
			return EINVAL;
		}
		regfree(&re);
	} else if (!r->match[0] || (strcmp(r->match, "any") &&
		   !all_of(r->match, strlen(r->match), "0123456789*#+"))) {
		snprintf(err, errlen, "match '%s' is not a digit prefix, "
			 "re:REGEX or any", r->match);
		return EINVAL;
	}
	for (p = r->from; *p; p = e) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		for (e = p; *e && *e != ' ' && *e != '\t'; e++)
			;
		if (check_from_item(p, (size_t)(e - p), err, errlen))
			return EINVAL;
	}
	if (!all_of(r->prepend, strlen(r->prepend), "0123456789*#+")) {
		snprintf(err, errlen, "prepend '%s' is not digits",
			 r->prepend);
		return EINVAL;
	}
	if (!all_of(r->country_code, strlen(r->country_code), "0123456789") ||
	    !all_of(r->national_prefix, strlen(r->national_prefix),
		    "0123456789") ||
	    !all_of(r->international_prefix,
		    strlen(r->international_prefix), "0123456789")) {
		snprintf(err, errlen, "country_code, national_prefix and "
			 "international_prefix are digits");
		return EINVAL;
	}
	if (!r->country_code[0] &&
	    (r->called_format == GW_NUMFMT_INTERNATIONAL ||
	     r->called_format == GW_NUMFMT_NATIONAL ||
	     r->calling_format == GW_NUMFMT_INTERNATIONAL ||
	     r->calling_format == GW_NUMFMT_NATIONAL)) {
		snprintf(err, errlen, "national and international number "
			 "formats need country_code");
		return EINVAL;
	}
	p = strchr(r->target, ':');
	if (!p || !is_name(p + 1, strlen(p + 1)) ||
	    !(!strncmp(r->target, "group:", 6) ||
	      !strncmp(r->target, "trunk:", 6) ||
	      !strncmp(r->target, "user:", 5))) {
		snprintf(err, errlen, "target '%s' is not group:NAME, "
			 "trunk:NAME or user:NAME", r->target);
		return EINVAL;
	}
	return 0;
}

static const struct gw_conf_key route_keys[] = {
	{"match", GW_CONF_STR, offsetof(struct gw_route_conf, match),
	 "", 0, 500, NULL, GW_CONF_RELOAD | GW_CONF_REQUIRED,
	 "the called number: a digit prefix (0049), re:REGEX (POSIX "
	 "extended, re:^00[1-9]) or any"},
	{"from", GW_CONF_STR, offsetof(struct gw_route_conf, from),
	 "any", 1, 1000, NULL, GW_CONF_RELOAD,
	 "sources, any of them matches: any, span:1,2 (or span:1-4), "
	 "group:NAME, trunk:NAME, addr:192.0.2.0/24"},
	{"priority", GW_CONF_INT, offsetof(struct gw_route_conf, priority),
	 "0", -1000, 1000, NULL, GW_CONF_RELOAD,
	 "higher first; then the longer prefix, then prefixes before "
	 "regular expressions, then file order"},
	{"digits", GW_CONF_INT, offsetof(struct gw_route_conf, digits),
	 "0", 0, 31, NULL, GW_CONF_RELOAD,
	 "overlap receiving: the called number is complete at this many "
	 "digits (Q.931 s.5.1.3), without waiting for T302; 0: unknown"},
	{"strip", GW_CONF_INT, offsetof(struct gw_route_conf, strip),
	 "0", 0, 32, NULL, GW_CONF_RELOAD,
	 "leading digits removed from the called number"},
	{"prepend", GW_CONF_STR, offsetof(struct gw_route_conf, prepend),
	 "", 0, 32, NULL, GW_CONF_RELOAD,
	 "digits put in front of the called number after strip"},
	{"called_format", GW_CONF_ENUM,
	 offsetof(struct gw_route_conf, called_format),
	 "keep", 0, 0, numfmt_names, GW_CONF_RELOAD,
	 "send the called number as it is (keep), international (4930...), "
	 "national (30...) or unknown with prefixes (030..., 0044...)"},
	{"calling_format", GW_CONF_ENUM,
	 offsetof(struct gw_route_conf, calling_format),
	 "keep", 0, 0, numfmt_names, GW_CONF_RELOAD,
	 "the same for the calling number"},
	{"plan", GW_CONF_ENUM, offsetof(struct gw_route_conf, plan),
	 "keep", 0, 0, gw_route_plan_names, GW_CONF_RELOAD,
	 "numbering plan of the numbers sent; keep: isdn after a format "
	 "change, else as received"},
	{"country_code", GW_CONF_STR,
	 offsetof(struct gw_route_conf, country_code),
	 "", 0, 3, NULL, GW_CONF_RELOAD,
	 "our country code (49): national <-> international"},
	{"national_prefix", GW_CONF_STR,
	 offsetof(struct gw_route_conf, national_prefix),
	 "0", 0, 4, NULL, GW_CONF_RELOAD,
	 "trunk prefix of national numbers dialled with type unknown"},
	{"international_prefix", GW_CONF_STR,
	 offsetof(struct gw_route_conf, international_prefix),
	 "00", 0, 4, NULL, GW_CONF_RELOAD,
	 "prefix of international numbers dialled with type unknown"},
	{"target", GW_CONF_STR, offsetof(struct gw_route_conf, target),
	 "", 0, 200, NULL, GW_CONF_RELOAD | GW_CONF_REQUIRED,
	 "where the call goes: group:NAME (a span group), trunk:NAME (a SIP "
	 "trunk, with its failover list) or user:NAME (a registered user)"},
	{NULL},
};

static int check_group(void *data, const char *label, char *err,
		       size_t errlen)
{
	struct gw_group_conf *g = data;

	if (!is_name(label, strlen(label))) {
		snprintf(err, errlen, "group name '%s': use letters, digits, "
			 "'_', '-' and '.'", label);
		return EINVAL;
	}
	return check_span_list(g->spans, err, errlen);
}

static const struct gw_conf_key group_keys[] = {
	{"spans", GW_CONF_STR, offsetof(struct gw_group_conf, spans),
	 "", 0, 1000, NULL, GW_CONF_RELOAD | GW_CONF_REQUIRED,
	 "the [span N] sections of the group, in hunting order: 1,2 or "
	 "1-4,6"},
	{"hunt", GW_CONF_ENUM, offsetof(struct gw_group_conf, hunt),
	 "ascending", 0, 0, gw_hunt_names, GW_CONF_RELOAD,
	 "ascending (first free channel), descending (last free), "
	 "roundrobin (the next after the last pick) or leastused (on the "
	 "span with the fewest busy channels)"},
	{NULL},
};

static int check_trunk(void *data, const char *label, char *err,
		       size_t errlen)
{
	struct gw_trunk_conf *t = data;
	struct sockaddr_storage ss;
	const char *p, *e;
	unsigned bits;

	if (!is_name(label, strlen(label))) {
		snprintf(err, errlen, "trunk name '%s': use letters, digits, "
			 "'_', '-' and '.'", label);
		return EINVAL;
	}
	if (strchr(t->host, '/') || gw_route_parse_cidr(t->host, &ss, &bits)) {
		snprintf(err, errlen, "host '%s' is not an IPv4 or IPv6 "
			 "address", t->host);
		return EINVAL;
	}
	for (p = t->failover; *p; p = e) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		for (e = p; *e && *e != ' ' && *e != ','; e++)
			;
		if (!is_name(p, (size_t)(e - p)) ||
		    ((size_t)(e - p) == strlen(label) &&
		     !memcmp(p, label, (size_t)(e - p)))) {
			snprintf(err, errlen, "failover '%.*s' is not the "
				 "name of another trunk", (int)(e - p), p);
			return EINVAL;
		}
	}
	return 0;
}

static const struct gw_conf_key trunk_keys[] = {
	{"host", GW_CONF_STR, offsetof(struct gw_trunk_conf, host),
	 "", 0, 45, NULL, GW_CONF_RELOAD | GW_CONF_REQUIRED,
	 "the peer's IPv4 or IPv6 address; INVITEs from it belong to this "
	 "trunk"},
	{"port", GW_CONF_INT, offsetof(struct gw_trunk_conf, port),
	 "5060", 1, 65535, NULL, GW_CONF_RELOAD, "the peer's SIP port"},
	{"transport", GW_CONF_ENUM, offsetof(struct gw_trunk_conf, transport),
	 "udp", 0, 0, transport_names, GW_CONF_RELOAD, "udp, tcp or tls"},
	{"failover", GW_CONF_STR, offsetof(struct gw_trunk_conf, failover),
	 "", 0, 1000, NULL, GW_CONF_RELOAD,
	 "trunks tried in order when this one answers 5xx or times out"},
	{"keepalive_s", GW_CONF_INT, offsetof(struct gw_trunk_conf,
					      keepalive_s),
	 "0", 0, 3600, NULL, 0,
	 "send OPTIONS every N seconds; a trunk that stops answering is "
	 "skipped by routing until it answers again (0: off)"},
	{"keepalive_failures", GW_CONF_INT,
	 offsetof(struct gw_trunk_conf, keepalive_failures),
	 "3", 1, 100, NULL, 0, "unanswered OPTIONS in a row that mark it "
	 "down"},
	{NULL},
};

static const struct gw_conf_key register_keys[] = {
	{"registrar", GW_CONF_STR, offsetof(struct gw_register_conf,
					    registrar),
	 "", 0, 300, NULL, GW_CONF_REQUIRED,
	 "the provider's registrar: sip:ADDRESS[:PORT]"},
	{"aor", GW_CONF_STR, offsetof(struct gw_register_conf, aor),
	 "", 0, 300, NULL, GW_CONF_REQUIRED,
	 "the address of record registered: sip:USER@DOMAIN"},
	{"user", GW_CONF_STR, offsetof(struct gw_register_conf, user),
	 "", 0, 200, NULL, 0, "digest user name; empty: the AOR's user"},
	{"password", GW_CONF_STR, offsetof(struct gw_register_conf, password),
	 "", 0, 200, NULL, 0, "digest password"},
	{"expires_s", GW_CONF_INT, offsetof(struct gw_register_conf,
					    expires_s),
	 "3600", 60, 86400, NULL, 0, "the binding's lifetime asked for; "
	 "refreshed before it runs out"},
	{NULL},
};

/* ---- SIP: [sip], [user NAME] ---------------------------------------- */

static int check_sip(void *data, const char *label, char *err, size_t errlen)
{
	struct gw_sip_conf *c = data;
	const char *p = c->listen;

	(void)label;
	while (p && *p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		if (strncmp(p, "udp:", 4) && strncmp(p, "tcp:", 4) &&
		    strncmp(p, "tls:", 4)) {
			snprintf(err, errlen, "listen: '%s' must start with "
				 "udp:, tcp: or tls:", p);
			return EINVAL;
		}
		if (!strncmp(p, "tls:", 4) && (!*c->tls_cert || !*c->tls_key)) {
			snprintf(err, errlen, "listen: tls needs tls_cert and "
				 "tls_key");
			return EINVAL;
		}
		p = strchr(p, ',');
	}
	return 0;
}

static const struct gw_conf_key sip_keys[] = {
	{"listen", GW_CONF_STR, offsetof(struct gw_sip_conf, listen),
	 "udp:127.0.0.1:5060, tcp:127.0.0.1:5060", 0, 1000, NULL, 0,
	 "listeners: transport:address:port, comma-separated; IPv6 "
	 "addresses in brackets"},
	{"domain", GW_CONF_STR, offsetof(struct gw_sip_conf, domain),
	 "", 0, 200, NULL, 0, "our SIP domain (From, realm); empty: the "
	 "first listener's address"},
	{"user_agent", GW_CONF_STR, offsetof(struct gw_sip_conf, user_agent),
	 "Junction", 1, 100, NULL, 0, "User-Agent and Server"},
	{"session_expires_s", GW_CONF_INT,
	 offsetof(struct gw_sip_conf, session_expires_s),
	 "1800", 0, 86400, NULL, 0, "RFC 4028 session timer; 0: off"},
	{"prack", GW_CONF_BOOL, offsetof(struct gw_sip_conf, prack),
	 "no", 0, 0, NULL, 0, "offer and accept reliable provisional "
	 "responses (RFC 3262)"},
	{"tls_cert", GW_CONF_STR, offsetof(struct gw_sip_conf, tls_cert),
	 "", 0, 4000, NULL, 0, "PEM certificate for tls: listeners"},
	{"tls_key", GW_CONF_STR, offsetof(struct gw_sip_conf, tls_key),
	 "", 0, 4000, NULL, 0, "its PEM private key"},
	{"tls_ca", GW_CONF_STR, offsetof(struct gw_sip_conf, tls_ca),
	 "", 0, 4000, NULL, 0, "PEM CA bundle that peers are verified "
	 "against"},
	{"tls_verify", GW_CONF_BOOL, offsetof(struct gw_sip_conf, tls_verify),
	 "yes", 0, 0, NULL, 0, "verify TLS peers' certificates"},
	{"tls_require_client_cert", GW_CONF_BOOL,
	 offsetof(struct gw_sip_conf, tls_require_client_cert), "no", 0, 0,
	 NULL, 0, "refuse TLS clients that present no certificate (mutual "
	 "TLS between servers, RFC 5922); a certificate a client presents "
	 "is verified either way"},
	{"auth", GW_CONF_BOOL, offsetof(struct gw_sip_conf, auth),
	 "no", 0, 0, NULL, 0, "digest-authenticate requests from sources "
	 "not in trusted, against the [user] sections (RFC 7616)"},
	{"trusted", GW_CONF_STR, offsetof(struct gw_sip_conf, trusted),
	 "", 0, 2000, NULL, 0, "addresses or CIDR prefixes that need no "
	 "authentication: trunks, the local host"},
	{"registrar", GW_CONF_BOOL, offsetof(struct gw_sip_conf, registrar),
	 "no", 0, 0, NULL, 0, "accept REGISTER from the [user] sections"},
	{"location", GW_CONF_STR, offsetof(struct gw_sip_conf, location),
	 "location.sqlite", 1, 4000, NULL, 0, "the registrar's bindings "
	 "(SQLite); relative to rundir"},
	{NULL},
};

static const struct gw_conf_key user_keys[] = {
	{"password", GW_CONF_STR, offsetof(struct gw_user_conf, password),
	 "", 0, 200, NULL, GW_CONF_REQUIRED | GW_CONF_RELOAD,
	 "the user's SIP password"},
	{NULL},
};

/* ---- call control: [calls] ------------------------------------------ */

static const struct gw_conf_key calls_keys[] = {
	{"causes", GW_CONF_STR, offsetof(struct gw_calls_conf, causes),
	 "", 0, 4000, NULL, 0,
	 "Q.850 <-> SIP cause table (RFC 3398 CSV); empty: the installed "
	 "one; relative: beside this file"},
	{"cause_map", GW_CONF_STR, offsetof(struct gw_calls_conf, cause_map),
	 "", 0, 4000, NULL, GW_CONF_RELOAD,
	 "overrides of single entries, e.g. \"q850:17=486 sip:480=18\""},
	{"setup_timeout_ms", GW_CONF_INT,
	 offsetof(struct gw_calls_conf, setup_timeout_ms),
	 "180000", 1000, 3600000, NULL, GW_CONF_RELOAD,
	 "a call not answered by then is cleared (cause 19)"},
	{"max_calls", GW_CONF_INT, offsetof(struct gw_calls_conf, max_calls),
	 "1000", 1, 100000, NULL, GW_CONF_RELOAD,
	 "more at once are refused (503 / cause 34)"},
	{"local_ringback", GW_CONF_BOOL,
	 offsetof(struct gw_calls_conf, local_ringback), "no", 0, 0, NULL,
	 GW_CONF_RELOAD,
	 "when the PSTN alerts without in-band information, send 183 with "
	 "SDP and play the MG's ringback toward the SIP caller, instead of "
	 "180 (for callers that play no ringback of their own)"},
	{"drain_s", GW_CONF_INT, offsetof(struct gw_calls_conf, drain_s),
	 "0", 0, 86400, NULL, GW_CONF_RELOAD,
	 "at shutdown, new calls are refused and those in progress may end "
	 "on their own for this long before the rest are cleared (cause "
	 "41); 0: cleared at once; a second stop signal ends the wait"},
	{"hold", GW_CONF_STR, offsetof(struct gw_calls_conf, hold),
	 "pass", 1, 40, NULL, GW_CONF_RELOAD,
	 "what the PSTN party hears while the SIP side holds the call: "
	 "pass (what the SIP side sends, its own music on hold), silence, "
	 "or an MG signal such as cg/cw"},
	{NULL},
};

static int check_calls(void *data, const char *label, char *err,
		       size_t errlen)
{
	const struct gw_calls_conf *c = data;
	const char *slash = strchr(c->hold, '/');

	(void)label;
	if (strcmp(c->hold, "pass") && strcmp(c->hold, "silence") &&
	    (!slash || slash == c->hold || !slash[1] ||
	     strspn(c->hold, "abcdefghijklmnopqrstuvwxyz0123456789_/") !=
	     strlen(c->hold) || strchr(slash + 1, '/'))) {
		snprintf(err, errlen, "hold: '%s' is not pass, silence or a "
			 "signal (package/id)", c->hold);
		return EINVAL;
	}
	return 0;
}

/* ---- CDRs: [cdr] ---------------------------------------------------- */

static const char *const cdr_sync_names[] = {"normal", "full", NULL};

static const struct gw_conf_key cdr_keys[] = {
	{"path", GW_CONF_STR, offsetof(struct gw_cdr_conf, path),
	 "cdr.sqlite", 1, 4000, NULL, 0,
	 "the SQLite CDR database; relative to rundir"},
	{"synchronous", GW_CONF_ENUM,
	 offsetof(struct gw_cdr_conf, synchronous),
	 "normal", 0, 0, cdr_sync_names, 0,
	 "normal: a crash of junctiond loses no committed CDR, a power "
	 "failure may lose the last ones; full: an fsync per commit"},
	{NULL},
};

const struct gw_conf_section gw_conf_schema[] = {
	{"general", false, sizeof(struct gw_general_conf), general_keys,
	 "settings both daemons share", check_general},
	{"junctiond", false, sizeof(struct gw_junctiond_conf), junctiond_keys,
	 "the call agent", NULL},
	{"mg", false, sizeof(struct gw_mg_conf), mg_keys,
	 "the media gateway, junction-mg", check_mg},
	{"span", true, sizeof(struct gw_span_conf), span_keys,
	 "an E1/T1 trunk: [span 1], [span 2], ...", check_span},
	{"mgc", true, sizeof(struct gw_mgc_conf), mgc_keys,
	 "an external softswitch (H.248 MGC): [mgc NAME]", check_mgc},
	{"route", true, sizeof(struct gw_route_conf), route_keys,
	 "a dial plan rule: [route NAME]", check_route},
	{"group", true, sizeof(struct gw_group_conf), group_keys,
	 "a span group that routes can target: [group NAME]", check_group},
	{"trunk", true, sizeof(struct gw_trunk_conf), trunk_keys,
	 "a SIP trunk that routes can target: [trunk NAME]", check_trunk},
	{"sip", false, sizeof(struct gw_sip_conf), sip_keys,
	 "junctiond's SIP user agent", check_sip},
	{"register", true, sizeof(struct gw_register_conf), register_keys,
	 "a registration junctiond keeps at a provider: [register NAME]",
	 NULL},
	{"user", true, sizeof(struct gw_user_conf), user_keys,
	 "a SIP user that may register and authenticate: [user NAME]",
	 NULL},
	{"calls", false, sizeof(struct gw_calls_conf), calls_keys,
	 "call control (junctiond)", check_calls},
	{"cdr", false, sizeof(struct gw_cdr_conf), cdr_keys,
	 "call detail records (junctiond)", NULL},
	{NULL},
};

/** Load path with the gateway's schema; errors as "file:line: reason". */
int gw_conf_read(struct gw_conf **confp, const char *path, char *err,
		 size_t errlen)
{
	const struct gw_span_conf *sp;
	const char *label;
	char where[300];
	size_t i;
	int rc;

	rc = gw_conf_load(confp, path, gw_conf_schema, err, errlen);
	if (rc)
		return rc;
	/* across sections: a span's controller must exist */
	for (i = 0; (sp = gw_conf_nth(*confp, "span", i, &label)); i++) {
		if (strncmp(sp->control, "mgc:", 4) ||
		    gw_conf_get(*confp, "mgc", sp->control + 4))
			continue;
		snprintf(err, errlen, "%s: control %s: no [mgc %s] section",
			 gw_conf_where(*confp, "span", label, "control", where,
				       sizeof(where)) ?: path,
			 sp->control, sp->control + 4);
		*confp = gw_mem_deref(*confp);
		return EINVAL;
	}
	return 0;
}

const struct gw_sip_conf *gw_conf_sip(const struct gw_conf *conf)
{
	return gw_conf_get(conf, "sip", NULL);
}

const struct gw_calls_conf *gw_conf_calls(const struct gw_conf *conf)
{
	return gw_conf_get(conf, "calls", NULL);
}

const struct gw_register_conf *gw_conf_register(const struct gw_conf *conf,
						size_t idx,
						const char **namep)
{
	return gw_conf_nth(conf, "register", idx, namep);
}

const struct gw_user_conf *gw_conf_user(const struct gw_conf *conf,
					size_t idx, const char **namep)
{
	return gw_conf_nth(conf, "user", idx, namep);
}

/** The idx-th [mgc NAME]. */
const struct gw_mgc_conf *gw_conf_mgc(const struct gw_conf *conf, size_t idx,
				      const char **namep)
{
	return gw_conf_nth(conf, "mgc", idx, namep);
}

/** [general] */
const struct gw_general_conf *gw_conf_general(const struct gw_conf *conf)
{
	return gw_conf_get(conf, "general", NULL);
}

/** [junctiond] */
const struct gw_junctiond_conf *gw_conf_junctiond(const struct gw_conf *conf)
{
	return gw_conf_get(conf, "junctiond", NULL);
}

/** [mg] */
const struct gw_mg_conf *gw_conf_mg(const struct gw_conf *conf)
{
	return gw_conf_get(conf, "mg", NULL);
}

/** The idx-th [span N] section and its number. */
const struct gw_span_conf *gw_conf_span(const struct gw_conf *conf,
					size_t idx, unsigned *idp)
{
	const char *label;
	const struct gw_span_conf *sp = gw_conf_nth(conf, "span", idx, &label);

	if (sp && idp)
		*idp = (unsigned)strtoul(label, NULL, 10);
	return sp;
}

/** Fill hw/'s view of a span from its [span N] section. */
void gw_span_conf_fill(struct tdm_span_conf *c, const struct gw_span_conf *sc,
		       unsigned id, const char *dchan, const char *bearer)
{
	bool e1 = sc->type == TDM_E1;

	memset(c, 0, sizeof(*c));
	c->id = id;
	c->type = e1 ? TDM_E1 : TDM_T1;
	c->driver = sc->driver == GW_DRIVER_DAHDI ? "dahdi" : "vspan";
	c->framing = sc->framing[0] ? sc->framing : e1 ? "ccs" : "esf";
	c->linecode = sc->linecode[0] ? sc->linecode : e1 ? "hdb3" : "b8zs";
	c->crc4 = e1 && sc->crc4;
	c->clock = (unsigned)sc->clock;
	c->dchan_path = dchan;
	c->bearer_path = bearer;
	c->dahdi_dir = sc->dahdi_dir;
	c->dahdi_span = (unsigned)sc->dahdi_span;
	c->dahdi_base = (unsigned)sc->dahdi_base;
}

/** path as given if absolute, else under [general] rundir. */
char *gw_conf_runpath(const struct gw_conf *conf, const char *path)
{
	const struct gw_general_conf *g = gw_conf_general(conf);

	if (path[0] == '/')
		return gw_mem_strdup(path);
	return gw_mem_printf("%s/%s", g->rundir, path);
}

/** The idx-th [route NAME], its name in *namep. */
const struct gw_route_conf *gw_conf_route(const struct gw_conf *conf,
					  size_t idx, const char **namep)
{
	return gw_conf_nth(conf, "route", idx, namep);
}

/** The idx-th [group NAME], its name in *namep. */
const struct gw_group_conf *gw_conf_group(const struct gw_conf *conf,
					  size_t idx, const char **namep)
{
	return gw_conf_nth(conf, "group", idx, namep);
}

/** The idx-th [trunk NAME], its name in *namep. */
const struct gw_trunk_conf *gw_conf_trunk(const struct gw_conf *conf,
					  size_t idx, const char **namep)
{
	return gw_conf_nth(conf, "trunk", idx, namep);
}

/** [cdr] */
const struct gw_cdr_conf *gw_conf_cdr(const struct gw_conf *conf)
{
	return gw_conf_get(conf, "cdr", NULL);
}
