#!/usr/bin/env bash
# docker_test.sh - the Docker image, built and run: a Docker engine (started here when none runs,
# stopped after), the offline base images (made once), `docker build` of the Dockerfile, then the
# image run as a user would: the directory mount of a mode-640 config (group 10001) that serves
# HTTPS, a named volume for the journal; it runs as uid/gid 10001, HEALTHCHECK (the config's
# probe, https here) turns healthy, /metrics is served, roda-fleet from the image drives readings through a mosquitto on the host into alerts
# published back to the broker, the availability topic says online; a container restart resumes
# from the journal in the volume; `docker stop` exits 0 quickly, with "offline" retained and no
# warning in the log. Prints the time of every step.
# RODA_SKIP_DOCKER=1 skips it (exit 77); otherwise a machine without a working engine fails it.
# Usage: docker_test.sh SOURCE_DIR
set -euo pipefail
root=$1
here=$(cd "$(dirname "$0")" && pwd)
if [ "${RODA_SKIP_DOCKER:-0}" = 1 ]; then
    echo "docker_test: skipped (RODA_SKIP_DOCKER=1)"
    exit 77
fi
source "$here/docker_env.sh"
work=$(mktemp -d)
tag=roda-gateway:test
name=roda-test-$$
volume=roda-test-data-$$
broker_pid=""
cleanup() {
    set +e
    docker rm -f "$name" > /dev/null 2>&1
    docker volume rm "$volume" > /dev/null 2>&1
    [ -n "$broker_pid" ] && kill "$broker_pid" 2> /dev/null && wait "$broker_pid" 2> /dev/null
    docker_env_down
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    docker logs "$name" 2>&1 | tail -n 30 >&2
    exit 1
}
t0=$SECONDS
step() { echo "docker_test: $1 ($((SECONDS - t0)) s)"; }

docker_env_up || fail "no Docker engine (set RODA_SKIP_DOCKER=1 to skip this test)"
docker_env_base || fail "cannot make the base images"
step "engine and base images"
# The build's apt reaches the mirror over the host's network (the bridge may not route there).
docker build --network host -t "$tag" "$root" > "$work/build.log" 2>&1 ||
    fail "docker build: $(tail -n 20 "$work/build.log")"
step "image built ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"

# The host's broker, on the bridge's gateway address (the containers reach the host there).
bridge=$(docker network inspect -f '{{(index .IPAM.Config 0).Gateway}}' bridge)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s %s\nlistener %s 127.0.0.1\nallow_anonymous true\n' "$port" "$bridge" "$port" \
    > "$work/mosquitto.conf"
[ "$(id -u)" = 0 ] && echo "user $(id -un)" >> "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" 2> "$work/mosquitto.log" &
broker_pid=$!
for _ in $(seq 100); do
    (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && break
    sleep 0.05
done
mosquitto_sub -h 127.0.0.1 -p "$port" -t roda/alerts -t roda/status -v > "$work/mqtt.out" &
sub_pid=$!

# The config as the README says: a directory on /etc/roda, readable by group 10001 only.
mkdir "$work/conf"
sed -e "s/^host = mosquitto.*/host = $bridge/" -e "s/^port = 1883/port = $port/" \
    -e 's/^urls = .*/urls =/' "$root/deploy/docker/roda-gateway.conf" > "$work/conf/roda-gateway.conf"
# HTTPS (a self-signed certificate beside it): the HEALTHCHECK's probe must follow the config.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/conf/tls.key" -out "$work/conf/tls.pem" \
    -days 2 -subj /CN=localhost 2> /dev/null
sed -i '/^port = 9464$/a tls_cert_file = /etc/roda/tls.pem\ntls_key_file = /etc/roda/tls.key' \
    "$work/conf/roda-gateway.conf"
chgrp 10001 "$work/conf/roda-gateway.conf" "$work/conf/tls.key"
chmod 640 "$work/conf/roda-gateway.conf" "$work/conf/tls.key"
chmod 644 "$work/conf/tls.pem"
docker volume create "$volume" > /dev/null
docker run -d --name "$name" -p 127.0.0.1::9464 -v "$work/conf:/etc/roda:ro" \
    -v "$volume:/var/lib/roda" "$tag" > /dev/null || fail "docker run"
[ "$(docker exec "$name" id -u):$(docker exec "$name" id -g)" = 10001:10001 ] ||
    fail "runs as $(docker exec "$name" id)"
# wait_healthy: the HEALTHCHECK's verdict (its first probe comes after the 10 s interval).
wait_healthy() {
    for _ in $(seq 60); do
        [ "$(docker inspect -f '{{.State.Health.Status}}' "$name")" = healthy ] && return 0
        sleep 0.5
    done
    fail "not healthy: $(docker inspect -f '{{json .State.Health}}' "$name")"
}
wait_healthy
step "healthy"
http=$(docker port "$name" 9464/tcp | head -n 1)
# Saved first: `curl | grep -q` under pipefail fails when grep stops reading early.
curl -fsSk -o "$work/metrics.txt" "https://$http/metrics" && grep -q '^roda_' "$work/metrics.txt" ||
    fail "/metrics over HTTPS"

# roda-fleet from the image: 5 devices over MQTT with frequent spikes (the image's spike rule).
docker run --rm --entrypoint /usr/local/bin/roda-fleet "$tag" --mqtt "$bridge:$port" \
    --topic-prefix fleet --qos 1 --devices 5 --sensors 2 --batch 2 --rate 200 --spike 0.05 \
    --seed 3 --count 400 > "$work/fleet.log" 2>&1 || fail "roda-fleet: $(tail -n 5 "$work/fleet.log")"
for _ in $(seq 100); do
    grep -q '^roda/alerts .*"rule":"spike"' "$work/mqtt.out" && break
    sleep 0.1
done
grep -q '^roda/alerts .*"rule":"spike"' "$work/mqtt.out" || fail "no spike alert on roda/alerts"
grep -q '^roda/status online$' "$work/mqtt.out" || fail "no online on roda/status"
alerts=$(grep -c '^roda/alerts ' "$work/mqtt.out")
step "fleet: $alerts alerts through the broker"
docker exec "$name" roda-audit /var/lib/roda/journal > "$work/audit.txt" 2>&1 ||
    fail "roda-audit: $(tail -n 5 "$work/audit.txt")"

start=$(date +%s%N)
docker restart "$name" > /dev/null
echo "docker_test: restart took $((($(date +%s%N) - start) / 1000000)) ms"
wait_healthy
docker logs "$name" > "$work/restart.log" 2>&1
grep 'msg="recovery"' "$work/restart.log" | tail -n 1 | grep -q 'sensors=[1-9]' ||
    fail "the restart did not resume from the volume: $(docker logs "$name" 2>&1 | grep 'msg="recovery"')"
step "restarted from the journal in the volume"

start=$(date +%s%N)
docker stop "$name" > /dev/null
stop_ms=$((($(date +%s%N) - start) / 1000000))
echo "docker_test: docker stop took $stop_ms ms"
[ "$(docker inspect -f '{{.State.ExitCode}}' "$name")" = 0 ] || fail "exit code $(docker inspect -f '{{.State.ExitCode}}' "$name")"
[ "$stop_ms" -lt 5000 ] || fail "docker stop took $stop_ms ms"
sleep 0.2
[ "$(tail -n 1 "$work/mqtt.out")" = "roda/status offline" ] || fail "last on roda/status: $(tail -n 3 "$work/mqtt.out")"
kill "$sub_pid"
warnings=$(docker logs "$name" 2>&1 | grep -E 'level=(warn|error)' || true)
[ -z "$warnings" ] || fail "warnings in the log: $warnings"
step "stopped"
echo "docker_test: ok"
