#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/base/clock.h"
#include "shoal/state/upstream.h"
#include "shoal/tls/context.h"

#include "shoal/upstream/balancer.h"
#include "shoal/upstream/conn.h"
#include "shoal/upstream/health.h"
#include "shoal/upstream/pool.h"
#include "shoal/upstream/upstream.h"

/* An entry the state file does not have (no file, or its room is full) is the worker's
 * own: the whole health logic, and the limits, then hold within this worker only. */
static int upstream_share(struct shoal_state_upstream **shared, bool *own,
			  const struct shoal_state *state, const char *group, const char *server)
{
	if (state)
		*shared = shoal_state_upstream_find(state, group, server);
	if (*shared)
		return 0;
	*shared = calloc(1, sizeof(**shared));
	*own = true;
	return *shared ? 0 : -1;
}

/* A server's name for TLS: the group's, else its label (the host of its NAME:PORT, or its
 * canonical address, "192.0.2.1:443" or "[2001:db8::1]:443") without port nor brackets; an
 * address is verified as one. */
static char *upstream_tls_name(const struct shoal_upstream_conf *g,
			       const struct shoal_upstream_server_conf *s)
{
	const char *text = shoal_config_server_label(s);
	const char *colon = strrchr(text, ':');
	size_t end = colon ? (size_t)(colon - text) : strlen(text);

	if (g->tls_server_name)
		return strdup(g->tls_server_name);
	if (end >= 2 && text[0] == '[' && text[end - 1] == ']')
		return strndup(text + 1, end - 2);
	return strndup(text, end);
}

/* The client context every connection of a tls group is made from, and each server's name.
 * The master's, given (client); else made here, which fails if the CAs went away since the
 * configuration loaded them, or if this process's user may not read them. */
static int upstream_tls(struct shoal_upstream *u, struct ssl_ctx_st *client, struct shoal_err *err)
{
	const struct shoal_upstream_conf *conf = u->conf;
	struct shoal_err why;

	if (!conf->tls)
		return 0;
	if (client) {
		u->tls = shoal_tls_context_ref(client);
	} else {
		u->tls = shoal_upstream_tls_client(conf, &why);
		if (!u->tls)
			return shoal_err_set(err, "upstream \"%s\": %s", conf->name, why.msg);
	}
	for (size_t i = 0; i < u->nservers; i++)
		if (!(u->servers[i].tls_name = upstream_tls_name(conf, u->servers[i].conf)))
			return shoal_err_set(err, "out of memory");
	return 0;
}

static int upstream_init(struct shoal_upstream *u, const struct shoal_upstream_conf *conf,
			 struct shoal_upstream_set *set, const struct shoal_state *state)
{
	u->conf = conf;
	u->set = set;
	u->balancer = shoal_balancer_for(conf->policy.balance);
	u->nservers = conf->nservers;
	u->servers = calloc(conf->nservers, sizeof(*u->servers));
	if (!u->servers)
		return -1;
	for (size_t i = 0; i < conf->nservers; i++) {
		struct shoal_upstream_server *s = &u->servers[i];
		s->conf = &conf->servers[i];
		s->group = u;
		s->index = (unsigned)i;
		s->stats_index = -1;
		/* Workers start a name's addresses at different places. */
		if (s->conf->host)
			s->addr_turn = (unsigned)shoal_upstream_random(set);
		if (upstream_share(&s->shared, &s->shared_own, state, conf->name,
				   shoal_config_server_label(s->conf)) < 0)
			return -1;
		if (!s->conf->backup && !s->conf->down)
			u->nprimaries++;
		u->limited = u->limited || s->conf->max_conns > 0;
	}
	/* The group's queue is the entry of the group with no server name (the master adds it). */
	if (conf->queue > 0 && upstream_share(&u->queue_shared, &u->queue_own, state, conf->name,
					      "") < 0)
		return -1;
	return u->balancer->init(u);
}

struct ssl_ctx_st *shoal_upstream_tls_client(const struct shoal_upstream_conf *conf,
					     struct shoal_err *err)
{
	struct ssl_ctx_st *client = shoal_tls_context_client(conf->tls_ca, err);

	if (client && !conf->tls_verify)
		shoal_tls_context_client_trust_any(client);
	return client;
}

int shoal_upstream_set_init(struct shoal_upstream_set *set, const struct shoal_config *cfg,
			    struct ssl_ctx_st *const *tls_clients, const struct shoal_state *state,
			    struct shoal_event_loop *loop, struct shoal_err *err)
{
	memset(set, 0, sizeof(*set));
	set->loop = loop;
	/* Seeded per process: workers must not draw the same sequence of choices. */
	set->rng = shoal_upstream_hash(&set, sizeof(set)) ^ ((uint64_t)getpid() << 32) ^
		   shoal_clock_mono_us();
	if (!set->rng)
		set->rng = 1;
	if (!cfg->nupstreams)
		return 0;
	set->groups = calloc(cfg->nupstreams, sizeof(*set->groups));
	if (!set->groups)
		return shoal_err_set(err, "out of memory");
	set->ngroups = cfg->nupstreams;
	for (size_t i = 0; i < cfg->nupstreams; i++) {
		if (upstream_init(&set->groups[i], &cfg->upstreams[i], set, state) < 0) {
			shoal_upstream_set_free(set);
			return shoal_err_set(err, "out of memory");
		}
		if (upstream_tls(&set->groups[i], tls_clients ? tls_clients[i] : NULL, err) < 0) {
			shoal_upstream_set_free(set);
			return -1;
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

static void upstream_free(struct shoal_upstream *u)
{
	if (u->balancer && u->balancer->dispose)
		u->balancer->dispose(u);
	for (size_t j = 0; u->servers && j < u->nservers; j++) {
		shoal_upstream_pool_drain(&u->servers[j]);
		if (u->servers[j].shared_own)
			free(u->servers[j].shared);
		free(u->servers[j].tls_name);
		shoal_tls_session_slot_clear(&u->servers[j].tls_session);
	}
	free(u->servers);
	shoal_tls_context_free(u->tls);
	if (u->queue_own)
		free(u->queue_shared);
}

void shoal_upstream_set_free(struct shoal_upstream_set *set)
{
	for (size_t i = 0; i < set->ngroups; i++)
		upstream_free(&set->groups[i]);
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
