#!/usr/bin/env bash
# The test command: installs what the build and tests need (Debian 12 packages), builds, and runs
# every test: unit and integration tests in the normal build (the Docker image and package tests
# among them), unit tests again under ASan+UBSan and under ThreadSanitizer. Idempotent; safe to
# run again. Exit status is non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh

# The Docker tests (tests/deploy: deploy_docker, deploy_install) need an engine: one is started
# when none runs, and stopped at exit (RODA_SKIP_DOCKER=1: neither, and those tests skip).
source tests/deploy/docker_env.sh
if [ "${RODA_SKIP_DOCKER:-0}" != 1 ]; then
    trap docker_env_down EXIT
    docker_env_up || echo "warning: no Docker engine; the Docker tests will fail" >&2
fi

jobs=$(nproc)
# run_preset PRESET [WRAPPER...]: configure, build and test one preset, the tests under WRAPPER.
run_preset() {
    local preset=$1
    shift
    echo "==== build: $preset"
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset" -j "$jobs"
    echo "==== test: $preset"
    "$@" ctest --preset "$preset" -j "$jobs"
}

start=$(date +%s)
run_preset default
run_preset asan
# TSan needs its shadow memory at fixed addresses; a high ASLR entropy breaks that on new kernels,
# so its tests run with ASLR off where the system allows it.
if setarch "$(uname -m)" -R true 2>/dev/null; then
    run_preset tsan setarch "$(uname -m)" -R
else
    echo "warning: cannot disable ASLR; TSan may fail to map its shadow memory" >&2
    run_preset tsan
fi
echo "==== all tests passed in $(( $(date +%s) - start )) s"
