#!/usr/bin/env bash
# window_rss_test.sh - the memory plan's "rule windows" term is what a window costs: the gateway
# at limits.max_sensors = 100000 runs once without and once with a window rule (p95 over 1m: a
# window with a quantile sketch), roda-fleet feeds every one of the 100,000 sensors over UDP in
# each run, and the resident memory (VmRSS) of the second run exceeds the first's by the plan's
# "rule windows" bytes within 1% + 2 MiB. Prints the figures.
# Usage: window_rss_test.sh RODA_GATEWAY PROTO_DIR RODA_FLEET
set -euo pipefail
gateway=$1
proto_dir=$2
fleet=$3
source "$(dirname "$0")/lib.sh"

sensors=100000
# run NAME RULE_LINES: starts the gateway, feeds every sensor, sets $rss (bytes) and $plan (its
# "rule windows" bytes), stops it.
run() {
    {
        printf '[limits]\nmax_sensors = %d\nsensor_idle_timeout = 0\nmax_series = 100\n' "$sensors"
        udp_only_config
        printf '[rule.hot]\nkind = above\nthreshold = 1000000\n%s\n' "$2"
    } > "$work/$1.conf"
    start_gateway "$1" "$work/$1.conf"
    "$fleet" --udp "127.0.0.1:$udp_port" --devices 100 --sensors 1000 --batch 50 --count 2000 \
        --rate 20000 --seconds 15 > "$work/$1.fleet.out" ||
        fail "roda-fleet: $(cat "$work/$1.fleet.out")"
    wait_metric roda_sensors_tracked "$sensors"
    wait_at_least 'roda_stage_events_total{stage="rules"}' "$sensors"
    curl -s "$base/metrics" > /dev/null
    rss=$(($(awk '/^VmRSS:/ { print $2 }' "/proc/$gateway_pid/status") * 1024))
    plan=$(sed -n 's/.*item="rule windows" bytes=\([0-9]*\).*/\1/p' "$work/$1.log")
    stop_gateway
}

run plain ''
rss_plain=$rss
[ "$plan" -eq 0 ] || fail "rule windows planned without a window rule: $plan"
run windowed 'value = p95 over 1m'
growth=$((rss - rss_plain))
tolerance=$((plan / 100 + 2 * 1024 * 1024))
echo "RESULT name=window_rss sensors=$sensors rss_plain=$rss_plain rss_windowed=$rss" \
    "growth=$growth plan_rule_windows=$plan difference=$((growth - plan)) tolerance=$tolerance"
[ $((growth - plan)) -le "$tolerance" ] && [ $((plan - growth)) -le "$tolerance" ] ||
    fail "RSS grew $growth bytes with the window; the plan says $plan (tolerance $tolerance)"
echo "PASS"
