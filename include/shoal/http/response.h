/* HTTP/1.1 response head parser (RFC 9112 4, 6), for what an upstream server answers a
 * reverse proxy: allocation-free, strict, and safe to call again after every read with the
 * whole buffered prefix, like shoal_http_parse_request. It never copies: every string in the
 * result points into the caller's buffer. Anything the proxy could not frame or forward
 * faithfully is one error, SHOAL_HTTP_BAD_RESPONSE, which the proxy answers with a 502. */
#ifndef SHOAL_HTTP_RESPONSE_H
#define SHOAL_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal/http/parser.h"

/* The one error of shoal_http_parse_response: minus the status a proxy answers it with. */
#define SHOAL_HTTP_BAD_RESPONSE (-502)

struct shoal_http_response {
	int version;                 /* SHOAL_HTTP_10 or SHOAL_HTTP_11 */
	int status;                  /* 100 to 599 */
	struct shoal_http_str reason; /* may be empty */
	struct shoal_http_header headers[SHOAL_HTTP_MAX_HEADERS];
	size_t nheaders;

	/* Derived from the status, the request method and the headers while parsing. */
	enum shoal_http_body body;
	uint64_t content_length; /* when body == SHOAL_HTTP_BODY_LENGTH */
	bool keep_alive;         /* version default adjusted by Connection */
	bool upgrade;            /* a 101 naming the protocol switched to in Upgrade */
};

/* Parses the response head at the start of buf[0..len), the answer to a request whose method
 * was request_method (an enum shoal_http_method: HEAD and CONNECT change the framing).
 * prev_len is how many of those bytes were already seen by an earlier call that returned
 * SHOAL_HTTP_INCOMPLETE (0 on the first call). Of limits, max_head and max_headers bound the
 * head; max_request_line is not used.
 * Returns the length of the head (through the empty line) when complete, filling resp;
 * SHOAL_HTTP_INCOMPLETE when more bytes are needed; or SHOAL_HTTP_BAD_RESPONSE for a head that
 * is malformed, too large, or framed in a way a proxy cannot relay (see response.c). */
int shoal_http_parse_response(const char *buf, size_t len, size_t prev_len, int request_method,
			      const struct shoal_http_limits *limits,
			      struct shoal_http_response *resp);

#endif
