#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shoal/base/clock.h"
#include "shoal/net/event.h"
#include "shoal/master/generation.h"
#include "shoal/base/log.h"
#include "shoal/master/master.h"
#include "shoal/master/notify.h"
#include "shoal/master/pidfile.h"
#include "shoal/master/slot_sockets.h"
#include "shoal/stats/stats.h"
#include "shoal/stats/export.h"
#include "shoal/net/timer.h"
#include "shoal/master/upgrade.h"
#include "shoal/worker/worker.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#define MAX_SLOTS 1024
/* A worker that dies sooner than this after its start counts towards crash-loop backoff. */
#define FAST_DEATH_MS 1000
#define BACKOFF_MAX_MS 30000
/* A fast stop asks workers to exit at once; this is when they are killed if they did not. */
#define FAST_STOP_KILL_MS 1000
/* Grace beyond a worker's own shutdown_timeout before the master kills it. */
#define RETIRE_GRACE_MS 2000
/* How long a new master (binary upgrade) tries to take the pid file over, and how often. */
#define PIDFILE_TAKEOVER_MS 10000
#define PIDFILE_RETRY_MS 50
/* Descriptors a worker needs beyond its connections: listeners, files being sent, logs. */
#define NOFILE_SPARE 1024
/* How often the master looks at the workers' heartbeats. */
#define WATCHDOG_PERIOD_MS 1000
/* Stats slots: every worker slot, and as many again for workers being replaced. */
#define STATS_CAPACITY (2 * MAX_SLOTS)

struct master_worker {
	struct shoal_event_source ready_ev;
	struct master *master;
	struct shoal_generation *gen;
	pid_t pid;
	unsigned slot;
	bool ready;
	bool retiring;
	bool told_to_stop; /* got QUIT rather than WINCH */
	bool hung;         /* killed by the watchdog */
	uint64_t started_ms;
	uint64_t kill_at_ms; /* 0: no deadline */
	int stats_index;     /* its slot in the stats file, -1: none */
};

struct master_slot {
	unsigned fast_deaths;
	uint64_t respawn_at_ms; /* 0: nothing scheduled */
};

struct master {
	struct shoal_log log;
	struct shoal_event_loop loop;
	struct shoal_event_source signals;
	struct shoal_pidfile pidfile;
	const char *config_path;
	int startup_fd;
	unsigned next_gen_id;
	struct shoal_generation *current;
	struct master_slot *slots;
	unsigned nslots;
	struct shoal_slot_sockets sockets;
	struct master_worker **workers;
	size_t nworkers, cap_workers;
	struct shoal_stats stats;
	/* Reaped during this event batch; freed after it, since an event of theirs (the
	 * ready pipe) may still be pending in the same batch. */
	struct master_worker **dead;
	size_t ndead, cap_dead;
	uint64_t next_export_ms;
	/* Binary upgrade, old master's side: the new master while it starts. */
	const char *exe;
	pid_t upgrade_pid;
	struct shoal_event_source upgrade_ev; /* its ready pipe */
	bool handing_over; /* retiring for a new master, which now owns pid and stats files */
	/* New master's side: the old master's ready pipe, then the pid file still to take. */
	int upgrade_ready_fd;
	uint64_t pidfile_retry_ms, pidfile_give_up_ms;
	bool serving; /* every slot of the current generation has served; systemd was told */
	bool stopping;
	bool fast_stop;
	uint64_t now_ms;
};

int shoal_master_check(const char *config_path, struct shoal_config *cfg, struct shoal_err *err)
{
	struct shoal_generation *g = shoal_generation_load(config_path, err);

	if (!g)
		return -1;
	shoal_generation_into_config(g, cfg);
	return 0;
}

static void gen_unref(struct master *m, struct shoal_generation *g)
{
	if (--g->refs == 0 && g != m->current)
		shoal_generation_free(g);
}

/* Sockets for the current configuration's addresses and slots; the rest closed. */
static int master_sockets_ensure(struct master *m, struct shoal_err *err)
{
	const struct shoal_generation *g = m->current;

	return shoal_slot_sockets_ensure(&m->sockets, g->addrs, g->backlogs, g->naddrs, m->nslots,
					 err);
}

static void master_sockets_gc(struct master *m)
{
	const struct shoal_generation *g = m->current;

	shoal_slot_sockets_gc(&m->sockets, g ? g->addrs : NULL, g ? g->naddrs : 0, m->nslots,
			      &m->log);
}

/* New connections go to the current slots only; a slot being removed drains what it queued. */
static void master_steer(struct master *m)
{
	const struct shoal_generation *g = m->current;
	struct shoal_err err;

	if (shoal_slot_sockets_steer(&m->sockets, g->addrs, g->naddrs, m->nslots, &err) < 0)
		log_warn(&m->log, "%s; connections may be refused while removing workers", err.msg);
}

/* A worker inherits every descriptor of the master; it keeps only its own slot's sockets,
 * so that a socket the master closes is really closed once its last user is gone. */
static void master_child_close_inherited(struct master *m, const struct shoal_generation *own,
					 const int *keep, size_t nkeep)
{
	shoal_event_close(&m->loop);
	close(m->signals.fd);
	if (m->pidfile.fd >= 0)
		close(m->pidfile.fd);
	if (m->startup_fd >= 0)
		close(m->startup_fd);
	for (size_t i = 0; i < m->nworkers; i++) {
		const struct shoal_generation *g = m->workers[i]->gen;
		if (m->workers[i]->ready_ev.fd >= 0)
			close(m->workers[i]->ready_ev.fd);
		for (size_t j = 0; g != own && j < g->cfg.nservers; j++)
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

static void master_on_ready(struct shoal_event_source *src, uint32_t events);

static void master_run_child(struct master *m, struct shoal_generation *g, unsigned slot,
			     int ready_fd, const int *listen_fds, int stats_index)
{
	struct shoal_worker_params p = {
		.cfg = &g->cfg, .log = &m->log, .slot = slot, .generation = g->id,
		.addrs = g->addrs, .listen_fds = listen_fds, .nlisten = g->naddrs,
		.root_fds = g->root_fds, .mime = g->mime, .ready_fd = ready_fd,
		.drop_privileges = g->drop_privileges, .uid = g->uid, .gid = g->gid,
		.stats = shoal_stats_slot_at(&m->stats, stats_index),
		.stats_view = &m->stats.view,
	};

	master_child_close_inherited(m, g, listen_fds, g->naddrs);
	shoal_log_set_role(&m->log, "worker %u", slot);
	_exit(shoal_worker_run(&p));
}

/* Makes room for one more worker before forking, so that a forked child is always tracked. */
static int master_reserve_worker(struct master *m)
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

static int master_spawn(struct master *m, unsigned slot)
{
	struct shoal_generation *g = m->current;
	struct master_worker *w = calloc(1, sizeof(*w));
	int *fds = calloc(g->naddrs, sizeof(*fds));
	int pipefd[2] = { -1, -1 };
	int stats_index;
	pid_t pid = -1;

	if (!w || !fds || master_reserve_worker(m) < 0 || pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
		goto fail;
	for (size_t i = 0; i < g->naddrs; i++)
		fds[i] = shoal_slot_sockets_fd(&m->sockets, g->addrs[i], slot);
	/* Claimed before the fork so that the child is the slot's only writer from the start. */
	stats_index = shoal_stats_claim(&m->stats, slot, g->id);
	if (stats_index < 0)
		log_warn(&m->log, "stats file full: worker %u runs without statistics", slot);
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		master_run_child(m, g, slot, pipefd[1], fds, stats_index);
	}
	if (pid < 0) {
		shoal_stats_release(&m->stats, stats_index);
		goto fail;
	}
	close(pipefd[1]);
	free(fds);
	*w = (struct master_worker){
		.ready_ev = { .on_event = master_on_ready, .fd = pipefd[0] },
		.master = m, .gen = g, .pid = pid, .slot = slot, .started_ms = m->now_ms,
		.stats_index = stats_index,
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

/* A failure here (EPERM without CAP_KILL for workers of another user) would otherwise leave
 * the operator wondering why a stop never ends. */
static void master_signal_worker(struct master *m, const struct master_worker *w, int sig)
{
	if (kill(w->pid, sig) < 0 && errno != ESRCH)
		log_error(&m->log, "cannot send signal %d to worker %u (pid %d): %s", sig, w->slot,
			  (int)w->pid, strerror(errno));
}

/* A worker being replaced gets WINCH: it keeps idle keep-alive connections until their next
 * request. A worker of a stopping server gets QUIT: it closes them at once. Handing over to
 * a new master is a replacement, not a stop: the sockets live on in the new master. */
static void master_retire(struct master *m, struct master_worker *w)
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
	master_signal_worker(m, w, stop ? SIGQUIT : SIGWINCH);
	log_info(&m->log, "retiring worker %u (pid %d, generation %u)", w->slot, (int)w->pid,
		 w->gen->id);
}

static bool master_all_slots_ready(const struct master *m)
{
	for (unsigned slot = 0; slot < m->nslots; slot++) {
		bool ready = false;
		for (size_t i = 0; i < m->nworkers && !ready; i++) {
			const struct master_worker *w = m->workers[i];
			ready = w->slot == slot && w->gen == m->current && w->ready && !w->retiring;
		}
		if (!ready)
			return false;
	}
	return true;
}

static void master_notify_ready(void)
{
	char state[64];

	/* MAINPID: after a binary upgrade the service manager must follow the new master. */
	snprintf(state, sizeof(state), "READY=1\nMAINPID=%d\nSTATUS=serving", (int)getpid());
	shoal_notify(state);
}

/* Binary upgrade, new master's side: our workers serve, so the old master may retire; its
 * pid file is ours to take once it lets go of it. */
static void master_tell_old_master(struct master *m)
{
	if (m->upgrade_ready_fd < 0)
		return;
	if (write(m->upgrade_ready_fd, "R", 1) != 1)
		log_warn(&m->log, "cannot tell the old master we serve: %s", strerror(errno));
	close(m->upgrade_ready_fd);
	m->upgrade_ready_fd = -1;
	m->pidfile_retry_ms = m->now_ms;
	m->pidfile_give_up_ms = m->now_ms + PIDFILE_TAKEOVER_MS;
}

/* A new worker serving its slot relieves the previous generation's worker of that slot;
 * once every slot serves, workers of slots that no longer exist are relieved too. Until
 * then the old workers keep serving, so a new generation that fails to start loses nothing. */
static void master_worker_ready(struct master *m, struct master_worker *ready)
{
	bool all = master_all_slots_ready(m);

	for (size_t i = 0; i < m->nworkers; i++) {
		struct master_worker *w = m->workers[i];
		if (w->gen != m->current && (w->slot == ready->slot || all))
			master_retire(m, w);
	}
	if (all && m->startup_fd >= 0) {
		if (write(m->startup_fd, "R", 1) != 1)
			log_warn(&m->log, "cannot report start-up: %s", strerror(errno));
		close(m->startup_fd);
		m->startup_fd = -1;
	}
	if (all && !m->serving) {
		m->serving = true;
		master_tell_old_master(m);
		if (!m->pidfile_retry_ms)
			master_notify_ready();
	}
}

static void master_close_ready_pipe(struct master *m, struct master_worker *w)
{
	if (w->ready_ev.fd < 0)
		return;
	shoal_event_del(&m->loop, &w->ready_ev);
	close(w->ready_ev.fd);
	w->ready_ev.fd = -1;
}

static void master_on_ready(struct shoal_event_source *src, uint32_t events)
{
	struct master_worker *w = container_of(src, struct master_worker, ready_ev);
	struct master *m = w->master;
	char byte;

	(void)events;
	if (src->fd < 0) /* reaped earlier in this batch */
		return;
	if (read(src->fd, &byte, 1) == 1 && byte == 'R' && !w->retiring) {
		w->ready = true;
		log_info(&m->log, "worker %u (pid %d) is serving", w->slot, (int)w->pid);
		master_worker_ready(m, w);
	}
	master_close_ready_pipe(m, w);
}

static void master_schedule_respawn(struct master *m, unsigned slot, uint64_t lived_ms)
{
	struct master_slot *s = &m->slots[slot];
	uint64_t delay;

	s->fast_deaths = lived_ms < FAST_DEATH_MS ? s->fast_deaths + 1 : 0;
	if (s->fast_deaths <= 1) {
		if (master_spawn(m, slot) < 0)
			master_schedule_respawn(m, slot, 0);
		return;
	}
	delay = (uint64_t)1000 << (s->fast_deaths - 2 < 5 ? s->fast_deaths - 2 : 5);
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	s->respawn_at_ms = m->now_ms + delay;
	log_warn(&m->log, "worker %u failed %u times within %d ms of starting; next start in %llu ms",
		 slot, s->fast_deaths, FAST_DEATH_MS, (unsigned long long)delay);
}

static void master_log_exit(struct master *m, const struct master_worker *w, int status)
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

static struct master_worker *master_untrack(struct master *m, pid_t pid)
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

static void master_bury(struct master *m, struct master_worker *w)
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

static void master_free_dead(struct master *m)
{
	while (m->ndead)
		free(m->dead[--m->ndead]);
}

static void master_close_upgrade_pipe(struct master *m)
{
	if (m->upgrade_ev.fd < 0)
		return;
	shoal_event_del(&m->loop, &m->upgrade_ev);
	close(m->upgrade_ev.fd);
	m->upgrade_ev.fd = -1;
}

static void master_upgrade_ended(struct master *m, int status)
{
	if (!m->handing_over)
		log_error(&m->log, "binary upgrade failed: the new master (pid %d) %s %d before it "
			  "served; still serving", (int)m->upgrade_pid,
			  WIFSIGNALED(status) ? "was killed by signal" : "exited with status",
			  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	master_close_upgrade_pipe(m);
	m->upgrade_pid = 0;
}

static void master_reap(struct master *m)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct master_worker *w = master_untrack(m, pid);
		if (pid == m->upgrade_pid)
			master_upgrade_ended(m, status);
		if (!w)
			continue;
		master_log_exit(m, w, status);
		master_close_ready_pipe(m, w);
		shoal_stats_release(&m->stats, w->stats_index);
		if (!m->stopping && !w->retiring && w->gen == m->current && w->slot < m->nslots)
			master_schedule_respawn(m, w->slot, m->now_ms - w->started_ms);
		gen_unref(m, w->gen);
		w->gen = NULL;
		master_bury(m, w);
	}
}

static int master_set_nslots(struct master *m, unsigned n)
{
	struct master_slot *slots = realloc(m->slots, n * sizeof(*slots));

	if (!slots)
		return -1;
	for (unsigned i = m->nslots; i < n; i++)
		slots[i] = (struct master_slot){ 0 };
	m->slots = slots;
	m->nslots = n;
	return 0;
}

/* Each connection takes a descriptor, and the usual soft limit of 1024 would make a worker
 * pause accepting (EMFILE) far below max_connections: raise it for the workers to inherit. */
static void master_raise_nofile(struct master *m)
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

static void master_reload(struct master *m)
{
	struct shoal_generation *prev = m->current;
	unsigned prev_nslots = m->nslots;
	struct shoal_err err;
	struct shoal_generation *g;

	shoal_notify("RELOADING=1");
	g = shoal_generation_load(m->config_path, &err);
	if (g && shoal_generation_check_root(g, &err) < 0) {
		shoal_generation_free(g);
		g = NULL;
	}
	if (!g) {
		log_error(&m->log, "reload failed, still serving the previous configuration: %s", err.msg);
		shoal_notify("READY=1\nSTATUS=serving (last reload failed)");
		return;
	}
	m->current = g;
	if (master_set_nslots(m, (unsigned)g->cfg.workers) < 0 || master_sockets_ensure(m, &err) < 0 ||
	    shoal_log_open(&m->log, g->cfg.error_log, g->cfg.log_level, &err) < 0) {
		log_error(&m->log, "reload failed, still serving the previous configuration: %s", err.msg);
		m->current = prev;
		master_set_nslots(m, prev_nslots);
		master_sockets_gc(m);
		shoal_generation_free(g);
		shoal_notify("READY=1\nSTATUS=serving (last reload failed)");
		return;
	}
	m->serving = false; /* READY=1 again once the new generation serves */
	g->id = ++m->next_gen_id;
	shoal_stats_set_generation(&m->stats, g->id);
	if (strcmp(prev->cfg.stats_file, g->cfg.stats_file) != 0)
		log_warn(&m->log, "stats_file changes only on restart; still writing %s",
			 prev->cfg.stats_file);
	if (prev->refs == 0)
		shoal_generation_free(prev);
	memset(m->slots, 0, m->nslots * sizeof(*m->slots));
	master_steer(m);
	master_raise_nofile(m);
	log_info(&m->log, "reloaded %s: generation %u with %u workers", g->cfg.path, g->id, m->nslots);
	for (unsigned slot = 0; slot < m->nslots; slot++)
		if (master_spawn(m, slot) < 0)
			master_schedule_respawn(m, slot, 0);
	master_sockets_gc(m);
}

static void master_add_slot(struct master *m)
{
	struct shoal_err err;
	unsigned slot = m->nslots;

	if (slot >= MAX_SLOTS) {
		log_warn(&m->log, "already %u workers, the most shoal runs", slot);
		return;
	}
	if (master_set_nslots(m, slot + 1) < 0 || master_sockets_ensure(m, &err) < 0) {
		log_error(&m->log, "cannot add worker %u: %s", slot, err.msg);
		master_set_nslots(m, slot);
		master_sockets_gc(m);
		return;
	}
	master_steer(m);
	log_info(&m->log, "adding worker %u", slot);
	if (master_spawn(m, slot) < 0)
		master_schedule_respawn(m, slot, 0);
}

static void master_remove_slot(struct master *m)
{
	unsigned slot = m->nslots - 1;

	if (m->nslots <= 1) {
		log_warn(&m->log, "only one worker left; not removing it");
		return;
	}
	log_info(&m->log, "removing worker %u", slot);
	m->nslots = slot;
	master_steer(m);
	for (size_t i = 0; i < m->nworkers; i++)
		if (m->workers[i]->slot == slot)
			master_retire(m, m->workers[i]);
	master_sockets_gc(m);
}

static void master_reopen_logs(struct master *m)
{
	struct shoal_err err;

	if (shoal_log_reopen(&m->log, &err) < 0)
		log_error(&m->log, "%s", err.msg);
	for (size_t i = 0; i < m->nworkers; i++)
		master_signal_worker(m, m->workers[i], SIGUSR1);
	log_info(&m->log, "reopened log files");
}

static void master_stop(struct master *m, bool fast)
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
			master_signal_worker(m, w, SIGTERM);
			w->kill_at_ms = m->now_ms + FAST_STOP_KILL_MS;
		} else {
			master_retire(m, w);
		}
	}
}

/* The new master serves: it gets the pid file and the stats file, and our workers retire the
 * way they do on a reload, finishing what they have. */
static void master_hand_over(struct master *m)
{
	log_info(&m->log, "binary upgrade: new master (pid %d) serves; retiring", (int)m->upgrade_pid);
	if (shoal_pidfile_hand_over(&m->pidfile, m->upgrade_pid) < 0)
		log_warn(&m->log, "cannot write pid %d into the pid file; the new master will",
			 (int)m->upgrade_pid);
	m->handing_over = true;
	master_stop(m, false);
}

/* The new master writes "R" once it serves, or "E" and why it could not start. */
static void master_on_upgrade_ready(struct shoal_event_source *src, uint32_t events)
{
	struct master *m = container_of(src, struct master, upgrade_ev);
	char msg[SHOAL_ERR_MAX + 1];
	ssize_t n;

	(void)events;
	if (src->fd < 0)
		return;
	n = read(src->fd, msg, sizeof(msg) - 1);
	if (n > 1 && msg[0] == 'E') {
		msg[n] = '\0';
		log_error(&m->log, "binary upgrade: the new master (pid %d) cannot start: %s",
			  (int)m->upgrade_pid, msg + 1);
	} else if (n == 1 && msg[0] == 'R' && !m->stopping) {
		master_hand_over(m);
	}
	master_close_upgrade_pipe(m);
}

/* USR2: start the binary on disk as a new master on our sockets. Until it says it serves, we
 * serve; if it fails, we go on serving. */
static void master_upgrade(struct master *m)
{
	char *argv[] = { (char *)m->exe, "-c", (char *)m->config_path, NULL };
	struct shoal_err err;
	int pipefd[2];
	pid_t pid;

	if (m->upgrade_pid) {
		log_warn(&m->log, "binary upgrade already under way (new master pid %d)",
			 (int)m->upgrade_pid);
		return;
	}
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error(&m->log, "binary upgrade: pipe: %s", strerror(errno));
		return;
	}
	pid = shoal_upgrade_exec(m->exe, argv, m->sockets.v, m->sockets.n, pipefd[1], &err);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		log_error(&m->log, "binary upgrade: %s", err.msg);
		return;
	}
	m->upgrade_pid = pid;
	m->upgrade_ev = (struct shoal_event_source){ .on_event = master_on_upgrade_ready,
						     .fd = pipefd[0] };
	shoal_event_add(&m->loop, &m->upgrade_ev, EPOLLIN);
	log_info(&m->log, "binary upgrade: started %s as the new master (pid %d)", m->exe, (int)pid);
}

static void master_on_signal(struct shoal_event_source *src, uint32_t events)
{
	struct master *m = container_of(src, struct master, signals);
	struct signalfd_siginfo si;

	(void)events;
	while (read(src->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			master_reap(m);
			break;
		case SIGTERM:
		case SIGINT:
			master_stop(m, true);
			break;
		case SIGQUIT:
			master_stop(m, false);
			break;
		case SIGUSR1:
			master_reopen_logs(m);
			break;
		case SIGHUP:
			if (!m->stopping)
				master_reload(m);
			break;
		case SIGTTIN:
			if (!m->stopping)
				master_add_slot(m);
			break;
		case SIGTTOU:
			if (!m->stopping)
				master_remove_slot(m);
			break;
		case SIGUSR2:
			if (!m->stopping)
				master_upgrade(m);
			break;
		default:
			log_warn(&m->log, "ignoring signal %d", (int)si.ssi_signo);
			break;
		}
	}
}

static const int master_signals[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP,
				      SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU, SIGWINCH };

static int master_setup_signals(struct master *m, struct shoal_err *err)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(master_signals) / sizeof(master_signals[0]); i++)
		sigaddset(&set, master_signals[i]);
	/* Blocked before the first fork, so a worker cannot miss a signal sent early. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return shoal_err_set(err, "sigprocmask: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	m->signals.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m->signals.fd < 0)
		return shoal_err_set(err, "signalfd: %s", strerror(errno));
	m->signals.on_event = master_on_signal;
	if (shoal_event_add(&m->loop, &m->signals, EPOLLIN) < 0)
		return shoal_err_set(err, "epoll_ctl: %s", strerror(errno));
	return 0;
}

/* New master after an upgrade: the old one lets go of the pid file once it knows we serve. */
static void master_take_pidfile(struct master *m)
{
	struct shoal_err err;

	if (!m->pidfile_retry_ms || m->now_ms < m->pidfile_retry_ms)
		return;
	if (shoal_pidfile_acquire(&m->pidfile, m->current->cfg.pid_file, &err) == 0) {
		log_info(&m->log, "binary upgrade done: this master (pid %d) owns %s", (int)getpid(),
			 m->current->cfg.pid_file);
		m->pidfile_retry_ms = 0;
		master_notify_ready();
		return;
	}
	if (m->now_ms >= m->pidfile_give_up_ms) {
		log_error(&m->log, "binary upgrade: %s; serving without a pid file", err.msg);
		m->pidfile_retry_ms = 0;
		return;
	}
	m->pidfile_retry_ms = m->now_ms + PIDFILE_RETRY_MS;
}

static void master_run_timers(struct master *m)
{
	master_take_pidfile(m);
	for (unsigned slot = 0; slot < m->nslots && !m->stopping; slot++) {
		struct master_slot *s = &m->slots[slot];
		if (s->respawn_at_ms && s->respawn_at_ms <= m->now_ms) {
			s->respawn_at_ms = 0;
			if (master_spawn(m, slot) < 0)
				master_schedule_respawn(m, slot, 0);
		}
	}
	for (size_t i = 0; i < m->nworkers; i++) {
		struct master_worker *w = m->workers[i];
		if (w->kill_at_ms && w->kill_at_ms <= m->now_ms) {
			log_warn(&m->log, "worker %u (pid %d) did not exit in time; killing it", w->slot,
				 (int)w->pid);
			master_signal_worker(m, w, SIGKILL);
			w->kill_at_ms = 0;
		}
	}
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
			master_signal_worker(m, w, SIGKILL);
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
	if (shoal_stats_export(&m->stats.view, cfg->stats_export, &err) < 0)
		log_warn(&m->log, "stats export: %s", err.msg);
}

static int master_next_timeout(const struct master *m)
{
	uint64_t next = m->nworkers ? m->now_ms + WATCHDOG_PERIOD_MS : UINT64_MAX;

	if (strcmp(m->current->cfg.stats_export, "off") != 0 && m->next_export_ms < next)
		next = m->next_export_ms;
	for (unsigned slot = 0; slot < m->nslots; slot++)
		if (m->slots[slot].respawn_at_ms && m->slots[slot].respawn_at_ms < next)
			next = m->slots[slot].respawn_at_ms;
	for (size_t i = 0; i < m->nworkers; i++)
		if (m->workers[i]->kill_at_ms && m->workers[i]->kill_at_ms < next)
			next = m->workers[i]->kill_at_ms;
	if (m->pidfile_retry_ms && m->pidfile_retry_ms < next)
		next = m->pidfile_retry_ms;
	if (next == UINT64_MAX)
		return -1;
	return next > m->now_ms ? (int)(next - m->now_ms) : 0;
}

/* Binary upgrade, new master's side: the old master's sockets and ready pipe, from the
 * environment, which our workers must not see. Returns 0 when this is no upgrade. */
static int master_adopt(struct master *m, struct shoal_err *err)
{
	const char *sockets = getenv(SHOAL_UPGRADE_SOCKETS_ENV);
	const char *ready = getenv(SHOAL_UPGRADE_READY_ENV);

	if (!sockets || !ready)
		return 0;
	if (shoal_upgrade_decode(sockets, &m->sockets.v, &m->sockets.n, err) < 0)
		return -1;
	for (size_t i = 0; i < m->sockets.n; i++)
		fcntl(m->sockets.v[i].fd, F_SETFD, FD_CLOEXEC);
	m->upgrade_ready_fd = atoi(ready);
	fcntl(m->upgrade_ready_fd, F_SETFD, FD_CLOEXEC);
	unsetenv(SHOAL_UPGRADE_SOCKETS_ENV);
	unsetenv(SHOAL_UPGRADE_READY_ENV);
	log_info(&m->log, "binary upgrade: adopted %zu listening sockets", m->sockets.n);
	return 0;
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
	struct shoal_generation *g = shoal_generation_load(m->config_path, err);

	if (!g)
		return -1;
	if (shoal_generation_check_root(g, err) < 0) {
		shoal_generation_free(g);
		return -1;
	}
	m->current = g;
	g->id = ++m->next_gen_id;
	if (shoal_log_open(&m->log, g->cfg.error_log, g->cfg.log_level, err) < 0 ||
	    master_adopt(m, err) < 0)
		return -1;
	/* After an upgrade the old master holds the pid file until we serve. */
	if (m->upgrade_ready_fd < 0 && shoal_pidfile_acquire(&m->pidfile, g->cfg.pid_file, err) < 0)
		return -1;
	if (shoal_event_init(&m->loop, err) < 0 || master_setup_signals(m, err) < 0 ||
	    master_set_nslots(m, (unsigned)g->cfg.workers) < 0 || master_sockets_ensure(m, err) < 0 ||
	    master_open_stats(m, err) < 0)
		return -1;
	master_sockets_gc(m);
	master_steer(m);
	master_raise_nofile(m);
	shoal_stats_set_generation(&m->stats, g->id);
	if (g->cfg.user && !g->drop_privileges)
		log_warn(&m->log, "not running as root: 'user' is ignored, workers keep uid %d",
			 (int)geteuid());
	log_info(&m->log, "starting %u workers (config %s)", m->nslots, g->cfg.path);
	for (unsigned slot = 0; slot < m->nslots; slot++)
		if (master_spawn(m, slot) < 0)
			master_schedule_respawn(m, slot, 0);
	return 0;
}

/* A new master that cannot start tells the old one why, so that the reason reaches the log
 * of the master that keeps serving. */
static void master_report_failed_upgrade(struct master *m, const struct shoal_err *err)
{
	const char *ready = getenv(SHOAL_UPGRADE_READY_ENV);
	int fd = m->upgrade_ready_fd >= 0 ? m->upgrade_ready_fd : ready ? atoi(ready) : -1;
	char msg[sizeof(err->msg) + 1];
	int n = snprintf(msg, sizeof(msg), "E%s", err->msg);

	if (fd >= 0 && write(fd, msg, (size_t)n) != n)
		return; /* the old master still learns of the failure from our exit status */
}

static void master_cleanup(struct master *m)
{
	/* After a hand-over the files belong to the new master. */
	shoal_stats_close(&m->stats, !m->handing_over);
	master_close_upgrade_pipe(m);
	if (m->upgrade_ready_fd >= 0)
		close(m->upgrade_ready_fd);
	shoal_slot_sockets_close_all(&m->sockets);
	free(m->slots);
	free(m->workers);
	master_free_dead(m);
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
		.upgrade_ev.fd = -1,
		.upgrade_ready_fd = -1,
	};
	int rc = 0;

	shoal_log_init(&m.log, "master");
	m.now_ms = shoal_clock_mono_ms();
	if (master_start(&m, err) < 0) {
		if (m.log.owns_fd)
			log_error(&m.log, "%s", err->msg);
		master_report_failed_upgrade(&m, err);
		master_cleanup(&m);
		return -1;
	}
	while (!m.stopping || m.nworkers > 0) {
		int n = shoal_event_wait(&m.loop, master_next_timeout(&m));
		if (n < 0) {
			rc = shoal_err_set(err, "epoll_wait: %s", strerror(errno));
			break;
		}
		m.now_ms = shoal_clock_mono_ms();
		shoal_event_dispatch(&m.loop, n);
		master_free_dead(&m);
		master_run_timers(&m);
		master_watchdog(&m);
		master_export_stats(&m);
	}
	log_info(&m.log, "exiting");
	master_cleanup(&m);
	return rc;
}
