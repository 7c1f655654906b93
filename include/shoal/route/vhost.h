/* Virtual hosts: which of the servers sharing an address answers a request, by its Host. */
#ifndef SHOAL_ROUTE_VHOST_H
#define SHOAL_ROUTE_VHOST_H

#include <stdbool.h>
#include <stddef.h>

#include "shoal/config/config.h"
#include "shoal/http/parser.h"

/* The host part of a Host value: without the port, the brackets of an IPv6 literal and a
 * trailing dot. */
struct shoal_http_str shoal_vhost_host(struct shoal_http_str host);

/* Whether a server_names pattern ("example.com" or "*.example.com") matches host, ignoring
 * case. "*.example.com" matches "a.example.com" and "a.b.example.com", not "example.com". */
bool shoal_vhost_match(const char *pattern, struct shoal_http_str host);

/* The index in servers[0..n) of the server for host: an exact name first, then the longest
 * matching wildcard, else default_index. */
size_t shoal_vhost_select(const struct shoal_server_conf *const *servers, size_t n,
			  size_t default_index, struct shoal_http_str host);

#endif
