#include <stdlib.h>
#include <string.h>

#include "shoal/stats/upstream.h"

/* A table of upstream servers starts with room for this many and doubles. */
#define FIRST_ROOM 16

static void upstream_text(char *dst, const char *src)
{
	size_t len = strnlen(src, SHOAL_STATS_UPSTREAM_TEXT - 1);

	memset(dst, 0, SHOAL_STATS_UPSTREAM_TEXT);
	memcpy(dst, src, len);
}

static bool upstream_is_gauge(unsigned counter)
{
	return counter == SHOAL_STATS_UP_ACTIVE || counter == SHOAL_STATS_UP_IDLE;
}

int shoal_stats_upstream_register(struct shoal_stats_slot *slot, const char *upstream,
				  const char *server)
{
	char name[SHOAL_STATS_UPSTREAM_TEXT], addr[SHOAL_STATS_UPSTREAM_TEXT];
	struct shoal_stats_upstream_entry *e;
	unsigned n;

	if (!slot)
		return -1;
	upstream_text(name, upstream);
	upstream_text(addr, server);
	n = atomic_load_explicit(&slot->upstreams, memory_order_relaxed);
	for (unsigned i = 0; i < n; i++)
		if (memcmp(slot->upstream[i].upstream, name, sizeof(name)) == 0 &&
		    memcmp(slot->upstream[i].server, addr, sizeof(addr)) == 0)
			return (int)i;
	if (n >= SHOAL_STATS_UPSTREAM_ROOM)
		return -1;
	e = &slot->upstream[n];
	shoal_stats_write_begin(slot);
	memcpy(e->upstream, name, sizeof(name));
	memcpy(e->server, addr, sizeof(addr));
	for (unsigned c = 0; c < SHOAL_STATS_UP_NCOUNTERS; c++)
		atomic_store_explicit(&e->counters[c], 0, memory_order_relaxed);
	atomic_store_explicit(&slot->upstreams, n + 1, memory_order_relaxed);
	shoal_stats_write_end(slot);
	return (int)n;
}

static struct shoal_stats_upstream_entry *upstream_retired(struct shoal_stats_header *h)
{
	return (struct shoal_stats_upstream_entry *)((char *)h + h->upstream_retired_offset);
}

/* The retired entry of e's names, appended if new; NULL when the area is full. */
static struct shoal_stats_upstream_entry *
upstream_retired_entry(struct shoal_stats_header *h, const struct shoal_stats_upstream_entry *e)
{
	struct shoal_stats_upstream_entry *r = upstream_retired(h);
	unsigned used = atomic_load_explicit(&h->upstream_retired_used, memory_order_relaxed);

	for (unsigned i = 0; i < used; i++)
		if (memcmp(r[i].upstream, e->upstream, sizeof(e->upstream)) == 0 &&
		    memcmp(r[i].server, e->server, sizeof(e->server)) == 0)
			return &r[i];
	if (used >= h->upstream_retired_room)
		return NULL;
	memcpy(r[used].upstream, e->upstream, sizeof(e->upstream));
	memcpy(r[used].server, e->server, sizeof(e->server));
	atomic_store_explicit(&h->upstream_retired_used, used + 1, memory_order_relaxed);
	return &r[used];
}

static void upstream_fold_entry(struct shoal_stats_header *h, struct shoal_stats_upstream_entry *e)
{
	struct shoal_stats_upstream_entry *r = upstream_retired_entry(h, e);

	if (!r)
		atomic_store_explicit(&h->upstream_dropped,
				      atomic_load_explicit(&h->upstream_dropped,
							   memory_order_relaxed) + 1,
				      memory_order_relaxed);
	for (unsigned c = 0; c < SHOAL_STATS_UP_NCOUNTERS; c++) {
		uint64_t n = atomic_load_explicit(&e->counters[c], memory_order_relaxed);
		if (r && !upstream_is_gauge(c))
			atomic_store_explicit(&r->counters[c],
					      atomic_load_explicit(&r->counters[c],
								   memory_order_relaxed) + n,
					      memory_order_relaxed);
		atomic_store_explicit(&e->counters[c], 0, memory_order_relaxed);
	}
	memset(e->upstream, 0, sizeof(e->upstream));
	memset(e->server, 0, sizeof(e->server));
}

void shoal_stats_upstream_fold(struct shoal_stats_header *h, struct shoal_stats_slot *slot)
{
	unsigned n = atomic_load_explicit(&slot->upstreams, memory_order_relaxed);

	if (n > SHOAL_STATS_UPSTREAM_ROOM)
		n = SHOAL_STATS_UPSTREAM_ROOM;
	for (unsigned i = 0; i < n; i++)
		upstream_fold_entry(h, &slot->upstream[i]);
	atomic_store_explicit(&slot->upstreams, 0, memory_order_relaxed);
}

static void upstream_copy_entry(const struct shoal_stats_upstream_entry *e,
				struct shoal_stats_upstream_stat *out)
{
	memcpy(out->upstream, e->upstream, sizeof(out->upstream));
	memcpy(out->server, e->server, sizeof(out->server));
	/* A torn copy is thrown away by the caller; its names must still end. */
	out->upstream[sizeof(out->upstream) - 1] = '\0';
	out->server[sizeof(out->server) - 1] = '\0';
	for (unsigned c = 0; c < SHOAL_STATS_UP_NCOUNTERS; c++)
		out->counters[c] = atomic_load_explicit(&e->counters[c], memory_order_relaxed);
}

unsigned shoal_stats_upstream_copy(const struct shoal_stats_slot *slot,
				   struct shoal_stats_upstream_stat *out)
{
	unsigned n = atomic_load_explicit(&slot->upstreams, memory_order_relaxed);

	if (n > SHOAL_STATS_UPSTREAM_ROOM)
		n = SHOAL_STATS_UPSTREAM_ROOM;
	for (unsigned i = 0; i < n; i++)
		upstream_copy_entry(&slot->upstream[i], &out[i]);
	return n;
}

static int upstream_reserve(struct shoal_stats_snapshot *snap, unsigned room)
{
	unsigned want = snap->upstreams_room ? snap->upstreams_room : FIRST_ROOM;
	struct shoal_stats_upstream_stat *grown;

	if (room <= snap->upstreams_room)
		return 0;
	while (want < room)
		want *= 2;
	grown = realloc(snap->upstreams, want * sizeof(*grown));
	if (!grown)
		return -1;
	snap->upstreams = grown;
	snap->upstreams_room = want;
	return 0;
}

int shoal_stats_upstream_read_retired(const struct shoal_stats_header *h,
				      struct shoal_stats_snapshot *snap)
{
	const struct shoal_stats_upstream_entry *r =
		(const struct shoal_stats_upstream_entry *)((const char *)h +
							    h->upstream_retired_offset);
	unsigned used = atomic_load_explicit(&h->upstream_retired_used, memory_order_relaxed);

	if (used > h->upstream_retired_room)
		used = h->upstream_retired_room;
	snap->nupstreams = 0;
	if (upstream_reserve(snap, used) < 0)
		return -1;
	for (unsigned i = 0; i < used; i++)
		upstream_copy_entry(&r[i], &snap->upstreams[i]);
	snap->nupstreams = used;
	return 0;
}

static struct shoal_stats_upstream_stat *upstream_find(struct shoal_stats_snapshot *snap,
						       const struct shoal_stats_upstream_stat *s)
{
	for (unsigned i = 0; i < snap->nupstreams; i++)
		if (strcmp(snap->upstreams[i].upstream, s->upstream) == 0 &&
		    strcmp(snap->upstreams[i].server, s->server) == 0)
			return &snap->upstreams[i];
	return NULL;
}

int shoal_stats_upstream_merge(struct shoal_stats_snapshot *snap,
			       const struct shoal_stats_upstream_stat *in, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct shoal_stats_upstream_stat *t = upstream_find(snap, &in[i]);
		if (t) {
			for (unsigned c = 0; c < SHOAL_STATS_UP_NCOUNTERS; c++)
				t->counters[c] += in[i].counters[c];
			continue;
		}
		if (upstream_reserve(snap, snap->nupstreams + 1) < 0)
			return -1;
		snap->upstreams[snap->nupstreams++] = in[i];
	}
	return 0;
}

static int upstream_order(const void *a, const void *b)
{
	const struct shoal_stats_upstream_stat *x = a, *y = b;
	int c = strcmp(x->upstream, y->upstream);

	return c ? c : strcmp(x->server, y->server);
}

void shoal_stats_upstream_sort(struct shoal_stats_snapshot *snap)
{
	if (snap->nupstreams > 1)
		qsort(snap->upstreams, snap->nupstreams, sizeof(*snap->upstreams), upstream_order);
}

const char *shoal_stats_upstream_counter_name(unsigned counter)
{
	static const char *const names[SHOAL_STATS_UP_TTFB] = {
		"requests",
		"responses_1xx", "responses_2xx", "responses_3xx", "responses_4xx", "responses_5xx",
		"failures_connect", "failures_timeout", "failures_reset", "failures_invalid",
		"connections_active", "connections_idle",
		"bytes_sent", "bytes_received",
		"ttfb_sum_us",
	};

	static const char *const queue[] = { "queued", "queue_full", "queue_timeout" };

	if (counter < SHOAL_STATS_UP_TTFB)
		return names[counter];
	if (counter >= SHOAL_STATS_UP_QUEUED && counter < SHOAL_STATS_UP_NCOUNTERS)
		return queue[counter - SHOAL_STATS_UP_QUEUED];
	return NULL;
}
