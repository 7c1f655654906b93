#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "shoal/net/acl.h"

#include "check_run.h"

static bool allows(const char *rule, const char *client)
{
	struct shoal_acl_entry e;
	uint8_t addr[16];
	int family = strchr(client, ':') ? AF_INET6 : AF_INET;

	ck_assert_int_eq(shoal_acl_parse(rule, &e), 0);
	ck_assert_int_eq(inet_pton(family, client, addr), 1);
	return shoal_acl_allows(&e, 1, family, addr);
}

START_TEST(parses)
{
	static const char *const good[] = { "127.0.0.1", "10.0.0.0/8", "0.0.0.0/0", "::1",
					     "2001:db8::/32", "::/0", "192.0.2.0/24" };
	static const char *const bad[] = { "", "/8", "10.0.0.0/", "10.0.0.0/33", "::1/129",
					    "10.0.0.0/-1", "10.0.0.0/8x", "host.example", "1.2.3",
					    "10.0.0.0/ 8" };
	struct shoal_acl_entry e;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(shoal_acl_parse(good[i], &e) == 0, "refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(shoal_acl_parse(bad[i], &e) < 0, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(matches_prefixes)
{
	ck_assert(allows("127.0.0.1", "127.0.0.1"));
	ck_assert(!allows("127.0.0.1", "127.0.0.2"));
	ck_assert(allows("10.0.0.0/8", "10.255.1.2"));
	ck_assert(!allows("10.0.0.0/8", "11.0.0.1"));
	ck_assert(allows("192.168.4.0/22", "192.168.7.255"));
	ck_assert(!allows("192.168.4.0/22", "192.168.8.0"));
	ck_assert(allows("0.0.0.0/0", "203.0.113.9"));
	ck_assert(allows("2001:db8::/32", "2001:db8:ffff::1"));
	ck_assert(!allows("2001:db8::/32", "2001:db9::1"));
	ck_assert(allows("::1", "::1"));
}
END_TEST

START_TEST(families_never_mix)
{
	ck_assert(!allows("0.0.0.0/0", "::1"));
	ck_assert(!allows("::/0", "127.0.0.1"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acl");
	TCase *tc = tcase_create("acl");

	tcase_add_test(tc, parses);
	tcase_add_test(tc, matches_prefixes);
	tcase_add_test(tc, families_never_mix);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
