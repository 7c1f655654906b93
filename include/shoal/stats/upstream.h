/* Per upstream server counters in the stats file (the layout is in stats.h): a worker
 * registers its upstream servers in its slot once, at start, then counts into them; the
 * master folds an exited worker's entries into the retired upstream area by name; readers
 * add up the retired and the live entries of the same (upstream, server) names.
 *
 * A worker has room for SHOAL_STATS_UPSTREAM_ROOM servers. Servers beyond the room are not
 * counted: registering one returns -1, and the caller logs that once. Every counting call
 * accepts a NULL slot and an index of -1, and does nothing then, so a server that could not
 * be registered costs one comparison per call. */
#ifndef SHOAL_STATS_UPSTREAM_H
#define SHOAL_STATS_UPSTREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "shoal/stats/stats.h"

enum shoal_stats_upstream_failure {
	SHOAL_STATS_UPSTREAM_CONNECT = 0, /* the connection could not be made */
	SHOAL_STATS_UPSTREAM_TIMEOUT = 1, /* connecting, sending or waiting for the response */
	SHOAL_STATS_UPSTREAM_RESET = 2,   /* closed or reset by the server mid-exchange */
	SHOAL_STATS_UPSTREAM_INVALID = 3, /* a bad response head or framing */
};

/* --- worker --- */

/* Registers the server `server` (its address as text) of the upstream group `upstream` in
 * the worker's slot; texts longer than 63 bytes are cut. Returns the entry's index, the same
 * one for a pair registered before, or -1 when the slot is NULL or its room is full. Called
 * by the slot's worker only, at its start, before it counts. */
int shoal_stats_upstream_register(struct shoal_stats_slot *slot, const char *upstream,
				  const char *server);

static inline bool shoal_stats_upstream_counted(const struct shoal_stats_slot *slot, int index)
{
	return slot && (unsigned)index < SHOAL_STATS_UPSTREAM_ROOM;
}

/* Single writer, inside a write_begin/write_end section: a load and a store. A negative n
 * (gauges) wraps around as unsigned arithmetic does, and comes back. */
static inline void shoal_stats_upstream_add(struct shoal_stats_slot *slot, int index,
					    unsigned counter, uint64_t n)
{
	_Atomic uint64_t *c = &slot->upstream[index].counters[counter];

	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* A request sent (or about to be) to the server. */
static inline void shoal_stats_upstream_request(struct shoal_stats_slot *slot, int index)
{
	if (!shoal_stats_upstream_counted(slot, index))
		return;
	shoal_stats_write_begin(slot);
	shoal_stats_upstream_add(slot, index, SHOAL_STATS_UP_REQUESTS, 1);
	shoal_stats_write_end(slot);
}

/* A response head received, ttfb_us after the request was sent. A status outside 100..599
 * counts its time but in no class. */
static inline void shoal_stats_upstream_response(struct shoal_stats_slot *slot, int index,
						 int status, uint64_t ttfb_us)
{
	if (!shoal_stats_upstream_counted(slot, index))
		return;
	shoal_stats_write_begin(slot);
	if (status >= 100 && status < 600)
		shoal_stats_upstream_add(slot, index,
					 SHOAL_STATS_UP_RESP_1XX + (unsigned)(status / 100 - 1), 1);
	shoal_stats_upstream_add(slot, index, SHOAL_STATS_UP_TTFB_SUM_US, ttfb_us);
	shoal_stats_upstream_add(slot, index,
				 SHOAL_STATS_UP_TTFB + shoal_stats_latency_bucket(ttfb_us), 1);
	shoal_stats_write_end(slot);
}

static inline void shoal_stats_upstream_failure(struct shoal_stats_slot *slot, int index,
						enum shoal_stats_upstream_failure kind)
{
	if (!shoal_stats_upstream_counted(slot, index))
		return;
	shoal_stats_write_begin(slot);
	shoal_stats_upstream_add(slot, index, SHOAL_STATS_UP_FAIL_CONNECT + (unsigned)kind, 1);
	shoal_stats_write_end(slot);
}

/* Bytes written to the server's connection. */
static inline void shoal_stats_upstream_sent(struct shoal_stats_slot *slot, int index,
					     uint64_t n)
{
	if (!shoal_stats_upstream_counted(slot, index))
		return;
	shoal_stats_write_begin(slot);
	shoal_stats_upstream_add(slot, index, SHOAL_STATS_UP_BYTES_SENT, n);
	shoal_stats_write_end(slot);
}

/* Bytes read from the server's connection. */
static inline void shoal_stats_upstream_received(struct shoal_stats_slot *slot, int index,
						 uint64_t n)
{
	if (!shoal_stats_upstream_counted(slot, index))
		return;
	shoal_stats_write_begin(slot);
	shoal_stats_upstream_add(slot, index, SHOAL_STATS_UP_BYTES_RECEIVED, n);
	shoal_stats_write_end(slot);
}

/* Gauge of the connections busy with a request: delta +1 or -1. */
static inline void shoal_stats_upstream_active(struct shoal_stats_slot *slot, int index,
					       int delta)
{
	if (!shoal_stats_upstream_counted(slot, index))
		return;
	shoal_stats_write_begin(slot);
	shoal_stats_upstream_add(slot, index, SHOAL_STATS_UP_ACTIVE, (uint64_t)(int64_t)delta);
	shoal_stats_write_end(slot);
}

/* One more of counter, which is not a gauge (a queue's SHOAL_STATS_UP_QUEUE* ones). */
static inline void shoal_stats_upstream_count(struct shoal_stats_slot *slot, int index,
					      unsigned counter)
{
	if (!shoal_stats_upstream_counted(slot, index))
		return;
	shoal_stats_write_begin(slot);
	shoal_stats_upstream_add(slot, index, counter, 1);
	shoal_stats_write_end(slot);
}

/* Whether an entry named server is an upstream group's queue (see stats.h). */
static inline bool shoal_stats_upstream_is_queue(const char *server)
{
	return server[0] == '\0';
}

/* Gauge of the connections in the keep-alive pool: delta +1 or -1. */
static inline void shoal_stats_upstream_idle(struct shoal_stats_slot *slot, int index,
					     int delta)
{
	if (!shoal_stats_upstream_counted(slot, index))
		return;
	shoal_stats_write_begin(slot);
	shoal_stats_upstream_add(slot, index, SHOAL_STATS_UP_IDLE, (uint64_t)(int64_t)delta);
	shoal_stats_write_end(slot);
}

/* --- master (through shoal_stats_release) --- */

/* Adds the counters, not the gauges, of the registered entries of a slot whose worker is
 * gone to the retired entries of the same names (appended when new; counted in
 * upstream_dropped when the area is full), then clears the slot's entries. The caller holds
 * the file lock and the header's sequence section. */
void shoal_stats_upstream_fold(struct shoal_stats_header *h, struct shoal_stats_slot *slot);

/* --- readers (through shoal_stats_snapshot) --- */

/* Copies the registered entries of a slot into out (room for SHOAL_STATS_UPSTREAM_ROOM) and
 * returns how many; inside the reader's copy of the slot, which validates it. */
unsigned shoal_stats_upstream_copy(const struct shoal_stats_slot *slot,
				   struct shoal_stats_upstream_stat *out);

/* Starts snap's upstream servers over with the retired entries; inside the header's
 * sequence section. -1 if memory runs out. */
int shoal_stats_upstream_read_retired(const struct shoal_stats_header *h,
				      struct shoal_stats_snapshot *snap);

/* Adds n entries to snap's upstream servers of the same names, appending new ones. -1 if
 * memory runs out. */
int shoal_stats_upstream_merge(struct shoal_stats_snapshot *snap,
			       const struct shoal_stats_upstream_stat *in, unsigned n);

/* Orders snap's upstream servers by upstream name, then server. */
void shoal_stats_upstream_sort(struct shoal_stats_snapshot *snap);

/* Stable snake_case names (JSON keys): "requests", "responses_2xx", "failures_connect",
 * "connections_active", "bytes_sent", "ttfb_sum_us", "queued", "queue_full",
 * "queue_timeout"; NULL for the buckets and past the end. */
const char *shoal_stats_upstream_counter_name(unsigned counter);

#endif
