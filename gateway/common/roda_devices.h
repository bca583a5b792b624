/* roda_devices.h - the bounded device registry of the ingest: device names interned to small
 * indexes (roda_reading_t.device), and per device the stream position used to detect lost and
 * duplicated batches.
 *
 * Memory: everything is allocated at creation: `max_devices` entries (about 128 bytes each) and
 * an open-addressing index of the next power of two >= 2 * max_devices uint32 slots. Interning
 * never allocates; past `max_devices` new names are refused (RODA_ERROR_TOO_MANY) and the caller
 * counts the drop.
 *
 * Loss and duplicate detection: every batch carries (boot_epoch, sequence). Per device the
 * registry keeps the current boot epoch, the highest sequence seen and a 64-batch window of the
 * sequences seen below it. A newer epoch is a device restart (no gap). Within an epoch:
 * a sequence above the highest counts the skipped ones as lost; one inside the window that was
 * not seen yet is a late (reordered) arrival and is accepted; one seen before, one older than
 * the window, and any batch of an older epoch are duplicates (dropped).
 *
 * Threads: create/destroy from one thread while nobody else uses the registry. Intern and track
 * from the ingest thread only. roda_devices_count, roda_devices_name and roda_devices_counters
 * from any thread: a name is written before its index is published (release) and never changes. */
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

typedef struct roda_devices roda_devices_t;

/* What one batch's (boot_epoch, sequence) means for its device. */
typedef enum roda_sequence_verdict {
    RODA_SEQUENCE_NEXT = 0,      /* first batch of the device or of a new boot, or the next one */
    RODA_SEQUENCE_GAP = 1,       /* accepted; `lost` batches before it never arrived (yet) */
    RODA_SEQUENCE_LATE = 2,      /* accepted; an earlier gap's batch arriving out of order */
    RODA_SEQUENCE_DUPLICATE = 3, /* seen before (or too old to tell): drop it */
} roda_sequence_verdict_t;

/* Per-device counters for metric labels. */
typedef struct roda_device_counters {
    uint64_t batches;    /* batches accepted */
    uint64_t lost;       /* batches skipped by sequence gaps */
    uint64_t late;       /* batches that filled an earlier gap */
    uint64_t duplicates; /* batches dropped as duplicates */
} roda_device_counters_t;

/* Creates a registry for 1 .. RODA_DEVICES_MAX devices. RODA_ERROR_INVALID_ARG, RODA_ERROR_NOMEM.
 */
roda_result_t roda_devices_create(uint32_t max_devices, roda_devices_t **out);
void roda_devices_destroy(roda_devices_t *devices);
/* Bytes roda_devices_create() allocates for `max_devices` (entries, index and header): the
 * memory plan's device registry. */
uint64_t roda_devices_memory(uint32_t max_devices);

/* Checks a device name: 1 .. RODA_DEVICE_NAME_SIZE - 1 bytes of printable ASCII other than
 * '"' and '\\' (names become metric label values). Returns 1 when valid. */
int roda_devices_name_valid(const char *name, size_t length);

/* Finds or adds `name` (not NUL-terminated, `length` bytes); *index receives its index.
 * RODA_ERROR_INVALID_ARG for an invalid name, RODA_ERROR_TOO_MANY when the registry is full.
 * Ingest thread only. */
roda_result_t roda_devices_intern(roda_devices_t *devices, const char *name, size_t length,
                                  uint32_t *index);

/* Judges a batch of device `index` and records it; *lost receives the batches a gap skipped
 * (0 otherwise). Ingest thread only. */
roda_sequence_verdict_t roda_devices_track(roda_devices_t *devices, uint32_t index,
                                           uint64_t boot_epoch, uint64_t sequence, uint64_t *lost);

/* Number of devices interned so far; indexes 0 .. count-1 are valid. Any thread. */
uint32_t roda_devices_count(const roda_devices_t *devices);
/* The NUL-terminated name of device `index`, or NULL if index >= count. Any thread. */
const char *roda_devices_name(const roda_devices_t *devices, uint32_t index);
/* Snapshot of device `index`'s counters; RODA_ERROR_INVALID_ARG if index >= count. Any thread. */
roda_result_t roda_devices_counters(const roda_devices_t *devices, uint32_t index,
                                    roda_device_counters_t *counters);

#endif
