/* The master's listening sockets: one per (listen address, worker slot), each kept for as
 * long as the configuration has its address and slot, across any number of workers, so that
 * its accept queue survives crashes, reloads and upgrades; and beyond that for as long as a
 * worker still holds it, so that the kernel's reuseport group of an address stays in slot
 * order (see shoal_slot_sockets_steer). */
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
 * drain what they queued. Tries every address; err names the first that failed.
 * The steering picks sockets by their index in the address's reuseport group: the kernel
 * appends a socket when it starts listening, and when one leaves (its last descriptor closed)
 * moves the last one into its place. So index and slot agree as long as a socket is only added
 * above every socket still open and only closed above every socket that stays: gc keeps a
 * removed slot's socket while a worker holds it, and every socket below one it keeps; ensure
 * gives a slot added back meanwhile that socket again rather than a new one behind it. */
int shoal_slot_sockets_steer(const struct shoal_slot_sockets *s,
			     const struct shoal_addr *const *addrs, size_t naddrs, unsigned nslots,
			     struct shoal_err *err);

/* Whether a live worker holds sock (and may still accept from it). */
typedef bool shoal_slot_sockets_held_fn(const struct shoal_slot_socket *sock, void *ctx);

/* Closes (and logs) the sockets no longer needed: those whose address is not in addrs or whose
 * slot is nslots or above, unless held(sock, ctx) says a worker still has it, and unless a
 * socket of the same address and a higher slot stays open. So every socket closed here is
 * closed for good, by its last holder, and above every socket that stays in its group. */
void shoal_slot_sockets_gc(struct shoal_slot_sockets *s, const struct shoal_addr *const *addrs,
			   size_t naddrs, unsigned nslots, shoal_slot_sockets_held_fn *held,
			   void *ctx, struct shoal_log *log);

void shoal_slot_sockets_close_all(struct shoal_slot_sockets *s);

#endif
