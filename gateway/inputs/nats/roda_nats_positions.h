/* roda_nats_positions.h - per partition, the highest JetStream stream sequence whose readings are
 * in the input journal, kept in a small file beside the journal so that a restart resumes each
 * partition's consumer right after what the journal holds: nothing lost, nothing journaled twice.
 *
 * The file (RODA_NATS_POSITIONS_FILE_NAME in the journal's directory) is the struct below, mapped
 * MAP_SHARED like the device registry: `committed` is stored right after a message's readings
 * are committed (one store into the page cache, no system call: it survives a SIGKILL with the
 * journal's pages), `synced` after the journal's fdatasync (roda_nats_positions_sync, which also
 * flushes the file). At open, a file written before the machine last booted (its boot id
 * differs) trusts `synced` only: after a power loss the page cache may have written `committed`
 * back ahead of the journal's records. Positions belong to one stream: bound to another name or
 * creation time (the stream was made again: its sequences start over) they start from zero, as
 * a missing or foreign file does. Without a directory the positions live in memory.
 *
 * Threads: one thread at a time (the ingest thread). */
#ifndef RODA_NATS_POSITIONS_H
#define RODA_NATS_POSITIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "roda_result.h"

#define RODA_NATS_MAX_PARTITIONS 1024u
#define RODA_NATS_STREAM_NAME_MAX 64u
#define RODA_NATS_BOOT_ID_SIZE 40u
#define RODA_NATS_POSITIONS_FILE_NAME "nats.positions"

typedef struct roda_nats_positions_image {
    char magic[8];
    uint32_t version;
    uint32_t reserved;
    int64_t created; /* the stream's creation time, ns since the epoch */
    char stream[RODA_NATS_STREAM_NAME_MAX];
    char boot_id[RODA_NATS_BOOT_ID_SIZE];         /* the machine's boot when last opened */
    uint64_t committed[RODA_NATS_MAX_PARTITIONS]; /* 0: nothing journaled yet */
    uint64_t synced[RODA_NATS_MAX_PARTITIONS];    /* durable with the journal */
} roda_nats_positions_image_t;

typedef struct roda_nats_positions {
    int fd;                             /* -1: in memory */
    roda_nats_positions_image_t *image; /* the mapping, or memory */
} roda_nats_positions_t;

/* Opens `directory`/RODA_NATS_POSITIONS_FILE_NAME (made if missing), or memory when `directory`
 * is NULL; *restored says whether the file held positions (*rebooted: only its synced ones were
 * kept). RODA_ERROR_IO (errno kept), RODA_ERROR_NOMEM. */
roda_result_t roda_nats_positions_open(roda_nats_positions_t *positions, const char *directory,
                                       bool *restored, bool *rebooted);
/* Binds the positions to the stream `name` made at `created`; false when they belonged to
 * another stream (they are zeroed). */
bool roda_nats_positions_bind(roda_nats_positions_t *positions, const char *name, int64_t created);
/* The position of `partition`, and its update after a message was journaled. */
static inline uint64_t roda_nats_position(const roda_nats_positions_t *positions,
                                          uint32_t partition)
{
    return positions->image->committed[partition];
}
static inline void roda_nats_position_set(roda_nats_positions_t *positions, uint32_t partition,
                                          uint64_t sequence)
{
    positions->image->committed[partition] = sequence;
}
/* After the journal's sync: the committed positions become the synced ones, and the file is
 * flushed. RODA_ERROR_IO (errno kept). */
roda_result_t roda_nats_positions_sync(roda_nats_positions_t *positions);
void roda_nats_positions_close(roda_nats_positions_t *positions);

#endif
