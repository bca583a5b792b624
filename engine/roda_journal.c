/* roda_journal.c - creation of journals, readers joining and leaving, the writer's slow path
 * (looking at the readers, announcing how far it writes, rolling segments, waiting or refusing
 * when full) and the tail readers' checks. The hot path is inline in the header. */
#include "roda_journal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "roda_journal_file.h"

enum { RODA_READER_FREE = 0, RODA_READER_OPENING = 1, RODA_READER_ACTIVE = 2 };

static int is_power_of_two(uint64_t value)
{
    return value != 0 && (value & (value - 1)) == 0;
}

static roda_result_t validate(const roda_journal_config_t *config)
{
    if (config == NULL || !is_power_of_two(config->capacity) || config->capacity < 2 ||
        config->capacity > RODA_JOURNAL_MAX_CAPACITY)
        return RODA_ERROR_INVALID_ARG;
    if (config->record_size == 0 || config->record_size % 8 != 0 ||
        config->record_size > RODA_JOURNAL_MAX_RECORD_SIZE)
        return RODA_ERROR_INVALID_ARG;
    if (config->max_readers > RODA_JOURNAL_MAX_READERS)
        return RODA_ERROR_INVALID_ARG;
    if (config->policy != RODA_JOURNAL_BLOCK && config->policy != RODA_JOURNAL_REJECT)
        return RODA_ERROR_INVALID_ARG;
    if (config->capacity > SIZE_MAX / config->record_size)
        return RODA_ERROR_INVALID_ARG;
    return RODA_SUCCESS;
}

uint64_t roda_journal_memory(uint64_t capacity, uint32_t record_size)
{
    return capacity * record_size;
}

static roda_result_t map_anonymous(roda_journal_t *journal)
{
    size_t bytes = (size_t)roda_journal_memory(journal->capacity, journal->record_size);
    void *data = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (data == MAP_FAILED)
        return RODA_ERROR_NOMEM;
    /* Large journals: fewer TLB misses on the sequential sweep. Advice only; failure is fine. */
    (void)madvise(data, bytes, MADV_HUGEPAGE);
    journal->data = data;
    return RODA_SUCCESS;
}

roda_result_t roda_journal_create(const roda_journal_config_t *config, roda_journal_t **out)
{
    roda_journal_file_detail_clear();
    if (out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    roda_result_t result = validate(config);
    if (result != RODA_SUCCESS)
        return result;

    roda_journal_t *journal = aligned_alloc(RODA_PAD, sizeof(*journal));
    uint32_t max_readers = config->max_readers ? config->max_readers : 1;
    roda_journal_reader_slot_t *readers = aligned_alloc(RODA_PAD, sizeof(*readers) * max_readers);
    if (journal == NULL || readers == NULL) {
        free(journal);
        free(readers);
        return RODA_ERROR_NOMEM;
    }
    memset(journal, 0, sizeof(*journal));
    memset(readers, 0, sizeof(*readers) * max_readers);
    journal->capacity = config->capacity;
    journal->mask = config->capacity - 1;
    journal->record_size = config->record_size;
    journal->max_readers = max_readers;
    journal->policy = config->policy;
    journal->idle = roda_idle_or_default(config->idle);
    journal->on_full = config->on_full;
    journal->on_full_context = config->on_full_context;
    journal->readers = readers;

    result = config->directory != NULL ? roda_journal_file_create(journal, config)
                                       : map_anonymous(journal);
    if (result != RODA_SUCCESS) {
        free(readers);
        free(journal);
        return result;
    }
    /* claim_limit stays 0: the first claim takes the slow path and looks at the readers. */
    atomic_store_explicit(&journal->overwrite_limit, journal->claim_position, memory_order_relaxed);
    *out = journal;
    return RODA_SUCCESS;
}

void roda_journal_destroy(roda_journal_t *journal)
{
    if (journal == NULL)
        return;
    if (journal->file != NULL)
        roda_journal_file_destroy(journal);
    else
        munmap(journal->data, (size_t)roda_journal_memory(journal->capacity, journal->record_size));
    free(journal->readers);
    free(journal);
}

roda_result_t roda_journal_reader_open(roda_journal_t *journal, roda_journal_reader_t *reader)
{
    if (journal == NULL || reader == NULL)
        return RODA_ERROR_INVALID_ARG;
    for (uint32_t i = 0; i < journal->max_readers; i++) {
        roda_journal_reader_slot_t *slot = &journal->readers[i];
        uint32_t expected = RODA_READER_FREE;
        if (!atomic_compare_exchange_strong(&slot->state, &expected, RODA_READER_OPENING))
            continue;
        /* Publish a conservative position, become visible, then start at the write position
         * read after that: either the writer saw us (and gates on the conservative position) or
         * it cached a bound from a write position no newer than the one we start at. */
        uint64_t before = atomic_load_explicit(&journal->write_position, memory_order_acquire);
        atomic_store_explicit(&slot->position, before, memory_order_relaxed);
        atomic_store_explicit(&slot->state, RODA_READER_ACTIVE, memory_order_seq_cst);
        uint64_t start = atomic_load_explicit(&journal->write_position, memory_order_seq_cst);
        atomic_store_explicit(&slot->position, start, memory_order_release);
        reader->journal = journal;
        reader->slot = slot;
        reader->position = start;
        return RODA_SUCCESS;
    }
    return RODA_ERROR_TOO_MANY;
}

void roda_journal_reader_close(roda_journal_reader_t *reader)
{
    if (reader == NULL || reader->slot == NULL)
        return;
    atomic_store_explicit(&reader->slot->state, RODA_READER_FREE, memory_order_release);
    roda_wakeup_notify(&reader->journal->space_ready);
    reader->slot = NULL;
}

void roda_journal_close(roda_journal_t *journal)
{
    atomic_store_explicit(&journal->closed, 1, memory_order_release);
    roda_wakeup_notify(&journal->data_ready);
}

/* The lowest position any active reader still needs, or `upper` if none needs less. */
static uint64_t slowest_reader(const roda_journal_t *journal, uint64_t upper)
{
    atomic_thread_fence(memory_order_seq_cst); /* pairs with reader_open's seq_cst publication */
    uint64_t slowest = upper;
    for (uint32_t i = 0; i < journal->max_readers; i++) {
        const roda_journal_reader_slot_t *slot = &journal->readers[i];
        if (atomic_load_explicit(&slot->state, memory_order_acquire) != RODA_READER_ACTIVE)
            continue;
        uint64_t position = atomic_load_explicit(&slot->position, memory_order_acquire);
        if (position < slowest)
            slowest = position;
    }
    return slowest;
}

void roda_journal_stats(const roda_journal_t *journal, roda_journal_stats_t *stats)
{
    uint64_t end = atomic_load_explicit(&journal->write_position, memory_order_acquire);
    uint32_t active = 0;
    for (uint32_t i = 0; i < journal->max_readers; i++)
        active += atomic_load_explicit(&journal->readers[i].state, memory_order_relaxed) ==
                  RODA_READER_ACTIVE;
    uint64_t slowest = slowest_reader(journal, end);
    stats->capacity = journal->capacity;
    stats->write_position = end;
    stats->appended = end - journal->start_position;
    stats->rejected = atomic_load_explicit(&journal->rejected, memory_order_relaxed);
    stats->writer_waits = atomic_load_explicit(&journal->writer_waits, memory_order_relaxed);
    stats->slowest_lag = end > slowest ? end - slowest : 0;
    stats->readers = active;
}

/* Tells tail readers that slots of positions below `limit` - capacity may be overwritten from now
 * on. Monotonic. The fence keeps the announcement ahead of the writes it allows: a tail reader
 * that saw one of those writes, then fences and loads the limit, sees this value or a later one
 * (the seqlock pattern, with the writer's stores as the data). */
static void announce_limit(roda_journal_t *journal, uint64_t limit)
{
    if (limit <= atomic_load_explicit(&journal->overwrite_limit, memory_order_relaxed))
        return;
    atomic_store_explicit(&journal->overwrite_limit, limit, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
}

/* How far the writer may claim given the readers now, or claim_position if it may not. Never
 * more than a quarter of the ring ahead, so tail readers keep 3/4 of the ring intact. Rolls to
 * the next segment of a file-backed journal when the current one is full and no reader needs the
 * ring window the new segment takes over. */
static roda_result_t refresh_limit(roda_journal_t *journal, uint64_t *slowest_out)
{
    uint64_t position = journal->claim_position;
    uint64_t slowest = slowest_reader(journal, position);
    *slowest_out = slowest;
    uint64_t step = journal->capacity >= 4 ? journal->capacity / 4 : 1;
    uint64_t limit = roda_journal_min_u64(slowest + journal->capacity, position + step);
    if (journal->file != NULL) {
        if (position == roda_journal_file_segment_end(journal)) {
            uint64_t needs = roda_journal_file_roll_needs(journal);
            if (slowest < needs) {
                journal->claim_limit = position;
                return RODA_SUCCESS;
            }
            /* The roll replaces the whole window of the positions below `needs` at once. */
            announce_limit(journal, needs + journal->capacity);
            roda_result_t result = roda_journal_file_roll(journal);
            if (result != RODA_SUCCESS)
                return result;
        }
        limit = roda_journal_min_u64(limit, roda_journal_file_segment_end(journal));
    }
    announce_limit(journal, limit);
    journal->claim_limit = limit;
    return RODA_SUCCESS;
}

typedef struct space_wait {
    const roda_journal_t *journal;
    uint64_t slowest_seen;
} space_wait_t;

static int space_changed(const void *context)
{
    const space_wait_t *wait = context;
    return slowest_reader(wait->journal, wait->journal->claim_position) != wait->slowest_seen;
}

roda_result_t roda_journal_claim_slow(roda_journal_t *journal, uint64_t wanted)
{
    if (wanted == 0)
        return RODA_ERROR_INVALID_ARG;
    roda_idle_state_t idle = {0};
    int counted_wait = 0;
    for (;;) {
        space_wait_t wait = {.journal = journal};
        roda_result_t result = refresh_limit(journal, &wait.slowest_seen);
        if (result != RODA_SUCCESS)
            return result;
        if (journal->claim_position < journal->claim_limit)
            return RODA_SUCCESS;
        if (journal->policy == RODA_JOURNAL_REJECT) {
            atomic_fetch_add_explicit(&journal->rejected, wanted, memory_order_relaxed);
            return RODA_FULL;
        }
        if (!counted_wait) {
            atomic_fetch_add_explicit(&journal->writer_waits, 1, memory_order_relaxed);
            counted_wait = 1;
        }
        /* The handler may make room itself; if it did, the next look finds it without a wait. */
        if (journal->on_full != NULL) {
            journal->on_full(journal->on_full_context);
            if (space_changed(&wait))
                continue;
        }
        roda_idle_step(&journal->space_ready, &journal->idle, &idle, space_changed, &wait);
    }
}

typedef struct data_wait {
    const roda_journal_t *journal;
    uint64_t position;
} data_wait_t;

static int data_available(const void *context)
{
    const data_wait_t *wait = context;
    return atomic_load_explicit(&wait->journal->write_position, memory_order_acquire) !=
               wait->position ||
           atomic_load_explicit(&wait->journal->closed, memory_order_acquire);
}

static void wait_for_data(roda_journal_t *journal, uint64_t position,
                          const roda_idle_config_t *idle, roda_idle_state_t *state)
{
    data_wait_t wait = {.journal = journal, .position = position};
    roda_idle_step(&journal->data_ready, idle, state, data_available, &wait);
}

void roda_journal_reader_wait(roda_journal_reader_t *reader, const roda_idle_config_t *idle,
                              roda_idle_state_t *state)
{
    wait_for_data(reader->journal, reader->position, idle, state);
}

/* ---- Tail readers ------------------------------------------------------------------------ */

/* The lowest position that is intact given the announced overwrite limit. */
static uint64_t oldest_intact(const roda_journal_t *journal, uint64_t limit)
{
    uint64_t bound = limit > journal->capacity ? limit - journal->capacity : 0;
    return bound > journal->oldest_position ? bound : journal->oldest_position;
}

uint64_t roda_journal_tail_oldest(const roda_journal_t *journal)
{
    return oldest_intact(journal,
                         atomic_load_explicit(&journal->overwrite_limit, memory_order_acquire));
}

roda_result_t roda_journal_tail_open(roda_journal_t *journal, roda_journal_tail_t *tail)
{
    if (journal == NULL || tail == NULL)
        return RODA_ERROR_INVALID_ARG;
    tail->journal = journal;
    tail->position = atomic_load_explicit(&journal->write_position, memory_order_acquire);
    tail->missed = 0;
    return RODA_SUCCESS;
}

roda_result_t roda_journal_tail_open_at(roda_journal_t *journal, uint64_t position,
                                        roda_journal_tail_t *tail, uint64_t *missed)
{
    if (journal == NULL || tail == NULL ||
        position > atomic_load_explicit(&journal->write_position, memory_order_acquire))
        return RODA_ERROR_INVALID_ARG;
    tail->journal = journal;
    tail->position = position;
    tail->missed = 0;
    /* The check is the same as after a read: the first record is used only if still intact. */
    uint64_t skipped = roda_journal_tail_consume(tail, 0);
    if (missed != NULL)
        *missed = skipped;
    return RODA_SUCCESS;
}

/* Racy by design: the writer may be storing into these words. Word copies through volatile keep
 * the compiler from turning the loop into a memcpy call, which ThreadSanitizer would intercept. */
__attribute__((no_sanitize_thread)) static void
copy_words(uint64_t *destination, const volatile uint64_t *source, size_t words)
{
    for (size_t i = 0; i < words; i++)
        destination[i] = source[i];
}

void roda_journal_tail_copy(const roda_journal_tail_t *tail, const roda_journal_view_t *view,
                            void *destination)
{
    size_t words_per_record = tail->journal->record_size / sizeof(uint64_t);
    uint64_t *out = destination;
    for (int run = 0; run < 2; run++) {
        size_t words = (size_t)view->run_count[run] * words_per_record;
        copy_words(out, view->run[run], words);
        out += words;
    }
}

uint64_t roda_journal_tail_consume(roda_journal_tail_t *tail, uint64_t count)
{
    const roda_journal_t *journal = tail->journal;
    /* Pairs with announce_limit: every load of the records happened before this load. */
    atomic_thread_fence(memory_order_acquire);
    uint64_t oldest = oldest_intact(
        journal, atomic_load_explicit(&journal->overwrite_limit, memory_order_relaxed));
    if (tail->position >= oldest) {
        tail->position += count;
        return 0;
    }
    uint64_t missed = oldest - tail->position;
    tail->position = oldest;
    tail->missed += missed;
    return missed;
}

void roda_journal_tail_wait(roda_journal_tail_t *tail, const roda_idle_config_t *idle,
                            roda_idle_state_t *state)
{
    wait_for_data(tail->journal, tail->position, idle, state);
}

roda_result_t roda_journal_sync(roda_journal_t *journal)
{
    return journal->file != NULL ? roda_journal_file_sync(journal) : RODA_SUCCESS;
}
