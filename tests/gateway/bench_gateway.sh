#!/usr/bin/env bash
# bench_gateway.sh - roda-gateway end to end, for each placement of its stages (pipelined: a
# thread per stage; fused: the ingest thread runs them): roda-fleet over UDP (127.0.0.1) into the
# gateway, the maximum readings/s, then readings/s and ingest-to-alert latency quantiles from the
# gateway's own histogram (roda_alert_latency_seconds, interpolated within buckets) at 10%, 50%
# and 90% of that placement's own maximum (the sender paced to the rate, sent rate printed), and
# resident memory at 10k and 1M sensors (after start and after load). Then the page's API at
# 100k tracked sensors (fused): the time of /api/sensors pages, unfiltered and filtered, and of
# ?id= (curl's time_total, median of API_REQUESTS), printed, not asserted.
#   tests/gateway/bench_gateway.sh BUILD_DIR [SECONDS_PER_PHASE] [PLACEMENTS]
# PLACEMENTS: "pipelined fused" unless given ("" for the API phase only). Spikes (+100, probability 0.002 per reading) fire rule
# "spike" (last > 80) and the next reading resolves it. Ends with one RESULT line per placement.
# Not a ctest test: it loads the machine for a while.
set -euo pipefail
build=${1:?usage: bench_gateway.sh BUILD_DIR [SECONDS]}
seconds=${2:-5}
placements=${3-pipelined fused}
gateway=$build/gateway/roda-gateway
fleet=$build/gateway/roda-fleet
work=$(mktemp -d)
gateway_pid=""
trap '[ -n "$gateway_pid" ] && kill "$gateway_pid" 2> /dev/null; wait 2> /dev/null; rm -rf "$work"' EXIT

# start SENSORS PLACEMENT: a gateway for SENSORS sensors (UDP only, no MQTT).
start() {
    cat > "$work/bench.conf" << CONF
[gateway]
log_level = info
placement = $2
[journal]
input_capacity = 1048576
summary_capacity = 1048576
alert_capacity = 65536
[limits]
max_sensors = $1
max_devices = 2000
max_rules = 2
max_series = 100
[http]
port = 0
[mqtt]
enabled = false
[udp]
enabled = true
bind = 127.0.0.1:0
[rule.spike]
kind = above
threshold = 80
severity = warning
CONF
    "$gateway" -c "$work/bench.conf" 2> "$work/gateway.log" &
    gateway_pid=$!
    for _ in $(seq 400); do
        grep -q 'msg="started"' "$work/gateway.log" 2> /dev/null && break
        sleep 0.05
    done
    http=$(sed -n 's/.*msg="started".*http_port=\([0-9]*\).*/\1/p' "$work/gateway.log")
    udp=$(sed -n 's/.*msg="started".*udp_port=\([0-9]*\).*/\1/p' "$work/gateway.log")
    [ -n "$http" ] || { cat "$work/gateway.log"; exit 1; }
}

stop() {
    kill -TERM "$gateway_pid"
    wait "$gateway_pid"
    gateway_pid=""
}

scrape() { curl -s "http://127.0.0.1:$http/metrics" > "$work/$1.prom"; }

# report BEFORE AFTER SECONDS: readings/s, alerts, drops and latency quantiles between scrapes.
report() {
    python3 - "$work/$1.prom" "$work/$2.prom" "$3" << 'PY'
import re, sys
def load(path):
    values = {}
    for line in open(path):
        if line.startswith('#'): continue
        name, _, value = line.rpartition(' ')
        values[name] = float(value)
    return values
a, b, secs = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
d = lambda k: b.get(k, 0) - a.get(k, 0)
readings = d('roda_ingest_readings_total{input="udp"}')
full = d('roda_ingest_dropped_total{input="udp",reason="journal_full"}')
kernel = d('roda_ingest_dropped_total{input="udp",reason="kernel_drops"}')
alerts = d('roda_journal_appended_total{journal="alerts"}')
buckets = sorted((float(re.search(r'le="([^"]+)"', k).group(1)), d(k))
                 for k in b if k.startswith('roda_alert_latency_seconds_bucket'))
total = buckets[-1][1] if buckets else 0
def q(p):
    if total == 0: return float('nan')
    want, lower, below = p * total, 0.0, 0.0
    for bound, cum in buckets:
        if cum >= want:
            if bound == float('inf'): return lower * 1e6
            share = (want - below) / (cum - below) if cum > below else 1.0
            return (lower + (bound - lower) * share) * 1e6
        lower, below = bound, cum
    return lower * 1e6
print(f"readings_per_sec={readings / secs:.0f} alerts={alerts:.0f} journal_full={full:.0f} "
      f"kernel_drops={kernel:.0f} latency_samples={total:.0f} p50_us={q(0.5):.1f} "
      f"p99_us={q(0.99):.1f} p999_us={q(0.999):.1f} "
      f"rss_mib={b['roda_process_resident_memory_bytes'] / 1048576:.1f}")
PY
}

field() { sed -n "s/.*\b$1=\([0-9.na]*\).*/\1/p" <<< "$2"; }

batch=32
# phase BEFORE AFTER DEVICES SENSORS RATE: roda-fleet for one phase (RATE messages/s, 0: flat out)
# between two scrapes named BEFORE and AFTER; prints the phase's report line.
phase() {
    scrape "$1"
    "$fleet" --udp "127.0.0.1:$udp" --devices "$3" --sensors "$4" --batch $batch --rate "$5" \
        --seconds "$seconds" --spike 0.002 > "$work/fleet.out"
    scrape "$2"
    report "$1" "$2" "$seconds"
}
# rss_mib SCRAPE: the resident memory in a scrape, MiB.
rss_mib() { awk '$1 == "roda_process_resident_memory_bytes" { printf "%.1f", $2 / 1048576 }' "$work/$1.prom"; }

# run PLACEMENT: every phase of one placement; its RESULT line.
run() {
    local placement=$1 pct rate sent_rate
    echo "== $placement: 10k sensors (100 devices x 100 sensors), batch $batch, ${seconds}s per phase"
    start 10000 "$placement"
    max_line=$(phase start10k max 100 100 0)
    echo "max rate:   $max_line"
    echo "fleet:      $(tail -n 1 "$work/fleet.out")"
    max=$(field readings_per_sec "$max_line")
    lines=()
    for pct in 10 50 90; do
        rate=$(python3 -c "print(max(1, int($max * $pct / 100 / $batch)))")
        lines[pct]=$(phase before$pct after$pct 100 100 "$rate")
        sent_rate=$(field messages_per_sec "$(tail -n 1 "$work/fleet.out")")
        echo "at $pct%:     ${lines[pct]} (paced at $rate msg/s, sent $sent_rate msg/s)"
    done
    rss10k_start=$(rss_mib start10k)
    rss10k_load=$(field rss_mib "${lines[90]}")
    stop

    echo "== $placement: 1M sensors (1000 devices x 1000 sensors)"
    start 1000000 "$placement"
    m_line=$(phase start1m load1m 1000 1000 0)
    echo "1M flat out: $m_line"
    tracked=$(awk '$1 == "roda_sensors_tracked" { print $2 }' "$work/load1m.prom")
    rss1m_start=$(rss_mib start1m)
    rss1m_load=$(field rss_mib "$m_line")
    echo "sensors tracked: $tracked"
    stop

    local quantiles=""
    for pct in 10 50 90; do
        quantiles+=" readings_per_sec_at_${pct}pct=$(field readings_per_sec "${lines[pct]}")"
        quantiles+=" p50_us_at_${pct}pct=$(field p50_us "${lines[pct]}")"
        quantiles+=" p99_us_at_${pct}pct=$(field p99_us "${lines[pct]}")"
        quantiles+=" p999_us_at_${pct}pct=$(field p999_us "${lines[pct]}")"
    done
    results+=("RESULT name=gateway_udp_end_to_end_$placement events_per_sec=$max$quantiles" \
        "rss_mib_10k_start=$rss10k_start rss_mib_10k_load=$rss10k_load" \
        "rss_mib_1m_start=$rss1m_start rss_mib_1m_load=$rss1m_load sensors_1m_tracked=$tracked")
}

API_REQUESTS=21
# api_ms QUERY: the median time of GET /api/sensors?QUERY, ms (its total and row count printed).
api_ms() {
    local url="http://127.0.0.1:$http/api/sensors?$1"
    curl -s "$url" | python3 -c '
import json, sys
page = json.load(sys.stdin)
print("total=%d rows=%d" % (page["total"], len(page["sensors"])), end=" ")'
    for _ in $(seq $API_REQUESTS); do curl -s -o /dev/null -w '%{time_total}\n' "$url"; done |
        sort -n | awk -v n=$API_REQUESTS 'NR == int(n / 2) + 1 { printf "median_ms=%.2f\n", $1 * 1000 }'
}

# api_phase: a gateway with 100k sensors tracked (100 devices x 1000 sensors, ids device x 1000 +
# sensor), then the page's requests.
api_phase() {
    echo "== the page's API at 100k sensors (fused)"
    start 100000 fused
    phase startapi loadapi 100 1000 0 > /dev/null
    echo "sensors tracked: $(awk '$1 == "roda_sensors_tracked" { print $2 }' "$work/loadapi.prom")"
    local query
    for query in "limit=50" "limit=100&offset=99900" "limit=50&device=dev5*" \
        "limit=50&severity=warning" "limit=50&rule=spike" "id=5" "id=50000" "id=99999"; do
        echo "/api/sensors?$query: $(api_ms "$query")"
    done
    stop
}

results=()
for placement in $placements; do run "$placement"; done
api_phase
[ ${#results[@]} -eq 0 ] || printf '%s %s %s\n' "${results[@]}"
