/* roda_journal_file.c - segment files behind a journal: creation and restart, roll with retention,
 * sync, and the checked listing of a journal directory. Slow paths only: the append path enters
 * this file once per segment_records records (roll) and never otherwise. */
#include "roda_journal_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_DIGITS 20
#define NAME_SUFFIX ".rjs"
#define PARTIAL_SUFFIX ".rjs.tmp"
#define NAME_SIZE RODA_JOURNAL_SEGMENT_NAME_SIZE

enum { NAME_OTHER = 0, NAME_SEGMENT = 1, NAME_PARTIAL = 2, NAME_BAD = 3 };

struct roda_journal_file {
    int dir_fd;
    uint64_t segment_records;
    size_t segment_bytes;
    uint32_t retained_segments;
    uint32_t schema;                       /* stored in every segment header */
    uint64_t current_first;                /* first position of the segment being written */
    uint64_t oldest_on_disk;               /* first position of the oldest segment file kept */
    uint64_t synced_position;              /* records below were made durable by sync */
    roda_journal_segment_header_t *header; /* the current segment's, mapped read-write */
};

/* The last failure's detail in this thread (roda_journal_error_detail). */
static _Thread_local char error_detail[256];

const char *roda_journal_error_detail(void)
{
    return error_detail;
}

void roda_journal_file_detail(const char *format, ...)
{
    int saved = errno;
    va_list arguments;
    va_start(arguments, format);
    (void)vsnprintf(error_detail, sizeof(error_detail), format, arguments);
    va_end(arguments);
    errno = saved;
}

void roda_journal_file_detail_clear(void)
{
    error_detail[0] = '\0';
}

static int is_power_of_two(uint64_t value)
{
    return value != 0 && (value & (value - 1)) == 0;
}

static void segment_name(char name[NAME_SIZE], uint64_t first, int partial)
{
    snprintf(name, NAME_SIZE, "%020" PRIu64 "%s", first, partial ? PARTIAL_SUFFIX : NAME_SUFFIX);
}

void roda_journal_file_segment_name(char name[NAME_SIZE], uint64_t first)
{
    segment_name(name, first, 0);
}

/* Classifies a directory entry; for segment names sets *first from the 20 digits. */
static int parse_name(const char *name, uint64_t *first)
{
    uint64_t value = 0;
    for (int i = 0; i < NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return NAME_OTHER;
        unsigned digit = (unsigned)(name[i] - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return NAME_BAD;
        value = value * 10 + digit;
    }
    *first = value;
    if (strcmp(name + NAME_DIGITS, NAME_SUFFIX) == 0)
        return NAME_SEGMENT;
    if (strcmp(name + NAME_DIGITS, PARTIAL_SUFFIX) == 0)
        return NAME_PARTIAL;
    return NAME_OTHER;
}

/* FNV-1a over the constant fields of a header, each taken least significant byte first. */
uint64_t roda_journal_file_header_checksum(const roda_journal_segment_header_t *header)
{
    const uint64_t fields[5] = {header->magic,
                                ((uint64_t)header->version << 32) | header->record_size,
                                header->segment_records, header->first_position, header->schema};
    uint64_t hash = 0xcbf29ce484222325ull;
    for (size_t field = 0; field < 5; field++) {
        for (unsigned shift = 0; shift < 64; shift += 8) {
            hash ^= (fields[field] >> shift) & 0xffu;
            hash *= 0x100000001b3ull;
        }
    }
    return hash;
}

/* The geometry and layout of one segment file, the same in every file of a directory. */
typedef struct segment_layout {
    uint32_t record_size;
    uint32_t schema;
    uint64_t segment_records;
} segment_layout_t;

/* Reads and checks one segment file's header against its name and its size; sets the detail. */
static roda_result_t check_segment(int fd, const char *name, uint64_t named_first,
                                   roda_journal_segment_t *segment, segment_layout_t *layout)
{
    struct stat status;
    if (fstat(fd, &status) != 0) {
        roda_journal_file_detail("%s: cannot stat it (errno %d)", name, errno);
        return RODA_ERROR_IO;
    }
    roda_journal_segment_header_t header;
    ssize_t got = pread(fd, &header, sizeof(header), 0);
    if (got < 0) {
        roda_journal_file_detail("%s: offset 0: cannot read the header (errno %d)", name, errno);
        return RODA_ERROR_IO;
    }
    if ((size_t)got != sizeof(header)) {
        roda_journal_file_detail("%s: file size %lld, shorter than a header (truncated)", name,
                                 (long long)status.st_size);
        return RODA_ERROR_CORRUPT;
    }
    if (header.magic != RODA_JOURNAL_SEGMENT_MAGIC) {
        roda_journal_file_detail("%s: offset %zu: bad magic (not a Roda journal segment)", name,
                                 offsetof(roda_journal_segment_header_t, magic));
        return RODA_ERROR_CORRUPT;
    }
    if (header.version != RODA_JOURNAL_SEGMENT_VERSION) {
        roda_journal_file_detail("%s: offset %zu: format version %" PRIu32 ", this build reads %u",
                                 name, offsetof(roda_journal_segment_header_t, version),
                                 header.version, RODA_JOURNAL_SEGMENT_VERSION);
        return RODA_ERROR_CORRUPT;
    }
    if (header.checksum != roda_journal_file_header_checksum(&header)) {
        roda_journal_file_detail("%s: offset %zu: header checksum mismatch", name,
                                 offsetof(roda_journal_segment_header_t, checksum));
        return RODA_ERROR_CORRUPT;
    }
    uint64_t records = header.segment_records;
    if (header.record_size == 0 || header.record_size % 8 != 0 ||
        header.record_size > RODA_JOURNAL_MAX_RECORD_SIZE) {
        roda_journal_file_detail("%s: offset %zu: record size %" PRIu32
                                 " (not a multiple of 8 up to %u)",
                                 name, offsetof(roda_journal_segment_header_t, record_size),
                                 header.record_size, RODA_JOURNAL_MAX_RECORD_SIZE);
        return RODA_ERROR_CORRUPT;
    }
    if (!is_power_of_two(records) || records > RODA_JOURNAL_MAX_CAPACITY) {
        roda_journal_file_detail("%s: offset %zu: %" PRIu64
                                 " records per segment (not a power of two up to %llu)",
                                 name, offsetof(roda_journal_segment_header_t, segment_records),
                                 records, RODA_JOURNAL_MAX_CAPACITY);
        return RODA_ERROR_CORRUPT;
    }
    if (header.first_position != named_first) {
        roda_journal_file_detail(
            "%s: offset %zu: first position %" PRIu64 " does not match the file name", name,
            offsetof(roda_journal_segment_header_t, first_position), header.first_position);
        return RODA_ERROR_CORRUPT;
    }
    if (named_first % records != 0) {
        roda_journal_file_detail("%s: offset %zu: first position %" PRIu64
                                 " is not a multiple of the %" PRIu64 " records per segment",
                                 name, offsetof(roda_journal_segment_header_t, first_position),
                                 named_first, records);
        return RODA_ERROR_CORRUPT;
    }
    if ((uint64_t)status.st_size != RODA_JOURNAL_SEGMENT_HEADER + records * header.record_size) {
        roda_journal_file_detail(
            "%s: file size %lld, header says %u + %" PRIu64 " x %" PRIu32 " bytes (%s)", name,
            (long long)status.st_size, RODA_JOURNAL_SEGMENT_HEADER, records, header.record_size,
            (uint64_t)status.st_size < RODA_JOURNAL_SEGMENT_HEADER + records * header.record_size
                ? "truncated"
                : "too long");
        return RODA_ERROR_CORRUPT;
    }
    uint64_t committed = atomic_load_explicit(&header.committed_position, memory_order_relaxed);
    if (committed < named_first || committed - named_first > records) {
        roda_journal_file_detail("%s: offset %zu: committed position %" PRIu64
                                 " outside the segment %" PRIu64 " .. %" PRIu64,
                                 name, offsetof(roda_journal_segment_header_t, committed_position),
                                 committed, named_first, named_first + records);
        return RODA_ERROR_CORRUPT;
    }
    segment->first_position = named_first;
    segment->committed_position = committed;
    layout->record_size = header.record_size;
    layout->schema = header.schema;
    layout->segment_records = records;
    return RODA_SUCCESS;
}

/* Checks `segment` (named `name`) against the directory's layout and the segment before it. */
static roda_result_t check_sequence(const roda_journal_scan_t *scan, const char *name,
                                    const segment_layout_t *layout)
{
    const roda_journal_segment_t *segment = &scan->segments[scan->count - 1];
    const roda_journal_segment_t *previous = segment - 1;
    char previous_name[NAME_SIZE];
    segment_name(previous_name, previous->first_position, 0);
    if (layout->record_size != scan->record_size) {
        roda_journal_file_detail("%s: records of %" PRIu32
                                 " bytes, the other segments have %" PRIu32,
                                 name, layout->record_size, scan->record_size);
    } else if (layout->segment_records != scan->segment_records) {
        roda_journal_file_detail("%s: %" PRIu64
                                 " records per segment, the other segments have %" PRIu64,
                                 name, layout->segment_records, scan->segment_records);
    } else if (layout->schema != scan->schema) {
        roda_journal_file_detail("%s: schema %" PRIu32
                                 ", the directory's other segments have %" PRIu32,
                                 name, layout->schema, scan->schema);
    } else if (previous->committed_position != previous->first_position + scan->segment_records) {
        roda_journal_file_detail(
            "%s: offset %zu: committed position %" PRIu64 " ends the segment early, yet %s follows",
            previous_name, offsetof(roda_journal_segment_header_t, committed_position),
            previous->committed_position, name);
    } else if (segment->first_position != previous->committed_position) {
        roda_journal_file_detail(
            "hole: positions %" PRIu64 " to %" PRIu64 " missing between %s and %s",
            previous->committed_position, segment->first_position, previous_name, name);
    } else {
        return RODA_SUCCESS;
    }
    return RODA_ERROR_CORRUPT;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The first positions of the segment files, sorted; removes partial files when `writable`. */
static roda_result_t list_segments(int dir_fd, int writable, uint64_t **firsts_out,
                                   size_t *count_out)
{
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        roda_journal_file_detail("cannot list the directory (errno %d)", errno);
        return RODA_ERROR_IO;
    }
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        roda_journal_file_detail("cannot list the directory (errno %d)", errno);
        close(fd);
        return RODA_ERROR_IO;
    }
    uint64_t *firsts = NULL;
    size_t count = 0, allocated = 0;
    roda_result_t result = RODA_SUCCESS;
    struct dirent *entry;
    while (result == RODA_SUCCESS && (errno = 0, entry = readdir(dir)) != NULL) {
        uint64_t first;
        int kind = parse_name(entry->d_name, &first);
        if (kind == NAME_BAD) {
            roda_journal_file_detail("%s: the name is beyond the largest position", entry->d_name);
            result = RODA_ERROR_CORRUPT;
        } else if (kind == NAME_PARTIAL && writable) {
            if (unlinkat(dir_fd, entry->d_name, 0) != 0 && errno != ENOENT) {
                roda_journal_file_detail("%s: cannot remove it (errno %d)", entry->d_name, errno);
                result = RODA_ERROR_IO;
            }
        } else if (kind == NAME_SEGMENT) {
            if (count == allocated) {
                allocated = allocated ? allocated * 2 : 16;
                uint64_t *grown = realloc(firsts, allocated * sizeof(*firsts));
                if (grown == NULL) {
                    result = RODA_ERROR_NOMEM;
                    break;
                }
                firsts = grown;
            }
            firsts[count++] = first;
        }
    }
    if (result == RODA_SUCCESS && errno != 0) {
        roda_journal_file_detail("cannot list the directory (errno %d)", errno);
        result = RODA_ERROR_IO;
    }
    closedir(dir);
    if (result != RODA_SUCCESS) {
        free(firsts);
        return result;
    }
    if (count > 1)
        qsort(firsts, count, sizeof(*firsts), compare_u64);
    *firsts_out = firsts;
    *count_out = count;
    return RODA_SUCCESS;
}

void roda_journal_file_scan_free(roda_journal_scan_t *scan)
{
    for (size_t i = 0; i < scan->count; i++)
        close(scan->segments[i].fd);
    free(scan->segments);
    memset(scan, 0, sizeof(*scan));
}

roda_result_t roda_journal_file_scan(int dir_fd, int writable, roda_journal_scan_t *scan)
{
    roda_journal_file_detail_clear();
    memset(scan, 0, sizeof(*scan));
    uint64_t *firsts;
    size_t count;
    roda_result_t result = list_segments(dir_fd, writable, &firsts, &count);
    if (result != RODA_SUCCESS)
        return result;
    scan->segments = calloc(count ? count : 1, sizeof(*scan->segments));
    if (scan->segments == NULL) {
        free(firsts);
        return RODA_ERROR_NOMEM;
    }
    for (size_t i = 0; i < count && result == RODA_SUCCESS; i++) {
        char name[NAME_SIZE];
        segment_name(name, firsts[i], 0);
        int fd = openat(dir_fd, name, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0) {
            roda_journal_file_detail("%s: cannot open it (errno %d)", name, errno);
            result = RODA_ERROR_IO;
            break;
        }
        roda_journal_segment_t *segment = &scan->segments[scan->count++];
        segment->fd = fd;
        segment_layout_t layout;
        result = check_segment(fd, name, firsts[i], segment, &layout);
        if (result == RODA_SUCCESS && i == 0) {
            scan->record_size = layout.record_size;
            scan->schema = layout.schema;
            scan->segment_records = layout.segment_records;
        } else if (result == RODA_SUCCESS) {
            /* Same layout everywhere; each older segment full and followed by the next one. */
            result = check_sequence(scan, name, &layout);
        }
    }
    free(firsts);
    if (result != RODA_SUCCESS)
        roda_journal_file_scan_free(scan);
    return result;
}

/* ---- The writer's side --------------------------------------------------------------------- */

static roda_result_t make_directories(const char *directory)
{
    char path[PATH_MAX];
    size_t length = strlen(directory);
    if (length == 0 || length >= sizeof(path)) {
        errno = length == 0 ? ENOENT : ENAMETOOLONG;
        return RODA_ERROR_IO;
    }
    memcpy(path, directory, length + 1);
    for (size_t i = 1; i <= length; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            roda_journal_file_detail("%s: cannot create the directory: %s (errno %d)", path,
                                     strerror(errno), errno);
            return RODA_ERROR_IO;
        }
        path[i] = saved;
    }
    return RODA_SUCCESS;
}

static uint8_t *window_of(const roda_journal_t *journal, uint64_t first)
{
    return journal->data + (first & journal->mask) * journal->record_size;
}

/* Maps a segment's records onto their window of the ring, replacing what was there. */
static roda_result_t map_window(roda_journal_t *journal, int fd, uint64_t first, int prot)
{
    uint8_t *window = window_of(journal, first);
    size_t bytes = journal->file->segment_bytes;
    /* Read-only windows are populated here; the writer's window by open_current. */
    int populate = (prot & PROT_WRITE) ? 0 : MAP_POPULATE;
    if (mmap(window, bytes, prot, MAP_SHARED | MAP_FIXED | populate, fd,
             RODA_JOURNAL_SEGMENT_HEADER) != MAP_FAILED)
        return RODA_SUCCESS;
    int saved = errno;
    /* A failed MAP_FIXED may leave a hole; a tail reader may still look there: keep it readable. */
    (void)mmap(window, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    errno = saved;
    return RODA_ERROR_NOMEM;
}

/* Makes `fd` the segment being written, starting at `first`. */
static roda_result_t open_current(roda_journal_t *journal, int fd, uint64_t first)
{
    struct roda_journal_file *file = journal->file;
    void *header =
        mmap(NULL, RODA_JOURNAL_SEGMENT_HEADER, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (header == MAP_FAILED)
        return RODA_ERROR_NOMEM;
    roda_result_t result = map_window(journal, fd, first, PROT_READ | PROT_WRITE);
    if (result != RODA_SUCCESS) {
        munmap(header, RODA_JOURNAL_SEGMENT_HEADER);
        return result;
    }
    /* Prefault the pages writable here, not on the append path (MAP_POPULATE would map shared
     * file pages read-only, leaving a write fault per page). Kernels before 5.14 lack
     * MADV_POPULATE_WRITE: one write per page does the same, keeping what a reused segment
     * holds. */
    volatile uint8_t *window = window_of(journal, first);
    if (madvise((void *)window, file->segment_bytes, MADV_POPULATE_WRITE) != 0) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        for (size_t offset = 0; offset < file->segment_bytes; offset += page) {
            uint8_t kept = window[offset];
            window[offset] = kept;
        }
    }
    file->header = header;
    file->current_first = first;
    journal->committed_mirror = &file->header->committed_position;
    return RODA_SUCCESS;
}

/* Creates the segment file starting at `first` (complete before it gets its name, so a crash
 * leaves either no file or a valid one) and makes it the segment being written. */
static roda_result_t new_segment(roda_journal_t *journal, uint64_t first)
{
    struct roda_journal_file *file = journal->file;
    char partial[NAME_SIZE], name[NAME_SIZE];
    segment_name(partial, first, 1);
    segment_name(name, first, 0);
    int fd = openat(file->dir_fd, partial, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        roda_journal_file_detail("%s: cannot create it: %s (errno %d)", partial, strerror(errno),
                                 errno);
        return RODA_ERROR_IO;
    }
    roda_journal_segment_header_t header = {.magic = RODA_JOURNAL_SEGMENT_MAGIC,
                                            .version = RODA_JOURNAL_SEGMENT_VERSION,
                                            .record_size = journal->record_size,
                                            .segment_records = file->segment_records,
                                            .first_position = first,
                                            .schema = file->schema};
    header.checksum = roda_journal_file_header_checksum(&header);
    atomic_init(&header.committed_position, first);
    roda_result_t result = RODA_SUCCESS;
    /* Blocks reserved up front: a full disk is an error here, never a SIGBUS on append. */
    int error = posix_fallocate(fd, 0, (off_t)(RODA_JOURNAL_SEGMENT_HEADER + file->segment_bytes));
    if (error != 0) {
        errno = error;
        result = RODA_ERROR_IO;
    } else if (pwrite(fd, &header, sizeof(header), 0) != (ssize_t)sizeof(header) ||
               renameat(file->dir_fd, partial, file->dir_fd, name) != 0) {
        result = RODA_ERROR_IO;
    }
    if (result == RODA_SUCCESS)
        result = open_current(journal, fd, first);
    else
        (void)unlinkat(file->dir_fd, partial, 0);
    close(fd);
    return result;
}

/* Deletes the oldest segment files so that, with the segment starting at `next_first`, at most
 * retained_segments remain. Done before that segment is created, so that even a crash in between
 * leaves no more files than retained. */
static roda_result_t apply_retention(struct roda_journal_file *file, uint64_t next_first)
{
    while ((next_first - file->oldest_on_disk) / file->segment_records >= file->retained_segments) {
        char name[NAME_SIZE];
        segment_name(name, file->oldest_on_disk, 0);
        if (unlinkat(file->dir_fd, name, 0) != 0 && errno != ENOENT)
            return RODA_ERROR_IO;
        file->oldest_on_disk += file->segment_records;
    }
    return RODA_SUCCESS;
}

/* Continues a directory that holds segments: maps the last ones back into the ring and writes on
 * in the last segment if it has room, else in a new one. */
static roda_result_t restart(roda_journal_t *journal, const roda_journal_scan_t *scan)
{
    struct roda_journal_file *file = journal->file;
    const roda_journal_segment_t *last = &scan->segments[scan->count - 1];
    uint64_t records = file->segment_records;
    int reuse = last->committed_position < last->first_position + records;
    /* The ring holds the segment being written and up to windows - 1 before it. */
    size_t windows = (size_t)(journal->capacity / records);
    size_t mapped = reuse ? windows : windows - 1;
    size_t from = scan->count > mapped ? scan->count - mapped : 0;
    for (size_t i = from; i + 1 < scan->count; i++) {
        roda_result_t result =
            map_window(journal, scan->segments[i].fd, scan->segments[i].first_position, PROT_READ);
        if (result != RODA_SUCCESS)
            return result;
    }
    file->oldest_on_disk = scan->segments[0].first_position;
    file->synced_position = file->oldest_on_disk;
    roda_result_t result = reuse ? open_current(journal, last->fd, last->first_position)
                                 : map_window(journal, last->fd, last->first_position, PROT_READ);
    if (result == RODA_SUCCESS)
        result = apply_retention(file, reuse ? last->first_position : last->committed_position);
    if (result == RODA_SUCCESS && !reuse)
        result = new_segment(journal, last->committed_position);
    if (result != RODA_SUCCESS)
        return result;
    journal->oldest_position = scan->segments[from].first_position;
    journal->start_position = last->committed_position;
    return RODA_SUCCESS;
}

static roda_result_t validate_geometry(const roda_journal_config_t *config)
{
    uint64_t records = config->segment_records;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || RODA_JOURNAL_SEGMENT_HEADER % (uint64_t)page != 0)
        return RODA_ERROR_INVALID_ARG;
    if (!is_power_of_two(records) || records > config->capacity / 2 ||
        (records * config->record_size) % (uint64_t)page != 0 ||
        config->retained_segments < config->capacity / records)
        return RODA_ERROR_INVALID_ARG;
    return RODA_SUCCESS;
}

/* A directory that holds segments is continued only with the same record layout and geometry. */
static roda_result_t check_config(const roda_journal_scan_t *scan,
                                  const roda_journal_config_t *config)
{
    if (scan->schema != config->schema || scan->record_size != config->record_size) {
        roda_journal_file_detail(
            "directory holds records of schema %" PRIu32 " (%" PRIu32
            " bytes); this journal writes schema %" PRIu32 " (%" PRIu32 " bytes)",
            scan->schema, scan->record_size, config->schema, config->record_size);
        return RODA_ERROR_INVALID_ARG;
    }
    if (scan->segment_records != config->segment_records) {
        roda_journal_file_detail("directory holds segments of %" PRIu64
                                 " records; this journal writes %" PRIu64,
                                 scan->segment_records, config->segment_records);
        return RODA_ERROR_INVALID_ARG;
    }
    return RODA_SUCCESS;
}

static void release(roda_journal_t *journal)
{
    struct roda_journal_file *file = journal->file;
    if (journal->data != NULL)
        munmap(journal->data, (size_t)roda_journal_memory(journal->capacity, journal->record_size));
    if (file->header != NULL)
        munmap(file->header, RODA_JOURNAL_SEGMENT_HEADER);
    close(file->dir_fd);
    free(file);
    journal->data = NULL;
    journal->file = NULL;
    journal->committed_mirror = NULL;
}

roda_result_t roda_journal_file_create(roda_journal_t *journal, const roda_journal_config_t *config)
{
    roda_result_t result = validate_geometry(config);
    if (result != RODA_SUCCESS)
        return result;
    result = make_directories(config->directory);
    if (result != RODA_SUCCESS)
        return result;
    int dir_fd = open(config->directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        roda_journal_file_detail("%s: cannot open the directory: %s (errno %d)", config->directory,
                                 strerror(errno), errno);
        return RODA_ERROR_IO;
    }
    struct roda_journal_file *file = calloc(1, sizeof(*file));
    if (file == NULL) {
        close(dir_fd);
        return RODA_ERROR_NOMEM;
    }
    file->dir_fd = dir_fd;
    file->segment_records = config->segment_records;
    file->segment_bytes = (size_t)(config->segment_records * config->record_size);
    file->retained_segments = config->retained_segments;
    file->schema = config->schema;
    journal->file = file;

    roda_journal_scan_t scan;
    result = roda_journal_file_scan(dir_fd, 1, &scan);
    if (result != RODA_SUCCESS) {
        release(journal);
        return result;
    }
    if (scan.count > 0)
        result = check_config(&scan, config);
    /* One contiguous range for the ring; segment files are mapped over its windows. */
    if (result == RODA_SUCCESS) {
        void *ring =
            mmap(NULL, (size_t)roda_journal_memory(journal->capacity, journal->record_size),
                 PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (ring == MAP_FAILED)
            result = RODA_ERROR_NOMEM;
        else
            journal->data = ring;
    }
    if (result == RODA_SUCCESS)
        result = scan.count > 0 ? restart(journal, &scan) : new_segment(journal, 0);
    roda_journal_file_scan_free(&scan);
    if (result != RODA_SUCCESS) {
        release(journal);
        return result;
    }
    journal->claim_position = journal->start_position;
    atomic_store_explicit(&journal->write_position, journal->start_position, memory_order_relaxed);
    return RODA_SUCCESS;
}

uint64_t roda_journal_file_segment_end(const roda_journal_t *journal)
{
    return journal->file->current_first + journal->file->segment_records;
}

uint64_t roda_journal_file_roll_needs(const roda_journal_t *journal)
{
    /* The next segment takes the window of positions [end + records - capacity, ...). */
    uint64_t end_of_next = roda_journal_file_segment_end(journal) + journal->file->segment_records;
    return end_of_next > journal->capacity ? end_of_next - journal->capacity : 0;
}

roda_result_t roda_journal_file_roll(roda_journal_t *journal)
{
    struct roda_journal_file *file = journal->file;
    roda_journal_segment_header_t *previous = file->header;
    uint64_t first = roda_journal_file_segment_end(journal);
    roda_result_t result = apply_retention(file, first);
    if (result == RODA_SUCCESS)
        result = new_segment(journal, first);
    if (result != RODA_SUCCESS)
        return result;
    munmap(previous, RODA_JOURNAL_SEGMENT_HEADER);
    return RODA_SUCCESS;
}

roda_result_t roda_journal_file_sync(roda_journal_t *journal)
{
    struct roda_journal_file *file = journal->file;
    uint64_t committed = atomic_load_explicit(&journal->write_position, memory_order_relaxed);
    uint64_t first = file->synced_position - file->synced_position % file->segment_records;
    if (first < file->oldest_on_disk)
        first = file->oldest_on_disk;
    /* By name: segments that left the ring since the last sync need flushing too. */
    for (; first <= file->current_first; first += file->segment_records) {
        char name[NAME_SIZE];
        segment_name(name, first, 0);
        int fd = openat(file->dir_fd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            return RODA_ERROR_IO;
        }
        int failed = fdatasync(fd) != 0;
        close(fd);
        if (failed)
            return RODA_ERROR_IO;
    }
    if (fsync(file->dir_fd) != 0)
        return RODA_ERROR_IO;
    file->synced_position = committed;
    return RODA_SUCCESS;
}

void roda_journal_file_destroy(roda_journal_t *journal)
{
    release(journal);
}
