/* roda_durable_bench.c - the durable-state benchmark: replay speed of a recording and recovery
 * time after a restart, through the gateway's own pipeline (BENCHMARKS.md).
 *
 *   roda-durable-bench replay DIRECTORY [--readings N] [--sensors S]
 *     writes a recording of N readings (S sensors, a clock record every 100,000 readings, as the
 *     ingest writes them) into DIRECTORY unless it already holds one; the baseline reads every
 *     record's value in one thread (twice: the first pass fills the page cache); then the
 *     recording is replayed through roda_pipeline_create_replay with three rules, and the clock
 *     stops when the last alert is received.
 *     RESULT name=replay events=N events_per_sec=... alerts=... baseline_scan_events_per_sec=...
 *   roda-durable-bench recovery DIRECTORY [--sensors S] [--tail N]
 *     a gateway pipeline (no inputs) on DIRECTORY: S sensors' readings, stop (snapshot), N more
 *     readings appended to the journal as a crash would leave them, then a new pipeline is
 *     created and started; the clock runs from create to the end of its recovery replay.
 *     RESULT name=recovery events=N events_per_sec=... sensors=S snapshot_load_ms=... total_ms=...
 *
 * The readings: sensor i % S, value a slow sawtooth 0 .. 20 over 2000 readings of each sensor (so
 * the rules fire and resolve now and then), ingest
 * times 1 us apart. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "roda_config.h"
#include "roda_input.h"
#include "roda_journal.h"
#include "roda_log.h"
#include "roda_pipeline.h"

#define CLOCK_EVERY 100000u
#define WRITE_RUN 4096u
#define START_NS 1700000000000000000ull

static const char *rules_text = "[rule.high]\nkind = above\nvalue = last\nthreshold = 15\n"
                                "hysteresis = 5\n[rule.low]\nkind = below\nvalue = last\n"
                                "threshold = 2\nhysteresis = 3\n[rule.mean]\nkind = above\n"
                                "value = mean\nthreshold = 100\n";

static void fail(const char *what, roda_result_t r)
{
    fprintf(stderr, "roda-durable-bench: %s: %s (errno %d: %s)\n", what, roda_result_str(r), errno,
            strerror(errno));
    exit(1);
}

/* Appends readings [first, first + count) of the synthetic fleet to `journal`, a clock record
 * every CLOCK_EVERY. */
static void append(roda_journal_t *journal, uint64_t first, uint64_t count, uint64_t sensors)
{
    for (uint64_t i = first; i < first + count;) {
        void *slots;
        uint64_t granted;
        roda_result_t r = roda_journal_claim(journal, WRITE_RUN, &slots, &granted);
        if (r != RODA_SUCCESS)
            fail("journal claim", r);
        roda_reading_t *out = slots;
        uint64_t n = 0;
        for (; n < granted && i < first + count; n++, i++) {
            uint64_t time = START_NS + i * 1000u;
            if (i % CLOCK_EVERY == CLOCK_EVERY - 1) {
                out[n] = (roda_reading_t){.ingest_time_ns = time, .kind = RODA_RECORD_CLOCK};
                continue;
            }
            out[n] = (roda_reading_t){.sensor_id = i % sensors,
                                      .value = (double)((i / sensors) % 2000) / 100.0,
                                      .device_time_us = (int64_t)(time / 1000u),
                                      .ingest_time_ns = time};
        }
        roda_journal_commit(journal, n);
    }
}

static void config_for(roda_config_t *c, const char *directory, uint64_t sensors)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[journal]\ninput_capacity = 1048576\nsummary_capacity = 1048576\n"
             "directory = %s\nsegment_records = 262144\nretained_segments = 1000000\n"
             "snapshot_interval = 0\n[limits]\nmax_sensors = %" PRIu64
             "\nmax_rules = 4\nsensor_idle_timeout = 0\n[mqtt]\nenabled = false\n"
             "[udp]\nenabled = false\n[http]\nport = 0\n%s",
             directory, sensors, rules_text);
    roda_config_errors_t errors;
    if (roda_config_load_string(text, "bench", c, &errors) != RODA_SUCCESS) {
        roda_config_log_errors(&errors);
        exit(1);
    }
}

static roda_journal_t *open_journal(const char *directory)
{
    roda_journal_config_t jc = {.capacity = 1u << 20,
                                .record_size = sizeof(roda_reading_t),
                                .schema = RODA_READING_SCHEMA,
                                .policy = RODA_JOURNAL_BLOCK,
                                .directory = directory,
                                .segment_records = 1u << 18,
                                .retained_segments = 1000000};
    roda_journal_t *journal;
    roda_result_t r = roda_journal_create(&jc, &journal);
    if (r != RODA_SUCCESS)
        fail(directory, r);
    return journal;
}

static int replay_bench(const char *directory, uint64_t readings, uint64_t sensors)
{
    roda_journal_replay_t *recording = NULL;
    if (roda_journal_open_readonly(directory, &recording) != RODA_SUCCESS) {
        roda_journal_t *journal = open_journal(directory);
        append(journal, 0, readings, sensors);
        roda_journal_destroy(journal);
        roda_result_t r = roda_journal_open_readonly(directory, &recording);
        if (r != RODA_SUCCESS)
            fail(directory, r);
    }
    uint64_t records = roda_journal_replay_end(recording) - roda_journal_replay_first(recording);
    double baseline = 0;
    /* The baseline, which also brings the recording into the page cache: one thread reading
     * every record's value from the same read-only mappings, no stage. */
    roda_journal_view_t view;
    double sum = 0;
    for (int pass = 0; pass < 2; pass++) {
        (void)roda_journal_replay_seek(recording, roda_journal_replay_first(recording));
        uint64_t scan_start = roda_now_ns();
        while (roda_journal_replay_next(recording, 1u << 16, &view) != 0)
            for (uint64_t i = 0; i < view.count; i++)
                sum += ((const roda_reading_t *)view.run[0])[i].value;
        baseline = (double)records / ((double)(roda_now_ns() - scan_start) / 1e9);
    }
    (void)roda_journal_replay_seek(recording, roda_journal_replay_first(recording));
    static roda_config_t config;
    config_for(&config, directory, sensors);
    roda_pipeline_t *pipeline;
    uint64_t start = roda_now_ns(), alerts = 0;
    roda_result_t r =
        roda_pipeline_create_replay(&config, recording, UINT64_MAX, NULL, NULL, &pipeline);
    if (r == RODA_SUCCESS)
        r = roda_pipeline_start(pipeline);
    if (r != RODA_SUCCESS)
        fail("replay pipeline", r);
    bool done = false;
    while (!done) {
        uint64_t n = roda_pipeline_replay_alerts(pipeline, 4096, &view, &done);
        alerts += n;
        roda_pipeline_replay_release(pipeline, n);
    }
    double seconds = (double)(roda_now_ns() - start) / 1e9;
    roda_pipeline_destroy(pipeline);
    roda_journal_replay_close(recording);
    printf("RESULT name=replay events=%" PRIu64 " events_per_sec=%.0f alerts=%" PRIu64
           " sensors=%" PRIu64 " seconds=%.3f baseline_scan_events_per_sec=%.0f checksum=%.0f\n",
           records, (double)records / seconds, alerts, sensors, seconds, baseline, sum);
    return 0;
}

/* Creates a pipeline on `config` (its inputs off) and starts it; *created_ns: when create
 * returned (the snapshot loaded). */
static roda_pipeline_t *start_pipeline(const roda_config_t *config, uint64_t *created_ns)
{
    uint32_t count;
    const roda_input_class_t *const *inputs = roda_inputs(&count);
    roda_pipeline_t *pipeline;
    roda_result_t r = roda_pipeline_create(config, inputs, count, &pipeline);
    *created_ns = roda_now_ns();
    if (r == RODA_SUCCESS)
        r = roda_pipeline_start(pipeline);
    if (r != RODA_SUCCESS)
        fail("pipeline", r);
    return pipeline;
}

/* Waits until the pipeline is ready: its recovery replay is over. */
static void wait_ready(roda_pipeline_t *pipeline)
{
    char why[128];
    while (!roda_pipeline_ready(pipeline, why, sizeof why)) {
        struct timespec pause = {0, 1000000L};
        nanosleep(&pause, NULL);
    }
}

static int recovery_bench(const char *directory, uint64_t sensors, uint64_t tail)
{
    static roda_config_t config;
    config_for(&config, directory, sensors);
    /* A first life: every sensor once, then a clean stop (its snapshot). */
    roda_journal_t *journal = open_journal(directory);
    append(journal, 0, sensors, sensors);
    roda_journal_destroy(journal);
    uint64_t start, loaded;
    roda_pipeline_t *pipeline = start_pipeline(&config, &loaded);
    wait_ready(pipeline);
    roda_pipeline_destroy(pipeline);
    /* What a crash leaves: readings in the journal after the snapshot. */
    journal = open_journal(directory);
    append(journal, journal->start_position, tail, sensors);
    roda_journal_destroy(journal);
    start = roda_now_ns();
    pipeline = start_pipeline(&config, &loaded);
    wait_ready(pipeline);
    uint64_t end = roda_now_ns();
    roda_pipeline_destroy(pipeline);
    double seconds = (double)(end - start) / 1e9;
    printf("RESULT name=recovery events=%" PRIu64 " events_per_sec=%.0f sensors=%" PRIu64
           " snapshot_load_ms=%.1f total_ms=%.1f\n",
           tail, (double)tail / seconds, sensors, (double)(loaded - start) / 1e6, seconds * 1e3);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: roda-durable-bench replay DIR [--readings N] [--sensors S]\n"
                        "       roda-durable-bench recovery DIR [--sensors S] [--tail N]\n");
        return 2;
    }
    uint64_t readings = 100000000, sensors = 10000, tail = 10000000;
    for (int i = 3; i + 1 < argc; i += 2) {
        uint64_t value = strtoull(argv[i + 1], NULL, 10);
        if (strcmp(argv[i], "--readings") == 0)
            readings = value;
        else if (strcmp(argv[i], "--sensors") == 0)
            sensors = value;
        else if (strcmp(argv[i], "--tail") == 0)
            tail = value;
    }
    roda_log_set_level(RODA_LOG_WARN);
    if (strcmp(argv[1], "replay") == 0)
        return replay_bench(argv[2], readings, sensors);
    if (strcmp(argv[1], "recovery") == 0)
        return recovery_bench(argv[2], sensors, tail);
    fprintf(stderr, "roda-durable-bench: unknown mode %s\n", argv[1]);
    return 2;
}
