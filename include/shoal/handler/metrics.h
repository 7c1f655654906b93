/* The Prometheus text exposition of everything shoal counts, the same wherever it is read:
 * served at status_path (shoal/handler/status.h) and written by the master to stats_export.
 * It is the stats file's series (the totals, the workers, and the upstream servers' counters
 * of shoal/stats/format.h), then the state file's: each upstream server's state
 * (shoal/state/format.h) and the limit zones (shoal/state/limit_format.h). The families of
 * the three parts have distinct names, each declared once with HELP and TYPE.
 *
 * It lives here, not in src/stats, because stats and state are sibling layers that may not
 * see each other: the handler is the lowest layer that sees both and that both users reach
 * (the status endpoint in this layer, the master above it). shoalctl, confined to stats and
 * state, writes the same three parts for `shoalctl stats --prometheus`. */
#ifndef SHOAL_HANDLER_METRICS_H
#define SHOAL_HANDLER_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "shoal/base/error.h"
#include "shoal/state/state.h"
#include "shoal/stats/stats.h"

/* The exposition of snap and of state (NULL: no state file, so the stats' series alone) at
 * now_ms (CLOCK_MONOTONIC ms, for an ejection's end). 0, or -1 if writing to out failed. */
int shoal_metrics_prometheus(FILE *out, const struct shoal_stats_snapshot *snap,
			     const struct shoal_state *state, uint64_t now_ms);

/* A snapshot of view and the exposition of it and of state, written to path through a
 * temporary file path.tmp renamed into place, so that a reader (node_exporter's textfile
 * collector) never sees half of it; the temporary file is removed on failure. -1 with err
 * set if the snapshot cannot be taken or the file cannot be written. */
int shoal_metrics_export(const char *path, const struct shoal_stats_view *view,
			 const struct shoal_state *state, uint64_t now_ms, struct shoal_err *err);

#endif
