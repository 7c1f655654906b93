#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "location.h"
#include "server.h"
#include "shoal/base/util.h"
#include "shoal/config/config.h"
#include "shoal/http/real_ip.h"
#include "shoal/net/acl.h"
#include "shoal/net/addr.h"

/* ---- checks of single values ---- */

/* Index files are looked up inside the requested directory, so they must not lead out of it. */
static const char *check_file_name(const char *name)
{
	if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "must be a plain file name: no '/', not \".\" or \"..\"";
	return NULL;
}

/* "404 /errors/404.html", "500 502 503 /50x.html": status codes, then the page's path. */
static const char *check_error_page(const char *text)
{
	const char *p = text;
	int codes = 0;

	while (*p >= '0' && *p <= '9') {
		char *end;
		long code = strtol(p, &end, 10);
		if (code < 400 || code > 599 || *end != ' ')
			return "must be status codes from 400 to 599, then a path, as in \"404 /404.html\"";
		codes++;
		for (p = end; *p == ' '; p++)
			;
	}
	if (!codes || *p != '/' || strpbrk(p, " ?#"))
		return "must be status codes from 400 to 599, then a path, as in \"404 /404.html\"";
	return NULL;
}

/* A host name as it may appear in Host, or "*." followed by one (a leading wildcard). */
static const char *check_host_name(const char *name)
{
	const char *p = strncmp(name, "*.", 2) == 0 ? name + 2 : name;

	if (!*p)
		return "must be a host name such as \"example.com\" or \"*.example.com\"";
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return "must be a host name such as \"example.com\" or \"*.example.com\"";
	return NULL;
}

static const char *check_real_ip_from(const char *text)
{
	struct shoal_acl_entry entry;

	if (shoal_acl_parse(text, &entry) < 0)
		return "must be an address or a network such as \"10.0.0.0/8\" or \"::1\"";
	return NULL;
}

static const char *check_real_ip_header(const char *text)
{
	enum shoal_http_real_ip_header header;

	if (!shoal_http_real_ip_header_parse(text, &header))
		return "must be \"X-Forwarded-For\" or \"Forwarded\"";
	return NULL;
}

/* ---- the schema of a server group ---- */

#define SERVER_KEY(f, k, ...) \
	{ .name = #f, .kind = &(k), .offset = offsetof(struct shoal_server_conf, f), __VA_ARGS__ }

static const struct shoal_conf_key server_keys[] = {
	SERVER_KEY(listen, shoal_schema_addrs,
		   .count_offset = offsetof(struct shoal_server_conf, nlisten), .min = 1,
		   .required = true),
	SERVER_KEY(backlog, shoal_schema_int, .min = 1, .max = 65535, .def_int = 4096),
	SERVER_KEY(root, shoal_schema_path, .required = true),
	SERVER_KEY(index, shoal_schema_names,
		   .count_offset = offsetof(struct shoal_server_conf, nindex),
		   .def_str = "index.html", .check = check_file_name),
	SERVER_KEY(server_names, shoal_schema_names,
		   .count_offset = offsetof(struct shoal_server_conf, nserver_names),
		   .check = check_host_name),
	SERVER_KEY(default_server, shoal_schema_bool, .def_int = 0),
	SERVER_KEY(error_pages, shoal_schema_names,
		   .count_offset = offsetof(struct shoal_server_conf, nerror_pages),
		   .check = check_error_page),
	SERVER_KEY(follow_symlinks, shoal_schema_bool, .def_int = 1),
	SERVER_KEY(autoindex, shoal_schema_bool, .def_int = 0),
	SERVER_KEY(real_ip_from, shoal_schema_names,
		   .count_offset = offsetof(struct shoal_server_conf, nreal_ip_from),
		   .check = check_real_ip_from),
	SERVER_KEY(real_ip_header, shoal_schema_string, .def_str = "X-Forwarded-For",
		   .check = check_real_ip_header),
	SERVER_KEY(locations, shoal_schema_groups,
		   .count_offset = offsetof(struct shoal_server_conf, nlocations),
		   .section = &shoal_location_section),
};

/* ---- checks across servers ---- */

static bool shares_addr(const struct shoal_server_conf *a, const struct shoal_server_conf *b)
{
	for (size_t i = 0; i < a->nlisten; i++)
		for (size_t j = 0; j < b->nlisten; j++)
			if (shoal_addr_equal(&a->listen[i], &b->listen[j]))
				return true;
	return false;
}

/* Two defaults for one address would leave the choice to the order of the file. */
static int check_default_servers(const struct shoal_conf_key *key,
				 const struct shoal_server_conf *servers, size_t n,
				 const config_setting_t *list, const struct shoal_conf_ctx *ctx)
{
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned int)i);

		for (size_t j = 0; j < i; j++) {
			if (!servers[j].default_server || !servers[i].default_server ||
			    !shares_addr(&servers[j], &servers[i]))
				continue;
			return shoal_schema_fail(ctx, e, key->name, (int)i,
						 "default_server: %s[%zu] is already the default "
						 "for an address this server listens on",
						 key->name, j);
		}
	}
	return 0;
}

static int finish_servers(const struct shoal_conf_key *key, void *groups, size_t n,
			  const config_setting_t *list, struct shoal_conf_ctx *ctx)
{
	struct shoal_server_conf *servers = groups;

	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned int)i);
		const config_setting_t *root = config_setting_get_member(e, "root");

		servers[i].root_line = config_setting_source_line(root);
	}
	return check_default_servers(key, servers, n, list, ctx);
}

const struct shoal_conf_section shoal_server_section = {
	server_keys, ARRAY_LEN(server_keys), sizeof(struct shoal_server_conf), finish_servers
};
