#include <stdio.h>
#include <stdlib.h>

#include "shoal/state/format.h"
#include "shoal/state/upstream.h"
#include "shoal/stats/stats.h"
#include "state.h"

#define LOAD(field) atomic_load_explicit(&(field), memory_order_relaxed)
/* An entry's names, as the log shows them: bounded, whatever a writer left in the file. */
#define NAMES(e) SHOAL_STATE_UPSTREAM_TEXT, (e)->upstream, SHOAL_STATE_UPSTREAM_TEXT, (e)->server

/* What the log compares from one look to the next. */
struct master_state_seen {
	uint32_t admin;
	uint32_t weight;
	uint32_t check;
	bool ejected;
	uint64_t ejected_total;
};

int shoal_master_state_open(struct master *m, struct shoal_err *err)
{
	const struct shoal_generation *g = m->current;
	struct shoal_err why;

	m->state_seen = calloc(SHOAL_STATE_UPSTREAM_ROOM, sizeof(*m->state_seen));
	if (!m->state_seen)
		return shoal_err_set(err, "out of memory");
	if (m->upgrade_ready_fd >= 0) {
		if (shoal_state_adopt(&m->state, g->cfg.state_file, &why) == 0)
			return 0;
		log_warn(&m->log, "binary upgrade: upstream health and loads and limit zones "
			 "start afresh: %s", why.msg);
	}
	return shoal_state_create(&m->state, g->cfg.state_file,
				  g->drop_privileges ? g->uid : (uid_t)-1,
				  g->drop_privileges ? g->gid : (gid_t)-1, err);
}

static struct master_state_seen state_read(const struct shoal_state_upstream *e,
					   uint64_t now_ms)
{
	return (struct master_state_seen){
		.admin = LOAD(e->admin),
		.weight = LOAD(e->weight),
		.check = LOAD(e->check),
		.ejected = LOAD(e->ejected_until_ms) > now_ms,
		.ejected_total = LOAD(e->ejected_total),
	};
}

/* New entries are compared from their first values on: a change made before the first look
 * is still a change. */
static void state_remember_new(struct master *m)
{
	unsigned n = shoal_state_upstream_count(&m->state);

	for (unsigned i = m->state_nseen; i < n; i++)
		m->state_seen[i] = state_read(shoal_state_upstream_at(&m->state, i), m->now_ms);
	m->state_nseen = n;
	if (!m->next_state_ms && n)
		m->next_state_ms = m->now_ms + SHOAL_MASTER_STATE_WATCH_MS;
}

/* A name's addresses at load are its set until the checker looks again. An entry that has a
 * set keeps it: after a reload, that is the checker's latest. */
static void state_fill_addrs(struct shoal_state_upstream *e,
			     const struct shoal_upstream_server_conf *sv)
{
	struct sockaddr_storage ss[SHOAL_STATE_UPSTREAM_ADDRS];
	unsigned n = 0;
	uint32_t seq;

	if (!sv->host || shoal_state_upstream_addrs(e, ss, SHOAL_STATE_UPSTREAM_ADDRS, &seq))
		return;
	for (; n < sv->nresolved && n < SHOAL_STATE_UPSTREAM_ADDRS; n++)
		ss[n] = sv->resolved[n].ss;
	shoal_state_upstream_set_addrs(e, ss, n);
}

void shoal_master_state_add(struct master *m, const struct shoal_generation *g)
{
	const struct shoal_config *cfg = &g->cfg;
	size_t missed = 0;

	shoal_state_lock(&m->state);
	for (size_t i = 0; i < cfg->nupstreams; i++) {
		const struct shoal_upstream_conf *u = &cfg->upstreams[i];
		/* The group's queue: its waiting requests counted over every worker. */
		if (u->queue > 0)
			missed += !shoal_state_upstream_add(&m->state, u->name, "", m->now_ms);
		for (size_t j = 0; j < u->nservers; j++) {
			const struct shoal_upstream_server_conf *sv = &u->servers[j];
			struct shoal_state_upstream *e = shoal_state_upstream_add(
				&m->state, u->name, shoal_config_server_label(sv), m->now_ms);
			if (e)
				state_fill_addrs(e, sv);
			missed += !e;
		}
	}
	shoal_state_unlock(&m->state);
	if (missed && !m->state_full_logged) {
		log_warn(&m->log, "state file %s is full (%u upstream servers): %zu servers (or "
			 "queues) keep their health and load (or length) per worker; restart to "
			 "start a new file",
			 m->state.path, SHOAL_STATE_UPSTREAM_ROOM, missed);
		m->state_full_logged = true;
	}
	state_remember_new(m);
}

/* Never below zero: a count some worker already took back stays at zero. */
static void state_take_back(struct shoal_state_upstream *e, uint64_t n)
{
	uint32_t cur = LOAD(e->active), next;

	do {
		next = n < cur ? cur - (uint32_t)n : 0;
	} while (!atomic_compare_exchange_weak_explicit(&e->active, &cur, next,
							memory_order_relaxed,
							memory_order_relaxed));
}

/* What the worker held in concurrency zones: its journal names each hold. */
static void state_reclaim_holds(struct master *m, struct master_worker *w)
{
	size_t given = shoal_limit_journal_reclaim(&w->journal, &m->state);

	if (given)
		log_info(&m->log, "worker %u (pid %d) left %zu requests in flight in limit zones; "
			 "they no longer count", w->slot, (int)w->pid, given);
	shoal_limit_journal_unmap(&w->journal);
}

void shoal_master_state_reclaim(struct master *m, struct master_worker *w)
{
	struct shoal_stats_slot *slot = shoal_stats_slot_at(&m->stats, w->stats_index);
	unsigned n;

	state_reclaim_holds(m, w);
	if (!slot || !m->state.hdr)
		return;
	n = LOAD(slot->upstreams);
	if (n > SHOAL_STATS_UPSTREAM_ROOM)
		n = SHOAL_STATS_UPSTREAM_ROOM;
	for (unsigned i = 0; i < n; i++) {
		const struct shoal_stats_upstream_entry *se = &slot->upstream[i];
		uint64_t busy = LOAD(se->counters[SHOAL_STATS_UP_ACTIVE]);
		struct shoal_state_upstream *e;

		if (!busy)
			continue;
		e = shoal_state_upstream_find(&m->state, se->upstream, se->server);
		if (!e)
			continue;
		state_take_back(e, busy);
		if (shoal_state_upstream_is_queue(e))
			log_info(&m->log, "worker %u (pid %d) left %llu requests in the queue of "
				 "upstream %.*s; they no longer count", w->slot, (int)w->pid,
				 (unsigned long long)busy, SHOAL_STATE_UPSTREAM_TEXT, e->upstream);
		else
			log_info(&m->log, "worker %u (pid %d) left %llu requests in flight to "
				 "upstream %.*s server %.*s; they no longer count", w->slot,
				 (int)w->pid, (unsigned long long)busy, NAMES(e));
	}
}

static const char *state_weight(char buf[16], uint32_t weight)
{
	if (!weight)
		return "configured";
	snprintf(buf, 16, "%u", weight);
	return buf;
}

static void state_log_admin(struct master *m, const struct shoal_state_upstream *e,
			    const struct master_state_seen *was, const struct master_state_seen *is)
{
	char wbuf[2][16];

	if (was->admin != is->admin)
		shoal_log_write(&m->log, is->admin == SHOAL_STATE_ADMIN_UP ? SHOAL_LOG_INFO
									    : SHOAL_LOG_WARN,
				"upstream %.*s server %.*s: admin %s -> %s (shoalctl)", NAMES(e),
				shoal_state_format_admin_name(was->admin),
				shoal_state_format_admin_name(is->admin));
	if (was->weight != is->weight)
		log_info(&m->log, "upstream %.*s server %.*s: weight %s -> %s (shoalctl)", NAMES(e),
			 state_weight(wbuf[0], was->weight), state_weight(wbuf[1], is->weight));
}

static void state_log_health(struct master *m, const struct shoal_state_upstream *e,
			     const struct master_state_seen *was, const struct master_state_seen *is)
{
	char probe[32];
	uint64_t until = LOAD(e->ejected_until_ms);

	if (was->check != is->check) {
		shoal_state_format_check(probe, sizeof(probe), e);
		shoal_log_write(&m->log, is->check == SHOAL_STATE_CHECK_DOWN ? SHOAL_LOG_WARN
									      : SHOAL_LOG_INFO,
				"upstream %.*s server %.*s: check %s -> %s (last probe: %s)",
				NAMES(e), shoal_state_format_check_name(was->check),
				shoal_state_format_check_name(is->check), probe);
	}
	if (is->ejected_total != was->ejected_total)
		log_warn(&m->log, "upstream %.*s server %.*s: ejected after failures, for %llu ms "
			 "(%u in a row)", NAMES(e),
			 (unsigned long long)(until > m->now_ms ? until - m->now_ms : 0),
			 LOAD(e->ejections));
	else if (was->ejected && !is->ejected)
		log_info(&m->log, "upstream %.*s server %.*s: ejection over", NAMES(e));
}

void shoal_master_state_watch(struct master *m)
{
	bool quiet = m->handing_over || m->upgrade_ready_fd >= 0;
	unsigned n;

	if (!m->state.hdr || !m->next_state_ms || m->now_ms < m->next_state_ms)
		return;
	n = shoal_state_upstream_count(&m->state);
	for (unsigned i = 0; i < n; i++) {
		const struct shoal_state_upstream *e = shoal_state_upstream_at(&m->state, i);
		struct master_state_seen is = state_read(e, m->now_ms);
		/* An entry the other master of an upgrade appended is compared from now on. A
		 * queue has nothing to log: no admin, check or ejection. */
		if (i < m->state_nseen && !quiet && !shoal_state_upstream_is_queue(e)) {
			state_log_admin(m, e, &m->state_seen[i], &is);
			state_log_health(m, e, &m->state_seen[i], &is);
		}
		m->state_seen[i] = is;
	}
	m->state_nseen = n;
	m->next_state_ms = m->now_ms + SHOAL_MASTER_STATE_WATCH_MS;
}

void shoal_master_state_close(struct master *m)
{
	/* A new master that never took over leaves the file to the old one. */
	shoal_state_close(&m->state, !m->handing_over && m->upgrade_ready_fd < 0);
	free(m->state_seen);
	m->state_seen = NULL;
	m->state_nseen = 0;
}
