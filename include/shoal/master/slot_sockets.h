/* The master's listening sockets: one per (listen address, worker slot), each kept for as
 * long as the configuration has its address and slot, across any number of workers, so that
 * its accept queue survives crashes, reloads and upgrades. */
#ifndef SHOAL_MASTER_SLOT_SOCKETS_H
#define SHOAL_MASTER_SLOT_SOCKETS_H

#include <stddef.h>

#include "shoal/base/error.h"
#include "shoal/net/listener.h"
#include "shoal/base/log.h"

struct shoal_slot_sockets {
	struct shoal_slot_socket *v;
	size_t n;
};

/* The socket of addr for slot, or -1. */
int shoal_slot_sockets_fd(const struct shoal_slot_sockets *s, const struct shoal_addr *addr,
			  unsigned slot);

/* Makes sure every address has a socket for slots 0 .. nslots-1, with its backlog. Existing
 * sockets are reused, never re-created; an address new to the set is probed first, so that
 * a foreign listener on it is an error rather than a silently shared port. */
int shoal_slot_sockets_ensure(struct shoal_slot_sockets *s, const struct shoal_addr *const *addrs,
			      const int *backlogs, size_t naddrs, unsigned nslots,
			      struct shoal_err *err);

/* Sends new connections of every address to slots 0 .. nslots-1 only; the sockets beyond
 * drain what they queued. Tries every address; err names the first that failed. */
int shoal_slot_sockets_steer(const struct shoal_slot_sockets *s,
			     const struct shoal_addr *const *addrs, size_t naddrs, unsigned nslots,
			     struct shoal_err *err);

/* Closes (and logs) the sockets whose address is not in addrs or whose slot is nslots or
 * above. Workers holding a copy keep it until they stop accepting. */
void shoal_slot_sockets_gc(struct shoal_slot_sockets *s, const struct shoal_addr *const *addrs,
			   size_t naddrs, unsigned nslots, struct shoal_log *log);

void shoal_slot_sockets_close_all(struct shoal_slot_sockets *s);

#endif
