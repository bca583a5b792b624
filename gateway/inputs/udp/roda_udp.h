/* roda_udp.h - one bound UDP socket (IPv4 or IPv6) received in batches with recvmmsg.
 *
 * Memory: `batch` buffers of `max_datagram` bytes plus headers, allocated at open. A datagram
 * larger than max_datagram is cut by the kernel and flagged (MSG_TRUNC): the caller counts it as
 * oversize and never decodes it. The kernel's count of datagrams it dropped because the receive
 * buffer was full (SO_RXQ_OVFL) is read from each batch, so those losses are exported too.
 *
 * Threads: one thread per socket (the ingest thread); roda_udp_port from any thread. */
#ifndef RODA_UDP_H
#define RODA_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_result.h"

#define RODA_UDP_MAX_BATCH 1024u
#define RODA_UDP_MAX_DATAGRAM 65536u

typedef struct roda_udp roda_udp_t;

/* Opens and binds a non-blocking socket to `address`: "host:port", "[ipv6]:port" (IPv6 sockets
 * are v6-only), port 0 for an ephemeral port. receive_buffer: SO_RCVBUF bytes (SO_RCVBUFFORCE
 * when permitted; 0 keeps the system default). max_datagram 1 .. RODA_UDP_MAX_DATAGRAM,
 * batch 1 .. RODA_UDP_MAX_BATCH. Errors: RODA_ERROR_INVALID_ARG (address, sizes),
 * RODA_ERROR_SYSTEM (socket, bind; errno kept), RODA_ERROR_NOMEM. */
roda_result_t roda_udp_open(const char *address, uint32_t receive_buffer, uint32_t max_datagram,
                            uint32_t batch, roda_udp_t **out);
void roda_udp_close(roda_udp_t *udp);

int roda_udp_fd(const roda_udp_t *udp);
/* The bound port (useful after binding port 0). */
uint16_t roda_udp_port(const roda_udp_t *udp);
/* The receive buffer the kernel granted (bytes, as SO_RCVBUF reports it). */
uint32_t roda_udp_receive_buffer(const roda_udp_t *udp);

/* Receives up to `batch` datagrams without blocking. Returns how many (0 when none is waiting);
 * *kernel_drops receives the datagrams the kernel dropped since the previous report; *failed is
 * true when recvmmsg failed with an error other than EAGAIN or EINTR (the caller counts it). */
uint32_t roda_udp_receive(roda_udp_t *udp, uint64_t *kernel_drops, bool *failed);

/* Datagram `i` (< the last receive's count): its bytes and size; *truncated is true when it was
 * larger than max_datagram (its bytes are then incomplete and must not be decoded). */
const uint8_t *roda_udp_datagram(const roda_udp_t *udp, uint32_t i, size_t *size, bool *truncated);

/* Bytes roda_udp_open() allocates for these sizes (header, message headers, buffers, control
 * data): the memory plan's size of one UDP input. */
uint64_t roda_udp_memory(uint32_t max_datagram, uint32_t batch);

#endif
