#include <sys/wait.h>

#include "checker.h"
#include "handover.h"
#include "reap.h"
#include "slots.h"
#include "spawn.h"
#include "state.h"
#include "workers.h"

/* A generation lives as long as its workers, or as long as it is current. */
static void reap_unref(struct master *m, struct shoal_generation *g)
{
	if (--g->refs == 0 && g != m->current)
		shoal_generation_free(g);
}

static void reap_log_exit(struct master *m, const struct master_worker *w, int status)
{
	bool expected = w->retiring || m->stopping;
	enum shoal_log_level level = expected ? SHOAL_LOG_INFO : SHOAL_LOG_WARN;

	if (WIFSIGNALED(status))
		shoal_log_write(&m->log, level, "worker %u (pid %d) killed by signal %d%s", w->slot,
				(int)w->pid, WTERMSIG(status), expected ? "" : ", restarting");
	else
		shoal_log_write(&m->log, level, "worker %u (pid %d) exited with status %d%s", w->slot,
				(int)w->pid, WEXITSTATUS(status), expected ? "" : ", restarting");
}

void shoal_master_reap(struct master *m)
{
	bool reaped = false;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct master_worker *w;
		if (shoal_master_checker_reaped(m, pid, status))
			continue;
		w = shoal_master_workers_untrack(m, pid);
		if (pid == m->upgrade_pid)
			shoal_master_handover_ended(m, status);
		if (!w)
			continue;
		reap_log_exit(m, w, status);
		shoal_master_workers_close_ready(m, w);
		shoal_master_state_reclaim(m, w);
		shoal_stats_release(&m->stats, w->stats_index);
		if (!m->stopping && !w->retiring && w->gen == m->current && w->slot < m->nslots)
			shoal_master_spawn_respawn(m, w->slot, m->now_ms - w->started_ms);
		reap_unref(m, w->gen);
		w->gen = NULL;
		shoal_master_workers_bury(m, w);
		reaped = true;
	}
	/* A retired worker gone may free the sockets of a slot that no longer exists. */
	if (reaped)
		shoal_master_slots_gc(m);
}
