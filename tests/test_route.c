#include <arpa/inet.h>
#include <check.h>
#include <signal.h>
#include <string.h>

#include "shoal/base/util.h"
#include "shoal/route/route.h"

#include "check_run.h"
#include "handler_fixture.h"

/* Three sites share 127.0.0.1:8080, the third its default; a fourth is alone on :9090. The
 * second believes Forwarded from the machine itself, the fourth X-Forwarded-For from it and
 * from 10.0.0.0/8. */
static const char conf[] =
	"health_path = \"/healthz\";\n"
	"status_path = \"/status\";\n"
	"max_body_size = 100;\n"
	"servers = (\n"
	"  { listen = [\"127.0.0.1:8080\"]; root = \"a\";\n"
	"    server_names = [\"a.test\", \"www.a.test\"]; },\n"
	"  { listen = [\"127.0.0.1:8080\"]; root = \"b\"; server_names = [\"*.b.test\"];\n"
	"    real_ip_from = [\"127.0.0.1\"]; real_ip_header = \"Forwarded\"; },\n"
	"  { listen = [\"127.0.0.1:8080\"]; root = \"c\"; server_names = [\"c.test\"];\n"
	"    default_server = true; error_pages = [\"403 413 /oops.html\"]; },\n"
	"  { listen = [\"127.0.0.1:9090\"]; root = \"d\"; server_names = [\"a.test\"];\n"
	"    real_ip_from = [\"127.0.0.1\", \"10.0.0.0/8\"]; }\n"
	");\n";

/* The sites' roots, in the order of the configuration; each one's index.html names it. */
static const char *const roots[] = { "a", "b", "c", "d" };

static struct fixture fx;
static struct fixture_exchange x;
static struct shoal_acl_entry *acl; /* status_allow is not set: the machine itself */
static size_t nacl;
static struct shoal_route shared, alone; /* the routes of :8080 and :9090 */

static void setup(void)
{
	struct shoal_err err;
	char rel[64];

	fixture_init(&fx);
	for (size_t i = 0; i < ARRAY_LEN(roots); i++) {
		fixture_mkdir(&fx, roots[i]);
		snprintf(rel, sizeof(rel), "%s/index.html", roots[i]);
		fixture_write(&fx, rel, roots[i]);
	}
	fixture_write(&fx, "c/oops.html", "c says no");
	fixture_load(&fx, conf);
	ck_assert_int_eq(shoal_route_status_acl(&fx.cfg, &acl, &nacl, &err), 0);
	ck_assert_int_eq(shoal_route_init(&shared, fx.sites, fx.nsites,
					  &fx.cfg.servers[0].listen[0], acl, nacl), 0);
	ck_assert_int_eq(shoal_route_init(&alone, fx.sites, fx.nsites,
					  &fx.cfg.servers[3].listen[0], acl, nacl), 0);
}

static void teardown(void)
{
	shoal_route_free(&shared);
	shoal_route_free(&alone);
	free(acl);
	fixture_free(&fx);
}

/* Routes request from peer on rt; returns what the router returned. */
static bool route_from(const struct shoal_route *rt, const char *peer, const char *request)
{
	bool keep_alive;

	fixture_start(&x, &fx, NULL, request);
	fixture_peer(&x, peer);
	keep_alive = shoal_route_answer(rt, &x.req);
	fixture_finish(&x);
	return keep_alive;
}

static bool route(const char *request)
{
	return route_from(&shared, "127.0.0.1", request);
}

/* Asserts that a GET of / with host (NULL: none, HTTP/1.0) on rt is served by site i. */
static void assert_site(const struct shoal_route *rt, const char *host, size_t i)
{
	char request[128];

	if (host)
		snprintf(request, sizeof(request), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host);
	else
		snprintf(request, sizeof(request), "GET / HTTP/1.0\r\n\r\n");
	route_from(rt, "127.0.0.1", request);
	ck_assert_msg(x.req.site == &fx.sites[i], "host %s: site %td, expected %zu",
		      host ? host : "(none)", x.req.site ? x.req.site - fx.sites : -1, i);
	ck_assert_int_eq(x.resp.status, 200);
	ck_assert(fixture_body_is(&x.resp, roots[i]));
}

START_TEST(sites_of_one_address)
{
	ck_assert_uint_eq(shared.nsites, 3);
	ck_assert_ptr_eq(shoal_route_default_site(&shared), &fx.sites[2]);
	ck_assert_uint_eq(alone.nsites, 1);
	ck_assert_ptr_eq(shoal_route_default_site(&alone), &fx.sites[3]);
}
END_TEST

START_TEST(host_picks_the_site)
{
	assert_site(&shared, "a.test", 0);
	assert_site(&shared, "WWW.A.test:8080", 0);
	assert_site(&shared, "x.b.test", 1);
	assert_site(&shared, "x.y.b.test.", 1);
	assert_site(&shared, "c.test", 2);
	assert_site(&shared, "b.test", 2); /* the wildcard needs a label before it */
	assert_site(&shared, "unknown.test", 2);
	assert_site(&alone, "a.test", 3); /* a name elsewhere does not count */
	assert_site(&alone, "unknown.test", 3);
}
END_TEST

/* HTTP/1.0 allows a request without Host: the address's default site answers it. */
START_TEST(request_without_host_goes_to_the_default)
{
	assert_site(&shared, NULL, 2);
}
END_TEST

START_TEST(body_over_the_limit_is_refused)
{
	ck_assert(!route("POST / HTTP/1.1\r\nHost: c.test\r\nContent-Length: 101\r\n\r\n"));
	ck_assert_int_eq(x.resp.status, 413);
	ck_assert(x.req.body_refused);
	ck_assert(fixture_has(&x.resp, "Connection", "close"));
	ck_assert(fixture_body_is(&x.resp, "c says no")); /* the site's own page */

	/* At the limit the body is the connection's to read past; the method is what fails. */
	ck_assert(route("POST / HTTP/1.1\r\nHost: c.test\r\nContent-Length: 100\r\n\r\n"));
	ck_assert_int_eq(x.resp.status, 405);
	ck_assert(!x.req.body_refused);
}
END_TEST

START_TEST(health_path_is_routed)
{
	ck_assert(route("GET /healthz HTTP/1.1\r\nHost: a.test\r\n\r\n"));
	ck_assert_int_eq(x.resp.status, 200);
	ck_assert(fixture_body_is(&x.resp, "ok\n"));
	/* Only GET and HEAD reach the endpoint; the rest are the site's. */
	route("POST /healthz HTTP/1.1\r\nHost: a.test\r\n\r\n");
	ck_assert_int_eq(x.resp.status, 405);
	route("GET /healthz/ HTTP/1.1\r\nHost: a.test\r\n\r\n");
	ck_assert_int_eq(x.resp.status, 404);
}
END_TEST

START_TEST(status_path_is_for_the_acl_only)
{
	ck_assert(route_from(&shared, "192.0.2.7", "GET /status HTTP/1.1\r\nHost: c.test\r\n\r\n"));
	ck_assert_int_eq(x.resp.status, 403);
	/* Not the site's 403 page: the endpoint is the server's, not the site's. */
	ck_assert(fixture_body_has(&x.resp, "403 Forbidden"));
	route_from(&shared, "2001:db8::1", "GET /status HTTP/1.1\r\nHost: c.test\r\n\r\n");
	ck_assert_int_eq(x.resp.status, 403);

	/* Allowed, it reaches the status handler, which has no stats to show here. */
	route_from(&shared, "127.0.0.1", "GET /status HTTP/1.1\r\nHost: c.test\r\n\r\n");
	ck_assert_int_eq(x.resp.status, 500);
	route_from(&shared, "::1", "GET /status HTTP/1.1\r\nHost: c.test\r\n\r\n");
	ck_assert_int_eq(x.resp.status, 500);
}
END_TEST

/* The request's peer is addr, port 0, and real_ip holds it (addr NULL: the peer stayed
 * peer). */
static void assert_peer(const char *peer, const char *addr)
{
	uint8_t want[16] = { 0 };
	const char *text = addr ? addr : peer;
	int family = strchr(text, ':') ? AF_INET6 : AF_INET;

	ck_assert_int_eq(inet_pton(family, text, want), 1);
	ck_assert_int_eq(x.req.peer_family, family);
	ck_assert(memcmp(x.req.peer_addr, want, family == AF_INET ? 4 : 16) == 0);
	if (!addr) {
		ck_assert_ptr_eq(x.req.peer_addr, x.peer);
		ck_assert_int_eq(x.req.real_ip.family, 0);
		return;
	}
	ck_assert_ptr_eq(x.req.peer_addr, x.req.real_ip.addr);
	ck_assert_uint_eq(x.req.peer_port, 0);
}

/* From a peer in real_ip_from, the client its header names is the one status_allow sees. */
START_TEST(real_ip_from_names_the_client)
{
	route_from(&alone, "127.0.0.1",
		   "GET /status HTTP/1.1\r\nHost: a.test\r\n"
		   "X-Forwarded-For: 127.0.0.9, 192.0.2.9, 10.1.2.3\r\n\r\n");
	ck_assert_int_eq(x.resp.status, 403);
	assert_peer("127.0.0.1", "192.0.2.9");
	/* A trusted client of the machine's own is let in by what the field says. */
	route_from(&alone, "10.0.0.1",
		   "GET /status HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 127.0.0.9\r\n\r\n");
	ck_assert_int_eq(x.resp.status, 500);
	assert_peer("10.0.0.1", "127.0.0.9");
	/* Nothing named: the peer stays. */
	route_from(&alone, "10.0.0.1", "GET /status HTTP/1.1\r\nHost: a.test\r\n\r\n");
	ck_assert_int_eq(x.resp.status, 403);
	assert_peer("10.0.0.1", NULL);
	route_from(&alone, "10.0.0.1",
		   "GET /status HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: unknown\r\n\r\n");
	ck_assert_int_eq(x.resp.status, 403);
	assert_peer("10.0.0.1", NULL);
}
END_TEST

/* A peer outside real_ip_from, or a site without it, gets no say about the client. */
START_TEST(real_ip_from_others_are_not_believed)
{
	route_from(&alone, "192.0.2.7",
		   "GET /status HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n");
	ck_assert_int_eq(x.resp.status, 403);
	assert_peer("192.0.2.7", NULL);
	route_from(&shared, "127.0.0.1",
		   "GET /status HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 192.0.2.9\r\n\r\n");
	ck_assert_int_eq(x.resp.status, 500);
	assert_peer("127.0.0.1", NULL);
}
END_TEST

/* real_ip_header = "Forwarded": its for= counts, X-Forwarded-For does not. */
START_TEST(real_ip_header_forwarded)
{
	route_from(&shared, "127.0.0.1",
		   "GET /status HTTP/1.1\r\nHost: x.b.test\r\n"
		   "Forwarded: for=\"[2001:db8::9]:4711\";proto=https\r\n\r\n");
	ck_assert_int_eq(x.resp.status, 403);
	assert_peer("127.0.0.1", "2001:db8::9");
	ck_assert_int_eq(x.req.real_ip.header, SHOAL_HTTP_REAL_IP_FORWARDED);
	route_from(&shared, "127.0.0.1",
		   "GET /status HTTP/1.1\r\nHost: x.b.test\r\nX-Forwarded-For: 192.0.2.9\r\n\r\n");
	ck_assert_int_eq(x.resp.status, 500);
	assert_peer("127.0.0.1", NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("route");

	signal(SIGPIPE, SIG_IGN); /* as in a worker */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, sites_of_one_address);
	tcase_add_test(tc, host_picks_the_site);
	tcase_add_test(tc, request_without_host_goes_to_the_default);
	tcase_add_test(tc, body_over_the_limit_is_refused);
	tcase_add_test(tc, health_path_is_routed);
	tcase_add_test(tc, status_path_is_for_the_acl_only);
	tcase_add_test(tc, real_ip_from_names_the_client);
	tcase_add_test(tc, real_ip_from_others_are_not_believed);
	tcase_add_test(tc, real_ip_header_forwarded);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
