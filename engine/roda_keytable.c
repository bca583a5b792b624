/* roda_keytable.c - creation of key tables and their cold paths: removal by backward shift and
 * iteration. Find and insert are inline in the header. */
#include "roda_keytable.h"

#include <stdlib.h>
#include <string.h>

#include "roda_idle.h"

static size_t round_up(size_t value, size_t multiple)
{
    return (value + multiple - 1) / multiple * multiple;
}

uint64_t roda_keytable_slots(uint32_t key_capacity)
{
    uint64_t slot_count = 2;
    while (slot_count < 2ull * key_capacity)
        slot_count <<= 1;
    return slot_count;
}

uint64_t roda_keytable_memory(uint32_t key_capacity, size_t state_size)
{
    return round_up(roda_keytable_slots(key_capacity) * sizeof(roda_keytable_slot_t),
                    RODA_CACHE_LINE) +
           2 * sizeof(uint32_t) * (uint64_t)key_capacity +
           round_up(state_size * key_capacity, RODA_CACHE_LINE);
}

roda_result_t roda_keytable_init(roda_keytable_t *table, uint32_t key_capacity, size_t state_size)
{
    if (table == NULL)
        return RODA_ERROR_INVALID_ARG;
    memset(table, 0, sizeof(*table));
    if (key_capacity == 0 || key_capacity > RODA_KEYTABLE_MAX_KEYS)
        return RODA_ERROR_INVALID_ARG;
    if (state_size > RODA_KEYTABLE_MAX_STATE_BYTES / key_capacity)
        return RODA_ERROR_INVALID_ARG;

    uint64_t slot_count = roda_keytable_slots(key_capacity);
    table->slots = aligned_alloc(RODA_CACHE_LINE,
                                 round_up(slot_count * sizeof(*table->slots), RODA_CACHE_LINE));
    table->index_slot = malloc(sizeof(*table->index_slot) * key_capacity);
    table->free_indexes = malloc(sizeof(*table->free_indexes) * key_capacity);
    if (state_size != 0)
        table->states =
            aligned_alloc(RODA_CACHE_LINE, round_up(state_size * key_capacity, RODA_CACHE_LINE));
    if (table->slots == NULL || table->index_slot == NULL || table->free_indexes == NULL ||
        (state_size != 0 && table->states == NULL)) {
        roda_keytable_destroy(table);
        return RODA_ERROR_NOMEM;
    }
    /* Every byte is written now, so the hot path never takes a first-touch page fault. */
    memset(table->slots, 0xff, slot_count * sizeof(*table->slots));
    memset(table->index_slot, 0xff, sizeof(*table->index_slot) * key_capacity);
    memset(table->free_indexes, 0, sizeof(*table->free_indexes) * key_capacity);
    if (state_size != 0)
        memset(table->states, 0, state_size * key_capacity);
    table->mask = slot_count - 1;
    table->state_size = state_size;
    table->capacity = key_capacity;
    table->last_index = RODA_KEYTABLE_NONE;
    return RODA_SUCCESS;
}

void roda_keytable_destroy(roda_keytable_t *table)
{
    if (table == NULL)
        return;
    free(table->slots);
    free(table->index_slot);
    free(table->free_indexes);
    free(table->states);
    memset(table, 0, sizeof(*table));
}

/* Empties `hole` and pulls later entries of its probe run back into it, so every key stays
 * reachable from its home slot without tombstones. An entry may move to the hole only if the
 * hole lies between its home slot and where it sits now (cyclically). */
static void remove_slot(roda_keytable_t *table, uint64_t hole)
{
    uint32_t freed = table->slots[hole].index;
    for (uint64_t next = (hole + 1) & table->mask;; next = (next + 1) & table->mask) {
        roda_keytable_slot_t *entry = &table->slots[next];
        if (entry->index == RODA_KEYTABLE_NONE)
            break;
        uint64_t home = roda_keytable_hash(entry->key) & table->mask;
        if (((next - home) & table->mask) >= ((next - hole) & table->mask)) {
            table->slots[hole] = *entry;
            table->index_slot[entry->index] = (uint32_t)hole;
            hole = next;
        }
    }
    table->slots[hole].index = RODA_KEYTABLE_NONE;
    table->index_slot[freed] = RODA_KEYTABLE_NONE;
    table->free_indexes[table->free_count++] = freed;
    table->count--;
    table->last_index = RODA_KEYTABLE_NONE;
}

uint32_t roda_keytable_remove(roda_keytable_t *table, uint64_t key)
{
    uint32_t index = roda_keytable_find(table, key);
    if (index != RODA_KEYTABLE_NONE)
        remove_slot(table, table->index_slot[index]);
    return index;
}

bool roda_keytable_remove_index(roda_keytable_t *table, uint32_t index)
{
    if (index >= table->next_index || table->index_slot[index] == RODA_KEYTABLE_NONE)
        return false;
    remove_slot(table, table->index_slot[index]);
    return true;
}

bool roda_keytable_next(const roda_keytable_t *table, uint32_t *cursor, uint64_t *key,
                        uint32_t *index)
{
    for (uint32_t i = *cursor; i < table->next_index; i++) {
        uint32_t slot = table->index_slot[i];
        if (slot != RODA_KEYTABLE_NONE) {
            *key = table->slots[slot].key;
            *index = i;
            *cursor = i + 1;
            return true;
        }
    }
    *cursor = table->next_index;
    return false;
}

void roda_keytable_visit(roda_keytable_t *table, roda_visit_fn blob, void *context)
{
    blob(context, table->slots, (table->mask + 1) * sizeof(*table->slots));
    if (table->state_size != 0)
        blob(context, table->states, table->state_size * table->capacity);
    blob(context, table->index_slot, sizeof(*table->index_slot) * table->capacity);
    blob(context, table->free_indexes, sizeof(*table->free_indexes) * table->capacity);
    blob(context, &table->free_count, sizeof(table->free_count));
    blob(context, &table->next_index, sizeof(table->next_index));
    blob(context, &table->count, sizeof(table->count));
    blob(context, &table->refused, sizeof(table->refused));
    table->last_index = RODA_KEYTABLE_NONE; /* a load may have replaced every key */
}
