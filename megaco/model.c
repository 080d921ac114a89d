/* megaco/model.c - the H.248 MG model: terminations, contexts, commands */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define GW_LOG_MOD "mg"
#include "core.h"
#include "tdm.h"
#include "mg_int.h"

/*
 * The connection model of H.248.1 s.6: terminations (tdm/<span>/<ts>,
 * one per bearer timeslot, and ephemeral rtp/<n>) sit in the NULL
 * context until a controller puts them into a context with Add; a
 * context is a call's media.  A trunking MG joins one TDM and one RTP
 * termination per context (root/maxTerminationsPerContext = 2).
 *
 * Commands run in order inside a transaction (s.8): each command gets a
 * reply; the first failing one (unless Optional) ends the transaction
 * with its error, the commands after it are not executed.  What a
 * command changes in a context is sent to the context's media worker as
 * a whole snapshot once the transaction is done.
 *
 * Packages (Annex E; what AuditCapabilities and Packages report): g,
 * root, dg, dd, cg, nt, rtp, tdmc, it.
 */

#define TERMS_PER_CTX	2
#define EV_MAX		16
#define SIG_MAX		8
#define DMAP_MAX	4
#define NAME_MAX_	64

enum term_kind { TERM_TDM, TERM_RTP };

enum term_mode {		/* LocalControl Mode (s.7.1.7) */
	MODE_INACTIVE,		/* the default (App. II 7.1.7) */
	MODE_SENDONLY,
	MODE_RECVONLY,
	MODE_SENDRECV,
	MODE_LOOPBACK,
};

static const char *const mode_names[] = {
	"inactive", "sendonly", "recvonly", "sendrecv", "loopback",
};

struct span_reg {
	unsigned id;
	struct mg_vmg *vmg;
	struct media_worker *wk;
	struct tdm_span *span;
	bool alaw;
	bool up;
	struct mg_term *ts[32];
};

struct ev_req {			/* one requested event (s.7.1.9) */
	char name[32];		/* pkg/evt, lower case */
	bool keepactive;
	struct mg_dmap *dm;	/* dd/ce: the map it collects with */
};

struct sig_req {		/* one requested signal (s.7.1.11) */
	char name[32];
	enum mg_tok type;	/* BRIEF, TIMEOUT, ONOFF */
	unsigned dur_ms;
	bool nc_to, nc_ibe, nc_ibs, nc_or;
	bool keepactive;
};

struct dmap_def {
	char name[NAME_MAX_];
	struct mg_dmap *dm;
};

struct mg_term {
	char name[NAME_MAX_];
	enum term_kind kind;
	struct mg_model *m;
	struct mg_vmg *vmg;
	struct span_reg *sp;	/* TDM */
	unsigned ts;
	unsigned rtp_no;	/* RTP */
	struct mg_ctx *ctx;	/* NULL: the NULL context */
	bool oos;		/* ServiceStates = OutOfService */
	enum term_mode mode;
	bool ec;
	int gain;
	unsigned jit_ms;
	uint64_t added_ms;
	/* RTP */
	struct media_rtp_socks socks;	/* until handed to the worker */
	uint16_t port;
	char *local_sdp, *remote_sdp;	/* as the MG holds them */
	struct mg_codec_choice codec;
	bool have_codec;
	char remote_ip[64];
	uint16_t remote_port;
	/* Events and Signals */
	bool ev_armed;
	uint32_t ev_rid;
	unsigned nev;
	struct ev_req ev[EV_MAX];
	unsigned nsig;
	struct sig_req sig[SIG_MAX];
	struct gw_tmr sig_tmr;
	enum media_tone tone;
	struct mg_dcoll *dc;
	struct gw_tmr dc_tmr;
	struct dmap_def dmaps[DMAP_MAX];
	struct mg_term *next;	/* RTP list */
};

struct mg_ctx {
	uint32_t id;
	struct mg_model *m;
	struct mg_vmg *vmg;
	struct mg_term *t[TERMS_PER_CTX];
	unsigned priority;
	bool emergency;
	bool isolate;
	struct mg_cm *cm;
	unsigned gen;
	char digits[64];
	unsigned digits_seq;
	bool dirty;		/* media to apply after the transaction */
	struct mg_ctx *next;
};

struct mg_model {
	struct mg_model_conf conf;
	char rtp_ip[64];
	struct mg_vmg *vmg[MG_MGC_MAX * 4];
	unsigned nvmg;
	struct span_reg *spans[64];
	unsigned nspans;
	struct mg_term *rtp;		/* ephemeral terminations */
	unsigned rtp_next;
	struct mg_ctx *ctxs;
	unsigned nctx;
	uint32_t ctx_next;
	/* root/it: the inactivity timer armed by a controller (H.248.14) */
	struct {
		struct mg_vmg *vmg;
		uint32_t rid;
		unsigned mit_ms;
		struct gw_tmr tmr;
	} it;
	struct {
		uint64_t requests, commands, errors, notifies;
		uint64_t err_by_code[10];	/* 4xx, 5xx ... by hundreds */
	} n;
	unsigned codes[16][2];		/* recent error codes, counts */
};

/* ------------------------------------------------------------------ */
/* Errors                                                             */
/* ------------------------------------------------------------------ */

struct cmd_err {
	unsigned code;
	char text[120];
};

static int fail(struct cmd_err *e, unsigned code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct cmd_err *e, unsigned code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	return (int)code;
}

static void count_error(struct mg_model *m, unsigned code)
{
	unsigned i;

	m->n.errors++;
	for (i = 0; i < 16; i++) {
		if (m->codes[i][0] == code || !m->codes[i][0]) {
			m->codes[i][0] = code;
			m->codes[i][1]++;
			return;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Terminations and contexts                                          */
/* ------------------------------------------------------------------ */

static struct span_reg *span_find(const struct mg_model *m, unsigned id)
{
	unsigned i;

	for (i = 0; i < m->nspans; i++)
		if (m->spans[i]->id == id)
			return m->spans[i];
	return NULL;
}

static void term_reset(struct mg_term *t)
{
	unsigned i;

	t->mode = MODE_INACTIVE;
	t->ec = t->kind == TERM_TDM;	/* tdmc/ec on by default for voice */
	t->gain = 0;
	t->jit_ms = 0;
	t->ev_armed = false;
	t->nev = 0;
	t->nsig = 0;
	t->tone = MEDIA_TONE_COUNT;
	gw_tmr_cancel(&t->sig_tmr);
	gw_tmr_cancel(&t->dc_tmr);
	t->dc = gw_mem_deref(t->dc);
	for (i = 0; i < EV_MAX; i++)
		t->ev[i].dm = gw_mem_deref(t->ev[i].dm);
}

static void term_free(struct mg_term *t)
{
	unsigned i;

	term_reset(t);
	for (i = 0; i < DMAP_MAX; i++)
		t->dmaps[i].dm = gw_mem_deref(t->dmaps[i].dm);
	media_rtp_socks_close(&t->socks);
	free(t->local_sdp);
	free(t->remote_sdp);
	free(t);
}

static struct mg_term *term_new(struct mg_model *m, enum term_kind kind)
{
	struct mg_term *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->m = m;
	t->kind = kind;
	t->socks.fd = t->socks.rtcp_fd = -1;
	gw_tmr_init(&t->sig_tmr);
	gw_tmr_init(&t->dc_tmr);
	term_reset(t);
	return t;
}

/* Terminations of v (every one when v is NULL), one after the other:
 * *ip from 0; NULL at the end. */
static struct mg_term *term_iter(struct mg_model *m, struct mg_vmg *v,
				 size_t *ip)
{
	struct mg_term *t;
	size_t k;

	for (;;) {
		k = (*ip)++;
		t = NULL;
		if (k < (size_t)m->nspans * 32) {
			t = m->spans[k / 32]->ts[k % 32];
		} else {
			k -= (size_t)m->nspans * 32;
			for (t = m->rtp; t && k; t = t->next)
				k--;
			if (!t)
				return NULL;
		}
		if (t && (!v || t->vmg == v))
			return t;
	}
}

static struct mg_term *term_find(struct mg_model *m, struct mg_vmg *v,
				 const char *name)
{
	struct span_reg *sp;
	struct mg_term *t = NULL;
	unsigned a, b;
	char c;

	if (sscanf(name, "%*1[tT]%*1[dD]%*1[mM]/%u/%u%c", &a, &b, &c) == 2) {
		if (b < 32 && (sp = span_find(m, a)))
			t = sp->ts[b];
	} else if (sscanf(name, "%*1[rR]%*1[tT]%*1[pP]/%u%c", &a, &c) == 1) {
		for (t = m->rtp; t && t->rtp_no != a; t = t->next)
			;
	}
	/* "tdm/01/1" is not "tdm/1/1" */
	if (t && strcasecmp(t->name, name))
		t = NULL;
	return t && (!v || t->vmg == v) ? t : NULL;
}

/* H.248.1 B.1 / s.6.2.2: "*" alone is every termination but ROOT; a
 * "*" inside a name stands for one level of the name. */
static bool term_match(const struct mg_term *t, const char *pat)
{
	char lp[NAME_MAX_], ln[NAME_MAX_];
	size_t i;

	if (!strcmp(pat, "*"))
		return true;
	for (i = 0; pat[i] && i < sizeof(lp) - 1; i++)
		lp[i] = (char)(pat[i] >= 'A' && pat[i] <= 'Z' ?
			       pat[i] + 32 : pat[i]);
	lp[i] = '\0';
	for (i = 0; t->name[i] && i < sizeof(ln) - 1; i++)
		ln[i] = t->name[i];
	ln[i] = '\0';
	for (i = 0; lp[i]; i++)
		if (lp[i] == '$')
			lp[i] = '*';
	return fnmatch(lp, ln, FNM_PATHNAME) == 0;
}

static struct mg_ctx *ctx_find(struct mg_model *m, uint32_t id)
{
	struct mg_ctx *c;

	for (c = m->ctxs; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static struct mg_ctx *ctx_new(struct mg_model *m, struct mg_vmg *v,
			      struct cmd_err *e)
{
	struct mg_ctx *c;

	if (m->nctx >= m->conf.max_contexts) {
		fail(e, 412, "No ContextIDs available");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		fail(e, 500, "out of memory");
		return NULL;
	}
	/* s.8.1.2: the MG assigns ids; 0 and the wildcards are reserved */
	do {
		if (++m->ctx_next >= MG_CTX_CHOOSE)
			m->ctx_next = 1;
	} while (ctx_find(m, m->ctx_next));
	c->id = m->ctx_next;
	c->m = m;
	c->vmg = v;
	c->next = m->ctxs;
	m->ctxs = c;
	m->nctx++;
	return c;
}

static void ctx_free(struct mg_ctx *c)
{
	struct mg_model *m = c->m;
	struct mg_ctx **pp;

	for (pp = &m->ctxs; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	m->nctx--;
	mg_cm_close(c->cm);
	free(c);
}

static struct mg_term *ctx_term(const struct mg_ctx *c, enum term_kind k)
{
	unsigned i;

	for (i = 0; i < TERMS_PER_CTX; i++)
		if (c->t[i] && c->t[i]->kind == k)
			return c->t[i];
	return NULL;
}

static unsigned ctx_nterms(const struct mg_ctx *c)
{
	return (c->t[0] != NULL) + (c->t[1] != NULL);
}

static void on_media_ev(enum mg_cm_ev ev, char digit, unsigned ms,
			void *arg);

/*
 * The snapshot of a context's media for its worker.  Directions (s.7.1.7
 * Mode, relative to the context): toward IP needs the TDM termination to
 * receive (SendReceive or ReceiveOnly) and the RTP one to send; toward
 * the line the reverse.  Isolate topology cuts both.
 */
static void ctx_apply(struct mg_ctx *c)
{
	struct mg_term *td = ctx_term(c, TERM_TDM), *rt = ctx_term(c, TERM_RTP);
	struct mg_model *m = c->m;
	struct media_worker *wk;
	struct mg_cm_state st;
	bool td_rx, td_tx, rt_rx, rt_tx;
	unsigned i;

	c->dirty = false;
	if (!td && !rt)
		return;
	wk = td ? td->sp->wk : c->cm ? mg_cm_worker(c->cm) :
		media_workers_pick(m->conf.workers);
	if (c->cm && mg_cm_worker(c->cm) != wk) {
		/* the TDM termination's span is on another worker */
		mg_cm_close(c->cm);
		c->cm = NULL;
		c->gen++;
	}
	if (!c->cm && mg_cm_alloc(&c->cm, wk, on_media_ev, c)) {
		GW_ERR("context %" PRIu32 ": out of memory", c->id);
		return;
	}
	memset(&st, 0, sizeof(st));
	st.socks.fd = st.socks.rtcp_fd = -1;
	st.tone = MEDIA_TONE_COUNT;
	st.tone_country = m->conf.tone_country;
	st.ec_tail_ms = m->conf.ec_tail_ms ? m->conf.ec_tail_ms : 64;
	if (td) {
		st.tdm = true;
		st.span = td->sp->span;
		st.ts = td->ts;
		st.alaw = td->sp->alaw;
		st.loopback = td->mode == MODE_LOOPBACK;
		st.ec = td->ec;
		st.tone = td->tone;
		for (i = 0; i < td->nev; i++) {
			if (!strncmp(td->ev[i].name, "dd/", 3))
				st.detect_dtmf = true;
		}
	} else {
		st.alaw = true;
	}
	if (rt && rt->have_codec) {
		st.rtp = true;
		st.socks = rt->socks;
		rt->socks.fd = rt->socks.rtcp_fd = -1;
		snprintf(st.local_ip, sizeof(st.local_ip), "%s", m->rtp_ip);
		st.port = rt->port;
		st.codec = rt->codec;
		snprintf(st.remote_ip, sizeof(st.remote_ip), "%s",
			 rt->remote_ip);
		st.remote_port = rt->remote_port;
		st.jitter_ms = rt->jit_ms;
		st.rtp_timeout_ms = m->conf.rtp_timeout_ms;
	}
	st.gen = c->gen;
	td_rx = !td || td->mode == MODE_SENDRECV || td->mode == MODE_RECVONLY;
	td_tx = !td || td->mode == MODE_SENDRECV || td->mode == MODE_SENDONLY;
	rt_rx = rt && (rt->mode == MODE_SENDRECV || rt->mode == MODE_RECVONLY);
	rt_tx = rt && (rt->mode == MODE_SENDRECV || rt->mode == MODE_SENDONLY);
	st.to_ip = !c->isolate && td_rx && rt_tx;
	st.to_line = !c->isolate && rt_rx && td_tx;
	snprintf(st.digits, sizeof(st.digits), "%s", c->digits);
	st.digits_seq = c->digits_seq;
	if (mg_cm_apply(c->cm, &st))
		GW_ERR("context %" PRIu32 ": media worker gone", c->id);
}

/* Take t out of its context (back to the NULL context, or gone for an
 * ephemeral one); the context goes with its last termination. */
static void term_remove(struct mg_term *t)
{
	struct mg_model *m = t->m;
	struct mg_ctx *c = t->ctx;
	struct mg_term **pp;
	unsigned i;

	if (c) {
		for (i = 0; i < TERMS_PER_CTX; i++)
			if (c->t[i] == t)
				c->t[i] = NULL;
		t->ctx = NULL;
		if (!ctx_nterms(c))
			ctx_free(c);
		else
			c->dirty = true;
	}
	if (t->kind == TERM_RTP) {
		for (pp = &m->rtp; *pp; pp = &(*pp)->next) {
			if (*pp == t) {
				*pp = t->next;
				break;
			}
		}
		term_free(t);
		return;
	}
	/* s.7.2.3: back in the NULL context with its default values */
	term_reset(t);
}

/* ------------------------------------------------------------------ */
/* Notify (s.7.2.7)                                                   */
/* ------------------------------------------------------------------ */

static void notify_resp(int err, const struct mg_trans *reply,
			const struct mg_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	if (err)
		GW_WARN("Notify: %s", strerror(err));
	else if (mg_reply_error(reply))
		GW_WARN("Notify refused: %u", mg_reply_error(reply)->code);
}

static void stamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* B.2 TimeStamp: yyyymmddThhmmsshh (hundredths) */
	snprintf(buf, size, "%04d%02d%02dT%02d%02d%02d%02ld",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts.tv_nsec / 10000000);
}

/* One observed event of t (or ROOT when t is NULL), with up to two
 * parameters. */
static void notify(struct mg_model *m, struct mg_vmg *v, struct mg_term *t,
		   uint32_t rid, const char *ev, const char *p1,
		   const char *v1, const char *p2, const char *v2)
{
	struct mg_msg *msg;
	struct mg_trans *tr;
	struct mg_action *a;
	struct mg_cmd *c;
	struct mg_item *oe, *e;
	char st[48];

	if (!v || !mg_vmg_registered(v))
		return;
	msg = mg_vmg_msg(v);
	if (!msg)
		return;
	stamp(st, sizeof(st));
	tr = mg_msg_add_trans(msg, MG_TRANS_REQUEST, 0);
	a = mg_trans_add_action(msg, tr, t && t->ctx ? t->ctx->id :
				MG_CTX_NULL);
	c = mg_action_add_cmd(msg, a, MG_CMD_NOTIFY, t ? t->name : "ROOT");
	oe = mg_item_set(msg, mg_item_add(msg, c ? &c->desc : NULL,
					  MG_TOK_OBSERVEDEVENTS, NULL),
			 0, "%" PRIu32, rid);
	e = mg_item_add(msg, oe ? &oe->kids : NULL, MG_TOK_NONE, ev);
	if (e)
		e->stamp = mg_msg_strdup(msg, st);
	if (p1)
		mg_item_set(msg, mg_item_add(msg, e ? &e->kids : NULL,
					     MG_TOK_NONE, p1), 0, "%s", v1);
	if (p2)
		mg_item_set(msg, mg_item_add(msg, e ? &e->kids : NULL,
					     MG_TOK_NONE, p2), 0, "%s", v2);
	if (!e || (p1 && !e->kids)) {
		gw_mem_deref(msg);
		return;
	}
	m->n.notifies++;
	if (mg_vmg_send(v, msg, notify_resp, NULL))
		GW_WARN("Notify %s: not sent", ev);
	gw_mem_deref(msg);
}

static struct ev_req *ev_armed(struct mg_term *t, const char *name)
{
	unsigned i;

	if (!t->ev_armed)
		return NULL;
	for (i = 0; i < t->nev; i++)
		if (!strcmp(t->ev[i].name, name))
			return &t->ev[i];
	return NULL;
}

static void signals_stop(struct mg_term *t, const char *meth);

/* An armed event was detected: report it, and stop the signals unless
 * it is KeepActive (s.7.1.9). */
static void observed(struct mg_term *t, struct ev_req *er, const char *p1,
		     const char *v1, const char *p2, const char *v2)
{
	notify(t->m, t->vmg, t, t->ev_rid, er->name, p1, v1, p2, v2);
	if (!er->keepactive && t->nsig)
		signals_stop(t, "EV");
}

/* ------------------------------------------------------------------ */
/* Signals (s.7.1.11; packages cg, dg, g/sc)                          */
/* ------------------------------------------------------------------ */

static const struct {
	const char *name;
	enum media_tone tone;
} cg_tones[] = {
	{"cg/dt", MEDIA_TONE_DIAL}, {"cg/rt", MEDIA_TONE_RINGBACK},
	{"cg/bt", MEDIA_TONE_BUSY}, {"cg/ct", MEDIA_TONE_CONGESTION},
	{"cg/sit", MEDIA_TONE_SIT}, {"cg/cw", MEDIA_TONE_CALLWAIT},
};

/* dg (E.5): d0-d9, ds (*), do (#), da-dd */
static char dg_digit(const char *name)
{
	if (strncmp(name, "dg/d", 4) || strlen(name) != 5)
		return 0;
	if (name[4] >= '0' && name[4] <= '9')
		return name[4];
	if (name[4] == 's')
		return '*';
	if (name[4] == 'o')
		return '#';
	if (name[4] >= 'a' && name[4] <= 'd')
		return (char)(name[4] - 'a' + 'A');
	return 0;
}

static void sig_completed(struct mg_term *t, const struct sig_req *s,
			  const char *meth)
{
	struct ev_req *er = ev_armed(t, "g/sc");
	bool want = !strcmp(meth, "TO") ? s->nc_to : !strcmp(meth, "EV") ?
		s->nc_ibe : !strcmp(meth, "SD") ? s->nc_ibs : s->nc_or;

	/* E.1.2: g/sc SigID, Meth (TO, EV, SD, NC) */
	if (er && want)
		notify(t->m, t->vmg, t, t->ev_rid, "g/sc", "SigID", s->name,
		       "Meth", meth);
}

static void signals_stop(struct mg_term *t, const char *meth)
{
	unsigned i, n = t->nsig;

	gw_tmr_cancel(&t->sig_tmr);
	t->nsig = 0;
	if (t->tone != MEDIA_TONE_COUNT) {
		t->tone = MEDIA_TONE_COUNT;
		if (t->ctx)
			t->ctx->dirty = true;
	}
	for (i = 0; i < n; i++)
		if (t->sig[i].type != MG_TOK_BRIEF)
			sig_completed(t, &t->sig[i], meth);
}

static void sig_timeout(void *arg)
{
	struct mg_term *t = arg;
	struct mg_ctx *c = t->ctx;

	signals_stop(t, "TO");
	if (c && c->dirty)
		ctx_apply(c);
}

/* ------------------------------------------------------------------ */
/* Digit collection (dd/ce with a digit map, s.7.1.14, E.6)           */
/* ------------------------------------------------------------------ */

static void dc_result(struct mg_term *t, enum mg_dcoll_res r,
		      unsigned timer_ms);

static void dc_timeout(void *arg)
{
	struct mg_term *t = arg;
	unsigned ms = 0;

	if (t->dc) {
		enum mg_dcoll_res r = mg_dcoll_timeout(t->dc, &ms);

		dc_result(t, r, ms);
	}
}

static void dc_result(struct mg_term *t, enum mg_dcoll_res r,
		      unsigned timer_ms)
{
	static const char *const meth[] = { NULL, "UM", "PM", "FM" };
	struct ev_req *er = ev_armed(t, "dd/ce");
	char ds[80];

	if (r == MG_DCOLL_WAIT) {
		gw_tmr_start(&t->dc_tmr, timer_ms, dc_timeout, t);
		return;
	}
	gw_tmr_cancel(&t->dc_tmr);
	snprintf(ds, sizeof(ds), "%s", mg_dcoll_string(t->dc));
	t->dc = gw_mem_deref(t->dc);
	if (er)
		observed(t, er, "ds", ds, "Meth", meth[r]);
}

static void on_digit(struct mg_term *t, char digit, unsigned ms)
{
	char name[8], sym = mg_dmap_symbol(digit);
	struct ev_req *er;
	unsigned timer = 0;

	GW_DBG("%s: digit %c (%u ms)", t->name, digit, ms);
	if (!sym)
		return;
	if (t->dc) {
		enum mg_dcoll_res r = mg_dcoll_event(t->dc, sym, false,
						     &timer);

		dc_result(t, r, timer);
		return;
	}
	/* dd (E.6.2): d0-d9, ds (*), do (#), da-dd */
	snprintf(name, sizeof(name), "dd/d%c", digit == '*' ? 's' :
		 digit == '#' ? 'o' : digit >= 'A' && digit <= 'D' ?
		 digit - 'A' + 'a' : digit);
	er = ev_armed(t, name);
	if (er)
		observed(t, er, NULL, NULL, NULL, NULL);
}

static void on_media_ev(enum mg_cm_ev ev, char digit, unsigned ms, void *arg)
{
	struct mg_ctx *c = arg;
	struct mg_term *td = ctx_term(c, TERM_TDM), *rt = ctx_term(c, TERM_RTP);
	struct ev_req *er;

	switch (ev) {
	case MG_CM_DIGIT:
		if (td)
			on_digit(td, digit, ms);
		break;
	case MG_CM_RTP_DIGIT:
		if (rt)
			on_digit(rt, digit, ms);
		break;
	case MG_CM_RTP_TIMEOUT:
		/* E.11.2: nt/netfail, cs the cause */
		if (rt && (er = ev_armed(rt, "nt/netfail")))
			observed(rt, er, "cs", "\"RTP timeout\"", NULL, NULL);
		break;
	case MG_CM_FAX:
		break;
	case MG_CM_FAILED:
		if (rt && (er = ev_armed(rt, "nt/netfail")))
			observed(rt, er, "cs", "\"media failure\"", NULL,
				 NULL);
		break;
	}
	if (c->dirty)
		ctx_apply(c);
}

/* ------------------------------------------------------------------ */
/* Descriptors                                                        */
/* ------------------------------------------------------------------ */

static const char *word_str(const struct mg_word *w)
{
	return w->tok ? mg_tok_name(w->tok, false) : w->s ? w->s : "";
}

static const char *item_val(const struct mg_item *it)
{
	return it->nval ? word_str(&it->val[0]) : NULL;
}

static void lower(char *d, const char *s, size_t size)
{
	size_t i;

	for (i = 0; s[i] && i < size - 1; i++)
		d[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	d[i] = '\0';
}

/* The packages we implement, with their versions (H.248.1 s.6.2.3). */
static const char *const packages[] = {
	"g", "root", "dg", "dd", "cg", "nt", "rtp", "tdmc", "it", NULL,
};

static bool pkg_known(const char *name)
{
	char pkg[16];
	size_t n = strcspn(name, "/");
	unsigned i;

	if (n >= sizeof(pkg))
		return false;
	lower(pkg, name, n + 1);
	for (i = 0; packages[i]; i++)
		if (!strcmp(packages[i], pkg))
			return true;
	return false;
}

static bool event_supported(const struct mg_term *t, const char *name)
{
	static const char *const tdm_ev[] = { "g/sc", "dd/ce", NULL };
	static const char *const rtp_ev[] = { "g/sc", "nt/netfail", "dd/ce",
		NULL };
	const char *const *l = t->kind == TERM_TDM ? tdm_ev : rtp_ev;
	unsigned i;

	if (!strncmp(name, "dd/d", 4) && strlen(name) == 5 &&
	    strchr("0123456789soabcd", name[4]))
		return true;
	for (i = 0; l[i]; i++)
		if (!strcmp(l[i], name))
			return true;
	return false;
}

static struct mg_dmap *dmap_named(struct mg_term *t, const char *name)
{
	unsigned i;

	for (i = 0; i < DMAP_MAX; i++)
		if (t->dmaps[i].dm && !strcasecmp(t->dmaps[i].name, name))
			return t->dmaps[i].dm;
	return NULL;
}

/* DigitMap = name { body } defines; DigitMap = name refers (s.7.1.14). */
static int digitmap_desc(struct mg_term *t, const struct mg_item *it,
			 struct cmd_err *e)
{
	struct mg_dmap *dm = NULL;
	const char *name = item_val(it);
	char err[120];
	unsigned i, free_i = DMAP_MAX;

	if (!it->text)
		return name && dmap_named(t, name) ? 0 :
			fail(e, 520, "DigitMap '%s' undefined",
			     name ? name : "");
	if (mg_dmap_parse(&dm, it->text, err, sizeof(err)))
		return fail(e, 449, "DigitMap: %s", err);
	if (!name) {
		gw_mem_deref(dm);
		return 0;	/* an unnamed map alone defines nothing */
	}
	for (i = 0; i < DMAP_MAX; i++) {
		if (t->dmaps[i].dm && !strcasecmp(t->dmaps[i].name, name))
			free_i = i;
		else if (!t->dmaps[i].dm && free_i == DMAP_MAX)
			free_i = i;
	}
	if (free_i == DMAP_MAX) {
		gw_mem_deref(dm);
		return fail(e, 519, "Out of digit map space");
	}
	gw_mem_deref(t->dmaps[free_i].dm);
	snprintf(t->dmaps[free_i].name, sizeof(t->dmaps[free_i].name), "%s",
		 name);
	t->dmaps[free_i].dm = dm;
	return 0;
}

static int events_desc(struct mg_term *t, const struct mg_item *it,
		       struct cmd_err *e)
{
	const struct mg_item *ev, *p;
	struct ev_req nev[EV_MAX];
	unsigned n = 0, i, timer = 0;
	const char *rid = item_val(it);
	int rc = 0;

	memset(nev, 0, sizeof(nev));
	for (ev = it->kids; ev; ev = ev->next) {
		struct ev_req *r = &nev[n];

		if (!ev->name) {
			rc = fail(e, 445, "unexpected in Events");
			goto out;
		}
		if (n == EV_MAX) {
			rc = fail(e, 518, "too many events");
			goto out;
		}
		lower(r->name, ev->name, sizeof(r->name));
		if (!pkg_known(r->name)) {
			rc = fail(e, 440, "Unsupported or unknown Package "
				  "'%s'", ev->name);
			goto out;
		}
		if (!event_supported(t, r->name)) {
			rc = fail(e, strncmp(r->name, "it/", 3) ? 451 : 512,
				  "No such event in this package: '%s'",
				  ev->name);
			goto out;
		}
		for (p = ev->kids; p; p = p->next) {
			if (p->tok == MG_TOK_KEEPACTIVE) {
				r->keepactive = true;
			} else if (p->tok == MG_TOK_DIGITMAP) {
				if (p->text) {
					char err[120];

					if (mg_dmap_parse(&r->dm, p->text, err,
							  sizeof(err))) {
						rc = fail(e, 449, "DigitMap: "
							  "%s", err);
						goto out;
					}
				} else if (item_val(p) &&
					   (r->dm = dmap_named(t, item_val(p)))) {
					gw_mem_ref(r->dm);
				} else {
					rc = fail(e, 520, "DigitMap '%s' "
						  "undefined", item_val(p) ?
						  item_val(p) : "");
					goto out;
				}
			} else if (p->tok == MG_TOK_EMBED) {
				rc = fail(e, 501, "Embedded descriptors "
					  "not implemented");
				goto out;
			} else if (p->tok) {
				/* NeverNotify, ResetEvents, ... */
			} else {
				rc = fail(e, 454, "No such parameter '%s' "
					  "in event %s", p->name, ev->name);
				goto out;
			}
		}
		if (!strcmp(r->name, "dd/ce") && !r->dm) {
			rc = fail(e, 457, "dd/ce needs a DigitMap");
			goto out;
		}
		n++;
	}
	/* replaces what was armed (s.7.1.9) */
	for (i = 0; i < t->nev; i++)
		t->ev[i].dm = gw_mem_deref(t->ev[i].dm);
	memcpy(t->ev, nev, sizeof(nev));
	t->nev = n;
	t->ev_armed = rid != NULL;
	t->ev_rid = rid ? (uint32_t)strtoul(rid, NULL, 10) : 0;
	n = 0;
	gw_tmr_cancel(&t->dc_tmr);
	t->dc = gw_mem_deref(t->dc);
	for (i = 0; i < t->nev; i++) {
		if (strcmp(t->ev[i].name, "dd/ce"))
			continue;
		if (mg_dcoll_alloc(&t->dc, t->ev[i].dm))
			return fail(e, 500, "out of memory");
		enum mg_dcoll_res r = mg_dcoll_start(t->dc, &timer);

		dc_result(t, r, timer);
	}
	if (t->ctx)
		t->ctx->dirty = true;
	return 0;
 out:
	for (i = 0; i < EV_MAX; i++)
		gw_mem_deref(nev[i].dm);
	return rc;
}

static int signals_desc(struct mg_term *t, const struct mg_item *it,
			struct cmd_err *e)
{
	struct sig_req ns[SIG_MAX];
	const struct mg_item *s, *p, *lst;
	enum media_tone tone = MEDIA_TONE_COUNT;
	char digits[64] = "";
	unsigned n = 0, i, to_ms = 0;

	memset(ns, 0, sizeof(ns));
	for (s = it->kids; s; s = s->next) {
		/* a SignalList plays its signals in turn: digits only */
		lst = s->tok == MG_TOK_SIGNALLIST ? s->kids : s;
		for (; lst; lst = s->tok == MG_TOK_SIGNALLIST ? lst->next :
		     NULL) {
			struct sig_req *r = &ns[n];
			char d;

			if (!lst->name)
				return fail(e, 445, "unexpected in Signals");
			if (n == SIG_MAX)
				return fail(e, 449, "too many signals");
			lower(r->name, lst->name, sizeof(r->name));
			if (!pkg_known(r->name))
				return fail(e, 440, "Unsupported or unknown "
					    "Package '%s'", lst->name);
			r->type = MG_TOK_ONOFF;
			if ((d = dg_digit(r->name))) {
				size_t k = strlen(digits);

				if (k + 1 < sizeof(digits)) {
					digits[k] = d;
					digits[k + 1] = '\0';
				}
				r->type = MG_TOK_BRIEF;
			} else {
				for (i = 0; i < sizeof(cg_tones) /
				     sizeof(cg_tones[0]); i++)
					if (!strcmp(cg_tones[i].name, r->name))
						break;
				if (i == sizeof(cg_tones) / sizeof(cg_tones[0]))
					return fail(e, 452, "No such signal "
						    "in this package: '%s'",
						    lst->name);
				if (t->kind != TERM_TDM)
					return fail(e, 513, "%s toward IP: "
						    "not equipped", lst->name);
				tone = cg_tones[i].tone;
			}
			for (p = lst->kids; p; p = p->next) {
				unsigned k;

				switch (p->tok) {
				case MG_TOK_SIGNALTYPE:
					r->type = p->val[0].tok;
					break;
				case MG_TOK_DURATION:
					r->dur_ms = (unsigned)atoi(
						item_val(p));
					break;
				case MG_TOK_NOTIFYCOMPLETION:
					for (k = 0; k < p->nval; k++) {
						enum mg_tok nc = p->val[k].tok;

						r->nc_to |= nc == MG_TOK_TIMEOUT;
						r->nc_ibe |= nc ==
							MG_TOK_INTBYEVENT;
						r->nc_ibs |= nc ==
							MG_TOK_INTBYSIGDESCR;
						r->nc_or |= nc ==
							MG_TOK_OTHERREASON;
					}
					break;
				case MG_TOK_KEEPACTIVE:
					r->keepactive = true;
					break;
				case MG_TOK_NONE:
					return fail(e, 454, "No such "
						    "parameter '%s' in "
						    "signal %s", p->name,
						    lst->name);
				default:
					break;
				}
			}
			if (r->type == MG_TOK_TIMEOUT && !r->dur_ms)
				r->dur_ms = 30000;	/* provisioned */
			if (r->type == MG_TOK_TIMEOUT && r->dur_ms > to_ms)
				to_ms = r->dur_ms;
			n++;
		}
	}
	if (t->kind != TERM_TDM && digits[0])
		return fail(e, 513, "digits toward IP: not equipped");
	/* A new Signals descriptor stops what played (s.7.1.11) */
	signals_stop(t, "SD");
	memcpy(t->sig, ns, sizeof(ns));
	t->nsig = n;
	t->tone = tone;
	if (to_ms)
		gw_tmr_start(&t->sig_tmr, to_ms, sig_timeout, t);
	if (t->ctx) {
		if (digits[0]) {
			snprintf(t->ctx->digits, sizeof(t->ctx->digits), "%s",
				 digits);
			t->ctx->digits_seq++;
		}
		t->ctx->dirty = true;
	} else if (digits[0] || tone != MEDIA_TONE_COUNT) {
		/* no media outside a context */
		t->nsig = 0;
		t->tone = MEDIA_TONE_COUNT;
		gw_tmr_cancel(&t->sig_tmr);
		return fail(e, 513, "signals need the termination in a "
			    "context");
	}
	return 0;
}

static int local_control(struct mg_term *t, const struct mg_item *lc,
			 struct cmd_err *e)
{
	const struct mg_item *p;
	char name[32];

	/* s.7.1.7: a LocalControl replaces the previous one; an omitted
	 * Mode keeps its value here (the common reading of App. II). */
	for (p = lc->kids; p; p = p->next) {
		switch (p->tok) {
		case MG_TOK_MODE:
			switch (p->val[0].tok) {
			case MG_TOK_SENDONLY:
				t->mode = MODE_SENDONLY;
				break;
			case MG_TOK_RECVONLY:
				t->mode = MODE_RECVONLY;
				break;
			case MG_TOK_SENDRECV:
				t->mode = MODE_SENDRECV;
				break;
			case MG_TOK_INACTIVE:
				t->mode = MODE_INACTIVE;
				break;
			case MG_TOK_LOOPBACK:
				if (t->kind != TERM_TDM)
					return fail(e, 517, "Loopback on an "
						    "RTP termination");
				t->mode = MODE_LOOPBACK;
				break;
			default:
				return fail(e, 517, "Unsupported mode");
			}
			break;
		case MG_TOK_RESERVEDVALUE:
		case MG_TOK_RESERVEDGROUP:
			break;	/* one alternative is always chosen */
		case MG_TOK_NONE:
			lower(name, p->name, sizeof(name));
			if (!pkg_known(name))
				return fail(e, 440, "Unsupported or unknown "
					    "Package '%s'", p->name);
			if (!strcmp(name, "tdmc/ec") && t->kind == TERM_TDM) {
				t->ec = !strcasecmp(item_val(p), "on");
			} else if (!strcmp(name, "tdmc/gain") &&
				   t->kind == TERM_TDM) {
				t->gain = atoi(item_val(p));
			} else if (!strcmp(name, "nt/jit")) {
				t->jit_ms = (unsigned)atoi(item_val(p));
				if (t->jit_ms > 500)
					return fail(e, 449, "nt/jit %u: "
						    "unsupported value",
						    t->jit_ms);
			} else {
				return fail(e, 450, "No such property in "
					    "this package: '%s'", p->name);
			}
			break;
		default:
			return fail(e, 445, "Unsupported or unknown "
				    "property");
		}
	}
	return 0;
}

/* Local and Remote of an RTP termination (s.7.1.8). */
static int rtp_sdp(struct mg_term *t, const char *local, const char *remote,
		   struct cmd_err *e)
{
	struct mg_sdp la[MG_SDP_ALTS], ra[MG_SDP_ALTS];
	unsigned nl = 0, nr = 0;
	struct mg_codec_choice c;
	char err[96], buf[1024];
	int rc;

	if (local && mg_sdp_parse(local, la, MG_SDP_ALTS, &nl, err,
				  sizeof(err)))
		return fail(e, 449, "Local: %s", err);
	if (!local && t->local_sdp)
		mg_sdp_parse(t->local_sdp, la, MG_SDP_ALTS, &nl, NULL, 0);
	if (remote && mg_sdp_parse(remote, ra, MG_SDP_ALTS, &nr, err,
				   sizeof(err)))
		return fail(e, 449, "Remote: %s", err);
	if (!remote && t->remote_sdp)
		mg_sdp_parse(t->remote_sdp, ra, MG_SDP_ALTS, &nr, NULL, 0);
	if (!nl && !nr)
		return 0;
	if (mg_sdp_choose(la, nl, ra, nr, &c))
		return fail(e, 510, "Insufficient resources: no codec in "
			    "common");
	/* a new codec re-creates the stream on the same port */
	if (!t->have_codec || c.codec != t->codec.codec ||
	    c.pt != t->codec.pt || c.te_pt != t->codec.te_pt ||
	    c.ptime != t->codec.ptime) {
		if (t->ctx)
			t->ctx->gen++;
	}
	t->codec = c;
	t->have_codec = true;
	if (nr) {
		unsigned i;

		for (i = 0; i < nr && !ra[i].has_m; i++)
			;
		if (i < nr && !ra[i].port_choose && ra[i].has_c &&
		    !ra[i].c_choose) {
			snprintf(t->remote_ip, sizeof(t->remote_ip), "%s",
				 ra[i].ip);
			t->remote_port = ra[i].port;
		}
		if (remote) {
			free(t->remote_sdp);
			t->remote_sdp = strdup(remote);
		}
	}
	rc = mg_sdp_write(buf, sizeof(buf), t->m->rtp_ip, t->port, &c);
	if (rc)
		return fail(e, 500, "Local too long");
	free(t->local_sdp);
	t->local_sdp = strdup(buf);
	if (!t->local_sdp)
		return fail(e, 500, "out of memory");
	return 0;
}

static int media_desc(struct mg_term *t, const struct mg_item *md,
		      struct cmd_err *e, bool *sdp_changed)
{
	const struct mg_item *it, *s;
	const char *local = NULL, *remote = NULL;
	int rc;

	for (it = md->kids; it; it = it->next) {
		const struct mg_item *parms = it;

		switch (it->tok) {
		case MG_TOK_STREAM:
			if (strcmp(item_val(it), "1"))
				return fail(e, 501, "one stream per "
					    "termination");
			parms = it->kids;
			break;
		case MG_TOK_TERMSTATE:
			for (s = it->kids; s; s = s->next) {
				if (s->tok == MG_TOK_SERVICESTATES)
					t->oos = s->val[0].tok ==
						MG_TOK_OUTOFSERVICE;
				else if (s->tok == MG_TOK_BUFFER &&
					 s->val[0].tok == MG_TOK_LOCKSTEP)
					return fail(e, 501, "LockStep event "
						    "buffering not "
						    "implemented");
				else if (!s->tok)
					return fail(e, 450, "No such "
						    "property: '%s'",
						    s->name);
			}
			continue;
		default:
			parms = it;
			break;
		}
		for (s = parms; s; s = it->tok == MG_TOK_STREAM ? s->next :
		     NULL) {
			switch (s->tok) {
			case MG_TOK_LOCALCONTROL:
				rc = local_control(t, s, e);
				if (rc)
					return rc;
				break;
			case MG_TOK_LOCAL:
				local = s->text;
				break;
			case MG_TOK_REMOTE:
				remote = s->text;
				break;
			case MG_TOK_STATS:
				break;
			default:
				return fail(e, 445, "unexpected in Media");
			}
		}
	}
	if ((local || remote) && t->kind == TERM_TDM)
		return fail(e, 447, "Local/Remote on a TDM termination");
	if (t->kind == TERM_RTP && (local || remote)) {
		rc = rtp_sdp(t, local, remote, e);
		if (rc)
			return rc;
		*sdp_changed = true;
	}
	if (t->ctx)
		t->ctx->dirty = true;
	return 0;
}

/* The descriptors of Add, Modify and Move (s.7.2.1-7.2.4). */
static int apply_desc(struct mg_term *t, const struct mg_cmd *cmd,
		      struct cmd_err *e, bool *sdp_changed)
{
	const struct mg_item *it;
	int rc;

	/* digit maps first: Events may refer to them */
	for (it = cmd->desc; it; it = it->next) {
		if (it->tok == MG_TOK_DIGITMAP) {
			rc = digitmap_desc(t, it, e);
			if (rc)
				return rc;
		}
	}
	for (it = cmd->desc; it; it = it->next) {
		switch (it->tok) {
		case MG_TOK_MEDIA:
			rc = media_desc(t, it, e, sdp_changed);
			break;
		case MG_TOK_EVENTS:
			rc = events_desc(t, it, e);
			break;
		case MG_TOK_SIGNALS:
			rc = signals_desc(t, it, e);
			break;
		case MG_TOK_DIGITMAP:
		case MG_TOK_AUDIT:
			rc = 0;
			break;
		case MG_TOK_EVENTBUFFER:
			rc = fail(e, 501, "EventBuffer not implemented");
			break;
		default:
			rc = fail(e, 447, "Descriptor not legal in this "
				  "command");
			break;
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Executing a transaction                                            */
/* ------------------------------------------------------------------ */

struct exec {
	struct mg_model *m;
	struct mg_vmg *vmg;
	struct mg_tsx_req *req;
	struct mg_msg *reply;
	struct mg_trans *rt;
	unsigned pending;		/* statistics still to come */
	bool oom;
};

struct stat_q {
	struct exec *x;			/* a reference */
	struct mg_cmd *rc;		/* the command reply it goes into */
	bool rtp;
	uint64_t dur_ms;
};

static void exec_destroy(void *arg)
{
	struct exec *x = arg;

	gw_mem_deref(x->reply);
	if (x->req)
		mg_tsx_reply_error(x->req, 500, "Internal software failure");
}

static void exec_finish(struct exec *x)
{
	if (x->pending)
		return;
	/* both release req; mg_tsx_reply also takes the reply */
	if (x->oom)
		mg_tsx_reply_error(x->req, 500, "out of memory");
	else if (mg_tsx_reply(x->req, gw_mem_ref(x->reply)))
		GW_WARN("reply not sent");
	x->req = NULL;
}

static void stat_add(struct mg_msg *msg, struct mg_item **l, const char *n,
		     const char *fmt, uint64_t v)
{
	mg_item_set(msg, mg_item_add(msg, l, MG_TOK_NONE, n), 0, fmt, v);
}

/* E.11, E.12: nt/dur (ms), nt/os, nt/or (octets); rtp/ps, rtp/pr
 * (packets), rtp/pl (% lost), rtp/jit, rtp/delay (ms). */
static void stats_fill(struct mg_msg *msg, struct mg_cmd *rc, bool rtp,
		       uint64_t dur_ms, const struct mg_cm_stats *cs)
{
	struct mg_item *sa = mg_item_add(msg, &rc->desc, MG_TOK_STATS, NULL);
	struct mg_item **l = sa ? &sa->kids : NULL;
	const struct media_stream_stats *r = &cs->st.rtp;
	uint64_t total;

	stat_add(msg, l, "nt/dur", "%" PRIu64, dur_ms);
	if (!rtp) {
		stat_add(msg, l, "nt/os", "%" PRIu64, cs->tdm_frames * 160);
		stat_add(msg, l, "nt/or", "%" PRIu64, cs->tdm_frames * 160);
		return;
	}
	stat_add(msg, l, "nt/os", "%" PRIu64, r->tx_bytes);
	stat_add(msg, l, "nt/or", "%" PRIu64, r->rx_bytes);
	stat_add(msg, l, "rtp/ps", "%" PRIu64, r->tx_packets);
	stat_add(msg, l, "rtp/pr", "%" PRIu64, r->rx_packets);
	total = r->rx_packets + r->lost;
	mg_item_set(msg, mg_item_add(msg, l, MG_TOK_NONE, "rtp/pl"), 0,
		    "%.1f", total ? 100.0 * (double)r->lost / (double)total :
		    0.0);
	stat_add(msg, l, "rtp/jit", "%" PRIu64, (uint64_t)r->jitter_ms);
	stat_add(msg, l, "rtp/delay", "%" PRIu64,
		 r->rtt_ms > 0 ? (uint64_t)(r->rtt_ms / 2) : 0);
}

static void stat_done(const struct mg_cm_stats *st, void *arg)
{
	struct stat_q *q = arg;
	struct exec *x = q->x;

	if (x->req) {
		stats_fill(x->reply, q->rc, q->rtp, q->dur_ms, st);
		x->pending--;
		exec_finish(x);
	}
	gw_mem_deref(x);
	free(q);
}

/* Statistics of t into the command reply rc, now or from its worker. */
static void want_stats(struct exec *x, struct mg_term *t, struct mg_cmd *rc)
{
	struct mg_cm_stats none = {0};
	struct stat_q *q;

	if (!rc)
		return;
	if (!t->ctx || !t->ctx->cm) {
		stats_fill(x->reply, rc, t->kind == TERM_RTP,
			   t->added_ms ? gw_now_ms() - t->added_ms : 0, &none);
		return;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		x->oom = true;
		return;
	}
	q->x = gw_mem_ref(x);
	q->rc = rc;
	q->rtp = t->kind == TERM_RTP;
	q->dur_ms = gw_now_ms() - t->added_ms;
	if (mg_cm_stats(t->ctx->cm, stat_done, q)) {
		gw_mem_deref(x);
		free(q);
		stats_fill(x->reply, rc, t->kind == TERM_RTP, 0, &none);
		return;
	}
	x->pending++;
}

/* The Local descriptor of an RTP termination, in a command reply. */
static void reply_local(struct exec *x, struct mg_cmd *rc,
			const struct mg_term *t)
{
	struct mg_item *md, *st, *l;

	if (!rc || !t->local_sdp)
		return;
	md = mg_item_add(x->reply, &rc->desc, MG_TOK_MEDIA, NULL);
	st = mg_item_set(x->reply, mg_item_add(x->reply, md ? &md->kids : NULL,
					       MG_TOK_STREAM, NULL), 0, "1");
	l = mg_item_add(x->reply, st ? &st->kids : NULL, MG_TOK_LOCAL, NULL);
	if (l)
		l->text = mg_msg_strdup(x->reply, t->local_sdp);
	if (!l || !l->text)
		x->oom = true;
}

static struct mg_term *rtp_new(struct mg_model *m, struct mg_vmg *v,
			       struct cmd_err *e)
{
	struct mg_term *t = term_new(m, TERM_RTP);

	if (!t) {
		fail(e, 500, "out of memory");
		return NULL;
	}
	if (media_rtp_socks_bind(&t->socks, m->rtp_ip, m->conf.rtp_port_min,
				 m->conf.rtp_port_max, false)) {
		term_free(t);
		fail(e, 510, "Insufficient resources: no RTP port");
		return NULL;
	}
	t->port = t->socks.port;
	t->vmg = v;
	t->rtp_no = ++m->rtp_next;
	snprintf(t->name, sizeof(t->name), "rtp/%u", t->rtp_no);
	t->next = m->rtp;
	m->rtp = t;
	return t;
}

/* Terminations a command names: one, a wildcard's matches, or CHOOSE. */
static unsigned resolve(struct mg_model *m, struct mg_vmg *v, const char *tid,
			struct mg_ctx *ctx, bool any_ctx, struct mg_term **out,
			unsigned max)
{
	struct mg_term *t;
	unsigned n = 0;
	size_t i = 0;

	if (!strchr(tid, '*') && !strchr(tid, '$')) {
		t = term_find(m, v, tid);
		if (t)
			out[n++] = t;
		return n;
	}
	while ((t = term_iter(m, v, &i)) && n < max) {
		if (!term_match(t, tid))
			continue;
		if (!any_ctx && t->ctx != ctx)
			continue;
		out[n++] = t;
	}
	return n;
}

static bool is_root(const char *tid)
{
	return !strcasecmp(tid, "ROOT");
}

/* The reply node for one command on one termination. */
static struct mg_cmd *cmd_reply(struct exec *x, struct mg_action *ra,
				const struct mg_cmd *cmd, const char *tid)
{
	struct mg_cmd *rc = mg_action_add_cmd(x->reply, ra, cmd->type, tid);

	if (!rc)
		x->oom = true;
	return rc;
}

static int cmd_add(struct exec *x, struct mg_ctx **ctxp, bool choose,
		   struct mg_action *ra, const struct mg_cmd *cmd,
		   struct cmd_err *e)
{
	struct mg_model *m = x->m;
	struct mg_term *t = NULL;
	struct mg_ctx *c = *ctxp;
	bool created_t = false, created_c = false, sdp = false;
	unsigned slot;
	int rc;

	if (is_root(cmd->tid))
		return fail(e, 410, "Incorrect identifier: ROOT in Add");
	if (!strcmp(cmd->tid, "$") || !strncasecmp(cmd->tid, "rtp/", 4)) {
		if (strcmp(cmd->tid, "$") && strcasecmp(cmd->tid, "rtp/$"))
			return fail(e, 430, "Unknown TerminationID '%s'",
				    cmd->tid);
		t = rtp_new(m, x->vmg, e);
		if (!t)
			return (int)e->code;
		created_t = true;
	} else if (strchr(cmd->tid, '$')) {
		struct mg_term *v[256];
		unsigned n = resolve(m, x->vmg, cmd->tid, NULL, false, v, 256), i;

		for (i = 0; i < n; i++)
			if (!v[i]->oos && v[i]->sp->up)
				break;
		if (i == n)
			return fail(e, 432, "Out of TerminationIDs: no idle "
				    "'%s'", cmd->tid);
		t = v[i];
	} else if (strchr(cmd->tid, '*')) {
		return fail(e, 410, "Incorrect identifier: ALL in Add");
	} else {
		t = term_find(m, x->vmg, cmd->tid);
		if (!t)
			return fail(e, 430, "Unknown TerminationID '%s'",
				    cmd->tid);
		if (t->ctx)
			return fail(e, 433, "TerminationID '%s' is already "
				    "in a Context", cmd->tid);
		if (t->oos || !t->sp->up)
			return fail(e, 531, "Permanent network failure: "
				    "'%s' out of service", cmd->tid);
	}
	if (!c) {
		if (!choose) {
			rc = fail(e, 422, "Add into the NULL context");
			goto undo;
		}
		c = ctx_new(m, x->vmg, e);
		if (!c) {
			rc = (int)e->code;
			goto undo;
		}
		created_c = true;
	}
	if (ctx_nterms(c) == TERMS_PER_CTX) {
		rc = fail(e, 434, "Max number of Terminations in a Context "
			  "exceeded");
		goto undo;
	}
	if (ctx_term(c, t->kind)) {
		rc = fail(e, 501, "one %s termination per context",
			  t->kind == TERM_TDM ? "TDM" : "RTP");
		goto undo;
	}
	slot = c->t[0] ? 1 : 0;
	c->t[slot] = t;
	t->ctx = c;
	t->added_ms = gw_now_ms();
	if (t->kind == TERM_RTP)
		c->gen++;
	rc = apply_desc(t, cmd, e, &sdp);
	if (rc) {
		c->t[slot] = NULL;
		t->ctx = NULL;
		goto undo;
	}
	c->dirty = true;
	*ctxp = c;
	{
		struct mg_cmd *r = cmd_reply(x, ra, cmd, t->name);

		if (t->kind == TERM_RTP)
			reply_local(x, r, t);
	}
	return 0;
 undo:
	if (created_t)
		term_remove(t);
	else if (t)
		term_reset(t);
	if (created_c && !ctx_nterms(c))
		ctx_free(c);
	return rc;
}

static int cmd_modify(struct exec *x, struct mg_ctx *c, struct mg_action *ra,
		      const struct mg_cmd *cmd, struct cmd_err *e)
{
	struct mg_term *v[256];
	unsigned n, i;
	int rc;

	if (is_root(cmd->tid)) {
		/* ROOT: the it package's inactivity timer (H.248.14) */
		const struct mg_item *it, *ev, *p;

		for (it = cmd->desc; it; it = it->next) {
			if (it->tok != MG_TOK_EVENTS)
				continue;
			gw_tmr_cancel(&x->m->it.tmr);
			x->m->it.vmg = NULL;
			for (ev = it->kids; ev; ev = ev->next) {
				if (!ev->name || strcasecmp(ev->name, "it/ito"))
					return fail(e, ev->name &&
						    pkg_known(ev->name) ? 451 :
						    440, "event '%s' on ROOT",
						    ev->name ? ev->name : "?");
				x->m->it.vmg = x->vmg;
				x->m->it.rid = (uint32_t)strtoul(
					item_val(it) ? item_val(it) : "0",
					NULL, 10);
				x->m->it.mit_ms = 0;
				for (p = ev->kids; p; p = p->next)
					if (p->name &&
					    !strcasecmp(p->name, "mit"))
						x->m->it.mit_ms = 10 *
							(unsigned)atoi(
								item_val(p));
			}
			mg_model_vmg_heard(x->m, x->vmg);
		}
		cmd_reply(x, ra, cmd, "ROOT");
		return 0;
	}
	n = resolve(x->m, x->vmg, cmd->tid, c, false, v, 256);
	if (!n)
		return fail(e, strchr(cmd->tid, '*') ? 431 : 430,
			    "%s '%s'", strchr(cmd->tid, '*') ?
			    "No TerminationID matched a wildcard" :
			    "Unknown TerminationID", cmd->tid);
	for (i = 0; i < n; i++) {
		bool sdp = false;

		if (v[i]->ctx != c)
			return fail(e, 435, "Termination ID '%s' is not in "
				    "specified Context", v[i]->name);
		rc = apply_desc(v[i], cmd, e, &sdp);
		if (rc)
			return rc;
		if (!cmd->wildcard || i == 0) {
			struct mg_cmd *r = cmd_reply(x, ra, cmd,
						     cmd->wildcard ? cmd->tid :
						     v[i]->name);

			if (sdp)
				reply_local(x, r, v[i]);
		}
	}
	return 0;
}

static bool audit_empty(const struct mg_cmd *cmd, bool *have)
{
	const struct mg_item *it;

	*have = false;
	for (it = cmd->desc; it; it = it->next) {
		if (it->tok == MG_TOK_AUDIT) {
			*have = true;
			return it->kids == NULL;
		}
	}
	return false;
}

static bool audit_wants(const struct mg_cmd *cmd, enum mg_tok tok)
{
	const struct mg_item *it, *k;

	for (it = cmd->desc; it; it = it->next)
		if (it->tok == MG_TOK_AUDIT)
			for (k = it->kids; k; k = k->next)
				if (k->tok == tok)
					return true;
	return false;
}

static int cmd_subtract(struct exec *x, struct mg_ctx *c,
			struct mg_action *ra, const struct mg_cmd *cmd,
			struct cmd_err *e)
{
	struct mg_term *v[256];
	unsigned n, i;
	bool have_audit, empty;

	if (is_root(cmd->tid))
		return fail(e, 410, "Incorrect identifier: ROOT in Subtract");
	if (!c)
		return fail(e, 422, "Subtract from the NULL context");
	n = resolve(x->m, x->vmg, cmd->tid, c, false, v, 256);
	if (!n)
		return fail(e, strchr(cmd->tid, '*') ? 431 : 430,
			    "%s '%s'", strchr(cmd->tid, '*') ?
			    "No TerminationID matched a wildcard" :
			    "Unknown TerminationID", cmd->tid);
	for (i = 0; i < n; i++)
		if (v[i]->ctx != c)
			return fail(e, 435, "Termination ID '%s' is not in "
				    "specified Context", v[i]->name);
	empty = audit_empty(cmd, &have_audit);
	for (i = 0; i < n; i++) {
		struct mg_cmd *r = cmd_reply(x, ra, cmd, v[i]->name);

		/* s.7.2.3: Statistics unless an empty Audit says not */
		if (!have_audit || (!empty && audit_wants(cmd, MG_TOK_STATS)))
			want_stats(x, v[i], r);
		term_remove(v[i]);
	}
	return 0;
}

static int cmd_move(struct exec *x, struct mg_ctx **ctxp, bool choose,
		    struct mg_action *ra, const struct mg_cmd *cmd,
		    struct cmd_err *e)
{
	struct mg_term *t;
	struct mg_ctx *c = *ctxp, *old;
	bool sdp = false;
	unsigned i;
	int rc;

	t = term_find(x->m, x->vmg, cmd->tid);
	if (!t)
		return fail(e, 430, "Unknown TerminationID '%s'", cmd->tid);
	if (!t->ctx)
		return fail(e, 435, "Move of a termination in the NULL "
			    "context");
	if (!c && !choose)
		return fail(e, 422, "Move into the NULL context");
	if (!c && !(c = ctx_new(x->m, x->vmg, e)))
		return (int)e->code;
	if (t->ctx == c)
		return fail(e, 501, "Move into its own context");
	if (ctx_nterms(c) == TERMS_PER_CTX || ctx_term(c, t->kind)) {
		if (!ctx_nterms(c))
			ctx_free(c);
		return fail(e, 434, "Max number of Terminations in a "
			    "Context exceeded");
	}
	old = t->ctx;
	for (i = 0; i < TERMS_PER_CTX; i++)
		if (old->t[i] == t)
			old->t[i] = NULL;
	c->t[c->t[0] ? 1 : 0] = t;
	t->ctx = c;
	c->gen++;
	if (!ctx_nterms(old)) {
		ctx_free(old);
	} else {
		old->gen++;
		old->dirty = true;
	}
	rc = apply_desc(t, cmd, e, &sdp);
	c->dirty = true;
	*ctxp = c;
	if (rc)
		return rc;
	cmd_reply(x, ra, cmd, t->name);
	return 0;
}

static void audit_packages(struct exec *x, struct mg_cmd *r)
{
	struct mg_item *pg = mg_item_add(x->reply, r ? &r->desc : NULL,
					 MG_TOK_PACKAGES, NULL);
	char buf[24];
	unsigned i;

	for (i = 0; packages[i]; i++) {
		/* s.7.1.15: name-version */
		snprintf(buf, sizeof(buf), "%s-1", packages[i]);
		if (!mg_item_add(x->reply, pg ? &pg->kids : NULL, MG_TOK_NONE,
				 buf))
			x->oom = true;
	}
}

static void audit_term(struct exec *x, struct mg_cmd *r, struct mg_term *t,
		       const struct mg_cmd *cmd, bool caps)
{
	struct mg_msg *msg = x->reply;
	struct mg_item *md, *ts, *st, *lc, *it;

	if (!r)
		return;
	if (caps || audit_wants(cmd, MG_TOK_MEDIA)) {
		md = mg_item_add(msg, &r->desc, MG_TOK_MEDIA, NULL);
		ts = mg_item_add(msg, md ? &md->kids : NULL, MG_TOK_TERMSTATE,
				 NULL);
		mg_item_set(msg, mg_item_add(msg, ts ? &ts->kids : NULL,
					     MG_TOK_SERVICESTATES, NULL),
			    t->oos || (t->sp && !t->sp->up) ?
			    MG_TOK_OUTOFSERVICE : MG_TOK_INSERVICE, NULL);
		mg_item_set(msg, mg_item_add(msg, ts ? &ts->kids : NULL,
					     MG_TOK_BUFFER, NULL),
			    MG_TOK_OFF, NULL);
		st = mg_item_set(msg, mg_item_add(msg, md ? &md->kids : NULL,
						  MG_TOK_STREAM, NULL), 0, "1");
		lc = mg_item_add(msg, st ? &st->kids : NULL,
				 MG_TOK_LOCALCONTROL, NULL);
		mg_item_set(msg, mg_item_add(msg, lc ? &lc->kids : NULL,
					     MG_TOK_MODE, NULL),
			    (enum mg_tok[]){ MG_TOK_INACTIVE, MG_TOK_SENDONLY,
				    MG_TOK_RECVONLY, MG_TOK_SENDRECV,
				    MG_TOK_LOOPBACK }[t->mode], NULL);
		if (t->kind == TERM_TDM)
			mg_item_set(msg, mg_item_add(msg, lc ? &lc->kids :
						     NULL, MG_TOK_NONE,
						     "tdmc/ec"), 0, "%s",
				    t->ec ? "on" : "off");
		if (t->local_sdp && (it = mg_item_add(msg, st ? &st->kids :
						       NULL, MG_TOK_LOCAL,
						       NULL)))
			it->text = mg_msg_strdup(msg, t->local_sdp);
		if (t->remote_sdp && (it = mg_item_add(msg, st ? &st->kids :
							NULL, MG_TOK_REMOTE,
							NULL)))
			it->text = mg_msg_strdup(msg, t->remote_sdp);
	}
	if (!caps && audit_wants(cmd, MG_TOK_EVENTS)) {
		struct mg_item *ev = mg_item_add(msg, &r->desc, MG_TOK_EVENTS,
						 NULL);
		unsigned i;

		if (ev && t->ev_armed)
			mg_item_set(msg, ev, 0, "%" PRIu32, t->ev_rid);
		for (i = 0; ev && i < t->nev; i++)
			mg_item_add(msg, &ev->kids, MG_TOK_NONE,
				    t->ev[i].name);
	}
	if (!caps && audit_wants(cmd, MG_TOK_SIGNALS)) {
		struct mg_item *sg = mg_item_add(msg, &r->desc,
						 MG_TOK_SIGNALS, NULL);
		unsigned i;

		for (i = 0; sg && i < t->nsig; i++)
			mg_item_add(msg, &sg->kids, MG_TOK_NONE,
				    t->sig[i].name);
	}
	if (caps) {
		/* what a termination of this kind can detect and play */
		/* B.2: a list of events needs a RequestID; 0 here */
		struct mg_item *ev = mg_item_set(msg, mg_item_add(
			msg, &r->desc, MG_TOK_EVENTS, NULL), 0, "0");
		struct mg_item *sg = mg_item_add(msg, &r->desc,
						 MG_TOK_SIGNALS, NULL);
		static const char *const dd[] = { "dd/d0", "dd/d1", "dd/d2",
			"dd/d3", "dd/d4", "dd/d5", "dd/d6", "dd/d7", "dd/d8",
			"dd/d9", "dd/ds", "dd/do", "dd/da", "dd/db", "dd/dc",
			"dd/dd", "dd/ce", "g/sc", NULL };
		unsigned i;

		for (i = 0; ev && dd[i]; i++)
			mg_item_add(msg, &ev->kids, MG_TOK_NONE, dd[i]);
		if (t->kind == TERM_RTP)
			mg_item_add(msg, ev ? &ev->kids : NULL, MG_TOK_NONE,
				    "nt/netfail");
		for (i = 0; sg && t->kind == TERM_TDM &&
		     i < sizeof(cg_tones) / sizeof(cg_tones[0]); i++)
			mg_item_add(msg, &sg->kids, MG_TOK_NONE,
				    cg_tones[i].name);
		for (i = 0; sg && t->kind == TERM_TDM && i < 16; i++) {
			char n[8];

			snprintf(n, sizeof(n), "dg/d%c",
				 "0123456789soabcd"[i]);
			mg_item_add(msg, &sg->kids, MG_TOK_NONE, n);
		}
	}
	if (!caps && audit_wants(cmd, MG_TOK_PACKAGES))
		audit_packages(x, r);
	if (!caps && audit_wants(cmd, MG_TOK_STATS))
		want_stats(x, t, r);
}

static int cmd_audit(struct exec *x, struct mg_ctx *c, bool all_ctx,
		     struct mg_action *ra, const struct mg_cmd *cmd,
		     struct cmd_err *e, bool caps)
{
	struct mg_term *v[512];
	unsigned n, i;

	if (is_root(cmd->tid)) {
		struct mg_cmd *r = cmd_reply(x, ra, cmd, "ROOT");
		struct mg_item *md, *ts;

		if (!r)
			return 0;
		if (audit_wants(cmd, MG_TOK_PACKAGES) || caps)
			audit_packages(x, r);
		if (audit_wants(cmd, MG_TOK_MEDIA) || caps) {
			/* E.2 root properties */
			md = mg_item_add(x->reply, &r->desc, MG_TOK_MEDIA,
					 NULL);
			ts = mg_item_add(x->reply, md ? &md->kids : NULL,
					 MG_TOK_TERMSTATE, NULL);
			stat_add(x->reply, ts ? &ts->kids : NULL,
				 "root/maxNumberOfContexts", "%" PRIu64,
				 x->m->conf.max_contexts);
			stat_add(x->reply, ts ? &ts->kids : NULL,
				 "root/maxTerminationsPerContext", "%" PRIu64,
				 (uint64_t)TERMS_PER_CTX);
			stat_add(x->reply, ts ? &ts->kids : NULL,
				 "root/normalMGExecutionTime", "%" PRIu64,
				 (uint64_t)200);
		}
		return 0;
	}
	n = resolve(x->m, x->vmg, cmd->tid, c, all_ctx || !c, v, 512);
	if (!n)
		return fail(e, strchr(cmd->tid, '*') ? 431 : 430,
			    "%s '%s'", strchr(cmd->tid, '*') ?
			    "No TerminationID matched a wildcard" :
			    "Unknown TerminationID", cmd->tid);
	for (i = 0; i < n; i++) {
		struct mg_action *a = ra;

		if (!all_ctx && c && v[i]->ctx != c)
			return fail(e, 435, "Termination ID '%s' is not in "
				    "specified Context", v[i]->name);
		if (all_ctx || (!c && v[i]->ctx)) {
			/* one reply action per context (s.7.2.5) */
			a = mg_trans_add_action(x->reply, x->rt, v[i]->ctx ?
						v[i]->ctx->id : MG_CTX_NULL);
		}
		audit_term(x, cmd_reply(x, a, cmd, v[i]->name), v[i], cmd,
			   caps);
	}
	return 0;
}

static int cmd_service_change(struct exec *x, struct mg_action *ra,
			      const struct mg_cmd *cmd, struct cmd_err *e)
{
	const struct mg_item *sv = NULL, *p;
	enum mg_tok method = MG_TOK_NONE;
	const char *mgcid = NULL;
	struct mg_term *v[512];
	unsigned n, i;

	for (p = cmd->desc; p; p = p->next)
		if (p->tok == MG_TOK_SERVICES)
			sv = p;
	for (p = sv ? sv->kids : NULL; p; p = p->next) {
		if (p->tok == MG_TOK_METHOD)
			method = p->val[0].tok;
		else if (p->tok == MG_TOK_MGCID)
			mgcid = item_val(p);
	}
	if (!method)
		return fail(e, 442, "ServiceChange without Method");
	if (is_root(cmd->tid)) {
		/* s.11.5: HandOff to another MGC */
		if (method != MG_TOK_HANDOFF || !mgcid)
			return fail(e, 501, "ServiceChange %s on ROOT from "
				    "the MGC", mg_tok_name(method, false));
		cmd_reply(x, ra, cmd, "ROOT");
		mg_vmg_handoff(x->vmg, mgcid);
		return 0;
	}
	n = resolve(x->m, x->vmg, cmd->tid, NULL, true, v, 512);
	if (!n)
		return fail(e, 430, "Unknown TerminationID '%s'", cmd->tid);
	for (i = 0; i < n; i++) {
		/* s.7.2.8: Forced clears the terminations' contexts */
		if (method == MG_TOK_FORCED || method == MG_TOK_GRACEFUL) {
			if (v[i]->ctx && method == MG_TOK_FORCED) {
				struct mg_ctx *c = v[i]->ctx;

				term_remove(v[i]);
				if (c && ctx_find(x->m, c->id) && c->dirty)
					ctx_apply(c);
			}
			if (v[i]->kind == TERM_TDM)
				v[i]->oos = true;
		} else if (method == MG_TOK_RESTART) {
			v[i]->oos = false;
		}
	}
	cmd_reply(x, ra, cmd, cmd->tid);
	return 0;
}

/* One command; 0 or the error code in e. */
static int run_cmd(struct exec *x, struct mg_ctx **ctxp, bool choose,
		   bool all_ctx, struct mg_action *ra,
		   const struct mg_cmd *cmd, struct cmd_err *e)
{
	x->m->n.commands++;
	switch (cmd->type) {
	case MG_CMD_ADD:
		return cmd_add(x, ctxp, choose, ra, cmd, e);
	case MG_CMD_MODIFY:
		return cmd_modify(x, *ctxp, ra, cmd, e);
	case MG_CMD_SUBTRACT:
		return cmd_subtract(x, *ctxp, ra, cmd, e);
	case MG_CMD_MOVE:
		return cmd_move(x, ctxp, choose, ra, cmd, e);
	case MG_CMD_AUDITVALUE:
		return cmd_audit(x, *ctxp, all_ctx, ra, cmd, e, false);
	case MG_CMD_AUDITCAP:
		return cmd_audit(x, *ctxp, all_ctx, ra, cmd, e, true);
	case MG_CMD_SERVICECHANGE:
		return cmd_service_change(x, ra, cmd, e);
	case MG_CMD_NOTIFY:
		return fail(e, 421, "Notify is sent by the MG");
	}
	return fail(e, 443, "Unsupported or unknown command");
}

static void apply_dirty(struct mg_model *m)
{
	struct mg_ctx *c;

	for (c = m->ctxs; c; c = c->next)
		if (c->dirty)
			ctx_apply(c);
}

/** Execute a transaction request from v's controller (s.8). */
void mg_model_exec(struct mg_model *m, struct mg_vmg *v,
		   struct mg_tsx_req *req, const struct mg_trans *t,
		   unsigned version)
{
	const struct mg_action *a;
	struct exec *x;
	bool stop = false;

	m->n.requests++;
	x = gw_mem_zalloc(sizeof(*x), exec_destroy);
	if (!x || mg_msg_alloc(&x->reply, version, NULL)) {
		gw_mem_deref(x);
		mg_tsx_reply_error(req, 500, "out of memory");
		return;
	}
	x->m = m;
	x->vmg = v;
	x->req = req;
	x->rt = mg_msg_add_trans(x->reply, MG_TRANS_REPLY, t->id);
	for (a = t->actions; a && !stop; a = a->next) {
		bool choose = a->ctx == MG_CTX_CHOOSE;
		bool all = a->ctx == MG_CTX_ALL;
		struct mg_ctx *c = NULL;
		const struct mg_cmd *cmd;
		struct mg_action *ra;
		struct cmd_err e = {0};
		const struct mg_item *p;
		uint32_t last = 0;

		ra = mg_trans_add_action(x->reply, x->rt, a->ctx);
		if (!ra) {
			x->oom = true;
			break;
		}
		if (a->ctx != MG_CTX_NULL && !choose && !all) {
			c = ctx_find(m, a->ctx);
			if (!c || c->vmg != v) {
				ra->err = mg_err_new(x->reply, 411,
						     "The transaction refers "
						     "to an unknown ContextID");
				count_error(m, 411);
				break;
			}
		}
		if (all) {
			/* C=* { S=* }: every context of this controller */
			for (cmd = a->cmds; cmd; cmd = cmd->next) {
				if (cmd->type == MG_CMD_SUBTRACT) {
					struct mg_ctx *k, *nx;

					for (k = m->ctxs; k; k = nx) {
						struct mg_action *ka;
						nx = k->next;
						if (k->vmg != v)
							continue;
						ka = mg_trans_add_action(
							x->reply, x->rt, k->id);
						cmd_subtract(x, k, ka, cmd, &e);
					}
				} else if (cmd->type == MG_CMD_AUDITVALUE) {
					cmd_audit(x, NULL, true, ra, cmd, &e,
						  false);
				} else {
					fail(&e, 501, "only Subtract and "
					     "AuditValue on all contexts");
					ra->err = mg_err_new(x->reply, e.code,
							     e.text);
					count_error(m, e.code);
					stop = true;
					break;
				}
			}
			continue;
		}
		for (p = a->props; p && c; p = p->next) {
			if (p->tok == MG_TOK_PRIORITY)
				c->priority = (unsigned)atoi(item_val(p));
			else if (p->tok == MG_TOK_EMERGENCY)
				c->emergency = true;
			else if (p->tok == MG_TOK_EMERGENCYOFF)
				c->emergency = false;
			else if (p->tok == MG_TOK_TOPOLOGY)
				c->isolate = p->kids &&
					p->kids->tok == MG_TOK_ISOLATE;
			c->dirty = true;
		}
		for (cmd = a->cmds; cmd; cmd = cmd->next) {
			struct mg_ctx *before = c;
			uint32_t bid = c ? c->id : 0;
			int rc = run_cmd(x, &c, choose, all, ra, cmd, &e);

			/* a Subtract may have taken the context away */
			if (c && c == before && !ctx_find(m, bid))
				c = NULL;
			if (c)
				last = c->id;
			if (!rc)
				continue;
			count_error(m, e.code);
			GW_INFO("%s: %s %s: %u %s", mg_vmg_name(v),
				mg_tok_name((enum mg_tok[]){ MG_TOK_ADD,
					MG_TOK_MODIFY, MG_TOK_SUBTRACT,
					MG_TOK_MOVE, MG_TOK_AUDITVALUE,
					MG_TOK_AUDITCAP, MG_TOK_NOTIFY,
					MG_TOK_SERVICECHANGE }[cmd->type],
					false), cmd->tid, e.code, e.text);
			/* s.8: the error goes in the failed command's reply
			 * and, unless it was Optional, nothing after it runs */
			{
				struct mg_cmd *r = cmd_reply(x, ra, cmd,
							     cmd->tid);

				if (r)
					r->err = mg_err_new(x->reply, e.code,
							    e.text);
			}
			if (!cmd->optional) {
				stop = true;
				break;
			}
		}
		/* the reply names the context the MG chose (s.8.1.2) */
		ra->ctx = last ? last : choose ? MG_CTX_NULL : a->ctx;
	}
	apply_dirty(m);
	exec_finish(x);
	gw_mem_deref(x);
}

/* ------------------------------------------------------------------ */
/* The inactivity timer (it package, H.248.14)                        */
/* ------------------------------------------------------------------ */

static void it_fire(void *arg)
{
	struct mg_model *m = arg;

	/* report it; a controller that does not answer the Notify is
	 * failed over by the transaction layer's timeout */
	notify(m, m->it.vmg, NULL, m->it.rid, "it/ito", NULL, NULL, NULL,
	       NULL);
	gw_tmr_start(&m->it.tmr, m->it.mit_ms, it_fire, m);
}

void mg_model_vmg_heard(struct mg_model *m, struct mg_vmg *v)
{
	if (m->it.vmg == v && m->it.mit_ms)
		gw_tmr_start(&m->it.tmr, m->it.mit_ms, it_fire, m);
}

/* After a (re-)registration: a cold start forgets the controller's
 * contexts (s.11.2 Restart 901); the inactivity timer is disarmed. */
void mg_model_vmg_registered(struct mg_model *m, struct mg_vmg *v)
{
	if (m->it.vmg == v) {
		gw_tmr_cancel(&m->it.tmr);
		m->it.vmg = NULL;
	}
}

/* ------------------------------------------------------------------ */
/* Set-up, spans, status                                              */
/* ------------------------------------------------------------------ */

static void model_destroy(void *arg)
{
	struct mg_model *m = arg;
	struct mg_term *t;
	unsigned i, ts;

	gw_tmr_cancel(&m->it.tmr);
	while (m->ctxs) {
		struct mg_ctx *c = m->ctxs;

		while (ctx_nterms(c) > 0 && ctx_find(m, c->id))
			term_remove(c->t[0] ? c->t[0] : c->t[1]);
	}
	while ((t = m->rtp)) {
		m->rtp = t->next;
		term_free(t);
	}
	for (i = 0; i < m->nspans; i++) {
		for (ts = 0; ts < 32; ts++)
			if (m->spans[i]->ts[ts])
				term_free(m->spans[i]->ts[ts]);
		free(m->spans[i]);
	}
	for (i = 0; i < m->nvmg; i++)
		gw_mem_deref(m->vmg[i]);
}

int mg_model_alloc(struct mg_model **mp, const struct mg_model_conf *conf)
{
	struct mg_model *m;

	if (!mp || !conf || !conf->workers || !conf->rtp_ip)
		return EINVAL;
	m = gw_mem_zalloc(sizeof(*m), model_destroy);
	if (!m)
		return ENOMEM;
	m->conf = *conf;
	snprintf(m->rtp_ip, sizeof(m->rtp_ip), "%s", conf->rtp_ip);
	m->conf.rtp_ip = m->rtp_ip;
	if (!m->conf.max_contexts)
		m->conf.max_contexts = 1024;
	gw_tmr_init(&m->it.tmr);
	*mp = m;
	return 0;
}

static struct mg_vmg *vmg_find(const struct mg_model *m, const char *name)
{
	unsigned i;

	for (i = 0; i < m->nvmg; i++)
		if (!strcmp(mg_vmg_name(m->vmg[i]), name))
			return m->vmg[i];
	return NULL;
}

int mg_model_vmg_add(struct mg_model *m, const struct mg_vmg_conf *vc)
{
	int err;

	if (m->nvmg == sizeof(m->vmg) / sizeof(m->vmg[0]))
		return E2BIG;
	if (vmg_find(m, vc->name))
		return EEXIST;
	err = mg_vmg_alloc(&m->vmg[m->nvmg], m, vc);
	if (!err)
		m->nvmg++;
	return err;
}

int mg_model_span_add(struct mg_model *m, const char *vmg, unsigned id,
		      struct media_worker *wk, struct tdm_span *span,
		      bool alaw, uint32_t ts_mask)
{
	struct mg_vmg *v = vmg_find(m, vmg);
	struct span_reg *sp;
	unsigned ts;

	if (!v)
		return ENOENT;
	if (span_find(m, id) || m->nspans == 64)
		return EEXIST;
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return ENOMEM;
	sp->id = id;
	sp->vmg = v;
	sp->wk = wk;
	sp->span = span;
	sp->alaw = alaw;
	sp->up = true;
	for (ts = 1; ts < 32; ts++) {
		struct mg_term *t;

		if (!(ts_mask & (1u << ts)))
			continue;
		t = term_new(m, TERM_TDM);
		if (!t)
			goto nomem;
		t->vmg = v;
		t->sp = sp;
		t->ts = ts;
		snprintf(t->name, sizeof(t->name), "tdm/%u/%u", id, ts);
		sp->ts[ts] = t;
	}
	m->spans[m->nspans++] = sp;
	return 0;
 nomem:
	for (ts = 0; ts < 32; ts++)
		if (sp->ts[ts])
			term_free(sp->ts[ts]);
	free(sp);
	return ENOMEM;
}

/** A span out of service or back (s.7.2.8, s.11.4): its contexts are
 * cleared and its controller told with a wildcarded ServiceChange. */
void mg_model_span_state(struct mg_model *m, unsigned id, bool up)
{
	struct span_reg *sp = span_find(m, id);
	char tid[32];
	unsigned ts;

	if (!sp || sp->up == up)
		return;
	sp->up = up;
	if (!up) {
		for (ts = 0; ts < 32; ts++) {
			struct mg_term *t = sp->ts[ts];
			struct mg_ctx *c;

			if (!t || !(c = t->ctx))
				continue;
			term_remove(t);
			if (ctx_find(m, c->id) && c->dirty)
				ctx_apply(c);
		}
	}
	snprintf(tid, sizeof(tid), "tdm/%u/*", id);
	mg_vmg_service_change(sp->vmg, tid, up ? MG_TOK_RESTART :
			      MG_TOK_FORCED, up ? "\"900 Service Restored\"" :
			      "\"904 Termination malfunctioning\"");
}

int mg_model_start(struct mg_model *m)
{
	unsigned i;
	int err;

	for (i = 0; i < m->nvmg; i++) {
		err = mg_vmg_start(m->vmg[i]);
		if (err)
			return err;
	}
	return 0;
}

void mg_model_shutdown(struct mg_model *m)
{
	unsigned i;

	for (i = 0; i < m->nvmg; i++)
		mg_vmg_shutdown(m->vmg[i]);
}

json_t *mg_model_json(const struct mg_model *m)
{
	json_t *o = json_object(), *vm = json_array(), *ctxs = json_array(),
		*codes = json_object();
	const struct mg_ctx *c;
	unsigned i, terms_in_use = 0, rtp = 0;
	const struct mg_term *t;

	for (i = 0; i < m->nvmg; i++)
		json_array_append_new(vm, mg_vmg_json(m->vmg[i]));
	for (c = m->ctxs; c; c = c->next) {
		json_t *tl = json_array();

		for (i = 0; i < TERMS_PER_CTX; i++) {
			if (!c->t[i])
				continue;
			terms_in_use++;
			json_array_append_new(tl, json_pack(
				"{s:s,s:s}", "id", c->t[i]->name, "mode",
				mode_names[c->t[i]->mode]));
		}
		json_array_append_new(ctxs, json_pack(
			"{s:I,s:s,s:o}", "id", (json_int_t)c->id, "mg",
			mg_vmg_name(c->vmg), "terminations", tl));
	}
	for (t = m->rtp; t; t = t->next)
		rtp++;
	for (i = 0; i < 16 && m->codes[i][0]; i++) {
		char k[16];

		snprintf(k, sizeof(k), "%u", m->codes[i][0]);
		json_object_set_new(codes, k, json_integer(m->codes[i][1]));
	}
	json_object_set_new(o, "mgs", vm);
	json_object_set_new(o, "contexts", ctxs);
	json_object_set_new(o, "terminations_in_use",
			    json_integer(terms_in_use));
	json_object_set_new(o, "rtp_terminations", json_integer(rtp));
	json_object_set_new(o, "requests", json_integer((json_int_t)
							 m->n.requests));
	json_object_set_new(o, "commands", json_integer((json_int_t)
							 m->n.commands));
	json_object_set_new(o, "notifies", json_integer((json_int_t)
							 m->n.notifies));
	json_object_set_new(o, "errors", json_integer((json_int_t)
						       m->n.errors));
	json_object_set_new(o, "errors_by_code", codes);
	return o;
}
