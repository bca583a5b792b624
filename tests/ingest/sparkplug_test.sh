#!/usr/bin/env bash
# sparkplug_test.sh - Sparkplug B ingest end to end, as real processes: mosquitto, roda-gateway
# with a roda.v1 filter (device from the topic) beside a sparkplug.b filter (spBv1.0/#), an
# independent edge node (sparkplug_publish.py: Python protobuf from protoc and paho-mqtt) and
# mosquitto_sub watching for the gateway's Rebirth request. Checks: NBIRTH + DBIRTH then DATA by
# alias, values exact to the bit; seq wrap 255 -> 0 without loss; a seq gap counted as
# lost_upstream and answered by one NCMD Rebirth; a duplicate dropped; bad input of every kind
# (not protobuf, a bad topic, oversize, truncated, too many metrics, an unknown alias, null, a
# value its datatype cannot hold, NaN, no seq, names too long) and commands counted by reason,
# the next good message handled; a rebirth whose aliases change;
# the same rule fires for the Sparkplug node as for a roda.v1 device; a stale NDEATH ignored, the
# real one fires the stale rule at once for the node's and its device's sensors; every message
# and reading in the accounting identities; the same node id in two groups as two devices
# (<group>/<node>); roda-fleet --sparkplug.
# Usage: sparkplug_test.sh RODA_GATEWAY PROTO_DIR RODA_FLEET
set -euo pipefail
gateway=$1
proto_dir=$2
fleet=$3
source "$(dirname "$0")/../gateway/lib.sh"
publisher="$(dirname "$0")/sparkplug_publish.py"

cat > "$work/sparkplug.conf" << CONF
[journal]
input_capacity = 65536
summary_capacity = 65536
alert_capacity = 1024
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
client_id = roda-sparkplug-test
topics = roda/+/readings, spBv1.0/#
formats = roda.v1, sparkplug.b
device_from = topic
device_topic_level = 1
[sparkplug]
max_scopes = 16
max_aliases = 64
[rule.hot]
kind = above
threshold = 50
devices = *edge-*
[rule.silent]
kind = stale
after = 30m
CONF

publish() { # publish < lines of TOPIC<TAB>PAYLOAD
    "$python" "$publisher" "127.0.0.1:$broker_port" "$proto_dir" "$work" || fail "publisher failed"
}
n=spBv1.0/G1/NDATA/edge-n1
T0=1700000000000

echo "== 1. NBIRTH, DBIRTH, DATA by alias: values exact to the bit"
start_broker
mosquitto_sub -h 127.0.0.1 -p "$broker_port" -t 'spBv1.0/+/NCMD/#' -F '%t %x' > "$work/ncmd.out" &
bg_pids+=($!)
start_gateway gw "$work/sparkplug.conf"
curl -s -N --max-time 60 "$base/alerts" > "$work/sse.out" &
bg_pids+=($!)
wait_count "$work/sse.out" '^retry: ' 1
publish << MESSAGES
spBv1.0/G1/NBIRTH/edge-n1	{"seq": 0, "timestamp": $T0, "metrics": [{"name": "bdSeq", "datatype": "UInt64", "long_value": 0}, {"name": "Motor/Temp", "alias": 1, "datatype": "Double", "double_value": 21.5}, {"name": "Motor/Speed", "alias": 2, "datatype": "Int32", "int_value": 15}, {"name": "Flag", "alias": 3, "datatype": "Boolean", "boolean_value": True}, {"name": "Label", "alias": 4, "datatype": "String", "string_value": "x"}, {"name": "Big", "alias": 5, "datatype": "UInt64", "long_value": 18446744073709551615}, {"name": "Small", "alias": 6, "datatype": "Int8", "int_value": 4294967168}]}
spBv1.0/G1/DBIRTH/edge-n1/D1	{"seq": 1, "timestamp": $T0, "metrics": [{"name": "Pressure", "alias": 1, "datatype": "Float", "float_value": 1.5}]}
$n	{"seq": 2, "timestamp": $T0, "metrics": [{"alias": 1, "timestamp": $((T0 + 1000)), "double_value": 0.1}, {"alias": 2, "int_value": 4294967289}, {"alias": 5, "long_value": 9007199254740993}]}
spBv1.0/G1/DDATA/edge-n1/D1	{"seq": 3, "timestamp": $((T0 + 2000)), "metrics": [{"alias": 1, "float_value": 3.1415927}]}
MESSAGES
wait_metric 'roda_ingest_readings_total{input="mqtt"}' 11
wait_metric 'roda_sensors_tracked' 7
"$python" - "$base" "$proto_dir" "$work" << 'PY' || fail "sensor values, names or times differ"
import json, re, struct, sys, urllib.request
base, proto_dir, work = sys.argv[1:4]
f32 = lambda v: struct.unpack("<f", struct.pack("<f", v))[0]
sent = {("G1/edge-n1", "Motor/Temp"): (0.1, 1700000001000000),
        ("G1/edge-n1", "Motor/Speed"): (-7.0, 1700000000000000),
        ("G1/edge-n1", "Big"): (float(2**53 + 1), 1700000000000000),
        ("G1/edge-n1", "Flag"): (1.0, 1700000000000000),
        ("G1/edge-n1", "Small"): (-128.0, 1700000000000000),
        ("G1/edge-n1", "bdSeq"): (0.0, 1700000000000000),
        ("G1/edge-n1/D1", "Pressure"): (f32(3.1415927), 1700000002000000)}
metrics = urllib.request.urlopen(f"{base}/metrics").read().decode()
ids = {(m.group(1), m.group(3)): m.group(2) for m in re.finditer(
    r'roda_sensor_value\{device="([^"]+)",sensor="(\d+)",stat="last",name="([^"]+)"\}', metrics)}
assert sorted(ids) == sorted(sent), ids
bits = lambda v: struct.pack("<d", v)
for key, (value, time_us) in sent.items():
    summary = json.loads(urllib.request.urlopen(f"{base}/sensors/{ids[key]}").read(),
                         parse_int=float)
    assert summary["name"] == key[1] and summary["device"] == key[0], summary
    assert bits(summary["last"]) == bits(value), (key, summary["last"], value)
    assert summary["device_time_us"] == time_us, (key, summary)
PY

echo "== 2. seq wraps 255 -> 0 without loss"
for s in $(seq 4 255) 0 1; do
    printf '%s\t{"seq": %d, "metrics": [{"alias": 1, "double_value": 10.0}]}\n' "$n" "$s"
done | publish
wait_metric 'roda_ingest_readings_total{input="mqtt"}' 265
[ "$(metric 'roda_ingest_lost_upstream_total{input="mqtt"}')" = 0 ] || fail "the wrap counted as lost"

echo "== 3. a seq gap: 3 lost upstream, one NCMD Rebirth on the broker; a duplicate dropped"
publish << MESSAGES
$n	{"seq": 5, "metrics": [{"alias": 1, "double_value": 11.0}]}
$n	{"seq": 5, "metrics": [{"alias": 1, "double_value": 11.0}]}
MESSAGES
wait_metric 'roda_ingest_lost_upstream_total{input="mqtt"}' 3
wait_metric 'roda_ingest_duplicates_total{input="mqtt"}' 1
wait_count "$work/ncmd.out" '^spBv1.0/G1/NCMD/edge-n1 ' 1
"$python" "$publisher" --decode "$proto_dir" "$work" "$(cut -d' ' -f2 "$work/ncmd.out" | head -1)" |
    grep -qx 'Node Control/Rebirth=boolean_value:True datatype=11' ||
    fail "not a Rebirth request: $(cat "$work/ncmd.out")"
wait_metric 'roda_ingest_dropped_total{input="mqtt",reason="ignored"}' 1 # its own NCMD, read back

echo "== 4. bad input of every kind counted by its reason; the next good message handled"
# Not protobuf, a bad topic, unknown alias and null; a payload over 256 KiB, one cut inside a
# metric, 1025 metrics (the bound is 1024); a value that does not fit its Int8, NaN; no seq (the
# readings go in, the seq is not judged); in a DBIRTH a name too long for a sensor (64-127
# bytes: bad_name) and one too long for a definition too (over 127: name_too_long, and its value
# bad_name), next to a good metric.
long64=$(printf 'L%.0s' $(seq 64))
long128=$(printf 'M%.0s' $(seq 128))
too_many=$("$python" -c 'print([{"alias": 1, "double_value": 1.0}] * 1025)')
publish << MESSAGES
$n	=not protobuf
spBv1.0/G1/BOGUS/edge-n1	{"seq": 6}
$n	{"seq": 6, "metrics": [{"alias": 1, "double_value": 12.0}, {"alias": 42, "double_value": 1.0}, {"alias": 2, "is_null": True}]}
$n	=$(head -c 262145 /dev/zero | tr '\0' x)
$n	{"seq": 7, "metrics": [{"alias": 1, "double_value": 13.0}], "cut": 1}
$n	{"seq": 7, "metrics": $too_many}
$n	{"seq": 7, "metrics": [{"alias": 6, "int_value": 256}, {"alias": 1, "double_value": "nan"}, {"alias": 1, "double_value": 14.0}]}
$n	{"metrics": [{"alias": 1, "double_value": 15.0}]}
spBv1.0/G1/DBIRTH/edge-n1/D2	{"seq": 8, "metrics": [{"name": "$long64", "alias": 1, "datatype": "Double", "double_value": 1.0}, {"name": "$long128", "alias": 2, "datatype": "Double", "double_value": 2.0}, {"name": "ok", "alias": 3, "datatype": "Double", "double_value": 3.0}]}
MESSAGES
wait_metric 'roda_ingest_readings_total{input="mqtt"}' 270
for expected in decode_error=1 unknown_topic=1 oversize=1 truncated=1 too_many_readings=1 \
    non_finite=1 out_of_range=1 wrong_type=3 missing_field=2; do
    wait_metric "roda_ingest_dropped_total{input=\"mqtt\",reason=\"${expected%=*}\"}" \
        "${expected#*=}"
done
for expected in unknown_metric=1 unsupported=1 null=1 invalid=1 bad_name=2 name_too_long=1; do
    wait_metric "roda_sparkplug_metrics_dropped_total{reason=\"${expected%=*}\"}" "${expected#*=}"
done
wait_metric 'roda_sparkplug_events_total{event="no_seq"}' 1
for series in 'G1/edge-n1",sensor="[0-9]*",stat="last",name="Motor/Temp"} 15' \
    'G1/edge-n1/D2",sensor="[0-9]*",stat="last",name="ok"} 3'; do
    for _ in $(seq 150); do # (a file: grep -q would close the pipe on curl)
        curl -s "$base/metrics" > "$work/good.out"
        grep -q "^roda_sensor_value{device=\"$series\$" "$work/good.out" && break
        sleep 0.1
    done
    grep -q "^roda_sensor_value{device=\"$series\$" "$work/good.out" ||
        fail "the good reading after bad input is missing: $series"
done

echo "== 5. a rebirth with new aliases; the hot rule fires for Sparkplug and roda.v1 alike"
publish << MESSAGES
spBv1.0/G1/NBIRTH/edge-n1	{"seq": 0, "metrics": [{"name": "bdSeq", "datatype": "UInt64", "long_value": 1}, {"name": "Motor/Temp", "alias": 7, "datatype": "Double", "double_value": 20.0}, {"name": "Motor/Speed", "alias": 1, "datatype": "Int32", "int_value": 16}]}
spBv1.0/G1/DBIRTH/edge-n1/D1	{"seq": 1, "metrics": [{"name": "Pressure", "alias": 3, "datatype": "Float", "float_value": 2.5}]}
$n	{"seq": 2, "metrics": [{"alias": 7, "double_value": 99.5}, {"alias": 1, "int_value": 17}]}
MESSAGES
printf 'device: "edge-v1"\nreadings { sensor_id: 7 value: 60.5 }\n' |
    protoc --encode=roda.v1.Batch -I "$proto_dir" "$proto_dir/roda.proto" > "$work/v1.bin"
mosquitto_pub -h 127.0.0.1 -p "$broker_port" -q 1 -t roda/edge-v1/readings -f "$work/v1.bin"
wait_metric 'roda_ingest_readings_total{input="mqtt"}' 277
wait_count "$work/sse.out" '"rule":"hot","kind":"above","severity":"warning","state":"firing","sensor":[0-9]*,"device":"G1/edge-n1","sensor_name":"Motor/Temp","value":99.5' 1
wait_count "$work/sse.out" '"rule":"hot","kind":"above","severity":"warning","state":"firing","sensor":7,"device":"edge-v1","sensor_name":null,"value":60.5' 1

echo "== 6. a stale NDEATH is ignored; the real one fires the stale rule at once"
publish << MESSAGES
spBv1.0/G1/NDEATH/edge-n1	{"metrics": [{"name": "bdSeq", "datatype": "UInt64", "long_value": 0}]}
MESSAGES
wait_metric 'roda_sparkplug_events_total{event="stale_death"}' 1
sleep 0.3
grep -q '"rule":"silent"' "$work/sse.out" && fail "a stale NDEATH silenced the node"
publish << MESSAGES
spBv1.0/G1/NDEATH/edge-n1	{"metrics": [{"name": "bdSeq", "datatype": "UInt64", "long_value": 1}]}
MESSAGES
for sensor in Motor/Temp Motor/Speed bdSeq Flag Big Small; do
    wait_count "$work/sse.out" "\"rule\":\"silent\",\"kind\":\"stale\",\"severity\":\"warning\",\"state\":\"firing\",\"sensor\":[0-9]*,\"device\":\"G1/edge-n1\",\"sensor_name\":\"$sensor\"" 1
done
wait_count "$work/sse.out" '"rule":"silent","kind":"stale",.*"state":"firing",.*"device":"G1/edge-n1/D1","sensor_name":"Pressure"' 1
grep -q '"rule":"silent".*"device":"edge-v1"' "$work/sse.out" && fail "the roda.v1 device was silenced"

echo "== 7. every message and reading accounted for; the Sparkplug counters"
wait_metric 'roda_ingest_messages_total{input="mqtt"}' 276
curl -s "$base/metrics" > "$work/metrics.out"
"$python" - "$work/metrics.out" << 'PY' || fail "accounting"
import re, sys
text = open(sys.argv[1]).read()
v = lambda name, labels='input="mqtt"': int(re.search(
    re.escape(name + "{" + labels + "}") + r" (\d+)", text).group(1))
drop = lambda reason: v("roda_ingest_dropped_total", f'input="mqtt",reason="{reason}"')
messages = ["decode_error", "truncated", "oversize", "too_many_readings", "unknown_topic",
            "bad_device", "too_many_devices", "ignored"]
readings = ["non_finite", "missing_field", "wrong_type", "out_of_range", "other_device",
            "journal_full", "disk_full", "malformed_reading"]
assert v("roda_ingest_messages_total") == v("roda_ingest_batches_total") + sum(
    map(drop, messages)) + v("roda_ingest_duplicates_total") == 276
assert v("roda_ingest_batch_readings_total") == v("roda_ingest_readings_total") + sum(
    map(drop, readings)) == 284
assert (v("roda_ingest_batches_total"), drop("ignored")) == (268, 2)
events = {"birth": 5, "death": 1, "stale_death": 1, "lost": 3, "duplicate": 1,
          "rebirth_request": 1, "rebirth_unsent": 0, "scopes_full": 0}
for event, count in events.items():
    assert v("roda_sparkplug_events_total", f'event="{event}"') == count, event
PY
[ "$(grep -c '^spBv1.0/G1/NCMD/edge-n1 ' "$work/ncmd.out")" = 1 ] || fail "more than one Rebirth"

echo "== 7b. the same node id in another group is another device (ids are unique per group)"
publish << MESSAGES
spBv1.0/G2/NBIRTH/edge-n1	{"seq": 0, "metrics": [{"name": "bdSeq", "datatype": "UInt64", "long_value": 0}, {"name": "Motor/Temp", "alias": 1, "datatype": "Double", "double_value": 5.0}]}
spBv1.0/G2/NDATA/edge-n1	{"seq": 1, "metrics": [{"alias": 1, "double_value": 6.25}]}
MESSAGES
wait_metric 'roda_ingest_readings_total{input="mqtt"}' 280
wait_metric 'roda_sparkplug_events_total{event="birth"}' 6
for _ in $(seq 150); do
    curl -s "$base/metrics" > "$work/groups.out"
    grep -q '^roda_sensor_value{device="G2/edge-n1",sensor="[0-9]*",stat="last",name="Motor/Temp"} 6.25$' "$work/groups.out" && break
    sleep 0.1
done
g1=$(sed -n 's/^roda_sensor_value{device="G1\/edge-n1",sensor="\([0-9]*\)",stat="last",name="Motor\/Temp"} 99.5$/\1/p' "$work/groups.out")
g2=$(sed -n 's/^roda_sensor_value{device="G2\/edge-n1",sensor="\([0-9]*\)",stat="last",name="Motor\/Temp"} 6.25$/\1/p' "$work/groups.out")
[ -n "$g1" ] && [ -n "$g2" ] && [ "$g1" != "$g2" ] ||
    fail "G1/edge-n1 and G2/edge-n1 not apart: $(grep 'edge-n1' "$work/groups.out")"
[ "$(metric 'roda_ingest_lost_upstream_total{input="mqtt"}')" = 3 ] || fail "G2's seq judged with G1's"
stop_gateway

echo "== 8. roda-fleet --sparkplug: NBIRTH then NDATA by alias, nothing lost"
cat > "$work/fleet.conf" << CONF
[limits]
max_series = 100
series_staleness = 0
[http]
port = 0
[mqtt]
enabled = true
port = $broker_port
client_id = roda-sparkplug-fleet
topics = spBv1.0/#
formats = sparkplug.b
CONF
start_gateway fleet "$work/fleet.conf"
"$fleet" --sparkplug --mqtt "127.0.0.1:$broker_port" --topic-prefix fleet --devices 3 --sensors 4 \
    --batch 4 --count 30 --seconds 10 > "$work/fleet.out" || fail "roda-fleet --sparkplug"
sent=$(sed -n 's/^RESULT name=fleet .*readings=\([0-9]*\).*/\1/p' "$work/fleet.out")
[ "$sent" = 123 ] || fail "fleet sent '$sent' readings: $(cat "$work/fleet.out")"
wait_metric 'roda_ingest_readings_total{input="mqtt"}' 123
wait_metric 'roda_sensors_tracked' 15
wait_metric 'roda_sparkplug_events_total{event="birth"}' 3
[ "$(metric 'roda_ingest_lost_upstream_total{input="mqtt"}')" = 0 ] || fail "fleet messages lost"
[ "$(metric 'roda_sparkplug_metrics_dropped_total{reason="unknown_metric"}')" = 0 ] ||
    fail "fleet aliases not resolved"
echo "PASS sparkplug_test"
