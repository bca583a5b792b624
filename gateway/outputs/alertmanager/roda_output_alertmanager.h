/* roda_output_alertmanager.h - the Alertmanager output: a thread that POSTs every alert to
 * /api/v2/alerts of each configured Alertmanager ([alertmanager] urls), as Prometheus does.
 *
 * Each alert becomes {labels: alertname (the rule), severity, device, sensor (its name for a named
 * sensor, then also sensor_id; else the id), and the configured static labels; annotations: value,
 * threshold, summary; startsAt; endsAt (resolved only); generatorURL: <external_url>/sensors/<id>}.
 * A device rule's alert (kind device) is one per (rule, device): its labels leave sensor and
 * sensor_id out (the sensor whose reading fired it may not be the one that resolves it, and
 * Alertmanager tells alerts apart by their labels); that sensor is the annotation `sensor`, and
 * generatorURL points at it. A firing alert's startsAt is its reading's ingest time; its resolve
 * carries the same startsAt and endsAt = the resolving reading's ingest time.
 *
 * Delivery: an alert cursor over the alert journal, like the other outputs. Alerts go in batches
 * of at most `batch`; a batch is done when every Alertmanager accepted it (HTTP 2xx). A failed
 * request is retried after a back-off from retry_min doubling to retry_max, the cursor staying
 * where it is: an Alertmanager outage loses nothing the journal still holds, and what the
 * journal overwrote meanwhile is a counted gap. With journal.alert_directory the position (the
 * last alert of the last batch done) is kept in alertmanager.position there, so a restart resumes
 * after it.
 *
 * Re-sending: Alertmanager forgets an alert that is not refreshed (resolve_timeout). The output
 * keeps the firing alerts in a bounded table (max_active; past it an alert is sent once and
 * counted) and sends them all again every resend_interval, and at start. After a restart the
 * table is rebuilt from the alert journal up to the kept position, so alerts still firing are
 * refreshed after an Alertmanager restart too.
 *
 * Counted (roda_alertmanager_*): alerts sent, batches retried, failed requests, alerts re-sent,
 * gaps, active alerts, actives past max_active. HTTP is libcurl (see DESIGN.md).
 *
 * Threads: its own sender thread; metrics and totals from any thread. */
#ifndef RODA_OUTPUT_ALERTMANAGER_H
#define RODA_OUTPUT_ALERTMANAGER_H

#include "roda_output.h"

/* Bytes of one alert's JSON for Alertmanager at most (names, labels, annotations). */
#define RODA_OUTPUT_ALERTMANAGER_ALERT_JSON_MAX 2048u

extern const roda_output_class_t roda_output_alertmanager;

#endif
