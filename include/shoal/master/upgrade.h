/* Binary upgrade: the running master starts the binary on disk as a new master and hands it
 * the listening sockets across exec. The new master adopts them without binding, so no
 * accept queue is ever closed; it says when its workers serve, and the old master retires.
 * Sockets travel as open descriptors named in SHOAL_UPGRADE_SOCKETS
 * ("ADDR/SLOT=FD,..."); SHOAL_UPGRADE_READY names the pipe the new master writes to, and
 * SHOAL_UPGRADE_TLS_KEYS the descriptor of the session ticket keys (shoal/tls/keys.h). */
#ifndef SHOAL_MASTER_UPGRADE_H
#define SHOAL_MASTER_UPGRADE_H

#include <stddef.h>
#include <sys/types.h>

#include "shoal/base/error.h"
#include "shoal/net/listener.h"

#define SHOAL_UPGRADE_SOCKETS_ENV "SHOAL_UPGRADE_SOCKETS"
#define SHOAL_UPGRADE_READY_ENV "SHOAL_UPGRADE_READY"
#define SHOAL_UPGRADE_TLS_KEYS_ENV "SHOAL_UPGRADE_TLS_KEYS"

/* Formats sockets for the environment. Returns the length, or -1 if cap is too small. */
int shoal_upgrade_encode(const struct shoal_slot_socket *socks, size_t n, char *buf,
			 size_t cap);

/* Parses the environment value into a malloc'ed array; checks that each fd is a listening
 * TCP socket. */
int shoal_upgrade_decode(const char *text, struct shoal_slot_socket **out, size_t *n,
			 struct shoal_err *err);

/* Forks and executes exe with argv, the sockets, the write end of ready_pipe and keys_fd
 * (-1: none) inherited. Returns the new master's pid. */
pid_t shoal_upgrade_exec(const char *exe, char *const argv[],
			 const struct shoal_slot_socket *socks, size_t n, int ready_fd, int keys_fd,
			 struct shoal_err *err);

#endif
