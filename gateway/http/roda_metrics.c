/* roda_metrics.c - Prometheus text exposition writer and histogram (see roda_metrics.h). */
#include "roda_metrics.h"

#include "roda_prefault.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Room kept after `capacity` for the omitted-sample family written by finish(). */
#define RESERVE_BYTES 512u
#define MAX_LABELS 8u

/* A line being composed; appended to the exposition only if it is complete. */
typedef struct line {
    char text[RODA_METRICS_LINE_MAX];
    size_t len;
    bool overflow;
} line_t;

static void line_put(line_t *line, const char *text, size_t n)
{
    if (line->overflow || line->len + n > sizeof line->text) {
        line->overflow = true;
        return;
    }
    memcpy(line->text + line->len, text, n);
    line->len += n;
}

static void line_str(line_t *line, const char *text)
{
    line_put(line, text, strlen(text));
}

/* Escapes `text` as a label value (\\, \", \n) or, with `help`, as HELP text (\\, \n). */
static void line_escaped(line_t *line, const char *text, bool help)
{
    const char *run = text;
    for (const char *p = text; *p != '\0'; p++) {
        const char *escape = NULL;
        if (*p == '\\')
            escape = "\\\\";
        else if (*p == '\n')
            escape = "\\n";
        else if (*p == '"' && !help)
            escape = "\\\"";
        if (escape == NULL)
            continue;
        line_put(line, run, (size_t)(p - run));
        line_str(line, escape);
        run = p + 1;
    }
    line_str(line, run);
}

static void line_labels(line_t *line, const roda_metrics_label_t *labels, size_t count,
                        const char *le)
{
    if (count == 0 && le == NULL)
        return;
    line_put(line, "{", 1);
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            line_put(line, ",", 1);
        line_str(line, labels[i].name);
        line_put(line, "=\"", 2);
        line_escaped(line, labels[i].value, false);
        line_put(line, "\"", 1);
    }
    if (le != NULL) {
        if (count > 0)
            line_put(line, ",", 1);
        line_str(line, "le=\"");
        line_str(line, le);
        line_put(line, "\"", 1);
    }
    line_put(line, "}", 1);
}

/* Shortest of 15 or 17 significant digits that reads back as `value`; Prometheus spellings for
 * the non-finite values. */
static void format_double(char *text, size_t size, double value)
{
    if (isnan(value)) {
        snprintf(text, size, "NaN");
    } else if (isinf(value)) {
        snprintf(text, size, value > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(text, size, "%.15g", value);
        if (strtod(text, NULL) != value)
            snprintf(text, size, "%.17g", value);
    }
}

static void append_line(roda_metrics_t *m, const line_t *line, size_t limit)
{
    if (line->overflow || line->len + 1 > sizeof line->text || m->len + line->len + 1 > limit) {
        m->omitted_buffer_full++;
        return;
    }
    memcpy(m->buf + m->len, line->text, line->len);
    m->len += line->len;
    m->buf[m->len++] = '\n';
}

roda_result_t roda_metrics_init(roda_metrics_t *m, size_t capacity)
{
    memset(m, 0, sizeof *m);
    if (capacity < RODA_METRICS_LINE_MAX)
        return RODA_ERROR_INVALID_ARG;
    m->buf = calloc(1, capacity + RESERVE_BYTES);
    if (m->buf == NULL)
        return RODA_ERROR_NOMEM;
    /* Resident from the start: RSS does not grow with the series a scrape writes. */
    roda_prefault_zeroed(m->buf, capacity + RESERVE_BYTES);
    m->capacity = capacity;
    return RODA_SUCCESS;
}

void roda_metrics_destroy(roda_metrics_t *m)
{
    free(m->buf);
    m->buf = NULL;
}

void roda_metrics_reset(roda_metrics_t *m)
{
    m->len = 0;
    m->omitted_buffer_full = 0;
    m->omitted_series_limit = 0;
    m->omitted_invalid_name = 0;
    m->family_limit = 0;
    m->family_samples = 0;
    m->family_valid = false;
    m->family[0] = '\0';
}

static bool valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= RODA_METRICS_NAME_MAX - 8) /* room for _bucket */
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static const char *const type_names[] = {"counter", "gauge", "histogram"};

static void family(roda_metrics_t *m, const char *name, roda_metric_type_t type, const char *help,
                   uint32_t limit, size_t buffer_limit)
{
    m->family_limit = limit;
    m->family_samples = 0;
    m->family_valid = valid_name(name) && (unsigned)type <= RODA_METRIC_HISTOGRAM;
    if (!m->family_valid) {
        m->omitted_invalid_name++;
        m->family[0] = '\0';
        return;
    }
    snprintf(m->family, sizeof m->family, "%s", name);
    line_t line = {.len = 0};
    line_str(&line, "# HELP ");
    line_str(&line, name);
    line_put(&line, " ", 1);
    line_escaped(&line, help, true);
    append_line(m, &line, buffer_limit);
    line.len = 0;
    line_str(&line, "# TYPE ");
    line_str(&line, name);
    line_put(&line, " ", 1);
    line_str(&line, type_names[type]);
    append_line(m, &line, buffer_limit);
}

void roda_metrics_family(roda_metrics_t *m, const char *name, roda_metric_type_t type,
                         const char *help)
{
    family(m, name, type, help, 0, m->capacity);
}

void roda_metrics_family_capped(roda_metrics_t *m, const char *name, roda_metric_type_t type,
                                const char *help, uint32_t max_samples)
{
    family(m, name, type, help, max_samples, m->capacity);
}

/* Whether the open family takes one more sample (counts the ones it does not). */
static bool admit(roda_metrics_t *m)
{
    if (!m->family_valid)
        return false;
    if (m->family_limit != 0 && m->family_samples >= m->family_limit) {
        m->omitted_series_limit++;
        return false;
    }
    m->family_samples++;
    return true;
}

static void sample_limited(roda_metrics_t *m, const char *suffix,
                           const roda_metrics_label_t *labels, size_t count, const char *le,
                           const char *value, size_t limit)
{
    line_t line = {.len = 0};
    line_str(&line, m->family);
    line_str(&line, suffix);
    line_labels(&line, labels, count, le);
    line_put(&line, " ", 1);
    line_str(&line, value);
    append_line(m, &line, limit);
}

static void sample(roda_metrics_t *m, const char *suffix, const roda_metrics_label_t *labels,
                   size_t count, const char *le, const char *value)
{
    sample_limited(m, suffix, labels, count, le, value, m->capacity);
}

void roda_metrics_double(roda_metrics_t *m, const roda_metrics_label_t *labels, size_t count,
                         double value)
{
    if (count > MAX_LABELS || !admit(m)) {
        m->omitted_invalid_name += count > MAX_LABELS;
        return;
    }
    char text[32];
    format_double(text, sizeof text, value);
    sample(m, "", labels, count, NULL, text);
}

void roda_metrics_u64(roda_metrics_t *m, const roda_metrics_label_t *labels, size_t count,
                      uint64_t value)
{
    if (count > MAX_LABELS || !admit(m)) {
        m->omitted_invalid_name += count > MAX_LABELS;
        return;
    }
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, value);
    sample(m, "", labels, count, NULL, text);
}

void roda_metrics_histogram(roda_metrics_t *m, const roda_metrics_label_t *labels, size_t count,
                            const roda_histogram_t *h)
{
    if (count > MAX_LABELS || !admit(m)) {
        m->omitted_invalid_name += count > MAX_LABELS;
        return;
    }
    char le[32];
    char text[32];
    uint64_t cumulative = 0;
    for (uint32_t i = 0; i <= h->bucket_count; i++) {
        cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < h->bucket_count)
            format_double(le, sizeof le, h->bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        snprintf(text, sizeof text, "%" PRIu64, cumulative);
        sample(m, "_bucket", labels, count, le, text);
    }
    uint64_t bits = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
    double sum;
    memcpy(&sum, &bits, sizeof sum);
    format_double(text, sizeof text, sum);
    sample(m, "_sum", labels, count, NULL, text);
    /* The count is the +Inf bucket, so the two always agree within one scrape. */
    snprintf(text, sizeof text, "%" PRIu64, cumulative);
    sample(m, "_count", labels, count, NULL, text);
}

void roda_metrics_finish(roda_metrics_t *m)
{
    size_t limit = m->capacity + RESERVE_BYTES;
    uint64_t counts[] = {m->omitted_buffer_full, m->omitted_series_limit, m->omitted_invalid_name};
    static const char *const reasons[] = {"buffer_full", "series_limit", "invalid_name"};
    family(m, "roda_metrics_omitted_samples", RODA_METRIC_GAUGE,
           "Samples left out of this scrape, by reason (buffer_full: raise the series limit's "
           "buffer; series_limit: more sensors than max_series).",
           0, limit);
    for (size_t i = 0; i < 3; i++) {
        char text[24];
        roda_metrics_label_t label = {"reason", reasons[i]};
        snprintf(text, sizeof text, "%" PRIu64, counts[i]);
        sample_limited(m, "", &label, 1, NULL, text, limit);
    }
}

roda_result_t roda_histogram_init(roda_histogram_t *h, const double *bounds, uint32_t count)
{
    memset(h, 0, sizeof *h);
    if (count == 0 || count > RODA_HISTOGRAM_MAX_BUCKETS)
        return RODA_ERROR_INVALID_ARG;
    for (uint32_t i = 0; i < count; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            return RODA_ERROR_INVALID_ARG;
        h->bounds[i] = bounds[i];
    }
    h->bucket_count = count;
    return RODA_SUCCESS;
}
