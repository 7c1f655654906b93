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

/* A list is parsed whole, or refused at its first bad entry with nothing to free. */
START_TEST(a_list_is_parsed_whole_or_names_its_bad_entry)
{
	char *good[] = { "10.0.0.0/8", "::1" }, *bad_one[] = { "10.0.0.0/8", "nope", "::2" };
	struct shoal_acl_entry sentinel, *list = &sentinel; /* each call sets it */
	const uint8_t ten[4] = { 10, 1, 2, 3 };
	size_t bad = 99;

	ck_assert_int_eq(shoal_acl_parse_list(good, 2, &list, &bad), 0);
	ck_assert_ptr_nonnull(list);
	ck_assert(shoal_acl_allows(list, 2, AF_INET, ten));
	free(list);
	list = &sentinel;
	ck_assert_int_eq(shoal_acl_parse_list(bad_one, 3, &list, &bad), -1);
	ck_assert_ptr_null(list);
	ck_assert_uint_eq(bad, 1);
	list = &sentinel;
	ck_assert_int_eq(shoal_acl_parse_list(good, 0, &list, &bad), 0);
	ck_assert_ptr_null(list);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acl");
	TCase *tc = tcase_create("acl");

	tcase_add_test(tc, parses);
	tcase_add_test(tc, matches_prefixes);
	tcase_add_test(tc, families_never_mix);
	tcase_add_test(tc, a_list_is_parsed_whole_or_names_its_bad_entry);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
