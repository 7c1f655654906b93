/* Byte range requests (RFC 9110 section 14): the Range header, its If-Range guard, and the
 * HTTP-date parser they share with If-Modified-Since. Allocation-free and locale-free. */
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

/* Parses an HTTP-date (RFC 9110 5.6.7) in any of its three forms: IMF-fixdate
 * ("Sun, 06 Nov 1994 08:49:37 GMT"), rfc850-date ("Sunday, 06-Nov-94 08:49:37 GMT") and
 * asctime-date ("Sun Nov  6 08:49:37 1994"). The whole of value[0..len) must match, case
 * included. Returns 0 and sets *out to seconds since the epoch, or -1. */
int shoal_http_date_parse(const char *value, size_t len, time_t *out);

#endif
