/* A balancing algorithm is two callbacks over a group's servers: one readies the group's
 * state when the group is made, one picks the server of the next request. Each algorithm
 * is one file, balancer_<name>.c, exporting its struct shoal_balancer. */
#ifndef SHOAL_UPSTREAM_BALANCER_H
#define SHOAL_UPSTREAM_BALANCER_H

#include "shoal/upstream/upstream.h"

struct shoal_balancer {
	const char *name;
	/* Readies u's balancing state; u->servers and their confs are set. */
	void (*init)(struct shoal_upstream *u);
	/* The server for the next request; u has at least one server. */
	struct shoal_upstream_server *(*select)(struct shoal_upstream *u);
};

/* Smooth weighted round robin: over any run of total-weight requests each server gets
 * exactly its weight's share, and a heavy server's turns are spread out, not bunched. */
extern const struct shoal_balancer shoal_balancer_rr;

#endif
