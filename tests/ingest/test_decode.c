/* test_decode.c - the wire decoder and the example encoder: round trips, unknown fields, every
 * class of bad input, resuming across split claims, and random bytes. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "roda_check.h"
#include "roda_v1_decode.h"
#include "roda_encode.h"

static uint8_t buffer[64 * 1024];

static size_t encode_sample(const char *device, const roda_v1_Reading *readings, uint32_t count)
{
    roda_encode_batch_t batch = {.device = device,
                                 .sequence = 7,
                                 .boot_epoch = 3,
                                 .readings = readings,
                                 .reading_count = count};
    size_t size = roda_encode(&batch, buffer, sizeof(buffer));
    ck_assert_uint_gt(size, 0);
    return size;
}

static const roda_v1_Reading sample[3] = {
    {.sensor_id = 1, .value = 21.5, .time_us = 1700000000000000, .quality = 0},
    {.sensor_id = 2, .value = -3.25, .time_us = -5, .quality = 2},
    {.sensor_id = UINT64_MAX, .value = 1e300, .time_us = INT64_MAX, .quality = 65535},
};

START_TEST(round_trip)
{
    size_t size = encode_sample("dev-1", sample, 3);
    roda_decode_batch_t batch;
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, buffer, size), RODA_DECODE_OK);
    ck_assert_str_eq(batch.device, "dev-1");
    ck_assert_uint_eq(batch.device_length, 5);
    ck_assert_uint_eq(batch.sequence, 7);
    ck_assert_uint_eq(batch.boot_epoch, 3);
    ck_assert_uint_eq(batch.reading_count, 3);
    roda_reading_t records[3];
    roda_decode_drops_t drops = {0};
    roda_decode_status_t status;
    ck_assert_uint_eq(roda_v1_decode_readings(&batch, records, NULL, 3, &drops, &status), 3);
    ck_assert_int_eq(status, RODA_DECODE_OK);
    ck_assert_uint_eq(drops.non_finite, 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(records[i].sensor_id, sample[i].sensor_id);
        ck_assert(records[i].value == sample[i].value);
        ck_assert_int_eq(records[i].device_time_us, sample[i].time_us);
        ck_assert_uint_eq(records[i].quality, sample[i].quality);
    }
}
END_TEST

START_TEST(resumes_across_split_claims)
{
    size_t size = encode_sample("dev-1", sample, 3);
    roda_decode_batch_t batch;
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, buffer, size), RODA_DECODE_OK);
    roda_reading_t record;
    roda_decode_drops_t drops = {0};
    roda_decode_status_t status;
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(roda_v1_decode_readings(&batch, &record, NULL, 1, &drops, &status), 1);
        ck_assert_int_eq(status, RODA_DECODE_OK);
        ck_assert_uint_eq(record.sensor_id, sample[i].sensor_id);
    }
    ck_assert_uint_eq(batch.readings_done, batch.reading_count);
}
END_TEST

START_TEST(empty_batch_and_no_device)
{
    size_t size = encode_sample(NULL, NULL, 0);
    roda_decode_batch_t batch;
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, buffer, size), RODA_DECODE_OK);
    ck_assert_uint_eq(batch.device_length, 0);
    ck_assert_uint_eq(batch.reading_count, 0);
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, buffer, 0), RODA_DECODE_OK);
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, NULL, 0), RODA_DECODE_OK);
    ck_assert_uint_eq(batch.reading_count, 0);
}
END_TEST

/* Fields from a newer schema: top level 9 (varint) and 10 (bytes), in a reading 7 (fixed32). */
START_TEST(unknown_fields_are_skipped)
{
    static const uint8_t payload[] = {
        0x0a, 0x01, 'd',              /* device "d" */
        0x48, 0x96, 0x01,             /* field 9 varint 150 */
        0x52, 0x02, 0xaa, 0xbb,       /* field 10 bytes */
        0x22, 0x0b,                   /* reading, 11 bytes */
        0x08, 0x05,                   /* sensor_id 5 */
        0x3d, 0x01, 0x02, 0x03, 0x04, /* field 7 fixed32 */
        0x20, 0x09,                   /* quality 9 */
        0x18, 0x02,                   /* time_us 1 (zigzag) */
        0x10, 0x04,                   /* sequence 4 */
    };
    roda_decode_batch_t batch;
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, payload, sizeof(payload)), RODA_DECODE_OK);
    ck_assert_str_eq(batch.device, "d");
    ck_assert_uint_eq(batch.sequence, 4);
    ck_assert_uint_eq(batch.reading_count, 1);
    roda_reading_t record;
    roda_decode_drops_t drops = {0};
    roda_decode_status_t status;
    ck_assert_uint_eq(roda_v1_decode_readings(&batch, &record, NULL, 1, &drops, &status), 1);
    ck_assert_int_eq(status, RODA_DECODE_OK);
    ck_assert_uint_eq(record.sensor_id, 5);
    ck_assert_uint_eq(record.quality, 9);
    ck_assert_int_eq(record.device_time_us, 1);
}
END_TEST

START_TEST(truncated_payloads)
{
    size_t size = encode_sample("dev-1", sample, 3);
    roda_decode_batch_t batch;
    /* Cut inside the last reading, inside a length prefix's field and inside the device. */
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, buffer, size - 1), RODA_DECODE_TRUNCATED);
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, buffer, 4), RODA_DECODE_TRUNCATED);
    static const uint8_t varint_cut[] = {0x10, 0x96};
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, varint_cut, sizeof(varint_cut)),
                     RODA_DECODE_TRUNCATED);
}
END_TEST

START_TEST(wrong_wire_types)
{
    static const uint8_t sequence_as_bytes[] = {0x12, 0x01, 0x00};
    static const uint8_t reading_as_varint[] = {0x20, 0x01};
    static const uint8_t device_as_varint[] = {0x08, 0x01};
    static const uint8_t bad_varint[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t field_zero[] = {0x00, 0x01};
    /* A 10-byte varint may only carry bit 63 in its last byte. */
    static const uint8_t varint_max[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t varint_over[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0x02};
    static const uint8_t group[] = {0x2b, 0x2c}; /* field 5 as a (deprecated) group */
    roda_decode_batch_t batch;
    ck_assert_int_eq(
        roda_v1_decode_open(&batch, NULL, sequence_as_bytes, sizeof(sequence_as_bytes)),
        RODA_DECODE_MALFORMED);
    ck_assert_int_eq(
        roda_v1_decode_open(&batch, NULL, reading_as_varint, sizeof(reading_as_varint)),
        RODA_DECODE_MALFORMED);
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, device_as_varint, sizeof(device_as_varint)),
                     RODA_DECODE_MALFORMED);
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, bad_varint, sizeof(bad_varint)),
                     RODA_DECODE_MALFORMED);
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, field_zero, sizeof(field_zero)),
                     RODA_DECODE_MALFORMED);
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, varint_max, sizeof(varint_max)),
                     RODA_DECODE_OK);
    ck_assert_uint_eq(batch.sequence, UINT64_MAX);
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, varint_over, sizeof(varint_over)),
                     RODA_DECODE_MALFORMED);
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, group, sizeof(group)),
                     RODA_DECODE_MALFORMED);
    /* quality is a uint32: a larger varint is out of range, as nanopb says. */
    static const uint8_t big_quality[] = {0x20, 0x80, 0x80, 0x80, 0x80, 0x10};
    roda_v1_reading_t reading;
    ck_assert_int_eq(roda_v1_decode_reading(big_quality, sizeof(big_quality), &reading),
                     RODA_DECODE_MALFORMED);
    ck_assert_int_eq(roda_v1_decode_reading(big_quality, 3, &reading), RODA_DECODE_TRUNCATED);
}
END_TEST

/* Pass 1 does not look inside readings: a bad reading ends the batch in pass 2 and the readings
 * before it are kept. */
START_TEST(malformed_reading_ends_the_batch)
{
    static const uint8_t payload[] = {
        0x22, 0x02, 0x08, 0x01, /* reading: sensor_id 1 */
        0x22, 0x02, 0x12, 0x00, /* reading: value (fixed64) sent as length-delimited */
        0x22, 0x02, 0x08, 0x03, /* reading: sensor_id 3 */
    };
    roda_decode_batch_t batch;
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, payload, sizeof(payload)), RODA_DECODE_OK);
    ck_assert_uint_eq(batch.reading_count, 3);
    roda_reading_t records[3];
    roda_decode_drops_t drops = {0};
    roda_decode_status_t status;
    ck_assert_uint_eq(roda_v1_decode_readings(&batch, records, NULL, 3, &drops, &status), 1);
    ck_assert_int_eq(status, RODA_DECODE_MALFORMED);
    ck_assert_uint_eq(records[0].sensor_id, 1);
}
END_TEST

START_TEST(device_name_bound)
{
    char name[RODA_DEVICE_NAME_SIZE + 1];
    memset(name, 'x', sizeof(name));
    name[RODA_DEVICE_NAME_SIZE - 1] = '\0'; /* 63 bytes: the longest name */
    roda_decode_batch_t batch;
    size_t size = encode_sample(name, sample, 1);
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, buffer, size), RODA_DECODE_OK);
    ck_assert_uint_eq(batch.device_length, RODA_DEVICE_NAME_SIZE - 1);
    /* 64 bytes: the encoder refuses, and a hand-made payload is malformed. */
    name[RODA_DEVICE_NAME_SIZE - 1] = 'x';
    name[RODA_DEVICE_NAME_SIZE] = '\0';
    roda_encode_batch_t too_long = {.device = name};
    ck_assert_uint_eq(roda_encode(&too_long, buffer, sizeof(buffer)), 0);
    buffer[0] = 0x0a;
    buffer[1] = RODA_DEVICE_NAME_SIZE;
    memset(buffer + 2, 'x', RODA_DEVICE_NAME_SIZE);
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, buffer, 2 + RODA_DEVICE_NAME_SIZE),
                     RODA_DECODE_MALFORMED);
}
END_TEST

START_TEST(batch_and_payload_bounds)
{
    static roda_v1_Reading many[RODA_DECODE_MAX_READINGS + 1];
    for (uint32_t i = 0; i <= RODA_DECODE_MAX_READINGS; i++)
        many[i] = (roda_v1_Reading){.sensor_id = i, .value = 1.0};
    roda_decode_batch_t batch;
    size_t size = encode_sample("d", many, RODA_DECODE_MAX_READINGS);
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, buffer, size), RODA_DECODE_OK);
    ck_assert_uint_eq(batch.reading_count, RODA_DECODE_MAX_READINGS);
    size = encode_sample("d", many, RODA_DECODE_MAX_READINGS + 1);
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, buffer, size), RODA_DECODE_TOO_MANY);
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, buffer, RODA_DECODE_MAX_PAYLOAD + 1),
                     RODA_DECODE_OVERSIZE);
}
END_TEST

START_TEST(non_finite_values_are_dropped)
{
    const roda_v1_Reading readings[4] = {
        {.sensor_id = 1, .value = NAN},
        {.sensor_id = 2, .value = 2.0},
        {.sensor_id = 3, .value = INFINITY},
        {.sensor_id = 4, .value = -INFINITY},
    };
    size_t size = encode_sample("d", readings, 4);
    roda_decode_batch_t batch;
    ck_assert_int_eq(roda_v1_decode_open(&batch, NULL, buffer, size), RODA_DECODE_OK);
    roda_reading_t records[4];
    roda_decode_drops_t drops = {0};
    roda_decode_status_t status;
    ck_assert_uint_eq(roda_v1_decode_readings(&batch, records, NULL, 4, &drops, &status), 1);
    ck_assert_int_eq(status, RODA_DECODE_OK);
    ck_assert_uint_eq(drops.non_finite, 3);
    ck_assert_uint_eq(records[0].sensor_id, 2);
    ck_assert_uint_eq(batch.readings_done, 4);
}
END_TEST

START_TEST(encoder_reports_short_buffer)
{
    roda_encode_batch_t batch = {.device = "d", .readings = sample, .reading_count = 3};
    uint8_t small[8];
    ck_assert_uint_eq(roda_encode(&batch, small, sizeof(small)), 0);
}
END_TEST

/* Random and mutated bytes: any verdict, but never a crash, an overrun or an endless batch. */
START_TEST(random_bytes_never_crash)
{
    uint64_t state = 0x9e3779b97f4a7c15ull;
    size_t good = encode_sample("dev-1", sample, 3);
    static uint8_t valid[256];
    memcpy(valid, buffer, good);
    for (int round = 0; round < 20000; round++) {
        size_t size = round % 2 ? good : (size_t)(state % 200);
        memcpy(buffer, valid, good);
        for (size_t i = 0; i < size; i++) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if (round % 2 == 0 || state % 16 == 0)
                buffer[i] = (uint8_t)state;
        }
        roda_decode_batch_t batch;
        if (roda_v1_decode_open(&batch, NULL, buffer, size) != RODA_DECODE_OK)
            continue;
        roda_reading_t records[8];
        roda_decode_drops_t drops = {0};
        roda_decode_status_t status = RODA_DECODE_OK;
        while (batch.readings_done < batch.reading_count && status == RODA_DECODE_OK)
            (void)roda_v1_decode_readings(&batch, records, NULL, 8, &drops, &status);
    }
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("decode");
    TCase *tc = tcase_create("decode");
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, resumes_across_split_claims);
    tcase_add_test(tc, empty_batch_and_no_device);
    tcase_add_test(tc, unknown_fields_are_skipped);
    tcase_add_test(tc, truncated_payloads);
    tcase_add_test(tc, wrong_wire_types);
    tcase_add_test(tc, malformed_reading_ends_the_batch);
    tcase_add_test(tc, device_name_bound);
    tcase_add_test(tc, batch_and_payload_bounds);
    tcase_add_test(tc, non_finite_values_are_dropped);
    tcase_add_test(tc, encoder_reports_short_buffer);
    tcase_add_test(tc, random_bytes_never_crash);
    suite_add_tcase(suite, tc);
    return roda_check_run(suite);
}
