/* The real client address behind trusted proxies: the walk over the chain of addresses a
 * request's X-Forwarded-For or Forwarded (RFC 7239) fields carry. Pure: no I/O, no
 * allocation; the caller says which addresses it trusts through a callback, so that this
 * layer needs no address lists of its own.
 *
 * The caller walks only when the connection's peer is a trusted proxy. Every proxy appends
 * the address it received from to the end of the list, so the list is read from its right
 * end leftwards: a trusted address is a proxy that handed the request on, and the first
 * address that is not trusted is the client (everything to its left is whatever that client
 * chose to send). When every address is trusted, the leftmost is the client.
 *
 * An element that names no address stops the walk, and the client is then the address
 * reached so far: the last trusted element passed, or, when it is the rightmost element,
 * the peer itself (nginx's real_ip_recursive does the same). Elements the proxies wrote are
 * to the right of it, so a malformed element sent by the client cannot hide them; and
 * stopping rather than skipping means a garbled list never lets the client's own part
 * choose the address. What names no address: anything but an IPv4 or IPv6 literal with an
 * optional port; in Forwarded also an element without for=, or with for=unknown or an
 * obfuscated identifier ("_hidden"), or any element that is not forwarded-element syntax.
 *
 * Accepted spellings. X-Forwarded-For: "192.0.2.1", "192.0.2.1:4711", "2001:db8::1",
 * "[2001:db8::1]", "[2001:db8::1]:4711". Forwarded: for=192.0.2.1, for="192.0.2.1:4711",
 * for="[2001:db8::1]", for="[2001:db8::1]:4711" (RFC 7239 6: an IPv6 address in brackets,
 * and quoted, as brackets and ':' are not token characters); the port may be obfuscated
 * ("_p1"); parameter names are case-insensitive, pairs are separated by ';' (OWS around it
 * tolerated) and for= may appear once per element. Elements are read from the right end of a
 * field by a scan that knows quoted strings, so a ',' or ';' inside quotes separates nothing.
 * Empty list elements are skipped (RFC 9110 5.6.1). Several fields of the name are one list,
 * in order (RFC 9110 5.3). */
#ifndef SHOAL_HTTP_REAL_IP_H
#define SHOAL_HTTP_REAL_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal/http/parser.h"

/* Which field carries the chain. */
enum shoal_http_real_ip_header {
	SHOAL_HTTP_REAL_IP_X_FORWARDED_FOR = 0,
	SHOAL_HTTP_REAL_IP_FORWARDED,
};

/* Whether the caller trusts addr (4 bytes for AF_INET, 16 for AF_INET6) as a proxy. */
typedef bool (*shoal_http_real_ip_trusted)(void *arg, int family, const uint8_t *addr);

/* The client the walk found, and where its element is, so that a proxy can send the list
 * on without the trusted hops to the right of it. */
struct shoal_http_real_ip {
	uint8_t family;   /* AF_INET or AF_INET6; 0: no element named the client */
	uint8_t addr[16]; /* 4 or 16 bytes, by family */
	enum shoal_http_real_ip_header header; /* the field it came from */
	size_t field;     /* its element is in the request's headers[field].value, */
	size_t start;     /* at [start, end), without surrounding whitespace */
	size_t end;
};

/* Walks the fields named by header in req as described above, asking trusted(arg, ...) of
 * each address from the right. Returns true and fills out when an element named the client;
 * false when none did (no such field, nothing but empty elements, or the rightmost element
 * names no address): the peer is the client then, and out->family is 0. */
bool shoal_http_real_ip_find(const struct shoal_http_request *req,
			     enum shoal_http_real_ip_header header,
			     shoal_http_real_ip_trusted trusted, void *arg,
			     struct shoal_http_real_ip *out);

/* The header that name names, "X-Forwarded-For" or "Forwarded" in any case (field names
 * are case-insensitive), into *out. Returns false for any other name. */
bool shoal_http_real_ip_header_parse(const char *name, enum shoal_http_real_ip_header *out);

#endif
