/* roda_check.h - what every Check test program ends with: run the suite, report, exit status. */
#ifndef RODA_CHECK_H
#define RODA_CHECK_H

#include <check.h>
#include <stdlib.h>

/* Runs every test of `suite` (forking per test, Check's default) and returns the exit status:
 * EXIT_SUCCESS when none failed. */
static inline int roda_check_run(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
