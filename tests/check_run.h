/* The end of every unit test program: run the suite, exit with its verdict. */
#ifndef SHOAL_TESTS_CHECK_RUN_H
#define SHOAL_TESTS_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int shoal_check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
