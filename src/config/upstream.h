/* The upstream groups of the configuration file, "upstreams = ( { name = ...; servers = ...;
 * } )", each read into a struct shoal_upstream_conf: the keys of a group (those of balancing
 * and health by the kinds of balance.h and health_check.h) and of each of its servers, with
 * their checks, and the checks across groups. Private to src/config. */
#ifndef SHOAL_CONFIG_UPSTREAM_H
#define SHOAL_CONFIG_UPSTREAM_H

#include "schema.h"

/* The section of a key of kind shoal_schema_groups whose field is a struct
 * shoal_upstream_conf *. It fails on a group whose servers are all backup, and once all are
 * read, on a group with queue and no server with max_conns, on a tls_* key of a group
 * without tls, on a tls_ca that does not load as a CA file, and if two groups have the same
 * name, naming the line of the second. */
extern const struct shoal_conf_section shoal_upstream_section;

/* NULL if name may name an upstream group, else what is wrong with it (a check function of
 * struct shoal_conf_key). */
const char *shoal_upstream_check_name(const char *name);

#endif
