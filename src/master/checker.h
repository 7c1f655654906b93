/* The checker process (shoal/check/check.h) as the master runs it: one for the current
 * generation when its configuration has a health_check, forked after that generation's
 * workers. The previous generation's checker is told to stop (TERM) only once the new one
 * runs, so that no interval goes unprobed; what it learnt stays in the state file. A checker
 * that exits unasked is started again after a second. A stopping master stops its checker
 * once its last worker is gone: after a binary upgrade, the old master's checker probes until
 * the old master exits, and the new master has its own. */
#ifndef SHOAL_MASTER_CHECKER_H
#define SHOAL_MASTER_CHECKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "master_int.h"

/* The current generation's workers are started: its checker is forked, if it has a server
 * to probe (a failed fork is logged and tried again later). Checkers of older generations
 * that do not run yet are stopped; the one that runs stops when the new one runs, or now
 * if the new generation probes nothing. Servers no longer probed lose their checked state. */
void shoal_master_checker_start(struct master *m);

/* Whether pid was a checker; if so, its exit is logged and handled. */
bool shoal_master_checker_reaped(struct master *m, pid_t pid, int status);

/* After every event batch: frees the checkers reaped in it, starts one again when due,
 * stops them once a stopping master has no worker left, kills one that does not exit. */
void shoal_master_checker_timers(struct master *m);

/* The earliest of the checkers' deadlines and next, an absolute time in ms. */
uint64_t shoal_master_checker_next(const struct master *m, uint64_t next);

/* USR1: the checkers reopen the log. */
void shoal_master_checker_reopen_logs(struct master *m);

/* Frees what the master keeps of its checkers (the master exits). */
void shoal_master_checker_free(struct master *m);

#endif
