/* roda_slots.h - the slot store: the latest value per index (e.g. each sensor's latest summary),
 * written by one thread, read by any number of others without locks.
 *
 * This header is the documentation of the slot store.
 *
 * Memory: `slot_count` slots, allocated and zeroed at creation, never again. A slot is an 8-byte
 * sequence counter followed by slot_size bytes of data, padded to a multiple of 64 bytes so that
 * the writer updating one slot does not disturb readers of its neighbours (one cache line for
 * slots up to 56 bytes).
 *
 * Seqlock: the writer makes a slot's sequence odd, stores the data, then makes it even again.
 * A reader loads the sequence, copies the data and loads the sequence again; it keeps the copy
 * only if both loads saw the same even value, else it retries. So a reader never returns a torn
 * slot, never writes shared memory and never delays the writer; the writer never waits. A reader
 * retries only while the writer is changing that very slot (lock-free: a writer rewriting one
 * slot without pause could keep one reader retrying). Sequence 0 means never written.
 *
 * Clearing: roda_slots_clear() empties a slot (its index was released, e.g. an evicted sensor's)
 * by setting RODA_SLOTS_CLEARED in the sequence while counting on: the sequence never goes back,
 * so a reader that began before the clear sees the sequence change and retries, and a later write
 * (which drops the flag) can never be mistaken for the one a reader started with.
 *
 * Memory model: the data is copied in 64-bit words with atomic loads and stores (relaxed order
 * plus acquire/release on the data words themselves, which costs nothing on x86-64), so the copy
 * is race-free C11 and ThreadSanitizer checks it exactly; no standalone fences are used.
 *
 * Threads: roda_slots_write from one writer thread at a time (per store). roda_slots_read from
 * any thread, concurrently with the writer and with each other. create/destroy when nobody uses
 * the store. */
#ifndef RODA_SLOTS_H
#define RODA_SLOTS_H

#include <stdint.h>
#include <string.h>

#include "roda_idle.h"
#include "roda_result.h"

#define RODA_SLOTS_MAX_SLOT_SIZE (1u << 16)
#define RODA_SLOTS_MAX_COUNT (1ull << 32)
/* Sequence flag of a cleared slot (the counter below it keeps counting). */
#define RODA_SLOTS_CLEARED (1ull << 63)

typedef struct roda_slots {
    uint64_t *words; /* slot i starts at words[i * stride_words]: sequence, then data */
    uint64_t slot_count;
    uint32_t slot_size;  /* bytes of data per slot */
    uint32_t data_words; /* slot_size / 8 */
    uint32_t stride_words;
} roda_slots_t;

/* Creates a store of `slot_count` (1 .. RODA_SLOTS_MAX_COUNT) never-written slots of `slot_size`
 * bytes (a multiple of 8, 8 .. RODA_SLOTS_MAX_SLOT_SIZE). Errors: RODA_ERROR_INVALID_ARG,
 * RODA_ERROR_NOMEM; *out is NULL then. */
roda_result_t roda_slots_create(uint64_t slot_count, uint32_t slot_size, roda_slots_t **out);
void roda_slots_destroy(roda_slots_t *store);

/* Bytes of the slots roda_slots_create() allocates for `slot_count` slots of `slot_size` bytes
 * (the memory plan's size of a store; the small roda_slots_t header aside). */
uint64_t roda_slots_memory(uint64_t slot_count, uint32_t slot_size);

/* Stores slot_size bytes from `data` (any alignment) in slot `index`. Writer thread only.
 * RODA_ERROR_INVALID_ARG: index >= slot_count. */
static inline roda_result_t roda_slots_write(roda_slots_t *store, uint64_t index, const void *data)
{
    if (__builtin_expect(index >= store->slot_count, 0))
        return RODA_ERROR_INVALID_ARG;
    uint64_t *slot = store->words + index * store->stride_words;
    /* Only this thread writes the sequence: a relaxed load sees its own last store. */
    uint64_t sequence = __atomic_load_n(&slot[0], __ATOMIC_RELAXED) & ~RODA_SLOTS_CLEARED;
    __atomic_store_n(&slot[0], sequence + 1, __ATOMIC_RELAXED);
    const uint8_t *bytes = data;
    for (uint32_t i = 0; i < store->data_words; i++) {
        uint64_t word;
        memcpy(&word, bytes + 8 * (size_t)i, sizeof(word));
        /* Release: a reader that sees this word also sees the odd sequence stored before it. */
        __atomic_store_n(&slot[1 + i], word, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&slot[0], sequence + 2, __ATOMIC_RELEASE);
    return RODA_SUCCESS;
}

/* Empties slot `index`: reads return RODA_ERROR_STATE until the next write. Its data stays in
 * place (a reader's copy from before stays consistent; the sequence change makes it retry).
 * Writer thread only. RODA_ERROR_INVALID_ARG: index >= slot_count. */
static inline roda_result_t roda_slots_clear(roda_slots_t *store, uint64_t index)
{
    if (index >= store->slot_count)
        return RODA_ERROR_INVALID_ARG;
    uint64_t *slot = store->words + index * store->stride_words;
    uint64_t sequence = __atomic_load_n(&slot[0], __ATOMIC_RELAXED) & ~RODA_SLOTS_CLEARED;
    __atomic_store_n(&slot[0], (sequence + 2) | RODA_SLOTS_CLEARED, __ATOMIC_RELEASE);
    return RODA_SUCCESS;
}

/* Copies slot `index` into `out` (slot_size bytes, any alignment): a consistent copy of one
 * write. Any thread. RODA_SUCCESS; RODA_ERROR_STATE: the slot was never written or is cleared
 * (out untouched); RODA_ERROR_INVALID_ARG: index >= slot_count. */
static inline roda_result_t roda_slots_read(const roda_slots_t *store, uint64_t index, void *out)
{
    if (__builtin_expect(index >= store->slot_count, 0))
        return RODA_ERROR_INVALID_ARG;
    const uint64_t *slot = store->words + index * store->stride_words;
    uint8_t *bytes = out;
    for (;;) {
        /* Acquire: the data of the write that stored this even sequence is visible. */
        uint64_t before = __atomic_load_n(&slot[0], __ATOMIC_ACQUIRE);
        if (before == 0 || (before & RODA_SLOTS_CLEARED))
            return RODA_ERROR_STATE;
        if (before & 1) {
            roda_cpu_relax();
            continue;
        }
        for (uint32_t i = 0; i < store->data_words; i++) {
            /* Acquire: a word from a later write brings that write's odd sequence with it, so
             * the check below cannot miss it. */
            uint64_t word = __atomic_load_n(&slot[1 + i], __ATOMIC_ACQUIRE);
            memcpy(bytes + 8 * (size_t)i, &word, sizeof(word));
        }
        if (__atomic_load_n(&slot[0], __ATOMIC_RELAXED) == before)
            return RODA_SUCCESS;
    }
}

#endif
