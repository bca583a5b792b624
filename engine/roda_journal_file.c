/* roda_journal_file.c - segment files behind a journal. (Being written: file backing is refused.)
 */
#include "roda_journal_file.h"

roda_result_t roda_journal_file_create(roda_journal_t *journal, const roda_journal_config_t *config)
{
    (void)journal;
    (void)config;
    return RODA_ERROR_INVALID_ARG;
}
uint64_t roda_journal_file_segment_end(const roda_journal_t *journal)
{
    (void)journal;
    return UINT64_MAX;
}
uint64_t roda_journal_file_roll_needs(const roda_journal_t *journal)
{
    (void)journal;
    return 0;
}
roda_result_t roda_journal_file_roll(roda_journal_t *journal)
{
    (void)journal;
    return RODA_ERROR_STATE;
}
roda_result_t roda_journal_file_sync(roda_journal_t *journal)
{
    (void)journal;
    return RODA_SUCCESS;
}
void roda_journal_file_destroy(roda_journal_t *journal)
{
    (void)journal;
}
