#!/usr/bin/env bash
# prometheus_test.sh - a real Prometheus server (Debian's `prometheus`) scrapes roda-gateway:
# both on free 127.0.0.1 ports, Prometheus with a generated config (scrape interval 1 s) and a
# temporary storage directory; readings sent over UDP must show up in the answer to a query for
# roda_ingest_readings_total through Prometheus' HTTP API, and the scrape target must be up.
# Also: a sensor past limits.max_sensors is refused and counted.
# Usage: prometheus_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
gateway=$1
proto_dir=$2
source "$(dirname "$0")/lib.sh"

cat > "$work/gateway.conf" << CONF
[limits]
max_sensors = 1
[http]
port = 0
[mqtt]
enabled = false
[udp]
enabled = true
bind = 127.0.0.1:0
[rule.hot]
kind = above
threshold = 50
sensors = 7
CONF
start_gateway gw "$work/gateway.conf"
udp_batch 0 1 2 3
# A second sensor past limits.max_sensors = 1: accepted by the ingest, refused and counted.
udp_sensor=8 udp_batch 1 4
wait_metric 'roda_ingest_readings_total{input="udp"}' 4
wait_metric 'roda_sensors_refused_total' 1
wait_metric 'roda_sensors_tracked' 1
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/sensors/8")" = 404 ] || fail "refused sensor"

prom_port=$(free_port)
cat > "$work/prometheus.yml" << CONF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: roda
    static_configs:
      - targets: ['127.0.0.1:$http_port']
CONF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" > "$work/prometheus.log" 2>&1 &
bg_pids+=($!)

query() {
    curl -s --max-time 2 "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" ||
        true
}
answer=""
for _ in $(seq 300); do
    answer=$(query 'roda_ingest_readings_total{input="udp"}')
    grep -q '"value":\[[0-9.]*,"4"\]' <<< "$answer" && break
    sleep 0.1
done
grep -q '"value":\[[0-9.]*,"4"\]' <<< "$answer" || fail "prometheus answered: $answer"
grep -q '"job":"roda"' <<< "$answer" || fail "no job label: $answer"
up=$(query 'up{job="roda"}')
grep -q '"value":\[[0-9.]*,"1"\]' <<< "$up" || fail "target not up: $up"
stop_gateway
echo "PASS"
