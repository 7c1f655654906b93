#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "shoal/base/util.h"
#include "shoal/stats/format.h"
#include "shoal/stats/upstream.h"

#define NCLASSES 5
#define NERRORS 4
#define NFAILURES 4

static const int status_codes[SHOAL_STATS_NCODES] = { SHOAL_STATS_CODES };
static const char *const error_kinds[NERRORS] = { "parse", "timeout", "reset", "limit" };
static const char *const phases[] = { "reading", "writing", "idle" };
static const char *const failure_kinds[NFAILURES] = { "connect", "timeout", "reset", "invalid" };
static const char *const proxy_outcomes[] = { "accepted", "refused", "malformed", "timeout" };
static const char *const tls_reasons[] = { "protocol", "certificate", "garbage", "closed",
					   "timeout", "other" };
static const char *const tls_versions[] = { "TLSv1.2", "TLSv1.3" };
/* Room for the labels of an upstream server, every byte of both names escaped. */
#define UPSTREAM_LABELS (4 * SHOAL_STATS_UPSTREAM_TEXT + 32)

static int format_result(FILE *out)
{
	return ferror(out) ? -1 : 0;
}

void shoal_stats_format_duration(char *buf, size_t size, uint64_t seconds)
{
	if (seconds >= 86400)
		snprintf(buf, size, "%" PRIu64 "d%02" PRIu64 "h", seconds / 86400, seconds % 86400 / 3600);
	else if (seconds >= 3600)
		snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m", seconds / 3600, seconds % 3600 / 60);
	else if (seconds >= 60)
		snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", seconds / 60, seconds % 60);
	else
		snprintf(buf, size, "%" PRIu64 "s", seconds);
}

void shoal_stats_format_bytes(char *buf, size_t size, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, size, "%" PRIu64 " B", bytes);
		return;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, units[u]);
}

void shoal_stats_format_latency(char *buf, size_t size, double us)
{
	if (us < 1000)
		snprintf(buf, size, "%.0f us", us);
	else if (us < 1000000)
		snprintf(buf, size, "%.1f ms", us / 1000);
	else
		snprintf(buf, size, "%.2f s", us / 1000000);
}

/* Exact decimal seconds of a microsecond count, without trailing zeros: "0.000256". */
static void format_seconds(char *buf, size_t size, uint64_t us)
{
	size_t len;

	snprintf(buf, size, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '0')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '.')
		buf[--len] = '\0';
}

static uint64_t snapshot_uptime(const struct shoal_stats_snapshot *snap)
{
	uint64_t now = snap->taken_ms / 1000;

	return now > snap->start_time ? now - snap->start_time : 0;
}

static void summary_connections(FILE *out, const uint64_t *c)
{
	char in[32], sent[32];

	fprintf(out,
		"connections   %" PRIu64 " accepted, %" PRIu64 " closed, %" PRIu64 " active"
		" (%" PRIu64 " reading, %" PRIu64 " writing, %" PRIu64 " idle)\n",
		c[SHOAL_STATS_CONN_ACCEPTED], c[SHOAL_STATS_CONN_CLOSED], c[SHOAL_STATS_CONN_ACTIVE],
		c[SHOAL_STATS_CONN_READING], c[SHOAL_STATS_CONN_WRITING], c[SHOAL_STATS_CONN_IDLE]);
	shoal_stats_format_bytes(in, sizeof(in), c[SHOAL_STATS_BYTES_IN]);
	shoal_stats_format_bytes(sent, sizeof(sent), c[SHOAL_STATS_BYTES_OUT]);
	fprintf(out, "requests      %" PRIu64 " (%s received, %s sent)\n", c[SHOAL_STATS_REQUESTS],
		in, sent);
}

static void summary_responses(FILE *out, const uint64_t *c)
{
	bool any = false;

	fprintf(out, "responses    ");
	for (int i = 0; i < NCLASSES; i++)
		fprintf(out, " %dxx %" PRIu64, i + 1, c[SHOAL_STATS_RESP_1XX + i]);
	fprintf(out, "\nstatus codes ");
	for (int i = 0; i < SHOAL_STATS_NCODES; i++) {
		if (c[SHOAL_STATS_RESP_CODE + i] == 0)
			continue;
		fprintf(out, " %d: %" PRIu64, status_codes[i], c[SHOAL_STATS_RESP_CODE + i]);
		any = true;
	}
	fprintf(out, "%s\nerrors       ", any ? "" : " none");
	for (int i = 0; i < NERRORS; i++)
		fprintf(out, " %s %" PRIu64, error_kinds[i], c[SHOAL_STATS_ERR_PARSE + i]);
	fputc('\n', out);
}

static void summary_latency(FILE *out, const uint64_t *c)
{
	static const double quantiles[] = { 0.5, 0.9, 0.99 };
	uint64_t count = 0;
	char buf[32];

	for (unsigned i = 0; i < SHOAL_STATS_LATENCY_BUCKETS; i++)
		count += c[SHOAL_STATS_LATENCY + i];
	if (count == 0) {
		fprintf(out, "latency       no requests yet\n");
		return;
	}
	fprintf(out, "latency      ");
	for (size_t i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++) {
		shoal_stats_format_latency(buf, sizeof(buf),
					   shoal_stats_latency_quantile_us(c, quantiles[i]));
		fprintf(out, " p%g %s,", quantiles[i] * 100, buf);
	}
	shoal_stats_format_latency(buf, sizeof(buf),
				   (double)c[SHOAL_STATS_LATENCY_SUM_US] / (double)count);
	fprintf(out, " mean %s\n", buf);
}

/* Only where some listener takes PROXY protocol headers: elsewhere the line says nothing. */
static void summary_proxy_protocol(FILE *out, const uint64_t *c)
{
	if (!c[SHOAL_STATS_PROXY_ACCEPTED] && !c[SHOAL_STATS_PROXY_REFUSED] &&
	    !c[SHOAL_STATS_PROXY_MALFORMED] && !c[SHOAL_STATS_PROXY_TIMEOUT])
		return;
	fprintf(out,
		"proxy headers %" PRIu64 " accepted, %" PRIu64 " refused (source), %" PRIu64
		" malformed, %" PRIu64 " timed out\n",
		c[SHOAL_STATS_PROXY_ACCEPTED], c[SHOAL_STATS_PROXY_REFUSED],
		c[SHOAL_STATS_PROXY_MALFORMED], c[SHOAL_STATS_PROXY_TIMEOUT]);
}

/* Only where some listener speaks TLS. */
static void summary_tls(FILE *out, const uint64_t *c)
{
	uint64_t any = c[SHOAL_STATS_TLS_FULL] + c[SHOAL_STATS_TLS_RESUMED];

	for (unsigned i = 0; i < ARRAY_LEN(tls_reasons); i++)
		any += c[SHOAL_STATS_TLS_FAIL + i];
	if (!any)
		return;
	fprintf(out, "tls           %" PRIu64 " full, %" PRIu64 " resumed (TLSv1.2 %" PRIu64
		", TLSv1.3 %" PRIu64 "); failed:", c[SHOAL_STATS_TLS_FULL],
		c[SHOAL_STATS_TLS_RESUMED], c[SHOAL_STATS_TLS_VERSION],
		c[SHOAL_STATS_TLS_VERSION + 1]);
	for (unsigned i = 0; i < ARRAY_LEN(tls_reasons); i++)
		fprintf(out, " %s %" PRIu64, tls_reasons[i], c[SHOAL_STATS_TLS_FAIL + i]);
	fputc('\n', out);
}

int shoal_stats_format_summary(FILE *out, const struct shoal_stats_snapshot *snap)
{
	char up[32];

	shoal_stats_format_duration(up, sizeof(up), snapshot_uptime(snap));
	fprintf(out, "master pid %d, up %s, generation %" PRIu64 ", %u workers live, %" PRIu64
		" retired\n", (int)snap->master_pid, up, snap->generation, snap->nworkers,
		snap->retired_workers);
	summary_connections(out, snap->totals);
	summary_responses(out, snap->totals);
	summary_proxy_protocol(out, snap->totals);
	summary_tls(out, snap->totals);
	summary_latency(out, snap->totals);
	return format_result(out);
}

int shoal_stats_format_workers(FILE *out, const struct shoal_stats_snapshot *snap,
			       const double *req_rates, unsigned max_rows)
{
	fprintf(out, "%5s %8s %5s %-9s %8s %7s %11s %9s\n", "SLOT", "PID", "GEN", "STATE", "UPTIME",
		"CONNS", "REQUESTS", "REQ/S");
	for (unsigned i = 0; i < snap->nworkers && (max_rows == 0 || i < max_rows); i++) {
		const struct shoal_stats_worker *w = &snap->workers[i];
		uint64_t up_ms = snap->taken_ms > w->start_ms ? snap->taken_ms - w->start_ms : 0;
		double rate = req_rates ? req_rates[i]
			    : up_ms ? (double)w->counters[SHOAL_STATS_REQUESTS] * 1000 / (double)up_ms
				    : 0;
		char up[32];

		shoal_stats_format_duration(up, sizeof(up), up_ms / 1000);
		fprintf(out, "%5u %8d %5u %-9s %8s %7" PRIu64 " %11" PRIu64 " %9.1f\n", w->worker_slot,
			(int)w->pid, w->generation, shoal_stats_state_name(w->state), up,
			w->counters[SHOAL_STATS_CONN_ACTIVE], w->counters[SHOAL_STATS_REQUESTS], rate);
	}
	if (max_rows && snap->nworkers > max_rows)
		fprintf(out, "(%u more workers)\n", snap->nworkers - max_rows);
	return format_result(out);
}

int shoal_stats_format_text(FILE *out, const struct shoal_stats_snapshot *snap)
{
	shoal_stats_format_summary(out, snap);
	fputc('\n', out);
	return shoal_stats_format_workers(out, snap, NULL, 0);
}

/* A name for a table cell: a control character would break the row. */
static void table_text(char *dst, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < SHOAL_STATS_UPSTREAM_TEXT; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
	dst[i] = '\0';
}

/* The titles of a server's counters in the table, and their widths. */
#define UP_TITLES_FORMAT " %9s %8s %7s %7s %7s %7s %7s %7s %6s %6s %10s %10s %9s %9s"
#define UP_TITLES                                                                          \
	"REQUESTS", "2XX", "4XX", "5XX", "CONNECT", "TIMEOUT", "RESET", "INVALID", "ACTIVE",  \
		"IDLE", "SENT", "RECEIVED", "TTFB-P50", "TTFB-P99"
/* A queue's row names it so in the server column. */
#define QUEUE_NAME "(queue)"

/* The widths of the name columns: the longest name or the title. */
static void upstream_widths(const struct shoal_stats_snapshot *snap, int *upstream, int *server)
{
	size_t uw = strlen("UPSTREAM"), sw = strlen("SERVER");

	for (unsigned i = 0; i < snap->nupstreams; i++) {
		const char *name = snap->upstreams[i].server;
		size_t u = strlen(snap->upstreams[i].upstream);
		size_t s = strlen(shoal_stats_upstream_is_queue(name) ? QUEUE_NAME : name);
		uw = u > uw ? u : uw;
		sw = s > sw ? s : sw;
	}
	*upstream = (int)uw;
	*server = (int)sw;
}

static void ttfb_quantile(char *buf, size_t size, const uint64_t *c, double q)
{
	uint64_t responses = 0;

	for (unsigned i = 0; i < SHOAL_STATS_LATENCY_BUCKETS; i++)
		responses += c[SHOAL_STATS_UP_TTFB + i];
	if (responses == 0)
		snprintf(buf, size, "-");
	else
		shoal_stats_format_latency(buf, size,
					   shoal_stats_histogram_quantile_us(c + SHOAL_STATS_UP_TTFB, q));
}

/* A queue's row, without its line end: what it did, padded to the width of a server's
 * counters when columns follow. */
static void upstream_queue_row(FILE *out, const struct shoal_stats_upstream_stat *u, int uw,
			       int sw, bool pad)
{
	const uint64_t *c = u->counters;
	char upstream[SHOAL_STATS_UPSTREAM_TEXT], what[160];
	int width = pad ? snprintf(NULL, 0, UP_TITLES_FORMAT, UP_TITLES) - 1 : 0;

	table_text(upstream, u->upstream);
	snprintf(what, sizeof(what), "%" PRIu64 " waiting, %" PRIu64 " queued, %" PRIu64
		 " refused when full, %" PRIu64 " timed out", c[SHOAL_STATS_UP_ACTIVE],
		 c[SHOAL_STATS_UP_QUEUED], c[SHOAL_STATS_UP_QUEUE_FULL],
		 c[SHOAL_STATS_UP_QUEUE_TIMEOUT]);
	fprintf(out, "%-*s %-*s %-*s", uw, upstream, sw, QUEUE_NAME, width, what);
}

/* One server's row, without its line end. */
static void upstream_row(FILE *out, const struct shoal_stats_upstream_stat *u, int uw, int sw)
{
	const uint64_t *c = u->counters;
	char sent[32], received[32], p50[32], p99[32];
	char upstream[SHOAL_STATS_UPSTREAM_TEXT], server[SHOAL_STATS_UPSTREAM_TEXT];

	shoal_stats_format_bytes(sent, sizeof(sent), c[SHOAL_STATS_UP_BYTES_SENT]);
	shoal_stats_format_bytes(received, sizeof(received), c[SHOAL_STATS_UP_BYTES_RECEIVED]);
	ttfb_quantile(p50, sizeof(p50), c, 0.5);
	ttfb_quantile(p99, sizeof(p99), c, 0.99);
	table_text(upstream, u->upstream);
	table_text(server, u->server);
	fprintf(out, "%-*s %-*s %9" PRIu64 " %8" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64
		" %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %6" PRIu64 " %6" PRIu64
		" %10s %10s %9s %9s", uw, upstream, sw, server,
		c[SHOAL_STATS_UP_REQUESTS], c[SHOAL_STATS_UP_RESP_1XX + 1],
		c[SHOAL_STATS_UP_RESP_1XX + 3], c[SHOAL_STATS_UP_RESP_1XX + 4],
		c[SHOAL_STATS_UP_FAIL_CONNECT], c[SHOAL_STATS_UP_FAIL_TIMEOUT],
		c[SHOAL_STATS_UP_FAIL_RESET], c[SHOAL_STATS_UP_FAIL_INVALID],
		c[SHOAL_STATS_UP_ACTIVE], c[SHOAL_STATS_UP_IDLE], sent, received, p50, p99);
}

int shoal_stats_format_upstreams_with(FILE *out, const struct shoal_stats_snapshot *snap,
				      const struct shoal_stats_upstream_columns *cols)
{
	int uw, sw;

	upstream_widths(snap, &uw, &sw);
	if (snap->nupstreams == 0) {
		fprintf(out, "no upstream servers\n");
		return format_result(out);
	}
	fprintf(out, "%-*s %-*s" UP_TITLES_FORMAT, uw, "UPSTREAM", sw, "SERVER", UP_TITLES);
	if (cols)
		cols->heading(out);
	fputc('\n', out);
	for (unsigned i = 0; i < snap->nupstreams; i++) {
		if (shoal_stats_upstream_is_queue(snap->upstreams[i].server))
			upstream_queue_row(out, &snap->upstreams[i], uw, sw, cols != NULL);
		else
			upstream_row(out, &snap->upstreams[i], uw, sw);
		if (cols)
			cols->cells(out, &snap->upstreams[i], cols->ctx);
		fputc('\n', out);
	}
	return format_result(out);
}

int shoal_stats_format_upstreams(FILE *out, const struct shoal_stats_snapshot *snap)
{
	return shoal_stats_format_upstreams_with(out, snap, NULL);
}

static void json_counters(FILE *out, const uint64_t *c)
{
	fputc('{', out);
	for (unsigned i = 0; i < SHOAL_STATS_LATENCY; i++)
		fprintf(out, "\"%s\": %" PRIu64 ", ", shoal_stats_counter_name(i), c[i]);
	fprintf(out, "\"latency_buckets\": [");
	for (unsigned i = 0; i < SHOAL_STATS_LATENCY_BUCKETS; i++)
		fprintf(out, "%s%" PRIu64, i ? ", " : "", c[SHOAL_STATS_LATENCY + i]);
	fputc(']', out);
	for (unsigned i = SHOAL_STATS_PROXY_ACCEPTED; i < SHOAL_STATS_NCOUNTERS; i++)
		fprintf(out, ", \"%s\": %" PRIu64, shoal_stats_counter_name(i), c[i]);
	fputc('}', out);
}

static void json_worker(FILE *out, const struct shoal_stats_worker *w)
{
	fprintf(out,
		"{\"index\": %u, \"slot\": %u, \"pid\": %d, \"generation\": %u, \"state\": \"%s\", "
		"\"start_ms\": %" PRIu64 ", \"heartbeat_ms\": %" PRIu64 ", \"counters\": ",
		w->index, w->worker_slot, (int)w->pid, w->generation, shoal_stats_state_name(w->state),
		w->start_ms, w->heartbeat_ms);
	json_counters(out, w->counters);
	fputc('}', out);
}

/* A JSON string: quote, backslash and control characters escaped, other bytes as they are. */
static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void json_upstream(FILE *out, const struct shoal_stats_upstream_stat *u,
			  const struct shoal_stats_upstream_columns *cols)
{
	fprintf(out, "{\"upstream\": ");
	json_string(out, u->upstream);
	fprintf(out, ", \"server\": ");
	json_string(out, u->server);
	for (unsigned i = 0; i < SHOAL_STATS_UP_TTFB; i++)
		fprintf(out, ", \"%s\": %" PRIu64, shoal_stats_upstream_counter_name(i),
			u->counters[i]);
	fprintf(out, ", \"ttfb_buckets\": [");
	for (unsigned i = 0; i < SHOAL_STATS_LATENCY_BUCKETS; i++)
		fprintf(out, "%s%" PRIu64, i ? ", " : "", u->counters[SHOAL_STATS_UP_TTFB + i]);
	fputc(']', out);
	for (unsigned i = SHOAL_STATS_UP_QUEUED; shoal_stats_upstream_is_queue(u->server) &&
						 i < SHOAL_STATS_UP_NCOUNTERS; i++)
		fprintf(out, ", \"%s\": %" PRIu64, shoal_stats_upstream_counter_name(i),
			u->counters[i]);
	if (cols)
		cols->json(out, u, cols->ctx);
	fputc('}', out);
}

int shoal_stats_format_upstreams_json_with(FILE *out, const struct shoal_stats_snapshot *snap,
					   const struct shoal_stats_upstream_columns *cols)
{
	fprintf(out, "{\"version\": %u, \"taken_ms\": %" PRIu64 ", \"upstream_dropped\": %" PRIu64
		",\n \"upstreams\": [", SHOAL_STATS_VERSION, snap->taken_ms, snap->upstream_dropped);
	for (unsigned i = 0; i < snap->nupstreams; i++) {
		fprintf(out, "%s\n  ", i ? "," : "");
		json_upstream(out, &snap->upstreams[i], cols);
	}
	fprintf(out, "]}\n");
	return format_result(out);
}

int shoal_stats_format_upstreams_json(FILE *out, const struct shoal_stats_snapshot *snap)
{
	return shoal_stats_format_upstreams_json_with(out, snap, NULL);
}

int shoal_stats_format_json(FILE *out, const struct shoal_stats_snapshot *snap)
{
	fprintf(out,
		"{\"version\": %u, \"master_pid\": %d, \"start_time\": %" PRIu64 ", \"generation\": %"
		PRIu64 ", \"updated_ms\": %" PRIu64 ", \"taken_ms\": %" PRIu64
		", \"retired_workers\": %" PRIu64 ",\n \"latency_bounds_us\": [",
		SHOAL_STATS_VERSION, (int)snap->master_pid, snap->start_time, snap->generation,
		snap->updated_ms, snap->taken_ms, snap->retired_workers);
	for (unsigned i = 0; i < SHOAL_STATS_LATENCY_FINITE; i++)
		fprintf(out, "%s%" PRIu64, i ? ", " : "", shoal_stats_bucket_bound_us(i));
	fprintf(out, "],\n \"totals\": ");
	json_counters(out, snap->totals);
	fprintf(out, ",\n \"retired\": ");
	json_counters(out, snap->retired);
	fprintf(out, ",\n \"workers\": [");
	for (unsigned i = 0; i < snap->nworkers; i++) {
		fprintf(out, "%s\n  ", i ? "," : "");
		json_worker(out, &snap->workers[i]);
	}
	fprintf(out, "],\n \"upstream_dropped\": %" PRIu64 ",\n \"upstreams\": [",
		snap->upstream_dropped);
	for (unsigned i = 0; i < snap->nupstreams; i++) {
		fprintf(out, "%s\n  ", i ? "," : "");
		json_upstream(out, &snap->upstreams[i], NULL);
	}
	fprintf(out, "]}\n");
	return format_result(out);
}

static void prom_family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_totals(FILE *out, const struct shoal_stats_snapshot *snap)
{
	static const struct {
		const char *name, *help;
		unsigned counter;
	} totals[] = {
		{ "shoal_connections_accepted_total", "Connections accepted.", SHOAL_STATS_CONN_ACCEPTED },
		{ "shoal_connections_closed_total", "Connections closed.", SHOAL_STATS_CONN_CLOSED },
		{ "shoal_requests_total", "Requests answered.", SHOAL_STATS_REQUESTS },
		{ "shoal_bytes_received_total", "Bytes of requests received.", SHOAL_STATS_BYTES_IN },
		{ "shoal_bytes_sent_total", "Bytes of responses sent.", SHOAL_STATS_BYTES_OUT },
	};

	prom_family(out, "shoal_start_time_seconds", "gauge", "Unix time the master started.");
	fprintf(out, "shoal_start_time_seconds %" PRIu64 "\n", snap->start_time);
	prom_family(out, "shoal_config_generation", "gauge", "Configuration generation served.");
	fprintf(out, "shoal_config_generation %" PRIu64 "\n", snap->generation);
	prom_family(out, "shoal_workers_retired_total", "counter", "Worker processes that exited.");
	fprintf(out, "shoal_workers_retired_total %" PRIu64 "\n", snap->retired_workers);
	for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
		prom_family(out, totals[i].name, "counter", totals[i].help);
		fprintf(out, "%s %" PRIu64 "\n", totals[i].name, snap->totals[totals[i].counter]);
	}
}

static void prom_tls(FILE *out, const uint64_t *c)
{
	prom_family(out, "shoal_tls_handshakes_total", "counter",
		    "TLS handshakes done, in full or resuming a session.");
	fprintf(out, "shoal_tls_handshakes_total{kind=\"full\"} %" PRIu64 "\n",
		c[SHOAL_STATS_TLS_FULL]);
	fprintf(out, "shoal_tls_handshakes_total{kind=\"resumed\"} %" PRIu64 "\n",
		c[SHOAL_STATS_TLS_RESUMED]);
	prom_family(out, "shoal_tls_handshake_failures_total", "counter",
		    "TLS handshakes failed, by reason.");
	for (unsigned i = 0; i < ARRAY_LEN(tls_reasons); i++)
		fprintf(out, "shoal_tls_handshake_failures_total{reason=\"%s\"} %" PRIu64 "\n",
			tls_reasons[i], c[SHOAL_STATS_TLS_FAIL + i]);
	prom_family(out, "shoal_tls_versions_total", "counter",
		    "TLS handshakes done, by protocol version.");
	for (unsigned i = 0; i < ARRAY_LEN(tls_versions); i++)
		fprintf(out, "shoal_tls_versions_total{version=\"%s\"} %" PRIu64 "\n",
			tls_versions[i], c[SHOAL_STATS_TLS_VERSION + i]);
}

static void prom_labelled(FILE *out, const uint64_t *c)
{
	prom_family(out, "shoal_connections_active", "gauge", "Open connections by phase.");
	for (unsigned i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
		fprintf(out, "shoal_connections_active{state=\"%s\"} %" PRIu64 "\n", phases[i],
			c[SHOAL_STATS_CONN_READING + i]);
	prom_family(out, "shoal_responses_total", "counter",
		    "Responses by status code, for the codes counted one by one.");
	for (int i = 0; i < SHOAL_STATS_NCODES; i++)
		fprintf(out, "shoal_responses_total{code=\"%d\"} %" PRIu64 "\n", status_codes[i],
			c[SHOAL_STATS_RESP_CODE + i]);
	prom_family(out, "shoal_responses_class_total", "counter", "Responses by status class.");
	for (int i = 0; i < NCLASSES; i++)
		fprintf(out, "shoal_responses_class_total{class=\"%dxx\"} %" PRIu64 "\n", i + 1,
			c[SHOAL_STATS_RESP_1XX + i]);
	prom_family(out, "shoal_errors_total", "counter", "Connection and request errors by kind.");
	for (int i = 0; i < NERRORS; i++)
		fprintf(out, "shoal_errors_total{kind=\"%s\"} %" PRIu64 "\n", error_kinds[i],
			c[SHOAL_STATS_ERR_PARSE + i]);
	prom_family(out, "shoal_proxy_protocol_headers_total", "counter",
		    "PROXY protocol headers by outcome: accepted, refused (the peer is not in "
		    "proxy_protocol_from), malformed, timeout.");
	for (unsigned i = 0; i < sizeof(proxy_outcomes) / sizeof(proxy_outcomes[0]); i++)
		fprintf(out, "shoal_proxy_protocol_headers_total{outcome=\"%s\"} %" PRIu64 "\n",
			proxy_outcomes[i], c[SHOAL_STATS_PROXY_ACCEPTED + i]);
	prom_tls(out, c);
}

/* The series of one histogram; labels is "" or 'name="value",...'. */
static void prom_histogram(FILE *out, const char *name, const char *labels,
			   const uint64_t *buckets, uint64_t sum_us)
{
	const char *comma = *labels ? "," : "";
	uint64_t cumulative = 0;
	char le[32];

	for (unsigned i = 0; i < SHOAL_STATS_LATENCY_FINITE; i++) {
		cumulative += buckets[i];
		format_seconds(le, sizeof(le), shoal_stats_bucket_bound_us(i));
		fprintf(out, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name, labels, comma, le,
			cumulative);
	}
	cumulative += buckets[SHOAL_STATS_LATENCY_FINITE];
	fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, comma, cumulative);
	format_seconds(le, sizeof(le), sum_us);
	if (*labels)
		fprintf(out, "%s_sum{%s} %s\n%s_count{%s} %" PRIu64 "\n", name, labels, le, name,
			labels, cumulative);
	else
		fprintf(out, "%s_sum %s\n%s_count %" PRIu64 "\n", name, le, name, cumulative);
}

static void prom_latency(FILE *out, const uint64_t *c)
{
	static const char name[] = "shoal_request_duration_seconds";

	prom_family(out, name, "histogram", "Time from reading a request to queueing its response.");
	prom_histogram(out, name, "", c + SHOAL_STATS_LATENCY, c[SHOAL_STATS_LATENCY_SUM_US]);
}

static void prom_workers(FILE *out, const struct shoal_stats_snapshot *snap)
{
	static const struct {
		const char *name, *type, *help;
		unsigned counter;
	} series[] = {
		{ "shoal_worker_requests_total", "counter", "Requests answered by a worker.",
		  SHOAL_STATS_REQUESTS },
		{ "shoal_worker_connections_accepted_total", "counter",
		  "Connections accepted by a worker.", SHOAL_STATS_CONN_ACCEPTED },
		{ "shoal_worker_connections_active", "gauge", "Open connections of a worker.",
		  SHOAL_STATS_CONN_ACTIVE },
		{ "shoal_worker_bytes_sent_total", "counter", "Bytes sent by a worker.",
		  SHOAL_STATS_BYTES_OUT },
	};

	prom_family(out, "shoal_worker_start_time_seconds", "gauge", "Unix time a worker started.");
	for (unsigned w = 0; w < snap->nworkers; w++)
		fprintf(out, "shoal_worker_start_time_seconds{worker=\"%u\",pid=\"%d\"} %" PRIu64 "\n",
			snap->workers[w].worker_slot, (int)snap->workers[w].pid,
			snap->workers[w].start_ms / 1000);
	for (size_t i = 0; i < sizeof(series) / sizeof(series[0]); i++) {
		prom_family(out, series[i].name, series[i].type, series[i].help);
		for (unsigned w = 0; w < snap->nworkers; w++)
			fprintf(out, "%s{worker=\"%u\",pid=\"%d\"} %" PRIu64 "\n", series[i].name,
				snap->workers[w].worker_slot, (int)snap->workers[w].pid,
				snap->workers[w].counters[series[i].counter]);
	}
}

/* A label value in the exposition format: backslash, double quote and newline escaped. */
static size_t prom_escape(char *dst, const char *src)
{
	size_t n = 0;

	for (; *src; src++) {
		if (*src == '\\' || *src == '"' || *src == '\n')
			dst[n++] = '\\';
		dst[n++] = *src == '\n' ? 'n' : *src;
	}
	return n;
}

/* 'upstream="...",server="..."' into buf of UPSTREAM_LABELS bytes. */
static void prom_upstream_labels(char *buf, const struct shoal_stats_upstream_stat *u)
{
	size_t n;

	memcpy(buf, "upstream=\"", 10);
	n = 10 + prom_escape(buf + 10, u->upstream);
	memcpy(buf + n, "\",server=\"", 10);
	n += 10;
	n += prom_escape(buf + n, u->server);
	memcpy(buf + n, "\"", 2);
}

/* One family of labelled upstream series: for every server, count values from counter on,
 * each with its own value of the label `label`. */
static void prom_upstream_family(FILE *out, const struct shoal_stats_snapshot *snap,
				 const char *name, const char *type, const char *help,
				 const char *label, const char *const *values, unsigned count,
				 unsigned counter)
{
	char labels[UPSTREAM_LABELS];

	prom_family(out, name, type, help);
	for (unsigned i = 0; i < snap->nupstreams; i++) {
		const struct shoal_stats_upstream_stat *u = &snap->upstreams[i];
		if (shoal_stats_upstream_is_queue(u->server))
			continue;
		prom_upstream_labels(labels, u);
		if (!label) {
			fprintf(out, "%s{%s} %" PRIu64 "\n", name, labels, u->counters[counter]);
			continue;
		}
		for (unsigned v = 0; v < count; v++)
			fprintf(out, "%s{%s,%s=\"%s\"} %" PRIu64 "\n", name, labels, label, values[v],
				u->counters[counter + v]);
	}
}

/* One family of the groups' queues, labelled by upstream alone: for every queue, count
 * values from counter on, each with its own outcome (or no outcome, for one value). */
static void prom_queue_family(FILE *out, const struct shoal_stats_snapshot *snap,
			      const char *name, const char *type, const char *help,
			      unsigned count, unsigned counter)
{
	static const char *const outcomes[] = { "queued", "full", "timeout" };
	char label[2 * SHOAL_STATS_UPSTREAM_TEXT + 1];

	prom_family(out, name, type, help);
	for (unsigned i = 0; i < snap->nupstreams; i++) {
		const struct shoal_stats_upstream_stat *u = &snap->upstreams[i];
		if (!shoal_stats_upstream_is_queue(u->server))
			continue;
		label[prom_escape(label, u->upstream)] = '\0';
		if (count == 1)
			fprintf(out, "%s{upstream=\"%s\"} %" PRIu64 "\n", name, label,
				u->counters[counter]);
		for (unsigned o = 0; count > 1 && o < count; o++)
			fprintf(out, "%s{upstream=\"%s\",outcome=\"%s\"} %" PRIu64 "\n", name, label,
				outcomes[o], u->counters[counter + o]);
	}
}

static void prom_queues(FILE *out, const struct shoal_stats_snapshot *snap)
{
	bool any = false;

	for (unsigned i = 0; i < snap->nupstreams; i++)
		any = any || shoal_stats_upstream_is_queue(snap->upstreams[i].server);
	if (!any)
		return;
	prom_queue_family(out, snap, "shoal_upstream_queue_total", "counter",
			  "Requests of an upstream group's queue: queued (they waited), full "
			  "(refused at once), timeout (refused after queue_timeout).", 3,
			  SHOAL_STATS_UP_QUEUED);
	prom_queue_family(out, snap, "shoal_upstream_queue_waiting", "gauge",
			  "Requests waiting in an upstream group's queue.", 1,
			  SHOAL_STATS_UP_ACTIVE);
}

static void prom_upstreams(FILE *out, const struct shoal_stats_snapshot *snap)
{
	static const char *const classes[] = { "1xx", "2xx", "3xx", "4xx", "5xx" };
	static const char *const states[] = { "active", "idle" };
	static const char *const directions[] = { "sent", "received" };
	static const char ttfb[] = "shoal_upstream_ttfb_seconds";
	char labels[UPSTREAM_LABELS];

	if (snap->nupstreams == 0)
		return;
	prom_upstream_family(out, snap, "shoal_upstream_requests_total", "counter",
			     "Requests sent to an upstream server.", NULL, NULL, 1,
			     SHOAL_STATS_UP_REQUESTS);
	prom_upstream_family(out, snap, "shoal_upstream_responses_total", "counter",
			     "Responses of an upstream server by status class.", "class", classes,
			     NCLASSES, SHOAL_STATS_UP_RESP_1XX);
	prom_upstream_family(out, snap, "shoal_upstream_failures_total", "counter",
			     "Failed exchanges with an upstream server by kind.", "kind",
			     failure_kinds, NFAILURES, SHOAL_STATS_UP_FAIL_CONNECT);
	prom_upstream_family(out, snap, "shoal_upstream_connections", "gauge",
			     "Connections to an upstream server, busy with a request or idle.",
			     "state", states, 2, SHOAL_STATS_UP_ACTIVE);
	prom_upstream_family(out, snap, "shoal_upstream_bytes_total", "counter",
			     "Bytes sent to and received from an upstream server.", "direction",
			     directions, 2, SHOAL_STATS_UP_BYTES_SENT);
	prom_family(out, ttfb, "histogram",
		    "Time from sending a request to an upstream server to its response head.");
	for (unsigned i = 0; i < snap->nupstreams; i++) {
		const uint64_t *c = snap->upstreams[i].counters;
		if (shoal_stats_upstream_is_queue(snap->upstreams[i].server))
			continue;
		prom_upstream_labels(labels, &snap->upstreams[i]);
		prom_histogram(out, ttfb, labels, c + SHOAL_STATS_UP_TTFB,
			       c[SHOAL_STATS_UP_TTFB_SUM_US]);
	}
	prom_queues(out, snap);
}

int shoal_stats_format_upstreams_prometheus(FILE *out, const struct shoal_stats_snapshot *snap)
{
	prom_upstreams(out, snap);
	return format_result(out);
}

int shoal_stats_format_prometheus(FILE *out, const struct shoal_stats_snapshot *snap)
{
	prom_totals(out, snap);
	prom_labelled(out, snap->totals);
	prom_latency(out, snap->totals);
	prom_workers(out, snap);
	prom_upstreams(out, snap);
	return format_result(out);
}
