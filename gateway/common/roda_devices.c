/* roda_devices.c - device name interning (open addressing, FNV-1a) and per-device sequence
 * tracking for loss and duplicate detection. */
#include "roda_devices.h"

#include "roda_counter.h"
#include "roda_keytable.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_WORDS (RODA_DEVICES_WINDOW / 64u)
_Static_assert(RODA_DEVICES_WINDOW % 64u == 0, "the window is whole 64-bit words");

typedef struct device {
    char name[RODA_DEVICE_NAME_SIZE];
    uint64_t hash;
    /* Ingest thread only. */
    bool has_baseline; /* a sequenced batch was seen: boot_epoch, highest and window are set */
    uint64_t boot_epoch;
    uint64_t highest;
    /* Bit s % RODA_DEVICES_WINDOW: sequence s (highest - WINDOW < s <= highest) was seen. */
    uint64_t seen[WINDOW_WORDS];
    /* Written by the ingest thread, read by any. */
    _Atomic uint64_t batches;
    _Atomic uint64_t lost;
    _Atomic uint64_t late;
    _Atomic uint64_t duplicates;
    _Atomic uint64_t sequence_resets;
} device_t;

struct roda_devices {
    device_t *entries;
    uint32_t *table; /* index + 1 per slot; 0 = empty */
    uint64_t table_mask;
    uint32_t max_devices;
    _Atomic uint32_t count;
};

static uint64_t hash_name(const char *name, size_t length)
{
    uint64_t hash = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < length; i++) {
        hash ^= (unsigned char)name[i];
        hash *= 0x100000001b3ull;
    }
    return hash;
}

uint64_t roda_devices_memory(uint32_t max_devices)
{
    return sizeof(roda_devices_t) + (uint64_t)max_devices * sizeof(device_t) +
           roda_keytable_slots(max_devices) * sizeof(uint32_t);
}

roda_result_t roda_devices_create(uint32_t max_devices, roda_devices_t **out)
{
    if (out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    if (max_devices == 0 || max_devices > RODA_DEVICES_MAX)
        return RODA_ERROR_INVALID_ARG;
    uint64_t slots = roda_keytable_slots(max_devices);
    roda_devices_t *devices = calloc(1, sizeof(*devices));
    device_t *entries = calloc(max_devices, sizeof(*entries));
    uint32_t *table = calloc(slots, sizeof(*table));
    if (devices == NULL || entries == NULL || table == NULL) {
        free(devices);
        free(entries);
        free(table);
        return RODA_ERROR_NOMEM;
    }
    devices->entries = entries;
    devices->table = table;
    devices->table_mask = slots - 1;
    devices->max_devices = max_devices;
    *out = devices;
    return RODA_SUCCESS;
}

void roda_devices_destroy(roda_devices_t *devices)
{
    if (devices == NULL)
        return;
    free(devices->entries);
    free(devices->table);
    free(devices);
}

int roda_devices_name_valid(const char *name, size_t length)
{
    if (name == NULL || length == 0 || length >= RODA_DEVICE_NAME_SIZE)
        return 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

roda_result_t roda_devices_intern(roda_devices_t *devices, const char *name, size_t length,
                                  uint32_t *index)
{
    if (!roda_devices_name_valid(name, length))
        return RODA_ERROR_INVALID_ARG;
    uint64_t hash = hash_name(name, length);
    for (uint64_t slot = hash & devices->table_mask;; slot = (slot + 1) & devices->table_mask) {
        uint32_t stored = devices->table[slot];
        if (stored == 0)
            break;
        const device_t *entry = &devices->entries[stored - 1];
        if (entry->hash == hash && strncmp(entry->name, name, length) == 0 &&
            entry->name[length] == '\0') {
            *index = stored - 1;
            return RODA_SUCCESS;
        }
    }
    uint32_t count = atomic_load_explicit(&devices->count, memory_order_relaxed);
    if (count == devices->max_devices)
        return RODA_ERROR_TOO_MANY;
    device_t *entry = &devices->entries[count];
    memcpy(entry->name, name, length);
    entry->name[length] = '\0';
    entry->hash = hash;
    uint64_t slot = hash & devices->table_mask;
    while (devices->table[slot] != 0)
        slot = (slot + 1) & devices->table_mask;
    devices->table[slot] = count + 1;
    atomic_store_explicit(&devices->count, count + 1, memory_order_release);
    *index = count;
    return RODA_SUCCESS;
}

static void mark_seen(device_t *entry, uint64_t sequence)
{
    uint64_t bit = sequence % RODA_DEVICES_WINDOW;
    entry->seen[bit / 64] |= 1ull << (bit % 64);
}

static bool was_seen(const device_t *entry, uint64_t sequence)
{
    uint64_t bit = sequence % RODA_DEVICES_WINDOW;
    return (entry->seen[bit / 64] >> (bit % 64)) & 1u;
}

/* Moves the highest sequence up to `sequence`: the window forgets the sequences that fall out. */
static void advance(device_t *entry, uint64_t sequence)
{
    if (sequence - entry->highest >= RODA_DEVICES_WINDOW) {
        memset(entry->seen, 0, sizeof entry->seen);
    } else {
        for (uint64_t s = entry->highest + 1; s <= sequence; s++) {
            uint64_t bit = s % RODA_DEVICES_WINDOW;
            entry->seen[bit / 64] &= ~(1ull << (bit % 64));
        }
    }
    entry->highest = sequence;
    mark_seen(entry, sequence);
}

/* Makes (boot_epoch, sequence) the device's position, with nothing known before it. */
static void set_baseline(device_t *entry, uint64_t boot_epoch, uint64_t sequence)
{
    entry->has_baseline = true;
    entry->boot_epoch = boot_epoch;
    entry->highest = sequence;
    memset(entry->seen, 0, sizeof entry->seen);
    mark_seen(entry, sequence);
}

/* A sequenced batch against the device's baseline within the same boot epoch. */
static roda_sequence_verdict_t judge_sequence(device_t *entry, uint64_t sequence, uint64_t *lost)
{
    if (sequence > entry->highest) {
        uint64_t step = sequence - entry->highest;
        if (step > RODA_DEVICES_MAX_SEQUENCE_STEP) {
            set_baseline(entry, entry->boot_epoch, sequence);
            return RODA_SEQUENCE_RESET;
        }
        advance(entry, sequence);
        *lost = step - 1;
        return step == 1 ? RODA_SEQUENCE_NEXT : RODA_SEQUENCE_GAP;
    }
    uint64_t behind = entry->highest - sequence;
    if (behind > RODA_DEVICES_MAX_SEQUENCE_STEP) {
        set_baseline(entry, entry->boot_epoch, sequence);
        return RODA_SEQUENCE_RESET;
    }
    if (behind >= RODA_DEVICES_WINDOW)
        return RODA_SEQUENCE_LATE; /* cannot be told from a redelivery: accepted */
    if (was_seen(entry, sequence))
        return RODA_SEQUENCE_DUPLICATE;
    mark_seen(entry, sequence);
    return RODA_SEQUENCE_LATE;
}

/* The verdict on one batch; moves the device's baseline as the verdict says. */
static roda_sequence_verdict_t judge(device_t *entry, uint64_t boot_epoch, uint64_t sequence,
                                     uint64_t *lost)
{
    if (sequence == RODA_SEQUENCE_ABSENT)
        return RODA_SEQUENCE_NONE;
    if (!entry->has_baseline) {
        set_baseline(entry, boot_epoch, sequence);
        /* Sequences start at 1 after boot; a larger first one is what came before us. */
        *lost = sequence <= RODA_DEVICES_MAX_SEQUENCE_STEP ? sequence - 1 : 0;
        return RODA_SEQUENCE_FIRST;
    }
    if (boot_epoch == entry->boot_epoch)
        return judge_sequence(entry, sequence, lost);
    bool restart = boot_epoch > entry->boot_epoch &&
                   boot_epoch - entry->boot_epoch <= RODA_DEVICES_MAX_EPOCH_STEP;
    set_baseline(entry, boot_epoch, sequence);
    return restart ? RODA_SEQUENCE_NEXT : RODA_SEQUENCE_RESET;
}

roda_sequence_verdict_t roda_devices_track(roda_devices_t *devices, uint32_t index,
                                           uint64_t boot_epoch, uint64_t sequence, uint64_t *lost)
{
    device_t *entry = &devices->entries[index];
    *lost = 0;
    roda_sequence_verdict_t verdict = judge(entry, boot_epoch, sequence, lost);
    if (verdict == RODA_SEQUENCE_DUPLICATE) {
        roda_counter_add(&entry->duplicates, 1);
        return verdict;
    }
    roda_counter_add(&entry->batches, 1);
    if (verdict == RODA_SEQUENCE_GAP)
        roda_counter_add(&entry->lost, *lost);
    if (verdict == RODA_SEQUENCE_LATE)
        roda_counter_add(&entry->late, 1);
    if (verdict == RODA_SEQUENCE_RESET)
        roda_counter_add(&entry->sequence_resets, 1);
    return verdict;
}

uint32_t roda_devices_count(const roda_devices_t *devices)
{
    return atomic_load_explicit(&devices->count, memory_order_acquire);
}

const char *roda_devices_name(const roda_devices_t *devices, uint32_t index)
{
    if (index >= roda_devices_count(devices))
        return NULL;
    return devices->entries[index].name;
}

roda_result_t roda_devices_counters(const roda_devices_t *devices, uint32_t index,
                                    roda_device_counters_t *counters)
{
    if (counters == NULL || index >= roda_devices_count(devices))
        return RODA_ERROR_INVALID_ARG;
    const device_t *entry = &devices->entries[index];
    counters->batches = atomic_load_explicit(&entry->batches, memory_order_relaxed);
    counters->lost = atomic_load_explicit(&entry->lost, memory_order_relaxed);
    counters->late = atomic_load_explicit(&entry->late, memory_order_relaxed);
    counters->duplicates = atomic_load_explicit(&entry->duplicates, memory_order_relaxed);
    counters->sequence_resets = atomic_load_explicit(&entry->sequence_resets, memory_order_relaxed);
    return RODA_SUCCESS;
}
