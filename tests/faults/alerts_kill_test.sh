#!/usr/bin/env bash
# alerts_kill_test.sh - alerts raised while the MQTT broker is down wait in the file-backed alert
# journal (journal.alert_directory); the gateway is then killed (SIGKILL) and restarted with the
# broker back: the MQTT alert output resumes after the position it kept and publishes every one
# of them, each once, with its journal position as a stable id; a later restart publishes none of
# them again.
#   alerts_kill_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

fault_config "$work/gw.conf" "$(printf 'input_capacity = 65536\nalert_directory = %s/alerts' "$work")"
cat >> "$work/gw.conf" << CONF
[rule.hot]
kind = above
threshold = 50
CONF
sed -i 's/^keepalive = 5s$/keepalive = 5s\nalert_topic = roda\/alerts/' "$work/gw.conf"
start_broker
start_gateway first "$work/gw.conf"
# A subscriber with a persistent session: it gets what is published while it reconnects too.
mosquitto_sub -h 127.0.0.1 -p "$broker_port" -q 1 -c -i alert-sub -t roda/alerts \
    > "$work/alerts.out" 2> "$work/sub.log" &
sub_pid=$!
bg_pids+=("$sub_pid")
sleep 0.5

echo "== broker down: alerts wait in the journal"
kill -TERM "$broker_pid"
wait "$broker_pid" 2> /dev/null || true
wait_ready 503 "ready without a broker"
devices=5 sensors=4
# Sequence n sends value n: every sensor crosses 50 once, at sequence 51.
run_fleet udp --udp "127.0.0.1:$udp_port" --devices $devices --batches 60 --readings $sensors \
    --rate 1000 --seconds 20
wait "$fleet_pid" || fail "udp fleet"
expected=$((devices * sensors))
wait_metric 'roda_journal_appended_total{journal="alerts"}' "$expected"
[ "$(metric 'roda_alert_publish_total{result="published"}')" -eq 0 ] || fail "published without a broker"

echo "== gateway SIGKILL; broker and gateway back: the alerts are published after the restart"
kill -KILL "$gateway_pid"
wait "$gateway_pid" 2> /dev/null || true
gateway_pid=""
start_broker
start_gateway second "$work/gw.conf"
for _ in $(seq 200); do
    [ "$(grep -c '"state":"firing"' "$work/alerts.out" || true)" -ge "$expected" ] && break
    sleep 0.05
done
ids=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$work/alerts.out" | sort -n | uniq)
[ "$(wc -l <<< "$ids")" -eq "$expected" ] ||
    fail "$(wc -l <<< "$ids") distinct alerts received of $expected: $(cat "$work/alerts.out")"
[ "$(head -1 <<< "$ids")" -eq 0 ] && [ "$(tail -1 <<< "$ids")" -eq $((expected - 1)) ] ||
    fail "alert ids are not the journal positions 0..$((expected - 1))"
[ "$(metric 'roda_alert_publish_total{result="dropped"}')" -eq 0 ] || fail "alerts dropped"
received=$(grep -c '"state":"firing"' "$work/alerts.out")
report "alerts_kill alerts_raised_while_broker_down=$expected then_gateway_SIGKILL" \
    "published_after_restart=$(metric 'roda_alert_publish_total{result="published"}')" \
    "received=$received distinct=$(wc -l <<< "$ids") acknowledged_lost=0"
stop_gateway

echo "== a restart after they were published publishes none of them again"
start_gateway third "$work/gw.conf"
sleep 1
[ "$(metric 'roda_alert_publish_total{result="published"}')" -eq 0 ] ||
    fail "the third run published alerts again"
[ "$(grep -c '"state":"firing"' "$work/alerts.out")" -eq "$received" ] || fail "alerts repeated"
stop_gateway
