#!/usr/bin/env bash
# snapshot_test.sh - recovery when snapshots or the journal are damaged: a flipped byte, a
# truncated newest snapshot or one of an older format version falls back to the one before, no
# snapshot at all to the start of the retained journal, each with a log line and a count on
# /metrics, and the state is complete every time (every reading counted once); a corrupt journal
# segment stops the start with the file named, never a silent empty start.
#   snapshot_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

cat > "$work/gw.conf" << CONF
[journal]
input_capacity = 65536
summary_capacity = 65536
alert_capacity = 1024
directory = $work/journal
segment_records = 4096
retained_segments = 64
snapshot_interval = 0
[limits]
max_sensors = 1000
max_devices = 100
$(udp_only_config)
[rule.high]
kind = above
value = last
threshold = 15
hysteresis = 5
CONF

batches_sent=0
# send EPOCH: 30 batches of 2 devices x 2 sensors over UDP (a new boot each time).
send() {
    run_fleet "send$1" --udp "127.0.0.1:$udp_port" --devices 2 --batches 30 --readings 2 \
        --rate 500 --seconds 20 --pattern sawtooth --boot-epoch "$1"
    wait "$fleet_pid" || fail "fleet: $(cat "$work/send$1.out")"
    batches_sent=$((batches_sent + 30))
    for _ in $(seq 100); do
        [ "$(curl -fs "$base/sensors/1001" | jq -r .count)" = "$batches_sent" ] && return 0
        sleep 0.1
    done
    fail "sensor 1001 did not reach $batches_sent readings"
}

# check NAME WHAT: after a start, every sensor holds every reading sent so far.
check() {
    for sensor in 0 1 1000 1001; do
        local count
        count=$(curl -fs "$base/sensors/$sensor" | jq -r .count)
        [ "$count" = "$batches_sent" ] || fail "$1: sensor $sensor has $count readings, sent $batches_sent"
    done
}

snapshots() { ls "$work/journal"/snapshot-*.rds 2> /dev/null | sort; }

echo "== two runs, two snapshots"
start_gateway run1 "$work/gw.conf"
send 1
stop_gateway
start_gateway run2 "$work/gw.conf"
check run2
send 2
stop_gateway
[ "$(snapshots | wc -l)" = 2 ] || fail "expected 2 snapshots: $(snapshots)"
older=$(snapshots | head -1)
newest=$(snapshots | tail -1)

echo "== a flipped byte in the newest snapshot: the one before, and the tail replayed"
size=$(stat -c %s "$newest")
printf '\xff' | dd of="$newest" bs=1 seek=$((size - 100)) conv=notrunc 2> /dev/null
start_gateway flipped "$work/gw.conf"
grep -q "msg=\"snapshot unusable\" path=$newest why=\"section [0-9]: checksum mismatch\"" "$log" ||
    fail "no log line for the corrupt snapshot: $(grep snapshot "$log")"
grep -q "msg=\"recovery\" snapshot_position=$((10#$(basename "$older" .rds | cut -d- -f2))) " "$log" ||
    fail "did not fall back to $older: $(grep 'msg="recovery"' "$log")"
[ "$(metric roda_recovery_snapshots_discarded)" = 1 ] || fail "discarded snapshot not counted"
[ "$(metric roda_recovery_replayed_records)" -gt 0 ] || fail "no tail replayed"
check flipped
stop_gateway

echo "== a truncated newest snapshot"
newest=$(snapshots | tail -1)
truncate -s 5000 "$newest"
start_gateway truncated "$work/gw.conf"
grep -q "msg=\"snapshot unusable\" path=$newest why=\"size 5000 bytes" "$log" ||
    fail "no log line for the truncated snapshot: $(grep snapshot "$log")"
check truncated
stop_gateway

echo "== a snapshot of an older format (version 2): refused by name, the one before"
newest=$(snapshots | tail -1)
printf '\x02\x00\x00\x00' | dd of="$newest" bs=1 seek=8 conv=notrunc 2> /dev/null
start_gateway old_format "$work/gw.conf"
grep -q "msg=\"snapshot unusable\" path=$newest why=\"format version 2, this gateway reads 3\"" "$log" ||
    fail "no log line for the old-format snapshot: $(grep snapshot "$log")"
check old_format
stop_gateway

echo "== no snapshot: the whole retained journal, its alerts not announced again"
rm -f "$work"/journal/snapshot-*.rds
start_gateway none "$work/gw.conf"
grep -q 'msg="recovery" snapshot_position=none/0 sensors=0 replay_from=0 ' "$log" ||
    fail "no replay from the journal start: $(grep 'msg="recovery"' "$log")"
grep -q 'replayed_alerts=suppressed' "$log" || fail "replayed alerts not suppressed"
check none
[ "$(metric 'roda_recovery_alerts_total{outcome="suppressed"}')" -gt 0 ] ||
    fail "no suppressed replayed alert counted"
[ "$(metric 'roda_journal_appended_total{journal="alerts"}')" = 0 ] ||
    fail "the replay appended alerts again"
stop_gateway

echo "== every snapshot damaged: the journal from its start, both counted"
start_gateway again "$work/gw.conf"
send 3
stop_gateway
for s in $(snapshots); do printf 'X' | dd of="$s" bs=1 seek=0 conv=notrunc 2> /dev/null; done
start_gateway both "$work/gw.conf"
[ "$(metric roda_recovery_snapshots_discarded)" = "$(snapshots | wc -l)" ] ||
    fail "not every bad snapshot counted"
grep -q 'why="not a snapshot (bad magic)"' "$log" || fail "bad magic not named"
check both
stop_gateway

echo "== a corrupt journal segment: the start fails, naming the directory"
segment=$(ls "$work"/journal/*.rjs | head -1)
printf 'XXXXXXXX' | dd of="$segment" bs=1 seek=0 conv=notrunc 2> /dev/null
"$gateway" -c "$work/gw.conf" > "$work/corrupt.stdout" 2> "$work/corrupt.log" &&
    fail "the gateway started on a corrupt journal"
grep -q "msg=\"input journal unreadable\" directory=$work/journal error=RODA_ERROR_CORRUPT" \
    "$work/corrupt.log" && grep -q "detail=\"$(basename "$segment"): offset 0: bad magic" "$work/corrupt.log" ||
    fail "corrupt journal: $(grep level=error "$work/corrupt.log")"
report "snapshot_recovery cases=flipped,truncated,old_format,none,all_bad,journal_corrupt readings=$((batches_sent * 4))"
echo "PASS"
