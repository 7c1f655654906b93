/* Timeout queues. Every timer in a queue has the same duration, so appending at the tail
 * keeps a queue sorted by deadline: arming, disarming and expiring are all O(1), with no
 * scan and no heap. A worker keeps one queue per kind of timeout (header, keep-alive, ...). */
#ifndef SHOAL_NET_TIMER_H
#define SHOAL_NET_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct shoal_timer {
	struct shoal_timer *prev, *next; /* NULL when not armed */
	uint64_t deadline_ms;
};

/* Called for a timer of the queue that is due, after it was disarmed; it may arm it again
 * (in any queue). The queue carries the callback, not each timer: every timer of a queue is
 * of one kind, and a timer is embedded in every idle connection, whose size counts. */
typedef void (*shoal_timer_fn)(struct shoal_timer *t);

struct shoal_timer_queue {
	struct shoal_timer head; /* sentinel of a circular list */
	uint64_t duration_ms;
	shoal_timer_fn on_expire;
};

void shoal_timer_queue_init(struct shoal_timer_queue *q, uint64_t duration_ms,
			    shoal_timer_fn on_expire);

/* (Re)arms t to fire duration_ms after now_ms, moving it from whatever queue it was in. */
void shoal_timer_arm(struct shoal_timer_queue *q, struct shoal_timer *t, uint64_t now_ms);
void shoal_timer_disarm(struct shoal_timer *t);
bool shoal_timer_armed(const struct shoal_timer *t);

/* Disarms and returns the first timer whose deadline is <= now_ms, or NULL. */
struct shoal_timer *shoal_timer_pop_expired(struct shoal_timer_queue *q, uint64_t now_ms);

/* The expiry walk of shoal_timer_expire, once the first timer is known to be due. */
void shoal_timer_expire_due(struct shoal_timer_queue *q, uint64_t now_ms);

/* Calls on_expire for every timer whose deadline is <= now_ms, in deadline order. A timer
 * that the callback arms again in this queue waits for a later call. Inline: a worker asks
 * every queue on every loop turn, and almost always nothing is due. */
static inline void shoal_timer_expire(struct shoal_timer_queue *q, uint64_t now_ms)
{
	const struct shoal_timer *first = q->head.next;

	if (first != &q->head && first->deadline_ms <= now_ms)
		shoal_timer_expire_due(q, now_ms);
}

/* Milliseconds until the first deadline of q (0 if already due), or -1 if q is empty. */
static inline int64_t shoal_timer_next_ms(const struct shoal_timer_queue *q, uint64_t now_ms)
{
	const struct shoal_timer *first = q->head.next;

	if (first == &q->head)
		return -1;
	return first->deadline_ms > now_ms ? (int64_t)(first->deadline_ms - now_ms) : 0;
}

#endif
