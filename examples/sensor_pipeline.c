/* sensor_pipeline.c - the seed's two-stage pipeline, measured honestly.
 *
 *   stage 1: stateful running average per sensor (tumbling over --window readings)
 *   stage 2: delta per sensor, alert when the average jumps above 1.5x the previous one
 *
 * The main thread generates readings straight into claimed slots of the input journal; a receiver
 * thread takes the alerts. The clock runs from the first send until the receiver has taken the
 * last output of the last stage (fully drained). Every --sample-th reading carries its send time,
 * and stage 2 passes it through as a probe so the receiver can sample send-to-receive latency.
 * The same pipe then runs fused in one thread over the same input, for the ratio.
 *
 *   sensor_pipeline [--workload reference|realistic] [--events N] [--sensors N] [--window N]
 *                   [--capacity RECORDS] [--batch RECORDS] [--sample N] [--pin 0|1] [--fused 0|1]
 *                   [--rate EVENTS_PER_SEC]   (pace the sender: latency below saturation)
 *                   [--spins N] [--yields N]  (idle strategy of stages and receiver)
 *                   [--pipelined 0|1]         (0: only the fused run, e.g. for profiling)
 *
 * Workloads: reference = one sensor, four repeating values (the seed's); realistic = --sensors
 * sensors (default 10k) in random order, noisy values with rare spikes. */
#include <math.h>
#include <time.h>

#include "bench_engine.h"
#include "roda_pipe.h"

typedef struct reading {
    uint64_t sensor;
    double value;
    uint64_t sent_ns; /* nonzero for a latency probe */
} reading_t;

/* The running average as sum and count: 32 bytes cross from stage 1 to stage 2 per event, and
 * neither stage divides (the jump test cross-multiplies; the average is computed for alerts only).
 */
typedef struct summary {
    uint64_t sensor;
    double sum;
    int64_t count; /* signed: converts to double in one instruction */
    uint64_t sent_ns;
} summary_t;

enum { OUTPUT_ALERT = 1, OUTPUT_PROBE = 2 };

typedef struct output {
    uint64_t sensor;
    double average;
    double previous;
    uint64_t sent_ns;
    uint64_t kind; /* OUTPUT_ALERT and/or OUTPUT_PROBE */
} output_t;

static int64_t window_size = 100000;

static inline uint64_t reading_sensor(const reading_t *r)
{
    return r->sensor;
}
static inline uint64_t summary_sensor(const summary_t *s)
{
    return s->sensor;
}
static inline void summary_start(summary_t *s, const reading_t *r)
{
    *s = (summary_t){.sensor = r->sensor, .sum = r->value, .count = 1, .sent_ns = r->sent_ns};
}
static inline void summary_add(summary_t *s, const reading_t *r)
{
    if (s->count == window_size) { /* tumbling window: a new one starts with this reading */
        summary_start(s, r);
        return;
    }
    s->count++;
    s->sum += r->value;
    s->sent_ns = r->sent_ns;
}
static inline double summary_average(const summary_t *s)
{
    return s->sum / (double)s->count;
}
/* now.average > 1.5 * before.average, without dividing: counts are positive. */
static inline bool jumped(const summary_t *now, const summary_t *before, output_t *out)
{
    uint64_t kind = 0;
    if (before != NULL && now->sum * (double)before->count > 1.5 * before->sum * (double)now->count)
        kind |= OUTPUT_ALERT;
    if (now->sent_ns != 0)
        kind |= OUTPUT_PROBE;
    if (kind == 0)
        return false;
    *out = (output_t){.sensor = now->sensor,
                      .average = summary_average(now),
                      .previous = before != NULL ? summary_average(before) : NAN,
                      .sent_ns = now->sent_ns,
                      .kind = kind};
    return true;
}

RODA_STATEFUL(average, reading_t, summary_t, reading_sensor, summary_start, summary_add)
RODA_DELTA(jump, summary_t, output_t, summary_sensor, jumped)
RODA_STAGE_BATCH(average_batch, average, average_t, reading_t, summary_t)
RODA_STAGE_BATCH(jump_batch, jump, jump_t, summary_t, output_t)
/* The fused variant: the same two components composed into one pipe. */
RODA_PIPE(fused, reading_t, average, summary_t, jump, output_t)

/* ---- Workloads --------------------------------------------------------------------------- */

typedef struct workload {
    int realistic;
    uint64_t sensors;
    uint64_t random;
    uint64_t sample;
    uint64_t until_probe; /* readings left before the next latency probe */
} workload_t;

/* Writes reading number `i` of the workload (the same sequence for the pipelined and fused runs).
 */
static inline void generate(workload_t *w, uint64_t i, reading_t *r)
{
    static const double repeating[4] = {10.0, 30.0, 20.0, 40.0};
    if (!w->realistic) {
        *r = (reading_t){.sensor = 1, .value = repeating[i & 3]};
    } else {
        uint64_t x = bench_random(&w->random);
        uint64_t sensor = ((x >> 32) * w->sensors) >> 32; /* uniform in [0, sensors) */
        double noise = (double)((x >> 8) & 0xff) / 256.0;
        double value = 100.0 + (double)(sensor & 63) + noise;
        if ((x & 0x1ffff) == 0)
            value *= 10.0; /* a rare spike: one reading in 128 Ki */
        *r = (reading_t){.sensor = sensor, .value = value};
    }
    if (w->until_probe-- == 0) {
        w->until_probe = w->sample - 1;
        r->sent_ns = roda_now_ns();
    }
}

/* ---- Receiving ----------------------------------------------------------------------------- */

typedef struct tally {
    uint64_t alerts;
    uint64_t probes;
    uint64_t *latencies;
    uint64_t latency_capacity;
} tally_t;

static inline void tally_output(tally_t *t, const output_t *o, uint64_t now)
{
    if (o->kind & OUTPUT_ALERT)
        t->alerts++;
    if ((o->kind & OUTPUT_PROBE) && t->probes < t->latency_capacity)
        t->latencies[t->probes++] = now - o->sent_ns;
}

static void take_outputs(void *context, const void *records, uint64_t count, uint64_t now_ns)
{
    const output_t *outputs = records;
    for (uint64_t i = 0; i < count; i++)
        tally_output(context, &outputs[i], now_ns);
}

/* ---- The runs ------------------------------------------------------------------------------ */

typedef struct options {
    uint64_t events, capacity, batch, pin, key_capacity;
    uint64_t rate; /* events/s the sender paces itself to; 0 = flat out */
    roda_idle_config_t idle;
    workload_t workload;
} options_t;

static void fail(const char *what, roda_result_t result)
{
    fprintf(stderr, "sensor_pipeline: %s: %s\n", what, roda_result_str(result));
    exit(1);
}

/* Holds the sender back until event `sent` is due at `rate` events/s. It sleeps, as an ingest
 * thread blocked in epoll would, so the stages get the cores. */
static void pace(uint64_t start, uint64_t sent, uint64_t rate)
{
    uint64_t due = start + (uint64_t)((double)sent * 1e9 / (double)rate);
    uint64_t now = roda_now_ns();
    if (now < due)
        nanosleep(&(struct timespec){.tv_sec = (time_t)((due - now) / 1000000000u),
                                     .tv_nsec = (long)((due - now) % 1000000000u)},
                  NULL);
}

static double run_pipelined(const options_t *o, tally_t *tally, uint64_t *rss_kib)
{
    average_t average_state;
    jump_t jump_state;
    roda_pipe_config_t pipe_config = {.key_capacity = (uint32_t)o->key_capacity};
    roda_result_t result = average_init(&average_state, &pipe_config);
    if (result == RODA_SUCCESS)
        result = jump_init(&jump_state, &pipe_config);
    if (result != RODA_SUCCESS)
        fail("pipe init", result);

    bench_engine_t b = {.program = "sensor_pipeline", .take = take_outputs, .context = tally};
    bench_stage_t stages[2] = {{"average", average_batch, &average_state, sizeof(summary_t)},
                               {"jump", jump_batch, &jump_state, sizeof(output_t)}};
    bench_engine_start(&b, sizeof(reading_t), o->capacity, o->idle, stages, 2, o->pin != 0);
    workload_t w = o->workload;
    uint64_t start = roda_now_ns();
    for (uint64_t sent = 0; sent < o->events;) {
        if (o->rate != 0)
            pace(start, sent, o->rate);
        void *slots;
        uint64_t wanted = o->events - sent < o->batch ? o->events - sent : o->batch;
        uint64_t granted = bench_engine_claim(&b, wanted, &slots);
        reading_t *readings = slots;
        for (uint64_t i = 0; i < granted; i++)
            generate(&w, sent + i, &readings[i]);
        bench_engine_commit(&b, granted);
        sent += granted;
    }
    bench_engine_finish(&b);
    double seconds = (double)(b.end_ns - start) / 1e9;
    *rss_kib = bench_rss_kib();
    if (average_state.counters.refused + jump_state.counters.refused != 0)
        fprintf(stderr, "sensor_pipeline: %" PRIu64 " readings refused for key capacity\n",
                average_state.counters.refused + jump_state.counters.refused);
    roda_engine_destroy(b.engine);
    average_destroy(&average_state);
    jump_destroy(&jump_state);
    return seconds;
}

static double run_fused(const options_t *o, tally_t *tally)
{
    fused_t pipe;
    roda_pipe_config_t pipe_config = {.key_capacity = (uint32_t)o->key_capacity};
    roda_result_t result = fused_init(&pipe, &pipe_config);
    if (result != RODA_SUCCESS)
        fail("fused init", result);
    workload_t w = o->workload;
    uint64_t start = roda_now_ns();
    for (uint64_t i = 0; i < o->events; i++) {
        reading_t reading;
        output_t out;
        generate(&w, i, &reading);
        if (fused(&pipe, &reading, &out))
            tally_output(tally, &out, roda_now_ns());
    }
    double seconds = (double)(roda_now_ns() - start) / 1e9;
    fused_destroy(&pipe);
    return seconds;
}

int main(int argc, char **argv)
{
    options_t o = {.events = 100000000, .capacity = 65536, .batch = 256, .pin = 0};
    uint64_t fused_run = 1, pipelined_run = 1;
    o.workload.sensors = 10000;
    o.workload.sample = 4096;
    o.workload.random = 0x9E3779B97F4A7C15ull;
    o.idle = RODA_IDLE_DEFAULT;
    uint64_t window = (uint64_t)window_size;
    uint64_t spins = o.idle.spins, yields = o.idle.yields;
    const char *workload = bench_option_str(argc, argv, "--workload", "realistic");
    if (!bench_option_u64(argc, argv, "--events", &o.events) ||
        !bench_option_u64(argc, argv, "--sensors", &o.workload.sensors) ||
        !bench_option_u64(argc, argv, "--window", &window) ||
        !bench_option_u64(argc, argv, "--capacity", &o.capacity) ||
        !bench_option_u64(argc, argv, "--batch", &o.batch) ||
        !bench_option_u64(argc, argv, "--sample", &o.workload.sample) ||
        !bench_option_u64(argc, argv, "--pin", &o.pin) ||
        !bench_option_u64(argc, argv, "--rate", &o.rate) ||
        !bench_option_u64(argc, argv, "--spins", &spins) ||
        !bench_option_u64(argc, argv, "--yields", &yields) ||
        !bench_option_u64(argc, argv, "--fused", &fused_run) ||
        !bench_option_u64(argc, argv, "--pipelined", &pipelined_run))
        return 2;
    if (strcmp(workload, "reference") != 0 && strcmp(workload, "realistic") != 0) {
        fprintf(stderr, "sensor_pipeline: --workload must be reference or realistic\n");
        return 2;
    }
    o.workload.realistic = strcmp(workload, "realistic") == 0;
    window_size = (int64_t)window;
    o.idle.spins = (uint32_t)spins;
    o.idle.yields = (uint32_t)yields;
    if (!o.workload.realistic)
        o.workload.sensors = 1;
    if (o.events == 0 || o.batch == 0 || o.workload.sample == 0 || o.workload.sensors == 0 ||
        o.workload.sensors > UINT32_MAX || window == 0 || window > INT64_MAX) {
        fprintf(stderr, "sensor_pipeline: --events, --batch, --sample, --sensors, --window > 0\n");
        return 2;
    }
    o.key_capacity = o.workload.sensors;

    tally_t tally = {.latency_capacity = o.events / o.workload.sample + 1};
    tally.latencies = calloc(tally.latency_capacity, sizeof(uint64_t));
    uint64_t rss_kib = 0;
    double seconds = pipelined_run ? run_pipelined(&o, &tally, &rss_kib) : 0.0;
    double rate = pipelined_run ? (double)o.events / seconds : 0.0;
    uint64_t p50 = bench_percentile(tally.latencies, tally.probes, 50.0);
    uint64_t p99 = bench_percentile(tally.latencies, tally.probes, 99.0);
    printf("sensor_pipeline %s: %" PRIu64 " events, %" PRIu64 " sensors, journals of %" PRIu64
           " records\n",
           workload, o.events, o.workload.sensors, o.capacity);
    printf("  pipelined (2 stages, fully drained): %8.1f M events/s  %.3f s  alerts %" PRIu64 "\n",
           rate / 1e6, seconds, tally.alerts);
    printf("  latency send->receive (%" PRIu64 " probes): p50 %" PRIu64 " ns  p99 %" PRIu64 " ns\n",
           tally.probes, p50, p99);
    double fused_rate = 0.0;
    uint64_t pipelined_alerts = tally.alerts;
    if (fused_run) {
        tally_t fused_tally = {.latencies = tally.latencies,
                               .latency_capacity = tally.latency_capacity};
        double fused_seconds = run_fused(&o, &fused_tally);
        fused_rate = (double)o.events / fused_seconds;
        printf("  fused (1 thread, same pipe):         %8.1f M events/s  %.3f s  alerts %" PRIu64
               "\n",
               fused_rate / 1e6, fused_seconds, fused_tally.alerts);
        printf("  pipelined / fused: %.2f\n", rate / fused_rate);
        if (pipelined_run && fused_tally.alerts != pipelined_alerts) {
            fprintf(stderr, "sensor_pipeline: fused and pipelined alerts differ\n");
            return 1;
        }
    }
    printf("RESULT name=sensor_pipeline_%s events=%" PRIu64 " events_per_sec=%.0f p50_ns=%" PRIu64
           " p99_ns=%" PRIu64 " fused_events_per_sec=%.0f pipelined_over_fused=%.3f alerts=%" PRIu64
           " sensors=%" PRIu64 " capacity=%" PRIu64 " rate=%" PRIu64 " rss_kib=%" PRIu64 "\n",
           workload, o.events, rate, p50, p99, fused_rate, fused_rate > 0 ? rate / fused_rate : 0.0,
           pipelined_alerts, o.workload.sensors, o.capacity, o.rate, rss_kib);
    free(tally.latencies);
    return 0;
}
