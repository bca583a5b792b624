#!/usr/bin/env bash
# proto_cross.sh - cross-implementation test of the wire schema: payloads encoded by the
# reference implementation (protoc --encode) decode to the same values with the gateway's nanopb
# decoder, payloads from the gateway's encoder decode with protoc --decode, and fields from a
# newer schema are skipped. Usage: proto_cross.sh PROTO_TOOL PROTO_DIR
set -euo pipefail
tool=$1
proto_dir=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. protoc -> nanopb
cat > "$work/batch.txt" <<'TXT'
device: "pump-7"
sequence: 18446744073709551615
boot_epoch: 1700000000
readings { sensor_id: 1 value: 21.5 time_us: 1700000000123456 quality: 0 }
readings { sensor_id: 18446744073709551615 value: -0.001 time_us: -42 quality: 65535 }
readings { sensor_id: 3 value: 1e+300 }
TXT
protoc --encode=roda.v1.Batch -I "$proto_dir" "$proto_dir/roda.proto" \
    < "$work/batch.txt" > "$work/batch.bin"
"$tool" decode "$work/batch.bin" > "$work/decoded.txt"
cat > "$work/expected.txt" <<'TXT'
device=pump-7 sequence=18446744073709551615 boot_epoch=1700000000 readings=3
reading sensor=1 value=21.5 time_us=1700000000123456 quality=0
reading sensor=18446744073709551615 value=-0.001 time_us=-42 quality=65535
reading sensor=3 value=1.0000000000000001e+300 time_us=0 quality=0
non_finite=0
TXT
diff -u "$work/expected.txt" "$work/decoded.txt" || fail "protoc-encoded batch decodes differently"

# 2. nanopb -> protoc
"$tool" encode sensor-a 5 9 "7:3.25:1000:1" "8:-1e-05:-3:0" > "$work/ours.bin"
protoc --decode=roda.v1.Batch -I "$proto_dir" "$proto_dir/roda.proto" \
    < "$work/ours.bin" > "$work/ours.txt"
cat > "$work/ours_expected.txt" <<'TXT'
device: "sensor-a"
sequence: 5
boot_epoch: 9
readings {
  sensor_id: 7
  value: 3.25
  time_us: 1000
  quality: 1
}
readings {
  sensor_id: 8
  value: -1e-05
  time_us: -3
}
TXT
diff -u "$work/ours_expected.txt" "$work/ours.txt" || fail "nanopb-encoded batch reads differently"

# 3. a newer schema's fields are skipped, not errors
cat > "$work/future.txt" <<'TXT'
device: "new-fw"
sequence: 2
firmware: "2.1.0"
extra: 99
readings { sensor_id: 4 value: 0.5 battery: 3.7 unit: "degC" }
extra: 100
TXT
protoc --encode=roda.v1.Batch -I "$here" "$here/roda_future.proto" \
    < "$work/future.txt" > "$work/future.bin"
"$tool" decode "$work/future.bin" > "$work/future_decoded.txt"
cat > "$work/future_expected.txt" <<'TXT'
device=new-fw sequence=2 boot_epoch=0 readings=1
reading sensor=4 value=0.5 time_us=0 quality=0
non_finite=0
TXT
diff -u "$work/future_expected.txt" "$work/future_decoded.txt" || fail "unknown fields not skipped"

# 4. NaN from the reference encoder is seen as non-finite
printf 'device: "d"\nreadings { sensor_id: 1 value: nan }\nreadings { sensor_id: 2 value: inf }\n' |
    protoc --encode=roda.v1.Batch -I "$proto_dir" "$proto_dir/roda.proto" > "$work/nan.bin"
"$tool" decode "$work/nan.bin" | grep -qx 'non_finite=2' || fail "NaN/inf not reported"
echo "proto_cross: all checks passed"
