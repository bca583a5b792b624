/* roda_counter.h - counters written by one thread and read by any (metrics, stats).
 *
 * With a single writer no read-modify-write instruction is needed: a relaxed load and a relaxed
 * store keep the count exact, cost no more than a plain increment, and readers on other threads
 * see whole values (never torn) that are at most a few increments old. */
#ifndef RODA_COUNTER_H
#define RODA_COUNTER_H

#include <stdatomic.h>
#include <stdint.h>

#include "roda_inline.h"

/* Adds `amount` (wrapping, so a negative delta cast to uint64_t subtracts). Writer thread only. */
RODA_HOT void roda_counter_add(_Atomic uint64_t *counter, uint64_t amount)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + amount,
                          memory_order_relaxed);
}

#endif
