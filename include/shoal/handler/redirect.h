/* HTTP to HTTPS (https_redirect): a site that has it answers the requests that reach it on an
 * address without TLS with 308 Permanent Redirect to the same path and query over https, so
 * that a browser that typed the bare name lands on the TLS site, method and body kept. */
#ifndef SHOAL_HANDLER_REDIRECT_H
#define SHOAL_HANDLER_REDIRECT_H

#include <stdbool.h>

#include "shoal/handler/handler.h"

/* A shoal_handler_fn for req->site: the Location is https://HOST[:PORT]/path?query, HOST the
 * request's Host without its port (else the site's first name that is no wildcard), PORT
 * that of the site's first tls address, left out when it is 443 (443 when the site has
 * none). 400 when no host can be named (an HTTP/1.0 request without Host to a site without
 * names), 414 when the Location does not fit. */
bool shoal_redirect_https(struct shoal_handler_req *req);

#endif
