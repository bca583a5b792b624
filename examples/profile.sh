#!/usr/bin/env bash
# Instructions per event, branch-miss and L1 data-miss rates of an example, the columns the
# reference reports: sensor_pipeline (workload reference or realistic), or the reference's exact
# workloads sensor_test and service_health. These VMs expose no hardware counters to perf, so this counts with
# cachegrind (simulated caches and branch predictor). Fixed costs (start-up, table set-up) cancel:
# the figures are the difference between a run of N events and one of 2N, divided by N.
#   examples/profile.sh BUILD_DIR [reference|realistic|sensor_test|service_health] [N]
set -euo pipefail
build=${1:?usage: examples/profile.sh BUILD_DIR [reference|realistic|sensor_test|service_health] [EVENTS]}
workload=${2:-reference}
case $workload in
reference | realistic) program=(sensor_pipeline --workload "$workload") ;;
sensor_test | service_health) program=("$workload") ;;
*) echo "profile.sh: unknown workload $workload" >&2; exit 2 ;;
esac
events=${3:-2000000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

totals() { # events mode-options... -> "Ir Dr Dw D1mr D1mw Bc Bcm Bi Bim"
    local n=$1
    shift
    valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes \
        --cachegrind-out-file="$out/cg.$n" "$build/examples/${program[0]}" "${program[@]:1}" \
        --events "$n" --spins 0 --yields 0 "$@" >/dev/null 2>&1
    awk '/^events:/ {split($0, names, " ")} /^summary:/ {
        for (i = 2; i <= NF; i++) value[names[i]] = $i
        print value["Ir"], value["Dr"], value["Dw"], value["D1mr"], value["D1mw"],
              value["Bc"], value["Bcm"], value["Bi"], value["Bim"] }' "$out/cg.$n"
}

# mode: "pipelined" (stages, journals and idle loops, threads serialized by valgrind) or "fused"
# (the pipe alone, one thread).
profile() {
    local mode=$1 small large
    shift
    read -r -a small < <(totals "$events" "$@")
    read -r -a large < <(totals $((2 * events)) "$@")
    awk -v n="$events" -v name="${workload}_${mode}" \
        -v s="${small[*]}" -v l="${large[*]}" 'BEGIN {
    split(s, a, " "); split(l, b, " ")
    for (i = 1; i <= 9; i++) d[i] = b[i] - a[i]
    ipe = d[1] / n
    l1 = 100 * (d[4] + d[5]) / (d[2] + d[3])
    branch = 100 * (d[7] + d[9]) / (d[6] + d[8])
    printf "%s under cachegrind, per event over %d events:\n", name, n
    printf "  instructions %.1f  L1d miss %.2f%%  branch miss %.2f%%\n", ipe, l1, branch
    printf "RESULT name=profile_%s events=%d instructions_per_event=%.1f l1d_miss_pct=%.2f branch_miss_pct=%.2f\n",
        name, n, ipe, l1, branch
}'
}

profile fused --pipelined 0
profile pipelined --fused 0
