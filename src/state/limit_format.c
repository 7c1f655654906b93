#include <inttypes.h>
#include <string.h>

#include "shoal/state/format.h"
#include "shoal/state/limit_format.h"

#define LOAD(field) atomic_load_explicit(&(field), memory_order_relaxed)
/* The rows' columns after the name, the kind and the key. */
#define COLUMNS " %8s %6s %6s %8s %8s %10s %8s %10s %10s %10s\n"

/* The live zone at *i or after it, moving *i past it; NULL after the last. */
static const struct shoal_state_limit_zone *limit_format_next(const struct shoal_state *st,
							      unsigned *i)
{
	unsigned n = shoal_state_limit_count(st);

	while (*i < n) {
		const struct shoal_state_limit_zone *z = shoal_state_limit_at(st, (*i)++);
		if (!LOAD(z->retired))
			return z;
	}
	return NULL;
}

static bool limit_format_is_conn(const struct shoal_state_limit_zone *z)
{
	return z->kind == SHOAL_STATE_LIMIT_CONN;
}

/* src's text, at most max bytes, into dst (max + 1 bytes), control bytes as '?': the file
 * is written by others and shown on a terminal. */
static void limit_format_text(char *dst, const char *src, size_t max)
{
	size_t i = 0;

	for (; i < max && src[i]; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
	dst[i] = '\0';
}

/* Requests per 1000 s as requests per second, without trailing zeros: "10", "0.5". */
static void limit_format_rate(char *buf, size_t size, uint64_t milli)
{
	uint64_t frac = milli % 1000;
	int digits = 3;

	if (!frac) {
		snprintf(buf, size, "%" PRIu64, milli / 1000);
		return;
	}
	for (; frac % 10 == 0; frac /= 10)
		digits--;
	snprintf(buf, size, "%" PRIu64 ".%0*" PRIu64, milli / 1000, digits, frac);
}

/* The widths of the name and key columns; returns how many zones are live. */
static unsigned limit_format_widths(const struct shoal_state *st, int *name, int *key)
{
	const struct shoal_state_limit_zone *z;
	size_t nw = strlen("ZONE"), kw = strlen("KEY");
	unsigned live = 0;

	for (unsigned i = 0; (z = limit_format_next(st, &i)); live++) {
		size_t n = strnlen(z->name, sizeof(z->name)), k = strnlen(z->key, sizeof(z->key));
		nw = n > nw ? n : nw;
		kw = k > kw ? k : kw;
	}
	*name = (int)nw;
	*key = (int)kw;
	return live;
}

static void limit_format_row(FILE *out, const struct shoal_state_limit_zone *z, int nw, int kw)
{
	char name[SHOAL_STATE_LIMIT_NAME + 1], key[SHOAL_STATE_LIMIT_KEY + 1];
	char rate[32] = "-", burst[16] = "-", conn[16] = "-", num[7][24];
	struct shoal_state_limit_counts c;
	uint64_t values[7];

	limit_format_text(name, z->name, sizeof(z->name));
	limit_format_text(key, z->key, sizeof(z->key));
	if (limit_format_is_conn(z)) {
		snprintf(conn, sizeof(conn), "%" PRIu32, LOAD(z->conn));
	} else {
		limit_format_rate(rate, sizeof(rate), LOAD(z->rate_milli));
		snprintf(burst, sizeof(burst), "%" PRIu32, LOAD(z->burst));
	}
	shoal_state_limit_counts(z, &c);
	values[0] = z->size;
	values[1] = c.keys;
	values[2] = c.passed;
	values[3] = c.delayed;
	values[4] = c.rejected;
	values[5] = c.evictions;
	values[6] = c.untracked;
	for (int i = 0; i < 7; i++)
		snprintf(num[i], sizeof(num[i]), "%" PRIu64, values[i]);
	fprintf(out, "%-*s %-4s %-*s" COLUMNS, nw, name, limit_format_is_conn(z) ? "conn" : "rate",
		kw, key, rate, burst, conn, num[0], num[1], num[2], num[3], num[4], num[5], num[6]);
}

static void limit_format_top_text(FILE *out, const struct shoal_state *st,
				  const struct shoal_state_limit_zone *z,
				  struct shoal_state_limit_top *top, size_t max)
{
	char name[SHOAL_STATE_LIMIT_NAME + 1], key[SHOAL_STATE_LIMIT_KEY_TEXT + 1];
	size_t n = shoal_state_limit_top(st, z, top, max);

	limit_format_text(name, z->name, sizeof(z->name));
	if (!n) {
		fprintf(out, "\n%s: no key refused\n", name);
		return;
	}
	fprintf(out, "\n%s: top keys by rejections\n  %10s  %s\n", name, "REJECTED", "KEY");
	for (size_t i = 0; i < n; i++) {
		limit_format_text(key, top[i].key, SHOAL_STATE_LIMIT_KEY_TEXT);
		fprintf(out, "  %10" PRIu64 "  %s\n", top[i].rejected, key);
	}
}

void shoal_state_limit_format_text(FILE *out, const struct shoal_state *st,
				   struct shoal_state_limit_top *top, size_t max)
{
	const struct shoal_state_limit_zone *z;
	int nw, kw;

	if (!limit_format_widths(st, &nw, &kw)) {
		fprintf(out, "no limit zones\n");
		return;
	}
	fprintf(out, "%-*s %-4s %-*s" COLUMNS, nw, "ZONE", "KIND", kw, "KEY", "RATE", "BURST",
		"CONN", "SIZE", "KEYS", "PASSED", "DELAYED", "REJECTED", "EVICTIONS", "UNTRACKED");
	for (unsigned i = 0; (z = limit_format_next(st, &i));)
		limit_format_row(out, z, nw, kw);
	for (unsigned i = 0; max && (z = limit_format_next(st, &i));)
		limit_format_top_text(out, st, z, top, max);
}

/* src's text, at most max bytes, as a JSON string in ASCII. */
static void limit_format_json_string(FILE *out, const char *src, size_t max)
{
	fputc('"', out);
	for (size_t i = 0; i < max && src[i]; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void limit_format_json_zone(FILE *out, const struct shoal_state_limit_zone *z)
{
	struct shoal_state_limit_counts c;
	char rate[32];

	fputs("{\"name\": ", out);
	limit_format_json_string(out, z->name, sizeof(z->name));
	fprintf(out, ", \"kind\": \"%s\", \"key\": ", limit_format_is_conn(z) ? "conn" : "rate");
	limit_format_json_string(out, z->key, sizeof(z->key));
	if (limit_format_is_conn(z)) {
		fprintf(out, ", \"rate\": null, \"burst\": null, \"conn\": %" PRIu32, LOAD(z->conn));
	} else {
		limit_format_rate(rate, sizeof(rate), LOAD(z->rate_milli));
		fprintf(out, ", \"rate\": %s, \"burst\": %" PRIu32 ", \"conn\": null", rate,
			LOAD(z->burst));
	}
	shoal_state_limit_counts(z, &c);
	fprintf(out, ", \"size\": %" PRIu32 ", \"keys\": %" PRIu64 ", \"passed\": %" PRIu64
		", \"delayed\": %" PRIu64 ", \"rejected\": %" PRIu64 ", \"evictions\": %" PRIu64
		", \"untracked\": %" PRIu64, z->size, c.keys, c.passed, c.delayed, c.rejected,
		c.evictions, c.untracked);
}

static void limit_format_json_top(FILE *out, const struct shoal_state_limit_top *top, size_t n)
{
	fputs(", \"top\": [", out);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", {\"key\": " : "{\"key\": ", out);
		limit_format_json_string(out, top[i].key, SHOAL_STATE_LIMIT_KEY_TEXT);
		fprintf(out, ", \"rejected\": %" PRIu64 "}", top[i].rejected);
	}
	fputs("]}", out);
}

void shoal_state_limit_format_json(FILE *out, const struct shoal_state *st,
				   struct shoal_state_limit_top *top, size_t max)
{
	const struct shoal_state_limit_zone *z;
	const char *sep = "\n ";

	fputs("{\"zones\": [", out);
	for (unsigned i = 0; (z = limit_format_next(st, &i)); sep = ",\n ") {
		fputs(sep, out);
		limit_format_json_zone(out, z);
		limit_format_json_top(out, top, shoal_state_limit_top(st, z, top, max));
	}
	fputs(sep[0] == ',' ? "\n]}\n" : "]}\n", out);
}

enum limit_series { SERIES_REQUESTS, SERIES_KEYS, SERIES_EVICTIONS, SERIES_UNTRACKED };

static void limit_format_series(FILE *out, const struct shoal_state_limit_zone *z,
				enum limit_series which)
{
	char label[2 * SHOAL_STATE_LIMIT_NAME + 1];

	label[shoal_state_format_escape(label, z->name, sizeof(z->name))] = '\0';
	if (which == SERIES_REQUESTS)
		fprintf(out, "shoal_limit_requests_total{zone=\"%s\",result=\"passed\"} %" PRIu64
			"\nshoal_limit_requests_total{zone=\"%s\",result=\"delayed\"} %" PRIu64
			"\nshoal_limit_requests_total{zone=\"%s\",result=\"rejected\"} %" PRIu64 "\n",
			label, LOAD(z->passed), label, LOAD(z->delayed), label, LOAD(z->rejected));
	else if (which == SERIES_KEYS)
		fprintf(out, "shoal_limit_keys{zone=\"%s\"} %" PRIu64 "\n", label, LOAD(z->keys));
	else if (which == SERIES_EVICTIONS)
		fprintf(out, "shoal_limit_evictions_total{zone=\"%s\"} %" PRIu64 "\n", label,
			LOAD(z->evictions));
	else
		fprintf(out, "shoal_limit_untracked_total{zone=\"%s\"} %" PRIu64 "\n", label,
			LOAD(z->untracked));
}

void shoal_state_limit_format_prometheus(FILE *out, const struct shoal_state *st)
{
	static const struct {
		const char *name, *type, *help;
	} families[] = {
		[SERIES_REQUESTS] = { "shoal_limit_requests_total", "counter",
				      "Requests a limit zone judged, by result, all workers." },
		[SERIES_KEYS] = { "shoal_limit_keys", "gauge", "Keys a limit zone tracks." },
		[SERIES_EVICTIONS] = { "shoal_limit_evictions_total", "counter",
				       "Keys a limit zone forgot to make room for others." },
		[SERIES_UNTRACKED] = { "shoal_limit_untracked_total", "counter",
				       "Requests passed untracked: their key found no room." },
	};
	const struct shoal_state_limit_zone *z;
	unsigned first = 0;

	if (!limit_format_next(st, &first))
		return;
	for (unsigned f = SERIES_REQUESTS; f <= SERIES_UNTRACKED; f++) {
		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
			families[f].name, families[f].type);
		for (unsigned i = 0; (z = limit_format_next(st, &i));)
			limit_format_series(out, z, (enum limit_series)f);
	}
}
