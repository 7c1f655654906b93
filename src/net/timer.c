#include <stddef.h>

#include "shoal/net/timer.h"

void shoal_timer_queue_init(struct shoal_timer_queue *q, uint64_t duration_ms,
			    shoal_timer_fn on_expire)
{
	q->head.prev = &q->head;
	q->head.next = &q->head;
	q->head.deadline_ms = 0;
	q->duration_ms = duration_ms;
	q->on_expire = on_expire;
}

bool shoal_timer_armed(const struct shoal_timer *t)
{
	return t->next != NULL;
}

void shoal_timer_disarm(struct shoal_timer *t)
{
	if (!t->next)
		return;
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->prev = t->next = NULL;
}

void shoal_timer_arm(struct shoal_timer_queue *q, struct shoal_timer *t, uint64_t now_ms)
{
	shoal_timer_disarm(t);
	t->deadline_ms = now_ms + q->duration_ms;
	t->prev = q->head.prev;
	t->next = &q->head;
	q->head.prev->next = t;
	q->head.prev = t;
}

struct shoal_timer *shoal_timer_pop_expired(struct shoal_timer_queue *q, uint64_t now_ms)
{
	struct shoal_timer *first = q->head.next;

	if (first == &q->head || first->deadline_ms > now_ms)
		return NULL;
	shoal_timer_disarm(first);
	return first;
}

void shoal_timer_expire_due(struct shoal_timer_queue *q, uint64_t now_ms)
{
	/* A timer re-armed by its callback goes behind the tail seen here; in a queue of
	 * duration 0 it would be due again at once, so the walk stops at that tail. */
	struct shoal_timer *last = q->head.prev, *t;

	while ((t = shoal_timer_pop_expired(q, now_ms))) {
		q->on_expire(t);
		if (t == last)
			break;
	}
}
