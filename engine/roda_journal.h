/* roda_journal.h - a bounded, append-only journal of fixed-size records: one writer, many readers.
 *
 * This header is the documentation of the journal.
 *
 * Memory: one region of `capacity * record_size` bytes, reserved at creation: anonymous memory
 * populated up front, or (file-backed) windows of segment_records records, each mapped from its
 * segment file and populated when the writer starts that segment. Nothing is allocated and no
 * system call is made when appending or reading, except the rare slow paths named below.
 *
 * Positions: every record has a position, a monotonic 64-bit counter that never wraps in
 * practice; its slot is `position & (capacity - 1)`. The writer owns `write_position`, published
 * with a release store once per committed run. Each reader keeps its own position and publishes it
 * (release store, its own cache line) once per consumed batch.
 *
 * Bounded, never silently lossy: the writer caches the slowest reader's position and looks at the
 * readers again only when it is about to lap that cached position. Then the journal's policy
 * decides: RODA_JOURNAL_BLOCK waits (spin, yield, futex) until the slowest reader moves on (after
 * calling the journal's on_full handler, if it has one); RODA_JOURNAL_REJECT returns RODA_FULL
 * and counts the records as rejected.
 *
 * Writer:  roda_journal_claim(j, n, &records, &granted); write; roda_journal_commit(j, granted);
 * Reader:  n = roda_journal_peek(r, max, &view); use view; roda_journal_consume(r, n);
 * Tail:    n = roda_journal_tail_peek(t, max, &view); roda_journal_tail_copy(t, &view, buffer);
 *          missed = roda_journal_tail_consume(t, n); use buffer only if missed == 0.
 * Replay:  roda_journal_open_readonly(dir, &replay); roda_journal_replay_seek(replay, from);
 *          while (roda_journal_replay_next(...)) ...
 *
 * Tail readers never gate the writer. To let them tell intact records from overwritten ones
 * without a store on the append path, the writer announces on its slow path how far it may write
 * before looking again (`overwrite_limit`), never more than a quarter of the ring ahead of its
 * write position (so it takes the slow path at least four times per lap), or for a segment roll
 * the end of the new segment (the roll replaces its whole window at once). Records at positions
 * below overwrite_limit - capacity may be overwritten at any moment; the others are intact. A tail
 * reader less than 3/4 of the capacity behind the writer (file-backed: also less than capacity -
 * segment_records) therefore never loses a record.
 *
 * File backing (config.directory): the ring is made of segment files of `segment_records`
 * records, each a 4096-byte header (magic, format version, geometry, first position, the record
 * schema, committed position) and the records. The writer stores the committed position in the
 * current segment's header at every commit (one release store into the shared mapping, no system
 * call). Rolling to the next segment (about ten system calls, and the kernel's work to reserve, map
 * and populate the new file) happens once per segment_records records, on the slow path. What
 * survives: after the writer process dies (SIGKILL included) every record below the committed
 * position of the last segment (the pages live in the page cache); after a power loss, what
 * roda_journal_sync() flushed.
 *
 * Errors on files: roda_journal_create on a directory and roda_journal_open_readonly return one
 * roda_result_t; when they fail on a file they also leave a line for people in
 * roda_journal_error_detail(): which segment file, what is wrong, at which byte offset.
 *
 * Threads: claim/commit/close/sync from the one writer thread only. Each reader or tail handle
 * from one thread at a time. roda_journal_stats(), roda_journal_reader_open/close and
 * roda_journal_tail_open* from any thread. A replay handle from one thread at a time. */
#ifndef RODA_JOURNAL_H
#define RODA_JOURNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_idle.h"
#include "roda_inline.h"
#include "roda_result.h"

#define RODA_JOURNAL_MAX_READERS 64u
#define RODA_JOURNAL_MAX_RECORD_SIZE (1u << 20)
#define RODA_JOURNAL_MAX_CAPACITY (1ull << 40)

typedef enum roda_journal_policy {
    RODA_JOURNAL_BLOCK = 0,  /* the writer waits for the slowest reader: lossless back-pressure */
    RODA_JOURNAL_REJECT = 1, /* claim returns RODA_FULL; the records count as rejected */
} roda_journal_policy_t;

/* See roda_journal_config_t.on_full. */
typedef void (*roda_journal_full_fn)(void *context);

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
    uint32_t schema; /* the caller's id of the record layout, stored in every segment header;
                        0: none */
    /* BLOCK only (optional): called on the writer's thread when a claim finds the journal full,
     * before each wait, so that a writer which also runs the journal's reader (a fused stage
     * chain, roda_engine.h) can make room itself instead of waiting for itself. */
    roda_journal_full_fn on_full;
    void *on_full_context;
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
    roda_journal_full_fn on_full;
    void *on_full_context;
    uint64_t start_position;  /* position of the first record this journal object wrote */
    uint64_t oldest_position; /* lowest position whose record was in the ring at creation (a
                                 restarted file-backed journal maps its last segments back) */
    roda_journal_reader_slot_t *readers;
    struct roda_journal_file *file; /* NULL for anonymous journals */

    /* Writer-private: nobody else reads these lines. */
    _Alignas(RODA_PAD) uint64_t claim_position; /* == write_position between commits */
    uint64_t claim_limit; /* positions below this need no look at the readers */

    /* Written by the writer once per commit, read by every reader once per batch. */
    _Alignas(RODA_PAD) _Atomic uint64_t write_position;
    _Atomic uint64_t *committed_mirror; /* file-backed: the segment header's committed position */
    _Atomic uint64_t overwrite_limit;   /* the writer writes no position >= this before it
                                           announces a higher one (slow path): records below
                                           this minus capacity may be overwritten */

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
 * segment geometry, or a directory whose segments have another schema, record or segment size),
 * RODA_ERROR_NOMEM, RODA_ERROR_IO (errno kept), RODA_ERROR_CORRUPT (a segment file fails the
 * checks of roda_journal_open_readonly). A failure on the directory or one of its files sets
 * roda_journal_error_detail(), e.g. "directory holds records of schema 1 (40 bytes); this journal
 * writes schema 2 (40 bytes)".
 *
 * File-backed: the directory is created if missing (with its parents). Segment geometry: the
 * segment size in bytes (segment_records * record_size) is a multiple of the page size (4096),
 * capacity / segment_records >= 2 and retained_segments >= capacity / segment_records. When the
 * directory already holds segments the journal continues after their last committed position:
 * start_position = write_position = that position, and the last capacity records written before
 * are mapped again (tail readers can resume into them). Files: NNNNNNNNNNNNNNNNNNNN.rjs named by
 * the segment's first position (20 digits); a leftover *.rjs.tmp of an interrupted roll is
 * removed. At most retained_segments files are kept; the oldest is deleted at each roll. */
roda_result_t roda_journal_create(const roda_journal_config_t *config, roda_journal_t **out);
void roda_journal_destroy(roda_journal_t *journal);
/* Bytes of the region a journal of `capacity` records of `record_size` bytes maps (anonymous
 * memory, or the address range its segment files are mapped into): the memory plan's size. */
uint64_t roda_journal_memory(uint64_t capacity, uint32_t record_size);

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

/* File-backed: makes every record committed so far (still retained on disk) and the segment
 * files themselves durable (fdatasync of each segment written since the last sync, fsync of the
 * directory): blocking disk I/O, call it from the writer thread off the append path (e.g. every N
 * records or on a timer). RODA_ERROR_IO on failure (errno kept). No-op for anonymous journals. */
roda_result_t roda_journal_sync(roda_journal_t *journal);

/* ---- Writer hot path --------------------------------------------------------------------- */

/* Slow path of claim: refreshes the slowest reader, announces how far it writes, rolls a segment,
 * waits (BLOCK) or refuses (REJECT, counting `wanted` as rejected). Returns RODA_SUCCESS when at
 * least one record is free; RODA_ERROR_IO / _NOMEM when a segment roll failed (file-backed: the
 * journal stays usable, the next claim tries the roll again). */
roda_result_t roda_journal_claim_slow(roda_journal_t *journal, uint64_t wanted);

static inline uint64_t roda_journal_min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Claims up to `wanted` (>= 1) contiguous records for writing. On RODA_SUCCESS, *records points to
 * `*granted` (1 .. wanted) record slots; fill them and commit. Under REJECT, RODA_FULL means
 * nothing was claimed and `wanted` records were counted as rejected. */
RODA_HOT roda_result_t roda_journal_claim(roda_journal_t *journal, uint64_t wanted, void **records,
                                          uint64_t *granted)
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
RODA_HOT void roda_journal_commit(roda_journal_t *journal, uint64_t count)
{
    uint64_t position = journal->claim_position + count;
    journal->claim_position = position;
    atomic_store_explicit(&journal->write_position, position, memory_order_release);
    if (journal->committed_mirror != NULL)
        atomic_store_explicit(journal->committed_mirror, position, memory_order_release);
    roda_wakeup_notify(&journal->data_ready);
}

/* Claims, copies and commits one record. */
RODA_HOT roda_result_t roda_journal_append(roda_journal_t *journal, const void *record)
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

/* Fills `view` with `count` (<= capacity) records from `position` on; returns count. */
static inline uint64_t roda_journal_view_fill(const roda_journal_t *journal, uint64_t position,
                                              uint64_t count, roda_journal_view_t *view)
{
    uint64_t slot = position & journal->mask;
    uint64_t first = roda_journal_min_u64(count, journal->capacity - slot);
    view->run[0] = journal->data + slot * journal->record_size;
    view->run_count[0] = first;
    view->run[1] = journal->data;
    view->run_count[1] = count - first;
    view->position = position;
    view->count = count;
    return count;
}

/* Fills `view` with up to `max` available records without consuming them; returns the count. One
 * acquire load of the write position; never blocks. */
RODA_HOT uint64_t roda_journal_peek(const roda_journal_reader_t *reader, uint64_t max,
                                    roda_journal_view_t *view)
{
    const roda_journal_t *journal = reader->journal;
    uint64_t end = atomic_load_explicit(&journal->write_position, memory_order_acquire);
    return roda_journal_view_fill(journal, reader->position,
                                  roda_journal_min_u64(end - reader->position, max), view);
}

/* Marks `count` peeked records as read and publishes the position (one release store); wakes a
 * BLOCKed writer only if it announced that it sleeps. */
RODA_HOT void roda_journal_consume(roda_journal_reader_t *reader, uint64_t count)
{
    reader->position += count;
    atomic_store_explicit(&reader->slot->position, reader->position, memory_order_release);
    roda_wakeup_notify(&reader->journal->space_ready);
}

/* RODA_CLOSED when the writer closed the journal and nothing is left at or after `position`. */
static inline roda_result_t roda_journal_status_at(const roda_journal_t *journal, uint64_t position)
{
    if (!atomic_load_explicit(&journal->closed, memory_order_acquire))
        return RODA_SUCCESS;
    uint64_t end = atomic_load_explicit(&journal->write_position, memory_order_acquire);
    return end == position ? RODA_CLOSED : RODA_SUCCESS;
}

/* RODA_CLOSED when the writer closed the journal and this reader has read every record, else
 * RODA_SUCCESS. */
static inline roda_result_t roda_journal_reader_status(const roda_journal_reader_t *reader)
{
    return roda_journal_status_at(reader->journal, reader->position);
}

/* Waits for records: one step of the idle strategy (spin, yield, then futex sleep that the writer
 * interrupts). Call it when peek returned 0, then peek again. */
void roda_journal_reader_wait(roda_journal_reader_t *reader, const roda_idle_config_t *idle,
                              roda_idle_state_t *state);

/* ---- Tail readers: never slow the writer --------------------------------------------------- */

/* A reader the writer does not wait for (live clients, monitors). It takes no reader slot, so any
 * number may exist. Because the writer may overwrite what a tail reader is looking at, a tail
 * reader copies records out, then asks roda_journal_tail_consume whether they were intact: if
 * not, it discards them and learns how many records it missed (a gap), and its position jumps
 * to the oldest intact record. A torn record is never reported as intact. */
typedef struct roda_journal_tail {
    roda_journal_t *journal;
    uint64_t position; /* next record to read */
    uint64_t missed;   /* records lost to overwriting since open (sum of the gaps) */
} roda_journal_tail_t;

/* The lowest position whose record is intact now (it may be overwritten a moment later). */
uint64_t roda_journal_tail_oldest(const roda_journal_t *journal);

/* Opens a tail reader at the current write position. RODA_ERROR_INVALID_ARG on NULL. */
roda_result_t roda_journal_tail_open(roda_journal_t *journal, roda_journal_tail_t *tail);

/* Opens a tail reader at `position` (resume, e.g. after an SSE Last-Event-ID). When the record at
 * `position` is no longer intact the tail starts at roda_journal_tail_oldest() and *missed (may be
 * NULL) receives the records skipped, also counted in tail->missed; else *missed = 0.
 * RODA_ERROR_INVALID_ARG for a position beyond the write position (never written). */
roda_result_t roda_journal_tail_open_at(roda_journal_t *journal, uint64_t position,
                                        roda_journal_tail_t *tail, uint64_t *missed);

/* Zero-copy view of up to `max` records (never more than the capacity) from the tail's position.
 * The bytes may be overwritten while being read: copy them (roda_journal_tail_copy) and check with
 * roda_journal_tail_consume before trusting them. */
static inline uint64_t roda_journal_tail_peek(const roda_journal_tail_t *tail, uint64_t max,
                                              roda_journal_view_t *view)
{
    const roda_journal_t *journal = tail->journal;
    uint64_t end = atomic_load_explicit(&journal->write_position, memory_order_acquire);
    uint64_t count = roda_journal_min_u64(end - tail->position, max);
    return roda_journal_view_fill(journal, tail->position,
                                  roda_journal_min_u64(count, journal->capacity), view);
}

/* Copies the view's `view->count` records to `destination` (count * record_size bytes). The copy
 * races with the writer by design, so it is done word by word outside ThreadSanitizer's view;
 * whether it is intact is decided by roda_journal_tail_consume. */
void roda_journal_tail_copy(const roda_journal_tail_t *tail, const roda_journal_view_t *view,
                            void *destination);

/* Call after copying (or otherwise using) `count` records from the tail's position. Returns 0 when
 * they were intact: the position advances by count. Otherwise returns the number of records
 * missed: the caller discards what it copied, the position jumps to the oldest intact record and
 * tail->missed grows by the returned count. One fence and one load; never blocks. */
uint64_t roda_journal_tail_consume(roda_journal_tail_t *tail, uint64_t count);

/* RODA_CLOSED when the writer closed the journal and the tail has read everything. */
static inline roda_result_t roda_journal_tail_status(const roda_journal_tail_t *tail)
{
    return roda_journal_status_at(tail->journal, tail->position);
}

/* Like roda_journal_reader_wait, for a tail reader (peek returned 0). */
void roda_journal_tail_wait(roda_journal_tail_t *tail, const roda_idle_config_t *idle,
                            roda_idle_state_t *state);

/* ---- Reading a journal directory again (after the writer exited, or beside it) ------------- */

/* A read-only, position-ordered walk over the segment files of a directory: from the oldest
 * retained record to the last committed one at open time. Zero-copy: views point into read-only
 * mappings of the files, valid until roda_journal_replay_close. Memory: one mapping per segment
 * file and a small array; nothing is written to the directory. */
typedef struct roda_journal_replay roda_journal_replay_t;

/* Opens `directory` and checks every segment file: magic, format version, header checksum, the
 * file size against the header geometry, the same schema, record and segment size in every file,
 * the first position matching the file name and a multiple of the segment size, the committed
 * position within the segment (and at its end for every segment but the last), and positions
 * contiguous from file to file (older files missing is retention, a hole is corruption).
 * Errors: RODA_ERROR_INVALID_ARG (NULL), RODA_ERROR_IO (errno kept; ENOENT when the directory
 * holds no segment file), RODA_ERROR_CORRUPT (a wrong, truncated, empty or garbage segment file),
 * RODA_ERROR_NOMEM. Never crashes on bad files: they are read with pread and checked before any
 * mapping is used. Every failure but NULL arguments sets roda_journal_error_detail(). */
roda_result_t roda_journal_open_readonly(const char *directory, roda_journal_replay_t **out);

/* The last failure's detail in this thread: which file, what is wrong, at which byte offset, e.g.
 *   00000000000000004096.rjs: offset 8: format version 1, this build reads 2
 *   00000000000000004096.rjs: file size 100, header says 4096 + 256 x 16 bytes (truncated)
 *   hole: positions 256 to 512 missing between 00000000000000000000.rjs and
 *         00000000000000000512.rjs
 * Set when roda_journal_create (file-backed) or roda_journal_open_readonly fails on the directory
 * or one of its files, "" after a success or another failure; each of them clears it first. Only
 * this thread's calls touch it; the text stays valid until the thread's next such call. Offsets
 * are of the header fields: magic 0, version 8, record_size 12, segment_records 16,
 * first_position 24, schema 32, checksum 40, committed_position 64. Segment format versions: 1
 * (no schema; refused by this build), 2. */
const char *roda_journal_error_detail(void);

/* Position of the oldest retained record, and one past the last committed record. */
uint64_t roda_journal_replay_first(const roda_journal_replay_t *replay);
uint64_t roda_journal_replay_end(const roda_journal_replay_t *replay);
uint32_t roda_journal_replay_record_size(const roda_journal_replay_t *replay);
/* The record schema the writer stored (roda_journal_config_t.schema; the same in every file). */
uint32_t roda_journal_replay_schema(const roda_journal_replay_t *replay);

/* The position of the next record roda_journal_replay_next returns (first at open). */
uint64_t roda_journal_replay_position(const roda_journal_replay_t *replay);

/* Moves the replay to `position`, the next record roda_journal_replay_next returns (backwards
 * too, e.g. to read a range again); roda_journal_replay_end() is the end, where next returns 0.
 * RODA_ERROR_INVALID_ARG on NULL or a position outside first .. end. */
roda_result_t roda_journal_replay_seek(roda_journal_replay_t *replay, uint64_t position);

/* Fills `view` with up to `max` records from the replay's position (one run, within one segment
 * file) and moves past them; returns the count, 0 at the end. */
uint64_t roda_journal_replay_next(roda_journal_replay_t *replay, uint64_t max,
                                  roda_journal_view_t *view);

void roda_journal_replay_close(roda_journal_replay_t *replay);

#endif
