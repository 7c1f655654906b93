/* The pid file names the running master and, through a POSIX record lock held for the master's
 * lifetime, tells a live master from a stale file left by a crash. */
#ifndef SHOAL_MASTER_PIDFILE_H
#define SHOAL_MASTER_PIDFILE_H

#include <sys/types.h>

#include "shoal/base/error.h"

struct shoal_pidfile {
	int fd;
	char path[4096];
};

/* Creates or takes over path, locks it and writes our pid. Fails with a clear message if a
 * live process holds the lock. fcntl locks are not inherited by fork, so workers never hold it. */
int shoal_pidfile_acquire(struct shoal_pidfile *pf, const char *path, struct shoal_err *err);
/* Removes the file if it is still ours, and unlocks it. */
void shoal_pidfile_release(struct shoal_pidfile *pf);

/* Gives the file to a new master (binary upgrade): writes its pid and lets go of the lock
 * without removing the file, so that the new master can take it over. Returns -1 if the pid
 * could not be written (the lock is let go all the same). */
int shoal_pidfile_hand_over(struct shoal_pidfile *pf, pid_t new_master);

/* The pid of the live master holding path's lock, or -1 with err saying why there is none. */
pid_t shoal_pidfile_owner(const char *path, struct shoal_err *err);

#endif
