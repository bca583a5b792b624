/* bench_common.h - what every example shares: option parsing, percentiles, RSS, a PRNG. */
#ifndef RODA_BENCH_COMMON_H
#define RODA_BENCH_COMMON_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads `--name N` from argv into *value; returns 0 on a malformed number. */
static inline int bench_option_u64(int argc, char **argv, const char *name, uint64_t *value)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) != 0)
            continue;
        char *end;
        unsigned long long parsed = strtoull(argv[i + 1], &end, 10);
        if (*end != '\0' || end == argv[i + 1]) {
            fprintf(stderr, "%s: not a number: %s\n", name, argv[i + 1]);
            return 0;
        }
        *value = parsed;
    }
    return 1;
}

static inline const char *bench_option_str(int argc, char **argv, const char *name,
                                           const char *fallback)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return fallback;
}

static int bench_compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts `samples` in place and returns the p-th percentile (0..100). */
static inline uint64_t bench_percentile(uint64_t *samples, uint64_t count, double p)
{
    if (count == 0)
        return 0;
    qsort(samples, count, sizeof(*samples), bench_compare_u64);
    uint64_t index = (uint64_t)(p / 100.0 * (double)(count - 1) + 0.5);
    return samples[index];
}

/* Resident set size of this process in KiB (VmRSS), 0 if unknown. */
static inline uint64_t bench_rss_kib(void)
{
    FILE *status = fopen("/proc/self/status", "r");
    if (status == NULL)
        return 0;
    char line[256];
    uint64_t kib = 0;
    while (fgets(line, sizeof(line), status) != NULL)
        if (sscanf(line, "VmRSS: %" SCNu64, &kib) == 1)
            break;
    fclose(status);
    return kib;
}

/* xorshift64*: fast, deterministic, good enough for workloads. */
static inline uint64_t bench_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif
