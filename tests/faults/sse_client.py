#!/usr/bin/python3
"""sse_client.py - an /alerts client that outlives gateway restarts: it reads the gateway's HTTP
port from PORT_FILE (rewritten by the test at each start), follows the stream, and reconnects
with Last-Event-ID after every disconnect, as a browser's EventSource does. Every event goes to
OUT as one JSON line {"id", "event", "data"}. OUT.connected appears once the first stream is
open (a test waits for it before it sends anything). It stops when STOP_FILE exists.

  sse_client.py PORT_FILE OUT STOP_FILE
"""
import http.client
import json
import os
import sys
import time


def follow(port, last_id, out):
    """Reads one connection's events; returns the last id seen."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    headers = {"Accept": "text/event-stream"}
    if last_id is not None:
        headers["Last-Event-ID"] = str(last_id)
    conn.request("GET", "/alerts", headers=headers)
    response = conn.getresponse()
    if response.status != 200:
        conn.close()
        return last_id
    open(out.name + ".connected", "a").close()
    event = {}
    while True:
        line = response.fp.readline()
        if not line:
            break
        line = line.decode().rstrip("\n")
        if line == "":
            if "data" in event:
                out.write(json.dumps(event) + "\n")
                out.flush()
                if event.get("event") == "alert":
                    last_id = event["id"]
            event = {}
        elif line.startswith("id: "):
            event["id"] = int(line[4:])
        elif line.startswith("event: "):
            event["event"] = line[7:]
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])
    conn.close()
    return last_id


def main():
    port_file, out_path, stop_file = sys.argv[1:4]
    last_id = None
    with open(out_path, "a") as out:
        while not os.path.exists(stop_file):
            try:
                with open(port_file) as f:
                    port = int(f.read().strip())
                last_id = follow(port, last_id, out)
            except (OSError, ValueError, http.client.HTTPException):
                pass
            time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
