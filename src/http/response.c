/* The response head parser. Every rule below refuses with the same SHOAL_HTTP_BAD_RESPONSE,
 * because a proxy answers every upstream fault the same way (502) and must not relay a
 * response whose end it cannot find exactly as the client would:
 * - status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ], 1.x only, status 100 to 599
 *   (RFC 9112 4); nothing, not even an empty line, before it;
 * - field lines as strict as in requests (RFC 9112 5): token names running into the colon,
 *   no obs-fold, no bare CR or LF, no control character in values;
 * - Content-Length is 1*DIGIT, once (a repeat, equal or not, and a list are refused as in
 *   requests, RFC 9112 6.3 item 5); Transfer-Encoding is exactly "chunked", once, in HTTP/1.1,
 *   and never next to a Content-Length (RFC 9112 6.1, 6.3 items 3 and 4): other codings would
 *   have to be decoded to find the end, which nginx does not do either. */
#include <limits.h>
#include <string.h>

#include "shoal/http/response.h"

#include "lex.h"

#define BAD SHOAL_HTTP_BAD_RESPONSE

struct fields_seen {
	bool has_length;
	uint64_t length;
	bool has_te; /* always "chunked": anything else was refused */
	bool conn_close;
	bool conn_keep_alive;
	bool has_upgrade;
};

/* The first bytes must be the start of "HTTP/": a response opening with anything else (an
 * empty line, an HTTP/0.9 body) is refused as soon as it shows, not after max_head bytes. */
static bool starts_as_status_line(const char *buf, size_t len)
{
	static const char prefix[] = "HTTP/";
	size_t n = len < sizeof(prefix) - 1 ? len : sizeof(prefix) - 1;

	return memcmp(buf, prefix, n) == 0;
}

static int check_partial_limits(const char *buf, size_t len, size_t prev_len,
				const struct shoal_http_limits *limits)
{
	size_t from = prev_len > 3 ? prev_len - 3 : 0;

	if (len >= limits->max_head)
		return BAD;
	if (memchr(buf + from, '\n', len - from) &&
	    lex_count_field_lines(buf, len) > lex_max_headers(limits))
		return BAD;
	return SHOAL_HTTP_INCOMPLETE;
}

static int parse_status_line(const char *line, size_t len, struct shoal_http_response *resp)
{
	static const size_t reason_at = sizeof("HTTP/1.1 200 ") - 1;

	if (len < reason_at)
		return BAD;
	resp->version = lex_http_version(lex_str(line, 8));
	if (resp->version <= 0 || line[8] != ' ' || line[12] != ' ')
		return BAD;
	if (line[9] < '1' || line[9] > '5' || !lex_is_digit((unsigned char)line[10]) ||
	    !lex_is_digit((unsigned char)line[11]))
		return BAD;
	resp->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	for (size_t i = reason_at; i < len; i++)
		if (!lex_is_field_char((unsigned char)line[i]))
			return BAD;
	resp->reason = lex_str(line + reason_at, len - reason_at);
	return 0;
}

/* Only the fields that frame or end the response matter here; their lengths tell most
 * others apart before a byte is compared (a response has several fields, this runs for each). */
static int apply_field(const struct shoal_http_header *h, struct fields_seen *seen)
{
	size_t len = h->name.len;

	if (len != 14 && len != 17 && len != 10 && len != 7)
		return 0;
	if (shoal_http_str_eq(h->name, "content-length")) {
		if (seen->has_length || !lex_parse_length(h->value, &seen->length))
			return BAD;
		seen->has_length = true;
	} else if (shoal_http_str_eq(h->name, "transfer-encoding")) {
		if (seen->has_te || !shoal_http_str_eq(h->value, "chunked"))
			return BAD;
		seen->has_te = true;
	} else if (shoal_http_str_eq(h->name, "connection")) {
		lex_connection_options(h->value, &seen->conn_close, &seen->conn_keep_alive);
	} else if (shoal_http_str_eq(h->name, "upgrade")) {
		seen->has_upgrade |= h->value.len > 0;
	}
	return 0;
}

/* buf[from .. end) holds complete field lines, each ended by CRLF. */
static int parse_fields(const char *buf, size_t from, size_t end, size_t max_headers,
			struct shoal_http_response *resp, struct fields_seen *seen)
{
	while (from < end) {
		struct shoal_http_header *h = &resp->headers[resp->nheaders];

		if (resp->nheaders == max_headers || !lex_take_field_line(buf, &from, end, h) ||
		    apply_field(h, seen) < 0)
			return BAD;
		resp->nheaders++;
	}
	return 0;
}

/* RFC 9112 6.3 items 1 and 2: these responses end with their head, whatever it says. */
static bool has_no_body(int status, int request_method)
{
	if (request_method == SHOAL_HTTP_HEAD || status < 200 || status == 204 || status == 304)
		return true;
	return request_method == SHOAL_HTTP_CONNECT && status < 300;
}

/* The rules that need all the fields: RFC 9112 6.3 (body length), 9.3 (persistence),
 * RFC 9110 7.8 (Upgrade). */
static int finish_response(struct shoal_http_response *resp, const struct fields_seen *seen,
			   int request_method)
{
	bool http11 = resp->version == SHOAL_HTTP_11;

	if (seen->has_te && (seen->has_length || !http11))
		return BAD;
	resp->keep_alive = !seen->conn_close && (http11 || seen->conn_keep_alive);
	resp->upgrade = resp->status == 101 && seen->has_upgrade;
	if (has_no_body(resp->status, request_method))
		resp->body = SHOAL_HTTP_BODY_NONE;
	else if (seen->has_te)
		resp->body = SHOAL_HTTP_BODY_CHUNKED;
	else if (seen->has_length)
		resp->body = SHOAL_HTTP_BODY_LENGTH;
	else
		resp->body = SHOAL_HTTP_BODY_UNTIL_CLOSE;
	if (resp->body == SHOAL_HTTP_BODY_LENGTH)
		resp->content_length = seen->length;
	/* The close is what ends the body: the connection cannot be reused after it. */
	if (resp->body == SHOAL_HTTP_BODY_UNTIL_CLOSE)
		resp->keep_alive = false;
	return 0;
}

static void reset_response(struct shoal_http_response *resp)
{
	resp->reason = lex_str(NULL, 0);
	resp->nheaders = 0;
	resp->body = SHOAL_HTTP_BODY_NONE;
	resp->content_length = 0;
	resp->keep_alive = false;
	resp->upgrade = false;
}

/* buf[0 .. head_len) is a complete head whose line breaks are all CRLF. */
static int parse_head(const char *buf, size_t head_len, int request_method,
		      const struct shoal_http_limits *limits, struct shoal_http_response *resp)
{
	struct fields_seen seen = { 0 };
	size_t line_end = (size_t)((const char *)memchr(buf, '\r', head_len) - buf);
	int rc;

	if (head_len > limits->max_head || head_len > INT_MAX)
		return BAD;
	reset_response(resp);
	rc = parse_status_line(buf, line_end, resp);
	if (rc == 0)
		rc = parse_fields(buf, line_end + 2, head_len - 2, lex_max_headers(limits), resp,
				  &seen);
	if (rc == 0)
		rc = finish_response(resp, &seen, request_method);
	return rc < 0 ? rc : (int)head_len;
}

int shoal_http_parse_response(const char *buf, size_t len, size_t prev_len, int request_method,
			      const struct shoal_http_limits *limits,
			      struct shoal_http_response *resp)
{
	size_t head_len;
	int rc;

	if (prev_len > len)
		prev_len = len;
	if (!starts_as_status_line(buf, len))
		return BAD;
	rc = lex_find_head_end(buf, len, prev_len, &head_len);
	if (rc < 0)
		return BAD;
	if (rc == 0)
		return check_partial_limits(buf, len, prev_len, limits);
	return parse_head(buf, head_len, request_method, limits, resp);
}
