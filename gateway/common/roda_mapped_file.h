/* roda_mapped_file.h - the registry files the gateway maps shared (the device registry, the
 * sensor names): made complete under a temporary name and renamed into place, blocks reserved up
 * front, every page touched at mapping so that use never takes a page fault.
 *
 * Threads: any; nothing is shared between calls. */
#ifndef RODA_MAPPED_FILE_H
#define RODA_MAPPED_FILE_H

#include <stddef.h>

#include "roda_result.h"

/* Writes every page of a writable mapping once, keeping its bytes. */
void roda_mapped_file_touch(void *memory, size_t bytes);

/* Maps `bytes` of the file open as `fd`, shared and writable, every page touched; NULL when mmap
 * fails (errno set). */
void *roda_mapped_file_map(int fd, size_t bytes);

/* Makes `path` a file of `bytes` bytes (reserved with posix_fallocate, so a full disk fails here
 * and never as a SIGBUS later) starting with `header` (`header_size` bytes) and zeroes after it:
 * written as `path`.tmp, fsynced, renamed over whatever `path` was; then maps it into *mapping.
 * RODA_ERROR_IO (errno set; the .tmp is removed) or RODA_ERROR_NOMEM (the mapping failed). */
roda_result_t roda_mapped_file_create(const char *path, size_t bytes, const void *header,
                                      size_t header_size, void **mapping);

#endif
