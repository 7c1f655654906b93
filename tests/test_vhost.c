#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/route/vhost.h"

#include "check_run.h"

static struct shoal_http_str str(const char *s)
{
	return (struct shoal_http_str){ s, strlen(s) };
}

static void assert_host(const char *in, const char *expect)
{
	struct shoal_http_str h = shoal_vhost_host(str(in));

	ck_assert_msg(h.len == strlen(expect) && memcmp(h.p, expect, h.len) == 0,
		      "host of '%s' is '%.*s', expected '%s'", in, (int)h.len, h.p, expect);
}

START_TEST(host_part)
{
	assert_host("example.com", "example.com");
	assert_host("example.com:8080", "example.com");
	assert_host("example.com.", "example.com");
	assert_host("example.com.:80", "example.com");
	assert_host("[::1]:8080", "::1");
	assert_host("[::1]", "::1");
	assert_host("127.0.0.1:80", "127.0.0.1");
	assert_host("", "");
}
END_TEST

START_TEST(patterns)
{
	ck_assert(shoal_vhost_match("example.com", str("EXAMPLE.com")));
	ck_assert(!shoal_vhost_match("example.com", str("www.example.com")));
	ck_assert(!shoal_vhost_match("example.com", str("example.co")));
	ck_assert(shoal_vhost_match("*.example.com", str("www.example.com")));
	ck_assert(shoal_vhost_match("*.example.com", str("a.b.example.com")));
	ck_assert(!shoal_vhost_match("*.example.com", str("example.com")));
	ck_assert(!shoal_vhost_match("*.example.com", str(".example.com")));
	ck_assert(!shoal_vhost_match("*.example.com", str("wwwexample.com")));
}
END_TEST

START_TEST(selection_order)
{
	char *a_names[] = { "a.test", "www.a.test" };
	char *b_names[] = { "*.test" };
	char *c_names[] = { "*.deep.test" };
	struct shoal_server_conf a = { .server_names = a_names, .nserver_names = 2 };
	struct shoal_server_conf b = { .server_names = b_names, .nserver_names = 1 };
	struct shoal_server_conf c = { .server_names = c_names, .nserver_names = 1 };
	struct shoal_server_conf d = { 0 };
	const struct shoal_server_conf *servers[] = { &b, &c, &a, &d };

	ck_assert_uint_eq(shoal_vhost_select(servers, 4, 3, str("www.a.test")), 2); /* exact */
	ck_assert_uint_eq(shoal_vhost_select(servers, 4, 3, str("x.deep.test")), 1); /* longest */
	ck_assert_uint_eq(shoal_vhost_select(servers, 4, 3, str("other.test")), 0);
	ck_assert_uint_eq(shoal_vhost_select(servers, 4, 3, str("example.org")), 3); /* default */
	ck_assert_uint_eq(shoal_vhost_select(servers, 4, 3, str("")), 3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vhost");
	TCase *tc = tcase_create("vhost");

	tcase_add_test(tc, host_part);
	tcase_add_test(tc, patterns);
	tcase_add_test(tc, selection_order);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
