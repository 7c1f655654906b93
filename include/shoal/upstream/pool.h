/* Keep-alive pools: per server, up to the group's `keepalive` idle connections, most
 * recently used first (the warmest, the least likely to have been closed by the server).
 * An idle connection that the server closes, or that receives anything (an answer to no
 * request can only be garbage), is noticed through its events and dropped at once, so a
 * pooled connection taken for a request is rarely stale; the proxy retries the ones that
 * are (see handler/proxy.h). A connection to an address set since replaced (a server given by
 * name, shoal/upstream/address.h) is closed rather than kept or reused. */
#ifndef SHOAL_UPSTREAM_POOL_H
#define SHOAL_UPSTREAM_POOL_H

#include "shoal/upstream/conn.h"

/* An idle connection to s, now held by holder with on_event, or NULL if the pool has none
 * (idle connections to a replaced address set are closed on the way). */
struct shoal_upstream_conn *shoal_upstream_pool_get(struct shoal_upstream_server *s,
						    shoal_upstream_conn_fn on_event, void *holder);

/* The same, for a group with send_proxy_protocol: an idle connection whose header announced
 * what want does (the same source, and the same destination or client socket: see struct
 * shoal_upstream_announce), the most recently used first, or NULL. A linear scan, over at
 * most the group's keepalive connections. */
struct shoal_upstream_conn *
shoal_upstream_pool_get_announced(struct shoal_upstream_server *s,
				  const struct shoal_upstream_announce *want,
				  shoal_upstream_conn_fn on_event, void *holder);

/* Takes back a connection whose exchange ended cleanly (the response was read whole, the
 * server keeps it open): kept if the pool has room, else closed. */
void shoal_upstream_pool_put(struct shoal_upstream_conn *uc);

/* Closes every idle connection of s. */
void shoal_upstream_pool_drain(struct shoal_upstream_server *s);

#endif
