/* The master-owned SO_REUSEPORT listening sockets, one per (address, worker slot). */
#ifndef SHOAL_NET_LISTENER_H
#define SHOAL_NET_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "shoal/base/error.h"
#include "shoal/net/addr.h"

/* A listening socket of one address for one worker slot. */
struct shoal_slot_socket {
	struct shoal_addr addr;
	unsigned slot;
	int fd;
};

/* Creates a bound, listening, non-blocking, close-on-exec SO_REUSEPORT socket. Returns the fd. */
int shoal_listener_open(const struct shoal_addr *addr, int backlog, struct shoal_err *err);

/* Checks that nobody else listens on addr. Without it, a second server started with SO_REUSEPORT
 * by the same user would silently share the port and take half of the connections. */
int shoal_listener_probe(const struct shoal_addr *addr, struct shoal_err *err);

/* Makes the kernel give new connections of fd's reuseport group only to the first `active`
 * sockets of the group, at random: the sockets beyond are retiring and must only drain what
 * they already queued. "First" is by place in the group, not by socket: a socket takes the
 * last place when it starts listening, and when one leaves (its last descriptor closed) the
 * last one moves into its place. So a socket opened while one beyond `active` is still in the
 * group lands behind it, where it gets nothing, while the retiring one gets its share. */
int shoal_listener_steer(int fd, unsigned active, struct shoal_err *err);

/* Applies a new backlog to a socket that is already listening (listen(2) may be called again). */
int shoal_listener_set_backlog(int fd, int backlog, struct shoal_err *err);

#endif
