#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "shoal/net/acl.h"

int shoal_acl_parse(const char *text, struct shoal_acl_entry *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t len = slash ? (size_t)(slash - text) : strlen(text);
	int max;

	if (len == 0 || len >= sizeof(host))
		return -1;
	memcpy(host, text, len);
	host[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	out->prefix = (uint8_t)max;
	if (slash) {
		char *end;
		long bits = strtol(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end || bits < 0 || bits > max)
			return -1;
		out->prefix = (uint8_t)bits;
	}
	return 0;
}

int shoal_acl_parse_list(char *const *texts, size_t n, struct shoal_acl_entry **out,
			 size_t *bad)
{
	struct shoal_acl_entry *list = NULL;

	*out = NULL;
	*bad = n;
	if (n && !(list = calloc(n, sizeof(*list))))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (shoal_acl_parse(texts[i], &list[i]) < 0) {
			*bad = i;
			free(list);
			return -1;
		}
	*out = list;
	return 0;
}

static bool prefix_matches(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	return rest == 0 || ((a[whole] ^ b[whole]) & (uint8_t)(0xFF << (8 - rest))) == 0;
}

bool shoal_acl_allows(const struct shoal_acl_entry *list, size_t n, int family,
		      const uint8_t *addr)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].family == family && prefix_matches(list[i].addr, addr, list[i].prefix))
			return true;
	return false;
}
