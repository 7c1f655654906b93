/* Listen addresses: parsed once from the configuration, compared, and printed canonically. */
#ifndef SHOAL_NET_ADDR_H
#define SHOAL_NET_ADDR_H

#include <stdbool.h>
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
bool shoal_addr_equal(const struct shoal_addr *a, const struct shoal_addr *b);

#endif
