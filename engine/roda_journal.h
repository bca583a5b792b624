/* roda_journal.h - a bounded, append-only journal of fixed-size records: one writer, many readers.
 *
 * This header is the documentation of the journal.
 *
 * Memory: one region of `capacity * record_size` bytes, mapped and populated at creation (anonymous
 * memory, or segment files when a directory is given). Nothing is allocated and no system call is
 * made when appending or reading, except the rare slow paths named below.
 *
 * Positions: every record has a position, a monotonic 64-bit counter that never wraps in
 * practice; its slot is `position & (capacity - 1)`. The writer owns `write_position`, published
 * with a release store once per committed run. Each reader keeps its own position and publishes it
 * (release store, its own cache line) once per consumed batch.
 *
 * Bounded, never silently lossy: the writer caches the slowest reader's position and looks at the
 * readers again only when it is about to lap that cached position. Then the journal's policy
 * decides: RODA_JOURNAL_BLOCK waits (spin, yield, futex) until the slowest reader moves on;
 * RODA_JOURNAL_REJECT returns RODA_FULL and counts the records as rejected.
 *
 * Writer:  roda_journal_claim(j, n, &records, &granted); write records; roda_journal_commit(j,
 * granted); Reader:  n = roda_journal_peek(r, max, &view); use view; roda_journal_consume(r, n);
 *
 * Threads: claim/commit/close from the one writer thread only. Each reader handle from one thread
 * at a time. roda_journal_stats() and roda_journal_reader_open/close from any thread. */
#ifndef RODA_JOURNAL_H
#define RODA_JOURNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_idle.h"
#include "roda_result.h"

#define RODA_JOURNAL_MAX_READERS 64u
#define RODA_JOURNAL_MAX_RECORD_SIZE (1u << 20)
#define RODA_JOURNAL_MAX_CAPACITY (1ull << 40)

typedef enum roda_journal_policy {
    RODA_JOURNAL_BLOCK = 0,  /* the writer waits for the slowest reader: lossless back-pressure */
    RODA_JOURNAL_REJECT = 1, /* claim returns RODA_FULL; the records count as rejected */
} roda_journal_policy_t;

typedef struct roda_journal_config {
    uint64_t capacity;    /* records; a power of two, 2 .. RODA_JOURNAL_MAX_CAPACITY */
    uint32_t record_size; /* bytes; a multiple of 8, up to RODA_JOURNAL_MAX_RECORD_SIZE */
    uint32_t max_readers; /* 1 .. RODA_JOURNAL_MAX_READERS (0 means 1) */
    roda_journal_policy_t policy;
    roda_idle_config_t idle; /* how a BLOCKed writer waits; zero means RODA_IDLE_DEFAULT */
    /* File backing (optional). NULL directory: anonymous memory, nothing survives the process. */
    const char *directory;      /* segment files live here; created if missing */
    uint64_t segment_records;   /* records per segment file; a power of two dividing capacity,
                                   at least 2 segments per ring, segment bytes a page multiple */
    uint32_t retained_segments; /* segment files kept on disk (>= capacity / segment_records) */
} roda_journal_config_t;

/* One reader's published state, alone on its cache lines. */
typedef struct roda_journal_reader_slot {
    _Alignas(RODA_PAD) _Atomic uint64_t position;
    _Atomic uint32_t state; /* RODA_READER_FREE, _OPENING or _ACTIVE */
} roda_journal_reader_slot_t;

struct roda_journal_file;

typedef struct roda_journal {
    /* Read-mostly after creation. */
    _Alignas(RODA_PAD) uint8_t *data;
    uint64_t capacity;
    uint64_t mask;
    uint32_t record_size;
    uint32_t max_readers;
    roda_journal_policy_t policy;
    roda_idle_config_t idle;
    uint64_t start_position; /* position of the first record this journal object wrote */
    roda_journal_reader_slot_t *readers;
    struct roda_journal_file *file; /* NULL for anonymous journals */

    /* Writer-private: nobody else reads these lines. */
    _Alignas(RODA_PAD) uint64_t claim_position; /* == write_position between commits */
    uint64_t claim_limit; /* positions below this need no look at the readers */

    /* Written by the writer once per commit, read by every reader once per batch. */
    _Alignas(RODA_PAD) _Atomic uint64_t write_position;
    _Atomic uint64_t *committed_mirror; /* file-backed: the segment header's committed position */

    /* Cold counters, written by the writer only on slow paths. */
    _Alignas(RODA_PAD) _Atomic uint64_t rejected;
    _Atomic uint64_t writer_waits; /* times the writer found the journal full under BLOCK */
    _Atomic uint32_t closed;

    roda_wakeup_t data_ready;  /* readers with nothing to read sleep here */
    roda_wakeup_t space_ready; /* a BLOCKed writer sleeps here */
} roda_journal_t;

typedef struct roda_journal_reader {
    roda_journal_t *journal;
    roda_journal_reader_slot_t *slot;
    uint64_t position; /* next record to read; local, published by consume */
} roda_journal_reader_t;

/* Zero-copy view of available records: at most two contiguous runs (the second after the ring
 * wraps). Pointers are into the journal's mapping and stay valid until the records are consumed. */
typedef struct roda_journal_view {
    const void *run[2];
    uint64_t run_count[2];
    uint64_t position; /* position of the first record of run[0] */
    uint64_t count;    /* run_count[0] + run_count[1] */
} roda_journal_view_t;

typedef struct roda_journal_stats {
    uint64_t capacity;
    uint64_t write_position;
    uint64_t appended;     /* records committed by this journal object */
    uint64_t rejected;     /* records refused under REJECT */
    uint64_t writer_waits; /* times a BLOCKed writer had to wait for a reader */
    uint64_t slowest_lag;  /* write_position - the slowest active reader's position */
    uint32_t readers;      /* active readers */
} roda_journal_stats_t;

/* Creates a journal. On success *out owns the mapping; destroy it with roda_journal_destroy.
 * Errors: RODA_ERROR_INVALID_ARG (capacity not a power of two, record size not a multiple of 8,
 * segment geometry), RODA_ERROR_NOMEM, RODA_ERROR_IO / RODA_ERROR_CORRUPT (file-backed). */
roda_result_t roda_journal_create(const roda_journal_config_t *config, roda_journal_t **out);
void roda_journal_destroy(roda_journal_t *journal);

/* Opens a gating reader starting at the current write position. Records committed before the
 * call are not seen: open a pipeline's readers before its writer starts. RODA_ERROR_TOO_MANY when
 * all max_readers slots are taken. Any thread. */
roda_result_t roda_journal_reader_open(roda_journal_t *journal, roda_journal_reader_t *reader);
/* Releases the slot: the writer stops waiting for this reader. */
void roda_journal_reader_close(roda_journal_reader_t *reader);

/* The writer will append no more. Readers see RODA_CLOSED once they have read everything. */
void roda_journal_close(roda_journal_t *journal);

/* Snapshot of the counters, safe from any thread. */
void roda_journal_stats(const roda_journal_t *journal, roda_journal_stats_t *stats);

/* File-backed: flush committed records of mapped segments to disk (msync). No-op otherwise. */
roda_result_t roda_journal_sync(roda_journal_t *journal);

/* ---- Writer hot path --------------------------------------------------------------------- */

/* Slow path of claim: refreshes the slowest reader, rolls a segment, waits (BLOCK) or refuses
 * (REJECT, counting `wanted` as rejected). Returns RODA_SUCCESS when at least one record is free.
 */
roda_result_t roda_journal_claim_slow(roda_journal_t *journal, uint64_t wanted);

static inline uint64_t roda_journal_min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Claims up to `wanted` (>= 1) contiguous records for writing. On RODA_SUCCESS, *records points to
 * `*granted` (1 .. wanted) record slots; fill them and commit. Under REJECT, RODA_FULL means
 * nothing was claimed and `wanted` records were counted as rejected. */
static inline roda_result_t roda_journal_claim(roda_journal_t *journal, uint64_t wanted,
                                               void **records, uint64_t *granted)
{
    uint64_t position = journal->claim_position;
    if (__builtin_expect(position >= journal->claim_limit, 0)) {
        roda_result_t result = roda_journal_claim_slow(journal, wanted);
        if (result != RODA_SUCCESS)
            return result;
    }
    uint64_t slot = position & journal->mask;
    uint64_t count = roda_journal_min_u64(wanted, journal->claim_limit - position);
    count = roda_journal_min_u64(count, journal->capacity - slot);
    *records = journal->data + slot * journal->record_size;
    *granted = count;
    return RODA_SUCCESS;
}

/* Publishes `count` claimed records (count <= granted) to the readers. */
static inline void roda_journal_commit(roda_journal_t *journal, uint64_t count)
{
    uint64_t position = journal->claim_position + count;
    journal->claim_position = position;
    atomic_store_explicit(&journal->write_position, position, memory_order_release);
    if (journal->committed_mirror != NULL)
        atomic_store_explicit(journal->committed_mirror, position, memory_order_release);
    roda_wakeup_notify(&journal->data_ready);
}

/* Claims, copies and commits one record. */
static inline roda_result_t roda_journal_append(roda_journal_t *journal, const void *record)
{
    void *slot;
    uint64_t granted;
    roda_result_t result = roda_journal_claim(journal, 1, &slot, &granted);
    if (result != RODA_SUCCESS)
        return result;
    __builtin_memcpy(slot, record, journal->record_size);
    roda_journal_commit(journal, 1);
    return RODA_SUCCESS;
}

/* ---- Reader hot path --------------------------------------------------------------------- */

/* Fills `view` with up to `max` available records without consuming them; returns the count. One
 * acquire load of the write position; never blocks. */
static inline uint64_t roda_journal_peek(const roda_journal_reader_t *reader, uint64_t max,
                                         roda_journal_view_t *view)
{
    const roda_journal_t *journal = reader->journal;
    uint64_t end = atomic_load_explicit(&journal->write_position, memory_order_acquire);
    uint64_t count = roda_journal_min_u64(end - reader->position, max);
    uint64_t slot = reader->position & journal->mask;
    uint64_t first = roda_journal_min_u64(count, journal->capacity - slot);
    view->run[0] = journal->data + slot * journal->record_size;
    view->run_count[0] = first;
    view->run[1] = journal->data;
    view->run_count[1] = count - first;
    view->position = reader->position;
    view->count = count;
    return count;
}

/* Marks `count` peeked records as read and publishes the position (one release store); wakes a
 * BLOCKed writer only if it announced that it sleeps. */
static inline void roda_journal_consume(roda_journal_reader_t *reader, uint64_t count)
{
    reader->position += count;
    atomic_store_explicit(&reader->slot->position, reader->position, memory_order_release);
    roda_wakeup_notify(&reader->journal->space_ready);
}

/* RODA_CLOSED when the writer closed the journal and this reader has read every record, else
 * RODA_SUCCESS. */
static inline roda_result_t roda_journal_reader_status(const roda_journal_reader_t *reader)
{
    const roda_journal_t *journal = reader->journal;
    if (!atomic_load_explicit(&journal->closed, memory_order_acquire))
        return RODA_SUCCESS;
    uint64_t end = atomic_load_explicit(&journal->write_position, memory_order_acquire);
    return end == reader->position ? RODA_CLOSED : RODA_SUCCESS;
}

/* Waits for records: one step of the idle strategy (spin, yield, then futex sleep that the writer
 * interrupts). Call it when peek returned 0, then peek again. */
void roda_journal_reader_wait(roda_journal_reader_t *reader, const roda_idle_config_t *idle,
                              roda_idle_state_t *state);

#endif
