/* One client connection: read, parse, answer, keep alive or close. A new connection is read
 * at once (its request is there: the listeners defer accepting until it is) and registered
 * with epoll only if it then has to wait. Edge-triggered: the fd is registered at most once,
 * for both directions, and never modified, so a request costs no epoll_ctl; the connection
 * remembers whether the socket may still hold unread bytes. An idle connection holds no
 * buffer: only the few bytes of struct shoal_conn. */
#ifndef SHOAL_WORKER_CONN_H
#define SHOAL_WORKER_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "shoal/net/event.h"
#include "shoal/http/chunked.h"
#include "shoal/http/parser.h"
#include "shoal/net/out.h"
#include "shoal/net/timer.h"

struct shoal_worker;
struct shoal_worker_listener;

enum shoal_conn_state {
	SHOAL_CONN_READING,   /* waiting for or parsing requests */
	SHOAL_CONN_WRITING,   /* a batch of responses is being sent */
	SHOAL_CONN_LINGERING, /* write side shut; reading until the client closes */
};

/* The buffers of a connection that is busy, taken from a per-worker pool. */
struct shoal_conn_io {
	struct shoal_conn_io *next_free;
	/* In the worker's list of connections to resume after the current events. */
	struct shoal_conn *owner;
	struct shoal_conn_io *deferred_prev, *deferred_next;
	bool deferred;
	uint32_t in_len, in_pos, in_scanned;
	bool body_chunked;
	uint64_t body_left; /* request body bytes still to discard */
	uint64_t body_seen; /* bytes of the chunked body discarded so far */
	struct shoal_http_chunked chunked;
	uint64_t read_us; /* when the last bytes arrived, for the latency histogram */
	struct shoal_out out;
	char *in;
	char storage[]; /* in buffer, then out scratch */
};

struct shoal_conn {
	struct shoal_event_source ev;
	struct shoal_timer timer;
	struct shoal_timer_queue *timer_q; /* the queue timer is armed in */
	struct shoal_worker_listener *listener;
	union {
		struct shoal_conn_io *io;  /* while open; NULL when idle */
		struct shoal_conn *next;   /* while in the worker's free or closed list */
	};
	uint32_t requests;
	uint8_t peer_family; /* AF_INET or AF_INET6 */
	uint8_t peer_addr[16];
	uint8_t state;
	uint8_t stats_phase; /* enum shoal_stats_phase */
	bool readable;    /* the socket may hold bytes we have not read */
	bool watched;     /* registered with epoll: only once it has to wait for something */
	bool close_after; /* close once the pending responses are out */
};

struct sockaddr_storage;

void shoal_conn_accept(struct shoal_worker_listener *l, int fd,
		       const struct sockaddr_storage *peer);

/* Continues a connection that yielded (a large body's turn ended). */
void shoal_conn_resume(struct shoal_conn *c);

/* Called by the worker when a connection's timer fires. */
void shoal_conn_timeout(struct shoal_conn *c);

/* Closes at once; the struct is recycled after the current event batch. */
void shoal_conn_close(struct shoal_conn *c);

#endif
