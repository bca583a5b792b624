/* roda_dir_lock.h - one gateway per journal directory: an exclusive flock(2) on a lock file in
 * it, held for the life of the process (the kernel drops it when the process dies, SIGKILL too).
 *
 * flock fences processes of one host, and of hosts sharing the directory over a file system
 * whose locks all its clients see (NFSv4, CephFS); it does not fence two hosts configured for the
 * same partitions on different directories (DESIGN.md, "Fencing").
 *
 * Threads: any; nothing is shared between calls. */
#ifndef RODA_DIR_LOCK_H
#define RODA_DIR_LOCK_H

#include "roda_result.h"

/* The lock file in a journal directory (the journal's scan ignores other names). */
#define RODA_DIR_LOCK_FILE_NAME "gateway.lock"

/* Makes `directory` if missing and takes its lock file (made if missing) without waiting,
 * writing this process's pid in it; *fd is the descriptor that holds the lock. RODA_ERROR_STATE
 * when another process holds it (*holder: its pid as the file says, 0 when unknown);
 * RODA_ERROR_IO (errno kept) when the directory or the file cannot be made or opened. */
roda_result_t roda_dir_lock(const char *directory, int *fd, long *holder);
/* Releases a lock taken by roda_dir_lock (nothing for -1). */
void roda_dir_unlock(int fd);

#endif
