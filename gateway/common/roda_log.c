/* roda_log.c - one write(2) per log line, key=value shape (see roda_log.h). */
#include "roda_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = RODA_LOG_INFO;
static _Atomic int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void roda_log_set_level(roda_log_level_t level)
{
    atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

roda_log_level_t roda_log_get_level(void)
{
    return (roda_log_level_t)atomic_load_explicit(&log_level, memory_order_relaxed);
}

void roda_log_set_fd(int fd)
{
    atomic_store_explicit(&log_fd, fd, memory_order_relaxed);
}

const char *roda_log_level_name(roda_log_level_t level)
{
    if ((unsigned)level > RODA_LOG_ERROR)
        return "unknown";
    return level_names[level];
}

int roda_log_level_parse(const char *name, roda_log_level_t *level)
{
    for (int i = RODA_LOG_DEBUG; i <= RODA_LOG_ERROR; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *level = (roda_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

const char *roda_log_quote(char *buf, size_t size, const char *value)
{
    static const char hex[] = "0123456789abcdef";
    size_t out = 0;
    /* Room for the closing quote and the terminator, plus "..." when cut. */
    size_t limit = size - 2;
    buf[out++] = '"';
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        char escaped[4];
        size_t n = 0;
        if (*p == '"' || *p == '\\') {
            escaped[n++] = '\\';
            escaped[n++] = (char)*p;
        } else if (*p == '\n') {
            escaped[n++] = '\\';
            escaped[n++] = 'n';
        } else if (*p == '\t') {
            escaped[n++] = '\\';
            escaped[n++] = 't';
        } else if (*p < 0x20 || *p == 0x7f) {
            escaped[n++] = '\\';
            escaped[n++] = 'x';
            escaped[n++] = hex[*p >> 4];
            escaped[n++] = hex[*p & 15];
        } else {
            escaped[n++] = (char)*p;
        }
        if (out + n > limit) {
            out = limit >= 4 ? limit - 3 : 1;
            while (out < limit)
                buf[out++] = '.';
            break;
        }
        memcpy(buf + out, escaped, n);
        out += n;
    }
    buf[out++] = '"';
    buf[out] = '\0';
    return buf;
}

void roda_log(roda_log_level_t level, const char *msg, const char *kv_format, ...)
{
    if ((int)level < atomic_load_explicit(&log_level, memory_order_relaxed))
        return;
    int saved_errno = errno;
    char line[RODA_LOG_LINE_MAX];
    char quoted[256];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    int len = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=%s",
                       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                       tm.tm_sec, now.tv_nsec / 1000000L, roda_log_level_name(level),
                       roda_log_quote(quoted, sizeof quoted, msg));
    size_t used = (size_t)len;
    if (kv_format != NULL && kv_format[0] != '\0' && used + 2 < sizeof line) {
        line[used++] = ' ';
        va_list args;
        va_start(args, kv_format);
        int n = vsnprintf(line + used, sizeof line - used, kv_format, args);
        va_end(args);
        if (n > 0)
            used += (size_t)n;
    }
    static const char cut[] = " truncated=1\n";
    if (used + 1 >= sizeof line) {
        used = sizeof line - sizeof cut;
        memcpy(line + used, cut, sizeof cut - 1);
        used += sizeof cut - 1;
    } else {
        line[used++] = '\n';
    }
    int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);
    /* A log line that cannot be written has nowhere to be reported; the loop only retries
     * interrupted or partial writes. */
    size_t done = 0;
    while (done < used) {
        ssize_t w = write(fd, line + done, used - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    errno = saved_errno;
}

void roda_log_limiter_init(roda_log_limiter_t *limiter, uint64_t interval_ns)
{
    limiter->interval_ns = interval_ns;
    atomic_init(&limiter->last_ns, 0);
    atomic_init(&limiter->suppressed, 0);
}

bool roda_log_limiter_allow(roda_log_limiter_t *limiter, uint64_t now_ns, uint64_t *suppressed)
{
    uint64_t last = atomic_load_explicit(&limiter->last_ns, memory_order_relaxed);
    /* Of threads racing past an expired interval, the one that moves last_ns writes the line. */
    if ((last != 0 && now_ns - last < limiter->interval_ns) ||
        !atomic_compare_exchange_strong_explicit(&limiter->last_ns, &last, now_ns,
                                                 memory_order_relaxed, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&limiter->suppressed, 1, memory_order_relaxed);
        return false;
    }
    *suppressed = atomic_exchange_explicit(&limiter->suppressed, 0, memory_order_relaxed);
    return true;
}
