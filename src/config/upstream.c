#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "health_check.h"
#include "resolve.h"
#include "upstream.h"
#include "shoal/base/util.h"
#include "shoal/config/config.h"
#include "shoal/net/addr.h"
#include "shoal/tls/context.h"

/* ---- an upstream server's address: numeric, or a name with resolve; one that can be
 * connected to ---- */

static bool is_wildcard(const struct shoal_addr *addr)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)&addr->ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)&addr->ss;

	if (addr->ss.ss_family == AF_INET)
		return sin->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

/* A name is looked up now: its addresses at load stand in until the checker looks again. */
static int parse_name(const struct shoal_conf_key *key, const config_setting_t *s,
		      struct shoal_upstream_server_conf *peer, const char *text,
		      struct shoal_conf_ctx *ctx)
{
	struct shoal_err why;

	if (shoal_resolve_name(text, &peer->resolved, &peer->nresolved, &why) < 0)
		return shoal_schema_fail(ctx, s, key->name, -1, "%s", why.msg);
	peer->host = strdup(text);
	if (!peer->host)
		return shoal_schema_fail(ctx, s, key->name, -1, "out of memory");
	peer->address = peer->resolved[0];
	return 0;
}

/* The struct is the server's: resolve, read before, says whether a name may stand here. */
static int parse_address(const struct shoal_conf_key *key, const config_setting_t *s,
			 void *base, struct shoal_conf_ctx *ctx)
{
	struct shoal_upstream_server_conf *peer = base;
	struct shoal_err why;
	const char *text = NULL;

	if (shoal_schema_get_string(key, s, ctx, &text) < 0)
		return -1;
	if (shoal_addr_parse(text, &peer->address, &why) < 0) {
		bool name = shoal_resolve_is_name(text);
		if (peer->resolve && name)
			return parse_name(key, s, peer, text, ctx);
		if (peer->resolve)
			return shoal_schema_fail(ctx, s, key->name, -1,
						 "'%s' must be IPv4:PORT, [IPv6]:PORT or NAME:PORT, "
						 "with a port from 1 to 65535", text);
		return shoal_schema_fail(ctx, s, key->name, -1, "%s%s", why.msg,
					 name ? " (a host name needs resolve = true)" : "");
	}
	/* Connecting to 0.0.0.0 or :: reaches this host by accident of the kernel: a listen
	 * address copied here by mistake, not a server. */
	if (is_wildcard(&peer->address))
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "'%s' is a wildcard: name the server's own address, "
					 "such as \"127.0.0.1:9001\"",
					 text);
	return 0;
}

static void dump_address(const struct shoal_conf_key *key, const void *base, FILE *out,
			 int indent)
{
	fprintf(out, "%*s%s = ", indent, "", key->name);
	shoal_schema_put_string(out, shoal_config_server_label(base));
	fputs(";\n", out);
}

static void release_address(const struct shoal_conf_key *key, void *base)
{
	struct shoal_upstream_server_conf *peer = base;

	(void)key;
	free(peer->host);
	free(peer->resolved);
	peer->host = NULL;
	peer->resolved = NULL;
	peer->nresolved = 0;
}

/* Required, so it has no default. Only a server's table has it: its functions take the
 * server's struct, whatever the key's offset. */
static const struct shoal_conf_kind kind_address = {
	parse_address, NULL, dump_address, release_address
};

/* ---- the servers of a group ---- */

#define PEER_KEY(f, k, ...)                                                                    \
	{ .name = #f, .kind = &(k), .offset = offsetof(struct shoal_upstream_server_conf, f),   \
	  __VA_ARGS__ }

/* resolve before address, which reads it. */
static const struct shoal_conf_key peer_keys[] = {
	PEER_KEY(resolve, shoal_schema_bool, .def_int = 0),
	PEER_KEY(address, kind_address, .required = true),
	PEER_KEY(weight, shoal_schema_int, .min = 1, .max = 1000, .def_int = 1),
	PEER_KEY(backup, shoal_schema_bool, .def_int = 0),
	PEER_KEY(down, shoal_schema_bool, .def_int = 0),
	PEER_KEY(max_conns, shoal_schema_int, .min = 0, .max = 1000000, .def_int = 0),
};

/* Names are compared as written: two names of one address are two servers, each with its
 * stats and state, as their addresses may part. */
static bool same_peer(const struct shoal_upstream_server_conf *a,
		      const struct shoal_upstream_server_conf *b)
{
	if (a->host || b->host)
		return strcmp(shoal_config_server_label(a), shoal_config_server_label(b)) == 0;
	return shoal_addr_equal(&a->address, &b->address);
}

/* One server twice would count its stats twice under one label; weight says "more often".
 * Backups stand in for primaries: a group of backups alone has nothing to stand in for, and
 * is a mistake (down, by contrast, is how a group is emptied on purpose). */
static int finish_peers(const struct shoal_conf_key *key, void *groups, size_t n,
			const config_setting_t *list, struct shoal_conf_ctx *ctx)
{
	const struct shoal_upstream_server_conf *peers = groups;
	size_t backups = 0;

	for (size_t i = 0; i < n; i++)
		backups += peers[i].backup;
	if (backups == n)
		return shoal_schema_fail(ctx, list, key->name, -1,
					 "a group needs at least one server that is not backup");
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned int)i);
		char name[64];

		for (size_t j = 0; j < i; j++) {
			if (!same_peer(&peers[j], &peers[i]))
				continue;
			snprintf(name, sizeof(name), "%s[%zu].address", key->name, i);
			return shoal_schema_fail(ctx, config_setting_get_member(e, "address"), name,
						 -1, "'%s' is listed twice (also at %s[%zu])",
						 shoal_config_server_label(&peers[i]), key->name, j);
		}
	}
	return 0;
}

static const struct shoal_conf_section peer_section = {
	peer_keys, ARRAY_LEN(peer_keys), sizeof(struct shoal_upstream_server_conf), finish_peers
};

/* ---- send_proxy_protocol: "v1" or "v2", unset for none ---- */

static int parse_send_proxy(const struct shoal_conf_key *key, const config_setting_t *s,
			    void *base, struct shoal_conf_ctx *ctx)
{
	struct shoal_upstream_conf *up = base;
	const char *text = NULL;

	if (shoal_schema_get_string(key, s, ctx, &text) < 0)
		return -1;
	if (strcmp(text, "v1") != 0 && strcmp(text, "v2") != 0)
		return shoal_schema_fail(ctx, s, key->name, -1, "must be one of v1, v2");
	up->send_proxy_protocol = text[1] - '0';
	return 0;
}

static int default_send_proxy(const struct shoal_conf_key *key, void *base,
			      struct shoal_conf_ctx *ctx)
{
	struct shoal_upstream_conf *up = base;

	(void)key;
	(void)ctx;
	up->send_proxy_protocol = 0;
	return 0;
}

static void dump_send_proxy(const struct shoal_conf_key *key, const void *base, FILE *out,
			    int indent)
{
	const struct shoal_upstream_conf *up = base;

	if (!up->send_proxy_protocol)
		fprintf(out, "%*s# %s is unset\n", indent, "", key->name);
	else
		fprintf(out, "%*s%s = \"v%d\";\n", indent, "", key->name, up->send_proxy_protocol);
}

static const struct shoal_conf_kind kind_send_proxy = {
	parse_send_proxy, default_send_proxy, dump_send_proxy, NULL
};

/* ---- tls ---- */

/* What SNI may carry and a certificate may name: a host name, or an address (verified as one,
 * and not sent). */
static const char *check_server_name(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1)
		return NULL;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return "must be a host name or an IP address, without a port";
	if (name[0] == '.' || name[0] == '-')
		return "must be a host name or an IP address, without a port";
	return NULL;
}

/* Keys that mean nothing without tls: set alone, they would only seem to work. */
static const char *const tls_only[] = { "tls_ca", "tls_server_name", "tls_verify" };

/* The CA file is loaded as the master will load it for the workers, so that one that cannot
 * be read or holds no certificate fails here, at its line, and with shoal -t. */
static int check_tls(const struct shoal_conf_key *key, const struct shoal_upstream_conf *up,
		     const config_setting_t *e, size_t i, const struct shoal_conf_ctx *ctx)
{
	const config_setting_t *s;
	struct ssl_ctx_st *client;
	struct shoal_err why;
	char name[64];
	FILE *f;

	for (size_t k = 0; !up->tls && k < ARRAY_LEN(tls_only); k++) {
		s = config_setting_get_member(e, tls_only[k]);
		/* tls_verify = true is the default, which the dump writes for every group. */
		if (!s || (strcmp(tls_only[k], "tls_verify") == 0 && up->tls_verify))
			continue;
		snprintf(name, sizeof(name), "%s[%zu].%s", key->name, i, tls_only[k]);
		return shoal_schema_fail(ctx, s, name, -1, "applies only to a group with tls = true");
	}
	if (!up->tls || !up->tls_ca)
		return 0;
	s = config_setting_get_member(e, "tls_ca");
	snprintf(name, sizeof(name), "%s[%zu].tls_ca", key->name, i);
	if (!(f = fopen(up->tls_ca, "r")))
		return shoal_schema_fail(ctx, s, name, -1, "cannot read %s: %s", up->tls_ca,
					 strerror(errno));
	fclose(f);
	if (!(client = shoal_tls_context_client(up->tls_ca, &why)))
		return shoal_schema_fail(ctx, s, name, -1, "%s", why.msg);
	shoal_tls_context_free(client);
	return 0;
}

/* ---- the keys of a group ---- */

/* Names appear in logs, in shoalctl's table and as Prometheus label values. */
const char *shoal_upstream_check_name(const char *name)
{
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return "must be letters, digits, '_', '.' and '-' only";
	return NULL;
}

#define UPSTREAM_KEY(f, k, ...) \
	{ .name = #f, .kind = &(k), .offset = offsetof(struct shoal_upstream_conf, f), __VA_ARGS__ }
#define TIMEOUT_KEY(f, max_s, def_s)                                                      \
	{ .name = #f, .kind = &shoal_schema_duration,                                      \
	  .offset = offsetof(struct shoal_upstream_conf, f##_ms), .min = 1,                \
	  .max = (max_s) * 1000LL, .def_int = (def_s) * 1000LL }
#define POLICY_KEY(f, k, ...)                                                              \
	{ .name = #f, .kind = &(k), .offset = offsetof(struct shoal_upstream_conf, policy.f), \
	  __VA_ARGS__ }
/* A key whose kind needs nothing more of the table. */
#define POLICY_KIND(f, k) \
	{ .name = #f, .kind = &(k), .offset = offsetof(struct shoal_upstream_conf, policy.f) }
/* Seconds from min_ms milliseconds to 3600, kept in policy.f_ms. */
#define POLICY_SECONDS(f, min_ms, def_ms)                                                  \
	{ .name = #f, .kind = &shoal_schema_duration,                                      \
	  .offset = offsetof(struct shoal_upstream_conf, policy.f##_ms), .min = (min_ms),  \
	  .max = 3600 * 1000LL, .def_int = (def_ms) }

static const struct shoal_conf_key upstream_keys[] = {
	UPSTREAM_KEY(name, shoal_schema_string, .required = true, .check = shoal_upstream_check_name),
	UPSTREAM_KEY(servers, shoal_schema_groups,
		     .count_offset = offsetof(struct shoal_upstream_conf, nservers), .min = 1,
		     .required = true, .section = &peer_section),
	{ .name = "resolve_interval", .kind = &shoal_schema_duration,
	  .offset = offsetof(struct shoal_upstream_conf, resolve_interval_ms), .min = 1000,
	  .max = 3600 * 1000LL, .def_int = 10000 },
	{ .name = "send_proxy_protocol", .kind = &kind_send_proxy,
	  .offset = offsetof(struct shoal_upstream_conf, send_proxy_protocol) },
	UPSTREAM_KEY(tls, shoal_schema_bool, .def_int = 0),
	UPSTREAM_KEY(tls_ca, shoal_schema_path, .def_str = NULL),
	UPSTREAM_KEY(tls_server_name, shoal_schema_string, .check = check_server_name),
	UPSTREAM_KEY(tls_verify, shoal_schema_bool, .def_int = 1),
	UPSTREAM_KEY(keepalive, shoal_schema_int, .min = 0, .max = 10000, .def_int = 32),
	UPSTREAM_KEY(queue, shoal_schema_int, .min = 0, .max = 1000000, .def_int = 0),
	TIMEOUT_KEY(queue_timeout, 3600, 5),
	TIMEOUT_KEY(connect_timeout, 3600, 5),
	TIMEOUT_KEY(send_timeout, 3600, 60),
	TIMEOUT_KEY(read_timeout, 3600, 60),
	TIMEOUT_KEY(tunnel_timeout, 86400, 3600),
	/* balance before the keys whose kinds check it. */
	POLICY_KIND(balance, shoal_balance_algorithm),
	POLICY_KIND(hash_key, shoal_balance_hash_key),
	POLICY_KEY(hash_balance_factor, shoal_balance_hash_factor, .min = 101, .max = 10000,
		   .def_int = 0),
	POLICY_KEY(max_fails, shoal_schema_int, .min = 0, .max = 1000, .def_int = 1),
	POLICY_SECONDS(fail_timeout, 1, 10000),
	POLICY_KEY(max_ejection_percent, shoal_schema_int, .min = 0, .max = 100, .def_int = 50),
	POLICY_KEY(fail_status, shoal_balance_statuses,
		   .count_offset = offsetof(struct shoal_upstream_conf, policy.nfail_status),
		   .min = 500, .max = 599),
	POLICY_KEY(panic_threshold, shoal_schema_int, .min = 0, .max = 100, .def_int = 0),
	POLICY_SECONDS(slow_start, 0, 0),
	/* 16 tries at most, SHOAL_UPSTREAM_TRIES_MAX of the upstream layer. */
	POLICY_KEY(retries, shoal_schema_int, .min = 0, .max = 15, .def_int = 2),
	POLICY_SECONDS(retry_timeout, 0, 0),
	POLICY_KEY(retry_non_idempotent, shoal_schema_bool, .def_int = 0),
	POLICY_SECONDS(stall_timeout, 0, 0),
	{ .name = "health_check", .kind = &shoal_health_check_kind,
	  .offset = offsetof(struct shoal_upstream_conf, health_check) },
};

/* ---- checks across groups ---- */

/* A request waits in the queue for a server below its max_conns: with no bound anywhere,
 * nothing would ever wait, and the key would only seem to work. */
static int check_queue(const struct shoal_conf_key *key, const struct shoal_upstream_conf *up,
		       const config_setting_t *e, size_t i, const struct shoal_conf_ctx *ctx)
{
	char name[64];

	if (up->queue == 0)
		return 0;
	for (size_t k = 0; k < up->nservers; k++)
		if (up->servers[k].max_conns > 0)
			return 0;
	snprintf(name, sizeof(name), "%s[%zu].queue", key->name, i);
	return shoal_schema_fail(ctx, config_setting_get_member(e, "queue"), name, -1,
				 "queue needs max_conns on a server of the group");
}

/* Locations name their group: two of one name would leave the choice to the file's order. */
static int finish_upstreams(const struct shoal_conf_key *key, void *groups, size_t n,
			    const config_setting_t *list, struct shoal_conf_ctx *ctx)
{
	const struct shoal_upstream_conf *ups = groups;

	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned int)i);
		char name[64];

		if (check_queue(key, &ups[i], e, i, ctx) < 0 || check_tls(key, &ups[i], e, i, ctx) < 0)
			return -1;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(ups[j].name, ups[i].name) != 0)
				continue;
			snprintf(name, sizeof(name), "%s[%zu].name", key->name, i);
			return shoal_schema_fail(ctx, config_setting_get_member(e, "name"), name, -1,
						 "\"%s\" is already the name of %s[%zu]",
						 ups[i].name, key->name, j);
		}
	}
	return 0;
}

const struct shoal_conf_section shoal_upstream_section = {
	upstream_keys, ARRAY_LEN(upstream_keys), sizeof(struct shoal_upstream_conf),
	finish_upstreams
};
