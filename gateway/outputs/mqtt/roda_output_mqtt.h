/* roda_output_mqtt.h - the MQTT alert output: a thread that publishes every alert as JSON
 * (roda_alert_json) to mqtt.alert_topic at mqtt.alert_qos, from an alert cursor, over its own
 * broker connection (roda_mqtt_conn.h; client id "<mqtt.client_id>-alerts", a clean session, so
 * it never takes over the input's).
 *
 * Delivery from the journal: the publisher's cursor is its position in the alert journal. While
 * the broker is away it does not move, so after an outage every alert the journal still holds
 * is published (in order, with its journal position as `id`, so a consumer can drop a repeat);
 * what the journal overwrote meanwhile is a counted gap, as for SSE. With journal.alert_directory
 * the alert journal is file-backed and the output keeps its position (the last alert the broker
 * acknowledged, in order) in mqtt-alerts.position there: after a crash or restart it resumes
 * just after it, so alerts not yet published when the gateway died are published then, and
 * none that was acknowledged is published again (a message in flight at the crash may be).
 *
 * Bounded: at most RODA_OUTPUT_MQTT_MAX_INFLIGHT messages handed to libmosquitto and not yet
 * acknowledged (it allocates one packet per message; nothing else grows). Never silent:
 * `published` counts acknowledged messages (QoS 1: PUBACK; QoS 0: written), `dropped` counts
 * alerts the cursor lost because the publisher fell a journal capacity behind (a gap), failed
 * publishes, and what was still unacknowledged or unread when stop's flush deadline passed.
 * Exported as roda_alert_publish_total{result}.
 *
 * Availability (mqtt.availability_topic, on this connection; also without alert_topic): on every
 * connect "online", retained at QoS 1; the connection's last will "offline", retained at QoS 1,
 * which the broker publishes when the connection ends without a DISCONNECT (the gateway killed,
 * at once; its network lost, after 1.5 x mqtt.keepalive);
 * on a clean stop "offline" is published (waiting up to a second for the PUBACK) before the
 * DISCONNECT that makes the broker discard the will.
 *
 * Threads: its own publisher thread; metrics and totals from any thread. */
#ifndef RODA_OUTPUT_MQTT_H
#define RODA_OUTPUT_MQTT_H

#include "roda_output.h"

#define RODA_OUTPUT_MQTT_MAX_INFLIGHT 1024u

extern const roda_output_class_t roda_output_mqtt;

#endif
