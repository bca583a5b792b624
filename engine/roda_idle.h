/* roda_idle.h - how a thread waits for work without burning a core, and how it is woken.
 *
 * A waiter spins briefly, then pauses, then yields, then sleeps on a futex. The notifier (the
 * side that produced work or freed room) pays for a wake-up system call only when a waiter has
 * announced that it sleeps, so a busy pipeline never makes a system call, and an idle one uses
 * no CPU. The announcement and the notifier's check are ordered by full fences (Dekker style):
 * either the notifier sees the sleeper, or the sleeper sees the new work before it sleeps. */
#ifndef RODA_IDLE_H
#define RODA_IDLE_H

#include <stdatomic.h>
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
} roda_idle_config_t;

#define RODA_IDLE_DEFAULT ((roda_idle_config_t){.spins = 256, .yields = 64, .sleep_us = 100000})

/* Progress of one wait: call roda_idle_step() each time the condition was found false. */
typedef struct roda_idle_state {
    uint32_t round;
    uint64_t sleeps; /* futex sleeps so far: what idling cost in wake-ups */
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
 * one (bounded) sleep; the caller loops and re-checks its condition. */
typedef int (*roda_ready_fn)(const void *context);
void roda_idle_step(roda_wakeup_t *wakeup, const roda_idle_config_t *config,
                    roda_idle_state_t *state, roda_ready_fn ready, const void *context);

static inline void roda_idle_reset(roda_idle_state_t *state)
{
    state->round = 0;
}

/* Monotonic clock in nanoseconds (vDSO, no system call on Linux). */
uint64_t roda_now_ns(void);
/* Wall clock (CLOCK_REALTIME) in nanoseconds since the Unix epoch (vDSO): for times recorded in
 * journals, which must compare across restarts and hosts. */
uint64_t roda_wall_ns(void);

#endif
