/* Weighted random draws among a pick's candidates, for the balancers that choose by chance
 * (least_conn, random). A draw allocates nothing: it walks the group's servers once to sum
 * the candidates' effective weights, then once more per server drawn. */
#ifndef SHOAL_UPSTREAM_DRAW_H
#define SHOAL_UPSTREAM_DRAW_H

#include "shoal/upstream/upstream.h"

/* Of two distinct candidates of pick, each drawn with a chance in proportion to its
 * effective weight (the second among the candidates left), the one with fewer requests in
 * flight per unit of weight; the first drawn on a tie, so equal loads leave the shares to
 * the weights. The only candidate when there is one; NULL when there is none. Draws from
 * the worker's random source (shoal_upstream_random). */
struct shoal_upstream_server *shoal_upstream_draw_lighter(struct shoal_upstream *u,
							  const struct shoal_upstream_pick *pick);

#endif
