#!/usr/bin/env bash
# restart_test.sh - restart equivalence: the same input (an independent fleet, the same bytes
# twice, over MQTT QoS 1 with a persistent session) goes once through a gateway that runs
# straight through and once through one SIGKILLed twice mid-stream and restarted on its
# journal.directory. Both end with the same state for every sensor (/sensors; the device index,
# an internal number given in arrival order, aside) and the same
# alerts with the same ids, on SSE (a client that reconnects with Last-Event-ID) and on MQTT,
# with no alert announced twice on SSE (on MQTT, QoS 1's at-least-once: only what was in flight
# at a kill comes again, same id, same content): a restart resumes from its snapshot and replays
# the journal tail through the same stages.
#   restart_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

devices=5 readings=4 batches=240
# restart_config NAME: the fault config with a journal directory of its own, 1 s snapshots, MQTT
# alerts, and rules that depend on the readings only (not on arrival times).
restart_config() {
    fault_config "$work/$1.conf" "$(printf 'input_capacity = 65536\ndirectory = %s/%s-journal\nsegment_records = 4096\nretained_segments = 16\nsnapshot_interval = 1s' "$work" "$1")"
    sed -i "s/^keepalive = 5s$/keepalive = 5s\nalert_topic = roda\/$1-alerts/; s/^client_id = fault-gateway$/client_id = $1-gateway/; s/^port = 0$/port = 0\nsse_heartbeat = 1s/" "$work/$1.conf"
    cat >> "$work/$1.conf" << CONF
[rule.high]
kind = above
value = last
threshold = 15
hysteresis = 5
severity = critical
[rule.low]
kind = below
value = last
threshold = 2
hysteresis = 3
[rule.mean_up]
kind = above
value = mean
threshold = 9.6
hysteresis = 0.1
CONF
}

# follow NAME: SSE and MQTT alert subscribers for run NAME, across its restarts.
follow() {
    "$python" "$here_faults/sse_client.py" "$work/$1.port" "$work/$1.sse" "$work/$1.stop" &
    bg_pids+=($!)
    mosquitto_sub -h 127.0.0.1 -p "$broker_port" -q 1 -c -i "$1-sub" -t "roda/$1-alerts" \
        > "$work/$1.mqtt" 2> "$work/$1-sub.log" &
    bg_pids+=($!)
    for _ in $(seq 100); do # the stream must be open before the first alert can fire
        [ -e "$work/$1.sse.connected" ] && return
        sleep 0.1
    done
    fail "the SSE client did not connect to run $1 in 10 s"
}

start_run() { # start_run NAME LOG_NAME
    start_gateway "$2" "$work/$1.conf"
    echo "$http_port" > "$work/$1.port"
}

# finish NAME: waits until every batch is in and every alert is out, then saves /sensors.
finish() {
    local last=$(((devices - 1) * 1000 + readings - 1)) previous=-1 now
    for _ in $(seq 200); do
        [ "$(curl -fs "$base/sensors/$last" | jq -r .count)" = "$batches" ] && break
        sleep 0.1
    done
    for _ in $(seq 100); do
        now=$(metric 'roda_stage_events_total{stage="rules"}')
        [ "$now" = "$previous" ] && break
        previous=$now
        sleep 0.2
    done
    : > "$work/$1.sensors"
    for d in $(seq 0 $((devices - 1))); do
        for k in $(seq 0 $((readings - 1))); do
            curl -fs "$base/sensors/$((d * 1000 + k))" |
                jq -cS 'del(.ingest_time_ns, .device_index)' >> "$work/$1.sensors" || fail "no sensor $d/$k"
        done
    done
    sleep 1.5 # the subscribers catch up
    stop_gateway
    touch "$work/$1.stop"
}

start_broker

echo "== straight through"
restart_config straight
start_run straight straight1
follow straight
sleep 0.5
run_fleet straight-fleet --mqtt "127.0.0.1:$broker_port" --client-id straight-fleet \
    --devices $devices --batches $batches --readings $readings --rate 300 --seconds 40 \
    --pattern sawtooth
wait "$fleet_pid" || fail "fleet: $(cat "$work/straight-fleet.out")"
finish straight

echo "== killed twice mid-stream"
restart_config killed
start_run killed killed1
follow killed
sleep 0.5
run_fleet killed-fleet --mqtt "127.0.0.1:$broker_port" --client-id killed-fleet \
    --devices $devices --batches $batches --readings $readings --rate 300 --seconds 40 \
    --pattern sawtooth
for round in 2 3; do
    sleep 1.3
    # A loaded machine may start the gateway slowly: kill it only once a snapshot is on disk.
    for _ in $(seq 100); do
        ls "$work"/killed-journal/snapshot-*.rds > /dev/null 2>&1 && break
        sleep 0.1
    done
    kill -KILL "$gateway_pid"
    wait "$gateway_pid" 2> /dev/null || true
    gateway_pid=""
    start_run killed "killed$round"
    grep -q 'msg="recovery" snapshot_position=[0-9]' "$log" ||
        fail "restart $round did not load a snapshot: $(grep 'msg="recovery"' "$log")"
done
wait "$fleet_pid" || fail "fleet: $(cat "$work/killed-fleet.out")"
replayed=$(sed -n 's/.*msg="recovered" replayed_records=\([0-9]*\).*/\1/p' "$work/killed3.log")
finish killed

echo "== compare"
cmp -s "$work/straight.sensors" "$work/killed.sensors" ||
    fail "per-sensor state differs: $(diff "$work/straight.sensors" "$work/killed.sensors" | grep "^[<>]" | sort -t: -k12 | head -4)"
# alerts FILE: the SSE alerts as "id rule sensor state value" lines, in order.
alerts() {
    jq -r 'select(.event == "alert") | .data | "\(.id) \(.rule) \(.sensor) \(.state) \(.value)"' "$1"
}
alerts "$work/straight.sse" > "$work/straight.alerts"
alerts "$work/killed.sse" > "$work/killed.alerts"
fired=$(grep -c ' firing ' "$work/straight.alerts" || true)
[ "$fired" -gt 20 ] || fail "too few alerts to compare: $fired"
[ "$(sort -u "$work/killed.alerts" | wc -l)" = "$(wc -l < "$work/killed.alerts")" ] ||
    fail "an alert was announced twice on SSE: $(sort "$work/killed.alerts" | uniq -d | head -3)"
cmp -s "$work/straight.alerts" "$work/killed.alerts" ||
    fail "SSE alerts differ: $(diff "$work/straight.alerts" "$work/killed.alerts" | head -60)"
grep -q '"event": "gap"' "$work/killed.sse" && fail "the SSE client saw a gap"
mqtt_alerts() {
    jq -r '"\(.id) \(.rule) \(.sensor) \(.state) \(.value)"' "$1" | sort -n
}
mqtt_alerts "$work/straight.mqtt" > "$work/straight.mqtt-alerts"
mqtt_alerts "$work/killed.mqtt" > "$work/killed.mqtt-alerts"
cmp -s "$work/straight.mqtt-alerts" "$work/straight.alerts" || fail "straight: MQTT and SSE differ"
# MQTT QoS 1 is at-least-once: an alert whose PUBACK was still in flight when the gateway was
# killed is published again after the restart, with the same id and the same content (consumers
# drop it by id). Everything else exactly once, and nothing missing.
uniq "$work/killed.mqtt-alerts" > "$work/killed.mqtt-unique"
cmp -s "$work/killed.mqtt-unique" "$work/straight.alerts" ||
    fail "MQTT alerts differ: $(diff "$work/straight.alerts" "$work/killed.mqtt-unique" | head)"
[ "$(cut -d' ' -f1 "$work/killed.mqtt-unique" | uniq -d | wc -l)" = 0 ] ||
    fail "one MQTT id carried two different alerts"
republished=$(($(wc -l < "$work/killed.mqtt-alerts") - $(wc -l < "$work/killed.mqtt-unique")))
report "restart_equivalence kills=2 sensors=$((devices * readings)) alerts=$(wc -l < "$work/straight.alerts") replayed_at_last_restart=${replayed:-0} mqtt_republished_in_flight=$republished"
echo "PASS"
