/* roda_pipeline_private.h - the pipeline's state, shared by its own files (roda_pipeline.c: stages
 * and lifecycle; roda_pipeline_metrics.c: the Prometheus families). Not for other modules. */
#ifndef RODA_PIPELINE_PRIVATE_H
#define RODA_PIPELINE_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>

#include "roda_counter.h"
#include "roda_engine.h"
#include "roda_ingest.h"
#include "roda_log.h"
#include "roda_pipe.h"
#include "roda_pipeline.h"
#include "roda_recent_values.h"
#include "roda_rules.h"
#include "roda_sensor_index.h"
#include "roda_slots.h"
#include "roda_snapshot.h"
#include "roda_window_box.h"

static inline uint64_t reading_sensor(const roda_reading_t *r)
{
    return r->sensor_id;
}

RODA_STATEFUL(summarize, roda_reading_t, roda_summary_t, reading_sensor, roda_summary_init,
              roda_summary_update)

/* A checkpoint in flight (roda_pipeline_snapshot.c): the controlling thread begins it and asks the
 * ingest for a CHECKPOINT record; each stage writes its section when that record reaches it; the
 * controlling thread commits the file once the rules stage has written its part. */
typedef struct checkpoint {
    roda_snapshot_writer_t writer;
    _Atomic uint64_t pending; /* id of the checkpoint in flight (0: none) */
    _Atomic uint64_t written; /* the rules stage wrote its section of this id (release) */
    /* Written by the rules stage before `written`. */
    uint64_t alert_position;
    uint64_t event_time_ns;
    /* Controlling thread. */
    const char *directory; /* journal.directory; NULL: no snapshots */
    uint64_t interval_ns;  /* journal.snapshot_interval; 0: only at stop */
    uint64_t due_ns;       /* roda_now_ns() when the next begins */
    uint64_t began_ns;
    uint64_t geometry[RODA_SNAPSHOT_GEOMETRY];
    /* The sections' lengths: fixed by the limits, so measured once before the stages start (a
     * visit from this thread while they run would race with them). */
    uint64_t lengths[RODA_SNAPSHOT_SECTIONS];
    roda_log_limiter_t failure_log;
    /* For /metrics. */
    _Atomic uint64_t written_total;
    _Atomic uint64_t failed_total;
    _Atomic uint64_t last_bytes;
    _Atomic uint64_t last_duration_ns;
    _Atomic uint64_t last_position;
} checkpoint_t;

/* What start-up recovery did (roda_pipeline_snapshot.c), for logs and /metrics. */
typedef struct recovery {
    roda_journal_replay_t *replay; /* the journal tail stage 0 replays first (NULL: none) */
    uint64_t from;                 /* first replayed input position */
    uint64_t records;              /* records to replay */
    bool loaded;                   /* a snapshot was loaded */
    uint64_t snapshot_position;    /* its input position */
    uint64_t alert_position;       /* its alert journal position */
    uint64_t snapshots_discarded;  /* unusable snapshot files passed over */
    uint64_t started_ns;           /* roda_now_ns() at start, until the replay is done */
    _Atomic uint64_t duration_ns;  /* start to the end of the replay (0 while it runs) */
    _Atomic bool done;             /* the replay is over (or there was none) */
} recovery_t;

/* The state stage: the stateful component, plus the slot store and directory for readers, and
 * the eviction of idle sensors at clock records. */
typedef struct state_stage {
    summarize_t pipe;
    roda_slots_t *slots;
    roda_sensor_index_t *index;
    roda_recent_values_t *recent; /* NULL: limits.recent_values is 0, or offline */
    uint64_t idle_timeout_ns;     /* limits.sensor_idle_timeout; 0: no eviction */
    uint32_t evict_scan;          /* indexes each clock record's scan looks at */
    uint32_t evict_cursor;        /* where the next scan starts */
    uint64_t clock_ns;            /* event time: the newest clock record's ingest time */
    uint64_t prelude_left;        /* recovery records still to replay (see recovery_t) */
    bool offline;                 /* roda-replay: no slot store or directory to keep */
    checkpoint_t *checkpoint;
    /* Mirrors of the component's counters for other threads (single writer). */
    _Atomic uint64_t tracked;
    _Atomic uint64_t refused;
    _Atomic uint64_t summaries;
    _Atomic uint64_t evicted;
    _Atomic uint64_t controls; /* clock and checkpoint records (not readings) */
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
    uint64_t next_scan_ns; /* event time of the next stale scan */
    uint64_t clock_ns;     /* event time: the newest clock summary's ingest time */
    /* Recovery: alerts the replayed tail makes again that the alert journal already holds (they
     * are not appended twice), and, without a snapshot, whether the replay's alerts are
     * suppressed until the RECOVERED summary (nothing tells which were announced). */
    uint64_t skip_alerts;
    bool suppress_replayed;
    bool replaying; /* until the RECOVERED summary */
    checkpoint_t *checkpoint;
    recovery_t *recovery;
    _Atomic uint64_t refused;
    _Atomic uint64_t alerts;
    _Atomic uint64_t alerts_unwritten;   /* a file-backed alert journal could not grow */
    _Atomic uint64_t alerts_rejournaled; /* recovery: already in the alert journal, skipped */
    _Atomic uint64_t alerts_suppressed;  /* recovery without a snapshot: not announced */
    _Atomic uint64_t controls;           /* clock, checkpoint and recovered summaries */
    roda_log_limiter_t unwritten_log;
    reload_box_t reload;
    /* Questions for the windows the stage owns: /sensors/{id} asks for one sensor's (the box is
     * made when the rules have windows), a /metrics scrape for the exported sensors' (made with
     * limits.window_stats: roda_config_window_series sensors). */
    roda_window_box_t windows;
    roda_window_box_t gauges;
} rules_stage_t;

/* The engine's stages, in pipeline order (also their output journals). */
typedef enum pipeline_stage { STAGE_STATE = 0, STAGE_RULES = 1, STAGE_COUNT = 2 } pipeline_stage_t;

struct roda_pipeline {
    roda_config_t config;
    roda_engine_t *engine;
    roda_ingest_t *ingest;                   /* NULL offline */
    const roda_devices_t *devices;           /* names of the records' devices (NULL: none known) */
    const roda_sensor_names_t *sensor_names; /* names of named sensors (NULL: none known) */
    bool offline;                            /* roda_pipeline_create_replay */
    int lock_fd; /* journal.directory's lock (roda_dir_lock.h); -1: none */
    state_stage_t state;
    rules_stage_t rules;
    roda_alert_names_t names;
    checkpoint_t checkpoint;
    recovery_t recovery;
    _Atomic uint64_t series_capped;
    uint64_t api_since_ns; /* roda_wall_ns() when the page's endpoints were set up (uptime) */
    bool started;
};

/* The name of device `device` (NULL when unknown). */
const char *roda_pipeline_device_name(void *pipeline, uint32_t device);
/* The name of a named sensor (roda_sensor_names.h), NULL for a numbered one. Any thread. */
const char *roda_pipeline_sensor_name(void *pipeline, uint64_t sensor_id);
/* Posts the question in `box` (taken by roda_window_box_begin) and waits for the rules stage's
 * ticks to answer it; returns the sensors answered (0 when it did not answer in time). */
uint32_t roda_pipeline_ask_windows(roda_window_box_t *box);
/* Readings of new sensors past max_sensors, in either stage's table. */
uint64_t roda_pipeline_sensors_refused(const roda_pipeline_t *pipeline);

/* ---- Snapshots and recovery (roda_pipeline_snapshot.c) ---- */

/* State thread, at a CHECKPOINT record `id`: writes the state section if that checkpoint is in
 * flight. */
void checkpoint_state(state_stage_t *state, uint64_t id);
/* Rules thread, at a CHECKPOINT summary `id`: writes the rules section and the alert journal's
 * position, then hands the checkpoint to the controlling thread. */
void checkpoint_rules(rules_stage_t *rules, uint64_t id, uint64_t event_time_ns,
                      const roda_journal_t *alerts);
/* Before the engine exists: loads the newest usable snapshot of journal.directory into the
 * stages, and opens the journal tail to replay (p->recovery). Logs what it did. Errors only when
 * the directory's files cannot be read at all. */
roda_result_t recovery_prepare(roda_pipeline_t *pipeline);
/* After the stages exist: how many replayed alerts the alert journal already holds. */
void recovery_align_alerts(roda_pipeline_t *pipeline);
/* Rules thread, at the RECOVERED summary: records and logs the end of the replay. */
void recovery_done(rules_stage_t *rules);
/* Records stage 0 has still to replay (0 when done or none). Any thread. */
uint64_t recovery_left(const roda_pipeline_t *pipeline);
/* Controlling thread, after the stages stopped: the snapshot of everything processed. */
void snapshot_at_stop(roda_pipeline_t *pipeline);
void recovery_close(roda_pipeline_t *pipeline);

#endif
