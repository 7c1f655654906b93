#include <netinet/in.h>

#include "shoal/upstream/address.h"

static void address_configured(const struct shoal_upstream_server *s,
			       struct shoal_upstream_address *a, uint32_t seq)
{
	a->sa = (const struct sockaddr *)&s->conf->address.ss;
	a->len = s->conf->address.len;
	a->seq = seq;
}

/* The i-th address of s's current set, counted around it; the configured address when the
 * entry has no set. */
static void address_of_set(const struct shoal_upstream_server *s, unsigned i,
			   struct shoal_upstream_address *a)
{
	struct sockaddr_storage set[SHOAL_STATE_UPSTREAM_ADDRS];
	uint32_t seq;
	unsigned n = shoal_state_upstream_addrs(s->shared, set, SHOAL_STATE_UPSTREAM_ADDRS, &seq);

	if (!n) {
		address_configured(s, a, seq);
		return;
	}
	a->ss = set[i % n];
	a->sa = (const struct sockaddr *)&a->ss;
	a->len = a->ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					     : sizeof(struct sockaddr_in);
	a->seq = seq;
}

void shoal_upstream_address_next(struct shoal_upstream_server *s,
				 struct shoal_upstream_address *a)
{
	if (!s->conf->host) {
		address_configured(s, a, 0);
		return;
	}
	address_of_set(s, s->addr_turn++, a);
}

void shoal_upstream_address_first(const struct shoal_upstream_server *s,
				  struct shoal_upstream_address *a)
{
	if (!s->conf->host) {
		address_configured(s, a, 0);
		return;
	}
	address_of_set(s, 0, a);
}
