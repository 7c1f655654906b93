#include <string.h>

#include "shoal/state/upstream.h"

static void upstream_text(char *dst, const char *src)
{
	size_t len = strnlen(src, SHOAL_STATE_UPSTREAM_TEXT - 1);

	memset(dst, 0, SHOAL_STATE_UPSTREAM_TEXT);
	memcpy(dst, src, len);
}

unsigned shoal_state_upstream_count(const struct shoal_state *st)
{
	unsigned used = atomic_load_explicit(&st->hdr->upstream_used, memory_order_acquire);

	return used < st->hdr->upstream_room ? used : st->hdr->upstream_room;
}

struct shoal_state_upstream *shoal_state_upstream_at(const struct shoal_state *st, unsigned i)
{
	char *base = (char *)st->hdr + st->hdr->upstream_offset;

	return (struct shoal_state_upstream *)(base + (size_t)i * st->hdr->upstream_entry_size);
}

/* Names are compared as padded text, so equal names are equal bytes whatever their length. */
static struct shoal_state_upstream *upstream_lookup(const struct shoal_state *st,
						    const char *name, const char *addr)
{
	unsigned n = shoal_state_upstream_count(st);

	for (unsigned i = 0; i < n; i++) {
		struct shoal_state_upstream *e = shoal_state_upstream_at(st, i);
		if (memcmp(e->upstream, name, SHOAL_STATE_UPSTREAM_TEXT) == 0 &&
		    memcmp(e->server, addr, SHOAL_STATE_UPSTREAM_TEXT) == 0)
			return e;
	}
	return NULL;
}

struct shoal_state_upstream *shoal_state_upstream_find(const struct shoal_state *st,
							 const char *upstream, const char *server)
{
	char name[SHOAL_STATE_UPSTREAM_TEXT], addr[SHOAL_STATE_UPSTREAM_TEXT];

	upstream_text(name, upstream);
	upstream_text(addr, server);
	return upstream_lookup(st, name, addr);
}

struct shoal_state_upstream *shoal_state_upstream_add(struct shoal_state *st,
							const char *upstream, const char *server,
							uint64_t now_ms)
{
	char name[SHOAL_STATE_UPSTREAM_TEXT], addr[SHOAL_STATE_UPSTREAM_TEXT];
	struct shoal_state_upstream *e;
	unsigned used;

	upstream_text(name, upstream);
	upstream_text(addr, server);
	e = upstream_lookup(st, name, addr);
	if (e)
		return e;
	used = atomic_load_explicit(&st->hdr->upstream_used, memory_order_relaxed);
	if (used >= st->hdr->upstream_room)
		return NULL;
	e = shoal_state_upstream_at(st, used);
	memset(e, 0, sizeof(*e));
	memcpy(e->upstream, name, sizeof(name));
	memcpy(e->server, addr, sizeof(addr));
	atomic_store_explicit(&e->usable_since_ms, now_ms, memory_order_relaxed);
	/* Release: a process that sees the new count sees the entry whole. */
	atomic_store_explicit(&st->hdr->upstream_used, used + 1, memory_order_release);
	return e;
}
