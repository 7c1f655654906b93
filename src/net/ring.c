#include <stdlib.h>
#include <string.h>

#include "shoal/net/ring.h"

int shoal_ring_init(struct shoal_ring *r, unsigned slots, unsigned entries, const char *what,
		    struct shoal_err *err)
{
	int rc;

	memset(r, 0, sizeof(*r));
	if (!(r->free = calloc(slots, sizeof(uint32_t))))
		return shoal_err_set(err, "%s: out of memory", what);
	rc = io_uring_queue_init(entries, &r->uring, 0);
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
	free(r->free);
	r->free = NULL;
}
