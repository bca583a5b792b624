/* fuzz_sparkplug.c - libFuzzer target for the Sparkplug B module. Every input is parsed as a
 * topic, and decoded as a payload: when open accepts it, the iteration must return exactly
 * metric_count metrics (twice, after a rewind) with names inside the input, and the payload is
 * applied to a small fresh host state under a message type taken from the input's size, every
 * metric resolved and valued. Also checked: no crash or overrun (ASan/UBSan), bounds, and that
 * the Rebirth request decodes as one Boolean metric. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roda_sparkplug.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const topics[] = {
    "spBv1.0/g/NBIRTH/n",   "spBv1.0/g/NDATA/n",    "spBv1.0/g/DBIRTH/n/d", "spBv1.0/g/DDATA/n/d",
    "spBv1.0/g/NDEATH/n",   "spBv1.0/g/DDEATH/n/d", "spBv1.0/g/NCMD/n",     "spBv1.0/STATE/h",
    "spBv1.0/g/DBIRTH/n/e", "spBv1.0/g/DDATA/n/e",
};

static void check_iteration(roda_sparkplug_payload_t *payload, const uint8_t *data, size_t size)
{
    roda_sparkplug_metric_t m;
    uint32_t count = 0;
    while (roda_sparkplug_payload_next(payload, &m)) {
        if ((m.has & RODA_SPARKPLUG_HAS_NAME) &&
            ((const uint8_t *)m.name < data ||
             (const uint8_t *)m.name + m.name_length > data + size))
            abort();
        double value;
        roda_sparkplug_value_kind_t kind = roda_sparkplug_value(&m, &value);
        if (kind > RODA_SPARKPLUG_VALUE_INVALID)
            abort();
        count++;
    }
    if (count != payload->metric_count || count > RODA_DECODE_MAX_READINGS)
        abort();
    roda_sparkplug_payload_rewind(payload);
}

static void check_state(roda_sparkplug_payload_t *payload, size_t size)
{
    roda_sparkplug_state_t *state;
    if (roda_sparkplug_state_create(4, 8, &state) != RODA_SUCCESS)
        abort();
    for (unsigned round = 0; round < 3; round++) {
        const char *text = topics[(size + round * 3) % (sizeof(topics) / sizeof(topics[0]))];
        roda_sparkplug_topic_t topic;
        if (roda_sparkplug_topic_parse(text, strlen(text), &topic) != RODA_SPARKPLUG_TOPIC_OK)
            abort();
        roda_sparkplug_verdict_t verdict;
        roda_sparkplug_state_message(state, &topic, payload, &verdict);
        if (verdict.lost > 254 || payload->metrics_done != 0)
            abort();
        roda_sparkplug_metric_t m;
        while (verdict.event == RODA_SPARKPLUG_ACCEPTED && roda_sparkplug_payload_next(payload, &m))
            if (roda_sparkplug_state_resolve(state, verdict.scope, &m) &&
                (m.name == NULL && m.name_length != 0))
                abort();
        roda_sparkplug_payload_rewind(payload);
        (void)roda_sparkplug_state_rebirth_take(state, verdict.node);
    }
    roda_sparkplug_state_destroy(state);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    roda_sparkplug_topic_t topic;
    roda_sparkplug_topic_status_t topic_status =
        roda_sparkplug_topic_parse((const char *)data, size, &topic);
    if (topic_status == RODA_SPARKPLUG_TOPIC_OK &&
        (topic.node_length == 0 || topic.node_length > RODA_SPARKPLUG_ID_MAX ||
         topic.group_length > RODA_SPARKPLUG_ID_MAX || topic.device_length > RODA_SPARKPLUG_ID_MAX))
        abort();

    roda_sparkplug_payload_t payload;
    if (roda_sparkplug_payload_open(&payload, data, size) == RODA_DECODE_OK) {
        check_iteration(&payload, data, size);
        check_iteration(&payload, data, size);
        check_state(&payload, size);
    }

    uint8_t rebirth[64];
    size_t length = roda_sparkplug_encode_rebirth(rebirth, sizeof(rebirth), size);
    roda_sparkplug_metric_t m;
    double value;
    if (length == 0 || roda_sparkplug_payload_open(&payload, rebirth, length) != RODA_DECODE_OK ||
        payload.metric_count != 1 || !roda_sparkplug_payload_next(&payload, &m) ||
        roda_sparkplug_value(&m, &value) != RODA_SPARKPLUG_VALUE_NUMBER || value != 1.0)
        abort();
    return 0;
}
