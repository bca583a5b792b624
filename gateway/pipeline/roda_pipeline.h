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
 * journal is then closed, so tail readers can read it to its end (the publisher's flush).
 *
 * Event time: the stages read no clock. The ingest stamps every record with its wall-clock
 * ingest time and writes a CLOCK record every clock interval (roda_reading.h); eviction, the stale
 * scan and hold-off use those times only, so replaying the journal decides exactly as the live
 * run did.
 *
 * Durable state (with journal.directory): the device registry is a mapped file there
 * (roda_devices.h); the stages' state goes into snapshots (roda_snapshot.h) every
 * journal.snapshot_interval and at stop. A checkpoint is a CHECKPOINT record the ingest writes
 * into the input journal when asked: the state stage writes its section when the record reaches
 * it, the rules stage its own when the record's summary reaches it, each from its own thread
 * with nothing shared but the file (a consistent cut without stopping anything), and the
 * controlling thread then commits the file (roda_pipeline_checkpoint). At create, recovery loads
 * the newest snapshot that passes its checks (older ones, then none, as fallbacks, each logged),
 * and stage 0 replays the input journal from the snapshot's position to the journal's end
 * before its live input (the engine's prelude); /readyz says "recovering" meanwhile. Alerts the
 * replay makes again are not appended when the alert journal holds them already (the replay is
 * deterministic, so it makes them in the same order); without a usable snapshot the replay's
 * alerts are counted as suppressed instead of announced a second time. */
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
    uint64_t state_consumed;      /* readings the state stage processed (a recovery's replayed
                                     ones included; clock records not) */
    uint64_t summaries;           /* summaries it emitted (readings of refused sensors: none) */
    uint64_t sensors_refused;     /* readings of new sensors past max_sensors */
    uint64_t sensors_evicted;     /* sensors forgotten after limits.sensor_idle_timeout */
    uint64_t rules_consumed;      /* summaries and evictions the rules stage processed */
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

/* Offline replay (roda-replay): the same stages over a recorded input journal instead of the
 * inputs. Stage 0 replays `recording` (opened and positioned by the caller, who closes it after
 * destroy) up to `end`; no ingest, no snapshot, nothing written to disk. `devices` and
 * `sensor_names` (NULL: none) name the recording's devices and named sensors: their registry
 * files, read-only (rules scoped by name glob need the names). Start it, read every alert with
 * roda_pipeline_replay_alerts until *done, then stop and destroy. The rules, limits and the rest
 * come from `config` as for the daemon, so live and replay decide alike. */
roda_result_t roda_pipeline_create_replay(const roda_config_t *config,
                                          roda_journal_replay_t *recording, uint64_t end,
                                          const roda_devices_t *devices,
                                          const roda_sensor_names_t *sensor_names,
                                          roda_pipeline_t **out);
/* A view of up to `max` alerts of a replay, in order (view->position: the first one's id),
 * waiting for them; 0 with *done once the replay is over and all were read. Then release them.
 * One thread. */
uint64_t roda_pipeline_replay_alerts(roda_pipeline_t *pipeline, uint64_t max,
                                     roda_journal_view_t *view, bool *done);
void roda_pipeline_replay_release(roda_pipeline_t *pipeline, uint64_t count);

/* Starts the stage threads, then the ingest. RODA_ERROR_SYSTEM (nothing is left running). */
roda_result_t roda_pipeline_start(roda_pipeline_t *pipeline);

/* Stops the ingest, drains and joins the stages, closes the alert journal, and (journal.directory)
 * writes a snapshot of everything processed. Idempotent. */
void roda_pipeline_stop(roda_pipeline_t *pipeline);
void roda_pipeline_destroy(roda_pipeline_t *pipeline);

/* Hands `next`'s rules to the rules stage, which applies them in its tick (per-sensor state is
 * kept, see roda_rules_reload), and waits up to `timeout_ms` for the outcome; a successful reload
 * makes the next roda_pipeline_checkpoint begin a snapshot. RODA_SUCCESS
 * (*dropped_active: FIRING alerts of removed or reset rules), RODA_ERROR_INVALID_ARG /
 * RODA_ERROR_TOO_MANY (the stage refused them; the old rules stay), RODA_ERROR_STATE (the stage
 * did not answer in time, or a previous reload is still pending). Controlling thread only. */
roda_result_t roda_pipeline_reload_rules(roda_pipeline_t *pipeline, const roda_config_t *next,
                                         uint32_t timeout_ms, uint64_t *dropped_active);

/* Periodic snapshots: begins a checkpoint when journal.snapshot_interval has passed and commits
 * one whose sections the stages have written. Returns how many milliseconds may pass before the
 * next call (UINT32_MAX: snapshots are off). Controlling thread. */
uint32_t roda_pipeline_checkpoint(roda_pipeline_t *pipeline);

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

/* Serves the page's JSON endpoints on `http` (before it starts; roda_pipeline_api.c):
 * /api/summary (version, uptime, inputs and their state and counters), /api/devices and
 * /api/sensors (paged, filtered by device glob, and for sensors by the rule and severity of a
 * firing alert; each sensor with its recent values), /api/alerts?sensor= (its newest alerts).
 * roda_http_add_json's errors. */
struct roda_http;
roda_result_t roda_pipeline_serve_api(roda_pipeline_t *pipeline, struct roda_http *http);

void roda_pipeline_totals(const roda_pipeline_t *pipeline, roda_pipeline_totals_t *totals);
/* The ingest and its inputs (stats, names, descriptions for the start-up log). */
const roda_ingest_t *roda_pipeline_ingest(const roda_pipeline_t *pipeline);

#endif
