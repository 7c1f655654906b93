#include <string.h>
#include <sys/epoll.h>

#include "shoal/net/recvq.h"
#include "shoal/stats/upstream.h"
#include "shoal/upstream/pool.h"

static void pool_unlink(struct shoal_upstream_conn *uc)
{
	struct shoal_upstream_server *s = uc->server;

	if (uc->prev)
		uc->prev->next = uc->next;
	else
		s->idle = uc->next;
	if (uc->next)
		uc->next->prev = uc->prev;
	uc->prev = uc->next = NULL;
	uc->idle = false;
	s->nidle--;
	shoal_stats_upstream_idle(s->group->set->stats, s->stats_index, -1);
}

/* Anything but room to write, on an idle connection, means it is gone or broken: the server
 * closed it (EPOLLRDHUP), reset it, or sent bytes that answer no request. */
static void pool_on_idle_event(struct shoal_upstream_conn *uc, uint32_t events)
{
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	pool_unlink(uc);
	shoal_upstream_conn_close(uc);
}

static struct shoal_upstream_conn *pool_lend(struct shoal_upstream_conn *uc,
					     shoal_upstream_conn_fn on_event, void *holder)
{
	pool_unlink(uc);
	uc->on_event = on_event;
	uc->holder = holder;
	return uc;
}

/* Whether s still holds uc (an idle connection), which is closed if its address set was
 * replaced. */
static bool pool_current(struct shoal_upstream_server *s, struct shoal_upstream_conn *uc)
{
	if (shoal_upstream_address_current(s, uc->addr_seq))
		return true;
	pool_unlink(uc);
	shoal_upstream_conn_close(uc);
	return false;
}

struct shoal_upstream_conn *shoal_upstream_pool_get(struct shoal_upstream_server *s,
						    shoal_upstream_conn_fn on_event, void *holder)
{
	struct shoal_upstream_conn *uc;

	while ((uc = s->idle))
		if (pool_current(s, uc))
			return pool_lend(uc, on_event, holder);
	return NULL;
}

static bool same_announce(const struct shoal_upstream_announce *a,
			  const struct shoal_upstream_announce *b)
{
	const struct shoal_proxy_proto_addrs *x = &a->ends, *y = &b->ends;

	if (a->client_fd != b->client_fd || x->src_family != y->src_family ||
	    x->src_port != y->src_port || memcmp(x->src, y->src, sizeof(x->src)) != 0)
		return false;
	return a->client_fd >= 0 || (x->dst_family == y->dst_family && x->dst_port == y->dst_port &&
				     memcmp(x->dst, y->dst, sizeof(x->dst)) == 0);
}

struct shoal_upstream_conn *
shoal_upstream_pool_get_announced(struct shoal_upstream_server *s,
				  const struct shoal_upstream_announce *want,
				  shoal_upstream_conn_fn on_event, void *holder)
{
	struct shoal_upstream_conn *uc, *next;

	for (uc = s->idle; uc; uc = next) {
		next = uc->next;
		if (pool_current(s, uc) && same_announce(&uc->announce, want))
			return pool_lend(uc, on_event, holder);
	}
	return NULL;
}

void shoal_upstream_pool_put(struct shoal_upstream_conn *uc)
{
	struct shoal_upstream_server *s = uc->server;

	if (s->nidle >= (unsigned)s->group->conf->keepalive ||
	    !shoal_upstream_address_current(s, uc->addr_seq)) {
		shoal_upstream_conn_close(uc);
		return;
	}
	uc->on_event = pool_on_idle_event;
	uc->holder = NULL;
	/* An exchange that spliced its body took it out of the reads ahead. */
	if (!uc->tls)
		shoal_recvq_take_part(&uc->ev, true);
	uc->idle = true;
	uc->prev = NULL;
	uc->next = s->idle;
	if (s->idle)
		s->idle->prev = uc;
	s->idle = uc;
	s->nidle++;
	shoal_stats_upstream_idle(s->group->set->stats, s->stats_index, 1);
}

void shoal_upstream_pool_drain(struct shoal_upstream_server *s)
{
	while (s->idle) {
		struct shoal_upstream_conn *uc = s->idle;
		pool_unlink(uc);
		shoal_upstream_conn_close(uc);
	}
}
