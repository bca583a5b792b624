/* roda_pipeline.h - the gateway's pipeline, built from a roda_config_t:
 *
 *   ingest thread (the registered inputs) -> [input journal: roda_reading_t, REJECT]
 *     -> stage "state": per-sensor summary (RODA_STATEFUL keyed by sensor id, max_sensors keys);
 *        every new summary also goes to a slot store (latest summary per sensor for HTTP) and
 *        a new sensor is published in a concurrent directory (roda_sensor_index.h)
 *     -> [summary journal: roda_summary_t, BLOCK]
 *     -> stage "rules": roda_rules_evaluate per summary against the sensor's previous summary
 *        (several alerts per summary possible); its tick applies a handed-over rule reload and
 *        runs the stale scan every stale_tick; each alert from a summary adds
 *        now - ingest_time to the ingest-to-alert latency histogram
 *     -> [alert journal: roda_alert_t] read only by tail readers (SSE, recent, MQTT publisher):
 *        it has no gating reader, so no alert output can slow or block the rules stage.
 *
 * Full input journal: readings are rejected and counted by the ingest (journal_full, by input):
 * a burst above what the stages sustain costs counted readings, never a stalled socket. Inside the
 * pipeline (BLOCK) nothing is lost: the state stage waits for the rules stage.
 *
 * Memory: everything is allocated by roda_pipeline_create (journals, key tables, slot store,
 * directory, rule state, device registry): roda_config_memory_plan() lists it. Nothing is
 * allocated on the data path afterwards (libmosquitto allocates each received MQTT packet).
 *
 * Threads: create/start/stop/reload/destroy from one controlling thread. The HTTP providers
 * (ready, sensor, metrics) and the names from any thread.
 *
 * Stop: roda_pipeline_stop stops the ingest first (no more readings), then the engine, which
 * closes the input and lets each stage drain everything accepted before it exits; the alert
 * journal is then closed, so tail readers can read it to its end (the publisher's flush). */
#ifndef RODA_PIPELINE_H
#define RODA_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_alert_cursor.h"
#include "roda_config.h"
#include "roda_ingest.h"
#include "roda_journal.h"
#include "roda_json.h"
#include "roda_metrics.h"
#include "roda_summary.h"

typedef struct roda_pipeline roda_pipeline_t;

/* What was accepted and processed, for the shutdown log and tests. */
typedef struct roda_pipeline_totals {
    uint64_t readings_accepted;   /* readings the ingest committed (all inputs) */
    uint64_t state_consumed;      /* readings the state stage processed */
    uint64_t summaries;           /* summaries it emitted (readings of refused sensors: none) */
    uint64_t sensors_refused;     /* readings of new sensors past max_sensors */
    uint64_t sensors_evicted;     /* sensors forgotten after limits.sensor_idle_timeout */
    uint64_t rules_consumed;      /* records the rules stage processed: summaries + evictions */
    uint64_t alerts;              /* alerts appended to the alert journal */
    uint64_t devices_baselined;   /* devices whose first sequenced batch set their baseline */
    uint64_t unseen_before_start; /* their batches before that first one (all inputs) */
} roda_pipeline_totals_t;

/* Checks what the pipeline needs beyond roda_config_load's checks, without allocating or binding
 * anything (for --check-config too): with journal.directory, the segment geometry; and each
 * input's own consistency (its class's configure, e.g. the MQTT device topic level). False with
 * "field: what is wrong" in `why`. */
bool roda_pipeline_check(const roda_config_t *config, const roda_input_class_t *const *inputs,
                         uint32_t input_count, char *why, size_t size);

/* Builds everything from `config` (copied; its strings are kept inside the pipeline) with the
 * input classes `inputs` (the daemon passes roda_inputs(); tests may add their own), each on as
 * its section configures it. Binds the UDP sockets (so a busy port fails here). Errors are logged
 * with what to do: RODA_ERROR_INVALID_ARG (a setting the parts refuse, e.g. a device topic level
 * the first topic does not have, journal.directory, which the stage engine cannot back with files
 * yet), RODA_ERROR_NOMEM, RODA_ERROR_SYSTEM (UDP bind). */
roda_result_t roda_pipeline_create(const roda_config_t *config,
                                   const roda_input_class_t *const *inputs, uint32_t input_count,
                                   roda_pipeline_t **out);

/* Starts the stage threads, then the ingest. RODA_ERROR_SYSTEM (nothing is left running). */
roda_result_t roda_pipeline_start(roda_pipeline_t *pipeline);

/* Stops the ingest, drains and joins the stages, closes the alert journal. Idempotent. */
void roda_pipeline_stop(roda_pipeline_t *pipeline);
void roda_pipeline_destroy(roda_pipeline_t *pipeline);

/* Hands `next`'s rules to the rules stage, which applies them in its tick (per-sensor state is
 * kept, see roda_rules_reload), and waits up to `timeout_ms` for the outcome. RODA_SUCCESS
 * (*dropped_active: FIRING alerts of removed or reset rules), RODA_ERROR_INVALID_ARG /
 * RODA_ERROR_TOO_MANY (the stage refused them; the old rules stay), RODA_ERROR_STATE (the stage
 * did not answer in time, or a previous reload is still pending). Controlling thread only. */
roda_result_t roda_pipeline_reload_rules(roda_pipeline_t *pipeline, const roda_config_t *next,
                                         uint32_t timeout_ms, uint64_t *dropped_active);

/* The alert journal (for the outputs) and the names its alerts refer to. */
roda_journal_t *roda_pipeline_alert_journal(roda_pipeline_t *pipeline);
const roda_alert_names_t *roda_pipeline_names(const roda_pipeline_t *pipeline);

/* The latest summary of a sensor. RODA_ERROR_STATE: unknown sensor. Any thread. */
roda_result_t roda_pipeline_sensor(const roda_pipeline_t *pipeline, uint64_t sensor_id,
                                   roda_summary_t *summary);

/* HTTP providers (context: the pipeline). Ready: the MQTT input connected (when configured),
 * both stages running, the input journal below 90% full. */
bool roda_pipeline_ready(void *pipeline, char *reason, size_t size);
bool roda_pipeline_sensor_json(void *pipeline, uint64_t sensor_id, roda_json_t *json);
/* Writes the pipeline's families (see the metrics contract): ingest, MQTT input, journals,
 * stages, alerts, latency histogram, sensors and per-sensor gauges. */
void roda_pipeline_metrics(void *pipeline, roda_metrics_t *metrics);

void roda_pipeline_totals(const roda_pipeline_t *pipeline, roda_pipeline_totals_t *totals);
/* The ingest and its inputs (stats, names, descriptions for the start-up log). */
const roda_ingest_t *roda_pipeline_ingest(const roda_pipeline_t *pipeline);

#endif
