/* roda_config_json.c - the JSON mappings' sections: [json.NAME] opened beside [json], and the
 * checks after the file that tie each mapping to the formats naming it (see roda_config.h). */
#include <inttypes.h>
#include <string.h>

#include "roda_config_internal.h"

#define JSON_PREFIX "json."
#define JSON_PREFIX_LENGTH (sizeof(JSON_PREFIX) - 1)

/* A mapping's name: 1-63 letters, digits, '_' or '-'. */
static bool name_valid(const char *name)
{
    size_t length = strlen(name);
    return length > 0 && length < RODA_CONFIG_NAME_MAX &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
               length;
}

/* The index of mapping `name` ("" for [json]), or -1. */
static int mapping_find(const roda_config_t *c, const char *name)
{
    for (uint32_t i = 0; i < c->json_count; i++)
        if (strcmp(c->json[i].name, name) == 0)
            return (int)i;
    return -1;
}

const roda_config_json_t *roda_config_json_mapping(const roda_config_t *c, const char *format)
{
    if (strcmp(format, "json") == 0)
        return &c->json[0];
    if (strncmp(format, JSON_PREFIX, JSON_PREFIX_LENGTH) != 0)
        return NULL;
    int index = mapping_find(c, format + JSON_PREFIX_LENGTH);
    return index > 0 ? &c->json[index] : NULL;
}

bool roda_config_json_section(roda_config_parser_t *p, const char *section)
{
    if (strncmp(section, JSON_PREFIX, JSON_PREFIX_LENGTH) != 0)
        return false;
    const char *name = section + JSON_PREFIX_LENGTH;
    roda_config_t *c = p->config;
    int found = mapping_find(c, name);
    if (!name_valid(name))
        roda_config_report(p, p->line, section,
                           "bad mapping name '%s' (1-63 letters, digits, '_' or '-')", name);
    else if (found > 0)
        roda_config_report(p, p->line, section,
                           "duplicate JSON mapping '%s' (first defined on line %" PRIu32 ")", name,
                           p->mapping_section_line[found]);
    else if (c->json_count == RODA_CONFIG_MAX_JSON)
        roda_config_report(p, p->line, section, "too many JSON mappings (at most %d [json.NAME])",
                           RODA_CONFIG_MAX_JSON - 1);
    else {
        p->mapping = c->json_count++;
        p->mapping_section_line[p->mapping] = p->line;
        snprintf(c->json[p->mapping].name, sizeof c->json[p->mapping].name, "%s", name);
        roda_config_json_defaults(c, p->mapping);
        p->section_kind = RODA_CONFIG_SECTION_JSON;
    }
    return true;
}

/* The line that set `key` of mapping `mapping` (0: left at its default). */
static uint32_t mapping_line_of(const roda_config_parser_t *p, uint32_t mapping, const char *key)
{
    int i = roda_config_field_find("json", key);
    return mapping == 0 ? p->field_line[i] : p->mapping_line[mapping][i];
}

/* A format naming a JSON mapping that is not defined is reported at `line` as `field`. */
static void check_format(roda_config_parser_t *p, const char *format, uint32_t line,
                         const char *field)
{
    if (strncmp(format, JSON_PREFIX, JSON_PREFIX_LENGTH) == 0 &&
        roda_config_json_mapping(p->config, format) == NULL)
        roda_config_report(p, line, field, "'%s' names no [%s] section", format, format);
}

void roda_config_json_finish(roda_config_parser_t *p)
{
    roda_config_t *c = p->config;
    for (uint32_t m = 0; m < c->json_count; m++) {
        roda_config_json_t *json = &c->json[m];
        uint32_t level_line = mapping_line_of(p, m, "device_topic_level");
        json->device_level_set = level_line != 0;
        char field[RODA_CONFIG_NAME_MAX + 32];
        snprintf(field, sizeof field, "json%s%s.device_topic_level", m == 0 ? "" : ".", json->name);
        if (json->device_level_set && json->device_field[0] != '\0')
            roda_config_report(p, level_line, field,
                               "device_topic_level and device_field both name the device "
                               "(give one)");
    }
    uint32_t formats_line = p->field_line[roda_config_field_find("mqtt", "formats")];
    for (uint32_t i = 0; i < c->mqtt.format_count; i++)
        check_format(p, c->mqtt.formats[i], formats_line, "mqtt.formats");
    check_format(p, c->nats.format, p->field_line[roda_config_field_find("nats", "format")],
                 "nats.format");
}
