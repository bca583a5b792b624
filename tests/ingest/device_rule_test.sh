#!/usr/bin/env bash
# device_rule_test.sh - a rule over a device's sensors (kind device) end to end, as real
# processes: mosquitto, roda-gateway with a json topic (device from the topic level) and a
# `temperature above 80 and fan_speed below 100` rule with hysteresis 2, and an independent
# publisher (json_publish.py: Python's json module and paho-mqtt). Checks: the rule fires on
# /alerts (SSE) only once both of a device's sensors hold, at the reading that completes it (not
# for another device holding one term), stays firing inside the hysteresis band and resolves past
# it; /api/alerts of the sensor that resolved it lists it; roda-replay of the recording makes the same two alerts.
# Usage: device_rule_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
gateway=$1
proto_dir=$2
source "$(dirname "$0")/../gateway/lib.sh"
publisher="$(dirname "$0")/json_publish.py"

cat > "$work/device.conf" << CONF
[journal]
input_capacity = 65536
summary_capacity = 65536
alert_capacity = 1024
directory = $work/journal
segment_records = 4096
[limits]
max_sensors = 100
max_devices = 10
max_series = 100
series_staleness = 0
[http]
port = 0
sse_heartbeat = 1s
[mqtt]
enabled = true
port = $broker_port
client_id = roda-device-rule-test
topics = v1/devices/me/+
formats = json
device_from = topic
device_topic_level = 3
[json]
sensor_fields = temperature, fan_speed
timestamp_field = ts
timestamp_format = ms
[rule.hot-slow-fan]
kind = device
when = temperature above 80 and fan_speed below 100
hysteresis = 2
severity = critical
devices = boiler-*
CONF

publish() { # publish < lines of TOPIC<TAB>PAYLOAD
    "$python" "$publisher" "127.0.0.1:$broker_port" || fail "publisher failed"
}

echo "== 1. the device rule fires at the reading that makes both terms hold"
start_broker
start_gateway gw "$work/device.conf"
curl -s -N --max-time 30 "$base/alerts" > "$work/sse.out" &
bg_pids+=($!)
wait_count "$work/sse.out" '^retry: ' 1
t=v1/devices/me
# boiler-2 holds only the fan term; boiler-1's fan first fails its term (120), then holds (90).
publish << MESSAGES
$t/boiler-2	{"fan_speed": 50.0, "ts": 1700000000000}
$t/boiler-1	{"temperature": 85.5, "ts": 1700000001000}
$t/boiler-1	{"fan_speed": 120.0, "ts": 1700000002000}
$t/boiler-1	{"fan_speed": 90.25, "ts": 1700000003000}
MESSAGES
wait_count "$work/sse.out" '^event: alert' 1
grep '^data: ' "$work/sse.out" | head -1 |
    grep -q '"rule":"hot-slow-fan","kind":"device","severity":"critical","state":"firing",.*"device":"boiler-1","sensor_name":"fan_speed","value":90.25,.*"threshold":100,.*"device_time_us":1700000003000000' ||
    fail "firing alert: $(grep '^data: ' "$work/sse.out")"

echo "== 2. inside the hysteresis band nothing changes; past it the rule resolves"
publish << MESSAGES
$t/boiler-1	{"temperature": 79.0, "ts": 1700000004000}
$t/boiler-2	{"temperature": 81.0, "ts": 1700000005000}
MESSAGES
# boiler-2 now holds both terms: its firing is the second alert, boiler-1 is still firing.
wait_count "$work/sse.out" '^event: alert' 2
grep '^data: ' "$work/sse.out" | sed -n 2p |
    grep -q '"state":"firing",.*"device":"boiler-2","sensor_name":"temperature","value":81,' ||
    fail "second alert: $(grep '^data: ' "$work/sse.out")"
publish << MESSAGES
$t/boiler-1	{"temperature": 78.0, "ts": 1700000006000}
MESSAGES
wait_count "$work/sse.out" '^event: alert' 3
grep '^data: ' "$work/sse.out" | sed -n 3p |
    grep -q '"state":"resolved",.*"device":"boiler-1","sensor_name":"temperature","value":78,.*"threshold":80,' ||
    fail "resolved alert: $(grep '^data: ' "$work/sse.out")"
sleep 0.5
[ "$(grep -c '^event: alert' "$work/sse.out")" = 3 ] || fail "more alerts than expected"
# /api/alerts of boiler-1's temperature: the resolved alert, the one that sensor made.
temperature=$(grep '^data: ' "$work/sse.out" | sed -n '3s/.*"sensor":\([0-9]*\),.*/\1/p')
curl -s "$base/api/alerts?sensor=$temperature" > "$work/api.out"
"$python" - "$work/api.out" << 'PY' || fail "/api/alerts: $(cat "$work/api.out")"
import json, sys
alerts = json.load(open(sys.argv[1]))
assert [(a["rule"], a["state"], a["value"]) for a in alerts] == [
    ("hot-slow-fan", "resolved", 78.0)], alerts
PY
stop_gateway

echo "== 3. roda-replay over the recording makes the same alerts"
"$(dirname "$gateway")/roda-replay" -c "$work/device.conf" "$work/journal" > "$work/replay.out" \
    2> "$work/replay.log" || fail "roda-replay: $(cat "$work/replay.log")"
grep '^data: ' "$work/sse.out" | sed 's/^data: //; s/"id":[0-9]*,//' > "$work/live.json"
sed 's/"id":[0-9]*,//' "$work/replay.out" > "$work/replayed.json"
diff "$work/live.json" "$work/replayed.json" > "$work/replay.diff" ||
    fail "replayed alerts differ: $(cat "$work/replay.diff")"
echo "PASS device_rule_test"
