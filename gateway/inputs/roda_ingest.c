/* roda_ingest.c - the ingest thread: one poll loop over the stop eventfd, the UDP sockets and
 * the MQTT socket, and the per-message path from payload to committed journal records. */
#include "roda_ingest.h"

#include "roda_counter.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "roda_decode.h"
#include "roda_udp.h"

/* recvmmsg batches drained per readiness before the loop looks at the other sockets again. */
#define UDP_ROUNDS 16u

typedef struct input_counters {
    _Alignas(RODA_PAD) _Atomic uint64_t value[RODA_INGEST_COUNTER_COUNT];
} input_counters_t;

struct roda_ingest {
    roda_ingest_config_t config;
    roda_journal_t *journal;
    roda_devices_t *devices;
    roda_mqtt_t *mqtt; /* NULL without MQTT input */
    roda_udp_t *udp[RODA_INGEST_MAX_UDP];
    uint32_t udp_count;
    int stop_fd;
    pthread_t thread;
    int started;
    uint64_t last_mqtt_service_ns;
    input_counters_t counters[RODA_INPUT_COUNT];
};

static const char *const counter_names[RODA_INGEST_COUNTER_COUNT] = {
    [RODA_INGEST_MESSAGES] = "messages",
    [RODA_INGEST_BATCHES] = "batches",
    [RODA_INGEST_READINGS] = "readings",
    [RODA_INGEST_DECODE_ERROR] = "decode_error",
    [RODA_INGEST_TRUNCATED] = "truncated",
    [RODA_INGEST_OVERSIZE] = "oversize",
    [RODA_INGEST_TOO_MANY_READINGS] = "too_many_readings",
    [RODA_INGEST_UNKNOWN_TOPIC] = "unknown_topic",
    [RODA_INGEST_BAD_DEVICE] = "bad_device",
    [RODA_INGEST_TOO_MANY_DEVICES] = "too_many_devices",
    [RODA_INGEST_DUPLICATE] = "duplicate",
    [RODA_INGEST_LOST_UPSTREAM] = "lost_upstream",
    [RODA_INGEST_LATE] = "late",
    [RODA_INGEST_NON_FINITE] = "non_finite",
    [RODA_INGEST_JOURNAL_FULL] = "journal_full",
    [RODA_INGEST_KERNEL_DROPS] = "kernel_drops",
    [RODA_INGEST_RECEIVE_ERRORS] = "receive_errors",
    [RODA_INGEST_CONNECTS] = "connects",
    [RODA_INGEST_CONNECT_FAILURES] = "connect_failures",
    [RODA_INGEST_DISCONNECTS] = "disconnects",
};

const char *roda_ingest_counter_name(roda_ingest_counter_t counter)
{
    if ((unsigned)counter >= RODA_INGEST_COUNTER_COUNT)
        return NULL;
    return counter_names[counter];
}

const char *roda_ingest_input_name(roda_input_kind_t input)
{
    return input == RODA_INPUT_MQTT ? "mqtt" : input == RODA_INPUT_UDP ? "udp" : NULL;
}

/* Only the ingest thread writes a counter (roda_counter.h). */
static void count(roda_ingest_t *ingest, roda_input_kind_t input, roda_ingest_counter_t counter,
                  uint64_t amount)
{
    roda_counter_add(&ingest->counters[input].value[counter], amount);
}

void roda_ingest_config_default(roda_ingest_config_t *config)
{
    memset(config, 0, sizeof(*config));
    roda_mqtt_config_default(&config->mqtt);
    config->udp_receive_buffer = 32u << 20;
    config->udp_max_datagram = 65507;
    config->udp_batch = 64;
    config->max_message_size = 65536;
    config->max_devices = 16384;
}

static const roda_ingest_counter_t decode_reasons[] = {
    [RODA_DECODE_TRUNCATED] = RODA_INGEST_TRUNCATED,
    [RODA_DECODE_MALFORMED] = RODA_INGEST_DECODE_ERROR,
    [RODA_DECODE_TOO_MANY] = RODA_INGEST_TOO_MANY_READINGS,
    [RODA_DECODE_OVERSIZE] = RODA_INGEST_OVERSIZE,
};

/* Decodes the batch's readings into as many claimed runs as it takes and commits them. */
static void append_readings(roda_ingest_t *ingest, roda_input_kind_t input,
                            roda_decode_batch_t *batch, uint32_t device, uint64_t now)
{
    uint64_t non_finite = 0;
    roda_decode_status_t status = RODA_DECODE_OK;
    while (batch->readings_done < batch->reading_count && status == RODA_DECODE_OK) {
        uint32_t remaining = batch->reading_count - batch->readings_done;
        void *slots;
        uint64_t granted;
        if (roda_journal_claim(ingest->journal, remaining, &slots, &granted) != RODA_SUCCESS) {
            count(ingest, input, RODA_INGEST_JOURNAL_FULL, remaining);
            break;
        }
        roda_reading_t *records = slots;
        uint32_t written =
            roda_decode_readings(batch, records, (uint32_t)granted, &non_finite, &status);
        for (uint32_t i = 0; i < written; i++) {
            records[i].ingest_time_ns = now;
            records[i].device = device;
            records[i].input = (uint8_t)input;
            records[i].reserved = 0;
        }
        roda_journal_commit(ingest->journal, written);
        count(ingest, input, RODA_INGEST_READINGS, written);
    }
    if (non_finite != 0)
        count(ingest, input, RODA_INGEST_NON_FINITE, non_finite);
    if (status != RODA_DECODE_OK)
        count(ingest, input, RODA_INGEST_DECODE_ERROR, 1);
}

/* One message from either input. `device` names the device when the MQTT topic does. */
static void ingest_message(roda_ingest_t *ingest, roda_input_kind_t input, const char *device,
                           size_t device_length, const uint8_t *payload, size_t size)
{
    uint64_t now = roda_now_ns();
    count(ingest, input, RODA_INGEST_MESSAGES, 1);
    if (size > ingest->config.max_message_size) {
        count(ingest, input, RODA_INGEST_OVERSIZE, 1);
        return;
    }
    roda_decode_batch_t batch;
    roda_decode_status_t status = roda_decode_open(&batch, payload, size);
    if (status != RODA_DECODE_OK) {
        count(ingest, input, decode_reasons[status], 1);
        return;
    }
    if (device == NULL) {
        device = batch.device;
        device_length = batch.device_length;
    }
    uint32_t index;
    roda_result_t result = roda_devices_intern(ingest->devices, device, device_length, &index);
    if (result != RODA_SUCCESS) {
        count(ingest, input,
              result == RODA_ERROR_TOO_MANY ? RODA_INGEST_TOO_MANY_DEVICES : RODA_INGEST_BAD_DEVICE,
              1);
        return;
    }
    uint64_t lost;
    switch (roda_devices_track(ingest->devices, index, batch.boot_epoch, batch.sequence, &lost)) {
    case RODA_SEQUENCE_DUPLICATE:
        count(ingest, input, RODA_INGEST_DUPLICATE, 1);
        return;
    case RODA_SEQUENCE_GAP:
        count(ingest, input, RODA_INGEST_LOST_UPSTREAM, lost);
        break;
    case RODA_SEQUENCE_LATE:
        count(ingest, input, RODA_INGEST_LATE, 1);
        break;
    case RODA_SEQUENCE_NEXT:
        break;
    }
    count(ingest, input, RODA_INGEST_BATCHES, 1);
    append_readings(ingest, input, &batch, index, now);
}

static void on_mqtt_message(void *context, int topic_matched, const char *device,
                            size_t device_length, const uint8_t *payload, size_t size)
{
    roda_ingest_t *ingest = context;
    if (!topic_matched) {
        count(ingest, RODA_INPUT_MQTT, RODA_INGEST_MESSAGES, 1);
        count(ingest, RODA_INPUT_MQTT, RODA_INGEST_UNKNOWN_TOPIC, 1);
        return;
    }
    ingest_message(ingest, RODA_INPUT_MQTT, device, device_length, payload, size);
}

static void drain_udp(roda_ingest_t *ingest, roda_udp_t *udp)
{
    for (uint32_t round = 0; round < UDP_ROUNDS; round++) {
        uint64_t kernel_drops;
        int failed;
        uint32_t received = roda_udp_receive(udp, &kernel_drops, &failed);
        if (kernel_drops != 0)
            count(ingest, RODA_INPUT_UDP, RODA_INGEST_KERNEL_DROPS, kernel_drops);
        if (failed)
            count(ingest, RODA_INPUT_UDP, RODA_INGEST_RECEIVE_ERRORS, 1);
        for (uint32_t i = 0; i < received; i++) {
            size_t size;
            int truncated;
            const uint8_t *data = roda_udp_datagram(udp, i, &size, &truncated);
            if (truncated) {
                count(ingest, RODA_INPUT_UDP, RODA_INGEST_MESSAGES, 1);
                count(ingest, RODA_INPUT_UDP, RODA_INGEST_OVERSIZE, 1);
                continue;
            }
            ingest_message(ingest, RODA_INPUT_UDP, NULL, 0, data, size);
        }
        if (received < ingest->config.udp_batch)
            return;
    }
}

static void *run(void *argument)
{
    roda_ingest_t *ingest = argument;
    struct pollfd fds[2 + RODA_INGEST_MAX_UDP];
    for (;;) {
        nfds_t n = 0;
        fds[n++] = (struct pollfd){.fd = ingest->stop_fd, .events = POLLIN};
        for (uint32_t i = 0; i < ingest->udp_count; i++)
            fds[n++] = (struct pollfd){.fd = roda_udp_fd(ingest->udp[i]), .events = POLLIN};
        nfds_t mqtt_slot = 0;
        if (ingest->mqtt != NULL) {
            int fd = roda_mqtt_fd(ingest->mqtt);
            if (fd >= 0) {
                short events = POLLIN | (roda_mqtt_want_write(ingest->mqtt) ? POLLOUT : 0);
                mqtt_slot = n;
                fds[n++] = (struct pollfd){.fd = fd, .events = events};
            }
        }
        int ready = poll(fds, n, ingest->mqtt != NULL ? (int)RODA_MQTT_SERVICE_MS : -1);
        if (ready < 0 && errno != EINTR)
            count(ingest, RODA_INPUT_UDP, RODA_INGEST_RECEIVE_ERRORS, 1);
        if (ready > 0 && fds[0].revents != 0)
            break;
        for (uint32_t i = 0; ready > 0 && i < ingest->udp_count; i++)
            if (fds[1 + i].revents != 0)
                drain_udp(ingest, ingest->udp[i]);
        if (ingest->mqtt != NULL) {
            short revents = mqtt_slot != 0 && ready > 0 ? fds[mqtt_slot].revents : 0;
            uint64_t now = roda_now_ns();
            /* Timers need a call every RODA_MQTT_SERVICE_MS even while UDP keeps poll busy. */
            if (revents != 0 ||
                now - ingest->last_mqtt_service_ns >= RODA_MQTT_SERVICE_MS * 1000000ull) {
                ingest->last_mqtt_service_ns = now;
                roda_mqtt_service(ingest->mqtt, (revents & (POLLIN | POLLHUP | POLLERR)) != 0,
                                  (revents & (POLLOUT | POLLHUP | POLLERR)) != 0);
            }
        }
    }
    return NULL;
}

roda_result_t roda_ingest_create(const roda_ingest_config_t *config, roda_journal_t *journal,
                                 roda_ingest_t **out)
{
    if (out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    if (config == NULL || journal == NULL || journal->record_size != sizeof(roda_reading_t) ||
        config->udp_bind_count > RODA_INGEST_MAX_UDP ||
        config->max_message_size > RODA_DECODE_MAX_PAYLOAD)
        return RODA_ERROR_INVALID_ARG;
    roda_ingest_t *ingest = aligned_alloc(RODA_PAD, sizeof(*ingest));
    if (ingest == NULL)
        return RODA_ERROR_NOMEM;
    memset(ingest, 0, sizeof(*ingest));
    ingest->config = *config;
    ingest->journal = journal;
    ingest->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    roda_result_t result = ingest->stop_fd < 0 ? RODA_ERROR_SYSTEM : RODA_SUCCESS;
    if (result == RODA_SUCCESS)
        result = roda_devices_create(config->max_devices, &ingest->devices);
    for (uint32_t i = 0; result == RODA_SUCCESS && i < config->udp_bind_count; i++) {
        result = roda_udp_open(config->udp_bind[i], config->udp_receive_buffer,
                               config->udp_max_datagram, config->udp_batch, &ingest->udp[i]);
        if (result == RODA_SUCCESS)
            ingest->udp_count++;
    }
    if (result == RODA_SUCCESS && config->mqtt.host != NULL)
        result = roda_mqtt_create(&config->mqtt, on_mqtt_message, ingest, &ingest->mqtt);
    if (result != RODA_SUCCESS) {
        int saved = errno;
        roda_ingest_destroy(ingest);
        errno = saved;
        return result;
    }
    *out = ingest;
    return RODA_SUCCESS;
}

roda_result_t roda_ingest_start(roda_ingest_t *ingest)
{
    if (ingest == NULL)
        return RODA_ERROR_INVALID_ARG;
    if (ingest->started)
        return RODA_ERROR_STATE;
    if (pthread_create(&ingest->thread, NULL, run, ingest) != 0)
        return RODA_ERROR_SYSTEM;
    ingest->started = 1;
    return RODA_SUCCESS;
}

void roda_ingest_stop(roda_ingest_t *ingest)
{
    if (ingest == NULL || !ingest->started)
        return;
    uint64_t one = 1;
    while (write(ingest->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
        continue;
    pthread_join(ingest->thread, NULL);
    ingest->started = 0;
    uint64_t drained;
    (void)!read(ingest->stop_fd, &drained, sizeof(drained));
}

void roda_ingest_destroy(roda_ingest_t *ingest)
{
    if (ingest == NULL)
        return;
    roda_ingest_stop(ingest);
    roda_mqtt_destroy(ingest->mqtt);
    for (uint32_t i = 0; i < ingest->udp_count; i++)
        roda_udp_close(ingest->udp[i]);
    roda_devices_destroy(ingest->devices);
    if (ingest->stop_fd >= 0)
        close(ingest->stop_fd);
    free(ingest);
}

int roda_ingest_connected(const roda_ingest_t *ingest)
{
    return ingest->mqtt == NULL || roda_mqtt_connected(ingest->mqtt);
}

void roda_ingest_stats(const roda_ingest_t *ingest, roda_ingest_stats_t *stats)
{
    for (int input = 0; input < RODA_INPUT_COUNT; input++)
        for (int i = 0; i < RODA_INGEST_COUNTER_COUNT; i++)
            stats->counters[input][i] =
                atomic_load_explicit(&ingest->counters[input].value[i], memory_order_relaxed);
    if (ingest->mqtt != NULL) {
        roda_mqtt_counters_t mqtt;
        roda_mqtt_counters(ingest->mqtt, &mqtt);
        stats->counters[RODA_INPUT_MQTT][RODA_INGEST_CONNECTS] = mqtt.connects;
        stats->counters[RODA_INPUT_MQTT][RODA_INGEST_CONNECT_FAILURES] = mqtt.connect_failures;
        stats->counters[RODA_INPUT_MQTT][RODA_INGEST_DISCONNECTS] = mqtt.disconnects;
    }
    stats->mqtt_connected = roda_ingest_connected(ingest);
    stats->devices = roda_devices_count(ingest->devices);
    stats->udp_receive_buffer = 0;
    for (uint32_t i = 0; i < ingest->udp_count; i++) {
        uint32_t granted = roda_udp_receive_buffer(ingest->udp[i]);
        if (i == 0 || granted < stats->udp_receive_buffer)
            stats->udp_receive_buffer = granted;
    }
}

const roda_devices_t *roda_ingest_devices(const roda_ingest_t *ingest)
{
    return ingest->devices;
}

uint16_t roda_ingest_udp_port(const roda_ingest_t *ingest, uint32_t i)
{
    return i < ingest->udp_count ? roda_udp_port(ingest->udp[i]) : 0;
}
