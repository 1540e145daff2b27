/*
 * test_retry_after.c -- uh_retry_after (core/http.c, declared in
 * core/sched.h): the seconds a Retry-After header value asks for, given
 * as delta seconds or as an HTTP date relative to a fixed `now`; -1 when
 * the value means nothing.
 */
#include "support.h"

#include "sched.h"

/* Sun, 06 Nov 1994 08:49:37 GMT (the example date of RFC 9110) */
#define NOW ((time_t)784111777)

static void assert_after(const char *value, double want)
{
    double got = uh_retry_after(value, NOW);

    if (got != want)
        print_error("uh_retry_after(\"%s\") = %g, want %g\n", value, got, want);
    assert_true(got == want);
}

static void test_delta_seconds(void **state)
{
    (void)state;
    assert_after("7", 7);
    assert_after("120", 120);
    assert_after("86400", 86400);
}

static void test_zero_seconds_means_now(void **state)
{
    (void)state;
    assert_after("0", 0);
}

static void test_surrounding_whitespace_is_ignored(void **state)
{
    (void)state;
    assert_after("  30", 30);
    assert_after("\t30", 30);
    assert_after("30  ", 30);
    assert_after("30\r\n", 30);
    assert_after(" \t30 \t", 30);
}

static void test_garbage_gives_minus_one(void **state)
{
    (void)state;
    assert_after("soon", -1);
    assert_after("7s", -1);
    assert_after("7 seconds", -1);
    assert_after("1.5", -1);
    assert_after("0x10", -1);
    assert_after("Wed", -1);
}

static void test_empty_or_blank_gives_minus_one(void **state)
{
    (void)state;
    assert_after("", -1);
    assert_after("   ", -1);
    assert_after("\t", -1);
}

static void test_negative_delta_gives_minus_one(void **state)
{
    (void)state;
    assert_after("-5", -1);
    assert_after("-1", -1);
    assert_after(" -30", -1);
    assert_after("+5", -1);
}

static void test_future_http_date_gives_delta_from_now(void **state)
{
    (void)state;
    assert_after("Sun, 06 Nov 1994 08:50:37 GMT", 60);
    assert_after("Sun, 06 Nov 1994 09:49:37 GMT", 3600);
    assert_after("Mon, 07 Nov 1994 08:49:38 GMT", 86401);
}

static void test_obsolete_http_date_formats_are_understood(void **state)
{
    (void)state;
    /* RFC 850 and asctime forms, both still allowed for recipients */
    assert_after("Sunday, 06-Nov-94 08:51:37 GMT", 120);
    assert_after("Sun Nov  6 08:52:37 1994", 180);
}

static void test_http_date_now_or_past_gives_zero(void **state)
{
    (void)state;
    assert_after("Sun, 06 Nov 1994 08:49:37 GMT", 0);
    assert_after("Sun, 06 Nov 1994 08:49:36 GMT", 0);
    assert_after("Thu, 01 Jan 1970 00:00:00 GMT", 0);
}

static void test_date_is_relative_to_given_now(void **state)
{
    (void)state;
    /* same value, two clocks */
    assert_true(uh_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", NOW - 40) == 100);
    assert_true(uh_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", NOW + 60) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delta_seconds),
        cmocka_unit_test(test_zero_seconds_means_now),
        cmocka_unit_test(test_surrounding_whitespace_is_ignored),
        cmocka_unit_test(test_garbage_gives_minus_one),
        cmocka_unit_test(test_empty_or_blank_gives_minus_one),
        cmocka_unit_test(test_negative_delta_gives_minus_one),
        cmocka_unit_test(test_future_http_date_gives_delta_from_now),
        cmocka_unit_test(test_obsolete_http_date_formats_are_understood),
        cmocka_unit_test(test_http_date_now_or_past_gives_zero),
        cmocka_unit_test(test_date_is_relative_to_given_now),
    };

    return cmocka_run_group_tests_name("retry_after", tests, NULL, NULL);
}
