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
 * Delivery: each Alertmanager has its own alert cursor over the alert journal, pending batch,
 * back-off and kept position, so one that is down or slow never holds up another (an HA pair's
 * healthy member gets everything while its peer is away). Alerts go in batches of at most
 * `batch`; a batch is done for an Alertmanager when it answers 2xx. No answer, 429 or 5xx: the
 * batch is retried after a back-off from retry_min doubling to retry_max, that cursor staying
 * where it is: an outage loses nothing the journal still holds, and what the journal overwrote
 * meanwhile is a gap counted for that Alertmanager. Any other 4xx: the batch is dropped, never
 * retried (a malformed batch would never pass), and counted as rejected. With
 * journal.alert_directory each position (the last alert of its last batch done) is kept in
 * alertmanager-<hash of its URL>.position there, so a restart resumes after it. At stop an
 * Alertmanager that is unreachable does not hold the flush up; what it has not taken is counted
 * as dropped (and sent after a restart when positions are kept).
 *
 * Logs: the first failed request of an outage is a warning with curl's error or the HTTP status,
 * the first success after it an info line with the requests that failed; rejections are a
 * warning with the status and the start of the answer, at most one a minute per Alertmanager.
 *
 * Re-sending: Alertmanager forgets an alert that is not refreshed (resolve_timeout). Per
 * Alertmanager the output keeps the firing alerts it has sent in a bounded table (max_active; past
 * it an alert is sent once and counted) and sends them all again every resend_interval, at start
 * and as soon as it is reachable again after an outage. After a restart each table is rebuilt
 * from the alert journal up to that kept position, so alerts still firing are refreshed after an
 * Alertmanager restart too.
 *
 * Counted per Alertmanager (roda_alertmanager_*{alertmanager="<url>"}): alerts sent, re-sent,
 * rejected and dropped, batches retried, failed requests, gaps, active alerts, actives past
 * max_active. --check-config checks the URLs and the static labels (Prometheus label names, none
 * of the output's own, none twice). HTTP is libcurl (see DESIGN.md).
 *
 * Threads: one sender thread for all Alertmanagers; metrics and totals from any thread. */
#ifndef RODA_OUTPUT_ALERTMANAGER_H
#define RODA_OUTPUT_ALERTMANAGER_H

#include "roda_output.h"

/* Bytes of one alert's JSON for Alertmanager at most (names, labels, annotations). */
#define RODA_OUTPUT_ALERTMANAGER_ALERT_JSON_MAX 2048u

extern const roda_output_class_t roda_output_alertmanager;

#endif
