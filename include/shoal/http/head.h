/* Response heads and small generated bodies, written into caller buffers without allocation. */
#ifndef SHOAL_HTTP_HEAD_H
#define SHOAL_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "shoal/http/date.h"

const char *shoal_http_reason(int status);

struct shoal_http_head {
	const char *server; /* Server header value */
	int status;
	int version; /* SHOAL_HTTP_10 or _11: HTTP/1.0 clients need an explicit keep-alive */
	bool keep_alive;
	const char *content_type; /* NULL: none */
	uint64_t content_length;
	time_t last_modified;  /* 0: none */
	const char *etag;      /* NULL: none */
	const char *location;  /* NULL: none */
	size_t location_len;
	const char *allow;     /* NULL: none */
	unsigned retry_after;  /* seconds (429, 503); 0: none */
	bool accept_ranges;
	bool content_range;    /* "bytes first-last/total", or "bytes * /total" for 416 */
	uint64_t range_first, range_last, range_total;
	bool unsatisfied_range;
};

/* Writes the status line and headers through the empty line. Returns the length, or 0 if
 * the head does not fit in cap. */
size_t shoal_http_head_write(char *buf, size_t cap, const struct shoal_http_head *head,
			     const struct shoal_http_date *date);

/* Writes the small HTML page of an error status. Returns its length (0 if it does not fit). */
size_t shoal_http_error_body(char *buf, size_t cap, int status);

#endif
