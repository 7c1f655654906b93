/* The session ticket keys every worker shares (shoal/tls/keys.h), as the master keeps them:
 * made once at its start, whatever the configuration (a page of memory and a getrandom a
 * rotation: cheaper than the cases it would take to make it only once a generation has a tls
 * address, and it keeps resumption across any reload), or adopted from the master a binary
 * upgrade came from, so that tickets sealed before the upgrade still open after it; rotated
 * every tls_ticket_rotate seconds of the current generation; and given to every
 * generation's contexts. Private to src/master. */
#ifndef SHOAL_MASTER_TLS_H
#define SHOAL_MASTER_TLS_H

#include <stdint.h>

#include "master_int.h"

/* At start, once the log is open: adopts the ring named by SHOAL_UPGRADE_TLS_KEYS_ENV (a
 * ring that cannot be adopted is logged and replaced by a new one: sessions then resume no
 * more) or makes one, builds g's contexts and tells its warnings. -1 with err set. */
int shoal_master_tls_start(struct master *m, struct shoal_generation *g, struct shoal_err *err);

/* A reload's generation: its contexts with the ring, and its warnings told. -1 with err set
 * naming the file, line and key: the reload fails. */
int shoal_master_tls_generation(struct master *m, struct shoal_generation *g,
				struct shoal_err *err);

/* After every event batch: rotates the ring when due, unless a binary upgrade is under way
 * or done (the new master rotates it then: the ring has one writer). */
void shoal_master_tls_timers(struct master *m);

/* The earlier of the next rotation and next, an absolute time in ms. */
uint64_t shoal_master_tls_next(const struct master *m, uint64_t next);

/* Unmaps the ring in the master; the workers and a new master keep theirs. */
void shoal_master_tls_close(struct master *m);

#endif
