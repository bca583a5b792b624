/* roda_nats_positions.c - the journaled stream sequence per partition, in a mapped file beside
 * the journal (see roda_nats_positions.h). */
#include "roda_nats_positions.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "RODANATS"
#define VERSION 2u
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

static void reset(roda_nats_positions_image_t *image)
{
    memset(image, 0, sizeof *image);
    memcpy(image->magic, MAGIC, sizeof image->magic);
    image->version = VERSION;
}

/* This boot's id ("" when the kernel does not say). */
static void boot_id(char out[RODA_NATS_BOOT_ID_SIZE])
{
    memset(out, 0, RODA_NATS_BOOT_ID_SIZE);
    FILE *f = fopen(BOOT_ID_PATH, "r");
    if (f == NULL)
        return;
    if (fgets(out, RODA_NATS_BOOT_ID_SIZE, f) == NULL)
        out[0] = '\0';
    fclose(f);
}

roda_result_t roda_nats_positions_open(roda_nats_positions_t *positions, const char *directory,
                                       bool *restored, bool *rebooted)
{
    positions->fd = -1;
    *restored = *rebooted = false;
    if (directory == NULL) {
        positions->image = malloc(sizeof *positions->image);
        if (positions->image == NULL)
            return RODA_ERROR_NOMEM;
        reset(positions->image);
        return RODA_SUCCESS;
    }
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", directory, RODA_NATS_POSITIONS_FILE_NAME) >=
        (int)sizeof path) {
        errno = ENAMETOOLONG;
        return RODA_ERROR_IO;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (fd < 0)
        return RODA_ERROR_IO;
    bool sized = fstat(fd, &st) == 0 && st.st_size == (off_t)sizeof *positions->image;
    void *map = MAP_FAILED;
    if ((sized || ftruncate(fd, 0) == 0) && ftruncate(fd, sizeof *positions->image) == 0)
        map = mmap(NULL, sizeof *positions->image, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        int error = errno;
        close(fd);
        errno = error;
        return RODA_ERROR_IO;
    }
    roda_nats_positions_image_t *image = map;
    char now[RODA_NATS_BOOT_ID_SIZE];
    boot_id(now);
    if (sized && memcmp(image->magic, MAGIC, sizeof image->magic) == 0 &&
        image->version == VERSION && memchr(image->stream, '\0', sizeof image->stream) != NULL) {
        *restored = true;
        *rebooted = memcmp(image->boot_id, now, sizeof now) != 0;
        if (*rebooted)
            memcpy(image->committed, image->synced, sizeof image->committed);
    } else {
        reset(image);
    }
    memcpy(image->boot_id, now, sizeof now);
    positions->fd = fd;
    positions->image = image;
    return RODA_SUCCESS;
}

bool roda_nats_positions_bind(roda_nats_positions_t *positions, const char *name, int64_t created)
{
    roda_nats_positions_image_t *image = positions->image;
    if (image->created == created && strncmp(image->stream, name, sizeof image->stream) == 0)
        return true;
    bool fresh = image->stream[0] == '\0';
    char boot[RODA_NATS_BOOT_ID_SIZE];
    memcpy(boot, image->boot_id, sizeof boot);
    reset(image);
    memcpy(image->boot_id, boot, sizeof boot);
    image->created = created;
    snprintf(image->stream, sizeof image->stream, "%s", name);
    return fresh;
}

roda_result_t roda_nats_positions_sync(roda_nats_positions_t *positions)
{
    roda_nats_positions_image_t *image = positions->image;
    memcpy(image->synced, image->committed, sizeof image->synced);
    if (positions->fd >= 0 && msync(image, sizeof *image, MS_SYNC) != 0)
        return RODA_ERROR_IO;
    return RODA_SUCCESS;
}

void roda_nats_positions_close(roda_nats_positions_t *positions)
{
    if (positions->image == NULL)
        return;
    if (positions->fd >= 0) {
        munmap(positions->image, sizeof *positions->image);
        close(positions->fd);
    } else {
        free(positions->image);
    }
    positions->image = NULL;
    positions->fd = -1;
}
