/* Lexical helpers shared by the leaf parsers of http/ (request and response heads, chunked
 * bodies, ranges, dates): the character classes of the HTTP grammar, a read cursor over a header
 * value, and the message-head syntax that requests and responses share (RFC 9112 2.2, 5).
 * Private to src/http/. They are static inline because the parsers call them for every byte,
 * and a call into another translation unit per byte would cost the hot path. */
#ifndef SHOAL_HTTP_LEX_H
#define SHOAL_HTTP_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "shoal/http/parser.h"

/* ASCII only: the grammar is case-insensitive in ASCII letters, whatever the locale. */
static inline unsigned char lex_to_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static inline bool lex_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool lex_is_alnum(unsigned char c)
{
	return lex_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Returns the value of a hex digit of either case, or -1 for any other byte. */
static inline int lex_hex_value(unsigned char c)
{
	if (lex_is_digit(c))
		return c - '0';
	c = lex_to_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The characters of a token, RFC 9110 5.6.2: DIGIT, ALPHA and !#$%&'*+-.^_`|~, by table
 * (bytes from 0x80 are none). Every byte of every field name is tested: one load and one
 * test here, where a chain of ranges and a switch took ten comparisons and branches (a third
 * of the instructions of parsing an upstream's answer head). */
static inline bool lex_is_tchar(unsigned char c)
{
	static const unsigned char tchars[256] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
		0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, /* 0x20 */
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, /* 0x30 */
		0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, /* 0x50 */
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, /* 0x70 */
	};

	return tchars[c];
}

/* Optional whitespace (OWS and BWS), RFC 9110 5.6.3. */
static inline bool lex_is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* VCHAR, SP, HTAB and obs-text: what a field value may hold (RFC 9110 5.5). */
static inline bool lex_is_field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7F);
}

/* Whether p[0..n) holds field characters only. Eight bytes at a time while a word has no
 * byte below 0x20 and none 0x7F (exact tests: a borrow only crosses from a byte that is one);
 * a word with one, a tab perhaps, and the tail go byte by byte. Values are the longest part of
 * most heads (User-Agent, Cookie), and this test ran at 11 instructions a byte. */
static inline bool lex_are_field_chars(const char *p, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w, del;

		memcpy(&w, p + i, sizeof(w));
		del = w ^ (0x7F * ones);
		if ((((w - 0x20 * ones) & ~w) | ((del - ones) & ~del)) & highs)
			break;
	}
	for (; i < n; i++)
		if (!lex_is_field_char((unsigned char)p[i]))
			return false;
	return true;
}

/* A read position in value p[0..len). A lex_take_* that fails may have moved it: the caller
 * then either rejects the value or starts again from the beginning with another form. */
struct lex_cursor {
	const char *p;
	size_t len, pos;
};

static inline bool lex_at_end(const struct lex_cursor *c)
{
	return c->pos == c->len;
}

/* Takes ch if it is next. Returns whether it was. */
static inline bool lex_take_char(struct lex_cursor *c, char ch)
{
	if (lex_at_end(c) || c->p[c->pos] != ch)
		return false;
	c->pos++;
	return true;
}

/* Takes the NUL-terminated s if it comes next, case included. Returns whether it did. */
static inline bool lex_take_str(struct lex_cursor *c, const char *s)
{
	size_t n = strlen(s);

	if (c->len - c->pos < n || memcmp(c->p + c->pos, s, n) != 0)
		return false;
	c->pos += n;
	return true;
}

static inline void lex_skip_ows(struct lex_cursor *c)
{
	while (!lex_at_end(c) && lex_is_ows((unsigned char)c->p[c->pos]))
		c->pos++;
}

static inline struct shoal_http_str lex_str(const char *p, size_t len)
{
	return (struct shoal_http_str){ .p = p, .len = len };
}

static inline bool lex_is_token(struct shoal_http_str s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!lex_is_tchar((unsigned char)s.p[i]))
			return false;
	return true;
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT. Returns SHOAL_HTTP_10 or SHOAL_HTTP_11 for major
 * version 1 (RFC 9110 2.5: a later 1.x is handled as the highest 1.x we implement), 0 for
 * another major version, -1 when v is not an HTTP-version at all. */
static inline int lex_http_version(struct shoal_http_str v)
{
	if (v.len != 8 || memcmp(v.p, "HTTP/", 5) != 0 || !lex_is_digit((unsigned char)v.p[5]) ||
	    v.p[6] != '.' || !lex_is_digit((unsigned char)v.p[7]))
		return -1;
	if (v.p[5] != '1')
		return 0;
	return v.p[7] == '0' ? SHOAL_HTTP_10 : SHOAL_HTTP_11;
}

/* 1*DIGIT into *n. Returns false for an empty value, any other byte, or an overflow. */
static inline bool lex_parse_length(struct shoal_http_str value, uint64_t *n)
{
	*n = 0;
	if (value.len == 0)
		return false;
	for (size_t i = 0; i < value.len; i++) {
		unsigned d = (unsigned char)value.p[i] - '0';

		if (!lex_is_digit((unsigned char)value.p[i]) || *n > (UINT64_MAX - d) / 10)
			return false;
		*n = *n * 10 + d;
	}
	return true;
}

/* Returns the length of the CRLF pairs that open buf. A CR alone at the very end counts
 * too: it can only be the start of one more empty line, never of the request line. */
static inline size_t lex_skip_empty_lines(const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len && buf[i] == '\r' && (i + 1 == len || buf[i + 1] == '\n'))
		i += 2;
	return i < len ? i : len;
}

/* Scans buf[from - 3 .. len) for the empty line ending the head, rejecting bare CR and LF
 * on the way so that the full parse can split lines on CR alone. A CRLFCRLF right after
 * another line break belongs to the empty lines allowed before a request line.
 * Returns 1 with *end set past the empty line, 0 when it has not come yet, or -1 for a bare
 * CR or LF. Line by line with memchr, which takes a line in a few vector steps: a loop
 * over every byte cost 1,400 instructions of the 10,000 a proxied request takes. */
static inline int lex_find_head_end(const char *buf, size_t len, size_t from, size_t *end)
{
	size_t start = from > 3 ? from - 3 : 0;

	for (size_t i = start; i < len;) {
		const char *lf = memchr(buf + i, '\n', len - i);
		size_t stop = lf ? (size_t)(lf - buf) : len;
		const char *cr = memchr(buf + i, '\r', stop - i);

		/* The line's one CR ends it, before its LF or, until that comes, as the last byte. */
		if (cr && cr != buf + stop - 1)
			return -1;
		if (!lf)
			return 0;
		if (stop == 0 || buf[stop - 1] != '\r')
			return -1;
		/* The CR before a CR LF that ends a line which is not empty, when it was scanned. */
		if (stop > start && stop > 1 && buf[stop - 2] != '\n' && stop + 2 < len &&
		    buf[stop + 1] == '\r' && buf[stop + 2] == '\n') {
			*end = stop + 3;
			return 1;
		}
		i = stop + 1;
	}
	return 0;
}

static inline size_t lex_max_headers(const struct shoal_http_limits *limits)
{
	return limits->max_headers < SHOAL_HTTP_MAX_HEADERS ? limits->max_headers
							    : SHOAL_HTTP_MAX_HEADERS;
}

/* Field lines completed so far, after the start line. Recounting from the start is bounded by
 * max_head, and it only runs when a read brought a new line end. */
static inline size_t lex_count_field_lines(const char *buf, size_t len)
{
	size_t i = lex_skip_empty_lines(buf, len), lines = 0;
	const char *lf;

	while (i < len && (lf = memchr(buf + i, '\n', len - i))) {
		lines++;
		i = (size_t)(lf - buf) + 1;
	}
	return lines > 0 ? lines - 1 : 0;
}

/* Splits field-line = field-name ":" OWS field-value OWS into h. A name that does not run
 * straight into the colon (leading whitespace of obs-fold, whitespace before the colon) and a
 * value with a control character are refused: returns false. */
static inline bool lex_split_field_line(const char *line, size_t len, struct shoal_http_header *h)
{
	size_t i = 0, v, end = len;

	while (i < len && lex_is_tchar((unsigned char)line[i]))
		i++;
	if (i == 0 || i == len || line[i] != ':')
		return false;
	if (!lex_are_field_chars(line + i + 1, len - i - 1))
		return false;
	for (v = i + 1; v < end && lex_is_ows((unsigned char)line[v]); v++)
		;
	while (end > v && lex_is_ows((unsigned char)line[end - 1]))
		end--;
	h->name = lex_str(line, i);
	h->value = lex_str(line + v, end - v);
	return true;
}

/* Splits the field line at buf[*from ..), which ends with CRLF before end, into h and moves
 * *from past it. Returns false as lex_split_field_line does. */
static inline bool lex_take_field_line(const char *buf, size_t *from, size_t end,
				       struct shoal_http_header *h)
{
	const char *cr = memchr(buf + *from, '\r', end - *from);
	size_t line_len = (size_t)(cr - buf) - *from;
	bool ok = lex_split_field_line(buf + *from, line_len, h);

	*from += line_len + 2;
	return ok;
}

/* Walks a comma-separated list (RFC 9110 5.6.1); each element comes out without its
 * surrounding OWS and may be empty. */
static inline bool lex_next_element(struct shoal_http_str list, size_t *pos,
				    struct shoal_http_str *elem)
{
	size_t start = *pos, end = *pos;

	if (start > list.len)
		return false;
	while (end < list.len && list.p[end] != ',')
		end++;
	*pos = end + 1;
	while (start < end && lex_is_ows((unsigned char)list.p[start]))
		start++;
	while (end > start && lex_is_ows((unsigned char)list.p[end - 1]))
		end--;
	*elem = lex_str(list.p + start, end - start);
	return true;
}

/* Notes which of the persistence options of a Connection value (RFC 9112 9.3, 9.6) it lists;
 * other options are left to the caller. */
static inline void lex_connection_options(struct shoal_http_str value, bool *close,
					  bool *keep_alive)
{
	struct shoal_http_str elem;
	size_t pos = 0;

	while (lex_next_element(value, &pos, &elem)) {
		if (shoal_http_str_eq(elem, "close"))
			*close = true;
		else if (shoal_http_str_eq(elem, "keep-alive"))
			*keep_alive = true;
	}
}

#endif
