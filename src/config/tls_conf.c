#include <libconfig.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "shoal/base/util.h"
#include "tls_conf.h"

/* ---- a server's tls group ---- */

static const struct shoal_conf_key tls_keys[] = {
	{ .name = "certificate", .kind = &shoal_schema_path,
	  .offset = offsetof(struct shoal_server_tls_conf, certificate), .required = true },
	{ .name = "key", .kind = &shoal_schema_path,
	  .offset = offsetof(struct shoal_server_tls_conf, key), .required = true },
};

static struct shoal_server_tls_conf *tls_of(void *base, const struct shoal_conf_key *key)
{
	return (struct shoal_server_tls_conf *)(void *)((char *)base + key->offset);
}

static const struct shoal_server_tls_conf *ctls_of(const void *base,
						  const struct shoal_conf_key *key)
{
	return (const struct shoal_server_tls_conf *)(const void *)((const char *)base + key->offset);
}

static int parse_server(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
			struct shoal_conf_ctx *ctx)
{
	struct shoal_server_tls_conf *tls = tls_of(base, key);
	size_t len = strlen(ctx->where);
	int rc;

	if (!config_setting_is_group(s))
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "must be a group { certificate = \"...\"; key = \"...\"; }");
	snprintf(ctx->where + len, sizeof(ctx->where) - len, "%s.", key->name);
	rc = shoal_schema_parse(tls_keys, ARRAY_LEN(tls_keys), s, tls, ctx);
	ctx->where[len] = '\0';
	tls->line = config_setting_source_line(s);
	return rc;
}

static int default_server(const struct shoal_conf_key *key, void *base,
			  struct shoal_conf_ctx *ctx)
{
	(void)ctx;
	memset(tls_of(base, key), 0, sizeof(struct shoal_server_tls_conf));
	return 0;
}

static void dump_server(const struct shoal_conf_key *key, const void *base, FILE *out,
			int indent)
{
	const struct shoal_server_tls_conf *tls = ctls_of(base, key);

	if (!tls->certificate) {
		fprintf(out, "%*s# %s is unset\n", indent, "", key->name);
		return;
	}
	fprintf(out, "%*s%s = {\n", indent, "", key->name);
	shoal_schema_dump(tls_keys, ARRAY_LEN(tls_keys), tls, out, indent + 2);
	fprintf(out, "%*s};\n", indent, "");
}

static void release_server(const struct shoal_conf_key *key, void *base)
{
	shoal_schema_release(tls_keys, ARRAY_LEN(tls_keys), tls_of(base, key));
}

const struct shoal_conf_kind shoal_tls_conf_server = {
	parse_server, default_server, dump_server, release_server
};

/* ---- tls_protocols ---- */

static struct shoal_tls_protocols *protocols_of(void *base, const struct shoal_conf_key *key)
{
	return (struct shoal_tls_protocols *)(void *)((char *)base + key->offset);
}

static const struct shoal_tls_protocols *cprotocols_of(const void *base,
							 const struct shoal_conf_key *key)
{
	return (const struct shoal_tls_protocols *)(const void *)((const char *)base + key->offset);
}

static int parse_protocols(const struct shoal_conf_key *key, const config_setting_t *s,
			   void *base, struct shoal_conf_ctx *ctx)
{
	struct shoal_tls_protocols *p = protocols_of(base, key);
	int n = shoal_schema_check_strings(key, s, ctx);
	unsigned seen = 0;

	if (n < 0)
		return -1;
	p->min = SHOAL_TLS_1_3;
	p->max = SHOAL_TLS_1_2;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
		const char *name = config_setting_get_string(e);
		enum shoal_tls_version v;

		if (shoal_tls_context_version_parse(name, &v) < 0)
			return shoal_schema_fail(ctx, e, key->name, i,
						 "'%s' is not a protocol shoal offers (\"TLSv1.2\", "
						 "\"TLSv1.3\")", name);
		if (seen & (1u << v))
			return shoal_schema_fail(ctx, e, key->name, i, "'%s' is listed twice", name);
		seen |= 1u << v;
		if (v < p->min)
			p->min = v;
		if (v > p->max)
			p->max = v;
	}
	return 0;
}

static int default_protocols(const struct shoal_conf_key *key, void *base,
			     struct shoal_conf_ctx *ctx)
{
	(void)ctx;
	*protocols_of(base, key) = (struct shoal_tls_protocols){ SHOAL_TLS_1_2, SHOAL_TLS_1_3 };
	return 0;
}

static void dump_protocols(const struct shoal_conf_key *key, const void *base, FILE *out,
			   int indent)
{
	const struct shoal_tls_protocols *p = cprotocols_of(base, key);

	fprintf(out, "%*s%s = [", indent, "", key->name);
	for (int v = (int)p->min; v <= (int)p->max; v++)
		fprintf(out, "%s\"%s\"", v == (int)p->min ? " " : ", ",
			shoal_tls_context_version_name((enum shoal_tls_version)v));
	fputs(" ];\n", out);
}

const struct shoal_conf_kind shoal_tls_conf_protocols = {
	parse_protocols, default_protocols, dump_protocols, NULL
};

/* ---- tls_ciphers, tls_ciphersuites ---- */

int shoal_tls_conf_check_ciphers(const config_setting_t *root, const struct shoal_config *cfg,
				 const struct shoal_conf_ctx *ctx)
{
	const char *ciphers = cfg->tls_ciphers, *suites = cfg->tls_ciphersuites;
	struct shoal_err why;

	if (ciphers && shoal_tls_context_check_ciphers(ciphers, NULL, &why) < 0)
		return shoal_schema_fail(ctx, config_setting_get_member(root, "tls_ciphers"),
					 "tls_ciphers", -1, "'%s' is refused by OpenSSL: %s",
					 ciphers, why.msg);
	if (suites && shoal_tls_context_check_ciphers(NULL, suites, &why) < 0)
		return shoal_schema_fail(ctx, config_setting_get_member(root, "tls_ciphersuites"),
					 "tls_ciphersuites", -1, "'%s' is refused by OpenSSL: %s",
					 suites, why.msg);
	return 0;
}

/* ---- a server's addresses and its group ---- */

int shoal_tls_conf_check_server(const struct shoal_server_conf *s, const config_setting_t *e,
				const struct shoal_conf_ctx *ctx)
{
	const config_setting_t *listen = config_setting_get_member(e, "listen");
	bool any = false;

	for (size_t k = 0; k < s->nlisten; k++) {
		if (!(s->listen_flags[k] & SHOAL_LISTEN_TLS))
			continue;
		any = true;
		if (!s->tls.certificate)
			return shoal_schema_fail(ctx, config_setting_get_elem(listen, (unsigned int)k),
						 "listen", (int)k,
						 "%s is a tls address: the server needs tls = { "
						 "certificate = \"...\"; key = \"...\"; }",
						 s->listen[k].text);
	}
	if (s->tls.certificate && !any)
		return shoal_schema_fail(ctx, config_setting_get_member(e, "tls"), "tls", -1,
					 "no address of this server has the tls flag "
					 "(\"*:443 tls\")");
	return 0;
}
