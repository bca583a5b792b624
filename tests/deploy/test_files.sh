#!/usr/bin/env bash
# test_files.sh - the deploy files without a Docker engine: Prometheus config and rules
# (promtool check, and promtool's rule unit tests), Alertmanager's config (amtool), the compose
# file (Debian's docker-compose 1.29 `config`, compose v2's where installed, and the YAML checks of
# check_deploy.py), the NATS nodes' config of profile "nats" (nats-server -t), the Dockerfile's
# stages and commands, Grafana provisioning, and every dashboard query as PromQL.
# Usage: test_files.sh SOURCE_DIR
set -euo pipefail
root=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

promtool check config "$root/deploy/prometheus/prometheus.yml"
promtool check rules "$root/deploy/prometheus/rules.yml"
promtool test rules "$here/prometheus_rules_test.yml"
amtool check-config "$root/deploy/alertmanager/alertmanager.yml"

# Debian 12's docker-compose (1.29, install-deps.sh tools) must accept it (no top-level `name:`),
# and compose v2 too where its client is installed.
docker-compose -f "$root/deploy/docker-compose.yml" config --quiet
if docker compose version > /dev/null 2>&1; then
    docker compose -f "$root/deploy/docker-compose.yml" --profile fleet --profile nats config --quiet
fi
# Profile "nats": every node reads nats/nats.conf, its name from NATS_NAME.
NATS_NAME=nats-1 nats-server -t -c "$root/deploy/nats/nats.conf"
python3 "$here/check_deploy.py" "$root" files > "$work/dashboard-rules.yml"
# The dashboard's queries, Grafana variables replaced, as recording rules: promtool parses each.
promtool check rules "$work/dashboard-rules.yml"
echo "test_files: ok"
