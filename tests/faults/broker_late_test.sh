#!/usr/bin/env bash
# broker_late_test.sh - the gateway starts while its broker is down and the broker comes up 10 s
# later: /readyz says why it is not ready, connect failures are counted and logged at most once
# per 10 s (not once per attempt), and once connected every reading the fleet publishes arrives.
#   broker_late_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

fault_config "$work/gw.conf"
log="$work/gw.log"
"$gateway" -c "$work/gw.conf" > "$work/gw.stdout" 2> "$log" &
gateway_pid=$!
for _ in $(seq 200); do
    grep -q 'msg="started"' "$log" 2> /dev/null && break
    sleep 0.05
done
http_port=$(sed -n 's/.*msg="started".*http_port=\([0-9]*\).*/\1/p' "$log")
[ -n "$http_port" ] || fail "no started line"
base="http://127.0.0.1:$http_port"
sleep 10
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 503 ] || fail "ready without a broker"
grep -q 'mqtt broker not connected' <<< "$(curl -s "$base/readyz")" || fail "/readyz gives no reason"
failures=$(metric 'roda_mqtt_connect_failures_total')
[ "$failures" -ge 5 ] || fail "only $failures connect failures counted in 10 s"
lines=$(grep -c 'msg="mqtt connect failed"' "$log")
[ "$lines" -le 2 ] || fail "$lines log lines for $failures connect failures (not rate-limited)"
grep -q 'msg="mqtt connect failed".*broker=127.0.0.1:'"$broker_port"'.*reason=' "$log" ||
    fail "the connect failure line names no broker or reason"

start_broker
started=$(date +%s.%N)
wait_ready 200 "not ready after the broker came up"
ready_after=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
run_fleet fleet --mqtt "127.0.0.1:$broker_port" --devices 5 --batches 100 --readings 10 \
    --rate 1000 --seconds 30
wait "$fleet_pid" || fail "fleet: $(cat "$work/fleet.out")"
sent=$(fleet_result fleet readings)
wait_at_least 'roda_ingest_readings_total{input="mqtt"}' "$sent" 20
accepted=$(metric 'roda_ingest_readings_total{input="mqtt"}')
[ "$accepted" -eq "$sent" ] || fail "accepted $accepted of $sent"
report "broker_late broker_up_after_s=10 connect_failures=$failures log_lines=$lines" \
    "ready_after_broker_s=$ready_after sent=$sent accepted=$accepted acknowledged_lost=$((sent - accepted))"
stop_gateway
