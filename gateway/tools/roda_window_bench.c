/* roda_window_bench.c - the cost of time windows per reading (BENCHMARKS.md): the rules stage's
 * evaluation with window rules against the same without, and the window update alone.
 *
 *   roda-window-bench [--sensors S] [--readings N] [--windows W] [--sketch]
 *
 * Readings: sensor (i * 7919) % S (scattered over the table, as a fleet's arrive), each sensor
 * once per second of ingest time, a sawtooth value. Rules: one ABOVE on the last value (the
 * baseline, never firing), plus W window rules (W = 1: mean over 1m; 2: and stddev over 5m; 3:
 * and max over 10s every 1s; --sketch: the first is p95 over 1m instead, with a quantile
 * sketch). Output:
 *   RESULT name=window sensors=S windows=W sketch=0|1 readings=N base_ns=... rules_ns=...
 *     per_window_ns=... update_ns=...
 * base_ns and rules_ns are ns per reading through roda_rules_evaluate without and with the
 * window rules; per_window_ns = (rules_ns - base_ns) / W (update, statistics and the rule);
 * update_ns the ns per reading per window of roda_twindow_add alone. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roda_rules.h"

#define S_NS 1000000000ull

/* The process's CPU time: on a busy machine the time it waits for a CPU is left out. */
static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * S_NS + (uint64_t)t.tv_nsec;
}

static roda_rule_t make_rule(const char *name, roda_rule_value_t value, uint64_t window_ns,
                             uint64_t hop_ns)
{
    roda_rule_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.kind = RODA_RULE_ABOVE;
    r.severity = RODA_SEVERITY_WARNING;
    r.value = value;
    r.threshold = 1e12;
    r.window_ns = window_ns;
    r.hop_ns = hop_ns;
    r.min_count = 1;
    return r;
}

/* Reading i: its sensor index and summary. */
static void reading(uint64_t i, uint32_t sensors, uint32_t *index, roda_summary_t *s)
{
    *index = (uint32_t)(i * 7919u % sensors);
    uint64_t second = i / sensors;
    s->sensor_id = *index;
    s->count = second + 1;
    s->last = s->mean = s->ewma = (double)(second % 20);
    s->ingest_time_ns = second * S_NS + (i % sensors) * (S_NS / sensors);
    s->device_time_us = (int64_t)(s->ingest_time_ns / 1000);
}

/* ns per reading of `readings` evaluations of `rules`. */
static double run_rules(const roda_rule_t *rules, uint32_t count, uint32_t sensors,
                        uint64_t readings)
{
    roda_rules_t *set;
    if (roda_rules_create(rules, count, count, sensors, 1, NULL, NULL, NULL, &set) !=
        RODA_SUCCESS) {
        fprintf(stderr, "roda-window-bench: cannot create the rules (memory?)\n");
        exit(1);
    }
    roda_alert_t out[RODA_RULES_MAX];
    uint64_t alerts = 0, start = now_ns();
    for (uint64_t i = 0; i < readings; i++) {
        uint32_t index;
        roda_summary_t s = {0};
        reading(i, sensors, &index, &s);
        alerts += roda_rules_evaluate(set, index, &s, NULL, out, RODA_RULES_MAX);
    }
    double ns = (double)(now_ns() - start) / (double)readings;
    roda_rules_destroy(set);
    if (alerts != 0)
        fprintf(stderr, "roda-window-bench: %" PRIu64 " unexpected alerts\n", alerts);
    return ns;
}

/* ns per reading per window of roda_twindow_add alone, over the windows of the rules. */
static double run_update(const roda_twindow_spec_t *specs, uint32_t windows, uint32_t sensors,
                         uint64_t readings)
{
    size_t bytes = 0;
    for (uint32_t w = 0; w < windows; w++)
        bytes += roda_twindow_size(&specs[w]);
    unsigned char *states = calloc(sensors, bytes);
    if (states == NULL) {
        fprintf(stderr, "roda-window-bench: out of memory\n");
        exit(1);
    }
    uint64_t late = 0, start = now_ns();
    for (uint64_t i = 0; i < readings; i++) {
        uint32_t index;
        roda_summary_t s = {0};
        reading(i, sensors, &index, &s);
        unsigned char *state = states + (size_t)index * bytes;
        for (uint32_t w = 0; w < windows; w++) {
            late += !roda_twindow_add(&specs[w], state, s.ingest_time_ns, s.last);
            state += roda_twindow_size(&specs[w]);
        }
    }
    double ns = (double)(now_ns() - start) / (double)readings / windows;
    free(states);
    if (late != 0)
        fprintf(stderr, "roda-window-bench: %" PRIu64 " late readings\n", late);
    return ns;
}

int main(int argc, char **argv)
{
    uint32_t sensors = 10000, windows = 1;
    uint64_t readings = 20000000;
    int sketch = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sensors") == 0 && i + 1 < argc)
            sensors = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--readings") == 0 && i + 1 < argc)
            readings = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--windows") == 0 && i + 1 < argc)
            windows = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--sketch") == 0)
            sketch = 1;
        else {
            fprintf(stderr, "usage: roda-window-bench [--sensors S] [--readings N] "
                            "[--windows 1..3] [--sketch]\n");
            return 2;
        }
    }
    if (sensors == 0 || readings == 0 || windows < 1 || windows > 3) {
        fprintf(stderr, "roda-window-bench: sensors, readings > 0; windows 1..3\n");
        return 2;
    }
    roda_rule_t rules[4] = {
        make_rule("base", RODA_RULE_VALUE_LAST, 0, 0),
        sketch ? make_rule("p95", RODA_RULE_VALUE_P95, 60 * S_NS, 10 * S_NS)
               : make_rule("mean", RODA_RULE_VALUE_MEAN, 60 * S_NS, 10 * S_NS),
        make_rule("stddev", RODA_RULE_VALUE_STDDEV, 300 * S_NS, 50 * S_NS),
        make_rule("max", RODA_RULE_VALUE_MAX, 10 * S_NS, S_NS),
    };
    roda_twindow_spec_t specs[3] = {
        {.hop_ns = 10 * S_NS, .buckets = 6, .sketch = (uint32_t)sketch},
        {.hop_ns = 50 * S_NS, .buckets = 6, .sketch = 0},
        {.hop_ns = S_NS, .buckets = 10, .sketch = 0},
    };
    double base = run_rules(rules, 1, sensors, readings);
    double with = run_rules(rules, 1 + windows, sensors, readings);
    double update = run_update(specs, windows, sensors, readings);
    printf("RESULT name=window sensors=%" PRIu32 " windows=%" PRIu32 " sketch=%d readings=%" PRIu64
           " base_ns=%.1f rules_ns=%.1f per_window_ns=%.1f update_ns=%.1f\n",
           sensors, windows, sketch, readings, base, with, (with - base) / windows, update);
    return 0;
}
