/* libFuzzer target for path normalisation. The input is a request path; it is normalised
 * into an output buffer of exactly its size (so that AddressSanitizer sees any write past
 * it), both roomy and tight, and the result must be a clean absolute path: starting with '/',
 * without empty, "." or ".." segments, without control bytes, and no longer than allowed. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "shoal/http/path.h"

/* What a worker gives the normaliser (PATH_MAX-sized). */
#define ROOMY_OUT 4096

static bool has_segment(const char *path, size_t len, const char *seg)
{
	size_t n = strlen(seg);

	for (const char *p = path; (p = memchr(p, '/', len - (size_t)(p - path))); p++) {
		size_t left = len - (size_t)(p - path) - 1;

		if (left >= n && memcmp(p + 1, seg, n) == 0 && (left == n || p[1 + n] == '/'))
			return true;
	}
	return false;
}

static void check_clean(const char *out, size_t outlen, size_t outsz)
{
	FUZZ_CHECK(outlen >= 1 && outlen < outsz);
	FUZZ_CHECK(out[0] == '/' && out[outlen] == '\0');
	FUZZ_CHECK(strlen(out) == outlen);
	FUZZ_CHECK(!strstr(out, "//"));
	FUZZ_CHECK(!has_segment(out, outlen, ".") && !has_segment(out, outlen, ".."));
	for (size_t i = 0; i < outlen; i++)
		FUZZ_CHECK((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
}

/* Normalises into a heap buffer of exactly outsz bytes; returns it (or NULL on error). */
static char *normalize(const char *path, size_t len, size_t outsz, int *rc, size_t *outlen)
{
	char *out = malloc(outsz);

	*outlen = 12345;
	*rc = shoal_http_path_normalize(path, len, out, outsz, outlen);
	FUZZ_CHECK(*rc == 0 || *rc == -400 || *rc == -414);
	if (*rc == 0)
		return out;
	free(out);
	return NULL;
}

/* A clean path without '%' is its own normal form. */
static void check_idempotent(const char *out, size_t outlen)
{
	size_t again_len;
	int rc;
	char *again;

	if (memchr(out, '%', outlen))
		return;
	again = normalize(out, outlen, outlen + 1, &rc, &again_len);
	FUZZ_CHECK(rc == 0 && again_len == outlen && memcmp(again, out, outlen) == 0);
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = malloc(size ? size : 1);
	size_t roomy_len, tight_len, tight_sz;
	int roomy_rc, tight_rc;
	char *roomy, *tight;

	memcpy(path, data, size);
	roomy = normalize(path, size, ROOMY_OUT, &roomy_rc, &roomy_len);
	FUZZ_CHECK(roomy_rc != 0 || (size > 0 && path[0] == '/'));
	if (roomy) {
		check_clean(roomy, roomy_len, ROOMY_OUT);
		/* Decoding only shrinks, and resolving segments only removes. */
		FUZZ_CHECK(roomy_len <= size + 1);
		check_idempotent(roomy, roomy_len);
	}
	/* A buffer sized from the input: the verdict may only change to 414, exactly when the
	 * result plus its NUL does not fit. */
	tight_sz = 1 + (size ? (unsigned char)data[size - 1] % (size + 1) : 0);
	tight = normalize(path, size, tight_sz, &tight_rc, &tight_len);
	if (roomy_rc == -400)
		FUZZ_CHECK(tight_rc == -400);
	if (roomy_rc == 0) {
		FUZZ_CHECK(tight_rc == (roomy_len < tight_sz ? 0 : -414));
		if (tight)
			FUZZ_CHECK(tight_len == roomy_len && memcmp(tight, roomy, roomy_len + 1) == 0);
	}
	free(tight);
	free(roomy);
	free(path);
	return 0;
}
