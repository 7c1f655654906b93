/* libFuzzer target for the request head parser (fuzz_http_chunked covers the chunked body
 * decoder).
 *
 * Every input is parsed as a request head in one call, then as a real caller sees it (split
 * at every point, and one byte at a time, with prev_len), under production limits and under
 * tight ones; the verdicts must agree and a parsed request must point into the input only. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "shoal/http/parser.h"

/* Splitting at every point costs O(len^2): above this, splits are sampled. */
#define ALL_SPLITS_MAX 1024
#define SAMPLED_SPLITS 256

static const struct shoal_http_limits production_limits = {
	.max_request_line = 8192, .max_head = 8192, .max_headers = SHOAL_HTTP_MAX_HEADERS,
};
/* Small enough for short inputs to cross every limit. */
static const struct shoal_http_limits tight_limits = {
	.max_request_line = 40, .max_head = 160, .max_headers = 4,
};

static bool is_error_status(int rc)
{
	return rc == -400 || rc == -414 || rc == -431 || rc == -501 || rc == -505;
}

static bool inside(struct shoal_http_str s, const char *buf, size_t len)
{
	if (s.len == 0)
		return s.p == NULL || (s.p >= buf && s.p <= buf + len);
	return s.p >= buf && s.p + s.len <= buf + len;
}

static bool within(struct shoal_http_str inner, struct shoal_http_str outer)
{
	return inner.p >= outer.p && inner.p + inner.len <= outer.p + outer.len;
}

static bool is_token(struct shoal_http_str s)
{
	static const char specials[] = "!#$%&'*+-.^_`|~";

	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (!(c >= '0' && c <= '9') && !((c | 0x20) >= 'a' && (c | 0x20) <= 'z') &&
		    !memchr(specials, c, sizeof(specials) - 1))
			return false;
	}
	return true;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool has_crlf_or_nul(struct shoal_http_str s)
{
	return memchr(s.p, '\r', s.len) || memchr(s.p, '\n', s.len) || memchr(s.p, '\0', s.len);
}

static void check_header(const struct shoal_http_header *h, const char *buf, size_t len)
{
	FUZZ_CHECK(inside(h->name, buf, len) && inside(h->value, buf, len));
	FUZZ_CHECK(is_token(h->name));
	FUZZ_CHECK(!has_crlf_or_nul(h->name) && !has_crlf_or_nul(h->value));
	FUZZ_CHECK(h->value.len == 0 ||
		   (!is_ows(h->value.p[0]) && !is_ows(h->value.p[h->value.len - 1])));
}

/* The path is part of the target, except for the "/" an absolute-form target without a
 * path stands for, and the empty path of CONNECT. */
static void check_target(const struct shoal_http_request *req)
{
	FUZZ_CHECK(req->target.len > 0);
	if (req->method == SHOAL_HTTP_CONNECT)
		FUZZ_CHECK(req->path.len == 0);
	else if (!within(req->path, req->target))
		FUZZ_CHECK(req->path.len == 1 && req->path.p[0] == '/');
	FUZZ_CHECK(req->path.len == 0 || req->path.p[0] == '/' || req->path.p[0] == '*');
	FUZZ_CHECK(req->query.len == 0 || within(req->query, req->target));
	FUZZ_CHECK(!memchr(req->path.p, '?', req->path.len));
	for (size_t i = 0; i < req->target.len; i++)
		FUZZ_CHECK(req->target.p[i] > ' ' && req->target.p[i] < 0x7f);
}

static void check_request(const char *buf, size_t len, int rc,
			  const struct shoal_http_limits *limits,
			  const struct shoal_http_request *req)
{
	size_t head = (size_t)rc;

	FUZZ_CHECK(head >= 4 && head <= len && head <= limits->max_head);
	FUZZ_CHECK(memcmp(buf + head - 4, "\r\n\r\n", 4) == 0);
	FUZZ_CHECK(req->version == SHOAL_HTTP_10 || req->version == SHOAL_HTTP_11);
	FUZZ_CHECK(inside(req->method_str, buf, head) && is_token(req->method_str));
	FUZZ_CHECK((req->method == SHOAL_HTTP_GET) ==
		   (req->method_str.len == 3 && memcmp(req->method_str.p, "GET", 3) == 0));
	FUZZ_CHECK(inside(req->target, buf, head));
	check_target(req);
	FUZZ_CHECK(req->nheaders <= limits->max_headers);
	for (size_t i = 0; i < req->nheaders; i++)
		check_header(&req->headers[i], buf, head);
	FUZZ_CHECK(inside(req->host, buf, head));
	FUZZ_CHECK(req->version == SHOAL_HTTP_10 || req->host.len > 0);
	FUZZ_CHECK(inside(req->range, buf, head) && inside(req->if_range, buf, head));
	FUZZ_CHECK(inside(req->if_none_match, buf, head) &&
		   inside(req->if_modified_since, buf, head));
	FUZZ_CHECK(req->body != SHOAL_HTTP_BODY_CHUNKED || req->version == SHOAL_HTTP_11);
	FUZZ_CHECK(req->body == SHOAL_HTTP_BODY_LENGTH || req->content_length == 0);
	FUZZ_CHECK(!req->expect_continue || req->version == SHOAL_HTTP_11);
}

/* A request head ends at the first empty line, so a caller that stopped early at a verdict
 * must have seen the same head, or an error that the whole input also yields. */
static void check_splits(const char *buf, size_t len, int whole,
			 const struct shoal_http_limits *limits, struct shoal_http_request *req)
{
	size_t step = len <= ALL_SPLITS_MAX ? 1 : len / SAMPLED_SPLITS;

	for (size_t k = 0; k <= len; k += step) {
		int first = shoal_http_parse_request(buf, k, 0, limits, req);

		if (first == SHOAL_HTTP_INCOMPLETE)
			FUZZ_CHECK(shoal_http_parse_request(buf, len, k, limits, req) == whole);
		else if (first > 0)
			FUZZ_CHECK(first == whole);
		else
			FUZZ_CHECK(whole < 0);
	}
}

/* One byte per read, the worst a client can do. */
static void check_trickle(const char *buf, size_t len, int whole,
			  const struct shoal_http_limits *limits, struct shoal_http_request *req)
{
	int rc = SHOAL_HTTP_INCOMPLETE;
	size_t k;

	for (k = 1; k <= len && rc == SHOAL_HTTP_INCOMPLETE; k++)
		rc = shoal_http_parse_request(buf, k, k - 1, limits, req);
	if (rc > 0)
		FUZZ_CHECK(rc == whole);
	else if (rc < 0)
		FUZZ_CHECK(whole < 0);
	else
		FUZZ_CHECK(whole == SHOAL_HTTP_INCOMPLETE);
}

static void fuzz_head(const char *buf, size_t len, const struct shoal_http_limits *limits,
		      struct shoal_http_request *req)
{
	int whole = shoal_http_parse_request(buf, len, 0, limits, req);

	FUZZ_CHECK(whole >= 0 || is_error_status(whole));
	if (whole > 0)
		check_request(buf, len, whole, limits, req);
	check_splits(buf, len, whole, limits, req);
	check_trickle(buf, len, whole, limits, req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so that AddressSanitizer sees any read past the end. */
	char *buf = malloc(size ? size : 1);
	struct shoal_http_request *req = malloc(sizeof(*req));

	memcpy(buf, data, size);
	fuzz_head(buf, size, &production_limits, req);
	fuzz_head(buf, size, &tight_limits, req);
	free(req);
	free(buf);
	return 0;
}
