#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy_int.h"
#include "shoal/http/forward.h"
#include "shoal/net/addr.h"

/* Queues the head and the body from its first byte, behind the PROXY protocol header of a
 * new connection if there is one: at the start, and again for a resend on a fresh
 * connection (then the body is still where it was: see from_socket). */
void shoal_proxy_request_restart(struct shoal_proxy_exchange *x)
{
	struct px_request *rq = &x->rq;

	shoal_out_reset(&rq->out);
	if (x->pp_len)
		shoal_out_add(&rq->out, x->pp, x->pp_len, NULL);
	shoal_out_add(&rq->out, x->head, rq->head_len, NULL);
	rq->queued = x->pp_len + rq->head_len;
	rq->in_cur = rq->in_start;
	rq->left = x->req.content_length;
	rq->chunked_seen = 0;
	shoal_http_chunked_init(&rq->dec);
	rq->done = rq->body == SHOAL_HTTP_BODY_NONE ||
		   (rq->body == SHOAL_HTTP_BODY_LENGTH && rq->left == 0);
}

/* Body bytes at hand: what the client connection buffered, else what the window holds,
 * else NULL (read more). */
static const char *rq_source(struct shoal_proxy_exchange *x, size_t *n, bool *from_conn)
{
	struct px_request *rq = &x->rq;

	*from_conn = rq->in_cur < x->client->in_len;
	if (*from_conn) {
		*n = x->client->in_len - rq->in_cur;
		return x->client->in + rq->in_cur;
	}
	*n = rq->win_len - rq->win_pos;
	return *n ? rq->win + rq->win_pos : NULL;
}

static void rq_consume(struct px_request *rq, bool from_conn, size_t n)
{
	if (from_conn)
		rq->in_cur += (uint32_t)n;
	else
		rq->win_pos += (uint32_t)n;
}

/* Reads body bytes into the empty window; never past a Content-Length body's end, so the
 * client's next request stays in its socket for the connection to read. */
static enum px_stop rq_read(struct shoal_proxy_exchange *x)
{
	struct px_request *rq = &x->rq;
	size_t want = x->env->window;
	ssize_t n;

	if (rq->body == SHOAL_HTTP_BODY_LENGTH && rq->left < want)
		want = (size_t)rq->left;
	n = shoal_proxy_io_read(x->client->transport, rq->win, want, &x->cl_readable, !x->cl_hup);
	if (n < 0 && errno == EAGAIN)
		return PX_WAIT;
	if (n <= 0)
		return PX_CLIENT_GONE;
	rq->win_pos = 0;
	rq->win_len = (uint32_t)n;
	rq->from_socket = true;
	return PX_DONE;
}

/* Re-frames chunk data from p[0..n) as chunks of our own, while the batch has room.
 * Returns how much of p was used, or -1 for a malformed body. */
static ssize_t rq_queue_chunked(struct px_request *rq, const char *p, size_t n)
{
	size_t used = 0;

	while (used < n && !rq->done && shoal_out_room(&rq->out, 3, 24)) {
		size_t consumed, off, len;
		int rc = shoal_http_chunked_next(&rq->dec, p + used, n - used, &consumed, &off, &len);

		if (rc < 0)
			return -1;
		if (len) {
			rq->queued += shoal_proxy_io_chunk(&rq->out, p + used + off, len);
			rq->chunked_seen += len;
		}
		used += consumed;
		if (rc == 1) {
			rq->queued += shoal_proxy_io_last_chunk(&rq->out);
			rq->done = true;
		}
	}
	return (ssize_t)used;
}

/* Queues what the source holds of the body while the batch has room: PX_DONE, or PX_WAIT
 * when there was no room for any of it; PX_CLIENT_BAD for a malformed body. */
static enum px_stop rq_queue(struct shoal_proxy_exchange *x, const char *p, size_t n,
			     bool from_conn)
{
	struct px_request *rq = &x->rq;
	ssize_t used;

	if (rq->body == SHOAL_HTTP_BODY_LENGTH) {
		if (!shoal_out_room(&rq->out, 1, 0))
			return PX_WAIT;
		used = (ssize_t)(rq->left < n ? rq->left : n);
		shoal_out_add(&rq->out, p, (size_t)used, NULL);
		rq->queued += (uint64_t)used;
		rq->left -= (uint64_t)used;
		rq->done = rq->left == 0;
	} else if ((used = rq_queue_chunked(rq, p, n)) < 0 ||
		   rq->chunked_seen > (uint64_t)x->env->ctx->cfg->max_body_size) {
		return PX_CLIENT_BAD; /* the caller tells a 400 from a 413 by chunked_seen */
	} else if (used == 0 && !rq->done) {
		return PX_WAIT;
	}
	rq_consume(rq, from_conn, (size_t)used);
	/* Bytes after a chunked body that came from the socket belong to a next request that
	 * the connection will never see. */
	if (rq->done && !from_conn && rq->win_pos < rq->win_len)
		rq->overread = true;
	return PX_DONE;
}

static enum px_stop rq_flush(struct shoal_proxy_exchange *x)
{
	struct shoal_transport tcp;
	enum px_stop s = shoal_proxy_io_flush(&x->rq.out, shoal_upstream_conn_transport(x->uc, &tcp),
					      &x->up_writable, PX_UP_BROKEN);

	if (s == PX_UP_BROKEN)
		x->up_errno = errno;
	return s;
}

/* Queues what is at hand as far as the batch has room, sends the batch once, reads from the
 * client once what was at hand is used up: a head with its body in the buffer leaves in one
 * write. */
enum px_stop shoal_proxy_request_pump(struct shoal_proxy_exchange *x)
{
	struct px_request *rq = &x->rq;

	for (;;) {
		enum px_stop s = PX_DONE;
		const char *p = NULL;
		bool from_conn;
		size_t n;

		if (!rq->done && (p = rq_source(x, &n, &from_conn))) {
			if ((s = rq_queue(x, p, n, from_conn)) == PX_CLIENT_BAD)
				return s;
			if (s == PX_DONE)
				continue;
		}
		if ((s = rq_flush(x)) != PX_DONE)
			return s;
		if (rq->done)
			return PX_DONE;
		if (p)
			continue;
		if ((s = rq_read(x)) != PX_DONE)
			return s;
	}
}


/* A request waiting in the queue has no server yet: the group's first names the host, as
 * the first try's does for every retry. */
bool shoal_proxy_request_head(struct shoal_proxy_exchange *x, const struct shoal_handler_req *req,
			      const struct shoal_location_conf *loc)
{
	const struct shoal_upstream_server *s = x->server ? x->server : &x->group->servers[0];
	const char *addr = shoal_config_server_label(s->conf);
	char client[INET6_ADDRSTRLEN] = "unknown";
	struct shoal_http_forward_opts o = {
		.client_addr = client, .x_forwarded = loc->x_forwarded, .forwarded = loc->forwarded,
		.upgrade = x->tunnel, .default_host = { addr, strlen(addr) }, .https = req->client->tls,
		.xff_cut = req->real_ip.family ? &req->real_ip : NULL,
	};

	if (o.x_forwarded || o.forwarded)
		if (!shoal_addr_format_ip(req->peer_family, req->peer_addr, client, sizeof(client)))
			strcpy(client, "unknown");
	if (loc->proxy_host)
		o.host = (struct shoal_http_str){ loc->proxy_host, strlen(loc->proxy_host) };
	x->rq.head_len = (uint32_t)shoal_http_forward_request(req->http, &o, x->head,
							     x->env->head_cap);
	return x->rq.head_len != 0;
}
