/* roda_result.h - result codes shared by every Roda module.
 *
 * Every function that can fail returns a roda_result_t. Zero is success, positive values are
 * expected outcomes the caller must handle (a full journal under the REJECT policy), negative
 * values are errors. roda_result_str() names each one for logs. */
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
