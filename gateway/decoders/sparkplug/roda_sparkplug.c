/* roda_sparkplug.c - Sparkplug B topics, payloads and host state (see roda_sparkplug.h). */
#include "roda_sparkplug.h"

#include <math.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "roda_wire.h"

/* ---- topics ---- */

static const char *const type_names[] = {"NBIRTH", "NDEATH", "DBIRTH", "DDEATH", "NDATA",
                                         "DDATA",  "NCMD",   "DCMD",   "STATE"};
static const char namespace_prefix[] = "spBv1.0/";

const char *roda_sparkplug_type_str(roda_sparkplug_type_t type)
{
    return (unsigned)type < sizeof(type_names) / sizeof(type_names[0]) ? type_names[type] : "?";
}

static int id_valid(const char *id, size_t length)
{
    if (length == 0 || length > RODA_SPARKPLUG_ID_MAX)
        return 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char ch = (unsigned char)id[i];
        if (ch < 0x20 || ch > 0x7e || ch == '+' || ch == '#')
            return 0;
    }
    return 1;
}

roda_sparkplug_topic_status_t roda_sparkplug_topic_parse(const char *topic, size_t length,
                                                         roda_sparkplug_topic_t *out)
{
    enum { MAX_LEVELS = 5 };
    const char *level[MAX_LEVELS + 1];
    size_t level_length[MAX_LEVELS + 1];
    size_t prefix = sizeof(namespace_prefix) - 1;
    memset(out, 0, sizeof(*out));
    if (length < prefix || memcmp(topic, namespace_prefix, prefix) != 0)
        return RODA_SPARKPLUG_TOPIC_NAMESPACE;
    size_t levels = 0, start = prefix;
    for (size_t i = prefix; i <= length; i++) {
        if (i < length && topic[i] != '/')
            continue;
        if (levels == MAX_LEVELS)
            return RODA_SPARKPLUG_TOPIC_LEVELS;
        level[levels] = topic + start;
        level_length[levels++] = i - start;
        start = i + 1;
    }
    /* levels now counts those after the namespace: group TYPE node [device], or STATE host */
    if (levels == 2 && level_length[0] == 5 && memcmp(level[0], "STATE", 5) == 0) {
        out->type = RODA_SPARKPLUG_STATE;
        out->node = level[1];
        out->node_length = level_length[1];
        return id_valid(out->node, out->node_length) ? RODA_SPARKPLUG_TOPIC_OK
                                                     : RODA_SPARKPLUG_TOPIC_ID;
    }
    if (levels < 2)
        return RODA_SPARKPLUG_TOPIC_LEVELS;
    size_t type = 0;
    while (type < RODA_SPARKPLUG_STATE &&
           !(strlen(type_names[type]) == level_length[1] &&
             memcmp(type_names[type], level[1], level_length[1]) == 0))
        type++;
    if (type == RODA_SPARKPLUG_STATE)
        return RODA_SPARKPLUG_TOPIC_TYPE;
    int device = type_names[type][0] == 'D';
    if (levels != (device ? 4u : 3u))
        return RODA_SPARKPLUG_TOPIC_LEVELS;
    out->type = (roda_sparkplug_type_t)type;
    out->group = level[0];
    out->group_length = level_length[0];
    out->node = level[2];
    out->node_length = level_length[2];
    if (device) {
        out->device = level[3];
        out->device_length = level_length[3];
    }
    if (!id_valid(out->group, out->group_length) || !id_valid(out->node, out->node_length) ||
        (device && !id_valid(out->device, out->device_length)))
        return RODA_SPARKPLUG_TOPIC_ID;
    return RODA_SPARKPLUG_TOPIC_OK;
}

/* ---- payloads ---- */

enum {
    PAYLOAD_TIMESTAMP = 1,
    PAYLOAD_METRICS = 2,
    PAYLOAD_SEQ = 3,
    METRIC_NAME = 1,
    METRIC_ALIAS = 2,
    METRIC_TIMESTAMP = 3,
    METRIC_DATATYPE = 4,
    METRIC_IS_HISTORICAL = 5,
    METRIC_IS_TRANSIENT = 6,
    METRIC_IS_NULL = 7,
    METRIC_METADATA = 8,
    METRIC_PROPERTIES = 9,
    METRIC_EXTENSION_VALUE = 19,
};

static roda_decode_status_t expect(uint32_t wire_type, uint32_t wanted)
{
    return wire_type == wanted ? RODA_DECODE_OK : RODA_DECODE_MALFORMED;
}

/* One metric field into *m. */
static roda_decode_status_t metric_field(roda_wire_cursor_t *c, roda_sparkplug_metric_t *m,
                                         uint32_t field, uint32_t wire_type)
{
    roda_decode_status_t status;
    uint64_t value64;
    uint32_t value32;
    switch (field) {
    case METRIC_NAME:
        if ((status = expect(wire_type, RODA_WIRE_LENGTH)) != RODA_DECODE_OK ||
            (status = roda_wire_length(c, &value32)) != RODA_DECODE_OK)
            return status;
        m->name = (const char *)c->at;
        m->name_length = value32;
        m->has |= RODA_SPARKPLUG_HAS_NAME;
        c->at += value32;
        return RODA_DECODE_OK;
    case METRIC_ALIAS:
    case METRIC_TIMESTAMP:
        if ((status = expect(wire_type, RODA_WIRE_VARINT)) != RODA_DECODE_OK ||
            (status = roda_wire_varint64(c, &value64)) != RODA_DECODE_OK)
            return status;
        if (field == METRIC_ALIAS) {
            m->alias = value64;
            m->has |= RODA_SPARKPLUG_HAS_ALIAS;
        } else {
            m->timestamp = value64;
            m->has |= RODA_SPARKPLUG_HAS_TIMESTAMP;
        }
        return RODA_DECODE_OK;
    case METRIC_DATATYPE:
        if ((status = expect(wire_type, RODA_WIRE_VARINT)) != RODA_DECODE_OK ||
            (status = roda_wire_varint32(c, &m->datatype)) != RODA_DECODE_OK)
            return status;
        m->has |= RODA_SPARKPLUG_HAS_DATATYPE;
        return RODA_DECODE_OK;
    case METRIC_IS_HISTORICAL:
    case METRIC_IS_TRANSIENT:
    case METRIC_IS_NULL:
        if ((status = expect(wire_type, RODA_WIRE_VARINT)) != RODA_DECODE_OK ||
            (status = roda_wire_varint64(c, &value64)) != RODA_DECODE_OK)
            return status;
        if (field == METRIC_IS_NULL)
            m->has = value64 ? m->has | RODA_SPARKPLUG_HAS_NULL : m->has & ~RODA_SPARKPLUG_HAS_NULL;
        return RODA_DECODE_OK;
    case METRIC_METADATA:
    case METRIC_PROPERTIES:
        if ((status = expect(wire_type, RODA_WIRE_LENGTH)) != RODA_DECODE_OK)
            return status;
        return roda_wire_skip(c, wire_type);
    case RODA_SPARKPLUG_FIELD_INT:
        if ((status = expect(wire_type, RODA_WIRE_VARINT)) != RODA_DECODE_OK ||
            (status = roda_wire_varint32(c, &value32)) != RODA_DECODE_OK)
            return status;
        m->raw = value32;
        break;
    case RODA_SPARKPLUG_FIELD_LONG:
    case RODA_SPARKPLUG_FIELD_BOOL:
        if ((status = expect(wire_type, RODA_WIRE_VARINT)) != RODA_DECODE_OK ||
            (status = roda_wire_varint64(c, &value64)) != RODA_DECODE_OK)
            return status;
        m->raw = field == RODA_SPARKPLUG_FIELD_BOOL ? value64 != 0 : value64;
        break;
    case RODA_SPARKPLUG_FIELD_FLOAT:
        if ((status = expect(wire_type, RODA_WIRE_32BIT)) != RODA_DECODE_OK ||
            (status = roda_wire_fixed32(c, &value32)) != RODA_DECODE_OK)
            return status;
        m->raw = value32;
        break;
    case RODA_SPARKPLUG_FIELD_DOUBLE:
        if ((status = expect(wire_type, RODA_WIRE_64BIT)) != RODA_DECODE_OK ||
            (status = roda_wire_fixed64(c, &m->raw)) != RODA_DECODE_OK)
            return status;
        break;
    default:
        if (field >= RODA_SPARKPLUG_FIELD_OTHER && field <= METRIC_EXTENSION_VALUE) {
            if ((status = expect(wire_type, RODA_WIRE_LENGTH)) != RODA_DECODE_OK ||
                (status = roda_wire_skip(c, wire_type)) != RODA_DECODE_OK)
                return status;
            m->raw = 0;
            m->field = RODA_SPARKPLUG_FIELD_OTHER;
            return RODA_DECODE_OK;
        }
        return roda_wire_skip(c, wire_type);
    }
    m->field = (roda_sparkplug_field_t)field;
    return RODA_DECODE_OK;
}

/* One Metric message (the bytes of one `metrics` field) into *m. */
static roda_decode_status_t decode_metric(const uint8_t *bytes, size_t size,
                                          roda_sparkplug_metric_t *m)
{
    roda_wire_cursor_t c = {bytes, bytes + size};
    memset(m, 0, sizeof(*m));
    while (c.at != c.end) {
        uint32_t field, wire_type;
        roda_decode_status_t status = roda_wire_key(&c, &field, &wire_type);
        if (status == RODA_DECODE_OK)
            status = metric_field(&c, m, field, wire_type);
        if (status != RODA_DECODE_OK)
            return status;
    }
    return RODA_DECODE_OK;
}

roda_decode_status_t roda_sparkplug_payload_open(roda_sparkplug_payload_t *payload,
                                                 const uint8_t *bytes, size_t size)
{
    static const uint8_t empty[1];
    memset(payload, 0, sizeof(*payload));
    if (size > RODA_DECODE_MAX_PAYLOAD)
        return RODA_DECODE_OVERSIZE;
    if (bytes == NULL)
        bytes = empty;
    payload->bytes = bytes;
    payload->size = size;
    roda_wire_cursor_t c = {bytes, bytes + size};
    while (c.at != c.end) {
        uint32_t field, wire_type, length;
        roda_sparkplug_metric_t metric;
        roda_decode_status_t status = roda_wire_key(&c, &field, &wire_type);
        if (status != RODA_DECODE_OK)
            return status;
        switch (field) {
        case PAYLOAD_TIMESTAMP:
        case PAYLOAD_SEQ:
            if ((status = expect(wire_type, RODA_WIRE_VARINT)) == RODA_DECODE_OK)
                status = roda_wire_varint64(&c, field == PAYLOAD_SEQ ? &payload->seq
                                                                     : &payload->timestamp);
            *(field == PAYLOAD_SEQ ? &payload->has_seq : &payload->has_timestamp) = 1;
            break;
        case PAYLOAD_METRICS:
            if ((status = expect(wire_type, RODA_WIRE_LENGTH)) != RODA_DECODE_OK ||
                (status = roda_wire_length(&c, &length)) != RODA_DECODE_OK)
                return status;
            if (++payload->metric_count > RODA_DECODE_MAX_READINGS)
                return RODA_DECODE_TOO_MANY;
            status = decode_metric(c.at, length, &metric);
            c.at += length;
            break;
        default:
            status = roda_wire_skip(&c, wire_type);
            break;
        }
        if (status != RODA_DECODE_OK)
            return status;
    }
    return RODA_DECODE_OK;
}

int roda_sparkplug_payload_next(roda_sparkplug_payload_t *payload, roda_sparkplug_metric_t *metric)
{
    roda_wire_cursor_t c = {payload->bytes + payload->offset, payload->bytes + payload->size};
    while (payload->metrics_done < payload->metric_count) {
        uint32_t field, wire_type, length;
        /* Open checked every field, so these reads succeed. */
        if (roda_wire_key(&c, &field, &wire_type) != RODA_DECODE_OK)
            break;
        if (field != PAYLOAD_METRICS) {
            if (roda_wire_skip(&c, wire_type) != RODA_DECODE_OK)
                break;
            continue;
        }
        if (roda_wire_length(&c, &length) != RODA_DECODE_OK ||
            decode_metric(c.at, length, metric) != RODA_DECODE_OK)
            break;
        c.at += length;
        payload->offset = (size_t)(c.at - payload->bytes);
        payload->metrics_done++;
        return 1;
    }
    payload->metrics_done = payload->metric_count;
    return 0;
}

void roda_sparkplug_payload_rewind(roda_sparkplug_payload_t *payload)
{
    payload->offset = 0;
    payload->metrics_done = 0;
}

/* ---- values ---- */

/* An integer of `bits` (8, 16, 32) carried in int_value or long_value, range-checked. */
static roda_sparkplug_value_kind_t narrow(const roda_sparkplug_metric_t *m, unsigned bits,
                                          int is_signed, double *value)
{
    uint64_t carrier_mask;
    if (m->field == RODA_SPARKPLUG_FIELD_INT)
        carrier_mask = UINT32_MAX;
    else if (m->field == RODA_SPARKPLUG_FIELD_LONG)
        carrier_mask = UINT64_MAX;
    else
        return RODA_SPARKPLUG_VALUE_INVALID;
    uint64_t limit = 1ull << bits, half = limit >> 1, raw = m->raw;
    if (raw < limit) { /* the type's own width */
        *value = is_signed && raw >= half ? (double)((int64_t)raw - (int64_t)limit) : (double)raw;
        return RODA_SPARKPLUG_VALUE_NUMBER;
    }
    uint64_t extension = carrier_mask & ~(half - 1); /* bits bits-1 .. carrier top, all set */
    if (!is_signed || (raw & extension) != extension)
        return RODA_SPARKPLUG_VALUE_INVALID;
    *value = carrier_mask == UINT32_MAX ? (double)((int64_t)raw - (int64_t)(1ull << 32))
                                        : (double)(int64_t)raw;
    return RODA_SPARKPLUG_VALUE_NUMBER;
}

roda_sparkplug_value_kind_t roda_sparkplug_value(const roda_sparkplug_metric_t *m, double *value)
{
    if (m->has & RODA_SPARKPLUG_HAS_NULL)
        return RODA_SPARKPLUG_VALUE_NULL;
    if (!(m->has & RODA_SPARKPLUG_HAS_DATATYPE))
        return RODA_SPARKPLUG_VALUE_INVALID;
    double result;
    switch (m->datatype) {
    case RODA_SPARKPLUG_INT8:
    case RODA_SPARKPLUG_INT16:
    case RODA_SPARKPLUG_INT32:
        return narrow(m, 8u << (m->datatype - RODA_SPARKPLUG_INT8), 1, value);
    case RODA_SPARKPLUG_UINT8:
    case RODA_SPARKPLUG_UINT16:
    case RODA_SPARKPLUG_UINT32:
        return narrow(m, 8u << (m->datatype - RODA_SPARKPLUG_UINT8), 0, value);
    case RODA_SPARKPLUG_INT64:
    case RODA_SPARKPLUG_UINT64:
        if (m->field != RODA_SPARKPLUG_FIELD_LONG)
            return RODA_SPARKPLUG_VALUE_INVALID;
        *value = m->datatype == RODA_SPARKPLUG_INT64 ? (double)(int64_t)m->raw : (double)m->raw;
        return RODA_SPARKPLUG_VALUE_NUMBER;
    case RODA_SPARKPLUG_FLOAT:
        if (m->field != RODA_SPARKPLUG_FIELD_FLOAT)
            return RODA_SPARKPLUG_VALUE_INVALID;
        {
            uint32_t bits = (uint32_t)m->raw;
            float f;
            memcpy(&f, &bits, sizeof(f));
            result = f;
        }
        break;
    case RODA_SPARKPLUG_DOUBLE:
        if (m->field != RODA_SPARKPLUG_FIELD_DOUBLE)
            return RODA_SPARKPLUG_VALUE_INVALID;
        memcpy(&result, &m->raw, sizeof(result));
        break;
    case RODA_SPARKPLUG_BOOLEAN:
        if (m->field != RODA_SPARKPLUG_FIELD_BOOL)
            return RODA_SPARKPLUG_VALUE_INVALID;
        result = (double)m->raw;
        break;
    default:
        return RODA_SPARKPLUG_VALUE_UNSUPPORTED;
    }
    if (!isfinite(result))
        return RODA_SPARKPLUG_VALUE_NON_FINITE;
    *value = result;
    return RODA_SPARKPLUG_VALUE_NUMBER;
}

/* ---- the Rebirth request ---- */

static uint8_t *put_varint(uint8_t *at, uint64_t value)
{
    while (value >= 0x80) {
        *at++ = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    *at++ = (uint8_t)value;
    return at;
}

static uint8_t *put_fixed(uint8_t *at, uint64_t value, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        *at++ = (uint8_t)(value >> (8 * i));
    return at;
}

/* Bytes one metric's fields take at most: a name of RODA_SPARKPLUG_METRIC_NAME_MAX bytes with
 * its tag and length, three varint fields and the value, each with its tag. */
#define METRIC_MAX (RODA_SPARKPLUG_METRIC_NAME_MAX + 2u + 4u * 11u)

/* One metric's fields (without its tag and length) at `at` (METRIC_MAX bytes); its end. */
static uint8_t *put_metric(uint8_t *at, const roda_sparkplug_metric_t *m)
{
    if (m->has & RODA_SPARKPLUG_HAS_NAME) {
        *at++ = METRIC_NAME << 3 | RODA_WIRE_LENGTH;
        at = put_varint(at, m->name_length);
        memcpy(at, m->name, m->name_length);
        at += m->name_length;
    }
    const struct {
        uint32_t bit, field;
        uint64_t value;
    } varints[] = {{RODA_SPARKPLUG_HAS_ALIAS, METRIC_ALIAS, m->alias},
                   {RODA_SPARKPLUG_HAS_TIMESTAMP, METRIC_TIMESTAMP, m->timestamp},
                   {RODA_SPARKPLUG_HAS_DATATYPE, METRIC_DATATYPE, m->datatype}};
    for (size_t i = 0; i < sizeof varints / sizeof varints[0]; i++) {
        if (m->has & varints[i].bit) {
            *at++ = (uint8_t)(varints[i].field << 3 | RODA_WIRE_VARINT);
            at = put_varint(at, varints[i].value);
        }
    }
    switch (m->field) {
    case RODA_SPARKPLUG_FIELD_INT:
    case RODA_SPARKPLUG_FIELD_LONG:
    case RODA_SPARKPLUG_FIELD_BOOL:
        *at++ = (uint8_t)(m->field << 3 | RODA_WIRE_VARINT);
        return put_varint(at, m->raw);
    case RODA_SPARKPLUG_FIELD_FLOAT:
        *at++ = RODA_SPARKPLUG_FIELD_FLOAT << 3 | RODA_WIRE_32BIT;
        return put_fixed(at, m->raw, 4);
    case RODA_SPARKPLUG_FIELD_DOUBLE:
        *at++ = RODA_SPARKPLUG_FIELD_DOUBLE << 3 | RODA_WIRE_64BIT;
        return put_fixed(at, m->raw, 8);
    default:
        return at; /* no value (or one the encoder does not write) */
    }
}

/* Appends `length` bytes of `piece` at *at when they fit before `end`; false otherwise. */
static bool append(uint8_t **at, const uint8_t *end, const uint8_t *piece, size_t length)
{
    if ((size_t)(end - *at) < length)
        return false;
    memcpy(*at, piece, length);
    *at += length;
    return true;
}

size_t roda_sparkplug_encode(uint8_t *buffer, size_t size, uint64_t timestamp_ms, int has_seq,
                             uint64_t seq, const roda_sparkplug_metric_t *metrics, uint32_t count)
{
    uint8_t *at = buffer, *end = buffer + size;
    uint8_t piece[16 + METRIC_MAX], *p = piece;
    *p++ = PAYLOAD_TIMESTAMP << 3 | RODA_WIRE_VARINT;
    p = put_varint(p, timestamp_ms);
    if (!append(&at, end, piece, (size_t)(p - piece)))
        return 0;
    for (uint32_t i = 0; i < count; i++) {
        if (metrics[i].name_length > RODA_SPARKPLUG_METRIC_NAME_MAX)
            return 0;
        uint8_t body[METRIC_MAX];
        size_t length = (size_t)(put_metric(body, &metrics[i]) - body);
        p = piece;
        *p++ = PAYLOAD_METRICS << 3 | RODA_WIRE_LENGTH;
        p = put_varint(p, length);
        memcpy(p, body, length);
        p += length;
        if (!append(&at, end, piece, (size_t)(p - piece)))
            return 0;
    }
    if (has_seq) {
        p = piece;
        *p++ = PAYLOAD_SEQ << 3 | RODA_WIRE_VARINT;
        p = put_varint(p, seq);
        if (!append(&at, end, piece, (size_t)(p - piece)))
            return 0;
    }
    return (size_t)(at - buffer);
}

size_t roda_sparkplug_encode_rebirth(uint8_t *buffer, size_t size, uint64_t timestamp_ms)
{
    static const char name[] = RODA_SPARKPLUG_REBIRTH_METRIC;
    roda_sparkplug_metric_t rebirth = {
        .name = name,
        .name_length = sizeof(name) - 1,
        .timestamp = timestamp_ms,
        .datatype = RODA_SPARKPLUG_BOOLEAN,
        .has = RODA_SPARKPLUG_HAS_NAME | RODA_SPARKPLUG_HAS_TIMESTAMP | RODA_SPARKPLUG_HAS_DATATYPE,
        .field = RODA_SPARKPLUG_FIELD_BOOL,
        .raw = 1};
    return roda_sparkplug_encode(buffer, size, timestamp_ms, 0, 0, &rebirth, 1);
}

size_t roda_sparkplug_rebirth_topic(const roda_sparkplug_topic_t *topic, char *buffer, size_t size)
{
    size_t prefix = sizeof(namespace_prefix) - 1;
    size_t length = prefix + topic->group_length + 6 + topic->node_length;
    if (length + 1 > size)
        return 0;
    char *at = buffer;
    memcpy(at, namespace_prefix, prefix);
    at += prefix;
    memcpy(at, topic->group, topic->group_length);
    at += topic->group_length;
    memcpy(at, "/NCMD/", 6);
    at += 6;
    memcpy(at, topic->node, topic->node_length);
    at[topic->node_length] = '\0';
    return length;
}
