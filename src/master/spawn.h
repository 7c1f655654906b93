/* Forking workers: a worker per slot of the current generation, started again when it dies,
 * after a growing delay if it keeps dying soon after its start (a crash loop). */
#ifndef SHOAL_MASTER_SPAWN_H
#define SHOAL_MASTER_SPAWN_H

#include <stdint.h>

#include "master_int.h"

/* Forks a worker of the current generation for slot; if that fails (logged), tries again
 * as after a worker's death. */
void shoal_master_spawn_slot(struct master *m, unsigned slot);

/* shoal_master_spawn_slot for every slot. */
void shoal_master_spawn_all(struct master *m);

/* The worker of slot died after lived_ms: starts another at once, or, after repeated fast
 * deaths, schedules it in slot's respawn_at_ms. */
void shoal_master_spawn_respawn(struct master *m, unsigned slot, uint64_t lived_ms);

/* In a child just forked (a worker, the checker): closes the master's descriptors it must
 * not hold, but for the sockets in keep and the roots of generation own (NULL: none). */
void shoal_master_spawn_close_inherited(struct master *m, const struct shoal_generation *own,
					const int *keep, size_t nkeep);

/* Raises the open-file limit the workers inherit to what the current generation needs;
 * warns if it cannot. */
void shoal_master_spawn_raise_nofile(struct master *m);

#endif
