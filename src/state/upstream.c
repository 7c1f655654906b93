#include <netinet/in.h>
#include <sched.h>
#include <string.h>

#include "shoal/state/upstream.h"

/* Yields a writer waits for another one to finish before it takes the set over (the other
 * was killed while writing: a live one takes well under a microsecond). */
#define ADDR_WRITER_WAIT 10000
/* Reads a reader tries before it gives up on a set being written. */
#define ADDR_READ_TRIES 1000

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

/* --- the address set (a seqlock) --- */

static bool addr_from_sockaddr(struct shoal_state_addr *a, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)ss;

	memset(a, 0, sizeof(*a));
	a->family = ss->ss_family;
	if (ss->ss_family == AF_INET) {
		a->port = ntohs(sin->sin_port);
		memcpy(a->addr, &sin->sin_addr, sizeof(sin->sin_addr));
	} else if (ss->ss_family == AF_INET6) {
		a->port = ntohs(sin6->sin6_port);
		memcpy(a->addr, &sin6->sin6_addr, sizeof(sin6->sin6_addr));
	} else {
		return false;
	}
	return true;
}

static bool addr_to_sockaddr(struct sockaddr_storage *ss, const struct shoal_state_addr *a)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)ss;

	if (a->family == AF_INET) {
		memset(sin, 0, sizeof(*sin));
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->addr, sizeof(sin->sin_addr));
	} else if (a->family == AF_INET6) {
		memset(sin6, 0, sizeof(*sin6));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(a->port);
		memcpy(&sin6->sin6_addr, a->addr, sizeof(sin6->sin6_addr));
	} else {
		return false;
	}
	return true;
}

/* Makes addr_seq odd for this writer and returns the odd value: from an even one, or past an
 * odd one that stayed so for ADDR_WRITER_WAIT yields. */
static uint32_t addr_write_begin(struct shoal_state_upstream *e)
{
	uint32_t seq = atomic_load_explicit(&e->addr_seq, memory_order_relaxed);
	unsigned waited = 0;

	for (;;) {
		if ((seq & 1u) && waited < ADDR_WRITER_WAIT) {
			waited++;
			sched_yield();
			seq = atomic_load_explicit(&e->addr_seq, memory_order_relaxed);
			continue;
		}
		uint32_t mine = seq + ((seq & 1u) ? 2u : 1u);
		if (atomic_compare_exchange_weak_explicit(&e->addr_seq, &seq, mine,
							  memory_order_acquire,
							  memory_order_relaxed)) {
			/* The odd value is visible before any byte of the set changes. */
			atomic_thread_fence(memory_order_release);
			return mine;
		}
	}
}

unsigned shoal_state_upstream_set_addrs(struct shoal_state_upstream *e,
					const struct sockaddr_storage *addrs, unsigned n)
{
	struct shoal_state_addr set[SHOAL_STATE_UPSTREAM_ADDRS];
	unsigned count = 0;
	uint32_t mine;

	for (unsigned i = 0; i < n && count < SHOAL_STATE_UPSTREAM_ADDRS; i++)
		count += addr_from_sockaddr(&set[count], &addrs[i]);
	mine = addr_write_begin(e);
	e->addr_count = count;
	memcpy(e->addrs, set, count * sizeof(set[0]));
	atomic_store_explicit(&e->addr_seq, mine + 1, memory_order_release);
	return count;
}

/* One try: the count and addresses as they were under one even addr_seq, else false. */
static bool addr_read(const struct shoal_state_upstream *e, struct shoal_state_addr *set,
		      uint32_t *count, uint32_t *seq)
{
	uint32_t before = atomic_load_explicit(&e->addr_seq, memory_order_acquire);

	if (before & 1u)
		return false;
	*count = e->addr_count;
	if (*count > SHOAL_STATE_UPSTREAM_ADDRS)
		*count = SHOAL_STATE_UPSTREAM_ADDRS;
	memcpy(set, e->addrs, *count * sizeof(set[0]));
	atomic_thread_fence(memory_order_acquire);
	*seq = before;
	return atomic_load_explicit(&e->addr_seq, memory_order_relaxed) == before;
}

unsigned shoal_state_upstream_addrs(const struct shoal_state_upstream *e,
				    struct sockaddr_storage *out, unsigned max, uint32_t *seq)
{
	struct shoal_state_addr set[SHOAL_STATE_UPSTREAM_ADDRS];
	uint32_t count = 0;
	unsigned n = 0;

	*seq = atomic_load_explicit(&e->addr_seq, memory_order_relaxed);
	for (unsigned tries = 0; tries < ADDR_READ_TRIES; tries++) {
		if (!addr_read(e, set, &count, seq))
			continue;
		for (uint32_t i = 0; i < count && n < max; i++)
			n += addr_to_sockaddr(&out[n], &set[i]);
		return n;
	}
	return 0;
}

uint32_t shoal_state_upstream_addr_seq(const struct shoal_state_upstream *e)
{
	return atomic_load_explicit(&e->addr_seq, memory_order_relaxed);
}
