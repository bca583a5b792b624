/* ingest_probe.c - runs the ingest alone for real-process tests: configured from the command
 * line, it reads the input journal as a reader and prints one line per reading, announces MQTT
 * connection changes, and prints every counter when it stops (SIGTERM/SIGINT, --count readings
 * or --seconds elapsed).
 *
 * Lines: "udp_port <i> <port>", "connected", "disconnected",
 * "reading device=<name> sensor=<id> value=<%.17g> time_us=<t> quality=<q> input=<mqtt|udp>",
 * and at the end "counter <input> <name> <value>" and "devices <n>". */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roda_ingest.h"
#include "roda_input_mqtt.h"
#include "roda_input_udp.h"

static volatile sig_atomic_t stopping;

static void on_signal(int signal_number)
{
    (void)signal_number;
    stopping = 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: ingest_probe [--mqtt HOST:PORT] [--topic FILTER]... [--qos 0|1]\n"
            "  [--client-id ID] [--clean] [--protocol 4|5] [--pattern P | --device-level N]\n"
            "  [--udp ADDR]...\n"
            "  [--count N] [--seconds S] [--capacity N] [--max-devices N]\n"
            "  [--max-message BYTES] [--max-datagram BYTES] [--quiet] [--tls-ca FILE]\n"
            "  [--username U --password P]\n");
    exit(2);
}

static void print_counters(const roda_ingest_t *ingest)
{
    roda_ingest_stats_t stats;
    roda_ingest_stats(ingest, &stats);
    for (uint32_t input = 0; input < stats.input_count; input++)
        for (int i = 0; i < RODA_INGEST_COUNTER_COUNT; i++)
            printf("counter %s %s %llu\n", stats.inputs[input].name,
                   roda_ingest_counter_name((roda_ingest_counter_t)i),
                   (unsigned long long)stats.inputs[input].counters[i]);
    printf("devices %u\n", stats.devices);
}

int main(int argc, char **argv)
{
    /* The inputs' settings start from the gateway's defaults; the options change them. */
    static roda_config_t defaults;
    roda_config_defaults(&defaults);
    snprintf(defaults.mqtt.topics[0], sizeof defaults.mqtt.topics[0], "roda/+/readings");
    defaults.mqtt.topic_count = 1;
    roda_input_mqtt_settings_t mqtt;
    roda_input_udp_settings_t udp;
    bool enabled;
    char why[256];
    if (!roda_input_mqtt.configure(&defaults, &mqtt, &enabled, why, sizeof why) ||
        !roda_input_udp.configure(&defaults, &udp, &enabled, why, sizeof why))
        return 1;
    mqtt.topic_count = 0;
    mqtt.conn.host = NULL;
    udp.bind_count = 0;
    uint32_t max_devices = defaults.limits.max_devices, max_message = RODA_INGEST_MAX_MESSAGE;
    uint64_t capacity = 1u << 16, limit = 0;
    double seconds = 0;
    int quiet = 0;
    const char *pattern = NULL; /* --pattern: one device pattern for every filter */
    int device_level = -1;      /* --device-level: each filter's pattern from its level N */
    char host[256];
    static const struct option options[] = {{"mqtt", required_argument, 0, 'm'},
                                            {"topic", required_argument, 0, 't'},
                                            {"qos", required_argument, 0, 'q'},
                                            {"client-id", required_argument, 0, 'i'},
                                            {"clean", no_argument, 0, 'c'},
                                            {"protocol", required_argument, 0, 'V'},
                                            {"pattern", required_argument, 0, 'p'},
                                            {"device-level", required_argument, 0, 'L'},
                                            {"udp", required_argument, 0, 'u'},
                                            {"count", required_argument, 0, 'n'},
                                            {"seconds", required_argument, 0, 's'},
                                            {"capacity", required_argument, 0, 'C'},
                                            {"max-devices", required_argument, 0, 'D'},
                                            {"max-message", required_argument, 0, 'M'},
                                            {"max-datagram", required_argument, 0, 'G'},
                                            {"quiet", no_argument, 0, 'Q'},
                                            {"tls-ca", required_argument, 0, 'A'},
                                            {"username", required_argument, 0, 'U'},
                                            {"password", required_argument, 0, 'W'},
                                            {0, 0, 0, 0}};
    int option;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'm': {
            const char *colon = strrchr(optarg, ':');
            if (colon == NULL || (size_t)(colon - optarg) >= sizeof(host))
                usage();
            memcpy(host, optarg, (size_t)(colon - optarg));
            host[colon - optarg] = '\0';
            mqtt.conn.host = host;
            mqtt.conn.port = (uint16_t)atoi(colon + 1);
            break;
        }
        case 't':
            if (mqtt.topic_count == RODA_INPUT_MQTT_MAX_TOPICS)
                usage();
            mqtt.decoders[mqtt.topic_count] = roda_decoder_default();
            mqtt.topics[mqtt.topic_count++] = optarg;
            break;
        case 'q':
            mqtt.qos = atoi(optarg);
            break;
        case 'i':
            mqtt.conn.client_id = optarg;
            break;
        case 'c':
            mqtt.conn.clean_session = true;
            break;
        case 'V':
            mqtt.conn.protocol = atoi(optarg);
            break;
        case 'p':
            pattern = optarg;
            break;
        case 'L':
            device_level = atoi(optarg);
            break;
        case 'u':
            if (udp.bind_count == RODA_INPUT_UDP_MAX_BINDS)
                usage();
            udp.binds[udp.bind_count++] = optarg;
            break;
        case 'n':
            limit = strtoull(optarg, NULL, 10);
            break;
        case 's':
            seconds = atof(optarg);
            break;
        case 'C':
            capacity = strtoull(optarg, NULL, 10);
            break;
        case 'D':
            max_devices = (uint32_t)atoi(optarg);
            break;
        case 'M':
            max_message = (uint32_t)atoi(optarg);
            break;
        case 'G':
            udp.max_datagram = (uint32_t)atoi(optarg);
            break;
        case 'Q':
            quiet = 1;
            break;
        case 'A':
            mqtt.conn.ca_file = optarg;
            break;
        case 'U':
            mqtt.conn.username = optarg;
            break;
        case 'W':
            mqtt.conn.password = optarg;
            break;
        default:
            usage();
        }
    }
    if (mqtt.topic_count == 0)
        mqtt.topic_count = 1; /* the default filter */
    for (uint32_t i = 0; i < mqtt.topic_count; i++) {
        char *device_pattern = mqtt.device_patterns[i];
        size_t size = sizeof mqtt.device_patterns[i];
        if (device_level >= 0 && roda_mqtt_device_pattern(mqtt.topics[i], (uint32_t)device_level,
                                                          device_pattern, size) != RODA_SUCCESS)
            usage();
        if (pattern != NULL)
            snprintf(device_pattern, size, "%s", pattern);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    roda_journal_config_t journal_config = {
        .capacity = capacity, .record_size = sizeof(roda_reading_t), .policy = RODA_JOURNAL_REJECT};
    roda_journal_t *journal;
    roda_journal_reader_t reader;
    roda_ingest_t *ingest;
    roda_result_t result = roda_journal_create(&journal_config, &journal);
    if (result == RODA_SUCCESS)
        result = roda_journal_reader_open(journal, &reader);
    if (result == RODA_SUCCESS)
        result = roda_ingest_create(max_devices, 1024, max_message, journal, NULL, &ingest);
    /* Both inputs, in the gateway's order; one without options is off. */
    if (result == RODA_SUCCESS)
        result = roda_ingest_add(ingest, &roda_input_mqtt, mqtt.conn.host != NULL ? &mqtt : NULL);
    if (result == RODA_SUCCESS)
        result = roda_ingest_add(ingest, &roda_input_udp, udp.bind_count > 0 ? &udp : NULL);
    if (result != RODA_SUCCESS) {
        fprintf(stderr, "ingest_probe: %s\n", roda_result_str(result));
        return 1;
    }
    for (uint32_t i = 0; i < udp.bind_count; i++)
        printf("udp_port %u %u\n", i, roda_input_udp_port(roda_ingest_input_state(ingest, 1), i));
    result = roda_ingest_start(ingest);
    if (result != RODA_SUCCESS) {
        fprintf(stderr, "ingest_probe: %s\n", roda_result_str(result));
        return 1;
    }
    const roda_devices_t *devices = roda_ingest_devices(ingest);
    uint64_t deadline = seconds > 0 ? roda_now_ns() + (uint64_t)(seconds * 1e9) : UINT64_MAX;
    uint64_t printed = 0;
    bool connected = false;
    while (!stopping && (limit == 0 || printed < limit) && roda_now_ns() < deadline) {
        if (mqtt.conn.host != NULL && roda_ingest_ready(ingest, why, sizeof why) != connected) {
            connected = !connected;
            puts(connected ? "connected" : "disconnected");
        }
        roda_journal_view_t view;
        uint64_t n = roda_journal_peek(&reader, 4096, &view);
        for (int run = 0; run < 2; run++) {
            const roda_reading_t *records = view.run[run];
            for (uint64_t i = 0; i < view.run_count[run]; i++) {
                /* The ingest's clock records are not readings. */
                if (records[i].kind != RODA_RECORD_READING)
                    continue;
                printed++;
                if (!quiet)
                    printf("reading device=%s sensor=%llu value=%.17g time_us=%lld quality=%u "
                           "input=%s\n",
                           roda_devices_name(devices, records[i].device),
                           (unsigned long long)records[i].sensor_id, records[i].value,
                           (long long)records[i].device_time_us, records[i].quality,
                           roda_ingest_input_name(ingest, records[i].input));
            }
        }
        roda_journal_consume(&reader, n);
        if (n == 0) {
            struct timespec pause = {.tv_nsec = 1000000};
            nanosleep(&pause, NULL);
        }
    }
    roda_ingest_stop(ingest);
    print_counters(ingest);
    roda_ingest_destroy(ingest);
    roda_journal_reader_close(&reader);
    roda_journal_destroy(journal);
    return 0;
}
