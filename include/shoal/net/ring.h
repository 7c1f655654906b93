/* What the send and read queues (shoal/net/sendq.h, shoal/net/recvq.h) share: an io_uring,
 * the free list of their slots, the round of operations being submitted, and the count of
 * system calls they saved. Each queue owns its slots' memory and what a slot means; this
 * module hands out their indexes and submits a round. */
#ifndef SHOAL_NET_RING_H
#define SHOAL_NET_RING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "shoal/base/error.h"

struct shoal_ring {
	struct io_uring uring;
	bool ready;  /* uring is set up */
	bool broken; /* an io_uring_enter failed: the queue uses system calls from now on */
	unsigned nslots, nfree, nround;
	unsigned long saved; /* operations batched, less the io_uring_enter calls they took */
	uint32_t *free;      /* slot indexes */
	uint32_t *round;     /* the slots whose operations wait in the submission ring, in order */
};

/* A ring for `slots` slots, all free, with as many submissions (and twice as many
 * completions). -1 with err set (what: the queue's name) when memory or io_uring is refused;
 * the ring can be closed all the same. */
int shoal_ring_init(struct shoal_ring *r, unsigned slots, const char *what,
		    struct shoal_err *err);
void shoal_ring_close(struct shoal_ring *r);

/* A free slot's index (nfree > 0), and one given back. */
static inline uint32_t shoal_ring_take(struct shoal_ring *r)
{
	return r->free[--r->nfree];
}

static inline void shoal_ring_give(struct shoal_ring *r, uint32_t idx)
{
	r->free[r->nfree++] = idx;
}

/* A submission for slot idx, added to the round: the caller prepares it, then sets its user
 * data to idx (liburing's prep functions leave the user data alone). */
struct io_uring_sqe *shoal_ring_prepare(struct shoal_ring *r, uint32_t idx);

/* Submits the round with one io_uring_enter and waits for every operation of it: they are
 * all non-blocking (MSG_DONTWAIT), so each ends inside the call. 0: their completions are in
 * the completion ring; -1: io_uring_enter failed and took none of them, and the ring is
 * broken. The round stays listed (round, nround) until the caller empties it. */
int shoal_ring_submit(struct shoal_ring *r);

#endif
