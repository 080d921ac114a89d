/* megaco/ctxmedia.c - a context's media, run on a media worker */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GW_LOG_MOD "mg"
#include "core.h"
#include "tdm.h"
#include "mg_int.h"

/*
 * The model (main thread) describes what a context's media should be in
 * a struct mg_cm_state and sends a copy after every change; the worker
 * makes it so (DESIGN.md, "Threads and clocks": commands one way, events
 * the other, nothing else shared).  On the worker a context is one
 * media_chan — with its RTP stream once the context has an RTP
 * termination, without one while only the TDM termination is there
 * (tones and digits during call set-up) — ticked by its timeslot's
 * frames.  A codec change re-creates the channel on the same port.
 *
 * Beside the channel, on the line's raw audio: the fax and modem
 * signal detector (start and end of each, for H.248.1 E.4 tonedet),
 * the call-progress tones of the configured plan (E.8, start and end),
 * the continuity test (E.10: the check tone out, a Goertzel detector
 * on what comes back), and tones of one frequency played over what the
 * channel sends (E.3 tonegen ids of our own).
 */

struct mg_cm {
	/* main thread */
	struct media_worker *wk;
	mg_cm_ev_h *h;
	void *arg;
	bool closed;
	struct gw_loop *main;
	/* worker thread */
	struct mg_cm_state cur;
	bool have;			/* cur is valid */
	struct tdm_chan *ch;		/* open, when the context has one */
	struct media_chan *chan;
	unsigned chan_gen;		/* what chan was made for */
	bool chan_rtp, chan_ec, chan_dtmf, chan_alaw;
	unsigned digits_seq;
	uint64_t frames;
	bool counted;
	struct media_tonedet *tonedet;	/* fax and modem signals */
	uint64_t fax_start[4];		/* frame each one started */
	struct media_cpd *cpd;		/* call-progress tones */
	unsigned cpd_country;
	struct media_tonegen *linegen;	/* raw tone to the line */
	unsigned linegen_hz;
	struct media_freqdet *cot_det[2];	/* 2010 Hz back, or 1780 */
	unsigned cot_seq;
	bool cot_back;			/* reported for this test */
};

struct cm_job {
	struct mg_cm *cm;		/* a reference */
	struct mg_cm_state st;
	mg_cm_stats_h *sh;
	void *sarg;
	struct mg_cm_stats stats;
};

struct cm_ev {
	struct mg_cm *cm;		/* a reference */
	enum mg_cm_ev ev;
	char digit;
	unsigned ms;
};

/* ---- worker -> main -------------------------------------------------- */

static void ev_run(void *arg)
{
	struct cm_ev *e = arg;

	if (!e->cm->closed && e->cm->h)
		e->cm->h(e->ev, e->digit, e->ms, e->cm->arg);
	gw_mem_deref(e->cm);
	gw_mem_deref(e);
}

static void ev_post(struct mg_cm *cm, enum mg_cm_ev ev, char digit,
		    unsigned ms)
{
	struct cm_ev *e = gw_mem_zalloc(sizeof(*e), NULL);

	if (!e)
		return;
	e->cm = gw_mem_ref(cm);
	e->ev = ev;
	e->digit = digit;
	e->ms = ms;
	if (gw_loop_post(cm->main, ev_run, e)) {
		gw_mem_deref(e->cm);
		gw_mem_deref(e);
	}
}

/* ---- on the worker --------------------------------------------------- */

static void on_chan(struct media_chan *c, enum media_chan_ev ev, char digit,
		    unsigned duration_ms, void *arg)
{
	struct mg_cm *cm = arg;

	(void)c;
	switch (ev) {
	case MEDIA_CHAN_DIGIT_TDM:
		ev_post(cm, MG_CM_DIGIT, digit, duration_ms);
		break;
	case MEDIA_CHAN_DIGIT_RTP:
		ev_post(cm, MG_CM_RTP_DIGIT, digit, duration_ms);
		break;
	case MEDIA_CHAN_RTP_TIMEOUT:
		ev_post(cm, MG_CM_RTP_TIMEOUT, 0, 0);
		break;
	case MEDIA_CHAN_FAX_TONE:
		ev_post(cm, MG_CM_FAX, digit, 0);
		break;
	}
}

static void on_fax_edge(enum media_tonedet_ev ev, bool on, void *arg)
{
	struct mg_cm *cm = arg;
	unsigned i = (unsigned)ev & 3;

	if (on) {
		cm->fax_start[i] = cm->frames;
		/* G.164/G.165: ANS with phase reversals asks for the echo
		 * canceller to go, so that the modems' own can work */
		if (ev == MEDIA_DET_ANS_PR && cm->chan)
			media_chan_ec(cm->chan, false);
		ev_post(cm, MG_CM_FAX, (char)ev, 0);
	} else {
		ev_post(cm, MG_CM_FAX_END, (char)ev, (unsigned)
			((cm->frames - cm->fax_start[i]) * MEDIA_TICK_MS));
	}
}

static void on_cpd(enum media_tone tone, bool on, unsigned ms, void *arg)
{
	struct mg_cm *cm = arg;

	ev_post(cm, on ? MG_CM_CPD : MG_CM_CPD_END, (char)tone, ms);
}

/* What the detectors beside the channel need: the line's audio as it
 * came, before the echo canceller. */
static void frame_detect(struct mg_cm *cm, const uint8_t *rx)
{
	const int16_t *tab = cm->cur.alaw ? media_alaw_to_lin :
		media_ulaw_to_lin;
	int16_t lin[TDM_FRAME_SAMPLES];
	unsigned i;
	bool back = false;

	for (i = 0; i < TDM_FRAME_SAMPLES; i++)
		lin[i] = tab[rx[i]];
	if (cm->tonedet) {
		gw_mem_ref(cm);
		media_tonedet_process(cm->tonedet, lin, TDM_FRAME_SAMPLES);
		gw_mem_deref(cm);
	}
	if (cm->cpd)
		media_cpd_process(cm->cpd, lin, TDM_FRAME_SAMPLES);
	for (i = 0; i < 2; i++)
		if (cm->cot_det[i] &&
		    media_freqdet_process(cm->cot_det[i], lin,
					  TDM_FRAME_SAMPLES))
			back = true;
	if (back && !cm->cot_back) {
		cm->cot_back = true;
		ev_post(cm, MG_CM_COT, 0, 0);
	}
}

static void frame_tone(struct mg_cm *cm, uint8_t *tx)
{
	int16_t lin[TDM_FRAME_SAMPLES];
	unsigned i;

	media_tonegen_fill(cm->linegen, lin, TDM_FRAME_SAMPLES);
	for (i = 0; i < TDM_FRAME_SAMPLES; i++)
		tx[i] = cm->cur.alaw ? media_lin_to_alaw(lin[i]) :
			media_lin_to_ulaw(lin[i]);
}

static void on_frame(struct tdm_chan *ch, const uint8_t *rx, uint8_t *tx,
		     void *arg)
{
	struct mg_cm *cm = arg;

	(void)ch;
	cm->frames++;
	if (cm->cur.loopback)
		memcpy(tx, rx, TDM_FRAME_SAMPLES);
	else if (cm->chan)
		media_chan_tick(cm->chan, rx, tx);
	if (cm->tonedet || cm->cpd || cm->cot_det[0])
		frame_detect(cm, rx);
	if (cm->linegen && !cm->cur.loopback)
		frame_tone(cm, tx);
}

/* The detectors and the raw tone beside the channel, as st wants them. */
static void side_apply(struct mg_cm *cm, const struct mg_cm_state *st)
{
	unsigned hz = st->cot ? MG_COT_HZ : st->line_hz;
	unsigned i;

	if (st->detect_fax && st->tdm && !cm->tonedet) {
		if (media_tonedet_edges_alloc(&cm->tonedet, on_fax_edge, cm))
			GW_WARN("context media: no fax tone detector");
	} else if ((!st->detect_fax || !st->tdm) && cm->tonedet) {
		cm->tonedet = gw_mem_deref(cm->tonedet);
	}
	if (cm->cpd && (!st->detect_cpd || !st->tdm ||
			st->tone_country != cm->cpd_country))
		cm->cpd = gw_mem_deref(cm->cpd);
	if (st->detect_cpd && st->tdm && !cm->cpd) {
		if (media_cpd_alloc(&cm->cpd, st->tone_country, on_cpd, cm))
			GW_WARN("context media: no call-progress tone "
				"detector");
		cm->cpd_country = st->tone_country;
	}
	if (hz != cm->linegen_hz || !st->tdm) {
		cm->linegen = gw_mem_deref(cm->linegen);
		cm->linegen_hz = 0;
		if (hz && st->tdm &&
		    !media_tonegen_alloc_freq(&cm->linegen, hz, st->cot ?
					      MG_COT_DBM0 : st->line_dbm0))
			cm->linegen_hz = hz;
	}
	if (st->cot && st->tdm && (!cm->cot_det[0] ||
				   st->cot_seq != cm->cot_seq)) {
		/* a new test: fresh detectors, nothing seen yet */
		for (i = 0; i < 2; i++)
			cm->cot_det[i] = gw_mem_deref(cm->cot_det[i]);
		if (media_freqdet_alloc(&cm->cot_det[0], MG_COT_HZ, -30) ||
		    media_freqdet_alloc(&cm->cot_det[1], MG_COT_RESP_HZ,
					-30))
			GW_WARN("context media: no check tone detector");
		cm->cot_back = false;
	} else if (!st->cot || !st->tdm) {
		for (i = 0; i < 2; i++)
			cm->cot_det[i] = gw_mem_deref(cm->cot_det[i]);
	}
	cm->cot_seq = st->cot_seq;
}

static enum media_dir dir_of(const struct mg_cm_state *st)
{
	if (st->to_ip && st->to_line)
		return MEDIA_DIR_SENDRECV;
	if (st->to_ip)
		return MEDIA_DIR_SENDONLY;
	if (st->to_line)
		return MEDIA_DIR_RECVONLY;
	return MEDIA_DIR_INACTIVE;
}

static void chan_free(struct mg_cm *cm)
{
	cm->chan = gw_mem_deref(cm->chan);
}

static int chan_make(struct mg_cm *cm, struct mg_cm_state *st)
{
	struct media_stream_conf sc = {0};
	struct media_chan_conf cf = {0};
	struct media_rtp_socks socks;
	int err;

	cf.law = st->alaw ? MEDIA_LAW_ALAW : MEDIA_LAW_ULAW;
	cf.codec = st->rtp ? st->codec.codec : MEDIA_PCMA;
	cf.fmtp = st->codec.fmtp[0] ? st->codec.fmtp : NULL;
	cf.ptime = st->codec.ptime ? st->codec.ptime : 20;
	cf.te = st->rtp && st->codec.te_pt;
	cf.ec = st->ec && st->tdm;
	cf.ec_tail_ms = st->ec_tail_ms;
	cf.tone_country = st->tone_country;
	cf.detect_dtmf = st->detect_dtmf;
	/* fax tones: side_apply's detector, on the line's own audio */
	cf.detect_fax = false;
	if (!st->rtp)
		return media_chan_alloc(&cm->chan, &cf, NULL, on_chan, cm);

	if (st->socks.fd >= 0) {
		socks = st->socks;
		st->socks.fd = st->socks.rtcp_fd = -1;
	} else {
		/* Again on the same port: the previous channel held it. */
		err = media_rtp_socks_bind(&socks, st->local_ip, st->port,
					   (uint16_t)(st->port + 1), false);
		if (err)
			return err;
	}
	sc.socks = &socks;
	sc.local_ip = st->local_ip;
	sc.port_min = sc.port_max = st->port;
	sc.remote_ip = st->remote_ip[0] ? st->remote_ip : NULL;
	sc.remote_port = st->remote_port;
	sc.pt = st->codec.pt;
	sc.clock = media_codec_info(st->codec.codec)->clock;
	sc.te_pt = st->codec.te_pt;
	sc.cn = st->codec.cn;
	sc.jb_nominal_ms = st->jitter_ms;
	sc.jb_adaptive = true;
	sc.rtp_timeout_ms = st->rtp_timeout_ms;
	sc.symmetric = true;
	sc.dir = dir_of(st);
	err = media_chan_alloc(&cm->chan, &cf, &sc, on_chan, cm);
	media_rtp_socks_close(&socks);
	return err;
}

static void cm_do_apply(struct mg_cm *cm, struct mg_cm_state *st)
{
	const struct mg_cm_state *old = cm->have ? &cm->cur : NULL;
	bool need = st->tdm || st->rtp;
	struct media_stream *s;
	int err = 0;

	/* the timeslot */
	if (cm->ch && (!st->tdm || st->span != old->span || st->ts != old->ts)) {
		tdm_chan_close(cm->ch);
		cm->ch = NULL;
	}
	/* the channel: re-created for a new codec, RTP coming or going,
	 * or DSP that is set at creation.  A context left without its
	 * timeslot for a while (a call moving to another channel) keeps
	 * its channel, and with it the RTP stream's SSRC and sequence:
	 * only the next timeslot's DSP needs are compared. */
	if (cm->chan && (!need || st->gen != cm->chan_gen ||
			 st->rtp != cm->chan_rtp ||
			 (st->tdm && (st->ec != cm->chan_ec ||
				      st->detect_dtmf != cm->chan_dtmf ||
				      st->alaw != cm->chan_alaw))))
		chan_free(cm);
	if (need && !cm->chan) {
		err = chan_make(cm, st);
		if (err) {
			GW_WARN("context media: %s", strerror(err));
			ev_post(cm, MG_CM_FAILED, 0, 0);
		} else {
			cm->chan_gen = st->gen;
			cm->chan_rtp = st->rtp;
			cm->chan_ec = st->ec && st->tdm;
			cm->chan_dtmf = st->detect_dtmf;
			cm->chan_alaw = st->alaw;
			if (st->tone < MEDIA_TONE_COUNT)
				media_chan_tone(cm->chan, st->tone);
			if (st->ip_tone < MEDIA_TONE_COUNT)
				media_chan_tone_ip(cm->chan, st->ip_tone);
		}
	} else if (cm->chan) {
		s = media_chan_stream(cm->chan);
		if (s && (strcmp(st->remote_ip, old->remote_ip) ||
			  st->remote_port != old->remote_port) &&
		    st->remote_ip[0])
			media_stream_set_remote(s, st->remote_ip,
						st->remote_port, 0);
		if (st->to_ip != old->to_ip || st->to_line != old->to_line)
			media_chan_set_dir(cm->chan, dir_of(st));
		if (st->tone != old->tone)
			media_chan_tone(cm->chan, st->tone);
		if (st->ip_tone != old->ip_tone)
			media_chan_tone_ip(cm->chan, st->ip_tone);
	}
	media_rtp_socks_close(&st->socks);
	side_apply(cm, st);
	if (cm->chan && st->digits_seq != cm->digits_seq && st->digits[0])
		media_chan_digits(cm->chan, st->digits);
	cm->digits_seq = st->digits_seq;

	if (st->tdm && !cm->ch) {
		struct tdm_chan *ch = tdm_span_chan(st->span, st->ts);

		err = ch ? tdm_chan_open(ch, on_frame, cm) : ENOENT;
		if (err) {
			GW_WARN("tdm/%u/%u: cannot open: %s",
				tdm_span_id(st->span), st->ts, strerror(err));
			ev_post(cm, MG_CM_FAILED, 0, 0);
		} else {
			cm->ch = ch;
		}
	}
	if (!cm->counted && cm->chan) {
		media_worker_chans_add(cm->wk, 1);
		cm->counted = true;
	} else if (cm->counted && !cm->chan) {
		media_worker_chans_add(cm->wk, -1);
		cm->counted = false;
	}
	cm->cur = *st;
	cm->have = true;
}

static void job_destroy(void *arg)
{
	struct cm_job *j = arg;

	media_rtp_socks_close(&j->st.socks);
	gw_mem_deref(j->cm);
}

static void job_apply(void *arg)
{
	struct cm_job *j = arg;

	cm_do_apply(j->cm, &j->st);
	gw_mem_deref(j);
}

static void job_stats(void *arg)
{
	struct cm_job *j = arg;
	struct mg_cm *cm = j->cm;

	if (cm->chan) {
		j->stats.valid = true;
		j->stats.rtp = media_chan_stream(cm->chan) != NULL;
		media_chan_stats(cm->chan, &j->stats.st);
	}
	j->stats.tdm_frames = cm->frames;
}

static void job_stats_done(void *arg)
{
	struct cm_job *j = arg;

	if (j->sh)
		j->sh(&j->stats, j->sarg);
	gw_mem_deref(j);
}

static void job_close(void *arg)
{
	struct cm_job *j = arg;
	struct mg_cm *cm = j->cm;

	if (cm->ch)
		tdm_chan_close(cm->ch);
	cm->ch = NULL;
	chan_free(cm);
	cm->tonedet = gw_mem_deref(cm->tonedet);
	cm->cpd = gw_mem_deref(cm->cpd);
	cm->linegen = gw_mem_deref(cm->linegen);
	cm->cot_det[0] = gw_mem_deref(cm->cot_det[0]);
	cm->cot_det[1] = gw_mem_deref(cm->cot_det[1]);
	if (cm->counted)
		media_worker_chans_add(cm->wk, -1);
	cm->counted = false;
	gw_mem_deref(j);
}

/* ---- main thread ----------------------------------------------------- */

int mg_cm_alloc(struct mg_cm **cmp, struct media_worker *wk, mg_cm_ev_h *h,
		void *arg)
{
	struct mg_cm *cm = gw_mem_zalloc(sizeof(*cm), NULL);

	if (!cm)
		return ENOMEM;
	cm->wk = wk;
	cm->h = h;
	cm->arg = arg;
	cm->main = gw_loop_self();
	*cmp = cm;
	return 0;
}

struct media_worker *mg_cm_worker(const struct mg_cm *cm)
{
	return cm->wk;
}

static struct cm_job *job_new(struct mg_cm *cm)
{
	struct cm_job *j = gw_mem_zalloc(sizeof(*j), job_destroy);

	if (!j)
		return NULL;
	j->cm = gw_mem_ref(cm);
	j->st.socks.fd = j->st.socks.rtcp_fd = -1;
	return j;
}

/** Send st to the worker; its sockets go with it. */
int mg_cm_apply(struct mg_cm *cm, struct mg_cm_state *st)
{
	struct cm_job *j = job_new(cm);
	int err;

	if (!j)
		return ENOMEM;
	j->st = *st;
	st->socks.fd = st->socks.rtcp_fd = -1;
	err = media_worker_run(cm->wk, job_apply, j);
	if (err)
		gw_mem_deref(j);
	return err;
}

/** The context's figures, to h on this thread. */
int mg_cm_stats(struct mg_cm *cm, mg_cm_stats_h *h, void *arg)
{
	struct cm_job *j = job_new(cm);
	int err;

	if (!j)
		return ENOMEM;
	j->sh = h;
	j->sarg = arg;
	err = media_worker_call(cm->wk, job_stats, j, job_stats_done, j);
	if (err)
		gw_mem_deref(j);
	return err;
}

/** Stop the context's media; releases the caller's reference. */
void mg_cm_close(struct mg_cm *cm)
{
	struct cm_job *j;

	if (!cm)
		return;
	cm->closed = true;
	j = job_new(cm);
	if (!j || media_worker_run(cm->wk, job_close, j)) {
		GW_ERR("context media: cannot stop it on its worker");
		gw_mem_deref(j);
	}
	gw_mem_deref(cm);
}
