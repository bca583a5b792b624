/* roda_udp.c - UDP sockets for the ingest: address parsing, binding, recvmmsg batches with the
 * SO_RXQ_OVFL drop counter. */
#include "roda_udp.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

/* Room for one SO_RXQ_OVFL control message per datagram. */
#define CONTROL_SIZE CMSG_SPACE(sizeof(uint32_t))

struct roda_udp {
    int fd;
    uint16_t port;
    uint32_t batch;
    uint32_t max_datagram;
    uint32_t receive_buffer;
    uint32_t last_drops; /* the kernel's cumulative drop count at the previous receive */
    struct mmsghdr *messages;
    struct iovec *iov;
    uint8_t *buffers;
    uint8_t *control;
};

/* Splits "host:port" / "[v6]:port" into host and port strings (host may be empty: any). */
static roda_result_t split_address(const char *address, char *host, size_t host_size, char *port,
                                   size_t port_size)
{
    const char *colon;
    const char *host_start = address;
    size_t host_length;
    if (address[0] == '[') {
        const char *close = strchr(address, ']');
        if (close == NULL || close[1] != ':')
            return RODA_ERROR_INVALID_ARG;
        host_start = address + 1;
        host_length = (size_t)(close - host_start);
        colon = close + 1;
    } else {
        colon = strrchr(address, ':');
        if (colon == NULL)
            return RODA_ERROR_INVALID_ARG;
        host_length = (size_t)(colon - address);
    }
    size_t port_length = strlen(colon + 1);
    if (host_length >= host_size || port_length == 0 || port_length >= port_size)
        return RODA_ERROR_INVALID_ARG;
    memcpy(host, host_start, host_length);
    host[host_length] = '\0';
    memcpy(port, colon + 1, port_length + 1);
    return RODA_SUCCESS;
}

static roda_result_t bind_socket(roda_udp_t *udp, const char *address, uint32_t receive_buffer)
{
    char host[256], port[16];
    if (split_address(address, host, sizeof(host), port, sizeof(port)) != RODA_SUCCESS)
        return RODA_ERROR_INVALID_ARG;
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *info = NULL;
    if (getaddrinfo(host[0] ? host : NULL, port, &hints, &info) != 0 || info == NULL)
        return RODA_ERROR_INVALID_ARG;
    roda_result_t result = RODA_ERROR_SYSTEM;
    int fd = socket(info->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        goto out;
    if (info->ai_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
        goto out;
    if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) != 0)
        goto out;
    if (receive_buffer != 0) {
        int size = (int)receive_buffer;
        /* FORCE passes rmem_max when privileged; otherwise the capped request still applies. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0 &&
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) != 0)
            goto out;
    }
    if (bind(fd, info->ai_addr, info->ai_addrlen) != 0)
        goto out;
    union {
        struct sockaddr_storage storage;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } bound;
    memset(&bound, 0, sizeof(bound));
    socklen_t bound_length = sizeof(bound);
    int granted = 0;
    socklen_t granted_length = sizeof(granted);
    if (getsockname(fd, (struct sockaddr *)&bound.storage, &bound_length) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &granted_length) != 0)
        goto out;
    udp->port = ntohs(bound.storage.ss_family == AF_INET6 ? bound.v6.sin6_port : bound.v4.sin_port);
    udp->receive_buffer = (uint32_t)granted;
    udp->fd = fd;
    fd = -1;
    result = RODA_SUCCESS;
out:
    if (fd >= 0) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    freeaddrinfo(info);
    return result;
}

roda_result_t roda_udp_open(const char *address, uint32_t receive_buffer, uint32_t max_datagram,
                            uint32_t batch, roda_udp_t **out)
{
    if (out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    if (address == NULL || max_datagram == 0 || max_datagram > RODA_UDP_MAX_DATAGRAM ||
        batch == 0 || batch > RODA_UDP_MAX_BATCH)
        return RODA_ERROR_INVALID_ARG;
    roda_udp_t *udp = calloc(1, sizeof(*udp));
    if (udp == NULL)
        return RODA_ERROR_NOMEM;
    udp->fd = -1;
    udp->batch = batch;
    udp->max_datagram = max_datagram;
    udp->messages = calloc(batch, sizeof(*udp->messages));
    udp->iov = calloc(batch, sizeof(*udp->iov));
    udp->buffers = malloc((size_t)batch * max_datagram);
    udp->control = calloc(batch, CONTROL_SIZE);
    if (udp->messages == NULL || udp->iov == NULL || udp->buffers == NULL || udp->control == NULL) {
        roda_udp_close(udp);
        return RODA_ERROR_NOMEM;
    }
    roda_result_t result = bind_socket(udp, address, receive_buffer);
    if (result != RODA_SUCCESS) {
        roda_udp_close(udp);
        return result;
    }
    for (uint32_t i = 0; i < batch; i++) {
        udp->iov[i].iov_base = udp->buffers + (size_t)i * max_datagram;
        udp->iov[i].iov_len = max_datagram;
    }
    *out = udp;
    return RODA_SUCCESS;
}

void roda_udp_close(roda_udp_t *udp)
{
    if (udp == NULL)
        return;
    if (udp->fd >= 0)
        close(udp->fd);
    free(udp->messages);
    free(udp->iov);
    free(udp->buffers);
    free(udp->control);
    free(udp);
}

int roda_udp_fd(const roda_udp_t *udp)
{
    return udp->fd;
}

uint16_t roda_udp_port(const roda_udp_t *udp)
{
    return udp->port;
}

uint32_t roda_udp_receive_buffer(const roda_udp_t *udp)
{
    return udp->receive_buffer;
}

uint32_t roda_udp_receive(roda_udp_t *udp, uint64_t *kernel_drops, bool *failed)
{
    *kernel_drops = 0;
    *failed = false;
    /* recvmmsg overwrites msg_len, msg_flags and msg_controllen: reset them each batch. */
    for (uint32_t i = 0; i < udp->batch; i++) {
        struct msghdr *header = &udp->messages[i].msg_hdr;
        header->msg_name = NULL;
        header->msg_namelen = 0;
        header->msg_iov = &udp->iov[i];
        header->msg_iovlen = 1;
        header->msg_control = udp->control + (size_t)i * CONTROL_SIZE;
        header->msg_controllen = CONTROL_SIZE;
        header->msg_flags = 0;
    }
    int received = recvmmsg(udp->fd, udp->messages, udp->batch, MSG_DONTWAIT, NULL);
    if (received < 0) {
        *failed = errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
        return 0;
    }
    /* The counter is cumulative per socket; the last datagram carries the newest value. */
    for (int i = received - 1; i >= 0; i--) {
        struct msghdr *header = &udp->messages[i].msg_hdr;
        struct cmsghdr *cmsg;
        for (cmsg = CMSG_FIRSTHDR(header); cmsg != NULL; cmsg = CMSG_NXTHDR(header, cmsg)) {
            if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SO_RXQ_OVFL) {
                uint32_t drops;
                memcpy(&drops, CMSG_DATA(cmsg), sizeof(drops));
                *kernel_drops = (uint32_t)(drops - udp->last_drops);
                udp->last_drops = drops;
                return (uint32_t)received;
            }
        }
    }
    return (uint32_t)received;
}

const uint8_t *roda_udp_datagram(const roda_udp_t *udp, uint32_t i, size_t *size, bool *truncated)
{
    const struct mmsghdr *message = &udp->messages[i];
    *size = message->msg_len;
    *truncated = (message->msg_hdr.msg_flags & MSG_TRUNC) != 0;
    return udp->iov[i].iov_base;
}

uint64_t roda_udp_memory(uint32_t max_datagram, uint32_t batch)
{
    return sizeof(roda_udp_t) + (uint64_t)batch * (sizeof(struct mmsghdr) + sizeof(struct iovec) +
                                                   max_datagram + CONTROL_SIZE);
}
