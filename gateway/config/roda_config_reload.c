/* roda_config_reload.c - the reload diff: whether a new configuration differs from the running
 * one only in what a SIGHUP applies live (the rules and the log level). */
#include <string.h>

#include "roda_config_internal.h"

/* Bytes a field occupies in roda_config_t. */
static size_t field_bytes(const roda_config_field_t *f)
{
    switch (f->type) {
    case RODA_CONFIG_U32:
        return sizeof(uint32_t);
    case RODA_CONFIG_PORT:
        return sizeof(uint16_t);
    case RODA_CONFIG_BOOL:
        return sizeof(bool);
    case RODA_CONFIG_TEXT:
        return f->size;
    case RODA_CONFIG_LIST:
        return f->size * f->max_items;
    case RODA_CONFIG_LEVEL:
        return sizeof(roda_log_level_t);
    case RODA_CONFIG_CHOICE:
        return sizeof(int);
    default:
        return sizeof(uint64_t); /* POW2, BYTES, DURATION, DOUBLE */
    }
}

static bool field_equal(const roda_config_t *a, const roda_config_t *b,
                        const roda_config_field_t *f)
{
    const char *x = (const char *)a + f->offset;
    const char *y = (const char *)b + f->offset;
    if (f->type == RODA_CONFIG_TEXT)
        return strcmp(x, y) == 0;
    if (f->type == RODA_CONFIG_LIST) {
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
    for (size_t i = 0; i < RODA_CONFIG_FIELD_COUNT; i++) {
        const roda_config_field_t *f = &roda_config_fields[i];
        if (f->type == RODA_CONFIG_LEVEL || roda_config_field_mapped(f) ||
            field_equal(current, next, f))
            continue;
        snprintf(field, size, "%s.%s", f->section, f->key);
        return false;
    }
    /* The JSON mappings: the same names in the same order, each key alike. */
    for (uint32_t m = 0; m < RODA_CONFIG_MAX_JSON; m++) {
        bool same = strcmp(current->json[m].name, next->json[m].name) == 0 &&
                    current->json[m].device_level_set == next->json[m].device_level_set;
        for (size_t i = 0; same && i < RODA_CONFIG_FIELD_COUNT; i++) {
            if (!roda_config_field_mapped(&roda_config_fields[i]))
                continue;
            roda_config_field_t f = roda_config_mapping_field(&roda_config_fields[i], m);
            same = field_equal(current, next, &f);
        }
        if (!same) {
            const char *name =
                next->json[m].name[0] != '\0' ? next->json[m].name : current->json[m].name;
            snprintf(field, size, "json%s%s", name[0] != '\0' ? "." : "", name);
            return false;
        }
    }
    field[0] = '\0';
    return true;
}
