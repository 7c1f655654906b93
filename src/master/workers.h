/* The table of the workers the master forked: making room, finding and forgetting them,
 * sending them signals, retiring and stopping them, and freeing them once reaped. */
#ifndef SHOAL_MASTER_WORKERS_H
#define SHOAL_MASTER_WORKERS_H

#include <stdbool.h>
#include <sys/types.h>

#include "master_int.h"

/* Makes room for one more worker before forking, so that a forked child is always tracked.
 * Returns -1 (errno ENOMEM) if there is none. */
int shoal_master_workers_reserve(struct master *m);

/* Takes the worker with pid out of the table and returns it, or NULL if pid is no worker. */
struct master_worker *shoal_master_workers_untrack(struct master *m, pid_t pid);

/* Sends sig to w; a failure other than "already gone" is logged. */
void shoal_master_workers_signal(struct master *m, const struct master_worker *w, int sig);

/* Asks w to finish what it has and exit, by a deadline after which it is killed. */
void shoal_master_workers_retire(struct master *m, struct master_worker *w);

/* Stops listening to w's ready pipe and closes it; does nothing if it is closed already. */
void shoal_master_workers_close_ready(struct master *m, struct master_worker *w);

/* Keeps a reaped w until shoal_master_workers_free_dead, after the current event batch. */
void shoal_master_workers_bury(struct master *m, struct master_worker *w);
void shoal_master_workers_free_dead(struct master *m);

/* Stops the server: every worker retires (graceful) or is told to exit at once (fast). A
 * fast stop overrides a graceful one under way; anything else already under way is kept. */
void shoal_master_workers_stop(struct master *m, bool fast);

#endif
