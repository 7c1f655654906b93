/* The active health checks of an upstream group, "health_check = { type = "http"; path =
 * "/health"; ... }", read into a struct shoal_health_check_conf: the keys of the group with
 * their checks, and the checks across them. Private to src/config. */
#ifndef SHOAL_CONFIG_HEALTH_CHECK_H
#define SHOAL_CONFIG_HEALTH_CHECK_H

#include "schema.h"

/* The kind of a key whose value is one group { ... } of check keys, read into the struct
 * shoal_health_check_conf at the key's offset; errors name "KEY.member". type is required
 * in it; the others have the defaults of shoal.conf(5), except that a timeout left to its
 * default is cut to the interval when that is shorter. It fails on path, host or status
 * with type "tcp", and on a timeout set longer than the interval. Absent, the check's type
 * is SHOAL_CHECK_NONE and the rest is zero; that prints as a comment, and a "tcp" check
 * prints without the keys it may not have, so that a dump loads again. */
extern const struct shoal_conf_kind shoal_health_check_kind;

#endif
