/* test_alert_out.c - the alert outputs over tail readers: the SSE source (live, resume, gap for a
 * lagging client, client bound, end after close, a reader racing the writer) and /alerts/recent.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roda_check.h"
#include "roda_output_recent.h"
#include "roda_output_sse.h"

static bool rule_name(void *context, uint32_t rule, uint16_t generation, char *buf, size_t size)
{
    (void)context;
    if (rule > 1 || generation != 0)
        return false;
    snprintf(buf, size, "%s", rule == 0 ? "hot" : "cold");
    return true;
}

static const char *device_name(void *context, uint32_t device)
{
    (void)context;
    return device == 0 ? "pump-1" : NULL;
}

static const roda_alert_names_t names = {NULL, rule_name, device_name, NULL};

static roda_journal_t *journal_of(uint64_t capacity)
{
    roda_journal_config_t config = {.capacity = capacity, .record_size = sizeof(roda_alert_t)};
    roda_journal_t *journal;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_SUCCESS);
    return journal;
}

static void append(roda_journal_t *journal, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        roda_alert_t alert = {.sensor_id = 5,
                              .value = (double)i,
                              .rule = 0,
                              .severity = RODA_SEVERITY_CRITICAL,
                              .state = RODA_ALERT_FIRING};
        ck_assert_int_eq(roda_journal_append(journal, &alert), RODA_SUCCESS);
    }
}

START_TEST(live_resume_gap_and_end)
{
    roda_journal_t *journal = journal_of(16);
    roda_alert_stream_t *stream;
    ck_assert_int_eq(roda_alert_stream_create(journal, 2, &names, &stream), RODA_SUCCESS);
    const roda_sse_source_t *source = roda_alert_stream_source(stream);
    static roda_sse_event_t event;
    void *live, *resumed, *third;
    ck_assert_int_eq(source->open(source->context, false, 0, &live), RODA_SUCCESS);
    ck_assert_int_eq(source->next(source->context, live, &event), RODA_SSE_NONE);
    append(journal, 3);
    for (uint64_t id = 0; id < 3; id++) {
        ck_assert_int_eq(source->next(source->context, live, &event), RODA_SSE_EVENT);
        ck_assert_uint_eq(event.id, id);
        ck_assert_str_eq(event.rule, "hot");
        ck_assert_str_eq(event.severity, "critical");
        ck_assert_str_eq(event.device, "pump-1");
        ck_assert_ptr_nonnull(strstr(event.data, "\"rule\":\"hot\""));
    }
    ck_assert_int_eq(source->next(source->context, live, &event), RODA_SSE_NONE);

    /* Resume after id 1: id 2 only. Two clients is the bound. */
    ck_assert_int_eq(source->open(source->context, true, 1, &resumed), RODA_SUCCESS);
    ck_assert_int_eq(source->open(source->context, false, 0, &third), RODA_ERROR_TOO_MANY);
    ck_assert_int_eq(source->next(source->context, resumed, &event), RODA_SSE_EVENT);
    ck_assert_uint_eq(event.id, 2);
    ck_assert_int_eq(source->next(source->context, resumed, &event), RODA_SSE_NONE);
    source->close(source->context, resumed);

    /* The live client lags by more than the capacity: a gap, then the intact alerts, and
     * delivered + missed is exactly what was written. */
    append(journal, 100);
    uint64_t delivered = 0, missed = 0, next_id = 3;
    for (;;) {
        roda_sse_next_t r = source->next(source->context, live, &event);
        if (r == RODA_SSE_NONE)
            break;
        if (r == RODA_SSE_GAP) {
            missed += event.missed;
            next_id = event.id;
            continue;
        }
        ck_assert_int_eq(r, RODA_SSE_EVENT);
        ck_assert_uint_eq(event.id, next_id++);
        delivered++;
    }
    ck_assert_uint_gt(missed, 0);
    ck_assert_uint_eq(delivered + missed, 100);
    ck_assert_uint_eq(next_id, 103);

    /* Resuming at an overwritten id starts with the gap; an id never reached starts live. */
    ck_assert_int_eq(source->open(source->context, true, 0, &resumed), RODA_SUCCESS);
    ck_assert_int_eq(source->next(source->context, resumed, &event), RODA_SSE_GAP);
    ck_assert_uint_gt(event.missed, 0);
    source->close(source->context, resumed);
    ck_assert_int_eq(source->open(source->context, true, 5000, &resumed), RODA_SUCCESS);
    ck_assert_int_eq(source->next(source->context, resumed, &event), RODA_SSE_NONE);

    /* Closed and read to its end: the streams end. */
    roda_journal_close(journal);
    ck_assert_int_eq(source->next(source->context, resumed, &event), RODA_SSE_END);
    ck_assert_int_eq(source->next(source->context, live, &event), RODA_SSE_END);
    source->close(source->context, resumed);
    source->close(source->context, live);
    roda_alert_stream_destroy(stream);
    roda_journal_destroy(journal);
}
END_TEST

static size_t count_of(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

START_TEST(recent)
{
    roda_journal_t *journal = journal_of(16);
    static char buf[RODA_HTTP_JSON_MAX];
    roda_json_t json;
    roda_json_init(&json, buf, sizeof buf);
    roda_alert_recent(journal, &names, 10, &json);
    ck_assert(roda_json_ok(&json));
    ck_assert_str_eq(buf, "[]");

    append(journal, 40);
    roda_json_init(&json, buf, sizeof buf);
    roda_alert_recent(journal, &names, 5, &json);
    ck_assert(roda_json_ok(&json));
    ck_assert_uint_eq(count_of(buf, "\"id\":"), 5);
    ck_assert_ptr_nonnull(strstr(buf, "[{\"id\":35,"));
    ck_assert_ptr_nonnull(strstr(buf, "\"id\":39,"));

    /* More than the journal holds: only intact alerts, never a torn or repeated one. */
    roda_json_init(&json, buf, sizeof buf);
    roda_alert_recent(journal, &names, 100, &json);
    ck_assert(roda_json_ok(&json));
    size_t n = count_of(buf, "\"id\":");
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_le(n, 16);
    ck_assert_ptr_nonnull(strstr(buf, "\"id\":39,"));
    roda_journal_destroy(journal);
}
END_TEST

START_TEST(recent_fits_its_body)
{
    /* The longest names and the recent bound still fit RODA_HTTP_JSON_MAX. */
    roda_journal_t *journal = journal_of(1024);
    append(journal, 1024);
    static char buf[RODA_HTTP_JSON_MAX];
    roda_json_t json;
    roda_json_init(&json, buf, sizeof buf);
    roda_alert_recent(journal, &names, 100000, &json);
    ck_assert(roda_json_ok(&json));
    ck_assert_uint_eq(count_of(buf, "\"id\":"), RODA_ALERT_RECENT_MAX);
    roda_journal_destroy(journal);
}
END_TEST

#define RACE_ALERTS 200000u

static void *writer(void *arg)
{
    append(arg, RACE_ALERTS);
    roda_journal_close(arg);
    return NULL;
}

START_TEST(reader_races_the_writer)
{
    roda_journal_t *journal = journal_of(64);
    roda_alert_stream_t *stream;
    ck_assert_int_eq(roda_alert_stream_create(journal, 1, &names, &stream), RODA_SUCCESS);
    const roda_sse_source_t *source = roda_alert_stream_source(stream);
    void *cursor;
    ck_assert_int_eq(source->open(source->context, false, 0, &cursor), RODA_SUCCESS);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, writer, journal), 0);
    static roda_sse_event_t event;
    uint64_t delivered = 0, missed = 0, next_id = 0;
    for (;;) {
        roda_sse_next_t r = source->next(source->context, cursor, &event);
        if (r == RODA_SSE_END)
            break;
        if (r == RODA_SSE_NONE) {
            source->wait(source->context, cursor, 10);
            continue;
        }
        if (r == RODA_SSE_GAP) {
            missed += event.missed;
            ck_assert_uint_ge(event.id, next_id);
            next_id = event.id;
            continue;
        }
        ck_assert_uint_eq(event.id, next_id++);
        /* An intact copy: the writer stored its loop index (= the position) as the value. */
        const char *value = strstr(event.data, "\"value\":");
        ck_assert_ptr_nonnull(value);
        ck_assert_double_eq(strtod(value + 8, NULL), (double)event.id);
        delivered++;
    }
    pthread_join(thread, NULL);
    ck_assert_uint_eq(delivered + missed, RACE_ALERTS);
    source->close(source->context, cursor);
    roda_alert_stream_destroy(stream);
    roda_journal_destroy(journal);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alert_out");
    TCase *tc = tcase_create("alert_out");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, live_resume_gap_and_end);
    tcase_add_test(tc, recent);
    tcase_add_test(tc, recent_fits_its_body);
    tcase_add_test(tc, reader_races_the_writer);
    suite_add_tcase(s, tc);
    return roda_check_run(s);
}
