#include <limits.h>
#include <string.h>

#include "shoal/http/parser.h"

#include "lex.h"

/* What the field lines contribute to the derived request fields, gathered before the
 * cross-field rules (RFC 9112 6.1, 6.3) can be applied. */
struct fields_seen {
	size_t host_count;
	bool has_length;
	uint64_t length;
	bool has_te;
	bool te_chunked;      /* "chunked" appeared (at most once is allowed) */
	bool te_last_chunked; /* the final coding so far is "chunked" */
	bool te_other;        /* a coding other than chunked appeared */
	bool conn_close;
	bool conn_keep_alive;
	bool expect_continue;
};

/* RFC 3986 unreserved and sub-delims: the characters of a reg-name besides pct-encoded. */
static bool is_reg_name_char(unsigned char c)
{
	if (lex_is_alnum(c))
		return true;
	switch (c) {
	case '-': case '.': case '_': case '~': case '!': case '$': case '&': case '\'':
	case '(': case ')': case '*': case '+': case ',': case ';': case '=':
		return true;
	default:
		return false;
	}
}

/* The request line is measured from the start of the buffer, leading empty lines included,
 * so that the verdict does not depend on how the bytes were split across reads. */
static bool request_line_fits(const char *buf, size_t len, size_t max)
{
	size_t start = lex_skip_empty_lines(buf, len);
	size_t window = len < max + 1 ? len : max + 1;

	return start < window && memchr(buf + start, '\r', window - start);
}

static int check_partial_limits(const char *buf, size_t len, size_t prev_len,
				const struct shoal_http_limits *limits)
{
	size_t from = prev_len > 3 ? prev_len - 3 : 0;

	/* An earlier call with more than max_request_line bytes already decided this. */
	if (len > limits->max_request_line && prev_len <= limits->max_request_line &&
	    !request_line_fits(buf, len, limits->max_request_line))
		return -414;
	if (len >= limits->max_head)
		return -431;
	if (memchr(buf + from, '\n', len - from) &&
	    lex_count_field_lines(buf, len) > lex_max_headers(limits))
		return -431;
	return SHOAL_HTTP_INCOMPLETE;
}

static enum shoal_http_method method_of(struct shoal_http_str m)
{
	static const struct {
		const char *name;
		enum shoal_http_method method;
	} known[] = {
		{ "GET", SHOAL_HTTP_GET },	   { "HEAD", SHOAL_HTTP_HEAD },
		{ "POST", SHOAL_HTTP_POST },	   { "PUT", SHOAL_HTTP_PUT },
		{ "DELETE", SHOAL_HTTP_DELETE },   { "OPTIONS", SHOAL_HTTP_OPTIONS },
		{ "TRACE", SHOAL_HTTP_TRACE },	   { "CONNECT", SHOAL_HTTP_CONNECT },
		{ "PATCH", SHOAL_HTTP_PATCH },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i].name) == m.len && memcmp(known[i].name, m.p, m.len) == 0)
			return known[i].method;
	return SHOAL_HTTP_OTHER;
}

static int parse_version(struct shoal_http_str v, int *version)
{
	int rc = lex_http_version(v);

	if (rc <= 0)
		return rc < 0 ? -400 : -505;
	*version = rc;
	return 0;
}

/* host [":" port] as RFC 3986 defines them, without userinfo: '@' is thus refused. */
static bool is_valid_host(struct shoal_http_str h, bool port_required)
{
	size_t i = 0;

	if (h.len > 0 && h.p[0] == '[') {
		for (i = 1; i < h.len && h.p[i] != ']'; i++)
			if (lex_hex_value((unsigned char)h.p[i]) < 0 && h.p[i] != ':' &&
			    h.p[i] != '.')
				return false;
		if (i == h.len || i == 1)
			return false;
		i++;
	} else {
		for (; i < h.len && h.p[i] != ':'; i++) {
			if (h.p[i] == '%' && i + 2 < h.len &&
			    lex_hex_value((unsigned char)h.p[i + 1]) >= 0 &&
			    lex_hex_value((unsigned char)h.p[i + 2]) >= 0)
				i += 2;
			else if (!is_reg_name_char((unsigned char)h.p[i]))
				return false;
		}
		if (i == 0)
			return false;
	}
	if (i == h.len)
		return !port_required;
	if (h.p[i] != ':' || (port_required && i + 1 == h.len))
		return false;
	for (i++; i < h.len; i++)
		if (!lex_is_digit((unsigned char)h.p[i]))
			return false;
	return true;
}

static void split_path_query(const char *p, size_t len, struct shoal_http_request *req)
{
	const char *q = memchr(p, '?', len);

	if (!q) {
		req->path = lex_str(p, len);
		return;
	}
	req->path = lex_str(p, (size_t)(q - p));
	req->query = lex_str(q + 1, len - (size_t)(q - p) - 1);
}

/* Length of an "http://" or "https://" prefix of the target, 0 if there is none. */
static size_t http_scheme_len(struct shoal_http_str t)
{
	if (t.len >= 7 && shoal_http_str_eq(lex_str(t.p, 7), "http://"))
		return 7;
	if (t.len >= 8 && shoal_http_str_eq(lex_str(t.p, 8), "https://"))
		return 8;
	return 0;
}

static int parse_absolute_form(struct shoal_http_request *req, size_t scheme_len)
{
	const char *auth = req->target.p + scheme_len;
	const char *end = req->target.p + req->target.len;
	const char *rest = auth;

	while (rest < end && *rest != '/' && *rest != '?')
		rest++;
	req->host = lex_str(auth, (size_t)(rest - auth));
	if (!is_valid_host(req->host, false))
		return -400;
	if (rest < end && *rest == '/') {
		split_path_query(rest, (size_t)(end - rest), req);
		return 0;
	}
	req->path = lex_str("/", 1);
	if (rest < end)
		req->query = lex_str(rest + 1, (size_t)(end - rest) - 1);
	return 0;
}

/* RFC 9112 3.2: each form of request-target is tied to the methods that may use it. */
static int parse_target(struct shoal_http_request *req)
{
	struct shoal_http_str t = req->target;

	if (req->method == SHOAL_HTTP_CONNECT) {
		if (!is_valid_host(t, true))
			return -400;
		req->path = lex_str(t.p, 0);
		return 0;
	}
	if (t.p[0] == '/') {
		split_path_query(t.p, t.len, req);
		return 0;
	}
	if (t.len == 1 && t.p[0] == '*') {
		if (req->method != SHOAL_HTTP_OPTIONS)
			return -400;
		req->path = t;
		return 0;
	}
	if (http_scheme_len(t) > 0)
		return parse_absolute_form(req, http_scheme_len(t));
	return -400;
}

static int parse_request_line(const char *line, size_t len, struct shoal_http_request *req)
{
	const char *end = line + len;
	const char *sp1 = memchr(line, ' ', len);
	const char *sp2;
	int rc;

	if (!sp1)
		return -400;
	req->method_str = lex_str(line, (size_t)(sp1 - line));
	if (!lex_is_token(req->method_str))
		return -400;
	req->method = method_of(req->method_str);
	sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1)
		return -400;
	req->target = lex_str(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	for (size_t i = 0; i < req->target.len; i++) {
		unsigned char c = (unsigned char)req->target.p[i];

		if (c < 0x21 || c > 0x7E)
			return -400;
	}
	rc = parse_version(lex_str(sp2 + 1, (size_t)(end - sp2 - 1)), &req->version);
	if (rc < 0)
		return rc;
	return parse_target(req);
}

/* Content-Length = 1*DIGIT, in one field line. RFC 9110 8.6 would let a recipient merge
 * repeated identical lengths, but a proxy in front of us that took the first, the last or the
 * merged value would frame the body its own way: a second length, equal or not, and a list are
 * refused (RFC 9112 6.3, item 5). */
static int add_content_length(struct shoal_http_str value, struct fields_seen *seen)
{
	if (seen->has_length || !lex_parse_length(value, &seen->length))
		return -400;
	seen->has_length = true;
	return 0;
}

static int add_transfer_codings(struct shoal_http_str value, struct fields_seen *seen)
{
	struct shoal_http_str elem;
	size_t pos = 0;

	seen->has_te = true;
	while (lex_next_element(value, &pos, &elem)) {
		if (!lex_is_token(elem))
			return -400;
		seen->te_last_chunked = shoal_http_str_eq(elem, "chunked");
		if (!seen->te_last_chunked)
			seen->te_other = true;
		else if (seen->te_chunked)
			return -400;
		else
			seen->te_chunked = true;
	}
	return 0;
}

static int add_host(struct shoal_http_str value, struct shoal_http_request *req,
		    struct fields_seen *seen)
{
	if (seen->host_count++ > 0 || !is_valid_host(value, false))
		return -400;
	/* In absolute-form the target already named the host, and it wins (RFC 9112 3.2.2). */
	if (req->host.len == 0)
		req->host = value;
	return 0;
}

static int apply_field(const struct shoal_http_header *h, struct shoal_http_request *req,
		       struct fields_seen *seen)
{
	if (shoal_http_str_eq(h->name, "host"))
		return add_host(h->value, req, seen);
	if (shoal_http_str_eq(h->name, "content-length"))
		return add_content_length(h->value, seen);
	if (shoal_http_str_eq(h->name, "transfer-encoding"))
		return add_transfer_codings(h->value, seen);
	if (shoal_http_str_eq(h->name, "connection"))
		lex_connection_options(h->value, &seen->conn_close, &seen->conn_keep_alive);
	else if (shoal_http_str_eq(h->name, "expect"))
		seen->expect_continue |= shoal_http_str_eq(h->value, "100-continue");
	else if (shoal_http_str_eq(h->name, "if-none-match"))
		req->if_none_match = h->value;
	else if (shoal_http_str_eq(h->name, "if-modified-since"))
		req->if_modified_since = h->value;
	else if (shoal_http_str_eq(h->name, "range"))
		req->range = h->value;
	else if (shoal_http_str_eq(h->name, "if-range"))
		req->if_range = h->value;
	return 0;
}

/* buf[from .. end) holds complete field lines, each ended by CRLF. */
static int parse_fields(const char *buf, size_t from, size_t end, size_t max_headers,
			struct shoal_http_request *req, struct fields_seen *seen)
{
	while (from < end) {
		struct shoal_http_header *h;
		int rc;

		if (req->nheaders == max_headers)
			return -431;
		h = &req->headers[req->nheaders];
		if (!lex_take_field_line(buf, &from, end, h))
			return -400;
		rc = apply_field(h, req, seen);
		if (rc < 0)
			return rc;
		req->nheaders++;
	}
	return 0;
}

/* The rules that need all the fields: RFC 9112 3.2 (Host), 6.1 and 6.3 (body length),
 * 9.3 (persistence), RFC 9110 10.1.1 (Expect is ignored in HTTP/1.0). */
static int finish_request(struct shoal_http_request *req, const struct fields_seen *seen)
{
	bool http11 = req->version == SHOAL_HTTP_11;

	if (http11 && seen->host_count == 0)
		return -400;
	if (seen->has_te) {
		if (!http11 || seen->has_length || !seen->te_last_chunked)
			return -400;
		if (seen->te_other)
			return -501;
		req->body = SHOAL_HTTP_BODY_CHUNKED;
	} else if (seen->has_length) {
		req->body = SHOAL_HTTP_BODY_LENGTH;
		req->content_length = seen->length;
	}
	req->keep_alive = !seen->conn_close && (http11 || seen->conn_keep_alive);
	req->expect_continue = http11 && seen->expect_continue;
	return 0;
}

static void reset_request(struct shoal_http_request *req)
{
	struct shoal_http_str none = { .p = NULL, .len = 0 };

	req->query = req->host = none;
	req->if_none_match = req->if_modified_since = req->range = req->if_range = none;
	req->nheaders = 0;
	req->keep_alive = false;
	req->expect_continue = false;
	req->body = SHOAL_HTTP_BODY_NONE;
	req->content_length = 0;
}

/* buf[0 .. head_len) is a complete head whose line breaks are all CRLF. */
static int parse_head(const char *buf, size_t head_len, const struct shoal_http_limits *limits,
		      struct shoal_http_request *req)
{
	struct fields_seen seen = { 0 };
	size_t start = lex_skip_empty_lines(buf, head_len);
	size_t line_end = (size_t)((const char *)memchr(buf + start, '\r', head_len - start) - buf);
	int rc;

	if (line_end > limits->max_request_line)
		return -414;
	if (head_len > limits->max_head || head_len > INT_MAX)
		return -431;
	reset_request(req);
	rc = parse_request_line(buf + start, line_end - start, req);
	if (rc == 0)
		rc = parse_fields(buf, line_end + 2, head_len - 2, lex_max_headers(limits),
				  req, &seen);
	if (rc == 0)
		rc = finish_request(req, &seen);
	return rc < 0 ? rc : (int)head_len;
}

int shoal_http_parse_request(const char *buf, size_t len, size_t prev_len,
			     const struct shoal_http_limits *limits, struct shoal_http_request *req)
{
	size_t head_len;
	int rc;

	if (prev_len > len)
		prev_len = len;
	rc = lex_find_head_end(buf, len, prev_len, &head_len);
	if (rc < 0)
		return -400;
	if (rc == 0)
		return check_partial_limits(buf, len, prev_len, limits);
	return parse_head(buf, head_len, limits, req);
}
