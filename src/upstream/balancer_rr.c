#include "shoal/upstream/balancer.h"
#include "shoal/upstream/health.h"

static int rr_init(struct shoal_upstream *u)
{
	for (size_t i = 0; i < u->nservers; i++)
		u->servers[i].current = 0;
	return 0;
}

/* Every candidate gains its weight, the one ahead is picked and pays the candidates' total
 * back: the running weights sum to zero over a stable set, so no server falls behind for
 * long, and a server that leaves or joins the candidates (health, slow start) shifts the
 * shares at once without a rebuild. */
static struct shoal_upstream_server *rr_select(struct shoal_upstream *u,
					       const struct shoal_upstream_pick *pick)
{
	struct shoal_upstream_server *best = NULL;
	long long total = 0;

	for (size_t i = 0; i < u->nservers; i++) {
		struct shoal_upstream_server *s = &u->servers[i];
		long long w;
		if (!shoal_upstream_candidate(s, pick))
			continue;
		w = shoal_upstream_weight(s, pick->now_ms);
		s->current += w;
		total += w;
		if (!best || s->current > best->current)
			best = s;
	}
	if (best)
		best->current -= total;
	return best;
}

const struct shoal_balancer shoal_balancer_rr = { "round_robin", rr_init, rr_select, NULL };
