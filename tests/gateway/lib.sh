# lib.sh - shared by the gateway's real-process tests (sourced): a work directory and cleanup
# that stops every process the test started, a mosquitto broker on a free 127.0.0.1 port, the
# gateway started from a config (HTTP and UDP ports it picked, read from its "started" line), and
# helpers that read /metrics and wait for lines or values with a bound.
# The caller sets `gateway` (the roda-gateway binary) and `proto_dir` before sourcing.
work=$(mktemp -d)
broker_pid=""
gateway_pid=""
bg_pids=()
# What the helpers below pass to curl, and the gateway's scheme: a test of HTTPS or basic auth
# sets them (e.g. curl_opts=(--cacert ca.pem -u user:password) scheme=https).
curl_opts=()
scheme=http
# The tests' independent encoders and clients run on the system interpreter, which has Debian's
# python3-* packages (deploy/install-deps.sh), whatever python3 comes first on PATH.
python=/usr/bin/python3
[ -x "$python" ] || python=python3

cleanup() {
    set +e
    for pid in "${bg_pids[@]}"; do kill "$pid" 2> /dev/null; done
    [ -n "$gateway_pid" ] && kill -KILL "$gateway_pid" 2> /dev/null
    [ -n "$broker_pid" ] && kill "$broker_pid" 2> /dev/null
    wait 2> /dev/null
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$work"/*.log "$work"/*.out; do
        [ -s "$f" ] && { echo "== $f" >&2; tail -n 30 "$f" >&2; }
    done
    exit 1
}

source "$(dirname "${BASH_SOURCE[0]}")/../lib/broker.sh"
broker_config false

# placement_config: with RODA_TEST_PLACEMENT set (the *_pipelined tests), the [gateway] lines that
# place the stages so; else nothing.
placement_config() {
    [ -z "${RODA_TEST_PLACEMENT:-}" ] || printf '[gateway]\nplacement = %s\n' "$RODA_TEST_PLACEMENT"
}

# start_gateway NAME CONFIG: starts the gateway, waits for its "started" line and /readyz. CONFIG
# gets placement_config unless it places the stages itself.
start_gateway() {
    log="$work/$1.log"
    grep -q '^placement = ' "$2" || placement_config >> "$2"
    "$gateway" -c "$2" > "$work/$1.stdout" 2> "$log" &
    gateway_pid=$!
    for _ in $(seq 200); do
        grep -q 'msg="started"' "$log" 2> /dev/null && break
        kill -0 "$gateway_pid" 2> /dev/null || fail "gateway exited at start"
        sleep 0.05
    done
    http_port=$(sed -n 's/.*msg="started".*http_port=\([0-9]*\).*/\1/p' "$log")
    udp_port=$(sed -n 's/.*msg="started".*udp_port=\([0-9]*\).*/\1/p' "$log")
    [ -n "$http_port" ] || fail "no started line"
    [ -z "${RODA_TEST_PLACEMENT:-}" ] || grep -q "msg=\"started\".*placement=$RODA_TEST_PLACEMENT" "$log" ||
        fail "the gateway did not start with placement $RODA_TEST_PLACEMENT"
    base="$scheme://127.0.0.1:$http_port"
    wait_ready 200 "gateway not ready"
}

# udp_only_config: config sections for a gateway with HTTP on a free port, UDP on a free
# 127.0.0.1 port and MQTT off (both ports are read from its "started" line by start_gateway).
udp_only_config() {
    printf '[http]\nport = 0\n[mqtt]\nenabled = false\n[udp]\nenabled = true\nbind = 127.0.0.1:0\n'
}

# stop_gateway: SIGTERM; the gateway must exit 0.
stop_gateway() {
    kill -TERM "$gateway_pid"
    wait "$gateway_pid" || fail "gateway exited with an error on SIGTERM"
    gateway_pid=""
}

# udp_batch SEQ VALUES...: one datagram from device "udp-dev", sensor $udp_sensor (default 7),
# one reading per value.
udp_batch() {
    local s=$1 text=""
    shift
    for v in "$@"; do text+="readings { sensor_id: ${udp_sensor:-7} value: $v } "; done
    printf 'device: "udp-dev"\nsequence: %s\nboot_epoch: 1\n%s\n' "$s" "$text" |
        protoc --encode=roda.v1.Batch -I "$proto_dir" "$proto_dir/roda.proto" > "$work/udp.bin"
    cat "$work/udp.bin" > "/dev/udp/127.0.0.1/$udp_port"
}

# wait_ready CODE WHAT [SECONDS]: waits (10 s unless said) until /readyz answers CODE; else fails
# with WHAT and the reason /readyz gives.
wait_ready() {
    for _ in $(seq $((${3:-10} * 20))); do
        [ "$(curl -s "${curl_opts[@]}" -o /dev/null -w '%{http_code}' "$base/readyz")" = "$1" ] &&
            return 0
        sleep 0.05
    done
    fail "$2 (/readyz: $(curl -s "${curl_opts[@]}" "$base/readyz"))"
}

# wait_at_least 'NAME{LABELS}' VALUE [SECONDS]: waits (10 s unless said) until the sample reaches
# VALUE; a failure shows the ingest counters that are not 0.
wait_at_least() {
    for _ in $(seq $((${3:-10} * 20))); do
        local v
        v=$(metric "$1")
        [ -n "$v" ] && [ "$v" -ge "$2" ] && return 0
        sleep 0.05
    done
    fail "$1 is '$(metric "$1")', expected at least $2; $(curl -s "${curl_opts[@]}" "$base/metrics" |
        grep -E '^roda_ingest' | grep -v ' 0$' | tr '\n' ' ')"
}

metric() { # metric 'NAME{LABELS}' : its value on /metrics (empty if absent)
    curl -s "${curl_opts[@]}" "$base/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

# wait_metric 'NAME{LABELS}' VALUE: waits (10 s at most) until the sample has that value.
wait_metric() {
    for _ in $(seq 200); do
        [ "$(metric "$1")" = "$2" ] && return 0
        sleep 0.05
    done
    fail "$1 is '$(metric "$1")', expected $2"
}

# wait_count FILE PATTERN COUNT: waits (10 s at most) for COUNT lines matching PATTERN.
wait_count() {
    for _ in $(seq 200); do
        [ "$(grep -c -- "$2" "$1" 2> /dev/null || true)" -ge "$3" ] && return 0
        sleep 0.05
    done
    fail "$(grep -c -- "$2" "$1" 2> /dev/null || true) lines '$2' in $1, expected $3"
}

