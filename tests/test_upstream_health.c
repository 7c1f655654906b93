#include <check.h>
#include <stdio.h>
#include <string.h>

#include "shoal/upstream/health.h"
#include "shoal/upstream/upstream.h"

#include "check_run.h"

#define MAX_SERVERS 4
/* Monotonic milliseconds well past the fail window of a fresh entry (whose window starts
 * at 0), as on any machine up for more than a few seconds. */
#define T 1000000

/* A group of n servers, weight 1, with the passive rules max_fails 3 in 1000 ms. */
struct group {
	struct shoal_upstream_server_conf servers[MAX_SERVERS];
	struct shoal_upstream_conf conf;
	struct shoal_config cfg;
	struct shoal_upstream_set set;
	struct shoal_upstream *u;
};

static void group_conf(struct group *g, size_t n)
{
	memset(g, 0, sizeof(*g));
	for (size_t i = 0; i < n; i++) {
		char text[32];
		snprintf(text, sizeof(text), "10.0.0.%zu:80", i + 1);
		ck_assert_int_eq(shoal_addr_parse(text, &g->servers[i].address, NULL), 0);
		g->servers[i].weight = 1;
	}
	g->conf = (struct shoal_upstream_conf){ .name = "backend", .servers = g->servers,
						.nservers = n };
	g->conf.policy = (struct shoal_upstream_policy){ .max_fails = 3, .fail_timeout_ms = 1000,
							 .max_ejection_percent = 100 };
	g->conf.health_check = (struct shoal_health_check_conf){ .rise = 2, .fall = 3 };
	g->cfg.upstreams = &g->conf;
	g->cfg.nupstreams = 1;
}

static void group_start(struct group *g)
{
	ck_assert_int_eq(shoal_upstream_set_init(&g->set, &g->cfg, NULL, NULL, NULL, NULL), 0);
	g->u = &g->set.groups[0];
}

static struct shoal_upstream_server *group_init(struct group *g, size_t n)
{
	group_conf(g, n);
	group_start(g);
	return &g->u->servers[0];
}

static void report_failures(struct shoal_upstream_server *s, uint64_t now_ms, unsigned times)
{
	for (unsigned i = 0; i < times; i++)
		shoal_upstream_report(s, SHOAL_UPSTREAM_FAILED, now_ms);
}

/* How long s is ejected for, from now_ms; 0 if it is not. */
static uint64_t ejected_for(const struct shoal_upstream_server *s, uint64_t now_ms)
{
	uint64_t until = s->shared->ejected_until_ms;

	return until > now_ms ? until - now_ms : 0;
}

/* --- stalls ---------------------------------------------------------------------------- */

START_TEST(a_server_is_stalled_when_a_try_and_every_worker_waited_stall_timeout)
{
	struct group g;
	struct shoal_upstream_server *s;

	group_conf(&g, 2);
	g.conf.policy.stall_timeout_ms = 300;
	group_start(&g);
	s = &g.u->servers[0];
	shoal_upstream_answered(s, T);
	/* The try has not waited long enough, then the server answered someone lately. */
	ck_assert(!shoal_upstream_stalled(s, T + 100, T + 399));
	ck_assert(!shoal_upstream_stalled(s, T - 500, T + 299));
	ck_assert(shoal_upstream_stalled(s, T, T + 300));
	shoal_upstream_answered(s, T + 300);
	ck_assert(!shoal_upstream_stalled(s, T, T + 301));
	/* Ejected as after max_fails failures; off with max_fails 0. */
	shoal_upstream_eject(s, T + 700);
	ck_assert_uint_eq(ejected_for(s, T + 700), 1000);
	g.conf.policy.max_fails = 0;
	shoal_upstream_eject(&g.u->servers[1], T + 700);
	ck_assert_uint_eq(ejected_for(&g.u->servers[1], T + 700), 0);
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(without_stall_timeout_nothing_is_stalled)
{
	struct group g;
	struct shoal_upstream_server *s = group_init(&g, 1);

	ck_assert(!shoal_upstream_stalled(s, T, T + 3600 * 1000));
	shoal_upstream_set_free(&g.set);
}
END_TEST

/* --- passive health ------------------------------------------------------------------- */

START_TEST(max_fails_in_the_window_eject_for_fail_timeout)
{
	struct group g;
	struct shoal_upstream_server *s = group_init(&g, 2);

	ck_assert(shoal_upstream_usable(s, T));
	report_failures(s, T, 1);
	report_failures(s, T + 500, 1);
	ck_assert(shoal_upstream_usable(s, T + 500));
	report_failures(s, T + 999, 1);
	ck_assert(!shoal_upstream_usable(s, T + 999));
	ck_assert_uint_eq(ejected_for(s, T + 999), 1000);
	ck_assert(!shoal_upstream_usable(s, T + 1998));
	ck_assert(shoal_upstream_usable(s, T + 1999));
	ck_assert_uint_eq(s->shared->ejected_total, 1);
	/* The other server of the group is untouched. */
	ck_assert(shoal_upstream_usable(&g.u->servers[1], T + 999));
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(ejections_in_a_row_last_longer_up_to_the_cap)
{
	struct group g;
	struct shoal_upstream_server *s = group_init(&g, 1);
	uint64_t now = T;

	for (unsigned n = 1; n <= SHOAL_UPSTREAM_EJECT_MAX + 3; n++) {
		unsigned times = n < SHOAL_UPSTREAM_EJECT_MAX ? n : SHOAL_UPSTREAM_EJECT_MAX;
		report_failures(s, now, 3);
		ck_assert_uint_eq(ejected_for(s, now), 1000ull * times);
		now += 1000ull * times;
		ck_assert(shoal_upstream_usable(s, now));
	}
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(failures_spread_wider_than_the_window_do_not_eject)
{
	struct group g;
	struct shoal_upstream_server *s = group_init(&g, 1);

	/* Two in every window of 1000 ms, for 12 s. */
	for (uint64_t now = T; now < T + 12000; now += 600) {
		report_failures(s, now, 1);
		ck_assert(shoal_upstream_usable(s, now));
	}
	ck_assert_uint_eq(s->shared->ejected_total, 0);
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(a_failure_read_on_an_older_clock_counts_in_the_window)
{
	struct group g;
	struct shoal_upstream_server *s = group_init(&g, 1);

	/* Workers read the clock at different moments: one opens the window at T + 5, another
	 * reports a failure it timed at T. */
	report_failures(s, T + 5, 1);
	report_failures(s, T, 1);
	ck_assert(shoal_upstream_usable(s, T + 6));
	report_failures(s, T + 6, 1);
	ck_assert(!shoal_upstream_usable(s, T + 6));
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(max_ejection_percent_caps_the_share_ejected)
{
	struct group g;
	struct shoal_upstream *u;

	group_conf(&g, 4);
	g.conf.policy.max_ejection_percent = 50;
	group_start(&g);
	u = g.u;
	report_failures(&u->servers[0], T, 3);
	report_failures(&u->servers[1], T, 3);
	report_failures(&u->servers[2], T + 500, 3);
	ck_assert(!shoal_upstream_usable(&u->servers[0], T + 500));
	ck_assert(!shoal_upstream_usable(&u->servers[1], T + 500));
	ck_assert(shoal_upstream_usable(&u->servers[2], T + 500));
	ck_assert_uint_eq(u->servers[2].shared->ejected_total, 0);
	/* Once those ejections end, the next failure of the third, still in its window,
	 * ejects it. */
	report_failures(&u->servers[2], T + 1000, 1);
	ck_assert_uint_eq(ejected_for(&u->servers[2], T + 1000), 1000);
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(the_first_ejection_is_always_allowed)
{
	struct group g;
	struct shoal_upstream *u;

	group_conf(&g, 4);
	g.conf.policy.max_ejection_percent = 10;
	group_start(&g);
	u = g.u;
	report_failures(&u->servers[0], T, 3);
	report_failures(&u->servers[1], T, 3);
	ck_assert(!shoal_upstream_usable(&u->servers[0], T));
	ck_assert(shoal_upstream_usable(&u->servers[1], T));
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(success_after_the_ejection_and_fail_timeout_forgets_the_ejections)
{
	struct group g;
	struct shoal_upstream_server *s = group_init(&g, 1);
	uint64_t now = T;

	/* A success too soon after the ejection ended: the next one is longer. */
	report_failures(s, now, 3);
	now += 1000 + 999;
	shoal_upstream_report(s, SHOAL_UPSTREAM_OK, now);
	ck_assert_uint_eq(s->shared->ejections, 1);
	report_failures(s, now, 3);
	ck_assert_uint_eq(ejected_for(s, now), 2000);
	/* A success once it served for fail_timeout again: back to the first length. */
	now += 2000 + 1000;
	shoal_upstream_report(s, SHOAL_UPSTREAM_OK, now);
	ck_assert_uint_eq(s->shared->ejections, 0);
	report_failures(s, now, 3);
	ck_assert_uint_eq(ejected_for(s, now), 1000);
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(max_fails_0_never_ejects)
{
	struct group g;
	struct shoal_upstream_server *s;

	group_conf(&g, 1);
	g.conf.policy.max_fails = 0;
	group_start(&g);
	s = &g.u->servers[0];
	report_failures(s, T, 100);
	ck_assert(shoal_upstream_usable(s, T));
	ck_assert_uint_eq(s->shared->ejected_total, 0);
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(fail_status_is_one_of_the_configured)
{
	static int statuses[] = { 502, 504 };
	struct group g;

	group_conf(&g, 1);
	g.conf.policy.fail_status = statuses;
	g.conf.policy.nfail_status = 2;
	group_start(&g);
	ck_assert(shoal_upstream_fail_status(g.u, 502));
	ck_assert(shoal_upstream_fail_status(g.u, 504));
	ck_assert(!shoal_upstream_fail_status(g.u, 503));
	ck_assert(!shoal_upstream_fail_status(g.u, 200));
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(busy_counts_requests_in_flight)
{
	struct group g;
	struct shoal_upstream_server *s = group_init(&g, 1);

	shoal_upstream_busy(s, +1);
	shoal_upstream_busy(s, +1);
	shoal_upstream_busy(s, -1);
	ck_assert_uint_eq(shoal_upstream_active(s), 1);
	/* Another worker's request, in the shared entry. */
	s->shared->active += 5;
	ck_assert_uint_eq(shoal_upstream_active(s), 6);
	shoal_upstream_set_free(&g.set);
}
END_TEST

/* --- usable and weight ---------------------------------------------------------------- */

START_TEST(usable_needs_every_condition)
{
	struct group g;
	struct shoal_upstream_server *s;

	group_conf(&g, 2);
	g.servers[1].down = true;
	group_start(&g);
	s = &g.u->servers[0];
	ck_assert(!shoal_upstream_usable(&g.u->servers[1], T));
	ck_assert(shoal_upstream_excluded(&g.u->servers[1]));
	s->shared->admin = SHOAL_STATE_ADMIN_DRAIN;
	ck_assert(!shoal_upstream_usable(s, T));
	ck_assert(shoal_upstream_excluded(s));
	s->shared->admin = SHOAL_STATE_ADMIN_UP;
	s->shared->check = SHOAL_STATE_CHECK_DOWN;
	ck_assert(!shoal_upstream_usable(s, T));
	ck_assert(!shoal_upstream_excluded(s));
	s->shared->check = SHOAL_STATE_CHECK_UP;
	ck_assert(shoal_upstream_usable(s, T));
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(slow_start_ramps_from_a_tenth_to_the_whole)
{
	struct group g;
	struct shoal_upstream_server *s;

	group_conf(&g, 1);
	g.servers[0].weight = 10;
	g.conf.policy.slow_start_ms = 10000;
	group_start(&g);
	s = &g.u->servers[0];
	s->shared->usable_since_ms = T;
	ck_assert_uint_eq(shoal_upstream_weight(s, T), 1);
	ck_assert_uint_eq(shoal_upstream_weight(s, T + 5000), 5);
	ck_assert_uint_eq(shoal_upstream_weight(s, T + 9999), 9);
	ck_assert_uint_eq(shoal_upstream_weight(s, T + 10000), 10);
	ck_assert_uint_eq(shoal_upstream_weight(s, T + 60000), 10);
	/* shoalctl's weight ramps the same way and then replaces the configured one. */
	s->shared->weight = 40;
	ck_assert_uint_eq(shoal_upstream_weight(s, T + 5000), 22);
	ck_assert_uint_eq(shoal_upstream_weight(s, T + 60000), 40);
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(slow_start_ramps_again_after_an_ejection)
{
	struct group g;
	struct shoal_upstream_server *s;
	uint64_t end;

	group_conf(&g, 1);
	g.servers[0].weight = 10;
	g.conf.policy.slow_start_ms = 10000;
	group_start(&g);
	s = &g.u->servers[0];
	ck_assert_uint_eq(shoal_upstream_weight(s, T), 10);
	report_failures(s, T, 3);
	end = T + 1000;
	ck_assert_uint_eq(s->shared->ejected_until_ms, end);
	ck_assert_uint_eq(shoal_upstream_weight(s, end), 1);
	ck_assert_uint_eq(shoal_upstream_weight(s, end + 5000), 5);
	ck_assert_uint_eq(shoal_upstream_weight(s, end + 10000), 10);
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(without_slow_start_the_weight_is_whole_at_once)
{
	struct group g;
	struct shoal_upstream_server *s;

	group_conf(&g, 1);
	g.servers[0].weight = 10;
	group_start(&g);
	s = &g.u->servers[0];
	s->shared->usable_since_ms = T;
	ck_assert_uint_eq(shoal_upstream_weight(s, T), 10);
	shoal_upstream_set_free(&g.set);
}
END_TEST

/* --- active health -------------------------------------------------------------------- */

START_TEST(probes_take_fall_failures_down_and_rise_passes_up)
{
	struct group g;
	struct shoal_upstream_server *s = group_init(&g, 1);

	/* Not yet probed: up; a first pass confirms it without a change to log. */
	ck_assert(!shoal_upstream_probe_result(s, true, 200, T));
	ck_assert_uint_eq(s->shared->check, SHOAL_STATE_CHECK_UP);
	ck_assert(!shoal_upstream_probe_result(s, false, 500, T + 1));
	ck_assert(!shoal_upstream_probe_result(s, false, -111, T + 2));
	ck_assert(shoal_upstream_usable(s, T + 2));
	ck_assert(shoal_upstream_probe_result(s, false, 503, T + 3));
	ck_assert_uint_eq(s->shared->check, SHOAL_STATE_CHECK_DOWN);
	ck_assert_int_eq((int)s->shared->check_detail, 503);
	ck_assert(!shoal_upstream_usable(s, T + 3));
	/* One pass, then a failure: the streak starts over. */
	ck_assert(!shoal_upstream_probe_result(s, true, 200, T + 4));
	ck_assert(!shoal_upstream_probe_result(s, false, 503, T + 5));
	ck_assert(!shoal_upstream_probe_result(s, true, 200, T + 6));
	ck_assert(!shoal_upstream_usable(s, T + 6));
	ck_assert(shoal_upstream_probe_result(s, true, 204, T + 7));
	ck_assert_uint_eq(s->shared->check, SHOAL_STATE_CHECK_UP);
	ck_assert(shoal_upstream_usable(s, T + 7));
	/* Back up is where slow start ramps from. */
	ck_assert_uint_eq(s->shared->usable_since_ms, T + 7);
	ck_assert_uint_eq(s->shared->checks_passed, 4);
	ck_assert_uint_eq(s->shared->checks_failed, 4);
	ck_assert_uint_eq(s->shared->last_check_ms, T + 7);
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(a_failed_probe_amid_passes_does_not_take_it_down)
{
	struct group g;
	struct shoal_upstream_server *s = group_init(&g, 1);

	for (unsigned i = 0; i < 10; i++) {
		ck_assert(!shoal_upstream_probe_result(s, false, 500, T + 3 * i));
		ck_assert(!shoal_upstream_probe_result(s, false, 500, T + 3 * i + 1));
		ck_assert(!shoal_upstream_probe_result(s, true, 200, T + 3 * i + 2));
	}
	ck_assert(shoal_upstream_usable(s, T + 30));
	shoal_upstream_set_free(&g.set);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("upstream_health");
	TCase *passive = tcase_create("passive");
	TCase *weight = tcase_create("weight");
	TCase *active = tcase_create("active");

	tcase_add_test(passive, max_fails_in_the_window_eject_for_fail_timeout);
	tcase_add_test(passive, ejections_in_a_row_last_longer_up_to_the_cap);
	tcase_add_test(passive, failures_spread_wider_than_the_window_do_not_eject);
	tcase_add_test(passive, a_failure_read_on_an_older_clock_counts_in_the_window);
	tcase_add_test(passive, max_ejection_percent_caps_the_share_ejected);
	tcase_add_test(passive, the_first_ejection_is_always_allowed);
	tcase_add_test(passive, success_after_the_ejection_and_fail_timeout_forgets_the_ejections);
	tcase_add_test(passive, max_fails_0_never_ejects);
	tcase_add_test(passive, fail_status_is_one_of_the_configured);
	tcase_add_test(passive, busy_counts_requests_in_flight);
	suite_add_tcase(s, passive);
	tcase_add_test(weight, usable_needs_every_condition);
	tcase_add_test(weight, slow_start_ramps_from_a_tenth_to_the_whole);
	tcase_add_test(weight, slow_start_ramps_again_after_an_ejection);
	tcase_add_test(weight, without_slow_start_the_weight_is_whole_at_once);
	suite_add_tcase(s, weight);
	tcase_add_test(active, probes_take_fall_failures_down_and_rise_passes_up);
	tcase_add_test(active, a_server_is_stalled_when_a_try_and_every_worker_waited_stall_timeout);
	tcase_add_test(active, without_stall_timeout_nothing_is_stalled);
	tcase_add_test(active, a_failed_probe_amid_passes_does_not_take_it_down);
	suite_add_tcase(s, active);
	return shoal_check_run(s);
}
