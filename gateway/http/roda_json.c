/* roda_json.c - bounded JSON writer (see roda_json.h). */
#include "roda_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void roda_json_init(roda_json_t *json, char *buf, size_t capacity)
{
    memset(json, 0, sizeof *json);
    json->buf = buf;
    json->capacity = capacity;
    buf[0] = '\0';
}

bool roda_json_ok(const roda_json_t *json)
{
    return !json->overflow && json->depth == 0;
}

static void put(roda_json_t *json, const char *text, size_t n)
{
    if (json->overflow)
        return;
    if (json->len + n + 1 > json->capacity) {
        json->overflow = true;
        return;
    }
    memcpy(json->buf + json->len, text, n);
    json->len += n;
    json->buf[json->len] = '\0';
}

/* Separates this value from the previous one in its container. */
static void begin_value(roda_json_t *json)
{
    if (json->after_key) {
        json->after_key = false;
        return;
    }
    if (json->depth > 0) {
        if (json->has_items[json->depth - 1])
            put(json, ",", 1);
        json->has_items[json->depth - 1] = true;
    }
}

static void open_container(roda_json_t *json, const char *bracket)
{
    begin_value(json);
    if (json->depth == RODA_JSON_MAX_DEPTH) {
        json->overflow = true;
        return;
    }
    put(json, bracket, 1);
    json->has_items[json->depth++] = false;
}

static void close_container(roda_json_t *json, const char *bracket)
{
    if (json->depth == 0) {
        json->overflow = true;
        return;
    }
    json->depth--;
    put(json, bracket, 1);
}

void roda_json_object_begin(roda_json_t *json)
{
    open_container(json, "{");
}

void roda_json_object_end(roda_json_t *json)
{
    close_container(json, "}");
}

void roda_json_array_begin(roda_json_t *json)
{
    open_container(json, "[");
}

void roda_json_array_end(roda_json_t *json)
{
    close_container(json, "]");
}

static void put_string(roda_json_t *json, const char *value)
{
    static const char hex[] = "0123456789abcdef";
    put(json, "\"", 1);
    const char *run = value;
    for (const char *p = value; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(json, run, (size_t)(p - run));
        run = p + 1;
        char escaped[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        if (c == '"' || c == '\\') {
            escaped[1] = (char)c;
            put(json, escaped, 2);
        } else if (c == '\n') {
            put(json, "\\n", 2);
        } else if (c == '\t') {
            put(json, "\\t", 2);
        } else if (c == '\r') {
            put(json, "\\r", 2);
        } else {
            put(json, escaped, 6);
        }
    }
    put(json, run, strlen(run));
    put(json, "\"", 1);
}

void roda_json_key(roda_json_t *json, const char *key)
{
    begin_value(json);
    put_string(json, key);
    put(json, ":", 1);
    json->after_key = true;
}

void roda_json_string(roda_json_t *json, const char *value)
{
    begin_value(json);
    put_string(json, value);
}

static void put_formatted(roda_json_t *json, const char *text, int n)
{
    if (n > 0)
        put(json, text, (size_t)n);
}

void roda_json_u64(roda_json_t *json, uint64_t value)
{
    char text[24];
    begin_value(json);
    put_formatted(json, text, snprintf(text, sizeof text, "%" PRIu64, value));
}

void roda_json_i64(roda_json_t *json, int64_t value)
{
    char text[24];
    begin_value(json);
    put_formatted(json, text, snprintf(text, sizeof text, "%" PRId64, value));
}

void roda_json_float(roda_json_t *json, float value)
{
    char text[32];
    begin_value(json);
    if (!isfinite(value)) {
        put(json, "null", 4);
        return;
    }
    put_formatted(json, text, snprintf(text, sizeof text, "%.7g", (double)value));
}

void roda_json_double(roda_json_t *json, double value)
{
    char text[32];
    begin_value(json);
    if (!isfinite(value)) {
        put(json, "null", 4);
        return;
    }
    /* The shortest of 15 or 17 digits that reads back as the same double. */
    int n = snprintf(text, sizeof text, "%.15g", value);
    if (strtod(text, NULL) != value)
        n = snprintf(text, sizeof text, "%.17g", value);
    put_formatted(json, text, n);
}

void roda_json_bool(roda_json_t *json, bool value)
{
    begin_value(json);
    put(json, value ? "true" : "false", value ? 4 : 5);
}

void roda_json_null(roda_json_t *json)
{
    begin_value(json);
    put(json, "null", 4);
}
