/* roda_mqtt.c - libmosquitto on the ingest thread's loop: connection state machine with capped
 * exponential backoff, subscriptions on every CONNACK, and device names from topics. */
#include "roda_mqtt.h"

#include "roda_counter.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "roda_idle.h"

#define DEVICE_LEVEL "{device}"
#define DEVICE_LEVEL_LENGTH (sizeof(DEVICE_LEVEL) - 1)

typedef enum state { STATE_IDLE, STATE_CONNECTING, STATE_CONNECTED } state_t;

struct roda_mqtt {
    struct mosquitto *mosq;
    roda_mqtt_config_t config;
    roda_mqtt_message_fn on_message;
    void *context;
    mosquitto_property *connect_properties; /* MQTT 5: the session expiry interval */
    state_t state;
    uint64_t next_attempt_ns;
    uint64_t connect_deadline_ns;
    uint32_t backoff_ms;
    int subscribe_mid; /* the SUBSCRIBE whose SUBACK makes the client ready */
    _Atomic int connected;
    _Atomic uint64_t connects;
    _Atomic uint64_t connect_failures;
    _Atomic uint64_t disconnects;
};

static pthread_once_t library_once = PTHREAD_ONCE_INIT;

static void library_init(void)
{
    mosquitto_lib_init();
}

void roda_mqtt_config_default(roda_mqtt_config_t *config)
{
    memset(config, 0, sizeof(*config));
    config->port = 1883;
    config->client_id = "roda-gateway";
    config->topics[0] = "roda/+/readings";
    config->topic_count = 1;
    config->qos = 1;
    config->keepalive_s = 30;
    config->session_expiry_s = 86400;
    config->protocol = 4;
    config->reconnect_min_ms = 100;
    config->reconnect_max_ms = 10000;
}

int roda_mqtt_pattern_valid(const char *pattern)
{
    if (pattern == NULL || strchr(pattern, '#') != NULL)
        return 0;
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

int roda_mqtt_topic_device(const char *pattern, const char *topic, const char **device,
                           size_t *length)
{
    const char *p = pattern, *t = topic;
    int found = 0;
    for (;;) {
        const char *p_end = strchr(p, '/');
        const char *t_end = strchr(t, '/');
        size_t p_length = p_end ? (size_t)(p_end - p) : strlen(p);
        size_t t_length = t_end ? (size_t)(t_end - t) : strlen(t);
        if (p_length == DEVICE_LEVEL_LENGTH && memcmp(p, DEVICE_LEVEL, p_length) == 0) {
            *device = t;
            *length = t_length;
            found = 1;
        } else if (!(p_length == 1 && p[0] == '+') &&
                   (p_length != t_length || memcmp(p, t, p_length) != 0)) {
            return 0;
        }
        if (p_end == NULL || t_end == NULL)
            return p_end == NULL && t_end == NULL && found;
        p = p_end + 1;
        t = t_end + 1;
    }
}

static void schedule_retry(roda_mqtt_t *mqtt)
{
    mqtt->state = STATE_IDLE;
    atomic_store_explicit(&mqtt->connected, 0, memory_order_release);
    mqtt->next_attempt_ns = roda_now_ns() + (uint64_t)mqtt->backoff_ms * 1000000u;
    uint32_t next = mqtt->backoff_ms * 2;
    mqtt->backoff_ms = next > mqtt->config.reconnect_max_ms ? mqtt->config.reconnect_max_ms : next;
}

static void on_connect(struct mosquitto *mosq, void *object, int rc)
{
    roda_mqtt_t *mqtt = object;
    if (rc != 0) {
        roda_counter_add(&mqtt->connect_failures, 1);
        schedule_retry(mqtt); /* first: the disconnect below must not schedule again */
        (void)mosquitto_disconnect(mosq);
        return;
    }
    mqtt->state = STATE_CONNECTED;
    mqtt->backoff_ms = mqtt->config.reconnect_min_ms;
    roda_counter_add(&mqtt->connects, 1);
    /* Resubscribing is harmless with a restored session and required with a new one. */
    if (mosquitto_subscribe_multiple(mosq, &mqtt->subscribe_mid, (int)mqtt->config.topic_count,
                                     (char *const *const)mqtt->config.topics, mqtt->config.qos, 0,
                                     NULL) != MOSQ_ERR_SUCCESS) {
        roda_counter_add(&mqtt->connect_failures, 1);
        schedule_retry(mqtt);
        (void)mosquitto_disconnect(mosq);
    }
}

/* Ready only once the broker acknowledged the subscriptions: from then on nothing published to
 * the filters is missed. */
static void on_subscribe(struct mosquitto *mosq, void *object, int mid, int qos_count,
                         const int *granted_qos)
{
    (void)mosq;
    roda_mqtt_t *mqtt = object;
    if (mqtt->state != STATE_CONNECTED || mid != mqtt->subscribe_mid)
        return;
    /* A refused filter (0x80, e.g. by an ACL) leaves the gateway not ready: readings would be
     * missing without any counter showing it. */
    for (int i = 0; i < qos_count; i++)
        if (granted_qos[i] > 2)
            return;
    atomic_store_explicit(&mqtt->connected, 1, memory_order_release);
}

static void on_disconnect(struct mosquitto *mosq, void *object, int rc)
{
    (void)mosq;
    (void)rc;
    roda_mqtt_t *mqtt = object;
    if (mqtt->state == STATE_CONNECTED)
        roda_counter_add(&mqtt->disconnects, 1);
    if (mqtt->state != STATE_IDLE)
        schedule_retry(mqtt);
}

static void on_message(struct mosquitto *mosq, void *object, const struct mosquitto_message *msg)
{
    (void)mosq;
    roda_mqtt_t *mqtt = object;
    const char *device = NULL;
    size_t length = 0;
    int matched = 1;
    if (mqtt->config.device_pattern != NULL)
        matched = roda_mqtt_topic_device(mqtt->config.device_pattern, msg->topic, &device, &length);
    mqtt->on_message(mqtt->context, matched, device, length, msg->payload,
                     (size_t)(msg->payloadlen < 0 ? 0 : msg->payloadlen));
}

static roda_result_t validate(const roda_mqtt_config_t *config)
{
    if (config->qos < 0 || config->qos > 1 || (config->protocol != 4 && config->protocol != 5))
        return RODA_ERROR_INVALID_ARG;
    if (config->topic_count == 0 || config->topic_count > RODA_MQTT_MAX_TOPICS)
        return RODA_ERROR_INVALID_ARG;
    for (uint32_t i = 0; i < config->topic_count; i++)
        if (config->topics[i] == NULL ||
            mosquitto_sub_topic_check(config->topics[i]) != MOSQ_ERR_SUCCESS)
            return RODA_ERROR_INVALID_ARG;
    if (!config->clean_session && (config->client_id == NULL || config->client_id[0] == '\0'))
        return RODA_ERROR_INVALID_ARG;
    if (config->device_pattern != NULL && !roda_mqtt_pattern_valid(config->device_pattern))
        return RODA_ERROR_INVALID_ARG;
    if (config->reconnect_min_ms == 0 || config->reconnect_max_ms < config->reconnect_min_ms)
        return RODA_ERROR_INVALID_ARG;
    if ((config->tls_cert_file == NULL) != (config->tls_key_file == NULL))
        return RODA_ERROR_INVALID_ARG;
    return RODA_SUCCESS;
}

static roda_result_t configure(roda_mqtt_t *mqtt)
{
    const roda_mqtt_config_t *config = &mqtt->config;
    struct mosquitto *mosq = mqtt->mosq;
    if (mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION,
                             config->protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311) ||
        mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1))
        return RODA_ERROR_INVALID_ARG;
    if (config->username != NULL &&
        mosquitto_username_pw_set(mosq, config->username, config->password) != MOSQ_ERR_SUCCESS)
        return RODA_ERROR_INVALID_ARG;
    if (config->tls_ca_file != NULL &&
        mosquitto_tls_set(mosq, config->tls_ca_file, NULL, config->tls_cert_file,
                          config->tls_key_file, NULL) != MOSQ_ERR_SUCCESS)
        return RODA_ERROR_INVALID_ARG;
    if (config->protocol == 5 &&
        mosquitto_property_add_int32(&mqtt->connect_properties, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                     config->clean_session ? 0 : config->session_expiry_s) !=
            MOSQ_ERR_SUCCESS)
        return RODA_ERROR_NOMEM;
    mosquitto_connect_callback_set(mosq, on_connect);
    mosquitto_disconnect_callback_set(mosq, on_disconnect);
    mosquitto_message_callback_set(mosq, on_message);
    mosquitto_subscribe_callback_set(mosq, on_subscribe);
    return RODA_SUCCESS;
}

roda_result_t roda_mqtt_create(const roda_mqtt_config_t *config, roda_mqtt_message_fn on_message,
                               void *context, roda_mqtt_t **out)
{
    if (out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    if (config == NULL || config->host == NULL || on_message == NULL)
        return RODA_ERROR_INVALID_ARG;
    roda_result_t result = validate(config);
    if (result != RODA_SUCCESS)
        return result;
    pthread_once(&library_once, library_init);
    roda_mqtt_t *mqtt = calloc(1, sizeof(*mqtt));
    if (mqtt == NULL)
        return RODA_ERROR_NOMEM;
    mqtt->config = *config;
    mqtt->on_message = on_message;
    mqtt->context = context;
    mqtt->backoff_ms = config->reconnect_min_ms;
    mqtt->mosq = mosquitto_new(config->client_id, config->clean_session != 0, mqtt);
    if (mqtt->mosq == NULL) {
        free(mqtt);
        return RODA_ERROR_NOMEM;
    }
    result = configure(mqtt);
    if (result != RODA_SUCCESS) {
        roda_mqtt_destroy(mqtt);
        return result;
    }
    *out = mqtt;
    return RODA_SUCCESS;
}

void roda_mqtt_destroy(roda_mqtt_t *mqtt)
{
    if (mqtt == NULL)
        return;
    if (mqtt->state != STATE_IDLE) {
        mqtt->state = STATE_IDLE; /* on_disconnect must not schedule a retry now */
        if (mosquitto_disconnect(mqtt->mosq) == MOSQ_ERR_SUCCESS)
            (void)mosquitto_loop_write(mqtt->mosq, 1);
    }
    mosquitto_destroy(mqtt->mosq);
    mosquitto_property_free_all(&mqtt->connect_properties);
    free(mqtt);
}

int roda_mqtt_fd(roda_mqtt_t *mqtt)
{
    return mqtt->state == STATE_IDLE ? -1 : mosquitto_socket(mqtt->mosq);
}

int roda_mqtt_want_write(roda_mqtt_t *mqtt)
{
    return mqtt->state != STATE_IDLE && mosquitto_want_write(mqtt->mosq);
}

static void attempt(roda_mqtt_t *mqtt, uint64_t now)
{
    const roda_mqtt_config_t *config = &mqtt->config;
    int rc;
    if (config->protocol == 5)
        rc = mosquitto_connect_bind_v5(mqtt->mosq, config->host, config->port,
                                       (int)config->keepalive_s, NULL, mqtt->connect_properties);
    else
        rc = mosquitto_connect_async(mqtt->mosq, config->host, config->port,
                                     (int)config->keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) {
        roda_counter_add(&mqtt->connect_failures, 1);
        schedule_retry(mqtt);
        return;
    }
    mqtt->state = STATE_CONNECTING;
    mqtt->connect_deadline_ns =
        now + (uint64_t)(config->keepalive_s ? config->keepalive_s : 30) * 1000000000u;
}

/* The connection failed under us: close what is left and retry later. */
static void lost(roda_mqtt_t *mqtt)
{
    if (mqtt->state == STATE_IDLE)
        return; /* on_disconnect already handled it */
    if (mqtt->state == STATE_CONNECTED)
        roda_counter_add(&mqtt->disconnects, 1);
    else
        roda_counter_add(&mqtt->connect_failures, 1);
    mqtt->state = STATE_IDLE;
    (void)mosquitto_disconnect(mqtt->mosq);
    schedule_retry(mqtt);
}

void roda_mqtt_service(roda_mqtt_t *mqtt, int readable, int writable)
{
    uint64_t now = roda_now_ns();
    if (mqtt->state == STATE_IDLE) {
        if (now >= mqtt->next_attempt_ns)
            attempt(mqtt, now);
        return;
    }
    if (readable && mosquitto_loop_read(mqtt->mosq, 1) != MOSQ_ERR_SUCCESS) {
        lost(mqtt);
        return;
    }
    if (mqtt->state != STATE_IDLE && writable &&
        mosquitto_loop_write(mqtt->mosq, 1) != MOSQ_ERR_SUCCESS) {
        lost(mqtt);
        return;
    }
    if (mqtt->state == STATE_IDLE)
        return;
    if (mosquitto_loop_misc(mqtt->mosq) != MOSQ_ERR_SUCCESS ||
        (mqtt->state == STATE_CONNECTING && now > mqtt->connect_deadline_ns))
        lost(mqtt);
}

int roda_mqtt_connected(const roda_mqtt_t *mqtt)
{
    return atomic_load_explicit(&mqtt->connected, memory_order_acquire);
}

void roda_mqtt_counters(const roda_mqtt_t *mqtt, roda_mqtt_counters_t *counters)
{
    counters->connects = atomic_load_explicit(&mqtt->connects, memory_order_relaxed);
    counters->connect_failures =
        atomic_load_explicit(&mqtt->connect_failures, memory_order_relaxed);
    counters->disconnects = atomic_load_explicit(&mqtt->disconnects, memory_order_relaxed);
}
