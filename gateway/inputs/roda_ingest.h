/* roda_ingest.h - the gateway's ingest: the registered inputs (roda_input.h) polled by one
 * thread, and every message decoded straight into the input journal, its single writer.
 *
 * One ingest thread runs one poll loop over an eventfd (stop) and the descriptors each input
 * asks for, then services each input. Per message (roda_ingest_message): size check, pass 1 of
 * the input's decoder (header, framing, reading count), device identity (the input's, e.g. an
 * MQTT topic level, or the payload's) interned in the bounded registry, sequence check
 * (duplicates dropped, gaps counted as lost upstream, implausible positions counted as
 * sequence resets), then claim journal slots for the readings, decode them into the slots
 * (pass 2; a named reading gets its id from (device, name) and its name recorded in the sensor
 * name registry, roda_sensor_names.h) and commit the valid ones; only then is the batch recorded in
 * the registry (a crash in between errs toward a duplicate reading, never a lost one). Every
 * reading of a message carries the same ingest_time_ns (roda_wall_ns() on arrival) and its input's
 * index. Every clock interval, busy or idle, the ingest also appends a CLOCK record
 * (roda_reading.h): the stages' only clock, so a replay of the journal decides as the live run did.
 * Each message is counted once as an accepted batch or under one rejection reason, each reading of
 * an accepted batch once as accepted or under one drop reason (the identities in roda_input.h).
 *
 * Nothing acknowledged is dropped. An acknowledging input (MQTT QoS 1: the PUBACK leaves before
 * the message is handed over) reads a message only while the journal has room for a whole one
 * (roda_ingest_can_take), so a full journal or a file that cannot grow pushes back on the broker
 * (TCP back-pressure; the persistent session queues there); a message it did read waits for room
 * rather than being dropped. Other inputs (UDP cannot push back) drop what finds no room and
 * count it by its true reason: journal_full (REJECT, no room) or disk_full (the journal's file
 * could not grow: logged with path and errno, rate-limited, and /readyz is 503 naming it until a
 * claim succeeds again, retried every 100 ms). Under BLOCK the ingest thread waits for the
 * slowest reader; UDP datagrams the kernel drops meanwhile are counted from SO_RXQ_OVFL.
 *
 * Memory: allocated at create and add (device and sensor name registries, the decoders'
 * scratch, each input's buffers and clients); the loop allocates nothing of its own per message
 * (libmosquitto allocates each received packet).
 *
 * Threads: create/add/start/stop/destroy from one controlling thread; roda_ingest_stats,
 * roda_ingest_ready, roda_ingest_input_name, roda_ingest_devices and roda_ingest_sensor_names from
 * any thread. */
#ifndef RODA_INGEST_H
#define RODA_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_devices.h"
#include "roda_input.h"
#include "roda_journal.h"
#include "roda_reading.h"
#include "roda_sensor_names.h"

/* The longest interval between two clock records (the stages' time resolution). */
#define RODA_INGEST_CLOCK_INTERVAL_NS 100000000ull

/* The daemon's bound on one message's payload, whatever the input (oversize beyond it). */
#define RODA_INGEST_MAX_MESSAGE 65536u

typedef struct roda_ingest_input_stats {
    const char *name;
    bool enabled;
    uint64_t counters[RODA_INGEST_COUNTER_COUNT];
} roda_ingest_input_stats_t;

typedef struct roda_ingest_stats {
    uint32_t input_count;
    roda_ingest_input_stats_t inputs[RODA_INGEST_MAX_INPUTS];
    uint32_t devices;
} roda_ingest_stats_t;

/* Creates the ingest for `journal` (record_size sizeof(roda_reading_t); the ingest must be its
 * only writer) with a registry of `max_devices` devices and one of `max_sensors` sensor names
 * (roda_sensor_names.h); messages over `max_message` bytes (<= RODA_DECODE_MAX_PAYLOAD) count
 * as oversize. `journal_path` (the journal's directory, NULL for memory; kept) names it in logs
 * and on /readyz, and holds the registries' files (RODA_DEVICES_FILE_NAME,
 * RODA_SENSOR_NAMES_FILE_NAME; the directory is made if missing, not its parents): the devices'
 * indexes and sequence positions and the sensors' names survive a restart. It logs one line
 * per registry: what was restored, or why the file there was discarded. Decoders get
 * roda_ingest_scratch_bytes(max_message) of scratch, mapped but untouched until used.
 * RODA_ERROR_INVALID_ARG, RODA_ERROR_SYSTEM, RODA_ERROR_NOMEM, RODA_ERROR_IO (a registry's file;
 * errno kept). */
roda_result_t roda_ingest_create(uint32_t max_devices, uint32_t max_sensors, uint32_t max_message,
                                 roda_journal_t *journal, const char *journal_path,
                                 roda_ingest_t **out);
/* Stops if running, destroys the inputs and frees. Does not close or destroy the journal. */
void roda_ingest_destroy(roda_ingest_t *ingest);

/* Adds an input of class `input` created from `settings` (its class's settings type), or off
 * when `settings` is NULL (it keeps its index and its zero counters). Inputs are numbered in
 * the order they are added. Before start only. The class's errors, RODA_ERROR_TOO_MANY
 * (RODA_INGEST_MAX_INPUTS), RODA_ERROR_STATE (started). */
roda_result_t roda_ingest_add(roda_ingest_t *ingest, const roda_input_class_t *input,
                              const void *settings);
/* Adds every class of `inputs` (in order) as `config` configures it. On an inconsistent section
 * "field: what is wrong" goes to `why` and RODA_ERROR_INVALID_ARG is returned. */
roda_result_t roda_ingest_add_configured(roda_ingest_t *ingest,
                                         const roda_input_class_t *const *inputs, uint32_t count,
                                         const roda_config_t *config, char *why, size_t size);

/* A shorter clock interval than RODA_INGEST_CLOCK_INTERVAL_NS (e.g. a finer stale tick); 0 or
 * longer values are ignored. Before start only. */
void roda_ingest_set_clock_interval(roda_ingest_t *ingest, uint64_t interval_ns);

/* Fused placement: `run` (with `context`) runs the stages on the ingest thread (it is
 * roda_engine_run): once per turn, after the inputs' messages and before the thread waits;
 * within a turn, after a message once 64 readings wait for them; and when a claim finds the
 * journal full, before the claim fails or waits. Before start only. */
void roda_ingest_set_stages(roda_ingest_t *ingest, void (*run)(void *context), void *context);

/* Checkpoint handshake (roda_snapshot.h): asks the ingest thread to write, instead of its next
 * clock record, a CHECKPOINT record carrying `id` (> 0, a new id each time); marked is true once
 * it is in the journal, with its position. Controlling thread. */
void roda_ingest_request_checkpoint(roda_ingest_t *ingest, uint64_t id);
bool roda_ingest_checkpoint_marked(const roda_ingest_t *ingest, uint64_t id, uint64_t *position);

/* Starts the ingest thread. RODA_ERROR_STATE if already started, RODA_ERROR_SYSTEM. */
roda_result_t roda_ingest_start(roda_ingest_t *ingest);
/* Stops the thread and waits for it (under BLOCK, as soon as the journal has room). */
void roda_ingest_stop(roda_ingest_t *ingest);

/* True when every enabled input is ready (for /readyz); else the first reason. */
bool roda_ingest_ready(const roda_ingest_t *ingest, char *why, size_t size);
/* The same for input `index` alone (true when off or out of range). */
bool roda_ingest_input_ready(const roda_ingest_t *ingest, uint32_t index, char *why, size_t size);
void roda_ingest_stats(const roda_ingest_t *ingest, roda_ingest_stats_t *stats);
/* Writes each input's own families (roda_input_class_t.metrics). */
void roda_ingest_input_metrics(const roda_ingest_t *ingest, roda_metrics_t *metrics);
/* The inputs' descriptions ("mqtt=on udp_port=5684"), for the start-up log line. */
void roda_ingest_describe(const roda_ingest_t *ingest, char *buf, size_t size);
/* A static metric label for a counter, e.g. "lost_upstream"; NULL when out of range. */
const char *roda_ingest_counter_name(roda_ingest_counter_t counter);
/* The name of input `index` (a record's `input`), NULL when there is none. */
const char *roda_ingest_input_name(const roda_ingest_t *ingest, uint32_t index);
/* The state of input `index` for its own class's functions, NULL when off or out of range. */
void *roda_ingest_input_state(const roda_ingest_t *ingest, uint32_t index);
/* The device registry, for device names and per-device counters. */
const roda_devices_t *roda_ingest_devices(const roda_ingest_t *ingest);
/* The sensor name registry, for the names of named sensors. */
const roda_sensor_names_t *roda_ingest_sensor_names(const roda_ingest_t *ingest);
/* Bytes of decoder scratch the ingest maps for messages of up to `max_message` bytes (the
 * memory plan; resident only once a decoder uses it). */
uint64_t roda_ingest_scratch_bytes(uint32_t max_message);

#endif
