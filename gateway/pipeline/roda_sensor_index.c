/* roda_sensor_index.c - the concurrent sensor id -> slot directory (see roda_sensor_index.h). */
#include "roda_sensor_index.h"

#include <stdlib.h>

#include "roda_keytable.h"
#include "roda_prefault.h"

#define MAX_CAPACITY (1u << 30)

typedef struct entry {
    _Atomic uint64_t key;
    _Atomic uint32_t slot_plus_one; /* 0: free */
} entry_t;

struct roda_sensor_index {
    entry_t *entries;
    uint64_t mask;
    uint32_t capacity;
    _Atomic uint32_t count;
    _Atomic uint64_t *ids;   /* publication order: sensor id */
    _Atomic uint32_t *slots; /* publication order: its slot */
};

static uint64_t table_size(uint32_t capacity)
{
    uint64_t size = 2;
    while (size < 2ull * capacity)
        size <<= 1;
    return size;
}

uint64_t roda_sensor_index_memory(uint32_t capacity)
{
    return table_size(capacity) * sizeof(entry_t) +
           (uint64_t)capacity * (sizeof(uint64_t) + sizeof(uint32_t));
}

roda_result_t roda_sensor_index_create(uint32_t capacity, roda_sensor_index_t **out)
{
    if (out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    if (capacity == 0 || capacity > MAX_CAPACITY)
        return RODA_ERROR_INVALID_ARG;
    roda_sensor_index_t *index = calloc(1, sizeof *index);
    if (index == NULL)
        return RODA_ERROR_NOMEM;
    uint64_t size = table_size(capacity);
    index->entries = calloc(size, sizeof(entry_t));
    index->ids = calloc(capacity, sizeof(*index->ids));
    index->slots = calloc(capacity, sizeof(*index->slots));
    if (index->entries == NULL || index->ids == NULL || index->slots == NULL) {
        roda_sensor_index_destroy(index);
        return RODA_ERROR_NOMEM;
    }
    /* Resident now: the state stage must not page-fault when a new sensor arrives. */
    roda_prefault_zeroed(index->entries, size * sizeof(entry_t));
    roda_prefault_zeroed(index->ids, capacity * sizeof(*index->ids));
    roda_prefault_zeroed(index->slots, capacity * sizeof(*index->slots));
    index->mask = size - 1;
    index->capacity = capacity;
    *out = index;
    return RODA_SUCCESS;
}

void roda_sensor_index_destroy(roda_sensor_index_t *index)
{
    if (index == NULL)
        return;
    free(index->entries);
    free(index->ids);
    free(index->slots);
    free(index);
}

roda_result_t roda_sensor_index_insert(roda_sensor_index_t *index, uint64_t sensor_id,
                                       uint32_t slot)
{
    if (slot >= index->capacity)
        return RODA_ERROR_INVALID_ARG;
    /* Only this thread writes count: a relaxed load sees its own last store. */
    uint32_t n = atomic_load_explicit(&index->count, memory_order_relaxed);
    if (n >= index->capacity)
        return RODA_ERROR_TOO_MANY;
    uint64_t i = roda_keytable_hash(sensor_id) & index->mask;
    while (atomic_load_explicit(&index->entries[i].slot_plus_one, memory_order_relaxed) != 0)
        i = (i + 1) & index->mask;
    atomic_store_explicit(&index->entries[i].key, sensor_id, memory_order_relaxed);
    atomic_store_explicit(&index->entries[i].slot_plus_one, slot + 1, memory_order_release);
    atomic_store_explicit(&index->ids[n], sensor_id, memory_order_relaxed);
    atomic_store_explicit(&index->slots[n], slot, memory_order_relaxed);
    atomic_store_explicit(&index->count, n + 1, memory_order_release);
    return RODA_SUCCESS;
}

roda_result_t roda_sensor_index_find(const roda_sensor_index_t *index, uint64_t sensor_id,
                                     uint32_t *slot)
{
    uint64_t i = roda_keytable_hash(sensor_id) & index->mask;
    for (;;) {
        uint32_t found =
            atomic_load_explicit(&index->entries[i].slot_plus_one, memory_order_acquire);
        if (found == 0)
            return RODA_ERROR_STATE;
        if (atomic_load_explicit(&index->entries[i].key, memory_order_relaxed) == sensor_id) {
            *slot = found - 1;
            return RODA_SUCCESS;
        }
        i = (i + 1) & index->mask;
    }
}

uint32_t roda_sensor_index_count(const roda_sensor_index_t *index)
{
    return atomic_load_explicit(&index->count, memory_order_acquire);
}

roda_result_t roda_sensor_index_at(const roda_sensor_index_t *index, uint32_t i,
                                   uint64_t *sensor_id, uint32_t *slot)
{
    if (i >= roda_sensor_index_count(index))
        return RODA_ERROR_INVALID_ARG;
    *sensor_id = atomic_load_explicit(&index->ids[i], memory_order_relaxed);
    *slot = atomic_load_explicit(&index->slots[i], memory_order_relaxed);
    return RODA_SUCCESS;
}
