#!/usr/bin/env bash
# install_test.sh - the Debian package on a fresh Debian 12 (the debian:12-slim base image of the
# Docker tests, in a throwaway container): apt installs it with its declared dependencies from the
# machine's mirror, postinst made the roda user and /var/lib/roda; roda-gateway started as roda
# with the packaged /etc/roda/roda-gateway.conf answers /healthz and writes its journal in
# /var/lib/roda; `dpkg --purge` removes the binaries, /etc/roda, /var/lib/roda and the user.
# RODA_SKIP_DOCKER=1 skips it (exit 77), as does a build without roda-gateway.
# Usage: install_test.sh BUILD_DIR
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
if [ "${RODA_SKIP_DOCKER:-0}" = 1 ]; then
    echo "install_test: skipped (RODA_SKIP_DOCKER=1)"
    exit 77
fi
[ -x "$build/gateway/roda-gateway" ] || { echo "install_test: roda-gateway not built"; exit 77; }
source "$here/docker_env.sh"
work=$(mktemp -d)
name=roda-install-$$
cleanup() {
    set +e
    docker rm -f "$name" > /dev/null 2>&1
    docker_env_down
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [ -f "$work/steps.log" ] && tail -n 30 "$work/steps.log" >&2
    exit 1
}
t0=$SECONDS
docker_env_up || fail "no Docker engine (set RODA_SKIP_DOCKER=1 to skip this test)"
docker_env_base || fail "cannot make the base images"
cpack -G DEB -B "$work" --config "$build/CPackConfig.cmake" > "$work/cpack.log" 2>&1 ||
    fail "cpack: $(tail -5 "$work/cpack.log")"
deb=$(basename "$(ls "$work"/roda-gateway_*_*.deb)")

# Inside the container: install, run as roda for a few seconds, purge; every check says FAIL.
cat > "$work/steps.sh" << 'STEPS'
set -eu
fail() { echo "FAIL: $*"; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "/pkg/$1" curl > /dev/null
getent passwd roda > /dev/null || fail "postinst made no roda user"
[ "$(stat -c %U:%a /var/lib/roda)" = roda:750 ] || fail "/var/lib/roda is $(stat -c %U:%a /var/lib/roda)"
setpriv --reuid roda --regid roda --init-groups roda-gateway -c /etc/roda/roda-gateway.conf \
    > /tmp/gateway.log 2>&1 &
gw=$!
ok=""
for _ in $(seq 100); do
    curl -fsS -o /dev/null http://127.0.0.1:9464/healthz 2> /dev/null && { ok=1; break; }
    sleep 0.1
done
[ -n "$ok" ] || { cat /tmp/gateway.log; fail "no /healthz"; }
sleep 2
kill -TERM "$gw"
wait "$gw" || { cat /tmp/gateway.log; fail "roda-gateway exited non-zero on SIGTERM"; }
ls /var/lib/roda/journal | grep -q . || fail "no journal in /var/lib/roda"
dpkg --purge roda-gateway > /dev/null
for path in /usr/bin/roda-gateway /usr/bin/roda-fleet /usr/bin/roda-audit /usr/bin/roda-replay \
    /etc/roda /var/lib/roda /lib/systemd/system/roda-gateway.service; do
    [ ! -e "$path" ] || fail "$path left after purge"
done
! getent passwd roda > /dev/null || fail "the roda user left after purge"
echo "install: ok"
STEPS
# The container's own network (the packaged 9464 and 9465 stay private to it), IPv6 off as Docker
# makes it: the packaged config must start where the host has no IPv6.
docker run --name "$name" -v "$work:/pkg:ro" \
    debian:12-slim bash /pkg/steps.sh "$deb" \
    > "$work/steps.log" 2>&1 || fail "in the container"
grep -q '^install: ok$' "$work/steps.log" || fail "in the container"
echo "install_test: ok ($((SECONDS - t0)) s)"
