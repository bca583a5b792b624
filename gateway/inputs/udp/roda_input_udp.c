/* roda_input_udp.c - the UDP input class: sockets from the [udp] section, drained in batches
 * on the ingest thread (see roda_input_udp.h). */
#include "roda_input_udp.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roda_udp.h"

/* recvmmsg batches drained per readiness before the loop looks at the other inputs again. */
#define UDP_ROUNDS 16u

typedef struct input_udp {
    roda_input_udp_settings_t settings;
    roda_input_port_t port;
    roda_udp_t *sockets[RODA_INPUT_UDP_MAX_BINDS];
    uint32_t count;
} input_udp_t;

static bool configure(const roda_config_t *config, void *out, bool *enabled, char *why, size_t size)
{
    roda_input_udp_settings_t *s = out;
    memset(s, 0, sizeof *s);
    *enabled = config->udp.enabled && config->udp.bind_count > 0;
    s->bind_count = config->udp.bind_count < RODA_INPUT_UDP_MAX_BINDS ? config->udp.bind_count
                                                                      : RODA_INPUT_UDP_MAX_BINDS;
    for (uint32_t i = 0; i < s->bind_count; i++)
        s->binds[i] = config->udp.binds[i];
    s->receive_buffer = (uint32_t)config->udp.receive_buffer;
    s->max_datagram = config->udp.max_datagram;
    s->batch = config->udp.batch;
    s->decoder = roda_decoder_default();
    (void)why;
    (void)size;
    return true;
}

static void destroy(void *state)
{
    input_udp_t *udp = state;
    for (uint32_t i = 0; i < udp->count; i++)
        roda_udp_close(udp->sockets[i]);
    free(udp);
}

static roda_result_t create(const void *settings, const roda_input_port_t *port, void **state)
{
    const roda_input_udp_settings_t *s = settings;
    if (s->bind_count == 0 || s->bind_count > RODA_INPUT_UDP_MAX_BINDS || s->decoder == NULL)
        return RODA_ERROR_INVALID_ARG;
    input_udp_t *udp = calloc(1, sizeof *udp);
    if (udp == NULL)
        return RODA_ERROR_NOMEM;
    udp->settings = *s;
    udp->port = *port;
    roda_result_t result = RODA_SUCCESS;
    for (uint32_t i = 0; result == RODA_SUCCESS && i < s->bind_count; i++) {
        result = roda_udp_open(s->binds[i], s->receive_buffer, s->max_datagram, s->batch,
                               &udp->sockets[i]);
        if (result == RODA_SUCCESS)
            udp->count++;
    }
    if (result != RODA_SUCCESS) {
        destroy(udp);
        return result;
    }
    *state = udp;
    return RODA_SUCCESS;
}

static uint32_t poll_fds(void *state, struct pollfd *fds, int *timeout_ms)
{
    (void)timeout_ms; /* no timers: the loop may sleep until a datagram arrives */
    input_udp_t *udp = state;
    for (uint32_t i = 0; i < udp->count; i++)
        fds[i] = (struct pollfd){.fd = roda_udp_fd(udp->sockets[i]), .events = POLLIN};
    return udp->count;
}

static void drain(input_udp_t *udp, roda_udp_t *socket)
{
    const roda_input_port_t *port = &udp->port;
    for (uint32_t round = 0; round < UDP_ROUNDS; round++) {
        uint64_t kernel_drops;
        bool failed;
        uint32_t received = roda_udp_receive(socket, &kernel_drops, &failed);
        if (kernel_drops != 0)
            roda_ingest_count(port, RODA_INGEST_KERNEL_DROPS, kernel_drops);
        if (failed)
            roda_ingest_count(port, RODA_INGEST_RECEIVE_ERRORS, 1);
        for (uint32_t i = 0; i < received; i++) {
            size_t size;
            bool truncated;
            const uint8_t *data = roda_udp_datagram(socket, i, &size, &truncated);
            if (truncated) {
                roda_ingest_count(port, RODA_INGEST_MESSAGES, 1);
                roda_ingest_count(port, RODA_INGEST_OVERSIZE, 1);
                continue;
            }
            roda_ingest_message(port, udp->settings.decoder, NULL, NULL, NULL, 0, data, size);
        }
        if (received < udp->settings.batch)
            return;
    }
}

static void service(void *state, const struct pollfd *fds, uint32_t count)
{
    input_udp_t *udp = state;
    for (uint32_t i = 0; i < count; i++)
        if (fds[i].revents != 0)
            drain(udp, udp->sockets[i]);
}

/* The smallest receive buffer the kernel granted (0 without UDP). */
static uint32_t receive_buffer(const input_udp_t *udp)
{
    uint32_t smallest = 0;
    for (uint32_t i = 0; udp != NULL && i < udp->count; i++) {
        uint32_t granted = roda_udp_receive_buffer(udp->sockets[i]);
        if (i == 0 || granted < smallest)
            smallest = granted;
    }
    return smallest;
}

static void metrics(const void *state, roda_metrics_t *m)
{
    roda_metrics_family(m, "roda_udp_receive_buffer_bytes", RODA_METRIC_GAUGE,
                        "Smallest UDP receive buffer the kernel granted (0: no UDP input).");
    roda_metrics_u64(m, NULL, 0, receive_buffer(state));
}

static void describe(const void *state, char *buf, size_t size)
{
    snprintf(buf, size, "udp_port=%u", (unsigned)roda_input_udp_port(state, 0));
}

static uint64_t memory(const void *settings)
{
    const roda_input_udp_settings_t *s = settings;
    return (uint64_t)s->bind_count * roda_udp_memory(s->max_datagram, s->batch);
}

uint16_t roda_input_udp_port(const void *state, uint32_t i)
{
    const input_udp_t *udp = state;
    return udp != NULL && i < udp->count ? roda_udp_port(udp->sockets[i]) : 0;
}

const roda_input_class_t roda_input_udp = {
    .name = "udp",
    .settings_size = sizeof(roda_input_udp_settings_t),
    .configure = configure,
    .create = create,
    .destroy = destroy,
    .poll_fds = poll_fds,
    .service = service,
    .metrics = metrics,
    .describe = describe,
    .memory = memory,
};
