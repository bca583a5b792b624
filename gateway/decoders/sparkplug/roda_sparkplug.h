/* roda_sparkplug.h - Sparkplug B (Eclipse Sparkplug Specification 3.0.0) as a Roda host
 * application reads it: the topic namespace, the protobuf payload, and per edge node and device
 * the state a host keeps (metric aliases from BIRTH certificates, the message sequence, bdSeq,
 * alive or dead), plus the one message the gateway sends: the Rebirth request (NCMD).
 *
 * Topics (roda_sparkplug_topic_parse): spBv1.0/<group>/<TYPE>/<edge node>[/<device>] with TYPE
 * one of NBIRTH NDEATH DBIRTH DDEATH NDATA DDATA NCMD DCMD (N* without a device, D* with one),
 * and spBv1.0/STATE/<host id>. Every id is 1 .. RODA_SPARKPLUG_ID_MAX bytes of printable ASCII
 * without '/', '+', '#'. The result points into the topic: nothing is copied.
 *
 * Payload (roda_sparkplug_payload_open, _next): org.eclipse.tahu.protobuf.Payload read from the
 * wire in place (proto/sparkplug_b.proto is the schema, for the tests' independent encoder).
 * Open checks the whole payload (every metric's fields, wire types, lengths) and counts the
 * metrics, at most RODA_DECODE_MAX_READINGS, so that _next never fails afterwards; unknown fields
 * are skipped. Metric names point into the payload. Bounds: RODA_DECODE_MAX_PAYLOAD bytes.
 *
 * Values (roda_sparkplug_value): numeric datatypes become a double. Int8, Int16, Int32, UInt8,
 * UInt16, UInt32 from int_value (or long_value, as some stacks send UInt32), range-checked: a
 * signed value may be written in its own width (0x80 for Int8 -128) or sign-extended to the
 * carrying field's width (0xFFFFFF80); Int64 and UInt64 from long_value (UInt64 above 2^53
 * rounds to the nearest double); Float exactly; Double; Boolean as 0 or 1. NaN and infinities
 * are reported as RODA_SPARKPLUG_VALUE_NON_FINITE (the caller skips and counts them, as the
 * decoder seam does). is_null metrics are RODA_SPARKPLUG_VALUE_NULL. String, Text, UUID,
 * DateTime, DataSet, Bytes, File, Template, arrays and unknown datatypes are
 * RODA_SPARKPLUG_VALUE_UNSUPPORTED: counted, not errors. A value field that does not fit the
 * datatype (wrong field, out of range) is RODA_SPARKPLUG_VALUE_INVALID.
 *
 * State (roda_sparkplug_state_*): one handle holds up to `max_scopes` scopes (an edge node, or a
 * device of an edge node; key: group, node, device) and up to `max_aliases` metric definitions
 * from BIRTH certificates; both bounds are fixed at creation, where all memory is allocated
 * (roda_sparkplug_state_memory). A scope that does not fit is refused
 * (RODA_SPARKPLUG_SCOPES_FULL); a BIRTH metric that does not fit, or whose name is longer than
 * RODA_SPARKPLUG_METRIC_NAME_MAX, is counted (aliases_full, names_too_long) and leaves the scope's
 * birth incomplete. Scopes are never removed.
 *   - BIRTH (NBIRTH, DBIRTH) replaces the scope's metric definitions (name, alias, datatype);
 *     an NBIRTH also drops the definitions of the node's devices (a new session: each device
 *     must DBIRTH again) and records the node's bdSeq (its "bdSeq" metric).
 *   - DATA metrics that carry only an alias are resolved to the name and datatype of that
 *     alias; a metric without datatype takes its definition's, found by alias or else by name.
 *   - Sequence, per edge node over every message it sends but NDEATH: NBIRTH restarts it, each
 *     next message is the previous seq + 1 modulo 256 (255 -> 0 is no gap). A jump is a gap:
 *     `lost` = the messages skipped; the seq of the previous message again is a duplicate.
 *   - DEATH: an NDEATH whose bdSeq differs from the current NBIRTH's is stale (a late will
 *     message of an earlier session): ignored and counted. Otherwise the node and all its
 *     devices are dead until their next BIRTH; a DDEATH kills one device.
 *   - Rebirth: a sequence gap, a DATA or DBIRTH for a node not born since this state was created
 *     (or dead), or a DATA metric whose alias or name has no definition mark the edge node as
 *     needing a rebirth. roda_sparkplug_state_rebirth_take returns that once per NBIRTH, so a
 *     node is asked once until it rebirths; an unknown alias after an incomplete birth (one that
 *     did not fit) asks nothing, so a node the table cannot hold is not asked forever.
 *
 * Threads: topic parsing, payload decoding and encoding are pure. A state belongs to one thread
 * (the ingest thread); roda_sparkplug_state_counters may be read by that thread only. */
#ifndef RODA_SPARKPLUG_H
#define RODA_SPARKPLUG_H

#include <stddef.h>
#include <stdint.h>

#include "roda_decoder.h"
#include "roda_result.h"

/* Longest group, edge node, device or host id in a topic, in bytes. */
#define RODA_SPARKPLUG_ID_MAX 63u
/* Longest metric name the state stores for alias resolution, in bytes. */
#define RODA_SPARKPLUG_METRIC_NAME_MAX 127u
/* Largest capacities roda_sparkplug_state_create accepts. */
#define RODA_SPARKPLUG_MAX_SCOPES (1u << 20)
#define RODA_SPARKPLUG_MAX_ALIASES (1u << 24)
/* The metric an NBIRTH and NDEATH carry their birth/death sequence in. */
#define RODA_SPARKPLUG_BDSEQ_METRIC "bdSeq"
/* The metric of the Rebirth request a host sends as an NCMD. */
#define RODA_SPARKPLUG_REBIRTH_METRIC "Node Control/Rebirth"

/* Message types of the topic namespace. */
typedef enum roda_sparkplug_type {
    RODA_SPARKPLUG_NBIRTH = 0,
    RODA_SPARKPLUG_NDEATH = 1,
    RODA_SPARKPLUG_DBIRTH = 2,
    RODA_SPARKPLUG_DDEATH = 3,
    RODA_SPARKPLUG_NDATA = 4,
    RODA_SPARKPLUG_DDATA = 5,
    RODA_SPARKPLUG_NCMD = 6,
    RODA_SPARKPLUG_DCMD = 7,
    RODA_SPARKPLUG_STATE = 8,
} roda_sparkplug_type_t;

/* Why a topic was refused. */
typedef enum roda_sparkplug_topic_status {
    RODA_SPARKPLUG_TOPIC_OK = 0,
    RODA_SPARKPLUG_TOPIC_NAMESPACE = 1, /* not under spBv1.0/ */
    RODA_SPARKPLUG_TOPIC_TYPE = 2,      /* unknown message type */
    RODA_SPARKPLUG_TOPIC_LEVELS = 3,    /* too few or too many levels for the type */
    RODA_SPARKPLUG_TOPIC_ID = 4,        /* an empty, too long or non-printable id */
} roda_sparkplug_topic_status_t;

/* A parsed topic: ids point into the topic string, not NUL-terminated. For STATE, `node` is the
 * host id and `group` is empty; `device` is empty unless the type is D*. */
typedef struct roda_sparkplug_topic {
    roda_sparkplug_type_t type;
    const char *group;
    size_t group_length;
    const char *node;
    size_t node_length;
    const char *device;
    size_t device_length;
} roda_sparkplug_topic_t;

/* Parses `topic` (`length` bytes, no NUL needed). */
roda_sparkplug_topic_status_t roda_sparkplug_topic_parse(const char *topic, size_t length,
                                                         roda_sparkplug_topic_t *out);
/* A static name for a message type ("NBIRTH", ..., "STATE"). */
const char *roda_sparkplug_type_str(roda_sparkplug_type_t type);

/* Sparkplug DataType numbers the decoder interprets (the rest are unsupported). */
enum {
    RODA_SPARKPLUG_INT8 = 1,
    RODA_SPARKPLUG_INT16 = 2,
    RODA_SPARKPLUG_INT32 = 3,
    RODA_SPARKPLUG_INT64 = 4,
    RODA_SPARKPLUG_UINT8 = 5,
    RODA_SPARKPLUG_UINT16 = 6,
    RODA_SPARKPLUG_UINT32 = 7,
    RODA_SPARKPLUG_UINT64 = 8,
    RODA_SPARKPLUG_FLOAT = 9,
    RODA_SPARKPLUG_DOUBLE = 10,
    RODA_SPARKPLUG_BOOLEAN = 11,
};

/* Which field of a metric's value oneof was present (the last one on the wire wins). */
typedef enum roda_sparkplug_field {
    RODA_SPARKPLUG_FIELD_NONE = 0,
    RODA_SPARKPLUG_FIELD_INT = 10,    /* int_value: raw = the uint32 */
    RODA_SPARKPLUG_FIELD_LONG = 11,   /* long_value: raw = the uint64 */
    RODA_SPARKPLUG_FIELD_FLOAT = 12,  /* float_value: raw = the IEEE bits (low 32) */
    RODA_SPARKPLUG_FIELD_DOUBLE = 13, /* double_value: raw = the IEEE bits */
    RODA_SPARKPLUG_FIELD_BOOL = 14,   /* boolean_value: raw = 0 or 1 */
    RODA_SPARKPLUG_FIELD_OTHER = 15,  /* string, bytes, dataset, template or extension */
} roda_sparkplug_field_t;

/* Presence bits of roda_sparkplug_metric_t.has. */
enum {
    RODA_SPARKPLUG_HAS_NAME = 1u << 0,
    RODA_SPARKPLUG_HAS_ALIAS = 1u << 1,
    RODA_SPARKPLUG_HAS_TIMESTAMP = 1u << 2,
    RODA_SPARKPLUG_HAS_DATATYPE = 1u << 3,
    RODA_SPARKPLUG_HAS_NULL = 1u << 4, /* is_null was true */
};

/* One metric as found on the wire (or, after roda_sparkplug_state_resolve, completed from its
 * definition: name and datatype). `name` points into the payload or into the state. */
typedef struct roda_sparkplug_metric {
    const char *name;
    size_t name_length;
    uint64_t alias;
    uint64_t timestamp; /* milliseconds since the Unix epoch */
    uint32_t datatype;
    uint32_t has; /* RODA_SPARKPLUG_HAS_* */
    roda_sparkplug_field_t field;
    uint64_t raw;
} roda_sparkplug_metric_t;

/* A payload being read: its header after open, and the iteration's position. */
typedef struct roda_sparkplug_payload {
    uint64_t timestamp; /* milliseconds since the Unix epoch; 0 when absent */
    uint64_t seq;
    int has_timestamp;
    int has_seq;
    uint32_t metric_count;
    uint32_t metrics_done; /* metrics returned by _next so far */
    const uint8_t *bytes;
    size_t size;
    size_t offset;
} roda_sparkplug_payload_t;

/* Checks the whole payload (see the head comment) and prepares the iteration. `bytes` must stay
 * valid while the payload is read; NULL with size 0 is an empty payload. RODA_DECODE_OVERSIZE,
 * RODA_DECODE_TRUNCATED, RODA_DECODE_MALFORMED (wrong wire type, a uint32 out of range, group
 * wire types), RODA_DECODE_TOO_MANY. */
roda_decode_status_t roda_sparkplug_payload_open(roda_sparkplug_payload_t *payload,
                                                 const uint8_t *bytes, size_t size);
/* The next metric into *metric: 1, or 0 when all metric_count were returned. */
int roda_sparkplug_payload_next(roda_sparkplug_payload_t *payload, roda_sparkplug_metric_t *metric);
/* Restarts the iteration at the first metric. */
void roda_sparkplug_payload_rewind(roda_sparkplug_payload_t *payload);

/* What a metric's value is. */
typedef enum roda_sparkplug_value_kind {
    RODA_SPARKPLUG_VALUE_NUMBER = 0,      /* *value is set */
    RODA_SPARKPLUG_VALUE_NON_FINITE = 1,  /* a NaN or infinite Float or Double */
    RODA_SPARKPLUG_VALUE_NULL = 2,        /* is_null */
    RODA_SPARKPLUG_VALUE_UNSUPPORTED = 3, /* a datatype that is not a number */
    RODA_SPARKPLUG_VALUE_INVALID = 4,     /* no datatype, or a value that does not fit it */
} roda_sparkplug_value_kind_t;

/* Interprets the value of a metric whose datatype is known (HAS_DATATYPE) as the head comment
 * says; *value is written for RODA_SPARKPLUG_VALUE_NUMBER only. */
roda_sparkplug_value_kind_t roda_sparkplug_value(const roda_sparkplug_metric_t *metric,
                                                 double *value);

/* Writes a payload: `timestamp_ms`, the metrics (each field its `has` bits and `field` say,
 * the value from `raw`), and `seq` when `has_seq`. Returns the bytes written, or 0 when `size`
 * is too small. The gateway sends only Rebirth requests; roda-fleet sends BIRTH and DATA. */
size_t roda_sparkplug_encode(uint8_t *buffer, size_t size, uint64_t timestamp_ms, int has_seq,
                             uint64_t seq, const roda_sparkplug_metric_t *metrics, uint32_t count);
/* Writes the payload of a Rebirth request (NCMD): timestamp `timestamp_ms`, one metric
 * "Node Control/Rebirth", Boolean, true, with the same timestamp. Returns the bytes written, or
 * 0 when `size` is too small (64 bytes always suffice). */
size_t roda_sparkplug_encode_rebirth(uint8_t *buffer, size_t size, uint64_t timestamp_ms);
/* Writes the NUL-terminated topic spBv1.0/<group>/NCMD/<node> of a parsed topic's edge node.
 * Returns its length, or 0 when `size` is too small (RODA_SPARKPLUG_TOPIC_SIZE suffices). */
size_t roda_sparkplug_rebirth_topic(const roda_sparkplug_topic_t *topic, char *buffer, size_t size);
#define RODA_SPARKPLUG_TOPIC_SIZE (8u + 3u * (RODA_SPARKPLUG_ID_MAX + 1u) + 8u)

typedef struct roda_sparkplug_state roda_sparkplug_state_t;

/* What the state made of one message. */
typedef enum roda_sparkplug_event {
    RODA_SPARKPLUG_ACCEPTED = 0,    /* apply the metrics: a BIRTH's or DATA's readings */
    RODA_SPARKPLUG_DIED = 1,        /* NDEATH or DDEATH: the scope's sensors are stale now */
    RODA_SPARKPLUG_STALE_DEATH = 2, /* an NDEATH of an earlier session: ignore it */
    RODA_SPARKPLUG_IGNORED = 3,     /* NCMD, DCMD, STATE: nothing for a host to read */
    RODA_SPARKPLUG_SCOPES_FULL = 4, /* no room for a new node or device: dropped */
} roda_sparkplug_event_t;

/* The verdict on one message. */
typedef struct roda_sparkplug_verdict {
    roda_sparkplug_event_t event;
    uint32_t scope; /* the node's or device's scope (for ACCEPTED, DIED, STALE_DEATH) */
    uint32_t node;  /* the edge node's scope */
    uint32_t lost;  /* messages a sequence gap skipped (0 .. 254) */
    int duplicate;  /* the seq repeats the previous message's */
    int incomplete; /* a BIRTH not all of whose metrics fit the alias table */
} roda_sparkplug_verdict_t;

/* What a state counted since its creation. */
typedef struct roda_sparkplug_counters {
    uint64_t births;          /* NBIRTH and DBIRTH accepted */
    uint64_t deaths;          /* NDEATH and DDEATH applied */
    uint64_t stale_deaths;    /* NDEATH with another session's bdSeq, ignored */
    uint64_t lost;            /* messages skipped by sequence gaps */
    uint64_t duplicates;      /* messages repeating the previous seq */
    uint64_t no_seq;          /* messages that should carry a seq but did not */
    uint64_t unborn;          /* DATA or DBIRTH for a node or device without a live BIRTH */
    uint64_t unknown_metrics; /* DATA metrics whose alias or name has no definition */
    uint64_t aliases_full;    /* BIRTH metrics that did not fit the alias table */
    uint64_t names_too_long;  /* BIRTH metrics with names over RODA_SPARKPLUG_METRIC_NAME_MAX */
    uint64_t scopes_full;     /* messages dropped because their node or device did not fit */
    uint64_t rebirths;        /* Rebirth requests handed out by _rebirth_take */
} roda_sparkplug_counters_t;

/* Creates a state for 1 .. RODA_SPARKPLUG_MAX_SCOPES scopes and 1 .. RODA_SPARKPLUG_MAX_ALIASES
 * metric definitions, allocating all its memory. RODA_ERROR_INVALID_ARG, RODA_ERROR_NOMEM. */
roda_result_t roda_sparkplug_state_create(uint32_t max_scopes, uint32_t max_aliases,
                                          roda_sparkplug_state_t **out);
void roda_sparkplug_state_destroy(roda_sparkplug_state_t *state);
/* Bytes roda_sparkplug_state_create allocates for these capacities. */
uint64_t roda_sparkplug_state_memory(uint32_t max_scopes, uint32_t max_aliases);

/* Applies one message (its parsed topic and opened payload) to the state, as the head comment
 * says, and fills *verdict. A BIRTH reads the payload's metrics (the iteration is rewound after).
 * For ACCEPTED the caller then reads the metrics with _next, _resolve and _value. */
void roda_sparkplug_state_message(roda_sparkplug_state_t *state,
                                  const roda_sparkplug_topic_t *topic,
                                  roda_sparkplug_payload_t *payload,
                                  roda_sparkplug_verdict_t *verdict);
/* Completes a metric of an ACCEPTED message of `scope` from the scope's definitions: an alias
 * without a name gets the defined name; a missing datatype the defined one. Returns 1 when the
 * metric now has a name and a datatype, else 0 (counted; a DATA metric without a definition
 * marks the node for rebirth unless its birth was incomplete). */
int roda_sparkplug_state_resolve(roda_sparkplug_state_t *state, uint32_t scope,
                                 roda_sparkplug_metric_t *metric);
/* Whether the scope's last BIRTH is live (no DEATH since, and for a device, its node's NBIRTH
 * is the one it was born under). 0 for an unknown scope. */
int roda_sparkplug_state_alive(const roda_sparkplug_state_t *state, uint32_t scope);
/* 1 when edge node `node` needs a Rebirth request and none was handed out since its last
 * NBIRTH: the caller publishes roda_sparkplug_encode_rebirth on roda_sparkplug_rebirth_topic
 * (if configured to). Counted. 0 otherwise. */
int roda_sparkplug_state_rebirth_take(roda_sparkplug_state_t *state, uint32_t node);
/* The state's counters. */
roda_sparkplug_counters_t roda_sparkplug_state_counters(const roda_sparkplug_state_t *state);
/* The devices of edge node `node`, one per call: *cursor starts at 0; a call that returns 1 sets
 * *device to the next device's ids (type DDEATH; pointing into the state), 0 after the last. */
int roda_sparkplug_state_devices(const roda_sparkplug_state_t *state, uint32_t node,
                                 uint32_t *cursor, roda_sparkplug_topic_t *device);

#endif
