/* roda_pipeline_private.h - the pipeline's state, shared by its own files (roda_pipeline.c: stages
 * and lifecycle; roda_pipeline_metrics.c: the Prometheus families). Not for other modules. */
#ifndef RODA_PIPELINE_PRIVATE_H
#define RODA_PIPELINE_PRIVATE_H

#include <stdatomic.h>

#include "roda_counter.h"
#include "roda_engine.h"
#include "roda_ingest.h"
#include "roda_log.h"
#include "roda_pipe.h"
#include "roda_pipeline.h"
#include "roda_rules.h"
#include "roda_sensor_index.h"
#include "roda_slots.h"

static inline uint64_t reading_sensor(const roda_reading_t *r)
{
    return r->sensor_id;
}

RODA_STATEFUL(summarize, roda_reading_t, roda_summary_t, reading_sensor, roda_summary_init,
              roda_summary_update)

/* The state stage: the stateful component, plus the slot store and directory for readers, and
 * the eviction of idle sensors (its tick). */
typedef struct state_stage {
    summarize_t pipe;
    roda_slots_t *slots;
    roda_sensor_index_t *index;
    uint64_t idle_timeout_ns; /* limits.sensor_idle_timeout; 0: no eviction (no tick) */
    uint32_t evict_scan;      /* indexes the tick looks at */
    uint32_t evict_cursor;    /* where the next tick's scan starts */
    /* Mirrors of the component's counters for other threads (single writer). */
    _Atomic uint64_t tracked;
    _Atomic uint64_t refused;
    _Atomic uint64_t summaries;
    _Atomic uint64_t evicted;
} state_stage_t;

enum { RELOAD_IDLE = 0, RELOAD_PENDING = 1, RELOAD_DONE = 2 };

/* A rule set handed from the controlling thread to the rules stage. */
typedef struct reload_box {
    _Atomic int state;
    uint32_t count;
    roda_result_t result;
    uint64_t dropped_active;
    roda_rule_t rules[RODA_RULES_MAX];
} reload_box_t;

typedef struct rules_stage {
    roda_keytable_t previous; /* sensor id -> its previous summary (the rules' sensor index) */
    roda_rules_t *rules;
    roda_histogram_t latency;
    uint64_t stale_tick_ns;
    uint64_t next_scan_ns;
    _Atomic uint64_t refused;
    _Atomic uint64_t alerts;
    _Atomic uint64_t alerts_unwritten; /* a file-backed alert journal could not grow */
    roda_log_limiter_t unwritten_log;
    reload_box_t reload;
} rules_stage_t;

/* The engine's stages, in pipeline order (also their output journals). */
typedef enum pipeline_stage { STAGE_STATE = 0, STAGE_RULES = 1, STAGE_COUNT = 2 } pipeline_stage_t;

struct roda_pipeline {
    roda_config_t config;
    roda_engine_t *engine;
    roda_ingest_t *ingest;
    state_stage_t state;
    rules_stage_t rules;
    roda_alert_names_t names;
    _Atomic uint64_t series_capped;
    bool started;
};

/* The name of device `device` (NULL when unknown). */
const char *roda_pipeline_device_name(void *pipeline, uint32_t device);
/* Readings of new sensors past max_sensors, in either stage's table. */
uint64_t roda_pipeline_sensors_refused(const roda_pipeline_t *pipeline);

#endif
