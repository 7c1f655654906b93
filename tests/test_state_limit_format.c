#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/state/limit.h"
#include "shoal/state/limit_format.h"
#include "shoal/state/state.h"

#include "check_run.h"
#include "limit_fixture.h"


struct fixture {
	struct limit_state s;
	struct shoal_state_limit_top top[10];
};

static struct shoal_state_limit_zone *rate_zone(struct fixture *f, const char *name,
						double rate, uint32_t burst)
{
	struct shoal_state_limit_spec spec = {
		.name = name, .key = "client_ip", .size = 1024, .rate = rate, .burst = burst,
	};

	return limit_state_zone_add(&f->s, &spec);
}

/* n requests of key at one instant: those beyond the burst are refused. */
static void take_n(struct fixture *f, struct shoal_state_limit_zone *z, const char *key, int n)
{
	uint64_t h = shoal_state_limit_hash(&f->s.st, key, strlen(key)), retry;

	for (int i = 0; i < n; i++)
		shoal_state_limit_take(z, h, key, strlen(key), 1000000, &retry);
}

enum form { TEXT, JSON, PROMETHEUS };

/* What the format writes for f's file, showing at most max keys, as a string to free. */
static char *shown(struct fixture *f, enum form form, size_t max)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(out);
	if (form == TEXT)
		shoal_state_limit_format_text(out, &f->s.st, f->top, max);
	else if (form == JSON)
		shoal_state_limit_format_json(out, &f->s.st, f->top, max);
	else
		shoal_state_limit_format_prometheus(out, &f->s.st);
	ck_assert_int_eq(fclose(out), 0);
	return text;
}

static void expect_shown(struct fixture *f, enum form form, size_t max, const char *want)
{
	char *text = shown(f, form, max);

	ck_assert_str_eq(text, want);
	free(text);
}

/* Whether what the format writes has part in it. */
static bool shows(struct fixture *f, enum form form, size_t max, const char *part)
{
	char *text = shown(f, form, max);
	bool found = strstr(text, part) != NULL;

	free(text);
	return found;
}

START_TEST(without_live_zones_says_so)
{
	struct fixture f;

	limit_state_open(&f.s, "limit-format");
	expect_shown(&f, TEXT, 10, "no limit zones\n");
	expect_shown(&f, JSON, 10, "{\"zones\": []}\n");
	expect_shown(&f, PROMETHEUS, 10, "");
	/* A retired zone is not shown. */
	shoal_state_limit_retire(rate_zone(&f, "old", 1, 0));
	expect_shown(&f, TEXT, 10, "no limit zones\n");
	expect_shown(&f, PROMETHEUS, 10, "");
	limit_state_close(&f.s);
}
END_TEST

/* A rate zone with refusals, a concurrency zone, and a retired zone of the rate zone's name
 * with counts of its own, which must not show. */
static void two_zones(struct fixture *f)
{
	struct shoal_state_limit_spec conn = {
		.name = "inflight", .key = "header:X-Api-Key", .size = 64, .conn = 3,
	};
	struct shoal_state_limit_zone *old = rate_zone(f, "perip", 1, 0), *z;

	take_n(f, old, "10.9.9.9", 50);
	shoal_state_limit_retire(old);
	z = rate_zone(f, "perip", 2.5, 1);
	take_n(f, z, "10.0.0.1", 6);
	take_n(f, z, "10.0.0.2", 3);
	take_n(f, z, "10.0.0.3", 1);
	limit_state_zone_add(&f->s, &conn);
}

START_TEST(text_is_a_row_per_zone_then_its_top_keys)
{
	struct fixture f;

	limit_state_open(&f.s, "limit-format");
	two_zones(&f);
	expect_shown(&f, TEXT, 10,
		     "ZONE     KIND KEY                  RATE  BURST   CONN     SIZE     KEYS"
		     "     PASSED  DELAYED   REJECTED  EVICTIONS  UNTRACKED\n"
		     "perip    rate client_ip             2.5      1      -     1024        3"
		     "          5        0          5          0          0\n"
		     "inflight conn header:X-Api-Key        -      -      3       64        0"
		     "          0        0          0          0          0\n"
		     "\nperip: top keys by rejections\n"
		     "    REJECTED  KEY\n"
		     "           4  10.0.0.1\n"
		     "           1  10.0.0.2\n"
		     "\ninflight: no key refused\n");
	/* Fewer keys asked for: the most refused; none: no key sections. */
	ck_assert(shows(&f, TEXT, 1, "           4  10.0.0.1\n\ninflight: no key refused\n"));
	ck_assert(!shows(&f, TEXT, 0, "perip:"));
	ck_assert(!shows(&f, TEXT, 0, "inflight:"));
	limit_state_close(&f.s);
}
END_TEST

START_TEST(json_is_an_object_per_zone_with_its_top_keys)
{
	struct fixture f;

	limit_state_open(&f.s, "limit-format");
	two_zones(&f);
	expect_shown(&f, JSON, 10,
		     "{\"zones\": [\n"
		     " {\"name\": \"perip\", \"kind\": \"rate\", \"key\": \"client_ip\", "
		     "\"rate\": 2.5, \"burst\": 1, \"conn\": null, \"size\": 1024, \"keys\": 3, "
		     "\"passed\": 5, \"delayed\": 0, \"rejected\": 5, \"evictions\": 0, "
		     "\"untracked\": 0, \"top\": [{\"key\": \"10.0.0.1\", \"rejected\": 4}, "
		     "{\"key\": \"10.0.0.2\", \"rejected\": 1}]},\n"
		     " {\"name\": \"inflight\", \"kind\": \"conn\", \"key\": \"header:X-Api-Key\", "
		     "\"rate\": null, \"burst\": null, \"conn\": 3, \"size\": 64, \"keys\": 0, "
		     "\"passed\": 0, \"delayed\": 0, \"rejected\": 0, \"evictions\": 0, "
		     "\"untracked\": 0, \"top\": []}\n"
		     "]}\n");
	ck_assert(shows(&f, JSON, 0, "\"untracked\": 0, \"top\": []},\n"));
	limit_state_close(&f.s);
}
END_TEST

START_TEST(prometheus_has_a_series_per_zone_and_none_per_key)
{
	struct fixture f;
	char *text;

	limit_state_open(&f.s, "limit-format");
	two_zones(&f);
	text = shown(&f, PROMETHEUS, 10);
	ck_assert_ptr_nonnull(strstr(text,
		"# TYPE shoal_limit_requests_total counter\n"
		"shoal_limit_requests_total{zone=\"perip\",result=\"passed\"} 5\n"
		"shoal_limit_requests_total{zone=\"perip\",result=\"delayed\"} 0\n"
		"shoal_limit_requests_total{zone=\"perip\",result=\"rejected\"} 5\n"
		"shoal_limit_requests_total{zone=\"inflight\",result=\"passed\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE shoal_limit_keys gauge\n"
				     "shoal_limit_keys{zone=\"perip\"} 3\n"
				     "shoal_limit_keys{zone=\"inflight\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE shoal_limit_evictions_total counter\n"
				     "shoal_limit_evictions_total{zone=\"perip\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE shoal_limit_untracked_total counter\n"
				     "shoal_limit_untracked_total{zone=\"perip\"} 0\n"
				     "shoal_limit_untracked_total{zone=\"inflight\"} 0\n"));
	ck_assert_ptr_null(strstr(text, "10.0.0.1"));
	ck_assert_ptr_null(strstr(text, "rejected\"} 50"));
	free(text);
	limit_state_close(&f.s);
}
END_TEST

START_TEST(names_and_keys_are_escaped_for_each_format)
{
	struct fixture f;
	struct shoal_state_limit_zone *z;
	char *text;

	limit_state_open(&f.s, "limit-format");
	z = rate_zone(&f, "a\"b\\c", 1, 0);
	take_n(&f, z, "x\ty\xc3\xa9\"", 2);
	text = shown(&f, TEXT, 10);
	ck_assert_ptr_nonnull(strstr(text, "\n           1  x?y\xc3\xa9\"\n"));
	free(text);
	text = shown(&f, JSON, 10);
	ck_assert_ptr_nonnull(strstr(text, "{\"name\": \"a\\\"b\\\\c\", "));
	ck_assert_ptr_nonnull(strstr(text, "[{\"key\": \"x\\u0009y\\u00c3\\u00a9\\\"\", "));
	free(text);
	text = shown(&f, PROMETHEUS, 10);
	ck_assert_ptr_nonnull(strstr(text, "\nshoal_limit_keys{zone=\"a\\\"b\\\\c\"} 1\n"));
	free(text);
	limit_state_close(&f.s);
}
END_TEST

START_TEST(rates_are_shown_without_trailing_zeros)
{
	static const struct {
		double rate;
		const char *shown;
	} cases[] = {
		{ 10, "\"rate\": 10, " }, { 0.5, "\"rate\": 0.5, " }, { 0.125, "\"rate\": 0.125, " },
		{ 1234.05, "\"rate\": 1234.05, " }, { 0.001, "\"rate\": 0.001, " },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture f;
		char *text;

		limit_state_open(&f.s, "limit-format");
		rate_zone(&f, "z", cases[i].rate, 0);
		text = shown(&f, JSON, 0);
		ck_assert_msg(strstr(text, cases[i].shown), "%s lacks %s", text, cases[i].shown);
		free(text);
		limit_state_close(&f.s);
	}
}
END_TEST

static Suite *limit_format_suite(void)
{
	Suite *s = suite_create("state_limit_format");
	TCase *tc = tcase_create("format");

	tcase_add_test(tc, without_live_zones_says_so);
	tcase_add_test(tc, text_is_a_row_per_zone_then_its_top_keys);
	tcase_add_test(tc, json_is_an_object_per_zone_with_its_top_keys);
	tcase_add_test(tc, prometheus_has_a_series_per_zone_and_none_per_key);
	tcase_add_test(tc, names_and_keys_are_escaped_for_each_format);
	tcase_add_test(tc, rates_are_shown_without_trailing_zeros);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return shoal_check_run(limit_format_suite());
}
