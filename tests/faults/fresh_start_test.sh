#!/usr/bin/env bash
# fresh_start_test.sh - a fleet publishes before the gateway has ever subscribed (a new session:
# the broker keeps nothing for it), then the gateway starts: what it could not see is counted,
# not silent. Every device's first batch the gateway sees sets its baseline, and the batches of
# its boot before it count as unseen_before_start, so sent = accepted + unseen, reading by reading.
#   fresh_start_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

fault_config "$work/gw.conf"
start_broker
devices=10 batches=200 readings=5
run_fleet fleet --mqtt "127.0.0.1:$broker_port" --devices $devices --batches $batches \
    --readings $readings --rate 1000 --seconds 30
sleep 1
start_gateway gw "$work/gw.conf"
wait "$fleet_pid" || fail "fleet: $(cat "$work/fleet.out")"
sent=$(fleet_result fleet readings)
baselined=0
for _ in $(seq 200); do
    baselined=$(metric 'roda_ingest_devices_baselined_total{input="mqtt"}')
    accepted=$(metric 'roda_ingest_readings_total{input="mqtt"}')
    unseen=$(metric 'roda_ingest_unseen_before_start_total{input="mqtt"}')
    [ "$baselined" -eq "$devices" ] && [ $((accepted + unseen * readings)) -eq "$sent" ] && break
    sleep 0.05
done
[ "$baselined" -eq "$devices" ] || fail "$baselined devices baselined, expected $devices"
[ "$unseen" -gt 0 ] || fail "nothing counted as unseen before start"
[ $((accepted + unseen * readings)) -eq "$sent" ] ||
    fail "sent $sent != accepted $accepted + unseen $unseen x $readings"
stop_gateway
grep -q "msg=\"stopped\".*devices_baselined=$devices unseen_before_start=$unseen" "$log" ||
    fail "the stopped line does not report the baselines"
report "fresh_start load=1000msg/s,gateway-started-1s-late sent=$sent accepted=$accepted" \
    "unseen_before_start=$((unseen * readings)) devices_baselined=$baselined" \
    "unaccounted=$((sent - accepted - unseen * readings))"
