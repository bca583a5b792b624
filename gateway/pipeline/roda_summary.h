/* roda_summary.h - the per-sensor summary: the stateful stage's state and its output record.
 *
 * The stateful stage keys readings (roda_reading.h) by sensor id and keeps one roda_summary_t per
 * sensor: roda_summary_init() on a sensor's first reading, roda_summary_update() on each later
 * one, then emits a copy of the summary (the summary journal's record) to the rules stage. Both
 * are static inline so the pipe component inlines them into its loop.
 *
 * Statistics: count, last value, running mean (incremental, mean += (v - mean) / n, so it never
 * overflows a sum), EWMA with a configurable alpha (ewma += alpha * (v - ewma), first value as
 * seed), min, max, and the device and ingest times of the last reading. Finite readings always
 * give a finite mean and EWMA: where v - mean overflows (opposite signs near DBL_MAX), the step
 * is taken as the weighted sum (1 - w) * mean + w * v, whose terms have opposite signs.
 *
 * Size: 80 bytes, a multiple of 8 as the journal requires. The sensor id comes first: the sensor
 * directory checks it in a slot read from another thread (roda_sensor_index_read).
 *
 * Eviction: when the state stage forgets a sensor idle for limits.sensor_idle_timeout, it appends
 * the sensor's last summary with `flags` RODA_SUMMARY_EVICTED to the summary journal, so the rules
 * stage forgets it too, after every summary of it and before any of a new sensor with that id.
 *
 * Threads: roda_summary_set_alpha() before the stage thread starts (thread creation orders it);
 * init/update belong to the one stateful stage thread. */
#ifndef RODA_SUMMARY_H
#define RODA_SUMMARY_H

#include <math.h>
#include <stdint.h>

#include "roda_reading.h"

typedef struct roda_summary {
    uint64_t sensor_id;
    uint64_t count; /* readings folded into this summary */
    double last;    /* value of the last reading */
    double mean;    /* running mean of all readings */
    double ewma;    /* exponentially weighted moving average (alpha: roda_summary_alpha) */
    double min;
    double max;
    int64_t device_time_us;  /* the last reading's device clock, microseconds since the epoch */
    uint64_t ingest_time_ns; /* the last reading's ingest time (roda_wall_ns clock) */
    uint32_t device;         /* device index (ingest's registry) of the last reading */
    uint16_t quality;        /* quality flag of the last reading */
    uint8_t input;           /* input index (roda_inputs()) of the last reading */
    uint8_t flags;           /* 0 (a reading's summary), or one RODA_SUMMARY_* control */
} roda_summary_t;

_Static_assert(sizeof(roda_summary_t) == 80, "roda_summary_t is an 80-byte journal record");

#define RODA_SUMMARY_DEFAULT_ALPHA 0.1
/* `flags`: not a reading's summary but a control record of the state stage for the rules stage:
 * the sensor's eviction (see above; ingest_time_ns is the clock that evicted it), the clock
 * (roda_reading.h: ingest_time_ns only), a checkpoint (a clock that also asks for the rules
 * stage's section of snapshot `sensor_id`), the end of the recovery replay, or a device gone
 * silent (`device`; a clock too). */
#define RODA_SUMMARY_EVICTED 1u
#define RODA_SUMMARY_CLOCK 2u
#define RODA_SUMMARY_CHECKPOINT 4u
#define RODA_SUMMARY_RECOVERED 8u
/* A device went silent (roda_reading.h SILENCE): `device` and the clock in ingest_time_ns. */
#define RODA_SUMMARY_SILENCE 16u

/* The EWMA weight of a new reading, in (0, 1]. Set once from the config (ewma_alpha) before the
 * stateful stage starts; a reload cannot change it live. */
extern double roda_summary_alpha;

static inline void roda_summary_set_alpha(double alpha)
{
    roda_summary_alpha = alpha;
}

static inline void roda_summary_take_last(roda_summary_t *s, const roda_reading_t *r)
{
    s->last = r->value;
    s->device_time_us = r->device_time_us;
    s->ingest_time_ns = r->ingest_time_ns;
    s->device = r->device;
    s->quality = r->quality;
    s->input = r->input;
}

/* `from` moved toward `to` by `weight` in (0, 1]: from + weight * (to - from), finite for finite
 * arguments (the result lies between them). */
static inline double roda_summary_toward(double from, double to, double weight)
{
    double difference = to - from;
    if (isfinite(difference))
        return from + weight * difference;
    return from * (1.0 - weight) + to * weight;
}

/* A sensor's first reading. */
static inline void roda_summary_init(roda_summary_t *s, const roda_reading_t *r)
{
    s->sensor_id = r->sensor_id;
    s->count = 1;
    s->mean = r->value;
    s->ewma = r->value;
    s->min = r->value;
    s->max = r->value;
    s->flags = 0;
    roda_summary_take_last(s, r);
}

/* Every later reading of the same sensor. */
static inline void roda_summary_update(roda_summary_t *s, const roda_reading_t *r)
{
    double v = r->value;
    s->count++;
    s->mean = roda_summary_toward(s->mean, v, 1.0 / (double)s->count);
    s->ewma = roda_summary_toward(s->ewma, v, roda_summary_alpha);
    if (v < s->min)
        s->min = v;
    if (v > s->max)
        s->max = v;
    roda_summary_take_last(s, r);
}

/* Whether a summary is recent enough to export (per-sensor metrics expire after `staleness_ns`
 * without a reading; 0 means never). */
static inline int roda_summary_is_fresh(const roda_summary_t *s, uint64_t now_ns,
                                        uint64_t staleness_ns)
{
    return staleness_ns == 0 || now_ns < s->ingest_time_ns ||
           now_ns - s->ingest_time_ns <= staleness_ns;
}

/* Writes the summary's fields into an open JSON object (for /sensors/{id}, which may add more);
 * `device_name`, `sensor_name` (a named sensor's name, roda_sensor_names.h; "name" is null
 * otherwise) and `input_name` (the name of the input of its last reading) may be NULL. */
struct roda_json;
void roda_summary_json(const roda_summary_t *s, const char *device_name, const char *sensor_name,
                       const char *input_name, struct roda_json *json);

/* Per-sensor gauges on /metrics: one family, roda_sensor_value{device,sensor,stat}, with stat
 * last|mean|ewma, and a `name` label for a named sensor (`sensor_name` not NULL), capped at
 * `max_series` sensors (3 samples each; the rest are counted as omitted). Open the family once,
 * then write each fresh summary (roda_summary_is_fresh). */
struct roda_metrics;
void roda_summary_metrics_family(struct roda_metrics *metrics, uint32_t max_series);
void roda_summary_metrics(const roda_summary_t *s, const char *device_name, const char *sensor_name,
                          struct roda_metrics *metrics);

/* One per-sensor sample of any family: labels device, sensor, then `more` (up to
 * RODA_SUMMARY_MORE_LABELS of them), then `name` for a named sensor (`sensor_name` not NULL). */
#define RODA_SUMMARY_MORE_LABELS 3u
struct roda_metrics_label;
void roda_summary_metrics_sample(struct roda_metrics *metrics, const char *device_name,
                                 uint64_t sensor_id, const char *sensor_name,
                                 const struct roda_metrics_label *more, uint32_t more_count,
                                 double value);

#endif
