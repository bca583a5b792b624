#!/usr/bin/env bash
# broker_kill_test.sh - the MQTT broker is killed (SIGKILL) twice under QoS 1 load and restarted:
# with the shipped broker settings (persistence, a save after every change) every reading the
# broker acknowledged to the fleet reaches the gateway exactly once: accepted = sent, every gap a
# restart opened in a device's sequence filled by late batches, nothing dropped. Then the case
# the broker's persistence decides: messages queued for the gateway's persistent session while
# the gateway is stopped, the broker killed and restarted: every queued message still arrives
# exactly once.
#   broker_kill_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

# File-backed: the device registry outlives the gateway, so a message the broker restores from
# its last save after a kill and delivers again (one the previous gateway had already taken) is
# known by its sequence number and counted as a duplicate, not accepted twice.
fault_config "$work/gw.conf" "$(printf 'input_capacity = 65536\ndirectory = %s/journal\nsegment_records = 4096\nretained_segments = 16' "$work")"
start_broker
start_gateway gw "$work/gw.conf"

devices=10 batches=300 readings=10
run_fleet fleet --mqtt "127.0.0.1:$broker_port" --devices $devices --batches $batches \
    --readings $readings --rate 1000 --seconds 40
start=$(date +%s.%N)
for delay in 1 1.2; do
    sleep "$delay"
    kill -KILL "$broker_pid"
    wait "$broker_pid" 2> /dev/null || true
    sleep 0.5
    start_broker
done
wait "$fleet_pid" || fail "the fleet did not get every batch acknowledged: $(cat "$work/fleet.out")"
sent=$(fleet_result fleet readings)
[ "$sent" -eq $((devices * batches * readings)) ] || fail "fleet sent $sent readings"
wait_at_least 'roda_ingest_readings_total{input="mqtt"}' "$sent" 30 ||
    fail "counters: $(curl -s "$base/metrics" | grep -E "^roda_ingest.*mqtt")"
recovered=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
accepted=$(metric 'roda_ingest_readings_total{input="mqtt"}')
lost=$(metric 'roda_ingest_lost_upstream_total{input="mqtt"}')
late=$(metric 'roda_ingest_late_total{input="mqtt"}')
duplicates=$(metric 'roda_ingest_duplicates_total{input="mqtt"}')
[ "$accepted" -eq "$sent" ] || fail "accepted $accepted of $sent readings"
# A restart reorders a device's batches: a gap opens (lost_upstream) and is filled (late).
[ "$lost" -eq "$late" ] || fail "$((lost - late)) batches still missing from device sequences"
for reason in journal_full disk_full decode_error; do
    [ "$(dropped mqtt $reason)" -eq 0 ] || fail "readings dropped as $reason"
done
report "broker_kill load=1000msg/s,2xSIGKILL sent=$sent accepted=$accepted lost_upstream=$lost late=$late" \
    "duplicates=$duplicates acknowledged_lost=$((sent - accepted)) seconds=$recovered"
stop_gateway

echo "== messages queued for the stopped gateway survive a broker SIGKILL"
run_fleet queued --mqtt "127.0.0.1:$broker_port" --client-id queued-fleet --device-prefix q- \
    --devices 10 --batches 100 --readings 10 --rate 2000 --seconds 30
wait "$fleet_pid" || fail "the queued fleet did not get every batch acknowledged"
queued=$(fleet_result queued readings)
kill -KILL "$broker_pid"
wait "$broker_pid" 2> /dev/null || true
start_broker
start_gateway again "$work/gw.conf"
wait_at_least 'roda_ingest_readings_total{input="mqtt"}' "$queued" 20
queued_accepted=$(metric 'roda_ingest_readings_total{input="mqtt"}')
[ "$queued_accepted" -eq "$queued" ] || fail "accepted $queued_accepted of $queued queued readings"
report "broker_kill_queued load=queued-while-gateway-stopped,1xSIGKILL sent=$queued" \
    "accepted=$queued_accepted acknowledged_lost=$((queued - queued_accepted))"
stop_gateway
