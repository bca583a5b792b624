/* test_idle.c - waiting: adaptive waits go straight to the futex once spinning stopped paying off
 * and spin again once it pays off, fixed (spinning) waits always spin first, an unset config means
 * the default, and a sleeper is always woken by a notify (run under TSan in the tsan build). */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "roda_check.h"
#include "roda_idle.h"

#define SPINS 8u
#define YIELDS 4u
/* Halvings until 8 spins and 4 yields are none: 8 >> 4 == 0. */
#define LIMIT 4u

static int never(const void *context)
{
    (void)context;
    return 0;
}

static int always(const void *context)
{
    (void)context;
    return 1;
}

static roda_idle_config_t config(bool adaptive)
{
    return (roda_idle_config_t){
        .spins = SPINS, .yields = YIELDS, .sleep_us = 100, .adaptive = adaptive};
}

/* Steps of one wait on a condition that stays false until it has slept once; returns the steps
 * taken before that sleep (its spins and yields) and ends the wait with a reset. */
static uint32_t steps_before_sleep(const roda_idle_config_t *idle, roda_idle_state_t *state)
{
    roda_wakeup_t wakeup = {0};
    uint64_t sleeps = state->sleeps;
    uint32_t steps = 0;
    while (state->sleeps == sleeps) {
        roda_idle_step(&wakeup, idle, state, never, NULL);
        steps++;
    }
    roda_idle_reset(state);
    return steps - 1;
}

/* A wait that finds its work after one step (a spin, or the look before a sleep), awake. */
static void wait_that_pays_off(const roda_idle_config_t *idle, roda_idle_state_t *state)
{
    roda_wakeup_t wakeup = {0};
    roda_idle_step(&wakeup, idle, state, always, NULL);
    ck_assert(!state->slept);
    roda_idle_reset(state);
}

START_TEST(adaptive_waits_halve_until_they_go_straight_to_sleep)
{
    roda_idle_config_t idle = config(true);
    roda_idle_state_t state = {0};
    uint32_t expected = SPINS + YIELDS;
    for (uint32_t wait = 0; wait < LIMIT; wait++) {
        ck_assert_uint_eq(steps_before_sleep(&idle, &state), expected);
        expected = (SPINS >> (wait + 1)) + (YIELDS >> (wait + 1));
    }
    /* Spinning stopped paying off: every later wait sleeps at once, and the backoff holds. */
    for (uint32_t wait = 0; wait < 3; wait++)
        ck_assert_uint_eq(steps_before_sleep(&idle, &state), 0);
    ck_assert_uint_eq(state.backoff, LIMIT);
}
END_TEST

START_TEST(adaptive_waits_spin_again_once_work_comes_while_awake)
{
    roda_idle_config_t idle = config(true);
    roda_idle_state_t state = {0};
    for (uint32_t wait = 0; wait < LIMIT + 1; wait++)
        steps_before_sleep(&idle, &state);
    /* Each wait that finds work awake (here at its pre-sleep look) doubles the next one's spins. */
    for (uint32_t hit = 0; hit < LIMIT; hit++) {
        ck_assert_uint_eq(state.backoff, LIMIT - hit);
        wait_that_pays_off(&idle, &state);
    }
    ck_assert_uint_eq(state.backoff, 0);
    ck_assert_uint_eq(steps_before_sleep(&idle, &state), SPINS + YIELDS);
}
END_TEST

START_TEST(fixed_waits_always_spin_and_yield_first)
{
    roda_idle_config_t idle = config(false);
    roda_idle_state_t state = {0};
    for (uint32_t wait = 0; wait < 2 * LIMIT; wait++)
        ck_assert_uint_eq(steps_before_sleep(&idle, &state), SPINS + YIELDS);
    ck_assert_uint_eq(state.backoff, 0);
}
END_TEST

START_TEST(an_unset_config_means_the_adaptive_default)
{
    roda_idle_config_t unset = {0};
    roda_idle_config_t chosen = roda_idle_or_default(unset);
    ck_assert_uint_eq(chosen.spins, RODA_IDLE_DEFAULT.spins);
    ck_assert_uint_eq(chosen.yields, RODA_IDLE_DEFAULT.yields);
    ck_assert_uint_eq(chosen.sleep_us, RODA_IDLE_DEFAULT.sleep_us);
    ck_assert(chosen.adaptive);
    ck_assert(!roda_idle_or_default(RODA_IDLE_SPIN).adaptive);
    roda_idle_config_t only_adaptive = {.adaptive = true};
    ck_assert_uint_eq(roda_idle_or_default(only_adaptive).spins, 0);
}
END_TEST

/* A sleeper on a long-bounded futex sleep and a notifier: every notify after a publish ends the
 * wait, whatever the interleaving (a lost wake-up would cost the full second per round). */
#define ROUNDS 200u

typedef struct handoff {
    roda_wakeup_t wakeup;
    _Atomic uint32_t published;
    _Atomic uint32_t seen;
} handoff_t;

static int published_past_seen(const void *context)
{
    const handoff_t *h = context;
    return atomic_load(&h->published) != atomic_load(&h->seen);
}

static void *sleeper(void *argument)
{
    handoff_t *h = argument;
    roda_idle_config_t idle = {.spins = 0, .yields = 0, .sleep_us = 1000000, .adaptive = true};
    roda_idle_state_t state = {0};
    for (uint32_t round = 0; round < ROUNDS; round++) {
        while (!published_past_seen(h))
            roda_idle_step(&h->wakeup, &idle, &state, published_past_seen, h);
        roda_idle_reset(&state);
        atomic_fetch_add(&h->seen, 1);
    }
    return NULL;
}

START_TEST(a_notify_after_a_publish_always_ends_the_wait)
{
    handoff_t h = {0};
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, sleeper, &h), 0);
    uint64_t start = roda_now_ns();
    for (uint32_t round = 0; round < ROUNDS; round++) {
        while (atomic_load(&h.seen) != round)
            roda_cpu_relax();
        atomic_fetch_add(&h.published, 1);
        roda_wakeup_notify(&h.wakeup);
    }
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    /* 200 rounds that each waited out the 1 s bound would take minutes; woken ones take ms. */
    ck_assert_uint_lt(roda_now_ns() - start, 20ull * 1000000000ull);
}
END_TEST

Suite *idle_suite(void)
{
    Suite *suite = suite_create("idle");
    TCase *single = tcase_create("single-thread");
    tcase_add_test(single, adaptive_waits_halve_until_they_go_straight_to_sleep);
    tcase_add_test(single, adaptive_waits_spin_again_once_work_comes_while_awake);
    tcase_add_test(single, fixed_waits_always_spin_and_yield_first);
    tcase_add_test(single, an_unset_config_means_the_adaptive_default);
    suite_add_tcase(suite, single);
    TCase *threads = tcase_create("threads");
    tcase_set_timeout(threads, 60);
    tcase_add_test(threads, a_notify_after_a_publish_always_ends_the_wait);
    suite_add_tcase(suite, threads);
    return suite;
}

int main(void)
{
    return roda_check_run(idle_suite());
}
