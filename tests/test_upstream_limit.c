/* The limits of a group (issue 15): a server's max_conns, taken by a reservation exact over
 * every process that shares its entry, which the balancers respect; the choice that says
 * "full" rather than "out"; and the group's queue, bounded the same way. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shoal/upstream/health.h"
#include "shoal/upstream/upstream.h"

#include "check_run.h"

#define MAX_SERVERS 4
#define NOW 1000000
/* Processes racing for the places of one entry, and the tries each makes. */
#define RACERS 4
#define RACE_TRIES 20000

static const enum shoal_balance balances[] = {
	SHOAL_BALANCE_ROUND_ROBIN, SHOAL_BALANCE_LEAST_CONN, SHOAL_BALANCE_RANDOM,
	SHOAL_BALANCE_HASH,
};

/* A group "backend" of servers 10.0.0.1:80 ..., weight 1, the balancer of the test's loop. */
struct group {
	struct shoal_upstream_server_conf servers[MAX_SERVERS];
	struct shoal_upstream_conf conf;
	struct shoal_config cfg;
	struct shoal_upstream_set set;
	struct shoal_upstream *u;
};

static void group_conf(struct group *g, enum shoal_balance balance, size_t n)
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
	g->conf.policy.balance = balance;
	g->cfg.upstreams = &g->conf;
	g->cfg.nupstreams = 1;
}

static void group_start(struct group *g)
{
	ck_assert_int_eq(shoal_upstream_set_init(&g->set, &g->cfg, NULL, NULL, NULL, NULL), 0);
	g->set.rng = 0x9e3779b97f4a7c15ull;
	g->u = &g->set.groups[0];
}

static struct shoal_upstream_server *select_one(struct group *g, struct shoal_upstream_pick *p)
{
	*p = (struct shoal_upstream_pick){ .now_ms = NOW, .hash = shoal_upstream_random(&g->set) };
	return shoal_upstream_select(g->u, p);
}

/* An entry in memory every forked process shares, as the state file is. */
static struct shoal_state_upstream *shared_entry(void)
{
	void *p = mmap(NULL, sizeof(struct shoal_state_upstream), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

START_TEST(reserve_stops_at_max_conns_and_busy_frees_a_place)
{
	struct group g;
	struct shoal_upstream_server *s;

	group_conf(&g, SHOAL_BALANCE_ROUND_ROBIN, 1);
	g.servers[0].max_conns = 2;
	group_start(&g);
	s = &g.u->servers[0];
	ck_assert(g.u->limited);
	ck_assert(shoal_upstream_room(s));
	ck_assert(shoal_upstream_reserve(s));
	ck_assert(shoal_upstream_reserve(s));
	ck_assert(!shoal_upstream_room(s));
	ck_assert(!shoal_upstream_reserve(s));
	ck_assert_uint_eq(shoal_upstream_active(s), 2);
	shoal_upstream_busy(s, -1);
	ck_assert(shoal_upstream_room(s));
	ck_assert(shoal_upstream_reserve(s));
	ck_assert_uint_eq(shoal_upstream_active(s), 2);
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(without_max_conns_reserve_always_counts)
{
	struct group g;
	struct shoal_upstream_server *s;

	group_conf(&g, SHOAL_BALANCE_ROUND_ROBIN, 1);
	group_start(&g);
	s = &g.u->servers[0];
	ck_assert(!g.u->limited);
	for (unsigned i = 0; i < 1000; i++)
		ck_assert(shoal_upstream_reserve(s));
	ck_assert_uint_eq(shoal_upstream_active(s), 1000);
	ck_assert(shoal_upstream_room(s));
	shoal_upstream_set_free(&g.set);
}
END_TEST

/* Each racer reserves and releases as fast as it can: the count never passes max_conns, and
 * once every racer holds what it got without releasing, exactly max_conns places were
 * taken. */
static void race(unsigned max, _Atomic uint32_t *count, bool (*take)(void *), void *arg,
		 void (*give)(void *))
{
	unsigned *won = mmap(NULL, RACERS * sizeof(unsigned), PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned total = 0;

	ck_assert_ptr_ne(won, MAP_FAILED);
	for (unsigned r = 0; r < RACERS; r++) {
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid)
			continue;
		for (unsigned i = 0; i < RACE_TRIES; i++) {
			if (!take(arg))
				continue;
			if (atomic_load(count) > max)
				_exit(1);
			give(arg);
		}
		/* Now hold: the last round shows how many places there were. */
		for (unsigned i = 0; i < RACE_TRIES / 10; i++)
			won[r] += take(arg);
		_exit(0);
	}
	for (unsigned r = 0; r < RACERS; r++) {
		int status;
		ck_assert_int_gt(wait(&status), 0);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "a racer saw the count past its bound");
	}
	for (unsigned r = 0; r < RACERS; r++)
		total += won[r];
	ck_assert_uint_eq(total, max);
	ck_assert_uint_eq(atomic_load(count), max);
	munmap(won, RACERS * sizeof(unsigned));
}

static bool take_server(void *s)
{
	return shoal_upstream_reserve(s);
}

static void give_server(void *s)
{
	shoal_upstream_busy(s, -1);
}

START_TEST(reserve_is_exact_across_processes)
{
	struct group g;
	struct shoal_upstream_server *s;
	struct shoal_state_upstream *own;

	group_conf(&g, SHOAL_BALANCE_ROUND_ROBIN, 1);
	g.servers[0].max_conns = 5;
	group_start(&g);
	s = &g.u->servers[0];
	own = s->shared;
	s->shared = shared_entry();
	race(5, &s->shared->active, take_server, s, give_server);
	munmap(s->shared, sizeof(*s->shared));
	s->shared = own;
	shoal_upstream_set_free(&g.set);
}
END_TEST

static bool take_queue(void *u)
{
	return shoal_upstream_queue_enter(u);
}

static void give_queue(void *u)
{
	shoal_upstream_queue_leave(u);
}

START_TEST(the_queue_is_exact_across_processes)
{
	struct group g;
	struct shoal_state_upstream *own;

	group_conf(&g, SHOAL_BALANCE_ROUND_ROBIN, 1);
	g.conf.queue = 4;
	group_start(&g);
	own = g.u->queue_shared;
	g.u->queue_shared = shared_entry();
	race(4, &g.u->queue_shared->active, take_queue, g.u, give_queue);
	ck_assert_uint_eq(shoal_upstream_queued(g.u), 4);
	munmap(g.u->queue_shared, sizeof(*g.u->queue_shared));
	g.u->queue_shared = own;
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(the_queue_takes_queue_requests_and_leaving_frees_a_place)
{
	struct group g;

	group_conf(&g, SHOAL_BALANCE_ROUND_ROBIN, 1);
	g.conf.queue = 3;
	group_start(&g);
	ck_assert_ptr_nonnull(g.u->queue_shared);
	for (unsigned i = 0; i < 3; i++)
		ck_assert(shoal_upstream_queue_enter(g.u));
	ck_assert(!shoal_upstream_queue_enter(g.u));
	ck_assert_uint_eq(shoal_upstream_queued(g.u), 3);
	shoal_upstream_queue_leave(g.u);
	ck_assert_uint_eq(shoal_upstream_queued(g.u), 2);
	ck_assert(shoal_upstream_queue_enter(g.u));
	ck_assert(!shoal_upstream_queue_enter(g.u));
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(a_group_without_a_queue_queues_nothing)
{
	struct group g;

	group_conf(&g, SHOAL_BALANCE_ROUND_ROBIN, 2);
	group_start(&g);
	ck_assert_ptr_null(g.u->queue_shared);
	ck_assert(!shoal_upstream_queue_enter(g.u));
	ck_assert_uint_eq(shoal_upstream_queued(g.u), 0);
	shoal_upstream_set_free(&g.set);
}
END_TEST

/* Looped over the balancers. */
START_TEST(a_server_at_max_conns_is_never_chosen)
{
	struct shoal_upstream_pick p;
	unsigned count[MAX_SERVERS] = { 0 };
	struct group g;

	group_conf(&g, balances[_i], 3);
	g.servers[1].max_conns = 2;
	group_start(&g);
	ck_assert(shoal_upstream_reserve(&g.u->servers[1]));
	ck_assert(shoal_upstream_reserve(&g.u->servers[1]));
	for (unsigned i = 0; i < 3000; i++) {
		struct shoal_upstream_server *s = select_one(&g, &p);
		ck_assert_ptr_nonnull(s);
		ck_assert(!p.full);
		count[s->index]++;
	}
	ck_assert_uint_eq(count[1], 0);
	ck_assert_uint_gt(count[0], 0);
	ck_assert_uint_gt(count[2], 0);
	/* Its requests ended: chosen again (as loaded as the others, for least_conn). */
	shoal_upstream_busy(&g.u->servers[1], -1);
	shoal_upstream_busy(&g.u->servers[1], -1);
	for (unsigned i = 0; i < 3000; i++)
		count[select_one(&g, &p)->index]++;
	ck_assert_uint_gt(count[1], 0);
	shoal_upstream_set_free(&g.set);
}
END_TEST

/* Looped over the balancers. */
START_TEST(every_server_at_max_conns_is_full_not_out)
{
	struct shoal_upstream_pick p;
	struct group g;

	group_conf(&g, balances[_i], 3);
	for (size_t i = 0; i < 3; i++)
		g.servers[i].max_conns = 1;
	group_start(&g);
	for (size_t i = 0; i < 3; i++) {
		struct shoal_upstream_server *s = select_one(&g, &p);
		ck_assert_ptr_nonnull(s);
		ck_assert(shoal_upstream_reserve(s));
	}
	ck_assert_ptr_null(select_one(&g, &p));
	ck_assert(p.full);
	/* Out on purpose is not full: nothing to wait for. */
	for (size_t i = 0; i < 3; i++)
		g.u->servers[i].shared->admin = SHOAL_STATE_ADMIN_DRAIN;
	ck_assert_ptr_null(select_one(&g, &p));
	ck_assert(!p.full);
	/* One server back, still full. */
	g.u->servers[2].shared->admin = SHOAL_STATE_ADMIN_UP;
	ck_assert_ptr_null(select_one(&g, &p));
	ck_assert(p.full);
	shoal_upstream_busy(&g.u->servers[2], -1);
	ck_assert_ptr_eq(select_one(&g, &p), &g.u->servers[2]);
	ck_assert(!p.full);
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(a_group_of_one_server_at_max_conns_is_full)
{
	struct shoal_upstream_pick p;
	struct group g;

	group_conf(&g, SHOAL_BALANCE_ROUND_ROBIN, 1);
	g.servers[0].max_conns = 1;
	group_start(&g);
	ck_assert_ptr_eq(select_one(&g, &p), &g.u->servers[0]);
	ck_assert(shoal_upstream_reserve(&g.u->servers[0]));
	ck_assert_ptr_null(select_one(&g, &p));
	ck_assert(p.full);
	g.u->servers[0].shared->admin = SHOAL_STATE_ADMIN_DOWN;
	ck_assert_ptr_null(select_one(&g, &p));
	ck_assert(!p.full);
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(busy_primaries_make_requests_wait_rather_than_go_to_the_backup)
{
	struct shoal_upstream_pick p;
	struct group g;

	group_conf(&g, SHOAL_BALANCE_ROUND_ROBIN, 3);
	g.servers[0].max_conns = g.servers[1].max_conns = 1;
	g.servers[2].backup = true;
	group_start(&g);
	ck_assert(shoal_upstream_reserve(&g.u->servers[0]));
	ck_assert(shoal_upstream_reserve(&g.u->servers[1]));
	ck_assert_ptr_null(select_one(&g, &p));
	ck_assert(p.full);
	/* The primaries down: the backup's turn, as without limits. */
	g.u->servers[0].shared->check = SHOAL_STATE_CHECK_DOWN;
	g.u->servers[1].shared->check = SHOAL_STATE_CHECK_DOWN;
	ck_assert_ptr_eq(select_one(&g, &p), &g.u->servers[2]);
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(panic_ignores_health_but_not_max_conns)
{
	struct shoal_upstream_pick p;
	struct group g;

	group_conf(&g, SHOAL_BALANCE_ROUND_ROBIN, 2);
	g.servers[0].max_conns = 1;
	group_start(&g);
	/* Both down by checks: panic, every primary not out on purpose is a candidate. */
	g.u->servers[0].shared->check = SHOAL_STATE_CHECK_DOWN;
	g.u->servers[1].shared->check = SHOAL_STATE_CHECK_DOWN;
	ck_assert(shoal_upstream_reserve(&g.u->servers[0]));
	for (unsigned i = 0; i < 10; i++) {
		ck_assert_ptr_eq(select_one(&g, &p), &g.u->servers[1]);
		ck_assert(p.panic);
	}
	shoal_upstream_set_free(&g.set);
}
END_TEST

START_TEST(a_retry_does_not_wait_for_a_full_server)
{
	struct shoal_upstream_pick p = { .now_ms = NOW };
	struct group g;

	group_conf(&g, SHOAL_BALANCE_ROUND_ROBIN, 2);
	g.servers[1].max_conns = 1;
	group_start(&g);
	ck_assert(shoal_upstream_reserve(&g.u->servers[1]));
	/* Server 0 was tried: the only other one is full, so the tried one comes back (the
	 * proxy then gives up), and no wait is offered. */
	p.tried[p.ntried++] = 0;
	ck_assert_ptr_eq(shoal_upstream_select(g.u, &p), &g.u->servers[0]);
	ck_assert(!p.avoid_tried);
	ck_assert(!p.full);
	shoal_upstream_set_free(&g.set);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("upstream_limit");
	TCase *reserve = tcase_create("reserve");
	TCase *queue = tcase_create("queue");
	TCase *choice = tcase_create("choice");
	int nbalances = (int)(sizeof(balances) / sizeof(balances[0]));

	tcase_add_test(reserve, reserve_stops_at_max_conns_and_busy_frees_a_place);
	tcase_add_test(reserve, without_max_conns_reserve_always_counts);
	tcase_add_test(reserve, reserve_is_exact_across_processes);
	tcase_add_test(queue, the_queue_takes_queue_requests_and_leaving_frees_a_place);
	tcase_add_test(queue, a_group_without_a_queue_queues_nothing);
	tcase_add_test(queue, the_queue_is_exact_across_processes);
	tcase_add_loop_test(choice, a_server_at_max_conns_is_never_chosen, 0, nbalances);
	tcase_add_loop_test(choice, every_server_at_max_conns_is_full_not_out, 0, nbalances);
	tcase_add_test(choice, a_group_of_one_server_at_max_conns_is_full);
	tcase_add_test(choice, busy_primaries_make_requests_wait_rather_than_go_to_the_backup);
	tcase_add_test(choice, panic_ignores_health_but_not_max_conns);
	tcase_add_test(choice, a_retry_does_not_wait_for_a_full_server);
	suite_add_tcase(s, reserve);
	suite_add_tcase(s, queue);
	suite_add_tcase(s, choice);
	return shoal_check_run(s);
}
