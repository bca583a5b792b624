#!/usr/bin/env bash
# ingest_test.sh - the MQTT and UDP ingest against real processes: a mosquitto broker on a free
# 127.0.0.1 port (started and stopped here), ingest_probe as the gateway, mosquitto_pub with
# payloads made by the reference encoder (protoc --encode), UDP datagrams from bash.
# Covers: values arrive; each bad input is counted under its reason and the next good batch still
# arrives; QoS 1 batches published while the gateway is away arrive after it comes back, across a
# broker restart (persistent session + broker persistence); the gateway started before the broker
# connects when it comes up; a device pattern per topic filter; a broker restart under a connected
# gateway is survived; MQTT 5 and shared subscriptions; roda-fleet over both inputs, and across a
# broker restart (reconnects, stops at --seconds); TLS with username/password (needs openssl).
# Usage: ingest_test.sh INGEST_PROBE PROTO_DIR RODA_FLEET
set -euo pipefail
probe=$1
proto_dir=$2
fleet=$3
work=$(mktemp -d)
broker_pid=""
probe_pid=""

# Every process started here is stopped, whatever state a failure left them in (a broker left
# running would hold ctest's output pipe open).
cleanup() {
    set +e
    [ -n "$probe_pid" ] && kill "$probe_pid" 2> /dev/null
    [ -n "$broker_pid" ] && kill "$broker_pid" 2> /dev/null
    wait 2> /dev/null
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$work"/fleet*.out "$work"/*.err "$work"/mosquitto.log; do
        [ -s "$f" ] && { echo "== $f" >&2; tail -n 40 "$f" >&2; }
    done
    exit 1
}

source "$(dirname "$0")/../lib/broker.sh"
broker_config true
port=$broker_port

# start_probe NAME ARGS...: the gateway, MQTT on the test broker, UDP on an ephemeral port.
start_probe() {
    local name=$1
    shift
    "$probe" --mqtt "127.0.0.1:$port" --client-id roda-test --qos 1 --topic 'roda/#' \
        --pattern 'roda/{device}/readings' --udp 127.0.0.1:0 "$@" \
        > "$work/$name.out" 2> "$work/$name.err" &
    probe_pid=$!
    current=$name
}

stop_probe() {
    kill -TERM "$probe_pid" 2>/dev/null || true
    wait "$probe_pid" || fail "probe exited with an error"
    probe_pid=""
}

# wait_line PATTERN [COUNT]: waits (10 s at most) until the current probe printed COUNT lines
# matching PATTERN.
wait_line() {
    local want=${2:-1}
    for _ in $(seq 200); do
        [ "$(grep -c -- "$1" "$work/$current.out" 2>/dev/null || true)" -ge "$want" ] && return 0
        sleep 0.05
    done
    fail "no '$1' (x$want) from $current"
}

# counter INPUT NAME: a counter the stopped probe printed.
counter() {
    awk -v i="$1" -v n="$2" '$1 == "counter" && $2 == i && $3 == n { print $4 }' \
        "$work/$current.out"
}

expect_counter() {
    local value
    value=$(counter "$1" "$2")
    [ "$value" = "$3" ] || fail "counter $1 $2 is '$value', expected $3"
}

# batch FILE SEQUENCE [READINGS-TEXT]: a payload made by the reference encoder, device named by
# the topic; epoch 1.
default_readings='readings { sensor_id: 1 value: 1.5 }'
batch() {
    printf 'sequence: %s\nboot_epoch: 1\n%s\n' "$2" "${3:-$default_readings}" |
        protoc --encode=roda.v1.Batch -I "$proto_dir" "$proto_dir/roda.proto" > "$work/$1"
}

publish() { # publish DEVICE FILE [TOPIC-SUFFIX]
    mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "roda/$1/${3:-readings}" -f "$work/$2"
}

echo "== 1. values arrive over MQTT and UDP"
start_broker
start_probe values
wait_line '^connected$'
batch v0.bin 0 'readings { sensor_id: 5 value: 21.5 time_us: 1000 quality: 2 }
readings { sensor_id: 6 value: -7.25 time_us: -3 }'
publish dev1 v0.bin
wait_line 'reading device=dev1 sensor=5 value=21.5 time_us=1000 quality=2 input=mqtt'
wait_line 'reading device=dev1 sensor=6 value=-7.25 time_us=-3 quality=0 input=mqtt'
udp_port=$(awk '$1 == "udp_port" { print $3 }' "$work/values.out")
printf 'device: "udp-dev"\nreadings { sensor_id: 9 value: 0.125 time_us: 77 }\n' |
    protoc --encode=roda.v1.Batch -I "$proto_dir" "$proto_dir/roda.proto" > "$work/udp.bin"
cat "$work/udp.bin" > "/dev/udp/127.0.0.1/$udp_port"
wait_line 'reading device=udp-dev sensor=9 value=0.125 time_us=77 quality=0 input=udp'
stop_probe
expect_counter mqtt readings 2
expect_counter udp readings 1

echo "== 1b. each topic filter names the device at its own level (--device-level, as the gateway)"
"$probe" --mqtt "127.0.0.1:$port" --client-id roda-filters --clean --qos 1 \
    --topic 'fleet/+/readings' --topic 'site/+/data/+' --device-level 1 \
    > "$work/filters.out" 2> "$work/filters.err" &
probe_pid=$!
current=filters
wait_line '^connected$'
# (not under roda/: the persistent session of scenario 1 would keep it for scenario 2)
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t fleet/dev2/readings -f "$work/v0.bin"
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t site/dev3/data/x -f "$work/v0.bin"
wait_line 'reading device=dev2 sensor=5 '
wait_line 'reading device=dev3 sensor=5 '
stop_probe
expect_counter mqtt unknown_topic 0

echo "== 2. bad input over MQTT is counted by reason; the next good batch arrives"
start_probe bad --max-message 4096 --max-devices 3
wait_line '^connected$'
seq=0   # the next sequence number of device "good"
lines=0 # readings of device "good" printed so far
good() {
    batch good.bin "$seq"
    publish good good.bin
    seq=$((seq + 1))
    lines=$((lines + 1))
    wait_line 'reading device=good ' "$lines"
}
good
printf '\x12\x01\x00' > "$work/garbage.bin" && publish good garbage.bin && good
batch full.bin 0
printf '\x0a\x05ab' > "$work/cut.bin" && publish good cut.bin && good
head -c 5000 /dev/zero > "$work/big.bin" && publish good big.bin && good
publish good full.bin status && good                         # unknown topic
publish 'bad"name' full.bin && good                          # invalid device name
batch nan.bin "$seq" 'readings { sensor_id: 2 value: nan } readings { sensor_id: 3 value: 3 }'
publish good nan.bin && seq=$((seq + 1)) && lines=$((lines + 1)) && wait_line 'device=good sensor=3 '
batch dup.bin $((seq - 1)) && publish good dup.bin && good  # duplicate of the last batch
seq=$((seq + 4)) && good                                     # four batches never sent
publish second full.bin && publish third full.bin && wait_line 'device=third'
publish fourth full.bin && good                              # past --max-devices 3
stop_probe
expect_counter mqtt decode_error 1
expect_counter mqtt truncated 1
expect_counter mqtt oversize 1
expect_counter mqtt unknown_topic 1
expect_counter mqtt bad_device 1
expect_counter mqtt non_finite 1
expect_counter mqtt duplicate 1
expect_counter mqtt lost_upstream 4
expect_counter mqtt too_many_devices 1
expect_counter mqtt journal_full 0

echo "== 3. QoS 1 batches published while the gateway is away survive a broker restart"
start_probe session_a
wait_line '^connected$'
stop_probe # a clean disconnect: the persistent session stays at the broker
for s in 0 1 2; do
    batch "away$s.bin" "$s" "readings { sensor_id: 10$s value: $s }"
    publish away away$s.bin
done
stop_broker
start_broker
start_probe session_b
wait_line '^connected$'
wait_line 'reading device=away ' 3
stop_probe
expect_counter mqtt readings 3
expect_counter mqtt lost_upstream 0
expect_counter mqtt duplicate 0

echo "== 4. the gateway starts before the broker, then survives a broker restart"
stop_broker
start_probe early
sleep 0.5
start_broker
wait_line '^connected$'
batch e0.bin 0 && publish early e0.bin
wait_line 'reading device=early '
stop_broker
wait_line '^disconnected$'
start_broker
wait_line '^connected$' 2
batch e1.bin 1 && publish early e1.bin
wait_line 'reading device=early ' 2
stop_probe
connect_failures=$(counter mqtt connect_failures)
[ "$connect_failures" -ge 1 ] || fail "no connect failure counted while the broker was down"
expect_counter mqtt connects 2
expect_counter mqtt disconnects 1
expect_counter mqtt lost_upstream 0

echo "== 5. MQTT 5: the session (expiry interval) keeps QoS 1 batches; shared subscriptions"
start_probe v5_a --protocol 5 --client-id roda-v5
wait_line '^connected$'
stop_probe
batch v5.bin 0 && publish v5dev v5.bin
start_probe v5_b --protocol 5 --client-id roda-v5
wait_line 'reading device=v5dev '
stop_probe
start_probe shared --protocol 5 --client-id roda-shared --topic '$share/gateways/roda/#'
wait_line '^connected$'
batch s0.bin 0 && publish shareddev s0.bin
wait_line 'reading device=shareddev '
stop_probe

echo "== 6. roda-fleet over MQTT (QoS 1) and UDP at once: every reading arrives, no gap"
start_probe fleet --quiet --count 16000 --client-id roda-fleet-test
wait_line '^connected$'
udp_port=$(awk '$1 == "udp_port" { print $3 }' "$work/fleet.out")
"$fleet" --mqtt "127.0.0.1:$port" --udp "127.0.0.1:$udp_port" --qos 1 --devices 10 --batch 8 \
    --count 2000 --seconds 20 --spike 0.01 --silent 1 > "$work/fleet_sender.out" ||
    fail "roda-fleet failed: $(cat "$work/fleet_sender.out")"
for _ in $(seq 200); do kill -0 "$probe_pid" 2>/dev/null || break; sleep 0.05; done
stop_probe
expect_counter mqtt readings 8000
expect_counter udp readings 8000
expect_counter mqtt lost_upstream 0
expect_counter udp lost_upstream 0
grep -q '^devices 10$' "$work/fleet.out" || fail "fleet devices not all seen"

echo "== 6b. roda-fleet across a broker restart: reconnects, goes on, stops at --seconds"
for qos in 0 1; do
    start=$(date +%s%N)
    "$fleet" --mqtt "127.0.0.1:$port" --qos "$qos" --devices 4 --rate 5000 --seconds 6 \
        > "$work/fleet_restart$qos.out" 2>&1 &
    fleet_pid=$!
    sleep 1
    stop_broker
    sleep 0.5
    start_broker
    for _ in $(seq 100); do kill -0 "$fleet_pid" 2>/dev/null || break; sleep 0.1; done
    elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
    if kill -0 "$fleet_pid" 2>/dev/null; then
        kill -9 "$fleet_pid"
        fail "roda-fleet (QoS $qos) still running ${elapsed_ms} ms after a 6 s run"
    fi
    wait "$fleet_pid" || true # send errors (messages lost with the broker) exit 3
    grep -q '^RESULT name=fleet ' "$work/fleet_restart$qos.out" || fail "roda-fleet (QoS $qos) no RESULT"
    grep -q '^roda-fleet: mqtt reconnected$' "$work/fleet_restart$qos.out" ||
        fail "roda-fleet (QoS $qos) did not reconnect: $(cat "$work/fleet_restart$qos.out")"
    echo "QoS $qos: stopped after $elapsed_ms ms: $(grep RESULT "$work/fleet_restart$qos.out")"
done
stop_broker

echo "== 7. TLS (CA file) with username/password; a wrong password is refused and counted"
if command -v openssl > /dev/null; then
    (
        cd "$work"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 \
            -subj /CN=roda-test-ca
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1
        printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
            -out server.crt -days 1 -extfile san.ext
        mosquitto_passwd -b -c passwd gateway secret
    ) > "$work/openssl.log" 2>&1 || fail "cannot make test certificates: $(cat "$work/openssl.log")"
    cat > "$work/mosquitto.conf" <<CONF
user $(id -un)
listener $port 127.0.0.1
cafile $work/ca.crt
certfile $work/server.crt
keyfile $work/server.key
allow_anonymous false
password_file $work/passwd
max_queued_messages 1000000
log_dest file $work/mosquitto.log
CONF
    start_broker
    start_probe tls_wrong --tls-ca "$work/ca.crt" --username gateway --password wrong \
        --client-id roda-tls
    sleep 1
    stop_probe
    [ "$(counter mqtt connect_failures)" -ge 1 ] || fail "refused login not counted"
    expect_counter mqtt connects 0
    start_probe tls --tls-ca "$work/ca.crt" --username gateway --password secret \
        --client-id roda-tls
    wait_line '^connected$'
    batch t0.bin 0
    mosquitto_pub -h 127.0.0.1 -p "$port" --cafile "$work/ca.crt" -u gateway -P secret -q 1 \
        -t roda/tlsdev/readings -f "$work/t0.bin"
    wait_line 'reading device=tlsdev '
    stop_probe
    stop_broker
else
    echo "skipped: openssl is not installed"
fi
echo "ingest_test: all scenarios passed"
