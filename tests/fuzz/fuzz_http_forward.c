/* libFuzzer target for the heads a reverse proxy sends (shoal_http_forward_*).
 *
 * The first input byte picks the options, and its top bit whether the rest is a request head
 * from a client or a response head from an upstream; when the rest parses, it is forwarded.
 * The head written must fit the documented bound, be refused only when Connection names too
 * many fields, parse again with the same parser into the same message, hold exactly the
 * fields an independent reading of the rules of forward.h keeps, in order, then exactly the
 * fields the proxy generates, with their expected values, and no other hop-by-hop field. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_check.h"
#include "shoal/http/forward.h"

#define OUT_CAP 65536

static const struct shoal_http_limits in_limits = {
	.max_request_line = 8192, .max_head = 8192, .max_headers = 100,
};
/* What the proxy writes grows by a bounded number of bytes and of fields. */
static const struct shoal_http_limits out_limits = {
	.max_request_line = 16384, .max_head = OUT_CAP, .max_headers = SHOAL_HTTP_MAX_HEADERS,
};

static const char *const addrs[] = { "192.0.2.7", "2001:db8::1", "[::1]", "unknown" };
#define DEFAULT_HOST "127.0.0.1:9001"
#define DATE "Sun, 06 Nov 1994 08:49:37 GMT"

static struct shoal_http_str str(const char *s)
{
	return (struct shoal_http_str){ .p = s, .len = strlen(s) };
}

static bool name_is(struct shoal_http_str s, const char *name)
{
	return s.len == strlen(name) && strncasecmp(s.p, name, s.len) == 0;
}

static bool same_name(struct shoal_http_str a, struct shoal_http_str b)
{
	return a.len == b.len && (a.len == 0 || strncasecmp(a.p, b.p, a.len) == 0);
}

static bool same_bytes(struct shoal_http_str a, struct shoal_http_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool is_one_of(struct shoal_http_str name, const char *const *names)
{
	for (; *names; names++)
		if (name_is(name, *names))
			return true;
	return false;
}

static bool is_proxy_name(struct shoal_http_str name)
{
	return name_is(name, "proxy") || (name.len > 6 && strncasecmp(name.p, "proxy-", 6) == 0);
}

static bool is_token(struct shoal_http_str s)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (!((c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z') ||
		      (c != '\0' && strchr(extra, c))))
			return false;
	}
	return true;
}

/* The elements of a comma-separated list without their OWS (RFC 9110 5.6.1). */
static bool next_elem(struct shoal_http_str list, size_t *pos, struct shoal_http_str *elem)
{
	size_t a = *pos, b;

	if (a > list.len)
		return false;
	for (b = a; b < list.len && list.p[b] != ','; b++)
		;
	*pos = b + 1;
	while (a < b && (list.p[a] == ' ' || list.p[a] == '\t'))
		a++;
	while (b > a && (list.p[b - 1] == ' ' || list.p[b - 1] == '\t'))
		b--;
	*elem = (struct shoal_http_str){ .p = list.p + a, .len = b - a };
	return true;
}

/* Whether a Connection field among h[0..n) lists name. */
static bool named(const struct shoal_http_header *h, size_t n, struct shoal_http_str name)
{
	for (size_t i = 0; i < n; i++) {
		struct shoal_http_str elem;
		size_t pos = 0;

		while (name_is(h[i].name, "connection") && next_elem(h[i].value, &pos, &elem))
			if (same_name(elem, name))
				return true;
	}
	return false;
}

/* The rules of one direction: whether a field is kept when Connection does not name it, and
 * whether Connection can remove it (kept or merged, but not pinned). */
struct rules {
	bool (*keeps)(struct shoal_http_str name, const void *ctx);
	bool (*nameable)(struct shoal_http_str name, const void *ctx);
	const void *ctx;
};

/* Distinct names Connection lists that it can remove, counted up to one past the limit. */
static size_t count_named(const struct shoal_http_header *h, size_t n, const struct rules *r)
{
	struct shoal_http_str seen[SHOAL_HTTP_FORWARD_NAMED_MAX + 1];
	size_t nseen = 0;

	for (size_t i = 0; i < n && nseen <= SHOAL_HTTP_FORWARD_NAMED_MAX; i++) {
		struct shoal_http_str elem;
		size_t pos = 0, k;

		while (name_is(h[i].name, "connection") && next_elem(h[i].value, &pos, &elem) &&
		       nseen <= SHOAL_HTTP_FORWARD_NAMED_MAX) {
			if (!is_token(elem) || name_is(elem, "close") || !r->nameable(elem, r->ctx))
				continue;
			for (k = 0; k < nseen && !same_name(seen[k], elem); k++)
				;
			if (k == nseen)
				seen[nseen++] = elem;
		}
	}
	return nseen;
}

static bool kept(const struct shoal_http_header *h, size_t n, size_t i, const struct rules *r)
{
	if (!r->keeps(h[i].name, r->ctx))
		return false;
	return !r->nameable(h[i].name, r->ctx) || !named(h, n, h[i].name);
}

/* The fields the proxy generates, expected after the kept ones, and the memory of their
 * values. */
struct expected {
	struct shoal_http_str name[8], value[8];
	size_t n;
	char text[OUT_CAP];
	size_t used;
};

static void add_text(struct expected *e, const char *s, size_t n)
{
	FUZZ_CHECK(n <= sizeof(e->text) - e->used);
	memcpy(e->text + e->used, s, n);
	e->used += n;
}

static void add_cstr(struct expected *e, const char *s)
{
	add_text(e, s, strlen(s));
}

/* The value is what was added to e->text since from. */
static void add_field(struct expected *e, const char *name, size_t from)
{
	e->name[e->n] = str(name);
	e->value[e->n++] = (struct shoal_http_str){ .p = e->text + from, .len = e->used - from };
}

/* out holds, from out[first] on, the fields of in[] that r keeps, in order, then e's, and
 * nothing else. */
static void check_fields(const struct shoal_http_header *out, size_t nout, size_t first,
			 const struct shoal_http_header *in, size_t nin, const struct rules *r,
			 const struct expected *e)
{
	size_t k = first;

	for (size_t i = 0; i < nin; i++) {
		if (!kept(in, nin, i, r))
			continue;
		FUZZ_CHECK(k < nout && same_bytes(out[k].name, in[i].name) &&
			   same_bytes(out[k].value, in[i].value));
		k++;
	}
	for (size_t i = 0; i < e->n; i++, k++)
		FUZZ_CHECK(k < nout && same_bytes(out[k].name, e->name[i]) &&
			   same_bytes(out[k].value, e->value[i]));
	FUZZ_CHECK(k == nout);
}

/* All the memory of one run, allocated once per input. */
struct work {
	struct shoal_http_request req, again;
	struct shoal_http_response resp, resp_again;
	struct expected e;
	char out[OUT_CAP];
};

/* Writes with f into w->out and checks that exactly the length returned fits. */
#define WRITE_CHECKED(f, msg, o, w, n)                                        \
	do {                                                                  \
		(n) = f((msg), (o), (w)->out, sizeof((w)->out));              \
		if ((n) > 0) {                                                \
			FUZZ_CHECK(f((msg), (o), (w)->out, (n) - 1) == 0);    \
			FUZZ_CHECK(f((msg), (o), (w)->out, (n)) == (n));      \
		}                                                             \
	} while (0)

/* The request side. */

struct req_ctx {
	const struct shoal_http_request *req;
	const struct shoal_http_forward_opts *o;
};

static const char *const req_dropped[] = { "connection", "keep-alive", "te", "trailer",
					   "transfer-encoding", "proxy-connection",
					   "content-length", "host", NULL };
static const char *const x_forwarded[] = { "x-forwarded-for", "x-forwarded-proto",
					   "x-forwarded-host", NULL };

static bool req_keeps(struct shoal_http_str name, const void *ctx)
{
	const struct req_ctx *c = ctx;

	if (is_one_of(name, req_dropped) || is_proxy_name(name) || memchr(name.p, '_', name.len))
		return false;
	if (name_is(name, "expect"))
		return c->req->version == SHOAL_HTTP_11;
	if (name_is(name, "upgrade"))
		return c->o->upgrade;
	if (c->o->x_forwarded && is_one_of(name, x_forwarded))
		return false;
	return !(c->o->forwarded && name_is(name, "forwarded"));
}

static bool req_nameable(struct shoal_http_str name, const void *ctx)
{
	const struct req_ctx *c = ctx;

	if (name_is(name, "upgrade") || name_is(name, "expect"))
		return false;
	if ((c->o->x_forwarded && name_is(name, "x-forwarded-for")) ||
	    (c->o->forwarded && name_is(name, "forwarded")))
		return true;
	return req_keeps(name, ctx);
}

/* The non-empty values of the fields called name that Connection does not name, joined by
 * ", ", then the separator the proxy's own element needs. */
static void add_merged(struct expected *e, const struct shoal_http_request *req,
		       const char *name)
{
	bool any = false;

	for (size_t i = 0; i < req->nheaders; i++) {
		const struct shoal_http_header *h = &req->headers[i];

		if (!name_is(h->name, name) || h->value.len == 0 ||
		    named(req->headers, req->nheaders, h->name))
			continue;
		if (any)
			add_cstr(e, ", ");
		add_text(e, h->value.p, h->value.len);
		any = true;
	}
	if (any)
		add_cstr(e, ", ");
}

static void expect_forwarded(struct expected *e, const struct shoal_http_request *req,
			     const struct shoal_http_forward_opts *o)
{
	size_t from = e->used;
	const char *addr = o->client_addr;

	add_merged(e, req, "forwarded");
	add_cstr(e, "for=");
	if (!strchr(addr, ':')) {
		add_cstr(e, addr);
	} else {
		add_cstr(e, addr[0] == '[' ? "\"" : "\"[");
		add_cstr(e, addr);
		add_cstr(e, addr[0] == '[' ? "\"" : "]\"");
	}
	add_cstr(e, o->https ? ";proto=https" : ";proto=http");
	if (req->host.len > 0) {
		add_cstr(e, ";host=\"");
		add_text(e, req->host.p, req->host.len);
		add_cstr(e, "\"");
	}
	add_field(e, "Forwarded", from);
}

static void expect_x_forwarded(struct expected *e, const struct shoal_http_request *req,
			       const struct shoal_http_forward_opts *o)
{
	size_t from = e->used;

	add_merged(e, req, "x-forwarded-for");
	add_cstr(e, o->client_addr);
	add_field(e, "X-Forwarded-For", from);
	from = e->used;
	add_cstr(e, o->https ? "https" : "http");
	add_field(e, "X-Forwarded-Proto", from);
	if (req->host.len > 0) {
		from = e->used;
		add_text(e, req->host.p, req->host.len);
		add_field(e, "X-Forwarded-Host", from);
	}
}

static void expect_request_fields(struct expected *e, const struct shoal_http_request *req,
				  const struct shoal_http_forward_opts *o)
{
	char digits[24];

	e->n = e->used = 0;
	if (req->body == SHOAL_HTTP_BODY_LENGTH) {
		snprintf(digits, sizeof(digits), "%llu", (unsigned long long)req->content_length);
		add_cstr(e, digits);
		add_field(e, "Content-Length", 0);
	} else if (req->body == SHOAL_HTTP_BODY_CHUNKED) {
		add_cstr(e, "chunked");
		add_field(e, "Transfer-Encoding", 0);
	}
	if (o->upgrade) {
		size_t from = e->used;

		add_cstr(e, "upgrade");
		add_field(e, "Connection", from);
	}
	if (o->x_forwarded)
		expect_x_forwarded(e, req, o);
	if (o->forwarded)
		expect_forwarded(e, req, o);
}

static void check_same_request(const struct shoal_http_request *req,
			       const struct shoal_http_request *again,
			       const struct shoal_http_forward_opts *o)
{
	struct shoal_http_str host = o->host.len ? o->host : req->host.len ? req->host
									 : o->default_host;

	FUZZ_CHECK(again->version == SHOAL_HTTP_11 && again->method == req->method);
	FUZZ_CHECK(same_bytes(again->method_str, req->method_str));
	if (req->method == SHOAL_HTTP_CONNECT) {
		FUZZ_CHECK(same_bytes(again->target, req->target));
	} else {
		FUZZ_CHECK(same_bytes(again->path, req->path));
		FUZZ_CHECK((again->query.p == NULL) == (req->query.p == NULL));
		FUZZ_CHECK(same_bytes(again->query, req->query));
	}
	FUZZ_CHECK(same_bytes(again->host, host));
	FUZZ_CHECK(again->body == req->body && again->content_length == req->content_length);
	FUZZ_CHECK(again->keep_alive && again->expect_continue == req->expect_continue);
}

/* Connection may name a field the proxy writes itself; it is then the client's copy that
 * went. */
static bool generated_req(struct shoal_http_str name, const struct shoal_http_forward_opts *o)
{
	static const char *const always[] = { "host", "expect", "content-length",
					      "transfer-encoding", "connection", NULL };

	return is_one_of(name, always) || (o->upgrade && name_is(name, "upgrade")) ||
	       (o->x_forwarded && is_one_of(name, x_forwarded)) ||
	       (o->forwarded && name_is(name, "forwarded"));
}

static void check_no_hop_by_hop(const struct shoal_http_request *req,
				const struct shoal_http_request *again,
				const struct shoal_http_forward_opts *o)
{
	static const char *const never[] = { "keep-alive", "te", "trailer", NULL };

	for (size_t i = 0; i < again->nheaders; i++) {
		struct shoal_http_str name = again->headers[i].name;
		struct shoal_http_str value = again->headers[i].value;

		FUZZ_CHECK(!is_one_of(name, never) && !is_proxy_name(name));
		FUZZ_CHECK(!memchr(name.p, '_', name.len));
		FUZZ_CHECK(!name_is(name, "connection") ||
			   (o->upgrade && name_is(value, "upgrade")));
		FUZZ_CHECK(!name_is(name, "upgrade") || o->upgrade);
		FUZZ_CHECK(!name_is(name, "transfer-encoding") ||
			   req->body == SHOAL_HTTP_BODY_CHUNKED);
		FUZZ_CHECK(!name_is(name, "content-length") || req->body == SHOAL_HTTP_BODY_LENGTH);
		FUZZ_CHECK(!named(req->headers, req->nheaders, name) || generated_req(name, o));
	}
}

static void check_wants_upgrade(const struct shoal_http_request *req)
{
	bool listed = false, has_upgrade = false;

	for (size_t i = 0; i < req->nheaders; i++)
		has_upgrade |= name_is(req->headers[i].name, "upgrade") &&
			       req->headers[i].value.len > 0;
	listed = named(req->headers, req->nheaders, str("upgrade"));
	FUZZ_CHECK(shoal_http_forward_wants_upgrade(req) ==
		   (req->version == SHOAL_HTTP_11 && listed && has_upgrade));
}

static size_t request_bound(const struct shoal_http_request *req,
			    const struct shoal_http_forward_opts *o, size_t head)
{
	return head + req->nheaders + 3 * req->host.len + o->host.len + o->default_host.len +
	       2 * strlen(o->client_addr) + 256;
}

/* opts: 1 https, 2 x_forwarded, 4 forwarded, 8 upgrade, 16 Host replaced, 96 the address. */
static void fuzz_request(const char *buf, size_t len, uint8_t opts, struct work *w)
{
	struct shoal_http_forward_opts o = {
		.client_addr = addrs[(opts >> 5) & 3], .https = opts & 1,
		.host = str(opts & 16 ? "app.internal:9001" : ""),
		.default_host = str(DEFAULT_HOST), .x_forwarded = opts & 2,
		.forwarded = opts & 4, .upgrade = opts & 8,
	};
	struct req_ctx ctx = { .req = &w->req, .o = &o };
	struct rules r = { .keeps = req_keeps, .nameable = req_nameable, .ctx = &ctx };
	int head = shoal_http_parse_request(buf, len, 0, &in_limits, &w->req);
	size_t n;

	if (head <= 0)
		return;
	check_wants_upgrade(&w->req);
	WRITE_CHECKED(shoal_http_forward_request, &w->req, &o, w, n);
	if (count_named(w->req.headers, w->req.nheaders, &r) > SHOAL_HTTP_FORWARD_NAMED_MAX) {
		FUZZ_CHECK(n == 0);
		return;
	}
	FUZZ_CHECK(n > 0 && n <= request_bound(&w->req, &o, (size_t)head));
	FUZZ_CHECK(shoal_http_parse_request(w->out, n, 0, &out_limits, &w->again) == (int)n);
	check_same_request(&w->req, &w->again, &o);
	FUZZ_CHECK(w->again.nheaders > 0 && name_is(w->again.headers[0].name, "host"));
	expect_request_fields(&w->e, &w->req, &o);
	check_fields(w->again.headers, w->again.nheaders, 1, w->req.headers, w->req.nheaders, &r,
		     &w->e);
	check_no_hop_by_hop(&w->req, &w->again, &o);
}

/* The response side. */

struct resp_ctx {
	const struct shoal_http_response *resp;
	const struct shoal_http_forward_resp_opts *o;
};

static const char *const resp_dropped[] = { "connection", "keep-alive", "te", "trailer",
					    "transfer-encoding", "proxy-connection",
					    "proxy-authenticate", "proxy-authentication-info",
					    NULL };

static bool resp_keeps_length(const struct resp_ctx *c)
{
	const struct shoal_http_response *resp = c->resp;

	if (c->o->chunked)
		return false;
	return resp->body == SHOAL_HTTP_BODY_LENGTH ||
	       (resp->body == SHOAL_HTTP_BODY_NONE && resp->status >= 200 && resp->status != 204);
}

static bool resp_keeps(struct shoal_http_str name, const void *ctx)
{
	const struct resp_ctx *c = ctx;

	if (is_one_of(name, resp_dropped))
		return false;
	if (name_is(name, "upgrade"))
		return c->resp->status == 101;
	if (name_is(name, "content-length"))
		return resp_keeps_length(c);
	return true;
}

static bool resp_nameable(struct shoal_http_str name, const void *ctx)
{
	return !name_is(name, "upgrade") && !name_is(name, "content-length") &&
	       resp_keeps(name, ctx);
}

static void expect_response_fields(struct expected *e, const struct shoal_http_response *resp,
				   const struct shoal_http_forward_resp_opts *o, bool has_date)
{
	size_t from;

	e->n = e->used = 0;
	if (o->chunked) {
		add_cstr(e, "chunked");
		add_field(e, "Transfer-Encoding", 0);
	}
	from = e->used;
	if (resp->status == 101)
		add_cstr(e, "upgrade");
	else if (!o->keep_alive)
		add_cstr(e, "close");
	else if (o->client_version == SHOAL_HTTP_10)
		add_cstr(e, "keep-alive");
	if (e->used > from)
		add_field(e, "Connection", from);
	if (!has_date && o->date_len > 0) {
		from = e->used;
		add_text(e, o->date, o->date_len);
		add_field(e, "Date", from);
	}
}

static void check_same_response(const struct shoal_http_response *resp,
				const struct shoal_http_response *again,
				const struct shoal_http_forward_resp_opts *o)
{
	/* A chunked body to a client that cannot take chunks (HTTP/1.0) goes unframed, its end
	 * the connection's. */
	enum shoal_http_body body = o->chunked ? SHOAL_HTTP_BODY_CHUNKED
				    : resp->body == SHOAL_HTTP_BODY_CHUNKED ? SHOAL_HTTP_BODY_UNTIL_CLOSE
				    : resp->body;

	FUZZ_CHECK(again->version == SHOAL_HTTP_11 && again->status == resp->status);
	FUZZ_CHECK(same_bytes(again->reason, resp->reason));
	FUZZ_CHECK(again->body == body && again->content_length == resp->content_length);
	FUZZ_CHECK(again->upgrade == resp->upgrade);
	if (resp->status != 101)
		FUZZ_CHECK(again->keep_alive ==
			   (o->keep_alive && body != SHOAL_HTTP_BODY_UNTIL_CLOSE));
	static const char *const never[] = { "keep-alive", "te", "trailer", "proxy-connection",
					     "proxy-authenticate", "proxy-authentication-info",
					     NULL };
	static const char *const connection[] = { "upgrade", "close", "keep-alive", NULL };

	for (size_t i = 0; i < again->nheaders; i++) {
		struct shoal_http_str name = again->headers[i].name;
		struct shoal_http_str value = again->headers[i].value;

		FUZZ_CHECK(!is_one_of(name, never));
		FUZZ_CHECK(!name_is(name, "connection") || is_one_of(value, connection));
		FUZZ_CHECK(!name_is(name, "transfer-encoding") || o->chunked);
		FUZZ_CHECK(!name_is(name, "upgrade") || resp->status == 101);
	}
}

/* opts: 1 HTTP/1.0 client, 2 keep-alive, 4 a Date to add, 24 the request method. */
static void fuzz_response(const char *buf, size_t len, uint8_t opts, struct work *w)
{
	static const int methods[] = { SHOAL_HTTP_GET, SHOAL_HTTP_HEAD, SHOAL_HTTP_POST,
				       SHOAL_HTTP_CONNECT };
	int method = methods[(opts >> 3) & 3];
	int head = shoal_http_parse_response(buf, len, 0, method, &in_limits, &w->resp);
	struct shoal_http_forward_resp_opts o = {
		.client_version = opts & 1 ? SHOAL_HTTP_10 : SHOAL_HTTP_11,
		.date = DATE, .date_len = opts & 4 ? strlen(DATE) : 0,
	};
	struct resp_ctx ctx = { .resp = &w->resp, .o = &o };
	struct rules r = { .keeps = resp_keeps, .nameable = resp_nameable, .ctx = &ctx };
	bool has_date = false, rechunk;
	size_t n;

	if (head <= 0)
		return;
	/* What the proxy does: re-chunk for HTTP/1.1 clients, close after for HTTP/1.0 ones. */
	rechunk = w->resp.body == SHOAL_HTTP_BODY_CHUNKED ||
		  w->resp.body == SHOAL_HTTP_BODY_UNTIL_CLOSE;
	o.chunked = rechunk && o.client_version == SHOAL_HTTP_11;
	o.keep_alive = (opts & 2) && !(rechunk && o.client_version == SHOAL_HTTP_10);
	WRITE_CHECKED(shoal_http_forward_response, &w->resp, &o, w, n);
	if (count_named(w->resp.headers, w->resp.nheaders, &r) > SHOAL_HTTP_FORWARD_NAMED_MAX) {
		FUZZ_CHECK(n == 0);
		return;
	}
	FUZZ_CHECK(n > 0 && n <= (size_t)head + w->resp.nheaders + o.date_len + 64);
	FUZZ_CHECK(shoal_http_parse_response(w->out, n, 0, method, &out_limits, &w->resp_again) ==
		   (int)n);
	check_same_response(&w->resp, &w->resp_again, &o);
	for (size_t i = 0; i < w->resp.nheaders; i++)
		has_date |= name_is(w->resp.headers[i].name, "date") &&
			    kept(w->resp.headers, w->resp.nheaders, i, &r);
	expect_response_fields(&w->e, &w->resp, &o, has_date);
	check_fields(w->resp_again.headers, w->resp_again.nheaders, 0, w->resp.headers,
		     w->resp.nheaders, &r, &w->e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct work *w;
	char *buf;

	if (size == 0)
		return 0;
	/* A copy of exactly the head bytes, so that AddressSanitizer sees any read past the end. */
	buf = malloc(size - 1 ? size - 1 : 1);
	w = malloc(sizeof(*w));
	memcpy(buf, data + 1, size - 1);
	if (data[0] & 0x80)
		fuzz_response(buf, size - 1, data[0], w);
	else
		fuzz_request(buf, size - 1, data[0], w);
	free(w);
	free(buf);
	return 0;
}
