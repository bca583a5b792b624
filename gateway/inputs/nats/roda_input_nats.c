/* roda_input_nats.c - the NATS JetStream input class: pull consumers per owned partition from
 * the [nats] section, acknowledged after the journal has the readings (see roda_input_nats.h). */
#include "roda_input_nats.h"

#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roda_idle.h"
#include "roda_input_mqtt.h"
#include "roda_log.h"
#include "roda_nats_positions.h"
#include "roda_sparkplug_decode.h"

#define PARTITION_TOKEN "{partition}"
#define DEVICE_TOKEN "{device}"
#define SUBJECT_SIZE 256u
#define DURABLE_SIZE 96u
/* JetStream API calls (stream and consumer lookups) wait at most this long. */
#define JS_WAIT_MS 2000
/* A failed set-up is tried again after this long. */
#define RETRY_NS 1000000000ull
#define RECONNECT_WAIT_MS 250
#define LOG_INTERVAL_NS 10000000000ull

_Static_assert(sizeof(roda_input_nats_settings_t) <= RODA_INPUT_SETTINGS_MAX,
               "the NATS input's settings fit the callers' settings buffers");
_Static_assert(RODA_INPUT_NATS_MAX_SERVERS == RODA_CONFIG_MAX_NATS_SERVERS &&
                   RODA_INPUT_NATS_MAX_PARTITIONS == RODA_CONFIG_MAX_PARTITIONS,
               "[nats] lists hold what the input takes");

typedef struct partition {
    uint32_t number;
    natsSubscription *sub;      /* NULL until the consumer is first bound */
    bool bound;                 /* false: bind (again) before the next fetch */
    natsMsgList fetched;        /* this turn's messages, acknowledged after the sync */
    int taken;                  /* how many of them were taken (the rest follow a lost delivery) */
    uint64_t consumer_sequence; /* the consumer's delivery sequence of the last one; 0: none */
    _Atomic uint64_t pending;   /* messages not yet delivered: after the last fetched one, or as
                                   the consumer said at bind and in the stall check */
    _Atomic uint64_t redeliveries; /* messages delivered more than once */
    _Atomic uint64_t journaled;    /* redeliveries already in the journal: acknowledged only */
    _Atomic uint64_t acks;
    uint64_t idle_since_ns; /* when its fetches began to come back empty; 0: not idle */
} partition_t;

/* A partition whose fetches come back empty this long asks its consumer whether it has messages
 * it is not delivering (after a server node died, a pull subscription may wait on a route that
 * is gone): then it is bound again. Cold path: one request per idle partition per interval. */
#define STALL_CHECK_NS 1000000000ull

typedef struct input_nats {
    roda_input_nats_settings_t settings;
    roda_input_port_t port;
    natsConnection *conn;
    jsCtx *js;
    jsOptions js_options;
    bool stream_bound;
    uint64_t retry_at_ns; /* roda_now_ns() of the next set-up attempt */
    bool busy;            /* the last turn fetched messages: poll again at once */
    roda_nats_positions_t positions;
    roda_log_limiter_t log;
    _Atomic bool ready;
    _Atomic bool reconnected; /* set by libnats' thread, taken by the ingest thread */
    partition_t partitions[RODA_INPUT_NATS_MAX_PARTITIONS];
} input_nats_t;

/* True when the token of `length` bytes is `literal`. */
static bool is(const char *token, size_t length, const char *literal)
{
    return length == strlen(literal) && memcmp(token, literal, length) == 0;
}

bool roda_nats_pattern_valid(const char *pattern)
{
    int partitions = 0, devices = 0;
    for (const char *token = pattern;;) {
        const char *end = strchr(token, '.');
        size_t length = end != NULL ? (size_t)(end - token) : strlen(token);
        if (length == 0)
            return false;
        if (is(token, length, PARTITION_TOKEN))
            partitions++;
        else if (is(token, length, DEVICE_TOKEN))
            devices++;
        else if (strcspn(token, "*>{}") < length)
            return false;
        if (end == NULL)
            break;
        token = end + 1;
    }
    return partitions == 1 && devices == 1;
}

roda_result_t roda_nats_pattern_expand(const char *pattern, const char *partition,
                                       const char *device, char *out, size_t size)
{
    size_t used = 0;
    for (const char *token = pattern;;) {
        const char *end = strchr(token, '.');
        size_t length = end != NULL ? (size_t)(end - token) : strlen(token);
        const char *text = is(token, length, PARTITION_TOKEN) ? partition
                           : is(token, length, DEVICE_TOKEN)  ? device
                                                              : NULL;
        size_t text_length = text != NULL ? strlen(text) : length;
        if (used + text_length + (end != NULL ? 1 : 0) + 1 > size) /* '.' or the NUL */
            return RODA_ERROR_INVALID_ARG;
        memcpy(out + used, text != NULL ? text : token, text_length);
        used += text_length;
        if (end == NULL)
            break;
        out[used++] = '.';
        token = end + 1;
    }
    out[used] = '\0';
    return RODA_SUCCESS;
}

bool roda_nats_subject_device(const char *pattern, const char *subject, const char **device,
                              size_t *length)
{
    const char *p = pattern, *s = subject;
    bool found = false;
    for (;;) {
        const char *p_end = strchr(p, '.');
        const char *s_end = strchr(s, '.');
        size_t p_length = p_end ? (size_t)(p_end - p) : strlen(p);
        size_t s_length = s_end ? (size_t)(s_end - s) : strlen(s);
        if (is(p, p_length, DEVICE_TOKEN)) {
            *device = s;
            *length = s_length;
            found = s_length > 0;
        } else if (!is(p, p_length, PARTITION_TOKEN) &&
                   (p_length != s_length || memcmp(p, s, p_length) != 0)) {
            return false;
        }
        if (p_end == NULL || s_end == NULL)
            return p_end == NULL && s_end == NULL && found;
        p = p_end + 1;
        s = s_end + 1;
    }
}

/* The owned partitions from their list of numbers; false with the reason in `why`. */
static bool configure_partitions(const roda_config_t *c, roda_input_nats_settings_t *s, char *why,
                                 size_t size)
{
    s->partition_count = c->nats.partition_count;
    for (uint32_t i = 0; i < s->partition_count; i++) {
        char *end;
        unsigned long number = strtoul(c->nats.partitions[i], &end, 10);
        if (c->nats.partitions[i][0] < '0' || c->nats.partitions[i][0] > '9' || *end != '\0' ||
            number >= RODA_NATS_MAX_PARTITIONS) {
            snprintf(why, size, "nats.partitions: '%s' is not a partition number (0-%u)",
                     c->nats.partitions[i], RODA_NATS_MAX_PARTITIONS - 1);
            return false;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (s->partitions[j] == number) {
                snprintf(why, size, "nats.partitions: %lu is listed twice", number);
                return false;
            }
        }
        s->partitions[i] = (uint32_t)number;
    }
    return true;
}

static bool configure(const roda_config_t *c, void *out, bool *enabled, char *why, size_t size)
{
    roda_input_nats_settings_t *s = out;
    memset(s, 0, sizeof *s);
    *enabled = c->nats.enabled;
    if (!*enabled)
        return true;
    if (c->nats.server_count == 0 || c->nats.partition_count == 0) {
        snprintf(why, size, "nats.%s: missing required field (NATS is enabled: give the %s)",
                 c->nats.server_count == 0 ? "servers" : "partitions",
                 c->nats.server_count == 0 ? "server URLs" : "partitions this gateway owns");
        return false;
    }
    s->server_count = c->nats.server_count;
    for (uint32_t i = 0; i < s->server_count; i++)
        s->servers[i] = c->nats.servers[i];
    s->stream = c->nats.stream;
    s->subject = c->nats.subject;
    s->durable_prefix = c->nats.durable_prefix;
    s->batch = c->nats.batch;
    s->fetch_wait_ns = c->nats.fetch_wait_ns;
    s->ack_wait_ns = c->nats.ack_wait_ns;
    s->replicas = c->nats.replicas;
    if (!roda_nats_pattern_valid(s->subject)) {
        snprintf(why, size,
                 "nats.subject: '%s' needs the tokens {partition} and {device} once each, and no "
                 "wildcards",
                 s->subject);
        return false;
    }
    if (s->stream[0] == '\0' || strcspn(s->stream, ".*> ") != strlen(s->stream) ||
        strlen(s->stream) >= RODA_NATS_STREAM_NAME_MAX) {
        snprintf(why, size, "nats.stream: '%s' is not a stream name (1-63 characters, no . * >)",
                 s->stream);
        return false;
    }
    if (strcspn(s->durable_prefix, ".*> ") != strlen(s->durable_prefix)) {
        snprintf(why, size, "nats.durable_prefix: '%s' may not hold . * > or spaces",
                 s->durable_prefix);
        return false;
    }
    s->decoder = roda_input_format(c, "nats.format", c->nats.format, &s->json, why, size);
    if (s->decoder == NULL)
        return false;
    if (s->decoder != roda_decoder_default() && s->decoder != &roda_json_decoder) {
        snprintf(why, size, "nats.format: '%s' is not roda.v1, json or json.NAME%s", c->nats.format,
                 s->decoder == &roda_sparkplug_decoder
                     ? " (Sparkplug B: read it with the MQTT input)"
                     : "");
        return false;
    }
    return configure_partitions(c, s, why, size);
}

static void log_failure(input_nats_t *n, const char *what, natsStatus status, jsErrCode code)
{
    uint64_t suppressed;
    if (roda_log_limiter_allow(&n->log, roda_now_ns(), &suppressed))
        roda_log(RODA_LOG_WARN, "nats call failed",
                 "what=\"%s\" status=\"%s\" jetstream_error=%d suppressed=%llu", what,
                 natsStatus_GetText(status), (int)code, (unsigned long long)suppressed);
}

/* Finds the stream, or makes it, and binds the positions to it. */
static bool bind_stream(input_nats_t *n)
{
    const roda_input_nats_settings_t *s = &n->settings;
    jsStreamInfo *info = NULL;
    jsErrCode code = 0;
    natsStatus status = js_GetStreamInfo(&info, n->js, s->stream, &n->js_options, &code);
    if (status == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
        char subject[SUBJECT_SIZE];
        if (roda_nats_pattern_expand(s->subject, "*", "*", subject, sizeof subject) != RODA_SUCCESS)
            return false;
        const char *subjects[1] = {subject};
        jsStreamConfig config;
        jsStreamConfig_Init(&config);
        config.Name = s->stream;
        config.Subjects = subjects;
        config.SubjectsLen = 1;
        config.Storage = js_FileStorage;
        config.Replicas = s->replicas;
        status = js_AddStream(&info, n->js, &config, &n->js_options, &code);
        if (status == NATS_OK)
            roda_log(RODA_LOG_INFO, "nats stream created", "stream=%s subjects=%s replicas=%u",
                     s->stream, subject, (unsigned)s->replicas);
    }
    if (status != NATS_OK) {
        log_failure(n, "stream", status, code);
        return false;
    }
    if (!roda_nats_positions_bind(&n->positions, s->stream, info->Created))
        roda_log(RODA_LOG_WARN, "nats positions discarded",
                 "stream=%s why=\"the stream was made again: its sequences start over\"",
                 s->stream);
    jsStreamInfo_Destroy(info);
    return true;
}

/* Makes partition `p`'s consumer starting after stream sequence `after` (0: the stream's
 * start), replacing one of the same name. */
static natsStatus make_consumer(input_nats_t *n, const char *durable, const char *subject,
                                uint64_t after, jsErrCode *code)
{
    const roda_input_nats_settings_t *s = &n->settings;
    jsConsumerConfig config;
    jsConsumerConfig_Init(&config);
    config.Durable = durable;
    config.FilterSubject = subject;
    config.AckPolicy = js_AckExplicit;
    config.AckWait = (int64_t)s->ack_wait_ns;
    config.DeliverPolicy = after > 0 ? js_DeliverByStartSequence : js_DeliverAll;
    config.OptStartSeq = after > 0 ? after + 1 : 0;
    jsConsumerInfo *info = NULL;
    natsStatus status = js_AddConsumer(&info, n->js, s->stream, &config, &n->js_options, code);
    jsConsumerInfo_Destroy(info);
    return status;
}

/* Binds partition `p`'s durable pull consumer so that it delivers in stream order from the
 * partition's position on. A consumer with messages awaiting acknowledgement (delivered to a
 * process that died, or lost on the way in a reconnect) would redeliver those after ack_wait,
 * behind newer messages, and a position that had moved past them would take them for journaled:
 * such a consumer is made again, starting after the position (or its acknowledgement floor,
 * whichever is later: a takeover from another directory starts at the floor). */
static bool bind_partition(input_nats_t *n, partition_t *p)
{
    const roda_input_nats_settings_t *s = &n->settings;
    char number[16], subject[SUBJECT_SIZE], durable[DURABLE_SIZE];
    snprintf(number, sizeof number, "%u", (unsigned)p->number);
    snprintf(durable, sizeof durable, "%s-p%u", s->durable_prefix, (unsigned)p->number);
    if (roda_nats_pattern_expand(s->subject, number, "*", subject, sizeof subject) != RODA_SUCCESS)
        return false;
    natsSubscription_Destroy(p->sub);
    p->sub = NULL;
    p->consumer_sequence = 0;
    uint64_t position = roda_nats_position(&n->positions, p->number);
    jsConsumerInfo *info = NULL;
    jsErrCode code = 0;
    natsStatus status = js_GetConsumerInfo(&info, n->js, s->stream, durable, &n->js_options, &code);
    if (status == NATS_OK)
        atomic_store_explicit(&p->pending, info->NumPending, memory_order_relaxed);
    if (status == NATS_NOT_FOUND || code == JSConsumerNotFoundErr) {
        status = make_consumer(n, durable, subject, position, &code);
    } else if (status == NATS_OK && info->NumAckPending > 0) {
        uint64_t after = info->AckFloor.Stream > position ? info->AckFloor.Stream : position;
        roda_log(RODA_LOG_INFO, "nats consumer restarted",
                 "partition=%u awaiting_ack=%lld after=%llu", (unsigned)p->number,
                 (long long)info->NumAckPending, (unsigned long long)after);
        status = js_DeleteConsumer(n->js, s->stream, durable, &n->js_options, &code);
        if (status == NATS_OK)
            status = make_consumer(n, durable, subject, after, &code);
    }
    jsConsumerInfo_Destroy(info);
    jsSubOptions options;
    jsSubOptions_Init(&options);
    options.Stream = s->stream;
    options.Consumer = durable;
    if (status == NATS_OK)
        status =
            js_PullSubscribe(&p->sub, n->js, subject, durable, &n->js_options, &options, &code);
    if (status != NATS_OK) {
        p->sub = NULL;
        log_failure(n, "consumer", status, code);
        return false;
    }
    p->bound = true;
    roda_log(RODA_LOG_INFO, "nats partition bound",
             "partition=%u consumer=%s subject=%s position=%llu", (unsigned)p->number, durable,
             subject, (unsigned long long)position);
    return true;
}

/* Partition `p` is bound again before its next fetch (deliveries may have been lost). */
static void rebind(input_nats_t *n, partition_t *p)
{
    p->bound = false;
    atomic_store_explicit(&n->ready, false, memory_order_release);
}

/* Stream and consumers, once connected; true when every partition is bound. */
static bool set_up(input_nats_t *n)
{
    if (atomic_load_explicit(&n->ready, memory_order_relaxed))
        return true;
    uint64_t now = roda_now_ns();
    if (now < n->retry_at_ns)
        return false;
    bool done = n->stream_bound || (n->stream_bound = bind_stream(n));
    for (uint32_t i = 0; done && i < n->settings.partition_count; i++)
        done = n->partitions[i].bound || bind_partition(n, &n->partitions[i]);
    if (!done)
        n->retry_at_ns = now + RETRY_NS;
    atomic_store_explicit(&n->ready, done, memory_order_release);
    return done;
}

/* One message of partition `p`: journaled unless its stream sequence already is. False when a
 * delivery before it was lost (its consumer sequence skips one): it and the rest of the batch
 * are left unacknowledged and the partition is bound again. */
static bool take(input_nats_t *n, partition_t *p, natsMsg *msg)
{
    jsMsgMetaData *meta = NULL;
    if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
        roda_ingest_count(&n->port, RODA_INGEST_MESSAGES, 1);
        roda_ingest_count(&n->port, RODA_INGEST_IGNORED, 1);
        return true;
    }
    uint64_t sequence = meta->Sequence.Stream;
    uint64_t consumer_sequence = meta->Sequence.Consumer;
    uint64_t delivered = meta->NumDelivered;
    atomic_store_explicit(&p->pending, meta->NumPending, memory_order_relaxed);
    jsMsgMetaData_Destroy(meta);
    uint64_t expected = p->consumer_sequence + 1;
    if (p->consumer_sequence != 0 && consumer_sequence > expected) {
        roda_log(RODA_LOG_WARN, "nats delivery lost",
                 "partition=%u consumer_sequence=%llu expected=%llu", (unsigned)p->number,
                 (unsigned long long)consumer_sequence, (unsigned long long)expected);
        rebind(n, p);
        return false;
    }
    if (consumer_sequence > p->consumer_sequence)
        p->consumer_sequence = consumer_sequence;
    if (delivered > 1)
        atomic_fetch_add_explicit(&p->redeliveries, 1, memory_order_relaxed);
    if (sequence <= roda_nats_position(&n->positions, p->number)) {
        atomic_fetch_add_explicit(&p->journaled, 1, memory_order_relaxed);
        return true;
    }
    const char *subject = natsMsg_GetSubject(msg);
    const char *device;
    size_t length;
    if (!roda_nats_subject_device(n->settings.subject, subject, &device, &length)) {
        roda_ingest_count(&n->port, RODA_INGEST_MESSAGES, 1);
        roda_ingest_count(&n->port, RODA_INGEST_UNKNOWN_TOPIC, 1);
    } else {
        const void *settings = n->settings.decoder == &roda_json_decoder ? &n->settings.json : NULL;
        roda_ingest_message(&n->port, n->settings.decoder, settings, subject, device, length,
                            (const uint8_t *)natsMsg_GetData(msg),
                            (size_t)natsMsg_GetDataLength(msg));
    }
    roda_nats_position_set(&n->positions, p->number, sequence);
    return true;
}

/* Called on an empty fetch: once the partition has been idle STALL_CHECK_NS, asks the consumer
 * for messages not delivered (NumPending, which becomes the partition's lag: an empty fetch
 * says nothing of it) or delivered and never acknowledged (NumAckPending: every turn
 * acknowledges what it took, so an idle partition has none of its own) and binds the partition
 * again when there are any. */
static void check_stalled(input_nats_t *n, partition_t *p)
{
    uint64_t now = roda_now_ns();
    if (p->idle_since_ns == 0 || now - p->idle_since_ns < STALL_CHECK_NS) {
        if (p->idle_since_ns == 0)
            p->idle_since_ns = now;
        return;
    }
    p->idle_since_ns = now;
    jsConsumerInfo *info = NULL;
    jsErrCode code = 0;
    if (natsSubscription_GetConsumerInfo(&info, p->sub, &n->js_options, &code) != NATS_OK)
        return; /* the next check asks again */
    atomic_store_explicit(&p->pending, info->NumPending, memory_order_relaxed);
    if (info->NumPending > 0 || info->NumAckPending > 0) {
        roda_log(RODA_LOG_WARN, "nats partition stalled",
                 "partition=%u pending=%llu awaiting_ack=%lld hint=\"%s\"", (unsigned)p->number,
                 (unsigned long long)info->NumPending, (long long)info->NumAckPending,
                 "its consumer holds messages it did not deliver: binding it again");
        rebind(n, p);
    }
    jsConsumerInfo_Destroy(info);
}

/* Fetches what partition `p` has now (no wait) and journals it; the number of messages. */
static uint32_t fetch(input_nats_t *n, partition_t *p)
{
    jsFetchRequest request;
    jsFetchRequest_Init(&request);
    request.Batch = (int)n->settings.batch;
    request.NoWait = true;
    request.Expires = (int64_t)n->settings.fetch_wait_ns;
    natsStatus status = natsSubscription_FetchRequest(&p->fetched, p->sub, &request);
    p->taken = 0;
    if (status != NATS_OK) {
        p->fetched = (natsMsgList){0};
        if (status == NATS_NOT_FOUND || status == NATS_TIMEOUT) {
            check_stalled(n, p);
        } else {
            log_failure(n, "fetch", status, 0);
            rebind(n, p); /* what it had delivered may be lost */
        }
        return 0;
    }
    p->idle_since_ns = 0;
    while (p->taken < p->fetched.Count && take(n, p, p->fetched.Msgs[p->taken]))
        p->taken++;
    return (uint32_t)p->fetched.Count;
}

/* After the turn's messages: the journal and the positions on disk, then the acknowledgements.
 * When either cannot be made durable nothing is acknowledged: JetStream redelivers after
 * ack_wait and the positions (in memory) recognise what was journaled. */
static void acknowledge(input_nats_t *n)
{
    roda_result_t result = roda_ingest_sync(&n->port);
    if (result == RODA_SUCCESS)
        result = roda_nats_positions_sync(&n->positions);
    if (result != RODA_SUCCESS)
        log_failure(n, "sync before acknowledging", NATS_ERR, 0);
    for (uint32_t i = 0; i < n->settings.partition_count; i++) {
        partition_t *p = &n->partitions[i];
        for (int m = 0; result == RODA_SUCCESS && m < p->taken; m++)
            if (natsMsg_Ack(p->fetched.Msgs[m], &n->js_options) == NATS_OK)
                atomic_fetch_add_explicit(&p->acks, 1, memory_order_relaxed);
        natsMsgList_Destroy(&p->fetched);
        p->fetched = (natsMsgList){0};
    }
}

static void service(void *state, const struct pollfd *fds, uint32_t count)
{
    (void)fds;
    (void)count;
    input_nats_t *n = state;
    n->busy = false;
    if (natsConnection_Status(n->conn) != NATS_CONN_STATUS_CONNECTED)
        return;
    if (atomic_exchange_explicit(&n->reconnected, false, memory_order_acquire))
        for (uint32_t i = 0; i < n->settings.partition_count; i++)
            rebind(n, &n->partitions[i]);
    if (!set_up(n))
        return;
    uint32_t fetched = 0;
    for (uint32_t i = 0; i < n->settings.partition_count; i++) {
        /* Back-pressure: unfetched messages wait in the stream. */
        if (!roda_ingest_can_take(&n->port, RODA_DECODE_MAX_READINGS))
            break;
        if (!n->partitions[i].bound)
            continue;
        fetched += fetch(n, &n->partitions[i]);
    }
    if (fetched == 0)
        return;
    acknowledge(n);
    n->busy = true;
}

static uint32_t poll_fds(void *state, struct pollfd *fds, int *timeout_ms)
{
    (void)fds;
    const input_nats_t *n = state;
    int wait = n->busy ? 0 : (int)((n->settings.fetch_wait_ns + 999999u) / 1000000u);
    if (*timeout_ms < 0 || *timeout_ms > wait)
        *timeout_ms = wait;
    return 0;
}

static void destroy(void *state)
{
    input_nats_t *n = state;
    for (uint32_t i = 0; i < n->settings.partition_count; i++) {
        natsMsgList_Destroy(&n->partitions[i].fetched);
        natsSubscription_Destroy(n->partitions[i].sub);
    }
    jsCtx_Destroy(n->js);
    natsConnection_Destroy(n->conn);
    roda_nats_positions_close(&n->positions);
    free(n);
}

/* libnats' thread: deliveries in flight may have been lost, so every partition is bound again
 * (bind_partition) before its next fetch. */
static void on_reconnected(natsConnection *conn, void *closure)
{
    (void)conn;
    input_nats_t *n = closure;
    atomic_store_explicit(&n->reconnected, true, memory_order_release);
}

/* libnats' connection: the server list, reconnecting forever, the first connect in the
 * background too. */
static natsStatus open_connection(input_nats_t *n)
{
    natsOptions *options = NULL;
    natsStatus status = natsOptions_Create(&options);
    if (status == NATS_OK)
        status =
            natsOptions_SetServers(options, n->settings.servers, (int)n->settings.server_count);
    if (status == NATS_OK)
        status = natsOptions_SetName(options, "roda-gateway");
    if (status == NATS_OK)
        status = natsOptions_SetMaxReconnect(options, -1);
    if (status == NATS_OK)
        status = natsOptions_SetReconnectWait(options, RECONNECT_WAIT_MS);
    if (status == NATS_OK)
        status = natsOptions_SetRetryOnFailedConnect(options, true, NULL, NULL);
    if (status == NATS_OK)
        status = natsOptions_SetReconnectedCB(options, on_reconnected, n);
    if (status == NATS_OK) {
        status = natsConnection_Connect(&n->conn, options);
        if (status == NATS_NOT_YET_CONNECTED)
            status = NATS_OK;
    }
    if (status == NATS_OK)
        status = natsConnection_JetStream(&n->js, n->conn, &n->js_options);
    natsOptions_Destroy(options);
    return status;
}

static roda_result_t create(const void *settings, const roda_input_port_t *port, void **state)
{
    const roda_input_nats_settings_t *s = settings;
    if (s->partition_count == 0 || s->partition_count > RODA_INPUT_NATS_MAX_PARTITIONS ||
        s->server_count == 0 || s->server_count > RODA_INPUT_NATS_MAX_SERVERS ||
        s->decoder == NULL || !roda_nats_pattern_valid(s->subject))
        return RODA_ERROR_INVALID_ARG;
    input_nats_t *n = calloc(1, sizeof *n);
    if (n == NULL)
        return RODA_ERROR_NOMEM;
    n->settings = *s;
    n->port = *port;
    for (uint32_t i = 0; i < s->partition_count; i++)
        n->partitions[i].number = s->partitions[i];
    roda_log_limiter_init(&n->log, LOG_INTERVAL_NS);
    bool restored, rebooted;
    roda_result_t result =
        roda_nats_positions_open(&n->positions, roda_ingest_directory(port), &restored, &rebooted);
    if (result != RODA_SUCCESS) {
        free(n);
        return result;
    }
    if (roda_ingest_directory(port) != NULL)
        roda_log(RODA_LOG_INFO, restored ? "nats positions restored" : "nats positions new",
                 "directory=%s kept=%s", roda_ingest_directory(port),
                 !restored  ? "none"
                 : rebooted ? "synced (the machine rebooted)"
                            : "committed");
    jsOptions_Init(&n->js_options);
    n->js_options.Wait = JS_WAIT_MS;
    natsStatus status = open_connection(n);
    if (status != NATS_OK) {
        roda_log(RODA_LOG_ERROR, "nats client failed", "status=\"%s\"", natsStatus_GetText(status));
        destroy(n);
        return RODA_ERROR_SYSTEM;
    }
    *state = n;
    return RODA_SUCCESS;
}

/* Connected, with every partition's consumer bound. */
static bool bound(const input_nats_t *n)
{
    return atomic_load_explicit(&n->ready, memory_order_acquire) &&
           natsConnection_Status(n->conn) == NATS_CONN_STATUS_CONNECTED;
}

static bool ready(const void *state, char *why, size_t size)
{
    if (bound(state))
        return true;
    snprintf(why, size, "nats not connected, or its consumers not bound");
    return false;
}

/* One family with one sample per owned partition, read from the member at `offset`. */
static void partition_family(const input_nats_t *n, roda_metrics_t *out, const char *name,
                             roda_metric_type_t type, const char *help, size_t offset)
{
    roda_metrics_family(out, name, type, help);
    for (uint32_t i = 0; n != NULL && i < n->settings.partition_count; i++) {
        const partition_t *p = &n->partitions[i];
        char number[16];
        snprintf(number, sizeof number, "%u", (unsigned)p->number);
        roda_metrics_label_t label = {"partition", number};
        const _Atomic uint64_t *value =
            (const _Atomic uint64_t *)(const void *)((const char *)p + offset);
        roda_metrics_u64(out, &label, 1, atomic_load_explicit(value, memory_order_relaxed));
    }
}

static void metrics(const void *state, roda_metrics_t *out)
{
    const input_nats_t *n = state;
    roda_metrics_family(out, "roda_nats_connected", RODA_METRIC_GAUGE,
                        "1 while the NATS input is connected and every partition is bound.");
    roda_metrics_u64(out, NULL, 0, n != NULL && bound(n));
    partition_family(n, out, "roda_nats_pending", RODA_METRIC_GAUGE,
                     "Messages of the partition not yet delivered (consumer lag; while idle, "
                     "as the consumer said at most 1 s ago).",
                     offsetof(partition_t, pending));
    partition_family(n, out, "roda_nats_redeliveries_total", RODA_METRIC_COUNTER,
                     "Messages JetStream delivered more than once.",
                     offsetof(partition_t, redeliveries));
    partition_family(n, out, "roda_nats_already_journaled_total", RODA_METRIC_COUNTER,
                     "Redelivered messages already in the input journal: acknowledged, not read "
                     "again.",
                     offsetof(partition_t, journaled));
    partition_family(n, out, "roda_nats_acks_total", RODA_METRIC_COUNTER,
                     "Messages acknowledged after their readings were journaled.",
                     offsetof(partition_t, acks));
}

static void describe(const void *state, char *buf, size_t size)
{
    const input_nats_t *n = state;
    if (n == NULL) {
        snprintf(buf, size, "nats=off");
        return;
    }
    int used = snprintf(buf, size, "nats_partitions=");
    for (uint32_t i = 0; i < n->settings.partition_count && used > 0 && (size_t)used < size; i++)
        used += snprintf(buf + used, size - (size_t)used, "%s%u", i > 0 ? "," : "",
                         (unsigned)n->partitions[i].number);
}

static uint64_t memory(const void *settings)
{
    (void)settings;
    /* libnats allocates each message as it comes */
    return sizeof(input_nats_t);
}

const roda_input_class_t roda_input_nats = {
    .name = "nats",
    .acknowledges = true,
    .settings_size = sizeof(roda_input_nats_settings_t),
    .configure = configure,
    .create = create,
    .destroy = destroy,
    .poll_fds = poll_fds,
    .service = service,
    .ready = ready,
    .metrics = metrics,
    .describe = describe,
    .memory = memory,
};
