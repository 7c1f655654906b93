/* Which system calls move a small message through a loopback TCP connection for less: write
 * and read (through the VFS) or send and recv (straight to the socket layer). One process, one
 * connection, TCP_NODELAY, SIZE bytes written on one end and read on the other, N times per
 * pair of calls, the two pairs alternated ROUNDS times; prints ns per write+read and per
 * send+recv. What the transport's choice of calls (src/net/transport.c) rests on; pin it to
 * one core: taskset -c 1 ./sockcall [SIZE [N [ROUNDS]]]
 * build: gcc -std=c17 -O2 -D_GNU_SOURCE -o sockcall sockcall.c */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A connected pair: *c the client's end, *s the server's. */
static int pair(int *c, int *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)&a, sizeof(a)) < 0 || (*s = accept(l, NULL, NULL)) < 0)
		return -1;
	close(l);
	setsockopt(*c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

int main(int argc, char **argv)
{
	size_t size = argc > 1 ? strtoul(argv[1], NULL, 10) : 612;
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 200000;
	int rounds = argc > 3 ? atoi(argv[3]) : 5, c, s;
	char *buf = calloc(1, size);

	if (!buf || size == 0 || n <= 0 || pair(&c, &s) < 0) {
		perror("sockcall");
		return 1;
	}
	for (int r = 0; r < rounds; r++) {
		double t0 = now(), t1, t2;

		for (long i = 0; i < n; i++)
			if (write(c, buf, size) != (ssize_t)size || read(s, buf, size) != (ssize_t)size)
				return 1;
		t1 = now();
		for (long i = 0; i < n; i++)
			if (send(c, buf, size, MSG_NOSIGNAL) != (ssize_t)size ||
			    recv(s, buf, size, 0) != (ssize_t)size)
				return 1;
		t2 = now();
		printf("write+read %.0f ns, send+recv %.0f ns\n", (t1 - t0) / (double)n * 1e9,
		       (t2 - t1) / (double)n * 1e9);
	}
	return 0;
}
