#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shoal/conn.h"
#include "shoal/http_path.h"
#include "shoal/http_response.h"
#include "shoal/mime.h"
#include "shoal/static_file.h"
#include "shoal/worker.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Linux moves at most about 2 GiB in one sendfile call. */
#define SENDFILE_MAX (1 << 30)

enum io_result { IO_DONE, IO_AGAIN, IO_ERROR };

static void conn_on_event(struct shoal_event_source *src, uint32_t events);

static void conn_set_timer(struct shoal_conn *c, struct shoal_timer_queue *q)
{
	c->timer_q = q;
	shoal_timer_arm(q, &c->timer, c->worker->now_ms);
}

static struct shoal_conn *conn_alloc(struct shoal_worker *w)
{
	struct shoal_conn *c = w->free_conns;

	if (c) {
		w->free_conns = c->next;
		memset(c, 0, sizeof(*c));
		return c;
	}
	return calloc(1, sizeof(*c));
}

void shoal_conn_accept(struct shoal_worker *w, struct shoal_worker_server *server, int fd)
{
	struct shoal_conn *c = conn_alloc(w);
	int one = 1;

	if (!c) {
		close(fd);
		return;
	}
	c->ev.on_event = conn_on_event;
	c->ev.fd = fd;
	c->worker = w;
	c->server = server;
	c->file_fd = -1;
	/* Responses leave in whole writes; Nagle would only hold back the tail of large ones. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (shoal_event_add(&w->loop, &c->ev, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
		close(fd);
		c->next = w->free_conns;
		w->free_conns = c;
		return;
	}
	w->nconns++;
	conn_set_timer(c, &w->header_q);
}

static void conn_release_io(struct shoal_conn *c)
{
	struct shoal_worker *w = c->worker;

	if (c->in)
		shoal_worker_buf_put(w, c->in);
	if (c->out)
		shoal_worker_buf_put(w, c->out);
	if (c->file_fd >= 0)
		close(c->file_fd);
	c->in = c->out = NULL;
	c->file_fd = -1;
}

void shoal_conn_close(struct shoal_conn *c)
{
	struct shoal_worker *w = c->worker;

	if (c->ev.fd < 0)
		return;
	/* Closing the fd removes it from epoll: workers never share connection fds. */
	close(c->ev.fd);
	c->ev.fd = -1;
	shoal_timer_disarm(&c->timer);
	conn_release_io(c);
	c->next = w->closed;
	w->closed = c;
	shoal_worker_conn_closed(w);
}

static enum io_result conn_flush(struct shoal_conn *c)
{
	while (c->out_pos < c->out_len) {
		int more = c->file_fd >= 0 ? MSG_MORE : 0;
		ssize_t n = send(c->ev.fd, c->out + c->out_pos, c->out_len - c->out_pos,
				 MSG_NOSIGNAL | more);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? IO_AGAIN : IO_ERROR;
		c->out_pos += (uint32_t)n;
	}
	while (c->file_fd >= 0 && c->file_off < c->file_end) {
		off_t left = c->file_end - c->file_off;
		ssize_t n = sendfile(c->ev.fd, c->file_fd, &c->file_off,
				     left < SENDFILE_MAX ? (size_t)left : SENDFILE_MAX);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? IO_AGAIN : IO_ERROR;
		if (n == 0) /* the file shrank under us: the promised length cannot be kept */
			return IO_ERROR;
	}
	return IO_DONE;
}

/* Reads once into the input buffer. A short read means the socket is empty for now: with
 * edge triggering, bytes arriving later raise a new event, so no EAGAIN round trip is needed. */
static enum io_result conn_fill(struct shoal_conn *c)
{
	struct shoal_worker *w = c->worker;
	size_t space;
	ssize_t n;

	if (!c->in) {
		c->in = shoal_worker_buf_get(w);
		if (!c->in)
			return IO_ERROR;
	}
	if (c->in_len == w->buf_size && c->in_pos > 0) {
		memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
		c->in_len -= c->in_pos;
		c->in_pos = 0;
	}
	space = w->buf_size - c->in_len;
	do
		n = read(c->ev.fd, c->in + c->in_len, space);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN) {
		c->readable = false;
		return IO_AGAIN;
	}
	if (n <= 0)
		return IO_ERROR;
	c->in_len += (uint32_t)n;
	if ((size_t)n < space)
		c->readable = false;
	return IO_DONE;
}

static bool conn_take_out(struct shoal_conn *c)
{
	if (!c->out)
		c->out = shoal_worker_buf_get(c->worker);
	c->out_len = c->out_pos = 0;
	return c->out != NULL;
}

static bool conn_keep_alive(const struct shoal_conn *c, const struct shoal_http_request *req)
{
	const struct shoal_worker *w = c->worker;

	return req->keep_alive && !w->draining && w->cfg->keepalive_timeout > 0 &&
	       c->requests < (uint32_t)w->cfg->max_keepalive_requests;
}

/* Queues a generated response (error pages, redirects, OPTIONS) with an HTML body for errors. */
static void conn_respond_simple(struct shoal_conn *c, struct shoal_http_head *head, bool head_only)
{
	struct shoal_worker *w = c->worker;
	char body[512];
	size_t body_len = head->status >= 400 ? shoal_http_error_body(body, sizeof(body), head->status) : 0;
	size_t n;

	if (!conn_take_out(c)) {
		shoal_conn_close(c);
		return;
	}
	if (body_len)
		head->content_type = "text/html; charset=utf-8";
	head->content_length = body_len;
	n = shoal_http_head_write(c->out, w->buf_size, head, &w->date);
	if (n == 0 || n + body_len > w->buf_size) {
		shoal_conn_close(c);
		return;
	}
	if (!head_only)
		memcpy(c->out + n, body, body_len);
	c->out_len = (uint32_t)(n + (head_only ? 0 : body_len));
	c->close_after = !head->keep_alive;
	c->state = SHOAL_CONN_WRITING;
}

static void conn_respond_error(struct shoal_conn *c, int status, int version, bool keep_alive,
			       bool head_only)
{
	struct shoal_http_head head = {
		.status = status, .version = version, .keep_alive = keep_alive,
	};

	conn_respond_simple(c, &head, head_only);
}

static void conn_redirect_to_dir(struct shoal_conn *c, const struct shoal_http_request *req,
				 bool keep_alive)
{
	struct shoal_worker *w = c->worker;
	size_t len = strlen(w->path);
	struct shoal_http_head head = {
		.status = 301, .version = req->version, .keep_alive = keep_alive,
		.location = w->path, .location_len = len + 1,
	};

	/* The path buffer has room: normalisation leaves at least one byte for the NUL. */
	if (len + 1 >= sizeof(w->path)) {
		conn_respond_error(c, 414, req->version, false, false);
		return;
	}
	w->path[len] = '/';
	w->path[len + 1] = '\0';
	conn_respond_simple(c, &head, req->method == SHOAL_HTTP_HEAD);
}

static void conn_serve_file(struct shoal_conn *c, const struct shoal_http_request *req,
			    bool keep_alive)
{
	struct shoal_worker *w = c->worker;
	struct shoal_static_file f;
	struct shoal_http_head head = { .version = req->version, .keep_alive = keep_alive };
	size_t path_len;
	char etag[48];
	size_t n;
	int rc = shoal_http_path_normalize(req->path.p, req->path.len, w->path, sizeof(w->path),
					   &path_len);

	if (rc < 0) {
		conn_respond_error(c, -rc, req->version, keep_alive, req->method == SHOAL_HTTP_HEAD);
		return;
	}
	shoal_static_open(c->server->root_fd, c->server->conf, w->path, path_len, &f);
	if (f.status == 301) {
		conn_redirect_to_dir(c, req, keep_alive);
		return;
	}
	if (f.status != 200) {
		conn_respond_error(c, f.status, req->version, keep_alive, req->method == SHOAL_HTTP_HEAD);
		return;
	}
	snprintf(etag, sizeof(etag), "\"%" PRIx64 "-%" PRIx64 "\"", (uint64_t)f.mtime, (uint64_t)f.size);
	head.status = 200;
	head.content_type = shoal_mime_lookup(w->mime, f.name, f.name_len);
	head.content_length = (uint64_t)f.size;
	head.last_modified = f.mtime;
	head.etag = etag;
	if (!conn_take_out(c) || (n = shoal_http_head_write(c->out, w->buf_size, &head, &w->date)) == 0) {
		close(f.fd);
		shoal_conn_close(c);
		return;
	}
	c->out_len = (uint32_t)n;
	c->close_after = !keep_alive;
	c->state = SHOAL_CONN_WRITING;
	if (req->method == SHOAL_HTTP_HEAD || f.size == 0) {
		close(f.fd);
		return;
	}
	c->file_fd = f.fd;
	c->file_off = 0;
	c->file_end = f.size;
}

static void conn_respond(struct shoal_conn *c, const struct shoal_http_request *req)
{
	bool keep_alive = conn_keep_alive(c, req);
	struct shoal_http_head head = { .version = req->version, .keep_alive = keep_alive };

	/* A client that waits for 100 Continue may never send the body we would have to skip,
	 * and one that does not wait will send it: only closing keeps the stream in sync. */
	if (req->expect_continue && req->body != SHOAL_HTTP_BODY_NONE)
		keep_alive = head.keep_alive = false;
	switch (req->method) {
	case SHOAL_HTTP_GET:
	case SHOAL_HTTP_HEAD:
		conn_serve_file(c, req, keep_alive);
		return;
	case SHOAL_HTTP_OPTIONS:
		head.status = 200;
		head.allow = "GET, HEAD, OPTIONS";
		conn_respond_simple(c, &head, false);
		return;
	default:
		head.status = 405;
		head.allow = "GET, HEAD, OPTIONS";
		conn_respond_simple(c, &head, false);
		return;
	}
}

/* Skips request body bytes in the buffer. Returns false while more body is expected. */
static bool conn_skip_body(struct shoal_conn *c)
{
	size_t avail = c->in_len - c->in_pos;

	if (c->body_chunked) {
		size_t used;
		uint64_t data = 0;
		int rc = shoal_http_chunked_skip(&c->chunked, c->in + c->in_pos, avail, &used, &data);
		c->in_pos += (uint32_t)used;
		if (rc < 0) {
			c->close_after = true;
			c->body_chunked = false;
			c->in_pos = c->in_len;
			return true;
		}
		c->body_chunked = rc == 0;
		return rc == 1;
	}
	if (c->body_left > avail) {
		c->body_left -= avail;
		c->in_pos = c->in_len;
		return false;
	}
	c->in_pos += (uint32_t)c->body_left;
	c->body_left = 0;
	return true;
}

static void conn_start_body(struct shoal_conn *c, const struct shoal_http_request *req)
{
	if (req->body == SHOAL_HTTP_BODY_LENGTH) {
		c->body_left = req->content_length;
	} else if (req->body == SHOAL_HTTP_BODY_CHUNKED) {
		c->body_chunked = true;
		shoal_http_chunked_init(&c->chunked);
	}
}

enum parse_result { PARSE_RESPONDED, PARSE_NEED_MORE };

/* Turns buffered bytes into at most one response. */
static enum parse_result conn_parse(struct shoal_conn *c)
{
	struct shoal_worker *w = c->worker;
	struct shoal_http_request *req = &w->req;
	int rc;

	if ((c->body_left || c->body_chunked) && !conn_skip_body(c))
		return PARSE_NEED_MORE;
	if (c->close_after) { /* the body was malformed: the stream cannot be trusted any more */
		shoal_conn_close(c);
		return PARSE_RESPONDED;
	}
	if (c->in_pos == c->in_len) {
		c->in_pos = c->in_len = c->in_scanned = 0;
		return PARSE_NEED_MORE;
	}
	rc = shoal_http_parse_request(c->in + c->in_pos, c->in_len - c->in_pos, c->in_scanned,
				      &w->limits, req);
	if (rc == SHOAL_HTTP_INCOMPLETE) {
		c->in_scanned = c->in_len - c->in_pos;
		return PARSE_NEED_MORE;
	}
	c->in_scanned = 0;
	if (rc < 0) {
		conn_respond_error(c, -rc, 11, false, false);
		return PARSE_RESPONDED;
	}
	c->in_pos += (uint32_t)rc;
	c->requests++;
	conn_start_body(c, req);
	conn_respond(c, req);
	return PARSE_RESPONDED;
}

/* Closing while the client may still be sending would make the kernel answer with a reset,
 * which can destroy the response in flight: shut our side, then read until the client
 * closes or the linger timer fires. */
static void conn_finish(struct shoal_conn *c)
{
	struct shoal_worker *w = c->worker;

	if (!c->readable && c->in_pos == c->in_len && !c->body_left && !c->body_chunked) {
		shoal_conn_close(c);
		return;
	}
	shutdown(c->ev.fd, SHUT_WR);
	conn_release_io(c);
	c->state = SHOAL_CONN_LINGERING;
	conn_set_timer(c, &w->linger_q);
}

static void conn_linger(struct shoal_conn *c)
{
	char sink[4096];
	ssize_t n;

	while ((n = read(c->ev.fd, sink, sizeof(sink))) > 0)
		;
	if (n == 0 || errno != EAGAIN)
		shoal_conn_close(c);
}

static void conn_response_done(struct shoal_conn *c)
{
	struct shoal_worker *w = c->worker;

	shoal_worker_buf_put(w, c->out);
	c->out = NULL;
	if (c->file_fd >= 0) {
		close(c->file_fd);
		c->file_fd = -1;
	}
	if (c->close_after) {
		conn_finish(c);
		return;
	}
	c->state = SHOAL_CONN_READING;
	conn_set_timer(c, c->in_pos < c->in_len ? &w->header_q : &w->keepalive_q);
}

/* Waiting for bytes: an idle connection gives its buffer back to the pool. */
static void conn_wait(struct shoal_conn *c)
{
	struct shoal_worker *w = c->worker;

	if (c->in_pos == c->in_len && c->in) {
		shoal_worker_buf_put(w, c->in);
		c->in = NULL;
		c->in_pos = c->in_len = c->in_scanned = 0;
	}
	/* The header timeout runs from a request's first byte and is never extended by the
	 * trickle that follows, which is what stops slow-header clients. */
	if (c->in_len > c->in_pos && c->timer_q == &w->keepalive_q)
		conn_set_timer(c, &w->header_q);
}

static void conn_run(struct shoal_conn *c)
{
	struct shoal_worker *w = c->worker;

	while (c->ev.fd >= 0) {
		switch (c->state) {
		case SHOAL_CONN_LINGERING:
			conn_linger(c);
			return;
		case SHOAL_CONN_WRITING:
			switch (conn_flush(c)) {
			case IO_AGAIN:
				conn_set_timer(c, &w->send_q);
				return;
			case IO_ERROR:
				shoal_conn_close(c);
				return;
			case IO_DONE:
				conn_response_done(c);
				continue;
			}
			return;
		case SHOAL_CONN_READING:
			if (conn_parse(c) == PARSE_RESPONDED)
				continue;
			if (!c->readable) {
				conn_wait(c);
				return;
			}
			switch (conn_fill(c)) {
			case IO_ERROR:
				shoal_conn_close(c);
				return;
			case IO_AGAIN:
				conn_wait(c);
				return;
			case IO_DONE:
				continue;
			}
			return;
		}
	}
}

static void conn_on_event(struct shoal_event_source *src, uint32_t events)
{
	struct shoal_conn *c = container_of(src, struct shoal_conn, ev);

	if (c->ev.fd < 0)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = true;
	/* A connection only rests in WRITING when the client stopped reading: new input waits
	 * until the socket takes more output. */
	if (c->state == SHOAL_CONN_WRITING && !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		return;
	conn_run(c);
}

void shoal_conn_timeout(struct shoal_conn *c)
{
	struct shoal_worker *w = c->worker;

	/* A request that started but never finished gets a 408; an idle one just closes. */
	if (c->timer_q == &w->header_q && c->state == SHOAL_CONN_READING && c->in_len > c->in_pos) {
		c->in_pos = c->in_len;
		conn_respond_error(c, 408, 11, false, false);
		c->readable = true; /* the partial request is unread input: linger after the 408 */
		conn_run(c);
		return;
	}
	shoal_conn_close(c);
}
