/* roda_config.c - the loader: INI lines fed to libinih, each key handed to the schema or the rule
 * grammar, errors that name file:line:field, and the cross-field checks (see roda_config.h).
 *
 * libinih does not pass line numbers to the handler in Debian's build, so the parser feeds it
 * lines through its own reader (ini_parse_stream) and counts them; the reader also sees section
 * headers first, which catches empty unknown sections, duplicate rules, over-long and malformed
 * lines with the right line number. */
#include "roda_config.h"

#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "roda_config_internal.h"

typedef roda_config_parser_t parser_t;

void roda_config_report(parser_t *p, uint32_t line, const char *field, const char *format, ...)
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

static void begin_section(parser_t *p, const char *section)
{
    snprintf(p->section, sizeof p->section, "%s", section);
    p->section_line = p->line;
    p->section_kind = RODA_CONFIG_SECTION_SKIP;
    if (roda_config_lookup(section, roda_config_sections, RODA_CONFIG_SECTION_COUNT) >= 0)
        p->section_kind = RODA_CONFIG_SECTION_TABLE;
    else if (!roda_config_rule_section(p, section) && !roda_config_json_section(p, section))
        roda_config_report(p, p->line, section,
                           "unknown section [%s] (known: gateway, journal, limits, http, mqtt, "
                           "udp, nats, alertmanager, json, json.NAME, sparkplug, rule.NAME)",
                           section);
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
    parser_t *p = user;
    char field_name[128];
    snprintf(field_name, sizeof field_name, "%s.%s", section, key);
    if (p->section_kind == RODA_CONFIG_SECTION_NONE) {
        roda_config_report(p, p->line, key,
                           "key outside a section (put it under [gateway], [http], ...)");
        return 1;
    }
    if (p->section_kind == RODA_CONFIG_SECTION_SKIP)
        return 1;
    if (p->section_kind == RODA_CONFIG_SECTION_RULE) {
        roda_config_rule_key(p, key, value);
        return 1;
    }
    bool mapping = p->section_kind == RODA_CONFIG_SECTION_JSON;
    int i = roda_config_field_find(mapping ? "json" : section, key);
    uint32_t *lines = mapping ? p->mapping_line[p->mapping] : p->field_line;
    if (i < 0) {
        roda_config_report(p, p->line, field_name, "unknown key '%s' in [%s]", key, section);
    } else if (lines[i] != 0) {
        roda_config_report(p, p->line, field_name, "set twice (first on line %" PRIu32 ")",
                           lines[i]);
    } else {
        char why[RODA_CONFIG_LINE_MAX + 64];
        lines[i] = p->line;
        roda_config_field_t field =
            roda_config_mapping_field(&roda_config_fields[i], mapping ? p->mapping : 0);
        if (roda_config_value_set(p->config, &field, value, why, sizeof why) != RODA_SUCCESS)
            roda_config_report(p, p->line, field_name, "%s", why);
    }
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
        roda_config_report(p, p->line, "", "line longer than %d bytes", num - 2);
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
            roda_config_report(p, p->line, "", "section header without ']'");
            p->section_kind = RODA_CONFIG_SECTION_SKIP;
            str[0] = '\0';
            return str;
        }
        char section[RODA_CONFIG_LINE_MAX];
        snprintf(section, sizeof section, "%.*s", (int)(end - s - 1), s + 1);
        begin_section(p, section);
        return str;
    }
    if (strpbrk(s, "=:") == NULL) {
        roda_config_report(p, p->line, "", "expected 'key = value' or '[section]'");
        str[0] = '\0';
    }
    return str;
}

/* The line that set [section] key (0: left at its default). */
static uint32_t line_of(const parser_t *p, const char *section, const char *key)
{
    return p->field_line[roda_config_field_find(section, key)];
}

/* Segments follow the input journal unless given: a quarter of it (the defaults' ratio), at
 * least the schema's smallest segment. */
#define SEGMENTS_PER_INPUT 4u

static void finish(parser_t *p)
{
    roda_config_t *c = p->config;
    roda_config_rules_finish(p);
    roda_config_json_finish(p);
    if (line_of(p, "journal", "segment_records") == 0) {
        uint64_t least =
            (uint64_t)roda_config_fields[roda_config_field_find("journal", "segment_records")].min;
        c->journal.segment_records = c->journal.input_capacity / SEGMENTS_PER_INPUT;
        if (c->journal.segment_records < least)
            c->journal.segment_records = least;
    }
    if (c->journal.directory[0] != '\0' && c->journal.alert_directory[0] == '\0' &&
        snprintf(c->journal.alert_directory, sizeof c->journal.alert_directory, "%s/alerts",
                 c->journal.directory) >= (int)sizeof c->journal.alert_directory)
        roda_config_report(p, line_of(p, "journal", "directory"), "journal.directory",
                           "too long to hold the alert journal's directory (alerts/)");
    if (c->mqtt.enabled && c->mqtt.topic_count == 0)
        roda_config_report(
            p, line_of(p, "mqtt", "enabled"), "mqtt.topics",
            "missing required field (MQTT is enabled: give the topic filters to subscribe to)");
    if (c->udp.enabled && c->udp.bind_count == 0)
        roda_config_report(
            p, line_of(p, "udp", "enabled"), "udp.bind",
            "missing required field (UDP is enabled: give host:port addresses to bind)");
    if (c->http.sse_heartbeat_ns >= c->http.connection_timeout_ns)
        roda_config_report(
            p, line_of(p, "http", "sse_heartbeat"), "http.sse_heartbeat",
            "must be shorter than http.connection_timeout (quiet /alerts streams would be "
            "closed as idle)");
    if (c->limits.max_sse_clients > c->http.max_connections)
        roda_config_report(p, line_of(p, "limits", "max_sse_clients"), "limits.max_sse_clients",
                           "is greater than http.max_connections (each stream holds a connection)");
    if (c->limits.recent_alerts > c->journal.alert_capacity)
        roda_config_report(
            p, line_of(p, "limits", "recent_alerts"), "limits.recent_alerts",
            "is greater than journal.alert_capacity (recent alerts are read from the alert "
            "journal)");
    if (c->mqtt.reconnect_min_ns > c->mqtt.reconnect_max_ns)
        roda_config_report(p, line_of(p, "mqtt", "reconnect_min"), "mqtt.reconnect_min",
                           "is greater than mqtt.reconnect_max");
    if ((c->http.tls_cert_file[0] == '\0') != (c->http.tls_key_file[0] == '\0'))
        roda_config_report(
            p, line_of(p, "http", c->http.tls_cert_file[0] ? "tls_cert_file" : "tls_key_file"),
            c->http.tls_cert_file[0] ? "http.tls_key_file" : "http.tls_cert_file",
            "missing required field (HTTPS needs both tls_cert_file and tls_key_file)");
    if (c->http.tls_client_ca_file[0] != '\0' && c->http.tls_cert_file[0] == '\0')
        roda_config_report(p, line_of(p, "http", "tls_client_ca_file"), "http.tls_client_ca_file",
                           "needs HTTPS (tls_cert_file and tls_key_file): client certificates "
                           "are checked in the TLS handshake");
    if ((c->mqtt.cert_file[0] == '\0') != (c->mqtt.key_file[0] == '\0'))
        roda_config_report(
            p, line_of(p, "mqtt", c->mqtt.cert_file[0] ? "cert_file" : "key_file"),
            c->mqtt.cert_file[0] ? "mqtt.key_file" : "mqtt.cert_file",
            "missing required field (a client certificate needs both cert_file and key_file)");
    if (c->mqtt.device_from == RODA_DEVICE_FROM_TOPIC &&
        line_of(p, "mqtt", "device_topic_level") == 0)
        roda_config_report(
            p, line_of(p, "mqtt", "device_from"), "mqtt.device_topic_level",
            "missing required field (device_from = topic needs the topic level of the name)");
}

static roda_result_t run(parser_t *p, roda_config_errors_t *errors)
{
    ini_max_line = RODA_CONFIG_LINE_MAX;
    int result = ini_parse_stream(reader, p, handler, p);
    if (result > 0 && errors->total == 0)
        roda_config_report(p, (uint32_t)result, "", "syntax error");
    else if (result < 0)
        roda_config_report(p, 0, "", "cannot parse (out of memory)");
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
    struct stat status;
    if (p->file == NULL) {
        int error = errno;
        roda_config_report(p, 0, "", "cannot open: %s (check the path given with -c%s)",
                           strerror(error),
                           error == EACCES ? "; the file must be readable by the gateway's user "
                                             "(uid and gid in `id`), e.g. mode 640 and group roda"
                                           : "");
        result = RODA_ERROR_INVALID_ARG;
    } else if (fstat(fileno(p->file), &status) == 0 && S_ISDIR(status.st_mode)) {
        /* fopen opens a directory for reading, and reading it looks like an empty file. */
        roda_config_report(p, 0, "", "is a directory (-c takes the config file's path)");
        result = RODA_ERROR_INVALID_ARG;
        fclose(p->file);
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
