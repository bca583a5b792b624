/* roda_ingest_bench.c - the ingest benchmark: readings/s accepted end to end into the input
 * journal over UDP and MQTT (QoS 0 and 1), batch sizes 1 and 32, with loss and p50/p99 ingest
 * latency, next to the ceiling of the same path without Roda measured in the same run (the same
 * roda-fleet sender into a plain recvmmsg counter / a plain libmosquitto subscriber).
 *
 * It starts its own mosquitto on a free 127.0.0.1 port (max_queued_messages raised so the broker
 * never drops silently) and runs roda-fleet (next to this program unless --fleet) flat out for
 * --seconds per measurement, then paced (--paced-rate, batch 32) for latency without queues.
 * Latency: the reader's CLOCK_REALTIME minus the reading's device
 * timestamp (the sender's CLOCK_REALTIME when it encoded the batch), microsecond resolution.
 * First the decoders alone: roda.v1 against nanopb's pb_decode, then JSON (decode_json). One
 * RESULT line per measurement. */
#include <arpa/inet.h>
#include <libgen.h>
#include <limits.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pb_decode.h>

#include "roda_v1_decode.h"
#include "roda_encode.h"
#include "roda_ingest.h"
#include "roda_input_udp.h"
#include "roda_json_decode.h"
#include "roda_sensor_names.h"

#define LATENCY_SLOTS (1u << 20) /* 1 us buckets up to ~1 s; slower readings land in the last */

typedef struct receiver {
    _Atomic uint64_t messages;
    _Atomic uint64_t readings;
    _Atomic int stop;
    uint64_t first_ns, last_ns;
    int fd; /* ceiling UDP */
    roda_journal_reader_t reader;
    uint32_t *latency; /* Roda: histogram of end-to-end latency in microseconds */
} receiver_t;

static char fleet_path[PATH_MAX];
static const char *mosquitto_path = "mosquitto";
static double seconds = 2.0;
static double paced_rate = 2000; /* messages/s of the paced (latency) measurements */
static uint16_t broker_port;
static pid_t broker_pid;
static char broker_dir[] = "/tmp/roda-bench-XXXXXX";

static void sleep_ms(long ms)
{
    struct timespec pause = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

static uint16_t free_port(int type)
{
    int fd = socket(AF_INET, type, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t length = sizeof(address);
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 ||
        getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
        perror("free_port");
        exit(1);
    }
    close(fd);
    return ntohs(address.sin_port);
}

static void start_broker(void)
{
    if (mkdtemp(broker_dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    char config[PATH_MAX];
    snprintf(config, sizeof(config), "%s/mosquitto.conf", broker_dir);
    FILE *file = fopen(config, "w");
    broker_port = free_port(SOCK_STREAM);
    if (file == NULL) {
        perror(config);
        exit(1);
    }
    /* max_queued_messages: mosquitto 2.0's default (1000) drops QoS 1 messages silently for a
     * subscriber that falls behind; the benchmark must see every loss in its own counters.
     * set_tcp_nodelay: without it the broker's Nagle delays QoS 0 deliveries by tens of ms. */
    fprintf(file,
            "user %s\nlistener %u 127.0.0.1\nallow_anonymous true\n"
            "max_queued_messages 10000000\nmax_inflight_messages 0\nset_tcp_nodelay true\n"
            "log_type error\n",
            getuid() == 0 ? "root" : "nobody", broker_port);
    fclose(file);
    broker_pid = fork();
    if (broker_pid == 0) {
        execlp(mosquitto_path, mosquitto_path, "-c", config, (char *)NULL);
        _exit(127);
    }
    sleep_ms(300);
}

static void stop_broker(void)
{
    if (broker_pid > 0) {
        kill(broker_pid, SIGTERM);
        waitpid(broker_pid, NULL, 0);
    }
    char config[PATH_MAX];
    snprintf(config, sizeof(config), "%s/mosquitto.conf", broker_dir);
    unlink(config);
    rmdir(broker_dir);
}

/* Runs roda-fleet (rate 0: flat out); returns the messages it sent. */
static uint64_t run_fleet(const char *target, int qos, uint32_t batch, double rate)
{
    char command[PATH_MAX + 256];
    snprintf(command, sizeof(command),
             "%s %s --qos %d --devices 100 --sensors 32 --batch %u --seconds %.2f --rate %.0f",
             fleet_path, target, qos, batch, seconds, rate);
    FILE *pipe = popen(command, "r");
    if (pipe == NULL) {
        perror("popen");
        exit(1);
    }
    char line[512];
    unsigned long long sent = 0;
    while (fgets(line, sizeof(line), pipe) != NULL) {
        const char *field = strstr(line, "messages=");
        if (strncmp(line, "RESULT", 6) == 0 && field != NULL)
            sent = strtoull(field + 9, NULL, 10);
    }
    if (pclose(pipe) != 0)
        fprintf(stderr, "bench: roda-fleet reported send errors\n");
    return sent;
}

/* Waits until the receiver's count has not moved for 300 ms (10 s at most). */
static void wait_drained(receiver_t *receiver)
{
    uint64_t before = UINT64_MAX;
    for (int i = 0; i < 33; i++) {
        uint64_t now = atomic_load(&receiver->messages) + atomic_load(&receiver->readings);
        if (now == before)
            return;
        before = now;
        sleep_ms(300);
    }
}

static void note_arrival(receiver_t *receiver)
{
    uint64_t now = roda_now_ns();
    if (receiver->first_ns == 0)
        receiver->first_ns = now;
    receiver->last_ns = now;
}

static void *udp_ceiling(void *argument)
{
    receiver_t *receiver = argument;
    enum { BATCH = 64, SIZE = 2048 };
    static uint8_t buffers[BATCH][SIZE];
    struct mmsghdr messages[BATCH];
    struct iovec iov[BATCH];
    while (!atomic_load(&receiver->stop)) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){.iov_base = buffers[i], .iov_len = SIZE};
            messages[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        int n = recvmmsg(receiver->fd, messages, BATCH, 0, NULL);
        if (n > 0) {
            note_arrival(receiver);
            atomic_fetch_add(&receiver->messages, (uint64_t)n);
        }
    }
    return NULL;
}

static void on_ceiling_message(struct mosquitto *mosq, void *object,
                               const struct mosquitto_message *message)
{
    (void)mosq;
    (void)message;
    receiver_t *receiver = object;
    note_arrival(receiver);
    atomic_fetch_add(&receiver->messages, 1);
}

static void *roda_reader(void *argument)
{
    receiver_t *receiver = argument;
    roda_idle_config_t idle = RODA_IDLE_DEFAULT;
    roda_idle_state_t state = {0};
    while (!atomic_load(&receiver->stop)) {
        roda_journal_view_t view;
        uint64_t n = roda_journal_peek(&receiver->reader, 4096, &view);
        if (n == 0) {
            roda_journal_reader_wait(&receiver->reader, &idle, &state);
            continue;
        }
        roda_idle_reset(&state);
        note_arrival(receiver);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t now_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
        for (int run = 0; run < 2; run++) {
            const roda_reading_t *records = view.run[run];
            for (uint64_t i = 0; i < view.run_count[run]; i++) {
                int64_t latency = now_us - records[i].device_time_us;
                if (latency < 0)
                    latency = 0;
                if (latency >= (int64_t)LATENCY_SLOTS)
                    latency = LATENCY_SLOTS - 1;
                receiver->latency[latency]++;
            }
        }
        roda_journal_consume(&receiver->reader, n);
        atomic_fetch_add(&receiver->readings, n);
    }
    return NULL;
}

static uint64_t percentile(const uint32_t *histogram, uint64_t total, double fraction)
{
    uint64_t target = (uint64_t)((double)total * fraction), seen = 0;
    for (uint64_t i = 0; i < LATENCY_SLOTS; i++) {
        seen += histogram[i];
        if (seen > target)
            return i;
    }
    return LATENCY_SLOTS - 1;
}

static double per_second(const receiver_t *receiver, uint64_t count)
{
    double span = (double)(receiver->last_ns - receiver->first_ns) / 1e9;
    return span > 0 ? (double)count / span : 0;
}

/* The path without Roda: messages per second a plain receiver gets from the same sender. */
static double ceiling(const char *path, int qos, uint32_t batch, uint64_t *sent, uint64_t *got)
{
    receiver_t receiver = {0};
    pthread_t thread = 0;
    struct mosquitto *mosq = NULL;
    char target[64];
    if (strcmp(path, "udp") == 0) {
        receiver.fd = socket(AF_INET, SOCK_DGRAM, 0);
        int size = 32 << 20;
        (void)setsockopt(receiver.fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
        struct timeval timeout = {.tv_usec = 100000};
        (void)setsockopt(receiver.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
        socklen_t length = sizeof(address);
        if (bind(receiver.fd, (struct sockaddr *)&address, sizeof(address)) != 0 ||
            getsockname(receiver.fd, (struct sockaddr *)&address, &length) != 0) {
            perror("ceiling bind");
            exit(1);
        }
        snprintf(target, sizeof(target), "--udp 127.0.0.1:%u", ntohs(address.sin_port));
        pthread_create(&thread, NULL, udp_ceiling, &receiver);
    } else {
        mosq = mosquitto_new(NULL, true, &receiver);
        mosquitto_message_callback_set(mosq, on_ceiling_message);
        if (mosquitto_connect(mosq, "127.0.0.1", broker_port, 30) != MOSQ_ERR_SUCCESS ||
            mosquitto_subscribe(mosq, NULL, "roda/+/readings", qos) != MOSQ_ERR_SUCCESS ||
            mosquitto_loop_start(mosq) != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "bench: ceiling subscriber cannot connect\n");
            exit(1);
        }
        sleep_ms(200);
        snprintf(target, sizeof(target), "--mqtt 127.0.0.1:%u", broker_port);
    }
    *sent = run_fleet(target, qos, batch, 0);
    wait_drained(&receiver);
    atomic_store(&receiver.stop, 1);
    if (mosq != NULL) {
        mosquitto_disconnect(mosq);
        mosquitto_loop_stop(mosq, false);
        mosquitto_destroy(mosq);
    } else {
        pthread_join(thread, NULL);
        close(receiver.fd);
    }
    *got = atomic_load(&receiver.messages);
    return per_second(&receiver, *got);
}

/* One measurement. rate 0: flat out, next to the ceiling; else paced at `rate` messages/s (the
 * latency of a path that is not saturated; flat out, latency is the depth of the queues). */
static void measure(const char *path, int qos, uint32_t batch, double rate)
{
    char name[96];
    int length = strcmp(path, "udp") == 0
                     ? snprintf(name, sizeof(name), "ingest_udp_batch%u", batch)
                     : snprintf(name, sizeof(name), "ingest_mqtt_qos%d_batch%u", qos, batch);
    if (rate > 0)
        snprintf(name + length, sizeof(name) - (size_t)length, "_paced%.0f", rate);
    uint64_t ceiling_sent = 0, ceiling_got = 0;
    double ceiling_rate = rate > 0 ? 0 : ceiling(path, qos, batch, &ceiling_sent, &ceiling_got);

    roda_journal_config_t journal_config = {
        .capacity = 1u << 22, .record_size = sizeof(roda_reading_t), .policy = RODA_JOURNAL_REJECT};
    roda_journal_t *journal;
    receiver_t receiver = {0};
    receiver.latency = calloc(LATENCY_SLOTS, sizeof(uint32_t));
    /* The gateway's own defaults, with the one input under test switched on. */
    static roda_config_t config;
    roda_config_defaults(&config);
    char target[64];
    bool udp = strcmp(path, "udp") == 0;
    if (udp) {
        config.udp.enabled = true;
        snprintf(config.udp.binds[0], sizeof config.udp.binds[0], "127.0.0.1:0");
        config.udp.bind_count = 1;
    } else {
        config.mqtt.enabled = true;
        config.mqtt.port = (uint16_t)broker_port;
        config.mqtt.qos = (uint32_t)qos;
        config.mqtt.clean_session = true;
        snprintf(config.mqtt.client_id, sizeof config.mqtt.client_id, "roda-bench");
        snprintf(config.mqtt.topics[0], sizeof config.mqtt.topics[0], "roda/+/readings");
        config.mqtt.topic_count = 1;
        config.mqtt.device_from = RODA_DEVICE_FROM_PAYLOAD;
    }
    uint32_t input_count;
    const roda_input_class_t *const *inputs = roda_inputs(&input_count);
    roda_ingest_t *ingest;
    pthread_t thread = 0;
    char why[256] = "";
    if (receiver.latency == NULL ||
        roda_journal_create(&journal_config, &journal) != RODA_SUCCESS ||
        roda_journal_reader_open(journal, &receiver.reader) != RODA_SUCCESS ||
        roda_ingest_create(config.limits.max_devices, config.limits.max_sensors,
                           RODA_INGEST_MAX_MESSAGE, journal, NULL, &ingest) != RODA_SUCCESS ||
        roda_ingest_add_configured(ingest, inputs, input_count, &config, why, sizeof why) !=
            RODA_SUCCESS ||
        roda_ingest_start(ingest) != RODA_SUCCESS) {
        fprintf(stderr, "bench: cannot set up the ingest %s\n", why);
        exit(1);
    }
    /* The input under test: its index in the table. */
    uint32_t input = 0;
    while (strcmp(roda_ingest_input_name(ingest, input), udp ? "udp" : "mqtt") != 0)
        input++;
    pthread_create(&thread, NULL, roda_reader, &receiver);
    for (int i = 0; i < 100 && !roda_ingest_ready(ingest, why, sizeof why); i++)
        sleep_ms(50);
    if (udp)
        snprintf(target, sizeof(target), "--udp 127.0.0.1:%u",
                 roda_input_udp_port(roda_ingest_input_state(ingest, input), 0));
    else
        snprintf(target, sizeof(target), "--mqtt 127.0.0.1:%u", broker_port);
    uint64_t sent = run_fleet(target, qos, batch, rate);
    wait_drained(&receiver);
    roda_ingest_stop(ingest);
    atomic_store(&receiver.stop, 1);
    roda_journal_close(journal);
    pthread_join(thread, NULL);

    roda_ingest_stats_t stats;
    roda_ingest_stats(ingest, &stats);
    const uint64_t *c = stats.inputs[input].counters;
    uint64_t readings = atomic_load(&receiver.readings);
    double readings_rate = per_second(&receiver, readings);
    double messages_rate = readings_rate / batch;
    uint64_t lost = sent - c[RODA_INGEST_BATCHES];
    printf("%s: ceiling %.0f msg/s (%llu of %llu received); roda %.0f msg/s %.0f readings/s "
           "(%llu of %llu batches, lost_upstream=%llu kernel_drops=%llu journal_full=%llu) "
           "latency p50=%lluus p99=%lluus\n",
           name, ceiling_rate, (unsigned long long)ceiling_got, (unsigned long long)ceiling_sent,
           messages_rate, readings_rate, (unsigned long long)c[RODA_INGEST_BATCHES],
           (unsigned long long)sent, (unsigned long long)c[RODA_INGEST_LOST_UPSTREAM],
           (unsigned long long)c[RODA_INGEST_KERNEL_DROPS],
           (unsigned long long)c[RODA_INGEST_JOURNAL_FULL],
           (unsigned long long)percentile(receiver.latency, readings, 0.50),
           (unsigned long long)percentile(receiver.latency, readings, 0.99));
    printf("RESULT name=%s events_per_sec=%.0f messages_per_sec=%.0f ceiling_messages_per_sec=%.0f "
           "share_of_ceiling=%.2f sent=%llu lost=%llu p50_us=%llu p99_us=%llu\n",
           name, readings_rate, messages_rate, ceiling_rate,
           ceiling_rate > 0 ? messages_rate / ceiling_rate : 0, (unsigned long long)sent,
           (unsigned long long)lost,
           (unsigned long long)percentile(receiver.latency, readings, 0.50),
           (unsigned long long)percentile(receiver.latency, readings, 0.99));
    fflush(stdout);
    roda_ingest_destroy(ingest);
    roda_journal_reader_close(&receiver.reader);
    roda_journal_destroy(journal);
    free(receiver.latency);
}

/* The decoder alone: ns per reading for a 32-reading batch, ours against nanopb's pb_decode
 * of the same bytes (what pass 2 would cost with the generated decoder). */
static void measure_decode(void)
{
    roda_v1_Reading readings[32];
    for (uint32_t i = 0; i < 32; i++)
        readings[i] = (roda_v1_Reading){.sensor_id = 1000 + i,
                                        .value = 20.5 + i,
                                        .time_us = 1700000000000000 + i,
                                        .quality = 0};
    uint8_t payload[4096];
    roda_encode_batch_t batch = {.device = "dev17",
                                 .sequence = 5,
                                 .boot_epoch = 1700000000,
                                 .readings = readings,
                                 .reading_count = 32};
    size_t size = roda_encode(&batch, payload, sizeof(payload));
    enum { ROUNDS = 200000 };
    roda_reading_t records[32];
    roda_decode_drops_t drops = {0};
    uint64_t checksum = 0;
    uint64_t start = roda_now_ns();
    for (int round = 0; round < ROUNDS; round++) {
        roda_decode_batch_t decoded;
        roda_decode_status_t status = roda_v1_decode_open(&decoded, NULL, payload, size);
        checksum += roda_v1_decode_readings(&decoded, records, NULL, 32, &drops, &status);
    }
    double ours = (double)(roda_now_ns() - start) / ROUNDS / 32;
    /* The reference: nanopb decoding the same 32 Reading submessages. */
    start = roda_now_ns();
    for (int round = 0; round < ROUNDS / 10; round++) {
        pb_istream_t stream = pb_istream_from_buffer(payload, size);
        pb_wire_type_t wire_type;
        uint32_t tag;
        bool eof;
        while (pb_decode_tag(&stream, &wire_type, &tag, &eof)) {
            pb_istream_t sub;
            roda_v1_Reading reading;
            if (tag != roda_v1_Batch_readings_tag) {
                if (!pb_skip_field(&stream, wire_type))
                    break;
                continue;
            }
            if (!pb_make_string_substream(&stream, &sub))
                break;
            checksum += pb_decode(&sub, roda_v1_Reading_fields, &reading);
            if (!pb_close_string_substream(&stream, &sub))
                break;
        }
    }
    double nanopb = (double)(roda_now_ns() - start) / ((double)ROUNDS / 10.0) / 32.0;
    printf("decode: %.1f ns/reading (both passes), nanopb pb_decode %.1f ns/reading "
           "(checksum %llu)\n",
           ours, nanopb, (unsigned long long)checksum);
    printf("RESULT name=ingest_decode events_per_sec=%.0f ns_per_reading=%.1f "
           "nanopb_ns_per_reading=%.1f\n",
           1e9 / ours, ours, nanopb);
}

/* The JSON decoder alone: ns per reading for a batch of 16 objects of 4 listed sensors and an
 * epoch-ms timestamp (64 readings, as a gateway publishing mqtt2prometheus-style JSON would send),
 * both passes; then with what the ingest adds per named reading (the id from (device, name),
 * the name registry's lookup). */
static void measure_decode_json(void)
{
    static char payload[8192];
    size_t size = 0;
    payload[size++] = '[';
    for (int row = 0; row < 16; row++)
        size += (size_t)snprintf(payload + size, sizeof payload - size,
                                 "%s{\"temperature\":%.17g,\"humidity\":%.17g,\"pressure\":%.17g,"
                                 "\"battery\":%d,\"ts\":%lld}",
                                 row > 0 ? "," : "", 21.5 + row * 0.123456789, 40.25 + row,
                                 1013.25 - row / 3.0, 90 - row, 1700000000000LL + row * 1000);
    payload[size++] = ']';
    roda_json_settings_t settings = {
        .device_field = "",
        .sensor_fields = {"temperature", "humidity", "pressure", "battery"},
        .sensor_field_count = 4,
        .timestamp_field = "ts",
        .timestamp_format = RODA_JSON_TIME_MS,
        .max_depth = 8};
    size_t scratch_size = RODA_DECODE_SCRATCH_PER_BYTE * sizeof payload + RODA_DECODE_SCRATCH_BASE;
    void *scratch = aligned_alloc(64, scratch_size);
    roda_sensor_names_t *registry = NULL;
    uint32_t restored;
    const char *discarded;
    if (scratch == NULL ||
        roda_sensor_names_create(1024, NULL, &restored, &discarded, &registry) != RODA_SUCCESS) {
        fprintf(stderr, "roda-ingest-bench: no memory for the JSON decoder's scratch\n");
        exit(1);
    }
    roda_decode_context_t context = {
        .settings = &settings, .scratch = scratch, .scratch_size = scratch_size};
    enum { ROUNDS = 20000, READINGS = 64 };
    roda_reading_t records[READINGS];
    const char *names[READINGS];
    roda_decode_drops_t drops = {0};
    uint64_t checksum = 0;
    double ns[2];
    for (int named = 0; named < 2; named++) {
        uint64_t start = roda_now_ns();
        for (int round = 0; round < ROUNDS; round++) {
            roda_decode_batch_t decoded;
            roda_decode_status_t status =
                roda_json_decode_open(&decoded, &context, (const uint8_t *)payload, size);
            uint32_t written =
                roda_json_decode_readings(&decoded, records, names, READINGS, &drops, &status);
            for (uint32_t i = 0; named && i < written; i++) {
                records[i].sensor_id = roda_sensor_name_id("dev17", 5, names[i], strlen(names[i]));
                checksum += roda_sensor_names_intern(registry, records[i].sensor_id, names[i]);
            }
            checksum += written + (uint64_t)records[written - 1].device_time_us;
        }
        ns[named] = (double)(roda_now_ns() - start) / ROUNDS / READINGS;
    }
    printf("decode json: %.1f ns/reading (both passes, %zu-byte batch of %d readings), %.1f with "
           "naming (checksum %llu)\n",
           ns[0], size, READINGS, ns[1], (unsigned long long)checksum);
    printf("RESULT name=decode_json events_per_sec=%.0f ns_per_reading=%.1f "
           "named_events_per_sec=%.0f named_ns_per_reading=%.1f\n",
           1e9 / ns[0], ns[0], 1e9 / ns[1], ns[1]);
    roda_sensor_names_destroy(registry);
    free(scratch);
}

int main(int argc, char **argv)
{
    int mqtt = 1, udp = 1, decode_only = 0;
    char self[PATH_MAX];
    snprintf(self, sizeof(self), "%s", argv[0]);
    snprintf(fleet_path, sizeof(fleet_path), "%s/roda-fleet", dirname(self));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--paced-rate") == 0 && i + 1 < argc)
            paced_rate = atof(argv[++i]);
        else if (strcmp(argv[i], "--fleet") == 0 && i + 1 < argc)
            snprintf(fleet_path, sizeof(fleet_path), "%s", argv[++i]);
        else if (strcmp(argv[i], "--mosquitto") == 0 && i + 1 < argc)
            mosquitto_path = argv[++i];
        else if (strcmp(argv[i], "--udp-only") == 0)
            mqtt = 0;
        else if (strcmp(argv[i], "--mqtt-only") == 0)
            udp = 0;
        else if (strcmp(argv[i], "--decode-only") == 0)
            decode_only = 1;
        else {
            fprintf(
                stderr,
                "usage: roda-ingest-bench [--seconds S] [--paced-rate MSG_PER_S] [--fleet PATH] "
                "[--mosquitto PATH] [--udp-only | --mqtt-only | --decode-only]\n");
            return 2;
        }
    }
    mosquitto_lib_init();
    measure_decode();
    measure_decode_json();
    if (decode_only) {
        mosquitto_lib_cleanup();
        return 0;
    }
    static const uint32_t batches[] = {1, 32};
    for (int b = 0; b < 3; b++) {
        uint32_t batch = b < 2 ? batches[b] : 32;
        double rate = b < 2 ? 0 : paced_rate;
        if (udp)
            measure("udp", 0, batch, rate);
        if (mqtt) {
            start_broker();
            measure("mqtt", 0, batch, rate);
            measure("mqtt", 1, batch, rate);
            stop_broker();
            snprintf(broker_dir, sizeof(broker_dir), "/tmp/roda-bench-XXXXXX");
        }
    }
    mosquitto_lib_cleanup();
    return 0;
}
