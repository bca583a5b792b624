/* test_keytable.c - the key table: dense indexes, the capacity bound, removal (also churned
 * through many generations of keys) and iteration. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roda_check.h"
#include "roda_keytable.h"

static uint32_t insert_new(roda_keytable_t *table, uint64_t key)
{
    uint32_t index = RODA_KEYTABLE_NONE;
    bool inserted = false;
    ck_assert_int_eq(roda_keytable_insert(table, key, &index, &inserted), RODA_SUCCESS);
    ck_assert(inserted);
    return index;
}

START_TEST(bad_parameters_are_refused)
{
    roda_keytable_t table;
    ck_assert_int_eq(roda_keytable_init(&table, 0, 0), RODA_ERROR_INVALID_ARG);
    ck_assert_ptr_null(table.slots);
    roda_keytable_destroy(&table);
    ck_assert_int_eq(roda_keytable_init(&table, RODA_KEYTABLE_MAX_KEYS + 1, 0),
                     RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_keytable_init(&table, 1024, RODA_KEYTABLE_MAX_STATE_BYTES / 1024 + 1),
                     RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_keytable_init(NULL, 1, 0), RODA_ERROR_INVALID_ARG);
    roda_keytable_destroy(&table);
    roda_keytable_destroy(NULL);
}
END_TEST

START_TEST(keys_get_dense_stable_indexes)
{
    roda_keytable_t table;
    ck_assert_int_eq(roda_keytable_init(&table, 100, 0), RODA_SUCCESS);
    ck_assert_uint_eq(table.mask + 1, 256);
    /* Zero and all-ones are ordinary keys: emptiness is marked by the index, not the key. */
    const uint64_t keys[] = {0, UINT64_MAX, 1, 2, 1ull << 63, 42};
    for (uint32_t i = 0; i < 6; i++)
        ck_assert_uint_eq(insert_new(&table, keys[i]), i);
    for (uint32_t i = 0; i < 6; i++) {
        ck_assert_uint_eq(roda_keytable_find(&table, keys[i]), i);
        uint32_t index;
        bool inserted = true;
        ck_assert_int_eq(roda_keytable_insert(&table, keys[i], &index, &inserted), RODA_SUCCESS);
        ck_assert(!inserted);
        ck_assert_uint_eq(index, i);
    }
    ck_assert_uint_eq(roda_keytable_find(&table, 3), RODA_KEYTABLE_NONE);
    ck_assert_uint_eq(table.count, 6);
    roda_keytable_destroy(&table);
}
END_TEST

START_TEST(a_new_key_past_capacity_is_refused_and_counted)
{
    roda_keytable_t table;
    ck_assert_int_eq(roda_keytable_init(&table, 3, 0), RODA_SUCCESS);
    for (uint64_t key = 10; key < 13; key++)
        insert_new(&table, key);
    uint32_t index = 77;
    bool inserted = true;
    ck_assert_int_eq(roda_keytable_insert(&table, 13, &index, &inserted), RODA_ERROR_TOO_MANY);
    ck_assert_int_eq(roda_keytable_insert(&table, 14, &index, &inserted), RODA_ERROR_TOO_MANY);
    ck_assert_uint_eq(table.refused, 2);
    ck_assert_uint_eq(index, 77);
    ck_assert_uint_eq(roda_keytable_find(&table, 13), RODA_KEYTABLE_NONE);
    /* Known keys still work when full. */
    ck_assert_int_eq(roda_keytable_insert(&table, 11, &index, &inserted), RODA_SUCCESS);
    ck_assert_uint_eq(index, 1);
    ck_assert(!inserted);
    /* Room made by a removal is taken by the next new key, with the freed index. */
    ck_assert_uint_eq(roda_keytable_remove(&table, 11), 1);
    ck_assert_uint_eq(insert_new(&table, 13), 1);
    ck_assert_uint_eq(table.refused, 2);
    roda_keytable_destroy(&table);
}
END_TEST

START_TEST(removal_keeps_other_indexes_and_reuses_freed_ones)
{
    roda_keytable_t table;
    ck_assert_int_eq(roda_keytable_init(&table, 8, 0), RODA_SUCCESS);
    for (uint64_t key = 0; key < 8; key++)
        insert_new(&table, key * 1000);
    ck_assert_uint_eq(roda_keytable_remove(&table, 3000), 3);
    ck_assert_uint_eq(roda_keytable_remove(&table, 3000), RODA_KEYTABLE_NONE);
    ck_assert(roda_keytable_remove_index(&table, 5));
    ck_assert(!roda_keytable_remove_index(&table, 5));
    ck_assert(!roda_keytable_remove_index(&table, 8));
    ck_assert_uint_eq(table.count, 6);
    for (uint64_t key = 0; key < 8; key++) {
        uint32_t expected = key == 3 || key == 5 ? RODA_KEYTABLE_NONE : (uint32_t)key;
        ck_assert_uint_eq(roda_keytable_find(&table, key * 1000), expected);
    }
    ck_assert_uint_eq(insert_new(&table, 77), 5);
    ck_assert_uint_eq(insert_new(&table, 78), 3);
    roda_keytable_destroy(&table);
}
END_TEST

/* Random inserts and removals in a small table (long probe runs, wrapping at the end of the slot
 * array) against a plain array model: backward shift must keep every live key reachable. */
START_TEST(random_operations_match_a_model)
{
    enum { CAPACITY = 12, KEYS = 40 };
    roda_keytable_t table;
    ck_assert_int_eq(roda_keytable_init(&table, CAPACITY, 0), RODA_SUCCESS);
    uint32_t model[KEYS]; /* index per key, or NONE */
    for (int i = 0; i < KEYS; i++)
        model[i] = RODA_KEYTABLE_NONE;
    uint32_t live = 0;
    uint64_t refused = 0, random = 0x9e3779b97f4a7c15ull;
    for (int step = 0; step < 20000; step++) {
        random = random * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t k = (uint32_t)(random >> 33) % KEYS;
        /* Keys that share low bits collide in the home slot. */
        uint64_t key = (uint64_t)k << 40;
        if ((random >> 20) & 1) {
            uint32_t index;
            bool inserted;
            roda_result_t result = roda_keytable_insert(&table, key, &index, &inserted);
            if (model[k] != RODA_KEYTABLE_NONE) {
                ck_assert_int_eq(result, RODA_SUCCESS);
                ck_assert(!inserted);
                ck_assert_uint_eq(index, model[k]);
            } else if (live == CAPACITY) {
                ck_assert_int_eq(result, RODA_ERROR_TOO_MANY);
                refused++;
            } else {
                ck_assert_int_eq(result, RODA_SUCCESS);
                ck_assert(inserted);
                ck_assert_uint_lt(index, CAPACITY);
                for (int other = 0; other < KEYS; other++)
                    ck_assert_uint_ne(model[other], index);
                model[k] = index;
                live++;
            }
        } else {
            ck_assert_uint_eq(roda_keytable_remove(&table, key), model[k]);
            if (model[k] != RODA_KEYTABLE_NONE)
                live--;
            model[k] = RODA_KEYTABLE_NONE;
        }
        for (int other = 0; other < KEYS; other++)
            ck_assert_uint_eq(roda_keytable_find(&table, (uint64_t)other << 40), model[other]);
    }
    ck_assert_uint_eq(table.count, live);
    ck_assert_uint_eq(table.refused, refused);
    ck_assert_uint_gt(refused, 0);
    roda_keytable_destroy(&table);
}
END_TEST

/* Churn as the gateway's eviction makes it: a full table whose keys are replaced by new ones,
 * many times its capacity over. No new key is refused, every live key is found and every removed
 * one is not, and the probe array holds exactly the live keys (no tombstones accumulate). */
START_TEST(churn_through_many_generations_keeps_the_table_exact)
{
    enum { CAPACITY = 100, GENERATIONS = 200 };
    roda_keytable_t table;
    ck_assert_int_eq(roda_keytable_init(&table, CAPACITY, 0), RODA_SUCCESS);
    for (uint64_t key = 0; key < CAPACITY; key++)
        insert_new(&table, key);
    for (uint64_t generation = 1; generation < GENERATIONS; generation++) {
        for (uint64_t i = 0; i < CAPACITY; i++) {
            uint64_t old_key = (generation - 1) * CAPACITY + i;
            uint32_t freed = roda_keytable_remove(&table, old_key);
            ck_assert_uint_ne(freed, RODA_KEYTABLE_NONE);
            ck_assert_uint_eq(insert_new(&table, generation * CAPACITY + i), freed);
            ck_assert_uint_eq(roda_keytable_find(&table, old_key), RODA_KEYTABLE_NONE);
        }
        for (uint64_t i = 0; i < CAPACITY; i++)
            ck_assert_uint_ne(roda_keytable_find(&table, generation * CAPACITY + i),
                              RODA_KEYTABLE_NONE);
    }
    uint64_t occupied = 0;
    for (uint64_t slot = 0; slot <= table.mask; slot++)
        occupied += table.slots[slot].index != RODA_KEYTABLE_NONE;
    ck_assert_uint_eq(occupied, CAPACITY);
    ck_assert_uint_eq(table.count, CAPACITY);
    ck_assert_uint_eq(table.refused, 0);
    roda_keytable_destroy(&table);
}
END_TEST

START_TEST(iteration_visits_each_live_key_once_and_allows_removal)
{
    roda_keytable_t table;
    ck_assert_int_eq(roda_keytable_init(&table, 64, 0), RODA_SUCCESS);
    for (uint64_t key = 0; key < 50; key++)
        insert_new(&table, key + 500);
    for (uint64_t key = 0; key < 50; key += 5)
        ck_assert_uint_ne(roda_keytable_remove(&table, key + 500), RODA_KEYTABLE_NONE);
    /* Expire the odd keys while iterating. */
    int seen[50] = {0};
    uint32_t cursor = 0, index;
    uint64_t key;
    while (roda_keytable_next(&table, &cursor, &key, &index)) {
        ck_assert_uint_eq(index, key - 500);
        seen[key - 500]++;
        if (key % 2 == 1)
            ck_assert(roda_keytable_remove_index(&table, index));
    }
    ck_assert(!roda_keytable_next(&table, &cursor, &key, &index));
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(seen[i], i % 5 == 0 ? 0 : 1);
    cursor = 0;
    uint32_t remaining = 0;
    while (roda_keytable_next(&table, &cursor, &key, &index)) {
        ck_assert_uint_eq(key % 2, 0);
        ck_assert_uint_eq(roda_keytable_find(&table, key), index);
        remaining++;
    }
    ck_assert_uint_eq(remaining, table.count);
    ck_assert_uint_eq(remaining, 20);
    roda_keytable_destroy(&table);
}
END_TEST

START_TEST(the_state_array_is_zeroed_and_indexed)
{
    typedef struct state {
        uint64_t count;
        double sum;
        uint8_t tag[5];
    } state_t;
    roda_keytable_t table;
    ck_assert_int_eq(roda_keytable_init(&table, 10, sizeof(state_t)), RODA_SUCCESS);
    state_t zero;
    memset(&zero, 0, sizeof(zero));
    for (uint32_t i = 0; i < 10; i++)
        ck_assert_mem_eq(roda_keytable_state(&table, i), &zero, sizeof(zero));
    uint32_t index = insert_new(&table, 9);
    state_t *state = roda_keytable_state(&table, index);
    ck_assert_ptr_eq(state, (state_t *)table.states + index);
    state->count = 3;
    ck_assert_uint_eq(((state_t *)table.states)[index].count, 3);
    roda_keytable_destroy(&table);
    ck_assert_ptr_null(table.states);
}
END_TEST

/* Insert's one-entry cache (the last key it returned) never outlives its key: after a removal,
 * or a load that replaces the table's memory, the same key is new again. */
static void copy_blob(void *context, void *data, size_t length)
{
    uint8_t **cursor = context;
    memcpy(data, *cursor, length);
    *cursor += length;
}
static void save_blob(void *context, void *data, size_t length)
{
    uint8_t **cursor = context;
    memcpy(*cursor, data, length);
    *cursor += length;
}

START_TEST(the_last_key_cache_follows_removal_and_load)
{
    roda_keytable_t table, empty;
    ck_assert_int_eq(roda_keytable_init(&table, 4, 8), RODA_SUCCESS);
    ck_assert_int_eq(roda_keytable_init(&empty, 4, 8), RODA_SUCCESS);
    uint32_t index;
    bool inserted;
    ck_assert_uint_eq(insert_new(&table, 42), 0);
    ck_assert_int_eq(roda_keytable_insert(&table, 42, &index, &inserted), RODA_SUCCESS);
    ck_assert(!inserted);
    ck_assert_uint_eq(index, 0);
    ck_assert_uint_eq(roda_keytable_remove(&table, 42), 0);
    ck_assert_uint_eq(insert_new(&table, 42), 0); /* new again, its index reused */
    ck_assert(roda_keytable_remove_index(&table, 0));
    ck_assert_uint_eq(insert_new(&table, 7), 0);
    ck_assert_uint_eq(insert_new(&table, 42), 1);

    static uint8_t saved[4096];
    uint8_t *cursor = saved;
    roda_keytable_visit(&empty, save_blob, &cursor);
    cursor = saved;
    roda_keytable_visit(&table, copy_blob, &cursor); /* load the empty table's memory */
    ck_assert_uint_eq(table.count, 0);
    ck_assert_uint_eq(insert_new(&table, 42), 0);
    roda_keytable_destroy(&table);
    roda_keytable_destroy(&empty);
}
END_TEST

Suite *keytable_suite(void)
{
    Suite *suite = suite_create("keytable");
    TCase *core = tcase_create("core");
    tcase_add_test(core, bad_parameters_are_refused);
    tcase_add_test(core, keys_get_dense_stable_indexes);
    tcase_add_test(core, a_new_key_past_capacity_is_refused_and_counted);
    tcase_add_test(core, removal_keeps_other_indexes_and_reuses_freed_ones);
    tcase_add_test(core, random_operations_match_a_model);
    tcase_add_test(core, churn_through_many_generations_keeps_the_table_exact);
    tcase_add_test(core, iteration_visits_each_live_key_once_and_allows_removal);
    tcase_add_test(core, the_state_array_is_zeroed_and_indexed);
    tcase_add_test(core, the_last_key_cache_follows_removal_and_load);
    suite_add_tcase(suite, core);
    return suite;
}

int main(void)
{
    return roda_check_run(keytable_suite());
}
