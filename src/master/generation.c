#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/master/generation.h"
#include "shoal/handler/fs.h"

/* Frees what was derived from the configuration, leaving the configuration itself. */
static void gen_free_derived(struct shoal_generation *g)
{
	for (size_t i = 0; g->root_fds && i < g->nroot_fds; i++)
		if (g->root_fds[i] >= 0)
			close(g->root_fds[i]);
	free(g->root_fds);
	free(g->addrs);
	free(g->backlogs);
	shoal_generation_tls_free(g);
	if (g->mime)
		shoal_mime_free(g->mime);
}

void shoal_generation_free(struct shoal_generation *g)
{
	gen_free_derived(g);
	shoal_config_free(&g->cfg);
	free(g);
}

static int gen_resolve_user(struct shoal_generation *g, struct shoal_err *err)
{
	const struct shoal_config *cfg = &g->cfg;
	struct passwd *pw;
	struct group *gr;

	if (!cfg->user)
		return 0;
	pw = getpwnam(cfg->user);
	if (!pw)
		return shoal_err_set(err, "%s: user: no user named '%s'", cfg->path, cfg->user);
	g->uid = pw->pw_uid;
	g->gid = pw->pw_gid;
	if (cfg->group) {
		gr = getgrnam(cfg->group);
		if (!gr)
			return shoal_err_set(err, "%s: group: no group named '%s'", cfg->path, cfg->group);
		g->gid = gr->gr_gid;
	}
	g->drop_privileges = geteuid() == 0;
	return 0;
}

static int gen_collect_addrs(struct shoal_generation *g, struct shoal_err *err)
{
	const struct shoal_config *cfg = &g->cfg;
	size_t total = 0;

	for (size_t i = 0; i < cfg->nservers; i++)
		total += cfg->servers[i].nlisten;
	g->addrs = calloc(total, sizeof(*g->addrs));
	g->backlogs = calloc(total, sizeof(*g->backlogs));
	if (!g->addrs || !g->backlogs)
		return shoal_err_set(err, "out of memory");
	for (size_t i = 0; i < cfg->nservers; i++) {
		const struct shoal_server_conf *s = &cfg->servers[i];
		for (size_t j = 0; j < s->nlisten; j++) {
			size_t k = 0;
			while (k < g->naddrs && !shoal_addr_equal(g->addrs[k], &s->listen[j]))
				k++;
			if (k == g->naddrs)
				g->addrs[g->naddrs++] = &s->listen[j];
			/* Servers sharing an address share its sockets: the largest backlog wins. */
			if (s->backlog > g->backlogs[k])
				g->backlogs[k] = s->backlog;
		}
	}
	return 0;
}

static size_t gen_count_roots(const struct shoal_config *cfg)
{
	size_t n = cfg->nservers;

	for (size_t i = 0; i < cfg->nservers; i++)
		for (size_t j = 0; j < cfg->servers[i].nlocations; j++)
			n += cfg->servers[i].locations[j].root != NULL;
	return n;
}

/* The roots of the locations that have one, after the servers' own. */
static int gen_open_location_roots(struct shoal_generation *g, struct shoal_err *err)
{
	struct shoal_err cause;
	size_t k = g->cfg.nservers;

	for (size_t i = 0; i < g->cfg.nservers; i++) {
		const struct shoal_server_conf *s = &g->cfg.servers[i];
		for (size_t j = 0; j < s->nlocations; j++) {
			if (!s->locations[j].root)
				continue;
			g->root_fds[k] = shoal_fs_open_root(s->locations[j].root, &cause);
			if (g->root_fds[k++] < 0)
				return shoal_err_set(err, "%s:%u: servers[%zu].locations[%zu].root: %s",
						     g->cfg.path, s->locations[j].root_line, i, j,
						     cause.msg);
		}
	}
	return 0;
}

static int gen_open_roots(struct shoal_generation *g, struct shoal_err *err)
{
	struct shoal_err cause;

	g->nroot_fds = gen_count_roots(&g->cfg);
	g->root_fds = malloc(g->nroot_fds * sizeof(*g->root_fds));
	if (!g->root_fds)
		return shoal_err_set(err, "out of memory");
	for (size_t i = 0; i < g->nroot_fds; i++)
		g->root_fds[i] = -1;
	for (size_t i = 0; i < g->cfg.nservers; i++) {
		g->root_fds[i] = shoal_fs_open_root(g->cfg.servers[i].root, &cause);
		if (g->root_fds[i] < 0)
			return shoal_err_set(err, "%s:%u: servers[%zu].root: %s", g->cfg.path,
					     g->cfg.servers[i].root_line, i, cause.msg);
	}
	return gen_open_location_roots(g, err);
}

/* /etc/mime.types, then the configuration's own "type ext ..." lines over it. */
static int gen_load_types(struct shoal_generation *g, struct shoal_err *err)
{
	const struct shoal_config *cfg = &g->cfg;

	if (shoal_mime_load(&g->mime, "/etc/mime.types", cfg->default_type, err) < 0)
		return -1;
	for (size_t i = 0; i < cfg->ntypes; i++) {
		char line[512], *save = NULL, *type, *ext;
		snprintf(line, sizeof(line), "%s", cfg->types[i]);
		type = strtok_r(line, " ", &save);
		while ((ext = strtok_r(NULL, " ", &save)))
			if (shoal_mime_set(g->mime, ext, type, err) < 0)
				return shoal_err_set(err, "%s: types[%zu]: %s", cfg->path, i,
						     err->msg);
	}
	return 0;
}

struct shoal_generation *shoal_generation_load(const char *path, struct shoal_err *err)
{
	struct shoal_generation *g = calloc(1, sizeof(*g));

	if (!g) {
		shoal_err_set(err, "out of memory");
		return NULL;
	}
	if (shoal_config_load(&g->cfg, path, err) < 0) {
		free(g);
		return NULL;
	}
	if (gen_resolve_user(g, err) < 0 || gen_collect_addrs(g, err) < 0 ||
	    gen_open_roots(g, err) < 0 || gen_load_types(g, err) < 0 ||
	    shoal_generation_tls_check(g, err) < 0) {
		shoal_generation_free(g);
		return NULL;
	}
	return g;
}

/* Workers that parse what any client sends should not hold root's powers. */
int shoal_generation_check_root(const struct shoal_generation *g, struct shoal_err *err)
{
	if (geteuid() != 0 || g->cfg.user || g->cfg.allow_root)
		return 0;
	return shoal_err_set(err, "%s: refusing to serve as root: set user (workers drop to it), "
			     "or allow_root = true", g->cfg.path);
}

void shoal_generation_into_config(struct shoal_generation *g, struct shoal_config *cfg)
{
	gen_free_derived(g);
	*cfg = g->cfg;
	free(g);
}
