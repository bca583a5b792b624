/* roda_engine.c - stage threads: their loop (read a batch, run it, publish), start, drain and stop.
 */
#include "roda_engine.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define RODA_STAGE_NAME_MAX 32

typedef struct roda_stage {
    char name[RODA_STAGE_NAME_MAX];
    roda_stage_batch_fn batch;
    roda_stage_tick_fn tick;
    uint64_t tick_interval_ns;
    roda_idle_config_t idle; /* the engine's, with the sleep bounded by the tick interval */
    void *context;
    int cpu;
    roda_journal_t *output;
    roda_journal_reader_t input_reader;
    roda_journal_replay_t *prelude; /* stage 0's, read before input_reader; else NULL */
    uint32_t index;                 /* in the engine's chain */
    uint64_t next_tick;             /* roda_now_ns() when the tick is due; UINT64_MAX: no tick */
    pthread_t thread;
    roda_engine_t *engine;
    /* Written by the stage thread (prelude_left first by start), read by stats from anywhere. */
    _Alignas(RODA_PAD) _Atomic uint64_t consumed;
    _Atomic uint64_t batches;
    _Atomic uint64_t sleeps;
    _Atomic uint64_t prelude_left;
    _Atomic bool running;
} roda_stage_t;

struct roda_engine {
    roda_engine_config_t config;
    roda_journal_t *input;
    roda_stage_t *stages[RODA_ENGINE_MAX_STAGES];
    uint32_t stage_count;
    bool started;
    bool stopped;
    roda_journal_reader_t receiver;
    bool has_receiver;
};

static void run_stage(roda_engine_t *engine, uint32_t index);

/* Fused: the journal after `producer` is full: the next stage (if any) makes room. */
static void run_next_stage(void *context)
{
    const roda_stage_t *producer = context;
    if (producer->index + 1 < producer->engine->stage_count)
        run_stage(producer->engine, producer->index + 1);
}

static roda_result_t make_output_journal(const roda_engine_t *engine,
                                         const roda_stage_config_t *stage, roda_stage_t *producer,
                                         roda_journal_t **out)
{
    bool fused = engine->config.placement == RODA_PLACEMENT_FUSED;
    roda_journal_config_t config = {
        .capacity =
            stage->output_capacity ? stage->output_capacity : engine->config.default_capacity,
        .record_size = stage->output_record_size,
        /* One reader for the next stage or the receiver, plus the caller's own. */
        .max_readers = 1 + stage->output_readers,
        .policy = RODA_JOURNAL_BLOCK,
        .idle = engine->config.idle,
        .directory = stage->output_directory,
        .segment_records = stage->output_segment_records,
        .retained_segments = stage->output_retained_segments,
        .schema = stage->output_schema,
        .on_full = fused ? run_next_stage : NULL,
        .on_full_context = fused ? producer : NULL};
    return roda_journal_create(&config, out);
}

static roda_result_t make_input_journal(const roda_engine_t *engine, roda_journal_t **out)
{
    const roda_engine_config_t *e = &engine->config;
    roda_journal_config_t config = {.capacity = e->input_capacity,
                                    .record_size = e->input_record_size,
                                    .max_readers = 1 + e->input_readers,
                                    .policy = e->input_policy,
                                    .idle = e->idle,
                                    .directory = e->input_directory,
                                    .segment_records = e->input_segment_records,
                                    .retained_segments = e->input_retained_segments,
                                    .schema = e->input_schema};
    return roda_journal_create(&config, out);
}

roda_result_t roda_engine_create(const roda_engine_config_t *config, roda_engine_t **out)
{
    if (config == NULL || out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    if (config->placement != RODA_PLACEMENT_THREADS && config->placement != RODA_PLACEMENT_FUSED)
        return RODA_ERROR_INVALID_ARG;
    if (config->input_prelude != NULL &&
        roda_journal_replay_record_size(config->input_prelude) != config->input_record_size)
        return RODA_ERROR_INVALID_ARG;
    roda_engine_t *engine = calloc(1, sizeof(*engine));
    if (engine == NULL)
        return RODA_ERROR_NOMEM;
    engine->config = *config;
    if (engine->config.default_capacity == 0)
        engine->config.default_capacity = 64 * 1024;
    if (engine->config.max_batch == 0)
        engine->config.max_batch = 1024;
    if (config->input_prelude != NULL)
        engine->config.input_prelude_end = roda_journal_min_u64(
            config->input_prelude_end, roda_journal_replay_end(config->input_prelude));
    engine->config.idle = roda_idle_or_default(config->idle);
    /* The first stage (or the receiver) reads the input, plus the caller's own readers. */
    roda_result_t result = make_input_journal(engine, &engine->input);
    if (result != RODA_SUCCESS) {
        free(engine);
        return result;
    }
    *out = engine;
    return RODA_SUCCESS;
}

static roda_journal_t *last_journal(roda_engine_t *engine)
{
    return engine->stage_count == 0 ? engine->input
                                    : engine->stages[engine->stage_count - 1]->output;
}

roda_result_t roda_engine_add_stage(roda_engine_t *engine, const roda_stage_config_t *config)
{
    if (engine == NULL || config == NULL || config->batch == NULL ||
        (config->tick != NULL && config->tick_interval_ns == 0))
        return RODA_ERROR_INVALID_ARG;
    if (engine->started)
        return RODA_ERROR_STATE;
    if (engine->stage_count == RODA_ENGINE_MAX_STAGES)
        return RODA_ERROR_TOO_MANY;
    roda_stage_t *stage = aligned_alloc(RODA_PAD, sizeof(*stage));
    if (stage == NULL)
        return RODA_ERROR_NOMEM;
    memset(stage, 0, sizeof(*stage));
    strncpy(stage->name, config->name ? config->name : "stage", RODA_STAGE_NAME_MAX - 1);
    stage->batch = config->batch;
    stage->tick = config->tick;
    stage->tick_interval_ns = config->tick_interval_ns;
    stage->idle = engine->config.idle;
    if (stage->tick != NULL && stage->idle.sleep_us > stage->tick_interval_ns / 1000)
        stage->idle.sleep_us = (uint32_t)(stage->tick_interval_ns / 1000) + 1;
    stage->context = config->context;
    stage->cpu = config->cpu;
    stage->engine = engine;
    stage->index = engine->stage_count;
    stage->prelude = engine->stage_count == 0 ? engine->config.input_prelude : NULL;
    roda_result_t result = make_output_journal(engine, config, stage, &stage->output);
    if (result == RODA_SUCCESS)
        result = roda_journal_reader_open(last_journal(engine), &stage->input_reader);
    if (result != RODA_SUCCESS) {
        roda_journal_destroy(stage->output);
        free(stage);
        return result;
    }
    engine->stages[engine->stage_count++] = stage;
    return RODA_SUCCESS;
}

/* Runs the stage's tick if it is due (next_tick is UINT64_MAX without a tick). */
static void tick_when_due(roda_stage_t *stage)
{
    if (stage->next_tick == UINT64_MAX)
        return;
    uint64_t now = roda_now_ns();
    if (now >= stage->next_tick) {
        stage->tick(stage->context, now, stage->output);
        stage->next_tick = now + stage->tick_interval_ns;
    }
}

/* Runs the batch function on each run of `view` and publishes the stage's counters. */
static void process_batch(roda_stage_t *stage, const roda_journal_view_t *view)
{
    stage->batch(stage->context, view->run[0], view->run_count[0], stage->output);
    if (view->run_count[1] != 0)
        stage->batch(stage->context, view->run[1], view->run_count[1], stage->output);
    /* The stage thread is the counters' only writer. */
    uint64_t consumed = atomic_load_explicit(&stage->consumed, memory_order_relaxed);
    uint64_t batches = atomic_load_explicit(&stage->batches, memory_order_relaxed);
    atomic_store_explicit(&stage->consumed, consumed + view->count, memory_order_relaxed);
    atomic_store_explicit(&stage->batches, batches + 1, memory_order_relaxed);
}

/* Processes the prelude's prelude_left records (set by start) from the replay's position. */
static void process_prelude(roda_stage_t *stage)
{
    uint64_t max_batch = stage->engine->config.max_batch;
    uint64_t left = atomic_load_explicit(&stage->prelude_left, memory_order_relaxed);
    roda_journal_view_t view;
    while (left != 0 &&
           roda_journal_replay_next(stage->prelude, roda_journal_min_u64(left, max_batch), &view)) {
        tick_when_due(stage);
        process_batch(stage, &view);
        left -= view.count;
        atomic_store_explicit(&stage->prelude_left, left, memory_order_relaxed);
    }
}

/* Processes the live input until it is closed and drained. */
static void process_input(roda_stage_t *stage)
{
    roda_journal_reader_t *reader = &stage->input_reader;
    uint64_t max_batch = stage->engine->config.max_batch;
    roda_idle_state_t idle = {0};
    for (;;) {
        tick_when_due(stage);
        roda_journal_view_t view;
        uint64_t count = roda_journal_peek(reader, max_batch, &view);
        if (count == 0) {
            if (roda_journal_reader_status(reader) == RODA_CLOSED)
                return;
            roda_journal_reader_wait(reader, &stage->idle, &idle);
            atomic_store_explicit(&stage->sleeps, idle.sleeps, memory_order_relaxed);
            continue;
        }
        roda_idle_reset(&idle);
        process_batch(stage, &view);
        roda_journal_consume(reader, count);
    }
}

static void *stage_main(void *arg)
{
    roda_stage_t *stage = arg;
    if (stage->prelude != NULL)
        process_prelude(stage);
    process_input(stage);
    roda_journal_close(stage->output);
    atomic_store_explicit(&stage->running, false, memory_order_release);
    return NULL;
}

/* Fused: stage `index` processes what its input holds now, batch by batch, each batch's outputs
 * going through the later stages before its next batch; the later stages run (and tick) once
 * more at the end, even when this one had nothing. */
static void run_stage(roda_engine_t *engine, uint32_t index)
{
    roda_stage_t *stage = engine->stages[index];
    bool last = index + 1 == engine->stage_count;
    tick_when_due(stage);
    for (;;) {
        roda_journal_view_t view;
        uint64_t count = roda_journal_peek(&stage->input_reader, engine->config.max_batch, &view);
        if (count != 0) {
            process_batch(stage, &view);
            roda_journal_consume(&stage->input_reader, count);
        }
        if (!last)
            run_stage(engine, index + 1);
        if (count == 0)
            return;
    }
}

uint64_t roda_engine_run(roda_engine_t *engine)
{
    if (engine == NULL || engine->config.placement != RODA_PLACEMENT_FUSED || !engine->started ||
        engine->stopped)
        return 0;
    roda_stage_t *first = engine->stages[0];
    uint64_t before = atomic_load_explicit(&first->consumed, memory_order_relaxed);
    run_stage(engine, 0);
    return atomic_load_explicit(&first->consumed, memory_order_relaxed) - before;
}

/* Fused start: the prelude through every stage, on the caller's thread. */
static void start_fused(roda_engine_t *engine)
{
    for (uint32_t i = 0; i < engine->stage_count; i++)
        atomic_store(&engine->stages[i]->running, true);
    roda_stage_t *first = engine->stages[0];
    if (first->prelude != NULL)
        process_prelude(first);
    if (engine->stage_count > 1)
        run_stage(engine, 1);
}

/* Fused stop: the input is closed; what it holds goes through, then every output is closed. */
static void stop_fused(roda_engine_t *engine)
{
    run_stage(engine, 0);
    for (uint32_t i = 0; i < engine->stage_count; i++) {
        roda_journal_close(engine->stages[i]->output);
        atomic_store_explicit(&engine->stages[i]->running, false, memory_order_release);
    }
}

static void join_stages(roda_engine_t *engine, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        pthread_join(engine->stages[i]->thread, NULL);
}

roda_result_t roda_engine_start(roda_engine_t *engine)
{
    if (engine == NULL)
        return RODA_ERROR_INVALID_ARG;
    if (engine->started || engine->stage_count == 0)
        return RODA_ERROR_STATE;
    if (engine->config.receive) {
        roda_result_t result = roda_journal_reader_open(last_journal(engine), &engine->receiver);
        if (result != RODA_SUCCESS)
            return result;
        engine->has_receiver = true;
    }
    /* Stage 0's prelude runs from the replay's position now to the configured end. */
    roda_stage_t *first = engine->stages[0];
    if (first->prelude != NULL) {
        uint64_t position = roda_journal_replay_position(first->prelude);
        uint64_t end = engine->config.input_prelude_end;
        atomic_store_explicit(&first->prelude_left, end > position ? end - position : 0,
                              memory_order_relaxed);
    }
    for (uint32_t i = 0; i < engine->stage_count; i++) {
        roda_stage_t *stage = engine->stages[i];
        stage->next_tick =
            stage->tick != NULL ? roda_now_ns() + stage->tick_interval_ns : UINT64_MAX;
    }
    if (engine->config.placement == RODA_PLACEMENT_FUSED) {
        engine->started = true;
        start_fused(engine);
        return RODA_SUCCESS;
    }
    for (uint32_t i = 0; i < engine->stage_count; i++) {
        roda_stage_t *stage = engine->stages[i];
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        if (stage->cpu >= 0) {
            cpu_set_t cpus;
            CPU_ZERO(&cpus);
            CPU_SET((size_t)stage->cpu, &cpus);
            pthread_attr_setaffinity_np(&attributes, sizeof(cpus), &cpus);
        }
        atomic_store(&stage->running, true);
        int error = pthread_create(&stage->thread, &attributes, stage_main, stage);
        pthread_attr_destroy(&attributes);
        if (error != 0) {
            /* Unwind: the started stages drain and exit once the input is closed. */
            atomic_store(&stage->running, false);
            roda_journal_close(engine->input);
            join_stages(engine, i);
            engine->stopped = true;
            engine->started = true;
            return RODA_ERROR_SYSTEM;
        }
    }
    engine->started = true;
    return RODA_SUCCESS;
}

void roda_engine_stop(roda_engine_t *engine)
{
    if (engine == NULL || !engine->started || engine->stopped)
        return;
    roda_journal_close(engine->input);
    if (engine->config.placement == RODA_PLACEMENT_FUSED)
        stop_fused(engine);
    else
        join_stages(engine, engine->stage_count);
    engine->stopped = true;
}

void roda_engine_destroy(roda_engine_t *engine)
{
    if (engine == NULL)
        return;
    if (engine->started && !engine->stopped)
        roda_engine_stop(engine);
    else if (!engine->started)
        roda_journal_close(engine->input);
    for (uint32_t i = 0; i < engine->stage_count; i++) {
        roda_journal_destroy(engine->stages[i]->output);
        free(engine->stages[i]);
    }
    roda_journal_destroy(engine->input);
    free(engine);
}

roda_journal_t *roda_engine_input(roda_engine_t *engine)
{
    return engine->input;
}

roda_journal_t *roda_engine_output(roda_engine_t *engine, uint32_t stage)
{
    return stage < engine->stage_count ? engine->stages[stage]->output : NULL;
}

uint32_t roda_engine_stage_count(const roda_engine_t *engine)
{
    return engine->stage_count;
}

roda_result_t roda_engine_send(roda_engine_t *engine, const void *record)
{
    if (engine->stopped)
        return RODA_ERROR_STATE;
    return roda_journal_append(engine->input, record);
}

roda_receive_result_t roda_engine_try_receive(roda_engine_t *engine, void *out)
{
    if (!engine->has_receiver)
        return RODA_NO_RECEIVER;
    roda_journal_view_t view;
    if (roda_journal_peek(&engine->receiver, 1, &view) == 0)
        return roda_journal_reader_status(&engine->receiver) == RODA_CLOSED ? RODA_DRAINED
                                                                            : RODA_NOTHING;
    memcpy(out, view.run[0], engine->receiver.journal->record_size);
    roda_journal_consume(&engine->receiver, 1);
    return RODA_RECEIVED;
}

uint64_t roda_engine_receive_view(roda_engine_t *engine, uint64_t max, roda_journal_view_t *view)
{
    if (!engine->has_receiver) {
        memset(view, 0, sizeof(*view));
        return 0;
    }
    return roda_journal_peek(&engine->receiver, max, view);
}

void roda_engine_receive_release(roda_engine_t *engine, uint64_t count)
{
    if (engine->has_receiver)
        roda_journal_consume(&engine->receiver, count);
}

roda_result_t roda_engine_receive_wait(roda_engine_t *engine, roda_idle_state_t *state)
{
    if (!engine->has_receiver)
        return RODA_ERROR_STATE;
    if (roda_journal_reader_status(&engine->receiver) == RODA_CLOSED)
        return RODA_CLOSED;
    roda_journal_reader_wait(&engine->receiver, &engine->config.idle, state);
    return RODA_SUCCESS;
}

roda_result_t roda_engine_stage_stats(const roda_engine_t *engine, uint32_t stage,
                                      roda_stage_stats_t *stats)
{
    if (engine == NULL || stats == NULL || stage >= engine->stage_count)
        return RODA_ERROR_INVALID_ARG;
    const roda_stage_t *s = engine->stages[stage];
    roda_journal_stats_t output;
    roda_journal_stats(s->output, &output);
    stats->name = s->name;
    stats->consumed = atomic_load_explicit(&s->consumed, memory_order_relaxed);
    stats->produced = output.appended;
    stats->batches = atomic_load_explicit(&s->batches, memory_order_relaxed);
    stats->sleeps = atomic_load_explicit(&s->sleeps, memory_order_relaxed);
    stats->prelude_left = atomic_load_explicit(&s->prelude_left, memory_order_relaxed);
    stats->running = atomic_load_explicit(&s->running, memory_order_acquire);
    return RODA_SUCCESS;
}
