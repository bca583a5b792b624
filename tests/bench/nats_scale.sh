#!/usr/bin/env bash
# nats_scale.sh - throughput of two gateways against one on NATS JetStream (issue 14): reported,
# never asserted, and not run by ctest (a benchmark: minutes on a busy machine). A nats-server
# cluster on 127.0.0.1 (NODES 3: a stream of 3 replicas; or 1; 8 partitions, tests/lib/nats.sh) is
# filled first by roda-fleet over MQTT QoS 1 (MESSAGES batches of 4 readings from 256 devices);
# then one gateway owning the 8 partitions reads the whole stream, and then two gateways owning 4
# each read it again through durable consumers of their own. Each run is timed from the first
# gateway's start to the moment the gateways together acknowledged every message of the stream
# (roda_nats_acks_total against the stream's count on /jsz); each gateway has a file-backed
# journal (an fdatasync before each turn's acknowledgements).
#   tests/bench/nats_scale.sh BUILD_DIR [MESSAGES] [NODES]   (defaults 100000, 3)
# Prints one line: RESULT name=nats_scale nodes= messages= fill_msgs_per_s= (roda-fleet's MQTT
#   publishing into the stream) one_gateway_s= one_gateway_msgs_per_s=
#   one_gateway_readings_per_s= two_gateways_s= two_gateways_msgs_per_s=
#   two_gateways_readings_per_s= speedup=
set -euo pipefail
build=$(cd "$1" && pwd)
messages=${2:-100000}
nodes=${3:-3}
gateway=$build/gateway/roda-gateway
source "$(dirname "$0")/../gateway/lib.sh"
source "$(dirname "$0")/../lib/nats.sh"
readings=4

nats_configure "$nodes" 8
monitor=$(free_port)
echo "http: 127.0.0.1:$monitor" >> "$work/nats-1.conf"
for i in $(seq "$nodes"); do start_nats "$i"; done

# config NAME PARTITIONS: a gateway with its own journal directory and consumers (prefix NAME).
config() {
    cat > "$work/$1.conf" << CONF
[journal]
input_capacity = 262144
segment_records = 65536
directory = $work/$1-journal
[limits]
max_sensors = 10000
max_devices = 1000
[http]
port = 0
$(nats_input_config "$(nats_servers)" "$2" "$1")
CONF
}
# stream_messages: the stream's message count (node 1's monitoring endpoint).
stream_messages() {
    curl -fs "http://127.0.0.1:$monitor/jsz?streams=true" |
        jq '[.account_details[].stream_detail[]? | select(.name == "FLEET") | .state.messages] | add // 0'
}
# acked BASE...: messages the gateways acknowledged, all partitions.
acked() {
    local b total=0
    for b in "$@"; do
        total=$((total + $(curl -fs "$b/metrics" | awk '$1 ~ /^roda_nats_acks_total\{/ { s += $2 } END { print s + 0 }')))
    done
    echo "$total"
}
# run NAME PARTITIONS...: one gateway per partition list; prints the seconds until every message
# of the stream was acknowledged.
run() {
    local name=$1 i=0 bases=() started
    shift
    started=$(date +%s.%N)
    for partitions in "$@"; do
        i=$((i + 1))
        config "$name$i" "$partitions"
        start_gateway "$name$i" "$work/$name$i.conf"
        bg_pids+=("$gateway_pid")
        bases+=("$base")
    done
    while [ "$(acked "${bases[@]}")" -lt "$total" ]; do sleep 0.05; done
    awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
    for b in "${bases[@]}"; do curl -fs "$b/metrics" > /dev/null; done
    for pid in "${bg_pids[@]: -$#}"; do kill -TERM "$pid" && wait "$pid" || true; done
    gateway_pid=""
}

# The stream made first (by a gateway that reads nothing yet), then filled.
config make "0"
start_gateway make "$work/make.conf"
stop_gateway
"$build/gateway/roda-fleet" --mqtt "127.0.0.1:${nats_mqtt_port[1]}" --qos 1 --topic-prefix fleet \
    --devices 256 --sensors $readings --batch $readings --rate 0 --count "$messages" \
    --seconds 600 > "$work/fleet.log" 2>&1 || true # the stream's count is what is read
total=$(stream_messages)
fill=$(sed -n 's/^RESULT .*messages_per_sec=\([0-9]*\).*/\1/p' "$work/fleet.log")
[ "$total" -gt 0 ] || fail "the stream is empty: $(tail -3 "$work/fleet.log")"
one=$(run one "0,1,2,3,4,5,6,7")
two=$(run two "0,1,2,3" "4,5,6,7")
awk -v n="$nodes" -v m="$total" -v fill="${fill:-0}" -v r="$readings" -v one="$one" -v two="$two" 'BEGIN {
    printf "RESULT name=nats_scale nodes=%d messages=%d fill_msgs_per_s=%d one_gateway_s=%.2f one_gateway_msgs_per_s=%.0f one_gateway_readings_per_s=%.0f two_gateways_s=%.2f two_gateways_msgs_per_s=%.0f two_gateways_readings_per_s=%.0f speedup=%.2f\n",
        n, m, fill, one, m / one, m * r / one, two, m / two, m * r / two, one / two }'
