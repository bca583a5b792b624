/* roda_journal_replay.c - reading a journal directory again: every segment file checked, then
 * mapped read-only and walked in position order (audit trail, recovery, tests of crash
 * semantics). Never writes to the directory, so it may run beside a live writer. */
#include "roda_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "roda_journal_file.h"

typedef struct replay_segment {
    const uint8_t *map; /* the whole file, read-only */
    size_t bytes;
    uint64_t first_position;
    uint64_t end_position; /* one past its last committed record */
} replay_segment_t;

struct roda_journal_replay {
    replay_segment_t *segments;
    size_t count;
    size_t current; /* segment holding `position` (or count at the end) */
    uint64_t position;
    uint32_t record_size;
    uint32_t schema;
};

void roda_journal_replay_close(roda_journal_replay_t *replay)
{
    if (replay == NULL)
        return;
    for (size_t i = 0; i < replay->count; i++)
        munmap((void *)replay->segments[i].map, replay->segments[i].bytes);
    free(replay->segments);
    free(replay);
}

/* Maps every checked segment; the last one's committed position is read from the mapping, so a
 * live writer's latest commit counts, and checked again. */
static roda_result_t map_segments(roda_journal_replay_t *replay, const roda_journal_scan_t *scan)
{
    size_t bytes =
        RODA_JOURNAL_SEGMENT_HEADER + (size_t)(scan->segment_records * scan->record_size);
    for (size_t i = 0; i < scan->count; i++) {
        const roda_journal_segment_t *segment = &scan->segments[i];
        void *map = mmap(NULL, bytes, PROT_READ, MAP_SHARED, segment->fd, 0);
        if (map == MAP_FAILED) {
            char name[RODA_JOURNAL_SEGMENT_NAME_SIZE];
            roda_journal_file_segment_name(name, segment->first_position);
            roda_journal_file_detail("%s: cannot map it (errno %d)", name, errno);
            return RODA_ERROR_NOMEM;
        }
        replay_segment_t *out = &replay->segments[replay->count++];
        out->map = map;
        out->bytes = bytes;
        out->first_position = segment->first_position;
        out->end_position = segment->committed_position;
    }
    replay_segment_t *last = &replay->segments[replay->count - 1];
    const roda_journal_segment_header_t *header = (const void *)last->map;
    uint64_t committed =
        atomic_load_explicit((_Atomic uint64_t *)&header->committed_position, memory_order_acquire);
    if (committed < last->end_position ||
        committed - last->first_position > scan->segment_records) {
        char name[RODA_JOURNAL_SEGMENT_NAME_SIZE];
        roda_journal_file_segment_name(name, last->first_position);
        roda_journal_file_detail("%s: offset %zu: committed position %" PRIu64
                                 " moved back or out of the segment while opening",
                                 name, offsetof(roda_journal_segment_header_t, committed_position),
                                 committed);
        return RODA_ERROR_CORRUPT;
    }
    last->end_position = committed;
    return RODA_SUCCESS;
}

roda_result_t roda_journal_open_readonly(const char *directory, roda_journal_replay_t **out)
{
    roda_journal_file_detail_clear();
    if (directory == NULL || out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    int dir_fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        roda_journal_file_detail("cannot open the directory (errno %d)", errno);
        return RODA_ERROR_IO;
    }
    roda_journal_scan_t scan;
    roda_result_t result = roda_journal_file_scan(dir_fd, 0, &scan);
    close(dir_fd);
    if (result != RODA_SUCCESS)
        return result;
    if (scan.count == 0) {
        roda_journal_file_scan_free(&scan);
        roda_journal_file_detail("no segment file (*.rjs) in the directory");
        errno = ENOENT;
        return RODA_ERROR_IO;
    }
    roda_journal_replay_t *replay = calloc(1, sizeof(*replay));
    if (replay != NULL)
        replay->segments = calloc(scan.count, sizeof(*replay->segments));
    if (replay == NULL || replay->segments == NULL) {
        free(replay);
        roda_journal_file_scan_free(&scan);
        return RODA_ERROR_NOMEM;
    }
    replay->record_size = scan.record_size;
    replay->schema = scan.schema;
    result = map_segments(replay, &scan);
    roda_journal_file_scan_free(&scan);
    if (result != RODA_SUCCESS) {
        roda_journal_replay_close(replay);
        return result;
    }
    replay->position = replay->segments[0].first_position;
    *out = replay;
    return RODA_SUCCESS;
}

uint64_t roda_journal_replay_first(const roda_journal_replay_t *replay)
{
    return replay->segments[0].first_position;
}

uint64_t roda_journal_replay_end(const roda_journal_replay_t *replay)
{
    return replay->segments[replay->count - 1].end_position;
}

uint32_t roda_journal_replay_record_size(const roda_journal_replay_t *replay)
{
    return replay->record_size;
}

uint32_t roda_journal_replay_schema(const roda_journal_replay_t *replay)
{
    return replay->schema;
}

uint64_t roda_journal_replay_position(const roda_journal_replay_t *replay)
{
    return replay->position;
}

roda_result_t roda_journal_replay_seek(roda_journal_replay_t *replay, uint64_t position)
{
    if (replay == NULL || position < roda_journal_replay_first(replay) ||
        position > roda_journal_replay_end(replay))
        return RODA_ERROR_INVALID_ARG;
    replay->current = 0;
    while (replay->current < replay->count &&
           position >= replay->segments[replay->current].end_position)
        replay->current++;
    replay->position = position;
    return RODA_SUCCESS;
}

uint64_t roda_journal_replay_next(roda_journal_replay_t *replay, uint64_t max,
                                  roda_journal_view_t *view)
{
    while (replay->current < replay->count &&
           replay->position >= replay->segments[replay->current].end_position)
        replay->current++;
    uint64_t count = 0;
    const uint8_t *records = NULL;
    if (replay->current < replay->count) {
        const replay_segment_t *segment = &replay->segments[replay->current];
        count = roda_journal_min_u64(max, segment->end_position - replay->position);
        records = segment->map + RODA_JOURNAL_SEGMENT_HEADER +
                  (replay->position - segment->first_position) * replay->record_size;
    }
    view->run[0] = records;
    view->run_count[0] = count;
    view->run[1] = NULL;
    view->run_count[1] = 0;
    view->position = replay->position;
    view->count = count;
    replay->position += count;
    return count;
}
