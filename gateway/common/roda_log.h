/* roda_log.h - the gateway's log: one line per event, in a stable key=value shape.
 *
 *   ts=2026-11-24T17:33:23.123Z level=error msg="config invalid" file=/etc/roda.conf line=12
 *   hint="fix the value and run roda-gateway --check-config"
 *
 * (one line in the output). `ts` is UTC wall-clock time with milliseconds, `level` is one of
 * debug|info|warn|error, `msg` is a short fixed phrase (grep-able, no variable parts), and the
 * rest are key=value pairs formatted by the caller. Values that may hold spaces, quotes or
 * control characters go through roda_log_quote(). Errors carry a `hint=` saying what to do.
 *
 * Output: each line is formatted into a stack buffer of RODA_LOG_LINE_MAX bytes (longer lines are
 * cut and end with `truncated=1`) and written with one write(2), so lines from different threads
 * never interleave. Nothing is allocated. The default output is standard error.
 *
 * Threads: roda_log() from any thread. roda_log_set_level()/roda_log_set_fd() at start-up (they
 * are atomic, so a reload may change the level while other threads log). */
#ifndef RODA_LOG_H
#define RODA_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RODA_LOG_LINE_MAX 1024

typedef enum roda_log_level {
    RODA_LOG_DEBUG = 0,
    RODA_LOG_INFO = 1,
    RODA_LOG_WARN = 2,
    RODA_LOG_ERROR = 3,
} roda_log_level_t;

/* Lines below `level` are not written. Default RODA_LOG_INFO. */
void roda_log_set_level(roda_log_level_t level);
roda_log_level_t roda_log_get_level(void);
/* Where lines go (a file descriptor the caller keeps open). Default 2. */
void roda_log_set_fd(int fd);

/* "debug", "info", "warn", "error". */
const char *roda_log_level_name(roda_log_level_t level);
/* Parses a level name; returns 0 on success, -1 for an unknown name (*level unchanged). */
int roda_log_level_parse(const char *name, roda_log_level_t *level);

/* Writes one line: ts, level, msg (quoted), then the key=value tail formatted from `kv_format`
 * (may be NULL or ""). */
void roda_log(roda_log_level_t level, const char *msg, const char *kv_format, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes `value` as a quoted log value ("...", with \" \\ \n \t and \xNN escapes) into `buf`
 * (`size` >= 3) and returns `buf`. A value that does not fit is cut and ends with "...". */
const char *roda_log_quote(char *buf, size_t size, const char *value);

/* A rate limit for one kind of line: at most one per interval, the lines left out counted into
 * the next one (`suppressed=`). Any thread; lock-free. */
typedef struct roda_log_limiter {
    uint64_t interval_ns;
    _Atomic uint64_t last_ns; /* 0: nothing written yet */
    _Atomic uint64_t suppressed;
} roda_log_limiter_t;

void roda_log_limiter_init(roda_log_limiter_t *limiter, uint64_t interval_ns);
/* True when a line may be written at `now_ns` (a monotonic clock, > 0), with *suppressed set to
 * the lines left out since the last one written; false (and counted) otherwise. */
bool roda_log_limiter_allow(roda_log_limiter_t *limiter, uint64_t now_ns, uint64_t *suppressed);

#endif
