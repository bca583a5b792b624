/* test_pipe.c - each pipe component against hand-computed expectations, key capacity, and
 * composed pipes (init, early stop, counters). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "roda_check.h"
#include "roda_pipe.h"

typedef struct reading {
    uint64_t sensor;
    double value;
} reading_t;

typedef struct summary {
    uint64_t sensor;
    uint64_t count;
    double sum;
} summary_t;

typedef struct alert {
    uint64_t sensor;
    double from, to;
} alert_t;

static inline uint64_t reading_sensor(const reading_t *reading)
{
    return reading->sensor;
}

static inline uint64_t summary_sensor(const summary_t *summary)
{
    return summary->sensor;
}

static inline double reading_value(const reading_t *reading)
{
    return reading->value;
}

static reading_t reading(uint64_t sensor, double value)
{
    return (reading_t){.sensor = sensor, .value = value};
}

static const roda_pipe_config_t small = {.key_capacity = 4};

/* ---- map and filter ----------------------------------------------------------------------- */

static inline void doubled(const reading_t *in, reading_t *out)
{
    *out = reading(in->sensor, in->value * 2.0);
}
RODA_MAP(double_it, reading_t, reading_t, doubled)

static inline bool positive(const reading_t *in)
{
    return in->value > 0.0;
}
RODA_FILTER(keep_positive, reading_t, positive)

START_TEST(map_transforms_every_input)
{
    double_it_t map;
    ck_assert_int_eq(double_it_init(&map, NULL), RODA_SUCCESS);
    reading_t in = reading(3, 1.25), out;
    ck_assert_int_eq(double_it(&map, &in, &out), 1);
    ck_assert_uint_eq(out.sensor, 3);
    ck_assert_double_eq(out.value, 2.5);
    ck_assert_uint_eq(map.counters.in, 1);
    ck_assert_uint_eq(map.counters.out, 1);
    double_it_destroy(&map);
}
END_TEST

START_TEST(filter_passes_matching_inputs_unchanged)
{
    keep_positive_t filter;
    ck_assert_int_eq(keep_positive_init(&filter, &small), RODA_SUCCESS);
    reading_t out = reading(0, 0.0);
    reading_t negative = reading(1, -1.0), plus = reading(2, 7.5);
    ck_assert_int_eq(keep_positive(&filter, &negative, &out), 0);
    ck_assert_uint_eq(out.sensor, 0);
    ck_assert_int_eq(keep_positive(&filter, &plus, &out), 1);
    ck_assert_uint_eq(out.sensor, 2);
    ck_assert_double_eq(out.value, 7.5);
    ck_assert_uint_eq(filter.counters.in, 2);
    ck_assert_uint_eq(filter.counters.out, 1);
    ck_assert_uint_eq(filter.counters.refused, 0);
    keep_positive_destroy(&filter);
}
END_TEST

/* ---- stateful ----------------------------------------------------------------------------- */

static inline void summary_start(summary_t *state, const reading_t *in)
{
    *state = (summary_t){.sensor = in->sensor, .count = 1, .sum = in->value};
}

static inline void summary_add(summary_t *state, const reading_t *in)
{
    state->count++;
    state->sum += in->value;
}
RODA_STATEFUL(summarize, reading_t, summary_t, reading_sensor, summary_start, summary_add)

static summary_t summarize_one(summarize_t *stage, uint64_t sensor, double value)
{
    reading_t in = reading(sensor, value);
    summary_t out = {0};
    ck_assert_int_eq(summarize(stage, &in, &out), 1);
    return out;
}

START_TEST(stateful_initialises_new_keys_and_updates_known_ones)
{
    summarize_t stage;
    ck_assert_int_eq(summarize_init(&stage, &small), RODA_SUCCESS);
    summary_t out = summarize_one(&stage, 7, 1.5);
    ck_assert_uint_eq(out.sensor, 7);
    ck_assert_uint_eq(out.count, 1);
    ck_assert_double_eq(out.sum, 1.5);
    out = summarize_one(&stage, 9, 10.0);
    ck_assert_uint_eq(out.count, 1);
    out = summarize_one(&stage, 7, 2.0);
    ck_assert_uint_eq(out.sensor, 7);
    ck_assert_uint_eq(out.count, 2);
    ck_assert_double_eq(out.sum, 3.5);
    /* The output is a copy: changing it leaves the state alone. */
    out.sum = 1000.0;
    out = summarize_one(&stage, 7, 0.5);
    ck_assert_uint_eq(out.count, 3);
    ck_assert_double_eq(out.sum, 4.0);
    ck_assert_uint_eq(stage.counters.in, 4);
    ck_assert_uint_eq(stage.counters.out, 4);
    summarize_destroy(&stage);
}
END_TEST

START_TEST(stateful_drops_and_counts_keys_past_capacity)
{
    summarize_t stage;
    ck_assert_int_eq(summarize_init(&stage, &small), RODA_SUCCESS);
    for (uint64_t sensor = 0; sensor < 4; sensor++)
        summarize_one(&stage, sensor, 1.0);
    reading_t in = reading(4, 1.0);
    summary_t out = {.sensor = 99};
    ck_assert_int_eq(summarize(&stage, &in, &out), 0);
    ck_assert_int_eq(summarize(&stage, &in, &out), 0);
    ck_assert_uint_eq(out.sensor, 99);
    ck_assert_uint_eq(stage.counters.refused, 2);
    ck_assert_uint_eq(stage.keys.refused, 2);
    /* Known keys go on; an expired key makes room, and the newcomer starts fresh. */
    ck_assert_uint_eq(summarize_one(&stage, 2, 1.0).count, 2);
    ck_assert_uint_ne(roda_keytable_remove(&stage.keys, 2), RODA_KEYTABLE_NONE);
    out = summarize_one(&stage, 4, 5.0);
    ck_assert_uint_eq(out.count, 1);
    ck_assert_double_eq(out.sum, 5.0);
    ck_assert_uint_eq(stage.counters.in, 8);
    ck_assert_uint_eq(stage.counters.out, 6);
    summarize_destroy(&stage);
}
END_TEST

START_TEST(keyed_components_refuse_bad_configs)
{
    summarize_t stage;
    ck_assert_int_eq(summarize_init(&stage, NULL), RODA_ERROR_INVALID_ARG);
    summarize_destroy(&stage);
    roda_pipe_config_t none = {.key_capacity = 0};
    ck_assert_int_eq(summarize_init(&stage, &none), RODA_ERROR_INVALID_ARG);
    summarize_destroy(&stage);
}
END_TEST

/* ---- delta -------------------------------------------------------------------------------- */

static int previous_was_null; /* what the last compare call saw */

/* Alerts when a sensor's value more than doubles since its previous reading. */
static inline bool jumped(const reading_t *now, const reading_t *before, alert_t *alert)
{
    previous_was_null = before == NULL;
    if (before == NULL || now->value <= before->value * 2.0)
        return false;
    *alert = (alert_t){.sensor = now->sensor, .from = before->value, .to = now->value};
    return true;
}
RODA_DELTA(jump, reading_t, alert_t, reading_sensor, jumped)

START_TEST(delta_compares_with_the_previous_item_of_the_same_key)
{
    jump_t stage;
    ck_assert_int_eq(jump_init(&stage, &small), RODA_SUCCESS);
    alert_t alert = {0};
    const struct {
        uint64_t sensor;
        double value;
        int emitted, first;
    } steps[] = {
        {1, 10.0, 0, 1}, /* first item: previous is NULL */
        {2, 50.0, 0, 1}, /* another key: its own first */
        {1, 15.0, 0, 0}, /* 15 <= 2 * 10 */
        {1, 40.0, 1, 0}, /* 40 > 2 * 15: compared with 15, not with sensor 2's 50 */
        {2, 60.0, 0, 0},
        {1, 70.0, 0, 0},  /* previous is 40, kept although nothing was emitted for it... */
        {1, 141.0, 1, 0}, /* ...and 70 after that */
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        reading_t in = reading(steps[i].sensor, steps[i].value);
        previous_was_null = -1;
        ck_assert_int_eq(jump(&stage, &in, &alert), steps[i].emitted);
        ck_assert_int_eq(previous_was_null, steps[i].first);
        if (i == 3) {
            ck_assert_uint_eq(alert.sensor, 1);
            ck_assert_double_eq(alert.from, 15.0);
            ck_assert_double_eq(alert.to, 40.0);
        }
    }
    ck_assert_double_eq(alert.from, 70.0);
    ck_assert_double_eq(alert.to, 141.0);
    ck_assert_uint_eq(stage.counters.in, 7);
    ck_assert_uint_eq(stage.counters.out, 2);
    jump_destroy(&stage);
}
END_TEST

START_TEST(delta_drops_and_counts_keys_past_capacity)
{
    jump_t stage;
    roda_pipe_config_t one = {.key_capacity = 1};
    ck_assert_int_eq(jump_init(&stage, &one), RODA_SUCCESS);
    alert_t alert;
    reading_t first = reading(1, 1.0), other = reading(2, 1.0), again = reading(1, 3.0);
    ck_assert_int_eq(jump(&stage, &first, &alert), 0);
    previous_was_null = -1;
    ck_assert_int_eq(jump(&stage, &other, &alert), 0);
    ck_assert_int_eq(previous_was_null, -1); /* refused before compare */
    ck_assert_int_eq(jump(&stage, &again, &alert), 1);
    ck_assert_uint_eq(stage.counters.refused, 1);
    jump_destroy(&stage);
}
END_TEST

/* ---- dedup_by ----------------------------------------------------------------------------- */

static inline bool same_value(const reading_t *a, const reading_t *b)
{
    return a->value == b->value;
}
RODA_DEDUP_BY(changes, reading_t, reading_sensor, same_value)

START_TEST(dedup_drops_repeats_per_key)
{
    changes_t stage;
    ck_assert_int_eq(changes_init(&stage, &small), RODA_SUCCESS);
    const struct {
        uint64_t sensor;
        double value;
        int passed;
    } steps[] = {
        {1, 5.0, 1}, {2, 5.0, 1}, /* same value, other key: passes */
        {1, 5.0, 0}, {1, 5.0, 0}, {2, 6.0, 1},
        {1, 6.0, 1}, {1, 5.0, 1}, /* equal to an older item, not to the last passed */
        {2, 6.0, 0},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        reading_t in = reading(steps[i].sensor, steps[i].value), out = {0};
        ck_assert_int_eq(changes(&stage, &in, &out), steps[i].passed);
        if (steps[i].passed) {
            ck_assert_uint_eq(out.sensor, in.sensor);
            ck_assert_double_eq(out.value, in.value);
        }
    }
    ck_assert_uint_eq(stage.counters.in, 8);
    ck_assert_uint_eq(stage.counters.out, 5);
    ck_assert_uint_eq(stage.counters.refused, 0);
    changes_destroy(&stage);
}
END_TEST

/* ---- window ------------------------------------------------------------------------------- */

RODA_WINDOW(tumbling, reading_t, reading_sensor, reading_value, 8, 8)
RODA_WINDOW(sliding, reading_t, reading_sensor, reading_value, 4, 2)
RODA_WINDOW(huge, reading_t, reading_sensor, reading_value, 1000, 1)

static void check_stats(const roda_window_stats_t *stats, uint64_t key, uint64_t count, double mean,
                        double min, double max, double stddev)
{
    ck_assert_uint_eq(stats->key, key);
    ck_assert_uint_eq(stats->count, count);
    ck_assert_double_eq_tol(stats->mean, mean, 1e-12);
    ck_assert_double_eq(stats->min, min);
    ck_assert_double_eq(stats->max, max);
    ck_assert_double_eq_tol(stats->stddev, stddev, 1e-12);
}

START_TEST(tumbling_window_emits_once_per_full_window)
{
    tumbling_t stage;
    ck_assert_int_eq(tumbling_init(&stage, &small), RODA_SUCCESS);
    /* Population stats of 2 4 4 4 5 5 7 9: mean 5, deviations^2 sum to 32, stddev 2. */
    const double values[] = {2, 4, 4, 4, 5, 5, 7, 9};
    roda_window_stats_t stats = {0};
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 8; i++) {
            reading_t in = reading(1, values[i] + round * 10.0);
            ck_assert_int_eq(tumbling(&stage, &in, &stats), i == 7);
            /* Another key, every other item: its window fills separately, in round 1. */
            if (i % 2 == 0) {
                reading_t other = reading(2, 100.0);
                ck_assert_int_eq(tumbling(&stage, &other, &stats), round == 1 && i == 6);
                if (round == 1 && i == 6)
                    check_stats(&stats, 2, 8, 100.0, 100.0, 100.0, 0.0);
            }
        }
        if (round == 0)
            check_stats(&stats, 1, 8, 5.0, 2.0, 9.0, 2.0);
        else
            check_stats(&stats, 1, 8, 15.0, 12.0, 19.0, 2.0);
    }
    /* Each emission starts an empty window: eight zeros give zero stats. */
    reading_t in = reading(1, 0.0);
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(tumbling(&stage, &in, &stats), 0);
    ck_assert_int_eq(tumbling(&stage, &in, &stats), 1);
    check_stats(&stats, 1, 8, 0.0, 0.0, 0.0, 0.0);
    ck_assert_uint_eq(stage.counters.in, 8 * 2 + 4 * 2 + 8);
    ck_assert_uint_eq(stage.counters.out, 2 + 1 + 1);
    tumbling_destroy(&stage);
}
END_TEST

START_TEST(sliding_window_emits_every_slide_over_the_last_size_items)
{
    sliding_t stage;
    ck_assert_int_eq(sliding_init(&stage, &small), RODA_SUCCESS);
    roda_window_stats_t stats;
    int emitted = 0;
    for (int value = 1; value <= 8; value++) {
        reading_t in = reading(3, value);
        int expected = value % 2 == 0;
        ck_assert_int_eq(sliding(&stage, &in, &stats), expected);
        switch (expected ? value : 0) {
        case 2: /* {1, 2}: not full yet */
            check_stats(&stats, 3, 2, 1.5, 1.0, 2.0, 0.5);
            break;
        case 4: /* {1..4}: squares 2.25 + 0.25 + 0.25 + 2.25 = 5, / 4 */
            check_stats(&stats, 3, 4, 2.5, 1.0, 4.0, sqrt(1.25));
            break;
        case 6:
            check_stats(&stats, 3, 4, 4.5, 3.0, 6.0, sqrt(1.25));
            break;
        case 8:
            check_stats(&stats, 3, 4, 6.5, 5.0, 8.0, sqrt(1.25));
            break;
        }
        emitted += expected;
        /* Another key interleaved keeps its own ring. */
        reading_t other = reading(4, -value);
        ck_assert_int_eq(sliding(&stage, &other, &stats), expected);
        if (expected)
            ck_assert_double_eq_tol(stats.mean, value == 2 ? -1.5 : 1.5 - value, 1e-12);
    }
    ck_assert_int_eq(emitted, 4);
    sliding_destroy(&stage);
}
END_TEST

START_TEST(window_limits_state_size_and_key_count)
{
    huge_t big;
    roda_pipe_config_t many = {.key_capacity = RODA_KEYTABLE_MAX_KEYS};
    ck_assert_int_eq(huge_init(&big, &many), RODA_ERROR_INVALID_ARG);
    huge_destroy(&big);
    ck_assert_int_eq(huge_init(&big, &small), RODA_SUCCESS);
    roda_window_stats_t stats;
    for (uint64_t sensor = 0; sensor < 6; sensor++) {
        reading_t in = reading(sensor, 1.0);
        ck_assert_int_eq(huge(&big, &in, &stats), sensor < 4);
    }
    ck_assert_uint_eq(big.counters.refused, 2);
    huge_destroy(&big);
}
END_TEST

/* ---- composition -------------------------------------------------------------------------- */

static inline void to_alert(const reading_t *in, alert_t *out)
{
    *out = (alert_t){.sensor = in->sensor, .from = 0.0, .to = in->value};
}
static inline void summary_mean(const summary_t *in, reading_t *out)
{
    *out = reading(in->sensor, in->sum / (double)in->count);
}
RODA_MAP(mean_of, summary_t, reading_t, summary_mean)
RODA_MAP(as_alert, reading_t, alert_t, to_alert)

/* Positive readings -> running mean per sensor -> alert when the mean more than doubles. */
RODA_PIPE(mean_jumps, reading_t, keep_positive, reading_t, summarize, summary_t, mean_of, reading_t,
          jump, alert_t)

START_TEST(a_composed_pipe_chains_and_stops_at_the_first_silent_component)
{
    mean_jumps_t pipe;
    ck_assert_int_eq(mean_jumps_init(&pipe, &small), RODA_SUCCESS);
    const struct {
        uint64_t sensor;
        double value;
        int alerted;
    } steps[] = {
        {1, 1.0, 0},  /* mean 1 (first: no previous) */
        {1, -5.0, 0}, /* filtered: never reaches the summary */
        {2, 4.0, 0},  /* mean 4 */
        {1, 1.0, 0},  /* mean 1 */
        {1, 7.0, 1},  /* mean 3 > 2 * 1 */
        {2, 4.0, 0},  /* mean 4 */
    };
    alert_t alert = {0};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        reading_t in = reading(steps[i].sensor, steps[i].value);
        ck_assert_int_eq(mean_jumps(&pipe, &in, &alert), steps[i].alerted);
    }
    ck_assert_uint_eq(alert.sensor, 1);
    ck_assert_double_eq(alert.from, 1.0);
    ck_assert_double_eq(alert.to, 3.0);
    roda_pipe_counters_t counters[5];
    ck_assert_uint_eq(mean_jumps_counters(&pipe, counters, 5), 4);
    const uint64_t in[4] = {6, 5, 5, 5}, out[4] = {5, 5, 5, 1};
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(counters[i].in, in[i]);
        ck_assert_uint_eq(counters[i].out, out[i]);
    }
    ck_assert_uint_eq(pipe.summarize.counters.out, 5);
    ck_assert_uint_eq(mean_jumps_counters(&pipe, counters, 1), 4);
    mean_jumps_destroy(&pipe);
}
END_TEST

/* Arity bounds: one component, and six. */
RODA_PIPE(just_double, reading_t, double_it, reading_t)
RODA_MAP(double_again, reading_t, reading_t, doubled)
RODA_MAP(double_thrice, reading_t, reading_t, doubled)
RODA_PIPE(six_steps, reading_t, double_it, reading_t, double_again, reading_t, double_thrice,
          reading_t, keep_positive, reading_t, changes, reading_t, as_alert, alert_t)

START_TEST(pipes_of_one_and_six_components)
{
    just_double_t one;
    ck_assert_int_eq(just_double_init(&one, NULL), RODA_SUCCESS);
    reading_t in = reading(1, 1.5), out;
    ck_assert_int_eq(just_double(&one, &in, &out), 1);
    ck_assert_double_eq(out.value, 3.0);
    just_double_destroy(&one);

    six_steps_t six;
    ck_assert_int_eq(six_steps_init(&six, &small), RODA_SUCCESS);
    alert_t alert;
    ck_assert_int_eq(six_steps(&six, &in, &alert), 1);
    ck_assert_double_eq(alert.to, 12.0);
    ck_assert_int_eq(six_steps(&six, &in, &alert), 0); /* the dedup step drops the repeat */
    in.value = -1.0;
    ck_assert_int_eq(six_steps(&six, &in, &alert), 0); /* the filter drops it */
    roda_pipe_counters_t counters[6];
    ck_assert_uint_eq(six_steps_counters(&six, counters, 6), 6);
    const uint64_t outs[6] = {3, 3, 3, 2, 1, 1};
    for (int i = 0; i < 6; i++)
        ck_assert_uint_eq(counters[i].out, outs[i]);
    six_steps_destroy(&six);
}
END_TEST

/* The second keyed component cannot get its state: init fails and the first one's table is
 * freed again (ASan's leak check watches this test). */
RODA_PIPE(too_big, reading_t, summarize, summary_t, mean_of, reading_t, huge, roda_window_stats_t)

START_TEST(a_failed_pipe_init_destroys_what_it_built)
{
    too_big_t pipe;
    /* 600000 keys * (1000 doubles + 40 bytes) passes RODA_KEYTABLE_MAX_STATE_BYTES (4 GiB). */
    roda_pipe_config_t many = {.key_capacity = 600000};
    ck_assert_int_eq(too_big_init(&pipe, &many), RODA_ERROR_INVALID_ARG);
    ck_assert_ptr_null(pipe.summarize.keys.slots);
    ck_assert_ptr_null(pipe.summarize.keys.states);
    too_big_destroy(&pipe);
}
END_TEST

Suite *pipe_suite(void)
{
    Suite *suite = suite_create("pipe");
    TCase *components = tcase_create("components");
    tcase_add_test(components, map_transforms_every_input);
    tcase_add_test(components, filter_passes_matching_inputs_unchanged);
    tcase_add_test(components, stateful_initialises_new_keys_and_updates_known_ones);
    tcase_add_test(components, stateful_drops_and_counts_keys_past_capacity);
    tcase_add_test(components, keyed_components_refuse_bad_configs);
    tcase_add_test(components, delta_compares_with_the_previous_item_of_the_same_key);
    tcase_add_test(components, delta_drops_and_counts_keys_past_capacity);
    tcase_add_test(components, dedup_drops_repeats_per_key);
    tcase_add_test(components, tumbling_window_emits_once_per_full_window);
    tcase_add_test(components, sliding_window_emits_every_slide_over_the_last_size_items);
    tcase_add_test(components, window_limits_state_size_and_key_count);
    suite_add_tcase(suite, components);
    TCase *pipes = tcase_create("pipes");
    tcase_add_test(pipes, a_composed_pipe_chains_and_stops_at_the_first_silent_component);
    tcase_add_test(pipes, pipes_of_one_and_six_components);
    tcase_add_test(pipes, a_failed_pipe_init_destroys_what_it_built);
    suite_add_tcase(suite, pipes);
    return suite;
}

int main(void)
{
    return roda_check_run(pipe_suite());
}
