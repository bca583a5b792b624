#!/usr/bin/env bash
# gateway_test.sh - roda-gateway end to end, as real processes: a mosquitto broker on a free
# 127.0.0.1 port, the gateway (HTTP and UDP on free ports it picks and logs), readings published
# with mosquitto_pub (payloads from the reference encoder, protoc --encode) and over UDP.
# Covers: --check-config on good and bad files (and a memory plan larger than the machine); an
# allocation failure at start names its setting; alerts arrive on /alerts (SSE, curl), on the MQTT
# alert topic (mosquitto_sub) and in /alerts/recent, and /metrics counts them; /metrics passes
# promtool; /sensors/{id}; SSE resume with Last-Event-ID and the gap event of a resume the
# journal no longer holds; SIGHUP keeps per-sensor state and applies a changed threshold, and
# refuses an invalid file or a change that needs a restart; alerts published while the broker
# is down wait in the alert journal and are published when it is back; a stale rule fires and
# resolves; SIGTERM under load loses nothing accepted; with journal.directory the accepted
# readings are an audit trail (roda-audit) that a restart continues.
# Usage: gateway_test.sh RODA_GATEWAY PROTO_DIR RODA_FLEET RODA_AUDIT
set -euo pipefail
gateway=$1
proto_dir=$2
fleet=$3
audit=$4
source "$(dirname "$0")/lib.sh"

# write_config FILE THRESHOLD [EXTRA-HTTP-PORT]: the test configuration; rule "hot" fires above
# THRESHOLD for sensor 5 and 7.
write_config() {
    cat > "$1" << CONF
[gateway]
stale_tick = 100ms
[journal]
input_capacity = 65536
summary_capacity = 65536
alert_capacity = 1024
[limits]
max_sensors = 1000
max_devices = 100
max_rules = 8
max_sse_clients = 4
max_series = 100
series_staleness = 0
recent_alerts = 100
[http]
bind = 127.0.0.1
port = ${3:-0}
connection_timeout = 10s
sse_heartbeat = 1s
[mqtt]
enabled = true
host = 127.0.0.1
port = $broker_port
client_id = roda-gw-test
topics = roda/+/readings
device_from = topic
device_topic_level = 1
alert_topic = roda/alerts
alert_qos = 1
[udp]
enabled = true
bind = 127.0.0.1:0
[rule.hot]
kind = above
threshold = $2
severity = critical
sensors = 5, 7
[rule.quiet]
kind = stale
after = 300ms
sensors = 9
[rule.spread]
kind = above
value = p95 over 1h
threshold = 1000000
sensors = 5
$(placement_config)
CONF
}

seq_no=0
# publish DEVICE VALUE [SENSOR]: one batch of one reading over MQTT (QoS 1).
publish() {
    printf 'sequence: %s\nboot_epoch: 1\nreadings { sensor_id: %s value: %s time_us: %s }\n' \
        "$seq_no" "${3:-5}" "$2" "$((1000000 * (seq_no + 1)))" |
        protoc --encode=roda.v1.Batch -I "$proto_dir" "$proto_dir/roda.proto" > "$work/batch.bin"
    mosquitto_pub -h 127.0.0.1 -p "$broker_port" -q 1 -t "roda/$1/readings" -f "$work/batch.bin"
    seq_no=$((seq_no + 1))
}

echo "== 1. --check-config: a good file prints the plan; bad files name file:line:field"
write_config "$work/good.conf" 50
"$gateway" -c "$work/good.conf" --check-config > "$work/check.out" || fail "good config refused"
grep -q '; memory plan' "$work/check.out" || fail "no memory plan printed"
grep -q '^threshold = 50' "$work/check.out" || fail "effective config not printed"
printf '[http]\nport = 70000\n[limits]\nmax_sensors = 0\n' > "$work/bad.conf"
if "$gateway" -c "$work/bad.conf" --check-config > /dev/null 2> "$work/bad.out"; then
    fail "bad config accepted"
fi
grep -q "^$work/bad.conf:2: http.port: " "$work/bad.out" || fail "no file:line:field for port"
grep -q "^$work/bad.conf:4: limits.max_sensors: " "$work/bad.out" || fail "no error for max_sensors"
if "$gateway" -c "$work/bad.conf" 2> "$work/bad_start.out"; then
    fail "gateway started with a bad config"
fi
grep -q 'line=2 field="http.port"' "$work/bad_start.out" || fail "start error not logged with its field"
printf '[journal]\ninput_capacity = 4096\ndirectory = %s\nsegment_records = 4096\n' "$work/trail" \
    > "$work/dir.conf"
if "$gateway" -c "$work/dir.conf" --check-config > /dev/null 2> "$work/dir.out"; then
    fail "a file-backed input journal of one segment accepted"
fi
grep -q "^$work/dir.conf: journal.segment_records: " "$work/dir.out" ||
    fail "journal.segment_records error: $(cat "$work/dir.out")"
# A memory plan larger than the machine is refused by --check-config, naming the settings.
printf '[limits]\nmax_sensors = 100000000\nmax_rules = 64\n' > "$work/huge.conf"
if [ "$(awk '$1 == "MemTotal:" { print int($2 / 1048576) }' /proc/meminfo)" -lt 140 ]; then
    if "$gateway" -c "$work/huge.conf" --check-config > /dev/null 2> "$work/huge.out"; then
        fail "a memory plan larger than the machine accepted"
    fi
    grep -q "memory plan: .*(limits.max_rules x limits.max_sensors)" "$work/huge.out" ||
        fail "memory plan error: $(cat "$work/huge.out")"
fi
# An allocation that fails at start names the part and its setting (not under ASan, whose
# shadow memory does not start under a 600 MB address space).
if ! ldd "$gateway" | grep -q libasan; then
    printf '[limits]\nmax_sensors = 2000000\n[http]\nport = 0\n' > "$work/big.conf"
    if (ulimit -v 600000 && exec "$gateway" -c "$work/big.conf" 2> "$work/big.out"); then
        fail "gateway started without the memory for its plan"
    fi
    grep -q 'msg="cannot create" part=".*" setting="limits.max_sensors"' "$work/big.out" ||
        fail "allocation failure without part and setting: $(cat "$work/big.out")"
fi
"$gateway" --version | grep -q '^roda-gateway ' || fail "--version"
"$gateway" --help | grep -q -- '--check-config' || fail "--help"

echo "== 2. alerts arrive on SSE, the MQTT alert topic and /alerts/recent; /metrics counts them"
start_broker
start_gateway gw "$work/good.conf"
mosquitto_sub -h 127.0.0.1 -p "$broker_port" -q 1 -t roda/alerts -v > "$work/mqtt_alerts.out" &
bg_pids+=($!)
curl -s -N --max-time 30 "$base/alerts" > "$work/sse.out" &
bg_pids+=($!)
wait_count "$work/sse.out" '^retry: ' 1
sleep 0.3 # the subscriber's SUBACK
publish pump-1 10
publish pump-1 100
publish pump-1 20
wait_count "$work/sse.out" '^event: alert' 2
grep -q '"rule":"hot".*"state":"firing".*"sensor":5' "$work/sse.out" ||
    grep -q '"state":"firing"' "$work/sse.out" || fail "no firing event"
grep '^data: ' "$work/sse.out" | head -1 | grep -q '"device":"pump-1"' || fail "device name missing"
grep -q '"state":"resolved"' "$work/sse.out" || fail "no resolved event"
wait_count "$work/mqtt_alerts.out" '^roda/alerts {' 2
grep -q '"state":"firing"' "$work/mqtt_alerts.out" || fail "no firing alert on MQTT"
recent=$(curl -s "$base/alerts/recent?limit=10")
[ "$(grep -o '"id":' <<< "$recent" | wc -l)" = 2 ] || fail "recent: $recent"
wait_metric 'roda_alerts_total{rule="hot",severity="critical",state="firing"}' 1
wait_metric 'roda_alerts_total{rule="hot",severity="critical",state="resolved"}' 1
wait_metric 'roda_ingest_readings_total{input="mqtt"}' 3
wait_metric 'roda_alert_publish_total{result="published"}' 2
wait_metric 'roda_stage_events_total{stage="rules"}' 3
wait_metric 'roda_sensors_tracked' 1
[ "$(metric 'roda_alert_latency_seconds_count')" = 2 ] || fail "latency histogram count"
[ "$(metric 'roda_sensor_value{device="pump-1",sensor="5",stat="last"}')" = 20 ] ||
    fail "per-sensor gauge"
curl -s "$base/metrics" > "$work/metrics.txt"
promtool check metrics < "$work/metrics.txt" > "$work/promtool.out" 2>&1 ||
    fail "promtool: $(cat "$work/promtool.out")"
for name in $(grep -v '^#' "$(dirname "$0")/metric_names.txt"); do
    grep -q "^# TYPE $name " "$work/metrics.txt" || fail "metric $name missing from /metrics"
done

echo "== 3. /sensors/{id}"
sensor=$(curl -s "$base/sensors/5")
grep -q '"count":3' <<< "$sensor" || fail "sensor 5: $sensor"
grep -q '"device":"pump-1"' <<< "$sensor" || fail "sensor 5 device: $sensor"
# The rules' one window (p95 over 1h: 6 hops of 10m) with its statistics.
grep -q '"windows":\[{"length_ns":3600000000000,"hop_ns":600000000000,"count":3,"mean":' \
    <<< "$sensor" || fail "sensor 5 windows: $sensor"
grep -q '"p99":[0-9]' <<< "$sensor" || fail "sensor 5 window quantiles: $sensor"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/sensors/6")" = 404 ] || fail "unknown sensor"

echo "== 4. SSE resume with Last-Event-ID"
curl -s -N --max-time 2 -H 'Last-Event-ID: 0' "$base/alerts" > "$work/resume.out" || true
grep -q '^id: 1$' "$work/resume.out" || fail "resume did not deliver id 1"
grep -q '^id: 0$' "$work/resume.out" && fail "resume delivered id 0 again"

echo "== 5. SIGHUP keeps state and applies a changed threshold; refuses what cannot apply"
write_config "$work/good.conf" 200
kill -HUP "$gateway_pid"
wait_count "$log" 'msg="config reloaded"' 1
publish pump-1 150 # below the new threshold: no alert
publish pump-1 250 # above it
wait_metric 'roda_alerts_total{rule="hot",severity="critical",state="firing"}' 2
sensor=$(curl -s "$base/sensors/5")
grep -q '"count":5' <<< "$sensor" || fail "state lost by the reload: $sensor"
printf '[http]\nport = 70000\n' > "$work/good.conf"
kill -HUP "$gateway_pid"
wait_count "$log" 'msg="reload refused"' 1
write_config "$work/good.conf" 200 "$(free_port)"
kill -HUP "$gateway_pid"
wait_count "$log" 'msg="reload needs restart".*field=http.port' 1
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ] || fail "not serving"

echo "== 6. gap event: a resume the alert journal no longer holds (1024 alerts kept)"
# Sensor 7 over UDP alternates 0 / 300: every reading fires or resolves.
for s in $(seq 0 23); do
    vals=()
    for _ in $(seq 25); do vals+=(0 300); done
    udp_batch "$s" "${vals[@]}"
done
wait_metric 'roda_ingest_readings_total{input="udp"}' 1200
wait_metric 'roda_journal_appended_total{journal="alerts"}' 1202
curl -s -N --max-time 2 -H 'Last-Event-ID: 2' "$base/alerts" > "$work/gap.out" || true
grep -q '^event: gap' "$work/gap.out" || fail "no gap event"
grep -q '"missed":' "$work/gap.out" || fail "gap without a count"
wait_metric 'roda_sse_gaps_total' 1

echo "== 7. stale rule: fires for a silent sensor, resolves on its next reading"
publish pump-2 1 9
wait_metric 'roda_alerts_total{rule="quiet",severity="warning",state="firing"}' 1
publish pump-2 2 9
wait_metric 'roda_alerts_total{rule="quiet",severity="warning",state="resolved"}' 1
wait_metric 'roda_journal_appended_total{journal="alerts"}' 1204

echo "== 8. broker down: alerts for the topic wait in the alert journal, none is dropped"
published_before=$(metric 'roda_alert_publish_total{result="published"}')
dropped_before=$(metric 'roda_alert_publish_total{result="dropped"}')
alerts_before=$(metric 'roda_journal_appended_total{journal="alerts"}')
stop_broker
wait_ready 503 "ready without broker"
udp_batch 100 0 300 0 300
wait_metric 'roda_ingest_readings_total{input="udp"}' 1204
wait_at_least 'roda_journal_appended_total{journal="alerts"}' $((alerts_before + 4))
outage_alerts=$(($(metric 'roda_journal_appended_total{journal="alerts"}') - alerts_before))
sleep 0.5
[ "$(metric 'roda_alert_publish_total{result="dropped"}')" -eq "$dropped_before" ] ||
    fail "alerts dropped during the broker outage"
echo "== 9. the broker is back: both clients reconnect, the outage's alerts are published"
start_broker
wait_ready 200 "not ready again" 15
wait_at_least 'roda_alert_publish_total{result="published"}' $((published_before + outage_alerts))
[ "$(metric 'roda_alert_publish_total{result="dropped"}')" -eq "$dropped_before" ] ||
    fail "alerts dropped after the broker came back"
stop_gateway
grep -q 'msg="stopped"' "$log" || fail "no stopped line"

echo "== 10. SIGTERM under load: every accepted reading is processed"
write_config "$work/load.conf" 1000000
start_gateway load "$work/load.conf"
"$fleet" --udp "127.0.0.1:$udp_port" --devices 20 --sensors 10 --batch 32 --rate 0 \
    --seconds 3 > "$work/fleet.out" 2>&1 &
fleet_pid=$!
bg_pids+=($fleet_pid)
sleep 1.5
stop_gateway
wait "$fleet_pid" || true
line=$(grep 'msg="stopped"' "$log")
accepted=$(sed -n 's/.*readings_accepted=\([0-9]*\).*/\1/p' <<< "$line")
consumed=$(sed -n 's/.*state_consumed=\([0-9]*\).*/\1/p' <<< "$line")
summaries=$(sed -n 's/.*summaries=\([0-9]*\).*/\1/p' <<< "$line")
rules=$(sed -n 's/.*rules_consumed=\([0-9]*\).*/\1/p' <<< "$line")
[ "$accepted" -gt 0 ] || fail "no readings under load: $line"
[ "$accepted" = "$consumed" ] && [ "$consumed" = "$summaries" ] && [ "$summaries" = "$rules" ] ||
    fail "lost in the drain: $line"
echo "drained: $line"

echo "== 11. journal.directory: the input journal is an audit trail that survives restarts"
audit_dir="$work/audit"
write_config "$work/audit.conf" 1000000
sed -i "s|^alert_capacity = 1024|alert_capacity = 1024\ndirectory = $audit_dir\nsegment_records = 4096\nretained_segments = 64|" \
    "$work/audit.conf"
# accepted_after_run NAME: starts the gateway, sends 300 batches of 32 readings over UDP, stops it
# and prints how many readings it accepted.
accepted_after_run() {
    start_gateway "$1" "$work/audit.conf"
    "$fleet" --udp "127.0.0.1:$udp_port" --devices 10 --sensors 4 --batch 32 --rate 3000 \
        --count 300 --boot-epoch "$2" > "$work/$1.fleet" 2>&1 || fail "fleet failed"
    sleep 0.5
    stop_gateway
    sed -n 's/.*msg="stopped".*readings_accepted=\([0-9]*\).*/\1/p' "$log"
}
first_run=$(accepted_after_run audit1 1)
second_run=$(accepted_after_run audit2 2)
[ "$first_run" -gt 0 ] && [ "$second_run" -gt 0 ] || fail "no readings accepted: $first_run $second_run"
summary=$("$audit" "$audit_dir") || fail "roda-audit failed on a good trail"
[[ "$summary" =~ ^first=0\ end=([0-9]+)\ readings=$((first_run + second_run))\ clock_records=([0-9]+)$ ]] &&
    [ "${BASH_REMATCH[1]}" = $((first_run + second_run + BASH_REMATCH[2])) ] ||
    fail "audit trail: '$summary', expected $first_run + $second_run readings and the clock records"
"$audit" "$audit_dir" --print > "$work/audit.txt" || fail "roda-audit --print failed"
grep -m1 ' sensor=' "$work/audit.txt" | grep -Eq '^position=[0-9]+ sensor=[0-9]+ value=' ||
    fail "roda-audit --print: no reading line"
grep -Eq '^position=[0-9]+ clock=0 ingest_time_ns=[0-9]+$' "$work/audit.txt" ||
    fail "roda-audit --print: no clock record line"
[ "$(grep -c '^position=[0-9]* sensor=' "$work/audit.txt")" = "$((first_run + second_run))" ] ||
    fail "roda-audit --print: not one line per reading"
echo "audit trail: $summary"
segment=$(ls "$audit_dir"/*.rjs | head -1)
truncate -s 100 "$segment"
"$audit" "$audit_dir" > /dev/null 2> "$work/audit.err" && fail "roda-audit accepted a truncated segment"
grep -q RODA_ERROR_CORRUPT "$work/audit.err" || fail "truncated segment: $(cat "$work/audit.err")"
echo "PASS"
