#include "shoal/upstream/balancer.h"

static void rr_init(struct shoal_upstream *u)
{
	u->total_weight = 0;
	for (size_t i = 0; i < u->nservers; i++) {
		u->servers[i].current = 0;
		u->total_weight += u->servers[i].conf->weight;
	}
}

/* Every server gains its weight, the one ahead is picked and pays the total back: the
 * running weights always sum to zero, so no server can fall behind for long. */
static struct shoal_upstream_server *rr_select(struct shoal_upstream *u)
{
	struct shoal_upstream_server *best = &u->servers[0];

	if (u->nservers == 1)
		return best;
	for (size_t i = 0; i < u->nservers; i++) {
		struct shoal_upstream_server *s = &u->servers[i];
		s->current += s->conf->weight;
		if (s->current > best->current)
			best = s;
	}
	best->current -= u->total_weight;
	return best;
}

const struct shoal_balancer shoal_balancer_rr = { "round_robin", rr_init, rr_select };
