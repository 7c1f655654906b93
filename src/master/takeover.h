/* Binary upgrade, the new master's side: adopting the old master's sockets, telling it once
 * our workers serve, then taking its pid file over. Also the READY=1 that tells the service
 * manager we serve, which after an upgrade waits for that pid file. */
#ifndef SHOAL_MASTER_TAKEOVER_H
#define SHOAL_MASTER_TAKEOVER_H

#include "shoal/base/error.h"
#include "master_int.h"

/* Adopts the sockets and the ready pipe the old master put in the environment, and takes
 * them out of it so that our workers do not see them. Returns 0 when this is no upgrade. */
int shoal_master_takeover_adopt(struct master *m, struct shoal_err *err);

/* Every slot of the current generation serves: tells the old master, if any, and starts
 * taking its pid file; tells the service manager we serve unless that pid file is not ours
 * yet. */
void shoal_master_takeover_serving(struct master *m);

/* One try at the old master's pid file, if one is due; READY=1 once it is ours. Gives up,
 * serving without a pid file, after a while. */
void shoal_master_takeover_pidfile(struct master *m);

/* A new master that cannot start tells the old one why (err), so that the reason reaches
 * the log of the master that keeps serving. */
void shoal_master_takeover_report(const struct master *m, const struct shoal_err *err);

#endif
