/* roda_pipe.h - pipe components: per-record processing steps composed by static dispatch.
 *
 * This header is the documentation of the pipe components.
 *
 * A component is declared with one macro at file scope. RODA_X(name, ...) defines:
 *   name_t                                      its state (counters, per-key table if keyed)
 *   roda_result_t name_init(name_t *, const roda_pipe_config_t *)   allocates its bounded state
 *   void name_destroy(name_t *)                 frees it; safe on a zeroed state and after a
 *                                               failed init
 *   int name(name_t *self, const IN *in, OUT *out)   the per-record step: 1 when it wrote *out,
 *                                               0 when it emitted nothing for this input
 * All four are static inline. The user functions given to the macros are names of functions
 * (static inline ones, so the compiler inlines them): there is no function pointer at run time.
 *
 *   RODA_MAP(name, IN, OUT, FN)                    FN(const IN *, OUT *); emits for every input
 *   RODA_FILTER(name, T, PREDICATE)                PREDICATE(const T *) -> bool; passes *in through
 *   RODA_STATEFUL(name, IN, STATE, KEY, INIT, UPDATE)
 *       KEY(const IN *) -> uint64_t. A new key's state is INIT(STATE *, const IN *), a known key's
 *       is UPDATE(STATE *, const IN *); emits a copy of the key's state (OUT is STATE).
 *   RODA_DELTA(name, T, OUT, KEY, COMPARE)
 *       COMPARE(const T *current, const T *previous, OUT *out) -> bool emit; previous is NULL for
 *       a key's first item. The current item is then kept as the key's previous one.
 *   RODA_DEDUP_BY(name, T, KEY, EQUAL)
 *       EQUAL(const T *, const T *) -> bool. Per key, drops an item equal to the last one passed.
 *   RODA_WINDOW(name, IN, KEY, VALUE, SIZE, SLIDE)
 *       VALUE(const IN *) -> double; OUT is roda_window_stats_t. SIZE and SLIDE are integer
 *       constants, 1 <= SLIDE <= SIZE (checked at compile time). Per key:
 *       tumbling (SLIDE == SIZE): emits the stats of every SIZE consecutive items (Welford's
 *         running mean and variance), then starts an empty window;
 *       sliding (SLIDE < SIZE): emits, after every SLIDE items, the stats of the last SIZE items
 *         (fewer while the key has seen fewer: `count` says how many), computed exactly over a
 *         per-key ring of SIZE doubles (mean first, then the squared deviations from it).
 *       stddev is the population standard deviation: sqrt(sum((x - mean)^2) / count).
 *       A NaN value makes the stats of the windows holding it NaN.
 *
 * Keyed components (stateful, delta, dedup_by, window) keep per-key state in a roda_keytable_t
 * (`self->keys`) sized at init for config->key_capacity keys, with the state array inside it
 * (window sliding: SIZE doubles per key; init refuses RODA_ERROR_INVALID_ARG when the array
 * would pass RODA_KEYTABLE_MAX_STATE_BYTES). An input whose key is new while key_capacity keys
 * live is dropped: the step returns 0 and counts it in `counters.refused` (the table never grows).
 * Expiring keys (roda_keytable_remove on self->keys) makes room; a later new key reuses the index
 * with fresh state. `self->last_index` is the index of the last input's key (RODA_KEYTABLE_NONE
 * before the first, or after a refusal: then it is stale), for a caller that keeps per-index state
 * of its own beside the component's.
 *
 * Counters: every component has `counters` (roda_pipe_counters_t): inputs seen, outputs emitted,
 * inputs refused for key capacity. in - out - refused is what the component chose not to emit.
 *
 * Composition: RODA_PIPE(name, IN, comp1, T1, comp2, T2, ..., compN, OUT), N = 1..6, where Tk is
 * the output type of compk and the input type of comp(k+1). It defines name_t with one field per
 * component, named after it (so a component appears at most once per pipe), name_init (inits
 * all; on failure destroys all and returns the error), name_destroy, name_counters (copies each
 * component's counters, in order) and `int name(name_t *, const IN *, OUT *)`, which runs the
 * components in order and stops at the first that emits nothing. Components are inlined into it.
 *
 * Example (the seed's sensor pipeline: running average per sensor, alert when it jumps 1.5x):
 *
 *   typedef struct { uint64_t sensor; double value; } reading_t;
 *   typedef struct { uint64_t sensor; double average; uint64_t count; } summary_t;
 *   typedef struct { uint64_t sensor; double average; } alert_t;
 *
 *   static inline uint64_t reading_sensor(const reading_t *r) { return r->sensor; }
 *   static inline uint64_t summary_sensor(const summary_t *s) { return s->sensor; }
 *   static inline void summary_start(summary_t *s, const reading_t *r)
 *   { *s = (summary_t){.sensor = r->sensor, .average = r->value, .count = 1}; }
 *   static inline void summary_add(summary_t *s, const reading_t *r)
 *   { s->count++; s->average += (r->value - s->average) / (double)s->count; }
 *   static inline bool jumped(const summary_t *now, const summary_t *before, alert_t *alert)
 *   {
 *       if (before == NULL || now->average <= before->average * 1.5)
 *           return false;
 *       *alert = (alert_t){.sensor = now->sensor, .average = now->average};
 *       return true;
 *   }
 *
 *   RODA_STATEFUL(average, reading_t, summary_t, reading_sensor, summary_start, summary_add)
 *   RODA_DELTA(jump, summary_t, alert_t, summary_sensor, jumped)
 *   RODA_PIPE(alerts, reading_t, average, summary_t, jump, alert_t)
 *
 *   alerts_t pipe;
 *   roda_pipe_config_t config = {.key_capacity = 10000};
 *   if (alerts_init(&pipe, &config) != RODA_SUCCESS) ...;
 *   alert_t alert;
 *   if (alerts(&pipe, &reading, &alert)) ...;        // per record, fully inlined
 *   pipe.average.counters.refused;                   // readings of sensors past 10000
 *   alerts_destroy(&pipe);
 *
 * Threads: a component's state belongs to one thread (the stage running it); nothing is atomic.
 * Memory: only init allocates; the per-record step neither allocates nor makes system calls. */
#ifndef RODA_PIPE_H
#define RODA_PIPE_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "roda_inline.h"
#include "roda_keytable.h"
#include "roda_result.h"

typedef struct roda_pipe_config {
    uint32_t key_capacity; /* keys per keyed component: 1 .. RODA_KEYTABLE_MAX_KEYS */
} roda_pipe_config_t;

typedef struct roda_pipe_counters {
    uint64_t in;      /* inputs given to the component */
    uint64_t out;     /* outputs it emitted */
    uint64_t refused; /* inputs dropped because their key was new and the key table full */
} roda_pipe_counters_t;

typedef struct roda_window_stats {
    uint64_t key;
    uint64_t count; /* items in the window */
    double mean, min, max, stddev;
} roda_window_stats_t;

/* The functions the macros define are marked unused: a program calls only some of them, and
 * clang warns about unused static functions defined in a .c file. */
#define RODA_PIPE_FN_ static inline __attribute__((unused))
/* Per-record steps: always inlined (roda_inline.h says why). */
#define RODA_PIPE_STEP_ RODA_HOT __attribute__((unused))

/* ---- Shared by the component macros --------------------------------------------------------- */

/* The state (`size` bytes) of `key`, added if new (*fresh tells); NULL when the key is new and
 * the table full: the input is dropped and counted as refused. */
RODA_HOT void *roda_pipe_state_(roda_keytable_t *keys, roda_pipe_counters_t *counters, uint64_t key,
                                size_t size, bool *fresh, uint32_t *index)
{
    if (__builtin_expect(roda_keytable_insert(keys, key, index, fresh) != RODA_SUCCESS, 0)) {
        counters->refused++;
        return NULL;
    }
    return (uint8_t *)keys->states + (size_t)*index * size;
}

/* Stats of `count` >= 1 values, two passes: the mean, then the squared deviations from it (no
 * cancellation, unlike sum-of-squares formulas). */
static inline void roda_window_stats_of(const double *values, uint64_t count,
                                        roda_window_stats_t *stats)
{
    double sum = 0.0, min = values[0], max = values[0];
    for (uint64_t i = 0; i < count; i++) {
        sum += values[i];
        min = values[i] < min ? values[i] : min;
        max = values[i] > max ? values[i] : max;
    }
    double mean = sum / (double)count, squares = 0.0;
    for (uint64_t i = 0; i < count; i++)
        squares += (values[i] - mean) * (values[i] - mean);
    stats->count = count;
    stats->mean = mean;
    stats->min = min;
    stats->max = max;
    stats->stddev = sqrt(squares / (double)count);
}

/* Ring length in a window's per-key state: SIZE values when sliding; tumbling needs none. */
#define RODA_WINDOW_RING_(SIZE, SLIDE) ((SLIDE) < (SIZE) ? (SIZE) : 1)

#define RODA_PIPE_STATELESS_(name)                                                                 \
    typedef struct name##_s {                                                                      \
        roda_pipe_counters_t counters;                                                             \
    } name##_t;                                                                                    \
    RODA_PIPE_FN_ roda_result_t name##_init(name##_t *self, const roda_pipe_config_t *config)      \
    {                                                                                              \
        (void)config;                                                                              \
        memset(self, 0, sizeof(*self));                                                            \
        return RODA_SUCCESS;                                                                       \
    }                                                                                              \
    RODA_PIPE_FN_ void name##_destroy(name##_t *self)                                              \
    {                                                                                              \
        (void)self;                                                                                \
    }

#define RODA_PIPE_KEYED_(name, STATE)                                                              \
    typedef struct name##_s {                                                                      \
        roda_pipe_counters_t counters;                                                             \
        roda_keytable_t keys;                                                                      \
        uint32_t last_index; /* the key table index of the last input's key */                     \
    } name##_t;                                                                                    \
    RODA_PIPE_FN_ roda_result_t name##_init(name##_t *self, const roda_pipe_config_t *config)      \
    {                                                                                              \
        memset(&self->counters, 0, sizeof(self->counters));                                        \
        self->last_index = RODA_KEYTABLE_NONE;                                                     \
        return roda_keytable_init(&self->keys, config != NULL ? config->key_capacity : 0,          \
                                  sizeof(STATE));                                                  \
    }                                                                                              \
    RODA_PIPE_FN_ void name##_destroy(name##_t *self)                                              \
    {                                                                                              \
        roda_keytable_destroy(&self->keys);                                                        \
    }

/* ---- Components ---------------------------------------------------------------------------- */

#define RODA_MAP(name, IN, OUT, FN)                                                                \
    RODA_PIPE_STATELESS_(name)                                                                     \
    RODA_PIPE_STEP_ int name(name##_t *self, const IN *in, OUT *out)                               \
    {                                                                                              \
        self->counters.in++;                                                                       \
        FN(in, out);                                                                               \
        self->counters.out++;                                                                      \
        return 1;                                                                                  \
    }

#define RODA_FILTER(name, T, PREDICATE)                                                            \
    RODA_PIPE_STATELESS_(name)                                                                     \
    RODA_PIPE_STEP_ int name(name##_t *self, const T *in, T *out)                                  \
    {                                                                                              \
        self->counters.in++;                                                                       \
        if (!PREDICATE(in))                                                                        \
            return 0;                                                                              \
        *out = *in;                                                                                \
        self->counters.out++;                                                                      \
        return 1;                                                                                  \
    }

#define RODA_STATEFUL(name, IN, STATE, KEY, INIT, UPDATE)                                          \
    RODA_PIPE_KEYED_(name, STATE)                                                                  \
    RODA_PIPE_STEP_ int name(name##_t *self, const IN *in, STATE *out)                             \
    {                                                                                              \
        bool fresh;                                                                                \
        self->counters.in++;                                                                       \
        STATE *state = roda_pipe_state_(&self->keys, &self->counters, KEY(in), sizeof(STATE),      \
                                        &fresh, &self->last_index);                                \
        if (state == NULL)                                                                         \
            return 0;                                                                              \
        if (fresh)                                                                                 \
            INIT(state, in);                                                                       \
        else                                                                                       \
            UPDATE(state, in);                                                                     \
        *out = *state;                                                                             \
        self->counters.out++;                                                                      \
        return 1;                                                                                  \
    }

#define RODA_DELTA(name, T, OUT, KEY, COMPARE)                                                     \
    RODA_PIPE_KEYED_(name, T)                                                                      \
    RODA_PIPE_STEP_ int name(name##_t *self, const T *in, OUT *out)                                \
    {                                                                                              \
        bool fresh;                                                                                \
        self->counters.in++;                                                                       \
        T *previous = roda_pipe_state_(&self->keys, &self->counters, KEY(in), sizeof(T), &fresh,   \
                                       &self->last_index);                                         \
        if (previous == NULL)                                                                      \
            return 0;                                                                              \
        bool emit = COMPARE(in, fresh ? NULL : previous, out);                                     \
        *previous = *in;                                                                           \
        if (!emit)                                                                                 \
            return 0;                                                                              \
        self->counters.out++;                                                                      \
        return 1;                                                                                  \
    }

#define RODA_DEDUP_BY(name, T, KEY, EQUAL)                                                         \
    RODA_PIPE_KEYED_(name, T)                                                                      \
    RODA_PIPE_STEP_ int name(name##_t *self, const T *in, T *out)                                  \
    {                                                                                              \
        bool fresh;                                                                                \
        self->counters.in++;                                                                       \
        T *last = roda_pipe_state_(&self->keys, &self->counters, KEY(in), sizeof(T), &fresh,       \
                                   &self->last_index);                                             \
        if (last == NULL)                                                                          \
            return 0;                                                                              \
        if (!fresh && EQUAL(in, last))                                                             \
            return 0;                                                                              \
        *last = *in;                                                                               \
        *out = *in;                                                                                \
        self->counters.out++;                                                                      \
        return 1;                                                                                  \
    }

#define RODA_WINDOW(name, IN, KEY, VALUE, SIZE, SLIDE)                                             \
    _Static_assert((SLIDE) >= 1 && (SLIDE) <= (SIZE), "RODA_WINDOW needs 1 <= SLIDE <= SIZE");     \
    typedef struct name##_key_s {                                                                  \
        uint64_t seen;    /* tumbling: items in the open window; sliding: items in the ring */     \
        uint32_t next;    /* sliding: ring position of the next value */                           \
        uint32_t pending; /* sliding: items since the last emission */                             \
        double mean, m2, min, max;                                                                 \
        double ring[RODA_WINDOW_RING_(SIZE, SLIDE)];                                               \
    } name##_key_t;                                                                                \
    RODA_PIPE_KEYED_(name, name##_key_t)                                                           \
    RODA_PIPE_STEP_ int name(name##_t *self, const IN *in, roda_window_stats_t *out)               \
    {                                                                                              \
        bool fresh;                                                                                \
        uint64_t k = KEY(in);                                                                      \
        self->counters.in++;                                                                       \
        name##_key_t *window = roda_pipe_state_(&self->keys, &self->counters, k,                   \
                                                sizeof(name##_key_t), &fresh, &self->last_index);  \
        if (window == NULL)                                                                        \
            return 0;                                                                              \
        if (fresh)                                                                                 \
            window->seen = window->next = window->pending = 0;                                     \
        double x = VALUE(in);                                                                      \
        if ((SLIDE) == (SIZE)) {                                                                   \
            if (window->seen == 0) {                                                               \
                window->mean = window->min = window->max = x;                                      \
                window->m2 = 0.0;                                                                  \
                window->seen = 1;                                                                  \
            } else {                                                                               \
                window->seen++;                                                                    \
                double delta = x - window->mean;                                                   \
                window->mean += delta / (double)window->seen;                                      \
                window->m2 += delta * (x - window->mean);                                          \
                window->min = x < window->min ? x : window->min;                                   \
                window->max = x > window->max ? x : window->max;                                   \
            }                                                                                      \
            if (window->seen < (uint64_t)(SIZE))                                                   \
                return 0;                                                                          \
            *out = (roda_window_stats_t){.key = k,                                                 \
                                         .count = window->seen,                                    \
                                         .mean = window->mean,                                     \
                                         .min = window->min,                                       \
                                         .max = window->max,                                       \
                                         .stddev = sqrt(window->m2 / (double)window->seen)};       \
            window->seen = 0;                                                                      \
        } else {                                                                                   \
            window->ring[window->next] = x;                                                        \
            window->next =                                                                         \
                window->next + 1 == RODA_WINDOW_RING_(SIZE, SLIDE) ? 0 : window->next + 1;         \
            window->seen += window->seen < (uint64_t)(SIZE);                                       \
            if (++window->pending < (uint32_t)(SLIDE))                                             \
                return 0;                                                                          \
            window->pending = 0;                                                                   \
            roda_window_stats_of(window->ring, window->seen, out);                                 \
            out->key = k;                                                                          \
        }                                                                                          \
        self->counters.out++;                                                                      \
        return 1;                                                                                  \
    }

/* ---- Composition --------------------------------------------------------------------------- */

#define RODA_PIPE(name, IN, ...)                                                                   \
    RODA_PIPE_CAT_(RODA_PIPE_, RODA_PIPE_ARITY_(__VA_ARGS__))(name, IN, __VA_ARGS__)

/* 2N arguments after IN (N components, N types) select RODA_PIPE_N; any other count names a
 * macro that does not exist, which the compiler reports. */
#define RODA_PIPE_ARITY_(...)                                                                      \
    RODA_PIPE_PICK_(__VA_ARGS__, 6, WRONG_ARGUMENT_COUNT, 5, WRONG_ARGUMENT_COUNT, 4,              \
                    WRONG_ARGUMENT_COUNT, 3, WRONG_ARGUMENT_COUNT, 2, WRONG_ARGUMENT_COUNT, 1,     \
                    WRONG_ARGUMENT_COUNT)
#define RODA_PIPE_PICK_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, n, ...) n
#define RODA_PIPE_CAT_(a, b) RODA_PIPE_CAT2_(a, b)
#define RODA_PIPE_CAT2_(a, b) a##b

#define RODA_PIPE_EACH_1(M, c) M(c)
#define RODA_PIPE_EACH_2(M, c, ...) M(c) RODA_PIPE_EACH_1(M, __VA_ARGS__)
#define RODA_PIPE_EACH_3(M, c, ...) M(c) RODA_PIPE_EACH_2(M, __VA_ARGS__)
#define RODA_PIPE_EACH_4(M, c, ...) M(c) RODA_PIPE_EACH_3(M, __VA_ARGS__)
#define RODA_PIPE_EACH_5(M, c, ...) M(c) RODA_PIPE_EACH_4(M, __VA_ARGS__)
#define RODA_PIPE_EACH_6(M, c, ...) M(c) RODA_PIPE_EACH_5(M, __VA_ARGS__)

#define RODA_PIPE_FIELD_(c) c##_t c;
#define RODA_PIPE_DESTROY_(c) c##_destroy(&self->c);
#define RODA_PIPE_INIT_(c)                                                                         \
    if (result == RODA_SUCCESS)                                                                    \
        result = c##_init(&self->c, config);
#define RODA_PIPE_COUNTERS_(c)                                                                     \
    if (n < max)                                                                                   \
        out[n] = self->c.counters;                                                                 \
    n++;

/* Everything but the per-record step, for N components. (Not clang-formatted: the component
 * lists expand to statements that clang-format cannot see.) */
// clang-format off
#define RODA_PIPE_STATE_(name, N, ...)                                                             \
    typedef struct name##_s {                                                                      \
        RODA_PIPE_EACH_##N(RODA_PIPE_FIELD_, __VA_ARGS__)                                          \
    } name##_t;                                                                                    \
    RODA_PIPE_FN_ void name##_destroy(name##_t *self)                                              \
    {                                                                                              \
        RODA_PIPE_EACH_##N(RODA_PIPE_DESTROY_, __VA_ARGS__)                                        \
    }                                                                                              \
    RODA_PIPE_FN_ roda_result_t name##_init(name##_t *self, const roda_pipe_config_t *config)      \
    {                                                                                              \
        roda_result_t result = RODA_SUCCESS;                                                       \
        memset(self, 0, sizeof(*self));                                                            \
        RODA_PIPE_EACH_##N(RODA_PIPE_INIT_, __VA_ARGS__)                                           \
        if (result != RODA_SUCCESS)                                                                \
            name##_destroy(self);                                                                  \
        return result;                                                                             \
    }                                                                                              \
    /* Copies up to `max` components' counters to out[], in pipe order; returns N. */              \
    RODA_PIPE_FN_ size_t name##_counters(const name##_t *self, roda_pipe_counters_t *out,          \
                                         size_t max)                                               \
    {                                                                                              \
        size_t n = 0;                                                                              \
        RODA_PIPE_EACH_##N(RODA_PIPE_COUNTERS_, __VA_ARGS__)                                       \
        return n;                                                                                  \
    }
// clang-format on

#define RODA_PIPE_1(name, IN, c1, OUT)                                                             \
    RODA_PIPE_STATE_(name, 1, c1)                                                                  \
    RODA_PIPE_STEP_ int name(name##_t *self, const IN *in, OUT *out)                               \
    {                                                                                              \
        return c1(&self->c1, in, out);                                                             \
    }

#define RODA_PIPE_2(name, IN, c1, T1, c2, OUT)                                                     \
    RODA_PIPE_STATE_(name, 2, c1, c2)                                                              \
    RODA_PIPE_STEP_ int name(name##_t *self, const IN *in, OUT *out)                               \
    {                                                                                              \
        T1 v1;                                                                                     \
        return c1(&self->c1, in, &v1) && c2(&self->c2, &v1, out);                                  \
    }

#define RODA_PIPE_3(name, IN, c1, T1, c2, T2, c3, OUT)                                             \
    RODA_PIPE_STATE_(name, 3, c1, c2, c3)                                                          \
    RODA_PIPE_STEP_ int name(name##_t *self, const IN *in, OUT *out)                               \
    {                                                                                              \
        T1 v1;                                                                                     \
        T2 v2;                                                                                     \
        return c1(&self->c1, in, &v1) && c2(&self->c2, &v1, &v2) && c3(&self->c3, &v2, out);       \
    }

#define RODA_PIPE_4(name, IN, c1, T1, c2, T2, c3, T3, c4, OUT)                                     \
    RODA_PIPE_STATE_(name, 4, c1, c2, c3, c4)                                                      \
    RODA_PIPE_STEP_ int name(name##_t *self, const IN *in, OUT *out)                               \
    {                                                                                              \
        T1 v1;                                                                                     \
        T2 v2;                                                                                     \
        T3 v3;                                                                                     \
        return c1(&self->c1, in, &v1) && c2(&self->c2, &v1, &v2) && c3(&self->c3, &v2, &v3) &&     \
               c4(&self->c4, &v3, out);                                                            \
    }

#define RODA_PIPE_5(name, IN, c1, T1, c2, T2, c3, T3, c4, T4, c5, OUT)                             \
    RODA_PIPE_STATE_(name, 5, c1, c2, c3, c4, c5)                                                  \
    RODA_PIPE_STEP_ int name(name##_t *self, const IN *in, OUT *out)                               \
    {                                                                                              \
        T1 v1;                                                                                     \
        T2 v2;                                                                                     \
        T3 v3;                                                                                     \
        T4 v4;                                                                                     \
        return c1(&self->c1, in, &v1) && c2(&self->c2, &v1, &v2) && c3(&self->c3, &v2, &v3) &&     \
               c4(&self->c4, &v3, &v4) && c5(&self->c5, &v4, out);                                 \
    }

#define RODA_PIPE_6(name, IN, c1, T1, c2, T2, c3, T3, c4, T4, c5, T5, c6, OUT)                     \
    RODA_PIPE_STATE_(name, 6, c1, c2, c3, c4, c5, c6)                                              \
    RODA_PIPE_STEP_ int name(name##_t *self, const IN *in, OUT *out)                               \
    {                                                                                              \
        T1 v1;                                                                                     \
        T2 v2;                                                                                     \
        T3 v3;                                                                                     \
        T4 v4;                                                                                     \
        T5 v5;                                                                                     \
        return c1(&self->c1, in, &v1) && c2(&self->c2, &v1, &v2) && c3(&self->c3, &v2, &v3) &&     \
               c4(&self->c4, &v3, &v4) && c5(&self->c5, &v4, &v5) && c6(&self->c6, &v5, out);      \
    }

#endif
