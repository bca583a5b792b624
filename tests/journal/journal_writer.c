/* journal_writer.c - a writer process for the crash tests of the file-backed journal.
 *
 *   journal_writer DIRECTORY RECORDS exit|hang|run
 *
 * Appends RECORDS test records (continuing after whatever the directory holds), prints
 * "committed END" (the write position) on stdout, then: exit exits 0; hang waits to be killed;
 * run keeps appending until killed (a SIGKILL in the middle of a commit). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal_record.h"
#include "roda_journal.h"

static int append_run(roda_journal_t *journal, uint64_t wanted)
{
    void *slots;
    uint64_t granted;
    roda_result_t result = roda_journal_claim(journal, wanted, &slots, &granted);
    if (result != RODA_SUCCESS) {
        fprintf(stderr, "journal_writer: claim: %s\n", roda_result_str(result));
        return -1;
    }
    uint64_t position = journal->claim_position;
    test_record_t *records = slots;
    for (uint64_t i = 0; i < granted; i++)
        records[i] = test_record_make(position + i);
    roda_journal_commit(journal, granted);
    return (int)granted;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[3], "exit") != 0 && strcmp(argv[3], "hang") != 0 &&
                      strcmp(argv[3], "run") != 0)) {
        fprintf(stderr, "usage: journal_writer DIRECTORY RECORDS exit|hang|run\n");
        return 2;
    }
    uint64_t records = strtoull(argv[2], NULL, 10);
    roda_journal_config_t config = {.capacity = TEST_CAPACITY,
                                    .record_size = sizeof(test_record_t),
                                    .directory = argv[1],
                                    .segment_records = TEST_SEGMENT_RECORDS,
                                    .retained_segments = TEST_RETAINED};
    roda_journal_t *journal;
    roda_result_t result = roda_journal_create(&config, &journal);
    if (result != RODA_SUCCESS) {
        fprintf(stderr, "journal_writer: create %s: %s\n", argv[1], roda_result_str(result));
        return 1;
    }
    for (uint64_t written = 0; written < records;) {
        int granted = append_run(journal, roda_journal_min_u64(records - written, 100));
        if (granted < 0)
            return 1;
        written += (uint64_t)granted;
    }
    printf("committed %" PRIu64 "\n", journal->claim_position);
    fflush(stdout);
    if (strcmp(argv[3], "hang") == 0)
        for (;;)
            pause();
    if (strcmp(argv[3], "run") == 0)
        for (;;)
            if (append_run(journal, 7) < 0)
                return 1;
    roda_journal_destroy(journal);
    return 0;
}
