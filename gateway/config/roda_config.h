/* roda_config.h - the gateway's configuration: an INI file parsed with libinih (Debian's
 * libinih-dev), every bound explicit, every error naming file:line:field.
 *
 * Format (deploy/roda-gateway.conf is the commented example):
 *
 *   [gateway]   log_level, ewma_alpha, stale_tick, idle_spin, placement
 *   [journal]   input_capacity, summary_capacity, alert_capacity (records, powers of two),
 *               directory (empty: anonymous memory), segment_records, retained_segments
 *   [limits]    max_sensors, sensor_idle_timeout, max_devices, max_rules, max_sse_clients,
 *               max_series, series_staleness, window_stats, recent_alerts, recent_values
 *   [http]      bind, port, max_connections, connection_timeout, sse_heartbeat, request_memory
 *   [mqtt]      enabled, host, port, client_id, topics, qos, clean_session, keepalive, username,
 *               password, ca_file, cert_file, key_file, device_from, device_topic_level,
 *               reconnect_min, reconnect_max, alert_topic, alert_qos, availability_topic,
 *               formats
 *   [json]      device_field, device_topic_level, sensor_fields, timestamp_field,
 *               timestamp_format, max_depth: the JSON mapping of formats "json"
 *   [json.NAME] the same keys: the mapping of formats "json.NAME" (one per topic filter)
 *   [sparkplug] rebirth, max_scopes, max_aliases
 *   [udp]       enabled, bind, receive_buffer, max_datagram, batch
 *   [nats]      enabled, servers, stream, subject, partitions, durable_prefix, batch, fetch_wait,
 *               ack_wait, format, replicas
 *   [rule.NAME] or [rule "NAME"]   kind (above|below|jump|rate|stale), threshold (above, below,
 *               rate per second), factor (jump), after (stale), value (last|mean|ewma),
 *               severity (info|warning|critical), hysteresis, holdoff, sensors (ids), devices
 *               (glob), names (glob of named sensors' names)
 *
 * Values: integers are decimal; byte sizes take K/M/G suffixes (binary); durations take ms, s, m
 * or h (a bare number is seconds); lists are comma-separated; booleans are true/false/yes/no/on/
 * off/1/0. A `;` starts a comment (also after a value), `#` only at the start of a line.
 *
 * Errors: unknown section or key, a key set twice, a bad number, a value out of range, a missing
 * required field, a duplicate rule, a line too long or malformed. Each one is recorded as
 * file:line: field: what is wrong (roda_config_error_format); parsing goes on so that one run
 * reports them all (up to RODA_CONFIG_MAX_ERRORS kept, all counted).
 *
 * Memory: roda_config_t is one plain struct (47 KiB, of which 30 KiB are the RODA_RULES_MAX rules);
 * loading allocates nothing that outlives the call.
 *
 * Threads: load from one thread at a time (it sets libinih's line-length global). */
#ifndef RODA_CONFIG_H
#define RODA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "roda_log.h"
#include "roda_result.h"
#include "roda_rules.h"

#define RODA_CONFIG_PATH_MAX 256
#define RODA_CONFIG_LINE_MAX 1024
#define RODA_CONFIG_MAX_ERRORS 32
#define RODA_CONFIG_MAX_TOPICS 8
#define RODA_CONFIG_MAX_UDP_BINDS 4
#define RODA_CONFIG_MAX_ALERTMANAGERS 4
#define RODA_CONFIG_MAX_USERS 8
#define RODA_CONFIG_MAX_STATIC_LABELS 8
#define RODA_CONFIG_TEXT_MAX 128
#define RODA_CONFIG_MAX_SENSOR_FIELDS 16
/* JSON mappings: [json] and up to 7 [json.NAME] sections. */
#define RODA_CONFIG_MAX_JSON 8
#define RODA_CONFIG_NAME_MAX 64
#define RODA_CONFIG_MAX_NATS_SERVERS 8
#define RODA_CONFIG_MAX_PARTITIONS 32

typedef enum roda_device_source {
    RODA_DEVICE_FROM_PAYLOAD = 0, /* the batch message names its device */
    RODA_DEVICE_FROM_TOPIC = 1,   /* a level of the MQTT topic names it */
} roda_device_source_t;

/* Where the state and rules stages run (DESIGN.md, "Placement"). */
typedef enum roda_stage_placement {
    RODA_STAGES_PIPELINED = 0, /* a thread each, after the ingest thread */
    RODA_STAGES_FUSED = 1,     /* on the ingest thread, after each turn */
} roda_stage_placement_t;

/* One JSON mapping ([json] or [json.NAME]). */
typedef struct roda_config_json {
    char name[RODA_CONFIG_NAME_MAX];         /* "" for [json] */
    char device_field[RODA_CONFIG_NAME_MAX]; /* "" = the topic names the device */
    /* with device_level_set: the 0-based topic level naming the device of this mapping's
     * filters (MQTT), instead of [mqtt] device_from and device_topic_level */
    uint32_t device_topic_level;
    bool device_level_set;       /* device_topic_level is given (set by the loader) */
    uint32_t sensor_field_count; /* 0 = every number or boolean member */
    char sensor_fields[RODA_CONFIG_MAX_SENSOR_FIELDS][RODA_CONFIG_NAME_MAX];
    char timestamp_field[RODA_CONFIG_NAME_MAX];  /* "" = none */
    char timestamp_format[RODA_CONFIG_NAME_MAX]; /* s, ms, us or rfc3339 */
    uint32_t max_depth;
} roda_config_json_t;

typedef struct roda_config {
    char source[RODA_CONFIG_PATH_MAX]; /* the file it was loaded from */

    /* [gateway] */
    roda_log_level_t log_level;
    double ewma_alpha;      /* (0, 1] */
    uint64_t stale_tick_ns; /* how often stale rules are checked */
    bool idle_spin;         /* stage threads spin before every sleep (RODA_IDLE_SPIN) */
    roda_stage_placement_t placement;

    /* [journal] capacities in records (powers of two) */
    struct {
        uint64_t input_capacity;
        uint64_t summary_capacity;
        uint64_t alert_capacity;
        char directory[RODA_CONFIG_PATH_MAX]; /* input journal's segment files; "" = memory */
        /* the alert journal's segment files and the alert outputs' positions; "" = memory, or
         * <directory>/alerts when directory is set (durable input implies durable alerts) */
        char alert_directory[RODA_CONFIG_PATH_MAX];
        uint64_t segment_records;      /* with directory: records per segment file */
        uint32_t retained_segments;    /* with directory: segment files kept on disk */
        uint64_t snapshot_interval_ns; /* with directory: between snapshots; 0: only at stop */
    } journal;

    /* [limits] */
    struct {
        uint32_t max_sensors;
        uint64_t sensor_idle_timeout_ns; /* a sensor silent this long is forgotten; 0: never */
        uint32_t max_devices;
        uint32_t max_rules; /* room for rules, including those added by a reload */
        uint32_t max_sse_clients;
        uint32_t max_series; /* per-sensor series exported on /metrics */
        uint64_t series_staleness_ns;
        bool window_stats;      /* the exported sensors' window statistics on /metrics too */
        uint32_t recent_alerts; /* kept for /alerts/recent */
        uint32_t recent_values; /* per sensor, for the page's charts; 0: none kept */
    } limits;

    /* [http] */
    struct {
        char bind[RODA_CONFIG_TEXT_MAX];
        uint16_t port;
        uint32_t max_connections;
        uint64_t connection_timeout_ns;
        uint64_t sse_heartbeat_ns;
        uint64_t request_memory; /* bytes per connection: longer URLs/headers get 414/431 */
        /* Security, as the Prometheus exporter-toolkit web config: "" / none is off. */
        char tls_cert_file[RODA_CONFIG_PATH_MAX];      /* PEM; with tls_key_file: HTTPS */
        char tls_key_file[RODA_CONFIG_PATH_MAX];       /* PEM */
        char tls_client_ca_file[RODA_CONFIG_PATH_MAX]; /* PEM: client certificates required */
        uint32_t basic_auth_user_count;
        char basic_auth_users[RODA_CONFIG_MAX_USERS][RODA_CONFIG_TEXT_MAX]; /* name:bcrypt */
    } http;

    /* [mqtt] */
    struct {
        bool enabled;
        char host[RODA_CONFIG_TEXT_MAX];
        uint16_t port;
        char client_id[RODA_CONFIG_TEXT_MAX];
        uint32_t topic_count;
        char topics[RODA_CONFIG_MAX_TOPICS][RODA_CONFIG_TEXT_MAX];
        uint32_t qos; /* 0 or 1 */
        bool clean_session;
        uint64_t keepalive_ns;
        char username[RODA_CONFIG_TEXT_MAX];
        char password[RODA_CONFIG_TEXT_MAX];
        char ca_file[RODA_CONFIG_PATH_MAX];
        char cert_file[RODA_CONFIG_PATH_MAX];
        char key_file[RODA_CONFIG_PATH_MAX];
        roda_device_source_t device_from;
        uint32_t device_topic_level; /* 0-based topic level holding the device name */
        uint64_t reconnect_min_ns;
        uint64_t reconnect_max_ns;
        char alert_topic[RODA_CONFIG_TEXT_MAX]; /* "" = alerts not published */
        uint32_t alert_qos;
        /* "" = none; else "online" retained on connect, "offline" at stop and as the will */
        char availability_topic[RODA_CONFIG_TEXT_MAX];
        /* payload format per topic filter (decoder names); none: the default for every one */
        uint32_t format_count;
        char formats[RODA_CONFIG_MAX_TOPICS][RODA_CONFIG_TEXT_MAX];
    } mqtt;

    /* [json] (json[0], name "") and [json.NAME] sections in file order: the JSON decoder's
     * mappings (roda_json_decode.h), each for the topic filters of format "json" / "json.NAME" */
    uint32_t json_count; /* >= 1 */
    roda_config_json_t json[RODA_CONFIG_MAX_JSON];

    /* [sparkplug]: the Sparkplug B host state (roda_sparkplug_decode.h) of topics of format
     * sparkplug.b */
    struct {
        bool rebirth;         /* publish Rebirth requests (NCMD) on gaps and unknown aliases */
        uint32_t max_scopes;  /* edge nodes and devices */
        uint32_t max_aliases; /* metric definitions from BIRTH certificates */
    } sparkplug;

    /* [udp] */
    struct {
        bool enabled;
        uint32_t bind_count;
        char binds[RODA_CONFIG_MAX_UDP_BINDS][RODA_CONFIG_TEXT_MAX]; /* host:port, [v6]:port */
        uint64_t receive_buffer;                                     /* bytes (SO_RCVBUF) */
        uint32_t max_datagram; /* bytes; longer ones are counted as truncated */
        uint32_t batch;        /* datagrams per recvmmsg */
    } udp;

    /* [nats]: the NATS JetStream input (roda_input_nats.h) */
    struct {
        bool enabled;
        uint32_t server_count;
        char servers[RODA_CONFIG_MAX_NATS_SERVERS][RODA_CONFIG_TEXT_MAX]; /* nats://host:port */
        char stream[RODA_CONFIG_NAME_MAX];
        char subject[RODA_CONFIG_TEXT_MAX]; /* tokens {partition} and {device} */
        uint32_t partition_count;           /* the partitions this gateway owns */
        char partitions[RODA_CONFIG_MAX_PARTITIONS][RODA_CONFIG_NAME_MAX];
        char durable_prefix[RODA_CONFIG_NAME_MAX]; /* consumer <prefix>-p<partition> */
        uint32_t batch;                            /* messages per fetch */
        uint64_t fetch_wait_ns;                    /* idle wait between empty fetches */
        uint64_t ack_wait_ns;                      /* redelivery of an unacknowledged message */
        char format[RODA_CONFIG_NAME_MAX];         /* roda.v1 or json */
        uint32_t replicas;                         /* of the stream when the gateway makes it */
    } nats;

    /* [alertmanager] */
    struct {
        uint32_t url_count;                                             /* 0: the output is off */
        char urls[RODA_CONFIG_MAX_ALERTMANAGERS][RODA_CONFIG_TEXT_MAX]; /* http://host:port */
        uint32_t label_count;
        char labels[RODA_CONFIG_MAX_STATIC_LABELS][RODA_CONFIG_TEXT_MAX]; /* name=value */
        char external_url[RODA_CONFIG_TEXT_MAX]; /* generatorURL base; "": http://bind:port */
        uint64_t resend_interval_ns;             /* active alerts are sent again this often */
        uint32_t batch;                          /* alerts per POST */
        uint64_t timeout_ns;                     /* per request */
        uint64_t retry_min_ns;
        uint64_t retry_max_ns;
        uint32_t max_active; /* firing alerts kept for re-sending */
    } alertmanager;

    /* [rule.*] in file order */
    uint32_t rule_count;
    roda_rule_t rules[RODA_RULES_MAX];
} roda_config_t;

typedef struct roda_config_error {
    char file[RODA_CONFIG_PATH_MAX];
    uint32_t line;     /* 0: not tied to a line (the file could not be read) */
    char field[96];    /* section.key, e.g. "http.port" or "rule.hot.threshold" */
    char message[192]; /* what is wrong and what is allowed */
} roda_config_error_t;

typedef struct roda_config_errors {
    uint32_t total; /* errors found */
    uint32_t count; /* errors kept in items (<= RODA_CONFIG_MAX_ERRORS) */
    roda_config_error_t items[RODA_CONFIG_MAX_ERRORS];
} roda_config_errors_t;

/* Fills every field with its default: the schema's default text of each key, parsed like a value
 * in a file (deploy/roda-gateway.conf shows them). A key without a default is zero or empty. */
void roda_config_defaults(roda_config_t *config);

/* The schema's [section] keys (rule keys not included): how many there are. */
uint32_t roda_config_key_count(void);
/* Key `index` (< roda_config_key_count()): its section, name, and default as written in a file
 * (NULL when it has none). RODA_ERROR_INVALID_ARG for an index out of range. */
roda_result_t roda_config_key_at(uint32_t index, const char **section, const char **key,
                                 const char **default_text);

/* Loads `path` over the defaults. RODA_SUCCESS, or RODA_ERROR_INVALID_ARG with errors->total > 0
 * (config content is then unspecified). A file that cannot be opened is an error with line 0. */
roda_result_t roda_config_load(const char *path, roda_config_t *config,
                               roda_config_errors_t *errors);
/* The same for text in memory; `name` stands for the file name in errors. */
roda_result_t roda_config_load_string(const char *text, const char *name, roda_config_t *config,
                                      roda_config_errors_t *errors);

/* The JSON mapping a payload format names: [json] for "json", [json.NAME] for "json.NAME";
 * NULL for any other format (or a mapping not defined). */
const roda_config_json_t *roda_config_json_mapping(const roda_config_t *config, const char *format);

/* "FILE:LINE: FIELD: MESSAGE" into buf (":LINE" and "FIELD: " left out when unknown: a field
 * left at its default has no line). Returns buf. */
const char *roda_config_error_format(const roda_config_error_t *error, char *buf, size_t size);

/* For a reload (SIGHUP): true when `next` differs from `current` only in what applies live (the
 * rules and gateway.log_level); false otherwise, with the first other field that changed (e.g.
 * "http.port") in `field`, so the caller can log it and keep the running configuration. */
bool roda_config_reload_check(const roda_config_t *current, const roda_config_t *next, char *field,
                              size_t size);

/* Logs each error as one line (level=error msg="config error" file= line= field= error= hint=),
 * and how many were not kept, so that a start-up failure says what to fix. */
void roda_config_log_errors(const roda_config_errors_t *errors);

/* One preallocated region of the memory plan. */
typedef struct roda_memory_item {
    const char *name;
    const char *setting; /* the settings that size it */
    uint64_t bytes;
    char detail[96]; /* how the size is computed */
} roda_memory_item_t;

#define RODA_MEMORY_PLAN_MAX 24
typedef struct roda_memory_plan {
    uint32_t count;
    uint64_t total;
    roda_memory_item_t items[RODA_MEMORY_PLAN_MAX];
} roda_memory_plan_t;

/* The memory the gateway preallocates for these bounds: journals, per-sensor state and slot
 * store, rule state, device registry, metrics buffer, SSE clients. */
void roda_config_memory_plan(const roda_config_t *config, roda_memory_plan_t *plan);

/* The plan's three largest items, "name N MiB (setting), ..." largest first, into `out` (at
 * most RODA_MEMORY_LARGEST_MAX bytes are needed): what to lower for a leaner gateway. */
#define RODA_MEMORY_LARGEST_MAX 256
void roda_config_memory_largest(const roda_memory_plan_t *plan, char *out, size_t size);

/* Sensors whose window statistics /metrics exports: limits.max_series with limits.window_stats
 * when the rules have windows, else 0. */
uint32_t roda_config_window_series(const roda_config_t *config);
/* Their window gauges (samples) at most: those sensors x windows x RODA_WINDOW_BOX_GAUGES. */
uint64_t roda_config_window_gauges(const roda_config_t *config);

/* A duration as the config writes it: whole seconds ("60s"), else milliseconds ("1.5ms"). */
#define RODA_CONFIG_DURATION_TEXT 32
void roda_config_duration_text(uint64_t ns, char *buf, size_t size);

/* Physical memory of the machine in bytes (sysconf), UINT64_MAX when unknown. */
uint64_t roda_config_physical_memory(void);
/* True when the memory plan's total fits in `available` bytes; otherwise false with `why` naming
 * the total, `available` and the largest items with the settings that size them. */
bool roda_config_memory_fits(const roda_config_t *config, uint64_t available, char *why,
                             size_t size);

/* Writes the effective configuration (every field, INI syntax, the password masked) and the
 * memory plan to `out` (for --check-config). */
void roda_config_print(const roda_config_t *config, FILE *out);

#endif
