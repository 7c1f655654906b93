/* One TCP connection to an upstream server. It is registered with the worker's epoll once,
 * edge-triggered, for both directions, when it is opened, and stays so for its lifetime:
 * a request on a kept-alive connection costs no epoll_ctl. Its events go to whoever holds
 * it: the exchange that uses it, or the pool while it is idle (upstream/pool.h).
 *
 * Closing puts the struct on the set's closed list; it is reused after the event batch. */
#ifndef SHOAL_UPSTREAM_CONN_H
#define SHOAL_UPSTREAM_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "shoal/net/event.h"
#include "shoal/net/proxy_proto.h"
#include "shoal/upstream/address.h"
#include "shoal/upstream/upstream.h"

struct shoal_upstream_conn;
typedef void (*shoal_upstream_conn_fn)(struct shoal_upstream_conn *uc, uint32_t events);

/* The client that a connection's PROXY protocol header announced (a group with
 * send_proxy_protocol): the server takes every request on it as that client's, so it serves
 * no other (shoal_upstream_pool_get_announced). */
struct shoal_upstream_announce {
	struct shoal_proxy_proto_addrs ends; /* addresses zero-filled past their family's size */
	/* The client's socket, when the destination is that socket's own end (no header on
	 * shoal's listener relayed the client): the connection then serves that client
	 * connection alone, whose socket fixes the destination, so ends.dst is not compared
	 * (which would cost a getsockname per request). A later client connection accepted on
	 * the same descriptor from the very same address and port, to another local address,
	 * would be taken for it: the handler sees no identity of a client connection to tell
	 * them apart. -1 when a header named both ends: any request relayed with the same ends
	 * may use it. */
	int client_fd;
};

struct shoal_upstream_conn {
	struct shoal_event_source ev; /* fd -1 once closed */
	struct shoal_upstream_server *server;
	struct shoal_upstream_conn *prev, *next; /* in the server's idle list or the set's lists */
	shoal_upstream_conn_fn on_event;         /* the holder's */
	void *holder;
	uint32_t requests; /* sent on this connection so far: 0 means fresh */
	uint32_t addr_seq; /* the server's address set it was opened under (address.h) */
	bool idle;
	struct shoal_upstream_announce announce; /* set by the proxy, with send_proxy_protocol */
};

/* Opens a connection to s, at its next address (shoal_upstream_address_next): a
 * non-blocking connect, which usually completes later (the socket then becomes writable; a
 * failure shows as EPOLLERR and SO_ERROR). Returns 0 with *out set, or -1 with errno
 * (EMFILE, ECONNREFUSED, ENOMEM, ...). */
int shoal_upstream_conn_open(struct shoal_upstream_server *s, shoal_upstream_conn_fn on_event,
			     void *holder, struct shoal_upstream_conn **out);

/* The same, to the address a of s. */
int shoal_upstream_conn_open_to(struct shoal_upstream_server *s,
				const struct shoal_upstream_address *a,
				shoal_upstream_conn_fn on_event, void *holder,
				struct shoal_upstream_conn **out);

/* The pending error of the socket (SO_ERROR): 0 once connected. */
int shoal_upstream_conn_error(const struct shoal_upstream_conn *uc);

/* Whether nothing waits unread in the socket: a connection whose reads did not go on to
 * EAGAIN is checked before it is pooled, since bytes already there raise no new event. One
 * system call (a peek). */
bool shoal_upstream_conn_drained(const struct shoal_upstream_conn *uc);

/* Closes the socket and recycles the struct after the event batch. Not for an idle one:
 * the pool closes those. */
void shoal_upstream_conn_close(struct shoal_upstream_conn *uc);

#endif
