/* reference_workload.h - the reference design's record layouts, its summary and jump logic, and
 * the harness that runs its two-stage examples (sensor_test, service_health) fully drained.
 *
 * Records, exactly the reference's:
 *   reading  24 bytes {sensor_id u64, value f64, timestamp u64}
 *   summary  64 bytes {sensor_id, min, max, sum, count, timestamp, 2 x u64 padding}
 *   alert    32 bytes {sensor_id, timestamp, severity i32, padding}
 * A key's summary starts from its first reading as {min = max = value, sum = 0, count = 1} (that
 * reading is not folded in); every later reading is folded in. The timestamp is the reading's
 * floored to REFERENCE_BUCKET. An alert is raised when a sensor's current average (sum / count)
 * is above 1.5 x its previous one (compared by cross-multiplying: counts are positive).
 *
 * The harness: the main thread writes the readings straight into claimed input slots, two stage
 * threads run the stages, a receiver thread takes the alerts. The clock runs from the first
 * reading written until the receiver holds the last alert. Then the same pipes run fused in one
 * thread over the same readings, and both alert counts are checked against the expected one. */
#ifndef RODA_REFERENCE_WORKLOAD_H
#define RODA_REFERENCE_WORKLOAD_H

#include <stdbool.h>

#include "bench_engine.h"
#include "roda_pipe.h"

#define REFERENCE_BUCKET 100000u

typedef struct reference_reading {
    uint64_t sensor_id;
    double value;
    uint64_t timestamp;
} reference_reading_t;

typedef struct reference_summary {
    uint64_t sensor_id;
    double min, max, sum;
    uint64_t count;
    uint64_t timestamp;
    uint64_t padding[2];
} reference_summary_t;

typedef struct reference_alert {
    uint64_t sensor_id;
    uint64_t timestamp;
    int32_t severity;
    int32_t padding0;
    uint64_t padding1;
} reference_alert_t;

_Static_assert(sizeof(reference_reading_t) == 24, "the reference's reading is 24 bytes");
_Static_assert(sizeof(reference_summary_t) == 64, "the reference's summary is 64 bytes");
_Static_assert(sizeof(reference_alert_t) == 32, "the reference's alert is 32 bytes");

/* The (sensor_id, bucket) key packed into the 64 bits a key table holds: exact while both fit
 * in 32 bits, which the generators guarantee (reference_pack_checked). */
static inline uint64_t reference_pack(uint64_t high, uint64_t low)
{
    return high << 32 | (low & 0xffffffffu);
}

static inline uint64_t reference_bucket_key(const reference_reading_t *r)
{
    return reference_pack(r->sensor_id, r->timestamp / REFERENCE_BUCKET);
}

static inline uint64_t reference_summary_sensor(const reference_summary_t *s)
{
    return s->sensor_id;
}

static inline void reference_summary_start(reference_summary_t *s, const reference_reading_t *r)
{
    *s = (reference_summary_t){.sensor_id = r->sensor_id,
                               .min = r->value,
                               .max = r->value,
                               .sum = 0.0,
                               .count = 1,
                               .timestamp = r->timestamp / REFERENCE_BUCKET * REFERENCE_BUCKET};
}

static inline void reference_summary_fold(reference_summary_t *s, const reference_reading_t *r)
{
    s->min = r->value < s->min ? r->value : s->min;
    s->max = r->value > s->max ? r->value : s->max;
    s->sum += r->value;
    s->count++;
}

/* now.average > 1.5 x before.average, as now.sum * before.count > 1.5 * before.sum * now.count. */
static inline bool reference_jumped(const reference_summary_t *now,
                                    const reference_summary_t *before, reference_alert_t *alert)
{
    if (before == NULL ||
        !(now->sum * (double)before->count > 1.5 * before->sum * (double)now->count))
        return false;
    *alert = (reference_alert_t){
        .sensor_id = now->sensor_id, .timestamp = now->timestamp, .severity = 1};
    return true;
}

/* Writes readings first .. first + count - 1 of the workload into out[]. */
typedef void (*reference_generate_fn)(uint64_t first, uint64_t count, reference_reading_t *out);
/* Runs the fused pipe over `events` readings from `generate`; returns the alerts it emitted. */
typedef uint64_t (*reference_fused_fn)(uint64_t events, uint32_t key_capacity,
                                       reference_generate_fn generate);

typedef struct reference_example {
    const char *name;
    reference_generate_fn generate;
    roda_stage_batch_fn stage_batch[2];
    void *stage_context[2];
    reference_fused_fn fused;
    uint64_t (*expected_alerts)(uint64_t events);
} reference_example_t;

/* Defines `static uint64_t fn_name(events, key_capacity, generate)`: the pipe
 * `pipe` (a RODA_PIPE from reading to alert) run in the calling thread over the same readings,
 * generated in batches of 256; returns its alerts. */
#define REFERENCE_FUSED_RUN(fn_name, pipe)                                                         \
    static uint64_t fn_name(uint64_t events, uint32_t key_capacity,                                \
                            reference_generate_fn generate)                                        \
    {                                                                                              \
        pipe##_t state;                                                                            \
        roda_pipe_config_t config = {.key_capacity = key_capacity};                                \
        roda_result_t result = pipe##_init(&state, &config);                                       \
        if (result != RODA_SUCCESS)                                                                \
            reference_fail(#pipe, "pipe init", result);                                            \
        reference_reading_t readings[256];                                                         \
        uint64_t alerts = 0;                                                                       \
        for (uint64_t first = 0; first < events; first += 256) {                                   \
            uint64_t count = events - first < 256 ? events - first : 256;                          \
            generate(first, count, readings);                                                      \
            for (uint64_t i = 0; i < count; i++) {                                                 \
                reference_alert_t alert;                                                           \
                alerts += (uint64_t)pipe(&state, &readings[i], &alert);                            \
            }                                                                                      \
        }                                                                                          \
        pipe##_destroy(&state);                                                                    \
        return alerts;                                                                             \
    }

typedef struct reference_options {
    uint64_t events, capacity, batch, pin, fused, pipelined;
    roda_idle_config_t idle; /* of the stages and the receiver */
} reference_options_t;

static void reference_fail(const char *name, const char *what, roda_result_t result)
{
    fprintf(stderr, "%s: %s: %s\n", name, what, roda_result_str(result));
    exit(1);
}

static void reference_take(void *context, const void *records, uint64_t count, uint64_t now_ns)
{
    (void)records;
    (void)now_ns;
    *(uint64_t *)context += count; /* every output of the last stage is an alert */
}

/* The pipelined run; returns seconds from the first reading to the last alert received. */
static double reference_run_pipelined(const reference_example_t *x, const reference_options_t *o,
                                      uint64_t *alerts)
{
    *alerts = 0;
    bench_engine_t b = {.program = x->name, .take = reference_take, .context = alerts};
    bench_stage_t stages[2] = {
        {"summary", x->stage_batch[0], x->stage_context[0], sizeof(reference_summary_t)},
        {"alert", x->stage_batch[1], x->stage_context[1], sizeof(reference_alert_t)}};
    bench_engine_start(&b, sizeof(reference_reading_t), o->capacity, o->idle, stages, 2,
                       o->pin != 0);
    uint64_t start = roda_now_ns();
    for (uint64_t sent = 0; sent < o->events;) {
        void *slots;
        uint64_t wanted = o->events - sent < o->batch ? o->events - sent : o->batch;
        uint64_t granted = bench_engine_claim(&b, wanted, &slots);
        x->generate(sent, granted, slots);
        bench_engine_commit(&b, granted);
        sent += granted;
    }
    bench_engine_finish(&b);
    roda_engine_destroy(b.engine);
    return (double)(b.end_ns - start) / 1e9;
}

/* Parses NAME [--events N] [--capacity RECORDS] [--batch RECORDS] [--pin 0|1] [--fused 0|1]
 * [--pipelined 0|1] [--spins N] [--yields N]; returns 0 (and says why) on a bad option. */
static int reference_parse(const char *name, int argc, char **argv, reference_options_t *o)
{
    *o = (reference_options_t){
        .events = 100000000, .capacity = 65536, .batch = 256, .fused = 1, .pipelined = 1};
    o->idle = RODA_IDLE_DEFAULT;
    uint64_t spins = o->idle.spins, yields = o->idle.yields;
    if (!bench_option_u64(argc, argv, "--events", &o->events) ||
        !bench_option_u64(argc, argv, "--spins", &spins) ||
        !bench_option_u64(argc, argv, "--yields", &yields) ||
        !bench_option_u64(argc, argv, "--capacity", &o->capacity) ||
        !bench_option_u64(argc, argv, "--batch", &o->batch) ||
        !bench_option_u64(argc, argv, "--pin", &o->pin) ||
        !bench_option_u64(argc, argv, "--fused", &o->fused) ||
        !bench_option_u64(argc, argv, "--pipelined", &o->pipelined))
        return 0;
    if (o->events == 0 || o->batch == 0 || o->events / REFERENCE_BUCKET > UINT32_MAX / 2 ||
        spins > UINT32_MAX || yields > UINT32_MAX) {
        fprintf(stderr, "%s: --events and --batch must be > 0 (and --events < 2^31 x 10^5)\n",
                name);
        return 0;
    }
    o->idle.spins = (uint32_t)spins;
    o->idle.yields = (uint32_t)yields;
    return 1;
}

/* Keys per keyed component: one per (sensor, 100,000-unit bucket) the timestamps reach, and a
 * few more; keys never expire, as in the reference. */
static inline uint32_t reference_key_capacity(const reference_options_t *o)
{
    return (uint32_t)(o->events / REFERENCE_BUCKET + 8);
}

/* Runs pipelined, then fused; prints the figures and the RESULT line and checks both alert
 * counts; returns main's exit status. */
static int reference_run(const reference_example_t *x, const reference_options_t *o)
{
    uint64_t expected = x->expected_alerts(o->events);
    uint64_t alerts = expected;
    double rate = 0.0;
    if (o->pipelined)
        rate = (double)o->events / reference_run_pipelined(x, o, &alerts);
    uint64_t rss_kib = bench_rss_kib();
    printf("%s: %" PRIu64 " readings, journals of %" PRIu64 " records\n", x->name, o->events,
           o->capacity);
    if (o->pipelined)
        printf("  pipelined (2 stages, fully drained): %8.1f M events/s  alerts %" PRIu64
               " (expected %" PRIu64 ")\n",
               rate / 1e6, alerts, expected);
    double fused_rate = 0.0;
    uint64_t fused_alerts = expected;
    if (o->fused) {
        uint64_t start = roda_now_ns();
        fused_alerts = x->fused(o->events, reference_key_capacity(o), x->generate);
        fused_rate = (double)o->events / ((double)(roda_now_ns() - start) / 1e9);
        printf("  fused (1 thread, same pipes):        %8.1f M events/s  alerts %" PRIu64 "\n",
               fused_rate / 1e6, fused_alerts);
    }
    printf("RESULT name=%s events=%" PRIu64 " events_per_sec=%.0f alerts=%" PRIu64
           " expected_alerts=%" PRIu64 " fused_events_per_sec=%.0f rss_kib=%" PRIu64 "\n",
           x->name, o->events, rate, alerts, expected, fused_rate, rss_kib);
    if (alerts != expected || fused_alerts != expected) {
        fprintf(stderr,
                "%s: wrong alert count (pipelined %" PRIu64 ", fused %" PRIu64 ", expected %" PRIu64
                ")\n",
                x->name, alerts, fused_alerts, expected);
        return 1;
    }
    return 0;
}

#endif
