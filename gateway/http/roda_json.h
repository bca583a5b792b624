/* roda_json.h - a bounded JSON writer into a caller's buffer, for the HTTP responses and the SSE
 * alert events.
 *
 * The writer never allocates: it appends into the `capacity` bytes it was given and keeps the
 * text NUL-terminated. When a value does not fit, the writer sets `overflow`, stops appending and
 * the caller answers with an error instead of sending half a document (roda_json_ok()). Commas
 * between members and elements are inserted automatically; nesting is bounded by
 * RODA_JSON_MAX_DEPTH (deeper opens set `overflow` too).
 *
 * Strings are escaped per RFC 8259 (quote, backslash, control characters as \u00XX); bytes >= 0x80
 * are copied as they are. Non-finite doubles are written as null (JSON has no NaN).
 *
 * Threads: one writer per thread; no shared state. */
#ifndef RODA_JSON_H
#define RODA_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RODA_JSON_MAX_DEPTH 16

typedef struct roda_json {
    char *buf;
    size_t capacity; /* bytes of buf, including the terminating NUL */
    size_t len;      /* bytes written, excluding the NUL */
    bool overflow;   /* something did not fit: the document is incomplete */
    uint32_t depth;
    bool after_key;                      /* the next value completes a member */
    bool has_items[RODA_JSON_MAX_DEPTH]; /* the open container already holds a value */
} roda_json_t;

/* Starts an empty document in `buf` (`capacity` >= 1). */
void roda_json_init(roda_json_t *json, char *buf, size_t capacity);
/* True when the document fits and every container was closed. */
bool roda_json_ok(const roda_json_t *json);

void roda_json_object_begin(roda_json_t *json);
void roda_json_object_end(roda_json_t *json);
void roda_json_array_begin(roda_json_t *json);
void roda_json_array_end(roda_json_t *json);
/* A member name inside an object; the next value call gives its value. */
void roda_json_key(roda_json_t *json, const char *key);

void roda_json_string(roda_json_t *json, const char *value);
void roda_json_u64(roda_json_t *json, uint64_t value);
void roda_json_i64(roda_json_t *json, int64_t value);
void roda_json_double(roda_json_t *json, double value);
/* A float to 7 significant digits (chart points: short, not exact). */
void roda_json_float(roda_json_t *json, float value);
void roda_json_bool(roda_json_t *json, bool value);
void roda_json_null(roda_json_t *json);

#endif
