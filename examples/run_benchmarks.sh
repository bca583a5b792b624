#!/usr/bin/env bash
# The engine's benchmark suite, as recorded in BENCHMARKS.md: every figure is the median of RUNS
# runs (default 5), printed as MEDIAN lines by examples/bench_median.py.
#   examples/run_benchmarks.sh [BUILD_DIR] [RUNS] [EVENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/default}
runs=${2:-5}
events=${3:-100000000}
bin=$build/examples
median() { python3 examples/bench_median.py "$runs" -- "$@" | grep '^MEDIAN'; }

echo "# machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "## two-thread handoff vs plain loop (32-byte records)"
for capacity in 4096 65536; do
    median "$bin/journal_handoff" --events 200000000 --capacity "$capacity"
done

echo "## sensor pipeline, fully drained, and the same pipe fused in one thread"
for workload in reference realistic; do
    median "$bin/sensor_pipeline" --workload "$workload" --events "$events"
done

echo "## the reference's exact workloads, fully drained (alert counts checked)"
for example in sensor_test service_health; do
    median "$bin/$example" --events "$events"
done

echo "## market-by-order replay: order books, then order-flow imbalance signals (stages pinned)"
for instruments in 1000 100; do
    median "$bin/mbo_replay" --events $((events / 5)) --instruments "$instruments"
done

echo "## journal capacity (small vs large) with more threads than cores"
for capacity in 1024 4096 65536 1048576; do
    median "$bin/sensor_pipeline" --workload realistic --events $((events / 4)) --capacity "$capacity" --fused 0
done

echo "## idle strategy: spins/yields before the futex sleep"
for idle in "0 0" "64 8" "256 64" "4096 0"; do
    set -- $idle
    median "$bin/sensor_pipeline" --workload realistic --events $((events / 4)) --fused 0 \
        --spins "$1" --yields "$2"
done

echo "## pinning stages (stage 1 on cpu 1, stage 2 on cpu 0)"
median "$bin/sensor_pipeline" --workload realistic --events $((events / 4)) --fused 0 --pin 1

echo "## latency below saturation (paced sender, send -> receive through both stages)"
for rate in 1000000 10000000; do
    median "$bin/sensor_pipeline" --workload realistic --events $((rate * 2)) --fused 0 --rate "$rate"
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
