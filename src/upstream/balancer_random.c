#include "shoal/upstream/balancer.h"

#include "draw.h"

/* Nothing to ready: the draws are random and the loads are the shared counts. */
static int random_init(struct shoal_upstream *u)
{
	(void)u;
	return 0;
}

/* "The less loaded" is measured per unit of weight, as least_conn measures it: raw counts
 * would pull a heavy and a light server to equal loads whenever both are drawn, and with
 * two servers both always are, so the weights would stop counting under load. */
const struct shoal_balancer shoal_balancer_random = { "random", random_init,
						      shoal_upstream_draw_lighter, NULL };
