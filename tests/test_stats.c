#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shoal/stats/stats.h"
#include "shoal/stats/format.h"
#include "stats_fixture.h"

#define WRITERS 4
#define WRITER_REQUESTS 400000
#define READER_TIMEOUT_S 60
#define FOLDS 50000
#define FOLD_REQUESTS 10

START_TEST(counter_names_follow_the_layout)
{
	static const int codes[SHOAL_STATS_NCODES] = { SHOAL_STATS_CODES };
	char want[32];

	for (int i = 0; i < SHOAL_STATS_NCODES; i++) {
		snprintf(want, sizeof(want), "responses_%d", codes[i]);
		ck_assert_str_eq(shoal_stats_counter_name(SHOAL_STATS_RESP_CODE + (unsigned)i), want);
		ck_assert_int_eq(shoal_stats_code_counter(codes[i]), SHOAL_STATS_RESP_CODE + i);
	}
	ck_assert_int_eq(shoal_stats_code_counter(418), -1);
	ck_assert_str_eq(shoal_stats_counter_name(SHOAL_STATS_ERR_PARSE), "errors_parse");
	ck_assert_str_eq(shoal_stats_counter_name(SHOAL_STATS_LATENCY_SUM_US), "latency_sum_us");
	ck_assert_ptr_null(shoal_stats_counter_name(SHOAL_STATS_LATENCY));
	ck_assert_ptr_null(shoal_stats_counter_name(SHOAL_STATS_PROXY_ACCEPTED - 1));
	ck_assert_str_eq(shoal_stats_counter_name(SHOAL_STATS_PROXY_ACCEPTED),
			 "proxy_protocol_accepted");
	ck_assert_str_eq(shoal_stats_counter_name(SHOAL_STATS_PROXY_TIMEOUT),
			 "proxy_protocol_timeout");
	ck_assert_str_eq(shoal_stats_counter_name(SHOAL_STATS_TLS_FAIL + SHOAL_STATS_TLS_FAIL_TIMEOUT),
			 "tls_failed_timeout");
	ck_assert_ptr_null(shoal_stats_counter_name(SHOAL_STATS_NCOUNTERS));
	ck_assert_uint_eq(SHOAL_STATS_PROXY_ACCEPTED + SHOAL_STATS_PROXY_HEADER_MALFORMED,
			  SHOAL_STATS_PROXY_MALFORMED);
}
END_TEST

START_TEST(latency_buckets_are_powers_of_two)
{
	ck_assert_uint_eq(shoal_stats_latency_bucket(0), 0);
	ck_assert_uint_eq(shoal_stats_latency_bucket(1), 0);
	ck_assert_uint_eq(shoal_stats_latency_bucket(2), 1);
	ck_assert_uint_eq(shoal_stats_latency_bucket(3), 2);
	ck_assert_uint_eq(shoal_stats_latency_bucket(4), 2);
	ck_assert_uint_eq(shoal_stats_latency_bucket(1025), 11);
	ck_assert_uint_eq(shoal_stats_latency_bucket((uint64_t)1 << 24), 24);
	ck_assert_uint_eq(shoal_stats_latency_bucket(((uint64_t)1 << 24) + 1),
			  SHOAL_STATS_LATENCY_FINITE);
	ck_assert_uint_eq(shoal_stats_latency_bucket(UINT64_MAX), SHOAL_STATS_LATENCY_FINITE);
}
END_TEST

START_TEST(quantiles_interpolate_within_buckets)
{
	uint64_t c[SHOAL_STATS_NCOUNTERS] = { 0 };

	ck_assert(shoal_stats_latency_quantile_us(c, 0.5) == 0);
	c[SHOAL_STATS_LATENCY + 10] = 100; /* 512 .. 1024 us */
	ck_assert_double_eq_tol(shoal_stats_latency_quantile_us(c, 0.5), 768, 0.001);
	c[SHOAL_STATS_LATENCY + 0] = 100; /* 0 .. 1 us */
	ck_assert_double_eq_tol(shoal_stats_latency_quantile_us(c, 0.25), 0.5, 0.001);
	ck_assert_double_eq_tol(shoal_stats_latency_quantile_us(c, 1), 1024, 0.001);
	c[SHOAL_STATS_LATENCY + SHOAL_STATS_LATENCY_FINITE] = 800;
	ck_assert_double_eq_tol(shoal_stats_latency_quantile_us(c, 0.99), 1 << 24, 0.001);
}
END_TEST

START_TEST(create_publishes_a_readable_file)
{
	struct tmp t;
	struct shoal_stats st;
	struct shoal_stats_view v;
	struct shoal_stats_snapshot snap;
	struct shoal_err err = { "" };
	struct stat sb;

	tmp_make(&t);
	create_or_fail(&st, t.path, 4);
	shoal_stats_set_generation(&st, 7);
	ck_assert_int_eq(stat(t.path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0640);
	ck_assert_int_eq(sb.st_size, FIXED_SIZE + 4 * SLOT_SIZE);
	ck_assert_msg(shoal_stats_open_read(&v, t.path, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(shoal_stats_snapshot_init(&snap, &v, &err), 0);
	snapshot_or_fail(&v, &snap);
	ck_assert_int_eq(snap.master_pid, getpid());
	ck_assert_uint_eq(snap.generation, 7);
	ck_assert_uint_eq(snap.nworkers, 0);
	ck_assert_uint_eq(snap.capacity, 4);
	ck_assert(snap.start_time + 5 >= (uint64_t)time(NULL));
	shoal_stats_snapshot_free(&snap);
	shoal_stats_view_close(&v);
	shoal_stats_close(&st, true);
	ck_assert_int_eq(access(t.path, F_OK), -1);
	tmp_remove(&t);
}
END_TEST

START_TEST(create_replaces_a_previous_file_from_zero)
{
	struct tmp t;
	struct shoal_stats old, st;
	struct shoal_stats_snapshot snap;

	tmp_make(&t);
	create_or_fail(&old, t.path, 2);
	shoal_stats_request_done(shoal_stats_slot_at(&old, shoal_stats_claim(&old, 0, 1)), 200, 1,
				 1, 1);
	shoal_stats_release(&old, 0);
	create_or_fail(&st, t.path, 2);
	ck_assert_int_eq(shoal_stats_snapshot_init(&snap, &st.view, NULL), 0);
	snapshot_or_fail(&st.view, &snap);
	ck_assert_uint_eq(snap.totals[SHOAL_STATS_REQUESTS], 0);
	ck_assert_uint_eq(snap.retired_workers, 0);
	snapshot_or_fail(&old.view, &snap); /* the replaced file lives on while mapped */
	ck_assert_uint_eq(snap.totals[SHOAL_STATS_REQUESTS], 1);
	shoal_stats_snapshot_free(&snap);
	shoal_stats_close(&old, false);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

START_TEST(create_reports_bad_places_and_sizes)
{
	struct shoal_stats st;
	struct shoal_err err = { "" };

	ck_assert_int_eq(shoal_stats_create(&st, "/nonexistent-dir/stats", 4, NO_OWNER, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent-dir/stats: cannot create"));
	ck_assert_int_eq(shoal_stats_create(&st, "/tmp/unused", 0, NO_OWNER, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "room for 0 workers"));
}
END_TEST

static void fake_requests(struct shoal_stats_slot *slot, unsigned n, int status)
{
	for (unsigned i = 0; i < n; i++)
		shoal_stats_request_done(slot, status, 10, 100, 50);
}

START_TEST(readers_stop_at_the_slots_ever_used)
{
	struct tmp t;
	struct shoal_stats st;
	struct shoal_stats_snapshot snap;
	struct shoal_stats_slot *beyond;

	tmp_make(&t);
	create_or_fail(&st, t.path, 8);
	ck_assert_uint_eq(st.view.hdr->slots_used, 0);
	ck_assert_int_eq(shoal_stats_claim(&st, 0, 1), 0);
	ck_assert_int_eq(shoal_stats_claim(&st, 1, 1), 1);
	ck_assert_int_eq(shoal_stats_claim(&st, 2, 1), 2);
	ck_assert_uint_eq(st.view.hdr->slots_used, 3);
	shoal_stats_release(&st, 2);
	shoal_stats_release(&st, 1);
	ck_assert_uint_eq(st.view.hdr->slots_used, 3);
	ck_assert_int_eq(shoal_stats_claim(&st, 1, 2), 1);
	ck_assert_uint_eq(st.view.hdr->slots_used, 3);

	/* A slot past the mark is not looked at, whatever it holds. */
	beyond = shoal_stats_slot_at(&st, 5);
	atomic_store(&beyond->state, SHOAL_STATS_RUNNING);
	atomic_store(&beyond->block.counters[SHOAL_STATS_REQUESTS], 99);
	ck_assert_int_eq(shoal_stats_snapshot_init(&snap, &st.view, NULL), 0);
	snapshot_or_fail(&st.view, &snap);
	ck_assert_uint_eq(snap.nworkers, 2);
	ck_assert_uint_eq(snap.workers[0].index, 0);
	ck_assert_uint_eq(snap.workers[1].index, 1);
	ck_assert_uint_eq(snap.totals[SHOAL_STATS_REQUESTS], 0);
	shoal_stats_snapshot_free(&snap);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

START_TEST(release_folds_into_retired_and_frees_the_slot)
{
	struct tmp t;
	struct shoal_stats st;
	struct shoal_stats_snapshot snap;
	int a, b;

	tmp_make(&t);
	create_or_fail(&st, t.path, 2);
	ck_assert_int_eq(shoal_stats_snapshot_init(&snap, &st.view, NULL), 0);
	a = shoal_stats_claim(&st, 0, 1);
	b = shoal_stats_claim(&st, 0, 2);
	ck_assert_int_eq(a, 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(shoal_stats_claim(&st, 1, 2), -1);
	shoal_stats_worker_start(shoal_stats_slot_at(&st, a), 1111);
	fake_requests(shoal_stats_slot_at(&st, a), 3, 200);
	fake_requests(shoal_stats_slot_at(&st, b), 2, 404);
	shoal_stats_conn_opened(shoal_stats_slot_at(&st, a));
	snapshot_or_fail(&st.view, &snap);
	ck_assert_uint_eq(snap.nworkers, 2);
	ck_assert_int_eq(snap.workers[0].pid, 1111);
	ck_assert_int_eq(snap.workers[0].state, SHOAL_STATS_RUNNING);
	ck_assert_int_eq(snap.workers[1].state, SHOAL_STATS_STARTING);
	ck_assert_uint_eq(snap.workers[1].generation, 2);
	ck_assert_uint_eq(snap.totals[SHOAL_STATS_REQUESTS], 5);
	ck_assert_uint_eq(snap.totals[SHOAL_STATS_CONN_ACTIVE], 1);

	shoal_stats_release(&st, a);
	shoal_stats_release(&st, a); /* already free: nothing folds twice */
	snapshot_or_fail(&st.view, &snap);
	ck_assert_uint_eq(snap.nworkers, 1);
	ck_assert_uint_eq(snap.retired_workers, 1);
	ck_assert_uint_eq(snap.totals[SHOAL_STATS_REQUESTS], 5);
	ck_assert_uint_eq(snap.totals[SHOAL_STATS_RESP_CODE], 3);
	ck_assert_uint_eq(snap.retired[SHOAL_STATS_BYTES_OUT], 300);
	ck_assert_uint_eq(snap.totals[SHOAL_STATS_CONN_ACCEPTED], 1);
	ck_assert_uint_eq(snap.totals[SHOAL_STATS_CONN_ACTIVE], 0); /* gauges die with the worker */

	ck_assert_int_eq(shoal_stats_claim(&st, 0, 3), a);
	snapshot_or_fail(&st.view, &snap);
	ck_assert_uint_eq(snap.nworkers, 2);
	ck_assert_uint_eq(snap.workers[0].counters[SHOAL_STATS_REQUESTS], 0);
	ck_assert_int_eq(snap.workers[0].pid, 0);
	ck_assert_uint_eq(snap.totals[SHOAL_STATS_REQUESTS], 5);
	shoal_stats_snapshot_free(&snap);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

START_TEST(a_worker_killed_mid_update_is_still_folded)
{
	struct tmp t;
	struct shoal_stats st;
	struct shoal_stats_snapshot snap;
	struct shoal_stats_slot *slot;

	tmp_make(&t);
	create_or_fail(&st, t.path, 1);
	slot = shoal_stats_slot_at(&st, shoal_stats_claim(&st, 0, 1));
	fake_requests(slot, 2, 200);
	shoal_stats_write_begin(slot); /* and never ends it */
	shoal_stats_add(slot, SHOAL_STATS_REQUESTS, 1);
	shoal_stats_release(&st, 0);
	ck_assert_int_eq(shoal_stats_snapshot_init(&snap, &st.view, NULL), 0);
	snapshot_or_fail(&st.view, &snap);
	ck_assert_uint_eq(snap.totals[SHOAL_STATS_REQUESTS], 3);
	ck_assert_int_eq(shoal_stats_claim(&st, 0, 1), 0);
	snapshot_or_fail(&st.view, &snap); /* the slot's sequence is even again */
	ck_assert_uint_eq(snap.nworkers, 1);
	shoal_stats_snapshot_free(&snap);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* Every request of a writer moves several counters together; a torn copy would show. */
static const int writer_statuses[] = { 200, 404, 304, 500, 101, 206, 418 };

static void writer_run(struct shoal_stats_slot *slot, unsigned n)
{
	shoal_stats_worker_start(slot, getpid());
	for (unsigned i = 0; i < n; i++) {
		if (i % 8 == 0)
			shoal_stats_conn_opened(slot);
		if (i % 8 == 3)
			shoal_stats_conn_phase(slot, SHOAL_STATS_PHASE_READING, SHOAL_STATS_PHASE_WRITING);
		shoal_stats_request_done(slot, writer_statuses[i % 7], 7, 100, (uint64_t)1 << (i % 27));
		if (i % 8 == 7)
			shoal_stats_conn_closed(slot, SHOAL_STATS_PHASE_WRITING);
	}
	_exit(0);
}

static bool worker_consistent(const uint64_t *c)
{
	uint64_t requests = c[SHOAL_STATS_REQUESTS], classes = 0, buckets = 0;
	uint64_t open = c[SHOAL_STATS_CONN_ACCEPTED] - c[SHOAL_STATS_CONN_CLOSED];

	for (unsigned i = 0; i < 5; i++)
		classes += c[SHOAL_STATS_RESP_1XX + i];
	for (unsigned i = 0; i < SHOAL_STATS_LATENCY_BUCKETS; i++)
		buckets += c[SHOAL_STATS_LATENCY + i];
	return classes == requests && buckets == requests && c[SHOAL_STATS_BYTES_IN] == 7 * requests &&
	       c[SHOAL_STATS_BYTES_OUT] == 100 * requests && open == c[SHOAL_STATS_CONN_ACTIVE] &&
	       c[SHOAL_STATS_CONN_READING] + c[SHOAL_STATS_CONN_WRITING] == open;
}

/* Exit status: 0 fine, 1 torn worker copy, 2 totals went backwards, 3 wrong final totals,
 * 4 no snapshot, 5 timed out. */
static int reader_check(const char *path, uint64_t expected)
{
	struct shoal_stats_view v;
	struct shoal_stats_snapshot snap;
	uint64_t last_requests = 0, last_bytes = 0, last_accepted = 0;
	time_t deadline = time(NULL) + READER_TIMEOUT_S;

	if (shoal_stats_open_read(&v, path, NULL) < 0 || shoal_stats_snapshot_init(&snap, &v, NULL) < 0)
		return 4;
	for (;;) {
		if (shoal_stats_snapshot(&v, &snap, NULL) < 0)
			return 4;
		for (unsigned w = 0; w < snap.nworkers; w++)
			if (!worker_consistent(snap.workers[w].counters))
				return 1;
		if (!worker_consistent(snap.retired) || !worker_consistent(snap.totals))
			return 1;
		if (snap.totals[SHOAL_STATS_REQUESTS] < last_requests ||
		    snap.totals[SHOAL_STATS_BYTES_IN] < last_bytes ||
		    snap.totals[SHOAL_STATS_CONN_ACCEPTED] < last_accepted)
			return 2;
		last_requests = snap.totals[SHOAL_STATS_REQUESTS];
		last_bytes = snap.totals[SHOAL_STATS_BYTES_IN];
		last_accepted = snap.totals[SHOAL_STATS_CONN_ACCEPTED];
		if (snap.retired_workers == WRITERS && snap.nworkers == 0)
			return last_requests == expected ? 0 : 3;
		if (time(NULL) > deadline)
			return 5;
	}
}

START_TEST(snapshots_stay_consistent_under_writers_and_folds)
{
	struct tmp t;
	struct shoal_stats st;
	pid_t reader, writers[WRITERS];
	int index[WRITERS], status;
	uint64_t expected = 0;

	tmp_make(&t);
	create_or_fail(&st, t.path, WRITERS);
	for (unsigned i = 0; i < WRITERS; i++)
		expected += (uint64_t)WRITER_REQUESTS * (i + 1);
	reader = fork();
	ck_assert_int_ge(reader, 0);
	if (reader == 0)
		_exit(reader_check(t.path, expected));
	/* Writers of different lengths: folds happen while the others still write. */
	for (unsigned i = 0; i < WRITERS; i++) {
		index[i] = shoal_stats_claim(&st, i, 1);
		ck_assert_int_ge(index[i], 0);
		writers[i] = fork();
		ck_assert_int_ge(writers[i], 0);
		if (writers[i] == 0)
			writer_run(shoal_stats_slot_at(&st, index[i]), WRITER_REQUESTS * (i + 1));
	}
	for (unsigned done = 0; done < WRITERS; done++) {
		pid_t pid = wait(&status);
		unsigned i = 0;
		while (i < WRITERS && writers[i] != pid)
			i++;
		ck_assert_msg(i < WRITERS, "the reader exited early with status %d", status);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		shoal_stats_release(&st, index[i]);
	}
	ck_assert_int_eq(waitpid(reader, &status, 0), reader);
	ck_assert_msg(WIFEXITED(status), "reader died");
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* The master alone: claims, counts and folds over and over while a reader watches. A reader
 * that saw a worker both in the retired block and live, or in neither, would see the totals
 * jump or fall back. Exit status: 0 fine, 1 retired block torn, 2 totals went backwards,
 * 3 wrong final totals, 4 no snapshot, 5 timed out. */
static int fold_reader_check(const char *path)
{
	struct shoal_stats_view v;
	struct shoal_stats_snapshot snap;
	uint64_t last = 0;
	time_t deadline = time(NULL) + READER_TIMEOUT_S;

	if (shoal_stats_open_read(&v, path, NULL) < 0 || shoal_stats_snapshot_init(&snap, &v, NULL) < 0)
		return 4;
	for (;;) {
		if (shoal_stats_snapshot(&v, &snap, NULL) < 0)
			return 4;
		if (snap.retired[SHOAL_STATS_REQUESTS] != FOLD_REQUESTS * snap.retired_workers)
			return 1;
		if (snap.totals[SHOAL_STATS_REQUESTS] < last)
			return 2;
		last = snap.totals[SHOAL_STATS_REQUESTS];
		if (snap.retired_workers == FOLDS)
			return last == FOLD_REQUESTS * FOLDS && snap.nworkers == 0 ? 0 : 3;
		if (time(NULL) > deadline)
			return 5;
	}
}

START_TEST(folds_never_double_count_or_miss_a_worker)
{
	struct tmp t;
	struct shoal_stats st;
	pid_t reader;
	int status;

	tmp_make(&t);
	create_or_fail(&st, t.path, 2);
	reader = fork();
	ck_assert_int_ge(reader, 0);
	if (reader == 0)
		_exit(fold_reader_check(t.path));
	for (unsigned i = 0; i < FOLDS; i++) {
		int index = shoal_stats_claim(&st, 0, 1);
		ck_assert_int_ge(index, 0);
		fake_requests(shoal_stats_slot_at(&st, index), FOLD_REQUESTS, 200);
		shoal_stats_release(&st, index);
	}
	ck_assert_int_eq(waitpid(reader, &status, 0), reader);
	ck_assert_msg(WIFEXITED(status), "reader died");
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

static void expect_open_error(const char *path, const char *needle)
{
	struct shoal_stats_view v;
	struct shoal_err err = { "" };

	ck_assert_int_eq(shoal_stats_open_read(&v, path, &err), -1);
	ck_assert_msg(strstr(err.msg, needle) != NULL, "'%s' lacks '%s'", err.msg, needle);
	ck_assert_ptr_null(v.hdr);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

START_TEST(open_read_explains_what_is_wrong)
{
	static const char zeros[4096];
	struct tmp t;
	struct shoal_stats st;
	uint32_t version = SHOAL_STATS_VERSION + 1;
	char want[64];
	int fd;

	tmp_make(&t);
	expect_open_error(t.path, "no such file");
	expect_open_error(t.dir, "not a regular file");
	write_file(t.path, "SHOALSTS", 8);
	expect_open_error(t.path, "not a shoal stats file (too small)");
	write_file(t.path, zeros, sizeof(zeros));
	expect_open_error(t.path, "not a shoal stats file (bad magic)");

	create_or_fail(&st, t.path, 8);
	fd = open(t.path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, FIXED_SIZE + 3 * SLOT_SIZE), 0);
	expect_open_error(t.path, "truncated stats file");
	ck_assert_int_eq(pwrite(fd, &version, sizeof(version), 8), (ssize_t)sizeof(version));
	snprintf(want, sizeof(want), "stats layout version %u; this tool reads version %u",
		 SHOAL_STATS_VERSION + 1, SHOAL_STATS_VERSION);
	expect_open_error(t.path, want);
	close(fd);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* The layout before the PROXY protocol counters: refused by its version, by the library and
 * by shoalctl. */
START_TEST(a_layout_3_file_is_refused_by_its_version)
{
	static char out[4096];
	struct tmp t;
	struct shoal_stats st;
	struct shoal_stats_view v;
	struct shoal_err err = { "" };
	uint32_t version = 3;
	int fd;

	tmp_make(&t);
	create_or_fail(&st, t.path, 2);
	fd = open(t.path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, &version, sizeof(version), 8), (ssize_t)sizeof(version));
	close(fd);
	ck_assert_int_eq(shoal_stats_open_read(&v, t.path, &err), -1);
	ck_assert_msg(strstr(err.msg, "stats layout version 3; this tool reads version 4"), "%s",
		      err.msg);
	if (shoalctl_path) {
		ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "-f", t.path, "stats", NULL },
					      out, sizeof(out)), 1);
		ck_assert_ptr_nonnull(strstr(out, "stats layout version 3; this tool reads version 4"));
	}
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* A file with known counts: worker 5 (pid 4242) answered 200, 200, 404; of the PROXY protocol
 * headers it saw, two were taken, one peer refused and one header timed out. */
static void known_counts(struct shoal_stats *st, const char *path)
{
	struct shoal_stats_slot *slot;

	create_or_fail(st, path, 2);
	slot = shoal_stats_slot_at(st, shoal_stats_claim(st, 5, 3));
	shoal_stats_worker_start(slot, 4242);
	shoal_stats_conn_opened(slot);
	shoal_stats_conn_opened(slot);
	shoal_stats_conn_closed(slot, SHOAL_STATS_PHASE_READING);
	shoal_stats_conn_phase(slot, SHOAL_STATS_PHASE_READING, SHOAL_STATS_PHASE_IDLE);
	shoal_stats_request_done(slot, 200, 80, 1000, 1);
	shoal_stats_request_done(slot, 200, 80, 1000, 3);
	shoal_stats_request_done(slot, 404, 80, 200, 2000000);
	shoal_stats_error(slot, SHOAL_STATS_ERROR_TIMEOUT);
	shoal_stats_proxy_header(slot, SHOAL_STATS_PROXY_HEADER_ACCEPTED);
	shoal_stats_proxy_header(slot, SHOAL_STATS_PROXY_HEADER_ACCEPTED);
	shoal_stats_proxy_header(slot, SHOAL_STATS_PROXY_HEADER_REFUSED);
	shoal_stats_proxy_header(slot, SHOAL_STATS_PROXY_HEADER_TIMEOUT);
}

START_TEST(prometheus_exposes_the_known_counts)
{
	static const char *const lines[] = {
		"# TYPE shoal_requests_total counter\nshoal_requests_total 3\n",
		"# HELP shoal_requests_total ",
		"\nshoal_responses_total{code=\"200\"} 2\n",
		"\nshoal_responses_total{code=\"404\"} 1\n",
		"\nshoal_responses_total{code=\"500\"} 0\n",
		"\nshoal_responses_class_total{class=\"4xx\"} 1\n",
		"\nshoal_connections_accepted_total 2\n",
		"\nshoal_connections_active{state=\"idle\"} 1\n",
		"\nshoal_connections_active{state=\"reading\"} 0\n",
		"\nshoal_bytes_sent_total 2200\n",
		"\nshoal_bytes_received_total 240\n",
		"\nshoal_errors_total{kind=\"timeout\"} 1\n",
		"\nshoal_errors_total{kind=\"parse\"} 0\n",
		"# TYPE shoal_proxy_protocol_headers_total counter\n",
		"\nshoal_proxy_protocol_headers_total{outcome=\"accepted\"} 2\n",
		"\nshoal_proxy_protocol_headers_total{outcome=\"refused\"} 1\n",
		"\nshoal_proxy_protocol_headers_total{outcome=\"malformed\"} 0\n",
		"\nshoal_proxy_protocol_headers_total{outcome=\"timeout\"} 1\n",
		"# TYPE shoal_request_duration_seconds histogram\n",
		"\nshoal_request_duration_seconds_bucket{le=\"0.000001\"} 1\n",
		"\nshoal_request_duration_seconds_bucket{le=\"0.000002\"} 1\n",
		"\nshoal_request_duration_seconds_bucket{le=\"0.000004\"} 2\n",
		"\nshoal_request_duration_seconds_bucket{le=\"1.048576\"} 2\n",
		"\nshoal_request_duration_seconds_bucket{le=\"2.097152\"} 3\n",
		"\nshoal_request_duration_seconds_bucket{le=\"16.777216\"} 3\n",
		"\nshoal_request_duration_seconds_bucket{le=\"+Inf\"} 3\n",
		"\nshoal_request_duration_seconds_sum 2.000004\n",
		"\nshoal_request_duration_seconds_count 3\n",
		"\nshoal_config_generation 0\n",
		"\nshoal_worker_requests_total{worker=\"5\",pid=\"4242\"} 3\n",
		"\nshoal_worker_connections_active{worker=\"5\",pid=\"4242\"} 1\n",
	};
	struct tmp t;
	struct shoal_stats st;

	tmp_make(&t);
	known_counts(&st, t.path);
	expect_format(shoal_stats_format_prometheus, &st.view, lines, ARRAY_LEN(lines));
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

START_TEST(json_and_text_show_the_known_counts)
{
	static const char *const json[] = {
		"\"totals\": {\"connections_accepted\": 2, \"connections_closed\": 1, ",
		"\"requests\": 3, ", "\"responses_404\": 1, ", "\"errors_timeout\": 1, ",
		"\"latency_sum_us\": 2000004, \"latency_buckets\": [1, 0, 1, 0",
		", 0], \"proxy_protocol_accepted\": 2, \"proxy_protocol_refused\": 1, "
		"\"proxy_protocol_malformed\": 0, \"proxy_protocol_timeout\": 1, ",
		"\"tls_version_1_2\": 0, \"tls_version_1_3\": 0}",
		"\"workers\": [\n  {\"index\": 0, \"slot\": 5, \"pid\": 4242, \"generation\": 3, ",
		"\"slot\": 5, \"pid\": 4242, \"generation\": 3, \"state\": \"running\"",
	};
	static const char *const text_lines[] = {
		"1 workers live, 0 retired\n",
		"connections   2 accepted, 1 closed, 1 active (0 reading, 0 writing, 1 idle)\n",
		"requests      3 (240 B received, 2.1 KiB sent)\n",
		"responses     1xx 0 2xx 2 3xx 0 4xx 1 5xx 0\n",
		"status codes  200: 2 404: 1\n",
		"errors        parse 0 timeout 1 reset 0 limit 0\n",
		"proxy headers 2 accepted, 1 refused (source), 0 malformed, 1 timed out\n",
		"    5     4242     3 running  ",
	};
	struct tmp t;
	struct shoal_stats st;

	tmp_make(&t);
	known_counts(&st, t.path);
	expect_format(shoal_stats_format_json, &st.view, json, ARRAY_LEN(json));
	expect_format(shoal_stats_format_text, &st.view, text_lines, ARRAY_LEN(text_lines));
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* A server with no proxy_protocol address is not told about PROXY protocol headers. */
START_TEST(text_leaves_out_proxy_headers_when_there_were_none)
{
	struct tmp t;
	struct shoal_stats st;
	struct shoal_stats_slot *slot;
	char *text;

	tmp_make(&t);
	create_or_fail(&st, t.path, 2);
	slot = shoal_stats_slot_at(&st, shoal_stats_claim(&st, 0, 1));
	shoal_stats_worker_start(slot, 4242);
	shoal_stats_request_done(slot, 200, 80, 1000, 1);
	text = format_to_string(shoal_stats_format_text, &st.view);
	ck_assert_msg(strstr(text, "requests      1 ") && !strstr(text, "proxy headers"), "%s", text);
	free(text);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* TLS handshakes in every format: the summary line only once there were some. */
START_TEST(tls_handshakes_in_every_format)
{
	static const char *const json[] = {
		"\"tls_handshakes_full\": 2, \"tls_handshakes_resumed\": 1, "
		"\"tls_failed_protocol\": 0, \"tls_failed_certificate\": 0, "
		"\"tls_failed_garbage\": 1, \"tls_failed_closed\": 0, \"tls_failed_timeout\": 1, "
		"\"tls_failed_other\": 0, \"tls_version_1_2\": 1, \"tls_version_1_3\": 2}",
	};
	static const char *const text_lines[] = {
		"\ntls           2 full, 1 resumed (TLSv1.2 1, TLSv1.3 2); failed: protocol 0 "
		"certificate 0 garbage 1 closed 0 timeout 1 other 0\n",
	};
	static const char *const prom[] = {
		"# TYPE shoal_tls_handshakes_total counter\n",
		"\nshoal_tls_handshakes_total{kind=\"full\"} 2\n",
		"\nshoal_tls_handshakes_total{kind=\"resumed\"} 1\n",
		"\nshoal_tls_handshake_failures_total{reason=\"garbage\"} 1\n",
		"\nshoal_tls_handshake_failures_total{reason=\"timeout\"} 1\n",
		"\nshoal_tls_handshake_failures_total{reason=\"closed\"} 0\n",
		"\nshoal_tls_versions_total{version=\"TLSv1.2\"} 1\n",
		"\nshoal_tls_versions_total{version=\"TLSv1.3\"} 2\n",
	};
	struct tmp t;
	struct shoal_stats st;
	struct shoal_stats_slot *slot;
	char *text;

	tmp_make(&t);
	create_or_fail(&st, t.path, 2);
	slot = shoal_stats_slot_at(&st, shoal_stats_claim(&st, 0, 1));
	shoal_stats_worker_start(slot, 4242);
	text = format_to_string(shoal_stats_format_text, &st.view);
	ck_assert_msg(!strstr(text, "\ntls "), "%s", text);
	free(text);
	shoal_stats_tls_handshake(slot, false, SHOAL_STATS_TLS_V1_3);
	shoal_stats_tls_handshake(slot, false, SHOAL_STATS_TLS_V1_3);
	shoal_stats_tls_handshake(slot, true, SHOAL_STATS_TLS_V1_2);
	shoal_stats_tls_failed(slot, SHOAL_STATS_TLS_FAIL_GARBAGE);
	shoal_stats_tls_failed(slot, SHOAL_STATS_TLS_FAIL_TIMEOUT);
	expect_format(shoal_stats_format_json, &st.view, json, ARRAY_LEN(json));
	expect_format(shoal_stats_format_text, &st.view, text_lines, ARRAY_LEN(text_lines));
	expect_format(shoal_stats_format_prometheus, &st.view, prom, ARRAY_LEN(prom));
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

START_TEST(human_units)
{
	char buf[32];

	shoal_stats_format_duration(buf, sizeof(buf), 42);
	ck_assert_str_eq(buf, "42s");
	shoal_stats_format_duration(buf, sizeof(buf), 3 * 3600 + 125);
	ck_assert_str_eq(buf, "3h02m");
	shoal_stats_format_duration(buf, sizeof(buf), 2 * 86400 + 5 * 3600);
	ck_assert_str_eq(buf, "2d05h");
	shoal_stats_format_bytes(buf, sizeof(buf), 1023);
	ck_assert_str_eq(buf, "1023 B");
	shoal_stats_format_bytes(buf, sizeof(buf), 3 * 1024 * 1024 / 2);
	ck_assert_str_eq(buf, "1.5 MiB");
	shoal_stats_format_latency(buf, sizeof(buf), 850);
	ck_assert_str_eq(buf, "850 us");
	shoal_stats_format_latency(buf, sizeof(buf), 12400);
	ck_assert_str_eq(buf, "12.4 ms");
}
END_TEST

START_TEST(shoalctl_reads_the_file)
{
	static char out[65536];
	struct tmp t;
	struct shoal_stats st;

	tmp_make(&t);
	known_counts(&st, t.path);
	ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "-f", t.path, "stats", "--prometheus", NULL },
				      out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "\nshoal_requests_total 3\n"));
	ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "stats", "-f", t.path, "--json", NULL },
				      out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"requests\": 3, "));
	ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "-f", t.path, "workers", NULL }, out,
				      sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "     4242 "));
	ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "-f", t.path, "top", "-n", "2", "-d",
						  "0.05", NULL }, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "shoal top - "));
	ck_assert_ptr_nonnull(strstr(out, "rates         0.0 req/s"));
	shoal_stats_close(&st, true);
	ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "-f", t.path, "stats", NULL }, out,
				      sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "shoalctl: "));
	ck_assert_ptr_nonnull(strstr(out, "no such file"));
	ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "frobnicate", NULL }, out, sizeof(out)), 2);
	ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "stats", "--json", "--prometheus", NULL },
				      out, sizeof(out)), 2);
	ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "top", "-n", "0", NULL }, out, sizeof(out)), 2);
	tmp_remove(&t);
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *layout = tcase_create("layout");
	TCase *file = tcase_create("file");
	TCase *concurrency = tcase_create("concurrency");
	TCase *format = tcase_create("format");

	tcase_add_test(layout, counter_names_follow_the_layout);
	tcase_add_test(layout, latency_buckets_are_powers_of_two);
	tcase_add_test(layout, quantiles_interpolate_within_buckets);
	tcase_add_test(file, create_publishes_a_readable_file);
	tcase_add_test(file, create_replaces_a_previous_file_from_zero);
	tcase_add_test(file, create_reports_bad_places_and_sizes);
	tcase_add_test(file, readers_stop_at_the_slots_ever_used);
	tcase_add_test(file, release_folds_into_retired_and_frees_the_slot);
	tcase_add_test(file, a_worker_killed_mid_update_is_still_folded);
	tcase_add_test(file, open_read_explains_what_is_wrong);
	tcase_add_test(file, a_layout_3_file_is_refused_by_its_version);
	tcase_add_test(concurrency, snapshots_stay_consistent_under_writers_and_folds);
	tcase_add_test(concurrency, folds_never_double_count_or_miss_a_worker);
	tcase_set_timeout(concurrency, 120);
	tcase_add_test(format, prometheus_exposes_the_known_counts);
	tcase_add_test(format, json_and_text_show_the_known_counts);
	tcase_add_test(format, text_leaves_out_proxy_headers_when_there_were_none);
	tcase_add_test(format, tls_handshakes_in_every_format);
	tcase_add_test(format, human_units);
	suite_add_tcase(s, layout);
	suite_add_tcase(s, file);
	suite_add_tcase(s, concurrency);
	suite_add_tcase(s, format);
	if (shoalctl_path) {
		TCase *ctl = tcase_create("shoalctl");
		tcase_add_test(ctl, shoalctl_reads_the_file);
		tcase_set_timeout(ctl, 30);
		suite_add_tcase(s, ctl);
	}
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	shoalctl_path = argc > 1 ? argv[1] : NULL;
	sr = srunner_create(stats_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
