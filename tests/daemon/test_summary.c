/* test_summary.c - per-sensor summary: count, last, running mean, EWMA, min, max, times; and its
 * JSON and Prometheus forms. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "roda_check.h"
#include "roda_json.h"
#include "roda_metrics.h"
#include "roda_summary.h"

static roda_reading_t reading(double value, int64_t t)
{
    roda_reading_t r;
    memset(&r, 0, sizeof r);
    r.sensor_id = 9;
    r.value = value;
    r.device_time_us = t;
    r.ingest_time_ns = (uint64_t)t * 1000;
    r.device = 3;
    r.quality = 1;
    r.input = 1;
    return r;
}

START_TEST(statistics)
{
    roda_summary_set_alpha(0.5);
    roda_summary_t s;
    roda_reading_t r = reading(10, 100);
    roda_summary_init(&s, &r);
    ck_assert_uint_eq(s.count, 1);
    ck_assert_double_eq(s.mean, 10);
    ck_assert_double_eq(s.ewma, 10);
    r = reading(20, 200);
    roda_summary_update(&s, &r);
    r = reading(0, 300);
    roda_summary_update(&s, &r);
    /* mean (10+20+0)/3 = 10; ewma 10 -> 15 -> 7.5; min 0, max 20. */
    ck_assert_uint_eq(s.count, 3);
    ck_assert_double_eq(s.last, 0);
    ck_assert_double_eq_tol(s.mean, 10, 1e-12);
    ck_assert_double_eq(s.ewma, 7.5);
    ck_assert_double_eq(s.min, 0);
    ck_assert_double_eq(s.max, 20);
    ck_assert_int_eq(s.device_time_us, 300);
    ck_assert_uint_eq(s.ingest_time_ns, 300000);
    ck_assert_uint_eq(s.sensor_id, 9);
    ck_assert_uint_eq(s.device, 3);
    ck_assert_uint_eq(s.input, 1);
    ck_assert(roda_summary_is_fresh(&s, 300000 + 10, 10));
    ck_assert(!roda_summary_is_fresh(&s, 300000 + 11, 10));
    ck_assert(roda_summary_is_fresh(&s, UINT64_MAX, 0));
    roda_summary_set_alpha(RODA_SUMMARY_DEFAULT_ALPHA);
}
END_TEST

START_TEST(extreme_values_keep_mean_and_ewma_finite)
{
    /* DBL_MAX then -DBL_MAX: v - mean overflows; the mean and EWMA must stay finite, for good. */
    const double values[] = {DBL_MAX, -DBL_MAX, DBL_MAX, -DBL_MAX, 1, -DBL_MAX, DBL_MAX, 0};
    for (int alpha = 0; alpha < 2; alpha++) {
        roda_summary_set_alpha(alpha == 0 ? RODA_SUMMARY_DEFAULT_ALPHA : 1.0);
        roda_summary_t s;
        roda_reading_t r = reading(values[0], 100);
        roda_summary_init(&s, &r);
        for (size_t i = 1; i < sizeof values / sizeof values[0]; i++) {
            r = reading(values[i], 100 + (int64_t)i);
            roda_summary_update(&s, &r);
            ck_assert_msg(isfinite(s.mean) && isfinite(s.ewma), "reading %zu: mean %g ewma %g", i,
                          s.mean, s.ewma);
        }
        ck_assert_double_eq(s.min, -DBL_MAX);
        ck_assert_double_eq(s.max, DBL_MAX);
    }
    roda_summary_set_alpha(RODA_SUMMARY_DEFAULT_ALPHA);
}
END_TEST

START_TEST(as_json_and_metrics)
{
    roda_summary_t s;
    roda_reading_t r = reading(1.5, 100);
    roda_summary_init(&s, &r);
    char buf[512];
    roda_json_t j;
    roda_json_init(&j, buf, sizeof buf);
    roda_json_object_begin(&j);
    roda_summary_json(&s, "pump-\"1\"", "temp", "udp", &j);
    roda_json_object_end(&j);
    ck_assert(roda_json_ok(&j));
    ck_assert_str_eq(buf, "{\"sensor\":9,\"device\":\"pump-\\\"1\\\"\",\"name\":\"temp\","
                          "\"device_index\":3,"
                          "\"count\":1,\"last\":1.5,\"mean\":1.5,\"ewma\":1.5,\"min\":1.5,"
                          "\"max\":1.5,\"device_time_us\":100,\"ingest_time_ns\":100000,"
                          "\"quality\":1,\"input\":\"udp\"}");
    roda_metrics_t m;
    ck_assert_int_eq(roda_metrics_init(&m, 4096), RODA_SUCCESS);
    roda_metrics_reset(&m);
    roda_summary_metrics_family(&m, 1);
    roda_summary_metrics(&s, "pump-1", "temp", &m);
    roda_summary_metrics(&s, "pump-2", NULL, &m); /* past the 1-series cap */
    m.buf[m.len] = '\0';
    ck_assert_str_eq(
        m.buf,
        "# HELP roda_sensor_value Latest per-sensor summary values (stat: last, "
        "mean, ewma).\n# TYPE roda_sensor_value gauge\n"
        "roda_sensor_value{device=\"pump-1\",sensor=\"9\",stat=\"last\",name=\"temp\"} 1.5\n"
        "roda_sensor_value{device=\"pump-1\",sensor=\"9\",stat=\"mean\",name=\"temp\"} 1.5\n"
        "roda_sensor_value{device=\"pump-1\",sensor=\"9\",stat=\"ewma\",name=\"temp\"} 1.5\n");
    ck_assert_uint_eq(m.omitted_series_limit, 3);
    roda_metrics_destroy(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("summary");
    TCase *tc = tcase_create("summary");
    tcase_add_test(tc, statistics);
    tcase_add_test(tc, extreme_values_keep_mean_and_ewma_finite);
    tcase_add_test(tc, as_json_and_metrics);
    suite_add_tcase(s, tc);
    return roda_check_run(s);
}
