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
static void move_counters(const roda_twindow_spec_t *spec, void *state, int32_t shift)
{
    roda_twindow_head_t *head = roda_twindow_head_(state);
    uint32_t *total = roda_twindow_total_(spec, state);
    int32_t n = RODA_TWINDOW_KEYS;
    for (uint32_t s = 0; s < spec->buckets; s++) {
        uint16_t *c = roda_twindow_counts_(spec, state, s);
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
        const uint16_t *c = roda_twindow_counts_(spec, state, s);
        for (int32_t i = 0; i < n; i++)
            total[i] += c[i];
    }
    head->base += shift;
}

/* Empties bucket `slot`, taking its counts out of the window's. */
static void expire(const roda_twindow_spec_t *spec, void *state, uint32_t slot)
{
    roda_twindow_head_t *head = roda_twindow_head_(state);
    roda_twindow_bucket_t *b = &roda_twindow_buckets_(state)[slot];
    if (spec->sketch) {
        uint32_t *total = roda_twindow_total_(spec, state);
        uint16_t *c = roda_twindow_counts_(spec, state, slot);
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

/* The whole window's count, mean, m2 and ends from its buckets, leaving out those marked in
 * `skip` (NULL: none); mean and m2 stay 0 without `moments`. */
static void gather(const roda_twindow_spec_t *spec, const void *state, const bool *skip,
                   bool moments, double *count, double *mean, double *m2, roda_twindow_ends_t *ends)
{
    const roda_twindow_bucket_t *buckets = roda_twindow_buckets_(state);
    *count = *mean = *m2 = 0.0;
    for (uint32_t s = 0; s < spec->buckets; s++) {
        const roda_twindow_bucket_t *b = &buckets[s];
        if (b->number == 0 || (skip != NULL && skip[s]))
            continue;
        double c = (double)b->count, m = b->sum / c;
        merge_ends(ends, *count, &b->ends);
        if (moments)
            merge(count, mean, m2, c, b->shift + m, b->squares - b->sum * m);
        else
            *count += c;
    }
}

/* Takes bucket `b` out of the head's count, mean and m2 (Chan's merge backwards). */
static void unmerge(roda_twindow_head_t *head, const roda_twindow_bucket_t *b)
{
    double n = (double)head->count, c = (double)b->count, rest = n - c;
    if (rest <= 0) {
        head->count = 0;
        head->mean = head->m2 = 0.0;
        return;
    }
    double m = b->shift + b->sum / c, s = b->squares - b->sum * (b->sum / c);
    double mean = (n * head->mean - c * m) / rest;
    double delta = m - mean;
    head->m2 -= s + delta * delta * c * rest / n;
    head->m2 = head->m2 > 0 ? head->m2 : 0.0;
    head->mean = mean;
    head->count = (uint64_t)rest;
}

/* Moves the sketch's span down when the top quarter of the window's counters is empty. */
static void recentre(const roda_twindow_spec_t *spec, void *state)
{
    const uint32_t *total = roda_twindow_total_(spec, state);
    int32_t n = RODA_TWINDOW_KEYS, room = 0;
    if (roda_twindow_head_(state)->sketched == 0)
        return;
    while (room < n && total[n - 1 - room] == 0)
        room++;
    if (room > n / 4)
        move_counters(spec, state, -(room - n / 8));
}

void roda_twindow_advance_(const roda_twindow_spec_t *spec, void *state, uint64_t number)
{
    roda_twindow_head_t *head = roda_twindow_head_(state);
    roda_twindow_bucket_t *buckets = roda_twindow_buckets_(state);
    bool rebuild = head->unmerged >= spec->buckets;
    for (uint32_t s = 0; s < spec->buckets; s++) {
        if (buckets[s].number == 0 || buckets[s].number + spec->buckets > number)
            continue;
        if (!rebuild)
            unmerge(head, &buckets[s]);
        head->unmerged++;
        expire(spec, state, s);
    }
    double count, mean, m2;
    gather(spec, state, NULL, rebuild, &count, &mean, &m2, &head->ends);
    if (rebuild) {
        head->mean = mean;
        head->m2 = m2;
        head->unmerged = 0;
    }
    head->count = (uint64_t)count;
    if (spec->sketch)
        recentre(spec, state);
    head->newest = number;
    head->start_ns = (number - 1) * spec->hop_ns;
}

/* Makes room in the sketch for `key`; returns its counter index. */
static uint32_t place(const roda_twindow_spec_t *spec, void *state, int32_t key)
{
    roda_twindow_head_t *head = roda_twindow_head_(state);
    int32_t n = RODA_TWINDOW_KEYS;
    if (head->sketched == 0) {
        /* Empty: centre the span on the key (counters are all 0, nothing to move). */
        head->base = key - n / 2;
        return (uint32_t)(n / 2);
    }
    if (key >= head->base + n)
        move_counters(spec, state, key - (head->base + n - 1));
    return key < head->base ? 0u : (uint32_t)(key - head->base);
}

void roda_twindow_sketch_add_(const roda_twindow_spec_t *spec, void *state, uint32_t slot,
                              double value)
{
    roda_twindow_head_t *head = roda_twindow_head_(state);
    int32_t key = roda_twindow_key(value);
    if (key == INT32_MIN)
        return;
    uint32_t index =
        key >= head->base && key < head->base + RODA_TWINDOW_KEYS && head->sketched != 0
            ? (uint32_t)(key - head->base)
            : place(spec, state, key);
    uint16_t *counts = roda_twindow_counts_(spec, state, slot);
    if (counts[index] == UINT16_MAX) {
        head->unsketched++;
        return;
    }
    counts[index]++;
    roda_twindow_total_(spec, state)[index]++;
    head->sketched++;
}

/* The quantiles from the window's counters, less those of the buckets marked in `skip` (NULL:
 * none; then the counters are read in place). Scans down from the top: p99 first. */
static void quantiles(const roda_twindow_spec_t *spec, const void *state, const bool *skip,
                      roda_twindow_stats_t *out)
{
    const roda_twindow_head_t *head = roda_twindow_head_(state);
    const uint32_t *counts = roda_twindow_total_(spec, state);
    uint32_t left[RODA_TWINDOW_KEYS];
    uint64_t all = head->sketched;
    if (skip != NULL) {
        memcpy(left, counts, sizeof left);
        for (uint32_t b = 0; b < spec->buckets; b++) {
            const uint16_t *c = roda_twindow_counts_(spec, state, b);
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
    for (int32_t i = RODA_TWINDOW_KEYS - 1; i >= 0 && q >= 0; i--) {
        above += counts[i];
        while (q >= 0 && (double)above >= (double)all - floor(roda_twindow_quantile_ranks[q] *
                                                              (double)(all - 1)))
            out->quantiles[q--] = roda_twindow_key_value(head->base + i);
    }
}

void roda_twindow_stats(const roda_twindow_spec_t *spec, const void *state, uint64_t now_ns,
                        roda_twindow_stats_t *out)
{
    const roda_twindow_head_t *head = roda_twindow_head_(state);
    double count = (double)head->count, mean = head->mean, m2 = head->m2;
    roda_twindow_ends_t ends = head->ends;
    bool skip[RODA_TWINDOW_MAX_BUCKETS];
    bool past =
        now_ns >= head->start_ns && now_ns - head->start_ns >= spec->hop_ns && head->newest != 0;
    /* Past the newest bucket (a silent key): without the buckets that have left the window. */
    if (past) {
        uint64_t now = now_ns / spec->hop_ns + 1;
        const roda_twindow_bucket_t *buckets = roda_twindow_buckets_(state);
        for (uint32_t s = 0; s < spec->buckets; s++)
            skip[s] = buckets[s].number != 0 && buckets[s].number + spec->buckets <= now;
        gather(spec, state, skip, true, &count, &mean, &m2, &ends);
    }
    bool some = count > 0;
    *out = (roda_twindow_stats_t){.count = (uint64_t)count,
                                  .mean = some ? mean : NAN,
                                  .min = some ? ends.min : NAN,
                                  .max = some ? ends.max : NAN,
                                  .stddev = some ? sqrt(m2 > 0 ? m2 / count : 0.0) : NAN,
                                  .slope = some && ends.last_ns > ends.first_ns
                                               ? (ends.last - ends.first) /
                                                     ((double)(ends.last_ns - ends.first_ns) / 1e9)
                                               : NAN,
                                  .quantiles = {NAN, NAN, NAN, NAN}};
    if (spec->sketch && some)
        quantiles(spec, state, past ? skip : NULL, out);
}
