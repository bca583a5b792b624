/* roda_config.c - INI configuration through libinih: a table of fields, rule sections, and errors
 * that name file:line:field (see roda_config.h).
 *
 * libinih does not pass line numbers to the handler in Debian's build, so the parser feeds it
 * lines through its own reader (ini_parse_stream) and counts them; the reader also sees section
 * headers first, which catches empty unknown sections, duplicate rules, over-long and malformed
 * lines with the right line number. */
#include "roda_config.h"

#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "roda_output_sse.h"
#include "roda_http.h"
#include "roda_metrics.h"
#include "roda_reading.h"
#include "roda_summary.h"

typedef enum field_type {
    F_U32,      /* uint32_t in [min, max] */
    F_POW2,     /* uint64_t power of two in [min, max] */
    F_PORT,     /* uint16_t */
    F_BYTES,    /* uint64_t with K/M/G suffix */
    F_DURATION, /* uint64_t nanoseconds from ms/s/m/h */
    F_DOUBLE,   /* double in (min, max] */
    F_BOOL,
    F_TEXT,  /* char[size] */
    F_LIST,  /* char[max_items][size], count at count_offset */
    F_LEVEL, /* roda_log_level_t */
    F_DEVICE_SOURCE,
} field_type_t;

typedef struct field {
    const char *section;
    const char *key;
    field_type_t type;
    size_t offset;
    size_t size;         /* F_TEXT/F_LIST: bytes per string */
    size_t count_offset; /* F_LIST: uint32_t count */
    uint32_t max_items;  /* F_LIST */
    double min, max;     /* numeric bounds (durations and sizes in seconds/bytes) */
} field_t;

#define OFF(member) offsetof(roda_config_t, member)
#define SZ(member) sizeof(((roda_config_t *)0)->member)
#define U32(s, k, m, lo, hi)                                                                       \
    {                                                                                              \
        s, k, F_U32, OFF(m), 0, 0, 0, lo, hi                                                       \
    }
#define NUM(s, k, t, m, lo, hi)                                                                    \
    {                                                                                              \
        s, k, t, OFF(m), 0, 0, 0, lo, hi                                                           \
    }
#define TEXT(s, k, m)                                                                              \
    {                                                                                              \
        s, k, F_TEXT, OFF(m), SZ(m), 0, 0, 0, 0                                                    \
    }
#define LIST(s, k, m, c)                                                                           \
    {                                                                                              \
        s, k, F_LIST, OFF(m), SZ(m[0]), OFF(c), SZ(m) / SZ(m[0]), 0, 0                             \
    }
#define KIND(s, k, t, m)                                                                           \
    {                                                                                              \
        s, k, t, OFF(m), 0, 0, 0, 0, 0                                                             \
    }

static const field_t fields[] = {
    KIND("gateway", "log_level", F_LEVEL, log_level),
    NUM("gateway", "ewma_alpha", F_DOUBLE, ewma_alpha, 0, 1),
    NUM("gateway", "stale_tick", F_DURATION, stale_tick_ns, 0.01, 3600),
    NUM("journal", "input_capacity", F_POW2, journal.input_capacity, 1024, 1ull << 30),
    NUM("journal", "summary_capacity", F_POW2, journal.summary_capacity, 1024, 1ull << 30),
    NUM("journal", "alert_capacity", F_POW2, journal.alert_capacity, 64, 1ull << 30),
    TEXT("journal", "directory", journal.directory),
    NUM("journal", "segment_records", F_POW2, journal.segment_records, 512, 1ull << 30),
    U32("journal", "retained_segments", journal.retained_segments, 2, 1000000),
    U32("limits", "max_sensors", limits.max_sensors, 1, 100000000),
    U32("limits", "max_devices", limits.max_devices, 1, 10000000),
    U32("limits", "max_rules", limits.max_rules, 1, RODA_RULES_MAX),
    U32("limits", "max_sse_clients", limits.max_sse_clients, 1, 1024),
    U32("limits", "max_series", limits.max_series, 0, 10000000),
    NUM("limits", "series_staleness", F_DURATION, limits.series_staleness_ns, 0, 86400 * 7),
    U32("limits", "recent_alerts", limits.recent_alerts, 1, 100000),
    TEXT("http", "bind", http.bind),
    NUM("http", "port", F_PORT, http.port, 0, 65535),
    U32("http", "max_connections", http.max_connections, 4, 4096),
    NUM("http", "connection_timeout", F_DURATION, http.connection_timeout_ns, 1, 3600),
    NUM("http", "sse_heartbeat", F_DURATION, http.sse_heartbeat_ns, 0.1, 600),
    NUM("http", "request_memory", F_BYTES, http.request_memory, 8192, 1 << 20),
    KIND("mqtt", "enabled", F_BOOL, mqtt.enabled),
    TEXT("mqtt", "host", mqtt.host),
    NUM("mqtt", "port", F_PORT, mqtt.port, 1, 65535),
    TEXT("mqtt", "client_id", mqtt.client_id),
    LIST("mqtt", "topics", mqtt.topics, mqtt.topic_count),
    U32("mqtt", "qos", mqtt.qos, 0, 1),
    KIND("mqtt", "clean_session", F_BOOL, mqtt.clean_session),
    NUM("mqtt", "keepalive", F_DURATION, mqtt.keepalive_ns, 5, 3600),
    TEXT("mqtt", "username", mqtt.username),
    TEXT("mqtt", "password", mqtt.password),
    TEXT("mqtt", "ca_file", mqtt.ca_file),
    TEXT("mqtt", "cert_file", mqtt.cert_file),
    TEXT("mqtt", "key_file", mqtt.key_file),
    KIND("mqtt", "device_from", F_DEVICE_SOURCE, mqtt.device_from),
    U32("mqtt", "device_topic_level", mqtt.device_topic_level, 0, 31),
    NUM("mqtt", "reconnect_min", F_DURATION, mqtt.reconnect_min_ns, 0.01, 3600),
    NUM("mqtt", "reconnect_max", F_DURATION, mqtt.reconnect_max_ns, 0.01, 3600),
    TEXT("mqtt", "alert_topic", mqtt.alert_topic),
    U32("mqtt", "alert_qos", mqtt.alert_qos, 0, 1),
    KIND("udp", "enabled", F_BOOL, udp.enabled),
    LIST("udp", "bind", udp.binds, udp.bind_count),
    NUM("udp", "receive_buffer", F_BYTES, udp.receive_buffer, 4096, 1ull << 30),
    U32("udp", "max_datagram", udp.max_datagram, 64, 65507),
    U32("udp", "batch", udp.batch, 1, 1024),
};

#define FIELD_COUNT (sizeof fields / sizeof fields[0])
static const char *const sections[] = {"gateway", "journal", "limits", "http", "mqtt", "udp"};

/* Keys of a rule section. */
enum {
    R_KIND,
    R_SEVERITY,
    R_VALUE,
    R_THRESHOLD,
    R_FACTOR,
    R_AFTER,
    R_HYSTERESIS,
    R_HOLDOFF,
    R_SENSORS,
    R_DEVICES,
    R_COUNT
};
static const char *const rule_keys[R_COUNT] = {"kind",    "severity", "value",      "threshold",
                                               "factor",  "after",    "hysteresis", "holdoff",
                                               "sensors", "devices"};

typedef enum section_kind { SEC_NONE, SEC_TABLE, SEC_RULE, SEC_SKIP } section_kind_t;

typedef struct parser {
    roda_config_t *config;
    roda_config_errors_t *errors;
    const char *name;
    FILE *file;       /* or text: */
    const char *text; /* the rest of the string being parsed */
    uint32_t line;
    section_kind_t section_kind;
    char section[RODA_CONFIG_LINE_MAX];
    uint32_t section_line;
    int32_t rule; /* index of the open rule section */
    uint32_t field_line[FIELD_COUNT];
    uint32_t rule_line[RODA_RULES_MAX];
    uint32_t rule_key_line[RODA_RULES_MAX][R_COUNT];
} parser_t;

__attribute__((format(printf, 4, 5))) static void report(parser_t *p, uint32_t line,
                                                         const char *field, const char *format, ...)
{
    roda_config_errors_t *e = p->errors;
    e->total++;
    if (e->count == RODA_CONFIG_MAX_ERRORS)
        return;
    roda_config_error_t *item = &e->items[e->count++];
    snprintf(item->file, sizeof item->file, "%s", p->name);
    item->line = line;
    snprintf(item->field, sizeof item->field, "%s", field);
    va_list args;
    va_start(args, format);
    vsnprintf(item->message, sizeof item->message, format, args);
    va_end(args);
}

const char *roda_config_error_format(const roda_config_error_t *error, char *buf, size_t size)
{
    char line[16] = "";
    if (error->line != 0)
        snprintf(line, sizeof line, ":%" PRIu32, error->line);
    snprintf(buf, size, "%s%s: %s%s%s", error->file, line, error->field,
             error->field[0] != '\0' ? ": " : "", error->message);
    return buf;
}

void roda_config_log_errors(const roda_config_errors_t *errors)
{
    for (uint32_t i = 0; i < errors->count; i++) {
        const roda_config_error_t *e = &errors->items[i];
        char file[RODA_CONFIG_PATH_MAX + 16];
        char field[128];
        char message[256];
        roda_log(RODA_LOG_ERROR, "config error",
                 "file=%s line=%" PRIu32 " field=%s error=%s hint=\"fix the field, then check the "
                 "file with roda-gateway -c FILE --check-config\"",
                 roda_log_quote(file, sizeof file, e->file), e->line,
                 roda_log_quote(field, sizeof field, e->field),
                 roda_log_quote(message, sizeof message, e->message));
    }
    if (errors->total > errors->count)
        roda_log(RODA_LOG_ERROR, "config errors not shown",
                 "count=%" PRIu32 " hint=\"fix the errors above and check again\"",
                 errors->total - errors->count);
}

void roda_config_defaults(roda_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->log_level = RODA_LOG_INFO;
    c->ewma_alpha = RODA_SUMMARY_DEFAULT_ALPHA;
    c->stale_tick_ns = 1000000000ull;
    c->journal.input_capacity = 1u << 20;
    c->journal.summary_capacity = 1u << 20;
    c->journal.alert_capacity = 1u << 16;
    c->journal.segment_records = 1u << 18;
    c->journal.retained_segments = 16;
    c->limits.max_sensors = 100000;
    c->limits.max_devices = 10000;
    c->limits.max_rules = 16;
    c->limits.max_sse_clients = 16;
    c->limits.max_series = 10000;
    c->limits.series_staleness_ns = 300000000000ull;
    c->limits.recent_alerts = 1000;
    snprintf(c->http.bind, sizeof c->http.bind, "127.0.0.1");
    c->http.port = 9464;
    c->http.max_connections = 64;
    c->http.connection_timeout_ns = 30000000000ull;
    c->http.sse_heartbeat_ns = 15000000000ull;
    c->http.request_memory = 32768;
    snprintf(c->mqtt.host, sizeof c->mqtt.host, "127.0.0.1");
    c->mqtt.port = 1883;
    snprintf(c->mqtt.client_id, sizeof c->mqtt.client_id, "roda-gateway");
    c->mqtt.qos = 1;
    c->mqtt.keepalive_ns = 30000000000ull;
    c->mqtt.reconnect_min_ns = 100000000ull;
    c->mqtt.reconnect_max_ns = 30000000000ull;
    c->mqtt.alert_qos = 1;
    c->udp.receive_buffer = 32u << 20;
    c->udp.max_datagram = 1472;
    c->udp.batch = 64;
}

/* ---- Values ------------------------------------------------------------------------------ */

/* Decimal unsigned integer, the whole text. NULL or a static reason. */
static const char *parse_u64(const char *text, uint64_t *out)
{
    if (text[0] < '0' || text[0] > '9')
        return "is not a non-negative integer";
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno == ERANGE)
        return "is too large";
    if (*end != '\0')
        return "is not a non-negative integer";
    *out = v;
    return NULL;
}

static const char *parse_double(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v))
        return "is not a finite number";
    *out = v;
    return NULL;
}

/* A number followed by a unit from `units` (NULL-terminated names with their scale). */
static const char *parse_scaled(const char *text, const char *const *names, const double *scales,
                                double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno == ERANGE || !isfinite(v) || text[0] == '-' || text[0] == '+')
        return NULL; /* reported by the caller with its own wording */
    for (size_t i = 0; names[i] != NULL; i++) {
        if (strcmp(end, names[i]) == 0) {
            *out = v * scales[i];
            return "";
        }
    }
    return NULL;
}

static const char *parse_duration(const char *text, double *seconds)
{
    static const char *const names[] = {"", "ms", "s", "m", "h", NULL};
    static const double scales[] = {1, 1e-3, 1, 60, 3600};
    return parse_scaled(text, names, scales, seconds)
               ? NULL
               : "is not a duration (a number with ms, s, m or h, e.g. 30s)";
}

static const char *parse_bytes(const char *text, double *bytes)
{
    static const char *const names[] = {"", "K", "KiB", "M", "MiB", "G", "GiB", NULL};
    static const double scales[] = {1, 1024, 1024, 1048576, 1048576, 1073741824, 1073741824};
    if (parse_scaled(text, names, scales, bytes) == NULL || *bytes != floor(*bytes))
        return "is not a byte size (an integer with an optional K, M or G, e.g. 32M)";
    return NULL;
}

static const char *parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(text, yes[i]) == 0 || strcmp(text, no[i]) == 0) {
            *out = strcmp(text, yes[i]) == 0;
            return NULL;
        }
    }
    return "is not a boolean (true or false)";
}

/* Index of `text` in `names` (count entries), or -1. */
static int lookup(const char *text, const char *const *names, int count)
{
    for (int i = 0; i < count; i++) {
        if (strcmp(text, names[i]) == 0)
            return i;
    }
    return -1;
}

/* Splits a comma-separated list into fixed-size strings. NULL or a reason. */
static const char *parse_list(const char *text, char *items, size_t item_size, uint32_t max_items,
                              uint32_t *count)
{
    uint32_t n = 0;
    const char *p = text;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *start = p;
        while (*p != '\0' && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end == start)
            return "has an empty list item";
        if (n == max_items)
            return "has too many items";
        if ((size_t)(end - start) >= item_size)
            return "has an item that is too long";
        memcpy(items + n * item_size, start, (size_t)(end - start));
        items[n * item_size + (size_t)(end - start)] = '\0';
        n++;
        if (*p == ',')
            p++;
    }
    if (n == 0)
        return "is an empty list";
    *count = n;
    return NULL;
}

static void format_range(char *buf, size_t size, const field_t *f)
{
    if (f->type == F_DURATION)
        snprintf(buf, size, "%gs .. %gs", f->min, f->max);
    else if (f->type == F_DOUBLE)
        snprintf(buf, size, "greater than %g, at most %g", f->min, f->max);
    else
        snprintf(buf, size, "%.0f .. %.0f", f->min, f->max);
}

static void set_field(parser_t *p, const field_t *f, const char *value, const char *field_name)
{
    char *base = (char *)p->config + f->offset;
    const char *why = NULL;
    double number = 0;
    bool numeric = false;
    uint64_t u = 0;
    switch (f->type) {
    case F_U32:
    case F_POW2:
    case F_PORT:
        why = parse_u64(value, &u);
        number = (double)u;
        numeric = true;
        break;
    case F_BYTES:
        why = parse_bytes(value, &number);
        numeric = true;
        break;
    case F_DURATION:
        why = parse_duration(value, &number);
        numeric = true;
        break;
    case F_DOUBLE:
        why = parse_double(value, &number);
        numeric = true;
        break;
    case F_BOOL:
        why = parse_bool(value, (bool *)base);
        break;
    case F_TEXT:
        if (strlen(value) >= f->size)
            why = "is too long";
        else
            snprintf(base, f->size, "%s", value);
        break;
    case F_LIST:
        why = parse_list(value, base, f->size, f->max_items,
                         (uint32_t *)((char *)p->config + f->count_offset));
        break;
    case F_LEVEL: {
        roda_log_level_t level;
        if (roda_log_level_parse(value, &level) != 0)
            why = "is not a log level (debug, info, warn or error)";
        else
            *(roda_log_level_t *)base = level;
        break;
    }
    case F_DEVICE_SOURCE: {
        static const char *const names[] = {"payload", "topic"};
        int i = lookup(value, names, 2);
        if (i < 0)
            why = "is not a device source (payload or topic)";
        else
            *(roda_device_source_t *)base = (roda_device_source_t)i;
        break;
    }
    }
    if (why != NULL) {
        report(p, p->line, field_name, "'%s' %s", value, why);
        return;
    }
    if (!numeric)
        return;
    bool low = f->type == F_DOUBLE ? number <= f->min : number < f->min;
    if (low || number > f->max) {
        char range[64];
        format_range(range, sizeof range, f);
        report(p, p->line, field_name, "'%s' is out of range (%s)", value, range);
        return;
    }
    if (f->type == F_POW2 && (u & (u - 1)) != 0) {
        report(p, p->line, field_name, "'%s' is not a power of two (e.g. %" PRIu64 ")", value,
               (uint64_t)1 << (63 - __builtin_clzll(u)));
        return;
    }
    switch (f->type) {
    case F_U32:
        *(uint32_t *)base = (uint32_t)u;
        break;
    case F_POW2:
        *(uint64_t *)base = u;
        break;
    case F_PORT:
        *(uint16_t *)base = (uint16_t)u;
        break;
    case F_BYTES:
        *(uint64_t *)base = (uint64_t)number;
        break;
    case F_DURATION:
        *(uint64_t *)base = (uint64_t)llround(number * 1e9);
        break;
    case F_DOUBLE:
        memcpy(base, &number, sizeof number);
        break;
    default:
        break;
    }
}

/* ---- Rules ------------------------------------------------------------------------------- */

static void set_rule_key(parser_t *p, roda_rule_t *rule, int key, const char *value,
                         const char *field_name)
{
    const char *why = NULL;
    double number;
    switch (key) {
    case R_KIND: {
        static const char *const kinds[] = {"above", "below", "jump", "rate", "stale"};
        int i = lookup(value, kinds, RODA_RULE_KIND_COUNT);
        if (i < 0)
            why = "is not a rule kind (above, below, jump, rate or stale)";
        else
            rule->kind = (roda_rule_kind_t)i;
        break;
    }
    case R_SEVERITY: {
        static const char *const severities[] = {"info", "warning", "critical"};
        int i = lookup(value, severities, RODA_SEVERITY_COUNT);
        if (i < 0)
            why = "is not a severity (info, warning or critical)";
        else
            rule->severity = (roda_severity_t)i;
        break;
    }
    case R_VALUE: {
        static const char *const values[] = {"last", "mean", "ewma"};
        int i = lookup(value, values, 3);
        if (i < 0)
            why = "is not a summary value (last, mean or ewma)";
        else
            rule->value = (roda_rule_value_t)i;
        break;
    }
    case R_THRESHOLD:
    case R_FACTOR:
        why = parse_double(value, &rule->threshold);
        break;
    case R_HYSTERESIS:
        why = parse_double(value, &rule->hysteresis);
        if (why == NULL && rule->hysteresis < 0)
            why = "is out of range (>= 0)";
        break;
    case R_AFTER:
        why = parse_duration(value, &number);
        if (why == NULL && !(number > 0))
            why = "is out of range (greater than 0s)";
        if (why == NULL)
            rule->threshold = number;
        break;
    case R_HOLDOFF:
        why = parse_duration(value, &number);
        if (why == NULL && number > 86400)
            why = "is out of range (0s .. 24h)";
        if (why == NULL)
            rule->holdoff_ns = (uint64_t)llround(number * 1e9);
        break;
    case R_SENSORS: {
        char ids[RODA_RULE_MAX_SENSOR_IDS][24];
        uint32_t n = 0;
        why = parse_list(value, &ids[0][0], sizeof ids[0], RODA_RULE_MAX_SENSOR_IDS, &n);
        for (uint32_t i = 0; why == NULL && i < n; i++) {
            why = parse_u64(ids[i], &rule->sensors[i]);
            if (why != NULL) {
                report(p, p->line, field_name, "item '%s' %s", ids[i], why);
                return;
            }
        }
        if (why == NULL)
            rule->sensor_count = n;
        break;
    }
    case R_DEVICES:
        if (strlen(value) >= RODA_RULE_GLOB_MAX)
            why = "is too long (63 bytes at most)";
        else
            snprintf(rule->device_glob, sizeof rule->device_glob, "%s", value);
        break;
    }
    if (why != NULL)
        report(p, p->line, field_name, "'%s' %s", value, why);
}

/* Rule name from "rule.NAME" or `rule "NAME"`; NULL when the header is not a rule section. */
static const char *rule_name(const char *section, char *name, size_t size, const char **why)
{
    *why = NULL;
    const char *start;
    size_t len;
    if (strncmp(section, "rule.", 5) == 0) {
        start = section + 5;
        len = strlen(start);
    } else if (strncmp(section, "rule ", 5) == 0 || strncmp(section, "rule\t", 5) == 0) {
        start = section + 5;
        while (*start == ' ' || *start == '\t')
            start++;
        len = strlen(start);
        if (len < 2 || start[0] != '"' || start[len - 1] != '"') {
            *why = "a rule section is [rule.NAME] or [rule \"NAME\"]";
            return name;
        }
        start++;
        len -= 2;
    } else {
        return NULL;
    }
    if (len == 0 || len >= size) {
        *why = "a rule name has 1 to 47 bytes";
        return name;
    }
    for (size_t i = 0; i < len; i++) {
        if (start[i] == '"' || (unsigned char)start[i] < 0x20) {
            *why = "a rule name cannot hold quotes or control characters";
            return name;
        }
    }
    memcpy(name, start, len);
    name[len] = '\0';
    return name;
}

static void begin_section(parser_t *p, const char *section)
{
    snprintf(p->section, sizeof p->section, "%s", section);
    p->section_line = p->line;
    p->section_kind = SEC_SKIP;
    if (lookup(section, sections, (int)(sizeof sections / sizeof sections[0])) >= 0) {
        p->section_kind = SEC_TABLE;
        return;
    }
    char name[RODA_RULE_NAME_MAX];
    const char *why;
    if (rule_name(section, name, sizeof name, &why) == NULL) {
        report(p, p->line, section,
               "unknown section [%s] (known: gateway, journal, limits, http, mqtt, udp, rule.NAME)",
               section);
        return;
    }
    if (why != NULL) {
        report(p, p->line, section, "bad rule section: %s", why);
        return;
    }
    roda_config_t *c = p->config;
    for (uint32_t i = 0; i < c->rule_count; i++) {
        if (strcmp(c->rules[i].name, name) == 0) {
            report(p, p->line, section, "duplicate rule '%s' (first defined on line %" PRIu32 ")",
                   name, p->rule_line[i]);
            return;
        }
    }
    if (c->rule_count == RODA_RULES_MAX) {
        report(p, p->line, section, "too many rules (at most %d)", RODA_RULES_MAX);
        return;
    }
    p->rule = (int32_t)c->rule_count++;
    p->rule_line[p->rule] = p->line;
    roda_rule_t *rule = &c->rules[p->rule];
    memset(rule, 0, sizeof *rule);
    snprintf(rule->name, sizeof rule->name, "%s", name);
    rule->kind = RODA_RULE_KIND_COUNT; /* "not set", checked at the end */
    rule->severity = RODA_SEVERITY_WARNING;
    p->section_kind = SEC_RULE;
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
    parser_t *p = user;
    char field_name[128];
    snprintf(field_name, sizeof field_name, "%s.%s", section, key);
    if (p->section_kind == SEC_NONE) {
        report(p, p->line, key, "key outside a section (put it under [gateway], [http], ...)");
        return 1;
    }
    if (p->section_kind == SEC_SKIP)
        return 1;
    if (p->section_kind == SEC_RULE) {
        roda_rule_t *rule = &p->config->rules[p->rule];
        snprintf(field_name, sizeof field_name, "rule.%s.%s", rule->name, key);
        int k = lookup(key, rule_keys, R_COUNT);
        if (k < 0) {
            report(p, p->line, field_name,
                   "unknown key '%s' (known: kind, severity, value, threshold, factor, after, "
                   "hysteresis, holdoff, sensors, devices)",
                   key);
        } else if (p->rule_key_line[p->rule][k] != 0) {
            report(p, p->line, field_name, "set twice (first on line %" PRIu32 ")",
                   p->rule_key_line[p->rule][k]);
        } else {
            p->rule_key_line[p->rule][k] = p->line;
            set_rule_key(p, rule, k, value, field_name);
        }
        return 1;
    }
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        if (strcmp(fields[i].section, section) != 0 || strcmp(fields[i].key, key) != 0)
            continue;
        if (p->field_line[i] != 0) {
            report(p, p->line, field_name, "set twice (first on line %" PRIu32 ")",
                   p->field_line[i]);
            return 1;
        }
        p->field_line[i] = p->line;
        set_field(p, &fields[i], value, field_name);
        return 1;
    }
    report(p, p->line, field_name, "unknown key '%s' in [%s]", key, section);
    return 1;
}

/* Returns the next line for libinih (NULL at the end), counting lines and checking headers and
 * shapes first. */
static char *reader(char *str, int num, void *stream)
{
    parser_t *p = stream;
    size_t len = 0;
    size_t max = (size_t)num - 1;
    bool too_long = false;
    bool any = false;
    for (;;) {
        int c;
        if (p->file != NULL) {
            c = fgetc(p->file);
        } else {
            c = *p->text != '\0' ? (unsigned char)*p->text : EOF;
            if (c != EOF)
                p->text++;
        }
        if (c == EOF)
            break;
        any = true;
        if (c == '\n')
            break;
        if (len < max)
            str[len++] = (char)c;
        else
            too_long = true;
    }
    if (!any)
        return NULL;
    p->line++;
    str[len] = '\0';
    if (too_long) {
        report(p, p->line, "", "line longer than %d bytes", num - 2);
        str[0] = '\0';
        return str;
    }
    const char *s = str;
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    if (*s == '\0' || *s == ';' || *s == '#')
        return str;
    if (*s == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL) {
            report(p, p->line, "", "section header without ']'");
            p->section_kind = SEC_SKIP;
            str[0] = '\0';
            return str;
        }
        char section[RODA_CONFIG_LINE_MAX];
        snprintf(section, sizeof section, "%.*s", (int)(end - s - 1), s + 1);
        begin_section(p, section);
        return str;
    }
    if (strpbrk(s, "=:") == NULL) {
        report(p, p->line, "", "expected 'key = value' or '[section]'");
        str[0] = '\0';
    }
    return str;
}

static void require(parser_t *p, uint32_t r, int key, const char *what)
{
    char field[128];
    snprintf(field, sizeof field, "rule.%s.%s", p->config->rules[r].name, rule_keys[key]);
    report(p, p->rule_line[r], field, "missing required field (%s)", what);
}

static void finish_rules(parser_t *p)
{
    roda_config_t *c = p->config;
    for (uint32_t r = 0; r < c->rule_count; r++) {
        roda_rule_t *rule = &c->rules[r];
        const uint32_t *seen = p->rule_key_line[r];
        char field[128];
        if (rule->kind == RODA_RULE_KIND_COUNT) {
            if (seen[R_KIND] == 0)
                require(p, r, R_KIND, "above, below, jump, rate or stale");
            continue;
        }
        /* Which of threshold/factor/after the kind takes. */
        int wanted = rule->kind == RODA_RULE_JUMP    ? R_FACTOR
                     : rule->kind == RODA_RULE_STALE ? R_AFTER
                                                     : R_THRESHOLD;
        for (int k = R_THRESHOLD; k <= R_AFTER; k++) {
            if (k != wanted && seen[k] != 0) {
                snprintf(field, sizeof field, "rule.%s.%s", rule->name, rule_keys[k]);
                report(p, seen[k], field, "does not apply to kind %s (use %s)",
                       roda_rule_kind_name(rule->kind), rule_keys[wanted]);
            }
        }
        if (seen[wanted] == 0) {
            require(p, r, wanted,
                    wanted == R_FACTOR  ? "the jump factor, e.g. 1.5"
                    : wanted == R_AFTER ? "how long without a reading, e.g. 30s"
                                        : "the limit to compare with");
            continue;
        }
        if (rule->kind == RODA_RULE_STALE && seen[R_VALUE] != 0) {
            snprintf(field, sizeof field, "rule.%s.value", rule->name);
            report(p, seen[R_VALUE], field, "does not apply to kind stale");
        }
        if (rule->kind == RODA_RULE_JUMP && seen[R_VALUE] == 0)
            rule->value = RODA_RULE_VALUE_MEAN;
        if (rule->sensor_count > 0 && rule->device_glob[0] != '\0') {
            snprintf(field, sizeof field, "rule.%s.devices", rule->name);
            report(p, seen[R_DEVICES], field, "give either sensors or devices, not both");
        }
        const char *why;
        if (roda_rule_validate(rule, &why) != RODA_SUCCESS) {
            int key = strstr(why, "hysteresis") != NULL ? R_HYSTERESIS : wanted;
            snprintf(field, sizeof field, "rule.%s.%s", rule->name, rule_keys[key]);
            report(p, seen[key] != 0 ? seen[key] : p->rule_line[r], field, "%s", why);
        }
        if (r >= c->limits.max_rules) {
            report(p, p->rule_line[r], "limits.max_rules",
                   "rule '%s' is past limits.max_rules (%" PRIu32 "); raise it", rule->name,
                   c->limits.max_rules);
        }
    }
}

static uint32_t line_of(const parser_t *p, const char *section, const char *key)
{
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        if (strcmp(fields[i].section, section) == 0 && strcmp(fields[i].key, key) == 0)
            return p->field_line[i];
    }
    return 0;
}

static void finish(parser_t *p)
{
    roda_config_t *c = p->config;
    finish_rules(p);
    if (c->mqtt.enabled && c->mqtt.topic_count == 0)
        report(p, line_of(p, "mqtt", "enabled"), "mqtt.topics",
               "missing required field (MQTT is enabled: give the topic filters to subscribe to)");
    if (c->udp.enabled && c->udp.bind_count == 0)
        report(p, line_of(p, "udp", "enabled"), "udp.bind",
               "missing required field (UDP is enabled: give host:port addresses to bind)");
    if (c->http.sse_heartbeat_ns >= c->http.connection_timeout_ns)
        report(p, line_of(p, "http", "sse_heartbeat"), "http.sse_heartbeat",
               "must be shorter than http.connection_timeout (quiet /alerts streams would be "
               "closed as idle)");
    if (c->limits.max_sse_clients > c->http.max_connections)
        report(p, line_of(p, "limits", "max_sse_clients"), "limits.max_sse_clients",
               "is greater than http.max_connections (each stream holds a connection)");
    if (c->limits.recent_alerts > c->journal.alert_capacity)
        report(p, line_of(p, "limits", "recent_alerts"), "limits.recent_alerts",
               "is greater than journal.alert_capacity (recent alerts are read from the alert "
               "journal)");
    if (c->mqtt.reconnect_min_ns > c->mqtt.reconnect_max_ns)
        report(p, line_of(p, "mqtt", "reconnect_min"), "mqtt.reconnect_min",
               "is greater than mqtt.reconnect_max");
    if ((c->mqtt.cert_file[0] == '\0') != (c->mqtt.key_file[0] == '\0'))
        report(p, line_of(p, "mqtt", c->mqtt.cert_file[0] ? "cert_file" : "key_file"),
               c->mqtt.cert_file[0] ? "mqtt.key_file" : "mqtt.cert_file",
               "missing required field (a client certificate needs both cert_file and key_file)");
    if (c->mqtt.device_from == RODA_DEVICE_FROM_TOPIC &&
        line_of(p, "mqtt", "device_topic_level") == 0)
        report(p, line_of(p, "mqtt", "device_from"), "mqtt.device_topic_level",
               "missing required field (device_from = topic needs the topic level of the name)");
}

static roda_result_t run(parser_t *p, roda_config_errors_t *errors)
{
    ini_max_line = RODA_CONFIG_LINE_MAX;
    int result = ini_parse_stream(reader, p, handler, p);
    if (result > 0 && errors->total == 0)
        report(p, (uint32_t)result, "", "syntax error");
    else if (result < 0)
        report(p, 0, "", "cannot parse (out of memory)");
    finish(p);
    return errors->total == 0 ? RODA_SUCCESS : RODA_ERROR_INVALID_ARG;
}

static void parser_start(parser_t *p, const char *name, roda_config_t *config,
                         roda_config_errors_t *errors)
{
    memset(p, 0, sizeof *p);
    memset(errors, 0, sizeof *errors);
    roda_config_defaults(config);
    snprintf(config->source, sizeof config->source, "%s", name);
    p->config = config;
    p->errors = errors;
    p->name = name;
    p->rule = -1;
}

roda_result_t roda_config_load(const char *path, roda_config_t *config,
                               roda_config_errors_t *errors)
{
    parser_t *p = malloc(sizeof *p);
    if (p == NULL)
        return RODA_ERROR_NOMEM;
    parser_start(p, path, config, errors);
    p->file = fopen(path, "r");
    roda_result_t result;
    if (p->file == NULL) {
        report(p, 0, "", "cannot open: %s (check the path given with -c)", strerror(errno));
        result = RODA_ERROR_INVALID_ARG;
    } else {
        result = run(p, errors);
        fclose(p->file);
    }
    free(p);
    return result;
}

roda_result_t roda_config_load_string(const char *text, const char *name, roda_config_t *config,
                                      roda_config_errors_t *errors)
{
    parser_t *p = malloc(sizeof *p);
    if (p == NULL)
        return RODA_ERROR_NOMEM;
    parser_start(p, name, config, errors);
    p->text = text;
    roda_result_t result = run(p, errors);
    free(p);
    return result;
}

/* ---- Reload -------------------------------------------------------------------------------- */

/* Bytes a field occupies in roda_config_t. */
static size_t field_bytes(const field_t *f)
{
    switch (f->type) {
    case F_U32:
        return sizeof(uint32_t);
    case F_PORT:
        return sizeof(uint16_t);
    case F_BOOL:
        return sizeof(bool);
    case F_TEXT:
        return f->size;
    case F_LIST:
        return f->size * f->max_items;
    case F_LEVEL:
        return sizeof(roda_log_level_t);
    case F_DEVICE_SOURCE:
        return sizeof(roda_device_source_t);
    default:
        return sizeof(uint64_t); /* F_POW2, F_BYTES, F_DURATION, F_DOUBLE */
    }
}

static bool field_equal(const roda_config_t *a, const roda_config_t *b, const field_t *f)
{
    const char *x = (const char *)a + f->offset;
    const char *y = (const char *)b + f->offset;
    if (f->type == F_TEXT)
        return strcmp(x, y) == 0;
    if (f->type == F_LIST) {
        uint32_t n = *(const uint32_t *)((const char *)a + f->count_offset);
        if (n != *(const uint32_t *)((const char *)b + f->count_offset))
            return false;
        for (uint32_t i = 0; i < n; i++) {
            if (strcmp(x + i * f->size, y + i * f->size) != 0)
                return false;
        }
        return true;
    }
    return memcmp(x, y, field_bytes(f)) == 0;
}

bool roda_config_reload_check(const roda_config_t *current, const roda_config_t *next, char *field,
                              size_t size)
{
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        const field_t *f = &fields[i];
        if (f->type == F_LEVEL || field_equal(current, next, f))
            continue;
        snprintf(field, size, "%s.%s", f->section, f->key);
        return false;
    }
    field[0] = '\0';
    return true;
}

/* ---- Memory plan and printing ------------------------------------------------------------ */

/* Slots of an open-addressing key table for `keys` keys: a power of two >= 2 * keys, 16 bytes
 * each (key and index): the load factor the key table keeps. */
static uint64_t key_table_bytes(uint64_t keys)
{
    uint64_t slots = 2;
    while (slots < 2 * keys)
        slots <<= 1;
    return slots * 16;
}

__attribute__((format(printf, 4, 5))) static void
plan_add(roda_memory_plan_t *plan, const char *name, uint64_t bytes, const char *format, ...)
{
    roda_memory_item_t *item = &plan->items[plan->count++];
    item->name = name;
    item->bytes = bytes;
    va_list args;
    va_start(args, format);
    vsnprintf(item->detail, sizeof item->detail, format, args);
    va_end(args);
    plan->total += bytes;
}

void roda_config_memory_plan(const roda_config_t *c, roda_memory_plan_t *plan)
{
    memset(plan, 0, sizeof *plan);
    uint64_t sensors = c->limits.max_sensors;
    plan_add(plan, "journal input", c->journal.input_capacity * sizeof(roda_reading_t),
             "%" PRIu64 " records x %zu B", c->journal.input_capacity, sizeof(roda_reading_t));
    plan_add(plan, "journal summary", c->journal.summary_capacity * sizeof(roda_summary_t),
             "%" PRIu64 " records x %zu B", c->journal.summary_capacity, sizeof(roda_summary_t));
    plan_add(plan, "journal alert", c->journal.alert_capacity * sizeof(roda_alert_t),
             "%" PRIu64 " records x %zu B", c->journal.alert_capacity, sizeof(roda_alert_t));
    plan_add(plan, "stateful state", sensors * sizeof(roda_summary_t) + key_table_bytes(sensors),
             "%" PRIu64 " sensors x %zu B + key table", sensors, sizeof(roda_summary_t));
    plan_add(plan, "rules previous", sensors * sizeof(roda_summary_t) + key_table_bytes(sensors),
             "%" PRIu64 " sensors x %zu B + key table", sensors, sizeof(roda_summary_t));
    /* A slot is an 8-byte sequence and the summary, padded to whole 64-byte lines. */
    uint64_t slot_bytes = (8 + sizeof(roda_summary_t) + 63) / 64 * 64;
    plan_add(plan, "summary slots", sensors * slot_bytes,
             "%" PRIu64 " sensors x %" PRIu64 " B (seqlock slots)", sensors, slot_bytes);
    uint64_t directory_entries = 2;
    while (directory_entries < 2 * sensors)
        directory_entries <<= 1;
    plan_add(plan, "sensor directory", directory_entries * 16 + sensors * 12,
             "%" PRIu64 " entries x 16 B + %" PRIu64 " sensors x 12 B (id -> slot for HTTP)",
             directory_entries, sensors);
    plan_add(plan, "rule state", roda_rules_memory(c->limits.max_rules, c->limits.max_sensors),
             "%" PRIu32 " rules x %" PRIu64 " sensors", c->limits.max_rules, sensors);
    plan_add(plan, "device registry", (uint64_t)c->limits.max_devices * 64,
             "%" PRIu32 " devices x 64 B names", c->limits.max_devices);
    plan_add(plan, "metrics buffer", roda_metrics_buffer_size(c->limits.max_series),
             "%u B + %" PRIu32 " series x %u B", RODA_METRICS_BASE_BYTES, c->limits.max_series,
             RODA_METRICS_SERIES_BYTES);
    plan_add(plan, "sse clients",
             (uint64_t)c->limits.max_sse_clients *
                 (RODA_HTTP_SSE_CLIENT_BYTES + RODA_ALERT_STREAM_CLIENT_BYTES),
             "%" PRIu32 " clients x (%zu B HTTP + %u B journal cursor)", c->limits.max_sse_clients,
             (size_t)RODA_HTTP_SSE_CLIENT_BYTES, RODA_ALERT_STREAM_CLIENT_BYTES);
    plan_add(plan, "http stacks", (uint64_t)c->http.max_connections * RODA_HTTP_THREAD_STACK,
             "%" PRIu32 " connections x %u KiB (reserved; only touched pages are resident)",
             c->http.max_connections, RODA_HTTP_THREAD_STACK / 1024u);
}

static void print_duration(FILE *out, uint64_t ns)
{
    if (ns % 1000000000ull == 0)
        fprintf(out, "%" PRIu64 "s", ns / UINT64_C(1000000000));
    else
        fprintf(out, "%gms", (double)ns / 1e6);
}

static void print_field(FILE *out, const roda_config_t *c, const field_t *f)
{
    const char *base = (const char *)c + f->offset;
    fprintf(out, "%s = ", f->key);
    switch (f->type) {
    case F_U32:
        fprintf(out, "%" PRIu32, *(const uint32_t *)base);
        break;
    case F_POW2:
    case F_BYTES:
        fprintf(out, "%" PRIu64, *(const uint64_t *)base);
        break;
    case F_PORT:
        fprintf(out, "%u", (unsigned)*(const uint16_t *)base);
        break;
    case F_DURATION:
        print_duration(out, *(const uint64_t *)base);
        break;
    case F_DOUBLE: {
        double value;
        memcpy(&value, base, sizeof value);
        fprintf(out, "%g", value);
    } break;
    case F_BOOL:
        fprintf(out, "%s", *(const bool *)base ? "true" : "false");
        break;
    case F_TEXT:
        fprintf(out, "%s",
                base == (const char *)c->mqtt.password && base[0] != '\0' ? "********" : base);
        break;
    case F_LIST: {
        uint32_t n = *(const uint32_t *)((const char *)c + f->count_offset);
        for (uint32_t i = 0; i < n; i++)
            fprintf(out, "%s%s", i > 0 ? ", " : "", base + i * f->size);
        break;
    }
    case F_LEVEL:
        fprintf(out, "%s", roda_log_level_name(*(const roda_log_level_t *)base));
        break;
    case F_DEVICE_SOURCE:
        fprintf(out, "%s",
                *(const roda_device_source_t *)base == RODA_DEVICE_FROM_TOPIC ? "topic"
                                                                              : "payload");
        break;
    }
    fputc('\n', out);
}

static void print_rule(FILE *out, const roda_rule_t *rule)
{
    fprintf(out, "\n[rule.%s]\nkind = %s\nseverity = %s\n", rule->name,
            roda_rule_kind_name(rule->kind), roda_severity_name(rule->severity));
    if (rule->kind == RODA_RULE_STALE) {
        fprintf(out, "after = %gs\n", rule->threshold);
    } else {
        fprintf(out, "value = %s\n%s = %g\nhysteresis = %g\n", roda_rule_value_name(rule->value),
                rule->kind == RODA_RULE_JUMP ? "factor" : "threshold", rule->threshold,
                rule->hysteresis);
    }
    fprintf(out, "holdoff = ");
    print_duration(out, rule->holdoff_ns);
    fputc('\n', out);
    if (rule->sensor_count > 0) {
        fprintf(out, "sensors = ");
        for (uint32_t i = 0; i < rule->sensor_count; i++)
            fprintf(out, "%s%" PRIu64, i > 0 ? ", " : "", rule->sensors[i]);
        fputc('\n', out);
    } else {
        fprintf(out, "devices = %s\n", rule->device_glob[0] != '\0' ? rule->device_glob : "*");
    }
}

void roda_config_print(const roda_config_t *c, FILE *out)
{
    fprintf(out, "; effective configuration of %s\n", c->source);
    const char *section = "";
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        if (strcmp(section, fields[i].section) != 0) {
            section = fields[i].section;
            fprintf(out, "%s[%s]\n", i > 0 ? "\n" : "", section);
        }
        print_field(out, c, &fields[i]);
    }
    for (uint32_t r = 0; r < c->rule_count; r++)
        print_rule(out, &c->rules[r]);
    roda_memory_plan_t plan;
    roda_config_memory_plan(c, &plan);
    fprintf(out, "\n; memory plan: preallocated at start, nothing more on the data path\n");
    for (uint32_t i = 0; i < plan.count; i++)
        fprintf(out, ";   %-16s %12.1f KiB  (%s)\n", plan.items[i].name,
                (double)plan.items[i].bytes / 1024.0, plan.items[i].detail);
    fprintf(out, ";   %-16s %12.1f MiB\n", "total", (double)plan.total / (1024.0 * 1024.0));
}
