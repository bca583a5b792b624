#!/usr/bin/env bash
# availability_test.sh - mqtt.availability_topic with a real mosquitto: "online" retained after
# start, "offline" retained after SIGTERM (published before the clean DISCONNECT, with no warning
# about the publisher's connection), and "offline" after SIGKILL (the last will: the kernel closes
# the killed process's socket without a DISCONNECT, so the broker publishes it at once; a lost
# network would take 1.5 x the 5 s keepalive). Retained messages are read back by a new
# subscriber (mosquitto_sub --retained-only gets the retained one at once).
# Usage: availability_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
gateway=$1
proto_dir=$2
source "$(dirname "$0")/lib.sh"
start_broker

topic=roda/test/availability
cat > "$work/gw.conf" << CONF
[http]
port = 0
[udp]
enabled = false
[mqtt]
enabled = true
host = 127.0.0.1
port = $broker_port
client_id = availability-test
topics = fleet/+/readings
keepalive = 5s
availability_topic = $topic
CONF

# retained: the topic's retained payload now (empty when none within 2 s).
retained() {
    mosquitto_sub -h 127.0.0.1 -p "$broker_port" -t "$topic" -C 1 -W 2 -v --retained-only 2> /dev/null |
        awk '{ print $2 }' || true
}
# wait_retained PAYLOAD SECONDS: until the retained payload is PAYLOAD.
wait_retained() {
    for _ in $(seq $(($2 * 4))); do
        [ "$(retained)" = "$1" ] && return 0
        sleep 0.25
    done
    fail "retained on $topic is '$(retained)', expected $1"
}

start_gateway gw1 "$work/gw.conf"
wait_retained online 10
stop_gateway
wait_retained offline 5
grep -q 'msg="mqtt disconnected"' "$work/gw1.log" && fail "clean stop logged a disconnect"

start_gateway gw2 "$work/gw.conf"
wait_retained online 10
kill -KILL "$gateway_pid"
wait "$gateway_pid" 2> /dev/null || true
gateway_pid=""
start=$(date +%s%N)
wait_retained offline 15
echo "availability_test: will published $((($(date +%s%N) - start) / 1000000)) ms after SIGKILL"
echo "availability_test: ok"
