/* The client of the benchmark's new-connection TLS scenarios, which wrk cannot run (it keeps
 * its connections and has no say over sessions): PARALLEL connections at a time, each a new
 * TCP connection, a TLS handshake, one "GET PATH" with "Connection: close" and its response
 * read to the server's close; then the next, for SECS seconds, and those begun by then are
 * finished. In "full" mode no session is offered: every handshake is a full one. In "resume"
 * mode a handshake offers the newest session the server issued (a TLS 1.3 ticket), as a
 * returning browser does; one connection before the count fetches the first. Whether the
 * server took the session is counted per connection (SSL_session_reused), not assumed.
 *
 * It prints its summary in wrk's words ("N requests in S", "Requests/sec:", the 99% line of
 * the latency distribution, "Socket errors:", "Non-2xx or 3xx responses:"), a request being a
 * connection, so that scripts/bench meters both clients alike; then "resumed: N" and what the
 * first handshake negotiated, "tls: TLSv1.3 TLS_AES_128_GCM_SHA256 X25519 EC-prime256v1"
 * (protocol, cipher suite, key exchange group, the server key's type). A latency runs from
 * connect to the server's close. A response counts when its status is 200 and all of the
 * Content-Length it announced arrived. The server's certificate is not verified: its
 * signature of the handshake is, which is the client's share of the work a browser does.
 *
 * usage: tls_load ADDRESS PORT PATH SECS PARALLEL full|resume   (ADDRESS: IPv4; SNI "localhost")
 * build: gcc -std=c17 -O2 -D_GNU_SOURCE -o tls_load tls_load.c -lssl -lcrypto */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

enum { MAX_PARALLEL = 4096, HEAD_KEEP = 1024, READ_SIZE = 16384, MAX_EVENTS = 256 };
static const uint64_t CONN_TIMEOUT_NS = 10000000000ull; /* one connection, start to close */
static const uint64_t DRAIN_NS = 5000000000ull;         /* for those begun before the end */

enum error_kind { ERR_CONNECT, ERR_READ, ERR_WRITE, ERR_TIMEOUT, ERR_STATUS, ERR_KINDS };

enum step { STEP_HANDSHAKE, STEP_SEND, STEP_RECEIVE };

struct slot {
	int fd; /* -1: free */
	SSL *ssl;
	enum step step;
	uint64_t started;
	size_t sent;
	size_t got;             /* response bytes, all of them */
	char head[HEAD_KEEP];   /* the response's first bytes: status line and header */
};

struct load {
	SSL_CTX *ctx;
	bool resume;
	/* The newest session the server issued (resume mode), as bytes: each connection offers a
	 * copy of its own, for OpenSSL's client stops offering a session object it resumed once
	 * (one use per ticket, as RFC 8446 advises), and a server that issues no new ticket on a
	 * resumed connection (h2o) would make every other handshake a full one. */
	unsigned char *session;
	size_t session_len, session_cap;
	struct sockaddr_in addr;
	char request[512];
	size_t request_len;
	int epoll_fd;
	struct slot *slots;
	int parallel;
	int active;
	uint64_t done, resumed, errors[ERR_KINDS];
	uint32_t *latency_us; /* of the connections done */
	size_t latency_cap;
	char negotiated[160]; /* "" until the first handshake is done */
	bool told;            /* the first error's reason went to stderr */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* OpenSSL's new-session callback (resume mode): keeps the newest resumable session's bytes. */
static int keep_session(SSL *ssl, SSL_SESSION *session)
{
	struct load *load = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	int len = i2d_SSL_SESSION(session, NULL);
	if (!SSL_SESSION_is_resumable(session) || len <= 0)
		return 0;
	if ((size_t)len > load->session_cap) {
		unsigned char *grown = realloc(load->session, (size_t)len);
		if (!grown)
			return 0; /* the older session serves on */
		load->session = grown;
		load->session_cap = (size_t)len;
	}
	unsigned char *end = load->session;
	load->session_len = (size_t)i2d_SSL_SESSION(session, &end);
	return 0; /* OpenSSL frees the object */
}

/* Offers a copy of the kept session, when there is one. */
static int offer_session(const struct load *load, SSL *ssl)
{
	const unsigned char *p = load->session;
	if (!load->resume || !load->session_len)
		return 0;
	SSL_SESSION *copy = d2i_SSL_SESSION(NULL, &p, (long)load->session_len);
	int ok = copy && SSL_set_session(ssl, copy);
	SSL_SESSION_free(copy);
	return ok ? 0 : -1;
}

static int make_context(struct load *load)
{
	load->ctx = SSL_CTX_new(TLS_client_method());
	if (!load->ctx)
		return -1;
	SSL_CTX_set_app_data(load->ctx, load);
	SSL_CTX_set_verify(load->ctx, SSL_VERIFY_NONE, NULL);
	/* A server that closes without close_notify has still answered in full; the
	 * Content-Length check tells a cut response. */
	SSL_CTX_set_options(load->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (load->resume) {
		SSL_CTX_set_session_cache_mode(load->ctx,
					       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(load->ctx, keep_session);
	} else {
		SSL_CTX_set_session_cache_mode(load->ctx, SSL_SESS_CACHE_OFF);
	}
	return 0;
}

static void fail(struct load *load, struct slot *s, enum error_kind kind, const char *what)
{
	load->errors[kind]++;
	if (!load->told) {
		const char *reason = ERR_peek_error() ? ERR_reason_error_string(ERR_peek_error()) : NULL;
		if (!reason && errno)
			reason = strerror(errno);
		fprintf(stderr, "tls_load: first failure: %s%s%s\n", what, reason ? ": " : "",
			reason ? reason : "");
		load->told = true;
	}
	ERR_clear_error();
	SSL_free(s->ssl);
	if (s->fd >= 0)
		close(s->fd);
	s->ssl = NULL;
	s->fd = -1;
	load->active--;
}

/* Opens a connection in a free slot: a non-blocking connect and a client SSL on it; a
 * failure is counted as wrk counts it, a connect error. */
static void start(struct load *load, struct slot *s)
{
	int one = 1;
	load->active++;
	s->ssl = NULL;
	s->step = STEP_HANDSHAKE;
	s->started = now_ns();
	s->sent = s->got = 0;
	errno = 0;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		fail(load, s, ERR_CONNECT, "socket");
		return;
	}
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	s->ssl = SSL_new(load->ctx);
	if (!s->ssl || !SSL_set_fd(s->ssl, s->fd) || !SSL_set_tlsext_host_name(s->ssl, "localhost") ||
	    offer_session(load, s->ssl) < 0) {
		fail(load, s, ERR_CONNECT, "the client's SSL");
		return;
	}
	SSL_set_connect_state(s->ssl);
	if (connect(s->fd, (struct sockaddr *)&load->addr, sizeof load->addr) < 0 &&
	    errno != EINPROGRESS) {
		fail(load, s, ERR_CONNECT, "connect");
		return;
	}
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = s };
	if (epoll_ctl(load->epoll_fd, EPOLL_CTL_ADD, s->fd, &ev) < 0)
		fail(load, s, ERR_CONNECT, "epoll_ctl");
}

static void note_negotiated(struct load *load, SSL *ssl)
{
	EVP_PKEY *key = SSL_get0_peer_certificate(ssl) ?
				X509_get0_pubkey(SSL_get0_peer_certificate(ssl)) : NULL;
	const char *exchange = OBJ_nid2sn(SSL_get_negotiated_group(ssl));
	const char *type = key ? EVP_PKEY_get0_type_name(key) : NULL;
	char group[64] = "?";
	size_t group_len = 0;
	if (key)
		EVP_PKEY_get_group_name(key, group, sizeof group, &group_len);
	snprintf(load->negotiated, sizeof load->negotiated, "%s %s %s %s-%s", SSL_get_version(ssl),
		 SSL_get_cipher_name(ssl), exchange ? exchange : "?", type ? type : "?", group);
}

/* The response is whole and good: status 200, and all of the Content-Length it announced. */
static bool response_ok(const struct slot *s)
{
	size_t kept = s->got < HEAD_KEEP - 1 ? s->got : HEAD_KEEP - 1;
	char head[HEAD_KEEP];
	memcpy(head, s->head, kept);
	head[kept] = '\0';
	const char *end = strstr(head, "\r\n\r\n");
	const char *length = strcasestr(head, "\r\ncontent-length:");
	if (strncmp(head, "HTTP/1.1 200 ", 13) != 0 || !end || !length || length > end)
		return false;
	return s->got == (size_t)(end + 4 - head) + strtoull(length + 17, NULL, 10);
}

static void finish(struct load *load, struct slot *s)
{
	if (!response_ok(s)) {
		fail(load, s, ERR_STATUS, "a response not 200 or cut short");
		return;
	}
	if (load->done == load->latency_cap) {
		size_t cap = load->latency_cap ? 2 * load->latency_cap : 65536;
		uint32_t *grown = realloc(load->latency_us, cap * sizeof *grown);
		if (!grown) {
			fail(load, s, ERR_READ, "out of memory");
			return;
		}
		load->latency_us = grown;
		load->latency_cap = cap;
	}
	load->latency_us[load->done++] = (uint32_t)((now_ns() - s->started) / 1000);
	/* Closed as agreed, though no close_notify goes back to a server gone: OpenSSL takes a
	 * connection freed otherwise for a failed one and its session for a bad one. */
	SSL_set_shutdown(s->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(s->ssl);
	close(s->fd);
	s->ssl = NULL;
	s->fd = -1;
	load->active--;
}

/* One SSL call's outcome: 1 to go on, 0 to wait for the socket, -1 when the slot was
 * failed (kind) or, for a read at the end of the response, finished. */
static int outcome(struct load *load, struct slot *s, int rc, enum error_kind kind, const char *what)
{
	if (rc > 0)
		return 1;
	int e = SSL_get_error(s->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (s->step == STEP_RECEIVE && (e == SSL_ERROR_ZERO_RETURN ||
					(e == SSL_ERROR_SYSCALL && errno == ECONNRESET))) {
		finish(load, s);
		return -1;
	}
	fail(load, s, kind, what);
	return -1;
}

/* Takes a connection as far as its socket lets it: handshake, request, response to the close. */
static void drive(struct load *load, struct slot *s)
{
	char buf[READ_SIZE];
	int rc;
	for (;;) {
		errno = 0;
		switch (s->step) {
		case STEP_HANDSHAKE:
			if (outcome(load, s, SSL_do_handshake(s->ssl), ERR_CONNECT, "handshake") <= 0)
				return;
			load->resumed += SSL_session_reused(s->ssl) == 1;
			if (!load->negotiated[0])
				note_negotiated(load, s->ssl);
			s->step = STEP_SEND;
			break;
		case STEP_SEND:
			rc = SSL_write(s->ssl, load->request + s->sent, (int)(load->request_len - s->sent));
			if (outcome(load, s, rc, ERR_WRITE, "write") <= 0)
				return;
			s->sent = load->request_len; /* SSL_write writes all unless partial writes are on */
			s->step = STEP_RECEIVE;
			break;
		case STEP_RECEIVE:
			rc = SSL_read(s->ssl, buf, sizeof buf);
			if (outcome(load, s, rc, ERR_READ, "read") <= 0)
				return;
			if (s->got < HEAD_KEEP)
				memcpy(s->head + s->got, buf,
				       (size_t)rc < HEAD_KEEP - s->got ? (size_t)rc : HEAD_KEEP - s->got);
			s->got += (size_t)rc;
			break;
		}
	}
}

/* Fails the connections older than the timeout, and all of them when every one must end. */
static void expire(struct load *load, uint64_t now, bool all)
{
	for (int i = 0; i < load->parallel; i++) {
		struct slot *s = &load->slots[i];
		if (s->fd >= 0 && (all || (now > s->started && now - s->started > CONN_TIMEOUT_NS))) {
			errno = ETIMEDOUT;
			fail(load, s, ERR_TIMEOUT, "timeout");
		}
	}
}

/* Keeps every slot busy until the end, then lets the open connections finish. */
static void run(struct load *load, uint64_t secs)
{
	uint64_t begin = now_ns(), end = begin + secs * 1000000000ull, last_expiry = begin;
	for (;;) {
		uint64_t now = now_ns();
		for (int i = 0; now < end && i < load->parallel; i++)
			if (load->slots[i].fd < 0)
				start(load, &load->slots[i]);
		if (now >= end && (load->active == 0 || now >= end + DRAIN_NS)) {
			expire(load, now, true);
			return;
		}
		if (now - last_expiry > 100000000ull) {
			expire(load, now, false);
			last_expiry = now;
		}
		struct epoll_event events[MAX_EVENTS];
		int n = epoll_wait(load->epoll_fd, events, MAX_EVENTS, 100);
		for (int i = 0; i < n; i++)
			drive(load, events[i].data.ptr);
	}
}

/* Resume mode: one connection, not counted, for a first session to offer. */
static void prime(struct load *load)
{
	uint64_t give_up = now_ns() + CONN_TIMEOUT_NS;
	start(load, &load->slots[0]);
	while (load->active > 0 && now_ns() < give_up) {
		struct epoll_event ev;
		if (epoll_wait(load->epoll_fd, &ev, 1, 100) == 1)
			drive(load, ev.data.ptr);
	}
	expire(load, now_ns(), true);
	if (!load->session_len)
		fprintf(stderr, "tls_load: the first connection brought no session to resume\n");
	load->done = load->resumed = 0;
}

static int by_value(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static void report(struct load *load, double secs)
{
	const uint64_t *e = load->errors;
	double p50 = 0, p99 = 0;
	if (load->done) {
		qsort(load->latency_us, load->done, sizeof *load->latency_us, by_value);
		p50 = load->latency_us[load->done / 2] / 1000.0;
		p99 = load->latency_us[load->done * 99 / 100] / 1000.0;
	}
	printf("  Latency Distribution (connect to close)\n     50%% %.2fms\n     99%% %.2fms\n", p50, p99);
	printf("  %llu requests in %.2fs (a new connection each)\n", (unsigned long long)load->done, secs);
	if (e[ERR_CONNECT] + e[ERR_READ] + e[ERR_WRITE] + e[ERR_TIMEOUT])
		printf("  Socket errors: connect %llu, read %llu, write %llu, timeout %llu\n",
		       (unsigned long long)e[ERR_CONNECT], (unsigned long long)e[ERR_READ],
		       (unsigned long long)e[ERR_WRITE], (unsigned long long)e[ERR_TIMEOUT]);
	if (e[ERR_STATUS])
		printf("  Non-2xx or 3xx responses: %llu\n", (unsigned long long)e[ERR_STATUS]);
	printf("Requests/sec: %.2f\n", secs > 0 ? (double)load->done / secs : 0.0);
	printf("resumed: %llu\n", (unsigned long long)load->resumed);
	printf("tls: %s\n", load->negotiated[0] ? load->negotiated : "none");
}

static int setup(struct load *load, char **argv)
{
	long port = strtol(argv[2], NULL, 10);
	load->parallel = (int)strtol(argv[5], NULL, 10);
	load->resume = strcmp(argv[6], "resume") == 0;
	load->addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int len = snprintf(load->request, sizeof load->request,
			   "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", argv[3]);
	if (inet_pton(AF_INET, argv[1], &load->addr.sin_addr) != 1 || port <= 0 || port > 65535 ||
	    load->parallel <= 0 || load->parallel > MAX_PARALLEL ||
	    (!load->resume && strcmp(argv[6], "full") != 0) || len <= 0 ||
	    (size_t)len >= sizeof load->request)
		return -1;
	load->request_len = (size_t)len;
	load->slots = calloc((size_t)load->parallel, sizeof *load->slots);
	load->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (!load->slots || load->epoll_fd < 0 || make_context(load) < 0)
		return -1;
	for (int i = 0; i < load->parallel; i++)
		load->slots[i].fd = -1;
	return 0;
}

static void teardown(struct load *load)
{
	SSL_CTX_free(load->ctx);
	if (load->epoll_fd >= 0)
		close(load->epoll_fd);
	free(load->slots);
	free(load->latency_us);
	free(load->session);
}

int main(int argc, char **argv)
{
	struct load load = { .epoll_fd = -1 };
	long secs = argc == 7 ? strtol(argv[4], NULL, 10) : 0;
	if (secs <= 0 || setup(&load, argv) < 0) {
		fprintf(stderr, "usage: tls_load ADDRESS PORT PATH SECS PARALLEL full|resume\n"
				"  (PARALLEL: 1 to %d)\n", MAX_PARALLEL);
		teardown(&load);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (load.resume)
		prime(&load);
	uint64_t begin = now_ns();
	run(&load, (uint64_t)secs);
	report(&load, (double)(now_ns() - begin) / 1e9);
	teardown(&load);
	return load.done ? 0 : 1;
}
