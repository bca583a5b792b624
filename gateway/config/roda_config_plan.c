/* roda_config_plan.c - the memory plan (each module's own size function for the configured
 * bounds) and roda_config_print (the effective configuration and that plan). */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "roda_config_internal.h"
#include "roda_devices.h"
#include "roda_http.h"
#include "roda_input.h"
#include "roda_journal.h"
#include "roda_keytable.h"
#include "roda_metrics.h"
#include "roda_output.h"
#include "roda_reading.h"
#include "roda_recent_values.h"
#include "roda_sensor_index.h"
#include "roda_sensor_names.h"
#include "roda_slots.h"
#include "roda_summary.h"
#include "roda_window_box.h"

#define MIB (1024.0 * 1024.0)
/* How many of the largest plan items a refused plan names. */
#define MEMORY_LARGEST_NAMED 3u

__attribute__((format(printf, 5, 6))) static void plan_add(roda_memory_plan_t *plan,
                                                           const char *name, const char *setting,
                                                           uint64_t bytes, const char *format, ...)
{
    roda_memory_item_t *item = &plan->items[plan->count++];
    item->name = name;
    item->setting = setting;
    item->bytes = bytes;
    va_list args;
    va_start(args, format);
    vsnprintf(item->detail, sizeof item->detail, format, args);
    va_end(args);
    plan->total += bytes;
}

static void plan_journal(roda_memory_plan_t *plan, const char *name, const char *setting,
                         uint64_t capacity, uint32_t record_size)
{
    plan_add(plan, name, setting, roda_journal_memory(capacity, record_size),
             "%" PRIu64 " records x %" PRIu32 " B", capacity, record_size);
}

void roda_config_memory_plan(const roda_config_t *c, roda_memory_plan_t *plan)
{
    memset(plan, 0, sizeof *plan);
    uint32_t sensors = c->limits.max_sensors;
    plan_journal(plan, "journal input", "journal.input_capacity", c->journal.input_capacity,
                 sizeof(roda_reading_t));
    plan_journal(plan, "journal summary", "journal.summary_capacity", c->journal.summary_capacity,
                 sizeof(roda_summary_t));
    plan_journal(plan, "journal alert", "journal.alert_capacity", c->journal.alert_capacity,
                 sizeof(roda_alert_t));
    uint64_t key_table = roda_keytable_memory(sensors, sizeof(roda_summary_t));
    plan_add(plan, "stateful state", "limits.max_sensors", key_table,
             "%" PRIu32 " sensors x %zu B + key table", sensors, sizeof(roda_summary_t));
    plan_add(plan, "rules previous", "limits.max_sensors", key_table,
             "%" PRIu32 " sensors x %zu B + key table", sensors, sizeof(roda_summary_t));
    plan_add(plan, "summary slots", "limits.max_sensors",
             roda_slots_memory(sensors, sizeof(roda_summary_t)),
             "%" PRIu32 " sensors x %" PRIu64 " B (seqlock slots)", sensors,
             roda_slots_memory(1, sizeof(roda_summary_t)));
    plan_add(plan, "sensor directory", "limits.max_sensors", roda_sensor_index_memory(sensors),
             "%" PRIu32 " sensors (id -> slot for HTTP)", sensors);
    plan_add(plan, "recent values", "limits.recent_values x limits.max_sensors",
             roda_recent_values_memory(sensors, c->limits.recent_values),
             "%" PRIu32 " sensors x %" PRIu32 " values x 4 B (page charts)", sensors,
             c->limits.recent_values);
    uint32_t devices = c->limits.max_devices;
    uint64_t windows = roda_rules_window_memory(c->rules, c->rule_count, sensors);
    uint64_t device_rules = roda_rules_device_memory(c->rules, c->rule_count, devices);
    plan_add(plan, "rule state", "limits.max_rules x limits.max_sensors",
             roda_rules_memory(c->rules, c->rule_count, c->limits.max_rules, sensors, devices) -
                 windows - device_rules,
             "%" PRIu32 " rules x %" PRIu32 " sensors", c->limits.max_rules, sensors);
    plan_add(plan, "rule windows", "the rules' windows x limits.max_sensors", windows,
             "%" PRIu32 " sensors x %" PRIu64 " B (windows of the rules: value = STAT over ...)",
             sensors, windows / sensors);
    plan_add(plan, "device rules", "the device rules x limits.max_devices", device_rules,
             "%" PRIu32 " devices x %" PRIu64 " B (rules of kind device: the newest value of "
             "each term)",
             devices, device_rules / devices);
    plan_add(
        plan, "device registry", "limits.max_devices", roda_devices_memory(c->limits.max_devices),
        "%" PRIu32 " devices (name, sequence window, counters) + index", c->limits.max_devices);
    plan_add(plan, "sensor name registry", "limits.max_sensors", roda_sensor_names_memory(sensors),
             "%" PRIu32 " names (id, name) + index", sensors);
    /* Each registered input and output that the config turns on, by its own size function. */
    uint32_t count;
    const roda_input_class_t *const *inputs = roda_inputs(&count);
    for (uint32_t i = 0; i < count; i++) {
        roda_input_settings_t settings;
        bool enabled;
        char why[8];
        if (roda_input_configure(inputs[i], c, &settings, &enabled, why, sizeof why) && enabled)
            plan_add(plan, "input", inputs[i]->name, inputs[i]->memory(settings.bytes), "%s",
                     inputs[i]->name);
    }
    const roda_output_class_t *const *outputs = roda_outputs(&count);
    for (uint32_t i = 0; i < count; i++)
        if (roda_output_enabled(outputs[i], c))
            plan_add(plan, "output", outputs[i]->name, outputs[i]->memory(c), "%s",
                     outputs[i]->name);
    uint64_t gauges = roda_config_window_gauges(c);
    plan_add(plan, "metrics buffer", "limits.max_series, limits.window_stats",
             roda_metrics_buffer_size(c->limits.max_series, gauges),
             "%u B + %" PRIu32 " series x %u B + %" PRIu64 " window gauges x %u B",
             RODA_METRICS_BASE_BYTES, c->limits.max_series, RODA_METRICS_SERIES_BYTES, gauges,
             RODA_METRICS_SAMPLE_BYTES);
    plan_add(plan, "window gauges", "limits.window_stats x limits.max_series",
             roda_window_box_memory(roda_config_window_series(c)),
             "%" PRIu32 " sensors x %zu B (their windows, asked of the rules per scrape)",
             roda_config_window_series(c), sizeof(roda_window_box_entry_t));
    plan_add(plan, "sse clients", "limits.max_sse_clients",
             (uint64_t)c->limits.max_sse_clients * RODA_HTTP_SSE_CLIENT_BYTES,
             "%" PRIu32 " clients x %zu B HTTP (their cursors: output sse)",
             c->limits.max_sse_clients, (size_t)RODA_HTTP_SSE_CLIENT_BYTES);
    plan_add(plan, "http stacks", "http.max_connections",
             (uint64_t)c->http.max_connections * RODA_HTTP_THREAD_STACK,
             "%" PRIu32 " connections x %u KiB (reserved; only touched pages are resident)",
             c->http.max_connections, RODA_HTTP_THREAD_STACK / 1024u);
}

uint32_t roda_config_window_series(const roda_config_t *c)
{
    return c->limits.window_stats && roda_rules_window_count(c->rules, c->rule_count) != 0
               ? c->limits.max_series
               : 0;
}

uint64_t roda_config_window_gauges(const roda_config_t *c)
{
    return (uint64_t)roda_config_window_series(c) *
           roda_rules_window_count(c->rules, c->rule_count) * RODA_WINDOW_BOX_GAUGES;
}

uint64_t roda_config_physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    return pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size : UINT64_MAX;
}

void roda_config_memory_largest(const roda_memory_plan_t *plan, char *out, size_t size)
{
    bool reported[RODA_MEMORY_PLAN_MAX] = {false};
    size_t length = 0;
    if (size != 0)
        out[0] = '\0';
    for (uint32_t n = 0; n < MEMORY_LARGEST_NAMED && n < plan->count; n++) {
        uint32_t largest = plan->count;
        for (uint32_t i = 0; i < plan->count; i++)
            if (!reported[i] &&
                (largest == plan->count || plan->items[i].bytes > plan->items[largest].bytes))
                largest = i;
        reported[largest] = true;
        const roda_memory_item_t *item = &plan->items[largest];
        if (length < size) {
            int written =
                snprintf(out + length, size - length, "%s%s %.1f MiB (%s)", n > 0 ? ", " : "",
                         item->name, (double)item->bytes / MIB, item->setting);
            length += written > 0 ? (size_t)written : 0;
        }
    }
}

bool roda_config_memory_fits(const roda_config_t *c, uint64_t available, char *why, size_t size)
{
    roda_memory_plan_t plan;
    roda_config_memory_plan(c, &plan);
    if (plan.total <= available)
        return true;
    char largest[RODA_MEMORY_LARGEST_MAX];
    roda_config_memory_largest(&plan, largest, sizeof largest);
    snprintf(why, size,
             "memory plan: %.1f MiB to preallocate, more than the machine's %.1f MiB; largest: %s",
             (double)plan.total / MIB, (double)available / MIB, largest);
    return false;
}

void roda_config_duration_text(uint64_t ns, char *buf, size_t size)
{
    if (ns % 1000000000ull == 0)
        snprintf(buf, size, "%" PRIu64 "s", ns / UINT64_C(1000000000));
    else
        snprintf(buf, size, "%gms", (double)ns / 1e6);
}

static void print_duration(FILE *out, uint64_t ns)
{
    char text[RODA_CONFIG_DURATION_TEXT];
    roda_config_duration_text(ns, text, sizeof text);
    fputs(text, out);
}

static void print_field(FILE *out, const roda_config_t *c, const roda_config_field_t *f)
{
    const char *base = (const char *)c + f->offset;
    fprintf(out, "%s = ", f->key);
    switch (f->type) {
    case RODA_CONFIG_U32:
        fprintf(out, "%" PRIu32, *(const uint32_t *)base);
        break;
    case RODA_CONFIG_POW2:
    case RODA_CONFIG_BYTES:
        fprintf(out, "%" PRIu64, *(const uint64_t *)base);
        break;
    case RODA_CONFIG_PORT:
        fprintf(out, "%u", (unsigned)*(const uint16_t *)base);
        break;
    case RODA_CONFIG_DURATION:
        print_duration(out, *(const uint64_t *)base);
        break;
    case RODA_CONFIG_DOUBLE: {
        double value;
        memcpy(&value, base, sizeof value);
        fprintf(out, "%g", value);
    } break;
    case RODA_CONFIG_BOOL:
        fprintf(out, "%s", *(const bool *)base ? "true" : "false");
        break;
    case RODA_CONFIG_TEXT:
        fprintf(out, "%s",
                base == (const char *)c->mqtt.password && base[0] != '\0' ? "********" : base);
        break;
    case RODA_CONFIG_LIST: {
        uint32_t n = *(const uint32_t *)((const char *)c + f->count_offset);
        for (uint32_t i = 0; i < n; i++)
            fprintf(out, "%s%s", i > 0 ? ", " : "", base + i * f->size);
        break;
    }
    case RODA_CONFIG_LEVEL:
        fprintf(out, "%s", roda_log_level_name(*(const roda_log_level_t *)base));
        break;
    case RODA_CONFIG_CHOICE:
        fprintf(out, "%s", f->choices[*(const int *)base]);
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
        fprintf(out, "value = %s", roda_rule_value_name(rule->value));
        if (rule->window_ns != 0) {
            fprintf(out, " over ");
            print_duration(out, rule->window_ns);
            fprintf(out, " every ");
            print_duration(out, rule->hop_ns);
            fprintf(out, "\nmin_count = %" PRIu32, rule->min_count);
        }
        if (rule->kind == RODA_RULE_DEVICE) {
            fprintf(out, "\nwhen =");
            for (uint32_t t = 0; t < rule->term_count; t++)
                fprintf(out, "%s %s %s %g", t > 0 ? " and" : "", rule->terms[t].sensor,
                        rule->terms[t].below ? "below" : "above", rule->terms[t].threshold);
        } else {
            fprintf(out, "\n%s = %g", rule->kind == RODA_RULE_JUMP ? "factor" : "threshold",
                    rule->threshold);
        }
        fprintf(out, "\nhysteresis = %g\n", rule->hysteresis);
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
        /* No glob is every device, named or not ("*" would leave out the unnamed ones). */
        if (rule->device_glob[0] != '\0')
            fprintf(out, "devices = %s\n", rule->device_glob);
        if (rule->name_glob[0] != '\0')
            fprintf(out, "names = %s\n", rule->name_glob);
    }
}

/* The keys of JSON mapping `m`; device_topic_level only when given (given, it names the
 * device). */
static void print_mapping(FILE *out, const roda_config_t *c, uint32_t m)
{
    for (size_t i = 0; i < RODA_CONFIG_FIELD_COUNT; i++) {
        const roda_config_field_t *f = &roda_config_fields[i];
        if (roda_config_field_mapped(f) &&
            (strcmp(f->key, "device_topic_level") != 0 || c->json[m].device_level_set)) {
            roda_config_field_t moved = roda_config_mapping_field(f, m);
            print_field(out, c, &moved);
        }
    }
}

void roda_config_print(const roda_config_t *c, FILE *out)
{
    fprintf(out, "; effective configuration of %s\n", c->source);
    const char *section = "";
    for (size_t i = 0; i < RODA_CONFIG_FIELD_COUNT; i++) {
        bool mapped = roda_config_field_mapped(&roda_config_fields[i]);
        if (strcmp(section, roda_config_fields[i].section) != 0) {
            section = roda_config_fields[i].section;
            fprintf(out, "%s[%s]\n", i > 0 ? "\n" : "", section);
            if (mapped)
                print_mapping(out, c, 0);
        }
        if (!mapped)
            print_field(out, c, &roda_config_fields[i]);
    }
    for (uint32_t m = 1; m < c->json_count; m++) {
        fprintf(out, "\n[json.%s]\n", c->json[m].name);
        print_mapping(out, c, m);
    }
    for (uint32_t r = 0; r < c->rule_count; r++)
        print_rule(out, &c->rules[r]);
    roda_memory_plan_t plan;
    roda_config_memory_plan(c, &plan);
    fprintf(out, "\n; memory plan: preallocated at start, nothing more on the data path\n");
    for (uint32_t i = 0; i < plan.count; i++)
        fprintf(out, ";   %-16s %12.1f KiB  (%s)\n", plan.items[i].name,
                (double)plan.items[i].bytes / 1024.0, plan.items[i].detail);
    fprintf(out, ";   %-16s %12.1f MiB\n", "total", (double)plan.total / MIB);
    char largest[RODA_MEMORY_LARGEST_MAX];
    roda_config_memory_largest(&plan, largest, sizeof largest);
    fprintf(out, "; largest: %s\n", largest);
}
