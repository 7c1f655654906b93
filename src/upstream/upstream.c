#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/base/clock.h"
#include "shoal/state/upstream.h"

#include "shoal/upstream/balancer.h"
#include "shoal/upstream/conn.h"
#include "shoal/upstream/health.h"
#include "shoal/upstream/pool.h"
#include "shoal/upstream/upstream.h"

/* A server the state file has no entry for (no file, or its room is full) still gets the
 * whole health logic, within this worker only. */
static int upstream_share(struct shoal_upstream_server *s, const struct shoal_state *state,
			  const char *group)
{
	if (state)
		s->shared = shoal_state_upstream_find(state, group, s->conf->address.text);
	if (s->shared)
		return 0;
	s->shared = calloc(1, sizeof(*s->shared));
	s->shared_own = true;
	return s->shared ? 0 : -1;
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
		if (upstream_share(s, state, conf->name) < 0)
			return -1;
		if (!s->conf->backup && !s->conf->down)
			u->nprimaries++;
	}
	return u->balancer->init(u);
}

int shoal_upstream_set_init(struct shoal_upstream_set *set, const struct shoal_config *cfg,
			    const struct shoal_state *state, struct shoal_event_loop *loop,
			    struct shoal_err *err)
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
	}
	free(u->servers);
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

bool shoal_upstream_candidate(const struct shoal_upstream_server *s,
			      const struct shoal_upstream_pick *pick)
{
	if (s->conf->backup != pick->backup)
		return false;
	if (pick->avoid_tried)
		for (unsigned i = 0; i < pick->ntried; i++)
			if (pick->tried[i] == s->index)
				return false;
	if (pick->panic)
		return !shoal_upstream_excluded(s);
	return shoal_upstream_usable(s, pick->now_ms);
}

/* Which servers the balancer chooses among: usable primaries, else usable backups, else
 * (or with too few usable primaries) every primary not taken out on purpose. */
static void upstream_tier(const struct shoal_upstream *u, struct shoal_upstream_pick *pick)
{
	size_t usable = 0, backups = 0;

	for (size_t i = 0; i < u->nservers; i++) {
		const struct shoal_upstream_server *s = &u->servers[i];
		if (!shoal_upstream_usable(s, pick->now_ms))
			continue;
		if (s->conf->backup)
			backups++;
		else
			usable++;
	}
	pick->backup = !usable && backups;
	pick->panic = !usable && !backups;
	if (usable && usable * 100 < (size_t)u->conf->policy.panic_threshold * u->nprimaries)
		pick->panic = true;
}

struct shoal_upstream_server *shoal_upstream_select(struct shoal_upstream *u,
						    struct shoal_upstream_pick *pick)
{
	struct shoal_upstream_server *s;

	upstream_tier(u, pick);
	pick->avoid_tried = pick->ntried > 0;
	s = u->balancer->select(u, pick);
	if (!s && pick->avoid_tried) {
		pick->avoid_tried = false;
		s = u->balancer->select(u, pick);
	}
	return s;
}

uint64_t shoal_upstream_random(struct shoal_upstream_set *set)
{
	uint64_t x = set->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	set->rng = x;
	return x;
}

/* FNV-1a, then a finaliser that spreads every input bit over the word: FNV alone leaves
 * the high bits of short keys (addresses, ring points) too alike for a ring. */
uint64_t shoal_upstream_hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}
