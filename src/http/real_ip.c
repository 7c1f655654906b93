/* The walk of real_ip.h. Elements are found from the right end of each field: X-Forwarded-For
 * splits on every ',', Forwarded on the ',' outside quoted strings. Each element found is then
 * read from its start, strictly, into an address or nothing. */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "shoal/http/real_ip.h"

#include "lex.h"

/* Room for a node of Forwarded once unquoted: "[" IPv6 "]:" port is at most 53 bytes, so a
 * longer value is no address whatever it holds. */
#define NODE_MAX 64

struct addr {
	int family;
	uint8_t bytes[16];
};

/* ---- addresses ---- */

/* An IPv4 or IPv6 literal, exactly p[0..len). */
static bool parse_literal(const char *p, size_t len, int family, struct addr *a)
{
	char text[INET6_ADDRSTRLEN];

	/* A NUL would end the text early and let what follows it pass unread. */
	if (len == 0 || len >= sizeof(text) || memchr(p, '\0', len))
		return false;
	memcpy(text, p, len);
	text[len] = '\0';
	a->family = family;
	return inet_pton(family, text, a->bytes) == 1;
}

/* port = 1*5DIGIT; Forwarded also allows obfport = "_" 1*(ALPHA / DIGIT / "." / "_" / "-")
 * (RFC 7239 6.3): the port is hidden, the address is not. */
static bool is_port(const char *p, size_t len, bool obfuscated_ok)
{
	size_t i;

	if (obfuscated_ok && len > 1 && p[0] == '_') {
		for (i = 1; i < len; i++)
			if (!lex_is_alnum((unsigned char)p[i]) && p[i] != '.' && p[i] != '_' &&
			    p[i] != '-')
				return false;
		return true;
	}
	if (len == 0 || len > 5)
		return false;
	for (i = 0; i < len; i++)
		if (!lex_is_digit((unsigned char)p[i]))
			return false;
	return true;
}

/* "[" IPv6 "]" [":" port], IPv4 [":" port], and, unless forwarded (where RFC 7239 wants the
 * brackets), a bare IPv6 address. */
static bool parse_node(const char *p, size_t len, bool forwarded, struct addr *a)
{
	const char *colon;
	size_t host;

	if (len > 0 && p[0] == '[') {
		const char *close = memchr(p, ']', len);

		if (!close)
			return false;
		host = (size_t)(close - p) + 1;
		if (host < len && (p[host] != ':' || !is_port(p + host + 1, len - host - 1,
							     forwarded)))
			return false;
		return parse_literal(p + 1, host - 2, AF_INET6, a);
	}
	colon = memchr(p, ':', len);
	if (!colon)
		return parse_literal(p, len, AF_INET, a);
	host = (size_t)(colon - p);
	if (!forwarded && memchr(colon + 1, ':', len - host - 1))
		return parse_literal(p, len, AF_INET6, a);
	return is_port(colon + 1, len - host - 1, forwarded) && parse_literal(p, host, AF_INET, a);
}

/* ---- Forwarded elements ---- */

/* Whether the '"' at p[q] is escaped: an odd run of backslashes before it. Only meaningful
 * inside a quoted string, which is the only place a valid element has a backslash. */
static bool escaped(const char *p, size_t q)
{
	size_t n = 0;

	while (q > n && p[q - n - 1] == '\\')
		n++;
	return n % 2 == 1;
}

/* Takes the quoted-string at the cursor (RFC 9110 5.6.4), unescaped into buf as far as cap
 * allows; *n is its whole unescaped length. Returns false unless it is one. */
static bool take_quoted(struct lex_cursor *c, char *buf, size_t cap, size_t *n)
{
	*n = 0;
	if (!lex_take_char(c, '"'))
		return false;
	while (!lex_at_end(c)) {
		unsigned char ch = (unsigned char)c->p[c->pos++];

		if (ch == '"')
			return true;
		if (ch == '\\') {
			if (lex_at_end(c))
				return false;
			ch = (unsigned char)c->p[c->pos++];
		}
		if (!lex_is_field_char(ch))
			return false;
		if (*n < cap)
			buf[*n] = (char)ch;
		(*n)++;
	}
	return false;
}

/* Takes a pair's value, token or quoted-string, into *value (unquoted into buf, cap bytes;
 * value->len may exceed cap, and then only its length is known). */
static bool take_value(struct lex_cursor *c, char *buf, size_t cap, struct shoal_http_str *value)
{
	size_t from = c->pos;

	if (!lex_at_end(c) && c->p[c->pos] == '"') {
		*value = lex_str(buf, 0);
		return take_quoted(c, buf, cap, &value->len);
	}
	while (!lex_at_end(c) && lex_is_tchar((unsigned char)c->p[c->pos]))
		c->pos++;
	*value = lex_str(c->p + from, c->pos - from);
	return value->len > 0;
}

/* The for= node of forwarded-element p[0..len): [ pair ] *( ";" [ pair ] ), pair = token "="
 * value. Returns false when the element is not that syntax, has no for= or more than one. */
static bool forwarded_for(const char *p, size_t len, char *buf, struct shoal_http_str *node)
{
	struct lex_cursor c = { .p = p, .len = len, .pos = 0 };
	char other[NODE_MAX];
	bool found = false;

	for (;;) {
		size_t from = c.pos;
		struct shoal_http_str name, value;

		while (!lex_at_end(&c) && lex_is_tchar((unsigned char)c.p[c.pos]))
			c.pos++;
		name = lex_str(p + from, c.pos - from);
		if (name.len > 0) {
			bool is_for = shoal_http_str_eq(name, "for");

			if (!lex_take_char(&c, '=') ||
			    !take_value(&c, is_for ? buf : other, NODE_MAX, &value) ||
			    (is_for && found))
				return false;
			if (is_for)
				*node = value;
			found |= is_for;
		}
		lex_skip_ows(&c);
		if (lex_at_end(&c))
			return found;
		if (!lex_take_char(&c, ';'))
			return false;
		lex_skip_ows(&c);
	}
}

/* The address a Forwarded element names: "unknown" and obfuscated nodes name none. */
static bool forwarded_addr(const char *p, size_t len, struct addr *a)
{
	char buf[NODE_MAX];
	struct shoal_http_str node;

	if (!forwarded_for(p, len, buf, &node) || node.len > NODE_MAX)
		return false;
	return parse_node(node.p, node.len, true, a);
}

/* ---- the walk ---- */

/* Where a scan from the right stops: the '"' that opens the quoted string whose closing '"'
 * is at p[q], or 0 (the value's start) when it has none. */
static size_t opening_quote(const char *p, size_t q)
{
	while (q > 0) {
		q--;
		if (p[q] == '"' && !escaped(p, q))
			return q;
	}
	return 0;
}

/* Takes the rightmost element of v not taken yet into [*start, *end), trimmed of OWS.
 * *left is one past the end of what is left (v.len + 1 at first: the value's end acts as a
 * ','). With quotes, a ',' inside a quoted string separates nothing; an unterminated one
 * runs to the value's start, and the element then cannot parse. Returns false when no
 * element is left. */
static bool prev_element(struct shoal_http_str v, bool quotes, size_t *left, size_t *start,
			 size_t *end)
{
	size_t e, i;

	if (*left == 0)
		return false;
	e = i = *left - 1;
	while (i > 0 && v.p[i - 1] != ',') {
		if (quotes && v.p[i - 1] == '"' && !escaped(v.p, i - 1))
			i = opening_quote(v.p, i - 1);
		else
			i--;
	}
	*left = i;
	while (i < e && lex_is_ows((unsigned char)v.p[i]))
		i++;
	while (e > i && lex_is_ows((unsigned char)v.p[e - 1]))
		e--;
	*start = i;
	*end = e;
	return true;
}

static bool element_addr(struct shoal_http_str v, size_t start, size_t end,
			 enum shoal_http_real_ip_header header, struct addr *a)
{
	if (header == SHOAL_HTTP_REAL_IP_FORWARDED)
		return forwarded_addr(v.p + start, end - start, a);
	return parse_node(v.p + start, end - start, false, a);
}

bool shoal_http_real_ip_find(const struct shoal_http_request *req,
			     enum shoal_http_real_ip_header header,
			     shoal_http_real_ip_trusted trusted, void *arg,
			     struct shoal_http_real_ip *out)
{
	bool forwarded = header == SHOAL_HTTP_REAL_IP_FORWARDED;
	const char *name = forwarded ? "forwarded" : "x-forwarded-for";

	memset(out, 0, sizeof(*out));
	for (size_t f = req->nheaders; f-- > 0;) {
		struct shoal_http_str v = req->headers[f].value;
		size_t left = v.len + 1, start, end;
		struct addr a;

		if (!shoal_http_str_eq(req->headers[f].name, name))
			continue;
		while (prev_element(v, forwarded, &left, &start, &end)) {
			if (start == end)
				continue;
			if (!element_addr(v, start, end, header, &a))
				return out->family != 0;
			*out = (struct shoal_http_real_ip){
				.family = (uint8_t)a.family, .header = header, .field = f,
				.start = start, .end = end,
			};
			memcpy(out->addr, a.bytes, a.family == AF_INET ? 4 : 16);
			if (!trusted(arg, a.family, a.bytes))
				return true;
		}
	}
	return out->family != 0;
}

bool shoal_http_real_ip_header_parse(const char *name, enum shoal_http_real_ip_header *out)
{
	if (strcasecmp(name, "x-forwarded-for") == 0)
		*out = SHOAL_HTTP_REAL_IP_X_FORWARDED_FOR;
	else if (strcasecmp(name, "forwarded") == 0)
		*out = SHOAL_HTTP_REAL_IP_FORWARDED;
	else
		return false;
	return true;
}
