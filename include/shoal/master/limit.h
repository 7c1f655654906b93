/* The limit zones, the master's side (shoal/state/limit.h): before a generation's workers
 * fork (at start, on every reload, in the new master of a binary upgrade, which adopted the
 * state file with its zones), every zone of its configuration gets its table in the state
 * file. A zone whose name and signature (key as written, kind, size) a live zone already has
 * keeps that zone: its table, its keys' state, its counters; the new rate, burst or conn are
 * stored in the zone, where every worker of every generation reads them on each request.
 * Any other zone gets a fresh table and the live zone of its name, if any, is retired (its
 * workers of older generations go on with it until they exit); a live zone the
 * configuration no longer has is retired too. Tables are never freed while the file lives:
 * when its room runs out, the generation fails (a reload keeps the previous one serving) and
 * a restart, which makes a new file, compacts. */
#ifndef SHOAL_MASTER_LIMIT_H
#define SHOAL_MASTER_LIMIT_H

#include "shoal/base/error.h"
#include "shoal/base/log.h"
#include "shoal/config/config.h"
#include "shoal/state/limit.h"
#include "shoal/state/state.h"

/* Gives every zone of cfg its zone in st as above, under the file lock, logging each zone
 * made afresh and why ("limit zone perip: key changed, starting afresh"), each new, retired
 * or re-parametered one. zones, unless NULL, gets each zone of cfg's, in cfg's order (what
 * shoal_state_limit_find would find), for the generation's workers. All or nothing: -1 with
 * err set and st unchanged when cfg has more than SHOAL_STATE_LIMIT_ZONES zones or the file
 * lacks room for the fresh tables (restart to compact). */
int shoal_master_limit_add(struct shoal_state *st, const struct shoal_config *cfg,
			   const struct shoal_log *log, struct shoal_state_limit_zone **zones,
			   struct shoal_err *err);

#endif
