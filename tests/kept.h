/* For the parser tests: copies of parsed texts that live until the test ends (the results
 * point into them, and each is malloc'ed to its exact size so that AddressSanitizer sees a
 * read past the end), and a comparison of a parsed string with the text expected. */
#ifndef SHOAL_TESTS_KEPT_H
#define SHOAL_TESTS_KEPT_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/http/parser.h"

static char *kept[64];
static size_t nkept;

/* Keeps copy until free_kept, the test's teardown. */
static inline void keep(char *copy)
{
	ck_assert_uint_lt(nkept, sizeof(kept) / sizeof(kept[0]));
	kept[nkept++] = copy;
}

static inline void free_kept(void)
{
	while (nkept > 0)
		free(kept[--nkept]);
}

static inline void assert_str(struct shoal_http_str s, const char *expected)
{
	ck_assert_uint_eq(s.len, strlen(expected));
	ck_assert(s.len == 0 || memcmp(s.p, expected, s.len) == 0);
}

#endif
