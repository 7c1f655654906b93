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

static void connect_n(const struct shoal_addr *addr, int n, int *clients)
{
	for (int i = 0; i < n; i++) {
		clients[i] = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(clients[i], 0);
		ck_assert_int_eq(connect(clients[i], (const struct sockaddr *)&addr->ss, addr->len), 0);
		/* With TCP_DEFER_ACCEPT, a connection is accepted once its first byte is in. */
		ck_assert_int_eq(write(clients[i], "x", 1), 1);
	}
}

static int drain_queue(int fd)
{
	int n = 0, c;

	usleep(100 * 1000); /* let the last bytes reach the listener */
	while ((c = accept(fd, NULL, NULL)) >= 0) {
		close(c);
		n++;
	}
	return n;
}

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
	connect_n(&addr, 60, clients);
	for (int i = 0; i < 3; i++)
		counts[i] = drain_queue(fds[i]);
	ck_assert_int_eq(counts[0] + counts[1], 60);
	ck_assert_int_eq(counts[2], 0);
	ck_assert_int_gt(counts[0], 5);
	ck_assert_int_gt(counts[1], 5);
	ck_assert_int_eq(shoal_listener_steer(fds[1], 3, &err), 0); /* any member sets the group */
	connect_n(&addr, 30, clients + 60);
	ck_assert_int_gt(drain_queue(fds[2]), 0);
	for (int i = 0; i < 90; i++)
		close(clients[i]);
	for (int i = 0; i < 3; i++)
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
	tcase_add_test(tc, probe_detects_a_foreign_listener);
	tcase_add_test(tc, slot_sockets_share_a_port);
	tcase_add_test(tc, steering_skips_retiring_sockets);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
