/* test_config.c - the INI configuration: a full valid file, the example config, and every kind of
 * error named by file:line:field. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log_capture.h"
#include "roda_check.h"
#include "roda_config.h"

static roda_config_t config;
static roda_config_errors_t errors;

/* Loads `text`, expects exactly one error and returns it formatted. */
static const char *one_error(const char *text)
{
    static char line[512];
    ck_assert_int_eq(roda_config_load_string(text, "t.conf", &config, &errors),
                     RODA_ERROR_INVALID_ARG);
    if (errors.total != 1) {
        for (uint32_t i = 0; i < errors.count; i++)
            fprintf(stderr, "%s\n", roda_config_error_format(&errors.items[i], line, sizeof line));
    }
    ck_assert_uint_eq(errors.total, 1);
    return roda_config_error_format(&errors.items[0], line, sizeof line);
}

/* Asserts success, printing the errors otherwise. */
static void expect_ok(roda_result_t result)
{
    char line[512];
    for (uint32_t i = 0; i < errors.count; i++)
        fprintf(stderr, "%s\n", roda_config_error_format(&errors.items[i], line, sizeof line));
    ck_assert_int_eq(result, RODA_SUCCESS);
    ck_assert_uint_eq(errors.total, 0);
}

static void assert_prefix(const char *text, const char *prefix)
{
    if (strncmp(text, prefix, strlen(prefix)) != 0)
        ck_abort_msg("'%s' does not start with '%s'", text, prefix);
}

START_TEST(defaults_and_full_file)
{
    const char *text =
        "[gateway]\nlog_level = debug\newma_alpha = 0.25\nstale_tick = 500ms\nidle_spin = true\n"
        "[journal]\ninput_capacity = 4096\nsummary_capacity = 2048\n"
        "alert_capacity = 128\ndirectory = /var/lib/roda\n"
        "[limits]\nmax_sensors = 50\nmax_devices = 5\nmax_rules = 4\n"
        "max_sse_clients = 3\nmax_series = 20\nseries_staleness = 2m\n"
        "recent_alerts = 10\n"
        "[http]\nbind = ::1\nport = 0\nmax_connections = 8\nconnection_timeout = 5s\n"
        "sse_heartbeat = 250ms\nrequest_memory = 16K\n"
        "[mqtt]\nenabled = yes\nhost = broker\nport = 8883\nclient_id = gw-1\n"
        "topics = a/+/b, $share/g/c/#\nqos = 0\nclean_session = true\n"
        "keepalive = 1m\nusername = u\npassword = secret\nca_file = /ca.pem\n"
        "cert_file = /c.pem\nkey_file = /k.pem\ndevice_from = topic\n"
        "device_topic_level = 1\nreconnect_min = 1s\nreconnect_max = 1h\n"
        "alert_topic = out/alerts\nalert_qos = 0\n"
        "[udp]\nenabled = on\nbind = 127.0.0.1:9000, [::1]:9000\n"
        "receive_buffer = 8M\nmax_datagram = 9000\nbatch = 32\n"
        "[rule.hot]\nkind = above\nthreshold = 80.5\nvalue = ewma\n"
        "severity = critical\nhysteresis = 2\nholdoff = 90s\ndevices = boiler-*\n"
        "[rule \"a jump\"]\nkind = jump\nfactor = 1.5\n"
        "[rule.quiet]\nkind = stale\nafter = 45s\nsensors = 1, 2,3\n"
        "[rule.p95]\nkind = jump\nfactor = 2\nvalue = p95 over 1m every 1m\nmin_count = 30\n";
    expect_ok(roda_config_load_string(text, "full.conf", &config, &errors));
    ck_assert_int_eq(config.log_level, RODA_LOG_DEBUG);
    ck_assert_double_eq(config.ewma_alpha, 0.25);
    ck_assert_uint_eq(config.stale_tick_ns, 500000000ull);
    ck_assert(config.idle_spin);
    ck_assert_uint_eq(config.journal.input_capacity, 4096);
    ck_assert_str_eq(config.journal.directory, "/var/lib/roda");
    ck_assert_uint_eq(config.limits.max_sse_clients, 3);
    ck_assert_uint_eq(config.limits.series_staleness_ns, 120000000000ull);
    ck_assert_str_eq(config.http.bind, "::1");
    ck_assert_uint_eq(config.http.port, 0);
    ck_assert_uint_eq(config.http.request_memory, 16384);
    ck_assert(config.mqtt.enabled);
    ck_assert_uint_eq(config.mqtt.topic_count, 2);
    ck_assert_str_eq(config.mqtt.topics[1], "$share/g/c/#");
    ck_assert_uint_eq(config.mqtt.qos, 0);
    ck_assert(config.mqtt.clean_session);
    ck_assert_int_eq(config.mqtt.device_from, RODA_DEVICE_FROM_TOPIC);
    ck_assert_uint_eq(config.mqtt.reconnect_max_ns, 3600000000000ull);
    ck_assert_uint_eq(config.udp.bind_count, 2);
    ck_assert_str_eq(config.udp.binds[1], "[::1]:9000");
    ck_assert_uint_eq(config.udp.receive_buffer, 8u << 20);
    ck_assert_uint_eq(config.rule_count, 4);
    ck_assert_str_eq(config.rules[0].name, "hot");
    ck_assert_int_eq(config.rules[3].value, RODA_RULE_VALUE_P95);
    ck_assert_uint_eq(config.rules[3].window_ns, 60000000000ull); /* tumbling: hop = length */
    ck_assert_uint_eq(config.rules[3].hop_ns, 60000000000ull);
    ck_assert_uint_eq(config.rules[3].min_count, 30);
    ck_assert_int_eq(config.rules[0].kind, RODA_RULE_ABOVE);
    ck_assert_double_eq(config.rules[0].threshold, 80.5);
    ck_assert_int_eq(config.rules[0].value, RODA_RULE_VALUE_EWMA);
    ck_assert_int_eq(config.rules[0].severity, RODA_SEVERITY_CRITICAL);
    ck_assert_uint_eq(config.rules[0].holdoff_ns, 90000000000ull);
    ck_assert_str_eq(config.rules[0].device_glob, "boiler-*");
    ck_assert_str_eq(config.rules[1].name, "a jump");
    ck_assert_int_eq(config.rules[1].value, RODA_RULE_VALUE_MEAN); /* jump's default */
    ck_assert_int_eq(config.rules[1].severity, RODA_SEVERITY_WARNING);
    ck_assert_double_eq(config.rules[2].threshold, 45);
    ck_assert_uint_eq(config.rules[2].sensor_count, 3);
    ck_assert_uint_eq(config.rules[2].sensors[2], 3);
}
END_TEST

START_TEST(empty_file_gives_defaults)
{
    ck_assert_int_eq(roda_config_load_string("", "empty.conf", &config, &errors), RODA_SUCCESS);
    ck_assert_uint_eq(config.http.port, 9464);
    ck_assert_uint_eq(config.limits.max_sensors, 20000);
    ck_assert_uint_eq(config.journal.input_capacity, 1u << 17);
    ck_assert_uint_eq(config.journal.segment_records, 1u << 15);
    ck_assert_uint_eq(config.rule_count, 0);
}
END_TEST

START_TEST(segments_follow_the_input_journal_unless_given)
{
    expect_ok(roda_config_load_string("[journal]\ninput_capacity = 1048576\n", "big.conf", &config,
                                      &errors));
    ck_assert_uint_eq(config.journal.segment_records, 262144);
    expect_ok(roda_config_load_string("[journal]\ninput_capacity = 1024\n", "small.conf", &config,
                                      &errors));
    ck_assert_uint_eq(config.journal.segment_records, 512); /* the smallest segment */
    expect_ok(
        roda_config_load_string("[journal]\ninput_capacity = 1048576\nsegment_records = 4096\n",
                                "given.conf", &config, &errors));
    ck_assert_uint_eq(config.journal.segment_records, 4096);
}
END_TEST

START_TEST(example_config_is_valid)
{
    expect_ok(roda_config_load(RODA_EXAMPLE_CONFIG, &config, &errors));
    ck_assert_uint_eq(config.rule_count, 5); /* the windowed example is commented out */
    ck_assert_str_eq(config.rules[1].name, "mean jump");
    ck_assert_int_eq(config.rules[3].kind, RODA_RULE_DEVICE);
    ck_assert_uint_eq(config.rules[3].term_count, 2);
    ck_assert_str_eq(config.source, RODA_EXAMPLE_CONFIG);
    ck_assert_str_eq(config.journal.directory, "");
}
END_TEST

START_TEST(unknown_section_and_key)
{
    assert_prefix(one_error("[http]\nport = 1\n\n[htpp]\n"),
                  "t.conf:4: htpp: unknown section [htpp]");
    assert_prefix(one_error("[http]\nprot = 80\n"), "t.conf:2: http.prot: unknown key 'prot'");
    assert_prefix(one_error("port = 80\n"), "t.conf:1: port: key outside a section");
    assert_prefix(one_error("[rule.x]\nkind = above\nthreshold = 1\ncolour = red\n"),
                  "t.conf:4: rule.x.colour: unknown key 'colour'");
}
END_TEST

START_TEST(bad_numbers_and_ranges)
{
    assert_prefix(one_error("[http]\nport = eighty\n"),
                  "t.conf:2: http.port: 'eighty' is not a non-negative integer");
    assert_prefix(one_error("[http]\nport = 70000\n"),
                  "t.conf:2: http.port: '70000' is out of range (0 .. 65535)");
    assert_prefix(one_error("[limits]\nmax_sensors = -5\n"),
                  "t.conf:2: limits.max_sensors: '-5' is not a non-negative integer");
    assert_prefix(one_error("[limits]\nmax_sensors = 99999999999999999999999\n"),
                  "t.conf:2: limits.max_sensors: '99999999999999999999999' is too large");
    assert_prefix(one_error("[journal]\ninput_capacity = 3000\n"),
                  "t.conf:2: journal.input_capacity: '3000' is not a power of two (e.g. 2048)");
    assert_prefix(one_error("[gateway]\newma_alpha = 0\n"),
                  "t.conf:2: gateway.ewma_alpha: '0' is out of range");
    assert_prefix(one_error("[gateway]\newma_alpha = nan\n"),
                  "t.conf:2: gateway.ewma_alpha: 'nan' is not a finite number");
    assert_prefix(one_error("[gateway]\nstale_tick = soon\n"),
                  "t.conf:2: gateway.stale_tick: 'soon' is not a duration");
    assert_prefix(one_error("[gateway]\nstale_tick = 5d\n"),
                  "t.conf:2: gateway.stale_tick: '5d' is not a duration");
    assert_prefix(one_error("[udp]\nreceive_buffer = 12.5\n"),
                  "t.conf:2: udp.receive_buffer: '12.5' is not a byte size");
    assert_prefix(one_error("[mqtt]\nenabled = maybe\n"),
                  "t.conf:2: mqtt.enabled: 'maybe' is not a boolean");
    assert_prefix(one_error("[gateway]\nlog_level = loud\n"),
                  "t.conf:2: gateway.log_level: 'loud' is not a log level");
    assert_prefix(one_error("[mqtt]\ntopics = a, , b\n"),
                  "t.conf:2: mqtt.topics: 'a, , b' has an empty list item");
    assert_prefix(one_error("[udp]\nbind = a:1,b:2,c:3,d:4,e:5\n"),
                  "t.conf:2: udp.bind: 'a:1,b:2,c:3,d:4,e:5' has too many items");
}
END_TEST

START_TEST(set_twice)
{
    assert_prefix(one_error("[http]\nport = 1\n[limits]\nmax_rules = 2\n[http]\nport = 2\n"),
                  "t.conf:6: http.port: set twice (first on line 2)");
    assert_prefix(one_error("[rule.a]\nkind = above\nthreshold = 1\nthreshold = 2\n"),
                  "t.conf:4: rule.a.threshold: set twice (first on line 3)");
}
END_TEST

START_TEST(rule_errors)
{
    assert_prefix(one_error("[rule.a]\nthreshold = 1\n"),
                  "t.conf:1: rule.a.kind: missing required field");
    assert_prefix(one_error("[rule.a]\nkind = above\n"),
                  "t.conf:1: rule.a.threshold: missing required field");
    assert_prefix(one_error("[rule.j]\nkind = jump\n"),
                  "t.conf:1: rule.j.factor: missing required field");
    assert_prefix(one_error("[rule.s]\nkind = stale\n"),
                  "t.conf:1: rule.s.after: missing required field");
    assert_prefix(one_error("[rule.a]\nkind = sideways\n"),
                  "t.conf:2: rule.a.kind: 'sideways' is not a rule kind");
    assert_prefix(one_error("[rule.a]\nkind = above\nthreshold = 1\n\n[rule.a]\nkind = below\n"),
                  "t.conf:5: rule.a: duplicate rule 'a' (first defined on line 1)");
    assert_prefix(one_error("[rule.j]\nkind = jump\nfactor = 0.5\n"),
                  "t.conf:3: rule.j.factor: a jump factor must be greater than 1");
    assert_prefix(one_error("[rule.j]\nkind = jump\nthreshold = 2\nfactor = 2\n"),
                  "t.conf:3: rule.j.threshold: does not apply to kind jump (use factor)");
    assert_prefix(one_error("[rule.r]\nkind = rate\nthreshold = 5\nhysteresis = 6\n"),
                  "t.conf:4: rule.r.hysteresis: hysteresis must be below the threshold");
    assert_prefix(one_error("[rule.a]\nkind = above\nthreshold = 1\nsensors = 1, x\n"),
                  "t.conf:4: rule.a.sensors: item 'x' is not a non-negative integer");
    assert_prefix(one_error("[rule.a]\nkind = above\nthreshold = 1\nsensors = 1\ndevices = d*\n"),
                  "t.conf:5: rule.a.devices: give either sensors or devices, not both");
    assert_prefix(one_error("[rule \"unterminated]\n"), "t.conf:1: rule \"unterminated: bad rule");
    assert_prefix(one_error("[rule.w]\nkind = above\nthreshold = 1\nvalue = p95 over\n"),
                  "t.conf:4: rule.w.value: 'p95 over' is not STAT over LENGTH");
    assert_prefix(one_error("[rule.w]\nkind = above\nthreshold = 1\nvalue = p95 over 7s\n"),
                  "t.conf:4: rule.w.value: 'p95 over 7s' needs a hop (every)");
    assert_prefix(one_error("[rule.w]\nkind = above\nthreshold = 1\nvalue = ewma over 1m\n"),
                  "t.conf:4: rule.w.value: a window takes mean, min, max");
    assert_prefix(one_error("[rule.w]\nkind = above\nthreshold = 1\nvalue = p95\n"),
                  "t.conf:4: rule.w.value: this value needs a window");
    assert_prefix(one_error("[rule.w]\nkind = above\nthreshold = 1\nmin_count = 5\n"),
                  "t.conf:4: rule.w.min_count: applies to a window value only");
    assert_prefix(one_error("[limits]\nmax_rules = 1\n[rule.a]\nkind = above\nthreshold = 1\n"
                            "[rule.b]\nkind = above\nthreshold = 1\n"),
                  "t.conf:6: limits.max_rules: rule 'b' is past limits.max_rules (1)");
}
END_TEST

/* The rules keep at most RODA_RULES_WINDOWS distinct windows (length, hop): the rule that needs
 * one more is named when the file is checked, not when the gateway starts. */
START_TEST(too_many_windows)
{
    static const char *const values[] = {"mean over 1m", "p95 over 1m every 30s", "stddev over 5m",
                                         "max over 1h", "min over 2m"};
    char text[1024];
    size_t length = 0;
    for (int w = 0; w < 4; w++)
        length +=
            (size_t)snprintf(text + length, sizeof text - length,
                             "[rule.w%d]\nkind = above\nthreshold = 1\nvalue = %s\n", w, values[w]);
    /* Same length and hop as w0 (p50 adds a sketch to that window, not a window). */
    length += (size_t)snprintf(text + length, sizeof text - length,
                               "[rule.shared]\nkind = below\nthreshold = 1\nvalue = p50 over "
                               "1m every 10s\n");
    expect_ok(roda_config_load_string(text, "t.conf", &config, &errors));
    ck_assert_uint_eq(roda_rules_window_count(config.rules, config.rule_count), 4);
    /* A fifth window, then a sixth: the first rule past the limit is named, once. */
    length += (size_t)snprintf(text + length, sizeof text - length,
                               "[rule.fifth]\nkind = above\nthreshold = 1\nvalue = %s\n"
                               "[rule.sixth]\nkind = above\nthreshold = 1\nvalue = mean over "
                               "3m\n",
                               values[4]);
    ck_assert_uint_lt(length, sizeof text);
    assert_prefix(one_error(text), "t.conf:24: rule.fifth.value: needs a window (length, hop) "
                                   "past the 4 distinct windows");
}
END_TEST

START_TEST(cross_field_errors)
{
    assert_prefix(one_error("[mqtt]\nenabled = true\n"),
                  "t.conf:2: mqtt.topics: missing required field");
    assert_prefix(one_error("[udp]\nenabled = true\n"),
                  "t.conf:2: udp.bind: missing required field");
    assert_prefix(one_error("[mqtt]\nreconnect_min = 10s\nreconnect_max = 1s\n"),
                  "t.conf:2: mqtt.reconnect_min: is greater than mqtt.reconnect_max");
    assert_prefix(one_error("[mqtt]\ncert_file = /c.pem\n"),
                  "t.conf:2: mqtt.key_file: missing required field");
    assert_prefix(one_error("[http]\nconnection_timeout = 10s\nsse_heartbeat = 10s\n"),
                  "t.conf:3: http.sse_heartbeat: must be shorter than http.connection_timeout");
    assert_prefix(one_error("[http]\nmax_connections = 8\n[limits]\nmax_sse_clients = 9\n"),
                  "t.conf:4: limits.max_sse_clients: is greater than http.max_connections");
    assert_prefix(one_error("[journal]\nalert_capacity = 64\n[limits]\nrecent_alerts = 65\n"),
                  "t.conf:4: limits.recent_alerts: is greater than journal.alert_capacity");
    /* A conflict with a default value names the field without a line. */
    assert_prefix(one_error("[http]\nconnection_timeout = 1s\n"),
                  "t.conf: http.sse_heartbeat: must be shorter");
    assert_prefix(one_error("[mqtt]\ndevice_from = topic\n"),
                  "t.conf:2: mqtt.device_topic_level: missing required field");
    /* A stale rule must fire before its sensor is evicted; 0 turns eviction off. */
    const char *stale = "[limits]\nsensor_idle_timeout = %s\n[rule.quiet]\nkind = stale\n"
                        "after = 1m\n";
    char text[256];
    snprintf(text, sizeof text, stale, "1m");
    assert_prefix(one_error(text), "t.conf:5: rule.quiet.after: must be shorter than "
                                   "limits.sensor_idle_timeout");
    snprintf(text, sizeof text, stale, "61s");
    ck_assert_int_eq(roda_config_load_string(text, "t.conf", &config, &errors), RODA_SUCCESS);
    snprintf(text, sizeof text, stale, "0");
    ck_assert_int_eq(roda_config_load_string(text, "t.conf", &config, &errors), RODA_SUCCESS);
    ck_assert_uint_eq(config.limits.sensor_idle_timeout_ns, 0);
}
END_TEST

START_TEST(malformed_lines)
{
    assert_prefix(one_error("[http]\njust words\n"),
                  "t.conf:2: expected 'key = value' or '[section]'");
    assert_prefix(one_error("[http\nport = 1\n"), "t.conf:1: section header without ']'");
    char long_line[3000];
    memset(long_line, 'x', sizeof long_line);
    memcpy(long_line, "[http]\nbind = ", 14);
    long_line[sizeof long_line - 2] = '\n';
    long_line[sizeof long_line - 1] = '\0';
    assert_prefix(one_error(long_line), "t.conf:2: line longer than");
}
END_TEST

START_TEST(all_errors_are_reported)
{
    ck_assert_int_eq(roda_config_load_string("[http]\nport = x\nbind = 1\n[nope]\n[limits]\n"
                                             "max_sensors = 0\n",
                                             "m.conf", &config, &errors),
                     RODA_ERROR_INVALID_ARG);
    ck_assert_uint_eq(errors.total, 3);
    ck_assert_uint_eq(errors.items[0].line, 2);
    ck_assert_uint_eq(errors.items[1].line, 4);
    ck_assert_uint_eq(errors.items[2].line, 6);
    ck_assert_str_eq(errors.items[2].field, "limits.max_sensors");
    /* More errors than kept: all counted. */
    char text[4096] = "[http]\n";
    for (int i = 0; i < 40; i++)
        strcat(text, "bogus = 1\n");
    roda_config_load_string(text, "m.conf", &config, &errors);
    ck_assert_uint_eq(errors.total, 40);
    ck_assert_uint_eq(errors.count, RODA_CONFIG_MAX_ERRORS);
}
END_TEST

START_TEST(missing_file)
{
    char line[512];
    ck_assert_int_eq(roda_config_load("/nonexistent/roda.conf", &config, &errors),
                     RODA_ERROR_INVALID_ARG);
    ck_assert_uint_eq(errors.total, 1);
    assert_prefix(roda_config_error_format(&errors.items[0], line, sizeof line),
                  "/nonexistent/roda.conf: cannot open: No such file or directory");
    /* A directory opens for reading and reads as empty: it would give the defaults. */
    ck_assert_int_eq(roda_config_load("/tmp", &config, &errors), RODA_ERROR_INVALID_ARG);
    ck_assert_uint_eq(errors.total, 1);
    assert_prefix(roda_config_error_format(&errors.items[0], line, sizeof line),
                  "/tmp: is a directory");
}
END_TEST

START_TEST(print_and_memory_plan)
{
    expect_ok(roda_config_load(RODA_EXAMPLE_CONFIG, &config, &errors));
    roda_memory_plan_t plan;
    roda_config_memory_plan(&config, &plan);
    ck_assert_uint_gt(plan.count, 8);
    ck_assert_str_eq(plan.items[0].name, "journal input");
    ck_assert_uint_eq(plan.items[0].bytes, 131072ull * 40);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < plan.count; i++)
        sum += plan.items[i].bytes;
    ck_assert_uint_eq(sum, plan.total);

    /* A plan larger than the machine is refused, naming the largest parts and their settings. */
    char why[512];
    ck_assert(roda_config_memory_fits(&config, plan.total, why, sizeof why));
    ck_assert_uint_gt(roda_config_physical_memory(), plan.total);
    config.limits.max_sensors = 100000000;
    ck_assert(!roda_config_memory_fits(&config, plan.total, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "memory plan: "));
    ck_assert_ptr_nonnull(strstr(why, "rule state"));
    ck_assert_ptr_nonnull(strstr(why, "(limits.max_rules x limits.max_sensors)"));
    ck_assert_ptr_nonnull(strstr(why, "stateful state"));
    ck_assert_ptr_nonnull(strstr(why, "(limits.max_sensors)"));
    /* The same largest items, largest first, for the start log and --check-config. */
    roda_config_memory_plan(&config, &plan);
    char largest[RODA_MEMORY_LARGEST_MAX];
    roda_config_memory_largest(&plan, largest, sizeof largest);
    ck_assert_str_eq(strstr(why, "largest: ") + strlen("largest: "), largest);
    ck_assert_ptr_eq(strstr(largest, "rule state"), largest);
    expect_ok(roda_config_load(RODA_EXAMPLE_CONFIG, &config, &errors));

    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    roda_config_print(&config, out);
    fclose(out);
    ck_assert_ptr_nonnull(strstr(text, "[http]\nbind = 127.0.0.1\nport = 9464\n"));
    ck_assert_ptr_nonnull(strstr(text, "[rule.mean jump]\nkind = jump\n"));
    ck_assert_ptr_nonnull(strstr(text, "holdoff = 60s\n"));
    ck_assert_ptr_nonnull(strstr(text, "; memory plan"));
    ck_assert_ptr_nonnull(strstr(text, "journal input"));
    ck_assert_ptr_nonnull(strstr(text, "total"));
    free(text);

    /* A windowed rule (the example's is commented out) prints its window and plans its memory. */
    roda_config_t windowed;
    expect_ok(roda_config_load_string("[rule.stuck]\nkind = below\nthreshold = 0.001\n"
                                      "value = stddev over 5m\nmin_count = 10\n",
                                      "windowed.conf", &windowed, &errors));
    out = open_memstream(&text, &size);
    roda_config_print(&windowed, out);
    fclose(out);
    ck_assert_ptr_nonnull(strstr(text, "value = stddev over 300s every 50s\nmin_count = 10\n"));
    ck_assert_ptr_nonnull(strstr(text, "rule windows"));
    free(text);

    /* The printed configuration loads back to the same values. */
    roda_config_t again;
    strcpy(config.mqtt.password, "");
    out = open_memstream(&text, &size);
    roda_config_print(&config, out);
    fclose(out);
    ck_assert_int_eq(roda_config_load_string(text, "printed", &again, &errors), RODA_SUCCESS);
    ck_assert_uint_eq(again.rule_count, config.rule_count);
    ck_assert_uint_eq(again.rules[0].holdoff_ns, config.rules[0].holdoff_ns);
    for (uint32_t r = 0; r < config.rule_count; r++) {
        ck_assert_int_eq(again.rules[r].value, config.rules[r].value);
        ck_assert_uint_eq(again.rules[r].window_ns, config.rules[r].window_ns);
        ck_assert_uint_eq(again.rules[r].hop_ns, config.rules[r].hop_ns);
        ck_assert_uint_eq(again.rules[r].min_count, config.rules[r].min_count);
        ck_assert_str_eq(again.rules[r].device_glob, config.rules[r].device_glob);
        ck_assert_str_eq(again.rules[r].name_glob, config.rules[r].name_glob);
        ck_assert_uint_eq(again.rules[r].term_count, config.rules[r].term_count);
        for (uint32_t t = 0; t < config.rules[r].term_count; t++) {
            ck_assert_str_eq(again.rules[r].terms[t].sensor, config.rules[r].terms[t].sensor);
            ck_assert_uint_eq(again.rules[r].terms[t].below, config.rules[r].terms[t].below);
            ck_assert_double_eq(again.rules[r].terms[t].threshold,
                                config.rules[r].terms[t].threshold);
        }
    }
    ck_assert_uint_eq(again.http.connection_timeout_ns, config.http.connection_timeout_ns);
    ck_assert_str_eq(again.udp.binds[1], config.udp.binds[1]);
    free(text);
}
END_TEST

START_TEST(device_rules)
{
    expect_ok(roda_config_load_string(
        "[limits]\nmax_devices = 100\n"
        "[rule.hot]\nkind = device\nwhen = temperature above 80 and fan_speed below -1.5e2\n"
        "hysteresis = 2\ndevices = boiler-*\n"
        "[rule.four]\nkind = device\nwhen =  a above 1  and\tb below 2 and c above 3 and d below 4 "
        "\n",
        "t.conf", &config, &errors));
    const roda_rule_t *hot = &config.rules[0];
    ck_assert_int_eq(hot->kind, RODA_RULE_DEVICE);
    ck_assert_uint_eq(hot->term_count, 2);
    ck_assert_str_eq(hot->terms[0].sensor, "temperature");
    ck_assert_uint_eq(hot->terms[0].below, 0);
    ck_assert_double_eq(hot->terms[0].threshold, 80);
    ck_assert_str_eq(hot->terms[1].sensor, "fan_speed");
    ck_assert_uint_eq(hot->terms[1].below, 1);
    ck_assert_double_eq(hot->terms[1].threshold, -150);
    ck_assert_double_eq(hot->hysteresis, 2);
    ck_assert_uint_eq(config.rules[1].term_count, 4);
    ck_assert_str_eq(config.rules[1].terms[3].sensor, "d");

    /* Printed with its terms and in the memory plan: 48 B per device and device rule. */
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    roda_config_print(&config, out);
    fclose(out);
    ck_assert_ptr_nonnull(
        strstr(text, "kind = device\nseverity = warning\nvalue = last\n"
                     "when = temperature above 80 and fan_speed below -150\nhysteresis = 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "device rules"));
    ck_assert_ptr_nonnull(strstr(text, "100 devices x 96 B"));
    free(text);

    /* Errors name the key and the reason. */
    const char *head = "[rule.d]\nkind = device\n";
    char conf[512];
    static const struct {
        const char *keys, *error;
    } cases[] = {
        {"", "t.conf:1: rule.d.when: missing required field (the condition"},
        {"when = t above 80\n", "t.conf:3: rule.d.when: 't above 80' has one term"},
        {"when = t above 80 or f below 1\n",
         "t.conf:3: rule.d.when: 't above 80 or f below 1' joins its terms with a word other "
         "than and"},
        {"when = t over 80 and f below 1\n",
         "t.conf:3: rule.d.when: 't over 80 and f below 1' compares with a word other than above "
         "or below"},
        {"when = t above hot and f below 1\n",
         "t.conf:3: rule.d.when: 't above hot and f below 1' has a term whose number is not"},
        {"when = t above 1 and f below\n",
         "t.conf:3: rule.d.when: 't above 1 and f below' is not NAME above|below NUMBER"},
        {"when = t above 1 and f below 1 and\n", "t.conf:3: rule.d.when: 't above 1 and f below 1 "
                                                 "and' is not NAME above|below NUMBER"},
        {"when = a above 1 and b above 1 and c above 1 and d above 1 and e above 1\n",
         "t.conf:3: rule.d.when: 'a above 1 and b above 1 and c above 1 and d above 1 and e above "
         "1' has more than 4 terms"},
        {"when = a above 1 and b above 1\nthreshold = 5\n",
         "t.conf:4: rule.d.threshold: does not apply to kind device (use when)"},
        {"when = a above 1 and b above 1\nnames = a\n",
         "t.conf:4: rule.d.names: does not apply to kind device (its terms name the sensors)"},
        {"when = a above 1 and b above 1\nvalue = mean over 1m\n",
         "t.conf:4: rule.d.value: a device rule compares the newest values"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(conf, sizeof conf, "%s%s", head, cases[i].keys);
        assert_prefix(one_error(conf), cases[i].error);
    }
    snprintf(conf, sizeof conf, "%swhen = %0*d above 1 and b below 2\n", head, 64, 0);
    ck_assert_ptr_nonnull(
        strstr(one_error(conf), "has a word too long (a sensor name has 1 to 63"));
    assert_prefix(
        one_error("[rule.a]\nkind = above\nthreshold = 1\nwhen = a above 1 and b below 1\n"),
        "t.conf:4: rule.a.when: applies to kind device only");
}
END_TEST

START_TEST(password_is_masked)
{
    ck_assert_int_eq(roda_config_load_string("[mqtt]\npassword = hunter2\n", "p", &config, &errors),
                     RODA_SUCCESS);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    roda_config_print(&config, out);
    fclose(out);
    ck_assert_ptr_null(strstr(text, "hunter2"));
    ck_assert_ptr_nonnull(strstr(text, "password = ********"));
    free(text);
}
END_TEST

START_TEST(reload_check)
{
    static roda_config_t current, next;
    char field[64];
    const char *base = "[gateway]\nlog_level = info\n[mqtt]\ntopics = a/#, b/#\n"
                       "[rule.hot]\nkind = above\nthreshold = 1\n";
    ck_assert_int_eq(roda_config_load_string(base, "a", &current, &errors), RODA_SUCCESS);
    ck_assert_int_eq(roda_config_load_string("[gateway]\nlog_level = debug\n[mqtt]\n"
                                             "topics = a/#, b/#\n[rule.hot]\nkind = below\n"
                                             "threshold = 5\n[rule.new]\nkind = stale\n"
                                             "after = 1m\n",
                                             "b", &next, &errors),
                     RODA_SUCCESS);
    ck_assert(roda_config_reload_check(&current, &next, field, sizeof field));
    ck_assert_str_eq(field, "");
    ck_assert_int_eq(roda_config_load_string("[http]\nport = 9000\n[mqtt]\ntopics = a/#, b/#\n",
                                             "c", &next, &errors),
                     RODA_SUCCESS);
    ck_assert(!roda_config_reload_check(&current, &next, field, sizeof field));
    ck_assert_str_eq(field, "http.port");
    ck_assert_int_eq(roda_config_load_string("[mqtt]\ntopics = a/#, c/#\n", "d", &next, &errors),
                     RODA_SUCCESS);
    ck_assert(!roda_config_reload_check(&current, &next, field, sizeof field));
    ck_assert_str_eq(field, "mqtt.topics");
}
END_TEST

/* [json.NAME] sections: a mapping each, with the [json] keys and defaults, named by the formats
 * of topic filters; their errors; printed and loaded back alike; a change stops a reload. */
START_TEST(json_mappings)
{
    static roda_config_t back;
    const char *text = "[mqtt]\ntopics = a/+, b/+, c/+\nformats = json, json.meters, roda.v1\n"
                       "[json]\nsensor_fields = t\n[json.meters]\ndevice_topic_level = 1\n"
                       "sensor_fields = kwh, volts\ntimestamp_format = us\n[json.spare]\n";
    expect_ok(roda_config_load_string(text, "t.conf", &config, &errors));
    ck_assert_uint_eq(config.json_count, 3);
    const roda_config_json_t *meters = roda_config_json_mapping(&config, "json.meters");
    ck_assert_ptr_eq(meters, &config.json[1]);
    ck_assert_ptr_eq(roda_config_json_mapping(&config, "json"), &config.json[0]);
    ck_assert_ptr_null(roda_config_json_mapping(&config, "json.nope"));
    ck_assert_ptr_null(roda_config_json_mapping(&config, "json."));
    ck_assert_ptr_null(roda_config_json_mapping(&config, "roda.v1"));
    ck_assert(meters->device_level_set);
    ck_assert_uint_eq(meters->device_topic_level, 1);
    ck_assert_uint_eq(meters->sensor_field_count, 2);
    ck_assert_str_eq(meters->sensor_fields[1], "volts");
    ck_assert_str_eq(meters->timestamp_format, "us");
    ck_assert_uint_eq(meters->max_depth, 8); /* the default, not [json]'s */
    ck_assert(!config.json[0].device_level_set);
    ck_assert_uint_eq(config.json[0].sensor_field_count, 1);
    ck_assert_str_eq(config.json[2].name, "spare");
    ck_assert_str_eq(config.json[2].timestamp_format, "ms");

    /* Printed, loaded back: the same mappings (the reload check compares each key). */
    char *printed;
    size_t size;
    FILE *out = open_memstream(&printed, &size);
    roda_config_print(&config, out);
    fclose(out);
    ck_assert_ptr_nonnull(
        strstr(printed, "[json.meters]\ndevice_field = \ndevice_topic_level = 1\n"));
    ck_assert_ptr_nonnull(strstr(printed, "[json]\ndevice_field = \nsensor_fields = t\n"));
    expect_ok(roda_config_load_string(printed, "printed", &back, &errors));
    free(printed);
    char field[64];
    ck_assert(roda_config_reload_check(&config, &back, field, sizeof field));
    back.json[1].sensor_field_count = 1;
    ck_assert(!roda_config_reload_check(&config, &back, field, sizeof field));
    ck_assert_str_eq(field, "json.meters");
    back = config;
    back.json[0].device_level_set = true;
    ck_assert(!roda_config_reload_check(&config, &back, field, sizeof field));
    ck_assert_str_eq(field, "json");

    assert_prefix(one_error("[json.a b]\n"), "t.conf:1: json.a b: bad mapping name 'a b'");
    assert_prefix(one_error("[json.x]\n[json.x]\n"),
                  "t.conf:2: json.x: duplicate JSON mapping 'x' (first defined on line 1)");
    assert_prefix(one_error("[json.x]\ncolour = red\n"),
                  "t.conf:2: json.x.colour: unknown key 'colour' in [json.x]");
    assert_prefix(one_error("[json.x]\nmax_depth = 2\nmax_depth = 3\n"),
                  "t.conf:3: json.x.max_depth: set twice (first on line 2)");
    assert_prefix(one_error("[json.x]\nmax_depth = 65\n"),
                  "t.conf:2: json.x.max_depth: '65' is out of range");
    assert_prefix(one_error("[json.x]\ndevice_field = id\ndevice_topic_level = 1\n"),
                  "t.conf:3: json.x.device_topic_level: device_topic_level and device_field");
    assert_prefix(one_error("[json]\ndevice_topic_level = 0\ndevice_field = id\n"),
                  "t.conf:2: json.device_topic_level: device_topic_level and device_field");
    assert_prefix(one_error("[mqtt]\ntopics = a\nformats = json.b\n"),
                  "t.conf:3: mqtt.formats: 'json.b' names no [json.b] section");
    assert_prefix(one_error("[nats]\nformat = json.b\n"),
                  "t.conf:2: nats.format: 'json.b' names no [json.b] section");
    assert_prefix(one_error("[json.a]\n[json.b]\n[json.c]\n[json.d]\n[json.e]\n[json.f]\n"
                            "[json.g]\n[json.h]\n"),
                  "t.conf:8: json.h: too many JSON mappings (at most 7 [json.NAME])");
}
END_TEST

START_TEST(errors_are_logged)
{
    char text[2048] = "[http]\nport = x\n";
    for (int i = 0; i < RODA_CONFIG_MAX_ERRORS; i++)
        strcat(text, "bogus = 1\n");
    ck_assert_int_eq(roda_config_load_string(text, "l.conf", &config, &errors),
                     RODA_ERROR_INVALID_ARG);
    int fds[2];
    log_capture_start(fds);
    roda_config_log_errors(&errors);
    const char *logged = log_capture_end(fds);
    ck_assert_ptr_nonnull(strstr(logged, "level=error msg=\"config error\" file=\"l.conf\" line=2 "
                                         "field=\"http.port\" error=\"'x' is not a non-negative "
                                         "integer\" hint=\"fix the field"));
    ck_assert_ptr_nonnull(strstr(logged, "msg=\"config errors not shown\" count=1 "));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, defaults_and_full_file);
    tcase_add_test(tc, empty_file_gives_defaults);
    tcase_add_test(tc, segments_follow_the_input_journal_unless_given);
    tcase_add_test(tc, example_config_is_valid);
    tcase_add_test(tc, unknown_section_and_key);
    tcase_add_test(tc, bad_numbers_and_ranges);
    tcase_add_test(tc, set_twice);
    tcase_add_test(tc, rule_errors);
    tcase_add_test(tc, too_many_windows);
    tcase_add_test(tc, cross_field_errors);
    tcase_add_test(tc, malformed_lines);
    tcase_add_test(tc, all_errors_are_reported);
    tcase_add_test(tc, missing_file);
    tcase_add_test(tc, print_and_memory_plan);
    tcase_add_test(tc, device_rules);
    tcase_add_test(tc, password_is_masked);
    tcase_add_test(tc, errors_are_logged);
    tcase_add_test(tc, reload_check);
    tcase_add_test(tc, json_mappings);
    suite_add_tcase(s, tc);
    return roda_check_run(s);
}
