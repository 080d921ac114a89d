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
