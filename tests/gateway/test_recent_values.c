/* test_recent_values.c - the per-slot rings of recent values: bounds, order before and after the
 * ring wraps, a new sensor starting its slot's ring again, and a reader racing the writer (run
 * under TSan by the tsan preset). */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "roda_check.h"
#include "roda_recent_values.h"

START_TEST(bounds)
{
    roda_recent_values_t *recent = (void *)1;
    ck_assert_int_eq(roda_recent_values_create(4, 0, &recent), RODA_SUCCESS);
    ck_assert_ptr_null(recent);
    ck_assert_uint_eq(roda_recent_values_memory(4, 0), 0);
    ck_assert_int_eq(roda_recent_values_create(0, 4, &recent), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_recent_values_create(4, RODA_RECENT_VALUES_MAX + 1, &recent),
                     RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_recent_values_create(2, 3, &recent), RODA_SUCCESS);
    float out[8];
    ck_assert_uint_eq(roda_recent_values_read(recent, 0, out, 8), 0);
    ck_assert_uint_eq(roda_recent_values_read(recent, 2, out, 8), 0); /* out of range */
    roda_recent_values_destroy(recent);
}
END_TEST

START_TEST(oldest_first_across_the_wrap)
{
    roda_recent_values_t *recent;
    ck_assert_int_eq(roda_recent_values_create(2, 3, &recent), RODA_SUCCESS);
    float out[8];
    roda_recent_values_push(recent, 1, true, 1.0);
    roda_recent_values_push(recent, 1, false, 2.0);
    ck_assert_uint_eq(roda_recent_values_read(recent, 1, out, 8), 2);
    ck_assert(out[0] == 1.0f && out[1] == 2.0f);
    for (int v = 3; v <= 7; v++)
        roda_recent_values_push(recent, 1, false, v);
    ck_assert_uint_eq(roda_recent_values_read(recent, 1, out, 8), 3);
    ck_assert(out[0] == 5.0f && out[1] == 6.0f && out[2] == 7.0f);
    ck_assert_uint_eq(roda_recent_values_read(recent, 1, out, 2), 2); /* the newest two */
    ck_assert(out[0] == 6.0f && out[1] == 7.0f);
    ck_assert_uint_eq(roda_recent_values_read(recent, 0, out, 8), 0); /* the other slot */
    roda_recent_values_push(recent, 1, true, 42.0);                   /* a new sensor */
    ck_assert_uint_eq(roda_recent_values_read(recent, 1, out, 8), 1);
    ck_assert(out[0] == 42.0f);
    roda_recent_values_destroy(recent);
}
END_TEST

#define POINTS 16u
#define PUSHES 200000
static roda_recent_values_t *race_recent;
static atomic_bool race_done;

/* Values only increase, so every read, oldest first, is non-decreasing and within what was
 * pushed. */
static void *reader(void *arg)
{
    (void)arg;
    float out[POINTS];
    while (!atomic_load(&race_done)) {
        uint32_t n = roda_recent_values_read(race_recent, 0, out, POINTS);
        ck_assert_uint_le(n, POINTS);
        for (uint32_t i = 0; i < n; i++)
            ck_assert(out[i] >= 0.0f && out[i] < (float)PUSHES);
    }
    return NULL;
}

START_TEST(reader_races_the_writer)
{
    ck_assert_int_eq(roda_recent_values_create(1, POINTS, &race_recent), RODA_SUCCESS);
    atomic_store(&race_done, false);
    pthread_t r;
    ck_assert_int_eq(pthread_create(&r, NULL, reader, NULL), 0);
    for (int v = 0; v < PUSHES; v++)
        roda_recent_values_push(race_recent, 0, v == 0, v);
    atomic_store(&race_done, true);
    pthread_join(r, NULL);
    float out[POINTS];
    ck_assert_uint_eq(roda_recent_values_read(race_recent, 0, out, POINTS), POINTS);
    ck_assert(out[POINTS - 1] == (float)(PUSHES - 1));
    roda_recent_values_destroy(race_recent);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("recent_values");
    TCase *tc = tcase_create("recent_values");
    tcase_add_test(tc, bounds);
    tcase_add_test(tc, oldest_first_across_the_wrap);
    tcase_add_test(tc, reader_races_the_writer);
    suite_add_tcase(s, tc);
    return roda_check_run(s);
}
