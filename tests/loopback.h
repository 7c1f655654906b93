/* Loopback listeners and clients for the unit tests of the socket modules. */
#ifndef SHOAL_TESTS_LOOPBACK_H
#define SHOAL_TESTS_LOOPBACK_H

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* Connects n clients to addr, each sending one byte: with TCP_DEFER_ACCEPT, a connection is
 * accepted once its first byte is in. */
static inline void loopback_connect_n(const struct shoal_addr *addr, int n, int *clients)
{
	for (int i = 0; i < n; i++) {
		clients[i] = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(clients[i], 0);
		ck_assert_int_eq(connect(clients[i], (const struct sockaddr *)&addr->ss, addr->len), 0);
		ck_assert_int_eq(write(clients[i], "x", 1), 1);
	}
}

/* Accepts (and closes) what the non-blocking listener fd has queued; returns how many. */
static inline int loopback_drain(int fd)
{
	int n = 0, c;

	usleep(100 * 1000); /* let the last bytes reach the listener */
	while ((c = accept(fd, NULL, NULL)) >= 0) {
		close(c);
		n++;
	}
	return n;
}

/* A connected loopback TCP pair, both ends non-blocking. With small buffers the server end
 * fills after a few kilobytes that the client does not read. */
static inline void loopback_tcp_pair(int *server, int *client, bool small)
{
	struct shoal_addr addr;
	int listener = loopback_foreign_listener(&addr), size = 4096;

	*client = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(*client, 0);
	if (small)
		setsockopt(*client, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	ck_assert_int_eq(connect(*client, (struct sockaddr *)&addr.ss, addr.len), 0);
	*server = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
	ck_assert_int_ge(*server, 0);
	if (small)
		setsockopt(*server, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	ck_assert_int_eq(fcntl(*client, F_SETFL, O_NONBLOCK), 0);
	close(listener);
}

#endif
