/* Binary upgrade, the old master's side (USR2): starting the binary on disk as a new master
 * on our sockets, and handing over to it once it serves. Until then we serve; if it fails,
 * we go on serving. */
#ifndef SHOAL_MASTER_HANDOVER_H
#define SHOAL_MASTER_HANDOVER_H

#include "master_int.h"

/* Starts the new master, unless one is starting already; a failure is logged. */
void shoal_master_handover_start(struct master *m);

/* The new master (upgrade_pid) exited with status; logged as a failed upgrade unless it
 * served and we are handing over. */
void shoal_master_handover_ended(struct master *m, int status);

/* Stops listening to the new master's ready pipe and closes it, if open. */
void shoal_master_handover_close(struct master *m);

#endif
