/* A worker's journal of its concurrency holds (shoal/handler/limit.h): memory the master maps
 * shared before it forks the worker and reads once the worker is gone, so that the requests
 * in flight a worker held when it died (a crash, kill -9, the watchdog) are given back to
 * their zones rather than count against their keys for ever.
 *
 * A cell is 0 when free, else 1 + the state file offset of the value a hold counts on
 * (shoal_state_limit_hold_offset). The worker writes a cell just after a hold is taken and
 * clears it just before the hold is given back, so a worker killed between the two steps of
 * either leaves at most that one request counted: never fewer than are really in flight,
 * which would let a key past its limit. Only the worker writes its cells, and the master reads
 * them only after it reaped the worker: no atomic read-modify-write is needed. */
#ifndef SHOAL_HANDLER_LIMIT_JOURNAL_H
#define SHOAL_HANDLER_LIMIT_JOURNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal/base/error.h"
#include "shoal/state/state.h"

struct shoal_limit_journal {
	_Atomic uint64_t *cell; /* NULL: no journal (the configuration has no concurrency zone) */
	size_t n;
	size_t next; /* the worker's own copy: where a free cell is looked for first */
};

/* Maps a journal of n cells (zero-filled, shared with the children forked after), or none
 * when n is 0. -1 with err set if the mapping fails. */
int shoal_limit_journal_map(struct shoal_limit_journal *j, size_t n, struct shoal_err *err);
/* Unmaps j (nothing if it has no cells); j then has none. */
void shoal_limit_journal_unmap(struct shoal_limit_journal *j);

/* Records a hold on the value at offset in a free cell and returns that cell, or NULL when j
 * has no cells or none free (then the hold goes unrecorded). */
_Atomic uint64_t *shoal_limit_journal_put(struct shoal_limit_journal *j, uint64_t offset);

/* Frees a cell put returned, before its hold is given back (NULL: nothing). */
static inline void shoal_limit_journal_clear(_Atomic uint64_t *cell)
{
	if (cell)
		atomic_store_explicit(cell, 0, memory_order_relaxed);
}

/* The master, after the worker died: gives back every hold its cells record to st's zones and
 * frees the cells. Returns the holds given back (cells that name no count are skipped). */
size_t shoal_limit_journal_reclaim(struct shoal_limit_journal *j, const struct shoal_state *st);

#endif
