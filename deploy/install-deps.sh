#!/usr/bin/env bash
# Installs the Debian 12 packages Roda needs to build, test and run its demo.
# Idempotent: runs `apt-get update` once and installs only when something is missing.
set -euo pipefail

packages=(
    build-essential cmake pkg-config clang libclang-rt-14-dev
    check
    libmosquitto-dev mosquitto mosquitto-clients
    nanopb libnanopb-dev protobuf-compiler python3-protobuf
    libmicrohttpd-dev libinih-dev libjansson-dev
    prometheus curl iproute2 procps openssl
)

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
