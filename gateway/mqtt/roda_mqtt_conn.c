/* roda_mqtt_conn.c - one libmosquitto client on its owner's loop: connection state machine with
 * capped exponential back-off and rate-limited logs (see roda_mqtt_conn.h). */
#include "roda_mqtt_conn.h"

#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "roda_counter.h"
#include "roda_idle.h"
#include "roda_log.h"

typedef enum state { STATE_IDLE, STATE_CONNECTING, STATE_CONNECTED } state_t;

struct roda_mqtt_conn {
    struct mosquitto *mosq;
    roda_mqtt_conn_config_t config;
    roda_mqtt_conn_events_t events;
    mosquitto_property *connect_properties; /* MQTT 5: the session expiry interval */
    state_t state;
    uint64_t next_attempt_ns;
    uint64_t connect_deadline_ns;
    uint32_t backoff_ms;
    roda_log_limiter_t log_limiter; /* RODA_MQTT_LOG_INTERVAL_MS */
    _Atomic bool connected;
    _Atomic uint64_t connects;
    _Atomic uint64_t connect_failures;
    _Atomic uint64_t disconnects;
};

static pthread_once_t library_once = PTHREAD_ONCE_INIT;

static void library_init(void)
{
    mosquitto_lib_init();
}

static bool text_set(const char *text)
{
    return text != NULL && text[0] != '\0';
}

#define HINT_BROKER                                                                                \
    "check that the broker runs at that address and accepts this client (login, TLS, ACL); "       \
    "retries continue with back-off"
#define HINT_RESOLVE                                                                               \
    "the broker's host name does not resolve here (a compose service name resolves only inside "   \
    "compose): set mqtt.host; retries continue with back-off"

/* One warning per RODA_MQTT_LOG_INTERVAL_MS at most; the lines left out are counted into the
 * next one. */
static void log_trouble(roda_mqtt_conn_t *conn, const char *msg, const char *reason,
                        const char *hint)
{
    uint64_t suppressed;
    if (!roda_log_limiter_allow(&conn->log_limiter, roda_now_ns(), &suppressed))
        return;
    char quoted[160];
    roda_log(RODA_LOG_WARN, msg,
             "role=%s broker=%s:%u reason=%s retry_ms=%u suppressed=%llu hint=\"%s\"",
             conn->config.role, conn->config.host, (unsigned)conn->config.port,
             roda_log_quote(quoted, sizeof quoted, reason), (unsigned)conn->backoff_ms,
             (unsigned long long)suppressed, hint);
}

/* libmosquitto leaves errno for MOSQ_ERR_ERRNO, and getaddrinfo's code for MOSQ_ERR_EAI. */
static const char *result_reason(int rc)
{
    if (rc == MOSQ_ERR_EAI)
        return gai_strerror(errno);
    return rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc);
}

/* Back to idle; the next attempt after the back-off, which doubles up to reconnect_max_ms. */
static void schedule_retry(roda_mqtt_conn_t *conn)
{
    bool was_connected = conn->state == STATE_CONNECTED;
    conn->state = STATE_IDLE;
    atomic_store_explicit(&conn->connected, false, memory_order_release);
    conn->next_attempt_ns = roda_now_ns() + (uint64_t)conn->backoff_ms * 1000000u;
    uint32_t next = conn->backoff_ms * 2;
    conn->backoff_ms = next > conn->config.reconnect_max_ms ? conn->config.reconnect_max_ms : next;
    if (was_connected && conn->events.disconnected != NULL)
        conn->events.disconnected(conn->events.context);
}

/* The connection failed under us: close what is left, log, and retry later. */
static void fail(roda_mqtt_conn_t *conn, const char *reason)
{
    if (conn->state == STATE_IDLE)
        return;
    bool established = conn->state == STATE_CONNECTED;
    roda_counter_add(established ? &conn->disconnects : &conn->connect_failures, 1);
    log_trouble(conn, established ? "mqtt disconnected" : "mqtt connect failed", reason,
                HINT_BROKER);
    schedule_retry(conn);
    (void)mosquitto_disconnect(conn->mosq);
}

static void on_connect(struct mosquitto *mosq, void *object, int rc)
{
    (void)mosq;
    roda_mqtt_conn_t *conn = object;
    if (rc != 0) {
        fail(conn, mosquitto_connack_string(rc));
        return;
    }
    conn->state = STATE_CONNECTED;
    conn->backoff_ms = conn->config.reconnect_min_ms;
    roda_counter_add(&conn->connects, 1);
    atomic_store_explicit(&conn->connected, true, memory_order_release);
    roda_log(RODA_LOG_INFO, "mqtt connected", "role=%s broker=%s:%u", conn->config.role,
             conn->config.host, (unsigned)conn->config.port);
    if (conn->events.connected != NULL)
        conn->events.connected(conn->events.context);
}

static void on_disconnect(struct mosquitto *mosq, void *object, int rc)
{
    (void)mosq;
    roda_mqtt_conn_t *conn = object;
    fail(conn, rc == 0 ? "disconnected" : result_reason(rc));
}

static void on_message(struct mosquitto *mosq, void *object, const struct mosquitto_message *msg)
{
    (void)mosq;
    roda_mqtt_conn_t *conn = object;
    if (conn->events.message != NULL)
        conn->events.message(conn->events.context, msg->topic, msg->payload,
                             (size_t)(msg->payloadlen < 0 ? 0 : msg->payloadlen));
}

static void on_subscribe(struct mosquitto *mosq, void *object, int mid, int count,
                         const int *granted)
{
    (void)mosq;
    roda_mqtt_conn_t *conn = object;
    if (conn->events.subscribed != NULL)
        conn->events.subscribed(conn->events.context, mid, count, granted);
}

static void on_publish(struct mosquitto *mosq, void *object, int mid)
{
    (void)mosq;
    roda_mqtt_conn_t *conn = object;
    if (conn->events.published != NULL)
        conn->events.published(conn->events.context, mid);
}

static roda_result_t configure(roda_mqtt_conn_t *conn)
{
    const roda_mqtt_conn_config_t *config = &conn->config;
    struct mosquitto *mosq = conn->mosq;
    if (mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION,
                             config->protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311) ||
        mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1))
        return RODA_ERROR_INVALID_ARG;
    if (text_set(config->username) &&
        mosquitto_username_pw_set(mosq, config->username, config->password) != MOSQ_ERR_SUCCESS)
        return RODA_ERROR_INVALID_ARG;
    if (text_set(config->ca_file) &&
        mosquitto_tls_set(
            mosq, config->ca_file, NULL, text_set(config->cert_file) ? config->cert_file : NULL,
            text_set(config->key_file) ? config->key_file : NULL, NULL) != MOSQ_ERR_SUCCESS)
        return RODA_ERROR_INVALID_ARG;
    if (text_set(config->will_topic) &&
        mosquitto_will_set(mosq, config->will_topic,
                           (int)(config->will_payload != NULL ? strlen(config->will_payload) : 0),
                           config->will_payload, 1, true) != MOSQ_ERR_SUCCESS)
        return RODA_ERROR_INVALID_ARG;
    if (config->max_inflight != 0 &&
        mosquitto_max_inflight_messages_set(mosq, config->max_inflight) != MOSQ_ERR_SUCCESS)
        return RODA_ERROR_INVALID_ARG;
    if (config->protocol == 5 &&
        mosquitto_property_add_int32(&conn->connect_properties, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                     config->clean_session ? 0 : config->session_expiry_s) !=
            MOSQ_ERR_SUCCESS)
        return RODA_ERROR_NOMEM;
    mosquitto_connect_callback_set(mosq, on_connect);
    mosquitto_disconnect_callback_set(mosq, on_disconnect);
    mosquitto_message_callback_set(mosq, on_message);
    mosquitto_subscribe_callback_set(mosq, on_subscribe);
    mosquitto_publish_callback_set(mosq, on_publish);
    return RODA_SUCCESS;
}

roda_result_t roda_mqtt_conn_create(const roda_mqtt_conn_config_t *config,
                                    const roda_mqtt_conn_events_t *events, roda_mqtt_conn_t **out)
{
    if (out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    if (config == NULL || events == NULL || !text_set(config->host) || config->role == NULL ||
        (config->protocol != 4 && config->protocol != 5) || config->keepalive_s == 0 ||
        config->reconnect_min_ms == 0 || config->reconnect_max_ms < config->reconnect_min_ms ||
        (!config->clean_session && !text_set(config->client_id)) ||
        text_set(config->cert_file) != text_set(config->key_file))
        return RODA_ERROR_INVALID_ARG;
    pthread_once(&library_once, library_init);
    roda_mqtt_conn_t *conn = calloc(1, sizeof(*conn));
    if (conn == NULL)
        return RODA_ERROR_NOMEM;
    conn->config = *config;
    conn->events = *events;
    conn->backoff_ms = config->reconnect_min_ms;
    roda_log_limiter_init(&conn->log_limiter, RODA_MQTT_LOG_INTERVAL_MS * 1000000ull);
    conn->mosq = mosquitto_new(text_set(config->client_id) ? config->client_id : NULL,
                               config->clean_session, conn);
    if (conn->mosq == NULL) {
        free(conn);
        return RODA_ERROR_NOMEM;
    }
    roda_result_t result = configure(conn);
    if (result != RODA_SUCCESS) {
        roda_mqtt_conn_destroy(conn);
        return result;
    }
    *out = conn;
    return RODA_SUCCESS;
}

void roda_mqtt_conn_destroy(roda_mqtt_conn_t *conn)
{
    if (conn == NULL)
        return;
    if (conn->state != STATE_IDLE) {
        conn->state = STATE_IDLE; /* on_disconnect must not schedule a retry now */
        if (mosquitto_disconnect(conn->mosq) == MOSQ_ERR_SUCCESS)
            (void)mosquitto_loop_write(conn->mosq, 1);
    }
    mosquitto_destroy(conn->mosq);
    mosquitto_property_free_all(&conn->connect_properties);
    free(conn);
}

int roda_mqtt_conn_fd(roda_mqtt_conn_t *conn)
{
    return conn->state == STATE_IDLE ? -1 : mosquitto_socket(conn->mosq);
}

bool roda_mqtt_conn_want_write(roda_mqtt_conn_t *conn)
{
    return conn->state != STATE_IDLE && mosquitto_want_write(conn->mosq);
}

static void attempt(roda_mqtt_conn_t *conn, uint64_t now)
{
    const roda_mqtt_conn_config_t *config = &conn->config;
    int rc;
    if (config->protocol == 5)
        rc = mosquitto_connect_bind_v5(conn->mosq, config->host, config->port,
                                       (int)config->keepalive_s, NULL, conn->connect_properties);
    else
        rc = mosquitto_connect_async(conn->mosq, config->host, config->port,
                                     (int)config->keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) {
        roda_counter_add(&conn->connect_failures, 1);
        log_trouble(conn, "mqtt connect failed", result_reason(rc),
                    rc == MOSQ_ERR_EAI ? HINT_RESOLVE : HINT_BROKER);
        schedule_retry(conn);
        return;
    }
    conn->state = STATE_CONNECTING;
    conn->connect_deadline_ns = now + (uint64_t)config->keepalive_s * 1000000000u;
}

void roda_mqtt_conn_service(roda_mqtt_conn_t *conn, bool readable, bool writable)
{
    uint64_t now = roda_now_ns();
    if (conn->state == STATE_IDLE) {
        if (now >= conn->next_attempt_ns)
            attempt(conn, now);
        return;
    }
    int rc = MOSQ_ERR_SUCCESS;
    if (readable)
        rc = mosquitto_loop_read(conn->mosq, 1);
    if (rc == MOSQ_ERR_SUCCESS && conn->state != STATE_IDLE && writable)
        rc = mosquitto_loop_write(conn->mosq, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
        fail(conn, result_reason(rc));
        return;
    }
    if (conn->state == STATE_IDLE)
        return;
    rc = mosquitto_loop_misc(conn->mosq);
    if (rc != MOSQ_ERR_SUCCESS)
        fail(conn, result_reason(rc));
    else if (conn->state == STATE_CONNECTING && now > conn->connect_deadline_ns)
        fail(conn, "no CONNACK within the keepalive interval");
}

void roda_mqtt_conn_run_once(roda_mqtt_conn_t *conn, int timeout_ms)
{
    int fd = roda_mqtt_conn_fd(conn);
    struct pollfd pfd = {.fd = fd,
                         .events = POLLIN | (roda_mqtt_conn_want_write(conn) ? POLLOUT : 0)};
    int ready = poll(&pfd, fd >= 0 ? 1 : 0, timeout_ms);
    short revents = ready > 0 ? pfd.revents : 0;
    roda_mqtt_conn_service(conn, (revents & (POLLIN | POLLHUP | POLLERR)) != 0,
                           (revents & (POLLOUT | POLLHUP | POLLERR)) != 0);
}

roda_result_t roda_mqtt_conn_subscribe(roda_mqtt_conn_t *conn, const char *const *filters,
                                       uint32_t count, int qos, int *mid)
{
    if (conn->state != STATE_CONNECTED)
        return RODA_ERROR_STATE;
    int rc = mosquitto_subscribe_multiple(conn->mosq, mid, (int)count, (char *const *const)filters,
                                          qos, 0, NULL);
    return rc == MOSQ_ERR_SUCCESS ? RODA_SUCCESS : RODA_ERROR_INVALID_ARG;
}

roda_result_t roda_mqtt_conn_publish(roda_mqtt_conn_t *conn, const char *topic, const void *payload,
                                     size_t size, int qos, bool retain, int *mid)
{
    if (conn->state != STATE_CONNECTED)
        return RODA_ERROR_STATE;
    int rc = mosquitto_publish(conn->mosq, mid, topic, (int)size, payload, qos, retain);
    if (rc == MOSQ_ERR_OVERSIZE_PACKET)
        return RODA_ERROR_INVALID_ARG;
    return rc == MOSQ_ERR_SUCCESS ? RODA_SUCCESS : RODA_ERROR_SYSTEM;
}

void roda_mqtt_conn_fail(roda_mqtt_conn_t *conn, const char *reason)
{
    fail(conn, reason);
}

bool roda_mqtt_conn_connected(const roda_mqtt_conn_t *conn)
{
    return atomic_load_explicit(&conn->connected, memory_order_acquire);
}

void roda_mqtt_conn_counters(const roda_mqtt_conn_t *conn, roda_mqtt_conn_counters_t *counters)
{
    counters->connects = atomic_load_explicit(&conn->connects, memory_order_relaxed);
    counters->connect_failures =
        atomic_load_explicit(&conn->connect_failures, memory_order_relaxed);
    counters->disconnects = atomic_load_explicit(&conn->disconnects, memory_order_relaxed);
}

bool roda_mqtt_topic_valid(const char *topic, bool filter)
{
    if (topic == NULL || topic[0] == '\0')
        return false;
    return (filter ? mosquitto_sub_topic_check(topic) : mosquitto_pub_topic_check(topic)) ==
           MOSQ_ERR_SUCCESS;
}

bool roda_mqtt_topic_matches(const char *filter, const char *topic)
{
    bool result = false;
    return mosquitto_topic_matches_sub(filter, topic, &result) == MOSQ_ERR_SUCCESS && result;
}
