/* roda_journal_file.h - internal: the file backing of a journal (segment files mapped into the
 * journal's ring). Used by roda_journal.c only; the public API is in roda_journal.h. */
#ifndef RODA_JOURNAL_FILE_H
#define RODA_JOURNAL_FILE_H

#include "roda_journal.h"

/* Maps the ring from segment files in config->directory. Reserves the ring's address range, sets
 * journal->data, start_position, claim_position, write_position and committed_mirror. A directory
 * that already holds segments continues after their last committed position. */
roda_result_t roda_journal_file_create(roda_journal_t *journal,
                                       const roda_journal_config_t *config);

/* Positions below this are inside the current segment; the writer calls roll at this bound. */
uint64_t roda_journal_file_segment_end(const roda_journal_t *journal);

/* Records the slowest reader needs before roll may replace the oldest window of the ring. */
uint64_t roda_journal_file_roll_needs(const roda_journal_t *journal);

/* Starts the next segment at claim_position, reusing the ring window of the oldest one, and
 * deletes segment files beyond the retention bound. The caller made sure no reader needs it. */
roda_result_t roda_journal_file_roll(roda_journal_t *journal);

roda_result_t roda_journal_file_sync(roda_journal_t *journal);
void roda_journal_file_destroy(roda_journal_t *journal);

#endif
