/* A worker's ready pipe: the worker writes one byte once it serves. The first worker of the
 * current generation serving a slot relieves the older generation's worker of it; once
 * every slot serves, the start is reported (daemon start-up, systemd, an old master). */
#ifndef SHOAL_MASTER_READY_H
#define SHOAL_MASTER_READY_H

#include <stdint.h>

#include "shoal/net/event.h"

/* The event callback of struct master_worker's ready_ev; closes the pipe after one read. */
void shoal_master_ready_on_pipe(struct shoal_event_source *src, uint32_t events);

#endif
