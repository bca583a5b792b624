/* roda_sensor_names.c - sensor names by id in one mapping of anonymous memory or of a file,
 * found by open addressing on the id (see roda_sensor_names.h). */
#include "roda_sensor_names.h"

#include "roda_mapped_file.h"

#include "roda_keytable.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define FILE_MAGIC 0x4d414e534f4452ull /* "RODSNAM" little-endian */
#define FILE_VERSION 1u
#define HEADER_BYTES 64u

typedef struct entry {
    uint64_t id;
    char name[RODA_DEVICE_NAME_SIZE];
} entry_t;
_Static_assert(sizeof(entry_t) == 72, "roda_sensor_names.h documents 72 bytes per name");

/* The start of the mapping. The checksum covers the constant fields before it. */
typedef struct file_header {
    uint64_t magic;
    uint32_t version;
    uint32_t max_names;
    uint64_t entry_size;
    uint64_t checksum;
    _Atomic uint32_t count;
} file_header_t;
_Static_assert(sizeof(file_header_t) <= HEADER_BYTES, "the header fits its bytes");

struct roda_sensor_names {
    file_header_t *header; /* the mapping */
    size_t mapped_bytes;
    entry_t *entries;
    _Atomic uint32_t *table; /* entry index + 1 per slot; 0 = empty */
    uint64_t table_mask;
    uint32_t max_names;
};

uint64_t roda_sensor_name_id(const char *device, size_t device_length, const char *name,
                             size_t name_length)
{
    char key[2 * RODA_DEVICE_NAME_SIZE];
    if (device_length >= RODA_DEVICE_NAME_SIZE || name_length >= RODA_DEVICE_NAME_SIZE) {
        XXH3_state_t state;
        (void)XXH3_64bits_reset(&state);
        (void)XXH3_64bits_update(&state, device, device_length);
        (void)XXH3_64bits_update(&state, "", 1);
        (void)XXH3_64bits_update(&state, name, name_length);
        return XXH3_64bits_digest(&state) | RODA_SENSOR_NAMED_BIT;
    }
    memcpy(key, device, device_length);
    key[device_length] = '\0';
    memcpy(key + device_length + 1, name, name_length);
    return XXH3_64bits(key, device_length + 1 + name_length) | RODA_SENSOR_NAMED_BIT;
}

static uint64_t header_checksum(const file_header_t *header)
{
    const uint64_t fields[3] = {
        header->magic, ((uint64_t)header->version << 32) | header->max_names, header->entry_size};
    return XXH3_64bits(fields, sizeof fields);
}

static uint64_t mapping_bytes(uint32_t max_names)
{
    return HEADER_BYTES + (uint64_t)max_names * sizeof(entry_t) +
           roda_keytable_slots(max_names) * sizeof(uint32_t);
}

uint64_t roda_sensor_names_memory(uint32_t max_names)
{
    return sizeof(roda_sensor_names_t) + mapping_bytes(max_names);
}

static roda_sensor_names_t *handle_for(void *mapping, size_t bytes, uint32_t max_names)
{
    roda_sensor_names_t *names = calloc(1, sizeof(*names));
    if (names == NULL)
        return NULL;
    names->header = mapping;
    names->mapped_bytes = bytes;
    names->entries = (entry_t *)((uint8_t *)mapping + HEADER_BYTES);
    names->table = (_Atomic uint32_t *)(names->entries + max_names);
    names->table_mask = roda_keytable_slots(max_names) - 1;
    names->max_names = max_names;
    return names;
}

/* The slot of the index holding `id`, or the empty slot where it goes (*found false). */
static uint64_t find_slot(const roda_sensor_names_t *names, uint64_t id, bool *found)
{
    /* The id is already a hash: its low bits spread evenly. */
    for (uint64_t slot = id & names->table_mask;; slot = (slot + 1) & names->table_mask) {
        uint32_t stored = atomic_load_explicit(&names->table[slot], memory_order_acquire);
        *found = stored != 0 && names->entries[stored - 1].id == id;
        if (stored == 0 || *found)
            return slot;
    }
}

/* Checks a reused file's header and names and rebuilds the index; NULL, or why not trusted. */
static const char *check_and_index(roda_sensor_names_t *names, uint64_t file_size)
{
    const file_header_t *header = names->header;
    if (file_size != mapping_bytes(names->max_names) || header->magic != FILE_MAGIC ||
        header->version != FILE_VERSION || header->checksum != header_checksum(header) ||
        header->entry_size != sizeof(entry_t) || header->max_names != names->max_names)
        return "another format, geometry or max_sensors";
    uint32_t count = atomic_load_explicit(&header->count, memory_order_relaxed);
    if (count > names->max_names)
        return "count beyond max_sensors";
    memset((void *)names->table, 0, (names->table_mask + 1) * sizeof(uint32_t));
    for (uint32_t i = 0; i < count; i++) {
        const entry_t *entry = &names->entries[i];
        if ((entry->id & RODA_SENSOR_NAMED_BIT) == 0 ||
            !roda_devices_name_valid(entry->name, strnlen(entry->name, RODA_DEVICE_NAME_SIZE)))
            return "invalid entry";
        bool found;
        uint64_t slot = find_slot(names, entry->id, &found);
        if (found)
            return "duplicate id";
        atomic_store_explicit(&names->table[slot], i + 1, memory_order_relaxed);
    }
    memset(&names->entries[count], 0, (size_t)(names->max_names - count) * sizeof(entry_t));
    return NULL;
}

/* Reuses the file open as `fd` when it can be trusted (*out set), else says why not. */
static roda_result_t reuse_file(int fd, uint32_t max_names, roda_sensor_names_t **out,
                                const char **why)
{
    struct stat status;
    if (fstat(fd, &status) != 0)
        return RODA_ERROR_IO;
    size_t bytes = (size_t)mapping_bytes(max_names);
    if ((uint64_t)status.st_size != bytes) {
        *why = "wrong file size";
        return RODA_SUCCESS;
    }
    void *mapping = roda_mapped_file_map(fd, bytes);
    if (mapping == NULL)
        return RODA_ERROR_NOMEM;
    roda_sensor_names_t *names = handle_for(mapping, bytes, max_names);
    if (names == NULL) {
        munmap(mapping, bytes);
        return RODA_ERROR_NOMEM;
    }
    *why = check_and_index(names, (uint64_t)status.st_size);
    if (*why != NULL)
        roda_sensor_names_destroy(names);
    else
        *out = names;
    return RODA_SUCCESS;
}

/* Makes an empty registry file at `path` (complete and synced as `path`.tmp, then renamed). */
static roda_result_t new_file(const char *path, uint32_t max_names, roda_sensor_names_t **out)
{
    size_t bytes = (size_t)mapping_bytes(max_names);
    file_header_t header;
    memset(&header, 0, sizeof(header));
    header.magic = FILE_MAGIC;
    header.version = FILE_VERSION;
    header.max_names = max_names;
    header.entry_size = sizeof(entry_t);
    header.checksum = header_checksum(&header);
    void *mapping;
    roda_result_t result = roda_mapped_file_create(path, bytes, &header, sizeof(header), &mapping);
    if (result != RODA_SUCCESS)
        return result;
    *out = handle_for(mapping, bytes, max_names);
    if (*out == NULL) {
        munmap(mapping, bytes);
        return RODA_ERROR_NOMEM;
    }
    return RODA_SUCCESS;
}

roda_result_t roda_sensor_names_create(uint32_t max_names, const char *path, uint32_t *restored,
                                       const char **discarded_why, roda_sensor_names_t **out)
{
    if (out == NULL || restored == NULL || discarded_why == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    *restored = 0;
    *discarded_why = NULL;
    if (max_names == 0 || max_names > RODA_DEVICES_MAX)
        return RODA_ERROR_INVALID_ARG;
    if (path == NULL) {
        size_t bytes = (size_t)mapping_bytes(max_names);
        void *mapping =
            mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mapping == MAP_FAILED)
            return RODA_ERROR_NOMEM;
        roda_mapped_file_touch(mapping, bytes);
        *out = handle_for(mapping, bytes, max_names);
        if (*out == NULL) {
            munmap(mapping, bytes);
            return RODA_ERROR_NOMEM;
        }
        return RODA_SUCCESS;
    }
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT)
        return RODA_ERROR_IO;
    if (fd >= 0) {
        roda_result_t result = reuse_file(fd, max_names, out, discarded_why);
        int saved = errno;
        close(fd);
        errno = saved;
        if (result != RODA_SUCCESS)
            return result;
        if (*out != NULL) {
            *restored = atomic_load_explicit(&(*out)->header->count, memory_order_relaxed);
            return RODA_SUCCESS;
        }
    }
    return new_file(path, max_names, out);
}

roda_result_t roda_sensor_names_open_readonly(const char *path, roda_sensor_names_t **out)
{
    if (path == NULL || out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return RODA_ERROR_IO;
    struct stat status;
    file_header_t header;
    memset(&header, 0, sizeof header);
    roda_result_t result = RODA_SUCCESS;
    if (fstat(fd, &status) != 0 || pread(fd, &header, sizeof header, 0) < 0)
        result = RODA_ERROR_IO;
    else if (header.max_names == 0 || header.max_names > RODA_DEVICES_MAX ||
             (uint64_t)status.st_size != mapping_bytes(header.max_names))
        result = RODA_ERROR_CORRUPT;
    size_t bytes = (size_t)status.st_size;
    /* Private and writable: the index is rebuilt in this process's copy of the pages only. */
    void *mapping = result == RODA_SUCCESS
                        ? mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
                        : MAP_FAILED;
    if (result == RODA_SUCCESS && mapping == MAP_FAILED)
        result = RODA_ERROR_NOMEM;
    int saved = errno;
    close(fd);
    errno = saved;
    if (result != RODA_SUCCESS)
        return result;
    roda_sensor_names_t *names = handle_for(mapping, bytes, header.max_names);
    if (names == NULL) {
        munmap(mapping, bytes);
        return RODA_ERROR_NOMEM;
    }
    if (check_and_index(names, (uint64_t)status.st_size) != NULL) {
        roda_sensor_names_destroy(names);
        return RODA_ERROR_CORRUPT;
    }
    *out = names;
    return RODA_SUCCESS;
}

void roda_sensor_names_destroy(roda_sensor_names_t *names)
{
    if (names == NULL)
        return;
    munmap(names->header, names->mapped_bytes);
    free(names);
}

roda_result_t roda_sensor_names_intern(roda_sensor_names_t *names, uint64_t id, const char *name)
{
    bool found;
    uint64_t slot = find_slot(names, id, &found);
    if (found)
        return RODA_SUCCESS;
    size_t length = strnlen(name, RODA_DEVICE_NAME_SIZE);
    if (!roda_devices_name_valid(name, length))
        return RODA_ERROR_INVALID_ARG;
    uint32_t count = atomic_load_explicit(&names->header->count, memory_order_relaxed);
    if (count == names->max_names)
        return RODA_ERROR_TOO_MANY;
    entry_t *entry = &names->entries[count];
    entry->id = id;
    memcpy(entry->name, name, length);
    entry->name[length] = '\0';
    atomic_store_explicit(&names->header->count, count + 1, memory_order_release);
    atomic_store_explicit(&names->table[slot], count + 1, memory_order_release);
    return RODA_SUCCESS;
}

const char *roda_sensor_names_find(const roda_sensor_names_t *names, uint64_t id)
{
    if (names == NULL || (id & RODA_SENSOR_NAMED_BIT) == 0)
        return NULL;
    bool found;
    uint64_t slot = find_slot(names, id, &found);
    if (!found)
        return NULL;
    return names->entries[atomic_load_explicit(&names->table[slot], memory_order_acquire) - 1].name;
}

uint32_t roda_sensor_names_count(const roda_sensor_names_t *names)
{
    return atomic_load_explicit(&names->header->count, memory_order_acquire);
}
