/* service_health.c - the reference's service-health example, exactly its work, fully drained.
 *
 *   stage 1: dedup_by (service_id, value x 1000) - per key, a reading equal to the key's last one
 *            is dropped - then the stateful summary keyed by (service_id, timestamp floored to
 *            100,000) (reference_workload.h has the summary's rules)
 *   stage 2: delta keyed by service_id (an alert when the average is above 1.5 x the previous
 *            one), then dedup_by service_id on the alerts
 *
 * Input: (2, 10.0, 0), (2, 100.0, 1), then readings (1, 10.0, i) for i = 0, 1, ...: N readings
 * in all. The reference raises 1,001 alerts for 100M; the run checks the count for any N.
 *
 *   service_health [--events N] [--capacity RECORDS] [--batch RECORDS] [--pin 0|1] [--fused 0|1]
 *                  [--pipelined 0|1] [--spins N] [--yields N]
 */
#include "reference_workload.h"

static inline uint64_t reading_value_key(const reference_reading_t *r)
{
    return reference_pack(r->sensor_id, (uint64_t)(r->value * 1000.0));
}
static inline bool same_reading(const reference_reading_t *a, const reference_reading_t *b)
{
    return a->sensor_id == b->sensor_id && a->value == b->value && a->timestamp == b->timestamp;
}
static inline uint64_t alert_service(const reference_alert_t *a)
{
    return a->sensor_id;
}
static inline bool same_alert(const reference_alert_t *a, const reference_alert_t *b)
{
    return a->sensor_id == b->sensor_id && a->timestamp == b->timestamp &&
           a->severity == b->severity;
}

RODA_DEDUP_BY(noise, reference_reading_t, reading_value_key, same_reading)
RODA_STATEFUL(summary, reference_reading_t, reference_summary_t, reference_bucket_key,
              reference_summary_start, reference_summary_fold)
RODA_DELTA(jump, reference_summary_t, reference_alert_t, reference_summary_sensor, reference_jumped)
RODA_DEDUP_BY(repeat, reference_alert_t, alert_service, same_alert)
RODA_PIPE(aggregate, reference_reading_t, noise, reference_reading_t, summary, reference_summary_t)
RODA_PIPE(detect, reference_summary_t, jump, reference_alert_t, repeat, reference_alert_t)
RODA_STAGE_BATCH(aggregate_batch, aggregate, aggregate_t, reference_reading_t, reference_summary_t)
RODA_STAGE_BATCH(detect_batch, detect, detect_t, reference_summary_t, reference_alert_t)
RODA_PIPE(fused, reference_reading_t, noise, reference_reading_t, summary, reference_summary_t,
          jump, reference_alert_t, repeat, reference_alert_t)

static void generate(uint64_t first, uint64_t count, reference_reading_t *out)
{
    for (uint64_t i = 0; i < count; i++) {
        uint64_t n = first + i;
        if (n < 2)
            out[i] = (reference_reading_t){2, n == 0 ? 10.0 : 100.0, n};
        else
            out[i] = (reference_reading_t){1, 10.0, n - 2};
    }
}

/* Service 2's jump, then one per 100,000-unit bucket of service 1 that gets a second reading
 * (the average goes from 0 to 5 there; checked against a plain model of the reference's
 * semantics). */
static uint64_t expected_alerts(uint64_t events)
{
    uint64_t service1 = events > 2 ? events - 2 : 0;
    return (events > 1) + service1 / REFERENCE_BUCKET + (service1 % REFERENCE_BUCKET >= 2);
}

REFERENCE_FUSED_RUN(run_fused, fused)

int main(int argc, char **argv)
{
    reference_options_t options;
    if (!reference_parse("service_health", argc, argv, &options))
        return 2;
    aggregate_t aggregate_state;
    detect_t detect_state;
    roda_pipe_config_t pipe_config = {.key_capacity = reference_key_capacity(&options)};
    roda_result_t result = aggregate_init(&aggregate_state, &pipe_config);
    if (result == RODA_SUCCESS)
        result = detect_init(&detect_state, &pipe_config);
    if (result != RODA_SUCCESS)
        reference_fail("service_health", "pipe init", result);
    reference_example_t example = {.name = "service_health",
                                   .generate = generate,
                                   .stage_batch = {aggregate_batch, detect_batch},
                                   .stage_context = {&aggregate_state, &detect_state},
                                   .fused = run_fused,
                                   .expected_alerts = expected_alerts};
    int status = reference_run(&example, &options);
    aggregate_destroy(&aggregate_state);
    detect_destroy(&detect_state);
    return status;
}
