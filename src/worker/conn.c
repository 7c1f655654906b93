#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shoal/base/clock.h"
#include "shoal/base/util.h"
#include "shoal/handler/reply.h"
#include "shoal/http/chunked.h"
#include "shoal/stats/stats.h"
#include "shoal/net/recvq.h"
#include "shoal/net/transport.h"
#include "shoal/worker/conn.h"
#include "shoal/worker/conn_account.h"
#include "shoal/worker/conn_body.h"
#include "shoal/worker/conn_tls.h"

/* How long a closing connection may keep sending before we stop reading it. */
#define LINGER_MS 5000
/* A connection whose answer went on is closed after this long whatever that answer's own
 * timers say: a last resort against an answer that lost track of it. */
#define ASYNC_MS (7ull * 24 * 3600 * 1000)
/* Input buffer room beyond the head limit, for the start of a pipelined next request. */
#define IN_SLACK 1024

static void conn_on_event(struct shoal_event_source *src, uint32_t events);
static void conn_run(struct shoal_conn *c);
static void conn_close(struct shoal_conn *c);

static struct shoal_conn_env *conn_env(const struct shoal_conn *c)
{
	return c->origin->env;
}

#define CONN_TRANSPORT(c) SHOAL_CONN_TRANSPORT(conn_env(c), (c))

/* The timer queue a connection waits in tells its phase, for the connection gauges. */
static enum shoal_stats_phase phase_of_queue(const struct shoal_conn_env *env,
					     const struct shoal_timer_queue *q)
{
	if (q == &env->keepalive_q)
		return SHOAL_STATS_PHASE_IDLE;
	if (q == &env->header_q || q == &env->proxy_q)
		return SHOAL_STATS_PHASE_READING;
	return SHOAL_STATS_PHASE_WRITING;
}

static void conn_set_timer(struct shoal_conn *c, struct shoal_timer_queue *q)
{
	struct shoal_conn_env *env = conn_env(c);
	enum shoal_stats_phase phase = phase_of_queue(env, q);

	if (phase != c->stats_phase) {
		shoal_stats_conn_phase(env->handler->stats, c->stats_phase, phase);
		c->stats_phase = (uint8_t)phase;
	}
	c->timer_q = q;
	shoal_timer_arm(q, &c->timer, env->handler->now_ms);
}

static void conn_set_peer(struct shoal_conn *c, const struct sockaddr_storage *peer)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)peer;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)peer;

	c->peer_family = (uint8_t)peer->ss_family;
	if (peer->ss_family == AF_INET6) {
		memcpy(c->peer_addr, &sin6->sin6_addr, 16);
		c->peer_port = ntohs(sin6->sin6_port);
	} else {
		memcpy(c->peer_addr, &sin->sin_addr, 4);
		c->peer_port = ntohs(sin->sin_port);
	}
}

void shoal_conn_accept(const struct shoal_conn_origin *origin, int fd,
		       const struct sockaddr_storage *peer)
{
	struct shoal_conn_env *env = origin->env;
	struct shoal_conn *c;

	if (origin->proxy_header && shoal_proxy_header_refuse(env, origin->proxy_header, fd, peer))
		return;
	c = shoal_pool_conn_get(&env->pool);
	if (!c) {
		close(fd);
		return;
	}
	c->ev.on_event = conn_on_event;
	c->ev.fd = fd;
	c->origin = origin;
	conn_set_peer(c, peer);
	env->nconns++;
	shoal_stats_conn_opened(env->handler->stats);
	c->stats_phase = SHOAL_STATS_PHASE_READING;
	/* The header's time runs from the accept and is never extended. */
	if (origin->proxy_header)
		c->state = SHOAL_CONN_PROXY_HEADER;
	else if (origin->tls)
		c->state = SHOAL_CONN_TLS_HANDSHAKE;
	conn_set_timer(c, origin->proxy_header ? &env->proxy_q : &env->header_q);
	/* The listener defers accepting until the request has arrived (TCP_DEFER_ACCEPT), so it
	 * is read and answered right away; a connection that is then done is closed without
	 * ever having been registered with epoll. */
	c->readable = true;
	/* Over plain TCP every read goes through the transport (the PROXY header's too): the
	 * loop may read ahead. OpenSSL reads a TLS connection's socket itself. */
	shoal_recvq_take_part(&c->ev, !origin->tls);
	if (origin->tls && !shoal_conn_tls_accept(env, c, origin->tls))
		conn_close(c);
	else
		conn_run(c);
}

/* A connection whose turn ended with more to send: resumed after the current events. */
static void conn_defer(struct shoal_conn_env *env, struct shoal_conn *c)
{
	struct shoal_conn_io *io = c->io;

	if (io->deferred)
		return;
	io->deferred = true;
	io->deferred_prev = NULL;
	io->deferred_next = env->deferred;
	if (env->deferred)
		env->deferred->deferred_prev = io;
	env->deferred = io;
}

static void conn_undefer(struct shoal_conn_env *env, struct shoal_conn_io *io)
{
	if (!io->deferred)
		return;
	if (io->deferred_prev)
		io->deferred_prev->deferred_next = io->deferred_next;
	else
		env->deferred = io->deferred_next;
	if (io->deferred_next)
		io->deferred_next->deferred_prev = io->deferred_prev;
	io->deferred = false;
}

static void conn_release_io(struct shoal_conn *c)
{
	if (!c->io)
		return;
	conn_undefer(conn_env(c), c->io);
	shoal_out_reset(&c->io->out);
	shoal_pool_io_put(&conn_env(c)->pool, c->io);
	c->io = NULL;
}

static void conn_close(struct shoal_conn *c)
{
	struct shoal_conn_env *env = conn_env(c);

	if (c->ev.fd < 0)
		return;
	if (c->io && c->io->async) {
		struct shoal_handler_async *a = c->io->async;
		c->io->async = NULL;
		a->ops->cancel(a);
	}
	/* Closing the fd removes it from epoll: workers never share connection fds. */
	shoal_transport_close(CONN_TRANSPORT(c));
	c->ev.fd = -1;
	shoal_stats_conn_closed(env->handler->stats, (enum shoal_stats_phase)c->stats_phase);
	shoal_timer_disarm(&c->timer);
	conn_release_io(c);
	shoal_pool_conn_closed(&env->pool, c);
	env->nconns--;
	env->on_closed(env);
}

enum io_result { IO_DONE, IO_AGAIN, IO_ERROR };

/* Reads once into the input buffer. A short read means the socket is empty for now: with
 * edge triggering, bytes arriving later raise a new event, so no EAGAIN round trip is needed. */
static enum io_result conn_fill(struct shoal_conn *c)
{
	struct shoal_conn_env *env = conn_env(c);
	struct shoal_conn_io *io = c->io;
	size_t space;
	ssize_t n;

	if (io->in_len == env->pool.in_size && io->in_pos > 0) {
		memmove(io->in, io->in + io->in_pos, io->in_len - io->in_pos);
		io->in_len -= io->in_pos;
		io->in_pos = 0;
	}
	space = env->pool.in_size - io->in_len;
	/* A PROXY protocol header before TLS is peeked at: the rest is OpenSSL's to read. */
	do
		n = c->tls && c->state == SHOAL_CONN_PROXY_HEADER
			    ? shoal_conn_tls_peek(c, io->in + io->in_len, space)
			    : shoal_transport_read(CONN_TRANSPORT(c), io->in + io->in_len, space);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN) {
		c->readable = false;
		return IO_AGAIN;
	}
	if (n < 0 && errno == ECONNRESET)
		shoal_stats_error(env->handler->stats, SHOAL_STATS_ERROR_RESET);
	if (n <= 0)
		return IO_ERROR;
	io->in_len += (uint32_t)n;
	io->read_us = shoal_clock_mono_us();
	if ((size_t)n < space && !(c->tls && shoal_transport_pending(CONN_TRANSPORT(c))))
		c->readable = false;
	return IO_DONE;
}

static int conn_skip_body(struct shoal_conn *c)
{
	return shoal_conn_body_skip(c->io, (uint64_t)conn_env(c)->handler->cfg->max_body_size);
}

static bool conn_keep_alive(const struct shoal_conn *c, const struct shoal_http_request *req)
{
	const struct shoal_conn_env *env = conn_env(c);

	/* A client that waits for 100 Continue may never send the body we would have to skip,
	 * and one that does not wait will send it: only closing keeps the stream in sync. */
	if (req->expect_continue && req->body != SHOAL_HTTP_BODY_NONE)
		return false;
	return req->keep_alive && !env->draining && env->handler->cfg->keepalive_timeout > 0 &&
	       c->requests < (uint32_t)env->handler->cfg->max_keepalive_requests;
}

/* A request that could not be read whole (req NULL: not even its head), or whose body turned
 * out malformed or too large: its status, then the connection closes. */
static void conn_refuse(struct shoal_conn *c, const struct shoal_http_request *req,
			size_t bytes_in, int status)
{
	struct shoal_conn_env *env = conn_env(c);
	struct shoal_conn_io *io = c->io;
	size_t queued = io->out.bytes;
	bool limit = status == 413 || status == 414 || status == 431;

	/* A request not understood has no Host that can be trusted: the address's default. */
	shoal_reply_error(env->handler, shoal_route_default_site(c->origin->route), &io->out, status,
			  req ? req->version : SHOAL_HTTP_11, false, req && req->method == SHOAL_HTTP_HEAD);
	c->close_after = true;
	shoal_stats_error(env->handler->stats, status == 408 ? SHOAL_STATS_ERROR_TIMEOUT
					      : limit ? SHOAL_STATS_ERROR_LIMIT
					      : SHOAL_STATS_ERROR_PARSE);
	/* Not read: no router saw it, and the connection's peer is its client. */
	if (req)
		shoal_conn_account(c, req, io->client_family, io->client_addr, bytes_in,
				   io->out.bytes - queued, NULL);
	else
		shoal_conn_account(c, req, c->peer_family, c->peer_addr, bytes_in,
				   io->out.bytes - queued, NULL);
}

/* An answer that went on has ended: it is counted now, and the connection resumes after
 * the current events (the answer may still be on the stack). */
static void conn_async_done(struct shoal_handler_client *cl, const struct shoal_handler_result *r)
{
	struct shoal_conn_io *io = container_of(cl, struct shoal_conn_io, client);
	struct shoal_conn *c = io->owner;

	io->async = NULL;
	/* Not closed for a stop that began after the answer's head promised keep-alive: the
	 * client may be sending its next request already, which then gets the close. */
	c->close_after = c->close_after || !r->keep_alive;
	shoal_conn_account(c, r->req, io->client_family, io->client_addr, io->async_head_len,
			   r->bytes_out, r);
	c->state = SHOAL_CONN_WRITING;
	conn_set_timer(c, &conn_env(c)->send_q);
	conn_defer(conn_env(c), c);
}

/* What the connection lends an answer that may go on. */
static struct shoal_handler_client *conn_client(struct shoal_conn *c)
{
	struct shoal_conn_io *io = c->io;

	io->tcp = *SHOAL_CONN_TCP(conn_env(c), c);
	io->client = (struct shoal_handler_client){
		.fd = c->ev.fd, .transport = c->tls ? shoal_conn_tls_transport(conn_env(c), c) : &io->tcp,
		.tls = c->tls != 0, .out = &io->out, .in = io->in, .in_pos = &io->in_pos,
		.in_len = io->in_len, .readable = c->readable, .draining = &conn_env(c)->draining,
		.done = conn_async_done,
	};
	return &io->client;
}

/* Answers one parsed request of head_len bytes and arranges to skip its body. */
static void conn_answer(struct shoal_conn *c, const struct shoal_http_request *req,
			size_t head_len)
{
	struct shoal_conn_env *env = conn_env(c);
	struct shoal_conn_io *io = c->io;
	size_t queued = io->out.bytes;
	struct shoal_handler_req r = {
		.ctx = env->handler, .http = req, .out = &io->out,
		.peer_family = c->peer_family, .peer_addr = c->peer_addr, .peer_port = c->peer_port,
		.relayed = c->relayed ? shoal_pool_relayed(&env->pool, c->relayed) : NULL,
		.client = conn_client(c),
	};
	struct shoal_out_mark mark;
	int rc;

	c->requests++;
	r.keep_alive = conn_keep_alive(c, req);
	shoal_out_mark(&io->out, &mark);
	c->close_after = !shoal_route_answer(c->origin->route, &r);
	io->client_family = r.peer_family;
	memcpy(io->client_addr, r.peer_addr, r.peer_family == AF_INET ? 4 : 16);
	if (r.async) {
		/* It reads the body itself and is counted when done. */
		c->close_after = false;
		io->async = r.async;
		io->async_head_len = (uint32_t)head_len;
		return;
	}
	if (!r.body_refused) {
		shoal_conn_body_expect(io, req);
		/* A body whose framing is broken in what arrived with the head makes the whole
		 * request bad: its answer, not sent yet, gives way to the error. */
		if ((rc = conn_skip_body(c)) < 0) {
			shoal_out_rollback(&io->out, &mark);
			conn_refuse(c, req, head_len, -rc);
			return;
		}
	}
	shoal_conn_account(c, req, r.peer_family, r.peer_addr, head_len, io->out.bytes - queued,
			   NULL);
}

static size_t conn_buffered_head(const struct shoal_conn *c)
{
	size_t buffered = c->io->in_len - c->io->in_pos;
	size_t limit = (size_t)conn_env(c)->handler->cfg->max_header_size;

	return buffered < limit ? buffered : limit;
}

/* Queues responses for as many buffered requests as the batch has room for, so that a
 * pipelined burst is answered with one write. */
static void conn_parse_batch(struct shoal_conn *c)
{
	struct shoal_conn_env *env = conn_env(c);
	struct shoal_conn_io *io = c->io;

	while (!c->close_after && !io->async) {
		int rc;
		/* A body that turns out malformed or too large after its request was answered:
		 * the stream cannot be trusted any more, so the error closes it. */
		if ((io->body_left || io->body_chunked) && (rc = conn_skip_body(c)) <= 0) {
			if (rc < 0)
				conn_refuse(c, NULL, 0, -rc);
			return;
		}
		if (io->in_pos == io->in_len) {
			io->in_pos = io->in_len = io->in_scanned = 0;
			return;
		}
		/* The target is at most what is buffered and at most the head limit, so an empty
		 * batch always has room: the scratch space is sized for the head limit. */
		if (!shoal_out_room(&io->out, SHOAL_REPLY_IOVS,
				    shoal_reply_scratch_need(conn_buffered_head(c))))
			return;
		rc = shoal_http_parse_request(io->in + io->in_pos, io->in_len - io->in_pos,
					      io->in_scanned, &env->limits, &env->req);
		if (rc == SHOAL_HTTP_INCOMPLETE) {
			io->in_scanned = io->in_len - io->in_pos;
			return;
		}
		io->in_scanned = 0;
		if (rc < 0) {
			conn_refuse(c, NULL, io->in_len - io->in_pos, -rc);
			return;
		}
		io->in_pos += (uint32_t)rc;
		conn_answer(c, &env->req, (size_t)rc);
	}
}

/* Closing while the client may still be sending would make the kernel answer with a reset,
 * which can destroy the response in flight: shut our side, then read until the client
 * closes or the linger timer fires. */
static void conn_finish(struct shoal_conn *c)
{
	struct shoal_conn_env *env = conn_env(c);
	struct shoal_conn_io *io = c->io;

	if (!c->readable && (!io || (io->in_pos == io->in_len && !io->body_left && !io->body_chunked))) {
		/* TLS says its end (close_notify) before the socket closes. */
		if (c->tls)
			shoal_conn_tls_close_notify(env, c);
		conn_close(c);
		return;
	}
	shoal_transport_shutdown_write(CONN_TRANSPORT(c));
	conn_release_io(c);
	c->state = SHOAL_CONN_LINGERING;
	conn_set_timer(c, &env->linger_q);
}

static void conn_linger(struct shoal_conn *c)
{
	char sink[4096];
	ssize_t n;

	while ((n = shoal_transport_read(CONN_TRANSPORT(c), sink, sizeof(sink))) > 0)
		;
	if (n == 0 || errno != EAGAIN)
		conn_close(c);
}

static void conn_batch_sent(struct shoal_conn *c)
{
	struct shoal_conn_env *env = conn_env(c);
	struct shoal_conn_io *io = c->io;

	if (c->close_after) {
		conn_finish(c);
		return;
	}
	c->state = SHOAL_CONN_READING;
	conn_set_timer(c, io->in_pos < io->in_len ? &env->header_q : &env->keepalive_q);
}

/* Waiting for bytes: an idle connection gives its buffers back to the pool. */
static void conn_wait(struct shoal_conn *c)
{
	struct shoal_conn_env *env = conn_env(c);
	struct shoal_conn_io *io = c->io;

	if (io->in_pos == io->in_len && !io->body_left && !io->body_chunked) {
		conn_release_io(c);
		return;
	}
	/* The header timeout runs from a request's first byte and is never extended by the
	 * trickle that follows, which is what stops slow-header clients. */
	if (c->timer_q == &env->keepalive_q)
		conn_set_timer(c, &env->header_q);
}

static bool conn_take_io(struct shoal_conn *c)
{
	if (!c->io) {
		c->io = shoal_pool_io_get(&conn_env(c)->pool);
		if (c->io)
			c->io->owner = c;
	}
	return c->io != NULL;
}

/* Hands the socket to the answer that goes on; its own timers keep its time. It may end
 * at once (client->done), which only schedules the connection's next turn. */
static void conn_async_begin(struct shoal_conn *c)
{
	struct shoal_handler_async *a = c->io->async;

	c->state = SHOAL_CONN_ASYNC;
	conn_set_timer(c, &conn_env(c)->async_q);
	a->ops->start(a);
}

/* Parses what is buffered, else reads more. Returns false when the connection has to wait
 * for its next event (or was closed), true when there is more to do right away. */
static bool conn_read_and_parse(struct shoal_conn *c)
{
	struct shoal_conn_io *io = c->io;

	conn_parse_batch(c);
	if (io->async) {
		conn_async_begin(c);
		return false;
	}
	if (!shoal_out_empty(&io->out)) {
		c->state = SHOAL_CONN_WRITING;
		return true;
	}
	if (!c->readable) {
		conn_wait(c);
		return false;
	}
	switch (conn_fill(c)) {
	case IO_ERROR:
		conn_close(c);
		return false;
	case IO_AGAIN:
		conn_wait(c);
		return false;
	case IO_DONE:
		return true;
	}
	return false;
}

/* Reads the PROXY protocol header that opens the connection; what follows it in the buffer
 * is the first request. Returns as conn_read_and_parse does. */
static bool conn_read_proxy_header(struct shoal_conn *c)
{
	struct shoal_conn_env *env = conn_env(c);
	struct shoal_conn_io *io = c->io;
	size_t used;

	switch (shoal_proxy_header_take(env, c, &used)) {
	case SHOAL_PROXY_HEADER_TAKEN:
		io->in_pos = (uint32_t)used;
		c->state = SHOAL_CONN_READING;
		/* What follows the header is the handshake's, still in the socket. */
		if (c->tls) {
			if (!shoal_conn_tls_skip(c, used)) {
				conn_close(c);
				return false;
			}
			io->in_pos = io->in_len = 0;
			c->state = SHOAL_CONN_TLS_HANDSHAKE;
		}
		conn_set_timer(c, &env->header_q);
		return true;
	case SHOAL_PROXY_HEADER_CLOSE:
		conn_close(c);
		return false;
	case SHOAL_PROXY_HEADER_MORE:
		break;
	}
	if (c->tls)
		io->in_len = 0; /* peeked at again from the start */
	if (c->readable) {
		enum io_result r = conn_fill(c);
		if (r == IO_DONE)
			return true;
		if (r == IO_ERROR) {
			conn_close(c);
			return false;
		}
	}
	if (!io->in_len)
		conn_release_io(c);
	return false;
}

/* Registers a connection that has to wait (for bytes, for room to write, for the client to
 * close): edge-triggered, both directions, once for its lifetime. */
static void conn_watch(struct shoal_conn *c)
{
	if (shoal_event_add(conn_env(c)->loop, &c->ev,
			    EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
		conn_close(c);
		return;
	}
	c->watched = true;
}

static void conn_step(struct shoal_conn *c)
{
	struct shoal_conn_env *env = conn_env(c);

	while (c->ev.fd >= 0) {
		if (c->state == SHOAL_CONN_LINGERING) {
			conn_linger(c);
			return;
		}
		if (c->state == SHOAL_CONN_TLS_HANDSHAKE) {
			enum shoal_conn_tls_step step = shoal_conn_tls_handshake(env, c);
			if (step == SHOAL_CONN_TLS_CLOSE)
				conn_close(c);
			if (step != SHOAL_CONN_TLS_DONE)
				return;
			/* The first request may have come with the last handshake record. */
			c->state = SHOAL_CONN_READING;
			c->readable = true;
			conn_set_timer(c, &env->header_q);
			continue;
		}
		if (!conn_take_io(c)) {
			conn_close(c);
			return;
		}
		if (c->state == SHOAL_CONN_PROXY_HEADER) {
			if (!conn_read_proxy_header(c))
				return;
			continue;
		}
		if (c->state == SHOAL_CONN_READING) {
			if (!conn_read_and_parse(c))
				return;
			continue;
		}
		c->io->out.ends_stream = c->close_after;
		switch (shoal_out_flush(&c->io->out, CONN_TRANSPORT(c))) {
		case SHOAL_OUT_AGAIN:
			/* A send the loop holds is done before the timers run: its result
			 * comes back first, and a full socket then arms send_timeout. */
			if (!c->ev.send_slot)
				conn_set_timer(c, &env->send_q);
			return;
		case SHOAL_OUT_YIELD:
			conn_set_timer(c, &env->send_q);
			conn_defer(env, c);
			return;
		case SHOAL_OUT_ERROR:
			shoal_stats_error(env->handler->stats, SHOAL_STATS_ERROR_RESET);
			conn_close(c);
			return;
		case SHOAL_OUT_DONE:
			conn_batch_sent(c);
			break;
		}
	}
}

/* A connection whose answer waits in the loop's send queue is not watched yet: the queue
 * calls it back with the send's result, and one that closes after it (a new connection per
 * request) then never costs an epoll_ctl. */
static void conn_run(struct shoal_conn *c)
{
	conn_step(c);
	if (c->ev.fd >= 0 && !c->watched && !c->ev.send_slot)
		conn_watch(c);
}

static void conn_on_event(struct shoal_event_source *src, uint32_t events)
{
	struct shoal_conn *c = container_of(src, struct shoal_conn, ev);
	bool readable = false, writable = false;

	if (c->ev.fd < 0)
		return;
	shoal_transport_readiness(CONN_TRANSPORT(c),
				  events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR),
				  events & (EPOLLOUT | EPOLLERR | EPOLLHUP), &readable, &writable);
	if (readable)
		c->readable = true;
	if (c->state == SHOAL_CONN_ASYNC) {
		c->io->async->ops->on_client(c->io->async, events);
		return;
	}
	/* A connection only rests in WRITING when the client stopped reading (or, over TLS, a
	 * write waits for a read): new input waits until the write can go on. */
	if (c->state == SHOAL_CONN_WRITING && !writable)
		return;
	/* Nothing to read and nothing to write: an EPOLLOUT edge on an idle connection. */
	if ((c->state == SHOAL_CONN_READING || c->state == SHOAL_CONN_PROXY_HEADER) &&
	    !c->readable && !c->io)
		return;
	conn_run(c);
}

/* Gives every deferred connection its next turn; those that yield again wait for the next
 * round, after the events that arrived meanwhile. */
void shoal_conn_resume_deferred(struct shoal_conn_env *env)
{
	struct shoal_conn_io *list = env->deferred;

	env->deferred = NULL;
	while (list) {
		struct shoal_conn_io *io = list;
		list = io->deferred_next;
		if (list)
			list->deferred_prev = NULL;
		io->deferred = false;
		if (io->owner->ev.fd >= 0)
			conn_run(io->owner);
	}
}

static void conn_on_timer(struct shoal_timer *t)
{
	struct shoal_conn *c = container_of(t, struct shoal_conn, timer);
	struct shoal_conn_env *env = conn_env(c);
	struct shoal_conn_io *io = c->io;

	/* A request that started but never finished gets a 408; an idle one just closes. */
	if (c->timer_q == &env->send_q)
		shoal_stats_error(env->handler->stats, SHOAL_STATS_ERROR_TIMEOUT);
	if (c->timer_q == &env->proxy_q)
		shoal_stats_proxy_header(env->handler->stats, SHOAL_STATS_PROXY_HEADER_TIMEOUT);
	if (c->state == SHOAL_CONN_TLS_HANDSHAKE)
		shoal_conn_tls_timed_out(env);
	if (c->timer_q == &env->header_q && c->state == SHOAL_CONN_READING && io &&
	    io->in_len > io->in_pos && shoal_out_empty(&io->out)) {
		conn_refuse(c, NULL, io->in_len - io->in_pos, 408);
		io->in_pos = io->in_len;
		c->readable = true; /* the partial request is unread input: linger after the 408 */
		c->state = SHOAL_CONN_WRITING;
		conn_run(c);
		return;
	}
	conn_close(c);
}

void shoal_conn_env_init(struct shoal_conn_env *env, struct shoal_handler_ctx *handler)
{
	const struct shoal_config *cfg = handler->cfg;

	env->handler = handler;
	shoal_pool_init(&env->pool, (size_t)cfg->max_header_size + IN_SLACK,
			shoal_reply_scratch_need((size_t)cfg->max_header_size));
	env->limits.max_request_line = (size_t)cfg->max_header_size;
	env->limits.max_head = (size_t)cfg->max_header_size;
	env->limits.max_headers = (size_t)cfg->max_headers;
	shoal_timer_queue_init(&env->header_q, (uint64_t)cfg->header_timeout * 1000, conn_on_timer);
	shoal_timer_queue_init(&env->keepalive_q, (uint64_t)cfg->keepalive_timeout * 1000,
			       conn_on_timer);
	shoal_timer_queue_init(&env->send_q, (uint64_t)cfg->send_timeout * 1000, conn_on_timer);
	shoal_timer_queue_init(&env->linger_q, LINGER_MS, conn_on_timer);
	/* The answer keeps its own timers; this queue only holds the connection's place. */
	shoal_timer_queue_init(&env->async_q, ASYNC_MS, conn_on_timer);
	shoal_timer_queue_init(&env->proxy_q, (uint64_t)cfg->proxy_protocol_timeout_ms,
			       conn_on_timer);
}

void shoal_conn_env_free(struct shoal_conn_env *env)
{
	shoal_pool_free(&env->pool);
}

void shoal_conn_expire(struct shoal_conn_env *env)
{
	uint64_t now_ms = env->handler->now_ms;

	shoal_timer_expire(&env->header_q, now_ms);
	shoal_timer_expire(&env->keepalive_q, now_ms);
	shoal_timer_expire(&env->send_q, now_ms);
	shoal_timer_expire(&env->linger_q, now_ms);
	shoal_timer_expire(&env->async_q, now_ms);
	shoal_timer_expire(&env->proxy_q, now_ms);
	shoal_proxy_header_tell(&env->proxy_refusals, env->handler->log, now_ms);
}

int64_t shoal_conn_next_ms(const struct shoal_conn_env *env)
{
	const struct shoal_timer_queue *queues[] = { &env->header_q, &env->keepalive_q,
						     &env->send_q, &env->linger_q, &env->async_q,
						     &env->proxy_q };
	int64_t next = -1;

	if (env->deferred)
		return 0;
	for (size_t i = 0; i < ARRAY_LEN(queues); i++) {
		int64_t t = shoal_timer_next_ms(queues[i], env->handler->now_ms);
		if (t >= 0 && (next < 0 || t < next))
			next = t;
	}
	return next;
}

static void conn_close_queue(struct shoal_timer_queue *q)
{
	struct shoal_timer *t;

	while ((t = shoal_timer_pop_expired(q, UINT64_MAX)))
		conn_close(container_of(t, struct shoal_conn, timer));
}

void shoal_conn_close_idle(struct shoal_conn_env *env)
{
	conn_close_queue(&env->keepalive_q);
}

/* Every open connection sits in exactly one of the queues. */
void shoal_conn_close_all(struct shoal_conn_env *env)
{
	conn_close_queue(&env->header_q);
	conn_close_queue(&env->keepalive_q);
	conn_close_queue(&env->send_q);
	conn_close_queue(&env->linger_q);
	conn_close_queue(&env->async_q);
	conn_close_queue(&env->proxy_q);
}
