/* roda_alert_cursor.c - the alert journal cursor with gap accounting, outputs' kept positions,
 * and alerts as JSON (see roda_alert_cursor.h). */
#include "roda_alert_cursor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "roda_log.h"

void roda_alert_rule_name(const roda_alert_names_t *names, const roda_alert_t *alert, char *buf,
                          size_t size)
{
    if (!names->rule(names->context, alert->rule, alert->generation, buf, size))
        snprintf(buf, size, "rule-%u@%u", (unsigned)alert->rule, (unsigned)alert->generation);
}

void roda_alert_json(const roda_alert_t *a, uint64_t id, const char *rule_name,
                     const char *device_name, const char *sensor_name, roda_json_t *json)
{
    roda_json_object_begin(json);
    roda_json_key(json, "id");
    roda_json_u64(json, id);
    roda_json_key(json, "rule");
    roda_json_string(json, rule_name);
    roda_json_key(json, "kind");
    roda_json_string(json, roda_rule_kind_name((roda_rule_kind_t)a->kind));
    roda_json_key(json, "severity");
    roda_json_string(json, roda_severity_name((roda_severity_t)a->severity));
    roda_json_key(json, "state");
    roda_json_string(json, roda_alert_state_name((roda_alert_state_t)a->state));
    roda_json_key(json, "sensor");
    roda_json_u64(json, a->sensor_id);
    roda_json_key(json, "device");
    if (device_name != NULL)
        roda_json_string(json, device_name);
    else
        roda_json_null(json);
    roda_json_key(json, "sensor_name");
    if (sensor_name != NULL)
        roda_json_string(json, sensor_name);
    else
        roda_json_null(json);
    roda_json_key(json, "value");
    roda_json_double(json, a->value);
    roda_json_key(json, "previous");
    roda_json_double(json, a->previous);
    roda_json_key(json, "threshold");
    roda_json_double(json, a->threshold);
    roda_json_key(json, "suppressed");
    roda_json_u64(json, a->suppressed);
    roda_json_key(json, "device_time_us");
    roda_json_i64(json, a->device_time_us);
    roda_json_key(json, "ingest_time_ns");
    roda_json_u64(json, a->ingest_time_ns);
    roda_json_object_end(json);
}

void roda_alert_named_json(const roda_alert_names_t *names, const roda_alert_t *alert, uint64_t id,
                           roda_json_t *json)
{
    char rule[RODA_RULE_NAME_MAX];
    roda_alert_rule_name(names, alert, rule, sizeof rule);
    roda_alert_json(alert, id, rule, names->device(names->context, alert->device),
                    names->sensor != NULL ? names->sensor(names->context, alert->sensor_id) : NULL,
                    json);
}

roda_alert_step_t roda_alert_cursor_next(roda_alert_cursor_t *c, uint32_t max_copy,
                                         const roda_alert_t **alert, uint64_t *id, uint64_t *missed)
{
    if (c->missed != 0) {
        *missed = c->missed;
        *id = c->resumed;
        c->missed = 0;
        return RODA_ALERT_STEP_GAP;
    }
    if (c->next == c->count) {
        roda_journal_view_t view;
        uint64_t n = roda_journal_tail_peek(&c->tail, max_copy, &view);
        if (n == 0)
            return roda_journal_tail_status(&c->tail) == RODA_CLOSED ? RODA_ALERT_STEP_END
                                                                     : RODA_ALERT_STEP_NONE;
        uint64_t first = c->tail.position;
        roda_journal_tail_copy(&c->tail, &view, c->copied);
        uint64_t lost = roda_journal_tail_consume(&c->tail, n);
        if (lost != 0) {
            *missed = lost;
            *id = c->tail.position;
            c->count = c->next = 0;
            return RODA_ALERT_STEP_GAP;
        }
        c->first = first;
        c->count = (uint32_t)n;
        c->next = 0;
    }
    *id = c->first + c->next;
    *alert = &c->copied[c->next++];
    return RODA_ALERT_STEP_ALERT;
}

roda_result_t roda_alert_cursor_open_at(roda_alert_cursor_t *c, roda_journal_t *journal,
                                        uint64_t position)
{
    c->count = c->next = 0;
    uint64_t missed = 0;
    roda_result_t result = roda_journal_tail_open_at(journal, position, &c->tail, &missed);
    c->missed = result == RODA_SUCCESS ? missed : 0;
    c->resumed = c->tail.position;
    return result;
}

roda_result_t roda_alert_cursor_open(roda_alert_cursor_t *c, roda_journal_t *journal, bool resume,
                                     uint64_t last_id)
{
    if (resume && last_id != UINT64_MAX &&
        roda_alert_cursor_open_at(c, journal, last_id + 1) == RODA_SUCCESS)
        return RODA_SUCCESS;
    c->count = c->next = 0;
    c->missed = 0;
    return roda_journal_tail_open(journal, &c->tail);
}

uint64_t roda_alert_cursor_unread(const roda_alert_cursor_t *c, roda_journal_t *journal)
{
    roda_journal_stats_t stats;
    roda_journal_stats(journal, &stats);
    return (uint64_t)(c->count - c->next) +
           (stats.write_position > c->tail.position ? stats.write_position - c->tail.position : 0);
}

roda_result_t roda_alert_position_open(roda_alert_position_t *p, const char *directory,
                                       const char *file)
{
    *p = (roda_alert_position_t){.fd = -1};
    if (directory[0] == '\0')
        return RODA_SUCCESS;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", directory, file);
    p->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (p->fd < 0) {
        roda_log(RODA_LOG_ERROR, "alert position not opened", "path=%s error=\"%s\"", path,
                 strerror(errno));
        return RODA_ERROR_IO;
    }
    p->kept = pread(p->fd, &p->last, sizeof p->last, 0) == (ssize_t)sizeof p->last;
    return RODA_SUCCESS;
}

void roda_alert_position_save(roda_alert_position_t *p, uint64_t id)
{
    if (p->fd >= 0)
        (void)!pwrite(p->fd, &id, sizeof id, 0);
}

void roda_alert_position_close(roda_alert_position_t *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

roda_result_t roda_alert_cursor_open_kept(roda_alert_cursor_t *cursor, roda_journal_t *journal,
                                          const roda_alert_position_t *p)
{
    if (p->fd >= 0 && !p->kept)
        return roda_alert_cursor_open_at(cursor, journal, roda_journal_tail_oldest(journal));
    return roda_alert_cursor_open(cursor, journal, p->kept, p->last);
}

roda_result_t roda_alert_worker_start(roda_alert_worker_t *worker, roda_alert_cursor_t *cursor,
                                      roda_journal_t *journal,
                                      const roda_alert_position_t *position, void *(*run)(void *),
                                      void *arg)
{
    if (worker->started)
        return RODA_ERROR_STATE;
    if (roda_alert_cursor_open_kept(cursor, journal, position) != RODA_SUCCESS)
        return RODA_ERROR_STATE;
    atomic_store_explicit(&worker->stopping, false, memory_order_relaxed);
    if (pthread_create(&worker->thread, NULL, run, arg) != 0)
        return RODA_ERROR_SYSTEM;
    worker->started = true;
    return RODA_SUCCESS;
}

void roda_alert_worker_stop(roda_alert_worker_t *worker, uint32_t flush_ms)
{
    if (!worker->started)
        return;
    atomic_store_explicit(&worker->flush_deadline_ns,
                          roda_now_ns() + (uint64_t)flush_ms * 1000000ull, memory_order_relaxed);
    atomic_store_explicit(&worker->stopping, true, memory_order_release);
    pthread_join(worker->thread, NULL);
    worker->started = false;
}

bool roda_alert_worker_stopping(const roda_alert_worker_t *worker)
{
    return atomic_load_explicit(&worker->stopping, memory_order_acquire);
}

bool roda_alert_worker_past_deadline(const roda_alert_worker_t *worker, uint64_t now_ns)
{
    return now_ns >= atomic_load_explicit(&worker->flush_deadline_ns, memory_order_relaxed);
}
