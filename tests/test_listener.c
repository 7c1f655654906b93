#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shoal/net/listener.h"

#include "check_run.h"
#include "loopback.h"

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

/* What inet_ntop writes, for every IPv4 length of octet; IPv6 through inet_ntop; no other. */
START_TEST(formats_an_ip_as_inet_ntop_does)
{
	static const uint8_t v4[][4] = { { 0, 0, 0, 0 }, { 9, 10, 99, 100 }, { 255, 1, 20, 199 },
					 { 127, 0, 0, 1 } };
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	char got[INET6_ADDRSTRLEN], want[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		ck_assert_ptr_nonnull(inet_ntop(AF_INET, v4[i], want, sizeof(want)));
		ck_assert_uint_eq(shoal_addr_format_ip(AF_INET, v4[i], got, sizeof(got)), strlen(want));
		ck_assert_str_eq(got, want);
	}
	ck_assert_uint_eq(shoal_addr_format_ip(AF_INET6, v6, got, sizeof(got)), 11);
	ck_assert_str_eq(got, "2001:db8::1");
	ck_assert_uint_eq(shoal_addr_format_ip(AF_UNIX, v6, got, sizeof(got)), 0);
	ck_assert_str_eq(got, "");
}
END_TEST

START_TEST(probe_detects_a_foreign_listener)
{
	struct shoal_addr addr;
	struct shoal_err err;
	int fd = loopback_foreign_listener(&addr);

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
	int foreign = loopback_foreign_listener(&addr);
	int a, b;

	close(foreign);
	a = shoal_listener_open(&addr, 16, &err);
	ck_assert_msg(a >= 0, "%s", err.msg);
	b = shoal_listener_open(&addr, 16, &err);
	ck_assert_msg(b >= 0, "%s", err.msg);
	ck_assert_int_eq(shoal_listener_set_backlog(a, 32, &err), 0);
	{ /* accepted connections inherit it: no setsockopt per connection */
		int nodelay = 0;
		socklen_t len = sizeof(nodelay);
		ck_assert_int_eq(getsockopt(a, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
		ck_assert_int_eq(nodelay, 1);
	}
	/* Our own reuseport group answers the probe as "in use": probing is for new addresses. */
	ck_assert_int_lt(shoal_listener_probe(&addr, &err), 0);
	close(a);
	close(b);
}
END_TEST

/* The steering program sends nothing to sockets past the active ones: a retiring slot's
 * queue only holds what it had before, which is what lets it drain without a reset. */
START_TEST(steering_skips_retiring_sockets)
{
	struct shoal_addr addr;
	struct shoal_err err;
	int fds[3], counts[3], clients[90];

	close(loopback_foreign_listener(&addr));
	for (int i = 0; i < 3; i++) {
		fds[i] = shoal_listener_open(&addr, 128, &err);
		ck_assert_msg(fds[i] >= 0, "%s", err.msg);
	}
	ck_assert_msg(shoal_listener_steer(fds[0], 2, &err) == 0, "%s", err.msg);
	loopback_connect_n(&addr, 60, clients);
	for (int i = 0; i < 3; i++)
		counts[i] = loopback_drain(fds[i]);
	ck_assert_int_eq(counts[0] + counts[1], 60);
	ck_assert_int_eq(counts[2], 0);
	ck_assert_int_gt(counts[0], 5);
	ck_assert_int_gt(counts[1], 5);
	ck_assert_int_eq(shoal_listener_steer(fds[1], 3, &err), 0); /* any member sets the group */
	loopback_connect_n(&addr, 30, clients + 60);
	ck_assert_int_gt(loopback_drain(fds[2]), 0);
	for (int i = 0; i < 90; i++)
		close(clients[i]);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}
END_TEST

/* What the master keeps its slots in order by (see shoal_slot_sockets_steer): a socket joins
 * its reuseport group at the end, and one that leaves gives its index to the last. So a socket
 * opened while a retiring one is still in the group sits behind it, out of the steering's
 * reach, while the retiring one gets new connections again (issue 12). */
START_TEST(a_group_gains_at_its_end_and_a_leaver_gives_its_place_to_the_last)
{
	struct shoal_addr addr;
	struct shoal_err err;
	int fds[4], clients[120];

	close(loopback_foreign_listener(&addr));
	for (int i = 0; i < 3; i++) {
		fds[i] = shoal_listener_open(&addr, 128, &err);
		ck_assert_msg(fds[i] >= 0, "%s", err.msg);
	}
	ck_assert_msg(shoal_listener_steer(fds[0], 2, &err) == 0, "%s", err.msg);
	fds[3] = shoal_listener_open(&addr, 128, &err); /* fds[2] retiring, a new one behind it */
	ck_assert_msg(fds[3] >= 0, "%s", err.msg);
	ck_assert_int_eq(shoal_listener_steer(fds[0], 3, &err), 0);
	loopback_connect_n(&addr, 60, clients);
	ck_assert_int_eq(loopback_drain(fds[3]), 0);
	ck_assert_int_gt(loopback_drain(fds[2]), 0);
	close(fds[2]);
	loopback_connect_n(&addr, 60, clients + 60);
	ck_assert_int_gt(loopback_drain(fds[3]), 5);
	for (int i = 0; i < 120; i++)
		close(clients[i]);
	for (int i = 0; i < 4; i++)
		if (i != 2)
			close(fds[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("listener");
	TCase *tc = tcase_create("listener");

	tcase_add_test(tc, parses_and_canonicalises);
	tcase_add_test(tc, rejects_bad_addresses);
	tcase_add_test(tc, equality_is_by_address_not_text);
	tcase_add_test(tc, formats_an_ip_as_inet_ntop_does);
	tcase_add_test(tc, probe_detects_a_foreign_listener);
	tcase_add_test(tc, slot_sockets_share_a_port);
	tcase_add_test(tc, steering_skips_retiring_sockets);
	tcase_add_test(tc, a_group_gains_at_its_end_and_a_leaver_gives_its_place_to_the_last);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
