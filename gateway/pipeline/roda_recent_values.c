/* roda_recent_values.c - per-slot rings of recent values (see roda_recent_values.h). */
#include "roda_recent_values.h"

#include <stdlib.h>

uint64_t roda_recent_values_memory(uint32_t slots, uint32_t points)
{
    if (points == 0)
        return 0;
    return sizeof(roda_recent_values_t) + (uint64_t)slots * sizeof(uint32_t) +
           (uint64_t)slots * points * sizeof(uint32_t);
}

roda_result_t roda_recent_values_create(uint32_t slots, uint32_t points, roda_recent_values_t **out)
{
    *out = NULL;
    if (points == 0)
        return RODA_SUCCESS;
    if (slots == 0 || points > RODA_RECENT_VALUES_MAX)
        return RODA_ERROR_INVALID_ARG;
    roda_recent_values_t *recent = calloc(1, sizeof *recent);
    if (recent == NULL)
        return RODA_ERROR_NOMEM;
    recent->slots = slots;
    recent->points = points;
    recent->positions = calloc(slots, sizeof *recent->positions);
    recent->values = calloc((size_t)slots * points, sizeof *recent->values);
    if (recent->positions == NULL || recent->values == NULL) {
        roda_recent_values_destroy(recent);
        return RODA_ERROR_NOMEM;
    }
    *out = recent;
    return RODA_SUCCESS;
}

void roda_recent_values_destroy(roda_recent_values_t *recent)
{
    if (recent == NULL)
        return;
    free(recent->positions);
    free(recent->values);
    free(recent);
}

uint32_t roda_recent_values_read(const roda_recent_values_t *recent, uint32_t slot, float *out,
                                 uint32_t max)
{
    if (slot >= recent->slots)
        return 0;
    uint32_t at = atomic_load_explicit(&recent->positions[slot], memory_order_acquire);
    uint32_t next = at & ~RODA_RECENT_VALUES_FULL;
    bool full = (at & RODA_RECENT_VALUES_FULL) != 0;
    uint32_t held = full ? recent->points : next;
    uint32_t n = held < max ? held : max;
    /* The oldest value is at `next` once the ring wrapped, else at 0; skip the oldest held - n. */
    uint32_t from = (full ? next : 0) + (held - n);
    const _Atomic uint32_t *ring = &recent->values[(uint64_t)slot * recent->points];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t index = from + i;
        if (index >= recent->points) /* from + i < 2 x points */
            index -= recent->points;
        uint32_t bits = atomic_load_explicit(&ring[index], memory_order_relaxed);
        memcpy(&out[i], &bits, sizeof bits);
    }
    return n;
}
