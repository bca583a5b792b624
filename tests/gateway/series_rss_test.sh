#!/usr/bin/env bash
# series_rss_test.sh - resident memory does not grow with the series /metrics carries: 10 waves of
# 1000 new sensors (no eviction, up to limits.max_series exported), each wave scraped 3 times.
# The /metrics buffer is resident from the start and libmicrohttpd's copy of each body is
# returned to the system, so RSS after the last wave stays within a small bound of the first.
# Usage: series_rss_test.sh RODA_GATEWAY PROTO_DIR RODA_FLEET
set -euo pipefail
gateway=$1
proto_dir=$2
fleet=$3
source "$(dirname "$0")/lib.sh"

rss_bound=$((1024 * 1024))
printf '[limits]\nmax_sensors = 20000\nsensor_idle_timeout = 0\nmax_series = 10000\n' \
    > "$work/gateway.conf"
udp_only_config >> "$work/gateway.conf"
start_gateway series "$work/gateway.conf"

rss() { metric roda_process_resident_memory_bytes; }
for wave in $(seq 1 10); do
    "$fleet" --udp "127.0.0.1:$udp_port" --devices 25 --sensors 40 --batch 40 --count 25 \
        --rate 0 --seconds 5 --sensor-offset $((wave * 1000000)) --boot-epoch "$wave" \
        > "$work/fleet.out" ||
        fail "roda-fleet: $(cat "$work/fleet.out")"
    wait_metric roda_sensors_tracked $((wave * 1000))
    for _ in 1 2 3; do curl -s "$base/metrics" > /dev/null; done
    [ "$wave" -eq 1 ] && first=$(rss)
done
last=$(rss)
echo "rss after the first wave $first, after the last $last (10000 series exported)"
[ $((last - first)) -le "$rss_bound" ] || fail "RSS grew $((last - first)) bytes with the series"
stop_gateway
