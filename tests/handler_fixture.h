/* What the handler, router and connection tests share: a temporary directory with a
 * configuration file and the sites' files, the handler context and sites a worker would build
 * from it, and the reading of the answers that come out of a socket. */
#ifndef SHOAL_TESTS_HANDLER_FIXTURE_H
#define SHOAL_TESTS_HANDLER_FIXTURE_H

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shoal/config/config.h"
#include "shoal/handler/error_page.h"
#include "shoal/handler/fs.h"
#include "shoal/handler/handler.h"
#include "shoal/handler/reply.h"
#include "shoal/http/mime.h"
#include "shoal/net/transport.h"

/* Servers a fixture's configuration may have. */
#define FIXTURE_SITES 4
/* Bytes of answers one exchange may receive. */
#define FIXTURE_WIRE_MAX 65536
/* Output scratch of one exchange: a connection's, for the largest max_header_size used. */
#define FIXTURE_SCRATCH 16384

struct fixture {
	char dir[64];
	struct shoal_config cfg;
	struct shoal_mime *mime;
	struct shoal_handler_ctx ctx;
	struct shoal_site sites[FIXTURE_SITES];
	size_t nsites;
};

/* Formats the fixture's dir/rel into out. */
static inline void fixture_path(const struct fixture *f, char *out, size_t size, const char *rel)
{
	int n = snprintf(out, size, "%s/%s", f->dir, rel);

	ck_assert(n > 0 && (size_t)n < size);
}

/* Makes the fixture's temporary directory; the caller then adds files and loads a config. */
static inline void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/shoal-handler-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
}

/* Makes the directory dir/rel. */
static inline void fixture_mkdir(const struct fixture *f, const char *rel)
{
	char path[256];

	fixture_path(f, path, sizeof(path), rel);
	ck_assert_int_eq(mkdir(path, 0755), 0);
}

/* Writes text to dir/rel (whose directory must exist), replacing what was there. */
static inline void fixture_write(const struct fixture *f, const char *rel, const char *text)
{
	char path[256];
	FILE *fp;

	fixture_path(f, path, sizeof(path), rel);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_ge(fputs(text, fp), 0);
	ck_assert_int_eq(fclose(fp), 0);
}

/* Loads conf (written to dir/shoal.conf; its relative roots are within dir) and fills the
 * handler context and one site per server the way a worker does. */
static inline void fixture_load(struct fixture *f, const char *conf)
{
	struct shoal_err err = { "" };
	struct shoal_handler_ctx *ctx = &f->ctx;
	char path[256];

	fixture_write(f, "shoal.conf", conf);
	fixture_path(f, path, sizeof(path), "shoal.conf");
	ck_assert_msg(shoal_config_load(&f->cfg, path, &err) == 0, "%s", err.msg);
	ck_assert_uint_le(f->cfg.nservers, FIXTURE_SITES);
	ck_assert_msg(shoal_mime_load(&f->mime, NULL, f->cfg.default_type, &err) == 0, "%s",
		      err.msg);
	ck_assert_int_eq(shoal_handler_ctx_init(ctx, &f->cfg, f->mime), 0);
	ctx->now_ms = 1000000; /* any start: the tests move the clock by hand */
	f->nsites = f->cfg.nservers;
	for (size_t i = 0; i < f->nsites; i++) {
		f->sites[i].conf = &f->cfg.servers[i];
		f->sites[i].root_fd = shoal_fs_open_root(f->cfg.servers[i].root, &err);
		ck_assert_msg(f->sites[i].root_fd >= 0, "%s", err.msg);
		ck_assert_int_eq(shoal_error_page_load(&f->sites[i]), 0);
	}
}

/* Frees what fixture_load made and removes the directory. */
static inline void fixture_free(struct fixture *f)
{
	char cmd[128];

	for (size_t i = 0; i < f->nsites; i++) {
		close(f->sites[i].root_fd);
		free(f->sites[i].error_pages);
	}
	if (f->ctx.cfg) {
		shoal_file_cache_free(&f->ctx.cache);
		shoal_mime_free(f->mime);
		shoal_config_free(&f->cfg);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A non-blocking socket pair of type (SOCK_STREAM; SOCK_SEQPACKET shows each write as one
 * message): [0] the server's end, [1] the client's. */
static inline void fixture_socketpair(int sv[2], int type)
{
	ck_assert_int_eq(socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* Appends what fd has ready to buf[*len..cap). Returns false once the peer has closed. */
static inline bool fixture_read_ready(int fd, char *buf, size_t *len, size_t cap)
{
	ssize_t n = -1;

	while (*len < cap && (n = read(fd, buf + *len, cap - *len)) > 0)
		*len += (size_t)n;
	ck_assert_uint_lt(*len, cap);
	return !(n == 0 || (n < 0 && errno != EAGAIN));
}

/* One response as received: its head (status line through the empty line) and body. */
struct fixture_response {
	int status;
	const char *head;
	size_t head_len;
	const char *body;
	size_t body_len;
};

/* The value of header name in r, copied into out; NULL if r has no such header. */
static inline const char *fixture_header(const struct fixture_response *r, const char *name,
					 char *out, size_t size)
{
	char key[64];
	int n = snprintf(key, sizeof(key), "\r\n%s: ", name);
	const char *p = memmem(r->head, r->head_len, key, (size_t)n), *end;

	if (!p)
		return NULL;
	p += n;
	end = memmem(p, r->head_len - (size_t)(p - r->head), "\r\n", 2);
	ck_assert(end && (size_t)(end - p) < size);
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return out;
}

/* Whether r has header name with exactly value. */
static inline bool fixture_has(const struct fixture_response *r, const char *name,
			       const char *value)
{
	char got[256];

	return fixture_header(r, name, got, sizeof(got)) && strcmp(got, value) == 0;
}

/* Whether r has no header name at all. */
static inline bool fixture_lacks(const struct fixture_response *r, const char *name)
{
	char got[256];

	return fixture_header(r, name, got, sizeof(got)) == NULL;
}

static inline bool fixture_body_is(const struct fixture_response *r, const char *text)
{
	return r->body_len == strlen(text) && memcmp(r->body, text, r->body_len) == 0;
}

/* Whether text occurs in r's body. */
static inline bool fixture_body_has(const struct fixture_response *r, const char *text)
{
	return memmem(r->body, r->body_len, text, strlen(text)) != NULL;
}

/* Parses the response at the start of buf[0..len), its body as long as its Content-Length
 * says (none for an answer to HEAD, or without the header). Returns the bytes it takes, 0
 * when they have not all arrived. */
static inline size_t fixture_parse_response(const char *buf, size_t len, bool head_only,
					    struct fixture_response *r)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	char value[32];

	memset(r, 0, sizeof(*r));
	if (!end)
		return 0;
	ck_assert_msg(len > 13 && memcmp(buf, "HTTP/1.1 ", 9) == 0, "not a response: %.*s",
		      (int)(len < 40 ? len : 40), buf);
	r->status = atoi(buf + 9);
	r->head = buf;
	r->head_len = (size_t)(end - buf) + 4;
	r->body = buf + r->head_len;
	if (!head_only && fixture_header(r, "Content-Length", value, sizeof(value)))
		r->body_len = strtoull(value, NULL, 10);
	if (r->head_len + r->body_len > len)
		return 0;
	return r->head_len + r->body_len;
}

/* One request answered without a connection: the parsed request, the handler's view of it,
 * an output batch over a scratch buffer, and what came out of the batch. */
struct fixture_exchange {
	struct shoal_http_request http;
	struct shoal_handler_req req;
	uint8_t peer[16];
	struct shoal_out out;
	char scratch[FIXTURE_SCRATCH];
	char wire[FIXTURE_WIRE_MAX];
	size_t wire_len;
	struct fixture_response resp;
};

/* Sets peer as the request's client address (an IPv4 or IPv6 literal). */
static inline void fixture_peer(struct fixture_exchange *x, const char *peer)
{
	int family = strchr(peer, ':') ? AF_INET6 : AF_INET;

	ck_assert_int_eq(inet_pton(family, peer, x->peer), 1);
	x->req.peer_family = (uint8_t)family;
	x->req.peer_addr = x->peer;
}

/* Parses request (whole, as a literal) and prepares what a connection hands a handler: the
 * keep-alive the request allows, an empty batch, 127.0.0.1 as the peer, site (may be NULL). */
static inline void fixture_start(struct fixture_exchange *x, struct fixture *f,
				 struct shoal_site *site, const char *request)
{
	struct shoal_http_limits limits = {
		.max_request_line = (size_t)f->cfg.max_header_size,
		.max_head = (size_t)f->cfg.max_header_size,
		.max_headers = (size_t)f->cfg.max_headers,
	};
	int rc = shoal_http_parse_request(request, strlen(request), 0, &limits, &x->http);

	ck_assert_msg(rc == (int)strlen(request), "parse of %s: %d", request, rc);
	ck_assert_uint_le(shoal_reply_scratch_need((size_t)f->cfg.max_header_size),
			  sizeof(x->scratch));
	shoal_out_init(&x->out, x->scratch, sizeof(x->scratch));
	x->req = (struct shoal_handler_req){
		.ctx = &f->ctx, .http = &x->http, .site = site, .out = &x->out,
		.keep_alive = x->http.keep_alive,
	};
	fixture_peer(x, "127.0.0.1");
	x->wire_len = 0;
}

/* Sends the batch through a socket pair and parses the one response it must hold. */
static inline void fixture_finish(struct fixture_exchange *x)
{
	enum shoal_out_result r;
	int sv[2];

	fixture_socketpair(sv, SOCK_STREAM);
	do {
		r = shoal_out_flush(&x->out, SHOAL_TRANSPORT_TCP(sv[0]));
		fixture_read_ready(sv[1], x->wire, &x->wire_len, sizeof(x->wire));
	} while (r == SHOAL_OUT_AGAIN || r == SHOAL_OUT_YIELD);
	ck_assert_int_eq(r, SHOAL_OUT_DONE);
	fixture_read_ready(sv[1], x->wire, &x->wire_len, sizeof(x->wire));
	close(sv[0]);
	close(sv[1]);
	ck_assert_msg(x->wire_len > 0 &&
			      fixture_parse_response(x->wire, x->wire_len,
						     x->http.method == SHOAL_HTTP_HEAD,
						     &x->resp) == x->wire_len,
		      "not exactly one response: %.*s", (int)x->wire_len, x->wire);
}

/* Answers request with handler on site; returns what the handler returned. */
static inline bool fixture_run(struct fixture_exchange *x, struct fixture *f,
			       shoal_handler_fn handler, struct shoal_site *site,
			       const char *request)
{
	bool keep_alive;

	fixture_start(x, f, site, request);
	keep_alive = handler(&x->req);
	fixture_finish(x);
	return keep_alive;
}

#endif
