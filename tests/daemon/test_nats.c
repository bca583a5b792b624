/* test_nats.c - the NATS input's pieces that need no server: the subject pattern (valid, expand,
 * the device token of a subject), the positions file (kept, a reboot, a stream made again, a
 * foreign file) and the [nats] section's checks (what --check-config refuses). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "roda_check.h"
#include "roda_config.h"
#include "roda_input_nats.h"
#include "roda_nats_positions.h"

START_TEST(pattern_valid)
{
    ck_assert(roda_nats_pattern_valid("fleet.{partition}.{device}.readings"));
    ck_assert(roda_nats_pattern_valid("{device}.{partition}"));
    ck_assert(!roda_nats_pattern_valid("fleet.{device}.readings"));    /* no {partition} */
    ck_assert(!roda_nats_pattern_valid("fleet.{partition}.readings")); /* no {device} */
    ck_assert(!roda_nats_pattern_valid("{partition}.{device}.{device}"));
    ck_assert(!roda_nats_pattern_valid("{partition}.{partition}.{device}"));
    ck_assert(!roda_nats_pattern_valid("fleet..{partition}.{device}")); /* an empty token */
    ck_assert(!roda_nats_pattern_valid(".{partition}.{device}"));
    ck_assert(!roda_nats_pattern_valid("{partition}.{device}."));
    ck_assert(!roda_nats_pattern_valid("fleet.*.{partition}.{device}"));
    ck_assert(!roda_nats_pattern_valid("fleet.{partition}.{device}.>"));
    ck_assert(!roda_nats_pattern_valid("fleet.{partition}.x{device}"));
    ck_assert(!roda_nats_pattern_valid("fleet.{partition}.{device}.{other}"));
    ck_assert(!roda_nats_pattern_valid(""));
}
END_TEST

START_TEST(pattern_expand)
{
    char out[64];
    const char *pattern = "fleet.{partition}.{device}.readings";
    ck_assert_int_eq(roda_nats_pattern_expand(pattern, "3", "*", out, sizeof out), RODA_SUCCESS);
    ck_assert_str_eq(out, "fleet.3.*.readings");
    ck_assert_int_eq(roda_nats_pattern_expand(pattern, "*", "*", out, sizeof out), RODA_SUCCESS);
    ck_assert_str_eq(out, "fleet.*.*.readings");
    ck_assert_int_eq(
        roda_nats_pattern_expand("{device}.{partition}", "12", "dev-1", out, sizeof out),
        RODA_SUCCESS);
    ck_assert_str_eq(out, "dev-1.12");
    /* "fleet.3.*.readings" is 18 bytes and its NUL: 19 fit, 18 do not. */
    ck_assert_int_eq(roda_nats_pattern_expand(pattern, "3", "*", out, 19), RODA_SUCCESS);
    ck_assert_int_eq(roda_nats_pattern_expand(pattern, "3", "*", out, 18), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(
        roda_nats_pattern_expand(pattern, "3", "a-device-name-longer-than-the-buffer", out, 32),
        RODA_ERROR_INVALID_ARG);
}
END_TEST

/* The device token of `subject` as a string, or NULL when it does not match. */
static const char *device_of(const char *pattern, const char *subject)
{
    static char device[64];
    const char *start;
    size_t length;
    if (!roda_nats_subject_device(pattern, subject, &start, &length))
        return NULL;
    ck_assert_uint_lt(length, sizeof device);
    memcpy(device, start, length);
    device[length] = '\0';
    return device;
}

START_TEST(subject_device)
{
    const char *pattern = "fleet.{partition}.{device}.readings";
    ck_assert_str_eq(device_of(pattern, "fleet.3.dev-7.readings"), "dev-7");
    ck_assert_str_eq(device_of(pattern, "fleet.1023.a.readings"), "a");
    ck_assert_str_eq(device_of("{device}.{partition}", "pump-1.0"), "pump-1");
    ck_assert_ptr_null(device_of(pattern, "fleet.3.dev-7.status"));        /* a literal differs */
    ck_assert_ptr_null(device_of(pattern, "fleet.3.dev-7.readings.more")); /* a token more */
    ck_assert_ptr_null(device_of(pattern, "fleet.3.dev-7"));               /* a token fewer */
    ck_assert_ptr_null(device_of(pattern, "fleet.3..readings"));           /* an empty device */
    ck_assert_ptr_null(device_of(pattern, "fleets.3.dev-7.readings"));
}
END_TEST

static char directory[64];

static void make_directory(void)
{
    snprintf(directory, sizeof directory, "/tmp/roda-nats-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(directory));
}

static void remove_directory(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", directory, RODA_NATS_POSITIONS_FILE_NAME);
    unlink(path);
    rmdir(directory);
}

/* Opens the positions in `directory`, expecting `restored` and `rebooted`. */
static void open_expecting(roda_nats_positions_t *positions, bool restored, bool rebooted)
{
    bool was_restored, was_rebooted;
    ck_assert_int_eq(roda_nats_positions_open(positions, directory, &was_restored, &was_rebooted),
                     RODA_SUCCESS);
    ck_assert_int_eq(was_restored, restored);
    ck_assert_int_eq(was_rebooted, rebooted);
}

START_TEST(positions_kept)
{
    roda_nats_positions_t positions;
    open_expecting(&positions, false, false);
    ck_assert(roda_nats_positions_bind(&positions, "FLEET", 1000)); /* fresh */
    roda_nats_position_set(&positions, 3, 41);
    ck_assert_int_eq(roda_nats_positions_sync(&positions), RODA_SUCCESS);
    roda_nats_position_set(&positions, 3, 42); /* committed, not synced: a SIGKILL keeps it */
    roda_nats_position_set(&positions, 1023, 7);
    roda_nats_positions_close(&positions);

    open_expecting(&positions, true, false);
    ck_assert(roda_nats_positions_bind(&positions, "FLEET", 1000));
    ck_assert_uint_eq(roda_nats_position(&positions, 3), 42);
    ck_assert_uint_eq(roda_nats_position(&positions, 1023), 7);
    ck_assert_uint_eq(roda_nats_position(&positions, 0), 0);
    roda_nats_positions_close(&positions);
    remove_directory();
}
END_TEST

START_TEST(positions_after_reboot)
{
    roda_nats_positions_t positions;
    open_expecting(&positions, false, false);
    roda_nats_positions_bind(&positions, "FLEET", 1000);
    roda_nats_position_set(&positions, 2, 10);
    ck_assert_int_eq(roda_nats_positions_sync(&positions), RODA_SUCCESS);
    roda_nats_position_set(&positions, 2, 15);
    /* As if the file were written before the machine last booted. */
    memcpy(positions.image->boot_id, "another boot", sizeof "another boot");
    roda_nats_positions_close(&positions);

    open_expecting(&positions, true, true);
    ck_assert(roda_nats_positions_bind(&positions, "FLEET", 1000));
    ck_assert_uint_eq(roda_nats_position(&positions, 2), 10); /* the synced one only */
    roda_nats_positions_close(&positions);
    open_expecting(&positions, true, false); /* this boot's id was written */
    roda_nats_positions_close(&positions);
    remove_directory();
}
END_TEST

START_TEST(positions_stream_made_again)
{
    roda_nats_positions_t positions;
    open_expecting(&positions, false, false);
    roda_nats_positions_bind(&positions, "FLEET", 1000);
    roda_nats_position_set(&positions, 5, 99);
    ck_assert_int_eq(roda_nats_positions_sync(&positions), RODA_SUCCESS);
    roda_nats_positions_close(&positions);

    open_expecting(&positions, true, false);
    ck_assert(!roda_nats_positions_bind(&positions, "FLEET", 2000)); /* made again */
    ck_assert_uint_eq(roda_nats_position(&positions, 5), 0);
    roda_nats_position_set(&positions, 5, 3);
    ck_assert_int_eq(roda_nats_positions_sync(&positions), RODA_SUCCESS);
    roda_nats_positions_close(&positions);

    open_expecting(&positions, true, false);
    ck_assert(!roda_nats_positions_bind(&positions, "OTHER", 2000)); /* another stream */
    ck_assert_uint_eq(roda_nats_position(&positions, 5), 0);
    roda_nats_positions_close(&positions);
    remove_directory();
}
END_TEST

START_TEST(positions_foreign_file)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", directory, RODA_NATS_POSITIONS_FILE_NAME);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("not a positions file", f);
    fclose(f);
    roda_nats_positions_t positions;
    open_expecting(&positions, false, false);
    ck_assert(roda_nats_positions_bind(&positions, "FLEET", 1000)); /* fresh: nothing discarded */
    ck_assert_uint_eq(roda_nats_position(&positions, 0), 0);
    roda_nats_positions_close(&positions);

    bool restored, rebooted;
    ck_assert_int_eq(roda_nats_positions_open(&positions, NULL, &restored, &rebooted),
                     RODA_SUCCESS); /* in memory */
    ck_assert(!restored);
    ck_assert_int_eq(positions.fd, -1);
    roda_nats_positions_close(&positions);
    remove_directory();
}
END_TEST

/* The [nats] section `lines` (after enabled, servers): NULL when the NATS input takes it, else
 * why it refuses it. */
static const char *refusal(const char *lines)
{
    static roda_config_t config;
    static roda_config_errors_t errors;
    static roda_input_settings_t settings;
    static char why[256];
    char text[1024];
    snprintf(text, sizeof text, "[nats]\nenabled = true\nservers = nats://127.0.0.1:4222\n%s",
             lines);
    ck_assert_int_eq(roda_config_load_string(text, "t.conf", &config, &errors), RODA_SUCCESS);
    bool enabled;
    why[0] = '\0';
    if (roda_input_configure(&roda_input_nats, &config, &settings, &enabled, why, sizeof why)) {
        ck_assert(enabled);
        return NULL;
    }
    return why;
}

START_TEST(section_checks)
{
    ck_assert_ptr_null(refusal("partitions = 0, 5, 1023\n"));
    ck_assert_ptr_null(refusal("partitions = 1\nformat = json\n"));
    ck_assert_str_eq(refusal("partitions = 1, 2, 1\n"), "nats.partitions: 1 is listed twice");
    ck_assert_str_eq(refusal("partitions = 1024\n"),
                     "nats.partitions: '1024' is not a partition number (0-1023)");
    ck_assert_str_eq(refusal("partitions = -1\n"),
                     "nats.partitions: '-1' is not a partition number (0-1023)");
    ck_assert_str_eq(refusal("partitions = 2x\n"),
                     "nats.partitions: '2x' is not a partition number (0-1023)");
    ck_assert_str_eq(refusal("subject = fleet.{device}.readings\npartitions = 1\n"),
                     "nats.subject: 'fleet.{device}.readings' needs the tokens {partition} and "
                     "{device} once each, and no wildcards");
    ck_assert_str_eq(refusal("stream = A.B\npartitions = 1\n"),
                     "nats.stream: 'A.B' is not a stream name (1-63 characters, no . * >)");
    ck_assert_str_eq(refusal("durable_prefix = a*b\npartitions = 1\n"),
                     "nats.durable_prefix: 'a*b' may not hold . * > or spaces");
    ck_assert_str_eq(refusal("partitions = 1\nformat = xml\n"),
                     "nats.format: 'xml' is not a payload format (roda.v1, json, json.NAME, "
                     "sparkplug.b)");
    ck_assert_str_eq(refusal("partitions = 1\nformat = sparkplug.b\n"),
                     "nats.format: 'sparkplug.b' is not roda.v1, json or json.NAME (Sparkplug B: "
                     "read it with the MQTT input)");
    ck_assert_str_eq(refusal(""), "nats.partitions: missing required field (NATS is enabled: "
                                  "give the partitions this gateway owns)");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nats");
    TCase *pattern = tcase_create("pattern");
    tcase_add_test(pattern, pattern_valid);
    tcase_add_test(pattern, pattern_expand);
    tcase_add_test(pattern, subject_device);
    suite_add_tcase(s, pattern);
    TCase *positions = tcase_create("positions");
    tcase_add_checked_fixture(positions, make_directory, NULL);
    tcase_add_test(positions, positions_kept);
    tcase_add_test(positions, positions_after_reboot);
    tcase_add_test(positions, positions_stream_made_again);
    tcase_add_test(positions, positions_foreign_file);
    suite_add_tcase(s, positions);
    TCase *section = tcase_create("section");
    tcase_add_test(section, section_checks);
    suite_add_tcase(s, section);
    return s;
}

int main(void)
{
    return roda_check_run(suite());
}
