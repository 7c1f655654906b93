#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/net/addr.h"

static int parse_port(const char *s, in_port_t *port)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -1;
	*port = htons((in_port_t)v);
	return 0;
}

/* The canonical text of out's socket address, which is AF_INET or AF_INET6. */
static void addr_text(struct shoal_addr *out)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&out->ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&out->ss;
	char host[INET6_ADDRSTRLEN];

	if (out->ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out->text, sizeof(out->text), "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out->text, sizeof(out->text), "%s:%u", host, ntohs(sin->sin_port));
	}
}

static int parse_ipv6(const char *text, struct shoal_addr *out, struct shoal_err *err)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
	const char *close = strchr(text, ']');
	char host[INET6_ADDRSTRLEN];
	size_t hostlen;

	if (!close || close[1] != ':')
		return shoal_err_set(err, "'%s' is not an address: expected \"[IPv6]:port\"", text);
	hostlen = (size_t)(close - text - 1);
	if (hostlen == 0 || hostlen >= sizeof(host))
		return shoal_err_set(err, "'%s' is not an IPv6 address", text);
	memcpy(host, text + 1, hostlen);
	host[hostlen] = '\0';
	sin6->sin6_family = AF_INET6;
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
		return shoal_err_set(err, "'%s' is not an IPv6 address", text);
	if (parse_port(close + 2, &sin6->sin6_port) < 0)
		return shoal_err_set(err, "'%s': port must be a number from 1 to 65535", text);
	out->len = sizeof(*sin6);
	addr_text(out);
	return 0;
}

static int parse_ipv4(const char *text, struct shoal_addr *out, struct shoal_err *err)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	const char *colon = strrchr(text, ':');
	char host[INET_ADDRSTRLEN];
	size_t hostlen;

	if (!colon)
		return shoal_err_set(err, "'%s' is not an address: expected \"IPv4:port\"", text);
	hostlen = (size_t)(colon - text);
	if (hostlen == 0 || hostlen >= sizeof(host))
		return shoal_err_set(err, "'%s' is not an IPv4 address", text);
	memcpy(host, text, hostlen);
	host[hostlen] = '\0';
	sin->sin_family = AF_INET;
	if (strcmp(host, "*") == 0)
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return shoal_err_set(err, "'%s' is not an IPv4 address", text);
	if (parse_port(colon + 1, &sin->sin_port) < 0)
		return shoal_err_set(err, "'%s': port must be a number from 1 to 65535", text);
	out->len = sizeof(*sin);
	addr_text(out);
	return 0;
}

int shoal_addr_parse(const char *text, struct shoal_addr *out, struct shoal_err *err)
{
	memset(out, 0, sizeof(*out));
	if (text[0] == '[')
		return parse_ipv6(text, out, err);
	return parse_ipv4(text, out, err);
}

bool shoal_addr_equal(const struct shoal_addr *a, const struct shoal_addr *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

int shoal_addr_from_sockaddr(struct shoal_addr *out, const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
	const struct sockaddr_in *from4 = (const struct sockaddr_in *)(const void *)sa;
	const struct sockaddr_in6 *from6 = (const struct sockaddr_in6 *)(const void *)sa;

	memset(out, 0, sizeof(*out));
	/* Field by field, so that equal addresses are equal bytes (shoal_addr_equal). */
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(*sin)) {
		sin->sin_family = AF_INET;
		sin->sin_port = from4->sin_port;
		sin->sin_addr = from4->sin_addr;
		out->len = sizeof(*sin);
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(*sin6)) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = from6->sin6_port;
		sin6->sin6_addr = from6->sin6_addr;
		sin6->sin6_scope_id = from6->sin6_scope_id;
		out->len = sizeof(*sin6);
	} else {
		return -1;
	}
	addr_text(out);
	return 0;
}

size_t shoal_addr_format_ip(int family, const uint8_t *addr, char *out, size_t size)
{
	char *p = out;

	if (family != AF_INET) {
		if (inet_ntop(family, addr, out, (socklen_t)size))
			return strlen(out);
		out[0] = '\0';
		return 0;
	}
	for (int i = 0; i < 4; i++) {
		unsigned v = addr[i];
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
	return (size_t)(p - out - 1);
}
