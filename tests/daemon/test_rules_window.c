/* test_rules_window.c - rules over time windows against hand-computed sequences: every kind on a
 * window statistic, min_count, the lifecycle, shared windows, reload, eviction, snapshot. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roda_check.h"
#include "roda_rules.h"

#define SENSORS 8
#define S 1000000000ull /* one second in ns */

static roda_alert_t out[RODA_RULES_MAX];

/* A rule on `value` over a window of `buckets` hops of 1 s. */
static roda_rule_t window_rule(const char *name, roda_rule_kind_t kind, double threshold,
                               roda_rule_value_t value, uint32_t buckets, uint32_t min_count)
{
    roda_rule_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.kind = kind;
    r.severity = RODA_SEVERITY_WARNING;
    r.threshold = threshold;
    r.value = value;
    r.window_ns = buckets * S;
    r.hop_ns = S;
    r.min_count = min_count;
    return r;
}

/* A summary of one reading `value` at second `t` (device and ingest clock). */
static roda_summary_t sum(uint64_t id, double value, double t)
{
    roda_summary_t s;
    memset(&s, 0, sizeof s);
    s.sensor_id = id;
    s.count = 1;
    s.last = s.mean = s.ewma = s.min = s.max = value;
    s.device_time_us = (int64_t)(t * 1e6);
    s.ingest_time_ns = (uint64_t)(t * 1e9);
    return s;
}

static roda_rules_t *make(const roda_rule_t *rules, uint32_t count)
{
    roda_rules_t *r = NULL;
    ck_assert_int_eq(roda_rules_create(rules, count, 8, SENSORS, 4, NULL, NULL, NULL, &r),
                     RODA_SUCCESS);
    return r;
}

/* Feeds values for sensor 7 (index 3) at seconds first, first + 1, ...; the alert states as a
 * string: 'F' firing, 'R' resolved, '.' nothing (one rule in the set). */
static void feed_from(roda_rules_t *r, double first, const double *values, size_t n, char *trace)
{
    roda_summary_t prev = {0};
    for (size_t i = 0; i < n; i++) {
        roda_summary_t cur = sum(7, values[i], first + (double)i);
        uint32_t k = roda_rules_evaluate(r, 3, &cur, i > 0 ? &prev : NULL, out, RODA_RULES_MAX);
        ck_assert_uint_le(k, 1);
        trace[i] = k == 0 ? '.' : out[0].state == RODA_ALERT_FIRING ? 'F' : 'R';
        prev = cur;
    }
    trace[n] = '\0';
}

static void feed(roda_rules_t *r, const double *values, size_t n, char *trace)
{
    feed_from(r, 1.0, values, n, trace);
}

static uint64_t not_evaluable(roda_rules_t *r, uint32_t rule)
{
    roda_rule_stats_t st;
    ck_assert_int_eq(roda_rules_snapshot(r, rule, NULL, &st), RODA_SUCCESS);
    return st.not_evaluable;
}

START_TEST(window_mean_above_waits_for_min_count_and_resolves_past_hysteresis)
{
    roda_rule_t def = window_rule("hot", RODA_RULE_ABOVE, 50, RODA_RULE_VALUE_MEAN, 4, 3);
    def.hysteresis = 5;
    roda_rules_t *r = make(&def, 1);
    double v[] = {100, 100, 100, 0, 0, 0, 0};
    char trace[8];
    feed(r, v, 7, trace);
    /* Windows: {100} {100,100} (under min_count 3), {100 x3} 100 fires, {100 x3, 0} 75,
     * {100, 100, 0, 0} 50 (inside the band), {100, 0, 0, 0} 25 resolves, {0 x4}. */
    ck_assert_str_eq(trace, "..F..R.");
    ck_assert_uint_eq(not_evaluable(r, 0), 2);
    ck_assert_double_eq_tol(out[0].value, 25.0, 1e-12);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(window_p95_jump_compares_with_the_previous_window)
{
    roda_rule_t def = window_rule("p95 jump", RODA_RULE_JUMP, 2.0, RODA_RULE_VALUE_P95, 2, 1);
    roda_rules_t *r = make(&def, 1);
    double v[] = {10, 10, 10, 30, 30, 30};
    char trace[8];
    feed(r, v, 6, trace);
    /* p95 of 2 values is the lower one: {10} {10,10} {10,10} {10,30} 10, {30,30} 30: 3x the
     * previous 10 fires; {30,30} again: 1x resolves. */
    ck_assert_str_eq(trace, "....FR");
    ck_assert_uint_eq(not_evaluable(r, 0), 1); /* the first: no previous window */
    roda_rules_destroy(r);
}
END_TEST

START_TEST(window_stddev_below_finds_a_stuck_sensor)
{
    roda_rule_t def = window_rule("stuck", RODA_RULE_BELOW, 0.1, RODA_RULE_VALUE_STDDEV, 3, 3);
    roda_rules_t *r = make(&def, 1);
    double v[] = {1, 2, 3, 5, 5, 5, 5, 7};
    char trace[9];
    feed(r, v, 8, trace);
    ck_assert_str_eq(trace, ".....F.R");
    roda_rules_destroy(r);
}
END_TEST

START_TEST(window_rate_on_the_mean)
{
    roda_rule_t def = window_rule("climb", RODA_RULE_RATE, 4.0, RODA_RULE_VALUE_MEAN, 2, 1);
    roda_rules_t *r = make(&def, 1);
    double v[] = {0, 0, 10, 10, 10};
    char trace[8];
    feed(r, v, 5, trace);
    /* Means 0, 0, 5, 10, 10: 5/s fires, 5/s holds, 0/s resolves. */
    ck_assert_str_eq(trace, "..F.R");
    roda_rules_destroy(r);
}
END_TEST

START_TEST(window_max_with_holdoff_and_a_silent_sensor)
{
    roda_rule_t def = window_rule("peak", RODA_RULE_ABOVE, 50, RODA_RULE_VALUE_MAX, 2, 1);
    def.holdoff_ns = 10 * S;
    roda_rules_t *r = make(&def, 1);
    double v[] = {60, 0, 0, 60, 0, 0};
    char trace[8];
    feed(r, v, 6, trace);
    /* max {60} fires, {60,0} holds, {0,0} resolves, {0,60} within the hold-off: suppressed. */
    ck_assert_str_eq(trace, "F.R...");
    /* Silent for longer than the window, then 40: the old 60 is gone, nothing fires. */
    double later[] = {40};
    feed_from(r, 100.0, later, 1, trace);
    ck_assert_str_eq(trace, ".");
    roda_rules_destroy(r);
}
END_TEST

/* A snapshot stand-in: visit once to measure, once to write, once to read back. */
enum { TAPE_MEASURE, TAPE_WRITE, TAPE_READ };
typedef struct tape {
    unsigned char *buffer;
    size_t at;
    int mode;
} tape_t;

static void tape_blob(void *context, void *data, size_t length)
{
    tape_t *tape = context;
    if (tape->mode == TAPE_WRITE)
        memcpy(tape->buffer + tape->at, data, length);
    else if (tape->mode == TAPE_READ)
        memcpy(data, tape->buffer + tape->at, length);
    tape->at += length;
}

START_TEST(rules_share_a_window_and_keep_it_across_reload_and_snapshot)
{
    roda_rule_t defs[2] = {window_rule("hot", RODA_RULE_ABOVE, 50, RODA_RULE_VALUE_MEAN, 4, 1),
                           window_rule("p99", RODA_RULE_ABOVE, 1e9, RODA_RULE_VALUE_P99, 4, 1)};
    /* One window (same length and hop) with a sketch: its memory per sensor once: a previous
     * value per window statistic and the head (256 B), and apart the body, in whole 64-byte lines.
     */
    roda_twindow_spec_t spec = {.hop_ns = S, .buckets = 4, .sketch = 1};
    size_t hot = (9 * sizeof(double) + sizeof(roda_twindow_head_t) + 63) / 64 * 64;
    size_t body = (roda_twindow_body_size(&spec) + 63) / 64 * 64;
    ck_assert_uint_eq(roda_rules_window_memory(defs, 2, SENSORS), SENSORS * (hot + body));
    /* Without a sketch: 6 buckets of 88 B, 576 B. */
    roda_rule_t plain = window_rule("plain", RODA_RULE_ABOVE, 1, RODA_RULE_VALUE_MEAN, 6, 1);
    ck_assert_uint_eq(roda_rules_window_memory(&plain, 1, SENSORS), SENSORS * (256 + 576));
    ck_assert_uint_eq(roda_rules_memory(defs, 2, 8, SENSORS, 4),
                      roda_rules_memory(NULL, 0, 8, SENSORS, 4) +
                          roda_rules_window_memory(defs, 2, SENSORS));
    roda_rules_t *r = make(defs, 2);
    roda_summary_t a = sum(7, 40, 1), b = sum(7, 80, 2);
    ck_assert_uint_eq(roda_rules_evaluate(r, 3, &a, NULL, out, 4), 0);
    ck_assert_uint_eq(roda_rules_evaluate(r, 3, &b, &a, out, 4), 1); /* mean 60 */
    /* A reload keeping the window keeps its readings: 40, 80, 0 -> mean 40 resolves. */
    defs[0].threshold = 45;
    ck_assert_int_eq(roda_rules_reload(r, defs, 2, NULL), RODA_SUCCESS);
    /* A reload asking for another window is refused: the memory was planned at create. */
    roda_rule_t other = window_rule("other", RODA_RULE_ABOVE, 1, RODA_RULE_VALUE_MEAN, 5, 1);
    ck_assert_int_eq(roda_rules_reload(r, &other, 1, NULL), RODA_ERROR_INVALID_ARG);
    /* A snapshot (visit) into a fresh set restores the windows with the rest. */
    tape_t tape = {0};
    roda_rules_visit(r, tape_blob, &tape); /* measure */
    tape.buffer = malloc(tape.at);
    ck_assert_ptr_nonnull(tape.buffer);
    tape.mode = TAPE_WRITE;
    tape.at = 0;
    roda_rules_visit(r, tape_blob, &tape);
    roda_rules_destroy(r);
    r = make(defs, 2);
    tape.mode = TAPE_READ;
    tape.at = 0;
    roda_rules_visit(r, tape_blob, &tape);
    free(tape.buffer);
    roda_summary_t c = sum(7, 0, 3);
    ck_assert_uint_eq(roda_rules_evaluate(r, 3, &c, &b, out, 4), 1);
    ck_assert_uint_eq(out[0].state, RODA_ALERT_RESOLVED);
    ck_assert_double_eq_tol(out[0].value, 40.0, 1e-12);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(a_reload_keeps_previous_statistics_and_has_none_of_a_new_one)
{
    roda_rule_t defs[2] = {window_rule("hot", RODA_RULE_ABOVE, 1e9, RODA_RULE_VALUE_MEAN, 2, 1),
                           window_rule("max climb", RODA_RULE_RATE, 5, RODA_RULE_VALUE_MAX, 2, 1)};
    roda_rules_t *r = make(defs, 1);
    double before[] = {10, 10};
    char trace[4];
    feed(r, before, 2, trace);
    ck_assert_str_eq(trace, "..");
    /* The window's rules read only the mean so far: no previous max is kept. After the reload
     * the first max (30) has none to compare with (not 0: that would be a rate of 30/s); then
     * 30 -> 30 is 0/s and 30 -> 100 is 70/s. */
    ck_assert_int_eq(roda_rules_reload(r, defs, 2, NULL), RODA_SUCCESS);
    double after[] = {30, 30, 100};
    roda_summary_t prev = sum(7, 10, 2);
    for (size_t i = 0; i < 3; i++) {
        roda_summary_t cur = sum(7, after[i], 3.0 + (double)i);
        trace[i] = roda_rules_evaluate(r, 3, &cur, &prev, out, RODA_RULES_MAX) == 0 ? '.' : 'F';
        prev = cur;
    }
    trace[3] = '\0';
    ck_assert_str_eq(trace, "..F");
    ck_assert_uint_eq(not_evaluable(r, 1), 1);
    ck_assert_double_eq_tol(out[0].value, 70.0, 1e-9);
    /* A reload that drops the mean rule keeps the previous max (100): 100 -> 100 resolves (had
     * the previous mean, 65, been taken for it, 35/s would hold). */
    ck_assert_int_eq(roda_rules_reload(r, &defs[1], 1, NULL), RODA_SUCCESS);
    roda_summary_t cur = sum(7, 100, 6);
    ck_assert_uint_eq(roda_rules_evaluate(r, 3, &cur, &prev, out, RODA_RULES_MAX), 1);
    ck_assert_uint_eq(out[0].state, RODA_ALERT_RESOLVED);
    ck_assert_double_eq(out[0].value, 0.0);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(window_validation)
{
    const char *why;
    roda_rule_t r = window_rule("w", RODA_RULE_ABOVE, 1, RODA_RULE_VALUE_P95, 6, 1);
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_SUCCESS);
    r.hop_ns = 7 * S; /* does not divide 6 s */
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    r = window_rule("w", RODA_RULE_ABOVE, 1, RODA_RULE_VALUE_MEAN, 61, 1);
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    r = window_rule("w", RODA_RULE_ABOVE, 1, RODA_RULE_VALUE_EWMA, 6, 1);
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    r = window_rule("w", RODA_RULE_ABOVE, 1, RODA_RULE_VALUE_P50, 6, 1);
    r.window_ns = 0; /* a quantile without a window */
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(why, "window"));
    /* At most RODA_RULES_WINDOWS distinct windows in a set. */
    roda_rule_t many[RODA_RULES_WINDOWS + 1];
    for (uint32_t i = 0; i <= RODA_RULES_WINDOWS; i++) {
        char name[8];
        snprintf(name, sizeof name, "w%u", i);
        many[i] = window_rule(name, RODA_RULE_ABOVE, 1, RODA_RULE_VALUE_MEAN, i + 1, 1);
    }
    roda_rules_t *set = NULL;
    ck_assert_int_eq(
        roda_rules_create(many, RODA_RULES_WINDOWS + 1, 8, 8, 4, NULL, NULL, NULL, &set),
        RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_rules_create(many, RODA_RULES_WINDOWS, 8, 8, 4, NULL, NULL, NULL, &set),
                     RODA_SUCCESS);
    roda_rules_destroy(set);
    ck_assert_str_eq(roda_rule_value_name(RODA_RULE_VALUE_P99), "p99");
    roda_rule_value_t value;
    ck_assert_int_eq(roda_rule_value_from_name("stddev", &value), RODA_SUCCESS);
    ck_assert_int_eq(value, RODA_RULE_VALUE_STDDEV);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rules_window");
    TCase *tc = tcase_create("rules_window");
    tcase_add_test(tc, window_mean_above_waits_for_min_count_and_resolves_past_hysteresis);
    tcase_add_test(tc, window_p95_jump_compares_with_the_previous_window);
    tcase_add_test(tc, window_stddev_below_finds_a_stuck_sensor);
    tcase_add_test(tc, window_rate_on_the_mean);
    tcase_add_test(tc, window_max_with_holdoff_and_a_silent_sensor);
    tcase_add_test(tc, rules_share_a_window_and_keep_it_across_reload_and_snapshot);
    tcase_add_test(tc, a_reload_keeps_previous_statistics_and_has_none_of_a_new_one);
    tcase_add_test(tc, window_validation);
    suite_add_tcase(s, tc);
    return roda_check_run(s);
}
