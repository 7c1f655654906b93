#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checker.h"
#include "shoal/check/check.h"
#include "shoal/state/upstream.h"
#include "spawn.h"

/* A checker that exited unasked is started again after this long. */
#define CHECKER_RESPAWN_MS 1000
/* A checker told to stop is killed if it has not exited after this long. */
#define CHECKER_KILL_MS 2000

static void checker_signal(struct master *m, const struct master_checker *c, int sig)
{
	if (kill(c->pid, sig) < 0 && errno != ESRCH)
		log_error(&m->log, "cannot send signal %d to the checker (pid %d): %s", sig,
			  (int)c->pid, strerror(errno));
}

static void checker_stop(struct master *m, struct master_checker *c)
{
	if (c->stopping)
		return;
	c->stopping = true;
	c->kill_at_ms = m->now_ms + CHECKER_KILL_MS;
	checker_signal(m, c, SIGTERM);
	log_info(&m->log, "stopping checker (pid %d, generation %u)", (int)c->pid, c->gen_id);
}

static void checker_close_ready(struct master *m, struct master_checker *c)
{
	if (c->ready_ev.fd < 0)
		return;
	shoal_event_del(&m->loop, &c->ready_ev);
	close(c->ready_ev.fd);
	c->ready_ev.fd = -1;
}

/* The newest checker runs: the ones before it are no longer needed. */
static void checker_on_ready(struct shoal_event_source *src, uint32_t events)
{
	struct master_checker *c = container_of(src, struct master_checker, ready_ev);
	struct master *m = c->master;
	char byte;
	ssize_t n;

	(void)events;
	if (src->fd < 0) /* reaped earlier in this batch */
		return;
	n = read(src->fd, &byte, 1);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n == 1 && byte == 'R' && !c->stopping) {
		c->ready = true;
		log_info(&m->log, "checker (pid %d) is probing", (int)c->pid);
		for (struct master_checker *o = m->checkers; o; o = o->next)
			if (o != c)
				checker_stop(m, o);
	}
	checker_close_ready(m, c);
}

static void checker_run_child(struct master *m, const struct shoal_generation *g,
			      int ready_fd, pid_t master_pid)
{
	struct shoal_check_params p = {
		.cfg = &g->cfg, .state = m->state.hdr ? &m->state : NULL, .log = &m->log,
		.tls_clients = g->tls_clients,
		.ready_fd = ready_fd, .parent = master_pid,
		.drop_privileges = g->drop_privileges, .uid = g->uid, .gid = g->gid,
	};

	shoal_master_spawn_close_inherited(m, NULL, NULL, 0);
	shoal_log_set_role(&m->log, "checker");
	_exit(shoal_check_main(&p));
}

static int checker_fork(struct master *m)
{
	const struct shoal_generation *g = m->current;
	struct master_checker *c = calloc(1, sizeof(*c));
	pid_t self = getpid(), pid = -1;
	int pipefd[2] = { -1, -1 };

	if (c && pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) == 0)
		pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		checker_run_child(m, g, pipefd[1], self);
	}
	if (pid < 0) {
		log_error(&m->log, "cannot start the checker: %s", strerror(errno));
		if (pipefd[0] >= 0) {
			close(pipefd[0]);
			close(pipefd[1]);
		}
		free(c);
		return -1;
	}
	close(pipefd[1]);
	*c = (struct master_checker){
		.ready_ev = { .on_event = checker_on_ready, .fd = pipefd[0] },
		.master = m, .next = m->checkers, .pid = pid, .gen_id = g->id,
	};
	shoal_event_add(&m->loop, &c->ready_ev, EPOLLIN);
	m->checkers = c;
	log_info(&m->log, "started checker (pid %d, generation %u)", (int)pid, g->id);
	return 0;
}

/* A server whose group lost its health_check (or that is down by configuration now) is no
 * longer probed: what the last probes said would hold it down for ever. */
static void checker_forget(struct master *m)
{
	const struct shoal_config *cfg = &m->current->cfg;

	for (size_t i = 0; m->state.hdr && i < cfg->nupstreams; i++) {
		const struct shoal_upstream_conf *u = &cfg->upstreams[i];
		for (size_t j = 0; j < u->nservers; j++) {
			const char *addr = shoal_config_server_label(&u->servers[j]);
			struct shoal_state_upstream *e;
			if (u->health_check.type != SHOAL_CHECK_NONE && !u->servers[j].down)
				continue;
			e = shoal_state_upstream_find(&m->state, u->name, addr);
			if (!e)
				continue;
			atomic_store_explicit(&e->check, SHOAL_STATE_CHECK_NONE,
					      memory_order_relaxed);
			atomic_store_explicit(&e->check_streak, 0, memory_order_relaxed);
		}
	}
}

static void checker_spawn(struct master *m)
{
	if (shoal_check_wanted(&m->current->cfg) && checker_fork(m) < 0)
		m->checker_respawn_ms = m->now_ms + CHECKER_RESPAWN_MS;
}

void shoal_master_checker_start(struct master *m)
{
	bool wanted = shoal_check_wanted(&m->current->cfg);

	checker_forget(m);
	m->checker_respawn_ms = 0;
	for (struct master_checker *c = m->checkers; c; c = c->next)
		if (!c->ready || !wanted)
			checker_stop(m, c);
	checker_spawn(m);
}

static void checker_log_exit(struct master *m, const struct master_checker *c, int status,
			     bool expected)
{
	enum shoal_log_level level = expected ? SHOAL_LOG_INFO : SHOAL_LOG_WARN;
	const char *again = expected ? "" : ", restarting in 1 s";

	if (WIFSIGNALED(status))
		shoal_log_write(&m->log, level, "checker (pid %d) killed by signal %d%s",
				(int)c->pid, WTERMSIG(status), again);
	else
		shoal_log_write(&m->log, level, "checker (pid %d) exited with status %d%s",
				(int)c->pid, WEXITSTATUS(status), again);
}

bool shoal_master_checker_reaped(struct master *m, pid_t pid, int status)
{
	struct master_checker **link = &m->checkers, *c;
	bool expected;

	while (*link && (*link)->pid != pid)
		link = &(*link)->next;
	c = *link;
	if (!c)
		return false;
	*link = c->next;
	/* Only the current generation's checker is replaced: an older one was on its way out. */
	expected = c->stopping || m->stopping || c->gen_id != m->current->id;
	checker_log_exit(m, c, status, expected);
	checker_close_ready(m, c);
	if (!expected)
		m->checker_respawn_ms = m->now_ms + CHECKER_RESPAWN_MS;
	/* An event of its ready pipe may still be pending in this batch. */
	c->next = m->dead_checkers;
	m->dead_checkers = c;
	return true;
}

static void checker_free_list(struct master_checker *c)
{
	while (c) {
		struct master_checker *next = c->next;
		free(c);
		c = next;
	}
}

void shoal_master_checker_timers(struct master *m)
{
	checker_free_list(m->dead_checkers);
	m->dead_checkers = NULL;
	for (struct master_checker *c = m->checkers; c; c = c->next) {
		if (m->stopping && m->nworkers == 0)
			checker_stop(m, c);
		if (c->kill_at_ms && c->kill_at_ms <= m->now_ms) {
			log_warn(&m->log, "checker (pid %d) did not exit in time; killing it",
				 (int)c->pid);
			checker_signal(m, c, SIGKILL);
			c->kill_at_ms = 0;
		}
	}
	if (m->checker_respawn_ms && m->checker_respawn_ms <= m->now_ms && !m->stopping) {
		m->checker_respawn_ms = 0;
		checker_spawn(m);
	}
}

uint64_t shoal_master_checker_next(const struct master *m, uint64_t next)
{
	if (m->checker_respawn_ms && !m->stopping && m->checker_respawn_ms < next)
		next = m->checker_respawn_ms;
	for (const struct master_checker *c = m->checkers; c; c = c->next)
		if (c->kill_at_ms && c->kill_at_ms < next)
			next = c->kill_at_ms;
	return next;
}

void shoal_master_checker_reopen_logs(struct master *m)
{
	for (const struct master_checker *c = m->checkers; c; c = c->next)
		checker_signal(m, c, SIGUSR1);
}

void shoal_master_checker_free(struct master *m)
{
	checker_free_list(m->checkers);
	checker_free_list(m->dead_checkers);
	m->checkers = m->dead_checkers = NULL;
}
