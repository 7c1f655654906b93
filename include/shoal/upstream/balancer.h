/* A balancing algorithm is a few callbacks over a group's servers: one readies the group's
 * state when the group is made, one picks the server of a try, one frees the state. Each
 * algorithm is one file, balancer_<name>.c, exporting its struct shoal_balancer.
 *
 * A balancer chooses only among candidates (shoal_upstream_candidate): shoal_upstream_select
 * decides the tier (primaries, backups, panic) and which servers a retry avoids, and calls
 * select again without avoiding when the first call found nothing. Weights are the effective
 * ones (shoal_upstream_weight: shoalctl's override, slow start); loads are the shared
 * in-flight counts (shoal_upstream_active), exact over every worker. */
#ifndef SHOAL_UPSTREAM_BALANCER_H
#define SHOAL_UPSTREAM_BALANCER_H

#include "shoal/upstream/upstream.h"

struct shoal_balancer {
	const char *name; /* as in the configuration: "round_robin" */
	/* Readies u's balancing state; u->servers and their confs are set. -1 if memory runs
	 * out. */
	int (*init)(struct shoal_upstream *u);
	/* A candidate server for pick, or NULL if u has none. */
	struct shoal_upstream_server *(*select)(struct shoal_upstream *u,
						const struct shoal_upstream_pick *pick);
	/* Frees what init made; NULL when it made nothing. */
	void (*dispose)(struct shoal_upstream *u);
};

/* Smooth weighted round robin: over any run of total-weight requests each server gets
 * exactly its weight's share, and a heavy server's turns are spread out, not bunched
 * (weights 5, 1, 1 give a a b a c a a). */
extern const struct shoal_balancer shoal_balancer_rr;

/* Least connections: of two candidates drawn at random (weighted), the one with fewer
 * requests in flight per unit of weight, counted over every worker. Two choices rather than
 * the global minimum, so that every worker reading the same slightly stale counts does not
 * pile onto the same server. */
extern const struct shoal_balancer shoal_balancer_least_conn;

/* Random: two weighted random candidates, the less loaded one wins. */
extern const struct shoal_balancer shoal_balancer_random;

/* Consistent hashing on a ring of points per server (in proportion to its weight): a key
 * goes to the first candidate clockwise from its hash. Removing a server from the
 * candidates moves only its own keys, and so does removing it from the configuration.
 * With hash_balance_factor, a server whose in-flight count exceeds that percent of the
 * group's mean is passed over for the next one on the ring (bounded load). */
extern const struct shoal_balancer shoal_balancer_hash;

/* The balancer named by a configuration's `balance`. */
const struct shoal_balancer *shoal_balancer_for(enum shoal_balance balance);

#endif
