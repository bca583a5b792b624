/* roda_sparkplug_bench.c - decode speed of the gateway's "sparkplug.b" decoder: DDATA messages
 * of M alias-only Double metrics (the common edge-node form) through the decoder seam as the MQTT
 * input runs it (open: topic parsing, payload open, host state; readings: iteration, alias
 * resolution, value conversion, the reading's name; host_after), on one thread; then the same
 * with what the ingest adds per named reading (the id from (device, name), the name registry's
 * lookup), as roda-ingest-bench measures JSON. An event is one metric.
 *
 *   roda-sparkplug-bench [METRICS_PER_MESSAGE [SECONDS]]
 *
 * Prints: RESULT name=decode_sparkplug events_per_sec=<n> ns_per_event=<n>
 *         named_events_per_sec=<n> named_ns_per_event=<n> metrics=<M> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roda_sensor_names.h"
#include "roda_sparkplug.h"
#include "roda_sparkplug_decode.h"

static uint8_t *put_varint(uint8_t *at, uint64_t value)
{
    while (value >= 0x80) {
        *at++ = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    *at++ = (uint8_t)value;
    return at;
}

/* A payload of `count` metrics: in a birth name "m<k>", alias k, datatype Double; in data the
 * alias only. Each with a timestamp and a double value. */
static size_t encode(uint8_t *out, uint32_t count, int birth, uint64_t seq)
{
    uint8_t *at = out;
    at = put_varint(at, 1 << 3 | 0);
    at = put_varint(at, 1700000000000ull);
    for (uint32_t k = 0; k < count; k++) {
        uint8_t metric[64], *m = metric;
        if (birth) {
            char name[16];
            int length = snprintf(name, sizeof(name), "m%u", k);
            *m++ = 1 << 3 | 2;
            *m++ = (uint8_t)length;
            memcpy(m, name, (size_t)length);
            m += length;
        }
        m = put_varint(put_varint(m, 2 << 3 | 0), k);
        m = put_varint(put_varint(m, 3 << 3 | 0), 1700000000000ull + k);
        if (birth)
            m = put_varint(put_varint(m, 4 << 3 | 0), RODA_SPARKPLUG_DOUBLE);
        *m++ = 13 << 3 | 1;
        double value = 20.0 + k;
        memcpy(m, &value, 8);
        m += 8;
        at = put_varint(put_varint(at, 2 << 3 | 2), (uint64_t)(m - metric));
        memcpy(at, metric, (size_t)(m - metric));
        at += m - metric;
    }
    at = put_varint(put_varint(at, 3 << 3 | 0), seq);
    return (size_t)(at - out);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    uint32_t count = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 20;
    double seconds = argc > 2 ? strtod(argv[2], NULL) : 2.0;
    if (count == 0 || count > 1000 || seconds <= 0) {
        fprintf(stderr, "usage: roda-sparkplug-bench [METRICS_PER_MESSAGE (1..1000) [SECONDS]]\n");
        return 2;
    }
    static uint8_t birth[64 * 1024], data[256][64 * 1024];
    size_t birth_size = encode(birth, count, 1, 0), data_size[256];
    for (uint32_t s = 0; s < 256; s++)
        data_size[s] = encode(data[s], count, 0, s);

    static roda_sparkplug_host_t host;
    roda_sparkplug_settings_t settings = {.host = &host};
    size_t scratch_size = RODA_DECODE_SCRATCH_BASE + RODA_DECODE_SCRATCH_PER_BYTE * sizeof birth;
    void *scratch = malloc(scratch_size);
    roda_sensor_names_t *registry = NULL;
    uint32_t restored;
    const char *discarded;
    if (scratch == NULL || roda_sparkplug_host_init(&host, 16, 4096, false) != RODA_SUCCESS ||
        roda_sensor_names_create(4096, NULL, &restored, &discarded, &registry) != RODA_SUCCESS)
        return 1;
    roda_decode_context_t context = {
        .settings = &settings, .scratch = scratch, .scratch_size = scratch_size};
    static roda_reading_t records[RODA_DECODE_MAX_READINGS];
    static const char *names[RODA_DECODE_MAX_READINGS];
    roda_decode_drops_t drops = {0};
    roda_decode_batch_t batch;
    roda_decode_status_t status;
    char ncmd[RODA_SPARKPLUG_TOPIC_SIZE];
    uint8_t rebirth[RODA_SPARKPLUG_REBIRTH_SIZE];
    const struct {
        const char *topic;
        const uint8_t *payload;
        size_t size;
    } births[] = {{"spBv1.0/plant/NBIRTH/edge-1", data[0], 0},
                  {"spBv1.0/plant/DBIRTH/edge-1/plc-7", birth, birth_size}};
    for (int b = 0; b < 2; b++) {
        context.topic = births[b].topic;
        if (roda_sparkplug_decoder.open(&batch, &context, births[b].payload, births[b].size) !=
            RODA_DECODE_OK)
            return 1;
        (void)roda_sparkplug_decoder.readings(&batch, records, names, RODA_DECODE_MAX_READINGS,
                                              &drops, &status);
        (void)roda_sparkplug_host_after(&host, 0, ncmd, rebirth);
    }

    context.topic = "spBv1.0/plant/DDATA/edge-1/plc-7";
    double ns[2];
    uint64_t messages = 0;
    double sum = 0;
    for (int named = 0; named < 2; named++) {
        uint64_t events = 0;
        double start = now(), elapsed = 0;
        while (elapsed < seconds) {
            for (int round = 0; round < 1000; round++) {
                uint32_t s = (uint32_t)((messages + 1) & 255);
                if (roda_sparkplug_decoder.open(&batch, &context, data[s], data_size[s]) !=
                    RODA_DECODE_OK)
                    return 1;
                uint32_t written = roda_sparkplug_decoder.readings(
                    &batch, records, names, RODA_DECODE_MAX_READINGS, &drops, &status);
                if (written != count)
                    return 1;
                for (uint32_t i = 0; named && i < written; i++) {
                    records[i].sensor_id = roda_sensor_name_id(batch.device, batch.device_length,
                                                               names[i], strlen(names[i]));
                    sum += roda_sensor_names_intern(registry, records[i].sensor_id, names[i]);
                }
                (void)roda_sparkplug_host_after(&host, 0, ncmd, rebirth);
                for (uint32_t i = 0; i < written; i++)
                    sum += records[i].value;
                events += written;
                messages++;
            }
            elapsed = now() - start;
        }
        ns[named] = elapsed * 1e9 / (double)events;
    }
    roda_sparkplug_counters_t c = roda_sparkplug_state_counters(host.state);
    roda_sparkplug_host_fini(&host);
    roda_sensor_names_destroy(registry);
    free(scratch);
    uint64_t dropped = drops.non_finite + drops.missing_field + drops.wrong_type +
                       drops.out_of_range + drops.other_device;
    if (dropped != 0 || c.lost != 0 || sum <= 0) {
        fprintf(stderr, "bench: wrong decode (dropped %llu, lost %llu)\n",
                (unsigned long long)dropped, (unsigned long long)c.lost);
        return 1;
    }
    printf("RESULT name=decode_sparkplug events_per_sec=%.0f ns_per_event=%.1f "
           "named_events_per_sec=%.0f named_ns_per_event=%.1f metrics=%u\n",
           1e9 / ns[0], ns[0], 1e9 / ns[1], ns[1], count);
    return 0;
}
