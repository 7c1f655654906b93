#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/handler/limit.h"
#include "shoal/master/limit.h"

#include "check_run.h"

struct fixture {
	char dir[64];
	char state[128];
	char log_path[128];
	struct shoal_state st;
	struct shoal_log log;
	struct shoal_limit_zone_conf zones[2];
	struct shoal_config cfg;
};

static void fixture_open(struct fixture *f)
{
	struct shoal_err err = { "" };

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/shoal-mlimit-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	snprintf(f->log_path, sizeof(f->log_path), "%s/error.log", f->dir);
	ck_assert_msg(shoal_state_create(&f->st, f->state, (uid_t)-1, (gid_t)-1, &err) == 0, "%s",
		      err.msg);
	shoal_log_init(&f->log, "master");
	ck_assert_msg(shoal_log_open(&f->log, f->log_path, SHOAL_LOG_INFO, &err) == 0, "%s",
		      err.msg);
	f->zones[0] = (struct shoal_limit_zone_conf){
		.name = "perip", .key = "client_ip", .rate = 10, .burst = 0, .size = 1024,
	};
	f->zones[1] = (struct shoal_limit_zone_conf){
		.name = "inflight", .key = "header:X-Api-Key", .conn = 2, .size = 64,
	};
	f->cfg.limit_zones = f->zones;
	f->cfg.nlimit_zones = 2;
}

static void fixture_close(struct fixture *f)
{
	shoal_log_close(&f->log);
	unlink(f->log_path);
	shoal_state_close(&f->st, true);
	ck_assert_int_eq(rmdir(f->dir), 0);
}

/* A generation of f's configuration as it is now; its zones into zones. */
static void generation(struct fixture *f, struct shoal_state_limit_zone **zones)
{
	struct shoal_err err = { "" };

	ck_assert_msg(shoal_master_limit_add(&f->st, &f->cfg, &f->log, zones, &err) == 0, "%s",
		      err.msg);
}

static bool take(struct fixture *f, struct shoal_state_limit_zone *z, uint64_t now)
{
	uint64_t retry;

	return shoal_state_limit_take(z, shoal_state_limit_hash(&f->st, "10.0.0.1", 8), "10.0.0.1",
				      8, now, &retry);
}

/* The log holds want, once. */
static void expect_logged(const struct fixture *f, const char *want)
{
	char buf[8192];
	FILE *in = fopen(f->log_path, "r");
	size_t n;

	ck_assert_ptr_nonnull(in);
	n = fread(buf, 1, sizeof(buf) - 1, in);
	fclose(in);
	buf[n] = '\0';
	ck_assert_msg(strstr(buf, want), "'%s' not in the log:\n%s", want, buf);
	ck_assert_msg(!strstr(strstr(buf, want) + 1, want), "'%s' twice in the log", want);
}

START_TEST(zones_get_tables_and_the_workers_find_them)
{
	struct fixture f;
	struct shoal_state_limit_zone *zones[2];
	struct shoal_state_limit_spec spec;

	fixture_open(&f);
	generation(&f, zones);
	ck_assert_uint_eq(shoal_state_limit_count(&f.st), 2);
	for (int i = 0; i < 2; i++) {
		spec = shoal_limit_spec(&f.zones[i]);
		ck_assert_ptr_eq(shoal_state_limit_find(&f.st, &spec), zones[i]);
	}
	ck_assert_uint_eq(zones[0]->kind, SHOAL_STATE_LIMIT_RATE);
	ck_assert_uint_eq(zones[0]->interval_us, 100000);
	ck_assert_uint_eq(zones[1]->kind, SHOAL_STATE_LIMIT_CONN);
	ck_assert_uint_eq(zones[1]->conn, 2);
	ck_assert_uint_eq(zones[1]->buckets, 8);
	expect_logged(&f, "limit zone perip: new, 1024 keys");
	expect_logged(&f, "limit zone inflight: new, 64 keys");
	fixture_close(&f);
}
END_TEST

/* The next generation keeps a zone whose key, kind and size stay: the same table and state,
 * its new rate read by every worker of either generation. */
START_TEST(a_zone_of_the_same_signature_is_kept)
{
	struct fixture f;
	struct shoal_state_limit_zone *first[2], *second[2];

	fixture_open(&f);
	generation(&f, first);
	ck_assert(take(&f, first[0], 0));
	ck_assert(!take(&f, first[0], 1000));
	f.zones[0].rate = 20;
	f.zones[1].conn = 3;
	generation(&f, second);
	ck_assert_ptr_eq(second[0], first[0]);
	ck_assert_ptr_eq(second[1], first[1]);
	ck_assert_uint_eq(shoal_state_limit_count(&f.st), 2);
	ck_assert_uint_eq(first[0]->interval_us, 50000);
	ck_assert_uint_eq(first[1]->conn, 3);
	/* The key's tat (100 ms) is still there. */
	ck_assert(!take(&f, second[0], 99999));
	ck_assert(take(&f, second[0], 100000));
	ck_assert_uint_eq(second[0]->passed, 2);
	ck_assert_uint_eq(second[0]->rejected, 2);
	expect_logged(&f, "limit zone perip: rate 10/s burst 0 -> 20/s burst 0, its keys' state "
		      "kept");
	expect_logged(&f, "limit zone inflight: conn 2 -> 3, its keys' state kept");
	fixture_close(&f);
}
END_TEST

START_TEST(a_zone_of_another_key_size_or_kind_starts_afresh)
{
	struct fixture f;
	struct shoal_state_limit_zone *first[2], *second[2], *third[2];

	fixture_open(&f);
	generation(&f, first);
	ck_assert(take(&f, first[0], 0));
	f.zones[0].key = "client_ip+uri";
	f.zones[1].size = 128;
	generation(&f, second);
	ck_assert_ptr_ne(second[0], first[0]);
	ck_assert_ptr_ne(second[1], first[1]);
	ck_assert_uint_eq(atomic_load(&first[0]->retired), 1);
	ck_assert_ptr_eq(shoal_state_limit_live(&f.st, "perip"), second[0]);
	ck_assert(take(&f, second[0], 1000));
	/* The previous generation's workers go on with the old table. */
	ck_assert(!take(&f, first[0], 1000));
	expect_logged(&f, "limit zone perip: key changed, starting afresh");
	expect_logged(&f, "limit zone inflight: size changed, starting afresh");
	f.zones[1].conn = 0;
	f.zones[1].rate = 5;
	generation(&f, third);
	ck_assert_ptr_eq(third[0], second[0]);
	ck_assert_uint_eq(third[1]->kind, SHOAL_STATE_LIMIT_RATE);
	expect_logged(&f, "limit zone inflight: kind changed, starting afresh");
	ck_assert_uint_eq(shoal_state_limit_count(&f.st), 5);
	fixture_close(&f);
}
END_TEST

START_TEST(a_zone_no_longer_configured_is_retired)
{
	struct fixture f;
	struct shoal_state_limit_zone *first[2], *second[2];

	fixture_open(&f);
	generation(&f, first);
	f.cfg.nlimit_zones = 1;
	generation(&f, second);
	ck_assert_ptr_eq(second[0], first[0]);
	ck_assert_uint_eq(atomic_load(&first[0]->retired), 0);
	ck_assert_uint_eq(atomic_load(&first[1]->retired), 1);
	ck_assert_ptr_null(shoal_state_limit_live(&f.st, "inflight"));
	expect_logged(&f, "limit zone inflight: no longer configured");
	f.cfg.nlimit_zones = 2;
	generation(&f, second);
	ck_assert_ptr_ne(second[1], first[1]);
	fixture_close(&f);
}
END_TEST

/* A generation whose tables do not fit changes nothing: the previous one goes on as it was. */
START_TEST(a_generation_that_does_not_fit_changes_nothing)
{
	struct fixture f;
	struct shoal_state_limit_zone *first[2];
	struct shoal_err err = { "" };
	uint64_t used;

	fixture_open(&f);
	generation(&f, first);
	used = f.st.hdr->limit_used;
	f.zones[0].rate = 50;
	f.zones[1].size = 1000000000;
	ck_assert_int_eq(shoal_master_limit_add(&f.st, &f.cfg, &f.log, NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "restart to compact"), "%s", err.msg);
	ck_assert_uint_eq(shoal_state_limit_count(&f.st), 2);
	ck_assert_uint_eq(f.st.hdr->limit_used, used);
	ck_assert_uint_eq(atomic_load(&first[1]->retired), 0);
	ck_assert_uint_eq(first[0]->interval_us, 100000);
	f.cfg.nlimit_zones = SHOAL_STATE_LIMIT_ZONES + 1;
	ck_assert_int_eq(shoal_master_limit_add(&f.st, &f.cfg, &f.log, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "65 limit zones; at most 64");
	fixture_close(&f);
}
END_TEST

static Suite *master_limit_suite(void)
{
	Suite *s = suite_create("master_limit");
	TCase *tc = tcase_create("generations");

	tcase_add_test(tc, zones_get_tables_and_the_workers_find_them);
	tcase_add_test(tc, a_zone_of_the_same_signature_is_kept);
	tcase_add_test(tc, a_zone_of_another_key_size_or_kind_starts_afresh);
	tcase_add_test(tc, a_zone_no_longer_configured_is_retired);
	tcase_add_test(tc, a_generation_that_does_not_fit_changes_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return shoal_check_run(master_limit_suite());
}
