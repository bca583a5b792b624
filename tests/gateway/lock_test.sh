#!/usr/bin/env bash
# lock_test.sh - one gateway per journal.directory: a second gateway started on the directory of
# a running one exits 1 at start with an error naming the directory and the holder's pid (and
# touches none of its files); once the first is SIGKILLed (the kernel drops its flock) the second
# starts on the directory and restores what the first journaled.
# Usage: lock_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
gateway=$1
proto_dir=$2
source "$(dirname "$0")/lib.sh"

{
    udp_only_config
    printf '[journal]\ninput_capacity = 65536\ndirectory = %s\nsegment_records = 4096\n' "$work/journal"
} > "$work/gw.conf"

start_gateway first "$work/gw.conf"
first_pid=$gateway_pid
for s in 1 2 3; do udp_batch "$s" 1.5; done
wait_metric 'roda_ingest_readings_total{input="udp"}' 3
registry_before=$(md5sum < "$work/journal/devices.rdd")

# The second gateway on the same directory: refused, exit status 1 (as every start error).
status=0
timeout 10 "$gateway" -c "$work/gw.conf" > "$work/second.stdout" 2> "$work/second.log" || status=$?
[ "$status" = 1 ] || fail "a second gateway on the directory exited $status, expected 1"
grep -q "msg=\"journal directory in use\" directory=$work/journal .*holder_pid=$first_pid " \
    "$work/second.log" || fail "no error naming the directory and pid $first_pid"
grep -q 'msg="started"' "$work/second.log" && fail "the second gateway started"
[ "$(md5sum < "$work/journal/devices.rdd")" = "$registry_before" ] ||
    fail "the refused gateway changed the device registry"
kill -0 "$first_pid" || fail "the first gateway died"
curl -fs "$base/readyz" > /dev/null || fail "the first gateway is no longer ready"

# SIGKILL releases the lock: the second starts on the directory and restores the sensor.
kill -KILL "$first_pid"
wait "$first_pid" 2> /dev/null || true
gateway_pid=""
start_gateway second "$work/gw.conf"
[ "$(curl -fs "$base/sensors/7" | jq -r .count)" = 3 ] ||
    fail "the second gateway did not restore the first one's readings"
stop_gateway
echo "PASS"
