/* test_json.c - the bounded JSON writer: nesting and commas, escaping, numbers, overflow; and the
 * alert record as JSON. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "roda_check.h"
#include "roda_alert_cursor.h"
#include "roda_json.h"
#include "roda_rules.h"

START_TEST(nesting_and_commas)
{
    char buf[256];
    roda_json_t j;
    roda_json_init(&j, buf, sizeof buf);
    roda_json_object_begin(&j);
    roda_json_key(&j, "a");
    roda_json_u64(&j, 1);
    roda_json_key(&j, "b");
    roda_json_array_begin(&j);
    roda_json_i64(&j, -2);
    roda_json_bool(&j, true);
    roda_json_null(&j);
    roda_json_object_begin(&j);
    roda_json_object_end(&j);
    roda_json_array_end(&j);
    roda_json_key(&j, "c");
    roda_json_double(&j, 0.1);
    roda_json_key(&j, "d");
    roda_json_double(&j, NAN);
    roda_json_key(&j, "e");
    roda_json_double(&j, 1e300);
    roda_json_object_end(&j);
    ck_assert(roda_json_ok(&j));
    ck_assert_str_eq(buf, "{\"a\":1,\"b\":[-2,true,null,{}],\"c\":0.1,\"d\":null,\"e\":1e+300}");
}
END_TEST

START_TEST(escaping)
{
    char buf[256];
    roda_json_t j;
    roda_json_init(&j, buf, sizeof buf);
    roda_json_string(&j, "q\"b\\n\nt\tc\x01 é");
    ck_assert(roda_json_ok(&j));
    ck_assert_str_eq(buf, "\"q\\\"b\\\\n\\nt\\tc\\u0001 é\"");
}
END_TEST

START_TEST(overflow_is_reported)
{
    char buf[8];
    roda_json_t j;
    roda_json_init(&j, buf, sizeof buf);
    roda_json_string(&j, "0123456789");
    ck_assert(!roda_json_ok(&j));
    ck_assert_uint_lt(strlen(buf), sizeof buf);
    roda_json_init(&j, buf, sizeof buf);
    roda_json_object_begin(&j);
    ck_assert(!roda_json_ok(&j)); /* not closed */
    roda_json_array_end(&j);
    roda_json_array_end(&j); /* one too many */
    ck_assert(!roda_json_ok(&j));
    char deep[128];
    roda_json_init(&j, deep, sizeof deep);
    for (int i = 0; i <= RODA_JSON_MAX_DEPTH; i++)
        roda_json_array_begin(&j);
    ck_assert(j.overflow);
}
END_TEST

START_TEST(alert_as_json)
{
    roda_alert_t a;
    memset(&a, 0, sizeof a);
    a.sensor_id = 42;
    a.value = 91.5;
    a.previous = 80;
    a.threshold = 90;
    a.device_time_us = 1700000000000000;
    a.ingest_time_ns = 123;
    a.suppressed = 2;
    a.kind = RODA_RULE_ABOVE;
    a.severity = RODA_SEVERITY_CRITICAL;
    a.state = RODA_ALERT_FIRING;
    char buf[1024];
    roda_json_t j;
    roda_json_init(&j, buf, sizeof buf);
    roda_alert_json(&a, 7, "over\"heat", "boiler-1", "temp", &j);
    ck_assert(roda_json_ok(&j));
    ck_assert_str_eq(
        buf, "{\"id\":7,\"rule\":\"over\\\"heat\",\"kind\":\"above\","
             "\"severity\":\"critical\",\"state\":\"firing\",\"sensor\":42,"
             "\"device\":\"boiler-1\",\"sensor_name\":\"temp\",\"value\":91.5,\"previous\":80,"
             "\"threshold\":90,\"suppressed\":2,"
             "\"device_time_us\":1700000000000000,\"ingest_time_ns\":123}");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, nesting_and_commas);
    tcase_add_test(tc, escaping);
    tcase_add_test(tc, overflow_is_reported);
    tcase_add_test(tc, alert_as_json);
    suite_add_tcase(s, tc);
    return roda_check_run(s);
}
