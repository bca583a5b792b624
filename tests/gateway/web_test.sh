#!/usr/bin/env bash
# web_test.sh - the fleet page (GET /) in a real headless Chromium (web_driver.py, Selenium with
# Debian's chromium-driver) against a real gateway fed by roda-fleet over UDP: the page loads with
# no console errors, alerts appear on it within seconds (the time from a reading sent to its alert
# on screen is measured), the sensor table shows the fleet's sensors, a device filter narrows it,
# a sensor view shows its chart and alert history, the rule and severity filters keep a sensor
# whose other rule resolved (as /api/sensors does, checked with curl), and a device named
# <img src=x onerror=alert(1)> (sent by protoc, the test's own encoder) shows as text with no
# dialog. GET / carries its Content-Security-Policy and X-Frame-Options. The JSON endpoints refuse
# hostile query strings with 400. A gateway with every /alerts stream taken, then restarted,
# serves a page that gets its stream back and says the gateway restarted (its alerts still show).
# A gateway with TLS and basic auth serves the page to a browser given the password (curl checks
# the certificate against the test's CA; Chromium is told to accept it, as it has no CA file
# option). The screenshots are kept in ARTIFACT_DIR.
#   web_test.sh RODA_GATEWAY PROTO_DIR RODA_FLEET ARTIFACT_DIR
set -euo pipefail
gateway=$1
proto_dir=$2
fleet=$3
artifacts=$4
here=$(dirname "$0")
source "$here/lib.sh"
for tool in chromium chromedriver; do
    command -v "$tool" > /dev/null || fail "$tool is missing: deploy/install-deps.sh installs it"
done
mkdir -p "$artifacts"

rules() {
    printf '[rule.spike]\nkind = above\nthreshold = 50\nseverity = warning\n'
    printf '[rule.probe]\nkind = above\nthreshold = 1000\nseverity = critical\n'
    printf '[rule.surge]\nkind = above\nthreshold = 200\nseverity = warning\n'
}
{
    udp_only_config
    rules
} > "$work/gw.conf"
start_gateway web "$work/gw.conf"

echo "== a fleet of 30 devices x 4 sensors, and a device with markup in its name"
"$fleet" --udp "127.0.0.1:$udp_port" --devices 30 --sensors 4 --rate 60 --seconds 90 \
    --spike 0.002 --seed 7 > "$work/fleet.out" 2>&1 &
bg_pids+=($!)
xss='<img src=x onerror=alert(1)>'
printf 'device: "%s"\nsequence: 1\nboot_epoch: 1\nreadings { sensor_id: 777042 value: 5000 }\n' \
    "$xss" | protoc --encode=roda.v1.Batch -I "$proto_dir" "$proto_dir/roda.proto" > "$work/xss.bin"
cat "$work/xss.bin" > "/dev/udp/127.0.0.1/$udp_port"
wait_at_least 'roda_sensors_tracked' 121

echo "== GET / carries the page's security headers"
headers=$(curl -s -D - -o /dev/null "$base/" | tr -d '\r')
for header in "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; \
connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'" \
    'X-Frame-Options: DENY' 'Referrer-Policy: no-referrer' 'X-Content-Type-Options: nosniff'; do
    grep -Fxq "$header" <<< "$headers" || fail "GET / lacks the header $header: $headers"
done

echo "== hostile query strings get 400, never a 5xx"
code() { curl -g -s -o /dev/null -w '%{http_code}' "$@"; }
long=$(head -c 5000 /dev/zero | tr '\0' a)
for query in "sensors?limit=0" "sensors?limit=101" "sensors?offset=-1" \
    "sensors?offset=99999999999999999999999999" "sensors?limit=1e3" "sensors?device=$long" \
    "sensors?rule=$long" "sensors?severity=$long" "sensors?id=x" "devices?limit=18446744073709551616" \
    "alerts" "alerts?sensor=1&limit=51" "alerts?sensor=%ff"; do
    [ "$(code "$base/api/$query")" = 400 ] || fail "/api/$query: not 400"
done
for query in "sensors?device=%ff%fe%80*" "sensors?device=%c0%af" "sensors?device=\[\[\[" \
    "sensors?device=$(printf '*%.0s' $(seq 60))a" "devices?device=%00x" "sensors?rule=%ff"; do
    [ "$(code "$base/api/$query")" = 200 ] || fail "/api/$query: not 200"
done
[ "$(code "$base/api/sensors?id=77777")" = 404 ] || fail "an unknown sensor id is not 404"
curl -s "$base/api/devices?limit=100" | "$python" -c '
import json, sys
names = [d["name"] for d in json.load(sys.stdin)["devices"]]
assert sys.argv[1] in names, names' "$xss" || fail "/api/devices does not list the device"

echo "== the rule and severity filters: udp-dev's sensor firing spike, its surge resolved"
# sensors_total QUERY: the "total" of /api/sensors?QUERY.
sensors_total() {
    curl -s "$base/api/sensors?$1" | "$python" -c 'import json, sys; print(json.load(sys.stdin)["total"])'
}
# wait_total QUERY COUNT: waits (10 s at most) until sensors_total QUERY is COUNT.
wait_total() {
    for _ in $(seq 200); do
        [ "$(sensors_total "$1")" = "$2" ] && return 0
        sleep 0.05
    done
    fail "/api/sensors?$1 counts $(sensors_total "$1") sensors, expected $2"
}
udp_sensor=888001
udp_batch 1 300
wait_total 'device=udp-dev&rule=surge' 1
udp_batch 2 100
wait_total 'device=udp-dev&rule=surge' 0
for query in 'rule=spike' 'severity=warning' 'rule=spike&severity=warning'; do
    [ "$(sensors_total "device=udp-dev&$query")" = 1 ] || fail "$query leaves out udp-dev's sensor"
done
for query in 'severity=critical' 'rule=spike&severity=critical' 'rule=nope'; do
    [ "$(sensors_total "device=udp-dev&$query")" = 0 ] || fail "$query lists udp-dev's sensor"
done

echo "== the page in Chromium"
"$python" "$here/web_driver.py" --base "$base" --udp-port "$udp_port" --proto "$proto_dir" \
    --artifacts "$artifacts" --xss "$xss" || fail "the page (web_driver.py)"
weight=$(for path in / /app.js /style.css /favicon.svg; do curl -s "$base$path"; done | wc -c)
[ "$weight" -lt 102400 ] || fail "the page weighs $weight bytes (over 100 KB)"
echo "page weight: $weight bytes (/, /app.js, /style.css, /favicon.svg)"
stop_gateway

echo "== a refused stream, then a restart (web_driver.py --restart)"
{
    udp_only_config
    printf '[limits]\nmax_sse_clients = 2\nrecent_alerts = 10\n'
    rules
} > "$work/restart.conf"
start_gateway restart "$work/restart.conf"
# The same ports after the restart (the page's origin, the driver's UDP target).
sed -e "s/^port = 0$/port = $http_port/" -e "s/^bind = 127.0.0.1:0$/bind = 127.0.0.1:$udp_port/" \
    "$work/restart.conf" > "$work/restart-fixed.conf"
"$python" "$here/web_driver.py" --base "$base" --udp-port "$udp_port" --proto "$proto_dir" \
    --artifacts "$artifacts" --restart "$work/restart" --sse-clients 2 &
driver_pid=$!
bg_pids+=("$driver_pid")
for _ in $(seq 600); do
    [ -e "$work/restart.request" ] || ! kill -0 "$driver_pid" 2> /dev/null && break
    sleep 0.05
done
[ -e "$work/restart.request" ] || fail "web_driver.py did not ask for the restart"
stop_gateway
start_gateway restarted "$work/restart-fixed.conf"
touch "$work/restart.done"
wait "$driver_pid" || fail "the page across a refused stream and a restart (web_driver.py)"
stop_gateway

echo "== over TLS with basic auth"
cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=ca \
    -addext basicConstraints=critical,CA:TRUE 2> /dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=server \
    2> /dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
    -days 2 -extfile server.ext 2> /dev/null
hash=$("$python" -W ignore -c \
    'import crypt; print(crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 6)))')
cd - > /dev/null
{
    udp_only_config
    printf '[http]\ntls_cert_file = %s\ntls_key_file = %s\nbasic_auth_users = admin:%s\n' \
        "$work/server.pem" "$work/server.key" "$hash"
    rules
} > "$work/tls.conf"
scheme=https
curl_opts=(--cacert "$work/ca.pem" -u admin:s3cret)
start_gateway tls "$work/tls.conf"
[ "$(code --cacert "$work/ca.pem" "$base/")" = 401 ] || fail "the page without the password"
[ "$(code --cacert "$work/ca.pem" "$base/app.js")" = 401 ] || fail "app.js without the password"
"$fleet" --udp "127.0.0.1:$udp_port" --devices 5 --sensors 2 --rate 20 --seconds 30 \
    > "$work/fleet-tls.out" 2>&1 &
bg_pids+=($!)
wait_at_least 'roda_sensors_tracked' 10
"$python" "$here/web_driver.py" --base "$base" --udp-port "$udp_port" --proto "$proto_dir" \
    --artifacts "$artifacts" --user admin:s3cret --secure || fail "the page over TLS (web_driver.py)"
stop_gateway
echo "PASS: web"
