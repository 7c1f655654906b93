/* Host names of upstream servers (resolve = true), looked up once while the configuration is
 * read, as nginx does at start: a name that does not resolve is an error of the file, not a
 * server that fails every request. The checker looks the names up again later
 * (shoal/check/check.h). Private to src/config. */
#ifndef SHOAL_CONFIG_RESOLVE_H
#define SHOAL_CONFIG_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

#include "shoal/base/error.h"
#include "shoal/net/addr.h"

/* Whether text has the form NAME:PORT: a host name of letters, digits, '-', '_' and '.',
 * and a port from 1 to 65535. */
bool shoal_resolve_is_name(const char *text);

/* Looks text, of the form NAME:PORT, up with getaddrinfo (any family, stream sockets): *out
 * gets a malloc'd array of its *n distinct IPv4 and IPv6 addresses, in the order given.
 * -1 with why set ("cannot resolve 'NAME:PORT': ...") when the lookup fails or gives none. */
int shoal_resolve_name(const char *text, struct shoal_addr **out, size_t *n,
		       struct shoal_err *why);

#endif
