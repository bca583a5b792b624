/* roda_input.h - the input seam: a source of messages that the ingest thread polls, and the
 * calls through which an input hands its messages to the ingest.
 *
 * An input is a roda_input_class_t (a name and a small table of callbacks) listed once in
 * roda_inputs.c; the ingest loop polls whatever is registered. Each input turns its section of
 * the gateway config into its own typed settings (configure), is created from those settings,
 * then lives on the ingest thread: every loop turn it says which descriptors it wants polled and
 * how long the loop may sleep (poll_fds), and is serviced with what poll reported (service).
 * Inside service it hands each message to roda_ingest_message with the decoder it chose (per
 * input or per topic filter) and that decoder's settings, and counts what it drops itself with
 * roda_ingest_count.
 *
 * A new input is one folder under inputs/ plus one line in roda_inputs.c.
 *
 * Threads: configure and check from any thread; create, destroy, poll_fds and service from the
 * ingest thread (create may run before it starts); ready, counters and metrics from any thread. */
#ifndef RODA_INPUT_H
#define RODA_INPUT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_config.h"
#include "roda_decoder.h"
#include "roda_metrics.h"
#include "roda_result.h"

/* Inputs one ingest runs at most, descriptors one input polls at most, bytes of one input's
 * settings at most. */
#define RODA_INGEST_MAX_INPUTS 8u
#define RODA_INPUT_MAX_FDS 8u
#define RODA_INPUT_SETTINGS_MAX 4096u

/* Counters per input. Units: messages unless the name says readings. Each received message is
 * counted once more: as an accepted batch or under one rejection reason, so that
 *   messages = batches + decode_error + truncated + oversize + too_many_readings + unknown_topic
 *              + bad_device + too_many_devices + duplicate + ignored
 * and each reading of an accepted batch once more: accepted or under one drop reason, so that
 *   batch_readings = readings + non_finite + missing_field + wrong_type + out_of_range
 *                    + other_device + journal_full + disk_full + malformed_reading
 * (the four in the middle are the roda_decode_drops_t reasons of named formats such as JSON).
 * unnamed_sensors is outside both sums: readings that went in without their name. */
typedef enum roda_ingest_counter {
    RODA_INGEST_MESSAGES = 0,        /* messages received (datagrams / MQTT publishes) */
    RODA_INGEST_BATCHES,             /* messages accepted (decoded, not duplicate) */
    RODA_INGEST_BATCH_READINGS,      /* readings in accepted batches (their pass-1 count) */
    RODA_INGEST_READINGS,            /* readings committed to the journal */
    RODA_INGEST_DECODE_ERROR,        /* malformed payload: bad varint, wire type, length */
    RODA_INGEST_TRUNCATED,           /* the payload ends inside a field */
    RODA_INGEST_OVERSIZE,            /* over the message bound / max_datagram (MSG_TRUNC) */
    RODA_INGEST_TOO_MANY_READINGS,   /* more than RODA_DECODE_MAX_READINGS in one batch */
    RODA_INGEST_UNKNOWN_TOPIC,       /* topic does not match the device pattern */
    RODA_INGEST_BAD_DEVICE,          /* no device name, or one that is not a valid label */
    RODA_INGEST_TOO_MANY_DEVICES,    /* a new device past max_devices */
    RODA_INGEST_DUPLICATE,           /* batch seen before (QoS 1 redelivery, replay) */
    RODA_INGEST_LOST_UPSTREAM,       /* batches skipped in a device's sequence */
    RODA_INGEST_LATE,                /* batches that arrived after a later one (filled a gap) */
    RODA_INGEST_SEQUENCE_RESETS,     /* batches accepted as a device's new sequence baseline */
    RODA_INGEST_BASELINES,           /* devices whose first sequenced batch this gateway saw */
    RODA_INGEST_UNSEEN_BEFORE_START, /* batches of those devices' boots before their first one */
    RODA_INGEST_NON_FINITE,          /* readings dropped: NaN or infinite value */
    RODA_INGEST_MISSING_FIELD,       /* readings dropped: sensor or timestamp field absent */
    RODA_INGEST_WRONG_TYPE,          /* readings dropped: not a number, or a bad sensor name */
    RODA_INGEST_OUT_OF_RANGE,        /* readings dropped: beyond a double, or a bad timestamp */
    RODA_INGEST_OTHER_DEVICE,        /* readings dropped: a batch entry naming another device */
    RODA_INGEST_JOURNAL_FULL,        /* readings dropped: journal full under REJECT */
    RODA_INGEST_DISK_FULL,           /* readings dropped: the journal's file could not grow */
    RODA_INGEST_MALFORMED_READING,   /* readings dropped: at or after a bad reading (pass 2) */
    RODA_INGEST_KERNEL_DROPS,        /* UDP datagrams the kernel dropped (SO_RXQ_OVFL) */
    RODA_INGEST_RECEIVE_ERRORS,      /* failed receive system calls */
    RODA_INGEST_CONNECTS,            /* connections accepted by a broker */
    RODA_INGEST_CONNECT_FAILURES,    /* connection attempts that failed */
    RODA_INGEST_DISCONNECTS,         /* connections lost */
    RODA_INGEST_UNNAMED_SENSORS,     /* readings committed unnamed: the name registry was full */
    RODA_INGEST_IGNORED,             /* messages with nothing to read (Sparkplug NCMD, STATE) */
    RODA_INGEST_COUNTER_COUNT
} roda_ingest_counter_t;

typedef struct roda_ingest roda_ingest_t;

/* Where an input delivers: its ingest and its index there (the `input` of its records). */
typedef struct roda_input_port {
    roda_ingest_t *ingest;
    uint8_t index;
} roda_input_port_t;

typedef struct roda_input_class {
    const char *name;     /* the `input` label on metrics and in sensor JSON, e.g. "udp" */
    size_t settings_size; /* <= RODA_INPUT_SETTINGS_MAX */
    /* True when the sender takes a message as delivered once the input has it (MQTT QoS 1:
     * libmosquitto sends the PUBACK before handing the message over). The ingest then never
     * drops its readings for want of journal room: it waits for room (the input should stop
     * reading while roda_ingest_can_take says no, so the sender is pushed back instead). */
    bool acknowledges;
    /* Fills `settings` from the input's section of `config` and sets *enabled. False when the
     * section is inconsistent beyond the schema's bounds, with "field: what is wrong" in `why`
     * (--check-config shows it); the settings keep pointers into `config`. */
    bool (*configure)(const roda_config_t *config, void *settings, bool *enabled, char *why,
                      size_t size);
    /* Creates the input (binds sockets, creates clients: errors surface here). RODA_SUCCESS,
     * RODA_ERROR_INVALID_ARG, RODA_ERROR_SYSTEM (errno kept), RODA_ERROR_NOMEM. */
    roda_result_t (*create)(const void *settings, const roda_input_port_t *port, void **state);
    void (*destroy)(void *state);
    /* Fills up to RODA_INPUT_MAX_FDS descriptors to poll and returns how many; lowers
     * *timeout_ms (-1: forever) to the longest the loop may sleep before the next service. */
    uint32_t (*poll_fds)(void *state, struct pollfd *fds, int *timeout_ms);
    /* Called every loop turn with the revents of its descriptors (as poll_fds filled them). */
    void (*service)(void *state, const struct pollfd *fds, uint32_t count);
    /* For /readyz: true when the input can take messages; else the reason. NULL: always. */
    bool (*ready)(const void *state, char *why, size_t size);
    /* Sets the counters the input keeps itself (e.g. connects); NULL: none. */
    void (*counters)(const void *state, uint64_t counters[RODA_INGEST_COUNTER_COUNT]);
    /* Writes the input's own families; `state` NULL when the input is off. NULL: none. */
    void (*metrics)(const void *state, roda_metrics_t *metrics);
    /* One key=value for the "started" log line, e.g. "udp_port=5684"; `state` NULL when off. */
    void (*describe)(const void *state, char *buf, size_t size);
    /* Bytes the input preallocates for `settings` (memory plan). */
    uint64_t (*memory)(const void *settings);
} roda_input_class_t;

/* Room for any input class's settings. */
typedef struct roda_input_settings {
    _Alignas(max_align_t) unsigned char bytes[RODA_INPUT_SETTINGS_MAX];
} roda_input_settings_t;

/* Runs `input`'s configure into `settings`; false (with the reason in `why`) when the section is
 * inconsistent or the class's settings do not fit RODA_INPUT_SETTINGS_MAX. */
bool roda_input_configure(const roda_input_class_t *input, const roda_config_t *config,
                          roda_input_settings_t *settings, bool *enabled, char *why, size_t size);

/* The registered inputs, in registration order (their index is the records' `input`). */
const roda_input_class_t *const *roda_inputs(uint32_t *count);

/* One message of `port`'s input, decoded with `decoder` and its `settings` for this message's
 * filter (the decoder's own settings type; NULL: its defaults). `topic` is the message's topic
 * for decoders that read it (NULL: none). `device` names the device when the input knows it (an
 * MQTT topic level); NULL: the payload names it. Ingest thread only. */
void roda_ingest_message(const roda_input_port_t *port, const roda_decoder_t *decoder,
                         const void *settings, const char *topic, const char *device,
                         size_t device_length, const uint8_t *payload, size_t size);
/* True when the input journal has room for `readings` more readings now and its file (if any)
 * can grow: an acknowledging input reads its next message only then. Ingest thread only. */
bool roda_ingest_can_take(const roda_input_port_t *port, uint32_t readings);
/* Makes every reading committed so far durable when the input journal is file-backed (fdatasync
 * of its segments; a no-op in memory): an input whose sender keeps a message until it is
 * acknowledged (JetStream) calls it before acknowledging. RODA_ERROR_IO (errno kept). Ingest
 * thread only. */
roda_result_t roda_ingest_sync(const roda_input_port_t *port);
/* The input journal's directory, where an input keeps its own small state files; NULL when the
 * journal is in memory. */
const char *roda_ingest_directory(const roda_input_port_t *port);
/* Adds `amount` to one of the input's counters (drops the input sees before decoding). */
void roda_ingest_count(const roda_input_port_t *port, roda_ingest_counter_t counter,
                       uint64_t amount);

#endif
