#!/usr/bin/env bash
# churn_test.sh - sensors come and go: roda-gateway with limits.max_sensors = 1000 and a 1 s
# sensor_idle_timeout gets 10 waves of 1000 new sensors each over UDP (roda-fleet
# --sensor-offset), each wave after the previous one expired. Nothing may be refused, every
# sensor must be evicted (and its stale alert emitted first), a live sensor is found and an
# evicted one is not, and resident memory after the last wave stays within a small bound of what
# it was after the first.
# Usage: churn_test.sh RODA_GATEWAY PROTO_DIR RODA_FLEET
set -euo pipefail
gateway=$1
proto_dir=$2
fleet=$3
source "$(dirname "$0")/lib.sh"

waves=10
per_wave=1000 # 10 devices x 100 sensors
rss_bound=$((2 * 1024 * 1024))

cat > "$work/gateway.conf" << CONF
[gateway]
stale_tick = 100ms
[journal]
input_capacity = 65536
summary_capacity = 65536
alert_capacity = 16384
[limits]
max_sensors = $per_wave
sensor_idle_timeout = 1s
max_series = 0
[rule.quiet]
kind = stale
after = 500ms
CONF
udp_only_config >> "$work/gateway.conf"
start_gateway churn "$work/gateway.conf"

first_rss=""
for wave in $(seq 0 $((waves - 1))); do
    offset=$((wave * 100000))
    # Every device sends each of its 100 sensors twice (100 datagrams of 20 readings).
    "$fleet" --udp "127.0.0.1:$udp_port" --devices 10 --sensors 100 --batch 20 --count 100 \
        --rate 0 --seconds 5 --sensor-offset "$offset" --boot-epoch $((wave + 1)) \
        > "$work/fleet.out" 2>&1 || fail "roda-fleet failed in wave $wave"
    wait_metric 'roda_ingest_readings_total{input="udp"}' $(((wave + 1) * 2 * per_wave))
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/sensors/$((offset + 9099))")" = 200 ] ||
        fail "a sensor of wave $wave is not found"
    # The whole wave expires: every sensor evicted, none left tracked.
    wait_at_least roda_sensors_evicted_total $(((wave + 1) * per_wave))
    wait_metric roda_sensors_tracked 0
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/sensors/$((offset + 9099))")" = 404 ] ||
        fail "an evicted sensor of wave $wave is still found"
    rss=$(metric roda_process_resident_memory_bytes)
    [ -n "$first_rss" ] || first_rss=$rss
    echo "wave $wave: evicted $(metric roda_sensors_evicted_total) rss $rss"
done

[ "$(metric roda_sensors_refused_total)" = 0 ] || fail "refused: $(metric roda_sensors_refused_total)"
evicted=$(metric roda_sensors_evicted_total)
[ "$evicted" -ge $(((waves - 1) * per_wave)) ] || fail "evicted only $evicted"
# Each sensor's stale alert came out before it was forgotten.
fired=$(metric 'roda_alerts_total{rule="quiet",severity="warning",state="firing"}')
[ "$fired" -ge "$evicted" ] || fail "stale alerts $fired for $evicted evicted sensors"
growth=$((rss - first_rss))
echo "rss after the first wave $first_rss, after the last $rss, growth $growth"
[ "$growth" -le "$rss_bound" ] || fail "resident memory grew by $growth bytes under churn"

stop_gateway
line=$(grep 'msg="stopped"' "$log")
summaries=$(sed -n 's/.* summaries=\([0-9]*\).*/\1/p' <<< "$line")
evicted=$(sed -n 's/.*sensors_evicted=\([0-9]*\).*/\1/p' <<< "$line")
rules=$(sed -n 's/.*rules_consumed=\([0-9]*\).*/\1/p' <<< "$line")
[ $((summaries + evicted)) = "$rules" ] || fail "summaries + evictions != rules_consumed: $line"
echo "PASS"
