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

/* No worker holds anything: the master's own reference is the last. */
static bool held_by_none(const struct shoal_slot_socket *sock, void *ctx)
{
	(void)sock;
	(void)ctx;
	return false;
}

/* The retiring worker of the slot *ctx points at holds that slot's sockets. */
static bool held_by_slot(const struct shoal_slot_socket *sock, void *ctx)
{
	return sock->slot == *(const unsigned *)ctx;
}

static void ensure_ok(struct shoal_slot_sockets *s, const struct shoal_addr *const *addrs,
		      size_t naddrs, unsigned nslots)
{
	static const int backlogs[] = { 128, 128 };
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
	shoal_slot_sockets_gc(&s, addrs, 1, 2, held_by_none, NULL, &log); /* b gone, slot 2 gone */
	ck_assert_uint_eq(s.n, 2);
	ck_assert(!is_open(a2) && !is_open(b0));
	ck_assert(is_open(shoal_slot_sockets_fd(&s, &a, 0)) && is_open(shoal_slot_sockets_fd(&s, &a, 1)));
	shoal_slot_sockets_gc(&s, NULL, 0, 0, held_by_none, NULL, &log);
	ck_assert_uint_eq(s.n, 0);
	shoal_slot_sockets_close_all(&s);
}
END_TEST

/* One address with sockets for slots 0 to 3; fds gets them by slot. */
static void four_slots(struct shoal_slot_sockets *s, struct shoal_addr *a, int fds[4])
{
	const struct shoal_addr *addrs[] = { a };

	free_addr(a);
	ensure_ok(s, addrs, 1, 4);
	for (unsigned slot = 0; slot < 4; slot++)
		fds[slot] = shoal_slot_sockets_fd(s, a, slot);
}

/* A removed slot's socket stays while its worker holds it, and so does every socket below
 * one that stays: the group only ever loses its last member. */
START_TEST(gc_keeps_held_sockets_and_those_below_them)
{
	struct shoal_slot_sockets s = { 0 };
	struct shoal_addr a;
	const struct shoal_addr *addrs[] = { &a };
	struct shoal_log log;
	unsigned retiring = 3;
	int fds[4];

	shoal_log_init(&log, "test");
	four_slots(&s, &a, fds);
	shoal_slot_sockets_gc(&s, addrs, 1, 2, held_by_slot, &retiring, &log);
	ck_assert_uint_eq(s.n, 4); /* slot 2 is free, but below slot 3 */
	retiring = 2;
	shoal_slot_sockets_gc(&s, addrs, 1, 2, held_by_slot, &retiring, &log);
	ck_assert_uint_eq(s.n, 3);
	ck_assert(!is_open(fds[3]) && is_open(fds[2]));
	shoal_slot_sockets_gc(&s, NULL, 0, 0, held_by_slot, &retiring, &log); /* address gone */
	ck_assert_uint_eq(s.n, 3);
	shoal_slot_sockets_gc(&s, NULL, 0, 0, held_by_none, NULL, &log);
	ck_assert_uint_eq(s.n, 0);
	ck_assert(!is_open(fds[0]) && !is_open(fds[2]));
	shoal_slot_sockets_close_all(&s);
}
END_TEST

/* Issue 12: two slots removed (their workers still accepting for a moment), one added back:
 * it gets its old socket, still at its place in the group, so that the steering reaches it
 * and not the socket of the slot still going away. */
START_TEST(a_slot_added_back_gets_its_socket_and_the_steering)
{
	struct shoal_slot_sockets s = { 0 };
	struct shoal_addr a;
	const struct shoal_addr *addrs[] = { &a };
	struct shoal_err err = { "" };
	struct shoal_log log;
	unsigned retiring = 3;
	int fds[4], worker3, clients[60], counts[3] = { 0 };

	shoal_log_init(&log, "test");
	four_slots(&s, &a, fds);
	worker3 = dup(fds[3]); /* slot 3's worker; slot 2's is already gone */
	shoal_slot_sockets_gc(&s, addrs, 1, 2, held_by_slot, &retiring, &log);
	ensure_ok(&s, addrs, 1, 3);
	ck_assert_int_eq(shoal_slot_sockets_fd(&s, &a, 2), fds[2]);
	ck_assert_msg(shoal_slot_sockets_steer(&s, addrs, 1, 3, &err) == 0, "%s", err.msg);
	loopback_connect_n(&a, 60, clients);
	for (unsigned slot = 0; slot < 3; slot++)
		counts[slot] = loopback_drain(fds[slot]);
	ck_assert_int_eq(loopback_drain(worker3), 0);
	ck_assert_int_eq(counts[0] + counts[1] + counts[2], 60);
	ck_assert_int_gt(counts[2], 5);
	for (int i = 0; i < 60; i++)
		close(clients[i]);
	close(worker3);
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
	tcase_add_test(tc, gc_keeps_held_sockets_and_those_below_them);
	tcase_add_test(tc, a_slot_added_back_gets_its_socket_and_the_steering);
	tcase_add_test(tc, a_foreign_listener_is_refused_and_steering_works);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
