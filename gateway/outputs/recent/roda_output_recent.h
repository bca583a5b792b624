/* roda_output_recent.h - the /alerts/recent output: the last alerts of the alert journal as one
 * bounded JSON array.
 *
 * The last `limit` alerts, at most RODA_ALERT_RECENT_MAX (what fits in RODA_HTTP_JSON_MAX with
 * the longest names), read from write_position - limit with a cursor (alerts overwritten
 * meanwhile are simply not listed). limits.recent_alerts sets the largest ?limit=; a larger
 * value is capped with a warning at start.
 *
 * Threads: roda_alert_recent from any thread. */
#ifndef RODA_OUTPUT_RECENT_H
#define RODA_OUTPUT_RECENT_H

#include <stdint.h>

#include "roda_output.h"

/* Alerts one /alerts/recent body holds at most (RODA_HTTP_JSON_MAX / the longest alert JSON). */
#define RODA_ALERT_RECENT_MAX (RODA_HTTP_JSON_MAX / RODA_ALERT_JSON_MAX - 1u)

extern const roda_output_class_t roda_output_recent;

/* Writes the last min(limit, RODA_ALERT_RECENT_MAX) alerts of `alerts`, oldest first, as one JSON
 * array. */
void roda_alert_recent(roda_journal_t *alerts, const roda_alert_names_t *names, uint32_t limit,
                       roda_json_t *json);

#endif
