/* media/ec.c - line echo canceller on speexdsp, with its ERLE (ITU-T G.168) */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <speex/speex_echo.h>

#define GW_LOG_MOD "media"
#include "media.h"

/*
 * speexdsp's MDF canceller (multi-delay block frequency-domain adaptive
 * filter) in 20 ms blocks, with a filter as long as the tail.  spandsp's
 * canceller is not an option: it printf()s on every sample
 * (../shared/notes/performance.md).  Cost on this project's 2-vCPU
 * machine (-O2, one core): 22, 25 and 30 us per 20 ms block for 32, 64
 * and 128 ms tails.  speexdsp puts what it receives through a DC notch
 * (a high-pass near 130 Hz at 8 kHz) before cancelling.
 *
 * speexdsp's residual echo suppressor (speex_preprocess with the echo
 * state) is not used.  Measured on the G.168-style hybrid paths of
 * tests/unit/test_media_dsp.c (8, 16, 32 ms; 6 and 10 dB): alone it
 * added no ERLE to the linear filter's 34-40 dB; with its noise
 * suppressor on, it reached 55-60 dB by gating the residue together
 * with the line noise, and took 0.3-0.6 dB off the near-end talker in
 * double talk; either way it delays the output by one 20 ms block and
 * costs 14 us per block more.  A hybrid's echo does not need it.
 *
 * ERLE (G.168 3.4) is 10 lg of the power of the echo entering the
 * canceller over the power leaving it, summed over the 20 ms blocks of
 * the last second in which the far end spoke: those whose tx, or any tx
 * within one tail before them, was above -45 dBm0, so that the echo of
 * a word's last syllable still counts.  Blocks without far-end speech
 * tell nothing about the echo and are left out; so is a received signal
 * near digital silence (no echo to cancel).  Near-end speech in a block
 * counts as echo: G.168 measures ERLE without it.
 */

#define EC_FRAME	MEDIA_TICK_SAMPLES
#define EC_WINDOW	(1000 / MEDIA_TICK_MS)		/* blocks: 1 s */
#define EC_TX_DBM0	(-45.0)		/* far end talking */
#define EC_RX_DBM0	(-70.0)		/* something came back */

/* Power of a sine at 0 dBm0 (peak 3.14 dB below full scale), per
 * sample: the reference spandsp and sim/behave.c use too. */
#define DBM0_POWER	(0.5 * 22776.0 * 22776.0)

struct media_ec {
	SpeexEchoState *st;
	unsigned hang;			/* blocks: one tail */
	bool on;
	bool fresh;			/* enabled since the last block */
	unsigned far;			/* blocks left of far-end activity */
	double tx_min, rx_min;		/* block energies: EC_TX/RX_DBM0 */
	double rx_e[EC_WINDOW];		/* energy in, per block */
	double out_e[EC_WINDOW];	/* energy out */
	bool act[EC_WINDOW];		/* counted for ERLE */
	unsigned idx;
	int16_t buf[EC_FRAME];
};

static void ec_destroy(void *data)
{
	struct media_ec *ec = data;

	if (ec->st)
		speex_echo_state_destroy(ec->st);
}

static double energy(const int16_t *x, size_t n)
{
	double e = 0;
	size_t i;

	for (i = 0; i < n; i++)
		e += (double)x[i] * x[i];
	return e;
}

static void window_clear(struct media_ec *ec)
{
	memset(ec->act, 0, sizeof(ec->act));
	ec->far = 0;
}

/**
 * Allocate an echo canceller for a tail of tail_ms (32..128 ms: the
 * echo's delay plus its dispersion), enabled.  EINVAL, ENOMEM.
 */
int media_ec_alloc(struct media_ec **ecp, unsigned tail_ms)
{
	struct media_ec *ec;
	int rate = MEDIA_RATE;
	int err = 0;

	if (!ecp || tail_ms < 32 || tail_ms > 128)
		return EINVAL;
	ec = gw_mem_zalloc(sizeof(*ec), ec_destroy);
	if (!ec)
		return ENOMEM;
	ec->st = speex_echo_state_init(EC_FRAME,
				       (int)(tail_ms * (MEDIA_RATE / 1000)));
	if (!ec->st) {
		err = ENOMEM;
		goto out;
	}
	speex_echo_ctl(ec->st, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
	ec->tx_min = EC_FRAME * DBM0_POWER * pow(10.0, EC_TX_DBM0 / 10.0);
	ec->rx_min = EC_FRAME * DBM0_POWER * pow(10.0, EC_RX_DBM0 / 10.0);
	ec->hang = (tail_ms + MEDIA_TICK_MS - 1) / MEDIA_TICK_MS;
	ec->on = true;
 out:
	if (err)
		gw_mem_deref(ec);
	else
		*ecp = ec;
	return err;
}

/* One block of EC_FRAME samples. */
static void ec_block(struct media_ec *ec, const int16_t *tx,
		     const int16_t *rx, int16_t *out)
{
	double ein = energy(rx, EC_FRAME);
	double etx = energy(tx, EC_FRAME);

	speex_echo_cancellation(ec->st, rx, tx, ec->buf);
	ec->rx_e[ec->idx] = ein;
	ec->out_e[ec->idx] = energy(ec->buf, EC_FRAME);
	if (etx >= ec->tx_min)
		ec->far = ec->hang + 1;
	ec->act[ec->idx] = ec->far > 0 && ein >= ec->rx_min;
	if (ec->far > 0)
		ec->far--;
	ec->idx = (ec->idx + 1) % EC_WINDOW;
	memcpy(out, ec->buf, sizeof(ec->buf));
}

/**
 * Cancel the echo of tx (what went to the line) in rx (what came back)
 * into out, which may be rx itself.  n should be a whole number of 20 ms
 * blocks (MEDIA_TICK_SAMPLES); a remainder passes through uncancelled.
 * Disabled, out is rx.
 */
void media_ec_process(struct media_ec *ec, const int16_t *tx,
		      const int16_t *rx, int16_t *out, size_t n)
{
	size_t i;

	if (!ec || !tx || !rx || !out)
		return;
	if (!ec->on) {
		if (out != rx)
			memmove(out, rx, n * sizeof(*out));
		return;
	}
	if (ec->fresh) {
		/* What the filter learnt before it was disabled may no
		 * longer be the path (a modem call came and went). */
		speex_echo_state_reset(ec->st);
		ec->fresh = false;
	}
	for (i = 0; i + EC_FRAME <= n; i += EC_FRAME)
		ec_block(ec, tx + i, rx + i, out + i);
	if (i < n) {
		if (out != rx)
			memmove(out + i, rx + i, (n - i) * sizeof(*out));
		GW_LOG_LIMITED(GW_LOG_WARN, "echo canceller: %zu samples "
			       "are not a whole block, passed through", n - i);
	}
}

/**
 * Enable or disable the canceller (V.25 answer tone with phase reversals,
 * the H.248 tdmc package).  Re-enabled, it adapts afresh.
 */
void media_ec_enable(struct media_ec *ec, bool on)
{
	if (!ec || ec->on == on)
		return;
	ec->on = on;
	ec->fresh = on;
	window_clear(ec);
}

/** Whether the canceller is enabled. */
bool media_ec_enabled(const struct media_ec *ec)
{
	return ec && ec->on;
}

/**
 * Echo return loss enhancement over the last second, in dB (see the
 * comment at the top of media/ec.c); 0 when disabled or when the far end
 * was silent all that second.
 */
double media_ec_erle_db(const struct media_ec *ec)
{
	double ein = 0, eout = 0;
	unsigned i, used = 0;

	if (!ec || !ec->on)
		return 0.0;
	for (i = 0; i < EC_WINDOW; i++) {
		if (!ec->act[i])
			continue;
		ein += ec->rx_e[i];
		eout += ec->out_e[i];
		used++;
	}
	if (used == 0 || ein <= 0)
		return 0.0;
	/* A perfect block would be infinite: one LSB of residue per
	 * sample bounds it (about 90 dB for a -10 dBm0 echo). */
	if (eout < used * EC_FRAME)
		eout = used * EC_FRAME;
	return 10.0 * log10(ein / eout);
}
