/* The status endpoint (status_path): in Prometheus text, the stats file's series and the
 * state file's (upstream state, limit zones: shoal/handler/metrics.h); with ?format=json,
 * the stats file alone as JSON. Who may read it is the router's decision (status_allow). */
#ifndef SHOAL_HANDLER_STATUS_H
#define SHOAL_HANDLER_STATUS_H

#include <stdbool.h>

#include "shoal/handler/handler.h"

/* A shoal_handler_fn; answers 500 when the stats cannot be read. */
bool shoal_status_handle(struct shoal_handler_req *req);

#endif
