/* Dropping a child's privileges: what a worker and the checker do alike once they hold what
 * needs root (listening sockets, log files). */
#ifndef SHOAL_BASE_PRIVILEGES_H
#define SHOAL_BASE_PRIVILEGES_H

#include <stdbool.h>
#include <sys/types.h>

#include "shoal/base/error.h"

/* With drop, becomes uid and gid (gid the only group) for good: fails if root could be
 * regained. Either way sets no_new_privs, so no exec'd program gains any. -1 with err set. */
int shoal_privileges_drop(bool drop, uid_t uid, gid_t gid, struct shoal_err *err);

#endif
