/* The state file, the master's side (shoal/state/state.h): made when the master starts, or
 * adopted from the master before a binary upgrade so that nothing learnt is lost; an entry
 * for every server and every queue of each generation before its workers fork; the
 * in-flight and waiting share of a worker that died taken back; every change of an entry
 * logged, at most once a second; the file removed when the master stops. */
#ifndef SHOAL_MASTER_STATE_H
#define SHOAL_MASTER_STATE_H

#include "master_int.h"

/* How often the master looks at the entries for changes to log. */
#define SHOAL_MASTER_STATE_WATCH_MS 1000

/* Creates the current generation's state_file, or adopts it after a binary upgrade (a file
 * that cannot be adopted is replaced, with a warning). -1 with err set if it cannot be
 * created. */
int shoal_master_state_open(struct master *m, struct shoal_err *err);

/* An entry for every (upstream, server) pair of g, and for every group of g with a queue
 * (server ""), under the file lock; a server given by name gets the addresses it had at
 * load as its set, unless its entry has one. A file too full for a server is logged once;
 * that server's health, or that queue, then stays per worker. */
void shoal_master_state_add(struct master *m, const struct shoal_generation *g);

/* Worker w was reaped: takes the requests it had in flight, and those it had waiting in a
 * queue (its stats slot's upstream gauges), out of the shared counts, and gives back the
 * concurrency holds its journal records (then unmaps the journal). Before its stats slot is
 * released. */
void shoal_master_state_reclaim(struct master *m, struct master_worker *w);

/* On every loop turn: once SHOAL_MASTER_STATE_WATCH_MS passed, logs what changed in each
 * entry since the last look (checks, ejections, drain and down, weights). Quiet while the
 * master hands over to a new one or, as a new one, has not taken over yet. */
void shoal_master_state_watch(struct master *m);

/* Unmaps the file; removes it unless a new master took it over or we never did. */
void shoal_master_state_close(struct master *m);

#endif
