/* Renders a statistics snapshot as text for people, as JSON, or in the Prometheus text
 * exposition format. Each function returns 0, or -1 if writing to out failed. */
#ifndef SHOAL_STATS_FORMAT_H
#define SHOAL_STATS_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shoal/stats/stats.h"

/* Master, totals, status codes, errors and latency percentiles. */
int shoal_stats_format_summary(FILE *out, const struct shoal_stats_snapshot *snap);

/* One row per live worker. req_rates[i] is the request rate of snap->workers[i]; NULL shows
 * the average since the worker started. max_rows limits the rows (0: all). */
int shoal_stats_format_workers(FILE *out, const struct shoal_stats_snapshot *snap,
			       const double *req_rates, unsigned max_rows);

/* One row per upstream server: requests, responses 2xx, 4xx and 5xx, failures by kind,
 * active and idle connections, bytes sent and received, and the median and 99th percentile
 * of the time to first byte; a line saying there are none when there are none. A group's
 * queue is a row of its own, server "(queue)", that says in words what the queue did (in
 * JSON: its object, server "", has "queued", "queue_full" and "queue_timeout" besides; in
 * Prometheus: shoal_upstream_queue_total by outcome and shoal_upstream_queue_waiting,
 * labelled by upstream alone, and no series of the servers' families). */
int shoal_stats_format_upstreams(FILE *out, const struct shoal_stats_snapshot *snap);
/* The upstream servers alone, as in shoal_stats_format_json and _prometheus. */
int shoal_stats_format_upstreams_json(FILE *out, const struct shoal_stats_snapshot *snap);

/* What a caller adds to every upstream server's row, after the counters (shoalctl: the
 * shared health state, which this layer does not read). */
struct shoal_stats_upstream_columns {
	void (*heading)(FILE *out); /* the titles, each with a leading space */
	void (*cells)(FILE *out, const struct shoal_stats_upstream_stat *u, void *ctx);
	/* Members of u's JSON object, each written as `, "key": value`. */
	void (*json)(FILE *out, const struct shoal_stats_upstream_stat *u, void *ctx);
	void *ctx;
};

/* shoal_stats_format_upstreams and _json with cols added (NULL: nothing added). */
int shoal_stats_format_upstreams_with(FILE *out, const struct shoal_stats_snapshot *snap,
				      const struct shoal_stats_upstream_columns *cols);
int shoal_stats_format_upstreams_json_with(FILE *out, const struct shoal_stats_snapshot *snap,
					   const struct shoal_stats_upstream_columns *cols);
int shoal_stats_format_upstreams_prometheus(FILE *out, const struct shoal_stats_snapshot *snap);

/* Summary, then the workers. */
int shoal_stats_format_text(FILE *out, const struct shoal_stats_snapshot *snap);

int shoal_stats_format_json(FILE *out, const struct shoal_stats_snapshot *snap);

/* With the upstream servers' series (labels upstream and server) when there are any. */
int shoal_stats_format_prometheus(FILE *out, const struct shoal_stats_snapshot *snap);

/* "3d04h", "1h02m", "5m03s", "42s". */
void shoal_stats_format_duration(char *buf, size_t size, uint64_t seconds);

/* "512 B", "1.5 KiB", "3.2 GiB". */
void shoal_stats_format_bytes(char *buf, size_t size, uint64_t bytes);

/* "850 us", "12.4 ms", "1.20 s". */
void shoal_stats_format_latency(char *buf, size_t size, double us);

#endif
