/* roda_config_value.c - value parsing: integers, byte sizes with K/M/G, durations, doubles,
 * booleans, lists, log levels and choices, each checked against its key's bounds. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "roda_config_internal.h"

const char *roda_config_parse_u64(const char *text, uint64_t *out)
{
    if (text[0] < '0' || text[0] > '9')
        return "is not a non-negative integer";
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno == ERANGE)
        return "is too large";
    if (*end != '\0')
        return "is not a non-negative integer";
    *out = v;
    return NULL;
}

const char *roda_config_parse_double(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v))
        return "is not a finite number";
    *out = v;
    return NULL;
}

/* A number followed by a unit from `names` (NULL-terminated, with their scales). True when it
 * parsed. */
static bool parse_scaled(const char *text, const char *const *names, const double *scales,
                         double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno == ERANGE || !isfinite(v) || text[0] == '-' || text[0] == '+')
        return false;
    for (size_t i = 0; names[i] != NULL; i++) {
        if (strcmp(end, names[i]) == 0) {
            *out = v * scales[i];
            return true;
        }
    }
    return false;
}

const char *roda_config_parse_duration(const char *text, double *seconds)
{
    static const char *const names[] = {"", "ms", "s", "m", "h", NULL};
    static const double scales[] = {1, 1e-3, 1, 60, 3600};
    return parse_scaled(text, names, scales, seconds)
               ? NULL
               : "is not a duration (a number with ms, s, m or h, e.g. 30s)";
}

static const char *parse_bytes(const char *text, double *bytes)
{
    static const char *const names[] = {"", "K", "KiB", "M", "MiB", "G", "GiB", NULL};
    static const double scales[] = {1, 1024, 1024, 1048576, 1048576, 1073741824, 1073741824};
    if (!parse_scaled(text, names, scales, bytes) || *bytes != floor(*bytes))
        return "is not a byte size (an integer with an optional K, M or G, e.g. 32M)";
    return NULL;
}

static const char *parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(text, yes[i]) == 0 || strcmp(text, no[i]) == 0) {
            *out = strcmp(text, yes[i]) == 0;
            return NULL;
        }
    }
    return "is not a boolean (true or false)";
}

int roda_config_lookup(const char *text, const char *const *names, int count)
{
    for (int i = 0; i < count; i++) {
        if (strcmp(text, names[i]) == 0)
            return i;
    }
    return -1;
}

const char *roda_config_parse_list(const char *text, char *items, size_t item_size,
                                   uint32_t max_items, uint32_t *count)
{
    uint32_t n = 0;
    const char *p = text;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *start = p;
        while (*p != '\0' && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end == start)
            return "has an empty list item";
        if (n == max_items)
            return "has too many items";
        if ((size_t)(end - start) >= item_size)
            return "has an item that is too long";
        memcpy(items + n * item_size, start, (size_t)(end - start));
        items[n * item_size + (size_t)(end - start)] = '\0';
        n++;
        if (*p == ',')
            p++;
    }
    *count = n;
    return NULL;
}

static void format_range(char *buf, size_t size, const roda_config_field_t *f)
{
    if (f->type == RODA_CONFIG_DURATION)
        snprintf(buf, size, "%gs .. %gs", f->min, f->max);
    else if (f->type == RODA_CONFIG_DOUBLE)
        snprintf(buf, size, "greater than %g, at most %g", f->min, f->max);
    else
        snprintf(buf, size, "%.0f .. %.0f", f->min, f->max);
}

/* The non-numeric types: parsed straight into the field. NULL or a reason. */
static const char *set_other(roda_config_t *config, const roda_config_field_t *f, const char *value)
{
    char *base = (char *)config + f->offset;
    switch (f->type) {
    case RODA_CONFIG_BOOL:
        return parse_bool(value, (bool *)base);
    case RODA_CONFIG_TEXT:
        if (strlen(value) >= f->size)
            return "is too long";
        snprintf(base, f->size, "%s", value);
        return NULL;
    case RODA_CONFIG_LIST:
        return roda_config_parse_list(value, base, f->size, f->max_items,
                                      (uint32_t *)((char *)config + f->count_offset));
    default: /* RODA_CONFIG_LEVEL */ {
        roda_log_level_t level;
        if (roda_log_level_parse(value, &level) != 0)
            return "is not a log level (debug, info, warn or error)";
        *(roda_log_level_t *)base = level;
        return NULL;
    }
    }
}

/* A CHOICE key: the value's index in its names, or the names in `why`. */
static roda_result_t set_choice(roda_config_t *config, const roda_config_field_t *f,
                                const char *value, char *why, size_t size)
{
    int count = 0;
    while (f->choices[count] != NULL)
        count++;
    int i = roda_config_lookup(value, f->choices, count);
    if (i >= 0) {
        *(int *)((char *)config + f->offset) = i;
        return RODA_SUCCESS;
    }
    int used = snprintf(why, size, "'%s' is not one of:", value);
    for (int c = 0; c < count && used >= 0 && (size_t)used < size; c++)
        used += snprintf(why + used, size - (size_t)used, "%s %s", c > 0 ? "," : "", f->choices[c]);
    return RODA_ERROR_INVALID_ARG;
}

/* A numeric type: the number (durations in seconds) and, for integers, `u`. NULL or a reason. */
static const char *parse_number(const roda_config_field_t *f, const char *value, double *number,
                                uint64_t *u)
{
    const char *why;
    switch (f->type) {
    case RODA_CONFIG_BYTES:
        return parse_bytes(value, number);
    case RODA_CONFIG_DURATION:
        return roda_config_parse_duration(value, number);
    case RODA_CONFIG_DOUBLE:
        return roda_config_parse_double(value, number);
    default: /* RODA_CONFIG_U32, RODA_CONFIG_POW2, RODA_CONFIG_PORT */
        why = roda_config_parse_u64(value, u);
        *number = (double)*u;
        return why;
    }
}

roda_result_t roda_config_value_set(roda_config_t *config, const roda_config_field_t *f,
                                    const char *value, char *why, size_t size)
{
    char *base = (char *)config + f->offset;
    if (f->type == RODA_CONFIG_CHOICE)
        return set_choice(config, f, value, why, size);
    if (f->type >= RODA_CONFIG_BOOL) {
        const char *reason = set_other(config, f, value);
        if (reason == NULL)
            return RODA_SUCCESS;
        snprintf(why, size, "'%s' %s", value, reason);
        return RODA_ERROR_INVALID_ARG;
    }
    double number = 0;
    uint64_t u = 0;
    const char *reason = parse_number(f, value, &number, &u);
    if (reason != NULL) {
        snprintf(why, size, "'%s' %s", value, reason);
        return RODA_ERROR_INVALID_ARG;
    }
    bool low = f->type == RODA_CONFIG_DOUBLE ? number <= f->min : number < f->min;
    if (low || number > f->max) {
        char range[64];
        format_range(range, sizeof range, f);
        snprintf(why, size, "'%s' is out of range (%s)", value, range);
        return RODA_ERROR_INVALID_ARG;
    }
    if (f->type == RODA_CONFIG_POW2 && (u & (u - 1)) != 0) {
        snprintf(why, size, "'%s' is not a power of two (e.g. %" PRIu64 ")", value,
                 (uint64_t)1 << (63 - __builtin_clzll(u)));
        return RODA_ERROR_INVALID_ARG;
    }
    switch (f->type) {
    case RODA_CONFIG_U32:
        *(uint32_t *)base = (uint32_t)u;
        break;
    case RODA_CONFIG_PORT:
        *(uint16_t *)base = (uint16_t)u;
        break;
    case RODA_CONFIG_DURATION:
        *(uint64_t *)base = (uint64_t)llround(number * 1e9);
        break;
    case RODA_CONFIG_DOUBLE:
        memcpy(base, &number, sizeof number);
        break;
    default: /* RODA_CONFIG_POW2, RODA_CONFIG_BYTES */
        *(uint64_t *)base = (uint64_t)number;
        break;
    }
    return RODA_SUCCESS;
}
