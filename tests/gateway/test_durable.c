/* test_durable.c - the pipeline's durable state with its threads (also under ASan and TSan): a
 * recorded journal is replayed at start, periodic checkpoints are written by the stage threads
 * while they run, a restart loads the stop snapshot and finds every sensor's summary as it was,
 * and two offline replays of the recording give the same alerts. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "roda_check.h"
#include "roda_input.h"
#include "roda_pipeline.h"
#include "roda_snapshot.h"

#define SENSORS 100u
#define READINGS 20000u

static void pause_ms(long ms)
{
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* A recording as the ingest writes it: readings of SENSORS sensors (a sawtooth that fires the
 * rules), a clock record every 1000. */
static void record(const char *directory)
{
    roda_journal_config_t jc = {.capacity = 4096,
                                .record_size = sizeof(roda_reading_t),
                                .schema = RODA_READING_SCHEMA,
                                .policy = RODA_JOURNAL_BLOCK,
                                .directory = directory,
                                .segment_records = 1024,
                                .retained_segments = 64};
    roda_journal_t *journal;
    ck_assert_int_eq(roda_journal_create(&jc, &journal), RODA_SUCCESS);
    for (uint64_t i = 0; i < READINGS; i++) {
        uint64_t time = 1700000000000000000ull + i * 1000000u;
        roda_reading_t r = {.sensor_id = i % SENSORS,
                            .value = (double)((i / SENSORS) % 20),
                            .device_time_us = (int64_t)(time / 1000u),
                            .ingest_time_ns = time};
        if (i % 1000 == 999)
            r = (roda_reading_t){.ingest_time_ns = time, .kind = RODA_RECORD_CLOCK};
        ck_assert_int_eq(roda_journal_append(journal, &r), RODA_SUCCESS);
    }
    roda_journal_destroy(journal);
}

/* The recording's times are years old and the live ingest's clock records carry today's: sensors
 * never expire here, or a clock record arriving before a check would evict them all. */
static void configure(roda_config_t *config, const char *directory)
{
    char text[1024];
    snprintf(text, sizeof text,
             "[journal]\ninput_capacity = 4096\nsummary_capacity = 4096\nalert_capacity = 4096\n"
             "directory = %s\nsegment_records = 1024\nretained_segments = 64\n"
             "snapshot_interval = 20ms\n[limits]\nmax_sensors = 1000\nsensor_idle_timeout = 0\n"
             "[mqtt]\nenabled = false\n"
             "[udp]\nenabled = false\n[http]\nport = 0\n"
             "[rule.high]\nkind = above\nthreshold = 15\nhysteresis = 5\n"
             "[rule.low]\nkind = below\nthreshold = 2\nhysteresis = 3\n",
             directory);
    roda_config_errors_t errors;
    ck_assert_int_eq(roda_config_load_string(text, "durable.conf", config, &errors), RODA_SUCCESS);
}

static roda_pipeline_t *start(const roda_config_t *config)
{
    uint32_t count;
    const roda_input_class_t *const *inputs = roda_inputs(&count);
    roda_pipeline_t *pipeline;
    ck_assert_int_eq(roda_pipeline_create(config, inputs, count, &pipeline), RODA_SUCCESS);
    ck_assert_int_eq(roda_pipeline_start(pipeline), RODA_SUCCESS);
    return pipeline;
}

static void wait_ready(roda_pipeline_t *pipeline)
{
    char why[128];
    for (int i = 0; i < 2000 && !roda_pipeline_ready(pipeline, why, sizeof why); i++)
        pause_ms(5);
    ck_assert_msg(roda_pipeline_ready(pipeline, why, sizeof why), "not ready: %s", why);
}

/* The alerts of an offline replay of `directory`, into `alerts` (at most max); returns how many. */
static uint64_t replay(const roda_config_t *config, const char *directory, roda_alert_t *alerts,
                       uint64_t max)
{
    roda_journal_replay_t *recording;
    ck_assert_int_eq(roda_journal_open_readonly(directory, &recording), RODA_SUCCESS);
    roda_pipeline_t *pipeline;
    ck_assert_int_eq(
        roda_pipeline_create_replay(config, recording, UINT64_MAX, NULL, NULL, &pipeline),
        RODA_SUCCESS);
    ck_assert_int_eq(roda_pipeline_start(pipeline), RODA_SUCCESS);
    uint64_t count = 0;
    bool done = false;
    while (!done) {
        roda_journal_view_t view;
        uint64_t n = roda_pipeline_replay_alerts(pipeline, 256, &view, &done);
        for (int part = 0; part < 2; part++)
            for (uint64_t i = 0; i < view.run_count[part] && count < max; i++)
                alerts[count++] = ((const roda_alert_t *)view.run[part])[i];
        roda_pipeline_replay_release(pipeline, n);
    }
    roda_pipeline_destroy(pipeline);
    roda_journal_replay_close(recording);
    return count;
}

START_TEST(restart_resumes_from_the_stop_snapshot)
{
    char directory[] = "/tmp/roda-durable-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(directory));
    record(directory);
    static roda_config_t config;
    configure(&config, directory);

    /* First life: the recording is replayed at start (no snapshot yet), checkpoints run. */
    roda_pipeline_t *pipeline = start(&config);
    wait_ready(pipeline);
    uint64_t positions[4];
    for (int i = 0; i < 400 && roda_snapshot_list(directory, positions, 4) == 0; i++)
        pause_ms(roda_pipeline_checkpoint(pipeline) < 5 ? 1 : 5);
    ck_assert_uint_ge(roda_snapshot_list(directory, positions, 4), 1);
    static roda_summary_t before[SENSORS];
    for (uint64_t s = 0; s < SENSORS; s++)
        ck_assert_int_eq(roda_pipeline_sensor(pipeline, s, &before[s]), RODA_SUCCESS);
    ck_assert_uint_eq(before[0].count, READINGS / SENSORS); /* the clock records are 99s */
    roda_pipeline_destroy(pipeline);                        /* stops: the stop snapshot */

    /* Second life: the newest snapshot covers everything; nothing to replay. */
    pipeline = start(&config);
    char why[128];
    ck_assert_msg(roda_pipeline_ready(pipeline, why, sizeof why), "%s", why);
    for (uint64_t s = 0; s < SENSORS; s++) {
        roda_summary_t after;
        ck_assert_int_eq(roda_pipeline_sensor(pipeline, s, &after), RODA_SUCCESS);
        ck_assert_mem_eq(&after, &before[s], sizeof after);
    }
    roda_pipeline_destroy(pipeline);

    /* Offline: two replays, the same alerts. */
    static roda_alert_t first[8192], second[8192];
    uint64_t a = replay(&config, directory, first, 8192);
    uint64_t b = replay(&config, directory, second, 8192);
    ck_assert_uint_gt(a, 0);
    ck_assert_uint_eq(a, b);
    ck_assert_mem_eq(first, second, a * sizeof first[0]);
    char command[300];
    snprintf(command, sizeof command, "rm -rf %s", directory);
    ck_assert_int_eq(system(command), 0);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("durable");
    TCase *tc = tcase_create("durable");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, restart_resumes_from_the_stop_snapshot);
    suite_add_tcase(suite, tc);
    return roda_check_run(suite);
}
