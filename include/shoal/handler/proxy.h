/* The reverse proxy: forwards a request to a server of an upstream group and streams the
 * response back, through a fixed window per direction (proxy_buffer_size), so memory stays
 * bounded whatever the sizes and speeds at either end (a slow reader stops the reading from
 * the upstream, a slow upstream the reading from the client).
 *
 * One exchange per proxied request: it takes a keep-alive connection from the server's pool
 * or opens one, sends the head shoal builds from its own parse (hop-by-hop fields removed,
 * X-Forwarded-* added: http/forward.h) and the body re-framed from its own parse, reads the
 * response head strictly (http/response.h) and relays the body by its framing, re-chunking
 * a body that ends with the connection so the client's connection stays open. A request
 * that fails on a reused connection before any response byte arrived is sent again once on
 * a fresh one (when its body is still at hand). Upgrades (101) become a tunnel both ways.
 *
 * Errors: a failed connect, a reset or an invalid response is a 502, a timeout a 504, as
 * long as nothing of the response was queued for the client; after that the client's
 * connection is closed, so a truncated body is never presented as complete. Every failure
 * is logged once, with the upstream server's address.
 *
 * Limits: a request takes a place on its server (max_conns, shoal/upstream/health.h) when
 * the server is chosen and gives it back when the exchange leaves it. When every server
 * that could take the request is at its max_conns, the request waits in the group's queue
 * (proxy_queue.c) if it has room over every worker, else it gets a 503 with Retry-After at
 * once; a waiting request is started, the oldest first, when a place frees up, and gets a
 * 503 with Retry-After after queue_timeout. Neither 503 is charged to a server's health. */
#ifndef SHOAL_HANDLER_PROXY_H
#define SHOAL_HANDLER_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "shoal/base/error.h"
#include "shoal/handler/handler.h"
#include "shoal/http/response.h"
#include "shoal/net/timer.h"
#include "shoal/upstream/upstream.h"

struct shoal_proxy_exchange;

/* The timeouts of one upstream group. */
struct shoal_proxy_waiting;

struct shoal_proxy_queues {
	struct shoal_timer_queue connect_q, send_q, read_q, tunnel_q;
	struct shoal_proxy_waiting *waiting; /* per server of the group: tries awaiting an answer */
	/* The group's requests that wait for a server below its max_conns, in this worker, the
	 * oldest first (proxy_queue.c). */
	struct shoal_proxy_exchange *queue_head, *queue_tail;
	int queue_stats; /* the queue's entry in the worker's counters; -1: none */
};

/* A worker's proxying: its upstream groups and the exchanges' memory and timers. */
struct shoal_proxy_env {
	struct shoal_handler_ctx *ctx;
	struct shoal_upstream_set set;
	struct shoal_proxy_queues *queues; /* one per group */
	struct shoal_timer_queue client_q; /* the client takes or sends nothing: send_timeout */
	struct shoal_proxy_exchange *free; /* exchanges kept for reuse */
	size_t nfree, nbusy;
	size_t window;   /* proxy_buffer_size */
	size_t head_cap; /* room for the request head sent upstream */
	int pipes[64][2];  /* empty pipes kept for splicing */
	size_t npipes;
	struct shoal_http_limits resp_limits;
	struct shoal_http_response resp; /* scratch of the response-head parser */
	uint64_t scan_ms;  /* next look for servers that stopped answering; 0: none due */
	size_t nqueued;    /* requests waiting in the groups' queues */
	uint64_t queue_ms; /* next look at the queues while some wait */
	bool queue_kick;   /* a place was given back: look at the queues after this batch */
};

/* Makes the upstream groups of ctx->cfg and readies the exchanges' memory; sets ctx->proxy.
 * -1 with err set if memory runs out. */
int shoal_proxy_env_init(struct shoal_proxy_env *env, struct shoal_handler_ctx *ctx,
			 struct shoal_event_loop *loop, struct shoal_err *err);
/* Frees what the environment holds; every exchange must have ended. */
void shoal_proxy_env_free(struct shoal_proxy_env *env);

/* Handles the timeouts due at ctx->now_ms. */
void shoal_proxy_expire(struct shoal_proxy_env *env);
/* Milliseconds to the next timeout (0: due), or -1. */
int64_t shoal_proxy_next_ms(const struct shoal_proxy_env *env);
/* After an event batch: recycles the upstream connections closed during it. */
void shoal_proxy_recycle(struct shoal_proxy_env *env);

/* Forwards req to a server of upstream group u as location loc says. Answers at once (a 502)
 * only when no exchange can be started; otherwise sets req->async and returns. */
bool shoal_proxy_handle(struct shoal_handler_req *req, struct shoal_upstream *u,
			const struct shoal_location_conf *loc);

#endif
