/* roda_result.h - result codes shared by every Roda module.
 *
 * The convention every module follows (engine and gateway):
 * - a function that can fail returns a roda_result_t: zero is success, positive values are
 *   expected outcomes the caller must handle (a full journal under the REJECT policy), negative
 *   values are errors; roda_result_str() names each one for logs;
 * - a question that cannot fail (is it ready? is this name valid?) returns bool, with a caller's
 *   buffer for the reason where the answer is shown to a person (/readyz, --check-config);
 * - a per-item verdict on the data path that is not a failure of the call (a decode status, a
 *   device sequence verdict, an alert cursor step) is its own small enum, because each value is
 *   counted under its own name. */
#ifndef RODA_RESULT_H
#define RODA_RESULT_H

typedef enum roda_result {
    RODA_SUCCESS = 0,
    RODA_FULL = 1,               /* no room: the caller counts the drop (REJECT policy) */
    RODA_CLOSED = 2,             /* the writer closed the journal and everything was read */
    RODA_ERROR_INVALID_ARG = -1, /* a parameter is out of its documented range */
    RODA_ERROR_NOMEM = -2,       /* mmap/allocation at creation failed */
    RODA_ERROR_IO = -3,          /* a file operation failed (errno is kept) */
    RODA_ERROR_CORRUPT = -4,     /* a segment file is wrong, truncated or inconsistent */
    RODA_ERROR_TOO_MANY = -5,    /* a fixed bound (readers, stages, keys) is reached */
    RODA_ERROR_STATE = -6,       /* the call is not allowed in the current state */
    RODA_ERROR_SYSTEM = -7,      /* a system call failed (errno is kept) */
} roda_result_t;

/* A static string naming the result, e.g. "RODA_ERROR_CORRUPT". */
const char *roda_result_str(roda_result_t result);

#endif
