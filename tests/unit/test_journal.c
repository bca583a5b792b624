/* test_journal.c - the anonymous journal: bounds, wrap-around, back-pressure, several readers. */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roda_check.h"
#include "roda_journal.h"

typedef struct record {
    uint64_t sequence;
    uint64_t check;
} record_t;

static roda_journal_t *make(uint64_t capacity, roda_journal_policy_t policy, uint32_t readers)
{
    roda_journal_config_t config = {.capacity = capacity,
                                    .record_size = sizeof(record_t),
                                    .max_readers = readers,
                                    .policy = policy};
    roda_journal_t *journal = NULL;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_SUCCESS);
    return journal;
}

static roda_result_t append_sequence(roda_journal_t *journal, uint64_t sequence)
{
    record_t record = {.sequence = sequence, .check = ~sequence};
    return roda_journal_append(journal, &record);
}

/* Reads everything available, checking order and content; returns the count. */
static uint64_t read_all(roda_journal_reader_t *reader, uint64_t *next_expected)
{
    roda_journal_view_t view;
    uint64_t total = 0, count;
    while ((count = roda_journal_peek(reader, 1000, &view)) > 0) {
        for (int run = 0; run < 2; run++) {
            const record_t *records = view.run[run];
            for (uint64_t i = 0; i < view.run_count[run]; i++) {
                ck_assert_uint_eq(records[i].sequence, *next_expected);
                ck_assert_uint_eq(records[i].check, ~*next_expected);
                (*next_expected)++;
            }
        }
        roda_journal_consume(reader, count);
        total += count;
    }
    return total;
}

START_TEST(bad_parameters_are_refused)
{
    roda_journal_t *journal = (roda_journal_t *)1;
    roda_journal_config_t config = {.capacity = 1000, .record_size = 16};
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_ERROR_INVALID_ARG);
    ck_assert_ptr_null(journal);
    config.capacity = 0;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_ERROR_INVALID_ARG);
    config.capacity = 1024;
    config.record_size = 12;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_ERROR_INVALID_ARG);
    config.record_size = 0;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_ERROR_INVALID_ARG);
    config.record_size = 16;
    config.max_readers = RODA_JOURNAL_MAX_READERS + 1;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_ERROR_INVALID_ARG);
    config.max_readers = 1;
    config.policy = 7;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_journal_create(NULL, &journal), RODA_ERROR_INVALID_ARG);
    ck_assert_str_eq(roda_result_str(RODA_ERROR_INVALID_ARG), "RODA_ERROR_INVALID_ARG");
}
END_TEST

START_TEST(wraps_around_at_capacity_boundary)
{
    roda_journal_t *journal = make(8, RODA_JOURNAL_BLOCK, 1);
    roda_journal_reader_t reader;
    ck_assert_int_eq(roda_journal_reader_open(journal, &reader), RODA_SUCCESS);
    uint64_t next = 0, written = 0;
    /* Positions 0..5, then 6..13 crossing the end of the ring: the view splits in two runs. */
    for (; written < 6; written++)
        ck_assert_int_eq(append_sequence(journal, written), RODA_SUCCESS);
    ck_assert_uint_eq(read_all(&reader, &next), 6);
    for (; written < 14; written++)
        ck_assert_int_eq(append_sequence(journal, written), RODA_SUCCESS);
    roda_journal_view_t view;
    ck_assert_uint_eq(roda_journal_peek(&reader, 100, &view), 8);
    ck_assert_uint_eq(view.run_count[0], 2);
    ck_assert_uint_eq(view.run_count[1], 6);
    ck_assert_ptr_eq(view.run[1], journal->data);
    ck_assert_uint_eq(view.position, 6);
    ck_assert_uint_eq(read_all(&reader, &next), 8);
    ck_assert_uint_eq(next, 14);
    /* A claim never crosses the end of the ring: it is cut at the boundary. */
    void *slots;
    uint64_t granted;
    ck_assert_int_eq(roda_journal_claim(journal, 8, &slots, &granted), RODA_SUCCESS);
    ck_assert_uint_eq(granted, 2);
    roda_journal_reader_close(&reader);
    roda_journal_destroy(journal);
}
END_TEST

START_TEST(reject_refuses_exactly_at_the_bound)
{
    roda_journal_t *journal = make(16, RODA_JOURNAL_REJECT, 1);
    roda_journal_reader_t reader;
    ck_assert_int_eq(roda_journal_reader_open(journal, &reader), RODA_SUCCESS);
    for (uint64_t i = 0; i < 16; i++)
        ck_assert_int_eq(append_sequence(journal, i), RODA_SUCCESS);
    ck_assert_int_eq(append_sequence(journal, 16), RODA_FULL);
    ck_assert_int_eq(append_sequence(journal, 16), RODA_FULL);
    roda_journal_stats_t stats;
    roda_journal_stats(journal, &stats);
    ck_assert_uint_eq(stats.appended, 16);
    ck_assert_uint_eq(stats.rejected, 2);
    ck_assert_uint_eq(stats.slowest_lag, 16);
    /* One record read frees exactly one slot. */
    roda_journal_view_t view;
    ck_assert_uint_eq(roda_journal_peek(&reader, 1, &view), 1);
    roda_journal_consume(&reader, 1);
    ck_assert_int_eq(append_sequence(journal, 16), RODA_SUCCESS);
    ck_assert_int_eq(append_sequence(journal, 17), RODA_FULL);
    uint64_t next = 1;
    ck_assert_uint_eq(read_all(&reader, &next), 16);
    roda_journal_stats(journal, &stats);
    ck_assert_uint_eq(stats.rejected, 3);
    ck_assert_uint_eq(stats.slowest_lag, 0);
    roda_journal_reader_close(&reader);
    roda_journal_destroy(journal);
}
END_TEST

typedef struct blocked_append {
    roda_journal_t *journal;
    _Atomic int done;
    roda_result_t result;
} blocked_append_t;

static void *append_one_more(void *arg)
{
    blocked_append_t *job = arg;
    job->result = append_sequence(job->journal, 16);
    atomic_store(&job->done, 1);
    return NULL;
}

START_TEST(block_waits_exactly_at_the_bound)
{
    roda_journal_t *journal = make(16, RODA_JOURNAL_BLOCK, 1);
    roda_journal_reader_t reader;
    ck_assert_int_eq(roda_journal_reader_open(journal, &reader), RODA_SUCCESS);
    for (uint64_t i = 0; i < 16; i++)
        ck_assert_int_eq(append_sequence(journal, i), RODA_SUCCESS);
    /* The 17th append must wait for the reader, however long: it may not overwrite record 0. */
    blocked_append_t job = {.journal = journal};
    pthread_t writer;
    ck_assert_int_eq(pthread_create(&writer, NULL, append_one_more, &job), 0);
    roda_journal_stats_t stats = {0};
    for (int i = 0; i < 5000 && stats.writer_waits == 0; i++) { /* bounded: the writer starts */
        nanosleep(&(struct timespec){.tv_nsec = 1000 * 1000}, NULL);
        roda_journal_stats(journal, &stats);
    }
    nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL); /* and keeps waiting */
    ck_assert_int_eq(atomic_load(&job.done), 0);
    roda_journal_stats(journal, &stats);
    ck_assert_uint_eq(stats.appended, 16);
    ck_assert_uint_eq(stats.writer_waits, 1);
    ck_assert_uint_eq(stats.rejected, 0);
    /* Reading one record frees exactly one slot: the writer completes. */
    roda_journal_view_t view;
    ck_assert_uint_eq(roda_journal_peek(&reader, 1, &view), 1);
    ck_assert_uint_eq(((const record_t *)view.run[0])->sequence, 0);
    roda_journal_consume(&reader, 1);
    pthread_join(writer, NULL);
    ck_assert_int_eq(job.result, RODA_SUCCESS);
    uint64_t next = 1;
    ck_assert_uint_eq(read_all(&reader, &next), 16);
    ck_assert_uint_eq(next, 17);
    roda_journal_reader_close(&reader);
    roda_journal_destroy(journal);
}
END_TEST

START_TEST(without_readers_the_writer_is_never_gated)
{
    roda_journal_t *journal = make(4, RODA_JOURNAL_REJECT, 2);
    for (uint64_t i = 0; i < 100; i++)
        ck_assert_int_eq(append_sequence(journal, i), RODA_SUCCESS);
    roda_journal_reader_t reader;
    ck_assert_int_eq(roda_journal_reader_open(journal, &reader), RODA_SUCCESS);
    ck_assert_uint_eq(reader.position, 100);
    roda_journal_reader_t second, third;
    ck_assert_int_eq(roda_journal_reader_open(journal, &second), RODA_SUCCESS);
    ck_assert_int_eq(roda_journal_reader_open(journal, &third), RODA_ERROR_TOO_MANY);
    roda_journal_reader_close(&second);
    ck_assert_int_eq(roda_journal_reader_open(journal, &third), RODA_SUCCESS);
    roda_journal_reader_close(&third);
    roda_journal_reader_close(&reader);
    roda_journal_destroy(journal);
}
END_TEST

START_TEST(close_is_seen_after_the_last_record)
{
    roda_journal_t *journal = make(8, RODA_JOURNAL_BLOCK, 1);
    roda_journal_reader_t reader;
    ck_assert_int_eq(roda_journal_reader_open(journal, &reader), RODA_SUCCESS);
    ck_assert_int_eq(append_sequence(journal, 0), RODA_SUCCESS);
    roda_journal_close(journal);
    ck_assert_int_eq(roda_journal_reader_status(&reader), RODA_SUCCESS);
    uint64_t next = 0;
    ck_assert_uint_eq(read_all(&reader, &next), 1);
    ck_assert_int_eq(roda_journal_reader_status(&reader), RODA_CLOSED);
    roda_journal_reader_close(&reader);
    roda_journal_destroy(journal);
}
END_TEST

/* ---- Threads: one writer, readers at different speeds, BLOCK back-pressure ---------------- */

typedef struct reader_job {
    roda_journal_t *journal;
    roda_journal_reader_t reader;
    uint64_t batch; /* most records consumed per batch: small = slow reader */
    uint64_t received;
    uint64_t checksum;
    int in_order;
} reader_job_t;

static void *reader_thread(void *arg)
{
    reader_job_t *job = arg;
    roda_idle_config_t idle = RODA_IDLE_DEFAULT;
    roda_idle_state_t state = {0};
    uint64_t expected = 0;
    job->in_order = 1;
    for (;;) {
        roda_journal_view_t view;
        uint64_t count = roda_journal_peek(&job->reader, job->batch, &view);
        if (count == 0) {
            if (roda_journal_reader_status(&job->reader) == RODA_CLOSED)
                break;
            roda_journal_reader_wait(&job->reader, &idle, &state);
            continue;
        }
        roda_idle_reset(&state);
        for (int run = 0; run < 2; run++) {
            const record_t *records = view.run[run];
            for (uint64_t i = 0; i < view.run_count[run]; i++) {
                if (records[i].sequence != expected || records[i].check != ~expected)
                    job->in_order = 0;
                job->checksum += records[i].sequence * 2654435761u;
                expected++;
            }
        }
        job->received += count;
        roda_journal_consume(&job->reader, count);
    }
    return NULL;
}

static void run_writer_and_readers(uint64_t records, uint64_t capacity, int reader_count)
{
    roda_journal_t *journal = make(capacity, RODA_JOURNAL_BLOCK, (uint32_t)reader_count);
    reader_job_t jobs[4];
    pthread_t threads[4];
    const uint64_t batches[4] = {1, 7, 256, 4096};
    for (int i = 0; i < reader_count; i++) {
        jobs[i] = (reader_job_t){.journal = journal, .batch = batches[i]};
        ck_assert_int_eq(roda_journal_reader_open(journal, &jobs[i].reader), RODA_SUCCESS);
        ck_assert_int_eq(pthread_create(&threads[i], NULL, reader_thread, &jobs[i]), 0);
    }
    uint64_t expected_checksum = 0;
    for (uint64_t written = 0; written < records;) {
        void *slots;
        uint64_t granted;
        ck_assert_int_eq(roda_journal_claim(journal, 64, &slots, &granted), RODA_SUCCESS);
        record_t *out = slots;
        granted = roda_journal_min_u64(granted, records - written);
        for (uint64_t i = 0; i < granted; i++) {
            out[i] = (record_t){.sequence = written + i, .check = ~(written + i)};
            expected_checksum += (written + i) * 2654435761u;
        }
        roda_journal_commit(journal, granted);
        written += granted;
    }
    roda_journal_close(journal);
    for (int i = 0; i < reader_count; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_uint_eq(jobs[i].received, records);
        ck_assert_uint_eq(jobs[i].checksum, expected_checksum);
        ck_assert(jobs[i].in_order);
        roda_journal_reader_close(&jobs[i].reader);
    }
    roda_journal_stats_t stats;
    roda_journal_stats(journal, &stats);
    ck_assert_uint_eq(stats.appended, records);
    ck_assert_uint_eq(stats.rejected, 0);
    roda_journal_destroy(journal);
}

START_TEST(readers_at_different_speeds_see_every_record_in_order)
{
    run_writer_and_readers(2000000, 1024, 4);
}
END_TEST

START_TEST(ten_million_records_checksum)
{
    run_writer_and_readers(10000000, 4096, 1);
}
END_TEST

Suite *journal_suite(void)
{
    Suite *suite = suite_create("journal");
    TCase *single = tcase_create("single-thread");
    tcase_add_test(single, bad_parameters_are_refused);
    tcase_add_test(single, wraps_around_at_capacity_boundary);
    tcase_add_test(single, reject_refuses_exactly_at_the_bound);
    tcase_add_test(single, block_waits_exactly_at_the_bound);
    tcase_add_test(single, without_readers_the_writer_is_never_gated);
    tcase_add_test(single, close_is_seen_after_the_last_record);
    suite_add_tcase(suite, single);
    TCase *threads = tcase_create("threads");
    tcase_set_timeout(threads, 240);
    tcase_add_test(threads, readers_at_different_speeds_see_every_record_in_order);
    tcase_add_test(threads, ten_million_records_checksum);
    suite_add_tcase(suite, threads);
    return suite;
}

int main(void)
{
    return roda_check_run(journal_suite());
}
