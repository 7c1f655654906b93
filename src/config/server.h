/* The server groups of the configuration file, "servers = ( { listen = ...; root = ...; } )",
 * each read into a struct shoal_server_conf: the keys of a server group with their checks, and
 * the checks across servers. Private to src/config. */
#ifndef SHOAL_CONFIG_SERVER_H
#define SHOAL_CONFIG_SERVER_H

#include "schema.h"

/* The section of a key of kind shoal_schema_groups whose field is a struct shoal_server_conf *.
 * Once all are read, it sets each root_line and fails if two default servers share an
 * address, if an address with proxy_protocol has no proxy_protocol_from, or if servers that
 * share an address disagree on its flags or, with proxy_protocol, on proxy_protocol_from, or
 * if a tls address has a server without tls or a tls group has no tls address. */
extern const struct shoal_conf_section shoal_server_section;

#endif
