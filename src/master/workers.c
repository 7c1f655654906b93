#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/master/notify.h"
#include "workers.h"

/* A fast stop asks workers to exit at once; this is when they are killed if they did not. */
#define FAST_STOP_KILL_MS 1000
/* Grace beyond a worker's own shutdown_timeout before the master kills it. */
#define RETIRE_GRACE_MS 2000

int shoal_master_workers_reserve(struct master *m)
{
	struct master_worker **workers;
	size_t cap = m->cap_workers ? m->cap_workers * 2 : 8;

	if (m->nworkers < m->cap_workers)
		return 0;
	workers = realloc(m->workers, cap * sizeof(*workers));
	if (!workers)
		return -1;
	m->workers = workers;
	m->cap_workers = cap;
	return 0;
}

struct master_worker *shoal_master_workers_untrack(struct master *m, pid_t pid)
{
	for (size_t i = 0; i < m->nworkers; i++) {
		struct master_worker *w = m->workers[i];
		if (w->pid == pid) {
			m->workers[i] = m->workers[--m->nworkers];
			return w;
		}
	}
	return NULL;
}

/* A failure here (EPERM without CAP_KILL for workers of another user) would otherwise leave
 * the operator wondering why a stop never ends. */
void shoal_master_workers_signal(struct master *m, const struct master_worker *w, int sig)
{
	if (kill(w->pid, sig) < 0 && errno != ESRCH)
		log_error(&m->log, "cannot send signal %d to worker %u (pid %d): %s", sig, w->slot,
			  (int)w->pid, strerror(errno));
}

/* A worker being replaced gets WINCH: it keeps idle keep-alive connections until their next
 * request. A worker of a stopping server gets QUIT: it closes them at once. Handing over to
 * a new master is a replacement, not a stop: the sockets live on in the new master. */
void shoal_master_workers_retire(struct master *m, struct master_worker *w)
{
	bool stop = m->stopping && !m->handing_over;

	if (w->retiring && (!stop || w->told_to_stop))
		return;
	if (!w->retiring || stop)
		w->kill_at_ms = m->now_ms + RETIRE_GRACE_MS +
				(uint64_t)(w->gen->cfg.shutdown_timeout + (stop ? w->gen->cfg.stop_delay : 0)) *
					1000;
	w->retiring = true;
	w->told_to_stop = stop;
	shoal_master_workers_signal(m, w, stop ? SIGQUIT : SIGWINCH);
	log_info(&m->log, "retiring worker %u (pid %d, generation %u)", w->slot, (int)w->pid,
		 w->gen->id);
}

void shoal_master_workers_close_ready(struct master *m, struct master_worker *w)
{
	if (w->ready_ev.fd < 0)
		return;
	shoal_event_del(&m->loop, &w->ready_ev);
	close(w->ready_ev.fd);
	w->ready_ev.fd = -1;
}

void shoal_master_workers_bury(struct master *m, struct master_worker *w)
{
	if (m->ndead == m->cap_dead) {
		size_t cap = m->cap_dead ? m->cap_dead * 2 : 8;
		struct master_worker **dead = realloc(m->dead, cap * sizeof(*dead));
		if (!dead) {
			/* Without room to defer, a pending event could touch freed memory: keep it. */
			return;
		}
		m->dead = dead;
		m->cap_dead = cap;
	}
	m->dead[m->ndead++] = w;
}

void shoal_master_workers_free_dead(struct master *m)
{
	while (m->ndead)
		free(m->dead[--m->ndead]);
}

void shoal_master_workers_stop(struct master *m, bool fast)
{
	if (m->stopping && (m->fast_stop || !fast))
		return;
	log_info(&m->log, "%s stop: %zu workers to stop", fast ? "fast" : "graceful", m->nworkers);
	shoal_notify("STOPPING=1");
	m->stopping = true;
	m->fast_stop = fast;
	for (size_t i = 0; i < m->nworkers; i++) {
		struct master_worker *w = m->workers[i];
		if (fast) {
			shoal_master_workers_signal(m, w, SIGTERM);
			w->kill_at_ms = m->now_ms + FAST_STOP_KILL_MS;
		} else {
			shoal_master_workers_retire(m, w);
		}
	}
}
