/* media/tone.c - call-progress tones (ITU-T E.180), fax/modem tone detection */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <tiffio.h>	/* spandsp.h needs it first */
#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES	/* state embedded below */
#include <spandsp.h>

#define GW_LOG_MOD "media"
#include "media.h"

/*
 * Generation.  Each tone is a cadence: a cycle of up to six segments,
 * each one or two frequencies (or silence) for a number of milliseconds,
 * repeated for as long as the tone plays; a segment of 0 ms lasts
 * forever (continuous tones).  Two phase accumulators on spandsp's DDS
 * make the samples, so a cadence is exact to the sample and a segment
 * may change frequency without a click in the middle of a frame.  The
 * level reference is spandsp's: a sine at 0 dBm0 peaks 3.14 dB below the
 * 16-bit full scale (G.711's maximum is +3.14 dBm0).
 *
 * Sources of the values:
 *
 * "itu"  The European (CEPT) plan, within E.180's recommended limits and
 *        as E.180 Suppl. 2 lists it for most of Europe (the harmonised
 *        set of ETSI ETR 187 / TR 101 041): 425 Hz; dial tone
 *        continuous; ringing 1 s on, 4 s off; busy 0.5 s / 0.5 s;
 *        congestion 0.25 s / 0.25 s, the most common cadence (Suppl. 2
 *        also has 0.24/0.24 and 0.2/0.2, e.g. Germany); call waiting
 *        0.2 s on, 0.2 s off, 0.2 s on, 5 s off (Suppl. 2, Germany,
 *        type I).  SIT: E.180's own, 950, 1400 and 1800 Hz, 330 ms
 *        each, then 1 s of silence.  E.180 leaves the sending level to
 *        the administration: ours is -10 dBm0 for one frequency and
 *        -13 dBm0 each for two.
 * "us"   The North American Precise Tone Plan (ITU-T E.300 Suppl. 3,
 *        ANSI T1.401): dial 350+440 Hz at -13 dBm0 each, continuous;
 *        audible ring 440+480 Hz at -19 dBm0, 2 s on, 4 s off; busy
 *        480+620 Hz at -24 dBm0, 0.5 s / 0.5 s; reorder the same at
 *        0.25 s / 0.25 s; call waiting 440 Hz at -13 dBm0, 0.3 s, once
 *        every 10 s.  SIT: the Telcordia-coded "vacant code" (VC)
 *        sequence, 985.2 Hz 380 ms, 1370.6 Hz 274 ms, 1776.7 Hz 380 ms,
 *        since the gateway plays SIT mostly for unallocated numbers;
 *        level ours, -13 dBm0, then 4 s of silence.
 * "uk"   BT SIN 350 as E.180 Suppl. 2 lists it: dial 350+440 Hz
 *        continuous; ringing 400+450 Hz 0.4 s on, 0.2 s off, 0.4 s on,
 *        2 s off; busy 400 Hz 0.375 s / 0.375 s; congestion 400 Hz
 *        0.4 s on, 0.35 s off, 0.225 s on, 0.525 s off; SIT as "itu";
 *        call waiting 400 Hz 0.1 s on, 4 s off (the common
 *        configuration; to be checked against SIN 350).  Levels as
 *        "itu".
 * The milliwatt is 1004 Hz at -10 dBm0 everywhere (DESIGN.md: the test
 * tone of pstnsim's 2000 line; the digital milliwatt proper, G.711
 * Table 5/6, is 0 dBm0).
 */

#define TONE_SEGS	6

struct tone_seg {
	float f1, f2;			/* Hz, 0 for none */
	float l1, l2;			/* dBm0 */
	unsigned ms;			/* 0: forever */
};

struct tone_def {
	unsigned nseg;
	struct tone_seg seg[TONE_SEGS];
};

#define ONE(f, l, ms)		{ (f), 0, (l), 0, (ms) }
#define TWO(f1, f2, l, ms)	{ (f1), (f2), (l), (l), (ms) }
#define OFF(ms)			{ 0, 0, 0, 0, (ms) }

#define L1	(-10.0f)	/* "itu", "uk": one frequency */
#define L2	(-13.0f)	/* "itu", "uk": each of two */

static const struct tone_def tone_milliwatt = {
	1, { ONE(1004, -10.0f, 0) }
};

static const struct tone_def tone_itu_sit = {
	4, { ONE(950, -10.0f, 330), ONE(1400, -10.0f, 330),
	     ONE(1800, -10.0f, 330), OFF(1000) }
};

static const struct tone_def tone_table[][MEDIA_TONE_COUNT] = {
	{	/* "itu" */
		[MEDIA_TONE_DIAL] = { 1, { ONE(425, L1, 0) } },
		[MEDIA_TONE_RINGBACK] = { 2, { ONE(425, L1, 1000),
					       OFF(4000) } },
		[MEDIA_TONE_BUSY] = { 2, { ONE(425, L1, 500), OFF(500) } },
		[MEDIA_TONE_CONGESTION] = { 2, { ONE(425, L1, 250),
						 OFF(250) } },
		[MEDIA_TONE_CALLWAIT] = { 4, { ONE(425, L1, 200), OFF(200),
					       ONE(425, L1, 200),
					       OFF(5000) } },
	},
	{	/* "us" */
		[MEDIA_TONE_DIAL] = { 1, { TWO(350, 440, -13.0f, 0) } },
		[MEDIA_TONE_RINGBACK] = { 2, { TWO(440, 480, -19.0f, 2000),
					       OFF(4000) } },
		[MEDIA_TONE_BUSY] = { 2, { TWO(480, 620, -24.0f, 500),
					   OFF(500) } },
		[MEDIA_TONE_CONGESTION] = { 2, { TWO(480, 620, -24.0f, 250),
						 OFF(250) } },
		[MEDIA_TONE_SIT] = { 4, { ONE(985.2f, -13.0f, 380),
					  ONE(1370.6f, -13.0f, 274),
					  ONE(1776.7f, -13.0f, 380),
					  OFF(4000) } },
		[MEDIA_TONE_CALLWAIT] = { 2, { ONE(440, -13.0f, 300),
					       OFF(9700) } },
	},
	{	/* "uk" */
		[MEDIA_TONE_DIAL] = { 1, { TWO(350, 440, L2, 0) } },
		[MEDIA_TONE_RINGBACK] = { 4, { TWO(400, 450, L2, 400),
					       OFF(200),
					       TWO(400, 450, L2, 400),
					       OFF(2000) } },
		[MEDIA_TONE_BUSY] = { 2, { ONE(400, L1, 375), OFF(375) } },
		[MEDIA_TONE_CONGESTION] = { 4, { ONE(400, L1, 400), OFF(350),
						 ONE(400, L1, 225),
						 OFF(525) } },
		[MEDIA_TONE_CALLWAIT] = { 2, { ONE(400, L1, 100),
					       OFF(4000) } },
	},
};

static const char *const country_names[] = { "itu", "us", "uk" };

static const char *const tone_names[MEDIA_TONE_COUNT] = {
	[MEDIA_TONE_DIAL] = "dial",
	[MEDIA_TONE_RINGBACK] = "ringback",
	[MEDIA_TONE_BUSY] = "busy",
	[MEDIA_TONE_CONGESTION] = "congestion",
	[MEDIA_TONE_SIT] = "sit",
	[MEDIA_TONE_CALLWAIT] = "callwait",
	[MEDIA_TONE_MILLIWATT] = "milliwatt",
};

/**
 * The country (tone plan) called name: "itu", "us" or "uk", any case.
 * "eu" and "gb" are accepted as aliases.  EINVAL for another.
 */
int media_tone_country_parse(const char *name, unsigned *countryp)
{
	unsigned i;

	if (!name || !countryp)
		return EINVAL;
	for (i = 0; i < GW_ARRAY_SIZE(country_names); i++) {
		if (!strcasecmp(name, country_names[i])) {
			*countryp = i;
			return 0;
		}
	}
	if (!strcasecmp(name, "eu")) {
		*countryp = 0;
		return 0;
	}
	if (!strcasecmp(name, "gb")) {
		*countryp = 2;
		return 0;
	}
	return EINVAL;
}

/** The name of a tone ("dial", "ringback", ...), "?" if out of range. */
const char *media_tone_name(enum media_tone tone)
{
	if ((unsigned)tone >= MEDIA_TONE_COUNT)
		return "?";
	return tone_names[tone];
}

/** Parse a tone's name as media_tone_name gives it; EINVAL if none. */
int media_tone_parse(const char *name, enum media_tone *tonep)
{
	unsigned i;

	if (!name || !tonep)
		return EINVAL;
	for (i = 0; i < MEDIA_TONE_COUNT; i++) {
		if (!strcasecmp(name, tone_names[i])) {
			*tonep = (enum media_tone)i;
			return 0;
		}
	}
	return EINVAL;
}

/* ---- generator --------------------------------------------------------- */

struct media_tonegen {
	const struct tone_def *def;
	unsigned seg;			/* segment playing */
	unsigned pos;			/* samples into it */
	unsigned len;			/* its length in samples, 0: forever */
	uint32_t phase[2];
	int32_t rate[2];
	int16_t gain[2];
};

static void seg_load(struct media_tonegen *g, unsigned seg)
{
	const struct tone_seg *s = &g->def->seg[seg];

	g->seg = seg;
	g->pos = 0;
	g->len = s->ms * (MEDIA_RATE / 1000);
	g->rate[0] = s->f1 > 0 ? dds_phase_rate(s->f1) : 0;
	g->rate[1] = s->f2 > 0 ? dds_phase_rate(s->f2) : 0;
	g->gain[0] = s->f1 > 0 ? dds_scaling_dbm0(s->l1) : 0;
	g->gain[1] = s->f2 > 0 ? dds_scaling_dbm0(s->l2) : 0;
}

/**
 * Allocate a generator for tone as country plays it (a value from
 * media_tone_country_parse).  EINVAL for an unknown country or tone,
 * ENOENT for a tone that country's table does not have, ENOMEM.
 */
int media_tonegen_alloc(struct media_tonegen **gp, unsigned country,
			enum media_tone tone)
{
	const struct tone_def *def;
	struct media_tonegen *g;

	if (!gp || country >= GW_ARRAY_SIZE(tone_table) ||
	    (unsigned)tone >= MEDIA_TONE_COUNT)
		return EINVAL;
	if (tone == MEDIA_TONE_MILLIWATT)
		def = &tone_milliwatt;
	else if (tone == MEDIA_TONE_SIT && !tone_table[country][tone].nseg)
		def = &tone_itu_sit;		/* E.180's, unless national */
	else
		def = &tone_table[country][tone];
	if (def->nseg == 0)
		return ENOENT;
	g = gw_mem_zalloc(sizeof(*g), NULL);
	if (!g)
		return ENOMEM;
	g->def = def;
	seg_load(g, 0);
	*gp = g;
	return 0;
}

/**
 * Fill n samples with the tone, continuing its cadence where the last
 * call left it.
 */
void media_tonegen_fill(struct media_tonegen *g, int16_t *pcm, size_t n)
{
	size_t i = 0;

	if (!g || !pcm)
		return;
	while (i < n) {
		size_t k = n - i;
		size_t end;

		if (g->len > 0 && k > g->len - g->pos)
			k = g->len - g->pos;
		for (end = i + k; i < end; i++) {
			int v = 0;

			if (g->gain[0])
				v += dds_mod(&g->phase[0], g->rate[0],
					     g->gain[0], 0);
			if (g->gain[1])
				v += dds_mod(&g->phase[1], g->rate[1],
					     g->gain[1], 0);
			pcm[i] = (int16_t)(v > INT16_MAX ? INT16_MAX :
					   v < INT16_MIN ? INT16_MIN : v);
		}
		if (g->len == 0)
			continue;
		g->pos += (unsigned)k;
		if (g->pos >= g->len)
			seg_load(g, (g->seg + 1) % g->def->nseg);
	}
}

/* ---- detector ---------------------------------------------------------- */

/*
 * spandsp's modem_connect_tones receivers, two of them: one for CNG
 * (1100 Hz, T.30), one for everything an answering modem or fax sends
 * first: 2100 Hz CED/ANS (T.30, V.25), ANS with phase reversals every
 * 450 ms (V.25 ANS/, V.8 ANSam/: the G.164/G.165 echo-canceller
 * disabling tone), and V.21 channel 2 HDLC flags (T.30 preamble: many
 * fax machines answer without CED).  Each signal is reported when it
 * starts; CNG again at each 0.5 s burst.
 */

struct media_tonedet {
	modem_connect_tones_rx_state_t cng;	/* spandsp, embedded */
	modem_connect_tones_rx_state_t ans;	/* spandsp, embedded */
	media_tonedet_h *h;
	void *arg;
};

static void det_report(struct media_tonedet *d, enum media_tonedet_ev ev)
{
	/* Our reference is the last: the owner dropped the detector from a
	 * handler earlier in this block. */
	if (gw_mem_nrefs(d) < 2)
		return;
	d->h(ev, d->arg);
}

static void cng_tone(void *user_data, int code, int level, int delay)
{
	(void)level;
	(void)delay;
	if (code == MODEM_CONNECT_TONES_FAX_CNG)
		det_report(user_data, MEDIA_DET_CNG);
}

static void ans_tone(void *user_data, int code, int level, int delay)
{
	(void)level;
	(void)delay;
	switch (code) {
	case MODEM_CONNECT_TONES_ANS:
	case MODEM_CONNECT_TONES_ANSAM:
		det_report(user_data, MEDIA_DET_CED);
		break;
	case MODEM_CONNECT_TONES_ANS_PR:
	case MODEM_CONNECT_TONES_ANSAM_PR:
		det_report(user_data, MEDIA_DET_ANS_PR);
		break;
	case MODEM_CONNECT_TONES_FAX_PREAMBLE:
		det_report(user_data, MEDIA_DET_V21);
		break;
	default:
		break;
	}
}

static void det_destroy(void *data)
{
	struct media_tonedet *d = data;

	modem_connect_tones_rx_release(&d->cng);
	modem_connect_tones_rx_release(&d->ans);
}

/**
 * Allocate a detector for fax and modem signals (CNG, CED/ANS, ANS with
 * phase reversals, V.21 preamble) that reports each to h as it starts.
 * EINVAL without a handler, ENOMEM.
 */
int media_tonedet_alloc(struct media_tonedet **dp, media_tonedet_h *h,
			void *arg)
{
	struct media_tonedet *d;

	if (!dp || !h)
		return EINVAL;
	d = gw_mem_zalloc(sizeof(*d), det_destroy);
	if (!d)
		return ENOMEM;
	d->h = h;
	d->arg = arg;
	modem_connect_tones_rx_init(&d->cng, MODEM_CONNECT_TONES_FAX_CNG,
				    cng_tone, d);
	modem_connect_tones_rx_init(&d->ans,
				    MODEM_CONNECT_TONES_FAX_CED_OR_PREAMBLE,
				    ans_tone, d);
	*dp = d;
	return 0;
}

/**
 * Run n samples of received linear audio through the detector; what it
 * finds is reported from inside.  The handler may drop the detector.
 */
void media_tonedet_process(struct media_tonedet *d, const int16_t *pcm,
			   size_t n)
{
	if (!d || !pcm)
		return;
	gw_mem_ref(d);
	while (n > 0) {
		int k = n > 8000 ? 8000 : (int)n;

		modem_connect_tones_rx(&d->cng, pcm, k);
		modem_connect_tones_rx(&d->ans, pcm, k);
		pcm += k;
		n -= (size_t)k;
	}
	gw_mem_deref(d);
}

/* ---- single tones ------------------------------------------------------ */

/* A generator with a cadence of its own (not from the country tables). */
struct tonegen_own {
	struct media_tonegen g;		/* first: the pointer handed out */
	struct tone_def def;
};

/**
 * Allocate a generator of one continuous frequency, hz at level_dbm0:
 * test and check tones (the continuity check tone of Q.724 s.7, the
 * 1004 Hz test tone).  EINVAL for a frequency outside 50..3950 Hz or a
 * level above +3 dBm0, ENOMEM.
 */
int media_tonegen_alloc_freq(struct media_tonegen **gp, double hz,
			     double level_dbm0)
{
	struct tonegen_own *o;

	if (!gp || hz < 50.0 || hz > 3950.0 || level_dbm0 > 3.0)
		return EINVAL;
	o = gw_mem_zalloc(sizeof(*o), NULL);
	if (!o)
		return ENOMEM;
	o->def.nseg = 1;
	o->def.seg[0].f1 = (float)hz;
	o->def.seg[0].l1 = (float)level_dbm0;
	o->def.seg[0].ms = 0;
	o->g.def = &o->def;
	seg_load(&o->g, 0);
	*gp = &o->g;
	return 0;
}

/* ---- one frequency: a Goertzel detector -------------------------------- */

/*
 * The Goertzel filter evaluates one DFT bin per 20 ms block (160
 * samples: bins 50 Hz wide).  A block holds the tone when the bin's
 * amplitude reaches the minimum level and carries at least half of the
 * block's power (a pure tone gives all of it; speech and noise spread
 * theirs).  The tone is present after FD_ON good blocks in a row and
 * gone after FD_OFF bad ones, so that one disturbed block (a slip, a
 * phase reversal) does not end it.  Levels use spandsp's reference: a
 * sine at 0 dBm0 peaks 3.14 dB below full scale.
 */

#define FD_BLOCK	MEDIA_TICK_SAMPLES
#define FD_ON		2
#define FD_OFF		3
#define FD_DBM0_PEAK	(32767.0 * 0.696626)

struct media_freqdet {
	double coef;			/* 2 cos(2 pi f / fs) */
	double min_amp;			/* peak amplitude of the minimum */
	double s1, s2, energy;
	unsigned k;			/* samples in the block so far */
	unsigned good, bad;
	bool on;
	uint64_t blocks;
};

/**
 * Allocate a detector of one frequency hz, at min_dbm0 or louder.
 * EINVAL for a frequency outside 50..3950 Hz, ENOMEM.
 */
int media_freqdet_alloc(struct media_freqdet **dp, double hz,
			double min_dbm0)
{
	struct media_freqdet *d;

	if (!dp || hz < 50.0 || hz > 3950.0)
		return EINVAL;
	d = gw_mem_zalloc(sizeof(*d), NULL);
	if (!d)
		return ENOMEM;
	d->coef = 2.0 * cos(2.0 * M_PI * hz / MEDIA_RATE);
	d->min_amp = FD_DBM0_PEAK * pow(10.0, min_dbm0 / 20.0);
	*dp = d;
	return 0;
}

static void fd_block(struct media_freqdet *d)
{
	double p = d->s1 * d->s1 + d->s2 * d->s2 - d->coef * d->s1 * d->s2;
	double amp = 2.0 * sqrt(p > 0 ? p : 0) / FD_BLOCK;
	/* a pure tone: p = (A N / 2)^2 and energy = N A^2 / 2 */
	bool good = amp >= d->min_amp && d->energy > 0 &&
		2.0 * p / (FD_BLOCK * d->energy) >= 0.5;

	d->blocks++;
	if (good) {
		d->bad = 0;
		if (!d->on && ++d->good >= FD_ON)
			d->on = true;
	} else {
		d->good = 0;
		if (d->on && ++d->bad >= FD_OFF)
			d->on = false;
	}
	d->s1 = d->s2 = d->energy = 0;
	d->k = 0;
}

/**
 * Run n samples of linear audio through the detector; true while the
 * tone is present (as of the last whole block).
 */
bool media_freqdet_process(struct media_freqdet *d, const int16_t *pcm,
			   size_t n)
{
	size_t i;

	if (!d || !pcm)
		return false;
	for (i = 0; i < n; i++) {
		double s0 = d->coef * d->s1 - d->s2 + pcm[i];

		d->s2 = d->s1;
		d->s1 = s0;
		d->energy += (double)pcm[i] * pcm[i];
		if (++d->k == FD_BLOCK)
			fd_block(d);
	}
	return d->on;
}

/* ---- fax and modem signals, start and end ------------------------------- */

/*
 * The same two spandsp receivers as media_tonedet_alloc, for a user
 * that wants to know when each signal ends too (H.248.1 E.4 etd and
 * ltd): spandsp reports MODEM_CONNECT_TONES_NONE when the signal it
 * announced goes away.  ANS turning into ANS with phase reversals ends
 * the first and starts the second.
 */

struct tonedet_edges {
	struct media_tonedet d;		/* first: det_destroy releases it */
	media_tonedet_edge_h *eh;
	void *earg;
	int cng_on, ans_on;		/* enum media_tonedet_ev, -1: none */
};

static void edge_set(struct tonedet_edges *w, int *cur, int ev)
{
	if (*cur == ev)
		return;
	if (gw_mem_nrefs(w) < 2)	/* dropped from a handler */
		return;
	if (*cur >= 0) {
		int was = *cur;

		*cur = -1;
		w->eh((enum media_tonedet_ev)was, false, w->earg);
		if (gw_mem_nrefs(w) < 2)
			return;
	}
	*cur = ev;
	if (ev >= 0)
		w->eh((enum media_tonedet_ev)ev, true, w->earg);
}

static void edge_cng(void *user_data, int code, int level, int delay)
{
	struct tonedet_edges *w = user_data;

	(void)level;
	(void)delay;
	edge_set(w, &w->cng_on, code == MODEM_CONNECT_TONES_FAX_CNG ?
		 MEDIA_DET_CNG : -1);
}

static void edge_ans(void *user_data, int code, int level, int delay)
{
	struct tonedet_edges *w = user_data;
	int ev;

	(void)level;
	(void)delay;
	switch (code) {
	case MODEM_CONNECT_TONES_ANS:
	case MODEM_CONNECT_TONES_ANSAM:
		ev = MEDIA_DET_CED;
		break;
	case MODEM_CONNECT_TONES_ANS_PR:
	case MODEM_CONNECT_TONES_ANSAM_PR:
		ev = MEDIA_DET_ANS_PR;
		break;
	case MODEM_CONNECT_TONES_FAX_PREAMBLE:
		ev = MEDIA_DET_V21;
		break;
	default:
		ev = -1;
		break;
	}
	edge_set(w, &w->ans_on, ev);
}

/**
 * Allocate a detector of fax and modem signals (those of
 * media_tonedet_alloc) that reports each one's start (on) and end to h.
 * Driven with media_tonedet_process.  EINVAL without a handler, ENOMEM.
 */
int media_tonedet_edges_alloc(struct media_tonedet **dp,
			      media_tonedet_edge_h *h, void *arg)
{
	struct tonedet_edges *w;

	if (!dp || !h)
		return EINVAL;
	w = gw_mem_zalloc(sizeof(*w), det_destroy);
	if (!w)
		return ENOMEM;
	w->eh = h;
	w->earg = arg;
	w->cng_on = w->ans_on = -1;
	modem_connect_tones_rx_init(&w->d.cng, MODEM_CONNECT_TONES_FAX_CNG,
				    edge_cng, w);
	modem_connect_tones_rx_init(&w->d.ans,
				    MODEM_CONNECT_TONES_FAX_CED_OR_PREAMBLE,
				    edge_ans, w);
	*dp = &w->d;
	return 0;
}

/* ---- call-progress tones: detection by frequency and cadence ------------- */

/*
 * The tones of a country's plan, recognised as the generator above plays
 * them (H.248.1 E.8 extends E.4 with the E.7 tone ids; E.180/Q.35 gives
 * the tones their meaning).  Each 20 ms block goes through one Goertzel
 * filter per frequency the plan uses and is classed as one of the plan's
 * frequency sets (one or two frequencies: those carry at least 3/4 of
 * the block's power, each at CPD_MIN_DBM0 or louder, within CPD_TWIST_DB
 * of each other), as silence, or as anything else (speech, DTMF, noise).
 * Blocks make runs; a run changes only when two blocks in a row agree
 * on the new class, so that a block across an edge does not split it.
 *
 * A cadenced tone is recognised when the runs of one cycle and the
 * first of the next fit its segments, starting at any of them, each
 * within CPD_TOL of its length (the last run, still going, needs only to
 * have reached its lower bound); a continuous one once its frequency set
 * has lasted longer than any cadenced tone of the plan plays it.  It
 * is then followed segment by segment and ends at the first run out of
 * place.  Only a tone that fits alone is reported: another of the plan
 * fitting the same runs would make the report a guess.
 */

#define CPD_FREQS	8
#define CPD_RUNS	8		/* runs kept: a cycle of six and more */
#define CPD_MIN_DBM0	(-32.0)
#define CPD_SIL_DBM0	(-45.0)		/* a block below this is silence */
#define CPD_TWIST_DB	8.0
#define CPD_OTHER	0xffu		/* class: none of the plan's sets */
#define CPD_CONT_MIN_MS	800u		/* a continuous tone, at the least */

/* A segment's length and its tolerance: 1/10 and 20 ms either way. */
#define CPD_TOL(ms)	((ms) / 10 + 20)

struct cpd_run {
	unsigned cls;			/* bit mask of frequencies, 0: silence */
	unsigned ms;
};

struct media_cpd {
	unsigned country;
	unsigned nf;
	double coef[CPD_FREQS];
	double s1[CPD_FREQS], s2[CPD_FREQS];
	double energy;
	unsigned k;			/* samples in the block so far */
	unsigned tcls[MEDIA_TONE_COUNT][TONE_SEGS];
	const struct tone_def *def[MEDIA_TONE_COUNT];
	unsigned cont_min_ms;
	/* runs: the one going on, and those before it, latest first */
	unsigned cur_cls, cur_ms;
	unsigned cand_cls, cand_n;	/* a new class, blocks seen */
	struct cpd_run run[CPD_RUNS];
	unsigned nrun;
	/* the tone being followed */
	int on;				/* enum media_tone, -1: none */
	unsigned seg;			/* its segment the current run is */
	unsigned on_ms;			/* how long so far */
	media_cpd_h *h;
	void *arg;
};

static int cpd_freq(struct media_cpd *d, float hz)
{
	unsigned i;

	for (i = 0; i < d->nf; i++)
		if (fabs(d->coef[i] - 2.0 * cos(2.0 * M_PI * hz / MEDIA_RATE))
		    < 1e-9)
			return (int)i;
	if (d->nf == CPD_FREQS)
		return -1;
	d->coef[d->nf] = 2.0 * cos(2.0 * M_PI * hz / MEDIA_RATE);
	return (int)d->nf++;
}

static bool cpd_fits(unsigned ms, unsigned want)
{
	return ms + CPD_TOL(want) >= want && ms <= want + CPD_TOL(want);
}

/* The plan's definition of each tone; the sets are bit masks of d's
 * frequencies. */
static int cpd_plan(struct media_cpd *d)
{
	unsigned t, s, longest = 0;

	for (t = 0; t < MEDIA_TONE_COUNT; t++) {
		const struct tone_def *def;

		if (t == MEDIA_TONE_MILLIWATT)
			continue;
		if (t == MEDIA_TONE_SIT && !tone_table[d->country][t].nseg)
			def = &tone_itu_sit;
		else
			def = &tone_table[d->country][t];
		if (!def->nseg)
			continue;
		d->def[t] = def;
		for (s = 0; s < def->nseg; s++) {
			const struct tone_seg *g = &def->seg[s];
			int a = g->f1 > 0 ? cpd_freq(d, g->f1) : 0;
			int b = g->f2 > 0 ? cpd_freq(d, g->f2) : 0;

			if (a < 0 || b < 0)
				return ENOSPC;
			d->tcls[t][s] = (g->f1 > 0 ? 1u << a : 0) |
				(g->f2 > 0 ? 1u << b : 0);
			if (def->nseg > 1 && d->tcls[t][s] &&
			    g->ms + CPD_TOL(g->ms) > longest)
				longest = g->ms + CPD_TOL(g->ms);
		}
	}
	d->cont_min_ms = longest + 100 > CPD_CONT_MIN_MS ? longest + 100 :
		CPD_CONT_MIN_MS;
	return 0;
}

/**
 * Allocate a detector of the call-progress tones of country (a value
 * from media_tone_country_parse) as media_tonegen_alloc plays them; h
 * hears each one's start (on) and end (with its duration).  EINVAL for
 * an unknown country or without a handler, ENOMEM.
 */
int media_cpd_alloc(struct media_cpd **dp, unsigned country,
		    media_cpd_h *h, void *arg)
{
	struct media_cpd *d;
	int err;

	if (!dp || !h || country >= GW_ARRAY_SIZE(tone_table))
		return EINVAL;
	d = gw_mem_zalloc(sizeof(*d), NULL);
	if (!d)
		return ENOMEM;
	d->country = country;
	d->on = -1;
	d->cur_cls = d->cand_cls = CPD_OTHER;
	d->h = h;
	d->arg = arg;
	err = cpd_plan(d);
	if (err) {
		gw_mem_deref(d);
		return err;
	}
	*dp = d;
	return 0;
}

/* The class of the block just filtered. */
static unsigned cpd_class(struct media_cpd *d)
{
	const double n = MEDIA_TICK_SAMPLES;
	double amp[CPD_FREQS], frac[CPD_FREQS];
	double min_amp = FD_DBM0_PEAK * pow(10.0, CPD_MIN_DBM0 / 20.0);
	double sil = FD_DBM0_PEAK * pow(10.0, CPD_SIL_DBM0 / 20.0);
	double best = 0;
	unsigned i, t, s, cls = CPD_OTHER;

	/* a sine of peak A has a mean power of A^2 / 2 */
	if (d->energy / n < sil * sil / 2)
		return 0;
	for (i = 0; i < d->nf; i++) {
		double p = d->s1[i] * d->s1[i] + d->s2[i] * d->s2[i] -
			d->coef[i] * d->s1[i] * d->s2[i];

		p = p > 0 ? p : 0;
		amp[i] = 2.0 * sqrt(p) / n;
		frac[i] = 2.0 * p / (n * d->energy);
	}
	for (t = 0; t < MEDIA_TONE_COUNT; t++) {
		for (s = 0; d->def[t] && s < d->def[t]->nseg; s++) {
			unsigned m = d->tcls[t][s];
			double lo = 1e12, hi = 0, sum = 0;

			if (!m || m == cls)
				continue;
			for (i = 0; i < d->nf; i++) {
				if (!(m & (1u << i)))
					continue;
				lo = amp[i] < lo ? amp[i] : lo;
				hi = amp[i] > hi ? amp[i] : hi;
				sum += frac[i];
			}
			if (lo < min_amp || sum < 0.75 ||
			    20.0 * log10(hi / lo) > CPD_TWIST_DB || sum <= best)
				continue;
			best = sum;
			cls = m;
		}
	}
	return cls;
}

/* Do runs r[0] (the one going on, ms so far) .. r[n-1] (older) fit tone
 * t's cadence, r[n-1] as its segment first?  Then *segp is the segment
 * of r[0]. */
static bool cpd_cycle(const struct media_cpd *d, unsigned t,
		      const struct cpd_run *r, unsigned n, unsigned first,
		      unsigned *segp)
{
	const struct tone_def *def = d->def[t];
	unsigned i, s = first;

	for (i = n; i-- > 0; s = (s + 1) % def->nseg) {
		unsigned want = def->seg[s].ms;

		if (r[i].cls != d->tcls[t][s])
			return false;
		if (i == 0 ? r[i].ms + CPD_TOL(want) < want ||
		    r[i].ms > want + CPD_TOL(want) : !cpd_fits(r[i].ms, want))
			return false;
		if (i == 0)
			*segp = s;
	}
	return true;
}

/* The tone the runs show, alone: its index, -1 for none or more. */
static int cpd_match(const struct media_cpd *d, unsigned *segp)
{
	struct cpd_run r[CPD_RUNS + 1];
	unsigned t, s, n, seg, nfit = 0;
	int found = -1;

	r[0].cls = d->cur_cls;
	r[0].ms = d->cur_ms;
	memcpy(r + 1, d->run, d->nrun * sizeof(r[0]));
	for (t = 0; t < MEDIA_TONE_COUNT; t++) {
		const struct tone_def *def = d->def[t];

		if (!def)
			continue;
		if (def->nseg == 1) {
			if (d->cur_cls == d->tcls[t][0] &&
			    d->cur_ms >= d->cont_min_ms) {
				found = (int)t;
				*segp = 0;
				nfit++;
			}
			continue;
		}
		n = def->nseg + 1 < 3 ? 3 : def->nseg + 1;
		if (n > d->nrun + 1)
			continue;
		for (s = 0; s < def->nseg; s++) {
			if (cpd_cycle(d, t, r, n, s, &seg)) {
				found = (int)t;
				*segp = seg;
				nfit++;
				break;
			}
		}
	}
	return nfit == 1 ? found : -1;
}

static void cpd_report(struct media_cpd *d, enum media_tone t, bool on,
		       unsigned ms)
{
	if (gw_mem_nrefs(d) < 2)	/* dropped from a handler */
		return;
	d->h(t, on, ms, d->arg);
}

static void cpd_end(struct media_cpd *d)
{
	int t = d->on;

	d->on = -1;
	cpd_report(d, (enum media_tone)t, false, d->on_ms);
}

/* A run ended (the one going on becomes the latest before it). */
static void cpd_new_run(struct media_cpd *d, unsigned cls)
{
	if (d->on >= 0) {
		const struct tone_def *def = d->def[d->on];
		unsigned next = (d->seg + 1) % def->nseg;

		/* followed: the run that ended had its length, the new
		 * one is the next segment */
		if (def->nseg == 1 ||
		    !cpd_fits(d->cur_ms, def->seg[d->seg].ms) ||
		    cls != d->tcls[d->on][next])
			cpd_end(d);
		else
			d->seg = next;
	}
	if (d->cur_cls != CPD_OTHER || d->nrun) {
		memmove(d->run + 1, d->run,
			(CPD_RUNS - 1) * sizeof(d->run[0]));
		d->run[0].cls = d->cur_cls;
		d->run[0].ms = d->cur_ms;
		if (d->nrun < CPD_RUNS)
			d->nrun++;
	}
	if (cls == CPD_OTHER)
		d->nrun = 0;		/* nothing before it counts */
	d->cur_cls = cls;
	d->cur_ms = 0;
}

static void cpd_block(struct media_cpd *d)
{
	unsigned cls = cpd_class(d), seg = 0;
	unsigned i;
	int t;

	for (i = 0; i < d->nf; i++)
		d->s1[i] = d->s2[i] = 0;
	d->energy = 0;
	d->k = 0;

	if (cls == d->cur_cls) {
		d->cand_n = 0;
	} else if (cls == d->cand_cls && d->cand_n) {
		/* the second block of a new class: the run changed at the
		 * first */
		d->cur_ms -= MEDIA_TICK_MS;
		if (d->on >= 0)
			d->on_ms -= MEDIA_TICK_MS;
		cpd_new_run(d, cls);
		d->cur_ms = MEDIA_TICK_MS;
		if (d->on >= 0)
			d->on_ms += MEDIA_TICK_MS;
		d->cand_n = 0;
	} else {
		d->cand_cls = cls;
		d->cand_n = 1;
	}
	d->cur_ms += MEDIA_TICK_MS;
	if (d->on >= 0) {
		const struct tone_def *def = d->def[d->on];
		unsigned want = def->seg[d->seg].ms;

		d->on_ms += MEDIA_TICK_MS;
		if (def->nseg > 1 && d->cur_ms > want + CPD_TOL(want) + 40)
			cpd_end(d);	/* a segment too long */
		return;
	}
	t = cpd_match(d, &seg);
	if (t < 0)
		return;
	d->on = t;
	d->seg = seg;
	d->on_ms = 0;
	for (i = 0; i < d->nrun && i < d->def[t]->nseg; i++)
		d->on_ms += d->run[i].ms;
	d->on_ms += d->cur_ms;
	cpd_report(d, (enum media_tone)t, true, 0);
}

/**
 * Run n samples of received linear audio through the detector; starts
 * and ends are reported from inside.  The handler may drop the
 * detector.
 */
void media_cpd_process(struct media_cpd *d, const int16_t *pcm, size_t n)
{
	size_t i;
	unsigned f;

	if (!d || !pcm)
		return;
	gw_mem_ref(d);
	for (i = 0; i < n && gw_mem_nrefs(d) > 1; i++) {
		double x = pcm[i];

		for (f = 0; f < d->nf; f++) {
			double s0 = d->coef[f] * d->s1[f] - d->s2[f] + x;

			d->s2[f] = d->s1[f];
			d->s1[f] = s0;
		}
		d->energy += x * x;
		if (++d->k == MEDIA_TICK_SAMPLES)
			cpd_block(d);
	}
	gw_mem_deref(d);
}

/** The tone being heard (MEDIA_TONE_COUNT: none). */
enum media_tone media_cpd_tone(const struct media_cpd *d)
{
	return d && d->on >= 0 ? (enum media_tone)d->on : MEDIA_TONE_COUNT;
}
