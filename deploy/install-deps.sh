#!/usr/bin/env bash
# Installs the Debian 12 packages Roda needs. One list per use, so that the Docker image's two
# stages and the README's commands all install from this one file:
#   install-deps.sh [all]    build, tests and the demo (tests/run.sh, deploy/demo.sh)
#   install-deps.sh build    only what `cmake --preset default` and its build need (Dockerfile)
#   install-deps.sh runtime  only what roda-gateway and roda-fleet need to run (the slim image)
# Idempotent: runs `apt-get update` once and installs only when something is missing.
set -euo pipefail

# Shared libraries the binaries link (tests/deploy checks this against readelf of the real
# binaries), CA certificates for MQTT and Alertmanager over TLS. (The container's HEALTHCHECK is
# roda-gateway --probe: no curl program.)
runtime=(libmosquitto1 libmicrohttpd12 libinih1 libxxhash0 libcurl4 libgnutls30 libcrypt1 libcjson1
    libnats3.4 ca-certificates)
# The configure step also finds the test framework (check), so the build list carries it.
build=(
    build-essential cmake pkg-config
    check
    libmosquitto-dev
    nanopb libnanopb-dev protobuf-compiler python3-protobuf
    libmicrohttpd-dev libinih-dev libjansson-dev libxxhash-dev libcjson-dev
    libcurl4-openssl-dev libgnutls28-dev libcrypt-dev
    libnats-dev
)
# Tests, sanitizers, lint and the demo: brokers (mosquitto, nats-server), Prometheus' promtool, Alertmanager, lintian and
# systemd-analyze for the package, the Docker engine, compose 1.29 and debootstrap for the image
# tests (tests/deploy/docker_env.sh), curl/jq for the alert
# stream, python3-yaml for the compose file check, process tools for cleanup checks, headless
# Chromium driven by Selenium for the fleet page's test.
tools=(
    clang libclang-rt-14-dev clang-format clang-tidy cppcheck
    mosquitto mosquitto-clients python3-paho-mqtt nats-server
    prometheus prometheus-alertmanager lintian systemd curl jq python3-yaml iproute2 procps openssl
    chromium chromium-driver python3-selenium
    docker.io debootstrap docker-compose
)

case "${1:-all}" in
all) packages=("${build[@]}" "${tools[@]}") ;;
build) packages=("${build[@]}") ;;
runtime) packages=("${runtime[@]}") ;;
*)
    echo "usage: install-deps.sh [all|build|runtime]" >&2
    exit 2
    ;;
esac

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
