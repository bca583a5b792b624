#!/usr/bin/env bash
# test_http.sh - the HTTP server as a real process: routes and status codes, /metrics through
# promtool, JSON endpoints, SSE (resume with Last-Event-ID, gap event, filters, live events,
# heartbeat, max clients -> 503, closed clients released promptly), HEAD without a body, refused
# connections logged once per interval, hostile requests (long URL/headers, bad methods, garbage,
# idle connections) and a prompt, clean SIGTERM with a stream open.
#   test_http.sh PATH/TO/roda_http_test_server
set -euo pipefail
server_bin=$1
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# start_server NAME ARGS... : starts a server on a free port; sets $port and $server_pid.
start_server() {
    local name=$1; shift
    : >"$work/$name.out"
    "$server_bin" "$@" >"$work/$name.out" 2>"$work/$name.err" &
    server_pid=$!
    pids+=("$server_pid")
    for _ in $(seq 50); do
        port=$(sed -n 's/^port=//p' "$work/$name.out")
        [ -n "$port" ] && return 0
        sleep 0.1
    done
    fail "server $name did not start: $(cat "$work/$name.err")"
}

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }
url() { echo "http://127.0.0.1:$port$1"; }

start_server main --events 20 --ring 8 --sse-clients 2 --heartbeat-ms 300 \
    --max-connections 8 --timeout-s 2

# ---- routes and status codes
[ "$(curl -s "$(url /healthz)")" = "ok" ] || fail "/healthz body"
[ "$(code "$(url /healthz)")" = 200 ] || fail "/healthz"
[ "$(code -I "$(url /healthz)")" = 200 ] || fail "HEAD /healthz"
[ "$(code "$(url /readyz)")" = 200 ] || fail "/readyz ready"
kill -USR2 "$server_pid"; sleep 0.1
[ "$(code "$(url /readyz)")" = 503 ] || fail "/readyz not ready"
[ "$(curl -s "$(url /readyz)")" = "not ready: mqtt broker not connected" ] || fail "/readyz reason"
kill -USR2 "$server_pid"; sleep 0.1
[ "$(code "$(url /readyz)")" = 200 ] || fail "/readyz ready again"
[ "$(code "$(url /nope)")" = 404 ] || fail "unknown path"
[ "$(code "$(url /metrics/extra)")" = 404 ] || fail "unknown sub-path"
[ "$(code -X POST -d x=1 "$(url /metrics)")" = 405 ] || fail "POST"
[ "$(code -X DELETE "$(url /alerts)")" = 405 ] || fail "DELETE"
headers=$(curl -s -i -X PUT "$(url /healthz)")
grep -qi "^Allow: GET, HEAD" <<<"$headers" || fail "Allow header"
# HEAD: headers only on every route (a raw request: curl -I would not show a body it was sent).
for path in /alerts /metrics /healthz /readyz /alerts/recent /sensors/1 /nope; do
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'HEAD %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n' "$path" >&3
    timeout 3 cat <&3 > "$work/head.out" || true
    exec 3<&-
    grep -q '^HTTP/1.1 [24]0[04] ' "$work/head.out" || fail "HEAD $path: $(head -1 "$work/head.out")"
    body=$(sed '1,/^\r$/d' "$work/head.out" | wc -c)
    [ "$body" = 0 ] || fail "HEAD $path sent a $body-byte body"
done
pass "routes, methods, readiness"

# ---- /metrics
curl -s -D "$work/metrics.h" -o "$work/metrics.txt" "$(url /metrics)"
grep -qi "^Content-Type: text/plain; version=0.0.4" "$work/metrics.h" || fail "metrics type"
promtool check metrics <"$work/metrics.txt" || fail "promtool check metrics"
grep -q 'roda_sensor_value{device="quo\\"te",sensor="1",stat="mean"} 1.5' "$work/metrics.txt" \
    || fail "label escaping"
grep -q 'over-the-cap' "$work/metrics.txt" && fail "series cap not applied"
grep -q 'roda_metrics_omitted_samples{reason="series_limit"} 6' "$work/metrics.txt" \
    || fail "capped series not counted"
grep -q 'roda_alert_latency_seconds_bucket{le="+Inf"} 20' "$work/metrics.txt" || fail "histogram"
grep -q '^roda_build_info{version="[0-9.]*"} 1$' "$work/metrics.txt" || fail "build info"
rss=$(sed -n 's/^roda_process_resident_memory_bytes //p' "$work/metrics.txt")
[ "${rss:-0}" -gt 1000000 ] || fail "process RSS: $rss"
pass "/metrics valid for promtool"

# ---- JSON endpoints
grep -q '"sensor":42,"device":"pump-1"' <<<"$(curl -s "$(url /sensors/42)")" || fail "/sensors/42"
[ "$(code "$(url /sensors/7)")" = 404 ] || fail "unknown sensor"
[ "$(code "$(url /sensors/abc)")" = 400 ] || fail "bad sensor id"
[ "$(code "$(url /sensors/99999999999999999999999)")" = 400 ] || fail "huge sensor id"
[ "$(code "$(url /sensors/)")" = 400 ] || fail "empty sensor id"
recent=$(curl -s "$(url '/alerts/recent?limit=3')")
[ "$(grep -o '"id":' <<<"$recent" | wc -l)" = 3 ] || fail "/alerts/recent count: $recent"
grep -q '^\[{"id":17,' <<<"$recent" || fail "/alerts/recent order: $recent"
[ "$(code "$(url '/alerts/recent?limit=0')")" = 400 ] || fail "limit=0"
[ "$(code "$(url '/alerts/recent?limit=1000')")" = 400 ] || fail "limit too big"
pass "JSON endpoints"

# ---- SSE
sse() { curl -s -N --max-time "$1" "${@:2}" || true; }
# Resume inside the ring: 15..19, nothing older, no gap.
out=$(sse 1 -H 'Last-Event-ID: 14' "$(url /alerts)")
grep -q '^retry: 2000$' <<<"$out" || fail "retry line"
[ "$(grep -c '^event: alert$' <<<"$out")" = 5 ] || fail "resume count: $out"
grep -q '^id: 15$' <<<"$out" && grep -q '^id: 19$' <<<"$out" || fail "resume ids"
grep -q '^id: 14$' <<<"$out" && fail "resume repeated 14"
grep -q 'event: gap' <<<"$out" && fail "unexpected gap"
# Resume before the ring: a gap event for 4..11 (8 missed), then 12..19.
out=$(sse 1 "$(url '/alerts?last_event_id=3')")
grep -q -x 'data: {"missed":8,"next_id":12}' <<<"$out" || fail "gap: $out"
grep -q '^event: gap$' <<<"$out" || fail "gap event: $out"
[ "$(grep -c '^event: alert$' <<<"$out")" = 8 ] || fail "after gap"
# Filters.
out=$(sse 1 -H 'Last-Event-ID: 11' "$(url '/alerts?rule=cold&device=boiler-*')")
[ "$(grep -c '^event: alert$' <<<"$out")" = 4 ] || fail "filter count: $out"
grep -q '"rule":"hot"' <<<"$out" && fail "filter let hot through"
[ "$(code -H 'Last-Event-ID: x' "$(url /alerts)")" = 400 ] || fail "bad Last-Event-ID"
# Heartbeat on a quiet stream.
out=$(sse 1 "$(url /alerts)")
grep -q '^: heartbeat$' <<<"$out" || fail "heartbeat: $out"
# A live event reaches an open stream.
sse 3 "$(url /alerts)" >"$work/live.txt" &
live=$!
sleep 0.5
kill -USR1 "$server_pid"
wait "$live" || true
grep -q '^id: 20$' "$work/live.txt" || fail "live event: $(cat "$work/live.txt")"
pass "SSE resume, gap, filters, heartbeat, live"

# Max clients: two streams open, the third gets 503 and is counted. Streams whose client left
# are released at their next write (heartbeat), so wait for those first.
wait_streams() {
    for _ in $(seq 30); do
        # Whole output first: grep -q closing the pipe early would fail curl under pipefail.
        metrics=$(curl -s "$(url /metrics)" || true)
        grep -q "^roda_sse_clients $1\$" <<<"$metrics" && return 0
        sleep 0.1
    done
    fail "roda_sse_clients never became $1"
}
wait_streams 0
sse 4 "$(url /alerts)" >/dev/null &
s1=$!
sse 4 "$(url /alerts)" >/dev/null &
s2=$!
wait_streams 2
third=$(code "$(url /alerts)")
[ "$third" = 503 ] || fail "third SSE client not refused: $third"
metrics=$(curl -s "$(url /metrics)")
grep -q '^roda_sse_clients 2$' <<<"$metrics" || fail "sse clients gauge"
grep -q '^roda_sse_rejected_total 1$' <<<"$metrics" || fail "sse rejected counter"
wait "$s1" "$s2" || true
wait_streams 0
[ "$(code --max-time 1 "$(url /alerts)")" = 200 ] || fail "SSE slot not released"
pass "SSE max clients -> 503"

# ---- hostile requests
long=$(head -c 40000 /dev/zero | tr '\0' a)
[ "$(code "$(url "/$long")")" = 414 ] || fail "long URL"
[ "$(code -H "X-Long: $long" "$(url /healthz)")" = 431 ] || fail "long header"
# Garbage on a raw socket: an error status or a closed connection, never a crash.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GARBAGE \x01\x02\r\n\r\n' >&3
reply=$(timeout 3 head -c 64 <&3 || true)
exec 3<&-
[ -z "$reply" ] || grep -q '^HTTP/1.1 400' <<<"$reply" || fail "garbage reply: $reply"
# Idle clients fill this client's connection share; once they time out (2 s, checked within a
# few seconds) service resumes.
for fd in 4 5 6 7; do eval "exec $fd<>/dev/tcp/127.0.0.1/$port"; done
[ "$(code --max-time 1 "$(url /healthz)")" != 200 ] || fail "per-client connection limit"
# Refused connections are logged once per interval (10 s), not once each.
for _ in $(seq 20); do code --max-time 1 "$(url /healthz)" >/dev/null; done
mhd_lines=$(grep -c 'msg="http server"' "$work/main.err" || true)
[ "$mhd_lines" -le 2 ] || fail "$mhd_lines libmicrohttpd log lines for refused connections"
back=""
for _ in $(seq 30); do
    back=$(code --max-time 1 "$(url /healthz)")
    [ "$back" = 200 ] && break
    sleep 0.2
done
[ "$back" = 200 ] || fail "idle connections not timed out"
for fd in 4 5 6 7; do eval "exec $fd<&-"; done
kill -0 "$server_pid" || fail "server died"
pass "hostile requests bounded"

# ---- SIGTERM with a stream open: prompt, clean exit (a fresh server: MHD releases the idle
# connections' slots lazily, which is not what this part tests).
kill -TERM "$server_pid"
wait "$server_pid" || fail "first server exit status $?"
start_server term --heartbeat-ms 300
sse 10 "$(url /alerts)" >/dev/null &
wait_streams 1
start=$(date +%s%N)
kill -TERM "$server_pid"
wait "$server_pid" || fail "server exit status $?"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed_ms" -lt 3000 ] || fail "stop took $elapsed_ms ms"
pass "SIGTERM stop in $elapsed_ms ms"
# ---- closed /alerts clients give their slots back promptly: with a 20 s heartbeat no write
# finds them, so the server must notice the close itself.
start_server gone --sse-clients 20 --heartbeat-ms 20000 --max-connections 64 --timeout-s 60
clients=()
for _ in $(seq 20); do
    curl -s -N --max-time 30 "$(url /alerts)" >/dev/null &
    clients+=("$!")
    pids+=("$!")
done
wait_streams 20
[ "$(code --max-time 1 "$(url /alerts)")" = 503 ] || fail "21st SSE client not refused"
start=$(date +%s%N)
kill "${clients[@]}"
wait "${clients[@]}" 2>/dev/null || true
wait_streams 0
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$(code --max-time 1 "$(url /alerts)")" = 200 ] || fail "SSE slot not free after the close"
kill -TERM "$server_pid"
wait "$server_pid" || fail "server exit status $?"
pass "20 closed SSE clients released in $elapsed_ms ms"
# Sanitizer builds of the server report into its stderr.
if grep -l "Sanitizer\|runtime error" "$work"/*.err; then fail "sanitizer report"; fi
echo "all HTTP tests passed"
