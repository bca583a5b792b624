/* roda_idle.c - the slow half of waiting: yields and futex sleeps, and the wake-up call. */
#include "roda_idle.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long futex(_Atomic uint32_t *word, int op, uint32_t value, const struct timespec *timeout)
{
    return syscall(SYS_futex, (uint32_t *)word, op | FUTEX_PRIVATE_FLAG, value, timeout, NULL, 0);
}

void roda_wakeup_notify_slow(roda_wakeup_t *wakeup)
{
    atomic_fetch_add_explicit(&wakeup->sequence, 1, memory_order_seq_cst);
    futex(&wakeup->sequence, FUTEX_WAKE, INT32_MAX, NULL);
}

/* Halvings after which neither spins nor yields are left. */
static uint32_t backoff_limit(const roda_idle_config_t *config)
{
    uint32_t most = config->spins > config->yields ? config->spins : config->yields;
    return most == 0 ? 0 : 32u - (uint32_t)__builtin_clz(most);
}

void roda_idle_step(roda_wakeup_t *wakeup, const roda_idle_config_t *config,
                    roda_idle_state_t *state, roda_ready_fn ready, const void *context)
{
    if (!state->sleeping) {
        uint32_t round = state->round++;
        uint32_t spins = config->spins >> state->backoff;
        uint32_t yields = config->yields >> state->backoff;
        if (round < spins) {
            roda_cpu_relax();
            return;
        }
        if (round < spins + yields) {
            sched_yield();
            return;
        }
        /* Stay in the sleeping phase until the caller resets: work came, or it is still idle. */
        state->sleeping = true;
    }
    /* Announce, then look once more: the notifier's fence pairs with this one. */
    uint32_t sequence = atomic_load_explicit(&wakeup->sequence, memory_order_seq_cst);
    atomic_fetch_add_explicit(&wakeup->sleepers, 1, memory_order_seq_cst);
    if (!ready(context)) {
        if (config->adaptive && !state->slept && state->backoff < backoff_limit(config))
            state->backoff++;
        struct timespec timeout = {.tv_sec = config->sleep_us / 1000000,
                                   .tv_nsec = (long)(config->sleep_us % 1000000) * 1000};
        futex(&wakeup->sequence, FUTEX_WAIT, sequence, &timeout);
        state->sleeps++;
        state->slept = true;
    }
    atomic_fetch_sub_explicit(&wakeup->sleepers, 1, memory_order_seq_cst);
}

uint64_t roda_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

uint64_t roda_wall_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}
