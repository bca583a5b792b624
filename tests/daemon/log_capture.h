/* log_capture.h - for tests: what the daemon's log (roda_log) writes, through a pipe. The output
 * between start and end must fit the pipe (64 KiB): nothing reads it meanwhile. */
#ifndef RODA_LOG_CAPTURE_H
#define RODA_LOG_CAPTURE_H

#include <check.h>
#include <unistd.h>

#include "roda_log.h"

static char log_captured[65536];

static inline void log_capture_start(int fds[2])
{
    ck_assert_int_eq(pipe(fds), 0);
    roda_log_set_fd(fds[1]);
}

/* Restores stderr and returns everything logged since log_capture_start. */
static inline const char *log_capture_end(int fds[2])
{
    roda_log_set_fd(2);
    close(fds[1]);
    size_t used = 0;
    ssize_t n;
    while ((n = read(fds[0], log_captured + used, sizeof log_captured - 1 - used)) > 0)
        used += (size_t)n;
    close(fds[0]);
    log_captured[used] = '\0';
    return log_captured;
}

#endif
