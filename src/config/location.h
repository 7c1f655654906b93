/* The locations of a server group, "locations = ( { path = "/api/"; proxy = "app"; } )", each
 * read into a struct shoal_location_conf: the keys of a location with their checks, the checks
 * across a server's locations, and the resolution of upstream and limit zone names once the
 * whole file is read. Private to src/config. */
#ifndef SHOAL_CONFIG_LOCATION_H
#define SHOAL_CONFIG_LOCATION_H

#include "schema.h"
#include "shoal/config/config.h"

/* The section of a key of kind shoal_schema_groups whose field is a struct
 * shoal_location_conf *. A location's limit fails on a name listed twice. Once a server's
 * locations are read, it sets each root_line and fails if a location has both proxy and root
 * or neither, if a static location sets a proxy key, or if two locations have the same path. */
extern const struct shoal_conf_section shoal_location_section;

/* Sets the upstream index of every location with proxy in cfg, and the limit_zone indexes of
 * every location with limit, read from the libconfig tree whose root group is root. Upstream
 * groups and zones may come after the servers in the file, hence this pass once the whole
 * file is read. Fails, at the line of the proxy key or of the element of limit, on a name no
 * upstream group or zone has. */
int shoal_location_resolve(struct shoal_config *cfg, const config_setting_t *root,
			   struct shoal_conf_ctx *ctx);

#endif
