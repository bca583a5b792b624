/* test_rules_device.c - rules over a device's sensors (kind device) against hand-made sequences:
 * every term must hold on the newest values, per device, hysteresis, hold-off, eviction, scope,
 * reload, snapshot, bounds and validation. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roda_check.h"
#include "roda_rules.h"

#define SENSORS 16
#define DEVICES 4
#define S 1000000000ull /* one second in ns */

static roda_alert_t out[RODA_RULES_MAX];

/* Devices 0, 1: boilers; 2: a pump; 3: no name. */
static const char *device_name(void *context, uint32_t device)
{
    (void)context;
    static const char *const names[] = {"boiler-0", "boiler-1", "pump-1"};
    return device < 3 ? names[device] : NULL;
}

/* Sensor ids 10 + 4k are named temperature, 11 + 4k fan_speed, 12 + 4k humidity; 13 + 4k none. */
static const char *sensor_name(void *context, uint64_t sensor_id)
{
    (void)context;
    static const char *const names[] = {"temperature", "fan_speed", "humidity", NULL};
    return sensor_id >= 10 ? names[(sensor_id - 10) % 4] : NULL;
}

/* A device rule over `when`: "NAME above|below NUMBER" terms, a word each. */
static roda_rule_t device_rule(const char *name, int terms, const char *const *sensors,
                               const char *const *directions, const double *thresholds)
{
    roda_rule_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.kind = RODA_RULE_DEVICE;
    r.severity = RODA_SEVERITY_CRITICAL;
    r.term_count = (uint32_t)terms;
    for (int t = 0; t < terms; t++) {
        snprintf(r.terms[t].sensor, sizeof r.terms[t].sensor, "%s", sensors[t]);
        r.terms[t].below = strcmp(directions[t], "below") == 0;
        r.terms[t].threshold = thresholds[t];
    }
    return r;
}

/* temperature above 80 and fan_speed below 100. */
static roda_rule_t hot_slow(void)
{
    static const char *const sensors[] = {"temperature", "fan_speed"};
    static const char *const directions[] = {"above", "below"};
    static const double thresholds[] = {80, 100};
    return device_rule("hot-slow", 2, sensors, directions, thresholds);
}

static roda_rules_t *make(const roda_rule_t *rules, uint32_t count)
{
    roda_rules_t *r = NULL;
    ck_assert_int_eq(
        roda_rules_create(rules, count, 8, SENSORS, DEVICES, device_name, sensor_name, NULL, &r),
        RODA_SUCCESS);
    return r;
}

/* One summary of sensor `id` (index id - 10) on `device` with `value` at second `t`; returns the
 * alerts as 'F' (firing), 'R' (resolved) or '.' (none). */
static char feed(roda_rules_t *r, uint64_t id, uint32_t device, double value, double t)
{
    roda_summary_t s;
    memset(&s, 0, sizeof s);
    s.sensor_id = id;
    s.count = 1;
    s.last = s.mean = s.ewma = s.min = s.max = value;
    s.device_time_us = (int64_t)(t * 1e6);
    s.ingest_time_ns = (uint64_t)(t * 1e9);
    s.device = device;
    uint32_t n = roda_rules_evaluate(r, (uint32_t)(id - 10), &s, NULL, out, RODA_RULES_MAX);
    ck_assert_uint_le(n, 1);
    return n == 0 ? '.' : out[0].state == RODA_ALERT_FIRING ? 'F' : 'R';
}

START_TEST(fires_only_when_every_term_holds)
{
    roda_rule_t def = hot_slow();
    roda_rules_t *r = make(&def, 1);
    /* Device 1: temperature (10) and fan_speed (11). */
    ck_assert_int_eq(feed(r, 10, 1, 85, 1), '.');  /* fan unknown */
    ck_assert_int_eq(feed(r, 11, 1, 120, 2), '.'); /* the fan term does not hold */
    ck_assert_int_eq(feed(r, 11, 1, 90, 3), 'F');  /* both hold: the fan's reading fires */
    ck_assert_uint_eq(out[0].sensor_id, 11);
    ck_assert_double_eq(out[0].value, 90);
    ck_assert_double_eq(out[0].threshold, 100); /* the updating sensor's term */
    ck_assert_uint_eq(out[0].device, 1);
    ck_assert_uint_eq(out[0].kind, RODA_RULE_DEVICE);
    ck_assert_uint_eq(out[0].severity, RODA_SEVERITY_CRITICAL);
    ck_assert_uint_eq(out[0].ingest_time_ns, 3 * S);
    ck_assert_int_eq(feed(r, 10, 1, 95, 4), '.'); /* still firing */
    ck_assert_int_eq(feed(r, 12, 1, 0, 5), '.');  /* humidity is not a term */
    ck_assert_int_eq(feed(r, 13, 1, 0, 5), '.');  /* an unnamed sensor neither */
    ck_assert_int_eq(feed(r, 10, 1, 80, 6), 'R'); /* 80 is not above 80 */
    ck_assert_uint_eq(out[0].sensor_id, 10);
    ck_assert_double_eq(out[0].value, 80);
    ck_assert_double_eq(out[0].threshold, 80);
    roda_rule_stats_t st;
    ck_assert_int_eq(roda_rules_snapshot(r, 0, NULL, &st), RODA_SUCCESS);
    ck_assert_uint_eq(st.fired, 1);
    ck_assert_uint_eq(st.resolved, 1);
    ck_assert_uint_eq(st.active, 0);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(each_device_has_its_own_values)
{
    roda_rule_t def = hot_slow();
    roda_rules_t *r = make(&def, 1);
    /* Device 0's temperature (10) and device 1's fan (15): no device has both. */
    ck_assert_int_eq(feed(r, 10, 0, 85, 1), '.');
    ck_assert_int_eq(feed(r, 15, 1, 50, 2), '.');
    ck_assert_int_eq(feed(r, 14, 1, 85, 3), 'F'); /* device 1's temperature completes it */
    ck_assert_uint_eq(out[0].device, 1);
    ck_assert_int_eq(feed(r, 11, 0, 50, 4), 'F'); /* and device 0's fan completes device 0 */
    ck_assert_uint_eq(out[0].device, 0);
    roda_rule_stats_t st;
    ck_assert_int_eq(roda_rules_snapshot(r, 0, NULL, &st), RODA_SUCCESS);
    ck_assert_uint_eq(st.active, 2);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(device_glob_scopes_the_rule)
{
    roda_rule_t def = hot_slow();
    snprintf(def.device_glob, sizeof def.device_glob, "boiler-*");
    roda_rules_t *r = make(&def, 1);
    ck_assert_int_eq(feed(r, 10, 2, 85, 1), '.'); /* pump-1: out of scope */
    ck_assert_int_eq(feed(r, 11, 2, 50, 2), '.');
    ck_assert_int_eq(feed(r, 14, 3, 85, 3), '.'); /* a device without a name too */
    ck_assert_int_eq(feed(r, 15, 3, 50, 4), '.');
    ck_assert_int_eq(feed(r, 18, 0, 85, 5), '.');
    ck_assert_int_eq(feed(r, 19, 0, 50, 6), 'F'); /* boiler-0 */
    roda_rules_destroy(r);
}
END_TEST

START_TEST(hysteresis_applies_per_term_toward_resolving)
{
    roda_rule_t def = hot_slow();
    def.hysteresis = 2;
    roda_rules_t *r = make(&def, 1);
    ck_assert_int_eq(feed(r, 10, 1, 85, 1), '.');
    ck_assert_int_eq(feed(r, 11, 1, 90, 2), 'F');
    ck_assert_int_eq(feed(r, 10, 1, 79, 3), '.');  /* inside the band: still firing */
    ck_assert_int_eq(feed(r, 11, 1, 101, 4), '.'); /* the fan inside its band too */
    ck_assert_int_eq(feed(r, 11, 1, 102, 5), 'R'); /* 102 >= 100 + 2 */
    ck_assert_int_eq(feed(r, 11, 1, 99, 6), '.');  /* temperature 79 does not hold */
    ck_assert_int_eq(feed(r, 10, 1, 78, 7), '.');
    ck_assert_int_eq(feed(r, 10, 1, 81, 8), 'F');
    ck_assert_int_eq(feed(r, 10, 1, 78, 9), 'R'); /* 78 <= 80 - 2 */
    roda_rules_destroy(r);
}
END_TEST

START_TEST(one_sensor_may_feed_two_terms)
{
    /* A range: 80 < temperature < 90, both terms fed by the same sensor. */
    static const char *const sensors[] = {"temperature", "temperature"};
    static const char *const directions[] = {"above", "below"};
    static const double thresholds[] = {80, 90};
    roda_rule_t def = device_rule("band", 2, sensors, directions, thresholds);
    roda_rules_t *r = make(&def, 1);
    ck_assert_int_eq(feed(r, 10, 1, 75, 1), '.');
    ck_assert_int_eq(feed(r, 10, 1, 85, 2), 'F');
    ck_assert_double_eq(out[0].threshold, 80); /* the first term the sensor feeds */
    ck_assert_int_eq(feed(r, 10, 1, 95, 3), 'R');
    roda_rules_destroy(r);
}
END_TEST

START_TEST(holdoff_suppresses_then_reports_the_count)
{
    roda_rule_t def = hot_slow();
    def.holdoff_ns = 10 * S;
    roda_rules_t *r = make(&def, 1);
    ck_assert_int_eq(feed(r, 10, 1, 85, 1), '.');
    ck_assert_int_eq(feed(r, 11, 1, 90, 2), 'F');
    ck_assert_int_eq(feed(r, 10, 1, 70, 3), 'R');
    ck_assert_int_eq(feed(r, 10, 1, 85, 4), '.'); /* within the hold-off: suppressed */
    roda_rule_stats_t st;
    ck_assert_int_eq(roda_rules_snapshot(r, 0, NULL, &st), RODA_SUCCESS);
    ck_assert_uint_eq(st.suppressed, 1);
    ck_assert_int_eq(feed(r, 11, 1, 90, 11), '.'); /* 9 s after the firing: still held */
    ck_assert_int_eq(feed(r, 11, 1, 91, 12), 'F'); /* past it: fires with the count */
    ck_assert_uint_eq(out[0].suppressed, 1);
    roda_rules_destroy(r);
}
END_TEST

START_TEST(an_evicted_sensor_is_forgotten_and_resolves_the_device)
{
    roda_rule_t def = hot_slow();
    roda_rules_t *r = make(&def, 1);
    ck_assert_int_eq(feed(r, 10, 1, 85, 1), '.');
    ck_assert_int_eq(feed(r, 11, 1, 90, 2), 'F');
    /* The fan (index 1) is evicted: its value goes, the device's alert resolves. */
    ck_assert_uint_eq(roda_rules_evict(r, 1, 100 * S, out, RODA_RULES_MAX), 1);
    ck_assert_uint_eq(out[0].state, RODA_ALERT_RESOLVED);
    ck_assert_uint_eq(out[0].sensor_id, 11);
    ck_assert_double_eq(out[0].value, 90);
    ck_assert_uint_eq(out[0].ingest_time_ns, 2 * S); /* the fan's last reading */
    roda_rule_stats_t st;
    ck_assert_int_eq(roda_rules_snapshot(r, 0, NULL, &st), RODA_SUCCESS);
    ck_assert_uint_eq(st.active, 0);
    ck_assert_int_eq(feed(r, 10, 1, 86, 101), '.'); /* the fan's value is unknown now */
    ck_assert_int_eq(feed(r, 11, 1, 90, 102), 'F'); /* back: fires again */
    /* Evicting a sensor of a device that is not firing emits nothing; nor does the evicted
     * temperature's value linger. */
    ck_assert_int_eq(feed(r, 10, 1, 70, 103), 'R');
    ck_assert_uint_eq(roda_rules_evict(r, 0, 200 * S, out, RODA_RULES_MAX), 0);
    ck_assert_int_eq(feed(r, 11, 1, 80, 201), '.');
    roda_rules_destroy(r);
}
END_TEST

START_TEST(reload_keeps_a_device_rule_with_the_same_terms)
{
    roda_rule_t def = hot_slow();
    roda_rules_t *r = make(&def, 1);
    ck_assert_int_eq(feed(r, 10, 1, 85, 1), '.');
    ck_assert_int_eq(feed(r, 11, 1, 90, 2), 'F');
    /* Same name and sensors, other thresholds: the values and the firing state stay. */
    roda_rule_t next = hot_slow();
    next.terms[0].threshold = 84;
    uint64_t dropped = 9;
    ck_assert_int_eq(roda_rules_reload(r, &next, 1, &dropped), RODA_SUCCESS);
    ck_assert_uint_eq(dropped, 0);
    ck_assert_int_eq(feed(r, 11, 1, 91, 3), '.');
    ck_assert_int_eq(feed(r, 10, 1, 84, 4), 'R'); /* the new threshold */
    ck_assert_int_eq(feed(r, 10, 1, 85, 5), 'F');
    /* More device rules than at create: refused, nothing changes. */
    roda_rule_t two[2] = {hot_slow(), hot_slow()};
    snprintf(two[1].name, sizeof two[1].name, "second");
    ck_assert_int_eq(roda_rules_reload(r, two, 2, NULL), RODA_ERROR_INVALID_ARG);
    ck_assert_uint_eq(roda_rules_count(r), 1);
    /* Replaced by another device rule: the firing one is dropped, the new one starts empty. */
    roda_rule_t other = hot_slow();
    snprintf(other.name, sizeof other.name, "other");
    ck_assert_int_eq(roda_rules_reload(r, &other, 1, &dropped), RODA_SUCCESS);
    ck_assert_uint_eq(dropped, 1);
    ck_assert_int_eq(feed(r, 10, 1, 86, 6), '.'); /* the fan's value went with the old rule */
    ck_assert_int_eq(feed(r, 11, 1, 90, 7), 'F');
    ck_assert_str_eq(roda_rules_get(r, out[0].rule)->name, "other");
    roda_rules_destroy(r);
}
END_TEST

/* A snapshot in memory: blob() appends (or, loading, reads back) each piece. */
typedef struct image {
    unsigned char bytes[1 << 16];
    size_t used;
    int loading;
} image_t;

static void blob(void *context, void *data, size_t size)
{
    image_t *image = context;
    ck_assert_uint_le(image->used + size, sizeof image->bytes);
    if (image->loading)
        memcpy(data, image->bytes + image->used, size);
    else
        memcpy(image->bytes + image->used, data, size);
    image->used += size;
}

START_TEST(a_snapshot_keeps_values_and_state)
{
    roda_rule_t def = hot_slow();
    roda_rules_t *r = make(&def, 1);
    ck_assert_int_eq(feed(r, 10, 1, 85, 1), '.');
    ck_assert_int_eq(feed(r, 11, 1, 90, 2), 'F');
    ck_assert_int_eq(feed(r, 14, 2, 85, 3), '.');
    static image_t image;
    memset(&image, 0, sizeof image);
    roda_rules_visit(r, blob, &image);
    roda_rules_destroy(r);
    r = make(&def, 1);
    image.used = 0;
    image.loading = 1;
    roda_rules_visit(r, blob, &image);
    ck_assert_int_eq(feed(r, 11, 1, 91, 4), '.'); /* still firing */
    ck_assert_int_eq(feed(r, 15, 2, 50, 5), 'F'); /* device 2's temperature was kept */
    ck_assert_int_eq(feed(r, 10, 1, 70, 6), 'R');
    roda_rules_destroy(r);
}
END_TEST

START_TEST(bounds_and_memory)
{
    roda_rule_t def = hot_slow();
    roda_rules_t *r = make(&def, 1);
    ck_assert_int_eq(feed(r, 10, DEVICES, 85, 1), '.'); /* a device index past max_devices */
    ck_assert_uint_eq(roda_rules_bad_index(r), 1);
    roda_rules_destroy(r);
    ck_assert_uint_eq(roda_rules_device_memory(&def, 1, 1000), 1000 * 48);
    ck_assert_uint_eq(roda_rules_memory(&def, 1, 8, SENSORS, 1000),
                      roda_rules_memory(NULL, 0, 8, SENSORS, 1000) + 1000 * 48);
    ck_assert_uint_eq(roda_rules_device_memory(NULL, 0, 1000), 0);
    roda_rules_t *set = NULL;
    ck_assert_int_eq(roda_rules_create(&def, 1, 8, SENSORS, 0, NULL, NULL, NULL, &set),
                     RODA_ERROR_INVALID_ARG);
    ck_assert_ptr_null(set);
}
END_TEST

START_TEST(validation)
{
    const char *why;
    roda_rule_t r = hot_slow();
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_SUCCESS);
    r.term_count = 1;
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(why, "2 to 4 terms"));
    r.term_count = RODA_RULE_MAX_TERMS + 1;
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    r = hot_slow();
    r.terms[1].sensor[0] = '\0';
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    r = hot_slow();
    r.terms[0].threshold = NAN;
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    r = hot_slow();
    r.sensor_count = 1;
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    r = hot_slow();
    snprintf(r.name_glob, sizeof r.name_glob, "t*");
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    r = hot_slow();
    r.value = RODA_RULE_VALUE_MEAN;
    r.window_ns = 60 * S;
    r.hop_ns = 10 * S;
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(why, "window"));
    r = hot_slow();
    r.kind = RODA_RULE_ABOVE; /* terms on another kind */
    ck_assert_int_eq(roda_rule_validate(&r, &why), RODA_ERROR_INVALID_ARG);
    ck_assert_str_eq(roda_rule_kind_name(RODA_RULE_DEVICE), "device");
    roda_rule_kind_t kind;
    ck_assert_int_eq(roda_rule_kind_from_name("device", &kind), RODA_SUCCESS);
    ck_assert_int_eq(kind, RODA_RULE_DEVICE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rules_device");
    TCase *tc = tcase_create("rules_device");
    tcase_add_test(tc, fires_only_when_every_term_holds);
    tcase_add_test(tc, each_device_has_its_own_values);
    tcase_add_test(tc, device_glob_scopes_the_rule);
    tcase_add_test(tc, hysteresis_applies_per_term_toward_resolving);
    tcase_add_test(tc, one_sensor_may_feed_two_terms);
    tcase_add_test(tc, holdoff_suppresses_then_reports_the_count);
    tcase_add_test(tc, an_evicted_sensor_is_forgotten_and_resolves_the_device);
    tcase_add_test(tc, reload_keeps_a_device_rule_with_the_same_terms);
    tcase_add_test(tc, a_snapshot_keeps_values_and_state);
    tcase_add_test(tc, bounds_and_memory);
    tcase_add_test(tc, validation);
    suite_add_tcase(s, tc);
    return roda_check_run(s);
}
