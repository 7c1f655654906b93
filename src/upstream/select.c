#include "shoal/upstream/balancer.h"
#include "shoal/upstream/health.h"
#include "shoal/upstream/upstream.h"

/* A candidate but for max_conns. */
static bool upstream_eligible(const struct shoal_upstream_server *s,
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

bool shoal_upstream_candidate(const struct shoal_upstream_server *s,
			      const struct shoal_upstream_pick *pick)
{
	return upstream_eligible(s, pick) && shoal_upstream_room(s);
}

/* Whether the balancer found nobody because the servers it might have chosen are all at
 * their max_conns (as opposed to out): then the request may wait for one. */
static bool upstream_saturated(const struct shoal_upstream *u,
			       const struct shoal_upstream_pick *pick)
{
	for (size_t i = 0; u->limited && i < u->nservers; i++)
		if (upstream_eligible(&u->servers[i], pick) && !shoal_upstream_room(&u->servers[i]))
			return true;
	return false;
}

/* Which servers the balancer chooses among: usable primaries, else usable backups, else
 * (or with too few usable primaries) every primary not taken out on purpose. The share is of
 * the primaries in service: draining half a group is no reason to panic. */
static void upstream_tier(const struct shoal_upstream *u, struct shoal_upstream_pick *pick)
{
	size_t usable = 0, backups = 0, serving = 0;

	for (size_t i = 0; i < u->nservers; i++) {
		const struct shoal_upstream_server *s = &u->servers[i];
		if (!s->conf->backup && !shoal_upstream_excluded(s))
			serving++;
		if (!shoal_upstream_usable(s, pick->now_ms))
			continue;
		if (s->conf->backup)
			backups++;
		else
			usable++;
	}
	pick->backup = !usable && backups;
	pick->panic = !usable && !backups;
	if (usable && usable * 100 < (size_t)u->conf->policy.panic_threshold * serving)
		pick->panic = true;
}

struct shoal_upstream_server *shoal_upstream_select(struct shoal_upstream *u,
						    struct shoal_upstream_pick *pick)
{
	struct shoal_upstream_server *s = &u->servers[0];

	/* One server (no backup then): whatever its health, the tiers come down to it, unless
	 * it is out on purpose. The common case of a group per application instance. */
	if (u->nservers == 1 && !pick->ntried) {
		pick->backup = pick->panic = pick->avoid_tried = false;
		pick->full = false;
		if (shoal_upstream_excluded(s))
			return NULL;
		pick->full = !shoal_upstream_room(s);
		return pick->full ? NULL : s;
	}
	upstream_tier(u, pick);
	pick->avoid_tried = pick->ntried > 0;
	s = u->balancer->select(u, pick);
	if (!s && pick->avoid_tried) {
		pick->avoid_tried = false;
		s = u->balancer->select(u, pick);
	}
	pick->full = !s && upstream_saturated(u, pick);
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
