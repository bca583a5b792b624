/* roda_input_mqtt.c - the MQTT input class: subscriptions from the [mqtt] section, messages
 * handed to the ingest with the device from the topic pattern (see roda_input_mqtt.h). */
#include "roda_input_mqtt.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roda_idle.h"

/* How often a paused input looks at the journal's room again. */
#define PAUSED_POLL_MS 5u

#define DEVICE_LEVEL "{device}"
#define DEVICE_LEVEL_LENGTH (sizeof(DEVICE_LEVEL) - 1)

_Static_assert(sizeof(roda_input_mqtt_settings_t) <= RODA_INPUT_SETTINGS_MAX,
               "the MQTT input's settings fit the callers' settings buffers");

typedef struct input_mqtt {
    roda_input_mqtt_settings_t settings;
    roda_input_port_t port;
    roda_mqtt_conn_t *conn;
    bool match_filters; /* filters differ in decoder, mapping or device pattern: match each topic */
    roda_sparkplug_host_t sparkplug; /* state NULL: no sparkplug.b filter */
    roda_sparkplug_settings_t sparkplug_settings;
    int subscribe_mid; /* the SUBSCRIBE whose SUBACK makes the input ready */
    uint64_t last_service_ns;
    bool paused; /* not reading: the journal has no room for a whole message */
    _Atomic bool subscribed;
} input_mqtt_t;

bool roda_mqtt_pattern_valid(const char *pattern)
{
    if (pattern == NULL || strchr(pattern, '#') != NULL)
        return false;
    int device_levels = 0;
    for (const char *level = pattern;;) {
        const char *end = strchr(level, '/');
        size_t length = end ? (size_t)(end - level) : strlen(level);
        if (length == DEVICE_LEVEL_LENGTH && memcmp(level, DEVICE_LEVEL, length) == 0)
            device_levels++;
        if (end == NULL)
            break;
        level = end + 1;
    }
    return device_levels == 1;
}

bool roda_mqtt_topic_device(const char *pattern, const char *topic, const char **device,
                            size_t *length)
{
    const char *p = pattern, *t = topic;
    bool found = false;
    for (;;) {
        const char *p_end = strchr(p, '/');
        const char *t_end = strchr(t, '/');
        size_t p_length = p_end ? (size_t)(p_end - p) : strlen(p);
        size_t t_length = t_end ? (size_t)(t_end - t) : strlen(t);
        if (p_length == DEVICE_LEVEL_LENGTH && memcmp(p, DEVICE_LEVEL, p_length) == 0) {
            *device = t;
            *length = t_length;
            found = true;
        } else if (!(p_length == 1 && p[0] == '+') &&
                   (p_length != t_length || memcmp(p, t, p_length) != 0)) {
            return false;
        }
        if (p_end == NULL || t_end == NULL)
            return p_end == NULL && t_end == NULL && found;
        p = p_end + 1;
        t = t_end + 1;
    }
}

roda_result_t roda_mqtt_device_pattern(const char *filter, uint32_t level, char *out, size_t size)
{
    static const char share_prefix[] = "$share/";
    const char *topic = filter;
    if (strncmp(topic, share_prefix, sizeof share_prefix - 1) == 0) {
        const char *slash = strchr(topic + sizeof share_prefix - 1, '/');
        topic = slash != NULL ? slash + 1 : topic;
    }
    size_t length = 0;
    bool placed = false;
    out[0] = '\0';
    for (uint32_t index = 0;; index++) {
        const char *end = strchr(topic, '/');
        size_t n = end != NULL ? (size_t)(end - topic) : strlen(topic);
        if (n == 1 && topic[0] == '#')
            break;
        const char *text = index == level ? DEVICE_LEVEL : topic;
        size_t text_length = index == level ? DEVICE_LEVEL_LENGTH : n;
        placed |= index == level;
        if (length + text_length + 2 > size)
            return RODA_ERROR_INVALID_ARG;
        if (index > 0)
            out[length++] = '/';
        memcpy(out + length, text, text_length);
        length += text_length;
        out[length] = '\0';
        if (end == NULL)
            break;
        topic = end + 1;
    }
    return placed && strchr(out, '#') == NULL ? RODA_SUCCESS : RODA_ERROR_INVALID_ARG;
}

static const char *optional(const char *text)
{
    return text[0] != '\0' ? text : NULL;
}

_Static_assert(RODA_CONFIG_MAX_SENSOR_FIELDS == RODA_JSON_MAX_SENSOR_FIELDS,
               "[json] sensor_fields holds what the decoder takes");

bool roda_input_json_settings(const roda_config_json_t *mapping, roda_json_settings_t *json,
                              char *why, size_t size)
{
    *json = (roda_json_settings_t){.device_field = mapping->device_field,
                                   .sensor_field_count = mapping->sensor_field_count,
                                   .timestamp_field = mapping->timestamp_field,
                                   .max_depth = mapping->max_depth};
    const char *dot = mapping->name[0] != '\0' ? "." : "";
    for (uint32_t i = 0; i < mapping->sensor_field_count; i++) {
        json->sensor_fields[i] = mapping->sensor_fields[i];
        if (!roda_devices_name_valid(json->sensor_fields[i], strlen(json->sensor_fields[i]))) {
            snprintf(why, size,
                     "json%s%s.sensor_fields: '%s' is not a valid sensor name (1-63 printable "
                     "ASCII characters, no quotes or backslashes)",
                     dot, mapping->name, json->sensor_fields[i]);
            return false;
        }
    }
    if (!roda_json_time_format_parse(mapping->timestamp_format, &json->timestamp_format)) {
        snprintf(why, size, "json%s%s.timestamp_format: '%s' is not one of s, ms, us, rfc3339", dot,
                 mapping->name, mapping->timestamp_format);
        return false;
    }
    return true;
}

const roda_decoder_t *roda_input_format(const roda_config_t *c, const char *field,
                                        const char *format, roda_json_settings_t *json, char *why,
                                        size_t size)
{
    const roda_config_json_t *mapping = roda_config_json_mapping(c, format);
    if (mapping != NULL)
        return roda_input_json_settings(mapping, json, why, size) ? &roda_json_decoder : NULL;
    const roda_decoder_t *decoder = roda_decoder_find(format);
    if (decoder == NULL || decoder == &roda_json_decoder)
        snprintf(why, size,
                 "%s: '%s' is not a payload format (roda.v1, json, json.NAME, sparkplug.b)", field,
                 format);
    return decoder;
}

/* Filter i's device pattern: none for sparkplug.b (the topic names the device) and for a JSON
 * mapping with a device_field; a JSON mapping's own device_topic_level, else [mqtt]'s. */
static bool configure_device(const roda_config_t *c, roda_input_mqtt_settings_t *s, uint32_t i,
                             const roda_config_json_t *mapping, char *why, size_t size)
{
    bool own = mapping != NULL && mapping->device_level_set;
    if (s->decoders[i] == &roda_sparkplug_decoder ||
        (mapping != NULL && mapping->device_field[0] != '\0') ||
        (!own && c->mqtt.device_from != RODA_DEVICE_FROM_TOPIC))
        return true;
    uint32_t level = own ? mapping->device_topic_level : c->mqtt.device_topic_level;
    if (roda_mqtt_device_pattern(s->topics[i], level, s->device_patterns[i],
                                 sizeof s->device_patterns[i]) == RODA_SUCCESS)
        return true;
    snprintf(why, size,
             "%s%s%s.device_topic_level: topic '%s' has no level %u before any '#' (the device "
             "name is read from that level of every topic)",
             own ? "json" : "mqtt", own && mapping->name[0] != '\0' ? "." : "",
             own ? mapping->name : "", s->topics[i], (unsigned)level);
    return false;
}

/* Each filter's decoder (mqtt.formats, one per topic, or the default for all), its settings and
 * its device pattern; false with the reason in `why`. */
static bool configure_formats(const roda_config_t *c, roda_input_mqtt_settings_t *s, char *why,
                              size_t size)
{
    if (c->mqtt.format_count != 0 && c->mqtt.format_count != c->mqtt.topic_count) {
        snprintf(why, size, "mqtt.formats: %u formats for %u topics (one per topic, or none)",
                 (unsigned)c->mqtt.format_count, (unsigned)c->mqtt.topic_count);
        return false;
    }
    for (uint32_t m = 0; m < c->json_count; m++) /* every mapping is checked, used or not */
        if (!roda_input_json_settings(&c->json[m], &s->json[0], why, size))
            return false;
    for (uint32_t i = 0; i < s->topic_count; i++) {
        const char *format =
            c->mqtt.format_count != 0 ? c->mqtt.formats[i] : roda_decoder_default()->name;
        s->decoders[i] = roda_input_format(c, "mqtt.formats", format, &s->json[i], why, size);
        if (s->decoders[i] == NULL)
            return false;
        s->decoder_settings[i] = s->decoders[i] == &roda_json_decoder ? &s->json[i] : NULL;
        if (!configure_device(c, s, i, roda_config_json_mapping(c, format), why, size))
            return false;
    }
    s->sparkplug_rebirth = c->sparkplug.rebirth;
    s->sparkplug_max_scopes = c->sparkplug.max_scopes;
    s->sparkplug_max_aliases = c->sparkplug.max_aliases;
    return true;
}

static bool configure(const roda_config_t *c, void *out, bool *enabled, char *why, size_t size)
{
    roda_input_mqtt_settings_t *s = out;
    memset(s, 0, sizeof *s);
    *enabled = c->mqtt.enabled;
    s->conn = (roda_mqtt_conn_config_t){
        .role = "input",
        .host = c->mqtt.host,
        .port = c->mqtt.port,
        .client_id = c->mqtt.client_id,
        .clean_session = c->mqtt.clean_session,
        .keepalive_s = (uint32_t)(c->mqtt.keepalive_ns / 1000000000ull),
        .session_expiry_s = RODA_INPUT_MQTT_SESSION_EXPIRY_S,
        .protocol = 4,
        .username = optional(c->mqtt.username),
        .password = optional(c->mqtt.password),
        .ca_file = optional(c->mqtt.ca_file),
        .cert_file = optional(c->mqtt.cert_file),
        .key_file = optional(c->mqtt.key_file),
        .reconnect_min_ms = (uint32_t)(c->mqtt.reconnect_min_ns / 1000000ull),
        .reconnect_max_ms = (uint32_t)(c->mqtt.reconnect_max_ns / 1000000ull),
    };
    s->topic_count = c->mqtt.topic_count < RODA_INPUT_MQTT_MAX_TOPICS ? c->mqtt.topic_count
                                                                      : RODA_INPUT_MQTT_MAX_TOPICS;
    for (uint32_t i = 0; i < s->topic_count; i++)
        s->topics[i] = c->mqtt.topics[i];
    s->qos = (int)c->mqtt.qos;
    return configure_formats(c, s, why, size);
}

/* The first filter `topic` matches; -1 when none does. */
static int filter_for(const input_mqtt_t *m, const char *topic)
{
    const roda_input_mqtt_settings_t *s = &m->settings;
    for (uint32_t i = 0; i < s->topic_count; i++)
        if (roda_mqtt_topic_matches(s->topics[i], topic))
            return (int)i;
    return -1;
}

/* Publishes the Rebirth request the last Sparkplug message made due, if any (QoS 0: a lost one
 * is asked again on the node's next gap or unknown alias after its next NBIRTH). */
static void request_rebirth(input_mqtt_t *m)
{
    char topic[RODA_SPARKPLUG_TOPIC_SIZE];
    uint8_t payload[RODA_SPARKPLUG_REBIRTH_SIZE];
    size_t size =
        roda_sparkplug_host_after(&m->sparkplug, roda_wall_ns() / 1000000u, topic, payload);
    int mid;
    if (size != 0 &&
        roda_mqtt_conn_publish(m->conn, topic, payload, size, 0, false, &mid) != RODA_SUCCESS)
        roda_sparkplug_host_unsent(&m->sparkplug);
}

static void on_message(void *context, const char *topic, const uint8_t *payload, size_t size)
{
    input_mqtt_t *m = context;
    const roda_input_mqtt_settings_t *s = &m->settings;
    int filter = m->match_filters ? filter_for(m, topic) : 0;
    const char *device = NULL;
    size_t length = 0;
    if (filter < 0 ||
        (s->device_patterns[filter][0] != '\0' &&
         !roda_mqtt_topic_device(s->device_patterns[filter], topic, &device, &length))) {
        roda_ingest_count(&m->port, RODA_INGEST_MESSAGES, 1);
        roda_ingest_count(&m->port, RODA_INGEST_UNKNOWN_TOPIC, 1);
        return;
    }
    roda_ingest_message(&m->port, s->decoders[filter], s->decoder_settings[filter], topic, device,
                        length, payload, size);
    if (s->decoders[filter] == &roda_sparkplug_decoder)
        request_rebirth(m);
}

/* Resubscribing is harmless with a restored session and required with a new one. */
static void on_connected(void *context)
{
    input_mqtt_t *m = context;
    if (roda_mqtt_conn_subscribe(m->conn, m->settings.topics, m->settings.topic_count,
                                 m->settings.qos, &m->subscribe_mid) != RODA_SUCCESS)
        roda_mqtt_conn_fail(m->conn, "subscribe refused by the client library");
}

static void on_subscribed(void *context, int mid, int count, const int *granted)
{
    input_mqtt_t *m = context;
    if (mid != m->subscribe_mid)
        return;
    for (int i = 0; i < count; i++)
        if (granted[i] > 2)
            return;
    atomic_store_explicit(&m->subscribed, true, memory_order_release);
}

static void on_disconnected(void *context)
{
    input_mqtt_t *m = context;
    atomic_store_explicit(&m->subscribed, false, memory_order_release);
}

static roda_result_t validate(const roda_input_mqtt_settings_t *s)
{
    if (s->qos < 0 || s->qos > 1 || s->topic_count == 0 ||
        s->topic_count > RODA_INPUT_MQTT_MAX_TOPICS)
        return RODA_ERROR_INVALID_ARG;
    for (uint32_t i = 0; i < s->topic_count; i++)
        if (!roda_mqtt_topic_valid(s->topics[i], true) || s->decoders[i] == NULL)
            return RODA_ERROR_INVALID_ARG;
    /* A pattern is valid where given; sparkplug.b filters have none (the topic names the
     * device). */
    for (uint32_t i = 0; i < s->topic_count; i++) {
        bool has_pattern = s->device_patterns[i][0] != '\0';
        if (has_pattern && (s->decoders[i] == &roda_sparkplug_decoder ||
                            !roda_mqtt_pattern_valid(s->device_patterns[i])))
            return RODA_ERROR_INVALID_ARG;
    }
    return RODA_SUCCESS;
}

static bool uses_sparkplug(const roda_input_mqtt_settings_t *s)
{
    for (uint32_t i = 0; i < s->topic_count; i++)
        if (s->decoders[i] == &roda_sparkplug_decoder)
            return true;
    return false;
}

static void destroy(void *state)
{
    input_mqtt_t *m = state;
    roda_mqtt_conn_destroy(m->conn);
    roda_sparkplug_host_fini(&m->sparkplug);
    free(m);
}

static roda_result_t create(const void *settings, const roda_input_port_t *port, void **state)
{
    const roda_input_mqtt_settings_t *s = settings;
    roda_result_t result = validate(s);
    if (result != RODA_SUCCESS)
        return result;
    input_mqtt_t *m = calloc(1, sizeof *m);
    if (m == NULL)
        return RODA_ERROR_NOMEM;
    m->settings = *s;
    m->port = *port;
    /* The copy's json filters use the copy's mappings; sparkplug.b filters the input's host. */
    m->sparkplug_settings.host = &m->sparkplug;
    for (uint32_t i = 0; i < s->topic_count; i++) {
        if (s->decoder_settings[i] == &s->json[i])
            m->settings.decoder_settings[i] = &m->settings.json[i];
        if (s->decoders[i] == &roda_sparkplug_decoder)
            m->settings.decoder_settings[i] = &m->sparkplug_settings;
    }
    if (uses_sparkplug(s)) {
        result = roda_sparkplug_host_init(&m->sparkplug, s->sparkplug_max_scopes,
                                          s->sparkplug_max_aliases, s->sparkplug_rebirth);
        if (result != RODA_SUCCESS) {
            free(m);
            return result;
        }
    }
    for (uint32_t i = 1; i < s->topic_count; i++)
        m->match_filters |= s->decoders[i] != s->decoders[0] ||
                            strcmp(s->device_patterns[i], s->device_patterns[0]) != 0 ||
                            /* another mapping: its strings are another section's */
                            s->json[i].device_field != s->json[0].device_field;
    roda_mqtt_conn_events_t events = {.context = m,
                                      .connected = on_connected,
                                      .disconnected = on_disconnected,
                                      .message = on_message,
                                      .subscribed = on_subscribed};
    result = roda_mqtt_conn_create(&m->settings.conn, &events, &m->conn);
    if (result != RODA_SUCCESS) {
        roda_sparkplug_host_fini(&m->sparkplug);
        free(m);
        return result;
    }
    *state = m;
    return RODA_SUCCESS;
}

static uint32_t poll_fds(void *state, struct pollfd *fds, int *timeout_ms)
{
    input_mqtt_t *m = state;
    if (*timeout_ms < 0 || *timeout_ms > (int)RODA_MQTT_SERVICE_MS)
        *timeout_ms = (int)RODA_MQTT_SERVICE_MS;
    int fd = roda_mqtt_conn_fd(m->conn);
    if (fd < 0)
        return 0;
    /* Back-pressure: a message is read only when the journal can take a whole one; meanwhile
     * the broker queues (TCP flow control) and the loop looks again soon. */
    m->paused = !roda_ingest_can_take(&m->port, RODA_DECODE_MAX_READINGS);
    if (m->paused && *timeout_ms > (int)PAUSED_POLL_MS)
        *timeout_ms = (int)PAUSED_POLL_MS;
    fds[0] = (struct pollfd){.fd = fd,
                             .events = (short)((m->paused ? 0 : POLLIN) |
                                               (roda_mqtt_conn_want_write(m->conn) ? POLLOUT : 0))};
    return 1;
}

static void service(void *state, const struct pollfd *fds, uint32_t count)
{
    input_mqtt_t *m = state;
    short revents = count == 1 ? fds[0].revents : 0;
    uint64_t now = roda_now_ns();
    /* Timers need a call every RODA_MQTT_SERVICE_MS even while other inputs keep poll busy. */
    if (revents == 0 && now - m->last_service_ns < RODA_MQTT_SERVICE_MS * 1000000ull)
        return;
    m->last_service_ns = now;
    roda_mqtt_conn_service(m->conn, !m->paused && (revents & (POLLIN | POLLHUP | POLLERR)) != 0,
                           (revents & (POLLOUT | POLLHUP | POLLERR)) != 0);
}

static bool ready(const void *state, char *why, size_t size)
{
    const input_mqtt_t *m = state;
    if (atomic_load_explicit(&m->subscribed, memory_order_acquire))
        return true;
    snprintf(why, size, "mqtt broker not connected");
    return false;
}

static void counters(const void *state, uint64_t counters[RODA_INGEST_COUNTER_COUNT])
{
    const input_mqtt_t *m = state;
    roda_mqtt_conn_counters_t c;
    roda_mqtt_conn_counters(m->conn, &c);
    counters[RODA_INGEST_CONNECTS] = c.connects;
    counters[RODA_INGEST_CONNECT_FAILURES] = c.connect_failures;
    counters[RODA_INGEST_DISCONNECTS] = c.disconnects;
}

static void metrics(const void *state, roda_metrics_t *out)
{
    const input_mqtt_t *m = state;
    roda_metrics_family(out, "roda_mqtt_connected", RODA_METRIC_GAUGE,
                        "1 while the MQTT input is connected and subscribed.");
    roda_metrics_u64(out, NULL, 0,
                     m != NULL && atomic_load_explicit(&m->subscribed, memory_order_relaxed));
    roda_mqtt_conn_counters_t c = {0};
    if (m != NULL)
        roda_mqtt_conn_counters(m->conn, &c);
    roda_metrics_family(out, "roda_mqtt_reconnects_total", RODA_METRIC_COUNTER,
                        "MQTT input connections established after the first.");
    roda_metrics_u64(out, NULL, 0, c.connects > 0 ? c.connects - 1 : 0);
    roda_metrics_family(out, "roda_mqtt_connect_failures_total", RODA_METRIC_COUNTER,
                        "MQTT input connection attempts that failed or were refused.");
    roda_metrics_u64(out, NULL, 0, c.connect_failures);
    roda_metrics_family(out, "roda_mqtt_disconnects_total", RODA_METRIC_COUNTER,
                        "Established MQTT input connections that were lost.");
    roda_metrics_u64(out, NULL, 0, c.disconnects);
    if (m != NULL && m->sparkplug.state != NULL)
        roda_sparkplug_host_metrics(&m->sparkplug, out);
}

static void describe(const void *state, char *buf, size_t size)
{
    snprintf(buf, size, "mqtt=%s", state != NULL ? "on" : "off");
}

static uint64_t memory(const void *settings)
{
    const roda_input_mqtt_settings_t *s = settings;
    /* libmosquitto allocates each packet as it comes */
    return sizeof(input_mqtt_t) +
           (uses_sparkplug(s)
                ? roda_sparkplug_state_memory(s->sparkplug_max_scopes, s->sparkplug_max_aliases)
                : 0);
}

const roda_input_class_t roda_input_mqtt = {
    .name = "mqtt",
    .acknowledges = true,
    .settings_size = sizeof(roda_input_mqtt_settings_t),
    .configure = configure,
    .create = create,
    .destroy = destroy,
    .poll_fds = poll_fds,
    .service = service,
    .ready = ready,
    .counters = counters,
    .metrics = metrics,
    .describe = describe,
    .memory = memory,
};
