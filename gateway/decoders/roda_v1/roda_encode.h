/* roda_encode.h - the example encoder for device makers: one roda.v1.Batch (proto/roda.proto)
 * into a caller's buffer with nanopb, no allocation. roda-fleet sends what this produces.
 *
 * A device keeps a boot epoch (anything that grows at every boot, e.g. the boot time in seconds
 * or a counter in flash) and a sequence that starts at 0 at boot and grows by one per batch
 * sent; the gateway uses the pair to count lost and duplicated batches. Sequence 0 means "none"
 * (the first batch after boot, or a device that sends no sequence): accepted, never judged.
 *
 * Threads: no shared state. */
#ifndef RODA_ENCODE_H
#define RODA_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "roda.pb.h"

typedef struct roda_encode_batch {
    const char *device; /* NUL-terminated; NULL or "" to leave the field out (topic names it) */
    uint64_t sequence;
    uint64_t boot_epoch;
    const roda_v1_Reading *readings;
    uint32_t reading_count;
} roda_encode_batch_t;

/* Encodes `batch` into buffer[0 .. capacity). Returns the encoded size, or 0 when it does not
 * fit or the device name is longer than 63 bytes. */
size_t roda_encode(const roda_encode_batch_t *batch, uint8_t *buffer, size_t capacity);

#endif
