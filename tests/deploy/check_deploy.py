#!/usr/bin/env python3
"""check_deploy.py - checks of the deploy files that need no Docker engine.

  check_deploy.py ROOT files                 compose file, Dockerfile, Grafana provisioning,
                                             dashboard structure; prints the dashboard's PromQL
                                             as a Prometheus rules file on stdout (for promtool)
  check_deploy.py ROOT names METRICS_FILE    every roda_* name in the dashboard and in
                                             deploy/prometheus/rules.yml is a sample name of
                                             METRICS_FILE (a real gateway's /metrics)
  check_deploy.py ROOT health RULES_JSON SINCE  Prometheus' /api/v1/rules answer: exit 0 when
                                             every rule was evaluated after SINCE (UTC,
                                             YYYY-MM-DDTHH:MM:SS) without an error, 1 while some
                                             were not, 2 on errors
  check_deploy.py ROOT libs BINARY...        every shared library BINARY needs comes from a
                                             package of `install-deps.sh runtime` (or libc)

Each failure is printed as "FAIL: what and where"; the exit status is 1 when any was found.
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

failures = []


def fail(message):
    failures.append(message)
    print(f"FAIL: {message}", file=sys.stderr)


def dashboard_queries(root):
    """(where, PromQL) of every panel target and query variable of the dashboard."""
    dashboard = json.loads((root / "deploy/grafana/dashboards/roda.json").read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            queries.append((f"panel '{panel['title']}' {target['refId']}", target["expr"]))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            queries.append((f"variable {variable['name']}",
                            query["query"] if isinstance(query, dict) else query))
    return dashboard, queries


# Grafana's macros and this dashboard's variables, replaced by values PromQL accepts.
SUBSTITUTIONS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h",
                 "$instance": ".*", "$device": ".*", "$stat": "last"}


def as_promql(expr):
    match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", expr)
    if match:  # a variable query: its series selector is the PromQL part
        expr = match.group(1)
    for macro, value in SUBSTITUTIONS.items():
        expr = expr.replace(macro, value)
    if "$" in expr:
        raise ValueError(f"unknown Grafana variable in {expr!r}")
    return expr


def check_dashboard(root):
    dashboard, queries = dashboard_queries(root)
    datasource_uids = set()
    for path in (root / "deploy/grafana/provisioning/datasources").glob("*.yml"):
        for source in yaml.safe_load(path.read_text())["datasources"]:
            datasource_uids.add(source["uid"])
    wanted = {"ingest rate by input", "drops by reason", "journal lag", "stage throughput",
              "ingest-to-alert latency", "alerts by rule and severity", "nats connected",
              "nats consumer lag by partition", "nats redeliveries by partition",
              "nats acks by partition"}
    titles = {p["title"].lower() for p in dashboard["panels"]}
    for title in sorted(wanted - titles):
        fail(f"dashboard: no panel '{title}'")
    names = [v["name"] for v in dashboard["templating"]["list"]]
    if "device" not in names:
        fail("dashboard: no device variable")
    if not any("$device" in q for _, q in queries if "roda_sensor_value" in q):
        fail("dashboard: no per-sensor panel filtered by $device")
    for panel in dashboard["panels"]:
        uid = panel.get("datasource", {}).get("uid")
        if panel["type"] != "row" and uid not in datasource_uids:
            fail(f"dashboard: panel '{panel['title']}' uses datasource {uid!r}, "
                 f"provisioned: {sorted(datasource_uids)}")
    rules = []
    for i, (where, expr) in enumerate(queries):
        try:
            rules.append({"record": f"dashboard:query_{i}", "expr": as_promql(expr)})
        except ValueError as error:
            fail(f"dashboard {where}: {error}")
    print(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, sort_keys=False))


def check_compose(root):
    deploy = root / "deploy"
    compose = yaml.safe_load((deploy / "docker-compose.yml").read_text())
    services = compose["services"]
    expected = {"mosquitto", "roda-gateway", "roda-fleet", "prometheus", "alertmanager", "grafana"}
    for name in sorted(expected - set(services)):
        fail(f"compose: no service {name}")
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        image = service.get("image", "")
        if name != "roda-gateway" and "build" not in service and not image.startswith("roda-"):
            if ":" not in image or image.endswith(":latest"):
                fail(f"compose: service {name} image {image!r} is not pinned to a version")
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                if not (deploy / source).exists():
                    fail(f"compose: service {name} mounts {source}, which does not exist")
            elif source not in declared_volumes:
                fail(f"compose: service {name} uses volume {source}, not declared")
        for port in service.get("ports", []):
            if not re.fullmatch(r"(127\.0\.0\.1:)?\d+:\d+(/udp|/tcp)?", str(port)):
                fail(f"compose: service {name} port {port!r} is not HOST:CONTAINER[/proto]")
        profiles = service.get("profiles", [])
        is_fleet = name.startswith("roda-fleet")
        if is_fleet != ("fleet" in profiles):
            fail(f"compose: service {name} profiles {profiles}: only the fleet is in 'fleet'")
    gateway = services.get("roda-gateway", {})
    build = gateway.get("build", {})
    if not (deploy / build.get("context", "") / build.get("dockerfile", "")).is_file():
        fail(f"compose: roda-gateway build {build} does not name the Dockerfile")
    # The directory, not the file (a reload after an editor replaced the file sees the new one).
    if "./docker:/etc/roda:ro" not in gateway.get("volumes", []):
        fail("compose: roda-gateway does not mount the directory docker/ at /etc/roda")
    if "name" in compose:
        fail("compose: a top-level name: (Debian 12's docker-compose 1.29 rejects it)")
    ports = {str(p).rsplit(":", 1)[-1] for p in gateway.get("ports", [])}
    for port in ("9464", "9465/udp"):
        if port not in ports:
            fail(f"compose: roda-gateway does not publish {port}")
    for name in ("roda-fleet", "roda-fleet-dropout"):
        fleet = services.get(name, {})
        if fleet.get("image") != gateway.get("image"):
            fail(f"compose: {name} does not run the gateway's image")
    # Grafana's dashboard provider reads the directory compose mounts the dashboards on.
    provider = yaml.safe_load(
        (deploy / "grafana/provisioning/dashboards/roda.yml").read_text())["providers"][0]
    mounts = [v.split(":")[1] for v in services.get("grafana", {}).get("volumes", [])]
    if provider["options"]["path"] not in mounts:
        fail(f"grafana: provider path {provider['options']['path']} is not mounted ({mounts})")
    prometheus = yaml.safe_load((deploy / "prometheus/prometheus.yml").read_text())
    targets = [t for job in prometheus["scrape_configs"] for c in job["static_configs"]
               for t in c["targets"]]
    for target in ["roda-gateway:9464"] + [f"{name}:9464" for name in NATS_GATEWAYS]:
        if target not in targets:
            fail(f"prometheus: does not scrape {target} ({targets})")
    check_nats_profile(root, services)


def ini_values(path):
    """{(section, key): value} of a gateway config (comments after ';' left out)."""
    values, section = {}, ""
    for line in path.read_text().splitlines():
        line = line.split(";", 1)[0].strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            values[(section, key)] = value
    return values


NATS_NODES = ("nats-1", "nats-2", "nats-3")
NATS_GATEWAYS = {"roda-nats-a": "roda-a.conf", "roda-nats-b": "roda-b.conf"}


def check_nats_profile(root, services):
    """Profile "nats": 3 nodes on one mounted config, two gateways that split its partitions."""
    deploy = root / "deploy"
    server_conf = (deploy / "nats/nats.conf").read_text()
    mapping = re.search(r"\{\{partition\((\d+),1\)\}\}", server_conf)
    partitions = int(mapping.group(1)) if mapping else 0
    if not partitions:
        fail("nats/nats.conf: no subject mapping {{partition(N,1)}}")
    for name in NATS_NODES:
        node = services.get(name, {})
        if node.get("profiles") != ["nats"]:
            fail(f"compose: service {name} is not (only) in profile 'nats'")
        if (node.get("environment") or {}).get("NATS_NAME") != name:
            fail(f"compose: service {name} does not set NATS_NAME={name} (nats.conf's name)")
        if "./nats:/etc/nats:ro" not in node.get("volumes", []) or \
                node.get("command", [])[-1:] != ["/etc/nats/nats.conf"]:
            fail(f"compose: service {name} does not run nats.conf from the mounted directory nats/")
        if f"nats-route://{name}:6222" not in server_conf:
            fail(f"nats/nats.conf: no route to {name}")
    owned = []
    for name, conf in NATS_GATEWAYS.items():
        gateway = services.get(name, {})
        if gateway.get("profiles") != ["nats"] or gateway.get("image") != "roda-gateway:latest":
            fail(f"compose: service {name} is not the gateway's image in profile 'nats'")
        if "./nats:/etc/roda:ro" not in gateway.get("volumes", []) or \
                gateway.get("command") != ["-c", f"/etc/roda/{conf}"]:
            fail(f"compose: service {name} does not run {conf} from the mounted directory nats/")
        values = ini_values(deploy / "nats" / conf)
        servers = [s.strip() for s in values.get(("nats", "servers"), "").split(",")]
        if values.get(("nats", "enabled")) != "true" or values.get(("nats", "replicas")) != "3" \
                or servers != [f"nats://{node}:4222" for node in NATS_NODES]:
            fail(f"nats/{conf}: want [nats] enabled, replicas = 3 and the 3 nodes as servers")
        for key in values:
            if key[0] != "" and not key[0].startswith("rule.") and \
                    f"{key[1]} =" not in section_text(root, key[0]):
                fail(f"nats/{conf}: [{key[0]}] {key[1]} is not in deploy/roda-gateway.conf")
        owned += [int(p) for p in values.get(("nats", "partitions"), "").split(",") if p.strip()]
    if sorted(owned) != list(range(partitions)):
        fail(f"nats profile: the gateways own partitions {sorted(owned)}, the mapping makes "
             f"0-{partitions - 1} (each exactly once)")


def section_text(root, section):
    """The text of [section] in deploy/roda-gateway.conf (every key is listed there)."""
    text = (root / "deploy/roda-gateway.conf").read_text()
    match = re.search(rf"^\[{re.escape(section)}\]\n(.*?)(?=^\[|\Z)", text, re.M | re.S)
    return match.group(1) if match else ""


def check_dockerfile(root):
    text = (root / "Dockerfile").read_text()
    # Instructions with their continuation lines joined, comments left out.
    lines = [l for l in text.splitlines() if not l.lstrip().startswith("#")]
    instructions = re.split(r"\n(?=[A-Z]+\s)", re.sub(r"\\\n\s*", " ", "\n".join(lines)).strip())
    stages = [i for i in instructions if i.startswith("FROM ")]
    if len(stages) != 2 or not re.fullmatch(r"FROM debian:12 AS \w+", stages[0]) or \
            stages[1] != "FROM debian:12-slim":
        fail(f"Dockerfile: stages {stages}: want FROM debian:12 AS build, FROM debian:12-slim")
    build_stage = instructions[:instructions.index(stages[1])] if len(stages) == 2 else []
    runs = " && ".join(i[4:] for i in build_stage if i.startswith("RUN "))
    # The same commands as CI: tests/run.sh installs with install-deps.sh and runs the presets.
    ci = (root / "tests/run.sh").read_text()
    for command in ("deploy/install-deps.sh", "cmake --preset", "cmake --build --preset"):
        if command not in ci:
            fail(f"tests/run.sh no longer runs {command!r}: update this check and the Dockerfile")
    for command in ("bash deploy/install-deps.sh build", "cmake --preset default",
                    "cmake --build --preset default"):
        if command not in runs:
            fail(f"Dockerfile: the build stage does not run {command!r}")
    final = instructions[instructions.index(stages[1]):] if len(stages) == 2 else []
    if "install-deps.sh runtime" not in " ".join(final):
        fail("Dockerfile: the runtime stage does not install `install-deps.sh runtime`")
    users = [i.split()[1] for i in final if i.startswith("USER ")]
    if not users or users[-1] in ("root", "0"):
        fail(f"Dockerfile: runs as {users or 'root'}, want a non-root USER")
    exposed = " ".join(i for i in final if i.startswith("EXPOSE "))
    for port in ("9464/tcp", "9465/udp"):
        if port not in exposed:
            fail(f"Dockerfile: does not EXPOSE {port}")
    health = [i for i in final if i.startswith("HEALTHCHECK ")]
    if not health or "--probe" not in health[0]:
        fail("Dockerfile: no HEALTHCHECK through roda-gateway --probe (/healthz as the config "
             "serves it)")
    entry = [i for i in final if i.startswith("ENTRYPOINT ")]
    if not entry or not entry[0][len("ENTRYPOINT "):].lstrip().startswith("[") or \
            "roda-gateway" not in entry[0]:
        fail("Dockerfile: ENTRYPOINT must be exec form (JSON) running roda-gateway as PID 1")
    cmd = [i for i in final if i.startswith("CMD ")]
    if not cmd or json.loads(cmd[0][4:]) != ["-c", "/etc/roda/roda-gateway.conf"]:
        fail("Dockerfile: CMD must be -c /etc/roda/roda-gateway.conf (the documented path)")


def check_names(root, metrics_file):
    exported = set()
    for line in Path(metrics_file).read_text().splitlines():
        if line and not line.startswith("#"):
            exported.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    _, queries = dashboard_queries(root)
    rules = yaml.safe_load((root / "deploy/prometheus/rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            queries.append((f"rules.yml {rule['alert']}", rule["expr"]))
    used = 0
    for where, expr in queries:
        for name in re.findall(r"\broda_[a-z0-9_]+", expr):
            used += 1
            if name not in exported:
                fail(f"{where}: {name} is not in the gateway's /metrics")
    print(f"check_deploy: {used} metric references in {len(queries)} queries, "
          f"all among the {len(exported)} sample names of the gateway's /metrics")


def check_health(rules_json, since):
    """0: all evaluated fine after `since`; 1: some not yet; 2: evaluation errors (printed)."""
    groups = json.loads(Path(rules_json).read_text())["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    for rule in rules:
        if rule["health"] == "err":
            fail(f"rule {rule['name']}: {rule.get('lastError')} ({rule['query']})")
    if failures:
        return 2
    # RFC 3339 UTC times: their first 19 characters compare as text.
    fresh = [r for r in rules if r["health"] == "ok" and r["lastEvaluation"][:19] > since[:19]]
    return 0 if rules and len(fresh) == len(rules) else 1


def check_libs(root, binaries):
    script = (root / "deploy/install-deps.sh").read_text()
    runtime = set(re.search(r"^runtime=\(([^)]*)\)", script, re.M).group(1).split())
    runtime |= {"libc6", "libgcc-s1"}  # in every Debian image
    for binary in binaries:
        dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True,
                                 check=True).stdout
        for library in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic):
            owners = subprocess.run(["dpkg", "-S", f"*/{library}"], capture_output=True,
                                    text=True).stdout
            packages = {line.split(":")[0] for line in owners.splitlines()}
            if not packages & runtime:
                fail(f"{Path(binary).name} needs {library} from {sorted(packages) or '?'}, "
                     f"not in install-deps.sh runtime ({sorted(runtime)})")


def main():
    root = Path(sys.argv[1])
    mode = sys.argv[2]
    if mode == "files":
        check_compose(root)
        check_dockerfile(root)
        check_dashboard(root)
    elif mode == "names":
        check_names(root, sys.argv[3])
    elif mode == "health":
        sys.exit(check_health(sys.argv[3], sys.argv[4]))
    elif mode == "libs":
        check_libs(root, sys.argv[3:])
    else:
        sys.exit(f"unknown mode {mode}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
