/* The systemd readiness protocol (sd_notify): datagrams to $NOTIFY_SOCKET, without libsystemd.
 * Outside systemd the variable is unset and every call does nothing. */
#ifndef SHOAL_MASTER_NOTIFY_H
#define SHOAL_MASTER_NOTIFY_H

/* Sends a state line such as "READY=1" or "RELOADING=1". Returns 0, or -1 if it could not be
 * delivered (never fatal: the service manager may simply not be listening). */
int shoal_notify(const char *state);

#endif
