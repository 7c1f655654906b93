#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/upstream/balancer.h"
#include "shoal/upstream/health.h"
#include "shoal/upstream/upstream.h"

#include "check_run.h"

#define MAX_SERVERS 6
#define NKEYS 10000
/* A fixed seed: the random balancers give the same picks on every run. */
#define SEED 0x9e3779b97f4a7c15ull
/* Picks happen at this time; nothing ramps (slow start is off unless a test sets it). */
#define NOW 1000000

/* One group of servers at 10.0.0.1:80, 10.0.0.2:80, ... (the balancers never connect). */
struct group {
	struct shoal_upstream_server_conf servers[MAX_SERVERS];
	struct shoal_upstream_conf conf;
	struct shoal_config cfg;
	struct shoal_upstream_set set;
	struct shoal_upstream *u;
};

/* Fills g's configuration; the test may change it before group_start. */
static void group_conf(struct group *g, enum shoal_balance balance, const int *weights, size_t n)
{
	memset(g, 0, sizeof(*g));
	ck_assert_uint_le(n, MAX_SERVERS);
	for (size_t i = 0; i < n; i++) {
		char text[32];
		snprintf(text, sizeof(text), "10.0.0.%zu:80", i + 1);
		ck_assert_int_eq(shoal_addr_parse(text, &g->servers[i].address, NULL), 0);
		g->servers[i].weight = weights[i];
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
	g->set.rng = SEED;
	g->u = &g->set.groups[0];
}

static void group_init(struct group *g, enum shoal_balance balance, const int *weights, size_t n)
{
	group_conf(g, balance, weights, n);
	group_start(g);
}

static void group_free(struct group *g)
{
	shoal_upstream_set_free(&g->set);
}

static struct shoal_state_upstream *shared(struct group *g, size_t i)
{
	return g->u->servers[i].shared;
}

/* The index of the server chosen for a first try with key hash, or -1 for none. */
static int pick_hash(struct shoal_upstream *u, uint64_t hash)
{
	struct shoal_upstream_pick p = { .now_ms = NOW, .hash = hash };
	struct shoal_upstream_server *s = shoal_upstream_select(u, &p);

	if (!s)
		return -1;
	ck_assert_ptr_eq(s, &u->servers[s->index]);
	return (int)s->index;
}

static int pick_one(struct shoal_upstream *u)
{
	return pick_hash(u, 0);
}

/* n picks; count[i] is how many went to server i. A pick of nobody fails the test. */
static void count_picks(struct shoal_upstream *u, unsigned n, unsigned *count)
{
	memset(count, 0, MAX_SERVERS * sizeof(*count));
	for (unsigned i = 0; i < n; i++) {
		int s = pick_one(u);
		ck_assert_int_ge(s, 0);
		count[s]++;
	}
}

/* got is within pct percent of expected. */
static void assert_near(unsigned got, double expected, double pct)
{
	ck_assert_msg(got >= expected * (1 - pct / 100) && got <= expected * (1 + pct / 100),
		      "%u is not within %g%% of %g", got, pct, expected);
}

/* --- round robin ---------------------------------------------------------------------- */

START_TEST(rr_5_1_1_is_the_smooth_sequence)
{
	static const int w[] = { 5, 1, 1 };
	static const int expected[] = { 0, 0, 1, 0, 2, 0, 0 };
	struct group g;

	group_init(&g, SHOAL_BALANCE_ROUND_ROBIN, w, 3);
	ck_assert_str_eq(g.u->balancer->name, "round_robin");
	for (size_t cycle = 0; cycle < 3; cycle++)
		for (size_t i = 0; i < 7; i++)
			ck_assert_int_eq(pick_one(g.u), expected[i]);
	group_free(&g);
}
END_TEST

START_TEST(rr_server_taken_down_gets_nothing_and_the_others_keep_their_ratio)
{
	static const int w[] = { 5, 1, 1 };
	unsigned count[MAX_SERVERS];
	struct group g;

	group_init(&g, SHOAL_BALANCE_ROUND_ROBIN, w, 3);
	/* Mid-cycle, with running weights that no longer sum to zero over the rest. */
	for (size_t i = 0; i < 3; i++)
		pick_one(g.u);
	shared(&g, 1)->admin = SHOAL_STATE_ADMIN_DOWN;
	count_picks(g.u, 600, count);
	ck_assert_uint_eq(count[1], 0);
	ck_assert_uint_ge(count[0], 499);
	ck_assert_uint_le(count[0], 501);
	ck_assert_uint_eq(count[0] + count[2], 600);
	/* Back up: it takes its share again. */
	shared(&g, 1)->admin = SHOAL_STATE_ADMIN_UP;
	count_picks(g.u, 700, count);
	ck_assert_uint_ge(count[1], 99);
	ck_assert_uint_le(count[1], 101);
	group_free(&g);
}
END_TEST

START_TEST(rr_1_2_3_over_6000_is_exact)
{
	static const int w[] = { 1, 2, 3 };
	unsigned count[MAX_SERVERS];
	struct group g;

	group_init(&g, SHOAL_BALANCE_ROUND_ROBIN, w, 3);
	count_picks(g.u, 6000, count);
	ck_assert_uint_eq(count[0], 1000);
	ck_assert_uint_eq(count[1], 2000);
	ck_assert_uint_eq(count[2], 3000);
	group_free(&g);
}
END_TEST

/* --- least_conn and random -------------------------------------------------------------- */

/* _i: 0 least_conn, 1 random; both draw two and keep the less loaded per unit of weight. */
static const enum shoal_balance two_choices[] = { SHOAL_BALANCE_LEAST_CONN, SHOAL_BALANCE_RANDOM };

START_TEST(two_choices_never_pick_the_loaded_server)
{
	static const int w[] = { 1, 1, 1 };
	unsigned count[MAX_SERVERS];
	struct group g;

	group_init(&g, two_choices[_i], w, 3);
	ck_assert_str_eq(g.u->balancer->name, _i ? "random" : "least_conn");
	shared(&g, 0)->active = 10;
	/* Of any two drawn among three, at least one is idle: the loaded one never wins. */
	count_picks(g.u, 1000, count);
	ck_assert_uint_eq(count[0], 0);
	assert_near(count[1], 500, 10);
	group_free(&g);
}
END_TEST

START_TEST(two_choices_with_equal_loads_follow_the_weights)
{
	static const int w[] = { 1, 3 };
	unsigned count[MAX_SERVERS];
	struct group g;

	group_init(&g, two_choices[_i], w, 2);
	count_picks(g.u, 10000, count);
	assert_near(count[0], 2500, 5);
	assert_near(count[1], 7500, 5);
	/* Loads per unit of weight equal but not zero: still a tie, still the weights. */
	shared(&g, 0)->active = 7;
	shared(&g, 1)->active = 21;
	count_picks(g.u, 10000, count);
	assert_near(count[0], 2500, 5);
	/* Equal counts are not equal loads: the heavier server is the less loaded one per unit
	 * of weight, and with two servers both are drawn every time. */
	shared(&g, 1)->active = 7;
	count_picks(g.u, 1000, count);
	ck_assert_uint_eq(count[1], 1000);
	group_free(&g);
}
END_TEST

START_TEST(two_choices_keep_loads_in_proportion_to_the_weights)
{
	static const int w[] = { 1, 3 };
	struct group g;

	group_init(&g, two_choices[_i], w, 2);
	/* Requests that never finish: each pick adds to its server's load. */
	for (unsigned i = 0; i < 4000; i++) {
		int s = pick_one(g.u);
		ck_assert_int_ge(s, 0);
		shoal_upstream_busy(&g.u->servers[s], +1);
	}
	ck_assert_uint_ge(shared(&g, 0)->active, 999);
	ck_assert_uint_le(shared(&g, 0)->active, 1001);
	group_free(&g);
}
END_TEST

START_TEST(two_choices_steer_away_from_a_server_whose_requests_never_finish)
{
	static const int w[] = { 1, 1, 1 };
	unsigned stuck = 0;
	struct group g;

	group_init(&g, two_choices[_i], w, 3);
	/* Requests to 1 and 2 finish before the next pick; those to 0 hang. */
	for (unsigned i = 0; i < 1000; i++) {
		int s = pick_one(g.u);
		ck_assert_int_ge(s, 0);
		if (s == 0) {
			shoal_upstream_busy(&g.u->servers[0], +1);
			stuck++;
		}
	}
	ck_assert_uint_le(stuck, 5);
	group_free(&g);
}
END_TEST

START_TEST(two_choices_take_the_only_candidate_however_loaded)
{
	static const int w[] = { 1, 1, 1 };
	struct group g;

	group_init(&g, two_choices[_i], w, 3);
	shared(&g, 0)->active = 1000;
	shared(&g, 1)->admin = SHOAL_STATE_ADMIN_DOWN;
	shared(&g, 2)->admin = SHOAL_STATE_ADMIN_DRAIN;
	for (unsigned i = 0; i < 10; i++)
		ck_assert_int_eq(pick_one(g.u), 0);
	group_free(&g);
}
END_TEST

START_TEST(random_1_2_3_over_60000_is_within_3_percent)
{
	static const int w[] = { 1, 2, 3 };
	unsigned count[MAX_SERVERS];
	struct group g;

	group_init(&g, SHOAL_BALANCE_RANDOM, w, 3);
	/* Equal loads per unit of weight. */
	for (size_t i = 0; i < 3; i++)
		shared(&g, i)->active = 2 * (uint32_t)w[i];
	count_picks(g.u, 60000, count);
	assert_near(count[0], 10000, 3);
	assert_near(count[1], 20000, 3);
	assert_near(count[2], 30000, 3);
	group_free(&g);
}
END_TEST

/* --- hash ----------------------------------------------------------------------------- */

static uint64_t key_hash(unsigned i)
{
	char key[32];
	int len = snprintf(key, sizeof(key), "key-%u", i);

	return shoal_upstream_hash(key, (size_t)len);
}

/* to[k]: the server index of key k. */
static void map_keys(struct shoal_upstream *u, int *to)
{
	for (unsigned k = 0; k < NKEYS; k++)
		to[k] = pick_hash(u, key_hash(k));
}

static int before[NKEYS], after[NKEYS];

static void hash_group(struct group *g, size_t n)
{
	static const int w[MAX_SERVERS] = { 1, 1, 1, 1, 1, 1 };

	group_init(g, SHOAL_BALANCE_HASH, w, n);
	ck_assert_str_eq(g->u->balancer->name, "hash");
	map_keys(g->u, before);
}

/* Every key of a server other than gone stays put; gone's keys all move; the moved share is
 * at most 1/n + 2%. map gives after's server index in before's group. */
static void assert_only_keys_of(int gone, size_t n, const int *map)
{
	unsigned moved = 0;

	for (unsigned k = 0; k < NKEYS; k++) {
		ck_assert_int_ge(after[k], 0);
		if (before[k] != gone) {
			ck_assert_int_eq(map[after[k]], before[k]);
			continue;
		}
		ck_assert_int_ne(map[after[k]], gone);
		moved++;
	}
	ck_assert_uint_gt(moved, 0);
	ck_assert_uint_le(moved, NKEYS / n + NKEYS * 2 / 100);
}

START_TEST(hash_server_taken_down_moves_only_its_keys)
{
	static const int same[MAX_SERVERS] = { 0, 1, 2, 3, 4, 5 };
	struct group g;

	hash_group(&g, 5);
	shared(&g, (size_t)_i)->admin = SHOAL_STATE_ADMIN_DOWN;
	map_keys(g.u, after);
	assert_only_keys_of(_i, 5, same);
	/* Back up: every key returns. */
	shared(&g, (size_t)_i)->admin = SHOAL_STATE_ADMIN_UP;
	map_keys(g.u, after);
	ck_assert_mem_eq(after, before, sizeof(before));
	group_free(&g);
}
END_TEST

START_TEST(hash_server_removed_from_the_configuration_moves_only_its_keys)
{
	struct group g, without;
	int map[MAX_SERVERS];
	size_t n = 0;

	hash_group(&g, 5);
	group_conf(&without, SHOAL_BALANCE_HASH, (const int[]){ 1, 1, 1, 1 }, 4);
	for (size_t i = 0; i < 5; i++) {
		if (i == (size_t)_i)
			continue;
		without.servers[n].address = g.servers[i].address;
		map[n++] = (int)i;
	}
	group_start(&without);
	map_keys(without.u, after);
	assert_only_keys_of(_i, 5, map);
	group_free(&without);
	group_free(&g);
}
END_TEST

START_TEST(hash_equal_weights_spread_within_15_percent_of_the_mean)
{
	unsigned count[MAX_SERVERS] = { 0 };
	struct group g;

	hash_group(&g, 5);
	for (unsigned k = 0; k < NKEYS; k++)
		count[before[k]]++;
	for (size_t i = 0; i < 5; i++)
		assert_near(count[i], NKEYS / 5, 15);
	group_free(&g);
}
END_TEST

START_TEST(hash_weights_set_the_shares)
{
	unsigned count[MAX_SERVERS] = { 0 };
	struct group g;

	group_init(&g, SHOAL_BALANCE_HASH, (const int[]){ 1, 3 }, 2);
	map_keys(g.u, before);
	for (unsigned k = 0; k < NKEYS; k++)
		count[before[k]]++;
	assert_near(count[1], NKEYS * 3 / 4, 5);
	group_free(&g);
}
END_TEST

START_TEST(hash_bounded_load_passes_an_overloaded_server_to_the_next_on_the_ring)
{
	static const int same[MAX_SERVERS] = { 0, 1, 2, 3, 4, 5 };
	struct group g;

	group_conf(&g, SHOAL_BALANCE_HASH, (const int[]){ 1, 1, 1, 1, 1 }, 5);
	g.conf.policy.hash_balance_factor = 150;
	group_start(&g);
	map_keys(g.u, before);
	/* 14 + 1 against 1.5 x (54 + 1) / 5 = 16.5: within the bound, nothing moves. */
	for (size_t i = 0; i < 5; i++)
		shared(&g, i)->active = 10;
	shared(&g, 2)->active = 14;
	map_keys(g.u, after);
	ck_assert_mem_eq(after, before, sizeof(before));
	/* 100 + 1 against 1.5 x (140 + 1) / 5 = 42.3: its keys go where they go when it is
	 * down, the next server clockwise, and no other key moves. */
	shared(&g, 2)->active = 100;
	map_keys(g.u, after);
	assert_only_keys_of(2, 5, same);
	shared(&g, 2)->active = 0;
	shared(&g, 2)->admin = SHOAL_STATE_ADMIN_DOWN;
	map_keys(g.u, before);
	ck_assert_mem_eq(after, before, sizeof(before));
	group_free(&g);
}
END_TEST

/* The most requests in flight on one server after 1000 picks of one key that never finish. */
static unsigned hot_key_max(int factor)
{
	unsigned most = 0;
	struct group g;

	group_conf(&g, SHOAL_BALANCE_HASH, (const int[]){ 1, 1, 1, 1, 1 }, 5);
	g.conf.policy.hash_balance_factor = factor;
	group_start(&g);
	for (unsigned i = 0; i < 1000; i++) {
		int s = pick_hash(g.u, key_hash(7));
		ck_assert_int_ge(s, 0);
		shoal_upstream_busy(&g.u->servers[s], +1);
	}
	for (size_t i = 0; i < 5; i++)
		most = shared(&g, i)->active > most ? shared(&g, i)->active : most;
	group_free(&g);
	return most;
}

START_TEST(hash_bounded_load_keeps_a_hot_key_under_the_factor_of_the_mean)
{
	ck_assert_uint_eq(hot_key_max(0), 1000);
	/* 1.5 x the mean of 200. */
	ck_assert_uint_le(hot_key_max(150), 300);
}
END_TEST

START_TEST(hash_maps_a_key_by_the_addresses_only)
{
	struct group g, reversed;

	hash_group(&g, 5);
	/* A second init, with the servers listed the other way round. */
	group_conf(&reversed, SHOAL_BALANCE_HASH, (const int[]){ 1, 1, 1, 1, 1 }, 5);
	for (size_t i = 0; i < 5; i++)
		reversed.servers[i].address = g.servers[4 - i].address;
	group_start(&reversed);
	map_keys(reversed.u, after);
	for (unsigned k = 0; k < NKEYS; k++)
		ck_assert_int_eq(4 - after[k], before[k]);
	/* Another process, machine or version of shoal must place a key where this one does:
	 * the hash and the places below were taken from this build. */
	ck_assert_uint_eq(shoal_upstream_hash("key-0", 5), 1734865316076021129ull);
	ck_assert_str_eq(g.servers[before[0]].address.text, "10.0.0.2:80");
	ck_assert_str_eq(g.servers[before[1]].address.text, "10.0.0.3:80");
	ck_assert_str_eq(g.servers[before[2]].address.text, "10.0.0.2:80");
	group_free(&reversed);
	group_free(&g);
}
END_TEST

START_TEST(hash_backups_take_every_key_only_when_no_primary_is_usable)
{
	unsigned count[MAX_SERVERS] = { 0 };
	struct group g;

	group_conf(&g, SHOAL_BALANCE_HASH, (const int[]){ 1, 1, 1, 1 }, 4);
	g.servers[2].backup = g.servers[3].backup = true;
	group_start(&g);
	map_keys(g.u, before);
	for (unsigned k = 0; k < NKEYS; k++)
		ck_assert_int_lt(before[k], 2);
	shared(&g, 0)->check = shared(&g, 1)->check = SHOAL_STATE_CHECK_DOWN;
	map_keys(g.u, after);
	for (unsigned k = 0; k < NKEYS; k++)
		count[after[k]]++;
	ck_assert_uint_eq(count[2] + count[3], NKEYS);
	assert_near(count[2], NKEYS / 2, 15);
	group_free(&g);
}
END_TEST

/* --- tiers ---------------------------------------------------------------------------- */

static const enum shoal_balance every_balance[] = { SHOAL_BALANCE_ROUND_ROBIN,
						    SHOAL_BALANCE_LEAST_CONN,
						    SHOAL_BALANCE_RANDOM, SHOAL_BALANCE_HASH };

/* Picks over many keys (hash) or draws (the others): count[i] is server i's share. */
static void count_keys(struct shoal_upstream *u, unsigned n, unsigned *count)
{
	memset(count, 0, MAX_SERVERS * sizeof(*count));
	for (unsigned k = 0; k < n; k++) {
		int s = pick_hash(u, key_hash(k));
		ck_assert_int_ge(s, 0);
		count[s]++;
	}
}

START_TEST(backups_get_nothing_while_a_primary_is_usable)
{
	unsigned count[MAX_SERVERS];
	struct group g;

	group_conf(&g, every_balance[_i], (const int[]){ 1, 1, 1, 1 }, 4);
	g.servers[2].backup = g.servers[3].backup = true;
	group_start(&g);
	shared(&g, 0)->ejected_until_ms = NOW + 1;
	count_keys(g.u, 1000, count);
	ck_assert_uint_eq(count[1], 1000);
	shared(&g, 1)->check = SHOAL_STATE_CHECK_DOWN;
	count_keys(g.u, 1000, count);
	ck_assert_uint_eq(count[2] + count[3], 1000);
	ck_assert_uint_gt(count[2], 100);
	ck_assert_uint_gt(count[3], 100);
	group_free(&g);
}
END_TEST

START_TEST(panic_spreads_over_the_primaries_not_taken_out_on_purpose)
{
	unsigned count[MAX_SERVERS];
	struct group g;

	/* 0 usable, 1 ejected, 2 checked down, 3 drained, 4 down by configuration. */
	group_conf(&g, every_balance[_i], (const int[]){ 1, 1, 1, 1, 1 }, 5);
	g.servers[4].down = true;
	g.conf.policy.panic_threshold = 50;
	group_start(&g);
	shared(&g, 1)->ejected_until_ms = NOW + 1;
	shared(&g, 2)->check = SHOAL_STATE_CHECK_DOWN;
	shared(&g, 3)->admin = SHOAL_STATE_ADMIN_DRAIN;
	count_keys(g.u, 3000, count);
	for (size_t i = 0; i < 3; i++)
		ck_assert_uint_gt(count[i], 500);
	ck_assert_uint_eq(count[3] + count[4], 0);
	/* Without a threshold the one usable server takes everything. */
	g.conf.policy.panic_threshold = 0;
	count_keys(g.u, 3000, count);
	ck_assert_uint_eq(count[0], 3000);
	group_free(&g);
}
END_TEST

/* 1 of 2 primaries in service usable is 50 %: no panic, though 2 more are drained. */
START_TEST(drained_servers_do_not_count_towards_panic)
{
	unsigned count[MAX_SERVERS];
	struct group g;

	group_conf(&g, every_balance[_i], (const int[]){ 1, 1, 1, 1 }, 4);
	g.conf.policy.panic_threshold = 50;
	group_start(&g);
	shared(&g, 1)->ejected_until_ms = NOW + 1;
	shared(&g, 2)->admin = SHOAL_STATE_ADMIN_DRAIN;
	shared(&g, 3)->admin = SHOAL_STATE_ADMIN_DRAIN;
	count_keys(g.u, 1000, count);
	ck_assert_uint_eq(count[0], 1000);
	/* A third in service that is ejected is below 50 %: panic over the two in service. */
	shared(&g, 3)->admin = SHOAL_STATE_ADMIN_UP;
	shared(&g, 3)->ejected_until_ms = NOW + 1;
	count_keys(g.u, 3000, count);
	ck_assert_uint_gt(count[1], 500);
	ck_assert_uint_gt(count[3], 500);
	ck_assert_uint_eq(count[2], 0);
	group_free(&g);
}
END_TEST

START_TEST(no_usable_server_panics_over_the_primaries)
{
	unsigned count[MAX_SERVERS];
	struct group g;

	group_conf(&g, every_balance[_i], (const int[]){ 1, 1, 1, 1 }, 4);
	g.servers[3].backup = true;
	group_start(&g);
	shared(&g, 0)->ejected_until_ms = NOW + 1;
	shared(&g, 1)->check = SHOAL_STATE_CHECK_DOWN;
	shared(&g, 2)->ejected_until_ms = NOW + 1;
	shared(&g, 3)->check = SHOAL_STATE_CHECK_DOWN;
	count_keys(g.u, 3000, count);
	for (size_t i = 0; i < 3; i++)
		ck_assert_uint_gt(count[i], 500);
	ck_assert_uint_eq(count[3], 0);
	group_free(&g);
}
END_TEST

START_TEST(every_server_down_by_shoalctl_gives_none)
{
	struct shoal_upstream_pick retry = { .now_ms = NOW, .tried = { 0 }, .ntried = 1 };
	struct group g;

	group_conf(&g, every_balance[_i], (const int[]){ 1, 1, 1 }, 3);
	g.servers[2].backup = true;
	group_start(&g);
	for (size_t i = 0; i < 3; i++)
		shared(&g, i)->admin = SHOAL_STATE_ADMIN_DOWN;
	ck_assert_int_eq(pick_hash(g.u, key_hash(1)), -1);
	/* A retry too: avoiding nothing finds nothing either. */
	ck_assert_ptr_null(shoal_upstream_select(g.u, &retry));
	group_free(&g);
}
END_TEST

START_TEST(a_retry_avoids_the_tried_servers_while_another_is_a_candidate)
{
	struct group g;

	group_init(&g, every_balance[_i], (const int[]){ 1, 1, 1 }, 3);
	for (unsigned k = 0; k < 300; k++) {
		struct shoal_upstream_pick p = { .now_ms = NOW, .hash = key_hash(k),
						 .tried = { 0, 2 }, .ntried = 2 };
		struct shoal_upstream_server *s = shoal_upstream_select(g.u, &p);
		ck_assert_ptr_nonnull(s);
		ck_assert_uint_eq(s->index, 1);
	}
	/* The only server left was tried: it takes the retry rather than nobody. */
	shared(&g, 1)->admin = shared(&g, 2)->admin = SHOAL_STATE_ADMIN_DOWN;
	for (unsigned k = 0; k < 30; k++) {
		struct shoal_upstream_pick p = { .now_ms = NOW, .hash = key_hash(k),
						 .tried = { 0 }, .ntried = 1 };
		struct shoal_upstream_server *s = shoal_upstream_select(g.u, &p);
		ck_assert_ptr_nonnull(s);
		ck_assert_uint_eq(s->index, 0);
	}
	group_free(&g);
}
END_TEST

START_TEST(balancer_for_names_each_algorithm)
{
	ck_assert_ptr_eq(shoal_balancer_for(SHOAL_BALANCE_ROUND_ROBIN), &shoal_balancer_rr);
	ck_assert_ptr_eq(shoal_balancer_for(SHOAL_BALANCE_LEAST_CONN), &shoal_balancer_least_conn);
	ck_assert_ptr_eq(shoal_balancer_for(SHOAL_BALANCE_RANDOM), &shoal_balancer_random);
	ck_assert_ptr_eq(shoal_balancer_for(SHOAL_BALANCE_HASH), &shoal_balancer_hash);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("balancer");
	TCase *rr = tcase_create("round_robin");
	TCase *two = tcase_create("two_choices");
	TCase *hash = tcase_create("hash");
	TCase *tiers = tcase_create("tiers");

	tcase_add_test(rr, rr_5_1_1_is_the_smooth_sequence);
	tcase_add_test(rr, rr_server_taken_down_gets_nothing_and_the_others_keep_their_ratio);
	tcase_add_test(rr, rr_1_2_3_over_6000_is_exact);
	suite_add_tcase(s, rr);
	tcase_add_loop_test(two, two_choices_never_pick_the_loaded_server, 0, 2);
	tcase_add_loop_test(two, two_choices_with_equal_loads_follow_the_weights, 0, 2);
	tcase_add_loop_test(two, two_choices_keep_loads_in_proportion_to_the_weights, 0, 2);
	tcase_add_loop_test(two, two_choices_steer_away_from_a_server_whose_requests_never_finish,
			    0, 2);
	tcase_add_loop_test(two, two_choices_take_the_only_candidate_however_loaded, 0, 2);
	tcase_add_test(two, random_1_2_3_over_60000_is_within_3_percent);
	suite_add_tcase(s, two);
	tcase_add_loop_test(hash, hash_server_taken_down_moves_only_its_keys, 0, 5);
	tcase_add_loop_test(hash, hash_server_removed_from_the_configuration_moves_only_its_keys,
			    0, 5);
	tcase_add_test(hash, hash_equal_weights_spread_within_15_percent_of_the_mean);
	tcase_add_test(hash, hash_weights_set_the_shares);
	tcase_add_test(hash, hash_bounded_load_passes_an_overloaded_server_to_the_next_on_the_ring);
	tcase_add_test(hash, hash_bounded_load_keeps_a_hot_key_under_the_factor_of_the_mean);
	tcase_add_test(hash, hash_maps_a_key_by_the_addresses_only);
	tcase_add_test(hash, hash_backups_take_every_key_only_when_no_primary_is_usable);
	suite_add_tcase(s, hash);
	tcase_add_loop_test(tiers, backups_get_nothing_while_a_primary_is_usable, 0, 4);
	tcase_add_loop_test(tiers, panic_spreads_over_the_primaries_not_taken_out_on_purpose, 0, 4);
	tcase_add_loop_test(tiers, no_usable_server_panics_over_the_primaries, 0, 4);
	tcase_add_loop_test(tiers, drained_servers_do_not_count_towards_panic, 0, 4);
	tcase_add_loop_test(tiers, every_server_down_by_shoalctl_gives_none, 0, 4);
	tcase_add_loop_test(tiers, a_retry_avoids_the_tried_servers_while_another_is_a_candidate, 0,
			    4);
	tcase_add_test(tiers, balancer_for_names_each_algorithm);
	suite_add_tcase(s, tiers);
	return shoal_check_run(s);
}
