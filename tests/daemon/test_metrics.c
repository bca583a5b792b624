/* test_metrics.c - Prometheus text exposition: HELP/TYPE, labels and escaping, histogram, series
 * cap, a full buffer and invalid names reported, never cut lines. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "roda_check.h"
#include "roda_metrics.h"

static roda_metrics_t m;

static void setup(void)
{
    ck_assert_int_eq(roda_metrics_init(&m, 64 * 1024), RODA_SUCCESS);
    roda_metrics_reset(&m);
}

static void teardown(void)
{
    roda_metrics_destroy(&m);
}

static const char *text(void)
{
    m.buf[m.len] = '\0';
    return m.buf;
}

START_TEST(counter_and_gauge_with_labels)
{
    roda_metrics_family(&m, "roda_ingest_readings_total", RODA_METRIC_COUNTER,
                        "Readings accepted.");
    roda_metrics_label_t l[] = {{"input", "udp"}, {"result", "ok"}};
    roda_metrics_u64(&m, l, 2, 18446744073709551615ull);
    roda_metrics_family(&m, "roda_lag", RODA_METRIC_GAUGE, "Lag.");
    roda_metrics_double(&m, NULL, 0, 0.5);
    roda_metrics_double(&m, NULL, 0, 0.1);
    ck_assert_str_eq(text(),
                     "# HELP roda_ingest_readings_total Readings accepted.\n"
                     "# TYPE roda_ingest_readings_total counter\n"
                     "roda_ingest_readings_total{input=\"udp\",result=\"ok\"} "
                     "18446744073709551615\n"
                     "# HELP roda_lag Lag.\n# TYPE roda_lag gauge\nroda_lag 0.5\nroda_lag 0.1\n");
}
END_TEST

START_TEST(escaping_and_special_values)
{
    roda_metrics_family(&m, "g", RODA_METRIC_GAUGE, "Back\\slash and\nnewline \"kept\".");
    roda_metrics_label_t l = {"device", "a\"b\\c\nd"};
    roda_metrics_double(&m, &l, 1, INFINITY);
    roda_metrics_double(&m, &l, 1, -INFINITY);
    roda_metrics_double(&m, &l, 1, NAN);
    ck_assert_str_eq(text(), "# HELP g Back\\\\slash and\\nnewline \"kept\".\n# TYPE g gauge\n"
                             "g{device=\"a\\\"b\\\\c\\nd\"} +Inf\n"
                             "g{device=\"a\\\"b\\\\c\\nd\"} -Inf\n"
                             "g{device=\"a\\\"b\\\\c\\nd\"} NaN\n");
}
END_TEST

START_TEST(histogram_cumulative)
{
    roda_histogram_t h;
    double bounds[] = {0.001, 0.01, 0.1};
    ck_assert_int_eq(roda_histogram_init(&h, bounds, 3), RODA_SUCCESS);
    roda_histogram_observe(&h, 0.0005);
    roda_histogram_observe(&h, 0.001); /* le is inclusive */
    roda_histogram_observe(&h, 0.05);
    roda_histogram_observe(&h, 2.0);
    roda_metrics_family(&m, "lat_seconds", RODA_METRIC_HISTOGRAM, "Latency.");
    roda_metrics_label_t l = {"stage", "rules"};
    roda_metrics_histogram(&m, &l, 1, &h);
    ck_assert_str_eq(text(), "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n"
                             "lat_seconds_bucket{stage=\"rules\",le=\"0.001\"} 2\n"
                             "lat_seconds_bucket{stage=\"rules\",le=\"0.01\"} 2\n"
                             "lat_seconds_bucket{stage=\"rules\",le=\"0.1\"} 3\n"
                             "lat_seconds_bucket{stage=\"rules\",le=\"+Inf\"} 4\n"
                             "lat_seconds_sum{stage=\"rules\"} 2.0515\n"
                             "lat_seconds_count{stage=\"rules\"} 4\n");
    double bad[] = {1, 1};
    ck_assert_int_eq(roda_histogram_init(&h, bad, 2), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_histogram_init(&h, bounds, 0), RODA_ERROR_INVALID_ARG);
}
END_TEST

START_TEST(capped_family_counts_the_rest)
{
    roda_metrics_family_capped(&m, "roda_sensor_value", RODA_METRIC_GAUGE, "Per sensor.", 2);
    for (int i = 0; i < 5; i++)
        roda_metrics_double(&m, NULL, 0, i);
    roda_metrics_family(&m, "after", RODA_METRIC_GAUGE, "Uncapped.");
    for (int i = 0; i < 3; i++)
        roda_metrics_double(&m, NULL, 0, i);
    roda_metrics_finish(&m);
    ck_assert_ptr_nonnull(strstr(text(), "roda_sensor_value 0\nroda_sensor_value 1\n# HELP after"));
    ck_assert_ptr_nonnull(strstr(text(), "after 2\n"));
    ck_assert_ptr_nonnull(
        strstr(text(), "roda_metrics_omitted_samples{reason=\"series_limit\"} 3\n"));
    ck_assert_ptr_nonnull(
        strstr(text(), "roda_metrics_omitted_samples{reason=\"buffer_full\"} 0\n"));
}
END_TEST

START_TEST(full_buffer_keeps_whole_lines_and_reports)
{
    roda_metrics_t small;
    ck_assert_int_eq(roda_metrics_init(&small, 1024), RODA_SUCCESS);
    roda_metrics_reset(&small);
    roda_metrics_family(&small, "many", RODA_METRIC_GAUGE, "Many.");
    for (int i = 0; i < 200; i++)
        roda_metrics_double(&small, NULL, 0, 123456.0 + i);
    roda_metrics_finish(&small);
    small.buf[small.len] = '\0';
    ck_assert_uint_le(small.len, 1024 + 512);
    /* Every line is complete and the omitted count is there. */
    ck_assert_int_eq(small.buf[small.len - 1], '\n');
    ck_assert_ptr_nonnull(
        strstr(small.buf, "roda_metrics_omitted_samples{reason=\"buffer_full\"} "));
    const char *p = strstr(small.buf, "reason=\"buffer_full\"} ");
    ck_assert_int_gt(atoi(p + strlen("reason=\"buffer_full\"} ")), 100);
    roda_metrics_destroy(&small);
    ck_assert_int_eq(roda_metrics_init(&small, 10), RODA_ERROR_INVALID_ARG);
}
END_TEST

START_TEST(invalid_name_skips_family)
{
    roda_metrics_family(&m, "9bad-name", RODA_METRIC_GAUGE, "Bad.");
    roda_metrics_double(&m, NULL, 0, 1);
    roda_metrics_finish(&m);
    ck_assert_ptr_null(strstr(text(), "9bad"));
    ck_assert_ptr_nonnull(
        strstr(text(), "roda_metrics_omitted_samples{reason=\"invalid_name\"} 1\n"));
}
END_TEST

START_TEST(reset_starts_over)
{
    roda_metrics_family(&m, "a", RODA_METRIC_GAUGE, "A.");
    roda_metrics_double(&m, NULL, 0, 1);
    roda_metrics_reset(&m);
    ck_assert_uint_eq(m.len, 0);
    ck_assert_uint_eq(roda_metrics_buffer_size(10, 0), RODA_METRICS_BASE_BYTES + 10 * 640);
    ck_assert_uint_eq(roda_metrics_buffer_size(10, 40),
                      RODA_METRICS_BASE_BYTES + 10 * 640 + 40 * 256);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, counter_and_gauge_with_labels);
    tcase_add_test(tc, escaping_and_special_values);
    tcase_add_test(tc, histogram_cumulative);
    tcase_add_test(tc, capped_family_counts_the_rest);
    tcase_add_test(tc, full_buffer_keeps_whole_lines_and_reports);
    tcase_add_test(tc, invalid_name_skips_family);
    tcase_add_test(tc, reset_starts_over);
    suite_add_tcase(s, tc);
    return roda_check_run(s);
}
