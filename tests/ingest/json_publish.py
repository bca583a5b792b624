#!/usr/bin/env python3
"""json_publish.py - an independent JSON publisher for the gateway's JSON ingest tests: each
line of standard input is "TOPIC<TAB>PAYLOAD"; a PAYLOAD starting with "=" is sent as the raw
bytes after it (bad input), anything else is a Python literal encoded with Python's json module
(json.dumps: floats as repr, the shortest text that reads back to the same double). Publishes
with paho-mqtt at QoS 1 and exits once the broker has acknowledged every message.

Usage: json_publish.py HOST:PORT < messages
"""
import ast
import json
import sys
import threading

import paho.mqtt.client as mqtt


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    messages = []
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        topic, payload = line.split("\t", 1)
        if payload.startswith("="):
            messages.append((topic, payload[1:].encode()))
        else:
            messages.append((topic, json.dumps(ast.literal_eval(payload)).encode()))
    acked = threading.Semaphore(0)
    client = mqtt.Client(client_id="roda-json-publisher", clean_session=True)
    client.on_publish = lambda _client, _userdata, _mid: acked.release()
    client.connect(host, int(port), keepalive=10)
    client.loop_start()
    for topic, payload in messages:
        client.publish(topic, payload, qos=1)
    for _ in messages:
        if not acked.acquire(timeout=10):
            sys.exit("json_publish: a message was not acknowledged within 10 s")
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main()
