#!/usr/bin/env bash
# formats_test.sh - the three payload formats driving the same rules, as real processes: one
# mosquitto, one roda-gateway with a roda.v1 filter (the payload names the device), a json.NAME
# filter (the mapping's own topic level names it) and a sparkplug.b filter, and each format's
# independent encoder (Python protobuf from protoc for roda.v1 and Sparkplug B, Python's json),
# all through paho-mqtt. Checks: the one threshold rule fires for the roda.v1 device, the JSON
# device, the Sparkplug edge node and its device alike; a DDEATH fires the stale rule at once for
# that device's sensors only.
# Usage: formats_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
gateway=$1
proto_dir=$2
source "$(dirname "$0")/../gateway/lib.sh"
here=$(dirname "$0")

cat > "$work/formats.conf" << CONF
[limits]
max_sensors = 100
[http]
port = 0
sse_heartbeat = 1s
[mqtt]
enabled = true
port = $broker_port
client_id = roda-formats-test
topics = roda/+/readings, plant/+/env, spBv1.0/#
formats = roda.v1, json.env, sparkplug.b
[json.env]
device_topic_level = 1
sensor_fields = temp
[rule.hot]
kind = above
threshold = 0.5
[rule.silent]
kind = stale
after = 30m
CONF

start_broker
start_gateway gw "$work/formats.conf"
curl -s -N --max-time 30 "$base/alerts" > "$work/sse.out" &
bg_pids+=($!)
wait_count "$work/sse.out" '^retry: ' 1

echo "== 1. one rule, three formats: roda.v1, JSON and Sparkplug B readings fire it alike"
"$python" "$here/../faults/fleet.py" --proto-dir "$proto_dir" --work "$work" \
    --mqtt "127.0.0.1:$broker_port" --client-id roda-formats-v1 --device-prefix v1- --devices 1 \
    --batches 1 --readings 1 --seconds 10 > "$work/fleet.out" || fail "fleet.py failed"
grep -q '^RESULT sent=1 acked=1 ' "$work/fleet.out" || fail "roda.v1: $(cat "$work/fleet.out")"
"$python" "$here/json_publish.py" "127.0.0.1:$broker_port" << 'MESSAGES' || fail "json_publish failed"
plant/boiler-1/env	{"temp": 61.5}
MESSAGES
"$python" "$here/sparkplug_publish.py" "127.0.0.1:$broker_port" "$proto_dir" "$work" << 'MESSAGES' ||
spBv1.0/G1/NBIRTH/edge-n1	{"seq": 0, "metrics": [{"name": "Motor/Temp", "alias": 1, "datatype": "Double", "double_value": 0.25}]}
spBv1.0/G1/DBIRTH/edge-n1/D1	{"seq": 1, "metrics": [{"name": "Pressure", "alias": 1, "datatype": "Float", "float_value": 0.5}]}
spBv1.0/G1/NDATA/edge-n1	{"seq": 2, "metrics": [{"alias": 1, "double_value": 62.5}]}
spBv1.0/G1/DDATA/edge-n1/D1	{"seq": 3, "metrics": [{"alias": 1, "float_value": 63.5}]}
MESSAGES
    fail "sparkplug_publish failed"
wait_metric 'roda_ingest_readings_total{input="mqtt"}' 6
firing='"rule":"hot","kind":"above","severity":"warning","state":"firing","sensor":[0-9]*'
wait_count "$work/sse.out" "$firing,\"device\":\"v1-0\",\"sensor_name\":null,\"value\":1[,}]" 1
wait_count "$work/sse.out" "$firing,\"device\":\"boiler-1\",\"sensor_name\":\"temp\",\"value\":61.5" 1
wait_count "$work/sse.out" "$firing,\"device\":\"G1/edge-n1\",\"sensor_name\":\"Motor/Temp\",\"value\":62.5" 1
wait_count "$work/sse.out" "$firing,\"device\":\"G1/edge-n1/D1\",\"sensor_name\":\"Pressure\",\"value\":63.5" 1
[ "$(grep -c '"rule":"hot"' "$work/sse.out")" = 4 ] || fail "hot alerts: $(grep '"rule":"hot"' "$work/sse.out")"

echo "== 2. DDEATH: the stale rule fires at once for the device's sensors, no one else's"
"$python" "$here/sparkplug_publish.py" "127.0.0.1:$broker_port" "$proto_dir" "$work" << 'MESSAGES' ||
spBv1.0/G1/DDEATH/edge-n1/D1	{"seq": 4}
MESSAGES
    fail "sparkplug_publish failed"
wait_count "$work/sse.out" '"rule":"silent","kind":"stale","severity":"warning","state":"firing","sensor":[0-9]*,"device":"G1/edge-n1/D1","sensor_name":"Pressure"' 1
wait_metric 'roda_sparkplug_events_total{event="death"}' 1
sleep 0.5
[ "$(grep -c '"rule":"silent"' "$work/sse.out")" = 1 ] ||
    fail "DDEATH silenced others: $(grep '"rule":"silent"' "$work/sse.out")"
echo "PASS formats_test"
