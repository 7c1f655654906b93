/* The invariant check shared by the fuzz targets: a broken invariant must crash, so that
 * libFuzzer saves the input that broke it, and say which one it was. */
#ifndef SHOAL_FUZZ_CHECK_H
#define SHOAL_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                     \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                      \
			abort();                                                             \
		}                                                                            \
	} while (0)

#endif
