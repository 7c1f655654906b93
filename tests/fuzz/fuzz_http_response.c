/* libFuzzer target for the response head parser.
 *
 * The first input byte picks the request method the response answers (it changes the
 * framing); the rest is parsed as a response head in one call, then as a proxy reading an
 * upstream sees it (split at every point, and one byte at a time, with prev_len), under
 * production limits and under tight ones; the verdicts must agree and a parsed response must
 * point into the input only. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "shoal/http/response.h"

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

static bool inside(struct shoal_http_str s, const char *buf, size_t len)
{
	if (s.len == 0)
		return s.p == NULL || (s.p >= buf && s.p <= buf + len);
	return s.p >= buf && s.p + s.len <= buf + len;
}

static bool has_ctl(struct shoal_http_str s)
{
	for (size_t i = 0; i < s.len; i++)
		if (((unsigned char)s.p[i] < 0x20 && s.p[i] != '\t') || s.p[i] == 0x7f)
			return true;
	return false;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static void check_header(const struct shoal_http_header *h, const char *buf, size_t len)
{
	FUZZ_CHECK(inside(h->name, buf, len) && inside(h->value, buf, len));
	FUZZ_CHECK(h->name.len > 0 && !has_ctl(h->name) && !memchr(h->name.p, ':', h->name.len));
	FUZZ_CHECK(!memchr(h->name.p, ' ', h->name.len) && !has_ctl(h->value));
	FUZZ_CHECK(h->value.len == 0 ||
		   (!is_ows(h->value.p[0]) && !is_ows(h->value.p[h->value.len - 1])));
}

static void check_framing(const struct shoal_http_response *resp, int method)
{
	bool no_body = method == SHOAL_HTTP_HEAD || resp->status < 200 || resp->status == 204 ||
		       resp->status == 304;

	if (no_body)
		FUZZ_CHECK(resp->body == SHOAL_HTTP_BODY_NONE);
	FUZZ_CHECK(resp->body == SHOAL_HTTP_BODY_LENGTH || resp->content_length == 0);
	FUZZ_CHECK(resp->body != SHOAL_HTTP_BODY_CHUNKED || resp->version == SHOAL_HTTP_11);
	FUZZ_CHECK(resp->body != SHOAL_HTTP_BODY_UNTIL_CLOSE || !resp->keep_alive);
	FUZZ_CHECK(!resp->upgrade || resp->status == 101);
}

static void check_response(const char *buf, size_t len, int rc, int method,
			   const struct shoal_http_limits *limits,
			   const struct shoal_http_response *resp)
{
	size_t head = (size_t)rc;

	FUZZ_CHECK(head >= 4 && head <= len && head <= limits->max_head);
	FUZZ_CHECK(memcmp(buf, "HTTP/1.", 7) == 0);
	FUZZ_CHECK(memcmp(buf + head - 4, "\r\n\r\n", 4) == 0);
	FUZZ_CHECK(resp->version == SHOAL_HTTP_10 || resp->version == SHOAL_HTTP_11);
	FUZZ_CHECK(resp->status >= 100 && resp->status <= 599);
	FUZZ_CHECK(inside(resp->reason, buf, head) && !has_ctl(resp->reason));
	FUZZ_CHECK(resp->nheaders <= limits->max_headers);
	for (size_t i = 0; i < resp->nheaders; i++)
		check_header(&resp->headers[i], buf, head);
	check_framing(resp, method);
}

/* A response head ends at the first empty line, so a caller that stopped early at a verdict
 * must have seen the same head, or an error that the whole input also yields. */
static void check_splits(const char *buf, size_t len, int whole, int method,
			 const struct shoal_http_limits *limits,
			 struct shoal_http_response *resp)
{
	size_t step = len <= ALL_SPLITS_MAX ? 1 : len / SAMPLED_SPLITS;

	for (size_t k = 0; k <= len; k += step) {
		int first = shoal_http_parse_response(buf, k, 0, method, limits, resp);

		if (first == SHOAL_HTTP_INCOMPLETE)
			FUZZ_CHECK(shoal_http_parse_response(buf, len, k, method, limits, resp) ==
				   whole);
		else if (first > 0)
			FUZZ_CHECK(first == whole);
		else
			FUZZ_CHECK(whole < 0);
	}
}

/* One byte per read, the worst an upstream can do. */
static void check_trickle(const char *buf, size_t len, int whole, int method,
			  const struct shoal_http_limits *limits,
			  struct shoal_http_response *resp)
{
	int rc = SHOAL_HTTP_INCOMPLETE;

	for (size_t k = 1; k <= len && rc == SHOAL_HTTP_INCOMPLETE; k++)
		rc = shoal_http_parse_response(buf, k, k - 1, method, limits, resp);
	if (rc > 0)
		FUZZ_CHECK(rc == whole);
	else if (rc < 0)
		FUZZ_CHECK(whole < 0);
	else
		FUZZ_CHECK(whole == SHOAL_HTTP_INCOMPLETE);
}

static void fuzz_head(const char *buf, size_t len, int method,
		      const struct shoal_http_limits *limits, struct shoal_http_response *resp)
{
	int whole = shoal_http_parse_response(buf, len, 0, method, limits, resp);

	FUZZ_CHECK(whole >= 0 || whole == SHOAL_HTTP_BAD_RESPONSE);
	if (whole > 0)
		check_response(buf, len, whole, method, limits, resp);
	check_splits(buf, len, whole, method, limits, resp);
	check_trickle(buf, len, whole, method, limits, resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int methods[] = { SHOAL_HTTP_GET, SHOAL_HTTP_HEAD, SHOAL_HTTP_POST,
				       SHOAL_HTTP_CONNECT };
	int method;
	char *buf;
	struct shoal_http_response *resp;

	if (size == 0)
		return 0;
	method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	/* A copy of exactly the head bytes, so that AddressSanitizer sees any read past the end. */
	buf = malloc(size - 1 ? size - 1 : 1);
	resp = malloc(sizeof(*resp));
	memcpy(buf, data + 1, size - 1);
	fuzz_head(buf, size - 1, method, &production_limits, resp);
	fuzz_head(buf, size - 1, method, &tight_limits, resp);
	free(resp);
	free(buf);
	return 0;
}
