/* test_rules.c - alert rules against hand-computed sequences: threshold above/below, jump, rate,
 * stale, hysteresis, hold-off, resolve, scope, reload, eviction and bounds. */
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

static roda_rule_t rule(const char *name, roda_rule_kind_t kind, double threshold)
{
    roda_rule_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.kind = kind;
    r.severity = RODA_SEVERITY_WARNING;
    r.threshold = threshold;
    return r;
}

/* A summary whose last, mean and ewma are `value`, at second `t` (device and ingest clock). */
static roda_summary_t sum(uint64_t id, double value, double t)
{
    roda_summary_t s;
    memset(&s, 0, sizeof s);
    s.sensor_id = id;
    s.count = 1;
    s.last = s.mean = s.ewma = s.min = s.max = value;
    s.device_time_us = (int64_t)(t * 1e6);
    s.ingest_time_ns = (uint64_t)(t * 1e9);
    s.device = (uint32_t)(id % 4);
    return s;
}

static roda_rules_t *make(const roda_rule_t *rules, uint32_t count)
{
    roda_rules_t *r = NULL;
    ck_assert_int_eq(roda_rules_create(rules, count, 8, SENSORS, 4, NULL, NULL, NULL, &r),
                     RODA_SUCCESS);
    return r;
}

/* Feeds values for one sensor at 1 s spacing; returns the alert states as a string: 'F' firing,
 * 'R' resolved, '.' nothing. */
static void feed(roda_rules_t *r, const double *values, size_t n, char *trace)
{
    roda_summary_t prev = {0};
    for (size_t i = 0; i < n; i++) {
        roda_summary_t cur = sum(7, values[i], (double)i + 1);
        uint32_t k = roda_rules_evaluate(r, 3, &cur, i > 0 ? &prev : NULL, out, RODA_RULES_MAX);
        ck_assert_uint_le(k, 1);
        trace[i] = k == 0 ? '.' : out[0].state == RODA_ALERT_FIRING ? 'F' : 'R';
        prev = cur;
    }
    trace[n] = '\0';
}

START_TEST(threshold_above_fires_and_resolves)
{
    roda_rule_t def = rule("hot", RODA_RULE_ABOVE, 80);
    roda_rules_t *r = make(&def, 1);
    double v[] = {70, 81, 90, 80, 79, 85};
    char trace[8];
    feed(r, v, 6, trace);
    /* 81 > 80 fires; 90 still firing; 80 <= 80 resolves; 79 nothing; 85 fires again. */
    ck_assert_str_eq(trace, ".F.R.F");
    roda_rule_stats_t st;
    ck_assert_int_eq(roda_rules_snapshot(r, 0, NULL, &st), RODA_SUCCESS);
    ck_assert_uint_eq(st.fired, 2);
    ck_assert_uint_eq(st.resolved, 1);
    ck_assert_uint_eq(st.active, 1);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(alert_record_fields)
{
    roda_rule_t def = rule("hot", RODA_RULE_ABOVE, 80);
    def.severity = RODA_SEVERITY_CRITICAL;
    roda_rules_t *r = make(&def, 1);
    roda_summary_t cur = sum(42, 99.5, 12.0);
    ck_assert_uint_eq(roda_rules_evaluate(r, 1, &cur, NULL, out, 4), 1);
    ck_assert_uint_eq(out[0].sensor_id, 42);
    ck_assert_double_eq(out[0].value, 99.5);
    ck_assert_double_eq(out[0].threshold, 80);
    ck_assert_int_eq(out[0].device_time_us, 12000000);
    ck_assert_uint_eq(out[0].ingest_time_ns, 12 * S);
    ck_assert_uint_eq(out[0].device, 2);
    ck_assert_uint_eq(out[0].rule, 0);
    ck_assert_uint_eq(out[0].kind, RODA_RULE_ABOVE);
    ck_assert_uint_eq(out[0].severity, RODA_SEVERITY_CRITICAL);
    ck_assert_uint_eq(out[0].state, RODA_ALERT_FIRING);
    ck_assert_uint_eq(out[0].suppressed, 0);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(threshold_below_with_hysteresis)
{
    roda_rule_t def = rule("cold", RODA_RULE_BELOW, 10);
    def.hysteresis = 2;
    roda_rules_t *r = make(&def, 1);
    /* < 10 fires; resolves only at >= 12; 9/11 flapping inside the band changes nothing. */
    double v[] = {15, 9, 11, 9, 11.9, 12, 11, 9};
    char trace[9];
    feed(r, v, 8, trace);
    ck_assert_str_eq(trace, ".F...R.F");
    roda_rules_destroy(r);
}
END_TEST

START_TEST(threshold_above_with_hysteresis)
{
    roda_rule_t def = rule("hot", RODA_RULE_ABOVE, 80);
    def.hysteresis = 5;
    roda_rules_t *r = make(&def, 1);
    double v[] = {81, 79, 76, 81, 75, 74};
    char trace[7];
    feed(r, v, 6, trace);
    ck_assert_str_eq(trace, "F...R.");
    roda_rules_destroy(r);
}
END_TEST

START_TEST(jump_on_mean_like_the_reference)
{
    roda_rule_t def = rule("jump", RODA_RULE_JUMP, 1.5);
    def.value = RODA_RULE_VALUE_MEAN;
    roda_rules_t *r = make(&def, 1);
    /* Means 10 -> 20 (x2 > 1.5 fires) -> 21 (x1.05 resolves) -> 30 (x1.43 no) -> 46 (x1.53). */
    double v[] = {10, 20, 21, 30, 46};
    char trace[6];
    feed(r, v, 5, trace);
    ck_assert_str_eq(trace, ".FR.F");
    ck_assert_double_eq_tol(out[0].value, 46.0 / 30.0, 1e-12);
    ck_assert_double_eq(out[0].previous, 30);
    roda_rule_stats_t st;
    roda_rules_snapshot(r, 0, NULL, &st);
    ck_assert_uint_eq(st.not_evaluable, 1); /* the first summary has no previous */
    roda_rules_destroy(r);
}
END_TEST

START_TEST(jump_not_evaluable_for_non_positive_previous)
{
    roda_rule_t def = rule("jump", RODA_RULE_JUMP, 1.5);
    roda_rules_t *r = make(&def, 1);
    double v[] = {0, 10, -5, 10};
    char trace[5];
    feed(r, v, 4, trace);
    /* 0 -> 10: previous 0, not judged; 10 -> -5: ratio < 1; -5 -> 10: previous negative. */
    ck_assert_str_eq(trace, "....");
    roda_rule_stats_t st;
    roda_rules_snapshot(r, 0, NULL, &st);
    ck_assert_uint_eq(st.not_evaluable, 3);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(rate_per_second)
{
    roda_rule_t def = rule("fast", RODA_RULE_RATE, 5);
    def.hysteresis = 1;
    roda_rules_t *r = make(&def, 1);
    /* 1 s apart: |delta| per second 0, 6 (fires), 4.5 (band), 3 (resolves), -7 abs 7 (fires). */
    double v[] = {10, 16, 20.5, 23.5, 16.5};
    char trace[6];
    feed(r, v, 5, trace);
    ck_assert_str_eq(trace, ".F.RF");
    ck_assert_double_eq(out[0].value, 7);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(rate_needs_positive_time_delta)
{
    roda_rule_t def = rule("fast", RODA_RULE_RATE, 5);
    roda_rules_t *r = make(&def, 1);
    roda_summary_t a = sum(7, 0, 5), b = sum(7, 100, 5), c = sum(7, 200, 4);
    ck_assert_uint_eq(roda_rules_evaluate(r, 0, &b, &a, out, 4), 0);
    ck_assert_uint_eq(roda_rules_evaluate(r, 0, &c, &b, out, 4), 0);
    roda_rule_stats_t st;
    roda_rules_snapshot(r, 0, NULL, &st);
    ck_assert_uint_eq(st.not_evaluable, 2);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(stale_fires_from_tick_and_resolves_on_reading)
{
    roda_rule_t def = rule("silent", RODA_RULE_STALE, 30);
    roda_rules_t *r = make(&def, 1);
    roda_summary_t a = sum(5, 1.0, 100);
    ck_assert_uint_eq(roda_rules_evaluate(r, 2, &a, NULL, out, 4), 0);
    bool done;
    ck_assert_uint_eq(roda_rules_tick(r, 130 * S, out, 4, &done), 0); /* 30 s: not more than */
    ck_assert(done);
    ck_assert_uint_eq(roda_rules_tick(r, 131 * S, out, 4, &done), 1);
    ck_assert(done);
    ck_assert_uint_eq(out[0].state, RODA_ALERT_FIRING);
    ck_assert_uint_eq(out[0].sensor_id, 5);
    ck_assert_double_eq(out[0].value, 31);
    ck_assert_uint_eq(out[0].ingest_time_ns, 100 * S);
    ck_assert_uint_eq(roda_rules_tick(r, 200 * S, out, 4, &done), 0); /* already firing */
    roda_summary_t b = sum(5, 2.0, 201);
    ck_assert_uint_eq(roda_rules_evaluate(r, 2, &b, &a, out, 4), 1);
    ck_assert_uint_eq(out[0].state, RODA_ALERT_RESOLVED);
    ck_assert_uint_eq(roda_rules_tick(r, 210 * S, out, 4, &done), 0);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(stale_tick_resumes_when_output_is_full)
{
    roda_rule_t def = rule("silent", RODA_RULE_STALE, 1);
    roda_rules_t *r = make(&def, 1);
    for (uint32_t i = 0; i < 5; i++) {
        roda_summary_t s = sum(100 + i, 1.0, 1);
        roda_rules_evaluate(r, i, &s, NULL, out, 4);
    }
    bool done;
    uint32_t total = 0;
    int calls = 0;
    do {
        total += roda_rules_tick(r, 10 * S, out, 2, &done);
        calls++;
    } while (!done && calls < 10);
    ck_assert(done);
    ck_assert_uint_eq(total, 5);
    ck_assert_int_eq(calls, 3);
    ck_assert_uint_eq(roda_rules_lost_output(r), 0);
    roda_rules_destroy(r);
}
END_TEST

/* A device gone silent (Sparkplug DEATH): the stale rule fires at once for its sensors only,
 * over as many calls as the output takes, stays firing through the tick and resolves on the next
 * reading. */
START_TEST(silence_fires_stale_at_once_for_the_device)
{
    roda_rule_t defs[2] = {rule("silent", RODA_RULE_STALE, 30), rule("hot", RODA_RULE_ABOVE, 80)};
    roda_rules_t *r = make(defs, 2);
    const uint64_t ids[3] = {5, 9, 6}; /* devices 1, 1, 2 */
    for (uint32_t i = 0; i < 3; i++) {
        roda_summary_t s = sum(ids[i], 1.0, 100);
        ck_assert_uint_eq(roda_rules_evaluate(r, i, &s, NULL, out, 4), 0);
    }
    uint32_t cursor = 0, calls = 0, total = 0;
    uint64_t fired[10] = {0};
    bool done = false;
    while (!done && calls++ < 10) {
        uint32_t n = roda_rules_silence(r, 1, 101 * S, out, 1, &cursor, &done);
        ck_assert_uint_le(n, 1);
        if (n == 1) {
            ck_assert_uint_eq(out[0].rule, 0);
            ck_assert_uint_eq(out[0].state, RODA_ALERT_FIRING);
            ck_assert_double_eq(out[0].value, 1);
            fired[total++] = out[0].sensor_id;
        }
    }
    ck_assert_uint_eq(total, 2);
    ck_assert_uint_eq(fired[0], 5);
    ck_assert_uint_eq(fired[1], 9);
    ck_assert_uint_eq(calls, 2);
    ck_assert_uint_eq(roda_rules_tick(r, 102 * S, out, 4, &done), 0); /* firing, not resolved */
    roda_summary_t b = sum(5, 2.0, 103);
    ck_assert_uint_eq(roda_rules_evaluate(r, 0, &b, NULL, out, 4), 1);
    ck_assert_uint_eq(out[0].state, RODA_ALERT_RESOLVED);
    cursor = 0;
    ck_assert_uint_eq(roda_rules_silence(r, 3, 104 * S, out, 4, &cursor, &done), 0);
    ck_assert(done);
    roda_rules_destroy(r);
}
END_TEST

/* Eviction: a silent sensor's stale alert comes out first, then its state goes, so a new sensor
 * given the same index starts clean (scope decided again, nothing firing, no stale scan). */
START_TEST(evict_emits_the_stale_alert_then_resets_the_index)
{
    roda_rule_t defs[2] = {rule("silent", RODA_RULE_STALE, 30), rule("hot", RODA_RULE_ABOVE, 80)};
    defs[1].sensor_count = 1;
    defs[1].sensors[0] = 5;
    roda_rules_t *r = make(defs, 2);
    roda_summary_t a = sum(5, 90.0, 100);
    ck_assert_uint_eq(roda_rules_evaluate(r, 2, &a, NULL, out, 4), 1); /* hot fires */
    /* Evicted at 140 s, before any tick saw it silent: the stale alert is emitted now. */
    ck_assert_uint_eq(roda_rules_evict(r, 2, 140 * S, out, 4), 1);
    ck_assert_uint_eq(out[0].rule, 0);
    ck_assert_uint_eq(out[0].state, RODA_ALERT_FIRING);
    ck_assert_uint_eq(out[0].sensor_id, 5);
    ck_assert_double_eq(out[0].value, 40);
    roda_rule_stats_t st;
    for (uint32_t i = 0; i < 2; i++) {
        ck_assert_int_eq(roda_rules_snapshot(r, i, NULL, &st), RODA_SUCCESS);
        ck_assert_uint_eq(st.fired, 1);
        ck_assert_uint_eq(st.active, 0);
    }
    /* The index now has no sensor: the stale scan skips it. */
    bool done;
    ck_assert_uint_eq(roda_rules_tick(r, 1000 * S, out, 4, &done), 0);
    /* Sensor 6 takes index 2: out of hot's scope (5 only), and not stale at its first reading. */
    roda_summary_t b = sum(6, 95.0, 1001);
    ck_assert_uint_eq(roda_rules_evaluate(r, 2, &b, NULL, out, 4), 0);
    ck_assert_uint_eq(roda_rules_tick(r, 1010 * S, out, 4, &done), 0);
    ck_assert_uint_eq(roda_rules_tick(r, 1032 * S, out, 4, &done), 1);
    ck_assert_uint_eq(out[0].sensor_id, 6);
    /* Evicting an index that was never used emits nothing; a bad index is counted. */
    ck_assert_uint_eq(roda_rules_evict(r, 3, 2000 * S, out, 4), 0);
    ck_assert_uint_eq(roda_rules_evict(r, SENSORS, 2000 * S, out, 4), 0);
    ck_assert_uint_eq(roda_rules_bad_index(r), 1);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(holdoff_suppresses_flapping_and_counts)
{
    roda_rule_t def = rule("hot", RODA_RULE_ABOVE, 80);
    def.holdoff_ns = 10 * S;
    roda_rules_t *r = make(&def, 1);
    /* t=1 fires; t=2 resolves; t=3 fires again within 10 s: suppressed; t=4 clears silently;
     * t=5 suppressed again; t=11 still above and the 10 s hold-off since t=1 is over: fires,
     * carrying the 2 suppressed repeats. */
    double v[] = {90, 70, 90, 70, 90, 90, 90, 90, 90, 90, 90};
    char trace[12];
    feed(r, v, 11, trace);
    ck_assert_str_eq(trace, "FR........F");
    ck_assert_uint_eq(out[0].state, RODA_ALERT_FIRING);
    ck_assert_uint_eq(out[0].suppressed, 2);
    roda_rule_stats_t st;
    roda_rules_snapshot(r, 0, NULL, &st);
    ck_assert_uint_eq(st.suppressed, 2);
    ck_assert_uint_eq(st.fired, 2);
    ck_assert_uint_eq(st.resolved, 1);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(holdoff_is_per_sensor)
{
    roda_rule_t def = rule("hot", RODA_RULE_ABOVE, 80);
    def.holdoff_ns = 100 * S;
    roda_rules_t *r = make(&def, 1);
    roda_summary_t a = sum(1, 90, 1), b = sum(2, 90, 2);
    ck_assert_uint_eq(roda_rules_evaluate(r, 0, &a, NULL, out, 4), 1);
    ck_assert_uint_eq(roda_rules_evaluate(r, 1, &b, NULL, out, 4), 1);
    roda_rules_destroy(r);
}
END_TEST

static const char *device_name(void *context, uint32_t device)
{
    (void)context;
    static const char *const names[] = {"boiler-1", "boiler-2", "pump-1", "pump-2"};
    return device < 4 ? names[device] : NULL;
}

/* Sensors 10 and 11 are named; 13 is numbered. */
static const char *sensor_name(void *context, uint64_t sensor_id)
{
    (void)context;
    return sensor_id == 10 ? "temperature" : sensor_id == 11 ? "humidity" : NULL;
}

START_TEST(scope_by_ids_and_glob)
{
    roda_rule_t defs[5] = {rule("ids", RODA_RULE_ABOVE, 0), rule("glob", RODA_RULE_ABOVE, 0),
                           rule("all", RODA_RULE_ABOVE, 0), rule("temps", RODA_RULE_ABOVE, 0),
                           rule("pump-temps", RODA_RULE_ABOVE, 0)};
    defs[0].sensor_count = 2;
    defs[0].sensors[0] = 10;
    defs[0].sensors[1] = 13;
    snprintf(defs[1].device_glob, sizeof defs[1].device_glob, "pump-*");
    snprintf(defs[3].name_glob, sizeof defs[3].name_glob, "temp*");
    snprintf(defs[4].name_glob, sizeof defs[4].name_glob, "*");
    snprintf(defs[4].device_glob, sizeof defs[4].device_glob, "pump-*");
    roda_rules_t *r = NULL;
    ck_assert_int_eq(roda_rules_create(defs, 5, 8, SENSORS, 4, device_name, sensor_name, NULL, &r),
                     RODA_SUCCESS);
    /* Sensor 10 (temperature) on pump-1: all five. 11 (humidity) on boiler-2: all. 13
     * (unnamed) on pump-2: ids, glob, all (a name glob needs a name). */
    roda_summary_t s10 = sum(10, 1, 1), s11 = sum(11, 1, 1), s13 = sum(13, 1, 1);
    s10.device = 2;
    s11.device = 1;
    s13.device = 3;
    ck_assert_uint_eq(roda_rules_evaluate(r, 0, &s10, NULL, out, 8), 5);
    ck_assert_uint_eq(roda_rules_evaluate(r, 1, &s11, NULL, out, 8), 1);
    ck_assert_uint_eq(out[0].rule, 2);
    ck_assert_uint_eq(roda_rules_evaluate(r, 2, &s13, NULL, out, 8), 3);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(reload_keeps_state_of_unchanged_rules)
{
    roda_rule_t defs[2] = {rule("hot", RODA_RULE_ABOVE, 80), rule("cold", RODA_RULE_BELOW, 0)};
    roda_rules_t *r = make(defs, 2);
    roda_summary_t a = sum(7, 90, 1);
    ck_assert_uint_eq(roda_rules_evaluate(r, 3, &a, NULL, out, 4), 1);
    /* New set: a new rule first, "hot" with another threshold (state kept), "cold" removed. */
    roda_rule_t next[2] = {rule("fresh", RODA_RULE_ABOVE, 1000), rule("hot", RODA_RULE_ABOVE, 85)};
    uint64_t dropped = 99;
    ck_assert_int_eq(roda_rules_reload(r, next, 2, &dropped), RODA_SUCCESS);
    ck_assert_uint_eq(dropped, 0);
    ck_assert_uint_eq(roda_rules_count(r), 2);
    ck_assert_str_eq(roda_rules_get(r, 1)->name, "hot");
    roda_rule_stats_t st;
    roda_rules_snapshot(r, 1, NULL, &st);
    ck_assert_uint_eq(st.fired, 1);
    ck_assert_uint_eq(st.active, 1);
    /* Still firing: 95 emits nothing; 80 <= 85 resolves under the new threshold. */
    roda_summary_t b = sum(7, 95, 2), c = sum(7, 80, 3);
    ck_assert_uint_eq(roda_rules_evaluate(r, 3, &b, &a, out, 4), 0);
    ck_assert_uint_eq(roda_rules_evaluate(r, 3, &c, &b, out, 4), 1);
    ck_assert_uint_eq(out[0].rule, 1);
    ck_assert_uint_eq(out[0].state, RODA_ALERT_RESOLVED);
    ck_assert_double_eq(out[0].threshold, 85);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(alerts_keep_their_rule_name_across_a_reordering_reload)
{
    roda_rule_t defs[2] = {rule("hot", RODA_RULE_ABOVE, 80), rule("cold", RODA_RULE_BELOW, 0)};
    roda_rules_t *r = make(defs, 2);
    roda_summary_t a = sum(7, -5, 1);
    ck_assert_uint_eq(roda_rules_evaluate(r, 3, &a, NULL, out, 4), 1);
    roda_alert_t before = out[0]; /* "cold", index 1, generation 0: still in the journal */
    ck_assert_uint_eq(before.rule, 1);
    /* The reload swaps the two rules: index 1 is now "hot". */
    roda_rule_t swapped[2] = {defs[1], defs[0]};
    ck_assert_int_eq(roda_rules_reload(r, swapped, 2, NULL), RODA_SUCCESS);
    char name[RODA_RULE_NAME_MAX];
    ck_assert(roda_rules_name(r, before.rule, before.generation, name, sizeof name));
    ck_assert_str_eq(name, "cold");
    roda_summary_t b = sum(7, 90, 2);
    ck_assert_uint_eq(roda_rules_evaluate(r, 3, &b, &a, out, 4), 2); /* hot fires, cold resolves */
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(out[i].generation, before.generation + 1);
        ck_assert(roda_rules_name(r, out[i].rule, out[i].generation, name, sizeof name));
        ck_assert_str_eq(name, out[i].state == RODA_ALERT_FIRING ? "hot" : "cold");
    }
    /* After RODA_RULES_NAME_HISTORY more reloads the first generation's names are gone: the
     * lookup says so rather than name the wrong rule. */
    for (uint32_t i = 0; i < RODA_RULES_NAME_HISTORY; i++)
        ck_assert_int_eq(roda_rules_reload(r, defs, 2, NULL), RODA_SUCCESS);
    ck_assert(!roda_rules_name(r, before.rule, before.generation, name, sizeof name));
    ck_assert(!roda_rules_name(r, 99, 0, name, sizeof name)); /* no such index */
    roda_rules_destroy(r);
}
END_TEST

START_TEST(reload_counts_dropped_and_refuses_bad_sets)
{
    roda_rule_t defs[1] = {rule("hot", RODA_RULE_ABOVE, 80)};
    roda_rules_t *r = make(defs, 1);
    roda_summary_t a = sum(7, 90, 1);
    ck_assert_uint_eq(roda_rules_evaluate(r, 3, &a, NULL, out, 4), 1);
    roda_rule_t dup[2] = {rule("x", RODA_RULE_ABOVE, 1), rule("x", RODA_RULE_BELOW, 1)};
    ck_assert_int_eq(roda_rules_reload(r, dup, 2, NULL), RODA_ERROR_INVALID_ARG);
    roda_rule_t many[9];
    for (int i = 0; i < 9; i++) {
        char name[8];
        snprintf(name, sizeof name, "r%d", i);
        many[i] = rule(name, RODA_RULE_ABOVE, 1);
    }
    ck_assert_int_eq(roda_rules_reload(r, many, 9, NULL), RODA_ERROR_TOO_MANY);
    ck_assert_str_eq(roda_rules_get(r, 0)->name, "hot"); /* unchanged */
    /* Same name, other kind: reset; the firing alert is dropped and counted. */
    roda_rule_t other = rule("hot", RODA_RULE_BELOW, 80);
    uint64_t dropped = 0;
    ck_assert_int_eq(roda_rules_reload(r, &other, 1, &dropped), RODA_SUCCESS);
    ck_assert_uint_eq(dropped, 1);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(bounds_bad_index_and_lost_output)
{
    roda_rule_t defs[2] = {rule("a", RODA_RULE_ABOVE, 0), rule("b", RODA_RULE_ABOVE, 0)};
    roda_rules_t *r = make(defs, 2);
    roda_summary_t s = sum(1, 5, 1);
    ck_assert_uint_eq(roda_rules_evaluate(r, SENSORS, &s, NULL, out, 4), 0);
    ck_assert_uint_eq(roda_rules_bad_index(r), 1);
    ck_assert_uint_eq(roda_rules_evaluate(r, 0, &s, NULL, out, 1), 1);
    ck_assert_uint_eq(roda_rules_lost_output(r), 1);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(validation)
{
    const char *why;
    roda_rule_t r = rule("j", RODA_RULE_JUMP, 1.0);
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    r = rule("r", RODA_RULE_RATE, 5);
    r.hysteresis = 5;
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(why, "hysteresis"));
    r = rule("", RODA_RULE_ABOVE, 1);
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    r = rule("n", RODA_RULE_ABOVE, INFINITY);
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    r = rule("ok", RODA_RULE_STALE, 30);
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_SUCCESS);
    roda_rules_t *set = NULL;
    ck_assert_int_eq(roda_rules_create(&r, 1, 0, 8, 4, NULL, NULL, NULL, &set),
                     RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_rules_create(&r, 1, RODA_RULES_MAX + 1, 8, 4, NULL, NULL, NULL, &set),
                     RODA_ERROR_INVALID_ARG);
    ck_assert_ptr_null(set);
    ck_assert_uint_ge(roda_rules_memory(NULL, 0, 16, 1000, 1), 1000 * 16 * 16);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, threshold_above_fires_and_resolves);
    tcase_add_test(tc, alert_record_fields);
    tcase_add_test(tc, threshold_below_with_hysteresis);
    tcase_add_test(tc, threshold_above_with_hysteresis);
    tcase_add_test(tc, jump_on_mean_like_the_reference);
    tcase_add_test(tc, jump_not_evaluable_for_non_positive_previous);
    tcase_add_test(tc, rate_per_second);
    tcase_add_test(tc, rate_needs_positive_time_delta);
    tcase_add_test(tc, stale_fires_from_tick_and_resolves_on_reading);
    tcase_add_test(tc, stale_tick_resumes_when_output_is_full);
    tcase_add_test(tc, silence_fires_stale_at_once_for_the_device);
    tcase_add_test(tc, evict_emits_the_stale_alert_then_resets_the_index);
    tcase_add_test(tc, holdoff_suppresses_flapping_and_counts);
    tcase_add_test(tc, holdoff_is_per_sensor);
    tcase_add_test(tc, scope_by_ids_and_glob);
    tcase_add_test(tc, reload_keeps_state_of_unchanged_rules);
    tcase_add_test(tc, alerts_keep_their_rule_name_across_a_reordering_reload);
    tcase_add_test(tc, reload_counts_dropped_and_refuses_bad_sets);
    tcase_add_test(tc, bounds_bad_index_and_lost_output);
    tcase_add_test(tc, validation);
    suite_add_tcase(s, tc);
    return roda_check_run(s);
}
