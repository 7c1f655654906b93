/* The chunked transfer coding (RFC 9112 section 7.1), decoded incrementally: discarded, for
 * request bodies we do not use, or cut into spans of chunk data, for a reverse proxy that
 * re-frames a body from its own parse; and the size line of the encoder. Allocation-free and
 * strict: chunk extensions and trailer fields must be well-formed, and the size lines and the
 * trailer section are bounded, since neither counts as body data. Like the request-head
 * parser it never copies, and it can be fed whatever the last read brought. */
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

/* Consumes framing bytes from buf[0..len), which continues what earlier calls consumed, and
 * stops after at most one run of chunk data: then buf[*data_off .. *data_off + *data_len) is
 * that data, in place (*data_len is 0, and *data_off 0, when the call found none). *consumed
 * is how far the call got, never short of *data_off + *data_len. Returns 1 once the body ended
 * (last chunk and trailer section consumed; the trailer fields are dropped, never shown),
 * 0 otherwise, -1 on a malformed body, with the same strictness, bounds and stickiness as
 * shoal_http_chunked_skip. A caller that has len bytes calls again, on buf + *consumed, while
 * the call returned 0 and *consumed < len: a call that returns 0 on a non-empty buffer has
 * consumed at least one byte. */
int shoal_http_chunked_next(struct shoal_http_chunked *dec, const char *buf, size_t len,
			    size_t *consumed, size_t *data_off, size_t *data_len);

/* The encoder side: writes the chunk-size line of an n-byte chunk, "<hex>\r\n" in lowercase
 * without leading zeros (at most 18 bytes), and returns its length. n = 0 makes the
 * last-chunk line, which the caller follows with the trailer section's "\r\n". */
size_t shoal_http_chunked_size_line(char out[static 20], uint64_t n);

#endif
