/* roda_snapshot.c - snapshot files: sized temp file, sections by offset, header, atomic rename,
 * and the checks before a load (see roda_snapshot.h). */
#include "roda_snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "roda_idle.h"

#define SNAPSHOT_MAGIC 0x50414e5341444f52ull /* "RODASNAP" little-endian */
/* 2: the rules' window rows changed layout (hot blocks apart from the bodies); 3: the window
 * bodies gained the extreme queues. A snapshot of another version is refused by name
 * (roda_snapshot_open) and recovery falls back. */
#define SNAPSHOT_VERSION 3u
#define SNAPSHOT_TMP "snapshot.tmp"
#define SNAPSHOT_PREFIX "snapshot-"
#define SNAPSHOT_SUFFIX ".rds"
/* Bytes read at a time when the sections' hashes are checked. */
#define VERIFY_CHUNK (1u << 20)

typedef struct header_section {
    uint64_t offset;
    uint64_t length;
    uint64_t hash;
} header_section_t;

typedef struct header {
    uint64_t magic;
    uint32_t version;
    uint32_t section_count;
    roda_snapshot_info_t info;
    header_section_t sections[RODA_SNAPSHOT_SECTIONS];
    uint64_t checksum; /* XXH3-64 of everything above */
} header_t;

_Static_assert(sizeof(header_t) <= RODA_SNAPSHOT_HEADER, "the header fits its page");

static uint64_t header_checksum(const header_t *h)
{
    return XXH3_64bits(h, offsetof(header_t, checksum));
}

/* ---- io ---------------------------------------------------------------------------------------
 */

static void io_init(roda_snapshot_io_t *io, roda_snapshot_mode_t mode, int fd, uint64_t offset)
{
    io->mode = mode;
    io->fd = fd;
    io->offset = offset;
    io->length = 0;
    io->error = 0;
    XXH3_64bits_reset(&io->hash);
}

void roda_snapshot_measure(roda_snapshot_io_t *io)
{
    io_init(io, RODA_SNAPSHOT_MEASURE, -1, 0);
}

/* pwrite or pread of all `length` bytes at `offset`; errno on failure (EIO for a short read). */
static int transfer(roda_snapshot_mode_t mode, int fd, uint8_t *data, size_t length,
                    uint64_t offset)
{
    while (length > 0) {
        ssize_t n = mode == RODA_SNAPSHOT_WRITE ? pwrite(fd, data, length, (off_t)offset)
                                                : pread(fd, data, length, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        if (n == 0)
            return EIO;
        data += n;
        length -= (size_t)n;
        offset += (uint64_t)n;
    }
    return 0;
}

void roda_snapshot_io_blob(void *context, void *data, size_t length)
{
    roda_snapshot_io_t *io = context;
    if (io->error != 0)
        return;
    if (io->mode != RODA_SNAPSHOT_MEASURE) {
        io->error = transfer(io->mode, io->fd, data, length, io->offset + io->length);
        if (io->mode == RODA_SNAPSHOT_WRITE && io->error == 0)
            XXH3_64bits_update(&io->hash, data, length);
    }
    io->length += length;
}

/* ---- Writing ----------------------------------------------------------------------------------
 */

static int fsync_retry(int fd)
{
    while (fsync(fd) != 0) {
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

roda_result_t roda_snapshot_begin(roda_snapshot_writer_t *w, const char *directory,
                                  const uint64_t lengths[RODA_SNAPSHOT_SECTIONS])
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->dir_fd = -1;
    if (snprintf(w->directory, sizeof w->directory, "%s", directory) >= (int)sizeof w->directory) {
        errno = ENAMETOOLONG;
        return RODA_ERROR_IO;
    }
    w->dir_fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dir_fd < 0)
        return RODA_ERROR_IO;
    uint64_t offset = RODA_SNAPSHOT_HEADER;
    for (uint32_t i = 0; i < RODA_SNAPSHOT_SECTIONS; i++) {
        w->offsets[i] = offset;
        w->lengths[i] = lengths[i];
        offset += lengths[i];
    }
    w->fd = openat(w->dir_fd, SNAPSHOT_TMP, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0 || ftruncate(w->fd, (off_t)offset) != 0) {
        int error = errno;
        roda_snapshot_abort(w);
        errno = error;
        return RODA_ERROR_IO;
    }
    return RODA_SUCCESS;
}

void roda_snapshot_section_begin(roda_snapshot_writer_t *w, roda_snapshot_section_kind_t kind,
                                 roda_snapshot_io_t *io)
{
    io_init(io, RODA_SNAPSHOT_WRITE, w->fd, w->offsets[kind]);
}

void roda_snapshot_section_end(roda_snapshot_writer_t *w, roda_snapshot_section_kind_t kind,
                               const roda_snapshot_io_t *io)
{
    w->hashes[kind] = XXH3_64bits_digest(&io->hash);
    w->errors[kind] = io->error != 0 ? io->error : io->length != w->lengths[kind] ? EIO : 0;
}

void roda_snapshot_abort(roda_snapshot_writer_t *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        (void)unlinkat(w->dir_fd, SNAPSHOT_TMP, 0);
    }
    if (w->dir_fd >= 0)
        close(w->dir_fd);
    w->fd = -1;
    w->dir_fd = -1;
}

void roda_snapshot_path(const char *directory, uint64_t position, char *path, size_t size)
{
    snprintf(path, size, "%s/" SNAPSHOT_PREFIX "%020" PRIu64 SNAPSHOT_SUFFIX, directory, position);
}

/* Removes all but the newest RODA_SNAPSHOT_KEEP snapshots. */
static void prune(const char *directory)
{
    uint64_t positions[RODA_SNAPSHOT_KEEP + 64];
    uint32_t count = roda_snapshot_list(directory, positions, RODA_SNAPSHOT_KEEP + 64);
    for (uint32_t i = RODA_SNAPSHOT_KEEP; i < count; i++) {
        char path[RODA_SNAPSHOT_PATH_MAX + 64];
        roda_snapshot_path(directory, positions[i], path, sizeof path);
        (void)unlink(path);
    }
}

roda_result_t roda_snapshot_commit(roda_snapshot_writer_t *w, const roda_snapshot_info_t *info,
                                   char *path, size_t size)
{
    header_t h;
    memset(&h, 0, sizeof h);
    h.magic = SNAPSHOT_MAGIC;
    h.version = SNAPSHOT_VERSION;
    h.section_count = RODA_SNAPSHOT_SECTIONS;
    h.info = *info;
    int error = 0;
    for (uint32_t i = 0; i < RODA_SNAPSHOT_SECTIONS; i++) {
        h.sections[i] = (header_section_t){w->offsets[i], w->lengths[i], w->hashes[i]};
        if (error == 0)
            error = w->errors[i];
    }
    h.checksum = header_checksum(&h);
    uint8_t page[RODA_SNAPSHOT_HEADER] = {0};
    memcpy(page, &h, sizeof h);
    char name[RODA_SNAPSHOT_PATH_MAX + 64];
    roda_snapshot_path(w->directory, info->input_position, name, sizeof name);
    if (error == 0)
        error = transfer(RODA_SNAPSHOT_WRITE, w->fd, page, sizeof page, 0);
    if (error == 0 && fsync_retry(w->fd) != 0)
        error = errno;
    if (error == 0 && renameat(w->dir_fd, SNAPSHOT_TMP, AT_FDCWD, name) != 0)
        error = errno;
    if (error == 0 && fsync_retry(w->dir_fd) != 0)
        error = errno;
    if (error != 0) {
        roda_snapshot_abort(w);
        errno = error;
        return RODA_ERROR_IO;
    }
    close(w->fd);
    close(w->dir_fd);
    w->fd = -1;
    w->dir_fd = -1;
    prune(w->directory);
    if (path != NULL)
        snprintf(path, size, "%s", name);
    return RODA_SUCCESS;
}

/* ---- Reading ----------------------------------------------------------------------------------
 */

/* The input position in a snapshot file name, false for other names. */
static bool parse_name(const char *name, uint64_t *position)
{
    size_t prefix = strlen(SNAPSHOT_PREFIX), suffix = strlen(SNAPSHOT_SUFFIX);
    size_t length = strlen(name);
    if (length != prefix + 20 + suffix || strncmp(name, SNAPSHOT_PREFIX, prefix) != 0 ||
        strcmp(name + prefix + 20, SNAPSHOT_SUFFIX) != 0)
        return false;
    uint64_t value = 0;
    for (size_t i = prefix; i < prefix + 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        value = value * 10 + (uint64_t)(name[i] - '0');
    }
    *position = value;
    return true;
}

uint32_t roda_snapshot_list(const char *directory, uint64_t *positions, uint32_t max)
{
    DIR *dir = opendir(directory);
    if (dir == NULL)
        return 0;
    uint32_t count = 0;
    const struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        uint64_t position;
        if (!parse_name(entry->d_name, &position))
            continue;
        /* Insertion into the newest-first list, dropping the oldest past `max`. */
        uint32_t at = count < max ? count++ : max;
        while (at > 0 && positions[at - 1] < position) {
            if (at < max)
                positions[at] = positions[at - 1];
            at--;
        }
        if (at < max)
            positions[at] = position;
    }
    closedir(dir);
    return count;
}

/* Whether every section's bytes hash to the header's value. */
static int verify_sections(int fd, const header_t *h, char *why, size_t size)
{
    uint8_t *chunk = malloc(VERIFY_CHUNK);
    if (chunk == NULL)
        return ENOMEM;
    int error = 0;
    for (uint32_t i = 0; i < RODA_SNAPSHOT_SECTIONS && error == 0; i++) {
        XXH3_state_t state;
        XXH3_64bits_reset(&state);
        for (uint64_t done = 0; done < h->sections[i].length && error == 0;) {
            size_t n =
                (size_t)(h->sections[i].length - done < VERIFY_CHUNK ? h->sections[i].length - done
                                                                     : VERIFY_CHUNK);
            error = transfer(RODA_SNAPSHOT_READ, fd, chunk, n, h->sections[i].offset + done);
            if (error == 0)
                XXH3_64bits_update(&state, chunk, n);
            done += n;
        }
        if (error == 0 && XXH3_64bits_digest(&state) != h->sections[i].hash) {
            snprintf(why, size, "section %u: checksum mismatch", i);
            error = -1;
        }
    }
    free(chunk);
    return error;
}

roda_result_t roda_snapshot_open(const char *path, const uint64_t geometry[RODA_SNAPSHOT_GEOMETRY],
                                 roda_snapshot_reader_t *r, char *why, size_t size)
{
    memset(r, 0, sizeof *r);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        snprintf(why, size, "cannot open: %s", strerror(errno));
        return RODA_ERROR_IO;
    }
    header_t h;
    struct stat st;
    roda_result_t result = RODA_ERROR_CORRUPT;
    int error = transfer(RODA_SNAPSHOT_READ, r->fd, (uint8_t *)&h, sizeof h, 0);
    uint64_t end = RODA_SNAPSHOT_HEADER;
    if (error == 0 && fstat(r->fd, &st) != 0)
        error = errno;
    if (error != 0)
        snprintf(why, size, "truncated or unreadable header: %s", strerror(error));
    else if (h.magic != SNAPSHOT_MAGIC)
        snprintf(why, size, "not a snapshot (bad magic)");
    else if (h.version != SNAPSHOT_VERSION)
        snprintf(why, size, "format version %u, this gateway reads %u", h.version,
                 SNAPSHOT_VERSION);
    else if (h.checksum != header_checksum(&h) || h.section_count != RODA_SNAPSHOT_SECTIONS)
        snprintf(why, size, "header checksum mismatch");
    else {
        uint32_t differs = RODA_SNAPSHOT_GEOMETRY;
        for (uint32_t i = 0; i < RODA_SNAPSHOT_GEOMETRY && differs == RODA_SNAPSHOT_GEOMETRY; i++)
            differs = h.info.geometry[i] != geometry[i] ? i : differs;
        for (uint32_t i = 0; i < RODA_SNAPSHOT_SECTIONS; i++) {
            r->offsets[i] = h.sections[i].offset;
            r->lengths[i] = h.sections[i].length;
            end = h.sections[i].offset == end ? end + h.sections[i].length : UINT64_MAX;
        }
        if (differs != RODA_SNAPSHOT_GEOMETRY)
            snprintf(why, size,
                     "made for other limits (geometry word %u: %" PRIu64 ", now %" PRIu64 ")",
                     differs, h.info.geometry[differs], geometry[differs]);
        else if (end != (uint64_t)st.st_size)
            snprintf(why, size, "size %lld bytes, its header says %" PRIu64 " (truncated?)",
                     (long long)st.st_size, end);
        else if ((error = verify_sections(r->fd, &h, why, size)) == 0)
            result = RODA_SUCCESS;
        else if (error > 0)
            snprintf(why, size, "cannot read: %s", strerror(error));
    }
    if (result != RODA_SUCCESS) {
        roda_snapshot_close(r);
        return result;
    }
    r->info = h.info;
    return RODA_SUCCESS;
}

void roda_snapshot_section_read(const roda_snapshot_reader_t *r, roda_snapshot_section_kind_t kind,
                                roda_snapshot_io_t *io)
{
    io_init(io, RODA_SNAPSHOT_READ, r->fd, r->offsets[kind]);
}

bool roda_snapshot_section_complete(const roda_snapshot_reader_t *r,
                                    roda_snapshot_section_kind_t kind, const roda_snapshot_io_t *io)
{
    return io->error == 0 && io->length == r->lengths[kind];
}

void roda_snapshot_close(roda_snapshot_reader_t *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}
