/* roda_recent_values.h - the last few values of every sensor, for the page's sparklines and
 * sensor charts: one small ring of floats per slot of the summary slot store.
 *
 * The state stage pushes each reading's value into the ring of the sensor's slot (the slot store's
 * index), after writing the slot; HTTP threads read a slot's ring oldest first. `points` values
 * per slot (limits.recent_values; 0: no rings, nothing allocated), stored as float: a chart
 * needs no more.
 *
 * Concurrency: one writer (the state stage), any number of readers, every shared word a C11
 * atomic (relaxed values, the ring position stored with release, loaded with acquire). A reader
 * that races the writer may get one value newer than the position it read (the oldest one
 * overwritten meanwhile): a chart shows a value of the same sensor one reading early. A slot
 * given to a new sensor starts its ring again with the sensor's first reading.
 *
 * Cost: push is two relaxed stores and a release store, no division, no allocation, no syscall.
 * Memory: allocated at create: roda_recent_values_memory(slots, points) bytes, zero pages until a
 * sensor's slot is first written (in the memory plan as "recent values").
 *
 * Threads: push from one writer thread; read from any thread; create/destroy while nobody else
 * uses it. */
#ifndef RODA_RECENT_VALUES_H
#define RODA_RECENT_VALUES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "roda_result.h"

/* Largest limits.recent_values. */
#define RODA_RECENT_VALUES_MAX 1024u
/* The ring position's flag: the ring has wrapped (holds `points` values). */
#define RODA_RECENT_VALUES_FULL 0x80000000u

typedef struct roda_recent_values {
    uint32_t slots;
    uint32_t points;
    _Atomic uint32_t *positions; /* [slots]: next index to write | RODA_RECENT_VALUES_FULL */
    _Atomic uint32_t *values;    /* [slots * points]: the values' float bits */
} roda_recent_values_t;

/* Bytes roda_recent_values_create allocates (0 when points is 0). */
uint64_t roda_recent_values_memory(uint32_t slots, uint32_t points);

/* Rings of `points` (1 .. RODA_RECENT_VALUES_MAX) values for `slots` slots; with points 0, *out
 * is NULL and nothing is kept (push and read must then not be called). RODA_ERROR_INVALID_ARG,
 * RODA_ERROR_NOMEM. */
roda_result_t roda_recent_values_create(uint32_t slots, uint32_t points,
                                        roda_recent_values_t **out);
void roda_recent_values_destroy(roda_recent_values_t *recent);

/* Appends `value` to the ring of `slot` (< slots); `first`: the slot's sensor is new, its ring
 * starts again. Writer thread only. */
static inline void roda_recent_values_push(roda_recent_values_t *recent, uint32_t slot, bool first,
                                           double value)
{
    _Atomic uint32_t *position = &recent->positions[slot];
    uint32_t at = first ? 0u : atomic_load_explicit(position, memory_order_relaxed);
    uint32_t next = at & ~RODA_RECENT_VALUES_FULL;
    float f = (float)value;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    atomic_store_explicit(&recent->values[(uint64_t)slot * recent->points + next], bits,
                          memory_order_relaxed);
    uint32_t full = at & RODA_RECENT_VALUES_FULL;
    if (++next == recent->points) {
        next = 0;
        full = RODA_RECENT_VALUES_FULL;
    }
    atomic_store_explicit(position, next | full, memory_order_release);
}

/* Copies the values of `slot`'s ring, oldest first, into `out` (room for `max`, the newest kept
 * when fewer than the ring holds) and returns how many. Any thread. */
uint32_t roda_recent_values_read(const roda_recent_values_t *recent, uint32_t slot, float *out,
                                 uint32_t max);

#endif
