/* test_config_defaults.c - one source of defaults: every schema default parses, the shipped
 * deploy/roda-gateway.conf shows each key with its schema default (unless its comment says
 * otherwise), and the memory plan takes the modules' own sizes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roda_check.h"
#include "roda_config.h"
#include "roda_devices.h"
#include "roda_udp.h"

static roda_config_t loaded;
static roda_config_t defaults;
static roda_config_errors_t errors;

/* Loads "[section]\nkey = value\n" and asserts it equals the defaults in every field (the reload
 * diff compares every key but the log level). */
static void expect_default(const char *section, const char *key, const char *value)
{
    char text[512];
    snprintf(text, sizeof text, "[%s]\n%s = %s\n", section, key, value);
    char line[512];
    roda_result_t result = roda_config_load_string(text, "d.conf", &loaded, &errors);
    for (uint32_t i = 0; i < errors.count; i++)
        fprintf(stderr, "%s\n", roda_config_error_format(&errors.items[i], line, sizeof line));
    ck_assert_int_eq(result, RODA_SUCCESS);
    roda_config_defaults(&defaults);
    char field[128];
    if (!roda_config_reload_check(&defaults, &loaded, field, sizeof field) ||
        loaded.log_level != defaults.log_level)
        ck_abort_msg("%s.%s = %s is not the schema default", section, key, value);
}

START_TEST(schema_defaults_parse)
{
    ck_assert_uint_gt(roda_config_key_count(), 40);
    for (uint32_t i = 0; i < roda_config_key_count(); i++) {
        const char *section, *key, *text;
        ck_assert_int_eq(roda_config_key_at(i, &section, &key, &text), RODA_SUCCESS);
        if (text != NULL)
            expect_default(section, key, text);
    }
    const char *section, *key, *text;
    ck_assert_int_eq(roda_config_key_at(roda_config_key_count(), &section, &key, &text),
                     RODA_ERROR_INVALID_ARG);
}
END_TEST

START_TEST(daemon_defaults)
{
    roda_config_defaults(&defaults);
    ck_assert_uint_eq(defaults.mqtt.reconnect_max_ns, 30000000000ull);
    ck_assert_uint_eq(defaults.udp.max_datagram, 1472);
    ck_assert_uint_eq(defaults.limits.max_devices, 10000);
    ck_assert_uint_eq(defaults.limits.recent_alerts, 100);
    ck_assert_str_eq(defaults.http.bind, "127.0.0.1");
    ck_assert(!defaults.mqtt.enabled);
}
END_TEST

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

START_TEST(shipped_file_shows_the_defaults)
{
    FILE *file = fopen(RODA_EXAMPLE_CONFIG, "r");
    ck_assert_ptr_nonnull(file);
    uint32_t count = roda_config_key_count();
    bool *shown = calloc(count, sizeof *shown);
    char buf[1024];
    char section[64] = "";
    uint32_t checked = 0;
    while (fgets(buf, sizeof buf, file) != NULL) {
        char *line = trim(buf);
        if (line[0] == '[') {
            snprintf(section, sizeof section, "%.*s", (int)strcspn(line + 1, "]"), line + 1);
            continue;
        }
        char *equals = strchr(line, '=');
        if (line[0] == ';' || line[0] == '#' || equals == NULL || strncmp(section, "rule", 4) == 0)
            continue;
        char *comment = strchr(line, ';');
        bool not_default = comment != NULL && (strstr(comment, "not the default") != NULL ||
                                               strstr(comment, "no default") != NULL);
        if (comment != NULL)
            *comment = '\0';
        *equals = '\0';
        char *key = trim(line);
        char *value = trim(equals + 1);
        for (uint32_t i = 0; i < count; i++) {
            const char *s, *k, *text;
            roda_config_key_at(i, &s, &k, &text);
            if (strcmp(s, section) == 0 && strcmp(k, key) == 0)
                shown[i] = true;
        }
        if (!not_default) {
            expect_default(section, key, value);
            checked++;
        }
    }
    fclose(file);
    for (uint32_t i = 0; i < count; i++) {
        const char *s, *k, *text;
        roda_config_key_at(i, &s, &k, &text);
        if (!shown[i])
            ck_abort_msg("%s.%s is missing from %s", s, k, RODA_EXAMPLE_CONFIG);
    }
    free(shown);
    ck_assert_uint_gt(checked, 30);
}
END_TEST

static const roda_memory_item_t *plan_item(const roda_memory_plan_t *plan, const char *name)
{
    for (uint32_t i = 0; i < plan->count; i++) {
        if (strcmp(plan->items[i].name, name) == 0)
            return &plan->items[i];
    }
    ck_abort_msg("no '%s' in the memory plan", name);
    return NULL;
}

START_TEST(plan_takes_the_registry_size)
{
    roda_config_defaults(&defaults);
    defaults.limits.max_devices = 1000;
    roda_memory_plan_t plan;
    roda_config_memory_plan(&defaults, &plan);
    ck_assert_uint_eq(plan_item(&plan, "device registry")->bytes, roda_devices_memory(1000));
    /* 999 and 1000 devices share one index size: the difference is one device (its name, the
     * epoch, the sequence window and counters), not the 64 bytes of its name alone. */
    uint64_t per_device = roda_devices_memory(1000) - roda_devices_memory(999);
    ck_assert_uint_ge(per_device, RODA_DEVICE_NAME_SIZE + RODA_DEVICES_WINDOW / 8);
    ck_assert_uint_ge(roda_devices_memory(1000), 1000ull * per_device);
    /* Inputs are planned by their own size function, and only when on (UDP is off by default). */
    for (uint32_t i = 0; i < plan.count; i++)
        ck_assert(strcmp(plan.items[i].name, "input") != 0 ||
                  strcmp(plan.items[i].detail, "udp") != 0);
    defaults.udp.enabled = true;
    defaults.udp.bind_count = 2;
    roda_config_memory_plan(&defaults, &plan);
    bool found = false;
    for (uint32_t i = 0; i < plan.count; i++) {
        if (strcmp(plan.items[i].name, "input") == 0 && strcmp(plan.items[i].detail, "udp") == 0) {
            ck_assert_uint_eq(plan.items[i].bytes,
                              2 * roda_udp_memory(defaults.udp.max_datagram, defaults.udp.batch));
            found = true;
        }
    }
    ck_assert(found);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config_defaults");
    TCase *tc = tcase_create("config_defaults");
    tcase_add_test(tc, schema_defaults_parse);
    tcase_add_test(tc, daemon_defaults);
    tcase_add_test(tc, shipped_file_shows_the_defaults);
    tcase_add_test(tc, plan_takes_the_registry_size);
    suite_add_tcase(s, tc);
    return roda_check_run(s);
}
