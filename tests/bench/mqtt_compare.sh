#!/usr/bin/env bash
# mqtt_compare.sh - roda-gateway side by side with mqtt2prometheus (Debian's
# prometheus-mqtt-exporter) on one mosquitto: one roda-fleet publisher sends the very same JSON
# messages (same seed; 1000 devices, 4 readings per message, QoS 0) to each in turn, at fixed
# rates and flat out, in bounded runs. Per subject and rate: messages/s accepted, loss, CPU
# microseconds per message and share of a core (utime + stime of /proc/PID/stat over the run and
# 1 s of drain; what is not accepted by then is lost), context switches per message (voluntary
# + nonvoluntary of every thread in /proc/PID/task/*/status), RSS. Each figure is the median of
# RUNS runs; the subjects take turns within a run, so each baseline is from the same minutes.
# Ends with RESULT lines.
#   tests/bench/mqtt_compare.sh BUILD_DIR [SECONDS] [RUNS] [RATES] [BASE_BUILD_DIR]
# RATES: messages/s, space-separated, 0 = flat out (default "100 1000 10000 60000 0"). Subjects:
# roda (the gateway's defaults, those deploy/roda-gateway.conf lists, plus an MQTT JSON input
# and one rule), roda-spin (the same with gateway.idle_spin = true and gateway.placement =
# pipelined), roda-pipelined (the same with gateway.placement = pipelined), roda-base (the same config
# run by BASE_BUILD_DIR's gateway, e.g. the commit before a change; only when given) and
# mqtt2prometheus. Not a ctest test: it loads the machine for minutes. Installs
# prometheus-mqtt-exporter with apt-get when it is missing (as root).
set -euo pipefail
build=${1:?usage: mqtt_compare.sh BUILD_DIR [SECONDS] [RUNS] [RATES] [BASE_BUILD_DIR]}
seconds=${2:-10}
runs=${3:-3}
rates=${4:-100 1000 10000 60000 0}
base_build=${5:-}
gateway=$build/gateway/roda-gateway
fleet=$build/gateway/roda-fleet
exporter=prometheus-mqtt-exporter
devices=1000
readings=4
work=$(mktemp -d)
broker_pid=""
pids=()
cleanup() {
    set +e
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null; done
    [ -n "$broker_pid" ] && kill "$broker_pid" 2> /dev/null
    wait 2> /dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
if ! command -v "$exporter" > /dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$exporter" > "$work/apt.log" 2>&1 ||
        fail "$exporter missing and not installable (apt-get install -y $exporter)"
fi
source "$(dirname "$0")/../lib/broker.sh"
broker_config false
start_broker

# start_roda NAME GATEWAY [GATEWAY_SECTION_LINE]: a gateway with its defaults plus an MQTT JSON
# input on its own topics (bench-NAME/<device>); appends "NAME:PID:HTTP_PORT" to subjects.
subjects=()
start_roda() {
    local port
    port=$(free_port)
    cat > "$work/$1.conf" << CONF
[gateway]
${3:-}
[http]
port = $port
[udp]
enabled = false
[mqtt]
enabled = true
port = $broker_port
client_id = bench-$1
topics = bench-$1/+/readings
formats = json
qos = 0
device_from = topic
device_topic_level = 1
alert_topic =
[json]
sensor_fields =
timestamp_field = ts
[rule.hot]
kind = above
threshold = 90
CONF
    "$2" -c "$work/$1.conf" 2> "$work/$1.log" &
    pids+=("$!")
    subjects+=("$1:$!:$port")
    for _ in $(seq 200); do
        curl -sf "http://127.0.0.1:$port/readyz" > /dev/null && return 0
        sleep 0.1
    done
    tail "$work/$1.log"
    fail "gateway $1 not ready"
}
start_roda roda "$gateway"
start_roda roda-spin "$gateway" "idle_spin = true
placement = pipelined"
start_roda roda-pipelined "$gateway" "placement = pipelined"
[ -n "$base_build" ] && start_roda roda-base "$base_build/gateway/roda-gateway"

# mqtt2prometheus: the same message layout, on its own topics (bench-mqtt2prometheus/<device>).
m2p_port=$(free_port)
{
    cat << YAML
mqtt:
  server: tcp://127.0.0.1:$broker_port
  client_id: m2p-bench
  topic_path: bench-mqtt2prometheus/+/readings
  device_id_regex: "bench-mqtt2prometheus/(?P<deviceid>[^/]+)/readings"
  qos: 0
cache:
  timeout: 60m
metrics:
YAML
    for s in $(seq 0 $((readings - 1))); do
        printf '  - prom_name: s%d\n    mqtt_name: s%d\n    type: gauge\n' "$s" "$s"
    done
} > "$work/m2p.yaml"
"$exporter" -config "$work/m2p.yaml" -listen-address 127.0.0.1 -listen-port "$m2p_port" \
    -log-level warn > "$work/m2p.log" 2>&1 &
m2p_pid=$!
pids+=("$m2p_pid")

for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$m2p_port/metrics" | grep -q '^mqtt2prometheus_connected 1' && break
    sleep 0.1
done
subjects+=("mqtt2prometheus:$m2p_pid:$m2p_port")
sleep 1 # every subscription in place

echo "# machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $devices devices x $readings readings per JSON message, QoS 0, ${seconds}s runs, median of $runs"
python3 - "$fleet" "$broker_port" "$seconds" "$runs" "$devices" "$readings" "$rates" \
    "${subjects[@]}" << 'PY'
import glob, os, statistics, subprocess, sys, time, urllib.request
fleet, broker, seconds, runs, devices, readings, rates = sys.argv[1:8]
seconds, runs = float(seconds), int(runs)
subjects = {}
for subject in sys.argv[8:]:  # NAME:PID:HTTP_PORT, each on its topics bench-NAME/<device>
    name, pid, port = subject.split(":")
    subjects[name] = (int(pid), port, "bench-" + name)
tick = os.sysconf("SC_CLK_TCK")

def accepted(name, port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    if name != "mqtt2prometheus":
        prefix = 'roda_ingest_messages_total{input="mqtt"} '
        return sum(float(l[len(prefix):]) for l in text.splitlines() if l.startswith(prefix))
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
               if l.startswith("received_messages{") and 'status="success"' in l)

def sample(pid):
    stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / tick  # utime, stime (fields 14 and 15)
    switches = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            for line in open(status):
                if "ctxt_switches:" in line:
                    switches += int(line.split()[1])
        except FileNotFoundError:  # a thread that ended meanwhile
            pass
    rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
    return cpu, switches, rss / 1024.0

def measure(name, rate):
    pid, port, prefix = subjects[name]
    a0 = accepted(name, port)  # scrapes outside the CPU window: their cost is not counted
    (c0, s0, _), t0 = sample(pid), time.monotonic()
    out = subprocess.run([fleet, "--mqtt", f"127.0.0.1:{broker}", "--qos", "0", "--json",
                          "--device-in-topic-only", "--topic-prefix", prefix,
                          "--devices", devices, "--sensors", readings, "--batch", readings,
                          "--rate", rate, "--seconds", str(seconds), "--seed", "7"],
                         capture_output=True, text=True, check=True).stdout
    sent = int(out.split("messages=")[1].split()[0])
    sending = float(out.split("seconds=")[1].split()[0])
    time.sleep(1.0)  # drain: what is not accepted 1 s after the last send is lost
    c1, s1, rss = sample(pid)
    window = time.monotonic() - t0
    got = accepted(name, port) - a0
    per = max(got, 1)
    return {"sent_per_sec": sent / sending, "accepted_per_sec": got / sending,
            "loss_pct": 100.0 * (sent - got) / max(sent, 1),
            "cpu_us_per_msg": (c1 - c0) * 1e6 / per, "core_pct": 100.0 * (c1 - c0) / window,
            "ctx_per_msg": (s1 - s0) / per, "rss_mib": rss}

results = {}
for rate in rates.split():
    for run in range(runs):
        for name in subjects:
            r = measure(name, rate)
            results.setdefault((name, rate), []).append(r)
            print(f"run {run + 1} {name} rate={rate} " +
                  " ".join(f"{k}={v:.2f}" for k, v in r.items()), flush=True)
for (name, rate), rs in results.items():
    med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
    print(f"RESULT name=mqtt_compare subject={name} rate={rate} " +
          " ".join(f"{k}={v:.2f}" for k, v in med.items()))
PY
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
