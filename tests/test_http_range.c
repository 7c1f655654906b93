#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/http/range.h"

#include "check_run.h"

#define MAX_WANT 4
#define OUT_CAP 64
#define SENTINEL 0xa5a5a5a5a5a5a5a5u

struct range_case {
	const char *value;
	uint64_t size;
	size_t max;
	int rc;
	struct shoal_http_range want[MAX_WANT]; /* the first rc of them, when rc > 0 */
};

static const struct range_case range_cases[] = {
	/* simple */
	{ "bytes=0-499", 1000, 8, 1, { { 0, 499 } } },
	{ "bytes=500-999", 1000, 8, 1, { { 500, 999 } } },
	{ "bytes=0-0", 1000, 8, 1, { { 0, 0 } } },
	{ "bytes=999-999", 1000, 8, 1, { { 999, 999 } } },
	/* open-ended */
	{ "bytes=500-", 1000, 8, 1, { { 500, 999 } } },
	{ "bytes=0-", 1000, 8, 1, { { 0, 999 } } },
	{ "bytes=999-", 1000, 8, 1, { { 999, 999 } } },
	/* suffix, including one larger than the representation */
	{ "bytes=-500", 1000, 8, 1, { { 500, 999 } } },
	{ "bytes=-1", 1000, 8, 1, { { 999, 999 } } },
	{ "bytes=-1000", 1000, 8, 1, { { 0, 999 } } },
	{ "bytes=-5000", 1000, 8, 1, { { 0, 999 } } },
	{ "bytes=-18446744073709551615", 10, 8, 1, { { 0, 9 } } },
	/* last beyond the end is clamped */
	{ "bytes=0-5000", 1000, 8, 1, { { 0, 999 } } },
	{ "bytes=500-18446744073709551615", 1000, 8, 1, { { 500, 999 } } },
	/* several, sorted or not */
	{ "bytes=0-9,20-29,40-49", 100, 8, 3, { { 0, 9 }, { 20, 29 }, { 40, 49 } } },
	{ "bytes=40-49,0-9,20-29", 100, 8, 3, { { 0, 9 }, { 20, 29 }, { 40, 49 } } },
	{ "bytes=-10,0-9", 100, 8, 2, { { 0, 9 }, { 90, 99 } } },
	{ "bytes=0-9,11-19", 100, 8, 2, { { 0, 9 }, { 11, 19 } } },
	/* overlapping ranges merge */
	{ "bytes=0-50,40-99", 1000, 8, 1, { { 0, 99 } } },
	{ "bytes=0-99,10-20", 1000, 8, 1, { { 0, 99 } } },
	{ "bytes=0-0,0-0,0-0", 10, 8, 1, { { 0, 0 } } },
	{ "bytes=500-,-100", 1000, 8, 1, { { 500, 999 } } },
	{ "bytes=50-59,0-9,5-54", 100, 8, 1, { { 0, 59 } } },
	{ "bytes=90-,0-9,5-95", 100, 8, 1, { { 0, 99 } } },
	/* adjacent ranges merge */
	{ "bytes=0-9,10-19", 100, 8, 1, { { 0, 19 } } },
	{ "bytes=10-19,0-9,30-39", 100, 8, 2, { { 0, 19 }, { 30, 39 } } },
	{ "bytes=0-1,3-4,2-2", 100, 8, 1, { { 0, 4 } } },
	/* whitespace around commas only */
	{ "bytes=0-9 , 20-29", 100, 8, 2, { { 0, 9 }, { 20, 29 } } },
	{ "bytes=0-9\t,\t20-29", 100, 8, 2, { { 0, 9 }, { 20, 29 } } },
	{ "bytes= 0-9 ", 100, 8, 1, { { 0, 9 } } },
	{ "bytes=0 -9", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=0- 9", 100, 8, 0, { { 0, 0 } } },
	{ "bytes =0-9", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=0-9 20-29", 100, 8, 0, { { 0, 0 } } },
	/* the unit is case-insensitive, and must be "bytes" */
	{ "BYTES=0-9", 100, 8, 1, { { 0, 9 } } },
	{ "Bytes=0-9", 100, 8, 1, { { 0, 9 } } },
	{ "items=0-1", 100, 8, 0, { { 0, 0 } } },
	{ "byte=0-1", 100, 8, 0, { { 0, 0 } } },
	{ "bytesx=0-1", 100, 8, 0, { { 0, 0 } } },
	{ "bytes", 100, 8, 0, { { 0, 0 } } },
	{ "", 100, 8, 0, { { 0, 0 } } },
	{ "bytes\x1d" "0-1", 100, 8, 0, { { 0, 0 } } },
	/* empty list elements are skipped, but one range is needed */
	{ "bytes=", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=,", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=, ,", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=,0-9,,20-29,", 100, 8, 2, { { 0, 9 }, { 20, 29 } } },
	/* syntax errors void the whole header */
	{ "bytes=1-0", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=0-9,5-4", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=-", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=0-9;20-29", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=a-b", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=+1-2", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=0x10-20", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=--5", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=0-9-", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=5", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=5-4", 0, 8, 0, { { 0, 0 } } },
	{ "bytes=,", 0, 8, 0, { { 0, 0 } } },
	/* nothing satisfiable */
	{ "bytes=-0", 100, 8, -416, { { 0, 0 } } },
	{ "bytes=5-", 5, 8, -416, { { 0, 0 } } },
	{ "bytes=5-10", 5, 8, -416, { { 0, 0 } } },
	{ "bytes=1000-2000", 1000, 8, -416, { { 0, 0 } } },
	{ "bytes=0-0", 0, 8, -416, { { 0, 0 } } },
	{ "bytes=0-", 0, 8, -416, { { 0, 0 } } },
	{ "bytes=-5", 0, 8, -416, { { 0, 0 } } },
	{ "bytes=10-20,-5", 0, 8, -416, { { 0, 0 } } },
	{ "bytes=18446744073709551615-", 100, 8, -416, { { 0, 0 } } },
	/* unsatisfiable ranges are dropped when others remain */
	{ "bytes=200-300,0-9", 100, 8, 1, { { 0, 9 } } },
	{ "bytes=-0,0-0", 10, 8, 1, { { 0, 0 } } },
	/* numbers beyond uint64 are syntax errors; 20 digits that fit are fine */
	{ "bytes=18446744073709551616-", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=0-18446744073709551616", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=-18446744073709551616", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=99999999999999999999-", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=0-1,123456789012345678901234567890-", 100, 8, 0, { { 0, 0 } } },
	{ "bytes=18446744073709551614-18446744073709551615", UINT64_MAX, 8, 1,
	  { { UINT64_MAX - 1, UINT64_MAX - 1 } } },
	{ "bytes=0-18446744073709551615,-18446744073709551615", UINT64_MAX, 8, 1,
	  { { 0, UINT64_MAX - 1 } } },
	{ "bytes=10000000000000000000-", UINT64_MAX, 8, 1,
	  { { 10000000000000000000u, UINT64_MAX - 1 } } },
	{ "bytes=00000000000000000000000001-00000000000000000000000002", 100, 8, 1, { { 1, 2 } } },
	/* max counts range-specs as written, before dropping or merging */
	{ "bytes=0-1,2-3,4-5", 100, 2, 0, { { 0, 0 } } },
	{ "bytes=0-1,2-3,4-5", 100, 3, 1, { { 0, 5 } } },
	{ "bytes=0-0,0-0,0-0", 10, 2, 0, { { 0, 0 } } },
	{ "bytes=200-,0-1,300-", 100, 2, 0, { { 0, 0 } } },
	{ "bytes=0-1,,,,", 100, 1, 1, { { 0, 1 } } },
	{ "bytes=0-1", 100, 0, 0, { { 0, 0 } } },
	{ "bytes=9-10,0-1,6-7,3-4", 100, 4, 4, { { 0, 1 }, { 3, 4 }, { 6, 7 }, { 9, 10 } } },
};

START_TEST(test_range_table)
{
	const struct range_case *tc = &range_cases[_i];
	struct shoal_http_range out[OUT_CAP];
	int rc, i;

	ck_assert_uint_le(tc->max, OUT_CAP);
	for (i = 0; i < OUT_CAP; i++)
		out[i].first = out[i].last = SENTINEL;
	rc = shoal_http_range_parse(tc->value, strlen(tc->value), tc->size, out, tc->max);
	ck_assert_msg(rc == tc->rc, "\"%s\" size %llu: got %d, want %d", tc->value,
		      (unsigned long long)tc->size, rc, tc->rc);
	for (i = 0; i < rc; i++) {
		ck_assert_uint_eq(out[i].first, tc->want[i].first);
		ck_assert_uint_eq(out[i].last, tc->want[i].last);
	}
	for (i = (int)tc->max; i < OUT_CAP; i++)
		ck_assert_uint_eq(out[i].first, SENTINEL);
}
END_TEST

START_TEST(test_range_len_bounds_input)
{
	struct shoal_http_range out[4];

	ck_assert_int_eq(shoal_http_range_parse("bytes=0-99", 8, 1000, out, 4), 1);
	ck_assert_uint_eq(out[0].first, 0);
	ck_assert_uint_eq(out[0].last, 999);
	ck_assert_int_eq(shoal_http_range_parse("bytes=0-1", 5, 1000, out, 4), 0);
	ck_assert_int_eq(shoal_http_range_parse("bytes=0-1\0,2-3", 14, 1000, out, 4), 0);
}
END_TEST

/* Writes n single-byte ranges, from position n - 1 down to 0, into buf. */
static size_t write_descending_ranges(char *buf, size_t cap, int n)
{
	size_t len = (size_t)snprintf(buf, cap, "bytes=");
	int i;

	for (i = n - 1; i >= 0; i--)
		len += (size_t)snprintf(buf + len, cap - len, "%d-%d%s", i, i, i ? "," : "");
	return len;
}

START_TEST(test_range_many_reversed_merge)
{
	static char buf[16384];
	static struct shoal_http_range out[1000];
	size_t len = write_descending_ranges(buf, sizeof(buf), 1000);

	ck_assert_uint_lt(len, sizeof(buf) - 1);
	ck_assert_int_eq(shoal_http_range_parse(buf, len, 5000, out, 1000), 1);
	ck_assert_uint_eq(out[0].first, 0);
	ck_assert_uint_eq(out[0].last, 999);
	ck_assert_int_eq(shoal_http_range_parse(buf, len, 5000, out, 999), 0);
}
END_TEST

START_TEST(test_range_many_disjoint_sorted)
{
	static char buf[16384];
	static struct shoal_http_range out[500];
	size_t len = (size_t)snprintf(buf, sizeof(buf), "bytes=");
	int i;

	for (i = 499; i >= 0; i--)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%d-%d,", 3 * i, 3 * i + 1);
	ck_assert_int_eq(shoal_http_range_parse(buf, len, 5000, out, 500), 500);
	for (i = 0; i < 500; i++) {
		ck_assert_uint_eq(out[i].first, 3 * (uint64_t)i);
		ck_assert_uint_eq(out[i].last, 3 * (uint64_t)i + 1);
	}
}
END_TEST

#define ETAG "\"5f3-1a2b\""
#define LAST_MODIFIED ((time_t)784111777) /* Sun, 06 Nov 1994 08:49:37 GMT */

struct if_range_case {
	const char *value;
	const char *etag; /* NULL: none */
	time_t last_modified;
	bool ok;
};

static const struct if_range_case if_range_cases[] = {
	{ ETAG, ETAG, LAST_MODIFIED, true },
	{ ETAG, ETAG, 0, true },
	{ "\"5f3-1a2c\"", ETAG, LAST_MODIFIED, false },
	{ "\"5f3-1a2\"", ETAG, LAST_MODIFIED, false },
	{ "\"5f3-1a2b", ETAG, LAST_MODIFIED, false },
	{ "5f3-1a2b", ETAG, LAST_MODIFIED, false },
	{ "\"5F3-1A2B\"", ETAG, LAST_MODIFIED, false },
	{ "W/" ETAG, ETAG, LAST_MODIFIED, false },
	{ "W/" ETAG, "W/" ETAG, LAST_MODIFIED, false },
	{ ETAG, "W/" ETAG, LAST_MODIFIED, false },
	{ ETAG, NULL, LAST_MODIFIED, false },
	{ "\"a b\"", "\"a b\"", LAST_MODIFIED, false },
	{ "\"\"", "\"\"", LAST_MODIFIED, true },
	{ "\"", "\"", LAST_MODIFIED, false },
	{ "Sun, 06 Nov 1994 08:49:37 GMT", ETAG, LAST_MODIFIED, true },
	{ "Sun, 06 Nov 1994 08:49:37 GMT", NULL, LAST_MODIFIED, true },
	{ "Sunday, 06-Nov-94 08:49:37 GMT", ETAG, LAST_MODIFIED, true },
	{ "Sun Nov  6 08:49:37 1994", ETAG, LAST_MODIFIED, true },
	{ "Sun, 06 Nov 1994 08:49:37 GMT", ETAG, LAST_MODIFIED + 1, false },
	{ "Sun, 06 Nov 1994 08:49:37 GMT", ETAG, LAST_MODIFIED - 1, false },
	{ "Sun, 06 Nov 1994 08:49:38 GMT", ETAG, LAST_MODIFIED, false },
	{ "Thu, 01 Jan 1970 00:00:00 GMT", ETAG, 0, false },
	{ "Sun, 06 Nov 1994 08:49:37 GMT ", ETAG, LAST_MODIFIED, false },
	{ "yesterday", ETAG, LAST_MODIFIED, false },
	{ "", ETAG, LAST_MODIFIED, false },
	{ "", "", LAST_MODIFIED, false },
	{ "*", ETAG, LAST_MODIFIED, false },
};

START_TEST(test_if_range_table)
{
	const struct if_range_case *tc = &if_range_cases[_i];
	size_t etag_len = tc->etag ? strlen(tc->etag) : 0;
	bool ok = shoal_http_range_if_range_ok(tc->value, strlen(tc->value), tc->etag, etag_len,
					       tc->last_modified);

	ck_assert_msg(ok == tc->ok, "If-Range '%s' etag '%s' lm %lld: got %d", tc->value,
		      tc->etag ? tc->etag : "(none)", (long long)tc->last_modified, ok);
}
END_TEST

START_TEST(test_if_range_len_bounds)
{
	const char *etag = ETAG;

	ck_assert(shoal_http_range_if_range_ok(ETAG "xyz", strlen(ETAG), etag, strlen(etag), 0));
	ck_assert(!shoal_http_range_if_range_ok(ETAG, strlen(ETAG) - 1, etag, strlen(etag) - 1, 0));
}
END_TEST

static Suite *http_range_suite(void)
{
	Suite *s = suite_create("http_range");
	TCase *range = tcase_create("range");
	TCase *if_range = tcase_create("if_range");

	tcase_add_loop_test(range, test_range_table, 0,
			    (int)(sizeof(range_cases) / sizeof(range_cases[0])));
	tcase_add_test(range, test_range_len_bounds_input);
	tcase_add_test(range, test_range_many_reversed_merge);
	tcase_add_test(range, test_range_many_disjoint_sorted);
	tcase_add_loop_test(if_range, test_if_range_table, 0,
			    (int)(sizeof(if_range_cases) / sizeof(if_range_cases[0])));
	tcase_add_test(if_range, test_if_range_len_bounds);
	suite_add_tcase(s, range);
	suite_add_tcase(s, if_range);
	return s;
}

int main(void)
{
	return shoal_check_run(http_range_suite());
}
