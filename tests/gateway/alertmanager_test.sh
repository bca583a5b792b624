#!/usr/bin/env bash
# alertmanager_test.sh - alerts to a real Prometheus Alertmanager (Debian's
# prometheus-alertmanager, started here on a free port): firing alerts appear in its API with the
# rule, severity, device, sensor and static labels and a generatorURL; a resolve ends them;
# Alertmanager SIGKILLed and restarted empty mid-stream, then every alert that fired meanwhile is
# there (retries from the alert journal, firing alerts re-sent); a device rule's alert that fires
# on one sensor and resolves on another ends.
#   alertmanager_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
source "$(dirname "$0")/../faults/lib.sh" "$@"
command -v prometheus-alertmanager > /dev/null || { echo "SKIP: no prometheus-alertmanager"; exit 77; }

am_port=$(free_port)
printf 'route:\n  receiver: none\nreceivers:\n  - name: none\n' > "$work/am.yml"
start_alertmanager() {
    prometheus-alertmanager --config.file="$work/am.yml" --storage.path="$work/am-$1" \
        --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= \
        > "$work/am-$1.log" 2>&1 &
    am_pid=$!
    bg_pids+=("$am_pid")
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$am_port/-/ready" > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "alertmanager did not start: $(tail -5 "$work/am-$1.log")"
}
# ours: our alerts in Alertmanager's API, as "alertname severity device sensor site active|ended"
# lines (sorted); it checks each one's generatorURL and annotations too.
ours() {
    curl -fs "http://127.0.0.1:$am_port/api/v2/alerts" | python3 -c '
import datetime, json, sys
now = datetime.datetime.now(datetime.timezone.utc)
for a in json.load(sys.stdin):
    l = a["labels"]
    if l.get("alertname") != "hot":
        continue
    ended = datetime.datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00")) <= now
    assert a["generatorURL"].endswith("/sensors/" + l["sensor"]), a["generatorURL"]
    assert a["annotations"]["threshold"] == "50" and "summary" in a["annotations"], a
    print(l["alertname"], l["severity"], l["device"], l["sensor"], l.get("site"), "ended" if ended else "active")
' | sort
}
wait_ours() { # wait_ours EXPECTED WHAT
    for _ in $(seq 100); do
        [ "$(ours)" = "$1" ] && return 0
        sleep 0.1
    done
    fail "$2: alertmanager has '$(ours)', expected '$1'"
}
active4() {
    printf 'hot critical dev-0 0 plant-1 active\nhot critical dev-0 1 plant-1 active\n'
    printf 'hot critical dev-1 1000 plant-1 active\nhot critical dev-1 1001 plant-1 active\n'
}

cat > "$work/gw.conf" << CONF
[journal]
input_capacity = 65536
summary_capacity = 65536
alert_capacity = 1024
directory = $work/journal
segment_records = 4096
retained_segments = 64
$(udp_only_config)
[alertmanager]
urls = http://127.0.0.1:$am_port
labels = site=plant-1
resend_interval = 1s
retry_min = 100ms
retry_max = 400ms
[rule.hot]
kind = above
threshold = 50
severity = critical
CONF
# send EPOCH BATCHES: 2 devices x 2 sensors over UDP, values 1..BATCHES (a new boot each time).
send() {
    run_fleet "send$1" --udp "127.0.0.1:$udp_port" --devices 2 --batches "$2" --readings 2 \
        --rate 1000 --seconds 20 --boot-epoch "$1"
    wait "$fleet_pid" || fail "fleet: $(cat "$work/send$1.out")"
}

start_alertmanager first
start_gateway gw "$work/gw.conf"

echo "== firing: four alerts with their labels"
send 1 60
wait_ours "$(active4)" "firing"

echo "== resolved: they end (Alertmanager's API leaves resolved alerts out)"
send 2 10
wait_ours "" "resolved"

echo "== Alertmanager killed, alerts fire meanwhile, Alertmanager back empty: all of them there"
kill -KILL "$am_pid"
wait "$am_pid" 2> /dev/null || true
send 3 60
sleep 1
[ "$(metric roda_alertmanager_failed_requests_total)" -gt 0 ] || fail "no failed request counted"
[ "$(metric roda_alertmanager_retries_total)" -gt 0 ] || fail "no retry counted"
start_alertmanager second
wait_ours "$(active4)" "after the outage"
[ "$(metric roda_alertmanager_active_alerts)" = 4 ] || fail "active alerts not 4"
sent=$(metric 'roda_alertmanager_alerts_total{result="sent"}')
[ "$sent" = 12 ] || fail "sent $sent alerts, expected 12 (4 firing, 4 resolved, 4 firing)"
[ "$(metric roda_alertmanager_gap_alerts_total)" = 0 ] || fail "a gap"
stop_gateway

echo "== a device rule: fires on one sensor, resolves on another, one alert that ends"
# Its alert is one per (rule, device): labels without sensor, the sensor that fired in the
# annotations. JSON over MQTT from an independent publisher (Python's json module).
device_alerts() { # "alertname device sensor-label annotation-sensor active|ended" lines
    curl -fs "http://127.0.0.1:$am_port/api/v2/alerts" | python3 -c '
import datetime, json, sys
now = datetime.datetime.now(datetime.timezone.utc)
for a in json.load(sys.stdin):
    l = a["labels"]
    if l.get("alertname") != "hot-slow-fan":
        continue
    ended = datetime.datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00")) <= now
    print(l["alertname"], l["device"], l.get("sensor"), a["annotations"].get("sensor"),
          "ended" if ended else "active")
' | sort
}
wait_device() { # wait_device EXPECTED WHAT
    for _ in $(seq 100); do
        [ "$(device_alerts)" = "$1" ] && return 0
        sleep 0.1
    done
    fail "$2: alertmanager has '$(device_alerts)', expected '$1'"
}
start_broker
cat > "$work/device.conf" << CONF
[http]
port = 0
[mqtt]
enabled = true
port = $broker_port
client_id = roda-alertmanager-device-test
topics = v1/devices/me/+
formats = json
device_from = topic
device_topic_level = 3
[json]
sensor_fields = temperature, fan_speed
timestamp_field = ts
timestamp_format = ms
[alertmanager]
urls = http://127.0.0.1:$am_port
resend_interval = 1s
retry_min = 100ms
[rule.hot-slow-fan]
kind = device
when = temperature above 80 and fan_speed below 100
severity = critical
CONF
start_gateway device "$work/device.conf"
publish() { "$python" "$(dirname "$0")/../ingest/json_publish.py" "127.0.0.1:$broker_port" || fail "publisher"; }
t=v1/devices/me
publish << MESSAGES
$t/boiler-1	{"temperature": 85.5, "ts": 1700000001000}
$t/boiler-1	{"fan_speed": 90.25, "ts": 1700000002000}
MESSAGES
wait_device "hot-slow-fan boiler-1 None fan_speed active" "device rule firing (on fan_speed)"
publish << MESSAGES
$t/boiler-1	{"temperature": 70.0, "ts": 1700000003000}
MESSAGES
wait_device "" "device rule resolved (on temperature)"
sleep 1.5 # past resend_interval: nothing re-sends it
[ "$(device_alerts)" = "" ] || fail "the device rule's alert is back: $(device_alerts)"
[ "$(metric roda_alertmanager_active_alerts)" = 0 ] || fail "active alerts not 0 after the resolve"
stop_gateway
report "alertmanager sent=$sent outage=SIGKILL firing_during_outage=4 present_after=4"
echo "PASS"
