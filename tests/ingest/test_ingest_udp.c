/* test_ingest_udp.c - the ingest end to end over real UDP sockets (127.0.0.1 and ::1): readings
 * land in the journal with their values and device, and every bad input is counted under its
 * reason while the next good batch still arrives. */
#include <arpa/inet.h>
#include <check.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "roda_check.h"
#include "roda_v1_decode.h"
#include "roda_encode.h"
#include "roda_ingest.h"
#include "roda_input_mqtt.h"
#include "roda_input_udp.h"

/* The fixture's ingest has one input, UDP: index 0. */
#define UDP_INPUT 0u

typedef struct fixture {
    roda_journal_t *journal;
    roda_journal_reader_t reader;
    roda_ingest_t *ingest;
    int sender4;
    int sender6;
} fixture_t;

static void setup_policy(fixture_t *f, uint64_t capacity, uint32_t max_devices,
                         uint32_t max_datagram, roda_journal_policy_t policy)
{
    roda_journal_config_t journal_config = {
        .capacity = capacity, .record_size = sizeof(roda_reading_t), .policy = policy};
    ck_assert_int_eq(roda_journal_create(&journal_config, &f->journal), RODA_SUCCESS);
    ck_assert_int_eq(roda_journal_reader_open(f->journal, &f->reader), RODA_SUCCESS);
    roda_input_udp_settings_t udp = {.binds = {"127.0.0.1:0", "[::1]:0"},
                                     .bind_count = 2,
                                     .receive_buffer = 1u << 20,
                                     .max_datagram = max_datagram,
                                     .batch = 64,
                                     .decoder = roda_decoder_find("roda.v1")};
    ck_assert_int_eq(roda_ingest_create(max_devices, 1024, RODA_INGEST_MAX_MESSAGE, f->journal,
                                        NULL, &f->ingest),
                     RODA_SUCCESS);
    ck_assert_int_eq(roda_ingest_add(f->ingest, &roda_input_udp, &udp), RODA_SUCCESS);
    const void *state = roda_ingest_input_state(f->ingest, UDP_INPUT);
    ck_assert_uint_ne(roda_input_udp_port(state, 0), 0);
    ck_assert_uint_ne(roda_input_udp_port(state, 1), 0);
    ck_assert_int_eq(roda_ingest_start(f->ingest), RODA_SUCCESS);
    ck_assert_int_eq(roda_ingest_start(f->ingest), RODA_ERROR_STATE);
    ck_assert_int_eq(roda_ingest_add(f->ingest, &roda_input_udp, &udp), RODA_ERROR_STATE);
    char why[64];
    ck_assert(roda_ingest_ready(f->ingest, why, sizeof why)); /* no MQTT input: always ready */

    struct sockaddr_in to4 = {.sin_family = AF_INET,
                              .sin_port = htons(roda_input_udp_port(state, 0))};
    inet_pton(AF_INET, "127.0.0.1", &to4.sin_addr);
    f->sender4 = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_eq(connect(f->sender4, (struct sockaddr *)&to4, sizeof(to4)), 0);
    struct sockaddr_in6 to6 = {.sin6_family = AF_INET6,
                               .sin6_port = htons(roda_input_udp_port(state, 1))};
    inet_pton(AF_INET6, "::1", &to6.sin6_addr);
    f->sender6 = socket(AF_INET6, SOCK_DGRAM, 0);
    ck_assert_int_eq(connect(f->sender6, (struct sockaddr *)&to6, sizeof(to6)), 0);
}

static void setup(fixture_t *f, uint64_t capacity, uint32_t max_devices, uint32_t max_datagram)
{
    setup_policy(f, capacity, max_devices, max_datagram, RODA_JOURNAL_REJECT);
}

static void teardown(fixture_t *f)
{
    close(f->sender4);
    close(f->sender6);
    roda_ingest_destroy(f->ingest);
    roda_journal_reader_close(&f->reader);
    roda_journal_destroy(f->journal);
}

static void send_bytes(int fd, const void *data, size_t size)
{
    ck_assert_int_eq(send(fd, data, size, 0), (ssize_t)size);
}

static void send_batch(int fd, const char *device, uint64_t epoch, uint64_t sequence,
                       const roda_v1_Reading *readings, uint32_t count)
{
    uint8_t buffer[4096];
    roda_encode_batch_t batch = {.device = device,
                                 .sequence = sequence,
                                 .boot_epoch = epoch,
                                 .readings = readings,
                                 .reading_count = count};
    size_t size = roda_encode(&batch, buffer, sizeof(buffer));
    ck_assert_uint_gt(size, 0);
    send_bytes(fd, buffer, size);
}

static void pause_ms(long ms)
{
    struct timespec delay = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&delay, NULL);
}

/* Waits (at most 10 s) until `count` readings are readable and copies them out. */
static void expect_readings(fixture_t *f, roda_reading_t *out, uint64_t count)
{
    uint64_t got = 0;
    for (int tries = 0; tries < 2000 && got < count; tries++) {
        roda_journal_view_t view;
        uint64_t n = roda_journal_peek(&f->reader, count - got, &view);
        for (int run = 0; run < 2; run++) {
            const roda_reading_t *records = view.run[run];
            /* The ingest's clock records are not readings. */
            for (uint64_t i = 0; i < view.run_count[run]; i++)
                if (records[i].kind == RODA_RECORD_READING)
                    out[got++] = records[i];
        }
        roda_journal_consume(&f->reader, n);
        if (got < count)
            pause_ms(5);
    }
    ck_assert_uint_eq(got, count);
}

static uint64_t counter(fixture_t *f, roda_ingest_counter_t which)
{
    roda_ingest_stats_t stats;
    roda_ingest_stats(f->ingest, &stats);
    return stats.inputs[UDP_INPUT].counters[which];
}

/* Waits (at most 10 s) for a counter to reach `value`. */
static void expect_counter(fixture_t *f, roda_ingest_counter_t which, uint64_t value)
{
    for (int tries = 0; tries < 2000 && counter(f, which) < value; tries++)
        pause_ms(5);
    ck_assert_msg(counter(f, which) == value, "%s: %llu, expected %llu",
                  roda_ingest_counter_name(which), (unsigned long long)counter(f, which),
                  (unsigned long long)value);
}

static const roda_v1_Reading one = {.sensor_id = 42, .value = 1.5, .time_us = 99, .quality = 3};

START_TEST(readings_arrive_over_ipv4_and_ipv6)
{
    fixture_t f;
    setup(&f, 1024, 16, 2048);
    const roda_v1_Reading readings[2] = {{.sensor_id = 7, .value = -2.5, .time_us = 1000},
                                         {.sensor_id = 8, .value = 1e9, .quality = 1}};
    uint64_t before = roda_wall_ns();
    send_batch(f.sender4, "dev-a", 1, 0, readings, 2);
    roda_reading_t got[3];
    expect_readings(&f, got, 2);
    send_batch(f.sender6, "dev-b", 1, 0, &one, 1);
    expect_readings(&f, got + 2, 1);
    ck_assert_uint_eq(got[0].sensor_id, 7);
    ck_assert(got[0].value == -2.5);
    ck_assert_int_eq(got[0].device_time_us, 1000);
    ck_assert_uint_eq(got[1].sensor_id, 8);
    ck_assert_uint_eq(got[1].quality, 1);
    ck_assert_uint_eq(got[0].input, UDP_INPUT);
    ck_assert_uint_ge(got[0].ingest_time_ns, before);
    ck_assert_uint_le(got[0].ingest_time_ns, roda_wall_ns());
    const roda_devices_t *devices = roda_ingest_devices(f.ingest);
    ck_assert_str_eq(roda_devices_name(devices, got[0].device), "dev-a");
    ck_assert_str_eq(roda_devices_name(devices, got[2].device), "dev-b");
    expect_counter(&f, RODA_INGEST_READINGS, 3);
    expect_counter(&f, RODA_INGEST_BATCHES, 2);
    expect_counter(&f, RODA_INGEST_MESSAGES, 2);
    roda_ingest_stats_t stats;
    roda_ingest_stats(f.ingest, &stats);
    ck_assert_str_eq(stats.inputs[UDP_INPUT].name, "udp");
    ck_assert_uint_eq(stats.devices, 2);
    /* The granted receive buffer is exported: asked for 1 MiB (or the system's cap). */
    roda_metrics_t m;
    ck_assert_int_eq(roda_metrics_init(&m, roda_metrics_buffer_size(0, 0)), RODA_SUCCESS);
    roda_metrics_reset(&m);
    roda_ingest_input_metrics(f.ingest, &m);
    roda_metrics_finish(&m);
    const char *line = strstr(m.buf, "\nroda_udp_receive_buffer_bytes ");
    ck_assert_ptr_nonnull(line);
    ck_assert_uint_ge(strtoull(line + strlen("\nroda_udp_receive_buffer_bytes "), NULL, 10),
                      1u << 20);
    roda_metrics_destroy(&m);
    teardown(&f);
}
END_TEST

/* Each bad input is counted under its reason, and a good batch sent after it arrives. */
START_TEST(bad_input_is_counted_by_reason)
{
    fixture_t f;
    setup(&f, 1024, 2, 512);
    roda_reading_t got[4];
    uint64_t sequence = 0;
#define THEN_GOOD()                                                                                \
    do {                                                                                           \
        send_batch(f.sender4, "good", 1, sequence++, &one, 1);                                     \
        expect_readings(&f, got, 1);                                                               \
        ck_assert_uint_eq(got[0].sensor_id, 42);                                                   \
    } while (0)

    static const uint8_t garbage[] = {0x12, 0x01, 0x00}; /* sequence sent as bytes */
    send_bytes(f.sender4, garbage, sizeof(garbage));
    THEN_GOOD();
    expect_counter(&f, RODA_INGEST_DECODE_ERROR, 1);

    static const uint8_t cut[] = {0x0a, 0x05, 'a', 'b'}; /* device of 5 bytes, 2 present */
    send_bytes(f.sender6, cut, sizeof(cut));
    THEN_GOOD();
    expect_counter(&f, RODA_INGEST_TRUNCATED, 1);

    static uint8_t big[600];
    send_bytes(f.sender4, big, sizeof(big)); /* over udp_max_datagram: MSG_TRUNC */
    THEN_GOOD();
    expect_counter(&f, RODA_INGEST_OVERSIZE, 1);

    send_batch(f.sender4, "", 1, 0, &one, 1);
    send_batch(f.sender4, "bad\"name", 1, 0, &one, 1);
    THEN_GOOD();
    expect_counter(&f, RODA_INGEST_BAD_DEVICE, 2);

    send_batch(f.sender4, "second", 1, 0, &one, 1); /* max_devices 2: "good" and "second" */
    expect_readings(&f, got, 1);
    send_batch(f.sender4, "third", 1, 0, &one, 1);
    THEN_GOOD();
    expect_counter(&f, RODA_INGEST_TOO_MANY_DEVICES, 1);

    send_batch(f.sender4, "good", 1, sequence - 1, &one, 1); /* replay of the last one */
    THEN_GOOD();
    expect_counter(&f, RODA_INGEST_DUPLICATE, 1);

    sequence += 5; /* five batches never sent */
    THEN_GOOD();
    expect_counter(&f, RODA_INGEST_LOST_UPSTREAM, 5);
    send_batch(f.sender4, "good", 1, sequence - 3, &one, 1); /* one of them, late */
    expect_readings(&f, got, 1);
    expect_counter(&f, RODA_INGEST_LATE, 1);

    const roda_v1_Reading odd[3] = {{.sensor_id = 1, .value = NAN},
                                    {.sensor_id = 2, .value = INFINITY},
                                    {.sensor_id = 3, .value = 3.0}};
    send_batch(f.sender4, "good", 1, sequence++, odd, 3);
    expect_readings(&f, got, 1);
    ck_assert_uint_eq(got[0].sensor_id, 3);
    expect_counter(&f, RODA_INGEST_NON_FINITE, 2);

    THEN_GOOD();
#undef THEN_GOOD
    teardown(&f);
}
END_TEST

/* Sums the named counters of the UDP input. */
static uint64_t sum_counters(const roda_ingest_stats_t *stats, const roda_ingest_counter_t *which,
                             size_t count)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < count; i++)
        sum += stats->inputs[UDP_INPUT].counters[which[i]];
    return sum;
}

/* Waits (at most 10 s) until all `sent` datagrams are received (or dropped by the kernel) and
 * accounted for, then asserts the identities: every message received is an accepted batch or
 * rejected for one reason, and every reading of an accepted batch is accepted or dropped for
 * one reason. */
static void expect_identities(fixture_t *f, uint64_t sent)
{
    static const roda_ingest_counter_t message_outcomes[] = {
        RODA_INGEST_BATCHES,    RODA_INGEST_DECODE_ERROR,      RODA_INGEST_TRUNCATED,
        RODA_INGEST_OVERSIZE,   RODA_INGEST_TOO_MANY_READINGS, RODA_INGEST_UNKNOWN_TOPIC,
        RODA_INGEST_BAD_DEVICE, RODA_INGEST_TOO_MANY_DEVICES,  RODA_INGEST_DUPLICATE};
    static const roda_ingest_counter_t reading_outcomes[] = {
        RODA_INGEST_READINGS,     RODA_INGEST_NON_FINITE,       RODA_INGEST_MISSING_FIELD,
        RODA_INGEST_WRONG_TYPE,   RODA_INGEST_OUT_OF_RANGE,     RODA_INGEST_OTHER_DEVICE,
        RODA_INGEST_JOURNAL_FULL, RODA_INGEST_MALFORMED_READING};
    roda_ingest_stats_t stats;
    uint64_t received = 0, messages = 0, outcomes = 0, batch_readings = 0, reading_sum = 0;
    for (int tries = 0; tries < 2000; tries++, pause_ms(5)) {
        roda_ingest_stats(f->ingest, &stats);
        const uint64_t *counters = stats.inputs[UDP_INPUT].counters;
        messages = counters[RODA_INGEST_MESSAGES];
        received = messages + counters[RODA_INGEST_KERNEL_DROPS];
        outcomes = sum_counters(&stats, message_outcomes,
                                sizeof message_outcomes / sizeof message_outcomes[0]);
        batch_readings = counters[RODA_INGEST_BATCH_READINGS];
        reading_sum = sum_counters(&stats, reading_outcomes,
                                   sizeof reading_outcomes / sizeof reading_outcomes[0]);
        if (received == sent && messages == outcomes && batch_readings == reading_sum)
            break;
    }
    ck_assert_uint_eq(received, sent);
    ck_assert_uint_eq(messages, outcomes);
    ck_assert_uint_eq(batch_readings, reading_sum);
}

/* xorshift64: a fixed pseudo-random sequence from *state. */
static uint64_t next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Good, garbage, partly bad and duplicate datagrams: each counted exactly once, and the
 * identities hold exactly; then a burst of pseudo-random datagrams keeps them. */
START_TEST(counters_reconcile)
{
    fixture_t f;
    setup(&f, 4096, 2, 4096);
    const roda_v1_Reading two[2] = {{.sensor_id = 1, .value = 1.0}, {.sensor_id = 2, .value = 2.0}};
    send_batch(f.sender4, "g", 1, 1, two, 2);
    static const uint8_t garbage[] = {0x12, 0x01, 0x00};
    send_bytes(f.sender4, garbage, sizeof(garbage));
    static const uint8_t cut[] = {0x0a, 0x05, 'a', 'b'};
    send_bytes(f.sender4, cut, sizeof(cut));
    static uint8_t big[5000];
    send_bytes(f.sender4, big, sizeof(big));
    send_batch(f.sender4, "bad\"name", 1, 1, &one, 1);
    send_batch(f.sender4, "h", 0, RODA_SEQUENCE_ABSENT, &one, 1); /* no sequence */
    send_batch(f.sender4, "third", 1, 1, &one, 1);                /* past max_devices 2 */
    send_batch(f.sender4, "g", 1, 1, two, 2);                     /* duplicate */
    /* Partly bad: a good reading, a reading with field number 0, a good reading. */
    uint8_t partial[256];
    size_t size = roda_encode(
        &(roda_encode_batch_t){
            .device = "g", .sequence = 2, .boot_epoch = 1, .readings = &one, .reading_count = 1},
        partial, sizeof partial);
    static const uint8_t bad_reading[] = {0x22, 0x01, 0x00};
    memcpy(partial + size, bad_reading, sizeof bad_reading);
    size += sizeof bad_reading;
    size += roda_encode(&(roda_encode_batch_t){.readings = &one, .reading_count = 1},
                        partial + size, sizeof partial - size);
    send_bytes(f.sender4, partial, size);
    const roda_v1_Reading odd[2] = {{.sensor_id = 3, .value = NAN}, {.sensor_id = 4, .value = 4}};
    send_batch(f.sender4, "g", 1, 3, odd, 2);
    send_batch(f.sender4, "h", 0, RODA_SEQUENCE_ABSENT, &one, 1); /* never a duplicate */
    static roda_v1_Reading many[RODA_DECODE_MAX_READINGS + 1];
    uint8_t payload[4096];
    size = roda_encode(&(roda_encode_batch_t){.device = "g",
                                              .sequence = 4,
                                              .readings = many,
                                              .reading_count = RODA_DECODE_MAX_READINGS + 1},
                       payload, sizeof payload);
    ck_assert_uint_gt(size, 0);
    send_bytes(f.sender4, payload, size);
    enum { GIVEN_DATAGRAMS = 12 };
    expect_counter(&f, RODA_INGEST_MESSAGES, GIVEN_DATAGRAMS);

    static const struct {
        roda_ingest_counter_t counter;
        uint64_t value;
    } expected[] = {
        {RODA_INGEST_BATCHES, 5},           {RODA_INGEST_DECODE_ERROR, 1},
        {RODA_INGEST_TRUNCATED, 1},         {RODA_INGEST_OVERSIZE, 1},
        {RODA_INGEST_BAD_DEVICE, 1},        {RODA_INGEST_TOO_MANY_DEVICES, 1},
        {RODA_INGEST_DUPLICATE, 1},         {RODA_INGEST_TOO_MANY_READINGS, 1},
        {RODA_INGEST_BATCH_READINGS, 9},    {RODA_INGEST_READINGS, 6},
        {RODA_INGEST_MALFORMED_READING, 2}, {RODA_INGEST_NON_FINITE, 1},
        {RODA_INGEST_JOURNAL_FULL, 0},      {RODA_INGEST_LOST_UPSTREAM, 0},
        {RODA_INGEST_SEQUENCE_RESETS, 0},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        expect_counter(&f, expected[i].counter, expected[i].value);
    expect_identities(&f, GIVEN_DATAGRAMS);

    /* Pseudo-random datagrams (a fixed xorshift sequence): every other one random bytes, the
     * others a framed batch of device "h" whose readings hold random bytes. */
    enum { RANDOM_DATAGRAMS = 2000, MAX_RANDOM_READING = 12 };
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < RANDOM_DATAGRAMS; i++) {
        uint8_t noise[64] = {0x0a, 0x01, 'h'};
        size_t length = 0;
        if (i % 2 == 0) {
            length = 1 + (size_t)(next_random(&state) % sizeof noise);
            for (size_t b = 0; b < length; b++)
                noise[b] = (uint8_t)next_random(&state);
        } else {
            length = 3;
            while (length + 2 + MAX_RANDOM_READING <= sizeof noise) {
                uint8_t reading = (uint8_t)(next_random(&state) % (MAX_RANDOM_READING + 1));
                noise[length++] = 0x22;
                noise[length++] = reading;
                for (uint8_t b = 0; b < reading; b++)
                    noise[length++] = (uint8_t)next_random(&state);
            }
        }
        send_bytes(f.sender4, noise, length);
        if (i % 64 == 63)
            pause_ms(1); /* stay within the socket's receive buffer */
    }
    expect_identities(&f, GIVEN_DATAGRAMS + RANDOM_DATAGRAMS);
    teardown(&f);
}
END_TEST

START_TEST(too_many_readings_in_a_datagram)
{
    fixture_t f;
    setup(&f, 2048, 4, 8192);
    static roda_v1_Reading many[RODA_DECODE_MAX_READINGS + 1];
    static uint8_t payload[8192];
    roda_encode_batch_t batch = {.device = "d", .readings = many, .reading_count = 0};
    batch.reading_count = RODA_DECODE_MAX_READINGS + 1;
    size_t size = roda_encode(&batch, payload, sizeof(payload));
    ck_assert_uint_gt(size, 0);
    send_bytes(f.sender4, payload, size);
    send_batch(f.sender4, "d", 1, 1, &one, 1);
    roda_reading_t got[1];
    expect_readings(&f, got, 1);
    expect_counter(&f, RODA_INGEST_TOO_MANY_READINGS, 1);
    teardown(&f);
}
END_TEST

/* REJECT journal with a reader that does not read: overflow is counted, never silent. */
START_TEST(full_journal_is_counted)
{
    fixture_t f;
    setup(&f, 8, 4, 2048);
    roda_v1_Reading five[5];
    for (int i = 0; i < 5; i++)
        five[i] = (roda_v1_Reading){.sensor_id = (uint64_t)i, .value = i};
    send_batch(f.sender4, "d", 1, 0, five, 5);
    send_batch(f.sender4, "d", 1, 1, five, 5);
    for (int tries = 0;
         tries < 2000 &&
         counter(&f, RODA_INGEST_READINGS) + counter(&f, RODA_INGEST_JOURNAL_FULL) < 10;
         tries++)
        pause_ms(5);
    /* The 8 slots hold readings and the ingest's clock records (one at start, one per 100 ms
     * while there is room): every reading that found no slot is counted. */
    uint64_t readings = counter(&f, RODA_INGEST_READINGS);
    ck_assert_uint_ge(readings, 6);
    ck_assert_uint_le(readings, 8);
    ck_assert_uint_eq(counter(&f, RODA_INGEST_JOURNAL_FULL), 10 - readings);
    roda_reading_t got[8];
    expect_readings(&f, got, readings);
    send_batch(f.sender4, "d", 1, 2, five, 5);
    expect_counter(&f, RODA_INGEST_READINGS, readings + 5);
    teardown(&f);
}
END_TEST

/* BLOCK journal: the ingest waits for the reader instead of dropping; nothing is lost. */
START_TEST(blocking_journal_loses_nothing)
{
    fixture_t f;
    setup_policy(&f, 8, 4, 2048, RODA_JOURNAL_BLOCK);
    roda_v1_Reading five[5];
    for (int i = 0; i < 5; i++)
        five[i] = (roda_v1_Reading){.sensor_id = (uint64_t)i, .value = i};
    for (uint64_t s = 0; s < 4; s++)
        send_batch(f.sender4, "d", 1, s, five, 5);
    roda_reading_t got[20];
    expect_readings(&f, got, 20);
    for (int i = 0; i < 20; i++)
        ck_assert_uint_eq(got[i].sensor_id, (uint64_t)(i % 5));
    expect_counter(&f, RODA_INGEST_READINGS, 20);
    ck_assert_uint_eq(counter(&f, RODA_INGEST_JOURNAL_FULL), 0);
    teardown(&f);
}
END_TEST

START_TEST(bad_configuration_is_refused)
{
    roda_journal_config_t journal_config = {.capacity = 16, .record_size = 16};
    roda_journal_t *wrong_record;
    ck_assert_int_eq(roda_journal_create(&journal_config, &wrong_record), RODA_SUCCESS);
    roda_ingest_t *ingest = (roda_ingest_t *)1;
    ck_assert_int_eq(
        roda_ingest_create(16, 1024, RODA_INGEST_MAX_MESSAGE, wrong_record, NULL, &ingest),
        RODA_ERROR_INVALID_ARG);
    ck_assert_ptr_null(ingest);
    roda_journal_destroy(wrong_record);

    journal_config.record_size = sizeof(roda_reading_t);
    roda_journal_t *journal;
    ck_assert_int_eq(roda_journal_create(&journal_config, &journal), RODA_SUCCESS);
    ck_assert_int_eq(
        roda_ingest_create(16, 1024, RODA_DECODE_MAX_PAYLOAD + 1, journal, NULL, &ingest),
        RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_ingest_create(16, 1024, RODA_INGEST_MAX_MESSAGE, journal, NULL, &ingest),
                     RODA_SUCCESS);
    roda_input_udp_settings_t udp = {.binds = {"no-port"},
                                     .bind_count = 1,
                                     .max_datagram = 1024,
                                     .batch = 8,
                                     .decoder = roda_decoder_default()};
    ck_assert_int_eq(roda_ingest_add(ingest, &roda_input_udp, &udp), RODA_ERROR_INVALID_ARG);
    udp.binds[0] = "127.0.0.1:0";
    udp.max_datagram = 0;
    ck_assert_int_eq(roda_ingest_add(ingest, &roda_input_udp, &udp), RODA_ERROR_INVALID_ARG);

    /* The MQTT input's settings from the gateway's defaults, then one bad field at a time. */
    roda_config_t config;
    roda_config_defaults(&config);
    snprintf(config.mqtt.topics[0], sizeof config.mqtt.topics[0], "roda/+/readings");
    config.mqtt.topic_count = 1;
    roda_input_mqtt_settings_t mqtt;
    bool enabled;
    char why[160];
    ck_assert(roda_input_mqtt.configure(&config, &mqtt, &enabled, why, sizeof why));
    mqtt.qos = 2;
    ck_assert_int_eq(roda_ingest_add(ingest, &roda_input_mqtt, &mqtt), RODA_ERROR_INVALID_ARG);
    mqtt.qos = 1;
    snprintf(mqtt.device_patterns[0], sizeof mqtt.device_patterns[0], "roda/+/readings");
    ck_assert_int_eq(roda_ingest_add(ingest, &roda_input_mqtt, &mqtt), RODA_ERROR_INVALID_ARG);
    mqtt.device_patterns[0][0] = '\0';
    mqtt.conn.client_id = NULL;
    ck_assert_int_eq(roda_ingest_add(ingest, &roda_input_mqtt, &mqtt), RODA_ERROR_INVALID_ARG);
    mqtt.conn.client_id = "c";
    ck_assert_int_eq(roda_ingest_add(ingest, &roda_input_mqtt, &mqtt), RODA_SUCCESS);
    ck_assert(!roda_ingest_ready(ingest, why, sizeof why)); /* never started: not connected */
    ck_assert_str_eq(why, "mqtt broker not connected");
    /* A device topic level the first topic does not have is a config error. */
    config.mqtt.device_from = RODA_DEVICE_FROM_TOPIC;
    config.mqtt.device_topic_level = 5;
    ck_assert(!roda_input_mqtt.configure(&config, &mqtt, &enabled, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "mqtt.device_topic_level"));
    /* Each filter has its own device pattern; one without the level is named. */
    config.mqtt.device_topic_level = 1;
    snprintf(config.mqtt.topics[1], sizeof config.mqtt.topics[1], "site/+/data/+");
    config.mqtt.topic_count = 2;
    ck_assert(roda_input_mqtt.configure(&config, &mqtt, &enabled, why, sizeof why));
    ck_assert_str_eq(mqtt.device_patterns[0], "roda/{device}/readings");
    ck_assert_str_eq(mqtt.device_patterns[1], "site/{device}/data/+");
    snprintf(config.mqtt.topics[1], sizeof config.mqtt.topics[1], "site/#");
    ck_assert(!roda_input_mqtt.configure(&config, &mqtt, &enabled, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "'site/#'"));
    roda_ingest_destroy(ingest);
    roda_journal_destroy(journal);

    for (int i = 0; i < RODA_INGEST_COUNTER_COUNT; i++)
        ck_assert_ptr_nonnull(roda_ingest_counter_name((roda_ingest_counter_t)i));
    ck_assert_ptr_null(roda_ingest_counter_name(RODA_INGEST_COUNTER_COUNT));
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("ingest_udp");
    TCase *tc = tcase_create("ingest_udp");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, readings_arrive_over_ipv4_and_ipv6);
    tcase_add_test(tc, bad_input_is_counted_by_reason);
    tcase_add_test(tc, counters_reconcile);
    tcase_add_test(tc, too_many_readings_in_a_datagram);
    tcase_add_test(tc, full_journal_is_counted);
    tcase_add_test(tc, blocking_journal_loses_nothing);
    tcase_add_test(tc, bad_configuration_is_refused);
    suite_add_tcase(suite, tc);
    return roda_check_run(suite);
}
