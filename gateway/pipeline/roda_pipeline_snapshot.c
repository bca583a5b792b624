/* roda_pipeline_snapshot.c - the pipeline's durable state: checkpoints (controlling thread,
 * ingest, state stage, rules stage), the snapshot at stop, and recovery at start (see
 * roda_pipeline.h, "Durable state"). */
#include "roda_pipeline_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "roda_log.h"

/* Checkpoints not yet handed back are looked at this often by the controlling thread. */
#define CHECKPOINT_POLL_MS 50u
/* Snapshot files looked at during recovery, newest first. */
#define RECOVERY_CANDIDATES 8u

/* ---- What a snapshot holds --------------------------------------------------------------------
 */

/* The state stage: its key table (summaries), the stateful component's counters, the eviction
 * cursor and the clock. */
static void state_visit(state_stage_t *st, void *io)
{
    roda_keytable_visit(&st->pipe.keys, roda_snapshot_io_blob, io);
    roda_snapshot_io_blob(io, &st->pipe.counters, sizeof st->pipe.counters);
    roda_snapshot_io_blob(io, &st->evict_cursor, sizeof st->evict_cursor);
    roda_snapshot_io_blob(io, &st->clock_ns, sizeof st->clock_ns);
}

/* The rules stage: previous summaries, the rule set's state, the clock and the next stale scan. */
static void rules_visit(rules_stage_t *rs, void *io)
{
    roda_keytable_visit(&rs->previous, roda_snapshot_io_blob, io);
    roda_rules_visit(rs->rules, roda_snapshot_io_blob, io);
    roda_snapshot_io_blob(io, &rs->clock_ns, sizeof rs->clock_ns);
    roda_snapshot_io_blob(io, &rs->next_scan_ns, sizeof rs->next_scan_ns);
}

static void measure(roda_pipeline_t *p, uint64_t lengths[RODA_SNAPSHOT_SECTIONS])
{
    roda_snapshot_io_t io;
    roda_snapshot_measure(&io);
    state_visit(&p->state, &io);
    lengths[RODA_SNAPSHOT_STATE] = io.length;
    roda_snapshot_measure(&io);
    rules_visit(&p->rules, &io);
    lengths[RODA_SNAPSHOT_RULES] = io.length;
}

/* The limits and record sizes a snapshot's bytes depend on. */
static void geometry(const roda_config_t *c, uint64_t words[RODA_SNAPSHOT_GEOMETRY])
{
    uint64_t values[RODA_SNAPSHOT_GEOMETRY] = {
        c->limits.max_sensors,
        c->limits.max_rules,
        sizeof(roda_summary_t),
        sizeof(roda_rule_t),
        roda_rules_memory(c->rules, c->rule_count, c->limits.max_rules, c->limits.max_sensors,
                          c->limits.max_devices),
        roda_keytable_memory(c->limits.max_sensors, sizeof(roda_summary_t)),
        sizeof(roda_reading_t),
        sizeof(roda_alert_t),
    };
    memcpy(words, values, sizeof values);
}

/* ---- Checkpoints ------------------------------------------------------------------------------
 */

void checkpoint_state(state_stage_t *st, uint64_t id)
{
    checkpoint_t *cp = st->checkpoint;
    if (id == 0 || atomic_load_explicit(&cp->pending, memory_order_acquire) != id)
        return;
    roda_snapshot_io_t io;
    roda_snapshot_section_begin(&cp->writer, RODA_SNAPSHOT_STATE, &io);
    state_visit(st, &io);
    roda_snapshot_section_end(&cp->writer, RODA_SNAPSHOT_STATE, &io);
}

void checkpoint_rules(rules_stage_t *rs, uint64_t id, uint64_t event_time_ns,
                      const roda_journal_t *alerts)
{
    checkpoint_t *cp = rs->checkpoint;
    if (id == 0 || atomic_load_explicit(&cp->pending, memory_order_acquire) != id)
        return;
    roda_snapshot_io_t io;
    roda_snapshot_section_begin(&cp->writer, RODA_SNAPSHOT_RULES, &io);
    rules_visit(rs, &io);
    roda_snapshot_section_end(&cp->writer, RODA_SNAPSHOT_RULES, &io);
    /* The rules stage is the alert journal's writer: every alert of the covered input is in. */
    cp->alert_position = alerts->claim_position;
    cp->event_time_ns = event_time_ns;
    atomic_store_explicit(&cp->written, id, memory_order_release);
}

static void snapshot_failed(checkpoint_t *cp, const char *step, int error)
{
    uint64_t suppressed;
    roda_counter_add(&cp->failed_total, 1);
    if (roda_log_limiter_allow(&cp->failure_log, roda_now_ns(), &suppressed))
        roda_log(RODA_LOG_ERROR, "snapshot not written",
                 "directory=%s step=%s errno=%d error=\"%s\" suppressed=%llu hint=\"%s\"",
                 cp->directory, step, error, strerror(error), (unsigned long long)suppressed,
                 "free space on journal.directory's file system; the previous snapshot stays "
                 "and a restart replays a longer journal tail");
}

/* Writes the header and puts the file in place; logs and counts either way. */
static void commit(roda_pipeline_t *p, const roda_snapshot_info_t *info, uint64_t began_ns)
{
    checkpoint_t *cp = &p->checkpoint;
    char path[RODA_SNAPSHOT_PATH_MAX + 64];
    uint64_t bytes = RODA_SNAPSHOT_HEADER + cp->writer.lengths[RODA_SNAPSHOT_STATE] +
                     cp->writer.lengths[RODA_SNAPSHOT_RULES];
    if (roda_snapshot_commit(&cp->writer, info, path, sizeof path) != RODA_SUCCESS) {
        snapshot_failed(cp, "write", errno);
        return;
    }
    uint64_t duration = roda_now_ns() - began_ns;
    roda_counter_add(&cp->written_total, 1);
    atomic_store_explicit(&cp->last_bytes, bytes, memory_order_relaxed);
    atomic_store_explicit(&cp->last_duration_ns, duration, memory_order_relaxed);
    atomic_store_explicit(&cp->last_position, info->input_position, memory_order_relaxed);
    roda_log(RODA_LOG_DEBUG, "snapshot written",
             "path=%s input_position=%" PRIu64 " alert_position=%" PRIu64
             " sensors=%u bytes=%" PRIu64 " ms=%.1f",
             path, info->input_position, info->alert_position, (unsigned)p->state.pipe.keys.count,
             bytes, (double)duration / 1e6);
}

static void checkpoint_begin(roda_pipeline_t *p, uint64_t now)
{
    checkpoint_t *cp = &p->checkpoint;
    cp->due_ns = now + cp->interval_ns;
    if (roda_snapshot_begin(&cp->writer, cp->directory, cp->lengths) != RODA_SUCCESS) {
        snapshot_failed(cp, "create", errno);
        return;
    }
    /* A new id each time, also across restarts: a CHECKPOINT record of an earlier run that a
     * recovery replays never matches. */
    uint64_t id = roda_wall_ns();
    cp->began_ns = now;
    atomic_store_explicit(&cp->pending, id, memory_order_release);
    roda_ingest_request_checkpoint(p->ingest, id);
}

/* Commits checkpoint `id` once the rules stage wrote its section (and the ingest published the
 * record's position). */
static void checkpoint_finish(roda_pipeline_t *p, uint64_t id)
{
    checkpoint_t *cp = &p->checkpoint;
    uint64_t position;
    if (atomic_load_explicit(&cp->written, memory_order_acquire) != id ||
        !roda_ingest_checkpoint_marked(p->ingest, id, &position))
        return;
    roda_snapshot_info_t info = {.id = id,
                                 .input_position = position + 1,
                                 .alert_position = cp->alert_position,
                                 .event_time_ns = cp->event_time_ns,
                                 .written_ns = roda_wall_ns()};
    memcpy(info.geometry, cp->geometry, sizeof info.geometry);
    commit(p, &info, cp->began_ns);
    atomic_store_explicit(&cp->pending, 0, memory_order_relaxed);
}

uint32_t roda_pipeline_checkpoint(roda_pipeline_t *p)
{
    checkpoint_t *cp = &p->checkpoint;
    if (!p->started || cp->directory == NULL || cp->interval_ns == 0)
        return UINT32_MAX;
    uint64_t id = atomic_load_explicit(&cp->pending, memory_order_relaxed);
    if (id != 0) {
        checkpoint_finish(p, id);
        if (atomic_load_explicit(&cp->pending, memory_order_relaxed) != 0)
            return CHECKPOINT_POLL_MS;
    }
    uint64_t now = roda_now_ns();
    if (now >= cp->due_ns)
        checkpoint_begin(p, now);
    if (atomic_load_explicit(&cp->pending, memory_order_relaxed) != 0)
        return CHECKPOINT_POLL_MS;
    return (uint32_t)((cp->due_ns - now) / 1000000u) + 1;
}

void snapshot_at_stop(roda_pipeline_t *p)
{
    checkpoint_t *cp = &p->checkpoint;
    if (cp->directory == NULL)
        return;
    /* The stages are joined: a checkpoint in flight is dropped, the state is written whole. */
    roda_snapshot_abort(&cp->writer);
    atomic_store_explicit(&cp->pending, 0, memory_order_relaxed);
    uint64_t began = roda_now_ns();
    if (roda_snapshot_begin(&cp->writer, cp->directory, cp->lengths) != RODA_SUCCESS) {
        snapshot_failed(cp, "create", errno);
        return;
    }
    roda_snapshot_io_t io;
    roda_snapshot_section_begin(&cp->writer, RODA_SNAPSHOT_STATE, &io);
    state_visit(&p->state, &io);
    roda_snapshot_section_end(&cp->writer, RODA_SNAPSHOT_STATE, &io);
    roda_snapshot_section_begin(&cp->writer, RODA_SNAPSHOT_RULES, &io);
    rules_visit(&p->rules, &io);
    roda_snapshot_section_end(&cp->writer, RODA_SNAPSHOT_RULES, &io);
    const roda_journal_t *input = roda_engine_input(p->engine);
    const roda_journal_t *alerts = roda_engine_output(p->engine, STAGE_RULES);
    roda_snapshot_info_t info = {
        .id = roda_wall_ns(),
        .input_position = atomic_load_explicit(&input->write_position, memory_order_acquire),
        .alert_position = atomic_load_explicit(&alerts->write_position, memory_order_acquire),
        .event_time_ns = p->rules.clock_ns,
        .written_ns = roda_wall_ns()};
    memcpy(info.geometry, cp->geometry, sizeof info.geometry);
    commit(p, &info, began);
}

/* ---- Recovery ---------------------------------------------------------------------------------
 */

/* Reads section `kind` of an opened snapshot with `visit`; false (nothing partial is used: the
 * caller fails) when its length differs or a read fails. */
static bool load_state(roda_pipeline_t *p, const roda_snapshot_reader_t *reader)
{
    roda_snapshot_io_t io;
    roda_snapshot_section_read(reader, RODA_SNAPSHOT_STATE, &io);
    state_visit(&p->state, &io);
    if (!roda_snapshot_section_complete(reader, RODA_SNAPSHOT_STATE, &io))
        return false;
    roda_snapshot_section_read(reader, RODA_SNAPSHOT_RULES, &io);
    rules_visit(&p->rules, &io);
    return roda_snapshot_section_complete(reader, RODA_SNAPSHOT_RULES, &io);
}

/* After a load: the HTTP readers' slot store and directory from the summaries, and the config's
 * rules over the snapshot's (kept per name and scope, as a reload). */
static roda_result_t settle_loaded(roda_pipeline_t *p)
{
    roda_keytable_t *keys = &p->state.pipe.keys;
    uint32_t cursor = 0, index;
    uint64_t sensor;
    while (roda_keytable_next(keys, &cursor, &sensor, &index)) {
        (void)roda_slots_write(p->state.slots, index, roda_keytable_state(keys, index));
        (void)roda_sensor_index_insert(p->state.index, sensor, index);
    }
    atomic_store_explicit(&p->state.tracked, keys->count, memory_order_relaxed);
    const roda_config_t *c = &p->config;
    bool same = roda_rules_count(p->rules.rules) == c->rule_count;
    for (uint32_t i = 0; same && i < c->rule_count; i++)
        same = roda_rule_equal(roda_rules_get(p->rules.rules, i), &c->rules[i]);
    if (same)
        return RODA_SUCCESS;
    uint64_t dropped = 0;
    roda_result_t r = roda_rules_reload(p->rules.rules, c->rules, c->rule_count, &dropped);
    roda_log(RODA_LOG_INFO, "rules differ from the snapshot's",
             "applied=%s dropped_active=%" PRIu64, r == RODA_SUCCESS ? "yes" : "no", dropped);
    return r;
}

/* Loads the newest snapshot that passes every check; logs and counts those that do not. True
 * when one was loaded (its info in *info). */
static roda_result_t load_newest(roda_pipeline_t *p, roda_snapshot_info_t *info, bool *loaded)
{
    recovery_t *rc = &p->recovery;
    const char *directory = p->checkpoint.directory;
    uint64_t positions[RECOVERY_CANDIDATES];
    uint32_t count = roda_snapshot_list(directory, positions, RECOVERY_CANDIDATES);
    *loaded = false;
    for (uint32_t i = 0; i < count; i++) {
        char path[RODA_SNAPSHOT_PATH_MAX + 64], why[200];
        roda_snapshot_path(directory, positions[i], path, sizeof path);
        roda_snapshot_reader_t reader;
        if (roda_snapshot_open(path, p->checkpoint.geometry, &reader, why, sizeof why) !=
            RODA_SUCCESS) {
            char quoted[240];
            rc->snapshots_discarded++;
            roda_log(RODA_LOG_WARN, "snapshot unusable", "path=%s why=%s hint=\"%s\"", path,
                     roda_log_quote(quoted, sizeof quoted, why),
                     i + 1 < count ? "trying the one before"
                                   : "replaying the retained input journal from its start");
            continue;
        }
        bool read = load_state(p, &reader);
        int error = errno;
        roda_snapshot_close(&reader);
        if (!read) {
            roda_log(RODA_LOG_ERROR, "snapshot checked but not readable",
                     "path=%s errno=%d error=\"%s\" hint=\"%s\"", path, error, strerror(error),
                     "the state is partly loaded: the gateway does not start; check the disk");
            return RODA_ERROR_IO;
        }
        *info = reader.info;
        *loaded = true;
        rc->snapshot_position = reader.info.input_position;
        return settle_loaded(p);
    }
    return RODA_SUCCESS;
}

/* Opens the retained input journal for the replay from `from` (clamped to what it holds, with a
 * log line when records are missing). */
static roda_result_t open_tail(roda_pipeline_t *p, uint64_t from, bool loaded)
{
    recovery_t *rc = &p->recovery;
    roda_journal_replay_t *replay = NULL;
    roda_result_t r = roda_journal_open_readonly(p->checkpoint.directory, &replay);
    if (r == RODA_ERROR_IO && errno == ENOENT)
        return RODA_SUCCESS; /* no journal yet: nothing to replay */
    if (r != RODA_SUCCESS) {
        char quoted[300];
        roda_log(RODA_LOG_ERROR, "input journal unreadable",
                 "directory=%s error=%s detail=%s hint=\"%s\"", p->checkpoint.directory,
                 roda_result_str(r),
                 roda_log_quote(quoted, sizeof quoted, roda_journal_error_detail()),
                 "the gateway does not start on a damaged recording; move the file named away "
                 "to start without it");
        return r;
    }
    if (roda_journal_replay_schema(replay) != RODA_READING_SCHEMA) {
        roda_log(RODA_LOG_ERROR, "input journal of another schema",
                 "directory=%s schema=%u expected=%u hint=\"%s\"", p->checkpoint.directory,
                 (unsigned)roda_journal_replay_schema(replay), RODA_READING_SCHEMA,
                 "written by another version of the gateway: give journal.directory a new "
                 "directory (keep the old one for roda-audit)");
        roda_journal_replay_close(replay);
        return RODA_ERROR_INVALID_ARG;
    }
    uint64_t first = roda_journal_replay_first(replay), end = roda_journal_replay_end(replay);
    if (!loaded)
        from = first;
    if (from < first) {
        roda_log(RODA_LOG_WARN, "journal tail partly gone",
                 "snapshot_position=%" PRIu64 " oldest_retained=%" PRIu64 " missing=%" PRIu64
                 " hint=\"%s\"",
                 from, first, first - from,
                 "raise journal.retained_segments or lower journal.snapshot_interval");
        from = first;
    }
    if (from > end) {
        roda_log(RODA_LOG_WARN, "snapshot newer than the journal",
                 "snapshot_position=%" PRIu64 " journal_end=%" PRIu64, from, end);
        from = end;
    }
    rc->from = from;
    if (from == end || roda_journal_replay_seek(replay, from) != RODA_SUCCESS) {
        roda_journal_replay_close(replay);
        return RODA_SUCCESS;
    }
    rc->replay = replay;
    rc->records = end - from;
    return RODA_SUCCESS;
}

roda_result_t recovery_prepare(roda_pipeline_t *p)
{
    const roda_config_t *c = &p->config;
    checkpoint_t *cp = &p->checkpoint;
    recovery_t *rc = &p->recovery;
    geometry(c, cp->geometry);
    measure(p, cp->lengths);
    roda_log_limiter_init(&cp->failure_log, 10000000000ull);
    rc->started_ns = roda_now_ns();
    atomic_store_explicit(&rc->done, true, memory_order_relaxed);
    if (c->journal.directory[0] == '\0')
        return RODA_SUCCESS;
    cp->directory = c->journal.directory;
    cp->interval_ns = c->journal.snapshot_interval_ns;
    cp->due_ns = rc->started_ns + cp->interval_ns;
    roda_snapshot_info_t info = {0};
    bool loaded;
    roda_result_t r = load_newest(p, &info, &loaded);
    if (r == RODA_SUCCESS)
        r = open_tail(p, info.input_position, loaded);
    if (r != RODA_SUCCESS)
        return r;
    rc->loaded = loaded;
    rc->alert_position = info.alert_position;
    p->state.prelude_left = rc->records;
    p->rules.replaying = rc->records != 0;
    p->rules.suppress_replayed = !loaded && rc->records != 0;
    atomic_store_explicit(&rc->done, rc->records == 0, memory_order_relaxed);
    roda_log(RODA_LOG_INFO, "recovery",
             "snapshot_position=%s%" PRIu64 " sensors=%u replay_from=%" PRIu64
             " replay_records=%" PRIu64 " snapshots_discarded=%" PRIu64 " replayed_alerts=%s",
             loaded ? "" : "none/", info.input_position, (unsigned)p->state.pipe.keys.count,
             rc->from, rc->records, rc->snapshots_discarded,
             !loaded && rc->records != 0 ? "suppressed" : "skipped_if_journaled");
    return RODA_SUCCESS;
}

void recovery_align_alerts(roda_pipeline_t *p)
{
    recovery_t *rc = &p->recovery;
    if (!rc->loaded)
        return;
    const roda_journal_t *alerts = roda_engine_output(p->engine, STAGE_RULES);
    uint64_t end = alerts->start_position;
    if (end < rc->alert_position) {
        roda_log(RODA_LOG_WARN, "alert journal behind the snapshot",
                 "alert_position=%" PRIu64 " journal_end=%" PRIu64 " hint=\"%s\"",
                 rc->alert_position, end,
                 "journal.alert_directory was emptied or moved: replayed alerts are written again");
        return;
    }
    p->rules.skip_alerts = end - rc->alert_position;
}

void recovery_done(rules_stage_t *rs)
{
    recovery_t *rc = rs->recovery;
    uint64_t duration = roda_now_ns() - rc->started_ns;
    atomic_store_explicit(&rc->duration_ns, duration, memory_order_relaxed);
    atomic_store_explicit(&rc->done, true, memory_order_release);
    roda_log(RODA_LOG_INFO, "recovered",
             "replayed_records=%" PRIu64 " ms=%.1f alerts_already_journaled=%" PRIu64
             " alerts_suppressed=%" PRIu64,
             rc->records, (double)duration / 1e6,
             atomic_load_explicit(&rs->alerts_rejournaled, memory_order_relaxed),
             atomic_load_explicit(&rs->alerts_suppressed, memory_order_relaxed));
}

uint64_t recovery_left(const roda_pipeline_t *p)
{
    roda_stage_stats_t stats;
    if (p->engine == NULL ||
        roda_engine_stage_stats(p->engine, STAGE_STATE, &stats) != RODA_SUCCESS)
        return 0;
    return stats.prelude_left;
}

void recovery_close(roda_pipeline_t *p)
{
    roda_journal_replay_close(p->recovery.replay);
    p->recovery.replay = NULL;
    roda_snapshot_abort(&p->checkpoint.writer);
}
