/* The upstream groups of a worker, as the proxy uses them: each group's servers, the
 * balancer that picks one for a request, and per server the pool of idle keep-alive
 * connections. Those are the worker's own; what every worker must see alike (health, load,
 * drain) is each server's entry in the state file, `shared` (shoal/state/upstream.h), read
 * and written through shoal/upstream/health.h.
 *
 * upstream.c makes and frees the groups; select.c chooses a server for a try (the tiers,
 * the candidates, the random source and the key hash the balancers share).
 *
 * Memory: the set, its groups and servers are made once at worker start. Connections are
 * structs recycled through the set (see upstream/conn.h); none is allocated per request
 * once the pools are warm. */
#ifndef SHOAL_UPSTREAM_UPSTREAM_H
#define SHOAL_UPSTREAM_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal/base/error.h"
#include "shoal/config/config.h"
#include "shoal/net/event.h"
#include "shoal/tls/context.h"

struct shoal_upstream;
struct shoal_upstream_conn;
struct shoal_balancer;
struct shoal_stats_slot;
struct shoal_state;
struct shoal_state_upstream;
struct ssl_ctx_st;

/* One server of a group, with its pool of idle connections. */
struct shoal_upstream_server {
	const struct shoal_upstream_server_conf *conf;
	struct shoal_upstream *group;
	struct shoal_upstream_conn *idle; /* most recently used first */
	unsigned nidle;
	unsigned index;         /* in the group */
	int stats_index;        /* of its entry in the worker's stats slot; -1: none */
	long long current;      /* smooth weighted round robin: this server's running weight */
	struct shoal_state_upstream *shared; /* never NULL: in the state file, or the worker's
					      * own when the file has no entry for it */
	bool shared_own;        /* shared is the worker's own allocation */
	unsigned addr_turn;     /* a name's: the address of its set the next connection goes
				 * to (shoal/upstream/address.h) */
	char *tls_name;         /* a tls group's: what its certificate must name (and SNI
				 * carries, for a name): tls_server_name, else the host of a
				 * name, else the address; NULL without tls */
	/* A tls group's: the session its next new connection resumes (the last one the server
	 * issued to this worker), so that only the first costs a full handshake. */
	struct shoal_tls_session_slot tls_session;
};

/* A group of servers that locations forward to. */
struct shoal_upstream {
	const struct shoal_upstream_conf *conf;
	struct shoal_upstream_server *servers;
	size_t nservers;
	const struct shoal_balancer *balancer;
	void *balancer_data;    /* the balancer's own (the hash ring) */
	struct shoal_upstream_set *set;
	size_t nprimaries;      /* servers that are neither backup nor down by configuration */
	bool limited;           /* some server has a max_conns */
	/* With a queue: the group's entry in the state file, whose `active` counts the requests
	 * waiting in the queue over every worker (shoal/upstream/health.h); NULL without. */
	struct shoal_state_upstream *queue_shared;
	bool queue_own;         /* queue_shared is the worker's own allocation */
	struct ssl_ctx_st *tls; /* a tls group's client context (tls_ca, tls_verify); NULL:
				 * plain TCP */
};

/* Servers one request may try: the first and every retry. */
#define SHOAL_UPSTREAM_TRIES_MAX 16

/* One choice of a server, for a request's first try or a retry. The caller fills now_ms,
 * hash (balance = hash) and tried; shoal_upstream_select fills the rest for the balancer. */
struct shoal_upstream_pick {
	uint64_t now_ms;
	uint64_t hash;      /* the request's key, hashed (shoal_upstream_hash) */
	unsigned tried[SHOAL_UPSTREAM_TRIES_MAX]; /* server indexes this request tried */
	unsigned ntried;
	/* Set by shoal_upstream_select for the balancer (see shoal_upstream_candidate): */
	bool backup;        /* choose among the backup servers */
	bool panic;         /* too few usable: health is ignored (admin and down are not) */
	bool avoid_tried;   /* servers in tried are not candidates */
	bool full;          /* no server chosen, but one would have been below its max_conns */
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
	uint64_t rng;                       /* the balancers' random numbers (xorshift) */
};

/* Makes the groups of cfg, each with its configured balancer, their servers' entries found
 * in state (NULL: no state file; every server then gets an entry of its own), and a tls
 * group's client context: tls_clients[i] for cfg's group i, the master's (which loaded the
 * CAs as its user, before a worker drops its privileges), or, when tls_clients is NULL, one
 * made here. -1 with err set if memory runs out or a group's tls_ca does not load (named);
 * the set then holds nothing to free. */
int shoal_upstream_set_init(struct shoal_upstream_set *set, const struct shoal_config *cfg,
			    struct ssl_ctx_st *const *tls_clients, const struct shoal_state *state,
			    struct shoal_event_loop *loop, struct shoal_err *err);
/* Closes every idle connection and frees the set; no connection may be busy. */
void shoal_upstream_set_free(struct shoal_upstream_set *set);

/* The client context of the tls group conf: its CAs (tls_ca, else the system's) loaded, any
 * certificate taken if tls_verify is false. NULL with err set (OpenSSL's reason). The master
 * makes them for the workers, which may not be allowed to read the CAs. */
struct ssl_ctx_st *shoal_upstream_tls_client(const struct shoal_upstream_conf *conf,
					     struct shoal_err *err);

/* After an event batch: the connections closed during it become reusable (an event for
 * one may have been pending in the batch, so its struct is kept until then). */
void shoal_upstream_set_recycle(struct shoal_upstream_set *set);

/* The server for a request's next try, or NULL when the group has no server that may take
 * one (every server down by configuration or by shoalctl, or at its max_conns: then
 * pick->full is set). The tier: usable primaries; if none, usable backups; with fewer
 * usable primaries than panic_threshold percent (or none usable at all), every primary not
 * taken out by configuration or shoalctl. A server at its max_conns stays in the tier: a
 * busy primary does not send requests to the backups, it makes them wait in the queue.
 * Within the tier, servers already tried are avoided while another is a candidate. The
 * server is not reserved: see shoal_upstream_reserve. */
struct shoal_upstream_server *shoal_upstream_select(struct shoal_upstream *u,
						    struct shoal_upstream_pick *pick);

/* Whether s may be chosen for pick (the balancers' filter): of pick's tier, not tried if
 * avoid_tried, usable (shoal/upstream/health.h) unless pick->panic, and below its max_conns
 * (shoal_upstream_room), panic or not. */
bool shoal_upstream_candidate(const struct shoal_upstream_server *s,
			      const struct shoal_upstream_pick *pick);

/* A random number from the worker's generator, for the balancers. */
uint64_t shoal_upstream_random(struct shoal_upstream_set *set);

/* The 64-bit hash of a key for balance = hash (the same function places servers on the
 * ring): stable across processes, versions of shoal and machines. */
uint64_t shoal_upstream_hash(const void *key, size_t len);

#endif
