/* Byte range requests (RFC 9110 section 14): the Range header and its If-Range guard, whose
 * dates http/date parses. Allocation-free and locale-free. */
#ifndef SHOAL_HTTP_RANGE_H
#define SHOAL_HTTP_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct shoal_http_range {
	uint64_t first, last; /* inclusive byte positions, first <= last < size */
};

/* Parses the value of a Range header for a representation of size bytes.
 * Returns n >= 1: the satisfiable ranges in out[0..n), ascending, with overlapping or adjacent
 *            ranges merged (so n <= max, and the parts of a multipart answer never overlap);
 *         0: ignore the header and serve the whole representation with 200: a unit other than
 *            "bytes", a syntax error (including last < first and numbers beyond uint64), or
 *            more than max range-specs, satisfiable or not;
 *         -416: valid, but no range is satisfiable (first >= size, "-0", or size 0).
 * out must have room for max ranges. O(len + n^2) for n <= max ranges. */
int shoal_http_range_parse(const char *value, size_t len, uint64_t size,
			   struct shoal_http_range *out, size_t max);

/* Evaluates an If-Range value against the current validators. etag is the ETag as sent,
 * quotes included (NULL or etag_len 0: none); last_modified 0 means none, as in
 * struct shoal_http_head. True when the value is a strong entity-tag byte-equal to a strong
 * etag, or an HTTP-date equal to last_modified; false otherwise (weak tags never match), in
 * which case the Range header must be ignored. */
bool shoal_http_range_if_range_ok(const char *value, size_t len, const char *etag,
				  size_t etag_len, time_t last_modified);

#endif
