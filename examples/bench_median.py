#!/usr/bin/env python3
"""Runs a benchmark command several times and prints the median of every numeric RESULT field.

    examples/bench_median.py RUNS -- COMMAND [ARGS...]

Each run's RESULT line is echoed; the last line is the medians, in the same RESULT shape, with
runs=RUNS added, so scripts and BENCHMARKS.md can quote it."""
import statistics
import subprocess
import sys


def parse(line):
    fields = {}
    for token in line.split()[1:]:
        key, _, value = token.partition("=")
        fields[key] = value
    return fields


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    runs = int(sys.argv[1])
    command = sys.argv[3:]
    results = []
    for _ in range(runs):
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        lines = [l for l in output.splitlines() if l.startswith("RESULT ")]
        if not lines:
            sys.exit("no RESULT line from: " + " ".join(command))
        print(lines[-1], flush=True)
        results.append(parse(lines[-1]))
    medians = []
    for key, first in results[0].items():
        try:
            values = [float(r[key]) for r in results]
        except ValueError:
            medians.append(f"{key}={first}")
            continue
        median = statistics.median(values)
        medians.append(f"{key}={median:.0f}" if median >= 100 else f"{key}={median:.3f}")
    print("MEDIAN " + " ".join(medians) + f" runs={runs}")


if __name__ == "__main__":
    main()
