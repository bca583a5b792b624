/* test_devices.c - the device registry: interning, bounds, name checks, and the sequence
 * verdicts that drive lost/duplicate counting. Also the MQTT topic pattern. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "roda_check.h"
#include "roda_devices.h"
#include "roda_input_mqtt.h"

START_TEST(interning_is_stable_and_bounded)
{
    roda_devices_t *devices;
    ck_assert_int_eq(roda_devices_create(0, &devices), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_devices_create(3, &devices), RODA_SUCCESS);
    uint32_t a, b, again;
    ck_assert_int_eq(roda_devices_intern(devices, "alpha", 5, &a), RODA_SUCCESS);
    ck_assert_int_eq(roda_devices_intern(devices, "beta-longer", 4, &b), RODA_SUCCESS);
    ck_assert_uint_ne(a, b);
    ck_assert_int_eq(roda_devices_intern(devices, "alpha", 5, &again), RODA_SUCCESS);
    ck_assert_uint_eq(again, a);
    ck_assert_int_eq(roda_devices_intern(devices, "alph", 4, &again), RODA_SUCCESS);
    ck_assert_uint_ne(again, a);
    ck_assert_str_eq(roda_devices_name(devices, b), "beta");
    ck_assert_uint_eq(roda_devices_count(devices), 3);
    ck_assert_int_eq(roda_devices_intern(devices, "gamma", 5, &again), RODA_ERROR_TOO_MANY);
    ck_assert_int_eq(roda_devices_intern(devices, "beta", 4, &again), RODA_SUCCESS);
    ck_assert_uint_eq(again, b);
    ck_assert_ptr_null(roda_devices_name(devices, 3));
    roda_devices_destroy(devices);
}
END_TEST

START_TEST(names_must_be_label_safe)
{
    ck_assert(roda_devices_name_valid("sensor-01.site_a", 16));
    ck_assert(!roda_devices_name_valid("", 0));
    ck_assert(!roda_devices_name_valid("a b", 3));
    ck_assert(!roda_devices_name_valid("a\"b", 3));
    ck_assert(!roda_devices_name_valid("a\\b", 3));
    ck_assert(!roda_devices_name_valid("a\nb", 3));
    ck_assert(!roda_devices_name_valid("\xc3\xa9", 2));
    char long_name[RODA_DEVICE_NAME_SIZE];
    memset(long_name, 'x', sizeof(long_name));
    ck_assert(roda_devices_name_valid(long_name, RODA_DEVICE_NAME_SIZE - 1));
    ck_assert(!roda_devices_name_valid(long_name, RODA_DEVICE_NAME_SIZE));
    roda_devices_t *devices;
    ck_assert_int_eq(roda_devices_create(4, &devices), RODA_SUCCESS);
    uint32_t index;
    ck_assert_int_eq(roda_devices_intern(devices, "a b", 3, &index), RODA_ERROR_INVALID_ARG);
    roda_devices_destroy(devices);
}
END_TEST

START_TEST(sequence_verdicts)
{
    roda_devices_t *devices;
    ck_assert_int_eq(roda_devices_create(4, &devices), RODA_SUCCESS);
    uint32_t d;
    uint64_t lost;
    ck_assert_int_eq(roda_devices_intern(devices, "d", 1, &d), RODA_SUCCESS);
    ck_assert_int_eq(roda_devices_track(devices, d, 5, 10, &lost), RODA_SEQUENCE_NEXT);
    ck_assert_int_eq(roda_devices_track(devices, d, 5, 11, &lost), RODA_SEQUENCE_NEXT);
    ck_assert_int_eq(roda_devices_track(devices, d, 5, 11, &lost), RODA_SEQUENCE_DUPLICATE);
    ck_assert_int_eq(roda_devices_track(devices, d, 5, 15, &lost), RODA_SEQUENCE_GAP);
    ck_assert_uint_eq(lost, 3);
    ck_assert_int_eq(roda_devices_track(devices, d, 5, 13, &lost), RODA_SEQUENCE_LATE);
    ck_assert_int_eq(roda_devices_track(devices, d, 5, 13, &lost), RODA_SEQUENCE_DUPLICATE);
    ck_assert_int_eq(roda_devices_track(devices, d, 5, 10, &lost), RODA_SEQUENCE_DUPLICATE);
    /* A jump past the window forgets it: anything below is too old to tell. */
    ck_assert_int_eq(roda_devices_track(devices, d, 5, 115, &lost), RODA_SEQUENCE_GAP);
    ck_assert_uint_eq(lost, 99);
    ck_assert_int_eq(roda_devices_track(devices, d, 5, 14, &lost), RODA_SEQUENCE_DUPLICATE);
    ck_assert_int_eq(roda_devices_track(devices, d, 5, 60, &lost), RODA_SEQUENCE_LATE);
    /* A reboot restarts the sequence without a gap; the old boot's batches are stale. */
    ck_assert_int_eq(roda_devices_track(devices, d, 6, 0, &lost), RODA_SEQUENCE_NEXT);
    ck_assert_uint_eq(lost, 0);
    ck_assert_int_eq(roda_devices_track(devices, d, 5, 116, &lost), RODA_SEQUENCE_DUPLICATE);
    ck_assert_int_eq(roda_devices_track(devices, d, 6, 1, &lost), RODA_SEQUENCE_NEXT);
    roda_device_counters_t counters;
    ck_assert_int_eq(roda_devices_counters(devices, d, &counters), RODA_SUCCESS);
    ck_assert_uint_eq(counters.batches, 8);
    ck_assert_uint_eq(counters.lost, 102);
    ck_assert_uint_eq(counters.late, 2);
    ck_assert_uint_eq(counters.duplicates, 5);
    ck_assert_int_eq(roda_devices_counters(devices, 1, &counters), RODA_ERROR_INVALID_ARG);
    roda_devices_destroy(devices);
}
END_TEST

START_TEST(topic_pattern)
{
    const char *device;
    size_t length;
    ck_assert(
        roda_mqtt_topic_device("roda/{device}/readings", "roda/d-7/readings", &device, &length));
    ck_assert_uint_eq(length, 3);
    ck_assert(strncmp(device, "d-7", 3) == 0);
    ck_assert(roda_mqtt_topic_device("site/+/{device}", "site/north/pump2", &device, &length));
    ck_assert(strncmp(device, "pump2", length) == 0 && length == 5);
    ck_assert(!roda_mqtt_topic_device("roda/{device}/readings", "roda/d/other", &device, &length));
    ck_assert(!roda_mqtt_topic_device("roda/{device}/readings", "roda/d", &device, &length));
    ck_assert(
        !roda_mqtt_topic_device("roda/{device}/readings", "roda/d/readings/x", &device, &length));
    ck_assert(!roda_mqtt_topic_device("roda/{device}", "other/d", &device, &length));
    ck_assert(roda_mqtt_pattern_valid("roda/{device}/readings"));
    ck_assert(!roda_mqtt_pattern_valid("roda/+/readings"));
    ck_assert(!roda_mqtt_pattern_valid("{device}/{device}"));
    ck_assert(!roda_mqtt_pattern_valid("roda/{device}/#"));
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("devices");
    TCase *tc = tcase_create("devices");
    tcase_add_test(tc, interning_is_stable_and_bounded);
    tcase_add_test(tc, names_must_be_label_safe);
    tcase_add_test(tc, sequence_verdicts);
    tcase_add_test(tc, topic_pattern);
    suite_add_tcase(suite, tc);
    return roda_check_run(suite);
}
