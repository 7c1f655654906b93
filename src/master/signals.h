/* The master's signals, read from a signalfd in its event loop: CHLD reaps, TERM and INT
 * stop fast, QUIT stops gracefully, USR1 reopens the logs, HUP reloads, TTIN and TTOU add
 * and remove a worker, USR2 starts a binary upgrade. */
#ifndef SHOAL_MASTER_SIGNALS_H
#define SHOAL_MASTER_SIGNALS_H

#include "shoal/base/error.h"
#include "master_int.h"

/* Blocks the signals (before the first fork, so that a worker cannot miss one sent early),
 * ignores SIGPIPE, and adds the signalfd to m->loop as m->signals. */
int shoal_master_signals_setup(struct master *m, struct shoal_err *err);

#endif
