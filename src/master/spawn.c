#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ready.h"
#include "shoal/handler/limit.h"
#include "shoal/worker/worker.h"
#include "spawn.h"
#include "workers.h"

/* A worker that dies sooner than this after its start counts towards crash-loop backoff. */
#define FAST_DEATH_MS 1000
#define BACKOFF_MAX_MS 30000
/* Descriptors a worker needs beyond its connections: listeners, files being sent, logs. */
#define NOFILE_SPARE 1024

/* A worker keeps only its own slot's sockets, so that a socket the master closes is really
 * closed once its last user is gone. */
void shoal_master_spawn_close_inherited(struct master *m, const struct shoal_generation *own,
					const int *keep, size_t nkeep)
{
	shoal_event_close(&m->loop);
	close(m->signals.fd);
	if (m->pidfile.fd >= 0)
		close(m->pidfile.fd);
	if (m->startup_fd >= 0)
		close(m->startup_fd);
	for (const struct master_checker *c = m->checkers; c; c = c->next)
		if (c->ready_ev.fd >= 0)
			close(c->ready_ev.fd);
	for (size_t i = 0; i < m->nworkers; i++) {
		const struct shoal_generation *g = m->workers[i]->gen;
		shoal_limit_journal_unmap(&m->workers[i]->journal);
		if (m->workers[i]->ready_ev.fd >= 0)
			close(m->workers[i]->ready_ev.fd);
		for (size_t j = 0; g != own && j < g->nroot_fds; j++)
			close(g->root_fds[j]);
	}
	for (size_t i = 0; i < m->sockets.n; i++) {
		bool kept = false;
		for (size_t j = 0; j < nkeep; j++)
			kept = kept || keep[j] == m->sockets.v[i].fd;
		if (!kept)
			close(m->sockets.v[i].fd);
	}
}

static void spawn_run_child(struct master *m, struct shoal_generation *g, unsigned slot,
			    int ready_fd, const int *listen_fds, int stats_index,
			    struct shoal_limit_journal *journal)
{
	struct shoal_worker_params p = {
		.cfg = &g->cfg, .log = &m->log, .slot = slot, .generation = g->id,
		.addrs = g->addrs, .listen_fds = listen_fds, .nlisten = g->naddrs,
		.tls_sets = g->tls_sets, .tls_clients = g->tls_clients,
		.root_fds = g->root_fds, .mime = g->mime, .ready_fd = ready_fd,
		.drop_privileges = g->drop_privileges, .uid = g->uid, .gid = g->gid,
		.stats = shoal_stats_slot_at(&m->stats, stats_index),
		.stats_view = &m->stats.view,
		.state = &m->state,
		.limit_journal = journal->cell ? journal : NULL,
	};

	shoal_master_spawn_close_inherited(m, g, listen_fds, g->naddrs);
	shoal_log_set_role(&m->log, "worker %u", slot);
	_exit(shoal_worker_run(&p));
}

static int spawn_fork(struct master *m, unsigned slot)
{
	struct shoal_generation *g = m->current;
	struct master_worker *w = calloc(1, sizeof(*w));
	int *fds = calloc(g->naddrs, sizeof(*fds));
	int pipefd[2] = { -1, -1 };
	struct shoal_limit_journal journal = { .cell = NULL };
	struct shoal_err err;
	int stats_index;
	pid_t pid = -1;

	if (!w || !fds || shoal_master_workers_reserve(m) < 0 ||
	    pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
		goto fail;
	for (size_t i = 0; i < g->naddrs; i++)
		fds[i] = shoal_slot_sockets_fd(&m->sockets, g->addrs[i], slot);
	/* Claimed before the fork so that the child is the slot's only writer from the start. */
	stats_index = shoal_stats_claim(&m->stats, slot, g->id);
	if (stats_index < 0)
		log_warn(&m->log, "stats file full: worker %u runs without statistics", slot);
	if (shoal_limit_journal_map(&journal, shoal_limit_journal_cells(&g->cfg), &err) < 0)
		log_warn(&m->log, "worker %u: %s; if it dies, its requests in flight count against "
			 "their limit zones' keys until the master stops", slot, err.msg);
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		spawn_run_child(m, g, slot, pipefd[1], fds, stats_index, &journal);
	}
	if (pid < 0) {
		shoal_stats_release(&m->stats, stats_index);
		shoal_limit_journal_unmap(&journal);
		goto fail;
	}
	close(pipefd[1]);
	free(fds);
	*w = (struct master_worker){
		.ready_ev = { .on_event = shoal_master_ready_on_pipe, .fd = pipefd[0] },
		.master = m, .gen = g, .pid = pid, .slot = slot, .started_ms = m->now_ms,
		.stats_index = stats_index, .journal = journal,
	};
	shoal_event_add(&m->loop, &w->ready_ev, EPOLLIN);
	m->workers[m->nworkers++] = w;
	g->refs++;
	log_info(&m->log, "started worker %u (pid %d, generation %u)", slot, (int)pid, g->id);
	return 0;
fail:
	log_error(&m->log, "cannot start worker %u: %s", slot, strerror(errno));
	if (pipefd[0] >= 0) {
		close(pipefd[0]);
		close(pipefd[1]);
	}
	free(fds);
	free(w);
	return -1;
}

void shoal_master_spawn_slot(struct master *m, unsigned slot)
{
	if (spawn_fork(m, slot) < 0)
		shoal_master_spawn_respawn(m, slot, 0);
}

void shoal_master_spawn_all(struct master *m)
{
	for (unsigned slot = 0; slot < m->nslots; slot++)
		shoal_master_spawn_slot(m, slot);
}

void shoal_master_spawn_respawn(struct master *m, unsigned slot, uint64_t lived_ms)
{
	struct master_slot *s = &m->slots[slot];
	uint64_t delay;

	s->fast_deaths = lived_ms < FAST_DEATH_MS ? s->fast_deaths + 1 : 0;
	if (s->fast_deaths <= 1) {
		shoal_master_spawn_slot(m, slot);
		return;
	}
	delay = (uint64_t)1000 << (s->fast_deaths - 2 < 5 ? s->fast_deaths - 2 : 5);
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	s->respawn_at_ms = m->now_ms + delay;
	log_warn(&m->log, "worker %u failed %u times within %d ms of starting; next start in %llu ms",
		 slot, s->fast_deaths, FAST_DEATH_MS, (unsigned long long)delay);
}

/* Each connection takes a descriptor, and the usual soft limit of 1024 would make a worker
 * pause accepting (EMFILE) far below max_connections: raise it for the workers to inherit. */
void shoal_master_spawn_raise_nofile(struct master *m)
{
	rlim_t want = (rlim_t)m->current->cfg.max_connections +
		      (rlim_t)m->current->cfg.cache_max_open_files + NOFILE_SPARE;
	struct rlimit lim;

	if (getrlimit(RLIMIT_NOFILE, &lim) < 0 || lim.rlim_cur >= want)
		return;
	if (lim.rlim_max < want) {
		struct rlimit more = { .rlim_cur = want, .rlim_max = want };
		if (setrlimit(RLIMIT_NOFILE, &more) == 0)
			return;
	}
	lim.rlim_cur = lim.rlim_max < want ? lim.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &lim) < 0 || lim.rlim_cur < want)
		log_warn(&m->log, "open files limited to %llu: fewer than max_connections (%d) "
			 "connections and cache_max_open_files (%d) per worker",
			 (unsigned long long)lim.rlim_cur, m->current->cfg.max_connections,
			 m->current->cfg.cache_max_open_files);
}
