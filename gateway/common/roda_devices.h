/* roda_devices.h - the bounded device registry of the ingest: device names interned to small
 * indexes (roda_reading_t.device), and per device the stream position used to detect lost and
 * duplicated batches.
 *
 * Memory: everything is one mapping made at creation: a header, `max_devices` entries (264
 * bytes each) and an open-addressing index of the next power of two >= 2 * max_devices uint32
 * slots, every page touched then. Interning never allocates; past `max_devices` new names are
 * refused (RODA_ERROR_TOO_MANY) and the caller counts the drop.
 *
 * Persistence: with a path, the mapping is that file (MAP_SHARED), so every name, position and
 * counter stored is in the page cache at once and survives the process, SIGKILL included (not a
 * machine crash: nothing is synced after creation), with no system call on the interning and
 * tracking path. File layout, in host byte order: a RODA_DEVICES_HEADER-byte header (magic,
 * format version, max_devices, the entry size, a checksum of those, then the device count), the
 * entries, the index. At creation a file whose header checks out with the same geometry and
 * size, and whose first `count` names are valid and distinct, is reused: entries past the count
 * are zeroed and the index is rebuilt from the names, so whatever a crash interrupted is
 * consistent again (a position a crash cut short errs toward accepting a batch twice). Any
 * other existing file is not trusted: the registry starts empty in a new file, as when there is
 * none, written beside it as `path`.tmp, synced and renamed over it so a crash never leaves a
 * half-made file. roda_devices_opened() says which happened.
 *
 * Loss and duplicate detection: a batch carries (boot_epoch, sequence); sequence 0 means none
 * (a device that sends no sequence, or the first batch after boot): such a batch is accepted and
 * never judged. Per device the registry keeps the current boot epoch, the highest sequence seen
 * and a window of the RODA_DEVICES_WINDOW sequences below it that were seen; the first
 * sequenced batch is the baseline. A newer epoch at most RODA_DEVICES_MAX_EPOCH_STEP ahead is a
 * restart (no gap). Within an epoch: a sequence at most RODA_DEVICES_MAX_SEQUENCE_STEP above the
 * highest counts the skipped ones as lost; one inside the window that was seen before is a
 * duplicate (dropped: a QoS 1 redelivery); one inside the window not seen yet, or older than the
 * window but at most RODA_DEVICES_MAX_SEQUENCE_STEP behind, is a late (reordered) arrival and is
 * accepted: beyond the window the registry cannot tell a redelivery from a batch delayed that
 * long (a broker restart reorders a device's batches by seconds), and an acknowledged batch must
 * not be dropped on a guess. Anything else (an epoch
 * further ahead or going backwards, a sequence further ahead or behind) cannot be a restart, a
 * gap or a replay: the batch is accepted as a new baseline and counted as a sequence reset, so
 * one hostile or corrupt value neither silences the device nor inflates its loss.
 *
 * Ingest order: roda_devices_judge() before the batch's readings are written, and
 * roda_devices_record() once they are committed, so a crash in between leaves the batch
 * unrecorded and its redelivery is accepted again (a duplicate reading, never a lost one).
 *
 * Threads: create/open/destroy from one thread while nobody else uses the registry. Intern,
 * judge and record from the ingest thread only (one process: the file is not shared between
 * writers). roda_devices_count, roda_devices_name and roda_devices_counters from any thread: a
 * name is written before its index is published (release) and never changes. */
#ifndef RODA_DEVICES_H
#define RODA_DEVICES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_result.h"

/* Bytes of a device name including the terminating NUL (names are 1..63 bytes). Matches the
 * max_size of roda.v1.Batch.device in proto/roda.options. */
#define RODA_DEVICE_NAME_SIZE 64u
#define RODA_DEVICES_MAX (1u << 24)
/* The registry's file in a journal directory (the journal's scan ignores other names). */
#define RODA_DEVICES_FILE_NAME "devices.rdd"
/* Bytes of the file's header; the entries follow it. */
#define RODA_DEVICES_HEADER 64u
/* The sequence of a batch that carries none (the protobuf default). */
#define RODA_SEQUENCE_ABSENT 0u
/* The largest plausible step of a device's sequence within one boot epoch, forward (a gap of
 * up to 2^20 - 1 lost batches) or backward (a replay); beyond it the device is re-baselined. */
/* Sequences below the highest whose arrival each device remembers (bits, a multiple of 64). */
#define RODA_DEVICES_WINDOW 1024u
#define RODA_DEVICES_MAX_SEQUENCE_STEP (1ull << 20)
/* The largest plausible step of a boot epoch at a restart: a day if the epoch is the boot time
 * in seconds (roda-fleet), and far more boots than a device makes if it is a boot counter. A
 * device off for longer than a day with a seconds epoch counts one reset at its next boot. */
#define RODA_DEVICES_MAX_EPOCH_STEP 86400u

typedef struct roda_devices roda_devices_t;

/* What one batch's (boot_epoch, sequence) means for its device. */
typedef enum roda_sequence_verdict {
    RODA_SEQUENCE_NEXT = 0,      /* the first batch of a new boot, or the next one */
    RODA_SEQUENCE_GAP = 1,       /* accepted; `lost` batches before it never arrived (yet) */
    RODA_SEQUENCE_LATE = 2,      /* accepted; an earlier gap's batch arriving out of order */
    RODA_SEQUENCE_DUPLICATE = 3, /* seen before (or too old to tell): drop it */
    RODA_SEQUENCE_NONE = 4,      /* accepted; the batch carries no sequence */
    RODA_SEQUENCE_RESET = 5,     /* accepted; an implausible position, now the new baseline */
    /* accepted; the device's first sequenced batch since the gateway started: `lost` is the
     * batches of its boot before this one (sequence - 1), which this gateway never saw */
    RODA_SEQUENCE_FIRST = 6,
} roda_sequence_verdict_t;

/* Per-device counters for metric labels. */
typedef struct roda_device_counters {
    uint64_t batches;         /* batches accepted */
    uint64_t lost;            /* batches skipped by sequence gaps */
    uint64_t late;            /* batches that filled an earlier gap */
    uint64_t duplicates;      /* batches dropped as duplicates */
    uint64_t sequence_resets; /* batches accepted as a new baseline (RODA_SEQUENCE_RESET) */
} roda_device_counters_t;

/* Creates a registry for 1 .. RODA_DEVICES_MAX devices: in anonymous memory when `path` is NULL,
 * else in the file `path` (see Persistence above; its directory must exist).
 * RODA_ERROR_INVALID_ARG, RODA_ERROR_NOMEM, RODA_ERROR_IO (errno kept: the file or its replacement
 * could not be made). */
roda_result_t roda_devices_create(uint32_t max_devices, const char *path, roda_devices_t **out);
/* Maps the existing registry file `path` read-only, for offline tools: count, names and counters
 * as of now (intern, judge and record must not be called on it). RODA_ERROR_IO (errno kept) when
 * it cannot be opened, RODA_ERROR_CORRUPT (nothing opened) when roda_devices_create would not
 * trust it, RODA_ERROR_NOMEM. */
roda_result_t roda_devices_open_readonly(const char *path, roda_devices_t **out);
void roda_devices_destroy(roda_devices_t *devices);
/* Bytes roda_devices_create() maps and allocates for `max_devices` (header, entries, index and
 * handle): the memory plan's device registry, and the file's size plus the handle. */
uint64_t roda_devices_memory(uint32_t max_devices);

/* What roda_devices_create() found at its path. */
typedef struct roda_devices_opened {
    uint32_t restored;         /* devices restored from an existing file (0 otherwise) */
    const char *discarded_why; /* NULL, or why an existing file was not used (static text) */
} roda_devices_opened_t;
/* How the registry was opened: {0, NULL} in memory, read-only, or when no file existed. Any
 * thread. */
roda_devices_opened_t roda_devices_opened(const roda_devices_t *devices);

/* Checks a device name: 1 .. RODA_DEVICE_NAME_SIZE - 1 bytes of printable ASCII other than
 * '"' and '\\' (names become metric label values), spaces inside but not at either end (SCADA
 * names such as "Boiler 1"; no look-alikes that differ by a trailing space). Returns 1 when
 * valid. */
int roda_devices_name_valid(const char *name, size_t length);

/* Finds or adds `name` (not NUL-terminated, `length` bytes); *index receives its index.
 * RODA_ERROR_INVALID_ARG for an invalid name, RODA_ERROR_TOO_MANY when the registry is full.
 * Ingest thread only. */
roda_result_t roda_devices_intern(roda_devices_t *devices, const char *name, size_t length,
                                  uint32_t *index);

/* Judges a batch of device `index` against what is recorded, changing nothing; *lost receives
 * the batches a gap skipped or, for RODA_SEQUENCE_FIRST, the boot's batches before it (0
 * otherwise, at most RODA_DEVICES_MAX_SEQUENCE_STEP - 1). Ingest thread only. */
roda_sequence_verdict_t roda_devices_judge(const roda_devices_t *devices, uint32_t index,
                                           uint64_t boot_epoch, uint64_t sequence, uint64_t *lost);
/* Records a batch roda_devices_judge() judged `verdict` with `lost`, nothing having been recorded
 * for the device in between: moves its position as the verdict says and adds to its counters.
 * Ingest thread only. */
void roda_devices_record(roda_devices_t *devices, uint32_t index, uint64_t boot_epoch,
                         uint64_t sequence, roda_sequence_verdict_t verdict, uint64_t lost);

/* Number of devices interned so far; indexes 0 .. count-1 are valid. Any thread. */
uint32_t roda_devices_count(const roda_devices_t *devices);
/* The NUL-terminated name of device `index`, or NULL if index >= count. Any thread. */
const char *roda_devices_name(const roda_devices_t *devices, uint32_t index);
/* Snapshot of device `index`'s counters; RODA_ERROR_INVALID_ARG if index >= count. Any thread. */
roda_result_t roda_devices_counters(const roda_devices_t *devices, uint32_t index,
                                    roda_device_counters_t *counters);

#endif
