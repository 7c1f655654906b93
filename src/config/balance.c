#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "shoal/base/util.h"
#include "shoal/config/config.h"

/* ---- balance ---- */

static const char *const balance_names[] = {
	[SHOAL_BALANCE_ROUND_ROBIN] = "round_robin",
	[SHOAL_BALANCE_LEAST_CONN] = "least_conn",
	[SHOAL_BALANCE_RANDOM] = "random",
	[SHOAL_BALANCE_HASH] = "hash",
};

static int parse_algorithm(const struct shoal_conf_key *key, const config_setting_t *s,
			   void *base, struct shoal_conf_ctx *ctx)
{
	struct shoal_upstream_conf *up = base;
	const char *text = NULL;

	if (shoal_schema_get_string(key, s, ctx, &text) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_LEN(balance_names); i++) {
		if (strcmp(text, balance_names[i]) == 0) {
			up->policy.balance = (enum shoal_balance)i;
			return 0;
		}
	}
	return shoal_schema_fail(ctx, s, key->name, -1,
				 "must be one of round_robin, least_conn, random, hash");
}

static int default_algorithm(const struct shoal_conf_key *key, void *base,
			     struct shoal_conf_ctx *ctx)
{
	struct shoal_upstream_conf *up = base;

	(void)key;
	(void)ctx;
	up->policy.balance = SHOAL_BALANCE_ROUND_ROBIN;
	return 0;
}

static void dump_algorithm(const struct shoal_conf_key *key, const void *base, FILE *out,
			   int indent)
{
	const struct shoal_upstream_conf *up = base;

	fprintf(out, "%*s%s = ", indent, "", key->name);
	shoal_schema_put_string(out, balance_names[up->policy.balance]);
	fputs(";\n", out);
}

const struct shoal_conf_kind shoal_balance_algorithm = {
	parse_algorithm, default_algorithm, dump_algorithm, NULL
};

/* ---- hash_key ---- */

/* The keys of a hash group mean nothing to another algorithm: refused rather than ignored,
 * since setting one shows the intent to hash. */
static int fail_not_hash(const struct shoal_conf_key *key, const config_setting_t *s,
			 const struct shoal_upstream_conf *up, const struct shoal_conf_ctx *ctx)
{
	return shoal_schema_fail(ctx, s, key->name, -1,
				 "applies only to balance = \"hash\" (this group's is \"%s\")",
				 balance_names[up->policy.balance]);
}

/* tchar of RFC 9110: what a field name, and a cookie name (RFC 6265), is made of. */
static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

/* The kind of key text names, and where its NAME starts (NULL: it has none); -1: none. */
static int hash_key_of(const char *text, const char **name)
{
	*name = NULL;
	if (strcmp(text, "client_ip") == 0)
		return SHOAL_HASH_CLIENT_IP;
	if (strcmp(text, "uri") == 0)
		return SHOAL_HASH_URI;
	if (strncmp(text, "header:", 7) == 0) {
		*name = text + 7;
		return SHOAL_HASH_HEADER;
	}
	if (strncmp(text, "cookie:", 7) == 0) {
		*name = text + 7;
		return SHOAL_HASH_COOKIE;
	}
	return -1;
}

static int parse_hash_key(const struct shoal_conf_key *key, const config_setting_t *s,
			  void *base, struct shoal_conf_ctx *ctx)
{
	struct shoal_upstream_conf *up = base;
	const char *text = NULL, *name;
	int which;

	if (up->policy.balance != SHOAL_BALANCE_HASH)
		return fail_not_hash(key, s, up, ctx);
	if (shoal_schema_get_string(key, s, ctx, &text) < 0)
		return -1;
	which = hash_key_of(text, &name);
	if (which < 0)
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "must be \"client_ip\", \"uri\", \"header:NAME\" or "
					 "\"cookie:NAME\", not \"%s\"", text);
	if (name && !is_token(name))
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "'%s': NAME must be a %s name of letters, digits and "
					 "!#$%%&'*+-.^_`|~ only", text,
					 which == SHOAL_HASH_HEADER ? "header field" : "cookie");
	up->policy.hash_key = (enum shoal_hash_key)which;
	up->policy.hash_name = name ? strdup(name) : NULL;
	if (name && !up->policy.hash_name)
		return shoal_schema_fail(ctx, s, key->name, -1, "out of memory");
	return 0;
}

static int default_hash_key(const struct shoal_conf_key *key, void *base,
			    struct shoal_conf_ctx *ctx)
{
	struct shoal_upstream_conf *up = base;

	(void)key;
	(void)ctx;
	up->policy.hash_key = SHOAL_HASH_CLIENT_IP;
	up->policy.hash_name = NULL;
	return 0;
}

static void dump_hash_key(const struct shoal_conf_key *key, const void *base, FILE *out,
			  int indent)
{
	static const char *const prefixes[] = {
		[SHOAL_HASH_CLIENT_IP] = "client_ip", [SHOAL_HASH_URI] = "uri",
		[SHOAL_HASH_HEADER] = "header:", [SHOAL_HASH_COOKIE] = "cookie:",
	};
	const struct shoal_upstream_policy *p = &((const struct shoal_upstream_conf *)base)->policy;

	/* NAME is a token: nothing in it needs an escape. */
	if (p->balance == SHOAL_BALANCE_HASH)
		fprintf(out, "%*s%s = \"%s%s\";\n", indent, "", key->name, prefixes[p->hash_key],
			p->hash_name ? p->hash_name : "");
}

static void release_hash_key(const struct shoal_conf_key *key, void *base)
{
	struct shoal_upstream_conf *up = base;

	(void)key;
	free(up->policy.hash_name);
	up->policy.hash_name = NULL;
}

const struct shoal_conf_kind shoal_balance_hash_key = {
	parse_hash_key, default_hash_key, dump_hash_key, release_hash_key
};

/* ---- hash_balance_factor ---- */

static int parse_hash_factor(const struct shoal_conf_key *key, const config_setting_t *s,
			     void *base, struct shoal_conf_ctx *ctx)
{
	const struct shoal_upstream_conf *up = base;
	long long v = -1;

	if (up->policy.balance != SHOAL_BALANCE_HASH)
		return fail_not_hash(key, s, up, ctx);
	if (shoal_schema_is_integer(s))
		v = config_setting_get_int64(s);
	if (v != 0 && (v < key->min || v > key->max))
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "must be 0 (unbounded) or an integer from %lld to %lld",
					 key->min, key->max);
	*(int *)(void *)((char *)base + key->offset) = (int)v;
	return 0;
}

static int default_hash_factor(const struct shoal_conf_key *key, void *base,
			       struct shoal_conf_ctx *ctx)
{
	return shoal_schema_int.set_default(key, base, ctx);
}

static void dump_hash_factor(const struct shoal_conf_key *key, const void *base, FILE *out,
			     int indent)
{
	const struct shoal_upstream_conf *up = base;

	if (up->policy.balance == SHOAL_BALANCE_HASH)
		shoal_schema_int.dump(key, base, out, indent);
}

const struct shoal_conf_kind shoal_balance_hash_factor = {
	parse_hash_factor, default_hash_factor, dump_hash_factor, NULL
};

/* ---- lists of statuses ---- */

static int **statuses_of(void *base, const struct shoal_conf_key *key)
{
	return (int **)(void *)((char *)base + key->offset);
}

static size_t *nstatuses_of(void *base, const struct shoal_conf_key *key)
{
	return (size_t *)(void *)((char *)base + key->count_offset);
}

/* Reads element i of s into list[i]; the elements before it are read. */
static int read_status(const struct shoal_conf_key *key, const config_setting_t *s, int i,
		       int *list, const struct shoal_conf_ctx *ctx)
{
	const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
	long long v = key->min - 1;

	if (shoal_schema_is_integer(e))
		v = config_setting_get_int64(e);
	if (v < key->min || v > key->max)
		return shoal_schema_fail(ctx, e, key->name, i,
					 "must be a status from %lld to %lld", key->min, key->max);
	for (int j = 0; j < i; j++)
		if (list[j] == v)
			return shoal_schema_fail(ctx, e, key->name, i,
						 "%lld is listed twice (also at index %d)", v, j);
	list[i] = (int)v;
	return 0;
}

static int parse_statuses(const struct shoal_conf_key *key, const config_setting_t *s,
			  void *base, struct shoal_conf_ctx *ctx)
{
	int n;

	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "must be an array of statuses, such as [ 502, 503 ]");
	n = config_setting_length(s);
	if (n == 0)
		return 0;
	*statuses_of(base, key) = calloc((size_t)n, sizeof(int));
	if (!*statuses_of(base, key))
		return shoal_schema_fail(ctx, s, key->name, -1, "out of memory");
	for (int i = 0; i < n; i++) {
		if (read_status(key, s, i, *statuses_of(base, key), ctx) < 0)
			return -1;
		(*nstatuses_of(base, key))++;
	}
	return 0;
}

static int default_statuses(const struct shoal_conf_key *key, void *base,
			    struct shoal_conf_ctx *ctx)
{
	(void)ctx;
	*statuses_of(base, key) = NULL;
	*nstatuses_of(base, key) = 0;
	return 0;
}

static void dump_statuses(const struct shoal_conf_key *key, const void *base, FILE *out,
			  int indent)
{
	const int *list = *(int *const *)(const void *)((const char *)base + key->offset);
	size_t n = *(const size_t *)(const void *)((const char *)base + key->count_offset);

	fprintf(out, "%*s%s = [", indent, "", key->name);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%d", i ? ", " : " ", list[i]);
	fputs(" ];\n", out);
}

static void release_statuses(const struct shoal_conf_key *key, void *base)
{
	free(*statuses_of(base, key));
	*statuses_of(base, key) = NULL;
	*nstatuses_of(base, key) = 0;
}

const struct shoal_conf_kind shoal_balance_statuses = {
	parse_statuses, default_statuses, dump_statuses, release_statuses
};
