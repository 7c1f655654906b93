/* Where connections to an upstream server go. A server given by address has one: its
 * configured address. One given by name (resolve) has the set of addresses the checker
 * publishes in its state entry (shoal/state/upstream.h) as the name's lookups change: a
 * worker reads the set for each connection it opens (a seqlock read: a copy, no system call)
 * and takes its addresses in turn. A connection remembers the sequence number of the set it
 * was opened under, so that a pooled one is not reused once the set has changed and traffic
 * moves to the new addresses; a request in flight keeps its connection. A server whose entry
 * has no set (no state file, or a file too full) uses the address its name had at load.
 *
 * Servers given by address pay one branch: their configured address is used in place. */
#ifndef SHOAL_UPSTREAM_ADDRESS_H
#define SHOAL_UPSTREAM_ADDRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "shoal/state/upstream.h"
#include "shoal/upstream/upstream.h"

/* One address to connect to, and the set it came from. */
struct shoal_upstream_address {
	const struct sockaddr *sa; /* the configured address, or ss */
	socklen_t len;
	uint32_t seq;              /* the set's sequence number; 0 for a server given by
				    * address */
	struct sockaddr_storage ss;
};

/* The address s's next connection goes to: its configured one, or the next of its set in
 * turn (the turn is the worker's own, per server). */
void shoal_upstream_address_next(struct shoal_upstream_server *s,
				 struct shoal_upstream_address *a);

/* The first address of s's current set (or its configured one): what the checker probes. */
void shoal_upstream_address_first(const struct shoal_upstream_server *s,
				  struct shoal_upstream_address *a);

/* Whether a connection opened under the set numbered seq may still be used: always for a
 * server given by address; for a name, while its set has not changed. Inline: the pool asks
 * for every request it serves, and a server given by address must pay one branch. */
static inline bool shoal_upstream_address_current(const struct shoal_upstream_server *s,
						  uint32_t seq)
{
	return !s->conf->host || shoal_state_upstream_addr_seq(s->shared) == seq;
}

#endif
