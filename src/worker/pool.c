#include <stdlib.h>
#include <string.h>

#include "shoal/worker/conn.h"
#include "shoal/worker/pool.h"

/* Connections are allocated 64 at a time: an idle connection then costs sizeof(struct
 * shoal_conn) and not a malloc header more. */
#define SLAB_CONNS 64
/* Buffers of busy connections kept for reuse; more are freed when their connection rests. */
#define IO_POOL_MAX 256
/* Relayed ends are allocated this many at a time. */
#define SLAB_RELAYED 64

/* A free entry holds the index of the next free one. */
union pool_relayed {
	struct shoal_proxy_proto_addrs addrs;
	uint32_t next_free;
};

struct shoal_pool_relayed_slab {
	union pool_relayed entries[SLAB_RELAYED];
};

struct shoal_conn_slab {
	struct shoal_conn_slab *next;
	struct shoal_conn conns[SLAB_CONNS];
};

void shoal_pool_init(struct shoal_conn_pool *p, size_t in_size, size_t scratch_size)
{
	memset(p, 0, sizeof(*p));
	p->in_size = in_size;
	p->scratch_size = scratch_size;
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
	for (uint32_t i = 0; i < p->nrelayed_slabs; i++)
		free(p->relayed[i]);
	free(p->relayed);
	p->relayed = NULL;
	p->nrelayed_slabs = 0;
	p->free_relayed = 0;
	p->free_conns = NULL;
	p->nfree_io = 0;
}

static union pool_relayed *pool_relayed_at(const struct shoal_conn_pool *p, uint32_t index)
{
	return &p->relayed[(index - 1) / SLAB_RELAYED]->entries[(index - 1) % SLAB_RELAYED];
}

static void pool_relayed_put(struct shoal_conn_pool *p, uint32_t index)
{
	pool_relayed_at(p, index)->next_free = p->free_relayed;
	p->free_relayed = index;
}

/* A slab more: the slab array grows, the entries never move. */
static int pool_relayed_grow(struct shoal_conn_pool *p)
{
	struct shoal_pool_relayed_slab **slabs;
	uint32_t first = p->nrelayed_slabs * SLAB_RELAYED + 1;

	if (p->nrelayed_slabs >= UINT32_MAX / SLAB_RELAYED - 1)
		return -1;
	slabs = realloc(p->relayed, (p->nrelayed_slabs + 1) * sizeof(*slabs));
	if (!slabs)
		return -1;
	p->relayed = slabs;
	slabs[p->nrelayed_slabs] = malloc(sizeof(**slabs));
	if (!slabs[p->nrelayed_slabs])
		return -1;
	p->nrelayed_slabs++;
	for (uint32_t i = SLAB_RELAYED; i-- > 0;)
		pool_relayed_put(p, first + i);
	return 0;
}

uint32_t shoal_pool_relayed_get(struct shoal_conn_pool *p)
{
	uint32_t index;

	if (!p->free_relayed && pool_relayed_grow(p) < 0)
		return 0;
	index = p->free_relayed;
	p->free_relayed = pool_relayed_at(p, index)->next_free;
	return index;
}

struct shoal_proxy_proto_addrs *shoal_pool_relayed(const struct shoal_conn_pool *p,
						   uint32_t index)
{
	return &pool_relayed_at(p, index)->addrs;
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
			pool_relayed_put(p, c->relayed);
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
