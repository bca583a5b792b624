#!/usr/bin/env bash
# replay_test.sh - roda-replay: a gateway records a fleet (an independent encoder over UDP,
# including sensors that go silent, so clock-driven stale alerts are part of it); replaying the
# recording twice gives byte-identical output, equal to the alerts the gateway streamed live
# (SSE); --sensor filters; --compare over two thresholds prints exactly the known difference; a
# corrupt or foreign recording is refused with the file named.
#   replay_test.sh RODA_GATEWAY PROTO_DIR RODA_REPLAY
set -euo pipefail
replay=$3
source "$(dirname "$0")/../faults/lib.sh" "$1" "$2"

# replay_config FILE HIGH: UDP in, a journal directory, four rules (HIGH: the above threshold;
# p90: over a sliding time window, fed by the recorded ingest times).
replay_config() {
    cat > "$1" << CONF
[gateway]
stale_tick = 100ms
[journal]
input_capacity = 65536
summary_capacity = 65536
alert_capacity = 4096
directory = $work/journal
segment_records = 4096
retained_segments = 64
[limits]
max_sensors = 1000
max_devices = 100
$(udp_only_config)
[rule.high]
kind = above
value = last
threshold = $2
hysteresis = 5
[rule.low]
kind = below
value = last
threshold = 2
hysteresis = 3
[rule.silent]
kind = stale
after = 500ms
[rule.p90]
kind = above
value = p90 over 1s every 250ms
threshold = 12
hysteresis = 4
min_count = 8
CONF
}
replay_config "$work/a.conf" 15
replay_config "$work/b.conf" 17

echo "== record: 5 devices x 4 sensors, 60 batches; then 2 devices go silent"
start_gateway record "$work/a.conf"
echo "$http_port" > "$work/live.port"
"$python" "$here_faults/sse_client.py" "$work/live.port" "$work/live.sse" "$work/live.stop" &
bg_pids+=($!)
sleep 0.5
run_fleet part1 --udp "127.0.0.1:$udp_port" --devices 5 --batches 60 --readings 4 --rate 500 \
    --seconds 20 --pattern sawtooth
wait "$fleet_pid" || fail "fleet: $(cat "$work/part1.out")"
sleep 1.5 # every sensor goes silent: stale alerts
run_fleet part2 --udp "127.0.0.1:$udp_port" --devices 3 --batches 20 --readings 4 --rate 500 \
    --seconds 20 --pattern sawtooth --boot-epoch 2
wait "$fleet_pid" || fail "fleet: $(cat "$work/part2.out")"
sleep 1.5
stop_gateway
touch "$work/live.stop"
sleep 0.3

echo "== replay twice: byte-identical, equal to the live alerts"
"$replay" -c "$work/a.conf" "$work/journal" > "$work/r1.json" 2> "$work/r1.err" ||
    fail "roda-replay: $(cat "$work/r1.err")"
"$replay" -c "$work/a.conf" -o "$work/r2.json" "$work/journal" 2> "$work/r2.err" ||
    fail "roda-replay -o: $(cat "$work/r2.err")"
cmp "$work/r1.json" "$work/r2.json" || fail "two replays differ"
grep -q '"rule":"silent"' "$work/r1.json" || fail "no stale alert in the replay"
# The p90 window fires in part 1 and, after a silence longer than the window, part 2's first
# low readings resolve it (12 sensors go on).
[ "$(jq -c 'select(.rule == "p90" and .state == "resolved")' "$work/r1.json" | wc -l)" = 12 ] ||
    fail "window rule p90: not 12 resolved alerts in the replay"
jq -c 'select(.event == "alert") | .data' "$work/live.sse" | jq -cS . > "$work/live.alerts"
jq -cS . "$work/r1.json" > "$work/replayed.alerts"
[ -s "$work/live.alerts" ] || fail "no live alerts"
cmp -s "$work/live.alerts" "$work/replayed.alerts" ||
    fail "replay differs from live: $(diff "$work/live.alerts" "$work/replayed.alerts" | head -4)"
speed=$(sed -n 's/.*records_per_sec=\([0-9]*\).*/\1/p' "$work/r1.err")

echo "== --sensor and --since/--until filter what is shown"
"$replay" -c "$work/a.conf" --sensor 2001 "$work/journal" > "$work/s.json" 2> /dev/null
[ -s "$work/s.json" ] && cmp -s "$work/s.json" <(grep '"sensor":2001,' "$work/r1.json") ||
    fail "--sensor 2001 is not that sensor's alerts"
"$replay" -c "$work/a.conf" --until 1 "$work/journal" > "$work/none.json" 2> /dev/null
[ ! -s "$work/none.json" ] || fail "--until 1 (1970) showed alerts"

echo "== --compare: threshold 15 against 17"
"$replay" -c "$work/a.conf" --compare "$work/b.conf" "$work/journal" > "$work/diff.txt" \
    2> "$work/diff.err" || fail "--compare: $(cat "$work/diff.err")"
# Per sensor, each 20-batch sawtooth cycle that reaches 16..19 fires at 16 (A) or 18 (B), and
# resolves at 0 in both with another threshold: 3 cycles in 60 batches, one more for the 3
# devices that go on (batches 1..20 again reach 16 and resolve at 20).
sensors=20 extra=12
expected=$((3 * sensors + extra))
grep -qx "rule=high a=$((2 * expected)) b=$((2 * expected)) only_a=$expected only_b=$expected changed=$expected" "$work/diff.txt" ||
    fail "rule high: $(grep '^rule=high' "$work/diff.txt"), expected only_a=only_b=changed=$expected"
grep -q '^rule=low .* only_a=0 only_b=0 changed=0$' "$work/diff.txt" || fail "rule low differs"
grep -q '^rule=silent .* only_a=0 only_b=0 changed=0$' "$work/diff.txt" || fail "rule silent differs"
grep -q '^rule=p90 .* only_a=0 only_b=0 changed=0$' "$work/diff.txt" || fail "rule p90 differs"
[ "$(grep -c '^only_a .*"value":16,' "$work/diff.txt")" = "$expected" ] || fail "only_a not the 16s"
[ "$(grep -c '^only_b .*"value":18,' "$work/diff.txt")" = "$expected" ] || fail "only_b not the 18s"

echo "== bad recordings are refused, naming the file"
cp -r "$work/journal" "$work/corrupt"
segment=$(ls "$work/corrupt"/*.rjs | head -1)
printf 'XXXXXXXX' | dd of="$segment" bs=1 seek=0 conv=notrunc 2> /dev/null
"$replay" -c "$work/a.conf" "$work/corrupt" > /dev/null 2> "$work/corrupt.err" &&
    fail "roda-replay accepted a corrupt segment"
grep -q "$(basename "$segment")" "$work/corrupt.err" || fail "corrupt: $(cat "$work/corrupt.err")"
"$replay" -c "$work/a.conf" "$work/journal/alerts" > /dev/null 2> "$work/foreign.err" &&
    fail "roda-replay accepted the alert journal as a recording"
grep -q "schema 1 with records of 64 bytes; this roda-replay reads gateway readings of schema 2, 40 bytes" "$work/foreign.err" || fail "foreign: $(cat "$work/foreign.err")"
report "replay live=$(wc -l < "$work/live.alerts") records_per_sec=${speed:-?} compare_only_a=$expected"
echo "PASS"
