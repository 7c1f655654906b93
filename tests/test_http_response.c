#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/http/response.h"

#include "check_run.h"
#include "kept.h"
#include "repeat.h"

#define BAD SHOAL_HTTP_BAD_RESPONSE

static const struct shoal_http_limits limits = {
	.max_request_line = 8192,
	.max_head = 16384,
	.max_headers = 100,
};

/* Each parse gets its own exactly-sized copy, so that the sanitizer catches any read past
 * the bytes the parser was given. */
static int parse_n(const char *text, size_t len, size_t prev_len, int method,
		   const struct shoal_http_limits *lim, struct shoal_http_response *resp,
		   char **copy)
{
	*copy = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(*copy);
	memcpy(*copy, text, len);
	return shoal_http_parse_response(*copy, len, prev_len, method, lim, resp);
}

static void assert_same_str(struct shoal_http_str a, const char *abuf, struct shoal_http_str b,
			    const char *bbuf)
{
	ck_assert_uint_eq(a.len, b.len);
	if (a.len > 0)
		ck_assert_int_eq(a.p - abuf, b.p - bbuf);
}

static void assert_same_response(const struct shoal_http_response *a, const char *abuf,
				 const struct shoal_http_response *b, const char *bbuf)
{
	ck_assert_int_eq(a->version, b->version);
	ck_assert_int_eq(a->status, b->status);
	assert_same_str(a->reason, abuf, b->reason, bbuf);
	ck_assert_uint_eq(a->nheaders, b->nheaders);
	for (size_t i = 0; i < a->nheaders; i++) {
		assert_same_str(a->headers[i].name, abuf, b->headers[i].name, bbuf);
		assert_same_str(a->headers[i].value, abuf, b->headers[i].value, bbuf);
	}
	ck_assert_int_eq(a->body, b->body);
	ck_assert_uint_eq(a->content_length, b->content_length);
	ck_assert(a->keep_alive == b->keep_alive);
	ck_assert(a->upgrade == b->upgrade);
}

/* Feeds text one byte per read with prev_len, as a slow upstream would: every call before
 * the verdict must ask for more, and the verdict must be the one-shot parse's. */
static void assert_trickle_agrees(const char *text, size_t len, int method,
				  const struct shoal_http_limits *lim, int whole,
				  const struct shoal_http_response *wresp, const char *wbuf)
{
	struct shoal_http_response resp;
	int rc = SHOAL_HTTP_INCOMPLETE;
	size_t k;
	char *copy = NULL;

	for (k = 1; k <= len && rc == SHOAL_HTTP_INCOMPLETE; k++) {
		free(copy);
		rc = parse_n(text, k, k - 1, method, lim, &resp, &copy);
	}
	ck_assert_int_eq(rc, whole);
	if (rc > 0) {
		ck_assert_uint_eq(k - 1, (size_t)rc);
		assert_same_response(wresp, wbuf, &resp, copy);
	}
	free(copy);
}

/* One-shot parse of a NUL-terminated head, checked against the same bytes trickled in. The
 * copy lives until the test ends, for the strings resp points at. */
static int parse_lim(const char *text, int method, const struct shoal_http_limits *lim,
		     struct shoal_http_response *resp)
{
	char *copy;
	int rc = parse_n(text, strlen(text), 0, method, lim, resp, &copy);

	assert_trickle_agrees(text, strlen(text), method, lim, rc, resp, copy);
	keep(copy);
	return rc;
}

static int parse(const char *text, int method, struct shoal_http_response *resp)
{
	return parse_lim(text, method, &limits, resp);
}


/* A head that is one field line away from text: status line, then fields, then the end. */
static int parse_field(const char *field, struct shoal_http_response *resp)
{
	char text[512];

	snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\n%s\r\n\r\n", field);
	return parse(text, SHOAL_HTTP_GET, resp);
}

START_TEST(status_line_and_headers)
{
	struct shoal_http_response resp;
	const char *text = "HTTP/1.1 200 OK\r\n"
			   "Server:   upstream/1.0  \r\n"
			   "X-Empty:\r\n"
			   "Content-Length: 5\r\n"
			   "\r\n";

	ck_assert_int_eq(parse(text, SHOAL_HTTP_GET, &resp), (int)strlen(text));
	ck_assert_int_eq(resp.version, SHOAL_HTTP_11);
	ck_assert_int_eq(resp.status, 200);
	assert_str(resp.reason, "OK");
	ck_assert_uint_eq(resp.nheaders, 3);
	assert_str(resp.headers[0].name, "Server");
	assert_str(resp.headers[0].value, "upstream/1.0");
	assert_str(resp.headers[1].name, "X-Empty");
	assert_str(resp.headers[1].value, "");
	ck_assert_int_eq(resp.body, SHOAL_HTTP_BODY_LENGTH);
	ck_assert_uint_eq(resp.content_length, 5);
	ck_assert(resp.keep_alive);
	ck_assert(!resp.upgrade);
}
END_TEST

/* The body and the next response that follow the head are not part of it. */
START_TEST(returns_head_length_before_body)
{
	struct shoal_http_response resp;
	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
	char text[128];
	char *copy;

	snprintf(text, sizeof(text), "%shello\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", head);
	ck_assert_int_eq(parse_n(text, strlen(text), 0, SHOAL_HTTP_GET, &limits, &resp, &copy),
			 (int)strlen(head));
	free(copy);
}
END_TEST

START_TEST(reason_phrase)
{
	struct shoal_http_response resp;

	ck_assert_int_eq(parse("HTTP/1.1 204 \r\n\r\n", SHOAL_HTTP_GET, &resp), 17);
	assert_str(resp.reason, "");
	ck_assert_int_gt(parse("HTTP/1.1 404 Not\tFound caf\xc3\xa9 \r\n\r\n", SHOAL_HTTP_GET,
			       &resp), 0);
	assert_str(resp.reason, "Not\tFound caf\xc3\xa9 ");
	/* RFC 9112 4: the SP before the reason is there even when the reason is not. */
	ck_assert_int_eq(parse("HTTP/1.1 204\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
	ck_assert_int_eq(parse("HTTP/1.1 200 O\x01K\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
	ck_assert_int_eq(parse("HTTP/1.1 200 O\x7fK\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
}
END_TEST

START_TEST(status_codes)
{
	struct shoal_http_response resp;

	ck_assert_int_gt(parse("HTTP/1.1 100 Continue\r\n\r\n", SHOAL_HTTP_GET, &resp), 0);
	ck_assert_int_eq(resp.status, 100);
	ck_assert_int_gt(parse("HTTP/1.1 599 x\r\n\r\n", SHOAL_HTTP_GET, &resp), 0);
	ck_assert_int_eq(resp.status, 599);
	ck_assert_int_eq(parse("HTTP/1.1 099 x\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
	ck_assert_int_eq(parse("HTTP/1.1 600 x\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
	ck_assert_int_eq(parse("HTTP/1.1 20x x\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
	ck_assert_int_eq(parse("HTTP/1.1 2000 x\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
	ck_assert_int_eq(parse("HTTP/1.1 20 x\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
	ck_assert_int_eq(parse("HTTP/1.1 +20 x\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
}
END_TEST

START_TEST(versions)
{
	struct shoal_http_response resp;

	ck_assert_int_gt(parse("HTTP/1.0 200 OK\r\n\r\n", SHOAL_HTTP_GET, &resp), 0);
	ck_assert_int_eq(resp.version, SHOAL_HTTP_10);
	ck_assert_int_gt(parse("HTTP/1.9 200 OK\r\n\r\n", SHOAL_HTTP_GET, &resp), 0);
	ck_assert_int_eq(resp.version, SHOAL_HTTP_11);
	ck_assert_int_eq(parse("HTTP/2.0 200 OK\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
	ck_assert_int_eq(parse("HTTP/0.9 200 OK\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
	ck_assert_int_eq(parse("http/1.1 200 OK\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
	ck_assert_int_eq(parse("HTTP/1.1  200 OK\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
	ck_assert_int_eq(parse("HTTP/11 200 OK\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
}
END_TEST

/* Unlike a request line, a status line has no empty lines before it to skip. */
START_TEST(nothing_before_status_line)
{
	struct shoal_http_response resp;

	ck_assert_int_eq(parse("\r\nHTTP/1.1 200 OK\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
	ck_assert_int_eq(parse(" HTTP/1.1 200 OK\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
	ck_assert_int_eq(parse("<html>\r\n\r\n", SHOAL_HTTP_GET, &resp), BAD);
}
END_TEST

/* Field lines as strict as in requests, RFC 9112 5. */
static const char *const bad_fields[] = {
	"Server : x",     "Server\t: x",   " Server: x",  "Server: a\r\n b", "Server: a\r\n\tb",
	"Server x",       "Ser/ver: x",    "Serv\x80r: x", "Server: a\nb",   "Server: a\rb",
	"Server: a\x01b", "Server: a\x7f", ": x",
};

START_TEST(field_syntax)
{
	struct shoal_http_response resp;
	char text[128];

	snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\n%s\r\n\r\n", bad_fields[_i]);
	ck_assert_int_eq(parse(text, SHOAL_HTTP_GET, &resp), BAD);
}
END_TEST

START_TEST(field_value_nul)
{
	static const char text[] = "HTTP/1.1 200 OK\r\nServer: a\0b\r\n\r\n";
	struct shoal_http_response resp;
	char *copy;

	ck_assert_int_eq(parse_n(text, sizeof(text) - 1, 0, SHOAL_HTTP_GET, &limits, &resp, &copy),
			 BAD);
	assert_trickle_agrees(text, sizeof(text) - 1, SHOAL_HTTP_GET, &limits, BAD, &resp, copy);
	free(copy);
}
END_TEST

START_TEST(content_length)
{
	struct shoal_http_response resp;

	ck_assert_int_gt(parse_field("Content-Length: 0", &resp), 0);
	ck_assert_int_eq(resp.body, SHOAL_HTTP_BODY_LENGTH);
	ck_assert_uint_eq(resp.content_length, 0);
	ck_assert_int_gt(parse_field("content-length: 18446744073709551615", &resp), 0);
	ck_assert_uint_eq(resp.content_length, UINT64_MAX);
	ck_assert_int_eq(parse_field("Content-Length: 18446744073709551616", &resp), BAD);
	ck_assert_int_eq(parse_field("Content-Length:", &resp), BAD);
	ck_assert_int_eq(parse_field("Content-Length: +5", &resp), BAD);
	ck_assert_int_eq(parse_field("Content-Length: 0x5", &resp), BAD);
	ck_assert_int_eq(parse_field("Content-Length: 5 5", &resp), BAD);
}
END_TEST

/* RFC 9110 8.6 lets a recipient merge equal lengths; a proxy must not (RFC 9112 6.3). */
START_TEST(content_length_repeated)
{
	struct shoal_http_response resp;

	ck_assert_int_eq(parse_field("Content-Length: 5\r\nContent-Length: 5", &resp), BAD);
	ck_assert_int_eq(parse_field("Content-Length: 5\r\nContent-Length: 6", &resp), BAD);
	ck_assert_int_eq(parse_field("Content-Length: 5, 5", &resp), BAD);
}
END_TEST

START_TEST(transfer_encoding)
{
	struct shoal_http_response resp;

	ck_assert_int_gt(parse_field("Transfer-Encoding: chunked", &resp), 0);
	ck_assert_int_eq(resp.body, SHOAL_HTTP_BODY_CHUNKED);
	ck_assert_int_gt(parse_field("transfer-encoding:  Chunked ", &resp), 0);
	ck_assert_int_eq(resp.body, SHOAL_HTTP_BODY_CHUNKED);
	ck_assert_int_eq(parse_field("Transfer-Encoding: gzip, chunked", &resp), BAD);
	ck_assert_int_eq(parse_field("Transfer-Encoding: chunked, gzip", &resp), BAD);
	ck_assert_int_eq(parse_field("Transfer-Encoding: identity", &resp), BAD);
	ck_assert_int_eq(parse_field("Transfer-Encoding: chunked;x=1", &resp), BAD);
	ck_assert_int_eq(parse_field("Transfer-Encoding:", &resp), BAD);
	ck_assert_int_eq(parse_field("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked",
				     &resp), BAD);
	ck_assert_int_eq(parse_field("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
				     &resp), BAD);
}
END_TEST

START_TEST(transfer_encoding_with_content_length)
{
	struct shoal_http_response resp;

	ck_assert_int_eq(parse_field("Transfer-Encoding: chunked\r\nContent-Length: 5", &resp),
			 BAD);
	ck_assert_int_eq(parse_field("Content-Length: 5\r\nTransfer-Encoding: chunked", &resp),
			 BAD);
}
END_TEST

/* RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing. */
START_TEST(transfer_encoding_in_http10)
{
	struct shoal_http_response resp;

	ck_assert_int_eq(parse("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
			       SHOAL_HTTP_GET, &resp), BAD);
}
END_TEST

START_TEST(body_until_close)
{
	struct shoal_http_response resp;

	ck_assert_int_gt(parse("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n",
			       SHOAL_HTTP_GET, &resp), 0);
	ck_assert_int_eq(resp.body, SHOAL_HTTP_BODY_UNTIL_CLOSE);
	ck_assert(!resp.keep_alive);
}
END_TEST

static const struct {
	const char *head;
	bool keep_alive;
} persistence[] = {
	{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true },
	{ "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false },
	{ "HTTP/1.1 200 OK\r\nConnection: x, CLOSE\r\nContent-Length: 0\r\n\r\n", false },
	{ "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false },
	{ "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", true },
	{ "HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n", false },
	{ "HTTP/1.0 304 Not Modified\r\nConnection: keep-alive\r\n\r\n", true },
};

START_TEST(keep_alive)
{
	struct shoal_http_response resp;

	ck_assert_int_gt(parse(persistence[_i].head, SHOAL_HTTP_GET, &resp), 0);
	ck_assert(resp.keep_alive == persistence[_i].keep_alive);
}
END_TEST

START_TEST(upgrade)
{
	struct shoal_http_response resp;

	ck_assert_int_gt(parse("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
			       "Upgrade: websocket\r\n\r\n", SHOAL_HTTP_GET, &resp), 0);
	ck_assert(resp.upgrade);
	ck_assert_int_eq(resp.body, SHOAL_HTTP_BODY_NONE);
	ck_assert_int_gt(parse("HTTP/1.1 101 Switching Protocols\r\n\r\n", SHOAL_HTTP_GET, &resp),
			 0);
	ck_assert(!resp.upgrade);
	ck_assert_int_gt(parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade:\r\n\r\n",
			       SHOAL_HTTP_GET, &resp), 0);
	ck_assert(!resp.upgrade);
	ck_assert_int_gt(parse("HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n",
			       SHOAL_HTTP_GET, &resp), 0);
	ck_assert(!resp.upgrade);
}
END_TEST

/* RFC 9112 6.3: status x request method x framing fields -> where the body ends. */
#define CL "Content-Length: 7\r\n"
#define TE "Transfer-Encoding: chunked\r\n"
static const struct {
	int status;
	int method;
	const char *fields;
	enum shoal_http_body body;
} framing[] = {
	{ 200, SHOAL_HTTP_GET, CL, SHOAL_HTTP_BODY_LENGTH },
	{ 200, SHOAL_HTTP_GET, TE, SHOAL_HTTP_BODY_CHUNKED },
	{ 200, SHOAL_HTTP_GET, "", SHOAL_HTTP_BODY_UNTIL_CLOSE },
	{ 200, SHOAL_HTTP_HEAD, CL, SHOAL_HTTP_BODY_NONE },
	{ 200, SHOAL_HTTP_HEAD, TE, SHOAL_HTTP_BODY_NONE },
	{ 200, SHOAL_HTTP_HEAD, "", SHOAL_HTTP_BODY_NONE },
	{ 404, SHOAL_HTTP_HEAD, CL, SHOAL_HTTP_BODY_NONE },
	{ 100, SHOAL_HTTP_POST, "", SHOAL_HTTP_BODY_NONE },
	{ 103, SHOAL_HTTP_GET, CL, SHOAL_HTTP_BODY_NONE },
	{ 204, SHOAL_HTTP_GET, CL, SHOAL_HTTP_BODY_NONE },
	{ 204, SHOAL_HTTP_DELETE, "", SHOAL_HTTP_BODY_NONE },
	{ 304, SHOAL_HTTP_GET, CL, SHOAL_HTTP_BODY_NONE },
	{ 304, SHOAL_HTTP_GET, TE, SHOAL_HTTP_BODY_NONE },
	{ 304, SHOAL_HTTP_GET, "", SHOAL_HTTP_BODY_NONE },
	{ 200, SHOAL_HTTP_CONNECT, "", SHOAL_HTTP_BODY_NONE },
	{ 200, SHOAL_HTTP_CONNECT, CL, SHOAL_HTTP_BODY_NONE },
	{ 407, SHOAL_HTTP_CONNECT, CL, SHOAL_HTTP_BODY_LENGTH },
	{ 205, SHOAL_HTTP_POST, CL, SHOAL_HTTP_BODY_LENGTH },
	{ 500, SHOAL_HTTP_POST, "", SHOAL_HTTP_BODY_UNTIL_CLOSE },
	{ 302, SHOAL_HTTP_OTHER, TE, SHOAL_HTTP_BODY_CHUNKED },
};

START_TEST(body_framing_table)
{
	struct shoal_http_response resp;
	char text[256];

	snprintf(text, sizeof(text), "HTTP/1.1 %d X\r\n%s\r\n", framing[_i].status,
		 framing[_i].fields);
	ck_assert_int_eq(parse(text, framing[_i].method, &resp), (int)strlen(text));
	ck_assert_int_eq(resp.body, framing[_i].body);
	ck_assert_uint_eq(resp.content_length, framing[_i].body == SHOAL_HTTP_BODY_LENGTH ? 7 : 0);
}
END_TEST

START_TEST(head_size_limit)
{
	struct shoal_http_limits lim = { .max_request_line = 8192, .max_head = 64,
					 .max_headers = 100 };
	struct shoal_http_response resp;
	/* Status line (17) + "X: " + value + CRLF + CRLF (7): 64 bytes for a 40-byte value. */
	char *fits = repeat("HTTP/1.1 200 OK\r\nX: ", 'a', 40, "\r\n\r\n");
	char *over = repeat("HTTP/1.1 200 OK\r\nX: ", 'a', 41, "\r\n\r\n");
	char *partial = repeat("HTTP/1.1 200 OK\r\nX: ", 'a', 100, "");

	ck_assert_uint_eq(strlen(fits), 64);
	ck_assert_int_eq(parse_lim(fits, SHOAL_HTTP_GET, &lim, &resp), 64);
	ck_assert_int_eq(parse_lim(over, SHOAL_HTTP_GET, &lim, &resp), BAD);
	ck_assert_int_eq(parse_lim(partial, SHOAL_HTTP_GET, &lim, &resp), BAD);
	free(fits);
	free(over);
	free(partial);
}
END_TEST

START_TEST(header_count_limit)
{
	struct shoal_http_limits lim = { .max_request_line = 8192, .max_head = 65536,
					 .max_headers = 3 };
	struct shoal_http_response resp;

	ck_assert_int_gt(parse_lim("HTTP/1.1 204 \r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
				   SHOAL_HTTP_GET, &lim, &resp), 0);
	ck_assert_uint_eq(resp.nheaders, 3);
	ck_assert_int_eq(parse_lim("HTTP/1.1 204 \r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
				   SHOAL_HTTP_GET, &lim, &resp), BAD);
	ck_assert_int_eq(parse_lim("HTTP/1.1 204 \r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n",
				   SHOAL_HTTP_GET, &lim, &resp), BAD);
}
END_TEST

START_TEST(header_count_capped_by_array)
{
	struct shoal_http_limits lim = { .max_request_line = 8192, .max_head = 65536,
					 .max_headers = 100000 };
	struct shoal_http_response resp;
	char text[4096];
	size_t n = (size_t)snprintf(text, sizeof(text), "HTTP/1.1 204 \r\n");

	for (int i = 0; i < SHOAL_HTTP_MAX_HEADERS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "X%d: h\r\n", i);
	strcpy(text + n, "\r\n");
	ck_assert_int_gt(parse_lim(text, SHOAL_HTTP_GET, &lim, &resp), 0);
	ck_assert_uint_eq(resp.nheaders, SHOAL_HTTP_MAX_HEADERS);
	strcpy(text + n, "Y: h\r\n\r\n");
	ck_assert_int_eq(parse_lim(text, SHOAL_HTTP_GET, &lim, &resp), BAD);
}
END_TEST

static Suite *http_response_suite(void)
{
	Suite *s = suite_create("http_response");
	TCase *line = tcase_create("status line");
	TCase *fields = tcase_create("fields");
	TCase *frame = tcase_create("framing");
	TCase *limit = tcase_create("limits");

	tcase_add_checked_fixture(line, NULL, free_kept);
	tcase_add_checked_fixture(fields, NULL, free_kept);
	tcase_add_checked_fixture(frame, NULL, free_kept);
	tcase_add_checked_fixture(limit, NULL, free_kept);
	tcase_add_test(line, status_line_and_headers);
	tcase_add_test(line, returns_head_length_before_body);
	tcase_add_test(line, reason_phrase);
	tcase_add_test(line, status_codes);
	tcase_add_test(line, versions);
	tcase_add_test(line, nothing_before_status_line);
	tcase_add_loop_test(fields, field_syntax, 0, sizeof(bad_fields) / sizeof(bad_fields[0]));
	tcase_add_test(fields, field_value_nul);
	tcase_add_test(frame, content_length);
	tcase_add_test(frame, content_length_repeated);
	tcase_add_test(frame, transfer_encoding);
	tcase_add_test(frame, transfer_encoding_with_content_length);
	tcase_add_test(frame, transfer_encoding_in_http10);
	tcase_add_test(frame, body_until_close);
	tcase_add_loop_test(frame, keep_alive, 0, sizeof(persistence) / sizeof(persistence[0]));
	tcase_add_test(frame, upgrade);
	tcase_add_loop_test(frame, body_framing_table, 0, sizeof(framing) / sizeof(framing[0]));
	tcase_add_test(limit, head_size_limit);
	tcase_add_test(limit, header_count_limit);
	tcase_add_test(limit, header_count_capped_by_array);
	suite_add_tcase(s, line);
	suite_add_tcase(s, fields);
	suite_add_tcase(s, frame);
	suite_add_tcase(s, limit);
	return s;
}

int main(void)
{
	return shoal_check_run(http_response_suite());
}
