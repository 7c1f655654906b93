#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "location.h"
#include "server.h"
#include "tls_conf.h"
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

static const char *check_acl(const char *text)
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

/* ---- listen: addresses, each followed by its flags ---- */

/* A flag more is a line more. */
static const struct {
	const char *name;
	unsigned flag;
} listen_flag_names[] = {
	{ "proxy_protocol", SHOAL_LISTEN_PROXY_PROTOCOL },
	{ "tls", SHOAL_LISTEN_TLS },
};

/* The flag called word[0..len), or 0. */
static unsigned listen_flag(const char *word, size_t len)
{
	for (size_t i = 0; i < ARRAY_LEN(listen_flag_names); i++)
		if (strlen(listen_flag_names[i].name) == len &&
		    memcmp(listen_flag_names[i].name, word, len) == 0)
			return listen_flag_names[i].flag;
	return 0;
}

/* Reads the words of p, separated by blanks, as flags into *flags. */
static int read_listen_flags(const struct shoal_conf_key *key, const config_setting_t *e, int i,
			     const char *p, unsigned *flags, const struct shoal_conf_ctx *ctx)
{
	char known[128] = "";
	size_t used = 0;

	for (size_t f = 0; f < ARRAY_LEN(listen_flag_names) && used < sizeof(known); f++)
		used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", f ? ", " : "",
					 listen_flag_names[f].name);
	while (*(p += strspn(p, " \t"))) {
		size_t len = strcspn(p, " \t");
		unsigned flag = listen_flag(p, len);

		if (!flag)
			return shoal_schema_fail(ctx, e, key->name, i,
						 "unknown flag '%.*s' (the flags are: %s)", (int)len, p,
						 known);
		if (*flags & flag)
			return shoal_schema_fail(ctx, e, key->name, i, "flag '%.*s' is given twice",
						 (int)len, p);
		*flags |= flag;
		p += len;
	}
	return 0;
}

/* "ADDRESS [FLAG ...]": element i of a server's listen, e. */
static int read_listen(const struct shoal_conf_key *key, const config_setting_t *e, int i,
		       struct shoal_server_conf *srv, const struct shoal_conf_ctx *ctx)
{
	const char *text = config_setting_get_string(e);
	size_t len = strcspn(text, " \t");
	char addr[128];
	struct shoal_err why;

	if (len >= sizeof(addr))
		return shoal_schema_fail(ctx, e, key->name, i, "'%.*s' is not an address", (int)len,
					 text);
	memcpy(addr, text, len);
	addr[len] = '\0';
	if (shoal_addr_parse(addr, &srv->listen[i], &why) < 0)
		return shoal_schema_fail(ctx, e, key->name, i, "%s", why.msg);
	for (int j = 0; j < i; j++)
		if (shoal_addr_equal(&srv->listen[j], &srv->listen[i]))
			return shoal_schema_fail(ctx, e, key->name, i,
						 "'%s' is listed twice (also at index %d)", addr, j);
	return read_listen_flags(key, e, i, text + len, &srv->listen_flags[i], ctx);
}

static int parse_listen(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
			struct shoal_conf_ctx *ctx)
{
	struct shoal_server_conf *srv = base;
	int n = shoal_schema_check_strings(key, s, ctx);

	if (n <= 0)
		return n;
	srv->listen = calloc((size_t)n, sizeof(*srv->listen));
	srv->listen_flags = calloc((size_t)n, sizeof(*srv->listen_flags));
	if (!srv->listen || !srv->listen_flags)
		return shoal_schema_fail(ctx, s, key->name, -1, "out of memory");
	for (int i = 0; i < n; i++) {
		if (read_listen(key, config_setting_get_elem(s, (unsigned int)i), i, srv, ctx) < 0)
			return -1;
		srv->nlisten++;
	}
	return 0;
}

static void dump_listen(const struct shoal_conf_key *key, const void *base, FILE *out,
			int indent)
{
	const struct shoal_server_conf *srv = base;

	fprintf(out, "%*s%s = [", indent, "", key->name);
	for (size_t i = 0; i < srv->nlisten; i++) {
		char text[256];
		size_t len = (size_t)snprintf(text, sizeof(text), "%s", srv->listen[i].text);

		for (size_t f = 0; f < ARRAY_LEN(listen_flag_names) && len < sizeof(text); f++)
			if (srv->listen_flags[i] & listen_flag_names[f].flag)
				len += (size_t)snprintf(text + len, sizeof(text) - len, " %s",
							listen_flag_names[f].name);
		fputs(i ? ", " : " ", out);
		shoal_schema_put_string(out, text);
	}
	fputs(" ];\n", out);
}

static void release_listen(const struct shoal_conf_key *key, void *base)
{
	struct shoal_server_conf *srv = base;

	(void)key;
	free(srv->listen);
	free(srv->listen_flags);
	srv->listen = NULL;
	srv->listen_flags = NULL;
	srv->nlisten = 0;
}

/* Required: no default. */
static const struct shoal_conf_kind kind_listen = {
	parse_listen, NULL, dump_listen, release_listen
};

/* ---- the schema of a server group ---- */

#define SERVER_KEY(f, k, ...) \
	{ .name = #f, .kind = &(k), .offset = offsetof(struct shoal_server_conf, f), __VA_ARGS__ }

static const struct shoal_conf_key server_keys[] = {
	SERVER_KEY(listen, kind_listen, .min = 1, .required = true),
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
	SERVER_KEY(locations, shoal_schema_groups,
		   .count_offset = offsetof(struct shoal_server_conf, nlocations),
		   .section = &shoal_location_section),
	SERVER_KEY(proxy_protocol_from, shoal_schema_names,
		   .count_offset = offsetof(struct shoal_server_conf, nproxy_protocol_from),
		   .check = check_acl),
	SERVER_KEY(real_ip_from, shoal_schema_names,
		   .count_offset = offsetof(struct shoal_server_conf, nreal_ip_from),
		   .check = check_acl),
	SERVER_KEY(real_ip_header, shoal_schema_string, .def_str = "X-Forwarded-For",
		   .check = check_real_ip_header),
	SERVER_KEY(tls, shoal_tls_conf_server, .required = false),
	SERVER_KEY(https_redirect, shoal_schema_bool, .def_int = 0),
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

/* Whether list b[0..nb) names the network entry x stands for. */
static bool acl_lists_entry(char *const *b, size_t nb, const struct shoal_acl_entry *x)
{
	struct shoal_acl_entry y;

	for (size_t i = 0; i < nb; i++)
		if (shoal_acl_parse(b[i], &y) == 0 && y.family == x->family &&
		    y.prefix == x->prefix && shoal_acl_allows(&y, 1, x->family, x->addr))
			return true;
	return false;
}

/* Whether the two lists name the same networks, however written and in whatever order. */
static bool same_proxy_protocol_from(const struct shoal_server_conf *a,
				     const struct shoal_server_conf *b)
{
	const struct shoal_server_conf *pair[2][2] = { { a, b }, { b, a } };
	struct shoal_acl_entry x;

	for (size_t p = 0; p < 2; p++)
		for (size_t i = 0; i < pair[p][0]->nproxy_protocol_from; i++)
			if (shoal_acl_parse(pair[p][0]->proxy_protocol_from[i], &x) < 0 ||
			    !acl_lists_entry(pair[p][1]->proxy_protocol_from,
					     pair[p][1]->nproxy_protocol_from, &x))
				return false;
	return true;
}

/* The first server before servers[i] that listens on addr, or -1; *at: its index there. */
static long earlier_listener(const struct shoal_server_conf *servers, size_t i,
			     const struct shoal_addr *addr, size_t *at)
{
	for (size_t j = 0; j < i; j++)
		for (*at = 0; *at < servers[j].nlisten; (*at)++)
			if (shoal_addr_equal(&servers[j].listen[*at], addr))
				return (long)j;
	return -1;
}

/* Listen address k of servers[i] (its group e): a proxy_protocol address knows whom to
 * trust, and every server on an address begins its connections the same way, since the
 * Host that picks the server comes after the PROXY protocol header. Errors are reported
 * with ctx->where set to the server. */
static int check_listen_address(const struct shoal_server_conf *servers, size_t i, size_t k,
				const config_setting_t *e, const struct shoal_conf_ctx *ctx)
{
	const struct shoal_server_conf *s = &servers[i];
	const config_setting_t *listen = config_setting_get_member(e, "listen");
	const config_setting_t *at = config_setting_get_elem(listen, (unsigned int)k);
	bool proxy = s->listen_flags[k] & SHOAL_LISTEN_PROXY_PROTOCOL;
	size_t m;
	long j;

	if (proxy && !s->nproxy_protocol_from)
		return shoal_schema_fail(ctx, at, "listen", (int)k,
					 "proxy_protocol needs proxy_protocol_from: the load "
					 "balancers that may send the header");
	j = earlier_listener(servers, i, &s->listen[k], &m);
	if (j < 0)
		return 0;
	if (servers[j].listen_flags[m] != s->listen_flags[k])
		return shoal_schema_fail(ctx, at, "listen", (int)k,
					 "%s has other flags in servers[%ld]; servers that share "
					 "an address must give it the same flags",
					 s->listen[k].text, j);
	if (proxy && !same_proxy_protocol_from(s, &servers[j]))
		return shoal_schema_fail(ctx, config_setting_get_member(e, "proxy_protocol_from"),
					 "proxy_protocol_from", -1,
					 "differs from that of servers[%ld], which shares the "
					 "proxy_protocol address %s", j, s->listen[k].text);
	return 0;
}

/* proxy_protocol_from without a proxy_protocol address would trust balancers for nothing,
 * which is more likely a forgotten flag (the balancer's headers would then be taken for a
 * request and refused). */
static int check_proxy_protocol_from_used(const struct shoal_server_conf *s,
					  const config_setting_t *e,
					  const struct shoal_conf_ctx *ctx)
{
	if (!s->nproxy_protocol_from)
		return 0;
	for (size_t k = 0; k < s->nlisten; k++)
		if (s->listen_flags[k] & SHOAL_LISTEN_PROXY_PROTOCOL)
			return 0;
	return shoal_schema_fail(ctx, config_setting_get_member(e, "proxy_protocol_from"),
				 "proxy_protocol_from", -1,
				 "no address of this server has the proxy_protocol flag "
				 "(listen = [ \"*:80 proxy_protocol\" ])");
}

static int check_listen_flags(const struct shoal_conf_key *key,
			      const struct shoal_server_conf *servers, size_t n,
			      const config_setting_t *list, struct shoal_conf_ctx *ctx)
{
	size_t len = strlen(ctx->where);
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned int)i);

		snprintf(ctx->where + len, sizeof(ctx->where) - len, "%s[%zu].", key->name, i);
		for (size_t k = 0; k < servers[i].nlisten && rc == 0; k++)
			rc = check_listen_address(servers, i, k, e, ctx);
		if (rc == 0)
			rc = check_proxy_protocol_from_used(&servers[i], e, ctx);
		if (rc == 0)
			rc = shoal_tls_conf_check_server(&servers[i], e, ctx);
		ctx->where[len] = '\0';
	}
	return rc;
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
	if (check_default_servers(key, servers, n, list, ctx) < 0)
		return -1;
	return check_listen_flags(key, servers, n, list, ctx);
}

const struct shoal_conf_section shoal_server_section = {
	server_keys, ARRAY_LEN(server_keys), sizeof(struct shoal_server_conf), finish_servers
};
