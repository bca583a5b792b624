#!/usr/bin/env bash
# nats_json_test.sh - JSON payloads through the NATS JetStream input (nats.format = json): an
# independent publisher (Python's json module, paho-mqtt) sends JSON objects over MQTT to
# nats-server's listener, the gateway maps them with [json] (device from the subject's {device}
# token, listed fields, epoch-ms timestamps). Each named sensor's value is exact to the bit and
# its count is what was sent, also across a SIGKILL and restart on the journal directory: JSON
# carries no per-device sequence, so only the partition positions keep a message from being
# counted twice.
#   nats_json_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
source "$here_faults/../lib/nats.sh"

nats_configure 1 2
start_nats 1
cat > "$work/gw.conf" << CONF
[journal]
input_capacity = 65536
directory = $work/journal
segment_records = 4096
[limits]
max_series = 100
series_staleness = 0
[http]
port = 0
$(nats_input_config "$(nats_servers)" "0,1")
format = json
[json]
sensor_fields = temperature, humidity
timestamp_field = ts
timestamp_format = ms
CONF

# publish FIRST LAST: messages FIRST..LAST of devices dev-j and dev-k (temperature i + 0.1,
# humidity 40.25, device time i s after 1700000000 s), acknowledged by nats-server.
publish() {
    local i d
    for i in $(seq "$1" "$2"); do
        for d in dev-j dev-k; do
            printf 'fleet/%s/readings\t{"temperature": %s.1, "humidity": 40.25, "ts": %s}\n' \
                "$d" "$i" $((1700000000000 + i * 1000))
        done
    done | "$python" "$here_faults/../ingest/json_publish.py" "127.0.0.1:${nats_mqtt_port[1]}" ||
        fail "publisher failed"
}
# sensor_id DEVICE NAME: the id of a named sensor, from roda_sensor_value.
sensor_id() {
    curl -s "$base/metrics" |
        sed -n "s/^roda_sensor_value{device=\"$1\",sensor=\"\([0-9]*\)\",stat=\"last\",name=\"$2\"}.*/\1/p"
}
# expect COUNT: every sensor counted COUNT readings (10 s at most), the last ones exact.
expect() {
    local d name id
    for d in dev-j dev-k; do
        for name in temperature humidity; do
            for _ in $(seq 200); do
                id=$(sensor_id "$d" "$name")
                [ -n "$id" ] && [ "$(curl -fs "$base/sensors/$id" | jq -r .count)" = "$1" ] && break
                sleep 0.05
            done
            [ -n "$id" ] || fail "no sensor $name of $d"
            curl -fs "$base/sensors/$id" > "$work/sensor.json"
            [ "$(jq -r .count "$work/sensor.json")" = "$1" ] ||
                fail "$d $name counted $(jq -r .count "$work/sensor.json") readings, sent $1"
            "$python" - "$work/sensor.json" "$name" "$1" << 'PY' || fail "$d $name: $(cat "$work/sensor.json")"
import json, struct, sys
summary = json.load(open(sys.argv[1]))
name, count = sys.argv[2], int(sys.argv[3])
sent = float(f"{count}.1") if name == "temperature" else 40.25
assert summary["name"] == name, summary
assert struct.pack("<d", summary["last"]) == struct.pack("<d", sent), (summary["last"], sent)
assert summary["device_time_us"] == (1700000000000 + count * 1000) * 1000, summary
PY
        done
    done
}

start_gateway gw1 "$work/gw.conf"
publish 1 20
expect 20
kill -KILL "$gateway_pid"
wait "$gateway_pid" 2> /dev/null || true
gateway_pid=""
publish 21 30 # waits in the stream
start_gateway gw2 "$work/gw.conf"
publish 31 40
expect 40
[ "$(metric 'roda_ingest_dropped_total{input="nats",reason="decode_error"}')" = 0 ] ||
    fail "JSON messages refused: $(curl -s "$base/metrics" | grep '^roda_ingest_dropped_total{input="nats"' | grep -v ' 0$')"
stop_gateway
report "nats_json messages=80 kills=1"
echo "PASS"
