/* roda_fleet.c - roda-fleet, the load tool: simulates a fleet of devices sending batched
 * readings (roda_encode) over UDP and/or MQTT, at a given rate or flat out, bounded by a count
 * and a time, with injected anomalies: spikes, stuck values, silent sensors. A lost broker
 * connection is re-made (libmosquitto's thread, every second) while sending goes on; the run
 * stops at --seconds whatever the broker does, then waits at most 1 s for QoS 1
 * acknowledgements; messages lost with a connection or never acknowledged are send errors.
 *
 * Each device has `sensors` sensors (id = offset + device * 1000 + sensor; --sensor-offset, 0 by
 * default, gives runs their own sensors) following a slow sine wave with noise; each message
 * carries `batch` readings of one device, the device's next sequence number and its boot epoch.
 * Devices take turns; with both inputs, even devices use UDP, odd ones MQTT.
 * device_time_us is the sender's CLOCK_REALTIME, so a receiver on the same host can measure
 * end-to-end latency. Ends with one line:
 * RESULT name=fleet messages=... readings=... seconds=... events_per_sec=... messages_per_sec=...
 *
 * --json sends each batch as one JSON object instead (the gateway's json format): the device
 * name as "device" (unless --device-in-topic-only), the batch's time in epoch milliseconds as
 * "ts", and each reading as "s<N>": value, N the sensor's number in its device plus
 * --sensor-offset (the value as the shortest text that reads back as the same double). JSON
 * carries no sequence, so the gateway cannot count JSON batches lost upstream.
 *
 * --sparkplug makes each device a Sparkplug B edge node (the gateway's sparkplug.b format, on
 * spBv1.0/<topic prefix>/...): its first message is an NBIRTH (seq 0, bdSeq 0, and every sensor
 * as metric "s<N>" of datatype Double with alias N + 1 and its current value), each later one an
 * NDATA of the batch's readings by alias only, seq + 1 modulo 256; the payload's timestamp is
 * the batch's time. The NBIRTH's readings (bdSeq too) count as sent readings. Encoded with the
 * gateway's own roda_sparkplug_encode (the tests use an independent encoder).
 */
#include <getopt.h>
#include <math.h>
#include <mosquitto.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "roda_encode.h"
#include "roda_idle.h"
#include "roda_sparkplug.h"

#define MAX_BATCH 1024u
#define UDP_BURST 32u
#define PAYLOAD_MAX 65507u
/* Messages handed to libmosquitto but not yet written (QoS 0) or acknowledged (QoS 1). */
#define MQTT_WINDOW 2000
/* After --seconds, how long QoS 1 acknowledgements are waited for at most. */
#define MQTT_DRAIN_NS 1000000000ull

typedef struct options {
    uint32_t devices, sensors, batch;
    double rate; /* messages per second, all devices together; 0: flat out */
    uint64_t count;
    double seconds;
    const char *udp, *mqtt;
    int qos;
    const char *topic_prefix, *device_prefix;
    int device_in_payload;
    int json;      /* payloads as JSON objects, not roda.v1 */
    int sparkplug; /* payloads as Sparkplug B NBIRTH and NDATA */
    double spike, stuck;
    uint32_t silent;
    uint64_t seed, boot_epoch;
    uint64_t sensor_offset; /* added to every sensor id */
} options_t;

typedef struct sensor_state {
    double phase;
    int stuck;
    double last;
} sensor_state_t;

static volatile sig_atomic_t stopping;
/* MQTT messages published (main thread), and written (QoS 0) or acknowledged (QoS 1), or lost
 * with a connection (libmosquitto's thread). */
static _Atomic uint64_t mqtt_published;
static _Atomic uint64_t mqtt_done;
static _Atomic uint64_t mqtt_lost;
static int mqtt_qos;
/* Set by libmosquitto's thread on CONNACK, cleared when the connection is lost: the main thread
 * publishes only in between, so no PUBLISH is queued on a socket whose CONNECT is not yet sent. */
static atomic_bool mqtt_connected;

static void on_signal(int signal_number)
{
    (void)signal_number;
    stopping = 1;
}

static void on_publish(struct mosquitto *mosq, void *object, int mid)
{
    (void)mosq;
    (void)object;
    (void)mid;
    atomic_fetch_add_explicit(&mqtt_done, 1, memory_order_relaxed);
}

/* A lost connection drops the QoS 0 messages not yet written (libmosquitto resends QoS 1 ones
 * after the reconnect, which its thread makes on its own). */
static void on_disconnect(struct mosquitto *mosq, void *object, int reason)
{
    (void)mosq;
    (void)object;
    atomic_store(&mqtt_connected, false);
    if (reason != 0)
        fprintf(stderr, "roda-fleet: mqtt disconnected (%s); reconnecting\n",
                mosquitto_strerror(reason));
    if (mqtt_qos > 0)
        return;
    uint64_t published = atomic_load(&mqtt_published);
    uint64_t done = atomic_exchange(&mqtt_done, published);
    if (published > done)
        atomic_fetch_add(&mqtt_lost, published - done);
}

static void on_connect(struct mosquitto *mosq, void *object, int reason)
{
    (void)mosq;
    (void)object;
    static int connects;
    if (reason != 0)
        return;
    if (connects++ > 0)
        fprintf(stderr, "roda-fleet: mqtt reconnected\n");
    atomic_store(&mqtt_connected, true);
}

/* Published messages neither done nor lost (negative when resent ones were acknowledged twice).
 */
static int64_t mqtt_outstanding(void)
{
    return (int64_t)(atomic_load(&mqtt_published) - atomic_load(&mqtt_done));
}

/* Whether the main thread may publish now: connected, with room in the window. */
static bool mqtt_ready(void)
{
    return atomic_load(&mqtt_connected) && mqtt_outstanding() < MQTT_WINDOW;
}

static uint64_t random_next(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static double random_unit(uint64_t *state)
{
    return (double)(random_next(state) >> 11) / 9007199254740992.0;
}

static int64_t realtime_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static void usage(void)
{
    fprintf(stderr, "usage: roda-fleet [--udp HOST:PORT] [--mqtt HOST:PORT] [--qos 0|1]\n"
                    "  [--devices N] [--sensors N] [--batch N] [--rate MSG_PER_S (0 flat out)]\n"
                    "  [--count MESSAGES] [--seconds S] [--topic-prefix P] [--device-prefix P]\n"
                    "  [--device-in-topic-only] [--spike PROB] [--stuck PROB] [--silent N]\n"
                    "  [--seed N] [--boot-epoch N] [--sensor-offset N] [--json | --sparkplug]\n");
    exit(2);
}

/* A batch as one JSON object (see --json above) into `payload`; 0 when it does not fit. */
static size_t encode_json(const roda_encode_batch_t *batch, uint32_t device, uint8_t *payload,
                          size_t size)
{
    char *out = (char *)payload;
    int64_t ms = batch->reading_count > 0 ? batch->readings[0].time_us / 1000 : 0;
    int n = batch->device != NULL ? snprintf(out, size, "{\"device\":\"%s\",\"ts\":%lld",
                                             batch->device, (long long)ms)
                                  : snprintf(out, size, "{\"ts\":%lld", (long long)ms);
    size_t length = n > 0 ? (size_t)n : size;
    for (uint32_t i = 0; i < batch->reading_count && length < size; i++) {
        const roda_v1_Reading *r = &batch->readings[i];
        /* %.17g reads back as the same double; shorter when %.15g already does. */
        char value[32];
        snprintf(value, sizeof value, "%.15g", r->value);
        if (strtod(value, NULL) != r->value)
            snprintf(value, sizeof value, "%.17g", r->value);
        n = snprintf(out + length, size - length, ",\"s%llu\":%s",
                     (unsigned long long)(r->sensor_id - (uint64_t)device * 1000u), value);
        length += n > 0 ? (size_t)n : size;
    }
    if (length + 2 > size)
        return 0;
    out[length++] = '}';
    return length;
}

/* A batch as a Sparkplug B payload (see --sparkplug above) into `payload`: an NBIRTH of every
 * reading (named, aliased, typed) after the bdSeq metric when `birth`, else an NDATA by alias;
 * 0 when it does not fit. */
static size_t encode_sparkplug(const roda_encode_batch_t *batch, uint32_t device, int birth,
                               uint8_t *payload, size_t size)
{
    static roda_sparkplug_metric_t metrics[MAX_BATCH + 1];
    static char names[MAX_BATCH][24];
    uint32_t count = 0;
    if (birth)
        metrics[count++] =
            (roda_sparkplug_metric_t){.name = RODA_SPARKPLUG_BDSEQ_METRIC,
                                      .name_length = sizeof(RODA_SPARKPLUG_BDSEQ_METRIC) - 1,
                                      .datatype = RODA_SPARKPLUG_UINT64,
                                      .has = RODA_SPARKPLUG_HAS_NAME | RODA_SPARKPLUG_HAS_DATATYPE,
                                      .field = RODA_SPARKPLUG_FIELD_LONG};
    for (uint32_t i = 0; i < batch->reading_count; i++) {
        const roda_v1_Reading *r = &batch->readings[i];
        uint64_t number = r->sensor_id - (uint64_t)device * 1000u, bits;
        memcpy(&bits, &r->value, sizeof bits);
        roda_sparkplug_metric_t *m = &metrics[count++];
        *m = (roda_sparkplug_metric_t){.alias = number + 1,
                                       .has = RODA_SPARKPLUG_HAS_ALIAS,
                                       .field = RODA_SPARKPLUG_FIELD_DOUBLE,
                                       .raw = bits};
        if (birth) {
            int n = snprintf(names[i], sizeof names[i], "s%llu", (unsigned long long)number);
            m->name = names[i];
            m->name_length = n > 0 ? (size_t)n : 0;
            m->datatype = RODA_SPARKPLUG_DOUBLE;
            m->has |= RODA_SPARKPLUG_HAS_NAME | RODA_SPARKPLUG_HAS_DATATYPE;
        }
    }
    int64_t ms = batch->reading_count > 0 ? batch->readings[0].time_us / 1000 : 0;
    return roda_sparkplug_encode(payload, size, (uint64_t)ms, 1, (batch->sequence - 1) % 256,
                                 metrics, count);
}

static int split_host(const char *address, char *host, size_t size, int *port)
{
    const char *colon = strrchr(address, ':');
    if (colon == NULL || (size_t)(colon - address) >= size)
        return -1;
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    *port = atoi(colon + 1);
    return 0;
}

static int open_udp(const char *address)
{
    char host[256], port[16];
    int port_number;
    if (split_host(address, host, sizeof(host), &port_number) != 0)
        return -1;
    snprintf(port, sizeof(port), "%d", port_number);
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *info;
    if (host[0] == '[') { /* [v6] */
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    if (getaddrinfo(host, port, &hints, &info) != 0)
        return -1;
    int fd = socket(info->ai_family, SOCK_DGRAM, 0);
    if (fd >= 0 && connect(fd, info->ai_addr, info->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(info);
    int size = 8 << 20;
    if (fd >= 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    return fd;
}

static struct mosquitto *open_mqtt(const char *address)
{
    char host[256];
    int port;
    if (split_host(address, host, sizeof(host), &port) != 0)
        return NULL;
    mosquitto_lib_init();
    struct mosquitto *mosq = mosquitto_new(NULL, true, NULL);
    if (mosq == NULL)
        return NULL;
    mosquitto_publish_callback_set(mosq, on_publish);
    mosquitto_disconnect_callback_set(mosq, on_disconnect);
    mosquitto_connect_callback_set(mosq, on_connect);
    (void)mosquitto_int_option(mosq, MOSQ_OPT_SEND_MAXIMUM, 65535);
    (void)mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
    (void)mosquitto_max_inflight_messages_set(mosq, 1000);
    if (mosquitto_connect(mosq, host, port, 30) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(mosq) != MOSQ_ERR_SUCCESS) {
        mosquitto_destroy(mosq);
        return NULL;
    }
    return mosq;
}

/* The next reading of one sensor, with the anomalies applied. */
static double sensor_value(const options_t *o, sensor_state_t *s, double t, uint64_t *random)
{
    if (s->stuck)
        return s->last;
    double value = 20.0 + 5.0 * sin(t / 60.0 + s->phase) + (random_unit(random) - 0.5) * 0.2;
    if (o->spike > 0 && random_unit(random) < o->spike)
        value += 100.0;
    if (o->stuck > 0 && random_unit(random) < o->stuck)
        s->stuck = 1;
    s->last = value;
    return value;
}

int main(int argc, char **argv)
{
    options_t o = {.devices = 10,
                   .sensors = 4,
                   .batch = 8,
                   .seconds = 10,
                   .qos = 1,
                   .topic_prefix = "roda",
                   .device_prefix = "dev",
                   .device_in_payload = 1,
                   .seed = 1,
                   .boot_epoch = 0};
    static const struct option long_options[] = {{"udp", required_argument, 0, 'u'},
                                                 {"mqtt", required_argument, 0, 'm'},
                                                 {"qos", required_argument, 0, 'q'},
                                                 {"devices", required_argument, 0, 'd'},
                                                 {"sensors", required_argument, 0, 's'},
                                                 {"batch", required_argument, 0, 'b'},
                                                 {"rate", required_argument, 0, 'r'},
                                                 {"count", required_argument, 0, 'n'},
                                                 {"seconds", required_argument, 0, 't'},
                                                 {"topic-prefix", required_argument, 0, 'T'},
                                                 {"device-prefix", required_argument, 0, 'P'},
                                                 {"device-in-topic-only", no_argument, 0, 'O'},
                                                 {"spike", required_argument, 0, 'S'},
                                                 {"stuck", required_argument, 0, 'K'},
                                                 {"silent", required_argument, 0, 'Z'},
                                                 {"seed", required_argument, 0, 'e'},
                                                 {"boot-epoch", required_argument, 0, 'E'},
                                                 {"sensor-offset", required_argument, 0, 'o'},
                                                 {"json", no_argument, 0, 'j'},
                                                 {"sparkplug", no_argument, 0, 'B'},
                                                 {0, 0, 0, 0}};
    int option;
    while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (option) {
        case 'u':
            o.udp = optarg;
            break;
        case 'm':
            o.mqtt = optarg;
            break;
        case 'q':
            o.qos = atoi(optarg);
            break;
        case 'd':
            o.devices = (uint32_t)atoi(optarg);
            break;
        case 's':
            o.sensors = (uint32_t)atoi(optarg);
            break;
        case 'b':
            o.batch = (uint32_t)atoi(optarg);
            break;
        case 'r':
            o.rate = atof(optarg);
            break;
        case 'n':
            o.count = strtoull(optarg, NULL, 10);
            break;
        case 't':
            o.seconds = atof(optarg);
            break;
        case 'T':
            o.topic_prefix = optarg;
            break;
        case 'P':
            o.device_prefix = optarg;
            break;
        case 'O':
            o.device_in_payload = 0;
            break;
        case 'S':
            o.spike = atof(optarg);
            break;
        case 'K':
            o.stuck = atof(optarg);
            break;
        case 'Z':
            o.silent = (uint32_t)atoi(optarg);
            break;
        case 'e':
            o.seed = strtoull(optarg, NULL, 10);
            break;
        case 'E':
            o.boot_epoch = strtoull(optarg, NULL, 10);
            break;
        case 'o':
            o.sensor_offset = strtoull(optarg, NULL, 10);
            break;
        case 'j':
            o.json = 1;
            break;
        case 'B':
            o.sparkplug = 1;
            break;
        default:
            usage();
        }
    }
    if ((o.udp == NULL && o.mqtt == NULL) || o.devices == 0 || o.sensors == 0 || o.batch == 0 ||
        o.batch > MAX_BATCH || o.silent >= o.sensors || o.qos < 0 || o.qos > 1 || o.seconds <= 0 ||
        (o.sparkplug && (o.json || o.udp != NULL || o.sensors > MAX_BATCH)))
        usage();
    if (o.boot_epoch == 0)
        o.boot_epoch = (uint64_t)time(NULL);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    int udp = -1;
    struct mosquitto *mqtt = NULL;
    if (o.udp != NULL && (udp = open_udp(o.udp)) < 0) {
        fprintf(stderr, "roda-fleet: cannot reach %s\n", o.udp);
        return 1;
    }
    if (o.mqtt != NULL && (mqtt = open_mqtt(o.mqtt)) == NULL) {
        fprintf(stderr, "roda-fleet: cannot connect to %s\n", o.mqtt);
        return 1;
    }
    sensor_state_t *sensors = calloc((size_t)o.devices * o.sensors, sizeof(*sensors));
    uint64_t *sequences = calloc(o.devices, sizeof(*sequences));
    static roda_v1_Reading readings[MAX_BATCH];
    /* One buffer per datagram of a burst, and the last one for MQTT (copied by mosquitto_publish).
     */
    static uint8_t payloads[UDP_BURST + 1][PAYLOAD_MAX];
    struct mmsghdr messages[UDP_BURST];
    struct iovec iov[UDP_BURST];
    if (sensors == NULL || sequences == NULL) {
        free(sensors);
        free(sequences);
        return 1;
    }
    uint64_t random = o.seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < (size_t)o.devices * o.sensors; i++)
        sensors[i].phase = random_unit(&random) * 6.28;

    uint64_t start = roda_now_ns();
    uint64_t end = start + (uint64_t)(o.seconds * 1e9);
    uint64_t sent = 0, readings_sent = 0, send_errors = 0;
    mqtt_qos = o.qos;
    uint32_t device = 0, burst = 0;
    while (!stopping && (o.count == 0 || sent < o.count)) {
        uint64_t now = roda_now_ns();
        if (now >= end)
            break;
        if (o.rate > 0 && (double)(now - start) * o.rate < (double)sent * 1e9) {
            struct timespec pause = {.tv_nsec = 20000};
            nanosleep(&pause, NULL);
            continue;
        }
        /* One batch of `device`: its sensors in turn, skipping the silent ones; a Sparkplug
         * node's first message is its NBIRTH, of every sensor. */
        int birth = o.sparkplug && sequences[device] == 0;
        uint32_t talking = birth ? o.sensors : o.sensors - o.silent;
        uint32_t first = birth ? 0 : o.silent, count = birth ? o.sensors : o.batch;
        uint64_t s0 = sequences[device] * o.batch;
        int64_t t_us = realtime_us();
        for (uint32_t i = 0; i < count; i++) {
            uint32_t sensor = first + (uint32_t)((s0 + i) % talking);
            sensor_state_t *state = &sensors[(size_t)device * o.sensors + sensor];
            readings[i] =
                (roda_v1_Reading){.sensor_id = o.sensor_offset + (uint64_t)device * 1000 + sensor,
                                  .value = sensor_value(&o, state, (double)t_us / 1e6, &random),
                                  .time_us = t_us,
                                  .quality = 0};
        }
        char name[64];
        snprintf(name, sizeof(name), "%s%u", o.device_prefix, device);
        roda_encode_batch_t batch = {.device = o.device_in_payload ? name : NULL,
                                     .sequence = ++sequences[device],
                                     .boot_epoch = o.boot_epoch,
                                     .readings = readings,
                                     .reading_count = count};
        int use_udp = udp >= 0 && (mqtt == NULL || device % 2 == 0);
        uint8_t *payload = payloads[use_udp ? burst : UDP_BURST];
        size_t size = o.json        ? encode_json(&batch, device, payload, PAYLOAD_MAX)
                      : o.sparkplug ? encode_sparkplug(&batch, device, birth, payload, PAYLOAD_MAX)
                                    : roda_encode(&batch, payload, PAYLOAD_MAX);
        if (size == 0) {
            fprintf(stderr, "roda-fleet: batch too large to encode\n");
            return 1;
        }
        if (use_udp) {
            iov[burst] = (struct iovec){.iov_base = payload, .iov_len = size};
            messages[burst] =
                (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[burst], .msg_iovlen = 1}};
            burst++;
        } else {
            while (!mqtt_ready() && !stopping && roda_now_ns() < end) {
                struct timespec pause = {.tv_nsec = 20000};
                nanosleep(&pause, NULL);
            }
            if (!mqtt_ready())
                break; /* stopped, or --seconds ran out, disconnected or with the window full */
            char topic[256];
            if (o.sparkplug)
                snprintf(topic, sizeof(topic), "spBv1.0/%s/%s/%s", o.topic_prefix,
                         birth ? "NBIRTH" : "NDATA", name);
            else
                snprintf(topic, sizeof(topic), "%s/%s/readings", o.topic_prefix, name);
            if (mosquitto_publish(mqtt, NULL, topic, (int)size, payload, o.qos, false) ==
                MOSQ_ERR_SUCCESS)
                atomic_fetch_add(&mqtt_published, 1);
            else
                send_errors++;
        }
        sent++;
        readings_sent += count + (uint32_t)birth; /* an NBIRTH's bdSeq is a reading too */
        device = (device + 1) % o.devices;
        /* Flush the UDP burst when full, at the end, or when paced and the next message is not
         * due yet: a paced sender behind its schedule sends what is due in one call, so the rate
         * asked for is the rate sent, each message at most one burst late. */
        bool ahead = o.rate > 0 && (double)(roda_now_ns() - start) * o.rate < (double)sent * 1e9;
        if (burst > 0 && (burst == UDP_BURST || ahead || (o.count && sent == o.count))) {
            int done = sendmmsg(udp, messages, burst, 0);
            if (done < (int)burst)
                send_errors += burst - (uint32_t)(done < 0 ? 0 : done);
            burst = 0;
        }
    }
    if (burst > 0) {
        int done = sendmmsg(udp, messages, burst, 0);
        if (done < (int)burst)
            send_errors += burst - (uint32_t)(done < 0 ? 0 : done);
    }
    double seconds = (double)(roda_now_ns() - start) / 1e9;
    if (mqtt != NULL) {
        /* Let the window drain so that QoS 1 messages are acknowledged: until --seconds ends,
         * and MQTT_DRAIN_NS more. */
        uint64_t drain_end = end + MQTT_DRAIN_NS;
        while (mqtt_outstanding() > 0 && roda_now_ns() < drain_end) {
            struct timespec pause = {.tv_nsec = 1000000};
            nanosleep(&pause, NULL);
        }
        int64_t undelivered = mqtt_outstanding();
        send_errors += (undelivered > 0 ? (uint64_t)undelivered : 0) + atomic_load(&mqtt_lost);
        mosquitto_disconnect(mqtt);
        mosquitto_loop_stop(mqtt, false);
        mosquitto_destroy(mqtt);
        mosquitto_lib_cleanup();
    }
    if (udp >= 0)
        close(udp);
    free(sensors);
    free(sequences);
    printf("RESULT name=fleet messages=%llu readings=%llu send_errors=%llu seconds=%.3f "
           "events_per_sec=%.0f messages_per_sec=%.0f\n",
           (unsigned long long)sent, (unsigned long long)readings_sent,
           (unsigned long long)send_errors, seconds, (double)readings_sent / seconds,
           (double)sent / seconds);
    return send_errors == 0 ? 0 : 3;
}
