/* One client connection: read, parse, route, answer, keep alive or close. A new connection
 * is read at once (its request is there: the listeners defer accepting until it is) and
 * registered with epoll only if it then has to wait. Edge-triggered: the fd is registered at
 * most once, for both directions, and never modified, so a request costs no epoll_ctl; the
 * connection remembers whether the socket may still hold unread bytes. An idle connection
 * holds no buffer: only the few bytes of struct shoal_conn.
 *
 * On an address with proxy_protocol, a connection must first come from a peer in
 * proxy_protocol_from, then send a PROXY protocol header within proxy_protocol_timeout of its
 * accept (read once; the header's source is then its client); a failure closes it unanswered.
 *
 * On an address with the tls flag, a connection first makes its TLS handshake (after the PROXY
 * protocol header, with both flags) under header_timeout, then speaks through its TLS state
 * (shoal/worker/conn_tls.h) whatever it does.
 *
 * Connections live in a struct shoal_conn_env, which the worker owns and fills and which
 * this module alone changes afterwards: the connection count, the timer queues, the pool and
 * the connections to resume. The worker learns of a closed connection through on_closed. */
#ifndef SHOAL_WORKER_CONN_H
#define SHOAL_WORKER_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "shoal/handler/handler.h"
#include "shoal/http/chunked.h"
#include "shoal/http/parser.h"
#include "shoal/net/event.h"
#include "shoal/net/out.h"
#include "shoal/net/timer.h"
#include "shoal/route/route.h"
#include "shoal/worker/access_log.h"
#include "shoal/worker/pool.h"
#include "shoal/worker/proxy_header.h"

enum shoal_conn_state {
	SHOAL_CONN_READING,   /* waiting for or parsing requests */
	SHOAL_CONN_WRITING,   /* a batch of responses is being sent */
	SHOAL_CONN_LINGERING, /* write side shut; reading until the client closes */
	SHOAL_CONN_ASYNC,     /* an answer that goes on (the proxy) owns the socket */
	SHOAL_CONN_PROXY_HEADER, /* waiting for the PROXY protocol header that opens it */
	SHOAL_CONN_TLS_HANDSHAKE, /* making its TLS handshake */
};

/* The buffers of a connection that is busy, taken from the pool. */
struct shoal_conn_io {
	struct shoal_conn_io *next_free;
	/* In the environment's list of connections to resume after the current events. */
	struct shoal_conn *owner;
	struct shoal_conn_io *deferred_prev, *deferred_next;
	bool deferred;
	uint32_t in_len, in_pos, in_scanned;
	bool body_chunked;
	uint64_t body_left; /* request body bytes still to discard */
	uint64_t body_seen; /* bytes of the chunked body discarded so far */
	struct shoal_http_chunked chunked;
	uint64_t read_us; /* when the last bytes arrived, for the latency histogram */
	struct shoal_handler_client client;  /* lent to an answer that goes on */
	struct shoal_transport tcp;          /* its transport, over plain TCP */
	struct shoal_handler_async *async;   /* that answer, until it is done */
	uint32_t async_head_len;             /* its request head's size, for the stats */
	/* The client of the request answered last, as the router found it (real_ip_from may
	 * have replaced the peer), for the access log, also of an answer that goes on. */
	uint8_t client_family;
	uint8_t client_addr[16];
	struct shoal_out out;
	char *in;
	char storage[]; /* in buffer, then out scratch */
};

struct shoal_conn_env;

/* What a connection knows of the address it was accepted on. */
struct shoal_conn_origin {
	struct shoal_conn_env *env;
	const struct shoal_route *route;
	/* NULL, or the address requires a PROXY protocol header from these peers */
	const struct shoal_proxy_header_listen *proxy_header;
	/* NULL, or the address speaks TLS with these contexts */
	const struct shoal_tls_context_set *tls;
};

struct shoal_conn {
	struct shoal_event_source ev;
	struct shoal_timer timer;
	struct shoal_timer_queue *timer_q; /* the queue timer is armed in */
	const struct shoal_conn_origin *origin;
	union {
		struct shoal_conn_io *io;  /* while open; NULL when idle */
		struct shoal_conn *next;   /* while in the pool's free or closed list */
	};
	uint32_t requests;
	/* The ends its PROXY protocol header named, in the pool (shoal_pool_relayed); 0: none.
	 * An index, not a pointer: it fits in what was padding. */
	uint32_t relayed;
	/* Its TLS state on a tls address, in the pool (shoal_pool_tls); 0: plain TCP. */
	uint32_t tls;
	uint16_t peer_port;  /* host byte order */
	uint8_t peer_family; /* AF_INET or AF_INET6 */
	uint8_t peer_addr[16]; /* the socket's peer, or the header's source */
	/* Bit-fields, so that tls fits in the 96 bytes the struct had. */
	unsigned state : 3;       /* enum shoal_conn_state */
	unsigned stats_phase : 2; /* enum shoal_stats_phase */
	bool readable : 1;    /* the socket may hold bytes we have not read */
	bool watched : 1;     /* registered with epoll: only once it has to wait for something */
	bool close_after : 1; /* close once the pending responses are out */
};

_Static_assert(sizeof(struct shoal_conn) == 96, "an idle connection's size");

struct shoal_conn_env {
	struct shoal_event_loop *loop;
	struct shoal_handler_ctx *handler; /* its now_ms is the connections' clock too */
	struct shoal_access_log *access_log;
	struct shoal_conn_pool pool;
	/* Every open connection sits in exactly one of these queues. */
	struct shoal_timer_queue header_q;    /* waiting for a request head */
	struct shoal_timer_queue keepalive_q; /* idle between requests */
	struct shoal_timer_queue send_q;      /* waiting for the client to read */
	struct shoal_timer_queue linger_q;    /* closing: draining what the client still sends */
	struct shoal_timer_queue async_q;     /* answered by an answer that keeps its own time */
	struct shoal_timer_queue proxy_q;     /* waiting for a PROXY protocol header */
	struct shoal_proxy_header_refusals proxy_refusals;
	struct shoal_conn_io *deferred; /* connections to resume: see shoal_conn_resume_deferred */
	struct shoal_http_limits limits;
	struct shoal_http_request req; /* the request being answered; never kept across events */
	size_t nconns;
	bool draining; /* no keep-alive: every next answer closes */
	void (*on_closed)(struct shoal_conn_env *env); /* after a connection closed */
};

/* Sets up env's queues, limits and pool from the handler context's configuration. The
 * caller sets loop, access_log and on_closed. */
void shoal_conn_env_init(struct shoal_conn_env *env, struct shoal_handler_ctx *handler);
/* Frees what the pool holds; every connection must be closed and recycled first. */
void shoal_conn_env_free(struct shoal_conn_env *env);

/* Takes over an accepted socket. */
void shoal_conn_accept(const struct shoal_conn_origin *origin, int fd,
		       const struct sockaddr_storage *peer);

/* Handles the timers due at the handler context's now_ms. */
void shoal_conn_expire(struct shoal_conn_env *env);
/* Milliseconds until the next connection timer (0: due, or a connection to resume), or -1. */
int64_t shoal_conn_next_ms(const struct shoal_conn_env *env);

/* Gives every connection whose large body had its turn its next one. */
void shoal_conn_resume_deferred(struct shoal_conn_env *env);

/* Closes the idle keep-alive connections (the server stops: no next request is served). */
void shoal_conn_close_idle(struct shoal_conn_env *env);
/* Closes every connection (the end of a graceful stop). */
void shoal_conn_close_all(struct shoal_conn_env *env);

#endif
