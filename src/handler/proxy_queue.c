#include "proxy_int.h"
#include "shoal/stats/upstream.h"
#include "shoal/upstream/health.h"

/* How often a worker looks at its queues while requests wait: a place given back by another
 * worker has no event here, so this is how late it may be taken (and how late a timeout may
 * be answered). */
#define TICK_MS 10

bool shoal_proxy_queue_add(struct shoal_proxy_exchange *x)
{
	struct shoal_proxy_queues *q = x->queues;
	struct shoal_proxy_env *env = x->env;
	struct shoal_stats_slot *stats = env->ctx->stats;

	if (!shoal_upstream_queue_enter(x->group)) {
		shoal_stats_upstream_count(stats, q->queue_stats, SHOAL_STATS_UP_QUEUE_FULL);
		return false;
	}
	shoal_stats_upstream_count(stats, q->queue_stats, SHOAL_STATS_UP_QUEUED);
	shoal_stats_upstream_active(stats, q->queue_stats, +1);
	/* Appended: the head is always the oldest, so the first to time out. */
	x->queue_ms = env->ctx->now_ms;
	x->queue_next = NULL;
	x->queue_prev = q->queue_tail;
	if (q->queue_tail)
		q->queue_tail->queue_next = x;
	else
		q->queue_head = x;
	q->queue_tail = x;
	x->queued = true;
	if (!env->nqueued++)
		env->queue_ms = x->queue_ms + TICK_MS;
	return true;
}

void shoal_proxy_queue_remove(struct shoal_proxy_exchange *x, bool timed_out)
{
	struct shoal_proxy_queues *q = x->queues;
	struct shoal_stats_slot *stats = x->env->ctx->stats;

	if (!x->queued)
		return;
	if (x->queue_prev)
		x->queue_prev->queue_next = x->queue_next;
	else
		q->queue_head = x->queue_next;
	if (x->queue_next)
		x->queue_next->queue_prev = x->queue_prev;
	else
		q->queue_tail = x->queue_prev;
	x->queued = false;
	x->env->nqueued--;
	shoal_upstream_queue_leave(x->group);
	shoal_stats_upstream_active(stats, q->queue_stats, -1);
	if (timed_out)
		shoal_stats_upstream_count(stats, q->queue_stats, SHOAL_STATS_UP_QUEUE_TIMEOUT);
}

bool shoal_proxy_queue_expired(const struct shoal_proxy_exchange *x)
{
	return x->env->ctx->now_ms >= x->queue_ms + (uint64_t)x->group->conf->queue_timeout_ms;
}

unsigned shoal_proxy_queue_retry_after(const struct shoal_upstream *u)
{
	unsigned s = (unsigned)((u->conf->queue_timeout_ms + 999) / 1000);

	return s ? s : 1;
}

bool shoal_proxy_queue_due(struct shoal_proxy_env *env)
{
	uint64_t now = env->ctx->now_ms;
	bool due = env->queue_kick || now >= env->queue_ms;

	env->queue_kick = false;
	if (!env->nqueued || !due)
		return false;
	if (now >= env->queue_ms)
		env->queue_ms = now + TICK_MS;
	return true;
}

int64_t shoal_proxy_queue_next_ms(const struct shoal_proxy_env *env)
{
	uint64_t now = env->ctx->now_ms;

	if (!env->nqueued)
		return -1;
	if (env->queue_kick || now >= env->queue_ms)
		return 0;
	return (int64_t)(env->queue_ms - now);
}
