/* roda_mapped_file.c - making and mapping the gateway's registry files. */
#include "roda_mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE_SIZE_BYTES 4096u

void roda_mapped_file_touch(void *memory, size_t bytes)
{
    volatile uint8_t *p = memory;
    for (size_t offset = 0; offset < bytes; offset += PAGE_SIZE_BYTES) {
        uint8_t kept = p[offset];
        p[offset] = kept;
    }
}

void *roda_mapped_file_map(int fd, size_t bytes)
{
    void *mapping = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mapping == MAP_FAILED)
        return NULL;
    roda_mapped_file_touch(mapping, bytes);
    return mapping;
}

roda_result_t roda_mapped_file_create(const char *path, size_t bytes, const void *header,
                                      size_t header_size, void **mapping)
{
    char partial[PATH_MAX];
    if (snprintf(partial, sizeof partial, "%s.tmp", path) >= (int)sizeof partial) {
        errno = ENAMETOOLONG;
        return RODA_ERROR_IO;
    }
    int fd = open(partial, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return RODA_ERROR_IO;
    int error = posix_fallocate(fd, 0, (off_t)bytes);
    roda_result_t result = RODA_SUCCESS;
    if (error != 0) {
        errno = error;
        result = RODA_ERROR_IO;
    } else if (pwrite(fd, header, header_size, 0) != (ssize_t)header_size || fsync(fd) != 0 ||
               rename(partial, path) != 0) {
        result = RODA_ERROR_IO;
    }
    *mapping = result == RODA_SUCCESS ? roda_mapped_file_map(fd, bytes) : NULL;
    if (result == RODA_SUCCESS && *mapping == NULL)
        result = RODA_ERROR_NOMEM;
    int saved = errno;
    if (result != RODA_SUCCESS)
        (void)unlink(partial);
    close(fd);
    errno = saved;
    return result;
}
