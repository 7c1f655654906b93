#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/http/chunked.h"

#include "check_run.h"
#include "repeat.h"

/* A chunked body, then what follows it in the buffer. */
static const struct {
	const char *body;
	const char *rest;
	uint64_t data_len;
	bool complete;
} chunked_valid[] = {
	{ "5\r\nhello\r\n0\r\n\r\n", "GET / HTTP/1.1\r\n", 5, true },
	{ "0\r\n\r\n", "", 0, true },
	{ "A\r\n0123456789\r\na\r\n0123456789\r\n00\r\n\r\n", "X", 20, true },
	{ "3;name\r\nabc\r\n4 ; a = b ;c=\"q\\\"x; y\";d=tok\r\n\r\n\r\n\r\n0;last\r\n"
	  "\r\n", "POST", 7,
	  true },
	{ "1\r\n\n\r\n0\r\nX-Trailer: v\r\nY:\r\nZ: caf\xc3\xa9\t!\r\n\r\n", "\r\n", 1, true },
	{ "2\r\n\r\n\r\n0\r\n\r\n", "0\r\n\r\n", 2, true },
	{ "ffffffffffffffff\r\n", "", 0, false },
};

static int skip_all(const char *text, size_t len, struct shoal_http_chunked *dec,
		    size_t *consumed, uint64_t *bytes)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, text, len);
	rc = shoal_http_chunked_skip(dec, copy, len, consumed, bytes);
	free(copy);
	return rc;
}

START_TEST(chunked_every_split_point)
{
	size_t body_len = strlen(chunked_valid[_i].body);
	size_t len = body_len + strlen(chunked_valid[_i].rest), consumed, total;
	bool complete = chunked_valid[_i].complete;
	size_t expected_total = complete ? body_len : len;
	char *text = malloc(len + 1);
	struct shoal_http_chunked dec;
	uint64_t bytes;
	int rc = 0;

	ck_assert_ptr_nonnull(text);
	strcpy(text, chunked_valid[_i].body);
	strcat(text, chunked_valid[_i].rest);
	for (size_t k = 0; k <= len; k++) {
		shoal_http_chunked_init(&dec);
		bytes = 0;
		rc = skip_all(text, k, &dec, &consumed, &bytes);
		total = consumed;
		if (k < body_len || !complete) {
			ck_assert_int_eq(rc, 0);
			ck_assert_uint_eq(consumed, k);
			rc = skip_all(text + k, len - k, &dec, &consumed, &bytes);
			total += consumed;
		}
		ck_assert_int_eq(rc, complete ? 1 : 0);
		ck_assert_uint_eq(total, expected_total);
		ck_assert_uint_eq(bytes, chunked_valid[_i].data_len);
	}
	shoal_http_chunked_init(&dec);
	bytes = 0;
	total = 0;
	rc = 0;
	for (size_t k = 0; k < len && rc == 0; k++) {
		rc = skip_all(text + k, 1, &dec, &consumed, &bytes);
		total += consumed;
	}
	ck_assert_int_eq(rc, complete ? 1 : 0);
	ck_assert_uint_eq(total, expected_total);
	ck_assert_uint_eq(bytes, chunked_valid[_i].data_len);
	free(text);
}
END_TEST

static const char *const chunked_invalid[] = {
	"\r\n",
	";a\r\n",
	"5 \r\nhello\r\n",
	"5;\r\n",
	"5;=x\r\n",
	"5;a=\r\n",
	"5;a \r\n",
	"5;a=b c\r\n",
	"5;a=\"x\r\n",
	"5;a=\"x\"y\r\n",
	"5;a=\"\x01\"\r\n",
	"5;a@b\r\n",
	"0\r\n x: y\r\n\r\n",
	"0\r\nX\r\n\r\n",
	"0\r\n: y\r\n\r\n",
	"0\r\nX y: z\r\n\r\n",
	"0\r\nX: a\x7f\r\n\r\n",
};

/* A malformed body is refused whole and byte by byte, and stays refused. */
static void assert_malformed(const char *text, size_t n)
{
	struct shoal_http_chunked dec;
	uint64_t bytes = 0;
	size_t consumed;
	int rc = 0;

	shoal_http_chunked_init(&dec);
	ck_assert_msg(skip_all(text, strlen(text), &dec, &consumed, &bytes) == -1, "text %zu", n);
	ck_assert_int_eq(skip_all("0\r\n\r\n", 5, &dec, &consumed, &bytes), -1);
	shoal_http_chunked_init(&dec);
	for (size_t k = 0; k < strlen(text) && rc == 0; k++)
		rc = skip_all(text + k, 1, &dec, &consumed, &bytes);
	ck_assert_msg(rc == -1, "text %zu byte by byte", n);
}

START_TEST(chunked_malformed)
{
	assert_malformed(chunked_invalid[_i], (size_t)_i);
}
END_TEST

/* The chunked framing rules of issue 12 (RFC 9112 7.1), a test per rule: a proxy in front of
 * shoal forwards a body as this decoder framed it, so each body here is refused. */
#define MALFORMED(rule, ...)                                                          \
	START_TEST(rule)                                                               \
	{                                                                              \
		static const char *const texts[] = { __VA_ARGS__ };                    \
		for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)          \
			assert_malformed(texts[i], i);                                 \
	}                                                                              \
	END_TEST

/* chunk-size = 1*HEXDIG, and nothing before it. */
MALFORMED(chunk_size_not_hex, "Z\r\n", "Z\r\nx\r\n0\r\n\r\n", "x\r\n", "g\r\n")
MALFORMED(chunk_size_0x_prefix, "0x5\r\nhello\r\n0\r\n\r\n", "0x5\r\n", "0X0\r\n\r\n")
MALFORMED(chunk_size_sign, "-0\r\n\r\n", "-1\r\n", "+5\r\n")
MALFORMED(chunk_size_leading_whitespace, " 0\r\n\r\n", "\t0\r\n\r\n", " 5\r\nhello\r\n0\r\n\r\n")
/* 16 hex digits hold any uint64_t: a 17th is refused, even a leading zero. */
MALFORMED(chunk_size_overflow, "10000000000000000\r\n", "00000000000000001\r\n",
	  "1000000000000000000000000000000\r\nx\r\n0\r\n\r\n")
MALFORMED(chunk_size_cr_cr, "2\r\r;a\r\nab\r\n0\r\n\r\n", "5\r\rhello\r\n")
MALFORMED(chunk_longer_than_declared, "5\r\nhelloX\r\n", "3\r\nhello\r\n0\r\n\r\n",
	  "0\r\nhello\r\n")
MALFORMED(chunk_extension_bare_lf, "5;a\nhello\r\n0\r\n\r\n", "5;a=b\nhello\r\n",
	  "5;a=\"b\"\nhello\r\n", "5 ;a\n", "0;a\n\r\n")
/* CRLF ends every line of the framing. */
MALFORMED(chunked_bare_lf, "5\nhello\r\n", "5\r\nhello\n0\r\n\r\n", "5\r\nhello\r\n0\r\n\n",
	  "0\r\nX: y\n\r\n", "5\r\nhello\r\n\n0\r\n\r\n")
MALFORMED(chunked_bare_cr, "5\rhello\r\n", "5\r\nhello\r\r", "0\r\n\r\r", "0\r\nX: y\r\r\n",
	  "5\r\nhello\r0\r\n\r\n")

START_TEST(chunked_line_bounds)
{
	struct shoal_http_chunked dec;
	uint64_t bytes = 0;
	size_t consumed;
	/* 4096 bytes of size line, CRLF included, is the most allowed. */
	char *fits = repeat("1;x=", 'a', 4096 - 6, "\r\nZ\r\n0\r\n\r\n");
	char *too_long = repeat("1;x=", 'a', 4096 - 5, "\r\nZ\r\n0\r\n\r\n");
	char *trailers = repeat("0\r\nX: ", 'a', 5000, "\r\n\r\n");

	shoal_http_chunked_init(&dec);
	ck_assert_int_eq(skip_all(fits, strlen(fits), &dec, &consumed, &bytes), 1);
	ck_assert_uint_eq(consumed, strlen(fits));
	ck_assert_uint_eq(bytes, 1);
	shoal_http_chunked_init(&dec);
	ck_assert_int_eq(skip_all(too_long, strlen(too_long), &dec, &consumed, &bytes), -1);
	shoal_http_chunked_init(&dec);
	ck_assert_int_eq(skip_all(trailers, strlen(trailers), &dec, &consumed, &bytes), -1);
	free(fits);
	free(too_long);
	free(trailers);
}
END_TEST

START_TEST(chunked_counts_data_bytes)
{
	struct shoal_http_chunked dec;
	uint64_t bytes = 7;
	size_t consumed;
	char data[1000];

	memset(data, 'd', sizeof(data));
	shoal_http_chunked_init(&dec);
	ck_assert_int_eq(skip_all("FFFFFFFFFFFFFFFF;big\r\n", 22, &dec, &consumed, &bytes), 0);
	ck_assert_uint_eq(bytes, 7);
	ck_assert_int_eq(skip_all(data, sizeof(data), &dec, &consumed, &bytes), 0);
	ck_assert_uint_eq(consumed, sizeof(data));
	ck_assert_uint_eq(bytes, 1007);
	ck_assert_uint_eq(dec.remaining, UINT64_MAX - 1000);
	/* Once done, nothing more belongs to the body. */
	shoal_http_chunked_init(&dec);
	ck_assert_int_eq(skip_all("0\r\n\r\n", 5, &dec, &consumed, &bytes), 1);
	ck_assert_int_eq(skip_all("GET", 3, &dec, &consumed, &bytes), 1);
	ck_assert_uint_eq(consumed, 0);
}
END_TEST

static Suite *http_chunked_suite(void)
{
	Suite *s = suite_create("http_chunked");
	TCase *chunked = tcase_create("chunked");

	tcase_add_loop_test(chunked, chunked_every_split_point, 0,
			    sizeof(chunked_valid) / sizeof(chunked_valid[0]));
	tcase_add_loop_test(chunked, chunked_malformed, 0,
			    sizeof(chunked_invalid) / sizeof(chunked_invalid[0]));
	tcase_add_test(chunked, chunked_line_bounds);
	tcase_add_test(chunked, chunk_size_not_hex);
	tcase_add_test(chunked, chunk_size_0x_prefix);
	tcase_add_test(chunked, chunk_size_sign);
	tcase_add_test(chunked, chunk_size_leading_whitespace);
	tcase_add_test(chunked, chunk_size_overflow);
	tcase_add_test(chunked, chunk_size_cr_cr);
	tcase_add_test(chunked, chunk_longer_than_declared);
	tcase_add_test(chunked, chunk_extension_bare_lf);
	tcase_add_test(chunked, chunked_bare_lf);
	tcase_add_test(chunked, chunked_bare_cr);
	tcase_add_test(chunked, chunked_counts_data_bytes);
	suite_add_tcase(s, chunked);
	return s;
}

int main(void)
{
	return shoal_check_run(http_chunked_suite());
}
