#include "shoal/upstream/balancer.h"

#include "draw.h"

/* Nothing to ready: the loads are the shared counts and the draws are random. */
static int least_conn_init(struct shoal_upstream *u)
{
	(void)u;
	return 0;
}

/* Two choices, not the least loaded of all: every worker reads the same counts, a little
 * stale under load, and would send its next requests to the same minimum; two random
 * choices spread them while still never choosing the more loaded of a pair. */
const struct shoal_balancer shoal_balancer_least_conn = { "least_conn", least_conn_init,
							  shoal_upstream_draw_lighter, NULL };
