#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/worker/access_log.h"

#include "check_run.h"

START_TEST(escape_keeps_printable_and_hides_the_rest)
{
	char out[64];
	size_t n = shoal_access_log_escape(out, sizeof(out), "a b\"c\\d\n\x01\xff", 10);

	out[n] = '\0';
	ck_assert_str_eq(out, "a b\\x22c\\x5Cd\\x0A\\x01\\xFF");
}
END_TEST

START_TEST(escape_never_overflows)
{
	char out[8];
	size_t n = shoal_access_log_escape(out, sizeof(out), "abc\n\n\n", 6);

	ck_assert_uint_le(n, sizeof(out));
	ck_assert_uint_eq(n, 7); /* "abc" and one whole "\x0A"; a partial escape is never cut in */
}
END_TEST

static char *read_file(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(combined_format_buffered_until_flush)
{
	char path[] = "/tmp/shoal-access-XXXXXX";
	int fd = mkstemp(path);
	struct shoal_access_log log;
	struct shoal_http_request req = { 0 };
	struct shoal_access_entry e = { .client = "192.0.2.1", .req = &req, .status = 200,
					.body_bytes = 612 };

	close(fd);
	req.method_str = (struct shoal_http_str){ "GET", 3 };
	req.target = (struct shoal_http_str){ "/a b", 4 };
	req.version = 11;
	req.headers[0].name = (struct shoal_http_str){ "User-Agent", 10 };
	req.headers[0].value = (struct shoal_http_str){ "x\"y", 3 };
	req.nheaders = 1;
	ck_assert_int_eq(shoal_access_log_open(&log, path, NULL), 0);
	shoal_access_log_write(&log, 0, &e);
	ck_assert_str_eq(read_file(path), ""); /* nothing written before a flush */
	e.req = NULL;
	e.status = 400;
	e.body_bytes = 0;
	shoal_access_log_write(&log, 0, &e);
	shoal_access_log_flush(&log);
	ck_assert_ptr_nonnull(strstr(read_file(path),
				     "192.0.2.1 - - ["));
	ck_assert_ptr_nonnull(strstr(read_file(path),
				     "] \"GET /a b HTTP/1.1\" 200 612 \"-\" \"x\\x22y\"\n"));
	ck_assert_ptr_nonnull(strstr(read_file(path), "] \"-\" 400 0 \"-\" \"-\"\n"));
	shoal_access_log_close(&log);
	unlink(path);
}
END_TEST

START_TEST(off_writes_nothing)
{
	struct shoal_access_log log;

	ck_assert_int_eq(shoal_access_log_open(&log, "off", NULL), 0);
	ck_assert(!shoal_access_log_enabled(&log));
	shoal_access_log_close(&log);
}
END_TEST

START_TEST(unwritable_path_is_an_error)
{
	struct shoal_access_log log;
	struct shoal_err err;

	ck_assert_int_lt(shoal_access_log_open(&log, "/nonexistent-dir/access.log", &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent-dir/access.log"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("access_log");
	TCase *tc = tcase_create("access_log");

	tcase_add_test(tc, escape_keeps_printable_and_hides_the_rest);
	tcase_add_test(tc, escape_never_overflows);
	tcase_add_test(tc, combined_format_buffered_until_flush);
	tcase_add_test(tc, off_writes_nothing);
	tcase_add_test(tc, unwritable_path_is_an_error);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
