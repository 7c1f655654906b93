/* Lexical helpers shared by the leaf parsers of http/ (request heads, chunked bodies, ranges,
 * dates): the character classes of the HTTP grammar, and a read cursor over a header value.
 * Private to src/http/. They are static inline because the parsers call them for every byte,
 * and a call into another translation unit per byte would cost the hot path. */
#ifndef SHOAL_HTTP_LEX_H
#define SHOAL_HTTP_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

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

/* The characters of a token, RFC 9110 5.6.2. */
static inline bool lex_is_tchar(unsigned char c)
{
	if (lex_is_alnum(c))
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return true;
	default:
		return false;
	}
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

#endif
