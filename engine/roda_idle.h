/* roda_idle.h - how a thread waits for work without burning a core, and how it is woken.
 *
 * A waiter spins briefly (pause instructions), then yields, then sleeps on a futex; adaptive
 * waiting (the default) halves the spins and yields after each wait that ended asleep and doubles
 * them back after each one that found work awake, so a thread whose work comes seldom goes
 * straight to the futex and a busy one keeps spinning. The notifier (the
 * side that produced work or freed room) pays for a wake-up system call only when a waiter has
 * announced that it sleeps, so a busy pipeline never makes a system call, and an idle one uses
 * no CPU. The announcement and the notifier's check are ordered by full fences (Dekker style):
 * either the notifier sees the sleeper, or the sleeper sees the new work before it sleeps. */
#ifndef RODA_IDLE_H
#define RODA_IDLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "roda_result.h"

#define RODA_CACHE_LINE 64
/* Two lines: adjacent-line prefetch makes neighbours on one 128-byte pair contend as well. */
#define RODA_PAD 128

/* One wake-up channel: a futex word and the number of threads sleeping on it. */
typedef struct roda_wakeup {
    _Alignas(RODA_PAD) _Atomic uint32_t sequence;
    _Atomic uint32_t sleepers;
} roda_wakeup_t;

/* How long each phase of waiting lasts. Chosen from the pipeline benchmark (BENCHMARKS.md). */
typedef struct roda_idle_config {
    uint32_t spins;    /* busy polls with a pause instruction */
    uint32_t yields;   /* polls with sched_yield() between them */
    uint32_t sleep_us; /* futex sleep bound: a missed wake-up costs at most this */
    bool adaptive;     /* spins and yields follow how often they paid off (see the head) */
} roda_idle_config_t;

#define RODA_IDLE_DEFAULT                                                                          \
    ((roda_idle_config_t){.spins = 256, .yields = 64, .sleep_us = 100000, .adaptive = true})
/* Every wait spins and yields in full before it sleeps: the lowest wake-up latency where each
 * waiting thread has a core of its own, at the price of a core's share per waiting thread at
 * moderate rates (BENCHMARKS.md, CPU that follows the load). */
#define RODA_IDLE_SPIN                                                                             \
    ((roda_idle_config_t){.spins = 256, .yields = 64, .sleep_us = 100000, .adaptive = false})

/* `config`, or RODA_IDLE_DEFAULT when it is all zero (unset). */
static inline roda_idle_config_t roda_idle_or_default(roda_idle_config_t config)
{
    return config.spins || config.yields || config.sleep_us || config.adaptive ? config
                                                                               : RODA_IDLE_DEFAULT;
}

/* Progress of waiting: call roda_idle_step() each time the condition was found false, and
 * roda_idle_reset() each time it was found true. Zero-initialised before the first wait. */
typedef struct roda_idle_state {
    uint32_t round;   /* steps of the current wait */
    uint32_t backoff; /* adaptive: halvings of the spins and yields */
    bool sleeping;    /* the current wait is past its spins and yields */
    bool slept;       /* the current wait has slept on the futex */
    uint64_t sleeps;  /* futex sleeps so far: what idling cost in wake-ups */
} roda_idle_state_t;

static inline void roda_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* The notifier side: call after publishing (the store that makes work visible). Costs one
 * fence and one load; a system call only when somebody sleeps. */
void roda_wakeup_notify_slow(roda_wakeup_t *wakeup);
static inline void roda_wakeup_notify(roda_wakeup_t *wakeup)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&wakeup->sleepers, memory_order_relaxed) != 0)
        roda_wakeup_notify_slow(wakeup);
}

/* One step of waiting. `ready` is re-evaluated after the sleeper announced itself, so a wake-up
 * between the caller's check and the sleep is never lost. Returns after one spin, one yield or
 * one (bounded) sleep; the caller loops and re-checks its condition. With config->adaptive,
 * the first sleep of a wait halves the next waits' spins and yields (down to none). */
typedef int (*roda_ready_fn)(const void *context);
void roda_idle_step(roda_wakeup_t *wakeup, const roda_idle_config_t *config,
                    roda_idle_state_t *state, roda_ready_fn ready, const void *context);

/* The condition was found true: a wait (if any) is over. One that ended without a sleep paid
 * off, so the next one spins and yields twice as long (up to the configured counts). */
static inline void roda_idle_reset(roda_idle_state_t *state)
{
    if (state->round != 0 && !state->slept && state->backoff != 0)
        state->backoff--;
    state->round = 0;
    state->sleeping = false;
    state->slept = false;
}

/* Monotonic clock in nanoseconds (vDSO, no system call on Linux). */
uint64_t roda_now_ns(void);
/* Wall clock (CLOCK_REALTIME) in nanoseconds since the Unix epoch (vDSO): for times recorded in
 * journals, which must compare across restarts and hosts. */
uint64_t roda_wall_ns(void);

#endif
