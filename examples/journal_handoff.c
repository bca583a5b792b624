/* journal_handoff.c - how close the journal comes to the memory limit.
 *
 * One writer thread appends 32-byte records in claimed runs; one reader thread consumes them in
 * batches and sums a field. The same sum over a plain array of the same records, read by one
 * thread, is the baseline measured in the same run. Prints both and their ratio.
 *
 *   journal_handoff [--events N] [--capacity RECORDS] [--batch RECORDS] */
#include <pthread.h>

#include "bench_common.h"
#include "roda_engine.h"

typedef struct record32 {
    uint64_t sequence;
    uint64_t value;
    uint64_t timestamp;
    uint64_t padding;
} record32_t;

typedef struct handoff {
    roda_journal_t *journal;
    roda_journal_reader_t reader;
    uint64_t events;
    uint64_t batch;
    uint64_t sum;
    uint64_t end_ns;
} handoff_t;

static void *reader_main(void *arg)
{
    handoff_t *h = arg;
    roda_idle_config_t idle = RODA_IDLE_DEFAULT;
    roda_idle_state_t state = {0};
    uint64_t sum = 0;
    for (;;) {
        roda_journal_view_t view;
        uint64_t count = roda_journal_peek(&h->reader, h->batch, &view);
        if (count == 0) {
            if (roda_journal_reader_status(&h->reader) == RODA_CLOSED)
                break;
            roda_journal_reader_wait(&h->reader, &idle, &state);
            continue;
        }
        roda_idle_reset(&state);
        for (int run = 0; run < 2; run++) {
            const record32_t *records = view.run[run];
            for (uint64_t i = 0; i < view.run_count[run]; i++)
                sum += records[i].value;
        }
        roda_journal_consume(&h->reader, count);
    }
    h->sum = sum;
    h->end_ns = roda_now_ns();
    return NULL;
}

static double journal_run(uint64_t events, uint64_t capacity, uint64_t batch, uint64_t *sum)
{
    roda_journal_config_t config = {.capacity = capacity,
                                    .record_size = sizeof(record32_t),
                                    .max_readers = 1,
                                    .policy = RODA_JOURNAL_BLOCK};
    handoff_t h = {.events = events, .batch = batch};
    if (roda_journal_create(&config, &h.journal) != RODA_SUCCESS ||
        roda_journal_reader_open(h.journal, &h.reader) != RODA_SUCCESS) {
        fprintf(stderr, "journal_handoff: cannot create the journal\n");
        exit(1);
    }
    pthread_t reader;
    uint64_t start = roda_now_ns();
    pthread_create(&reader, NULL, reader_main, &h);
    for (uint64_t written = 0; written < events;) {
        void *slots;
        uint64_t granted;
        uint64_t wanted = events - written < batch ? events - written : batch;
        if (roda_journal_claim(h.journal, wanted, &slots, &granted) != RODA_SUCCESS)
            exit(1);
        record32_t *out = slots;
        for (uint64_t i = 0; i < granted; i++)
            out[i] = (record32_t){.sequence = written + i, .value = written + i};
        roda_journal_commit(h.journal, granted);
        written += granted;
    }
    roda_journal_close(h.journal);
    pthread_join(reader, NULL);
    *sum = h.sum;
    roda_journal_reader_close(&h.reader);
    roda_journal_destroy(h.journal);
    return (double)(h.end_ns - start) / 1e9;
}

/* The baseline: one thread reads the same records from a plain array (written beforehand, so only
 * the read is timed), in chunks of the journal's capacity so both sweep the same footprint. */
static double plain_loop_run(uint64_t events, uint64_t capacity, uint64_t *sum)
{
    record32_t *array = aligned_alloc(64, capacity * sizeof(record32_t));
    for (uint64_t i = 0; i < capacity; i++)
        array[i] = (record32_t){.sequence = i, .value = i};
    uint64_t start = roda_now_ns(), total = 0;
    for (uint64_t done = 0; done < events; done += capacity) {
        uint64_t n = events - done < capacity ? events - done : capacity;
        for (uint64_t i = 0; i < n; i++)
            total += array[i].value + done;
        __asm__ __volatile__("" : : "r"(total) : "memory");
    }
    *sum = total;
    free(array);
    return (double)(roda_now_ns() - start) / 1e9;
}

int main(int argc, char **argv)
{
    uint64_t events = 200000000, capacity = 65536, batch = 256;
    if (!bench_option_u64(argc, argv, "--events", &events) ||
        !bench_option_u64(argc, argv, "--capacity", &capacity) ||
        !bench_option_u64(argc, argv, "--batch", &batch) || events == 0 || batch == 0)
        return 2;
    uint64_t journal_sum, plain_sum;
    double journal_s = journal_run(events, capacity, batch, &journal_sum);
    double plain_s = plain_loop_run(events, capacity, &plain_sum);
    if (journal_sum != plain_sum) {
        fprintf(stderr, "journal_handoff: checksum mismatch %" PRIu64 " != %" PRIu64 "\n",
                journal_sum, plain_sum);
        return 1;
    }
    double journal_rate = (double)events / journal_s, plain_rate = (double)events / plain_s;
    printf("journal handoff: %" PRIu64 " records of 32 B, capacity %" PRIu64 ", batch %" PRIu64
           "\n",
           events, capacity, batch);
    printf("  two threads through the journal: %8.1f M records/s\n", journal_rate / 1e6);
    printf("  one thread over a plain array:   %8.1f M records/s\n", plain_rate / 1e6);
    printf("  ratio: %.2f\n", journal_rate / plain_rate);
    printf("RESULT name=journal_handoff events=%" PRIu64 " events_per_sec=%.0f "
           "baseline_events_per_sec=%.0f ratio=%.3f capacity=%" PRIu64 " batch=%" PRIu64 "\n",
           events, journal_rate, plain_rate, journal_rate / plain_rate, capacity, batch);
    return 0;
}
