#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checker.h"
#include "handover.h"
#include "master_int.h"
#include "reload.h"
#include "shoal/base/clock.h"
#include "shoal/handler/metrics.h"
#include "shoal/master/limit.h"
#include "shoal/master/master.h"
#include "signals.h"
#include "slots.h"
#include "spawn.h"
#include "state.h"
#include "takeover.h"
#include "tls.h"
#include "workers.h"

/* How often the master looks at the workers' heartbeats. */
#define WATCHDOG_PERIOD_MS 1000
/* Stats slots: every worker slot, and as many again for workers being replaced. A slot is
 * 33 KiB with its upstream counters, but the file takes memory only for the slots ever
 * claimed, so its 66 MiB for 2048 slots stay mostly a hole. */
#define STATS_CAPACITY (2 * MAX_SLOTS)

int shoal_master_check(const char *config_path, struct shoal_config *cfg, FILE *warnings,
		       struct shoal_err *err)
{
	struct shoal_generation *g = shoal_generation_load(config_path, err);

	if (!g)
		return -1;
	/* The contexts are made as a start would make them, for what only OpenSSL can tell
	 * (a cipher list that names nothing). */
	if (shoal_generation_tls_build(g, NULL, err) < 0) {
		shoal_generation_free(g);
		return -1;
	}
	for (size_t i = 0; i < g->ntls_warnings; i++)
		fprintf(warnings, "shoal: warning: %s\n", g->tls_warnings[i].msg);
	shoal_generation_into_config(g, cfg);
	return 0;
}

static void master_run_timers(struct master *m)
{
	shoal_master_takeover_pidfile(m);
	for (unsigned slot = 0; slot < m->nslots && !m->stopping; slot++) {
		struct master_slot *s = &m->slots[slot];
		if (s->respawn_at_ms && s->respawn_at_ms <= m->now_ms) {
			s->respawn_at_ms = 0;
			shoal_master_spawn_slot(m, slot);
		}
	}
	for (size_t i = 0; i < m->nworkers; i++) {
		struct master_worker *w = m->workers[i];
		if (w->kill_at_ms && w->kill_at_ms <= m->now_ms) {
			log_warn(&m->log, "worker %u (pid %d) did not exit in time; killing it", w->slot,
				 (int)w->pid);
			shoal_master_workers_signal(m, w, SIGKILL);
			w->kill_at_ms = 0;
		}
	}
	shoal_master_checker_timers(m);
	shoal_master_tls_timers(m);
}

/* A worker whose heartbeat stopped is stuck (an endless loop, a blocked system call): only
 * a kill frees its slot for a replacement. */
static void master_watchdog(struct master *m)
{
	for (size_t i = 0; i < m->nworkers; i++) {
		struct master_worker *w = m->workers[i];
		struct shoal_stats_slot *slot = shoal_stats_slot_at(&m->stats, w->stats_index);
		uint64_t limit = (uint64_t)w->gen->cfg.worker_timeout * 1000;
		uint64_t beat;

		if (!slot || !w->ready || w->hung || limit == 0)
			continue;
		beat = atomic_load_explicit(&slot->heartbeat_ms, memory_order_relaxed);
		if (beat && m->now_ms > beat + limit) {
			log_error(&m->log, "worker %u (pid %d) is hung: no heartbeat for %llu ms; "
				  "killing it", w->slot, (int)w->pid,
				  (unsigned long long)(m->now_ms - beat));
			shoal_master_workers_signal(m, w, SIGKILL);
			w->hung = true;
		}
	}
}

static void master_export_stats(struct master *m)
{
	const struct shoal_config *cfg = &m->current->cfg;
	struct shoal_err err;

	if (strcmp(cfg->stats_export, "off") == 0 || m->now_ms < m->next_export_ms)
		return;
	m->next_export_ms = m->now_ms + (uint64_t)cfg->stats_interval * 1000;
	if (shoal_metrics_export(cfg->stats_export, &m->stats.view, m->state.hdr ? &m->state : NULL,
				 m->now_ms, &err) < 0)
		log_warn(&m->log, "stats export: %s", err.msg);
}

static int master_next_timeout(const struct master *m)
{
	uint64_t next = m->nworkers ? m->now_ms + WATCHDOG_PERIOD_MS : UINT64_MAX;

	if (strcmp(m->current->cfg.stats_export, "off") != 0 && m->next_export_ms < next)
		next = m->next_export_ms;
	if (m->next_state_ms && m->next_state_ms < next)
		next = m->next_state_ms;
	for (unsigned slot = 0; slot < m->nslots; slot++)
		if (m->slots[slot].respawn_at_ms && m->slots[slot].respawn_at_ms < next)
			next = m->slots[slot].respawn_at_ms;
	for (size_t i = 0; i < m->nworkers; i++)
		if (m->workers[i]->kill_at_ms && m->workers[i]->kill_at_ms < next)
			next = m->workers[i]->kill_at_ms;
	if (m->pidfile_retry_ms && m->pidfile_retry_ms < next)
		next = m->pidfile_retry_ms;
	next = shoal_master_checker_next(m, next);
	next = shoal_master_tls_next(m, next);
	if (next == UINT64_MAX)
		return -1;
	return next > m->now_ms ? (int)(next - m->now_ms) : 0;
}

/* A new master continues the old one's counters; a fresh start begins at zero. */
static int master_open_stats(struct master *m, struct shoal_err *err)
{
	const struct shoal_generation *g = m->current;
	struct shoal_err why;

	if (m->upgrade_ready_fd >= 0) {
		if (shoal_stats_adopt(&m->stats, g->cfg.stats_file, &why) == 0)
			return 0;
		log_warn(&m->log, "binary upgrade: counters restart from zero: %s", why.msg);
	}
	return shoal_stats_create(&m->stats, g->cfg.stats_file, STATS_CAPACITY,
				  g->drop_privileges ? g->uid : (uid_t)-1,
				  g->drop_privileges ? g->gid : (gid_t)-1, err);
}

static int master_start(struct master *m, struct shoal_err *err)
{
	struct shoal_generation *g = shoal_master_reload_load(m, err);

	if (!g)
		return -1;
	m->current = g;
	g->id = ++m->next_gen_id;
	if (shoal_log_open(&m->log, g->cfg.error_log, g->cfg.log_level, err) < 0 ||
	    shoal_master_takeover_adopt(m, err) < 0 || shoal_master_tls_start(m, g, err) < 0)
		return -1;
	/* After an upgrade the old master holds the pid file until we serve. */
	if (m->upgrade_ready_fd < 0 && shoal_pidfile_acquire(&m->pidfile, g->cfg.pid_file, err) < 0)
		return -1;
	if (shoal_event_init(&m->loop, err) < 0 || shoal_master_signals_setup(m, err) < 0 ||
	    shoal_master_slots_resize(m, (unsigned)g->cfg.workers) < 0 ||
	    shoal_master_slots_sockets(m, err) < 0 || master_open_stats(m, err) < 0 ||
	    shoal_master_state_open(m, err) < 0 ||
	    shoal_master_limit_add(&m->state, &g->cfg, &m->log, NULL, err) < 0)
		return -1;
	shoal_master_slots_gc(m);
	shoal_master_slots_steer(m);
	shoal_master_spawn_raise_nofile(m);
	shoal_stats_set_generation(&m->stats, g->id);
	if (g->cfg.user && !g->drop_privileges)
		log_warn(&m->log, "not running as root: 'user' is ignored, workers keep uid %d",
			 (int)geteuid());
	log_info(&m->log, "starting %u workers (config %s)", m->nslots, g->cfg.path);
	shoal_master_state_add(m, g);
	shoal_master_spawn_all(m);
	shoal_master_checker_start(m);
	return 0;
}

static void master_cleanup(struct master *m)
{
	/* After a hand-over the files belong to the new master. */
	shoal_stats_close(&m->stats, !m->handing_over);
	shoal_master_state_close(m);
	shoal_master_handover_close(m);
	shoal_master_tls_close(m);
	if (m->upgrade_ready_fd >= 0)
		close(m->upgrade_ready_fd);
	shoal_slot_sockets_close_all(&m->sockets);
	free(m->slots);
	free(m->workers);
	shoal_master_workers_free_dead(m);
	shoal_master_checker_free(m);
	free(m->dead);
	if (m->current)
		shoal_generation_free(m->current);
	if (m->signals.fd >= 0)
		close(m->signals.fd);
	shoal_event_close(&m->loop);
	shoal_pidfile_release(&m->pidfile);
	if (m->startup_fd >= 0)
		close(m->startup_fd);
	shoal_log_close(&m->log);
}

int shoal_master_run(const struct shoal_master_options *opts, struct shoal_err *err)
{
	struct master m = {
		.config_path = opts->config_path,
		.startup_fd = opts->ready_fd,
		.exe = opts->exe,
		.loop.epfd = -1,
		.signals.fd = -1,
		.pidfile.fd = -1,
		.stats.fd = -1,
		.state.fd = -1,
		.upgrade_ev.fd = -1,
		.upgrade_ready_fd = -1,
	};
	int rc = 0;

	shoal_log_init(&m.log, "master");
	m.now_ms = shoal_clock_mono_ms();
	if (master_start(&m, err) < 0) {
		if (m.log.owns_fd)
			log_error(&m.log, "%s", err->msg);
		shoal_master_takeover_report(&m, err);
		master_cleanup(&m);
		return -1;
	}
	while (!m.stopping || m.nworkers > 0 || m.checkers) {
		int n = shoal_event_wait(&m.loop, master_next_timeout(&m));
		if (n < 0) {
			rc = shoal_err_set(err, "epoll_wait: %s", strerror(errno));
			break;
		}
		m.now_ms = shoal_clock_mono_ms();
		shoal_event_dispatch(&m.loop, n);
		shoal_master_workers_free_dead(&m);
		master_run_timers(&m);
		master_watchdog(&m);
		master_export_stats(&m);
		shoal_master_state_watch(&m);
	}
	log_info(&m.log, "exiting");
	master_cleanup(&m);
	return rc;
}
