/* media/quality.c - call quality estimate by the ITU-T G.107 E-model */
#include <math.h>

#include "media.h"

/*
 * R = Ro - Is - Id - Ie,eff + A (G.107 (06/2015) 7.1), with every
 * parameter at its default (Table 1) except those a gateway knows per
 * call: the codec (Ie, Bpl), the packet loss (Ppl, BurstR) and the
 * one-way delay.  The delay is the mean one-way delay T, the absolute
 * delay Ta = T, and the round trip of the listener echo Tr = 2T.  The
 * advantage factor A is 0 (wired telephony).  With all defaults this
 * gives R = 93.2, MOS 4.41.
 *
 * Ie and Bpl come from ITU-T G.113 Appendix I (random packet loss):
 *
 *   G.711 (PCMA, PCMU)  Ie 0,  Bpl 25.1  with PLC, which the gateway
 *                                       always runs (spandsp's, G.711
 *                                       Appendix I kind); 4.3 without.
 *   G.729 (A, with VAD) Ie 11, Bpl 19.0
 *   GSM 06.10 full rate Ie 20; G.113 gives no Bpl: 10, its value for
 *                       GSM-EFR, whose frame substitution (GSM 06.11)
 *                       full rate shares.  An estimate.
 *   G.726-32            Ie 7; no Bpl in G.113: 4.3 (G.711 without
 *                       PLC), as the gateway conceals G.726 loss with
 *                       no PLC of its own.  An estimate.
 *   G.722               A wideband codec, rated on the wideband scale
 *                       of G.107.1; through this narrowband gateway its
 *                       audio is at best G.711's: Ie 0, and Bpl 4.3 (no
 *                       PLC in spandsp's G.722 decoder).  An estimate.
 *   Opus                No ITU-T value.  At the rates used for
 *                       telephony it is transparent on a narrowband
 *                       path: Ie 0; its built-in PLC is at least as good
 *                       as G.711's: Bpl 25.1.  An estimate.
 *
 * Bursty loss: BurstR (G.107 7.4) is the mean burst length over the one
 * random loss would give; a gateway that only knows "bursty" uses 2.
 */

#define BURST_R_BURSTY	2.0

struct codec_imp {
	double ie, bpl;
};

static const struct codec_imp codec_imp[MEDIA_CODEC_COUNT] = {
	[MEDIA_PCMA] = { 0.0, 25.1 },
	[MEDIA_PCMU] = { 0.0, 25.1 },
	[MEDIA_G722] = { 0.0, 4.3 },
	[MEDIA_G726_32] = { 7.0, 4.3 },
	[MEDIA_GSM] = { 20.0, 10.0 },
	[MEDIA_G729] = { 11.0, 19.0 },
	[MEDIA_OPUS] = { 0.0, 25.1 },
};

/* G.107 Table 1 defaults. */
#define SLR	8.0		/* send loudness rating, dB */
#define RLR	2.0		/* receive loudness rating, dB */
#define STMR	15.0		/* sidetone masking rating, dB */
#define LSTR	18.0		/* listener sidetone rating, dB */
#define DS	3.0		/* D-value of telephone, send side */
#define TELR	65.0		/* talker echo loudness rating, dB */
#define WEPL	110.0		/* weighted echo path loss, dB */
#define QDU	1.0		/* quantizing distortion units */
#define NC	(-70.0)		/* circuit noise, dBm0p */
#define NFOR	(-64.0)		/* noise floor at the receive side, dBmp */
#define PS	35.0		/* room noise, send side, dB(A) */
#define PR	35.0		/* room noise, receive side, dB(A) */
#define MT	100.0		/* minimum perceivable delay, ms */
#define ST	1.0		/* delay sensitivity */

static double lg(double x)
{
	return log10(x);
}

/* Ro and its noise sum No (G.107 7.2). */
static double noise_no(void)
{
	double olr = SLR + RLR;
	double nos = PS - SLR - DS - 100.0 +
		     0.004 * pow(PS - olr - DS - 14.0, 2);
	double pre = PR + 10.0 * lg(1.0 + pow(10.0, (10.0 - LSTR) / 10.0));
	double nor = RLR - 121.0 + pre + 0.008 * pow(pre - 35.0, 2);
	double nfo = NFOR + RLR;

	return 10.0 * lg(pow(10.0, NC / 10.0) + pow(10.0, nos / 10.0) +
			 pow(10.0, nor / 10.0) + pow(10.0, nfo / 10.0));
}

/* Simultaneous impairments Is (G.107 7.3). */
static double imp_is(double ro, double no, double t)
{
	double olr = SLR + RLR;
	double xolr = olr + 0.2 * (64.0 + no - RLR);
	double iolr = 20.0 * (pow(1.0 + pow(xolr / 8.0, 8), 1.0 / 8) -
			      xolr / 8.0);
	double stmro = -10.0 * lg(pow(10.0, -STMR / 10.0) +
				  exp(-t / 4.0) * pow(10.0, -TELR / 10.0));
	double ist = 12.0 * pow(1.0 + pow((stmro - 13.0) / 6.0, 8), 1.0 / 8) -
		     28.0 * pow(1.0 + pow((stmro + 1.0) / 19.4, 35),
				1.0 / 35) -
		     13.0 * pow(1.0 + pow((stmro - 3.0) / 33.0, 13),
				1.0 / 13) + 29.0;
	double q = 37.0 - 15.0 * lg(QDU);
	double g = 1.07 + 0.258 * q + 0.0602 * q * q;
	double y = (ro - 100.0) / 15.0 + 46.0 / 8.4 - g / 9.0;
	double z = 46.0 / 30.0 - g / 40.0;
	double iq = 15.0 * lg(1.0 + pow(10.0, y) + pow(10.0, z));

	return iolr + ist + iq;
}

/* Delay impairments Id = Idte + Idle + Idd (G.107 7.4). */
static double imp_id(double ro, double no, double t, double ta, double tr)
{
	double terv, re, roe, idte, rle, idle, idd = 0.0;

	terv = TELR - 40.0 * lg((1.0 + t / 10.0) / (1.0 + t / 150.0)) +
	       6.0 * exp(-0.3 * t * t);
	/* STMR < 9 dB needs the TERV of G.107 (7-22): not at the default. */
	re = 80.0 + 2.5 * (terv - 14.0);
	roe = -1.5 * (no - RLR);
	idte = ((roe - re) / 2.0 + sqrt(pow(roe - re, 2) / 4.0 + 100.0) -
		1.0) * (1.0 - exp(-t));
	rle = 10.5 * (WEPL + 7.0) * pow(tr + 1.0, -0.25);
	idle = (ro - rle) / 2.0 + sqrt(pow(ro - rle, 2) / 4.0 + 169.0);
	if (ta > MT) {
		double x = lg(ta / MT) / lg(2.0);

		idd = 25.0 * (pow(1.0 + pow(x, 6.0 * ST), 1.0 / (6.0 * ST)) -
			      3.0 * pow(1.0 + pow(x / 3.0, 6.0 * ST),
					1.0 / (6.0 * ST)) + 2.0);
	}
	return idte + idle + idd;
}

/**
 * The transmission rating R of a call by the G.107 E-model: the codec,
 * the packet loss and the one-way delay of in, everything else at G.107's
 * defaults (the comment at the top of media/quality.c).  An unknown codec
 * counts as G.711.
 */
double media_quality_r(const struct media_quality_in *in)
{
	const struct codec_imp *ci = &codec_imp[MEDIA_PCMA];
	double no, ro, is, id, ieeff, ppl, burst, t;

	no = noise_no();
	ro = 15.0 - 1.5 * (SLR + no);
	if (!in)
		return ro - imp_is(ro, no, 0) - imp_id(ro, no, 0, 0, 0);
	if ((unsigned)in->codec < MEDIA_CODEC_COUNT)
		ci = &codec_imp[in->codec];
	t = in->delay_ms > 0 ? in->delay_ms : 0.0;
	ppl = in->loss_pct > 0 ? in->loss_pct : 0.0;
	if (ppl > 100.0)
		ppl = 100.0;
	burst = in->bursty ? BURST_R_BURSTY : 1.0;
	is = imp_is(ro, no, t);
	id = imp_id(ro, no, t, t, 2.0 * t);
	ieeff = ci->ie + (95.0 - ci->ie) * ppl / (ppl / burst + ci->bpl);
	return ro - is - id - ieeff;
}

/**
 * MOS-CQE from R (G.107 Annex B (B-4)): 1 below R 0, 4.5 above R 100.
 */
double media_quality_mos(double r)
{
	if (r < 0)
		return 1.0;
	if (r > 100)
		return 4.5;
	return 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6;
}
