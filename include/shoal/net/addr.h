/* Socket addresses: parsed once from the configuration (or taken from a name's lookup),
 * compared, and printed canonically. */
#ifndef SHOAL_NET_ADDR_H
#define SHOAL_NET_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "shoal/base/error.h"

/* "255.255.255.255:65535" or "[ffff:...:ffff]:65535" */
#define SHOAL_ADDR_TEXT_MAX 56

struct shoal_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[SHOAL_ADDR_TEXT_MAX]; /* canonical form: "127.0.0.1:8080", "[::1]:8080" */
};

/* Parses "IPv4:PORT", "[IPv6]:PORT" or "*:PORT" (all IPv4 addresses). Numeric only: a name
 * that resolves differently at reload time would silently move the listener. */
int shoal_addr_parse(const char *text, struct shoal_addr *out, struct shoal_err *err);
/* Fills out from sa, an AF_INET or AF_INET6 address of len bytes (one a name was looked up
 * to), with its canonical text. -1 for another family or a len too short for it. */
int shoal_addr_from_sockaddr(struct shoal_addr *out, const struct sockaddr *sa, socklen_t len);
bool shoal_addr_equal(const struct shoal_addr *a, const struct shoal_addr *b);

/* Writes the IP address addr (4 bytes for AF_INET, 16 for AF_INET6) as text without a port
 * ("192.0.2.1", "2001:db8::1") into out[0..size), size at least INET6_ADDRSTRLEN, with a NUL;
 * returns its length, or 0 (out empty) for another family. Called per request (limit keys,
 * X-Forwarded-For): IPv4 is written by hand, since inet_ntop formats through stdio, which
 * cost more than a limit zone's own work (perf: 1.8 % of a worker's samples against 1.1 %). */
size_t shoal_addr_format_ip(int family, const uint8_t *addr, char *out, size_t size);

#endif
