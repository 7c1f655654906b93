/* Listen addresses and the master-owned SO_REUSEPORT sockets, one per (address, worker slot). */
#ifndef SHOAL_NET_LISTENER_H
#define SHOAL_NET_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "shoal/base/error.h"

/* "255.255.255.255:65535" or "[ffff:...:ffff]:65535" */
#define SHOAL_ADDR_TEXT_MAX 56

struct shoal_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[SHOAL_ADDR_TEXT_MAX]; /* canonical form: "127.0.0.1:8080", "[::1]:8080" */
};

/* A listening socket of one address for one worker slot. */
struct shoal_slot_socket {
	struct shoal_addr addr;
	unsigned slot;
	int fd;
};

/* Parses "IPv4:PORT", "[IPv6]:PORT" or "*:PORT" (all IPv4 addresses). Numeric only: a name
 * that resolves differently at reload time would silently move the listener. */
int shoal_addr_parse(const char *text, struct shoal_addr *out, struct shoal_err *err);
bool shoal_addr_equal(const struct shoal_addr *a, const struct shoal_addr *b);

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
