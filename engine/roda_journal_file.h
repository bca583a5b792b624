/* roda_journal_file.h - internal: the file backing of a journal (segment files mapped into the
 * journal's ring) and the checked listing of a journal directory shared with the read-only
 * replay. Used by roda_journal*.c only; the public API is in roda_journal.h.
 *
 * Segment file: a RODA_JOURNAL_SEGMENT_HEADER-byte header page, then segment_records records.
 * Its first position is a multiple of segment_records, so the data of every segment maps onto
 * one aligned window of the ring: slot (first_position & mask). */
#ifndef RODA_JOURNAL_FILE_H
#define RODA_JOURNAL_FILE_H

#include <stddef.h>

#include "roda_journal.h"

#define RODA_JOURNAL_SEGMENT_HEADER 4096u
#define RODA_JOURNAL_SEGMENT_VERSION 2u
#define RODA_JOURNAL_SEGMENT_MAGIC 0x4745534a41444f52ull /* "RODAJSEG" little-endian */

/* The header at the start of each segment file, in host byte order. The checksum covers the
 * constant fields; committed_position changes at every commit, on its own cache line. */
typedef struct roda_journal_segment_header {
    uint64_t magic;
    uint32_t version;
    uint32_t record_size;
    uint64_t segment_records;
    uint64_t first_position;
    uint32_t schema; /* the caller's id of the record layout (version 2 on) */
    uint64_t checksum;
    _Alignas(RODA_CACHE_LINE) _Atomic uint64_t committed_position;
} roda_journal_segment_header_t;

/* The offsets roda_journal.h documents for roda_journal_error_detail. */
_Static_assert(offsetof(roda_journal_segment_header_t, schema) == 32, "schema at offset 32");
_Static_assert(offsetof(roda_journal_segment_header_t, checksum) == 40, "checksum at offset 40");
_Static_assert(offsetof(roda_journal_segment_header_t, committed_position) == 64,
               "committed_position at offset 64");

/* FNV-1a of the constant fields (magic .. schema); tests use it to forge headers. */
uint64_t roda_journal_file_header_checksum(const roda_journal_segment_header_t *header);

/* One checked segment file, open read-only or read-write. */
typedef struct roda_journal_segment {
    int fd;
    uint64_t first_position;
    uint64_t committed_position; /* as read at scan time */
} roda_journal_segment_t;

/* The segment files of a directory, oldest first. */
typedef struct roda_journal_scan {
    roda_journal_segment_t *segments;
    size_t count;
    uint32_t record_size;     /* common to every file (0 when count is 0) */
    uint32_t schema;          /* common to every file (0 when count is 0) */
    uint64_t segment_records; /* common to every file (0 when count is 0) */
} roda_journal_scan_t;

/* Lists and checks the segment files of the directory open as dir_fd (see
 * roda_journal_open_readonly for the checks). `writable` opens the files read-write and removes
 * leftovers of an interrupted roll (*.rjs.tmp). Other file names are ignored. On success the
 * caller frees *scan with roda_journal_file_scan_free (also when count is 0).
 * Errors: RODA_ERROR_IO, RODA_ERROR_CORRUPT, RODA_ERROR_NOMEM; each failure on a file sets the
 * detail (roda_journal_error_detail), cleared at the start of the call. */
roda_result_t roda_journal_file_scan(int dir_fd, int writable, roda_journal_scan_t *scan);
void roda_journal_file_scan_free(roda_journal_scan_t *scan);

#define RODA_JOURNAL_SEGMENT_NAME_SIZE 40

/* The file name of the segment starting at `first`: 20 digits and ".rjs". */
void roda_journal_file_segment_name(char name[RODA_JOURNAL_SEGMENT_NAME_SIZE], uint64_t first);

/* Sets this thread's roda_journal_error_detail text (printf format). */
__attribute__((format(printf, 1, 2))) void roda_journal_file_detail(const char *format, ...);
/* Clears it: done at the start of each public call that may set it. */
void roda_journal_file_detail_clear(void);

/* Maps the ring from segment files in config->directory. Reserves the ring's address range, sets
 * journal->data, file, start_position, oldest_position, claim_position, write_position and
 * committed_mirror. A directory that already holds segments continues after their last committed
 * position (in the last segment when it has room, else in a new one). */
roda_result_t roda_journal_file_create(roda_journal_t *journal,
                                       const roda_journal_config_t *config);

/* Positions below this are inside the current segment; the writer calls roll at this bound. */
uint64_t roda_journal_file_segment_end(const roda_journal_t *journal);

/* Records the slowest reader needs before roll may replace the oldest window of the ring: the
 * positions of that window are all below it. */
uint64_t roda_journal_file_roll_needs(const roda_journal_t *journal);

/* Deletes the segment files beyond the retention bound, then starts the next segment at
 * claim_position (== segment_end), reusing the ring window of the oldest one. The caller made
 * sure no reader needs that window. Errors: RODA_ERROR_IO (errno kept; the journal stays on the
 * full segment and the next claim tries again), RODA_ERROR_NOMEM. */
roda_result_t roda_journal_file_roll(roda_journal_t *journal);

roda_result_t roda_journal_file_sync(roda_journal_t *journal);
void roda_journal_file_destroy(roda_journal_t *journal);

#endif
