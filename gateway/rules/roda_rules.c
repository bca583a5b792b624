/* roda_rules.c - rule evaluation, alert lifecycle and reload (see roda_rules.h). */
#include "roda_rules.h"

#include "roda_counter.h"

#include "roda_prefault.h"

#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PAIR_OK = 0, PAIR_FIRING = 1, PAIR_SUPPRESSED = 2 };
enum { SCOPE_UNKNOWN = 0, SCOPE_IN = 1, SCOPE_OUT = 2 };

/* Alert state of one (sensor, rule) pair. */
typedef struct pair {
    uint64_t fired_ns;   /* ingest time of the last emitted firing */
    uint32_t suppressed; /* firings held back since then */
    uint8_t state;
    uint8_t scope;
    uint8_t has_fired;
    /* DEVICE rules, bit per term: a (sensor, rule) pair's the terms the sensor's name feeds; a
     * (device, rule) pair's the terms whose value is known. */
    uint8_t terms;
} pair_t;

_Static_assert(sizeof(pair_t) == 16, "pair_t is 16 bytes");
_Static_assert(RODA_RULE_MAX_TERMS <= 8, "a term is a bit of pair_t.terms");

/* A DEVICE rule's state for one device: its alert state (pair.terms: the known values) and the
 * newest value of each term's sensor. */
typedef struct device_pair {
    pair_t pair;
    double values[RODA_RULE_MAX_TERMS];
} device_pair_t;

_Static_assert(sizeof(device_pair_t) == 48, "device_pair_t is 48 bytes");

/* What the stale scan needs of each sensor. */
typedef struct sensor {
    uint64_t sensor_id;
    uint64_t ingest_time_ns;
    int64_t device_time_us;
    double last;
    uint32_t device;
    uint32_t seen;
} sensor_t;

typedef struct counters {
    _Atomic uint64_t fired;
    _Atomic uint64_t resolved;
    _Atomic uint64_t suppressed;
    _Atomic uint64_t not_evaluable;
    _Atomic uint64_t active;
} counters_t;

struct roda_rules {
    uint32_t count;
    uint32_t max_rules;
    uint32_t max_sensors;
    uint32_t stale_rules; /* how many rules are STALE: the tick does nothing without one */
    uint32_t tick_cursor;
    roda_rules_device_name_fn device_name;
    roda_rules_sensor_name_fn sensor_name;
    void *context;
    pthread_mutex_t lock; /* rules[], counters[] and names against readers during reload */
    roda_rule_t *rules;   /* [max_rules] */
    uint16_t generation;  /* of rules[]: +1 per reload */
    /* Names of the last RODA_RULES_NAME_HISTORY generations: [generation % history][max_rules]. */
    char (*names)[RODA_RULE_NAME_MAX];
    uint32_t name_counts[RODA_RULES_NAME_HISTORY];
    counters_t *counters; /* [max_rules] */
    pair_t *pairs;        /* [max_sensors][max_rules] */
    pair_t *row;          /* [max_rules]: reload's scratch row */
    sensor_t *sensors;    /* [max_sensors] */
    /* Windows (fixed by create): window_state holds max_sensors hot rows (per window a
     * WINDOW_BLOCK: its previous values, then its head), then max_sensors body rows of
     * `window_body` bytes (window w's body at window_body_offset[w]); see window_rows.
     * rule_window[i]: the window of rule i (NO_WINDOW: none); window_reads[w]: bit (1 << value)
     * per statistic its rules read. */
    uint32_t window_count;
    roda_twindow_spec_t windows[RODA_RULES_WINDOWS];
    size_t window_body_offset[RODA_RULES_WINDOWS];
    size_t window_body;
    size_t window_bytes; /* per sensor: hot row and body row */
    uint8_t *window_state;
    uint8_t rule_window[RODA_RULES_MAX];
    uint32_t window_reads[RODA_RULES_WINDOWS];
    /* DEVICE rules (as many as create was given): [max_devices][device_columns] states;
     * device_column[i]: rule i's column (NO_COLUMN: not a DEVICE rule). */
    uint32_t max_devices;
    uint32_t device_columns;
    device_pair_t *device_pairs;
    uint8_t device_column[RODA_RULES_MAX];
    _Atomic uint64_t bad_index;
    _Atomic uint64_t lost_output;
};

static const char *const kind_names[] = {"above", "below", "jump", "rate", "stale", "device"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == RODA_RULE_KIND_COUNT, "a name per kind");
static const char *const severity_names[] = {"info", "warning", "critical"};
static const char *const value_names[] = {"last",  "mean", "ewma", "min", "max", "stddev",
                                          "slope", "p50",  "p90",  "p95", "p99"};
_Static_assert(sizeof value_names / sizeof value_names[0] == RODA_RULE_VALUE_COUNT,
               "a name per value");

#define NO_WINDOW 0xFFu
#define NO_COLUMN 0xFFu

const char *roda_rule_kind_name(roda_rule_kind_t kind)
{
    return (unsigned)kind < RODA_RULE_KIND_COUNT ? kind_names[kind] : "unknown";
}

const char *roda_severity_name(roda_severity_t severity)
{
    return (unsigned)severity < RODA_SEVERITY_COUNT ? severity_names[severity] : "unknown";
}

const char *roda_rule_value_name(roda_rule_value_t value)
{
    return (unsigned)value < RODA_RULE_VALUE_COUNT ? value_names[value] : "unknown";
}

/* Index of `name` in `names` (count entries), or -1. */
static int name_index(const char *name, const char *const *names, int count)
{
    for (int i = 0; i < count; i++) {
        if (strcmp(name, names[i]) == 0)
            return i;
    }
    return -1;
}

roda_result_t roda_rule_kind_from_name(const char *name, roda_rule_kind_t *kind)
{
    int i = name_index(name, kind_names, RODA_RULE_KIND_COUNT);
    if (i < 0)
        return RODA_ERROR_INVALID_ARG;
    *kind = (roda_rule_kind_t)i;
    return RODA_SUCCESS;
}

roda_result_t roda_severity_from_name(const char *name, roda_severity_t *severity)
{
    int i = name_index(name, severity_names, RODA_SEVERITY_COUNT);
    if (i < 0)
        return RODA_ERROR_INVALID_ARG;
    *severity = (roda_severity_t)i;
    return RODA_SUCCESS;
}

roda_result_t roda_rule_value_from_name(const char *name, roda_rule_value_t *value)
{
    int i = name_index(name, value_names, RODA_RULE_VALUE_COUNT);
    if (i < 0)
        return RODA_ERROR_INVALID_ARG;
    *value = (roda_rule_value_t)i;
    return RODA_SUCCESS;
}

const char *roda_alert_state_name(roda_alert_state_t state)
{
    return state == RODA_ALERT_FIRING     ? "firing"
           : state == RODA_ALERT_RESOLVED ? "resolved"
                                          : "unknown";
}

/* Single-writer counter (roda_counter.h); a negative delta subtracts. */
static inline void bump(_Atomic uint64_t *counter, int64_t delta)
{
    roda_counter_add(counter, (uint64_t)delta);
}

/* Per sensor and window, the statistics its rules read as they were after the sensor's previous
 * summary: room for a double per window statistic (mean, min, max, stddev, slope, p50 .. p99),
 * holding those the rules read (window_previous). With the window's head they are its hot block
 * (WINDOW_BLOCK bytes): the first statistic read, the head, the others. A reading in the newest
 * bucket of a mean window touches the block's first 120 bytes, one aligned pair of cache lines
 * (the pair an adjacent-line prefetch fetches together). The window's body (ring and sketch,
 * touched once per hop) is kept apart, so that the hot blocks of many sensors share the cache. */
#define PREVIOUS_VALUES 9u
#define ROW_ALIGN 128u /* hot blocks: a pair of cache lines */
#define LINE 64u       /* body rows: whole cache lines */
#define WINDOW_BLOCK                                                                               \
    ((PREVIOUS_VALUES * sizeof(double) + sizeof(roda_twindow_head_t) + ROW_ALIGN - 1) /            \
     ROW_ALIGN * ROW_ALIGN)
_Static_assert(
    sizeof(double) + offsetof(roda_twindow_head_t, rest.ends) <= ROW_ALIGN,
    "the first previous value, the newest bucket and the rest's moments share a line pair");
_Static_assert(WINDOW_BLOCK == 256, "a hot block is 256 bytes (roda_rules.h)");

/* The statistics (RODA_TWINDOW_*) behind each value. */
static const uint32_t value_stats[RODA_RULE_VALUE_COUNT] = {
    [RODA_RULE_VALUE_MEAN] = RODA_TWINDOW_MEAN,   [RODA_RULE_VALUE_MIN] = RODA_TWINDOW_MIN,
    [RODA_RULE_VALUE_MAX] = RODA_TWINDOW_MAX,     [RODA_RULE_VALUE_STDDEV] = RODA_TWINDOW_STDDEV,
    [RODA_RULE_VALUE_SLOPE] = RODA_TWINDOW_SLOPE, [RODA_RULE_VALUE_P50] = RODA_TWINDOW_P50,
    [RODA_RULE_VALUE_P90] = RODA_TWINDOW_P90,     [RODA_RULE_VALUE_P95] = RODA_TWINDOW_P95,
    [RODA_RULE_VALUE_P99] = RODA_TWINDOW_P99,
};

/* The window a rule's statistic needs (buckets 0 for a rule without one). */
static roda_twindow_spec_t rule_spec(const roda_rule_t *rule)
{
    if (rule->window_ns == 0 || rule->hop_ns == 0)
        return (roda_twindow_spec_t){0};
    return (roda_twindow_spec_t){.hop_ns = rule->hop_ns,
                                 .buckets = (uint32_t)(rule->window_ns / rule->hop_ns),
                                 .sketch = rule->value >= RODA_RULE_VALUE_P50};
}

/* The distinct windows of `rules` (same hop and buckets: one window, with a sketch if any of its
 * rules wants a quantile) in specs[]; returns how many, RODA_RULES_WINDOWS + 1 when too many. */
static uint32_t window_specs(const roda_rule_t *rules, uint32_t count,
                             roda_twindow_spec_t specs[RODA_RULES_WINDOWS])
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < count; i++) {
        roda_twindow_spec_t want = rule_spec(&rules[i]);
        if (want.buckets == 0)
            continue;
        uint32_t w = 0;
        while (w < n && (specs[w].hop_ns != want.hop_ns || specs[w].buckets != want.buckets))
            w++;
        if (w == RODA_RULES_WINDOWS)
            return RODA_RULES_WINDOWS + 1;
        if (w == n)
            specs[n++] = want;
        specs[w].sketch |= want.sketch;
    }
    return n;
}

/* Per sensor bytes of these windows' bodies, rounded up to LINE (offsets[w]: window w's,
 * when not NULL). */
static size_t body_layout(const roda_twindow_spec_t *specs, uint32_t n, size_t *offsets)
{
    size_t bytes = 0;
    for (uint32_t w = 0; w < n; w++) {
        if (offsets != NULL)
            offsets[w] = bytes;
        bytes += roda_twindow_body_size(&specs[w]);
    }
    return (bytes + LINE - 1) / LINE * LINE;
}

/* Per sensor bytes of these windows: a hot block each and the bodies. */
static size_t window_layout(const roda_twindow_spec_t *specs, uint32_t n)
{
    return n * WINDOW_BLOCK + body_layout(specs, n, NULL);
}

uint32_t roda_rules_window_count(const roda_rule_t *rules, uint32_t count)
{
    roda_twindow_spec_t specs[RODA_RULES_WINDOWS];
    return window_specs(rules, count, specs);
}

size_t roda_rules_window_memory(const roda_rule_t *rules, uint32_t count, uint32_t max_sensors)
{
    roda_twindow_spec_t specs[RODA_RULES_WINDOWS];
    uint32_t n = window_specs(rules, count, specs);
    return n > RODA_RULES_WINDOWS ? 0 : (size_t)max_sensors * window_layout(specs, n);
}

/* How many of `rules` are DEVICE rules. */
static uint32_t device_rules(const roda_rule_t *rules, uint32_t count)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < count; i++)
        n += rules[i].kind == RODA_RULE_DEVICE;
    return n;
}

size_t roda_rules_device_memory(const roda_rule_t *rules, uint32_t count, uint32_t max_devices)
{
    return (size_t)max_devices * device_rules(rules, count) * sizeof(device_pair_t);
}

size_t roda_rules_memory(const roda_rule_t *rules, uint32_t count, uint32_t max_rules,
                         uint32_t max_sensors, uint32_t max_devices)
{
    return sizeof(roda_rules_t) + (size_t)max_rules * (sizeof(roda_rule_t) + sizeof(counters_t)) +
           (size_t)max_sensors * max_rules * sizeof(pair_t) + (size_t)max_rules * sizeof(pair_t) +
           (size_t)max_sensors * sizeof(sensor_t) +
           roda_rules_window_memory(rules, count, max_sensors) +
           roda_rules_device_memory(rules, count, max_devices);
}

/* Columns of the DEVICE rules among `rules` (from[i]: the old rule that rule i keeps, or -1): a
 * kept one keeps its column (its bit set in *kept), a new one takes a free column. False when
 * the set has too few columns. */
static bool map_columns(const roda_rules_t *r, const roda_rule_t *rules, uint32_t count,
                        const int32_t *from, uint8_t *column, uint64_t *kept)
{
    *kept = 0;
    for (uint32_t i = 0; i < count; i++) {
        column[i] = NO_COLUMN;
        if (rules[i].kind == RODA_RULE_DEVICE && from[i] >= 0) {
            column[i] = r->device_column[from[i]];
            *kept |= 1ull << column[i];
        }
    }
    uint64_t used = *kept;
    for (uint32_t i = 0; i < count; i++) {
        if (rules[i].kind != RODA_RULE_DEVICE || from[i] >= 0)
            continue;
        uint32_t c = 0;
        while (c < r->device_columns && (used & (1ull << c)) != 0)
            c++;
        if (c == r->device_columns)
            return false;
        column[i] = (uint8_t)c;
        used |= 1ull << c;
    }
    return true;
}

/* Maps each rule to its window and gathers what each window's rules read (reads[w]); false when
 * one needs a window the set lacks. */
static bool map_windows(roda_rules_t *r, const roda_rule_t *rules, uint32_t count,
                        uint8_t *rule_window, uint32_t reads[RODA_RULES_WINDOWS])
{
    memset(reads, 0, RODA_RULES_WINDOWS * sizeof *reads);
    for (uint32_t i = 0; i < count; i++) {
        roda_twindow_spec_t want = rule_spec(&rules[i]);
        rule_window[i] = NO_WINDOW;
        for (uint32_t w = 0; w < r->window_count && want.buckets != 0; w++) {
            const roda_twindow_spec_t *have = &r->windows[w];
            if (have->hop_ns == want.hop_ns && have->buckets == want.buckets &&
                have->sketch >= want.sketch)
                rule_window[i] = (uint8_t)w;
        }
        if (want.buckets != 0 && rule_window[i] == NO_WINDOW)
            return false;
        if (rule_window[i] != NO_WINDOW)
            reads[rule_window[i]] |= 1u << rules[i].value;
    }
    return true;
}

/* A sensor's window rows: hot (the windows' hot blocks) and body. */
typedef struct window_rows {
    uint8_t *hot;
    uint8_t *body;
} window_rows_t;

static window_rows_t window_rows(const roda_rules_t *r, uint32_t index)
{
    uint8_t *bodies = r->window_state + (size_t)r->max_sensors * r->window_count * WINDOW_BLOCK;
    return (window_rows_t){r->window_state + (size_t)index * r->window_count * WINDOW_BLOCK,
                           bodies + (size_t)index * r->window_body};
}

/* Window `w`'s hot block, head and body in a sensor's rows. */
static uint8_t *window_block(window_rows_t rows, uint32_t w)
{
    return rows.hot + w * WINDOW_BLOCK;
}
static roda_twindow_head_t *window_head(window_rows_t rows, uint32_t w)
{
    return (roda_twindow_head_t *)(void *)(window_block(rows, w) + sizeof(double));
}
static uint8_t *window_body(const roda_rules_t *r, window_rows_t rows, uint32_t w)
{
    return rows.body + r->window_body_offset[w];
}

/* Where a window's hot block keeps window statistic `value` after the previous summary, when
 * its rules read the statistics `reads` (bit 1 << value each): the lowest one read right before
 * the head (in the head's pair of lines), the others after it, in the order of their values. */
static double *window_previous(uint8_t *block, uint32_t reads, roda_rule_value_t value)
{
    uint32_t slot = (uint32_t)__builtin_popcount(reads & ((1u << value) - 1u));
    if (slot == 0)
        return (double *)(void *)block;
    return (double *)(void *)(block + sizeof(double) + sizeof(roda_twindow_head_t)) + (slot - 1);
}

/* A reload's rules read the statistics `reads` of each window: sensor `index`'s previous values
 * move to their places among those, and a statistic that no rule read before has none (NaN)
 * until the sensor's next summary. */
static void move_previous(const roda_rules_t *r, uint32_t index,
                          const uint32_t reads[RODA_RULES_WINDOWS])
{
    for (uint32_t w = 0; w < r->window_count; w++) {
        uint32_t before = r->window_reads[w];
        if (reads[w] == before)
            continue;
        uint8_t *block = window_block(window_rows(r, index), w);
        double kept[RODA_RULE_VALUE_COUNT] = {0};
        for (uint32_t m = before; m != 0; m &= m - 1) {
            roda_rule_value_t value = (roda_rule_value_t)__builtin_ctz(m);
            kept[value] = *window_previous(block, before, value);
        }
        for (uint32_t m = reads[w]; m != 0; m &= m - 1) {
            roda_rule_value_t value = (roda_rule_value_t)__builtin_ctz(m);
            *window_previous(block, reads[w], value) = (before >> value) & 1u ? kept[value] : NAN;
        }
    }
}

/* Why a rule's terms are invalid (NULL: they are not): see roda_rule_validate. */
static const char *terms_invalid(const roda_rule_t *rule)
{
    if (rule->kind != RODA_RULE_DEVICE)
        return rule->term_count == 0 ? NULL : "only a device rule has terms (when)";
    if (rule->term_count < 2 || rule->term_count > RODA_RULE_MAX_TERMS)
        return "a device rule has 2 to 4 terms (when = NAME above|below NUMBER and ...)";
    if (rule->sensor_count != 0 || rule->name_glob[0] != '\0')
        return "a device rule's terms name its sensors (no sensors or names)";
    for (uint32_t t = 0; t < rule->term_count; t++) {
        const roda_rule_term_t *term = &rule->terms[t];
        if (term->sensor[0] == '\0' || memchr(term->sensor, '\0', RODA_RULE_TERM_NAME_MAX) == NULL)
            return "a term's sensor name has 1 to 63 bytes";
        if (!isfinite(term->threshold) || term->below > 1)
            return "a term is NAME above|below a finite NUMBER";
    }
    return NULL;
}

roda_result_t roda_rule_validate(const roda_rule_t *rule, const char **why)
{
    *why = NULL;
    if (rule->name[0] == '\0' || memchr(rule->name, '\0', RODA_RULE_NAME_MAX) == NULL)
        *why = "name must be 1..47 bytes";
    else if ((unsigned)rule->kind >= RODA_RULE_KIND_COUNT)
        *why = "unknown kind";
    else if ((unsigned)rule->severity >= RODA_SEVERITY_COUNT)
        *why = "unknown severity";
    else if ((unsigned)rule->value >= RODA_RULE_VALUE_COUNT)
        *why = "unknown value";
    else if (rule->window_ns != 0 && (rule->hop_ns == 0 || rule->window_ns % rule->hop_ns != 0 ||
                                      rule->window_ns / rule->hop_ns > RODA_TWINDOW_MAX_BUCKETS))
        *why = "a window's length must be 1 to 60 whole hops";
    else if (rule->window_ns != 0 && rule->kind == RODA_RULE_DEVICE)
        *why = "a device rule compares the newest values (last, mean or ewma), not a window";
    else if (rule->window_ns != 0 &&
             (rule->kind == RODA_RULE_STALE || rule->value == RODA_RULE_VALUE_LAST ||
              rule->value == RODA_RULE_VALUE_EWMA))
        *why = "a window takes mean, min, max, stddev, slope, p50, p90, p95 or p99";
    else if (rule->window_ns == 0 && rule->value > RODA_RULE_VALUE_EWMA)
        *why = "this value needs a window (value = STAT over DURATION)";
    else if (!isfinite(rule->threshold))
        *why = "threshold must be a finite number";
    else if (rule->kind == RODA_RULE_JUMP && rule->threshold <= 1.0)
        *why = "a jump factor must be greater than 1";
    else if ((rule->kind == RODA_RULE_RATE || rule->kind == RODA_RULE_STALE) &&
             rule->threshold <= 0.0)
        *why = "must be greater than 0";
    else if (!isfinite(rule->hysteresis) || rule->hysteresis < 0.0)
        *why = "hysteresis must be >= 0";
    else if ((rule->kind == RODA_RULE_JUMP || rule->kind == RODA_RULE_RATE) &&
             rule->hysteresis >= rule->threshold)
        *why = "hysteresis must be below the threshold";
    else if (rule->sensor_count > RODA_RULE_MAX_SENSOR_IDS)
        *why = "too many sensor ids";
    else if (memchr(rule->device_glob, '\0', RODA_RULE_GLOB_MAX) == NULL)
        *why = "device glob too long";
    else if (memchr(rule->name_glob, '\0', RODA_RULE_GLOB_MAX) == NULL)
        *why = "name glob too long";
    else
        *why = terms_invalid(rule);
    return *why == NULL ? RODA_SUCCESS : RODA_ERROR_INVALID_ARG;
}

static roda_result_t validate_set(const roda_rule_t *rules, uint32_t count)
{
    const char *why;
    for (uint32_t i = 0; i < count; i++) {
        if (roda_rule_validate(&rules[i], &why) != RODA_SUCCESS)
            return RODA_ERROR_INVALID_ARG;
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(rules[i].name, rules[j].name) == 0)
                return RODA_ERROR_INVALID_ARG;
        }
    }
    return RODA_SUCCESS;
}

static void count_stale(roda_rules_t *r)
{
    r->stale_rules = 0;
    for (uint32_t i = 0; i < r->count; i++)
        r->stale_rules += r->rules[i].kind == RODA_RULE_STALE;
}

/* Records the names of the current rule set under its generation (the caller holds the lock or
 * is create). */
static void remember_names(roda_rules_t *r)
{
    uint32_t slot = r->generation % RODA_RULES_NAME_HISTORY;
    for (uint32_t i = 0; i < r->count; i++)
        memcpy(r->names[(size_t)slot * r->max_rules + i], r->rules[i].name, RODA_RULE_NAME_MAX);
    r->name_counts[slot] = r->count;
}

/* Frees what create allocated (any of it may be NULL); the lock is the caller's business. */
static void free_rules(roda_rules_t *r)
{
    free(r->names);
    free(r->rules);
    free(r->counters);
    free(r->pairs);
    free(r->row);
    free(r->sensors);
    free(r->window_state);
    free(r->device_pairs);
    free(r);
}

roda_result_t roda_rules_create(const roda_rule_t *rules, uint32_t count, uint32_t max_rules,
                                uint32_t max_sensors, uint32_t max_devices,
                                roda_rules_device_name_fn device_name,
                                roda_rules_sensor_name_fn sensor_name, void *context,
                                roda_rules_t **out)
{
    *out = NULL;
    if (max_rules == 0 || max_rules > RODA_RULES_MAX || max_sensors == 0 || max_devices == 0 ||
        count > max_rules || validate_set(rules, count) != RODA_SUCCESS)
        return RODA_ERROR_INVALID_ARG;
    roda_twindow_spec_t specs[RODA_RULES_WINDOWS];
    uint32_t windows = window_specs(rules, count, specs);
    if (windows > RODA_RULES_WINDOWS)
        return RODA_ERROR_INVALID_ARG;
    roda_rules_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return RODA_ERROR_NOMEM;
    r->window_count = windows;
    memcpy(r->windows, specs, windows * sizeof specs[0]);
    r->window_body = body_layout(specs, windows, r->window_body_offset);
    r->window_bytes = window_layout(specs, windows);
    void *window_state = NULL;
    if (r->window_bytes != 0 &&
        posix_memalign(&window_state, ROW_ALIGN, (size_t)max_sensors * r->window_bytes) == 0)
        r->window_state = window_state;
    r->rules = calloc(max_rules, sizeof *r->rules);
    r->counters = calloc(max_rules, sizeof *r->counters);
    r->pairs = calloc((size_t)max_sensors * max_rules, sizeof *r->pairs);
    r->row = calloc(max_rules, sizeof *r->row);
    r->sensors = calloc(max_sensors, sizeof *r->sensors);
    r->names = calloc((size_t)RODA_RULES_NAME_HISTORY * max_rules, sizeof *r->names);
    r->max_devices = max_devices;
    r->device_columns = device_rules(rules, count);
    if (r->device_columns != 0)
        r->device_pairs = calloc((size_t)max_devices * r->device_columns, sizeof *r->device_pairs);
    if (r->rules == NULL || r->counters == NULL || r->pairs == NULL || r->row == NULL ||
        r->sensors == NULL || r->names == NULL ||
        (r->window_bytes != 0 && r->window_state == NULL) ||
        (r->device_columns != 0 && r->device_pairs == NULL) ||
        pthread_mutex_init(&r->lock, NULL) != 0) {
        free_rules(r);
        return RODA_ERROR_NOMEM;
    }
    /* Resident now: the rules stage must not page-fault when a new sensor arrives. */
    roda_prefault_zeroed(r->pairs, (size_t)max_sensors * max_rules * sizeof *r->pairs);
    roda_prefault_zeroed(r->sensors, (size_t)max_sensors * sizeof *r->sensors);
    if (r->window_state != NULL) /* empty windows, resident */
        memset(r->window_state, 0, (size_t)max_sensors * r->window_bytes);
    if (r->device_pairs != NULL)
        roda_prefault_zeroed(r->device_pairs,
                             (size_t)max_devices * r->device_columns * sizeof *r->device_pairs);
    memcpy(r->rules, rules, count * sizeof *rules);
    /* Fits: the windows are the rules'. */
    (void)map_windows(r, rules, count, r->rule_window, r->window_reads);
    int32_t none[RODA_RULES_MAX];
    uint64_t kept;
    for (uint32_t i = 0; i < count; i++)
        none[i] = -1;
    (void)map_columns(r, rules, count, none, r->device_column, &kept); /* fits: as many */
    r->count = count;
    r->max_rules = max_rules;
    remember_names(r);
    r->max_sensors = max_sensors;
    r->device_name = device_name;
    r->sensor_name = sensor_name;
    r->context = context;
    count_stale(r);
    *out = r;
    return RODA_SUCCESS;
}

void roda_rules_destroy(roda_rules_t *r)
{
    if (r == NULL)
        return;
    pthread_mutex_destroy(&r->lock);
    free_rules(r);
}

/* Whether two rules' terms name the same sensors in the same order (`limits`: and have the same
 * directions and thresholds). */
static bool same_terms(const roda_rule_t *a, const roda_rule_t *b, bool limits)
{
    if (a->term_count != b->term_count)
        return false;
    for (uint32_t t = 0; t < a->term_count; t++) {
        const roda_rule_term_t *x = &a->terms[t], *y = &b->terms[t];
        if (strcmp(x->sensor, y->sensor) != 0 ||
            (limits && (x->below != y->below || x->threshold != y->threshold)))
            return false;
    }
    return true;
}

static bool same_scope(const roda_rule_t *a, const roda_rule_t *b)
{
    return a->kind == b->kind && a->sensor_count == b->sensor_count &&
           memcmp(a->sensors, b->sensors, a->sensor_count * sizeof a->sensors[0]) == 0 &&
           strcmp(a->device_glob, b->device_glob) == 0 && strcmp(a->name_glob, b->name_glob) == 0 &&
           same_terms(a, b, false);
}

bool roda_rule_equal(const roda_rule_t *a, const roda_rule_t *b)
{
    return strcmp(a->name, b->name) == 0 && same_scope(a, b) && a->severity == b->severity &&
           a->value == b->value && a->window_ns == b->window_ns && a->hop_ns == b->hop_ns &&
           a->min_count == b->min_count && a->threshold == b->threshold &&
           a->hysteresis == b->hysteresis && a->holdoff_ns == b->holdoff_ns &&
           same_terms(a, b, true);
}

/* Empties every DEVICE column but the `kept` ones for every device; returns how many of those
 * were FIRING. */
static uint64_t reset_columns(roda_rules_t *r, uint64_t kept)
{
    uint64_t dropped = 0;
    for (uint32_t d = 0; d < r->max_devices; d++) {
        device_pair_t *row = r->device_pairs + (size_t)d * r->device_columns;
        for (uint32_t c = 0; c < r->device_columns; c++) {
            if ((kept & (1ull << c)) != 0)
                continue;
            dropped += row[c].pair.state == PAIR_FIRING;
            memset(&row[c], 0, sizeof row[c]);
        }
    }
    return dropped;
}

roda_result_t roda_rules_reload(roda_rules_t *r, const roda_rule_t *new_rules, uint32_t count,
                                uint64_t *dropped_active)
{
    if (count > r->max_rules)
        return RODA_ERROR_TOO_MANY;
    uint8_t rule_window[RODA_RULES_MAX];
    uint32_t reads[RODA_RULES_WINDOWS];
    if (validate_set(new_rules, count) != RODA_SUCCESS ||
        !map_windows(r, new_rules, count, rule_window, reads))
        return RODA_ERROR_INVALID_ARG;
    /* from[i]: the old column that new rule i keeps, or -1. */
    int32_t from[RODA_RULES_MAX];
    bool kept[RODA_RULES_MAX] = {false};
    for (uint32_t i = 0; i < RODA_RULES_MAX; i++)
        from[i] = -1;
    for (uint32_t i = 0; i < count; i++) {
        for (uint32_t j = 0; j < r->count; j++) {
            if (strcmp(new_rules[i].name, r->rules[j].name) == 0 &&
                same_scope(&new_rules[i], &r->rules[j])) {
                from[i] = (int32_t)j;
                kept[j] = true;
            }
        }
    }
    uint8_t column[RODA_RULES_MAX];
    uint64_t kept_columns;
    if (!map_columns(r, new_rules, count, from, column, &kept_columns))
        return RODA_ERROR_INVALID_ARG;
    uint64_t dropped = reset_columns(r, kept_columns);
    for (uint32_t s = 0; s < r->max_sensors; s++) {
        pair_t *row = r->pairs + (size_t)s * r->max_rules;
        memcpy(r->row, row, r->max_rules * sizeof *row);
        for (uint32_t j = 0; j < r->count; j++)
            dropped += !kept[j] && r->row[j].state == PAIR_FIRING;
        for (uint32_t i = 0; i < r->max_rules; i++) {
            if (i < count && from[i] >= 0)
                row[i] = r->row[from[i]];
            else
                memset(&row[i], 0, sizeof row[i]);
        }
        move_previous(r, s, reads);
    }
    pthread_mutex_lock(&r->lock);
    uint64_t saved[RODA_RULES_MAX][5];
    for (uint32_t j = 0; j < r->count; j++) {
        counters_t *c = &r->counters[j];
        saved[j][0] = atomic_load_explicit(&c->fired, memory_order_relaxed);
        saved[j][1] = atomic_load_explicit(&c->resolved, memory_order_relaxed);
        saved[j][2] = atomic_load_explicit(&c->suppressed, memory_order_relaxed);
        saved[j][3] = atomic_load_explicit(&c->not_evaluable, memory_order_relaxed);
        saved[j][4] = atomic_load_explicit(&c->active, memory_order_relaxed);
    }
    for (uint32_t i = 0; i < r->max_rules; i++) {
        counters_t *c = &r->counters[i];
        bool keep = i < count && from[i] >= 0;
        const uint64_t *v = keep ? saved[from[i]] : NULL;
        atomic_store_explicit(&c->fired, keep ? v[0] : 0, memory_order_relaxed);
        atomic_store_explicit(&c->resolved, keep ? v[1] : 0, memory_order_relaxed);
        atomic_store_explicit(&c->suppressed, keep ? v[2] : 0, memory_order_relaxed);
        atomic_store_explicit(&c->not_evaluable, keep ? v[3] : 0, memory_order_relaxed);
        atomic_store_explicit(&c->active, keep ? v[4] : 0, memory_order_relaxed);
    }
    memcpy(r->rules, new_rules, count * sizeof *new_rules);
    memcpy(r->rule_window, rule_window, count);
    memcpy(r->window_reads, reads, sizeof reads);
    memcpy(r->device_column, column, count);
    r->count = count;
    r->generation++;
    remember_names(r);
    pthread_mutex_unlock(&r->lock);
    count_stale(r);
    r->tick_cursor = 0;
    if (dropped_active != NULL)
        *dropped_active = dropped;
    return RODA_SUCCESS;
}

/* An empty glob matches anything, even no name; another only a name it matches. */
static bool glob_matches(const char *glob, const char *name)
{
    return glob[0] == '\0' || (name != NULL && fnmatch(glob, name, 0) == 0);
}

/* The terms of DEVICE rule `rule` that sensor name `name` feeds, a bit each. */
static uint8_t terms_named(const roda_rule_t *rule, const char *name)
{
    uint8_t terms = 0;
    for (uint32_t t = 0; t < rule->term_count && name != NULL; t++) {
        if (strcmp(rule->terms[t].sensor, name) == 0)
            terms |= (uint8_t)(1u << t);
    }
    return terms;
}

/* Whether the sensor is in the rule's scope (a DEVICE rule: pair->terms, the terms it feeds). */
static bool in_scope(roda_rules_t *r, const roda_rule_t *rule, pair_t *pair, uint64_t sensor_id,
                     uint32_t device)
{
    if (pair->scope == SCOPE_UNKNOWN) {
        bool in;
        if (rule->sensor_count > 0) {
            in = false;
            for (uint32_t i = 0; i < rule->sensor_count && !in; i++)
                in = rule->sensors[i] == sensor_id;
        } else {
            const char *name =
                r->sensor_name != NULL ? r->sensor_name(r->context, sensor_id) : NULL;
            pair->terms = rule->kind == RODA_RULE_DEVICE ? terms_named(rule, name) : 0;
            in = (rule->kind != RODA_RULE_DEVICE || pair->terms != 0) &&
                 glob_matches(rule->device_glob,
                              r->device_name != NULL ? r->device_name(r->context, device) : NULL) &&
                 glob_matches(rule->name_glob, name);
        }
        pair->scope = in ? SCOPE_IN : SCOPE_OUT;
    }
    return pair->scope == SCOPE_IN;
}

static double pick(const roda_summary_t *s, roda_rule_value_t which)
{
    return which == RODA_RULE_VALUE_MEAN   ? s->mean
           : which == RODA_RULE_VALUE_EWMA ? s->ewma
                                           : s->last;
}

double roda_rules_window_value(const roda_twindow_stats_t *s, roda_rule_value_t which)
{
    switch (which) {
    case RODA_RULE_VALUE_MEAN:
        return s->mean;
    case RODA_RULE_VALUE_MIN:
        return s->min;
    case RODA_RULE_VALUE_MAX:
        return s->max;
    case RODA_RULE_VALUE_STDDEV:
        return s->stddev;
    case RODA_RULE_VALUE_SLOPE:
        return s->slope;
    default: /* p50 .. p99 */
        return s->quantiles[which - RODA_RULE_VALUE_P50];
    }
}

/* Feeds the summary to the sensor's windows. */
static void windows_add(roda_rules_t *r, window_rows_t rows, const roda_summary_t *cur)
{
    for (uint32_t w = 0; w < r->window_count; w++)
        (void)roda_twindow_put(&r->windows[w], window_head(rows, w), window_body(r, rows, w),
                               cur->ingest_time_ns, cur->last);
}

/* The windows' statistics of one evaluation, computed on first use (those the rules read). */
typedef struct window_now {
    uint32_t computed; /* bit w: stats[w] holds window w's */
    roda_twindow_stats_t stats[RODA_RULES_WINDOWS];
} window_now_t;

/* Window rule i's value now (*v) and after the previous summary (*p); false when not evaluable
 * (no window, fewer readings than min_count). */
static bool window_values(roda_rules_t *r, uint32_t i, window_rows_t rows, uint64_t now_ns,
                          window_now_t *now, double *v, double *p)
{
    const roda_rule_t *rule = &r->rules[i];
    uint32_t w = r->rule_window[i];
    if (w == NO_WINDOW || rows.hot == NULL) /* a loaded rule set's window this set lacks */
        return false;
    if ((now->computed & (1u << w)) == 0) {
        uint32_t mask = 0;
        for (uint32_t reads = r->window_reads[w]; reads != 0; reads &= reads - 1)
            mask |= value_stats[__builtin_ctz(reads)];
        roda_twindow_stats_of(&r->windows[w], window_head(rows, w), window_body(r, rows, w), now_ns,
                              mask, &now->stats[w]);
        now->computed |= 1u << w;
    }
    *v = roda_rules_window_value(&now->stats[w], rule->value);
    *p = *window_previous(window_block(rows, w), r->window_reads[w], rule->value);
    /* JUMP and RATE compare with the previous statistic: NaN before the window held a value. */
    bool compares = rule->kind == RODA_RULE_JUMP || rule->kind == RODA_RULE_RATE;
    return now->stats[w].count >= rule->min_count && !isnan(*v) && !(compares && isnan(*p));
}

/* Keeps the values computed now as the previous ones of the next evaluation. */
static void windows_keep(const roda_rules_t *r, window_rows_t rows, const window_now_t *now)
{
    for (uint32_t w = 0; w < r->window_count; w++) {
        if ((now->computed & (1u << w)) == 0)
            continue;
        for (uint32_t reads = r->window_reads[w]; reads != 0; reads &= reads - 1) {
            roda_rule_value_t value = (roda_rule_value_t)__builtin_ctz(reads);
            *window_previous(window_block(rows, w), r->window_reads[w], value) =
                roda_rules_window_value(&now->stats[w], value);
        }
    }
}

/* Output sink of one evaluate/tick call. */
typedef struct sink {
    roda_alert_t *out;
    uint32_t max;
    uint32_t used;
} sink_t;

static void emit(roda_rules_t *r, sink_t *sink, uint32_t index, roda_alert_state_t state,
                 const sensor_t *sensor, double value, double previous, uint32_t suppressed)
{
    const roda_rule_t *rule = &r->rules[index];
    if (sink->used == sink->max) {
        bump(&r->lost_output, 1);
        return;
    }
    roda_alert_t *a = &sink->out[sink->used++];
    memset(a, 0, sizeof *a);
    a->sensor_id = sensor->sensor_id;
    a->value = value;
    a->previous = previous;
    a->threshold = rule->threshold;
    a->device_time_us = sensor->device_time_us;
    a->ingest_time_ns = sensor->ingest_time_ns;
    a->device = sensor->device;
    a->suppressed = suppressed;
    a->rule = (uint16_t)index;
    a->generation = r->generation;
    a->kind = (uint8_t)rule->kind;
    a->severity = (uint8_t)rule->severity;
    a->state = (uint8_t)state;
}

/* Whether a judgement changes a pair. Most summaries change nothing: firing while FIRING, or
 * neither firing nor clear, or clear while OK. */
static inline bool changes(const pair_t *pair, bool firing, bool clear)
{
    return firing ? pair->state != PAIR_FIRING : clear && pair->state != PAIR_OK;
}

/* Applies one judgement to a pair: `firing` (the condition holds), `clear` (it is cleared past the
 * hysteresis band); neither: inside the band, nothing changes. `now_ns` is the ingest clock. */
static void transition(roda_rules_t *r, sink_t *sink, uint32_t index, pair_t *pair, bool firing,
                       bool clear, uint64_t now_ns, const sensor_t *sensor, double value,
                       double previous)
{
    counters_t *c = &r->counters[index];
    const roda_rule_t *rule = &r->rules[index];
    if (firing && pair->state != PAIR_FIRING) {
        bool held = pair->has_fired && now_ns - pair->fired_ns < rule->holdoff_ns;
        if (held) {
            if (pair->state == PAIR_OK) {
                pair->state = PAIR_SUPPRESSED;
                pair->suppressed++;
                bump(&c->suppressed, 1);
            }
            return;
        }
        emit(r, sink, index, RODA_ALERT_FIRING, sensor, value, previous, pair->suppressed);
        pair->state = PAIR_FIRING;
        pair->fired_ns = now_ns;
        pair->has_fired = 1;
        pair->suppressed = 0;
        bump(&c->fired, 1);
        bump(&c->active, 1);
    } else if (clear && pair->state != PAIR_OK) {
        if (pair->state == PAIR_FIRING) {
            emit(r, sink, index, RODA_ALERT_RESOLVED, sensor, value, previous, 0);
            bump(&c->resolved, 1);
            bump(&c->active, -1);
        }
        pair->state = PAIR_OK;
    }
}

/* DEVICE rule `index` for the sensor's device: `value` becomes the newest of the `terms` it
 * feeds (!known: they are forgotten), then the rule is judged on the device's values. The alert
 * carries the sensor's id, `value` and times, and its first term's threshold. */
static void judge_device(roda_rules_t *r, sink_t *sink, uint32_t index, uint8_t terms, bool known,
                         const sensor_t *sensor, double value, uint64_t now_ns)
{
    const roda_rule_t *rule = &r->rules[index];
    if (sensor->device >= r->max_devices || r->device_column[index] == NO_COLUMN) {
        bump(&r->bad_index, 1);
        return;
    }
    device_pair_t *d =
        &r->device_pairs[(size_t)sensor->device * r->device_columns + r->device_column[index]];
    d->pair.terms = known ? d->pair.terms | terms : d->pair.terms & (uint8_t)~terms;
    bool firing = true, clear = false;
    for (uint32_t t = 0; t < rule->term_count; t++) {
        const roda_rule_term_t *term = &rule->terms[t];
        if ((terms & (1u << t)) != 0)
            d->values[t] = value;
        double v = d->values[t];
        if ((d->pair.terms & (1u << t)) == 0) {
            firing = false;
            clear = true;
        } else if (term->below) {
            firing = firing && v < term->threshold;
            clear = clear || v >= term->threshold + rule->hysteresis;
        } else {
            firing = firing && v > term->threshold;
            clear = clear || v <= term->threshold - rule->hysteresis;
        }
    }
    if (!changes(&d->pair, firing, clear))
        return;
    uint32_t before = sink->used;
    transition(r, sink, index, &d->pair, firing, clear, now_ns, sensor, value, value);
    if (sink->used > before)
        sink->out[before].threshold = rule->terms[__builtin_ctz(terms)].threshold;
}

uint32_t roda_rules_evaluate(roda_rules_t *r, uint32_t sensor_index, const roda_summary_t *cur,
                             const roda_summary_t *prev, roda_alert_t *out, uint32_t max_out)
{
    if (sensor_index >= r->max_sensors) {
        bump(&r->bad_index, 1);
        return 0;
    }
    sink_t sink = {out, max_out, 0};
    sensor_t *sensor = &r->sensors[sensor_index];
    *sensor = (sensor_t){cur->sensor_id, cur->ingest_time_ns, cur->device_time_us,
                         cur->last,      cur->device,         1};
    pair_t *row = r->pairs + (size_t)sensor_index * r->max_rules;
    window_rows_t windows = {NULL, NULL};
    if (r->window_count != 0)
        windows = window_rows(r, sensor_index);
    window_now_t now; /* stats[w] written before use (computed) */
    now.computed = 0;
    if (windows.hot != NULL)
        windows_add(r, windows, cur);
    for (uint32_t i = 0; i < r->count; i++) {
        const roda_rule_t *rule = &r->rules[i];
        pair_t *pair = &row[i];
        if (pair->scope != SCOPE_IN && !in_scope(r, rule, pair, cur->sensor_id, cur->device))
            continue;
        double v, p;
        if (rule->window_ns == 0) {
            v = pick(cur, rule->value);
            p = prev != NULL ? pick(prev, rule->value) : cur->last;
        } else if (!window_values(r, i, windows, cur->ingest_time_ns, &now, &v, &p)) {
            bump(&r->counters[i].not_evaluable, 1);
            continue;
        }
        double t = rule->threshold;
        double h = rule->hysteresis;
        bool firing = false;
        bool clear = false;
        switch (rule->kind) {
        case RODA_RULE_ABOVE:
            firing = v > t;
            clear = v <= t - h;
            break;
        case RODA_RULE_BELOW:
            firing = v < t;
            clear = v >= t + h;
            break;
        case RODA_RULE_JUMP:
            if (prev == NULL || !(p > 0.0)) {
                bump(&r->counters[i].not_evaluable, 1);
                continue;
            }
            v = v / p;
            firing = v > t;
            clear = v <= t - h;
            break;
        case RODA_RULE_RATE: {
            double dt =
                prev != NULL ? (double)(cur->device_time_us - prev->device_time_us) / 1e6 : 0.0;
            if (!(dt > 0.0)) {
                bump(&r->counters[i].not_evaluable, 1);
                continue;
            }
            v = fabs(v - p) / dt;
            firing = v > t;
            clear = v <= t - h;
            break;
        }
        case RODA_RULE_STALE:
            /* A reading arrived: the sensor is not silent any more. */
            v = 0.0;
            clear = true;
            break;
        case RODA_RULE_DEVICE:
            judge_device(r, &sink, i, pair->terms, true, sensor, v, cur->ingest_time_ns);
            continue;
        default:
            continue;
        }
        if (!changes(pair, firing, clear))
            continue;
        transition(r, &sink, i, pair, firing, clear, cur->ingest_time_ns, sensor, v, p);
    }
    if (now.computed != 0)
        windows_keep(r, windows, &now);
    return sink.used;
}

/* Judges every STALE rule in scope of sensor `sensor_index` at `now_ns`; a `silenced` sensor
 * is silent past every threshold. */
static void judge_stale(roda_rules_t *r, sink_t *sink, uint32_t sensor_index, uint64_t now_ns,
                        bool silenced)
{
    const sensor_t *sensor = &r->sensors[sensor_index];
    pair_t *row = r->pairs + (size_t)sensor_index * r->max_rules;
    for (uint32_t i = 0; i < r->count; i++) {
        const roda_rule_t *rule = &r->rules[i];
        if (rule->kind != RODA_RULE_STALE ||
            !in_scope(r, rule, &row[i], sensor->sensor_id, sensor->device))
            continue;
        double silent =
            now_ns > sensor->ingest_time_ns ? (double)(now_ns - sensor->ingest_time_ns) / 1e9 : 0.0;
        transition(r, sink, i, &row[i], silenced || silent > rule->threshold, false, now_ns, sensor,
                   silent, sensor->last);
    }
}

uint32_t roda_rules_tick(roda_rules_t *r, uint64_t now_ns, roda_alert_t *out, uint32_t max_out,
                         bool *done)
{
    sink_t sink = {out, max_out, 0};
    *done = false;
    if (r->stale_rules == 0)
        r->tick_cursor = r->max_sensors;
    while (r->tick_cursor < r->max_sensors) {
        if (r->sensors[r->tick_cursor].seen) {
            /* Room for every stale rule of this sensor, so a sensor is never half scanned. */
            if (sink.max - sink.used < r->stale_rules)
                break;
            judge_stale(r, &sink, r->tick_cursor, now_ns, false);
        }
        r->tick_cursor++;
    }
    if (r->tick_cursor >= r->max_sensors) {
        r->tick_cursor = 0;
        *done = true;
    }
    return sink.used;
}

uint32_t roda_rules_silence(roda_rules_t *r, uint32_t device, uint64_t now_ns, roda_alert_t *out,
                            uint32_t max_out, uint32_t *cursor, bool *done)
{
    sink_t sink = {out, max_out, 0};
    *done = false;
    if (r->stale_rules == 0)
        *cursor = r->max_sensors;
    for (; *cursor < r->max_sensors; (*cursor)++) {
        const sensor_t *sensor = &r->sensors[*cursor];
        if (!sensor->seen || sensor->device != device)
            continue;
        if (sink.max - sink.used < r->stale_rules)
            return sink.used;
        judge_stale(r, &sink, *cursor, now_ns, true);
    }
    *done = true;
    return sink.used;
}

uint32_t roda_rules_evict(roda_rules_t *r, uint32_t sensor_index, uint64_t now_ns,
                          roda_alert_t *out, uint32_t max_out)
{
    if (sensor_index >= r->max_sensors) {
        bump(&r->bad_index, 1);
        return 0;
    }
    sink_t sink = {out, max_out, 0};
    const sensor_t *sensor = &r->sensors[sensor_index];
    if (sensor->seen)
        judge_stale(r, &sink, sensor_index, now_ns, false);
    pair_t *row = r->pairs + (size_t)sensor_index * r->max_rules;
    for (uint32_t i = 0; i < r->count; i++) {
        if (row[i].state == PAIR_FIRING)
            bump(&r->counters[i].active, -1);
        if (sensor->seen && r->rules[i].kind == RODA_RULE_DEVICE && row[i].scope == SCOPE_IN)
            judge_device(r, &sink, i, row[i].terms, false, sensor, sensor->last, now_ns);
    }
    memset(row, 0, r->max_rules * sizeof *row);
    memset(&r->sensors[sensor_index], 0, sizeof r->sensors[sensor_index]);
    if (r->window_state != NULL) {
        window_rows_t rows = window_rows(r, sensor_index);
        memset(rows.hot, 0, r->window_count * WINDOW_BLOCK);
        memset(rows.body, 0, r->window_body);
    }
    return sink.used;
}

void roda_rules_visit(roda_rules_t *r, roda_visit_fn blob, void *context)
{
    blob(context, &r->count, sizeof r->count);
    blob(context, r->rules, (size_t)r->max_rules * sizeof *r->rules);
    blob(context, &r->generation, sizeof r->generation);
    blob(context, r->names, (size_t)RODA_RULES_NAME_HISTORY * r->max_rules * sizeof *r->names);
    blob(context, r->name_counts, sizeof r->name_counts);
    blob(context, r->counters, (size_t)r->max_rules * sizeof *r->counters);
    blob(context, r->pairs, (size_t)r->max_sensors * r->max_rules * sizeof *r->pairs);
    blob(context, r->sensors, (size_t)r->max_sensors * sizeof *r->sensors);
    blob(context, &r->tick_cursor, sizeof r->tick_cursor);
    /* The windows: a loaded set of other specs than this set's (same size by chance) is emptied,
     * since its states would be read with the wrong layout. */
    uint32_t window_count = r->window_count;
    roda_twindow_spec_t windows[RODA_RULES_WINDOWS];
    memcpy(windows, r->windows, sizeof windows);
    blob(context, &r->window_count, sizeof r->window_count);
    blob(context, r->windows, sizeof r->windows);
    if (r->window_state != NULL)
        blob(context, r->window_state, (size_t)r->max_sensors * r->window_bytes);
    blob(context, r->device_column, sizeof r->device_column);
    if (r->device_pairs != NULL)
        blob(context, r->device_pairs,
             (size_t)r->max_devices * r->device_columns * sizeof *r->device_pairs);
    if (r->window_count != window_count || memcmp(windows, r->windows, sizeof windows) != 0) {
        r->window_count = window_count;
        memcpy(r->windows, windows, sizeof windows);
        if (r->window_state != NULL)
            memset(r->window_state, 0, (size_t)r->max_sensors * r->window_bytes);
    }
    /* Derived from the definitions: right after a load as after a write. */
    count_stale(r);
    (void)map_windows(r, r->rules, r->count, r->rule_window, r->window_reads);
}

uint32_t roda_rules_windows(roda_rules_t *r, uint32_t sensor_index, uint64_t now_ns,
                            roda_twindow_spec_t *specs, roda_twindow_stats_t *stats, uint32_t max)
{
    if (sensor_index >= r->max_sensors)
        return 0;
    uint32_t n = r->window_count < max ? r->window_count : max;
    window_rows_t rows = window_rows(r, sensor_index);
    for (uint32_t w = 0; w < n; w++) {
        specs[w] = r->windows[w];
        roda_twindow_stats_of(&r->windows[w], window_head(rows, w), window_body(r, rows, w), now_ns,
                              RODA_TWINDOW_ALL, &stats[w]);
    }
    return n;
}

uint32_t roda_rules_count(const roda_rules_t *r)
{
    return r->count;
}

const roda_rule_t *roda_rules_get(const roda_rules_t *r, uint32_t index)
{
    return index < r->count ? &r->rules[index] : NULL;
}

bool roda_rules_name(roda_rules_t *r, uint32_t index, uint16_t generation, char *buf, size_t size)
{
    pthread_mutex_lock(&r->lock);
    uint32_t slot = generation % RODA_RULES_NAME_HISTORY;
    bool known = (uint16_t)(r->generation - generation) < RODA_RULES_NAME_HISTORY &&
                 index < r->name_counts[slot];
    if (known)
        snprintf(buf, size, "%s", r->names[(size_t)slot * r->max_rules + index]);
    pthread_mutex_unlock(&r->lock);
    return known;
}

roda_result_t roda_rules_snapshot(roda_rules_t *r, uint32_t index, roda_rule_t *rule,
                                  roda_rule_stats_t *stats)
{
    roda_result_t result = RODA_ERROR_INVALID_ARG;
    pthread_mutex_lock(&r->lock);
    if (index < r->count) {
        const counters_t *c = &r->counters[index];
        if (rule != NULL)
            *rule = r->rules[index];
        if (stats != NULL) {
            stats->fired = atomic_load_explicit(&c->fired, memory_order_relaxed);
            stats->resolved = atomic_load_explicit(&c->resolved, memory_order_relaxed);
            stats->suppressed = atomic_load_explicit(&c->suppressed, memory_order_relaxed);
            stats->not_evaluable = atomic_load_explicit(&c->not_evaluable, memory_order_relaxed);
            stats->active = atomic_load_explicit(&c->active, memory_order_relaxed);
        }
        result = RODA_SUCCESS;
    }
    pthread_mutex_unlock(&r->lock);
    return result;
}

uint64_t roda_rules_bad_index(const roda_rules_t *r)
{
    return atomic_load_explicit(&r->bad_index, memory_order_relaxed);
}

uint64_t roda_rules_lost_output(const roda_rules_t *r)
{
    return atomic_load_explicit(&r->lost_output, memory_order_relaxed);
}
