/* roda_http_probe.h - a liveness probe of a gateway's own HTTP server (roda-gateway --probe, the
 * container's HEALTHCHECK): GET /healthz the way the config serves it.
 *
 * The scheme follows the config (https when a TLS certificate is set), the address is the bind
 * address (127.0.0.1 for 0.0.0.0, ::1 for ::), the port http.port. Under TLS the server's
 * certificate is not verified: the probe asks whether this process answers on this machine, not
 * who it is; /healthz needs neither basic auth nor a client certificate.
 *
 * Threads: any; it blocks for at most `timeout_ms`. */
#ifndef RODA_HTTP_PROBE_H
#define RODA_HTTP_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when /healthz answered 200 within timeout_ms; else false with why (curl's error or the
 * status). Port 0 (picked at start) cannot be probed. */
bool roda_http_probe(const char *bind, uint16_t port, bool tls, uint32_t timeout_ms, char *why,
                     size_t size);

#endif
