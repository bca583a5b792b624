/* roda_sensor_index.h - sensor id -> slot index, written by one thread (the state stage) and read
 * by any number of others (HTTP /sensors/{id}).
 *
 * The stage's own key table is single-threaded, so readers on other threads look sensors up here
 * instead. An open-addressing table of 2^k >= 2 x capacity entries, each a key word and an index
 * word; linear probing, and removal (an evicted sensor) by backward shift, so no tombstones
 * lengthen probes however many sensors come and go.
 *
 * Publication order: the writer stores the key, then the index + 1 with release; a reader that
 * loads a non-zero index word with acquire therefore sees the key that goes with it. A removal
 * moves entries, so it is bracketed by a move counter (a seqlock over the whole table): odd while
 * entries move, every moved word stored with release. A lookup reads the counter, probes, and
 * reads it again; if a removal ran meanwhile it probes again. So a lookup never misses a sensor
 * that stayed published throughout, and never pairs a key with another entry's slot. Every shared
 * word is a C11 atomic: race-free by the language rules, checked by ThreadSanitizer.
 *
 * A slot is given to another sensor once its sensor is removed, possibly between a reader's
 * lookup and its read of the slot: roda_sensor_index_read() looks up, reads the slot store and
 * checks that the value read is the sensor's own.
 *
 * Memory: allocated at create: 16 bytes x 2^k entries. Insert, remove and find never allocate.
 *
 * Threads: roda_sensor_index_insert and _remove from one writer thread; find, read, count and
 * slot_bound from any thread; create/destroy while nobody else uses it. */
#ifndef RODA_SENSOR_INDEX_H
#define RODA_SENSOR_INDEX_H

#include <stdatomic.h>
#include <stdint.h>

#include "roda_result.h"
#include "roda_slots.h"

typedef struct roda_sensor_index roda_sensor_index_t;

/* Bytes roda_sensor_index_create allocates for `capacity` sensors. */
uint64_t roda_sensor_index_memory(uint32_t capacity);

/* Creates an empty index for 1 .. 2^30 sensors. RODA_ERROR_INVALID_ARG, RODA_ERROR_NOMEM. */
roda_result_t roda_sensor_index_create(uint32_t capacity, roda_sensor_index_t **out);
void roda_sensor_index_destroy(roda_sensor_index_t *index);

/* Publishes `sensor_id` -> `slot` (slot < capacity, each published sensor id and slot at most
 * once; the caller, the key table's owner, guarantees both). RODA_ERROR_INVALID_ARG for a slot
 * out of range, RODA_ERROR_TOO_MANY when capacity sensors are published. Writer thread only. */
roda_result_t roda_sensor_index_insert(roda_sensor_index_t *index, uint64_t sensor_id,
                                       uint32_t slot);

/* Withdraws `sensor_id` (its slot may then be published for another sensor). RODA_ERROR_STATE
 * when it is not published. Writer thread only. */
roda_result_t roda_sensor_index_remove(roda_sensor_index_t *index, uint64_t sensor_id);

/* The slot of `sensor_id`; RODA_ERROR_STATE (as the slot store says for a never-written slot)
 * when the sensor is unknown. Any thread. */
roda_result_t roda_sensor_index_find(const roda_sensor_index_t *index, uint64_t sensor_id,
                                     uint32_t *slot);

/* The latest value of `sensor_id` from `slots`, whose values begin with their 8-byte sensor id:
 * finds the slot, reads it (roda_slots_read) and returns RODA_ERROR_STATE unless the value read
 * is the sensor's (the sensor was removed and its slot reused meanwhile). Any thread. */
roda_result_t roda_sensor_index_read(const roda_sensor_index_t *index, const roda_slots_t *slots,
                                     uint64_t sensor_id, void *out);

/* Sensors published now. Any thread. */
uint32_t roda_sensor_index_count(const roda_sensor_index_t *index);

/* One past the highest slot ever published: every published sensor's slot is below it (for
 * walking the slot store). Any thread. */
uint32_t roda_sensor_index_slot_bound(const roda_sensor_index_t *index);

#endif
