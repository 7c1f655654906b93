#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/master/notify.h"
#include "shoal/master/upgrade.h"
#include "takeover.h"

/* How long a new master tries to take the pid file over, and how often. */
#define PIDFILE_TAKEOVER_MS 10000
#define PIDFILE_RETRY_MS 50

int shoal_master_takeover_adopt(struct master *m, struct shoal_err *err)
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

static void takeover_notify_ready(void)
{
	char state[64];

	/* MAINPID: after a binary upgrade the service manager must follow the new master. */
	snprintf(state, sizeof(state), "READY=1\nMAINPID=%d\nSTATUS=serving", (int)getpid());
	shoal_notify(state);
}

/* Our workers serve, so the old master may retire; its pid file is ours to take once it
 * lets go of it. */
static void takeover_tell_old_master(struct master *m)
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

void shoal_master_takeover_serving(struct master *m)
{
	takeover_tell_old_master(m);
	if (!m->pidfile_retry_ms)
		takeover_notify_ready();
}

/* The old master lets go of the pid file once it knows we serve. */
void shoal_master_takeover_pidfile(struct master *m)
{
	struct shoal_err err;

	if (!m->pidfile_retry_ms || m->now_ms < m->pidfile_retry_ms)
		return;
	if (shoal_pidfile_acquire(&m->pidfile, m->current->cfg.pid_file, &err) == 0) {
		log_info(&m->log, "binary upgrade done: this master (pid %d) owns %s", (int)getpid(),
			 m->current->cfg.pid_file);
		m->pidfile_retry_ms = 0;
		takeover_notify_ready();
		return;
	}
	if (m->now_ms >= m->pidfile_give_up_ms) {
		log_error(&m->log, "binary upgrade: %s; serving without a pid file", err.msg);
		m->pidfile_retry_ms = 0;
		return;
	}
	m->pidfile_retry_ms = m->now_ms + PIDFILE_RETRY_MS;
}

void shoal_master_takeover_report(const struct master *m, const struct shoal_err *err)
{
	const char *ready = getenv(SHOAL_UPGRADE_READY_ENV);
	int fd = m->upgrade_ready_fd >= 0 ? m->upgrade_ready_fd : ready ? atoi(ready) : -1;
	char msg[sizeof(err->msg) + 1];
	int n = snprintf(msg, sizeof(msg), "E%s", err->msg);

	if (fd >= 0 && write(fd, msg, (size_t)n) != n)
		return; /* the old master still learns of the failure from our exit status */
}
