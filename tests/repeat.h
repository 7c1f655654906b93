/* Long test inputs without long literals, for the unit tests of the HTTP parsers. */
#ifndef SHOAL_TESTS_REPEAT_H
#define SHOAL_TESTS_REPEAT_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Returns prefix, n times c, then suffix, NUL-terminated, in memory the caller frees. */
static inline char *repeat(const char *prefix, char c, size_t n, const char *suffix)
{
	size_t plen = strlen(prefix), slen = strlen(suffix);
	char *s = malloc(plen + n + slen + 1);

	ck_assert_ptr_nonnull(s);
	memcpy(s, prefix, plen);
	memset(s + plen, c, n);
	memcpy(s + plen + n, suffix, slen + 1);
	return s;
}

#endif
