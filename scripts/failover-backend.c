/* The backend of scripts/failover-bench: an HTTP/1.1 responder on 127.0.0.1:PORT, one process
 * with one epoll loop, that the bench kills, stops or turns bad. Every request (anything up to
 * CRLFCRLF; the bench sends no bodies) gets a fixed 200 with a 612-byte body, keep-alive; after
 * SIGUSR1, a 503 Service Unavailable with a short body instead, keep-alive too. A request that
 * is HTTP/1.0 or says "Connection: close" gets "Connection: close" and the connection closes
 * after its answer. Pipelined and partial requests are answered in order; a head that does not
 * end within IN_SIZE bytes closes the connection.
 *
 * A request for exactly "/" is a health check; any other is traffic, counted by the time the
 * kernel received its last bytes (SO_TIMESTAMPNS): requests that queue while the process is
 * stopped count at their arrival, not when it is continued. LOG gets the traffic counts every
 * second and at SIGTERM or SIGINT (then the process exits), rewritten whole, through a rename:
 * one "EPOCH-MS COUNT" line per BUCKET_MS bucket that had requests (EPOCH-MS: the bucket's start,
 * Unix time in ms), then "# traffic N checks N failing 0|1".
 *
 * usage: failover-backend PORT LOG
 * build: gcc -std=c17 -O2 -D_GNU_SOURCE -o failover-backend failover-backend.c */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum {
	MAX_EVENTS = 256,
	IN_SIZE = 8192,
	OUT_SIZE = 32768,
	BODY_SIZE = 612,
	BUCKET_MS = 10,
	MAX_BUCKETS = 15 * 60 * 1000 / BUCKET_MS, /* 15 minutes; later requests are not counted */
};

/* What an epoll event's pointer leads to; a connection starts with one. */
enum kind { LISTENER, SIGNALS, TICKS, CONNECTION };

struct source {
	int fd;
	enum kind kind;
};

struct conn {
	struct source src;
	bool closing;     /* the last answer owed said Connection: close */
	long long rx_ms;  /* when the kernel received the bytes of the last read */
	size_t in_len;
	size_t out_off, out_len;
	char in[IN_SIZE];
	char out[OUT_SIZE];
};

struct response {
	char bytes[1024];
	size_t len;
};

struct backend {
	int epoll_fd;
	struct source listener, signals, ticks;
	bool failing;                  /* answers 503 since SIGUSR1 */
	struct response answers[2][2]; /* [failing][closing] */
	long long start_ms;            /* the start of bucket 0 */
	unsigned *counts;              /* traffic requests per bucket */
	unsigned long long traffic, checks;
	bool dirty; /* counts changed since LOG was last written */
	const char *log_path;
	char tmp_path[4096];
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void build_answer(struct response *r, bool failing, bool closing)
{
	char body[BODY_SIZE + 1];
	const char *status = failing ? "503 Service Unavailable" : "200 OK";
	if (failing) {
		snprintf(body, sizeof body, "backend failing\n");
	} else {
		const char *head = "<!DOCTYPE html>\n<html>\n<head><title>failover bench</title></head>\n"
				   "<body>\n<p>";
		const char *tail = "</p>\n</body>\n</html>\n";
		size_t fill = BODY_SIZE - strlen(head) - strlen(tail);
		snprintf(body, sizeof body, "%s%*s%s", head, (int)fill, "", tail);
		memset(body + strlen(head), 'x', fill);
	}
	r->len = (size_t)snprintf(r->bytes, sizeof r->bytes,
				  "HTTP/1.1 %s\r\nServer: failover-backend\r\nContent-Type: text/html\r\n"
				  "Content-Length: %zu\r\nConnection: %s\r\n\r\n%s",
				  status, strlen(body), closing ? "close" : "keep-alive", body);
}

static int open_listener(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	/* On the listener too: connections inherit it, and the kernel stamps what it receives only
	 * once some socket asked, which must be before the first request queues unread. */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 4096) < 0)
		return -1;
	return fd;
}

static int watch(struct backend *b, struct source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };
	return epoll_ctl(b->epoll_fd, EPOLL_CTL_ADD, src->fd, &ev);
}

static void drop(struct conn *c)
{
	close(c->src.fd);
	free(c);
}

/* Whether the head asks for the connection to close: HTTP/1.0 (keep-alive there is opt-in and
 * not worth honouring here) or a Connection field that names close. */
static bool wants_close(const char *head, size_t len)
{
	const char *line_end = memchr(head, '\r', len);
	if (line_end && line_end - head >= 8 && memcmp(line_end - 8, "HTTP/1.0", 8) == 0)
		return true;
	for (const char *p = line_end; p && p + 13 <= head + len; p = memchr(p + 1, '\r', head + len - p - 1)) {
		if (strncasecmp(p, "\r\nconnection:", 13) != 0)
			continue;
		for (const char *q = p + 13; q + 5 <= head + len && *q != '\r'; q++)
			if (strncasecmp(q, "close", 5) == 0)
				return true;
	}
	return false;
}

static bool is_check(const char *head, size_t len)
{
	const char *sp = memchr(head, ' ', len);
	return sp && head + len - sp >= 3 && sp[1] == '/' && sp[2] == ' ';
}

static void count(struct backend *b, long long ms)
{
	long long i = (ms - b->start_ms) / BUCKET_MS;
	b->traffic++;
	b->dirty = true;
	if (i >= 0 && i < MAX_BUCKETS)
		b->counts[i]++;
}

/* Queues the answers of the complete requests buffered, as many as the output buffer takes. */
static void answer(struct backend *b, struct conn *c)
{
	size_t used = 0;
	const char *end;
	while (!c->closing && (end = memmem(c->in + used, c->in_len - used, "\r\n\r\n", 4))) {
		const char *head = c->in + used;
		size_t len = (size_t)(end - head) + 4;
		bool closing = wants_close(head, len);
		const struct response *r = &b->answers[b->failing][closing];
		if (c->out_len + r->len > OUT_SIZE)
			break;
		memcpy(c->out + c->out_len, r->bytes, r->len);
		c->out_len += r->len;
		c->closing = closing;
		if (is_check(head, len))
			b->checks++;
		else
			count(b, c->rx_ms);
		used += len;
	}
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
}

/* Writes what is queued; false on a write error. */
static bool flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->src.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN;
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return true;
}

/* Reads into the input buffer and notes the kernel's receive time of the bytes read. Returns
 * what recv would: the bytes read, 0 at the end, -1 with errno. */
static ssize_t receive(struct conn *c)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { c->in + c->in_len, IN_SIZE - c->in_len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof ctl.buf };
	ssize_t n = recvmsg(c->src.fd, &msg, 0);
	if (n <= 0)
		return n;
	c->in_len += (size_t)n;
	c->rx_ms = now_ms();
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(cm), sizeof ts);
			c->rx_ms = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
		}
	}
	return n;
}

/* Edge-triggered: runs until a read or a write would block, so that an edge is sure to follow. */
static void serve(struct backend *b, struct conn *c)
{
	for (;;) {
		if (!flush(c)) {
			drop(c);
			return;
		}
		if (c->out_len > 0)
			return;
		if (c->closing) {
			drop(c);
			return;
		}
		size_t before = c->out_len;
		answer(b, c);
		if (c->out_len > before)
			continue;
		if (c->in_len == IN_SIZE) {
			drop(c);
			return;
		}
		ssize_t n = receive(c);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			drop(c);
			return;
		}
		if (n < 0)
			return;
	}
}

static void accept_all(struct backend *b)
{
	int one = 1;
	for (;;) {
		int fd = accept4(b->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct conn *c = malloc(sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		c->src = (struct source){ fd, CONNECTION };
		c->closing = false;
		c->rx_ms = now_ms();
		c->in_len = c->out_off = c->out_len = 0;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (watch(b, &c->src, EPOLLIN | EPOLLOUT | EPOLLET) < 0)
			drop(c);
	}
}

static void write_log(struct backend *b)
{
	FILE *f = fopen(b->tmp_path, "w");
	if (!f) {
		fprintf(stderr, "failover-backend: %s: %s\n", b->tmp_path, strerror(errno));
		return;
	}
	for (long long i = 0; i < MAX_BUCKETS; i++)
		if (b->counts[i])
			fprintf(f, "%lld %u\n", b->start_ms + i * BUCKET_MS, b->counts[i]);
	fprintf(f, "# traffic %llu checks %llu failing %d\n", b->traffic, b->checks, b->failing);
	if (fclose(f) != 0 || rename(b->tmp_path, b->log_path) != 0)
		fprintf(stderr, "failover-backend: %s: %s\n", b->log_path, strerror(errno));
	b->dirty = false;
}

/* Returns false when the process is to exit. */
static bool on_signal(struct backend *b)
{
	struct signalfd_siginfo si;
	while (read(b->signals.fd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGUSR1) {
			b->failing = true;
			b->dirty = true;
		} else {
			return false;
		}
	}
	return true;
}

static int setup(struct backend *b, int port)
{
	sigset_t set;
	struct itimerspec second = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	for (int f = 0; f < 2; f++)
		for (int c = 0; c < 2; c++)
			build_answer(&b->answers[f][c], f, c);
	b->start_ms = now_ms() / BUCKET_MS * BUCKET_MS;
	b->counts = calloc(MAX_BUCKETS, sizeof *b->counts);
	b->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	b->listener = (struct source){ open_listener(port), LISTENER };
	b->signals = (struct source){ signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC), SIGNALS };
	b->ticks = (struct source){ timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), TICKS };
	if (!b->counts || b->epoll_fd < 0 || b->listener.fd < 0 || b->signals.fd < 0 || b->ticks.fd < 0 ||
	    timerfd_settime(b->ticks.fd, 0, &second, NULL) < 0 || watch(b, &b->listener, EPOLLIN) < 0 ||
	    watch(b, &b->signals, EPOLLIN) < 0 || watch(b, &b->ticks, EPOLLIN) < 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct backend b;
	if (argc != 3 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
		fprintf(stderr, "usage: failover-backend PORT LOG\n");
		return 2;
	}
	b.log_path = argv[2];
	snprintf(b.tmp_path, sizeof b.tmp_path, "%s.tmp", argv[2]);
	if (setup(&b, atoi(argv[1])) < 0) {
		fprintf(stderr, "failover-backend: cannot serve port %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	write_log(&b);
	for (;;) {
		struct epoll_event events[MAX_EVENTS];
		int n = epoll_wait(b.epoll_fd, events, MAX_EVENTS, -1);
		for (int i = 0; i < n; i++) {
			struct source *src = events[i].data.ptr;
			uint64_t ticks;
			switch (src->kind) {
			case LISTENER: accept_all(&b); break;
			case CONNECTION: serve(&b, (struct conn *)src); break;
			case TICKS:
				if (read(src->fd, &ticks, sizeof ticks) > 0 && b.dirty)
					write_log(&b);
				break;
			case SIGNALS:
				if (!on_signal(&b)) {
					write_log(&b);
					return 0;
				}
				break;
			}
		}
	}
}
