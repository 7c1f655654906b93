#include <check.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shoal/http/date.h"

#include "check_run.h"

struct date_case {
	const char *value;
	int rc;
	long long when; /* when rc == 0 */
};

static const struct date_case date_cases[] = {
	/* the three forms */
	{ "Sun, 06 Nov 1994 08:49:37 GMT", 0, 784111777 },
	{ "Sunday, 06-Nov-94 08:49:37 GMT", 0, 784111777 },
	{ "Sun Nov  6 08:49:37 1994", 0, 784111777 },
	{ "Sun Nov 06 08:49:37 1994", 0, 784111777 },
	{ "Tuesday, 01-Jan-30 00:00:00 GMT", 0, 1893456000 },
	{ "Thu Jan  1 00:00:00 1970", 0, 0 },
	{ "Mon Feb 29 00:00:00 2016", 0, 1456704000 },
	/* calendar edges */
	{ "Thu, 01 Jan 1970 00:00:00 GMT", 0, 0 },
	{ "Wed, 31 Dec 1969 23:59:59 GMT", 0, -1 },
	{ "Mon, 01 Jan 1900 00:00:00 GMT", 0, -2208988800LL },
	{ "Thu, 29 Feb 2024 12:00:00 GMT", 0, 1709208000 },
	{ "Tue, 29 Feb 2000 00:00:00 GMT", 0, 951782400 },
	{ "Tue, 19 Jan 2038 03:14:08 GMT", 0, 2147483648LL },
	{ "Fri, 31 Dec 9999 23:59:59 GMT", 0, 253402300799LL },
	{ "Sat, 31 Dec 2016 23:59:60 GMT", 0, 1483228800 },
	/* invalid values */
	{ "Sun, 06 Foo 1994 08:49:37 GMT", -1, 0 },
	{ "Sun, 06 nov 1994 08:49:37 GMT", -1, 0 },
	{ "Sun, 32 Jan 1994 08:49:37 GMT", -1, 0 },
	{ "Sun, 00 Jan 1994 08:49:37 GMT", -1, 0 },
	{ "Sun, 31 Apr 1994 08:49:37 GMT", -1, 0 },
	{ "Wed, 29 Feb 2023 08:49:37 GMT", -1, 0 },
	{ "Thu, 29 Feb 1900 08:49:37 GMT", -1, 0 },
	{ "Sun, 06 Nov 1994 24:00:00 GMT", -1, 0 },
	{ "Sun, 06 Nov 1994 08:60:00 GMT", -1, 0 },
	{ "Sun, 06 Nov 1994 08:49:61 GMT", -1, 0 },
	{ "Sun, 06 Nov 1899 08:49:37 GMT", -1, 0 },
	/* invalid syntax */
	{ "Sun, 06 Nov 1994 08:49:37", -1, 0 },
	{ "Sun, 06 Nov 1994 08:49:37 UTC", -1, 0 },
	{ "Sun, 06 Nov 1994 08:49:37 gmt", -1, 0 },
	{ "Sun, 06 Nov 1994 08:49:37 GM", -1, 0 },
	{ "Sun, 06 Nov 1994 08:49:37 GMT ", -1, 0 },
	{ " Sun, 06 Nov 1994 08:49:37 GMT", -1, 0 },
	{ "sun, 06 Nov 1994 08:49:37 GMT", -1, 0 },
	{ "Xyz, 06 Nov 1994 08:49:37 GMT", -1, 0 },
	{ "Sun,06 Nov 1994 08:49:37 GMT", -1, 0 },
	{ "Sun, 6 Nov 1994 08:49:37 GMT", -1, 0 },
	{ "Sun, 06 Nov 94 08:49:37 GMT", -1, 0 },
	{ "Sun, 06 Nov 1994 8:49:37 GMT", -1, 0 },
	{ "Sun, 06 Nov 1994 08-49-37 GMT", -1, 0 },
	{ "Sun, 06 Nov +994 08:49:37 GMT", -1, 0 },
	{ "Sunday, 06-Nov-1994 08:49:37 GMT", -1, 0 },
	{ "Sun, 06-Nov-94 08:49:37 GMT", -1, 0 },
	{ "Sunday, 06 Nov 1994 08:49:37 GMT", -1, 0 },
	{ "Sunday, 31-Jun-94 08:49:37 GMT", -1, 0 },
	{ "Sun Nov 6 08:49:37 1994", -1, 0 },
	{ "Sun Nov  6 08:49:37 94", -1, 0 },
	{ "Sun Nov  6 08:49:37 1994 GMT", -1, 0 },
	{ "Sun Nov 31 08:49:37 1994", -1, 0 },
	{ "", -1, 0 },
	{ "GMT", -1, 0 },
};

START_TEST(test_date_table)
{
	const struct date_case *tc = &date_cases[_i];
	time_t t = (time_t)12345;
	int rc = shoal_http_date_parse(tc->value, strlen(tc->value), &t);

	ck_assert_msg(rc == tc->rc, "'%s': got %d, want %d", tc->value, rc, tc->rc);
	if (rc == 0)
		ck_assert_int_eq((long long)t, tc->when);
	else
		ck_assert_int_eq((long long)t, 12345);
}
END_TEST

START_TEST(test_date_len_bounds_input)
{
	const char *s = "Sun, 06 Nov 1994 08:49:37 GMTxyz";
	time_t t = 0;

	ck_assert_int_eq(shoal_http_date_parse(s, 29, &t), 0);
	ck_assert_int_eq((long long)t, 784111777);
	ck_assert_int_eq(shoal_http_date_parse(s, 28, &t), -1);
	ck_assert_int_eq(shoal_http_date_parse(s, 30, &t), -1);
	ck_assert_int_eq(shoal_http_date_parse("Sun Nov  6 08:49:37 1994", 23, &t), -1);
}
END_TEST

static long long rfc850_expected(int year)
{
	struct tm tm = { .tm_year = year - 1900, .tm_mon = 0, .tm_mday = 1 };

	return (long long)timegm(&tm);
}

/* Two-digit years up to 50 years ahead stay in the future; beyond, they are in the past. */
START_TEST(test_date_rfc850_century)
{
	time_t now = time(NULL);
	struct tm tm;
	int year, ahead;
	char buf[64];
	time_t t;

	gmtime_r(&now, &tm);
	year = tm.tm_year + 1900;
	for (ahead = 49; ahead <= 51; ahead++) {
		int full = ahead <= 50 ? year + ahead : year + ahead - 100;

		snprintf(buf, sizeof(buf), "Monday, 01-Jan-%02d 00:00:00 GMT", (year + ahead) % 100);
		ck_assert_int_eq(shoal_http_date_parse(buf, strlen(buf), &t), 0);
		ck_assert_int_eq((long long)t, rfc850_expected(full));
	}
}
END_TEST

static const struct {
	long long when;
	const char *text;
} formatted[] = {
	{ 784111777, "Sun, 06 Nov 1994 08:49:37 GMT" },
	{ 0, "Thu, 01 Jan 1970 00:00:00 GMT" },
	{ -1, "Wed, 31 Dec 1969 23:59:59 GMT" },
	{ 951782400, "Tue, 29 Feb 2000 00:00:00 GMT" },
	{ 253402300799LL, "Fri, 31 Dec 9999 23:59:59 GMT" },
};

START_TEST(test_date_format)
{
	char out[32];
	time_t back;

	ck_assert_uint_eq(shoal_http_date_format((time_t)formatted[_i].when, out), 29);
	ck_assert_str_eq(out, formatted[_i].text);
	ck_assert_int_eq(shoal_http_date_parse(out, 29, &back), 0);
	ck_assert_int_eq((long long)back, formatted[_i].when);
}
END_TEST

START_TEST(test_date_update_once_a_second)
{
	struct shoal_http_date d = { 0 };

	shoal_http_date_update(&d, 784111777);
	ck_assert_int_eq((long long)d.sec, 784111777);
	ck_assert_str_eq(d.text, "Sun, 06 Nov 1994 08:49:37 GMT");
	d.text[0] = 'X';
	shoal_http_date_update(&d, 784111777);
	ck_assert_str_eq(d.text, "Xun, 06 Nov 1994 08:49:37 GMT");
	shoal_http_date_update(&d, 784111778);
	ck_assert_int_eq((long long)d.sec, 784111778);
	ck_assert_str_eq(d.text, "Sun, 06 Nov 1994 08:49:38 GMT");
}
END_TEST

static Suite *http_date_suite(void)
{
	Suite *s = suite_create("http_date");
	TCase *parse = tcase_create("parse");
	TCase *format = tcase_create("format");

	tcase_add_loop_test(parse, test_date_table, 0,
			    (int)(sizeof(date_cases) / sizeof(date_cases[0])));
	tcase_add_test(parse, test_date_len_bounds_input);
	tcase_add_test(parse, test_date_rfc850_century);
	tcase_add_loop_test(format, test_date_format, 0,
			    (int)(sizeof(formatted) / sizeof(formatted[0])));
	tcase_add_test(format, test_date_update_once_a_second);
	suite_add_tcase(s, parse);
	suite_add_tcase(s, format);
	return s;
}

int main(void)
{
	return shoal_check_run(http_date_suite());
}
