#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/http/forward.h"
#include "shoal/http/real_ip.h"

#include "check_run.h"
#include "kept.h"

static const struct shoal_http_limits limits = {
	.max_request_line = 8192,
	.max_head = 16384,
	.max_headers = 100,
};

static struct shoal_http_request req;
static struct shoal_http_response resp;

#define ADDR "192.0.2.7"
#define STR(s) ((struct shoal_http_str){ .p = (s), .len = sizeof(s) - 1 })

static const struct shoal_http_forward_opts plain = { .client_addr = ADDR };
static const struct shoal_http_forward_opts xfwd = { .client_addr = ADDR, .x_forwarded = true };

/* An exactly sized copy that lives until the test ends, as the parse points into it. */
static char *kept_copy(const char *text)
{
	size_t len = strlen(text);
	char *copy = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, text, len);
	keep(copy);
	return copy;
}

static void parse_req(const char *text)
{
	ck_assert_int_eq(shoal_http_parse_request(kept_copy(text), strlen(text), 0, &limits, &req),
			 (int)strlen(text));
}

static void parse_resp(const char *text, int method)
{
	ck_assert_int_eq(shoal_http_parse_response(kept_copy(text), strlen(text), 0, method,
						   &limits, &resp),
			 (int)strlen(text));
}

/* out must hold expected exactly; any smaller cap must give 0 and write nothing past it. */
static void assert_written(const char *out, size_t n, const char *expected)
{
	ck_assert_msg(n == strlen(expected) && memcmp(out, expected, n) == 0,
		      "wrote %zu bytes:\n%.*s\nexpected %zu:\n%s", n, (int)n, out,
		      strlen(expected), expected);
}

static void assert_forward(const char *in, const struct shoal_http_forward_opts *o,
			   const char *expected)
{
	char out[4096];
	size_t n;

	parse_req(in);
	n = shoal_http_forward_request(&req, o, out, sizeof(out));
	assert_written(out, n, expected);
	for (size_t cap = 0; cap < n; cap++) {
		memset(out, '#', sizeof(out));
		ck_assert_uint_eq(shoal_http_forward_request(&req, o, out, cap), 0);
		ck_assert_int_eq(out[cap], '#');
	}
	ck_assert_uint_eq(shoal_http_forward_request(&req, o, out, n), n);
}

static void assert_forward_resp(const char *in, int method,
				const struct shoal_http_forward_resp_opts *o, const char *expected)
{
	char out[4096];
	size_t n;

	parse_resp(in, method);
	n = shoal_http_forward_response(&resp, o, out, sizeof(out));
	assert_written(out, n, expected);
	for (size_t cap = 0; cap < n; cap++) {
		memset(out, '#', sizeof(out));
		ck_assert_uint_eq(shoal_http_forward_response(&resp, o, out, cap), 0);
		ck_assert_int_eq(out[cap], '#');
	}
	ck_assert_uint_eq(shoal_http_forward_response(&resp, o, out, n), n);
}

START_TEST(request_line_and_fields)
{
	assert_forward("GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n", &plain,
		       "GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
	/* Host goes first; the fields keep their order, names and values, but not their OWS. */
	assert_forward("\r\nPOST /x HTTP/1.0\r\nX-B:2  \r\naccept:\t*/*\r\nHost: h:81\r\n"
		       "X-A: 1\r\n\r\n",
		       &plain,
		       "POST /x HTTP/1.1\r\nHost: h:81\r\nX-B: 2\r\naccept: */*\r\nX-A: 1\r\n\r\n");
	assert_forward("PURGE /? HTTP/1.1\r\nHost: h\r\nEmpty:\r\n\r\n", &plain,
		       "PURGE /? HTTP/1.1\r\nHost: h\r\nEmpty: \r\n\r\n");
	assert_forward("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &plain,
		       "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
}
END_TEST

/* RFC 9112 3.2.1, 3.2.2: origin-form towards the origin, the target's authority as Host. */
START_TEST(request_absolute_form)
{
	assert_forward("GET http://a.example:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n", &plain,
		       "GET /p?q HTTP/1.1\r\nHost: a.example:8080\r\n\r\n");
	assert_forward("GET HTTP://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n", &plain,
		       "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n");
	assert_forward("GET http://a.example?x=1 HTTP/1.0\r\n\r\n", &plain,
		       "GET /?x=1 HTTP/1.1\r\nHost: a.example\r\n\r\n");
	assert_forward("GET https://[::1]:8443/ HTTP/1.1\r\nHost: x\r\n\r\n", &xfwd,
		       "GET / HTTP/1.1\r\nHost: [::1]:8443\r\nX-Forwarded-For: " ADDR "\r\n"
		       "X-Forwarded-Proto: http\r\nX-Forwarded-Host: [::1]:8443\r\n\r\n");
}
END_TEST

START_TEST(request_host_choice)
{
	struct shoal_http_forward_opts o = xfwd;

	o.host = STR("app.internal:9001");
	assert_forward("GET / HTTP/1.1\r\nHost: www.example\r\n\r\n", &o,
		       "GET / HTTP/1.1\r\nHost: app.internal:9001\r\nX-Forwarded-For: " ADDR "\r\n"
		       "X-Forwarded-Proto: http\r\nX-Forwarded-Host: www.example\r\n\r\n");
	o.default_host = STR("127.0.0.1:9001");
	assert_forward("GET / HTTP/1.0\r\n\r\n", &o,
		       "GET / HTTP/1.1\r\nHost: app.internal:9001\r\nX-Forwarded-For: " ADDR "\r\n"
		       "X-Forwarded-Proto: http\r\n\r\n");
	/* No Host from the client: the default, else the empty Host of RFC 9112 3.2. */
	o.host = STR("");
	assert_forward("GET / HTTP/1.1\r\nHost: www.example\r\n\r\n", &o,
		       "GET / HTTP/1.1\r\nHost: www.example\r\nX-Forwarded-For: " ADDR "\r\n"
		       "X-Forwarded-Proto: http\r\nX-Forwarded-Host: www.example\r\n\r\n");
	assert_forward("GET / HTTP/1.0\r\n\r\n", &o,
		       "GET / HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nX-Forwarded-For: " ADDR "\r\n"
		       "X-Forwarded-Proto: http\r\n\r\n");
	assert_forward("GET / HTTP/1.0\r\n\r\n", &plain, "GET / HTTP/1.1\r\nHost: \r\n\r\n");
}
END_TEST

START_TEST(request_hop_by_hop_removed)
{
	assert_forward("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nKeep-Alive: 300\r\n"
		       "TE: trailers\r\nTrailer: X-Sum\r\nUpgrade: websocket\r\n"
		       "Proxy-Connection: keep-alive\r\nX-Kept: 1\r\n\r\n",
		       &plain, "GET / HTTP/1.1\r\nHost: h\r\nX-Kept: 1\r\n\r\n");
	/* The named fields go, before or after the Connection field, in any case and in any
	 * number of Connection fields. */
	assert_forward("GET / HTTP/1.1\r\nx-hop-a: 1\r\nHost: h\r\n"
		       "CONNECTION: X-HOP-A ,, x-hop-b\r\nX-Kept: 1\r\nX-Hop-B: 2\r\n"
		       "connection: close, Cookie\r\ncookie: c=1\r\n"
		       "X-Hop-A: 3\r\n\r\n",
		       &plain, "GET / HTTP/1.1\r\nHost: h\r\nX-Kept: 1\r\n\r\n");
	/* Naming Host does not remove it: the upstream needs one. */
	assert_forward("GET / HTTP/1.1\r\nHost: h\r\nConnection: host\r\n\r\n", &plain,
		       "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
}
END_TEST

START_TEST(request_proxy_fields_removed)
{
	assert_forward("GET / HTTP/1.1\r\nHost: h\r\nProxy-Authorization: Basic eDp5\r\n"
		       "Proxy: http://evil.example\r\nPROXY-FOO: y\r\nProxyish: kept\r\n\r\n",
		       &plain, "GET / HTTP/1.1\r\nHost: h\r\nProxyish: kept\r\n\r\n");
}
END_TEST

START_TEST(request_underscore_names_removed)
{
	assert_forward("GET / HTTP/1.1\r\nHost: h\r\nX_Real_IP: 10.0.0.1\r\nX-Real-IP: 10.0.0.2\r\n"
		       "_: x\r\nContent_Length: 5\r\n\r\n",
		       &plain, "GET / HTTP/1.1\r\nHost: h\r\nX-Real-IP: 10.0.0.2\r\n\r\n");
}
END_TEST

/* The framing comes from the parse, never from the client's bytes. */
START_TEST(request_framing)
{
	assert_forward("POST / HTTP/1.1\r\ncontent-length: 0005\r\nHost: h\r\nX: y\r\n\r\n", &plain,
		       "POST / HTTP/1.1\r\nHost: h\r\nX: y\r\nContent-Length: 5\r\n\r\n");
	assert_forward("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n",
		       &plain,
		       "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n");
	assert_forward("POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: CHUNKED\r\nX: y\r\n\r\n",
		       &plain,
		       "POST / HTTP/1.1\r\nHost: h\r\nX: y\r\nTransfer-Encoding: chunked\r\n\r\n");
	assert_forward("POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n", &plain,
		       "POST / HTTP/1.1\r\nHost: \r\nContent-Length: 0\r\n\r\n");
	assert_forward("POST / HTTP/1.1\r\nHost: h\r\n\r\n", &plain,
		       "POST / HTTP/1.1\r\nHost: h\r\n\r\n");
}
END_TEST

/* RFC 9110 10.1.1: kept end to end, even when Connection names it, but not from an HTTP/1.0
 * client, which must get no 100. */
START_TEST(request_expect)
{
	static const char expect11[] = "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
				       "Content-Length: 3\r\n\r\n";

	assert_forward(expect11, &plain, expect11);
	assert_forward("PUT / HTTP/1.1\r\nHost: h\r\nConnection: expect\r\n"
		       "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n",
		       &plain, expect11);
	assert_forward("PUT / HTTP/1.0\r\nHost: h\r\nExpect: 100-continue\r\n"
		       "Content-Length: 3\r\n\r\n",
		       &plain, "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n");
}
END_TEST

START_TEST(request_upgrade)
{
	static const char ws[] = "GET /chat HTTP/1.1\r\nHost: h\r\n"
				 "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
				 "Sec-WebSocket-Version: 13\r\n\r\n";
	struct shoal_http_forward_opts o = plain;

	o.upgrade = true;
	assert_forward(ws, &o,
		       "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
		       "Sec-WebSocket-Version: 13\r\nConnection: upgrade\r\n\r\n");
	ck_assert(shoal_http_forward_wants_upgrade(&req));
	assert_forward(ws, &plain,
		       "GET /chat HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Version: 13\r\n\r\n");
}
END_TEST

START_TEST(request_wants_upgrade)
{
	static const struct {
		const char *head;
		bool wants;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
		  true },
		{ "GET / HTTP/1.1\r\nUpgrade: h2c\r\nHost: h\r\nConnection: close\r\n"
		  "Connection: UPGRADE\r\n\r\n",
		  true },
		{ "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade:\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrades\r\nUpgrade: x\r\n\r\n",
		  false },
		{ "GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_req(cases[i].head);
		ck_assert_msg(shoal_http_forward_wants_upgrade(&req) == cases[i].wants, "case %zu",
			      i);
	}
}
END_TEST

START_TEST(request_x_forwarded)
{
	struct shoal_http_forward_opts o = xfwd;

	assert_forward("GET / HTTP/1.1\r\nHost: h\r\n\r\n", &xfwd,
		       "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: " ADDR "\r\n"
		       "X-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n\r\n");
	/* Every X-Forwarded-For of the client, in order, then the client; the others replaced. */
	o.https = true;
	assert_forward("GET / HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\nHost: h\r\n"
		       "X-Forwarded-Proto: http\r\nx-forwarded-for:\r\nX-Forwarded-Host: evil\r\n"
		       "X-A: 1\r\nX-FORWARDED-FOR: 10.0.0.3\r\n\r\n",
		       &o,
		       "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n"
		       "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, " ADDR "\r\n"
		       "X-Forwarded-Proto: https\r\nX-Forwarded-Host: h\r\n\r\n");
	/* Named by Connection, the client's values go; ours stay. */
	assert_forward("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\n"
		       "Connection: X-Forwarded-For\r\n\r\n",
		       &o,
		       "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: " ADDR "\r\n"
		       "X-Forwarded-Proto: https\r\nX-Forwarded-Host: h\r\n\r\n");
	/* Off, the client's fields are other fields. */
	assert_forward("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\n"
		       "X-Forwarded-Proto: https\r\nX-Forwarded-Host: e\r\n\r\n",
		       &plain,
		       "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\n"
		       "X-Forwarded-Proto: https\r\nX-Forwarded-Host: e\r\n\r\n");
}
END_TEST

/* RFC 7239: one element appended; IPv6 in brackets and quotes (section 6). */
START_TEST(request_forwarded)
{
	struct shoal_http_forward_opts o = { .client_addr = ADDR, .forwarded = true };

	assert_forward("GET / HTTP/1.1\r\nHost: h.example:8080\r\n\r\n", &o,
		       "GET / HTTP/1.1\r\nHost: h.example:8080\r\n"
		       "Forwarded: for=" ADDR ";proto=http;host=\"h.example:8080\"\r\n\r\n");
	o.client_addr = "2001:db8::1";
	o.https = true;
	assert_forward("GET / HTTP/1.1\r\nForwarded: for=10.0.0.1\r\nHost: h\r\n"
		       "Forwarded: for=\"[::2]\";by=x, for=unknown\r\n\r\n",
		       &o,
		       "GET / HTTP/1.1\r\nHost: h\r\nForwarded: for=10.0.0.1, for=\"[::2]\";by=x, "
		       "for=unknown, for=\"[2001:db8::1]\";proto=https;host=\"h\"\r\n\r\n");
	o.client_addr = "[::1]";
	o.x_forwarded = true;
	assert_forward("GET / HTTP/1.0\r\n\r\n", &o,
		       "GET / HTTP/1.1\r\nHost: \r\nX-Forwarded-For: [::1]\r\n"
		       "X-Forwarded-Proto: https\r\nForwarded: for=\"[::1]\";proto=https\r\n\r\n");
	o.client_addr = "unknown";
	assert_forward("GET / HTTP/1.1\r\nHost: h\r\nConnection: forwarded\r\n"
		       "Forwarded: for=a\r\n\r\n",
		       &o,
		       "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: unknown\r\n"
		       "X-Forwarded-Proto: https\r\nX-Forwarded-Host: h\r\n"
		       "Forwarded: for=unknown;proto=https;host=\"h\"\r\n\r\n");
}
END_TEST

/* The proxies of the real address tests: 10.0.0.0/8. */
static bool in_ten(void *arg, int family, const uint8_t *addr)
{
	(void)arg;
	return family == AF_INET && addr[0] == 10;
}

/* Forwards in with o, its cut found by walking header over in, as the proxy does when
 * real_ip_from trusts the peer; client is the address the walk must find, as text. */
static void assert_forward_real(const char *in, enum shoal_http_real_ip_header header,
				struct shoal_http_forward_opts o, const char *client,
				const char *expected)
{
	struct shoal_http_real_ip found;
	char text[INET6_ADDRSTRLEN];

	parse_req(in);
	ck_assert(shoal_http_real_ip_find(&req, header, in_ten, NULL, &found));
	ck_assert_ptr_nonnull(inet_ntop(found.family, found.addr, text, sizeof(text)));
	ck_assert_str_eq(text, client);
	o.client_addr = client;
	o.xff_cut = &found;
	assert_forward(in, &o, expected);
}

/* A client found in X-Forwarded-For ends the list sent on: the trusted hops after it go. */
START_TEST(request_x_forwarded_cut)
{
	assert_forward_real("GET / HTTP/1.1\r\nHost: h\r\n"
			    "X-Forwarded-For: 203.0.113.9, 192.0.2.1, 10.0.0.2\r\n"
			    "X-Forwarded-For: 10.0.0.1\r\n\r\n",
			    SHOAL_HTTP_REAL_IP_X_FORWARDED_FOR, xfwd, "192.0.2.1",
			    "GET / HTTP/1.1\r\nHost: h\r\n"
			    "X-Forwarded-For: 203.0.113.9, 192.0.2.1\r\n"
			    "X-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n\r\n");
	/* The client first in its field: the fields before it stay whole. */
	assert_forward_real("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.9,,\r\n"
			    "X-Forwarded-For: 192.0.2.1 , 10.0.0.1\r\n\r\n",
			    SHOAL_HTTP_REAL_IP_X_FORWARDED_FOR, xfwd, "192.0.2.1",
			    "GET / HTTP/1.1\r\nHost: h\r\n"
			    "X-Forwarded-For: 203.0.113.9,,, 192.0.2.1\r\n"
			    "X-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n\r\n");
	/* The client's element is spelt as an address alone, port and brackets gone. */
	assert_forward_real("GET / HTTP/1.1\r\nHost: h\r\n"
			    "X-Forwarded-For: [2001:db8::1]:4711,10.0.0.1:80\r\n\r\n",
			    SHOAL_HTTP_REAL_IP_X_FORWARDED_FOR, xfwd, "2001:db8::1",
			    "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 2001:db8::1\r\n"
			    "X-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n\r\n");
	/* Every hop trusted: the leftmost is the client and the only entry left. */
	assert_forward_real("GET / HTTP/1.1\r\nHost: h\r\n"
			    "X-Forwarded-For: 10.0.0.3, 10.0.0.2\r\n\r\n",
			    SHOAL_HTTP_REAL_IP_X_FORWARDED_FOR, xfwd, "10.0.0.3",
			    "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.3\r\n"
			    "X-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n\r\n");
}
END_TEST

/* A client found in Forwarded cuts nothing: it is appended to X-Forwarded-For as any client
 * is, and it is the for= of the Forwarded element added. */
START_TEST(request_forwarded_client)
{
	struct shoal_http_forward_opts o = { .x_forwarded = true, .forwarded = true };

	assert_forward_real("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.9\r\n"
			    "Forwarded: for=192.0.2.1, for=10.0.0.1\r\n\r\n",
			    SHOAL_HTTP_REAL_IP_FORWARDED, o, "192.0.2.1",
			    "GET / HTTP/1.1\r\nHost: h\r\n"
			    "X-Forwarded-For: 10.0.0.9, 192.0.2.1\r\n"
			    "X-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n"
			    "Forwarded: for=192.0.2.1, for=10.0.0.1, "
			    "for=192.0.2.1;proto=http;host=\"h\"\r\n\r\n");
}
END_TEST

/* "Connection: " and n names X-N0, X-N1... then the fields themselves. */
static char *naming_request(const char *start_line, size_t n, const char *extra)
{
	char *text = malloc(4096);
	size_t w = 0;

	ck_assert_ptr_nonnull(text);
	w += (size_t)sprintf(text + w, "%s\r\nHost: h\r\n", start_line);
	w += (size_t)sprintf(text + w, "Connection: close, keep-alive, upgrade, %s", extra);
	for (size_t i = 0; i < n; i++)
		w += (size_t)sprintf(text + w, ", X-N%zu, x-n%zu", i, i);
	w += (size_t)sprintf(text + w, "\r\n");
	for (size_t i = 0; i < n; i++)
		w += (size_t)sprintf(text + w, "X-N%zu: v\r\n", i);
	sprintf(text + w, "X-Other: o\r\n\r\n");
	keep(text);
	return text;
}

/* Up to SHOAL_HTTP_FORWARD_NAMED_MAX names (repeats, close, and names removed anyway do not
 * count) are honoured; one more and the head is refused. */
START_TEST(connection_name_limit)
{
	const struct shoal_http_forward_resp_opts keep = { .keep_alive = true };
	char out[4096];
	size_t n;

	parse_req(naming_request("GET / HTTP/1.1", SHOAL_HTTP_FORWARD_NAMED_MAX,
				 "te, trailer, host, content-length"));
	n = shoal_http_forward_request(&req, &plain, out, sizeof(out));
	assert_written(out, n, "GET / HTTP/1.1\r\nHost: h\r\nX-Other: o\r\n\r\n");
	parse_req(naming_request("GET / HTTP/1.1", SHOAL_HTTP_FORWARD_NAMED_MAX, "x-extra"));
	ck_assert_uint_eq(shoal_http_forward_request(&req, &plain, out, sizeof(out)), 0);
	parse_resp(naming_request("HTTP/1.1 200 OK", SHOAL_HTTP_FORWARD_NAMED_MAX, "date"),
		   SHOAL_HTTP_GET);
	ck_assert_uint_eq(shoal_http_forward_response(&resp, &keep, out, sizeof(out)), 0);
	parse_resp(naming_request("HTTP/1.1 200 OK", SHOAL_HTTP_FORWARD_NAMED_MAX, "upgrade"),
		   SHOAL_HTTP_GET);
	n = shoal_http_forward_response(&resp, &keep, out, sizeof(out));
	assert_written(out, n, "HTTP/1.1 200 OK\r\nHost: h\r\nX-Other: o\r\n\r\n");
}
END_TEST

#define DATE "Sun, 06 Nov 1994 08:49:37 GMT"

static const struct shoal_http_forward_resp_opts keep11 = {
	.client_version = SHOAL_HTTP_11, .keep_alive = true, .date = DATE, .date_len = 29,
};

START_TEST(response_status_line)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: X\r\n\r\n";

	assert_forward_resp(ok, SHOAL_HTTP_GET, &keep11, ok);
	assert_forward_resp("HTTP/1.0 404 \r\nDate: X\r\nX-A:1 \r\nContent-Length: 0\r\n\r\n",
			    SHOAL_HTTP_GET, &keep11,
			    "HTTP/1.1 404 \r\nDate: X\r\nX-A: 1\r\nContent-Length: 0\r\n\r\n");
	assert_forward_resp("HTTP/1.1 599 Very Odd Reason\r\nDate: X\r\nContent-Length: 0\r\n\r\n",
			    SHOAL_HTTP_GET, &keep11,
			    "HTTP/1.1 599 Very Odd Reason\r\nDate: X\r\nContent-Length: 0\r\n\r\n");
}
END_TEST

START_TEST(response_hop_by_hop_removed)
{
	assert_forward_resp("HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\n"
			    "Keep-Alive: timeout=5\r\nX-Hop: 1\r\nProxy-Connection: keep-alive\r\n"
			    "Trailer: X-Sum\r\nTE: x\r\nUpgrade: h2c\r\n"
			    "Proxy-Authenticate: Basic\r\n"
			    "Proxy-Authentication-Info: x\r\nProxy-Status: up; error=none\r\n"
			    "Date: X\r\nX_Under: kept\r\nContent-Length: 1\r\n\r\n",
			    SHOAL_HTTP_GET, &keep11,
			    "HTTP/1.1 200 OK\r\nProxy-Status: up; error=none\r\nDate: X\r\n"
			    "X_Under: kept\r\nContent-Length: 1\r\n\r\n");
}
END_TEST

START_TEST(response_framing)
{
	struct shoal_http_forward_resp_opts o = keep11;

	o.chunked = true;
	/* Chunked from the upstream, re-chunked by the proxy. */
	assert_forward_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: X\r\n\r\n",
			    SHOAL_HTTP_GET, &o,
			    "HTTP/1.1 200 OK\r\nDate: X\r\nTransfer-Encoding: chunked\r\n\r\n");
	/* Until close from the upstream: re-chunked, so that the client connection stays. */
	assert_forward_resp("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n", SHOAL_HTTP_GET,
			    &o,
			    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			    "Transfer-Encoding: chunked\r\nDate: " DATE "\r\n\r\n");
	/* Never a length beside chunked. */
	assert_forward_resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: X\r\n\r\n",
			    SHOAL_HTTP_GET, &o,
			    "HTTP/1.1 200 OK\r\nDate: X\r\nTransfer-Encoding: chunked\r\n\r\n");
	o.chunked = false;
	o.keep_alive = false;
	assert_forward_resp("HTTP/1.0 200 OK\r\nDate: X\r\n\r\n", SHOAL_HTTP_GET, &o,
			    "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: close\r\n\r\n");
}
END_TEST

/* The length frames the body, or describes the representation where no body can follow. */
START_TEST(response_content_length)
{
	static const struct {
		int status, method;
		bool kept;
	} cases[] = {
		{ 200, SHOAL_HTTP_GET, true },	 { 200, SHOAL_HTTP_HEAD, true },
		{ 304, SHOAL_HTTP_GET, true },	 { 404, SHOAL_HTTP_HEAD, true },
		{ 204, SHOAL_HTTP_GET, false },	 { 103, SHOAL_HTTP_GET, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[128], expected[128];

		snprintf(text, sizeof(text), "HTTP/1.1 %d X\r\nContent-Length: 42\r\nDate: X\r\n\r\n",
			 cases[i].status);
		snprintf(expected, sizeof(expected), "HTTP/1.1 %d X\r\n%sDate: X\r\n\r\n",
			 cases[i].status, cases[i].kept ? "Content-Length: 42\r\n" : "");
		assert_forward_resp(text, cases[i].method, &keep11, expected);
	}
	/* Framing, it stays even when Connection names it. */
	assert_forward_resp("HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 1\r\n"
			    "Date: X\r\n\r\n",
			    SHOAL_HTTP_GET, &keep11,
			    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: X\r\n\r\n");
}
END_TEST

START_TEST(response_connection)
{
	struct shoal_http_forward_resp_opts o = { .client_version = SHOAL_HTTP_10,
						  .keep_alive = true };
	static const char in[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n"
				 "Content-Length: 0\r\n\r\n";

	assert_forward_resp(in, SHOAL_HTTP_GET, &o,
			    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
			    "Connection: keep-alive\r\n\r\n");
	o.keep_alive = false;
	assert_forward_resp(in, SHOAL_HTTP_GET, &o,
			    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	o.client_version = SHOAL_HTTP_11;
	o.keep_alive = true;
	assert_forward_resp(in, SHOAL_HTTP_GET, &o, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}
END_TEST

START_TEST(response_switching_protocols)
{
	struct shoal_http_forward_resp_opts o = keep11;

	o.keep_alive = false;
	assert_forward_resp("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
			    "Upgrade: websocket\r\nSec-WebSocket-Accept: abc=\r\n\r\n",
			    SHOAL_HTTP_GET, &o,
			    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			    "Sec-WebSocket-Accept: abc=\r\nConnection: upgrade\r\nDate: " DATE
			    "\r\n\r\n");
}
END_TEST

START_TEST(response_interim)
{
	struct shoal_http_forward_resp_opts o = { .client_version = SHOAL_HTTP_11,
						  .keep_alive = true };

	assert_forward_resp("HTTP/1.1 100 Continue\r\n\r\n", SHOAL_HTTP_PUT, &o,
			    "HTTP/1.1 100 Continue\r\n\r\n");
	assert_forward_resp("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n",
			    SHOAL_HTTP_GET, &o,
			    "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n");
}
END_TEST

/* RFC 9110 6.6.1: a proxy with a clock adds the Date the upstream did not send. */
START_TEST(response_date)
{
	static const char dated[] = "HTTP/1.1 204 No Content\r\n"
				    "date: Mon, 07 Nov 1994 08:49:37 GMT\r\n\r\n";

	assert_forward_resp("HTTP/1.1 204 No Content\r\n\r\n", SHOAL_HTTP_GET, &keep11,
			    "HTTP/1.1 204 No Content\r\nDate: " DATE "\r\n\r\n");
	assert_forward_resp(dated, SHOAL_HTTP_GET, &keep11, dated);
	assert_forward_resp("HTTP/1.1 204 No Content\r\nConnection: Date\r\nDate: old\r\n\r\n",
			    SHOAL_HTTP_GET, &keep11,
			    "HTTP/1.1 204 No Content\r\nDate: " DATE "\r\n\r\n");
	assert_forward_resp("HTTP/1.1 204 No Content\r\n\r\n", SHOAL_HTTP_GET,
			    &(struct shoal_http_forward_resp_opts){ .client_version = SHOAL_HTTP_11,
								    .keep_alive = true },
			    "HTTP/1.1 204 No Content\r\n\r\n");
}
END_TEST

static Suite *http_forward_suite(void)
{
	Suite *s = suite_create("http_forward");
	TCase *request = tcase_create("request");
	TCase *response = tcase_create("response");

	tcase_add_checked_fixture(request, NULL, free_kept);
	tcase_add_checked_fixture(response, NULL, free_kept);
	tcase_add_test(request, request_line_and_fields);
	tcase_add_test(request, request_absolute_form);
	tcase_add_test(request, request_host_choice);
	tcase_add_test(request, request_hop_by_hop_removed);
	tcase_add_test(request, request_proxy_fields_removed);
	tcase_add_test(request, request_underscore_names_removed);
	tcase_add_test(request, request_framing);
	tcase_add_test(request, request_expect);
	tcase_add_test(request, request_upgrade);
	tcase_add_test(request, request_wants_upgrade);
	tcase_add_test(request, request_x_forwarded);
	tcase_add_test(request, request_forwarded);
	tcase_add_test(request, request_x_forwarded_cut);
	tcase_add_test(request, request_forwarded_client);
	tcase_add_test(request, connection_name_limit);
	tcase_add_test(response, response_status_line);
	tcase_add_test(response, response_hop_by_hop_removed);
	tcase_add_test(response, response_framing);
	tcase_add_test(response, response_content_length);
	tcase_add_test(response, response_connection);
	tcase_add_test(response, response_switching_protocols);
	tcase_add_test(response, response_interim);
	tcase_add_test(response, response_date);
	suite_add_tcase(s, request);
	suite_add_tcase(s, response);
	return s;
}

int main(void)
{
	return shoal_check_run(http_forward_suite());
}
