/* roda_sparkplug_decode.h - Sparkplug B as a payload format of the decoder seam ("sparkplug.b",
 * roda_decoder.h): a host application's reading of each message on its topic, with the input's
 * host state (roda_sparkplug.h) carried in the decoder's settings.
 *
 * Per message, pass 1 (open) parses the topic (context->topic; none or not Sparkplug:
 * RODA_DECODE_TOPIC), opens the payload, and applies it to the host state:
 *   - BIRTH and DATA: a batch of the payload's metrics; the device is the edge node,
 *     "<group>/<node>", or "<group>/<node>/<device>" for DBIRTH and DDATA (node ids are unique
 *     only within a group; a name over 63 bytes is left empty, and the ingest counts it, or
 *     one with a quote or backslash, as a bad device); `lost` is what a seq gap skipped,
 *     `duplicate` a repeated seq.
 *   - NDEATH, DDEATH: a `silence` batch; `silenced` lists the device and, for an NDEATH, each of
 *     the node's devices, so their sensors count as silent at once.
 *   - NCMD, DCMD, STATE and a late NDEATH of an earlier session: RODA_DECODE_IGNORED; a node or
 *     device the state has no room for: RODA_DECODE_NO_ROOM.
 * Pass 2 resolves each metric's alias to its BIRTH name and datatype and reads its value: each
 * numeric metric is a reading named by its metric name (the ingest derives the sensor id from
 * (device, name)), valued bit for bit as roda_sparkplug_value gives it, at the metric's
 * timestamp, else the payload's, else 0 (milliseconds to microseconds). Metrics it cannot use
 * are dropped by the seam's reasons and counted here by their own: an alias or name without a
 * definition (missing_field; unknown_metric), is_null (missing_field; null), a datatype that is
 * not a number (wrong_type; unsupported), a value that does not fit its datatype or a timestamp
 * beyond int64 microseconds (out_of_range; invalid), a name that is not a valid sensor name
 * (wrong_type; bad_name), NaN or infinity (non_finite).
 *
 * After each message the input calls roda_sparkplug_host_after: it publishes the state's
 * counters for /metrics and, when rebirth requests are on and the message made its edge node
 * need one (a seq gap, DATA of an unborn node, an unknown alias), writes the NCMD to publish.
 *
 * Threads: a host belongs to its input's thread (the ingest thread); roda_sparkplug_host_metrics
 * may run on any thread. */
#ifndef RODA_SPARKPLUG_DECODE_H
#define RODA_SPARKPLUG_DECODE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_decoder.h"
#include "roda_metrics.h"
#include "roda_sparkplug.h"

/* What the host counts for /metrics, per message (events) or per metric (drops). */
typedef enum roda_sparkplug_count {
    RODA_SPARKPLUG_COUNT_BIRTHS = 0,
    RODA_SPARKPLUG_COUNT_DEATHS,
    RODA_SPARKPLUG_COUNT_STALE_DEATHS,
    RODA_SPARKPLUG_COUNT_LOST,
    RODA_SPARKPLUG_COUNT_DUPLICATES,
    RODA_SPARKPLUG_COUNT_NO_SEQ,
    RODA_SPARKPLUG_COUNT_UNBORN,
    RODA_SPARKPLUG_COUNT_SCOPES_FULL,
    RODA_SPARKPLUG_COUNT_REBIRTHS,
    RODA_SPARKPLUG_COUNT_REBIRTHS_UNSENT,
    RODA_SPARKPLUG_COUNT_UNKNOWN_METRICS,
    RODA_SPARKPLUG_COUNT_ALIASES_FULL,
    RODA_SPARKPLUG_COUNT_NAMES_TOO_LONG,
    RODA_SPARKPLUG_COUNT_UNSUPPORTED,
    RODA_SPARKPLUG_COUNT_NULL,
    RODA_SPARKPLUG_COUNT_INVALID,
    RODA_SPARKPLUG_COUNT_BAD_NAME,
    RODA_SPARKPLUG_COUNT_COUNT
} roda_sparkplug_count_t;

/* One input's Sparkplug host: its state and what its messages leave for the input. */
typedef struct roda_sparkplug_host {
    roda_sparkplug_state_t *state;
    bool rebirth; /* publish Rebirth requests (sparkplug.rebirth) */
    /* The last message's edge node (for the rebirth request) and topic (pointing into it). */
    uint32_t last_node;
    roda_sparkplug_topic_t last_topic;
    /* A silence batch: its scope, and the cursor over an NDEATH's devices. */
    uint32_t silence_scope;
    uint32_t silence_cursor;
    bool silence_started;
    /* Decoder-side counts (ingest thread) and the published copy of every count (any thread). */
    uint64_t own[RODA_SPARKPLUG_COUNT_COUNT];
    _Atomic uint64_t published[RODA_SPARKPLUG_COUNT_COUNT];
} roda_sparkplug_host_t;

/* The decoder's settings (roda_decode_context_t.settings): the input's host, which it updates. */
typedef struct roda_sparkplug_settings {
    roda_sparkplug_host_t *host;
} roda_sparkplug_settings_t;

/* The decoder's table entry ("sparkplug.b"). */
extern const roda_decoder_t roda_sparkplug_decoder;

/* Creates the host's state (roda_sparkplug_state_create's bounds and errors). */
roda_result_t roda_sparkplug_host_init(roda_sparkplug_host_t *host, uint32_t max_scopes,
                                       uint32_t max_aliases, bool rebirth);
void roda_sparkplug_host_fini(roda_sparkplug_host_t *host);

/* Bytes a rebirth payload takes at most. */
#define RODA_SPARKPLUG_REBIRTH_SIZE 64u

/* After each message of the host's decoder: publishes the counts and, when a Rebirth request is
 * due, writes its NUL-terminated topic (RODA_SPARKPLUG_TOPIC_SIZE bytes) and its payload
 * (RODA_SPARKPLUG_REBIRTH_SIZE bytes, stamped `now_ms`) and returns its payload's size; else 0.
 * The message's topic must still be valid. */
size_t roda_sparkplug_host_after(roda_sparkplug_host_t *host, uint64_t now_ms, char *topic,
                                 uint8_t *payload);
/* A Rebirth request that could not be published (counted). */
void roda_sparkplug_host_unsent(roda_sparkplug_host_t *host);

/* Writes roda_sparkplug_events_total{event} and roda_sparkplug_metrics_dropped_total{reason};
 * `host` NULL: zeros. Any thread. */
void roda_sparkplug_host_metrics(const roda_sparkplug_host_t *host, roda_metrics_t *metrics);

#endif
