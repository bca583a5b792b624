/* test_log.c - the log line shape: ts, level, quoted msg, key=value tail; level filter; quoting;
 * truncation of long lines; the rate limiter. */
#include <check.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "roda_check.h"
#include "log_capture.h"
#include "roda_log.h"

START_TEST(line_shape)
{
    int fds[2];
    char q[64];
    log_capture_start(fds);
    roda_log(RODA_LOG_ERROR, "config invalid", "file=%s line=%d hint=%s", "/etc/r.conf", 12,
             roda_log_quote(q, sizeof q, "fix it"));
    const char *text = log_capture_end(fds);
    regex_t re;
    ck_assert_int_eq(
        regcomp(&re,
                "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                "level=error msg=\"config invalid\" file=/etc/r.conf line=12 "
                "hint=\"fix it\"\n$",
                REG_EXTENDED),
        0);
    ck_assert_msg(regexec(&re, text, 0, NULL, 0) == 0, "bad line: %s", text);
    regfree(&re);
}
END_TEST

START_TEST(level_filter)
{
    int fds[2];
    log_capture_start(fds);
    roda_log_set_level(RODA_LOG_WARN);
    roda_log(RODA_LOG_INFO, "hidden", NULL);
    roda_log(RODA_LOG_WARN, "shown", NULL);
    roda_log_set_level(RODA_LOG_INFO);
    const char *text = log_capture_end(fds);
    ck_assert_ptr_null(strstr(text, "hidden"));
    ck_assert_ptr_nonnull(strstr(text, "level=warn msg=\"shown\"\n"));
    ck_assert_int_eq(roda_log_get_level(), RODA_LOG_INFO);
}
END_TEST

START_TEST(quote_and_levels)
{
    char wide[32];
    char q[16];
    ck_assert_str_eq(roda_log_quote(wide, sizeof wide, "a\"b\\c\nd\x01"),
                     "\"a\\\"b\\\\c\\nd\\x01\"");
    ck_assert_str_eq(roda_log_quote(q, sizeof q, "0123456789abcdefghij"), "\"0123456789...\"");
    ck_assert_uint_eq(strlen(q), 15);
    roda_log_level_t level;
    ck_assert_int_eq(roda_log_level_parse("debug", &level), 0);
    ck_assert_int_eq(level, RODA_LOG_DEBUG);
    ck_assert_int_eq(roda_log_level_parse("verbose", &level), -1);
    ck_assert_str_eq(roda_log_level_name(RODA_LOG_ERROR), "error");
}
END_TEST

START_TEST(long_line_is_cut_and_marked)
{
    int fds[2];
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_capture_start(fds);
    roda_log(RODA_LOG_INFO, "big", "v=%s", big);
    const char *text = log_capture_end(fds);
    ck_assert_uint_eq(strlen(text), RODA_LOG_LINE_MAX - 1);
    ck_assert_ptr_nonnull(strstr(text, " truncated=1\n"));
}
END_TEST

START_TEST(limiter_writes_one_line_per_interval)
{
    const uint64_t second = 1000000000ull;
    roda_log_limiter_t limiter;
    roda_log_limiter_init(&limiter, 10 * second);
    uint64_t suppressed = 99;
    ck_assert(roda_log_limiter_allow(&limiter, 1, &suppressed));
    ck_assert_uint_eq(suppressed, 0);
    for (uint64_t i = 0; i < 1744; i++)
        ck_assert(!roda_log_limiter_allow(&limiter, 1 + i * 1000000ull, &suppressed));
    ck_assert(!roda_log_limiter_allow(&limiter, 10 * second, &suppressed));
    ck_assert(roda_log_limiter_allow(&limiter, 10 * second + 1, &suppressed));
    ck_assert_uint_eq(suppressed, 1745);
    ck_assert(roda_log_limiter_allow(&limiter, 30 * second, &suppressed));
    ck_assert_uint_eq(suppressed, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, line_shape);
    tcase_add_test(tc, level_filter);
    tcase_add_test(tc, quote_and_levels);
    tcase_add_test(tc, long_line_is_cut_and_marked);
    tcase_add_test(tc, limiter_writes_one_line_per_interval);
    suite_add_tcase(s, tc);
    return roda_check_run(s);
}
