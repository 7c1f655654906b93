/* Reload (HUP): a new generation from the configuration file, with its own workers, which
 * relieve the old generation's workers slot by slot as they serve. A configuration that does
 * not load leaves everything as it was. */
#ifndef SHOAL_MASTER_RELOAD_H
#define SHOAL_MASTER_RELOAD_H

#include "shoal/base/error.h"
#include "master_int.h"

/* Loads m->config_path as a generation, refused if it would run workers as root; NULL with
 * err if it does not load. */
struct shoal_generation *shoal_master_reload_load(const struct master *m, struct shoal_err *err);

/* Loads m->config_path and, if it loads, makes it current and starts its workers. A failure
 * is logged and reported to the service manager; the previous generation keeps serving. */
void shoal_master_reload(struct master *m);

#endif
