/* What the send and read queues (shoal/net/sendq.h, shoal/net/recvq.h) share: an io_uring,
 * the free list of their slots, and the count of system calls they saved. Each queue owns
 * its slots' memory and what a slot means; this module only hands out their indexes. */
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
	unsigned nslots, nfree;
	unsigned long saved; /* operations batched, less the io_uring_enter calls they took */
	uint32_t *free;      /* slot indexes */
};

/* A ring of `entries` submissions (and twice as many completions) for `slots` slots, all
 * free. -1 with err set (what: the queue's name) when memory or io_uring is refused; the
 * ring can be closed all the same. */
int shoal_ring_init(struct shoal_ring *r, unsigned slots, unsigned entries, const char *what,
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

#endif
