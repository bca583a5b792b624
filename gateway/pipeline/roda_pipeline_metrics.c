/* roda_pipeline_metrics.c - the pipeline's Prometheus families: ingest by input and reason,
 * journals, stages, alerts and their latency, sensors and per-sensor series (the names the
 * dashboard and the Prometheus rules use: tests/gateway/metric_names.txt). */
#include "roda_pipeline_private.h"

#include <stddef.h>

/* Ingest drop reasons exported in roda_ingest_dropped_total (the ingest's counter names). */
static const roda_ingest_counter_t drop_reasons[] = {
    RODA_INGEST_DECODE_ERROR,      RODA_INGEST_TRUNCATED,         RODA_INGEST_OVERSIZE,
    RODA_INGEST_TOO_MANY_READINGS, RODA_INGEST_UNKNOWN_TOPIC,     RODA_INGEST_BAD_DEVICE,
    RODA_INGEST_TOO_MANY_DEVICES,  RODA_INGEST_NON_FINITE,        RODA_INGEST_JOURNAL_FULL,
    RODA_INGEST_DISK_FULL,         RODA_INGEST_MALFORMED_READING, RODA_INGEST_KERNEL_DROPS,
    RODA_INGEST_RECEIVE_ERRORS,    RODA_INGEST_MISSING_FIELD,     RODA_INGEST_WRONG_TYPE,
    RODA_INGEST_OUT_OF_RANGE,      RODA_INGEST_OTHER_DEVICE,      RODA_INGEST_IGNORED};

/* One counter family with a sample per input. */
static void per_input(roda_metrics_t *m, const roda_ingest_stats_t *is, const char *name,
                      const char *help, roda_ingest_counter_t counter)
{
    roda_metrics_family(m, name, RODA_METRIC_COUNTER, help);
    for (uint32_t in = 0; in < is->input_count; in++) {
        roda_metrics_label_t label = {"input", is->inputs[in].name};
        roda_metrics_u64(m, &label, 1, is->inputs[in].counters[counter]);
    }
}

static void ingest_metrics(roda_pipeline_t *p, roda_metrics_t *m)
{
    roda_ingest_stats_t is;
    roda_ingest_stats(p->ingest, &is);
    per_input(m, &is, "roda_ingest_readings_total",
              "Readings accepted into the input journal, by input.", RODA_INGEST_READINGS);
    per_input(m, &is, "roda_ingest_messages_total",
              "Messages (MQTT) or datagrams (UDP) received: each is an accepted batch, a "
              "duplicate or a message dropped for one reason.",
              RODA_INGEST_MESSAGES);
    per_input(m, &is, "roda_ingest_batches_total", "Batches (messages) accepted, by input.",
              RODA_INGEST_BATCHES);
    per_input(m, &is, "roda_ingest_batch_readings_total",
              "Readings in accepted batches: each is accepted or dropped for one reason.",
              RODA_INGEST_BATCH_READINGS);
    roda_metrics_family(
        m, "roda_ingest_dropped_total", RODA_METRIC_COUNTER,
        "Input dropped, by input and reason. Messages: decode_error, truncated, oversize, "
        "too_many_readings, unknown_topic, bad_device, too_many_devices, ignored (messages_total = "
        "batches_total + these + duplicates_total). Readings of accepted batches: non_finite, "
        "missing_field, wrong_type, out_of_range, other_device, journal_full, disk_full, "
        "malformed_reading (batch_readings_total = readings_total + these). "
        "Never received: kernel_drops (datagrams), receive_errors (failed receive calls).");
    for (uint32_t in = 0; in < is.input_count; in++) {
        for (size_t r = 0; r < sizeof drop_reasons / sizeof drop_reasons[0]; r++) {
            roda_metrics_label_t labels[] = {{"input", is.inputs[in].name},
                                             {"reason", roda_ingest_counter_name(drop_reasons[r])}};
            roda_metrics_u64(m, labels, 2, is.inputs[in].counters[drop_reasons[r]]);
        }
    }
    per_input(m, &is, "roda_ingest_lost_upstream_total",
              "Batches missing from device sequences (gaps).", RODA_INGEST_LOST_UPSTREAM);
    per_input(m, &is, "roda_ingest_duplicates_total", "Duplicate batches dropped.",
              RODA_INGEST_DUPLICATE);
    per_input(m, &is, "roda_ingest_unnamed_readings_total",
              "Readings of named sensors committed without their name: the sensor name "
              "registry (limits.max_sensors names) was full.",
              RODA_INGEST_UNNAMED_SENSORS);
    per_input(
        m, &is, "roda_ingest_devices_baselined_total",
        "Devices whose first sequenced batch since start set their sequence baseline (devices "
        "restored from journal.directory keep theirs).",
        RODA_INGEST_BASELINES);
    per_input(m, &is, "roda_ingest_unseen_before_start_total",
              "Batches devices sent in their current boot before the first one this gateway saw "
              "(sequence - 1 of that batch): published before the gateway subscribed, or while "
              "it was not running.",
              RODA_INGEST_UNSEEN_BEFORE_START);
    per_input(m, &is, "roda_ingest_late_total",
              "Accepted batches that arrived after a later one (filled a sequence gap).",
              RODA_INGEST_LATE);
    per_input(m, &is, "roda_ingest_sequence_resets_total",
              "Accepted batches whose boot epoch or sequence could not continue the device's "
              "(too far ahead or behind): the device's new baseline, never counted as lost.",
              RODA_INGEST_SEQUENCE_RESETS);
    roda_ingest_input_metrics(p->ingest, m);
}

static void journal_metrics(roda_pipeline_t *p, roda_metrics_t *m)
{
    /* The input journal, then each stage's output journal. */
    static const char *const names[1 + STAGE_COUNT] = {"input", "summaries", "alerts"};
    roda_journal_stats_t stats[1 + STAGE_COUNT];
    roda_journal_stats(roda_engine_input(p->engine), &stats[0]);
    for (uint32_t i = 0; i < STAGE_COUNT; i++)
        roda_journal_stats(roda_engine_output(p->engine, i), &stats[1 + i]);
    struct {
        const char *name, *help;
        roda_metric_type_t type;
        size_t offset;
    } families[] = {
        {"roda_journal_capacity_records", "Journal capacity in records.", RODA_METRIC_GAUGE,
         offsetof(roda_journal_stats_t, capacity)},
        {"roda_journal_lag_records", "Records the slowest gating reader has not read yet.",
         RODA_METRIC_GAUGE, offsetof(roda_journal_stats_t, slowest_lag)},
        {"roda_journal_appended_total", "Records appended.", RODA_METRIC_COUNTER,
         offsetof(roda_journal_stats_t, appended)},
        {"roda_journal_rejected_total", "Records refused because the journal was full (REJECT).",
         RODA_METRIC_COUNTER, offsetof(roda_journal_stats_t, rejected)},
    };
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        roda_metrics_family(m, families[f].name, families[f].type, families[f].help);
        for (uint32_t j = 0; j < 1 + STAGE_COUNT; j++) {
            uint64_t value;
            memcpy(&value, (const char *)&stats[j] + families[f].offset, sizeof value);
            roda_metrics_label_t label = {"journal", names[j]};
            roda_metrics_u64(m, &label, 1, value);
        }
    }
}

static void stage_metrics(roda_pipeline_t *p, roda_metrics_t *m)
{
    roda_stage_stats_t stats[STAGE_COUNT];
    for (uint32_t i = 0; i < STAGE_COUNT; i++)
        roda_engine_stage_stats(p->engine, i, &stats[i]);
    /* The clock records each stage passes on are not events. */
    uint64_t controls[STAGE_COUNT] = {
        atomic_load_explicit(&p->state.controls, memory_order_relaxed),
        atomic_load_explicit(&p->rules.controls, memory_order_relaxed)};
    roda_metrics_family(m, "roda_stage_events_total", RODA_METRIC_COUNTER,
                        "Readings (state) and summaries and evictions (rules) consumed by each "
                        "stage.");
    for (uint32_t i = 0; i < STAGE_COUNT; i++) {
        roda_metrics_label_t label = {"stage", stats[i].name};
        roda_metrics_u64(m, &label, 1, stats[i].consumed - controls[i]);
    }
    roda_metrics_family(m, "roda_stage_sleeps_total", RODA_METRIC_COUNTER,
                        "Futex sleeps of each stage while idle.");
    for (uint32_t i = 0; i < STAGE_COUNT; i++) {
        roda_metrics_label_t label = {"stage", stats[i].name};
        roda_metrics_u64(m, &label, 1, stats[i].sleeps);
    }
}

static void alert_metrics(roda_pipeline_t *p, roda_metrics_t *m)
{
    roda_rule_t rule;
    roda_rule_stats_t stats;
    roda_metrics_family(m, "roda_alerts_total", RODA_METRIC_COUNTER,
                        "Alert records emitted, by rule, severity and state.");
    for (uint32_t i = 0; roda_rules_snapshot(p->rules.rules, i, &rule, &stats) == RODA_SUCCESS;
         i++) {
        const char *severity = roda_severity_name(rule.severity);
        roda_metrics_label_t firing[] = {
            {"rule", rule.name}, {"severity", severity}, {"state", "firing"}};
        roda_metrics_u64(m, firing, 3, stats.fired);
        roda_metrics_label_t resolved[] = {
            {"rule", rule.name}, {"severity", severity}, {"state", "resolved"}};
        roda_metrics_u64(m, resolved, 3, stats.resolved);
    }
    roda_metrics_family(m, "roda_alerts_suppressed_total", RODA_METRIC_COUNTER,
                        "Firings held back by a rule's hold-off.");
    for (uint32_t i = 0; roda_rules_snapshot(p->rules.rules, i, &rule, &stats) == RODA_SUCCESS;
         i++) {
        roda_metrics_label_t label = {"rule", rule.name};
        roda_metrics_u64(m, &label, 1, stats.suppressed);
    }
    roda_metrics_family(m, "roda_alerts_active", RODA_METRIC_GAUGE,
                        "Sensors for which a rule is firing now.");
    for (uint32_t i = 0; roda_rules_snapshot(p->rules.rules, i, &rule, &stats) == RODA_SUCCESS;
         i++) {
        roda_metrics_label_t labels[] = {{"rule", rule.name},
                                         {"severity", roda_severity_name(rule.severity)}};
        roda_metrics_u64(m, labels, 2, stats.active);
    }
    roda_metrics_family(m, "roda_alerts_unwritten_total", RODA_METRIC_COUNTER,
                        "Alerts raised but not written: the file-backed alert journal "
                        "(journal.alert_directory) could not grow.");
    roda_metrics_u64(m, NULL, 0,
                     atomic_load_explicit(&p->rules.alerts_unwritten, memory_order_relaxed));
    roda_metrics_family(
        m, "roda_rules_errors_total", RODA_METRIC_COUNTER,
        "Rule evaluations that could not complete: bad_index (a summary's sensor "
        "index past max_sensors), lost_output (alerts that did not fit the output).");
    roda_metrics_label_t bad_index = {"reason", "bad_index"};
    roda_metrics_u64(m, &bad_index, 1, roda_rules_bad_index(p->rules.rules));
    roda_metrics_label_t lost_output = {"reason", "lost_output"};
    roda_metrics_u64(m, &lost_output, 1, roda_rules_lost_output(p->rules.rules));
    roda_metrics_family(m, "roda_alert_latency_seconds", RODA_METRIC_HISTOGRAM,
                        "Ingest-to-alert latency: reading decoded to alert emitted by the rules "
                        "stage (stale alerts excluded).");
    roda_metrics_histogram(m, NULL, 0, &p->rules.latency);
}

/* The window gauges of the `answered` sensors in the gauges box (limits.window_stats): one
 * family, roda_sensor_window{device,sensor,window,hop,stat[,name]}, stat count, mean, min, max,
 * stddev, slope and, for a window with a sketch, p50 .. p99. */
static void window_metrics(roda_pipeline_t *p, roda_metrics_t *m, uint32_t answered)
{
    const roda_window_box_t *box = &p->rules.gauges;
    roda_metrics_family_capped(
        m, "roda_sensor_window", RODA_METRIC_GAUGE,
        "Statistics of the rules' time windows (length `window`, sliding by `hop`) of the "
        "sensors exported in roda_sensor_value (limits.window_stats), at the event clock.",
        (uint32_t)roda_config_window_gauges(&p->config));
    char lengths[RODA_RULES_WINDOWS][RODA_CONFIG_DURATION_TEXT];
    char hops[RODA_RULES_WINDOWS][RODA_CONFIG_DURATION_TEXT];
    for (uint32_t w = 0; w < RODA_RULES_WINDOWS; w++) {
        const roda_twindow_spec_t *spec = &box->specs[w];
        roda_config_duration_text(spec->hop_ns * spec->buckets, lengths[w], sizeof lengths[w]);
        roda_config_duration_text(spec->hop_ns, hops[w], sizeof hops[w]);
    }
    for (uint32_t i = 0; i < answered; i++) {
        const roda_window_box_entry_t *e = roda_window_box_entry(box, i);
        const char *device = roda_pipeline_device_name(p, e->device);
        const char *name = roda_pipeline_sensor_name(p, e->sensor_id);
        for (uint32_t w = 0; w < e->windows; w++) {
            roda_metrics_label_t labels[] = {
                {"window", lengths[w]}, {"hop", hops[w]}, {"stat", "count"}};
            roda_summary_metrics_sample(m, device, e->sensor_id, name, labels, 3,
                                        (double)e->stats[w].count);
            roda_rule_value_t last =
                box->specs[w].sketch ? RODA_RULE_VALUE_P99 : RODA_RULE_VALUE_SLOPE;
            for (roda_rule_value_t v = RODA_RULE_VALUE_MEAN; v <= last; v++) {
                if (v == RODA_RULE_VALUE_EWMA)
                    continue;
                labels[2].value = roda_rule_value_name(v);
                roda_summary_metrics_sample(m, device, e->sensor_id, name, labels, 3,
                                            roda_rules_window_value(&e->stats[w], v));
            }
        }
    }
}

static void sensor_metrics(roda_pipeline_t *p, roda_metrics_t *m)
{
    const roda_config_t *c = &p->config;
    roda_metrics_family(m, "roda_sensors_tracked", RODA_METRIC_GAUGE, "Sensors with state.");
    roda_metrics_u64(m, NULL, 0, atomic_load_explicit(&p->state.tracked, memory_order_relaxed));
    roda_metrics_family(m, "roda_sensors_refused_total", RODA_METRIC_COUNTER,
                        "Readings of new sensors refused past limits.max_sensors.");
    roda_metrics_u64(m, NULL, 0, roda_pipeline_sensors_refused(p));
    roda_metrics_family(m, "roda_sensors_evicted_total", RODA_METRIC_COUNTER,
                        "Sensors forgotten after limits.sensor_idle_timeout without a reading.");
    roda_metrics_u64(m, NULL, 0, atomic_load_explicit(&p->state.evicted, memory_order_relaxed));

    roda_summary_metrics_family(m, c->limits.max_series);
    uint64_t now = roda_wall_ns(), exported = 0, capped = 0;
    /* Every tracked sensor's summary is in a slot below the bound; an evicted sensor's slot is
     * cleared (never written and cleared slots read as RODA_ERROR_STATE). */
    roda_window_box_t *gauges = &p->rules.gauges;
    bool windows = gauges->entries != NULL && roda_window_box_begin(gauges);
    uint32_t bound = roda_sensor_index_slot_bound(p->state.index);
    for (uint32_t slot = 0; slot < bound; slot++) {
        roda_summary_t s = {0};
        if (roda_slots_read(p->state.slots, slot, &s) != RODA_SUCCESS ||
            !roda_summary_is_fresh(&s, now, c->limits.series_staleness_ns))
            continue;
        if (exported == c->limits.max_series) {
            capped++;
            continue;
        }
        roda_summary_metrics(&s, roda_pipeline_device_name(p, s.device),
                             roda_pipeline_sensor_name(p, s.sensor_id), m);
        if (windows)
            (void)roda_window_box_add(gauges, s.sensor_id, s.device);
        exported++;
    }
    if (windows) {
        window_metrics(p, m, roda_pipeline_ask_windows(gauges));
        roda_window_box_end(gauges);
    }
    /* Scrapes are serialised by the HTTP server, so this read-modify-write has one writer. */
    roda_counter_add(&p->series_capped, capped);
    roda_metrics_family(m, "roda_series_capped_total", RODA_METRIC_COUNTER,
                        "Per-sensor series left out of scrapes by limits.max_series (summed over "
                        "scrapes).");
    roda_metrics_u64(m, NULL, 0, atomic_load_explicit(&p->series_capped, memory_order_relaxed));
}

static void durability_metrics(roda_pipeline_t *p, roda_metrics_t *m)
{
    const checkpoint_t *cp = &p->checkpoint;
    const recovery_t *rc = &p->recovery;
    roda_metrics_family(m, "roda_snapshots_total", RODA_METRIC_COUNTER,
                        "Snapshots of the stages' state (journal.directory), by result.");
    roda_metrics_label_t written = {"result", "written"}, failed = {"result", "failed"};
    roda_metrics_u64(m, &written, 1,
                     atomic_load_explicit(&cp->written_total, memory_order_relaxed));
    roda_metrics_u64(m, &failed, 1, atomic_load_explicit(&cp->failed_total, memory_order_relaxed));
    roda_metrics_family(m, "roda_snapshot_last_bytes", RODA_METRIC_GAUGE,
                        "Size of the newest snapshot written.");
    roda_metrics_u64(m, NULL, 0, atomic_load_explicit(&cp->last_bytes, memory_order_relaxed));
    roda_metrics_family(m, "roda_snapshot_last_duration_seconds", RODA_METRIC_GAUGE,
                        "Checkpoint request to the newest snapshot in place.");
    roda_metrics_double(m, NULL, 0,
                        (double)atomic_load_explicit(&cp->last_duration_ns, memory_order_relaxed) *
                            1e-9);
    roda_metrics_family(m, "roda_snapshot_last_position", RODA_METRIC_GAUGE,
                        "Input journal position the newest snapshot covers up to.");
    roda_metrics_u64(m, NULL, 0, atomic_load_explicit(&cp->last_position, memory_order_relaxed));
    roda_metrics_family(m, "roda_recovery_replayed_records", RODA_METRIC_GAUGE,
                        "Input journal records replayed at start (the tail after the snapshot).");
    roda_metrics_u64(m, NULL, 0, rc->records);
    roda_metrics_family(m, "roda_recovery_snapshots_discarded", RODA_METRIC_GAUGE,
                        "Snapshot files passed over at start (corrupt, truncated, other limits).");
    roda_metrics_u64(m, NULL, 0, rc->snapshots_discarded);
    roda_metrics_family(m, "roda_recovery_duration_seconds", RODA_METRIC_GAUGE,
                        "Start to the end of the recovery replay (0 while it runs).");
    roda_metrics_double(
        m, NULL, 0, (double)atomic_load_explicit(&rc->duration_ns, memory_order_relaxed) * 1e-9);
    roda_metrics_family(m, "roda_recovery_alerts_total", RODA_METRIC_COUNTER,
                        "Alerts the recovery replay made again and did not append: "
                        "already_journaled (the alert journal held them), suppressed (no "
                        "snapshot: they may have been announced before).");
    roda_metrics_label_t journaled = {"outcome", "already_journaled"},
                         suppressed = {"outcome", "suppressed"};
    roda_metrics_u64(m, &journaled, 1,
                     atomic_load_explicit(&p->rules.alerts_rejournaled, memory_order_relaxed));
    roda_metrics_u64(m, &suppressed, 1,
                     atomic_load_explicit(&p->rules.alerts_suppressed, memory_order_relaxed));
}

void roda_pipeline_metrics(void *context, roda_metrics_t *m)
{
    roda_pipeline_t *p = context;
    ingest_metrics(p, m);
    journal_metrics(p, m);
    stage_metrics(p, m);
    alert_metrics(p, m);
    sensor_metrics(p, m);
    durability_metrics(p, m);
}
