#!/usr/bin/env bash
# window_gauges_test.sh - limits.window_stats: the rules' window statistics per sensor on /metrics
# (roda_sensor_window), checked by window_gauges.py against values it sends over UDP and computes
# itself, within limits.max_series; and --check-config refuses a fifth distinct window, naming
# the rule.
# Usage: window_gauges_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
gateway=$1
proto_dir=$2
source "$(dirname "$0")/lib.sh"

rules() {
    printf '[rule.p95]\nkind = above\nthreshold = 1000\nvalue = p95 over 1m every 10s\n'
    printf '[rule.mean]\nkind = below\nthreshold = -1000\nvalue = mean over 30s every 5s\n'
}

echo "== --check-config: a fifth distinct window is refused, naming its rule"
{
    rules
    for length in 2m 3m 4m; do
        printf '[rule.w%s]\nkind = above\nthreshold = 1\nvalue = max over %s\n' "$length" "$length"
    done
} > "$work/five.conf"
if "$gateway" -c "$work/five.conf" --check-config > /dev/null 2> "$work/five.err"; then
    fail "--check-config accepted five windows"
fi
grep -q 'rule.w4m.value: needs a window (length, hop) past the 4 distinct windows' \
    "$work/five.err" || fail "--check-config said: $(cat "$work/five.err")"

echo "== window gauges on /metrics within limits.max_series"
{
    printf '[limits]\nwindow_stats = true\nmax_series = 3\nmax_sensors = 100\n'
    udp_only_config
    rules
} > "$work/gateway.conf"
start_gateway gw "$work/gateway.conf"
/usr/bin/python3 "$(dirname "$0")/window_gauges.py" --proto-dir "$proto_dir" --work "$work" \
    --udp "$udp_port" --http "$base" --max-series 3 || fail "window gauges"
stop_gateway
echo "PASS"
