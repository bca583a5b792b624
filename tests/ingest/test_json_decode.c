/* test_json_decode.c - the JSON decoder: bit-exact numbers, both field modes, batches,
 * timestamps in every format, resuming across split claims, every bad-input reason, the depth
 * and size bounds, and the sensor name registry's ids. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "roda_check.h"
#include "roda_input_mqtt.h"
#include "roda_json_decode.h"
#include "roda_sensor_names.h"

#define SCRATCH_BYTES (RODA_DECODE_SCRATCH_PER_BYTE * 65536u + RODA_DECODE_SCRATCH_BASE)

static _Alignas(16) uint8_t scratch[SCRATCH_BYTES];
static roda_json_settings_t settings;
static roda_decode_context_t context;
static roda_decode_batch_t batch;
static roda_reading_t records[RODA_DECODE_MAX_READINGS];
static const char *names[RODA_DECODE_MAX_READINGS];
static roda_decode_drops_t drops;

static void setup(void)
{
    settings = (roda_json_settings_t){.device_field = "",
                                      .timestamp_field = "",
                                      .timestamp_format = RODA_JSON_TIME_MS,
                                      .max_depth = 8};
    context = (roda_decode_context_t){
        .settings = &settings, .scratch = scratch, .scratch_size = sizeof scratch};
    memset(&drops, 0, sizeof drops);
}

static roda_decode_status_t open_text(const char *text)
{
    return roda_json_decode_open(&batch, &context, (const uint8_t *)text, strlen(text));
}

/* Opens `text` and decodes it in one claim; returns the records written. */
static uint32_t decode(const char *text)
{
    ck_assert_int_eq(open_text(text), RODA_DECODE_OK);
    roda_decode_status_t status;
    uint32_t written = roda_json_decode_readings(&batch, records, names, RODA_DECODE_MAX_READINGS,
                                                 &drops, &status);
    ck_assert_int_eq(status, RODA_DECODE_OK);
    ck_assert_uint_eq(batch.readings_done, batch.reading_count);
    return written;
}

static uint64_t bits(double value)
{
    uint64_t out;
    memcpy(&out, &value, sizeof out);
    return out;
}

START_TEST(every_numeric_member_bit_exact)
{
    uint32_t n = decode("{\"a\":1e308,\"b\":-0.0,\"c\":18446744073709551616,\"d\":0.1,"
                        "\"e\":-4.9406564584124654e-324,\"s\":\"x\",\"t\":true,\"n\":null,"
                        "\"o\":{\"x\":1},\"f\":9007199254740993}");
    ck_assert_uint_eq(n, 7); /* the boolean too, as 1 */
    const char *expected_names[] = {"a", "b", "c", "d", "e", "t", "f"};
    const double expected[] = {1e308,
                               -0.0,
                               18446744073709551616.0,
                               0.1,
                               -4.9406564584124654e-324,
                               1.0,
                               9007199254740992.0};
    for (uint32_t i = 0; i < n; i++) {
        ck_assert_str_eq(names[i], expected_names[i]);
        ck_assert_uint_eq(bits(records[i].value), bits(expected[i]));
        ck_assert_uint_eq(records[i].sensor_id, 0);
        ck_assert_int_eq(records[i].device_time_us, 0);
    }
    ck_assert_uint_eq(drops.wrong_type + drops.missing_field + drops.out_of_range, 0);
}
END_TEST

START_TEST(listed_fields_and_reasons)
{
    settings.sensor_fields[0] = "temperature";
    settings.sensor_fields[1] = "humidity";
    settings.sensor_fields[2] = "pressure";
    settings.sensor_fields[3] = "wind";
    settings.sensor_fields[4] = "rain";
    settings.sensor_fields[5] = "door";
    settings.sensor_field_count = 6;
    uint32_t n = decode("{\"temperature\":21.5,\"humidity\":\"40\",\"wind\":1e999,\"rain\":null,"
                        "\"other\":3,\"door\":false}");
    ck_assert_uint_eq(batch.reading_count, 6);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(names[0], "temperature");
    ck_assert_uint_eq(bits(records[0].value), bits(21.5));
    ck_assert_str_eq(names[1], "door"); /* a boolean: 0 or 1 */
    ck_assert_uint_eq(bits(records[1].value), bits(0.0));
    ck_assert_uint_eq(drops.wrong_type, 1);
    ck_assert_uint_eq(drops.missing_field, 2);
    ck_assert_uint_eq(drops.out_of_range, 1);
}
END_TEST

START_TEST(arrays_are_batches_of_one_device)
{
    settings.device_field = "device";
    settings.timestamp_field = "ts";
    settings.timestamp_format = RODA_JSON_TIME_S;
    uint32_t n = decode("[{\"device\":\"dev-1\",\"ts\":1700000000.25,\"t\":1,\"h\":2},"
                        "{\"device\":\"dev-2\",\"ts\":1,\"t\":3},"
                        "{\"ts\":2,\"t\":4},"
                        "7,"
                        "{\"device\":\"dev-1\",\"t\":5},"
                        "{\"device\":\"dev-1\",\"ts\":\"x\",\"t\":6},"
                        "{\"device\":\"dev-1\",\"ts\":1e300,\"t\":7},"
                        "{\"device\":\"dev-1\",\"ts\":-1.5,\"t\":8}]");
    ck_assert_str_eq(batch.device, "dev-1");
    ck_assert_uint_eq(batch.device_length, 5);
    ck_assert_uint_eq(batch.reading_count, 9);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(records[0].device_time_us, 1700000000250000);
    ck_assert_str_eq(names[1], "h");
    ck_assert_int_eq(records[2].device_time_us, -1500000);
    ck_assert_uint_eq(bits(records[2].value), bits(8.0));
    ck_assert_uint_eq(drops.other_device, 1);
    ck_assert_uint_eq(drops.missing_field, 2); /* no device; no timestamp */
    ck_assert_uint_eq(drops.wrong_type, 2);    /* 7; a string timestamp */
    ck_assert_uint_eq(drops.out_of_range, 1);
}
END_TEST

START_TEST(timestamps)
{
    settings.timestamp_field = "ts";
    const struct {
        roda_json_time_format_t format;
        const char *value;
        int64_t expected_us;
    } cases[] = {
        {RODA_JSON_TIME_MS, "1700000000123", 1700000000123000},
        {RODA_JSON_TIME_US, "1700000000123456", 1700000000123456},
        {RODA_JSON_TIME_S, "1700000000", 1700000000000000},
        {RODA_JSON_TIME_RFC3339, "\"1970-01-01T00:00:00Z\"", 0},
        {RODA_JSON_TIME_RFC3339, "\"2024-02-29T12:30:15.123456789+02:00\"", 1709202615123456},
        {RODA_JSON_TIME_RFC3339, "\"2024-02-29t10:30:15.5z\"", 1709202615500000},
        {RODA_JSON_TIME_RFC3339, "\"1969-12-31 23:59:59-00:30\"", 1799000000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        settings.timestamp_format = cases[i].format;
        char text[128];
        snprintf(text, sizeof text, "{\"ts\":%s,\"v\":1}", cases[i].value);
        ck_assert_uint_eq(decode(text), 1);
        ck_assert_int_eq(records[0].device_time_us, cases[i].expected_us);
    }
    const char *bad[] = {"2023-02-29T00:00:00Z",  "2024-13-01T00:00:00Z",
                         "2024-01-01T24:00:00Z",  "2024-01-01T00:00:00",
                         "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00+2:00",
                         "2024-01-01T00:00:00Zx"};
    settings.timestamp_format = RODA_JSON_TIME_RFC3339;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us;
        ck_assert_msg(!roda_json_parse_rfc3339(bad[i], strlen(bad[i]), &us), "%s", bad[i]);
    }
    memset(&drops, 0, sizeof drops);
    ck_assert_uint_eq(decode("{\"ts\":\"2024-13-01T00:00:00Z\",\"v\":1}"), 0);
    ck_assert_uint_eq(drops.out_of_range, 1);
    ck_assert_uint_eq(decode("{\"ts\":1700000000,\"v\":1}"), 0);
    ck_assert_uint_eq(drops.wrong_type, 1);
}
END_TEST

START_TEST(resumes_across_claims)
{
    uint32_t written = 0;
    ck_assert_int_eq(open_text("[{\"a\":1,\"b\":2},{\"c\":3},{\"d\":4,\"e\":5}]"), RODA_DECODE_OK);
    ck_assert_uint_eq(batch.reading_count, 5);
    roda_decode_status_t status = RODA_DECODE_OK;
    while (batch.readings_done < batch.reading_count && status == RODA_DECODE_OK)
        written += roda_json_decode_readings(&batch, &records[written], &names[written], 2, &drops,
                                             &status);
    ck_assert_int_eq(status, RODA_DECODE_OK);
    ck_assert_uint_eq(written, 5);
    for (uint32_t i = 0; i < 5; i++) {
        ck_assert_uint_eq(bits(records[i].value), bits((double)(i + 1)));
        ck_assert_int_eq(names[i][0], 'a' + (int)i);
    }
}
END_TEST

START_TEST(refused_messages)
{
    const struct {
        const char *text;
        roda_decode_status_t status;
    } cases[] = {
        {"{\"a\":1", RODA_DECODE_MALFORMED},
        {"{\"a\":1} x", RODA_DECODE_MALFORMED},
        {"{\"a\":1}  \n", RODA_DECODE_OK},
        {"42", RODA_DECODE_MALFORMED},
        {"\"s\"", RODA_DECODE_MALFORMED},
        {"{\"a\":NaN}", RODA_DECODE_MALFORMED},
        {"{'a':1}", RODA_DECODE_MALFORMED},
        {"[[[[[[[[1]]]]]]]]", RODA_DECODE_OK},
        {"[[[[[[[[[1]]]]]]]]]", RODA_DECODE_MALFORMED},
        {"{\"[[[[[[[[[\":1}", RODA_DECODE_OK},
        {"", RODA_DECODE_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(open_text(cases[i].text) == cases[i].status, "%s", cases[i].text);
    /* More readings than one batch takes. */
    static char big[16 * 1024];
    size_t length = 0;
    big[length++] = '{';
    for (unsigned i = 0; i <= RODA_DECODE_MAX_READINGS; i++)
        length +=
            (size_t)snprintf(big + length, sizeof big - length, "%s\"s%u\":%u", i ? "," : "", i, i);
    big[length++] = '}';
    ck_assert_int_eq(roda_json_decode_open(&batch, &context, (const uint8_t *)big, length),
                     RODA_DECODE_TOO_MANY);
    /* Too little scratch, and no settings. */
    context.scratch_size = 100;
    ck_assert_int_eq(open_text("{\"a\":1}"), RODA_DECODE_OVERSIZE);
    context = (roda_decode_context_t){.scratch = scratch, .scratch_size = sizeof scratch};
    ck_assert_int_eq(open_text("{\"a\":1}"), RODA_DECODE_MALFORMED);
}
END_TEST

START_TEST(bad_sensor_names_are_wrong_type)
{
    ck_assert_uint_eq(decode("{\"a\\tb\":1,\"q\\\"\":2,\"ok\":3}"), 1);
    ck_assert_str_eq(names[0], "ok");
    ck_assert_uint_eq(drops.wrong_type, 2);
}
END_TEST

START_TEST(random_bytes_never_crash)
{
    srand(7);
    static uint8_t bytes[512];
    const char alphabet[] = "{}[]\":,0123456789.eE-+ truefalsnl\\ab";
    for (int round = 0; round < 20000; round++) {
        size_t size = (size_t)(rand() % (int)sizeof bytes);
        for (size_t i = 0; i < size; i++)
            bytes[i] = (uint8_t)alphabet[rand() % (int)(sizeof alphabet - 1)];
        if (roda_json_decode_open(&batch, &context, bytes, size) != RODA_DECODE_OK)
            continue;
        roda_decode_status_t status = RODA_DECODE_OK;
        while (batch.readings_done < batch.reading_count && status == RODA_DECODE_OK)
            (void)roda_json_decode_readings(&batch, records, names, 3, &drops, &status);
        ck_assert_int_eq(status, RODA_DECODE_OK);
    }
}
END_TEST

START_TEST(sensor_name_ids_and_registry)
{
    uint64_t id = roda_sensor_name_id("dev-1", 5, "temp", 4);
    ck_assert(id & RODA_SENSOR_NAMED_BIT);
    ck_assert_uint_eq(id, roda_sensor_name_id("dev-1", 5, "temp", 4));
    ck_assert_uint_ne(id, roda_sensor_name_id("dev-1t", 6, "emp", 3));
    ck_assert_uint_ne(id, roda_sensor_name_id("dev-2", 5, "temp", 4));
    roda_sensor_names_t *registry;
    uint32_t restored;
    const char *why;
    ck_assert_int_eq(roda_sensor_names_create(2, NULL, &restored, &why, &registry), RODA_SUCCESS);
    ck_assert_int_eq(roda_sensor_names_intern(registry, id, "temp"), RODA_SUCCESS);
    ck_assert_int_eq(roda_sensor_names_intern(registry, id, "temp"), RODA_SUCCESS);
    ck_assert_int_eq(roda_sensor_names_intern(registry, id ^ 1, "bad\tname"),
                     RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_sensor_names_intern(registry, id ^ 2, "hum"), RODA_SUCCESS);
    ck_assert_int_eq(roda_sensor_names_intern(registry, id ^ 4, "wind"), RODA_ERROR_TOO_MANY);
    ck_assert_str_eq(roda_sensor_names_find(registry, id), "temp");
    ck_assert_str_eq(roda_sensor_names_find(registry, id ^ 2), "hum");
    ck_assert_ptr_null(roda_sensor_names_find(registry, id ^ 4));
    ck_assert_ptr_null(roda_sensor_names_find(registry, 17));
    ck_assert_uint_eq(roda_sensor_names_count(registry), 2);
    roda_sensor_names_destroy(registry);
}
END_TEST

START_TEST(sensor_names_survive_in_their_file)
{
    char directory[] = "/tmp/roda-names-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(directory));
    char path[64];
    snprintf(path, sizeof path, "%s/%s", directory, RODA_SENSOR_NAMES_FILE_NAME);
    roda_sensor_names_t *registry;
    uint32_t restored;
    const char *why;
    ck_assert_int_eq(roda_sensor_names_create(8, path, &restored, &why, &registry), RODA_SUCCESS);
    ck_assert_ptr_null(why);
    uint64_t id = roda_sensor_name_id("d", 1, "temp", 4);
    ck_assert_int_eq(roda_sensor_names_intern(registry, id, "temp"), RODA_SUCCESS);
    roda_sensor_names_destroy(registry);
    ck_assert_int_eq(roda_sensor_names_create(8, path, &restored, &why, &registry), RODA_SUCCESS);
    ck_assert_uint_eq(restored, 1);
    ck_assert_str_eq(roda_sensor_names_find(registry, id), "temp");
    roda_sensor_names_t *offline;
    ck_assert_int_eq(roda_sensor_names_open_readonly(path, &offline), RODA_SUCCESS);
    ck_assert_str_eq(roda_sensor_names_find(offline, id), "temp");
    ck_assert_uint_eq(roda_sensor_names_count(offline), 1);
    roda_sensor_names_destroy(offline);
    roda_sensor_names_destroy(registry);
    /* Another capacity: the file is replaced, its names gone. */
    ck_assert_int_eq(roda_sensor_names_create(16, path, &restored, &why, &registry), RODA_SUCCESS);
    ck_assert_ptr_nonnull(why);
    ck_assert_uint_eq(restored, 0);
    ck_assert_ptr_null(roda_sensor_names_find(registry, id));
    roda_sensor_names_destroy(registry);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(directory), 0);
}
END_TEST

/* Loads `text`, runs the MQTT input's configure; true when it accepts, with the reason in `why`. */
static bool configure_mqtt(const char *text, roda_input_mqtt_settings_t *settings, char *why,
                           size_t size)
{
    static roda_config_t config;
    static roda_config_errors_t errors;
    ck_assert_int_eq(roda_config_load_string(text, "t.conf", &config, &errors), RODA_SUCCESS);
    roda_input_settings_t bytes;
    bool enabled;
    bool ok = roda_input_configure(&roda_input_mqtt, &config, &bytes, &enabled, why, size);
    memcpy(settings, bytes.bytes, sizeof *settings);
    return ok;
}

START_TEST(formats_per_topic_filter)
{
    roda_input_mqtt_settings_t s;
    char why[256] = "";
    ck_assert_msg(configure_mqtt("[mqtt]\nenabled = true\ntopics = a/+, b/+\nformats = json, "
                                 "roda.v1\n[json]\nsensor_fields = t, h\ntimestamp_field = ts\n"
                                 "timestamp_format = rfc3339\n",
                                 &s, why, sizeof why),
                  "%s", why);
    ck_assert_ptr_eq(s.decoders[0], &roda_json_decoder);
    ck_assert_ptr_eq(s.decoders[1], roda_decoder_find("roda.v1"));
    ck_assert_ptr_null(s.decoder_settings[1]);
    const roda_json_settings_t *json = s.decoder_settings[0];
    ck_assert_uint_eq(json->sensor_field_count, 2);
    ck_assert_str_eq(json->sensor_fields[1], "h");
    ck_assert_int_eq(json->timestamp_format, RODA_JSON_TIME_RFC3339);
    ck_assert_uint_eq(json->max_depth, 8);
    /* No formats: roda.v1 for every topic. */
    ck_assert(configure_mqtt("[mqtt]\nenabled = true\ntopics = a/+, b/+\n", &s, why, sizeof why));
    ck_assert_ptr_eq(s.decoders[1], roda_decoder_default());
    const struct {
        const char *text;
        const char *why;
    } bad[] = {
        {"[mqtt]\ntopics = a/+, b/+\nformats = json\n", "mqtt.formats: 1 formats for 2 topics"},
        {"[mqtt]\ntopics = a/+\nformats = xml\n", "mqtt.formats: 'xml' is not"},
        {"[mqtt]\ntopics = a/+\nformats = json.x\n[json.x]\n[json.y]\nsensor_fields = a\"b\n",
         "json.y.sensor_fields: 'a\"b'"},
        {"[mqtt]\ntopics = a/+/c/#\nformats = json.x\n[json.x]\ndevice_topic_level = 3\n",
         "json.x.device_topic_level: topic 'a/+/c/#' has no level 3"},
        {"[mqtt]\ntopics = a/+\n[json]\ntimestamp_format = ns\n", "json.timestamp_format: 'ns'"},
        {"[mqtt]\ntopics = a/+\n[json]\nsensor_fields = a\"b\n", "json.sensor_fields: 'a\"b'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(!configure_mqtt(bad[i].text, &s, why, sizeof why), "%s", bad[i].text);
        ck_assert_msg(strncmp(why, bad[i].why, strlen(bad[i].why)) == 0, "%s", why);
    }
}
END_TEST

/* Two json filters with their own mappings: one takes the device from a topic level and lists
 * its sensors, the other takes it from a member and reads every numeric member; a roda.v1 filter
 * beside them keeps [mqtt]'s device level. */
START_TEST(json_mapping_per_topic_filter)
{
    roda_input_mqtt_settings_t s;
    char why[256] = "";
    ck_assert_msg(configure_mqtt("[mqtt]\nenabled = true\ntopics = a/+/x, b/#, c/+\n"
                                 "formats = json.by_topic, json, roda.v1\ndevice_from = topic\n"
                                 "device_topic_level = 1\n[json]\ndevice_field = id\n"
                                 "[json.by_topic]\ndevice_topic_level = 1\n"
                                 "sensor_fields = t, h\n",
                                 &s, why, sizeof why),
                  "%s", why);
    ck_assert_ptr_eq(s.decoders[0], &roda_json_decoder);
    ck_assert_ptr_eq(s.decoders[1], &roda_json_decoder);
    ck_assert_str_eq(s.device_patterns[0], "a/{device}/x");
    ck_assert_str_eq(s.device_patterns[1], ""); /* [json] device_field names it */
    ck_assert_str_eq(s.device_patterns[2], "c/{device}");
    const roda_json_settings_t *by_topic = s.decoder_settings[0];
    const roda_json_settings_t *by_field = s.decoder_settings[1];
    ck_assert_ptr_ne(by_topic, by_field);
    ck_assert_uint_eq(by_topic->sensor_field_count, 2);
    ck_assert_str_eq(by_topic->device_field, "");
    ck_assert_uint_eq(by_field->sensor_field_count, 0);
    ck_assert_str_eq(by_field->device_field, "id");
    /* The mapping's level alone: [mqtt] left at device_from = payload. */
    ck_assert_msg(configure_mqtt("[mqtt]\nenabled = true\ntopics = a/b/+, c\n"
                                 "formats = json.t, roda.v1\n[json.t]\ndevice_topic_level = 2\n",
                                 &s, why, sizeof why),
                  "%s", why);
    ck_assert_str_eq(s.device_patterns[0], "a/b/{device}");
    ck_assert_str_eq(s.device_patterns[1], "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_decode");
    TCase *tc = tcase_create("json");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, every_numeric_member_bit_exact);
    tcase_add_test(tc, listed_fields_and_reasons);
    tcase_add_test(tc, arrays_are_batches_of_one_device);
    tcase_add_test(tc, timestamps);
    tcase_add_test(tc, resumes_across_claims);
    tcase_add_test(tc, refused_messages);
    tcase_add_test(tc, bad_sensor_names_are_wrong_type);
    tcase_add_test(tc, random_bytes_never_crash);
    tcase_add_test(tc, sensor_name_ids_and_registry);
    tcase_add_test(tc, sensor_names_survive_in_their_file);
    tcase_add_test(tc, formats_per_topic_filter);
    tcase_add_test(tc, json_mapping_per_topic_filter);
    suite_add_tcase(s, tc);
    return roda_check_run(s);
}
