#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "proxy_int.h"
#include "shoal/upstream/upstream.h"

static bool key_name_is(struct shoal_http_str s, const char *name, size_t len)
{
	return s.len == len && strncasecmp(s.p, name, len) == 0;
}

/* The value of cookie `name` in one Cookie field ("a=1; b=2"); false when absent. */
static bool key_cookie(struct shoal_http_str field, const char *name, size_t len,
		       struct shoal_http_str *value)
{
	const char *p = field.p, *end = field.p + field.len;

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *stop = semi ? semi : end;
		const char *eq;
		while (p < stop && (*p == ' ' || *p == '\t'))
			p++;
		eq = memchr(p, '=', (size_t)(stop - p));
		/* Cookie names are case-sensitive (RFC 6265), unlike field names. */
		if (eq && (size_t)(eq - p) == len && memcmp(p, name, len) == 0) {
			*value = (struct shoal_http_str){ eq + 1, (size_t)(stop - eq - 1) };
			return true;
		}
		p = stop + 1;
	}
	return false;
}

/* The request's key of kind HEADER or COOKIE; false when it has none. */
static bool key_field(const struct shoal_http_request *http, const struct shoal_upstream_policy *p,
		      struct shoal_http_str *key)
{
	size_t len = strlen(p->hash_name);

	for (size_t i = 0; i < http->nheaders; i++) {
		const struct shoal_http_header *h = &http->headers[i];
		if (p->hash_key == SHOAL_HASH_HEADER) {
			if (key_name_is(h->name, p->hash_name, len)) {
				*key = h->value;
				return true;
			}
		} else if (key_name_is(h->name, "cookie", 6) &&
			   key_cookie(h->value, p->hash_name, len, key)) {
			return true;
		}
	}
	return false;
}

uint64_t shoal_proxy_key_hash(const struct shoal_handler_req *req,
			      const struct shoal_upstream_policy *p, struct shoal_upstream_set *set)
{
	struct shoal_http_str key;

	switch (p->hash_key) {
	case SHOAL_HASH_CLIENT_IP:
		return shoal_upstream_hash(req->peer_addr, req->peer_family == AF_INET ? 4 : 16);
	case SHOAL_HASH_URI:
		return shoal_upstream_hash(req->http->target.p, req->http->target.len);
	default:
		break;
	}
	/* A request without the key has no server to stick to: it is spread at random rather
	 * than all sent to the server of the empty key. */
	if (!key_field(req->http, p, &key))
		return shoal_upstream_random(set);
	return shoal_upstream_hash(key.p, key.len);
}
