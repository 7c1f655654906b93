/* The health check (health_path): 200 while serving, 503 once the server is stopping, so
 * that a load balancer stops sending traffic before the listening sockets close (stop_delay). */
#ifndef SHOAL_HANDLER_HEALTH_H
#define SHOAL_HANDLER_HEALTH_H

#include <stdbool.h>

#include "shoal/handler/handler.h"

/* A shoal_handler_fn. */
bool shoal_health_handle(struct shoal_handler_req *req);

#endif
