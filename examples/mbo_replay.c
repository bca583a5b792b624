/* mbo_replay.c - the reference's market-by-order example: replay an MBO stream, rebuild every
 * instrument's order book, and signal order-flow imbalance, measured fully drained.
 *
 *   stage 1 (pinned): order books from MBO events; emits top-of-book changes (mbo_book.h)
 *   stage 2 (pinned): order-flow imbalance per instrument; emits a signal when it enters or
 *                     leaves a regime (hysteresis)
 *
 * The stream comes from a file written by --generate, or is generated in memory before the clock
 * starts (mbo_generate.h). The main thread copies it into claimed slots of the input journal (the
 * feed handler); a receiver thread takes the signals. The clock runs from the first send until
 * the receiver has taken the last signal. The same two pipes then run fused in one thread over
 * the same events: the signals and the final books (a checksum) must be the same, and no
 * allocation may happen between the first send and the drain (every allocation function the
 * example and the engine call is wrapped at link time and counted), and every event must apply
 * to the books (no unknown order, nothing refused), else the exit status is 1.
 *
 *   mbo_replay --generate FILE [--events N] [--instruments K] [--seed S]   (write a stream)
 *   mbo_replay [--file FILE | --events N --instruments K --seed S]        (replay one)
 *              [--ladder TICKS] [--orders N] [--capacity RECORDS] [--batch RECORDS]
 *              [--pin 0|1] [--fused 0|1]
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_engine.h"
#include "mbo_book.h"
#include "mbo_generate.h"

RODA_STAGE_BATCH(mbo_book_batch, mbo_book_step, mbo_book_t, mbo_event_t, mbo_top_t)
RODA_STAGE_BATCH(mbo_signals_batch, mbo_signals, mbo_signals_t, mbo_top_t, mbo_signal_t)

/* ---- Counting allocations (linked with -Wl,--wrap=malloc,... : examples/CMakeLists.txt) ---- */

static atomic_uint_fast64_t allocations;

static uint64_t allocations_now(void)
{
    return atomic_load_explicit(&allocations, memory_order_relaxed);
}
static void allocation_counted(void)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
}

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *old, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);
int __real_posix_memalign(void **out, size_t alignment, size_t size);
void *__real_mmap(void *address, size_t length, int prot, int flags, int fd, off_t offset);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *old, size_t size);
void *__wrap_aligned_alloc(size_t alignment, size_t size);
int __wrap_posix_memalign(void **out, size_t alignment, size_t size);
void *__wrap_mmap(void *address, size_t length, int prot, int flags, int fd, off_t offset);

void *__wrap_malloc(size_t size)
{
    allocation_counted();
    return __real_malloc(size);
}
void *__wrap_calloc(size_t count, size_t size)
{
    allocation_counted();
    return __real_calloc(count, size);
}
void *__wrap_realloc(void *old, size_t size)
{
    allocation_counted();
    return __real_realloc(old, size);
}
void *__wrap_aligned_alloc(size_t alignment, size_t size)
{
    allocation_counted();
    return __real_aligned_alloc(alignment, size);
}
int __wrap_posix_memalign(void **out, size_t alignment, size_t size)
{
    allocation_counted();
    return __real_posix_memalign(out, alignment, size);
}
void *__wrap_mmap(void *address, size_t length, int prot, int flags, int fd, off_t offset)
{
    allocation_counted();
    return __real_mmap(address, length, prot, flags, fd, offset);
}

/* ---- Options and input --------------------------------------------------------------------- */

typedef struct options {
    uint64_t events, instruments, seed, ladder, orders, capacity, batch, pin, fused;
} options_t;

static void fail(const char *what, roda_result_t result)
{
    fprintf(stderr, "mbo_replay: %s: %s\n", what, roda_result_str(result));
    exit(1);
}

static mbo_generator_t *generator_new(const options_t *o)
{
    mbo_generator_t *g = malloc(sizeof(*g));
    if (g == NULL)
        fail("generator", RODA_ERROR_NOMEM);
    roda_result_t result = mbo_generator_init(g, (uint32_t)o->instruments, o->seed);
    if (result != RODA_SUCCESS)
        fail("generator", result);
    return g;
}

static void generator_free(mbo_generator_t *g)
{
    mbo_generator_destroy(g);
    free(g);
}

/* Writes the stream to `path` in chunks. */
static int generate_file(const options_t *o, const char *path)
{
    static mbo_event_t chunk[65536];
    FILE *file = fopen(path, "wb");
    if (file == NULL) {
        perror(path);
        return 1;
    }
    mbo_generator_t *g = generator_new(o);
    int written = 1;
    for (uint64_t done = 0; done < o->events && written;) {
        uint64_t count = o->events - done < 65536 ? o->events - done : 65536;
        mbo_generate(g, chunk, count);
        written = fwrite(chunk, sizeof(*chunk), count, file) == count;
        done += count;
    }
    generator_free(g);
    if (fclose(file) != 0 || !written) {
        perror(path);
        return 1;
    }
    printf("mbo_replay: wrote %" PRIu64 " events for %" PRIu64 " instruments to %s\n", o->events,
           o->instruments, path);
    return 0;
}

/* Maps a stream file read-only; sets *count. The highest instrument id sets o->instruments. */
static const mbo_event_t *map_file(const char *path, options_t *o)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0 ||
        st.st_size % (off_t)sizeof(mbo_event_t) != 0) {
        fprintf(stderr, "mbo_replay: %s: not a stream of %zu-byte records\n", path,
                sizeof(mbo_event_t));
        exit(2);
    }
    void *data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (data == MAP_FAILED) {
        perror(path);
        exit(2);
    }
    const mbo_event_t *events = data;
    o->events = (uint64_t)st.st_size / sizeof(mbo_event_t);
    uint64_t highest = 0;
    for (uint64_t i = 0; i < o->events; i++)
        highest = events[i].instrument > highest ? events[i].instrument : highest;
    o->instruments = highest + 1;
    return events;
}

/* ---- The runs ------------------------------------------------------------------------------ */

typedef struct outcome {
    uint64_t signals, signal_sum; /* count and a checksum of every signal, in order */
    uint64_t tops, book_sum, unknown, refused;
    uint64_t allocations; /* between the first send and the drain */
    double seconds;       /* first send -> last signal received */
    double setup_seconds; /* pipe and engine set-up, before the first send */
} outcome_t;

static void tally_signal(outcome_t *out, const mbo_signal_t *s)
{
    out->signals++;
    out->signal_sum = mbo_fold(mbo_fold(out->signal_sum, s->instrument), (uint64_t)s->regime);
    out->signal_sum = mbo_fold(mbo_fold(out->signal_sum, s->ts), (uint64_t)s->permille);
}

static void init_pipes(const options_t *o, mbo_book_t *book, mbo_signals_t *signals)
{
    roda_result_t result =
        mbo_book_init(book, (uint32_t)o->instruments, (uint32_t)o->orders, o->ladder);
    if (result != RODA_SUCCESS)
        fail("book init", result);
    roda_pipe_config_t config = {.key_capacity = (uint32_t)o->instruments};
    if ((result = mbo_signals_init(signals, &config)) != RODA_SUCCESS)
        fail("signals init", result);
}

static void finish_pipes(mbo_book_t *book, mbo_signals_t *signals, outcome_t *out)
{
    out->tops = book->emitted;
    out->book_sum = mbo_book_checksum(book);
    out->unknown = book->unknown;
    out->refused = book->refused + signals->mbo_ofi.counters.refused;
    mbo_book_destroy(book);
    mbo_signals_destroy(signals);
}

static void take_signals(void *context, const void *records, uint64_t count, uint64_t now_ns)
{
    (void)now_ns;
    const mbo_signal_t *signals = records;
    for (uint64_t i = 0; i < count; i++)
        tally_signal(context, &signals[i]);
}

static void note_drained(void *context)
{
    ((outcome_t *)context)->allocations = allocations_now(); /* the end of the counted span */
}

static void run_pipelined(const options_t *o, const mbo_event_t *events, outcome_t *out)
{
    uint64_t setup = roda_now_ns();
    mbo_book_t book;
    mbo_signals_t signals;
    init_pipes(o, &book, &signals);
    *out = (outcome_t){0};
    bench_engine_t b = {
        .program = "mbo_replay", .take = take_signals, .drained = note_drained, .context = out};
    bench_stage_t stages[2] = {{"book", mbo_book_batch, &book, sizeof(mbo_top_t)},
                               {"signals", mbo_signals_batch, &signals, sizeof(mbo_signal_t)}};
    bench_engine_start(&b, sizeof(mbo_event_t), o->capacity, RODA_IDLE_DEFAULT, stages, 2,
                       o->pin != 0);
    uint64_t start_allocations = allocations_now();
    uint64_t start = roda_now_ns();
    for (uint64_t sent = 0; sent < o->events;) {
        void *slots;
        uint64_t wanted = o->events - sent < o->batch ? o->events - sent : o->batch;
        uint64_t granted = bench_engine_claim(&b, wanted, &slots);
        memcpy(slots, &events[sent], granted * sizeof(mbo_event_t));
        bench_engine_commit(&b, granted);
        sent += granted;
    }
    bench_engine_finish(&b);
    out->allocations -= start_allocations;
    out->seconds = (double)(b.end_ns - start) / 1e9;
    out->setup_seconds = (double)(start - setup) / 1e9;
    roda_engine_destroy(b.engine);
    finish_pipes(&book, &signals, out);
}

static void run_fused(const options_t *o, const mbo_event_t *events, outcome_t *out)
{
    mbo_book_t book;
    mbo_signals_t signals;
    init_pipes(o, &book, &signals);
    *out = (outcome_t){0};
    uint64_t start_allocations = allocations_now();
    uint64_t start = roda_now_ns();
    for (uint64_t i = 0; i < o->events; i++) {
        mbo_top_t top;
        mbo_signal_t signal;
        if (mbo_book_step(&book, &events[i], &top) && mbo_signals(&signals, &top, &signal))
            tally_signal(out, &signal);
    }
    out->seconds = (double)(roda_now_ns() - start) / 1e9;
    out->allocations = allocations_now() - start_allocations;
    finish_pipes(&book, &signals, out);
}

static void print_outcome(const char *name, const options_t *o, const outcome_t *r)
{
    printf("  %-34s %7.2f M events/s  %.3f s  tops %" PRIu64 "  signals %" PRIu64
           "  books %016" PRIx64 "  allocations %" PRIu64 "\n",
           name, (double)o->events / r->seconds / 1e6, r->seconds, r->tops, r->signals, r->book_sum,
           r->allocations);
}

int main(int argc, char **argv)
{
    options_t o = {.events = 10000000,
                   .instruments = 1000,
                   .seed = 42,
                   .ladder = 512,
                   .capacity = 65536,
                   .batch = 256,
                   .pin = 1,
                   .fused = 1};
    const char *generate = bench_option_str(argc, argv, "--generate", NULL);
    const char *file = bench_option_str(argc, argv, "--file", NULL);
    if (!bench_option_u64(argc, argv, "--events", &o.events) ||
        !bench_option_u64(argc, argv, "--instruments", &o.instruments) ||
        !bench_option_u64(argc, argv, "--seed", &o.seed) ||
        !bench_option_u64(argc, argv, "--ladder", &o.ladder) ||
        !bench_option_u64(argc, argv, "--orders", &o.orders) ||
        !bench_option_u64(argc, argv, "--capacity", &o.capacity) ||
        !bench_option_u64(argc, argv, "--batch", &o.batch) ||
        !bench_option_u64(argc, argv, "--pin", &o.pin) ||
        !bench_option_u64(argc, argv, "--fused", &o.fused))
        return 2;
    if (o.events == 0 || o.events > SIZE_MAX / sizeof(mbo_event_t) || o.batch == 0 ||
        o.instruments == 0 || o.instruments > UINT16_MAX + 1u) {
        fprintf(stderr, "mbo_replay: --events, --batch > 0; --instruments 1 .. 65536\n");
        return 2;
    }
    if (generate != NULL)
        return generate_file(&o, generate);

    const mbo_event_t *events;
    mbo_event_t *generated = NULL;
    if (file != NULL) {
        events = map_file(file, &o);
    } else {
        generated = malloc(o.events * sizeof(*generated));
        if (generated == NULL)
            fail("generating", RODA_ERROR_NOMEM);
        mbo_generator_t *g = generator_new(&o);
        mbo_generate(g, generated, o.events);
        generator_free(g);
        events = generated;
    }
    if (o.orders == 0) /* every instrument's generator at its limit of resting orders */
        o.orders = o.instruments * MBO_GEN_ORDERS;

    outcome_t pipelined, fused = {0};
    run_pipelined(&o, events, &pipelined);
    uint64_t rss_kib = bench_rss_kib();
    double rate = (double)o.events / pipelined.seconds;
    /* The reference's way: records its last stage processed (one per top-of-book change here)
     * over the time from before the set-up (warm-up included) to the drain. */
    double reference_rate = (double)pipelined.tops / (pipelined.setup_seconds + pipelined.seconds);
    printf("mbo_replay: %" PRIu64 " events, %" PRIu64 " instruments, %s, ladders of %" PRIu64
           " ticks, journals of %" PRIu64 " records, stages %s\n",
           o.events, o.instruments, file != NULL ? file : "generated in memory", o.ladder,
           o.capacity, o.pin ? "pinned" : "not pinned");
    print_outcome("pipelined (2 stages, fully drained)", &o, &pipelined);
    printf("  the reference's way (last stage's records, set-up included): %.2f M/s\n",
           reference_rate / 1e6);
    int status = 0;
    if (o.fused) {
        run_fused(&o, events, &fused);
        print_outcome("fused (1 thread, same pipes)", &o, &fused);
        if (fused.signals != pipelined.signals || fused.signal_sum != pipelined.signal_sum ||
            fused.book_sum != pipelined.book_sum || fused.tops != pipelined.tops) {
            fprintf(stderr, "mbo_replay: the fused and pipelined runs differ\n");
            status = 1;
        }
    }
    if (pipelined.allocations != 0 || fused.allocations != 0) {
        fprintf(stderr, "mbo_replay: allocations on the hot path\n");
        status = 1;
    }
    if (pipelined.unknown != 0 || pipelined.refused != 0) {
        fprintf(stderr, "mbo_replay: %" PRIu64 " events for unknown orders, %" PRIu64 " refused\n",
                pipelined.unknown, pipelined.refused);
        status = 1;
    }
    printf("RESULT name=mbo_replay events=%" PRIu64 " events_per_sec=%.0f signals=%" PRIu64
           " allocations=%" PRIu64 " tops=%" PRIu64 " reference_way_per_sec=%.0f"
           " fused_events_per_sec=%.0f unknown=%" PRIu64 " refused=%" PRIu64 " instruments=%" PRIu64
           " rss_kib=%" PRIu64 " books=%016" PRIx64 "\n",
           o.events, rate, pipelined.signals, pipelined.allocations + fused.allocations,
           pipelined.tops, reference_rate, o.fused ? (double)o.events / fused.seconds : 0.0,
           pipelined.unknown, pipelined.refused, o.instruments, rss_kib, pipelined.book_sum);
    if (file != NULL)
        munmap((void *)events, o.events * sizeof(mbo_event_t));
    free(generated);
    return status;
}
