#!/usr/bin/env bash
# gateway_kill_test.sh - the gateway is killed (SIGKILL) under QoS 1 load with a file-backed input
# journal, then restarted on the same journal: every reading of the fleet is in the journal's
# audit trail (roda-audit), counted by (sensor, value) = (device, sequence); readings the first
# run had received when it died were already in the mapped journal, and what it had not received
# stayed queued at the broker for the persistent session.
#   gateway_kill_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
audit=$(dirname "$gateway")/roda-audit

fault_config "$work/gw.conf" "$(printf 'input_capacity = 65536\ndirectory = %s/journal\nsegment_records = 8192\nretained_segments = 16' "$work")"
start_broker
start_gateway first "$work/gw.conf"

devices=10 batches=150 readings=10
run_fleet fleet --mqtt "127.0.0.1:$broker_port" --devices $devices --batches $batches \
    --readings $readings --rate 500 --seconds 40
sleep 1
kill -KILL "$gateway_pid"
wait "$gateway_pid" 2> /dev/null || true
killed=$(date +%s.%N)
gateway_pid=""
sleep 0.5
start_gateway second "$work/gw.conf"
wait "$fleet_pid" || fail "the fleet did not get every batch acknowledged: $(cat "$work/fleet.out")"
sent=$(fleet_result fleet readings)
[ "$sent" -eq $((devices * batches * readings)) ] || fail "fleet sent $sent readings"
# The second run takes what the first had not received: wait until its count stops moving.
previous=-1
for _ in $(seq 60); do
    now=$(metric 'roda_ingest_messages_total{input="mqtt"}')
    [ "$now" = "$previous" ] && break
    previous=$now
    sleep 0.5
done
recovered=$(awk -v s="$killed" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
stop_gateway
"$audit" "$work/journal" --print > "$work/audit.txt" || fail "roda-audit failed"
in_journal=$(grep -c '^position=[0-9]* sensor=' "$work/audit.txt")
unique=$(sed -n 's/.* sensor=\([0-9]*\) value=\([0-9.e+]*\) .*/\1 \2/p' "$work/audit.txt" |
    sort -u | wc -l)
[ "$unique" -eq "$sent" ] ||
    fail "the journal holds $unique distinct readings of $sent sent ($in_journal records)"
report "gateway_kill load=500msg/s,1xSIGKILL sent=$sent in_journal=$in_journal" \
    "distinct=$unique redelivered=$((in_journal - unique)) acknowledged_lost=$((sent - unique))" \
    "recovery_s=$recovered"
