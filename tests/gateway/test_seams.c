/* test_seams.c - the registration seams end to end: a test-only input (a pipe, with a test-only
 * decoder of "device#sequence;sensor=value;..." lines) and a test-only output (an alert cursor
 * drained at stop) registered beside the built-in ones through the tables the gateway passes,
 * driving the real pipeline: readings in through the test input, an alert out through the test
 * output, and the test input's counters on /metrics under its own name. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "roda_check.h"
#include "roda_output.h"
#include "roda_pipeline.h"

/* ---- A test decoder: "device#sequence;sensor=value;sensor=value" ------------------------------
 */

/* Parses "id=value" at batch->offset into *reading; false on a bad field. */
static bool next_field(roda_decode_batch_t *batch, uint64_t *sensor, double *value)
{
    char field[64];
    const char *start = (const char *)batch->payload + batch->offset;
    size_t left = batch->size - batch->offset, n = 0;
    while (n < left && start[n] != ';')
        n++;
    if (n == 0 || n >= sizeof field)
        return false;
    memcpy(field, start, n);
    field[n] = '\0';
    batch->offset += n + (n < left ? 1 : 0);
    char *end;
    *sensor = strtoull(field, &end, 10);
    if (*end != '=')
        return false;
    *value = strtod(end + 1, &end);
    return *end == '\0';
}

static roda_decode_status_t text_open(roda_decode_batch_t *batch,
                                      const roda_decode_context_t *context, const uint8_t *payload,
                                      size_t size)
{
    memset(batch, 0, sizeof *batch);
    batch->context = context;
    batch->payload = payload;
    batch->size = size;
    const char *semicolon = memchr(payload, ';', size);
    if (semicolon == NULL || semicolon == (const char *)payload ||
        (size_t)(semicolon - (const char *)payload) >= sizeof batch->device)
        return RODA_DECODE_MALFORMED;
    size_t header = (size_t)(semicolon - (const char *)payload);
    const char *hash = memchr(payload, '#', header);
    batch->device_length = hash != NULL ? (size_t)(hash - (const char *)payload) : header;
    memcpy(batch->device, payload, batch->device_length);
    if (hash != NULL)
        batch->sequence = strtoull(hash + 1, NULL, 10);
    batch->offset = header + 1;
    for (size_t i = batch->offset; i < size; i++)
        batch->reading_count += payload[i] == '=';
    return batch->reading_count <= RODA_DECODE_MAX_READINGS ? RODA_DECODE_OK : RODA_DECODE_TOO_MANY;
}

static uint32_t text_readings(roda_decode_batch_t *batch, roda_reading_t *records,
                              const char **names, uint32_t max, roda_decode_drops_t *drops,
                              roda_decode_status_t *status)
{
    (void)drops;
    *status = RODA_DECODE_OK;
    uint32_t written = 0;
    while (written < max && batch->readings_done < batch->reading_count) {
        roda_reading_t *r = &records[written];
        memset(r, 0, sizeof *r);
        if (!next_field(batch, &r->sensor_id, &r->value)) {
            *status = RODA_DECODE_MALFORMED;
            break;
        }
        batch->readings_done++;
        if (names != NULL)
            names[written] = NULL;
        written++;
    }
    return written;
}

static const roda_decoder_t text_decoder = {
    .name = "test.text", .open = text_open, .readings = text_readings};

/* ---- A test input: one message per line written to a pipe ------------------------------------ */

typedef struct pipe_settings {
    int read_fd;
} pipe_settings_t;

typedef struct pipe_input {
    int fd;
    roda_input_port_t port;
    char line[256];
    size_t length;
} pipe_input_t;

static int pipe_fds[2];

static bool pipe_configure(const roda_config_t *config, void *settings, bool *enabled, char *why,
                           size_t size)
{
    (void)config;
    (void)why;
    (void)size;
    ((pipe_settings_t *)settings)->read_fd = pipe_fds[0];
    *enabled = true;
    return true;
}

static roda_result_t pipe_create(const void *settings, const roda_input_port_t *port, void **state)
{
    pipe_input_t *in = calloc(1, sizeof *in);
    if (in == NULL)
        return RODA_ERROR_NOMEM;
    in->fd = ((const pipe_settings_t *)settings)->read_fd;
    in->port = *port;
    *state = in;
    return RODA_SUCCESS;
}

static void pipe_destroy(void *state)
{
    free(state);
}

static uint32_t pipe_poll_fds(void *state, struct pollfd *fds, int *timeout_ms)
{
    (void)timeout_ms;
    fds[0] = (struct pollfd){.fd = ((pipe_input_t *)state)->fd, .events = POLLIN};
    return 1;
}

static void pipe_service(void *state, const struct pollfd *fds, uint32_t count)
{
    pipe_input_t *in = state;
    if (count != 1 || fds[0].revents == 0)
        return;
    char buf[512];
    ssize_t n = read(in->fd, buf, sizeof buf);
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] != '\n') {
            if (in->length < sizeof in->line)
                in->line[in->length++] = buf[i];
            continue;
        }
        roda_ingest_message(&in->port, &text_decoder, NULL, NULL, NULL, 0,
                            (const uint8_t *)in->line, in->length);
        in->length = 0;
    }
}

static uint64_t pipe_memory(const void *settings)
{
    (void)settings;
    return sizeof(pipe_input_t);
}

static const roda_input_class_t pipe_input = {
    .name = "pipe",
    .settings_size = sizeof(pipe_settings_t),
    .configure = pipe_configure,
    .create = pipe_create,
    .destroy = pipe_destroy,
    .poll_fds = pipe_poll_fds,
    .service = pipe_service,
    .memory = pipe_memory,
};

/* ---- A test output: every alert read through a cursor when the gateway stops ------------------
 */

typedef struct tally {
    roda_journal_t *journal;
    roda_alert_names_t names;
    roda_alert_cursor_t cursor;
    uint64_t alerts;
    uint64_t gaps;
    bool ended;
    char last_json[RODA_ALERT_JSON_MAX];
} tally_t;

static roda_result_t tally_create(const roda_output_context_t *context, void **state)
{
    tally_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return RODA_ERROR_NOMEM;
    t->journal = context->alerts;
    t->names = *context->names;
    *state = t;
    return RODA_SUCCESS;
}

static roda_result_t tally_start(void *state)
{
    tally_t *t = state;
    return roda_alert_cursor_open(&t->cursor, t->journal, false, 0);
}

static void tally_stop(void *state, uint32_t flush_ms)
{
    (void)flush_ms;
    tally_t *t = state;
    for (;;) {
        const roda_alert_t *alert;
        uint64_t id, missed;
        roda_alert_step_t step =
            roda_alert_cursor_next(&t->cursor, RODA_ALERT_CURSOR_BATCH, &alert, &id, &missed);
        if (step == RODA_ALERT_STEP_ALERT) {
            roda_json_t json;
            roda_json_init(&json, t->last_json, sizeof t->last_json);
            roda_alert_named_json(&t->names, alert, id, &json);
            t->alerts++;
        } else if (step == RODA_ALERT_STEP_GAP) {
            t->gaps += missed;
        } else {
            t->ended = step == RODA_ALERT_STEP_END;
            return;
        }
    }
}

static void tally_destroy(void *state)
{
    free(state);
}

static uint64_t tally_memory(const roda_config_t *config)
{
    (void)config;
    return sizeof(tally_t);
}

static const roda_output_class_t tally_output = {
    .name = "tally",
    .create = tally_create,
    .start = tally_start,
    .stop = tally_stop,
    .destroy = tally_destroy,
    .memory = tally_memory,
};

/* ---- The test ----------------------------------------------------------------------------------
 */

static void write_line(const char *line)
{
    size_t n = strlen(line);
    ck_assert_int_eq(write(pipe_fds[1], line, n), (ssize_t)n);
}

START_TEST(test_input_and_output_through_the_tables)
{
    ck_assert_int_eq(pipe(pipe_fds), 0);
    static roda_config_t config;
    roda_config_errors_t errors;
    const char *text = "[journal]\ninput_capacity = 1024\nsummary_capacity = 1024\n"
                       "alert_capacity = 64\n[limits]\nrecent_alerts = 10\n"
                       "[rule.hot]\nkind = above\nthreshold = 50\n";
    ck_assert_int_eq(roda_config_load_string(text, "seams.conf", &config, &errors), RODA_SUCCESS);

    /* The gateway's tables plus one test entry each: what a new input or output adds. */
    uint32_t builtin_inputs, builtin_outputs;
    const roda_input_class_t *const *registered = roda_inputs(&builtin_inputs);
    const roda_output_class_t *const *registered_outputs = roda_outputs(&builtin_outputs);
    const roda_input_class_t *inputs[RODA_INGEST_MAX_INPUTS];
    const roda_output_class_t *outputs[RODA_OUTPUTS_MAX];
    ck_assert_uint_lt(builtin_inputs, RODA_INGEST_MAX_INPUTS);
    ck_assert_uint_lt(builtin_outputs, RODA_OUTPUTS_MAX);
    for (uint32_t i = 0; i < builtin_inputs; i++)
        inputs[i] = registered[i];
    for (uint32_t i = 0; i < builtin_outputs; i++)
        outputs[i] = registered_outputs[i];
    inputs[builtin_inputs] = &pipe_input;
    outputs[builtin_outputs] = &tally_output;

    roda_pipeline_t *pipeline;
    ck_assert_int_eq(roda_pipeline_create(&config, inputs, builtin_inputs + 1, &pipeline),
                     RODA_SUCCESS);
    roda_http_config_t hc = {.bind = "127.0.0.1",
                             .max_connections = 4,
                             .timeout_s = 5,
                             .max_sse_clients = 1,
                             .sse_heartbeat_ms = 1000,
                             .request_memory = 16384,
                             .metrics_buffer = roda_metrics_buffer_size(16, 0)};
    roda_http_providers_t providers = {pipeline, roda_pipeline_ready, roda_pipeline_sensor_json};
    roda_http_t *http;
    ck_assert_int_eq(roda_http_create(&hc, &providers, &http), RODA_SUCCESS);
    roda_output_context_t oc = {&config, roda_pipeline_alert_journal(pipeline),
                                roda_pipeline_names(pipeline), http};
    roda_output_set_t set;
    ck_assert_int_eq(roda_output_set_create(&set, outputs, builtin_outputs + 1, &oc), RODA_SUCCESS);
    ck_assert_int_eq(roda_output_set_start(&set), RODA_SUCCESS);
    ck_assert_int_eq(roda_pipeline_start(pipeline), RODA_SUCCESS);

    write_line("pump-1#1;7=10;8=20\n");
    write_line("pump-1#2;7=99\n"); /* sensor 7 crosses 50: the rule fires */
    write_line("no-separator\n");  /* the test decoder refuses it: counted, not lost silently */
    roda_pipeline_totals_t totals = {0};
    for (int i = 0; i < 500 && totals.rules_consumed < 3; i++) {
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep(&pause, NULL);
        roda_pipeline_totals(pipeline, &totals);
    }
    ck_assert_uint_eq(totals.readings_accepted, 3);
    ck_assert_uint_eq(totals.rules_consumed, 3);

    /* The test input's counters, under its own name, next to the built-in inputs'. */
    roda_metrics_t m;
    ck_assert_int_eq(roda_metrics_init(&m, roda_metrics_buffer_size(16, 0)), RODA_SUCCESS);
    roda_metrics_reset(&m);
    roda_pipeline_metrics(pipeline, &m);
    roda_metrics_finish(&m);
    ck_assert_ptr_nonnull(strstr(m.buf, "roda_ingest_readings_total{input=\"pipe\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(m.buf, "roda_ingest_readings_total{input=\"udp\"} 0\n"));
    ck_assert_ptr_nonnull(
        strstr(m.buf, "roda_ingest_dropped_total{input=\"pipe\",reason=\"decode_error\"} 1\n"));
    roda_metrics_destroy(&m);
    char json[1024];
    roda_json_t sensor;
    roda_json_init(&sensor, json, sizeof json);
    ck_assert(roda_pipeline_sensor_json(pipeline, 7, &sensor));
    ck_assert_ptr_nonnull(strstr(json, "\"input\":\"pipe\""));
    ck_assert_ptr_nonnull(strstr(json, "\"device\":\"pump-1\""));

    /* Stop as the daemon does: the pipeline closes the alert journal, the outputs drain it. */
    roda_pipeline_stop(pipeline);
    roda_output_set_stop(&set, 1000);
    tally_t *tally = set.states[set.count - 1];
    ck_assert(tally->ended);
    ck_assert_uint_eq(tally->alerts, 1);
    ck_assert_uint_eq(tally->gaps, 0);
    ck_assert_ptr_nonnull(strstr(tally->last_json, "\"rule\":\"hot\""));
    ck_assert_ptr_nonnull(strstr(tally->last_json, "\"sensor\":7"));
    ck_assert_ptr_nonnull(strstr(tally->last_json, "\"state\":\"firing\""));

    roda_http_destroy(http);
    roda_output_set_destroy(&set);
    roda_pipeline_destroy(pipeline);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}
END_TEST

/* An output that fails to create leaves nothing behind, and the error reaches the caller. */
static roda_result_t failing_create(const roda_output_context_t *context, void **state)
{
    (void)context;
    (void)state;
    return RODA_ERROR_NOMEM;
}

START_TEST(failing_output_is_reported)
{
    roda_output_class_t failing = tally_output;
    failing.create = failing_create;
    const roda_output_class_t *outputs[] = {&tally_output, &failing};
    static roda_config_t config;
    roda_config_defaults(&config);
    roda_alert_names_t names = {0};
    roda_output_context_t oc = {&config, NULL, &names, NULL};
    roda_output_set_t set;
    ck_assert_int_eq(roda_output_set_create(&set, outputs, 2, &oc), RODA_ERROR_NOMEM);
    ck_assert_uint_eq(set.count, 0);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("seams");
    TCase *tc = tcase_create("seams");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_input_and_output_through_the_tables);
    tcase_add_test(tc, failing_output_is_reported);
    suite_add_tcase(suite, tc);
    return roda_check_run(suite);
}
