#include <stdlib.h>
#include <string.h>

#include "shoal/worker/conn.h"
#include "shoal/worker/pool.h"

/* Connections are allocated 64 at a time: an idle connection then costs sizeof(struct
 * shoal_conn) and not a malloc header more. */
#define SLAB_CONNS 64
/* Buffers of busy connections kept for reuse; more are freed when their connection rests. */
#define IO_POOL_MAX 256
/* Entries beside connections are allocated this many at a time. */
#define SLAB_SIDE 64

struct shoal_conn_slab {
	struct shoal_conn_slab *next;
	struct shoal_conn conns[SLAB_CONNS];
};

static void pool_side_init(struct shoal_pool_side *side, size_t size)
{
	*side = (struct shoal_pool_side){ .size = size };
}

static void pool_side_free(struct shoal_pool_side *side)
{
	for (uint32_t i = 0; i < side->nslabs; i++)
		free(side->slabs[i]);
	free(side->slabs);
	pool_side_init(side, side->size);
}

static void *pool_side_at(const struct shoal_pool_side *side, uint32_t index)
{
	return side->slabs[(index - 1) / SLAB_SIDE] + (size_t)((index - 1) % SLAB_SIDE) * side->size;
}

static void pool_side_put(struct shoal_pool_side *side, uint32_t index)
{
	memcpy(pool_side_at(side, index), &side->free, sizeof(side->free));
	side->free = index;
}

/* A slab more: the slab array grows, the entries never move. */
static int pool_side_grow(struct shoal_pool_side *side)
{
	char **slabs;
	uint32_t first = side->nslabs * SLAB_SIDE + 1;

	if (side->nslabs >= UINT32_MAX / SLAB_SIDE - 1)
		return -1;
	slabs = realloc(side->slabs, (side->nslabs + 1) * sizeof(*slabs));
	if (!slabs)
		return -1;
	side->slabs = slabs;
	slabs[side->nslabs] = malloc(SLAB_SIDE * side->size);
	if (!slabs[side->nslabs])
		return -1;
	side->nslabs++;
	for (uint32_t i = SLAB_SIDE; i-- > 0;)
		pool_side_put(side, first + i);
	return 0;
}

static uint32_t pool_side_get(struct shoal_pool_side *side)
{
	uint32_t index;

	if (!side->free && pool_side_grow(side) < 0)
		return 0;
	index = side->free;
	memcpy(&side->free, pool_side_at(side, index), sizeof(side->free));
	return index;
}

void shoal_pool_init(struct shoal_conn_pool *p, size_t in_size, size_t scratch_size)
{
	memset(p, 0, sizeof(*p));
	p->in_size = in_size;
	p->scratch_size = scratch_size;
	pool_side_init(&p->relayed, sizeof(struct shoal_proxy_proto_addrs));
	pool_side_init(&p->tls, sizeof(struct shoal_tls_conn));
}

void shoal_pool_free(struct shoal_conn_pool *p)
{
	while (p->slabs) {
		struct shoal_conn_slab *slab = p->slabs;
		p->slabs = slab->next;
		free(slab);
	}
	while (p->free_io) {
		struct shoal_conn_io *io = p->free_io;
		p->free_io = io->next_free;
		free(io);
	}
	pool_side_free(&p->relayed);
	pool_side_free(&p->tls);
	p->free_conns = NULL;
	p->nfree_io = 0;
}

uint32_t shoal_pool_relayed_get(struct shoal_conn_pool *p)
{
	return pool_side_get(&p->relayed);
}

struct shoal_proxy_proto_addrs *shoal_pool_relayed(const struct shoal_conn_pool *p,
						   uint32_t index)
{
	return pool_side_at(&p->relayed, index);
}

uint32_t shoal_pool_tls_get(struct shoal_conn_pool *p)
{
	return pool_side_get(&p->tls);
}

struct shoal_tls_conn *shoal_pool_tls(const struct shoal_conn_pool *p, uint32_t index)
{
	return pool_side_at(&p->tls, index);
}

static void pool_conn_put(struct shoal_conn_pool *p, struct shoal_conn *c)
{
	c->next = p->free_conns;
	p->free_conns = c;
}

struct shoal_conn *shoal_pool_conn_get(struct shoal_conn_pool *p)
{
	struct shoal_conn *c;

	if (!p->free_conns) {
		struct shoal_conn_slab *slab = malloc(sizeof(*slab));
		if (!slab)
			return NULL;
		slab->next = p->slabs;
		p->slabs = slab;
		for (size_t i = 0; i < SLAB_CONNS; i++)
			pool_conn_put(p, &slab->conns[i]);
	}
	c = p->free_conns;
	p->free_conns = c->next;
	memset(c, 0, sizeof(*c));
	return c;
}

void shoal_pool_conn_closed(struct shoal_conn_pool *p, struct shoal_conn *c)
{
	c->next = p->closed;
	p->closed = c;
}

void shoal_pool_recycle(struct shoal_conn_pool *p)
{
	while (p->closed) {
		struct shoal_conn *c = p->closed;
		p->closed = c->next;
		if (c->relayed)
			pool_side_put(&p->relayed, c->relayed);
		if (c->tls)
			pool_side_put(&p->tls, c->tls);
		pool_conn_put(p, c);
	}
}

struct shoal_conn_io *shoal_pool_io_get(struct shoal_conn_pool *p)
{
	struct shoal_conn_io *io = p->free_io;

	if (io) {
		p->free_io = io->next_free;
		p->nfree_io--;
	} else {
		io = malloc(sizeof(*io) + p->in_size + p->scratch_size);
		if (!io)
			return NULL;
		io->in = io->storage;
	}
	io->in_len = io->in_pos = io->in_scanned = 0;
	io->deferred = false;
	io->body_left = 0;
	io->body_chunked = false;
	io->async = NULL;
	shoal_out_init(&io->out, io->storage + p->in_size, p->scratch_size);
	return io;
}

void shoal_pool_io_put(struct shoal_conn_pool *p, struct shoal_conn_io *io)
{
	/* A burst of busy connections must not leave its buffers behind for good: idle
	 * connections are meant to cost only their struct. */
	if (p->nfree_io >= IO_POOL_MAX) {
		free(io);
		return;
	}
	io->next_free = p->free_io;
	p->free_io = io;
	p->nfree_io++;
}
