/* Writes the Prometheus text exposition of a stats file to a path, for node_exporter's
 * textfile collector: a temporary file renamed into place, so a scraper never reads half. */
#ifndef SHOAL_STATS_EXPORT_H
#define SHOAL_STATS_EXPORT_H

#include "shoal/base/error.h"
#include "shoal/stats/stats.h"

int shoal_stats_export(const struct shoal_stats_view *view, const char *path,
		       struct shoal_err *err);

#endif
