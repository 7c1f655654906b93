/* The request bodies a connection reads past: those of requests answered without reading
 * them (a static file, an error), skipped in the input buffer as they arrive so that the next
 * request on the connection is found after them. */
#ifndef SHOAL_WORKER_CONN_BODY_H
#define SHOAL_WORKER_CONN_BODY_H

#include <stdint.h>

#include "shoal/http/parser.h"

struct shoal_conn_io;

/* Expects the body req announces (none, a length, chunked) to be skipped in io. */
void shoal_conn_body_expect(struct shoal_conn_io *io, const struct shoal_http_request *req);

/* Skips body bytes in io's input buffer. 1 when the body is behind us, 0 while more is
 * expected, -400 when its chunked framing is broken, -413 when it grows past max_body
 * bytes; after an error, no body is expected any more. */
int shoal_conn_body_skip(struct shoal_conn_io *io, uint64_t max_body);

#endif
