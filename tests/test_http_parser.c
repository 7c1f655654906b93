#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/http/parser.h"

#include "../src/http/lex.h"

#include "check_run.h"
#include "kept.h"
#include "repeat.h"

static const struct shoal_http_limits limits = {
	.max_request_line = 8192,
	.max_head = 16384,
	.max_headers = 100,
};

/* Each parse gets its own exactly-sized copy, so that the sanitizer catches any read past
 * the bytes the parser was given. */
static int parse_n(const char *text, size_t len, size_t prev_len,
		   const struct shoal_http_limits *lim, struct shoal_http_request *req, char **copy)
{
	*copy = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(*copy);
	memcpy(*copy, text, len);
	return shoal_http_parse_request(*copy, len, prev_len, lim, req);
}

/* A parse whose copy is gone once it returns: for verdicts, and for counts read from req. */
static int parse_once(const char *text, size_t len, size_t prev_len,
		      const struct shoal_http_limits *lim, struct shoal_http_request *req)
{
	char *copy;
	int rc = parse_n(text, len, prev_len, lim, req, &copy);

	free(copy);
	return rc;
}

/* One-shot parse of a NUL-terminated request; the copy lives until the test ends. */
static int parse(const char *text, struct shoal_http_request *req)
{
	char *copy;
	int rc = parse_n(text, strlen(text), 0, &limits, req, &copy);

	keep(copy);
	return rc;
}

/* The token set, RFC 9110 5.6.2, spelled out the grammar's way, against the bitmap the
 * parsers use, for every byte value. */
START_TEST(token_characters_are_rfc_9110s)
{
	static const char specials[] = "!#$%&'*+-.^_`|~";

	for (int c = 0; c < 256; c++) {
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		bool digit = c >= '0' && c <= '9';
		bool special = c != 0 && strchr(specials, c) != NULL;

		ck_assert_msg(lex_is_tchar((unsigned char)c) == (alpha || digit || special),
			      "byte 0x%02x", c);
	}
}
END_TEST

START_TEST(get_with_headers)
{
	struct shoal_http_request req;
	const char *text = "GET /index.html?lang=en HTTP/1.1\r\n"
			   "Host: example.com:8080\r\n"
			   "User-Agent:   curl/8.0  \r\n"
			   "Accept: */*\r\n"
			   "X-Empty:\r\n"
			   "If-None-Match: \"abc\"\r\n"
			   "If-Modified-Since: Sat, 29 Oct 1994 19:43:31 GMT\r\n"
			   "Range: bytes=0-9\r\n"
			   "If-Range: \"abc\"\r\n"
			   "\r\n";

	ck_assert_int_eq(parse(text, &req), (int)strlen(text));
	ck_assert_int_eq(req.method, SHOAL_HTTP_GET);
	assert_str(req.method_str, "GET");
	assert_str(req.target, "/index.html?lang=en");
	assert_str(req.path, "/index.html");
	assert_str(req.query, "lang=en");
	ck_assert_int_eq(req.version, SHOAL_HTTP_11);
	ck_assert_uint_eq(req.nheaders, 8);
	assert_str(req.headers[1].name, "User-Agent");
	assert_str(req.headers[1].value, "curl/8.0");
	assert_str(req.headers[3].name, "X-Empty");
	assert_str(req.headers[3].value, "");
	assert_str(req.host, "example.com:8080");
	ck_assert(req.keep_alive);
	ck_assert(!req.expect_continue);
	ck_assert_int_eq(req.body, SHOAL_HTTP_BODY_NONE);
	assert_str(req.if_none_match, "\"abc\"");
	assert_str(req.if_modified_since, "Sat, 29 Oct 1994 19:43:31 GMT");
	assert_str(req.range, "bytes=0-9");
	assert_str(req.if_range, "\"abc\"");
	free_kept();
}
END_TEST

START_TEST(methods)
{
	static const struct {
		const char *line;
		enum shoal_http_method method;
	} cases[] = {
		{ "HEAD / HTTP/1.1\r\n", SHOAL_HTTP_HEAD },
		{ "POST / HTTP/1.1\r\n", SHOAL_HTTP_POST },
		{ "PUT / HTTP/1.1\r\n", SHOAL_HTTP_PUT },
		{ "DELETE / HTTP/1.1\r\n", SHOAL_HTTP_DELETE },
		{ "TRACE / HTTP/1.1\r\n", SHOAL_HTTP_TRACE },
		{ "PATCH / HTTP/1.1\r\n", SHOAL_HTTP_PATCH },
		{ "OPTIONS / HTTP/1.1\r\n", SHOAL_HTTP_OPTIONS },
		{ "get / HTTP/1.1\r\n", SHOAL_HTTP_OTHER },
		{ "GETX / HTTP/1.1\r\n", SHOAL_HTTP_OTHER },
		{ "M-SEARCH / HTTP/1.1\r\n", SHOAL_HTTP_OTHER },
	};
	struct shoal_http_request req;
	char text[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strcpy(text, cases[i].line);
		strcat(text, "Host: a\r\n\r\n");
		ck_assert_int_eq(parse(text, &req), (int)strlen(text));
		ck_assert_int_eq(req.method, cases[i].method);
		ck_assert_uint_eq(req.method_str.len, strcspn(cases[i].line, " "));
		free_kept();
	}
}
END_TEST

START_TEST(absolute_form)
{
	struct shoal_http_request req;

	ck_assert_int_gt(parse("GET http://example.com:8080/a/b?x=1 HTTP/1.1\r\n"
			       "Host: other\r\n\r\n", &req), 0);
	assert_str(req.host, "example.com:8080");
	assert_str(req.path, "/a/b");
	assert_str(req.query, "x=1");
	assert_str(req.target, "http://example.com:8080/a/b?x=1");

	ck_assert_int_gt(parse("GET HTTPS://Example.com HTTP/1.1\r\nHost: x\r\n\r\n", &req), 0);
	assert_str(req.host, "Example.com");
	assert_str(req.path, "/");
	assert_str(req.query, "");

	ck_assert_int_gt(parse("GET http://[::1]:80?q=2 HTTP/1.1\r\nHost: x\r\n\r\n", &req), 0);
	assert_str(req.host, "[::1]:80");
	assert_str(req.path, "/");
	assert_str(req.query, "q=2");

	ck_assert_int_gt(parse("GET http://h/ HTTP/1.0\r\n\r\n", &req), 0);
	assert_str(req.host, "h");
	free_kept();
}
END_TEST

START_TEST(options_asterisk_and_connect)
{
	struct shoal_http_request req;

	ck_assert_int_gt(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &req), 0);
	ck_assert_int_eq(req.method, SHOAL_HTTP_OPTIONS);
	assert_str(req.target, "*");
	assert_str(req.path, "*");
	ck_assert_int_gt(parse("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
			       &req), 0);
	ck_assert_int_eq(req.method, SHOAL_HTTP_CONNECT);
	assert_str(req.target, "example.com:443");
	assert_str(req.path, "");
	free_kept();
}
END_TEST

START_TEST(http10_keep_alive)
{
	struct shoal_http_request req;

	ck_assert_int_gt(parse("GET / HTTP/1.0\r\n\r\n", &req), 0);
	ck_assert_int_eq(req.version, SHOAL_HTTP_10);
	ck_assert(!req.keep_alive);
	ck_assert_uint_eq(req.host.len, 0);

	ck_assert_int_gt(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: h\r\n"
			       "\r\n", &req), 0);
	ck_assert(req.keep_alive);
	assert_str(req.host, "h");

	ck_assert_int_gt(parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", &req), 0);
	ck_assert(!req.keep_alive);

	/* A later 1.x minor version is answered as 1.1 (RFC 9110 2.5). */
	ck_assert_int_gt(parse("GET / HTTP/1.9\r\nHost: h\r\n\r\n", &req), 0);
	ck_assert_int_eq(req.version, SHOAL_HTTP_11);
	ck_assert(req.keep_alive);

	ck_assert_int_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n"
			       "\r\n", &req),
			 0);
	ck_assert(!req.keep_alive);

	ck_assert_int_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n"
			       "Connection: close\r\n\r\n", &req), 0);
	ck_assert(!req.keep_alive);

	ck_assert_int_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n"
			       "\r\n", &req), 0);
	ck_assert(req.keep_alive);
	free_kept();
}
END_TEST

START_TEST(query_strings)
{
	struct shoal_http_request req;

	ck_assert_int_gt(parse("GET /search?q=a?b&c=%20 HTTP/1.1\r\nHost: h\r\n\r\n", &req), 0);
	assert_str(req.path, "/search");
	assert_str(req.query, "q=a?b&c=%20");
	ck_assert_int_gt(parse("GET /x? HTTP/1.1\r\nHost: h\r\n\r\n", &req), 0);
	assert_str(req.path, "/x");
	assert_str(req.query, "");
	ck_assert_int_gt(parse("GET /plain HTTP/1.1\r\nHost: h\r\n\r\n", &req), 0);
	assert_str(req.path, "/plain");
	ck_assert_uint_eq(req.query.len, 0);
	free_kept();
}
END_TEST

START_TEST(obs_text_and_whitespace)
{
	struct shoal_http_request req;

	ck_assert_int_gt(parse("GET / HTTP/1.1\r\nHost: h\r\n"
			       "X-Name: \t caf\xc3\xa9 \xff au\tlait\t \r\n\r\n", &req), 0);
	assert_str(req.headers[1].value, "caf\xc3\xa9 \xff au\tlait");
	free_kept();
}
END_TEST

START_TEST(leading_empty_lines)
{
	struct shoal_http_request req;
	const char *text = "\r\n\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n";

	ck_assert_int_eq(parse(text, &req), (int)strlen(text));
	assert_str(req.path, "/a");
	ck_assert_int_eq(parse("\r\n\r\n", &req), SHOAL_HTTP_INCOMPLETE);
	free_kept();
}
END_TEST

START_TEST(content_length)
{
	struct shoal_http_request req;

	ck_assert_int_gt(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n", &req), 0);
	ck_assert_int_eq(req.body, SHOAL_HTTP_BODY_LENGTH);
	ck_assert_uint_eq(req.content_length, 5);
	ck_assert_int_gt(parse("PUT / HTTP/1.1\r\nHost: h\r\ncontent-length: 07\r\n\r\n", &req), 0);
	ck_assert_uint_eq(req.content_length, 7);
	ck_assert_int_gt(parse("POST / HTTP/1.0\r\nContent-Length: 18446744073709551615\r\n"
			       "\r\n", &req),
			 0);
	ck_assert_uint_eq(req.content_length, UINT64_MAX);
	ck_assert_int_gt(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &req), 0);
	ck_assert_int_eq(req.body, SHOAL_HTTP_BODY_LENGTH);
	ck_assert_uint_eq(req.content_length, 0);
	free_kept();
}
END_TEST

START_TEST(transfer_encoding_chunked)
{
	struct shoal_http_request req;

	ck_assert_int_gt(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
			       "\r\n", &req),
			 0);
	ck_assert_int_eq(req.body, SHOAL_HTTP_BODY_CHUNKED);
	ck_assert_int_gt(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\tChunked \r\n"
			       "\r\n", &req),
			 0);
	ck_assert_int_eq(req.body, SHOAL_HTTP_BODY_CHUNKED);
	free_kept();
}
END_TEST

START_TEST(expect_continue)
{
	struct shoal_http_request req;

	ck_assert_int_gt(parse("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
			       "Content-Length: 3\r\n\r\n", &req), 0);
	ck_assert(req.expect_continue);
	ck_assert_int_gt(parse("PUT / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n", &req), 0);
	ck_assert(!req.expect_continue);
	/* RFC 9110 10.1.1: a 1.0 client cannot understand 100. */
	ck_assert_int_gt(parse("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &req), 0);
	ck_assert(!req.expect_continue);
	free_kept();
}
END_TEST

START_TEST(valid_hosts)
{
	static const char *const hosts[] = {
		"example.com", "example.com:80", "[::1]", "[2001:db8::1]:8080", "127.0.0.1:1",
		"xn--bcher-kva.example", "a%41b", "host:",
	};
	struct shoal_http_request req;
	char text[256];

	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", hosts[i]);
		ck_assert_msg(parse(text, &req) > 0, "host %s", hosts[i]);
		assert_str(req.host, hosts[i]);
		free_kept();
	}
}
END_TEST

START_TEST(pipelined_returns_head_length)
{
	struct shoal_http_request req;
	const char *head = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n";
	char text[256];

	snprintf(text, sizeof(text), "%sGET /2 HTTP/1.1\r\nHost: h\r\n\r\n", head);
	ck_assert_int_eq(parse(text, &req), (int)strlen(head));
	assert_str(req.path, "/1");
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /\n\n\r\r", &req),
			 (int)strlen(head) - 1);
	free_kept();
}
END_TEST

START_TEST(str_eq)
{
	ck_assert(shoal_http_str_eq((struct shoal_http_str){ "Host", 4 }, "host"));
	ck_assert(shoal_http_str_eq((struct shoal_http_str){ "HOST", 4 }, "host"));
	ck_assert(!shoal_http_str_eq((struct shoal_http_str){ "Hos", 3 }, "host"));
	ck_assert(!shoal_http_str_eq((struct shoal_http_str){ "Hostx", 5 }, "host"));
	ck_assert(!shoal_http_str_eq((struct shoal_http_str){ "Hosu", 4 }, "host"));
	ck_assert(shoal_http_str_eq((struct shoal_http_str){ "", 0 }, ""));
	ck_assert(!shoal_http_str_eq((struct shoal_http_str){ "[", 1 }, "{"));
}
END_TEST

static const struct {
	const char *text;
	int status;
} invalid[] = {
	/* request line */
	{ "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "GET /  HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", -400 },
	{ " GET / HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "G@T / HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "GET * HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "OPTIONS ** HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "GET example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "CONNECT example.com HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "CONNECT http://example.com:80/ HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "GET http://user@h/ HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "GET http:///a HTTP/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "GET /\r\nHost: h\r\n\r\n", -400 },
	{ "GET / \r\nHost: h\r\n\r\n", -400 },
	{ "GET\r\nHost: h\r\n\r\n", -400 },
	{ "GET / HTTP/1.10\r\nHost: h\r\n\r\n", -400 },
	{ "GET / http/1.1\r\nHost: h\r\n\r\n", -400 },
	{ "GET / HTTP/1\r\nHost: h\r\n\r\n", -400 },
	{ "GET / HTTP/1.x\r\nHost: h\r\n\r\n", -400 },
	{ "GET / HTTP/11\r\nHost: h\r\n\r\n", -400 },
	{ "GET / HTTP/2.0\r\nHost: h\r\n\r\n", -505 },
	{ "GET / HTTP/0.9\r\nHost: h\r\n\r\n", -505 },
	{ "GET / HTTP/3.0\r\n\r\n", -505 },
	/* field lines: more of them in the framing rules below */
	{ "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX(y): v\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\001b\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", -400 },
	/* Host: more in the framing rules below */
	{ "GET / HTTP/1.1\r\nHost: user@h\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost:\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: []\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", -400 },
	{ "GET http://h/ HTTP/1.1\r\nHost: a@b\r\n\r\n", -400 },
};

START_TEST(invalid_requests)
{
	struct shoal_http_request req;

	ck_assert_msg(parse(invalid[_i].text, &req) == invalid[_i].status, "case %d: %s", _i,
		      invalid[_i].text);
	free_kept();
}
END_TEST

/* The framing rules of issue 12 (RFC 9112 2.2, 3.2, 5.1, 5.2, 6.1, 6.3; RFC 9110 5.5), a test
 * per rule: a proxy in front of shoal forwards what this parser accepts, so each request here
 * is refused, whole and byte by byte, never read another way. Some texts hold a NUL. */
struct raw {
	const char *text;
	size_t len;
};

#define RAW(s) { s, sizeof(s) - 1 }
#define GET_FIELDS(lines) RAW("GET / HTTP/1.1\r\n" lines "\r\n")
#define GET_WITH(fields) GET_FIELDS("Host: h\r\n" fields)
#define POST_WITH(fields) RAW("POST / HTTP/1.1\r\nHost: h\r\n" fields "\r\n")
#define CL(value) "Content-Length: " value "\r\n"
#define TE(value) "Transfer-Encoding: " value "\r\n"

static void assert_refused(const struct raw *texts, size_t n, int status)
{
	struct shoal_http_request req;
	int rc;

	for (size_t i = 0; i < n; i++) {
		rc = parse_once(texts[i].text, texts[i].len, 0, &limits, &req);
		ck_assert_msg(rc == status, "request %zu: %d, not %d", i, rc, status);
		rc = SHOAL_HTTP_INCOMPLETE;
		for (size_t k = 1; k <= texts[i].len && rc == SHOAL_HTTP_INCOMPLETE; k++)
			rc = parse_once(texts[i].text, k, k - 1, &limits, &req);
		ck_assert_msg(rc == status, "request %zu byte by byte: %d, not %d", i, rc, status);
	}
}

#define REFUSED(rule, status, ...)                                                       \
	START_TEST(rule)                                                                  \
	{                                                                                 \
		static const struct raw texts[] = { __VA_ARGS__ };                        \
		assert_refused(texts, sizeof(texts) / sizeof(texts[0]), status);          \
	}                                                                                 \
	END_TEST

/* RFC 9112 6.1 and 6.3: Content-Length = 1*DIGIT, alone. */
REFUSED(content_length_with_transfer_encoding, -400, POST_WITH(CL("5") TE("chunked")),
	POST_WITH(TE("chunked") CL("5")), POST_WITH(TE("chunked") CL("0")),
	POST_WITH(CL("5") TE("gzip, chunked")))
REFUSED(content_length_twice_equal, -400, POST_WITH(CL("5") CL("5")),
	POST_WITH(CL("0") "content-length: 0\r\n"), POST_WITH(CL("007") "X: y\r\n" CL("7")))
REFUSED(content_length_twice_differing, -400, POST_WITH(CL("5") CL("6")),
	POST_WITH(CL("5") CL("50")))
REFUSED(content_length_list, -400, POST_WITH(CL("5, 5")), POST_WITH(CL("007 , 7")),
	POST_WITH(CL("5, 6")), POST_WITH(CL("5,")), POST_WITH(CL(",5")))
REFUSED(content_length_empty, -400, POST_WITH(CL("")), POST_WITH(CL(" \t ")))
REFUSED(content_length_sign, -400, POST_WITH(CL("+5")), POST_WITH(CL("-1")), POST_WITH(CL("-0")))
REFUSED(content_length_hex, -400, POST_WITH(CL("0x10")), POST_WITH(CL("0X5")), POST_WITH(CL("a")))
REFUSED(content_length_underscore, -400, POST_WITH(CL("1_0")), POST_WITH(CL("1_000")))
REFUSED(content_length_space_inside, -400, POST_WITH(CL("5 5")), POST_WITH(CL("5\t5")))
REFUSED(content_length_overflow, -400, POST_WITH(CL("18446744073709551616")),
	POST_WITH(CL("99999999999999999999")), POST_WITH(CL("1000000000000000000000000000000")))

/* RFC 9112 6.1 and 6.3: chunked, once and last, is the only framing a request may use. */
REFUSED(transfer_encoding_other_than_chunked, -400, POST_WITH(TE("xchunked")),
	POST_WITH(TE("chunkedx")), POST_WITH(TE("chu nked")), POST_WITH(TE("\"chunked\"")),
	POST_WITH(TE("gzip")), POST_WITH(TE("identity")), POST_WITH(TE("")))
REFUSED(transfer_encoding_chunked_not_last, -400, POST_WITH(TE("chunked, identity")),
	POST_WITH(TE("chunked, gzip")), POST_WITH(TE("chunked") TE("gzip")))
REFUSED(transfer_encoding_empty_element, -400, POST_WITH(TE(", chunked")),
	POST_WITH(TE("chunked,")), POST_WITH(TE(",")))
REFUSED(transfer_encoding_parameter, -400, POST_WITH(TE("chunked;a=b")),
	POST_WITH(TE("chunked ; a=b")))
REFUSED(transfer_encoding_chunked_twice, -400, POST_WITH(TE("chunked") TE("chunked")),
	POST_WITH(TE("chunked, chunked")))
REFUSED(transfer_encoding_in_http10, -400, RAW("POST / HTTP/1.0\r\n" TE("chunked") "\r\n"),
	RAW("POST / HTTP/1.0\r\nHost: h\r\n" TE("chunked") CL("5") "\r\n"))
/* RFC 9112 6.1: a coding we do not know, before the final chunked. */
REFUSED(transfer_encoding_unknown_coding, -501, POST_WITH(TE("gzip, chunked")),
	POST_WITH(TE("gzip") TE("chunked")), POST_WITH(TE("identity , Chunked")))

/* RFC 9112 2.2, 5.1, 5.2 and RFC 9110 5.5: field lines. */
REFUSED(whitespace_before_colon, -400, GET_FIELDS("Host : h\r\n"), GET_FIELDS("Host\t: h\r\n"),
	POST_WITH("Transfer-Encoding : chunked\r\n"))
REFUSED(whitespace_before_first_field_line, -400, GET_FIELDS(" Host: h\r\n"),
	GET_FIELDS("\tX: y\r\nHost: h\r\n"))
REFUSED(obs_fold, -400, GET_WITH("X: a\r\n b\r\n"), GET_WITH("X: a\r\n\tb\r\n"),
	POST_WITH("Transfer-Encoding:\r\n chunked\r\n"))
REFUSED(field_line_without_colon, -400, GET_WITH("NoColon\r\n"), GET_WITH("X y\r\n"),
	POST_WITH("Transfer-Encoding chunked\r\n"))
REFUSED(field_name_above_0x7e, -400, GET_WITH("X\x80: v\r\n"), GET_WITH("Caf\xc3\xa9: v\r\n"),
	GET_WITH("X\xff: v\r\n"))
REFUSED(field_name_control, -400, GET_WITH("X\x01Y: v\r\n"), GET_WITH("X\0Y: v\r\n"),
	GET_WITH("X\x7f: v\r\n"), GET_WITH("X\tY: v\r\n"), GET_WITH("\x1b: v\r\n"))
REFUSED(field_value_cr, -400, GET_WITH("X: a\rb\r\n"), GET_FIELDS("Host: h\rX: y\r\n"))
REFUSED(field_value_lf, -400, GET_WITH("X: a\nb\r\n"), GET_WITH("X: a\nY: b\r\n"))
REFUSED(field_value_nul, -400, GET_WITH("X: a\0b\r\n"), GET_WITH("X: \0\r\n"),
	GET_WITH("X: a\0\r\n"))

/* RFC 9112 2.2: CRLF ends every line of the head; bare LF and bare CR are refused. */
REFUSED(bare_lf_line_ending, -400, RAW("GET / HTTP/1.1\nHost: h\r\n\r\n"),
	GET_FIELDS("Host: h\n"), RAW("GET / HTTP/1.1\r\nHost: h\r\n\n"), RAW("GET / HTTP/1.1\n\n"),
	RAW("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), RAW("\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"))
REFUSED(bare_cr, -400, RAW("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n"),
	RAW("\r\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), RAW("GET / HTTP/1.1\rHost: h\r\n\r\n"),
	GET_WITH("X: a\r\r\n"), GET_FIELDS("Host: h\r\n\r"))

/* RFC 9112 3.2: exactly one valid Host in HTTP/1.1, at most one in HTTP/1.0. */
REFUSED(host_missing, -400, GET_FIELDS(""), GET_FIELDS("X: y\r\n"),
	RAW("GET http://h/ HTTP/1.1\r\n\r\n"))
REFUSED(host_twice, -400, GET_WITH("host: h\r\n"), GET_WITH("Host: other\r\n"),
	RAW("GET / HTTP/1.0\r\nHost: h\r\nHost: h\r\n\r\n"))
REFUSED(host_with_nul, -400, GET_FIELDS("Host: a\0b\r\n"), GET_FIELDS("Host: h\0\r\n"))
REFUSED(host_with_space, -400, GET_FIELDS("Host: a b\r\n"), GET_FIELDS("Host: a\tb\r\n"),
	GET_FIELDS("Host: h :80\r\n"))

START_TEST(request_line_limit)
{
	struct shoal_http_limits lim = { .max_request_line = 32, .max_head = 1024,
					 .max_headers = 8 };
	struct shoal_http_request req;
	/* "GET /" + 18 + " HTTP/1.1" is exactly 32 bytes. */
	char *fits = repeat("GET /", 'a', 18, " HTTP/1.1\r\nHost: h\r\n\r\n");
	char *too_long = repeat("GET /", 'a', 19, " HTTP/1.1\r\nHost: h\r\n\r\n");
	/* Leading empty lines count towards the request line: 2 * 9 + 14 = 32 bytes. */
	char *blank_fits = repeat("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n", 'x', 0,
				  "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	char *blank_too_long = repeat("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n", 'x', 0,
				      "GET / HTTP/1.1\r\nHost: h\r\n\r\n");

	ck_assert_uint_eq(strchr(fits, '\r') - fits, 32);
	ck_assert_int_eq(parse_once(fits, strlen(fits), 0, &lim, &req), (int)strlen(fits));
	ck_assert_int_eq(parse_once(too_long, strlen(too_long), 0, &lim, &req), -414);
	/* Incomplete: 32 bytes without a CR may still end well, 33 cannot. */
	ck_assert_int_eq(parse_once(too_long, 32, 0, &lim, &req), SHOAL_HTTP_INCOMPLETE);
	ck_assert_int_eq(parse_once(too_long, 33, 0, &lim, &req), -414);
	ck_assert_int_eq(parse_once(too_long, 33, 32, &lim, &req), -414);
	ck_assert_int_eq(parse_once(too_long, 40, 10, &lim, &req), -414);
	ck_assert_int_eq(parse_once(blank_fits, strlen(blank_fits), 0, &lim, &req),
			 (int)strlen(blank_fits));
	ck_assert_int_eq(parse_once(blank_too_long, strlen(blank_too_long), 0, &lim, &req), -414);
	ck_assert_int_eq(parse_once(blank_too_long, 33, 0, &lim, &req), -414);
	free(fits);
	free(too_long);
	free(blank_fits);
	free(blank_too_long);
}
END_TEST

START_TEST(head_size_limit)
{
	struct shoal_http_limits lim = { .max_request_line = 64, .max_head = 64, .max_headers = 8 };
	struct shoal_http_request req;
	/* 16 + 9 + 3 + 32 + 4 = 64 bytes */
	char *fits = repeat("GET / HTTP/1.1\r\nHost: h\r\nX: ", 'v', 32, "\r\n\r\n");
	char *too_big = repeat("GET / HTTP/1.1\r\nHost: h\r\nX: ", 'v', 33, "\r\n\r\n");

	ck_assert_uint_eq(strlen(fits), 64);
	ck_assert_int_eq(parse_once(fits, 64, 0, &lim, &req), 64);
	ck_assert_int_eq(parse_once(fits, 63, 0, &lim, &req), SHOAL_HTTP_INCOMPLETE);
	ck_assert_int_eq(parse_once(too_big, 65, 0, &lim, &req), -431);
	ck_assert_int_eq(parse_once(too_big, 64, 0, &lim, &req), -431);
	ck_assert_int_eq(parse_once(too_big, 64, 60, &lim, &req), -431);
	ck_assert_int_eq(parse_once(too_big, 63, 0, &lim, &req), SHOAL_HTTP_INCOMPLETE);
	free(fits);
	free(too_big);
}
END_TEST

START_TEST(header_count_limit)
{
	struct shoal_http_limits lim = { .max_request_line = 64, .max_head = 1024,
					 .max_headers = 3 };
	struct shoal_http_request req;
	const char *three = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
	const char *four = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";

	ck_assert_int_eq(parse_once(three, strlen(three), 0, &lim, &req), (int)strlen(three));
	ck_assert_uint_eq(req.nheaders, 3);
	ck_assert_int_eq(parse_once(four, strlen(four), 0, &lim, &req), -431);
	/* The fourth field line ended: no need to wait for the rest of the head. */
	ck_assert_int_eq(parse_once(four, strlen(four) - 2, 0, &lim, &req), -431);
	ck_assert_int_eq(parse_once(four, strlen(four) - 2, strlen(four) - 3, &lim, &req), -431);
	ck_assert_int_eq(parse_once(four, strlen(four) - 3, 0, &lim, &req), SHOAL_HTTP_INCOMPLETE);
}
END_TEST

START_TEST(header_count_capped_by_array)
{
	struct shoal_http_limits lim = { .max_request_line = 64, .max_head = 65536,
					 .max_headers = 100000 };
	struct shoal_http_request req;
	char text[4096];
	size_t n = (size_t)snprintf(text, sizeof(text), "GET / HTTP/1.1\r\n");

	for (int i = 0; i < SHOAL_HTTP_MAX_HEADERS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "Host%d: h\r\n", i);
	strcpy(text + n, "Host: h\r\n\r\n");
	ck_assert_int_eq(parse_once(text, strlen(text), 0, &lim, &req), -431);
	strcpy(text + n - strlen("Host127: h\r\n"), "Host: h\r\n\r\n");
	ck_assert_int_eq(parse_once(text, strlen(text), 0, &lim, &req), (int)strlen(text));
	ck_assert_uint_eq(req.nheaders, SHOAL_HTTP_MAX_HEADERS);
}
END_TEST

struct parsed {
	struct shoal_http_request req;
	char *buf;
	size_t len;
};

static void assert_same_str(struct shoal_http_str a, const struct parsed *pa,
			    struct shoal_http_str b, const struct parsed *pb)
{
	ck_assert_uint_eq(a.len, b.len);
	if (a.len == 0)
		return;
	ck_assert_mem_eq(a.p, b.p, a.len);
	/* Strings point into the buffer, or both at one constant (the "/" of absolute-form). */
	if (a.p >= pa->buf && a.p < pa->buf + pa->len)
		ck_assert_int_eq(a.p - pa->buf, b.p - pb->buf);
	else
		ck_assert_ptr_eq(a.p, b.p);
}

static void assert_same_request(const struct parsed *pa, const struct parsed *pb)
{
	const struct shoal_http_request *a = &pa->req, *b = &pb->req;

	ck_assert_int_eq(a->method, b->method);
	assert_same_str(a->method_str, pa, b->method_str, pb);
	assert_same_str(a->target, pa, b->target, pb);
	assert_same_str(a->path, pa, b->path, pb);
	assert_same_str(a->query, pa, b->query, pb);
	ck_assert_int_eq(a->version, b->version);
	ck_assert_uint_eq(a->nheaders, b->nheaders);
	for (size_t i = 0; i < a->nheaders; i++) {
		assert_same_str(a->headers[i].name, pa, b->headers[i].name, pb);
		assert_same_str(a->headers[i].value, pa, b->headers[i].value, pb);
	}
	assert_same_str(a->host, pa, b->host, pb);
	ck_assert(a->keep_alive == b->keep_alive);
	ck_assert(a->expect_continue == b->expect_continue);
	ck_assert_int_eq(a->body, b->body);
	ck_assert_uint_eq(a->content_length, b->content_length);
	assert_same_str(a->if_none_match, pa, b->if_none_match, pb);
	assert_same_str(a->if_modified_since, pa, b->if_modified_since, pb);
	assert_same_str(a->range, pa, b->range, pb);
	assert_same_str(a->if_range, pa, b->if_range, pb);
}

/* A head, then what follows it in the buffer (a body, the next pipelined request). */
static const struct {
	const char *head;
	const char *rest;
} splits[] = {
	{ "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nRange: bytes=1-\r\n\r\n",
	  "GET /next HTTP/1.1\r\nHost: example.com\r\n\r\n" },
	{ "\r\n\r\nHEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "" },
	{ "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
	  "hello" },
	{ "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
	  "5\r\nhello\r\n0\r\n\r\n" },
	{ "GET http://h:81/p?q HTTP/1.1\r\nHost: h\r\nX-Obs: caf\xc3\xa9\r\n\r\n", "\r\n\r\n" },
	{ "GET http://h HTTP/1.1\r\nHost: h\r\n\r\n", "" },
	{ "GET / HTTP/1.0\r\n\r\n", "" },
	{ "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "\n\n\r\r\r\n" },
	{ "\r\nGET / HTTP/1.1\r\nHost:h\r\nX:\r\n\r\n", "\r\n" },
};

/* Feeds the prefixes the way a caller reading the socket would: first buf[0..k), then the
 * whole buffer with prev_len = k; and also one byte per read. */
START_TEST(every_split_point)
{
	size_t head_len = strlen(splits[_i].head), len = head_len + strlen(splits[_i].rest);
	char *text = malloc(len + 1);
	struct parsed whole = { .len = len }, part;
	int rc;

	ck_assert_ptr_nonnull(text);
	strcpy(text, splits[_i].head);
	strcat(text, splits[_i].rest);
	ck_assert_int_eq(parse_n(text, len, 0, &limits, &whole.req, &whole.buf), (int)head_len);
	for (size_t k = 1; k < len; k++) {
		rc = parse_once(text, k, 0, &limits, &part.req);
		ck_assert_int_eq(rc, k < head_len ? SHOAL_HTTP_INCOMPLETE : (int)head_len);
		if (rc != SHOAL_HTTP_INCOMPLETE)
			continue;
		part.len = len;
		rc = parse_n(text, len, k, &limits, &part.req, &part.buf);
		ck_assert_int_eq(rc, (int)head_len);
		assert_same_request(&whole, &part);
		free(part.buf);
	}
	for (size_t k = 1; k <= head_len; k++) {
		part.len = k;
		rc = parse_n(text, k, k - 1, &limits, &part.req, &part.buf);
		ck_assert_int_eq(rc, k < head_len ? SHOAL_HTTP_INCOMPLETE : (int)head_len);
		if (rc > 0)
			assert_same_request(&whole, &part);
		free(part.buf);
	}
	free(whole.buf);
	free(text);
}
END_TEST

/* A bad byte is refused as soon as it arrives, whatever came before. */
START_TEST(bare_lf_at_every_split_point)
{
	const char *text = "GET / HTTP/1.1\r\nHost: h\r\nX: a\nb\r\n\r\n";
	size_t bad = (size_t)(strstr(text, "a\n") - text) + 2;
	struct shoal_http_request req;

	for (size_t k = 1; k <= strlen(text); k++) {
		int rc = parse_once(text, k, k - 1, &limits, &req);

		ck_assert_int_eq(rc, k < bad ? SHOAL_HTTP_INCOMPLETE : -400);
		if (k >= bad)
			break;
	}
	for (size_t k = 1; k < bad; k++)
		ck_assert_int_eq(parse_once(text, strlen(text), k, &limits, &req), -400);
}
END_TEST

static TCase *framing_tcase(void)
{
	TCase *framing = tcase_create("framing");
	const TTest *rules[] = {
		content_length_with_transfer_encoding, content_length_twice_equal,
		content_length_twice_differing, content_length_list, content_length_empty,
		content_length_sign, content_length_hex, content_length_underscore,
		content_length_space_inside, content_length_overflow,
		transfer_encoding_other_than_chunked, transfer_encoding_chunked_not_last,
		transfer_encoding_empty_element, transfer_encoding_parameter,
		transfer_encoding_chunked_twice, transfer_encoding_in_http10,
		transfer_encoding_unknown_coding, whitespace_before_colon,
		whitespace_before_first_field_line, obs_fold, field_line_without_colon,
		field_name_above_0x7e, field_name_control, field_value_cr, field_value_lf,
		field_value_nul, bare_lf_line_ending, bare_cr, host_missing, host_twice,
		host_with_nul, host_with_space,
	};

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		tcase_add_test(framing, rules[i]);
	return framing;
}

static Suite *http_parser_suite(void)
{
	Suite *s = suite_create("http_parser");
	TCase *valid = tcase_create("valid");
	TCase *bad = tcase_create("invalid");
	TCase *limit = tcase_create("limits");
	TCase *split = tcase_create("splits");

	tcase_add_test(valid, token_characters_are_rfc_9110s);
	tcase_add_test(valid, get_with_headers);
	tcase_add_test(valid, methods);
	tcase_add_test(valid, absolute_form);
	tcase_add_test(valid, options_asterisk_and_connect);
	tcase_add_test(valid, http10_keep_alive);
	tcase_add_test(valid, query_strings);
	tcase_add_test(valid, obs_text_and_whitespace);
	tcase_add_test(valid, leading_empty_lines);
	tcase_add_test(valid, content_length);
	tcase_add_test(valid, transfer_encoding_chunked);
	tcase_add_test(valid, expect_continue);
	tcase_add_test(valid, valid_hosts);
	tcase_add_test(valid, pipelined_returns_head_length);
	tcase_add_test(valid, str_eq);
	tcase_add_loop_test(bad, invalid_requests, 0, sizeof(invalid) / sizeof(invalid[0]));
	tcase_add_test(limit, request_line_limit);
	tcase_add_test(limit, head_size_limit);
	tcase_add_test(limit, header_count_limit);
	tcase_add_test(limit, header_count_capped_by_array);
	tcase_add_loop_test(split, every_split_point, 0, sizeof(splits) / sizeof(splits[0]));
	tcase_add_test(split, bare_lf_at_every_split_point);
	suite_add_tcase(s, valid);
	suite_add_tcase(s, bad);
	suite_add_tcase(s, framing_tcase());
	suite_add_tcase(s, limit);
	suite_add_tcase(s, split);
	return s;
}

int main(void)
{
	return shoal_check_run(http_parser_suite());
}
