#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "shoal/stats/format.h"
#include "shoal/stats/stats.h"
#include "shoal/stats/upstream.h"
#include "stats_fixture.h"

#define WRITER_EXCHANGES 3000000
#define READER_TIMEOUT_S 60

/* The totals of one (upstream, server) pair in a snapshot; fails if it is not there. */
static const uint64_t *pair(const struct shoal_stats_snapshot *snap, const char *upstream,
			    const char *server)
{
	for (unsigned i = 0; i < snap->nupstreams; i++)
		if (strcmp(snap->upstreams[i].upstream, upstream) == 0 &&
		    strcmp(snap->upstreams[i].server, server) == 0)
			return snap->upstreams[i].counters;
	ck_abort_msg("no %s %s in the snapshot", upstream, server);
	return NULL;
}

START_TEST(the_file_has_the_upstream_layout)
{
	struct tmp t;
	struct shoal_stats st;
	const struct shoal_stats_header *h;
	struct stat sb;

	tmp_make(&t);
	create_or_fail(&st, t.path, 3);
	h = st.view.hdr;
	ck_assert_uint_eq(h->version, 4);
	ck_assert_uint_eq(h->counter_room, 128);
	ck_assert_uint_eq(h->slot_size, SLOT_SIZE);
	ck_assert_uint_eq(h->upstream_room, 64);
	ck_assert_uint_eq(h->upstream_retired_room, 256);
	ck_assert_uint_eq(h->upstream_entry_size, 512);
	ck_assert_uint_eq(h->upstream_retired_offset, 128 + 1024);
	ck_assert_uint_eq(h->slots_offset, FIXED_SIZE);
	ck_assert_int_eq(stat(t.path, &sb), 0);
	ck_assert_int_eq(sb.st_size, FIXED_SIZE + 3 * SLOT_SIZE);
	ck_assert_str_eq(shoal_stats_upstream_counter_name(SHOAL_STATS_UP_RESP_1XX + 1),
			 "responses_2xx");
	ck_assert_str_eq(shoal_stats_upstream_counter_name(SHOAL_STATS_UP_FAIL_INVALID),
			 "failures_invalid");
	ck_assert_str_eq(shoal_stats_upstream_counter_name(SHOAL_STATS_UP_TTFB_SUM_US),
			 "ttfb_sum_us");
	ck_assert_ptr_null(shoal_stats_upstream_counter_name(SHOAL_STATS_UP_TTFB));
	ck_assert_str_eq(shoal_stats_upstream_counter_name(SHOAL_STATS_UP_QUEUE_TIMEOUT),
			 "queue_timeout");
	ck_assert_ptr_null(shoal_stats_upstream_counter_name(SHOAL_STATS_UP_NCOUNTERS));
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* The file takes memory for the slots ever claimed, not for its capacity. */
START_TEST(a_slot_gets_its_room_when_first_claimed)
{
	struct tmp t;
	struct shoal_stats st;
	struct stat before, after;

	tmp_make(&t);
	create_or_fail(&st, t.path, 64);
	ck_assert_int_eq(stat(t.path, &before), 0);
	ck_assert_int_lt((long long)before.st_blocks * 512, FIXED_SIZE + SLOT_SIZE);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(shoal_stats_claim(&st, i, 1), (int)i);
	shoal_stats_release(&st, 1);
	ck_assert_int_eq(shoal_stats_claim(&st, 1, 2), 1); /* the same room again */
	ck_assert_int_eq(stat(t.path, &after), 0);
	ck_assert_int_ge((long long)(after.st_blocks - before.st_blocks) * 512, 3 * (SLOT_SIZE - 4096));
	ck_assert_int_lt((long long)after.st_blocks * 512, FIXED_SIZE + 5 * SLOT_SIZE);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

START_TEST(register_finds_or_appends_up_to_the_room)
{
	char long_a[100], long_b[100], name[32];
	struct tmp t;
	struct shoal_stats st;
	struct shoal_stats_slot *slot;

	tmp_make(&t);
	create_or_fail(&st, t.path, 1);
	slot = shoal_stats_slot_at(&st, shoal_stats_claim(&st, 0, 1));
	ck_assert_int_eq(shoal_stats_upstream_register(NULL, "app", "127.0.0.1:9001"), -1);
	ck_assert_int_eq(shoal_stats_upstream_register(slot, "app", "127.0.0.1:9001"), 0);
	ck_assert_int_eq(shoal_stats_upstream_register(slot, "app", "127.0.0.1:9002"), 1);
	ck_assert_int_eq(shoal_stats_upstream_register(slot, "api", "127.0.0.1:9001"), 2);
	ck_assert_int_eq(shoal_stats_upstream_register(slot, "app", "127.0.0.1:9001"), 0);
	/* Cut at 63 bytes: names equal that far are the same entry. */
	memset(long_a, 'a', sizeof(long_a) - 1);
	long_a[sizeof(long_a) - 1] = '\0';
	memcpy(long_b, long_a, sizeof(long_b));
	long_b[80] = 'b';
	ck_assert_int_eq(shoal_stats_upstream_register(slot, long_a, "x"), 3);
	ck_assert_int_eq(shoal_stats_upstream_register(slot, long_b, "x"), 3);
	ck_assert_uint_eq(strlen(slot->upstream[3].upstream), 63);
	ck_assert_uint_eq(atomic_load(&slot->upstreams), 4);
	for (int i = 4; i < SHOAL_STATS_UPSTREAM_ROOM; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		ck_assert_int_eq(shoal_stats_upstream_register(slot, "app", name), i);
	}
	ck_assert_int_eq(shoal_stats_upstream_register(slot, "app", "one too many"), -1);
	ck_assert_int_eq(shoal_stats_upstream_register(slot, "app", "127.0.0.1:9002"), 1);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* One exchange of each outcome with a server. */
static void exchanges(struct shoal_stats_slot *slot, int index)
{
	static const int statuses[] = { 101, 200, 204, 404, 502 };

	for (unsigned i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		shoal_stats_upstream_request(slot, index);
		shoal_stats_upstream_sent(slot, index, 100);
		shoal_stats_upstream_response(slot, index, statuses[i], 1000);
		shoal_stats_upstream_received(slot, index, 1000);
	}
	shoal_stats_upstream_request(slot, index);
	shoal_stats_upstream_failure(slot, index, SHOAL_STATS_UPSTREAM_TIMEOUT);
	shoal_stats_upstream_failure(slot, index, SHOAL_STATS_UPSTREAM_CONNECT);
	shoal_stats_upstream_failure(slot, index, SHOAL_STATS_UPSTREAM_INVALID);
	shoal_stats_upstream_active(slot, index, 1);
	shoal_stats_upstream_idle(slot, index, 1);
	shoal_stats_upstream_idle(slot, index, 1);
	shoal_stats_upstream_idle(slot, index, -1);
}

static void expect_exchanges(const uint64_t *c, uint64_t times, uint64_t live)
{
	ck_assert_uint_eq(c[SHOAL_STATS_UP_REQUESTS], 6 * times);
	ck_assert_uint_eq(c[SHOAL_STATS_UP_RESP_1XX], times);
	ck_assert_uint_eq(c[SHOAL_STATS_UP_RESP_1XX + 1], 2 * times);
	ck_assert_uint_eq(c[SHOAL_STATS_UP_RESP_1XX + 2], 0);
	ck_assert_uint_eq(c[SHOAL_STATS_UP_RESP_1XX + 3], times);
	ck_assert_uint_eq(c[SHOAL_STATS_UP_RESP_1XX + 4], times);
	ck_assert_uint_eq(c[SHOAL_STATS_UP_FAIL_CONNECT], times);
	ck_assert_uint_eq(c[SHOAL_STATS_UP_FAIL_TIMEOUT], times);
	ck_assert_uint_eq(c[SHOAL_STATS_UP_FAIL_RESET], 0);
	ck_assert_uint_eq(c[SHOAL_STATS_UP_FAIL_INVALID], times);
	ck_assert_uint_eq(c[SHOAL_STATS_UP_BYTES_SENT], 500 * times);
	ck_assert_uint_eq(c[SHOAL_STATS_UP_BYTES_RECEIVED], 5000 * times);
	ck_assert_uint_eq(c[SHOAL_STATS_UP_TTFB_SUM_US], 5000 * times);
	ck_assert_uint_eq(c[SHOAL_STATS_UP_TTFB + shoal_stats_latency_bucket(1000)], 5 * times);
	ck_assert_uint_eq(c[SHOAL_STATS_UP_ACTIVE], live);
	ck_assert_uint_eq(c[SHOAL_STATS_UP_IDLE], live);
}

START_TEST(writers_ignore_no_slot_and_unregistered_servers)
{
	struct tmp t;
	struct shoal_stats st;
	struct shoal_stats_snapshot snap;
	struct shoal_stats_slot *slot;
	int index;

	tmp_make(&t);
	create_or_fail(&st, t.path, 1);
	slot = shoal_stats_slot_at(&st, shoal_stats_claim(&st, 0, 1));
	index = shoal_stats_upstream_register(slot, "app", "s1");
	exchanges(NULL, index);
	exchanges(slot, -1);
	exchanges(slot, SHOAL_STATS_UPSTREAM_ROOM);
	ck_assert_int_eq(shoal_stats_snapshot_init(&snap, &st.view, NULL), 0);
	snapshot_or_fail(&st.view, &snap);
	ck_assert_uint_eq(snap.nupstreams, 1);
	expect_exchanges(pair(&snap, "app", "s1"), 0, 0);
	exchanges(slot, index);
	snapshot_or_fail(&st.view, &snap);
	expect_exchanges(pair(&snap, "app", "s1"), 1, 1);
	shoal_stats_snapshot_free(&snap);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* Two workers count the same servers at different indices; one exits, a new one starts. */
START_TEST(snapshots_add_up_workers_and_retired_by_name)
{
	struct tmp t;
	struct shoal_stats st;
	struct shoal_stats_snapshot snap;
	struct shoal_stats_slot *a, *b, *c;

	tmp_make(&t);
	create_or_fail(&st, t.path, 2);
	a = shoal_stats_slot_at(&st, shoal_stats_claim(&st, 0, 1));
	b = shoal_stats_slot_at(&st, shoal_stats_claim(&st, 1, 1));
	exchanges(a, shoal_stats_upstream_register(a, "app", "s1"));
	exchanges(a, shoal_stats_upstream_register(a, "app", "s2"));
	exchanges(b, shoal_stats_upstream_register(b, "app", "s2"));
	exchanges(b, shoal_stats_upstream_register(b, "app", "s1"));
	exchanges(b, shoal_stats_upstream_register(b, "api", "s1"));
	ck_assert_int_eq(shoal_stats_snapshot_init(&snap, &st.view, NULL), 0);
	snapshot_or_fail(&st.view, &snap);
	ck_assert_uint_eq(snap.nupstreams, 3);
	ck_assert_str_eq(snap.upstreams[0].upstream, "api"); /* in order of the names */
	ck_assert_str_eq(snap.upstreams[1].server, "s1");
	ck_assert_str_eq(snap.upstreams[2].server, "s2");
	expect_exchanges(pair(&snap, "app", "s1"), 2, 2);
	expect_exchanges(pair(&snap, "api", "s1"), 1, 1);

	shoal_stats_release(&st, 0);
	ck_assert_uint_eq(atomic_load(&a->upstreams), 0);
	ck_assert_uint_eq(atomic_load(&st.view.hdr->upstream_retired_used), 2);
	snapshot_or_fail(&st.view, &snap);
	expect_exchanges(pair(&snap, "app", "s1"), 2, 1); /* the gauges left with the worker */
	expect_exchanges(pair(&snap, "app", "s2"), 2, 1);

	c = shoal_stats_slot_at(&st, shoal_stats_claim(&st, 0, 2));
	ck_assert_int_eq(shoal_stats_upstream_register(c, "app", "s9"), 0);
	exchanges(c, shoal_stats_upstream_register(c, "app", "s1"));
	shoal_stats_release(&st, 1);
	snapshot_or_fail(&st.view, &snap);
	ck_assert_uint_eq(snap.nupstreams, 4);
	expect_exchanges(pair(&snap, "app", "s1"), 3, 1);
	expect_exchanges(pair(&snap, "app", "s2"), 2, 0);
	expect_exchanges(pair(&snap, "api", "s1"), 1, 0);
	expect_exchanges(pair(&snap, "app", "s9"), 0, 0);
	ck_assert_uint_eq(snap.upstream_dropped, 0);
	shoal_stats_snapshot_free(&snap);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* A worker with a full room of servers of its own, counted once each, exits. */
static void retire_a_full_worker(struct shoal_stats *st, unsigned first)
{
	struct shoal_stats_slot *slot = shoal_stats_slot_at(st, shoal_stats_claim(st, 0, 1));
	char server[32];

	for (unsigned i = 0; i < SHOAL_STATS_UPSTREAM_ROOM; i++) {
		snprintf(server, sizeof(server), "10.0.0.1:%u", first + i);
		shoal_stats_upstream_request(slot, shoal_stats_upstream_register(slot, "app", server));
	}
	shoal_stats_release(st, 0);
}

START_TEST(a_full_retired_area_counts_what_it_drops)
{
	struct tmp t;
	struct shoal_stats st;
	struct shoal_stats_snapshot snap;
	struct shoal_stats_slot *slot;

	tmp_make(&t);
	create_or_fail(&st, t.path, 1);
	for (unsigned w = 0; w < SHOAL_STATS_UPSTREAM_RETIRED_ROOM / SHOAL_STATS_UPSTREAM_ROOM; w++)
		retire_a_full_worker(&st, w * SHOAL_STATS_UPSTREAM_ROOM);
	ck_assert_uint_eq(atomic_load(&st.view.hdr->upstream_retired_used),
			  SHOAL_STATS_UPSTREAM_RETIRED_ROOM);
	slot = shoal_stats_slot_at(&st, shoal_stats_claim(&st, 0, 1));
	shoal_stats_upstream_request(slot, shoal_stats_upstream_register(slot, "app", "new"));
	shoal_stats_upstream_request(slot, shoal_stats_upstream_register(slot, "app", "10.0.0.1:7"));
	shoal_stats_release(&st, 0);
	ck_assert_int_eq(shoal_stats_snapshot_init(&snap, &st.view, NULL), 0);
	snapshot_or_fail(&st.view, &snap);
	ck_assert_uint_eq(snap.nupstreams, SHOAL_STATS_UPSTREAM_RETIRED_ROOM);
	ck_assert_uint_eq(snap.upstream_dropped, 1);
	ck_assert_uint_eq(pair(&snap, "app", "10.0.0.1:7")[SHOAL_STATS_UP_REQUESTS], 2);
	ck_assert_uint_eq(pair(&snap, "app", "10.0.0.1:255")[SHOAL_STATS_UP_REQUESTS], 1);
	shoal_stats_snapshot_free(&snap);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* Every exchange moves several counters of an entry together; a torn copy would show. */
static void upstream_writer(struct shoal_stats_slot *slot)
{
	int a = shoal_stats_upstream_register(slot, "app", "s1");
	int b = shoal_stats_upstream_register(slot, "app", "s2");

	for (unsigned i = 0; i < WRITER_EXCHANGES; i++) {
		int index = i % 3 ? a : b;
		shoal_stats_write_begin(slot);
		shoal_stats_upstream_add(slot, index, SHOAL_STATS_UP_REQUESTS, 1);
		shoal_stats_upstream_add(slot, index, SHOAL_STATS_UP_BYTES_SENT, 10);
		shoal_stats_write_end(slot);
		shoal_stats_upstream_response(slot, index, 200, (uint64_t)1 << (i % 26));
	}
	_exit(0);
}

static bool pair_consistent(const uint64_t *c)
{
	uint64_t buckets = 0;

	for (unsigned i = 0; i < SHOAL_STATS_LATENCY_BUCKETS; i++)
		buckets += c[SHOAL_STATS_UP_TTFB + i];
	return c[SHOAL_STATS_UP_BYTES_SENT] == 10 * c[SHOAL_STATS_UP_REQUESTS] &&
	       c[SHOAL_STATS_UP_RESP_1XX + 1] == buckets &&
	       (buckets == c[SHOAL_STATS_UP_REQUESTS] || buckets + 1 == c[SHOAL_STATS_UP_REQUESTS]);
}

/* Exit status: 0 fine, 1 torn copy, 2 went backwards, 3 wrong final totals, 4 no snapshot,
 * 5 timed out. */
static int upstream_reader(const char *path)
{
	struct shoal_stats_view v;
	struct shoal_stats_snapshot snap;
	uint64_t last = 0;
	time_t deadline = time(NULL) + READER_TIMEOUT_S;

	if (shoal_stats_open_read(&v, path, NULL) < 0 || shoal_stats_snapshot_init(&snap, &v, NULL) < 0)
		return 4;
	for (;;) {
		uint64_t requests = 0;
		if (shoal_stats_snapshot(&v, &snap, NULL) < 0)
			return 4;
		for (unsigned i = 0; i < snap.nupstreams; i++) {
			if (!pair_consistent(snap.upstreams[i].counters))
				return 1;
			requests += snap.upstreams[i].counters[SHOAL_STATS_UP_REQUESTS];
		}
		if (requests < last)
			return 2;
		last = requests;
		if (snap.retired_workers == 1)
			return requests == WRITER_EXCHANGES && snap.nupstreams == 2 ? 0 : 3;
		if (time(NULL) > deadline)
			return 5;
	}
}

START_TEST(upstream_copies_are_never_torn)
{
	struct tmp t;
	struct shoal_stats st;
	pid_t reader, writer;
	int index, status;

	tmp_make(&t);
	create_or_fail(&st, t.path, 1);
	reader = fork();
	ck_assert_int_ge(reader, 0);
	if (reader == 0)
		_exit(upstream_reader(t.path));
	index = shoal_stats_claim(&st, 0, 1);
	writer = fork();
	ck_assert_int_ge(writer, 0);
	if (writer == 0)
		upstream_writer(shoal_stats_slot_at(&st, index));
	ck_assert_int_eq(waitpid(writer, &status, 0), writer);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	shoal_stats_release(&st, index);
	ck_assert_int_eq(waitpid(reader, &status, 0), reader);
	ck_assert_msg(WIFEXITED(status), "reader died");
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* A file with known upstream counts: worker 5 talked to app's two servers and to an upstream
 * whose name needs escaping; an earlier worker talked to app's first server. */
static void known_upstreams(struct shoal_stats *st, const char *path)
{
	struct shoal_stats_slot *slot;
	int a, b, odd;

	create_or_fail(st, path, 2);
	slot = shoal_stats_slot_at(st, shoal_stats_claim(st, 4, 2));
	exchanges(slot, shoal_stats_upstream_register(slot, "app", "127.0.0.1:9001"));
	shoal_stats_release(st, 0);
	slot = shoal_stats_slot_at(st, shoal_stats_claim(st, 5, 3));
	shoal_stats_worker_start(slot, 4242);
	a = shoal_stats_upstream_register(slot, "app", "127.0.0.1:9001");
	b = shoal_stats_upstream_register(slot, "app", "[::1]:9002");
	odd = shoal_stats_upstream_register(slot, "we\"ird\\", "/run/x\n.sock");
	exchanges(slot, a);
	shoal_stats_upstream_request(slot, b);
	shoal_stats_upstream_failure(slot, b, SHOAL_STATS_UPSTREAM_RESET);
	shoal_stats_upstream_request(slot, odd);
	shoal_stats_upstream_response(slot, odd, 200, 3);
}

#define APP_9001 "upstream=\"app\",server=\"127.0.0.1:9001\""

START_TEST(prometheus_exposes_the_upstreams)
{
	static const char *const lines[] = {
		"# TYPE shoal_upstream_requests_total counter\n"
		"shoal_upstream_requests_total{" APP_9001 "} 12\n",
		"\nshoal_upstream_requests_total{upstream=\"app\",server=\"[::1]:9002\"} 1\n",
		"\nshoal_upstream_requests_total{upstream=\"we\\\"ird\\\\\",server=\"/run/x\\n.sock\"} 1\n",
		"\nshoal_upstream_responses_total{" APP_9001 ",class=\"2xx\"} 4\n",
		"\nshoal_upstream_responses_total{" APP_9001 ",class=\"3xx\"} 0\n",
		"\nshoal_upstream_failures_total{" APP_9001 ",kind=\"connect\"} 2\n",
		"\nshoal_upstream_failures_total{upstream=\"app\",server=\"[::1]:9002\",kind=\"reset\"} 1\n",
		"# TYPE shoal_upstream_connections gauge\n",
		"\nshoal_upstream_connections{" APP_9001 ",state=\"active\"} 1\n",
		"\nshoal_upstream_connections{" APP_9001 ",state=\"idle\"} 1\n",
		"\nshoal_upstream_bytes_total{" APP_9001 ",direction=\"sent\"} 1000\n",
		"\nshoal_upstream_bytes_total{" APP_9001 ",direction=\"received\"} 10000\n",
		"# TYPE shoal_upstream_ttfb_seconds histogram\n",
		"\nshoal_upstream_ttfb_seconds_bucket{" APP_9001 ",le=\"0.000512\"} 0\n",
		"\nshoal_upstream_ttfb_seconds_bucket{" APP_9001 ",le=\"0.001024\"} 10\n",
		"\nshoal_upstream_ttfb_seconds_bucket{" APP_9001 ",le=\"+Inf\"} 10\n",
		"\nshoal_upstream_ttfb_seconds_sum{" APP_9001 "} 0.01\n",
		"\nshoal_upstream_ttfb_seconds_count{" APP_9001 "} 10\n",
		"\nshoal_upstream_ttfb_seconds_count{upstream=\"app\",server=\"[::1]:9002\"} 0\n",
		"\nshoal_request_duration_seconds_sum 0\n", /* the unlabelled histogram is unchanged */
	};
	struct tmp t;
	struct shoal_stats st;

	tmp_make(&t);
	known_upstreams(&st, t.path);
	expect_format(shoal_stats_format_prometheus, &st.view, lines, ARRAY_LEN(lines));
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

START_TEST(json_and_the_table_show_the_upstreams)
{
	static const char *const json[] = {
		"\"upstream_dropped\": 0,\n \"upstreams\": [\n  {\"upstream\": \"app\", \"server\": "
		"\"127.0.0.1:9001\", \"requests\": 12, \"responses_1xx\": 2, \"responses_2xx\": 4, ",
		"\"failures_connect\": 2, \"failures_timeout\": 2, \"failures_reset\": 0, "
		"\"failures_invalid\": 2, \"connections_active\": 1, \"connections_idle\": 1, "
		"\"bytes_sent\": 1000, \"bytes_received\": 10000, \"ttfb_sum_us\": 10000, "
		"\"ttfb_buckets\": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0",
		"{\"upstream\": \"we\\\"ird\\\\\", \"server\": \"/run/x\\u000a.sock\", \"requests\": 1, ",
	};
	static const char *const table[] = {
		"UPSTREAM SERVER          REQUESTS      2XX     4XX     5XX CONNECT TIMEOUT   RESET "
		"INVALID ACTIVE   IDLE       SENT   RECEIVED  TTFB-P50  TTFB-P99\n",
		"app      127.0.0.1:9001        12        4       2       2       2       2       0 "
		"      2      1      1     1000 B    9.8 KiB    768 us    1.0 ms\n",
		"app      [::1]:9002             1        0       0       0       0       0       1 "
		"      0      0      0        0 B        0 B         -         -\n",
		"we\"ird\\  /run/x?.sock           1        1       0       0",
	};
	struct tmp t;
	struct shoal_stats st;

	tmp_make(&t);
	known_upstreams(&st, t.path);
	expect_format(shoal_stats_format_json, &st.view, json, ARRAY_LEN(json));
	expect_format(shoal_stats_format_upstreams, &st.view, table, ARRAY_LEN(table));
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* How many times needle occurs in text. */
static unsigned occurrences(const char *text, const char *needle)
{
	unsigned n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

START_TEST(a_queue_entry_shows_what_the_queue_did)
{
	static const char *const table[] = {
		"\napp      127.0.0.1:9001         1 ",
		"\napp      (queue)        2 waiting, 5 queued, 3 refused when full, 1 timed out",
	};
	static const char *const json[] = {
		"{\"upstream\": \"app\", \"server\": \"\", \"requests\": 0, ",
		"\"queued\": 5, \"queue_full\": 3, \"queue_timeout\": 1}",
	};
	static const char *const prometheus[] = {
		"# TYPE shoal_upstream_queue_total counter\n"
		"shoal_upstream_queue_total{upstream=\"app\",outcome=\"queued\"} 5\n"
		"shoal_upstream_queue_total{upstream=\"app\",outcome=\"full\"} 3\n"
		"shoal_upstream_queue_total{upstream=\"app\",outcome=\"timeout\"} 1\n",
		"# TYPE shoal_upstream_queue_waiting gauge\n"
		"shoal_upstream_queue_waiting{upstream=\"app\"} 2\n",
	};
	struct shoal_stats_slot *slot;
	struct shoal_stats st;
	struct tmp t;
	char *text;
	int server, queue;

	tmp_make(&t);
	create_or_fail(&st, t.path, 2);
	slot = shoal_stats_slot_at(&st, shoal_stats_claim(&st, 0, 1));
	shoal_stats_worker_start(slot, 4242);
	server = shoal_stats_upstream_register(slot, "app", "127.0.0.1:9001");
	queue = shoal_stats_upstream_register(slot, "app", "");
	ck_assert_int_ne(server, queue);
	shoal_stats_upstream_request(slot, server);
	for (unsigned i = 0; i < 5; i++)
		shoal_stats_upstream_count(slot, queue, SHOAL_STATS_UP_QUEUED);
	for (unsigned i = 0; i < 3; i++)
		shoal_stats_upstream_count(slot, queue, SHOAL_STATS_UP_QUEUE_FULL);
	shoal_stats_upstream_count(slot, queue, SHOAL_STATS_UP_QUEUE_TIMEOUT);
	shoal_stats_upstream_active(slot, queue, +1);
	shoal_stats_upstream_active(slot, queue, +1);
	expect_format(shoal_stats_format_upstreams, &st.view, table, ARRAY_LEN(table));
	text = format_to_string(shoal_stats_format_json, &st.view);
	expect_lines(text, json, sizeof(json) / sizeof(json[0]));
	/* The queue's object alone has queue counters: a server's has none. */
	ck_assert_uint_eq(occurrences(text, "\"queued\""), 1);
	free(text);
	text = format_to_string(shoal_stats_format_prometheus, &st.view);
	expect_lines(text, prometheus, sizeof(prometheus) / sizeof(prometheus[0]));
	/* The queue is no server of the servers' series. */
	ck_assert_ptr_null(strstr(text, "server=\"\""));
	free(text);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

START_TEST(a_file_without_upstreams_says_so)
{
	static const char *const json[] = { "\"upstream_dropped\": 0,\n \"upstreams\": []}\n" };
	struct tmp t;
	struct shoal_stats st;
	char *text;

	tmp_make(&t);
	create_or_fail(&st, t.path, 1);
	text = format_to_string(shoal_stats_format_upstreams, &st.view);
	ck_assert_str_eq(text, "no upstream servers\n");
	free(text);
	expect_format(shoal_stats_format_json, &st.view, json, 1);
	text = format_to_string(shoal_stats_format_prometheus, &st.view);
	ck_assert_ptr_null(strstr(text, "shoal_upstream_"));
	free(text);
	shoal_stats_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* The layout before the upstream counters: a version 2 file is refused by its version. */
static void make_version_2(const char *path)
{
	struct shoal_stats st;
	uint32_t version = 2;
	int fd;

	create_or_fail(&st, path, 2);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, &version, sizeof(version), 8), (ssize_t)sizeof(version));
	close(fd);
	shoal_stats_close(&st, false);
}

START_TEST(an_older_layout_is_refused_by_its_version)
{
	struct tmp t;
	struct shoal_stats_view v;
	struct shoal_stats st;
	struct shoal_err err = { "" };

	tmp_make(&t);
	make_version_2(t.path);
	ck_assert_int_eq(shoal_stats_open_read(&v, t.path, &err), -1);
	ck_assert_msg(strstr(err.msg, "stats layout version 2; this tool reads version 4"), "%s",
		      err.msg);
	ck_assert_int_eq(shoal_stats_adopt(&st, t.path, &err), -1);
	ck_assert_msg(strstr(err.msg, "stats layout version 2"), "%s", err.msg);
	tmp_remove(&t);
}
END_TEST

START_TEST(shoalctl_shows_the_upstreams)
{
	static char out[65536];
	struct tmp t;
	struct shoal_stats st;

	tmp_make(&t);
	known_upstreams(&st, t.path);
	ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "-f", t.path, "upstreams", NULL }, out,
				      sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "UPSTREAM SERVER "));
	ck_assert_ptr_nonnull(strstr(out, "\napp      127.0.0.1:9001        12        4 "));
	ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "-f", t.path, "stats", "--json", NULL },
				      out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"server\": \"[::1]:9002\", \"requests\": 1, "));
	ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "-f", t.path, "stats", "--prometheus",
						  NULL }, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "\nshoal_upstream_requests_total{upstream=\"app\","
					  "server=\"127.0.0.1:9001\"} 12\n"));
	ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "-f", t.path, "upstreams", "--json",
						  NULL }, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"server\": \"[::1]:9002\", \"requests\": 1, "));
	ck_assert_ptr_null(strstr(out, "\"workers\""));
	ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "-f", t.path, "upstreams",
						  "--prometheus", NULL }, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "shoal_upstream_requests_total{upstream=\"app\","
					  "server=\"127.0.0.1:9001\"} 12\n"));
	ck_assert_ptr_null(strstr(out, "shoal_requests_total"));
	ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "-f", t.path, "upstreams", "-n", "1",
						  NULL }, out, sizeof(out)), 2);
	shoal_stats_close(&st, true);
	make_version_2(t.path);
	ck_assert_int_eq(run_shoalctl((char *[]){ "shoalctl", "-f", t.path, "upstreams", NULL }, out,
				      sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "stats layout version 2; this tool reads version 4"));
	tmp_remove(&t);
}
END_TEST

static Suite *stats_upstream_suite(void)
{
	Suite *s = suite_create("stats_upstream");
	TCase *file = tcase_create("file");
	TCase *format = tcase_create("format");

	tcase_add_test(file, the_file_has_the_upstream_layout);
	tcase_add_test(file, a_slot_gets_its_room_when_first_claimed);
	tcase_add_test(file, register_finds_or_appends_up_to_the_room);
	tcase_add_test(file, writers_ignore_no_slot_and_unregistered_servers);
	tcase_add_test(file, snapshots_add_up_workers_and_retired_by_name);
	tcase_add_test(file, a_full_retired_area_counts_what_it_drops);
	tcase_add_test(file, upstream_copies_are_never_torn);
	tcase_add_test(file, an_older_layout_is_refused_by_its_version);
	tcase_set_timeout(file, 120);
	tcase_add_test(format, prometheus_exposes_the_upstreams);
	tcase_add_test(format, json_and_the_table_show_the_upstreams);
	tcase_add_test(format, a_file_without_upstreams_says_so);
	tcase_add_test(format, a_queue_entry_shows_what_the_queue_did);
	suite_add_tcase(s, file);
	suite_add_tcase(s, format);
	if (shoalctl_path) {
		TCase *ctl = tcase_create("shoalctl");
		tcase_add_test(ctl, shoalctl_shows_the_upstreams);
		tcase_set_timeout(ctl, 30);
		suite_add_tcase(s, ctl);
	}
	return s;
}

int main(int argc, char **argv)
{
	shoalctl_path = argc > 1 ? argv[1] : NULL;
	return shoal_check_run(stats_upstream_suite());
}
