/* roda_result.c - names of the result codes, for logs and test messages. */
#include "roda_result.h"

const char *roda_result_str(roda_result_t result)
{
    switch (result) {
    case RODA_SUCCESS:
        return "RODA_SUCCESS";
    case RODA_FULL:
        return "RODA_FULL";
    case RODA_CLOSED:
        return "RODA_CLOSED";
    case RODA_ERROR_INVALID_ARG:
        return "RODA_ERROR_INVALID_ARG";
    case RODA_ERROR_NOMEM:
        return "RODA_ERROR_NOMEM";
    case RODA_ERROR_IO:
        return "RODA_ERROR_IO";
    case RODA_ERROR_CORRUPT:
        return "RODA_ERROR_CORRUPT";
    case RODA_ERROR_TOO_MANY:
        return "RODA_ERROR_TOO_MANY";
    case RODA_ERROR_STATE:
        return "RODA_ERROR_STATE";
    case RODA_ERROR_SYSTEM:
        return "RODA_ERROR_SYSTEM";
    }
    return "RODA_UNKNOWN";
}
