/* media/batch.h - batched socket I/O for media threads (media/batch.c) */
#ifndef GW_MEDIA_BATCH_H
#define GW_MEDIA_BATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * A thread that enables batching has its streams queue their socket
 * operations and submits them together: reads when the first stream of
 * a tick reads, sends before its loop waits (media_batch_enable installs
 * that with gw_loop_idle when the thread has a loop), or at a
 * media_batch_flush.  Without it, or without io_uring, streams make one
 * system call per datagram.
 */

struct media_batch;

/* One queued operation, inside its owner, which fills mh's name and iov
 * (the batch points mh at iov). */
struct media_batch_op {
	struct msghdr mh;
	struct iovec iov;
	void (*done)(struct media_batch_op *op, int res); /* bytes or -errno */
	bool busy;			/* queued or in flight */
};

/* A socket owner the batch asks to post its receives on each read. */
struct media_batch_reader {
	struct media_batch_reader *next, *prev;
	struct media_batch *b;		/* NULL: not joined */
	void (*post)(struct media_batch_reader *rd, uint64_t now_ns);
};

struct media_batch_stats {
	uint64_t submits;		/* io_uring_enter calls */
	uint64_t ops;			/* operations they carried */
	uint64_t reads;			/* batch reads */
};

int  media_batch_enable(void);
void media_batch_disable(void);
struct media_batch *media_batch_self(void);
void media_batch_flush(struct media_batch *b);
void media_batch_wait(struct media_batch *b, struct media_batch_op *op);
int  media_batch_send(struct media_batch *b, int fd,
		      struct media_batch_op *op);
int  media_batch_recv(struct media_batch *b, int fd,
		      struct media_batch_op *op);
void media_batch_join(struct media_batch *b, struct media_batch_reader *rd);
void media_batch_leave(struct media_batch_reader *rd);
void media_batch_read(struct media_batch *b, uint64_t now_ns);
void media_batch_stats(const struct media_batch *b,
		       struct media_batch_stats *st);

#endif
