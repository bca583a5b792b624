/* roda_dir_lock.c - the journal directory's lock file, taken with flock(2) (roda_dir_lock.h). */
#include "roda_dir_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The pid written in the lock file by its holder; 0 when it holds none. */
static long read_holder(int fd)
{
    char text[24] = {0};
    ssize_t got = pread(fd, text, sizeof text - 1, 0);
    if (got <= 0)
        return 0;
    char *end;
    long pid = strtol(text, &end, 10);
    return end != text && pid > 0 ? pid : 0;
}

/* Writes this process's pid as the whole file. */
static roda_result_t write_holder(int fd)
{
    char text[24];
    int length = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)length, 0) != length)
        return RODA_ERROR_IO;
    return RODA_SUCCESS;
}

roda_result_t roda_dir_lock(const char *directory, int *fd, long *holder)
{
    *fd = -1;
    *holder = 0;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", directory, RODA_DIR_LOCK_FILE_NAME) >=
        (int)sizeof path) {
        errno = ENAMETOOLONG;
        return RODA_ERROR_IO;
    }
    if (mkdir(directory, 0755) != 0 && errno != EEXIST)
        return RODA_ERROR_IO;
    int lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock < 0)
        return RODA_ERROR_IO;
    if (flock(lock, LOCK_EX | LOCK_NB) != 0) {
        int error = errno;
        roda_result_t result = RODA_ERROR_IO;
        if (error == EWOULDBLOCK) {
            *holder = read_holder(lock);
            result = RODA_ERROR_STATE;
        }
        close(lock);
        errno = error;
        return result;
    }
    if (write_holder(lock) != RODA_SUCCESS) {
        int error = errno;
        close(lock);
        errno = error;
        return RODA_ERROR_IO;
    }
    *fd = lock;
    return RODA_SUCCESS;
}

void roda_dir_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}
