#!/usr/bin/env python3
"""Checks mbo_replay against an independent implementation: rebuilds the books of an MBO stream
file with plain dictionaries, derives the top-of-book changes and the order-flow imbalance signals
as mbo_book.h describes them, and compares the counts and the final books' checksum with the
RESULT line of `mbo_replay --file FILE`. Exit status 1 on any difference.

    examples/mbo_check.py FILE MBO_REPLAY_BINARY"""
import struct
import subprocess
import sys

RECORD = struct.Struct("<QQqIHBB")  # ts, order_id, price, size, instrument, action, side
MASK = (1 << 64) - 1
ENTER, EXIT, DECAY = 60, 20, 16


def murmur_mix(key):
    key ^= key >> 33
    key = (key * 0xFF51AFD7ED558CCD) & MASK
    key ^= key >> 33
    key = (key * 0xC4CEB9FE1A85EC53) & MASK
    return key ^ (key >> 33)


def fold(total, value):
    value &= MASK
    return (murmur_mix(total ^ value) + value) & MASK


def trunc_div(a, b):
    return abs(a) // b * (1 if a >= 0 else -1)


def top_of(levels, instrument):
    bids, asks = levels.get((instrument, 0), {}), levels.get((instrument, 1), {})
    bid = max(bids) if bids else 0
    ask = min(asks) if asks else 0
    return (bid, bids.get(bid, 0), ask, asks.get(ask, 0))


def order_flow(before, now):
    flow = 0
    if now[0] >= before[0]:
        flow += now[1]
    if now[0] <= before[0]:
        flow -= before[1]
    ask_now = now[2] if now[3] else float("inf")
    ask_before = before[2] if before[3] else float("inf")
    if ask_now <= ask_before:
        flow -= now[3]
    if ask_now >= ask_before:
        flow += before[3]
    return flow


def replay(path):
    orders, levels, tops, flows = {}, {}, {}, {}
    emitted = signals = 0

    def change(key, price, size):
        level = levels.setdefault(key, {})
        level[price] = level.get(price, 0) + size
        if level[price] == 0:
            del level[price]

    with open(path, "rb") as stream:
        data = stream.read()
    for ts, order_id, price, size, instrument, action, side in RECORD.iter_unpack(data):
        action = chr(action)
        if action == "A":
            key = (instrument, 1 if chr(side) == "A" else 0)
            orders[order_id] = [key, price, size]
            change(key, price, size)
        elif action in "CFM":
            order = orders[order_id]
            change(order[0], order[1], -order[2])
            if action == "M":
                order[1], order[2] = price, size
            else:
                order[2] -= min(size, order[2])
            if order[2] == 0:
                del orders[order_id]
            else:
                change(order[0], order[1], order[2])
        else:
            continue
        top = top_of(levels, instrument)
        if top == tops.get(instrument, (0, 0, 0, 0)):
            continue
        tops[instrument] = top
        emitted += 1
        if instrument not in flows:
            flows[instrument] = [top, 0, 0, 0]
            continue
        state = flows[instrument]
        e = order_flow(state[0], top)
        state[1] += e - trunc_div(state[1], DECAY)
        state[2] += abs(e) - trunc_div(state[2], DECAY)
        ratio, regime = 100 * state[1], state[3]
        if ratio > ENTER * state[2]:
            regime = 1
        elif ratio < -ENTER * state[2]:
            regime = -1
        elif (regime == 1 and ratio < EXIT * state[2]) or (regime == -1 and ratio > -EXIT * state[2]):
            regime = 0
        signals += regime != state[3]
        state[0], state[3] = top, regime
    checksum = fold(0, len(orders))
    for (instrument, side), level in sorted(levels.items()):
        for price in sorted(level):
            checksum = fold(fold(checksum, 2 * instrument + side), price)
            checksum = fold(checksum, level[price])
    return {"tops": str(emitted), "signals": str(signals), "books": f"{checksum:016x}"}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, binary = sys.argv[1], sys.argv[2]
    output = subprocess.run([binary, "--file", path, "--pin", "0"], capture_output=True, text=True)
    print(output.stdout, end="")
    if output.returncode != 0:
        sys.exit(f"mbo_replay failed ({output.returncode}): {output.stderr}")
    result = dict(t.partition("=")[::2] for t in output.stdout.split("RESULT ")[-1].split())
    expected = replay(path)
    differ = [f"{k}: mbo_replay {result.get(k)}, check {v}" for k, v in expected.items()
              if result.get(k) != v]
    if differ:
        sys.exit("mbo_check: " + "; ".join(differ))
    print("mbo_check: tops, signals and books agree:", expected)


if __name__ == "__main__":
    main()
