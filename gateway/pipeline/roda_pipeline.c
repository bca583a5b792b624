/* roda_pipeline.c - the gateway pipeline: ingest -> state stage -> rules stage -> alert journal
 * (see roda_pipeline.h). */
#include "roda_pipeline_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roda_dir_lock.h"
#include "roda_log.h"

/* The rules stage looks for a handed-over reload this often. */
#define TICK_MAX_NS 100000000ull
/* The eviction scan looks at enough indexes per clock record to cover the key table in half the
 * idle timeout (so a sensor goes between 1 and 1.5 timeouts after its last reading), and at least
 * this many. */
#define EVICT_SCAN_MIN 256u

_Static_assert(offsetof(roda_summary_t, sensor_id) == 0,
               "the sensor directory checks the sensor id at the start of a slot");

/* Appends one summary (a stage's output journal is a BLOCK journal in memory: a claim waits, it
 * never fails). */
static void append_summary(roda_journal_t *output, const roda_summary_t *summary)
{
    void *slot;
    uint64_t granted;
    if (roda_journal_claim(output, 1, &slot, &granted) != RODA_SUCCESS)
        return;
    memcpy(slot, summary, sizeof *summary);
    roda_journal_commit(output, 1);
}

/* ---- State stage --------------------------------------------------------------------------- */

/* Forgets sensor `index` (its key is removed already): readers lose it, and the rules stage gets
 * its last summary marked RODA_SUMMARY_EVICTED, stamped with the clock, after every summary of it.
 */
static void evict(state_stage_t *st, uint32_t index, const roda_summary_t *last,
                  roda_journal_t *output)
{
    (void)roda_sensor_index_remove(st->index, last->sensor_id);
    (void)roda_slots_clear(st->slots, index);
    roda_summary_t record = *last;
    record.ingest_time_ns = st->clock_ns;
    record.flags = RODA_SUMMARY_EVICTED;
    append_summary(output, &record);
}

/* Scans evict_scan indexes of the key table, from where the last scan stopped, and evicts the
 * sensors idle longer than the timeout at the clock (by the ingest time of their last reading). */
static void evict_idle(state_stage_t *st, roda_journal_t *output)
{
    roda_keytable_t *keys = &st->pipe.keys;
    uint64_t evicted = 0, now = st->clock_ns;
    for (uint32_t n = 0; n < st->evict_scan; n++) {
        uint32_t index = st->evict_cursor;
        st->evict_cursor = index + 1 < keys->capacity ? index + 1 : 0;
        const roda_summary_t *s = roda_keytable_state(keys, index);
        bool idle = now > s->ingest_time_ns && now - s->ingest_time_ns > st->idle_timeout_ns;
        /* A free index keeps its last sensor's summary: removing it fails, nothing is evicted. */
        if (!idle || !roda_keytable_remove_index(keys, index))
            continue;
        evict(st, index, s, output);
        evicted++;
    }
    if (evicted == 0)
        return;
    roda_counter_add(&st->evicted, evicted);
    atomic_store_explicit(&st->tracked, keys->count, memory_order_relaxed);
}

/* A clock or checkpoint record: the clock moves, idle sensors are evicted, a checkpoint writes
 * the state section, and the record goes on as a control summary, so the rules stage sees
 * everything in the same order. */
static void state_control(state_stage_t *st, const roda_reading_t *r, roda_journal_t *output)
{
    if (r->ingest_time_ns > st->clock_ns)
        st->clock_ns = r->ingest_time_ns;
    if (st->idle_timeout_ns != 0)
        evict_idle(st, output);
    bool checkpoint = r->kind == RODA_RECORD_CHECKPOINT;
    if (checkpoint)
        checkpoint_state(st, r->sensor_id);
    roda_summary_t control = {.sensor_id = r->sensor_id,
                              .ingest_time_ns = st->clock_ns,
                              .device = r->device,
                              .flags = checkpoint                       ? RODA_SUMMARY_CHECKPOINT
                                       : r->kind == RODA_RECORD_SILENCE ? RODA_SUMMARY_SILENCE
                                                                        : RODA_SUMMARY_CLOCK};
    append_summary(output, &control);
    roda_counter_add(&st->controls, 1);
}

static void state_batch(void *context, const void *records, uint64_t count, roda_journal_t *output)
{
    state_stage_t *st = context;
    const roda_reading_t *in = records;
    uint64_t i = 0, emitted = 0;
    while (i < count) {
        if (__builtin_expect(in[i].kind != RODA_RECORD_READING, 0)) {
            state_control(st, &in[i++], output);
            continue;
        }
        void *slots;
        uint64_t granted;
        /* The summary journal is a BLOCK journal in memory: a claim waits, it never fails. */
        if (roda_journal_claim(output, count - i, &slots, &granted) != RODA_SUCCESS)
            return;
        roda_summary_t *out = slots;
        uint64_t produced = 0;
        while (i < count && produced < granted && in[i].kind == RODA_RECORD_READING) {
            if (!summarize(&st->pipe, &in[i++], &out[produced]))
                continue;
            const roda_summary_t *s = &out[produced++];
            uint32_t index = st->pipe.last_index;
            /* The slot is written before a new sensor is published, so a reader that finds
             * the sensor finds its summary. Both calls are within bounds by construction
             * (index < max_sensors = slot count = directory capacity). Offline, nobody reads
             * them. */
            if (!st->offline) {
                (void)roda_slots_write(st->slots, index, s);
                if (st->recent != NULL)
                    roda_recent_values_push(st->recent, index, s->count == 1, s->last);
                if (s->count == 1)
                    (void)roda_sensor_index_insert(st->index, s->sensor_id, index);
            }
        }
        if (produced != 0)
            roda_journal_commit(output, produced);
        emitted += produced;
    }
    roda_counter_add(&st->summaries, emitted);
    atomic_store_explicit(&st->tracked, st->pipe.keys.count, memory_order_relaxed);
    atomic_store_explicit(&st->refused, st->pipe.counters.refused, memory_order_relaxed);
    /* The engine hands the recovery replay over in batches of its own: the last one ends it. */
    if (st->prelude_left != 0) {
        st->prelude_left -= count < st->prelude_left ? count : st->prelude_left;
        if (st->prelude_left == 0) {
            roda_summary_t recovered = {.ingest_time_ns = st->clock_ns,
                                        .flags = RODA_SUMMARY_RECOVERED};
            append_summary(output, &recovered);
        }
    }
}

/* ---- Rules stage --------------------------------------------------------------------------- */

/* During recovery: how many of `n` new alerts are not appended, because the alert journal holds
 * them already (the replay makes the alerts the live run made, in the same order) or, without a
 * snapshot, because nothing tells whether they were announced. */
static uint32_t recovered_alerts(rules_stage_t *rs, uint32_t n)
{
    if (rs->suppress_replayed) {
        roda_counter_add(&rs->alerts_suppressed, n);
        return n;
    }
    uint32_t skip = rs->skip_alerts < n ? (uint32_t)rs->skip_alerts : n;
    rs->skip_alerts -= skip;
    roda_counter_add(&rs->alerts_rejournaled, skip);
    return skip;
}

static void emit_alerts(rules_stage_t *rs, const roda_alert_t *alerts, uint32_t n,
                        roda_journal_t *output)
{
    uint32_t first = rs->replaying ? recovered_alerts(rs, n) : 0, done = first;
    while (done < n) {
        void *slots;
        uint64_t granted;
        /* No gating reader on the alert journal: claims never wait. They fail only when a
         * file-backed journal cannot grow (journal.alert_directory on a full disk): counted. */
        if (roda_journal_claim(output, n - done, &slots, &granted) != RODA_SUCCESS) {
            int error = errno;
            uint64_t suppressed;
            roda_counter_add(&rs->alerts_unwritten, n - done);
            if (roda_log_limiter_allow(&rs->unwritten_log, roda_now_ns(), &suppressed))
                roda_log(RODA_LOG_ERROR, "alert journal cannot grow",
                         "errno=%d error=\"%s\" alerts=%u suppressed=%llu hint=\"%s\"", error,
                         strerror(error), (unsigned)(n - done), (unsigned long long)suppressed,
                         "free space on journal.alert_directory's file system");
            break;
        }
        memcpy(slots, &alerts[done], granted * sizeof(roda_alert_t));
        roda_journal_commit(output, granted);
        done += (uint32_t)granted;
    }
    roda_counter_add(&rs->alerts, done - first);
}

/* The state stage evicted `evicted->sensor_id` at the clock in its ingest_time_ns: its stale
 * alerts first, then its rule state and previous summary go, and its index is free for a new
 * sensor. */
static void rules_evict(rules_stage_t *rs, const roda_summary_t *evicted, roda_journal_t *output)
{
    uint32_t index = roda_keytable_remove(&rs->previous, evicted->sensor_id);
    /* Absent only if this table refused the sensor, which the same capacity rules out. */
    if (index == RODA_KEYTABLE_NONE)
        return;
    roda_alert_t alerts[RODA_RULES_MAX];
    uint32_t n =
        roda_rules_evict(rs->rules, index, evicted->ingest_time_ns, alerts, RODA_RULES_MAX);
    emit_alerts(rs, alerts, n, output);
}

/* The recovery replay is over: from here on every alert is new. */
static void rules_recovered(rules_stage_t *rs)
{
    if (rs->skip_alerts != 0)
        roda_log(RODA_LOG_WARN, "recovery replay made fewer alerts than the journal holds",
                 "missing=%" PRIu64 " hint=\"%s\"", rs->skip_alerts,
                 "the rules changed (reload) between the snapshot and the stop, or alerts were "
                 "not written (disk full); new alerts follow the journal's last one");
    rs->skip_alerts = 0;
    rs->suppress_replayed = false;
    rs->replaying = false;
    recovery_done(rs);
}

/* A control summary: eviction, the clock (stale scan when due), a checkpoint or the end of the
 * recovery replay. */
static void rules_control(rules_stage_t *rs, const roda_summary_t *s, roda_journal_t *output)
{
    roda_counter_add(&rs->controls, (s->flags & RODA_SUMMARY_EVICTED) == 0);
    if (s->flags & RODA_SUMMARY_EVICTED) {
        rules_evict(rs, s, output);
        return;
    }
    if (s->flags & RODA_SUMMARY_RECOVERED) {
        rules_recovered(rs);
        return;
    }
    if (s->ingest_time_ns > rs->clock_ns)
        rs->clock_ns = s->ingest_time_ns;
    if (s->flags & RODA_SUMMARY_SILENCE) {
        roda_alert_t alerts[RODA_RULES_MAX];
        uint32_t cursor = 0;
        bool done = false;
        while (!done) {
            uint32_t n = roda_rules_silence(rs->rules, s->device, rs->clock_ns, alerts,
                                            RODA_RULES_MAX, &cursor, &done);
            emit_alerts(rs, alerts, n, output);
        }
    }
    if (rs->clock_ns >= rs->next_scan_ns) {
        rs->next_scan_ns = rs->clock_ns + rs->stale_tick_ns;
        roda_alert_t alerts[RODA_RULES_MAX];
        bool done = false;
        while (!done) {
            uint32_t n = roda_rules_tick(rs->rules, rs->clock_ns, alerts, RODA_RULES_MAX, &done);
            emit_alerts(rs, alerts, n, output);
        }
    }
    if (s->flags & RODA_SUMMARY_CHECKPOINT)
        checkpoint_rules(rs, s->sensor_id, rs->clock_ns, output);
}

static void rules_batch(void *context, const void *records, uint64_t count, roda_journal_t *output)
{
    rules_stage_t *rs = context;
    const roda_summary_t *in = records;
    roda_alert_t alerts[RODA_RULES_MAX];
    for (uint64_t i = 0; i < count; i++) {
        uint32_t index;
        bool fresh;
        if (__builtin_expect(in[i].flags != 0, 0)) {
            rules_control(rs, &in[i], output);
            continue;
        }
        if (roda_keytable_insert(&rs->previous, in[i].sensor_id, &index, &fresh) != RODA_SUCCESS) {
            /* Same capacity as the state stage's table, so only reachable if that changes. */
            roda_counter_add(&rs->refused, 1);
            continue;
        }
        roda_summary_t *previous = (roda_summary_t *)rs->previous.states + index;
        uint32_t n = roda_rules_evaluate(rs->rules, index, &in[i], fresh ? NULL : previous, alerts,
                                         RODA_RULES_MAX);
        *previous = in[i];
        if (n == 0)
            continue;
        /* Latency of live alerts only: a replayed reading is as old as the outage. */
        uint64_t now = roda_wall_ns();
        for (uint32_t a = 0; a < n && !rs->replaying; a++)
            roda_histogram_observe(&rs->latency,
                                   now > alerts[a].ingest_time_ns
                                       ? (double)(now - alerts[a].ingest_time_ns) * 1e-9
                                       : 0.0);
        emit_alerts(rs, alerts, n, output);
    }
}

/* Sensors a window question's answer covers per tick (so a scrape's question holds the stage a
 * few milliseconds per tick at most: about 1 us per sensor and window with a sketch). */
#define WINDOW_ANSWER_CHUNK 2048u
/* Ticks a window question may wait beyond those its chunks take. */
#define WINDOW_WAIT_TICKS 5u

/* The statistics of a sensor's windows at the event clock (roda_window_box_fn). */
static uint32_t sensor_window_stats(void *context, uint64_t sensor_id, roda_twindow_spec_t *specs,
                                    roda_twindow_stats_t *stats, uint32_t max)
{
    rules_stage_t *rs = context;
    uint32_t index = roda_keytable_find(&rs->previous, sensor_id);
    return index == RODA_KEYTABLE_NONE
               ? 0
               : roda_rules_windows(rs->rules, index, rs->clock_ns, specs, stats, max);
}

uint32_t roda_pipeline_ask_windows(roda_window_box_t *box)
{
    uint64_t ticks = box->asked / WINDOW_ANSWER_CHUNK + WINDOW_WAIT_TICKS;
    return roda_window_box_wait(box, roda_now_ns() + ticks * TICK_MAX_NS);
}

/* Applies a handed-over rule reload, and answers window questions. */
static void rules_tick(void *context, uint64_t now_ns, roda_journal_t *output)
{
    rules_stage_t *rs = context;
    reload_box_t *box = &rs->reload;
    (void)now_ns;
    (void)output;
    roda_window_box_answer(&rs->windows, sensor_window_stats, rs, WINDOW_ANSWER_CHUNK);
    roda_window_box_answer(&rs->gauges, sensor_window_stats, rs, WINDOW_ANSWER_CHUNK);
    if (atomic_load_explicit(&box->state, memory_order_acquire) == RELOAD_PENDING) {
        box->dropped_active = 0;
        box->result = roda_rules_reload(rs->rules, box->rules, box->count, &box->dropped_active);
        atomic_store_explicit(&box->state, RELOAD_DONE, memory_order_release);
    }
}

/* ---- Names --------------------------------------------------------------------------------- */

const char *roda_pipeline_device_name(void *context, uint32_t device)
{
    roda_pipeline_t *p = context;
    return p->devices != NULL ? roda_devices_name(p->devices, device) : NULL;
}

const char *roda_pipeline_sensor_name(void *context, uint64_t sensor_id)
{
    roda_pipeline_t *p = context;
    return roda_sensor_names_find(p->sensor_names, sensor_id);
}

static bool rule_name(void *context, uint32_t rule, uint16_t generation, char *buf, size_t size)
{
    roda_pipeline_t *p = context;
    return roda_rules_name(p->rules.rules, rule, generation, buf, size);
}

/* ---- Create / start / stop ------------------------------------------------------------------ */

/* A file-backed alert journal (journal.alert_directory) is ALERT_SEGMENTS segment files, each at
 * least a page of alerts. */
#define ALERT_SEGMENTS 4u
#define ALERT_SEGMENT_MIN 64u
_Static_assert(ALERT_SEGMENT_MIN * sizeof(roda_alert_t) % 4096 == 0, "a segment is whole pages");

bool roda_pipeline_check(const roda_config_t *c, const roda_input_class_t *const *inputs,
                         uint32_t input_count, char *why, size_t size)
{
    if (c->journal.directory[0] != '\0' &&
        (c->journal.segment_records > c->journal.input_capacity / 2 ||
         c->journal.retained_segments < c->journal.input_capacity / c->journal.segment_records)) {
        snprintf(why, size,
                 "journal.segment_records: with journal.directory, the input journal needs at "
                 "least 2 segments (segment_records <= input_capacity / 2) and "
                 "retained_segments >= input_capacity / segment_records");
        return false;
    }
    if (c->journal.alert_directory[0] != '\0' &&
        c->journal.alert_capacity < ALERT_SEGMENTS * ALERT_SEGMENT_MIN) {
        snprintf(why, size,
                 "journal.alert_capacity: with journal.alert_directory it must be at least %u "
                 "(%u segment files of at least %u alerts, a page each)",
                 ALERT_SEGMENTS * ALERT_SEGMENT_MIN, ALERT_SEGMENTS, ALERT_SEGMENT_MIN);
        return false;
    }
    if (!roda_config_memory_fits(c, roda_config_physical_memory(), why, size))
        return false;
    for (uint32_t i = 0; i < input_count; i++) {
        roda_input_settings_t settings;
        bool enabled;
        if (!roda_input_configure(inputs[i], c, &settings, &enabled, why, size))
            return false;
    }
    return true;
}

/* Latency buckets, seconds: 1 us .. 10 s. */
static const double latency_bounds[] = {1e-6, 2.5e-6, 5e-6,   1e-5, 2.5e-5, 5e-5,   1e-4, 2.5e-4,
                                        5e-4, 1e-3,   2.5e-3, 5e-3, 1e-2,   2.5e-2, 5e-2, 0.1,
                                        0.25, 0.5,    1.0,    2.5,  5.0,    10.0};

/* Indexes per clock record that cover `capacity` in half the idle timeout, at least
 * EVICT_SCAN_MIN, at most the whole table. */
static uint32_t evict_scan(uint32_t capacity, uint64_t clock_ns, uint64_t idle_timeout_ns)
{
    uint64_t ticks = idle_timeout_ns / 2 / clock_ns;
    uint64_t scan = ticks != 0 ? (capacity + ticks - 1) / ticks : capacity;
    if (scan < EVICT_SCAN_MIN)
        scan = EVICT_SCAN_MIN;
    return scan < capacity ? (uint32_t)scan : capacity;
}

/* Passes `result` on; a failure is logged with the part of the memory plan and its settings. */
static roda_result_t made(roda_result_t result, const char *part, const char *setting)
{
    if (result == RODA_SUCCESS)
        return result;
    /* A journal directory's file at fault is named in the journal's detail. */
    const char *detail = roda_journal_error_detail();
    char quoted[300];
    if (detail[0] != '\0')
        roda_log(RODA_LOG_ERROR, "cannot create", "part=\"%s\" error=\"%s\" detail=%s hint=\"%s\"",
                 part, roda_result_str(result), roda_log_quote(quoted, sizeof quoted, detail),
                 "make the directory writable by the gateway's user, or move a damaged file named "
                 "away (roda-audit DIRECTORY checks them all), or use another directory");
    else
        roda_log(RODA_LOG_ERROR, "cannot create",
                 "part=\"%s\" setting=\"%s\" error=\"%s\" hint=\"%s\"", part, setting,
                 roda_result_str(result),
                 "lower the setting, or give the gateway more memory (roda-gateway --check-config "
                 "prints the plan)");
    return result;
}

/* The clock interval: the stale tick, at most RODA_INGEST_CLOCK_INTERVAL_NS. */
static uint64_t clock_interval(const roda_config_t *c)
{
    return c->stale_tick_ns < RODA_INGEST_CLOCK_INTERVAL_NS ? c->stale_tick_ns
                                                            : RODA_INGEST_CLOCK_INTERVAL_NS;
}

/* The stages' own state (both modes). */
static roda_result_t build_state(roda_pipeline_t *p)
{
    const roda_config_t *c = &p->config;
    roda_summary_set_alpha(c->ewma_alpha);
    roda_pipe_config_t pipe_config = {.key_capacity = c->limits.max_sensors};
    roda_result_t r =
        made(summarize_init(&p->state.pipe, &pipe_config), "stateful state", "limits.max_sensors");
    if (r == RODA_SUCCESS)
        r = made(roda_slots_create(c->limits.max_sensors, sizeof(roda_summary_t), &p->state.slots),
                 "summary slots", "limits.max_sensors");
    if (r == RODA_SUCCESS)
        r = made(roda_sensor_index_create(c->limits.max_sensors, &p->state.index),
                 "sensor directory", "limits.max_sensors");
    if (r == RODA_SUCCESS)
        r = made(
            roda_keytable_init(&p->rules.previous, c->limits.max_sensors, sizeof(roda_summary_t)),
            "rules previous", "limits.max_sensors");
    if (r == RODA_SUCCESS)
        r = roda_histogram_init(&p->rules.latency, latency_bounds,
                                sizeof latency_bounds / sizeof latency_bounds[0]);
    if (r == RODA_SUCCESS && roda_rules_window_count(c->rules, c->rule_count) != 0)
        r = made(roda_window_box_init(&p->rules.windows, 1), "window question", "rules");
    if (r == RODA_SUCCESS && !p->offline && roda_config_window_series(c) != 0)
        r = made(roda_window_box_init(&p->rules.gauges, roda_config_window_series(c)),
                 "window gauges", "limits.window_stats x limits.max_series");
    if (r == RODA_SUCCESS)
        r = made(roda_rules_create(c->rules, c->rule_count, c->limits.max_rules,
                                   c->limits.max_sensors, c->limits.max_devices,
                                   roda_pipeline_device_name, roda_pipeline_sensor_name, p,
                                   &p->rules.rules),
                 "rule state", "limits.max_rules x limits.max_sensors");
    /* Last: the parts the stages cannot run without fail first when memory is short. */
    if (r == RODA_SUCCESS)
        r = made(roda_recent_values_create(c->limits.max_sensors,
                                           p->offline ? 0 : c->limits.recent_values,
                                           &p->state.recent),
                 "recent values", "limits.recent_values x limits.max_sensors");
    if (r != RODA_SUCCESS)
        return r;
    p->rules.stale_tick_ns = c->stale_tick_ns;
    roda_log_limiter_init(&p->rules.unwritten_log, 10000000000ull);
    p->state.idle_timeout_ns = c->limits.sensor_idle_timeout_ns;
    p->state.evict_scan =
        evict_scan(c->limits.max_sensors, clock_interval(c), c->limits.sensor_idle_timeout_ns);
    p->state.checkpoint = &p->checkpoint;
    p->rules.checkpoint = &p->checkpoint;
    p->rules.recovery = &p->recovery;
    return RODA_SUCCESS;
}

/* The engine: its input journal (`ec`, with stage 0's prelude) and the two stages. Offline, the
 * alert journal stays in memory and is read by the engine's receiver (lossless, in order). */
static roda_result_t build_engine(roda_pipeline_t *p, const roda_engine_config_t *ec, bool offline)
{
    const roda_config_t *c = &p->config;
    roda_result_t r =
        made(roda_engine_create(ec, &p->engine), "journal input", "journal.input_capacity");
    if (r != RODA_SUCCESS)
        return r;
    roda_stage_config_t state = {
        .name = "state",
        .batch = state_batch,
        .context = &p->state,
        .output_record_size = sizeof(roda_summary_t),
        .output_capacity = c->journal.summary_capacity,
        .cpu = -1,
    };
    roda_stage_config_t rules = {
        .name = "rules",
        .batch = rules_batch,
        .tick = rules_tick,
        .tick_interval_ns = TICK_MAX_NS,
        .context = &p->rules,
        .output_record_size = sizeof(roda_alert_t),
        .output_capacity = c->journal.alert_capacity,
        .output_directory =
            !offline && c->journal.alert_directory[0] != '\0' ? c->journal.alert_directory : NULL,
        .output_segment_records = c->journal.alert_capacity / ALERT_SEGMENTS,
        .output_retained_segments = ALERT_SEGMENTS,
        .output_schema = RODA_ALERT_SCHEMA,
        .cpu = -1,
    };
    /* Added in pipeline_stage_t order: the engine numbers them so. */
    r = made(roda_engine_add_stage(p->engine, &state), "journal summary",
             "journal.summary_capacity");
    if (r == RODA_SUCCESS)
        r = made(roda_engine_add_stage(p->engine, &rules), "journal alert",
                 "journal.alert_capacity");
    return r;
}

/* Fused placement: the ingest thread runs the stages. */
static void run_stages(void *engine)
{
    (void)roda_engine_run(engine);
}

/* Before anything reads or writes journal.directory: its lock, so that a second gateway on it
 * (a standby started while the owner lives) refuses to start instead of sharing the journal,
 * the NATS positions and the consumers. */
static roda_result_t lock_directory(roda_pipeline_t *p)
{
    const char *directory = p->config.journal.directory;
    if (directory[0] == '\0')
        return RODA_SUCCESS;
    long holder;
    roda_result_t r = roda_dir_lock(directory, &p->lock_fd, &holder);
    if (r == RODA_ERROR_STATE)
        roda_log(RODA_LOG_ERROR, "journal directory in use",
                 "directory=%s lock=%s holder_pid=%ld hint=\"%s\"", directory,
                 RODA_DIR_LOCK_FILE_NAME, holder,
                 "another gateway runs on this journal.directory: stop it, or give this one its "
                 "own directory");
    else if (r != RODA_SUCCESS)
        roda_log(RODA_LOG_ERROR, "journal directory not locked",
                 "directory=%s lock=%s errno=%d hint=\"%s\"", directory, RODA_DIR_LOCK_FILE_NAME,
                 errno, "journal.directory must be writable");
    return r;
}

static roda_result_t build(roda_pipeline_t *p, const roda_input_class_t *const *inputs,
                           uint32_t input_count)
{
    const roda_config_t *c = &p->config;
    char why[256];
    if (!roda_pipeline_check(c, inputs, input_count, why, sizeof why)) {
        char quoted[300];
        roda_log(RODA_LOG_ERROR, "config invalid", "file=%s error=%s hint=\"%s\"", c->source,
                 roda_log_quote(quoted, sizeof quoted, why), "fix the field named in error");
        return RODA_ERROR_INVALID_ARG;
    }
    roda_result_t r = lock_directory(p);
    if (r == RODA_SUCCESS)
        r = build_state(p);
    if (r == RODA_SUCCESS)
        r = recovery_prepare(p);
    if (r != RODA_SUCCESS)
        return r;
    roda_engine_config_t ec = {
        .input_record_size = sizeof(roda_reading_t),
        .input_capacity = c->journal.input_capacity,
        .input_policy = RODA_JOURNAL_REJECT,
        .input_directory = c->journal.directory[0] != '\0' ? c->journal.directory : NULL,
        .input_segment_records = c->journal.segment_records,
        .input_retained_segments = c->journal.retained_segments,
        .input_schema = RODA_READING_SCHEMA,
        .input_prelude = p->recovery.replay,
        .input_prelude_end = p->recovery.from + p->recovery.records,
        .idle = c->idle_spin ? RODA_IDLE_SPIN : (roda_idle_config_t){0}, /* 0: the default */
        .placement =
            c->placement == RODA_STAGES_FUSED ? RODA_PLACEMENT_FUSED : RODA_PLACEMENT_THREADS,
    };
    r = build_engine(p, &ec, false);
    if (r != RODA_SUCCESS)
        return r;
    recovery_align_alerts(p);
    r = made(roda_ingest_create(c->limits.max_devices, c->limits.max_sensors,
                                RODA_INGEST_MAX_MESSAGE, roda_engine_input(p->engine),
                                ec.input_directory, &p->ingest),
             "device and sensor name registries", "limits.max_devices, limits.max_sensors");
    if (r != RODA_SUCCESS)
        return r;
    p->devices = roda_ingest_devices(p->ingest);
    p->sensor_names = roda_ingest_sensor_names(p->ingest);
    roda_ingest_set_clock_interval(p->ingest, clock_interval(c));
    if (c->placement == RODA_STAGES_FUSED)
        roda_ingest_set_stages(p->ingest, run_stages, p->engine);
    r = roda_ingest_add_configured(p->ingest, inputs, input_count, c, why, sizeof why);
    if (r != RODA_SUCCESS) {
        char quoted[300];
        roda_log(RODA_LOG_ERROR, "input not created", "error=%s hint=\"%s\"",
                 roda_log_quote(quoted, sizeof quoted, why),
                 "a port in use (udp.bind), or a setting of the input named");
    }
    return r;
}

/* Offline: no ingest and nothing on disk; stage 0 reads the recording, its live input is an
 * in-memory journal nobody writes (closed at start). */
#define REPLAY_INPUT_CAPACITY 1024u

/* A zeroed pipeline holding a copy of `config`, safe to destroy at any step of a build. */
static roda_pipeline_t *pipeline_alloc(const roda_config_t *config)
{
    roda_pipeline_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->config = *config;
    p->checkpoint.writer.fd = -1;
    p->checkpoint.writer.dir_fd = -1;
    p->lock_fd = -1;
    p->names =
        (roda_alert_names_t){p, rule_name, roda_pipeline_device_name, roda_pipeline_sensor_name};
    return p;
}

roda_result_t roda_pipeline_create(const roda_config_t *config,
                                   const roda_input_class_t *const *inputs, uint32_t input_count,
                                   roda_pipeline_t **out)
{
    if (out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    if (config == NULL || inputs == NULL || input_count > RODA_INGEST_MAX_INPUTS)
        return RODA_ERROR_INVALID_ARG;
    roda_pipeline_t *p = pipeline_alloc(config);
    if (p == NULL)
        return RODA_ERROR_NOMEM;
    roda_result_t r = build(p, inputs, input_count);
    if (r != RODA_SUCCESS) {
        roda_log(RODA_LOG_ERROR, "pipeline not created", "error=%s hint=\"%s\"", roda_result_str(r),
                 r == RODA_ERROR_NOMEM ? "lower the journal capacities or limits.max_sensors"
                                       : "fix what the error above names (roda-gateway "
                                         "--check-config checks the settings)");
        roda_pipeline_destroy(p);
        return r;
    }
    *out = p;
    return RODA_SUCCESS;
}

roda_result_t roda_pipeline_create_replay(const roda_config_t *config,
                                          roda_journal_replay_t *recording, uint64_t end,
                                          const roda_devices_t *devices,
                                          const roda_sensor_names_t *sensor_names,
                                          roda_pipeline_t **out)
{
    if (out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    if (config == NULL || recording == NULL)
        return RODA_ERROR_INVALID_ARG;
    roda_pipeline_t *p = pipeline_alloc(config);
    if (p == NULL)
        return RODA_ERROR_NOMEM;
    p->devices = devices;
    p->sensor_names = sensor_names;
    p->offline = true;
    p->state.offline = true;
    atomic_store_explicit(&p->recovery.done, true, memory_order_relaxed);
    roda_engine_config_t ec = {
        .input_record_size = sizeof(roda_reading_t),
        .input_capacity = REPLAY_INPUT_CAPACITY,
        .input_policy = RODA_JOURNAL_BLOCK,
        .input_prelude = recording,
        .input_prelude_end = end,
        .receive = true,
    };
    roda_result_t r = build_state(p);
    if (r == RODA_SUCCESS)
        r = build_engine(p, &ec, true);
    if (r != RODA_SUCCESS) {
        roda_pipeline_destroy(p);
        return r;
    }
    *out = p;
    return RODA_SUCCESS;
}

uint64_t roda_pipeline_replay_alerts(roda_pipeline_t *p, uint64_t max, roda_journal_view_t *view,
                                     bool *done)
{
    roda_idle_state_t idle = {0};
    *done = false;
    for (;;) {
        uint64_t count = roda_engine_receive_view(p->engine, max, view);
        if (count != 0)
            return count;
        if (roda_engine_receive_wait(p->engine, &idle) != RODA_SUCCESS) {
            *done = true;
            return 0;
        }
    }
}

void roda_pipeline_replay_release(roda_pipeline_t *p, uint64_t count)
{
    roda_engine_receive_release(p->engine, count);
}

roda_result_t roda_pipeline_start(roda_pipeline_t *p)
{
    if (p->started)
        return RODA_ERROR_STATE;
    /* The stages' readers exist once the engine runs: only then may the ingest write. */
    roda_result_t r = roda_engine_start(p->engine);
    if (r != RODA_SUCCESS)
        return r;
    /* Offline, nothing is sent: stage 0 replays the recording, then finds its input closed. */
    if (p->offline)
        roda_journal_close(roda_engine_input(p->engine));
    else
        r = roda_ingest_start(p->ingest);
    if (r != RODA_SUCCESS) {
        roda_engine_stop(p->engine);
        return r;
    }
    p->started = true;
    return RODA_SUCCESS;
}

void roda_pipeline_stop(roda_pipeline_t *p)
{
    if (p->ingest != NULL)
        roda_ingest_stop(p->ingest);
    if (p->engine != NULL)
        roda_engine_stop(p->engine);
    if (p->started && !p->offline)
        snapshot_at_stop(p);
    p->started = false;
}

void roda_pipeline_destroy(roda_pipeline_t *p)
{
    if (p == NULL)
        return;
    roda_pipeline_stop(p);
    roda_ingest_destroy(p->ingest);
    roda_engine_destroy(p->engine);
    recovery_close(p);
    roda_rules_destroy(p->rules.rules);
    roda_keytable_destroy(&p->rules.previous);
    roda_sensor_index_destroy(p->state.index);
    roda_recent_values_destroy(p->state.recent);
    roda_slots_destroy(p->state.slots);
    summarize_destroy(&p->state.pipe);
    roda_window_box_destroy(&p->rules.windows);
    roda_window_box_destroy(&p->rules.gauges);
    roda_dir_unlock(p->lock_fd);
    free(p);
}

roda_result_t roda_pipeline_reload_rules(roda_pipeline_t *p, const roda_config_t *next,
                                         uint32_t timeout_ms, uint64_t *dropped_active)
{
    reload_box_t *box = &p->rules.reload;
    int state = atomic_load_explicit(&box->state, memory_order_acquire);
    if (state == RELOAD_DONE) /* a reload that answered after its caller gave up */
        atomic_store_explicit(&box->state, RELOAD_IDLE, memory_order_relaxed);
    else if (state == RELOAD_PENDING)
        return RODA_ERROR_STATE;
    if (next->rule_count > RODA_RULES_MAX)
        return RODA_ERROR_TOO_MANY;
    box->count = next->rule_count;
    memcpy(box->rules, next->rules, next->rule_count * sizeof(roda_rule_t));
    atomic_store_explicit(&box->state, RELOAD_PENDING, memory_order_release);
    uint64_t deadline = roda_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    while (atomic_load_explicit(&box->state, memory_order_acquire) != RELOAD_DONE) {
        if (roda_now_ns() >= deadline)
            return RODA_ERROR_STATE;
        struct timespec pause = {0, 5 * 1000000L};
        nanosleep(&pause, NULL);
    }
    roda_result_t result = box->result;
    if (dropped_active != NULL)
        *dropped_active = box->dropped_active;
    /* A reload is not in the journal: snapshot soon, so a crash replays little with the file's
     * rules rather than the live ones. */
    if (result == RODA_SUCCESS)
        p->checkpoint.due_ns = 0;
    atomic_store_explicit(&box->state, RELOAD_IDLE, memory_order_relaxed);
    return result;
}

const roda_ingest_t *roda_pipeline_ingest(const roda_pipeline_t *p)
{
    return p->ingest;
}

roda_journal_t *roda_pipeline_alert_journal(roda_pipeline_t *p)
{
    return roda_engine_output(p->engine, STAGE_RULES);
}

const roda_alert_names_t *roda_pipeline_names(const roda_pipeline_t *p)
{
    return &p->names;
}

/* Readings of new sensors past max_sensors, in either stage's table (the rules stage's has the
 * same capacity, so it refuses only what the state stage already refused). */
uint64_t roda_pipeline_sensors_refused(const roda_pipeline_t *p)
{
    return atomic_load_explicit(&p->state.refused, memory_order_relaxed) +
           atomic_load_explicit(&p->rules.refused, memory_order_relaxed);
}

roda_result_t roda_pipeline_sensor(const roda_pipeline_t *p, uint64_t sensor_id,
                                   roda_summary_t *summary)
{
    return roda_sensor_index_read(p->state.index, p->state.slots, sensor_id, summary);
}

/* ---- HTTP providers ------------------------------------------------------------------------ */

bool roda_pipeline_ready(void *context, char *reason, size_t size)
{
    roda_pipeline_t *p = context;
    if (!roda_ingest_ready(p->ingest, reason, size))
        return false;
    for (uint32_t i = 0; i < roda_engine_stage_count(p->engine); i++) {
        roda_stage_stats_t stats;
        if (roda_engine_stage_stats(p->engine, i, &stats) != RODA_SUCCESS || !stats.running) {
            snprintf(reason, size, "stage %s not running", stats.name ? stats.name : "?");
            return false;
        }
    }
    if (!atomic_load_explicit(&p->recovery.done, memory_order_acquire)) {
        snprintf(reason, size, "recovering: %" PRIu64 " journal records left to replay",
                 recovery_left(p));
        return false;
    }
    roda_journal_stats_t input;
    roda_journal_stats(roda_engine_input(p->engine), &input);
    if (input.slowest_lag >= input.capacity - input.capacity / 10) {
        snprintf(reason, size, "input journal saturated (%" PRIu64 " of %" PRIu64 " records)",
                 input.slowest_lag, input.capacity);
        return false;
    }
    return true;
}

/* Sensor `sensor_id`'s windows, asked of the rules stage; 0 when it has none, does not answer
 * in time, or another question is still unanswered. */
static uint32_t sensor_windows(roda_pipeline_t *p, uint64_t sensor_id, roda_twindow_spec_t *specs,
                               roda_twindow_stats_t *stats)
{
    roda_window_box_t *box = &p->rules.windows;
    uint32_t count = 0;
    if (box->entries == NULL || !roda_window_box_begin(box))
        return 0;
    (void)roda_window_box_add(box, sensor_id, 0);
    if (roda_pipeline_ask_windows(box) == 1) {
        const roda_window_box_entry_t *e = roda_window_box_entry(box, 0);
        count = e->windows;
        memcpy(specs, box->specs, count * sizeof *specs);
        memcpy(stats, e->stats, count * sizeof *stats);
    }
    roda_window_box_end(box);
    return count;
}

/* A window's statistics as a JSON object. */
static void window_json(const roda_twindow_spec_t *spec, const roda_twindow_stats_t *s,
                        roda_json_t *json)
{
    static const char *const quantiles[RODA_TWINDOW_QUANTILES] = {"p50", "p90", "p95", "p99"};
    roda_json_object_begin(json);
    roda_json_key(json, "length_ns");
    roda_json_u64(json, spec->hop_ns * spec->buckets);
    roda_json_key(json, "hop_ns");
    roda_json_u64(json, spec->hop_ns);
    roda_json_key(json, "count");
    roda_json_u64(json, s->count);
    const char *names[] = {"mean", "min", "max", "stddev", "slope"};
    const double values[] = {s->mean, s->min, s->max, s->stddev, s->slope};
    for (int i = 0; i < 5; i++) {
        roda_json_key(json, names[i]);
        roda_json_double(json, values[i]);
    }
    for (int q = 0; q < RODA_TWINDOW_QUANTILES && spec->sketch; q++) {
        roda_json_key(json, quantiles[q]);
        roda_json_double(json, s->quantiles[q]);
    }
    roda_json_object_end(json);
}

bool roda_pipeline_sensor_json(void *context, uint64_t sensor_id, roda_json_t *json)
{
    roda_pipeline_t *p = context;
    roda_summary_t s = {0};
    if (roda_pipeline_sensor(p, sensor_id, &s) != RODA_SUCCESS)
        return false;
    roda_twindow_spec_t specs[RODA_RULES_WINDOWS];
    roda_twindow_stats_t stats[RODA_RULES_WINDOWS];
    uint32_t windows = sensor_windows(p, sensor_id, specs, stats);
    roda_json_object_begin(json);
    roda_summary_json(&s, roda_pipeline_device_name(p, s.device),
                      roda_pipeline_sensor_name(p, s.sensor_id),
                      roda_ingest_input_name(p->ingest, s.input), json);
    roda_json_key(json, "windows");
    roda_json_array_begin(json);
    for (uint32_t w = 0; w < windows; w++)
        window_json(&specs[w], &stats[w], json);
    roda_json_array_end(json);
    roda_json_object_end(json);
    return true;
}

void roda_pipeline_totals(const roda_pipeline_t *p, roda_pipeline_totals_t *t)
{
    roda_ingest_stats_t is;
    roda_ingest_stats(p->ingest, &is);
    roda_stage_stats_t state, rules;
    roda_engine_stage_stats(p->engine, STAGE_STATE, &state);
    roda_engine_stage_stats(p->engine, STAGE_RULES, &rules);
    uint64_t accepted = 0, baselined = 0, unseen = 0;
    for (uint32_t i = 0; i < is.input_count; i++) {
        accepted += is.inputs[i].counters[RODA_INGEST_READINGS];
        baselined += is.inputs[i].counters[RODA_INGEST_BASELINES];
        unseen += is.inputs[i].counters[RODA_INGEST_UNSEEN_BEFORE_START];
    }
    *t = (roda_pipeline_totals_t){
        .readings_accepted = accepted,
        .state_consumed =
            state.consumed - atomic_load_explicit(&p->state.controls, memory_order_relaxed),
        .summaries = atomic_load_explicit(&p->state.summaries, memory_order_relaxed),
        .sensors_refused = roda_pipeline_sensors_refused(p),
        .sensors_evicted = atomic_load_explicit(&p->state.evicted, memory_order_relaxed),
        .rules_consumed =
            rules.consumed - atomic_load_explicit(&p->rules.controls, memory_order_relaxed),
        .alerts = atomic_load_explicit(&p->rules.alerts, memory_order_relaxed),
        .devices_baselined = baselined,
        .unseen_before_start = unseen,
    };
}
