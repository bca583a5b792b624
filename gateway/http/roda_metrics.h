/* roda_metrics.h - a Prometheus text-exposition (format 0.0.4) writer into a bounded buffer, and
 * a fixed-bucket histogram that a pipeline thread updates without locks.
 *
 * Writing one scrape:
 *
 *   roda_metrics_reset(&m);
 *   roda_metrics_family(&m, "roda_ingest_readings_total", RODA_METRIC_COUNTER, "Readings
 * accepted."); roda_metrics_label_t l[] = {{"input", "udp"}}; roda_metrics_u64(&m, l, 1, 1234);
 *   roda_metrics_family(&m, "roda_alert_latency_seconds", RODA_METRIC_HISTOGRAM, "...");
 *   roda_metrics_histogram(&m, NULL, 0, &histogram);
 *   roda_metrics_finish(&m);          -> m.buf holds m.len bytes of exposition text
 *
 * A family writes its # HELP and # TYPE lines once, then its samples; every sample line of a
 * family must be written before the next family starts (the format requires it). Label values
 * are escaped (\\, \" and \n); HELP text escapes \\ and \n.
 *
 * Bounds: the buffer is allocated once by roda_metrics_init() (see roda_metrics_buffer_size());
 * a scrape never allocates. Lines are appended whole: a line that does not fit is left out and
 * counted, never cut in half. A family opened with roda_metrics_family_capped() takes at most
 * `max_samples` samples; the rest are counted. roda_metrics_finish() reports both counts as
 * roda_metrics_omitted_samples{reason="buffer_full"|"series_limit"} (room for it is reserved),
 * so an incomplete scrape is never silent. An invalid metric name skips its family (counted as
 * reason="invalid_name").
 *
 * Threads: a roda_metrics_t belongs to one thread at a time (the HTTP server serialises scrapes).
 * A roda_histogram_t has one writer thread (roda_histogram_observe) and any number of readers. */
#ifndef RODA_METRICS_H
#define RODA_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "roda_counter.h"
#include "roda_result.h"

/* Bytes for the fixed families (everything except per-sensor series). */
#define RODA_METRICS_BASE_BYTES (256u * 1024u)
/* Bytes per exported sensor series (three samples: last, mean, ewma, long device names). */
#define RODA_METRICS_SERIES_BYTES 640u
/* Longest single line; longer ones are left out and counted as buffer_full. */
#define RODA_METRICS_LINE_MAX 1024u
#define RODA_METRICS_NAME_MAX 128u
#define RODA_HISTOGRAM_MAX_BUCKETS 32u

typedef enum roda_metric_type {
    RODA_METRIC_COUNTER = 0,
    RODA_METRIC_GAUGE = 1,
    RODA_METRIC_HISTOGRAM = 2,
} roda_metric_type_t;

typedef struct roda_metrics_label {
    const char *name;  /* a valid label name: [a-zA-Z_][a-zA-Z0-9_]* (not checked) */
    const char *value; /* any UTF-8 text; escaped */
} roda_metrics_label_t;

typedef struct roda_metrics {
    char *buf;
    size_t capacity; /* bytes usable for families; a reserve for finish() follows */
    size_t len;
    uint64_t omitted_buffer_full;
    uint64_t omitted_series_limit;
    uint64_t omitted_invalid_name;
    uint32_t family_limit;   /* samples allowed in the open family, 0 = no limit */
    uint32_t family_samples; /* samples written in the open family */
    bool family_valid;       /* false: the open family's samples are skipped */
    char family[RODA_METRICS_NAME_MAX];
} roda_metrics_t;

/* Bytes per other per-sensor sample (a window gauge: its labels are the series' and two more). */
#define RODA_METRICS_SAMPLE_BYTES 256u

/* Buffer bytes needed for the fixed families plus `max_series` per-sensor series and `samples`
 * other per-sensor samples. */
static inline size_t roda_metrics_buffer_size(uint32_t max_series, uint64_t samples)
{
    return RODA_METRICS_BASE_BYTES + (size_t)max_series * RODA_METRICS_SERIES_BYTES +
           (size_t)samples * RODA_METRICS_SAMPLE_BYTES;
}

/* Allocates the buffer (`capacity` bytes, >= RODA_METRICS_LINE_MAX). RODA_ERROR_INVALID_ARG,
 * RODA_ERROR_NOMEM. */
roda_result_t roda_metrics_init(roda_metrics_t *metrics, size_t capacity);
void roda_metrics_destroy(roda_metrics_t *metrics);

/* Starts a new exposition (clears the text and the omitted counts). */
void roda_metrics_reset(roda_metrics_t *metrics);

/* Opens a family: writes its HELP and TYPE lines. The name must match [a-zA-Z_:][a-zA-Z0-9_:]*;
 * counters should end in _total (promtool's lint). */
void roda_metrics_family(roda_metrics_t *metrics, const char *name, roda_metric_type_t type,
                         const char *help);
/* Same, with at most `max_samples` samples (e.g. per-sensor gauges, the configured series limit).
 */
void roda_metrics_family_capped(roda_metrics_t *metrics, const char *name, roda_metric_type_t type,
                                const char *help, uint32_t max_samples);

/* One sample of the open family with `label_count` labels (0 .. 8). */
void roda_metrics_double(roda_metrics_t *metrics, const roda_metrics_label_t *labels,
                         size_t label_count, double value);
void roda_metrics_u64(roda_metrics_t *metrics, const roda_metrics_label_t *labels,
                      size_t label_count, uint64_t value);

/* Appends the omitted-sample report; call once after the last family. */
void roda_metrics_finish(roda_metrics_t *metrics);

/* ---- Histogram ------------------------------------------------------------------------------ */

typedef struct roda_histogram {
    uint32_t bucket_count;                     /* finite upper bounds; +Inf is implied */
    double bounds[RODA_HISTOGRAM_MAX_BUCKETS]; /* strictly increasing */
    _Atomic uint64_t counts[RODA_HISTOGRAM_MAX_BUCKETS + 1]; /* per bucket, not cumulative */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_bits; /* the sum as the bits of a double */
} roda_histogram_t;

/* `bounds`: 1 .. RODA_HISTOGRAM_MAX_BUCKETS finite, strictly increasing upper bounds.
 * RODA_ERROR_INVALID_ARG otherwise. */
roda_result_t roda_histogram_init(roda_histogram_t *histogram, const double *bounds,
                                  uint32_t bucket_count);

/* Counts one observation. One writer thread: plain relaxed loads and stores, no locked
 * instruction; readers may see the count and the buckets a few observations apart. */
static inline void roda_histogram_observe(roda_histogram_t *h, double value)
{
    uint32_t i = 0;
    while (i < h->bucket_count && value > h->bounds[i])
        i++;
    roda_counter_add(&h->counts[i], 1);
    uint64_t bits = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
    double sum;
    memcpy(&sum, &bits, sizeof sum);
    sum += value;
    memcpy(&bits, &sum, sizeof bits);
    atomic_store_explicit(&h->sum_bits, bits, memory_order_relaxed);
    roda_counter_add(&h->count, 1);
}

/* Writes one histogram series of the open (RODA_METRIC_HISTOGRAM) family: cumulative
 * <family>_bucket{...,le="..."} lines ending with le="+Inf", then <family>_sum and _count. */
void roda_metrics_histogram(roda_metrics_t *metrics, const roda_metrics_label_t *labels,
                            size_t label_count, const roda_histogram_t *histogram);

#endif
