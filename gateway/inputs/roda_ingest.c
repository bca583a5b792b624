/* roda_ingest.c - the ingest thread: one poll loop over the stop eventfd and the registered
 * inputs' descriptors, and the per-message path from payload to committed journal records. */
#include "roda_ingest.h"

#include "roda_counter.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "roda_log.h"
#include "roda_sensor_names.h"

/* Fused placement: within a long turn the stages run once this many readings wait for them, so
 * that a reading's alert does not wait for the turn's last message. */
#define FUSED_RUN_READINGS 64u

/* A journal write error is logged at most once per this interval. */
#define RODA_INGEST_LOG_INTERVAL_MS 10000u

typedef struct input_counters {
    _Alignas(RODA_PAD) _Atomic uint64_t value[RODA_INGEST_COUNTER_COUNT];
} input_counters_t;

typedef struct input_slot {
    const roda_input_class_t *input;
    void *state; /* NULL: the input is off */
    roda_input_port_t port;
} input_slot_t;

struct roda_ingest {
    roda_journal_t *journal;
    const char *journal_path; /* for logs; NULL: anonymous memory */
    uint32_t max_message;
    roda_devices_t *devices;
    roda_sensor_names_t *sensor_names;
    /* The decoders' scratch for one message (roda_decode_context_t), and pass 2's names. */
    void *scratch;
    size_t scratch_size;
    const char *names[RODA_DECODE_MAX_READINGS];
    input_slot_t inputs[RODA_INGEST_MAX_INPUTS];
    uint32_t input_count;
    int stop_fd;
    pthread_t thread;
    bool started;
    _Atomic bool stopping;
    /* The errno of the journal file's last failed growth, 0 while it grows (ingest thread
     * writes, any thread reads for /readyz). */
    _Atomic int journal_errno;
    roda_log_limiter_t journal_log;
    /* The clock records (roda_reading.h): ingest thread only, but for the checkpoint handshake. */
    uint64_t clock_interval_ns;
    uint64_t next_clock_ns;                /* roda_now_ns() when the next one is due */
    _Atomic uint64_t checkpoint_requested; /* the controlling thread's latest request (0: none) */
    _Atomic uint64_t checkpoint_marked;    /* the latest one written; its position below */
    _Atomic uint64_t checkpoint_position;
    input_counters_t counters[RODA_INGEST_MAX_INPUTS];
    /* Fused placement (roda_ingest_set_stages); NULL: the stages have threads of their own. */
    void (*run_stages)(void *context);
    void *stages_context;
    uint64_t readings_waiting; /* journaled since the stages last ran */
};

static const char *const counter_names[RODA_INGEST_COUNTER_COUNT] = {
    [RODA_INGEST_MESSAGES] = "messages",
    [RODA_INGEST_BATCHES] = "batches",
    [RODA_INGEST_BATCH_READINGS] = "batch_readings",
    [RODA_INGEST_READINGS] = "readings",
    [RODA_INGEST_DECODE_ERROR] = "decode_error",
    [RODA_INGEST_TRUNCATED] = "truncated",
    [RODA_INGEST_OVERSIZE] = "oversize",
    [RODA_INGEST_TOO_MANY_READINGS] = "too_many_readings",
    [RODA_INGEST_UNKNOWN_TOPIC] = "unknown_topic",
    [RODA_INGEST_BAD_DEVICE] = "bad_device",
    [RODA_INGEST_TOO_MANY_DEVICES] = "too_many_devices",
    [RODA_INGEST_DUPLICATE] = "duplicate",
    [RODA_INGEST_LOST_UPSTREAM] = "lost_upstream",
    [RODA_INGEST_LATE] = "late",
    [RODA_INGEST_SEQUENCE_RESETS] = "sequence_resets",
    [RODA_INGEST_BASELINES] = "baselines",
    [RODA_INGEST_UNSEEN_BEFORE_START] = "unseen_before_start",
    [RODA_INGEST_NON_FINITE] = "non_finite",
    [RODA_INGEST_MISSING_FIELD] = "missing_field",
    [RODA_INGEST_WRONG_TYPE] = "wrong_type",
    [RODA_INGEST_OUT_OF_RANGE] = "out_of_range",
    [RODA_INGEST_OTHER_DEVICE] = "other_device",
    [RODA_INGEST_JOURNAL_FULL] = "journal_full",
    [RODA_INGEST_DISK_FULL] = "disk_full",
    [RODA_INGEST_MALFORMED_READING] = "malformed_reading",
    [RODA_INGEST_KERNEL_DROPS] = "kernel_drops",
    [RODA_INGEST_RECEIVE_ERRORS] = "receive_errors",
    [RODA_INGEST_CONNECTS] = "connects",
    [RODA_INGEST_CONNECT_FAILURES] = "connect_failures",
    [RODA_INGEST_DISCONNECTS] = "disconnects",
    [RODA_INGEST_UNNAMED_SENSORS] = "unnamed_sensors",
    [RODA_INGEST_IGNORED] = "ignored",
};

const char *roda_ingest_counter_name(roda_ingest_counter_t counter)
{
    if ((unsigned)counter >= RODA_INGEST_COUNTER_COUNT)
        return NULL;
    return counter_names[counter];
}

/* Only the ingest thread writes a counter (roda_counter.h). */
void roda_ingest_count(const roda_input_port_t *port, roda_ingest_counter_t counter,
                       uint64_t amount)
{
    roda_counter_add(&port->ingest->counters[port->index].value[counter], amount);
}

roda_result_t roda_ingest_sync(const roda_input_port_t *port)
{
    return roda_journal_sync(port->ingest->journal);
}

const char *roda_ingest_directory(const roda_input_port_t *port)
{
    return port->ingest->journal_path;
}

static const roda_ingest_counter_t decode_reasons[] = {
    [RODA_DECODE_TRUNCATED] = RODA_INGEST_TRUNCATED,
    [RODA_DECODE_MALFORMED] = RODA_INGEST_DECODE_ERROR,
    [RODA_DECODE_TOO_MANY] = RODA_INGEST_TOO_MANY_READINGS,
    [RODA_DECODE_OVERSIZE] = RODA_INGEST_OVERSIZE,
    [RODA_DECODE_TOPIC] = RODA_INGEST_UNKNOWN_TOPIC,
    [RODA_DECODE_IGNORED] = RODA_INGEST_IGNORED,
    [RODA_DECODE_NO_ROOM] = RODA_INGEST_TOO_MANY_DEVICES,
};

/* Records the input journal has room for (0 when full, or when its file cannot grow): at least
 * `wanted` known from the writer's own claim limit (no reader's cache line touched), else the
 * exact figure from the readers' positions. Ingest thread (the journal's writer) only. */
static uint64_t journal_room(const roda_ingest_t *ingest, uint64_t wanted)
{
    if (atomic_load_explicit(&ingest->journal_errno, memory_order_relaxed) != 0)
        return 0;
    const roda_journal_t *journal = ingest->journal;
    if (journal->claim_limit - journal->claim_position >= wanted)
        return wanted;
    roda_journal_stats_t stats;
    roda_journal_stats(journal, &stats);
    return stats.capacity - stats.slowest_lag;
}

bool roda_ingest_can_take(const roda_input_port_t *port, uint32_t readings)
{
    return journal_room(port->ingest, readings) >= readings;
}

/* A claim failed on the journal's file (a segment could not be created): logged with the path
 * and errno (rate-limited), and shown on /readyz until a claim succeeds again. */
static void journal_failed(roda_ingest_t *ingest, int error)
{
    uint64_t suppressed;
    if (roda_log_limiter_allow(&ingest->journal_log, roda_now_ns(), &suppressed)) {
        roda_log(RODA_LOG_ERROR, "input journal cannot grow",
                 "path=%s errno=%d error=\"%s\" suppressed=%llu hint=\"%s\"",
                 ingest->journal_path != NULL ? ingest->journal_path : "-", error, strerror(error),
                 (unsigned long long)suppressed,
                 "free space on journal.directory's file system; MQTT input is paused (the "
                 "broker queues), UDP readings are counted as disk_full; it resumes by itself");
    }
    atomic_store_explicit(&ingest->journal_errno, error != 0 ? error : EIO, memory_order_relaxed);
}

static void journal_recovered(roda_ingest_t *ingest)
{
    if (atomic_load_explicit(&ingest->journal_errno, memory_order_relaxed) == 0)
        return;
    atomic_store_explicit(&ingest->journal_errno, 0, memory_order_relaxed);
    roda_log(RODA_LOG_INFO, "input journal writable again", "path=%s",
             ingest->journal_path != NULL ? ingest->journal_path : "-");
}

/* How long an acknowledging input waits between looks at a full journal, and at a journal whose
 * file cannot grow. */
#define FULL_RETRY_NS 1000000L
#define DISK_RETRY_NS 100000000L

/* Fused: the stages take what the journal holds. */
static void run_stages(roda_ingest_t *ingest)
{
    ingest->run_stages(ingest->stages_context);
    ingest->readings_waiting = 0;
}

/* Claims journal slots for up to `wanted` readings. An acknowledging input waits for room (the
 * readings were acknowledged: they must not be dropped) unless the ingest is stopping; another
 * input gets the failure to count. */
static roda_result_t claim(const roda_input_port_t *port, uint32_t wanted, void **slots,
                           uint64_t *granted)
{
    roda_ingest_t *ingest = port->ingest;
    bool wait = ingest->inputs[port->index].input->acknowledges;
    bool stages_ran = false;
    for (;;) {
        /* Waiting, claim only when there is room: a refused claim counts as rejected. */
        bool full = wait &&
                    atomic_load_explicit(&ingest->journal_errno, memory_order_relaxed) == 0 &&
                    journal_room(ingest, 1) == 0;
        roda_result_t result =
            full ? RODA_FULL : roda_journal_claim(ingest->journal, wanted, slots, granted);
        if (result == RODA_SUCCESS) {
            journal_recovered(ingest);
            return result;
        }
        if (result != RODA_FULL)
            journal_failed(ingest, errno);
        /* Fused: the stages read the journal on this thread; once they have, it has room
         * unless another reader holds it. */
        if (result == RODA_FULL && ingest->run_stages != NULL && !stages_ran) {
            run_stages(ingest);
            stages_ran = true;
            continue;
        }
        if (!wait || atomic_load_explicit(&ingest->stopping, memory_order_relaxed))
            return result;
        struct timespec pause = {0, result == RODA_FULL ? FULL_RETRY_NS : DISK_RETRY_NS};
        nanosleep(&pause, NULL);
    }
}

/* Gives the named records of a run their ids from (device, name) and records the names; a name
 * the registry has no room for is counted, and its reading goes in unnamed. */
static void name_sensors(const roda_input_port_t *port, roda_reading_t *records, uint32_t count,
                         const char *device, size_t device_length)
{
    roda_ingest_t *ingest = port->ingest;
    uint64_t unnamed = 0;
    for (uint32_t i = 0; i < count; i++) {
        const char *name = ingest->names[i];
        if (name == NULL)
            continue;
        records[i].sensor_id = roda_sensor_name_id(device, device_length, name, strlen(name));
        unnamed += roda_sensor_names_intern(ingest->sensor_names, records[i].sensor_id, name) !=
                   RODA_SUCCESS;
    }
    if (unnamed != 0)
        roda_ingest_count(port, RODA_INGEST_UNNAMED_SENSORS, unnamed);
}

/* Decodes the batch's readings into as many claimed runs as it takes and commits them; every
 * reading not committed is counted under its reason (the decoder's drop reasons, journal_full,
 * disk_full or, from a bad reading to the batch's end, malformed_reading). */
static void append_readings(const roda_input_port_t *port, const roda_decoder_t *decoder,
                            roda_decode_batch_t *batch, uint32_t device, const char *device_name,
                            size_t device_length, uint64_t now)
{
    roda_journal_t *journal = port->ingest->journal;
    roda_decode_drops_t drops = {0};
    roda_decode_status_t status = RODA_DECODE_OK;
    while (batch->readings_done < batch->reading_count && status == RODA_DECODE_OK) {
        uint32_t remaining = batch->reading_count - batch->readings_done;
        void *slots;
        uint64_t granted;
        roda_result_t result = claim(port, remaining, &slots, &granted);
        if (result != RODA_SUCCESS) {
            roda_ingest_count(
                port, result == RODA_FULL ? RODA_INGEST_JOURNAL_FULL : RODA_INGEST_DISK_FULL,
                remaining);
            break;
        }
        roda_reading_t *records = slots;
        uint32_t written = decoder->readings(batch, records, port->ingest->names, (uint32_t)granted,
                                             &drops, &status);
        name_sensors(port, records, written, device_name, device_length);
        for (uint32_t i = 0; i < written; i++) {
            records[i].ingest_time_ns = now;
            records[i].device = device;
            records[i].input = port->index;
            records[i].kind = RODA_RECORD_READING;
        }
        roda_journal_commit(journal, written);
        port->ingest->readings_waiting += written;
        roda_ingest_count(port, RODA_INGEST_READINGS, written);
    }
    const struct {
        uint64_t amount;
        roda_ingest_counter_t counter;
    } dropped[] = {{drops.non_finite, RODA_INGEST_NON_FINITE},
                   {drops.missing_field, RODA_INGEST_MISSING_FIELD},
                   {drops.wrong_type, RODA_INGEST_WRONG_TYPE},
                   {drops.out_of_range, RODA_INGEST_OUT_OF_RANGE},
                   {drops.other_device, RODA_INGEST_OTHER_DEVICE}};
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
        if (dropped[i].amount != 0)
            roda_ingest_count(port, dropped[i].counter, dropped[i].amount);
    if (status != RODA_DECODE_OK)
        roda_ingest_count(port, RODA_INGEST_MALFORMED_READING,
                          batch->reading_count - batch->readings_done);
}

/* Interns a device, counting a refusal (bad name, registry full); false then. */
static bool intern_device(const roda_input_port_t *port, const char *device, size_t length,
                          uint32_t *index)
{
    roda_result_t result = roda_devices_intern(port->ingest->devices, device, length, index);
    if (result != RODA_SUCCESS)
        roda_ingest_count(port,
                          result == RODA_ERROR_TOO_MANY ? RODA_INGEST_TOO_MANY_DEVICES
                                                        : RODA_INGEST_BAD_DEVICE,
                          1);
    return result == RODA_SUCCESS;
}

/* A batch that says its devices went silent: a SILENCE record for each (the rules stage treats
 * their sensors as silent at once). The message is accepted once its own device is known; a
 * further device the registry refuses has no sensors to silence. */
static void append_silence(const roda_input_port_t *port, const roda_decoder_t *decoder,
                           roda_decode_batch_t *batch, uint64_t now)
{
    for (bool first = true; decoder->silenced(batch); first = false) {
        uint32_t index;
        if (first ? !intern_device(port, batch->device, batch->device_length, &index)
                  : roda_devices_intern(port->ingest->devices, batch->device, batch->device_length,
                                        &index) != RODA_SUCCESS)
            continue;
        if (first)
            roda_ingest_count(port, RODA_INGEST_BATCHES, 1);
        void *slot;
        uint64_t granted;
        if (claim(port, 1, &slot, &granted) != RODA_SUCCESS)
            continue; /* no reading is lost: its sensors go silent by the clock instead */
        *(roda_reading_t *)slot = (roda_reading_t){.ingest_time_ns = now,
                                                   .device = index,
                                                   .input = port->index,
                                                   .kind = RODA_RECORD_SILENCE};
        roda_journal_commit(port->ingest->journal, 1);
    }
}

void roda_ingest_message(const roda_input_port_t *port, const roda_decoder_t *decoder,
                         const void *settings, const char *topic, const char *device,
                         size_t device_length, const uint8_t *payload, size_t size)
{
    roda_ingest_t *ingest = port->ingest;
    uint64_t now = roda_wall_ns();
    roda_ingest_count(port, RODA_INGEST_MESSAGES, 1);
    if (size > ingest->max_message) {
        roda_ingest_count(port, RODA_INGEST_OVERSIZE, 1);
        return;
    }
    roda_decode_batch_t batch;
    const roda_decode_context_t context = {.settings = settings,
                                           .scratch = ingest->scratch,
                                           .scratch_size = ingest->scratch_size,
                                           .topic = topic};
    roda_decode_status_t status = decoder->open(&batch, &context, payload, size);
    if (status != RODA_DECODE_OK) {
        roda_ingest_count(port, decode_reasons[status], 1);
        return;
    }
    if (batch.silence) {
        append_silence(port, decoder, &batch, now);
        return;
    }
    if (device == NULL) {
        device = batch.device;
        device_length = batch.device_length;
    }
    uint32_t index;
    if (!intern_device(port, device, device_length, &index))
        return;
    if (batch.lost != 0)
        roda_ingest_count(port, RODA_INGEST_LOST_UPSTREAM, batch.lost);
    if (batch.duplicate) {
        roda_ingest_count(port, RODA_INGEST_DUPLICATE, 1);
        return;
    }
    uint64_t lost;
    roda_sequence_verdict_t verdict =
        roda_devices_judge(ingest->devices, index, batch.boot_epoch, batch.sequence, &lost);
    switch (verdict) {
    case RODA_SEQUENCE_DUPLICATE:
        roda_devices_record(ingest->devices, index, batch.boot_epoch, batch.sequence, verdict,
                            lost);
        roda_ingest_count(port, RODA_INGEST_DUPLICATE, 1);
        return;
    case RODA_SEQUENCE_GAP:
        roda_ingest_count(port, RODA_INGEST_LOST_UPSTREAM, lost);
        break;
    case RODA_SEQUENCE_LATE:
        roda_ingest_count(port, RODA_INGEST_LATE, 1);
        break;
    case RODA_SEQUENCE_RESET:
        roda_ingest_count(port, RODA_INGEST_SEQUENCE_RESETS, 1);
        break;
    case RODA_SEQUENCE_FIRST:
        roda_ingest_count(port, RODA_INGEST_BASELINES, 1);
        roda_ingest_count(port, RODA_INGEST_UNSEEN_BEFORE_START, lost);
        break;
    case RODA_SEQUENCE_NEXT:
    case RODA_SEQUENCE_NONE:
        break;
    }
    roda_ingest_count(port, RODA_INGEST_BATCHES, 1);
    roda_ingest_count(port, RODA_INGEST_BATCH_READINGS, batch.reading_count);
    append_readings(port, decoder, &batch, index, device, device_length, now);
    /* Recorded only now that its readings are committed: a crash before this line leaves the
     * batch unrecorded in the registry's file, so its redelivery is accepted again (a duplicate
     * reading) instead of being dropped as a duplicate of readings the journal never got. */
    roda_devices_record(ingest->devices, index, batch.boot_epoch, batch.sequence, verdict, lost);
    if (ingest->run_stages != NULL && ingest->readings_waiting >= FUSED_RUN_READINGS)
        run_stages(ingest);
}

/* Tries the failed segment roll again (a claim of one record, not committed: the next claim
 * takes the same slot), so the inputs resume when space returns. */
static void retry_journal(roda_ingest_t *ingest)
{
    void *slot;
    uint64_t granted;
    roda_result_t result = roda_journal_claim(ingest->journal, 1, &slot, &granted);
    if (result == RODA_SUCCESS || result == RODA_FULL)
        journal_recovered(ingest);
    else
        journal_failed(ingest, errno);
}

/* Appends a control record (roda_reading.h) of `kind` stamped `now` when the journal has room;
 * false when it has none (the stages are behind, and will see the next one). *position receives
 * the record's position. */
static bool append_control(roda_ingest_t *ingest, roda_record_kind_t kind, uint64_t id,
                           uint64_t now, uint64_t *position)
{
    void *slot;
    uint64_t granted;
    if (journal_room(ingest, 1) == 0)
        return false;
    roda_result_t result = roda_journal_claim(ingest->journal, 1, &slot, &granted);
    if (result != RODA_SUCCESS) {
        if (result != RODA_FULL)
            journal_failed(ingest, errno);
        return false;
    }
    *position = ingest->journal->claim_position;
    *(roda_reading_t *)slot =
        (roda_reading_t){.sensor_id = id, .ingest_time_ns = now, .kind = kind};
    roda_journal_commit(ingest->journal, 1);
    return true;
}

/* Every clock interval, busy or idle: a CLOCK record, or the CHECKPOINT record the controlling
 * thread asked for. Returns the milliseconds until the next one is due (the poll's bound). */
static int clock_step(roda_ingest_t *ingest)
{
    uint64_t now = roda_now_ns();
    if (now >= ingest->next_clock_ns) {
        uint64_t requested =
            atomic_load_explicit(&ingest->checkpoint_requested, memory_order_acquire);
        bool checkpoint =
            requested != atomic_load_explicit(&ingest->checkpoint_marked, memory_order_relaxed);
        uint64_t position;
        if (append_control(ingest, checkpoint ? RODA_RECORD_CHECKPOINT : RODA_RECORD_CLOCK,
                           checkpoint ? requested : 0, roda_wall_ns(), &position) &&
            checkpoint) {
            atomic_store_explicit(&ingest->checkpoint_position, position, memory_order_relaxed);
            atomic_store_explicit(&ingest->checkpoint_marked, requested, memory_order_release);
        }
        ingest->next_clock_ns = now + ingest->clock_interval_ns;
    }
    return (int)((ingest->next_clock_ns - now + 999999u) / 1000000u);
}

static void *run(void *argument)
{
    roda_ingest_t *ingest = argument;
    struct pollfd fds[1 + RODA_INGEST_MAX_INPUTS * RODA_INPUT_MAX_FDS];
    uint32_t first[RODA_INGEST_MAX_INPUTS] = {0}, count[RODA_INGEST_MAX_INPUTS] = {0};
    for (;;) {
        nfds_t n = 0;
        /* At least every clock interval (<= DISK_RETRY_NS): the clock record, and while the
         * journal's file cannot grow, another look. */
        int timeout_ms = clock_step(ingest);
        fds[n++] = (struct pollfd){.fd = ingest->stop_fd, .events = POLLIN};
        for (uint32_t i = 0; i < ingest->input_count; i++) {
            input_slot_t *slot = &ingest->inputs[i];
            first[i] = (uint32_t)n;
            count[i] =
                slot->state != NULL ? slot->input->poll_fds(slot->state, &fds[n], &timeout_ms) : 0;
            n += count[i];
        }
        /* Fused: the turn's records (and the clock's) through the stages before the wait. */
        if (ingest->run_stages != NULL)
            run_stages(ingest);
        int ready = poll(fds, n, timeout_ms);
        if (ready < 0) {
            for (nfds_t f = 0; f < n; f++)
                fds[f].revents = 0;
            for (uint32_t i = 0; errno != EINTR && i < ingest->input_count; i++)
                if (ingest->inputs[i].state != NULL)
                    roda_ingest_count(&ingest->inputs[i].port, RODA_INGEST_RECEIVE_ERRORS, 1);
        }
        if (ready > 0 && fds[0].revents != 0)
            break;
        if (atomic_load_explicit(&ingest->journal_errno, memory_order_relaxed) != 0)
            retry_journal(ingest);
        for (uint32_t i = 0; i < ingest->input_count; i++) {
            input_slot_t *slot = &ingest->inputs[i];
            if (slot->state != NULL)
                slot->input->service(slot->state, &fds[first[i]], count[i]);
        }
    }
    return NULL;
}

/* Creates the device registry: in memory, or beside a file-backed journal in its directory
 * (made if missing), logging what was restored or why a file was discarded. */
static roda_result_t open_devices(roda_ingest_t *ingest, uint32_t max_devices)
{
    if (ingest->journal_path == NULL)
        return roda_devices_create(max_devices, NULL, &ingest->devices);
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", ingest->journal_path, RODA_DEVICES_FILE_NAME) >=
        (int)sizeof path) {
        errno = ENAMETOOLONG;
        return RODA_ERROR_IO;
    }
    roda_result_t result = RODA_SUCCESS;
    if (mkdir(ingest->journal_path, 0755) != 0 && errno != EEXIST)
        result = RODA_ERROR_IO;
    if (result == RODA_SUCCESS)
        result = roda_devices_create(max_devices, path, &ingest->devices);
    if (result != RODA_SUCCESS) {
        int error = errno;
        roda_log(RODA_LOG_ERROR, "device registry not opened",
                 "path=%s error=%s errno=%d hint=\"%s\"", path, roda_result_str(result), error,
                 "journal.directory must be writable, with room for the registry");
        errno = error;
        return result;
    }
    roda_devices_opened_t opened = roda_devices_opened(ingest->devices);
    if (opened.discarded_why != NULL)
        roda_log(RODA_LOG_WARN, "device registry discarded", "path=%s why=\"%s\" hint=\"%s\"", path,
                 opened.discarded_why,
                 "devices start anew: each one's next sequenced batch is a new baseline");
    else
        roda_log(RODA_LOG_INFO, "device registry restored", "path=%s devices=%" PRIu32, path,
                 opened.restored);
    return RODA_SUCCESS;
}

/* Creates the sensor name registry: in memory, or as RODA_SENSOR_NAMES_FILE_NAME beside the
 * device registry (whose directory open_devices made), logging what was restored. */
static roda_result_t open_sensor_names(roda_ingest_t *ingest, uint32_t max_sensors)
{
    char path[PATH_MAX];
    if (ingest->journal_path != NULL && snprintf(path, sizeof path, "%s/%s", ingest->journal_path,
                                                 RODA_SENSOR_NAMES_FILE_NAME) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return RODA_ERROR_IO;
    }
    uint32_t restored;
    const char *discarded_why;
    roda_result_t result =
        roda_sensor_names_create(max_sensors, ingest->journal_path != NULL ? path : NULL, &restored,
                                 &discarded_why, &ingest->sensor_names);
    if (ingest->journal_path == NULL)
        return result;
    if (result != RODA_SUCCESS) {
        int error = errno;
        roda_log(RODA_LOG_ERROR, "sensor name registry not opened",
                 "path=%s error=%s errno=%d hint=\"%s\"", path, roda_result_str(result), error,
                 "journal.directory must be writable, with room for the registry");
        errno = error;
    } else if (discarded_why != NULL) {
        roda_log(RODA_LOG_WARN, "sensor name registry discarded", "path=%s why=\"%s\" hint=\"%s\"",
                 path, discarded_why, "named sensors are named again as their readings arrive");
    } else {
        roda_log(RODA_LOG_INFO, "sensor name registry restored", "path=%s names=%" PRIu32, path,
                 restored);
    }
    return result;
}

/* The decoders' scratch for messages up to `max_message` bytes: mapped, not touched, so that
 * only a decoder that uses it (JSON) makes it resident. */
static roda_result_t map_scratch(roda_ingest_t *ingest, uint32_t max_message)
{
    ingest->scratch_size = (size_t)roda_ingest_scratch_bytes(max_message);
    void *scratch = mmap(NULL, ingest->scratch_size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (scratch == MAP_FAILED)
        return RODA_ERROR_NOMEM;
    ingest->scratch = scratch;
    return RODA_SUCCESS;
}

uint64_t roda_ingest_scratch_bytes(uint32_t max_message)
{
    return (uint64_t)RODA_DECODE_SCRATCH_PER_BYTE * max_message + RODA_DECODE_SCRATCH_BASE;
}

roda_result_t roda_ingest_create(uint32_t max_devices, uint32_t max_sensors, uint32_t max_message,
                                 roda_journal_t *journal, const char *journal_path,
                                 roda_ingest_t **out)
{
    if (out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    if (journal == NULL || journal->record_size != sizeof(roda_reading_t) ||
        max_message > RODA_DECODE_MAX_PAYLOAD)
        return RODA_ERROR_INVALID_ARG;
    roda_ingest_t *ingest = aligned_alloc(RODA_PAD, sizeof(*ingest));
    if (ingest == NULL)
        return RODA_ERROR_NOMEM;
    memset(ingest, 0, sizeof(*ingest));
    ingest->journal = journal;
    ingest->journal_path = journal_path;
    ingest->max_message = max_message;
    ingest->clock_interval_ns = RODA_INGEST_CLOCK_INTERVAL_NS;
    roda_log_limiter_init(&ingest->journal_log, RODA_INGEST_LOG_INTERVAL_MS * 1000000ull);
    ingest->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    roda_result_t result = ingest->stop_fd < 0 ? RODA_ERROR_SYSTEM : RODA_SUCCESS;
    if (result == RODA_SUCCESS)
        result = open_devices(ingest, max_devices);
    if (result == RODA_SUCCESS)
        result = open_sensor_names(ingest, max_sensors);
    if (result == RODA_SUCCESS)
        result = map_scratch(ingest, max_message);
    if (result != RODA_SUCCESS) {
        int saved = errno;
        roda_ingest_destroy(ingest);
        errno = saved;
        return result;
    }
    *out = ingest;
    return RODA_SUCCESS;
}

roda_result_t roda_ingest_add(roda_ingest_t *ingest, const roda_input_class_t *input,
                              const void *settings)
{
    if (ingest == NULL || input == NULL)
        return RODA_ERROR_INVALID_ARG;
    if (ingest->started)
        return RODA_ERROR_STATE;
    if (ingest->input_count == RODA_INGEST_MAX_INPUTS)
        return RODA_ERROR_TOO_MANY;
    input_slot_t *slot = &ingest->inputs[ingest->input_count];
    slot->input = input;
    slot->port = (roda_input_port_t){ingest, (uint8_t)ingest->input_count};
    slot->state = NULL;
    if (settings != NULL) {
        roda_result_t result = input->create(settings, &slot->port, &slot->state);
        if (result != RODA_SUCCESS)
            return result;
    }
    ingest->input_count++;
    return RODA_SUCCESS;
}

roda_result_t roda_ingest_add_configured(roda_ingest_t *ingest,
                                         const roda_input_class_t *const *inputs, uint32_t count,
                                         const roda_config_t *config, char *why, size_t size)
{
    for (uint32_t i = 0; i < count; i++) {
        roda_input_settings_t settings;
        bool enabled;
        if (!roda_input_configure(inputs[i], config, &settings, &enabled, why, size))
            return RODA_ERROR_INVALID_ARG;
        roda_result_t result = roda_ingest_add(ingest, inputs[i], enabled ? settings.bytes : NULL);
        if (result != RODA_SUCCESS) {
            snprintf(why, size, "%s: %s", inputs[i]->name, roda_result_str(result));
            return result;
        }
    }
    return RODA_SUCCESS;
}

void roda_ingest_set_clock_interval(roda_ingest_t *ingest, uint64_t interval_ns)
{
    if (interval_ns != 0 && interval_ns < RODA_INGEST_CLOCK_INTERVAL_NS)
        ingest->clock_interval_ns = interval_ns;
}

void roda_ingest_request_checkpoint(roda_ingest_t *ingest, uint64_t id)
{
    atomic_store_explicit(&ingest->checkpoint_requested, id, memory_order_release);
}

bool roda_ingest_checkpoint_marked(const roda_ingest_t *ingest, uint64_t id, uint64_t *position)
{
    if (atomic_load_explicit(&ingest->checkpoint_marked, memory_order_acquire) != id)
        return false;
    *position = atomic_load_explicit(&ingest->checkpoint_position, memory_order_relaxed);
    return true;
}

void roda_ingest_set_stages(roda_ingest_t *ingest, void (*run)(void *context), void *context)
{
    if (ingest == NULL || ingest->started)
        return;
    ingest->run_stages = run;
    ingest->stages_context = context;
}

roda_result_t roda_ingest_start(roda_ingest_t *ingest)
{
    if (ingest == NULL)
        return RODA_ERROR_INVALID_ARG;
    if (ingest->started)
        return RODA_ERROR_STATE;
    if (pthread_create(&ingest->thread, NULL, run, ingest) != 0)
        return RODA_ERROR_SYSTEM;
    ingest->started = true;
    return RODA_SUCCESS;
}

void roda_ingest_stop(roda_ingest_t *ingest)
{
    if (ingest == NULL || !ingest->started)
        return;
    atomic_store_explicit(&ingest->stopping, true, memory_order_relaxed);
    uint64_t one = 1;
    while (write(ingest->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
        continue;
    pthread_join(ingest->thread, NULL);
    ingest->started = false;
    atomic_store_explicit(&ingest->stopping, false, memory_order_relaxed);
    uint64_t drained;
    (void)!read(ingest->stop_fd, &drained, sizeof(drained));
}

void roda_ingest_destroy(roda_ingest_t *ingest)
{
    if (ingest == NULL)
        return;
    roda_ingest_stop(ingest);
    for (uint32_t i = 0; i < ingest->input_count; i++)
        if (ingest->inputs[i].state != NULL)
            ingest->inputs[i].input->destroy(ingest->inputs[i].state);
    roda_devices_destroy(ingest->devices);
    roda_sensor_names_destroy(ingest->sensor_names);
    if (ingest->scratch != NULL)
        munmap(ingest->scratch, ingest->scratch_size);
    if (ingest->stop_fd >= 0)
        close(ingest->stop_fd);
    free(ingest);
}

bool roda_ingest_ready(const roda_ingest_t *ingest, char *why, size_t size)
{
    int error = atomic_load_explicit(&ingest->journal_errno, memory_order_relaxed);
    if (error != 0) {
        snprintf(why, size, "input journal cannot grow (%s): %s",
                 ingest->journal_path != NULL ? ingest->journal_path : "memory", strerror(error));
        return false;
    }
    for (uint32_t i = 0; i < ingest->input_count; i++)
        if (!roda_ingest_input_ready(ingest, i, why, size))
            return false;
    return true;
}

bool roda_ingest_input_ready(const roda_ingest_t *ingest, uint32_t index, char *why, size_t size)
{
    if (index >= ingest->input_count)
        return true;
    const input_slot_t *slot = &ingest->inputs[index];
    return slot->state == NULL || slot->input->ready == NULL ||
           slot->input->ready(slot->state, why, size);
}

void roda_ingest_stats(const roda_ingest_t *ingest, roda_ingest_stats_t *stats)
{
    memset(stats, 0, sizeof(*stats));
    stats->input_count = ingest->input_count;
    for (uint32_t i = 0; i < ingest->input_count; i++) {
        const input_slot_t *slot = &ingest->inputs[i];
        roda_ingest_input_stats_t *s = &stats->inputs[i];
        s->name = slot->input->name;
        s->enabled = slot->state != NULL;
        for (int c = 0; c < RODA_INGEST_COUNTER_COUNT; c++)
            s->counters[c] =
                atomic_load_explicit(&ingest->counters[i].value[c], memory_order_relaxed);
        if (slot->state != NULL && slot->input->counters != NULL)
            slot->input->counters(slot->state, s->counters);
    }
    stats->devices = roda_devices_count(ingest->devices);
}

void roda_ingest_input_metrics(const roda_ingest_t *ingest, roda_metrics_t *metrics)
{
    for (uint32_t i = 0; i < ingest->input_count; i++)
        if (ingest->inputs[i].input->metrics != NULL)
            ingest->inputs[i].input->metrics(ingest->inputs[i].state, metrics);
}

void roda_ingest_describe(const roda_ingest_t *ingest, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < ingest->input_count && len + 1 < size; i++) {
        const input_slot_t *slot = &ingest->inputs[i];
        if (slot->input->describe == NULL)
            continue;
        if (len > 0)
            buf[len++] = ' ';
        slot->input->describe(slot->state, buf + len, size - len);
        len += strlen(buf + len);
    }
}

const char *roda_ingest_input_name(const roda_ingest_t *ingest, uint32_t index)
{
    return index < ingest->input_count ? ingest->inputs[index].input->name : NULL;
}

void *roda_ingest_input_state(const roda_ingest_t *ingest, uint32_t index)
{
    return index < ingest->input_count ? ingest->inputs[index].state : NULL;
}

const roda_devices_t *roda_ingest_devices(const roda_ingest_t *ingest)
{
    return ingest->devices;
}

const roda_sensor_names_t *roda_ingest_sensor_names(const roda_ingest_t *ingest)
{
    return ingest->sensor_names;
}
