/* roda_rules.h - alert rules evaluated per sensor summary, with a firing/resolved lifecycle.
 *
 * Data path: the rules stage reads summaries (roda_summary.h) and, like the `delta` component,
 * compares each with the previous summary of the same sensor:
 *
 *   n = roda_rules_evaluate(rules, sensor_index, current, previous_or_NULL, alerts, max);
 *
 * and, from a periodic tick with the current time, detects sensors that went silent:
 *
 *   do { n = roda_rules_tick(rules, now_ns, alerts, max, &done); ... } while (!done);
 *
 * and forgets a sensor the state stage evicted: n = roda_rules_evict(rules, sensor_index, ...).
 *
 * `sensor_index` is the dense index (0 .. max_sensors-1) the stateful stage gives each sensor.
 *
 * Kinds (the compared value is the summary's last, mean or ewma, or a window statistic, per rule):
 *   ABOVE  fires when value >  threshold; resolves when value <= threshold - hysteresis
 *   BELOW  fires when value <  threshold; resolves when value >= threshold + hysteresis
 *   JUMP   ratio = value / previous value (needs a previous summary with a value > 0):
 *          fires when ratio > threshold (the factor, e.g. 1.5); resolves when
 *          ratio <= threshold - hysteresis. Default value: the mean (the reference's rule).
 *   RATE   rate = |value - previous value| / (device time delta in s) (needs a previous summary
 *          and a positive time delta): fires when rate > threshold; resolves when
 *          rate <= threshold - hysteresis.
 *   STALE  fires from the tick when no reading arrived for `threshold` seconds (gateway ingest
 *          clock, not the device's), or at once when its device went silent
 *          (roda_rules_silence); resolves on the sensor's next reading.
 *   DEVICE a condition over sensors of one device: 2 .. RODA_RULE_MAX_TERMS terms `NAME above
 *          NUMBER` / `NAME below NUMBER`, every one of which must hold. Per (rule, device) the
 *          rule keeps the newest value (the rule's value: last, mean or ewma) of each term's
 *          sensor, the one of that device whose name (roda_sensor_names.h) is the term's. A
 *          summary of such a sensor stores its value and judges the rule for its device: fires
 *          when every term's value is known and holds (above: value > threshold; below:
 *          value < threshold); resolves when a term's value is past its hysteresis band (above:
 *          value <= threshold - hysteresis; below: value >= threshold + hysteresis) or is no
 *          longer known (its sensor was evicted, roda_rules_evict). Values do not age: a term
 *          keeps its sensor's newest value until the sensor is evicted (a STALE rule catches a
 *          silent sensor sooner). The alert is the updating sensor's: its id, value (also in
 *          `previous`) and times, with its term's threshold; `active` counts devices.
 * Summaries that cannot be evaluated (no previous, ratio or time delta undefined) leave the
 * alert state as it is and are counted (not_evaluable).
 *
 * Windows: a rule with `window_ns` > 0 compares a statistic of the sensor's time window
 * (roda_twindow.h) of that length, hop `hop_ns` (window_ns / hop_ns buckets, at most
 * RODA_TWINDOW_MAX_BUCKETS; hop == length is a tumbling window): value mean, min, max, stddev,
 * slope (per second) or p50/p90/p95/p99 (the window then keeps a quantile sketch). The windows
 * are fed with every summary's last value at its ingest time (the recorded time: a replay gives
 * the same windows), before the rules are evaluated. JUMP and RATE compare with the statistic as
 * it was after the sensor's previous summary (a statistic that no rule of the window read before
 * a reload has no previous value until the sensor's next summary: not evaluable once). A window
 * holding fewer than the rule's `min_count` readings (or none: NaN) is not evaluable. Rules with
 * the same length and hop share one window; at most RODA_RULES_WINDOWS distinct windows, fixed by
 * the rules given to create (a reload may use those windows, and add none:
 * RODA_ERROR_INVALID_ARG).
 *
 * Lifecycle per (rule, sensor): OK -> FIRING (an alert record, state FIRING) -> OK (an alert
 * record, state RESOLVED). Hold-off: a firing within `holdoff_ns` (ingest clock) of the last
 * emitted firing is suppressed: no record, counted, and the pair waits in SUPPRESSED; if the
 * condition still holds once the hold-off has passed, the firing is emitted then, carrying the
 * number of repeats suppressed since the previous one. A suppressed episode resolves silently.
 *
 * Scope: a rule applies to the sensor ids it lists, or to sensors whose device name matches its
 * device glob and whose name (a named sensor's, roda_sensor_names.h) matches its name glob
 * (fnmatch; an empty glob matches everything, and a sensor without a name matches only an empty
 * name glob), or to every sensor when all are empty. It is decided on a sensor's first
 * evaluation (names from the callbacks) and cached.
 *
 * Scope of a DEVICE rule: sensors whose name is one of its terms' and whose device name matches
 * its device glob (no sensor ids, no name glob).
 *
 * Memory: everything is allocated by roda_rules_create() (roda_rules_memory() bytes): per sensor
 * a 40-byte record (for STALE) and per (sensor, rule slot) a 16-byte state, for max_sensors x
 * max_rules, plus per sensor and window a 256-byte hot block (the window's head and a previous
 * value per statistic) and its body (roda_twindow_body_size, rounded up to 64 bytes)
 * (roda_rules_window_memory()), plus per (device, DEVICE rule) a 48-byte
 * state for max_devices x the DEVICE rules given to create (roda_rules_device_memory(); a reload
 * may keep, change or replace DEVICE rules but have no more of them: RODA_ERROR_INVALID_ARG);
 * evaluate, tick, evict and reload never allocate.
 *
 * Threads: one thread (the rules stage) calls evaluate, tick, evict, reload, count and get.
 * roda_rules_snapshot() and the counters may be read from any thread (single-writer atomics; the
 * rule definitions are guarded by a lock that only reload and snapshot take). */
#ifndef RODA_RULES_H
#define RODA_RULES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_keytable.h"
#include "roda_result.h"
#include "roda_summary.h"
#include "roda_twindow.h"

#define RODA_RULE_NAME_MAX 48       /* bytes including the NUL */
#define RODA_RULE_MAX_SENSOR_IDS 32 /* ids in one rule's scope list */
#define RODA_RULE_GLOB_MAX 64       /* bytes of a device or sensor name glob including the NUL */
#define RODA_RULES_MAX 64           /* upper bound of max_rules */
#define RODA_RULES_WINDOWS 4        /* distinct windows (length, hop) of one rule set */
#define RODA_RULE_MAX_TERMS 4       /* terms of a DEVICE rule's condition */
#define RODA_RULE_TERM_NAME_MAX 64  /* bytes of a term's sensor name including the NUL */

typedef enum roda_rule_kind {
    RODA_RULE_ABOVE = 0,
    RODA_RULE_BELOW = 1,
    RODA_RULE_JUMP = 2,
    RODA_RULE_RATE = 3,
    RODA_RULE_STALE = 4,
    RODA_RULE_DEVICE = 5,
    RODA_RULE_KIND_COUNT = 6,
} roda_rule_kind_t;

typedef enum roda_severity {
    RODA_SEVERITY_INFO = 0,
    RODA_SEVERITY_WARNING = 1,
    RODA_SEVERITY_CRITICAL = 2,
    RODA_SEVERITY_COUNT = 3,
} roda_severity_t;

typedef enum roda_rule_value {
    RODA_RULE_VALUE_LAST = 0,
    RODA_RULE_VALUE_MEAN = 1,
    RODA_RULE_VALUE_EWMA = 2,
    /* Window statistics (the rule's window_ns > 0; mean too). */
    RODA_RULE_VALUE_MIN = 3,
    RODA_RULE_VALUE_MAX = 4,
    RODA_RULE_VALUE_STDDEV = 5,
    RODA_RULE_VALUE_SLOPE = 6,
    RODA_RULE_VALUE_P50 = 7,
    RODA_RULE_VALUE_P90 = 8,
    RODA_RULE_VALUE_P95 = 9,
    RODA_RULE_VALUE_P99 = 10,
    RODA_RULE_VALUE_COUNT = 11,
} roda_rule_value_t;

typedef enum roda_alert_state {
    RODA_ALERT_FIRING = 0,
    RODA_ALERT_RESOLVED = 1,
} roda_alert_state_t;

/* One term of a DEVICE rule: the device's sensor named `sensor` is above (or below) `threshold`. */
typedef struct roda_rule_term {
    char sensor[RODA_RULE_TERM_NAME_MAX];
    double threshold;
    uint32_t below; /* 0: above, 1: below */
    uint32_t reserved;
} roda_rule_term_t;

typedef struct roda_rule {
    char name[RODA_RULE_NAME_MAX];
    roda_rule_kind_t kind;
    roda_severity_t severity;
    roda_rule_value_t value;
    double threshold;  /* ABOVE/BELOW: the value; JUMP: the factor; RATE: per second;
                          STALE: seconds without a reading */
    double hysteresis; /* >= 0, in the unit of threshold; unused by STALE */
    uint64_t holdoff_ns;
    uint64_t window_ns;    /* 0: a summary value; else the window's length (see Windows) */
    uint64_t hop_ns;       /* the window's bucket width: window_ns / hop_ns whole buckets */
    uint32_t min_count;    /* a window rule judges a window of at least this many readings */
    uint32_t sensor_count; /* 0: scope by the globs (or everything) */
    uint64_t sensors[RODA_RULE_MAX_SENSOR_IDS];
    char device_glob[RODA_RULE_GLOB_MAX]; /* "" matches every device */
    char name_glob[RODA_RULE_GLOB_MAX];   /* "" matches every sensor, named or not */
    uint32_t term_count;                  /* DEVICE: 2 .. RODA_RULE_MAX_TERMS; else 0 */
    uint32_t reserved;
    roda_rule_term_t terms[RODA_RULE_MAX_TERMS]; /* DEVICE: every one must hold */
} roda_rule_t;

/* The alert journal's record: 64 bytes. */
typedef struct roda_alert {
    uint64_t sensor_id;
    double value;            /* the evaluated value: ABOVE/BELOW the value, JUMP the ratio, RATE
                                the rate per second, STALE the seconds without a reading */
    double previous;         /* JUMP/RATE: the previous summary's value; else the last value */
    double threshold;        /* the rule's threshold at the time */
    int64_t device_time_us;  /* of the summary that changed the state (STALE: last reading) */
    uint64_t ingest_time_ns; /* ingest time of that reading: end-to-end latency starts there */
    uint32_t device;
    uint32_t suppressed; /* FIRING: repeats suppressed by the hold-off since the last one */
    uint16_t rule;       /* index in the rule set of generation `generation` */
    uint8_t kind;        /* roda_rule_kind_t */
    uint8_t severity;    /* roda_severity_t */
    uint8_t state;       /* roda_alert_state_t */
    uint8_t reserved;
    uint16_t generation; /* the rule set's generation (+1 per reload) when the alert was made */
} roda_alert_t;

_Static_assert(sizeof(roda_alert_t) == 64, "roda_alert_t is a 64-byte journal record");
/* The record schema of a file-backed alert journal's segments. */
#define RODA_ALERT_SCHEMA 1u

/* Counters of one rule since create (reload keeps those of rules it keeps). */
typedef struct roda_rule_stats {
    uint64_t fired;         /* FIRING records emitted */
    uint64_t resolved;      /* RESOLVED records emitted */
    uint64_t suppressed;    /* firings held back by the hold-off */
    uint64_t not_evaluable; /* summaries the rule could not judge (see kinds) */
    uint64_t active;        /* (sensor) pairs now FIRING; DEVICE rules: devices */
} roda_rule_stats_t;

/* Device index -> name (NULL when unknown: only an empty glob matches). Called once per sensor
 * and rule on the sensor's first evaluation, from the rules thread. */
typedef const char *(*roda_rules_device_name_fn)(void *context, uint32_t device);
/* Sensor id -> name (NULL for a sensor without one: only an empty name glob matches). Called as
 * the device name callback is. */
typedef const char *(*roda_rules_sensor_name_fn)(void *context, uint64_t sensor_id);

typedef struct roda_rules roda_rules_t;

/* Bytes that roda_rules_create() allocates for these bounds and rules (count of them). */
size_t roda_rules_memory(const roda_rule_t *rules, uint32_t count, uint32_t max_rules,
                         uint32_t max_sensors, uint32_t max_devices);
/* Of which the DEVICE rules' states: per device, one per DEVICE rule among `rules`. */
size_t roda_rules_device_memory(const roda_rule_t *rules, uint32_t count, uint32_t max_devices);
/* Of which the windows: per sensor, each distinct window's hot block and body (see Memory). */
size_t roda_rules_window_memory(const roda_rule_t *rules, uint32_t count, uint32_t max_sensors);
/* The distinct windows (length, hop) of `rules` (count of them), RODA_RULES_WINDOWS + 1 when
 * there are more than RODA_RULES_WINDOWS. */
uint32_t roda_rules_window_count(const roda_rule_t *rules, uint32_t count);

/* Checks one rule: a name, a known kind/severity/value, a finite threshold (JUMP > 1, RATE > 0,
 * STALE > 0), hysteresis >= 0 and below the threshold for JUMP/RATE, sensor_count within bounds,
 * and a window (see Windows) for a window statistic, none for last/ewma, STALE or DEVICE; a
 * DEVICE rule's terms (2 .. RODA_RULE_MAX_TERMS, named, finite thresholds), no terms otherwise.
 * RODA_SUCCESS or RODA_ERROR_INVALID_ARG with a static reason in *why. */
roda_result_t roda_rule_validate(const roda_rule_t *rule, const char **why);

/* Whether two rules are the same in every field that matters (name, kind, scope, severity,
 * value, window, threshold, hysteresis, hold-off). */
bool roda_rule_equal(const roda_rule_t *a, const roda_rule_t *b);

/* Creates the rule set. max_rules 1 .. RODA_RULES_MAX (room kept for reloads), max_sensors >= 1,
 * max_devices >= 1 (device indexes 0 .. max_devices-1), count <= max_rules, every rule valid,
 * names unique, at most RODA_RULES_WINDOWS windows. RODA_ERROR_INVALID_ARG, RODA_ERROR_NOMEM. */
roda_result_t roda_rules_create(const roda_rule_t *rules, uint32_t count, uint32_t max_rules,
                                uint32_t max_sensors, uint32_t max_devices,
                                roda_rules_device_name_fn device_name,
                                roda_rules_sensor_name_fn sensor_name, void *context,
                                roda_rules_t **out);
void roda_rules_destroy(roda_rules_t *rules);

/* Replaces the rule set, keeping per-sensor state: a new rule with the name, kind and scope (for
 * DEVICE: its terms' sensor names, in order) of an old one keeps its alert states, DEVICE
 * values and counters (its thresholds, severity and timings may change);
 * others start fresh. Alerts FIRING for a removed or reset rule are dropped without a RESOLVED
 * record (counted in *dropped_active when not NULL). On error nothing changes:
 * RODA_ERROR_TOO_MANY (count > max_rules), RODA_ERROR_INVALID_ARG (invalid or duplicate rule, a
 * window the set was not created with, or more DEVICE rules than it was created with). */
roda_result_t roda_rules_reload(roda_rules_t *rules, const roda_rule_t *new_rules, uint32_t count,
                                uint64_t *dropped_active);

/* Evaluates every rule in scope on `current` (with `previous`, NULL for a sensor's first
 * summary). Writes at most one alert per rule to `out` (room for `max_out`; alerts past it are
 * counted as lost_output) and returns how many. An index >= max_sensors is counted
 * (bad_index) and yields nothing. */
uint32_t roda_rules_evaluate(roda_rules_t *rules, uint32_t sensor_index,
                             const roda_summary_t *current, const roda_summary_t *previous,
                             roda_alert_t *out, uint32_t max_out);

/* Continues the stale scan at time `now_ns` (roda_now_ns clock): writes up to `max_out` alerts
 * and sets *done when the scan covered every sensor (the next call starts a new scan). */
uint32_t roda_rules_tick(roda_rules_t *rules, uint64_t now_ns, roda_alert_t *out, uint32_t max_out,
                         bool *done);

/* Device `device` went silent at `now_ns` (a Sparkplug B DEATH): every STALE rule in scope of
 * each of its sensors fires now, whatever its threshold (resolving on the sensor's next reading
 * as usual). Writes up to `max_out` alerts and returns how many; *cursor (0 at the start) keeps
 * the place, *done is set once every sensor was judged. */
uint32_t roda_rules_silence(roda_rules_t *rules, uint32_t device, uint64_t now_ns,
                            roda_alert_t *out, uint32_t max_out, uint32_t *cursor, bool *done);

/* Forgets sensor `sensor_index` (evicted after limits.sensor_idle_timeout without a reading; the
 * index will be given to another sensor): first judges its STALE rules at `now_ns`, so a silent
 * sensor's stale alert is emitted before it goes, and forgets its value in the DEVICE rules it
 * feeds (a firing one resolves: RESOLVED with its last value) (writes up to `max_out` alerts to
 * `out`, returns how many), then resets its state and scope for every rule. Its own alerts still
 * FIRING end without a RESOLVED record (the sensor is gone) and leave the `active` count. An
 * index >= max_sensors is counted (bad_index). */
uint32_t roda_rules_evict(roda_rules_t *rules, uint32_t sensor_index, uint64_t now_ns,
                          roda_alert_t *out, uint32_t max_out);

/* Calls `blob` on every piece of the rule set's state (definitions, generation and name history,
 * counters, per (sensor, rule) alert states, per sensor stale records, the stale scan's cursor,
 * the windows and their states, the DEVICE rules' columns and per device states; loaded windows
 * of other specs than the set's are emptied)
 * in a fixed order: a snapshot writes them; a load reads them back into a set created with the
 * same max_rules and max_sensors before its thread starts (then roda_rules_reload applies the
 * config's rules, keeping the states of those it keeps). Rules thread, or before it starts. */
void roda_rules_visit(roda_rules_t *rules, roda_visit_fn blob, void *context);

/* Rules thread only: the current count, and the rule at `index` (NULL past the count). */
uint32_t roda_rules_count(const roda_rules_t *rules);
const roda_rule_t *roda_rules_get(const roda_rules_t *rules, uint32_t index);
/* Any thread (takes the reload lock): copies rule `index` and its counters. RODA_ERROR_INVALID_ARG
 * past the current count. Loop from 0 until it fails to walk the set. */
roda_result_t roda_rules_snapshot(roda_rules_t *rules, uint32_t index, roda_rule_t *rule,
                                  roda_rule_stats_t *stats);

/* The name rule `index` had in rule set `generation` (an alert's rule and generation): a reload
 * may reorder rules, and alerts made before it are still in the journal. Names of the last
 * RODA_RULES_NAME_HISTORY generations are kept; false for an older generation or a bad index.
 * Any thread. */
#define RODA_RULES_NAME_HISTORY 8u
bool roda_rules_name(roda_rules_t *rules, uint32_t index, uint16_t generation, char *buf,
                     size_t size);
/* Rules thread only: the statistics of sensor `sensor_index`'s windows at `now_ns` (see
 * roda_twindow_stats), up to `max` of them in `stats`, their specs in `specs`; returns how many
 * it wrote (0 for a bad index). */
uint32_t roda_rules_windows(roda_rules_t *rules, uint32_t sensor_index, uint64_t now_ns,
                            roda_twindow_spec_t *specs, roda_twindow_stats_t *stats, uint32_t max);

/* Statistic `which` (mean, min, max, stddev, slope, p50 .. p99) of a window's statistics. */
double roda_rules_window_value(const roda_twindow_stats_t *stats, roda_rule_value_t which);

/* Summaries with an index >= max_sensors, and alerts that did not fit in `out`. Any thread. */
uint64_t roda_rules_bad_index(const roda_rules_t *rules);
uint64_t roda_rules_lost_output(const roda_rules_t *rules);

const char *roda_rule_kind_name(roda_rule_kind_t kind);      /* "above", ... "device" */
const char *roda_severity_name(roda_severity_t severity);    /* "info", ... */
const char *roda_rule_value_name(roda_rule_value_t value);   /* "last", "mean", ... "p99" */
const char *roda_alert_state_name(roda_alert_state_t state); /* "firing", "resolved" */

/* The reverse of the names above (the config's rule sections): RODA_SUCCESS with the enum in
 * *out, or RODA_ERROR_INVALID_ARG for an unknown name (*out unchanged). */
roda_result_t roda_rule_kind_from_name(const char *name, roda_rule_kind_t *kind);
roda_result_t roda_severity_from_name(const char *name, roda_severity_t *severity);
roda_result_t roda_rule_value_from_name(const char *name, roda_rule_value_t *value);

#endif
