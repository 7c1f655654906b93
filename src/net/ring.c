#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/net/ring.h"

int shoal_ring_init(struct shoal_ring *r, unsigned slots, struct shoal_err *err)
{
	int rc;

	memset(r, 0, sizeof(*r));
	rc = io_uring_queue_init(slots, &r->uring, 0);
	if (rc < 0)
		return shoal_err_set(err, "io_uring_setup: %s", strerror(-rc));
	r->ready = true;
	/* Refused before Linux 5.18: the ring's descriptor is then looked up per call. */
	(void)io_uring_register_ring_fd(&r->uring);
	return 0;
}

void shoal_ring_close(struct shoal_ring *r)
{
	if (r->ready)
		io_uring_queue_exit(&r->uring);
	r->ready = false;
}

int shoal_ring_queue_init(struct shoal_ring_queue *q, struct shoal_ring *r, unsigned slots,
			  const char *what, struct shoal_err *err)
{
	memset(q, 0, sizeof(*q));
	q->ring = r;
	if (!(q->free = calloc(slots, sizeof(uint32_t))) ||
	    !(q->round = calloc(slots, sizeof(uint32_t))))
		return shoal_err_set(err, "%s: out of memory", what);
	for (unsigned i = 0; i < slots; i++)
		q->free[i] = slots - 1 - i;
	q->nfree = slots;
	return 0;
}

void shoal_ring_queue_close(struct shoal_ring_queue *q)
{
	free(q->round);
	free(q->free);
	q->round = q->free = NULL;
}

struct io_uring_sqe *shoal_ring_prepare(struct shoal_ring_queue *q, uint32_t idx)
{
	/* A slot has one operation at a time, and the ring as many submissions as the slots
	 * of its queues. */
	q->round[q->nround++] = idx;
	return io_uring_get_sqe(&q->ring->uring);
}

int shoal_ring_submit(struct shoal_ring_queue *q)
{
	int rc;

	if (q->nround == 0)
		return 0;
	do
		rc = io_uring_submit_and_wait(&q->ring->uring, q->nround);
	while (rc == -EINTR);
	if (rc < 0) {
		q->ring->broken = true;
		return -1;
	}
	q->saved += q->nround - 1;
	return 0;
}
