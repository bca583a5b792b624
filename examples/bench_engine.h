/* bench_engine.h - what the pipelined examples share: an engine with its stages, and a receiver
 * thread that takes every output of the last stage until the engine is drained and notes when it
 * took the last one (the clock of a fully drained run stops there). */
#ifndef RODA_BENCH_ENGINE_H
#define RODA_BENCH_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "bench_common.h"
#include "roda_engine.h"

/* Called by the receiver for every contiguous run of `count` output records, taken at `now_ns`. */
typedef void (*bench_take_fn)(void *context, const void *records, uint64_t count, uint64_t now_ns);

typedef struct bench_stage {
    const char *name;
    roda_stage_batch_fn batch;
    void *context;
    uint32_t output_record_size;
} bench_stage_t;

typedef struct bench_engine {
    const char *program; /* names the failures */
    roda_engine_t *engine;
    pthread_t receiver;
    bench_take_fn take;
    void (*drained)(void *context); /* optional: called by the receiver after the last output */
    void *context;
    uint64_t end_ns; /* when the receiver had taken the last output */
} bench_engine_t;

static void bench_engine_fail(const bench_engine_t *b, const char *what, roda_result_t result)
{
    fprintf(stderr, "%s: %s: %s\n", b->program, what, roda_result_str(result));
    exit(1);
}

static void *bench_engine_receiver(void *arg)
{
    bench_engine_t *b = arg;
    roda_idle_state_t state = {0};
    for (;;) {
        roda_journal_view_t view;
        uint64_t count = roda_engine_receive_view(b->engine, 4096, &view);
        if (count == 0) {
            if (roda_engine_receive_wait(b->engine, &state) == RODA_CLOSED)
                break;
            continue;
        }
        roda_idle_reset(&state);
        uint64_t now = roda_now_ns();
        for (int run = 0; run < 2; run++)
            if (view.run_count[run] != 0)
                b->take(b->context, view.run[run], view.run_count[run], now);
        roda_engine_receive_release(b->engine, count);
    }
    b->end_ns = roda_now_ns();
    if (b->drained != NULL)
        b->drained(b->context);
    return NULL;
}

/* Creates and starts an engine over `count` stages (stage i pinned to CPU i + 1 modulo the CPUs
 * when `pin`), journals of `capacity` records with back-pressure, and the receiver thread. The
 * caller sets program, take, drained and context first. Exits the program on a failure: an
 * example has nothing to fall back on. */
static void bench_engine_start(bench_engine_t *b, uint32_t input_record_size, uint64_t capacity,
                               roda_idle_config_t idle, const bench_stage_t *stages, int count,
                               bool pin)
{
    roda_engine_config_t config = {.input_record_size = input_record_size,
                                   .input_capacity = capacity,
                                   .input_policy = RODA_JOURNAL_BLOCK,
                                   .default_capacity = capacity,
                                   .receive = true,
                                   .idle = idle};
    roda_result_t result = roda_engine_create(&config, &b->engine);
    if (result != RODA_SUCCESS)
        bench_engine_fail(b, "engine create", result);
    int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 0; i < count; i++) {
        roda_stage_config_t stage = {.name = stages[i].name,
                                     .batch = stages[i].batch,
                                     .context = stages[i].context,
                                     .output_record_size = stages[i].output_record_size,
                                     .cpu = pin ? (i + 1) % cpus : -1};
        if ((result = roda_engine_add_stage(b->engine, &stage)) != RODA_SUCCESS)
            bench_engine_fail(b, "add stage", result);
    }
    if ((result = roda_engine_start(b->engine)) != RODA_SUCCESS)
        bench_engine_fail(b, "engine start", result);
    if (pthread_create(&b->receiver, NULL, bench_engine_receiver, b) != 0)
        bench_engine_fail(b, "receiver thread", RODA_ERROR_SYSTEM);
}

/* Claims up to `wanted` input slots, waiting while the input is full; returns how many. */
static inline uint64_t bench_engine_claim(bench_engine_t *b, uint64_t wanted, void **slots)
{
    uint64_t granted;
    roda_result_t result =
        roda_journal_claim(roda_engine_input(b->engine), wanted, slots, &granted);
    if (result != RODA_SUCCESS)
        bench_engine_fail(b, "claim", result);
    return granted;
}

static inline void bench_engine_commit(bench_engine_t *b, uint64_t count)
{
    roda_journal_commit(roda_engine_input(b->engine), count);
}

/* Stops the engine (it drains) and joins the receiver: b->end_ns is set. The caller destroys
 * b->engine (after reading what it wants of it: RSS, stage stats). */
static void bench_engine_finish(bench_engine_t *b)
{
    roda_engine_stop(b->engine);
    pthread_join(b->receiver, NULL);
}

#endif
