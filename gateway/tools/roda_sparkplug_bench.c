/* roda_sparkplug_bench.c - decode speed of the Sparkplug B module: DDATA messages of M
 * alias-only Double metrics (the common edge-node form) through topic parsing, payload open,
 * iteration, alias resolution and value conversion, on one thread. An event is one metric.
 *
 *   roda-sparkplug-bench [METRICS_PER_MESSAGE [SECONDS]]
 *
 * Prints: RESULT name=decode_sparkplug events_per_sec=<n> ns_per_event=<n> metrics=<M> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roda_sparkplug.h"

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

    roda_sparkplug_state_t *state;
    if (roda_sparkplug_state_create(16, 4096, &state) != RODA_SUCCESS)
        return 1;
    static const char birth_topic[] = "spBv1.0/plant/DBIRTH/edge-1/plc-7";
    static const char data_topic[] = "spBv1.0/plant/DDATA/edge-1/plc-7";
    static const char node_topic[] = "spBv1.0/plant/NBIRTH/edge-1";
    roda_sparkplug_topic_t topic;
    roda_sparkplug_payload_t payload;
    roda_sparkplug_verdict_t verdict;
    if (roda_sparkplug_topic_parse(node_topic, sizeof(node_topic) - 1, &topic) != 0 ||
        roda_sparkplug_payload_open(&payload, data[0], 0) != RODA_DECODE_OK)
        return 1;
    roda_sparkplug_state_message(state, &topic, &payload, &verdict);
    if (roda_sparkplug_topic_parse(birth_topic, sizeof(birth_topic) - 1, &topic) != 0 ||
        roda_sparkplug_payload_open(&payload, birth, birth_size) != RODA_DECODE_OK)
        return 1;
    roda_sparkplug_state_message(state, &topic, &payload, &verdict);

    uint64_t events = 0, messages = 0;
    double sum = 0, start = now(), elapsed = 0;
    while (elapsed < seconds) {
        for (int batch = 0; batch < 1000; batch++) {
            uint32_t s = (uint32_t)((messages + 1) & 255);
            if (roda_sparkplug_topic_parse(data_topic, sizeof(data_topic) - 1, &topic) != 0 ||
                roda_sparkplug_payload_open(&payload, data[s], data_size[s]) != RODA_DECODE_OK)
                return 1;
            roda_sparkplug_state_message(state, &topic, &payload, &verdict);
            roda_sparkplug_metric_t m;
            while (roda_sparkplug_payload_next(&payload, &m)) {
                double value;
                if (roda_sparkplug_state_resolve(state, verdict.scope, &m) &&
                    roda_sparkplug_value(&m, &value) == RODA_SPARKPLUG_VALUE_NUMBER) {
                    sum += value;
                    events++;
                }
            }
            messages++;
        }
        elapsed = now() - start;
    }
    roda_sparkplug_counters_t c = roda_sparkplug_state_counters(state);
    roda_sparkplug_state_destroy(state);
    if (events != messages * count || c.lost != 0 || sum <= 0) {
        fprintf(stderr, "bench: wrong decode (events %llu, lost %llu)\n",
                (unsigned long long)events, (unsigned long long)c.lost);
        return 1;
    }
    printf("RESULT name=decode_sparkplug events_per_sec=%.0f ns_per_event=%.1f metrics=%u\n",
           (double)events / elapsed, elapsed * 1e9 / (double)events, count);
    return 0;
}
