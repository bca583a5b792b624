/* roda_output_sse.h - the /alerts Server-Sent Events output: a roda_sse_source_t for roda_http
 * over the alert journal.
 *
 * Each client takes one of max_clients preallocated cursors (RODA_ERROR_TOO_MANY past that:
 * 503). Resume (Last-Event-ID = P) opens the cursor at P + 1 while the journal still holds it;
 * otherwise at the oldest intact alert, and the first thing the client gets is a gap event with
 * the count it missed. A client that falls more than the journal's capacity behind gets a gap
 * event, never a silent skip; a resume id beyond the last alert (e.g. from before a restart)
 * starts at the live end. When the journal is closed (shutdown) and read to its end, the stream
 * ends. The server counts events, gaps and clients (roda_http_stats).
 *
 * Threads: the source's functions from HTTP connection threads (one cursor per thread at a
 * time). */
#ifndef RODA_OUTPUT_SSE_H
#define RODA_OUTPUT_SSE_H

#include <stdint.h>

#include "roda_output.h"

/* Bytes of one client's cursor (with its batch of copied alerts), preallocated per
 * max_sse_clients (for the memory plan). */
#define RODA_ALERT_STREAM_CLIENT_BYTES 2176u

extern const roda_output_class_t roda_output_sse;

typedef struct roda_alert_stream roda_alert_stream_t;

/* Creates the source over `alerts` (record size sizeof(roda_alert_t)) with `max_clients`
 * cursors (>= 1). `names` is copied. RODA_ERROR_INVALID_ARG, RODA_ERROR_NOMEM. */
roda_result_t roda_alert_stream_create(roda_journal_t *alerts, uint32_t max_clients,
                                       const roda_alert_names_t *names, roda_alert_stream_t **out);
void roda_alert_stream_destroy(roda_alert_stream_t *stream);
/* The roda_sse_source_t to give roda_http (valid until destroy). */
const roda_sse_source_t *roda_alert_stream_source(const roda_alert_stream_t *stream);

#endif
