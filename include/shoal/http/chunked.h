/* The chunked transfer coding (RFC 9112 section 7.1), decoded incrementally and discarded, for
 * request bodies we do not use. Allocation-free and strict: chunk extensions and trailer
 * fields must be well-formed, and the size lines and the trailer section are bounded, since
 * neither counts as body data. Like the request-head parser it never copies, and it can be fed
 * whatever the last read brought. */
#ifndef SHOAL_HTTP_CHUNKED_H
#define SHOAL_HTTP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

/* Decoder state; opaque to callers but for remaining, the data bytes left in the chunk. */
struct shoal_http_chunked {
	int state;
	uint64_t remaining;
	size_t line_len; /* bytes of the current chunk-size or trailer line, bounded */
};

/* Readies dec for the first byte of a body. */
void shoal_http_chunked_init(struct shoal_http_chunked *dec);

/* Consumes from buf[0..len), which continues what earlier calls consumed. Returns 1 when the
 * body (with trailers) ended, 0 when more is needed (then all len bytes were consumed), -1 on
 * a malformed body. Once the body ended or turned out malformed, later calls consume nothing
 * and return the same. *consumed says how many bytes belonged to the body; *body_bytes grows
 * by the chunk data among them. */
int shoal_http_chunked_skip(struct shoal_http_chunked *dec, const char *buf, size_t len,
			    size_t *consumed, uint64_t *body_bytes);

#endif
