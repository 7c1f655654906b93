#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "limit_zones.h"
#include "upstream.h"
#include "shoal/base/util.h"
#include "shoal/config/config.h"

/* ---- key: one or more parts joined by "+" ---- */

/* tchar of RFC 9110 but '+', which joins the parts: a header whose name has a '+' (legal,
 * unheard of) cannot be counted by. */
static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*-.^_`|~", c));
}

/* Reads the len bytes at p into *part: NULL, or what is wrong with them. */
static const char *read_part(const char *p, size_t len, struct shoal_limit_key_part *part)
{
	part->name = NULL;
	if (len == 9 && memcmp(p, "client_ip", 9) == 0) {
		part->kind = SHOAL_LIMIT_KEY_CLIENT_IP;
		return NULL;
	}
	if (len == 3 && memcmp(p, "uri", 3) == 0) {
		part->kind = SHOAL_LIMIT_KEY_URI;
		return NULL;
	}
	if (len < 7 || memcmp(p, "header:", 7) != 0)
		return "must be \"client_ip\", \"uri\" or \"header:NAME\" (parts joined by \"+\")";
	if (len == 7)
		return "needs the NAME of a header field";
	for (size_t i = 7; i < len; i++)
		if (!is_name_char(p[i]))
			return "NAME must be a header field name of letters, digits and "
			       "!#$%&'*-.^_`|~ only";
	part->kind = SHOAL_LIMIT_KEY_HEADER;
	part->name = strndup(p + 7, len - 7);
	return part->name ? NULL : "out of memory";
}

/* Header names are compared as requests are matched: without regard to case. */
static bool same_part(const struct shoal_limit_key_part *a, const struct shoal_limit_key_part *b)
{
	return a->kind == b->kind &&
	       (a->kind != SHOAL_LIMIT_KEY_HEADER || strcasecmp(a->name, b->name) == 0);
}

/* Reads the part of len bytes at p into the next free place of zone->parts. */
static int add_part(const struct shoal_conf_key *key, const config_setting_t *s,
		    struct shoal_limit_zone_conf *zone, const char *p, size_t len,
		    const struct shoal_conf_ctx *ctx)
{
	struct shoal_limit_key_part *part = &zone->parts[zone->nparts];
	const char *problem;

	if (len == 0)
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "'%s' has an empty part (parts are joined by one \"+\")",
					 zone->key);
	problem = read_part(p, len, part);
	if (problem)
		return shoal_schema_fail(ctx, s, key->name, -1, "'%s': \"%.*s\" %s", zone->key,
					 (int)len, p, problem);
	zone->nparts++;
	for (size_t i = 0; i + 1 < zone->nparts; i++)
		if (same_part(&zone->parts[i], part))
			return shoal_schema_fail(ctx, s, key->name, -1,
						 "'%s': \"%.*s\" is named twice", zone->key,
						 (int)len, p);
	return 0;
}

static int parse_key(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
		     struct shoal_conf_ctx *ctx)
{
	struct shoal_limit_zone_conf *zone = base;
	const char *text = NULL, *p;
	size_t n = 1, len;

	if (shoal_schema_get_string(key, s, ctx, &text) < 0)
		return -1;
	for (p = text; *p; p++)
		n += *p == '+';
	zone->key = strdup(text);
	zone->parts = calloc(n, sizeof(*zone->parts));
	if (!zone->key || !zone->parts)
		return shoal_schema_fail(ctx, s, key->name, -1, "out of memory");
	for (p = text;; p += len + 1) {
		len = strcspn(p, "+");
		if (add_part(key, s, zone, p, len, ctx) < 0)
			return -1;
		if (!p[len])
			return 0;
	}
}

static void dump_key(const struct shoal_conf_key *key, const void *base, FILE *out, int indent)
{
	const struct shoal_limit_zone_conf *zone = base;

	fprintf(out, "%*s%s = ", indent, "", key->name);
	shoal_schema_put_string(out, zone->key);
	fputs(";\n", out);
}

static void release_key(const struct shoal_conf_key *key, void *base)
{
	struct shoal_limit_zone_conf *zone = base;

	(void)key;
	for (size_t i = 0; i < zone->nparts; i++)
		free(zone->parts[i].name);
	free(zone->parts);
	free(zone->key);
	zone->parts = NULL;
	zone->nparts = 0;
	zone->key = NULL;
}

/* Required, so it has no default. Only a zone's table has it: its functions take the
 * zone's struct, whatever the key's offset. */
static const struct shoal_conf_kind kind_key = { parse_key, NULL, dump_key, release_key };

/* ---- rate: requests per second, fractions allowed ---- */

static int parse_rate(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
		      struct shoal_conf_ctx *ctx)
{
	struct shoal_limit_zone_conf *zone = base;
	double rate = -1.0;

	if (shoal_schema_is_integer(s))
		rate = (double)config_setting_get_int64(s);
	else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		rate = config_setting_get_float(s);
	/* Written so that a NaN fails too. */
	if (!(rate > 0.0 && rate <= (double)key->max))
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "must be a number of requests per second greater than 0 "
					 "and at most %lld, such as 10 or 0.5", key->max);
	zone->rate = rate;
	return 0;
}

static int default_rate(const struct shoal_conf_key *key, void *base, struct shoal_conf_ctx *ctx)
{
	struct shoal_limit_zone_conf *zone = base;

	(void)key;
	(void)ctx;
	zone->rate = 0.0;
	return 0;
}

/* The shortest decimal that reads back as rate, with a point so that it reads as the float
 * it is ("10.0", "0.5", "0.1"), and whole numbers without an exponent. */
static void format_rate(char *buf, size_t size, double rate)
{
	if (rate == (double)(long long)rate) {
		snprintf(buf, size, "%lld.0", (long long)rate);
		return;
	}
	for (int digits = 1; digits <= 17; digits++) {
		snprintf(buf, size, "%.*g", digits, rate);
		if (strtod(buf, NULL) == rate)
			return;
	}
}

/* A zone with conn has no rate: it prints none, so that its dump loads. */
static void dump_rate(const struct shoal_conf_key *key, const void *base, FILE *out, int indent)
{
	const struct shoal_limit_zone_conf *zone = base;
	char text[64];

	if (zone->rate <= 0.0)
		return;
	format_rate(text, sizeof(text), zone->rate);
	fprintf(out, "%*s%s = %s;\n", indent, "", key->name, text);
}

static const struct shoal_conf_kind kind_rate = { parse_rate, default_rate, dump_rate, NULL };

/* ---- burst and conn: integers printed only in the zones that may have them ---- */

static int parse_count(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
		       struct shoal_conf_ctx *ctx)
{
	return shoal_schema_int.parse(key, s, base, ctx);
}

static int default_count(const struct shoal_conf_key *key, void *base,
			 struct shoal_conf_ctx *ctx)
{
	return shoal_schema_int.set_default(key, base, ctx);
}

static void dump_burst(const struct shoal_conf_key *key, const void *base, FILE *out,
		       int indent)
{
	const struct shoal_limit_zone_conf *zone = base;

	if (zone->rate > 0.0)
		shoal_schema_int.dump(key, base, out, indent);
}

static void dump_conn(const struct shoal_conf_key *key, const void *base, FILE *out, int indent)
{
	const struct shoal_limit_zone_conf *zone = base;

	if (zone->conn > 0)
		shoal_schema_int.dump(key, base, out, indent);
}

static const struct shoal_conf_kind kind_burst = {
	parse_count, default_count, dump_burst, NULL
};
static const struct shoal_conf_kind kind_conn = { parse_count, default_count, dump_conn, NULL };

/* ---- the schema of a zone ---- */

#define ZONE_KEY(f, k, ...)                                                                  \
	{ .name = #f, .kind = &(k), .offset = offsetof(struct shoal_limit_zone_conf, f),      \
	  __VA_ARGS__ }

static const struct shoal_conf_key zone_keys[] = {
	ZONE_KEY(name, shoal_schema_string, .required = true, .check = shoal_upstream_check_name),
	ZONE_KEY(key, kind_key, .required = true),
	ZONE_KEY(rate, kind_rate, .max = 1000000),
	ZONE_KEY(burst, kind_burst, .min = 0, .max = 1000000, .def_int = 0),
	/* 0, no conn, is what a rate zone has: the default stands outside the range. */
	ZONE_KEY(conn, kind_conn, .min = 1, .max = 1000000, .def_int = 0),
	ZONE_KEY(size, shoal_schema_int, .min = 16, .max = 16777216, .def_int = 65536),
	ZONE_KEY(dry_run, shoal_schema_bool, .def_int = 0),
};

/* ---- checks across a zone's keys, and across zones ---- */

/* Reports what is wrong with zone i, at e, at its member (NULL: the zone itself). */
static int fail_zone(const struct shoal_conf_key *key, const config_setting_t *e, size_t i,
		     const char *member, const char *what, const struct shoal_conf_ctx *ctx)
{
	const config_setting_t *s = member ? config_setting_get_member(e, member) : e;
	const config_setting_t *name = config_setting_get_member(e, "name");
	char path[64];

	snprintf(path, sizeof(path), "%s[%zu]%s%s", key->name, i, member ? "." : "",
		 member ? member : "");
	return shoal_schema_fail(ctx, s, path, -1, "zone \"%s\" %s",
				 config_setting_get_string(name), what);
}

/* One kind of limit per zone, so that a table entry holds one kind of budget; burst is a
 * rate's. */
static int check_zone(const struct shoal_conf_key *key, const struct shoal_limit_zone_conf *zone,
		      const config_setting_t *e, size_t i, const struct shoal_conf_ctx *ctx)
{
	if (zone->rate <= 0.0 && zone->conn == 0)
		return fail_zone(key, e, i, NULL,
				 "needs rate (requests per second) or conn (requests in flight "
				 "per key)", ctx);
	if (zone->rate > 0.0 && zone->conn > 0)
		return fail_zone(key, e, i, "conn",
				 "has both rate and conn: a zone limits one or the other", ctx);
	if (zone->conn > 0 && config_setting_get_member(e, "burst"))
		return fail_zone(key, e, i, "burst",
				 "has conn: burst applies only to a zone with rate", ctx);
	return 0;
}

/* Locations name their zones: two of one name would leave the choice to the file's order. */
static int finish_zones(const struct shoal_conf_key *key, void *groups, size_t n,
			const config_setting_t *list, struct shoal_conf_ctx *ctx)
{
	const struct shoal_limit_zone_conf *zones = groups;

	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned int)i);
		char name[64];

		if (check_zone(key, &zones[i], e, i, ctx) < 0)
			return -1;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(zones[j].name, zones[i].name) != 0)
				continue;
			snprintf(name, sizeof(name), "%s[%zu].name", key->name, i);
			return shoal_schema_fail(ctx, config_setting_get_member(e, "name"), name, -1,
						 "\"%s\" is already the name of %s[%zu]",
						 zones[i].name, key->name, j);
		}
	}
	return 0;
}

const struct shoal_conf_section shoal_limit_zones_section = {
	zone_keys, ARRAY_LEN(zone_keys), sizeof(struct shoal_limit_zone_conf), finish_zones
};

bool shoal_limit_zones_find(const struct shoal_config *cfg, const char *name, size_t *index)
{
	for (size_t i = 0; i < cfg->nlimit_zones; i++) {
		if (strcmp(cfg->limit_zones[i].name, name) == 0) {
			*index = i;
			return true;
		}
	}
	return false;
}
