#!/usr/bin/python3
"""fleet.py - an independent fleet for the fault tests: roda.v1 batches encoded by Python's
protobuf (generated from proto/roda.proto by protoc, not the project's encoder), published over
MQTT QoS 1 with paho-mqtt (a persistent session that survives broker restarts: paho resends
what the broker did not acknowledge) and/or sent over UDP.

Every reading is countable: device d (0-based, named <prefix>d) sends batches with sequence 1..N and boot epoch
1 (--boot-epoch: another boot); each batch holds R readings of sensors d*1000 + k, whose value is the batch's sequence. The
acknowledged count is what the broker PUBACKed to us. With --pattern sawtooth a reading's value is
sequence % 20 instead (rules fire and resolve over and over) and its device time is the sequence
in seconds: two runs send exactly the same bytes.

  fleet.py --proto-dir DIR --work DIR [--mqtt HOST:PORT] [--udp HOST:PORT] --devices D
           --batches N --readings R --rate MSGS_PER_S --seconds LIMIT [--pattern sawtooth]
           [--topic fleet/{device}/readings]

Prints one line at the end: RESULT sent=<batches> acked=<batches> readings=<readings acked or sent>
"""
import argparse
import importlib
import os
import socket
import subprocess
import sys
import threading
import time


def load_schema(proto_dir, work):
    subprocess.run(["protoc", f"--python_out={work}", "-I", proto_dir,
                    os.path.join(proto_dir, "roda.proto")], check=True)
    sys.path.insert(0, work)
    return importlib.import_module("roda_pb2")


def batch_bytes(pb, name, device, sequence, readings, sawtooth, boot_epoch):
    batch = pb.Batch()
    batch.device = name
    batch.sequence = sequence
    batch.boot_epoch = boot_epoch
    for k in range(readings):
        r = batch.readings.add()
        r.sensor_id = device * 1000 + k
        r.value = float(sequence % 20 if sawtooth else sequence)
        r.time_us = 1_700_000_000_000_000 + sequence * 1_000_000 if sawtooth else int(time.time() * 1e6)
    return batch.SerializeToString()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto-dir", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--mqtt")
    ap.add_argument("--udp")
    ap.add_argument("--client-id", default="fault-fleet")
    ap.add_argument("--device-prefix", default="dev-")
    ap.add_argument("--devices", type=int, default=10)
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--readings", type=int, default=10)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--pattern", choices=["sequence", "sawtooth"], default="sequence")
    ap.add_argument("--boot-epoch", type=int, default=1)
    ap.add_argument("--topic", default="roda/{device}/readings",
                    help="MQTT topic, {device} is the device's name")
    a = ap.parse_args()
    pb = load_schema(a.proto_dir, a.work)
    deadline = time.monotonic() + a.seconds

    client = None
    acked = 0
    lock = threading.Lock()
    if a.mqtt:
        import paho.mqtt.client as mqtt
        host, port = a.mqtt.rsplit(":", 1)
        client = mqtt.Client(client_id=a.client_id, clean_session=False)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=1)

        def on_publish(_client, _userdata, _mid):
            nonlocal acked
            with lock:
                acked += 1
        client.on_publish = on_publish
        connected = threading.Event()
        client.on_connect = lambda _client, _userdata, _flags, _rc: connected.set()
        client.connect_async(host, int(port), keepalive=5)
        client.loop_start()
        # Publishing before the CONNACK lets paho send a later message while it re-sends the
        # queued ones: the broker would see the first batches out of order.
        connected.wait(10)
    udp = None
    if a.udp:
        host, port = a.udp.rsplit(":", 1)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.connect((host, int(port)))

    sent = 0
    interval = 1.0 / a.rate if a.rate > 0 else 0
    start = time.monotonic()
    for sequence in range(1, a.batches + 1):
        for device in range(a.devices):
            if time.monotonic() > deadline:
                break
            name = f"{a.device_prefix}{device}"
            payload = batch_bytes(pb, name, device, sequence, a.readings, a.pattern == "sawtooth",
                                  a.boot_epoch)
            if client is not None:
                client.publish(a.topic.replace("{device}", name), payload, qos=1)
            else:
                udp.send(payload)
            sent += 1
            pause = start + sent * interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    if client is not None:
        while time.monotonic() < deadline:
            with lock:
                if acked >= sent:
                    break
            time.sleep(0.05)
        client.loop_stop()
    else:
        acked = sent
    print(f"RESULT sent={sent} acked={acked} readings={acked * a.readings}", flush=True)
    return 0 if acked == sent else 1


if __name__ == "__main__":
    sys.exit(main())
