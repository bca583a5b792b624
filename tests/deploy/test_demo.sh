#!/usr/bin/env bash
# test_demo.sh - deploy/demo.sh end to end with the built binaries (DEMO_SETUP=0):
#  1. bounded mode (DEMO_SECONDS): exits 0, at least one alert line was shown, the summary
#     counted alerts, and every process it started has stopped;
#  2. Ctrl-C: the demo in its own process group with SIGINT at its default, as a terminal runs
#     it; once an alert is on screen, the first URL it printed is the fleet page's, which serves
#     the page and counts sensors on /api/sensors; then SIGINT goes to the whole group (what
#     Ctrl-C does); the demo exits 130 and every process it started has stopped.
# Usage: test_demo.sh SOURCE_DIR BIN_DIR   (exit 77, a skip, when roda-gateway is not built)
set -euo pipefail
root=$1
bin=$2
if [ ! -x "$bin/roda-gateway" ]; then
    echo "SKIP: $bin/roda-gateway is not built (the daemon target); the demo needs it"
    exit 77
fi
work=$(mktemp -d)
demo_pid=""
# Whatever happens, nothing the demo started outlives the test.
cleanup() {
    set +e
    [ -n "$demo_pid" ] && kill -TERM -- "-$demo_pid" 2> /dev/null
    for dir in "$work"/run*; do
        [ -f "$dir/pids" ] && while read -r _ pid; do kill -KILL "$pid" 2> /dev/null; done < "$dir/pids"
    done
    wait 2> /dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$work"/*.out "$work"/run*/gateway.log; do
        [ -s "$f" ] && { echo "== $f" >&2; tail -n 30 "$f" >&2; }
    done
    exit 1
}
alert_lines() { grep -c -E '^[0-9:]{8}  (FIRING|resolved) ' "$1" || true; }
# Every pid the demo recorded is gone (not even a zombie: the demo reaped them).
all_stopped() {
    local name pid
    [ -s "$1/pids" ] || fail "no pid list in $1"
    while read -r name pid; do
        kill -0 "$pid" 2> /dev/null && fail "$name (pid $pid) still runs after the demo"
    done < "$1/pids"
    return 0
}
export DEMO_SETUP=0 RODA_BIN_DIR=$bin

# 1. Bounded run.
status=0
DEMO_SECONDS=20 DEMO_DIR=$work/run1 timeout 60 bash "$root/deploy/demo.sh" > "$work/run1.out" 2>&1 ||
    status=$?
[ $status -eq 0 ] || fail "bounded demo exited $status"
shown=$(alert_lines "$work/run1.out")
[ "$shown" -ge 1 ] || fail "bounded demo showed no alert"
grep -q -E '^demo: [0-9]+ readings ingested, [1-9][0-9]* alerts fired' "$work/run1.out" ||
    fail "bounded demo: no summary with alerts"
grep -q '^demo: stopped 7 processes' "$work/run1.out" || fail "bounded demo: no stop report"
all_stopped "$work/run1"
echo "test_demo: bounded run showed $shown alert lines and stopped everything"

# 2. Ctrl-C. A background job of this script ignores SIGINT, so a small launcher restores it
# and makes the demo a process group leader, as an interactive shell would.
export DEMO_DIR=$work/run2
python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setpgid(0, 0)
os.execvp("bash", ["bash", sys.argv[1]])' "$root/deploy/demo.sh" \
    > "$work/run2.out" 2>&1 < /dev/null &
demo_pid=$!
for _ in $(seq 300); do
    [ "$(alert_lines "$work/run2.out")" -ge 1 ] && break
    kill -0 $demo_pid 2> /dev/null || fail "interactive demo ended by itself"
    sleep 0.1
done
[ "$(alert_lines "$work/run2.out")" -ge 1 ] || fail "interactive demo: no alert within 30 s"
first_url=$(grep -m1 -E 'https?://' "$work/run2.out")
page=$(grep -o -E 'https?://[^ ]+' <<< "$first_url" | head -n 1)
[[ "$first_url" == "demo: open the fleet page: $page" && "$page" == */ ]] ||
    fail "the first URL the demo prints is not the page's: $first_url"
curl -fs "$page" > "$work/page.html" || fail "$page does not answer"
grep -q '<title>Roda gateway</title>' "$work/page.html" || fail "$page does not serve the page"
sensors=$(curl -fs "${page}api/sensors?limit=1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])') ||
    fail "${page}api/sensors does not answer"
[ "$sensors" -gt 0 ] || fail "${page}api/sensors counts no sensor"
echo "test_demo: the first URL printed is the page, $page, with $sensors sensors"
kill -INT -- "-$demo_pid"
status=0
for _ in $(seq 300); do
    kill -0 $demo_pid 2> /dev/null || break
    sleep 0.1
done
kill -0 $demo_pid 2> /dev/null && fail "demo still running 30 s after Ctrl-C"
wait $demo_pid || status=$?
demo_pid=""
[ $status -eq 130 ] || fail "demo exited $status after Ctrl-C (want 130)"
grep -q '^demo: stopped 6 processes' "$work/run2.out" || fail "Ctrl-C: no stop report"
all_stopped "$work/run2"
echo "test_demo: Ctrl-C stopped everything"
