#include <sys/epoll.h>

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

struct shoal_upstream_conn *shoal_upstream_pool_get(struct shoal_upstream_server *s,
						    shoal_upstream_conn_fn on_event, void *holder)
{
	struct shoal_upstream_conn *uc;

	while ((uc = s->idle)) {
		pool_unlink(uc);
		if (shoal_upstream_address_current(s, uc->addr_seq))
			break;
		shoal_upstream_conn_close(uc);
	}
	if (!uc)
		return NULL;
	uc->on_event = on_event;
	uc->holder = holder;
	return uc;
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
