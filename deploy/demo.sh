#!/usr/bin/env bash
# demo.sh - Roda's one-command demo, the README's first command. On a Debian 12 machine (root or
# sudo) it installs the packages (deploy/install-deps.sh), builds roda-gateway and roda-fleet
# (cmake preset default), then starts, all on 127.0.0.1 and free ports:
#   - mosquitto, with deploy/mosquitto.conf's settings (raised max_queued_messages, ...),
#   - roda-gateway with deploy/demo.conf (rules: spike above 80, jump x3, silent for 5 s),
#   - roda-fleet: DEMO_DEVICES devices (default 300) x 4 sensors over MQTT and UDP with rare
#     spikes, and a second fleet of 10 devices (lost-*) that stops after 8 s, so that its
#     sensors go silent,
# prints the URLs and shows every alert of the gateway's /alerts stream as one line.
# Ctrl-C (or SIGTERM) stops everything it started. Running it again starts afresh.
#
# Environment:
#   DEMO_SECONDS=N   run N seconds, print a summary and stop (0, the default: until Ctrl-C)
#   DEMO_DEVICES=N   devices of the main fleet (default 300)
#   DEMO_DIR=DIR     configs, logs and the pid list (default build/demo)
#   DEMO_SETUP=0     skip install and build; use the binaries in RODA_BIN_DIR
#   RODA_BIN_DIR=DIR where roda-gateway and roda-fleet are (default build/default/gateway)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

seconds=${DEMO_SECONDS:-0}
devices=${DEMO_DEVICES:-300}
work=${DEMO_DIR:-$root/build/demo}
bin=${RODA_BIN_DIR:-$root/build/default/gateway}
[[ $seconds =~ ^[0-9]+$ && $devices =~ ^[0-9]+$ && $devices -gt 0 ]] || {
    echo "demo: DEMO_SECONDS and DEMO_DEVICES must be whole numbers (DEMO_DEVICES > 0)" >&2
    exit 2
}

say() { printf 'demo: %s\n' "$*"; }

# ---- processes: every one started here is recorded and stopped on any exit ----------------
names=()
pids=()
started() {
    names+=("$1")
    pids+=("$2")
    echo "$1 $2" >> "$work/pids"
}
alive() {
    local state
    state=$(ps -o stat= -p "$1" 2> /dev/null) || return 1
    [[ $state != Z* ]]
}
# SIGTERM (the gateway drains on it), up to 10 s, then SIGKILL; reaps the process either way.
stop_one() {
    kill -TERM "$1" 2> /dev/null || return 0
    for _ in $(seq 100); do
        alive "$1" || break
        sleep 0.1
    done
    alive "$1" && kill -KILL "$1" 2> /dev/null
    wait "$1" 2> /dev/null || true
}
stopping=0
stop_all() {
    [ $stopping -eq 1 ] && return 0
    stopping=1
    set +e
    local i left=()
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        stop_one "${pids[i]}"
    done
    for i in "${!pids[@]}"; do
        alive "${pids[i]}" && left+=("${names[i]}(${pids[i]})")
    done
    if [ ${#left[@]} -eq 0 ]; then
        say "stopped ${#pids[@]} processes: ${names[*]:-none}; logs in $work"
    else
        say "could not stop: ${left[*]}"
    fi
}
trap 'stop_all' EXIT
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM

fail() {
    say "$1"
    [ -n "${2:-}" ] && [ -s "$2" ] && { say "last lines of $2:"; tail -n 20 "$2"; }
    exit 1
}

# ---- install and build ----------------------------------------------------------------------
if [ "${DEMO_SETUP:-1}" != 0 ]; then
    bash deploy/install-deps.sh
    say "building roda-gateway and roda-fleet (cmake preset default)"
    cmake --preset default > /dev/null
    cmake --build --preset default --target roda-gateway roda-fleet
fi
for b in roda-gateway roda-fleet; do
    [ -x "$bin/$b" ] || fail "$bin/$b is not built (run: cmake --preset default && cmake --build --preset default)"
done

mkdir -p "$work"
rm -f "$work"/{pids,mosquitto.conf,mosquitto.db,mosquitto.log,gateway.conf,gateway.log} \
    "$work"/{fleet.log,fleet-lost.log,alerts.fifo}

free_port() { # free_port tcp|udp
    python3 -c 'import socket, sys
kind = socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}
mqtt_port=$(free_port tcp)
http_port=$(free_port tcp)
udp_port=$(free_port udp)
while [ "$http_port" = "$mqtt_port" ]; do http_port=$(free_port tcp); done
url=http://127.0.0.1:$http_port

# ---- broker -----------------------------------------------------------------------------------
# deploy/mosquitto.conf's settings, with this run's listener and files.
{
    grep -v -E '^(listener|persistence_location|log_dest|user)\b' deploy/mosquitto.conf
    echo "listener $mqtt_port 127.0.0.1"
    echo "persistence_location $work/"
    echo "log_dest file $work/mosquitto.log"
    echo "user $(id -un)"
} > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" > /dev/null 2>&1 &
started mosquitto $!
for _ in $(seq 100); do
    (exec 3<> "/dev/tcp/127.0.0.1/$mqtt_port") 2> /dev/null && break
    alive "${pids[0]}" || fail "mosquitto did not start" "$work/mosquitto.log"
    sleep 0.1
done

# ---- gateway ----------------------------------------------------------------------------------
# demo.conf with this run's ports: [http] port, [mqtt] port, [udp] bind.
awk -v http="$http_port" -v mqtt="$mqtt_port" -v udp="127.0.0.1:$udp_port" '
    /^\[/ { section = $0 }
    section == "[http]" && /^port[ \t]*=/ { print "port = " http; next }
    section == "[mqtt]" && /^port[ \t]*=/ { print "port = " mqtt; next }
    section == "[udp]" && /^bind[ \t]*=/ { print "bind = " udp; next }
    { print }' deploy/demo.conf > "$work/gateway.conf"
"$bin/roda-gateway" -c "$work/gateway.conf" > "$work/gateway.log" 2>&1 &
gateway_pid=$!
started roda-gateway $gateway_pid
ready=0
for _ in $(seq 200); do
    alive $gateway_pid || fail "roda-gateway exited at start" "$work/gateway.log"
    if curl -fs -o /dev/null "$url/readyz"; then
        ready=1
        break
    fi
    sleep 0.1
done
[ $ready -eq 1 ] || fail "roda-gateway not ready after 20 s ($url/readyz)" "$work/gateway.log"

# ---- the alert stream, one line per alert ------------------------------------------------------
mkfifo "$work/alerts.fifo"
color=0
[ -t 1 ] && color=1
# SSE lines in; "data: {alert}" out as: time, state, severity, rule, device, sensor, what happened.
jq -Rr --unbuffered --argjson color $color '
    def num: if type == "number" then (. * 100 | round) / 100 | tostring else "?" end;
    def pad($n): tostring | . + (" " * ([$n - length, 1] | max));
    def paint($code): if $color == 1 then "\u001b[\($code)m\(.)\u001b[0m" else . end;
    select(startswith("data: ")) | .[6:] | fromjson? |
    (now | strflocaltime("%H:%M:%S")) as $time |
    if has("missed") then
        "\($time)  \("GAP" | pad(9) | paint("33"))\(.missed) alerts not shown (this terminal fell behind)"
    else
        (if .state == "firing" then ("FIRING" | pad(9) | paint("1;31"))
         else ("resolved" | pad(9) | paint("32")) end) as $state |
        (if .kind == "stale" then "silent for \(.value | floor) s"
         elif .kind == "jump" then "x\(.value | num) (from \(.previous | num))"
         elif .kind == "rate" then "\(.value | num)/s (limit \(.threshold | num)/s)"
         elif .kind == "below" then "\(.value | num) (limit < \(.threshold | num))"
         else "\(.value | num) (limit > \(.threshold | num))" end) as $what |
        "\($time)  \($state)\(.severity | pad(9))\(.rule | pad(8))\(.device // "?" | pad(10))" +
        "sensor \(.sensor | pad(7))\($what)" +
        (if (.suppressed // 0) > 0 then "  (+\(.suppressed) held back)" else "" end)
    end' < "$work/alerts.fifo" &
started alert-format $!
format_pid=$!
curl -sN "$url/alerts" > "$work/alerts.fifo" 2>> "$work/gateway.log" &
started alert-stream $!
# Alerts raised before the stream is open would not be shown: wait for the gateway to count it.
for _ in $(seq 50); do
    curl -fs "$url/metrics" | grep -q '^roda_sse_clients 1' && break
    sleep 0.1
done

# ---- fleets -------------------------------------------------------------------------------------
fleet_seconds=$seconds
[ "$seconds" -eq 0 ] && fleet_seconds=31536000
common=(--mqtt "127.0.0.1:$mqtt_port" --udp "127.0.0.1:$udp_port" --topic-prefix fleet --qos 1)
# 4 sensors per device, one reading of each per message, 2 messages per device per second; a
# reading spikes (+100) with probability 0.0002: about one spike every 2 s for 300 devices (seed
# 5: the first one within seconds).
"$bin/roda-fleet" "${common[@]}" --devices "$devices" --sensors 4 --batch 4 \
    --rate $((devices * 2)) --spike 0.0002 --seconds "$fleet_seconds" --device-prefix dev- --seed 5 \
    > "$work/fleet.log" 2>&1 &
started roda-fleet $!
# Sensors 4 and 5 of lost-0 .. lost-9 (ids n*1000+4, +5: distinct from the main fleet's 0..3)
# talk for 8 s and then go silent.
"$bin/roda-fleet" "${common[@]}" --devices 10 --sensors 6 --silent 4 --batch 2 --rate 20 \
    --seconds 8 --device-prefix lost- --seed 2 > "$work/fleet-lost.log" 2>&1 &
started roda-fleet-lost $!

cat << EOF
demo: open the fleet page: $url/
demo: Roda is running: mosquitto on 127.0.0.1:$mqtt_port, roda-gateway, roda-fleet ($devices devices x 4 sensors over MQTT and UDP)
demo:   metrics         $url/metrics
demo:   alert stream    $url/alerts          (Server-Sent Events; ?rule=spike, ?severity=critical, ?device=dev-1*)
demo:   recent alerts   $url/alerts/recent
demo:   one sensor      $url/sensors/1002    (device dev-1, sensor 2)
demo:   health          $url/healthz  $url/readyz
demo:   MQTT alerts     mosquitto_sub -p $mqtt_port -t roda/alerts
demo: rules: spike (value > 80), jump (x3), silent (no reading for 5 s; the lost-* devices stop after 8 s)
demo: alerts as they happen$([ "$seconds" -gt 0 ] && echo " for $seconds s" || echo " (Ctrl-C stops everything)"):
EOF

if [ "$seconds" -eq 0 ]; then
    wait $format_pid || true
    alive $gateway_pid || fail "roda-gateway stopped" "$work/gateway.log"
    fail "the alert stream ended" "$work/gateway.log"
fi
sleep "$seconds" &
started timer $!
wait $!
# What the gateway counted, from its own /metrics.
metrics=$(curl -fs "$url/metrics") || fail "roda-gateway stopped answering" "$work/gateway.log"
echo "$metrics" | awk -v seconds="$seconds" '
    /^roda_alerts_total\{/ && /state="firing"/ { fired += $NF }
    /^roda_ingest_readings_total\{/ { readings += $NF }
    END { printf "demo: %d readings ingested, %d alerts fired in %s s\n", readings, fired, seconds }'
