/* A worker's memory for connections. Connection structs come from slabs and are recycled; one
 * closed during an event batch is recycled only after the batch, since an event for it may
 * still be pending in the batch. The buffers of busy connections (struct shoal_conn_io) are
 * kept for reuse up to a bound, so that idle connections cost only their struct.
 *
 * The ends a PROXY protocol header named, and the TLS state of a connection on a tls address,
 * live beside a connection for as long as it does, in slabs of their own that never move:
 * only the connections that need them pay for them, and a connection holds a 4-byte index
 * rather than a pointer, which its struct has room for. */
#ifndef SHOAL_WORKER_POOL_H
#define SHOAL_WORKER_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "shoal/net/proxy_proto.h"
#include "shoal/tls/conn.h"

struct shoal_conn;
struct shoal_conn_io;
struct shoal_conn_slab;

/* Entries of one size beside the connections, by index (> 0; 0: none). */
struct shoal_pool_side {
	char **slabs;
	uint32_t nslabs;
	uint32_t free; /* index of the first free entry, 0: none */
	size_t size;   /* of an entry, at least 4: a free one holds the next free index */
};

struct shoal_conn_pool {
	struct shoal_conn_slab *slabs;
	struct shoal_conn *free_conns; /* recycled connection structs */
	struct shoal_conn *closed;     /* closed during this event batch, recycled after it */
	struct shoal_conn_io *free_io; /* recycled buffers */
	size_t nfree_io;
	size_t in_size, scratch_size;  /* of each shoal_conn_io's two buffers */
	struct shoal_pool_side relayed; /* struct shoal_proxy_proto_addrs */
	struct shoal_pool_side tls;     /* struct shoal_tls_conn */
};

void shoal_pool_init(struct shoal_conn_pool *p, size_t in_size, size_t scratch_size);
/* Frees everything; every connection must have been recycled. */
void shoal_pool_free(struct shoal_conn_pool *p);

/* A zeroed connection struct, or NULL if memory runs out. */
struct shoal_conn *shoal_pool_conn_get(struct shoal_conn_pool *p);
/* A closed connection, recycled by shoal_pool_recycle. */
void shoal_pool_conn_closed(struct shoal_conn_pool *p, struct shoal_conn *c);
/* After an event batch: makes the connections closed during it available again, with their
 * relayed ends and TLS states. */
void shoal_pool_recycle(struct shoal_conn_pool *p);

/* An entry for a connection's relayed ends: its index (> 0), or 0 if memory runs out. The
 * connection keeps it in c->relayed; it is given back as the connection is recycled. */
uint32_t shoal_pool_relayed_get(struct shoal_conn_pool *p);
/* The entry at index, an index shoal_pool_relayed_get returned. It does not move until it is
 * given back. */
struct shoal_proxy_proto_addrs *shoal_pool_relayed(const struct shoal_conn_pool *p,
						   uint32_t index);

/* An entry for a connection's TLS state (c->tls), as for the relayed ends; the TLS
 * transport is closed before the connection is recycled. */
uint32_t shoal_pool_tls_get(struct shoal_conn_pool *p);
struct shoal_tls_conn *shoal_pool_tls(const struct shoal_conn_pool *p, uint32_t index);

/* Buffers with empty input and an empty output batch, or NULL if memory runs out. */
struct shoal_conn_io *shoal_pool_io_get(struct shoal_conn_pool *p);
void shoal_pool_io_put(struct shoal_conn_pool *p, struct shoal_conn_io *io);

#endif
