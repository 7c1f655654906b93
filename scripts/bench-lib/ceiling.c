/* The ceiling of the benchmark: the least work an HTTP/1.1 responder can do per request.
 * One process, one epoll loop. Each listener answers every request (anything ending in
 * CRLFCRLF) with one fixed response, the file given for it, read once at start; the
 * responses owed on a connection leave in as few writev calls as the socket accepts.
 * A listener marked ":close" adds "Connection: close" and closes after one response.
 *
 * usage: ceiling PORT:FILE[:close]...   (binds 127.0.0.1)
 * build: gcc -std=c17 -O2 -D_GNU_SOURCE -o ceiling ceiling.c */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

enum { MAX_LISTENERS = 8, MAX_EVENTS = 256, BATCH_IOV = 64, READ_SIZE = 16384 };

struct response {
	char *bytes;
	size_t len;
	bool close_after;
};

/* Listeners and connections share the epoll data pointer; `listening` tells them apart. */
struct endpoint {
	int fd;
	bool listening;
	const struct response *response;
	size_t owed;     /* responses not yet fully written */
	size_t sent;     /* bytes of the first owed response already written */
	unsigned match;  /* how much of CRLFCRLF the input read so far ends with */
};

static int load_response(const char *path, bool close_after, struct response *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	char head[256];
	int head_len = snprintf(head, sizeof head,
				"HTTP/1.1 200 OK\r\nServer: ceiling\r\nContent-Type: text/html\r\n"
				"Content-Length: %lld\r\n%s\r\n",
				(long long)st.st_size, close_after ? "Connection: close\r\n" : "");
	out->len = (size_t)head_len + (size_t)st.st_size;
	out->bytes = malloc(out->len);
	out->close_after = close_after;
	if (!out->bytes)
		return -1;
	memcpy(out->bytes, head, (size_t)head_len);
	for (size_t got = (size_t)head_len; got < out->len;) {
		ssize_t n = read(fd, out->bytes + got, out->len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	close(fd);
	return 0;
}

static int open_listener(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 4096) < 0)
		return -1;
	return fd;
}

static void drop(struct endpoint *conn)
{
	close(conn->fd);
	free(conn);
}

static size_t count_requests(const char *buf, size_t len, unsigned *match)
{
	static const char end[] = "\r\n\r\n";
	size_t requests = 0;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == end[*match]) {
			if (++*match == 4) {
				requests++;
				*match = 0;
			}
		} else {
			*match = buf[i] == '\r';
		}
	}
	return requests;
}

static void advance(struct endpoint *conn, size_t written)
{
	size_t len = conn->response->len;
	while (written > 0) {
		size_t take = len - conn->sent < written ? len - conn->sent : written;
		conn->sent += take;
		written -= take;
		if (conn->sent == len) {
			conn->sent = 0;
			conn->owed--;
		}
	}
}

/* Returns false once the connection is closed. */
static bool flush(struct endpoint *conn)
{
	const struct response *r = conn->response;
	struct iovec iov[BATCH_IOV];
	while (conn->owed > 0) {
		size_t n = conn->owed < BATCH_IOV ? conn->owed : BATCH_IOV;
		iov[0] = (struct iovec){ r->bytes + conn->sent, r->len - conn->sent };
		for (size_t i = 1; i < n; i++)
			iov[i] = (struct iovec){ r->bytes, r->len };
		ssize_t written = writev(conn->fd, iov, (int)n);
		if (written < 0) {
			if (errno == EAGAIN)
				return true;
			drop(conn);
			return false;
		}
		advance(conn, (size_t)written);
		if (r->close_after && conn->owed == 0) {
			drop(conn);
			return false;
		}
	}
	return true;
}

static void serve(struct endpoint *conn)
{
	char buf[READ_SIZE];
	for (;;) {
		ssize_t n = read(conn->fd, buf, sizeof buf);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			drop(conn);
			return;
		}
		if (n < 0)
			break;
		size_t requests = count_requests(buf, (size_t)n, &conn->match);
		conn->owed += requests;
		if (conn->response->close_after && conn->owed > 1)
			conn->owed = 1;
	}
	flush(conn);
}

static void accept_all(int epoll_fd, const struct endpoint *listener)
{
	int one = 1;
	for (;;) {
		int fd = accept4(listener->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct endpoint *conn = calloc(1, sizeof *conn);
		if (!conn) {
			close(fd);
			continue;
		}
		*conn = (struct endpoint){ .fd = fd, .response = listener->response };
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = conn };
		if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
			drop(conn);
	}
}

static int setup(int argc, char **argv, int epoll_fd, struct response *responses,
		 struct endpoint *listeners)
{
	for (int i = 1; i < argc; i++) {
		char *port = strtok(argv[i], ":"), *file = strtok(NULL, ":"), *mode = strtok(NULL, ":");
		bool close_after = mode && strcmp(mode, "close") == 0;
		struct endpoint *l = &listeners[i - 1];
		if (!file || load_response(file, close_after, &responses[i - 1]) < 0 ||
		    (l->fd = open_listener(atoi(port))) < 0) {
			fprintf(stderr, "ceiling: cannot serve %s: %s\n", argv[i], strerror(errno));
			return -1;
		}
		l->listening = true;
		l->response = &responses[i - 1];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
		if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, l->fd, &ev) < 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct response responses[MAX_LISTENERS];
	struct endpoint listeners[MAX_LISTENERS] = { 0 };
	if (argc < 2 || argc > MAX_LISTENERS + 1) {
		fprintf(stderr, "usage: ceiling PORT:FILE[:close]... (at most %d)\n", MAX_LISTENERS);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (epoll_fd < 0 || setup(argc, argv, epoll_fd, responses, listeners) < 0)
		return 1;
	for (;;) {
		struct epoll_event events[MAX_EVENTS];
		int n = epoll_wait(epoll_fd, events, MAX_EVENTS, -1);
		for (int i = 0; i < n; i++) {
			struct endpoint *e = events[i].data.ptr;
			if (e->listening)
				accept_all(epoll_fd, e);
			else
				serve(e);
		}
	}
}
