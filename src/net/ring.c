#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/net/ring.h"

int shoal_ring_init(struct shoal_ring *r, unsigned slots, const char *what,
		    struct shoal_err *err)
{
	int rc;

	memset(r, 0, sizeof(*r));
	if (!(r->free = calloc(slots, sizeof(uint32_t))) ||
	    !(r->round = calloc(slots, sizeof(uint32_t))))
		return shoal_err_set(err, "%s: out of memory", what);
	rc = io_uring_queue_init(slots, &r->uring, 0);
	if (rc < 0)
		return shoal_err_set(err, "%s: io_uring_setup: %s", what, strerror(-rc));
	r->ready = true;
	r->nslots = slots;
	for (unsigned i = 0; i < slots; i++)
		r->free[i] = slots - 1 - i;
	r->nfree = slots;
	return 0;
}

void shoal_ring_close(struct shoal_ring *r)
{
	if (r->ready)
		io_uring_queue_exit(&r->uring);
	r->ready = false;
	free(r->round);
	free(r->free);
	r->round = r->free = NULL;
}

struct io_uring_sqe *shoal_ring_prepare(struct shoal_ring *r, uint32_t idx)
{
	/* A slot has one operation at a time and the ring as many submissions as slots. */
	r->round[r->nround++] = idx;
	return io_uring_get_sqe(&r->uring);
}

int shoal_ring_submit(struct shoal_ring *r)
{
	int rc;

	if (r->nround == 0)
		return 0;
	do
		rc = io_uring_submit_and_wait(&r->uring, r->nround);
	while (rc == -EINTR);
	if (rc < 0) {
		r->broken = true;
		return -1;
	}
	r->saved += r->nround - 1;
	return 0;
}
