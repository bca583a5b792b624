/* roda_config_rules.c - the rule grammar: [rule.NAME] / [rule "NAME"] sections, their keys
 * (names from the rules module's own lists) and the checks once the file is read. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "roda_config_internal.h"

/* A window given without `every` slides in this many hops. */
#define WINDOW_BUCKETS 6u

/* A duration of whole nanoseconds > 0 (at most a day) from `text`; NULL or the reason. */
static const char *window_duration(const char *text, uint64_t *ns)
{
    double seconds;
    const char *reason = roda_config_parse_duration(text, &seconds);
    if (reason == NULL && !(seconds > 0 && seconds <= 86400))
        reason = "is out of range (a window or hop of 0s .. 24h)";
    if (reason == NULL)
        *ns = (uint64_t)llround(seconds * 1e9);
    return reason;
}

/* `value`: NAME, or a window statistic NAME over LENGTH [every HOP]; the rule changes only when
 * it parses. */
static const char *rule_value(roda_rule_t *rule, const char *value)
{
    char name[16], length[32], hop[32] = "";
    char over[8], every[8] = "";
    int n = sscanf(value, "%15s %7s %31s %7s %31s", name, over, length, every, hop);
    roda_rule_value_t which;
    uint64_t window_ns = 0, hop_ns = 0;
    if (roda_rule_value_from_name(n >= 1 ? name : value, &which) != RODA_SUCCESS)
        return "is not a value (last, mean, ewma, or a window's mean, min, max, stddev, slope, "
               "p50, p90, p95 or p99 over LENGTH [every HOP])";
    if (n != 1 && ((n != 3 && n != 5) || strcmp(over, "over") != 0 ||
                   (n == 5 && strcmp(every, "every") != 0)))
        return "is not STAT over LENGTH [every HOP] (e.g. p95 over 1m, mean over 5m every 1m)";
    const char *reason = n == 1 ? NULL : window_duration(length, &window_ns);
    if (reason == NULL && n == 5)
        reason = window_duration(hop, &hop_ns);
    else if (reason == NULL && n == 3)
        hop_ns = window_ns % WINDOW_BUCKETS == 0 ? window_ns / WINDOW_BUCKETS : 0;
    if (reason == NULL && n != 1 &&
        (hop_ns == 0 || window_ns % hop_ns != 0 || window_ns / hop_ns > RODA_TWINDOW_MAX_BUCKETS))
        reason = "needs a hop (every) that divides the length into 1 to 60 parts";
    if (reason == NULL) {
        rule->value = which;
        rule->window_ns = window_ns;
        rule->hop_ns = hop_ns;
    }
    return reason;
}

/* Copies the next blank-separated word of *text to `word` (`size` bytes) and moves past it. NULL,
 * or the reason: "" when there is no word left. */
static const char *next_word(const char **text, char *word, size_t size)
{
    const char *start = *text + strspn(*text, " \t");
    size_t len = strcspn(start, " \t");
    if (len == 0)
        return "";
    if (len >= size)
        return "has a word too long (a sensor name has 1 to 63 bytes)";
    memcpy(word, start, len);
    word[len] = '\0';
    *text = start + len;
    return NULL;
}

/* One term NAME above|below NUMBER from *text; NULL or the reason. */
static const char *rule_term(const char **text, roda_rule_term_t *term)
{
    static const char *const form =
        "is not NAME above|below NUMBER and ... (e.g. temperature above 80 and fan_speed below "
        "100)";
    char direction[8], number[64];
    const char *reason = next_word(text, term->sensor, sizeof term->sensor);
    if (reason == NULL)
        reason = next_word(text, direction, sizeof direction);
    if (reason == NULL)
        reason = next_word(text, number, sizeof number);
    if (reason != NULL)
        return reason[0] == '\0' ? form : reason;
    if (strcmp(direction, "above") != 0 && strcmp(direction, "below") != 0)
        return "compares with a word other than above or below";
    term->below = direction[0] == 'b';
    if (roda_config_parse_double(number, &term->threshold) != NULL)
        return "has a term whose number is not a finite number";
    return NULL;
}

/* `when`: 2 .. RODA_RULE_MAX_TERMS terms joined by `and`; the rule changes only when it parses. */
static const char *rule_terms(roda_rule_t *rule, const char *value)
{
    roda_rule_term_t terms[RODA_RULE_MAX_TERMS];
    memset(terms, 0, sizeof terms);
    const char *text = value;
    uint32_t n = 0;
    for (;;) {
        if (n == RODA_RULE_MAX_TERMS)
            return "has more than 4 terms";
        const char *reason = rule_term(&text, &terms[n++]);
        if (reason != NULL)
            return reason;
        char join[8];
        reason = next_word(&text, join, sizeof join);
        if (reason != NULL && reason[0] == '\0')
            break;
        if (reason != NULL || strcmp(join, "and") != 0)
            return "joins its terms with a word other than and";
    }
    if (n < 2)
        return "has one term (2 to 4; one sensor's condition is kind above or below)";
    rule->term_count = n;
    memcpy(rule->terms, terms, sizeof terms);
    return NULL;
}

/* Parses `value` into rule key `key`. RODA_SUCCESS, or RODA_ERROR_INVALID_ARG with the message
 * in `why`. */
static roda_result_t rule_value_set(roda_rule_t *rule, int key, const char *value, char *why,
                                    size_t size)
{
    const char *reason = NULL;
    double number;
    switch (key) {
    case RODA_CONFIG_RULE_KIND:
        if (roda_rule_kind_from_name(value, &rule->kind) != RODA_SUCCESS)
            reason = "is not a rule kind (above, below, jump, rate, stale or device)";
        break;
    case RODA_CONFIG_RULE_SEVERITY:
        if (roda_severity_from_name(value, &rule->severity) != RODA_SUCCESS)
            reason = "is not a severity (info, warning or critical)";
        break;
    case RODA_CONFIG_RULE_VALUE:
        reason = rule_value(rule, value);
        break;
    case RODA_CONFIG_RULE_MIN_COUNT: {
        uint64_t count;
        reason = roda_config_parse_u64(value, &count);
        if (reason == NULL && count > UINT32_MAX)
            reason = "is out of range (0 .. 4294967295)";
        if (reason == NULL)
            rule->min_count = (uint32_t)count;
        break;
    }
    case RODA_CONFIG_RULE_THRESHOLD:
    case RODA_CONFIG_RULE_FACTOR:
        reason = roda_config_parse_double(value, &rule->threshold);
        break;
    case RODA_CONFIG_RULE_HYSTERESIS:
        reason = roda_config_parse_double(value, &rule->hysteresis);
        if (reason == NULL && rule->hysteresis < 0)
            reason = "is out of range (>= 0)";
        break;
    case RODA_CONFIG_RULE_AFTER:
        reason = roda_config_parse_duration(value, &number);
        if (reason == NULL && !(number > 0))
            reason = "is out of range (greater than 0s)";
        if (reason == NULL)
            rule->threshold = number;
        break;
    case RODA_CONFIG_RULE_HOLDOFF:
        reason = roda_config_parse_duration(value, &number);
        if (reason == NULL && number > 86400)
            reason = "is out of range (0s .. 24h)";
        if (reason == NULL)
            rule->holdoff_ns = (uint64_t)llround(number * 1e9);
        break;
    case RODA_CONFIG_RULE_SENSORS: {
        char ids[RODA_RULE_MAX_SENSOR_IDS][24];
        uint32_t n = 0;
        reason =
            roda_config_parse_list(value, &ids[0][0], sizeof ids[0], RODA_RULE_MAX_SENSOR_IDS, &n);
        for (uint32_t i = 0; reason == NULL && i < n; i++) {
            reason = roda_config_parse_u64(ids[i], &rule->sensors[i]);
            if (reason != NULL) {
                snprintf(why, size, "item '%s' %s", ids[i], reason);
                return RODA_ERROR_INVALID_ARG;
            }
        }
        if (reason == NULL)
            rule->sensor_count = n;
        break;
    }
    case RODA_CONFIG_RULE_WHEN:
        reason = rule_terms(rule, value);
        break;
    case RODA_CONFIG_RULE_NAMES:
        if (strlen(value) >= RODA_RULE_GLOB_MAX)
            reason = "is too long (63 bytes at most)";
        else
            snprintf(rule->name_glob, sizeof rule->name_glob, "%s", value);
        break;
    default: /* RODA_CONFIG_RULE_DEVICES */
        if (strlen(value) >= RODA_RULE_GLOB_MAX)
            reason = "is too long (63 bytes at most)";
        else
            snprintf(rule->device_glob, sizeof rule->device_glob, "%s", value);
        break;
    }
    if (reason == NULL)
        return RODA_SUCCESS;
    snprintf(why, size, "'%s' %s", value, reason);
    return RODA_ERROR_INVALID_ARG;
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

bool roda_config_rule_section(roda_config_parser_t *p, const char *section)
{
    char name[RODA_RULE_NAME_MAX];
    const char *why;
    if (rule_name(section, name, sizeof name, &why) == NULL)
        return false;
    if (why != NULL) {
        roda_config_report(p, p->line, section, "bad rule section: %s", why);
        return true;
    }
    roda_config_t *c = p->config;
    for (uint32_t i = 0; i < c->rule_count; i++) {
        if (strcmp(c->rules[i].name, name) == 0) {
            roda_config_report(p, p->line, section,
                               "duplicate rule '%s' (first defined on line %" PRIu32 ")", name,
                               p->rule_line[i]);
            return true;
        }
    }
    if (c->rule_count == RODA_RULES_MAX) {
        roda_config_report(p, p->line, section, "too many rules (at most %d)", RODA_RULES_MAX);
        return true;
    }
    p->rule = (int32_t)c->rule_count++;
    p->rule_line[p->rule] = p->line;
    roda_rule_t *rule = &c->rules[p->rule];
    memset(rule, 0, sizeof *rule);
    snprintf(rule->name, sizeof rule->name, "%s", name);
    rule->kind = RODA_RULE_KIND_COUNT; /* "not set", checked at the end */
    for (int k = 0; k < RODA_CONFIG_RULE_KEY_COUNT; k++) {
        char unused[RODA_CONFIG_TEXT_MAX];
        /* Every default parses (test_config checks the defaults of a rule). */
        if (roda_config_rule_fields[k].default_text != NULL)
            (void)rule_value_set(rule, k, roda_config_rule_fields[k].default_text, unused,
                                 sizeof unused);
    }
    p->section_kind = RODA_CONFIG_SECTION_RULE;
    return true;
}

void roda_config_rule_key(roda_config_parser_t *p, const char *key, const char *value)
{
    roda_rule_t *rule = &p->config->rules[p->rule];
    char field_name[128];
    snprintf(field_name, sizeof field_name, "rule.%s.%s", rule->name, key);
    int k;
    for (k = 0; k < RODA_CONFIG_RULE_KEY_COUNT; k++) {
        if (strcmp(key, roda_config_rule_fields[k].key) == 0)
            break;
    }
    char why[RODA_CONFIG_LINE_MAX + 64];
    if (k == RODA_CONFIG_RULE_KEY_COUNT) {
        roda_config_report(p, p->line, field_name,
                           "unknown key '%s' (known: kind, severity, value, threshold, factor, "
                           "after, hysteresis, holdoff, sensors, devices, names, min_count, when)",
                           key);
    } else if (p->rule_key_line[p->rule][k] != 0) {
        roda_config_report(p, p->line, field_name, "set twice (first on line %" PRIu32 ")",
                           p->rule_key_line[p->rule][k]);
    } else {
        p->rule_key_line[p->rule][k] = p->line;
        if (rule_value_set(rule, k, value, why, sizeof why) != RODA_SUCCESS)
            roda_config_report(p, p->line, field_name, "%s", why);
    }
}

static void rule_field(char *field, size_t size, const roda_rule_t *rule, int key)
{
    snprintf(field, size, "rule.%s.%s", rule->name, roda_config_rule_fields[key].key);
}

static void require(roda_config_parser_t *p, uint32_t r, int key, const char *what)
{
    char field[128];
    rule_field(field, sizeof field, &p->config->rules[r], key);
    roda_config_report(p, p->rule_line[r], field, "missing required field (%s)", what);
}

/* Checks one rule whose kind is set: the keys of its kind, the scope, roda_rule_validate. False
 * when the key its kind needs is missing (nothing more is checked then). */
static bool finish_rule(roda_config_parser_t *p, uint32_t r)
{
    roda_rule_t *rule = &p->config->rules[r];
    const uint32_t *seen = p->rule_key_line[r];
    char field[128];
    /* Which of threshold/factor/after/when the kind takes. */
    int wanted = rule->kind == RODA_RULE_JUMP     ? RODA_CONFIG_RULE_FACTOR
                 : rule->kind == RODA_RULE_STALE  ? RODA_CONFIG_RULE_AFTER
                 : rule->kind == RODA_RULE_DEVICE ? RODA_CONFIG_RULE_WHEN
                                                  : RODA_CONFIG_RULE_THRESHOLD;
    for (int k = RODA_CONFIG_RULE_THRESHOLD; k <= RODA_CONFIG_RULE_AFTER; k++) {
        if (k != wanted && seen[k] != 0) {
            rule_field(field, sizeof field, rule, k);
            roda_config_report(p, seen[k], field, "does not apply to kind %s (use %s)",
                               roda_rule_kind_name(rule->kind),
                               roda_config_rule_fields[wanted].key);
        }
    }
    if (wanted != RODA_CONFIG_RULE_WHEN && seen[RODA_CONFIG_RULE_WHEN] != 0) {
        rule_field(field, sizeof field, rule, RODA_CONFIG_RULE_WHEN);
        roda_config_report(p, seen[RODA_CONFIG_RULE_WHEN], field, "applies to kind device only");
        rule->term_count = 0; /* reported once */
    }
    if (seen[wanted] == 0) {
        require(p, r, wanted,
                wanted == RODA_CONFIG_RULE_FACTOR  ? "the jump factor, e.g. 1.5"
                : wanted == RODA_CONFIG_RULE_AFTER ? "how long without a reading, e.g. 30s"
                : wanted == RODA_CONFIG_RULE_WHEN
                    ? "the condition, e.g. temperature above 80 and fan_speed below 100"
                    : "the limit to compare with");
        return false;
    }
    /* A device rule's terms name its sensors: reported here, not again by the validation. */
    static const int named_by_terms[] = {RODA_CONFIG_RULE_SENSORS, RODA_CONFIG_RULE_NAMES};
    bool misnamed = false;
    for (size_t i = 0; i < sizeof named_by_terms / sizeof named_by_terms[0]; i++) {
        int k = named_by_terms[i];
        if (rule->kind == RODA_RULE_DEVICE && seen[k] != 0) {
            rule_field(field, sizeof field, rule, k);
            roda_config_report(p, seen[k], field,
                               "does not apply to kind device (its terms name the sensors)");
            misnamed = true;
        }
    }
    if (misnamed || (wanted == RODA_CONFIG_RULE_WHEN && rule->term_count == 0))
        return true; /* reported already (a `when` that did not parse too) */
    if (rule->kind == RODA_RULE_STALE && seen[RODA_CONFIG_RULE_VALUE] != 0) {
        rule_field(field, sizeof field, rule, RODA_CONFIG_RULE_VALUE);
        roda_config_report(p, seen[RODA_CONFIG_RULE_VALUE], field, "does not apply to kind stale");
    }
    if (rule->kind == RODA_RULE_JUMP && seen[RODA_CONFIG_RULE_VALUE] == 0)
        rule->value = RODA_RULE_VALUE_MEAN;
    if (rule->window_ns == 0 && seen[RODA_CONFIG_RULE_MIN_COUNT] != 0) {
        rule_field(field, sizeof field, rule, RODA_CONFIG_RULE_MIN_COUNT);
        roda_config_report(p, seen[RODA_CONFIG_RULE_MIN_COUNT], field,
                           "applies to a window value only (value = STAT over LENGTH)");
    }
    if (rule->sensor_count > 0 && rule->device_glob[0] != '\0') {
        rule_field(field, sizeof field, rule, RODA_CONFIG_RULE_DEVICES);
        roda_config_report(p, seen[RODA_CONFIG_RULE_DEVICES], field,
                           "give either sensors or devices, not both");
    }
    if (rule->sensor_count > 0 && rule->name_glob[0] != '\0') {
        rule_field(field, sizeof field, rule, RODA_CONFIG_RULE_NAMES);
        roda_config_report(p, seen[RODA_CONFIG_RULE_NAMES], field,
                           "give either sensors or names, not both");
    }
    const char *why;
    if (roda_rule_validate(rule, &why) != RODA_SUCCESS) {
        int key = strstr(why, "hysteresis") != NULL ? RODA_CONFIG_RULE_HYSTERESIS
                  : strstr(why, "window") != NULL   ? RODA_CONFIG_RULE_VALUE
                                                    : wanted;
        rule_field(field, sizeof field, rule, key);
        roda_config_report(p, seen[key] != 0 ? seen[key] : p->rule_line[r], field, "%s", why);
    }
    return true;
}

void roda_config_rules_finish(roda_config_parser_t *p)
{
    roda_config_t *c = p->config;
    for (uint32_t r = 0; r < c->rule_count; r++) {
        roda_rule_t *rule = &c->rules[r];
        if (rule->kind == RODA_RULE_KIND_COUNT) {
            if (p->rule_key_line[r][RODA_CONFIG_RULE_KIND] == 0)
                require(p, r, RODA_CONFIG_RULE_KIND, "above, below, jump, rate, stale or device");
            continue;
        }
        if (!finish_rule(p, r))
            continue;
        if (r >= c->limits.max_rules) {
            roda_config_report(p, p->rule_line[r], "limits.max_rules",
                               "rule '%s' is past limits.max_rules (%" PRIu32 "); raise it",
                               rule->name, c->limits.max_rules);
        }
        if (rule->kind == RODA_RULE_STALE && c->limits.sensor_idle_timeout_ns != 0 &&
            rule->threshold * 1e9 >= (double)c->limits.sensor_idle_timeout_ns) {
            char field[128];
            rule_field(field, sizeof field, rule, RODA_CONFIG_RULE_AFTER);
            roda_config_report(p, p->rule_key_line[r][RODA_CONFIG_RULE_AFTER], field,
                               "must be shorter than limits.sensor_idle_timeout (a sensor silent "
                               "that long is forgotten; its stale alert must come first)");
        }
    }
    /* The first rule whose window is one too many (the rules module keeps RODA_RULES_WINDOWS). */
    for (uint32_t r = 0; r < c->rule_count; r++) {
        if (roda_rules_window_count(c->rules, r + 1) <= RODA_RULES_WINDOWS)
            continue;
        char field[128];
        rule_field(field, sizeof field, &c->rules[r], RODA_CONFIG_RULE_VALUE);
        roda_config_report(p, p->rule_key_line[r][RODA_CONFIG_RULE_VALUE], field,
                           "needs a window (length, hop) past the %u distinct windows the rules "
                           "may use; give it the length and hop of another rule's window",
                           RODA_RULES_WINDOWS);
        break;
    }
}
