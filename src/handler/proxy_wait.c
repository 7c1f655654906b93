#include "proxy_int.h"

struct shoal_proxy_waiting *shoal_proxy_wait_list(struct shoal_proxy_exchange *x)
{
	size_t group = (size_t)(x->group - x->env->set.groups);

	return &x->env->queues[group].waiting[x->server->index];
}

/* Appended: tries begin in time order, so the head is always the oldest. */
void shoal_proxy_wait_add(struct shoal_proxy_exchange *x, uint64_t now_ms)
{
	struct shoal_proxy_waiting *w = shoal_proxy_wait_list(x);

	x->wait_ms = now_ms;
	x->wait_next = NULL;
	x->wait_prev = w->tail;
	if (w->tail)
		w->tail->wait_next = x;
	else
		w->head = x;
	w->tail = x;
	x->waiting = true;
}

void shoal_proxy_wait_remove(struct shoal_proxy_exchange *x)
{
	struct shoal_proxy_waiting *w;

	if (!x->waiting)
		return;
	w = shoal_proxy_wait_list(x);
	if (x->wait_prev)
		x->wait_prev->wait_next = x->wait_next;
	else
		w->head = x->wait_next;
	if (x->wait_next)
		x->wait_next->wait_prev = x->wait_prev;
	else
		w->tail = x->wait_prev;
	x->waiting = false;
}
