/* roda_sensor_index.c - the concurrent sensor id -> slot directory (see roda_sensor_index.h). */
#include "roda_sensor_index.h"

#include <stdlib.h>
#include <string.h>

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
    _Atomic uint32_t slot_bound;
    _Atomic uint64_t moves; /* odd while a removal moves entries; +2 per removal */
};

uint64_t roda_sensor_index_memory(uint32_t capacity)
{
    return roda_keytable_slots(capacity) * sizeof(entry_t);
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
    uint64_t size = roda_keytable_slots(capacity);
    index->entries = calloc(size, sizeof(entry_t));
    if (index->entries == NULL) {
        roda_sensor_index_destroy(index);
        return RODA_ERROR_NOMEM;
    }
    /* Resident now: the state stage must not page-fault when a new sensor arrives. */
    roda_prefault_zeroed(index->entries, size * sizeof(entry_t));
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
    free(index);
}

static uint64_t home_of(const roda_sensor_index_t *index, uint64_t sensor_id)
{
    return roda_keytable_hash(sensor_id) & index->mask;
}

roda_result_t roda_sensor_index_insert(roda_sensor_index_t *index, uint64_t sensor_id,
                                       uint32_t slot)
{
    if (slot >= index->capacity)
        return RODA_ERROR_INVALID_ARG;
    /* Only this thread writes count and the entries: relaxed loads see its own last stores. */
    uint32_t n = atomic_load_explicit(&index->count, memory_order_relaxed);
    if (n >= index->capacity)
        return RODA_ERROR_TOO_MANY;
    uint64_t i = home_of(index, sensor_id);
    while (atomic_load_explicit(&index->entries[i].slot_plus_one, memory_order_relaxed) != 0)
        i = (i + 1) & index->mask;
    atomic_store_explicit(&index->entries[i].key, sensor_id, memory_order_relaxed);
    atomic_store_explicit(&index->entries[i].slot_plus_one, slot + 1, memory_order_release);
    atomic_store_explicit(&index->count, n + 1, memory_order_relaxed);
    if (slot >= atomic_load_explicit(&index->slot_bound, memory_order_relaxed))
        atomic_store_explicit(&index->slot_bound, slot + 1, memory_order_relaxed);
    return RODA_SUCCESS;
}

/* Copies entry `from` into `to` for readers that may be probing either: both words with release,
 * so a reader that sees one of them also sees the odd move counter stored before. */
static void move_entry(roda_sensor_index_t *index, uint64_t to, uint64_t from)
{
    entry_t *source = &index->entries[from], *target = &index->entries[to];
    atomic_store_explicit(&target->key, atomic_load_explicit(&source->key, memory_order_relaxed),
                          memory_order_release);
    atomic_store_explicit(&target->slot_plus_one,
                          atomic_load_explicit(&source->slot_plus_one, memory_order_relaxed),
                          memory_order_release);
}

roda_result_t roda_sensor_index_remove(roda_sensor_index_t *index, uint64_t sensor_id)
{
    uint64_t hole = home_of(index, sensor_id);
    for (;; hole = (hole + 1) & index->mask) {
        entry_t *entry = &index->entries[hole];
        if (atomic_load_explicit(&entry->slot_plus_one, memory_order_relaxed) == 0)
            return RODA_ERROR_STATE;
        if (atomic_load_explicit(&entry->key, memory_order_relaxed) == sensor_id)
            break;
    }
    uint64_t moves = atomic_load_explicit(&index->moves, memory_order_relaxed);
    atomic_store_explicit(&index->moves, moves + 1, memory_order_relaxed);
    /* Backward shift (as roda_keytable): a later entry of the probe run moves into the hole if
     * the hole lies between its home and where it sits now (cyclically). */
    for (uint64_t next = (hole + 1) & index->mask;; next = (next + 1) & index->mask) {
        entry_t *entry = &index->entries[next];
        if (atomic_load_explicit(&entry->slot_plus_one, memory_order_relaxed) == 0)
            break;
        uint64_t home = home_of(index, atomic_load_explicit(&entry->key, memory_order_relaxed));
        if (((next - home) & index->mask) >= ((next - hole) & index->mask)) {
            move_entry(index, hole, next);
            hole = next;
        }
    }
    atomic_store_explicit(&index->entries[hole].slot_plus_one, 0, memory_order_release);
    atomic_store_explicit(&index->moves, moves + 2, memory_order_release);
    atomic_store_explicit(&index->count,
                          atomic_load_explicit(&index->count, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    return RODA_SUCCESS;
}

roda_result_t roda_sensor_index_find(const roda_sensor_index_t *index, uint64_t sensor_id,
                                     uint32_t *slot)
{
    for (;;) {
        /* Acquire: every entry a finished removal moved is visible. */
        uint64_t moves = atomic_load_explicit(&index->moves, memory_order_acquire);
        if (moves & 1) {
            roda_cpu_relax();
            continue;
        }
        roda_result_t result = RODA_ERROR_STATE;
        uint32_t found = 0;
        uint64_t i = home_of(index, sensor_id);
        /* At most one lap: only a removal racing the probe could make it longer, and then the
         * move counter has changed and the probe is repeated. */
        for (uint64_t step = 0; step <= index->mask; step++, i = (i + 1) & index->mask) {
            /* Acquire on both words: a word a removal moved brings the odd counter with it. */
            found = atomic_load_explicit(&index->entries[i].slot_plus_one, memory_order_acquire);
            if (found == 0)
                break;
            if (atomic_load_explicit(&index->entries[i].key, memory_order_acquire) == sensor_id) {
                result = RODA_SUCCESS;
                break;
            }
        }
        if (atomic_load_explicit(&index->moves, memory_order_relaxed) != moves)
            continue;
        if (result == RODA_SUCCESS)
            *slot = found - 1;
        return result;
    }
}

roda_result_t roda_sensor_index_read(const roda_sensor_index_t *index, const roda_slots_t *slots,
                                     uint64_t sensor_id, void *out)
{
    uint32_t slot;
    roda_result_t r = roda_sensor_index_find(index, sensor_id, &slot);
    if (r == RODA_SUCCESS)
        r = roda_slots_read(slots, slot, out);
    if (r != RODA_SUCCESS)
        return r;
    uint64_t owner;
    memcpy(&owner, out, sizeof owner);
    return owner == sensor_id ? RODA_SUCCESS : RODA_ERROR_STATE;
}

uint32_t roda_sensor_index_count(const roda_sensor_index_t *index)
{
    return atomic_load_explicit(&index->count, memory_order_relaxed);
}

uint32_t roda_sensor_index_slot_bound(const roda_sensor_index_t *index)
{
    return atomic_load_explicit(&index->slot_bound, memory_order_relaxed);
}
