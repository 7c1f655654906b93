/* TLS on a listen address with the tls flag ("*:443 tls"). A connection accepted there gets
 * its TLS state (struct shoal_tls_conn) beside it in the worker's pool, where it stays put for
 * the connection's life as OpenSSL requires; the handshake comes first, a step per socket
 * event, never blocking; then every byte the connection reads or sends, its end and its close
 * go through the state's transport, also when an answer that goes on (the proxy) has the
 * socket. An idle keep-alive connection keeps its SSL, whose record buffers OpenSSL frees
 * while idle. With the PROXY protocol as well, the header comes before the handshake: it is
 * peeked at, then exactly its bytes are taken from the socket, so that OpenSSL reads the
 * handshake from its first byte. Every handshake is counted: done (full or resumed, and
 * its version) or failed by reason.
 *
 * Like proxy_header.c, this module reads and fills a connection's fields; the connection
 * (conn.c) decides what comes next, and this module calls nothing of it. */
#ifndef SHOAL_WORKER_CONN_TLS_H
#define SHOAL_WORKER_CONN_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shoal/net/transport.h"
#include "shoal/tls/context.h"

struct shoal_conn;
struct shoal_conn_env;

/* The transport of c, a connection of env: its TLS state's, or plain TCP over its socket
 * built on the caller's stack (valid to the end of the enclosing block). Sends join the
 * loop's queue once c has been watched: a connection answered before it ever waited (one
 * request per connection) gains nothing from a queue of one send and would pay a second
 * pass for its result; one that stays is watched from then on, for good. */
#define SHOAL_CONN_TRANSPORT(env, c) \
	((c)->tls ? shoal_conn_tls_transport((env), (c)) : SHOAL_CONN_TCP((env), (c)))

/* The plain TCP transport of c, as SHOAL_CONN_TRANSPORT builds it. */
#define SHOAL_CONN_TCP(env, c)                                                                \
	SHOAL_TRANSPORT_TCP_EV(&(c)->ev, (c)->watched ? (env)->loop->sendq : NULL,            \
			       (env)->loop->recvq)

/* c, just accepted on an address that speaks TLS with the contexts of set: its TLS state,
 * taken from env's pool (c->tls). false if memory runs out: close c (through its transport
 * if c->tls is set, which then closes the socket alone). */
bool shoal_conn_tls_accept(struct shoal_conn_env *env, struct shoal_conn *c,
			   const struct shoal_tls_context_set *set);

/* The transport of c's TLS state (c->tls is set). */
struct shoal_transport *shoal_conn_tls_transport(const struct shoal_conn_env *env,
						 const struct shoal_conn *c);

enum shoal_conn_tls_step {
	SHOAL_CONN_TLS_DONE,  /* the handshake is done (counted): read at once */
	SHOAL_CONN_TLS_WAIT,  /* for the socket's next event */
	SHOAL_CONN_TLS_CLOSE, /* it failed (counted by reason): close the connection */
};

/* One step of c's handshake. */
enum shoal_conn_tls_step shoal_conn_tls_handshake(struct shoal_conn_env *env,
						  struct shoal_conn *c);

/* c (c->tls set) is closed next, all said: its close_notify, best effort (a record that
 * finds no room is dropped with the connection). */
void shoal_conn_tls_close_notify(const struct shoal_conn_env *env, const struct shoal_conn *c);

/* c's handshake did not end within header_timeout: counted. */
void shoal_conn_tls_timed_out(struct shoal_conn_env *env);

/* The PROXY protocol before TLS: reads what the socket holds into buf, len bytes at most,
 * leaving it there (MSG_PEEK), so that the header can be parsed; as a read of the transport
 * (bytes, 0 at the end, -1 with errno). */
ssize_t shoal_conn_tls_peek(const struct shoal_conn *c, void *buf, size_t len);

/* Takes the header's used bytes, peeked at before, out of c's socket; false if it could
 * not (the connection is then to be closed). */
bool shoal_conn_tls_skip(const struct shoal_conn *c, size_t used);

#endif
