#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_int.h"
#include "shoal/base/log.h"
#include "shoal/base/util.h"
#include "shoal/handler/reply.h"
#include "shoal/http/forward.h"
#include "shoal/stats/upstream.h"
#include "shoal/upstream/health.h"
#include "shoal/upstream/pool.h"

/* Exchanges kept for reuse; more are freed when they end. */
#define FREE_MAX 64

static void px_run(struct shoal_proxy_exchange *x);
static void px_on_upstream(struct shoal_upstream_conn *uc, uint32_t events);

/* ---- memory ---- */

static size_t px_size(const struct shoal_proxy_env *env)
{
	return sizeof(struct shoal_proxy_exchange) + env->head_cap + PX_SIZE_LINES + 2 * env->window +
	       PX_HEAD_ROOM;
}

/* The response direction as before its first byte, its window where it was: for a new
 * exchange and for a resend. */
static void px_response_reset(struct shoal_proxy_exchange *x)
{
	char *win = x->rs.win;

	memset(&x->rs, 0, sizeof(x->rs));
	x->rs.win = win;
	x->rs.pipe[0] = x->rs.pipe[1] = -1;
}

static struct shoal_proxy_exchange *px_get(struct shoal_proxy_env *env)
{
	struct shoal_proxy_exchange *x = env->free;

	if (x) {
		env->free = x->next_free;
		env->nfree--;
	} else if (!(x = malloc(px_size(env)))) {
		return NULL;
	}
	/* Everything but the request copy, which is filled as far as it is used, and the
	 * iovec arrays of the request's batch, which shoal_out_init makes empty. */
	memset(x, 0, offsetof(struct shoal_proxy_exchange, rq));
	memset((char *)&x->rq + sizeof(x->rq.out), 0, sizeof(x->rq) - sizeof(x->rq.out));
	x->env = env;
	x->head = x->storage;
	shoal_out_init(&x->rq.out, x->storage + env->head_cap, PX_SIZE_LINES);
	x->rq.win = x->storage + env->head_cap + PX_SIZE_LINES;
	x->rs.win = x->rq.win + env->window + PX_HEAD_ROOM;
	px_response_reset(x);
	env->nbusy++;
	return x;
}

static void px_unhold(struct shoal_proxy_exchange *x);

static void px_put(struct shoal_proxy_exchange *x)
{
	struct shoal_proxy_env *env = x->env;

	shoal_proxy_queue_remove(x, false);
	px_unhold(x);
	shoal_timer_disarm(&x->timer);
	shoal_limit_release(&x->holds);
	shoal_out_reset(&x->rq.out);
	shoal_proxy_splice_release(x);
	env->nbusy--;
	if (env->nfree >= FREE_MAX) {
		free(x);
		return;
	}
	x->next_free = env->free;
	env->free = x;
	env->nfree++;
}

/* Only what is used is copied: the fields and the headers the request has. */
static void px_copy_request(struct shoal_http_request *dst, const struct shoal_http_request *src)
{
	size_t tail = offsetof(struct shoal_http_request, nheaders);

	memcpy(dst, src, offsetof(struct shoal_http_request, headers));
	memcpy(dst->headers, src->headers, src->nheaders * sizeof(src->headers[0]));
	memcpy((char *)dst + tail, (const char *)src + tail, sizeof(*src) - tail);
}

/* ---- ending ---- */

static void px_log_why(const struct shoal_proxy_exchange *x, const char *what, const char *why)
{
	struct shoal_log *log = x->env->ctx->log;

	if (log)
		log_error(log, "upstream \"%s\" server %s: %s%s%s", x->group->conf->name,
			  shoal_config_server_label(x->server->conf), what, why ? ": " : "",
			  why ? why : "");
}

static void px_log(const struct shoal_proxy_exchange *x, const char *what, int err)
{
	px_log_why(x, what, err ? strerror(err) : NULL);
}

static struct shoal_stats_slot *px_stats(const struct shoal_proxy_exchange *x)
{
	return x->env->ctx->stats;
}

static void px_count_failure(const struct shoal_proxy_exchange *x,
			     enum shoal_stats_upstream_failure kind)
{
	shoal_stats_upstream_failure(px_stats(x), x->server->stats_index, kind);
}

/* The upstream connection goes back to the pool (keep) or is closed. */
static void px_release_upstream(struct shoal_proxy_exchange *x, bool keep)
{
	shoal_proxy_wait_remove(x);
	if (!x->uc)
		return;
	if (keep) {
		x->uc->requests++;
		shoal_upstream_pool_put(x->uc);
	} else {
		shoal_upstream_conn_close(x->uc);
	}
	x->uc = NULL;
}

static void px_drop_upstream(struct shoal_proxy_exchange *x)
{
	px_release_upstream(x, false);
}

/* Hands the client back to its connection; x is released. A request that waited in the
 * queue and never got a server names none. */
static void px_done(struct shoal_proxy_exchange *x, bool keep_alive)
{
	struct shoal_handler_client *cl = x->client;
	struct shoal_handler_result r = {
		.req = &x->req, .keep_alive = keep_alive, .bytes_out = x->client_queued,
		.upstream = x->server ? shoal_config_server_label(x->server->conf) : NULL,
		.upstream_status = x->rs.status,
		.upstream_us = x->env->ctx->now_us - x->start_us,
	};
	struct shoal_stats_slot *stats = px_stats(x);
	int index = x->server ? x->server->stats_index : -1;

	*cl->in_pos = x->rq.in_cur;
	if (x->rs.status && !x->reported)
		shoal_upstream_report(x->server, SHOAL_UPSTREAM_OK, x->env->ctx->now_ms);
	if (x->rs.status) {
		shoal_out_note(cl->out, x->rs.status, x->rs.body_bytes);
		shoal_stats_upstream_response(stats, index, x->rs.status, x->ttfb_us);
	}
	shoal_stats_upstream_sent(stats, index, x->rq.queued);
	shoal_stats_upstream_received(stats, index, x->rs.bytes_in);
	cl->done(cl, &r);
	px_put(x);
}

/* Ends the exchange with an error status, or by closing the client's connection once the
 * response has started: a truncated body must never look complete. */
static void px_fail(struct shoal_proxy_exchange *x, int status)
{
	struct shoal_out *out = x->client->out;
	bool keep = x->keep_alive && x->rq.done && !x->rq.overread;
	size_t queued = out->bytes;

	px_drop_upstream(x);
	if (x->rs.started) {
		px_done(x, false);
		return;
	}
	x->rs.status = 0;
	shoal_reply_error(x->env->ctx, x->site, out, status, x->version, keep,
			  x->method == SHOAL_HTTP_HEAD);
	x->client_queued += out->bytes - queued;
	px_done(x, keep);
}

static void px_finish(struct shoal_proxy_exchange *x)
{
	struct px_request *rq = &x->rq;
	struct px_response *rs = &x->rs;
	bool clean = rs->upstream_keep && rq->done && shoal_out_empty(&rq->out) && !rs->extra &&
		     !x->up_hup && !x->up_broken;

	px_release_upstream(x, clean && (!x->up_readable || shoal_upstream_conn_drained(x->uc)));
	px_done(x, rs->client_keep && rq->done && !rq->overread);
}

/* ---- connecting ---- */

/* A pooled connection if there is one (unless fresh; with send_proxy_protocol, one that
 * announced the same client), else a new one. -1 with errno. */
static int px_connect(struct shoal_proxy_exchange *x, bool fresh)
{
	bool announce = x->group->conf->send_proxy_protocol != 0;

	if (fresh)
		x->uc = NULL;
	else if (announce)
		x->uc = shoal_upstream_pool_get_announced(x->server, &x->announce, px_on_upstream, x);
	else
		x->uc = shoal_upstream_pool_get(x->server, px_on_upstream, x);
	x->up_readable = x->up_hup = x->up_broken = false;
	if (x->uc) {
		x->up_writable = true;
		x->connecting = false;
	} else {
		x->up_writable = false;
		x->connecting = true;
		if (shoal_upstream_conn_open(x->server, px_on_upstream, x, &x->uc) < 0) {
			x->uc = NULL;
			return -1;
		}
	}
	if (announce) {
		shoal_proxy_announce_conn(x, x->connecting);
		shoal_proxy_request_restart(x);
	}
	shoal_proxy_wait_add(x, x->env->ctx->now_ms);
	return 0;
}

/* A kept-alive connection may have been closed by the server just as the request went out:
 * sent again once on a fresh one, as long as no response byte came and the body is still
 * at hand. Not the server's failure: its health is not charged. */
static bool px_retry(struct shoal_proxy_exchange *x)
{
	if (x->retried || !x->uc || !x->uc->requests || x->rs.bytes_in || x->rq.from_socket)
		return false;
	x->retried = true;
	px_drop_upstream(x);
	if (px_connect(x, true) < 0)
		return false;
	px_response_reset(x);
	shoal_proxy_request_restart(x);
	return true;
}

/* The outcome of this try goes to the passive health rules once. */
static void px_report_failure(struct shoal_proxy_exchange *x)
{
	x->reported = true;
	shoal_upstream_report(x->server, SHOAL_UPSTREAM_FAILED, x->env->ctx->now_ms);
}

/* Methods a server may receive twice without harm (RFC 9110, 9.2.2). */
static bool px_idempotent(int method)
{
	return method == SHOAL_HTTP_GET || method == SHOAL_HTTP_HEAD || method == SHOAL_HTTP_PUT ||
	       method == SHOAL_HTTP_DELETE || method == SHOAL_HTTP_OPTIONS ||
	       method == SHOAL_HTTP_TRACE;
}

/* Whether the request may be tried on another server: nothing of an answer reached the
 * client, the body is still at hand, tries and retry_timeout are left, and, once the request
 * may have reached the server (sent), the method allows a second delivery. */
static bool px_may_retry(const struct shoal_proxy_exchange *x, bool sent)
{
	const struct shoal_upstream_policy *p = &x->group->conf->policy;

	if (x->rs.started || x->client_queued || x->rq.from_socket ||
	    x->tries >= (unsigned)p->retries)
		return false;
	if (sent && !p->retry_non_idempotent && !px_idempotent(x->method))
		return false;
	return !p->retry_timeout_ms ||
	       x->env->ctx->now_ms - x->first_ms < (uint64_t)p->retry_timeout_ms;
}

/* Choices made again when another worker took the chosen server's last place first. */
#define PX_RESERVE_TRIES 4

/* The server of the next try, with a place held on it (the request counts there from now
 * until px_unhold); false (and x->server unchanged) when the group has none (pick.full when
 * the servers are all at their max_conns), or for a retry, none it has not tried: a server
 * is not asked twice for one request (a server that timed out would make the client wait
 * that long again). */
static bool px_choose(struct shoal_proxy_exchange *x)
{
	struct shoal_upstream_pick *pick = &x->pick;
	struct shoal_upstream_server *s = NULL;

	pick->now_ms = x->env->ctx->now_ms;
	for (unsigned i = 0; i < PX_RESERVE_TRIES && !s; i++) {
		s = shoal_upstream_select(x->group, pick);
		if (!s || (pick->ntried && !pick->avoid_tried))
			return false;
		if (!shoal_upstream_reserve(s))
			s = NULL; /* the balancer now sees it full */
	}
	if (!s) {
		pick->full = true; /* places kept going to other workers: wait as when full */
		return false;
	}
	x->server = s;
	x->held = true;
	shoal_stats_upstream_active(px_stats(x), s->stats_index, 1);
	if (pick->ntried < SHOAL_UPSTREAM_TRIES_MAX)
		pick->tried[pick->ntried++] = s->index;
	return true;
}

/* x gives its place on its server back; a request waiting in the group's queue may take it,
 * once this event batch is over (shoal_proxy_expire). */
static void px_unhold(struct shoal_proxy_exchange *x)
{
	if (!x->held)
		return;
	x->held = false;
	shoal_stats_upstream_active(px_stats(x), x->server->stats_index, -1);
	shoal_upstream_busy(x->server, -1);
	if (x->queues->queue_head)
		x->env->queue_kick = true;
}

/* After a failed try (counted, logged, reported): readies the next one on the server the
 * balancer picks, if the request may go on. */
static bool px_advance(struct shoal_proxy_exchange *x, bool sent)
{
	if (!px_may_retry(x, sent))
		return false;
	px_drop_upstream(x);
	px_unhold(x);
	x->tries++;
	if (!px_choose(x))
		return false;
	x->retried = x->reported = false;
	px_response_reset(x);
	shoal_proxy_request_restart(x);
	return true;
}

/* A refused handshake or certificate is a failed connect, logged with OpenSSL's reason. */
static void px_connect_error(struct shoal_proxy_exchange *x, int err)
{
	char buf[256];
	const char *tls = x->uc ? shoal_upstream_conn_tls_failure(x->uc, buf, sizeof(buf)) : NULL;

	px_count_failure(x, SHOAL_STATS_UPSTREAM_CONNECT);
	if (tls)
		px_log_why(x, "tls handshake failed", tls);
	else
		px_log(x, "connect", err);
	px_report_failure(x);
}

/* Starts the try on x->server, and on the next servers while connecting fails at once.
 * False when no server could be tried: the caller answers 502. */
static bool px_begin(struct shoal_proxy_exchange *x)
{
	for (;;) {
		shoal_stats_upstream_request(px_stats(x), x->server->stats_index);
		if (px_connect(x, false) == 0)
			return true;
		px_connect_error(x, errno);
		if (!px_advance(x, false))
			return false;
	}
}

/* After a failed try: the next one runs, or the client gets status. */
static void px_next_or_fail(struct shoal_proxy_exchange *x, bool sent, int status)
{
	if (px_advance(x, sent) && px_begin(x)) {
		px_run(x);
		return;
	}
	px_fail(x, status);
}

/* The upstream failed: sent again on a fresh connection if a kept-alive one went stale,
 * else tried on another server where that is safe, else a 502 (or the end of the client's
 * connection once the response started), logged once. */
static void px_upstream_failed(struct shoal_proxy_exchange *x, enum px_stop why)
{
	int err = why == PX_UP_BROKEN ? x->up_errno : 0;

	if (why != PX_UP_INVALID && px_retry(x)) {
		px_run(x);
		return;
	}
	px_count_failure(x, why == PX_UP_INVALID ? SHOAL_STATS_UPSTREAM_INVALID
			    : err == ECONNREFUSED   ? SHOAL_STATS_UPSTREAM_CONNECT
						    : SHOAL_STATS_UPSTREAM_RESET);
	if (why == PX_UP_INVALID)
		px_log(x, "invalid response", 0);
	else if (why == PX_UP_CLOSED)
		px_log(x, x->rs.started ? "closed in the response" : "closed before responding", 0);
	else
		px_log(x, x->rs.started ? "failed in the response" : "failed", err);
	px_report_failure(x);
	px_next_or_fail(x, true, 502);
}

/* A response head with a fail_status: the server is charged with a failure; the request
 * goes to another server if it may, else the response is relayed as it is. */
static void px_status_failed(struct shoal_proxy_exchange *x)
{
	const struct shoal_http_response *r = &x->env->resp;

	shoal_stats_upstream_response(px_stats(x), x->server->stats_index, r->status, x->ttfb_us);
	px_report_failure(x);
	if (px_may_retry(x, true)) {
		if (x->env->ctx->log)
			log_warn(x->env->ctx->log, "upstream \"%s\" server %s: answered %d",
				 x->group->conf->name, shoal_config_server_label(x->server->conf),
				 r->status);
		px_next_or_fail(x, true, 502);
		return;
	}
	x->rs.pass_status = true;
	px_run(x);
}

void shoal_proxy_abandon(struct shoal_proxy_exchange *x)
{
	if (!px_may_retry(x, true))
		return;
	px_count_failure(x, SHOAL_STATS_UPSTREAM_TIMEOUT);
	px_log(x, "stopped answering: the request goes to another server", 0);
	px_report_failure(x);
	px_next_or_fail(x, true, 504);
}

static void px_connect_failed(struct shoal_proxy_exchange *x, int err)
{
	px_connect_error(x, err);
	px_next_or_fail(x, false, 502);
}

/* ---- timeouts ---- */

/* What moving on means for a timeout: bytes from the upstream for read_q, bytes queued for
 * it for send_q, anything on the client's side for client_q, either way for tunnel_q; a
 * connect timeout counts from the start. Only that restarts its timer, so an active client
 * does not hide a silent upstream, nor the reverse. */
static uint64_t px_progress(const struct shoal_proxy_exchange *x,
			    const struct shoal_timer_queue *tq)
{
	const struct shoal_proxy_queues *q = x->queues;

	if (tq == &q->read_q)
		return x->rs.bytes_in;
	if (tq == &q->send_q)
		return x->rq.queued;
	if (tq == &q->connect_q)
		return 0;
	return x->rq.queued + x->client_queued + x->rs.bytes_in;
}

static void px_arm(struct shoal_proxy_exchange *x)
{
	struct shoal_proxy_queues *q = x->queues;
	struct shoal_timer_queue *tq = &q->read_q;
	uint64_t progress;

	if (x->connecting)
		tq = &q->connect_q;
	else if (x->tunnelling)
		tq = &q->tunnel_q;
	else if (!x->cl_writable && (!shoal_out_empty(x->client->out) || x->rs.pipe_len))
		tq = &x->env->client_q; /* the client does not read */
	else if (!x->rq.done && !x->up_writable)
		tq = &q->send_q;
	else if (!x->rq.done)
		tq = &x->env->client_q; /* the client does not send its body */
	progress = px_progress(x, tq);
	if (x->timer_q == tq && shoal_timer_armed(&x->timer) && x->timer_progress == progress)
		return;
	x->timer_q = tq;
	x->timer_progress = progress;
	shoal_timer_arm(tq, &x->timer, x->env->ctx->now_ms);
}

void shoal_proxy_on_timer(struct shoal_timer *t)
{
	struct shoal_proxy_exchange *x = container_of(t, struct shoal_proxy_exchange, timer);
	struct shoal_proxy_queues *q = x->queues;

	if (x->timer_q == &q->tunnel_q || x->timer_q == &x->env->client_q) {
		px_drop_upstream(x);
		px_done(x, false);
		return;
	}
	px_count_failure(x, SHOAL_STATS_UPSTREAM_TIMEOUT);
	px_log(x, x->timer_q == &q->send_q ? "timed out taking the request"
		  : x->timer_q == &q->read_q ? "timed out responding"
		  : x->uc && x->uc->tls ? "tls handshake timed out" : "connect timed out", 0);
	px_report_failure(x);
	px_next_or_fail(x, x->timer_q != &q->connect_q, 504);
}

/* ---- running ---- */

/* The client's body could not be read: a 400 (413 past max_body_size) if nothing was
 * answered yet; the client's connection ends either way. */
static void px_client_failed(struct shoal_proxy_exchange *x, enum px_stop why)
{
	if (why == PX_CLIENT_GONE) {
		px_drop_upstream(x);
		px_done(x, false);
		return;
	}
	x->keep_alive = false;
	px_fail(x, x->rq.chunked_seen > (uint64_t)x->env->ctx->cfg->max_body_size ? 413 : 400);
}

static void px_tunnel_run(struct shoal_proxy_exchange *x)
{
	enum px_stop s = shoal_proxy_tunnel_pump(x);

	if (s == PX_WAIT) {
		px_arm(x);
		return;
	}
	px_drop_upstream(x);
	px_done(x, false);
}

/* Runs both directions until each has to wait, then decides. */
static void px_run(struct shoal_proxy_exchange *x)
{
	enum px_stop rq = PX_DONE, rs;

	if (x->connecting) {
		px_arm(x);
		return;
	}
	if (x->tunnelling) {
		px_tunnel_run(x);
		return;
	}
	if (!x->up_broken && (!x->rq.done || !shoal_out_empty(&x->rq.out)))
		rq = shoal_proxy_request_pump(x);
	if (rq == PX_CLIENT_GONE || rq == PX_CLIENT_BAD) {
		px_client_failed(x, rq);
		return;
	}
	/* The upstream may have answered before it stopped taking the request (an early
	 * 413, say): read what it said before calling it broken. */
	if (rq == PX_UP_BROKEN)
		x->up_broken = x->up_readable = true;
	rs = shoal_proxy_response_pump(x);
	if (rs == PX_WAIT && x->up_broken && !x->rs.started)
		rs = PX_UP_BROKEN;
	switch (rs) {
	case PX_WAIT:
		px_arm(x);
		return;
	case PX_DONE:
		px_finish(x);
		return;
	case PX_TUNNEL:
		x->tunnelling = true;
		px_tunnel_run(x);
		return;
	case PX_CLIENT_GONE:
	case PX_CLIENT_BAD:
		px_client_failed(x, PX_CLIENT_GONE);
		return;
	case PX_UP_STATUS:
		px_status_failed(x);
		return;
	default:
		px_upstream_failed(x, rs);
		return;
	}
}

static void px_on_upstream(struct shoal_upstream_conn *uc, uint32_t events)
{
	struct shoal_proxy_exchange *x = uc->holder;

	if (events & (EPOLLRDHUP | EPOLLHUP))
		x->up_hup = true;
	shoal_upstream_conn_readiness(uc, events, &x->up_readable, &x->up_writable);
	if (x->connecting) {
		int err = shoal_upstream_conn_establish(uc, events);
		if (err == EAGAIN)
			return;
		if (err) {
			px_connect_failed(x, err);
			return;
		}
		x->connecting = false;
		/* Bytes may have come with the handshake's last records: read at once. */
		if (uc->tls)
			x->up_readable = x->up_writable = true;
	}
	px_run(x);
}

static void px_on_client(struct shoal_handler_async *a, uint32_t events)
{
	struct shoal_proxy_exchange *x = container_of(a, struct shoal_proxy_exchange, async);

	/* Reset or closed both ways (a half close is only EPOLLRDHUP): nobody will read the
	 * answer, so the upstream is not kept waiting for it. A request in the queue takes a
	 * half close as the client gone too (as nginx does): its place goes to another. */
	if ((events & (EPOLLHUP | EPOLLERR)) || (x->queued && (events & EPOLLRDHUP))) {
		px_client_failed(x, PX_CLIENT_GONE);
		return;
	}
	if (events & (EPOLLRDHUP | EPOLLHUP))
		x->cl_hup = true;
	shoal_transport_readiness(x->client->transport,
				  events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR),
				  events & (EPOLLOUT | EPOLLHUP | EPOLLERR), &x->cl_readable,
				  &x->cl_writable);
	if (!x->queued)
		px_run(x);
}

static void px_start(struct shoal_handler_async *a)
{
	struct shoal_proxy_exchange *x = container_of(a, struct shoal_proxy_exchange, async);

	if (!x->queued)
		px_run(x);
}

static void px_cancel(struct shoal_handler_async *a)
{
	struct shoal_proxy_exchange *x = container_of(a, struct shoal_proxy_exchange, async);

	px_drop_upstream(x);
	px_put(x);
}

static const struct shoal_handler_async_ops px_ops = { px_start, px_on_client, px_cancel };

/* ---- the queue ---- */

/* x waited queue_timeout in the queue: a 503 with Retry-After. Not a server's failure: no
 * health is charged. */
static void px_refuse(struct shoal_proxy_exchange *x)
{
	struct shoal_out *out = x->client->out;
	bool keep = x->keep_alive && x->rq.done;
	size_t queued = out->bytes;

	shoal_reply_error_after(x->env->ctx, x->site, out, 503, x->version, keep,
				x->method == SHOAL_HTTP_HEAD, shoal_proxy_queue_retry_after(x->group));
	x->client_queued += out->bytes - queued;
	px_done(x, keep);
}

void shoal_proxy_dispatch(struct shoal_proxy_queues *q)
{
	struct shoal_proxy_exchange *x;

	while ((x = q->queue_head)) {
		if (shoal_proxy_queue_expired(x)) {
			shoal_proxy_queue_remove(x, true);
			px_refuse(x);
			continue;
		}
		/* The head finds no room: nor would those behind it, in the same group. */
		if (!px_choose(x) && x->pick.full)
			return;
		shoal_proxy_queue_remove(x, false);
		if (!x->server) {
			px_fail(x, 503); /* every server was taken out while it waited */
			continue;
		}
		x->first_ms = x->env->ctx->now_ms; /* retry_timeout counts from the first try */
		if (px_begin(x))
			px_run(x);
		else
			px_fail(x, 502);
	}
}

/* Every server that could take x is at its max_conns: x waits in the group's queue if the
 * queue has room, else it gets a 503 with Retry-After at once. */
static bool px_wait(struct shoal_proxy_exchange *x, struct shoal_handler_req *req)
{
	unsigned retry_after = shoal_proxy_queue_retry_after(x->group);

	if (shoal_proxy_queue_add(x)) {
		req->async = &x->async;
		return req->keep_alive;
	}
	px_put(x);
	shoal_reply_error_after(req->ctx, req->site, req->out, 503, req->http->version,
				req->keep_alive, req->http->method == SHOAL_HTTP_HEAD, retry_after);
	return req->keep_alive;
}

/* ---- the handler ---- */

static void px_setup(struct shoal_proxy_exchange *x, struct shoal_handler_req *req,
		     struct shoal_upstream *u)
{
	const struct shoal_http_request *http = req->http;

	x->async.ops = &px_ops;
	x->client = req->client;
	x->site = req->site;
	x->group = u;
	x->queues = &x->env->queues[u - x->env->set.groups];
	if (u->conf->policy.balance == SHOAL_BALANCE_HASH)
		x->pick.hash = shoal_proxy_key_hash(req, &u->conf->policy, &x->env->set);
	x->server = NULL;
	if (u->conf->send_proxy_protocol)
		shoal_proxy_announce_init(x, req);
	px_choose(x);
	x->first_ms = req->ctx->now_ms;
	if (req->holds) {
		x->holds = *req->holds;
		req->holds->n = 0;
	}
	/* The turn's clock, as at the answer's first byte and its end: an exchange spans turns,
	 * and reading the clock for each of the three cost 0.6 % of a proxied request here. */
	x->start_us = req->ctx->now_us;
	x->keep_alive = req->keep_alive;
	x->method = (int)http->method;
	x->version = http->version;
	x->cl_readable = req->client->readable;
	x->cl_writable = true;
	x->tunnel = shoal_http_forward_wants_upgrade(http);
	px_copy_request(&x->req, http);
	x->rq.body = http->body;
	x->rq.in_start = *req->client->in_pos;
}

bool shoal_proxy_handle(struct shoal_handler_req *req, struct shoal_upstream *u,
			const struct shoal_location_conf *loc)
{
	struct shoal_proxy_env *env = req->ctx->proxy;
	struct shoal_proxy_exchange *x = env && req->client ? px_get(env) : NULL;
	const struct shoal_http_request *http = req->http;

	if (!x) {
		shoal_reply_error(req->ctx, req->site, req->out, 502, http->version, false,
				  http->method == SHOAL_HTTP_HEAD);
		return false;
	}
	px_setup(x, req, u);
	if (!x->server && !x->pick.full) {
		/* Every server is out by configuration or by shoalctl: none may be tried. */
		px_put(x);
		shoal_reply_error(req->ctx, req->site, req->out, 503, http->version, req->keep_alive,
				  http->method == SHOAL_HTTP_HEAD);
		return req->keep_alive;
	}
	if (!shoal_proxy_request_head(x, req, loc)) {
		px_put(x);
		shoal_reply_error(req->ctx, req->site, req->out, 431, http->version, false,
				  http->method == SHOAL_HTTP_HEAD);
		return false;
	}
	shoal_proxy_request_restart(x);
	if (!x->server)
		return px_wait(x, req);
	if (!px_begin(x)) {
		px_put(x);
		shoal_reply_error(req->ctx, req->site, req->out, 502, http->version, req->keep_alive,
				  http->method == SHOAL_HTTP_HEAD);
		return req->keep_alive;
	}
	req->async = &x->async;
	return req->keep_alive;
}
