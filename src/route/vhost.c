#include <string.h>

#include "shoal/route/vhost.h"

struct shoal_http_str shoal_vhost_host(struct shoal_http_str host)
{
	const char *p = host.p;
	size_t len = host.len;

	/* No Host at all (HTTP/1.0): p may be NULL, which memchr must never see. */
	if (!len)
		return host;
	if (p[0] == '[') {
		const char *close = memchr(p, ']', len);
		len = close ? (size_t)(close - p) - 1 : 0;
		p++;
	} else {
		const char *colon = memchr(p, ':', len);
		if (colon)
			len = (size_t)(colon - p);
	}
	if (len && p[len - 1] == '.')
		len--;
	return (struct shoal_http_str){ p, len };
}

static bool same_ignoring_case(const char *a, const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char x = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] + 32) : a[i];
		char y = b[i] >= 'A' && b[i] <= 'Z' ? (char)(b[i] + 32) : b[i];
		if (x != y)
			return false;
	}
	return true;
}

bool shoal_vhost_match(const char *pattern, struct shoal_http_str host)
{
	size_t plen = strlen(pattern);

	if (pattern[0] == '*') {
		size_t suffix = plen - 1; /* ".example.com" */
		return host.len > suffix &&
		       same_ignoring_case(host.p + host.len - suffix, pattern + 1, suffix);
	}
	return plen == host.len && same_ignoring_case(pattern, host.p, plen);
}

size_t shoal_vhost_select(const struct shoal_server_conf *const *servers, size_t n,
			  size_t default_index, struct shoal_http_str host)
{
	size_t best = default_index, best_len = 0;

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < servers[i]->nserver_names; j++) {
			const char *pattern = servers[i]->server_names[j];
			if (!shoal_vhost_match(pattern, host))
				continue;
			if (pattern[0] != '*')
				return i;
			if (strlen(pattern) > best_len) {
				best = i;
				best_len = strlen(pattern);
			}
		}
	}
	return best;
}
