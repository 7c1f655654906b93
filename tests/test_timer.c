#include <check.h>
#include <stddef.h>
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

/* A timer embedded in an object, as a connection embeds its own. */
struct owner {
	struct shoal_timer timer;
	int fired;
	struct shoal_timer_queue *rearm_in; /* arm again there when fired, once */
	uint64_t now_ms;
	int *seq; /* counts firings across owners, to tell their order */
};

static void on_owner_expire(struct shoal_timer *t)
{
	struct owner *o = (struct owner *)((char *)t - offsetof(struct owner, timer));

	o->fired = ++*o->seq;
	if (o->rearm_in) {
		shoal_timer_arm(o->rearm_in, t, o->now_ms);
		o->rearm_in = NULL;
	}
}

START_TEST(expire_calls_the_queue_callback_in_order)
{
	struct shoal_timer_queue q;
	int seq = 0;
	struct owner a = { .seq = &seq }, b = { .seq = &seq }, c = { .seq = &seq };

	shoal_timer_queue_init(&q, 100, on_owner_expire);
	shoal_timer_arm(&q, &a.timer, 0);
	shoal_timer_arm(&q, &b.timer, 5);
	shoal_timer_arm(&q, &c.timer, 50);
	shoal_timer_expire(&q, 104);
	ck_assert_int_eq(a.fired, 1);
	ck_assert_int_eq(b.fired, 0);
	shoal_timer_expire(&q, 105);
	ck_assert_int_eq(b.fired, 2);
	ck_assert_int_eq(c.fired, 0);
	ck_assert(!shoal_timer_armed(&a.timer));
	ck_assert(shoal_timer_armed(&c.timer));
}
END_TEST

START_TEST(expire_rearmed_timer_waits_for_a_later_call)
{
	struct shoal_timer_queue q, zero;
	int seq = 0;
	struct owner a = { .seq = &seq };

	shoal_timer_queue_init(&q, 100, on_owner_expire);
	shoal_timer_queue_init(&zero, 0, on_owner_expire);
	/* Re-armed in a queue of duration 0, it is due again at once: one call fires it once. */
	shoal_timer_arm(&zero, &a.timer, 10);
	a.rearm_in = &zero;
	a.now_ms = 10;
	shoal_timer_expire(&zero, 10);
	ck_assert_int_eq(a.fired, 1);
	ck_assert(shoal_timer_armed(&a.timer));
	shoal_timer_expire(&zero, 10);
	ck_assert_int_eq(a.fired, 2);
	/* Re-armed in its own queue, it fires a duration later. */
	shoal_timer_arm(&q, &a.timer, 0);
	a.rearm_in = &q;
	a.now_ms = 100;
	shoal_timer_expire(&q, 100);
	ck_assert_int_eq(a.fired, 3);
	ck_assert_int_eq(shoal_timer_next_ms(&q, 100), 100);
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
	tcase_add_test(tc, expire_calls_the_queue_callback_in_order);
	tcase_add_test(tc, expire_rearmed_timer_waits_for_a_later_call);
	tcase_add_test(tc, clock_is_monotonic);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
