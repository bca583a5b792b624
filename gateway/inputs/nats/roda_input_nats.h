/* roda_input_nats.h - the NATS JetStream input: one durable pull consumer per owned partition of
 * a stream, each message decoded by the configured payload format and acknowledged only once its
 * readings are in the input journal (and, file-backed, on disk).
 *
 * Subjects follow a pattern with a {partition} and a {device} token
 * ("fleet.{partition}.{device}.readings"): the consumer of partition N filters the pattern with
 * N and a wildcard for the device; the device is that token of each message's subject. The
 * server puts each device in one partition by a subject mapping (DESIGN.md, "Scaling out").
 *
 * Per service turn (ingest thread): for each owned partition a no-wait fetch of up to `batch`
 * messages while the journal has room for a whole message; each message whose stream sequence
 * is above the partition's position (roda_nats_positions.h) goes to roda_ingest_message and
 * moves the position; one at or below it (a redelivery after a lost acknowledgement) is only
 * acknowledged again. After the turn's messages: roda_ingest_sync (the journal's fdatasync), the
 * positions synced, then every message acknowledged. A partition whose consumer has messages
 * awaiting acknowledgement when it is bound (at start, after a reconnect, a failed fetch or a
 * skipped consumer sequence) gets its consumer made again, starting right after its position:
 * JetStream would otherwise redeliver those behind newer messages. The stream is made (file
 * storage, `replicas`) when it does not exist, the consumers when they do not.
 *
 * Connection: libnats' own threads connect and reconnect (forever, across the server list); the
 * ingest thread sets up the stream and consumers once connected (JetStream calls wait up to 2 s,
 * retried every second on failure). Ready once connected and every partition is subscribed. */
#ifndef RODA_INPUT_NATS_H
#define RODA_INPUT_NATS_H

#include <stdint.h>

#include "roda_input.h"
#include "roda_json_decode.h"

#define RODA_INPUT_NATS_MAX_SERVERS 8u
#define RODA_INPUT_NATS_MAX_PARTITIONS 32u

typedef struct roda_input_nats_settings {
    const char *servers[RODA_INPUT_NATS_MAX_SERVERS];
    uint32_t server_count;
    const char *stream;
    const char *subject; /* the pattern, with {partition} and {device} */
    const char *durable_prefix;
    uint32_t partitions[RODA_INPUT_NATS_MAX_PARTITIONS];
    uint32_t partition_count;
    uint32_t batch;
    uint64_t fetch_wait_ns;
    uint64_t ack_wait_ns;
    uint32_t replicas;
    const roda_decoder_t *decoder;
    roda_json_settings_t json; /* the decoder's settings when it is json */
} roda_input_nats_settings_t;

extern const roda_input_class_t roda_input_nats;

/* Checks a subject pattern: tokens separated by '.', none empty, "{partition}" and "{device}"
 * exactly once each, no other token with '*', '>', '{' or '}'. */
bool roda_nats_pattern_valid(const char *pattern);
/* Writes `pattern` with {partition} replaced by `partition` and {device} by `device`.
 * RODA_ERROR_INVALID_ARG when it does not fit in `size`. */
roda_result_t roda_nats_pattern_expand(const char *pattern, const char *partition,
                                       const char *device, char *out, size_t size);
/* The {device} token of `subject` under `pattern` (same token count, literal tokens equal):
 * true with *device and *length set. */
bool roda_nats_subject_device(const char *pattern, const char *subject, const char **device,
                              size_t *length);

#endif
