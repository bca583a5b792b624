/* roda_snapshot.h - snapshot files: the stages' state at one input journal position, written
 * atomically and checksummed, so a restart resumes from it and replays only the journal's tail.
 *
 * File `snapshot-<input position, 20 digits>.rds` in the journal directory:
 *
 *   header (RODA_SNAPSHOT_HEADER bytes): magic "RODASNAP", format version, the info below, the
 *     caller's geometry words, and per section its offset, length and XXH3-64 hash; the header's
 *     own XXH3-64 hash last.
 *   sections, one after the other: each stage's memory as its visit function lists it
 *     (roda_keytable_visit, roda_rules_visit): raw bytes, valid only for the same geometry.
 *
 * Writing (roda_snapshot_begin .. roda_snapshot_commit) goes to `snapshot.tmp`, sized up front;
 * each section is written by whoever owns that state (a stage thread at a checkpoint record, or
 * the controlling thread after stop) through a roda_snapshot_io_t, then the controlling thread
 * writes the header, fsyncs the file, renames it into place and fsyncs the directory: a crash at
 * any moment leaves the previous snapshots intact and at most a stale snapshot.tmp (overwritten
 * by the next begin). The newest RODA_SNAPSHOT_KEEP files are kept.
 *
 * Reading (roda_snapshot_open) checks, before anything is loaded: the magic, the version, the
 * header hash, the geometry (the same limits and record sizes as the running config), the file
 * size, and every section's hash; a file that fails names why, and the caller falls back to an
 * older one.
 *
 * Hashes: XXH3-64 (libxxhash): fast enough that hashing is not the cost of a snapshot, and a
 * well-kept library rather than hand-written code. It detects corruption, not tampering. */
#ifndef RODA_SNAPSHOT_H
#define RODA_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "roda_result.h"

#define RODA_SNAPSHOT_HEADER 4096u
#define RODA_SNAPSHOT_KEEP 2u
#define RODA_SNAPSHOT_GEOMETRY 8u
/* Room for a path in the journal directory. */
#define RODA_SNAPSHOT_PATH_MAX 512u

typedef enum roda_snapshot_section_kind {
    RODA_SNAPSHOT_STATE = 0, /* the state stage: per-sensor summaries, eviction cursor, clock */
    RODA_SNAPSHOT_RULES = 1, /* the rules stage: previous summaries, rule states, clock */
    RODA_SNAPSHOT_SECTIONS = 2,
} roda_snapshot_section_kind_t;

/* What a snapshot covers. */
typedef struct roda_snapshot_info {
    uint64_t id;             /* the checkpoint's id (its CHECKPOINT record's sensor_id) */
    uint64_t input_position; /* the first input journal record it does not cover */
    uint64_t alert_position; /* the alert journal's write position after the covered input */
    uint64_t event_time_ns;  /* the stages' clock (ingest time) at that point */
    uint64_t written_ns;     /* wall clock when it was written */
    /* The caller's compatibility words (limits, record sizes): a snapshot loads only into the
     * same geometry. */
    uint64_t geometry[RODA_SNAPSHOT_GEOMETRY];
} roda_snapshot_info_t;

/* One section being written, read or measured: pass it to roda_snapshot_io_blob as the visit
 * functions' context. */
typedef enum roda_snapshot_mode {
    RODA_SNAPSHOT_MEASURE = 0,
    RODA_SNAPSHOT_WRITE = 1,
    RODA_SNAPSHOT_READ = 2,
} roda_snapshot_mode_t;

typedef struct roda_snapshot_io {
    roda_snapshot_mode_t mode;
    int fd;
    uint64_t offset; /* the section's first byte in the file */
    uint64_t length; /* bytes visited so far */
    int error;       /* errno of the first failed write or read (0: none); EIO for a short read */
    XXH3_state_t hash;
} roda_snapshot_io_t;

/* A roda_visit_fn: measures, writes (and hashes) or reads `length` bytes at the section's next
 * offset. After an error it does nothing more. */
void roda_snapshot_io_blob(void *io, void *data, size_t length);

/* A measuring io: visit a section with it, then io.length is its size. */
void roda_snapshot_measure(roda_snapshot_io_t *io);

/* ---- Writing -------------------------------------------------------------------------------- */

typedef struct roda_snapshot_writer {
    int fd;     /* snapshot.tmp; -1 when no snapshot is being written */
    int dir_fd; /* the directory */
    char directory[RODA_SNAPSHOT_PATH_MAX];
    uint64_t offsets[RODA_SNAPSHOT_SECTIONS];
    uint64_t lengths[RODA_SNAPSHOT_SECTIONS];
    uint64_t hashes[RODA_SNAPSHOT_SECTIONS]; /* set by roda_snapshot_section_end */
    int errors[RODA_SNAPSHOT_SECTIONS];      /* likewise: the section's io.error */
} roda_snapshot_writer_t;

/* Creates `directory`/snapshot.tmp (truncated) sized for sections of `lengths` bytes (measured).
 * RODA_ERROR_IO (errno kept). The writer's fields are set on success, fd = -1 otherwise. */
roda_result_t roda_snapshot_begin(roda_snapshot_writer_t *writer, const char *directory,
                                  const uint64_t lengths[RODA_SNAPSHOT_SECTIONS]);
/* A writing io for section `kind`; visit the section with it, then call section_end. Any thread
 * (each section has one writer; the controlling thread reads the results after a release/acquire
 * handover). */
void roda_snapshot_section_begin(roda_snapshot_writer_t *writer, roda_snapshot_section_kind_t kind,
                                 roda_snapshot_io_t *io);
void roda_snapshot_section_end(roda_snapshot_writer_t *writer, roda_snapshot_section_kind_t kind,
                               const roda_snapshot_io_t *io);
/* Writes the header, fsyncs, renames to snapshot-<input position>.rds, fsyncs the directory and
 * removes all but the newest RODA_SNAPSHOT_KEEP snapshots. RODA_ERROR_IO (errno kept; a section
 * that failed or did not write its measured length: EIO) and the file is removed. The writer is
 * closed either way; `path` (may be NULL) receives the file's name. */
roda_result_t roda_snapshot_commit(roda_snapshot_writer_t *writer, const roda_snapshot_info_t *info,
                                   char *path, size_t size);
/* Drops a snapshot being written (removes snapshot.tmp). No-op when none is. */
void roda_snapshot_abort(roda_snapshot_writer_t *writer);

/* ---- Reading -------------------------------------------------------------------------------- */

typedef struct roda_snapshot_reader {
    int fd;
    roda_snapshot_info_t info;
    uint64_t offsets[RODA_SNAPSHOT_SECTIONS];
    uint64_t lengths[RODA_SNAPSHOT_SECTIONS];
} roda_snapshot_reader_t;

/* The input positions of the snapshots in `directory`, newest first, at most `max`; returns how
 * many. Other files are ignored. */
uint32_t roda_snapshot_list(const char *directory, uint64_t *positions, uint32_t max);
/* The file name of the snapshot at `position` in `directory`. */
void roda_snapshot_path(const char *directory, uint64_t position, char *path, size_t size);

/* Opens and checks `path` (see the head comment) against `geometry`. RODA_SUCCESS, or
 * RODA_ERROR_IO (cannot read: errno kept) / RODA_ERROR_CORRUPT (fails a check) with the reason
 * in `why`. */
roda_result_t roda_snapshot_open(const char *path, const uint64_t geometry[RODA_SNAPSHOT_GEOMETRY],
                                 roda_snapshot_reader_t *reader, char *why, size_t size);
/* A reading io for section `kind`: visit the section with it; then io.error == 0 and io.length
 * equal to the section's length mean it was read whole. */
void roda_snapshot_section_read(const roda_snapshot_reader_t *reader,
                                roda_snapshot_section_kind_t kind, roda_snapshot_io_t *io);
bool roda_snapshot_section_complete(const roda_snapshot_reader_t *reader,
                                    roda_snapshot_section_kind_t kind,
                                    const roda_snapshot_io_t *io);
void roda_snapshot_close(roda_snapshot_reader_t *reader);

#endif
