#!/usr/bin/env bash
# run_fuzz.sh - builds the decoders' libFuzzer targets with clang (fuzzer + ASan + UBSan) and runs
# each for a bounded time from its seed corpus (copied, so new inputs stay out of the source
# tree): fuzz_decode (roda.v1, corpus/) and fuzz_json (the JSON decoder, corpus_json/; the first
# byte of each input picks the mapping) for SECONDS each, Sparkplug B (fuzz_sparkplug: the
# module, and the gateway's sparkplug.b decoder over messages read from the same input,
# corpus_sparkplug/) for RODA_FUZZ_SPARKPLUG_SECONDS (default 12).
# Exits 77 (ctest: skipped) when clang or its fuzzer runtime is missing; a target's failure exits 1
# (-error_exitcode: libFuzzer's own default, 77, would read as skipped).
# The reference decoder the target compares with is nanopb's, generated here from roda.proto
# with roda_static.options. Usage: run_fuzz.sh SOURCE_DIR WORK_DIR [SECONDS]
set -euo pipefail
src=$1
work=$2
seconds=${3:-${RODA_FUZZ_SECONDS:-30}}
sparkplug_seconds=${RODA_FUZZ_SPARKPLUG_SECONDS:-12}
here=$(cd "$(dirname "$0")" && pwd)
command -v clang > /dev/null || { echo "clang missing: skipped"; exit 77; }
mkdir -p "$work"
nanopb=$(find /usr/lib /usr/local/lib -name libprotobuf-nanopb.a 2>/dev/null | head -n 1)
[ -n "$nanopb" ] || { echo "libprotobuf-nanopb.a missing"; exit 1; }
echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; return (int)n * 0; }' \
    > "$work/probe.c"
if ! clang -fsanitize=fuzzer "$work/probe.c" -o "$work/probe" 2> /dev/null; then
    echo "clang's libFuzzer runtime missing: skipped"
    exit 77
fi
generated=$work/generated
mkdir -p "$generated"
protoc --plugin=protoc-gen-nanopb="$(command -v protoc-gen-nanopb)" -I "$src/proto" \
    "--nanopb_out=-f$here/roda_static.options:$generated" "$src/proto/roda.proto"
clang -std=c11 -O1 -g -D_GNU_SOURCE -Wall -Wextra -Werror \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I "$src/gateway/decoders/roda_v1" -I "$src/gateway/decoders" -I "$src/gateway/common" -I "$src/engine" -I "$generated" \
    "$here/fuzz_decode.c" "$src/gateway/decoders/roda_v1/roda_v1_decode.c" "$generated/roda.pb.c" "$nanopb" -lm \
    -o "$work/fuzz_decode"
clang -std=c11 -O1 -g -D_GNU_SOURCE -Wall -Wextra -Werror \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I "$src/gateway/decoders/json" -I "$src/gateway/decoders" -I "$src/gateway/common" \
    -I "$src/engine" "$here/fuzz_json.c" "$src/gateway/decoders/json/roda_json_decode.c" \
    "$src/gateway/common/roda_devices.c" "$src/gateway/common/roda_mapped_file.c" \
    "$src/engine/roda_keytable.c" "$src/engine/roda_result.c" \
    -lcjson -lm -lpthread -o "$work/fuzz_json"
for target in fuzz_decode:corpus fuzz_json:corpus_json; do
    rm -rf "$work/${target#*:}"
    cp -r "$here/${target#*:}" "$work/${target#*:}"
    "$work/${target%:*}" -max_total_time="$seconds" -rss_limit_mb=1024 -error_exitcode=1 -max_len=4096 \
        -print_final_stats=1 "$work/${target#*:}" 2>&1 | tail -n 20
done

clang -std=c11 -O1 -g -D_GNU_SOURCE -Wall -Wextra -Werror \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I "$src/gateway/decoders/sparkplug" -I "$src/gateway/decoders" -I "$src/gateway/common" \
    -I "$src/gateway/http" -I "$src/engine" \
    "$here/fuzz_sparkplug.c" "$src/gateway/decoders/sparkplug/roda_sparkplug.c" \
    "$src/gateway/decoders/sparkplug/roda_sparkplug_state.c" \
    "$src/gateway/decoders/sparkplug/roda_sparkplug_decode.c" "$src/gateway/http/roda_metrics.c" \
    "$src/gateway/common/roda_devices.c" "$src/gateway/common/roda_mapped_file.c" \
    "$src/engine/roda_keytable.c" "$src/engine/roda_result.c" -lm -lpthread -o "$work/fuzz_sparkplug"
rm -rf "$work/corpus_sparkplug"
cp -r "$here/corpus_sparkplug" "$work/corpus_sparkplug"
"$work/fuzz_sparkplug" -max_total_time="$sparkplug_seconds" -rss_limit_mb=1024 -error_exitcode=1 -max_len=4096 \
    -print_final_stats=1 "$work/corpus_sparkplug" 2>&1 | tail -n 20
