/* roda_replay.c - roda-replay: runs a recorded input journal (a gateway's journal.directory)
 * through the rules of a config, offline, and prints the alerts; or compares two rule sets.
 *
 *   roda-replay -c CONFIG [options] DIRECTORY
 *   roda-replay -c CONFIG --compare OTHER_CONFIG [options] DIRECTORY
 *
 * The recording goes through the gateway's own stages (roda_pipeline_create_replay), deciding by
 * the recorded ingest times only, so the output is the same run after run and the same alerts
 * the gateway made live. Alerts are JSON lines with the fields of /alerts (id: the alert's
 * position in this replay). --compare prints what differs (only_a, only_b, changed) and one
 * summary line per rule. A corrupt or foreign recording is an error naming the file; exit 1. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "roda_alert_cursor.h"
#include "roda_config.h"
#include "roda_devices.h"
#include "roda_log.h"
#include "roda_pipeline.h"
#include "roda_sensor_names.h"

/* Alerts received from the replay at a time. */
#define RECEIVE_BATCH 1024u

typedef struct options {
    const char *config;
    const char *compare;
    const char *directory;
    const char *output;
    uint64_t from, to; /* input positions; to = UINT64_MAX: the end */
    bool has_sensor;
    uint64_t sensor;
    uint64_t since_ns, until_ns; /* ingest time window of the alerts shown */
} options_t;

/* One alert with its rule's and device's names (the replay that knew them is gone when the
 * comparison prints), kept for --compare. */
typedef struct named_alert {
    roda_alert_t alert;
    uint64_t id;
    char rule[RODA_RULE_NAME_MAX];
    char device[RODA_DEVICE_NAME_SIZE];
    char sensor[RODA_DEVICE_NAME_SIZE]; /* a named sensor's name, "" for a numbered one */
} named_alert_t;

/* What one replay produced. */
typedef struct run {
    FILE *out;           /* print mode: JSON lines go here; NULL: collect */
    named_alert_t *kept; /* collect mode */
    uint64_t kept_count, kept_capacity;
    uint64_t alerts, shown, records;
    double seconds;
    const roda_alert_names_t *names; /* valid while its replay runs */
} run_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: roda-replay -c CONFIG [--compare OTHER_CONFIG] [--from POS] [--to POS]\n"
            "                   [--sensor ID] [--since TIME] [--until TIME] [-o FILE] DIRECTORY\n"
            "  -c, --config FILE     the rules and limits to replay with (a gateway config)\n"
            "  --compare FILE        also replay with FILE's rules and print the differences\n"
            "  --from, --to POS      input journal positions to replay (default: all retained)\n"
            "  --sensor ID           show only this sensor's alerts\n"
            "  --since, --until T    show only alerts of readings ingested in [since, until):\n"
            "                        seconds since the epoch or RFC 3339 (2026-12-03T10:00:00Z)\n"
            "  -o, --output FILE     write to FILE instead of stdout\n"
            "Prints one JSON line per alert (the fields of /alerts); with --compare, lines\n"
            "only_a/only_b/changed and a summary per rule. A summary goes to stderr.\n");
}

/* Seconds since the epoch (fractions allowed) or RFC 3339 in UTC, to nanoseconds. */
static bool parse_time(const char *text, uint64_t *ns)
{
    char *end;
    double seconds = strtod(text, &end);
    if (*end == '\0' && end != text && seconds >= 0 && isfinite(seconds)) {
        *ns = (uint64_t)(seconds * 1e9);
        return true;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL)
        return false;
    double fraction = 0;
    if (*rest == '.') {
        fraction = strtod(rest, &end);
        rest = end;
    }
    if (strcmp(rest, "Z") != 0)
        return false;
    time_t t = timegm(&tm);
    if (t < 0)
        return false;
    *ns = (uint64_t)t * 1000000000ull + (uint64_t)(fraction * 1e9);
    return true;
}

static bool parse_u64(const char *text, uint64_t *value)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-')
        return false;
    *value = v;
    return true;
}

static bool shown(const options_t *o, const roda_alert_t *a)
{
    return (!o->has_sensor || a->sensor_id == o->sensor) && a->ingest_time_ns >= o->since_ns &&
           a->ingest_time_ns < o->until_ns;
}

static void take(run_t *run, const options_t *o, const roda_alert_t *a, uint64_t id)
{
    run->alerts++;
    if (!shown(o, a))
        return;
    run->shown++;
    if (run->out != NULL) {
        char buf[RODA_ALERT_JSON_MAX];
        roda_json_t json;
        roda_json_init(&json, buf, sizeof buf);
        roda_alert_named_json(run->names, a, id, &json);
        fprintf(run->out, "%s\n", buf);
        return;
    }
    if (run->kept_count == run->kept_capacity) {
        uint64_t capacity = run->kept_capacity != 0 ? run->kept_capacity * 2 : 4096;
        named_alert_t *grown = realloc(run->kept, capacity * sizeof *grown);
        if (grown == NULL) {
            fprintf(stderr, "roda-replay: out of memory keeping alerts for --compare\n");
            exit(1);
        }
        run->kept = grown;
        run->kept_capacity = capacity;
    }
    named_alert_t *kept = &run->kept[run->kept_count++];
    kept->alert = *a;
    kept->id = id;
    roda_alert_rule_name(run->names, a, kept->rule, sizeof kept->rule);
    const char *device = run->names->device(run->names->context, a->device);
    snprintf(kept->device, sizeof kept->device, "%s", device != NULL ? device : "");
    const char *sensor = run->names->sensor(run->names->context, a->sensor_id);
    snprintf(kept->sensor, sizeof kept->sensor, "%s", sensor != NULL ? sensor : "");
}

static bool load_config(const char *path, roda_config_t *config)
{
    static roda_config_errors_t errors;
    memset(&errors, 0, sizeof errors);
    if (roda_config_load(path, config, &errors) == RODA_SUCCESS)
        return true;
    char line[RODA_CONFIG_PATH_MAX + 512];
    for (uint32_t i = 0; i < errors.count; i++)
        fprintf(stderr, "%s\n", roda_config_error_format(&errors.items[i], line, sizeof line));
    return false;
}

/* Opens the recording and positions it at o->from; checks it holds gateway readings. */
static roda_journal_replay_t *open_recording(const options_t *o, uint64_t *end)
{
    roda_journal_replay_t *replay = NULL;
    roda_result_t r = roda_journal_open_readonly(o->directory, &replay);
    if (r != RODA_SUCCESS) {
        const char *detail = roda_journal_error_detail();
        fprintf(stderr, "roda-replay: %s: %s: %s\n", o->directory, roda_result_str(r),
                detail[0] != '\0' ? detail : strerror(errno));
        return NULL;
    }
    uint32_t record_size = roda_journal_replay_record_size(replay);
    uint32_t schema = roda_journal_replay_schema(replay);
    if (record_size != sizeof(roda_reading_t) || schema != RODA_READING_SCHEMA) {
        fprintf(stderr,
                "roda-replay: %s: a recording of schema %u with records of %u bytes; this "
                "roda-replay reads gateway readings of schema %u, %zu bytes\n",
                o->directory, schema, record_size, RODA_READING_SCHEMA, sizeof(roda_reading_t));
        roda_journal_replay_close(replay);
        return NULL;
    }
    uint64_t first = roda_journal_replay_first(replay);
    uint64_t from = o->from > first ? o->from : first;
    *end = o->to < roda_journal_replay_end(replay) ? o->to : roda_journal_replay_end(replay);
    if (from > *end || roda_journal_replay_seek(replay, from) != RODA_SUCCESS) {
        fprintf(stderr, "roda-replay: %s: --from %" PRIu64 " is past the end %" PRIu64 "\n",
                o->directory, from, *end);
        roda_journal_replay_close(replay);
        return NULL;
    }
    return replay;
}

/* Replays the recording with `config_path`'s rules into `run`. */
static bool replay_with(const options_t *o, const char *config_path, run_t *run)
{
    static roda_config_t config;
    if (!load_config(config_path, &config))
        return false;
    uint64_t end;
    roda_journal_replay_t *recording = open_recording(o, &end);
    if (recording == NULL)
        return false;
    run->records = end - roda_journal_replay_position(recording);
    char path[RODA_CONFIG_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", o->directory, RODA_DEVICES_FILE_NAME);
    roda_devices_t *devices = NULL;
    if (roda_devices_open_readonly(path, &devices) != RODA_SUCCESS)
        fprintf(stderr, "roda-replay: %s: no device registry; device names are unknown\n", path);
    snprintf(path, sizeof path, "%s/%s", o->directory, RODA_SENSOR_NAMES_FILE_NAME);
    roda_sensor_names_t *sensor_names = NULL;
    if (access(path, F_OK) == 0 &&
        roda_sensor_names_open_readonly(path, &sensor_names) != RODA_SUCCESS)
        fprintf(stderr, "roda-replay: %s: unreadable; sensor names are unknown\n", path);
    roda_pipeline_t *pipeline = NULL;
    uint64_t start = roda_now_ns();
    roda_result_t r =
        roda_pipeline_create_replay(&config, recording, end, devices, sensor_names, &pipeline);
    if (r == RODA_SUCCESS)
        r = roda_pipeline_start(pipeline);
    if (r == RODA_SUCCESS) {
        run->names = roda_pipeline_names(pipeline);
        bool done = false;
        while (!done) {
            roda_journal_view_t view;
            uint64_t n = roda_pipeline_replay_alerts(pipeline, RECEIVE_BATCH, &view, &done);
            for (int part = 0; part < 2; part++) {
                const roda_alert_t *alerts = view.run[part];
                uint64_t first = view.position + (part == 0 ? 0 : view.run_count[0]);
                for (uint64_t i = 0; i < view.run_count[part] && n != 0; i++)
                    take(run, o, &alerts[i], first + i);
            }
            roda_pipeline_replay_release(pipeline, n);
        }
        run->seconds = (double)(roda_now_ns() - start) / 1e9;
    } else {
        fprintf(stderr, "roda-replay: cannot replay: %s\n", roda_result_str(r));
    }
    roda_pipeline_destroy(pipeline);
    roda_devices_destroy(devices);
    roda_sensor_names_destroy(sensor_names);
    roda_journal_replay_close(recording);
    return r == RODA_SUCCESS;
}

/* ---- --compare ---------------------------------------------------------------------------- */

/* Identity of an alert across two rule sets: the reading (ingest time, sensor) that made it, its
 * rule (by name) and its state. */
static int match_key(const named_alert_t *a, const named_alert_t *b)
{
    if (a->alert.ingest_time_ns != b->alert.ingest_time_ns)
        return a->alert.ingest_time_ns < b->alert.ingest_time_ns ? -1 : 1;
    if (a->alert.sensor_id != b->alert.sensor_id)
        return a->alert.sensor_id < b->alert.sensor_id ? -1 : 1;
    int rule = strcmp(a->rule, b->rule);
    if (rule != 0)
        return rule;
    return (a->alert.state > b->alert.state) - (a->alert.state < b->alert.state);
}

/* The order of the comparison: by identity, then as the replay made them. */
static int sort_key(const void *x, const void *y)
{
    const named_alert_t *a = x, *b = y;
    int order = match_key(a, b);
    return order != 0 ? order : (a->id > b->id) - (a->id < b->id);
}

static bool same_alert(const named_alert_t *a, const named_alert_t *b)
{
    return a->alert.value == b->alert.value && a->alert.previous == b->alert.previous &&
           a->alert.threshold == b->alert.threshold && a->alert.severity == b->alert.severity &&
           a->alert.kind == b->alert.kind && a->alert.suppressed == b->alert.suppressed &&
           a->alert.device_time_us == b->alert.device_time_us;
}

/* Per-rule tallies of the comparison (rules of either set, by name). */
typedef struct tally {
    char rule[RODA_RULE_NAME_MAX];
    uint64_t a, b, only_a, only_b, changed;
} tally_t;

static tally_t *tally_of(tally_t *tallies, uint32_t *count, const char *rule)
{
    for (uint32_t i = 0; i < *count; i++)
        if (strcmp(tallies[i].rule, rule) == 0)
            return &tallies[i];
    if (*count == 2 * RODA_RULES_MAX)
        return &tallies[*count - 1];
    tally_t *t = &tallies[(*count)++];
    memset(t, 0, sizeof *t);
    snprintf(t->rule, sizeof t->rule, "%s", rule);
    return t;
}

static void print_alert(FILE *out, const named_alert_t *a)
{
    char buf[RODA_ALERT_JSON_MAX];
    roda_json_t json;
    roda_json_init(&json, buf, sizeof buf);
    roda_alert_json(&a->alert, a->id, a->rule, a->device[0] != '\0' ? a->device : NULL,
                    a->sensor[0] != '\0' ? a->sensor : NULL, &json);
    fputs(buf, out);
}

static void compare_runs(FILE *out, run_t *a, run_t *b)
{
    qsort(a->kept, a->kept_count, sizeof *a->kept, sort_key);
    qsort(b->kept, b->kept_count, sizeof *b->kept, sort_key);
    tally_t tallies[2 * RODA_RULES_MAX];
    uint32_t rules = 0;
    uint64_t i = 0, j = 0, only_a = 0, only_b = 0, changed = 0, same = 0;
    while (i < a->kept_count || j < b->kept_count) {
        int order = i == a->kept_count   ? 1
                    : j == b->kept_count ? -1
                                         : match_key(&a->kept[i], &b->kept[j]);
        if (order < 0) {
            tally_of(tallies, &rules, a->kept[i].rule)->only_a++;
            tally_of(tallies, &rules, a->kept[i].rule)->a++;
            fputs("only_a ", out);
            print_alert(out, &a->kept[i++]);
            fputc('\n', out);
            only_a++;
        } else if (order > 0) {
            tally_of(tallies, &rules, b->kept[j].rule)->only_b++;
            tally_of(tallies, &rules, b->kept[j].rule)->b++;
            fputs("only_b ", out);
            print_alert(out, &b->kept[j++]);
            fputc('\n', out);
            only_b++;
        } else {
            tally_t *t = tally_of(tallies, &rules, a->kept[i].rule);
            t->a++;
            t->b++;
            if (same_alert(&a->kept[i], &b->kept[j])) {
                same++;
            } else {
                t->changed++;
                changed++;
                fputs("changed ", out);
                print_alert(out, &a->kept[i]);
                fputc(' ', out);
                print_alert(out, &b->kept[j]);
                fputc('\n', out);
            }
            i++;
            j++;
        }
    }
    for (uint32_t r = 0; r < rules; r++)
        fprintf(out,
                "rule=%s a=%" PRIu64 " b=%" PRIu64 " only_a=%" PRIu64 " only_b=%" PRIu64
                " changed=%" PRIu64 "\n",
                tallies[r].rule, tallies[r].a, tallies[r].b, tallies[r].only_a, tallies[r].only_b,
                tallies[r].changed);
    fprintf(out,
            "summary same=%" PRIu64 " only_a=%" PRIu64 " only_b=%" PRIu64 " changed=%" PRIu64 "\n",
            same, only_a, only_b, changed);
}

/* ---- main ---------------------------------------------------------------------------------- */

static bool parse_options(int argc, char **argv, options_t *o)
{
    static const struct option long_options[] = {
        {"config", required_argument, 0, 'c'}, {"compare", required_argument, 0, 'C'},
        {"from", required_argument, 0, 'f'},   {"to", required_argument, 0, 't'},
        {"sensor", required_argument, 0, 's'}, {"since", required_argument, 0, 'S'},
        {"until", required_argument, 0, 'U'},  {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    *o = (options_t){.to = UINT64_MAX, .until_ns = UINT64_MAX};
    int opt;
    bool ok = true;
    while ((opt = getopt_long(argc, argv, "c:o:h", long_options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            o->config = optarg;
            break;
        case 'C':
            o->compare = optarg;
            break;
        case 'f':
            ok = ok && parse_u64(optarg, &o->from);
            break;
        case 't':
            ok = ok && parse_u64(optarg, &o->to);
            break;
        case 's':
            o->has_sensor = true;
            ok = ok && parse_u64(optarg, &o->sensor);
            break;
        case 'S':
            ok = ok && parse_time(optarg, &o->since_ns);
            break;
        case 'U':
            ok = ok && parse_time(optarg, &o->until_ns);
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            return false;
        }
    }
    if (!ok)
        fprintf(stderr, "roda-replay: a number or time option is not valid\n");
    if (optind + 1 == argc)
        o->directory = argv[optind];
    return ok && o->config != NULL && o->directory != NULL;
}

int main(int argc, char **argv)
{
    options_t o;
    if (!parse_options(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    /* The pipeline's own log lines (recovery, warnings) only when something is wrong. */
    roda_log_set_level(RODA_LOG_WARN);
    FILE *out = o.output != NULL ? fopen(o.output, "w") : stdout;
    if (out == NULL) {
        fprintf(stderr, "roda-replay: %s: %s\n", o.output, strerror(errno));
        return 1;
    }
    run_t a = {.out = o.compare != NULL ? NULL : out}, b = {0};
    bool ok = replay_with(&o, o.config, &a);
    if (ok && o.compare != NULL)
        ok = replay_with(&o, o.compare, &b);
    if (ok && o.compare != NULL)
        compare_runs(out, &a, &b);
    if (ok)
        fprintf(stderr,
                "roda-replay: records=%" PRIu64 " alerts=%" PRIu64 " shown=%" PRIu64
                " seconds=%.3f records_per_sec=%.0f\n",
                a.records, a.alerts, a.shown, a.seconds,
                a.seconds > 0 ? (double)a.records / a.seconds : 0.0);
    free(a.kept);
    free(b.kept);
    if (out != stdout && fclose(out) != 0)
        ok = false;
    return ok ? 0 : 1;
}
