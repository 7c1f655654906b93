#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "checker.h"
#include "handover.h"
#include "reap.h"
#include "reload.h"
#include "signals.h"
#include "slots.h"
#include "workers.h"

static void signals_reopen_logs(struct master *m)
{
	struct shoal_err err;

	if (shoal_log_reopen(&m->log, &err) < 0)
		log_error(&m->log, "%s", err.msg);
	for (size_t i = 0; i < m->nworkers; i++)
		shoal_master_workers_signal(m, m->workers[i], SIGUSR1);
	shoal_master_checker_reopen_logs(m);
	log_info(&m->log, "reopened log files");
}

/* HUP, TTIN, TTOU and USR2 start something new: nothing while stopping. */
static void signals_start(struct master *m, int signo)
{
	if (m->stopping)
		return;
	if (signo == SIGHUP)
		shoal_master_reload(m);
	else if (signo == SIGTTIN)
		shoal_master_slots_add(m);
	else if (signo == SIGTTOU)
		shoal_master_slots_remove(m);
	else
		shoal_master_handover_start(m);
}

static void signals_dispatch(struct master *m, int signo)
{
	switch (signo) {
	case SIGCHLD:
		shoal_master_reap(m);
		break;
	case SIGTERM:
	case SIGINT:
		shoal_master_workers_stop(m, true);
		break;
	case SIGQUIT:
		shoal_master_workers_stop(m, false);
		break;
	case SIGUSR1:
		signals_reopen_logs(m);
		break;
	case SIGHUP:
	case SIGTTIN:
	case SIGTTOU:
	case SIGUSR2:
		signals_start(m, signo);
		break;
	default:
		log_warn(&m->log, "ignoring signal %d", signo);
		break;
	}
}

static void signals_on_event(struct shoal_event_source *src, uint32_t events)
{
	struct master *m = container_of(src, struct master, signals);
	struct signalfd_siginfo si;

	(void)events;
	while (read(src->fd, &si, sizeof(si)) == sizeof(si))
		signals_dispatch(m, (int)si.ssi_signo);
}

static const int signals_handled[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP,
				       SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU, SIGWINCH };

int shoal_master_signals_setup(struct master *m, struct shoal_err *err)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(signals_handled) / sizeof(signals_handled[0]); i++)
		sigaddset(&set, signals_handled[i]);
	/* Blocked before the first fork, so a worker cannot miss a signal sent early. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return shoal_err_set(err, "sigprocmask: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	m->signals.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m->signals.fd < 0)
		return shoal_err_set(err, "signalfd: %s", strerror(errno));
	m->signals.on_event = signals_on_event;
	if (shoal_event_add(&m->loop, &m->signals, EPOLLIN) < 0)
		return shoal_err_set(err, "epoll_ctl: %s", strerror(errno));
	return 0;
}
