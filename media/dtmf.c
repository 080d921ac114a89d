/* media/dtmf.c - DTMF receiver and generator on spandsp (ITU-T Q.23, Q.24) */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <tiffio.h>	/* spandsp.h needs it first */
#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES	/* state embedded below */
#include <spandsp.h>

#define GW_LOG_MOD "media"
#include "media.h"

/*
 * Receiver.  spandsp's dtmf_rx decides once per 102-sample block and needs
 * two agreeing blocks to declare a change, so a digit is reported about
 * 25 ms after it starts and again about 25 ms after it ends.  Its realtime
 * callback gives both edges with the number of samples since the previous
 * edge: at the end edge that is the digit's duration (both edges are late
 * by the same amount).  With a realtime callback spandsp neither buffers
 * digits nor calls its digits callback (../shared/notes/libraries.md), so
 * the edges are the only path, and a digit is reported exactly once.
 *
 * Generator.  Digits go out one at a time through spandsp's dtmf_tx, each
 * with its own timing.  Level: -8 dBm0 for the low group and -6 dBm0 for
 * the high group, a +2 dB twist (pre-emphasis of the high group, as most
 * of the administrations' sending levels ITU-T Q.24 tabulates have it);
 * the pair peaks 4 dB below A-law's full scale.  Q.24 receivers must
 * accept 40 ms of tone and 40 ms of pause; we never send less than 50 ms
 * of either, so that two equal digits relayed back to back from RFC 4733
 * events never merge into one at the far receiver.
 *
 * spandsp fills its static Goertzel and tone tables on the first
 * dtmf_rx_init and dtmf_tx_init, unlocked; the first of our allocations
 * does that once for every media worker.
 */

#define DTMF_LOW_DBM0		(-8)
#define DTMF_TWIST_DB		2
#define DTMF_MIN_ON_MS		50
#define DTMF_MIN_OFF_MS		50
#define DTMF_MAX_MS		10000	/* put(): longest tone or pause */
#define DTMF_LIVE_MAX_MS	30000	/* a live digit whose end got lost */
#define DTMF_QUEUE		64

#define MS_TO_SAMPLES(ms)	((unsigned)(ms) * (MEDIA_RATE / 1000))

struct media_dtmf_rx {
	dtmf_rx_state_t rx;		/* spandsp, embedded */
	media_dtmf_h *h;
	void *arg;
	char digit;			/* the digit in progress, or 0 */
};

struct dtmf_item {
	char digit;
	bool live;			/* until media_dtmf_tx_stop */
	bool stopped;			/* live, and stopped before it began */
	uint16_t on_ms, off_ms;		/* timed digits, and stopped live */
	uint64_t start;			/* live: the clock at its start */
};

struct media_dtmf_tx {
	dtmf_tx_state_t gen;		/* spandsp, embedded: one digit */
	struct dtmf_item q[DTMF_QUEUE];
	unsigned head, count;
	bool playing;			/* gen holds a digit or its pause */
	bool live;			/* ... a live one */
	bool stop;			/* ... whose end was asked for */
	uint64_t start;			/* the clock when it was started */
	unsigned played;		/* samples of the live digit so far */
	unsigned target;		/* its length, known once stopped */
	unsigned gap;			/* samples of pause owed */
	uint64_t clock;			/* samples filled while busy */
};

static const char dtmf_digits[] = "0123456789*#ABCD";

static pthread_once_t dtmf_once = PTHREAD_ONCE_INIT;

static void dtmf_tables(void)
{
	dtmf_rx_state_t rx;
	dtmf_tx_state_t tx;

	dtmf_rx_init(&rx, NULL, NULL);
	dtmf_rx_release(&rx);
	dtmf_tx_init(&tx);
	dtmf_tx_release(&tx);
}

/* The canonical digit for c, or 0 if c is none. */
static char dtmf_digit(char c)
{
	c = (char)toupper((unsigned char)c);
	if (c == '\0' || !strchr(dtmf_digits, c))
		return 0;
	return c;
}

/* ---- receiver ---------------------------------------------------------- */

/* spandsp's realtime report: code is the digit that starts now, or 0 when
 * the digit in progress ends; samples counts from the previous edge. */
static void rx_edge(void *user_data, int code, int level, int samples)
{
	struct media_dtmf_rx *rx = user_data;
	char prev = rx->digit;

	(void)level;
	/* Our reference is the last: the owner dropped the receiver from
	 * a handler earlier in this block. */
	if (gw_mem_nrefs(rx) < 2)
		return;
	if (samples < 0)
		samples = 0;
	rx->digit = (char)code;
	/* A digit straight after another (no pause) ends the first. */
	if (prev) {
		rx->h(prev, true, (unsigned)samples / (MEDIA_RATE / 1000),
		      rx->arg);
		if (gw_mem_nrefs(rx) < 2)
			return;
	}
	if (code)
		rx->h((char)code, false, 0, rx->arg);
}

static void rx_destroy(void *data)
{
	struct media_dtmf_rx *rx = data;

	dtmf_rx_release(&rx->rx);
}

/**
 * Allocate a DTMF receiver that calls h twice per digit: when the digit
 * starts (end false) and when it ends (end true, with its duration).
 * EINVAL without a handler, ENOMEM.
 */
int media_dtmf_rx_alloc(struct media_dtmf_rx **rxp, media_dtmf_h *h,
			void *arg)
{
	struct media_dtmf_rx *rx;

	if (!rxp || !h)
		return EINVAL;
	pthread_once(&dtmf_once, dtmf_tables);
	rx = gw_mem_zalloc(sizeof(*rx), rx_destroy);
	if (!rx)
		return ENOMEM;
	rx->h = h;
	rx->arg = arg;
	/* spandsp's defaults, which it documents as meeting Q.23 and Q.24:
	 * 8 dB normal and 4 dB reverse twist, -42 dBm0 per tone.  No
	 * dial-tone notch: a B-channel carries no dial tone of ours. */
	dtmf_rx_init(&rx->rx, NULL, NULL);
	dtmf_rx_set_realtime_callback(&rx->rx, rx_edge, rx);
	*rxp = rx;
	return 0;
}

/**
 * Run n samples of received linear audio through the receiver; digit
 * edges are reported from inside.  The handler may drop the receiver:
 * nothing is reported after that.
 */
void media_dtmf_rx_process(struct media_dtmf_rx *rx, const int16_t *pcm,
			   size_t n)
{
	if (!rx || !pcm)
		return;
	gw_mem_ref(rx);
	while (n > 0) {
		int k = n > 8000 ? 8000 : (int)n;

		dtmf_rx(&rx->rx, pcm, k);
		pcm += k;
		n -= (size_t)k;
	}
	gw_mem_deref(rx);
}

/* ---- generator --------------------------------------------------------- */

static void tx_destroy(void *data)
{
	struct media_dtmf_tx *tx = data;

	dtmf_tx_release(&tx->gen);
}

/* Silence the generator: whatever it holds is dropped. */
static void gen_reset(struct media_dtmf_tx *tx)
{
	dtmf_tx_init(&tx->gen);
	dtmf_tx_set_level(&tx->gen, DTMF_LOW_DBM0, DTMF_TWIST_DB);
	tx->playing = false;
	tx->live = false;
	tx->stop = false;
	tx->played = 0;
	tx->target = 0;
}

/**
 * Allocate a DTMF generator (levels and minimum timing in the comment at
 * the top of media/dtmf.c).  ENOMEM.
 */
int media_dtmf_tx_alloc(struct media_dtmf_tx **txp)
{
	struct media_dtmf_tx *tx;

	if (!txp)
		return EINVAL;
	pthread_once(&dtmf_once, dtmf_tables);
	tx = gw_mem_zalloc(sizeof(*tx), tx_destroy);
	if (!tx)
		return ENOMEM;
	gen_reset(tx);
	*txp = tx;
	return 0;
}

static struct dtmf_item *queue_tail(struct media_dtmf_tx *tx)
{
	return &tx->q[(tx->head + tx->count) % DTMF_QUEUE];
}

/**
 * Queue digits ("0-9*#A-D", either case) to play after whatever is queued,
 * each on_ms long followed by off_ms of silence.  All or nothing: EINVAL
 * for another character or a time outside 50..10000 ms, ENOBUFS when the
 * queue (64 digits) cannot take them all.
 */
int media_dtmf_tx_put(struct media_dtmf_tx *tx, const char *digits,
		      unsigned on_ms, unsigned off_ms)
{
	size_t i, len;

	if (!tx || !digits)
		return EINVAL;
	if (on_ms < DTMF_MIN_ON_MS || on_ms > DTMF_MAX_MS ||
	    off_ms < DTMF_MIN_OFF_MS || off_ms > DTMF_MAX_MS)
		return EINVAL;
	len = strlen(digits);
	for (i = 0; i < len; i++) {
		if (!dtmf_digit(digits[i]))
			return EINVAL;
	}
	if (len > DTMF_QUEUE - tx->count)
		return ENOBUFS;
	for (i = 0; i < len; i++) {
		struct dtmf_item *it = queue_tail(tx);

		memset(it, 0, sizeof(*it));
		it->digit = dtmf_digit(digits[i]);
		it->on_ms = (uint16_t)on_ms;
		it->off_ms = (uint16_t)off_ms;
		tx->count++;
	}
	return 0;
}

/**
 * Start a digit that plays until media_dtmf_tx_stop: an RFC 4733 event
 * whose end is not known yet.  A live digit still playing ends here (a
 * new event ends the previous one); queued digits play first, and a live
 * digit that had to wait still plays as long as its event lasted.
 * EINVAL for a character that is no digit, ENOBUFS.
 */
int media_dtmf_tx_start(struct media_dtmf_tx *tx, char digit)
{
	struct dtmf_item *it;
	char d = dtmf_digit(digit);

	if (!tx || !d)
		return EINVAL;
	if (tx->count >= DTMF_QUEUE)
		return ENOBUFS;
	media_dtmf_tx_stop(tx);
	it = queue_tail(tx);
	memset(it, 0, sizeof(*it));
	it->digit = d;
	it->live = true;
	it->start = tx->clock;
	tx->count++;
	return 0;
}

/**
 * End the live digit: it plays as long as the time from its start to
 * now, and at least 50 ms, then the minimum pause follows.  Without a
 * live digit, nothing.
 */
void media_dtmf_tx_stop(struct media_dtmf_tx *tx)
{
	unsigned i, len;

	if (!tx)
		return;
	if (tx->playing && tx->live) {
		if (tx->stop)
			return;
		tx->stop = true;
		len = (unsigned)(tx->clock - tx->start);
		tx->target = len > MS_TO_SAMPLES(DTMF_MIN_ON_MS) ?
			     len : MS_TO_SAMPLES(DTMF_MIN_ON_MS);
		if (tx->played >= tx->target) {
			gen_reset(tx);
			tx->gap = MS_TO_SAMPLES(DTMF_MIN_OFF_MS);
		}
		return;
	}
	/* A live digit still queued behind others. */
	for (i = tx->count; i > 0; i--) {
		struct dtmf_item *it = &tx->q[(tx->head + i - 1) % DTMF_QUEUE];
		unsigned ms;

		if (!it->live || it->stopped)
			continue;
		it->stopped = true;
		len = (unsigned)(tx->clock - it->start);
		ms = (len + MEDIA_RATE / 1000 - 1) / (MEDIA_RATE / 1000);
		if (ms < DTMF_MIN_ON_MS)
			ms = DTMF_MIN_ON_MS;
		if (ms > DTMF_LIVE_MAX_MS)
			ms = DTMF_LIVE_MAX_MS;
		it->on_ms = (uint16_t)ms;
		it->off_ms = DTMF_MIN_OFF_MS;
		break;
	}
}

/** Whether a digit, or the pause after one, is playing or queued. */
bool media_dtmf_tx_busy(const struct media_dtmf_tx *tx)
{
	return tx && (tx->playing || tx->gap > 0 || tx->count > 0);
}

/* Load the next queued digit into the generator; false if none. */
static bool gen_next(struct media_dtmf_tx *tx)
{
	struct dtmf_item *it;
	char s[2];

	if (tx->count == 0)
		return false;
	it = &tx->q[tx->head];
	tx->head = (tx->head + 1) % DTMF_QUEUE;
	tx->count--;
	s[0] = it->digit;
	s[1] = '\0';
	tx->stop = false;
	tx->played = 0;
	tx->target = 0;
	if (it->live && !it->stopped) {
		dtmf_tx_set_timing(&tx->gen, DTMF_LIVE_MAX_MS, 0);
		tx->live = true;
		tx->start = it->start;
	} else {
		dtmf_tx_set_timing(&tx->gen, it->on_ms, it->off_ms);
	}
	dtmf_tx_put(&tx->gen, s, 1);
	tx->playing = true;
	return true;
}

/**
 * Fill n samples with what the generator plays.  While a digit or its
 * pause is under way all n are written (silence where neither tone nor
 * queue remains) and n is returned, so that the caller's own audio is
 * replaced, not mixed; when the generator is idle nothing is written and
 * 0 is returned.  Call it every tick: it keeps the time of live digits.
 */
size_t media_dtmf_tx_fill(struct media_dtmf_tx *tx, int16_t *pcm, size_t n)
{
	size_t done = 0;

	if (!tx || !pcm || !media_dtmf_tx_busy(tx))
		return 0;
	while (done < n) {
		size_t k = n - done;
		bool ended;
		int got;

		if (tx->gap > 0) {
			if (k > tx->gap)
				k = tx->gap;
			memset(pcm + done, 0, k * sizeof(*pcm));
			tx->gap -= (unsigned)k;
			done += k;
			continue;
		}
		if (!tx->playing && !gen_next(tx))
			break;
		if (tx->live && tx->stop && k > tx->target - tx->played)
			k = tx->target - tx->played;
		got = dtmf_tx(&tx->gen, pcm + done, (int)k);
		if (got < 0)
			got = 0;
		done += (size_t)got;
		/* spandsp's generator is done when its tone's sections
		 * have all been played */
		ended = (size_t)got < k || tx->gen.tones.current_section < 0;
		if (tx->live) {
			tx->played += (unsigned)got;
			/* Played its length, or ran out (an end event
			 * lost: DTMF_LIVE_MAX_MS). */
			if (ended || (tx->stop && tx->played >= tx->target)) {
				gen_reset(tx);
				tx->gap = MS_TO_SAMPLES(DTMF_MIN_OFF_MS);
			}
		} else if (ended) {
			/* Tone and pause both played. */
			tx->playing = false;
		}
	}
	if (done < n)
		memset(pcm + done, 0, (n - done) * sizeof(*pcm));
	tx->clock += n;
	return n;
}
