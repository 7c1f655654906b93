/* HTTP/1.1 request head parser (RFC 9112): allocation-free, strict, and safe to call again
 * after every read with the whole buffered prefix. It never copies: every string in the
 * result points into the caller's buffer. */
#ifndef SHOAL_HTTP_PARSER_H
#define SHOAL_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SHOAL_HTTP_MAX_HEADERS 128

/* HTTP versions as requests carry them: major * 10 + minor. */
#define SHOAL_HTTP_10 10
#define SHOAL_HTTP_11 11

enum shoal_http_method {
	SHOAL_HTTP_OTHER = 0, /* a valid token we do not implement */
	SHOAL_HTTP_GET,
	SHOAL_HTTP_HEAD,
	SHOAL_HTTP_POST,
	SHOAL_HTTP_PUT,
	SHOAL_HTTP_DELETE,
	SHOAL_HTTP_OPTIONS,
	SHOAL_HTTP_TRACE,
	SHOAL_HTTP_CONNECT,
	SHOAL_HTTP_PATCH,
};

enum shoal_http_body {
	SHOAL_HTTP_BODY_NONE,
	SHOAL_HTTP_BODY_LENGTH,  /* Content-Length bytes follow the head */
	SHOAL_HTTP_BODY_CHUNKED, /* Transfer-Encoding: chunked, decoded by http/chunked */
	SHOAL_HTTP_BODY_UNTIL_CLOSE, /* responses only: the body ends when the connection does */
};

struct shoal_http_str {
	const char *p;
	size_t len;
};

struct shoal_http_header {
	struct shoal_http_str name;
	struct shoal_http_str value; /* leading and trailing whitespace removed */
};

struct shoal_http_request {
	enum shoal_http_method method;
	struct shoal_http_str method_str;
	struct shoal_http_str target; /* as sent: origin-form, absolute-form, "*" */
	struct shoal_http_str path;   /* target without query; for absolute-form, its path part */
	struct shoal_http_str query;  /* after '?', without it; len 0 when absent */
	int version; /* SHOAL_HTTP_10 or SHOAL_HTTP_11 */
	struct shoal_http_header headers[SHOAL_HTTP_MAX_HEADERS];
	size_t nheaders;

	/* Derived from the headers while parsing. */
	struct shoal_http_str host; /* len 0 when absent (allowed for HTTP/1.0 only) */
	bool keep_alive;            /* version default adjusted by Connection */
	bool expect_continue;       /* Expect: 100-continue */
	enum shoal_http_body body;
	uint64_t content_length; /* when body == SHOAL_HTTP_BODY_LENGTH */
	struct shoal_http_str if_none_match, if_modified_since, range, if_range;
};

struct shoal_http_limits {
	size_t max_request_line; /* bytes before the first CRLF; beyond: 414 */
	size_t max_head;         /* bytes of request line plus headers; beyond: 431 */
	size_t max_headers;      /* header fields; beyond: 431; at most SHOAL_HTTP_MAX_HEADERS */
};

/* Results of shoal_http_parse_request other than a positive head length. */
#define SHOAL_HTTP_INCOMPLETE 0

/* Parses the request head at the start of buf[0..len). prev_len is how many of those bytes
 * were already seen by an earlier call that returned SHOAL_HTTP_INCOMPLETE (0 on the first
 * call), so that only new bytes are scanned for the end of the head.
 * Returns the length of the head (through the empty line) when complete, filling req;
 * SHOAL_HTTP_INCOMPLETE when more bytes are needed; or minus the HTTP status to answer
 * (-400, -414, -431, -501 for an unsupported transfer coding, -505). */
int shoal_http_parse_request(const char *buf, size_t len, size_t prev_len,
			     const struct shoal_http_limits *limits, struct shoal_http_request *req);

/* Case-insensitive comparison of a parsed string with a lowercase literal. Inline: the
 * literal's length is then known where it is called, and most comparisons (a field name
 * against the names a parser looks for) end with it, before a byte is read. */
static inline bool shoal_http_str_eq(struct shoal_http_str s, const char *lower)
{
	size_t n = strlen(lower);

	if (s.len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + ('a' - 'A'));
		if (c != (unsigned char)lower[i])
			return false;
	}
	return true;
}

#endif
