/* The static file handler: files beneath the site's root, from the worker's cache or with
 * sendfile; conditional and range requests, directory redirects and listings, OPTIONS, and
 * the answers to methods a static site does not take (405, and 501 for unknown ones). */
#ifndef SHOAL_HANDLER_STATIC_H
#define SHOAL_HANDLER_STATIC_H

#include <stdbool.h>

#include "shoal/handler/handler.h"

/* A shoal_handler_fn; req->site must be set. */
bool shoal_static_handle(struct shoal_handler_req *req);

#endif
