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
 * Packages (Annex E; what AuditCapabilities and Packages report), each
 * with all its items (s.6.2.3): g, root, tonegen, tonedet, dg, dd, cg,
 * cd, ct, nt, rtp, tdmc, it.  Where an item needs something the gateway
 * does not have, the command gets 512 (event) or 513 (signal) rather
 * than a silent accept: cg/wt, cg/prt, cg/cr (no such tones
 * provisioned, for cd to detect either), signals toward IP, fax and
 * call-progress tones and ct on an RTP termination.
 *
 * Tone ids (E.3 tl, E.4 tl and tid).  Besides the dg ids (d0-d9, ds,
 * do, da-dd) and the cg ids (dt, rt, bt, ct, sit, cw), which the
 * extending packages define, the gateway is provisioned with:
 *   detected (tonedet std/etd/ltd, from the line): cng (T.30 calling
 *     tone, 1100 Hz), ans (V.25 ANS / T.30 CED, 2100 Hz, ANSam too;
 *     "ced" is taken for it), ansrev (ANS or ANSam with phase
 *     reversals, V.25/V.8: the echo canceller goes off), v21flag (V.21
 *     channel 2 HDLC flags: the T.30 preamble of a fax that answers
 *     without CED), the DTMF ids of dd, and the cg ids of cd (E.8:
 *     the tones of the configured plan, by frequency and cadence, each
 *     both an event of its own, cd/bt, and a tone id of std, etd and
 *     ltd);
 *   played (tonegen/pt): the cg and dg ids, mwt (the 1004 Hz test
 *     tone at -10 dBm0) and cot (the 2010 Hz continuity check tone).
 * A DTMF digit is known once it has ended, so its std, etd and ltd are
 * reported together then.
 */

#define TERMS_PER_CTX	2
#define EV_MAX		16
#define SIG_MAX		8
#define DMAP_MAX	4
#define NAME_MAX_	64
#define TL_MAX		8	/* tone ids in one tl list */
#define TID_LEN		12
#define PT_MAX		8	/* tones of one tonegen/pt */
#define EB_MAX		16	/* events held in LockStep (s.7.1.9) */
#define PT_TONE_MS	1000	/* provisioned: each tone of a pt (E.3) */
#define PT_DIGIT_MS	100	/* ... each digit */
#define COT_MS		2000	/* provisioned ct/ct duration: Q.764's
				 * T24, the check tone's return within
				 * 2 s */

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

struct sig_set;
struct ev_set;

struct ev_req {			/* one requested event (s.7.1.9) */
	char name[32];		/* pkg/evt, lower case */
	bool keepactive;
	struct mg_dmap *dm;	/* dd/ce: the map it collects with */
	unsigned ntl;		/* std, etd, ltd (E.4): tl, none: any */
	char tl[TL_MAX][TID_LEN];
	unsigned dur_ms;	/* ltd: how long the tone must last */
	struct sig_set *em_sg;	/* embedded descriptors (s.7.1.9): */
	struct ev_set *em_ev;	/* owned, NULL: none */
};

struct ev_set {		/* an Events or EventBuffer descriptor */
	bool armed;		/* it has a RequestID */
	uint32_t rid;
	unsigned n;
	struct ev_req ev[EV_MAX];
};

enum sig_kind {
	SK_TONE,		/* cg: a call-progress tone */
	SK_DIGIT,		/* dg */
	SK_PT,			/* tonegen/pt (and cg/pt, dg/pt) */
	SK_CT,			/* ct/ct: check tone out, its return in */
	SK_RSP,			/* ct/rsp: loopback */
};

struct pt_step {		/* one tone of a tl list (E.3) */
	enum media_tone tone;	/* MEDIA_TONE_COUNT: none */
	unsigned hz;		/* a tone of one frequency */
	char digit;
};

struct sig_req {		/* one requested signal (s.7.1.11) */
	char name[32];
	enum mg_tok type;	/* BRIEF, TIMEOUT, ONOFF */
	unsigned dur_ms;
	bool nc_to, nc_ibe, nc_ibs, nc_or;
	bool keepactive;
	enum sig_kind kind;
	enum media_tone tone;	/* SK_TONE */
	char digit;		/* SK_DIGIT */
	unsigned npt;		/* SK_PT */
	struct pt_step pt[PT_MAX];
	unsigned ind_ms;
	bool done;		/* completed on its own (pt played out, ct
				 * answered) */
};

struct sig_set {
	unsigned n;
	struct sig_req sig[SIG_MAX];
};

/* A detected event, as matched against an Events descriptor and held
 * in the EventBuffer (s.7.1.9). */
struct ev_obs {
	char name[32];		/* pkg/evt; "" for a tone event: */
	char evt[4];		/* std, etd, ltd (E.4) */
	char tid[TID_LEN];
	unsigned dur_ms;
	unsigned np;		/* ObservedEvents parameters */
	char pn[2][8];
	char pv[2][80];
	char stamp[24];		/* when it was detected */
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
	/* ServiceChange from the MGC with a Delay (s.7.2.8): at sc_at
	 * (gw_now_ms; 0: none) oos becomes sc_oos; Graceful also ends at
	 * the termination's return to the NULL context */
	uint64_t sc_at;
	bool sc_oos;
	bool sc_graceful;	/* Graceful pending, Delay or none */
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
	/* Events (s.7.1.9, 7.1.10) */
	struct ev_set ev;
	struct ev_set ebuf;		/* EventBuffer descriptor */
	bool lockstep;			/* EventBufferControl (s.7.1.5) */
	bool suspended;			/* LockStep: awaiting Events */
	unsigned nq;
	struct ev_obs q[EB_MAX];	/* the EventBuffer, FIFO */
	char tone_on[TID_LEN];		/* a tone on, for ltd */
	struct gw_tmr ltd_tmr;
	uint64_t tone_since;
	/* Signals (s.7.1.11) and what they play */
	struct sig_set sg;
	struct gw_tmr sig_tmr;
	int pt_sig;			/* the pt playing, -1: none */
	unsigned pt_step;
	bool pt_gap;
	struct gw_tmr pt_tmr;
	enum media_tone tone;
	unsigned line_hz;
	bool cot, rsp;
	unsigned cot_seq;
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
	struct span_reg *spans[MG_SPANS_MAX];
	unsigned nspans;
	struct mg_term **found;		/* resolve()'s, found_room long */
	unsigned found_room;
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
	/* going out of service with a Delay (s.11.4): no new Add */
	struct {
		bool on;
		struct gw_tmr tmr;
		mg_model_drained_h *h;
		void *arg;
	} drain;
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

/* Release what the events of es hold; es is left empty. */
static void ev_set_clear(struct ev_set *es)
{
	unsigned i;

	for (i = 0; i < es->n; i++) {
		struct ev_req *r = &es->ev[i];

		r->dm = gw_mem_deref(r->dm);
		free(r->em_sg);
		r->em_sg = NULL;
		if (r->em_ev) {
			ev_set_clear(r->em_ev);
			free(r->em_ev);
			r->em_ev = NULL;
		}
	}
	es->n = 0;
	es->armed = false;
	es->rid = 0;
}

/* A deep copy of src into dst (empty); ENOMEM leaves dst empty. */
static int ev_set_copy(struct ev_set *dst, const struct ev_set *src)
{
	unsigned i;

	*dst = *src;
	for (i = 0; i < dst->n; i++) {
		struct ev_req *r = &dst->ev[i];

		gw_mem_ref(r->dm);
		r->em_sg = NULL;
		r->em_ev = NULL;
	}
	for (i = 0; i < dst->n; i++) {
		const struct ev_req *s = &src->ev[i];
		struct ev_req *r = &dst->ev[i];

		if (s->em_sg) {
			r->em_sg = malloc(sizeof(*r->em_sg));
			if (!r->em_sg)
				goto nomem;
			*r->em_sg = *s->em_sg;
		}
		if (s->em_ev) {
			r->em_ev = malloc(sizeof(*r->em_ev));
			if (!r->em_ev)
				goto nomem;
			if (ev_set_copy(r->em_ev, s->em_ev)) {
				free(r->em_ev);
				r->em_ev = NULL;
				goto nomem;
			}
		}
	}
	return 0;
 nomem:
	ev_set_clear(dst);
	return ENOMEM;
}

/* ServiceStates, with a ServiceChange Delay that has run out taken
 * into account (s.7.2.8). */
static bool term_oos(struct mg_term *t)
{
	if (t->sc_at && gw_now_ms() >= t->sc_at) {
		t->oos = t->sc_oos;
		t->sc_at = 0;
		t->sc_graceful = false;
	}
	return t->oos;
}

static void drain_check(struct mg_model *m);

static void term_reset(struct mg_term *t)
{
	t->mode = MODE_INACTIVE;
	/* tdmc/ec: on by default for voice (E.13), unless provisioned */
	t->ec = t->kind == TERM_TDM && !t->m->conf.ec_off;
	t->gain = 0;
	t->jit_ms = 0;
	ev_set_clear(&t->ev);
	ev_set_clear(&t->ebuf);
	t->lockstep = false;	/* EventBufferControl Off (s.7.1.9) */
	t->suspended = false;
	t->nq = 0;
	t->tone_on[0] = '\0';
	gw_tmr_cancel(&t->ltd_tmr);
	t->sg.n = 0;
	t->pt_sig = -1;
	t->tone = MEDIA_TONE_COUNT;
	t->line_hz = 0;
	t->cot = t->rsp = false;
	gw_tmr_cancel(&t->sig_tmr);
	gw_tmr_cancel(&t->pt_tmr);
	gw_tmr_cancel(&t->dc_tmr);
	t->dc = gw_mem_deref(t->dc);
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
	gw_tmr_init(&t->pt_tmr);
	gw_tmr_init(&t->ltd_tmr);
	gw_tmr_init(&t->dc_tmr);
	term_reset(t);
	return t;
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
	st.tone = st.ip_tone = MEDIA_TONE_COUNT;
	st.tone_country = m->conf.tone_country;
	st.ec_tail_ms = m->conf.ec_tail_ms ? m->conf.ec_tail_ms : 64;
	if (td) {
		st.tdm = true;
		st.span = td->sp->span;
		st.ts = td->ts;
		st.alaw = td->sp->alaw;
		/* ct/rsp: a 4-wire digital circuit answers a continuity
		 * test with a loopback (E.10.5) */
		st.loopback = td->mode == MODE_LOOPBACK || td->rsp;
		st.ec = td->ec;
		st.tone = td->tone;
		st.line_hz = td->line_hz;
		st.line_dbm0 = -10;
		st.cot = td->cot;
		st.cot_seq = td->cot_seq;
		for (i = 0; i < td->ev.n + td->ebuf.n; i++) {
			const struct ev_req *r = i < td->ev.n ? &td->ev.ev[i] :
				&td->ebuf.ev[i - td->ev.n];

			if (!strncmp(r->name, "dd/", 3) ||
			    !strncmp(r->name, "tonedet/", 8))
				st.detect_dtmf = true;
			if (!strncmp(r->name, "tonedet/", 8))
				st.detect_fax = true;
			if (!strncmp(r->name, "tonedet/", 8) ||
			    !strncmp(r->name, "cd/", 3))
				st.detect_cpd = true;
		}
	} else {
		st.alaw = true;
	}
	if (rt && rt->have_codec) {
		st.rtp = true;
		st.ip_tone = rt->tone;
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
	/* s.7.2.8: Graceful takes it out of service at its Delay's end or
	 * as it leaves its context, whichever comes first */
	if (t->sc_graceful && !term_oos(t)) {
		t->oos = true;
		t->sc_graceful = false;
		t->sc_at = 0;
	}
	drain_check(m);
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

/* One observed event of t (or ROOT when t is NULL), with its
 * parameters, detected at stamp (NULL: now). */
static void notify_n(struct mg_model *m, struct mg_vmg *v, struct mg_term *t,
		     uint32_t rid, const char *ev, const char *const *pn,
		     const char *const *pv, unsigned np, const char *when)
{
	struct mg_msg *msg;
	struct mg_trans *tr;
	struct mg_action *a;
	struct mg_cmd *c;
	struct mg_item *oe, *e;
	char st[48];
	unsigned i;

	if (!v || !mg_vmg_registered(v))
		return;
	msg = mg_vmg_msg(v);
	if (!msg)
		return;
	if (when && when[0])
		snprintf(st, sizeof(st), "%s", when);
	else
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
	for (i = 0; i < np; i++)
		if (!mg_item_set(msg, mg_item_add(msg, e ? &e->kids : NULL,
						  MG_TOK_NONE, pn[i]), 0,
				 "%s", pv[i]))
			e = NULL;
	if (!e) {
		gw_mem_deref(msg);
		return;
	}
	m->n.notifies++;
	if (mg_vmg_send(v, msg, notify_resp, NULL))
		GW_WARN("Notify %s: not sent", ev);
	gw_mem_deref(msg);
}

static void notify(struct mg_model *m, struct mg_vmg *v, struct mg_term *t,
		   uint32_t rid, const char *ev, const char *p1,
		   const char *v1, const char *p2, const char *v2)
{
	const char *pn[2] = { p1, p2 }, *pv[2] = { v1, v2 };

	notify_n(m, v, t, rid, ev, pn, pv, p2 ? 2 : p1 ? 1 : 0, NULL);
}

/* ------------------------------------------------------------------ */
/* Tone ids (E.3, E.4 and the packages that extend them)              */
/* ------------------------------------------------------------------ */

static const struct {
	const char *name;
	enum media_tone tone;
} cg_tones[] = {
	{"cg/dt", MEDIA_TONE_DIAL}, {"cg/rt", MEDIA_TONE_RINGBACK},
	{"cg/bt", MEDIA_TONE_BUSY}, {"cg/ct", MEDIA_TONE_CONGESTION},
	{"cg/sit", MEDIA_TONE_SIT}, {"cg/cw", MEDIA_TONE_CALLWAIT},
};

/* E.7.3 tones no tone plan here provides */
static const char *const cg_unequipped[] = { "cg/wt", "cg/prt", "cg/cr",
	NULL };

/* E.8: the cg ids as cd detects them, by enum media_tone; the rest of
 * E.7.3's ids (wt, prt, cr) are in no plan here. */
static const char *const cd_ids[MEDIA_TONE_COUNT] = {
	[MEDIA_TONE_DIAL] = "dt", [MEDIA_TONE_RINGBACK] = "rt",
	[MEDIA_TONE_BUSY] = "bt", [MEDIA_TONE_CONGESTION] = "ct",
	[MEDIA_TONE_SIT] = "sit", [MEDIA_TONE_CALLWAIT] = "cw",
};
static const char *const cd_unequipped[] = { "wt", "prt", "cr", NULL };

/* Fax and modem signals we detect, by enum media_tonedet_ev. */
static const char *const fax_ids[] = { "cng", "ans", "ansrev", "v21flag" };

static void lower(char *d, const char *s, size_t size)
{
	size_t i;

	for (i = 0; s[i] && i < size - 1; i++)
		d[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	d[i] = '\0';
}

/* dg (E.5): d0-d9, ds (*), do (#), da-dd, as a tone id or pkg/id */
static char dtmf_of(const char *id)
{
	if (strlen(id) != 2 || id[0] != 'd')
		return 0;
	if (id[1] >= '0' && id[1] <= '9')
		return id[1];
	if (id[1] == 's')
		return '*';
	if (id[1] == 'o')
		return '#';
	if (id[1] >= 'a' && id[1] <= 'd')
		return (char)(id[1] - 'a' + 'A');
	return 0;
}

static char dg_digit(const char *name)
{
	return strncmp(name, "dg/", 3) ? 0 : dtmf_of(name + 3);
}

static void dtmf_id(char *buf, size_t size, char digit)
{
	snprintf(buf, size, "d%c", digit == '*' ? 's' : digit == '#' ? 'o' :
		 digit >= 'A' && digit <= 'D' ? digit - 'A' + 'a' : digit);
}

static bool fax_id(const char *id)
{
	unsigned i;

	for (i = 0; i < GW_ARRAY_SIZE(fax_ids); i++)
		if (!strcmp(fax_ids[i], id))
			return true;
	return false;
}

/* 1: a cd tone id we detect, 2: one of E.7.3 we cannot, 0: neither. */
static int cd_id(const char *id)
{
	unsigned i;

	for (i = 0; i < GW_ARRAY_SIZE(cd_ids); i++)
		if (cd_ids[i] && !strcmp(cd_ids[i], id))
			return 1;
	for (i = 0; cd_unequipped[i]; i++)
		if (!strcmp(cd_unequipped[i], id))
			return 2;
	return 0;
}

/* A tone id of a tl list as the gateway knows it, lower case, with its
 * package prefix (if any) dropped: the id, "" for one we do not know. */
static void tid_norm(char *out, const char *in)
{
	const char *sl = strchr(in, '/');
	char id[TID_LEN + 8];

	lower(id, sl ? sl + 1 : in, sizeof(id));
	if (!strcmp(id, "ced"))
		snprintf(id, sizeof(id), "ans");
	if (strlen(id) >= TID_LEN)
		id[0] = '\0';
	snprintf(out, TID_LEN, "%s", id);
}

/* ------------------------------------------------------------------ */
/* Events: matching, the EventBuffer, embedded descriptors (s.7.1.9)  */
/* ------------------------------------------------------------------ */

static void sig_apply(struct mg_term *t, const struct sig_set *ss);
static void signals_stop(struct mg_term *t, const char *meth, bool keep_ka);
static void ev_install(struct mg_term *t, struct ev_set *es);

static bool tl_has(const struct ev_req *r, const char *tid)
{
	unsigned i;

	if (!r->ntl)
		return true;
	for (i = 0; i < r->ntl; i++)
		if (!strcmp(r->tl[i], "*") || !strcmp(r->tl[i], tid))
			return true;
	return false;
}

/* The event of es that o is an occurrence of, or NULL. */
static struct ev_req *ev_find(struct ev_set *es, const struct ev_obs *o)
{
	unsigned i;

	for (i = 0; i < es->n; i++) {
		struct ev_req *r = &es->ev[i];
		const char *evt = strchr(r->name, '/');

		if (o->name[0]) {
			if (!strcmp(r->name, o->name))
				return r;
			continue;
		}
		/* E.4 std/etd/ltd, of tonedet or of dd or cd extending it
		 * (E.6: DTMF tone ids only; E.8: the cg ones only) */
		if (!evt || strcmp(evt + 1, o->evt))
			continue;
		if (!strncmp(r->name, "dd/", 3) ? !dtmf_of(o->tid) :
		    !strncmp(r->name, "cd/", 3) ? cd_id(o->tid) != 1 :
		    strncmp(r->name, "tonedet/", 8))
			continue;
		if (!tl_has(r, o->tid))
			continue;
		if (!strcmp(o->evt, "ltd") && o->dur_ms < r->dur_ms)
			continue;
		return r;
	}
	return NULL;
}

static void obs_param(struct ev_obs *o, const char *n, const char *v)
{
	if (o->np >= 2)
		return;
	snprintf(o->pn[o->np], sizeof(o->pn[0]), "%s", n);
	snprintf(o->pv[o->np], sizeof(o->pv[0]), "%s", v);
	o->np++;
}

/*
 * An event recognised (s.7.1.9): notify it; unless KeepActive, the
 * signals stop (those of them not KeepActive themselves); embedded
 * Signals and Events replace the current ones.  In LockStep the
 * handling of events is suspended until an Events descriptor comes,
 * by command or embedded.  g/sc reports a signal's end and stops no
 * other signal.
 */
static void act(struct mg_term *t, struct ev_req *er, const struct ev_obs *o)
{
	const char *pn[2] = { o->pn[0], o->pn[1] };
	const char *pv[2] = { o->pv[0], o->pv[1] };
	struct sig_set *sg = NULL;
	struct ev_set *es = NULL;
	bool stop = !er->keepactive && strcmp(er->name, "g/sc");

	notify_n(t->m, t->vmg, t, t->ev.rid, er->name, pn, pv, o->np,
		 o->stamp);
	/* er goes when the Events descriptor is replaced: take what is
	 * embedded first */
	if (er->em_sg && (sg = malloc(sizeof(*sg))))
		*sg = *er->em_sg;
	if (er->em_ev && (es = malloc(sizeof(*es))) &&
	    ev_set_copy(es, er->em_ev)) {
		free(es);
		es = NULL;
	}
	if ((er->em_sg && !sg) || (er->em_ev && !es))
		GW_ERR("%s: out of memory for the embedded descriptors",
		       t->name);
	if (stop)
		signals_stop(t, "EV", true);
	if (sg) {
		sig_apply(t, sg);
		free(sg);
	}
	if (es) {
		ev_install(t, es);
		free(es);
	} else if (t->lockstep) {
		t->suspended = true;
	}
}

/* An event detected on t (o's stamp empty: now). */
static void detect(struct mg_term *t, struct ev_obs *o)
{
	struct ev_req *er;

	if (!o->stamp[0])
		stamp(o->stamp, sizeof(o->stamp));
	if (t->lockstep && t->suspended) {
		/* s.7.1.9: held if the EventBuffer descriptor names it */
		if (!ev_find(&t->ebuf, o))
			return;
		if (t->nq == EB_MAX) {
			GW_WARN("%s: EventBuffer full, %s%s dropped", t->name,
				o->name, o->tid);
			return;
		}
		t->q[t->nq++] = *o;
		return;
	}
	if (!t->ev.armed || !(er = ev_find(&t->ev, o)))
		return;
	act(t, er, o);
}

static void detect_named(struct mg_term *t, const char *name,
			 const char *p1, const char *v1, const char *p2,
			 const char *v2)
{
	struct ev_obs o;

	memset(&o, 0, sizeof(o));
	snprintf(o.name, sizeof(o.name), "%s", name);
	if (p1)
		obs_param(&o, p1, v1);
	if (p2)
		obs_param(&o, p2, v2);
	detect(t, &o);
}

/* E.4: a tone's start (std), end (etd, with its duration) or length
 * (ltd). */
static void detect_tone(struct mg_term *t, const char *evt, const char *tid,
			unsigned dur_ms)
{
	struct ev_obs o;
	char d[16];

	memset(&o, 0, sizeof(o));
	snprintf(o.evt, sizeof(o.evt), "%s", evt);
	snprintf(o.tid, sizeof(o.tid), "%s", tid);
	o.dur_ms = dur_ms;
	obs_param(&o, "tid", tid);
	if (!strcmp(evt, "etd")) {
		snprintf(d, sizeof(d), "%u", dur_ms);
		obs_param(&o, "dur", d);
	}
	detect(t, &o);
}

/* s.7.1.9: a new Events descriptor (by command or embedded) is active;
 * in LockStep the events held are taken in order against it. */
static void events_activated(struct mg_term *t)
{
	t->suspended = false;
	if (!t->lockstep)
		return;
	if (!t->ev.armed)
		t->nq = 0;
	while (t->nq && !t->suspended) {
		struct ev_obs o = t->q[0];
		struct ev_req *er;

		memmove(t->q, t->q + 1, (t->nq - 1) * sizeof(t->q[0]));
		t->nq--;
		er = ev_find(&t->ev, &o);
		if (er)
			act(t, er, &o);
		/* not in the new descriptor: discarded */
	}
}

/* ------------------------------------------------------------------ */
/* Signals (s.7.1.11; packages cg, dg, tonegen, ct, g/sc)             */
/* ------------------------------------------------------------------ */

static void sig_completed(struct mg_term *t, const struct sig_req *s,
			  const char *meth)
{
	bool want = !strcmp(meth, "TO") ? s->nc_to : !strcmp(meth, "EV") ?
		s->nc_ibe : !strcmp(meth, "SD") ? s->nc_ibs : s->nc_or;

	/* E.1.2: g/sc SigID, Meth (TO, EV, SD, NC) */
	if (want)
		detect_named(t, "g/sc", "SigID", s->name, "Meth", meth);
}

/* What the active signals play, into the termination's media state. */
static void sig_media(struct mg_term *t)
{
	enum media_tone tone = MEDIA_TONE_COUNT;
	unsigned hz = 0, i;
	bool cot = false, rsp = false;

	for (i = 0; i < t->sg.n; i++) {
		const struct sig_req *s = &t->sg.sig[i];

		if (s->done)
			continue;
		if (s->kind == SK_TONE)
			tone = s->tone;
		else if (s->kind == SK_CT)
			cot = true;
		else if (s->kind == SK_RSP)
			rsp = true;
	}
	if (t->pt_sig >= 0 && !t->pt_gap) {
		const struct sig_req *s = &t->sg.sig[t->pt_sig];
		const struct pt_step *p = &s->pt[t->pt_step];

		if (p->tone != MEDIA_TONE_COUNT) {
			tone = p->tone;
			hz = 0;
		} else if (p->hz) {
			tone = MEDIA_TONE_COUNT;
			hz = p->hz;
		}
	}
	if (tone != t->tone || hz != t->line_hz || cot != t->cot ||
	    rsp != t->rsp) {
		t->tone = tone;
		t->line_hz = hz;
		t->cot = cot;
		t->rsp = rsp;
		if (t->ctx)
			t->ctx->dirty = true;
	}
}

static void play_digits(struct mg_term *t, const char *digits)
{
	if (!t->ctx || !digits[0])
		return;
	snprintf(t->ctx->digits, sizeof(t->ctx->digits), "%s", digits);
	t->ctx->digits_seq++;
	t->ctx->dirty = true;
}

/* The step of the pt playing (or the gap after it) has begun. */
static void pt_tick(void *arg);

static void pt_start_step(struct mg_term *t)
{
	struct sig_req *s = &t->sg.sig[t->pt_sig];
	const struct pt_step *p = &s->pt[t->pt_step];
	unsigned ms = s->dur_ms ? s->dur_ms : p->digit ? PT_DIGIT_MS :
		PT_TONE_MS;

	if (p->digit) {
		char d[2] = { p->digit, '\0' };

		play_digits(t, d);
	}
	gw_tmr_start(&t->pt_tmr, ms, pt_tick, t);
}

static void pt_tick(void *arg)
{
	struct mg_term *t = arg;
	struct mg_ctx *c = t->ctx;
	struct sig_req *s;
	uint32_t cid = c ? c->id : 0;

	if (t->pt_sig < 0)
		return;
	s = &t->sg.sig[t->pt_sig];
	if (!t->pt_gap && s->ind_ms && t->pt_step + 1 < s->npt) {
		/* E.3 ind: the time between two tones */
		t->pt_gap = true;
		gw_tmr_start(&t->pt_tmr, s->ind_ms, pt_tick, t);
	} else if (t->pt_step + 1 < s->npt) {
		t->pt_gap = false;
		t->pt_step++;
		pt_start_step(t);
	} else {
		/* the list is played out: the signal completed */
		s->done = true;
		t->pt_sig = -1;
		sig_media(t);
		sig_completed(t, s, "TO");
	}
	sig_media(t);
	if (c && (c = ctx_find(t->m, cid)) && c->dirty)
		ctx_apply(c);
}

/* ct/ct (E.10.5): the check tone is back. */
static void cot_back(struct mg_term *t)
{
	unsigned i;

	for (i = 0; i < t->sg.n; i++) {
		struct sig_req *s = &t->sg.sig[i];

		if (s->kind != SK_CT || s->done)
			continue;
		s->done = true;
		sig_media(t);
		detect_named(t, "ct/cmp", "res", "success", NULL, NULL);
		return;
	}
}

/*
 * Stop the signals (all of them, or those not KeepActive): g/sc for
 * each that asked for it, with meth; a continuity test stopped before
 * its tone came back failed (E.10.5).
 */
static void signals_stop(struct mg_term *t, const char *meth, bool keep_ka)
{
	struct sig_set old = t->sg;
	unsigned i, n = 0;
	bool pt_kept = false;

	t->sg.n = 0;
	for (i = 0; i < old.n; i++) {
		if (keep_ka && old.sig[i].keepactive) {
			if ((int)i == t->pt_sig) {
				t->pt_sig = (int)n;
				pt_kept = true;
			}
			t->sg.sig[t->sg.n++] = old.sig[i];
			old.sig[i].done = true;	/* not reported */
			continue;
		}
		n++;
	}
	if (!pt_kept) {
		t->pt_sig = -1;
		gw_tmr_cancel(&t->pt_tmr);
	}
	if (!t->sg.n)
		gw_tmr_cancel(&t->sig_tmr);
	sig_media(t);
	for (i = 0; i < old.n; i++) {
		const struct sig_req *s = &old.sig[i];

		if (s->done)
			continue;
		if (s->kind == SK_CT)
			detect_named(t, "ct/cmp", "res", "failure", NULL,
				     NULL);
		if (s->type != MG_TOK_BRIEF || s->kind == SK_PT)
			sig_completed(t, s, meth);
	}
}

static void sig_timeout(void *arg)
{
	struct mg_term *t = arg;
	struct mg_ctx *c = t->ctx;
	uint32_t cid = c ? c->id : 0;

	signals_stop(t, "TO", false);
	if (c && (c = ctx_find(t->m, cid)) && c->dirty)
		ctx_apply(c);
}

/* A new Signals descriptor replaces the one active (s.7.1.11). */
static void sig_apply(struct mg_term *t, const struct sig_set *ss)
{
	char digits[64] = "";
	unsigned i, to_ms = 0;

	signals_stop(t, "SD", false);
	t->sg = *ss;
	t->pt_sig = -1;
	t->pt_gap = false;
	for (i = 0; i < t->sg.n; i++) {
		struct sig_req *s = &t->sg.sig[i];
		size_t k = strlen(digits);

		s->done = false;
		if (s->kind == SK_DIGIT && k + 1 < sizeof(digits)) {
			digits[k] = s->digit;
			digits[k + 1] = '\0';
		} else if (s->kind == SK_CT) {
			t->cot_seq++;		/* a new test */
		} else if (s->kind == SK_PT && t->pt_sig < 0) {
			t->pt_sig = (int)i;
			t->pt_step = 0;
		}
		if (s->type == MG_TOK_TIMEOUT && s->dur_ms > to_ms)
			to_ms = s->dur_ms;
	}
	if (to_ms)
		gw_tmr_start(&t->sig_tmr, to_ms, sig_timeout, t);
	play_digits(t, digits);
	if (t->pt_sig >= 0)
		pt_start_step(t);
	sig_media(t);
}

/* ------------------------------------------------------------------ */
/* Digit collection (dd/ce with a digit map, s.7.1.14, E.6)           */
/* ------------------------------------------------------------------ */

static void dc_result(struct mg_term *t, enum mg_dcoll_res r,
		      unsigned timer_ms);

static void dc_timeout(void *arg)
{
	struct mg_term *t = arg;
	struct mg_ctx *c = t->ctx;
	uint32_t cid = c ? c->id : 0;
	unsigned ms = 0;

	if (t->dc) {
		enum mg_dcoll_res r = mg_dcoll_timeout(t->dc, &ms);

		dc_result(t, r, ms);
	}
	if (c && (c = ctx_find(t->m, cid)) && c->dirty)
		ctx_apply(c);
}

static void dc_result(struct mg_term *t, enum mg_dcoll_res r,
		      unsigned timer_ms)
{
	static const char *const meth[] = { NULL, "UM", "PM", "FM" };
	char ds[80];

	if (r == MG_DCOLL_WAIT) {
		gw_tmr_start(&t->dc_tmr, timer_ms, dc_timeout, t);
		return;
	}
	gw_tmr_cancel(&t->dc_tmr);
	snprintf(ds, sizeof(ds), "%s", mg_dcoll_string(t->dc));
	t->dc = gw_mem_deref(t->dc);
	detect_named(t, "dd/ce", "ds", ds, "Meth", meth[r]);
}

static void on_digit(struct mg_term *t, char digit, unsigned ms)
{
	char name[8], id[4], sym = mg_dmap_symbol(digit);
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
	dtmf_id(id, sizeof(id), digit);
	snprintf(name, sizeof(name), "dd/%s", id);
	detect_named(t, name, NULL, NULL, NULL, NULL);
	/* ... and as a tone (E.4 through E.6), known at its end */
	detect_tone(t, "std", id, 0);
	detect_tone(t, "etd", id, ms);
	detect_tone(t, "ltd", id, ms);
}

static void ltd_fire(void *arg)
{
	struct mg_term *t = arg;
	struct mg_ctx *c = t->ctx;
	uint32_t cid = c ? c->id : 0;

	if (!t->tone_on[0])
		return;
	detect_tone(t, "ltd", t->tone_on,
		    (unsigned)(gw_now_ms() - t->tone_since));
	if (c && (c = ctx_find(t->m, cid)) && c->dirty)
		ctx_apply(c);
}

/* A fax or modem signal from the line starts (E.4 std; ltd armed for
 * the shortest duration asked of it). */
static void tone_start(struct mg_term *t, const char *tid)
{
	struct ev_set *es = t->lockstep && t->suspended ? &t->ebuf : &t->ev;
	unsigned i, min = 0;

	snprintf(t->tone_on, sizeof(t->tone_on), "%s", tid);
	t->tone_since = gw_now_ms();
	gw_tmr_cancel(&t->ltd_tmr);
	for (i = 0; i < es->n; i++) {
		const struct ev_req *r = &es->ev[i];

		if ((!strcmp(r->name, "tonedet/ltd") ||
		     (!strcmp(r->name, "cd/ltd") && cd_id(tid) == 1)) &&
		    tl_has(r, tid) &&
		    (!min || r->dur_ms < min))
			min = r->dur_ms ? r->dur_ms : 1;
	}
	if (min)
		gw_tmr_start(&t->ltd_tmr, min, ltd_fire, t);
	detect_tone(t, "std", tid, 0);
}

static void tone_end(struct mg_term *t, const char *tid, unsigned ms)
{
	if (!strcmp(t->tone_on, tid)) {
		t->tone_on[0] = '\0';
		gw_tmr_cancel(&t->ltd_tmr);
	}
	detect_tone(t, "etd", tid, ms);
}

static void on_media_ev(enum mg_cm_ev ev, char digit, unsigned ms, void *arg)
{
	struct mg_ctx *c = arg;
	struct mg_term *td = ctx_term(c, TERM_TDM), *rt = ctx_term(c, TERM_RTP);
	struct mg_model *m = c->m;
	uint32_t cid = c->id;
	unsigned k = (unsigned char)digit;

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
		if (rt)
			detect_named(rt, "nt/netfail", "cs",
				     "\"RTP timeout\"", NULL, NULL);
		break;
	case MG_CM_FAX:
		if (td && k < GW_ARRAY_SIZE(fax_ids))
			tone_start(td, fax_ids[k]);
		break;
	case MG_CM_FAX_END:
		if (td && k < GW_ARRAY_SIZE(fax_ids))
			tone_end(td, fax_ids[k], ms);
		break;
	case MG_CM_COT:
		if (td)
			cot_back(td);
		break;
	case MG_CM_CPD:
		/* E.8: the tone as an event of its own, and as a tone */
		if (td && k < MEDIA_TONE_COUNT && cd_ids[k]) {
			char name[16];

			snprintf(name, sizeof(name), "cd/%s", cd_ids[k]);
			detect_named(td, name, NULL, NULL, NULL, NULL);
			c = ctx_find(m, cid);
			td = c ? ctx_term(c, TERM_TDM) : NULL;
			if (td)
				tone_start(td, cd_ids[k]);
		}
		break;
	case MG_CM_CPD_END:
		if (td && k < MEDIA_TONE_COUNT && cd_ids[k])
			tone_end(td, cd_ids[k], ms);
		break;
	case MG_CM_FAILED:
		if (rt)
			detect_named(rt, "nt/netfail", "cs",
				     "\"media failure\"", NULL, NULL);
		break;
	}
	/* an embedded descriptor may have changed the media */
	c = ctx_find(m, cid);
	if (c && c->dirty)
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

/* The packages we implement, with their versions (H.248.1 s.6.2.3). */
static const char *const packages[] = {
	"g", "root", "tonegen", "tonedet", "dg", "dd", "cg", "cd", "ct", "nt",
	"rtp", "tdmc", "it", NULL,
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

static bool tone_event(const char *name)
{
	const char *evt = strchr(name, '/');

	return (!strncmp(name, "tonedet/", 8) || !strncmp(name, "dd/", 3) ||
		!strncmp(name, "cd/", 3)) &&
		evt && (!strcmp(evt, "/std") || !strcmp(evt, "/etd") ||
			!strcmp(evt, "/ltd"));
}

/* 0, or 451 (no such event), 512 (one we cannot detect here). */
static unsigned event_check(const struct mg_term *t, const char *name)
{
	static const char *const any_ev[] = { "g/sc", "dd/ce", NULL };

	unsigned i;

	if (!strncmp(name, "dd/", 3) && dtmf_of(name + 3))
		return 0;
	if (tone_event(name))
		return 0;
	for (i = 0; any_ev[i]; i++)
		if (!strcmp(any_ev[i], name))
			return 0;
	if (!strcmp(name, "ct/cmp"))
		return t->kind == TERM_TDM ? 0 : 512;
	/* E.8: tones from the line, those of the plan */
	if (!strncmp(name, "cd/", 3) && cd_id(name + 3))
		return cd_id(name + 3) == 1 && t->kind == TERM_TDM ? 0 : 512;
	if (!strcmp(name, "nt/netfail"))
		return t->kind == TERM_RTP ? 0 : 512;
	if (!strcmp(name, "nt/qualert") || !strcmp(name, "rtp/pltrans") ||
	    !strncmp(name, "it/", 3))
		return 512;
	return 451;
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

/* E.4 tl of a tone event: ids we detect on this termination. */
static int tl_parse(const struct mg_term *t, struct ev_req *r,
		    const struct mg_item *p, struct cmd_err *e)
{
	bool dd = !strncmp(r->name, "dd/", 3);
	bool cd = !strncmp(r->name, "cd/", 3);
	unsigned k;

	for (k = 0; k < p->nval; k++) {
		char id[TID_LEN];

		if (r->ntl == TL_MAX)
			return fail(e, 449, "%s: too many tone ids", r->name);
		tid_norm(id, word_str(&p->val[k]));
		if (!id[0] || (strcmp(id, "*") && !dtmf_of(id) &&
			       (dd || (!fax_id(id) && !cd_id(id)))) ||
		    (cd && strcmp(id, "*") && !cd_id(id)))
			return fail(e, 449, "%s: unknown tone id '%s'",
				    r->name, word_str(&p->val[k]));
		if (cd_id(id) == 2)
			return fail(e, 512, "%s: no %s in the tone plan",
				    r->name, id);
		if ((fax_id(id) || cd_id(id)) && t->kind != TERM_TDM)
			return fail(e, 512, "%s: %s is detected on the line "
				    "side only", r->name, id);
		snprintf(r->tl[r->ntl++], TID_LEN, "%s", id);
	}
	return 0;
}

static int sig_parse(struct mg_term *t, const struct mg_item *it,
		     struct sig_set *ss, struct cmd_err *e);
static int ev_parse(struct mg_term *t, const struct mg_item *it,
		    struct ev_set *es, int level, struct cmd_err *e);

/* One requested event; level 0 in a command, 1 embedded, 2 in an
 * EventBuffer descriptor (no embedding there). */
static int ev_one(struct mg_term *t, const struct mg_item *ev,
		  struct ev_req *r, int level, struct cmd_err *e)
{
	const struct mg_item *p, *k;
	unsigned code;
	int rc;

	if (!ev->name)
		return fail(e, 445, "unexpected in Events");
	lower(r->name, ev->name, sizeof(r->name));
	if (!pkg_known(r->name))
		return fail(e, 440, "Unsupported or unknown Package '%s'",
			    ev->name);
	if ((code = event_check(t, r->name)))
		return fail(e, code, code == 512 ? "MG unequipped to detect "
			    "'%s' on %s" : "No such event in this package: "
			    "'%s'", ev->name, t->name);
	for (p = ev->kids; p; p = p->next) {
		if (p->tok == MG_TOK_KEEPACTIVE) {
			r->keepactive = true;
		} else if (p->tok == MG_TOK_DIGITMAP) {
			if (p->text) {
				char err[120];

				if (mg_dmap_parse(&r->dm, p->text, err,
						  sizeof(err)))
					return fail(e, 449, "DigitMap: %s",
						    err);
			} else if (item_val(p) &&
				   (r->dm = dmap_named(t, item_val(p)))) {
				gw_mem_ref(r->dm);
			} else {
				return fail(e, 520, "DigitMap '%s' undefined",
					    item_val(p) ? item_val(p) : "");
			}
		} else if (p->tok == MG_TOK_EMBED) {
			if (level == 2)
				return fail(e, 447, "Embedded descriptors in "
					    "an EventBuffer");
			for (k = p->kids; k; k = k->next) {
				if (k->tok == MG_TOK_SIGNALS && !r->em_sg) {
					r->em_sg = calloc(1, sizeof(
							  *r->em_sg));
					if (!r->em_sg)
						return fail(e, 500, "out of "
							    "memory");
					rc = sig_parse(t, k, r->em_sg, e);
				} else if (k->tok == MG_TOK_EVENTS &&
					   level == 0 && !r->em_ev) {
					r->em_ev = calloc(1, sizeof(
							  *r->em_ev));
					if (!r->em_ev)
						return fail(e, 500, "out of "
							    "memory");
					rc = ev_parse(t, k, r->em_ev, 1, e);
				} else {
					/* s.7.1.9: one level of embedding */
					rc = fail(e, 447, "Embedded Events in "
						  "embedded Events");
				}
				if (rc)
					return rc;
			}
		} else if (p->tok) {
			/* NeverNotify, ResetEvents, ... */
		} else if (tone_event(r->name) && p->name &&
			   !strcasecmp(p->name, "tl")) {
			if ((rc = tl_parse(t, r, p, e)))
				return rc;
		} else if (!strcmp(r->name + strcspn(r->name, "/"), "/ltd") &&
			   p->name && !strcasecmp(p->name, "dur") &&
			   item_val(p)) {
			r->dur_ms = (unsigned)strtoul(item_val(p), NULL, 10);
		} else {
			return fail(e, 454, "No such parameter '%s' in event "
				    "%s", p->name ? p->name : "?", ev->name);
		}
	}
	if (!strcmp(r->name, "dd/ce") && !r->dm && level != 2)
		return fail(e, 457, "dd/ce needs a DigitMap");
	if (!strcmp(r->name + strcspn(r->name, "/"), "/ltd") && !r->dur_ms)
		return fail(e, 457, "%s needs dur", ev->name);
	return 0;
}

static int ev_parse(struct mg_term *t, const struct mg_item *it,
		    struct ev_set *es, int level, struct cmd_err *e)
{
	const struct mg_item *ev;
	const char *rid = item_val(it);
	int rc;

	memset(es, 0, sizeof(*es));
	for (ev = it->kids; ev; ev = ev->next) {
		if (es->n == EV_MAX) {
			rc = fail(e, 518, "too many events");
			goto out;
		}
		rc = ev_one(t, ev, &es->ev[es->n], level, e);
		es->n++;		/* what it holds is released below */
		if (rc)
			goto out;
	}
	es->armed = rid != NULL;
	es->rid = rid ? (uint32_t)strtoul(rid, NULL, 10) : 0;
	return 0;
 out:
	ev_set_clear(es);
	return rc;
}

/* Make es (taken over, left empty) the active Events descriptor. */
static void ev_install(struct mg_term *t, struct ev_set *es)
{
	unsigned i, timer = 0;

	ev_set_clear(&t->ev);
	t->ev = *es;
	memset(es, 0, sizeof(*es));
	gw_tmr_cancel(&t->dc_tmr);
	t->dc = gw_mem_deref(t->dc);
	if (t->ctx)
		t->ctx->dirty = true;
	for (i = 0; i < t->ev.n; i++) {
		enum mg_dcoll_res r;

		if (strcmp(t->ev.ev[i].name, "dd/ce"))
			continue;
		if (mg_dcoll_alloc(&t->dc, t->ev.ev[i].dm)) {
			GW_ERR("%s: no digit collection: out of memory",
			       t->name);
			break;
		}
		r = mg_dcoll_start(t->dc, &timer);
		dc_result(t, r, timer);
		break;
	}
	events_activated(t);
}

static int events_desc(struct mg_term *t, const struct mg_item *it,
		       struct cmd_err *e)
{
	struct ev_set *es = malloc(sizeof(*es));
	int rc;

	if (!es)
		return fail(e, 500, "out of memory");
	rc = ev_parse(t, it, es, 0, e);
	if (!rc)
		ev_install(t, es);	/* replaces what was armed */
	free(es);
	return rc;
}

/* EventBuffer (s.7.1.10): the events held while LockStep waits; an
 * empty one clears the buffer and holds nothing more. */
static int eventbuffer_desc(struct mg_term *t, const struct mg_item *it,
			    struct cmd_err *e)
{
	struct ev_set *es = malloc(sizeof(*es));
	int rc;

	if (!es)
		return fail(e, 500, "out of memory");
	rc = ev_parse(t, it, es, 2, e);
	if (!rc) {
		ev_set_clear(&t->ebuf);
		t->ebuf = *es;
		t->ebuf.armed = false;
		if (!t->ebuf.n)
			t->nq = 0;
		if (t->ctx)
			t->ctx->dirty = true;
	}
	free(es);
	return rc;
}

/* E.3 tl of a pt: the tones a package (tonegen: all of ours) plays. */
static int pt_parse(const struct mg_term *t, struct sig_req *r,
		    const struct mg_item *p, struct cmd_err *e)
{
	bool any = !strncmp(r->name, "tonegen/", 8);
	bool cg = any || !strncmp(r->name, "cg/", 3);
	bool dg = any || !strncmp(r->name, "dg/", 3);
	unsigned k, i;

	(void)t;
	for (k = 0; k < p->nval; k++) {
		struct pt_step *s = &r->pt[r->npt];
		char id[TID_LEN], full[TID_LEN + 4];

		if (r->npt == PT_MAX)
			return fail(e, 449, "%s: too many tones", r->name);
		tid_norm(id, word_str(&p->val[k]));
		snprintf(full, sizeof(full), "cg/%s", id);
		s->tone = MEDIA_TONE_COUNT;
		for (i = 0; cg && i < GW_ARRAY_SIZE(cg_tones); i++)
			if (!strcmp(cg_tones[i].name, full))
				s->tone = cg_tones[i].tone;
		for (i = 0; cg && cg_unequipped[i]; i++)
			if (!strcmp(cg_unequipped[i], full))
				return fail(e, 513, "%s: no %s tone "
					    "provisioned", r->name, id);
		if (s->tone == MEDIA_TONE_COUNT) {
			if (dg && dtmf_of(id))
				s->digit = dtmf_of(id);
			else if (any && !strcmp(id, "mwt"))
				s->hz = 1004;
			else if (any && !strcmp(id, "cot"))
				s->hz = MG_COT_HZ;
			else
				return fail(e, 449, "%s: unknown tone id "
					    "'%s'", r->name,
					    word_str(&p->val[k]));
		}
		r->npt++;
	}
	return 0;
}

/* One requested signal into r. */
static int sig_one(struct mg_term *t, const struct mg_item *sig,
		   struct sig_req *r, struct cmd_err *e)
{
	const struct mg_item *p;
	const char *evt;
	unsigned i, k;
	int rc;

	if (!sig->name)
		return fail(e, 445, "unexpected in Signals");
	lower(r->name, sig->name, sizeof(r->name));
	if (!pkg_known(r->name))
		return fail(e, 440, "Unsupported or unknown Package '%s'",
			    sig->name);
	evt = r->name + strcspn(r->name, "/");
	r->type = MG_TOK_ONOFF;
	r->tone = MEDIA_TONE_COUNT;
	if ((r->digit = dg_digit(r->name))) {
		r->kind = SK_DIGIT;
		r->type = MG_TOK_BRIEF;
	} else if (!strcmp(evt, "/pt") && (!strncmp(r->name, "tonegen/", 8) ||
					   !strncmp(r->name, "cg/", 3) ||
					   !strncmp(r->name, "dg/", 3))) {
		/* E.3, inherited by cg (E.7) and dg (E.5) */
		r->kind = SK_PT;
		r->type = MG_TOK_BRIEF;
	} else if (!strcmp(r->name, "ct/ct")) {
		r->kind = SK_CT;		/* E.10.3 */
		r->type = MG_TOK_TIMEOUT;
		r->dur_ms = COT_MS;
	} else if (!strcmp(r->name, "ct/rsp")) {
		r->kind = SK_RSP;
	} else {
		for (i = 0; cg_unequipped[i]; i++)
			if (!strcmp(cg_unequipped[i], r->name))
				return fail(e, 513, "MG unequipped to generate "
					    "%s: no such tone provisioned",
					    sig->name);
		for (i = 0; i < GW_ARRAY_SIZE(cg_tones); i++)
			if (!strcmp(cg_tones[i].name, r->name))
				break;
		if (i == GW_ARRAY_SIZE(cg_tones))
			return fail(e, 452, "No such signal in this package: "
				    "'%s'", sig->name);
		r->kind = SK_TONE;
		r->tone = cg_tones[i].tone;
	}
	/* toward the line; cg tones also toward the IP side (a ringback
	 * for a caller there) */
	if (t->kind != TERM_TDM && (r->kind != SK_TONE || t->kind != TERM_RTP))
		return fail(e, 513, "MG unequipped to generate %s on %s: "
			    "only cg tones are played toward the IP side",
			    sig->name, t->name);
	for (p = sig->kids; p; p = p->next) {
		switch (p->tok) {
		case MG_TOK_SIGNALTYPE:
			r->type = p->val[0].tok;
			break;
		case MG_TOK_DURATION:
			r->dur_ms = (unsigned)atoi(item_val(p));
			break;
		case MG_TOK_NOTIFYCOMPLETION:
			for (k = 0; k < p->nval; k++) {
				enum mg_tok nc = p->val[k].tok;

				r->nc_to |= nc == MG_TOK_TIMEOUT;
				r->nc_ibe |= nc == MG_TOK_INTBYEVENT;
				r->nc_ibs |= nc == MG_TOK_INTBYSIGDESCR;
				r->nc_or |= nc == MG_TOK_OTHERREASON;
			}
			break;
		case MG_TOK_KEEPACTIVE:
			r->keepactive = true;
			break;
		case MG_TOK_NONE:
			if (r->kind == SK_PT && p->name &&
			    !strcasecmp(p->name, "tl")) {
				if ((rc = pt_parse(t, r, p, e)))
					return rc;
			} else if (r->kind == SK_PT && p->name &&
				   !strcasecmp(p->name, "ind") &&
				   item_val(p)) {
				r->ind_ms = (unsigned)atoi(item_val(p));
			} else {
				return fail(e, 454, "No such parameter '%s' "
					    "in signal %s", p->name ?
					    p->name : "?", sig->name);
			}
			break;
		default:
			break;
		}
	}
	if (r->kind == SK_PT && !r->npt)
		return fail(e, 457, "%s needs tl", sig->name);
	if (r->type == MG_TOK_TIMEOUT && !r->dur_ms)
		r->dur_ms = 30000;	/* provisioned */
	return 0;
}

static int sig_parse(struct mg_term *t, const struct mg_item *it,
		     struct sig_set *ss, struct cmd_err *e)
{
	const struct mg_item *s, *lst;
	int rc;

	memset(ss, 0, sizeof(*ss));
	for (s = it->kids; s; s = s->next) {
		/* a SignalList plays its signals in turn: digits only */
		lst = s->tok == MG_TOK_SIGNALLIST ? s->kids : s;
		for (; lst; lst = s->tok == MG_TOK_SIGNALLIST ? lst->next :
		     NULL) {
			if (ss->n == SIG_MAX)
				return fail(e, 449, "too many signals");
			rc = sig_one(t, lst, &ss->sig[ss->n], e);
			if (rc)
				return rc;
			ss->n++;
		}
	}
	return 0;
}

static int signals_desc(struct mg_term *t, const struct mg_item *it,
			struct cmd_err *e)
{
	struct sig_set *ss = malloc(sizeof(*ss));
	int rc;

	if (!ss)
		return fail(e, 500, "out of memory");
	rc = sig_parse(t, it, ss, e);
	if (!rc && ss->n && !t->ctx)
		/* no media outside a context */
		rc = fail(e, 513, "signals need the termination in a "
			  "context");
	if (!rc)
		sig_apply(t, ss);	/* stops what played (s.7.1.11) */
	free(ss);
	return rc;
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

/* EventBufferControl (s.7.1.5, s.7.1.9): Off discards what the buffer
 * holds and resumes normal handling. */
static void buffer_control(struct mg_term *t, bool lockstep)
{
	t->lockstep = lockstep;
	if (!lockstep) {
		t->nq = 0;
		t->suspended = false;
	}
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
				if (s->tok == MG_TOK_SERVICESTATES) {
					t->oos = s->val[0].tok ==
						MG_TOK_OUTOFSERVICE;
					t->sc_at = 0;
					t->sc_graceful = false;
				}
				else if (s->tok == MG_TOK_BUFFER)
					buffer_control(t, s->val[0].tok ==
						       MG_TOK_LOCKSTEP);
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
			rc = eventbuffer_desc(t, it, e);
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

/* Whether a comes before b in the order wildcard matches are listed:
 * TDM (by span, then timeslot) before RTP (the newest first). */
static bool term_before(const struct mg_model *m, const struct mg_term *a,
			const struct mg_term *b)
{
	unsigned i;

	if (a->kind != b->kind)
		return a->kind != TERM_RTP;
	if (a->kind == TERM_RTP)
		return a->rtp_no > b->rtp_no;
	if (a->sp == b->sp)
		return a->ts < b->ts;
	for (i = 0; i < m->nspans && m->spans[i] != a->sp; i++)
		if (m->spans[i] == b->sp)
			return false;
	return true;
}

static bool term_pick(const struct mg_term *t, const struct mg_vmg *v,
		      const char *tid)
{
	return t && (!v || t->vmg == v) && term_match(t, tid);
}

/* Room in the model's array of found terminations for one more after n;
 * false when it cannot grow. */
static bool found_room(struct mg_model *m, unsigned n)
{
	struct mg_term **a;
	unsigned room;

	if (n < m->found_room)
		return true;
	room = m->found_room ? 2 * m->found_room : 64;
	a = realloc(m->found, room * sizeof(*a));
	if (!a)
		return false;
	m->found = a;
	m->found_room = room;
	return true;
}

/* Terminations a command names: one, or a wildcard's matches in ctx (or
 * in any context), in the order of term_before, however many the MG has
 * (ServiceChange on ROOT names them all); *np of them in an array of the
 * model's, good until the next call.  NULL when it cannot grow. */
static struct mg_term **resolve(struct mg_model *m, struct mg_vmg *v,
				const char *tid, struct mg_ctx *ctx,
				bool any_ctx, unsigned *np)
{
	struct mg_term *t, **out;
	unsigned n = 0, k, j;

	*np = 0;
	if (!found_room(m, TERMS_PER_CTX))
		return NULL;
	out = m->found;
	if (!strchr(tid, '*') && !strchr(tid, '$')) {
		t = term_find(m, v, tid);
		if (t)
			out[n++] = t;
		*np = n;
		return out;
	}
	if (!any_ctx && ctx) {
		/* A context's own few, not every termination of the MG. */
		for (k = 0; k < TERMS_PER_CTX; k++)
			if (term_pick(ctx->t[k], v, tid))
				out[n++] = ctx->t[k];
		for (k = 1; k < n; k++)
			for (j = k; j && term_before(m, out[j], out[j - 1]);
			     j--) {
				t = out[j];
				out[j] = out[j - 1];
				out[j - 1] = t;
			}
		*np = n;
		return out;
	}
	for (k = 0; k < m->nspans * 32u; k++) {
		t = m->spans[k / 32]->ts[k % 32];
		if (term_pick(t, v, tid) && (any_ctx || t->ctx == ctx)) {
			if (!found_room(m, n))
				return NULL;
			m->found[n++] = t;
		}
	}
	for (t = m->rtp; t; t = t->next)
		if (term_pick(t, v, tid) && (any_ctx || t->ctx == ctx)) {
			if (!found_room(m, n))
				return NULL;
			m->found[n++] = t;
		}
	*np = n;
	return m->found;
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
	/* s.11.4: going out of service with a Delay, no new call
	 * (H.248.8 521) */
	if (m->drain.on)
		return fail(e, 521, "the MG is ServiceChanging (Graceful)");
	if (!strcmp(cmd->tid, "$") || !strncasecmp(cmd->tid, "rtp/", 4)) {
		if (strcmp(cmd->tid, "$") && strcasecmp(cmd->tid, "rtp/$"))
			return fail(e, 430, "Unknown TerminationID '%s'",
				    cmd->tid);
		t = rtp_new(m, x->vmg, e);
		if (!t)
			return (int)e->code;
		created_t = true;
	} else if (strchr(cmd->tid, '$')) {
		struct mg_term **v;
		unsigned n, i;

		v = resolve(m, x->vmg, cmd->tid, NULL, false, &n);
		if (!v)
			return fail(e, 500, "out of memory");

		for (i = 0; i < n; i++)
			if (!term_oos(v[i]) && !v[i]->sc_graceful &&
			    v[i]->sp->up)
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
		if (term_oos(t) || !t->sp->up)
			return fail(e, 531, "Permanent network failure: "
				    "'%s' out of service", cmd->tid);
		if (t->sc_graceful)
			return fail(e, 521, "Termination '%s' is "
				    "ServiceChanging", cmd->tid);
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
	struct mg_term **v;
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
	v = resolve(x->m, x->vmg, cmd->tid, c, false, &n);
	if (!v)
		return fail(e, 500, "out of memory");
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
	struct mg_term **v;
	unsigned n, i;
	bool have_audit, empty;

	if (is_root(cmd->tid))
		return fail(e, 410, "Incorrect identifier: ROOT in Subtract");
	if (!c)
		return fail(e, 422, "Subtract from the NULL context");
	v = resolve(x->m, x->vmg, cmd->tid, c, false, &n);
	if (!v)
		return fail(e, 500, "out of memory");
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

/* An Events or EventBuffer descriptor as the MG holds it (s.7.2.5). */
static void audit_events(struct exec *x, struct mg_cmd *r, enum mg_tok tok,
			 const struct ev_set *es)
{
	struct mg_msg *msg = x->reply;
	struct mg_item *ev = mg_item_add(msg, &r->desc, tok, NULL), *e;
	unsigned i;

	if (ev && es->armed)
		mg_item_set(msg, ev, 0, "%" PRIu32, es->rid);
	for (i = 0; ev && i < es->n; i++) {
		const struct ev_req *q = &es->ev[i];

		e = mg_item_add(msg, &ev->kids, MG_TOK_NONE, q->name);
		if (e && q->ntl == 1)
			mg_item_set(msg, mg_item_add(msg, &e->kids,
						     MG_TOK_NONE, "tl"),
				    0, "%s", q->tl[0]);
		if (e && q->dur_ms)
			mg_item_set(msg, mg_item_add(msg, &e->kids,
						     MG_TOK_NONE, "dur"),
				    0, "%u", q->dur_ms);
		if (e && q->keepactive)
			mg_item_add(msg, &e->kids, MG_TOK_KEEPACTIVE, NULL);
	}
	if (!ev)
		x->oom = true;
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
			    term_oos(t) || (t->sp && !t->sp->up) ?
			    MG_TOK_OUTOFSERVICE : MG_TOK_INSERVICE, NULL);
		mg_item_set(msg, mg_item_add(msg, ts ? &ts->kids : NULL,
					     MG_TOK_BUFFER, NULL),
			    t->lockstep ? MG_TOK_LOCKSTEP : MG_TOK_OFF, NULL);
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
	if (!caps && audit_wants(cmd, MG_TOK_EVENTS))
		audit_events(x, r, MG_TOK_EVENTS, &t->ev);
	if (!caps && audit_wants(cmd, MG_TOK_EVENTBUFFER))
		audit_events(x, r, MG_TOK_EVENTBUFFER, &t->ebuf);
	if (!caps && audit_wants(cmd, MG_TOK_SIGNALS)) {
		struct mg_item *sg = mg_item_add(msg, &r->desc,
						 MG_TOK_SIGNALS, NULL);
		unsigned i;

		for (i = 0; sg && i < t->sg.n; i++)
			if (!t->sg.sig[i].done)
				mg_item_add(msg, &sg->kids, MG_TOK_NONE,
					    t->sg.sig[i].name);
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
			"dd/dd", "dd/ce", "g/sc", "tonedet/std", "tonedet/etd",
			"tonedet/ltd", "dd/std", "dd/etd", "dd/ltd", NULL };
		static const char *const sigs[] = { "tonegen/pt", "cg/pt",
			"dg/pt", "ct/ct", "ct/rsp", NULL };
		unsigned i;

		for (i = 0; ev && dd[i]; i++)
			mg_item_add(msg, &ev->kids, MG_TOK_NONE, dd[i]);
		mg_item_add(msg, ev ? &ev->kids : NULL, MG_TOK_NONE,
			    t->kind == TERM_RTP ? "nt/netfail" : "ct/cmp");
		for (i = 0; ev && t->kind == TERM_TDM && i < 3; i++)
			mg_item_add(msg, &ev->kids, MG_TOK_NONE,
				    i == 0 ? "cd/std" : i == 1 ? "cd/etd" :
				    "cd/ltd");
		for (i = 0; ev && t->kind == TERM_TDM &&
		     i < GW_ARRAY_SIZE(cd_ids); i++) {
			char n[8];

			if (!cd_ids[i])
				continue;
			snprintf(n, sizeof(n), "cd/%s", cd_ids[i]);
			mg_item_add(msg, &ev->kids, MG_TOK_NONE, n);
		}
		for (i = 0; sg && t->kind == TERM_TDM &&
		     i < GW_ARRAY_SIZE(cg_tones); i++)
			mg_item_add(msg, &sg->kids, MG_TOK_NONE,
				    cg_tones[i].name);
		for (i = 0; sg && t->kind == TERM_TDM && i < 16; i++) {
			char n[8];

			snprintf(n, sizeof(n), "dg/d%c",
				 "0123456789soabcd"[i]);
			mg_item_add(msg, &sg->kids, MG_TOK_NONE, n);
		}
		for (i = 0; sg && t->kind == TERM_TDM && sigs[i]; i++)
			mg_item_add(msg, &sg->kids, MG_TOK_NONE, sigs[i]);
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
	struct mg_term **v;
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
	v = resolve(x->m, x->vmg, cmd->tid, c, all_ctx || !c, &n);
	if (!v)
		return fail(e, 500, "out of memory");
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
	struct mg_term **v;
	unsigned n, i, delay_s = 0;
	uint64_t at;

	for (p = cmd->desc; p; p = p->next)
		if (p->tok == MG_TOK_SERVICES)
			sv = p;
	for (p = sv ? sv->kids : NULL; p; p = p->next) {
		if (p->tok == MG_TOK_METHOD) {
			method = p->val[0].tok;
		} else if (p->tok == MG_TOK_MGCID) {
			mgcid = item_val(p);
		} else if (p->tok == MG_TOK_DELAY) {
			const char *d = item_val(p);
			char *end;
			unsigned long dl = d ? strtoul(d, &end, 10) : 0;

			if (!d || end == d || *end || dl > 86400)
				return fail(e, 449, "ServiceChangeDelay "
					    "'%s'", d ? d : "");
			delay_s = (unsigned)dl;
		}
	}
	if (!method)
		return fail(e, 442, "ServiceChange without Method");
	if (is_root(cmd->tid) && method == MG_TOK_HANDOFF) {
		/* s.11.5: HandOff to another MGC */
		if (!mgcid)
			return fail(e, 457, "HandOff without MgcIdToTry");
		cmd_reply(x, ra, cmd, "ROOT");
		mg_vmg_handoff(x->vmg, mgcid);
		return 0;
	}
	if (method != MG_TOK_FORCED && method != MG_TOK_GRACEFUL &&
	    method != MG_TOK_RESTART)
		return fail(e, 501, "ServiceChange %s from the MGC",
			    mg_tok_name(method, false));
	/* s.7.2.8, s.11.4: the MGC takes terminations out of service
	 * (Forced at once, their contexts cleared; Graceful: the calls in
	 * progress stay, no new one, out of service once out of its
	 * context or, with a ServiceChangeDelay, at its end, whichever is
	 * first) or puts them back (Restart: after the Delay, if any); on
	 * ROOT, every termination of this MG.  A null Delay (absent or 0)
	 * on Graceful: out of service only in the NULL context. */
	at = delay_s ? gw_now_ms() + delay_s * 1000ull : 0;
	v = resolve(x->m, x->vmg, is_root(cmd->tid) ? "*" : cmd->tid, NULL,
		    true, &n);
	if (!v)
		return fail(e, 500, "out of memory");
	if (!n && !is_root(cmd->tid))
		return fail(e, 430, "Unknown TerminationID '%s'", cmd->tid);
	for (i = 0; i < n; i++) {
		struct mg_term *t = v[i];
		bool tdm = t->kind == TERM_TDM;

		t->sc_graceful = false;
		t->sc_at = 0;
		if (method == MG_TOK_RESTART) {
			if (at) {
				t->sc_at = at;	/* in service then */
				t->sc_oos = false;
			} else {
				t->oos = false;
			}
			continue;
		}
		if (tdm && method == MG_TOK_GRACEFUL && !term_oos(t) &&
		    (t->ctx || at)) {
			/* still in service: the call goes on, nothing new */
			t->sc_graceful = true;
			t->sc_at = at;
			t->sc_oos = true;
		} else if (tdm) {
			t->oos = true;
		}
		if (t->ctx && method == MG_TOK_FORCED) {
			uint32_t cid = t->ctx->id;
			struct mg_ctx *c;

			term_remove(t);		/* an RTP one is gone */
			c = ctx_find(x->m, cid);
			if (c && c->dirty)
				ctx_apply(c);
		}
	}
	cmd_reply(x, ra, cmd, is_root(cmd->tid) ? "ROOT" : cmd->tid);
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
	m->drain.on = false;
	gw_tmr_cancel(&m->drain.tmr);
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
	free(m->found);
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
	gw_tmr_init(&m->drain.tmr);
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
	if (span_find(m, id))
		return EEXIST;
	if (m->nspans == MG_SPANS_MAX)
		return E2BIG;
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
			uint32_t cid;

			if (!t || !(c = t->ctx))
				continue;
			cid = c->id;
			term_remove(t);
			c = ctx_find(m, cid);
			if (c && c->dirty)
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

/* s.11.4: the MG goes out of service once no call is left, or the
 * Delay it announced has passed. */
static void drain_done(void *arg)
{
	struct mg_model *m = arg;

	if (m->drain.h)
		m->drain.h(m->drain.arg);
}

/* DRAIN_LAST_MS: for the last replies to go out, a Subtract's waiting
 * for its statistics from the media workers. */
#define DRAIN_LAST_MS	300

static void drain_check(struct mg_model *m)
{
	if (m->drain.on && !m->ctxs)
		gw_tmr_start(&m->drain.tmr, DRAIN_LAST_MS, drain_done, m);
}

int mg_model_drain(struct mg_model *m, mg_model_drained_h *h, void *arg)
{
	unsigned i, s, max_s = 0;

	if (m->drain.on)
		return EALREADY;
	for (i = 0; i < m->nvmg; i++) {
		s = mg_vmg_graceful(m->vmg[i]);
		max_s = s > max_s ? s : max_s;
	}
	if (!max_s)
		return ENOENT;
	m->drain.on = true;
	m->drain.h = h;
	m->drain.arg = arg;
	GW_INFO("going out of service: Graceful, %u s for %u context(s) "
		"to clear", max_s, m->nctx);
	gw_tmr_start(&m->drain.tmr, max_s * 1000ull, drain_done, m);
	drain_check(m);
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
