/* Client address lists: "192.0.2.7", "10.0.0.0/8", "::1", "2001:db8::/32". */
#ifndef SHOAL_NET_ACL_H
#define SHOAL_NET_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shoal_acl_entry {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix; /* bits that must match */
	uint8_t addr[16];
};

/* Returns 0, or -1 if text is not an address or a network in CIDR notation. */
int shoal_acl_parse(const char *text, struct shoal_acl_entry *out);

/* Parses the n texts of a list (status_allow, limit_allow, real_ip_from, ...) into *out, a
 * new array (NULL for an empty list; free() it). 0, or -1 with *out NULL and *bad the index
 * of the first text that is no address or network, or n when memory ran out. */
int shoal_acl_parse_list(char *const *texts, size_t n, struct shoal_acl_entry **out,
			 size_t *bad);

/* Whether addr (4 or 16 bytes, by family) is in one of the n entries. */
bool shoal_acl_allows(const struct shoal_acl_entry *list, size_t n, int family,
		      const uint8_t *addr);

#endif
