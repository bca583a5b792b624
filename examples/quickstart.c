/* quickstart.c - the seed's two-stage pipeline in C, as shown in the README: a running average
 * per sensor (stateful), then an alert when the average jumps above 1.5x (delta). */
#include <stdio.h>
#include "roda_engine.h"
#include "roda_pipe.h"

typedef struct {
    uint64_t sensor;
    double value;
    uint64_t timestamp;
} reading_t;
typedef struct {
    uint64_t sensor;
    double avg;
    uint64_t count;
} summary_t;
typedef struct {
    uint64_t sensor;
    uint64_t severity;
} alert_t;

static inline uint64_t by_sensor(const reading_t *r)
{
    return r->sensor;
}
static inline uint64_t by_summary(const summary_t *s)
{
    return s->sensor;
}
static inline void start(summary_t *s, const reading_t *r)
{
    *s = (summary_t){r->sensor, r->value, 1};
}
static inline void update(summary_t *s, const reading_t *r)
{
    s->avg = (s->avg * (double)s->count + r->value) / (double)(s->count + 1);
    s->count++;
}
static inline bool jumped(const summary_t *now, const summary_t *prev, alert_t *alert)
{
    if (prev == NULL || now->avg <= prev->avg * 1.5)
        return false;
    *alert = (alert_t){.sensor = now->sensor, .severity = 1};
    return true;
}

RODA_STATEFUL(average, reading_t, summary_t, by_sensor, start, update)
RODA_DELTA(jump, summary_t, alert_t, by_summary, jumped)
RODA_STAGE_BATCH(average_batch, average, average_t, reading_t, summary_t)
RODA_STAGE_BATCH(jump_batch, jump, jump_t, summary_t, alert_t)

int main(void)
{
    roda_pipe_config_t keys = {.key_capacity = 10000};
    average_t averages;
    jump_t jumps;
    if (average_init(&averages, &keys) != RODA_SUCCESS || jump_init(&jumps, &keys) != RODA_SUCCESS)
        return 1;

    roda_engine_config_t config = {.input_record_size = sizeof(reading_t),
                                   .input_capacity = 1 << 16,
                                   .input_policy = RODA_JOURNAL_BLOCK,
                                   .receive = true};
    roda_engine_t *engine;
    if (roda_engine_create(&config, &engine) != RODA_SUCCESS)
        return 1;
    roda_engine_add_stage(engine, &(roda_stage_config_t){.batch = average_batch,
                                                         .context = &averages,
                                                         .output_record_size = sizeof(summary_t),
                                                         .cpu = -1});
    roda_engine_add_stage(engine, &(roda_stage_config_t){.batch = jump_batch,
                                                         .context = &jumps,
                                                         .output_record_size = sizeof(alert_t),
                                                         .cpu = -1});
    roda_engine_start(engine);

    roda_engine_send(engine, &(reading_t){.sensor = 1, .value = 10.0, .timestamp = 1});
    roda_engine_send(engine, &(reading_t){.sensor = 1, .value = 30.0, .timestamp = 2});
    roda_engine_stop(engine); /* drains every stage: nothing sent is lost */

    alert_t alert;
    while (roda_engine_try_receive(engine, &alert) == RODA_RECEIVED)
        printf("alert: sensor %llu severity %llu\n", (unsigned long long)alert.sensor,
               (unsigned long long)alert.severity);
    roda_engine_destroy(engine);
    average_destroy(&averages);
    jump_destroy(&jumps);
    return 0;
}
