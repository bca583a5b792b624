/* roda_summary.c - the EWMA weight shared by every summary, and the summary as JSON and as
 * Prometheus samples (see roda_summary.h). */
#include "roda_summary.h"

#include <inttypes.h>
#include <stdio.h>

#include "roda_json.h"
#include "roda_metrics.h"

double roda_summary_alpha = RODA_SUMMARY_DEFAULT_ALPHA;

void roda_summary_json(const roda_summary_t *s, const char *device_name, const char *sensor_name,
                       const char *input_name, roda_json_t *json)
{
    roda_json_key(json, "sensor");
    roda_json_u64(json, s->sensor_id);
    roda_json_key(json, "device");
    if (device_name != NULL)
        roda_json_string(json, device_name);
    else
        roda_json_null(json);
    roda_json_key(json, "name");
    if (sensor_name != NULL)
        roda_json_string(json, sensor_name);
    else
        roda_json_null(json);
    roda_json_key(json, "device_index");
    roda_json_u64(json, s->device);
    roda_json_key(json, "count");
    roda_json_u64(json, s->count);
    roda_json_key(json, "last");
    roda_json_double(json, s->last);
    roda_json_key(json, "mean");
    roda_json_double(json, s->mean);
    roda_json_key(json, "ewma");
    roda_json_double(json, s->ewma);
    roda_json_key(json, "min");
    roda_json_double(json, s->min);
    roda_json_key(json, "max");
    roda_json_double(json, s->max);
    roda_json_key(json, "device_time_us");
    roda_json_i64(json, s->device_time_us);
    roda_json_key(json, "ingest_time_ns");
    roda_json_u64(json, s->ingest_time_ns);
    roda_json_key(json, "quality");
    roda_json_u64(json, s->quality);
    roda_json_key(json, "input");
    roda_json_string(json, input_name != NULL ? input_name : "unknown");
}

void roda_summary_metrics_family(roda_metrics_t *metrics, uint32_t max_series)
{
    roda_metrics_family_capped(metrics, "roda_sensor_value", RODA_METRIC_GAUGE,
                               "Latest per-sensor summary values (stat: last, mean, ewma).",
                               max_series * 3u);
}

void roda_summary_metrics_sample(roda_metrics_t *metrics, const char *device_name,
                                 uint64_t sensor_id, const char *sensor_name,
                                 const roda_metrics_label_t *more, uint32_t more_count,
                                 double value)
{
    char sensor[24];
    snprintf(sensor, sizeof sensor, "%" PRIu64, sensor_id);
    roda_metrics_label_t labels[2 + RODA_SUMMARY_MORE_LABELS + 1] = {
        {"device", device_name != NULL ? device_name : ""}, {"sensor", sensor}};
    uint32_t n = 2;
    for (uint32_t i = 0; i < more_count && i < RODA_SUMMARY_MORE_LABELS; i++)
        labels[n++] = more[i];
    if (sensor_name != NULL)
        labels[n++] = (roda_metrics_label_t){"name", sensor_name};
    roda_metrics_double(metrics, labels, n, value);
}

void roda_summary_metrics(const roda_summary_t *s, const char *device_name, const char *sensor_name,
                          roda_metrics_t *metrics)
{
    static const char *const stats[] = {"last", "mean", "ewma"};
    const double values[] = {s->last, s->mean, s->ewma};
    for (int i = 0; i < 3; i++) {
        roda_metrics_label_t stat = {"stat", stats[i]};
        roda_summary_metrics_sample(metrics, device_name, s->sensor_id, sensor_name, &stat, 1,
                                    values[i]);
    }
}
