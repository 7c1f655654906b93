#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limit_zones.h"
#include "location.h"
#include "upstream.h"
#include "shoal/base/util.h"
#include "shoal/config/config.h"

/* ---- checks of single values ---- */

/* Request paths are matched once normalised, so a location with "//", "." or ".." segments
 * could never match: refused rather than left dead. */
static const char *check_location_path(const char *path)
{
	const char *p;
	size_t len;

	if (path[0] != '/')
		return "must start with '/'";
	for (p = path; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#')
			return "must be a path without query, fragment, spaces or control characters";
	/* Each turn starts at the '/' before a segment. */
	for (p = path; *p == '/'; p += len) {
		p++;
		len = strcspn(p, "/");
		if ((len == 0 && *p == '/') || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return "must be a normalised path: no \"//\", \".\" or \"..\" segments";
	}
	return NULL;
}

/* It is sent as the Host header: a host, an IP literal, an optional port, nothing else. */
static const char *check_proxy_host(const char *host)
{
	for (const char *p = host; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("-._:[]", *p)))
			return "must be a host name or address with an optional port, "
			       "such as \"app.internal:8080\"";
	return NULL;
}

/* ---- booleans of a location that forwards ---- */

/* A static location may not set them (see check_handler), so its dump leaves them out to
 * stay loadable. */
static int parse_proxy_bool(const struct shoal_conf_key *key, const config_setting_t *s,
			    void *base, struct shoal_conf_ctx *ctx)
{
	return shoal_schema_bool.parse(key, s, base, ctx);
}

static int default_proxy_bool(const struct shoal_conf_key *key, void *base,
			      struct shoal_conf_ctx *ctx)
{
	return shoal_schema_bool.set_default(key, base, ctx);
}

static void dump_proxy_bool(const struct shoal_conf_key *key, const void *base, FILE *out,
			    int indent)
{
	const struct shoal_location_conf *loc = base;

	if (loc->proxy)
		shoal_schema_bool.dump(key, base, out, indent);
}

static const struct shoal_conf_kind kind_proxy_bool = {
	parse_proxy_bool, default_proxy_bool, dump_proxy_bool, NULL
};

/* ---- limit: the names of zones ---- */

static int parse_limit(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
		       struct shoal_conf_ctx *ctx)
{
	const struct shoal_location_conf *loc = base;

	if (shoal_schema_names.parse(key, s, base, ctx) < 0)
		return -1;
	for (size_t i = 0; i < loc->nlimit; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(loc->limit[j], loc->limit[i]) == 0)
				return shoal_schema_fail(ctx,
							 config_setting_get_elem(s, (unsigned)i),
							 key->name, (int)i,
							 "\"%s\" is listed twice (also at index %zu)",
							 loc->limit[i], j);
	return 0;
}

static int default_limit(const struct shoal_conf_key *key, void *base,
			 struct shoal_conf_ctx *ctx)
{
	return shoal_schema_names.set_default(key, base, ctx);
}

static void dump_limit(const struct shoal_conf_key *key, const void *base, FILE *out, int indent)
{
	shoal_schema_names.dump(key, base, out, indent);
}

/* The indexes are filled once the whole file is read (shoal_location_resolve). */
static void release_limit(const struct shoal_conf_key *key, void *base)
{
	struct shoal_location_conf *loc = base;

	free(loc->limit_zone);
	loc->limit_zone = NULL;
	shoal_schema_names.release(key, base);
}

/* Only a location's table has it: its functions take the location's struct. */
static const struct shoal_conf_kind kind_limit = {
	parse_limit, default_limit, dump_limit, release_limit
};

/* ---- the schema of a location ---- */

#define LOCATION_KEY(f, k, ...) \
	{ .name = #f, .kind = &(k), .offset = offsetof(struct shoal_location_conf, f), __VA_ARGS__ }

static const struct shoal_conf_key location_keys[] = {
	LOCATION_KEY(path, shoal_schema_string, .required = true, .check = check_location_path),
	LOCATION_KEY(proxy, shoal_schema_string, .check = shoal_upstream_check_name),
	LOCATION_KEY(root, shoal_schema_path, .def_str = NULL),
	LOCATION_KEY(proxy_host, shoal_schema_string, .check = check_proxy_host),
	LOCATION_KEY(x_forwarded, kind_proxy_bool, .def_int = 1),
	LOCATION_KEY(forwarded, kind_proxy_bool, .def_int = 0),
	LOCATION_KEY(limit, kind_limit, .count_offset = offsetof(struct shoal_location_conf, nlimit),
		     .check = shoal_upstream_check_name),
};

/* The keys that only mean something to a location that forwards. */
static const char *const proxy_only[] = { "proxy_host", "x_forwarded", "forwarded" };

/* ---- checks across a server's locations ---- */

/* Reports a problem with member (NULL: the location itself) of location i. */
static int fail_member(const struct shoal_conf_key *key, const config_setting_t *e, size_t i,
		       const char *member, const char *msg, const struct shoal_conf_ctx *ctx)
{
	const config_setting_t *s = member ? config_setting_get_member(e, member) : e;
	char name[64];

	snprintf(name, sizeof(name), "%s[%zu]%s%s", key->name, i, member ? "." : "",
		 member ? member : "");
	return shoal_schema_fail(ctx, s, name, -1, "%s", msg);
}

/* A location either forwards or serves files, and says which. */
static int check_handler(const struct shoal_conf_key *key, const struct shoal_location_conf *loc,
			 const config_setting_t *e, size_t i, const struct shoal_conf_ctx *ctx)
{
	if (loc->proxy && loc->root)
		return fail_member(key, e, i, "root",
				   "a location has proxy or root, not both", ctx);
	if (!loc->proxy && !loc->root)
		return fail_member(key, e, i, NULL,
				   "needs proxy (an upstream's name) or root (a directory)", ctx);
	for (size_t k = 0; !loc->proxy && k < ARRAY_LEN(proxy_only); k++)
		if (config_setting_get_member(e, proxy_only[k]))
			return fail_member(key, e, i, proxy_only[k],
					   "applies only to a location with proxy", ctx);
	return 0;
}

static int finish_locations(const struct shoal_conf_key *key, void *groups, size_t n,
			    const config_setting_t *list, struct shoal_conf_ctx *ctx)
{
	struct shoal_location_conf *locs = groups;

	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned int)i);
		const config_setting_t *root = config_setting_get_member(e, "root");
		char msg[SHOAL_ERR_MAX];

		if (check_handler(key, &locs[i], e, i, ctx) < 0)
			return -1;
		locs[i].root_line = root ? config_setting_source_line(root) : 0;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(locs[j].path, locs[i].path) != 0)
				continue;
			snprintf(msg, sizeof(msg), "'%s' is also the path of %s[%zu]", locs[i].path,
				 key->name, j);
			return fail_member(key, e, i, "path", msg, ctx);
		}
	}
	return 0;
}

const struct shoal_conf_section shoal_location_section = {
	location_keys, ARRAY_LEN(location_keys), sizeof(struct shoal_location_conf),
	finish_locations
};

/* ---- upstream and zone names, once the whole file is read ---- */

static bool find_upstream(const struct shoal_config *cfg, const char *name, size_t *index)
{
	for (size_t i = 0; i < cfg->nupstreams; i++) {
		if (strcmp(cfg->upstreams[i].name, name) == 0) {
			*index = i;
			return true;
		}
	}
	return false;
}

/* Fills the upstream and zone indexes of loc, location j of server i, read from e. */
static int resolve_location(const struct shoal_config *cfg, struct shoal_location_conf *loc,
			    const config_setting_t *e, size_t i, size_t j,
			    struct shoal_conf_ctx *ctx)
{
	const config_setting_t *limit = config_setting_get_member(e, "limit");
	char name[96];

	if (loc->proxy && !find_upstream(cfg, loc->proxy, &loc->upstream)) {
		snprintf(name, sizeof(name), "servers[%zu].locations[%zu].proxy", i, j);
		return shoal_schema_fail(ctx, config_setting_get_member(e, "proxy"), name, -1,
					 "no upstream named \"%s\"", loc->proxy);
	}
	if (loc->nlimit == 0)
		return 0;
	loc->limit_zone = calloc(loc->nlimit, sizeof(*loc->limit_zone));
	snprintf(name, sizeof(name), "servers[%zu].locations[%zu].limit", i, j);
	if (!loc->limit_zone)
		return shoal_schema_fail(ctx, limit, name, -1, "out of memory");
	for (size_t k = 0; k < loc->nlimit; k++)
		if (!shoal_limit_zones_find(cfg, loc->limit[k], &loc->limit_zone[k]))
			return shoal_schema_fail(ctx, config_setting_get_elem(limit, (unsigned)k),
						 name, (int)k, "no limit zone named \"%s\"",
						 loc->limit[k]);
	return 0;
}

int shoal_location_resolve(struct shoal_config *cfg, const config_setting_t *root,
			   struct shoal_conf_ctx *ctx)
{
	const config_setting_t *servers = config_setting_get_member(root, "servers");

	for (size_t i = 0; i < cfg->nservers; i++) {
		const struct shoal_server_conf *srv = &cfg->servers[i];
		const config_setting_t *list =
			config_setting_get_member(config_setting_get_elem(servers, (unsigned)i),
						  "locations");

		for (size_t j = 0; j < srv->nlocations; j++)
			if (resolve_location(cfg, &srv->locations[j],
					     config_setting_get_elem(list, (unsigned)j), i, j,
					     ctx) < 0)
				return -1;
	}
	return 0;
}
