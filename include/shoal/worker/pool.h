/* A worker's memory for connections. Connection structs come from slabs and are recycled; one
 * closed during an event batch is recycled only after the batch, since an event for it may
 * still be pending in the batch. The buffers of busy connections (struct shoal_conn_io) are
 * kept for reuse up to a bound, so that idle connections cost only their struct. */
#ifndef SHOAL_WORKER_POOL_H
#define SHOAL_WORKER_POOL_H

#include <stddef.h>

struct shoal_conn;
struct shoal_conn_io;
struct shoal_conn_slab;

struct shoal_conn_pool {
	struct shoal_conn_slab *slabs;
	struct shoal_conn *free_conns; /* recycled connection structs */
	struct shoal_conn *closed;     /* closed during this event batch, recycled after it */
	struct shoal_conn_io *free_io; /* recycled buffers */
	size_t nfree_io;
	size_t in_size, scratch_size;  /* of each shoal_conn_io's two buffers */
};

void shoal_pool_init(struct shoal_conn_pool *p, size_t in_size, size_t scratch_size);
/* Frees everything; every connection must have been recycled. */
void shoal_pool_free(struct shoal_conn_pool *p);

/* A zeroed connection struct, or NULL if memory runs out. */
struct shoal_conn *shoal_pool_conn_get(struct shoal_conn_pool *p);
/* A closed connection, recycled by shoal_pool_recycle. */
void shoal_pool_conn_closed(struct shoal_conn_pool *p, struct shoal_conn *c);
/* After an event batch: makes the connections closed during it available again. */
void shoal_pool_recycle(struct shoal_conn_pool *p);

/* Buffers with empty input and an empty output batch, or NULL if memory runs out. */
struct shoal_conn_io *shoal_pool_io_get(struct shoal_conn_pool *p);
void shoal_pool_io_put(struct shoal_conn_pool *p, struct shoal_conn_io *io);

#endif
