/* One TCP connection to an upstream server. It is registered with the worker's epoll once,
 * edge-triggered, for both directions, when it is opened, and stays so for its lifetime:
 * a request on a kept-alive connection costs no epoll_ctl. Its events go to whoever holds
 * it: the exchange that uses it, or the pool while it is idle (upstream/pool.h).
 *
 * To a group with tls, the connection is TLS: once the TCP connect is done, a client
 * handshake (the group's context, the server's tls_name), stepped on the connection's
 * events; it holds its struct shoal_tls_conn in an allocation of its own, which stays where
 * it is until the connection is closed. A holder waits for shoal_upstream_conn_establish,
 * then moves every byte through shoal_upstream_conn_transport; a pooled connection is
 * established already.
 *
 * Closing puts the struct on the set's closed list; it is reused after the event batch. A
 * TLS connection is closed without close_notify, as HTTP peers expect. */
#ifndef SHOAL_UPSTREAM_CONN_H
#define SHOAL_UPSTREAM_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "shoal/net/event.h"
#include "shoal/net/proxy_proto.h"
#include "shoal/net/transport.h"
#include "shoal/tls/conn.h"
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
	uint8_t stage;     /* how far establishing has come (conn.c) */
	uint16_t preface_len; /* of preface, what is left of it to send */
	struct shoal_upstream_announce announce; /* set by the proxy, with send_proxy_protocol */
	const char *preface; /* the holder's: sent in clear before the handshake */
	struct shoal_tls_conn *tls; /* a tls group's, once connected; NULL: plain TCP so far */
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

/* Bytes to send in clear as soon as the connection is made, before a tls group's handshake:
 * a PROXY protocol header, which the protocol puts ahead of TLS. p must stay valid until
 * the connection is established. Right after opening, before any event. */
void shoal_upstream_conn_preface(struct shoal_upstream_conn *uc, const char *p, size_t len);

/* Takes a new connection on, event by event (call it with the events of each, from the
 * first, until it returns other than EAGAIN): 0 once it is ready for the holder's bytes (the
 * connect done, the preface sent, a tls group's handshake done; read at once then: no event
 * may come for bytes that arrived during it); EAGAIN until then; else the failure's errno:
 * the connect's (ECONNREFUSED, ...; ECONNRESET when the socket hung up without one), ENOMEM,
 * or EPROTO for a failed handshake, which shoal_upstream_conn_tls_failure describes. The
 * holder bounds the time it takes (connect_timeout). */
int shoal_upstream_conn_establish(struct shoal_upstream_conn *uc, uint32_t events);

/* Why uc's handshake failed, for a log line: the failure's class and OpenSSL's words
 * ("certificate: unable to get local issuer certificate", or "closed" alone), written into
 * buf; NULL when uc has no failed handshake. */
const char *shoal_upstream_conn_tls_failure(const struct shoal_upstream_conn *uc, char *buf,
					    size_t size);

/* What the readiness in events (EPOLLIN, EPOLLOUT, an end) means for an established uc:
 * whether a read may go on (*readable) and a write (*writable). For TCP each direction
 * has its own readiness; over TLS a direction whose last EAGAIN waits for the other's
 * (shoal/net/transport.h) goes on with that one too. Sets only, never clears. */
void shoal_upstream_conn_readiness(struct shoal_upstream_conn *uc, uint32_t events,
				   bool *readable, bool *writable);

/* The transport of an established uc's bytes: its TLS, or plain TCP over its socket, built
 * in *tcp, which must outlive the use of the result. Inline: the proxy asks for every read
 * and write. */
static inline struct shoal_transport *shoal_upstream_conn_transport(struct shoal_upstream_conn *uc,
								    struct shoal_transport *tcp)
{
	const struct shoal_event_loop *loop = uc->server->group->set->loop;

	if (uc->tls)
		return &uc->tls->transport;
	*tcp = *SHOAL_TRANSPORT_TCP_EV(&uc->ev, loop->sendq, loop->recvq);
	return tcp;
}

/* Whether nothing waits unread in the socket, nor inside its transport (decrypted, or read
 * ahead by the loop: shoal_transport_pending): a connection
 * whose reads did not go on to EAGAIN is checked before it is pooled, since bytes already
 * there raise no new event. One system call (a peek). */
bool shoal_upstream_conn_drained(struct shoal_upstream_conn *uc);

/* Closes the socket and recycles the struct after the event batch. Not for an idle one:
 * the pool closes those. */
void shoal_upstream_conn_close(struct shoal_upstream_conn *uc);

#endif
