/* libFuzzer target for Range, If-Range and HTTP-date parsing.
 *
 * Input layout: byte 0 picks the range cap (low 4 bits, plus one) and whether the size is
 * small (one byte) or any uint64_t (eight bytes); the size follows; the rest is the header
 * value, which is also fed to the If-Range check and to the date parser. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "shoal/http/date.h"
#include "shoal/http/range.h"

#define MAX_RANGES 16
/* 10000-01-01T00:00:00Z, beyond what four year digits can write. */
#define YEAR_10000 253402300800LL
/* Room for what the compiler thinks the fields could take, not just the 30 bytes used. */
#define IMF_BUF 80

static void check_ranges(const struct shoal_http_range *r, int n, size_t max, uint64_t size)
{
	FUZZ_CHECK(n == -416 || (n >= 0 && (size_t)n <= max));
	FUZZ_CHECK(n <= 0 || size > 0);
	for (int i = 0; i < n; i++) {
		FUZZ_CHECK(r[i].first <= r[i].last && r[i].last < size);
		/* Sorted, and neither overlapping nor touching: those are merged. */
		if (i > 0)
			FUZZ_CHECK(r[i - 1].last + 1 < r[i].first);
	}
}

static bool is_opaque_tag(const char *s, size_t len)
{
	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return false;
	for (size_t i = 1; i + 1 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c == '"' || c == 0x7f)
			return false;
	}
	return true;
}

/* IMF-fixdate of t, which must be at or after 1900 and before 10000: 29 bytes and a NUL. */
static void format_imf(time_t t, char out[IMF_BUF])
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	FUZZ_CHECK(gmtime_r(&t, &tm) != NULL);
	FUZZ_CHECK(tm.tm_year >= 0 && tm.tm_year + 1900 <= 9999);
	snprintf(out, IMF_BUF, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* A parsed date survives a round trip through IMF-fixdate; an IMF-fixdate input comes back
 * as it was, but for the day name (only checked for spelling) and a leap second. */
static void fuzz_date(const char *value, size_t len)
{
	time_t t, again;
	char imf[IMF_BUF];

	if (shoal_http_date_parse(value, len, &t) != 0)
		return;
	FUZZ_CHECK(len == 24 || len == 29 || (len >= 30 && len <= 33));
	if (t >= YEAR_10000)
		return; /* 9999-12-31 23:59:60 */
	format_imf(t, imf);
	FUZZ_CHECK(shoal_http_date_parse(imf, 29, &again) == 0 && again == t);
	if (len == 29 && value[3] == ',' && memcmp(value + 23, "60", 2) != 0)
		FUZZ_CHECK(memcmp(imf + 3, value + 3, 26) == 0);
}

static void fuzz_if_range(const char *value, size_t len)
{
	time_t date = 0;
	bool is_date = shoal_http_date_parse(value, len, &date) == 0;
	bool weak = len >= 2 && value[0] == 'W' && value[1] == '/';

	FUZZ_CHECK(shoal_http_range_if_range_ok(value, len, value, len, 0) ==
		   is_opaque_tag(value, len));
	FUZZ_CHECK(!shoal_http_range_if_range_ok(value, len, NULL, 0, 0));
	if (date != 0)
		FUZZ_CHECK(shoal_http_range_if_range_ok(value, len, NULL, 0, date) == is_date);
	FUZZ_CHECK(!shoal_http_range_if_range_ok(value, len, NULL, 0, date + 1));
	if (weak)
		FUZZ_CHECK(!shoal_http_range_if_range_ok(value, len, value, len, date));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shoal_http_range ranges[MAX_RANGES];
	size_t max, head;
	uint64_t rep_size = 0;
	char *value;
	int n;

	if (size < 2)
		return 0;
	max = 1 + (data[0] & 0x0f);
	head = data[0] & 0x80 ? 9 : 2;
	if (size < head)
		return 0;
	for (size_t i = 1; i < head; i++)
		rep_size = rep_size << 8 | data[i];
	/* A copy of exactly the value's bytes, so that AddressSanitizer sees any read past it. */
	value = malloc(size - head ? size - head : 1);
	memcpy(value, data + head, size - head);
	memset(ranges, 0xa5, sizeof(ranges));
	n = shoal_http_range_parse(value, size - head, rep_size, ranges, max);
	check_ranges(ranges, n, max, rep_size);
	/* Allowing more ranges can only turn "too many" (0) into ranges, never change others. */
	if (n != 0) {
		struct shoal_http_range more[MAX_RANGES];

		FUZZ_CHECK(shoal_http_range_parse(value, size - head, rep_size, more, MAX_RANGES) == n);
		FUZZ_CHECK(n < 0 || memcmp(more, ranges, (size_t)n * sizeof(ranges[0])) == 0);
	}
	fuzz_if_range(value, size - head);
	fuzz_date(value, size - head);
	free(value);
	return 0;
}
