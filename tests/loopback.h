/* Loopback listeners for the unit tests of the socket modules. */
#ifndef SHOAL_TESTS_LOOPBACK_H
#define SHOAL_TESTS_LOOPBACK_H

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "shoal/net/listener.h"

/* Binds 127.0.0.1 port 0 without SO_REUSEPORT, like a foreign server, and listens; addr gets
 * the port chosen. Returns the socket (close it for a port that was free a moment ago). */
static inline int loopback_foreign_listener(struct shoal_addr *addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char text[32];

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(text, sizeof(text), "127.0.0.1:%u", ntohs(sin.sin_port));
	ck_assert_int_eq(shoal_addr_parse(text, addr, NULL), 0);
	return fd;
}

#endif
