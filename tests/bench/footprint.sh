#!/usr/bin/env bash
# footprint.sh - the shipped configuration's resident memory and throughput at 10k sensors: the
# gateway runs deploy/roda-gateway.conf (HTTP and UDP moved to free ports, MQTT off), roda-fleet
# sends 100 devices x 100 sensors over UDP flat out, then at the demo's rate (600 messages of 4 readings/s);
# per run: readings/s accepted, readings dropped (journal full, kernel), RSS after the load.
# With a second build and its shipped config (e.g. the commit before a change), both are
# measured in turns within each run: the before and after of the same minutes. Median of RUNS.
#   tests/bench/footprint.sh BUILD_DIR [SECONDS] [RUNS] [BASE_BUILD_DIR BASE_CONFIG]
# Ends with RESULT lines. Not a ctest test: it loads the machine for a while.
set -euo pipefail
build=${1:?usage: footprint.sh BUILD_DIR [SECONDS] [RUNS] [BASE_BUILD_DIR BASE_CONFIG]}
seconds=${2:-5}
runs=${3:-3}
subjects=("shipped $build $(dirname "$0")/../../deploy/roda-gateway.conf")
[ $# -ge 5 ] && subjects+=("base $4 $5")
work=$(mktemp -d)
gateway_pid=""
trap '[ -n "$gateway_pid" ] && kill "$gateway_pid" 2> /dev/null; wait 2> /dev/null; rm -rf "$work"' EXIT

# measure BUILD CONFIG: one run; prints "flat=READINGS/S dropped=N demo=READINGS/S rss_mib=M".
measure() {
    sed -e 's/^port = 9464 /port = 0 /' -e 's/^bind = 127.0.0.1:9465.*/bind = 127.0.0.1:0/' \
        -e '/^\[mqtt\]/,/^\[/s/^enabled = true /enabled = false /' "$2" > "$work/gw.conf"
    "$1/gateway/roda-gateway" -c "$work/gw.conf" 2> "$work/gw.log" &
    gateway_pid=$!
    for _ in $(seq 400); do
        grep -q 'msg="started"' "$work/gw.log" 2> /dev/null && break
        sleep 0.05
    done
    local http udp
    http=$(sed -n 's/.*msg="started".*http_port=\([0-9]*\).*/\1/p' "$work/gw.log")
    udp=$(sed -n 's/.*msg="started".*udp_port=\([0-9]*\).*/\1/p' "$work/gw.log")
    [ -n "$udp" ] || { cat "$work/gw.log" >&2; exit 1; }
    curl -s "http://127.0.0.1:$http/metrics" > "$work/a.prom"
    "$1/gateway/roda-fleet" --udp "127.0.0.1:$udp" --devices 100 --sensors 100 --batch 32 \
        --rate 0 --seconds "$seconds" > /dev/null
    sleep 1
    curl -s "http://127.0.0.1:$http/metrics" > "$work/b.prom"
    "$1/gateway/roda-fleet" --udp "127.0.0.1:$udp" --devices 300 --sensors 4 --batch 4 \
        --rate 600 --seconds "$seconds" --sensor-offset 1000000 > /dev/null
    sleep 1
    curl -s "http://127.0.0.1:$http/metrics" > "$work/c.prom"
    kill -TERM "$gateway_pid"
    wait "$gateway_pid" || true
    gateway_pid=""
    python3 - "$work" "$seconds" << 'PY'
import sys
def load(path):
    values = {}
    for line in open(path):
        if not line.startswith('#'):
            name, _, value = line.rpartition(' ')
            values[name] = float(value)
    return values
a, b, c = (load(f"{sys.argv[1]}/{n}.prom") for n in "abc")
secs = float(sys.argv[2])
key = 'roda_ingest_readings_total{input="udp"}'
drops = {k.split("reason=")[1].strip("\"}"): b[k] - a.get(k, 0) for k in b if k.startswith('roda_ingest_dropped_total{input="udp"')}
dropped = sum(drops.values())
print(drops, file=sys.stderr)
print(f"flat={(b[key] - a[key]) / secs:.0f} dropped={dropped:.0f} "
      f"demo={(c[key] - b[key]) / secs:.0f} "
      f"rss_mib={c['roda_process_resident_memory_bytes'] / 1048576:.1f}")
PY
}

echo "# machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$runs"); do
    for subject in "${subjects[@]}"; do
        set -- $subject
        echo "run $run $1 $(measure "$2" "$3")" | tee -a "$work/runs"
    done
done
python3 - "$work/runs" << 'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    words = line.split()
    runs.setdefault(words[2], []).append(dict(w.split("=") for w in words[3:]))
for name, rs in runs.items():
    print(f"RESULT name=footprint_10k subject={name} runs={len(rs)} " +
          " ".join(f"{k}={statistics.median(float(r[k]) for r in rs):g}" for k in rs[0]))
PY
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
