/* roda_output.h - the output seam: a reader of the alert journal (roda_alert_cursor.h) that takes
 * alerts somewhere (an HTTP endpoint, a broker), with create/start/stop/destroy and its own
 * metrics.
 *
 * An output is a roda_output_class_t listed once in roda_outputs.c. The gateway creates every
 * output its config enables after the pipeline and the HTTP server (so an output can attach an
 * endpoint to the server), starts them before the pipeline, and at shutdown stops them after
 * the pipeline has closed the alert journal, so each can flush what is left. A new output is
 * one folder under outputs/ plus one line in that table.
 *
 * Threads: every function from the controlling thread, except metrics (the HTTP server's
 * scrape thread) and whatever threads the output runs itself. */
#ifndef RODA_OUTPUT_H
#define RODA_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_alert_cursor.h"
#include "roda_config.h"
#include "roda_http.h"
#include "roda_metrics.h"

/* What an output is created with; everything outlives the output. */
typedef struct roda_output_context {
    const roda_config_t *config;
    roda_journal_t *alerts; /* record size sizeof(roda_alert_t) */
    const roda_alert_names_t *names;
    roda_http_t *http; /* attach endpoints before it starts */
} roda_output_context_t;

typedef struct roda_output_class {
    const char *name; /* for logs, e.g. "mqtt" */
    /* True when `config` turns the output on. NULL: always on. */
    bool (*enabled)(const roda_config_t *config);
    /* Checks its settings beyond the schema's bounds (roda-gateway --check-config); false with
     * the field named in `why`. NULL: nothing to check. */
    bool (*check)(const roda_config_t *config, char *why, size_t size);
    /* Creates the output (nothing runs yet). Errors are logged by the output with a hint. */
    roda_result_t (*create)(const roda_output_context_t *context, void **state);
    /* Starts its work. NULL: nothing to start. */
    roda_result_t (*start)(void *state);
    /* Flushes what the closed alert journal still holds, for at most `flush_ms`, then stops;
     * what is left is counted as dropped. NULL: nothing to stop. */
    void (*stop)(void *state, uint32_t flush_ms);
    void (*destroy)(void *state);
    /* Writes its families on /metrics. NULL: none. */
    void (*metrics)(void *state, roda_metrics_t *metrics);
    /* key=value pairs for the shutdown log line (e.g. "alerts_published=3"). NULL: none. */
    void (*totals)(const void *state, char *buf, size_t size);
    /* Bytes it preallocates for `config` (memory plan). */
    uint64_t (*memory)(const roda_config_t *config);
} roda_output_class_t;

/* True when `output` is on under `config`. */
bool roda_output_enabled(const roda_output_class_t *output, const roda_config_t *config);

/* Runs the check of every registered output that `config` enables; false with `why` at the
 * first that fails. */
bool roda_outputs_check(const roda_config_t *config, char *why, size_t size);
/* The registered outputs, in registration order. */
const roda_output_class_t *const *roda_outputs(uint32_t *count);

/* The outputs of one gateway: those of a table that the config enables. */
#define RODA_OUTPUTS_MAX 8u
typedef struct roda_output_set {
    uint32_t count;
    const roda_output_class_t *classes[RODA_OUTPUTS_MAX];
    void *states[RODA_OUTPUTS_MAX];
} roda_output_set_t;

/* Creates every enabled output of `outputs` and registers its metrics with the HTTP server.
 * On an error the outputs created so far are destroyed. RODA_ERROR_TOO_MANY past
 * RODA_OUTPUTS_MAX, or the output's error. */
roda_result_t roda_output_set_create(roda_output_set_t *set,
                                     const roda_output_class_t *const *outputs, uint32_t count,
                                     const roda_output_context_t *context);
/* Starts them in order; on an error the ones started are stopped. */
roda_result_t roda_output_set_start(roda_output_set_t *set);
void roda_output_set_stop(roda_output_set_t *set, uint32_t flush_ms);
void roda_output_set_destroy(roda_output_set_t *set);
/* The outputs' totals, space-separated, for the shutdown log line. */
void roda_output_set_totals(const roda_output_set_t *set, char *buf, size_t size);

#endif
