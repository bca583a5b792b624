/* roda_keytable.h - per-key state: uint64_t keys mapped to dense indexes in a preallocated,
 * open-addressing table with an explicit key capacity.
 *
 * This header is the documentation of the key table.
 *
 * Indexes: every live key owns one index in 0 .. key_capacity - 1. An index does not move while
 * its key lives, so it addresses the key's state in a flat array: the table's own (state_size
 * bytes per index, allocated at init) or the caller's. A removed key's index is reused by a later
 * new key; reset the state when roda_keytable_insert() says the key is new.
 *
 * Memory: allocated and touched once at init, never again: the probe array (16 bytes per slot, a
 * power of two >= 2 * key_capacity slots, so the load factor stays <= 0.5), 8 bytes per index of
 * bookkeeping, and key_capacity * state_size bytes of state (at most
 * RODA_KEYTABLE_MAX_STATE_BYTES).
 *
 * Bounded: a new key when key_capacity keys live is refused (RODA_ERROR_TOO_MANY) and counted in
 * `refused`; the table never grows. Find and insert are inline (the per-record hot path): a
 * multiply-xorshift hash and linear probing, usually one cache line. Insert first compares the
 * key with the last one it returned (a one-entry cache, for streams where a key repeats: a
 * sensor's readings in a batch, one service's summaries); a removal or a load empties that cache.
 * Removal (a cold path, e.g. expiring stale sensors) uses backward-shift deletion, so no
 * tombstones lengthen later probes.
 *
 * Threads: none. A table belongs to one thread (a stage); nothing in it is atomic. */
#ifndef RODA_KEYTABLE_H
#define RODA_KEYTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_inline.h"
#include "roda_result.h"

#define RODA_KEYTABLE_MAX_KEYS (1u << 28)
#define RODA_KEYTABLE_MAX_STATE_BYTES (1ull << 32)
/* An index that no key owns: find() of an absent key, a free slot. */
#define RODA_KEYTABLE_NONE UINT32_MAX

typedef struct roda_keytable_slot {
    uint64_t key;
    uint32_t index; /* RODA_KEYTABLE_NONE when the slot is free */
    uint32_t unused;
} roda_keytable_slot_t;

typedef struct roda_keytable {
    roda_keytable_slot_t *slots;
    uint64_t mask; /* slot count - 1 */
    void *states;  /* key_capacity * state_size bytes, or NULL when state_size is 0 */
    size_t state_size;
    uint32_t *index_slot;   /* per index: the slot holding its key, or RODA_KEYTABLE_NONE */
    uint32_t *free_indexes; /* stack of indexes released by removal */
    uint32_t free_count;
    uint32_t next_index; /* indexes from here on were never handed out */
    uint32_t capacity;   /* key_capacity */
    uint32_t count;      /* live keys */
    uint64_t refused;    /* new keys refused because `capacity` keys were live */
    uint64_t last_key;   /* the key insert last returned, with its index (RODA_KEYTABLE_NONE: */
    uint32_t last_index; /* nothing cached) */
} roda_keytable_t;

/* Prepares `table` for up to `key_capacity` (1 .. RODA_KEYTABLE_MAX_KEYS) keys, with `state_size`
 * bytes of zeroed state per index (0: no state array; the caller keeps its own).
 * Errors: RODA_ERROR_INVALID_ARG (capacity out of range, state above the bound),
 * RODA_ERROR_NOMEM. On error the table is zeroed and roda_keytable_destroy() is a no-op. */
roda_result_t roda_keytable_init(roda_keytable_t *table, uint32_t key_capacity, size_t state_size);
/* Frees the table and zeroes it; safe on a zeroed table and twice. */
void roda_keytable_destroy(roda_keytable_t *table);
/* Probe slots for `key_capacity` keys: a power of two >= 2 * key_capacity (load factor <= 0.5).
 * Also for other open-addressing tables that keep that load factor (the device registry). */
uint64_t roda_keytable_slots(uint32_t key_capacity);
/* Bytes roda_keytable_init() allocates for these arguments (probe array, bookkeeping, state). */
uint64_t roda_keytable_memory(uint32_t key_capacity, size_t state_size);

/* Removes `key`; returns the index it owned (now free), or RODA_KEYTABLE_NONE if it was absent.
 * Indexes of other keys do not change. */
uint32_t roda_keytable_remove(roda_keytable_t *table, uint64_t key);
/* Removes the key owning `index`; returns false if no key owns it. Safe while iterating. */
bool roda_keytable_remove_index(roda_keytable_t *table, uint32_t index);

/* Iteration over live keys in index order: start with *cursor = 0; each call that returns true
 * sets *key and *index and advances *cursor. Removing keys while iterating is allowed (indexes
 * never move); a key inserted meanwhile may or may not be visited. */
bool roda_keytable_next(const roda_keytable_t *table, uint32_t *cursor, uint64_t *key,
                        uint32_t *index);

/* Calls `blob` on every piece of the table's memory (probe array, states, bookkeeping and its
 * counts), in a fixed order, so a snapshot can write them and a load read them back into a table
 * initialised with the same key_capacity and state_size (a table is its memory: nothing else
 * needs rebuilding). Cold path. */
typedef void (*roda_visit_fn)(void *context, void *data, size_t length);
void roda_keytable_visit(roda_keytable_t *table, roda_visit_fn blob, void *context);

/* ---- Hot path ------------------------------------------------------------------------------ */

/* murmur3's 64-bit finalizer: every key bit moves every slot bit, so sequential sensor ids and
 * ids that differ only in high bits spread evenly. */
RODA_HOT uint64_t roda_keytable_hash(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ull;
    key ^= key >> 33;
    return key;
}

/* The index of `key`, or RODA_KEYTABLE_NONE. Terminates: at least half the slots are free. */
RODA_HOT uint32_t roda_keytable_find(const roda_keytable_t *table, uint64_t key)
{
    uint64_t slot = roda_keytable_hash(key) & table->mask;
    for (;;) {
        const roda_keytable_slot_t *entry = &table->slots[slot];
        if (entry->index == RODA_KEYTABLE_NONE || entry->key == key)
            return entry->index;
        slot = (slot + 1) & table->mask;
    }
}

/* Finds `key`, or inserts it with a free index. On RODA_SUCCESS *index is the key's index and
 * *inserted tells whether the key is new (its state must be initialised). RODA_ERROR_TOO_MANY: the
 * key is new and key_capacity keys live; nothing changed but `refused`, which counts it. */
RODA_HOT roda_result_t roda_keytable_insert(roda_keytable_t *table, uint64_t key, uint32_t *index,
                                            bool *inserted)
{
    if (key == table->last_key && table->last_index != RODA_KEYTABLE_NONE) {
        *index = table->last_index;
        *inserted = false;
        return RODA_SUCCESS;
    }
    uint64_t slot = roda_keytable_hash(key) & table->mask;
    roda_keytable_slot_t *entry;
    for (;;) {
        entry = &table->slots[slot];
        if (entry->index == RODA_KEYTABLE_NONE)
            break;
        if (entry->key == key) {
            *index = table->last_index = entry->index;
            table->last_key = key;
            *inserted = false;
            return RODA_SUCCESS;
        }
        slot = (slot + 1) & table->mask;
    }
    if (__builtin_expect(table->count == table->capacity, 0)) {
        table->refused++;
        return RODA_ERROR_TOO_MANY;
    }
    uint32_t fresh =
        table->free_count != 0 ? table->free_indexes[--table->free_count] : table->next_index++;
    entry->key = key;
    entry->index = fresh;
    table->index_slot[fresh] = (uint32_t)slot;
    table->count++;
    *index = table->last_index = fresh;
    table->last_key = key;
    *inserted = true;
    return RODA_SUCCESS;
}

/* The table's state of `index` (state_size bytes), for tables initialised with a state size. */
RODA_HOT void *roda_keytable_state(const roda_keytable_t *table, uint32_t index)
{
    return (uint8_t *)table->states + (size_t)index * table->state_size;
}

#endif
