#include <stdlib.h>
#include <string.h>

#include "shoal/master/generation.h"
#include "shoal/upstream/upstream.h"

/* Growing by one: warnings are few, one per certificate at most. */
static int gen_tls_warn(struct shoal_generation *g, const struct shoal_err *w)
{
	struct shoal_err *more = realloc(g->tls_warnings, (g->ntls_warnings + 1) * sizeof(*more));

	if (!more)
		return -1;
	g->tls_warnings = more;
	g->tls_warnings[g->ntls_warnings++] = *w;
	return 0;
}

int shoal_generation_tls_check(struct shoal_generation *g, struct shoal_err *err)
{
	for (size_t i = 0; i < g->cfg.nservers; i++) {
		const struct shoal_server_tls_conf *t = &g->cfg.servers[i].tls;
		struct shoal_err warning, cause;

		if (!t->certificate)
			continue;
		if (shoal_tls_context_check(t->certificate, t->key, &warning, &cause) < 0)
			return shoal_err_set(err, "%s:%u: servers[%zu].tls: %s", g->cfg.path, t->line,
					     i, cause.msg);
		if (warning.msg[0] && gen_tls_warn(g, &warning) < 0)
			return shoal_err_set(err, "out of memory");
	}
	return 0;
}

/* Whether servers[i] listens on addr. */
static bool gen_tls_listens(const struct shoal_server_conf *s, const struct shoal_addr *addr)
{
	for (size_t k = 0; k < s->nlisten; k++)
		if (shoal_addr_equal(&s->listen[k], addr))
			return true;
	return false;
}

/* Whether addr has the tls flag (its servers agree on its flags). */
static bool gen_tls_flagged(const struct shoal_config *cfg, const struct shoal_addr *addr)
{
	for (size_t i = 0; i < cfg->nservers; i++)
		for (size_t k = 0; k < cfg->servers[i].nlisten; k++)
			if (shoal_addr_equal(&cfg->servers[i].listen[k], addr))
				return cfg->servers[i].listen_flags[k] & SHOAL_LISTEN_TLS;
	return false;
}

/* The set of addr: its default server's context as the fallback, else its first's, then
 * every server's names. ctxs: each server's context (NULL for one without tls). */
static int gen_tls_set(struct shoal_generation *g, const struct shoal_addr *addr,
		       struct ssl_ctx_st *const *ctxs, struct shoal_tls_context_set **out,
		       struct shoal_err *err)
{
	const struct shoal_config *cfg = &g->cfg;
	long first = -1, fallback = -1;
	struct shoal_err cause;

	for (size_t i = 0; i < cfg->nservers; i++) {
		if (!gen_tls_listens(&cfg->servers[i], addr))
			continue;
		if (first < 0)
			first = (long)i;
		if (cfg->servers[i].default_server)
			fallback = (long)i;
	}
	*out = shoal_tls_context_set_new(ctxs[fallback >= 0 ? fallback : first], err);
	if (!*out)
		return -1;
	for (size_t i = 0; i < cfg->nservers; i++) {
		const struct shoal_server_conf *s = &cfg->servers[i];
		if (!gen_tls_listens(s, addr))
			continue;
		for (size_t n = 0; n < s->nserver_names; n++)
			if (shoal_tls_context_set_add(*out, s->server_names[n], ctxs[i], &cause) < 0)
				return shoal_err_set(err, "%s: servers[%zu].server_names[%zu]: %s",
						     cfg->path, i, n, cause.msg);
	}
	return 0;
}

/* A context per server with a tls group, into ctxs[i]. */
static int gen_tls_contexts(const struct shoal_generation *g, const struct shoal_tls_keys *keys,
			    struct ssl_ctx_st **ctxs, struct shoal_err *err)
{
	const struct shoal_config *cfg = &g->cfg;
	bool kernel_tls = shoal_tls_context_kernel_tls();
	struct shoal_err cause;

	for (size_t i = 0; i < cfg->nservers; i++) {
		const struct shoal_server_tls_conf *t = &cfg->servers[i].tls;
		struct shoal_tls_server_params p = {
			.certificate = t->certificate, .key = t->key,
			.min_version = cfg->tls_protocols.min, .max_version = cfg->tls_protocols.max,
			.ciphers = cfg->tls_ciphers, .ciphersuites = cfg->tls_ciphersuites,
			.prefer_server_ciphers = cfg->tls_prefer_server_ciphers,
			.kernel_tls = kernel_tls, .keys = keys,
		};

		if (!t->certificate)
			continue;
		ctxs[i] = shoal_tls_context_server(&p, &cause);
		if (!ctxs[i])
			return shoal_err_set(err, "%s:%u: servers[%zu].tls: %s", cfg->path, t->line, i,
					     cause.msg);
	}
	return 0;
}

static bool gen_tls_any(const struct shoal_config *cfg)
{
	for (size_t i = 0; i < cfg->nservers; i++)
		if (cfg->servers[i].tls.certificate)
			return true;
	return false;
}

/* The client context of each upstream group with tls, into g->tls_clients. */
static int gen_tls_clients(struct shoal_generation *g, struct shoal_err *err)
{
	const struct shoal_config *cfg = &g->cfg;
	struct shoal_err why;

	for (size_t i = 0; i < cfg->nupstreams; i++) {
		const struct shoal_upstream_conf *u = &cfg->upstreams[i];

		if (!u->tls)
			continue;
		if (!g->tls_clients && !(g->tls_clients = calloc(cfg->nupstreams,
								 sizeof(*g->tls_clients))))
			return shoal_err_set(err, "out of memory");
		if (!(g->tls_clients[i] = shoal_upstream_tls_client(u, &why)))
			return shoal_err_set(err, "%s: upstream \"%s\": %s", cfg->path, u->name,
					     why.msg);
	}
	return 0;
}

int shoal_generation_tls_build(struct shoal_generation *g, const struct shoal_tls_keys *keys,
			       struct shoal_err *err)
{
	struct ssl_ctx_st **ctxs;
	int rc = 0;

	if (gen_tls_clients(g, err) < 0) {
		shoal_generation_tls_free(g);
		return -1;
	}
	if (!gen_tls_any(&g->cfg))
		return 0;
	ctxs = calloc(g->cfg.nservers, sizeof(*ctxs));
	g->tls_sets = calloc(g->naddrs, sizeof(*g->tls_sets));
	if (!ctxs || !g->tls_sets)
		rc = shoal_err_set(err, "out of memory");
	if (rc == 0)
		rc = gen_tls_contexts(g, keys, ctxs, err);
	for (size_t i = 0; rc == 0 && i < g->naddrs; i++)
		if (gen_tls_flagged(&g->cfg, g->addrs[i]))
			rc = gen_tls_set(g, g->addrs[i], ctxs, &g->tls_sets[i], err);
	/* The sets hold their own references. */
	for (size_t i = 0; ctxs && i < g->cfg.nservers; i++)
		shoal_tls_context_free(ctxs[i]);
	free(ctxs);
	if (rc < 0)
		shoal_generation_tls_free(g);
	return rc;
}

void shoal_generation_tls_free(struct shoal_generation *g)
{
	for (size_t i = 0; g->tls_clients && i < g->cfg.nupstreams; i++)
		shoal_tls_context_free(g->tls_clients[i]);
	free(g->tls_clients);
	g->tls_clients = NULL;
	for (size_t i = 0; g->tls_sets && i < g->naddrs; i++)
		shoal_tls_context_set_free(g->tls_sets[i]);
	free(g->tls_sets);
	g->tls_sets = NULL;
	free(g->tls_warnings);
	g->tls_warnings = NULL;
	g->ntls_warnings = 0;
}
