/* test_engine.c - the stage engine: data through a chain of stages, drain on stop, idle sleep,
 * pinning, bad parameters, a recorded journal replayed as stage 0's prelude, and the fused
 * placement (the stages on the writer's thread). Pipes here are
 * plain inline functions (pipe components have their own tests). */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roda_check.h"
#include "roda_engine.h"

typedef struct number {
    uint64_t sequence;
    uint64_t value;
} number_t;

typedef struct running_sum {
    uint64_t total;
} running_sum_t;

/* Stage A: running total of values (stateful). */
static inline int add_to_total(running_sum_t *state, const number_t *in, number_t *out)
{
    state->total += in->value;
    *out = (number_t){.sequence = in->sequence, .value = state->total};
    return 1;
}
RODA_STAGE_BATCH(total_batch, add_to_total, running_sum_t, number_t, number_t)

/* Stage B: passes only even sequences (filter). */
static inline int keep_even(void *state, const number_t *in, number_t *out)
{
    (void)state;
    if (in->sequence % 2 != 0)
        return 0;
    *out = *in;
    return 1;
}
RODA_STAGE_BATCH(even_batch, keep_even, void, number_t, number_t)

/* total -> even, the journal between them of `capacity` records, the others of `outer`. */
static roda_engine_t *make_placed_engine(roda_placement_t placement, uint64_t capacity,
                                         uint64_t outer, running_sum_t *sum)
{
    roda_engine_config_t config = {.input_record_size = sizeof(number_t),
                                   .input_capacity = outer,
                                   .input_policy = RODA_JOURNAL_BLOCK,
                                   .default_capacity = capacity,
                                   .receive = true,
                                   .placement = placement};
    roda_engine_t *engine = NULL;
    ck_assert_int_eq(roda_engine_create(&config, &engine), RODA_SUCCESS);
    roda_stage_config_t total = {.name = "total",
                                 .batch = total_batch,
                                 .context = sum,
                                 .output_record_size = sizeof(number_t),
                                 .cpu = -1};
    roda_stage_config_t even = {.name = "even",
                                .batch = even_batch,
                                .output_record_size = sizeof(number_t),
                                .output_capacity = outer,
                                .cpu = -1};
    ck_assert_int_eq(roda_engine_add_stage(engine, &total), RODA_SUCCESS);
    ck_assert_int_eq(roda_engine_add_stage(engine, &even), RODA_SUCCESS);
    return engine;
}

static roda_engine_t *make_engine(uint64_t capacity, running_sum_t *sum)
{
    return make_placed_engine(RODA_PLACEMENT_THREADS, capacity, capacity, sum);
}

/* Receives until drained, checking every output against the expected running total. */
static uint64_t receive_all_checked(roda_engine_t *engine, uint64_t *next_sequence,
                                    uint64_t *expected_total)
{
    number_t out;
    uint64_t received = 0;
    roda_idle_state_t idle = {0};
    roda_receive_result_t result;
    while ((result = roda_engine_try_receive(engine, &out)) != RODA_DRAINED) {
        if (result == RODA_NOTHING) {
            /* CLOSED here means drained: the next try_receive says so too */
            roda_engine_receive_wait(engine, &idle);
            continue;
        }
        roda_idle_reset(&idle);
        /* outputs are the even sequences s, each with the total of values 1 .. s+1 */
        ck_assert_uint_eq(out.sequence, *next_sequence);
        *expected_total = (out.sequence + 1) * (out.sequence + 2) / 2;
        ck_assert_uint_eq(out.value, *expected_total);
        *next_sequence += 2;
        received++;
    }
    return received;
}

START_TEST(records_flow_through_every_stage_and_stop_drains)
{
    running_sum_t sum = {0};
    roda_engine_t *engine = make_engine(64, &sum);
    ck_assert_int_eq(roda_engine_start(engine), RODA_SUCCESS);
    /* More records than one journal holds: back-pressure through the chain. The receiver runs on
     * this thread only after stop, so the 60 outputs must fit the last journal (64 records). */
    const uint64_t records = 120;
    for (uint64_t i = 0; i < records; i++) {
        number_t n = {.sequence = i, .value = i + 1};
        ck_assert_int_eq(roda_engine_send(engine, &n), RODA_SUCCESS);
    }
    roda_engine_stop(engine); /* records are still in flight: stop must deliver them all */
    for (uint32_t s = 0; s < roda_engine_stage_count(engine); s++) {
        roda_stage_stats_t stats;
        ck_assert_int_eq(roda_engine_stage_stats(engine, s, &stats), RODA_SUCCESS);
        ck_assert(!stats.running);
        ck_assert_uint_eq(stats.consumed, records);
    }
    uint64_t next = 0, total = 0;
    ck_assert_uint_eq(receive_all_checked(engine, &next, &total), records / 2);
    ck_assert_int_eq(roda_engine_send(engine, &(number_t){0}), RODA_ERROR_STATE);
    roda_engine_destroy(engine);
}
END_TEST

typedef struct receiver_job {
    roda_engine_t *engine;
    uint64_t received;
    uint64_t next_sequence;
    uint64_t total;
} receiver_job_t;

static void *receiver_thread(void *arg)
{
    receiver_job_t *job = arg;
    job->received = receive_all_checked(job->engine, &job->next_sequence, &job->total);
    return NULL;
}

START_TEST(million_records_with_concurrent_receiver)
{
    running_sum_t sum = {0};
    roda_engine_t *engine = make_engine(1024, &sum);
    ck_assert_int_eq(roda_engine_start(engine), RODA_SUCCESS);
    receiver_job_t job = {.engine = engine};
    pthread_t receiver;
    ck_assert_int_eq(pthread_create(&receiver, NULL, receiver_thread, &job), 0);
    const uint64_t records = 1000000;
    for (uint64_t i = 0; i < records; i++) {
        number_t n = {.sequence = i, .value = i + 1};
        ck_assert_int_eq(roda_engine_send(engine, &n), RODA_SUCCESS);
    }
    roda_engine_stop(engine);
    pthread_join(receiver, NULL);
    ck_assert_uint_eq(job.received, records / 2);
    roda_stage_stats_t stats;
    ck_assert_int_eq(roda_engine_stage_stats(engine, 1, &stats), RODA_SUCCESS);
    ck_assert_uint_eq(stats.produced, records / 2);
    ck_assert_str_eq(stats.name, "even");
    roda_engine_destroy(engine);
}
END_TEST

START_TEST(idle_stages_sleep_and_wake_on_new_records)
{
    running_sum_t sum = {0};
    roda_engine_t *engine = make_engine(64, &sum);
    ck_assert_int_eq(roda_engine_start(engine), RODA_SUCCESS);
    /* Bounded wait for both stages to reach the futex sleep. */
    roda_stage_stats_t first = {0}, second = {0};
    for (int i = 0; i < 500 && (first.sleeps == 0 || second.sleeps == 0); i++) {
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
        roda_engine_stage_stats(engine, 0, &first);
        roda_engine_stage_stats(engine, 1, &second);
    }
    ck_assert_uint_gt(first.sleeps, 0);
    ck_assert_uint_gt(second.sleeps, 0);
    /* A record sent now wakes them: it arrives without stop. */
    ck_assert_int_eq(roda_engine_send(engine, &(number_t){.sequence = 0, .value = 5}),
                     RODA_SUCCESS);
    number_t out;
    roda_receive_result_t result = RODA_NOTHING;
    for (int i = 0; i < 5000 && result != RODA_RECEIVED; i++) {
        result = roda_engine_try_receive(engine, &out);
        if (result == RODA_NOTHING)
            nanosleep(&(struct timespec){.tv_nsec = 1000 * 1000}, NULL);
    }
    ck_assert_int_eq(result, RODA_RECEIVED);
    ck_assert_uint_eq(out.value, 5);
    roda_engine_destroy(engine);
}
END_TEST

START_TEST(bad_parameters_and_states_are_refused)
{
    roda_engine_t *engine = NULL;
    roda_engine_config_t config = {.input_record_size = 12, .input_capacity = 64};
    ck_assert_int_eq(roda_engine_create(&config, &engine), RODA_ERROR_INVALID_ARG);
    config.input_record_size = 16;
    config.input_capacity = 60;
    ck_assert_int_eq(roda_engine_create(&config, &engine), RODA_ERROR_INVALID_ARG);
    config.input_capacity = 64;
    ck_assert_int_eq(roda_engine_create(&config, &engine), RODA_SUCCESS);
    ck_assert_int_eq(roda_engine_start(engine), RODA_ERROR_STATE); /* no stages */
    roda_stage_config_t stage = {.batch = even_batch, .output_record_size = 16, .cpu = -1};
    roda_stage_config_t bad = stage;
    bad.output_record_size = 10;
    ck_assert_int_eq(roda_engine_add_stage(engine, &bad), RODA_ERROR_INVALID_ARG);
    bad = stage;
    bad.batch = NULL;
    ck_assert_int_eq(roda_engine_add_stage(engine, &bad), RODA_ERROR_INVALID_ARG);
    for (uint32_t i = 0; i < RODA_ENGINE_MAX_STAGES; i++)
        ck_assert_int_eq(roda_engine_add_stage(engine, &stage), RODA_SUCCESS);
    ck_assert_int_eq(roda_engine_add_stage(engine, &stage), RODA_ERROR_TOO_MANY);
    ck_assert_int_eq(roda_engine_try_receive(engine, &(number_t){0}), RODA_NO_RECEIVER);
    ck_assert_int_eq(roda_engine_receive_wait(engine, &(roda_idle_state_t){0}), RODA_ERROR_STATE);
    ck_assert_int_eq(roda_engine_stage_stats(engine, 99, &(roda_stage_stats_t){0}),
                     RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_engine_start(engine), RODA_SUCCESS);
    ck_assert_int_eq(roda_engine_start(engine), RODA_ERROR_STATE);
    ck_assert_int_eq(roda_engine_add_stage(engine, &stage), RODA_ERROR_STATE);
    roda_engine_stop(engine);
    roda_engine_stop(engine); /* idempotent */
    roda_engine_destroy(engine);
}
END_TEST

START_TEST(pinning_to_a_missing_cpu_fails_cleanly)
{
    roda_engine_config_t config = {.input_record_size = 16, .input_capacity = 64, .receive = true};
    roda_engine_t *engine = NULL;
    ck_assert_int_eq(roda_engine_create(&config, &engine), RODA_SUCCESS);
    roda_stage_config_t pinned = {.batch = even_batch, .output_record_size = 16, .cpu = 0};
    roda_stage_config_t missing = pinned;
    missing.cpu = CPU_SETSIZE - 1;
    ck_assert_int_eq(roda_engine_add_stage(engine, &pinned), RODA_SUCCESS);
    ck_assert_int_eq(roda_engine_add_stage(engine, &missing), RODA_SUCCESS);
    ck_assert_int_eq(roda_engine_start(engine), RODA_ERROR_SYSTEM);
    roda_stage_stats_t stats;
    ck_assert_int_eq(roda_engine_stage_stats(engine, 0, &stats), RODA_SUCCESS);
    ck_assert(!stats.running); /* the started stage was drained and joined */
    roda_engine_destroy(engine);
}
END_TEST

typedef struct ticker {
    _Atomic uint64_t ticks;
} ticker_t;

static void count_tick(void *context, uint64_t now_ns, roda_journal_t *output)
{
    ticker_t *ticker = context;
    (void)now_ns;
    uint64_t ticks = atomic_load(&ticker->ticks) + 1;
    atomic_store(&ticker->ticks, ticks);
    number_t tick = {.sequence = ticks, .value = UINT64_MAX};
    void *slot;
    uint64_t granted;
    if (roda_journal_claim(output, 1, &slot, &granted) == RODA_SUCCESS) {
        *(number_t *)slot = tick;
        roda_journal_commit(output, 1);
    }
}

START_TEST(an_idle_stage_ticks_and_its_tick_output_is_delivered)
{
    roda_engine_config_t config = {.input_record_size = 16, .input_capacity = 64, .receive = true};
    roda_engine_t *engine = NULL;
    ck_assert_int_eq(roda_engine_create(&config, &engine), RODA_SUCCESS);
    ticker_t ticker = {0};
    roda_stage_config_t stage = {.batch = even_batch,
                                 .tick = count_tick,
                                 .context = &ticker,
                                 .output_record_size = 16,
                                 .cpu = -1};
    ck_assert_int_eq(roda_engine_add_stage(engine, &stage), RODA_ERROR_INVALID_ARG); /* interval */
    stage.tick_interval_ns = 5 * 1000 * 1000;
    ck_assert_int_eq(roda_engine_add_stage(engine, &stage), RODA_SUCCESS);
    ck_assert_int_eq(roda_engine_start(engine), RODA_SUCCESS);
    /* No input at all: the ticks alone produce output, well before the default 100 ms sleep. */
    number_t out;
    uint64_t received = 0;
    for (int i = 0; i < 2000 && received < 3; i++) {
        if (roda_engine_try_receive(engine, &out) == RODA_RECEIVED) {
            ck_assert_uint_eq(out.value, UINT64_MAX);
            ck_assert_uint_eq(out.sequence, ++received);
        } else {
            nanosleep(&(struct timespec){.tv_nsec = 1000 * 1000}, NULL);
        }
    }
    ck_assert_uint_eq(received, 3);
    roda_engine_destroy(engine);
}
END_TEST

START_TEST(a_fused_chain_runs_on_the_writers_thread_through_journals_smaller_than_its_batch)
{
    running_sum_t sum = {0};
    /* The journal between the stages holds 8 records, a batch 60: the full journal runs the next
     * stage instead of waiting for a thread that does not exist. */
    roda_engine_t *engine = make_placed_engine(RODA_PLACEMENT_FUSED, 8, 4096, &sum);
    ck_assert_uint_eq(roda_engine_run(engine), 0); /* before start */
    ck_assert_int_eq(roda_engine_start(engine), RODA_SUCCESS);
    uint64_t sent = 0, next = 0, total = 0, received = 0;
    number_t out;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 60; i++, sent++)
            ck_assert_int_eq(
                roda_engine_send(engine, &(number_t){.sequence = sent, .value = sent + 1}),
                RODA_SUCCESS);
        ck_assert_uint_eq(roda_engine_run(engine), 60);
        /* Nothing runs between the calls: every output is there when run returns. */
        while (roda_engine_try_receive(engine, &out) == RODA_RECEIVED) {
            ck_assert_uint_eq(out.sequence, next);
            ck_assert_uint_eq(out.value, (next + 1) * (next + 2) / 2);
            next += 2;
            received++;
        }
        ck_assert_uint_eq(received, sent / 2);
    }
    ck_assert_uint_eq(roda_engine_run(engine), 0);
    /* Records sent after the last run are processed by stop, on this thread. */
    for (int i = 0; i < 7; i++, sent++)
        ck_assert_int_eq(roda_engine_send(engine, &(number_t){.sequence = sent, .value = sent + 1}),
                         RODA_SUCCESS);
    roda_engine_stop(engine);
    ck_assert_uint_eq(roda_engine_run(engine), 0); /* after stop */
    for (uint32_t s = 0; s < roda_engine_stage_count(engine); s++) {
        roda_stage_stats_t stats;
        ck_assert_int_eq(roda_engine_stage_stats(engine, s, &stats), RODA_SUCCESS);
        ck_assert(!stats.running);
        ck_assert_uint_eq(stats.consumed, sent);
        ck_assert_uint_eq(stats.sleeps, 0);
    }
    ck_assert_uint_eq(receive_all_checked(engine, &next, &total) + received, (sent + 1) / 2);
    roda_engine_destroy(engine);
}
END_TEST

START_TEST(a_fused_stage_ticks_when_run_finds_it_due)
{
    roda_engine_config_t config = {.input_record_size = 16,
                                   .input_capacity = 64,
                                   .receive = true,
                                   .placement = RODA_PLACEMENT_FUSED};
    roda_engine_t *engine = NULL;
    ck_assert_int_eq(roda_engine_create(&config, &engine), RODA_SUCCESS);
    ticker_t ticker = {0};
    roda_stage_config_t stage = {.batch = even_batch,
                                 .tick = count_tick,
                                 .tick_interval_ns = 2 * 1000 * 1000,
                                 .context = &ticker,
                                 .output_record_size = 16,
                                 .cpu = -1};
    ck_assert_int_eq(roda_engine_add_stage(engine, &stage), RODA_SUCCESS);
    ck_assert_int_eq(roda_engine_start(engine), RODA_SUCCESS);
    number_t out;
    ck_assert_int_eq(roda_engine_try_receive(engine, &out), RODA_NOTHING);
    nanosleep(&(struct timespec){.tv_nsec = 3 * 1000 * 1000}, NULL);
    ck_assert_int_eq(roda_engine_try_receive(engine, &out), RODA_NOTHING); /* no thread ticks */
    ck_assert_uint_eq(roda_engine_run(engine), 0);
    ck_assert_int_eq(roda_engine_try_receive(engine, &out), RODA_RECEIVED);
    ck_assert_uint_eq(out.sequence, 1);
    ck_assert_uint_eq(roda_engine_run(engine), 0); /* not due again yet */
    ck_assert_int_eq(roda_engine_try_receive(engine, &out), RODA_NOTHING);
    roda_engine_destroy(engine);
}
END_TEST

/* Sends `count` numbers starting at `first` through a one-stage engine with a file-backed input,
 * receiving them all; returns the input's write position afterwards. */
static uint64_t run_file_backed(const char *directory, uint64_t first, uint64_t count)
{
    roda_engine_config_t config = {.input_record_size = sizeof(number_t),
                                   .input_schema = 5,
                                   .input_capacity = 1024,
                                   .input_policy = RODA_JOURNAL_BLOCK,
                                   .receive = true,
                                   .input_directory = directory,
                                   .input_segment_records = 256,
                                   .input_retained_segments = 16};
    roda_engine_t *engine = NULL;
    ck_assert_int_eq(roda_engine_create(&config, &engine), RODA_SUCCESS);
    running_sum_t sum = {0};
    roda_stage_config_t stage = {.batch = total_batch,
                                 .context = &sum,
                                 .output_record_size = sizeof(number_t),
                                 .output_capacity = 4096,
                                 .cpu = -1};
    ck_assert_int_eq(roda_engine_add_stage(engine, &stage), RODA_SUCCESS);
    ck_assert_int_eq(roda_engine_start(engine), RODA_SUCCESS);
    for (uint64_t i = 0; i < count; i++)
        ck_assert_int_eq(roda_engine_send(engine, &(number_t){.sequence = first + i, .value = 1}),
                         RODA_SUCCESS);
    roda_engine_stop(engine);
    number_t out;
    uint64_t received = 0;
    while (roda_engine_try_receive(engine, &out) == RODA_RECEIVED)
        ck_assert_uint_eq(out.value, ++received);
    ck_assert_uint_eq(received, count);
    roda_journal_stats_t stats;
    roda_journal_stats(roda_engine_input(engine), &stats);
    roda_engine_destroy(engine);
    return stats.write_position;
}

START_TEST(a_file_backed_input_is_an_audit_trail_across_restarts)
{
    char directory[] = "/tmp/roda-engine-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(directory));
    ck_assert_uint_eq(run_file_backed(directory, 0, 1000), 1000);
    /* A second engine on the same directory continues after the first one's records. */
    ck_assert_uint_eq(run_file_backed(directory, 1000, 500), 1500);
    /* Everything sent by both is there to read again, in order. */
    roda_journal_replay_t *replay = NULL;
    ck_assert_int_eq(roda_journal_open_readonly(directory, &replay), RODA_SUCCESS);
    ck_assert_uint_eq(roda_journal_replay_first(replay), 0);
    ck_assert_uint_eq(roda_journal_replay_end(replay), 1500);
    ck_assert_uint_eq(roda_journal_replay_schema(replay), 5); /* the engine's input_schema */
    roda_journal_view_t view;
    uint64_t next = 0, count;
    while ((count = roda_journal_replay_next(replay, 100, &view)) > 0) {
        const number_t *records = view.run[0];
        for (uint64_t i = 0; i < count; i++)
            ck_assert_uint_eq(records[i].sequence, next++);
    }
    ck_assert_uint_eq(next, 1500);
    roda_journal_replay_close(replay);
    char command[64];
    snprintf(command, sizeof(command), "rm -rf %s", directory);
    ck_assert_int_eq(system(command), 0);
}
END_TEST

/* A stage that records every value it sees (and emits nothing), for the prelude tests. */
typedef struct recorder {
    uint64_t *seen;
    uint64_t count;
    uint64_t capacity;
    uint64_t largest_batch;
    long batch_pause_ns;         /* slows every batch down, to see ticks between them */
    uint64_t seen_at_first_tick; /* UINT64_MAX until the first tick */
} recorder_t;

static void record_batch(void *context, const void *records, uint64_t count, roda_journal_t *output)
{
    recorder_t *recorder = context;
    (void)output;
    ck_assert_uint_le(recorder->count + count, recorder->capacity);
    memcpy(&recorder->seen[recorder->count], records, count * sizeof(uint64_t));
    recorder->count += count;
    if (count > recorder->largest_batch)
        recorder->largest_batch = count;
    if (recorder->batch_pause_ns != 0)
        nanosleep(&(struct timespec){.tv_nsec = recorder->batch_pause_ns}, NULL);
}

static void record_tick(void *context, uint64_t now_ns, roda_journal_t *output)
{
    recorder_t *recorder = context;
    (void)now_ns;
    (void)output;
    if (recorder->seen_at_first_tick == UINT64_MAX)
        recorder->seen_at_first_tick = recorder->count;
}

#define PRELUDE_RECORDS 10000u
#define PRELUDE_SEGMENT_RECORDS 1024u
#define PRELUDE_RETAINED 6u
#define PRELUDE_MAX_BATCH 100u

/* Writes the sequence 0 .. PRELUDE_RECORDS-1 into a file-backed journal in a new directory: ten
 * segments, of which the last six are retained. */
static void write_recording(char *directory)
{
    ck_assert_ptr_nonnull(mkdtemp(directory));
    roda_journal_config_t config = {.capacity = 4 * PRELUDE_SEGMENT_RECORDS,
                                    .record_size = sizeof(uint64_t),
                                    .policy = RODA_JOURNAL_BLOCK,
                                    .directory = directory,
                                    .segment_records = PRELUDE_SEGMENT_RECORDS,
                                    .retained_segments = PRELUDE_RETAINED};
    roda_journal_t *journal = NULL;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_SUCCESS);
    for (uint64_t value = 0; value < PRELUDE_RECORDS; value++)
        ck_assert_int_eq(roda_journal_append(journal, &value), RODA_SUCCESS);
    roda_journal_destroy(journal);
}

static void remove_recording(const char *directory)
{
    char command[64];
    snprintf(command, sizeof(command), "rm -rf %s", directory);
    ck_assert_int_eq(system(command), 0);
}

/* An engine whose one stage records what it sees, with `replay` as its prelude. */
static roda_engine_t *make_recording_engine(roda_journal_replay_t *replay, uint64_t prelude_end,
                                            recorder_t *recorder, roda_placement_t placement)
{
    roda_engine_config_t config = {.input_record_size = sizeof(uint64_t),
                                   .input_capacity = 1024,
                                   .input_policy = RODA_JOURNAL_BLOCK,
                                   .max_batch = PRELUDE_MAX_BATCH,
                                   .input_prelude = replay,
                                   .input_prelude_end = prelude_end,
                                   .placement = placement};
    roda_engine_t *engine = NULL;
    ck_assert_int_eq(roda_engine_create(&config, &engine), RODA_SUCCESS);
    roda_stage_config_t stage = {.name = "recorder",
                                 .batch = record_batch,
                                 .tick = record_tick,
                                 .tick_interval_ns = 1000 * 1000,
                                 .context = recorder,
                                 .output_record_size = sizeof(uint64_t),
                                 .cpu = -1};
    ck_assert_int_eq(roda_engine_add_stage(engine, &stage), RODA_SUCCESS);
    return engine;
}

static recorder_t make_recorder(uint64_t capacity)
{
    recorder_t recorder = {.capacity = capacity, .seen_at_first_tick = UINT64_MAX};
    recorder.seen = malloc(capacity * sizeof(uint64_t));
    ck_assert_ptr_nonnull(recorder.seen);
    return recorder;
}

/* Checks that the recorder saw exactly first .. end-1 from index `at` on. */
static void check_seen(const recorder_t *recorder, uint64_t at, uint64_t first, uint64_t end)
{
    ck_assert_uint_ge(recorder->count, at + (end - first));
    for (uint64_t value = first; value < end; value++, at++)
        ck_assert_uint_eq(recorder->seen[at], value);
}

START_TEST(stage_0_replays_the_prelude_then_reads_its_live_input)
{
    char directory[] = "/tmp/roda-prelude-XXXXXX";
    write_recording(directory);
    roda_journal_replay_t *replay = NULL;
    ck_assert_int_eq(roda_journal_open_readonly(directory, &replay), RODA_SUCCESS);
    /* The oldest four segments were deleted; start in the middle of the first retained one. */
    ck_assert_uint_eq(roda_journal_replay_first(replay),
                      (10 - PRELUDE_RETAINED) * PRELUDE_SEGMENT_RECORDS);
    uint64_t end = roda_journal_replay_end(replay), from = 4500, live = 3000;
    ck_assert_uint_eq(end, PRELUDE_RECORDS);
    ck_assert_int_eq(roda_journal_replay_seek(replay, from), RODA_SUCCESS);
    recorder_t recorder = make_recorder(end - from + live);
    roda_engine_t *engine = make_recording_engine(replay, end, &recorder, RODA_PLACEMENT_THREADS);
    ck_assert_int_eq(roda_engine_start(engine), RODA_SUCCESS);
    roda_stage_stats_t stats;
    ck_assert_int_eq(roda_engine_stage_stats(engine, 0, &stats), RODA_SUCCESS);
    ck_assert_uint_le(stats.prelude_left, end - from);
    /* Live records are sent while the prelude may still run: they come after it. */
    for (uint64_t i = 0; i < live; i++)
        ck_assert_int_eq(roda_engine_send(engine, &(uint64_t){PRELUDE_RECORDS + i}), RODA_SUCCESS);
    roda_engine_stop(engine);
    check_seen(&recorder, 0, from, end);
    check_seen(&recorder, end - from, PRELUDE_RECORDS, PRELUDE_RECORDS + live);
    ck_assert_uint_eq(recorder.count, (end - from) + live);
    ck_assert_uint_le(recorder.largest_batch, PRELUDE_MAX_BATCH);
    ck_assert_int_eq(roda_engine_stage_stats(engine, 0, &stats), RODA_SUCCESS);
    ck_assert_uint_eq(stats.consumed, (end - from) + live);
    ck_assert_uint_eq(stats.prelude_left, 0);
    ck_assert_uint_eq(roda_journal_replay_position(replay), end);
    roda_engine_destroy(engine);
    roda_journal_replay_close(replay);
    free(recorder.seen);
    remove_recording(directory);
}
END_TEST

START_TEST(the_prelude_stops_at_its_end_and_is_finished_by_stop)
{
    char directory[] = "/tmp/roda-prelude-XXXXXX";
    write_recording(directory);
    roda_journal_replay_t *replay = NULL;
    ck_assert_int_eq(roda_journal_open_readonly(directory, &replay), RODA_SUCCESS);
    uint64_t from = 5000, prelude_end = 6234;
    ck_assert_int_eq(roda_journal_replay_seek(replay, from), RODA_SUCCESS);
    /* Slow batches: stop comes during the prelude, and ticks run between its batches. */
    recorder_t recorder = make_recorder(PRELUDE_RECORDS);
    recorder.batch_pause_ns = 500 * 1000;
    roda_engine_t *engine =
        make_recording_engine(replay, prelude_end, &recorder, RODA_PLACEMENT_THREADS);
    ck_assert_int_eq(roda_engine_start(engine), RODA_SUCCESS);
    roda_engine_stop(engine);
    ck_assert_uint_eq(recorder.count, prelude_end - from);
    check_seen(&recorder, 0, from, prelude_end);
    ck_assert_uint_lt(recorder.seen_at_first_tick, prelude_end - from);
    roda_stage_stats_t stats;
    ck_assert_int_eq(roda_engine_stage_stats(engine, 0, &stats), RODA_SUCCESS);
    ck_assert_uint_eq(stats.consumed, prelude_end - from);
    ck_assert_uint_eq(stats.prelude_left, 0);
    ck_assert_uint_eq(roda_journal_replay_position(replay), prelude_end);
    roda_engine_destroy(engine);

    /* An end past the replay's is clamped to it. */
    recorder.count = 0;
    recorder.batch_pause_ns = 0;
    ck_assert_int_eq(roda_journal_replay_seek(replay, PRELUDE_RECORDS - 10), RODA_SUCCESS);
    engine = make_recording_engine(replay, UINT64_MAX, &recorder, RODA_PLACEMENT_THREADS);
    ck_assert_int_eq(roda_engine_start(engine), RODA_SUCCESS);
    roda_engine_stop(engine);
    ck_assert_uint_eq(recorder.count, 10);
    check_seen(&recorder, 0, PRELUDE_RECORDS - 10, PRELUDE_RECORDS);
    roda_engine_destroy(engine);

    /* An end at or below the replay's position: no prelude at all. */
    recorder.count = 0;
    ck_assert_int_eq(roda_journal_replay_seek(replay, from), RODA_SUCCESS);
    engine = make_recording_engine(replay, from - 1, &recorder, RODA_PLACEMENT_THREADS);
    ck_assert_int_eq(roda_engine_start(engine), RODA_SUCCESS);
    ck_assert_int_eq(roda_engine_send(engine, &(uint64_t){42}), RODA_SUCCESS);
    roda_engine_stop(engine);
    ck_assert_uint_eq(recorder.count, 1);
    ck_assert_uint_eq(recorder.seen[0], 42);
    ck_assert_uint_eq(roda_journal_replay_position(replay), from);
    roda_engine_destroy(engine);

    roda_journal_replay_close(replay);
    free(recorder.seen);
    remove_recording(directory);
}
END_TEST

START_TEST(a_fused_engine_replays_the_prelude_before_start_returns)
{
    char directory[] = "/tmp/roda-prelude-XXXXXX";
    write_recording(directory);
    roda_journal_replay_t *replay = NULL;
    ck_assert_int_eq(roda_journal_open_readonly(directory, &replay), RODA_SUCCESS);
    uint64_t from = 5000, end = roda_journal_replay_end(replay), live = 300;
    ck_assert_int_eq(roda_journal_replay_seek(replay, from), RODA_SUCCESS);
    recorder_t recorder = make_recorder(end - from + live);
    roda_engine_t *engine = make_recording_engine(replay, end, &recorder, RODA_PLACEMENT_FUSED);
    ck_assert_int_eq(roda_engine_start(engine), RODA_SUCCESS);
    ck_assert_uint_eq(recorder.count, end - from);
    check_seen(&recorder, 0, from, end);
    ck_assert_uint_le(recorder.largest_batch, PRELUDE_MAX_BATCH);
    for (uint64_t i = 0; i < live; i++)
        ck_assert_int_eq(roda_engine_send(engine, &(uint64_t){PRELUDE_RECORDS + i}), RODA_SUCCESS);
    ck_assert_uint_eq(roda_engine_run(engine), live);
    check_seen(&recorder, end - from, PRELUDE_RECORDS, PRELUDE_RECORDS + live);
    roda_engine_destroy(engine);
    roda_journal_replay_close(replay);
    free(recorder.seen);
    remove_recording(directory);
}
END_TEST

START_TEST(a_prelude_of_another_record_size_is_refused)
{
    char directory[] = "/tmp/roda-prelude-XXXXXX";
    write_recording(directory);
    roda_journal_replay_t *replay = NULL;
    ck_assert_int_eq(roda_journal_open_readonly(directory, &replay), RODA_SUCCESS);
    roda_engine_config_t config = {.input_record_size = 2 * sizeof(uint64_t),
                                   .input_capacity = 64,
                                   .input_prelude = replay,
                                   .input_prelude_end = PRELUDE_RECORDS};
    roda_engine_t *engine = (roda_engine_t *)1;
    ck_assert_int_eq(roda_engine_create(&config, &engine), RODA_ERROR_INVALID_ARG);
    ck_assert_ptr_null(engine);
    roda_journal_replay_close(replay);
    remove_recording(directory);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("engine");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, records_flow_through_every_stage_and_stop_drains);
    tcase_add_test(tc, million_records_with_concurrent_receiver);
    tcase_add_test(tc, idle_stages_sleep_and_wake_on_new_records);
    tcase_add_test(tc, bad_parameters_and_states_are_refused);
    tcase_add_test(tc, pinning_to_a_missing_cpu_fails_cleanly);
    tcase_add_test(tc, an_idle_stage_ticks_and_its_tick_output_is_delivered);
    tcase_add_test(tc, a_file_backed_input_is_an_audit_trail_across_restarts);
    tcase_add_test(tc, stage_0_replays_the_prelude_then_reads_its_live_input);
    tcase_add_test(tc, the_prelude_stops_at_its_end_and_is_finished_by_stop);
    tcase_add_test(tc, a_prelude_of_another_record_size_is_refused);
    tcase_add_test(
        tc, a_fused_chain_runs_on_the_writers_thread_through_journals_smaller_than_its_batch);
    tcase_add_test(tc, a_fused_stage_ticks_when_run_finds_it_due);
    tcase_add_test(tc, a_fused_engine_replays_the_prelude_before_start_returns);
    suite_add_tcase(suite, tc);
    return roda_check_run(suite);
}
