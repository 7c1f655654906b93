#include <stdlib.h>
#include <string.h>

#include "proxy_int.h"
#include "shoal/base/log.h"
#include "shoal/stats/upstream.h"
#include "shoal/upstream/health.h"

/* How often a worker looks for servers that stopped answering while tries wait on them. */
#define SCAN_MS 50

static int px_queues_init(struct shoal_proxy_queues *q, const struct shoal_upstream_conf *c)
{
	q->waiting = calloc(c->nservers, sizeof(*q->waiting));
	if (!q->waiting)
		return -1;
	q->queue_stats = -1;
	shoal_timer_queue_init(&q->connect_q, (uint64_t)c->connect_timeout_ms, shoal_proxy_on_timer);
	shoal_timer_queue_init(&q->send_q, (uint64_t)c->send_timeout_ms, shoal_proxy_on_timer);
	shoal_timer_queue_init(&q->read_q, (uint64_t)c->read_timeout_ms, shoal_proxy_on_timer);
	shoal_timer_queue_init(&q->tunnel_q, (uint64_t)c->tunnel_timeout_ms, shoal_proxy_on_timer);
	return 0;
}

/* Only groups that can tell a server stopped answering need the scan. */
static bool px_scans(const struct shoal_upstream_conf *c)
{
	return c->policy.stall_timeout_ms || c->health_check.type != SHOAL_CHECK_NONE;
}

/* Every server, and every group's queue, gets its entry in the worker's counters; those
 * beyond the room are not counted, which is said once. A queue's entry is also where the
 * master finds the requests a dead worker left waiting. */
static void px_register_stats(struct shoal_proxy_env *env)
{
	struct shoal_stats_slot *stats = env->ctx->stats;
	size_t missed = 0;

	env->set.stats = stats;
	for (size_t i = 0; stats && i < env->set.ngroups; i++) {
		struct shoal_upstream *u = &env->set.groups[i];
		if (u->conf->queue > 0) {
			env->queues[i].queue_stats =
				shoal_stats_upstream_register(stats, u->conf->name, "");
			missed += env->queues[i].queue_stats < 0;
		}
		for (size_t j = 0; j < u->nservers; j++) {
			u->servers[j].stats_index = shoal_stats_upstream_register(
				stats, u->conf->name, shoal_config_server_label(u->servers[j].conf));
			missed += u->servers[j].stats_index < 0;
		}
	}
	if (missed && env->ctx->log)
		log_warn(env->ctx->log, "%zu upstream servers (or queues) are not counted in the "
			 "stats: a worker has room for %d", missed, SHOAL_STATS_UPSTREAM_ROOM);
}

int shoal_proxy_env_init(struct shoal_proxy_env *env, struct shoal_handler_ctx *ctx,
			 struct shoal_event_loop *loop, struct shoal_err *err)
{
	const struct shoal_config *cfg = ctx->cfg;

	memset(env, 0, sizeof(*env));
	env->ctx = ctx;
	env->window = (size_t)cfg->proxy_buffer_size;
	/* Bounds of shoal_http_forward_request: the head grows by what is added, at most the
	 * host twice more and the client's address; a client head near the limit with a long
	 * Host is refused (431) rather than given a larger window. */
	env->head_cap = 2 * (size_t)cfg->max_header_size + 1024;
	env->resp_limits.max_head = (size_t)cfg->max_header_size;
	env->resp_limits.max_headers = (size_t)cfg->max_headers;
	shoal_timer_queue_init(&env->client_q, (uint64_t)cfg->send_timeout * 1000, shoal_proxy_on_timer);
	if (shoal_upstream_set_init(&env->set, cfg, ctx->tls_clients, ctx->state, loop, err) < 0)
		return -1;
	env->queues = calloc(env->set.ngroups ? env->set.ngroups : 1, sizeof(*env->queues));
	if (!env->queues) {
		shoal_upstream_set_free(&env->set);
		return shoal_err_set(err, "out of memory");
	}
	for (size_t i = 0; i < env->set.ngroups; i++) {
		if (px_queues_init(&env->queues[i], &cfg->upstreams[i]) < 0) {
			shoal_proxy_env_free(env);
			return shoal_err_set(err, "out of memory");
		}
		if (px_scans(&cfg->upstreams[i]))
			env->scan_ms = 1;
	}
	px_register_stats(env);
	ctx->proxy = env;
	return 0;
}

void shoal_proxy_env_free(struct shoal_proxy_env *env)
{
	while (env->free) {
		struct shoal_proxy_exchange *x = env->free;
		env->free = x->next_free;
		free(x);
	}
	shoal_proxy_splice_free(env);
	for (size_t i = 0; env->queues && i < env->set.ngroups; i++)
		free(env->queues[i].waiting);
	shoal_upstream_set_free(&env->set);
	free(env->queues);
	env->queues = NULL;
	env->nfree = 0;
}

/* A stalled server is ejected, and the tries waiting on it or on a server its check found
 * down go elsewhere: their answers are not coming, and waiting out read_timeout is what
 * turns one hung server into every client's stall. */
static void px_scan_server(struct shoal_upstream_server *s, struct shoal_proxy_waiting *w,
			   uint64_t now)
{
	struct shoal_proxy_exchange *x = w->head;

	if (!x)
		return;
	if (shoal_upstream_stalled(s, x->wait_ms, now))
		shoal_upstream_eject(s, now);
	else if (!shoal_upstream_checked_down(s))
		return;
	while (x) {
		struct shoal_proxy_exchange *next = x->wait_next;
		shoal_proxy_abandon(x);
		x = next;
	}
}

static void px_scan(struct shoal_proxy_env *env, uint64_t now)
{
	env->scan_ms = now + SCAN_MS;
	for (size_t i = 0; i < env->set.ngroups; i++) {
		struct shoal_upstream *u = &env->set.groups[i];
		if (!px_scans(u->conf))
			continue;
		for (size_t j = 0; j < u->nservers; j++)
			px_scan_server(&u->servers[j], &env->queues[i].waiting[j], now);
	}
}

void shoal_proxy_expire(struct shoal_proxy_env *env)
{
	uint64_t now = env->ctx->now_ms;

	if (env->scan_ms && env->nbusy && now >= env->scan_ms)
		px_scan(env, now);
	if (shoal_proxy_queue_due(env))
		for (size_t i = 0; i < env->set.ngroups; i++)
			if (env->queues[i].queue_head)
				shoal_proxy_dispatch(&env->queues[i]);

	shoal_timer_expire(&env->client_q, now);
	for (size_t i = 0; i < env->set.ngroups; i++) {
		struct shoal_proxy_queues *q = &env->queues[i];
		shoal_timer_expire(&q->connect_q, now);
		shoal_timer_expire(&q->send_q, now);
		shoal_timer_expire(&q->read_q, now);
		shoal_timer_expire(&q->tunnel_q, now);
	}
}

static void sooner(int64_t *next, int64_t t)
{
	if (t >= 0 && (*next < 0 || t < *next))
		*next = t;
}

int64_t shoal_proxy_next_ms(const struct shoal_proxy_env *env)
{
	uint64_t now = env->ctx->now_ms;
	int64_t next = shoal_timer_next_ms(&env->client_q, now);

	if (env->scan_ms && env->nbusy)
		sooner(&next, env->scan_ms > now ? (int64_t)(env->scan_ms - now) : 0);
	sooner(&next, shoal_proxy_queue_next_ms(env));

	for (size_t i = 0; env->nbusy && i < env->set.ngroups; i++) {
		const struct shoal_proxy_queues *q = &env->queues[i];
		sooner(&next, shoal_timer_next_ms(&q->connect_q, now));
		sooner(&next, shoal_timer_next_ms(&q->send_q, now));
		sooner(&next, shoal_timer_next_ms(&q->read_q, now));
		sooner(&next, shoal_timer_next_ms(&q->tunnel_q, now));
	}
	return next;
}

void shoal_proxy_recycle(struct shoal_proxy_env *env)
{
	shoal_upstream_set_recycle(&env->set);
}
