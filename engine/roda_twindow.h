/* roda_twindow.h - time windows per key: a ring of sub-window buckets and a quantile sketch.
 *
 * This header is the documentation of the time-windowed component (the count-based one is
 * RODA_WINDOW in roda_pipe.h).
 *
 * A window is a spec (roda_twindow_spec_t: bucket width `hop_ns`, `buckets` of them, whether it
 * keeps a quantile sketch) and, per key, a state of roda_twindow_size(spec) bytes: a head
 * (roda_twindow_head_t, what a reading in the newest bucket touches) and a body
 * (roda_twindow_body_size(spec) bytes: the ring of buckets and the sketch, touched once per hop),
 * one after the other, or kept apart by a caller that packs many keys' heads together (the
 * `_put` and `_of` calls take them apart). Time is the
 * record's (never a clock): bucket number b = time_ns / hop_ns, aligned to the epoch. A key's
 * window is the `buckets` buckets ending with the newest bucket a reading of that key fell in:
 *   sliding (buckets > 1, hop = bucket width): it covers between (buckets - 1) and `buckets`
 *     hops, and moves one hop at a time;
 *   tumbling (buckets == 1): the current hop so far, empty again at each boundary.
 *
 *   roda_twindow_reset(spec, state)               an empty window (also what zeroed memory is)
 *   roda_twindow_add(spec, state, time_ns, value) folds one reading in; false when it is late
 *       past the window (its bucket ended `buckets` hops before the newest: dropped and counted
 *       in head.late). A late reading within the window goes to its own bucket.
 *   roda_twindow_stats(spec, state, now_ns, out)  the statistics of the window at `now_ns`
 *       (usually the newest reading's time): buckets that ended `buckets` hops before it are left
 *       out, so a key silent longer than the window reads as empty (count 0, the rest NaN).
 *   roda_twindow_put(spec, head, body, time_ns, value)          add, head and body apart
 *   roda_twindow_stats_of(spec, head, body, now_ns, mask, out)  stats, only those in `mask`
 *       (RODA_TWINDOW_MEAN | ...; the others NaN): a mean reads no ends, sqrt or sketch; the
 *       quantiles' scan stops at the lowest one asked for.
 *
 * Statistics: count, mean, min, max, population stddev (per bucket, sums of value - the
 * bucket's first value, so no cancellation for values far from 0; buckets merged with Chan's
 * formula),
 * slope (value change per second from the earliest reading to the newest one in the window, by
 * their times; NaN when they share a time) and, with a sketch, the quantiles p50, p90, p95, p99.
 *
 * Quantile sketch (DDSketch-style, "collapsing lowest" store): a value x maps to the key
 * ceil(log_g |x|) with g = (1 + a) / (1 - a), a = RODA_TWINDOW_ALPHA = 1% (negative values to
 * mirrored keys below those of zero and the positive ones, |x| < 1e-9 to a key of its own); a key
 * stands for 2 g^k / (g + 1), within a of every value of its key. Each bucket counts its
 * readings per key in RODA_TWINDOW_KEYS counters (uint16, saturating: the excess is counted in
 * head.unsketched) and the window keeps their sum (uint32), so a quantile is one scan. All of a
 * key's counters share one base key; the RODA_TWINDOW_KEYS keys span a factor g^256 = 165 of
 * magnitude. A value above the span moves it up and folds the lowest keys into the lowest
 * counter; a value below it goes into the lowest counter; when the window moves and the top
 * quarter of the counters is empty, the span moves down (keeping an eighth as headroom). Error
 * bound: a quantile whose value has the sign of the window's largest value and is within a factor
 * 165 below it is within 1% (relative) of a value of the window at that rank (rank = q * (count -
 * 1), rounded down); a lower one reads as the lowest counter's key, too high.
 *
 * Cost: add in the newest bucket is a compare, a multiplication and a few additions on the
 * head's first 72 bytes (no division), and, with a sketch, one log(); when the window moves
 * (once per hop; a division), the newest bucket goes to its ring slot, the buckets that leave
 * are emptied and taken out of the rest, whose smallest and largest values are the fronts of two
 * monotonic queues of ring slots (O(1) amortised: no scan of the ring when an extreme leaves);
 * the rest's count, mean and m2 are summed up again from the ring once every `buckets` hops. Stats
 * at the newest bucket merge the head's two groups (the newest bucket and the rest: the first 112
 * bytes for a mean; and scan the sketch's counters for quantiles); at a later time (a silent key)
 * they scan the buckets.
 *
 * Component: RODA_TIME_WINDOW(name, IN, KEY, VALUE, TIME, HOP_NS, BUCKETS, SKETCH), composable in
 * a RODA_PIPE like those of roda_pipe.h: KEY(const IN *) -> uint64_t, VALUE(const IN *) ->
 * double, TIME(const IN *) -> uint64_t nanoseconds; OUT is roda_twindow_stats_t, emitted for
 * every input that is not late past its window (the key's window after adding it).
 *
 * Threads: a state belongs to one thread. Memory: the caller's (the component: its key table);
 * nothing here allocates or makes a system call. */
#ifndef RODA_TWINDOW_H
#define RODA_TWINDOW_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "roda_inline.h"
#include "roda_pipe.h"

#define RODA_TWINDOW_MAX_BUCKETS 60u
#define RODA_TWINDOW_KEYS 256
#define RODA_TWINDOW_ALPHA 0.01
#define RODA_TWINDOW_QUANTILES 4 /* p50, p90, p95, p99 */

typedef struct roda_twindow_spec {
    uint64_t hop_ns;  /* bucket width, > 0 */
    uint32_t buckets; /* 1 (tumbling) .. RODA_TWINDOW_MAX_BUCKETS */
    uint32_t sketch;  /* 1: keep the quantile sketch */
} roda_twindow_spec_t;

typedef struct roda_twindow_stats {
    uint64_t key;
    uint64_t count;
    double mean, min, max, stddev, slope;
    double quantiles[RODA_TWINDOW_QUANTILES]; /* NaN without a sketch or readings */
} roda_twindow_stats_t;

extern const double roda_twindow_quantile_ranks[RODA_TWINDOW_QUANTILES]; /* 0.5 ... 0.99 */

/* Smallest, largest, newest and earliest (by time) value of a set of readings (min, max, last
 * and last_ns first: a reading in time order writes only those). */
typedef struct roda_twindow_ends {
    double min, max;
    double last;
    uint64_t last_ns;
    double first;
    uint64_t first_ns;
} roda_twindow_ends_t;

/* A bucket's readings: count, sums of value - shift (its first value) and ends. Its first 72
 * bytes are what a reading in time order reads and writes. */
typedef struct roda_twindow_bucket {
    uint64_t number; /* bucket number + 1 (0: empty) */
    uint64_t count;
    double shift;        /* the bucket's first value: sums are of value - shift */
    double sum, squares; /* of value - shift */
    roda_twindow_ends_t ends;
} roda_twindow_bucket_t;

/* The window less its newest bucket: count, mean and m2 (Welford) and ends. */
typedef struct roda_twindow_rest {
    uint64_t count;
    double mean, m2;
    roda_twindow_ends_t ends;
} roda_twindow_rest_t;

/* The state: head, then `buckets` ring buckets, the extreme queues (roda_twindow_queues_size),
 * then (sketch) the window's uint32 counters and
 * each bucket's uint16 ones. The head holds the newest bucket itself (a reading in it touches
 * the head's first two cache lines only; its ring slot is empty until the window moves on) and
 * the rest of the window summed up: rebuilt from the ring when the window moves (once per hop),
 * updated by a late reading within the window, so the statistics at the newest reading merge
 * two groups and scan nothing. */
typedef struct roda_twindow_head {
    roda_twindow_bucket_t newest; /* number: the newest bucket number + 1 (0: no reading yet) */
    roda_twindow_rest_t rest;
    uint64_t late;       /* readings dropped: older than the window */
    uint64_t unsketched; /* readings left out of the sketch (a saturated counter) */
    int32_t base;        /* the sketch key of counter 0 */
    uint32_t sketched;   /* readings in the window's counters */
} roda_twindow_head_t;

/* Statistics roda_twindow_stats_of computes (the others are NaN; count always). */
enum {
    RODA_TWINDOW_MEAN = 1u << 0,
    RODA_TWINDOW_MIN = 1u << 1,
    RODA_TWINDOW_MAX = 1u << 2,
    RODA_TWINDOW_STDDEV = 1u << 3,
    RODA_TWINDOW_SLOPE = 1u << 4,
    RODA_TWINDOW_P50 = 1u << 5, /* quantile q (0 .. 3: p50 .. p99) is RODA_TWINDOW_P50 << q */
    RODA_TWINDOW_P90 = 1u << 6,
    RODA_TWINDOW_P95 = 1u << 7,
    RODA_TWINDOW_P99 = 1u << 8,
    RODA_TWINDOW_ANY_QUANTILE =
        RODA_TWINDOW_P50 | RODA_TWINDOW_P90 | RODA_TWINDOW_P95 | RODA_TWINDOW_P99,
    RODA_TWINDOW_ALL = (1u << 9) - 1,
};

/* Bytes of the body's extreme queues, after the ring: for the smallest and for the largest
 * value, the ring slots of the buckets that may still hold the rest's extreme, oldest first (a
 * monotonic queue: each bucket's extreme is beyond those of the older ones in it), as uint8
 * slots in a ring of `buckets` places each, after 4 bytes (each queue's first place and length).
 * A multiple of 8. */
static inline size_t roda_twindow_queues_size(const roda_twindow_spec_t *spec)
{
    return (4 + 2 * (size_t)spec->buckets + 7) / 8 * 8;
}

/* Bytes of one key's body: the ring, the extreme queues and the sketch (a multiple of 8). */
static inline size_t roda_twindow_body_size(const roda_twindow_spec_t *spec)
{
    size_t size = spec->buckets * sizeof(roda_twindow_bucket_t) + roda_twindow_queues_size(spec);
    if (spec->sketch)
        size += RODA_TWINDOW_KEYS * (sizeof(uint32_t) + spec->buckets * sizeof(uint16_t));
    return size;
}

/* Bytes of one key's state: its head, then its body (a multiple of 8). */
static inline size_t roda_twindow_size(const roda_twindow_spec_t *spec)
{
    return sizeof(roda_twindow_head_t) + roda_twindow_body_size(spec);
}

/* Whether a spec is usable: hop > 0, 1 <= buckets <= RODA_TWINDOW_MAX_BUCKETS, sketch 0 or 1. */
static inline bool roda_twindow_spec_valid(const roda_twindow_spec_t *spec)
{
    return spec->hop_ns > 0 && spec->buckets >= 1 && spec->buckets <= RODA_TWINDOW_MAX_BUCKETS &&
           spec->sketch <= 1;
}

static inline void roda_twindow_reset(const roda_twindow_spec_t *spec, void *state)
{
    memset(state, 0, roda_twindow_size(spec));
}

/* The parts of a state (`state` or `body` const or not: the stats read through them, add
 * writes). */
static inline roda_twindow_head_t *roda_twindow_head_(const void *state)
{
    return (roda_twindow_head_t *)state;
}
static inline void *roda_twindow_body_(const void *state)
{
    return (uint8_t *)state + sizeof(roda_twindow_head_t);
}
static inline roda_twindow_bucket_t *roda_twindow_buckets_(const void *body)
{
    return (roda_twindow_bucket_t *)body;
}
static inline uint8_t *roda_twindow_queues_(const roda_twindow_spec_t *spec, const void *body)
{
    return (uint8_t *)(roda_twindow_buckets_(body) + spec->buckets);
}
static inline uint32_t *roda_twindow_total_(const roda_twindow_spec_t *spec, const void *body)
{
    return (uint32_t *)(void *)(roda_twindow_queues_(spec, body) + roda_twindow_queues_size(spec));
}
static inline uint16_t *roda_twindow_counts_(const roda_twindow_spec_t *spec, const void *body,
                                             uint32_t slot)
{
    return (uint16_t *)(void *)(roda_twindow_total_(spec, body) + RODA_TWINDOW_KEYS) +
           (size_t)slot * RODA_TWINDOW_KEYS;
}

/* The sketch key of a value (see the head comment); NaN has none (INT32_MIN). */
int32_t roda_twindow_key(double value);
/* The value a key stands for. */
double roda_twindow_key_value(int32_t key);

/* Out of line: a reading outside the newest bucket (the window moves on, or a late one). */
bool roda_twindow_add_other_(const roda_twindow_spec_t *spec, roda_twindow_head_t *head, void *body,
                             uint64_t time_ns, double value);
/* Counts `value` in bucket `slot`'s sketch and the window's (out of line: it takes a log()). */
void roda_twindow_sketch_add_(const roda_twindow_spec_t *spec, roda_twindow_head_t *head,
                              void *body, uint32_t slot, double value);

/* Folds a reading into ends that already hold `count` readings. */
RODA_HOT void roda_twindow_ends_add(roda_twindow_ends_t *e, uint64_t count, uint64_t time_ns,
                                    double value)
{
    if (count == 0) {
        *e = (roda_twindow_ends_t){.min = value,
                                   .max = value,
                                   .last = value,
                                   .last_ns = time_ns,
                                   .first = value,
                                   .first_ns = time_ns};
        return;
    }
    e->min = value < e->min ? value : e->min;
    e->max = value > e->max ? value : e->max;
    if (time_ns >= e->last_ns) {
        e->last = value;
        e->last_ns = time_ns;
    } else if (time_ns < e->first_ns) {
        e->first = value;
        e->first_ns = time_ns;
    }
}

/* Folds a reading into a bucket (its number already set). */
RODA_HOT void roda_twindow_bucket_add(roda_twindow_bucket_t *b, uint64_t time_ns, double value)
{
    if (b->count == 0)
        b->shift = value;
    double d = value - b->shift;
    roda_twindow_ends_add(&b->ends, b->count, time_ns, value);
    b->count++;
    b->sum += d;
    b->squares += d * d;
}

/* Folds a reading into a key's window kept as a head and a body apart (see roda_twindow_add). */
RODA_HOT bool roda_twindow_put(const roda_twindow_spec_t *spec, roda_twindow_head_t *head,
                               void *body, uint64_t time_ns, double value)
{
    uint64_t number = head->newest.number;
    /* Most readings fall in the newest bucket: no division, the head's first lines only. */
    if (__builtin_expect(number == 0 || time_ns - (number - 1) * spec->hop_ns >= spec->hop_ns, 0))
        return roda_twindow_add_other_(spec, head, body, time_ns, value);
    roda_twindow_bucket_add(&head->newest, time_ns, value);
    if (spec->sketch)
        roda_twindow_sketch_add_(spec, head, body, (uint32_t)(number % spec->buckets), value);
    return true;
}

RODA_HOT bool roda_twindow_add(const roda_twindow_spec_t *spec, void *state, uint64_t time_ns,
                               double value)
{
    return roda_twindow_put(spec, roda_twindow_head_(state), roda_twindow_body_(state), time_ns,
                            value);
}

/* The statistics in `mask` (RODA_TWINDOW_*) of a key's window kept as a head and a body apart,
 * at `now_ns` (see roda_twindow_stats); the others NaN. */
void roda_twindow_stats_of(const roda_twindow_spec_t *spec, const roda_twindow_head_t *head,
                           const void *body, uint64_t now_ns, uint32_t mask,
                           roda_twindow_stats_t *out);

/* The window's statistics at `now_ns` (see the head comment). */
static inline void roda_twindow_stats(const roda_twindow_spec_t *spec, const void *state,
                                      uint64_t now_ns, roda_twindow_stats_t *out)
{
    roda_twindow_stats_of(spec, roda_twindow_head_(state), roda_twindow_body_(state), now_ns,
                          RODA_TWINDOW_ALL, out);
}

/* ---- Component ---------------------------------------------------------------------------- */

#define RODA_TIME_WINDOW(name, IN, KEY, VALUE, TIME, HOP_NS, BUCKETS, SKETCH)                      \
    _Static_assert((BUCKETS) >= 1 && (BUCKETS) <= RODA_TWINDOW_MAX_BUCKETS && (HOP_NS) > 0,        \
                   #name ": 1 <= BUCKETS <= RODA_TWINDOW_MAX_BUCKETS and HOP_NS > 0");             \
    static const roda_twindow_spec_t name##_spec = {(HOP_NS), (BUCKETS), (SKETCH) ? 1u : 0u};      \
    typedef struct name##_s {                                                                      \
        roda_pipe_counters_t counters;                                                             \
        roda_keytable_t keys;                                                                      \
        uint32_t last_index;                                                                       \
    } name##_t;                                                                                    \
    RODA_PIPE_FN_ roda_result_t name##_init(name##_t *self, const roda_pipe_config_t *config)      \
    {                                                                                              \
        memset(&self->counters, 0, sizeof(self->counters));                                        \
        self->last_index = RODA_KEYTABLE_NONE;                                                     \
        return roda_keytable_init(&self->keys, config != NULL ? config->key_capacity : 0,          \
                                  roda_twindow_size(&name##_spec));                                \
    }                                                                                              \
    RODA_PIPE_FN_ void name##_destroy(name##_t *self)                                              \
    {                                                                                              \
        roda_keytable_destroy(&self->keys);                                                        \
    }                                                                                              \
    RODA_PIPE_STEP_ int name(name##_t *self, const IN *in, roda_twindow_stats_t *out)              \
    {                                                                                              \
        bool fresh;                                                                                \
        uint64_t k = KEY(in), t = TIME(in);                                                        \
        self->counters.in++;                                                                       \
        void *state =                                                                              \
            roda_pipe_state_(&self->keys, &self->counters, k, roda_twindow_size(&name##_spec),     \
                             &fresh, &self->last_index);                                           \
        if (state == NULL)                                                                         \
            return 0;                                                                              \
        if (fresh)                                                                                 \
            roda_twindow_reset(&name##_spec, state);                                               \
        if (!roda_twindow_add(&name##_spec, state, t, VALUE(in)))                                  \
            return 0;                                                                              \
        roda_twindow_stats(&name##_spec, state, t, out);                                           \
        out->key = k;                                                                              \
        self->counters.out++;                                                                      \
        return 1;                                                                                  \
    }

#endif
