#!/usr/bin/env bash
# nats_restart_test.sh - the NATS JetStream input against a real nats-server (JetStream, its MQTT
# listener, the partition mapping): an independent fleet publishes MQTT QoS 1 to nats-server
# with per-device sequences; one gateway owns all partitions and is SIGKILLed twice mid-stream
# and restarted on its journal.directory. Every reading is in the per-sensor state exactly once
# (the count of each sensor equals the batches sent), no partition has anything pending, and no
# message was journaled twice (the device registry, which would drop a repeated batch as a
# duplicate, saw none): each restart resumed every partition's consumer right after the stream
# position its journal holds (msg="nats consumer restarted" when messages awaited acknowledgement).
# Then the lag metric: > 0 with a burst waiting for the stopped (SIGSTOP) gateway, still > 0 while
# nats-server is stopped mid-catch-up, 0 once caught up.
#   nats_restart_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
source "$here_faults/../lib/nats.sh"

devices=8 readings=4 batches=400 partitions=4
nats_configure 1 $partitions
start_nats 1
cat > "$work/gw.conf" << CONF
[journal]
input_capacity = 65536
directory = $work/journal
segment_records = 4096
snapshot_interval = 1s
[http]
port = 0
$(nats_input_config "$(nats_servers)" "0,1,2,3")
batch = 4
CONF

# counters: the last process's NATS counters, summed over partitions, as "name=value ...".
counters() {
    curl -s "$base/metrics" | awk '
        /^roda_nats_(acks|already_journaled|redeliveries)_total/ { split($1, n, "{"); s[n[1]] += $2 }
        /^roda_ingest_duplicates_total\{input="nats"\}/ { s["duplicates"] = $2 }
        END { for (k in s) printf "%s=%s ", k, s[k] }'
}

start_gateway gw1 "$work/gw.conf"
run_fleet fleet --mqtt "127.0.0.1:${nats_mqtt_port[1]}" --client-id nats-fleet \
    --devices $devices --batches $batches --readings $readings --rate 400 --seconds 60 \
    --topic 'fleet/{device}/readings'
for round in 2 3; do
    sleep 2
    kill -KILL "$gateway_pid"
    wait "$gateway_pid" 2> /dev/null || true
    gateway_pid=""
    start_gateway "gw$round" "$work/gw.conf"
    grep -q 'msg="nats positions restored"' "$log" || fail "restart $round: positions not restored"
    sleep 2.5 # past ack_wait: anything redelivered would have come
    line=$(counters)
    echo "after kill $((round - 1)): $line"
    [[ "$line" == *"duplicates=0 "* ]] || fail "a redelivery reached the device registry: $line"
done
wait "$fleet_pid" || fail "fleet: $(cat "$work/fleet.out")"
[ "$(fleet_result fleet acked)" = $((devices * batches)) ] || fail "fleet: $(cat "$work/fleet.out")"

# Every sensor counted every batch once: nothing lost, nothing twice.
for d in $(seq 0 $((devices - 1))); do
    for k in $(seq 0 $((readings - 1))); do
        id=$((d * 1000 + k))
        for _ in $(seq 100); do
            [ "$(curl -fs "$base/sensors/$id" | jq -r .count)" = "$batches" ] && break
            sleep 0.1
        done
        got=$(curl -fs "$base/sensors/$id" | jq -r .count)
        [ "$got" = "$batches" ] || fail "sensor $id counted $got readings, sent $batches"
    done
done
for p in $(seq 0 $((partitions - 1))); do
    [ "$(metric "roda_nats_pending{partition=\"$p\"}")" = 0 ] || fail "partition $p has pending"
done
line=$(counters)
[[ "$line" == *"duplicates=0 "* ]] || fail "a redelivery reached the device registry: $line"

# Lag: the gateway is stopped (SIGSTOP) while a burst from other devices waits in the stream;
# resumed, it shows the backlog in roda_nats_pending (> 0: fetches of 4 messages per partition
# take many turns). Then nats-server is stopped mid-catch-up: with no answer the lag stays what
# it was (> 0, not zeroed); once the server resumes the gateway catches up (0).
lag() { curl -s "$base/metrics" | awk '/^roda_nats_pending\{/ { s += $2 } END { print s + 0 }'; }
kill -STOP "$gateway_pid"
run_fleet burst --mqtt "127.0.0.1:${nats_mqtt_port[1]}" --client-id nats-burst \
    --device-prefix burst- --devices $devices --batches 200 --readings 1 --rate 4000 --seconds 30 \
    --topic 'fleet/{device}/readings'
wait "$fleet_pid" || fail "burst: $(cat "$work/burst.out")"
kill -CONT "$gateway_pid"
for _ in $(seq 250); do
    most=$(lag)
    [ "$most" -gt 0 ] && break
    sleep 0.01
done
kill -STOP "${nats_pid[1]}"
[ "$most" -gt 0 ] || fail "roda_nats_pending stayed 0 with $((devices * 200)) messages waiting"
sleep 1.5 # the gateway gets no answer: no fetch, no stall check says anything of the lag
stalled=$(lag)
kill -CONT "${nats_pid[1]}"
[ "$stalled" -gt 0 ] || fail "roda_nats_pending fell to 0 while the server did not answer (it was $most)"
for _ in $(seq 250); do
    [ "$(lag)" = 0 ] && break
    sleep 0.02
done
[ "$(lag)" = 0 ] || fail "roda_nats_pending is $(lag) 5 s after the server resumed"
stop_gateway
restarted=$(cat "$work"/gw*.log | grep -c 'msg="nats consumer restarted"' || true)
report "nats_restart kills=2 devices=$devices batches=$((devices * batches)) consumers_restarted=$restarted lag_seen=$most lag_while_stalled=$stalled"
echo "PASS"
