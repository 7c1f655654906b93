#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "resolve.h"

/* DNS allows 253 bytes in a name. */
#define NAME_MAX_LEN 253

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

bool shoal_resolve_is_name(const char *text)
{
	const char *colon = strrchr(text, ':');
	char *end;
	long port;

	if (!colon || colon == text || colon - text > NAME_MAX_LEN)
		return false;
	for (const char *p = text; p < colon; p++)
		if (!name_char(*p))
			return false;
	if (colon[1] < '0' || colon[1] > '9')
		return false;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return !errno && !*end && port >= 1 && port <= 65535;
}

static bool resolve_seen(const struct shoal_addr *addrs, size_t n, const struct shoal_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (shoal_addr_equal(&addrs[i], a))
			return true;
	return false;
}

/* The IPv4 and IPv6 addresses of res, each once (a hosts file may list one twice). */
static size_t resolve_collect(const struct addrinfo *res, struct shoal_addr *out)
{
	size_t n = 0;

	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (shoal_addr_from_sockaddr(&out[n], ai->ai_addr, ai->ai_addrlen) < 0 ||
		    resolve_seen(out, n, &out[n]))
			continue;
		n++;
	}
	return n;
}

static size_t resolve_count(const struct addrinfo *res)
{
	size_t n = 0;

	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
		n++;
	return n;
}

int shoal_resolve_name(const char *text, struct shoal_addr **out, size_t *n,
		       struct shoal_err *why)
{
	const struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
					.ai_flags = AI_NUMERICSERV };
	const char *colon = strrchr(text, ':');
	char name[NAME_MAX_LEN + 1];
	struct addrinfo *res = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (!colon || (size_t)(colon - text) > NAME_MAX_LEN)
		return shoal_err_set(why, "'%s' must be NAME:PORT", text);
	memcpy(name, text, (size_t)(colon - text));
	name[colon - text] = '\0';
	rc = getaddrinfo(name, colon + 1, &hints, &res);
	if (rc != 0)
		return shoal_err_set(why, "cannot resolve '%s': %s", text,
				     rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	*out = calloc(resolve_count(res), sizeof(**out));
	if (*out)
		*n = resolve_collect(res, *out);
	freeaddrinfo(res);
	if (*n)
		return 0;
	rc = *out ? shoal_err_set(why, "cannot resolve '%s': no IPv4 or IPv6 address", text)
		  : shoal_err_set(why, "out of memory");
	free(*out);
	*out = NULL;
	return rc;
}
