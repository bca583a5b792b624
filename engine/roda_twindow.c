/* roda_twindow.c - the time window's rare steps, sketch keys and statistics (see roda_twindow.h).
 */
#include "roda_twindow.h"

#include <float.h>

const double roda_twindow_quantile_ranks[RODA_TWINDOW_QUANTILES] = {0.50, 0.90, 0.95, 0.99};

/* Values below this magnitude share key 0; larger ones have keys above KEY_OFFSET's reach
 * (ceil(log_g(1e-9)) = -1036), so positive keys are > 0 and negative ones < 0. */
#define TINY 1e-9
#define KEY_OFFSET 1040

static double log_gamma(void)
{
    return log((1.0 + RODA_TWINDOW_ALPHA) / (1.0 - RODA_TWINDOW_ALPHA));
}

int32_t roda_twindow_key(double value)
{
    double magnitude = fabs(value);
    if (isnan(value))
        return INT32_MIN;
    if (magnitude < TINY)
        return 0;
    /* DBL_MAX gives 35490 + KEY_OFFSET; infinity is clamped to it. */
    double k = ceil(log(magnitude <= DBL_MAX ? magnitude : DBL_MAX) / log_gamma());
    int32_t key = (int32_t)k + KEY_OFFSET;
    return value > 0 ? key : -key;
}

double roda_twindow_key_value(int32_t key)
{
    if (key == 0)
        return 0.0;
    double gamma = (1.0 + RODA_TWINDOW_ALPHA) / (1.0 - RODA_TWINDOW_ALPHA);
    int32_t k = (key > 0 ? key : -key) - KEY_OFFSET;
    double v = 2.0 * exp((double)k * log_gamma()) / (gamma + 1.0);
    return key > 0 ? v : -v;
}

/* Moves the window's and every bucket's counters by `shift` places: down (shift > 0, the base
 * rises; the lowest `shift` + 1 counters fold into counter 0) or up (shift < 0, the base falls;
 * the top -shift counters are empty). A bucket counter that would pass UINT16_MAX keeps the
 * maximum, and the window's counter loses the excess (so it stays their sum). */
static void move_counters(const roda_twindow_spec_t *spec, roda_twindow_head_t *head, void *body,
                          int32_t shift)
{
    uint32_t *total = roda_twindow_total_(spec, body);
    int32_t n = RODA_TWINDOW_KEYS;
    for (uint32_t s = 0; s < spec->buckets; s++) {
        uint16_t *c = roda_twindow_counts_(spec, body, s);
        if (shift > 0) {
            uint32_t folded = 0;
            for (int32_t i = 0; i <= shift && i < n; i++)
                folded += c[i];
            for (int32_t i = 1; i < n; i++)
                c[i] = i + shift < n ? c[i + shift] : 0;
            c[0] = folded > UINT16_MAX ? UINT16_MAX : (uint16_t)folded;
            if (folded > UINT16_MAX) {
                head->sketched -= folded - UINT16_MAX;
                head->unsketched += folded - UINT16_MAX;
            }
        } else {
            memmove(c - shift, c, (size_t)(n + shift) * sizeof *c);
            memset(c, 0, (size_t)(-shift) * sizeof *c);
        }
    }
    /* The window's counters: the sum of the buckets' (rebuilt, so it matches any clamping). */
    memset(total, 0, RODA_TWINDOW_KEYS * sizeof *total);
    for (uint32_t s = 0; s < spec->buckets; s++) {
        const uint16_t *c = roda_twindow_counts_(spec, body, s);
        for (int32_t i = 0; i < n; i++)
            total[i] += c[i];
    }
    head->base += shift;
}

/* Empties bucket `slot`, taking its counts out of the window's. */
static void expire(const roda_twindow_spec_t *spec, roda_twindow_head_t *head, void *body,
                   uint32_t slot)
{
    roda_twindow_bucket_t *b = &roda_twindow_buckets_(body)[slot];
    if (spec->sketch) {
        uint32_t *total = roda_twindow_total_(spec, body);
        uint16_t *c = roda_twindow_counts_(spec, body, slot);
        for (int32_t i = 0; i < RODA_TWINDOW_KEYS; i++) {
            total[i] -= c[i];
            head->sketched -= c[i];
        }
        memset(c, 0, RODA_TWINDOW_KEYS * sizeof *c);
    }
    memset(b, 0, sizeof *b);
}

/* Chan et al.: merges a group (count, mean, m2) into the running one. */
static void merge(double *count, double *mean, double *m2, double c, double m, double s)
{
    double total = *count + c;
    double delta = m - *mean;
    *mean += delta * c / total;
    *m2 += s + delta * delta * *count * c / total;
    *count = total;
}

/* Merges a bucket's count, mean and m2 into the running ones. */
static void merge_bucket(double *count, double *mean, double *m2, const roda_twindow_bucket_t *b)
{
    double c = (double)b->count, m = b->sum / c;
    merge(count, mean, m2, c, b->shift + m, b->squares - b->sum * m);
}

/* Merges ends of a group into ends of `count` readings. */
static void merge_ends(roda_twindow_ends_t *e, double count, const roda_twindow_ends_t *group)
{
    if (count == 0) {
        *e = *group;
        return;
    }
    e->min = group->min < e->min ? group->min : e->min;
    e->max = group->max > e->max ? group->max : e->max;
    if (group->first_ns < e->first_ns) {
        e->first = group->first;
        e->first_ns = group->first_ns;
    }
    if (group->last_ns >= e->last_ns) {
        e->last = group->last;
        e->last_ns = group->last_ns;
    }
}

/* The ring's buckets summed up (count, mean, m2 and ends), leaving out those marked in `skip`
 * (NULL: none). */
static void gather(const roda_twindow_spec_t *spec, const void *body, const bool *skip,
                   double *count, double *mean, double *m2, roda_twindow_ends_t *ends)
{
    const roda_twindow_bucket_t *buckets = roda_twindow_buckets_(body);
    *count = *mean = *m2 = 0.0;
    for (uint32_t s = 0; s < spec->buckets; s++) {
        const roda_twindow_bucket_t *b = &buckets[s];
        if (b->number == 0 || (skip != NULL && skip[s]))
            continue;
        merge_ends(ends, *count, &b->ends);
        merge_bucket(count, mean, m2, b);
    }
}

/* Moves the sketch's span down when the top quarter of the window's counters is empty. */
static void recentre(const roda_twindow_spec_t *spec, roda_twindow_head_t *head, void *body)
{
    const uint32_t *total = roda_twindow_total_(spec, body);
    int32_t n = RODA_TWINDOW_KEYS, room = 0;
    if (head->sketched == 0)
        return;
    while (room < n && total[n - 1 - room] == 0)
        room++;
    if (room > n / 4)
        move_counters(spec, head, body, -(room - n / 8));
}

/* Merges bucket `b` into the rest. */
static void merge_rest(roda_twindow_rest_t *rest, const roda_twindow_bucket_t *b)
{
    double count = (double)rest->count, mean = rest->mean, m2 = rest->m2;
    merge_ends(&rest->ends, count, &b->ends);
    merge_bucket(&count, &mean, &m2, b);
    rest->count = (uint64_t)count;
    rest->mean = mean;
    rest->m2 = m2;
}

/* Takes bucket `b` out of the rest's count, mean and m2 (Chan's merge backwards). */
static void unmerge(roda_twindow_rest_t *rest, const roda_twindow_bucket_t *b)
{
    double n = (double)rest->count, c = (double)b->count, left = n - c;
    if (left <= 0) {
        rest->count = 0;
        rest->mean = rest->m2 = 0.0;
        return;
    }
    double m = b->shift + b->sum / c, s = b->squares - b->sum * (b->sum / c);
    double mean = (n * rest->mean - c * m) / left;
    double delta = m - mean;
    rest->m2 -= s + delta * delta * c * left / n;
    rest->m2 = rest->m2 > 0 ? rest->m2 : 0.0;
    rest->mean = mean;
    rest->count = (uint64_t)left;
}

/* The ring slot after `slot`. */
static uint32_t next_slot(const roda_twindow_spec_t *spec, uint32_t slot)
{
    return slot + 1 < spec->buckets ? slot + 1 : 0;
}

/* The extreme of a bucket a queue keeps: its smallest value (queue 0) or its largest (1). */
static double extreme(const roda_twindow_bucket_t *b, int queue)
{
    return queue == 0 ? b->ends.min : b->ends.max;
}

/* Whether extreme `a` is at least as far out as `b` (queue 0: as small; 1: as large). */
static bool beyond(int queue, double a, double b)
{
    return queue == 0 ? a <= b : a >= b;
}

/* Appends ring slot `slot` (the newest bucket of the ring) to both extreme queues, first taking
 * off their back the buckets whose extreme it matches or passes (they can no longer be the
 * rest's). */
static void queues_push(const roda_twindow_spec_t *spec, void *body, uint32_t slot)
{
    const roda_twindow_bucket_t *buckets = roda_twindow_buckets_(body);
    uint8_t *q = roda_twindow_queues_(spec, body);
    uint32_t b = spec->buckets;
    for (int queue = 0; queue < 2; queue++) {
        uint8_t *first = &q[2 * queue], *length = &q[2 * queue + 1], *places = q + 4 + queue * b;
        double value = extreme(&buckets[slot], queue);
        uint32_t back = *first + *length; /* one past the back, not yet wrapped */
        while (*length > 0) {
            uint32_t at = back - 1 < b ? back - 1 : back - 1 - b;
            if (!beyond(queue, value, extreme(&buckets[places[at]], queue)))
                break;
            (*length)--;
            back--;
        }
        places[back < b ? back : back - b] = (uint8_t)slot;
        (*length)++;
    }
}

/* Takes off the front of both extreme queues the buckets that leave the window of bucket
 * `number` when the newest is `old`, in slot `top` (before their slots are reused). A queue
 * holds buckets old - b + 1 .. old - 1 only, so a slot's bucket number follows from the slot (no
 * bucket read). */
static void queues_leave(const roda_twindow_spec_t *spec, void *body, uint64_t old, uint32_t top,
                         uint64_t number)
{
    uint8_t *q = roda_twindow_queues_(spec, body);
    uint32_t b = spec->buckets;
    for (int queue = 0; queue < 2; queue++) {
        uint8_t *first = &q[2 * queue], *length = &q[2 * queue + 1], *places = q + 4 + queue * b;
        while (*length > 0 &&
               old - (places[*first] <= top ? top - places[*first] : top + b - places[*first]) +
                       b <=
                   number) {
            *first = (uint8_t)next_slot(spec, *first);
            (*length)--;
        }
    }
}

/* Refills both extreme queues from the ring (after a late reading changed a bucket in it). */
static void queues_refill(const roda_twindow_spec_t *spec, const roda_twindow_head_t *head,
                          void *body)
{
    const roda_twindow_bucket_t *buckets = roda_twindow_buckets_(body);
    uint64_t newest = head->newest.number, b = spec->buckets;
    memset(roda_twindow_queues_(spec, body), 0, 4);
    for (uint64_t k = newest > b ? newest - b + 1 : 1; k < newest; k++) {
        if (buckets[k % b].number == k)
            queues_push(spec, body, (uint32_t)(k % b));
    }
}

/* The rest's smallest and largest values: the buckets at the front of the extreme queues. */
static void queues_ends(const roda_twindow_spec_t *spec, const void *body,
                        roda_twindow_ends_t *ends)
{
    const roda_twindow_bucket_t *buckets = roda_twindow_buckets_(body);
    const uint8_t *q = roda_twindow_queues_(spec, body);
    ends->min = buckets[q[4 + q[0]]].ends.min;
    ends->max = buckets[q[4 + spec->buckets + q[2]]].ends.max;
}

/* The window moves on to bucket `number`: the newest bucket goes to its ring slot, the rest and
 * the extreme queues, the buckets that ended before `number`'s window are emptied and taken out
 * of them (only their slots are read), and the rest's smallest and largest values are the
 * queues' fronts. The rest's count, mean and m2 are summed up again from the whole ring instead
 * once every `buckets` hops (so that rounding does not pile up). */
static void advance(const roda_twindow_spec_t *spec, roda_twindow_head_t *head, void *body,
                    uint64_t number)
{
    roda_twindow_bucket_t *buckets = roda_twindow_buckets_(body);
    roda_twindow_rest_t *rest = &head->rest;
    uint64_t old = head->newest.number, b = spec->buckets;
    uint32_t top = (uint32_t)(old % b); /* the ring slots follow from it: no other division */
    /* Once every `buckets` hops: when `number` is in another block of `buckets` than `old`. */
    bool rebuild = number - old >= b - top;
    queues_leave(spec, body, old, top, number);
    if (old != 0) {
        buckets[top] = head->newest;
        if (old + b > number) /* it stays in the window */
            queues_push(spec, body, top);
        if (!rebuild)
            merge_rest(rest, &head->newest);
    }
    /* The ring holds buckets old - b + 1 .. old (bucket k in slot k % b, if any), oldest first. */
    uint64_t k = old >= b ? old - b + 1 : 1;
    uint32_t slot = old >= b ? next_slot(spec, top) : next_slot(spec, 0);
    bool left = false;
    for (; k <= old && k + b <= number; k++, slot = next_slot(spec, slot)) {
        const roda_twindow_bucket_t *gone = &buckets[slot];
        if (gone->number != k)
            continue;
        left = true;
        if (!rebuild)
            unmerge(rest, gone);
        expire(spec, head, body, slot);
    }
    if (rebuild) {
        double count, mean, m2;
        gather(spec, body, NULL, &count, &mean, &m2, &rest->ends);
        rest->count = (uint64_t)count;
        rest->mean = mean;
        rest->m2 = m2;
    } else if (left && rest->count > 0) {
        /* The earliest reading is the oldest bucket's left. */
        for (; k <= old && buckets[slot].number != k; k++)
            slot = next_slot(spec, slot);
        if (k <= old) {
            rest->ends.first = buckets[slot].ends.first;
            rest->ends.first_ns = buckets[slot].ends.first_ns;
        }
    }
    if (rest->count > 0)
        queues_ends(spec, body, &rest->ends);
    if (spec->sketch)
        recentre(spec, head, body);
    head->newest = (roda_twindow_bucket_t){.number = number};
}

bool roda_twindow_add_other_(const roda_twindow_spec_t *spec, roda_twindow_head_t *head, void *body,
                             uint64_t time_ns, double value)
{
    uint64_t newest = head->newest.number, hop = spec->hop_ns;
    /* The bucket right after the newest (a key read once per hop) needs no division. */
    uint64_t number = newest != 0 && time_ns - newest * hop < hop ? newest + 1 : time_ns / hop + 1;
    roda_twindow_bucket_t *b = &head->newest;
    if (number > head->newest.number) {
        advance(spec, head, body, number);
    } else if (number + spec->buckets <= head->newest.number) {
        head->late++;
        return false;
    } else if (number != head->newest.number) {
        /* Late within the window: its own ring bucket, and the rest (Welford). */
        b = &roda_twindow_buckets_(body)[number % spec->buckets];
        if (b->number != number)
            *b = (roda_twindow_bucket_t){.number = number};
        roda_twindow_rest_t *rest = &head->rest;
        roda_twindow_ends_add(&rest->ends, rest->count, time_ns, value);
        rest->count++;
        double delta = value - rest->mean;
        rest->mean += delta / (double)rest->count;
        rest->m2 += delta * (value - rest->mean);
    }
    roda_twindow_bucket_add(b, time_ns, value);
    if (b != &head->newest)
        queues_refill(spec, head, body); /* a ring bucket's extremes changed */
    if (spec->sketch)
        roda_twindow_sketch_add_(spec, head, body, (uint32_t)(number % spec->buckets), value);
    return true;
}

/* Makes room in the sketch for `key`; returns its counter index. */
static uint32_t place(const roda_twindow_spec_t *spec, roda_twindow_head_t *head, void *body,
                      int32_t key)
{
    int32_t n = RODA_TWINDOW_KEYS;
    if (head->sketched == 0) {
        /* Empty: centre the span on the key (counters are all 0, nothing to move). */
        head->base = key - n / 2;
        return (uint32_t)(n / 2);
    }
    if (key >= head->base + n)
        move_counters(spec, head, body, key - (head->base + n - 1));
    return key < head->base ? 0u : (uint32_t)(key - head->base);
}

void roda_twindow_sketch_add_(const roda_twindow_spec_t *spec, roda_twindow_head_t *head,
                              void *body, uint32_t slot, double value)
{
    int32_t key = roda_twindow_key(value);
    if (key == INT32_MIN)
        return;
    uint32_t index =
        key >= head->base && key < head->base + RODA_TWINDOW_KEYS && head->sketched != 0
            ? (uint32_t)(key - head->base)
            : place(spec, head, body, key);
    uint16_t *counts = roda_twindow_counts_(spec, body, slot);
    if (counts[index] == UINT16_MAX) {
        head->unsketched++;
        return;
    }
    counts[index]++;
    roda_twindow_total_(spec, body)[index]++;
    head->sketched++;
}

/* The quantiles from the window's counters, less those of the buckets marked in `skip` (NULL:
 * none; then the counters are read in place). Scans down from the top: p99 first. */
static void quantiles(const roda_twindow_spec_t *spec, const roda_twindow_head_t *head,
                      const void *body, const bool *skip, uint32_t mask, roda_twindow_stats_t *out)
{
    const uint32_t *counts = roda_twindow_total_(spec, body);
    uint32_t left[RODA_TWINDOW_KEYS];
    uint64_t all = head->sketched;
    if (skip != NULL) {
        memcpy(left, counts, sizeof left);
        for (uint32_t b = 0; b < spec->buckets; b++) {
            const uint16_t *c = roda_twindow_counts_(spec, body, b);
            for (int32_t i = 0; i < RODA_TWINDOW_KEYS && skip[b]; i++) {
                left[i] -= c[i];
                all -= c[i];
            }
        }
        counts = left;
    }
    if (all == 0)
        return;
    /* Quantile q is at the lowest counter i with more than its rank below and at i, that is with
     * fewer than `need` = all - rank above i. */
    uint64_t above = 0;
    int q = RODA_TWINDOW_QUANTILES - 1;
    int lowest = __builtin_ctz(mask / RODA_TWINDOW_P50); /* the scan stops there */
    for (int32_t i = RODA_TWINDOW_KEYS - 1; i >= 0 && q >= lowest; i--) {
        above += counts[i];
        for (; q >= lowest && (double)above >= (double)all - floor(roda_twindow_quantile_ranks[q] *
                                                                   (double)(all - 1));
             q--) {
            if (mask & (RODA_TWINDOW_P50 << q))
                out->quantiles[q] = roda_twindow_key_value(head->base + i);
        }
    }
}

void roda_twindow_stats_of(const roda_twindow_spec_t *spec, const roda_twindow_head_t *head,
                           const void *body, uint64_t now_ns, uint32_t mask,
                           roda_twindow_stats_t *out)
{
    const roda_twindow_bucket_t *newest = &head->newest;
    double count = (double)head->rest.count, mean = head->rest.mean, m2 = head->rest.m2;
    /* The ends are read only when asked for: a mean needs the head's first 112 bytes only. */
    bool ends_wanted = (mask & (RODA_TWINDOW_MIN | RODA_TWINDOW_MAX | RODA_TWINDOW_SLOPE)) != 0;
    roda_twindow_ends_t ends = {0};
    if (ends_wanted)
        ends = head->rest.ends;
    bool skip[RODA_TWINDOW_MAX_BUCKETS];
    uint64_t start_ns = newest->number != 0 ? (newest->number - 1) * spec->hop_ns : 0;
    bool past = newest->number != 0 && now_ns >= start_ns && now_ns - start_ns >= spec->hop_ns;
    bool with_newest = newest->number != 0;
    /* Past the newest bucket (a silent key): without the buckets that have left the window. */
    if (past) {
        uint64_t now = now_ns / spec->hop_ns + 1;
        uint64_t newest_slot = newest->number % spec->buckets; /* its sketch counters' */
        const roda_twindow_bucket_t *buckets = roda_twindow_buckets_(body);
        with_newest = newest->number + spec->buckets > now;
        for (uint32_t s = 0; s < spec->buckets; s++)
            skip[s] = s == newest_slot
                          ? !with_newest
                          : buckets[s].number != 0 && buckets[s].number + spec->buckets <= now;
        gather(spec, body, skip, &count, &mean, &m2, &ends);
    }
    if (with_newest) {
        if (ends_wanted)
            merge_ends(&ends, count, &newest->ends);
        merge_bucket(&count, &mean, &m2, newest);
    }
    bool some = count > 0;
    *out = (roda_twindow_stats_t){.count = (uint64_t)count,
                                  .mean = NAN,
                                  .min = NAN,
                                  .max = NAN,
                                  .stddev = NAN,
                                  .slope = NAN,
                                  .quantiles = {NAN, NAN, NAN, NAN}};
    if (!some)
        return;
    if (mask & RODA_TWINDOW_MEAN)
        out->mean = mean;
    if (mask & RODA_TWINDOW_MIN)
        out->min = ends.min;
    if (mask & RODA_TWINDOW_MAX)
        out->max = ends.max;
    if (mask & RODA_TWINDOW_STDDEV)
        out->stddev = sqrt(m2 > 0 ? m2 / count : 0.0);
    if ((mask & RODA_TWINDOW_SLOPE) && ends.last_ns > ends.first_ns)
        out->slope = (ends.last - ends.first) / ((double)(ends.last_ns - ends.first_ns) / 1e9);
    if (spec->sketch && (mask & RODA_TWINDOW_ANY_QUANTILE))
        quantiles(spec, head, body, past ? skip : NULL, mask & RODA_TWINDOW_ANY_QUANTILE, out);
}
