/* test_twindow.c - the time window against hand-computed windows (boundaries, empty buckets, late
 * readings, silence), its quantile sketch against exact quantiles, and as a pipe component. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "roda_check.h"
#include "roda_twindow.h"

#define S 1000000000ull /* one second in ns */

/* A window state on the heap, zeroed (an empty window). */
static void *window_new(const roda_twindow_spec_t *spec)
{
    void *state = calloc(1, roda_twindow_size(spec));
    ck_assert_ptr_nonnull(state);
    return state;
}

static roda_twindow_stats_t stats_at(const roda_twindow_spec_t *spec, const void *state,
                                     uint64_t now_ns)
{
    roda_twindow_stats_t s;
    roda_twindow_stats(spec, state, now_ns, &s);
    return s;
}

START_TEST(sliding_window_covers_the_last_buckets_at_their_boundaries)
{
    /* 3 buckets of 10 s: the window at time t holds the buckets [t/10 - 2, t/10]. */
    roda_twindow_spec_t spec = {.hop_ns = 10 * S, .buckets = 3, .sketch = 0};
    void *w = window_new(&spec);
    ck_assert(roda_twindow_add(&spec, w, 0, 1.0));          /* bucket 0 */
    ck_assert(roda_twindow_add(&spec, w, 10 * S - 1, 3.0)); /* bucket 0, its last ns */
    ck_assert(roda_twindow_add(&spec, w, 10 * S, 5.0));     /* bucket 1, its first ns */
    ck_assert(roda_twindow_add(&spec, w, 29 * S, 7.0));     /* bucket 2 */
    roda_twindow_stats_t s = stats_at(&spec, w, 29 * S);
    ck_assert_uint_eq(s.count, 4);
    ck_assert_double_eq_tol(s.mean, 4.0, 1e-12);
    ck_assert_double_eq(s.min, 1.0);
    ck_assert_double_eq(s.max, 7.0);
    /* Population stddev of 1, 3, 5, 7: sqrt(5). */
    ck_assert_double_eq_tol(s.stddev, sqrt(5.0), 1e-12);
    /* From 1 at 0 s to 7 at 29 s. */
    ck_assert_double_eq_tol(s.slope, 6.0 / 29.0, 1e-12);
    ck_assert(isnan(s.quantiles[0]));
    /* At 30 s bucket 0 has left the window: 5, 7 (and 9 now). */
    ck_assert(roda_twindow_add(&spec, w, 30 * S, 9.0));
    s = stats_at(&spec, w, 30 * S);
    ck_assert_uint_eq(s.count, 3);
    ck_assert_double_eq_tol(s.mean, 7.0, 1e-12);
    ck_assert_double_eq(s.min, 5.0);
    ck_assert_double_eq_tol(s.slope, 4.0 / 20.0, 1e-12);
    free(w);
}
END_TEST

START_TEST(empty_buckets_inside_the_window_count_for_nothing)
{
    roda_twindow_spec_t spec = {.hop_ns = S, .buckets = 5, .sketch = 0};
    void *w = window_new(&spec);
    ck_assert(roda_twindow_add(&spec, w, 0, 10.0));
    ck_assert(roda_twindow_add(&spec, w, 4 * S, 20.0)); /* buckets 1..3 empty */
    roda_twindow_stats_t s = stats_at(&spec, w, 4 * S);
    ck_assert_uint_eq(s.count, 2);
    ck_assert_double_eq_tol(s.mean, 15.0, 1e-12);
    ck_assert_double_eq_tol(s.stddev, 5.0, 1e-12);
    /* A jump over more than the window empties it all but the new reading. */
    ck_assert(roda_twindow_add(&spec, w, 100 * S, 1.0));
    s = stats_at(&spec, w, 100 * S);
    ck_assert_uint_eq(s.count, 1);
    ck_assert_double_eq(s.mean, 1.0);
    ck_assert_double_eq(s.stddev, 0.0);
    ck_assert(isnan(s.slope));
    free(w);
}
END_TEST

START_TEST(late_readings_within_the_window_count_and_past_it_are_dropped)
{
    roda_twindow_spec_t spec = {.hop_ns = S, .buckets = 3, .sketch = 1};
    void *w = window_new(&spec);
    ck_assert(roda_twindow_add(&spec, w, 5 * S, 4.0));
    ck_assert(roda_twindow_add(&spec, w, 3 * S + 1, 2.0)); /* bucket 3 of [3, 5]: in */
    ck_assert(!roda_twindow_add(&spec, w, 2 * S, 100.0));  /* bucket 2: past the window */
    ck_assert_uint_eq(((const roda_twindow_head_t *)w)->late, 1);
    roda_twindow_stats_t s = stats_at(&spec, w, 5 * S);
    ck_assert_uint_eq(s.count, 2);
    ck_assert_double_eq(s.max, 4.0);
    /* The earliest by time is the late one: slope (4 - 2) / (2 s - 1 ns). */
    ck_assert_double_eq_tol(s.slope, 2.0 / ((double)(2 * S - 1) / 1e9), 1e-9);
    /* Stats at an older time still show the newest window. */
    s = stats_at(&spec, w, 0);
    ck_assert_uint_eq(s.count, 2);
    free(w);
}
END_TEST

START_TEST(a_key_silent_longer_than_the_window_reads_as_empty)
{
    roda_twindow_spec_t spec = {.hop_ns = S, .buckets = 2, .sketch = 1};
    void *w = window_new(&spec);
    ck_assert(roda_twindow_add(&spec, w, 0, 3.0));
    ck_assert(roda_twindow_add(&spec, w, S, 5.0));
    ck_assert_uint_eq(stats_at(&spec, w, 2 * S).count, 1); /* bucket 0 gone */
    roda_twindow_stats_t s = stats_at(&spec, w, 3 * S);
    ck_assert_uint_eq(s.count, 0);
    ck_assert(isnan(s.mean) && isnan(s.min) && isnan(s.stddev) && isnan(s.quantiles[0]));
    /* Then a reading starts it again, alone, with a fresh sketch. */
    ck_assert(roda_twindow_add(&spec, w, 3 * S, 1000.0));
    s = stats_at(&spec, w, 3 * S);
    ck_assert_uint_eq(s.count, 1);
    ck_assert_double_eq_tol(s.quantiles[0], 1000.0, 10.0);
    free(w);
}
END_TEST

START_TEST(tumbling_window_starts_empty_at_each_boundary)
{
    roda_twindow_spec_t spec = {.hop_ns = 60 * S, .buckets = 1, .sketch = 0};
    void *w = window_new(&spec);
    ck_assert(roda_twindow_add(&spec, w, 0, 1.0));
    ck_assert(roda_twindow_add(&spec, w, 59 * S, 2.0));
    ck_assert_uint_eq(stats_at(&spec, w, 59 * S).count, 2);
    ck_assert(roda_twindow_add(&spec, w, 60 * S, 8.0));
    roda_twindow_stats_t s = stats_at(&spec, w, 60 * S);
    ck_assert_uint_eq(s.count, 1);
    ck_assert_double_eq(s.mean, 8.0);
    ck_assert(!roda_twindow_add(&spec, w, 59 * S, 2.0)); /* the previous window: late */
    free(w);
}
END_TEST

START_TEST(stddev_has_no_cancellation_far_from_zero)
{
    roda_twindow_spec_t spec = {.hop_ns = S, .buckets = 4, .sketch = 0};
    void *w = window_new(&spec);
    for (int i = 0; i < 4; i++)
        ck_assert(roda_twindow_add(&spec, w, (uint64_t)i * S, 1e9 + (i % 2 == 0 ? 1.0 : -1.0)));
    roda_twindow_stats_t s = stats_at(&spec, w, 3 * S);
    ck_assert_double_eq_tol(s.stddev, 1.0, 1e-6); /* sums of squares: off by ~1e2 */
    ck_assert_double_eq_tol(s.mean, 1e9, 1e-6);
    free(w);
}
END_TEST

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Feeds `n` values into a 10-bucket window (n / 10 per bucket) and checks each quantile against
 * the exact one at the same rank: within RODA_TWINDOW_ALPHA relative. */
static void check_quantiles(double *values, uint64_t n)
{
    roda_twindow_spec_t spec = {.hop_ns = S, .buckets = 10, .sketch = 1};
    void *w = window_new(&spec);
    for (uint64_t i = 0; i < n; i++)
        ck_assert(roda_twindow_add(&spec, w, i * 10 / n * S, values[i]));
    roda_twindow_stats_t s = stats_at(&spec, w, 9 * S);
    ck_assert_uint_eq(s.count, n);
    ck_assert_uint_eq(((const roda_twindow_head_t *)w)->unsketched, 0);
    qsort(values, n, sizeof *values, compare_doubles);
    for (int q = 0; q < RODA_TWINDOW_QUANTILES; q++) {
        double exact = values[(uint64_t)floor(roda_twindow_quantile_ranks[q] * (double)(n - 1))];
        double error = fabs(s.quantiles[q] - exact) / fabs(exact);
        ck_assert_msg(error <= RODA_TWINDOW_ALPHA + 1e-12, "q%d: %g vs exact %g (error %g)", q,
                      s.quantiles[q], exact, error);
    }
    free(w);
}

#define QUANTILE_VALUES 1000000u

START_TEST(quantiles_are_within_the_bound_on_random_values)
{
    double *values = malloc(QUANTILE_VALUES * sizeof *values);
    ck_assert_ptr_nonnull(values);
    srand48(16);
    /* Uniform over [1, 150): the whole range within the sketch's span. */
    for (uint64_t i = 0; i < QUANTILE_VALUES; i++)
        values[i] = 1.0 + drand48() * 149.0;
    check_quantiles(values, QUANTILE_VALUES);
    /* Log-normal: most values in a few keys, a long upper tail. */
    for (uint64_t i = 0; i < QUANTILE_VALUES; i++)
        values[i] = exp(3.0 + 0.5 * sqrt(-2.0 * log(1.0 - drand48())) * cos(6.283185 * drand48()));
    check_quantiles(values, QUANTILE_VALUES);
    free(values);
}
END_TEST

START_TEST(quantiles_are_within_the_bound_on_recorded_like_values)
{
    /* A temperature-like sensor: a daily swing, a slow drift, noise quantised to 0.01 degree,
     * and a spike now and then. */
    double *values = malloc(QUANTILE_VALUES * sizeof *values);
    ck_assert_ptr_nonnull(values);
    srand48(61);
    for (uint64_t i = 0; i < QUANTILE_VALUES; i++) {
        double t = (double)i / QUANTILE_VALUES;
        double v = 21.0 + 4.0 * sin(t * 6.283185 * 3) + 2.0 * t + (drand48() - 0.5);
        if (drand48() < 0.001)
            v += 60.0;
        values[i] = round(v * 100.0) / 100.0;
    }
    check_quantiles(values, QUANTILE_VALUES);
    free(values);
}
END_TEST

START_TEST(the_sketch_span_follows_the_values_up_and_down)
{
    roda_twindow_spec_t spec = {.hop_ns = S, .buckets = 2, .sketch = 1};
    void *w = window_new(&spec);
    /* 1000 twice (bucket 0), then 1 (bucket 1): 1000 / 1 is past the span, so 1 folds into the
     * lowest counter while 1000 is in the window (p50 and up stay exact)... */
    ck_assert(roda_twindow_add(&spec, w, 0, 1000.0));
    ck_assert(roda_twindow_add(&spec, w, 0, 1000.0));
    ck_assert(roda_twindow_add(&spec, w, S, 1.0));
    roda_twindow_stats_t s = stats_at(&spec, w, S);
    ck_assert_double_eq_tol(s.quantiles[0], 1000.0, 10.0);
    ck_assert_double_eq_tol(s.quantiles[3], 1000.0, 10.0);
    /* ...and once 1000 has left, the span moves down and 1 is exact again. */
    ck_assert(roda_twindow_add(&spec, w, 2 * S, 1.0));
    ck_assert(roda_twindow_add(&spec, w, 3 * S, 1.0));
    s = stats_at(&spec, w, 3 * S);
    ck_assert_double_eq_tol(s.quantiles[0], 1.0, 0.01);
    /* Negative values and zero have keys too, in order. */
    ck_assert_int_lt(roda_twindow_key(-2.0), roda_twindow_key(-1.0));
    ck_assert_int_lt(roda_twindow_key(-1e-3), roda_twindow_key(0.0));
    ck_assert_int_lt(roda_twindow_key(0.0), roda_twindow_key(1e-3));
    ck_assert_double_eq_tol(roda_twindow_key_value(roda_twindow_key(-5.0)), -5.0, 0.05);
    ck_assert_int_eq(roda_twindow_key(NAN), INT32_MIN);
    free(w);
}
END_TEST

/* ---- As a pipe component -------------------------------------------------------------------- */

typedef struct reading {
    uint64_t sensor;
    uint64_t time_ns;
    double value;
} reading_t;

static inline uint64_t reading_sensor(const reading_t *r)
{
    return r->sensor;
}
static inline double reading_value(const reading_t *r)
{
    return r->value;
}
static inline uint64_t reading_time(const reading_t *r)
{
    return r->time_ns;
}
static inline bool wide(const roda_twindow_stats_t *s)
{
    return s->count >= 3 && s->max - s->min > 10.0;
}

RODA_TIME_WINDOW(per_minute, reading_t, reading_sensor, reading_value, reading_time, 10 * S, 6, 1)
RODA_FILTER(only_wide, roda_twindow_stats_t, wide)
RODA_PIPE(spread, reading_t, per_minute, roda_twindow_stats_t, only_wide, roda_twindow_stats_t)

/* Checks a window's statistics at `now_ns` against those of the readings in it (those whose
 * bucket is within `buckets` of the newest bucket, `newest`), computed here from scratch. */
static void expect_scratch(const roda_twindow_spec_t *spec, const void *w, const uint64_t *times,
                           const double *values, size_t n, uint64_t newest, uint64_t now_ns)
{
    uint64_t hop = spec->hop_ns, b = spec->buckets;
    double count = 0, sum = 0, min = INFINITY, max = -INFINITY;
    uint64_t first_ns = UINT64_MAX, last_ns = 0;
    double first = 0, last = 0;
    for (size_t i = 0; i < n; i++) {
        if (times[i] / hop + b <= newest)
            continue;
        count++;
        sum += values[i];
        min = fmin(min, values[i]);
        max = fmax(max, values[i]);
        if (times[i] < first_ns) {
            first_ns = times[i];
            first = values[i];
        }
        if (times[i] >= last_ns) {
            last_ns = times[i];
            last = values[i];
        }
    }
    double mean = sum / count, m2 = 0;
    for (size_t i = 0; i < n; i++) {
        if (times[i] / hop + b > newest)
            m2 += (values[i] - mean) * (values[i] - mean);
    }
    roda_twindow_stats_t s = stats_at(spec, w, now_ns);
    ck_assert_uint_eq(s.count, (uint64_t)count);
    ck_assert_double_eq_tol(s.mean, mean, 1e-9 * fmax(1.0, fabs(mean)));
    ck_assert_double_eq_tol(s.stddev, sqrt(m2 / count), 1e-9 * fmax(1.0, sqrt(m2 / count)));
    ck_assert_double_eq(s.min, min);
    ck_assert_double_eq(s.max, max);
    if (last_ns > first_ns)
        ck_assert_double_eq_tol(s.slope, (last - first) / ((double)(last_ns - first_ns) / 1e9),
                                1e-9);
}

/* Moves a window over 2000 hops of random readings (some late within the window, some hops
 * skipped), checking it after each against the statistics of the readings in it, computed here
 * from scratch: the window's rest is updated as buckets come and go, and rebuilt now and then. */
START_TEST(a_long_random_walk_matches_the_window_computed_from_scratch)
{
    enum { HOPS = 2000, PER = 3, B = 5 };
    roda_twindow_spec_t spec = {.hop_ns = S, .buckets = B, .sketch = 0};
    void *w = window_new(&spec);
    static uint64_t times[HOPS * PER];
    static double values[HOPS * PER];
    size_t n = 0;
    uint64_t newest = 0;
    srand(11);
    for (uint64_t hop = 0; hop < HOPS; hop += 1 + (rand() % 10 == 0)) {
        for (int j = 0; j < PER; j++) {
            uint64_t t = hop * S + (uint64_t)(rand() % 1000) * (S / 1000);
            if (rand() % 8 == 0 && hop >= 2) /* late, within the window */
                t -= (uint64_t)(1 + rand() % 2) * S;
            double v = (double)(rand() % 2000) / 10.0 - 50.0;
            ck_assert(roda_twindow_add(&spec, w, t, v));
            times[n] = t;
            values[n++] = v;
            newest = t / S > newest ? t / S : newest;
            expect_scratch(&spec, w, times, values, n, newest, t > newest * S ? t : newest * S);
        }
    }
    free(w);
}
END_TEST

/* Values whose smallest, largest or both leave the window at every hop (a rising sawtooth, a
 * falling one, a swing that narrows; some hops skipped, some readings late within the window),
 * in windows of 1 to RODA_TWINDOW_MAX_BUCKETS buckets, each checked after every reading against
 * the window computed from scratch: the extreme queues follow every bucket that leaves. */
START_TEST(extremes_that_leave_at_every_hop_match_the_window_computed_from_scratch)
{
    enum { HOPS = 400, PER = 2 };
    static const uint32_t sizes[] = {1, 2, 3, 10, RODA_TWINDOW_MAX_BUCKETS};
    static uint64_t times[HOPS * PER];
    static double values[HOPS * PER];
    srand(29);
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        roda_twindow_spec_t spec = {.hop_ns = S, .buckets = sizes[z], .sketch = 0};
        for (int shape = 0; shape < 3; shape++) {
            void *w = window_new(&spec);
            size_t n = 0;
            uint64_t newest = 0;
            for (uint64_t hop = 0; hop < HOPS; hop += 1 + (rand() % 16 == 0)) {
                for (int j = 0; j < PER; j++) {
                    uint64_t t = hop * S + (uint64_t)j * (S / 4);
                    if (rand() % 12 == 0 && hop >= 1 && spec.buckets > 1) /* late, in the window */
                        t -= S;
                    uint64_t bucket = t / S; /* the values follow the bucket number */
                    double h = (double)bucket, swing = j % 2 == 0 ? 1.0 : -1.0;
                    double v = shape == 0   ? h * 10.0 + j
                               : shape == 1 ? -h * 10.0 - j
                                            : swing * (HOPS - h) * 10.0;
                    ck_assert(roda_twindow_add(&spec, w, t, v));
                    times[n] = t;
                    values[n++] = v;
                    newest = t / S > newest ? t / S : newest;
                    expect_scratch(&spec, w, times, values, n, newest, newest * S);
                }
            }
            free(w);
        }
    }
}
END_TEST

START_TEST(a_head_and_body_apart_and_a_mask_give_the_same_statistics)
{
    roda_twindow_spec_t spec = {.hop_ns = S, .buckets = 4, .sketch = 1};
    void *w = window_new(&spec);
    roda_twindow_head_t *head = calloc(1, sizeof *head);
    void *body = calloc(1, roda_twindow_body_size(&spec));
    ck_assert(head != NULL && body != NULL);
    /* In order, across hops, a late one within the window and one past it. */
    const uint64_t times[] = {0, S / 2, S, 3 * S, 3 * S + 1, 2 * S, 5 * S, 0};
    const double values[] = {1.0, 4.0, 2.0, 8.0, 5.0, 3.0, 7.0, 100.0};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
        ck_assert(roda_twindow_add(&spec, w, times[i], values[i]) ==
                  roda_twindow_put(&spec, head, body, times[i], values[i]));
    for (uint64_t now = 5 * S; now <= 9 * S; now += 2 * S) { /* at the newest, later, silent */
        roda_twindow_stats_t all = stats_at(&spec, w, now), apart, some;
        roda_twindow_stats_of(&spec, head, body, now, RODA_TWINDOW_ALL, &apart);
        ck_assert_mem_eq(&all, &apart, sizeof all);
        roda_twindow_stats_of(&spec, head, body, now, RODA_TWINDOW_MEAN | RODA_TWINDOW_MAX, &some);
        ck_assert_uint_eq(some.count, all.count);
        if (all.count == 0) {
            ck_assert(isnan(some.mean) && isnan(some.max));
            continue;
        }
        ck_assert_double_eq(some.mean, all.mean);
        ck_assert_double_eq(some.max, all.max);
        ck_assert(isnan(some.min) && isnan(some.stddev) && isnan(some.slope) &&
                  isnan(some.quantiles[0]) && isnan(some.quantiles[3]));
        /* Quantiles one by one: the scan stops at the lowest asked for. */
        roda_twindow_stats_of(&spec, head, body, now, RODA_TWINDOW_P90 | RODA_TWINDOW_P99, &some);
        ck_assert_double_eq(some.quantiles[1], all.quantiles[1]);
        ck_assert_double_eq(some.quantiles[3], all.quantiles[3]);
        ck_assert(isnan(some.quantiles[0]) && isnan(some.quantiles[2]) && isnan(some.mean));
    }
    ck_assert_uint_eq(head->late, 1);
    free(body);
    free(head);
    free(w);
}
END_TEST

START_TEST(time_window_composes_in_a_pipe_per_key)
{
    spread_t pipe;
    roda_pipe_config_t config = {.key_capacity = 2};
    ck_assert_int_eq(spread_init(&pipe, &config), RODA_SUCCESS);
    roda_twindow_stats_t out;
    const reading_t in[] = {{1, 0, 1.0},      {2, 0, 50.0},     {1, 5 * S, 2.0},
                            {2, 5 * S, 50.0}, {1, 9 * S, 30.0}, {3, 9 * S, 0.0}};
    ck_assert_int_eq(spread(&pipe, &in[0], &out), 0);
    ck_assert_int_eq(spread(&pipe, &in[1], &out), 0);
    ck_assert_int_eq(spread(&pipe, &in[2], &out), 0);
    ck_assert_int_eq(spread(&pipe, &in[3], &out), 0);
    ck_assert_int_eq(spread(&pipe, &in[4], &out), 1); /* sensor 1: 1, 2, 30 */
    ck_assert_uint_eq(out.key, 1);
    ck_assert_uint_eq(out.count, 3);
    ck_assert_double_eq_tol(out.quantiles[0], 2.0, 0.02);
    ck_assert_int_eq(spread(&pipe, &in[5], &out), 0); /* a third key past the capacity */
    ck_assert_uint_eq(pipe.per_minute.counters.refused, 1);
    ck_assert_uint_eq(pipe.per_minute.counters.out, 5);
    spread_destroy(&pipe);
}
END_TEST

Suite *twindow_suite(void)
{
    Suite *suite = suite_create("twindow");
    TCase *windows = tcase_create("windows");
    tcase_add_test(windows, sliding_window_covers_the_last_buckets_at_their_boundaries);
    tcase_add_test(windows, empty_buckets_inside_the_window_count_for_nothing);
    tcase_add_test(windows, late_readings_within_the_window_count_and_past_it_are_dropped);
    tcase_add_test(windows, a_key_silent_longer_than_the_window_reads_as_empty);
    tcase_add_test(windows, tumbling_window_starts_empty_at_each_boundary);
    tcase_add_test(windows, stddev_has_no_cancellation_far_from_zero);
    tcase_add_test(windows, a_long_random_walk_matches_the_window_computed_from_scratch);
    tcase_add_test(windows,
                   extremes_that_leave_at_every_hop_match_the_window_computed_from_scratch);
    tcase_add_test(windows, a_head_and_body_apart_and_a_mask_give_the_same_statistics);
    tcase_add_test(windows, time_window_composes_in_a_pipe_per_key);
    suite_add_tcase(suite, windows);
    TCase *sketch = tcase_create("sketch");
    tcase_set_timeout(sketch, 240); /* 4 x 1M values under TSan on a shared machine */
    tcase_add_test(sketch, quantiles_are_within_the_bound_on_random_values);
    tcase_add_test(sketch, quantiles_are_within_the_bound_on_recorded_like_values);
    tcase_add_test(sketch, the_sketch_span_follows_the_values_up_and_down);
    suite_add_tcase(suite, sketch);
    return suite;
}

int main(void)
{
    return roda_check_run(twindow_suite());
}
