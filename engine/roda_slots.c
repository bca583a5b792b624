/* roda_slots.c - creation and destruction of slot stores. Reads and writes are inline in the
 * header. */
#include "roda_slots.h"

#include <stdlib.h>

/* 64-bit words per slot: the sequence and the data, padded to whole cache lines. */
static uint32_t stride_words(uint32_t slot_size)
{
    const uint32_t line_words = RODA_CACHE_LINE / 8;
    return (1 + slot_size / 8 + line_words - 1) / line_words * line_words;
}

uint64_t roda_slots_memory(uint64_t slot_count, uint32_t slot_size)
{
    return slot_count * stride_words(slot_size) * 8;
}

roda_result_t roda_slots_create(uint64_t slot_count, uint32_t slot_size, roda_slots_t **out)
{
    if (out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    if (slot_count == 0 || slot_count > RODA_SLOTS_MAX_COUNT)
        return RODA_ERROR_INVALID_ARG;
    if (slot_size == 0 || slot_size % 8 != 0 || slot_size > RODA_SLOTS_MAX_SLOT_SIZE)
        return RODA_ERROR_INVALID_ARG;
    uint32_t data_words = slot_size / 8;
    uint32_t stride = stride_words(slot_size);
    if (slot_count > SIZE_MAX / 8 / stride)
        return RODA_ERROR_INVALID_ARG;
    size_t bytes = (size_t)roda_slots_memory(slot_count, slot_size);

    roda_slots_t *store = malloc(sizeof(*store));
    uint64_t *words = aligned_alloc(RODA_CACHE_LINE, bytes);
    if (store == NULL || words == NULL) {
        free(store);
        free(words);
        return RODA_ERROR_NOMEM;
    }
    /* Sequence 0 everywhere: never written. Touching every page now keeps faults off the
     * writer's path. */
    memset(words, 0, bytes);
    *store = (roda_slots_t){.words = words,
                            .slot_count = slot_count,
                            .slot_size = slot_size,
                            .data_words = data_words,
                            .stride_words = stride};
    *out = store;
    return RODA_SUCCESS;
}

void roda_slots_destroy(roda_slots_t *store)
{
    if (store == NULL)
        return;
    free(store->words);
    free(store);
}
