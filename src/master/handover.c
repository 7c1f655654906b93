#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "handover.h"
#include "shoal/master/upgrade.h"
#include "workers.h"

void shoal_master_handover_close(struct master *m)
{
	if (m->upgrade_ev.fd < 0)
		return;
	shoal_event_del(&m->loop, &m->upgrade_ev);
	close(m->upgrade_ev.fd);
	m->upgrade_ev.fd = -1;
}

void shoal_master_handover_ended(struct master *m, int status)
{
	if (!m->handing_over)
		log_error(&m->log, "binary upgrade failed: the new master (pid %d) %s %d before it "
			  "served; still serving", (int)m->upgrade_pid,
			  WIFSIGNALED(status) ? "was killed by signal" : "exited with status",
			  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	shoal_master_handover_close(m);
	m->upgrade_pid = 0;
}

/* The new master serves: it gets the pid file and the stats file, and our workers retire the
 * way they do on a reload, finishing what they have. */
static void handover_retire(struct master *m)
{
	log_info(&m->log, "binary upgrade: new master (pid %d) serves; retiring", (int)m->upgrade_pid);
	if (shoal_pidfile_hand_over(&m->pidfile, m->upgrade_pid) < 0)
		log_warn(&m->log, "cannot write pid %d into the pid file; the new master will",
			 (int)m->upgrade_pid);
	m->handing_over = true;
	shoal_master_workers_stop(m, false);
}

/* The new master writes "R" once it serves, or "E" and why it could not start. */
static void handover_on_pipe(struct shoal_event_source *src, uint32_t events)
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
		handover_retire(m);
	}
	shoal_master_handover_close(m);
}

void shoal_master_handover_start(struct master *m)
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
	pid = shoal_upgrade_exec(m->exe, argv, m->sockets.v, m->sockets.n, pipefd[1],
				 m->tls_keys ? shoal_tls_keys_fd(m->tls_keys) : -1, &err);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		log_error(&m->log, "binary upgrade: %s", err.msg);
		return;
	}
	m->upgrade_pid = pid;
	m->upgrade_ev = (struct shoal_event_source){ .on_event = handover_on_pipe,
						     .fd = pipefd[0] };
	shoal_event_add(&m->loop, &m->upgrade_ev, EPOLLIN);
	log_info(&m->log, "binary upgrade: started %s as the new master (pid %d)", m->exe, (int)pid);
}
