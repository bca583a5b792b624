/* test_sensor_index.c - the concurrent sensor directory: bounds, lookups, removal, and readers
 * racing a writer that publishes and removes sensors (run under TSan by the tsan preset). */
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
    ck_assert_uint_eq(roda_sensor_index_slot_bound(index), 4);
    for (uint32_t i = 0; i < 4; i++) {
        ck_assert_int_eq(roda_sensor_index_find(index, id_of(i), &slot), RODA_SUCCESS);
        ck_assert_uint_eq(slot, 3 - i);
    }
    ck_assert_int_eq(roda_sensor_index_find(index, 77, &slot), RODA_ERROR_STATE);
    roda_sensor_index_destroy(index);
}
END_TEST

/* Removal by backward shift: in a small table whose probe runs are long and wrap, every sensor
 * still published is found with its slot after each removal, removed ones are not, and a removed
 * sensor's slot is published again for a new sensor. */
START_TEST(removal_keeps_the_others_reachable_and_frees_the_slot)
{
    enum { CAPACITY = 6, ROUNDS = 3000 };
    roda_sensor_index_t *index;
    ck_assert_int_eq(roda_sensor_index_create(CAPACITY, &index), RODA_SUCCESS);
    uint64_t holder[CAPACITY]; /* sensor id per slot */
    uint64_t next_id = 0, random = 0x9e3779b97f4a7c15ull;
    for (uint32_t slot = 0; slot < CAPACITY; slot++) {
        holder[slot] = id_of((uint32_t)next_id++);
        ck_assert_int_eq(roda_sensor_index_insert(index, holder[slot], slot), RODA_SUCCESS);
    }
    ck_assert_int_eq(roda_sensor_index_remove(index, id_of(1000000)), RODA_ERROR_STATE);
    for (int round = 0; round < ROUNDS; round++) {
        random = random * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t slot = (uint32_t)(random >> 33) % CAPACITY;
        uint64_t gone = holder[slot];
        ck_assert_int_eq(roda_sensor_index_remove(index, gone), RODA_SUCCESS);
        ck_assert_int_eq(roda_sensor_index_remove(index, gone), RODA_ERROR_STATE);
        ck_assert_uint_eq(roda_sensor_index_count(index), CAPACITY - 1);
        uint32_t found;
        ck_assert_int_eq(roda_sensor_index_find(index, gone, &found), RODA_ERROR_STATE);
        for (uint32_t other = 0; other < CAPACITY; other++) {
            if (other == slot)
                continue;
            ck_assert_int_eq(roda_sensor_index_find(index, holder[other], &found), RODA_SUCCESS);
            ck_assert_uint_eq(found, other);
        }
        holder[slot] = id_of((uint32_t)next_id++);
        ck_assert_int_eq(roda_sensor_index_insert(index, holder[slot], slot), RODA_SUCCESS);
    }
    ck_assert_uint_eq(roda_sensor_index_count(index), CAPACITY);
    ck_assert_uint_eq(roda_sensor_index_slot_bound(index), CAPACITY);
    roda_sensor_index_destroy(index);
}
END_TEST

/* ---- Readers racing the writer --------------------------------------------------------------
 *
 * The writer publishes STABLE sensors that stay, then churns: sensor n (n >= STABLE) takes slot
 * STABLE + n % CHURN_SLOTS after sensor n - CHURN_SLOTS left it (removed from the directory, its
 * slot cleared), the way the state stage evicts and reuses. Each slot holds {sensor id, check}.
 * Readers must always find the stable sensors with their slot and value, and a churned sensor
 * either not at all or with its own slot and value: never another sensor's. */

#define STABLE 64u
#define CHURN_SLOTS 192u
#define CHURN_SENSORS 60000u

typedef struct value {
    uint64_t sensor_id;
    uint64_t check;
} value_t;

static roda_sensor_index_t *race_index;
static roda_slots_t *race_slots;
static _Atomic uint32_t race_published; /* sensors 0 .. race_published - 1 were published */
static _Atomic bool race_done;

static uint32_t slot_of(uint32_t n)
{
    return n < STABLE ? n : STABLE + n % CHURN_SLOTS;
}

static void publish(uint32_t n)
{
    value_t value = {id_of(n), ~id_of(n)};
    ck_assert_int_eq(roda_slots_write(race_slots, slot_of(n), &value), RODA_SUCCESS);
    ck_assert_int_eq(roda_sensor_index_insert(race_index, id_of(n), slot_of(n)), RODA_SUCCESS);
    atomic_store(&race_published, n + 1);
}

static void *writer(void *arg)
{
    (void)arg;
    for (uint32_t n = 0; n < STABLE + CHURN_SENSORS; n++) {
        if (n >= STABLE + CHURN_SLOTS) {
            uint32_t gone = n - CHURN_SLOTS;
            ck_assert_int_eq(roda_sensor_index_remove(race_index, id_of(gone)), RODA_SUCCESS);
            ck_assert_int_eq(roda_slots_clear(race_slots, slot_of(gone)), RODA_SUCCESS);
        }
        publish(n);
    }
    atomic_store(&race_done, true);
    return NULL;
}

static uint64_t next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static void *reader(void *arg)
{
    uint64_t state = *(const uint64_t *)arg;
    while (!atomic_load(&race_done)) {
        uint32_t published = atomic_load(&race_published);
        if (published < STABLE)
            continue;
        uint32_t n = (uint32_t)(next_random(&state) % published);
        uint32_t slot;
        value_t value;
        roda_result_t found = roda_sensor_index_find(race_index, id_of(n), &slot);
        roda_result_t read = roda_sensor_index_read(race_index, race_slots, id_of(n), &value);
        if (n < STABLE) {
            ck_assert_int_eq(found, RODA_SUCCESS);
            ck_assert_int_eq(read, RODA_SUCCESS);
        }
        if (found == RODA_SUCCESS)
            ck_assert_uint_eq(slot, slot_of(n));
        if (read == RODA_SUCCESS) {
            ck_assert_uint_eq(value.sensor_id, id_of(n));
            ck_assert_uint_eq(value.check, ~id_of(n));
        }
        ck_assert_int_eq(
            roda_sensor_index_find(race_index, id_of(STABLE + CHURN_SENSORS + n), &slot),
            RODA_ERROR_STATE);
    }
    return NULL;
}

START_TEST(readers_race_insertion_and_removal)
{
    ck_assert_int_eq(roda_sensor_index_create(STABLE + CHURN_SLOTS, &race_index), RODA_SUCCESS);
    ck_assert_int_eq(roda_slots_create(STABLE + CHURN_SLOTS, sizeof(value_t), &race_slots),
                     RODA_SUCCESS);
    atomic_store(&race_published, 0);
    atomic_store(&race_done, false);
    pthread_t w, r[2];
    static uint64_t seeds[2] = {0x1234567u, 0x89abcdefu};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&r[i], NULL, reader, &seeds[i]), 0);
    ck_assert_int_eq(pthread_create(&w, NULL, writer, NULL), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(r[i], NULL);
    ck_assert_uint_eq(roda_sensor_index_count(race_index), STABLE + CHURN_SLOTS);
    roda_slots_destroy(race_slots);
    roda_sensor_index_destroy(race_index);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sensor_index");
    TCase *tc = tcase_create("sensor_index");
    tcase_add_test(tc, bounds_and_lookups);
    tcase_add_test(tc, removal_keeps_the_others_reachable_and_frees_the_slot);
    tcase_add_test(tc, readers_race_insertion_and_removal);
    suite_add_tcase(s, tc);
    return roda_check_run(s);
}
