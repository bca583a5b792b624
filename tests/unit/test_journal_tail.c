/* test_journal_tail.c - tail readers, which never gate the writer: exact gap counts, resuming at a
 * position still in the ring or too old, a tail across segment rolls, and under threads a fast
 * writer with a slow tail that must never take a torn record for an intact one. */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "roda_check.h"
#include "../journal/journal_record.h"
#include "roda_journal.h"

static roda_journal_t *make(uint64_t capacity)
{
    roda_journal_config_t config = {
        .capacity = capacity, .record_size = sizeof(test_record_t), .policy = RODA_JOURNAL_REJECT};
    roda_journal_t *journal = NULL;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_SUCCESS);
    return journal;
}

static void append(roda_journal_t *journal, uint64_t count)
{
    for (uint64_t i = 0; i < count; i++) {
        test_record_t record = test_record_make(journal->claim_position);
        ck_assert_int_eq(roda_journal_append(journal, &record), RODA_SUCCESS);
    }
}

/* Peeks, copies and consumes up to `max` records; returns the count delivered (0 on a gap, with
 * *missed set) after checking each delivered record against its position. */
static uint64_t tail_read(roda_journal_tail_t *tail, uint64_t max, uint64_t *missed)
{
    test_record_t buffer[64];
    roda_journal_view_t view;
    uint64_t count = roda_journal_tail_peek(tail, roda_journal_min_u64(max, 64), &view);
    roda_journal_tail_copy(tail, &view, buffer);
    *missed = roda_journal_tail_consume(tail, count);
    if (*missed != 0)
        return 0;
    for (uint64_t i = 0; i < count; i++)
        ck_assert(test_record_valid(&buffer[i], view.position + i));
    return count;
}

START_TEST(gap_counts_are_exact)
{
    /* Capacity 16: the writer announces its limit 4 records (a quarter) ahead. */
    roda_journal_t *journal = make(16);
    roda_journal_tail_t tail;
    ck_assert_int_eq(roda_journal_tail_open(journal, &tail), RODA_SUCCESS);
    ck_assert_uint_eq(tail.position, 0);
    append(journal, 40); /* limit 40: positions below 24 may be overwritten */
    ck_assert_uint_eq(roda_journal_tail_oldest(journal), 24);
    roda_journal_view_t view;
    ck_assert_uint_eq(roda_journal_tail_peek(&tail, 100, &view), 16); /* at most a ring */
    ck_assert_uint_eq(roda_journal_tail_consume(&tail, 16), 24);
    ck_assert_uint_eq(tail.position, 24);
    ck_assert_uint_eq(tail.missed, 24);
    uint64_t missed;
    ck_assert_uint_eq(tail_read(&tail, 100, &missed), 16);
    ck_assert_uint_eq(missed, 0);
    ck_assert_uint_eq(tail.position, 40);

    /* One more record moves the announced limit to 44: 28 is now the oldest intact record. */
    roda_journal_tail_t behind;
    ck_assert_int_eq(roda_journal_tail_open_at(journal, 25, &behind, &missed), RODA_SUCCESS);
    ck_assert_uint_eq(missed, 0);
    append(journal, 1);
    ck_assert_uint_eq(roda_journal_tail_oldest(journal), 28);
    ck_assert_uint_eq(tail_read(&behind, 100, &missed), 0);
    ck_assert_uint_eq(missed, 3);
    ck_assert_uint_eq(behind.position, 28);
    ck_assert_uint_eq(tail_read(&behind, 100, &missed), 13);
    ck_assert_uint_eq(behind.missed, 3);
    ck_assert_uint_eq(tail_read(&tail, 100, &missed), 1);
    ck_assert_uint_eq(tail.missed, 24);
    roda_journal_destroy(journal);
}
END_TEST

START_TEST(a_tail_within_three_quarters_never_misses)
{
    roda_journal_t *journal = make(16);
    roda_journal_tail_t tail;
    ck_assert_int_eq(roda_journal_tail_open(journal, &tail), RODA_SUCCESS);
    for (int round = 0; round < 100; round++) {
        append(journal, 12);
        uint64_t missed;
        ck_assert_uint_eq(tail_read(&tail, 12, &missed), 12);
        ck_assert_uint_eq(missed, 0);
    }
    ck_assert_uint_eq(tail.missed, 0);
    roda_journal_destroy(journal);
}
END_TEST

START_TEST(resume_at_a_retained_or_too_old_position)
{
    roda_journal_t *journal = make(16);
    append(journal, 41); /* announced limit 44: oldest intact 28 */
    roda_journal_tail_t tail;
    uint64_t missed = 99;
    ck_assert_int_eq(roda_journal_tail_open_at(journal, 30, &tail, &missed), RODA_SUCCESS);
    ck_assert_uint_eq(missed, 0);
    ck_assert_uint_eq(tail.position, 30);
    ck_assert_uint_eq(tail_read(&tail, 100, &missed), 11);
    /* Too old: starts at the oldest intact record and reports the gap. */
    ck_assert_int_eq(roda_journal_tail_open_at(journal, 10, &tail, &missed), RODA_SUCCESS);
    ck_assert_uint_eq(missed, 18);
    ck_assert_uint_eq(tail.missed, 18);
    ck_assert_uint_eq(tail.position, 28);
    ck_assert_uint_eq(tail_read(&tail, 100, &missed), 13);
    /* Now (the write position) is fine; the future is not. */
    ck_assert_int_eq(roda_journal_tail_open_at(journal, 41, &tail, NULL), RODA_SUCCESS);
    ck_assert_int_eq(roda_journal_tail_open_at(journal, 42, &tail, NULL), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_journal_tail_open(NULL, &tail), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_journal_tail_open_at(journal, 0, NULL, NULL), RODA_ERROR_INVALID_ARG);
    roda_journal_destroy(journal);
}
END_TEST

START_TEST(tail_does_not_gate_and_sees_close)
{
    roda_journal_t *journal = make(16);
    roda_journal_tail_t tail;
    ck_assert_int_eq(roda_journal_tail_open(journal, &tail), RODA_SUCCESS);
    append(journal, 1000); /* REJECT would refuse if the tail gated the writer */
    roda_journal_stats_t stats;
    roda_journal_stats(journal, &stats);
    ck_assert_uint_eq(stats.rejected, 0);
    ck_assert_uint_eq(stats.readers, 0);
    roda_journal_close(journal);
    ck_assert_int_eq(roda_journal_tail_status(&tail), RODA_SUCCESS);
    uint64_t missed, delivered = 0;
    while (tail.position < 1000)
        delivered += tail_read(&tail, 64, &missed);
    ck_assert_uint_eq(delivered + tail.missed, 1000);
    ck_assert_int_eq(roda_journal_tail_status(&tail), RODA_CLOSED);
    roda_journal_destroy(journal);
}
END_TEST

START_TEST(tail_across_segment_rolls)
{
    char directory[] = "/tmp/roda-journal-tail-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(directory));
    roda_journal_config_t config = {.capacity = TEST_CAPACITY,
                                    .record_size = sizeof(test_record_t),
                                    .directory = directory,
                                    .segment_records = TEST_SEGMENT_RECORDS,
                                    .retained_segments = TEST_RETAINED};
    roda_journal_t *journal;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_SUCCESS);
    roda_journal_tail_t tail;
    ck_assert_int_eq(roda_journal_tail_open(journal, &tail), RODA_SUCCESS);
    append(journal, TEST_CAPACITY);
    ck_assert_uint_eq(roda_journal_tail_oldest(journal), 0);
    /* The roll at 1024 replaces the window of positions 0..255 at once. */
    append(journal, 1);
    ck_assert_uint_eq(roda_journal_tail_oldest(journal), TEST_SEGMENT_RECORDS);
    uint64_t missed, delivered = 0;
    ck_assert_uint_eq(tail_read(&tail, 64, &missed), 0);
    ck_assert_uint_eq(missed, TEST_SEGMENT_RECORDS);
    while (tail.position < TEST_CAPACITY + 1)
        delivered += tail_read(&tail, 64, &missed);
    ck_assert_uint_eq(delivered, TEST_CAPACITY + 1 - TEST_SEGMENT_RECORDS);
    roda_journal_destroy(journal);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", directory);
    ck_assert_int_eq(system(command), 0);
}
END_TEST

/* ---- Threads: a fast writer and a slow tail reader ---------------------------------------- */

typedef struct tail_job {
    roda_journal_tail_t tail;
    uint64_t delivered;
    uint64_t gaps;
    uint64_t torn; /* delivered records that failed their check: must stay 0 */
    uint64_t out_of_order;
} tail_job_t;

static void *slow_tail(void *arg)
{
    tail_job_t *job = arg;
    roda_idle_config_t idle = RODA_IDLE_DEFAULT;
    roda_idle_state_t state = {0};
    test_record_t buffer[64];
    struct timespec nap = {.tv_nsec = 20000};
    for (uint64_t batch = 0;; batch++) {
        roda_journal_view_t view;
        uint64_t count = roda_journal_tail_peek(&job->tail, 64, &view);
        if (count == 0) {
            if (roda_journal_tail_status(&job->tail) == RODA_CLOSED)
                break;
            roda_journal_tail_wait(&job->tail, &idle, &state);
            continue;
        }
        roda_idle_reset(&state);
        roda_journal_tail_copy(&job->tail, &view, buffer);
        if (batch % 16 == 0)
            nanosleep(&nap, NULL); /* now and then slow enough for the writer to lap it */
        if (roda_journal_tail_consume(&job->tail, count) != 0) {
            job->gaps++;
            continue;
        }
        for (uint64_t i = 0; i < count; i++)
            job->torn += !test_record_valid(&buffer[i], view.position + i);
        job->out_of_order += view.position + count != job->tail.position;
        job->delivered += count;
    }
    return NULL;
}

START_TEST(slow_tail_never_delivers_a_torn_record)
{
    const uint64_t records = 400000;
    roda_journal_t *journal = make(256);
    tail_job_t job = {0};
    ck_assert_int_eq(roda_journal_tail_open(journal, &job.tail), RODA_SUCCESS);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, slow_tail, &job), 0);
    for (uint64_t written = 0; written < records;) {
        void *slots;
        uint64_t granted;
        ck_assert_int_eq(roda_journal_claim(journal, 32, &slots, &granted), RODA_SUCCESS);
        granted = roda_journal_min_u64(granted, records - written);
        test_record_t *out = slots;
        for (uint64_t i = 0; i < granted; i++)
            out[i] = test_record_make(written + i);
        roda_journal_commit(journal, granted);
        written += granted;
    }
    roda_journal_close(journal);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    printf("slow tail: delivered %" PRIu64 " missed %" PRIu64 " in %" PRIu64 " gaps\n",
           job.delivered, job.tail.missed, job.gaps);
    ck_assert_uint_eq(job.torn, 0);
    ck_assert_uint_eq(job.out_of_order, 0);
    ck_assert_uint_eq(job.delivered + job.tail.missed, records);
    ck_assert_uint_eq(job.tail.position, records);
    roda_journal_destroy(journal);
}
END_TEST

Suite *journal_tail_suite(void)
{
    Suite *suite = suite_create("journal_tail");
    TCase *single = tcase_create("single-thread");
    tcase_add_test(single, gap_counts_are_exact);
    tcase_add_test(single, a_tail_within_three_quarters_never_misses);
    tcase_add_test(single, resume_at_a_retained_or_too_old_position);
    tcase_add_test(single, tail_does_not_gate_and_sees_close);
    tcase_add_test(single, tail_across_segment_rolls);
    suite_add_tcase(suite, single);
    TCase *threads = tcase_create("threads");
    tcase_set_timeout(threads, 60);
    tcase_add_test(threads, slow_tail_never_delivers_a_torn_record);
    suite_add_tcase(suite, threads);
    return suite;
}

int main(void)
{
    return roda_check_run(journal_tail_suite());
}
