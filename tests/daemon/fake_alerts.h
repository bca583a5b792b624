/* fake_alerts.h - an in-memory alert ring standing in for the alert journal in the HTTP tests: the
 * SSE source (resume, gap when a cursor fell out of the ring), /alerts/recent, readiness and a
 * latency histogram. One ring per process; thread-safe. */
#ifndef FAKE_ALERTS_H
#define FAKE_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#include "roda_http.h"

#define FAKE_ALERTS_MAX 1024

/* Keeps the last `capacity` (1 .. FAKE_ALERTS_MAX) alerts; false otherwise. */
bool fake_alerts_init(uint64_t capacity);
/* Appends alert number n (the n-th append): rule "hot"/"cold" and device "pump-1"/"boiler-2"
 * alternating, severity warning/critical alternating, value n, sensor 100 + n. */
void fake_alerts_append(void);
void fake_alerts_toggle_ready(void);

extern const roda_sse_source_t fake_alerts_source;
bool fake_alerts_ready(void *context, char *reason, size_t size);
void fake_alerts_recent(void *context, uint32_t limit, roda_json_t *json);
roda_histogram_t *fake_alerts_latency(void);

#endif
