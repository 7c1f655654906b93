/* What the configuration tests share: a temporary directory the files are written into, the
 * check that a file fails to load with the expected file:line: key: message, and the
 * comparison of a configuration with its dump loaded again. */
#ifndef SHOAL_TESTS_CONFIG_FIXTURE_H
#define SHOAL_TESTS_CONFIG_FIXTURE_H

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shoal/config/config.h"

#define MIN_SERVERS "servers = ({ listen = [\"127.0.0.1:8080\"]; root = \"www\"; });\n"
#define SERVER(body) "servers = (\n  { listen = [\"127.0.0.1:8080\"]; root = \"www\";\n" body "\n  }\n);\n"

static char tmpdir[PATH_MAX];
static char saved_cwd[PATH_MAX];

static inline void setup(void)
{
	char tmpl[] = "/tmp/shoal-test-config-XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	/* Paths in the config come out absolute and symlink-free, so compare against the same. */
	ck_assert_ptr_nonnull(realpath(tmpl, tmpdir));
	ck_assert_ptr_nonnull(getcwd(saved_cwd, sizeof(saved_cwd)));
}

static inline int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void teardown(void)
{
	ck_assert_int_eq(chdir(saved_cwd), 0);
	nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Formats tmpdir/rel into out. */
static inline void tmp_path(char *out, size_t size, const char *rel)
{
	int n = snprintf(out, size, "%s/%s", tmpdir, rel);

	ck_assert(n > 0 && (size_t)n < size);
}

/* Writes text to tmpdir/rel, creating one level of subdirectory if rel has one. */
static inline void write_conf(char *path, size_t size, const char *rel, const char *text)
{
	const char *slash = strchr(rel, '/');
	FILE *f;

	if (slash) {
		char dir[PATH_MAX];

		tmp_path(dir, sizeof(dir), rel);
		dir[strlen(tmpdir) + 1 + (size_t)(slash - rel)] = '\0';
		ck_assert(mkdir(dir, 0700) == 0 || errno == EEXIST);
	}
	tmp_path(path, size, rel);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

static inline void expect_str(const char *got, const char *rel_to_tmp)
{
	char want[PATH_MAX];

	tmp_path(want, sizeof(want), rel_to_tmp);
	ck_assert_str_eq(got, want);
}

/* A file that must not load, and how its error must read. */
struct error_case {
	const char *text;
	unsigned int line; /* 0: the message has no line */
	const char *key;   /* "": the message names no key */
	const char *what;
};

/* Loads c->text, which must fail with c's message and leave nothing to free; i names the case
 * in the failure messages. */
static inline void expect_load_error(const struct error_case *c, int i)
{
	char path[PATH_MAX], prefix[PATH_MAX + 32], key[128];
	struct shoal_config cfg;
	struct shoal_err err = { "" };

	write_conf(path, sizeof(path), "bad.conf", c->text);
	memset(&cfg, 0x5a, sizeof(cfg));
	ck_assert_int_eq(shoal_config_load(&cfg, path, &err), -1);
	if (c->line)
		snprintf(prefix, sizeof(prefix), "%s:%u: ", path, c->line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", path);
	ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0, "case %d: '%s' does not start with '%s'",
		      i, err.msg, prefix);
	snprintf(key, sizeof(key), "%s: ", c->key);
	ck_assert_msg(!c->key[0] || strncmp(err.msg + strlen(prefix), key, strlen(key)) == 0,
		      "case %d: '%s' does not name the key %s", i, err.msg, c->key);
	ck_assert_msg(strstr(err.msg, c->what), "case %d: '%s' lacks '%s'", i, err.msg, c->what);
	ck_assert_ptr_null(strchr(err.msg, '\n'));
	/* Nothing may be left to free (LeakSanitizer checks that nothing leaked). */
	ck_assert_ptr_null(cfg.path);
	ck_assert_ptr_null(cfg.servers);
	ck_assert_uint_eq(cfg.nservers, 0);
	ck_assert_ptr_null(cfg.upstreams);
	ck_assert_uint_eq(cfg.nupstreams, 0);
	shoal_config_free(&cfg);
}

static inline void assert_same_server(const struct shoal_server_conf *a, const struct shoal_server_conf *b)
{
	ck_assert_uint_eq(a->nlisten, b->nlisten);
	for (size_t i = 0; i < a->nlisten; i++) {
		ck_assert(shoal_addr_equal(&a->listen[i], &b->listen[i]));
		ck_assert_str_eq(a->listen[i].text, b->listen[i].text);
		ck_assert_uint_eq(a->listen_flags[i], b->listen_flags[i]);
	}
	ck_assert_uint_eq(a->nproxy_protocol_from, b->nproxy_protocol_from);
	for (size_t i = 0; i < a->nproxy_protocol_from; i++)
		ck_assert_str_eq(a->proxy_protocol_from[i], b->proxy_protocol_from[i]);
	ck_assert_int_eq(a->backlog, b->backlog);
	ck_assert_str_eq(a->root, b->root);
	ck_assert_uint_eq(a->nindex, b->nindex);
	for (size_t i = 0; i < a->nindex; i++)
		ck_assert_str_eq(a->index[i], b->index[i]);
	ck_assert_uint_eq(a->nreal_ip_from, b->nreal_ip_from);
	for (size_t i = 0; i < a->nreal_ip_from; i++)
		ck_assert_str_eq(a->real_ip_from[i], b->real_ip_from[i]);
	ck_assert_str_eq(a->real_ip_header, b->real_ip_header);
}

static inline void assert_same_locations(const struct shoal_server_conf *a,
				  const struct shoal_server_conf *b)
{
	ck_assert_uint_eq(a->nlocations, b->nlocations);
	for (size_t i = 0; i < a->nlocations; i++) {
		const struct shoal_location_conf *x = &a->locations[i], *y = &b->locations[i];

		ck_assert_str_eq(x->path, y->path);
		ck_assert_pstr_eq(x->proxy, y->proxy);
		if (x->proxy)
			ck_assert_uint_eq(x->upstream, y->upstream);
		ck_assert_pstr_eq(x->root, y->root);
		ck_assert_pstr_eq(x->proxy_host, y->proxy_host);
		ck_assert(x->x_forwarded == y->x_forwarded);
		ck_assert(x->forwarded == y->forwarded);
		ck_assert_uint_eq(x->nlimit, y->nlimit);
		for (size_t j = 0; j < x->nlimit; j++) {
			ck_assert_str_eq(x->limit[j], y->limit[j]);
			ck_assert_uint_eq(x->limit_zone[j], y->limit_zone[j]);
		}
	}
}

static inline void assert_same_policy(const struct shoal_upstream_policy *x,
				      const struct shoal_upstream_policy *y)
{
	ck_assert_int_eq(x->balance, y->balance);
	ck_assert_int_eq(x->hash_key, y->hash_key);
	ck_assert_pstr_eq(x->hash_name, y->hash_name);
	ck_assert_int_eq(x->hash_balance_factor, y->hash_balance_factor);
	ck_assert_int_eq(x->max_fails, y->max_fails);
	ck_assert_int_eq(x->fail_timeout_ms, y->fail_timeout_ms);
	ck_assert_int_eq(x->max_ejection_percent, y->max_ejection_percent);
	ck_assert_uint_eq(x->nfail_status, y->nfail_status);
	for (size_t i = 0; i < x->nfail_status; i++)
		ck_assert_int_eq(x->fail_status[i], y->fail_status[i]);
	ck_assert_int_eq(x->panic_threshold, y->panic_threshold);
	ck_assert_int_eq(x->slow_start_ms, y->slow_start_ms);
	ck_assert_int_eq(x->retries, y->retries);
	ck_assert_int_eq(x->retry_timeout_ms, y->retry_timeout_ms);
	ck_assert_int_eq(x->stall_timeout_ms, y->stall_timeout_ms);
	ck_assert(x->retry_non_idempotent == y->retry_non_idempotent);
}

/* path and host are compared only where they apply: an http check. */
static inline void assert_same_check(const struct shoal_health_check_conf *x,
				     const struct shoal_health_check_conf *y)
{
	ck_assert_int_eq(x->type, y->type);
	if (x->type == SHOAL_CHECK_NONE)
		return;
	ck_assert_int_eq(x->interval_ms, y->interval_ms);
	ck_assert_int_eq(x->timeout_ms, y->timeout_ms);
	ck_assert_int_eq(x->rise, y->rise);
	ck_assert_int_eq(x->fall, y->fall);
	if (x->type != SHOAL_CHECK_HTTP)
		return;
	ck_assert_pstr_eq(x->path, y->path);
	ck_assert_pstr_eq(x->host, y->host);
	ck_assert_int_eq(x->status_min, y->status_min);
	ck_assert_int_eq(x->status_max, y->status_max);
}

static inline void assert_same_upstreams(const struct shoal_config *a, const struct shoal_config *b)
{
	ck_assert_uint_eq(a->nupstreams, b->nupstreams);
	for (size_t i = 0; i < a->nupstreams; i++) {
		const struct shoal_upstream_conf *x = &a->upstreams[i], *y = &b->upstreams[i];

		ck_assert_str_eq(x->name, y->name);
		ck_assert_uint_eq(x->nservers, y->nservers);
		for (size_t j = 0; j < x->nservers; j++) {
			ck_assert(x->servers[j].resolve == y->servers[j].resolve);
			ck_assert_pstr_eq(x->servers[j].host, y->servers[j].host);
			/* A name is looked up again: its addresses may differ. */
			if (!x->servers[j].host)
				ck_assert(shoal_addr_equal(&x->servers[j].address,
							   &y->servers[j].address));
			ck_assert_int_eq(x->servers[j].weight, y->servers[j].weight);
			ck_assert(x->servers[j].backup == y->servers[j].backup);
			ck_assert(x->servers[j].down == y->servers[j].down);
			ck_assert_int_eq(x->servers[j].max_conns, y->servers[j].max_conns);
		}
		ck_assert_int_eq(x->keepalive, y->keepalive);
		ck_assert_int_eq(x->queue, y->queue);
		ck_assert_int_eq(x->queue_timeout_ms, y->queue_timeout_ms);
		ck_assert_int_eq(x->connect_timeout_ms, y->connect_timeout_ms);
		ck_assert_int_eq(x->send_timeout_ms, y->send_timeout_ms);
		ck_assert_int_eq(x->read_timeout_ms, y->read_timeout_ms);
		ck_assert_int_eq(x->tunnel_timeout_ms, y->tunnel_timeout_ms);
		ck_assert_int_eq(x->resolve_interval_ms, y->resolve_interval_ms);
		ck_assert_int_eq(x->send_proxy_protocol, y->send_proxy_protocol);
		ck_assert(x->tls == y->tls);
		ck_assert_pstr_eq(x->tls_ca, y->tls_ca);
		ck_assert_pstr_eq(x->tls_server_name, y->tls_server_name);
		ck_assert(x->tls_verify == y->tls_verify);
		assert_same_policy(&x->policy, &y->policy);
		assert_same_check(&x->health_check, &y->health_check);
	}
}

/* The rate compared exactly: the dump must print a decimal that reads back as the same
 * double. */
static inline void assert_same_limits(const struct shoal_config *a, const struct shoal_config *b)
{
	ck_assert_uint_eq(a->nlimit_allow, b->nlimit_allow);
	for (size_t i = 0; i < a->nlimit_allow; i++)
		ck_assert_str_eq(a->limit_allow[i], b->limit_allow[i]);
	ck_assert_uint_eq(a->nlimit_zones, b->nlimit_zones);
	for (size_t i = 0; i < a->nlimit_zones; i++) {
		const struct shoal_limit_zone_conf *x = &a->limit_zones[i], *y = &b->limit_zones[i];

		ck_assert_str_eq(x->name, y->name);
		ck_assert_str_eq(x->key, y->key);
		ck_assert_uint_eq(x->nparts, y->nparts);
		for (size_t j = 0; j < x->nparts; j++) {
			ck_assert_int_eq(x->parts[j].kind, y->parts[j].kind);
			ck_assert_pstr_eq(x->parts[j].name, y->parts[j].name);
		}
		ck_assert_msg(x->rate == y->rate, "rate %.17g came back as %.17g", x->rate, y->rate);
		ck_assert_int_eq(x->burst, y->burst);
		ck_assert_int_eq(x->conn, y->conn);
		ck_assert_int_eq(x->size, y->size);
		ck_assert(x->dry_run == y->dry_run);
	}
}

/* Everything but the file's own path and the auto flag, which a dump cannot carry. */
static inline void assert_same_config(const struct shoal_config *a, const struct shoal_config *b)
{
	ck_assert_int_eq(a->workers, b->workers);
	ck_assert_pstr_eq(a->user, b->user);
	ck_assert_pstr_eq(a->group, b->group);
	ck_assert_str_eq(a->pid_file, b->pid_file);
	ck_assert_str_eq(a->error_log, b->error_log);
	ck_assert_int_eq(a->log_level, b->log_level);
	ck_assert_int_eq(a->shutdown_timeout, b->shutdown_timeout);
	ck_assert_str_eq(a->stats_file, b->stats_file);
	ck_assert_str_eq(a->state_file, b->state_file);
	ck_assert_int_eq(a->max_connections, b->max_connections);
	ck_assert_int_eq(a->header_timeout, b->header_timeout);
	ck_assert_int_eq(a->keepalive_timeout, b->keepalive_timeout);
	ck_assert_int_eq(a->proxy_protocol_timeout_ms, b->proxy_protocol_timeout_ms);
	ck_assert_int_eq(a->max_keepalive_requests, b->max_keepalive_requests);
	ck_assert_int_eq(a->max_header_size, b->max_header_size);
	ck_assert_int_eq(a->proxy_buffer_size, b->proxy_buffer_size);
	assert_same_limits(a, b);
	assert_same_upstreams(a, b);
	ck_assert_uint_eq(a->nservers, b->nservers);
	for (size_t i = 0; i < a->nservers; i++) {
		assert_same_server(&a->servers[i], &b->servers[i]);
		assert_same_locations(&a->servers[i], &b->servers[i]);
	}
}

/* Dumps cfg into a different directory than its source, reloads it and returns the text. */
static inline char *dump_and_reload(const struct shoal_config *cfg, struct shoal_config *again)
{
	char path[PATH_MAX];
	struct shoal_err err = { "" };
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(mem);
	shoal_config_dump(cfg, mem);
	ck_assert_int_eq(fclose(mem), 0);
	write_conf(path, sizeof(path), "elsewhere/dump.conf", text);
	ck_assert_msg(shoal_config_load(again, path, &err) == 0, "%s\n%s", err.msg, text);
	return text;
}

#endif
