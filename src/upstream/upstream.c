#include <stdlib.h>
#include <string.h>

#include "shoal/upstream/balancer.h"
#include "shoal/upstream/conn.h"
#include "shoal/upstream/pool.h"
#include "shoal/upstream/upstream.h"

static int upstream_init(struct shoal_upstream *u, const struct shoal_upstream_conf *conf,
			 struct shoal_upstream_set *set)
{
	u->conf = conf;
	u->set = set;
	u->balancer = &shoal_balancer_rr;
	u->nservers = conf->nservers;
	u->servers = calloc(conf->nservers, sizeof(*u->servers));
	if (!u->servers)
		return -1;
	for (size_t i = 0; i < conf->nservers; i++) {
		u->servers[i].conf = &conf->servers[i];
		u->servers[i].group = u;
		u->servers[i].index = (unsigned)i;
		u->servers[i].stats_index = -1;
	}
	u->balancer->init(u);
	return 0;
}

int shoal_upstream_set_init(struct shoal_upstream_set *set, const struct shoal_config *cfg,
			    struct shoal_event_loop *loop, struct shoal_err *err)
{
	memset(set, 0, sizeof(*set));
	set->loop = loop;
	if (!cfg->nupstreams)
		return 0;
	set->groups = calloc(cfg->nupstreams, sizeof(*set->groups));
	if (!set->groups)
		return shoal_err_set(err, "out of memory");
	set->ngroups = cfg->nupstreams;
	for (size_t i = 0; i < cfg->nupstreams; i++) {
		if (upstream_init(&set->groups[i], &cfg->upstreams[i], set) < 0) {
			shoal_upstream_set_free(set);
			return shoal_err_set(err, "out of memory");
		}
	}
	return 0;
}

static void free_list(struct shoal_upstream_conn *uc)
{
	while (uc) {
		struct shoal_upstream_conn *next = uc->next;
		free(uc);
		uc = next;
	}
}

void shoal_upstream_set_free(struct shoal_upstream_set *set)
{
	for (size_t i = 0; i < set->ngroups; i++) {
		struct shoal_upstream *u = &set->groups[i];
		for (size_t j = 0; u->servers && j < u->nservers; j++)
			shoal_upstream_pool_drain(&u->servers[j]);
		free(u->servers);
	}
	free(set->groups);
	free_list(set->closed);
	free_list(set->free);
	memset(set, 0, sizeof(*set));
}

/* Structs kept for reuse beyond this many are freed: a burst of connections is not held. */
#define FREE_MAX 1024

void shoal_upstream_set_recycle(struct shoal_upstream_set *set)
{
	while (set->closed) {
		struct shoal_upstream_conn *uc = set->closed;
		set->closed = uc->next;
		if (set->nfree >= FREE_MAX) {
			free(uc);
			continue;
		}
		uc->next = set->free;
		set->free = uc;
		set->nfree++;
	}
}

struct shoal_upstream_server *shoal_upstream_select(struct shoal_upstream *u)
{
	return u->balancer->select(u);
}
