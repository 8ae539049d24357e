/*
 * check_main.h -- one runner for every Check suite, so that each unit test
 * binary ends with the same "RESULT: N passed, N failed" line that
 * scripts/check adds up.
 */
#ifndef CHECK_MAIN_H
#define CHECK_MAIN_H

#include <check.h>

/* Runs the suite (takes ownership), prints the RESULT line, returns the
 * process exit status: 0 when every test passed. */
int check_run(Suite *s);

#endif
