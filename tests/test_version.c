/* test_version.c - the version macros (compile time, generated from
 * CMakeLists.txt's project()) agree with each other and with lt_version()
 * (run time, compiled into the library). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "libtensor.h"

static void macros_agree_with_the_string(void **state)
{
    (void)state;
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", LT_VERSION_MAJOR, LT_VERSION_MINOR, LT_VERSION_PATCH);
    assert_string_equal(LT_VERSION_STRING, expected);
    assert_int_equal(LT_VERSION_NUMBER, LT_VERSION_MAJOR * 10000 + LT_VERSION_MINOR * 100 + LT_VERSION_PATCH);
    assert_true(LT_VERSION_MINOR >= 0 && LT_VERSION_MINOR < 100);
    assert_true(LT_VERSION_PATCH >= 0 && LT_VERSION_PATCH < 100);
}

static void run_time_version_matches_the_header(void **state)
{
    (void)state;
    assert_non_null(lt_version());
    assert_string_equal(lt_version(), LT_VERSION_STRING);
    assert_int_equal(lt_version_number(), LT_VERSION_NUMBER);
}

/* The number CMake's project() holds, passed by tests/CMakeLists.txt. */
static void header_matches_the_project(void **state)
{
    (void)state;
    assert_string_equal(LT_VERSION_STRING, LT_TEST_PROJECT_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(macros_agree_with_the_string),
        cmocka_unit_test(run_time_version_matches_the_header),
        cmocka_unit_test(header_matches_the_project),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
