#include <inttypes.h>
#include <string.h>

#include "shoal/state/format.h"

#define LOAD(field) atomic_load_explicit(&(field), memory_order_relaxed)
/* Room for the labels of a server, every byte of both names escaped. */
#define LABELS (4 * SHOAL_STATE_UPSTREAM_TEXT + 32)

const char *shoal_state_format_admin_name(uint32_t admin)
{
	switch (admin) {
	case SHOAL_STATE_ADMIN_UP:
		return "up";
	case SHOAL_STATE_ADMIN_DRAIN:
		return "drain";
	case SHOAL_STATE_ADMIN_DOWN:
		return "down";
	}
	return "unknown";
}

const char *shoal_state_format_check_name(uint32_t check)
{
	switch (check) {
	case SHOAL_STATE_CHECK_NONE:
		return "none";
	case SHOAL_STATE_CHECK_UP:
		return "up";
	case SHOAL_STATE_CHECK_DOWN:
		return "down";
	}
	return "unknown";
}

static uint64_t format_ejected_left_ms(const struct shoal_state_upstream *e, uint64_t now_ms)
{
	uint64_t until = LOAD(e->ejected_until_ms);

	return until > now_ms ? until - now_ms : 0;
}

bool shoal_state_format_up(const struct shoal_state_upstream *e, uint64_t now_ms)
{
	return LOAD(e->admin) == SHOAL_STATE_ADMIN_UP && LOAD(e->check) != SHOAL_STATE_CHECK_DOWN &&
	       format_ejected_left_ms(e, now_ms) == 0;
}

void shoal_state_format_status(char *buf, size_t size, const struct shoal_state_upstream *e,
			       uint64_t now_ms)
{
	uint64_t left;

	if (!e) {
		snprintf(buf, size, "-");
		return;
	}
	if (shoal_state_upstream_is_queue(e)) {
		snprintf(buf, size, "queue");
		return;
	}
	left = format_ejected_left_ms(e, now_ms);
	if (LOAD(e->admin) == SHOAL_STATE_ADMIN_DOWN)
		snprintf(buf, size, "down (admin)");
	else if (LOAD(e->admin) == SHOAL_STATE_ADMIN_DRAIN)
		snprintf(buf, size, "draining");
	else if (LOAD(e->check) == SHOAL_STATE_CHECK_DOWN)
		snprintf(buf, size, "down (check)");
	else if (left)
		snprintf(buf, size, "ejected %" PRIu64 "s", (left + 999) / 1000);
	else
		snprintf(buf, size, "up");
}

void shoal_state_format_check(char *buf, size_t size, const struct shoal_state_upstream *e)
{
	int detail;
	const char *name;

	if (!e || shoal_state_upstream_is_queue(e) || !LOAD(e->last_check_ms)) {
		snprintf(buf, size, "-");
		return;
	}
	detail = (int)LOAD(e->check_detail);
	if (detail > 0) {
		snprintf(buf, size, "HTTP %d", detail);
		return;
	}
	if (detail == 0) {
		snprintf(buf, size, "connected");
		return;
	}
	name = strerrorname_np(-detail);
	if (name)
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "error %d", -detail);
}

#define CELLS " %-13s %-13s %8s %10s %9s"

void shoal_state_format_heading(FILE *out)
{
	fprintf(out, CELLS, "STATE", "CHECK", "INFLIGHT", "WEIGHT", "EJECTIONS");
}

void shoal_state_format_cells(FILE *out, const struct shoal_state_upstream *e, uint64_t now_ms)
{
	char status[32], check[32], active[16] = "-", weight[16] = "-", ejections[24] = "-";

	shoal_state_format_status(status, sizeof(status), e, now_ms);
	shoal_state_format_check(check, sizeof(check), e);
	if (e)
		snprintf(active, sizeof(active), "%" PRIu32, LOAD(e->active));
	if (e && !shoal_state_upstream_is_queue(e)) {
		uint32_t w = LOAD(e->weight);
		snprintf(ejections, sizeof(ejections), "%" PRIu64, LOAD(e->ejected_total));
		if (w)
			snprintf(weight, sizeof(weight), "%" PRIu32, w);
		else
			snprintf(weight, sizeof(weight), "configured");
	}
	fprintf(out, CELLS, status, check, active, weight, ejections);
}

/* Every key null (no entry), or a queue's: its state and waiting requests, the rest null. */
static void format_json_null(FILE *out, const struct shoal_state_upstream *queue)
{
	static const char *const keys[] = {
		"state", "admin", "check", "check_result", "in_flight", "admin_weight",
		"ejected_left_ms", "ejections_total", "checks_passed", "checks_failed",
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (queue && i == 0)
			fprintf(out, ", \"state\": \"queue\"");
		else if (queue && i == 4)
			fprintf(out, ", \"in_flight\": %" PRIu32, LOAD(queue->active));
		else
			fprintf(out, ", \"%s\": null", keys[i]);
}

void shoal_state_format_json(FILE *out, const struct shoal_state_upstream *e, uint64_t now_ms)
{
	char status[32], check[32];

	if (!e || shoal_state_upstream_is_queue(e)) {
		format_json_null(out, e);
		return;
	}
	shoal_state_format_status(status, sizeof(status), e, now_ms);
	shoal_state_format_check(check, sizeof(check), e);
	fprintf(out, ", \"state\": \"%s\", \"admin\": \"%s\", \"check\": \"%s\", \"check_result\": ",
		status, shoal_state_format_admin_name(LOAD(e->admin)),
		shoal_state_format_check_name(LOAD(e->check)));
	if (LOAD(e->last_check_ms))
		fprintf(out, "\"%s\"", check);
	else
		fprintf(out, "null");
	fprintf(out, ", \"in_flight\": %" PRIu32 ", \"admin_weight\": %" PRIu32
		", \"ejected_left_ms\": %" PRIu64 ", \"ejections_total\": %" PRIu64
		", \"checks_passed\": %" PRIu64 ", \"checks_failed\": %" PRIu64,
		LOAD(e->active), LOAD(e->weight), format_ejected_left_ms(e, now_ms),
		LOAD(e->ejected_total), LOAD(e->checks_passed), LOAD(e->checks_failed));
}

size_t shoal_state_format_escape(char *dst, const char *src, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < max && src[i]; i++) {
		if (src[i] == '\\' || src[i] == '"' || src[i] == '\n')
			dst[n++] = '\\';
		dst[n++] = src[i] == '\n' ? 'n' : src[i];
	}
	return n;
}

static void format_labels(char *buf, const struct shoal_state_upstream *e)
{
	size_t n;

	memcpy(buf, "upstream=\"", 10);
	n = 10 + shoal_state_format_escape(buf + 10, e->upstream, sizeof(e->upstream));
	memcpy(buf + n, "\",server=\"", 10);
	n += 10;
	n += shoal_state_format_escape(buf + n, e->server, sizeof(e->server));
	memcpy(buf + n, "\"", 2);
}

enum series { SERIES_UP, SERIES_IN_FLIGHT, SERIES_EJECTIONS, SERIES_CHECKS };

static void format_series(FILE *out, const struct shoal_state *st, enum series which,
			  uint64_t now_ms)
{
	unsigned n = shoal_state_upstream_count(st);
	char labels[LABELS];

	for (unsigned i = 0; i < n; i++) {
		const struct shoal_state_upstream *e = shoal_state_upstream_at(st, i);
		/* The stats show a queue (shoal_upstream_queue_waiting). */
		if (shoal_state_upstream_is_queue(e))
			continue;
		format_labels(labels, e);
		if (which == SERIES_UP)
			fprintf(out, "shoal_upstream_up{%s} %d\n", labels,
				shoal_state_format_up(e, now_ms) ? 1 : 0);
		else if (which == SERIES_IN_FLIGHT)
			fprintf(out, "shoal_upstream_in_flight{%s} %" PRIu32 "\n", labels,
				LOAD(e->active));
		else if (which == SERIES_EJECTIONS)
			fprintf(out, "shoal_upstream_ejections_total{%s} %" PRIu64 "\n", labels,
				LOAD(e->ejected_total));
		else
			fprintf(out, "shoal_upstream_checks_total{%s,result=\"passed\"} %" PRIu64
				"\nshoal_upstream_checks_total{%s,result=\"failed\"} %" PRIu64 "\n",
				labels, LOAD(e->checks_passed), labels, LOAD(e->checks_failed));
	}
}

void shoal_state_format_prometheus(FILE *out, const struct shoal_state *st, uint64_t now_ms)
{
	static const struct {
		const char *name, *type, *help;
	} families[] = {
		[SERIES_UP] = { "shoal_upstream_up", "gauge",
				"1 if an upstream server takes new requests (admin up, not down "
				"by checks, not ejected), else 0." },
		[SERIES_IN_FLIGHT] = { "shoal_upstream_in_flight", "gauge",
				       "Requests in flight to an upstream server, all workers." },
		[SERIES_EJECTIONS] = { "shoal_upstream_ejections_total", "counter",
				       "Times an upstream server was ejected by passive health." },
		[SERIES_CHECKS] = { "shoal_upstream_checks_total", "counter",
				    "Active health probes of an upstream server by result." },
	};

	if (!shoal_state_upstream_count(st))
		return;
	for (unsigned f = SERIES_UP; f <= SERIES_CHECKS; f++) {
		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
			families[f].name, families[f].type);
		format_series(out, st, (enum series)f, now_ms);
	}
}
