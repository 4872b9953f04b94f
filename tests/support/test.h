/* Common includes for cmocka suites, in the order cmocka 1.1.5 needs them. */
#ifndef NNC_TEST_H
#define NNC_TEST_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#endif
