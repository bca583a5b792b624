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

void roda_idle_step(roda_wakeup_t *wakeup, const roda_idle_config_t *config,
                    roda_idle_state_t *state, roda_ready_fn ready, const void *context)
{
    uint32_t round = state->round++;
    if (round < config->spins) {
        roda_cpu_relax();
        return;
    }
    if (round < config->spins + config->yields) {
        sched_yield();
        return;
    }
    /* Announce, then look once more: the notifier's fence pairs with this one. */
    uint32_t sequence = atomic_load_explicit(&wakeup->sequence, memory_order_seq_cst);
    atomic_fetch_add_explicit(&wakeup->sleepers, 1, memory_order_seq_cst);
    if (!ready(context)) {
        struct timespec timeout = {.tv_sec = config->sleep_us / 1000000,
                                   .tv_nsec = (long)(config->sleep_us % 1000000) * 1000};
        futex(&wakeup->sequence, FUTEX_WAIT, sequence, &timeout);
        state->sleeps++;
    }
    atomic_fetch_sub_explicit(&wakeup->sleepers, 1, memory_order_seq_cst);
    /* Stay in the sleeping phase until the caller resets: work came, or it is still idle. */
    state->round = config->spins + config->yields;
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
