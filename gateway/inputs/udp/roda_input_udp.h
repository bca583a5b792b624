/* roda_input_udp.h - the UDP input: datagrams on up to RODA_INPUT_UDP_MAX_BINDS sockets (IPv4
 * and IPv6), received in batches with recvmmsg, one message per datagram, the device named by
 * the payload.
 *
 * Loss is never silent: datagrams cut by the kernel (larger than max_datagram) count as
 * oversize, datagrams the kernel dropped for a full receive buffer (SO_RXQ_OVFL) as
 * kernel_drops, failed receive calls as receive_errors. Exports roda_udp_receive_buffer_bytes,
 * the smallest receive buffer the kernel granted.
 *
 * Threads: as roda_input.h; roda_input_udp_port from any thread. */
#ifndef RODA_INPUT_UDP_H
#define RODA_INPUT_UDP_H

#include <stdint.h>

#include "roda_input.h"

#define RODA_INPUT_UDP_MAX_BINDS 4u

typedef struct roda_input_udp_settings {
    const char *binds[RODA_INPUT_UDP_MAX_BINDS]; /* "127.0.0.1:5684", "[::1]:5684" */
    uint32_t bind_count;                         /* >= 1 */
    uint32_t receive_buffer;                     /* SO_RCVBUF bytes */
    uint32_t max_datagram;                       /* larger datagrams count as oversize */
    uint32_t batch;                              /* datagrams per recvmmsg */
    const roda_decoder_t *decoder;
} roda_input_udp_settings_t;

extern const roda_input_class_t roda_input_udp;

/* The port socket `i` is bound to (0 when i >= bind_count or `state` is NULL). */
uint16_t roda_input_udp_port(const void *state, uint32_t i);

#endif
