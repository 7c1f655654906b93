/* libFuzzer target for the chunked body decoder.
 *
 * Every input is decoded as a chunked body, whole and in pieces of several sizes as reads
 * would deliver it; the verdicts, the bytes consumed and the data bytes counted must agree.
 * The input is then the payload of a valid chunked encoding that the decoder must accept,
 * whole and in pieces. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "shoal/http/chunked.h"

struct chunked_result {
	int rc;
	size_t consumed;
	uint64_t body_bytes;
};

/* Feeds buf[0..len) in pieces of at most piece bytes, as reads would deliver it. */
static struct chunked_result decode_in_pieces(const char *buf, size_t len, size_t piece)
{
	struct shoal_http_chunked dec;
	struct chunked_result r = { 0, 0, 0 };

	shoal_http_chunked_init(&dec);
	while (r.consumed < len) {
		size_t n = len - r.consumed < piece ? len - r.consumed : piece, used = 99;

		r.rc = shoal_http_chunked_skip(&dec, buf + r.consumed, n, &used, &r.body_bytes);
		FUZZ_CHECK(used <= n);
		FUZZ_CHECK(r.rc == 1 || r.rc == 0 || r.rc == -1);
		FUZZ_CHECK(r.rc != 0 || used == n);
		r.consumed += used;
		if (r.rc != 0)
			break;
	}
	FUZZ_CHECK(r.body_bytes <= r.consumed);
	if (r.rc == 1)
		FUZZ_CHECK(r.consumed >= 5 && memcmp(buf + r.consumed - 2, "\r\n", 2) == 0);
	if (r.rc == -1) {
		size_t used = 99;

		FUZZ_CHECK(shoal_http_chunked_skip(&dec, buf, len, &used, &r.body_bytes) == -1);
		FUZZ_CHECK(used == 0);
	}
	return r;
}

static void fuzz_chunked(const char *buf, size_t len)
{
	struct chunked_result whole = decode_in_pieces(buf, len, len ? len : 1);
	static const size_t pieces[] = { 1, 2, 3, 7, 64 };

	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		struct chunked_result r = decode_in_pieces(buf, len, pieces[i]);

		FUZZ_CHECK(r.rc == whole.rc && r.consumed == whole.consumed &&
			   r.body_bytes == whole.body_bytes);
	}
}

/* Appends a chunk-size line, with an extension when the size is odd. */
static size_t put_size_line(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char digits[16];
	size_t d = 0, w = 0, rest = n;

	do {
		digits[d++] = hex[rest % 16];
		rest /= 16;
	} while (rest > 0);
	while (d > 0)
		out[w++] = digits[--d];
	if (n % 2)
		w += (size_t)sprintf(out + w, " ; name=\"v\\\"al\"");
	out[w++] = '\r';
	out[w++] = '\n';
	return w;
}

/* Encodes data as a valid chunked body, chunk sizes taken from the data itself. */
static void fuzz_chunked_valid(const char *data, size_t len)
{
	char *enc = malloc(len * 40 + 64);
	size_t w = 0, pos = 0;
	struct chunked_result r;

	while (pos < len) {
		size_t n = 1 + (unsigned char)data[pos] % 97;

		n = n < len - pos ? n : len - pos;
		w += put_size_line(enc + w, n);
		memcpy(enc + w, data + pos, n);
		w += n;
		enc[w++] = '\r';
		enc[w++] = '\n';
		pos += n;
	}
	memcpy(enc + w, "0\r\nTrailer-Field: x\r\n\r\nNEXT", 27);
	w += 27;
	r = decode_in_pieces(enc, w, w);
	FUZZ_CHECK(r.rc == 1 && r.consumed == w - 4 && r.body_bytes == len);
	r = decode_in_pieces(enc, w, 5);
	FUZZ_CHECK(r.rc == 1 && r.consumed == w - 4 && r.body_bytes == len);
	free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so that AddressSanitizer sees any read past the end. */
	char *buf = malloc(size ? size : 1);

	memcpy(buf, data, size);
	fuzz_chunked(buf, size);
	fuzz_chunked_valid(buf, size);
	free(buf);
	return 0;
}
