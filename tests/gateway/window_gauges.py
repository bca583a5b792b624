#!/usr/bin/python3
"""window_gauges.py - sends readings of known values over UDP (roda.v1 batches encoded by Python's
protobuf, generated from proto/roda.proto by protoc), then scrapes /metrics and checks the
roda_sensor_window gauges against the statistics computed here from the values sent: count, mean,
min, max and population stddev exactly (to rounding), p50/p90/p95/p99 within the sketch's 1%
of the value at rank floor(q * (count - 1)); only the sensors exported in roda_sensor_value
(limits.max_series) carry window gauges, the others are counted in roda_series_capped_total.

  window_gauges.py --proto-dir DIR --work DIR --udp PORT --http BASE_URL --max-series N
"""
import argparse
import importlib
import math
import random
import re
import socket
import subprocess
import sys
import time
import urllib.request

SENSORS = 5
READINGS = 200  # per sensor
PER_BATCH = 50
# The config's windows: (length, hop) labels and whether a quantile rule gives it a sketch.
WINDOWS = {("60s", "10s"): True, ("30s", "5s"): False}
QUANTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}
SAMPLE = re.compile(r'^(\w+)(?:\{([^}]*)\})? (\S+)$')


def fail(why):
    print(f"FAIL: {why}", file=sys.stderr)
    sys.exit(1)


def scrape(base):
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    samples = []
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            samples.append((m.group(1), labels, float(m.group(3))))
    return samples


def value(samples, name, **labels):
    for n, l, v in samples:
        if n == name and all(l.get(k) == w for k, w in labels.items()):
            return v
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto-dir", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--udp", type=int, required=True)
    ap.add_argument("--http", required=True)
    ap.add_argument("--max-series", type=int, required=True)
    a = ap.parse_args()
    subprocess.run(["protoc", f"--python_out={a.work}", "-I", a.proto_dir,
                    f"{a.proto_dir}/roda.proto"], check=True)
    sys.path.insert(0, a.work)
    pb = importlib.import_module("roda_pb2")

    rng = random.Random(16)
    sent = {s: [rng.uniform(10.0, 100.0) for _ in range(READINGS)] for s in range(1, SENSORS + 1)}
    readings = [(s, v) for i in range(READINGS) for s, vs in sent.items() for v in [vs[i]]]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for seq, start in enumerate(range(0, len(readings), PER_BATCH), 1):
        batch = pb.Batch(device="wg-dev", sequence=seq, boot_epoch=1)
        for s, v in readings[start:start + PER_BATCH]:
            batch.readings.add(sensor_id=s, value=v, time_us=int(time.time() * 1e6))
        sock.sendto(batch.SerializeToString(), ("127.0.0.1", a.udp))
        time.sleep(0.002)

    # Every reading through the rules stage, then (the window gauges are answered at its ticks).
    deadline = time.time() + 10
    while True:
        samples = scrape(a.http)
        rules = value(samples, "roda_stage_events_total", stage="rules") or 0
        if rules >= SENSORS * READINGS:
            break
        if time.time() > deadline:
            fail(f"the rules stage consumed {rules} of {SENSORS * READINGS} readings")
        time.sleep(0.1)
    capped_before = value(samples, "roda_series_capped_total")
    started = time.time()
    samples = scrape(a.http)
    took = time.time() - started
    capped = value(samples, "roda_series_capped_total") - capped_before

    exported = {int(l["sensor"]) for n, l, _ in samples if n == "roda_sensor_value"}
    windowed = {int(l["sensor"]) for n, l, _ in samples if n == "roda_sensor_window"}
    if len(exported) != a.max_series or windowed != exported:
        fail(f"sensors with values {sorted(exported)}, with window gauges {sorted(windowed)}; "
             f"max_series {a.max_series}")
    if capped != SENSORS - a.max_series:
        fail(f"roda_series_capped_total grew by {capped} in one scrape, expected "
             f"{SENSORS - a.max_series}")
    checked = 0
    for s in sorted(exported):
        values = sorted(sent[s])
        n = len(values)
        mean = sum(values) / n
        expect = {"count": n, "mean": mean, "min": values[0], "max": values[-1],
                  "stddev": math.sqrt(sum((v - mean) ** 2 for v in values) / n)}
        for (length, hop), sketch in WINDOWS.items():
            got = {l["stat"]: v for name, l, v in samples
                   if name == "roda_sensor_window" and l["sensor"] == str(s)
                   and l["window"] == length and l["hop"] == hop and l["device"] == "wg-dev"}
            for stat, want in expect.items():
                if stat not in got or not math.isclose(got[stat], want, rel_tol=1e-9):
                    fail(f"sensor {s} window {length}/{hop} {stat} = {got.get(stat)}, "
                         f"computed {want}")
                checked += 1
            if "slope" not in got:
                fail(f"sensor {s} window {length}/{hop}: no slope")
            for q, rank in QUANTILES.items():
                if not sketch:
                    if q in got:
                        fail(f"window {length} has no sketch but shows {q}")
                    continue
                want = values[int(rank * (n - 1))]
                if q not in got or abs(got[q] - want) > 0.0100001 * abs(want):
                    fail(f"sensor {s} {q} = {got.get(q)}, the value at its rank is {want}")
                checked += 1
    print(f"window gauges: {len(exported)} of {SENSORS} sensors exported (max_series "
          f"{a.max_series}, {capped:.0f} capped), {checked} statistics checked, "
          f"scrape {took * 1000:.0f} ms")


if __name__ == "__main__":
    main()
