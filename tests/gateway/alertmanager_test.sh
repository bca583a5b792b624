#!/usr/bin/env bash
# alertmanager_test.sh - alerts to a real Prometheus Alertmanager (Debian's
# prometheus-alertmanager, started here on a free port): firing alerts appear in its API with the
# rule, severity, device, sensor and static labels and a generatorURL; a resolve ends them;
# Alertmanager SIGKILLed and restarted empty mid-stream, then every alert that fired meanwhile is
# there (retries from the alert journal, firing alerts re-sent; batches smaller than a wave),
# startsAt is the firing's ingest time, kept when re-sent to an Alertmanager restarted empty with
# nothing new firing; beside it a never-started one and
# one that answers 400 hold nothing up (the 400s are dropped, not retried); each outage is logged
# once with its reason, and the recovery; a device rule's alert that fires on one sensor and
# resolves on another ends, its generatorURL https as the gateway serves HTTPS; --check-config rejects static label names Prometheus would not take.
#   alertmanager_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
source "$(dirname "$0")/../faults/lib.sh" "$@"
command -v prometheus-alertmanager > /dev/null || { echo "SKIP: no prometheus-alertmanager"; exit 77; }

am_port=$(free_port)
am="http://127.0.0.1:$am_port"
# Beside it: an Alertmanager that is never started (nothing listens on dead_port), and a server
# that rejects every request with 400: neither may stall delivery to the live one.
dead="http://127.0.0.1:$(free_port)"
reject_port=$(free_port)
python3 -c '
import http.server, sys
class Reject(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b"{\"error\": \"rejected by the test\"}"
        self.send_response(400)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Reject).serve_forever()
' "$reject_port" > "$work/reject.log" 2>&1 &
bg_pids+=($!)
reject="http://127.0.0.1:$reject_port"
am_metric() { # am_metric NAME URL [RESULT]: a per-Alertmanager sample
    if [ -n "${3:-}" ]; then metric "$1{alertmanager=\"$2\",result=\"$3\"}"; else metric "$1{alertmanager=\"$2\"}"; fi
}
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
urls = $am, $dead, $reject
labels = site=plant-1
resend_interval = 1s
retry_min = 100ms
retry_max = 400ms
batch = 3                 ; a wave's 4 alerts take 2 requests
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

echo "== --check-config: static label names by Prometheus' rules"
check_label() { # check_label LABELS EXPECTED-ERROR
    sed "s|^labels = .*|labels = $1|" "$work/gw.conf" > "$work/label.conf"
    "$gateway" -c "$work/label.conf" --check-config > /dev/null 2> "$work/check.err" &&
        fail "--check-config accepted labels = $1"
    grep -qF "alertmanager.labels: $2" "$work/check.err" || fail "labels = $1: $(cat "$work/check.err")"
}
check_label 1site=a "'1site=a' is not name=value with a Prometheus label name"
check_label site-id=a "'site-id=a' is not name=value"
check_label __site=a "'__site=a' is not name=value"
check_label =a "'=a' is not name=value"
check_label severity=low "'severity' is a label the output sets itself"
check_label "site=a, site=b" "'site' twice"
"$gateway" -c "$work/gw.conf" --check-config > /dev/null 2> "$work/check.err" ||
    fail "--check-config rejected the test's config: $(cat "$work/check.err")"

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
t0=$(date +%s.%N)
send 3 60
t1=$(date +%s.%N)
sleep 1
[ "$(am_metric roda_alertmanager_failed_requests_total "$am")" -gt 0 ] || fail "no failed request counted"
[ "$(am_metric roda_alertmanager_retries_total "$am")" -gt 0 ] || fail "no retry counted"
start_alertmanager second
wait_ours "$(active4)" "after the outage"
[ "$(am_metric roda_alertmanager_active_alerts "$am")" = 4 ] || fail "active alerts not 4"
sent=$(am_metric roda_alertmanager_alerts_total "$am" sent)
[ "$sent" = 12 ] || fail "sent $sent alerts, expected 12 (4 firing, 4 resolved, 4 firing)"
[ "$(am_metric roda_alertmanager_gap_alerts_total "$am")" = 0 ] || fail "a gap"

echo "== the dead and the rejecting one held nothing up; a 4xx is dropped, not retried"
[ "$(am_metric roda_alertmanager_alerts_total "$dead" sent)" = 0 ] || fail "sent to the dead one"
[ "$(am_metric roda_alertmanager_retries_total "$dead")" -gt 0 ] || fail "no retry to the dead one"
rejected=$(am_metric roda_alertmanager_alerts_total "$reject" rejected)
[ "$rejected" -ge 12 ] || fail "rejected $rejected alerts, expected at least 12"
[ "$(am_metric roda_alertmanager_retries_total "$reject")" = 0 ] || fail "a 4xx was retried"
[ "$(am_metric roda_alertmanager_alerts_total "$reject" sent)" = 0 ] || fail "sent to the rejecting one"

echo "== failures logged once per outage, with the reason, and the recovery"
[ "$(grep -c "msg=\"alertmanager unreachable\" url=$dead " "$log")" = 1 ] ||
    fail "the dead one's outage not logged exactly once"
grep -q "msg=\"alertmanager unreachable\" url=$dead error=\"Couldn't connect to server\"" "$log" ||
    fail "no curl error in the dead one's line"
[ "$(grep -c "msg=\"alertmanager unreachable\" url=$am " "$log")" = 1 ] ||
    fail "the killed one's outage not logged exactly once"
grep -q "msg=\"alertmanager reachable again\" url=$am failed_requests=[1-9]" "$log" ||
    fail "the killed one's recovery not logged"
[ "$(grep -c "msg=\"alertmanager rejected alerts\" url=$reject status=400 answer=\".*rejected by the test" "$log")" = 1 ] ||
    fail "the rejections not logged once (rate-limited), with the status and the answer"

echo "== startsAt: the firing reading's ingest time, the same when re-sent to an empty Alertmanager"
starts() { # "device sensor startsAt-in-seconds" lines of our alerts
    curl -fs "http://127.0.0.1:$am_port/api/v2/alerts" | python3 -c '
import datetime, json, sys
for a in json.load(sys.stdin):
    if a["labels"].get("alertname") == "hot":
        t = datetime.datetime.fromisoformat(a["startsAt"].replace("Z", "+00:00")).timestamp()
        print(a["labels"]["device"], a["labels"]["sensor"], "%.3f" % t)
' | sort
}
starts_before=$(starts)
awk -v t0="$t0" -v t1="$t1" '$3 < t0 - 0.001 || $3 > t1 + 0.001 { bad = 1 } END { exit bad }' \
    <<< "$starts_before" || fail "startsAt outside the wave [$t0, $t1]: $starts_before"
resent=$(am_metric roda_alertmanager_alerts_total "$am" resent)
[ "$resent" -gt 0 ] || fail "nothing re-sent"
kill -KILL "$am_pid"
wait "$am_pid" 2> /dev/null || true
start_alertmanager third # empty, and nothing new fires: only a re-send brings the alerts back
wait_ours "$(active4)" "re-sent after an empty restart"
[ "$(starts)" = "$starts_before" ] || fail "startsAt changed when re-sent: $(starts), was $starts_before"
[ "$(am_metric roda_alertmanager_alerts_total "$am" resent)" -gt "$resent" ] || fail "resent did not grow"
[ "$(am_metric roda_alertmanager_alerts_total "$am" sent)" = 12 ] || fail "a re-send counted as sent"
stop_gateway

echo "== a device rule: fires on one sensor, resolves on another, one alert that ends (HTTPS gateway)"
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
    assert a["generatorURL"].startswith("https://127.0.0.1:"), a["generatorURL"] # TLS: https
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
# This gateway serves HTTPS (a self-signed certificate): the generatorURL default follows.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/tls.key" -out "$work/tls.pem" -days 2 \
    -subj /CN=127.0.0.1 2> /dev/null
scheme=https
curl_opts=(--insecure)
cat > "$work/device.conf" << CONF
[http]
port = 0
tls_cert_file = $work/tls.pem
tls_key_file = $work/tls.key
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
urls = $am
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
[ "$(am_metric roda_alertmanager_active_alerts "$am")" = 0 ] || fail "active alerts not 0 after the resolve"
stop_gateway
report "alertmanager sent=$sent outage=SIGKILL firing_during_outage=4 present_after=4"
echo "PASS"
