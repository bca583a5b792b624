/* roda_json_decode.c - the JSON decoder's two passes (see roda_json_decode.h): a depth check,
 * a cJSON parse into the message's scratch, then rows and members walked into records. */
#include "roda_json_decode.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "roda_devices.h"

/* The bump arena cJSON allocates from while this thread parses; NULL: plain malloc. */
typedef struct arena {
    uint8_t *next;
    uint8_t *end;
    bool exhausted;
} arena_t;

static _Thread_local arena_t *current_arena;

static void *arena_malloc(size_t size)
{
    arena_t *arena = current_arena;
    if (arena == NULL)
        return malloc(size);
    size_t rounded = (size + 7u) & ~(size_t)7u;
    if (rounded < size || rounded > (size_t)(arena->end - arena->next)) {
        arena->exhausted = true;
        return NULL;
    }
    void *memory = arena->next;
    arena->next += rounded;
    return memory;
}

/* Arena memory is released all at once by the next message. */
static void arena_free(void *memory)
{
    if (current_arena == NULL)
        free(memory);
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void install_hooks(void)
{
    cJSON_Hooks hooks = {arena_malloc, arena_free};
    cJSON_InitHooks(&hooks);
}

/* Pass 2's progress, kept at the start of the scratch; the arena follows it. */
typedef struct json_state {
    arena_t arena;
    const cJSON *root;
    const cJSON *row;    /* the row being decoded; NULL before the first */
    const cJSON *member; /* every-numeric mode: the next member of the row to look at */
    uint32_t field;      /* listed mode: the next listed field of the row */
    bool started;        /* the first row was taken */
    bool row_open;       /* the row's verdict below is set */
    int64_t row_time_us;
    uint64_t *row_drop; /* NULL: the row's readings are read; else the reason they are dropped */
} json_state_t;

/* Which roda_decode_drops_t counter a reading goes to. */
typedef enum drop_reason {
    KEEP = 0,
    MISSING,
    WRONG_TYPE,
    OUT_OF_RANGE,
    OTHER_DEVICE,
} drop_reason_t;

static uint64_t *drop_counter(roda_decode_drops_t *drops, drop_reason_t reason)
{
    switch (reason) {
    case MISSING:
        return &drops->missing_field;
    case WRONG_TYPE:
        return &drops->wrong_type;
    case OUT_OF_RANGE:
        return &drops->out_of_range;
    case OTHER_DEVICE:
        return &drops->other_device;
    case KEEP:
        break;
    }
    return NULL;
}

/* True when no array or object nests deeper than `max_depth` (strings skipped). */
static bool depth_within(const uint8_t *bytes, size_t size, uint32_t max_depth)
{
    uint32_t depth = 0;
    for (size_t i = 0; i < size;) {
        uint8_t c = bytes[i++];
        if (c == '"') {
            while (i < size && bytes[i] != '"')
                i += bytes[i] == '\\' ? 2 : 1;
            i++;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return false;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return true;
}

static bool only_whitespace(const char *at, const char *end)
{
    for (; at < end; at++)
        if (*at != ' ' && *at != '\t' && *at != '\n' && *at != '\r')
            return false;
    return true;
}

static bool has_text(const char *text)
{
    return text != NULL && text[0] != '\0';
}

/* Is `member` one of the row's members that is not a sensor (device, timestamp)? */
static bool reserved_member(const roda_json_settings_t *s, const cJSON *member)
{
    return (has_text(s->device_field) && strcmp(member->string, s->device_field) == 0) ||
           (has_text(s->timestamp_field) && strcmp(member->string, s->timestamp_field) == 0);
}

/* A member that can be a reading: a number, or a boolean (1 or 0, as Sparkplug's Boolean). */
static bool readable(const cJSON *member)
{
    return cJSON_IsNumber(member) || cJSON_IsBool(member);
}

/* Readings of one array entry or top-level object (pass 1's count). */
static uint32_t row_readings(const roda_json_settings_t *s, const cJSON *row)
{
    if (!cJSON_IsObject(row))
        return s->sensor_field_count != 0 ? s->sensor_field_count : 1;
    if (s->sensor_field_count != 0)
        return s->sensor_field_count;
    uint32_t count = 0;
    for (const cJSON *member = row->child; member != NULL; member = member->next)
        count += readable(member) && !reserved_member(s, member);
    return count;
}

static const cJSON *first_row(const cJSON *root)
{
    return cJSON_IsArray(root) ? root->child : root;
}

roda_decode_status_t roda_json_decode_open(roda_decode_batch_t *batch,
                                           const roda_decode_context_t *context,
                                           const uint8_t *payload, size_t size)
{
    memset(batch, 0, sizeof(*batch));
    batch->context = context;
    batch->payload = payload;
    batch->size = size;
    if (size > RODA_DECODE_MAX_PAYLOAD || context == NULL || context->scratch == NULL ||
        context->scratch_size <
            (size_t)RODA_DECODE_SCRATCH_PER_BYTE * size + RODA_DECODE_SCRATCH_BASE)
        return RODA_DECODE_OVERSIZE;
    const roda_json_settings_t *s = context->settings;
    if (s == NULL || payload == NULL || size == 0)
        return RODA_DECODE_MALFORMED;
    if (!depth_within(payload, size, s->max_depth))
        return RODA_DECODE_MALFORMED;
    pthread_once(&hooks_once, install_hooks);
    json_state_t *state = context->scratch;
    uint8_t *base = (uint8_t *)context->scratch;
    size_t offset = (sizeof(json_state_t) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    *state = (json_state_t){.arena = {base + offset, base + context->scratch_size, false}};
    const char *end = NULL;
    current_arena = &state->arena;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)payload, size, &end, false);
    current_arena = NULL;
    if (root == NULL)
        return state->arena.exhausted ? RODA_DECODE_OVERSIZE : RODA_DECODE_MALFORMED;
    if (!only_whitespace(end, (const char *)payload + size) ||
        !(cJSON_IsArray(root) || cJSON_IsObject(root)))
        return RODA_DECODE_MALFORMED;
    state->root = root;
    uint64_t count = 0;
    if (cJSON_IsArray(root)) {
        for (const cJSON *row = root->child; row != NULL && count <= RODA_DECODE_MAX_READINGS;
             row = row->next)
            count += row_readings(s, row);
    } else {
        count = row_readings(s, root);
    }
    if (count > RODA_DECODE_MAX_READINGS)
        return RODA_DECODE_TOO_MANY;
    batch->reading_count = (uint32_t)count;
    const cJSON *row = first_row(root);
    if (has_text(s->device_field) && cJSON_IsObject(row)) {
        const cJSON *device = cJSON_GetObjectItemCaseSensitive(row, s->device_field);
        if (cJSON_IsString(device)) {
            size_t length = strlen(device->valuestring);
            if (length < RODA_DEVICE_NAME_SIZE) {
                memcpy(batch->device, device->valuestring, length + 1);
                batch->device_length = length;
            }
        }
    }
    return RODA_DECODE_OK;
}

/* A number of the timestamp's unit as microseconds; false beyond int64. */
static bool epoch_us(double value, roda_json_time_format_t format, int64_t *time_us)
{
    static const double per_unit[] = {
        [RODA_JSON_TIME_S] = 1e6, [RODA_JSON_TIME_MS] = 1e3, [RODA_JSON_TIME_US] = 1.0};
    double us = nearbyint(value * per_unit[format]);
    /* 2^63 is exactly representable; every double below it in magnitude fits int64. */
    if (!(us > -9223372036854775808.0 && us < 9223372036854775808.0))
        return false;
    *time_us = (int64_t)us;
    return true;
}

/* The row's verdict: its device time, or why all its readings are dropped. */
static drop_reason_t open_row(const roda_json_settings_t *s, const roda_decode_batch_t *batch,
                              const cJSON *row, int64_t *time_us)
{
    *time_us = 0;
    if (!cJSON_IsObject(row))
        return WRONG_TYPE;
    if (has_text(s->device_field) && batch->device_length > 0) {
        const cJSON *device = cJSON_GetObjectItemCaseSensitive(row, s->device_field);
        if (device == NULL || cJSON_IsNull(device))
            return MISSING;
        if (!cJSON_IsString(device) || strcmp(device->valuestring, batch->device) != 0)
            return OTHER_DEVICE;
    }
    if (!has_text(s->timestamp_field))
        return KEEP;
    const cJSON *time = cJSON_GetObjectItemCaseSensitive(row, s->timestamp_field);
    if (time == NULL || cJSON_IsNull(time))
        return MISSING;
    if (s->timestamp_format == RODA_JSON_TIME_RFC3339) {
        if (!cJSON_IsString(time))
            return WRONG_TYPE;
        return roda_json_parse_rfc3339(time->valuestring, strlen(time->valuestring), time_us)
                   ? KEEP
                   : OUT_OF_RANGE;
    }
    if (!cJSON_IsNumber(time))
        return WRONG_TYPE;
    return epoch_us(time->valuedouble, s->timestamp_format, time_us) ? KEEP : OUT_OF_RANGE;
}

/* A sensor member's verdict: kept with its value in *value, or why dropped. */
static drop_reason_t read_sensor(const cJSON *member, const char *name, double *value)
{
    if (member == NULL || cJSON_IsNull(member))
        return MISSING;
    if (!readable(member) || !roda_devices_name_valid(name, strlen(name)))
        return WRONG_TYPE;
    if (cJSON_IsBool(member)) {
        *value = cJSON_IsTrue(member) ? 1.0 : 0.0;
        return KEEP;
    }
    if (!isfinite(member->valuedouble))
        return OUT_OF_RANGE;
    *value = member->valuedouble;
    return KEEP;
}

/* The row's next reading: its name and member (NULL when absent); false at the row's end. */
static bool next_in_row(const roda_json_settings_t *s, json_state_t *state, const char **name,
                        const cJSON **member)
{
    if (!cJSON_IsObject(state->row)) {
        uint32_t readings = s->sensor_field_count != 0 ? s->sensor_field_count : 1;
        if (state->field == readings)
            return false;
        state->field++;
        *name = NULL;
        *member = NULL;
        return true;
    }
    if (s->sensor_field_count != 0) {
        if (state->field == s->sensor_field_count)
            return false;
        *name = s->sensor_fields[state->field++];
        *member = cJSON_GetObjectItemCaseSensitive(state->row, *name);
        return true;
    }
    while (state->member != NULL && (!readable(state->member) || reserved_member(s, state->member)))
        state->member = state->member->next;
    if (state->member == NULL)
        return false;
    *member = state->member;
    *name = state->member->string;
    state->member = state->member->next;
    return true;
}

/* Moves to the next row; false after the last. */
static bool next_row(json_state_t *state)
{
    if (state->row == NULL)
        state->row = first_row(state->root);
    else
        state->row = cJSON_IsArray(state->root) ? state->row->next : NULL;
    state->member = state->row != NULL ? state->row->child : NULL;
    state->field = 0;
    state->row_open = false;
    return state->row != NULL;
}

uint32_t roda_json_decode_readings(roda_decode_batch_t *batch, roda_reading_t *records,
                                   const char **names, uint32_t max, roda_decode_drops_t *drops,
                                   roda_decode_status_t *status)
{
    *status = RODA_DECODE_OK;
    const roda_json_settings_t *s = batch->context->settings;
    json_state_t *state = batch->context->scratch;
    uint32_t written = 0;
    while (written < max && batch->readings_done < batch->reading_count) {
        if (!state->started) {
            state->started = true;
            if (!next_row(state))
                break;
        }
        if (state->row == NULL)
            break;
        if (!state->row_open) {
            state->row_drop =
                drop_counter(drops, open_row(s, batch, state->row, &state->row_time_us));
            state->row_open = true;
        }
        const char *name;
        const cJSON *member;
        if (!next_in_row(s, state, &name, &member)) {
            if (!next_row(state))
                break;
            continue;
        }
        batch->readings_done++;
        double value = 0;
        uint64_t *dropped = state->row_drop != NULL
                                ? state->row_drop
                                : drop_counter(drops, read_sensor(member, name, &value));
        if (dropped != NULL) {
            (*dropped)++;
            continue;
        }
        if (names != NULL)
            names[written] = name;
        records[written++] = (roda_reading_t){.value = value, .device_time_us = state->row_time_us};
    }
    if (written < max && batch->readings_done < batch->reading_count)
        *status = RODA_DECODE_MALFORMED; /* pass 1 counted more than there are: end the batch */
    return written;
}

bool roda_json_time_format_parse(const char *text, roda_json_time_format_t *format)
{
    static const char *const names[] = {[RODA_JSON_TIME_S] = "s",
                                        [RODA_JSON_TIME_MS] = "ms",
                                        [RODA_JSON_TIME_US] = "us",
                                        [RODA_JSON_TIME_RFC3339] = "rfc3339"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(text, names[i]) == 0) {
            *format = (roda_json_time_format_t)i;
            return true;
        }
    }
    return false;
}

/* `digits` decimal digits at *at into *value, advancing; false if any is not a digit. */
static bool digits_at(const char **at, const char *end, int digits, int *value)
{
    *value = 0;
    for (int i = 0; i < digits; i++, (*at)++) {
        if (*at == end || **at < '0' || **at > '9')
            return false;
        *value = *value * 10 + (**at - '0');
    }
    return true;
}

static bool take_char(const char **at, const char *end, const char *allowed)
{
    if (*at == end || **at == '\0' || strchr(allowed, **at) == NULL)
        return false;
    (*at)++;
    return true;
}

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t year, int month, int day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

bool roda_json_parse_rfc3339(const char *text, size_t length, int64_t *time_us)
{
    const char *at = text, *end = text + length;
    int year, month, day, hour, minute, second;
    if (!digits_at(&at, end, 4, &year) || !take_char(&at, end, "-") ||
        !digits_at(&at, end, 2, &month) || !take_char(&at, end, "-") ||
        !digits_at(&at, end, 2, &day) || !take_char(&at, end, "Tt ") ||
        !digits_at(&at, end, 2, &hour) || !take_char(&at, end, ":") ||
        !digits_at(&at, end, 2, &minute) || !take_char(&at, end, ":") ||
        !digits_at(&at, end, 2, &second))
        return false;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 60)
        return false;
    int64_t micros = 0;
    if (at != end && *at == '.') {
        at++;
        int scale = 100000, digits = 0;
        for (; at != end && *at >= '0' && *at <= '9'; at++, digits++) {
            micros += (*at - '0') * scale; /* digits past the microsecond are truncated */
            scale /= 10;
        }
        if (digits == 0)
            return false;
    }
    int64_t offset_s = 0;
    if (at != end && (*at == 'Z' || *at == 'z')) {
        at++;
    } else if (at != end && (*at == '+' || *at == '-')) {
        int sign = *at++ == '-' ? -1 : 1, offset_hours, offset_minutes;
        if (!digits_at(&at, end, 2, &offset_hours) || !take_char(&at, end, ":") ||
            !digits_at(&at, end, 2, &offset_minutes) || offset_hours > 23 || offset_minutes > 59)
            return false;
        offset_s = sign * (offset_hours * 3600 + offset_minutes * 60);
    } else {
        return false;
    }
    if (at != end)
        return false;
    int64_t seconds =
        days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s;
    *time_us = seconds * 1000000 + micros; /* years 0000-9999: far inside int64 */
    return true;
}

const roda_decoder_t roda_json_decoder = {
    .name = "json", .open = roda_json_decode_open, .readings = roda_json_decode_readings};
