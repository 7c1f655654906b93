/* The proxy's exchange, shared by the files of the proxy (proxy.c drives it, the pumps in
 * proxy_request.c, proxy_response.c and proxy_tunnel.c move its bytes); private to them.
 *
 * A pump moves bytes one way until it has to wait, and reports how it stopped; it never
 * ends the exchange itself: proxy.c decides what a stop means (retry, 502, close, done). */
#ifndef SHOAL_HANDLER_PROXY_INT_H
#define SHOAL_HANDLER_PROXY_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shoal/handler/limit.h"
#include "shoal/handler/proxy.h"
#include "shoal/http/chunked.h"
#include "shoal/http/parser.h"
#include "shoal/http/response.h"
#include "shoal/net/out.h"
#include "shoal/net/transport.h"
#include "shoal/upstream/conn.h"

enum px_stop {
	PX_WAIT,        /* blocked on a socket: wait for its event */
	PX_DONE,        /* this direction is complete */
	PX_TUNNEL,      /* the response was a 101: the exchange becomes a tunnel */
	PX_UP_BROKEN,   /* the upstream connection failed (errno in up_errno) */
	PX_UP_CLOSED,   /* the upstream closed before the response was complete */
	PX_UP_INVALID,  /* the upstream's response could not be read or relayed */
	PX_UP_STATUS,   /* the upstream answered with one of its group's fail_status, which is
			 * not yet relayed: proxy.c tries another server or passes it on */
	PX_CLIENT_GONE, /* the client's connection failed or ended early */
	PX_CLIENT_BAD,  /* the client's body is malformed */
};

/* The request direction: head and body, client to upstream. out comes first: px_get zeroes
 * what follows it, and shoal_out_init empties it. */
struct px_request {
	struct shoal_out out;   /* towards the upstream; its scratch holds chunk-size lines */
	uint32_t head_len;      /* of the head in the exchange's head buffer */
	uint32_t in_start, in_cur; /* the body's bytes in the client connection's input */
	enum shoal_http_body body;
	uint64_t left;          /* Content-Length bytes not yet queued */
	struct shoal_http_chunked dec;
	uint64_t chunked_seen;
	char *win;              /* body bytes read from the client's socket */
	uint32_t win_pos, win_len;
	uint64_t queued;        /* bytes queued for the upstream, framing included */
	bool from_socket;       /* body bytes came from the socket: the request cannot be resent */
	bool overread;          /* bytes past the body were read: the client must not go on */
	bool done;
};

/* The response direction: upstream to client, through the client connection's batch. */
struct px_response {
	char *win;
	uint32_t pos, len, scanned;
	int status;              /* of the final response; 0 before */
	enum shoal_http_body body;
	uint64_t left;
	uint64_t length;         /* of a Content-Length body */
	struct shoal_http_chunked dec;
	uint64_t chunked_seen;
	uint64_t body_bytes;     /* relayed to the client, for the access log */
	uint64_t bytes_in;       /* read from the upstream */
	bool chunk_out;          /* re-chunked for the client */
	bool upstream_keep;      /* the upstream keeps the connection after this response */
	bool client_keep;        /* the client connection may go on after this response */
	bool head_done, started, done, extra;
	bool pass_status;        /* relay a fail_status head: no other server will be tried */
	bool first_read_done;    /* the first read of a response is short: see PX_FIRST_READ */
	int pipe[2];             /* splicing: the pipe the body passes through; -1: none */
	uint32_t pipe_len;       /* bytes in it */
};

struct shoal_proxy_exchange {
	struct shoal_handler_async async;
	struct shoal_proxy_env *env;
	struct shoal_handler_client *client;
	struct shoal_upstream *group;
	struct shoal_proxy_queues *queues;
	struct shoal_upstream_server *server;
	struct shoal_upstream_pick pick; /* the servers tried, for a retry's choice */
	struct shoal_limit_holds holds;  /* the request's concurrency holds, until it ends */
	struct shoal_proxy_exchange *wait_prev, *wait_next; /* in its server's waiting list */
	uint64_t wait_ms;       /* when the try began waiting for its answer */
	bool waiting;           /* in the list: no byte of the answer yet */
	struct shoal_proxy_exchange *queue_prev, *queue_next; /* in its group's queue */
	uint64_t queue_ms;      /* when it entered the queue */
	bool queued;            /* in the queue: no server yet */
	bool held;              /* it holds a place on server (shoal_upstream_reserve) */
	struct shoal_upstream_conn *uc;
	uint8_t pp_len;         /* of pp, the header ahead of the head: 0 for none */
	struct shoal_timer timer;
	struct shoal_timer_queue *timer_q;
	uint64_t timer_progress; /* see px_progress: what had moved when the timer was armed */
	struct shoal_proxy_exchange *next_free;
	uint64_t start_us, ttfb_us;
	uint64_t client_queued; /* bytes queued for the client */
	int up_errno;
	const struct shoal_site *site;
	uint64_t first_ms;      /* when the first try began: retry_timeout counts from it */
	unsigned tries;         /* tries on another server after the first */
	bool reported;          /* this try's outcome went to the health rules */
	bool up_readable, up_writable, up_hup, up_broken, connecting, retried;
	bool tunnel;            /* the client asked for an upgrade */
	bool tunnelling;        /* the upstream agreed: bytes flow both ways */
	bool cl_readable, cl_writable, cl_hup;
	bool keep_alive;        /* what the client connection allowed at the handover */
	int method;             /* enum shoal_http_method of the request */
	int version;            /* of the client's request */
	struct px_request rq;
	struct px_response rs;
	struct shoal_http_request req; /* a copy for the access log: strings in the client's input */
	/* send_proxy_protocol only (px_get leaves them as they were): the client the request
	 * announces, and the header that opens a new connection (none on a pooled one). */
	struct shoal_upstream_announce announce;
	bool announce_dst;      /* announce.ends.dst is known */
	char pp[SHOAL_PROXY_PROTO_WRITE_MAX];
	char *head;             /* the request head sent upstream: head_cap bytes */
	char storage[];         /* head, request window, PX_HEAD_ROOM, response window */
};

/* A response's first read takes at most this much: a small response arrives whole, and the
 * rest of a large one is left in the socket for splice (PX_SPLICE_MIN). */
#define PX_FIRST_READ 16384
/* A Content-Length body of at most PX_SPLICE_MAX bytes with at least PX_SPLICE_MIN left
 * after the first read is spliced from the upstream's socket to the client's through a pipe,
 * never copied through the window. Measured here (2026-11-29, scripts/bench and by hand):
 * at 64 KiB splicing costs 0.88x the CPU of copying; at 1 MiB 0.58x the CPU but 0.85x the
 * throughput, and at 10 MB 0.73x the throughput: a spliced body reaches the client in the
 * upstream's fragments, which the client takes in more, smaller pieces than the full-size
 * segments a copy makes. Below the bound CPU counts most, above it throughput. */
#define PX_SPLICE_MIN 16384
#define PX_SPLICE_MAX (1u << 20)

/* Room in front of the response window: the head for the client is put right before the body
 * it read, and both leave in one write(2), which costs the kernel less than a writev(2) of
 * two pieces (measured: see proxy_response.c). The head shoal writes is the upstream's, less
 * hop-by-hop fields, plus at most Date and Connection: this covers what it adds. */
#define PX_HEAD_ROOM 256

/* Room for chunk-size lines in the request's batch. */
#define PX_SIZE_LINES (SHOAL_OUT_IOV / 3 * 24)

/* The byte moves the pumps share (proxy_io.c). */

/* Sends what out holds through t: PX_DONE once out is empty, PX_WAIT while the socket is
 * full (*writable is cleared then) or not known writable, `broken` when the stream is
 * (errno set). */
enum px_stop shoal_proxy_io_flush(struct shoal_out *out, struct shoal_transport *t,
				  bool *writable, enum px_stop broken);
/* One read of up to want bytes from t, EINTR retried: the bytes read, 0 at the end of the
 * stream, -1 with errno, EAGAIN when nothing is there or *readable was false (then
 * *readable is false). A shorter read than want drained the socket and clears *readable too,
 * if short_drains and t holds nothing (a TLS end of stream read behind the bytes is held):
 * not when the peer's end of stream may have come with the bytes, since no event tells of
 * it, only a further read. */
ssize_t shoal_proxy_io_read(struct shoal_transport *t, void *buf, size_t want, bool *readable,
			    bool short_drains);
/* Queues p[0..n) on out as one chunk of shoal's own framing: size line, data, CRLF; out has
 * room for 3 pieces and 20 scratch bytes. Returns the bytes queued. */
size_t shoal_proxy_io_chunk(struct shoal_out *out, const char *p, size_t n);
/* Queues the last chunk and an empty trailer section. Returns the bytes queued. */
size_t shoal_proxy_io_last_chunk(struct shoal_out *out);

/* Builds the head sent upstream from req's parse as loc says (hop-by-hop fields removed,
 * X-Forwarded-* added, Host as proxy_host or the client gave it, else x->server's label,
 * or the group's first server's while x waits in the queue).
 * False if it does not fit in the exchange's head buffer. */
bool shoal_proxy_request_head(struct shoal_proxy_exchange *x, const struct shoal_handler_req *req,
			      const struct shoal_location_conf *loc);
/* Moves the request (head, then body) towards the upstream until it has to wait. */
enum px_stop shoal_proxy_request_pump(struct shoal_proxy_exchange *x);

/* proxy_wait.c: per server of a group, in this worker, the tries that wait for the first
 * byte of their answer, the oldest first: where a stalled server's victims are found. */
struct shoal_proxy_waiting {
	struct shoal_proxy_exchange *head, *tail;
};

/* x's try on x->server begins waiting at now_ms (its connection is being opened or taken). */
void shoal_proxy_wait_add(struct shoal_proxy_exchange *x, uint64_t now_ms);
/* x no longer waits (an answer began, or the try ended); nothing if it did not wait. */
void shoal_proxy_wait_remove(struct shoal_proxy_exchange *x);
/* The waiting list of x->server. */
struct shoal_proxy_waiting *shoal_proxy_wait_list(struct shoal_proxy_exchange *x);

/* proxy_queue.c: the group's queue in this worker, and its place in the shared count. */

/* x (no server: every one that could take it is at its max_conns) enters its group's queue
 * if the queue has room over every worker: true; false when it is full. Counted either
 * way. */
bool shoal_proxy_queue_add(struct shoal_proxy_exchange *x);
/* x leaves the queue (timed_out: after queue_timeout, which is counted); nothing if it is
 * not in it. */
void shoal_proxy_queue_remove(struct shoal_proxy_exchange *x, bool timed_out);
/* Whether x waited queue_timeout. */
bool shoal_proxy_queue_expired(const struct shoal_proxy_exchange *x);
/* The Retry-After of a 503 for a full queue or a wait that timed out, in seconds: the
 * queue's timeout rounded up, by when the requests waiting now are served or refused; at
 * least 1. */
unsigned shoal_proxy_queue_retry_after(const struct shoal_upstream *u);
/* Whether the queues are due for a look: a place was given back in this worker, or the
 * tick came (a place another worker gave back is only seen then). Moves the tick on. */
bool shoal_proxy_queue_due(struct shoal_proxy_env *env);
/* Milliseconds to the queues' next look (0: due), or -1 while none waits. */
int64_t shoal_proxy_queue_next_ms(const struct shoal_proxy_env *env);

/* proxy.c: starts the requests waiting in queue q while servers have room, the oldest
 * first; those that waited queue_timeout get a 503 with Retry-After. */
void shoal_proxy_dispatch(struct shoal_proxy_queues *q);
/* proxy.c: the timers' callback (proxy_env.c arms the queues with it). */
void shoal_proxy_on_timer(struct shoal_timer *t);
/* proxy.c: x waits on a server whose answer is not coming (stalled, or its check found it
 * down): tried on another server now if it may be retried, else left to its timeout. */
void shoal_proxy_abandon(struct shoal_proxy_exchange *x);

/* proxy_announce.c: send_proxy_protocol. */

/* Keeps the client req announces: its source, and as destination what a PROXY protocol
 * header on shoal's listener named, else the client's socket's own end (looked up when a
 * connection is opened). */
void shoal_proxy_announce_init(struct shoal_proxy_exchange *x, const struct shoal_handler_req *req);
/* x->uc is the try's connection: taken from the pool, so it announced x's client already,
 * or opened: then its header is made (queued by shoal_proxy_request_restart ahead of the
 * head, in the same write) and the connection keeps what it announces. */
void shoal_proxy_announce_conn(struct shoal_proxy_exchange *x, bool opened);

/* proxy_key.c: the hash of req's key for balance = hash (hash_key of p); a request without
 * the header or cookie named gets a random one. */
uint64_t shoal_proxy_key_hash(const struct shoal_handler_req *req,
			      const struct shoal_upstream_policy *p, struct shoal_upstream_set *set);
/* Queues the request head and body from their start again, for a resend (and at first). */
void shoal_proxy_request_restart(struct shoal_proxy_exchange *x);

/* Moves the response (interim heads, the head, the body) to the client until it has to
 * wait. */
enum px_stop shoal_proxy_response_pump(struct shoal_proxy_exchange *x);

/* Whether the rest of the response's body goes by splice. */
bool shoal_proxy_splice_wanted(const struct shoal_proxy_exchange *x);
/* Moves the body from the upstream's socket to the client's through the exchange's pipe
 * until it has to wait or the body is complete (then rs.done). */
enum px_stop shoal_proxy_splice_pump(struct shoal_proxy_exchange *x);
/* Gives the exchange's pipe back to the environment (kept if it is empty, else closed). */
void shoal_proxy_splice_release(struct shoal_proxy_exchange *x);
/* Closes the pipes the environment keeps. */
void shoal_proxy_splice_free(struct shoal_proxy_env *env);

/* Moves bytes both ways after a 101 until either side ends (PX_DONE) or fails. */
enum px_stop shoal_proxy_tunnel_pump(struct shoal_proxy_exchange *x);

#endif
