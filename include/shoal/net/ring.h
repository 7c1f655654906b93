/* What the send and read queues (shoal/net/sendq.h, shoal/net/recvq.h) share: one io_uring
 * per loop (struct shoal_ring), and the bookkeeping each queue keeps over it (struct
 * shoal_ring_queue): the free list of its slots, the round of operations being submitted,
 * and the count of system calls it saved. Each queue owns its slots' memory and what a slot
 * means; this module hands out their indexes and submits a round.
 *
 * One io_uring rather than one per queue: the kernel keeps, per task, the last ring it
 * entered and looks any other one up in a tree (xa_load: 1.9 % of a proxied request's
 * samples when the two queues alternated). Its descriptor is registered with the kernel
 * where it allows (Linux 5.18), which spares the fget of every io_uring_enter (0.8 %).
 * Rounds never overlap: a queue submits its round and reaps every completion before the
 * loop goes on (each operation is non-blocking and ends inside the call), so the
 * completions in the ring after a queue's submit are its own. */
#ifndef SHOAL_NET_RING_H
#define SHOAL_NET_RING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "shoal/base/error.h"

struct shoal_ring {
	struct io_uring uring;
	bool ready;  /* uring is set up */
	bool broken; /* an io_uring_enter failed: the queues use system calls from now on */
};

struct shoal_ring_queue {
	struct shoal_ring *ring;
	unsigned nfree, nround;
	unsigned long saved; /* operations batched, less the io_uring_enter calls they took */
	uint32_t *free;      /* slot indexes */
	uint32_t *round;     /* the slots whose operations wait in the submission ring, in order */
};

/* A ring for queues of `slots` slots in all. -1 with err set when io_uring is refused (an
 * old kernel, kernel.io_uring_disabled, a seccomp filter); the ring can be closed all the
 * same. Close it after the queues over it. */
int shoal_ring_init(struct shoal_ring *r, unsigned slots, struct shoal_err *err);
void shoal_ring_close(struct shoal_ring *r);

/* A queue over ring r (ready) for `slots` slots, all free. -1 with err set (what: the
 * queue's name) when memory is refused; the queue can be closed all the same. */
int shoal_ring_queue_init(struct shoal_ring_queue *q, struct shoal_ring *r, unsigned slots,
			  const char *what, struct shoal_err *err);
void shoal_ring_queue_close(struct shoal_ring_queue *q);

/* A free slot's index (nfree > 0), and one given back. */
static inline uint32_t shoal_ring_take(struct shoal_ring_queue *q)
{
	return q->free[--q->nfree];
}

static inline void shoal_ring_give(struct shoal_ring_queue *q, uint32_t idx)
{
	q->free[q->nfree++] = idx;
}

/* A submission for slot idx, added to the queue's round: the caller prepares it, then sets
 * its user data to idx (liburing's prep functions leave the user data alone). */
struct io_uring_sqe *shoal_ring_prepare(struct shoal_ring_queue *q, uint32_t idx);

/* Submits the queue's round with one io_uring_enter and waits for every operation of it:
 * they are all non-blocking (MSG_DONTWAIT), so each ends inside the call. 0: their
 * completions are in the ring's completion queue; -1: io_uring_enter failed and took none
 * of them, and the ring is broken. The round stays listed (round, nround) until the caller
 * empties it. */
int shoal_ring_submit(struct shoal_ring_queue *q);

#endif
