/* The upstream groups of a worker, as the proxy uses them: each group's servers, the
 * balancer that picks one for a request, and per server the pool of idle keep-alive
 * connections. Everything here is the worker's own; nothing is shared between workers.
 *
 * Memory: the set, its groups and servers are made once at worker start. Connections are
 * structs recycled through the set (see upstream/conn.h); none is allocated per request
 * once the pools are warm. */
#ifndef SHOAL_UPSTREAM_UPSTREAM_H
#define SHOAL_UPSTREAM_UPSTREAM_H

#include <stddef.h>

#include "shoal/base/error.h"
#include "shoal/config/config.h"
#include "shoal/net/event.h"

struct shoal_upstream;
struct shoal_upstream_conn;
struct shoal_balancer;
struct shoal_stats_slot;

/* One server of a group, with its pool of idle connections. */
struct shoal_upstream_server {
	const struct shoal_upstream_server_conf *conf;
	struct shoal_upstream *group;
	struct shoal_upstream_conn *idle; /* most recently used first */
	unsigned nidle;
	unsigned index;         /* in the group */
	int stats_index;        /* of its entry in the worker's stats slot; -1: none */
	long long current;      /* smooth weighted round robin: this server's running weight */
};

/* A group of servers that locations forward to. */
struct shoal_upstream {
	const struct shoal_upstream_conf *conf;
	struct shoal_upstream_server *servers;
	size_t nservers;
	const struct shoal_balancer *balancer;
	struct shoal_upstream_set *set;
	long long total_weight;
};

/* All groups of a worker, and the connection structs they recycle. */
struct shoal_upstream_set {
	struct shoal_upstream *groups; /* in the order of cfg->upstreams */
	size_t ngroups;
	struct shoal_event_loop *loop;
	struct shoal_upstream_conn *closed; /* closed during this event batch */
	struct shoal_upstream_conn *free;   /* ready for reuse */
	size_t nfree;
	struct shoal_stats_slot *stats;     /* the worker's counters (idle gauges); may be NULL */
};

/* Makes the groups of cfg, each balanced by round robin. -1 with err set if memory runs
 * out; the set then holds nothing to free. */
int shoal_upstream_set_init(struct shoal_upstream_set *set, const struct shoal_config *cfg,
			    struct shoal_event_loop *loop, struct shoal_err *err);
/* Closes every idle connection and frees the set; no connection may be busy. */
void shoal_upstream_set_free(struct shoal_upstream_set *set);

/* After an event batch: the connections closed during it become reusable (an event for
 * one may have been pending in the batch, so its struct is kept until then). */
void shoal_upstream_set_recycle(struct shoal_upstream_set *set);

/* The server the group's balancer picks for the next request. */
struct shoal_upstream_server *shoal_upstream_select(struct shoal_upstream *u);

#endif
