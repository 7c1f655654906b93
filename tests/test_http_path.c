#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/http/path.h"

#include "check_run.h"

#define BIG 256
#define GUARD 16
#define GUARD_BYTE '\x5a'

struct path_case {
	const char *in;
	size_t outsz;     /* 0 means BIG */
	int rc;           /* expected return */
	const char *want; /* expected output when rc == 0 */
};

static const struct path_case cases[] = {
	/* plain paths pass through */
	{ "/", 0, 0, "/" },
	{ "/index.html", 0, 0, "/index.html" },
	{ "/a/b/c", 0, 0, "/a/b/c" },
	{ "/.hidden", 0, 0, "/.hidden" },
	{ "/...", 0, 0, "/..." },
	{ "/a/.../b", 0, 0, "/a/.../b" },
	{ "/a/..b", 0, 0, "/a/..b" },
	{ "/a?b", 0, 0, "/a?b" },
	{ "/\xc3\xa9t\xc3\xa9", 0, 0, "/\xc3\xa9t\xc3\xa9" },
	/* repeated slashes collapse */
	{ "//a///b", 0, 0, "/a/b" },
	{ "///", 0, 0, "/" },
	{ "/a//", 0, 0, "/a/" },
	/* "." segments */
	{ "/a/./b/", 0, 0, "/a/b/" },
	{ "/a/.", 0, 0, "/a/" },
	{ "/.", 0, 0, "/" },
	{ "/./", 0, 0, "/" },
	/* ".." segments */
	{ "/a/b/..", 0, 0, "/a/" },
	{ "/a/b/../", 0, 0, "/a/" },
	{ "/a/..", 0, 0, "/" },
	{ "/a/b/c/../../d", 0, 0, "/a/d" },
	{ "/a/b/../../c/", 0, 0, "/c/" },
	{ "/..", 0, -400, NULL },
	{ "/../", 0, -400, NULL },
	{ "/../a", 0, -400, NULL },
	{ "/a/b/../../../c", 0, -400, NULL },
	{ "/a/../../b/c/..", 0, -400, NULL },
	/* decoding comes before normalisation */
	{ "/%41%62", 0, 0, "/Ab" },
	{ "/a%20b", 0, 0, "/a b" },
	{ "/%c3%A9", 0, 0, "/\xc3\xa9" },
	{ "/a%2fb", 0, -400, NULL },
	{ "/a%2F..%2fb", 0, -400, NULL },
	{ "/a/%2e%2e/x", 0, 0, "/x" },
	{ "/a/b/%2E%2E/c", 0, 0, "/a/c" },
	{ "/a/%2e", 0, 0, "/a/" },
	{ "/%2e", 0, 0, "/" },
	{ "/%2e%2e/x", 0, -400, NULL },
	{ "/a/%2e%2e/%2e%2e/x", 0, -400, NULL },
	{ "/.%2e/", 0, -400, NULL },
	{ "/..%2f", 0, -400, NULL },
	/* decoding happens once only */
	{ "/a%252e", 0, 0, "/a%2e" },
	{ "/%252e%252e/x", 0, 0, "/%2e%2e/x" },
	{ "/%25", 0, 0, "/%" },
	{ "/%2541", 0, 0, "/%41" },
	/* bad escapes */
	{ "/%zz", 0, -400, NULL },
	{ "/%4", 0, -400, NULL },
	{ "/a%", 0, -400, NULL },
	{ "/a%2", 0, -400, NULL },
	{ "/%G0", 0, -400, NULL },
	{ "/%%41", 0, -400, NULL },
	/* NUL and control bytes, decoded or raw */
	{ "/%00", 0, -400, NULL },
	{ "/a%00b", 0, -400, NULL },
	{ "/%1f", 0, -400, NULL },
	{ "/%0a", 0, -400, NULL },
	{ "/%7f", 0, -400, NULL },
	{ "/%7F", 0, -400, NULL },
	{ "/a\tb", 0, -400, NULL },
	{ "/a\x7f", 0, -400, NULL },
	/* backslash is an ordinary byte */
	{ "/a\\..\\b", 0, 0, "/a\\..\\b" },
	{ "/a\\../b", 0, 0, "/a\\../b" },
	{ "/%5c..%5c", 0, 0, "/\\..\\" },
	/* must start with a raw '/' */
	{ "", 0, -400, NULL },
	{ "a/b", 0, -400, NULL },
	{ "%2fa", 0, -400, NULL },
	/* output size: the result and its NUL must fit */
	{ "/abc", 5, 0, "/abc" },
	{ "/abc", 4, -414, NULL },
	{ "/a/b/", 6, 0, "/a/b/" },
	{ "/a/b/", 5, -414, NULL },
	{ "/", 2, 0, "/" },
	{ "/", 1, -414, NULL },
	{ "/%41%42%43", 5, 0, "/ABC" },
	{ "/%41%42%43", 4, -414, NULL },
	{ "/a/./b", 5, 0, "/a/b" },
	{ "/aaaaaaaaaaaaaaaaaaaa/../b", 3, 0, "/b" },
	{ "/%zz", 1, -400, NULL },
};

static void check_case(const struct path_case *c)
{
	char buf[BIG + GUARD];
	size_t outsz = c->outsz ? c->outsz : BIG;
	size_t outlen = 12345;
	size_t i;
	int rc;

	memset(buf, GUARD_BYTE, sizeof(buf));
	rc = shoal_http_path_normalize(c->in, strlen(c->in), buf, outsz, &outlen);
	ck_assert_msg(rc == c->rc, "\"%s\": rc %d, want %d", c->in, rc, c->rc);
	if (c->rc == 0) {
		ck_assert_str_eq(buf, c->want);
		ck_assert_uint_eq(outlen, strlen(c->want));
	}
	for (i = outsz; i < sizeof(buf); i++)
		ck_assert_msg(buf[i] == GUARD_BYTE, "\"%s\": wrote past outsz at %zu", c->in, i);
}

START_TEST(test_table)
{
	check_case(&cases[_i]);
}
END_TEST

START_TEST(test_zero_outsz)
{
	char buf[1] = { GUARD_BYTE };
	size_t outlen;

	ck_assert_int_eq(shoal_http_path_normalize("/", 1, buf, 0, &outlen), -414);
	ck_assert_int_eq(buf[0], GUARD_BYTE);
}
END_TEST

START_TEST(test_raw_nul)
{
	static const char path[] = "/a\0b";
	char buf[BIG];
	size_t outlen;

	ck_assert_int_eq(shoal_http_path_normalize(path, sizeof(path) - 1, buf, sizeof(buf), &outlen),
			 -400);
}
END_TEST

START_TEST(test_len_bounds_input)
{
	char buf[BIG];
	size_t outlen;

	/* bytes after len (here an escape that would fail) are not read */
	ck_assert_int_eq(shoal_http_path_normalize("/ab%zz", 3, buf, sizeof(buf), &outlen), 0);
	ck_assert_str_eq(buf, "/ab");
	/* an escape cut by len is incomplete */
	ck_assert_int_eq(shoal_http_path_normalize("/a%41", 4, buf, sizeof(buf), &outlen), -400);
}
END_TEST

/* A 4 KiB result in a buffer of exactly its size plus NUL, then one byte short. */
START_TEST(test_long_exact_fit)
{
	enum { N = 4096 };
	static char path[N + 1];
	static char out[N + 1 + GUARD];
	size_t outlen;

	path[0] = '/';
	memset(path + 1, 'x', N - 1);
	memset(out, GUARD_BYTE, sizeof(out));
	ck_assert_int_eq(shoal_http_path_normalize(path, N, out, N + 1, &outlen), 0);
	ck_assert_uint_eq(outlen, N);
	ck_assert_int_eq(memcmp(out, path, N), 0);
	ck_assert_int_eq(out[N], '\0');
	ck_assert_int_eq(out[N + 1], GUARD_BYTE);

	memset(out, GUARD_BYTE, sizeof(out));
	ck_assert_int_eq(shoal_http_path_normalize(path, N, out, N, &outlen), -414);
	ck_assert_int_eq(out[N], GUARD_BYTE);
}
END_TEST

/* Many "a/.." detours and escapes: the result depends only on what survives. */
START_TEST(test_long_detours)
{
	enum { REPS = 2000 };
	static char path[REPS * 9 + 8];
	char out[8];
	size_t outlen, n = 0;
	int i;

	for (i = 0; i < REPS; i++) {
		memcpy(path + n, "/a/%2e%2e", 9);
		n += 9;
	}
	memcpy(path + n, "/b", 2);
	n += 2;
	ck_assert_int_eq(shoal_http_path_normalize(path, n, out, 3, &outlen), 0);
	ck_assert_str_eq(out, "/b");
	ck_assert_int_eq(shoal_http_path_normalize(path, n, out, 2, &outlen), -414);
}
END_TEST

static Suite *http_path_suite(void)
{
	Suite *s = suite_create("http_path");
	TCase *tc = tcase_create("normalize");

	tcase_add_loop_test(tc, test_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_zero_outsz);
	tcase_add_test(tc, test_raw_nul);
	tcase_add_test(tc, test_len_bounds_input);
	tcase_add_test(tc, test_long_exact_fit);
	tcase_add_test(tc, test_long_detours);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return shoal_check_run(http_path_suite());
}
