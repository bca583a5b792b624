/* roda_sensor_index.h - sensor id -> slot index, written by one thread (the state stage) and read
 * by any number of others (HTTP /sensors/{id}, the /metrics scrape).
 *
 * The stage's own key table is single-threaded, so readers on other threads look sensors up here
 * instead. Sensors are only ever added (the state stage never forgets a sensor), which keeps the
 * structure simple: an open-addressing table of 2^k >= 2 x capacity entries, each a key word and
 * an index word, plus an array index -> sensor id for iteration.
 *
 * Publication order: the writer stores the key, then the index + 1 with release; a reader that
 * loads a non-zero index word with acquire therefore sees the key that goes with it. An entry
 * never changes once published, so a reader needs no retry. Every shared word is a C11 atomic:
 * race-free by the language rules, checked by ThreadSanitizer.
 *
 * Memory: allocated at create: 16 bytes x 2^k entries + 12 bytes x capacity. Insert and find never
 * allocate.
 *
 * Threads: roda_sensor_index_insert from one writer thread; find, count and id from any thread;
 * create/destroy while nobody else uses it. */
#ifndef RODA_SENSOR_INDEX_H
#define RODA_SENSOR_INDEX_H

#include <stdatomic.h>
#include <stdint.h>

#include "roda_result.h"

typedef struct roda_sensor_index roda_sensor_index_t;

/* Bytes roda_sensor_index_create allocates for `capacity` sensors. */
uint64_t roda_sensor_index_memory(uint32_t capacity);

/* Creates an empty index for 1 .. 2^30 sensors. RODA_ERROR_INVALID_ARG, RODA_ERROR_NOMEM. */
roda_result_t roda_sensor_index_create(uint32_t capacity, roda_sensor_index_t **out);
void roda_sensor_index_destroy(roda_sensor_index_t *index);

/* Publishes `sensor_id` -> `slot` (slot < capacity, each sensor id and slot at most once; the
 * caller, the key table's owner, guarantees both). RODA_ERROR_INVALID_ARG for a slot out of range,
 * RODA_ERROR_TOO_MANY when capacity sensors are already published. Writer thread only. */
roda_result_t roda_sensor_index_insert(roda_sensor_index_t *index, uint64_t sensor_id,
                                       uint32_t slot);

/* The slot of `sensor_id`; RODA_ERROR_STATE (as the slot store says for a never-written slot)
 * when the sensor is unknown. Any thread. */
roda_result_t roda_sensor_index_find(const roda_sensor_index_t *index, uint64_t sensor_id,
                                     uint32_t *slot);

/* Sensors published so far. Any thread. */
uint32_t roda_sensor_index_count(const roda_sensor_index_t *index);

/* The i-th published sensor (i < roda_sensor_index_count()), in publication order: its id and
 * slot. Any thread. RODA_ERROR_INVALID_ARG past the count. */
roda_result_t roda_sensor_index_at(const roda_sensor_index_t *index, uint32_t i,
                                   uint64_t *sensor_id, uint32_t *slot);

#endif
