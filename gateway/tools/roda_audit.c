/* roda_audit.c - roda-audit: reads the audit trail a gateway wrote with journal.directory set (the
 * input journal's segment files), while the gateway runs or after it stopped or crashed.
 *
 *   roda-audit DIRECTORY [--print]
 *
 * Prints the retained positions, the number of readings and of clock records (roda_reading.h);
 * with --print, one line per record.
 * Every segment file is checked first (roda_journal_open_readonly): a wrong, truncated or
 * corrupt file is an error, exit status 1. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "roda_input.h"
#include "roda_journal.h"
#include "roda_reading.h"

/* The name of a record's input (its index in the gateway's input table). */
static const char *input_name(uint8_t input)
{
    uint32_t count;
    const roda_input_class_t *const *inputs = roda_inputs(&count);
    return input < count ? inputs[input]->name : "unknown";
}

static void print_record(uint64_t position, const roda_reading_t *r)
{
    if (r->kind == RODA_RECORD_SILENCE) {
        printf("position=%" PRIu64 " silence device=%" PRIu32 " ingest_time_ns=%" PRIu64 "\n",
               position, r->device, r->ingest_time_ns);
        return;
    }
    if (r->kind != RODA_RECORD_READING) {
        printf("position=%" PRIu64 " %s=%" PRIu64 " ingest_time_ns=%" PRIu64 "\n", position,
               r->kind == RODA_RECORD_CHECKPOINT ? "checkpoint" : "clock", r->sensor_id,
               r->ingest_time_ns);
        return;
    }
    printf("position=%" PRIu64 " sensor=%" PRIu64 " value=%.17g device_time_us=%" PRId64
           " device=%" PRIu32 " quality=%u input=%s\n",
           position, r->sensor_id, r->value, r->device_time_us, r->device, (unsigned)r->quality,
           input_name(r->input));
}

int main(int argc, char **argv)
{
    int print = argc == 3 && strcmp(argv[2], "--print") == 0;
    if (argc < 2 || argc > 3 || (argc == 3 && !print) || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: roda-audit DIRECTORY [--print]\n");
        return 2;
    }
    roda_journal_replay_t *replay = NULL;
    roda_result_t result = roda_journal_open_readonly(argv[1], &replay);
    if (result != RODA_SUCCESS) {
        const char *detail = roda_journal_error_detail();
        fprintf(stderr, "roda-audit: %s: %s%s%s (is it a gateway's journal.directory?)\n", argv[1],
                roda_result_str(result), *detail ? ": " : "", detail);
        return 1;
    }
    if (roda_journal_replay_record_size(replay) != sizeof(roda_reading_t)) {
        fprintf(stderr, "roda-audit: %s: records of %u bytes, not gateway readings (%zu)\n",
                argv[1], roda_journal_replay_record_size(replay), sizeof(roda_reading_t));
        roda_journal_replay_close(replay);
        return 1;
    }
    uint64_t first = roda_journal_replay_first(replay), readings = 0, controls = 0, count;
    roda_journal_view_t view;
    while ((count = roda_journal_replay_next(replay, 4096, &view)) > 0) {
        const roda_reading_t *records = view.run[0];
        for (uint64_t i = 0; i < count; i++) {
            if (print)
                print_record(view.position + i, &records[i]);
            readings += records[i].kind == RODA_RECORD_READING;
        }
        controls += count;
    }
    controls -= readings;
    printf("first=%" PRIu64 " end=%" PRIu64 " readings=%" PRIu64 " clock_records=%" PRIu64 "\n",
           first, roda_journal_replay_end(replay), readings, controls);
    roda_journal_replay_close(replay);
    return 0;
}
