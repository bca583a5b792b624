# lib.sh - shared by the fault tests, sourced with the test's arguments (RODA_GATEWAY PROTO_DIR):
# the gateway's real-process helpers (tests/gateway/lib.sh) with a persistent broker, the gateway's
# config for a fault run, the independent fleet (fleet.py), and the accounting from /metrics.
gateway=$1
proto_dir=$2
here_faults=$(dirname "${BASH_SOURCE[0]}")
source "$here_faults/../gateway/lib.sh"
broker_config true

# fault_config FILE [JOURNAL_LINES]: MQTT QoS 1 from $broker_port (persistent session), UDP on a
# free port, HTTP on a free port, quick reconnects; JOURNAL_LINES go into [journal].
fault_config() {
    cat > "$1" << CONF
[gateway]
log_level = info
[journal]
${2:-input_capacity = 65536}
summary_capacity = 65536
alert_capacity = 1024
[limits]
max_sensors = 100000
max_devices = 1000
[http]
port = 0
[mqtt]
enabled = true
host = 127.0.0.1
port = $broker_port
client_id = fault-gateway
topics = roda/+/readings
qos = 1
reconnect_min = 100ms
reconnect_max = 1s
keepalive = 5s
[udp]
enabled = true
bind = 127.0.0.1:0
CONF
}

# run_fleet NAME ARGS...: fleet.py in the background (its pid in fleet_pid, output $work/NAME.out).
run_fleet() {
    local name=$1
    shift
    "$python" "$here_faults/fleet.py" --proto-dir "$proto_dir" --work "$work" "$@" \
        > "$work/$name.out" 2>&1 &
    fleet_pid=$!
    bg_pids+=("$fleet_pid")
}

# fleet_result NAME FIELD: a field of the fleet's RESULT line.
fleet_result() {
    sed -n "s/^RESULT .*$2=\([0-9]*\).*/\1/p" "$work/$1.out"
}

# dropped INPUT REASON: roda_ingest_dropped_total for one input and reason.
dropped() {
    metric "roda_ingest_dropped_total{input=\"$1\",reason=\"$2\"}"
}

# report NAME FIELDS...: one line for FAULTS.md (the suite's log shows it).
report() {
    echo "FAULT $*"
}
