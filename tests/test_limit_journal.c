#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/handler/limit_journal.h"
#include "shoal/state/limit.h"
#include "shoal/state/state.h"

#include "check_run.h"

#define NO_OWNER ((uid_t)-1), ((gid_t)-1)

struct fixture {
	char dir[64];
	char path[128];
	struct shoal_state st;
	struct shoal_state_limit_zone *z;
};

static void fixture_open(struct fixture *f, uint32_t conn)
{
	struct shoal_state_limit_spec spec = {
		.name = "inflight", .key = "client_ip", .size = 64, .conn = conn,
	};
	struct shoal_err err = { "" };

	snprintf(f->dir, sizeof(f->dir), "/tmp/shoal-journal-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/state", f->dir);
	ck_assert_msg(shoal_state_create(&f->st, f->path, NO_OWNER, &err) == 0, "%s", err.msg);
	shoal_state_lock(&f->st);
	ck_assert_msg(shoal_state_limit_reserve(&f->st, 1, shoal_state_limit_table_bytes(&spec),
						&err) == 0, "%s", err.msg);
	f->z = shoal_state_limit_add(&f->st, &spec);
	shoal_state_unlock(&f->st);
	ck_assert_ptr_nonnull(f->z);
}

static void fixture_close(struct fixture *f)
{
	shoal_state_close(&f->st, true);
	ck_assert_int_eq(rmdir(f->dir), 0);
}

/* Takes a hold on key and records it; the cell is returned. */
static _Atomic uint64_t *hold(struct fixture *f, struct shoal_limit_journal *j, const char *key,
			      struct shoal_state_limit_hold *h)
{
	uint64_t hash = shoal_state_limit_hash(&f->st, key, strlen(key));

	ck_assert(shoal_state_limit_acquire(f->z, hash, key, strlen(key), 1000, h));
	ck_assert_ptr_nonnull(h->value);
	return shoal_limit_journal_put(j, shoal_state_limit_hold_offset(&f->st, h));
}

static bool refused(struct fixture *f, const char *key)
{
	struct shoal_state_limit_hold h;
	uint64_t hash = shoal_state_limit_hash(&f->st, key, strlen(key));
	bool ok = shoal_state_limit_acquire(f->z, hash, key, strlen(key), 1000, &h);

	shoal_state_limit_release(&h);
	return !ok;
}

START_TEST(test_a_dead_workers_holds_are_given_back)
{
	struct shoal_limit_journal j;
	struct shoal_state_limit_hold h[3];
	struct shoal_err err = { "" };
	struct fixture f;

	fixture_open(&f, 2);
	ck_assert_int_eq(shoal_limit_journal_map(&j, 16, &err), 0);
	ck_assert_ptr_nonnull(hold(&f, &j, "10.0.0.1", &h[0]));
	ck_assert_ptr_nonnull(hold(&f, &j, "10.0.0.1", &h[1]));
	ck_assert_ptr_nonnull(hold(&f, &j, "10.0.0.2", &h[2]));
	ck_assert(refused(&f, "10.0.0.1"));
	/* The worker "dies" holding all three: the master gives each back once. */
	ck_assert_uint_eq(shoal_limit_journal_reclaim(&j, &f.st), 3);
	ck_assert(!refused(&f, "10.0.0.1"));
	ck_assert_uint_eq(shoal_limit_journal_reclaim(&j, &f.st), 0);
	shoal_limit_journal_unmap(&j);
	ck_assert_ptr_null(j.cell);
	fixture_close(&f);
}
END_TEST

START_TEST(test_a_hold_given_back_in_life_is_not_given_back_again)
{
	struct shoal_limit_journal j;
	struct shoal_state_limit_hold h[2];
	struct shoal_err err = { "" };
	_Atomic uint64_t *cell;
	struct fixture f;

	fixture_open(&f, 2);
	ck_assert_int_eq(shoal_limit_journal_map(&j, 4, &err), 0);
	cell = hold(&f, &j, "10.0.0.1", &h[0]);
	ck_assert_ptr_nonnull(hold(&f, &j, "10.0.0.1", &h[1]));
	shoal_limit_journal_clear(cell);
	shoal_state_limit_release(&h[0]);
	/* One hold remains: reclaiming it frees the key's second place, and no more. */
	ck_assert_uint_eq(shoal_limit_journal_reclaim(&j, &f.st), 1);
	ck_assert_ptr_nonnull(hold(&f, &j, "10.0.0.1", &h[0]));
	ck_assert_ptr_nonnull(hold(&f, &j, "10.0.0.1", &h[1]));
	ck_assert(refused(&f, "10.0.0.1"));
	shoal_limit_journal_unmap(&j);
	fixture_close(&f);
}
END_TEST

START_TEST(test_cells_are_reused_and_a_full_journal_records_nothing)
{
	struct shoal_limit_journal j;
	struct shoal_state_limit_hold h[3];
	struct shoal_err err = { "" };
	_Atomic uint64_t *a, *b;
	struct fixture f;

	fixture_open(&f, 5);
	ck_assert_int_eq(shoal_limit_journal_map(&j, 2, &err), 0);
	a = hold(&f, &j, "k", &h[0]);
	b = hold(&f, &j, "k", &h[1]);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_ne(a, b);
	ck_assert_ptr_null(hold(&f, &j, "k", &h[2]));
	shoal_limit_journal_clear(a);
	ck_assert_ptr_eq(shoal_limit_journal_put(&j, shoal_state_limit_hold_offset(&f.st, &h[2])),
			 a);
	shoal_limit_journal_unmap(&j);
	fixture_close(&f);
}
END_TEST

START_TEST(test_a_record_that_names_no_count_changes_nothing)
{
	struct shoal_limit_journal j;
	struct shoal_state_limit_hold h;
	struct shoal_err err = { "" };
	uint64_t good;
	struct fixture f;

	fixture_open(&f, 1);
	ck_assert_int_eq(shoal_limit_journal_map(&j, 8, &err), 0);
	ck_assert_ptr_nonnull(hold(&f, &j, "k", &h));
	good = shoal_state_limit_hold_offset(&f.st, &h);
	/* Outside the tables, misaligned, past the file: a dead worker's garbage is skipped. */
	ck_assert(!shoal_state_limit_release_at(&f.st, 8));
	ck_assert(!shoal_state_limit_release_at(&f.st, good + 3));
	ck_assert(!shoal_state_limit_release_at(&f.st, (uint64_t)f.st.size + 64));
	ck_assert(refused(&f, "k"));
	ck_assert(shoal_state_limit_release_at(&f.st, good));
	ck_assert(!shoal_state_limit_release_at(&f.st, good));
	ck_assert(!refused(&f, "k"));
	ck_assert_uint_eq(shoal_limit_journal_reclaim(&j, &f.st), 0);
	shoal_limit_journal_unmap(&j);
	fixture_close(&f);
}
END_TEST

START_TEST(test_no_cells_no_journal)
{
	struct shoal_limit_journal j;
	struct shoal_err err = { "" };

	ck_assert_int_eq(shoal_limit_journal_map(&j, 0, &err), 0);
	ck_assert_ptr_null(j.cell);
	ck_assert_ptr_null(shoal_limit_journal_put(&j, 64));
	ck_assert_uint_eq(shoal_limit_journal_reclaim(&j, NULL), 0);
	shoal_limit_journal_unmap(&j);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("limit_journal");
	TCase *tc = tcase_create("journal");

	tcase_add_test(tc, test_a_dead_workers_holds_are_given_back);
	tcase_add_test(tc, test_a_hold_given_back_in_life_is_not_given_back_again);
	tcase_add_test(tc, test_cells_are_reused_and_a_full_journal_records_nothing);
	tcase_add_test(tc, test_a_record_that_names_no_count_changes_nothing);
	tcase_add_test(tc, test_no_cells_no_journal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return shoal_check_run(suite());
}
