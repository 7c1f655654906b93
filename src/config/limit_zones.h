/* The limit zones of the configuration file, "limit_zones = ( { name = "perip"; key =
 * "client_ip"; rate = 10.0; } )", each read into a struct shoal_limit_zone_conf: the keys of a
 * zone with their checks, the checks across zones, and the lookup of a zone by the name a
 * location gives. Private to src/config. */
#ifndef SHOAL_CONFIG_LIMIT_ZONES_H
#define SHOAL_CONFIG_LIMIT_ZONES_H

#include <stdbool.h>
#include <stddef.h>

#include "schema.h"
#include "shoal/config/config.h"

/* The section of a key of kind shoal_schema_groups whose field is a struct
 * shoal_limit_zone_conf *. A zone's key is split into its parts; once all zones are read, it
 * fails on a zone with neither rate nor conn or with both, on burst in a zone with conn, and
 * on two zones of one name, naming the line of the second. A zone prints rate and burst, or
 * conn, as it has, so that a dump loads again. */
extern const struct shoal_conf_section shoal_limit_zones_section;

/* Whether cfg has a zone called name; if so, sets *index to its place in cfg->limit_zones. */
bool shoal_limit_zones_find(const struct shoal_config *cfg, const char *name, size_t *index);

#endif
