/* roda_alert_cursor.h - what every alert output shares: a cursor over the alert journal (a tail
 * reader, so no output can slow or block the rules stage) with gap accounting, the names alerts
 * refer to, and an alert as JSON.
 *
 * A cursor copies a batch of alerts out of the journal and checks them intact; when it falls
 * more than the journal's capacity behind, or is opened at a position the journal no longer
 * holds, the next thing it returns is a gap with the count of alerts missed, never a silent
 * skip. When the journal is closed (shutdown) and read to its end, it returns the end.
 *
 * Threads: a cursor belongs to one thread at a time; the names' functions are called from any
 * output thread. */
#ifndef RODA_ALERT_CURSOR_H
#define RODA_ALERT_CURSOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_journal.h"
#include "roda_json.h"
#include "roda_rules.h"

/* Alerts a cursor copies out of the journal at a time. */
#define RODA_ALERT_CURSOR_BATCH 32u
/* Bytes of the longest alert JSON (the longest rule and device names). */
#define RODA_ALERT_JSON_MAX 640u

/* Names for alert JSON. */
typedef struct roda_alert_names {
    void *context;
    /* Copies the name of `rule` in rule set `generation` (the alert's own fields) into buf
     * (< RODA_RULE_NAME_MAX bytes); false if unknown. */
    bool (*rule)(void *context, uint32_t rule, uint16_t generation, char *buf, size_t size);
    /* The device's name, NULL when unknown. */
    const char *(*device)(void *context, uint32_t device);
    /* The sensor's name (a named sensor, roda_sensor_names.h), NULL when it has none. */
    const char *(*sensor)(void *context, uint64_t sensor_id);
} roda_alert_names_t;

/* The rule's name for `alert` ("rule-R@G" when the names no longer know it) into buf. */
void roda_alert_rule_name(const roda_alert_names_t *names, const roda_alert_t *alert, char *buf,
                          size_t size);
/* Writes an alert as one JSON object: id (its journal position), rule (name), kind, severity,
 * state, sensor, device (name, or null), sensor_name (or null), value, previous, threshold,
 * suppressed, device_time_us, ingest_time_ns. */
void roda_alert_json(const roda_alert_t *alert, uint64_t id, const char *rule_name,
                     const char *device_name, const char *sensor_name, roda_json_t *json);
/* The same with the names looked up. */
void roda_alert_named_json(const roda_alert_names_t *names, const roda_alert_t *alert, uint64_t id,
                           roda_json_t *json);

typedef struct roda_alert_cursor {
    roda_journal_tail_t tail;
    uint64_t first;   /* journal position of copied[0] */
    uint32_t count;   /* alerts in copied */
    uint32_t next;    /* the next one to hand out */
    uint64_t missed;  /* a gap to report before anything else */
    uint64_t resumed; /* the position the gap ends at */
    roda_alert_t copied[RODA_ALERT_CURSOR_BATCH];
} roda_alert_cursor_t;

typedef enum roda_alert_step {
    RODA_ALERT_STEP_ALERT = 0, /* *alert and *id are set */
    RODA_ALERT_STEP_NONE = 1,  /* nothing new yet */
    RODA_ALERT_STEP_GAP = 2,   /* *missed alerts were lost; reading goes on at *id */
    RODA_ALERT_STEP_END = 3,   /* the journal is closed and read to its end */
} roda_alert_step_t;

/* Opens the cursor just after `last_id` when `resume` and the journal still holds it; else (no
 * resume, or an id the journal never reached, e.g. from before a restart) at the live end.
 * Where the journal no longer holds last_id + 1, at the oldest intact alert with the gap to
 * report first. */
roda_result_t roda_alert_cursor_open(roda_alert_cursor_t *cursor, roda_journal_t *journal,
                                     bool resume, uint64_t last_id);
/* Opens the cursor at `position` (the oldest intact alert, with a gap, when it is gone).
 * RODA_ERROR_INVALID_ARG past the write position. */
roda_result_t roda_alert_cursor_open_at(roda_alert_cursor_t *cursor, roda_journal_t *journal,
                                        uint64_t position);
/* The next step, copying at most `max_copy` (<= RODA_ALERT_CURSOR_BATCH) alerts at a time. */
roda_alert_step_t roda_alert_cursor_next(roda_alert_cursor_t *cursor, uint32_t max_copy,
                                         const roda_alert_t **alert, uint64_t *id,
                                         uint64_t *missed);
/* Alerts copied but not handed out yet, plus those the journal holds beyond the cursor. */
uint64_t roda_alert_cursor_unread(const roda_alert_cursor_t *cursor, roda_journal_t *journal);

/* An output's kept position: the id of the last alert it delivered, in a file of
 * journal.alert_directory, so a restart resumes just after it. Writes land in the page cache (a
 * process crash keeps them); a failed write only means alerts delivered again after a restart. */
typedef struct roda_alert_position {
    int fd;    /* -1: no alert_directory, nothing is kept */
    bool kept; /* the file held a position at open */
    uint64_t last;
} roda_alert_position_t;

/* Opens (creates) `directory`/`file` and reads a kept position; with an empty directory nothing
 * is kept (fd -1). RODA_ERROR_IO (logged with the path). */
roda_result_t roda_alert_position_open(roda_alert_position_t *position, const char *directory,
                                       const char *file);
void roda_alert_position_save(roda_alert_position_t *position, uint64_t id);
void roda_alert_position_close(roda_alert_position_t *position);
/* Opens `cursor` where an output with `position` resumes: just after the kept id; at the journal's
 * oldest alert when the file exists but holds none yet (nothing in it was ever delivered); at the
 * live end when nothing is kept. */
roda_result_t roda_alert_cursor_open_kept(roda_alert_cursor_t *cursor, roda_journal_t *journal,
                                          const roda_alert_position_t *position);

/* The thread of an output that delivers from the alert journal (MQTT, Alertmanager). Start opens
 * the output's cursor where its position resumes, then runs `run(arg)`; stop asks the thread to
 * finish, giving it until a flush deadline, and joins it. The thread checks
 * roda_alert_worker_stopping on every turn and ends once it has delivered everything or
 * roda_alert_worker_past_deadline. Start and stop from the owner's thread; the two checks from
 * the worker's. Zeroed memory is a stopped worker. */
typedef struct roda_alert_worker {
    pthread_t thread;
    bool started;
    _Atomic bool stopping;
    _Atomic uint64_t flush_deadline_ns;
} roda_alert_worker_t;

/* RODA_ERROR_STATE (started already, or the cursor cannot be opened), RODA_ERROR_SYSTEM (no
 * thread). */
roda_result_t roda_alert_worker_start(roda_alert_worker_t *worker, roda_alert_cursor_t *cursor,
                                      roda_journal_t *journal,
                                      const roda_alert_position_t *position, void *(*run)(void *),
                                      void *arg);
/* Gives the thread `flush_ms` to deliver what it holds, then joins it; nothing when stopped. */
void roda_alert_worker_stop(roda_alert_worker_t *worker, uint32_t flush_ms);
bool roda_alert_worker_stopping(const roda_alert_worker_t *worker);
bool roda_alert_worker_past_deadline(const roda_alert_worker_t *worker, uint64_t now_ns);

#endif
