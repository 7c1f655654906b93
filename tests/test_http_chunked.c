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
	const char *data; /* the chunk data, for shoal_http_chunked_next */
} chunked_valid[] = {
	{ "5\r\nhello\r\n0\r\n\r\n", "GET / HTTP/1.1\r\n", 5, true, "hello" },
	{ "0\r\n\r\n", "", 0, true, "" },
	{ "A\r\n0123456789\r\na\r\n0123456789\r\n00\r\n\r\n", "X", 20, true,
	  "01234567890123456789" },
	{ "3;name\r\nabc\r\n4 ; a = b ;c=\"q\\\"x; y\";d=tok\r\n\r\n\r\n\r\n0;last\r\n"
	  "\r\n", "POST", 7,
	  true, "abc\r\n\r\n" },
	{ "1\r\n\n\r\n0\r\nX-Trailer: v\r\nY:\r\nZ: caf\xc3\xa9\t!\r\n\r\n", "\r\n", 1, true,
	  "\n" },
	{ "2\r\n\r\n\r\n0\r\n\r\n", "0\r\n\r\n", 2, true, "\r\n" },
	{ "ffffffffffffffff\r\n", "", 0, false, "" },
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

/* What feeding a body to shoal_http_chunked_next in pieces gave: the verdict of the last call,
 * the bytes consumed in all, and the chunk data of every span, concatenated. */
struct next_result {
	int rc;
	size_t consumed;
	char *data;
	size_t data_len;
};

/* One call on an exact copy of text[0..len), whose span is appended to r->data. */
static int next_once(struct shoal_http_chunked *dec, const char *text, size_t len,
		     struct next_result *r, size_t *used)
{
	char *copy = malloc(len ? len : 1);
	size_t off = 99, n = 99;
	int rc;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, text, len);
	rc = shoal_http_chunked_next(dec, copy, len, used, &off, &n);
	ck_assert(rc == 1 || rc == 0 || rc == -1);
	ck_assert_uint_le(*used, len);
	ck_assert_uint_le(off + n, *used);
	if (n == 0)
		ck_assert_uint_eq(off, 0);
	r->data = realloc(r->data, r->data_len + n + 1);
	ck_assert_ptr_nonnull(r->data);
	memcpy(r->data + r->data_len, copy + off, n);
	r->data_len += n;
	free(copy);
	return rc;
}

/* Feeds text[0..len) in reads whose sizes come from sizes[] (cycled), calling as a proxy
 * would: again on the rest of each read while the decoder wants more. */
static struct next_result next_in_reads(const char *text, size_t len, const size_t *sizes,
					size_t nsizes)
{
	struct next_result r = { 0, 0, NULL, 0 };
	struct shoal_http_chunked dec;
	size_t read_end = 0, k = 0, used;

	shoal_http_chunked_init(&dec);
	while (r.rc == 0 && r.consumed < len) {
		if (r.consumed == read_end) {
			size_t n = sizes[k++ % nsizes];

			read_end = len - read_end < n ? len : read_end + n;
		}
		r.rc = next_once(&dec, text + r.consumed, read_end - r.consumed, &r, &used);
		if (r.rc == 0)
			ck_assert_uint_gt(used, 0);
		r.consumed += used;
	}
	return r;
}

static void assert_next_gives(const char *text, size_t len, const size_t *sizes, size_t nsizes,
			      int rc, size_t consumed, const char *data)
{
	struct next_result r = next_in_reads(text, len, sizes, nsizes);

	ck_assert_int_eq(r.rc, rc);
	ck_assert_uint_eq(r.consumed, consumed);
	ck_assert_uint_eq(r.data_len, strlen(data));
	ck_assert(r.data_len == 0 || memcmp(r.data, data, r.data_len) == 0);
	free(r.data);
}

/* The data spans, at every split point, byte by byte, and in pseudo-random reads. */
START_TEST(chunked_next_spans)
{
	size_t body_len = strlen(chunked_valid[_i].body);
	size_t len = body_len + strlen(chunked_valid[_i].rest);
	bool complete = chunked_valid[_i].complete;
	size_t expected = complete ? body_len : len;
	const char *data = chunked_valid[_i].data;
	char *text = malloc(len + 1);
	uint32_t seed = 12345u + (uint32_t)_i;
	size_t sizes[16];
	static const size_t one = 1;

	ck_assert_ptr_nonnull(text);
	strcpy(text, chunked_valid[_i].body);
	strcat(text, chunked_valid[_i].rest);
	ck_assert_uint_eq(strlen(data), chunked_valid[_i].data_len);
	for (size_t k = 1; k <= len; k++) {
		size_t split[2] = { k, len };

		assert_next_gives(text, len, split, 2, complete ? 1 : 0, expected, data);
	}
	assert_next_gives(text, len, &one, 1, complete ? 1 : 0, expected, data);
	for (int round = 0; round < 50; round++) {
		for (size_t k = 0; k < 16; k++) {
			seed = seed * 1103515245u + 12345u;
			sizes[k] = 1 + (seed >> 16) % 9;
		}
		assert_next_gives(text, len, sizes, 16, complete ? 1 : 0, expected, data);
	}
	free(text);
}
END_TEST

/* Each call stops after one run of data, right where the data ends. */
START_TEST(chunked_next_one_span_per_call)
{
	static const char body[] = "5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\nNEXT";
	struct shoal_http_chunked dec;
	size_t used, off, n;

	shoal_http_chunked_init(&dec);
	ck_assert_int_eq(shoal_http_chunked_next(&dec, body, sizeof(body) - 1, &used, &off, &n), 0);
	ck_assert_uint_eq(off, 3);
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(used, 8);
	ck_assert_int_eq(shoal_http_chunked_next(&dec, body + 8, sizeof(body) - 9, &used, &off, &n),
			 0);
	ck_assert_uint_eq(off, 9);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(used, 12);
	ck_assert_int_eq(shoal_http_chunked_next(&dec, body + 20, sizeof(body) - 21, &used, &off,
						 &n), 1);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(used, 13);
	ck_assert_int_eq(shoal_http_chunked_next(&dec, body + 33, 4, &used, &off, &n), 1);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(n, 0);
	/* A chunk cut by the end of the read gives what there is of it. */
	shoal_http_chunked_init(&dec);
	ck_assert_int_eq(shoal_http_chunked_next(&dec, body, 6, &used, &off, &n), 0);
	ck_assert_uint_eq(off, 3);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(used, 6);
	ck_assert_uint_eq(dec.remaining, 2);
}
END_TEST

/* A larger body, encoded with the size lines of shoal_http_chunked_size_line, comes back
 * whole in any reads. */
START_TEST(chunked_next_round_trip)
{
	static const size_t chunk_sizes[] = { 1, 15, 16, 255, 256, 4095, 4096, 70000, 3 };
	static const size_t reads[] = { 1, 7, 4096, 3, 65536, 2, 100 };
	size_t payload_len = 0, w = 0;
	char *payload, *enc;

	for (size_t i = 0; i < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); i++)
		payload_len += chunk_sizes[i];
	payload = malloc(payload_len + 1);
	enc = malloc(payload_len + 1024);
	ck_assert(payload && enc);
	for (size_t i = 0; i < payload_len; i++)
		payload[i] = (char)("\r\n0;ab"[i % 6] + (i / 6) % 3);
	payload[payload_len] = '\0';
	for (size_t i = 0, pos = 0; i < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); i++) {
		w += shoal_http_chunked_size_line(enc + w, chunk_sizes[i]);
		memcpy(enc + w, payload + pos, chunk_sizes[i]);
		w += chunk_sizes[i];
		pos += chunk_sizes[i];
		memcpy(enc + w, "\r\n", 2);
		w += 2;
	}
	w += shoal_http_chunked_size_line(enc + w, 0);
	memcpy(enc + w, "\r\n", 2);
	w += 2;
	assert_next_gives(enc, w, reads, sizeof(reads) / sizeof(reads[0]), 1, w, payload);
	assert_next_gives(enc, w, &w, 1, 1, w, payload);
	free(payload);
	free(enc);
}
END_TEST

START_TEST(chunked_size_line_format)
{
	static const struct {
		uint64_t n;
		const char *line;
	} cases[] = {
		{ 0, "0\r\n" },
		{ 1, "1\r\n" },
		{ 10, "a\r\n" },
		{ 255, "ff\r\n" },
		{ 4096, "1000\r\n" },
		{ 65535, "ffff\r\n" },
		{ 0x123456789abcdefULL, "123456789abcdef\r\n" },
		{ UINT64_MAX, "ffffffffffffffff\r\n" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[21];

		memset(out, '#', sizeof(out));
		ck_assert_uint_eq(shoal_http_chunked_size_line(out, cases[i].n),
				  strlen(cases[i].line));
		ck_assert(memcmp(out, cases[i].line, strlen(cases[i].line)) == 0);
		ck_assert_int_eq(out[strlen(cases[i].line)], '#');
	}
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
	for (size_t k = 1; k <= strlen(text); k++) {
		struct next_result r = next_in_reads(text, strlen(text), &k, 1);

		ck_assert_msg(r.rc == -1, "text %zu in reads of %zu", n, k);
		free(r.data);
	}
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
	tcase_add_loop_test(chunked, chunked_next_spans, 0,
			    sizeof(chunked_valid) / sizeof(chunked_valid[0]));
	tcase_add_test(chunked, chunked_next_one_span_per_call);
	tcase_add_test(chunked, chunked_next_round_trip);
	tcase_add_test(chunked, chunked_size_line_format);
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
