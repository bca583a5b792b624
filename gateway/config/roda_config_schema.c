/* roda_config_schema.c - the schema: every key of every section with its type, place, bounds and
 * default, the only place a default is written (applied through the file's own value parser). */
#include <string.h>

#include "roda_config_internal.h"
#include "roda_recent_values.h"
#include "roda_sparkplug.h"

#define OFF(member) offsetof(roda_config_t, member)
#define SZ(member) sizeof(((roda_config_t *)0)->member)
#define U32(s, k, m, lo, hi, d)                                                                    \
    {                                                                                              \
        s, k, RODA_CONFIG_U32, OFF(m), 0, 0, 0, lo, hi, d, NULL                                    \
    }
#define NUM(s, k, t, m, lo, hi, d)                                                                 \
    {                                                                                              \
        s, k, RODA_CONFIG_##t, OFF(m), 0, 0, 0, lo, hi, d, NULL                                    \
    }
#define TEXT(s, k, m, d)                                                                           \
    {                                                                                              \
        s, k, RODA_CONFIG_TEXT, OFF(m), SZ(m), 0, 0, 0, 0, d, NULL                                 \
    }
#define LIST(s, k, m, c)                                                                           \
    {                                                                                              \
        s, k, RODA_CONFIG_LIST, OFF(m), SZ(m[0]), OFF(c), SZ(m) / SZ(m[0]), 0, 0, NULL, NULL       \
    }
#define KIND(s, k, t, m, d)                                                                        \
    {                                                                                              \
        s, k, RODA_CONFIG_##t, OFF(m), 0, 0, 0, 0, 0, d, NULL                                      \
    }
/* An enum key: `names` in the enum's order. */
#define CHOICE(s, k, m, names, d)                                                                  \
    {                                                                                              \
        s, k, RODA_CONFIG_CHOICE, OFF(m), 0, 0, 0, 0, 0, d, names                                  \
    }
_Static_assert(sizeof(roda_device_source_t) == sizeof(int) &&
                   sizeof(roda_stage_placement_t) == sizeof(int),
               "a CHOICE key is stored as an int");

static const char *const device_sources[] = {"payload", "topic", NULL};
static const char *const placements[] = {"pipelined", "fused", NULL};

const roda_config_field_t roda_config_fields[RODA_CONFIG_FIELD_COUNT] = {
    KIND("gateway", "log_level", LEVEL, log_level, "info"),
    NUM("gateway", "ewma_alpha", DOUBLE, ewma_alpha, 0, 1, "0.1"),
    NUM("gateway", "stale_tick", DURATION, stale_tick_ns, 0.01, 3600, "1s"),
    KIND("gateway", "idle_spin", BOOL, idle_spin, "false"),
    CHOICE("gateway", "placement", placement, placements, "fused"),
    NUM("journal", "input_capacity", POW2, journal.input_capacity, 1024, 1ull << 30, "131072"),
    NUM("journal", "summary_capacity", POW2, journal.summary_capacity, 1024, 1ull << 30, "16384"),
    NUM("journal", "alert_capacity", POW2, journal.alert_capacity, 64, 1ull << 30, "16384"),
    TEXT("journal", "directory", journal.directory, ""),
    NUM("journal", "segment_records", POW2, journal.segment_records, 512, 1ull << 30, "32768"),
    U32("journal", "retained_segments", journal.retained_segments, 2, 1000000, "16"),
    TEXT("journal", "alert_directory", journal.alert_directory, ""),
    NUM("journal", "snapshot_interval", DURATION, journal.snapshot_interval_ns, 0, 86400, "60s"),
    U32("limits", "max_sensors", limits.max_sensors, 1, 100000000, "20000"),
    NUM("limits", "sensor_idle_timeout", DURATION, limits.sensor_idle_timeout_ns, 0, 86400 * 30,
        "1h"),
    U32("limits", "max_devices", limits.max_devices, 1, 10000000, "10000"),
    U32("limits", "max_rules", limits.max_rules, 1, RODA_RULES_MAX, "16"),
    U32("limits", "max_sse_clients", limits.max_sse_clients, 1, 1024, "16"),
    U32("limits", "max_series", limits.max_series, 0, 10000000, "10000"),
    NUM("limits", "series_staleness", DURATION, limits.series_staleness_ns, 0, 86400 * 7, "5m"),
    KIND("limits", "window_stats", BOOL, limits.window_stats, "false"),
    U32("limits", "recent_alerts", limits.recent_alerts, 1, 100000, "100"),
    U32("limits", "recent_values", limits.recent_values, 0, RODA_RECENT_VALUES_MAX, "24"),
    TEXT("http", "bind", http.bind, "127.0.0.1"),
    NUM("http", "port", PORT, http.port, 0, 65535, "9464"),
    U32("http", "max_connections", http.max_connections, 4, 4096, "64"),
    NUM("http", "connection_timeout", DURATION, http.connection_timeout_ns, 1, 3600, "30s"),
    NUM("http", "sse_heartbeat", DURATION, http.sse_heartbeat_ns, 0.1, 600, "15s"),
    NUM("http", "request_memory", BYTES, http.request_memory, 8192, 1 << 20, "32K"),
    TEXT("http", "tls_cert_file", http.tls_cert_file, ""),
    TEXT("http", "tls_key_file", http.tls_key_file, ""),
    TEXT("http", "tls_client_ca_file", http.tls_client_ca_file, ""),
    LIST("http", "basic_auth_users", http.basic_auth_users, http.basic_auth_user_count),
    KIND("mqtt", "enabled", BOOL, mqtt.enabled, "false"),
    TEXT("mqtt", "host", mqtt.host, "127.0.0.1"),
    NUM("mqtt", "port", PORT, mqtt.port, 1, 65535, "1883"),
    TEXT("mqtt", "client_id", mqtt.client_id, "roda-gateway"),
    LIST("mqtt", "topics", mqtt.topics, mqtt.topic_count),
    U32("mqtt", "qos", mqtt.qos, 0, 1, "1"),
    KIND("mqtt", "clean_session", BOOL, mqtt.clean_session, "false"),
    NUM("mqtt", "keepalive", DURATION, mqtt.keepalive_ns, 5, 3600, "30s"),
    TEXT("mqtt", "username", mqtt.username, ""),
    TEXT("mqtt", "password", mqtt.password, ""),
    TEXT("mqtt", "ca_file", mqtt.ca_file, ""),
    TEXT("mqtt", "cert_file", mqtt.cert_file, ""),
    TEXT("mqtt", "key_file", mqtt.key_file, ""),
    CHOICE("mqtt", "device_from", mqtt.device_from, device_sources, "payload"),
    U32("mqtt", "device_topic_level", mqtt.device_topic_level, 0, 31, NULL),
    NUM("mqtt", "reconnect_min", DURATION, mqtt.reconnect_min_ns, 0.01, 3600, "100ms"),
    NUM("mqtt", "reconnect_max", DURATION, mqtt.reconnect_max_ns, 0.01, 3600, "30s"),
    TEXT("mqtt", "alert_topic", mqtt.alert_topic, ""),
    U32("mqtt", "alert_qos", mqtt.alert_qos, 0, 1, "1"),
    TEXT("mqtt", "availability_topic", mqtt.availability_topic, ""),
    LIST("mqtt", "formats", mqtt.formats, mqtt.format_count),
    /* [json]: mapping 0; a [json.NAME] section's keys are these, moved to its mapping */
    TEXT("json", "device_field", json[0].device_field, ""),
    U32("json", "device_topic_level", json[0].device_topic_level, 0, 31, NULL),
    LIST("json", "sensor_fields", json[0].sensor_fields, json[0].sensor_field_count),
    TEXT("json", "timestamp_field", json[0].timestamp_field, ""),
    TEXT("json", "timestamp_format", json[0].timestamp_format, "ms"),
    U32("json", "max_depth", json[0].max_depth, 1, 64, "8"),
    KIND("sparkplug", "rebirth", BOOL, sparkplug.rebirth, "true"),
    U32("sparkplug", "max_scopes", sparkplug.max_scopes, 1, RODA_SPARKPLUG_MAX_SCOPES, "10000"),
    U32("sparkplug", "max_aliases", sparkplug.max_aliases, 1, RODA_SPARKPLUG_MAX_ALIASES, "100000"),
    KIND("udp", "enabled", BOOL, udp.enabled, "false"),
    LIST("udp", "bind", udp.binds, udp.bind_count),
    NUM("udp", "receive_buffer", BYTES, udp.receive_buffer, 4096, 1ull << 30, "32M"),
    U32("udp", "max_datagram", udp.max_datagram, 64, 65507, "1472"),
    U32("udp", "batch", udp.batch, 1, 1024, "64"),
    KIND("nats", "enabled", BOOL, nats.enabled, "false"),
    LIST("nats", "servers", nats.servers, nats.server_count),
    TEXT("nats", "stream", nats.stream, "FLEET"),
    TEXT("nats", "subject", nats.subject, "fleet.{partition}.{device}.readings"),
    LIST("nats", "partitions", nats.partitions, nats.partition_count),
    TEXT("nats", "durable_prefix", nats.durable_prefix, "roda"),
    U32("nats", "batch", nats.batch, 1, 1000, "256"),
    NUM("nats", "fetch_wait", DURATION, nats.fetch_wait_ns, 0.001, 10, "20ms"),
    NUM("nats", "ack_wait", DURATION, nats.ack_wait_ns, 1, 3600, "30s"),
    TEXT("nats", "format", nats.format, "roda.v1"),
    U32("nats", "replicas", nats.replicas, 1, 5, "1"),
    LIST("alertmanager", "urls", alertmanager.urls, alertmanager.url_count),
    LIST("alertmanager", "labels", alertmanager.labels, alertmanager.label_count),
    TEXT("alertmanager", "external_url", alertmanager.external_url, ""),
    NUM("alertmanager", "resend_interval", DURATION, alertmanager.resend_interval_ns, 1, 86400,
        "1m"),
    U32("alertmanager", "batch", alertmanager.batch, 1, 1000, "64"),
    NUM("alertmanager", "timeout", DURATION, alertmanager.timeout_ns, 0.1, 600, "5s"),
    NUM("alertmanager", "retry_min", DURATION, alertmanager.retry_min_ns, 0.01, 3600, "500ms"),
    NUM("alertmanager", "retry_max", DURATION, alertmanager.retry_max_ns, 0.01, 3600, "30s"),
    U32("alertmanager", "max_active", alertmanager.max_active, 1, 10000000, "10000"),
};

const char *const roda_config_sections[RODA_CONFIG_SECTION_COUNT] = {
    "gateway", "journal",      "limits", "http",      "mqtt",
    "udp",     "alertmanager", "json",   "sparkplug", "nats"};

const roda_config_rule_field_t roda_config_rule_fields[RODA_CONFIG_RULE_KEY_COUNT] = {
    [RODA_CONFIG_RULE_KIND] = {"kind", NULL},
    [RODA_CONFIG_RULE_SEVERITY] = {"severity", "warning"},
    [RODA_CONFIG_RULE_VALUE] = {"value", "last"},
    [RODA_CONFIG_RULE_THRESHOLD] = {"threshold", NULL},
    [RODA_CONFIG_RULE_FACTOR] = {"factor", NULL},
    [RODA_CONFIG_RULE_AFTER] = {"after", NULL},
    [RODA_CONFIG_RULE_HYSTERESIS] = {"hysteresis", "0"},
    [RODA_CONFIG_RULE_HOLDOFF] = {"holdoff", "0s"},
    [RODA_CONFIG_RULE_SENSORS] = {"sensors", NULL},
    [RODA_CONFIG_RULE_DEVICES] = {"devices", NULL},
    [RODA_CONFIG_RULE_NAMES] = {"names", NULL},
    [RODA_CONFIG_RULE_MIN_COUNT] = {"min_count", "1"},
    [RODA_CONFIG_RULE_WHEN] = {"when", NULL},
};

int roda_config_field_find(const char *section, const char *key)
{
    for (int i = 0; i < RODA_CONFIG_FIELD_COUNT; i++) {
        if (strcmp(roda_config_fields[i].section, section) == 0 &&
            strcmp(roda_config_fields[i].key, key) == 0)
            return i;
    }
    return -1;
}

void roda_config_defaults(roda_config_t *config)
{
    memset(config, 0, sizeof *config);
    for (size_t i = 0; i < RODA_CONFIG_FIELD_COUNT; i++) {
        const roda_config_field_t *f = &roda_config_fields[i];
        char why[RODA_CONFIG_TEXT_MAX];
        /* Every default parses (test_config checks each one against its bounds). */
        if (f->default_text != NULL)
            (void)roda_config_value_set(config, f, f->default_text, why, sizeof why);
    }
    config->json_count = 1;
}

void roda_config_json_defaults(roda_config_t *config, uint32_t mapping)
{
    for (size_t i = 0; i < RODA_CONFIG_FIELD_COUNT; i++) {
        if (!roda_config_field_mapped(&roda_config_fields[i]))
            continue;
        roda_config_field_t f = roda_config_mapping_field(&roda_config_fields[i], mapping);
        char why[RODA_CONFIG_TEXT_MAX];
        if (f.default_text != NULL)
            (void)roda_config_value_set(config, &f, f.default_text, why, sizeof why);
    }
}

bool roda_config_field_mapped(const roda_config_field_t *field)
{
    return strcmp(field->section, "json") == 0;
}

roda_config_field_t roda_config_mapping_field(const roda_config_field_t *field, uint32_t mapping)
{
    roda_config_field_t moved = *field;
    moved.offset += mapping * sizeof(roda_config_json_t);
    if (field->type == RODA_CONFIG_LIST)
        moved.count_offset += mapping * sizeof(roda_config_json_t);
    return moved;
}

uint32_t roda_config_key_count(void)
{
    return RODA_CONFIG_FIELD_COUNT;
}

roda_result_t roda_config_key_at(uint32_t index, const char **section, const char **key,
                                 const char **default_text)
{
    if (index >= RODA_CONFIG_FIELD_COUNT)
        return RODA_ERROR_INVALID_ARG;
    *section = roda_config_fields[index].section;
    *key = roda_config_fields[index].key;
    *default_text = roda_config_fields[index].default_text;
    return RODA_SUCCESS;
}
