/* test_sensor_index.c - the concurrent sensor directory: bounds, lookups, and readers racing the
 * writer (run under TSan by the tsan preset). */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "roda_check.h"
#include "roda_sensor_index.h"

/* Spread-out ids, 0 and UINT64_MAX included: every key value is valid. */
static uint64_t id_of(uint32_t i)
{
    return i == 0 ? 0 : i == 1 ? UINT64_MAX : (uint64_t)i * 0x9E3779B97F4A7C15ull;
}

START_TEST(bounds_and_lookups)
{
    roda_sensor_index_t *index;
    ck_assert_int_eq(roda_sensor_index_create(0, &index), RODA_ERROR_INVALID_ARG);
    ck_assert_ptr_null(index);
    ck_assert_int_eq(roda_sensor_index_create(4, &index), RODA_SUCCESS);
    ck_assert_uint_gt(roda_sensor_index_memory(4), 0);
    uint32_t slot = 99;
    ck_assert_int_eq(roda_sensor_index_find(index, 0, &slot), RODA_ERROR_STATE);
    ck_assert_int_eq(roda_sensor_index_insert(index, 5, 4), RODA_ERROR_INVALID_ARG);
    for (uint32_t i = 0; i < 4; i++)
        ck_assert_int_eq(roda_sensor_index_insert(index, id_of(i), 3 - i), RODA_SUCCESS);
    ck_assert_int_eq(roda_sensor_index_insert(index, 77, 0), RODA_ERROR_TOO_MANY);
    ck_assert_uint_eq(roda_sensor_index_count(index), 4);
    for (uint32_t i = 0; i < 4; i++) {
        ck_assert_int_eq(roda_sensor_index_find(index, id_of(i), &slot), RODA_SUCCESS);
        ck_assert_uint_eq(slot, 3 - i);
        uint64_t id;
        ck_assert_int_eq(roda_sensor_index_at(index, i, &id, &slot), RODA_SUCCESS);
        ck_assert_uint_eq(id, id_of(i));
        ck_assert_uint_eq(slot, 3 - i);
    }
    ck_assert_int_eq(roda_sensor_index_find(index, 77, &slot), RODA_ERROR_STATE);
    uint64_t id;
    ck_assert_int_eq(roda_sensor_index_at(index, 4, &id, &slot), RODA_ERROR_INVALID_ARG);
    roda_sensor_index_destroy(index);
}
END_TEST

#define RACE_SENSORS 20000u

static roda_sensor_index_t *race_index;
static _Atomic bool race_done;

static void *writer(void *arg)
{
    (void)arg;
    for (uint32_t i = 0; i < RACE_SENSORS; i++)
        ck_assert_int_eq(roda_sensor_index_insert(race_index, id_of(i), i), RODA_SUCCESS);
    atomic_store(&race_done, true);
    return NULL;
}

/* Every published sensor is found with its slot; ids never inserted are never found. */
static void *reader(void *arg)
{
    uint64_t state = *(const uint64_t *)arg;
    while (!atomic_load(&race_done)) {
        uint32_t count = roda_sensor_index_count(race_index);
        if (count == 0)
            continue;
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        uint32_t i = (uint32_t)(state % count);
        uint64_t id;
        uint32_t slot, found;
        ck_assert_int_eq(roda_sensor_index_at(race_index, i, &id, &slot), RODA_SUCCESS);
        ck_assert_uint_eq(id, id_of(i));
        ck_assert_int_eq(roda_sensor_index_find(race_index, id, &found), RODA_SUCCESS);
        ck_assert_uint_eq(found, i);
        ck_assert_int_eq(roda_sensor_index_find(race_index, id_of(RACE_SENSORS + i), &found),
                         RODA_ERROR_STATE);
    }
    return NULL;
}

START_TEST(readers_race_the_writer)
{
    ck_assert_int_eq(roda_sensor_index_create(RACE_SENSORS, &race_index), RODA_SUCCESS);
    atomic_store(&race_done, false);
    pthread_t w, r[2];
    static uint64_t seeds[2] = {0x1234567u, 0x89abcdefu};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&r[i], NULL, reader, &seeds[i]), 0);
    ck_assert_int_eq(pthread_create(&w, NULL, writer, NULL), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(r[i], NULL);
    ck_assert_uint_eq(roda_sensor_index_count(race_index), RACE_SENSORS);
    roda_sensor_index_destroy(race_index);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sensor_index");
    TCase *tc = tcase_create("sensor_index");
    tcase_add_test(tc, bounds_and_lookups);
    tcase_add_test(tc, readers_race_the_writer);
    suite_add_tcase(s, tc);
    return roda_check_run(s);
}
