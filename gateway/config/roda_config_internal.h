/* roda_config_internal.h - what the config module's files share (not a public API): the schema
 * table, the value parsers, the rule grammar and the loader's state.
 *
 * Files: roda_config_schema.c (every key, its bounds and its default), roda_config_value.c (value
 * parsing), roda_config.c (the INI reader, errors, cross-field checks), roda_config_rules.c (rule
 * sections), roda_config_reload.c (the reload diff), roda_config_plan.c (memory plan, printing). */
#ifndef RODA_CONFIG_INTERNAL_H
#define RODA_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_config.h"

typedef enum roda_config_type {
    RODA_CONFIG_U32,      /* uint32_t in [min, max] */
    RODA_CONFIG_POW2,     /* uint64_t power of two in [min, max] */
    RODA_CONFIG_PORT,     /* uint16_t */
    RODA_CONFIG_BYTES,    /* uint64_t with K/M/G suffix */
    RODA_CONFIG_DURATION, /* uint64_t nanoseconds from ms/s/m/h */
    RODA_CONFIG_DOUBLE,   /* double in (min, max] */
    RODA_CONFIG_BOOL,
    RODA_CONFIG_TEXT,   /* char[size] */
    RODA_CONFIG_LIST,   /* char[max_items][size], count at count_offset */
    RODA_CONFIG_LEVEL,  /* roda_log_level_t */
    RODA_CONFIG_CHOICE, /* an enum: the index of the value in `choices` */
} roda_config_type_t;

/* One key of a [section]: where it lives in roda_config_t, its bounds and its default. */
typedef struct roda_config_field {
    const char *section;
    const char *key;
    roda_config_type_t type;
    size_t offset;
    size_t size;                /* TEXT/LIST: bytes per string */
    size_t count_offset;        /* LIST: uint32_t count */
    uint32_t max_items;         /* LIST */
    double min, max;            /* numeric bounds (durations and sizes in seconds/bytes) */
    const char *default_text;   /* as written in a file; NULL: none (zero, empty, or required) */
    const char *const *choices; /* CHOICE: the names in enum order, NULL-terminated */
} roda_config_field_t;

#define RODA_CONFIG_FIELD_COUNT 88
extern const roda_config_field_t roda_config_fields[RODA_CONFIG_FIELD_COUNT];

#define RODA_CONFIG_SECTION_COUNT 10
extern const char *const roda_config_sections[RODA_CONFIG_SECTION_COUNT];

/* Keys of a rule section. */
typedef enum roda_config_rule_key {
    RODA_CONFIG_RULE_KIND,
    RODA_CONFIG_RULE_SEVERITY,
    RODA_CONFIG_RULE_VALUE,
    RODA_CONFIG_RULE_THRESHOLD,
    RODA_CONFIG_RULE_FACTOR,
    RODA_CONFIG_RULE_AFTER,
    RODA_CONFIG_RULE_HYSTERESIS,
    RODA_CONFIG_RULE_HOLDOFF,
    RODA_CONFIG_RULE_SENSORS,
    RODA_CONFIG_RULE_DEVICES,
    RODA_CONFIG_RULE_NAMES,
    RODA_CONFIG_RULE_MIN_COUNT,
    RODA_CONFIG_RULE_WHEN,
    RODA_CONFIG_RULE_KEY_COUNT
} roda_config_rule_key_t;

/* A rule key's name and default (NULL: none; JUMP's value default is set by kind). */
typedef struct roda_config_rule_field {
    const char *key;
    const char *default_text;
} roda_config_rule_field_t;

extern const roda_config_rule_field_t roda_config_rule_fields[RODA_CONFIG_RULE_KEY_COUNT];

/* Index of [section] key in roda_config_fields, or -1. */
int roda_config_field_find(const char *section, const char *key);

/* True for a [json] key: one of every JSON mapping's. */
bool roda_config_field_mapped(const roda_config_field_t *field);
/* A [json] key moved to JSON mapping `mapping` (json[mapping]; 0 is [json] itself). */
roda_config_field_t roda_config_mapping_field(const roda_config_field_t *field, uint32_t mapping);
/* Sets JSON mapping `mapping`'s keys to their defaults. */
void roda_config_json_defaults(roda_config_t *config, uint32_t mapping);

/* ---- Values (roda_config_value.c): each returns NULL or a static reason ("is not ...") ---- */

const char *roda_config_parse_u64(const char *text, uint64_t *out);
const char *roda_config_parse_double(const char *text, double *out);
const char *roda_config_parse_duration(const char *text, double *seconds);
/* Splits a comma-separated list into `max_items` strings of `item_size` bytes. */
const char *roda_config_parse_list(const char *text, char *items, size_t item_size,
                                   uint32_t max_items, uint32_t *count);
/* Index of `text` in `names` (count entries), or -1. */
int roda_config_lookup(const char *text, const char *const *names, int count);

/* Parses `value` into `field` of `config`, checking its bounds. RODA_SUCCESS, or
 * RODA_ERROR_INVALID_ARG with the message ("'VALUE' is out of range (1 .. 64)") in `why`. */
roda_result_t roda_config_value_set(roda_config_t *config, const roda_config_field_t *field,
                                    const char *value, char *why, size_t size);

/* ---- The loader's state (roda_config.c), shared with the rule grammar -------------------- */

typedef enum roda_config_section_kind {
    RODA_CONFIG_SECTION_NONE,
    RODA_CONFIG_SECTION_TABLE,
    RODA_CONFIG_SECTION_RULE,
    RODA_CONFIG_SECTION_JSON, /* a [json.NAME] mapping */
    RODA_CONFIG_SECTION_SKIP
} roda_config_section_kind_t;

typedef struct roda_config_parser {
    roda_config_t *config;
    roda_config_errors_t *errors;
    const char *name;
    FILE *file;       /* or text: */
    const char *text; /* the rest of the string being parsed */
    uint32_t line;
    roda_config_section_kind_t section_kind;
    char section[RODA_CONFIG_LINE_MAX];
    uint32_t section_line;
    int32_t rule;     /* index of the open rule section */
    uint32_t mapping; /* index of the open [json.NAME] section */
    uint32_t field_line[RODA_CONFIG_FIELD_COUNT];
    /* the lines of [json.NAME] sections' keys, by mapping (index 0, [json], uses field_line) */
    uint32_t mapping_line[RODA_CONFIG_MAX_JSON][RODA_CONFIG_FIELD_COUNT];
    uint32_t mapping_section_line[RODA_CONFIG_MAX_JSON];
    uint32_t rule_line[RODA_RULES_MAX];
    uint32_t rule_key_line[RODA_RULES_MAX][RODA_CONFIG_RULE_KEY_COUNT];
} roda_config_parser_t;

/* Records an error at `line` (0: none) for `field`. */
__attribute__((format(printf, 4, 5))) void roda_config_report(roda_config_parser_t *p,
                                                              uint32_t line, const char *field,
                                                              const char *format, ...);

/* ---- Rule sections (roda_config_rules.c) ------------------------------------------------- */

/* Opens a [rule.NAME] / [rule "NAME"] section (reporting a bad or duplicate one). False when the
 * header is not a rule section at all. */
bool roda_config_rule_section(roda_config_parser_t *p, const char *section);
/* One key = value of the open rule section. */
void roda_config_rule_key(roda_config_parser_t *p, const char *key, const char *value);
/* After the file: required keys, keys that do not apply to the kind, rule validation. */
void roda_config_rules_finish(roda_config_parser_t *p);

/* ---- JSON mapping sections (roda_config_json.c) ------------------------------------------ */

/* Opens a [json.NAME] section (reporting a bad or duplicate one). False when the header is not
 * one at all. */
bool roda_config_json_section(roda_config_parser_t *p, const char *section);
/* After the file: each mapping's device keys, and every json.NAME format names a mapping. */
void roda_config_json_finish(roda_config_parser_t *p);

#endif
