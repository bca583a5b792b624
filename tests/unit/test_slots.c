/* test_slots.c - the slot store: bounds, the never-written and cleared states, and readers that
 * never see a torn slot while a writer hammers (and clears) the store (run under TSan in the tsan
 * build). */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roda_check.h"
#include "roda_slots.h"

/* Seven words all derived from one counter: any mix of two writes breaks a relation. */
typedef struct record {
    uint64_t n, triple, inverse, square, rotated, sum, check;
} record_t;

static record_t record_of(uint64_t n)
{
    record_t record = {.n = n,
                       .triple = n * 3,
                       .inverse = ~n,
                       .square = n * n,
                       .rotated = (n << 17) | (n >> 47),
                       .sum = n + 0x9e3779b97f4a7c15ull};
    record.check =
        record.n ^ record.triple ^ record.inverse ^ record.square ^ record.rotated ^ record.sum;
    return record;
}

static int consistent(const record_t *record)
{
    record_t expected = record_of(record->n);
    return memcmp(record, &expected, sizeof(expected)) == 0;
}

START_TEST(bad_parameters_are_refused)
{
    roda_slots_t *store = (roda_slots_t *)1;
    ck_assert_int_eq(roda_slots_create(0, 8, &store), RODA_ERROR_INVALID_ARG);
    ck_assert_ptr_null(store);
    ck_assert_int_eq(roda_slots_create(RODA_SLOTS_MAX_COUNT + 1, 8, &store),
                     RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_slots_create(4, 0, &store), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_slots_create(4, 12, &store), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_slots_create(4, RODA_SLOTS_MAX_SLOT_SIZE + 8, &store),
                     RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_slots_create(4, 8, NULL), RODA_ERROR_INVALID_ARG);
    roda_slots_destroy(NULL);
}
END_TEST

START_TEST(slots_hold_the_latest_write_and_start_never_written)
{
    roda_slots_t *store;
    ck_assert_int_eq(roda_slots_create(10, sizeof(record_t), &store), RODA_SUCCESS);
    /* 8 bytes of sequence + 56 of data: exactly one cache line per slot. */
    ck_assert_uint_eq(store->stride_words, 8);
    record_t out = record_of(1234);
    for (uint64_t i = 0; i < 10; i++)
        ck_assert_int_eq(roda_slots_read(store, i, &out), RODA_ERROR_STATE);
    ck_assert_uint_eq(out.n, 1234); /* untouched */
    record_t first = record_of(5), second = record_of(6);
    ck_assert_int_eq(roda_slots_write(store, 3, &first), RODA_SUCCESS);
    ck_assert_int_eq(roda_slots_write(store, 9, &first), RODA_SUCCESS);
    ck_assert_int_eq(roda_slots_write(store, 3, &second), RODA_SUCCESS);
    ck_assert_int_eq(roda_slots_read(store, 3, &out), RODA_SUCCESS);
    ck_assert_mem_eq(&out, &second, sizeof(out));
    ck_assert_int_eq(roda_slots_read(store, 9, &out), RODA_SUCCESS);
    ck_assert_mem_eq(&out, &first, sizeof(out));
    ck_assert_int_eq(roda_slots_read(store, 4, &out), RODA_ERROR_STATE);
    ck_assert_int_eq(roda_slots_read(store, 10, &out), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_slots_write(store, 10, &first), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_slots_write(store, UINT64_MAX, &first), RODA_ERROR_INVALID_ARG);
    roda_slots_destroy(store);
}
END_TEST

START_TEST(data_at_any_alignment_is_copied_exactly)
{
    roda_slots_t *store;
    ck_assert_int_eq(roda_slots_create(2, 64, &store), RODA_SUCCESS);
    ck_assert_uint_eq(store->stride_words, 16); /* 72 bytes round up to two lines */
    uint8_t source[65], target[65];
    for (int i = 0; i < 65; i++)
        source[i] = (uint8_t)(i * 7 + 1);
    memset(target, 0, sizeof(target));
    ck_assert_int_eq(roda_slots_write(store, 1, source + 1), RODA_SUCCESS);
    ck_assert_int_eq(roda_slots_read(store, 1, target + 1), RODA_SUCCESS);
    ck_assert_mem_eq(target + 1, source + 1, 64);
    ck_assert_uint_eq(target[0], 0);
    roda_slots_destroy(store);
}
END_TEST

START_TEST(a_cleared_slot_reads_as_empty_until_written_again)
{
    roda_slots_t *store;
    ck_assert_int_eq(roda_slots_create(2, sizeof(record_t), &store), RODA_SUCCESS);
    record_t first = record_of(1), second = record_of(2), out = {0};
    ck_assert_int_eq(roda_slots_clear(store, 0), RODA_SUCCESS);
    ck_assert_int_eq(roda_slots_read(store, 0, &out), RODA_ERROR_STATE);
    ck_assert_int_eq(roda_slots_write(store, 0, &first), RODA_SUCCESS);
    ck_assert_int_eq(roda_slots_write(store, 1, &first), RODA_SUCCESS);
    ck_assert_int_eq(roda_slots_clear(store, 0), RODA_SUCCESS);
    ck_assert_int_eq(roda_slots_read(store, 0, &out), RODA_ERROR_STATE);
    ck_assert_uint_eq(out.n, 0);
    ck_assert_int_eq(roda_slots_read(store, 1, &out), RODA_SUCCESS);
    ck_assert_uint_eq(out.n, 1);
    ck_assert_int_eq(roda_slots_write(store, 0, &second), RODA_SUCCESS);
    ck_assert_int_eq(roda_slots_read(store, 0, &out), RODA_SUCCESS);
    ck_assert(consistent(&out) && out.n == 2);
    ck_assert_int_eq(roda_slots_clear(store, 2), RODA_ERROR_INVALID_ARG);
    roda_slots_destroy(store);
}
END_TEST

/* ---- One writer, several readers ---------------------------------------------------------- */

enum { SLOTS = 4, WRITES = 400000, READERS = 3, READS = 200000 };

typedef struct job {
    roda_slots_t *store;
    uint64_t reads;
    uint64_t torn;
    uint64_t backwards; /* a slot's value went back in time */
} job_t;

static void *reader_thread(void *arg)
{
    job_t *job = arg;
    uint64_t last[SLOTS] = {0};
    for (uint64_t i = 0; i < READS; i++) {
        uint64_t index = i % SLOTS;
        record_t record = {0};
        roda_result_t result = roda_slots_read(job->store, index, &record);
        if (result == RODA_ERROR_STATE)
            continue;
        if (result != RODA_SUCCESS || !consistent(&record) || record.n % SLOTS != index)
            job->torn++;
        else if (record.n < last[index])
            job->backwards++;
        else
            last[index] = record.n;
        job->reads++;
    }
    return NULL;
}

START_TEST(readers_never_see_a_torn_slot)
{
    roda_slots_t *store;
    ck_assert_int_eq(roda_slots_create(SLOTS, sizeof(record_t), &store), RODA_SUCCESS);
    /* Write n to slot n % SLOTS: each slot's value only grows. Every 8th write is preceded by a
     * clear, which readers see as an empty slot, never as a torn or older one. The readers start
     * once every slot holds a value, so a reader scheduled before the writer still reads some. */
    for (uint64_t n = 1; n <= SLOTS; n++) {
        record_t record = record_of(n);
        ck_assert_int_eq(roda_slots_write(store, n % SLOTS, &record), RODA_SUCCESS);
    }
    job_t jobs[READERS];
    pthread_t threads[READERS];
    for (int i = 0; i < READERS; i++) {
        jobs[i] = (job_t){.store = store};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, reader_thread, &jobs[i]), 0);
    }
    for (uint64_t n = SLOTS + 1; n <= WRITES; n++) {
        record_t record = record_of(n);
        if (n % 8 == 0)
            ck_assert_int_eq(roda_slots_clear(store, n % SLOTS), RODA_SUCCESS);
        ck_assert_int_eq(roda_slots_write(store, n % SLOTS, &record), RODA_SUCCESS);
    }
    uint64_t reads = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_uint_eq(jobs[i].torn, 0);
        ck_assert_uint_eq(jobs[i].backwards, 0);
        reads += jobs[i].reads;
    }
    for (uint64_t index = 0; index < SLOTS; index++) {
        record_t record = {0};
        ck_assert_int_eq(roda_slots_read(store, index, &record), RODA_SUCCESS);
        ck_assert_uint_eq(record.n, WRITES - (WRITES - index) % SLOTS);
        ck_assert(consistent(&record));
    }
    ck_assert_uint_gt(reads, 0);
    roda_slots_destroy(store);
}
END_TEST

Suite *slots_suite(void)
{
    Suite *suite = suite_create("slots");
    TCase *single = tcase_create("single-thread");
    tcase_add_test(single, bad_parameters_are_refused);
    tcase_add_test(single, slots_hold_the_latest_write_and_start_never_written);
    tcase_add_test(single, data_at_any_alignment_is_copied_exactly);
    tcase_add_test(single, a_cleared_slot_reads_as_empty_until_written_again);
    suite_add_tcase(suite, single);
    TCase *threads = tcase_create("threads");
    tcase_set_timeout(threads, 60);
    tcase_add_test(threads, readers_never_see_a_torn_slot);
    suite_add_tcase(suite, threads);
    return suite;
}

int main(void)
{
    return roda_check_run(slots_suite());
}
