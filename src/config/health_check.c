#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health_check.h"
#include "shoal/base/util.h"
#include "shoal/config/config.h"

#define STATUS_MIN_DEFAULT 200
#define STATUS_MAX_DEFAULT 399

/* ---- checks of single values ---- */

/* Sent as the request target of the probe, so it must read as one: no space would survive
 * the request line, and a fragment is never sent. */
static const char *check_probe_path(const char *path)
{
	if (path[0] != '/')
		return "must start with '/'";
	for (const char *p = path; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '#')
			return "must be a path and query of visible ASCII characters, "
			       "without spaces or fragment";
	return NULL;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool in_set(char c, const char *set)
{
	return c && strchr(set, c);
}

/* ":PORT" at p, PORT from 1 to 65535; the end of the value after it. */
static bool is_port(const char *p)
{
	long port = 0;

	if (*p++ != ':' || !*p)
		return false;
	for (; *p; p++) {
		if (!is_digit(*p))
			return false;
		port = port * 10 + (*p - '0');
		if (port > 65535)
			return false;
	}
	return port >= 1;
}

/* Sent as the Host of the probe: a name, an IPv4 address or a bracketed IPv6 literal, and
 * an optional port (RFC 9110, 7.2). */
static const char *check_probe_host(const char *host)
{
	const char *p = host;

	if (*p == '[') {
		for (p++; is_digit(*p) || in_set(*p, "abcdefABCDEF:."); p++)
			;
		p = *p == ']' && p > host + 1 ? p + 1 : host;
	} else {
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || is_digit(*p) ||
		       in_set(*p, "-._"))
			p++;
	}
	if (p == host || (*p && !is_port(p)))
		return "must be a host name or address with an optional port, "
		       "such as \"app.internal:8080\"";
	return NULL;
}

/* ---- type ---- */

static const char *const type_names[] = {
	[SHOAL_CHECK_NONE] = NULL, [SHOAL_CHECK_TCP] = "tcp", [SHOAL_CHECK_HTTP] = "http",
};

static int parse_type(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
		      struct shoal_conf_ctx *ctx)
{
	struct shoal_health_check_conf *hc = base;
	const char *text = NULL;

	if (shoal_schema_get_string(key, s, ctx, &text) < 0)
		return -1;
	if (strcmp(text, "http") == 0)
		hc->type = SHOAL_CHECK_HTTP;
	else if (strcmp(text, "tcp") == 0)
		hc->type = SHOAL_CHECK_TCP;
	else
		return shoal_schema_fail(ctx, s, key->name, -1, "must be one of http, tcp");
	return 0;
}

static void dump_type(const struct shoal_conf_key *key, const void *base, FILE *out, int indent)
{
	const struct shoal_health_check_conf *hc = base;

	fprintf(out, "%*s%s = \"%s\";\n", indent, "", key->name, type_names[hc->type]);
}

/* Required, so it has no default. */
static const struct shoal_conf_kind kind_type = { parse_type, NULL, dump_type, NULL };

/* ---- the keys of an http check only ---- */

static int parse_http_string(const struct shoal_conf_key *key, const config_setting_t *s,
			     void *base, struct shoal_conf_ctx *ctx)
{
	return shoal_schema_string.parse(key, s, base, ctx);
}

static int default_http_string(const struct shoal_conf_key *key, void *base,
			       struct shoal_conf_ctx *ctx)
{
	return shoal_schema_string.set_default(key, base, ctx);
}

static void dump_http_string(const struct shoal_conf_key *key, const void *base, FILE *out,
			     int indent)
{
	const struct shoal_health_check_conf *hc = base;

	if (hc->type == SHOAL_CHECK_HTTP)
		shoal_schema_string.dump(key, base, out, indent);
}

static void release_http_string(const struct shoal_conf_key *key, void *base)
{
	shoal_schema_string.release(key, base);
}

static const struct shoal_conf_kind kind_http_string = {
	parse_http_string, default_http_string, dump_http_string, release_http_string
};

/* "[ MIN, MAX ]": the statuses that pass, into status_min and status_max. */
static int parse_status(const struct shoal_conf_key *key, const config_setting_t *s,
			void *base, struct shoal_conf_ctx *ctx)
{
	struct shoal_health_check_conf *hc = base;
	long long v[2] = { 0, 0 };

	if ((!config_setting_is_array(s) && !config_setting_is_list(s)) ||
	    config_setting_length(s) != 2)
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "must be the least and the greatest status that pass, "
					 "such as [ 200, 399 ]");
	for (int i = 0; i < 2; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);

		v[i] = shoal_schema_is_integer(e) ? config_setting_get_int64(e) : 0;
		if (v[i] < key->min || v[i] > key->max)
			return shoal_schema_fail(ctx, e, key->name, i,
						 "must be a status from %lld to %lld", key->min,
						 key->max);
	}
	if (v[0] > v[1])
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "the least status, %lld, is greater than the greatest, %lld",
					 v[0], v[1]);
	hc->status_min = (int)v[0];
	hc->status_max = (int)v[1];
	return 0;
}

static int default_status(const struct shoal_conf_key *key, void *base,
			  struct shoal_conf_ctx *ctx)
{
	struct shoal_health_check_conf *hc = base;

	(void)key;
	(void)ctx;
	hc->status_min = STATUS_MIN_DEFAULT;
	hc->status_max = STATUS_MAX_DEFAULT;
	return 0;
}

static void dump_status(const struct shoal_conf_key *key, const void *base, FILE *out,
			int indent)
{
	const struct shoal_health_check_conf *hc = base;

	if (hc->type == SHOAL_CHECK_HTTP)
		fprintf(out, "%*s%s = [ %d, %d ];\n", indent, "", key->name, hc->status_min,
			hc->status_max);
}

static const struct shoal_conf_kind kind_status = {
	parse_status, default_status, dump_status, NULL
};

/* ---- the schema of a check ---- */

#define CHECK_KEY(f, k, ...) \
	{ .name = #f, .kind = &(k), .offset = offsetof(struct shoal_health_check_conf, f), \
	  __VA_ARGS__ }

static const struct shoal_conf_key check_keys[] = {
	CHECK_KEY(type, kind_type, .required = true),
	CHECK_KEY(path, kind_http_string, .def_str = "/", .check = check_probe_path),
	CHECK_KEY(host, kind_http_string, .def_str = NULL, .check = check_probe_host),
	{ .name = "interval", .kind = &shoal_schema_duration,
	  .offset = offsetof(struct shoal_health_check_conf, interval_ms), .min = 100,
	  .max = 3600 * 1000LL, .def_int = 2000 },
	{ .name = "timeout", .kind = &shoal_schema_duration,
	  .offset = offsetof(struct shoal_health_check_conf, timeout_ms), .min = 1,
	  .max = 3600 * 1000LL, .def_int = 1000 },
	CHECK_KEY(rise, shoal_schema_int, .min = 1, .max = 100, .def_int = 2),
	CHECK_KEY(fall, shoal_schema_int, .min = 1, .max = 100, .def_int = 3),
	{ .name = "status", .kind = &kind_status,
	  .offset = offsetof(struct shoal_health_check_conf, status_min), .min = 100, .max = 599 },
};

/* The keys that only mean something to an http check. */
static const char *const http_only[] = { "path", "host", "status" };

/* ---- checks across the keys of a check ---- */

/* A probe still waiting when the next is due would overlap it: a timeout set longer than
 * the interval is refused, the default one is cut to fit. */
static int check_across(struct shoal_health_check_conf *hc, const config_setting_t *group,
			const struct shoal_conf_ctx *ctx)
{
	const config_setting_t *timeout = config_setting_get_member(group, "timeout");

	for (size_t i = 0; hc->type == SHOAL_CHECK_TCP && i < ARRAY_LEN(http_only); i++) {
		const config_setting_t *s = config_setting_get_member(group, http_only[i]);

		if (s)
			return shoal_schema_fail(ctx, s, http_only[i], -1,
						 "applies only to type = \"http\"");
	}
	if (hc->timeout_ms <= hc->interval_ms)
		return 0;
	if (!timeout) {
		hc->timeout_ms = hc->interval_ms;
		return 0;
	}
	return shoal_schema_fail(ctx, timeout, "timeout", -1,
				 "must not exceed interval (%g s)", hc->interval_ms / 1000.0);
}

/* ---- the kind of the group ---- */

static struct shoal_health_check_conf *check_of(void *base, const struct shoal_conf_key *key)
{
	return (struct shoal_health_check_conf *)(void *)((char *)base + key->offset);
}

static int parse_check(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
		       struct shoal_conf_ctx *ctx)
{
	struct shoal_health_check_conf *hc = check_of(base, key);
	size_t len = strlen(ctx->where);
	int rc;

	if (!config_setting_is_group(s))
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "must be a group { type = ...; }");
	snprintf(ctx->where + len, sizeof(ctx->where) - len, "%s.", key->name);
	rc = shoal_schema_parse(check_keys, ARRAY_LEN(check_keys), s, hc, ctx);
	if (rc == 0)
		rc = check_across(hc, s, ctx);
	ctx->where[len] = '\0';
	return rc;
}

static int default_check(const struct shoal_conf_key *key, void *base,
			 struct shoal_conf_ctx *ctx)
{
	(void)ctx;
	memset(check_of(base, key), 0, sizeof(struct shoal_health_check_conf));
	check_of(base, key)->type = SHOAL_CHECK_NONE;
	return 0;
}

static void dump_check(const struct shoal_conf_key *key, const void *base, FILE *out, int indent)
{
	const struct shoal_health_check_conf *hc =
		(const struct shoal_health_check_conf *)(const void *)((const char *)base +
								       key->offset);

	if (hc->type == SHOAL_CHECK_NONE) {
		fprintf(out, "%*s# %s is unset\n", indent, "", key->name);
		return;
	}
	fprintf(out, "%*s%s = {\n", indent, "", key->name);
	shoal_schema_dump(check_keys, ARRAY_LEN(check_keys), hc, out, indent + 2);
	fprintf(out, "%*s};\n", indent, "");
}

static void release_check(const struct shoal_conf_key *key, void *base)
{
	shoal_schema_release(check_keys, ARRAY_LEN(check_keys), check_of(base, key));
}

const struct shoal_conf_kind shoal_health_check_kind = {
	parse_check, default_check, dump_check, release_check
};
