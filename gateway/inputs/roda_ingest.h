/* roda_ingest.h - the gateway's network ingest: MQTT and UDP batches of protobuf readings
 * decoded straight into the input journal, the journal's single writer.
 *
 * One ingest thread runs one poll loop over an eventfd (stop), the UDP sockets (IPv4/IPv6) and
 * the libmosquitto socket. Per message: size check, pass 1 of the decoder (header, framing,
 * reading count), device identity (topic pattern or payload) interned in the bounded registry,
 * sequence check (duplicates dropped, gaps counted as lost upstream), then claim journal slots
 * for the readings, decode them into the slots (pass 2) and commit the valid ones. Every
 * reading of a message carries the same ingest_time_ns (roda_now_ns() on arrival).
 *
 * A full journal follows the journal's policy. REJECT: the readings that find no room are
 * counted as journal_full (per input) and the message's sequence still counts as seen. BLOCK:
 * the ingest thread waits for the slowest reader; meanwhile the MQTT socket is not read (TCP
 * back-pressure up to the broker, which queues for the persistent session) and UDP datagrams
 * the kernel drops are counted from SO_RXQ_OVFL. Neither is silent.
 *
 * Memory: allocated at create (UDP buffers, device registry, libmosquitto client); the loop
 * allocates nothing of its own per message (libmosquitto allocates each received packet).
 *
 * Threads: create/start/stop/destroy from one controlling thread; roda_ingest_stats,
 * roda_ingest_connected, roda_ingest_devices and roda_ingest_udp_port from any thread. */
#ifndef RODA_INGEST_H
#define RODA_INGEST_H

#include <stdint.h>

#include "roda_devices.h"
#include "roda_journal.h"
#include "roda_mqtt.h"
#include "roda_reading.h"

#define RODA_INGEST_MAX_UDP 4u

typedef struct roda_ingest_config {
    roda_mqtt_config_t mqtt;                   /* mqtt.host NULL: no MQTT input */
    const char *udp_bind[RODA_INGEST_MAX_UDP]; /* "127.0.0.1:5684", "[::1]:5684"; none: no UDP */
    uint32_t udp_bind_count;
    uint32_t udp_receive_buffer; /* bytes; default 32 MiB (the default buffer loses bursts) */
    uint32_t udp_max_datagram;   /* bytes; larger datagrams count as oversize; default 65507 */
    uint32_t udp_batch;          /* datagrams per recvmmsg; default 64 */
    uint32_t max_message_size;   /* MQTT payload bound in bytes; default 65536 */
    uint32_t max_devices;        /* registry bound; default 16384 */
} roda_ingest_config_t;

/* Counters per input. Units: messages unless the name says readings. */
typedef enum roda_ingest_counter {
    RODA_INGEST_MESSAGES = 0,      /* messages received (datagrams / MQTT publishes) */
    RODA_INGEST_BATCHES,           /* messages accepted (decoded, not duplicate) */
    RODA_INGEST_READINGS,          /* readings committed to the journal */
    RODA_INGEST_DECODE_ERROR,      /* malformed protobuf: bad varint, wire type, length */
    RODA_INGEST_TRUNCATED,         /* the payload ends inside a field */
    RODA_INGEST_OVERSIZE,          /* over max_message_size / udp_max_datagram (MSG_TRUNC) */
    RODA_INGEST_TOO_MANY_READINGS, /* more than RODA_DECODE_MAX_READINGS in one batch */
    RODA_INGEST_UNKNOWN_TOPIC,     /* topic does not match the device pattern */
    RODA_INGEST_BAD_DEVICE,        /* no device name, or one that is not a valid label */
    RODA_INGEST_TOO_MANY_DEVICES,  /* a new device past max_devices */
    RODA_INGEST_DUPLICATE,         /* batch seen before (QoS 1 redelivery, replay) */
    RODA_INGEST_LOST_UPSTREAM,     /* batches skipped in a device's sequence */
    RODA_INGEST_LATE,              /* batches that arrived after a later one (filled a gap) */
    RODA_INGEST_NON_FINITE,        /* readings dropped: NaN or infinite value */
    RODA_INGEST_JOURNAL_FULL,      /* readings dropped: journal full under REJECT */
    RODA_INGEST_KERNEL_DROPS,      /* UDP datagrams the kernel dropped (SO_RXQ_OVFL) */
    RODA_INGEST_RECEIVE_ERRORS,    /* failed receive system calls */
    RODA_INGEST_CONNECTS,          /* MQTT connections accepted by the broker */
    RODA_INGEST_CONNECT_FAILURES,  /* MQTT connection attempts that failed */
    RODA_INGEST_DISCONNECTS,       /* MQTT connections lost */
    RODA_INGEST_COUNTER_COUNT
} roda_ingest_counter_t;

typedef struct roda_ingest_stats {
    uint64_t counters[RODA_INPUT_COUNT][RODA_INGEST_COUNTER_COUNT];
    int mqtt_connected;
    uint32_t devices;
    uint32_t udp_receive_buffer; /* smallest SO_RCVBUF the kernel granted (0: no UDP input) */
} roda_ingest_stats_t;

typedef struct roda_ingest roda_ingest_t;

/* Fills `config` with the defaults: MQTT as roda_mqtt_config_default (disabled), no UDP. */
void roda_ingest_config_default(roda_ingest_config_t *config);

/* Creates the ingest for `journal` (record_size sizeof(roda_reading_t); the ingest must be its
 * only writer). Binds the UDP sockets now so that address errors surface here. The config's
 * strings must outlive the ingest. Errors: RODA_ERROR_INVALID_ARG, RODA_ERROR_SYSTEM (bind; errno
 * kept), RODA_ERROR_NOMEM. */
roda_result_t roda_ingest_create(const roda_ingest_config_t *config, roda_journal_t *journal,
                                 roda_ingest_t **out);
/* Stops if running, disconnects and frees. Does not close or destroy the journal. */
void roda_ingest_destroy(roda_ingest_t *ingest);

/* Starts the ingest thread. RODA_ERROR_STATE if already started, RODA_ERROR_SYSTEM. */
roda_result_t roda_ingest_start(roda_ingest_t *ingest);
/* Stops the thread and waits for it (under BLOCK, as soon as the journal has room). */
void roda_ingest_stop(roda_ingest_t *ingest);

/* 1 when MQTT is connected and subscribed, or when there is no MQTT input (for /readyz). */
int roda_ingest_connected(const roda_ingest_t *ingest);
void roda_ingest_stats(const roda_ingest_t *ingest, roda_ingest_stats_t *stats);
/* A static metric label for a counter, e.g. "lost_upstream"; NULL when out of range. */
const char *roda_ingest_counter_name(roda_ingest_counter_t counter);
/* A static label for an input: "mqtt", "udp". */
const char *roda_ingest_input_name(roda_input_kind_t input);
/* The device registry, for device names and per-device counters. */
const roda_devices_t *roda_ingest_devices(const roda_ingest_t *ingest);
/* The port UDP socket `i` is bound to (0 if i >= udp_bind_count). */
uint16_t roda_ingest_udp_port(const roda_ingest_t *ingest, uint32_t i);

#endif
