/* roda_window_box.h - a bounded question box: another thread asks the rules stage (which owns the
 * windows) for the window statistics of up to `capacity` sensors; the stage answers at its ticks.
 *
 * The asker (any thread; one question at a time: the box's lock, held from begin to end):
 *
 *   if (roda_window_box_begin(box)) {             false: the last question is still unanswered
 *       roda_window_box_add(box, sensor_id, device);          ... (past capacity: false)
 *       uint32_t n = roda_window_box_wait(box, deadline_ns);  sensors answered, 0 at the deadline
 *       const roda_window_box_entry_t *e = roda_window_box_entry(box, i);   i < n
 *       roda_window_box_end(box);
 *   }
 *
 * The answerer (the rules thread, at each tick): roda_window_box_answer(box, fn, context, max)
 * answers up to `max` sensors of a posted question with `fn` (the statistics of one sensor's
 * windows, as roda_rules_windows writes them), so a large question spreads over several ticks and
 * never holds the stage long.
 *
 * Handoff: IDLE -> PENDING (the asker, release: the sensors are published) -> DONE (the answerer,
 * release: the answers are published) -> IDLE (the asker). While PENDING only the answerer touches
 * the entries, otherwise only the asker. A question the asker stopped waiting for stays PENDING
 * until it is answered, and begin() fails until then.
 *
 * Memory: roda_window_box_memory(capacity) bytes, allocated by init; nothing after. */
#ifndef RODA_WINDOW_BOX_H
#define RODA_WINDOW_BOX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_result.h"
#include "roda_rules.h"

/* Gauges per window on /metrics: count, mean, and min .. p99 (roda_rule_value_t). */
#define RODA_WINDOW_BOX_GAUGES (2u + RODA_RULE_VALUE_P99 - RODA_RULE_VALUE_MIN + 1u)

/* One sensor asked: its windows' statistics once answered (`windows` 0: the rules stage does not
 * know the sensor, or there are no windows). */
typedef struct roda_window_box_entry {
    uint64_t sensor_id;
    uint32_t device;
    uint32_t windows;
    roda_twindow_stats_t stats[RODA_RULES_WINDOWS];
} roda_window_box_entry_t;

typedef struct roda_window_box {
    pthread_mutex_t lock;
    _Atomic int state;
    uint32_t capacity;
    uint32_t asked;
    uint32_t answered;                             /* answerer: entries answered so far */
    roda_twindow_spec_t specs[RODA_RULES_WINDOWS]; /* the windows' specs, written with answers */
    roda_window_box_entry_t *entries;
} roda_window_box_t;

/* The statistics of sensor `sensor_id`'s windows: up to `max` in `stats`, their specs in `specs`;
 * returns how many (0: none, or the sensor is unknown). */
typedef uint32_t (*roda_window_box_fn)(void *context, uint64_t sensor_id,
                                       roda_twindow_spec_t *specs, roda_twindow_stats_t *stats,
                                       uint32_t max);

/* Bytes init allocates for `capacity` sensors. */
size_t roda_window_box_memory(uint32_t capacity);

/* A box for up to `capacity` (>= 1) sensors per question. RODA_ERROR_INVALID_ARG, _NOMEM, or
 * RODA_ERROR_STATE (the lock). */
roda_result_t roda_window_box_init(roda_window_box_t *box, uint32_t capacity);
/* Frees an initialised box, or nothing for a zeroed one (never initialised). */
void roda_window_box_destroy(roda_window_box_t *box);

/* Asker: takes the box for a new question; false (the box not taken) while the previous one is
 * unanswered. */
bool roda_window_box_begin(roda_window_box_t *box);
/* Asker: adds a sensor to the question; false when the box is full. */
bool roda_window_box_add(roda_window_box_t *box, uint64_t sensor_id, uint32_t device);
/* Asker: posts the question and waits (sleeping 1 ms at a time) until it is answered or
 * roda_now_ns() passes `deadline_ns`; returns the sensors answered: all asked, or 0. */
uint32_t roda_window_box_wait(roda_window_box_t *box, uint64_t deadline_ns);
/* Asker, after wait: entry `i` (< the count wait returned) and the windows' specs. */
const roda_window_box_entry_t *roda_window_box_entry(const roda_window_box_t *box, uint32_t i);
/* Asker: gives the box back. */
void roda_window_box_end(roda_window_box_t *box);

/* Answerer: answers up to `max` sensors of a posted question (nothing when none is posted). */
void roda_window_box_answer(roda_window_box_t *box, roda_window_box_fn fn, void *context,
                            uint32_t max);

#endif
