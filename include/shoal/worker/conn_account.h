/* What a connection does once a response is queued: count it in the worker's stats and write
 * its access log line, naming as the client whom the request was from (the connection's peer,
 * a PROXY protocol header's source, or the client real_ip_from let a header name). */
#ifndef SHOAL_WORKER_CONN_ACCOUNT_H
#define SHOAL_WORKER_CONN_ACCOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "shoal/handler/handler.h"
#include "shoal/http/parser.h"

struct shoal_conn;

/* Counts the response c just queued (its status and body size are c's output batch's last)
 * and logs it with the client family/addr (4 or 16 bytes). req: the request, NULL when not
 * even its head could be read; bytes_in: the request head's size; up: how an answer that
 * went on ended (its upstream's address, status and time), NULL for the others. */
void shoal_conn_account(struct shoal_conn *c, const struct shoal_http_request *req,
			uint8_t family, const uint8_t *addr, size_t bytes_in, size_t bytes_out,
			const struct shoal_handler_result *up);

#endif
