/* libFuzzer target for the data spans of the chunked decoder (shoal_http_chunked_next).
 *
 * Every input is cut into spans as a proxy re-framing a body would, whole and in reads of
 * several sizes: the verdict and the bytes consumed must be shoal_http_chunked_skip's, the
 * spans' total its count of data bytes, and the data the same whatever the reads. The data is
 * then re-encoded with shoal_http_chunked_size_line, as the proxy sends it, and must decode
 * back to itself. Last, the input is the payload of a valid chunked encoding whose spans must
 * give it back exactly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "shoal/http/chunked.h"

struct spans {
	int rc;
	size_t consumed;
	char *data; /* the spans concatenated; never longer than the input */
	size_t data_len;
};

/* Feeds buf[0..len) in reads of at most piece bytes, calling again on the rest of each read
 * while the decoder wants more, and gathers the spans. */
static struct spans spans_in_reads(const char *buf, size_t len, size_t piece)
{
	struct shoal_http_chunked dec;
	struct spans s = { 0, 0, malloc(len ? len : 1), 0 };
	size_t read_end = 0;

	shoal_http_chunked_init(&dec);
	while (s.rc == 0 && s.consumed < len) {
		size_t used = 99, off = 99, n = 99;

		if (s.consumed == read_end)
			read_end = len - read_end < piece ? len : read_end + piece;
		s.rc = shoal_http_chunked_next(&dec, buf + s.consumed, read_end - s.consumed, &used,
					       &off, &n);
		FUZZ_CHECK(s.rc == 1 || s.rc == 0 || s.rc == -1);
		FUZZ_CHECK(used <= read_end - s.consumed && off + n <= used);
		FUZZ_CHECK(n > 0 || off == 0);
		FUZZ_CHECK(s.rc != 0 || used > 0);
		memcpy(s.data + s.data_len, buf + s.consumed + off, n);
		s.data_len += n;
		s.consumed += used;
	}
	return s;
}

/* What shoal_http_chunked_skip makes of the same bytes in one call. */
static void check_against_skip(const char *buf, size_t len, const struct spans *s)
{
	struct shoal_http_chunked dec;
	uint64_t bytes = 0;
	size_t used = 99;
	int rc;

	shoal_http_chunked_init(&dec);
	rc = shoal_http_chunked_skip(&dec, buf, len, &used, &bytes);
	FUZZ_CHECK(rc == s->rc && used == s->consumed && bytes == s->data_len);
}

/* The proxy's re-framing of data as one chunk per span of at most 97 bytes. */
static char *encode(const char *data, size_t len, size_t *enc_len)
{
	char *enc = malloc(len + (len / 97 + 2) * 24 + 2);
	size_t w = 0;

	for (size_t pos = 0; pos < len;) {
		size_t n = len - pos < 97 ? len - pos : 97;

		w += shoal_http_chunked_size_line(enc + w, n);
		memcpy(enc + w, data + pos, n);
		w += n;
		memcpy(enc + w, "\r\n", 2);
		w += 2;
		pos += n;
	}
	w += shoal_http_chunked_size_line(enc + w, 0);
	memcpy(enc + w, "\r\n", 2);
	*enc_len = w + 2;
	return enc;
}

static void check_round_trip(const char *data, size_t len)
{
	size_t enc_len;
	char *enc = encode(data, len, &enc_len);
	struct spans s = spans_in_reads(enc, enc_len, 7);

	FUZZ_CHECK(s.rc == 1 && s.consumed == enc_len && s.data_len == len);
	FUZZ_CHECK(len == 0 || memcmp(s.data, data, len) == 0);
	free(s.data);
	free(enc);
}

static void fuzz_spans(const char *buf, size_t len)
{
	static const size_t pieces[] = { 1, 2, 3, 7, 64 };
	struct spans whole = spans_in_reads(buf, len, len ? len : 1);

	check_against_skip(buf, len, &whole);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		struct spans s = spans_in_reads(buf, len, pieces[i]);

		FUZZ_CHECK(s.rc == whole.rc && s.consumed == whole.consumed);
		FUZZ_CHECK(s.data_len == whole.data_len);
		FUZZ_CHECK(s.data_len == 0 || memcmp(s.data, whole.data, s.data_len) == 0);
		free(s.data);
	}
	if (whole.rc == 1)
		check_round_trip(whole.data, whole.data_len);
	free(whole.data);
}

/* Encodes data as a valid chunked body, chunk sizes taken from the data itself, with an
 * extension and a trailer the spans must leave out. */
static void fuzz_valid(const char *data, size_t len)
{
	char *enc = malloc(len * 40 + 64);
	size_t w = 0;
	struct spans s;

	for (size_t pos = 0, n; pos < len; pos += n) {
		n = 1 + (unsigned char)data[pos] % 97;
		n = n < len - pos ? n : len - pos;
		w += shoal_http_chunked_size_line(enc + w, n);
		if (n % 2) {
			memcpy(enc + w - 2, ";ext=\"v\"\r\n", 10);
			w += 8;
		}
		memcpy(enc + w, data + pos, n);
		w += n;
		memcpy(enc + w, "\r\n", 2);
		w += 2;
	}
	memcpy(enc + w, "0\r\nTrailer-Field: x\r\n\r\nNEXT", 27);
	w += 27;
	s = spans_in_reads(enc, w, 5);
	FUZZ_CHECK(s.rc == 1 && s.consumed == w - 4 && s.data_len == len);
	FUZZ_CHECK(len == 0 || memcmp(s.data, data, len) == 0);
	free(s.data);
	free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so that AddressSanitizer sees any read past the end. */
	char *buf = malloc(size ? size : 1);

	memcpy(buf, data, size);
	fuzz_spans(buf, size);
	fuzz_valid(buf, size);
	free(buf);
	return 0;
}
