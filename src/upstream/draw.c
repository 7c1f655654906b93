#include "shoal/upstream/health.h"
#include "shoal/upstream/upstream.h"

#include "draw.h"

/* The candidate under point r of the candidates' weights laid end to end, except `except`.
 * Another process may have changed a weight or a health since the weights were summed
 * (shoalctl, the checker, another worker's ejection): a point past the end falls on the
 * last candidate, and NULL means no candidate is left. */
static struct shoal_upstream_server *draw_at(struct shoal_upstream *u,
					     const struct shoal_upstream_pick *pick, uint64_t r,
					     const struct shoal_upstream_server *except)
{
	struct shoal_upstream_server *last = NULL;

	for (size_t i = 0; i < u->nservers; i++) {
		struct shoal_upstream_server *s = &u->servers[i];
		uint64_t w;
		if (s == except || !shoal_upstream_candidate(s, pick))
			continue;
		w = shoal_upstream_weight(s, pick->now_ms);
		if (r < w)
			return s;
		r -= w;
		last = s;
	}
	return last;
}

/* Up to two distinct candidates into two[], weighted; returns how many. */
static unsigned draw_two(struct shoal_upstream *u, const struct shoal_upstream_pick *pick,
			 struct shoal_upstream_server *two[2])
{
	uint64_t total = 0, w;
	unsigned n = 0;

	for (size_t i = 0; i < u->nservers; i++) {
		struct shoal_upstream_server *s = &u->servers[i];
		if (!shoal_upstream_candidate(s, pick))
			continue;
		total += shoal_upstream_weight(s, pick->now_ms);
		two[0] = s;
		n++;
	}
	if (n < 2)
		return n;
	two[0] = draw_at(u, pick, shoal_upstream_random(u->set) % total, NULL);
	if (!two[0])
		return 0;
	w = shoal_upstream_weight(two[0], pick->now_ms);
	total = total > w ? total - w : 1;
	two[1] = draw_at(u, pick, shoal_upstream_random(u->set) % total, two[0]);
	return two[1] ? 2 : 1;
}

struct shoal_upstream_server *shoal_upstream_draw_lighter(struct shoal_upstream *u,
							  const struct shoal_upstream_pick *pick)
{
	struct shoal_upstream_server *two[2] = { NULL, NULL };
	uint64_t a0, a1, w0, w1;
	unsigned n = draw_two(u, pick, two);

	if (n < 2)
		return n ? two[0] : NULL;
	a0 = shoal_upstream_active(two[0]);
	a1 = shoal_upstream_active(two[1]);
	w0 = shoal_upstream_weight(two[0], pick->now_ms);
	w1 = shoal_upstream_weight(two[1], pick->now_ms);
	/* a1 / w1 < a0 / w0 without division (both products fit: 32 by 32 bits). */
	return a1 * w0 < a0 * w1 ? two[1] : two[0];
}
