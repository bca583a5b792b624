#!/usr/bin/env bash
# json_test.sh - the JSON ingest end to end, as real processes: mosquitto, roda-gateway with a
# json topic (device from the topic level, a listed field mapping, epoch-ms timestamps, a rule
# scoped by sensor name), and an independent publisher (json_publish.py: Python's json module
# and paho-mqtt). Checks: readings land in /sensors with their names and values exact to the bit
# against what Python sent; every kind of bad input is counted under its reason and the good
# message after it is still handled; the name-scoped rule fires with sensor_name in the SSE
# alert; the sensor names survive a restart in the journal directory, and roda-replay of the
# recording names them and scopes the rule alike; roda-fleet --json into a
# mapping that takes the device from a JSON member and every numeric member as a sensor; two
# filters with their own [json.NAME] mappings in one gateway (device from a topic level and from
# a member, different sensor lists).
# Usage: json_test.sh RODA_GATEWAY PROTO_DIR RODA_FLEET
set -euo pipefail
gateway=$1
proto_dir=$2
fleet=$3
source "$(dirname "$0")/../gateway/lib.sh"
publisher="$(dirname "$0")/json_publish.py"

cat > "$work/json.conf" << CONF
[journal]
input_capacity = 65536
summary_capacity = 65536
alert_capacity = 1024
directory = $work/journal
segment_records = 4096
[limits]
max_sensors = 1000
max_series = 100
series_staleness = 0
[http]
port = 0
sse_heartbeat = 1s
[mqtt]
enabled = true
port = $broker_port
client_id = roda-json-test
topics = v1/devices/me/+
formats = json
device_from = topic
device_topic_level = 3
[json]
sensor_fields = a, b, c, d, e, temperature, humidity
timestamp_field = ts
timestamp_format = ms
[rule.hot]
kind = above
threshold = 50
names = temp*
CONF

publish() { # publish < lines of TOPIC<TAB>PAYLOAD
    "$python" "$publisher" "127.0.0.1:$broker_port" || fail "publisher failed"
}

echo "== 1. good and bad JSON messages, counted by reason; the good one after bad ones is handled"
start_broker
start_gateway gw "$work/json.conf"
curl -s -N --max-time 30 "$base/alerts" > "$work/sse.out" &
bg_pids+=($!)
wait_count "$work/sse.out" '^retry: ' 1
t=v1/devices/me
publish << MESSAGES
$t/dev-b	{"a": 1e308, "b": -0.0, "c": 18446744073709551616, "d": 0.1, "e": 5e-324, "temperature": 21.5, "ts": 1700000000123}
$t/dev-b	={not json
$t/dev-b	={"temperature": 1e999, "humidity": "wet", "ts": 2}
$t/dev-b	=[[[[[[[[[1]]]]]]]]]
$t/dev-b	=42
$t/dev-c	[{"temperature": 20.0, "ts": 1700000001000}, {"temperature": 60.5, "ts": 1700000002000}]
$t/dev-c	{"humidity": 45.0}
MESSAGES
wait_metric 'roda_ingest_messages_total{input="mqtt"}' 7
wait_metric 'roda_ingest_readings_total{input="mqtt"}' 8
for expected in decode_error=3 missing_field=25 out_of_range=1 wrong_type=1 other_device=0; do
    wait_metric "roda_ingest_dropped_total{input=\"mqtt\",reason=\"${expected%=*}\"}" \
        "${expected#*=}"
done
wait_metric 'roda_ingest_batches_total{input="mqtt"}' 4
wait_metric 'roda_ingest_batch_readings_total{input="mqtt"}' 35

echo "== 2. /sensors names each sensor and has its value exact to the bit"
wait_metric 'roda_sensors_tracked' 7
curl -s "$base/metrics" > "$work/metrics.out"
"$python" - "$base" "$work/metrics.out" << 'PY' || fail "sensor values or names differ"
import json, re, struct, sys, urllib.request
base, metrics = sys.argv[1], open(sys.argv[2]).read()
sent = {"a": 1e308, "b": -0.0, "c": float(18446744073709551616), "d": 0.1, "e": 5e-324,
        "temperature": 21.5}
ids = dict((m.group(2), m.group(1)) for m in re.finditer(
    r'roda_sensor_value\{device="dev-b",sensor="(\d+)",stat="last",name="([^"]+)"\}', metrics))
assert sorted(ids) == sorted(sent), ids
bits = lambda v: struct.pack("<d", v)
for name, value in sent.items():
    assert int(ids[name]) >= 1 << 63, (name, ids[name])
    text = urllib.request.urlopen(f"{base}/sensors/{ids[name]}").read()
    summary = json.loads(text, parse_int=float)
    assert summary["name"] == name and summary["device"] == "dev-b", text
    assert bits(summary["last"]) == bits(value), (name, summary["last"], value)
    assert summary["device_time_us"] == 1700000000123000, text
PY

echo "== 3. the rule scoped by name fires for dev-c's temperature, sensor_name in the alert"
wait_count "$work/sse.out" '^event: alert' 1
grep '^data: ' "$work/sse.out" | head -1 |
    grep -q '"state":"firing".*"device":"dev-c","sensor_name":"temperature","value":60.5' ||
    fail "alert without its sensor name: $(grep '^data: ' "$work/sse.out")"
sleep 0.5
[ "$(grep -c '^event: alert' "$work/sse.out")" = 1 ] || fail "a sensor outside names = temp* fired"

echo "== 4. the names survive a restart (sensors.rdn in the journal directory)"
stop_gateway
[ -s "$work/journal/sensors.rdn" ] || fail "no sensors.rdn in the journal directory"
start_gateway gw2 "$work/json.conf"
grep -q 'msg="sensor name registry restored".* names=7' "$work/gw2.log" ||
    fail "names not restored: $(grep 'sensor name' "$work/gw2.log")"
stop_gateway

echo "== 4b. roda-replay over the recording: the same name-scoped alert, with its sensor name"
"$(dirname "$gateway")/roda-replay" -c "$work/json.conf" "$work/journal" > "$work/replay.out" \
    2> "$work/replay.log" || fail "roda-replay: $(cat "$work/replay.log")"
[ "$(grep -c '"state":"firing"' "$work/replay.out")" = 1 ] &&
    grep -q '"device":"dev-c","sensor_name":"temperature","value":60.5' "$work/replay.out" ||
    fail "replayed alerts: $(cat "$work/replay.out")"

echo "== 5. roda-fleet --json: device from a member, every numeric member a sensor"
cat > "$work/fleet.conf" << CONF
[limits]
max_series = 100
series_staleness = 0
[http]
port = 0
[mqtt]
enabled = true
port = $broker_port
client_id = roda-json-fleet
topics = fleet/+/readings
formats = json
[json]
device_field = device
timestamp_field = ts
CONF
start_gateway fleet "$work/fleet.conf"
"$fleet" --json --mqtt "127.0.0.1:$broker_port" --topic-prefix fleet --devices 3 --sensors 4 \
    --batch 4 --count 30 --seconds 10 > "$work/fleet.out" || fail "roda-fleet --json"
sent=$(sed -n 's/^RESULT name=fleet .*readings=\([0-9]*\).*/\1/p' "$work/fleet.out")
[ "$sent" = 120 ] || fail "fleet sent '$sent' readings: $(cat "$work/fleet.out")"
wait_metric 'roda_ingest_readings_total{input="mqtt"}' 120
wait_metric 'roda_sensors_tracked' 12
# The scrape may come before the last summaries reach the slot store: look again for 15 s (a
# loaded machine).
for _ in $(seq 150); do # (a file: grep -q would close the pipe on curl, a failure with pipefail)
    curl -s "$base/metrics" > "$work/fleet_metrics.out"
    grep -q 'roda_sensor_value{device="dev2",sensor="[0-9]*",stat="last",name="s3"}' \
        "$work/fleet_metrics.out" && break
    sleep 0.1
done
grep -q 'roda_sensor_value{device="dev2",sensor="[0-9]*",stat="last",name="s3"}' \
    "$work/fleet_metrics.out" || fail "no series for dev2's sensor s3"
stop_gateway

echo "== 6. a mapping per topic filter: device from a topic level or from a member, own fields"
cat > "$work/mappings.conf" << CONF
[limits]
max_series = 100
series_staleness = 0
[http]
port = 0
[mqtt]
enabled = true
port = $broker_port
client_id = roda-json-mappings
topics = plant/+/env, meters/#
formats = json.env, json.meters
[json.env]
device_topic_level = 1
sensor_fields = temp
[json.meters]
device_field = meter
sensor_fields = kwh, volts
CONF
start_gateway mappings "$work/mappings.conf"
publish << MESSAGES
plant/boiler-1/env	{"temp": 70.25, "kwh": 1.5, "meter": "m-0"}
meters/hall/north	{"meter": "m-7", "kwh": 12.125, "volts": 230.5, "temp": 5.0}
MESSAGES
wait_metric 'roda_ingest_readings_total{input="mqtt"}' 3
wait_metric 'roda_sensors_tracked' 3
for _ in $(seq 150); do
    curl -s "$base/metrics" > "$work/mappings.out"
    [ "$(grep -c '^roda_sensor_value{.*stat="last"' "$work/mappings.out")" = 3 ] && break
    sleep 0.1
done
for series in 'device="boiler-1",sensor="[0-9]*",stat="last",name="temp"} 70.25' \
    'device="m-7",sensor="[0-9]*",stat="last",name="kwh"} 12.125' \
    'device="m-7",sensor="[0-9]*",stat="last",name="volts"} 230.5'; do
    grep -q "^roda_sensor_value{$series\$" "$work/mappings.out" ||
        fail "no series $series: $(grep '^roda_sensor_value{' "$work/mappings.out")"
done
echo "PASS json_test"
