/* media/batch.c - a media thread's socket I/O, batched through io_uring */
#include <errno.h>
#include <liburing.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GW_LOG_MOD "media"
#include "media.h"
#include "batch.h"

/*
 * On a virtual machine the system call itself (entry, exit, the file
 * lookup) can cost more than the UDP work it asks for: a media tick of
 * one recvfrom and one sendto per channel then spends most of its time
 * there (bench/README.md, bench_media).  recvmmsg and sendmmsg batch
 * within one socket only, and each channel has its own.  A thread that
 * enables batching gets one io_uring; its streams queue their operations
 * on it and the thread submits them together, one io_uring_enter for
 * hundreds of datagrams.
 *
 * Reads.  A stream that reads its socket at the start of its tick, when
 * the batch has not read it in this tick already, makes the batch read
 * every stream of the thread that is due (each posts its own receives),
 * so the channels of spans that tick together share one submission.
 * Sends are queued as ortp hands them over and go out together when
 * the thread's loop is about to wait (gw_loop_idle), or sooner when the
 * ring or a stream's send slots are full.
 *
 * Every operation is MSG_DONTWAIT on a non-blocking UDP socket: io_uring
 * issues it inline during the submission, and one that would block
 * completes at once with EAGAIN instead of waiting for the socket
 * (REQ_F_NOWAIT).  So a submission leaves nothing in flight in practice;
 * an operation's memory is still its owner's until its completion has
 * run, and media_batch_wait covers the case where one has not.
 *
 * Where io_uring is missing or refused (an old kernel, a seccomp filter,
 * kernel.io_uring_disabled) the thread does without: streams then make
 * one system call per datagram (media/stream.c).
 */

#define RING_ENTRIES	1024

struct media_batch {
	struct io_uring ring;
	bool ring_ok;
	unsigned queued;		/* prepared, not submitted */
	unsigned inflight;		/* submitted, not completed */
	bool warned;			/* a submission failed: said once */
	struct media_batch_reader *readers;
	struct media_batch_stats st;
};

static __thread struct media_batch *cur;

static void idle_h(void *arg)
{
	media_batch_flush(arg);
}

static void destructor(void *arg)
{
	struct media_batch *b = arg;

	if (b->ring_ok)
		io_uring_queue_exit(&b->ring);
}

/* What the batch relies on, tried on a socket pair: a send and a
 * receive that complete within their submission, and a receive on an
 * empty socket that completes at once with EAGAIN instead of waiting.
 * A kernel without them (before 5.3 there is no sendmsg; some honour
 * MSG_DONTWAIT only later) gets no batch. */
static int probe(struct io_uring *ring)
{
	static const int want[3] = { 4, 4, -EAGAIN };
	/* the thread's: a kernel that leaves one in flight may still
	 * write them after this returns */
	static __thread uint8_t out[4] = "rtp", in[8];
	static __thread struct iovec siov, riov;
	static __thread struct msghdr smh, rmh;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int sv[2], i, err = 0;

	siov = (struct iovec){ .iov_base = out, .iov_len = sizeof(out) };
	riov = (struct iovec){ .iov_base = in, .iov_len = sizeof(in) };
	smh = (struct msghdr){ .msg_iov = &siov, .msg_iovlen = 1 };
	rmh = (struct msghdr){ .msg_iov = &riov, .msg_iovlen = 1 };
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv) < 0)
		return errno;
	/* a send, its datagram received, then the socket found empty */
	for (i = 0; i < 3 && !err; i++) {
		sqe = io_uring_get_sqe(ring);
		if (!sqe) {
			err = EBUSY;
			break;
		}
		if (i == 0)
			io_uring_prep_sendmsg(sqe, sv[0], &smh, MSG_DONTWAIT);
		else
			io_uring_prep_recvmsg(sqe, sv[1], &rmh, MSG_DONTWAIT);
		if (io_uring_submit(ring) != 1 ||
		    io_uring_peek_cqe(ring, &cqe)) {
			err = ENOTSUP;	/* still in flight: would wait */
			break;
		}
		if (cqe->res != want[i])
			err = cqe->res < 0 && i < 2 ? -cqe->res : ENOTSUP;
		io_uring_cqe_seen(ring, cqe);
	}
	close(sv[0]);
	close(sv[1]);
	return err;
}

/**
 * Batch this thread's stream I/O from now on: streams created on it
 * afterwards use the batch, and the thread's loop, if it has one, submits
 * before it waits.  0, or the reason there is none (ENOSYS, EPERM:
 * io_uring refused), and the thread then makes its system calls one by
 * one.
 */
int media_batch_enable(void)
{
	struct media_batch *b;
	int err;

	if (cur)
		return 0;
	b = gw_mem_zalloc(sizeof(*b), destructor);
	if (!b)
		return ENOMEM;
	err = io_uring_queue_init(RING_ENTRIES, &b->ring, 0);
	if (err < 0) {
		gw_mem_deref(b);
		return -err;
	}
	b->ring_ok = true;
	err = probe(&b->ring);
	if (err) {
		gw_mem_deref(b);
		return err;
	}
	cur = b;
	gw_loop_idle(idle_h, b);	/* when the thread has a loop */
	return 0;
}

/** This thread batches no more; streams still using the batch keep it. */
void media_batch_disable(void)
{
	if (!cur)
		return;
	gw_loop_idle(NULL, NULL);
	media_batch_flush(cur);
	cur = gw_mem_deref(cur);
}

/** This thread's batch (no reference taken), or NULL. */
struct media_batch *media_batch_self(void)
{
	return cur;
}

static void reap(struct media_batch *b)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&b->ring, head, cqe) {
		struct media_batch_op *op = io_uring_cqe_get_data(cqe);

		n++;
		if (!op)
			continue;
		op->busy = false;
		b->inflight--;
		op->done(op, cqe->res);
	}
	io_uring_cq_advance(&b->ring, n);
}

/**
 * Submit what is queued and run the completions that came.  Completion
 * handlers only record what happened: they queue nothing.
 */
void media_batch_flush(struct media_batch *b)
{
	struct io_uring_cqe *cqe;
	int n;

	if (!b)
		return;
	while (b->queued) {
		n = io_uring_submit(&b->ring);
		if (n == -EINTR)
			continue;
		if (n == -EBUSY || n == -EAGAIN) {
			/* completions first, then the rest */
			reap(b);
			if (!b->inflight ||
			    io_uring_wait_cqe(&b->ring, &cqe) < 0)
				break;
			continue;
		}
		if (n <= 0) {
			if (!b->warned)
				GW_WARN("media batch: submit: %s",
					strerror(-n));
			b->warned = true;
			break;
		}
		b->st.submits++;
		b->st.ops += (unsigned)n;
		b->queued -= (unsigned)n;
		b->inflight += (unsigned)n;
	}
	reap(b);
}

/** Until op has completed: a caller about to free its memory. */
void media_batch_wait(struct media_batch *b, struct media_batch_op *op)
{
	struct io_uring_cqe *cqe;

	if (!b || !op)
		return;
	if (op->busy)
		media_batch_flush(b);
	while (op->busy && b->inflight) {
		if (io_uring_wait_cqe(&b->ring, &cqe) < 0)
			break;
		reap(b);
	}
}

static struct io_uring_sqe *sqe_get(struct media_batch *b)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

	if (!sqe) {
		media_batch_flush(b);
		sqe = io_uring_get_sqe(&b->ring);
	}
	return sqe;
}

static int queue(struct media_batch *b, struct media_batch_op *op, int fd,
		 bool send)
{
	struct io_uring_sqe *sqe;

	if (!b || !op || !op->done || op->busy || fd < 0)
		return EINVAL;
	sqe = sqe_get(b);
	if (!sqe)
		return EBUSY;
	op->mh.msg_iov = &op->iov;
	op->mh.msg_iovlen = 1;
	if (send)
		io_uring_prep_sendmsg(sqe, fd, &op->mh,
				      MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		io_uring_prep_recvmsg(sqe, fd, &op->mh, MSG_DONTWAIT);
	io_uring_sqe_set_data(sqe, op);
	op->busy = true;
	b->queued++;
	return 0;
}

/**
 * Queue a sendmsg of op->mh (name and op->iov set by the caller) on fd;
 * op->done(op, bytes or -errno) when it has gone.  op and what it points
 * to stay the caller's, untouched, until then.
 */
int media_batch_send(struct media_batch *b, int fd, struct media_batch_op *op)
{
	return queue(b, op, fd, true);
}

/** Queue a recvmsg into op->mh on fd, as media_batch_send; -EAGAIN when
 * the socket had nothing. */
int media_batch_recv(struct media_batch *b, int fd, struct media_batch_op *op)
{
	return queue(b, op, fd, false);
}

/** rd joins the readers media_batch_read asks to post their receives. */
void media_batch_join(struct media_batch *b, struct media_batch_reader *rd)
{
	if (!b || !rd || rd->b)
		return;
	rd->b = b;
	rd->prev = NULL;
	rd->next = b->readers;
	if (b->readers)
		b->readers->prev = rd;
	b->readers = rd;
}

void media_batch_leave(struct media_batch_reader *rd)
{
	struct media_batch *b;

	if (!rd || !(b = rd->b))
		return;
	if (rd->prev)
		rd->prev->next = rd->next;
	else
		b->readers = rd->next;
	if (rd->next)
		rd->next->prev = rd->prev;
	rd->next = rd->prev = NULL;
	rd->b = NULL;
}

/**
 * Read for every reader at once: each posts the receives it is due
 * (rd->post, which only queues), then one submission carries them all
 * and their completions have run when this returns.
 */
void media_batch_read(struct media_batch *b, uint64_t now_ns)
{
	struct media_batch_reader *rd;

	if (!b)
		return;
	for (rd = b->readers; rd; rd = rd->next)
		rd->post(rd, now_ns);
	b->st.reads++;
	media_batch_flush(b);
}

/** The batch's figures so far. */
void media_batch_stats(const struct media_batch *b,
		       struct media_batch_stats *st)
{
	if (st)
		*st = b ? b->st : (struct media_batch_stats){ 0 };
}
