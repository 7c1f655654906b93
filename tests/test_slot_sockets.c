#include <check.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "shoal/master/slot_sockets.h"

#include "check_run.h"
#include "loopback.h"

/* A loopback address on a port that was free a moment ago. */
static void free_addr(struct shoal_addr *addr)
{
	close(loopback_foreign_listener(addr));
}

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void ensure_ok(struct shoal_slot_sockets *s, const struct shoal_addr *const *addrs,
		      size_t naddrs, unsigned nslots)
{
	static const int backlogs[] = { 16, 16 };
	struct shoal_err err = { "" };

	ck_assert_msg(shoal_slot_sockets_ensure(s, addrs, backlogs, naddrs, nslots, &err) == 0, "%s",
		      err.msg);
}

START_TEST(every_address_gets_a_socket_per_slot_and_keeps_it)
{
	struct shoal_slot_sockets s = { 0 };
	struct shoal_addr a, b;
	const struct shoal_addr *addrs[] = { &a, &b };
	int first[2][3];

	free_addr(&a);
	free_addr(&b);
	ensure_ok(&s, addrs, 2, 3);
	ck_assert_uint_eq(s.n, 6);
	for (int i = 0; i < 2; i++)
		for (unsigned slot = 0; slot < 3; slot++) {
			first[i][slot] = shoal_slot_sockets_fd(&s, addrs[i], slot);
			ck_assert_int_ge(first[i][slot], 0);
		}
	ck_assert_int_ne(first[0][0], first[0][1]);
	ck_assert_int_eq(shoal_slot_sockets_fd(&s, &a, 3), -1);

	ensure_ok(&s, addrs, 2, 4); /* one slot more: the old sockets stay, queues and all */
	ck_assert_uint_eq(s.n, 8);
	for (int i = 0; i < 2; i++)
		for (unsigned slot = 0; slot < 3; slot++)
			ck_assert_int_eq(shoal_slot_sockets_fd(&s, addrs[i], slot), first[i][slot]);
	shoal_slot_sockets_close_all(&s);
	ck_assert(!is_open(first[0][0]));
	ck_assert_uint_eq(s.n, 0);
}
END_TEST

START_TEST(gc_closes_removed_slots_and_addresses)
{
	struct shoal_slot_sockets s = { 0 };
	struct shoal_addr a, b;
	const struct shoal_addr *addrs[] = { &a, &b };
	struct shoal_log log;
	int a2, b0;

	shoal_log_init(&log, "test");
	free_addr(&a);
	free_addr(&b);
	ensure_ok(&s, addrs, 2, 3);
	a2 = shoal_slot_sockets_fd(&s, &a, 2);
	b0 = shoal_slot_sockets_fd(&s, &b, 0);
	shoal_slot_sockets_gc(&s, addrs, 1, 2, &log); /* b gone, slot 2 gone */
	ck_assert_uint_eq(s.n, 2);
	ck_assert(!is_open(a2) && !is_open(b0));
	ck_assert(is_open(shoal_slot_sockets_fd(&s, &a, 0)) && is_open(shoal_slot_sockets_fd(&s, &a, 1)));
	shoal_slot_sockets_gc(&s, NULL, 0, 0, &log);
	ck_assert_uint_eq(s.n, 0);
	shoal_slot_sockets_close_all(&s);
}
END_TEST

START_TEST(a_foreign_listener_is_refused_and_steering_works)
{
	struct shoal_slot_sockets s = { 0 };
	struct shoal_addr a;
	const struct shoal_addr *addrs[] = { &a };
	static const int backlogs[] = { 16 };
	struct shoal_err err = { "" };
	int foreign = loopback_foreign_listener(&a);

	ck_assert_int_eq(shoal_slot_sockets_ensure(&s, addrs, backlogs, 1, 2, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "in use"));
	ck_assert_uint_eq(s.n, 0);
	close(foreign);

	ensure_ok(&s, addrs, 1, 2);
	ck_assert_msg(shoal_slot_sockets_steer(&s, addrs, 1, 1, &err) == 0, "%s", err.msg);
	shoal_slot_sockets_close_all(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("slot_sockets");
	TCase *tc = tcase_create("slot_sockets");

	tcase_add_test(tc, every_address_gets_a_socket_per_slot_and_keeps_it);
	tcase_add_test(tc, gc_closes_removed_slots_and_addresses);
	tcase_add_test(tc, a_foreign_listener_is_refused_and_steering_works);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
