/* roda_devices.c - device name interning (open addressing, FNV-1a) and per-device sequence
 * tracking for loss and duplicate detection, in one mapping of anonymous memory or of a file. */
#include "roda_devices.h"

#include "roda_mapped_file.h"

#include "roda_counter.h"
#include "roda_keytable.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define WINDOW_WORDS (RODA_DEVICES_WINDOW / 64u)
_Static_assert(RODA_DEVICES_WINDOW % 64u == 0, "the window is whole 64-bit words");

#define FILE_MAGIC 0x56454441444f52ull /* "RODADEV" little-endian */
#define FILE_VERSION 1u

typedef struct device {
    char name[RODA_DEVICE_NAME_SIZE];
    uint64_t hash;
    /* Ingest thread only. */
    uint8_t has_baseline; /* 1: a sequenced batch was seen: boot_epoch, highest and window set */
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
_Static_assert(sizeof(device_t) == 264, "roda_devices.h documents 264 bytes per device");

/* The start of the mapping. The checksum covers the constant fields before it. */
typedef struct file_header {
    uint64_t magic;
    uint32_t version;
    uint32_t max_devices;
    uint64_t entry_size;
    uint64_t checksum;
    _Atomic uint32_t count;
} file_header_t;
_Static_assert(sizeof(file_header_t) <= RODA_DEVICES_HEADER, "the header fits its bytes");

struct roda_devices {
    file_header_t *header; /* the mapping */
    size_t mapped_bytes;
    device_t *entries;
    uint32_t *table; /* index + 1 per slot; 0 = empty */
    uint64_t table_mask;
    uint32_t max_devices;
    roda_devices_opened_t opened;
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

/* FNV-1a over the header's constant fields, each taken least significant byte first. */
static uint64_t header_checksum(const file_header_t *header)
{
    const uint64_t fields[3] = {
        header->magic, ((uint64_t)header->version << 32) | header->max_devices, header->entry_size};
    uint64_t hash = 0xcbf29ce484222325ull;
    for (size_t field = 0; field < 3; field++) {
        for (unsigned shift = 0; shift < 64; shift += 8) {
            hash ^= (fields[field] >> shift) & 0xffu;
            hash *= 0x100000001b3ull;
        }
    }
    return hash;
}

/* Bytes of the mapping (and of the file) for `max_devices`. */
static uint64_t mapping_bytes(uint32_t max_devices)
{
    return RODA_DEVICES_HEADER + (uint64_t)max_devices * sizeof(device_t) +
           roda_keytable_slots(max_devices) * sizeof(uint32_t);
}

uint64_t roda_devices_memory(uint32_t max_devices)
{
    return sizeof(roda_devices_t) + mapping_bytes(max_devices);
}

/* Points the handle's fields into a mapping of `bytes` for `max_devices`. */
static roda_devices_t *handle_for(void *mapping, size_t bytes, uint32_t max_devices)
{
    roda_devices_t *devices = calloc(1, sizeof(*devices));
    if (devices == NULL)
        return NULL;
    devices->header = mapping;
    devices->mapped_bytes = bytes;
    devices->entries = (device_t *)((uint8_t *)mapping + RODA_DEVICES_HEADER);
    devices->table = (uint32_t *)(devices->entries + max_devices);
    devices->table_mask = roda_keytable_slots(max_devices) - 1;
    devices->max_devices = max_devices;
    return devices;
}

/* Checks the header read from a file of `file_size` bytes; `max_devices` 0 takes the file's.
 * Returns NULL when it can be trusted, else why not. */
static const char *check_header(const file_header_t *header, uint64_t file_size,
                                uint32_t max_devices)
{
    if (file_size < RODA_DEVICES_HEADER)
        return "shorter than its header";
    if (header->magic != FILE_MAGIC)
        return "not a device registry (magic)";
    if (header->version != FILE_VERSION)
        return "another format version";
    if (header->checksum != header_checksum(header))
        return "header checksum mismatch";
    if (header->entry_size != sizeof(device_t))
        return "another entry size";
    if (header->max_devices == 0 || header->max_devices > RODA_DEVICES_MAX)
        return "max_devices out of range";
    if (max_devices != 0 && header->max_devices != max_devices)
        return "another max_devices";
    if (file_size != mapping_bytes(header->max_devices))
        return "wrong file size";
    if (atomic_load_explicit(&header->count, memory_order_relaxed) > header->max_devices)
        return "count beyond max_devices";
    return NULL;
}

/* The index slot holding `name` (found) or the empty slot where it goes. */
static uint64_t find_slot(const roda_devices_t *devices, const char *name, size_t length,
                          uint64_t hash, bool *found)
{
    uint64_t slot = hash & devices->table_mask;
    for (;; slot = (slot + 1) & devices->table_mask) {
        uint32_t stored = devices->table[slot];
        *found = stored != 0;
        if (stored == 0)
            return slot;
        const device_t *entry = &devices->entries[stored - 1];
        if (entry->hash == hash && strncmp(entry->name, name, length) == 0 &&
            entry->name[length] == '\0')
            return slot;
    }
}

/* Checks the names of the devices below the count; NULL when valid and distinct, else why not.
 * With `rebuild` also rewrites their hashes and the index, and zeroes the entries past them. */
static const char *check_names(roda_devices_t *devices, bool rebuild)
{
    uint32_t count = atomic_load_explicit(&devices->header->count, memory_order_acquire);
    if (rebuild)
        memset(devices->table, 0, (devices->table_mask + 1) * sizeof(uint32_t));
    for (uint32_t i = 0; i < count; i++) {
        device_t *entry = &devices->entries[i];
        size_t length = strnlen(entry->name, RODA_DEVICE_NAME_SIZE);
        if (!roda_devices_name_valid(entry->name, length))
            return "invalid device name";
        if (!rebuild)
            continue;
        entry->hash = hash_name(entry->name, length);
        bool found;
        uint64_t slot = find_slot(devices, entry->name, length, entry->hash, &found);
        if (found)
            return "duplicate device name";
        devices->table[slot] = i + 1;
    }
    if (rebuild)
        memset(&devices->entries[count], 0,
               (size_t)(devices->max_devices - count) * sizeof(device_t));
    return NULL;
}

/* Reuses the registry file open as `fd` if it can be trusted: *devices is set, or *why says why
 * not. RODA_SUCCESS either way, unless the system failed. */
static roda_result_t reuse_file(int fd, uint32_t max_devices, roda_devices_t **devices,
                                const char **why)
{
    *devices = NULL;
    struct stat status;
    file_header_t header;
    if (fstat(fd, &status) != 0)
        return RODA_ERROR_IO;
    memset(&header, 0, sizeof(header));
    if (pread(fd, &header, sizeof(header), 0) < 0)
        return RODA_ERROR_IO;
    *why = check_header(&header, (uint64_t)status.st_size, max_devices);
    if (*why != NULL)
        return RODA_SUCCESS;
    size_t bytes = (size_t)mapping_bytes(max_devices);
    void *mapping = roda_mapped_file_map(fd, bytes);
    if (mapping == NULL)
        return RODA_ERROR_NOMEM;
    roda_devices_t *reused = handle_for(mapping, bytes, max_devices);
    if (reused == NULL) {
        munmap(mapping, bytes);
        return RODA_ERROR_NOMEM;
    }
    *why = check_names(reused, true);
    if (*why != NULL) {
        roda_devices_destroy(reused);
        return RODA_SUCCESS;
    }
    reused->opened.restored = atomic_load_explicit(&reused->header->count, memory_order_relaxed);
    *devices = reused;
    return RODA_SUCCESS;
}

/* Makes an empty registry file at `path` (complete and synced as `path`.tmp, then renamed over
 * whatever was there) and maps it. */
static roda_result_t new_file(const char *path, uint32_t max_devices, roda_devices_t **devices)
{
    size_t bytes = (size_t)mapping_bytes(max_devices);
    file_header_t header;
    memset(&header, 0, sizeof(header));
    header.magic = FILE_MAGIC;
    header.version = FILE_VERSION;
    header.max_devices = max_devices;
    header.entry_size = sizeof(device_t);
    header.checksum = header_checksum(&header);
    void *mapping;
    roda_result_t result = roda_mapped_file_create(path, bytes, &header, sizeof(header), &mapping);
    if (result != RODA_SUCCESS)
        return result;
    *devices = handle_for(mapping, bytes, max_devices);
    if (*devices == NULL) {
        munmap(mapping, bytes);
        return RODA_ERROR_NOMEM;
    }
    return RODA_SUCCESS;
}

/* The registry at `path`: the existing file if it can be trusted, else a new one. */
static roda_result_t create_in_file(uint32_t max_devices, const char *path, roda_devices_t **out)
{
    const char *why = NULL;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT)
        return RODA_ERROR_IO;
    if (fd >= 0) {
        roda_result_t result = reuse_file(fd, max_devices, out, &why);
        int saved = errno;
        close(fd);
        errno = saved;
        if (result != RODA_SUCCESS || *out != NULL)
            return result;
    }
    roda_result_t result = new_file(path, max_devices, out);
    if (result == RODA_SUCCESS)
        (*out)->opened.discarded_why = why;
    return result;
}

roda_result_t roda_devices_create(uint32_t max_devices, const char *path, roda_devices_t **out)
{
    if (out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    if (max_devices == 0 || max_devices > RODA_DEVICES_MAX)
        return RODA_ERROR_INVALID_ARG;
    if (path != NULL)
        return create_in_file(max_devices, path, out);
    size_t bytes = (size_t)mapping_bytes(max_devices);
    void *mapping = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED)
        return RODA_ERROR_NOMEM;
    roda_mapped_file_touch(mapping, bytes);
    *out = handle_for(mapping, bytes, max_devices);
    if (*out == NULL) {
        munmap(mapping, bytes);
        return RODA_ERROR_NOMEM;
    }
    return RODA_SUCCESS;
}

roda_result_t roda_devices_open_readonly(const char *path, roda_devices_t **out)
{
    if (path == NULL || out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return RODA_ERROR_IO;
    struct stat status;
    file_header_t header;
    memset(&header, 0, sizeof(header));
    roda_result_t result = RODA_SUCCESS;
    if (fstat(fd, &status) != 0 || pread(fd, &header, sizeof(header), 0) < 0)
        result = RODA_ERROR_IO;
    else if (check_header(&header, (uint64_t)status.st_size, 0) != NULL)
        result = RODA_ERROR_CORRUPT;
    size_t bytes = (size_t)status.st_size;
    void *mapping = MAP_FAILED;
    if (result == RODA_SUCCESS) {
        mapping = mmap(NULL, bytes, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
        if (mapping == MAP_FAILED)
            result = RODA_ERROR_NOMEM;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    if (result != RODA_SUCCESS)
        return result;
    roda_devices_t *devices = handle_for(mapping, bytes, header.max_devices);
    if (devices == NULL) {
        munmap(mapping, bytes);
        return RODA_ERROR_NOMEM;
    }
    if (check_names(devices, false) != NULL) {
        roda_devices_destroy(devices);
        return RODA_ERROR_CORRUPT;
    }
    *out = devices;
    return RODA_SUCCESS;
}

void roda_devices_destroy(roda_devices_t *devices)
{
    if (devices == NULL)
        return;
    munmap(devices->header, devices->mapped_bytes);
    free(devices);
}

roda_devices_opened_t roda_devices_opened(const roda_devices_t *devices)
{
    return devices->opened;
}

int roda_devices_name_valid(const char *name, size_t length)
{
    if (name == NULL || length == 0 || length >= RODA_DEVICE_NAME_SIZE || name[0] == ' ' ||
        name[length - 1] == ' ')
        return 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
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
    bool found;
    uint64_t slot = find_slot(devices, name, length, hash, &found);
    if (found) {
        *index = devices->table[slot] - 1;
        return RODA_SUCCESS;
    }
    uint32_t count = atomic_load_explicit(&devices->header->count, memory_order_relaxed);
    if (count == devices->max_devices)
        return RODA_ERROR_TOO_MANY;
    device_t *entry = &devices->entries[count];
    memcpy(entry->name, name, length);
    entry->name[length] = '\0';
    entry->hash = hash;
    devices->table[slot] = count + 1;
    atomic_store_explicit(&devices->header->count, count + 1, memory_order_release);
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
    entry->has_baseline = 1;
    entry->boot_epoch = boot_epoch;
    entry->highest = sequence;
    memset(entry->seen, 0, sizeof entry->seen);
    mark_seen(entry, sequence);
}

/* A sequenced batch against the device's baseline within the same boot epoch. */
static roda_sequence_verdict_t judge_sequence(const device_t *entry, uint64_t sequence,
                                              uint64_t *lost)
{
    if (sequence > entry->highest) {
        uint64_t step = sequence - entry->highest;
        if (step > RODA_DEVICES_MAX_SEQUENCE_STEP)
            return RODA_SEQUENCE_RESET;
        *lost = step - 1;
        return step == 1 ? RODA_SEQUENCE_NEXT : RODA_SEQUENCE_GAP;
    }
    uint64_t behind = entry->highest - sequence;
    if (behind > RODA_DEVICES_MAX_SEQUENCE_STEP)
        return RODA_SEQUENCE_RESET;
    if (behind < RODA_DEVICES_WINDOW && was_seen(entry, sequence))
        return RODA_SEQUENCE_DUPLICATE;
    return RODA_SEQUENCE_LATE; /* beyond the window it cannot be told from a redelivery */
}

roda_sequence_verdict_t roda_devices_judge(const roda_devices_t *devices, uint32_t index,
                                           uint64_t boot_epoch, uint64_t sequence, uint64_t *lost)
{
    const device_t *entry = &devices->entries[index];
    *lost = 0;
    if (sequence == RODA_SEQUENCE_ABSENT)
        return RODA_SEQUENCE_NONE;
    if (!entry->has_baseline) {
        /* Sequences start at 1 after boot; a larger first one is what came before us. */
        *lost = sequence <= RODA_DEVICES_MAX_SEQUENCE_STEP ? sequence - 1 : 0;
        return RODA_SEQUENCE_FIRST;
    }
    if (boot_epoch == entry->boot_epoch)
        return judge_sequence(entry, sequence, lost);
    bool restart = boot_epoch > entry->boot_epoch &&
                   boot_epoch - entry->boot_epoch <= RODA_DEVICES_MAX_EPOCH_STEP;
    return restart ? RODA_SEQUENCE_NEXT : RODA_SEQUENCE_RESET;
}

/* Moves the device's position as `verdict` on (boot_epoch, sequence) says. */
static void move_position(device_t *entry, uint64_t boot_epoch, uint64_t sequence,
                          roda_sequence_verdict_t verdict)
{
    bool same_boot = entry->has_baseline && boot_epoch == entry->boot_epoch;
    switch (verdict) {
    case RODA_SEQUENCE_NEXT:
    case RODA_SEQUENCE_GAP:
        if (same_boot)
            advance(entry, sequence);
        else
            set_baseline(entry, boot_epoch, sequence); /* a restart */
        break;
    case RODA_SEQUENCE_LATE:
        if (entry->highest - sequence < RODA_DEVICES_WINDOW)
            mark_seen(entry, sequence);
        break;
    case RODA_SEQUENCE_FIRST:
    case RODA_SEQUENCE_RESET:
        set_baseline(entry, boot_epoch, sequence);
        break;
    case RODA_SEQUENCE_DUPLICATE:
    case RODA_SEQUENCE_NONE:
        break;
    }
}

void roda_devices_record(roda_devices_t *devices, uint32_t index, uint64_t boot_epoch,
                         uint64_t sequence, roda_sequence_verdict_t verdict, uint64_t lost)
{
    device_t *entry = &devices->entries[index];
    move_position(entry, boot_epoch, sequence, verdict);
    if (verdict == RODA_SEQUENCE_DUPLICATE) {
        roda_counter_add(&entry->duplicates, 1);
        return;
    }
    roda_counter_add(&entry->batches, 1);
    if (verdict == RODA_SEQUENCE_GAP)
        roda_counter_add(&entry->lost, lost);
    if (verdict == RODA_SEQUENCE_LATE)
        roda_counter_add(&entry->late, 1);
    if (verdict == RODA_SEQUENCE_RESET)
        roda_counter_add(&entry->sequence_resets, 1);
}

uint32_t roda_devices_count(const roda_devices_t *devices)
{
    return atomic_load_explicit(&devices->header->count, memory_order_acquire);
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
