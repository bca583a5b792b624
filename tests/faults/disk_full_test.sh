#!/usr/bin/env bash
# disk_full_test.sh - the file-backed input journal's disk fills up (a small tmpfs) and is freed:
# UDP readings that find no room are counted as disk_full (not journal_full); /readyz turns 503
# naming the journal and the error, and one line is logged with the path and errno; the MQTT
# input stops reading (QoS 1 messages stay queued at the broker: none is acknowledged and then
# dropped); alerts that find no room in the file-backed alert journal are counted as unwritten;
# when space returns the gateway resumes by itself and every MQTT reading arrives.
# Needs root (mount); exits 77 (skipped) without it.
#   disk_full_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

disk=$work/disk
mkdir -p "$disk"
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=1m tmpfs "$disk" 2> /dev/null; then
    echo "disk_full_test: skipped (needs root to mount a tmpfs)"
    exit 77
fi
unmount() { umount "$disk" 2> /dev/null || true; }
trap 'cleanup; unmount' EXIT

# Segments of 1024 readings (40 KiB); the first one is created at start.
fault_config "$work/gw.conf" "$(printf 'input_capacity = 16384\ndirectory = %s/journal\nsegment_records = 1024\nretained_segments = 16\nalert_directory = %s/alerts' "$disk" "$disk")"
# Alerts too: the alert journal's first segment (64 alerts) exists, the next cannot be made.
# The sensor name registry's file (72 B per name of limits.max_sensors) fits the 1 MiB disk.
sed -i 's/^alert_capacity = 1024$/alert_capacity = 256/; s/^\[limits\]$/[limits]\nrecent_alerts = 100/; s/^max_sensors = 100000$/max_sensors = 1000/' "$work/gw.conf"
printf '[rule.any]\nkind = above\nthreshold = 0\n' >> "$work/gw.conf"
start_broker
start_gateway gw "$work/gw.conf"
dd if=/dev/zero of="$disk/filler" bs=4k 2> /dev/null || true # until the disk is full

echo "== UDP into a full disk: what finds no room is counted as disk_full"
# 100 sensors (2 devices x 50, one reading each per batch, a datagram under 1472 B): each fires
# once.
run_fleet udp --udp "127.0.0.1:$udp_port" --device-prefix udp- --devices 2 --batches 15 \
    --readings 50 --rate 500 --seconds 20
wait "$fleet_pid" || fail "udp fleet"
udp_sent=$(fleet_result udp readings)
wait_at_least 'roda_ingest_messages_total{input="udp"}' 30 10
udp_accepted=$(metric 'roda_ingest_readings_total{input="udp"}')
udp_disk_full=$(dropped udp disk_full)
[ "$udp_disk_full" -gt 0 ] || fail "no reading counted as disk_full"
[ "$(dropped udp journal_full)" -eq 0 ] || fail "disk full counted as journal_full"
[ $((udp_accepted + udp_disk_full)) -eq "$udp_sent" ] ||
    fail "udp: $udp_accepted accepted + $udp_disk_full disk_full != $udp_sent sent"
ready=$(curl -s "$base/readyz")
grep -q 'input journal cannot grow' <<< "$ready" || fail "/readyz does not name the disk: $ready"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 503 ] || fail "/readyz not 503"
grep -q 'msg="input journal cannot grow" path=.*errno=28' "$log" || fail "no log line with errno"
wait_at_least 'roda_alerts_total{rule="any",severity="warning",state="firing"}' 100 10
written=$(metric 'roda_journal_appended_total{journal="alerts"}')
unwritten=$(metric 'roda_alerts_unwritten_total')
[ "$unwritten" -gt 0 ] || fail "no alert counted as unwritten on the full disk"
[ $((written + unwritten)) -eq 100 ] || fail "alerts: $written written + $unwritten unwritten != 100"
grep -q 'msg="alert journal cannot grow" errno=28' "$log" || fail "no alert journal log line"

echo "== MQTT QoS 1 while the disk is full: nothing is read, so nothing acknowledged is dropped"
run_fleet mqtt --mqtt "127.0.0.1:$broker_port" --devices 5 --batches 100 --readings 10 \
    --rate 500 --seconds 40
sleep 2
[ "$(metric 'roda_ingest_messages_total{input="mqtt"}')" -eq 0 ] ||
    fail "the MQTT input read messages while the disk was full"
full_seconds=2

echo "== space returns: the gateway resumes by itself"
rm -f "$disk/filler"
freed=$(date +%s.%N)
wait_ready 200 "not ready again"
grep -q 'msg="input journal writable again"' "$log" || fail "no recovery line"
wait "$fleet_pid" || fail "mqtt fleet: $(cat "$work/mqtt.out")"
mqtt_sent=$(fleet_result mqtt readings)
wait_at_least 'roda_ingest_readings_total{input="mqtt"}' "$mqtt_sent" 30
recovered=$(awk -v s="$freed" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
mqtt_accepted=$(metric 'roda_ingest_readings_total{input="mqtt"}')
[ "$mqtt_accepted" -eq "$mqtt_sent" ] || fail "mqtt: accepted $mqtt_accepted of $mqtt_sent"
for reason in journal_full disk_full; do
    [ "$(dropped mqtt $reason)" -eq 0 ] || fail "mqtt readings dropped as $reason"
done
report "disk_full udp_sent=$udp_sent udp_accepted=$udp_accepted udp_disk_full=$udp_disk_full" \
    "alerts_written=$written alerts_unwritten=$unwritten" \
    "mqtt_sent=$mqtt_sent mqtt_accepted=$mqtt_accepted acknowledged_lost=$((mqtt_sent - mqtt_accepted))" \
    "full_for_s=$full_seconds recovery_s=$recovered"
stop_gateway
