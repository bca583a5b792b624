/* roda_pipeline.c - the gateway pipeline: ingest -> state stage -> rules stage -> alert journal
 * (see roda_pipeline.h). */
#include "roda_pipeline.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roda_engine.h"
#include "roda_ingest.h"
#include "roda_log.h"
#include "roda_pipe.h"
#include "roda_rules.h"
#include "roda_sensor_index.h"
#include "roda_slots.h"

/* The rules stage looks for a handed-over reload this often (and runs the stale scan every
 * stale_tick). */
#define RULES_TICK_MAX_NS 100000000ull

static inline uint64_t reading_sensor(const roda_reading_t *r)
{
    return r->sensor_id;
}

RODA_STATEFUL(summarize, roda_reading_t, roda_summary_t, reading_sensor, roda_summary_init,
              roda_summary_update)

/* The state stage: the stateful component, plus the slot store and directory for readers. */
typedef struct state_stage {
    summarize_t pipe;
    roda_slots_t *slots;
    roda_sensor_index_t *index;
    /* Mirrors of the component's counters for other threads (single writer). */
    _Atomic uint64_t tracked;
    _Atomic uint64_t refused;
    _Atomic uint64_t summaries;
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
    reload_box_t reload;
} rules_stage_t;

struct roda_pipeline {
    roda_config_t config;
    char device_pattern[RODA_CONFIG_TEXT_MAX + 16];
    roda_engine_t *engine;
    roda_ingest_t *ingest;
    state_stage_t state;
    rules_stage_t rules;
    roda_alert_names_t names;
    _Atomic uint64_t series_capped;
    bool started;
};

/* Single-writer counter update: no locked instruction. */
static void add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* ---- State stage --------------------------------------------------------------------------- */

static void state_batch(void *context, const void *records, uint64_t count, roda_journal_t *output)
{
    state_stage_t *st = context;
    const roda_reading_t *in = records;
    uint64_t i = 0, emitted = 0;
    while (i < count) {
        void *slots;
        uint64_t granted;
        /* The summary journal is a BLOCK journal in memory: a claim waits, it never fails. */
        if (roda_journal_claim(output, count - i, &slots, &granted) != RODA_SUCCESS)
            return;
        roda_summary_t *out = slots;
        uint64_t produced = 0;
        while (i < count && produced < granted) {
            if (!summarize(&st->pipe, &in[i++], &out[produced]))
                continue;
            const roda_summary_t *s = &out[produced++];
            uint32_t index = roda_keytable_find(&st->pipe.keys, s->sensor_id);
            /* The slot is written before a new sensor is published, so a reader that finds
             * the sensor finds its summary. Both calls are within bounds by construction
             * (index < max_sensors = slot count = directory capacity). */
            (void)roda_slots_write(st->slots, index, s);
            if (s->count == 1)
                (void)roda_sensor_index_insert(st->index, s->sensor_id, index);
        }
        if (produced != 0)
            roda_journal_commit(output, produced);
        emitted += produced;
    }
    add(&st->summaries, emitted);
    atomic_store_explicit(&st->tracked, st->pipe.keys.count, memory_order_relaxed);
    atomic_store_explicit(&st->refused, st->pipe.counters.refused, memory_order_relaxed);
}

/* ---- Rules stage --------------------------------------------------------------------------- */

static void emit_alerts(rules_stage_t *rs, const roda_alert_t *alerts, uint32_t n,
                        roda_journal_t *output)
{
    uint32_t done = 0;
    while (done < n) {
        void *slots;
        uint64_t granted;
        /* No gating reader on the alert journal: claims never wait and never fail. */
        if (roda_journal_claim(output, n - done, &slots, &granted) != RODA_SUCCESS)
            return;
        memcpy(slots, &alerts[done], granted * sizeof(roda_alert_t));
        roda_journal_commit(output, granted);
        done += (uint32_t)granted;
    }
    add(&rs->alerts, n);
}

static void rules_batch(void *context, const void *records, uint64_t count, roda_journal_t *output)
{
    rules_stage_t *rs = context;
    const roda_summary_t *in = records;
    roda_alert_t alerts[RODA_RULES_MAX];
    for (uint64_t i = 0; i < count; i++) {
        uint32_t index;
        bool fresh;
        if (roda_keytable_insert(&rs->previous, in[i].sensor_id, &index, &fresh) != RODA_SUCCESS) {
            /* Same capacity as the state stage's table, so only reachable if that changes. */
            add(&rs->refused, 1);
            continue;
        }
        roda_summary_t *previous = (roda_summary_t *)rs->previous.states + index;
        uint32_t n = roda_rules_evaluate(rs->rules, index, &in[i], fresh ? NULL : previous, alerts,
                                         RODA_RULES_MAX);
        *previous = in[i];
        if (n == 0)
            continue;
        uint64_t now = roda_now_ns();
        for (uint32_t a = 0; a < n; a++)
            roda_histogram_observe(&rs->latency,
                                   now > alerts[a].ingest_time_ns
                                       ? (double)(now - alerts[a].ingest_time_ns) * 1e-9
                                       : 0.0);
        emit_alerts(rs, alerts, n, output);
    }
}

static void rules_tick(void *context, uint64_t now_ns, roda_journal_t *output)
{
    rules_stage_t *rs = context;
    reload_box_t *box = &rs->reload;
    if (atomic_load_explicit(&box->state, memory_order_acquire) == RELOAD_PENDING) {
        box->dropped_active = 0;
        box->result = roda_rules_reload(rs->rules, box->rules, box->count, &box->dropped_active);
        atomic_store_explicit(&box->state, RELOAD_DONE, memory_order_release);
    }
    if (now_ns < rs->next_scan_ns)
        return;
    rs->next_scan_ns = now_ns + rs->stale_tick_ns;
    roda_alert_t alerts[RODA_RULES_MAX];
    bool done = false;
    while (!done) {
        uint32_t n = roda_rules_tick(rs->rules, now_ns, alerts, RODA_RULES_MAX, &done);
        emit_alerts(rs, alerts, n, output);
    }
}

/* ---- Names --------------------------------------------------------------------------------- */

static const char *device_name(void *context, uint32_t device)
{
    roda_pipeline_t *p = context;
    return roda_devices_name(roda_ingest_devices(p->ingest), device);
}

static bool rule_name(void *context, uint32_t rule, uint16_t generation, char *buf, size_t size)
{
    roda_pipeline_t *p = context;
    return roda_rules_name(p->rules.rules, rule, generation, buf, size);
}

/* ---- Create / start / stop ------------------------------------------------------------------ */

/* "fleet/+/readings" with level 1 -> "fleet/{device}/readings" (a $share/<group>/ prefix is not
 * part of received topics). */
static roda_result_t device_pattern(const roda_config_t *c, char *out, size_t size)
{
    const char *topic = c->mqtt.topics[0];
    if (strncmp(topic, "$share/", 7) == 0) {
        const char *slash = strchr(topic + 7, '/');
        topic = slash != NULL ? slash + 1 : topic;
    }
    size_t len = 0;
    uint32_t level = 0;
    bool placed = false;
    const char *p = topic;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n == 1 && p[0] == '#')
            break;
        const char *text = level == c->mqtt.device_topic_level ? "{device}" : p;
        size_t text_len = level == c->mqtt.device_topic_level ? 8 : n;
        placed |= level == c->mqtt.device_topic_level;
        if (len + text_len + 2 > size)
            return RODA_ERROR_INVALID_ARG;
        if (level > 0)
            out[len++] = '/';
        memcpy(out + len, text, text_len);
        len += text_len;
        out[len] = '\0';
        level++;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return placed && strchr(out, '#') == NULL ? RODA_SUCCESS : RODA_ERROR_INVALID_ARG;
}

bool roda_pipeline_check(const roda_config_t *c, char *why, size_t size)
{
    char pattern[RODA_CONFIG_TEXT_MAX + 16];
    if (c->journal.directory[0] != '\0' &&
        (c->journal.segment_records > c->journal.input_capacity / 2 ||
         c->journal.retained_segments < c->journal.input_capacity / c->journal.segment_records)) {
        snprintf(why, size,
                 "journal.segment_records: with journal.directory, the input journal needs at "
                 "least 2 segments (segment_records <= input_capacity / 2) and "
                 "retained_segments >= input_capacity / segment_records");
        return false;
    }
    if (c->mqtt.enabled && c->mqtt.device_from == RODA_DEVICE_FROM_TOPIC &&
        device_pattern(c, pattern, sizeof pattern) != RODA_SUCCESS) {
        snprintf(why, size,
                 "mqtt.device_topic_level: topic '%s' has no level %u before any '#' (the "
                 "device name is read from that level of the first topic)",
                 c->mqtt.topics[0], (unsigned)c->mqtt.device_topic_level);
        return false;
    }
    return true;
}

static const char *optional(const char *text)
{
    return text[0] != '\0' ? text : NULL;
}

static roda_result_t ingest_config(roda_pipeline_t *p, roda_ingest_config_t *ic)
{
    const roda_config_t *c = &p->config;
    roda_ingest_config_default(ic);
    ic->max_devices = c->limits.max_devices;
    if (c->mqtt.enabled) {
        roda_mqtt_config_t *m = &ic->mqtt;
        m->host = c->mqtt.host;
        m->port = c->mqtt.port;
        m->client_id = c->mqtt.client_id;
        m->topic_count = c->mqtt.topic_count;
        for (uint32_t i = 0; i < c->mqtt.topic_count && i < RODA_MQTT_MAX_TOPICS; i++)
            m->topics[i] = c->mqtt.topics[i];
        m->qos = (int)c->mqtt.qos;
        m->clean_session = c->mqtt.clean_session;
        m->keepalive_s = (uint32_t)(c->mqtt.keepalive_ns / 1000000000ull);
        m->username = optional(c->mqtt.username);
        m->password = optional(c->mqtt.password);
        m->tls_ca_file = optional(c->mqtt.ca_file);
        m->tls_cert_file = optional(c->mqtt.cert_file);
        m->tls_key_file = optional(c->mqtt.key_file);
        m->reconnect_min_ms = (uint32_t)(c->mqtt.reconnect_min_ns / 1000000ull);
        m->reconnect_max_ms = (uint32_t)(c->mqtt.reconnect_max_ns / 1000000ull);
        /* roda_pipeline_check has accepted the pattern's topic and level. */
        if (c->mqtt.device_from == RODA_DEVICE_FROM_TOPIC &&
            device_pattern(c, p->device_pattern, sizeof p->device_pattern) == RODA_SUCCESS)
            m->device_pattern = p->device_pattern;
    }
    if (c->udp.enabled) {
        ic->udp_bind_count = c->udp.bind_count;
        for (uint32_t i = 0; i < c->udp.bind_count && i < RODA_INGEST_MAX_UDP; i++)
            ic->udp_bind[i] = c->udp.binds[i];
        ic->udp_receive_buffer = (uint32_t)c->udp.receive_buffer;
        ic->udp_max_datagram = c->udp.max_datagram;
        ic->udp_batch = c->udp.batch;
    }
    return RODA_SUCCESS;
}

/* Latency buckets, seconds: 10 us .. 10 s. */
static const double latency_bounds[] = {1e-5,   2.5e-5, 5e-5, 1e-4,   2.5e-4, 5e-4, 1e-3,
                                        2.5e-3, 5e-3,   1e-2, 2.5e-2, 5e-2,   0.1,  0.25,
                                        0.5,    1.0,    2.5,  5.0,    10.0};

static roda_result_t build(roda_pipeline_t *p)
{
    const roda_config_t *c = &p->config;
    char why[256];
    if (!roda_pipeline_check(c, why, sizeof why)) {
        char quoted[300];
        roda_log(RODA_LOG_ERROR, "config invalid", "file=%s error=%s hint=\"%s\"", c->source,
                 roda_log_quote(quoted, sizeof quoted, why), "fix the field named in error");
        return RODA_ERROR_INVALID_ARG;
    }
    roda_summary_set_alpha(c->ewma_alpha);
    roda_pipe_config_t pipe_config = {.key_capacity = c->limits.max_sensors};
    roda_result_t r = summarize_init(&p->state.pipe, &pipe_config);
    if (r == RODA_SUCCESS)
        r = roda_slots_create(c->limits.max_sensors, sizeof(roda_summary_t), &p->state.slots);
    if (r == RODA_SUCCESS)
        r = roda_sensor_index_create(c->limits.max_sensors, &p->state.index);
    if (r == RODA_SUCCESS)
        r = roda_keytable_init(&p->rules.previous, c->limits.max_sensors, sizeof(roda_summary_t));
    if (r == RODA_SUCCESS)
        r = roda_histogram_init(&p->rules.latency, latency_bounds,
                                sizeof latency_bounds / sizeof latency_bounds[0]);
    if (r == RODA_SUCCESS)
        r = roda_rules_create(c->rules, c->rule_count, c->limits.max_rules, c->limits.max_sensors,
                              device_name, p, &p->rules.rules);
    if (r != RODA_SUCCESS)
        return r;
    p->rules.stale_tick_ns = c->stale_tick_ns;

    roda_engine_config_t ec = {
        .input_record_size = sizeof(roda_reading_t),
        .input_capacity = c->journal.input_capacity,
        .input_policy = RODA_JOURNAL_REJECT,
        .input_directory = c->journal.directory[0] != '\0' ? c->journal.directory : NULL,
        .input_segment_records = c->journal.segment_records,
        .input_retained_segments = c->journal.retained_segments,
    };
    r = roda_engine_create(&ec, &p->engine);
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
        .tick_interval_ns =
            c->stale_tick_ns < RULES_TICK_MAX_NS ? c->stale_tick_ns : RULES_TICK_MAX_NS,
        .context = &p->rules,
        .output_record_size = sizeof(roda_alert_t),
        .output_capacity = c->journal.alert_capacity,
        .cpu = -1,
    };
    r = roda_engine_add_stage(p->engine, &state);
    if (r == RODA_SUCCESS)
        r = roda_engine_add_stage(p->engine, &rules);
    if (r != RODA_SUCCESS)
        return r;

    roda_ingest_config_t ic;
    r = ingest_config(p, &ic);
    if (r == RODA_SUCCESS)
        r = roda_ingest_create(&ic, roda_engine_input(p->engine), &p->ingest);
    return r;
}

roda_result_t roda_pipeline_create(const roda_config_t *config, roda_pipeline_t **out)
{
    if (out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    if (config == NULL)
        return RODA_ERROR_INVALID_ARG;
    roda_pipeline_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return RODA_ERROR_NOMEM;
    p->config = *config;
    p->names = (roda_alert_names_t){p, rule_name, device_name};
    roda_result_t r = build(p);
    if (r != RODA_SUCCESS) {
        roda_log(RODA_LOG_ERROR, "pipeline not created", "error=%s hint=\"%s\"", roda_result_str(r),
                 r == RODA_ERROR_NOMEM ? "lower the journal capacities or limits.max_sensors"
                                       : "fix the setting named above (roda-gateway "
                                         "--check-config), or free the UDP port");
        roda_pipeline_destroy(p);
        return r;
    }
    *out = p;
    return RODA_SUCCESS;
}

roda_result_t roda_pipeline_start(roda_pipeline_t *p)
{
    if (p->started)
        return RODA_ERROR_STATE;
    /* The stages' readers exist once the engine runs: only then may the ingest write. */
    roda_result_t r = roda_engine_start(p->engine);
    if (r != RODA_SUCCESS)
        return r;
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
    p->started = false;
}

void roda_pipeline_destroy(roda_pipeline_t *p)
{
    if (p == NULL)
        return;
    roda_pipeline_stop(p);
    roda_ingest_destroy(p->ingest);
    roda_engine_destroy(p->engine);
    roda_rules_destroy(p->rules.rules);
    roda_keytable_destroy(&p->rules.previous);
    roda_sensor_index_destroy(p->state.index);
    roda_slots_destroy(p->state.slots);
    summarize_destroy(&p->state.pipe);
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
    atomic_store_explicit(&box->state, RELOAD_IDLE, memory_order_relaxed);
    return result;
}

roda_journal_t *roda_pipeline_alert_journal(roda_pipeline_t *p)
{
    return roda_engine_output(p->engine, 1);
}

const roda_alert_names_t *roda_pipeline_names(const roda_pipeline_t *p)
{
    return &p->names;
}

uint16_t roda_pipeline_udp_port(const roda_pipeline_t *p, uint32_t i)
{
    return roda_ingest_udp_port(p->ingest, i);
}

/* Readings of new sensors past max_sensors, in either stage's table (the rules stage's has the
 * same capacity, so it refuses only what the state stage already refused). */
static uint64_t sensors_refused(const roda_pipeline_t *p)
{
    return atomic_load_explicit(&p->state.refused, memory_order_relaxed) +
           atomic_load_explicit(&p->rules.refused, memory_order_relaxed);
}

roda_result_t roda_pipeline_sensor(const roda_pipeline_t *p, uint64_t sensor_id,
                                   roda_summary_t *summary)
{
    uint32_t slot;
    roda_result_t r = roda_sensor_index_find(p->state.index, sensor_id, &slot);
    return r == RODA_SUCCESS ? roda_slots_read(p->state.slots, slot, summary) : r;
}

/* ---- HTTP providers ------------------------------------------------------------------------ */

bool roda_pipeline_ready(void *context, char *reason, size_t size)
{
    roda_pipeline_t *p = context;
    if (!roda_ingest_connected(p->ingest)) {
        snprintf(reason, size, "mqtt broker not connected");
        return false;
    }
    for (uint32_t i = 0; i < roda_engine_stage_count(p->engine); i++) {
        roda_stage_stats_t stats;
        if (roda_engine_stage_stats(p->engine, i, &stats) != RODA_SUCCESS || !stats.running) {
            snprintf(reason, size, "stage %s not running", stats.name ? stats.name : "?");
            return false;
        }
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

bool roda_pipeline_sensor_json(void *context, uint64_t sensor_id, roda_json_t *json)
{
    roda_pipeline_t *p = context;
    roda_summary_t s;
    if (roda_pipeline_sensor(p, sensor_id, &s) != RODA_SUCCESS)
        return false;
    roda_summary_json(&s, device_name(p, s.device), json);
    return true;
}

void roda_pipeline_recent_json(void *context, uint32_t limit, roda_json_t *json)
{
    roda_pipeline_t *p = context;
    roda_alert_recent(roda_pipeline_alert_journal(p), &p->names, limit, json);
}

void roda_pipeline_totals(const roda_pipeline_t *p, roda_pipeline_totals_t *t)
{
    roda_ingest_stats_t is;
    roda_ingest_stats(p->ingest, &is);
    roda_stage_stats_t state, rules;
    roda_engine_stage_stats(p->engine, 0, &state);
    roda_engine_stage_stats(p->engine, 1, &rules);
    *t = (roda_pipeline_totals_t){
        .readings_accepted = is.counters[RODA_INPUT_MQTT][RODA_INGEST_READINGS] +
                             is.counters[RODA_INPUT_UDP][RODA_INGEST_READINGS],
        .state_consumed = state.consumed,
        .summaries = atomic_load_explicit(&p->state.summaries, memory_order_relaxed),
        .sensors_refused = sensors_refused(p),
        .rules_consumed = rules.consumed,
        .alerts = atomic_load_explicit(&p->rules.alerts, memory_order_relaxed),
    };
}

/* ---- Metrics ------------------------------------------------------------------------------- */

/* Ingest drop reasons exported in roda_ingest_dropped_total (the ingest's counter names). */
static const roda_ingest_counter_t drop_reasons[] = {
    RODA_INGEST_DECODE_ERROR,      RODA_INGEST_TRUNCATED,     RODA_INGEST_OVERSIZE,
    RODA_INGEST_TOO_MANY_READINGS, RODA_INGEST_UNKNOWN_TOPIC, RODA_INGEST_BAD_DEVICE,
    RODA_INGEST_TOO_MANY_DEVICES,  RODA_INGEST_NON_FINITE,    RODA_INGEST_JOURNAL_FULL,
    RODA_INGEST_KERNEL_DROPS,      RODA_INGEST_RECEIVE_ERRORS};

/* One counter family with a sample per input. */
static void per_input(roda_metrics_t *m, const roda_ingest_stats_t *is, const char *name,
                      const char *help, roda_ingest_counter_t counter)
{
    roda_metrics_family(m, name, RODA_METRIC_COUNTER, help);
    for (int in = 0; in < RODA_INPUT_COUNT; in++) {
        roda_metrics_label_t label = {"input", roda_ingest_input_name((roda_input_kind_t)in)};
        roda_metrics_u64(m, &label, 1, is->counters[in][counter]);
    }
}

static void ingest_metrics(roda_pipeline_t *p, roda_metrics_t *m)
{
    roda_ingest_stats_t is;
    roda_ingest_stats(p->ingest, &is);
    per_input(m, &is, "roda_ingest_readings_total",
              "Readings accepted into the input journal, by input.", RODA_INGEST_READINGS);
    per_input(m, &is, "roda_ingest_messages_total", "Messages (MQTT) or datagrams (UDP) received.",
              RODA_INGEST_MESSAGES);
    roda_metrics_family(m, "roda_ingest_dropped_total", RODA_METRIC_COUNTER,
                        "Input dropped, by input and reason (non_finite, journal_full: readings; "
                        "the other reasons: messages).");
    for (int in = 0; in < RODA_INPUT_COUNT; in++) {
        for (size_t r = 0; r < sizeof drop_reasons / sizeof drop_reasons[0]; r++) {
            roda_metrics_label_t labels[] = {
                {"input", roda_ingest_input_name((roda_input_kind_t)in)},
                {"reason", roda_ingest_counter_name(drop_reasons[r])}};
            roda_metrics_u64(m, labels, 2, is.counters[in][drop_reasons[r]]);
        }
    }
    per_input(m, &is, "roda_ingest_lost_upstream_total",
              "Batches missing from device sequences (gaps).", RODA_INGEST_LOST_UPSTREAM);
    per_input(m, &is, "roda_ingest_duplicates_total", "Duplicate batches dropped.",
              RODA_INGEST_DUPLICATE);
    roda_metrics_family(m, "roda_mqtt_connected", RODA_METRIC_GAUGE,
                        "1 while the MQTT input is connected and subscribed.");
    roda_metrics_u64(m, NULL, 0, p->config.mqtt.enabled && is.mqtt_connected ? 1 : 0);
    uint64_t connects = is.counters[RODA_INPUT_MQTT][RODA_INGEST_CONNECTS];
    roda_metrics_family(m, "roda_mqtt_reconnects_total", RODA_METRIC_COUNTER,
                        "MQTT input connections established after the first.");
    roda_metrics_u64(m, NULL, 0, connects > 0 ? connects - 1 : 0);
}

static void journal_metrics(roda_pipeline_t *p, roda_metrics_t *m)
{
    static const char *const names[] = {"input", "summaries", "alerts"};
    roda_journal_stats_t stats[3];
    roda_journal_stats(roda_engine_input(p->engine), &stats[0]);
    roda_journal_stats(roda_engine_output(p->engine, 0), &stats[1]);
    roda_journal_stats(roda_engine_output(p->engine, 1), &stats[2]);
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
        for (int j = 0; j < 3; j++) {
            uint64_t value;
            memcpy(&value, (const char *)&stats[j] + families[f].offset, sizeof value);
            roda_metrics_label_t label = {"journal", names[j]};
            roda_metrics_u64(m, &label, 1, value);
        }
    }
}

static void stage_metrics(roda_pipeline_t *p, roda_metrics_t *m)
{
    roda_stage_stats_t stats[2];
    for (uint32_t i = 0; i < 2; i++)
        roda_engine_stage_stats(p->engine, i, &stats[i]);
    roda_metrics_family(m, "roda_stage_events_total", RODA_METRIC_COUNTER,
                        "Records consumed by each stage.");
    for (int i = 0; i < 2; i++) {
        roda_metrics_label_t label = {"stage", stats[i].name};
        roda_metrics_u64(m, &label, 1, stats[i].consumed);
    }
    roda_metrics_family(m, "roda_stage_sleeps_total", RODA_METRIC_COUNTER,
                        "Futex sleeps of each stage while idle.");
    for (int i = 0; i < 2; i++) {
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
    roda_metrics_family(m, "roda_alert_latency_seconds", RODA_METRIC_HISTOGRAM,
                        "Ingest-to-alert latency: reading decoded to alert emitted by the rules "
                        "stage (stale alerts excluded).");
    roda_metrics_histogram(m, NULL, 0, &p->rules.latency);
}

static void sensor_metrics(roda_pipeline_t *p, roda_metrics_t *m)
{
    const roda_config_t *c = &p->config;
    roda_metrics_family(m, "roda_sensors_tracked", RODA_METRIC_GAUGE, "Sensors with state.");
    roda_metrics_u64(m, NULL, 0, atomic_load_explicit(&p->state.tracked, memory_order_relaxed));
    roda_metrics_family(m, "roda_sensors_refused_total", RODA_METRIC_COUNTER,
                        "Readings of new sensors refused past limits.max_sensors.");
    roda_metrics_u64(m, NULL, 0, sensors_refused(p));

    roda_summary_metrics_family(m, c->limits.max_series);
    uint64_t now = roda_now_ns(), exported = 0, capped = 0;
    uint32_t count = roda_sensor_index_count(p->state.index);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t id;
        uint32_t slot;
        roda_summary_t s = {0};
        if (roda_sensor_index_at(p->state.index, i, &id, &slot) != RODA_SUCCESS ||
            roda_slots_read(p->state.slots, slot, &s) != RODA_SUCCESS ||
            !roda_summary_is_fresh(&s, now, c->limits.series_staleness_ns))
            continue;
        if (exported == c->limits.max_series) {
            capped++;
            continue;
        }
        roda_summary_metrics(&s, device_name(p, s.device), m);
        exported++;
    }
    /* Scrapes are serialised by the HTTP server, so this read-modify-write has one writer. */
    add(&p->series_capped, capped);
    roda_metrics_family(m, "roda_series_capped_total", RODA_METRIC_COUNTER,
                        "Per-sensor series left out of scrapes by limits.max_series (summed over "
                        "scrapes).");
    roda_metrics_u64(m, NULL, 0, atomic_load_explicit(&p->series_capped, memory_order_relaxed));
}

void roda_pipeline_metrics(void *context, roda_metrics_t *m)
{
    roda_pipeline_t *p = context;
    ingest_metrics(p, m);
    journal_metrics(p, m);
    stage_metrics(p, m);
    alert_metrics(p, m);
    sensor_metrics(p, m);
}
