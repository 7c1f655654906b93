/* Reaping: collecting the exit of every child that ended (workers, checkers and a new master
 * of a binary upgrade), logging it, replacing a worker that died unasked, and closing the
 * sockets that only a retired worker still held. */
#ifndef SHOAL_MASTER_REAP_H
#define SHOAL_MASTER_REAP_H

#include "master_int.h"

/* Collects every child that ended, without blocking. A reaped worker is freed only by
 * shoal_master_workers_free_dead, after the current event batch. */
void shoal_master_reap(struct master *m);

#endif
