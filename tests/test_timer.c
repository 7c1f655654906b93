#include <check.h>
#include <stdlib.h>

#include "shoal/base/clock.h"
#include "shoal/net/timer.h"

#include "check_run.h"

START_TEST(expires_in_deadline_order)
{
	struct shoal_timer_queue q;
	struct shoal_timer a = { 0 }, b = { 0 }, c = { 0 };

	shoal_timer_queue_init(&q, 100, NULL);
	shoal_timer_arm(&q, &a, 0);
	shoal_timer_arm(&q, &b, 10);
	shoal_timer_arm(&q, &c, 20);
	ck_assert_int_eq(shoal_timer_next_ms(&q, 50), 50);
	ck_assert_ptr_null(shoal_timer_pop_expired(&q, 99));
	ck_assert_ptr_eq(shoal_timer_pop_expired(&q, 110), &a);
	ck_assert_ptr_eq(shoal_timer_pop_expired(&q, 110), &b);
	ck_assert_ptr_null(shoal_timer_pop_expired(&q, 110));
	ck_assert(!shoal_timer_armed(&a));
	ck_assert(shoal_timer_armed(&c));
	ck_assert_int_eq(shoal_timer_next_ms(&q, 110), 10);
	ck_assert_int_eq(shoal_timer_next_ms(&q, 500), 0);
}
END_TEST

START_TEST(rearming_moves_to_the_tail)
{
	struct shoal_timer_queue q;
	struct shoal_timer a = { 0 }, b = { 0 };

	shoal_timer_queue_init(&q, 100, NULL);
	shoal_timer_arm(&q, &a, 0);
	shoal_timer_arm(&q, &b, 10);
	shoal_timer_arm(&q, &a, 50); /* activity on a: its deadline moves to 150 */
	ck_assert_ptr_eq(shoal_timer_pop_expired(&q, 120), &b);
	ck_assert_ptr_null(shoal_timer_pop_expired(&q, 120));
	ck_assert_ptr_eq(shoal_timer_pop_expired(&q, 150), &a);
	ck_assert_int_eq(shoal_timer_next_ms(&q, 150), -1);
}
END_TEST

START_TEST(disarm_and_move_between_queues)
{
	struct shoal_timer_queue shortq, longq;
	struct shoal_timer a = { 0 }, b = { 0 };

	shoal_timer_queue_init(&shortq, 10, NULL);
	shoal_timer_queue_init(&longq, 1000, NULL);
	shoal_timer_arm(&shortq, &a, 0);
	shoal_timer_arm(&shortq, &b, 0);
	shoal_timer_disarm(&a);
	shoal_timer_disarm(&a); /* twice is harmless */
	shoal_timer_arm(&longq, &b, 0);
	ck_assert_int_eq(shoal_timer_next_ms(&shortq, 0), -1);
	ck_assert_ptr_null(shoal_timer_pop_expired(&longq, 999));
	ck_assert_ptr_eq(shoal_timer_pop_expired(&longq, 1000), &b);
}
END_TEST

START_TEST(clock_is_monotonic)
{
	uint64_t a = shoal_clock_mono_ms();
	uint64_t b = shoal_clock_mono_ms();

	ck_assert_uint_ge(b, a);
	ck_assert_uint_gt(a, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("timer");
	TCase *tc = tcase_create("queue");

	tcase_add_test(tc, expires_in_deadline_order);
	tcase_add_test(tc, rearming_moves_to_the_tail);
	tcase_add_test(tc, disarm_and_move_between_queues);
	tcase_add_test(tc, clock_is_monotonic);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
