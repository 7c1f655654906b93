#include "shoal/upstream/health.h"

#define LOAD(field) atomic_load_explicit(&(field), memory_order_relaxed)
#define STORE(field, v) atomic_store_explicit(&(field), (v), memory_order_relaxed)

static const struct shoal_upstream_policy *health_policy(const struct shoal_upstream_server *s)
{
	return &s->group->conf->policy;
}

bool shoal_upstream_excluded(const struct shoal_upstream_server *s)
{
	return s->conf->down || LOAD(s->shared->admin) != SHOAL_STATE_ADMIN_UP;
}

bool shoal_upstream_usable(const struct shoal_upstream_server *s, uint64_t now_ms)
{
	const struct shoal_state_upstream *e = s->shared;

	return !shoal_upstream_excluded(s) && LOAD(e->check) != SHOAL_STATE_CHECK_DOWN &&
	       LOAD(e->ejected_until_ms) <= now_ms;
}

/* An ejection that ended is a return to service too: slow start ramps from its end. */
static uint64_t health_back_since(const struct shoal_state_upstream *e)
{
	uint64_t since = LOAD(e->usable_since_ms), until = LOAD(e->ejected_until_ms);

	return until > since ? until : since;
}

unsigned shoal_upstream_weight(const struct shoal_upstream_server *s, uint64_t now_ms)
{
	unsigned w = LOAD(s->shared->weight);
	uint64_t ramp = (uint64_t)health_policy(s)->slow_start_ms, since, part;

	if (!w)
		w = (unsigned)s->conf->weight;
	if (!ramp)
		return w;
	since = health_back_since(s->shared);
	if (now_ms >= since + ramp)
		return w;
	part = now_ms > since ? now_ms - since : 0;
	/* From a tenth to the whole: a server back from a restart warms its caches on a
	 * trickle, not on nothing (weight 0 would never be tried). */
	w = (unsigned)((uint64_t)w * (ramp + 9 * part) / (10 * ramp));
	return w ? w : 1;
}

unsigned shoal_upstream_active(const struct shoal_upstream_server *s)
{
	return LOAD(s->shared->active);
}

void shoal_upstream_busy(struct shoal_upstream_server *s, int delta)
{
	if (delta > 0)
		atomic_fetch_add_explicit(&s->shared->active, 1, memory_order_relaxed);
	else
		atomic_fetch_sub_explicit(&s->shared->active, 1, memory_order_relaxed);
}

bool shoal_upstream_room(const struct shoal_upstream_server *s)
{
	unsigned max = (unsigned)s->conf->max_conns;

	return !max || LOAD(s->shared->active) < max;
}

/* The count moves only from a value below max: when two processes race for the last place,
 * the second one's compare-and-swap finds the count changed, sees it at max and gives up. */
static bool health_take(_Atomic uint32_t *count, unsigned max)
{
	uint32_t cur = atomic_load_explicit(count, memory_order_relaxed);

	do {
		if (cur >= max)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(count, &cur, cur + 1, memory_order_relaxed,
							memory_order_relaxed));
	return true;
}

bool shoal_upstream_reserve(struct shoal_upstream_server *s)
{
	if (!s->conf->max_conns) {
		atomic_fetch_add_explicit(&s->shared->active, 1, memory_order_relaxed);
		return true;
	}
	return health_take(&s->shared->active, (unsigned)s->conf->max_conns);
}

bool shoal_upstream_queue_enter(struct shoal_upstream *u)
{
	return u->queue_shared && health_take(&u->queue_shared->active, (unsigned)u->conf->queue);
}

void shoal_upstream_queue_leave(struct shoal_upstream *u)
{
	atomic_fetch_sub_explicit(&u->queue_shared->active, 1, memory_order_relaxed);
}

unsigned shoal_upstream_queued(const struct shoal_upstream *u)
{
	return u->queue_shared ? LOAD(u->queue_shared->active) : 0;
}

bool shoal_upstream_fail_status(const struct shoal_upstream *u, int status)
{
	const struct shoal_upstream_policy *p = &u->conf->policy;

	for (size_t i = 0; i < p->nfail_status; i++)
		if (p->fail_status[i] == status)
			return true;
	return false;
}

/* The group's servers ejected now, as this worker sees them. Two workers ejecting two
 * servers at the same instant can pass the limit by one: the bound is on the decision, not
 * a lock across workers on every failure. */
static size_t health_ejected(const struct shoal_upstream *u, uint64_t now_ms)
{
	size_t n = 0;

	for (size_t i = 0; i < u->nservers; i++)
		if (LOAD(u->servers[i].shared->ejected_until_ms) > now_ms)
			n++;
	return n;
}

static bool health_may_eject(const struct shoal_upstream_server *s, uint64_t now_ms)
{
	const struct shoal_upstream *u = s->group;
	size_t ejected = health_ejected(u, now_ms);
	size_t total = u->nprimaries ? u->nprimaries : u->nservers;

	if (!ejected)
		return true;
	return (ejected + 1) * 100 <= (size_t)health_policy(s)->max_ejection_percent * total;
}

/* One worker wins the compare-and-swap and makes the ejection; the others see it done. */
void shoal_upstream_eject(struct shoal_upstream_server *s, uint64_t now_ms)
{
	struct shoal_state_upstream *e = s->shared;
	uint64_t until = LOAD(e->ejected_until_ms);
	unsigned n;

	if (!health_policy(s)->max_fails || until > now_ms || !health_may_eject(s, now_ms))
		return;
	n = LOAD(e->ejections) + 1;
	if (n > SHOAL_UPSTREAM_EJECT_MAX)
		n = SHOAL_UPSTREAM_EJECT_MAX;
	if (!atomic_compare_exchange_strong_explicit(
		    &e->ejected_until_ms, &until,
		    now_ms + (uint64_t)health_policy(s)->fail_timeout_ms * n,
		    memory_order_relaxed, memory_order_relaxed))
		return;
	STORE(e->ejections, n);
	STORE(e->fails, 0);
	atomic_fetch_add_explicit(&e->ejected_total, 1, memory_order_relaxed);
}

static void health_failure(struct shoal_upstream_server *s, uint64_t now_ms)
{
	const struct shoal_upstream_policy *p = health_policy(s);
	struct shoal_state_upstream *e = s->shared;
	uint64_t start = LOAD(e->fail_window_ms);
	unsigned fails;

	/* Not now_ms - start: another worker, its clock read a moment later, may have opened
	 * the window after this failure's now_ms, and the difference would wrap around and
	 * open a new window, dropping the failures counted in this one. */
	if (now_ms >= start + (uint64_t)p->fail_timeout_ms &&
	    atomic_compare_exchange_strong_explicit(&e->fail_window_ms, &start, now_ms,
						    memory_order_relaxed, memory_order_relaxed)) {
		STORE(e->fails, 1);
		fails = 1;
	} else {
		fails = atomic_fetch_add_explicit(&e->fails, 1, memory_order_relaxed) + 1;
	}
	if (fails >= (unsigned)p->max_fails)
		shoal_upstream_eject(s, now_ms);
}

void shoal_upstream_report(struct shoal_upstream_server *s, enum shoal_upstream_outcome outcome,
			   uint64_t now_ms)
{
	const struct shoal_upstream_policy *p = health_policy(s);
	struct shoal_state_upstream *e = s->shared;

	if (!p->max_fails)
		return;
	if (outcome == SHOAL_UPSTREAM_FAILED) {
		health_failure(s, now_ms);
		return;
	}
	/* The common case costs one load: nothing to forget. */
	if (LOAD(e->ejections) &&
	    now_ms >= LOAD(e->ejected_until_ms) + (uint64_t)p->fail_timeout_ms)
		STORE(e->ejections, 0);
}

bool shoal_upstream_probe_result(struct shoal_upstream_server *s, bool passed, int detail,
				 uint64_t now_ms)
{
	const struct shoal_health_check_conf *c = &s->group->conf->health_check;
	struct shoal_state_upstream *e = s->shared;
	uint32_t cur = LOAD(e->check);
	bool up = cur != SHOAL_STATE_CHECK_DOWN;
	unsigned streak;

	STORE(e->last_check_ms, now_ms);
	STORE(e->check_detail, (uint32_t)detail);
	atomic_fetch_add_explicit(passed ? &e->checks_passed : &e->checks_failed, 1,
				  memory_order_relaxed);
	if (passed == up) {
		STORE(e->check_streak, 0);
		if (cur == SHOAL_STATE_CHECK_NONE)
			STORE(e->check, SHOAL_STATE_CHECK_UP);
		return false;
	}
	streak = LOAD(e->check_streak) + 1;
	if (streak < (unsigned)(passed ? c->rise : c->fall)) {
		STORE(e->check_streak, streak);
		return false;
	}
	STORE(e->check_streak, 0);
	if (passed)
		STORE(e->usable_since_ms, now_ms);
	STORE(e->check, passed ? SHOAL_STATE_CHECK_UP : SHOAL_STATE_CHECK_DOWN);
	return true;
}

void shoal_upstream_answered(struct shoal_upstream_server *s, uint64_t now_ms)
{
	if (LOAD(s->shared->last_answer_ms) != now_ms)
		STORE(s->shared->last_answer_ms, now_ms);
}

bool shoal_upstream_stalled(const struct shoal_upstream_server *s, uint64_t waiting_ms,
			    uint64_t now_ms)
{
	uint64_t stall = (uint64_t)health_policy(s)->stall_timeout_ms;

	return stall && now_ms >= waiting_ms + stall &&
	       now_ms >= LOAD(s->shared->last_answer_ms) + stall;
}

bool shoal_upstream_checked_down(const struct shoal_upstream_server *s)
{
	return LOAD(s->shared->check) == SHOAL_STATE_CHECK_DOWN;
}
