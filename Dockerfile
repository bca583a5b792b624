# Dockerfile - roda-gateway (and roda-fleet, the simulated fleet) in a slim Debian 12 image.
#
#   docker build -t roda-gateway .
#   docker run --rm -p 9464:9464 -p 9465:9465/udp -v "$PWD/my-roda:/etc/roda:ro" \
#       -v roda-data:/var/lib/roda roda-gateway
#
# Build stage: the packages from the same script as the README and CI (deploy/install-deps.sh,
# its build list) and the same CMake preset as CI (tests/run.sh). Runtime stage: debian:12-slim
# with only the shared libraries the binaries link (install-deps.sh runtime; tests/deploy checks
# the list against the binaries), run as the unprivileged user `roda`.
#
# The configuration is read from /etc/roda/roda-gateway.conf (deploy/docker/roda-gateway.conf by
# default). Mount your own directory on /etc/roda (not a single file: an editor that replaces the
# file leaves a single-file mount on the old copy, and SIGHUP would reload that); the file must be
# readable by uid 10001 or gid 10001 (e.g. mode 640, group 10001). The journal and the alert
# output positions live in /var/lib/roda (a volume, owned by roda). The gateway is PID 1 (exec-form ENTRYPOINT, no shell): it takes
# SIGTERM/SIGINT/SIGHUP with sigwait on blocked signals, which the kernel delivers to PID 1 too,
# so `docker stop` drains it (stop ingest, drain the stages, flush the MQTT alert topic) and it
# exits 0; it starts no children, so there is nothing to reap.

FROM debian:12 AS build
WORKDIR /src
COPY deploy/install-deps.sh deploy/install-deps.sh
RUN bash deploy/install-deps.sh build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake --preset default \
    && cmake --build --preset default --target roda-gateway roda-fleet roda-audit roda-replay \
    && build/default/gateway/roda-gateway -c deploy/docker/roda-gateway.conf --check-config > /dev/null

FROM debian:12-slim
COPY deploy/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh runtime \
    && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
    && groupadd --system --gid 10001 roda \
    && useradd --system --uid 10001 --gid roda --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin roda \
    && install -d -o roda -g roda -m 0750 /var/lib/roda
COPY --from=build /src/build/default/gateway/roda-gateway /src/build/default/gateway/roda-fleet \
    /src/build/default/gateway/roda-audit /src/build/default/gateway/roda-replay /usr/local/bin/
COPY deploy/docker/roda-gateway.conf /etc/roda/roda-gateway.conf
VOLUME /var/lib/roda
USER roda:roda
# 9464/tcp: HTTP (/metrics, /alerts, /sensors, /healthz, /readyz); 9465/udp: UDP readings.
EXPOSE 9464/tcp 9465/udp
# The probe reads the config: /healthz on its http.port, https when it sets a TLS certificate.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/roda-gateway", "-c", "/etc/roda/roda-gateway.conf", "--probe"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/roda-gateway"]
CMD ["-c", "/etc/roda/roda-gateway.conf"]
