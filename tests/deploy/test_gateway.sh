#!/usr/bin/env bash
# test_gateway.sh - the deploy files against the real roda-gateway: the demo and container
# configs pass --check-config; every metric name of the dashboard and of the Prometheus rules
# is on the /metrics of a running gateway (so a renamed metric fails here, not on a dashboard);
# the runtime image's package list covers the libraries the binaries link; a real Prometheus
# scraping the gateway evaluates deploy/prometheus/rules.yml and every dashboard query (as
# recording rules) without an error (e.g. a division whose label sets do not match).
# The gateway runs on free 127.0.0.1 ports with a mosquitto broker and a nats-server with
# JetStream (started and stopped here; the NATS input owns two partitions, so that the per-partition
# families have samples) and roda-fleet sends spiking readings over MQTT and UDP, so that every
# family has samples.
# Usage: test_gateway.sh SOURCE_DIR BIN_DIR   (exit 77, a skip, when roda-gateway is not built)
set -euo pipefail
root=$1
bin=$2
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$bin/roda-gateway" ]; then
    echo "SKIP: $bin/roda-gateway is not built (the daemon target); nothing to check against"
    exit 77
fi
work=$(mktemp -d)
pids=()
cleanup() {
    set +e
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null; done
    wait 2> /dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$work"/*.log; do
        [ -s "$f" ] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }
    done
    exit 1
}

for conf in deploy/demo.conf deploy/docker/roda-gateway.conf deploy/roda-gateway.conf \
    deploy/examples/json-mqtt2prometheus.conf deploy/nats/roda-a.conf deploy/nats/roda-b.conf; do
    "$bin/roda-gateway" -c "$root/$conf" --check-config > /dev/null || fail "$conf: --check-config"
done

free_port() {
    python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}
mqtt_port=$(free_port tcp)
http_port=$(free_port tcp)
udp_port=$(free_port udp)
cat > "$work/mosquitto.conf" << CONF
user $(id -un)
listener $mqtt_port 127.0.0.1
allow_anonymous true
max_queued_messages 1000000
log_dest file $work/mosquitto.log
CONF
mosquitto -c "$work/mosquitto.conf" &
pids+=($!)
nats_port=$(free_port tcp)
nats-server -a 127.0.0.1 -p "$nats_port" -js -sd "$work/nats" > "$work/nats.log" 2>&1 &
pids+=($!)
cat > "$work/gateway.conf" << CONF
[journal]
input_capacity = 4096
summary_capacity = 4096
alert_capacity = 1024
[limits]
max_sensors = 1000
max_series = 1000
[http]
port = $http_port
[mqtt]
enabled = true
alert_topic = roda/alerts
port = $mqtt_port
client_id = roda-deploy-test
topics = fleet/+/readings
device_from = topic
device_topic_level = 1
[udp]
enabled = true
bind = 127.0.0.1:$udp_port
[nats]
enabled = true
servers = nats://127.0.0.1:$nats_port
partitions = 0,1
[rule.hot]
kind = above
threshold = 80
holdoff = 1s
CONF
for port in "$mqtt_port" "$nats_port"; do
    for _ in $(seq 100); do
        (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && break
        sleep 0.05
    done
done
"$bin/roda-gateway" -c "$work/gateway.conf" > "$work/gateway.log" 2>&1 &
pids+=($!)
url=http://127.0.0.1:$http_port
for _ in $(seq 100); do
    curl -fs -o /dev/null "$url/readyz" && break
    sleep 0.1
done
curl -fs -o /dev/null "$url/readyz" || fail "gateway not ready"

# Prometheus, scraping and evaluating every second.
prom_port=$(free_port tcp)
python3 "$here/check_deploy.py" "$root" files > "$work/dashboard-rules.yml"
cat > "$work/prometheus.yml" << CONF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["$root/deploy/prometheus/rules.yml", "$work/dashboard-rules.yml"]
scrape_configs:
  - job_name: roda-gateway
    static_configs: [{targets: ["127.0.0.1:$http_port"]}]
CONF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" > "$work/prometheus.log" 2>&1 &
pids+=($!)
# An /alerts client, so that the SSE families count something too.
curl -sN "$url/alerts" > "$work/alerts.sse" 2> /dev/null &
pids+=($!)
# Prometheus' service discovery hands out its first targets after about 5 s.
api=http://127.0.0.1:$prom_port/api/v1
for _ in $(seq 100); do
    curl -fs "$api/targets" > "$work/targets.json" && grep -q '"health":"up"' "$work/targets.json" &&
        break
    sleep 0.2
done
grep -q '"health":"up"' "$work/targets.json" ||
    fail "Prometheus does not scrape the gateway: $(cat "$work/targets.json")"
"$bin/roda-fleet" --mqtt "127.0.0.1:$mqtt_port" --udp "127.0.0.1:$udp_port" --topic-prefix fleet \
    --devices 20 --sensors 4 --batch 4 --rate 400 --spike 0.05 --seconds 2 \
    > "$work/fleet.log" 2>&1 || fail "roda-fleet"
for _ in $(seq 50); do
    grep -q '^event: alert' "$work/alerts.sse" && break
    sleep 0.1
done
since=$(date -u +%Y-%m-%dT%H:%M:%S)
curl -fs "$url/metrics" > "$work/metrics.txt" || fail "GET /metrics"
python3 "$here/check_deploy.py" "$root" names "$work/metrics.txt" || fail "metric names"
rules_ok() {
    curl -fs "$api/rules" > "$work/rules.json" &&
        python3 "$here/check_deploy.py" "$root" health "$work/rules.json" "$since"
}
# Every rule evaluated after the traffic (so on real series), none with an error.
status=1
for _ in $(seq 100); do
    status=0
    rules_ok > "$work/rule-errors.txt" 2>&1 || status=$?
    [ $status -eq 1 ] || break
    sleep 0.2
done
[ $status -eq 0 ] || fail "Prometheus rule evaluation: $(cat "$work/rule-errors.txt")"
python3 "$here/check_deploy.py" "$root" libs "$bin/roda-gateway" "$bin/roda-fleet" \
    "$bin/roda-audit" "$bin/roda-replay" ||
    fail "runtime packages"
echo "test_gateway: ok"
