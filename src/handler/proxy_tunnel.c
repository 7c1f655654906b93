#include <errno.h>

#include "proxy_int.h"

/* One direction of a tunnel: bytes read from `from` are queued on out and sent to `to`,
 * through a window that is refilled only once out is empty. */
struct tn_dir {
	struct shoal_transport *from, *to;
	bool *readable, *writable;
	struct shoal_out *out;
	char *win;
};

/* Moves bytes until either end has to wait. PX_DONE: `from` ended its stream. Reads go on
 * to EAGAIN: a tunnel carries few bytes, and an end of stream that came with the last ones
 * raises no event of its own. */
static enum px_stop tn_move(struct tn_dir *d, size_t window, enum px_stop from_broken,
			    enum px_stop to_broken, uint64_t *moved)
{
	for (;;) {
		enum px_stop s = shoal_proxy_io_flush(d->out, d->to, d->writable, to_broken);
		ssize_t n;

		if (s != PX_DONE)
			return s;
		n = shoal_proxy_io_read(d->from, d->win, window, d->readable, false);
		if (n < 0 && errno == EAGAIN)
			return PX_WAIT;
		if (n <= 0)
			return n == 0 ? PX_DONE : from_broken;
		shoal_out_add(d->out, d->win, (size_t)n, NULL);
		*moved += (uint64_t)n;
	}
}

enum px_stop shoal_proxy_tunnel_pump(struct shoal_proxy_exchange *x)
{
	uint64_t up_bytes = 0, down_bytes = 0;
	struct shoal_transport tcp;
	struct shoal_transport *client = x->client->transport;
	struct shoal_transport *upstream = shoal_upstream_conn_transport(x->uc, &tcp);
	struct tn_dir up = {
		.from = client, .to = upstream,
		.readable = &x->cl_readable, .writable = &x->up_writable,
		.out = &x->rq.out, .win = x->rq.win,
	};
	struct tn_dir down = {
		.from = upstream, .to = client,
		.readable = &x->up_readable, .writable = &x->cl_writable,
		.out = x->client->out, .win = x->rs.win,
	};
	enum px_stop s;

	/* What either side sent along with the switch goes first; the windows are refilled
	 * only once those bytes are out. */
	if (x->rq.in_cur < x->client->in_len && shoal_out_room(&x->rq.out, 1, 0)) {
		shoal_out_add(&x->rq.out, x->client->in + x->rq.in_cur,
			      x->client->in_len - x->rq.in_cur, NULL);
		up_bytes += x->client->in_len - x->rq.in_cur;
		x->rq.in_cur = x->client->in_len;
	}
	if (x->rs.pos < x->rs.len && shoal_out_room(x->client->out, 1, 0)) {
		shoal_out_add(x->client->out, x->rs.win + x->rs.pos, x->rs.len - x->rs.pos, NULL);
		x->client_queued += x->rs.len - x->rs.pos;
		x->rs.pos = x->rs.len;
	}
	s = tn_move(&up, x->env->window, PX_CLIENT_GONE, PX_UP_BROKEN, &up_bytes);
	if (s == PX_WAIT)
		s = tn_move(&down, x->env->window, PX_UP_BROKEN, PX_CLIENT_GONE, &down_bytes);
	x->rq.queued += up_bytes;
	x->rs.bytes_in += down_bytes;
	x->client_queued += down_bytes;
	return s;
}
