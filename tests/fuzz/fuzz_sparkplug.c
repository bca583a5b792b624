/* fuzz_sparkplug.c - libFuzzer target for the Sparkplug B module. Every input is parsed as a
 * topic, and decoded as a payload: when open accepts it, the iteration must return exactly
 * metric_count metrics (twice, after a rewind) with names inside the input, and the payload is
 * applied to a small fresh host state under a message type taken from the input's size, every
 * metric resolved and valued. Also checked: no crash or overrun (ASan/UBSan), bounds, and that
 * the Rebirth request decodes as one Boolean metric.
 *
 * The same input is also read as a sequence of messages, each its own topic and payload
 * (check_decoder), fed to the gateway's "sparkplug.b" decoder through the decoder seam against
 * one small host state: open, readings in small steps, silenced, host_after. Checked: statuses,
 * device names in bounds, reading names valid, every reading written or dropped exactly once,
 * finite values, a silence batch that ends within the state's bound, Rebirth requests that are
 * NCMDs. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roda_devices.h"
#include "roda_sparkplug.h"
#include "roda_sparkplug_decode.h"

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

/* Messages one input holds at most, the host state's bounds, records per readings call. */
#define DECODER_MESSAGES 8u
#define DECODER_SCOPES 4u
#define DECODER_ALIASES 8u
#define DECODER_STEP 5u
#define DECODER_MAX_INPUT 4096u

static uint8_t scratch[RODA_DECODE_SCRATCH_BASE + RODA_DECODE_SCRATCH_PER_BYTE * DECODER_MAX_INPUT];

/* A device name within the bound and NUL-terminated at its length (its characters are the
 * ingest's to judge: a Sparkplug id may hold a quote, which a device name may not). */
static void check_device(const roda_decode_batch_t *batch)
{
    if (batch->device_length >= RODA_DEVICE_NAME_SIZE ||
        strlen(batch->device) != batch->device_length)
        abort();
}

/* Pass 2 in steps of DECODER_STEP: every reading written (finite, validly named) or dropped. */
static void check_readings(roda_decode_batch_t *batch)
{
    roda_reading_t records[DECODER_STEP];
    const char *names[DECODER_STEP];
    roda_decode_drops_t drops = {0};
    uint32_t written = 0;
    roda_decode_status_t status = RODA_DECODE_OK;
    while (status == RODA_DECODE_OK && batch->readings_done < batch->reading_count) {
        uint32_t before = batch->readings_done;
        uint32_t n =
            roda_sparkplug_decoder.readings(batch, records, names, DECODER_STEP, &drops, &status);
        if (n > DECODER_STEP || (status == RODA_DECODE_OK && batch->readings_done == before))
            abort();
        for (uint32_t i = 0; i < n; i++)
            if (!isfinite(records[i].value) || records[i].sensor_id != 0 || names[i] == NULL ||
                !roda_devices_name_valid(names[i], strlen(names[i])))
                abort();
        written += n;
    }
    uint64_t dropped = drops.non_finite + drops.missing_field + drops.wrong_type +
                       drops.out_of_range + drops.other_device;
    if (written + dropped != batch->readings_done ||
        (status == RODA_DECODE_OK && batch->readings_done != batch->reading_count))
        abort();
}

/* Reads `data` as messages: a topic length byte, the topic, a 2-byte little-endian payload
 * length and the payload (the rest when it runs out), each decoded against one host state. */
static void check_decoder(const uint8_t *data, size_t size)
{
    roda_sparkplug_host_t host;
    if (size > DECODER_MAX_INPUT ||
        roda_sparkplug_host_init(&host, DECODER_SCOPES, DECODER_ALIASES, true) != RODA_SUCCESS)
        return;
    roda_sparkplug_settings_t settings = {.host = &host};
    size_t at = 0;
    for (unsigned m = 0; m < DECODER_MESSAGES && at < size; m++) {
        char topic[256];
        size_t topic_length = data[at++];
        if (topic_length > size - at)
            topic_length = size - at;
        memcpy(topic, data + at, topic_length);
        topic[topic_length] = '\0';
        at += topic_length;
        size_t length = size - at;
        if (size - at >= 2) {
            length = (size_t)data[at] | (size_t)data[at + 1] << 8;
            at += 2;
            if (length > size - at)
                length = size - at;
        }
        const uint8_t *payload = data + at;
        at += length;
        roda_decode_context_t context = {.settings = &settings,
                                         .scratch = scratch,
                                         .scratch_size = sizeof scratch,
                                         .topic = topic};
        roda_decode_batch_t batch;
        roda_decode_status_t status =
            roda_sparkplug_decoder.open(&batch, &context, payload, length);
        if (status > RODA_DECODE_NO_ROOM)
            abort();
        if (status == RODA_DECODE_OK) {
            check_device(&batch);
            if (batch.reading_count > RODA_DECODE_MAX_READINGS ||
                (batch.silence && batch.reading_count != 0))
                abort();
            if (batch.silence) {
                unsigned devices = 0;
                while (roda_sparkplug_decoder.silenced(&batch) == 1) {
                    check_device(&batch);
                    if (++devices > DECODER_SCOPES)
                        abort();
                }
            } else {
                check_readings(&batch);
            }
        }
        char ncmd[RODA_SPARKPLUG_TOPIC_SIZE];
        uint8_t rebirth[RODA_SPARKPLUG_REBIRTH_SIZE];
        size_t rebirth_size = roda_sparkplug_host_after(&host, 1700000000000u, ncmd, rebirth);
        roda_sparkplug_payload_t request;
        if (rebirth_size != 0 &&
            (strncmp(ncmd, "spBv1.0/", 8) != 0 || strstr(ncmd, "/NCMD/") == NULL ||
             roda_sparkplug_payload_open(&request, rebirth, rebirth_size) != RODA_DECODE_OK ||
             request.metric_count != 1))
            abort();
    }
    roda_sparkplug_host_fini(&host);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_decoder(data, size);

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
