#!/usr/bin/env bash
# secure_test.sh - HTTPS, client certificates and basic auth, with certificates made here by
# openssl and a bcrypt hash made by Python's crypt (libxcrypt): curl with the CA and a user's
# password gets /metrics; without the CA the TLS handshake fails; a wrong password and an unknown
# user get the same 401; /healthz stays open; the SSE stream works over TLS; a real Prometheus
# scrapes through tls_config and basic_auth; with a client CA, a request without a certificate
# it signed gets 403; --check-config names a missing file, a key that is not the certificate's or
# is corrupt, and a bad hash; --probe (the image's HEALTHCHECK) speaks https to it.
#   secure_test.sh RODA_GATEWAY PROTO_DIR
set -euo pipefail
source "$(dirname "$0")/../faults/lib.sh" "$@"

echo "== certificates and a user"
cd "$work"
openssl_quiet() { openssl "$@" 2> /dev/null; }
make_ca() { # make_ca NAME
    openssl_quiet req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 2 \
        -subj "/CN=$1" -addext basicConstraints=critical,CA:TRUE
}
sign() { # sign NAME CA EXTENSIONS
    openssl_quiet req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1"
    printf '%s\n' "$3" > "$1.ext"
    openssl_quiet x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
        -out "$1.pem" -days 2 -extfile "$1.ext"
}
make_ca ca
make_ca rogue
sign server ca "subjectAltName=IP:127.0.0.1"
sign client ca "extendedKeyUsage=clientAuth"
sign stranger rogue "extendedKeyUsage=clientAuth"
hash=$(/usr/bin/python3 -W ignore -c \
    'import crypt; print(crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 6)))')
cd - > /dev/null

# secure_config FILE [EXTRA_HTTP_LINES]
secure_config() {
    cat > "$1" << CONF
$(udp_only_config)
[http]
tls_cert_file = $work/server.pem
tls_key_file = $work/server.key
basic_auth_users = admin:$hash
${2:-}
[rule.hot]
kind = above
threshold = 50
CONF
}
secure_config "$work/gw.conf"
scheme=https
curl_opts=(--cacert "$work/ca.pem" -u admin:s3cret)
start_gateway tls "$work/gw.conf"

echo "== HTTPS with the CA and the password"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "${curl_opts[@]}" "$base/metrics")" = 200 ] || fail "metrics over HTTPS"
curl -s -o /dev/null "$base/metrics" && fail "curl without the CA got through"
[ "$(code "http://127.0.0.1:$http_port/metrics")" != 200 ] || fail "plain HTTP answered"
[ "$(code --cacert "$work/ca.pem" "$base/healthz")" = 200 ] || fail "/healthz needs no password"
no=$(curl -s -D - --cacert "$work/ca.pem" "$base/metrics")
wrong=$(curl -s -D - --cacert "$work/ca.pem" -u admin:nope "$base/metrics")
unknown=$(curl -s -D - --cacert "$work/ca.pem" -u nobody:s3cret "$base/metrics")
for answer in "$no" "$wrong" "$unknown"; do
    grep -q '^HTTP/1.1 401' <<< "$answer" || fail "not 401: $answer"
    grep -qi '^WWW-Authenticate: Basic realm="roda"' <<< "$answer" || fail "no challenge: $answer"
done
[ "$(sed 1d <<< "$wrong" | grep -vi '^date:')" = "$(sed 1d <<< "$unknown" | grep -vi '^date:')" ] ||
    fail "a wrong password and an unknown user are told apart"

echo "== --probe (the image's HEALTHCHECK) follows the config: https here, and http is refused"
sed "s|^port = 0$|port = $http_port|" "$work/gw.conf" > "$work/probe.conf"
"$gateway" -c "$work/probe.conf" --probe 2> "$work/probe.err" ||
    fail "--probe of the TLS gateway: $(cat "$work/probe.err")"
grep -v '^tls_' "$work/probe.conf" > "$work/probe-http.conf"
"$gateway" -c "$work/probe-http.conf" --probe 2> "$work/probe.err" &&
    fail "--probe over plain HTTP answered by the TLS gateway"
grep -q "roda-gateway --probe: http://127.0.0.1:$http_port/healthz: " "$work/probe.err" ||
    fail "--probe's reason: $(cat "$work/probe.err")"
"$gateway" -c "$work/gw.conf" --probe 2> "$work/probe.err" && fail "--probe of port 0"
grep -q "http.port is 0" "$work/probe.err" || fail "--probe port 0: $(cat "$work/probe.err")"

echo "== SSE over TLS"
curl -s -N --max-time 4 "${curl_opts[@]}" "$base/alerts" > "$work/sse.out" &
sse_pid=$!
sleep 0.5
udp_batch 1 70
wait "$sse_pid" || true
grep -q '^event: alert' "$work/sse.out" || fail "no alert over TLS SSE: $(head -c 300 "$work/sse.out")"

echo "== Prometheus scrapes through tls_config and basic_auth"
prom_port=$(free_port)
cat > "$work/prometheus.yml" << CONF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: roda
    scheme: https
    tls_config:
      ca_file: $work/ca.pem
    basic_auth:
      username: admin
      password: s3cret
    static_configs:
      - targets: ['127.0.0.1:$http_port']
CONF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" > "$work/prometheus.log" 2>&1 &
bg_pids+=($!)
up=""
for _ in $(seq 100); do
    up=$(curl -s --max-time 2 "http://127.0.0.1:$prom_port/api/v1/query" \
        --data-urlencode 'query=up{job="roda"}' || true)
    grep -q '"value":\[[0-9.]*,"1"\]' <<< "$up" && break
    sleep 0.2
done
grep -q '"value":\[[0-9.]*,"1"\]' <<< "$up" || fail "prometheus could not scrape: $up"
stop_gateway

echo "== client certificates"
secure_config "$work/mtls.conf" "tls_client_ca_file = $work/ca.pem"
curl_opts=(--cacert "$work/ca.pem" -u admin:s3cret --cert "$work/client.pem" --key "$work/client.key")
start_gateway mtls "$work/mtls.conf"
[ "$(code "${curl_opts[@]}" "$base/metrics")" = 200 ] || fail "a client certificate of the CA"
[ "$(code --cacert "$work/ca.pem" -u admin:s3cret "$base/metrics")" = 403 ] ||
    fail "no client certificate: not 403"
stranger=$(code --cacert "$work/ca.pem" -u admin:s3cret --cert "$work/stranger.pem" \
    --key "$work/stranger.key" "$base/metrics" || true)
[ "$stranger" != 200 ] || fail "a certificate of another CA got through"
stop_gateway
"$gateway" -c "$work/probe.conf" --probe 2> /dev/null && fail "--probe of a stopped gateway"

echo "== --check-config names what is wrong"
sed "s|$work/server.key|$work/missing.key|" "$work/gw.conf" > "$work/missing.conf"
"$gateway" -c "$work/missing.conf" --check-config > /dev/null 2> "$work/check.err" &&
    fail "--check-config accepted a missing key file"
grep -q "http.tls_key_file: cannot read $work/missing.key" "$work/check.err" ||
    fail "missing key: $(cat "$work/check.err")"
# A key that is not the certificate's (another pair's) and a corrupt one: GnuTLS loads the pair.
sed "s|$work/server.key|$work/client.key|" "$work/gw.conf" > "$work/mismatch.conf"
"$gateway" -c "$work/mismatch.conf" --check-config > /dev/null 2> "$work/check.err" &&
    fail "--check-config accepted a key that is not the certificate's"
grep -q "http.tls_key_file: $work/client.key with the certificate $work/server.pem does not load: .*do not match" "$work/check.err" ||
    fail "mismatched key: $(cat "$work/check.err")"
sed '2s/^.\{8\}/AAAAAAAA/' "$work/server.key" > "$work/corrupt.key"
sed "s|$work/server.key|$work/corrupt.key|" "$work/gw.conf" > "$work/corrupt.conf"
"$gateway" -c "$work/corrupt.conf" --check-config > /dev/null 2> "$work/check.err" &&
    fail "--check-config accepted a corrupt key"
grep -q "http.tls_key_file: $work/corrupt.key with the certificate $work/server.pem does not load" "$work/check.err" ||
    fail "corrupt key: $(cat "$work/check.err")"
sed "s|^basic_auth_users = .*|basic_auth_users = admin:plaintext|" "$work/gw.conf" > "$work/bad.conf"
"$gateway" -c "$work/bad.conf" --check-config > /dev/null 2> "$work/check.err" &&
    fail "--check-config accepted a plain-text password"
grep -q "http.basic_auth_users: 'admin...' is not name:bcrypt-hash" "$work/check.err" ||
    fail "bad hash: $(cat "$work/check.err")"
echo "== --probe of a plain-HTTP gateway: http"
scheme=http
curl_opts=()
udp_only_config | sed "s|^port = 0$|port = $(free_port)|" > "$work/plain.conf"
start_gateway plain "$work/plain.conf"
"$gateway" -c "$work/plain.conf" --probe 2> "$work/probe.err" ||
    fail "--probe of the plain gateway: $(cat "$work/probe.err")"
stop_gateway
report "secured_endpoints https=ok wrong_password=401 unknown_user=401 same_answer=yes mtls_without_cert=403 prometheus_scrape=up"
echo "PASS"
