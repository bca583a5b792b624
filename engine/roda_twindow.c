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

void roda_twindow_advance_(const roda_twindow_spec_t *spec, void *state, uint64_t number)
{
    roda_twindow_head_t *head = roda_twindow_head_(state);
    roda_twindow_bucket_t *buckets = roda_twindow_buckets_(state);
    for (uint32_t s = 0; s < spec->buckets; s++) {
        if (buckets[s].number != 0 && buckets[s].number + spec->buckets <= number)
            expire(spec, state, s);
    }
    head->newest = number;
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
    else if (key < head->base) {
        const uint32_t *total = roda_twindow_total_(spec, state);
        int32_t room = 0;
        while (room < n && total[n - 1 - room] == 0)
            room++;
        int32_t want = head->base - key;
        if (room > 0)
            move_counters(spec, state, -(want < room ? want : room));
    }
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

/* Chan et al.: merges a group (count, mean, m2) into the running one. */
static void merge(double *count, double *mean, double *m2, double c, double m, double s)
{
    double total = *count + c;
    double delta = m - *mean;
    *mean += delta * c / total;
    *m2 += s + delta * delta * *count * c / total;
    *count = total;
}

/* The quantiles from the window's counters less those of expired buckets (`skip` marks them). */
static void quantiles(const roda_twindow_spec_t *spec, const void *state, const bool *skip,
                      roda_twindow_stats_t *out)
{
    const roda_twindow_head_t *head = roda_twindow_head_(state);
    const uint32_t *total = roda_twindow_total_(spec, state);
    uint32_t counts[RODA_TWINDOW_KEYS];
    uint64_t all = 0;
    for (int32_t i = 0; i < RODA_TWINDOW_KEYS; i++)
        counts[i] = total[i];
    for (uint32_t b = 0; b < spec->buckets; b++) {
        if (!skip[b])
            continue;
        const uint16_t *c = roda_twindow_counts_(spec, state, b);
        for (int32_t i = 0; i < RODA_TWINDOW_KEYS; i++)
            counts[i] -= c[i];
    }
    for (int32_t i = 0; i < RODA_TWINDOW_KEYS; i++)
        all += counts[i];
    int q = 0;
    uint64_t seen = 0;
    for (int32_t i = 0; i < RODA_TWINDOW_KEYS && q < RODA_TWINDOW_QUANTILES && all != 0; i++) {
        seen += counts[i];
        while (q < RODA_TWINDOW_QUANTILES &&
               (double)seen > floor(roda_twindow_quantile_ranks[q] * (double)(all - 1)))
            out->quantiles[q++] = roda_twindow_key_value(head->base + i);
    }
}

void roda_twindow_stats(const roda_twindow_spec_t *spec, const void *state, uint64_t now_ns,
                        roda_twindow_stats_t *out)
{
    const roda_twindow_head_t *head = roda_twindow_head_(state);
    const roda_twindow_bucket_t *buckets = roda_twindow_buckets_(state);
    uint64_t now = now_ns / spec->hop_ns + 1;
    if (head->newest > now)
        now = head->newest;
    double count = 0.0, mean = 0.0, m2 = 0.0, min = NAN, max = NAN, first = NAN, last = NAN;
    uint64_t first_ns = UINT64_MAX, last_ns = 0;
    bool skip[RODA_TWINDOW_MAX_BUCKETS] = {false};
    for (uint32_t s = 0; s < spec->buckets; s++) {
        const roda_twindow_bucket_t *b = &buckets[s];
        if (b->number == 0)
            continue;
        if (b->number + spec->buckets <= now) {
            skip[s] = true;
            continue;
        }
        double c = (double)b->count, m = b->sum / c;
        merge(&count, &mean, &m2, c, b->shift + m, b->squares - b->sum * m);
        min = !(b->min >= min) ? b->min : min;
        max = !(b->max <= max) ? b->max : max;
        if (b->first_ns < first_ns) {
            first_ns = b->first_ns;
            first = b->first;
        }
        if (b->last_ns >= last_ns) {
            last_ns = b->last_ns;
            last = b->last;
        }
    }
    *out =
        (roda_twindow_stats_t){.count = (uint64_t)count,
                               .mean = count > 0 ? mean : NAN,
                               .min = min,
                               .max = max,
                               .stddev = count > 0 ? sqrt(m2 > 0 ? m2 / count : 0.0) : NAN,
                               .slope = last_ns > first_ns && count > 0
                                            ? (last - first) / ((double)(last_ns - first_ns) / 1e9)
                                            : NAN,
                               .quantiles = {NAN, NAN, NAN, NAN}};
    if (spec->sketch && count > 0)
        quantiles(spec, state, skip, out);
}
