/* sensor_test.c - the reference's sensor example, exactly its work, fully drained.
 *
 *   stage 1: stateful summary keyed by (sensor_id, timestamp floored to 100,000), emitted after
 *            every reading (reference_workload.h has the summary's rules)
 *   stage 2: delta keyed by sensor_id: an alert when the average is above 1.5 x the previous one
 *
 * Input: N/4 repetitions of (1, 10.0, 10000), (1, 12.0, 20000), (1, 20.0, 110000),
 * (1, 22.0, 120000). The reference raises 25,000,001 alerts for 100M readings; the run checks
 * the count for any N.
 *
 *   sensor_test [--events N] [--capacity RECORDS] [--batch RECORDS] [--pin 0|1] [--fused 0|1]
 *               [--pipelined 0|1] [--spins N] [--yields N] */
#include "reference_workload.h"

RODA_STATEFUL(summary, reference_reading_t, reference_summary_t, reference_bucket_key,
              reference_summary_start, reference_summary_fold)
RODA_DELTA(jump, reference_summary_t, reference_alert_t, reference_summary_sensor, reference_jumped)
RODA_STAGE_BATCH(summary_batch, summary, summary_t, reference_reading_t, reference_summary_t)
RODA_STAGE_BATCH(jump_batch, jump, jump_t, reference_summary_t, reference_alert_t)
RODA_PIPE(fused, reference_reading_t, summary, reference_summary_t, jump, reference_alert_t)

static void generate(uint64_t first, uint64_t count, reference_reading_t *out)
{
    static const reference_reading_t pattern[4] = {
        {1, 10.0, 10000}, {1, 12.0, 20000}, {1, 20.0, 110000}, {1, 22.0, 120000}};
    for (uint64_t i = 0; i < count; i++)
        out[i] = pattern[(first + i) & 3];
}

/* Alerts at readings 1 and 3 (each key's second reading), then at every 4k + 2: the jump from
 * the first bucket's average to the second's (checked against a plain model of the reference's
 * semantics for N up to 10,000). */
static uint64_t expected_alerts(uint64_t events)
{
    return (events > 1) + (events > 3) + (events > 3 ? (events - 3) / 4 : 0);
}

REFERENCE_FUSED_RUN(run_fused, fused)

int main(int argc, char **argv)
{
    reference_options_t options;
    if (!reference_parse("sensor_test", argc, argv, &options))
        return 2;
    summary_t summary_state;
    jump_t jump_state;
    roda_pipe_config_t pipe_config = {.key_capacity = reference_key_capacity(&options)};
    roda_result_t result = summary_init(&summary_state, &pipe_config);
    if (result == RODA_SUCCESS)
        result = jump_init(&jump_state, &pipe_config);
    if (result != RODA_SUCCESS)
        reference_fail("sensor_test", "pipe init", result);
    reference_example_t example = {.name = "sensor_test",
                                   .generate = generate,
                                   .stage_batch = {summary_batch, jump_batch},
                                   .stage_context = {&summary_state, &jump_state},
                                   .fused = run_fused,
                                   .expected_alerts = expected_alerts};
    int status = reference_run(&example, &options);
    summary_destroy(&summary_state);
    jump_destroy(&jump_state);
    return status;
}
