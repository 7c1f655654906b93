#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shoal/listener.h"

START_TEST(parses_and_canonicalises)
{
	static const struct {
		const char *in, *text;
	} ok[] = {
		{ "127.0.0.1:8080", "127.0.0.1:8080" },
		{ "*:80", "0.0.0.0:80" },
		{ "0.0.0.0:65535", "0.0.0.0:65535" },
		{ "[::1]:8080", "[::1]:8080" },
		{ "[0::1]:1", "[::1]:1" },
		{ "[::]:443", "[::]:443" },
	};
	struct shoal_addr a;
	struct shoal_err err;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_msg(shoal_addr_parse(ok[i].in, &a, &err) == 0, "%s: %s", ok[i].in, err.msg);
		ck_assert_str_eq(a.text, ok[i].text);
	}
}
END_TEST

START_TEST(rejects_bad_addresses)
{
	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:80x",
		"localhost:80", "[::1]", "[::1]80", "[::1:80", "::1:80", ":80", "1.2.3:80",
		"127.0.0.1:-1", "[zz::1]:80", "",
	};
	struct shoal_addr a;
	struct shoal_err err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = '\0';
		ck_assert_msg(shoal_addr_parse(bad[i], &a, &err) < 0, "accepted '%s'", bad[i]);
		ck_assert_msg(strlen(err.msg) > 0, "no message for '%s'", bad[i]);
	}
}
END_TEST

START_TEST(equality_is_by_address_not_text)
{
	struct shoal_addr a, b, c;

	ck_assert_int_eq(shoal_addr_parse("[::1]:80", &a, NULL), 0);
	ck_assert_int_eq(shoal_addr_parse("[0:0::1]:80", &b, NULL), 0);
	ck_assert_int_eq(shoal_addr_parse("[::1]:81", &c, NULL), 0);
	ck_assert(shoal_addr_equal(&a, &b));
	ck_assert(!shoal_addr_equal(&a, &c));
}
END_TEST

/* Binds port 0 without SO_REUSEPORT, like a foreign server, and returns the port chosen. */
static int foreign_listener(struct shoal_addr *addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char text[32];

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(text, sizeof(text), "127.0.0.1:%u", ntohs(sin.sin_port));
	ck_assert_int_eq(shoal_addr_parse(text, addr, NULL), 0);
	return fd;
}

START_TEST(probe_detects_a_foreign_listener)
{
	struct shoal_addr addr;
	struct shoal_err err;
	int fd = foreign_listener(&addr);

	ck_assert_int_lt(shoal_listener_probe(&addr, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "in use"));
	ck_assert_int_lt(shoal_listener_open(&addr, 16, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, addr.text));
	close(fd);
	ck_assert_int_eq(shoal_listener_probe(&addr, &err), 0);
}
END_TEST

START_TEST(slot_sockets_share_a_port)
{
	struct shoal_addr addr;
	struct shoal_err err;
	int foreign = foreign_listener(&addr);
	int a, b;

	close(foreign);
	a = shoal_listener_open(&addr, 16, &err);
	ck_assert_msg(a >= 0, "%s", err.msg);
	b = shoal_listener_open(&addr, 16, &err);
	ck_assert_msg(b >= 0, "%s", err.msg);
	ck_assert_int_eq(shoal_listener_set_backlog(a, 32, &err), 0);
	/* Our own reuseport group answers the probe as "in use": probing is for new addresses. */
	ck_assert_int_lt(shoal_listener_probe(&addr, &err), 0);
	close(a);
	close(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("listener");
	TCase *tc = tcase_create("listener");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, parses_and_canonicalises);
	tcase_add_test(tc, rejects_bad_addresses);
	tcase_add_test(tc, equality_is_by_address_not_text);
	tcase_add_test(tc, probe_detects_a_foreign_listener);
	tcase_add_test(tc, slot_sockets_share_a_port);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
